/* A query on one table: projection, row filter (a conjunction of predicates), offset and
 * limit. Built by the CLI and the client, carried in protocol requests as JSON, and applied to
 * a record batch — as slices when it can (projection, offset, limit: zero bytes copied) and by
 * materialising only the selected rows when a filter selects rows. */
#ifndef IPFSKIT_QUERY_H
#define IPFSKIT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"
#include "ipfskit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ik_op {
    IK_OP_EQ, /* column == value (strings, ints, timestamps, floats, bools) */
    IK_OP_NE, /* column != value (nulls never match) */
    IK_OP_GT, /* ordered comparisons: numbers, timestamps, strings (bytewise) */
    IK_OP_GTE,
    IK_OP_LT,
    IK_OP_LTE,
    IK_OP_IN,          /* column equals one of values[] */
    IK_OP_CONTAINS,    /* string column contains the substring value */
    IK_OP_PREFIX,      /* string column starts with value (bytewise) */
    IK_OP_PATH_PREFIX, /* path column equals value or lies under it: "/a" matches "/a" and
                          "/a/b", not "/ab"; "/" matches every absolute path */
    IK_OP_IS_NULL,     /* no value */
    IK_OP_NOT_NULL,
};

enum ik_value_kind { IK_VAL_NULL, IK_VAL_INT, IK_VAL_DOUBLE, IK_VAL_STR, IK_VAL_BOOL };

struct ik_value {
    enum ik_value_kind kind;
    int64_t i;
    double d;
    bool b;
    char *s; /* owned by the query */
    size_t len;
};

struct ik_predicate {
    char *column; /* owned */
    enum ik_op op;
    struct ik_value *values; /* owned; 1 value, or n for IK_OP_IN, 0 for the null tests */
    size_t n_values;
};

#define IK_TABLE_NAME_MAX 64

struct ik_query {
    char table[IK_TABLE_NAME_MAX];
    char **columns; /* owned; NULL (n_columns 0) means every column, in schema order */
    size_t n_columns;
    struct ik_predicate *preds; /* owned; all must hold (AND) */
    size_t n_preds;
    int64_t offset; /* rows skipped after filtering; >= 0 */
    int64_t limit;  /* -1 means no limit */
};

/* Init/reset pair: init sets table, no columns, no filter, offset 0, limit -1. */
void ik_query_init(struct ik_query *q, const char *table);
void ik_query_reset(struct ik_query *q);

/* Adds a projected column (order kept). ENOMEM only. */
int ik_query_add_column(struct ik_query *q, const char *name, struct ik_error *err);

/* Adds a predicate; `values` are copied. EINVAL for a wrong number of values. */
int ik_query_add_filter(struct ik_query *q, const char *column, enum ik_op op,
                        const struct ik_value *values, size_t n_values, struct ik_error *err);

/* Helpers for the common cases. */
int ik_query_filter_str(struct ik_query *q, const char *column, enum ik_op op, const char *s,
                        struct ik_error *err);
int ik_query_filter_int(struct ik_query *q, const char *column, enum ik_op op, int64_t v,
                        struct ik_error *err);

/* The op's wire name ("eq", "gt", "in", "contains", ...) and back (-1 when unknown). */
const char *ik_op_name(enum ik_op op);
int ik_op_from_name(const char *name);

/* Checks the query against the table schema: every column and filter column exists, each
 * op fits its column type and value kinds. EINVAL naming the column, e.g.
 * "filter on 'size_bytes': op 'contains' needs a string column". */
int ik_query_check(const struct ik_query *q, const struct ArrowSchema *schema,
                   struct ik_error *err);

/* Applies `q` to one record batch (`schema` + struct `batch`, both borrowed; the batch is
 * shared, not moved: the result holds its own references to the batch's buffers through
 * release callbacks). Projection, offset and limit are slices: no row is copied. When the
 * filter is not empty, only the selected rows are materialised (dictionary columns keep
 * their dictionary and copy their indices). `*matched` (may be NULL) receives the number of
 * rows matching the filter before offset/limit. Output schema keeps the input's metadata;
 * `schema_out` may be NULL when the caller does not need it (it costs a copy of the tree).
 * The input batch must stay valid until ik_query_apply returns; afterwards the output is
 * independent of the caller's copy of it. */
int ik_query_apply(const struct ik_query *q, const struct ArrowSchema *schema,
                   const struct ArrowArray *batch, struct ArrowSchema *schema_out,
                   struct ArrowArray *out, int64_t *matched, struct ik_error *err);

/* Serialises the query as the JSON fields of a protocol request: "table", "columns",
 * "filter" (IPFS-Kit's form: {"col": value} for eq, {"col": {"gt": 1}} otherwise, combined
 * with AND; two predicates on one column become one object with two ops), "offset",
 * "limit". Returns a malloc'd JSON object text, or NULL on ENOMEM. */
char *ik_query_to_json(const struct ik_query *q);

/* Parses the JSON object text written by ik_query_to_json (other keys ignored) into `q`
 * (initialised by this function). EFORMAT / EINVAL name the bad key and why. */
int ik_query_from_json(const char *json, size_t len, struct ik_query *q, struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
