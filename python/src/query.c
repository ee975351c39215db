/* Python query arguments to an ik_query: limit/offset, a column list, and filters in
 * IPFS-Kit's form — {"pin_type": "recursive"} for equality, {"size_bytes": {"gt": 1000}} for
 * an op (gt lt gte lte eq ne in contains prefix path_prefix is_null not_null), a list for
 * "in"; every predicate ANDed. Values: str, int, float, bool, None, and datetime (as
 * microseconds since the epoch, naive meaning UTC) for timestamp columns. Also the local check
 * of a query against its table's schema. */
#include "ikpy.h"

#include <datetime.h>
#include <string.h>

#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"

static const char *const tables[] = {"pin_index", "metrics", "vfs_stats", "backend_health"};
#define N_TABLES 4
static struct ArrowSchema table_schema[N_TABLES];

int ikpy_query_init_module(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
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

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* datetime -> microseconds since the epoch UTC (naive = UTC). 0 or -1 with an exception. */
static int datetime_us(PyObject *v, int64_t *out)
{
    int64_t days =
        days_from_civil(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v));
    int64_t us = ((days * 24 + PyDateTime_DATE_GET_HOUR(v)) * 60 + PyDateTime_DATE_GET_MINUTE(v)) *
                     60 * 1000000 +
                 (int64_t)PyDateTime_DATE_GET_SECOND(v) * 1000000 +
                 PyDateTime_DATE_GET_MICROSECOND(v);
    PyObject *off = PyObject_CallMethod(v, "utcoffset", NULL);
    if (off == NULL)
        return -1;
    if (off != Py_None && PyDelta_Check(off))
        us -=
            ((int64_t)PyDateTime_DELTA_GET_DAYS(off) * 86400 + PyDateTime_DELTA_GET_SECONDS(off)) *
                1000000 +
            PyDateTime_DELTA_GET_MICROSECONDS(off);
    Py_DECREF(off);
    *out = us;
    return 0;
}

/* One Python value to an ik_value (strings borrowed from the object). */
static int to_value(const char *col, PyObject *v, struct ik_value *out)
{
    memset(out, 0, sizeof *out);
    if (v == Py_None) {
        out->kind = IK_VAL_NULL;
    } else if (PyBool_Check(v)) {
        out->kind = IK_VAL_BOOL;
        out->b = v == Py_True;
    } else if (PyLong_Check(v)) {
        int overflow = 0;
        long long i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow)
            return bad("filter on '%s': integer %s does not fit in 64 bits", col, "value");
        if (i == -1 && PyErr_Occurred())
            return -1;
        out->kind = IK_VAL_INT;
        out->i = i;
        out->d = (double)i;
    } else if (PyFloat_Check(v)) {
        out->kind = IK_VAL_DOUBLE;
        out->d = PyFloat_AS_DOUBLE(v);
    } else if (PyUnicode_Check(v)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(v, &len);
        if (s == NULL)
            return -1;
        out->kind = IK_VAL_STR;
        out->s = (char *)s;
        out->len = (size_t)len;
    } else if (PyDateTime_Check(v)) {
        out->kind = IK_VAL_INT;
        if (datetime_us(v, &out->i) != 0)
            return -1;
        out->d = (double)out->i;
    } else {
        return bad("filter on '%s': values must be str, int, float, bool, None or datetime, "
                   "not %s",
                   col, Py_TYPE(v)->tp_name);
    }
    return 0;
}

static int add_one(struct ik_query *q, const char *col, enum ik_op op, PyObject *v)
{
    struct ik_error err = {{0}};
    struct ik_value val;
    int rc;
    if (to_value(col, v, &val) != 0)
        return -1;
    if (val.kind == IK_VAL_NULL && (op == IK_OP_EQ || op == IK_OP_NE))
        rc = ik_query_add_filter(q, col, op == IK_OP_EQ ? IK_OP_IS_NULL : IK_OP_NOT_NULL, NULL, 0,
                                 &err);
    else if (op == IK_OP_IS_NULL || op == IK_OP_NOT_NULL) {
        /* {"col": {"is_null": True}}; False flips the test */
        bool flip = val.kind == IK_VAL_BOOL && !val.b;
        enum ik_op o = op == IK_OP_IS_NULL ? IK_OP_NOT_NULL : IK_OP_IS_NULL;
        rc = ik_query_add_filter(q, col, flip ? o : op, NULL, 0, &err);
    } else
        rc = ik_query_add_filter(q, col, op, &val, 1, &err);
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
    Py_ssize_t n;
    int rc = -1;
    if (PyUnicode_Check(seq) || PyBytes_Check(seq))
        return bad("filter on '%s': op 'in' needs a list of values, not a %s", col,
                   Py_TYPE(seq)->tp_name);
    fast = PySequence_Fast(seq, "op 'in' needs a list of values");
    if (fast == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(fast);
    vals = PyMem_Calloc((size_t)(n ? n : 1), sizeof *vals);
    if (vals == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (to_value(col, PySequence_Fast_GET_ITEM(fast, i), &vals[i]) != 0)
            goto done;
    if (ik_query_add_filter(q, col, IK_OP_IN, vals, (size_t)n, &err) != 0) {
        ikpy_raise(EINVAL, &err);
        goto done;
    }
    rc = 0;
done:
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
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int or None, not %s", what,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    n = PyLong_AsLongLong(v);
    if (n == -1 && PyErr_Occurred())
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
