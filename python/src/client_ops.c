/* More Client methods, kept apart from the query core in client.c: status() and the
 * single-pin writes add / rm / touch (through the daemon when it runs, straight into the store
 * when none does, as the CLI), import_file (a path, passed to the daemon as an fd), and the
 * Client's repr. Each releases the GIL while it talks to the daemon or the store. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ikpy.h"

static PyObject *path_of(PyObject *self)
{
    return PyObject_GetAttrString(self, "path");
}

/* status(): the daemon's status dict with 'running': True, or {'running': False, 'path'}. */
static PyObject *client_status(PyObject *self, PyObject *noargs)
{
    static const char req[] = "{\"v\":1,\"op\":\"status\"}";
    struct ik_error err = {{0}};
    struct ik_client *h = ikpy_client_enter(self, IK_METHOD_AUTO);
    char *text = NULL;
    PyObject *r;
    int rc;
    (void)noargs;
    if (h == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS rc = ik_client_call(h, req, &text, &err);
    Py_END_ALLOW_THREADS ikpy_client_leave(self);
    if (rc == IK_EDAEMON) {
        PyObject *path = path_of(self);
        if (path == NULL)
            return NULL;
        r = Py_BuildValue("{s:O,s:N}", "running", Py_False, "path", path);
        return r;
    }
    if (rc != 0)
        return ikpy_raise(rc, &err);
    r = ikpy_json_loads(text);
    free(text);
    if (r && PyDict_Check(r)) {
        if (PyDict_DelItemString(r, "ok") != 0)
            PyErr_Clear();
        if (PyDict_SetItemString(r, "running", Py_True) != 0)
            Py_CLEAR(r);
    }
    return r;
}

/* The result of a write: the store generation after it; a committed write whose snapshot the
 * daemon could not build yet comes back with its warning, shown as a RuntimeWarning. */
static PyObject *write_done(int rc, uint64_t gen, const struct ik_error *err)
{
    if (rc != 0)
        return ikpy_raise(rc, err);
    if (err->message[0] && PyErr_WarnEx(PyExc_RuntimeWarning, err->message, 1) != 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(gen);
}

static int opt_str(PyObject *v, const char *what, const char **out, PyObject **keep)
{
    *out = NULL;
    if (v == NULL || v == Py_None)
        return 0;
    if (PyDict_Check(v) || PyList_Check(v)) { /* metadata as an object: JSON text */
        PyObject *json = PyImport_ImportModule("json");
        if (json == NULL)
            return -1;
        *keep = PyObject_CallMethod(json, "dumps", "O", v);
        Py_DECREF(json);
        if (*keep == NULL)
            return -1;
        v = *keep;
    }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str or None, not %s", what,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    return (*out = PyUnicode_AsUTF8(v)) ? 0 : -1;
}

static int opt_int(PyObject *v, const char *what, int64_t none, int64_t *out)
{
    long long n;
    *out = none;
    if (v == NULL || v == Py_None)
        return 0;
    if (ikpy_int_arg(v, what, &n) != 0)
        return -1;
    *out = n;
    return 0;
}

static int opt_time(PyObject *v, const char *col, int64_t none, int64_t *out, PyObject **keep)
{
    struct ik_value val;
    *out = none;
    if (v == NULL || v == Py_None)
        return 0;
    if (ikpy_value(col, 1, v, &val, keep) != 0)
        return -1;
    if (val.kind == IK_VAL_INT)
        *out = val.i;
    return 0;
}

/* add(cid, name=None, size_bytes=None, pin_type='recursive', backend=None, metadata=None,
 *     vfs_path=None, replication_factor=1, verified=False, timestamp=None, last_access=None,
 *     access_count=None) -> generation */
static PyObject *client_add(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"cid",      "name",      "size_bytes",  "pin_type",
                             "backend",  "metadata",  "vfs_path",    "replication_factor",
                             "verified", "timestamp", "last_access", "access_count",
                             NULL};
    PyObject *cid, *name = NULL, *size = NULL, *type = NULL, *backend = NULL, *meta = NULL,
                   *vfs = NULL, *repl = NULL, *ts = NULL, *la = NULL, *ac = NULL;
    PyObject *keep[6] = {NULL};
    int verified = 0, rc;
    int64_t repl_v = 1;
    struct ik_pin p;
    struct ik_error err = {{0}};
    struct ik_client *h;
    uint64_t gen = 0;
    PyObject *out = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|OOOOOOOpOOO:add", kwlist, &cid, &name, &size,
                                     &type, &backend, &meta, &vfs, &repl, &verified, &ts, &la, &ac))
        return NULL;
    ik_pin_init(&p);
    p.verified = verified != 0;
    if ((p.cid = PyUnicode_AsUTF8(cid)) == NULL || opt_str(name, "name", &p.name, &keep[0]) ||
        opt_str(type, "pin_type", &p.pin_type, &keep[1]) ||
        opt_str(backend, "backend", &p.backend, &keep[2]) ||
        opt_str(meta, "metadata", &p.metadata, &keep[3]) ||
        opt_str(vfs, "vfs_path", &p.vfs_path, &keep[4]) ||
        opt_int(size, "size_bytes", -1, &p.size_bytes) ||
        opt_int(repl, "replication_factor", 1, &repl_v) ||
        opt_int(ac, "access_count", 0, &p.access_count) ||
        opt_time(ts, "timestamp", 0, &p.timestamp_us, &keep[5]))
        goto done;
    {
        PyObject *k = NULL;
        int r2 = opt_time(la, "last_access", -1, &p.last_access_us, &k);
        Py_XDECREF(k);
        if (r2 != 0)
            goto done;
    }
    if (!p.pin_type)
        p.pin_type = "recursive";
    if (repl_v < 0 || repl_v > INT32_MAX) {
        ikpy_raise_msg(EINVAL, "replication_factor must be between 0 and 2147483647");
        goto done;
    }
    p.replication_factor = (int32_t)repl_v;
    if ((h = ikpy_client_enter(self, IK_METHOD_AUTO)) == NULL)
        goto done;
    Py_BEGIN_ALLOW_THREADS rc = ik_client_pin_add(h, &p, &gen, &err);
    Py_END_ALLOW_THREADS ikpy_client_leave(self);
    out = write_done(rc, gen, &err);
done:
    for (int i = 0; i < 6; i++)
        Py_XDECREF(keep[i]);
    return out;
}

static PyObject *one_cid(PyObject *self, PyObject *arg, int rm)
{
    struct ik_error err = {{0}};
    struct ik_client *h;
    const char *cid;
    uint64_t gen = 0;
    int rc;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "cid must be a str, not %s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if ((cid = PyUnicode_AsUTF8(arg)) == NULL ||
        (h = ikpy_client_enter(self, IK_METHOD_AUTO)) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS rc =
        rm ? ik_client_pin_remove(h, cid, &gen, &err) : ik_client_pin_touch(h, cid, &gen, &err);
    Py_END_ALLOW_THREADS ikpy_client_leave(self);
    return write_done(rc, gen, &err);
}

static PyObject *client_rm(PyObject *self, PyObject *arg)
{
    return one_cid(self, arg, 1);
}

static PyObject *client_touch(PyObject *self, PyObject *arg)
{
    return one_cid(self, arg, 0);
}

/* _import_file(path, skip_invalid, default_backend): a pin list file (JSON lines, kubo JSON,
 * CSV, Arrow), passed to the daemon as an open fd, as `ipfs-kit pin import` does. */
static PyObject *client_import_file(PyObject *self, PyObject *args)
{
    PyObject *path = NULL;
    int skip_invalid = 0, fd, rc;
    const char *backend = NULL;
    struct ik_import_options o;
    struct ik_import_result res;
    struct ik_error err = {{0}};
    struct ik_client *h;
    uint64_t gen = 0;
    if (!PyArg_ParseTuple(args, "O&pz:_import_file", PyUnicode_FSConverter, &path, &skip_invalid,
                          &backend))
        return NULL;
    Py_BEGIN_ALLOW_THREADS fd = open(PyBytes_AS_STRING(path), O_RDONLY | O_CLOEXEC);
    Py_END_ALLOW_THREADS if (fd < 0)
    {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    if ((h = ikpy_client_enter(self, IK_METHOD_AUTO)) == NULL) {
        close(fd);
        return NULL;
    }
    ik_import_options_init(&o);
    o.skip_invalid = skip_invalid != 0;
    o.default_backend = backend;
    memset(&res, 0, sizeof res);
    Py_BEGIN_ALLOW_THREADS rc = ik_client_import_fd(h, fd, &o, &res, &gen, &err);
    close(fd);
    Py_END_ALLOW_THREADS ikpy_client_leave(self);
    if (rc != 0)
        return ikpy_raise(rc, &err);
    return Py_BuildValue("{s:L,s:L,s:K,s:s}", "imported", (long long)res.imported, "skipped",
                         (long long)res.skipped, "generation", (unsigned long long)gen,
                         "first_skip", res.first_skip);
}

PyObject *ikpy_client_repr(PyObject *self)
{
    PyObject *path = path_of(self), *closed = NULL, *r = NULL;
    if (path == NULL)
        return NULL;
    if ((closed = PyObject_GetAttrString(self, "closed")) != NULL)
        r = PyUnicode_FromFormat("<ipfs_kit_arrow.Client path=%R%s>", path,
                                 PyObject_IsTrue(closed) ? " closed" : "");
    Py_XDECREF(closed);
    Py_DECREF(path);
    return r;
}

PyMethodDef ikpy_client_ops[] = {
    {"status", (PyCFunction)client_status, METH_NOARGS,
     "status($self, /)\n--\n\nThe daemon's status (pid, version, uptime_s, snapshot_version, "
     "pins, path, socket) with running=True, or {'running': False, 'path': ...} when none "
     "answers."},
    {"add", (PyCFunction)(void (*)(void))client_add, METH_VARARGS | METH_KEYWORDS,
     "add($self, /, cid, name=None, size_bytes=None, pin_type='recursive', backend=None, "
     "metadata=None, vfs_path=None, replication_factor=1, verified=False, timestamp=None, "
     "last_access=None, access_count=None)\n--\n\n"
     "Adds a pin (or updates the given fields of an existing one) and returns the store "
     "generation after the write. Through the daemon when it runs, else straight into the "
     "store. metadata: a dict or JSON object text; timestamp, last_access: points in time."},
    {"rm", (PyCFunction)client_rm, METH_O,
     "rm($self, cid, /)\n--\n\nRemoves a pin; NotFound when there is none. Returns the store "
     "generation."},
    {"touch", (PyCFunction)client_touch, METH_O,
     "touch($self, cid, /)\n--\n\nRecords an access to a pin (access_count + 1, last_access = "
     "now). Returns the store generation."},
    {"_import_file", (PyCFunction)client_import_file, METH_VARARGS,
     "_import_file($self, path, skip_invalid, default_backend, /)\n--\n\nImports a pin list "
     "file (used by import_pins)."},
    {NULL, NULL, 0, NULL},
};
