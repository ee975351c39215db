/* Row-wise builder of one record batch of a flat struct schema (include/ipfskit/builder.h).
 * Each column appends into growable 64-byte aligned buffers; a validity bitmap is only
 * materialised at the column's first null; dictionary<int, utf8> columns deduplicate their
 * strings through a small open-addressing hash. Finishing hands the buffers to the batch
 * (wrapped as refcounted ik_buffers), so no value is copied twice. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arrow/internal.h"
#include "ipfskit/builder.h"

/* ---- growable aligned buffers -----------------------------------------------------------
 * Small buffers come from posix_memalign; from 1 MiB on they are anonymous mappings that grow
 * with mremap, so a large column is never copied or faulted in twice. Memory is not zeroed
 * on growth: writers initialise what they use, and ik__gb_give() zeroes the padding. */
#define GB_MAP_MIN ((size_t)1 << 20)

int ik__gb_grow(struct ik__gbuf *g, size_t need)
{
    size_t cap = g->cap ? g->cap : 64;
    void *p = NULL;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return ENOMEM;
        cap *= 2;
    }
    if (cap >= GB_MAP_MIN) {
        if (g->mapped) {
            p = mremap(g->data, g->cap, cap, MREMAP_MAYMOVE);
            if (p == MAP_FAILED)
                return ENOMEM;
        } else {
            p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                return ENOMEM;
            if (g->len)
                memcpy(p, g->data, g->len);
            free(g->data);
        }
#ifdef MADV_HUGEPAGE
        madvise(p, cap, MADV_HUGEPAGE); /* advisory: fewer page faults for big columns */
#endif
        g->mapped = true;
    } else {
        if (posix_memalign(&p, 64, cap) != 0)
            return ENOMEM;
        if (g->len)
            memcpy(p, g->data, g->len);
        free(g->data);
    }
    g->data = p;
    g->cap = cap;
    return 0;
}

void ik__gb_free(struct ik__gbuf *g)
{
    if (g->mapped)
        munmap(g->data, g->cap);
    else
        free(g->data);
    memset(g, 0, sizeof *g);
}

static inline void bit_clear(uint8_t *bits, int64_t i)
{
    bits[i >> 3] = (uint8_t)(bits[i >> 3] & ~(1u << (i & 7)));
}

/* ---- columns ---------------------------------------------------------------------------- */
enum kind { K_STR32, K_STR64, K_BOOL, K_INT, K_F64, K_F32, K_DICT };

struct column {
    const char *name; /* points into the builder's schema copy */
    const char *type_name;
    enum kind kind;
    int width; /* bytes per value (K_INT, K_F*, K_DICT indices) */
    int64_t min, max;
    bool nullable;
    int64_t length, null_count;
    bool has_valid;
    struct ik__gbuf valid, data, offs;
    /* dictionary<int, utf8> */
    struct ik__strdict dict;
    int64_t dict_mark; /* entries before the row being appended */
};

struct ik_builder {
    struct ArrowSchema schema;
    struct column *cols;
    int n_cols;
    int64_t rows;
    int64_t hint;
};

static int int_width(enum ik_type_id id, bool *is_signed)
{
    *is_signed = true;
    switch (id) {
    case IK_T_UINT8:
        *is_signed = false;
        /* fall through */
    case IK_T_INT8:
        return 1;
    case IK_T_UINT16:
        *is_signed = false;
        /* fall through */
    case IK_T_INT16:
        return 2;
    case IK_T_UINT32:
        *is_signed = false;
        /* fall through */
    case IK_T_INT32:
    case IK_T_DATE32:
    case IK_T_TIME32:
        return 4;
    case IK_T_UINT64:
        *is_signed = false;
        /* fall through */
    case IK_T_INT64:
    case IK_T_DATE64:
    case IK_T_TIME64:
    case IK_T_TIMESTAMP:
    case IK_T_DURATION:
        return 8;
    default:
        return 0;
    }
}

static void int_range(int width, bool is_signed, int64_t *min, int64_t *max)
{
    if (width == 8) {
        *min = is_signed ? INT64_MIN : 0;
        *max = INT64_MAX;
    } else if (is_signed) {
        *max = (INT64_C(1) << (8 * width - 1)) - 1;
        *min = -*max - 1;
    } else {
        *min = 0;
        *max = (INT64_C(1) << (8 * width)) - 1;
    }
}

/* Puts the column in its empty state (offset buffers hold their leading 0). */
static int column_reset(struct column *c, int64_t hint)
{
    c->length = c->null_count = 0;
    c->has_valid = false;
    c->valid.len = c->data.len = c->offs.len = 0;
    if (c->kind == K_STR32 || c->kind == K_STR64) {
        size_t w = c->kind == K_STR32 ? 4 : 8;
        if (ik__gb_reserve(&c->offs, w * (size_t)(hint + 1)) != 0)
            return ENOMEM;
        memset(c->offs.data, 0, w);
        c->offs.len = w;
    } else if (c->kind == K_BOOL) {
        if (ik__gb_reserve(&c->data, (size_t)(hint + 7) / 8) != 0)
            return ENOMEM;
    } else if (ik__gb_reserve(&c->data, (size_t)c->width * (size_t)hint) != 0) {
        return ENOMEM;
    }
    if (c->kind == K_DICT) {
        c->dict_mark = 0;
        if (ik__strdict_reset(&c->dict) != 0)
            return ENOMEM;
    }
    return 0;
}

static void column_free(struct column *c)
{
    ik__gb_free(&c->valid);
    ik__gb_free(&c->data);
    ik__gb_free(&c->offs);
    ik__strdict_free(&c->dict);
}

static int column_init(struct column *c, const struct ArrowSchema *f, int i, struct ik_error *err)
{
    struct ik_type t;
    bool sgn;
    const char *name = f->name ? f->name : "";
    memset(c, 0, sizeof *c);
    c->name = name;
    c->nullable = (f->flags & ARROW_FLAG_NULLABLE) != 0;
    if (ik__type_parse(f->format, &t, err) != 0)
        return ik_error_prefix(err, EINVAL, "column %d ('%s')", i, name);
    c->type_name = ik__type_name(t.id);
    if (f->n_children != 0)
        return ik_error_set(err, EINVAL, "column '%s': nested type %s is not supported", name,
                            c->type_name);
    if (f->dictionary) {
        struct ik_type vt;
        c->kind = K_DICT;
        c->type_name = "dictionary";
        c->width = int_width(t.id, &sgn);
        if (c->width == 0 || !sgn || t.id == IK_T_DATE32 || t.id == IK_T_TIME32 ||
            t.id == IK_T_DATE64 || t.id == IK_T_TIME64 || t.id == IK_T_TIMESTAMP ||
            t.id == IK_T_DURATION)
            return ik_error_set(err, EINVAL,
                                "column '%s': dictionary index type '%s' is not a signed integer",
                                name, f->format);
        int_range(c->width, true, &c->min, &c->max);
        if (ik__type_parse(f->dictionary->format, &vt, err) != 0 || vt.id != IK_T_STRING)
            return ik_error_set(err, EINVAL,
                                "column '%s': dictionary value type '%s' is not supported "
                                "(only utf8)",
                                name, f->dictionary->format);
        return 0;
    }
    switch (t.id) {
    case IK_T_STRING:
    case IK_T_BINARY:
        c->kind = K_STR32;
        return 0;
    case IK_T_LARGE_STRING:
    case IK_T_LARGE_BINARY:
        c->kind = K_STR64;
        return 0;
    case IK_T_BOOL:
        c->kind = K_BOOL;
        return 0;
    case IK_T_DOUBLE:
        c->kind = K_F64;
        c->width = 8;
        return 0;
    case IK_T_FLOAT:
        c->kind = K_F32;
        c->width = 4;
        return 0;
    default:
        c->width = int_width(t.id, &sgn);
        if (c->width == 0)
            return ik_error_set(err, EINVAL, "column '%s': type %s is not supported", name,
                                c->type_name);
        c->kind = K_INT;
        int_range(c->width, sgn, &c->min, &c->max);
        return 0;
    }
}

int ik_builder_create(const struct ArrowSchema *schema, int64_t capacity_hint,
                      struct ik_builder **out, struct ik_error *err)
{
    struct ik_builder *b;
    int64_t i;
    int rc;
    *out = NULL;
    if (schema == NULL || schema->release == NULL || schema->format == NULL ||
        strcmp(schema->format, "+s") != 0)
        return ik_error_set(err, EINVAL, "builder: schema is not a struct");
    if (schema->n_children > INT_MAX / 2)
        return ik_error_set(err, EINVAL, "builder: too many columns");
    if (capacity_hint < 0 || capacity_hint > (INT64_C(1) << 31))
        capacity_hint = 0;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    b->hint = capacity_hint;
    if ((rc = ik_schema_copy(schema, &b->schema, err)) != 0) {
        free(b);
        return rc;
    }
    b->cols = calloc((size_t)(schema->n_children ? schema->n_children : 1), sizeof *b->cols);
    if (b->cols == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < schema->n_children; i++) {
        b->n_cols = (int)i + 1;
        if ((rc = column_init(&b->cols[i], b->schema.children[i], (int)i, err)) != 0)
            goto fail;
        if (column_reset(&b->cols[i], capacity_hint) != 0) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    *out = b;
    return 0;
fail:
    ik_builder_destroy(b);
    return rc;
}

void ik_builder_destroy(struct ik_builder *b)
{
    int i;
    if (b == NULL)
        return;
    for (i = 0; i < b->n_cols; i++)
        column_free(&b->cols[i]);
    free(b->cols);
    if (b->schema.release)
        b->schema.release(&b->schema);
    free(b);
}

int ik_builder_column(const struct ik_builder *b, const char *name)
{
    int i;
    for (i = 0; i < b->n_cols; i++) {
        if (strcmp(b->cols[i].name, name) == 0)
            return i;
    }
    return -1;
}

int64_t ik_builder_rows(const struct ik_builder *b)
{
    return b->rows;
}

/* ---- appending -------------------------------------------------------------------------- */

static const char *kind_want(enum kind k)
{
    switch (k) {
    case K_STR32:
    case K_STR64:
    case K_DICT:
        return "a string";
    case K_BOOL:
        return "a bool";
    case K_INT:
        return "an integer";
    default:
        return "a number";
    }
}

/* Checks the column index and that the column has no value yet in this row. */
static inline int column_get(struct ik_builder *b, int col, struct column **c, struct ik_error *err)
{
    if (col < 0 || col >= b->n_cols)
        return ik_error_set(err, EINVAL, "no column %d (the schema has %d)", col, b->n_cols);
    *c = &b->cols[col];
    if ((*c)->length > b->rows)
        return ik_error_set(err, EINVAL, "column '%s': a second value in one row", (*c)->name);
    return 0;
}

static int wrong_kind(const struct column *c, const char *got, struct ik_error *err)
{
    return ik_error_set(err, EINVAL, "column '%s' (%s): expected %s, got %s", c->name, c->type_name,
                        kind_want(c->kind), got);
}

/* Records validity of the value being appended at index c->length. */
/* Makes the validity bitmap cover index c->length (new bytes zeroed). */
static inline int valid_extend(struct column *c)
{
    size_t need = (size_t)(c->length >> 3) + 1;
    if (need > c->valid.len) {
        if (need > c->valid.cap && ik__gb_grow(&c->valid, need) != 0)
            return ENOMEM;
        memset(c->valid.data + c->valid.len, 0, need - c->valid.len);
        c->valid.len = need;
    }
    return 0;
}

/* Records validity of the value being appended at index c->length. */
static inline int mark_valid(struct column *c)
{
    if (!c->has_valid)
        return 0;
    if (valid_extend(c) != 0)
        return ENOMEM;
    ik__bit_set(c->valid.data, c->length);
    return 0;
}

/* Records a null at index c->length, materialising the bitmap (all valid so far) if needed. */
static int mark_null(struct column *c)
{
    if (!c->has_valid) {
        size_t full = (size_t)(c->length >> 3);
        c->valid.len = 0;
        if (valid_extend(c) != 0)
            return ENOMEM;
        memset(c->valid.data, 0xff, full);
        c->valid.data[full] = (uint8_t)((1u << (c->length & 7)) - 1);
        c->has_valid = true;
    } else if (valid_extend(c) != 0) {
        return ENOMEM;
    }
    bit_clear(c->valid.data, c->length);
    c->null_count++;
    return 0;
}

static inline void put_int(uint8_t *p, int width, int64_t v)
{
    switch (width) {
    case 1: {
        int8_t x = (int8_t)v;
        memcpy(p, &x, 1);
        break;
    }
    case 2: {
        int16_t x = (int16_t)v;
        memcpy(p, &x, 2);
        break;
    }
    case 4: {
        int32_t x = (int32_t)v;
        memcpy(p, &x, 4);
        break;
    }
    default:
        memcpy(p, &v, 8);
        break;
    }
}

/* Appends a string's bytes and its end offset. */
static int append_bytes(struct column *c, const char *s, size_t len, struct ik_error *err)
{
    if (c->kind == K_STR32) {
        int32_t end;
        if (c->data.len + len > INT32_MAX)
            return ik_error_set(err, IK_ELIMIT, "column '%s': more than 2 GiB of string data",
                                c->name);
        if (ik__gb_reserve(&c->data, len) != 0 || ik__gb_reserve(&c->offs, 4) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        end = (int32_t)(c->data.len + len);
        memcpy(c->offs.data + c->offs.len, &end, 4);
        c->offs.len += 4;
    } else {
        int64_t end;
        if (ik__gb_reserve(&c->data, len) != 0 || ik__gb_reserve(&c->offs, 8) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        end = (int64_t)(c->data.len + len);
        memcpy(c->offs.data + c->offs.len, &end, 8);
        c->offs.len += 8;
    }
    if (len)
        memcpy(c->data.data + c->data.len, s, len);
    c->data.len += len;
    return 0;
}

/* Finds or adds `s` in the column's dictionary; *idx receives its index. */
static int dict_lookup(struct column *c, const char *s, size_t len, int64_t *idx,
                       struct ik_error *err)
{
    int rc = ik__strdict_find(&c->dict, s, len, c->max, idx);
    if (rc == ERANGE)
        return ik_error_set(err, EINVAL, "dictionary for '%s' exceeds int%d index range", c->name,
                            8 * c->width);
    if (rc == IK_ELIMIT)
        return ik_error_set(err, IK_ELIMIT, "dictionary for '%s': more than 2 GiB of strings",
                            c->name);
    return rc ? ik_error_set(err, ENOMEM, "out of memory") : 0;
}

int ik_builder_str(struct ik_builder *b, int col, const char *s, size_t len, struct ik_error *err)
{
    struct column *c = NULL;
    int rc;
    if ((rc = column_get(b, col, &c, err)) != 0)
        return rc;
    if (c->kind == K_STR32 || c->kind == K_STR64) {
        if ((rc = append_bytes(c, s, len, err)) != 0)
            return rc;
    } else if (c->kind == K_DICT) {
        int64_t idx = 0;
        if ((rc = dict_lookup(c, s, len, &idx, err)) != 0)
            return rc;
        if (ik__gb_reserve(&c->data, (size_t)c->width) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        put_int(c->data.data + c->data.len, c->width, idx);
        c->data.len += (size_t)c->width;
    } else {
        return wrong_kind(c, "a string", err);
    }
    if (mark_valid(c) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    c->length++;
    return 0;
}

int ik_builder_reserve_bytes(struct ik_builder *b, int col, size_t bytes, struct ik_error *err)
{
    struct column *c;
    if (col < 0 || col >= b->n_cols)
        return ik_error_set(err, EINVAL, "no column %d (the schema has %d)", col, b->n_cols);
    c = &b->cols[col];
    if (c->kind != K_STR32 && c->kind != K_STR64)
        return 0;
    if (ik__gb_reserve(&c->data, bytes) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

static int append_fixed(struct column *c, const void *v, struct ik_error *err)
{
    if (ik__gb_reserve(&c->data, (size_t)c->width) != 0 || mark_valid(c) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    memcpy(c->data.data + c->data.len, v, (size_t)c->width);
    c->data.len += (size_t)c->width;
    c->length++;
    return 0;
}

int ik_builder_int(struct ik_builder *b, int col, int64_t v, struct ik_error *err)
{
    struct column *c = NULL;
    int rc;
    if ((rc = column_get(b, col, &c, err)) != 0)
        return rc;
    if (c->kind == K_INT) {
        if (v < c->min || v > c->max)
            return ik_error_set(err, EINVAL, "column '%s' (%s): %" PRId64 " is out of range",
                                c->name, c->type_name, v);
        if (ik__gb_reserve(&c->data, (size_t)c->width) != 0 || mark_valid(c) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        put_int(c->data.data + c->data.len, c->width, v);
        c->data.len += (size_t)c->width;
        c->length++;
        return 0;
    }
    if (c->kind == K_F64) {
        double d = (double)v;
        return append_fixed(c, &d, err);
    }
    if (c->kind == K_F32) {
        float f = (float)v;
        return append_fixed(c, &f, err);
    }
    return wrong_kind(c, "an integer", err);
}

int ik_builder_double(struct ik_builder *b, int col, double v, struct ik_error *err)
{
    struct column *c = NULL;
    int rc;
    if ((rc = column_get(b, col, &c, err)) != 0)
        return rc;
    if (c->kind == K_F64)
        return append_fixed(c, &v, err);
    if (c->kind == K_F32) {
        float f = (float)v;
        return append_fixed(c, &f, err);
    }
    return wrong_kind(c, "a double", err);
}

int ik_builder_bool(struct ik_builder *b, int col, bool v, struct ik_error *err)
{
    struct column *c = NULL;
    int rc;
    if ((rc = column_get(b, col, &c, err)) != 0)
        return rc;
    if (c->kind != K_BOOL)
        return wrong_kind(c, "a bool", err);
    if ((size_t)(c->length >> 3) >= c->data.len) {
        if (ik__gb_reserve(&c->data, 1) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        c->data.data[c->data.len++] = 0;
    }
    if (mark_valid(c) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    if (v)
        ik__bit_set(c->data.data, c->length);
    c->length++;
    return 0;
}

/* Appends a null (zeroed slot) to the column. */
static int append_null(struct column *c)
{
    if (mark_null(c) != 0)
        return ENOMEM;
    switch (c->kind) {
    case K_STR32:
    case K_STR64: {
        size_t w = c->kind == K_STR32 ? 4 : 8;
        if (ik__gb_reserve(&c->offs, w) != 0)
            return ENOMEM;
        memcpy(c->offs.data + c->offs.len, c->offs.data + c->offs.len - w, w);
        c->offs.len += w;
        break;
    }
    case K_BOOL:
        if ((size_t)(c->length >> 3) >= c->data.len) {
            if (ik__gb_reserve(&c->data, 1) != 0)
                return ENOMEM;
            c->data.data[c->data.len++] = 0;
        }
        break;
    default:
        if (ik__gb_reserve(&c->data, (size_t)c->width) != 0)
            return ENOMEM;
        memset(c->data.data + c->data.len, 0, (size_t)c->width);
        c->data.len += (size_t)c->width;
        break;
    }
    c->length++;
    return 0;
}

int ik_builder_null(struct ik_builder *b, int col, struct ik_error *err)
{
    struct column *c = NULL;
    int rc;
    if ((rc = column_get(b, col, &c, err)) != 0)
        return rc;
    if (!c->nullable)
        return ik_error_set(err, EINVAL, "column '%s' is not nullable", c->name);
    if (append_null(c) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

/* Takes back the value the current row appended to `c`. */
static void column_unappend(struct column *c, int64_t row)
{
    bool was_null = c->has_valid && !(c->valid.data[row >> 3] & (1u << (row & 7)));
    if (was_null)
        c->null_count--;
    if (c->has_valid)
        bit_clear(c->valid.data, row);
    switch (c->kind) {
    case K_STR32: {
        int32_t start;
        c->offs.len -= 4;
        memcpy(&start, c->offs.data + c->offs.len - 4, 4);
        c->data.len = (size_t)start;
        break;
    }
    case K_STR64: {
        int64_t start;
        c->offs.len -= 8;
        memcpy(&start, c->offs.data + c->offs.len - 8, 8);
        c->data.len = (size_t)start;
        break;
    }
    case K_BOOL:
        bit_clear(c->data.data, row);
        break;
    default:
        c->data.len -= (size_t)c->width;
        break;
    }
    c->length = row;
}

void ik_builder_abort_row(struct ik_builder *b)
{
    int i;
    for (i = 0; i < b->n_cols; i++) {
        struct column *c = &b->cols[i];
        if (c->length > b->rows)
            column_unappend(c, b->rows);
        if (c->kind == K_DICT)
            ik__strdict_truncate(&c->dict, c->dict_mark);
    }
}

int ik_builder_end_row(struct ik_builder *b, struct ik_error *err)
{
    int i;
    for (i = 0; i < b->n_cols; i++) {
        struct column *c = &b->cols[i];
        if (c->length > b->rows)
            continue;
        if (!c->nullable) {
            ik_builder_abort_row(b);
            return ik_error_set(err, EINVAL, "column '%s' is not nullable", c->name);
        }
        if (append_null(c) != 0) {
            ik_builder_abort_row(b);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
    }
    for (i = 0; i < b->n_cols; i++)
        b->cols[i].dict_mark = b->cols[i].dict.n;
    b->rows++;
    return 0;
}

/* ---- finishing -------------------------------------------------------------------------- */

static void free_data(void *p)
{
    free(p);
}

struct mapping {
    void *p;
    size_t size;
};

static void unmap_data(void *ctx)
{
    struct mapping *m = ctx;
    munmap(m->p, m->size);
    free(m);
}

int ik__gb_give(struct ArrowArray *a, int i, struct ik__gbuf *g)
{
    struct ik_buffer *buf;
    int rc;
    size_t padded;
    if (g->data == NULL && ik__gb_grow(g, 64) != 0)
        return ENOMEM;
    padded = (g->len + 63) & ~(size_t)63; /* caps are powers of two >= 64: fits */
    memset(g->data + g->len, 0, padded - g->len);
    if (g->mapped) {
        struct mapping *m = malloc(sizeof *m);
        rc = ENOMEM;
        if (m != NULL) {
            m->p = g->data;
            m->size = g->cap;
            rc = ik_buffer_wrap(g->data, g->len, unmap_data, m, &buf);
            if (rc != 0)
                free(m);
        }
    } else {
        rc = ik_buffer_wrap(g->data, g->len, free_data, g->data, &buf);
    }
    if (rc != 0) {
        ik__gb_free(g);
        return ENOMEM;
    }
    rc = ik__array_hold(a, buf);
    if (rc == 0)
        a->buffers[i] = g->data;
    ik_buffer_unref(buf); /* the array's reference is the only one left (or none: freed) */
    memset(g, 0, sizeof *g);
    return rc;
}

int ik__gb_give_dictionary(struct ArrowArray *a, struct ik__gbuf *offs, struct ik__gbuf *data,
                           int64_t n)
{
    struct ArrowArray *d;
    if (ik__array_alloc_dictionary(a) != 0)
        return ENOMEM;
    d = a->dictionary;
    if (ik__array_alloc(d, 3, 0) != 0)
        return ENOMEM;
    d->length = n;
    if (ik__gb_give(d, 1, offs) != 0 || ik__gb_give(d, 2, data) != 0)
        return ENOMEM;
    return 0;
}

static int finish_column(struct column *c, struct ArrowArray *a)
{
    int n_buffers = (c->kind == K_STR32 || c->kind == K_STR64) ? 3 : 2;
    if (ik__array_alloc(a, n_buffers, 0) != 0)
        return ENOMEM;
    a->length = c->length;
    a->null_count = c->null_count;
    if (c->null_count > 0) {
        if (ik__gb_give(a, 0, &c->valid) != 0)
            return ENOMEM;
    }
    if (n_buffers == 3) {
        if (ik__gb_give(a, 1, &c->offs) != 0 || ik__gb_give(a, 2, &c->data) != 0)
            return ENOMEM;
    } else if (ik__gb_give(a, 1, &c->data) != 0) {
        return ENOMEM;
    }
    if (c->kind == K_DICT &&
        ik__gb_give_dictionary(a, &c->dict.offs, &c->dict.data, c->dict.n) != 0)
        return ENOMEM;
    return 0;
}

/* The builder's schema with `metadata` in place of its own custom metadata. */
static int schema_out(const struct ik_builder *b, const char *metadata, struct ArrowSchema *out,
                      struct ik_error *err)
{
    const struct ArrowSchema *s = &b->schema;
    int64_t i;
    int rc;
    if (metadata == NULL)
        return ik_schema_copy(s, out, err);
    if (ik__schema_alloc(out, s->format, s->name, metadata, s->flags, s->n_children) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < s->n_children; i++) {
        if ((rc = ik_schema_copy(s->children[i], out->children[i], err)) != 0) {
            out->release(out);
            return rc;
        }
    }
    return 0;
}

int ik_builder_finish(struct ik_builder *b, const char *metadata, struct ArrowSchema *schema,
                      struct ArrowArray *array, struct ik_error *err)
{
    struct ArrowArray out;
    int i, rc;
    if (schema) {
        if ((rc = schema_out(b, metadata, schema, err)) != 0)
            return rc;
    }
    if (ik__array_alloc(&out, 1, b->n_cols) != 0)
        goto oom;
    out.length = b->rows;
    for (i = 0; i < b->n_cols; i++) {
        if (b->cols[i].length > b->rows) /* a row begun but not ended is dropped */
            column_unappend(&b->cols[i], b->rows);
        if (b->cols[i].kind == K_DICT)
            ik__strdict_truncate(&b->cols[i].dict, b->cols[i].dict_mark);
        if (finish_column(&b->cols[i], out.children[i]) != 0)
            goto oom;
    }
    rc = 0;
    for (i = 0; i < b->n_cols; i++)
        rc |= column_reset(&b->cols[i], 0);
    b->rows = 0;
    if (rc != 0) {
        out.release(&out);
        goto oom;
    }
    ik_array_move(&out, array);
    return 0;
oom:
    if (out.release)
        out.release(&out);
    for (i = 0; i < b->n_cols; i++)
        column_reset(&b->cols[i], 0);
    b->rows = 0;
    if (schema && schema->release)
        schema->release(schema);
    return ik_error_set(err, ENOMEM, "out of memory (the rows built are lost)");
}

char *ik_metadata_build(const char *const *keys, const char *const *values, int n)
{
    size_t size = 4, i;
    char *m, *p;
    int32_t v;
    if (n < 0)
        return NULL;
    for (i = 0; i < (size_t)n; i++) {
        if (strlen(keys[i]) > INT32_MAX || strlen(values[i]) > INT32_MAX)
            return NULL;
        size += 8 + strlen(keys[i]) + strlen(values[i]);
    }
    m = malloc(size);
    if (m == NULL)
        return NULL;
    v = n;
    memcpy(m, &v, 4);
    p = m + 4;
    for (i = 0; i < (size_t)n; i++) {
        const char *kv[2] = {keys[i], values[i]};
        int j;
        for (j = 0; j < 2; j++) {
            size_t l = strlen(kv[j]);
            v = (int32_t)l;
            memcpy(p, &v, 4);
            memcpy(p + 4, kv[j], l);
            p += 4 + l;
        }
    }
    return m;
}
