/* The ik_query value: init/reset, adding projected columns and predicates, op names. The
 * evaluation lives in query.c, the JSON form in lib/proto/query_json.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/query.h"

static const char *const op_names[] = {
    [IK_OP_EQ] = "eq",           [IK_OP_NE] = "ne",
    [IK_OP_GT] = "gt",           [IK_OP_GTE] = "gte",
    [IK_OP_LT] = "lt",           [IK_OP_LTE] = "lte",
    [IK_OP_IN] = "in",           [IK_OP_CONTAINS] = "contains",
    [IK_OP_PREFIX] = "prefix",   [IK_OP_PATH_PREFIX] = "path_prefix",
    [IK_OP_IS_NULL] = "is_null", [IK_OP_NOT_NULL] = "not_null",
};

#define N_OPS ((int)(sizeof op_names / sizeof op_names[0]))

const char *ik_op_name(enum ik_op op)
{
    return (int)op >= 0 && (int)op < N_OPS ? op_names[op] : "?";
}

int ik_op_from_name(const char *name)
{
    for (int i = 0; i < N_OPS; i++)
        if (strcmp(op_names[i], name) == 0)
            return i;
    return -1;
}

void ik_query_init(struct ik_query *q, const char *table)
{
    memset(q, 0, sizeof *q);
    if (table)
        snprintf(q->table, sizeof q->table, "%s", table);
    q->limit = -1;
}

static void value_reset(struct ik_value *v)
{
    free(v->s);
    v->s = NULL;
}

void ik_query_reset(struct ik_query *q)
{
    size_t i, j;
    for (i = 0; i < q->n_columns; i++)
        free(q->columns[i]);
    free(q->columns);
    for (i = 0; i < q->n_preds; i++) {
        for (j = 0; j < q->preds[i].n_values; j++)
            value_reset(&q->preds[i].values[j]);
        free(q->preds[i].values);
        free(q->preds[i].column);
    }
    free(q->preds);
    ik_query_init(q, NULL);
}

int ik_query_add_column(struct ik_query *q, const char *name, struct ik_error *err)
{
    char **cols = realloc(q->columns, (q->n_columns + 1) * sizeof *cols);
    if (!cols)
        return ik_error_set(err, ENOMEM, "out of memory adding column '%s'", name);
    q->columns = cols;
    cols[q->n_columns] = strdup(name);
    if (!cols[q->n_columns])
        return ik_error_set(err, ENOMEM, "out of memory adding column '%s'", name);
    q->n_columns++;
    return 0;
}

static int value_copy(struct ik_value *dst, const struct ik_value *src)
{
    *dst = *src;
    dst->s = NULL;
    if (src->kind == IK_VAL_STR) {
        dst->s = malloc(src->len + 1);
        if (!dst->s)
            return ENOMEM;
        memcpy(dst->s, src->s, src->len);
        dst->s[src->len] = 0;
    }
    return 0;
}

int ik_query_add_filter(struct ik_query *q, const char *column, enum ik_op op,
                        const struct ik_value *values, size_t n_values, struct ik_error *err)
{
    struct ik_predicate *preds, *p;
    size_t want = op == IK_OP_IN ? n_values : (op == IK_OP_IS_NULL || op == IK_OP_NOT_NULL) ? 0 : 1;
    if ((int)op < 0 || (int)op >= N_OPS)
        return ik_error_set(err, EINVAL, "filter on '%s': unknown op %d", column, (int)op);
    if (n_values != want || (op == IK_OP_IN && n_values == 0))
        return ik_error_set(err, EINVAL, "filter on '%s': op '%s' takes %s, got %zu", column,
                            ik_op_name(op),
                            op == IK_OP_IN ? "one or more values"
                            : want         ? "one value"
                                           : "no value",
                            n_values);
    preds = realloc(q->preds, (q->n_preds + 1) * sizeof *preds);
    if (!preds)
        return ik_error_set(err, ENOMEM, "out of memory adding a filter");
    q->preds = preds;
    p = &preds[q->n_preds];
    memset(p, 0, sizeof *p);
    p->op = op;
    p->column = strdup(column);
    p->values = n_values ? calloc(n_values, sizeof *p->values) : NULL;
    if (!p->column || (n_values && !p->values)) {
        free(p->column);
        free(p->values);
        return ik_error_set(err, ENOMEM, "out of memory adding a filter");
    }
    q->n_preds++; /* from here reset frees what was copied */
    for (size_t i = 0; i < n_values; i++) {
        if (value_copy(&p->values[i], &values[i]))
            return ik_error_set(err, ENOMEM, "out of memory adding a filter");
        p->n_values = i + 1;
    }
    return 0;
}

int ik_query_filter_str(struct ik_query *q, const char *column, enum ik_op op, const char *s,
                        struct ik_error *err)
{
    struct ik_value v = {.kind = IK_VAL_STR, .s = (char *)s, .len = strlen(s)};
    return ik_query_add_filter(q, column, op, &v, 1, err);
}

int ik_query_filter_int(struct ik_query *q, const char *column, enum ik_op op, int64_t i,
                        struct ik_error *err)
{
    struct ik_value v = {.kind = IK_VAL_INT, .i = i, .d = (double)i};
    return ik_query_add_filter(q, column, op, &v, 1, err);
}
