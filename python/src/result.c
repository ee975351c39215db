/* Result: one query's answer. Keeps the batches (a refcounted ikpy_batches, independent of
 * pyarrow, the client, the daemon and the snapshot file) and hands out a fresh
 * ArrowArrayStream on every __arrow_c_stream__ call, so pyarrow, polars and DuckDB can read
 * it — any number of times — without copying. Also says which path the query took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ikpy.h"
#include <structmember.h>

typedef struct {
    PyObject_HEAD struct ikpy_batches *b;
    const char *method;
    const char *source;
    const char *detail;
    unsigned long long version;
    long long rows;
    long long matched; /* -1: not counted (direct SQLite path) */
    long long table_rows;
    struct ik_timings t;
    char reason[sizeof((struct ik_result *)0)->reason];
} ResultObject;

PyObject *ikpy_result_new(const struct ik_result *r, struct ikpy_batches *b)
{
    ResultObject *self = PyObject_New(ResultObject, &ikpy_ResultType);
    if (self == NULL) {
        ikpy_batches_unref(b);
        return NULL;
    }
    self->b = b;
    self->method = r->method_name; /* static strings in the library */
    self->source = r->source;
    self->detail = r->detail ? r->detail : "";
    self->version = r->version;
    self->rows = ikpy_batches_rows(b);
    self->matched = r->matched;
    self->table_rows = r->table_rows;
    self->t = r->timings;
    snprintf(self->reason, sizeof self->reason, "%s", r->reason);
    return (PyObject *)self;
}

static void result_dealloc(ResultObject *self)
{
    ikpy_batches_unref(self->b);
    PyObject_Free(self);
}

static void stream_capsule_free(PyObject *cap)
{
    struct ArrowArrayStream *s = PyCapsule_GetPointer(cap, "arrow_array_stream");
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    if (s->release)
        s->release(s);
    free(s);
}

static void schema_capsule_free(PyObject *cap)
{
    struct ArrowSchema *s = PyCapsule_GetPointer(cap, "arrow_schema");
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    if (s->release)
        s->release(s);
    free(s);
}

/* __arrow_c_stream__(requested_schema=None): a new stream each call. The requested schema is
 * accepted and, as the protocol allows, not applied (best effort): the result already has the
 * columns and types the query asked for. */
static PyObject *result_c_stream(ResultObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"requested_schema", NULL};
    PyObject *requested = Py_None, *cap;
    struct ArrowArrayStream *s;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:__arrow_c_stream__", kwlist, &requested))
        return NULL;
    s = malloc(sizeof *s);
    if (s == NULL || ikpy_batches_export_stream(self->b, s) != 0) {
        free(s);
        return PyErr_NoMemory();
    }
    cap = PyCapsule_New(s, "arrow_array_stream", stream_capsule_free);
    if (cap == NULL) {
        s->release(s);
        free(s);
    }
    return cap;
}

static PyObject *result_c_schema(ResultObject *self, PyObject *noargs)
{
    struct ik_error err = {{0}};
    struct ArrowSchema *s = malloc(sizeof *s);
    PyObject *cap;
    int rc;
    (void)noargs;
    if (s == NULL)
        return PyErr_NoMemory();
    if ((rc = ik_schema_copy(ikpy_batches_schema(self->b), s, &err)) != 0) {
        free(s);
        return ikpy_raise(rc, &err);
    }
    cap = PyCapsule_New(s, "arrow_schema", schema_capsule_free);
    if (cap == NULL) {
        s->release(s);
        free(s);
    }
    return cap;
}

static PyObject *pyarrow_table_fn;

static PyObject *result_to_pyarrow(ResultObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pyarrow_table_fn == NULL) {
        PyObject *pa = PyImport_ImportModule("pyarrow");
        if (pa == NULL)
            return NULL;
        pyarrow_table_fn = PyObject_GetAttrString(pa, "table");
        Py_DECREF(pa);
        if (pyarrow_table_fn == NULL)
            return NULL;
    }
    return PyObject_CallOneArg(pyarrow_table_fn, (PyObject *)self);
}

static PyObject *result_to_pandas(ResultObject *self, PyObject *args, PyObject *kw)
{
    PyObject *t = result_to_pyarrow(self, NULL), *fn, *df;
    if (t == NULL)
        return NULL;
    fn = PyObject_GetAttrString(t, "to_pandas");
    Py_DECREF(t);
    if (fn == NULL)
        return NULL;
    df = PyObject_Call(fn, args, kw);
    Py_DECREF(fn);
    return df;
}

static PyObject *get_method(ResultObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->method);
}

static PyObject *get_source(ResultObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->source);
}

static PyObject *get_detail(ResultObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->detail);
}

static PyObject *get_reason(ResultObject *self, void *c)
{
    (void)c;
    return PyUnicode_DecodeUTF8(self->reason, (Py_ssize_t)strlen(self->reason), "replace");
}

static PyObject *get_matched(ResultObject *self, void *c)
{
    (void)c;
    if (self->matched < 0)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(self->matched);
}

static PyObject *get_timings(ResultObject *self, void *c)
{
    (void)c;
    return Py_BuildValue("{s:d,s:d,s:d,s:d}", "connect", self->t.connect_ms, "request",
                         self->t.request_ms, "decode", self->t.decode_ms, "total",
                         self->t.total_ms);
}

static PyObject *get_num_batches(ResultObject *self, void *c)
{
    (void)c;
    return PyLong_FromLongLong(ikpy_batches_count(self->b));
}

static Py_ssize_t result_len(ResultObject *self)
{
    return (Py_ssize_t)self->rows;
}

static PyObject *result_repr(ResultObject *self)
{
    return PyUnicode_FromFormat("<ipfs_kit_arrow.Result %lld rows, method=%s, source=%s, "
                                "version=%llu>",
                                self->rows, self->method, self->source, self->version);
}

static PyMethodDef result_methods[] = {
    {"__arrow_c_stream__", (PyCFunction)(void (*)(void))result_c_stream,
     METH_VARARGS | METH_KEYWORDS,
     "__arrow_c_stream__($self, /, requested_schema=None)\n--\n\nA new ArrowArrayStream "
     "PyCapsule over the result (every call; no copy)."},
    {"__arrow_c_schema__", (PyCFunction)result_c_schema, METH_NOARGS,
     "__arrow_c_schema__($self, /)\n--\n\nThe result's schema as an ArrowSchema PyCapsule."},
    {"to_pyarrow", (PyCFunction)result_to_pyarrow, METH_NOARGS,
     "to_pyarrow($self, /)\n--\n\nThe result as a pyarrow.Table sharing its buffers (no copy)."},
    {"to_pandas", (PyCFunction)(void (*)(void))result_to_pandas, METH_VARARGS | METH_KEYWORDS,
     "to_pandas($self, /, **kwargs)\n--\n\nThe result as a pandas.DataFrame (through pyarrow; "
     "arguments go to Table.to_pandas)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef result_members[] = {
    {"version", T_ULONGLONG, offsetof(ResultObject, version), READONLY,
     "Snapshot version (the store generation the rows reflect)."},
    {"rows", T_LONGLONG, offsetof(ResultObject, rows), READONLY, "Rows in the result."},
    {"table_rows", T_LONGLONG, offsetof(ResultObject, table_rows), READONLY,
     "Rows in the whole table."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef result_getset[] = {
    {"method", (getter)get_method, NULL,
     "Path taken: zero_copy, ipc_stream, direct or traditional.", NULL},
    {"source", (getter)get_source, NULL,
     "arrow_ipc_daemon, direct_pin_index or traditional_json_fallback.", NULL},
    {"detail", (getter)get_detail, NULL,
     "fd (zero_copy), snapshot or sqlite (direct), compression (ipc_stream), json.", NULL},
    {"reason", (getter)get_reason, NULL,
     "Why a fallback path answered (e.g. the daemon did not answer within the timeout); '' "
     "when the query took its usual path.",
     NULL},
    {"matched", (getter)get_matched, NULL,
     "Rows matching the filter before offset/limit (None when not counted).", NULL},
    {"timings", (getter)get_timings, NULL, "Milliseconds spent: connect, request, decode, total.",
     NULL},
    {"num_batches", (getter)get_num_batches, NULL, "Record batches in the result.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods result_as_sequence = {
    .sq_length = (lenfunc)result_len,
};

PyTypeObject ikpy_ResultType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ipfs_kit_arrow.Result",
    .tp_basicsize = sizeof(ResultObject),
    .tp_dealloc = (destructor)result_dealloc,
    .tp_repr = (reprfunc)result_repr,
    .tp_as_sequence = &result_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A query result: read it with pa.table(r), pl.DataFrame(r), duckdb or "
              "r.to_pyarrow(); any number of times, without copying.",
    .tp_methods = result_methods,
    .tp_members = result_members,
    .tp_getset = result_getset,
};
