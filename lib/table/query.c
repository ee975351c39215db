/* Query evaluation: checking a query against a schema, and applying it to one record batch.
 * Projection, offset and limit are slices of the input (the output's children are clones that
 * hold references to the input's refcounted buffers: zero bytes copied). A filter is evaluated
 * column by column into a byte mask (dictionary columns test the dictionary once, then the
 * indices), and only the rows selected after offset/limit are gathered into new buffers. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/query.h"
#include "table/query_internal.h"

enum kind { K_INT, K_UINT64, K_FLOAT, K_BOOL, K_STR, K_OTHER };

/* A predicate resolved against the schema. */
struct rpred {
    const struct ik_predicate *p;
    int64_t col;
    struct ik_type t;  /* value type (a dictionary column's value type) */
    struct ik_type it; /* dictionary index type */
    bool dict;
    enum kind k;
    bool use_double; /* numeric column compared with a double value */
};

#define CHUNK 1024

static enum kind kind_of(const struct ik_type *t)
{
    switch (t->id) {
    case IK_T_INT8:
    case IK_T_UINT8:
    case IK_T_INT16:
    case IK_T_UINT16:
    case IK_T_INT32:
    case IK_T_UINT32:
    case IK_T_INT64:
    case IK_T_DATE32:
    case IK_T_DATE64:
    case IK_T_TIME32:
    case IK_T_TIME64:
    case IK_T_TIMESTAMP:
    case IK_T_DURATION:
        return K_INT;
    case IK_T_UINT64:
        return K_UINT64;
    case IK_T_FLOAT:
    case IK_T_DOUBLE:
        return K_FLOAT;
    case IK_T_BOOL:
        return K_BOOL;
    case IK_T_STRING:
    case IK_T_BINARY:
    case IK_T_LARGE_STRING:
    case IK_T_LARGE_BINARY:
        return K_STR;
    default:
        return K_OTHER;
    }
}

static bool is_int_type(enum ik_type_id id)
{
    return id >= IK_T_INT8 && id <= IK_T_UINT64;
}

static int64_t find_column(const struct ArrowSchema *schema, const char *name)
{
    int64_t i;
    for (i = 0; i < schema->n_children; i++)
        if (schema->children[i]->name && strcmp(schema->children[i]->name, name) == 0)
            return i;
    return -1;
}

static const char *value_kind_name(enum ik_value_kind k)
{
    switch (k) {
    case IK_VAL_NULL:
        return "null";
    case IK_VAL_INT:
        return "an integer";
    case IK_VAL_DOUBLE:
        return "a number";
    case IK_VAL_STR:
        return "a string";
    case IK_VAL_BOOL:
        return "a boolean";
    }
    return "?";
}

static int resolve(const struct ik_predicate *p, const struct ArrowSchema *schema, struct rpred *r,
                   struct ik_error *err)
{
    const struct ArrowSchema *f;
    const char *want = NULL;
    size_t i;
    int rc;
    memset(r, 0, sizeof *r);
    r->p = p;
    r->col = find_column(schema, p->column);
    if (r->col < 0)
        return ik_error_set(err, EINVAL, "filter on '%s': no such column", p->column);
    f = schema->children[r->col];
    if (f->dictionary) {
        r->dict = true;
        if ((rc = ik__type_parse(f->format, &r->it, err)) != 0)
            return ik_error_prefix(err, rc, "filter on '%s'", p->column);
        if (!is_int_type(r->it.id))
            return ik_error_set(err, EINVAL, "filter on '%s': dictionary index is not an integer",
                                p->column);
        f = f->dictionary;
    }
    if ((rc = ik__type_parse(f->format, &r->t, err)) != 0)
        return ik_error_prefix(err, rc, "filter on '%s'", p->column);
    r->k = kind_of(&r->t);
    if (p->op == IK_OP_IS_NULL || p->op == IK_OP_NOT_NULL)
        return 0;
    if ((int)p->op < 0 || p->op > IK_OP_NOT_NULL)
        return ik_error_set(err, EINVAL, "filter on '%s': unknown op %d", p->column, (int)p->op);
    if (p->n_values == 0 || (p->op != IK_OP_IN && p->n_values != 1))
        return ik_error_set(err, EINVAL, "filter on '%s': op '%s' has %zu values", p->column,
                            ik_op_name(p->op), p->n_values);
    if ((p->op == IK_OP_CONTAINS || p->op == IK_OP_PREFIX || p->op == IK_OP_PATH_PREFIX) &&
        r->k != K_STR)
        return ik_error_set(err, EINVAL, "filter on '%s': op '%s' needs a string column", p->column,
                            ik_op_name(p->op));
    if (r->k == K_OTHER)
        return ik_error_set(err, EINVAL,
                            "filter on '%s': a %s column can only be tested with is_null or "
                            "not_null",
                            p->column, ik__type_name(r->t.id));
    for (i = 0; i < p->n_values; i++) {
        enum ik_value_kind vk = p->values[i].kind;
        bool ok;
        switch (r->k) {
        case K_INT:
        case K_UINT64:
        case K_FLOAT:
            ok = vk == IK_VAL_INT || vk == IK_VAL_DOUBLE;
            want = "a number";
            if (vk == IK_VAL_DOUBLE && r->k != K_FLOAT)
                r->use_double = true;
            break;
        case K_BOOL:
            ok = vk == IK_VAL_BOOL;
            want = "a boolean";
            break;
        default:
            ok = vk == IK_VAL_STR;
            want = "a string";
            break;
        }
        if (!ok)
            return ik_error_set(
                err, EINVAL, "filter on '%s': op '%s' on a %s column needs %s, got %s%s", p->column,
                ik_op_name(p->op), ik__type_name(r->t.id), want, value_kind_name(vk),
                vk == IK_VAL_NULL ? " (use is_null / not_null)" : "");
    }
    return 0;
}

int ik_query_check(const struct ik_query *q, const struct ArrowSchema *schema, struct ik_error *err)
{
    struct rpred r;
    size_t i;
    int rc;
    if (schema == NULL || strcmp(schema->format, "+s") != 0)
        return ik_error_set(err, EINVAL, "query: the schema is not a struct of columns");
    if (q->offset < 0)
        return ik_error_set(err, EINVAL, "query: offset %lld is negative", (long long)q->offset);
    if (q->limit < -1)
        return ik_error_set(err, EINVAL, "query: limit %lld is negative", (long long)q->limit);
    for (i = 0; i < q->n_columns; i++)
        if (find_column(schema, q->columns[i]) < 0)
            return ik_error_set(err, EINVAL, "column '%s' is not in table '%s'", q->columns[i],
                                q->table);
    for (i = 0; i < q->n_preds; i++)
        if ((rc = resolve(&q->preds[i], schema, &r, err)) != 0)
            return rc;
    return 0;
}

/* ---- predicate evaluation ------------------------------------------------------------- */

/* Loads n values of an integer-like (or bool) column starting at physical index `start`. */
static void load_i64(const struct ik_type *t, const void *d, int64_t start, int64_t n, int64_t *out)
{
    int64_t i;
    switch (t->id) {
    case IK_T_BOOL:
        for (i = 0; i < n; i++)
            out[i] = ik__bit_get(d, start + i);
        break;
    case IK_T_INT8:
        for (i = 0; i < n; i++)
            out[i] = ((const int8_t *)d)[start + i];
        break;
    case IK_T_UINT8:
        for (i = 0; i < n; i++)
            out[i] = ((const uint8_t *)d)[start + i];
        break;
    case IK_T_INT16:
        for (i = 0; i < n; i++)
            out[i] = ((const int16_t *)d)[start + i];
        break;
    case IK_T_UINT16:
        for (i = 0; i < n; i++)
            out[i] = ((const uint16_t *)d)[start + i];
        break;
    case IK_T_UINT32:
        for (i = 0; i < n; i++)
            out[i] = ((const uint32_t *)d)[start + i];
        break;
    default:
        if (t->bit_width == 32) {
            for (i = 0; i < n; i++)
                out[i] = ((const int32_t *)d)[start + i];
        } else {
            memcpy(out, (const int64_t *)d + start, (size_t)n * sizeof *out);
        }
        break;
    }
}

static void load_f64(const struct ik_type *t, const void *d, int64_t start, int64_t n, double *out,
                     int64_t *tmp)
{
    int64_t i;
    if (t->id == IK_T_FLOAT) {
        for (i = 0; i < n; i++)
            out[i] = ((const float *)d)[start + i];
    } else if (t->id == IK_T_DOUBLE) {
        memcpy(out, (const double *)d + start, (size_t)n * sizeof *out);
    } else if (t->id == IK_T_UINT64) {
        for (i = 0; i < n; i++)
            out[i] = (double)((const uint64_t *)d)[start + i];
    } else {
        load_i64(t, d, start, n, tmp);
        for (i = 0; i < n; i++)
            out[i] = (double)tmp[i];
    }
}

#define AND_LOOP(expr)                                                                             \
    do {                                                                                           \
        for (i = 0; i < n; i++)                                                                    \
            m[i] = (uint8_t)(m[i] & (expr));                                                       \
    } while (0)

static void cmp_ints(enum ik_op op, const int64_t *x, int64_t n, int64_t v, uint8_t *m)
{
    int64_t i;
    switch (op) {
    case IK_OP_EQ:
        AND_LOOP(x[i] == v);
        break;
    case IK_OP_NE:
        AND_LOOP(x[i] != v);
        break;
    case IK_OP_GT:
        AND_LOOP(x[i] > v);
        break;
    case IK_OP_GTE:
        AND_LOOP(x[i] >= v);
        break;
    case IK_OP_LT:
        AND_LOOP(x[i] < v);
        break;
    default:
        AND_LOOP(x[i] <= v);
        break;
    }
}

static void cmp_doubles(enum ik_op op, const double *x, int64_t n, double v, uint8_t *m)
{
    int64_t i;
    switch (op) {
    case IK_OP_EQ:
        AND_LOOP(x[i] == v);
        break;
    case IK_OP_NE:
        AND_LOOP(x[i] != v);
        break;
    case IK_OP_GT:
        AND_LOOP(x[i] > v);
        break;
    case IK_OP_GTE:
        AND_LOOP(x[i] >= v);
        break;
    case IK_OP_LT:
        AND_LOOP(x[i] < v);
        break;
    default:
        AND_LOOP(x[i] <= v);
        break;
    }
}

/* Three-way comparison of a uint64 column value with an int64 query value. */
static int cmp_u64(uint64_t x, int64_t v)
{
    if (v < 0)
        return 1;
    return (x > (uint64_t)v) - (x < (uint64_t)v);
}

static bool op_holds(enum ik_op op, int c)
{
    switch (op) {
    case IK_OP_EQ:
    case IK_OP_IN:
        return c == 0;
    case IK_OP_NE:
        return c != 0;
    case IK_OP_GT:
        return c > 0;
    case IK_OP_GTE:
        return c >= 0;
    case IK_OP_LT:
        return c < 0;
    default:
        return c <= 0;
    }
}

static double value_double(const struct ik_value *v)
{
    return v->kind == IK_VAL_DOUBLE ? v->d : (double)v->i;
}

static int64_t value_int(const struct ik_value *v)
{
    return v->kind == IK_VAL_BOOL ? (int64_t)v->b : v->i;
}

/* Numeric (and bool) predicates over rows [start, start + n) of values buffer d. */
static void eval_numeric(const struct rpred *r, const void *d, int64_t start, int64_t n, uint8_t *m)
{
    const struct ik_predicate *p = r->p;
    int64_t xi[CHUNK], i, c, len;
    double xd[CHUNK];
    size_t j;
    for (c = 0; c < n; c += CHUNK) {
        uint8_t *mc = m + c;
        len = n - c < CHUNK ? n - c : CHUNK;
        if (r->k == K_FLOAT || r->use_double) {
            load_f64(&r->t, d, start + c, len, xd, xi);
            if (p->op != IK_OP_IN) {
                cmp_doubles(p->op, xd, len, value_double(&p->values[0]), mc);
                continue;
            }
            for (i = 0; i < len; i++) {
                bool any = false;
                for (j = 0; j < p->n_values && !any; j++)
                    any = xd[i] == value_double(&p->values[j]);
                mc[i] = (uint8_t)(mc[i] & any);
            }
        } else if (r->k == K_UINT64) {
            const uint64_t *x = (const uint64_t *)d + start + c;
            for (i = 0; i < len; i++) {
                bool any = false;
                for (j = 0; j < p->n_values && !any; j++)
                    any = op_holds(p->op, cmp_u64(x[i], p->values[j].i));
                mc[i] = (uint8_t)(mc[i] & any);
            }
        } else {
            load_i64(&r->t, d, start + c, len, xi);
            if (p->op != IK_OP_IN) {
                cmp_ints(p->op, xi, len, value_int(&p->values[0]), mc);
                continue;
            }
            for (i = 0; i < len; i++) {
                bool any = false;
                for (j = 0; j < p->n_values && !any; j++)
                    any = xi[i] == value_int(&p->values[j]);
                mc[i] = (uint8_t)(mc[i] & any);
            }
        }
    }
}

static int memcmp3(const uint8_t *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return (an > bn) - (an < bn);
}

static bool str_holds(const struct ik_predicate *p, const uint8_t *s, size_t n)
{
    const struct ik_value *v = &p->values[0];
    size_t j, vl;
    switch (p->op) {
    case IK_OP_CONTAINS:
        return v->len == 0 || (n >= v->len && memmem(s, n, v->s, v->len) != NULL);
    case IK_OP_PREFIX:
        return n >= v->len && memcmp(s, v->s, v->len) == 0;
    case IK_OP_PATH_PREFIX:
        vl = v->len;
        while (vl > 0 && v->s[vl - 1] == '/')
            vl--;
        if (vl == 0) /* "/" (or "") is the root: every absolute path */
            return n > 0 && s[0] == '/';
        return n >= vl && memcmp(s, v->s, vl) == 0 && (n == vl || s[vl] == '/');
    case IK_OP_IN:
        for (j = 0; j < p->n_values; j++)
            if (memcmp3(s, n, p->values[j].s, p->values[j].len) == 0)
                return true;
        return false;
    default:
        return op_holds(p->op, memcmp3(s, n, v->s, v->len));
    }
}

static void eval_strings(const struct rpred *r, const struct ArrowArray *a, int64_t start,
                         int64_t n, uint8_t *m)
{
    const uint8_t *data = a->buffers[2];
    int64_t i, o0, o1;
    bool large = r->t.id == IK_T_LARGE_STRING || r->t.id == IK_T_LARGE_BINARY;
    for (i = 0; i < n; i++) {
        if (!m[i])
            continue;
        if (large) {
            o0 = ((const int64_t *)a->buffers[1])[start + i];
            o1 = ((const int64_t *)a->buffers[1])[start + i + 1];
        } else {
            o0 = ((const int32_t *)a->buffers[1])[start + i];
            o1 = ((const int32_t *)a->buffers[1])[start + i + 1];
        }
        /* a value whose offsets are out of order matches nothing (defence in depth: snapshots
         * are fully validated before use) */
        m[i] = ik__range_ok(a, large, o0, o1) && str_holds(r->p, data + o0, (size_t)(o1 - o0));
    }
}

/* ANDs the predicate over values array `a` (rows [start, start + n) physical) into m. */
static void eval_values(const struct rpred *r, const struct ArrowArray *a, int64_t start, int64_t n,
                        uint8_t *m)
{
    const void *valid = ik__type_has_validity(&r->t) && a->null_count != 0 ? a->buffers[0] : NULL;
    bool all_null = r->t.id == IK_T_NA;
    int64_t i;
    if (r->p->op == IK_OP_IS_NULL || r->p->op == IK_OP_NOT_NULL) {
        bool want_null = r->p->op == IK_OP_IS_NULL;
        if (all_null || valid == NULL) {
            if (want_null != all_null)
                memset(m, 0, (size_t)n);
            return;
        }
        AND_LOOP(ik__bit_get(valid, start + i) != want_null);
        return;
    }
    if (all_null) {
        memset(m, 0, (size_t)n);
        return;
    }
    if (r->k == K_STR) {
        if (valid)
            AND_LOOP(ik__bit_get(valid, start + i));
        eval_strings(r, a, start, n, m);
        return;
    }
    eval_numeric(r, a->buffers[1], start, n, m);
    if (valid)
        AND_LOOP(ik__bit_get(valid, start + i));
}

/* Dictionary column: the predicate is evaluated once per dictionary value, then looked up by
 * index. A null index matches only is_null; an index outside the dictionary never matches. */
static int eval_dict(const struct rpred *r, const struct ArrowArray *a, int64_t start, int64_t n,
                     uint8_t *m)
{
    const struct ArrowArray *d = a->dictionary;
    const void *valid = a->null_count != 0 ? a->buffers[0] : NULL;
    uint8_t *tbl = malloc((size_t)(d->length ? d->length : 1));
    int64_t idx[CHUNK], i, c, len, nd = d->length;
    uint8_t null_hit = r->p->op == IK_OP_IS_NULL;
    if (tbl == NULL)
        return ENOMEM;
    memset(tbl, 1, (size_t)nd);
    eval_values(r, d, d->offset, nd, tbl);
    for (c = 0; c < n; c += CHUNK) {
        uint8_t *mc = m + c;
        len = n - c < CHUNK ? n - c : CHUNK;
        load_i64(&r->it, a->buffers[1], start + c, len, idx);
        if (valid) {
            for (i = 0; i < len; i++) {
                uint8_t hit = (uint64_t)idx[i] < (uint64_t)nd ? tbl[idx[i]] : 0;
                hit = ik__bit_get(valid, start + c + i) ? hit : null_hit;
                mc[i] = (uint8_t)(mc[i] & hit);
            }
        } else {
            for (i = 0; i < len; i++)
                mc[i] = (uint8_t)(mc[i] & ((uint64_t)idx[i] < (uint64_t)nd ? tbl[idx[i]] : 0));
        }
    }
    free(tbl);
    return 0;
}

/* ---- output ---------------------------------------------------------------------------- */

static int take_values(const struct ArrowSchema *f, const struct ArrowArray *a, int64_t base,
                       const int64_t *sel, int64_t k, struct ArrowArray *out, struct ik_error *err);

/* A copy of a whole (dictionary) array: used when the input is not ours to reference. */
static int copy_array(const struct ArrowSchema *f, const struct ArrowArray *a,
                      struct ArrowArray *out, struct ik_error *err)
{
    int64_t *sel = malloc((size_t)(a->length ? a->length : 1) * sizeof *sel), i;
    int rc;
    if (sel == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < a->length; i++)
        sel[i] = i;
    rc = take_values(f, a, a->offset, sel, a->length, out, err);
    free(sel);
    return rc;
}

/* Gathers rows base + sel[i] (physical indices) of `a` (field f) into a new owned array. */
static int take_values(const struct ArrowSchema *f, const struct ArrowArray *a, int64_t base,
                       const int64_t *sel, int64_t k, struct ArrowArray *out, struct ik_error *err)
{
    struct ik_type t;
    const void *valid;
    int64_t i, nulls = 0, w;
    int rc;
    enum kind kd;
    if ((rc = ik__type_parse(f->format, &t, err)) != 0)
        return rc;
    kd = f->dictionary ? K_INT : kind_of(&t);
    if (kd == K_OTHER || (f->dictionary && !is_int_type(t.id)))
        return ik_error_set(err, ENOTSUP,
                            "column '%s': selecting rows of a %s column is not supported",
                            f->name ? f->name : "", ik__type_name(t.id));
    if (ik__array_alloc(out, kd == K_STR ? 3 : 2, 0) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    out->length = k;
    valid = a->null_count != 0 ? a->buffers[0] : NULL;
    if (valid) {
        uint8_t *bits = ik__array_new_buffer(out, 0, (size_t)(k + 7) / 8);
        if (bits == NULL)
            goto oom;
        for (i = 0; i < k; i++) {
            if (ik__bit_get(valid, base + sel[i]))
                bits[i >> 3] = (uint8_t)(bits[i >> 3] | (1u << (i & 7)));
            else
                nulls++;
        }
        if (nulls == 0)
            out->buffers[0] = NULL;
    }
    out->null_count = nulls;
    if (kd == K_BOOL) {
        uint8_t *bits = ik__array_new_buffer(out, 1, (size_t)(k + 7) / 8);
        if (bits == NULL)
            goto oom;
        for (i = 0; i < k; i++)
            if (ik__bit_get(a->buffers[1], base + sel[i]))
                bits[i >> 3] = (uint8_t)(bits[i >> 3] | (1u << (i & 7)));
    } else if (kd == K_STR) {
        bool large = t.id == IK_T_LARGE_STRING || t.id == IK_T_LARGE_BINARY;
        const uint8_t *src = a->buffers[2];
        int64_t total = 0, o0, o1;
        uint8_t *offs, *data;
        w = large ? 8 : 4;
        offs = ik__array_new_buffer(out, 1, (size_t)((k + 1) * w));
        if (offs == NULL)
            goto oom;
        for (i = 0; i < k; i++) {
            int64_t p = base + sel[i];
            o0 = large ? ((const int64_t *)a->buffers[1])[p] : ((const int32_t *)a->buffers[1])[p];
            o1 = large ? ((const int64_t *)a->buffers[1])[p + 1]
                       : ((const int32_t *)a->buffers[1])[p + 1];
            if (!ik__range_ok(a, large, o0, o1)) {
                rc = ik_error_set(err, IK_EINVALID,
                                  "column '%s', row %lld: value offsets [%lld, %lld) out of order "
                                  "or out of range",
                                  f->name ? f->name : "", (long long)(p - a->offset), (long long)o0,
                                  (long long)o1);
                goto fail;
            }
            total += o1 - o0;
        }
        data = ik__array_new_buffer(out, 2, (size_t)total);
        if (data == NULL)
            goto oom;
        total = 0;
        for (i = 0; i < k; i++) {
            int64_t p = base + sel[i];
            if (large) {
                o0 = ((const int64_t *)a->buffers[1])[p];
                o1 = ((const int64_t *)a->buffers[1])[p + 1];
                ((int64_t *)offs)[i] = total;
            } else {
                o0 = ((const int32_t *)a->buffers[1])[p];
                o1 = ((const int32_t *)a->buffers[1])[p + 1];
                ((int32_t *)offs)[i] = (int32_t)total;
            }
            if (o1 > o0)
                memcpy(data + total, src + o0, (size_t)(o1 - o0));
            total += o1 - o0;
        }
        if (large)
            ((int64_t *)offs)[k] = total;
        else
            ((int32_t *)offs)[k] = (int32_t)total;
    } else {
        uint8_t *d;
        const uint8_t *s = a->buffers[1];
        w = t.bit_width / 8;
        d = ik__array_new_buffer(out, 1, (size_t)(k * w));
        if (d == NULL)
            goto oom;
        switch (w) {
        case 1:
            for (i = 0; i < k; i++)
                d[i] = s[base + sel[i]];
            break;
        case 2:
            for (i = 0; i < k; i++)
                ((uint16_t *)d)[i] = ((const uint16_t *)s)[base + sel[i]];
            break;
        case 4:
            for (i = 0; i < k; i++)
                ((uint32_t *)d)[i] = ((const uint32_t *)s)[base + sel[i]];
            break;
        case 8:
            for (i = 0; i < k; i++)
                ((uint64_t *)d)[i] = ((const uint64_t *)s)[base + sel[i]];
            break;
        default:
            for (i = 0; i < k; i++)
                memcpy(d + i * w, s + (base + sel[i]) * w, (size_t)w);
            break;
        }
    }
    if (f->dictionary) {
        if (ik__array_alloc_dictionary(out) != 0)
            goto oom;
        rc = ik__array_clone(a->dictionary, out->dictionary);
        if (rc == ENOTSUP)
            rc = copy_array(f->dictionary, a->dictionary, out->dictionary, err);
        else if (rc != 0)
            rc = ik_error_set(err, rc, "out of memory");
        if (rc != 0)
            goto fail;
    }
    return 0;
oom:
    rc = ik_error_set(err, ENOMEM, "out of memory");
fail:
    out->release(out);
    return rc;
}

/* Rows [start, start + k) of column c as a slice sharing the input's buffers (or a copy when
 * the input is foreign memory we cannot hold a reference to). */
static int slice_column(const struct ArrowSchema *f, const struct ArrowArray *batch,
                        const struct ArrowArray *c, int64_t start, int64_t k,
                        struct ArrowArray *out, struct ik_error *err)
{
    int64_t base = c->offset + batch->offset + start, *sel, i;
    int rc = ik__array_clone(c, out);
    if (rc == 0) {
        if (ik__array_hold_all(out, batch) == ENOMEM) {
            out->release(out);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
        if (c->null_count != 0 && !(base == c->offset && k == c->length))
            out->null_count = -1;
        out->offset = base;
        out->length = k;
        return 0;
    }
    if (rc != ENOTSUP)
        return ik_error_set(err, rc, "out of memory");
    sel = malloc((size_t)(k ? k : 1) * sizeof *sel);
    if (sel == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < k; i++)
        sel[i] = i;
    rc = take_values(f, c, base, sel, k, out, err);
    free(sel);
    return rc;
}

/* ---- apply ----------------------------------------------------------------------------- */

static int make_schema(const struct ArrowSchema *schema, const int64_t *cols, int64_t n,
                       struct ArrowSchema *out, struct ik_error *err)
{
    int64_t i;
    int rc;
    if (ik__schema_alloc(out, "+s", schema->name, schema->metadata, schema->flags, n) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        /* ik_schema_copy fills a released child in place */
        if ((rc = ik_schema_copy(schema->children[cols[i]], out->children[i], err)) != 0) {
            out->release(out);
            return rc;
        }
    }
    return 0;
}

/* The byte mask of rows matching every predicate. */
static int filter_mask(const struct rpred *preds, size_t n_preds, const struct ArrowArray *batch,
                       uint8_t *m)
{
    size_t i;
    int rc;
    memset(m, 1, (size_t)batch->length);
    for (i = 0; i < n_preds; i++) {
        const struct ArrowArray *c = batch->children[preds[i].col];
        int64_t start = c->offset + batch->offset;
        if (preds[i].dict) {
            if ((rc = eval_dict(&preds[i], c, start, batch->length, m)) != 0)
                return rc;
        } else {
            eval_values(&preds[i], c, start, batch->length, m);
        }
    }
    return 0;
}

int ik_query_apply(const struct ik_query *q, const struct ArrowSchema *schema,
                   const struct ArrowArray *batch, struct ArrowSchema *schema_out,
                   struct ArrowArray *out, int64_t *matched, struct ik_error *err)
{
    int64_t *sel = NULL;
    struct rpred *preds = calloc(q->n_preds ? q->n_preds : 1, sizeof *preds);
    uint8_t *mask = NULL;
    int64_t i, n = batch->length, start, k, hits = n;
    bool sliced = true;
    int rc;
    out->release = NULL;
    if (schema_out)
        schema_out->release = NULL;
    if (preds == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = ik_query_check(q, schema, err)) != 0)
        goto done;
    if (batch->n_children != schema->n_children) {
        rc = ik_error_set(err, EINVAL, "query: the batch has %lld columns, the schema %lld",
                          (long long)batch->n_children, (long long)schema->n_children);
        goto done;
    }
    for (i = 0; i < (int64_t)q->n_preds; i++)
        resolve(&q->preds[i], schema, &preds[i], NULL);

    /* The selected rows: a window [start, start + k) unless a filter picks scattered rows. */
    if (q->n_preds > 0) {
        int64_t rank = 0, want;
        mask = malloc((size_t)(n ? n : 1));
        if (mask == NULL) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            goto done;
        }
        if ((rc = filter_mask(preds, q->n_preds, batch, mask)) != 0) {
            rc = ik_error_set(err, rc, "out of memory");
            goto done;
        }
        for (hits = 0, i = 0; i < n; i++)
            hits += mask[i];
        start = q->offset < hits ? q->offset : hits;
        want = q->limit < 0 || q->limit > hits - start ? hits - start : q->limit;
        sel = malloc((size_t)(want ? want : 1) * sizeof *sel);
        if (sel == NULL) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            goto done;
        }
        for (k = 0, i = 0; i < n && k < want; i++) {
            if (mask[i] && rank++ >= start)
                sel[k++] = i;
        }
        /* A contiguous run of rows is still a slice. */
        sliced = k == 0 || sel[k - 1] - sel[0] == k - 1;
        start = k ? sel[0] : 0;
    } else {
        start = q->offset < n ? q->offset : n;
        k = q->limit < 0 || q->limit > n - start ? n - start : q->limit;
    }

    /* the projection of the selected rows: a slice, or the rows gathered */
    if ((rc = ik__query_take(q, schema, batch, sliced ? NULL : sel, start, k, schema_out, out,
                             err)) != 0)
        goto done;
    if (matched)
        *matched = hits;
done: /* out and schema_out are set only by ik__query_take, which leaves none on failure */
    free(preds);
    free(mask);
    free(sel);
    return rc;
}

/* ---- pieces for multi-segment results (segquery.c, query_internal.h) ------------------- */

/* The byte mask of candidate rows cand[0..n) (each evaluated as a one-row window). */
static int filter_rows(const struct rpred *preds, size_t n_preds, const struct ArrowArray *batch,
                       const int64_t *cand, int64_t n, uint8_t *m)
{
    int64_t j;
    size_t i;
    int rc;
    memset(m, 1, (size_t)n);
    for (i = 0; i < n_preds; i++) {
        const struct ArrowArray *c = batch->children[preds[i].col];
        for (j = 0; j < n; j++) {
            int64_t at = c->offset + batch->offset + cand[j];
            if (!m[j])
                continue;
            if (preds[i].dict) {
                if ((rc = eval_dict(&preds[i], c, at, 1, m + j)) != 0)
                    return rc;
            } else {
                eval_values(&preds[i], c, at, 1, m + j);
            }
        }
    }
    return 0;
}

int ik__query_select(const struct ik_query *q, const struct ArrowSchema *schema,
                     const struct ArrowArray *batch, const int64_t *cand, int64_t n_cand,
                     const int64_t *skip, int64_t n_skip, int64_t **sel, int64_t *n_sel,
                     struct ik_error *err)
{
    struct rpred *preds = calloc(q->n_preds ? q->n_preds : 1, sizeof *preds);
    int64_t n = cand ? n_cand : batch->length, i, k = 0, s = 0;
    uint8_t *mask = malloc((size_t)(n ? n : 1));
    int64_t *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    int rc = 0;
    *sel = NULL;
    *n_sel = 0;
    if (preds == NULL || mask == NULL || out == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < (int64_t)q->n_preds; i++)
        if ((rc = resolve(&q->preds[i], schema, &preds[i], err)) != 0)
            goto done;
    rc = cand ? filter_rows(preds, q->n_preds, batch, cand, n, mask)
              : filter_mask(preds, q->n_preds, batch, mask);
    if (rc != 0) {
        rc = ik_error_set(err, rc, "out of memory");
        goto done;
    }
    for (i = 0; i < n; i++) {
        int64_t row = cand ? cand[i] : i;
        if (cand) { /* a few rows: the skip list's first >= row by binary search, not a walk */
            int64_t hi = n_skip;
            while (s < hi) {
                int64_t mid = s + (hi - s) / 2;
                if (skip[mid] < row)
                    s = mid + 1;
                else
                    hi = mid;
            }
        }
        while (s < n_skip && skip[s] < row)
            s++;
        if (mask[i] && !(s < n_skip && skip[s] == row))
            out[k++] = row;
    }
    *sel = out;
    *n_sel = k;
    out = NULL;
done:
    free(preds);
    free(mask);
    free(out);
    return rc;
}

int ik__query_take(const struct ik_query *q, const struct ArrowSchema *schema,
                   const struct ArrowArray *batch, const int64_t *sel, int64_t start, int64_t k,
                   struct ArrowSchema *schema_out, struct ArrowArray *out, struct ik_error *err)
{
    int64_t n_cols = q->n_columns ? (int64_t)q->n_columns : schema->n_children, i;
    int64_t *cols = malloc((size_t)(n_cols ? n_cols : 1) * sizeof *cols);
    bool sliced = sel == NULL || k == 0 || sel[k - 1] - sel[0] == k - 1;
    int rc = 0;
    out->release = NULL;
    if (schema_out)
        schema_out->release = NULL;
    if (cols == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < n_cols; i++)
        if ((cols[i] = q->n_columns ? find_column(schema, q->columns[i]) : i) < 0) {
            rc = ik_error_set(err, EINVAL, "unknown column '%s'", q->columns[i]);
            goto done;
        }
    if (sel && k > 0)
        start = sel[0];
    if (schema_out && (rc = make_schema(schema, cols, n_cols, schema_out, err)) != 0)
        goto done;
    if (ik__array_alloc(out, 1, n_cols) != 0) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    out->length = k;
    for (i = 0; i < n_cols && rc == 0; i++) {
        const struct ArrowArray *c = batch->children[cols[i]];
        const struct ArrowSchema *f = schema->children[cols[i]];
        rc = sliced ? slice_column(f, batch, c, start, k, out->children[i], err)
                    : take_values(f, c, c->offset + batch->offset, sel, k, out->children[i], err);
    }
done:
    if (rc != 0) {
        if (out->release)
            out->release(out);
        if (schema_out && schema_out->release)
            schema_out->release(schema_out);
    }
    free(cols);
    return rc;
}
