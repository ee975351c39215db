/* Client: a libipfskit ik_client for Python. Queries release the GIL while they talk to the
 * daemon (or read the snapshot / SQLite) and drain the result into a Result. One Client may be
 * used from many threads at once (the C client pools connections). A per-call method opens one
 * C client per forced method, lazily. close() while other threads are mid-call marks the
 * client closed; the last call to finish closes the C clients. */
#include <string.h>

#include "ikpy.h"

#define N_METHODS 5 /* enum ik_method: AUTO .. TRADITIONAL */

typedef struct {
    PyObject_HEAD struct ik_client *h[N_METHODS];
    enum ik_method method; /* the client's default */
    int timeout_ms;
    int no_watch;   /* watch=False: ask the daemon on every query */
    int busy;       /* calls in flight (GIL-protected) */
    unsigned forks; /* ikpy_forks when busy was last right: a forked child starts at 0 */
    int closed;     /* close() was called */
    PyObject *path;
} ClientObject;

static void close_handles(ClientObject *self)
{
    for (int i = 0; i < N_METHODS; i++) {
        ik_client_close(self->h[i]);
        self->h[i] = NULL;
    }
}

static int open_handle(ClientObject *self, const char *path, enum ik_method m)
{
    struct ik_client_options o;
    struct ik_error err = {{0}};
    int rc;
    ik_client_options_init(&o);
    o.path = path;
    o.method = m;
    o.timeout_ms = self->timeout_ms;
    o.no_watch = self->no_watch != 0;
    rc = ik_client_open(&o, &self->h[m], &err);
    if (rc != 0) {
        ikpy_raise(rc, &err);
        return -1;
    }
    return 0;
}

static int parse_method(PyObject *v, enum ik_method *out)
{
    const char *s;
    int m;
    if (v == NULL || v == Py_None)
        return 1; /* not given */
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "method must be a str or None, not %s", Py_TYPE(v)->tp_name);
        return -1;
    }
    if ((s = PyUnicode_AsUTF8(v)) == NULL)
        return -1;
    m = ik_method_from_name(s);
    if (m < 0) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "unknown method '%.64s' (use auto, zero_copy, ipc_stream, direct, traditional)",
                 s);
        ikpy_raise_msg(EINVAL, msg);
        return -1;
    }
    *out = (enum ik_method)m;
    return 0;
}

static int client_init(ClientObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "method", "timeout", "watch", NULL};
    PyObject *path = Py_None, *method = Py_None, *timeout = Py_None, *bytes = NULL;
    enum ik_method m = IK_METHOD_AUTO;
    int rc, watch = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOp:Client", kwlist, &path, &method, &timeout,
                                     &watch))
        return -1;
    if (self->h[0] != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Client is already initialised");
        return -1;
    }
    if (parse_method(method, &m) < 0)
        return -1;
    if (timeout != Py_None) {
        double t = PyFloat_AsDouble(timeout);
        if (t == -1.0 && PyErr_Occurred())
            return -1;
        if (!(t > 0)) {
            ikpy_raise_msg(EINVAL, "timeout must be a positive number of seconds");
            return -1;
        }
        self->timeout_ms = t * 1000 > 2e9 ? 2000000000 : (int)(t * 1000 + 0.5);
    }
    if (path != Py_None && !PyUnicode_FSConverter(path, &bytes))
        return -1;
    self->method = m;
    self->no_watch = !watch;
    self->forks = ikpy_forks;
    rc = open_handle(self, bytes ? PyBytes_AS_STRING(bytes) : NULL, IK_METHOD_AUTO);
    Py_XDECREF(bytes);
    if (rc != 0)
        return -1;
    self->path = PyUnicode_DecodeFSDefault(ik_client_path(self->h[0]));
    return self->path ? 0 : -1;
}

static void client_dealloc(ClientObject *self)
{
    close_handles(self);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The C client for method m (opened on first use). Marks a call in flight. */
static struct ik_client *enter(ClientObject *self, enum ik_method m)
{
    if (self->forks != ikpy_forks) { /* the calls in flight were the parent's threads' */
        self->forks = ikpy_forks;
        self->busy = 0;
    }
    if (self->closed || self->h[0] == NULL) {
        PyErr_SetString(ikpy_Error,
                        self->closed ? "the client is closed" : "the client is not initialised");
        return NULL;
    }
    if (self->h[m] == NULL) {
        PyObject *bytes = NULL;
        int rc;
        if (!PyUnicode_FSConverter(self->path, &bytes))
            return NULL;
        rc = open_handle(self, PyBytes_AS_STRING(bytes), m);
        Py_DECREF(bytes);
        if (rc != 0)
            return NULL;
    }
    self->busy++;
    return self->h[m];
}

static void leave(ClientObject *self)
{
    if (--self->busy == 0 && self->closed)
        close_handles(self);
}

/* Ends a call that produced a result: the Result, or the error raised. */
static PyObject *finish_result(ClientObject *self, int rc, const struct ik_result *res,
                               struct ikpy_batches *b, const struct ik_error *err)
{
    leave(self);
    if (rc != 0)
        return ikpy_raise(rc, err);
    return ikpy_result_new(res, b);
}

static PyObject *query(ClientObject *self, const char *table, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"limit", "offset", "filters", "columns", "method", NULL};
    PyObject *limit = Py_None, *offset = Py_None, *filters = Py_None, *columns = Py_None,
             *method = Py_None;
    struct ik_query q;
    struct ik_result res;
    struct ik_error err = {{0}};
    struct ikpy_batches *b = NULL;
    struct ik_client *h;
    enum ik_method m = self->method;
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOOO", kwlist, &limit, &offset, &filters,
                                     &columns, &method))
        return NULL;
    if (parse_method(method, &m) < 0)
        return NULL;
    ik_query_init(&q, table);
    if (ikpy_query_fill(&q, limit, offset, filters, columns) != 0 || ikpy_query_check(&q) != 0 ||
        (h = enter(self, m)) == NULL) {
        ik_query_reset(&q);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS rc = ik_client_query(h, &q, &res, &err);
    if (rc == 0)
        rc = ikpy_batches_from_stream(&res.stream, &b, &err);
    Py_END_ALLOW_THREADS ik_query_reset(&q);
    return finish_result(self, rc, &res, b, &err);
}

/* changes(since, table="pin_index", method=None): the change feed as a Result. */
static PyObject *client_changes(ClientObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"since", "table", "method", NULL};
    unsigned long long since = 0;
    const char *table = "pin_index";
    PyObject *method = Py_None;
    struct ik_result res;
    struct ik_error err = {{0}};
    struct ikpy_batches *b = NULL;
    struct ik_client *h;
    enum ik_method m = self->method;
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "K|sO", kwlist, &since, &table, &method))
        return NULL;
    if (parse_method(method, &m) < 0 || (h = enter(self, m)) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS rc = ik_client_changes(h, table, (uint64_t)since, &res, &err);
    if (rc == 0)
        rc = ikpy_batches_from_stream(&res.stream, &b, &err);
    Py_END_ALLOW_THREADS return finish_result(self, rc, &res, b, &err);
}

/* wait_version(after, timeout): the newest version once it is above `after`, or None after
 * `timeout` seconds. The GIL is released while waiting; Ctrl-C raises KeyboardInterrupt. */
static PyObject *client_wait_version(ClientObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"after", "timeout", NULL};
    unsigned long long after = 0;
    double timeout = 1.0, left;
    struct ik_error err = {{0}};
    struct ik_client *h;
    uint64_t v = 0;
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "K|d", kwlist, &after, &timeout))
        return NULL;
    if ((h = enter(self, self->method)) == NULL)
        return NULL;
    /* in slices of at most 200 ms, so that a signal is seen promptly */
    for (left = timeout < 0 ? 0 : timeout;;) {
        int slice = left > 0.2 ? 200 : (int)(left * 1000);
        Py_BEGIN_ALLOW_THREADS rc = ik_client_wait_version(h, (uint64_t)after, slice, &v, &err);
        Py_END_ALLOW_THREADS left -= 0.2;
        if (rc == EINTR || (rc == ETIMEDOUT && slice == 200 && left > 0)) {
            if (PyErr_CheckSignals() != 0) {
                leave(self);
                return NULL;
            }
            continue;
        }
        break;
    }
    leave(self);
    if (rc == ETIMEDOUT)
        Py_RETURN_NONE;
    if (rc != 0)
        return ikpy_raise(rc, &err);
    return PyLong_FromUnsignedLongLong(v);
}

static PyObject *client_pins(ClientObject *self, PyObject *args, PyObject *kw)
{
    return query(self, "pin_index", args, kw);
}

static PyObject *client_metrics(ClientObject *self, PyObject *args, PyObject *kw)
{
    return query(self, "metrics", args, kw);
}

static PyObject *client_vfs_stats(ClientObject *self, PyObject *args, PyObject *kw)
{
    return query(self, "vfs_stats", args, kw);
}

static PyObject *client_backend_health(ClientObject *self, PyObject *args, PyObject *kw)
{
    return query(self, "backend_health", args, kw);
}

static PyObject *client_capabilities(ClientObject *self, PyObject *noargs)
{
    struct ik_error err = {{0}};
    struct ik_client *h = enter(self, IK_METHOD_AUTO);
    char *text = NULL;
    PyObject *r;
    int rc;
    (void)noargs;
    if (h == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS rc = ik_client_capabilities(h, &text, &err);
    Py_END_ALLOW_THREADS leave(self);
    if (rc != 0)
        return ikpy_raise(rc, &err);
    r = ikpy_json_loads(text);
    free(text);
    return r;
}

/* import_pins(data, skip_invalid=False, default_backend=None): anything with
 * __arrow_c_stream__ (pyarrow Table / RecordBatchReader, polars DataFrame, a Result). */
static PyObject *client_import_pins(ClientObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "skip_invalid", "default_backend", NULL};
    PyObject *data;
    int skip_invalid = 0;
    const char *backend = NULL;
    struct ArrowArrayStream stream;
    struct ik_import_options o;
    struct ik_import_result res;
    struct ik_error err = {{0}};
    struct ik_client *h;
    uint64_t gen = 0;
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pz:import_pins", kwlist, &data, &skip_invalid,
                                     &backend))
        return NULL;
    if (!PyObject_HasAttrString(data, "__arrow_c_stream__")) {
        PyErr_Format(PyExc_TypeError,
                     "import_pins needs an object with __arrow_c_stream__ (a pyarrow Table or "
                     "RecordBatchReader, a polars DataFrame, ...), not %s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (ikpy_take_stream(data, &stream) != 0)
        return NULL;
    if (ikpy_import_check(&stream) != 0) {
        stream.release(&stream);
        return NULL;
    }
    if ((h = enter(self, IK_METHOD_AUTO)) == NULL) {
        stream.release(&stream);
        return NULL;
    }
    ik_import_options_init(&o);
    o.skip_invalid = skip_invalid != 0;
    o.default_backend = backend;
    memset(&res, 0, sizeof res);
    Py_BEGIN_ALLOW_THREADS rc =
        ik_client_import_stream(h, &stream, &o, &res, &gen, &err); /* consumes the stream */
    Py_END_ALLOW_THREADS leave(self);
    if (rc != 0)
        return ikpy_raise(rc, &err);
    return Py_BuildValue("{s:L,s:L,s:K,s:s}", "imported", (long long)res.imported, "skipped",
                         (long long)res.skipped, "generation", (unsigned long long)gen,
                         "first_skip", res.first_skip);
}

static PyObject *client_close(ClientObject *self, PyObject *noargs)
{
    (void)noargs;
    self->closed = 1;
    if (self->busy == 0)
        close_handles(self);
    Py_RETURN_NONE;
}

static PyObject *client_enter(ClientObject *self, PyObject *noargs)
{
    (void)noargs;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *client_exit(ClientObject *self, PyObject *args)
{
    (void)args;
    return client_close(self, NULL);
}

static PyObject *get_closed(ClientObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->closed);
}

static PyObject *get_path(ClientObject *self, void *c)
{
    (void)c;
    if (self->path == NULL)
        Py_RETURN_NONE;
    Py_INCREF(self->path);
    return self->path;
}

#define QUERY_DOC(name, what)                                                                      \
    name "($self, /, limit=None, offset=0, filters=None, columns=None, method=None)\n--\n\n"       \
         "-> Result: " what                                                                        \
         ". filters: {'col': value} or {'col': {'gt': 1}} (gt lt gte lte eq ne "                   \
         "in contains prefix path_prefix is_null not_null), ANDed."

static PyMethodDef client_methods[] = {
    {"pins", (PyCFunction)(void (*)(void))client_pins, METH_VARARGS | METH_KEYWORDS,
     QUERY_DOC("pins", "the pin_index table")},
    {"metrics", (PyCFunction)(void (*)(void))client_metrics, METH_VARARGS | METH_KEYWORDS,
     QUERY_DOC("metrics", "the daemon's metrics (needs the daemon)")},
    {"vfs_stats", (PyCFunction)(void (*)(void))client_vfs_stats, METH_VARARGS | METH_KEYWORDS,
     QUERY_DOC("vfs_stats", "per-directory statistics of the pins' vfs paths")},
    {"backend_health", (PyCFunction)(void (*)(void))client_backend_health,
     METH_VARARGS | METH_KEYWORDS,
     QUERY_DOC("backend_health", "storage backend health (needs the daemon)")},
    {"changes", (PyCFunction)(void (*)(void))client_changes, METH_VARARGS | METH_KEYWORDS,
     "changes($self, /, since, table='pin_index', method=None)\n--\n\n"
     "A Result of one row per pin that differs between version `since` and the newest "
     "(columns of the table, then op 'upsert'/'delete' and version); Result.version is the "
     "newest version covered. ChangesGone when the log no longer reaches back to `since`."},
    {"wait_version", (PyCFunction)(void (*)(void))client_wait_version, METH_VARARGS | METH_KEYWORDS,
     "wait_version($self, /, after, timeout=1.0)\n--\n\n"
     "Blocks until the store's newest version is above `after` (returns it) or `timeout` "
     "seconds pass (returns None)."},
    {"capabilities", (PyCFunction)client_capabilities, METH_NOARGS,
     "capabilities($self, /)\n--\n\nConfig flags, whether a daemon answers, and the daemon's own "
     "capabilities (dict)."},
    {"import_pins", (PyCFunction)(void (*)(void))client_import_pins, METH_VARARGS | METH_KEYWORDS,
     "import_pins($self, /, data, skip_invalid=False, default_backend=None)\n--\n\n"
     "-> dict(imported, skipped, generation, first_skip): imports pins from anything with "
     "__arrow_c_stream__ in one transaction."},
    {"close", (PyCFunction)client_close, METH_NOARGS,
     "close($self, /)\n--\n\nCloses the client's connections (Results stay valid)."},
    {"__enter__", (PyCFunction)client_enter, METH_NOARGS, "__enter__($self, /)\n--\n\n"},
    {"__exit__", (PyCFunction)client_exit, METH_VARARGS, "__exit__($self, *exc_info, /)\n--\n\n"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef client_getset[] = {
    {"path", (getter)get_path, NULL, "The data directory.", NULL},
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject ikpy_ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ipfs_kit_arrow.Client",
    .tp_basicsize = sizeof(ClientObject),
    .tp_dealloc = (destructor)client_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Client(path=None, method=None, timeout=None, watch=True)\n--\n\nA connection to the "
              "ipfs-kit "
              "daemon on path ($IPFS_KIT_PATH or ~/.ipfs_kit); falls back to reading the "
              "snapshot or SQLite directly when no daemon runs.",
    .tp_methods = client_methods,
    .tp_getset = client_getset,
    .tp_init = (initproc)client_init,
    .tp_new = PyType_GenericNew,
};

/* For the Client methods defined in other files (client_ops.c). */
struct ik_client *ikpy_client_enter(PyObject *self, enum ik_method m)
{
    return enter((ClientObject *)self, m);
}

void ikpy_client_leave(PyObject *self)
{
    leave((ClientObject *)self);
}
