/* The query string of /v1/tables/{table} and /pin-index-arrow, in the CLI's forms: `columns=a,b`,
 * `limit`, `offset`, the `pin list` shortcuts (`type`, `backend`, `cid`, `name_contains`,
 * `vfs_prefix`) and `column=op:value` for any column (`size_bytes=gte:1000`,
 * `backend=in:ipfs,s3`, `name=is_null:`; a bare value means eq). Every problem names the
 * argument it came from so the client gets a 400 it can act on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "ipfskit/schemas.h"

struct args {
    struct ik_query *q;
    const struct ArrowSchema *schema;
    char *param;
    size_t param_cap;
    struct ik_error *err;
    int rc;
};

static const struct {
    const char *arg, *column;
    enum ik_op op;
} shortcuts[] = {
    {"type", "pin_type", IK_OP_EQ},
    {"backend", "backend", IK_OP_EQ},
    {"cid", "cid", IK_OP_EQ},
    {"name_contains", "name", IK_OP_CONTAINS},
    {"vfs_prefix", "vfs_path", IK_OP_PATH_PREFIX},
};

/* A count: decimal digits only (no sign, no spaces), at most INT64_MAX. */
static int parse_count(const char *s, int64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > ((uint64_t)INT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = (int64_t)v;
    return 0;
}

static const struct ArrowSchema *column(const struct ArrowSchema *schema, const char *name)
{
    for (int64_t i = 0; i < schema->n_children; i++)
        if (strcmp(schema->children[i]->name, name) == 0)
            return schema->children[i];
    return NULL;
}

/* One value in the column's type: integers for integer and timestamp columns, numbers for
 * floats, true/false for bools, the text itself for strings. */
static int parse_value(const struct ArrowSchema *col, const char *s, size_t len, struct ik_value *v)
{
    char text[256], *end;
    const char *f = col->format;
    memset(v, 0, sizeof *v);
    if (col->dictionary || strcmp(f, "u") == 0 || strcmp(f, "U") == 0) {
        v->kind = IK_VAL_STR;
        v->s = (char *)s;
        v->len = len;
        return 0;
    }
    if (len >= sizeof text)
        return -1;
    memcpy(text, s, len);
    text[len] = 0;
    errno = 0;
    if (strcmp(f, "b") == 0) {
        v->kind = IK_VAL_BOOL;
        if (strcmp(text, "true") && strcmp(text, "false"))
            return -1;
        v->b = text[0] == 't';
        return 0;
    }
    if (strcmp(f, "g") == 0 || strcmp(f, "f") == 0) {
        v->kind = IK_VAL_DOUBLE;
        v->d = strtod(text, &end);
    } else {
        v->kind = IK_VAL_INT;
        v->i = strtoll(text, &end, 10);
    }
    return errno || end == text || *end ? -1 : 0;
}

static int filter(struct args *a, const char *key, const char *colname, enum ik_op op,
                  const char *value)
{
    const struct ArrowSchema *col = column(a->schema, colname);
    struct ik_value vals[64];
    size_t n = 0;
    if (!col)
        return ik_error_set(a->err, EINVAL, "unknown parameter or column '%s'", key);
    if (op == IK_OP_IS_NULL || op == IK_OP_NOT_NULL) {
        if (*value)
            return ik_error_set(a->err, EINVAL, "'%s': %s takes no value", key, ik_op_name(op));
    } else if (op == IK_OP_IN) {
        for (const char *p = value;; p++) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (n == sizeof vals / sizeof *vals || parse_value(col, p, len, &vals[n]) != 0)
                return ik_error_set(a->err, EINVAL, "'%s': bad value list (at most %zu)", key,
                                    sizeof vals / sizeof *vals);
            n++;
            if (!comma)
                break;
            p = comma;
        }
    } else {
        if (parse_value(col, value, strlen(value), &vals[0]) != 0)
            return ik_error_set(a->err, EINVAL, "'%s': '%.64s' is not a valid %s", key, value,
                                col->dictionary || col->format[0] == 'u' ? "string" : "value");
        n = 1;
    }
    return ik_query_add_filter(a->q, colname, op, vals, n, a->err);
}

/* `op:value`, or a bare value for the parameter's own op (eq for a column name). */
static int generic(struct args *a, const char *key, const char *colname, enum ik_op bare,
                   const char *value)
{
    const char *colon = strchr(value, ':');
    if (colon && colon - value < 16) {
        char name[16];
        int op;
        memcpy(name, value, (size_t)(colon - value));
        name[colon - value] = 0;
        if ((op = ik_op_from_name(name)) >= 0)
            return filter(a, key, colname, (enum ik_op)op, colon + 1);
    }
    return filter(a, key, colname, bare, value);
}

static int one(struct args *a, const char *key, const char *value)
{
    if (!value)
        value = "";
    if (strcmp(key, "limit") == 0 || strcmp(key, "offset") == 0) {
        int64_t n;
        if (parse_count(value, &n) != 0)
            return ik_error_set(a->err, EINVAL, "'%s' takes a non-negative integer, not '%.32s'",
                                key, value);
        if (key[0] == 'l')
            a->q->limit = n;
        else
            a->q->offset = n;
        return 0;
    }
    if (strcmp(key, "columns") == 0) {
        char *copy = strdup(value), *tok, *save = NULL;
        int rc = copy ? 0 : ik_error_set(a->err, ENOMEM, "out of memory");
        for (tok = copy ? strtok_r(copy, ",", &save) : NULL; rc == 0 && tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (!column(a->schema, tok))
                rc = ik_error_set(a->err, EINVAL, "'columns': no column '%.64s'", tok);
            else
                rc = ik_query_add_column(a->q, tok, a->err);
        }
        free(copy);
        return rc;
    }
    for (size_t i = 0; i < sizeof shortcuts / sizeof *shortcuts; i++)
        if (strcmp(key, shortcuts[i].arg) == 0 && column(a->schema, shortcuts[i].column))
            return generic(a, key, shortcuts[i].column, shortcuts[i].op, value);
    return generic(a, key, key, IK_OP_EQ, value);
}

static enum MHD_Result each(void *ctx, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct args *a = ctx;
    (void)kind;
    if (a->rc != 0)
        return MHD_NO;
    if ((a->rc = one(a, key, value)) != 0) {
        snprintf(a->param, a->param_cap, "%s", key);
        return MHD_NO;
    }
    return MHD_YES;
}

int ik__http_query_from_args(struct ik_http *h, struct MHD_Connection *conn, const char *table,
                             struct ik_query *q, char *param, size_t param_cap,
                             struct ik_error *err)
{
    int t = ik_table_index(table), rc;
    ik_query_init(q, table);
    param[0] = 0;
    if (t < 0 || t >= IK_DAEMON_TABLES || h->schemas[t].release == NULL)
        return ik_error_set(err, EINVAL, "no table '%s'", table);
    struct args a = {q, &h->schemas[t], param, param_cap, err, 0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, each, &a);
    rc = a.rc;
    if (rc == 0 && (rc = ik_query_check(q, &h->schemas[t], err)) != 0)
        snprintf(param, param_cap, "filter");
    return rc;
}
