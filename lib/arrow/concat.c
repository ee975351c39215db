/* Concatenation of two arrays of one type, used to apply IPC delta dictionaries. Supports the
 * fixed-width, bool, binary/utf8 (and large) layouts and structs of them, which is what
 * dictionaries hold; other layouts are refused with ENOTSUP naming the type. */
#include <stdlib.h>

#include "arrow/internal.h"

static bool get_bit(const void *b, int64_t i)
{
    return (((const uint8_t *)b)[i >> 3] >> (i & 7)) & 1;
}

static void set_bit(uint8_t *b, int64_t i)
{
    b[i >> 3] = (uint8_t)(b[i >> 3] | (1u << (i & 7)));
}

static void *new_buffer(struct ArrowArray *out, int idx, size_t n)
{
    struct ik_buffer *b;
    uint8_t *p;
    if (ik_buffer_alloc(n, &b, &p) != 0)
        return NULL;
    if (ik__array_hold(out, b) != 0) {
        ik_buffer_unref(b);
        return NULL;
    }
    ik_buffer_unref(b);
    out->buffers[idx] = p;
    return p;
}

/* Validity of a then b into out (only allocated when there are nulls). */
static int concat_validity(const struct ArrowArray *a, const struct ArrowArray *b,
                           struct ArrowArray *out)
{
    const struct ArrowArray *src[2] = {a, b};
    int64_t n = a->length + b->length, pos = 0, i, k, nulls = 0;
    uint8_t *bits;
    if ((a->buffers[0] == NULL || a->null_count == 0) &&
        (b->buffers[0] == NULL || b->null_count == 0))
        return 0;
    bits = new_buffer(out, 0, (size_t)n / 8 + 1);
    if (bits == NULL)
        return ENOMEM;
    for (k = 0; k < 2; k++)
        for (i = 0; i < src[k]->length; i++, pos++) {
            if (src[k]->buffers[0] == NULL || get_bit(src[k]->buffers[0], src[k]->offset + i))
                set_bit(bits, pos);
            else
                nulls++;
        }
    out->null_count = nulls;
    if (nulls == 0)
        out->buffers[0] = NULL;
    return 0;
}

static int concat_node(const struct ArrowSchema *s, const struct ArrowArray *a,
                       const struct ArrowArray *b, struct ArrowArray *out, int depth,
                       struct ik_error *err)
{
    struct ik_type t;
    const struct ArrowArray *src[2] = {a, b};
    int64_t n = a->length + b->length, i, k;
    int rc;
    if (depth > 64)
        return ik_error_set(err, IK_ELIMIT, "concat: nesting too deep");
    if ((rc = ik__type_parse(s->format, &t, err)) != 0)
        return rc;
    if (s->dictionary)
        return ik_error_set(err, ENOTSUP, "concat: nested dictionaries are not supported");
    switch (t.id) {
    case IK_T_BINARY_VIEW:
    case IK_T_STRING_VIEW:
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_FIXED_SIZE_LIST:
    case IK_T_MAP:
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION:
    case IK_T_RUN_END_ENCODED:
        return ik_error_set(err, ENOTSUP,
                            "concat of %s arrays (a delta dictionary of that type) "
                            "is not supported",
                            ik__type_name(t.id));
    default:
        break;
    }
    if (ik__array_alloc(out, ik__type_n_buffers(&t), t.id == IK_T_STRUCT ? s->n_children : 0) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    out->length = n;
    if (t.id == IK_T_NA) {
        out->null_count = n;
        return 0;
    }
    if (concat_validity(a, b, out) != 0)
        goto oom;
    switch (t.id) {
    case IK_T_STRUCT:
        for (i = 0; i < s->n_children; i++) {
            struct ArrowArray ca = *a->children[i], cb = *b->children[i];
            ca.offset += a->offset;
            ca.length = a->length;
            cb.offset += b->offset;
            cb.length = b->length;
            if ((rc = concat_node(s->children[i], &ca, &cb, out->children[i], depth + 1, err)))
                goto fail;
        }
        return 0;
    case IK_T_BOOL: {
        uint8_t *bits = new_buffer(out, 1, (size_t)n / 8 + 1);
        int64_t pos = 0;
        if (bits == NULL)
            goto oom;
        for (k = 0; k < 2; k++)
            for (i = 0; i < src[k]->length; i++, pos++)
                if (get_bit(src[k]->buffers[1], src[k]->offset + i))
                    set_bit(bits, pos);
        return 0;
    }
    case IK_T_BINARY:
    case IK_T_STRING:
    case IK_T_LARGE_BINARY:
    case IK_T_LARGE_STRING: {
        int w = (t.id == IK_T_BINARY || t.id == IK_T_STRING) ? 4 : 8;
        int64_t total = 0, pos = 0, base = 0;
        uint8_t *offs, *data;
        for (k = 0; k < 2; k++) {
            const void *o = src[k]->buffers[1];
            int64_t f = w == 4 ? ((const int32_t *)o)[src[k]->offset]
                               : ((const int64_t *)o)[src[k]->offset];
            int64_t l = w == 4 ? ((const int32_t *)o)[src[k]->offset + src[k]->length]
                               : ((const int64_t *)o)[src[k]->offset + src[k]->length];
            total += l - f;
        }
        if (w == 4 && total > INT32_MAX) {
            rc = ik_error_set(err, IK_ELIMIT, "concat: more than 2 GiB of string data");
            goto fail;
        }
        offs = new_buffer(out, 1, (size_t)(n + 1) * (size_t)w);
        data = new_buffer(out, 2, (size_t)total);
        if (offs == NULL || data == NULL)
            goto oom;
        memset(offs, 0, (size_t)w); /* offs[0] = 0 */
        for (k = 0; k < 2; k++) {
            const void *o = src[k]->buffers[1];
            int64_t f = w == 4 ? ((const int32_t *)o)[src[k]->offset]
                               : ((const int64_t *)o)[src[k]->offset];
            int64_t l = f;
            for (i = 1; i <= src[k]->length; i++) {
                int64_t x = w == 4 ? ((const int32_t *)o)[src[k]->offset + i]
                                   : ((const int64_t *)o)[src[k]->offset + i];
                int64_t v = base + x - f;
                pos++;
                if (w == 4) {
                    int32_t v32 = (int32_t)v;
                    memcpy(offs + 4 * pos, &v32, 4);
                } else {
                    memcpy(offs + 8 * pos, &v, 8);
                }
                l = x;
            }
            if (l > f)
                memcpy(data + base, (const uint8_t *)src[k]->buffers[2] + f, (size_t)(l - f));
            base += l - f;
        }
        return 0;
    }
    default: { /* fixed width */
        int64_t bw = t.bit_width / 8;
        uint8_t *d = new_buffer(out, 1, (size_t)(n * bw));
        if (d == NULL)
            goto oom;
        memcpy(d, (const uint8_t *)a->buffers[1] + a->offset * bw, (size_t)(a->length * bw));
        memcpy(d + a->length * bw, (const uint8_t *)b->buffers[1] + b->offset * bw,
               (size_t)(b->length * bw));
        return 0;
    }
    }
oom:
    rc = ik_error_set(err, ENOMEM, "out of memory");
fail:
    out->release(out);
    return rc;
}

int ik__array_concat(const struct ArrowSchema *schema, const struct ArrowArray *a,
                     const struct ArrowArray *b, struct ArrowArray *out, struct ik_error *err)
{
    return concat_node(schema, a, b, out, 0, err);
}
