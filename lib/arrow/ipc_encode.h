/* Internal: flattening one array (or a slice of it) into IPC field nodes and body buffers. */
#ifndef IK_ARROW_IPC_ENCODE_H
#define IK_ARROW_IPC_ENCODE_H

#include "arrow/internal.h"

struct ik__enc_buf {
    const uint8_t *ptr;
    int64_t len;
    int64_t bits; /* for bitmaps: number of meaningful bits (trailing bits are not data) */
    /* a compressed body's buffer stored raw: ptr holds its 8-byte prefix, and the len - 8
     * bytes after it are written from here (not copied behind the prefix); else NULL */
    const uint8_t *rest;
};

/* Where the encoder's scratch blocks come from (malloc and free when `alloc` is NULL): a caller
 * that takes blocks over (ik__enc_take_scratch) frees them with `free` too. */
struct ik__scratch_alloc {
    void *(*alloc)(void *ctx, size_t n);
    void (*free)(void *ctx, void *p);
    void *ctx;
};

struct ik__enc {
    int64_t *nodes; /* pairs: length, null_count */
    int64_t n_nodes, cap_nodes;
    struct ik__enc_buf *bufs;
    int64_t n_bufs, cap_bufs;
    int64_t *variadic;
    int64_t n_variadic, cap_variadic;
    void **scratch;
    int64_t n_scratch, cap_scratch;
    struct ik__scratch_alloc sa;
};

void ik__enc_init(struct ik__enc *e);
void ik__enc_clear(struct ik__enc *e); /* forgets content, frees scratch, keeps capacity */
void ik__enc_reset(struct ik__enc *e); /* frees everything */
/* Whether `p` is the start of one of the encoder's scratch blocks; if so the block leaves the
 * encoder (it is not freed by clear or reset) and the caller owns it (free(), or the
 * allocator's free when one is set). */
bool ik__enc_take_scratch(struct ik__enc *e, const void *p);
/* Appends the nodes and buffers of logical rows [start, start+len) of `a` (start counts from the
 * physical beginning, i.e. includes a->offset). Dictionary-encoded fields contribute indices
 * only. */
int ik__enc_array(struct ik__enc *e, const struct ArrowSchema *s, const struct ArrowArray *a,
                  int64_t start, int64_t len, struct ik_error *err);
/* A byte string identifying the encoded content (nodes and buffer bytes, bitmap padding bits
 * masked), for deciding whether a dictionary changed. Caller frees. */
int ik__enc_fingerprint(const struct ik__enc *e, uint8_t **out, size_t *len);

#endif
