/* The ipfs-kit client: talks to the local daemon over $IPFS_KIT_PATH/daemon.sock and returns
 * query results as an ArrowArrayStream, taking the fastest path that works and saying which:
 *
 *   zero_copy    arrow_ipc_daemon           the daemon passes the snapshot's fd; we map it
 *   ipc_stream   arrow_ipc_daemon           IPC stream bytes in the reply (fd passing off)
 *   direct       direct_pin_index           daemon down: newest snapshot file, else SQLite
 *   traditional  traditional_json_fallback  Arrow disabled in config (or asked): JSON rows
 *
 * One ik_client may be used from several threads at once (it keeps a small pool of
 * connections, and the newest snapshot of each file-backed table mapped until a newer one
 * arrives or the client is closed). Results own everything they point to and outlive the client,
 * the daemon and the snapshot file. */
#ifndef IPFSKIT_CLIENT_H
#define IPFSKIT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"
#include "ipfskit/arrow.h"
#include "ipfskit/error.h"
#include "ipfskit/query.h"
#include "ipfskit/store.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ik_method {
    IK_METHOD_AUTO = 0, /* only as a request: take the best path */
    IK_METHOD_ZERO_COPY,
    IK_METHOD_IPC_STREAM,
    IK_METHOD_DIRECT,
    IK_METHOD_TRADITIONAL,
};

const char *ik_method_name(enum ik_method m); /* "zero_copy", ... */
int ik_method_from_name(const char *name);    /* -1 when unknown */

struct ik_client_options {
    const char *path;      /* data directory; NULL = $IPFS_KIT_PATH or ~/.ipfs_kit */
    int timeout_ms;        /* how long the daemon may stay silent; 0 = config arrow_ipc.timeout
                              (default 30 s). A query whose reply does not come in time is
                              answered by the direct path (method AUTO; the result's reason
                              says so) or fails with ETIMEDOUT; a write fails with ETIMEDOUT
                              once the daemon has answered neither the write nor a ping for
                              this long (a long import that the daemon is working on goes on) */
    enum ik_method method; /* AUTO, or force one path (ZERO_COPY/IPC_STREAM need the daemon;
                              DIRECT never contacts it) */
    int compression;       /* IK_COMPRESSION_* for ipc_stream replies */
    bool direct_sqlite;    /* direct path: skip the snapshot file, read SQLite */
    bool validate;         /* fully validate mapped snapshots before use (default off:
                              a 0400 file from our own daemon, checked by uid) */
    bool no_watch;         /* ask the daemon on every query; by default, once a query finds
                              its snapshot unchanged, the client reads the daemon's version
                              page and answers repeated queries from the mapping it holds while
                              the daemon still publishes that snapshot (detail "page") */
    bool one_shot;         /* the client answers one query and goes (the CLI): in AUTO, a cid
                              point lookup (cid = X or cid in [...] on pin_index) asks the daemon
                              for its rows (ipc_stream, found by the daemon's per-segment cid
                              index) instead of mapping every segment of the state, which pays
                              off only for a client that asks again. Last, so that code built
                              against the struct before it keeps its layout */
};

void ik_client_options_init(struct ik_client_options *o);

struct ik_client;

/* Opens a client (no connection yet; reads config.json). EINVAL/IK_EFORMAT name a bad
 * config value; EPERM says the data directory, or the daemon socket in it, belongs to another
 * user (never for root). */
int ik_client_open(const struct ik_client_options *o, struct ik_client **out, struct ik_error *err);
void ik_client_close(struct ik_client *c); /* NULL is a no-op */

const char *ik_client_path(const struct ik_client *c);

struct ik_timings {
    double connect_ms; /* connecting (or reusing) the socket; 0 for direct */
    double request_ms; /* request sent until the reply header (and fd) arrived */
    double decode_ms;  /* mapping / decoding / filtering into Arrow */
    double total_ms;
};

struct ik_result {
    struct ArrowArrayStream stream; /* moved out by the caller, or released by reset */
    enum ik_method method;
    const char *method_name; /* static strings */
    const char *source;
    const char *detail; /* zero_copy: "fd" (the daemon passed the snapshot), "held" (the
                           daemon said the client's mapping is current), "page" (the version
                           page said so: no round trip); direct: "snapshot" or "sqlite";
                           ipc_stream: the compression; traditional: "json" */
    uint64_t version;   /* snapshot version (the store generation it reflects) */
    int64_t rows;       /* rows in the result */
    int64_t matched;    /* rows matching the filter before offset/limit */
    int64_t table_rows; /* rows in the whole table; -1 when not known (direct from SQLite) */
    struct ik_timings timings;
    char reason[256];     /* why a fallback path answered, e.g. "the daemon (PID 12) did not
                             answer within 1 s"; empty when the query took its usual path */
    int64_t copied_rows;  /* rows of the result gathered into new buffers (0: pure slices of
                             the mapped snapshot) */
    int64_t copied_bytes; /* bytes of the result outside the mapped snapshot; -1 not known */
};

void ik_result_init(struct ik_result *r);
void ik_result_reset(struct ik_result *r); /* releases the stream if still owned */

/* Filters on cid (eq, ne, in) compare the canonical CID text the store keeps. Whether a
 * value of one is a CID in another form (another multibase, upper case), and rewriting every
 * such value to the canonical form in place (ENOMEM). ik_client_query does this on a copy;
 * the daemon on each query it receives. */
bool ik_query_has_other_cids(const struct ik_query *q);
int ik_query_canonical_cids(struct ik_query *q, struct ik_error *err);

/* Runs `q` on table q->table ("pin_index", "metrics", "vfs_stats", "backend_health").
 * Errors: EINVAL (bad query, named), IK_EDAEMON (method needs the daemon and none answers;
 * metrics and backend_health always need it), IK_EREMOTE (the daemon's own message),
 * IK_EPROTO, ETIMEDOUT (the daemon did not answer within the timeout and the method or the
 * table needs it; with method AUTO a pin_index or vfs_stats query is answered directly). On
 * success err->message is empty, or holds a warning for the user: the direct path found the
 * snapshot file damaged (it is fully validated first) and read SQLite. */
int ik_client_query(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                    struct ik_error *err);

/* Sends a raw JSON request (an object with "v" and "op") and returns the reply header text
 * (malloc'd) — for status, ping, capabilities, shutdown. IK_EDAEMON when none answers. */
int ik_client_call(struct ik_client *c, const char *request_json, char **reply_json,
                   struct ik_error *err);

/* Capabilities as a JSON object text (malloc'd): config flags, daemon presence, methods. */
int ik_client_capabilities(struct ik_client *c, char **json, struct ik_error *err);

/* Writes. Through the daemon when it runs (the reply comes once a snapshot containing the
 * write is published, so a following query sees it); directly into the store when no
 * daemon holds it; IK_ELOCKED "Database is locked by daemon (PID n)" when a daemon holds the
 * store but does not answer; ETIMEDOUT "daemon (PID n) is not answering" when it answered
 * neither the write nor a ping within the timeout (the write may still be applied when it
 * resumes). `*generation` (may be NULL) receives the store generation
 * after the write. A write that was committed but whose snapshot could not be built returns 0
 * with the daemon's warning in err->message (callers should show a non-empty message). */
int ik_client_pin_add(struct ik_client *c, const struct ik_pin *p, uint64_t *generation,
                      struct ik_error *err);
int ik_client_pin_remove(struct ik_client *c, const char *cid, uint64_t *generation,
                         struct ik_error *err);
int ik_client_pin_touch(struct ik_client *c, const char *cid, uint64_t *generation,
                        struct ik_error *err);
/* Imports the file open on `fd` (passed to the daemon, or read directly). */
int ik_client_import_fd(struct ik_client *c, int fd, const struct ik_import_options *o,
                        struct ik_import_result *res, uint64_t *generation, struct ik_error *err);
/* Imports an Arrow stream (e.g. from Python's __arrow_c_stream__); consumed. */
int ik_client_import_stream(struct ik_client *c, struct ArrowArrayStream *stream,
                            const struct ik_import_options *o, struct ik_import_result *res,
                            uint64_t *generation, struct ik_error *err);

/* The changes of `table` (pin_index) after version `since` (docs/protocol.md "changes"): one
 * batch of the table's columns plus "op" ("upsert"/"delete") and "version", one row per key
 * that differs between `since` and the newest version, in (version, cid) order, upserts with
 * the newest values. out->version is the newest version covered: follow on from it. Through
 * the daemon (method ipc_stream, or traditional when Arrow is off), or read from the store
 * (direct) when none runs. IK_EGONE when `since` is older than the change log keeps (the
 * message names the oldest version still available: re-read the table, then follow from its
 * version); EINVAL when it is newer than the newest version; ENOTSUP for a table without a
 * change log. */
int ik_client_changes(struct ik_client *c, const char *table, uint64_t since, struct ik_result *out,
                      struct ik_error *err);

/* Blocks until the store's newest version is above `after` (0 with it in *version), for at
 * most timeout_ms (ETIMEDOUT). Wakes on the store's own file changes (inotify on the data
 * directory), whether a daemon or a direct writer commits: no polling. EINTR when a signal
 * arrives (the caller decides whether to go on). */
int ik_client_wait_version(struct ik_client *c, uint64_t after, int timeout_ms, uint64_t *version,
                           struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
