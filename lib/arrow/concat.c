/* Concatenation of two arrays of one type, used to apply IPC delta dictionaries: every layout,
 * sliced inputs included. */
#include <stdlib.h>

#include "arrow/internal.h"

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
    bits = ik__array_new_buffer(out, 0, (size_t)n / 8 + 1);
    if (bits == NULL)
        return ENOMEM;
    for (k = 0; k < 2; k++)
        for (i = 0; i < src[k]->length; i++, pos++) {
            if (src[k]->buffers[0] == NULL || ik__bit_get(src[k]->buffers[0], src[k]->offset + i))
                ik__bit_set(bits, pos);
            else
                nulls++;
        }
    out->null_count = nulls;
    if (nulls == 0)
        out->buffers[0] = NULL;
    return 0;
}

static int64_t off_at(const void *o, int w, int64_t i)
{
    return w == 4 ? ((const int32_t *)o)[i] : ((const int64_t *)o)[i];
}

/* Offsets of src[0] then src[1] rebased into one run starting at 0; first/last receive each
 * source's offset range. Fails when the total overflows 32-bit offsets. */
static int concat_offsets(int w, const struct ArrowArray *const src[2], uint8_t *offs,
                          int64_t first[2], int64_t last[2])
{
    int64_t pos = 0, base = 0, i;
    int k;
    memset(offs, 0, (size_t)w);
    for (k = 0; k < 2; k++) {
        const void *o = src[k]->buffers[1];
        first[k] = off_at(o, w, src[k]->offset);
        last[k] = off_at(o, w, src[k]->offset + src[k]->length);
        if (w == 4 && base + last[k] - first[k] > INT32_MAX)
            return -1;
        for (i = 1; i <= src[k]->length; i++) {
            int64_t v = base + off_at(o, w, src[k]->offset + i) - first[k];
            pos++;
            if (w == 4) {
                int32_t v32 = (int32_t)v;
                memcpy(offs + 4 * pos, &v32, 4);
            } else {
                memcpy(offs + 8 * pos, &v, 8);
            }
        }
        base += last[k] - first[k];
    }
    return 0;
}

/* Views: both arrays' variadic buffers are copied and appended; b's buffer indices shift. */
static int concat_views(const struct ArrowArray *a, const struct ArrowArray *b,
                        struct ArrowArray *out, struct ik_error *err)
{
    int64_t na = a->n_buffers - 3, nbv = b->n_buffers - 3, n = a->length + b->length, i;
    const struct ArrowArray *src[2] = {a, b};
    uint8_t *views;
    int64_t *sizes;
    int k;
    if (ik__array_alloc(out, 3 + na + nbv, 0) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    out->length = n;
    views = ik__array_new_buffer(out, 1, (size_t)n * 16);
    sizes = ik__array_new_buffer(out, (int)(2 + na + nbv), (size_t)(na + nbv + 1) * 8);
    if (views == NULL || sizes == NULL || concat_validity(a, b, out) != 0)
        goto oom;
    for (k = 0; k < 2; k++) {
        const struct ArrowArray *x = src[k];
        const int64_t *xs = x->buffers[x->n_buffers - 1];
        int64_t nv = x->n_buffers - 3, shift = k ? na : 0;
        for (i = 0; i < nv; i++) {
            uint8_t *p = ik__array_new_buffer(out, (int)(2 + shift + i), (size_t)xs[i]);
            if (p == NULL)
                goto oom;
            if (xs[i])
                memcpy(p, x->buffers[2 + i], (size_t)xs[i]);
            sizes[shift + i] = xs[i];
        }
        for (i = 0; i < x->length; i++) {
            uint8_t *v = views + 16 * ((k ? a->length : 0) + i);
            int32_t len;
            memcpy(v, (const uint8_t *)x->buffers[1] + 16 * (x->offset + i), 16);
            memcpy(&len, v, 4);
            if (len > 12 && shift) {
                int32_t idx;
                memcpy(&idx, v + 8, 4);
                idx += (int32_t)shift;
                memcpy(v + 8, &idx, 4);
            }
        }
    }
    return 0;
oom:
    out->release(out);
    return ik_error_set(err, ENOMEM, "out of memory");
}

static int concat_node(const struct ArrowSchema *s, const struct ArrowArray *a,
                       const struct ArrowArray *b, struct ArrowArray *out, int depth,
                       struct ik_error *err);

/* Run-end encoded: the runs covering each input's slice, cut to it, b's ends shifted by
 * a->length; the values covering those runs concatenated. */
static int concat_ree(const struct ArrowSchema *s, const struct ArrowArray *a,
                      const struct ArrowArray *b, struct ArrowArray *out, int depth,
                      struct ik_error *err)
{
    const struct ArrowArray *src[2] = {a, b};
    struct ArrowArray vals[2];
    struct ik_type rt;
    int64_t r0[2], nruns[2], total, i, pos = 0;
    uint8_t *ends;
    int k, w, rc;
    if ((rc = ik__type_parse(s->children[0]->format, &rt, err)) != 0)
        return rc;
    w = rt.bit_width / 8;
    if (w != 2 && w != 4 && w != 8)
        return ik_error_set(err, IK_EINVALID, "concat: run ends must be int16/32/64");
    for (k = 0; k < 2; k++) {
        const struct ArrowArray *x = src[k], *re = x->children[0];
        int64_t last = x->length ? ik__run_find(re, w, x->offset + x->length - 1) : -1;
        r0[k] = x->length ? ik__run_find(re, w, x->offset) : 0;
        nruns[k] = last - r0[k] + 1;
        if (x->length && (last >= re->length || last >= x->children[1]->length))
            return ik_error_set(err, IK_EINVALID, "concat: run ends do not cover the array");
        vals[k] = *x->children[1];
        vals[k].offset += r0[k];
        vals[k].length = nruns[k];
    }
    total = a->length + b->length;
    if ((w == 2 && total > INT16_MAX) || (w == 4 && total > INT32_MAX))
        return ik_error_set(err, IK_ELIMIT, "concat: run ends overflow their type");
    if (ik__array_alloc(out, 0, 2) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    out->length = total;
    if (ik__array_alloc(out->children[0], 2, 0) != 0)
        goto oom;
    out->children[0]->length = nruns[0] + nruns[1];
    ends = ik__array_new_buffer(out->children[0], 1, (size_t)((nruns[0] + nruns[1]) * w));
    if (ends == NULL)
        goto oom;
    for (k = 0; k < 2; k++) {
        const struct ArrowArray *x = src[k];
        int64_t base = k ? a->length : 0;
        for (i = 0; i < nruns[k]; i++, pos++) {
            int64_t e = ik__run_end(x->children[0], w, r0[k] + i) - x->offset;
            int64_t v = base + (e < x->length ? e : x->length);
            if (w == 2) {
                int16_t v16 = (int16_t)v;
                memcpy(ends + 2 * pos, &v16, 2);
            } else if (w == 4) {
                int32_t v32 = (int32_t)v;
                memcpy(ends + 4 * pos, &v32, 4);
            } else {
                memcpy(ends + 8 * pos, &v, 8);
            }
        }
    }
    if ((rc = concat_node(s->children[1], &vals[0], &vals[1], out->children[1], depth + 1, err)))
        goto fail;
    return 0;
oom:
    rc = ik_error_set(err, ENOMEM, "out of memory");
fail:
    out->release(out);
    return rc;
}

static int concat_node(const struct ArrowSchema *s, const struct ArrowArray *a,
                       const struct ArrowArray *b, struct ArrowArray *out, int depth,
                       struct ik_error *err);

/* A dictionary-encoded node (inside the values of a dictionary receiving a delta): the indices
 * of a then b, under b's dictionary. An IPC delta only appends, so b's dictionary extends a's;
 * one shorter than a's (the inner dictionary was replaced, not grown) could leave a's indices
 * out of range and is refused. */
static int concat_dict(const struct ArrowSchema *s, const struct ArrowArray *a,
                       const struct ArrowArray *b, struct ArrowArray *out, int depth,
                       struct ik_error *err)
{
    struct ArrowSchema idx = *s;
    int rc;
    if (a->dictionary == NULL || b->dictionary == NULL)
        return ik_error_set(err, IK_EINVALID, "concat: dictionary-encoded without a dictionary");
    if (b->dictionary->length < a->dictionary->length)
        return ik_error_set(err, IK_EFORMAT,
                            "concat: a nested dictionary shrank from %lld to %lld values under "
                            "a delta",
                            (long long)a->dictionary->length, (long long)b->dictionary->length);
    idx.dictionary = NULL;
    if ((rc = concat_node(&idx, a, b, out, depth, err)) != 0)
        return rc;
    if (ik__array_alloc_dictionary(out) != 0) {
        out->release(out);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    if ((rc = ik__array_clone(b->dictionary, out->dictionary)) != 0) {
        out->release(out);
        return ik_error_set(err, rc, "concat: could not share the nested dictionary");
    }
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
        return concat_dict(s, a, b, out, depth, err);
    if (t.id == IK_T_RUN_END_ENCODED)
        return concat_ree(s, a, b, out, depth, err);
    if (t.id == IK_T_LIST_VIEW || t.id == IK_T_LARGE_LIST_VIEW)
        return ik_error_set(err, ENOTSUP, "concat: list views (a delta of list view values)");
    if (t.id == IK_T_BINARY_VIEW || t.id == IK_T_STRING_VIEW)
        return concat_views(a, b, out, err);
    if (ik__array_alloc(out, ik__type_n_buffers(&t), s->n_children) != 0)
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
        uint8_t *bits = ik__array_new_buffer(out, 1, (size_t)n / 8 + 1);
        int64_t pos = 0;
        if (bits == NULL)
            goto oom;
        for (k = 0; k < 2; k++)
            for (i = 0; i < src[k]->length; i++, pos++)
                if (ik__bit_get(src[k]->buffers[1], src[k]->offset + i))
                    ik__bit_set(bits, pos);
        return 0;
    }
    case IK_T_FIXED_SIZE_LIST: {
        struct ArrowArray ca = *a->children[0], cb = *b->children[0];
        ca.offset += a->offset * t.fixed_size;
        ca.length = a->length * t.fixed_size;
        cb.offset += b->offset * t.fixed_size;
        cb.length = b->length * t.fixed_size;
        if ((rc = concat_node(s->children[0], &ca, &cb, out->children[0], depth + 1, err)))
            goto fail;
        return 0;
    }
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_MAP: {
        int w = t.id == IK_T_LARGE_LIST ? 8 : 4;
        int64_t first[2], last[2];
        struct ArrowArray ca = *a->children[0], cb = *b->children[0];
        uint8_t *offs = ik__array_new_buffer(out, 1, (size_t)(n + 1) * (size_t)w);
        if (offs == NULL)
            goto oom;
        if (concat_offsets(w, src, offs, first, last) != 0) {
            rc = ik_error_set(err, IK_ELIMIT, "concat: list offsets overflow int32");
            goto fail;
        }
        ca.offset += first[0];
        ca.length = last[0] - first[0];
        cb.offset += first[1];
        cb.length = last[1] - first[1];
        if ((rc = concat_node(s->children[0], &ca, &cb, out->children[0], depth + 1, err)))
            goto fail;
        return 0;
    }
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION: {
        int8_t *ids = ik__array_new_buffer(out, 0, (size_t)n);
        int32_t *offs;
        int8_t child_of[128];
        if (ids == NULL)
            goto oom;
        memcpy(ids, (const int8_t *)a->buffers[0] + a->offset, (size_t)a->length);
        memcpy(ids + a->length, (const int8_t *)b->buffers[0] + b->offset, (size_t)b->length);
        out->null_count = 0;
        memset(child_of, -1, sizeof child_of);
        for (i = 0; i < t.n_type_ids; i++)
            child_of[t.type_ids[i]] = (int8_t)i;
        if (t.id == IK_T_DENSE_UNION) {
            offs = ik__array_new_buffer(out, 1, (size_t)n * 4);
            if (offs == NULL)
                goto oom;
            memcpy(offs, (const int32_t *)a->buffers[1] + a->offset, (size_t)a->length * 4);
            for (i = 0; i < b->length; i++) {
                int8_t id = ids[a->length + i];
                int c = id >= 0 ? child_of[id] : -1;
                if (c < 0 || c >= a->n_children) {
                    rc = ik_error_set(err, IK_EINVALID, "concat: undeclared union type id %d", id);
                    goto fail;
                }
                offs[a->length + i] = ((const int32_t *)b->buffers[1])[b->offset + i] +
                                      (int32_t)a->children[c]->length;
            }
        }
        for (i = 0; i < s->n_children; i++) {
            struct ArrowArray ca = *a->children[i], cb = *b->children[i];
            if (t.id == IK_T_SPARSE_UNION) {
                ca.offset += a->offset;
                ca.length = a->length;
                cb.offset += b->offset;
                cb.length = b->length;
            }
            if ((rc = concat_node(s->children[i], &ca, &cb, out->children[i], depth + 1, err)))
                goto fail;
        }
        return 0;
    }
    case IK_T_BINARY:
    case IK_T_STRING:
    case IK_T_LARGE_BINARY:
    case IK_T_LARGE_STRING: {
        int w = (t.id == IK_T_BINARY || t.id == IK_T_STRING) ? 4 : 8;
        int64_t first[2], last[2];
        uint8_t *offs = ik__array_new_buffer(out, 1, (size_t)(n + 1) * (size_t)w), *data;
        if (offs == NULL)
            goto oom;
        if (concat_offsets(w, src, offs, first, last) != 0) {
            rc = ik_error_set(err, IK_ELIMIT, "concat: more than 2 GiB of string data");
            goto fail;
        }
        data = ik__array_new_buffer(out, 2, (size_t)(last[0] - first[0] + last[1] - first[1]));
        if (data == NULL)
            goto oom;
        if (last[0] > first[0])
            memcpy(data, (const uint8_t *)a->buffers[2] + first[0], (size_t)(last[0] - first[0]));
        if (last[1] > first[1])
            memcpy(data + last[0] - first[0], (const uint8_t *)b->buffers[2] + first[1],
                   (size_t)(last[1] - first[1]));
        return 0;
    }
    default: { /* fixed width */
        int64_t bw = t.bit_width / 8;
        uint8_t *d = ik__array_new_buffer(out, 1, (size_t)(n * bw));
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
