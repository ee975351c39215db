/* ipfs-kit's Apache Arrow library: refcounted byte buffers, an IPC stream and file reader that
 * decodes straight into the C Data Interface without copying bodies, an IPC writer (stream and
 * file, optional LZ4_FRAME/ZSTD body compression), full validation of untrusted arrays, and
 * text rendering (table, JSON, CSV).
 *
 * Conventions: functions return 0 or a positive code (see error.h) and fill `err` when given.
 * A struct ArrowSchema / ArrowArray / ArrowArrayStream handed out by this library is owned by
 * the caller, who calls its `release` exactly once. Arrays decoded from a buffer keep a
 * reference to it, so a mapping stays mapped until the last array pointing into it is released. */
#ifndef IPFSKIT_ARROW_H
#define IPFSKIT_ARROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ipfskit/abi.h"
#include "ipfskit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Refcounted immutable bytes (a memory mapping, a heap block, or caller memory). Thread-safe
 * reference counting: arrays may be released from any thread. */
struct ik_buffer;

/* Maps `path` read-only. An empty file gives a valid zero-length buffer. */
int ik_buffer_map_file(const char *path, struct ik_buffer **out, struct ik_error *err);
/* Maps an open fd read-only (the fd may be closed afterwards). */
int ik_buffer_map_fd(int fd, struct ik_buffer **out, struct ik_error *err);
/* The whole content of a regular file or memfd that another process may change while it is
 * read (an import file a client passed): copied from offset 0 into private memory, so a
 * truncation cannot raise SIGBUS and a rewrite cannot change what was read; a memfd sealed
 * with F_SEAL_WRITE and F_SEAL_SHRINK cannot change and is mapped instead. EINVAL for other
 * kinds of file (a pipe has no end to wait for), ENOMEM, or the read error. */
int ik_buffer_read_fd(int fd, struct ik_buffer **out, struct ik_error *err);
/* Reads a whole FILE (e.g. stdin) into a heap buffer. */
int ik_buffer_read_stream(FILE *f, struct ik_buffer **out, struct ik_error *err);
/* Allocates `size` bytes (64-byte aligned, zeroed); *data_out receives the writable pointer. */
int ik_buffer_alloc(size_t size, struct ik_buffer **out, uint8_t **data_out);
/* Wraps caller memory; `free_fn(ctx)` runs when the last reference goes (free_fn may be NULL,
 * then the caller must keep the memory alive longer than every array decoded from it). */
int ik_buffer_wrap(const void *data, size_t size, void (*free_fn)(void *ctx), void *ctx,
                   struct ik_buffer **out);
const uint8_t *ik_buffer_data(const struct ik_buffer *b);
size_t ik_buffer_size(const struct ik_buffer *b);
struct ik_buffer *ik_buffer_ref(struct ik_buffer *b); /* returns b */
void ik_buffer_unref(struct ik_buffer *b);            /* NULL is a no-op */
/* Number of ik_buffer objects alive in this process (for leak and zero-copy tests). */
int64_t ik_buffer_live_count(void);

/* ---------------------------------------------------------------------------------------------
 * Reading */

enum ik_validate_level {
    /* Structure only, O(columns): every buffer lies inside the body and is large enough for the
     * declared length and offset, child lengths agree, counts and depth within limits. Always on.
     */
    IK_VALIDATE_DEFAULT = 0,
    /* Everything, O(data): offsets monotone and in range, UTF-8 (if check_utf8), dictionary
     * indices within the dictionary, union type ids declared and dense offsets in range, run
     * ends increasing, null counts equal to the bitmap. */
    IK_VALIDATE_FULL = 1,
};

struct ik_read_options {
    enum ik_validate_level validate;
    bool check_utf8;           /* with IK_VALIDATE_FULL: utf8 columns must hold valid UTF-8 */
    int max_depth;             /* nesting limit for schemas and flatbuffers (default 64) */
    int64_t max_message_bytes; /* flatbuffer metadata limit (default 64 MiB) */
    int64_t max_body_bytes;    /* body limit for one message (default 16 GiB) */
};

/* Fills the defaults above. */
void ik_read_options_init(struct ik_read_options *opts);

/* IPC file format (random access). Works directly on `buf`; decoded arrays point into it. */
struct ik_ipc_file;

/* Opens an IPC file held in `buf` (takes its own reference). Verifies magic, footer, schema and
 * the location of every block; record batches are decoded on demand. `opts` may be NULL. */
int ik_ipc_file_open(struct ik_buffer *buf, const struct ik_read_options *opts,
                     struct ik_ipc_file **out, struct ik_error *err);
int64_t ik_ipc_file_num_batches(const struct ik_ipc_file *f);
/* The schema (borrowed; valid until ik_ipc_file_destroy). Custom metadata included. */
const struct ArrowSchema *ik_ipc_file_schema(const struct ik_ipc_file *f);
/* Decodes batch `i` as a struct array whose children are the columns. Loads the dictionaries
 * it needs first. Nothing of the body is copied unless it is compressed or misaligned. */
int ik_ipc_file_read_batch(struct ik_ipc_file *f, int64_t i, struct ArrowArray *out,
                           struct ik_error *err);
/* A stream over all batches; the stream keeps the file alive (the file may be destroyed). */
int ik_ipc_file_to_stream(struct ik_ipc_file *f, struct ArrowArrayStream *out,
                          struct ik_error *err);
void ik_ipc_file_destroy(struct ik_ipc_file *f);

/* IPC stream format, incremental. Feed bytes in any chunking; take whole batches out. */
struct ik_ipc_reader;

int ik_ipc_reader_create(const struct ik_read_options *opts, struct ik_ipc_reader **out,
                         struct ik_error *err);
/* Appends a copy of `data` to the reader's pending bytes. */
int ik_ipc_reader_feed(struct ik_ipc_reader *r, const void *data, size_t len, struct ik_error *err);
/* Feeds a refcounted buffer: messages wholly inside it are decoded without copying their
 * bodies (the arrays keep a reference to `buf`). */
int ik_ipc_reader_feed_buffer(struct ik_ipc_reader *r, struct ik_buffer *buf, struct ik_error *err);
/* Declares that no more bytes will come: a partial message pending becomes an error. */
int ik_ipc_reader_finish(struct ik_ipc_reader *r, struct ik_error *err);
/* Returns 0 with the next batch in `out`; IK_EAGAIN when more bytes are needed; IK_EOS at the
 * end-of-stream marker (or after finish with nothing pending); another code on bad input. */
int ik_ipc_reader_next(struct ik_ipc_reader *r, struct ArrowArray *out, struct ik_error *err);
/* The schema once the first message has been read, else NULL (borrowed). */
const struct ArrowSchema *ik_ipc_reader_schema(const struct ik_ipc_reader *r);
/* Number of messages decoded so far (for error messages and tests). */
int64_t ik_ipc_reader_message_count(const struct ik_ipc_reader *r);
void ik_ipc_reader_destroy(struct ik_ipc_reader *r);

/* Either format, from one whole buffer: detects file vs stream by the bytes ("ARROW1" magic).
 * The stream takes its own reference to `buf`. */
int ik_ipc_open_stream(struct ik_buffer *buf, const struct ik_read_options *opts,
                       struct ArrowArrayStream *out, bool *is_file, struct ik_error *err);

/* ---------------------------------------------------------------------------------------------
 * Writing */

enum ik_ipc_format { IK_IPC_STREAM = 0, IK_IPC_FILE = 1 };
enum ik_compression { IK_COMPRESSION_NONE = 0, IK_COMPRESSION_LZ4 = 1, IK_COMPRESSION_ZSTD = 2 };

struct ik_write_options {
    enum ik_ipc_format format;
    enum ik_compression compression;
    int compression_level; /* 0 = library default */
    /* Schema custom metadata to add (a C Data Interface metadata blob), or NULL. */
    const char *extra_metadata;
    /* ik_ipc_write_stream_to_path only: fsync the file before renaming it into place, so it
     * survives a crash of the machine. Readers never see a half-written file either way. */
    bool fsync;
    /* Dictionary ids of the schema's dictionary-encoded fields, in depth-first order (a field
     * before those in its dictionary's values), or NULL for 0, 1, 2, …. Fields given one id
     * share one dictionary: their value types must be one type and each batch must give them
     * equal dictionaries. ik_ipc_write_stream_to_path keeps the ids of a stream from
     * ik_ipc_open_stream or ik_ipc_file_to_stream when this is NULL. Copied by the writer. */
    const int64_t *dictionary_ids;
    int64_t n_dictionary_ids;
    /* Streams only: the schema message to write as it is, instead of encoding it from the
     * schema (len bytes; NULL to encode). It must be the first message an earlier writer wrote
     * for an equal schema (ik_schema_equal) with the same extra_metadata and dictionary ids:
     * a cache of it spares a writer per response most of its set-up cost. Not copied. */
    const uint8_t *schema_message;
    size_t schema_message_len;
    /* The writer reads the caller's schema instead of a copy of it: the schema must stay as it
     * is until ik_ipc_writer_destroy (a writer per small response spares the copy). */
    bool borrow_schema;
};

void ik_write_options_init(struct ik_write_options *opts);

/* Sink for bytes: returns 0 or an error code (and may fill err). */
typedef int (*ik_write_fn)(void *ctx, const void *data, size_t len, struct ik_error *err);

struct ik_ipc_writer;

/* Writes the schema message (and, for files, the magic). The schema is copied. Every buffer
 * the writer emits is 64-byte aligned and padded. */
int ik_ipc_writer_create(const struct ArrowSchema *schema, const struct ik_write_options *opts,
                         ik_write_fn write, void *ctx, struct ik_ipc_writer **out,
                         struct ik_error *err);
/* Writes one batch: a struct array with one child per schema field (the batch is only read;
 * the caller still owns and releases it). Dictionaries are written when new, as deltas when a
 * dictionary grows by appending, as replacements (streams only) otherwise. */
int ik_ipc_writer_write(struct ik_ipc_writer *w, const struct ArrowArray *batch,
                        struct ik_error *err);
/* Ends the stream (end-of-stream marker) or file (footer and trailing magic). */
int ik_ipc_writer_finish(struct ik_ipc_writer *w, struct ik_error *err);
void ik_ipc_writer_destroy(struct ik_ipc_writer *w);

/* The size in bytes of the IPC message at the start of data[0, avail) (continuation marker,
 * length, metadata and body; 8 for an end-of-stream marker): 0 with *size, IK_EAGAIN when the
 * bytes end before the message does, IK_EFORMAT/IK_ELIMIT on bytes that are no message. */
int ik_ipc_message_size(const void *data, size_t avail, size_t *size, struct ik_error *err);

/* A write_fn for a FILE* (ctx is the FILE*). */
int ik_write_to_file(void *ctx, const void *data, size_t len, struct ik_error *err);

/* Writes everything from `stream` to `path` ("-" is stdout), atomically for real paths (temp
 * name, rename; fsync first when opts->fsync). The stream is consumed but not released. */
int ik_ipc_write_stream_to_path(struct ArrowArrayStream *stream, const char *path,
                                const struct ik_write_options *opts, struct ik_error *err);

/* ---------------------------------------------------------------------------------------------
 * C Data Interface helpers */

/* Validates `array` against `schema` at `level` (IK_VALIDATE_DEFAULT checks lengths, offsets
 * and buffer presence without touching data; FULL reads the data). Error names the field path. */
int ik_array_validate(const struct ArrowSchema *schema, const struct ArrowArray *array,
                      enum ik_validate_level level, bool check_utf8, struct ik_error *err);
/* Deep-copies a schema into `out` (caller releases). */
int ik_schema_copy(const struct ArrowSchema *src, struct ArrowSchema *out, struct ik_error *err);
/* Whether two schemas are the same in every part an IPC schema message holds: formats, names,
 * flags and metadata of every node, children and dictionaries (false past 64 levels). */
bool ik_schema_equal(const struct ArrowSchema *a, const struct ArrowSchema *b);
/* Moves: *dst = *src, src->release = NULL. */
void ik_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst);
void ik_array_move(struct ArrowArray *src, struct ArrowArray *dst);
void ik_stream_move(struct ArrowArrayStream *src, struct ArrowArrayStream *dst);

/* Looks up `key` in a C Data Interface metadata blob; returns a pointer to the value bytes and
 * its length in *len, or NULL. */
const char *ik_metadata_get(const char *metadata, const char *key, int32_t *len);

/* ---------------------------------------------------------------------------------------------
 * Rendering (ipfs-kit arrow cat / schema) */

enum ik_print_format { IK_PRINT_TABLE = 0, IK_PRINT_JSON = 1, IK_PRINT_CSV = 2 };

struct ik_printer;

/* Starts rendering rows of `schema` to `out`. `limit` < 0 means all rows. */
int ik_printer_create(FILE *out, const struct ArrowSchema *schema, enum ik_print_format fmt,
                      int64_t limit, struct ik_printer **p_out, struct ik_error *err);
/* Renders the rows of one batch (a struct array of columns) until the limit is reached. */
int ik_printer_batch(struct ik_printer *p, const struct ArrowArray *batch, struct ik_error *err);
/* Flushes (the table format aligns columns over the rows it holds, then prints them). */
int ik_printer_finish(struct ik_printer *p, struct ik_error *err);
bool ik_printer_done(const struct ik_printer *p); /* limit reached */
void ik_printer_destroy(struct ik_printer *p);

/* Prints a schema, one field per line, in pyarrow's notation ("cid: string not null"),
 * nested fields indented, then the schema's custom metadata. */
int ik_schema_print(FILE *out, const struct ArrowSchema *schema, struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
