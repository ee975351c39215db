/* Internal interfaces shared by the IPC reader and writer files: encapsulated message framing,
 * record batch and dictionary batch decoding, dictionary state, and the Arrow flatbuffer field
 * ids we use (format/Message.fbs, File.fbs, Schema.fbs). */
#ifndef IK_ARROW_IPC_INTERNAL_H
#define IK_ARROW_IPC_INTERNAL_H

#include "arrow/internal.h"

/* Message.fbs */
enum {
    IK_MSG_VERSION = 0,
    IK_MSG_HEADER_TYPE = 1,
    IK_MSG_HEADER = 2,
    IK_MSG_BODY_LENGTH = 3,
    IK_MSG_CUSTOM_METADATA = 4
};
enum { IK_HDR_SCHEMA = 1, IK_HDR_DICTIONARY = 2, IK_HDR_RECORD_BATCH = 3 };
enum {
    IK_RB_LENGTH = 0,
    IK_RB_NODES = 1,
    IK_RB_BUFFERS = 2,
    IK_RB_COMPRESSION = 3,
    IK_RB_VARIADIC = 4
};
enum { IK_DB_ID = 0, IK_DB_DATA = 1, IK_DB_IS_DELTA = 2 };
enum { IK_BC_CODEC = 0, IK_BC_METHOD = 1 };
/* File.fbs */
enum {
    IK_FOOTER_VERSION = 0,
    IK_FOOTER_SCHEMA = 1,
    IK_FOOTER_DICTIONARIES = 2,
    IK_FOOTER_BATCHES = 3
};
/* MetadataVersion */
enum { IK_V4 = 3, IK_V5 = 4 };

#define IK_CONTINUATION 0xFFFFFFFFu
#define IK_BLOCK_SIZE 24  /* struct Block { long offset; int metaDataLength; long bodyLength } */
#define IK_NODE_SIZE 16   /* struct FieldNode { long length; long null_count } */
#define IK_BUFFER_SIZE 16 /* struct Buffer { long offset; long length } */
#define IK_ALIGN 64

/* One encapsulated message located in a byte range. */
struct ik__msg {
    struct ik_fb fb;
    struct ik_fbt header;
    int16_t version;
    uint8_t header_type;
    int64_t body_length;
    size_t meta_offset; /* flatbuffer start, relative to the message start */
    size_t meta_length;
    size_t total; /* prefix + metadata + body */
    bool eos;
};

/* Frames the message starting at p[0, avail): 0 with *m filled, IK_EAGAIN when incomplete,
 * IK_EFORMAT/IK_ELIMIT on bad input. Recognises the continuation marker, the pre-0.15 format
 * and both end-of-stream markers. */
int ik__msg_frame(const uint8_t *p, size_t avail, const struct ik_read_options *o,
                  struct ik__msg *m, struct ik_error *err);

/* Dictionaries received so far, by id. Each value is owned through `owner` (an ik_buffer whose
 * last unref releases the array), so batches can share it safely. */
struct ik__dict_entry {
    int64_t id;
    const struct ArrowSchema *field; /* the dictionary-encoded field in the schema */
    struct ArrowArray *values;       /* NULL until received */
    struct ik_buffer *owner;
};

struct ik__dicts {
    struct ik__dict_entry *e; /* one per id */
    int64_t n;
    struct ik__dict_field *fields; /* every dictionary-encoded field; several may share an id */
    int64_t n_fields;
};

int ik__dicts_init(struct ik__dicts *d, const struct ik__dict_field *fields, int64_t n,
                   struct ik_error *err);
void ik__dicts_reset(struct ik__dicts *d);

/* Decodes a RecordBatch message body into a struct array of the schema's columns. The arrays
 * point into `body` (held by reference) unless compressed or misaligned. */
int ik__decode_batch(const struct ArrowSchema *schema, const struct ik__msg *m,
                     struct ik_buffer *body, size_t body_offset, struct ik__dicts *dicts,
                     const struct ik_read_options *o, struct ArrowArray *out, struct ik_error *err);
/* Decodes a DictionaryBatch and stores it (replacing, or appending when isDelta). Replacement
 * is refused when !allow_replacement (the file format). */
int ik__decode_dictionary(const struct ik__msg *m, struct ik_buffer *body, size_t body_offset,
                          struct ik__dicts *dicts, const struct ik_read_options *o,
                          bool allow_replacement, struct ik_error *err);

/* The dictionary ids a stream from ik_ipc_open_stream or ik_ipc_file_to_stream gives its
 * dictionary fields (depth-first, as ik__schema_dict_fields lists them; malloc'd, NULL when
 * there are none), so a writer can keep the fields that share one. ENOENT for other streams. */
/* Called from a writer's sink with the bytes it was handed: when `p` is the start of a block
 * the writer computed for this message (rebased offsets, a bitmap moved to bit 0), the block
 * becomes the caller's (free() it, or the scratch allocator's free when one is set) instead
 * of being freed by the writer, so the sink can keep it rather than copy it. False for bytes
 * the writer does not own (the batch's own buffers, padding). */
bool ik__ipc_writer_take_scratch(struct ik_ipc_writer *w, const void *p);
/* Scratch blocks (rebased offsets, shifted bitmaps) come from `alloc` and go back through
 * `free` from now on, taken-over blocks included (ipc_encode.h); set before the first batch. */
struct ik__scratch_alloc;
void ik__ipc_writer_set_scratch_alloc(struct ik_ipc_writer *w, const struct ik__scratch_alloc *a);

int ik__ipc_stream_dictionary_ids(const struct ArrowArrayStream *s, int64_t **ids, int64_t *n);

/* A deep proxy of `src` whose every node holds a reference to `owner` (the ik_buffer that keeps
 * src alive), so it can be released, or have children moved out, independently of src. */
int ik__array_share(const struct ArrowArray *src, struct ik_buffer *owner, struct ArrowArray *out);

/* Wraps an owned ArrowArray in an ik_buffer whose last unref releases it (the array is moved). */
int ik__array_owner(struct ArrowArray *array, struct ik_buffer **owner, struct ArrowArray **view);

#endif
