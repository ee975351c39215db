/* Python query arguments to an ik_query: limit/offset, a column list, and filters in
 * IPFS-Kit's form — {"pin_type": "recursive"} for equality, {"size_bytes": {"gt": 1000}} for
 * an op (gt lt gte lte eq ne in contains prefix path_prefix is_null not_null), a list for
 * "in"; every predicate ANDed (values.c converts the values). Also the local check
 * of a query against its table's schema. */
#include "ikpy.h"

#include <string.h>

#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"

static const char *const tables[] = {"pin_index", "metrics", "vfs_stats", "backend_health"};
#define N_TABLES 4
static struct ArrowSchema table_schema[N_TABLES];

int ikpy_query_init_module(void)
{
    if (ikpy_values_init() != 0)
        return -1;
    for (int i = 0; i < N_TABLES; i++) {
        struct ik_builder *b = NULL;
        struct ArrowArray empty = {0};
        struct ik_error err = {{0}};
        int rc = ik_builder_create_table(tables[i], 0, &b, &err);
        if (rc == 0)
            rc = ik_builder_finish(b, NULL, &table_schema[i], &empty, &err);
        ik_builder_destroy(b);
        if (rc != 0) {
            ikpy_raise(rc, &err);
            return -1;
        }
        empty.release(&empty);
    }
    return 0;
}

const struct ArrowSchema *ikpy_table_schema(const char *table)
{
    for (int i = 0; i < N_TABLES; i++)
        if (strcmp(table, tables[i]) == 0)
            return &table_schema[i];
    return NULL;
}

int ikpy_query_check(const struct ik_query *q)
{
    struct ik_error err = {{0}};
    for (int i = 0; i < N_TABLES; i++) {
        if (strcmp(q->table, tables[i]) == 0) {
            int rc = ik_query_check(q, &table_schema[i], &err);
            if (rc != 0) {
                ikpy_raise(EINVAL, &err);
                return -1;
            }
            return 0;
        }
    }
    return 0;
}

static int bad(const char *fmt, const char *a, const char *b)
{
    char msg[IK_ERROR_SIZE];
    snprintf(msg, sizeof msg, fmt, a, b);
    ikpy_raise_msg(EINVAL, msg);
    return -1;
}

/* Whether `col` of `table` is a timestamp column (Arrow format "ts..."). */
static int is_timestamp(const char *table, const char *col)
{
    for (int i = 0; i < N_TABLES; i++) {
        if (strcmp(table, tables[i]) != 0)
            continue;
        for (int64_t j = 0; j < table_schema[i].n_children; j++) {
            const struct ArrowSchema *f = table_schema[i].children[j];
            if (f->name && strcmp(f->name, col) == 0)
                return f->format && strncmp(f->format, "ts", 2) == 0;
        }
    }
    return 0;
}

static int add_one(struct ik_query *q, const char *col, enum ik_op op, PyObject *v)
{
    struct ik_error err = {{0}};
    struct ik_value val;
    PyObject *keep = NULL; /* owns val's string, if converted */
    int rc;
    if (op == IK_OP_IS_NULL || op == IK_OP_NOT_NULL) {
        /* {"col": {"is_null": True}}; False flips the test */
        int flip = v == Py_False ||
                   (strncmp(Py_TYPE(v)->tp_name, "numpy.bool", 10) == 0 && !PyObject_IsTrue(v));
        enum ik_op o = op == IK_OP_IS_NULL ? IK_OP_NOT_NULL : IK_OP_IS_NULL;
        rc = ik_query_add_filter(q, col, flip ? o : op, NULL, 0, &err);
        goto done;
    }
    if (ikpy_value(col, is_timestamp(q->table, col), v, &val, &keep) != 0) {
        Py_XDECREF(keep);
        return -1;
    }
    if (val.kind == IK_VAL_NULL && (op == IK_OP_EQ || op == IK_OP_NE))
        rc = ik_query_add_filter(q, col, op == IK_OP_EQ ? IK_OP_IS_NULL : IK_OP_NOT_NULL, NULL, 0,
                                 &err);
    else
        rc = ik_query_add_filter(q, col, op, &val, 1, &err);
    Py_XDECREF(keep);
done:
    if (rc != 0) {
        ikpy_raise(rc, &err);
        return -1;
    }
    return 0;
}

static int add_in(struct ik_query *q, const char *col, PyObject *seq)
{
    struct ik_error err = {{0}};
    PyObject *fast;
    struct ik_value *vals;
    PyObject **keep;
    Py_ssize_t n;
    int rc = -1, ts = is_timestamp(q->table, col);
    if (PyUnicode_Check(seq) || PyBytes_Check(seq))
        return bad("filter on '%s': op 'in' needs a list of values, not a %s", col,
                   Py_TYPE(seq)->tp_name);
    fast = PySequence_Fast(seq, "op 'in' needs a list of values");
    if (fast == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(fast);
    vals = PyMem_Calloc((size_t)(n ? n : 1), sizeof *vals);
    keep = PyMem_Calloc((size_t)(n ? n : 1), sizeof *keep);
    if (vals == NULL || keep == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (ikpy_value(col, ts, PySequence_Fast_GET_ITEM(fast, i), &vals[i], &keep[i]) != 0)
            goto done;
    if (ik_query_add_filter(q, col, IK_OP_IN, vals, (size_t)n, &err) != 0) {
        ikpy_raise(EINVAL, &err);
        goto done;
    }
    rc = 0;
done:
    for (Py_ssize_t i = 0; keep && i < n; i++)
        Py_XDECREF(keep[i]);
    PyMem_Free(keep);
    PyMem_Free(vals);
    Py_DECREF(fast);
    return rc;
}

static int is_list_like(PyObject *v)
{
    return PyList_Check(v) || PyTuple_Check(v) || PyAnySet_Check(v);
}

static int add_filters(struct ik_query *q, PyObject *filters)
{
    PyObject *key, *spec;
    Py_ssize_t pos = 0;
    if (!PyDict_Check(filters)) {
        PyErr_Format(PyExc_TypeError, "filters must be a dict, not %s", Py_TYPE(filters)->tp_name);
        return -1;
    }
    while (PyDict_Next(filters, &pos, &key, &spec)) {
        const char *col;
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "filter keys must be column names (str)");
            return -1;
        }
        if ((col = PyUnicode_AsUTF8(key)) == NULL)
            return -1;
        if (PyDict_Check(spec)) {
            PyObject *opk, *v;
            Py_ssize_t p2 = 0;
            if (PyDict_GET_SIZE(spec) == 0)
                return bad("filter on '%s': an empty %s of ops", col, "dict");
            while (PyDict_Next(spec, &p2, &opk, &v)) {
                const char *opname = PyUnicode_Check(opk) ? PyUnicode_AsUTF8(opk) : NULL;
                int op = opname ? ik_op_from_name(opname) : -1;
                if (op < 0) {
                    if (PyErr_Occurred())
                        return -1;
                    return bad("filter on '%s': unknown op '%s' (use gt, lt, gte, lte, eq, ne, "
                               "in, contains, prefix, path_prefix, is_null, not_null)",
                               col, opname ? opname : "?");
                }
                if (op == IK_OP_IN ? add_in(q, col, v) : add_one(q, col, (enum ik_op)op, v))
                    return -1;
            }
        } else if (is_list_like(spec)) {
            if (add_in(q, col, spec) != 0)
                return -1;
        } else if (add_one(q, col, IK_OP_EQ, spec) != 0) {
            return -1;
        }
    }
    return 0;
}

static int add_columns(struct ik_query *q, PyObject *columns)
{
    struct ik_error err = {{0}};
    PyObject *fast;
    if (PyUnicode_Check(columns)) {
        const char *s = PyUnicode_AsUTF8(columns);
        if (s == NULL)
            return -1;
        if (ik_query_add_column(q, s, &err) != 0) {
            ikpy_raise(ENOMEM, &err);
            return -1;
        }
        return 0;
    }
    fast = PySequence_Fast(columns, "columns must be a list of column names");
    if (fast == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        PyObject *c = PySequence_Fast_GET_ITEM(fast, i);
        const char *s = PyUnicode_Check(c) ? PyUnicode_AsUTF8(c) : NULL;
        if (s == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "columns must be a list of column names (str)");
            Py_DECREF(fast);
            return -1;
        }
        if (ik_query_add_column(q, s, &err) != 0) {
            Py_DECREF(fast);
            ikpy_raise(ENOMEM, &err);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

static int to_count(PyObject *v, const char *what, int64_t none_value, int64_t *out)
{
    long long n;
    if (v == NULL || v == Py_None) {
        *out = none_value;
        return 0;
    }
    if (ikpy_int_arg(v, what, &n) != 0)
        return -1;
    if (n < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be >= 0, got %lld", what, n);
        ikpy_raise_msg(EINVAL, msg);
        return -1;
    }
    *out = n;
    return 0;
}

int ikpy_query_fill(struct ik_query *q, PyObject *limit, PyObject *offset, PyObject *filters,
                    PyObject *columns)
{
    if (to_count(limit, "limit", -1, &q->limit) != 0 ||
        to_count(offset, "offset", 0, &q->offset) != 0)
        return -1;
    if (columns && columns != Py_None && add_columns(q, columns) != 0)
        return -1;
    if (filters && filters != Py_None && add_filters(q, filters) != 0)
        return -1;
    return 0;
}
