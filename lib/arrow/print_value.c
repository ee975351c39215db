/* Rendering one value of any Arrow type as text: the plan compiled once per schema (parsed
 * types, JSON keys, union type id maps), a structural check of each batch against it, and the
 * per-type renderers (Columnar.rst layouts, C Data Interface buffer order). Data are trusted as
 * fully validated except where a wrong value would read out of bounds: dictionary indices,
 * union type ids and dense offsets, views, list ranges and run ends are checked on use. */
#include <inttypes.h>
#include <stdlib.h>

#include "arrow/print_internal.h"

/* ---- the plan ----------------------------------------------------------------------------- */

static bool is_int(enum ik_type_id id)
{
    return id >= IK_T_INT8 && id <= IK_T_UINT64;
}

static bool is_numeric(enum ik_type_id id)
{
    return (id >= IK_T_INT8 && id <= IK_T_DECIMAL256) || id == IK_T_DURATION;
}

static int build(struct ik__pnode *n, const struct ArrowSchema *s, int depth, struct ik_error *err);

static int build_children(struct ik__pnode *n, const struct ArrowSchema *s, int depth,
                          struct ik_error *err)
{
    int64_t i;
    int rc, want = ik__type_n_children(&n->t);
    if (s->n_children < 0 || (want >= 0 && s->n_children != want) ||
        (s->n_children > 0 && s->children == NULL))
        return ik_error_set(err, EINVAL, "%s with %lld children", ik__type_name(n->t.id),
                            (long long)s->n_children);
    if (s->n_children == 0)
        return 0;
    n->children = calloc((size_t)s->n_children, sizeof *n->children);
    if (n->children == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    n->n_children = s->n_children;
    for (i = 0; i < s->n_children; i++) {
        if ((rc = build(&n->children[i], s->children[i], depth + 1, err)) != 0)
            return ik_error_prefix(err, rc, "field '%s'", n->children[i].name);
    }
    return 0;
}

/* Checks what the renderers assume about children: map entries, run end types, union ids. */
static int check_shape(struct ik__pnode *n, struct ik_error *err)
{
    int32_t i;
    switch (n->t.id) {
    case IK_T_MAP:
        if (n->children[0].t.id != IK_T_STRUCT || n->children[0].n_children != 2 ||
            n->children[0].dict != NULL)
            return ik_error_set(err, EINVAL, "map entries are not a struct of key and value");
        return 0;
    case IK_T_RUN_END_ENCODED: {
        enum ik_type_id r = n->children[0].t.id;
        if ((r != IK_T_INT16 && r != IK_T_INT32 && r != IK_T_INT64) || n->children[0].dict)
            return ik_error_set(err, EINVAL, "run ends of type %s", ik__type_name(r));
        return 0;
    }
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION:
        if (n->t.n_type_ids != n->n_children)
            return ik_error_set(err, EINVAL, "union declares %d type ids for %lld children",
                                (int)n->t.n_type_ids, (long long)n->n_children);
        for (i = 0; i < n->t.n_type_ids; i++)
            n->child_of[n->t.type_ids[i]] = (int8_t)i;
        return 0;
    default:
        return 0;
    }
}

static int build(struct ik__pnode *n, const struct ArrowSchema *s, int depth, struct ik_error *err)
{
    struct ik__sb key = {0};
    int rc;
    memset(n, 0, sizeof *n);
    memset(n->child_of, -1, sizeof n->child_of);
    n->name = "";
    if (s == NULL)
        return ik_error_set(err, EINVAL, "missing schema node");
    n->name = s->name ? s->name : "";
    if (depth > IK__PRINT_MAX_DEPTH)
        return ik_error_set(err, IK_ELIMIT, "schema nested deeper than %d levels",
                            IK__PRINT_MAX_DEPTH);
    if ((rc = ik__type_parse(s->format, &n->t, err)) != 0)
        return ik_error_set(err, EINVAL, "cannot render type '%.64s'",
                            s->format ? s->format : "(null)");
    ik__put_text(&key, (const uint8_t *)n->name, strlen(n->name), IK__PM_JSON);
    ik__sb_addc(&key, ':');
    if (key.oom) {
        ik__sb_free(&key);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    n->key = key.p;
    n->key_len = key.len;
    if (s->dictionary) {
        if (!is_int(n->t.id))
            return ik_error_set(err, EINVAL, "dictionary index type %s is not an integer",
                                ik__type_name(n->t.id));
        if ((n->dict = calloc(1, sizeof *n->dict)) == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        if ((rc = build(n->dict, s->dictionary, depth + 1, err)) != 0)
            return ik_error_prefix(err, rc, "dictionary");
    }
    if ((rc = build_children(n, s, depth, err)) != 0 || (rc = check_shape(n, err)) != 0)
        return rc;
    n->has_validity = n->dict != NULL || ik__type_has_validity(&n->t);
    if (n->dict)
        n->numeric = n->dict->numeric;
    else if (n->t.id == IK_T_RUN_END_ENCODED)
        n->numeric = n->children[1].numeric;
    else
        n->numeric = is_numeric(n->t.id);
    return 0;
}

int ik__pnode_build(struct ik__pnode *n, const struct ArrowSchema *s, struct ik_error *err)
{
    int rc = build(n, s, 0, err);
    if (rc != 0)
        ik__pnode_free(n);
    return rc;
}

void ik__pnode_free(struct ik__pnode *n)
{
    int64_t i;
    if (n == NULL)
        return;
    for (i = 0; n->children && i < n->n_children; i++)
        ik__pnode_free(&n->children[i]);
    free(n->children);
    if (n->dict) {
        ik__pnode_free(n->dict);
        free(n->dict);
    }
    free(n->key);
    memset(n, 0, sizeof *n);
}

/* ---- checking a batch against the plan ---------------------------------------------------- */

static int missing(struct ik_error *err, const struct ik__pnode *n, int b)
{
    return ik_error_set(err, IK_EINVALID, "%s array of nonzero length lacks buffer %d",
                        ik__type_name(n->t.id), b);
}

/* Buffers read when the array has rows (validity and zero-size buffers may be NULL). */
static int check_buffers(const struct ik__pnode *n, const struct ArrowArray *a,
                         struct ik_error *err)
{
    enum ik_type_id id = n->t.id;
    if (a->length == 0)
        return 0;
    if (n->dict || id == IK_T_BOOL || (id >= IK_T_INT8 && id <= IK_T_INTERVAL_MONTH_DAY_NANO) ||
        (id == IK_T_FIXED_SIZE_BINARY && n->t.fixed_size > 0) ||
        (id >= IK_T_BINARY && id <= IK_T_STRING_VIEW) || id == IK_T_LIST || id == IK_T_LARGE_LIST ||
        id == IK_T_MAP || id == IK_T_DENSE_UNION) {
        if (a->buffers[1] == NULL)
            return missing(err, n, 1);
    }
    if ((id == IK_T_SPARSE_UNION || id == IK_T_DENSE_UNION) && a->buffers[0] == NULL)
        return missing(err, n, 0);
    if ((id == IK_T_BINARY_VIEW || id == IK_T_STRING_VIEW) && a->n_buffers > 3 &&
        a->buffers[a->n_buffers - 1] == NULL)
        return missing(err, n, (int)a->n_buffers - 1);
    return 0;
}

/* Children indexed by the parent's slots (struct, sparse union) must cover offset + length. */
static int check_child_length(const struct ik__pnode *n, const struct ArrowArray *a,
                              const struct ArrowArray *c, struct ik_error *err)
{
    int64_t need = a->offset + a->length;
    if (n->t.id == IK_T_FIXED_SIZE_LIST) {
        if (n->t.fixed_size > 0 && need > c->length / n->t.fixed_size)
            return ik_error_set(err, IK_EINVALID, "child of %lld values is too short",
                                (long long)c->length);
        return 0;
    }
    if ((n->t.id == IK_T_STRUCT || n->t.id == IK_T_SPARSE_UNION) && c->length < need)
        return ik_error_set(err, IK_EINVALID, "child length %lld < parent offset + length %lld",
                            (long long)c->length, (long long)need);
    return 0;
}

int ik__pnode_check(const struct ik__pnode *n, const struct ArrowArray *a, struct ik_error *err)
{
    bool view = n->t.id == IK_T_BINARY_VIEW || n->t.id == IK_T_STRING_VIEW;
    int64_t nb = view ? 3 : ik__type_n_buffers(&n->t), i;
    int rc;
    if (a == NULL)
        return ik_error_set(err, IK_EINVALID, "missing array");
    if (a->length < 0 || a->offset < 0 || a->offset > INT64_MAX - a->length)
        return ik_error_set(err, IK_EINVALID, "bad length %lld or offset %lld",
                            (long long)a->length, (long long)a->offset);
    if (a->n_buffers < nb || (nb > 0 && a->buffers == NULL))
        return ik_error_set(err, IK_EINVALID, "%s array has %lld buffers, needs %lld",
                            ik__type_name(n->t.id), (long long)a->n_buffers, (long long)nb);
    if (a->n_children != n->n_children || (n->n_children > 0 && a->children == NULL))
        return ik_error_set(err, IK_EINVALID, "%s array has %lld children, schema %lld",
                            ik__type_name(n->t.id), (long long)a->n_children,
                            (long long)n->n_children);
    if ((rc = check_buffers(n, a, err)) != 0)
        return rc;
    for (i = 0; i < n->n_children; i++) {
        if ((rc = ik__pnode_check(&n->children[i], a->children[i], err)) != 0 ||
            (rc = check_child_length(n, a, a->children[i], err)) != 0)
            return ik_error_prefix(err, rc, "child '%s'", n->children[i].name);
    }
    if (n->dict) {
        if (a->dictionary == NULL)
            return ik_error_set(err, IK_EINVALID, "dictionary-encoded array without dictionary");
        if ((rc = ik__pnode_check(n->dict, a->dictionary, err)) != 0)
            return ik_error_prefix(err, rc, "dictionary");
    }
    return 0;
}

/* ---- rendering ---------------------------------------------------------------------------- */

/* Native-endian loads that do not assume alignment. */
static int64_t ld_int(enum ik_type_id id, const void *buf, int64_t k)
{
    const uint8_t *p = buf;
    switch (id) {
    case IK_T_INT8:
        return ((const int8_t *)buf)[k];
    case IK_T_UINT8:
        return p[k];
    case IK_T_INT16: {
        int16_t v;
        memcpy(&v, p + 2 * k, 2);
        return v;
    }
    case IK_T_UINT16: {
        uint16_t v;
        memcpy(&v, p + 2 * k, 2);
        return v;
    }
    case IK_T_INT32: {
        int32_t v;
        memcpy(&v, p + 4 * k, 4);
        return v;
    }
    case IK_T_UINT32: {
        uint32_t v;
        memcpy(&v, p + 4 * k, 4);
        return v;
    }
    default: { /* int64; uint64 above INT64_MAX comes back negative */
        int64_t v;
        memcpy(&v, p + 8 * k, 8);
        return v;
    }
    }
}

static int32_t ld32(const void *buf, int64_t k)
{
    int32_t v;
    memcpy(&v, (const uint8_t *)buf + 4 * k, 4);
    return v;
}

static int64_t ld64(const void *buf, int64_t k)
{
    int64_t v;
    memcpy(&v, (const uint8_t *)buf + 8 * k, 8);
    return v;
}

static void put_null(struct ik__sb *s, enum ik__pmode mode)
{
    if (mode != IK__PM_CSV)
        ik__sb_add(s, "null", 4);
}

static int bad(struct ik_error *err, const char *what, int64_t v, int64_t limit)
{
    return ik_error_set(err, IK_EINVALID, "%s %lld out of range (limit %lld)", what, (long long)v,
                        (long long)limit);
}

/* Binary, string, their large and view forms; k is the physical slot. */
static int render_bytes(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a,
                        int64_t k, enum ik__pmode mode, struct ik_error *err)
{
    const uint8_t *data;
    int64_t start, end;
    bool text =
        n->t.id == IK_T_STRING || n->t.id == IK_T_LARGE_STRING || n->t.id == IK_T_STRING_VIEW;
    if (n->t.id == IK_T_BINARY || n->t.id == IK_T_STRING) {
        data = a->buffers[2];
        start = ld32(a->buffers[1], k);
        end = ld32(a->buffers[1], k + 1);
    } else if (n->t.id == IK_T_LARGE_BINARY || n->t.id == IK_T_LARGE_STRING) {
        data = a->buffers[2];
        start = ld64(a->buffers[1], k);
        end = ld64(a->buffers[1], k + 1);
    } else {
        const uint8_t *v = (const uint8_t *)a->buffers[1] + 16 * k;
        int32_t len = ld32(v, 0), idx, off;
        int64_t nvar = a->n_buffers - 3, size;
        if (len < 0)
            return bad(err, "view length", len, 0);
        start = 0;
        end = len;
        data = v + 4;
        if (len > 12) {
            idx = ld32(v, 2);
            off = ld32(v, 3);
            if (idx < 0 || idx >= nvar)
                return bad(err, "view buffer index", idx, nvar);
            size = ld64(a->buffers[a->n_buffers - 1], idx);
            if (off < 0 || off > size || len > size - off)
                return bad(err, "view end", (int64_t)off + len, size);
            data = a->buffers[2 + idx];
            start = off;
            end = (int64_t)off + len;
        }
    }
    if (start < 0 || end < start || (end > start && data == NULL) ||
        (n->t.id != IK_T_STRING_VIEW && n->t.id != IK_T_BINARY_VIEW &&
         !ik__range_ok(a, n->t.id == IK_T_LARGE_BINARY || n->t.id == IK_T_LARGE_STRING, start,
                       end)))
        return ik_error_set(err, IK_EINVALID, "bad value range [%lld, %lld)", (long long)start,
                            (long long)end);
    if (text)
        ik__put_text(s, data + start, (size_t)(end - start), mode);
    else
        ik__put_hex(s, data + start, (size_t)(end - start), mode);
    return 0;
}

static int render_temporal(struct ik__sb *s, const struct ik__pnode *n, const void *d, int64_t k,
                           enum ik__pmode mode)
{
    const struct ik_type *t = &n->t;
    int64_t v = (t->id == IK_T_DATE32 || t->id == IK_T_TIME32) ? ld32(d, k) : ld64(d, k);
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
    if (t->id == IK_T_DATE32)
        ik__put_date(s, v);
    else if (t->id == IK_T_DATE64)
        ik__put_date(s, v / 86400000 - (v % 86400000 < 0)); /* floor */
    else if (t->id == IK_T_TIMESTAMP)
        ik__put_timestamp(s, v, t->unit, t->timezone[0] != 0);
    else
        ik__put_time(s, v, t->unit);
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
    return 0;
}

static void render_interval(struct ik__sb *s, enum ik_type_id id, const void *d, int64_t k)
{
    if (id == IK_T_INTERVAL_MONTHS)
        ik__sb_printf(s, "{\"months\":%" PRId32 "}", ld32(d, k));
    else if (id == IK_T_INTERVAL_DAY_TIME)
        ik__sb_printf(s, "{\"days\":%" PRId32 ",\"milliseconds\":%" PRId32 "}", ld32(d, 2 * k),
                      ld32(d, 2 * k + 1));
    else
        ik__sb_printf(s,
                      "{\"months\":%" PRId32 ",\"days\":%" PRId32 ",\"nanoseconds\":%" PRId64 "}",
                      ld32(d, 4 * k), ld32(d, 4 * k + 1), ld64(d, 2 * k + 1));
}

/* Elements [first, last) of a list's child as a JSON array (map entries as objects). */
static int render_items(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a,
                        int64_t first, int64_t last, struct ik_error *err)
{
    const struct ArrowArray *c = a->children[0];
    const struct ik__pnode *cn = &n->children[0];
    int64_t j;
    int rc;
    if (first < 0 || last < first || last > c->length)
        return ik_error_set(err, IK_EINVALID, "list range [%lld, %lld) outside child of %lld",
                            (long long)first, (long long)last, (long long)c->length);
    ik__sb_addc(s, '[');
    for (j = first; j < last; j++) {
        if (j > first)
            ik__sb_addc(s, ',');
        if (n->t.id != IK_T_MAP) {
            rc = ik__render(s, cn, c, j, IK__PM_JSON, err);
        } else if (c->null_count != 0 && c->buffers[0] &&
                   !ik__bit_get(c->buffers[0], c->offset + j)) {
            ik__sb_add(s, "null", 4);
            rc = 0;
        } else {
            ik__sb_add(s, "{\"key\":", 7);
            rc = ik__render(s, &cn->children[0], c->children[0], c->offset + j, IK__PM_JSON, err);
            ik__sb_add(s, ",\"value\":", 9);
            if (rc == 0)
                rc = ik__render(s, &cn->children[1], c->children[1], c->offset + j, IK__PM_JSON,
                                err);
            ik__sb_addc(s, '}');
        }
        if (rc != 0)
            return rc;
    }
    ik__sb_addc(s, ']');
    return 0;
}

static int render_struct(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a,
                         int64_t k, struct ik_error *err)
{
    int64_t c;
    int rc;
    ik__sb_addc(s, '{');
    for (c = 0; c < n->n_children; c++) {
        if (c)
            ik__sb_addc(s, ',');
        ik__sb_add(s, n->children[c].key, n->children[c].key_len);
        if ((rc = ik__render(s, &n->children[c], a->children[c], k, IK__PM_JSON, err)) != 0)
            return rc;
    }
    ik__sb_addc(s, '}');
    return 0;
}

static int render_union(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a,
                        int64_t k, enum ik__pmode mode, struct ik_error *err)
{
    int8_t id = ((const int8_t *)a->buffers[0])[k];
    int ci = id >= 0 ? n->child_of[id] : -1;
    const struct ArrowArray *c;
    int64_t j = k;
    if (ci < 0)
        return ik_error_set(err, IK_EINVALID, "undeclared union type id %d", (int)id);
    c = a->children[ci];
    if (n->t.id == IK_T_DENSE_UNION)
        j = ld32(a->buffers[1], k);
    if (j < 0 || j >= c->length)
        return bad(err, "union child offset", j, c->length);
    return ik__render(s, &n->children[ci], c, j, mode, err);
}

/* The run containing logical slot k: the first run end above k. */
static int render_run(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a,
                      int64_t k, enum ik__pmode mode, struct ik_error *err)
{
    const struct ArrowArray *ends = a->children[0], *values = a->children[1];
    int64_t lo = 0, hi = ends->length;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ld_int(n->children[0].t.id, ends->buffers[1], ends->offset + mid) > k)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo >= ends->length || lo >= values->length)
        return bad(err, "run for slot", k, ends->length);
    return ik__render(s, &n->children[1], values, lo, mode, err);
}

static int render_nested(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a,
                         int64_t k, enum ik__pmode mode, struct ik_error *err)
{
    switch (n->t.id) {
    case IK_T_STRUCT:
        return render_struct(s, n, a, k, err);
    case IK_T_LIST:
    case IK_T_MAP:
        return render_items(s, n, a, ld32(a->buffers[1], k), ld32(a->buffers[1], k + 1), err);
    case IK_T_LARGE_LIST:
        return render_items(s, n, a, ld64(a->buffers[1], k), ld64(a->buffers[1], k + 1), err);
    case IK_T_FIXED_SIZE_LIST:
        return render_items(s, n, a, k * n->t.fixed_size, (k + 1) * n->t.fixed_size, err);
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION:
        return render_union(s, n, a, k, mode, err);
    case IK_T_RUN_END_ENCODED:
        return render_run(s, n, a, k, mode, err);
    default:
        return ik_error_set(err, EINVAL, "cannot render %s", ik__type_name(n->t.id));
    }
}

int ik__render(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a, int64_t i,
               enum ik__pmode mode, struct ik_error *err)
{
    int64_t k = a->offset + i;
    const void *d = a->n_buffers > 1 ? a->buffers[1] : NULL;
    if (n->t.id == IK_T_NA || (n->has_validity && a->null_count != 0 && a->buffers[0] &&
                               !ik__bit_get(a->buffers[0], k))) {
        put_null(s, mode);
        return 0;
    }
    if (n->dict) {
        int64_t x = ld_int(n->t.id, d, k);
        if (x < 0 || x >= a->dictionary->length)
            return bad(err, "dictionary index", x, a->dictionary->length);
        return ik__render(s, n->dict, a->dictionary, x, mode, err);
    }
    switch (n->t.id) {
    case IK_T_BOOL:
        ik__sb_adds(s, ik__bit_get(d, k) ? "true" : "false");
        return 0;
    case IK_T_INT8:
    case IK_T_UINT8:
    case IK_T_INT16:
    case IK_T_UINT16:
    case IK_T_INT32:
    case IK_T_UINT32:
    case IK_T_INT64:
    case IK_T_DURATION:
        ik__sb_printf(s, "%" PRId64, ld_int(n->t.id == IK_T_DURATION ? IK_T_INT64 : n->t.id, d, k));
        return 0;
    case IK_T_UINT64:
        ik__sb_printf(s, "%" PRIu64, (uint64_t)ld64(d, k));
        return 0;
    case IK_T_HALF_FLOAT: {
        uint16_t h;
        memcpy(&h, (const uint8_t *)d + 2 * k, 2);
        ik__put_double(s, ik__half_to_double(h), mode);
        return 0;
    }
    case IK_T_FLOAT: {
        float f;
        memcpy(&f, (const uint8_t *)d + 4 * k, 4);
        ik__put_double(s, (double)f, mode);
        return 0;
    }
    case IK_T_DOUBLE: {
        double f;
        memcpy(&f, (const uint8_t *)d + 8 * k, 8);
        ik__put_double(s, f, mode);
        return 0;
    }
    case IK_T_DECIMAL32:
    case IK_T_DECIMAL64:
    case IK_T_DECIMAL128:
    case IK_T_DECIMAL256: {
        int bytes = n->t.bit_width / 8;
        ik__put_decimal(s, (const uint8_t *)d + bytes * k, bytes, n->t.scale, mode);
        return 0;
    }
    case IK_T_DATE32:
    case IK_T_DATE64:
    case IK_T_TIME32:
    case IK_T_TIME64:
    case IK_T_TIMESTAMP:
        return render_temporal(s, n, d, k, mode);
    case IK_T_INTERVAL_MONTHS:
    case IK_T_INTERVAL_DAY_TIME:
    case IK_T_INTERVAL_MONTH_DAY_NANO:
        render_interval(s, n->t.id, d, k);
        return 0;
    case IK_T_FIXED_SIZE_BINARY:
        ik__put_hex(s, n->t.fixed_size ? (const uint8_t *)d + (int64_t)n->t.fixed_size * k : NULL,
                    (size_t)n->t.fixed_size, mode);
        return 0;
    case IK_T_BINARY:
    case IK_T_STRING:
    case IK_T_LARGE_BINARY:
    case IK_T_LARGE_STRING:
    case IK_T_BINARY_VIEW:
    case IK_T_STRING_VIEW:
        return render_bytes(s, n, a, k, mode, err);
    default:
        return render_nested(s, n, a, k, mode, err);
    }
}
