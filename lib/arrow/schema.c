/* Schema flatbuffers (format/Schema.fbs) to and from C Data Interface schemas: types as format
 * strings, names, nullability, custom metadata, dictionary encodings and their ids. */
#include <stdio.h>
#include <stdlib.h>

#include "arrow/internal.h"

/* Schema.fbs field ids and enum values */
enum {
    F_NAME = 0,
    F_NULLABLE = 1,
    F_TYPE_TYPE = 2,
    F_TYPE = 3,
    F_DICT = 4,
    F_CHILDREN = 5,
    F_META = 6
};
enum { S_ENDIANNESS = 0, S_FIELDS = 1, S_META = 2 };
enum {
    T_NULL = 1,
    T_INT,
    T_FLOAT,
    T_BINARY,
    T_UTF8,
    T_BOOL,
    T_DECIMAL,
    T_DATE,
    T_TIME,
    T_TIMESTAMP,
    T_INTERVAL,
    T_LIST,
    T_STRUCT,
    T_UNION,
    T_FSB,
    T_FSL,
    T_MAP,
    T_DURATION,
    T_LARGE_BINARY,
    T_LARGE_UTF8,
    T_LARGE_LIST,
    T_REE,
    T_BINARY_VIEW,
    T_UTF8_VIEW,
    T_LIST_VIEW,
    T_LARGE_LIST_VIEW
};

struct rd {
    struct ik_fb *fb;
    int max_depth;
    int64_t fields, max_fields;
    struct ik__dict_field *dicts;
    int64_t n_dicts, cap_dicts;
    struct ik_error *err;
    char path[256];
};

static int rd_fail(struct rd *r, int code, const char *msg)
{
    return ik_error_set(r->err, code, "field '%s': %s", r->path, msg);
}

/* KeyValue vector -> metadata blob (malloc'd, NULL when empty). */
static int read_metadata(struct ik_fbv v, char **out)
{
    size_t size = 4;
    uint32_t i;
    char *m, *p;
    int32_t n = (int32_t)v.n;
    *out = NULL;
    if (v.n == 0)
        return 0;
    for (i = 0; i < v.n; i++) {
        struct ik_fbt kv = ik__fbv_table(v, i);
        size += 8 + ik__fbt_string(kv, 0).len + ik__fbt_string(kv, 1).len;
    }
    if (ik__fb_failed(v.fb))
        return IK_EFORMAT;
    p = m = malloc(size);
    if (m == NULL)
        return ENOMEM;
    memcpy(p, &n, 4);
    p += 4;
    for (i = 0; i < v.n; i++) {
        struct ik_fbt kv = ik__fbv_table(v, i);
        struct ik_fbs k = ik__fbt_string(kv, 0), val = ik__fbt_string(kv, 1);
        int32_t kl = (int32_t)k.len, vl = (int32_t)val.len;
        memcpy(p, &kl, 4);
        if (kl)
            memcpy(p + 4, k.ptr, (size_t)kl);
        p += 4 + kl;
        memcpy(p, &vl, 4);
        if (vl)
            memcpy(p + 4, val.ptr, (size_t)vl);
        p += 4 + vl;
    }
    *out = m;
    return 0;
}

static const char unit_chars[] = "smun";

/* Writes the format string of a Type table into buf. */
static int type_format(struct rd *r, uint8_t tt, struct ik_fbt t, int64_t n_children, char *buf,
                       size_t cap)
{
    int16_t unit;
    /* A type without parameters needs no table (Arrow C++ reads none for these either). */
    bool bare = tt == T_NULL || tt == T_STRUCT || tt == T_BINARY || tt == T_UTF8 || tt == T_BOOL ||
                tt == T_LIST || tt == T_LARGE_BINARY || tt == T_LARGE_UTF8 || tt == T_LARGE_LIST ||
                tt == T_REE || tt == T_BINARY_VIEW || tt == T_UTF8_VIEW || tt == T_LIST_VIEW ||
                tt == T_LARGE_LIST_VIEW;
    if (!bare && !ik__fbt_present(t) && tt != 0)
        return rd_fail(r, IK_EFORMAT, "type table missing");
    switch (tt) {
    case T_NULL:
        snprintf(buf, cap, "n");
        return 0;
    case T_BOOL:
        snprintf(buf, cap, "b");
        return 0;
    case T_BINARY:
        snprintf(buf, cap, "z");
        return 0;
    case T_UTF8:
        snprintf(buf, cap, "u");
        return 0;
    case T_LARGE_BINARY:
        snprintf(buf, cap, "Z");
        return 0;
    case T_LARGE_UTF8:
        snprintf(buf, cap, "U");
        return 0;
    case T_BINARY_VIEW:
        snprintf(buf, cap, "vz");
        return 0;
    case T_UTF8_VIEW:
        snprintf(buf, cap, "vu");
        return 0;
    case T_LIST:
        snprintf(buf, cap, "+l");
        return 0;
    case T_LARGE_LIST:
        snprintf(buf, cap, "+L");
        return 0;
    case T_STRUCT:
        snprintf(buf, cap, "+s");
        return 0;
    case T_REE:
        snprintf(buf, cap, "+r");
        return 0;
    case T_MAP:
        snprintf(buf, cap, "+m");
        return 0;
    case T_INT: {
        int32_t bw = ik__fbt_i32(t, 0, 0);
        bool sig = ik__fbt_bool(t, 1, false);
        const char *f = bw == 8 ? "cC" : bw == 16 ? "sS" : bw == 32 ? "iI" : bw == 64 ? "lL" : 0;
        if (f == NULL)
            return rd_fail(r, IK_EFORMAT, "integer bit width must be 8, 16, 32 or 64");
        snprintf(buf, cap, "%c", sig ? f[0] : f[1]);
        return 0;
    }
    case T_FLOAT: {
        int16_t pr = ik__fbt_i16(t, 0, 0);
        if (pr < 0 || pr > 2)
            return rd_fail(r, IK_EFORMAT, "unknown floating point precision");
        snprintf(buf, cap, "%c", "efg"[pr]);
        return 0;
    }
    case T_DECIMAL: {
        int32_t bw = ik__fbt_i32(t, 2, 128);
        if (bw != 32 && bw != 64 && bw != 128 && bw != 256)
            return rd_fail(r, IK_EFORMAT, "decimal bit width must be 32, 64, 128 or 256");
        if (bw == 128)
            snprintf(buf, cap, "d:%d,%d", ik__fbt_i32(t, 0, 0), ik__fbt_i32(t, 1, 0));
        else
            snprintf(buf, cap, "d:%d,%d,%d", ik__fbt_i32(t, 0, 0), ik__fbt_i32(t, 1, 0), bw);
        return 0;
    }
    case T_DATE:
        unit = ik__fbt_i16(t, 0, 1);
        /* as in Arrow C++: DAY is date32, any other value date64 */
        snprintf(buf, cap, unit == 0 ? "tdD" : "tdm");
        return 0;
    case T_TIME: {
        int32_t bw = ik__fbt_i32(t, 1, 32);
        unit = ik__fbt_i16(t, 0, 1);
        if (unit < 0 || unit > 3) /* Arrow C++ reads an unknown time unit as seconds */
            unit = 0;
        if (bw != (unit <= 1 ? 32 : 64))
            return rd_fail(r, IK_EFORMAT, "time unit and bit width disagree");
        snprintf(buf, cap, "tt%c", unit_chars[unit]);
        return 0;
    }
    case T_TIMESTAMP: {
        struct ik_fbs tz = ik__fbt_string(t, 1);
        unit = ik__fbt_i16(t, 0, 0);
        if (unit < 0 || unit > 3) /* Arrow C++ reads an unknown unit as seconds */
            unit = 0;
        if (tz.len > cap - 8)
            return rd_fail(r, IK_ELIMIT, "timezone name too long");
        snprintf(buf, cap, "ts%c:%.*s", unit_chars[unit], (int)tz.len, tz.ptr ? tz.ptr : "");
        return 0;
    }
    case T_DURATION:
        unit = ik__fbt_i16(t, 0, 1);
        if (unit < 0 || unit > 3) /* Arrow C++ reads an unknown unit as seconds */
            unit = 0;
        snprintf(buf, cap, "tD%c", unit_chars[unit]);
        return 0;
    case T_INTERVAL:
        unit = ik__fbt_i16(t, 0, 0);
        if (unit < 0 || unit > 2)
            return rd_fail(r, IK_EFORMAT, "unknown interval unit");
        snprintf(buf, cap, "ti%c", "MDn"[unit]);
        return 0;
    case T_FSB: {
        int32_t w = ik__fbt_i32(t, 0, 0);
        if (w < 0)
            return rd_fail(r, IK_EFORMAT, "negative fixed size binary width");
        snprintf(buf, cap, "w:%d", w);
        return 0;
    }
    case T_FSL: {
        int32_t n = ik__fbt_i32(t, 0, 0);
        if (n < 0)
            return rd_fail(r, IK_EFORMAT, "negative fixed size list size");
        snprintf(buf, cap, "+w:%d", n);
        return 0;
    }
    case T_UNION: {
        int16_t mode = ik__fbt_i16(t, 0, 0);
        struct ik_fbv ids = ik__fbt_vector(t, 1, 4);
        size_t len;
        int64_t i;
        /* Arrow C++ reads every mode but Sparse (0) as Dense; so do we, to give its verdict */
        if (ids.pos && ids.n != n_children)
            return rd_fail(r, IK_EFORMAT, "union type ids and children differ in number");
        if (n_children > 127)
            return rd_fail(r, IK_ELIMIT, "union with more than 127 children");
        len = (size_t)snprintf(buf, cap, "+u%c:", mode ? 'd' : 's');
        for (i = 0; i < n_children && len < cap; i++) {
            int32_t id = ids.pos ? ik__ld_i32(ik__fbv_elem(ids, (uint32_t)i, 4)) : (int32_t)i;
            if (id < 0 || id > 127)
                return rd_fail(r, IK_EFORMAT, "union type id out of range 0..127");
            len += (size_t)snprintf(buf + len, cap - len, i ? ",%d" : "%d", id);
        }
        if (len >= cap)
            return rd_fail(r, IK_ELIMIT, "union format too long");
        return 0;
    }
    case T_LIST_VIEW:
        snprintf(buf, cap, "+vl");
        return 0;
    case T_LARGE_LIST_VIEW:
        snprintf(buf, cap, "+vL");
        return 0;
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "unknown type id %u", tt);
        return rd_fail(r, IK_EFORMAT, msg);
    }
    }
}

static int read_field(struct rd *r, struct ik_fbt f, struct ArrowSchema *out, int depth);

static int read_children(struct rd *r, struct ik_fbv kids, struct ArrowSchema *s, int depth)
{
    uint32_t i;
    for (i = 0; i < kids.n; i++) {
        int rc = read_field(r, ik__fbv_table(kids, i), s->children[i], depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int add_dict(struct rd *r, int64_t id, const struct ArrowSchema *field)
{
    if (r->n_dicts == r->cap_dicts) {
        int64_t cap = r->cap_dicts ? r->cap_dicts * 2 : 8;
        struct ik__dict_field *q = realloc(r->dicts, (size_t)cap * sizeof *q);
        if (q == NULL)
            return ik_error_set(r->err, ENOMEM, "out of memory");
        r->dicts = q;
        r->cap_dicts = cap;
    }
    r->dicts[r->n_dicts].id = id;
    r->dicts[r->n_dicts].field = field;
    r->n_dicts++;
    return 0;
}

static int read_field(struct rd *r, struct ik_fbt f, struct ArrowSchema *out, int depth)
{
    struct ik_fbs name = ik__fbt_string(f, F_NAME);
    struct ik_fbv kids = ik__fbt_vector(f, F_CHILDREN, 4);
    struct ik_fbt dict = ik__fbt_table(f, F_DICT);
    uint8_t tt = ik__fbt_u8(f, F_TYPE_TYPE, 0);
    char fmt[300], *meta = NULL, *nm;
    size_t plen = strlen(r->path);
    int64_t flags = ik__fbt_bool(f, F_NULLABLE, false) ? ARROW_FLAG_NULLABLE : 0;
    int rc;

    if (!ik__fbt_present(f) || ik__fb_failed(r->fb))
        return ik__fb_failed(r->fb) ? ik__fb_error(r->fb, "schema", r->err)
                                    : rd_fail(r, IK_EFORMAT, "field table missing");
    if (depth > r->max_depth)
        return rd_fail(r, IK_ELIMIT, "nesting deeper than the limit");
    r->fields += 1 + kids.n;
    if (r->fields > r->max_fields)
        return rd_fail(r, IK_ELIMIT, "more fields than the schema bytes can hold");
    snprintf(r->path + plen, sizeof r->path - plen, "%s%.*s", plen ? "." : "",
             (int)(name.len > 64 ? 64 : name.len), name.ptr ? name.ptr : "");
    if ((rc = type_format(r, tt, ik__fbt_table(f, F_TYPE), kids.n, fmt, sizeof fmt)) != 0)
        goto out;
    if ((rc = read_metadata(ik__fbt_vector(f, F_META, 4), &meta)) != 0) {
        rc = rc == ENOMEM ? ik_error_set(r->err, ENOMEM, "out of memory")
                          : ik__fb_error(r->fb, "field metadata", r->err);
        goto out;
    }
    nm = malloc(name.len + 1);
    if (nm == NULL) {
        free(meta);
        rc = ik_error_set(r->err, ENOMEM, "out of memory");
        goto out;
    }
    if (name.len)
        memcpy(nm, name.ptr, name.len);
    nm[name.len] = 0;
    if (ik__fbt_present(dict)) {
        struct ik_fbt it = ik__fbt_table(dict, 1);
        int32_t bw = ik__fbt_present(it) ? ik__fbt_i32(it, 0, 0) : 32;
        bool sig = ik__fbt_present(it) ? ik__fbt_bool(it, 1, false) : true;
        const char *ix = bw == 8 ? "cC" : bw == 16 ? "sS" : bw == 32 ? "iI" : bw == 64 ? "lL" : 0;
        char ixf[2] = {0, 0};
        if (ix == NULL) {
            free(meta);
            free(nm);
            rc = rd_fail(r, IK_EFORMAT, "dictionary index bit width invalid");
            goto out;
        }
        ixf[0] = sig ? ix[0] : ix[1];
        if (ik__fbt_bool(dict, 2, false))
            flags |= ARROW_FLAG_DICTIONARY_ORDERED;
        rc = ik__schema_alloc(out, ixf, nm, meta, flags, 0);
        if (rc == 0 && (rc = ik__schema_alloc_dictionary(out)) == 0)
            rc = ik__schema_alloc(out->dictionary, fmt, NULL, NULL, ARROW_FLAG_NULLABLE, kids.n);
        free(meta);
        free(nm);
        if (rc != 0) {
            rc = ik_error_set(r->err, ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = add_dict(r, ik__fbt_i64(dict, 0, 0), out)) != 0)
            goto out;
        rc = read_children(r, kids, out->dictionary, depth);
        goto out;
    }
    if (tt == T_MAP && ik__fbt_bool(ik__fbt_table(f, F_TYPE), 0, false))
        flags |= ARROW_FLAG_MAP_KEYS_SORTED;
    rc = ik__schema_alloc(out, fmt, nm, meta, flags, kids.n);
    free(meta);
    free(nm);
    if (rc != 0) {
        rc = ik_error_set(r->err, ENOMEM, "out of memory");
        goto out;
    }
    rc = read_children(r, kids, out, depth);
    if (rc == 0) { /* children counts the type requires */
        struct ik_type t;
        int need;
        rc = ik__type_parse(fmt, &t, r->err);
        need = rc == 0 ? ik__type_n_children(&t) : -1;
        if (rc == 0 && need >= 0 && (uint32_t)need != kids.n)
            rc = rd_fail(r, IK_EFORMAT, "wrong number of children for the type");
        if (rc == 0 && t.id == IK_T_MAP &&
            (strcmp(out->children[0]->format, "+s") != 0 || out->children[0]->n_children != 2))
            rc = rd_fail(r, IK_EFORMAT, "map entries must be a struct of key and value");
    }
out:
    r->path[plen] = 0;
    return rc;
}

bool ik__schema_same_type(const struct ArrowSchema *a, const struct ArrowSchema *b, int depth)
{
    int64_t i;
    if (depth > 128 || strcmp(a->format, b->format) != 0 || a->n_children != b->n_children ||
        (a->dictionary == NULL) != (b->dictionary == NULL))
        return false;
    if (a->dictionary && !ik__schema_same_type(a->dictionary, b->dictionary, depth + 1))
        return false;
    for (i = 0; i < a->n_children; i++)
        if (!ik__schema_same_type(a->children[i], b->children[i], depth + 1))
            return false;
    return true;
}

static int by_id(const void *x, const void *y)
{
    const struct ik__dict_field *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Fields may share a dictionary id (one dictionary for several columns) only when their value
 * types are one type: the dictionary is decoded once, with the first field's type. */
static int check_shared(struct rd *r)
{
    struct ik__dict_field *v;
    int64_t i, first = 0;
    if (r->n_dicts < 2)
        return 0;
    v = malloc((size_t)r->n_dicts * sizeof *v);
    if (v == NULL)
        return ik_error_set(r->err, ENOMEM, "out of memory");
    memcpy(v, r->dicts, (size_t)r->n_dicts * sizeof *v);
    qsort(v, (size_t)r->n_dicts, sizeof *v, by_id);
    for (i = 1; i < r->n_dicts; i++) {
        if (v[i].id != v[first].id) {
            first = i;
        } else if (!ik__schema_same_type(v[first].field->dictionary, v[i].field->dictionary, 0)) {
            int64_t id = v[i].id;
            free(v);
            return ik_error_set(r->err, IK_EFORMAT,
                                "schema: fields sharing dictionary id %lld have different "
                                "value types",
                                (long long)id);
        }
    }
    free(v);
    return 0;
}

int ik__schema_from_fb(struct ik_fbt schema, int max_depth, struct ArrowSchema *out,
                       struct ik__dict_field **dicts, int64_t *n_dicts, struct ik_error *err)
{
    struct rd r;
    struct ik_fbv fields = ik__fbt_vector(schema, S_FIELDS, 4);
    char *meta = NULL;
    int rc;
    memset(&r, 0, sizeof r);
    r.fb = schema.fb;
    r.max_depth = max_depth;
    r.max_fields = schema.fb->len / 4;
    r.err = err;
    out->release = NULL;
    if (ik__fbt_i16(schema, S_ENDIANNESS, 0) != 0)
        return ik_error_set(err, ENOTSUP, "big-endian IPC data is not supported");
    if ((rc = read_metadata(ik__fbt_vector(schema, S_META, 4), &meta)) != 0 ||
        ik__fb_failed(schema.fb))
        return rc == ENOMEM ? ik_error_set(err, ENOMEM, "out of memory")
                            : ik__fb_error(schema.fb, "schema", err);
    if (!ik__fbt_has(schema, S_FIELDS)) { /* even an empty schema has one (Arrow C++) */
        free(meta);
        return ik_error_set(err, IK_EFORMAT, "schema without a fields vector");
    }
    if ((int64_t)fields.n > r.max_fields) {
        free(meta);
        return ik_error_set(err, IK_ELIMIT, "schema claims %u fields", fields.n);
    }
    rc = ik__schema_alloc(out, "+s", "", meta, 0, fields.n);
    free(meta);
    if (rc != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    rc = read_children(&r, fields, out, 0);
    if (rc == 0 && ik__fb_failed(schema.fb))
        rc = ik__fb_error(schema.fb, "schema", err);
    if (rc == 0)
        rc = check_shared(&r);
    if (rc != 0) {
        free(r.dicts);
        out->release(out);
        return rc;
    }
    *dicts = r.dicts;
    *n_dicts = r.n_dicts;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

static ik_fbref write_metadata(struct ik_fbb *b, const char *m1, const char *m2)
{
    ik_fbref refs[512];
    uint32_t n = 0;
    const char *ms[2] = {m1, m2};
    for (int k = 0; k < 2; k++) {
        struct ik__kv_iter it;
        struct ik__kv e;
        for (ik__kv_begin(&it, ms[k]); n < 512 && ik__kv_next(&it, &e);) {
            ik_fbref kr = ik__fbb_string(b, e.key, e.key_len),
                     vr = ik__fbb_string(b, e.value, e.value_len);
            ik__fbb_table_start(b);
            ik__fbb_add_ref(b, 0, kr);
            ik__fbb_add_ref(b, 1, vr);
            refs[n++] = ik__fbb_table_end(b);
        }
    }
    return n ? ik__fbb_vector_refs(b, refs, n) : 0;
}

/* The Type table for a parsed type; *tt receives the union tag. */
static ik_fbref write_type(struct ik_fbb *b, const struct ArrowSchema *s, const struct ik_type *t,
                           uint8_t *tt)
{
    ik_fbref tz = 0, ids = 0;
    switch (t->id) {
    case IK_T_NA:
        *tt = T_NULL;
        break;
    case IK_T_BOOL:
        *tt = T_BOOL;
        break;
    case IK_T_BINARY:
        *tt = T_BINARY;
        break;
    case IK_T_STRING:
        *tt = T_UTF8;
        break;
    case IK_T_LARGE_BINARY:
        *tt = T_LARGE_BINARY;
        break;
    case IK_T_LARGE_STRING:
        *tt = T_LARGE_UTF8;
        break;
    case IK_T_BINARY_VIEW:
        *tt = T_BINARY_VIEW;
        break;
    case IK_T_STRING_VIEW:
        *tt = T_UTF8_VIEW;
        break;
    case IK_T_LIST:
        *tt = T_LIST;
        break;
    case IK_T_LARGE_LIST:
        *tt = T_LARGE_LIST;
        break;
    case IK_T_LIST_VIEW:
        *tt = T_LIST_VIEW;
        break;
    case IK_T_LARGE_LIST_VIEW:
        *tt = T_LARGE_LIST_VIEW;
        break;
    case IK_T_STRUCT:
        *tt = T_STRUCT;
        break;
    case IK_T_RUN_END_ENCODED:
        *tt = T_REE;
        break;
    case IK_T_TIMESTAMP:
        if (t->timezone[0])
            tz = ik__fbb_string(b, t->timezone, strlen(t->timezone));
        *tt = T_TIMESTAMP;
        break;
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION: {
        uint8_t raw[512];
        int i;
        for (i = 0; i < t->n_type_ids; i++)
            ik__st_u32(raw + 4 * i, (uint32_t)t->type_ids[i]);
        ids = ik__fbb_vector_bytes(b, raw, (uint32_t)t->n_type_ids, 4, 4);
        *tt = T_UNION;
        break;
    }
    default:
        break;
    }
    ik__fbb_table_start(b);
    switch (t->id) {
    case IK_T_INT8:
    case IK_T_UINT8:
    case IK_T_INT16:
    case IK_T_UINT16:
    case IK_T_INT32:
    case IK_T_UINT32:
    case IK_T_INT64:
    case IK_T_UINT64:
        *tt = T_INT;
        ik__fbb_add_i32(b, 0, t->bit_width);
        ik__fbb_add_bool(b, 1, (t->id - IK_T_INT8) % 2 == 0);
        break;
    case IK_T_HALF_FLOAT:
    case IK_T_FLOAT:
    case IK_T_DOUBLE:
        *tt = T_FLOAT;
        ik__fbb_add_i16(b, 0, (int16_t)(t->id - IK_T_HALF_FLOAT));
        break;
    case IK_T_DECIMAL32:
    case IK_T_DECIMAL64:
    case IK_T_DECIMAL128:
    case IK_T_DECIMAL256:
        *tt = T_DECIMAL;
        ik__fbb_add_i32(b, 0, t->precision);
        ik__fbb_add_i32(b, 1, t->scale);
        ik__fbb_add_i32(b, 2, t->bit_width);
        break;
    case IK_T_DATE32:
    case IK_T_DATE64:
        *tt = T_DATE;
        ik__fbb_add_i16(b, 0, t->id == IK_T_DATE32 ? 0 : 1);
        break;
    case IK_T_TIME32:
    case IK_T_TIME64:
        *tt = T_TIME;
        ik__fbb_add_i16(b, 0, (int16_t)t->unit);
        ik__fbb_add_i32(b, 1, t->bit_width);
        break;
    case IK_T_TIMESTAMP:
        ik__fbb_add_i16(b, 0, (int16_t)t->unit);
        ik__fbb_add_ref(b, 1, tz);
        break;
    case IK_T_DURATION:
        *tt = T_DURATION;
        ik__fbb_add_i16(b, 0, (int16_t)t->unit);
        break;
    case IK_T_INTERVAL_MONTHS:
    case IK_T_INTERVAL_DAY_TIME:
    case IK_T_INTERVAL_MONTH_DAY_NANO:
        *tt = T_INTERVAL;
        ik__fbb_add_i16(b, 0, (int16_t)(t->id - IK_T_INTERVAL_MONTHS));
        break;
    case IK_T_FIXED_SIZE_BINARY:
        *tt = T_FSB;
        ik__fbb_add_i32(b, 0, t->fixed_size);
        break;
    case IK_T_FIXED_SIZE_LIST:
        *tt = T_FSL;
        ik__fbb_add_i32(b, 0, t->fixed_size);
        break;
    case IK_T_MAP:
        *tt = T_MAP;
        ik__fbb_add_bool(b, 0, (s->flags & ARROW_FLAG_MAP_KEYS_SORTED) != 0);
        break;
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION:
        ik__fbb_add_i16(b, 0, t->id == IK_T_DENSE_UNION ? 1 : 0);
        ik__fbb_add_ref(b, 1, ids);
        break;
    default:
        break;
    }
    return ik__fbb_table_end(b);
}

static int write_field(struct ik_fbb *b, const struct ArrowSchema *s, int64_t *next_id,
                       const struct ik__dict_field *dicts, int depth, ik_fbref *out,
                       struct ik_error *err)
{
    const struct ArrowSchema *vs = s->dictionary ? s->dictionary : s;
    struct ik_type t, it;
    ik_fbref name = 0, kids = 0, meta, type, dict = 0, *refs = NULL;
    uint8_t tt = 0;
    int64_t id = 0, i;
    int rc;
    if (depth > 64)
        return ik_error_set(err, IK_ELIMIT, "schema nested deeper than 64 levels");
    if ((rc = ik__type_parse(vs->format, &t, err)) != 0)
        return rc;
    if (s->dictionary) {
        if ((rc = ik__type_parse(s->format, &it, err)) != 0)
            return rc;
        if (it.id < IK_T_INT8 || it.id > IK_T_UINT64)
            return ik_error_set(err, EINVAL, "field '%s': dictionary index must be an integer",
                                s->name ? s->name : "");
        id = dicts ? dicts[*next_id].id : *next_id;
        (*next_id)++;
    }
    if (vs->n_children) {
        refs = malloc((size_t)vs->n_children * sizeof *refs);
        if (refs == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        for (i = 0; i < vs->n_children; i++)
            if ((rc = write_field(b, vs->children[i], next_id, dicts, depth + 1, &refs[i], err)) !=
                0) {
                free(refs);
                return rc;
            }
        kids = ik__fbb_vector_refs(b, refs, (uint32_t)vs->n_children);
        free(refs);
    } else {
        kids = ik__fbb_vector_refs(b, NULL, 0);
    }
    if (s->name)
        name = ik__fbb_string(b, s->name, strlen(s->name));
    meta = write_metadata(b, s->metadata, NULL);
    type = write_type(b, vs, &t, &tt);
    if (s->dictionary) {
        ik_fbref ixt;
        ik__fbb_table_start(b);
        ik__fbb_add_i32(b, 0, it.bit_width);
        ik__fbb_add_bool(b, 1, (it.id - IK_T_INT8) % 2 == 0);
        ixt = ik__fbb_table_end(b);
        ik__fbb_table_start(b);
        ik__fbb_add_i64(b, 0, id);
        ik__fbb_add_ref(b, 1, ixt);
        ik__fbb_add_bool(b, 2, (s->flags & ARROW_FLAG_DICTIONARY_ORDERED) != 0);
        dict = ik__fbb_table_end(b);
    }
    ik__fbb_table_start(b);
    ik__fbb_add_ref(b, F_NAME, name);
    ik__fbb_add_bool(b, F_NULLABLE, (s->flags & ARROW_FLAG_NULLABLE) != 0);
    ik__fbb_add_u8(b, F_TYPE_TYPE, tt);
    ik__fbb_add_ref(b, F_TYPE, type);
    ik__fbb_add_ref(b, F_DICT, dict);
    ik__fbb_add_ref(b, F_CHILDREN, kids);
    ik__fbb_add_ref(b, F_META, meta);
    *out = ik__fbb_table_end(b);
    return 0;
}

int ik__schema_to_fb(struct ik_fbb *b, const struct ArrowSchema *schema, const char *extra_metadata,
                     const struct ik__dict_field *dicts, ik_fbref *out, struct ik_error *err)
{
    ik_fbref *refs, fields, meta;
    int64_t i, next_id = 0;
    int rc;
    if (strcmp(schema->format, "+s") != 0)
        return ik_error_set(err, EINVAL, "a schema must be a struct (format \"+s\")");
    refs = malloc((size_t)(schema->n_children + 1) * sizeof *refs);
    if (refs == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < schema->n_children; i++)
        if ((rc = write_field(b, schema->children[i], &next_id, dicts, 1, &refs[i], err)) != 0) {
            free(refs);
            return rc;
        }
    fields = ik__fbb_vector_refs(b, refs, (uint32_t)schema->n_children);
    free(refs);
    meta = write_metadata(b, schema->metadata, extra_metadata);
    ik__fbb_table_start(b);
    ik__fbb_add_i16(b, S_ENDIANNESS, 0);
    ik__fbb_add_ref(b, S_FIELDS, fields);
    ik__fbb_add_ref(b, S_META, meta);
    *out = ik__fbb_table_end(b);
    if (ik__fbb_failed(b))
        return ik_error_set(err, ENOMEM, "out of memory building the schema");
    return 0;
}

static int collect(const struct ArrowSchema *s, struct ik__dict_field **v, int64_t *n, int64_t *cap,
                   int depth)
{
    const struct ArrowSchema *vs = s;
    int64_t i;
    if (depth > 64)
        return IK_ELIMIT;
    if (s->dictionary) {
        if (*n == *cap) {
            int64_t c = *cap ? *cap * 2 : 8;
            struct ik__dict_field *q = realloc(*v, (size_t)c * sizeof *q);
            if (q == NULL)
                return ENOMEM;
            *v = q;
            *cap = c;
        }
        (*v)[*n].id = *n;
        (*v)[*n].field = s;
        (*n)++;
        vs = s->dictionary;
    }
    for (i = 0; i < vs->n_children; i++) {
        int rc = collect(vs->children[i], v, n, cap, depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int ik__schema_dict_fields(const struct ArrowSchema *schema, struct ik__dict_field **out,
                           int64_t *n, struct ik_error *err)
{
    int64_t cap = 0, i;
    int rc = 0;
    *out = NULL;
    *n = 0;
    for (i = 0; rc == 0 && i < schema->n_children; i++)
        rc = collect(schema->children[i], out, n, &cap, 1);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        return ik_error_set(err, rc, "could not list the schema's dictionaries");
    }
    return 0;
}
