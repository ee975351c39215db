/* The _ipfs_kit_arrow module: its exception classes (one per kind of library error, each a
 * subclass of Error carrying the C library's message and code) and type registration. */
#include "ikpy.h"

PyObject *ikpy_Error;
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

static PyObject *method_names(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return Py_BuildValue("(ssss)", "zero_copy", "ipc_stream", "direct", "traditional");
}

static PyMethodDef module_methods[] = {
    {"methods", method_names, METH_NOARGS, "The query paths a Result's method can name."},
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
