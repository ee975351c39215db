/* Python filter values to ik_values. Besides str, int, float, bool and None this accepts the
 * scalars users hold: numpy scalars (np.int64, np.float32, np.bool_, np.str_,
 * np.datetime64) and pyarrow scalars (pa.scalar(...)). Timestamp columns take a point in
 * time — datetime.datetime (naive means UTC), datetime.date (midnight UTC), np.datetime64, a
 * pyarrow timestamp or date scalar, or an ISO-8601 string — and refuse a bare number, which
 * IPFS-Kit read as seconds and Arrow as microseconds: the error says what to pass. */
#include "ikpy.h"

#include <datetime.h>
#include <string.h>

#define TS_HINT                                                                                    \
    "a timestamp column takes a datetime.datetime (naive means UTC), datetime.date, "              \
    "numpy.datetime64, pyarrow timestamp scalar or ISO-8601 string; for seconds since the "        \
    "epoch pass datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)"

int ikpy_values_init(void)
{
    PyDateTime_IMPORT;
    return PyDateTimeAPI ? 0 : -1;
}

static int bad(const char *col, const char *what, PyObject *v)
{
    PyObject *r = PyObject_Repr(v);
    const char *rs = r ? PyUnicode_AsUTF8(r) : NULL;
    char msg[IK_ERROR_SIZE];
    if (rs == NULL)
        PyErr_Clear();
    snprintf(msg, sizeof msg, "filter on '%s': %.80s (%s) %s", col, rs ? rs : "?",
             Py_TYPE(v)->tp_name, what);
    Py_XDECREF(r);
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

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int is_numpy(PyObject *v)
{
    return has_prefix(Py_TYPE(v)->tp_name, "numpy.");
}

static int is_pyarrow_scalar(PyObject *v)
{
    const char *n = Py_TYPE(v)->tp_name;
    size_t len = strlen(n);
    return has_prefix(n, "pyarrow.") && len > 6 && strcmp(n + len - 6, "Scalar") == 0;
}

static int is_numpy_datetime(PyObject *v)
{
    return strcmp(Py_TYPE(v)->tp_name, "numpy.datetime64") == 0;
}

static int is_arrow_time(PyObject *v)
{
    return is_pyarrow_scalar(v) &&
           (strstr(Py_TYPE(v)->tp_name, "Timestamp") || strstr(Py_TYPE(v)->tp_name, "Date"));
}

/* A whole number of `unit` ("s", "ms", "us", "ns", numpy's "D" too) to microseconds. */
static int unit_to_us(const char *col, PyObject *v, long long n, const char *unit, int64_t *out)
{
    static const struct {
        const char *name;
        long long mul, div;
    } units[] = {{"s", 1000000, 1}, {"ms", 1000, 1},         {"us", 1, 1},
                 {"ns", 1, 1000},   {"D", 86400000000LL, 1}, {"h", 3600000000LL, 1},
                 {"m", 60000000, 1}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].name) != 0)
            continue;
        if (units[i].div > 1) { /* floor, so that earlier instants stay earlier */
            long long q = n / units[i].div;
            *out = (n % units[i].div < 0) ? q - 1 : q;
        } else if (__builtin_mul_overflow(n, units[i].mul, out)) {
            return bad(col, "is out of range for a timestamp in microseconds", v);
        }
        return 0;
    }
    return bad(col, "has a time unit this column cannot take", v);
}

/* np.datetime64 -> microseconds; NaT -> null. */
static int numpy_datetime(PyObject *v, struct ik_value *out)
{
    PyObject *us = PyObject_CallMethod(v, "astype", "s", "datetime64[us]"), *i = NULL;
    long long n;
    if (us != NULL)
        i = PyObject_CallMethod(us, "astype", "s", "int64");
    Py_XDECREF(us);
    if (i == NULL)
        return -1;
    n = PyLong_AsLongLong(i);
    Py_DECREF(i);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n == INT64_MIN) { /* NaT */
        out->kind = IK_VAL_NULL;
        return 0;
    }
    out->kind = IK_VAL_INT;
    out->i = n;
    out->d = (double)n;
    return 0;
}

/* A pyarrow TimestampScalar: its integer value in its unit (tz or not: Arrow stores UTC). */
static int arrow_timestamp(const char *col, PyObject *v, struct ik_value *out)
{
    PyObject *valid = PyObject_GetAttrString(v, "is_valid"), *val = NULL, *type = NULL,
             *unit = NULL;
    long long n;
    int rc = -1;
    if (valid == NULL)
        return -1;
    if (!PyObject_IsTrue(valid)) {
        Py_DECREF(valid);
        out->kind = IK_VAL_NULL;
        return 0;
    }
    Py_DECREF(valid);
    if ((val = PyObject_GetAttrString(v, "value")) == NULL ||
        (type = PyObject_GetAttrString(v, "type")) == NULL ||
        (unit = PyObject_GetAttrString(type, "unit")) == NULL || !PyUnicode_Check(unit))
        goto done;
    n = PyLong_AsLongLong(val);
    if (n == -1 && PyErr_Occurred())
        goto done;
    if (unit_to_us(col, v, n, PyUnicode_AsUTF8(unit), &out->i) != 0)
        goto done;
    out->kind = IK_VAL_INT;
    out->d = (double)out->i;
    rc = 0;
done:
    if (rc != 0 && !PyErr_Occurred())
        bad(col, "is not a timestamp scalar pyarrow can describe", v);
    Py_XDECREF(val);
    Py_XDECREF(type);
    Py_XDECREF(unit);
    return rc;
}

/* A point in time for a timestamp column (v is not None). */
static int to_time(const char *col, PyObject *v, struct ik_value *out, PyObject **keep)
{
    out->kind = IK_VAL_INT;
    if (PyDateTime_Check(v)) {
        if (datetime_us(v, &out->i) != 0)
            return -1;
    } else if (PyDate_Check(v)) {
        out->i = days_from_civil(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v),
                                 PyDateTime_GET_DAY(v)) *
                 86400000000LL;
    } else if (PyUnicode_Check(v)) {
        PyObject *dt =
            PyObject_CallMethod((PyObject *)PyDateTimeAPI->DateTimeType, "fromisoformat", "O", v);
        int rc;
        if (dt == NULL) {
            PyErr_Clear();
            return bad(col, "is not an ISO-8601 date or time; " TS_HINT, v);
        }
        rc = datetime_us(dt, &out->i);
        Py_DECREF(dt);
        if (rc != 0)
            return -1;
    } else if (is_numpy_datetime(v)) {
        return numpy_datetime(v, out);
    } else if (is_pyarrow_scalar(v) && strstr(Py_TYPE(v)->tp_name, "Timestamp")) {
        return arrow_timestamp(col, v, out);
    } else if (is_pyarrow_scalar(v) && strstr(Py_TYPE(v)->tp_name, "Date")) {
        PyObject *py = PyObject_CallMethod(v, "as_py", NULL);
        if (py == NULL)
            return -1;
        Py_XDECREF(*keep);
        *keep = py;
        return py == Py_None ? (out->kind = IK_VAL_NULL, 0) : to_time(col, py, out, keep);
    } else if (PyNumber_Check(v)) {
        return bad(col,
                   "is a bare number, which would be ambiguous (IPFS-Kit read seconds, Arrow "
                   "microseconds); " TS_HINT,
                   v);
    } else {
        return bad(col, "is not a point in time; " TS_HINT, v);
    }
    out->d = (double)out->i;
    return 0;
}

/* A numpy or pyarrow scalar as the plain Python object it stands for (new reference). */
static PyObject *plain(PyObject *v)
{
    if (is_numpy(v))
        return PyObject_CallMethod(v, "item", NULL);
    return PyObject_CallMethod(v, "as_py", NULL);
}

int ikpy_value(const char *col, int ts_col, PyObject *v, struct ik_value *out, PyObject **keep)
{
    PyObject *orig = v;
    memset(out, 0, sizeof *out);
    *keep = NULL;
    if ((is_numpy(v) && !is_numpy_datetime(v)) || (is_pyarrow_scalar(v) && !is_arrow_time(v))) {
        /* np.int64(5), pa.scalar("s3"), ...: the Python value they stand for */
        if ((v = *keep = plain(v)) == NULL)
            return -1;
    }
    if (v == Py_None) {
        out->kind = IK_VAL_NULL;
        return 0;
    }
    if (ts_col) {
        if (v != orig && PyNumber_Check(v) && !PyUnicode_Check(v))
            return bad(col,
                       "is a bare number, which would be ambiguous (IPFS-Kit read seconds, "
                       "Arrow microseconds); " TS_HINT,
                       orig);
        return to_time(col, v, out, keep);
    }
    if (PyBool_Check(v)) {
        out->kind = IK_VAL_BOOL;
        out->b = v == Py_True;
    } else if (PyLong_Check(v)) {
        int overflow = 0;
        long long i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow)
            return bad(col, "does not fit in 64 bits", orig);
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
    } else if (PyDateTime_Check(v) || is_numpy_datetime(v) || is_arrow_time(v)) {
        return to_time(col, v, out, keep);
    } else {
        return bad(col,
                   "is not a filter value: use str, int, float, bool, None, datetime, or a "
                   "numpy or pyarrow scalar of one",
                   orig);
    }
    return 0;
}

int ikpy_int_arg(PyObject *v, const char *what, long long *out)
{
    PyObject *i;
    if (!PyIndex_Check(v) || PyBool_Check(v) ||
        strncmp(Py_TYPE(v)->tp_name, "numpy.bool", 10) == 0) {
        PyErr_Format(PyExc_TypeError, "%s must be an int or None, not %s", what,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    if ((i = PyNumber_Index(v)) == NULL) /* np.int64 too */
        return -1;
    *out = PyLong_AsLongLong(i);
    Py_DECREF(i);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}
