/* The _ipfs_kit_arrow module: its exception classes (one per kind of library error, each a
 * subclass of Error carrying the C library's message and code) and type registration. */
#include <pthread.h>
#include <string.h>

#include "ikpy.h"

PyObject *ikpy_Error;
volatile unsigned ikpy_forks;

static void count_fork(void)
{
    ikpy_forks++;
}
static PyObject *DaemonNotRunning, *InvalidQuery, *LockedError, *ProtocolError, *RemoteError,
    *RequestTimeout, *NotFound, *FormatError, *ChangesGone;

static PyObject *class_for(int code)
{
    switch (code) {
    case IK_EDAEMON:
        return DaemonNotRunning;
    case EINVAL:
        return InvalidQuery;
    case IK_ELOCKED:
        return LockedError;
    case IK_EPROTO:
        return ProtocolError;
    case IK_EREMOTE:
        return RemoteError;
    case ETIMEDOUT:
        return RequestTimeout;
    case ENOENT:
        return NotFound;
    case IK_EFORMAT:
    case IK_EINVALID:
        return FormatError;
    case IK_EGONE:
        return ChangesGone;
    default:
        return ikpy_Error;
    }
}

PyObject *ikpy_raise_msg(int code, const char *msg)
{
    PyObject *cls, *exc, *c;
    int rc;
    if (code == ENOMEM)
        return PyErr_NoMemory();
    cls = class_for(code);
    exc = PyObject_CallFunction(cls, "s", msg && msg[0] ? msg : ik_strerror(code));
    if (exc == NULL)
        return NULL;
    c = PyLong_FromLong(code);
    rc = c ? PyObject_SetAttrString(exc, "code", c) : -1;
    Py_XDECREF(c);
    if (rc != 0) {
        Py_DECREF(exc);
        return NULL;
    }
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *ikpy_raise(int code, const struct ik_error *err)
{
    return ikpy_raise_msg(code, err ? err->message : NULL);
}

static int add_exc(PyObject *m, PyObject **slot, const char *name, PyObject *extra_base,
                   const char *doc)
{
    char full[128];
    PyObject *bases;
    snprintf(full, sizeof full, "ipfs_kit_arrow.%s", name);
    bases = extra_base ? PyTuple_Pack(2, ikpy_Error, extra_base) : PyTuple_Pack(1, ikpy_Error);
    if (bases == NULL)
        return -1;
    *slot = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (*slot == NULL)
        return -1;
    Py_INCREF(*slot);
    return PyModule_AddObject(m, name, *slot);
}

static int add_exceptions(PyObject *m)
{
    ikpy_Error = PyErr_NewExceptionWithDoc(
        "ipfs_kit_arrow.Error",
        "Base class of ipfs_kit_arrow errors; str() is the C library's message, .code its "
        "error code.",
        NULL, NULL);
    if (ikpy_Error == NULL)
        return -1;
    Py_INCREF(ikpy_Error);
    if (PyModule_AddObject(m, "Error", ikpy_Error) != 0)
        return -1;
    return add_exc(m, &DaemonNotRunning, "DaemonNotRunning", PyExc_ConnectionError,
                   "No daemon answers on the socket and the call needs one.") ||
           add_exc(m, &InvalidQuery, "InvalidQuery", PyExc_ValueError,
                   "A bad query or argument (unknown column, op not fitting the column, ...).") ||
           add_exc(m, &LockedError, "LockedError", NULL,
                   "The store is held by a daemon that does not answer.") ||
           add_exc(m, &ProtocolError, "ProtocolError", NULL,
                   "The daemon broke the wire protocol.") ||
           add_exc(m, &RemoteError, "RemoteError", NULL,
                   "The daemon answered with an error; the message is its own.") ||
           add_exc(m, &RequestTimeout, "RequestTimeout", PyExc_TimeoutError,
                   "The daemon did not answer in time.") ||
           add_exc(m, &NotFound, "NotFound", PyExc_LookupError,
                   "Something named does not exist (data directory, store, pin).") ||
           add_exc(m, &FormatError, "FormatError", PyExc_ValueError,
                   "Malformed input bytes (Arrow IPC, JSON, configuration).") ||
           add_exc(m, &ChangesGone, "ChangesGone", NULL,
                   "changes(since=V): the change log no longer reaches back to V; the message "
                   "names the oldest version kept. Re-read the table and follow from its "
                   "version.");
}

/* A new table of n + m entries (and the zeroed end marker): `old`'s, then `extra`'s. It lives
 * as long as the type, so it is never freed. */
static void *joined(const void *old, size_t n, const void *extra, size_t m, size_t size)
{
    char *all = PyMem_Calloc(n + m + 1, size);
    if (all == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (n)
        memcpy(all, old, n * size);
    memcpy(all + n * size, extra, m * size);
    return all;
}

int ikpy_add_methods(PyTypeObject *t, const PyMethodDef *extra)
{
    size_t n = 0, m = 0;
    while (t->tp_methods && t->tp_methods[n].ml_name)
        n++;
    while (extra[m].ml_name)
        m++;
    t->tp_methods = joined(t->tp_methods, n, extra, m, sizeof *extra);
    return t->tp_methods ? 0 : -1;
}

int ikpy_add_getset(PyTypeObject *t, const PyGetSetDef *extra)
{
    size_t n = 0, m = 0;
    while (t->tp_getset && t->tp_getset[n].name)
        n++;
    while (extra[m].name)
        m++;
    t->tp_getset = joined(t->tp_getset, n, extra, m, sizeof *extra);
    return t->tp_getset ? 0 : -1;
}

PyObject *ikpy_json_loads(const char *text)
{
    PyObject *json = PyImport_ImportModule("json"), *r;
    if (json == NULL)
        return NULL;
    r = PyObject_CallMethod(json, "loads", "s", text);
    Py_DECREF(json);
    return r;
}

int ikpy_take_stream(PyObject *data, struct ArrowArrayStream *out)
{
    PyObject *cap = PyObject_CallMethod(data, "__arrow_c_stream__", NULL);
    struct ArrowArrayStream *src;
    if (cap == NULL)
        return -1;
    src = PyCapsule_GetPointer(cap, "arrow_array_stream");
    if (src == NULL || src->release == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "__arrow_c_stream__ gave a released stream");
        Py_DECREF(cap);
        return -1;
    }
    memcpy(out, src, sizeof *out); /* move out of the capsule */
    src->release = NULL;
    Py_DECREF(cap);
    return 0;
}

static PyObject *method_names(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return Py_BuildValue("(ssss)", "zero_copy", "ipc_stream", "direct", "traditional");
}

static PyMethodDef module_methods[] = {
    {"methods", method_names, METH_NOARGS,
     "methods()\n--\n\nThe query paths a Result's method can name."},
    {"_result_from_arrow", ikpy_result_from_arrow, METH_VARARGS,
     "_result_from_arrow(data, meta, /)\n--\n\nA Result over an Arrow stream (unpickling)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_ipfs_kit_arrow",
    .m_doc = "ipfs-kit's C client (libipfskit) for Python: pin metadata as zero-copy Arrow.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__ipfs_kit_arrow(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    if (add_exceptions(m) != 0 || ikpy_query_init_module() != 0)
        goto fail;
    pthread_atfork(NULL, NULL, count_fork);
    ikpy_ClientType.tp_repr = ikpy_client_repr;
    if (ikpy_add_methods(&ikpy_ClientType, ikpy_client_ops) != 0 ||
        ikpy_add_methods(&ikpy_ResultType, ikpy_result_extra) != 0 ||
        ikpy_add_getset(&ikpy_ResultType, ikpy_result_extra_getset) != 0)
        goto fail;
    if (PyType_Ready(&ikpy_ResultType) < 0 || PyType_Ready(&ikpy_ClientType) < 0)
        goto fail;
    Py_INCREF(&ikpy_ResultType);
    if (PyModule_AddObject(m, "Result", (PyObject *)&ikpy_ResultType) != 0)
        goto fail;
    Py_INCREF(&ikpy_ClientType);
    if (PyModule_AddObject(m, "Client", (PyObject *)&ikpy_ClientType) != 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
