/* The rows an Arrow import into an empty table leaves (ik_store_import_rows, and the journal
 * of ik_store_import_journal), as the daemon publishes them for the new base instead of
 * reading them back from SQLite. Every value is the one the upsert stores: a column the row
 * does not give takes the INSERT's default ('recursive', the import's now, the default
 * backend, 1, false, 0, else null), and a CID given twice is merged as ON CONFLICT merges it,
 * later values over earlier ones (import_arrow.c picks, for each column, the last row of the
 * twins that gives it). Tested against a read of the store (tests/test_import_arrow.c).
 *
 * Built a column at a time: import_arrow.c walks the rows in cid order (the input's order is
 * any) once per column, so each walk reads one column of the input at random, which stays in
 * the CPU's caches; read a row at a time, every value of a 100k-pin import was a cache miss
 * (pass 2 of the daemon's import: ~95 ms of its ~190 ms reply). The buffers are this file's:
 * no row builder, no per-value checks beyond what the rows were checked for in pass 1. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/schemas.h"
#include "store/store_internal.h"

enum gkind { G_STR, G_DICT, G_INT, G_BOOL };

struct gcol {
    _Alignas(64) enum gkind kind; /* a cache line of its own: two threads fill the columns */
    int width;                    /* bytes per value: G_INT, G_DICT indices */
    int64_t max;                  /* G_DICT: the largest index its type holds */
    bool nullable;                /* else a missing value takes the default */
    int64_t len, nulls;
    struct ik__gbuf valid, data, offs;
    struct ik__strdict dict;
};

struct ik__given {
    int64_t rows, now;
    const char *backend;
    size_t backend_n;
    struct gcol c[IK__NCOLS];
};

void ik__given_free(struct ik__given *g)
{
    if (g == NULL)
        return;
    for (int c = 0; c < IK__NCOLS; c++) {
        ik__gb_free(&g->c[c].valid);
        ik__gb_free(&g->c[c].data);
        ik__gb_free(&g->c[c].offs);
        ik__strdict_free(&g->c[c].dict);
    }
    free(g);
}

/* Column c's layout from pin_index's schema (the one definition, lib/table/schemas.c). */
static int describe(struct gcol *k, const struct ArrowSchema *f)
{
    const char *fmt = f->format;
    k->nullable = (f->flags & ARROW_FLAG_NULLABLE) != 0;
    if (f->dictionary) {
        if (strcmp(f->dictionary->format, "u") != 0 || (strcmp(fmt, "c") && strcmp(fmt, "s")))
            return EINVAL;
        k->kind = G_DICT;
        k->width = fmt[0] == 'c' ? 1 : 2;
        k->max = fmt[0] == 'c' ? INT8_MAX : INT16_MAX;
        return ik__strdict_reset(&k->dict) ? ENOMEM : 0;
    }
    if (strcmp(fmt, "u") == 0)
        k->kind = G_STR;
    else if (strcmp(fmt, "b") == 0)
        k->kind = G_BOOL;
    else if (strcmp(fmt, "i") == 0)
        k->kind = G_INT, k->width = 4;
    else if (strcmp(fmt, "l") == 0 || strncmp(fmt, "tsu:", 4) == 0)
        k->kind = G_INT, k->width = 8;
    else
        return EINVAL;
    return 0;
}

int ik__given_create(struct ik__given **out)
{
    struct ArrowSchema sch;
    size_t size = (sizeof(struct ik__given) + 63) & ~(size_t)63;
    struct ik__given *g = aligned_alloc(64, size); /* its columns are cache-line aligned */
    int rc = 0;
    *out = NULL;
    if (g == NULL)
        return ENOMEM;
    memset(g, 0, size);
    g->rows = -1; /* until begun */
    if (ik_table_schema("pin_index", &sch, NULL) != 0) {
        free(g);
        return ENOMEM;
    }
    if (sch.n_children != IK__NCOLS)
        rc = EINVAL;
    for (int c = 0; c < IK__NCOLS && rc == 0; c++) {
        rc = strcmp(sch.children[c]->name, ik__col_names[c]) != 0
                 ? EINVAL
                 : describe(&g->c[c], sch.children[c]);
        if (rc == 0 && (g->c[c].kind == G_STR || g->c[c].kind == G_DICT) != ik__col_is_str(c))
            rc = EINVAL;
    }
    sch.release(&sch);
    if (rc != 0) {
        ik__given_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void ik__given_drop(struct ik__given *g)
{
    g->rows = -1;
}

int ik__given_begin(struct ik__given *g, int64_t rows, int64_t now, const char *backend)
{
    if (rows < 0 || g->rows >= 0)
        return EINVAL;
    g->rows = rows;
    g->now = now;
    g->backend = backend ? backend : "ipfs";
    g->backend_n = strlen(g->backend);
    for (int c = 0; c < IK__NCOLS; c++) {
        struct gcol *k = &g->c[c];
        size_t n = (size_t)rows;
        int rc = 0;
        if (k->nullable)
            rc = ik__gb_reserve(&k->valid, n / 8 + 1);
        if (rc == 0 && k->kind == G_STR) /* the bytes: grown as they come */
            rc = ik__gb_reserve(&k->offs, 4 * (n + 1));
        else if (rc == 0)
            rc = ik__gb_reserve(&k->data, k->kind == G_BOOL ? n / 8 + 1 : (size_t)k->width * n);
        if (rc != 0)
            return ENOMEM;
        if (k->nullable)
            memset(k->valid.data, 0, n / 8 + 1);
        if (k->kind == G_BOOL)
            memset(k->data.data, 0, n / 8 + 1);
        if (k->kind == G_STR) {
            memset(k->offs.data, 0, 4);
            k->offs.len = 4;
        }
    }
    return 0;
}

static int put_str(struct gcol *k, const char *p, size_t n)
{
    int32_t end;
    if (k->data.len + n > INT32_MAX)
        return IK_ELIMIT;
    if (n > 0 && ik__gb_reserve(&k->data, n) != 0)
        return ENOMEM;
    if (n > 0)
        memcpy(k->data.data + k->data.len, p, n);
    k->data.len += n;
    end = (int32_t)k->data.len;
    memcpy(k->offs.data + k->offs.len, &end, 4);
    k->offs.len += 4;
    return 0;
}

static void put_int(struct gcol *k, int64_t v)
{
    if (k->width == 4) {
        int32_t x = (int32_t)v; /* replication_factor: checked to fit in pass 1 */
        memcpy(k->data.data + k->data.len, &x, 4);
    } else {
        memcpy(k->data.data + k->data.len, &v, 8);
    }
    k->data.len += (size_t)k->width;
}

static int put_dict(struct gcol *k, const char *p, size_t n)
{
    int64_t idx = 0;
    int rc = ik__strdict_find(&k->dict, p, n, k->max, &idx);
    if (rc != 0)
        return rc == ERANGE ? EINVAL : rc;
    if (k->width == 1) {
        int8_t x = (int8_t)idx;
        memcpy(k->data.data + k->data.len, &x, 1);
    } else {
        int16_t x = (int16_t)idx;
        memcpy(k->data.data + k->data.len, &x, 2);
    }
    k->data.len += (size_t)k->width;
    return 0;
}

/* A null at the column's next slot (only nullable columns have none to give). */
static int put_null(struct gcol *k)
{
    k->nulls++;
    if (k->kind == G_STR) {
        memcpy(k->offs.data + k->offs.len, k->offs.data + k->offs.len - 4, 4);
        k->offs.len += 4;
    } else {
        memset(k->data.data + k->data.len, 0, (size_t)k->width);
        k->data.len += (size_t)k->width;
    }
    return 0;
}

int ik__given_cid(struct ik__given *g, const char *p, size_t n)
{
    struct gcol *k = &g->c[IK__CID];
    int rc;
    if (k->len >= g->rows)
        return EINVAL;
    if ((rc = put_str(k, p, n)) == 0)
        k->len++;
    return rc;
}

/* Appends column c's next value: (p, v bytes) for a string, v for a number, or when !has the
 * default (or null). */
static inline int put_value(struct ik__given *g, struct gcol *k, int c, bool has, const char *p,
                            int64_t v)
{
    int64_t i = k->len;
    int rc = 0;
    if (k->kind == G_BOOL) { /* verified: false when not given */
        if (has && v != 0)
            ik__bit_set(k->data.data, i);
        if (has && k->nullable)
            ik__bit_set(k->valid.data, i);
        else if (k->nullable)
            k->nulls++;
    } else if (has) {
        if (k->kind == G_STR)
            rc = put_str(k, p, (size_t)v);
        else if (k->kind == G_DICT)
            rc = put_dict(k, p, (size_t)v);
        else
            put_int(k, v);
        if (rc == 0 && k->nullable)
            ik__bit_set(k->valid.data, i);
    } else if (c == IK__PIN_TYPE) { /* the INSERT's defaults */
        rc = put_dict(k, "recursive", 9);
    } else if (c == IK__BACKEND) {
        rc = put_dict(k, g->backend, g->backend_n);
    } else if (c == IK__TIMESTAMP) {
        put_int(k, g->now);
    } else if (c == IK__REPLICATION_FACTOR) {
        put_int(k, 1);
    } else if (c == IK__ACCESS_COUNT) {
        put_int(k, 0);
    } else if (k->nullable) {
        rc = put_null(k);
    } else {
        rc = EINVAL; /* a column of the schema this file does not know how to fill */
    }
    if (rc == 0)
        k->len++;
    return rc;
}

int ik__given_value(struct ik__given *g, int c, const struct ik__row *r)
{
    bool has = r != NULL && IK__HAS(r, c) && (!ik__col_is_str(c) || r->str[c].p != NULL);
    if (c == IK__CID || g->c[c].len >= g->rows)
        return EINVAL;
    if (!has)
        return put_value(g, &g->c[c], c, false, NULL, 0);
    return ik__col_is_str(c) ? put_value(g, &g->c[c], c, true, r->str[c].p, (int64_t)r->str[c].n)
                             : put_value(g, &g->c[c], c, true, NULL, r->num[c]);
}

int ik__given_values(struct ik__given *g, int c, const struct ik__gval *v, size_t n)
{
    struct gcol *k = &g->c[c];
    int rc = 0;
    if (c == IK__CID || n > (size_t)(g->rows - k->len))
        return EINVAL;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = put_value(g, k, c, v[i].has, v[i].p, v[i].v);
    return rc;
}

static int give_column(struct gcol *k, int64_t rows, struct ArrowArray *a)
{
    int n_buffers = k->kind == G_STR ? 3 : 2;
    if (ik__array_alloc(a, n_buffers, 0) != 0)
        return ENOMEM;
    a->length = rows;
    a->null_count = k->nulls;
    if (k->kind == G_BOOL)
        k->data.len = (size_t)(rows + 7) / 8;
    if (k->nulls > 0) {
        k->valid.len = (size_t)(rows + 7) / 8;
        if (ik__gb_give(a, 0, &k->valid) != 0)
            return ENOMEM;
    }
    if (n_buffers == 3 ? ik__gb_give(a, 1, &k->offs) != 0 || ik__gb_give(a, 2, &k->data) != 0
                       : ik__gb_give(a, 1, &k->data) != 0)
        return ENOMEM;
    if (k->kind == G_DICT &&
        ik__gb_give_dictionary(a, &k->dict.offs, &k->dict.data, k->dict.n) != 0)
        return ENOMEM;
    return 0;
}

int ik__given_finish(struct ik__given *g, struct ArrowSchema *schema_out, struct ArrowArray *out)
{
    struct ArrowArray a;
    int c, rc;
    if (g->rows < 0)
        return EINVAL;
    for (c = 0; c < IK__NCOLS; c++)
        if (g->c[c].len != g->rows)
            return EINVAL; /* a column short of a value: never published */
    if (ik__array_alloc(&a, 1, IK__NCOLS) != 0)
        return ENOMEM;
    a.length = g->rows;
    for (c = 0; c < IK__NCOLS; c++)
        if (give_column(&g->c[c], g->rows, a.children[c]) != 0) {
            a.release(&a);
            return ENOMEM;
        }
    if ((rc = ik_table_schema("pin_index", schema_out, NULL)) != 0) {
        a.release(&a);
        return rc;
    }
    ik_array_move(&a, out);
    return 0;
}
