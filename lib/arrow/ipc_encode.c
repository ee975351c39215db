/* Flattening arrays into IPC field nodes and buffers, pre-order as IPC.rst requires. Buffers
 * point into the source arrays whenever the slice allows; bitmaps at a bit offset, rebased
 * offsets and sliced run ends go to scratch memory owned by the encoder. */
#include <stdlib.h>
#include <string.h>

#include "arrow/ipc_encode.h"

static const int64_t zeros[2];

void ik__enc_init(struct ik__enc *e)
{
    memset(e, 0, sizeof *e);
}

static void scratch_free(struct ik__enc *e, void *p)
{
    if (e->sa.free)
        e->sa.free(e->sa.ctx, p);
    else
        free(p);
}

void ik__enc_clear(struct ik__enc *e)
{
    int64_t i;
    for (i = 0; i < e->n_scratch; i++)
        scratch_free(e, e->scratch[i]);
    e->n_nodes = e->n_bufs = e->n_variadic = e->n_scratch = 0;
}

bool ik__enc_take_scratch(struct ik__enc *e, const void *p)
{
    for (int64_t i = 0; i < e->n_scratch; i++)
        if (e->scratch[i] == p) {
            e->scratch[i] = e->scratch[--e->n_scratch];
            return true;
        }
    return false;
}

void ik__enc_reset(struct ik__enc *e)
{
    struct ik__scratch_alloc sa = e->sa;
    ik__enc_clear(e);
    free(e->nodes);
    free(e->bufs);
    free(e->variadic);
    free(e->scratch);
    ik__enc_init(e);
    e->sa = sa;
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    int64_t c;
    void *q;
    if (need <= *cap)
        return 0;
    c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    q = realloc(*p, (size_t)c * elem);
    if (q == NULL)
        return ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int add_node(struct ik__enc *e, int64_t length, int64_t nulls)
{
    if (grow((void **)&e->nodes, &e->cap_nodes, 2 * (e->n_nodes + 1), sizeof *e->nodes))
        return ENOMEM;
    e->nodes[2 * e->n_nodes] = length;
    e->nodes[2 * e->n_nodes + 1] = nulls;
    e->n_nodes++;
    return 0;
}

static int add_buf(struct ik__enc *e, const void *p, int64_t len, int64_t bits)
{
    if (grow((void **)&e->bufs, &e->cap_bufs, e->n_bufs + 1, sizeof *e->bufs))
        return ENOMEM;
    e->bufs[e->n_bufs].ptr = len ? p : (const uint8_t *)zeros;
    e->bufs[e->n_bufs].len = len;
    e->bufs[e->n_bufs].bits = bits;
    e->bufs[e->n_bufs].rest = NULL;
    e->n_bufs++;
    return 0;
}

/* A block freed with the encoder: zeroed, or not when the caller writes every byte (`fill`). */
static void *scratch_of(struct ik__enc *e, size_t n, bool fill)
{
    void *p;
    if (grow((void **)&e->scratch, &e->cap_scratch, e->n_scratch + 1, sizeof *e->scratch))
        return NULL;
    if (e->sa.alloc) {
        if ((p = e->sa.alloc(e->sa.ctx, n ? n : 1)) != NULL && !fill)
            memset(p, 0, n ? n : 1);
    } else {
        p = fill ? malloc(n ? n : 1) : calloc(1, n ? n : 1);
    }
    if (p)
        e->scratch[e->n_scratch++] = p;
    return p;
}

static void *scratch(struct ik__enc *e, size_t n)
{
    return scratch_of(e, n, false);
}

/* Emits a bitmap for bits [start, start+len). */
static int emit_bits(struct ik__enc *e, const uint8_t *bits, int64_t start, int64_t len)
{
    int64_t nbytes = (len + 7) / 8, i;
    uint8_t *out;
    if (len == 0)
        return add_buf(e, NULL, 0, 0);
    if ((start & 7) == 0)
        return add_buf(e, bits + start / 8, nbytes, len);
    out = scratch(e, (size_t)nbytes);
    if (out == NULL)
        return ENOMEM;
    {
        /* a byte at a time: byte i is the high bits of source byte i and the low bits of the
         * next one, read only when it holds bits of the range */
        const uint8_t *src = bits + start / 8;
        int sh = (int)(start & 7);
        int64_t last = (start + len - 1) / 8 - start / 8; /* the last source byte needed */
        for (i = 0; i < nbytes; i++)
            out[i] = (uint8_t)((src[i] >> sh) | (i < last ? src[i + 1] << (8 - sh) : 0));
        if (len & 7) /* bits past the range stay zero */
            out[nbytes - 1] &= (uint8_t)((1u << (len & 7)) - 1);
    }
    return add_buf(e, out, nbytes, len);
}

/* Validity buffer and null count for rows [start, start+len). */
static int emit_validity(struct ik__enc *e, const struct ArrowArray *a, int64_t start, int64_t len,
                         int64_t *nulls)
{
    const uint8_t *bits = a->buffers[0];
    *nulls = 0;
    if (bits == NULL || a->null_count == 0)
        return add_buf(e, NULL, 0, 0);
    if (start == a->offset && len == a->length && a->null_count > 0)
        *nulls = a->null_count;
    else
        *nulls = len - ik__bits_count(bits, start, len);
    if (*nulls == 0)
        return add_buf(e, NULL, 0, 0);
    return emit_bits(e, bits, start, len);
}

/* out[i] = in[i] - base for i < n, in blocks of 8 the compiler turns into vector code (a plain
 * loop is not vectorised at -O2); unsigned, so offsets that are not ascending wrap instead of
 * overflowing. */
static void rebase32(uint32_t *restrict out, const uint32_t *restrict in, int64_t n, uint32_t base)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            out[i + j] = in[i + j] - base;
    for (; i < n; i++)
        out[i] = in[i] - base;
}

static void rebase64(uint64_t *restrict out, const uint64_t *restrict in, int64_t n, uint64_t base)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            out[i + j] = in[i + j] - base;
    for (; i < n; i++)
        out[i] = in[i] - base;
}

/* Offsets for rows [start, start+len) rebased to 0; returns the first and last source offsets. */
static int emit_offsets(struct ik__enc *e, const void *buf, int w, int64_t start, int64_t len,
                        int64_t *first, int64_t *last)
{
    if (w == 4) {
        const int32_t *o = (const int32_t *)buf + start;
        *first = o[0];
        *last = o[len];
        if (*first == 0)
            return add_buf(e, o, (len + 1) * 4, 0);
        uint32_t *out = scratch_of(e, (size_t)(len + 1) * 4, true); /* each written below */
        if (out == NULL)
            return ENOMEM;
        rebase32(out, (const uint32_t *)(const void *)o, len + 1, (uint32_t)o[0]);
        return add_buf(e, out, (len + 1) * 4, 0);
    } else {
        const int64_t *o = (const int64_t *)buf + start;
        *first = o[0];
        *last = o[len];
        if (*first == 0)
            return add_buf(e, o, (len + 1) * 8, 0);
        uint64_t *out = scratch_of(e, (size_t)(len + 1) * 8, true);
        if (out == NULL)
            return ENOMEM;
        rebase64(out, (const uint64_t *)(const void *)o, len + 1, (uint64_t)o[0]);
        return add_buf(e, out, (len + 1) * 8, 0);
    }
}

static int enc_run_end(struct ik__enc *e, const struct ArrowSchema *s, const struct ArrowArray *a,
                       int64_t start, int64_t len, struct ik_error *err)
{
    const struct ArrowArray *re = a->children[0], *vals = a->children[1];
    struct ik_type rt;
    int w, rc;
    int64_t r0, r1, n, i;
    uint8_t *out;
    if ((rc = ik__type_parse(s->children[0]->format, &rt, err)) != 0)
        return rc;
    w = rt.bit_width / 8;
    if (add_node(e, len, 0))
        return ENOMEM;
    r0 = len ? ik__run_find(re, w, start) : 0;
    r1 = len ? ik__run_find(re, w, start + len - 1) : -1;
    n = r1 - r0 + 1;
    if (r0 > re->length || r1 >= re->length)
        return ik_error_set(err, IK_EINVALID, "run ends do not cover the array");
    if (add_node(e, n, 0) || add_buf(e, NULL, 0, 0))
        return ENOMEM;
    out = scratch(e, (size_t)(n * w));
    if (out == NULL)
        return ENOMEM;
    for (i = 0; i < n; i++) {
        int64_t v = ik__run_end(re, w, r0 + i) - start;
        if (v > len)
            v = len;
        if (w == 2) {
            int16_t x = (int16_t)v;
            memcpy(out + 2 * i, &x, 2);
        } else if (w == 4) {
            int32_t x = (int32_t)v;
            memcpy(out + 4 * i, &x, 4);
        } else {
            memcpy(out + 8 * i, &v, 8);
        }
    }
    if (add_buf(e, out, n * w, 0))
        return ENOMEM;
    return ik__enc_array(e, s->children[1], vals, vals->offset + r0, n, err);
}

int ik__enc_array(struct ik__enc *e, const struct ArrowSchema *s, const struct ArrowArray *a,
                  int64_t start, int64_t len, struct ik_error *err)
{
    struct ik_type t;
    int64_t nulls, first, last, i;
    int rc;
    if ((rc = ik__type_parse(s->format, &t, err)) != 0)
        return rc;
    if (t.id == IK_T_NA)
        return add_node(e, len, len) ? ENOMEM : 0;
    if (t.id == IK_T_RUN_END_ENCODED)
        return enc_run_end(e, s, a, start, len, err);
    if (t.id == IK_T_SPARSE_UNION || t.id == IK_T_DENSE_UNION) {
        if (add_node(e, len, 0) || add_buf(e, (const int8_t *)a->buffers[0] + start, len, 0))
            return ENOMEM;
        if (t.id == IK_T_DENSE_UNION) {
            if (add_buf(e, (const int32_t *)a->buffers[1] + start, len * 4, 0))
                return ENOMEM;
            for (i = 0; i < s->n_children; i++) {
                const struct ArrowArray *c = a->children[i];
                if ((rc = ik__enc_array(e, s->children[i], c, c->offset, c->length, err)))
                    return rc;
            }
            return 0;
        }
        for (i = 0; i < s->n_children; i++) {
            const struct ArrowArray *c = a->children[i];
            if ((rc = ik__enc_array(e, s->children[i], c, c->offset + start, len, err)))
                return rc;
        }
        return 0;
    }
    /* Every other layout starts with node + validity. */
    if (grow((void **)&e->nodes, &e->cap_nodes, 2 * (e->n_nodes + 1), sizeof *e->nodes))
        return ENOMEM;
    {
        int64_t node = e->n_nodes;
        if (add_node(e, len, 0) || emit_validity(e, a, start, len, &nulls))
            return ENOMEM;
        e->nodes[2 * node + 1] = nulls;
    }
    if (s->dictionary) /* indices only */
        return add_buf(e, (const uint8_t *)a->buffers[1] + start * (t.bit_width / 8),
                       len * (t.bit_width / 8), 0)
                   ? ENOMEM
                   : 0;
    switch (t.id) {
    case IK_T_BOOL:
        return emit_bits(e, a->buffers[1], start, len) ? ENOMEM : 0;
    case IK_T_BINARY:
    case IK_T_STRING:
    case IK_T_LARGE_BINARY:
    case IK_T_LARGE_STRING: {
        int w = (t.id == IK_T_BINARY || t.id == IK_T_STRING) ? 4 : 8;
        if (emit_offsets(e, a->buffers[1], w, start, len, &first, &last) ||
            add_buf(e, (const uint8_t *)a->buffers[2] + first, last - first, 0))
            return ENOMEM;
        return 0;
    }
    case IK_T_BINARY_VIEW:
    case IK_T_STRING_VIEW: {
        int64_t n_var = a->n_buffers - 3;
        const int64_t *sizes = a->buffers[a->n_buffers - 1];
        if (add_buf(e, (const uint8_t *)a->buffers[1] + start * 16, len * 16, 0))
            return ENOMEM;
        for (i = 0; i < n_var; i++)
            if (add_buf(e, a->buffers[2 + i], sizes[i], 0))
                return ENOMEM;
        if (grow((void **)&e->variadic, &e->cap_variadic, e->n_variadic + 1, sizeof *e->variadic))
            return ENOMEM;
        e->variadic[e->n_variadic++] = n_var;
        return 0;
    }
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_MAP: {
        int w = t.id == IK_T_LARGE_LIST ? 8 : 4;
        const struct ArrowArray *c = a->children[0];
        if (emit_offsets(e, a->buffers[1], w, start, len, &first, &last))
            return ENOMEM;
        return ik__enc_array(e, s->children[0], c, c->offset + first, last - first, err);
    }
    case IK_T_LIST_VIEW:
    case IK_T_LARGE_LIST_VIEW: {
        /* views index the child directly: the slice's offsets and sizes as they are, the
         * child whole */
        int w = t.id == IK_T_LARGE_LIST_VIEW ? 8 : 4;
        const struct ArrowArray *c = a->children[0];
        if (c->offset != 0)
            return ik_error_set(err, ENOTSUP, "a list view whose child has an offset");
        if (add_buf(e, (const uint8_t *)a->buffers[1] + start * w, len * w, 0) ||
            add_buf(e, (const uint8_t *)a->buffers[2] + start * w, len * w, 0))
            return ENOMEM;
        return ik__enc_array(e, s->children[0], c, 0, c->length, err);
    }
    case IK_T_FIXED_SIZE_LIST: {
        const struct ArrowArray *c = a->children[0];
        return ik__enc_array(e, s->children[0], c, c->offset + start * t.fixed_size,
                             len * t.fixed_size, err);
    }
    case IK_T_STRUCT:
        for (i = 0; i < s->n_children; i++) {
            const struct ArrowArray *c = a->children[i];
            if ((rc = ik__enc_array(e, s->children[i], c, c->offset + start, len, err)))
                return rc;
        }
        return 0;
    default: /* fixed width */
        return add_buf(e, (const uint8_t *)a->buffers[1] + start * (t.bit_width / 8),
                       len * (t.bit_width / 8), 0)
                   ? ENOMEM
                   : 0;
    }
}

int ik__enc_fingerprint(const struct ik__enc *e, uint8_t **out, size_t *len)
{
    size_t n = (size_t)e->n_nodes * 16 + (size_t)e->n_variadic * 8, pos;
    int64_t i;
    uint8_t *p;
    for (i = 0; i < e->n_bufs; i++)
        n += 8 + (size_t)e->bufs[i].len;
    p = malloc(n ? n : 1);
    if (p == NULL)
        return ENOMEM;
    memcpy(p, e->nodes, (size_t)e->n_nodes * 16);
    pos = (size_t)e->n_nodes * 16;
    if (e->n_variadic)
        memcpy(p + pos, e->variadic, (size_t)e->n_variadic * 8);
    pos += (size_t)e->n_variadic * 8;
    for (i = 0; i < e->n_bufs; i++) {
        const struct ik__enc_buf *b = &e->bufs[i];
        memcpy(p + pos, &b->len, 8);
        pos += 8;
        if (b->len)
            memcpy(p + pos, b->ptr, (size_t)b->len);
        if (b->bits % 8)
            p[pos + (size_t)b->len - 1] &= (uint8_t)((1u << (b->bits % 8)) - 1);
        pos += (size_t)b->len;
    }
    *out = p;
    *len = n;
    return 0;
}
