/* Internal header of the _ipfs_kit_arrow extension: the shared batch set (shared.c, pure C),
 * the Result and Client types (result.c, client.c), filters to queries (query.c) and the
 * error mapping (module.c). */
#ifndef IKPY_H
#define IKPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ipfskit/client.h"

/* ---- shared.c: a refcounted schema + batches handing out fresh streams ---------------- */
struct ikpy_batches;

/* Drains `s` (released in all cases) into a new set with one reference. */
int ikpy_batches_from_stream(struct ArrowArrayStream *s, struct ikpy_batches **out,
                             struct ik_error *err);
struct ikpy_batches *ikpy_batches_ref(struct ikpy_batches *b);
void ikpy_batches_unref(struct ikpy_batches *b); /* NULL is a no-op; any thread */
int64_t ikpy_batches_rows(const struct ikpy_batches *b);
int64_t ikpy_batches_count(const struct ikpy_batches *b);
const struct ArrowSchema *ikpy_batches_schema(const struct ikpy_batches *b);
/* A new stream over the set's batches, sharing their buffers (ENOMEM only). */
int ikpy_batches_export_stream(struct ikpy_batches *b, struct ArrowArrayStream *out);

/* ---- module.c ------------------------------------------------------------------------- */
/* Sets the Python exception matching `code` (an ik error code) with `err`'s message and
 * returns NULL. */
PyObject *ikpy_raise(int code, const struct ik_error *err);
PyObject *ikpy_raise_msg(int code, const char *msg);
extern PyObject *ikpy_Error;
PyObject *ikpy_json_loads(const char *text); /* json.loads(text), new reference */
/* Moves the stream of data.__arrow_c_stream__() into *out (the caller releases it). Returns 0,
 * or -1 with an exception set. */
int ikpy_take_stream(PyObject *data, struct ArrowArrayStream *out);
/* Forks this process has made (counted in the child by a pthread_atfork handler): a Client
 * compares it with the count it last saw to forget the calls its parent had in flight. */
extern volatile unsigned ikpy_forks;

/* ---- query.c ---------------------------------------------------------------------------- */
/* Fills `q` (initialised for its table by the caller) from Python arguments. Returns 0, or -1
 * with a Python exception set. */
int ikpy_query_fill(struct ik_query *q, PyObject *limit, PyObject *offset, PyObject *filters,
                    PyObject *columns);
/* Checks `q` against its table's schema locally, so a bad column or op raises InvalidQuery
 * naming it before anything is sent. Returns 0, or -1 with a Python exception set. */
int ikpy_query_check(const struct ik_query *q);
int ikpy_query_init_module(void);
/* The full schema of a table ("pin_index", ...), or NULL for an unknown name. */
const struct ArrowSchema *ikpy_table_schema(const char *table);

/* ---- import_check.c ------------------------------------------------------------------------ */
/* Checks the schema of the stream import_pins was given (get_schema only; the stream stays
 * unconsumed): unknown columns and types that cannot feed their column raise InvalidQuery,
 * naming both in words. Returns 0, or -1 with the exception set. */
int ikpy_import_check(struct ArrowArrayStream *s);

/* ---- values.c ---------------------------------------------------------------------------- */
int ikpy_values_init(void);
/* A Python filter value (str, int, float, bool, None, datetime, date, numpy or pyarrow scalar)
 * to an ik_value for column `col`; `ts_col` when it is a timestamp column (then only points in
 * time are taken). *keep receives a new reference (or NULL) owning out->s: release it once the
 * value is copied. Returns 0, or -1 with a Python exception set (InvalidQuery naming col). */
int ikpy_value(const char *col, int ts_col, PyObject *v, struct ik_value *out, PyObject **keep);
/* An int argument (int, or anything with __index__ such as np.int64; not bool) into *out;
 * TypeError naming `what` otherwise. Returns 0, or -1 with an exception set. */
int ikpy_int_arg(PyObject *v, const char *what, long long *out);

/* ---- result.c ----------------------------------------------------------------------------- */
extern PyTypeObject ikpy_ResultType;
/* A new Result taking the query result `r` (its stream is drained; r is reset). Called with
 * the GIL held, after the blocking part. `b` is the drained batch set (reference moved). */
PyObject *ikpy_result_new(const struct ik_result *r, struct ikpy_batches *b);

/* ---- result_extra.c: schema, to_batches, iter_batches, pickling ------------------------------ */
extern PyMethodDef ikpy_result_extra[];
extern PyGetSetDef ikpy_result_extra_getset[];
/* _result_from_arrow(data, meta): the module function unpickling a Result. */
PyObject *ikpy_result_from_arrow(PyObject *mod, PyObject *args);

/* ---- client.c ------------------------------------------------------------------------------ */
extern PyTypeObject ikpy_ClientType;
/* The C client for method m of a Client (opened on first use), marking a call in flight; NULL
 * with an exception when the Client is closed. Pair with ikpy_client_leave (GIL held). */
struct ik_client *ikpy_client_enter(PyObject *self, enum ik_method m);
void ikpy_client_leave(PyObject *self);

/* ---- client_ops.c: more Client methods (status, writes) and its repr ----------------------- */
extern PyMethodDef ikpy_client_ops[];
PyObject *ikpy_client_repr(PyObject *self);

/* ---- module.c: appends extra methods to a type's table before PyType_Ready (so each file keeps
 * its own table). Returns 0, or -1 with MemoryError. */
int ikpy_add_methods(PyTypeObject *t, const PyMethodDef *extra);
int ikpy_add_getset(PyTypeObject *t, const PyGetSetDef *extra);

#endif
