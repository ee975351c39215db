/* The JSON form of a query, as carried in protocol requests: "table", "columns", "filter" (in
 * IPFS-Kit's form), "offset", "limit". Implements ik_query_to_json / ik_query_from_json of
 * ipfskit/query.h and the jansson-level helpers ik_request_parse uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* ---- reading ---------------------------------------------------------------------------- */

static int value_from_json(const json_t *j, struct ik_value *v)
{
    memset(v, 0, sizeof *v);
    switch (json_typeof(j)) {
    case JSON_INTEGER:
        v->kind = IK_VAL_INT;
        v->i = (int64_t)json_integer_value(j);
        v->d = (double)v->i;
        return 0;
    case JSON_REAL:
        v->kind = IK_VAL_DOUBLE;
        v->d = json_real_value(j);
        return 0;
    case JSON_STRING:
        v->kind = IK_VAL_STR;
        v->s = (char *)(uintptr_t)json_string_value(j);
        v->len = json_string_length(j);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        v->kind = IK_VAL_BOOL;
        v->b = json_is_true(j);
        return 0;
    default:
        return EINVAL;
    }
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* One op of a column's op object: {"gt": 1}, {"in": [..]}, {"is_null": true}. */
static int add_op(struct ik_query *q, const char *col, const char *opname, const json_t *val,
                  struct ik_error *err)
{
    int op = ik_op_from_name(opname);
    struct ik_value v, *vs;
    size_t i, n;
    int rc;
    if (op < 0)
        return ik_error_set(err, EINVAL, "filter on '%.64s': unknown op \"%.64s\"", col, opname);
    switch (op) {
    case IK_OP_IS_NULL:
    case IK_OP_NOT_NULL:
        if (!json_is_boolean(val))
            return ik_error_set(err, EINVAL, "filter on '%.64s': op '%s' takes true or false", col,
                                opname);
        if (json_is_false(val)) /* is_null: false reads as not_null, and back */
            op = op == IK_OP_IS_NULL ? IK_OP_NOT_NULL : IK_OP_IS_NULL;
        return ik_query_add_filter(q, col, (enum ik_op)op, NULL, 0, err);
    case IK_OP_IN:
        n = json_is_array(val) ? json_array_size(val) : 0;
        if (n == 0)
            return ik_error_set(
                err, EINVAL, "filter on '%.64s': op 'in' takes a non-empty array of values", col);
        vs = calloc(n, sizeof *vs);
        if (vs == NULL)
            return ik_error_set(err, ENOMEM, "out of memory reading a filter");
        for (i = 0; i < n; i++) {
            if (value_from_json(json_array_get(val, i), &vs[i])) {
                free(vs);
                return ik_error_set(err, EINVAL,
                                    "filter on '%.64s': 'in' value %zu is %s, not a string, "
                                    "number or boolean",
                                    col, i, json_kind(json_array_get(val, i)));
            }
        }
        rc = ik_query_add_filter(q, col, IK_OP_IN, vs, n, err);
        free(vs);
        return rc;
    case IK_OP_EQ:
    case IK_OP_NE:
        if (json_is_null(val)) /* eq null is is_null, ne null is not_null */
            return ik_query_add_filter(q, col, op == IK_OP_EQ ? IK_OP_IS_NULL : IK_OP_NOT_NULL,
                                       NULL, 0, err);
        break;
    case IK_OP_CONTAINS:
    case IK_OP_PREFIX:
    case IK_OP_PATH_PREFIX:
        if (!json_is_string(val))
            return ik_error_set(err, EINVAL, "filter on '%.64s': op '%s' needs a string, not %s",
                                col, opname, json_kind(val));
        break;
    default:
        break;
    }
    if (value_from_json(val, &v))
        return ik_error_set(err, EINVAL,
                            "filter on '%.64s': op '%s' needs a string, number or boolean, not %s",
                            col, opname, json_kind(val));
    return ik_query_add_filter(q, col, (enum ik_op)op, &v, 1, err);
}

/* {"col": value, "col2": {"op": value, ...}, "col3": [in values], "col4": null}. */
static int filter_from_object(const json_t *f, struct ik_query *q, struct ik_error *err)
{
    const char *col, *opname;
    json_t *val, *opval;
    int rc;
    json_object_foreach((json_t *)(uintptr_t)f, col, val)
    {
        if (col[0] == 0)
            return ik_error_set(err, EINVAL, "filter: empty column name");
        if (json_is_object(val)) {
            if (json_object_size(val) == 0)
                return ik_error_set(err, EINVAL, "filter on '%.64s': no op", col);
            json_object_foreach(val, opname, opval)
            {
                rc = add_op(q, col, opname, opval, err);
                if (rc)
                    return rc;
            }
            continue;
        }
        rc = add_op(q, col, json_is_array(val) ? "in" : "eq", val, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int filter_from_json(const json_t *f, struct ik_query *q, struct ik_error *err)
{
    size_t i;
    int rc;
    if (json_is_object(f))
        return filter_from_object(f, q, err);
    if (!json_is_array(f))
        return ik_error_set(err, EINVAL, "\"filter\" must be an object, not %s", json_kind(f));
    for (i = 0; i < json_array_size(f); i++) {
        const json_t *e = json_array_get(f, i);
        if (!json_is_object(e))
            return ik_error_set(err, EINVAL, "\"filter\" element %zu must be an object, not %s", i,
                                json_kind(e));
        rc = filter_from_object(e, q, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int nonneg_int(const json_t *j, const char *key, int nullable, int64_t *out,
                      struct ik_error *err)
{
    if (nullable && json_is_null(j)) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return ik_error_set(err, EINVAL, "\"%s\" must be a non-negative integer", key);
    *out = (int64_t)json_integer_value(j);
    return 0;
}

int ik__query_from_jansson(const json_t *obj, struct ik_query *q, struct ik_error *err)
{
    const json_t *t = json_object_get(obj, "table"), *c = json_object_get(obj, "columns"),
                 *f = json_object_get(obj, "filter"), *j;
    size_t i;
    int rc;
    ik_query_init(q, NULL);
    if (t == NULL)
        return ik_error_set(err, EINVAL, "missing \"table\"");
    if (!json_is_string(t) || json_string_length(t) == 0 ||
        json_string_length(t) >= IK_TABLE_NAME_MAX)
        return ik_error_set(err, EINVAL, "\"table\" must be a string of 1 to %d bytes",
                            IK_TABLE_NAME_MAX - 1);
    memcpy(q->table, json_string_value(t), json_string_length(t) + 1);
    if (c && !json_is_null(c)) {
        if (!json_is_array(c))
            return ik_error_set(err, EINVAL, "\"columns\" must be an array of column names");
        for (i = 0; i < json_array_size(c); i++) {
            const json_t *e = json_array_get(c, i);
            if (!json_is_string(e) || json_string_length(e) == 0)
                return ik_error_set(err, EINVAL,
                                    "\"columns\" element %zu must be a non-empty "
                                    "string",
                                    i);
            rc = ik_query_add_column(q, json_string_value(e), err);
            if (rc)
                return rc;
        }
    }
    if (f && !json_is_null(f)) {
        rc = filter_from_json(f, q, err);
        if (rc)
            return rc;
    }
    if ((j = json_object_get(obj, "offset")) != NULL) {
        rc = nonneg_int(j, "offset", 0, &q->offset, err);
        if (rc)
            return rc;
    }
    if ((j = json_object_get(obj, "limit")) != NULL) {
        rc = nonneg_int(j, "limit", 1, &q->limit, err);
        if (rc)
            return rc;
    }
    return 0;
}

int ik_query_from_json(const char *json, size_t len, struct ik_query *q, struct ik_error *err)
{
    json_error_t je;
    json_t *obj;
    int rc;
    ik_query_init(q, NULL);
    obj = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (obj == NULL)
        return ik_error_set(err, IK_EFORMAT, "query: invalid JSON at line %d column %d: %s",
                            je.line, je.column, je.text);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return ik_error_set(err, IK_EFORMAT, "query: not a JSON object");
    }
    rc = ik__query_from_jansson(obj, q, err);
    json_decref(obj);
    if (rc)
        return ik_error_prefix(err, rc, "query");
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

static json_t *value_to_json(const struct ik_value *v)
{
    switch (v->kind) {
    case IK_VAL_INT:
        return json_integer((json_int_t)v->i);
    case IK_VAL_DOUBLE:
        return isfinite(v->d) ? json_real(v->d) : NULL;
    case IK_VAL_STR:
        return json_stringn(v->s ? v->s : "", v->s ? v->len : 0);
    case IK_VAL_BOOL:
        return json_boolean(v->b);
    default:
        return json_null();
    }
}

/* The JSON value of one predicate's op: true for the null tests, an array for "in". */
static json_t *pred_value(const struct ik_predicate *p)
{
    json_t *a;
    size_t i;
    if (p->op == IK_OP_IS_NULL || p->op == IK_OP_NOT_NULL)
        return json_true();
    if (p->op != IK_OP_IN)
        return p->n_values == 1 ? value_to_json(&p->values[0]) : NULL;
    a = json_array();
    for (i = 0; a && i < p->n_values; i++)
        if (json_array_append_new(a, value_to_json(&p->values[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Adds predicate p to the filter object f: a bare value for a lone eq with a value, otherwise an
 * op inside the column's op object. */
static int pred_to_object(json_t *f, const struct ik_predicate *p, int lone)
{
    json_t *ops, *val;
    if (lone && p->op == IK_OP_EQ && p->n_values == 1 && p->values[0].kind != IK_VAL_NULL)
        return json_object_set_new(f, p->column, value_to_json(&p->values[0])) ? EINVAL : 0;
    ops = json_object_get(f, p->column);
    if (ops == NULL) {
        if (json_object_set_new(f, p->column, json_object()) != 0)
            return ENOMEM;
        ops = json_object_get(f, p->column);
    }
    val = pred_value(p);
    if (val == NULL || json_object_set_new(ops, ik_op_name(p->op), val) != 0)
        return EINVAL;
    return 0;
}

static json_t *filter_to_json(const struct ik_query *q)
{
    size_t i, k, same_col;
    int repeated = 0;
    json_t *f;
    /* Two predicates with the same column and op do not fit one object: use the array form,
     * one object per predicate, in order. */
    for (i = 0; i < q->n_preds && !repeated; i++)
        for (k = 0; k < i; k++)
            if (q->preds[k].op == q->preds[i].op &&
                strcmp(q->preds[k].column, q->preds[i].column) == 0)
                repeated = 1;
    if (repeated) {
        f = json_array();
        for (i = 0; f && i < q->n_preds; i++) {
            json_t *o = json_object();
            if (o == NULL || pred_to_object(o, &q->preds[i], 1) != 0 ||
                json_array_append_new(f, o) != 0) {
                json_decref(o);
                json_decref(f);
                return NULL;
            }
        }
        return f;
    }
    f = json_object();
    for (i = 0; f && i < q->n_preds; i++) {
        for (k = 0, same_col = 0; k < q->n_preds; k++)
            same_col += strcmp(q->preds[k].column, q->preds[i].column) == 0;
        if (pred_to_object(f, &q->preds[i], same_col == 1) != 0) {
            json_decref(f);
            return NULL;
        }
    }
    return f;
}

int ik__query_to_jansson(const struct ik_query *q, json_t *obj)
{
    json_t *cols, *f;
    size_t i;
    if (json_object_set_new(obj, "table", json_string(q->table)) != 0)
        return EINVAL;
    if (q->n_columns) {
        cols = json_array();
        if (json_object_set_new(obj, "columns", cols) != 0)
            return ENOMEM;
        for (i = 0; i < q->n_columns; i++)
            if (json_array_append_new(cols, json_string(q->columns[i])) != 0)
                return EINVAL;
    }
    if (q->n_preds) {
        f = filter_to_json(q);
        if (json_object_set_new(obj, "filter", f) != 0)
            return EINVAL;
    }
    if (q->offset != 0 && json_object_set_new(obj, "offset", json_integer(q->offset)) != 0)
        return ENOMEM;
    if (q->limit >= 0 && json_object_set_new(obj, "limit", json_integer(q->limit)) != 0)
        return ENOMEM;
    return 0;
}

char *ik_query_to_json(const struct ik_query *q)
{
    json_t *obj = json_object();
    char *s = NULL;
    if (obj && ik__query_to_jansson(q, obj) == 0)
        s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return s;
}
