/* Internal interfaces of lib/arrow: the flatbuffers reader and builder, parsed data types and
 * their buffer layouts, helpers that build C Data Interface structs owning refcounted buffers,
 * body compression, and array concatenation. Nothing here is public API (prefix ik__). */
#ifndef IK_ARROW_INTERNAL_H
#define IK_ARROW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ipfskit/arrow.h"

/* ---------------------------------------------------------------------------------------------
 * Little-endian loads and stores that never assume alignment. */
static inline uint16_t ik__ld_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ik__ld_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t ik__ld_u64(const uint8_t *p)
{
    return (uint64_t)ik__ld_u32(p) | ((uint64_t)ik__ld_u32(p + 4) << 32);
}
static inline int32_t ik__ld_i32(const uint8_t *p)
{
    return (int32_t)ik__ld_u32(p);
}
static inline int64_t ik__ld_i64(const uint8_t *p)
{
    return (int64_t)ik__ld_u64(p);
}
static inline void ik__st_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void ik__st_u64(uint8_t *p, uint64_t v)
{
    ik__st_u32(p, (uint32_t)v);
    ik__st_u32(p + 4, (uint32_t)(v >> 32));
}

/* ---------------------------------------------------------------------------------------------
 * Flatbuffers reader (lib/arrow/flatbuf.c).
 *
 * Every access is verified before use: offsets, vtables, strings (NUL inside the buffer),
 * vectors (count * element size inside the buffer), inline structs, union tables. A failed check
 * makes the accessor return an "absent"/zero/default value and records the first failure in the
 * sticky `struct ik_fb` (code IK_EFORMAT and a message naming the byte offset), so callers can
 * write straight-line code and check ik__fb_failed() at the end. Buffers are limited to < 2 GiB. */
struct ik_fb {
    const uint8_t *buf;
    uint32_t len;
    int code; /* 0, or the first failure's code */
    char
        message[200]; /* the first failure, e.g. "table at 96: field 3 offset past end (len 120)" */
};

/* A table reference; pos == 0 means absent (no table starts at byte 0 of a valid buffer). */
struct ik_fbt {
    struct ik_fb *fb;
    uint32_t pos;     /* table start */
    uint32_t vt;      /* vtable start */
    uint16_t vt_size; /* vtable size in bytes */
    uint16_t tbl_size;
};

/* A vector reference: n elements starting at pos (pos == 0 and n == 0 when absent). */
struct ik_fbv {
    struct ik_fb *fb;
    uint32_t pos;
    uint32_t n;
};

/* A string reference: ptr to len bytes followed by a NUL (ptr NULL when absent). */
struct ik_fbs {
    const char *ptr;
    uint32_t len;
};

/* Starts reading `buf`; fails (returns IK_EFORMAT with err filled) if len < 8 or >= 2^31. */
int ik__fb_init(struct ik_fb *fb, const void *buf, size_t len, struct ik_error *err);
/* The root table (reads the leading uoffset). */
struct ik_fbt ik__fb_root(struct ik_fb *fb);
bool ik__fb_failed(const struct ik_fb *fb);
/* Copies the sticky failure into err (prefixed with `what`) and returns its code (0 if none). */
int ik__fb_error(const struct ik_fb *fb, const char *what, struct ik_error *err);
/* Records a failure found by the caller (semantic, e.g. "unknown type 99") if none yet. */
void ik__fb_fail(struct ik_fb *fb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static inline bool ik__fbt_present(struct ik_fbt t)
{
    return t.pos != 0;
}
/* True when field `id` (0-based, as in the .fbs) is set in the table. */
bool ik__fbt_has(struct ik_fbt t, int id);
bool ik__fbt_bool(struct ik_fbt t, int id, bool dflt);
int8_t ik__fbt_i8(struct ik_fbt t, int id, int8_t dflt);
uint8_t ik__fbt_u8(struct ik_fbt t, int id, uint8_t dflt);
int16_t ik__fbt_i16(struct ik_fbt t, int id, int16_t dflt);
int32_t ik__fbt_i32(struct ik_fbt t, int id, int32_t dflt);
int64_t ik__fbt_i64(struct ik_fbt t, int id, int64_t dflt);
/* A sub-table (also the value of a union field); absent if not set. */
struct ik_fbt ik__fbt_table(struct ik_fbt t, int id);
struct ik_fbs ik__fbt_string(struct ik_fbt t, int id);
/* A vector whose elements are `elem_size` bytes (4 for vectors of tables/strings). */
struct ik_fbv ik__fbt_vector(struct ik_fbt t, int id, uint32_t elem_size);
/* An inline struct field of `size` bytes: pointer into the buffer, NULL if absent or invalid. */
const uint8_t *ik__fbt_struct(struct ik_fbt t, int id, uint32_t size);
/* Element i of a vector of tables / strings; element pointer of a vector of scalars/structs. */
struct ik_fbt ik__fbv_table(struct ik_fbv v, uint32_t i);
struct ik_fbs ik__fbv_string(struct ik_fbv v, uint32_t i);
const uint8_t *ik__fbv_elem(struct ik_fbv v, uint32_t i, uint32_t elem_size);

/* ---------------------------------------------------------------------------------------------
 * Flatbuffers builder (lib/arrow/flatbuf.c). Builds back to front like the reference
 * implementation: children before parents. A ref is an object's distance from the buffer's end.
 * Allocation failure is sticky (ik__fbb_failed) and every later call is a no-op. */
typedef uint32_t ik_fbref;

struct ik__fbb_field {
    uint16_t id;
    uint8_t size; /* 1, 2, 4, 8 for scalars; 4 for refs; struct size for structs (<= 32) */
    uint8_t align;
    uint8_t is_ref;
    uint8_t bytes[32]; /* little-endian value, or the ik_fbref for refs */
};

struct ik_fbb {
    uint8_t *buf; /* data occupies buf[cap - size, cap) */
    size_t cap;
    size_t size;
    size_t minalign;
    bool failed;
    bool in_table;
    struct ik__fbb_field fields[64];
    int n_fields;
};

void ik__fbb_init(struct ik_fbb *b);
void ik__fbb_reset(struct ik_fbb *b); /* frees */
/* Empties the builder for the next message, keeping its buffer (a writer builds one per
 * message: a free, a malloc and two 2.4 KiB memsets each were a tenth of a small response). */
void ik__fbb_clear(struct ik_fbb *b);
bool ik__fbb_failed(const struct ik_fbb *b);
ik_fbref ik__fbb_string(struct ik_fbb *b, const char *s, size_t len);
/* A vector of refs to tables or strings, in order. */
ik_fbref ik__fbb_vector_refs(struct ik_fbb *b, const ik_fbref *refs, uint32_t n);
/* A vector of n scalars or structs of elem_size bytes each, already little-endian. */
ik_fbref ik__fbb_vector_bytes(struct ik_fbb *b, const void *elems, uint32_t n, uint32_t elem_size,
                              uint32_t align);
void ik__fbb_table_start(struct ik_fbb *b);
void ik__fbb_add_bool(struct ik_fbb *b, int id, bool v);
void ik__fbb_add_u8(struct ik_fbb *b, int id, uint8_t v);
void ik__fbb_add_i16(struct ik_fbb *b, int id, int16_t v);
void ik__fbb_add_i32(struct ik_fbb *b, int id, int32_t v);
void ik__fbb_add_i64(struct ik_fbb *b, int id, int64_t v);
void ik__fbb_add_ref(struct ik_fbb *b, int id, ik_fbref ref); /* ref 0 = field left unset */
void ik__fbb_add_struct(struct ik_fbb *b, int id, const void *data, uint8_t size, uint8_t align);
ik_fbref ik__fbb_table_end(struct ik_fbb *b);
/* Writes the root offset; the finished bytes are [*data, *data + *len), 8-byte aligned in
 * length, valid until the next builder call. Returns ENOMEM if anything failed. */
int ik__fbb_finish(struct ik_fbb *b, ik_fbref root, const uint8_t **data, size_t *len);

/* ---------------------------------------------------------------------------------------------
 * Data types parsed from C Data Interface format strings (lib/arrow/type.c). */
enum ik_type_id {
    IK_T_NA = 0,
    IK_T_BOOL,
    IK_T_INT8,
    IK_T_UINT8,
    IK_T_INT16,
    IK_T_UINT16,
    IK_T_INT32,
    IK_T_UINT32,
    IK_T_INT64,
    IK_T_UINT64,
    IK_T_HALF_FLOAT,
    IK_T_FLOAT,
    IK_T_DOUBLE,
    IK_T_DECIMAL32,
    IK_T_DECIMAL64,
    IK_T_DECIMAL128,
    IK_T_DECIMAL256,
    IK_T_DATE32,
    IK_T_DATE64,
    IK_T_TIME32,
    IK_T_TIME64,
    IK_T_TIMESTAMP,
    IK_T_DURATION,
    IK_T_INTERVAL_MONTHS,
    IK_T_INTERVAL_DAY_TIME,
    IK_T_INTERVAL_MONTH_DAY_NANO,
    IK_T_BINARY,
    IK_T_STRING,
    IK_T_LARGE_BINARY,
    IK_T_LARGE_STRING,
    IK_T_BINARY_VIEW,
    IK_T_STRING_VIEW,
    IK_T_FIXED_SIZE_BINARY,
    IK_T_LIST,
    IK_T_LARGE_LIST,
    IK_T_FIXED_SIZE_LIST,
    IK_T_STRUCT,
    IK_T_MAP,
    IK_T_SPARSE_UNION,
    IK_T_DENSE_UNION,
    IK_T_RUN_END_ENCODED,
    IK_T_LIST_VIEW,
    IK_T_LARGE_LIST_VIEW,
    IK_T_COUNT_
};

enum ik_time_unit { IK_SECOND = 0, IK_MILLI = 1, IK_MICRO = 2, IK_NANO = 3 };

struct ik_type {
    enum ik_type_id id;
    /* Width in bits of one value in the data buffer (bool 1, int32 32, decimal128 128,
     * fixed_size_binary 8*byte_width, interval month-day-nano 128); 0 for types without one. */
    int32_t bit_width;
    int32_t fixed_size; /* fixed_size_binary byte width, fixed_size_list list size */
    int32_t precision;  /* decimals */
    int32_t scale;
    enum ik_time_unit unit; /* time32/64, timestamp, duration */
    const char *timezone;   /* timestamp: points into the format string; "" when none */
    int32_t n_type_ids;     /* unions */
    int8_t type_ids[128];
};

/* Parses a format string. Rejects unknown or malformed formats naming them. */
int ik__type_parse(const char *format, struct ik_type *out, struct ik_error *err);
/* Name for messages, e.g. "int32", "timestamp", "dense_union". */
const char *ik__type_name(enum ik_type_id id);
/* Number of C Data Interface buffers for this type, validity included; for the view types the
 * fixed part (validity, views) without the variadic data buffers and the sizes buffer. */
int ik__type_n_buffers(const struct ik_type *t);
/* Number of children the type requires (-1: any number, as for struct and unions). */
int ik__type_n_children(const struct ik_type *t);
/* True when buffer 0 is a validity bitmap (false for null, unions, run-end encoded). */
bool ik__type_has_validity(const struct ik_type *t);

/* ---------------------------------------------------------------------------------------------
 * Building C Data Interface structs (lib/arrow/cdata.c). */

/* Allocates an owned array: buffers[n_buffers] all NULL, children[n_children] each pointing to a
 * zeroed ArrowArray (release NULL) for the caller to fill, dictionary NULL. Its release releases
 * children and dictionary (when their release is set) and drops the held buffer references. */
int ik__array_alloc(struct ArrowArray *out, int64_t n_buffers, int64_t n_children);
/* Makes `a` (allocated by ik__array_alloc) hold a reference to `b`. */
int ik__array_hold(struct ArrowArray *a, struct ik_buffer *b);
/* Allocates an n-byte (64-byte aligned) buffer held by `out` as its buffer `idx`; NULL on
 * ENOMEM. */
void *ik__array_new_buffer(struct ArrowArray *out, int idx, size_t n);
/* Makes `dst` (from ik__array_alloc) hold every buffer reference `src` holds. ENOTSUP when src
 * was not made by ik__array_alloc (foreign memory we cannot reference). */
int ik__array_hold_all(struct ArrowArray *dst, const struct ArrowArray *src);
/* A new owned array with src's shape and buffer pointers (children and dictionary too), every
 * node holding the references the matching node of src holds: shares src's memory without
 * copying or borrowing src itself. ENOTSUP when some node was not made by ik__array_alloc. */
int ik__array_clone(const struct ArrowArray *src, struct ArrowArray *out);
/* Allocates and attaches an empty dictionary ArrowArray (release NULL) for the caller to fill. */
int ik__array_alloc_dictionary(struct ArrowArray *a);

/* Growable 64-byte aligned buffers (lib/arrow/builder.c), for the row builder and specialised
 * fillers such as the store's pin reader. Small ones come from posix_memalign; from 1 MiB on
 * they are anonymous mappings grown with mremap. Growth does not zero memory. */
struct ik__gbuf {
    uint8_t *data;
    size_t len, cap;
    bool mapped;
};
/* Makes cap >= need (capacity doubles); ENOMEM. */
int ik__gb_grow(struct ik__gbuf *g, size_t need);
static inline int ik__gb_reserve(struct ik__gbuf *g, size_t extra)
{
    if (g->len + extra <= g->cap)
        return 0;
    return ik__gb_grow(g, g->len + extra);
}
void ik__gb_free(struct ik__gbuf *g);
/* Hands g's memory to array `a` (from ik__array_alloc) as buffer `i`, padding zeroed to 64
 * bytes; g becomes empty either way. ENOMEM. */
int ik__gb_give(struct ArrowArray *a, int i, struct ik__gbuf *g);
/* Gives a a dictionary<..., utf8> of n values built in offs (int32) and data (moved). */
int ik__gb_give_dictionary(struct ArrowArray *a, struct ik__gbuf *offs, struct ik__gbuf *data,
                           int64_t n);

/* Allocates an owned schema with copies of format, name (may be NULL) and metadata (may be
 * NULL), and n_children zeroed children. */
int ik__schema_alloc(struct ArrowSchema *out, const char *format, const char *name,
                     const char *metadata, int64_t flags, int64_t n_children);
int ik__schema_alloc_dictionary(struct ArrowSchema *s);
/* Byte size of a metadata blob (0 for NULL). */
int64_t ik__metadata_size(const char *metadata);

/* Walking a C Data Interface metadata blob (int32 pair count, then per pair an int32 key
 * length, the key, an int32 value length, the value):
 *     struct ik__kv_iter it; struct ik__kv e;
 *     for (ik__kv_begin(&it, md); ik__kv_next(&it, &e);) ...
 * A NULL blob has no pairs; a negative length ends the walk. */
struct ik__kv {
    const char *key, *value;
    size_t key_len, value_len;
    const char *start, *end; /* the whole pair's bytes, lengths included */
};
struct ik__kv_iter {
    const char *p;
    int32_t left;
};
void ik__kv_begin(struct ik__kv_iter *it, const char *metadata);
bool ik__kv_next(struct ik__kv_iter *it, struct ik__kv *out);
bool ik__kv_is(const struct ik__kv *e, const char *key);

/* A dictionary-encoded field found in a schema, in depth-first order (the order IPC writers
 * assign ids in): the field's node in the schema tree and its dictionary id. */
struct ik__dict_field {
    int64_t id;
    const struct ArrowSchema *field;
};

/* ---------------------------------------------------------------------------------------------
 * Schema <-> flatbuffers (lib/arrow/schema.c). */

/* Parses a Schema table into a struct ("+s") ArrowSchema whose children are the fields, with
 * names, nullability, custom metadata (schema and fields), dictionary encodings (index type as
 * format, dictionary value type as ->dictionary, ordered flag) and extension metadata.
 * *dicts receives a malloc'd array of the dictionary-encoded fields (pointing into *out), in
 * depth-first order, with the ids the schema declares (fields may share an id when their value
 * types are one type). Refuses big-endian schemas (ENOTSUP), a shared id over different value
 * types, depth beyond max_depth and more fields than the buffer can hold. */
int ik__schema_from_fb(struct ik_fbt schema, int max_depth, struct ArrowSchema *out,
                       struct ik__dict_field **dicts, int64_t *n_dicts, struct ik_error *err);
/* Writes `schema` (a struct ArrowSchema) as a Schema table, its dictionary fields taking the
 * ids of `dicts` (as ik__schema_dict_fields lists them) or, when NULL, 0, 1, … in depth-first
 * order; `extra_metadata` (may be NULL) is merged into the schema metadata. */
int ik__schema_to_fb(struct ik_fbb *b, const struct ArrowSchema *schema, const char *extra_metadata,
                     const struct ik__dict_field *dicts, ik_fbref *out, struct ik_error *err);
/* True when a and b have one layout: formats equal node by node, dictionaries included. */
bool ik__schema_same_type(const struct ArrowSchema *a, const struct ArrowSchema *b, int depth);
/* Lists the dictionary fields of `schema` in depth-first order with ids 0, 1, … (malloc'd). */
int ik__schema_dict_fields(const struct ArrowSchema *schema, struct ik__dict_field **out,
                           int64_t *n, struct ik_error *err);

/* ---------------------------------------------------------------------------------------------
 * Body compression (lib/arrow/compress.c). IPC framing of one compressed buffer: an int64 LE
 * uncompressed length, then the codec's frame; length -1 means the rest is stored raw. */

/* Upper bound of the framed size of n input bytes (prefix included). */
size_t ik__compress_bound(enum ik_compression c, size_t n);
/* Codec contexts kept across buffers (zero-initialise; ik__zctx_free releases them): creating
 * a ZSTD or LZ4 context per buffer costs more than compressing a small buffer. */
struct ik__zctx {
    void *zstd; /* ZSTD_CCtx */
    void *lz4;  /* LZ4F_cctx */
};
void ik__zctx_free(struct ik__zctx *z);

/* A write sink (ik_write_fn) on a file descriptor: small pieces are staged and written with the
 * next large one in one writev, large ones from where they lie; with write_behind, every 8 MiB
 * is handed to writeback as it is written (for a file that will replace another: see
 * fd_sink.c). Init returns ENOMEM; flush writes what is staged; reset frees the staging block
 * (the fd stays open). */
struct ik__fd_sink {
    int fd;
    uint8_t *stage;
    size_t n;
    bool write_behind;
    int64_t written, kicked; /* bytes written; bytes handed to writeback (sync_file_range) */
};
int ik__fd_sink_init(struct ik__fd_sink *s, int fd, bool write_behind);
int ik__fd_sink_write(void *ctx, const void *data, size_t len, struct ik_error *err);
int ik__fd_sink_flush(struct ik__fd_sink *s, struct ik_error *err);
void ik__fd_sink_reset(struct ik__fd_sink *s);
/* Frames `src` into `dst` (capacity from ik__compress_bound); *written receives the framed
 * length. When compression does not shrink it, the frame is the -1 prefix followed by src as
 * it is: with `raw` NULL src is copied behind the prefix, else only the 8-byte prefix is
 * written to dst and *raw is set (the caller writes src after it); *raw is false otherwise.
 * LZ4 gives up on a buffer of 1 MiB or more whose first 256 KiB save less than 1/32 (stored
 * raw, though a later part might have compressed). */
int ik__compress_buffer(struct ik__zctx *z, enum ik_compression c, int level, const uint8_t *src,
                        size_t n, uint8_t *dst, size_t cap, size_t *written, bool *raw,
                        struct ik_error *err);
/* Reads the uncompressed length of a framed buffer (-1 for raw) after checking it against the
 * input: the frame's own content size when it declares one, the codec's maximum ratio
 * otherwise, and `limit`. */
int ik__decompressed_size(enum ik_compression c, const uint8_t *src, size_t n, int64_t limit,
                          int64_t *out, struct ik_error *err);
/* Decompresses a framed buffer into dst[0, dst_len) (dst_len from ik__decompressed_size);
 * fails unless the codec produces exactly dst_len bytes. */
int ik__decompress_buffer(enum ik_compression c, const uint8_t *src, size_t n, uint8_t *dst,
                          size_t dst_len, struct ik_error *err);

/* ---------------------------------------------------------------------------------------------
 * Concatenation (lib/arrow/concat.c): a new owned array holding a's rows then b's rows, both of
 * type `schema` (any type, nested included; dictionary arrays must share one dictionary).
 * Used to apply IPC delta dictionaries. The inputs are not released. */
int ik__array_concat(const struct ArrowSchema *schema, const struct ArrowArray *a,
                     const struct ArrowArray *b, struct ArrowArray *out, struct ik_error *err);

/* ---------------------------------------------------------------------------------------------
 * A string dictionary being built (strdict.c): the values of a dictionary<int, utf8> array,
 * int32 offsets and data in first-appearance order, found through an open-addressing hash.
 * Zero-initialise, then ik__strdict_reset (also to empty it for reuse). */
struct ik__strdict {
    struct ik__gbuf offs, data; /* the dictionary array's buffers 1 and 2 */
    int64_t n, last;            /* entries; the last one found (-1: none) */
    uint32_t *slots;            /* entry index + 1, 0 = empty */
    uint32_t *hashes;           /* each entry's hash */
    size_t n_slots;
};
int ik__strdict_reset(struct ik__strdict *d);
void ik__strdict_free(struct ik__strdict *d);
/* The index of `s` (len bytes), added when new: 0, or ERANGE when adding would need an index
 * above `max`, IK_ELIMIT past 2 GiB of strings, ENOMEM. */
int ik__strdict_find(struct ik__strdict *d, const void *s, size_t len, int64_t max, int64_t *idx);
/* Drops the entries from index n on (the newest ones). */
void ik__strdict_truncate(struct ik__strdict *d, int64_t n);
static inline void ik__strdict_entry(const struct ik__strdict *d, int64_t i, const uint8_t **s,
                                     size_t *len)
{
    int32_t a, e;
    memcpy(&a, d->offs.data + 4 * i, 4);
    memcpy(&e, d->offs.data + 4 * (i + 1), 4);
    *s = d->data.data + a;
    *len = (size_t)(e - a);
}

/* ---------------------------------------------------------------------------------------------
 * Bitmaps (validity, bool values): bit i of byte i / 8, least significant first. */
static inline bool ik__bit_get(const void *bits, int64_t i)
{
    return (((const uint8_t *)bits)[i >> 3] >> (i & 7)) & 1;
}

static inline void ik__bit_set(uint8_t *bits, int64_t i)
{
    bits[i >> 3] = (uint8_t)(bits[i >> 3] | (1u << (i & 7)));
}

/* Set bits in [start, start+len): byte-wise to a 64-bit boundary, then popcount words. */
static inline int64_t ik__bits_count(const uint8_t *bits, int64_t start, int64_t len)
{
    int64_t i = start, end = start + len, set = 0;
    for (; i < end && (i & 63); i++)
        set += ik__bit_get(bits, i);
    for (; i + 64 <= end; i += 64) {
        uint64_t w;
        memcpy(&w, bits + (i >> 3), 8);
        set += __builtin_popcountll(w);
    }
    for (; i < end; i++)
        set += ik__bit_get(bits, i);
    return set;
}

/* ---------------------------------------------------------------------------------------------
 * Run-end encoded arrays: `re` is the run_ends child, `w` its width in bytes (2, 4 or 8). */

/* The end of run i (i counted from re's offset). */
static inline int64_t ik__run_end(const struct ArrowArray *re, int w, int64_t i)
{
    const void *p = re->buffers[1];
    i += re->offset;
    return w == 2   ? ((const int16_t *)p)[i]
           : w == 4 ? ((const int32_t *)p)[i]
                    : ((const int64_t *)p)[i];
}

/* The first run whose end is > pos (binary search; re->length when none is). */
static inline int64_t ik__run_find(const struct ArrowArray *re, int w, int64_t pos)
{
    int64_t lo = 0, hi = re->length;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ik__run_end(re, w, mid) > pos)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Whether [s, e) is a well-formed value range of the offsets-based array `a` (string, binary;
 * 64-bit offsets when `large`): not backwards, and inside the span of the array's first and last
 * offsets, which structural validation checks against the data buffer. Full validation refuses
 * offsets that go backwards; code that may see an array validated only structurally (a
 * snapshot damaged after it was checked) tests each value with this before touching its bytes. */
static inline bool ik__range_ok(const struct ArrowArray *a, bool large, int64_t s, int64_t e)
{
    const uint8_t *o = (const uint8_t *)a->buffers[1];
    int64_t lo, hi;
    if (large) {
        lo = ik__ld_i64(o + 8 * a->offset);
        hi = ik__ld_i64(o + 8 * (a->offset + a->length));
    } else {
        lo = ik__ld_i32(o + 4 * a->offset);
        hi = ik__ld_i32(o + 4 * (a->offset + a->length));
    }
    return lo <= s && s <= e && e <= hi;
}

/* UTF-8 well-formedness (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) of
 * s[0..n): the offset of the first byte that starts no valid sequence, or -1 when all is
 * valid (validate.c; the pin store checks every imported string with it too). */
int64_t ik__utf8_bad_at(const uint8_t *s, int64_t n);

/* ---------------------------------------------------------------------------------------------
 * Crash-test stop points (stop_point.c): stops the process with SIGSTOP when the environment
 * variable IPFS_KIT_STOP_AT equals `point`. Points: "commit" (a write transaction about to
 * commit), "publish" (a snapshot written under its temp name, about to get its final one),
 * "import-pass2" (an import checked every row and is about to upsert them). */
void ik__stop_point(const char *point);
/* Names the points this thread reaches "<prefix>-<point>" from now on (NULL: plain again), so
 * a background thread's writes (the daemon's compactor: "compact-publish") stop apart from the
 * write path's. */
void ik__stop_point_scope(const char *prefix);

/* ---------------------------------------------------------------------------------------------
 * Libraries loaded on first use (dlsyms.c): dlopen(lib) and each names[i] into *slots[i]. 0, or
 * -1 with *missing naming the library or the function that was not found. */
typedef void (*ik__fnptr)(void);
int ik__dlsyms(const char *lib, const char *const *names, ik__fnptr *const *slots, int n,
               const char **missing);

/* ---------------------------------------------------------------------------------------------
 * Files of the data directory (nofollow.c): opens `path` (relative to `dirfd`, or AT_FDCWD) with
 * O_NOFOLLOW | O_CLOEXEC added to `flags`, and accepts only a regular file. Returns the fd, or -1
 * with errno set (ELOOP: a symbolic link; EISDIR, EINVAL: not a regular file) and `err` naming the
 * path and what was wrong. */
int ik__open_nofollow(int dirfd, const char *path, int flags, unsigned mode, struct ik_error *err);
/* The first `size` bytes of the open file `fd`, malloc'd with a NUL after them, into *out: 0,
 * ENOMEM, the errno of a failed read, or ENODATA when the file ended sooner (it shrank). */
int ik__read_all(int fd, size_t size, char **out);

/* The monotonic clock in milliseconds (clock.c). */
double ik_now_ms(void);
/* CLOCK_REALTIME `ms` (>= 0) from now: the absolute time pthread_cond_timedwait takes. */
struct timespec ik_realtime_in(long ms);

#endif
