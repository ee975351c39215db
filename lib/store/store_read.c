/* Pins out of SQLite as Arrow: queries answered with SQL — the filter becomes a WHERE clause with
 * bound parameters that can use the store's indexes, then ORDER BY cid, LIMIT / OFFSET and the
 * projection — so the result equals ik_query_apply on the full batch. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"
#include "store/store_internal.h"

enum ctype { C_STR, C_INT, C_TIME, C_BOOL };

static enum ctype ctype(int col)
{
    switch (col) {
    case IK__SIZE_BYTES:
    case IK__REPLICATION_FACTOR:
    case IK__ACCESS_COUNT:
        return C_INT;
    case IK__TIMESTAMP:
    case IK__LAST_ACCESS:
        return C_TIME;
    case IK__VERIFIED:
        return C_BOOL;
    default:
        return C_STR;
    }
}

/* A growing SQL text. */
struct sql {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct sql *q, const char *s)
{
    size_t k = strlen(s);
    if (q->oom)
        return;
    if (q->n + k + 1 > q->cap) {
        size_t cap = (q->n + k + 1) * 2;
        char *p = realloc(q->p, cap);
        if (p == NULL) {
            q->oom = true;
            return;
        }
        q->p = p;
        q->cap = cap;
    }
    memcpy(q->p + q->n, s, k + 1);
    q->n += k;
}

/* Parameters to bind, in order. A string may be owned (prefix upper bounds). */
struct param {
    const struct ik_value *v;
    char *owned;
    size_t owned_len;
};

struct plan {
    struct sql sql;
    struct param *params;
    size_t n_params, cap_params;
    int cols[IK__NCOLS];
    int n_cols;
};

static int add_param(struct plan *pl, const struct ik_value *v, char *owned, size_t owned_len)
{
    if (pl->n_params == pl->cap_params) {
        size_t cap = pl->cap_params ? pl->cap_params * 2 : 16;
        struct param *p = realloc(pl->params, cap * sizeof *p);
        if (p == NULL) {
            free(owned);
            return ENOMEM;
        }
        pl->params = p;
        pl->cap_params = cap;
    }
    pl->params[pl->n_params].v = v;
    pl->params[pl->n_params].owned = owned;
    pl->params[pl->n_params].owned_len = owned_len;
    pl->n_params++;
    put(&pl->sql, "?");
    return 0;
}

/* The smallest string greater than every string starting with s[0, n): s with trailing 0xff
 * bytes dropped and the last byte incremented; *out NULL (no upper bound) when all bytes are
 * 0xff. ENOMEM only. */
static int upper_bound(const char *s, size_t n, char **out, size_t *len)
{
    *out = NULL;
    while (n > 0 && (unsigned char)s[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    if ((*out = malloc(n)) == NULL)
        return ENOMEM;
    memcpy(*out, s, n);
    (*out)[n - 1] = (char)((unsigned char)(*out)[n - 1] + 1);
    *len = n;
    return 0;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static bool fits(enum ctype t, const struct ik_value *v)
{
    switch (t) {
    case C_STR:
        return v->kind == IK_VAL_STR;
    case C_BOOL:
        return v->kind == IK_VAL_BOOL;
    default:
        return v->kind == IK_VAL_INT || v->kind == IK_VAL_DOUBLE;
    }
}

/* Appends "col >= ?lo [AND col < ?hi]": the strings starting with s[0, n) (bytewise, as
 * SQLite's BINARY collation compares). */
static int prefix_range(struct plan *pl, const char *col, const struct ik_value *v, const char *s,
                        size_t n)
{
    size_t ulen = 0;
    char *u, *lo = dup_bytes(s, n);
    int rc;
    if (lo == NULL)
        return ENOMEM;
    put(&pl->sql, col);
    put(&pl->sql, " >= ");
    if ((rc = add_param(pl, v, lo, n)) != 0 || (rc = upper_bound(s, n, &u, &ulen)) != 0)
        return rc;
    if (u != NULL) {
        put(&pl->sql, " AND ");
        put(&pl->sql, col);
        put(&pl->sql, " < ");
        return add_param(pl, v, u, ulen);
    }
    return 0;
}

static int predicate(struct plan *pl, const struct ik_predicate *p, struct ik_error *err)
{
    static const char *const cmp[] = {" = ", " != ", " > ", " >= ", " < ", " <= "};
    int col = ik__col_find(p->column, strlen(p->column)), rc = 0;
    const char *name = p->column, *opn = ik_op_name(p->op);
    enum ctype t;
    size_t i;
    char qcol[40];
    if (col < 0)
        return ik_error_set(err, EINVAL, "filter on '%s': no such column in pin_index", name);
    t = ctype(col);
    snprintf(qcol, sizeof qcol, "\"%s\"", ik__col_names[col]);
    if (p->op == IK_OP_IS_NULL || p->op == IK_OP_NOT_NULL) {
        put(&pl->sql, qcol);
        put(&pl->sql, p->op == IK_OP_IS_NULL ? " IS NULL" : " IS NOT NULL");
        return 0;
    }
    if (p->n_values == 0 || (p->op != IK_OP_IN && p->n_values != 1))
        return ik_error_set(err, EINVAL, "filter on '%s': op '%s' with %zu values", name,
                            opn ? opn : "?", p->n_values);
    if ((p->op == IK_OP_CONTAINS || p->op == IK_OP_PREFIX || p->op == IK_OP_PATH_PREFIX) &&
        t != C_STR)
        return ik_error_set(err, EINVAL, "filter on '%s': op '%s' needs a string column", name,
                            opn);
    for (i = 0; i < p->n_values; i++)
        if (!fits(t, &p->values[i]))
            return ik_error_set(err, EINVAL,
                                "filter on '%s': op '%s' with a value of the wrong "
                                "kind for the column",
                                name, opn ? opn : "?");
    put(&pl->sql, "(");
    switch (p->op) {
    case IK_OP_EQ:
    case IK_OP_NE:
    case IK_OP_GT:
    case IK_OP_GTE:
    case IK_OP_LT:
    case IK_OP_LTE:
        put(&pl->sql, qcol);
        put(&pl->sql, cmp[p->op - IK_OP_EQ]);
        rc = add_param(pl, &p->values[0], NULL, 0);
        break;
    case IK_OP_IN:
        put(&pl->sql, qcol);
        put(&pl->sql, " IN (");
        for (i = 0; i < p->n_values && rc == 0; i++) {
            if (i)
                put(&pl->sql, ", ");
            rc = add_param(pl, &p->values[i], NULL, 0);
        }
        put(&pl->sql, ")");
        break;
    case IK_OP_CONTAINS:
        put(&pl->sql, "instr(");
        put(&pl->sql, qcol);
        put(&pl->sql, ", ");
        rc = add_param(pl, &p->values[0], NULL, 0);
        put(&pl->sql, ") > 0");
        break;
    case IK_OP_PREFIX:
        rc = prefix_range(pl, qcol, &p->values[0], p->values[0].s, p->values[0].len);
        break;
    case IK_OP_PATH_PREFIX: {
        /* "/a" matches "/a" and everything under "/a/"; "/" every absolute path */
        const char *v = p->values[0].s;
        size_t n = p->values[0].len;
        char *exact, *under;
        while (n > 1 && v[n - 1] == '/')
            n--;
        if (n == 1 && v[0] == '/') {
            rc = prefix_range(pl, qcol, &p->values[0], "/", 1);
            break;
        }
        put(&pl->sql, qcol);
        put(&pl->sql, " = ");
        if ((exact = dup_bytes(v, n)) == NULL ||
            (rc = add_param(pl, &p->values[0], exact, n)) != 0) {
            rc = ENOMEM;
            break;
        }
        if ((under = malloc(n + 1)) == NULL) {
            rc = ENOMEM;
            break;
        }
        memcpy(under, v, n);
        under[n] = '/';
        put(&pl->sql, " OR (");
        rc = prefix_range(pl, qcol, &p->values[0], under, n + 1);
        free(under);
        put(&pl->sql, ")");
        break;
    }
    default:
        return ik_error_set(err, EINVAL, "filter on '%s': unknown op %d", name, (int)p->op);
    }
    put(&pl->sql, ")");
    if (rc != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

static void plan_free(struct plan *pl)
{
    size_t i;
    for (i = 0; i < pl->n_params; i++)
        free(pl->params[i].owned);
    free(pl->params);
    free(pl->sql.p);
}

static int plan_build(struct plan *pl, const struct ik_query *q, struct ik_error *err)
{
    size_t i;
    int rc, c;
    memset(pl, 0, sizeof *pl);
    if (strcmp(q->table, "pin_index") != 0)
        return ik_error_set(err, EINVAL, "the store holds pin_index, not '%s'", q->table);
    if (q->offset < 0)
        return ik_error_set(err, EINVAL, "offset %lld is negative", (long long)q->offset);
    if (q->n_columns > IK__NCOLS)
        return ik_error_set(err, EINVAL, "%zu columns asked, pin_index has %d", q->n_columns,
                            IK__NCOLS);
    for (i = 0; i < q->n_columns; i++) {
        c = ik__col_find(q->columns[i], strlen(q->columns[i]));
        if (c < 0)
            return ik_error_set(err, EINVAL, "column '%s' is not in pin_index", q->columns[i]);
        pl->cols[pl->n_cols++] = c;
    }
    if (q->n_columns == 0)
        for (c = 0; c < IK__NCOLS; c++)
            pl->cols[pl->n_cols++] = c;
    put(&pl->sql, "SELECT ");
    for (i = 0; i < (size_t)pl->n_cols; i++) {
        put(&pl->sql, i ? ", \"" : "\"");
        put(&pl->sql, ik__col_names[pl->cols[i]]);
        put(&pl->sql, "\"");
    }
    put(&pl->sql, " FROM pins");
    for (i = 0; i < q->n_preds; i++) {
        put(&pl->sql, i ? " AND " : " WHERE ");
        if ((rc = predicate(pl, &q->preds[i], err)) != 0)
            return rc;
    }
    put(&pl->sql, " ORDER BY cid");
    if (q->limit >= 0 || q->offset > 0)
        put(&pl->sql, " LIMIT ? OFFSET ?");
    if (pl->sql.oom)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

static void bind(sqlite3_stmt *s, int i, const struct param *p)
{
    const struct ik_value *v = p->v;
    if (p->owned != NULL)
        sqlite3_bind_text(s, i, p->owned, (int)p->owned_len, SQLITE_STATIC);
    else if (v->kind == IK_VAL_STR)
        sqlite3_bind_text(s, i, v->s, (int)v->len, SQLITE_STATIC);
    else if (v->kind == IK_VAL_INT)
        sqlite3_bind_int64(s, i, v->i);
    else if (v->kind == IK_VAL_DOUBLE)
        sqlite3_bind_double(s, i, v->d);
    else if (v->kind == IK_VAL_BOOL)
        sqlite3_bind_int(s, i, v->b);
    else
        sqlite3_bind_null(s, i);
}

/* Appends the current result row to the builder (column i of the result is builder column i). */
static int append(struct ik_builder *b, sqlite3_stmt *s, const int *cols, int n,
                  struct ik_error *err)
{
    int i, rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        if (sqlite3_column_type(s, i) == SQLITE_NULL) {
            rc = ik_builder_null(b, i, err);
            continue;
        }
        switch (ctype(cols[i])) {
        case C_STR: {
            const unsigned char *t = sqlite3_column_text(s, i);
            rc = ik_builder_str(b, i, (const char *)t, (size_t)sqlite3_column_bytes(s, i), err);
            break;
        }
        case C_BOOL:
            rc = ik_builder_bool(b, i, sqlite3_column_int(s, i) != 0, err);
            break;
        default:
            rc = ik_builder_int(b, i, sqlite3_column_int64(s, i), err);
        }
    }
    if (rc == 0)
        rc = ik_builder_end_row(b, err);
    return rc;
}

/* A builder for the projection: the pin_index schema with only the asked columns. */
static int projected_builder(const struct plan *pl, struct ik_builder **b, struct ik_error *err)
{
    struct ArrowSchema full, proj;
    int rc, i, k;
    if ((rc = ik_table_schema("pin_index", &full, err)) != 0)
        return rc;
    if (ik__schema_alloc(&proj, "+s", "", full.metadata, 0, pl->n_cols) != 0) {
        full.release(&full);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    for (i = 0, rc = 0; i < pl->n_cols && rc == 0; i++) {
        for (k = 0; k < full.n_children; k++)
            if (strcmp(full.children[k]->name, ik__col_names[pl->cols[i]]) == 0)
                break;
        proj.children[i]->release = NULL;
        rc = ik_schema_copy(full.children[k], proj.children[i], err);
    }
    if (rc == 0)
        rc = ik_builder_create(&proj, 0, b, err);
    proj.release(&proj);
    full.release(&full);
    return rc;
}

static int run(struct ik_store *st, const struct ik_query *q, struct ArrowSchema *schema_out,
               struct ArrowArray *out, struct ik_error *err)
{
    struct plan pl;
    struct ik_builder *b = NULL;
    sqlite3_stmt *s = NULL;
    size_t i;
    int rc = plan_build(&pl, q, err), sqlrc;

    if (rc != 0)
        goto done;
    if (q->n_columns == 0)
        rc = ik_builder_create_table("pin_index", 0, &b, err);
    else
        rc = projected_builder(&pl, &b, err);
    if (rc != 0)
        goto done;
    sqlrc = sqlite3_prepare_v2(st->db, pl.sql.p, -1, &s, NULL);
    if (sqlrc != SQLITE_OK) {
        rc = ik__sql_error(st, sqlrc, "pins.db: query", err);
        goto done;
    }
    for (i = 0; i < pl.n_params; i++)
        bind(s, (int)i + 1, &pl.params[i]);
    if (q->limit >= 0 || q->offset > 0) {
        sqlite3_bind_int64(s, (int)pl.n_params + 1, q->limit);
        sqlite3_bind_int64(s, (int)pl.n_params + 2, q->offset);
    }
    while ((sqlrc = sqlite3_step(s)) == SQLITE_ROW)
        if ((rc = append(b, s, pl.cols, pl.n_cols, err)) != 0)
            goto done;
    if (sqlrc != SQLITE_DONE) {
        rc = ik__sql_error(st, sqlrc, "pins.db: query", err);
        goto done;
    }
    rc = ik_builder_finish(b, NULL, schema_out, out, err);
done:
    sqlite3_finalize(s);
    ik_builder_destroy(b);
    plan_free(&pl);
    return rc;
}

int ik_store_query(struct ik_store *st, const struct ik_query *q, struct ArrowSchema *schema_out,
                   struct ArrowArray *out, struct ik_error *err)
{
    return run(st, q, schema_out, out, err);
}
