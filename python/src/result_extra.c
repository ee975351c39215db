/* Result conveniences built on its Arrow stream (they need pyarrow, imported on first use):
 * schema, to_batches / iter_batches in chunks of a chosen size, and pickling — a Result
 * pickles its rows (as a pyarrow Table does: the buffers' bytes) and how they were obtained,
 * and unpickles into a Result of its own memory. */
#include <string.h>

#include "ikpy.h"

static PyObject *pyarrow_attr(const char *name)
{
    PyObject *pa = PyImport_ImportModule("pyarrow"), *f;
    if (pa == NULL)
        return NULL;
    f = PyObject_GetAttrString(pa, name);
    Py_DECREF(pa);
    return f;
}

static PyObject *result_schema(PyObject *self, void *c)
{
    PyObject *fn = pyarrow_attr("schema"), *r;
    (void)c;
    if (fn == NULL)
        return NULL;
    r = PyObject_CallOneArg(fn, self);
    Py_DECREF(fn);
    return r;
}

static PyObject *table_of(PyObject *self)
{
    PyObject *fn = pyarrow_attr("table"), *t;
    if (fn == NULL)
        return NULL;
    t = PyObject_CallOneArg(fn, self);
    Py_DECREF(fn);
    return t;
}

/* to_batches(max_chunksize=None): a list of pyarrow.RecordBatch, none longer than
 * max_chunksize rows (slices of the result's batches: no copy). */
static PyObject *result_to_batches(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"max_chunksize", NULL};
    PyObject *size = Py_None, *t, *r;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:to_batches", kwlist, &size))
        return NULL;
    if (size != Py_None) {
        Py_ssize_t n = PyNumber_AsSsize_t(size, PyExc_OverflowError);
        if (n == -1 && PyErr_Occurred())
            return NULL;
        if (n <= 0)
            return ikpy_raise_msg(EINVAL, "max_chunksize must be a positive number of rows");
    }
    if ((t = table_of(self)) == NULL)
        return NULL;
    r = PyObject_CallMethod(t, "to_batches", "O", size);
    Py_DECREF(t);
    return r;
}

/* to_dataset(): a pyarrow.dataset.Dataset over the rows (pyarrow's dataset() takes only its own
 * types, not PyCapsule objects, so ds.dataset(result) itself cannot work). */
static PyObject *result_to_dataset(PyObject *self, PyObject *noargs)
{
    PyObject *mod = PyImport_ImportModule("pyarrow.dataset"), *t = NULL, *r = NULL;
    (void)noargs;
    if (mod != NULL && (t = table_of(self)) != NULL)
        r = PyObject_CallMethod(mod, "dataset", "O", t);
    Py_XDECREF(t);
    Py_XDECREF(mod);
    return r;
}

static PyObject *result_iter_batches(PyObject *self, PyObject *args, PyObject *kw)
{
    PyObject *l = result_to_batches(self, args, kw), *it;
    if (l == NULL)
        return NULL;
    it = PyObject_GetIter(l);
    Py_DECREF(l);
    return it;
}

static PyObject *result_reduce(PyObject *self, PyObject *noargs)
{
    static const char *const attrs[] = {"method",  "source",     "detail", "version",
                                        "matched", "table_rows", "timings"};
    PyObject *meta = PyDict_New(), *t = NULL, *fn = NULL, *r = NULL;
    (void)noargs;
    if (meta == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        PyObject *v = PyObject_GetAttrString(self, attrs[i]);
        int rc = v ? PyDict_SetItemString(meta, attrs[i], v) : -1;
        Py_XDECREF(v);
        if (rc != 0)
            goto done;
    }
    if ((t = table_of(self)) == NULL)
        goto done;
    {
        PyObject *mod = PyImport_ImportModule("ipfs_kit_arrow._ipfs_kit_arrow");
        if (mod == NULL)
            goto done;
        fn = PyObject_GetAttrString(mod, "_result_from_arrow");
        Py_DECREF(mod);
    }
    if (fn)
        r = Py_BuildValue("(O(OO))", fn, t, meta);
done:
    Py_XDECREF(fn);
    Py_XDECREF(t);
    Py_DECREF(meta);
    return r;
}

/* The library's static string equal to `s` among `names`, or "" (a Result keeps pointers). */
static const char *static_name(PyObject *meta, const char *key, const char *const *names)
{
    PyObject *v = PyDict_GetItemString(meta, key);
    const char *s = v && PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
    for (int i = 0; s && names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return names[i];
    return "";
}

static long long meta_int(PyObject *meta, const char *key, long long none)
{
    PyObject *v = PyDict_GetItemString(meta, key);
    long long n;
    if (v == NULL || !PyLong_Check(v))
        return none;
    n = PyLong_AsLongLong(v);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return none;
    }
    return n;
}

static double meta_ms(PyObject *meta, const char *key)
{
    PyObject *t = PyDict_GetItemString(meta, "timings"), *v;
    double d;
    if (t == NULL || !PyDict_Check(t) || (v = PyDict_GetItemString(t, key)) == NULL)
        return 0;
    d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return d;
}

/* _result_from_arrow(data, meta): a Result over anything with __arrow_c_stream__ (drained
 * into memory of its own) describing itself as meta says (what __reduce__ saved). */
PyObject *ikpy_result_from_arrow(PyObject *mod, PyObject *args)
{
    static const char *const methods[] = {"zero_copy", "ipc_stream", "direct", "traditional", NULL};
    static const char *const sources[] = {"arrow_ipc_daemon", "direct_pin_index",
                                          "traditional_json_fallback", NULL};
    static const char *const details[] = {"fd",   "held", "page", "snapshot", "sqlite",
                                          "json", "none", "lz4",  "zstd",     NULL};
    PyObject *data, *meta;
    struct ArrowArrayStream stream;
    struct ikpy_batches *b = NULL;
    struct ik_error err = {{0}};
    struct ik_result r;
    int rc;
    (void)mod;
    if (!PyArg_ParseTuple(args, "OO!:_result_from_arrow", &data, &PyDict_Type, &meta))
        return NULL;
    if (ikpy_take_stream(data, &stream) != 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS rc = ikpy_batches_from_stream(&stream, &b, &err);
    Py_END_ALLOW_THREADS if (rc != 0) return ikpy_raise(rc, &err);
    ik_result_init(&r);
    r.method_name = static_name(meta, "method", methods);
    r.source = static_name(meta, "source", sources);
    r.detail = static_name(meta, "detail", details);
    r.version = (uint64_t)meta_int(meta, "version", 0);
    r.matched = meta_int(meta, "matched", -1);
    r.table_rows = meta_int(meta, "table_rows", -1);
    r.timings.connect_ms = meta_ms(meta, "connect");
    r.timings.request_ms = meta_ms(meta, "request");
    r.timings.decode_ms = meta_ms(meta, "decode");
    r.timings.total_ms = meta_ms(meta, "total");
    return ikpy_result_new(&r, b);
}

PyMethodDef ikpy_result_extra[] = {
    {"to_batches", (PyCFunction)(void (*)(void))result_to_batches, METH_VARARGS | METH_KEYWORDS,
     "to_batches($self, /, max_chunksize=None)\n--\n\nThe rows as a list of "
     "pyarrow.RecordBatch, each at most max_chunksize rows (slices: no copy)."},
    {"iter_batches", (PyCFunction)(void (*)(void))result_iter_batches, METH_VARARGS | METH_KEYWORDS,
     "iter_batches($self, /, max_chunksize=None)\n--\n\nAn iterator over to_batches(...)."},
    {"to_dataset", (PyCFunction)result_to_dataset, METH_NOARGS,
     "to_dataset($self, /)\n--\n\nA pyarrow.dataset.Dataset over the rows (in memory, no "
     "copy)."},
    {"__reduce__", (PyCFunction)result_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nPickles the rows and how they were obtained."},
    {NULL, NULL, 0, NULL},
};

PyGetSetDef ikpy_result_extra_getset[] = {
    {"schema", (getter)result_schema, NULL, "The result's pyarrow.Schema.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
