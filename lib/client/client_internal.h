/* Internal pieces shared by the client's files. */
#ifndef IK_CLIENT_INTERNAL_H
#define IK_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "ipfskit/client.h"
#include "ipfskit/config.h"
#include "proto/proto.h"

#define IK_CLIENT_POOL 16

struct ik_snapshot;

/* A mapped snapshot kept between queries: snapshot files are immutable, so when the daemon
 * passes the same file again (same device and inode) the client reuses the mapping instead of
 * mapping, parsing the footer and unmapping it on every query. Shared by the client's threads
 * and by the process's other clients (segcache.c's registry); `refs` counts the client caches'
 * references, the registry's and every query using it. */
struct ik_segset;

struct ik__snap_ref {
    struct ik_snapshot *s; /* a snapshot file (metrics, backend_health; older daemons) */
    struct ik_segset *set; /* or a segmented state (its identity: the manifest's) */
    int manifest_fd;       /* the state's manifest, kept open while cached: its inode cannot
                              be reused for a newer manifest meanwhile (-1 for a snapshot) */
    dev_t dev;
    ino_t ino;
    uint64_t version;   /* as the daemon's reply announced it; sent back in "have" */
    int64_t table_rows; /* as the reply announced it */
    atomic_int refs;
    bool shared;    /* in the process's registry (guarded by its lock) */
    bool validated; /* mapped by a client with ik_client_options.validate */
};

/* The daemon's version page (lib/proto/proto.h) and the connection it came on, kept open and
 * idle: while that connection has neither hung up nor become readable, the daemon that passed
 * the page runs, and the page says which snapshot it would pass for each table. Refcounted like
 * snapshots (guarded by the client's mu): one query may be reading it while another finds the
 * daemon gone and drops it. */
struct ik__watch {
    int fd;
    const _Atomic uint64_t *page;
    int refs;
};

#define IK_CLIENT_SNAP_TABLES 2 /* pin_index, vfs_stats: the file-backed tables */

struct ik_client {
    char dir[4096];
    char sock_path[4200];
    struct ik_config cfg;
    struct ik_client_options opts;
    int timeout_ms;
    pthread_mutex_t mu; /* guards the idle connection pool */
    int idle[IK_CLIENT_POOL];
    int n_idle;
    struct ik__snap_ref *snaps[IK_CLIENT_SNAP_TABLES]; /* guarded by mu */
    bool no_have; /* the daemon refused the "have" key (an older daemon): never send it */
    struct ik__watch *watch;     /* guarded by mu; NULL until a repeated query sets it up */
    bool watch_refused;          /* the daemon does not know "watch": never ask again */
    bool watch_opening;          /* a thread is setting it up (guarded by mu) */
    struct ik_client *fork_next; /* fork.c's list of open clients */
};

/* segcache.c: the state passed as fds[0] (manifest, left open: the caller keeps it) and
 * fds[1..n) (segments, consumed);
 * segments the client holds mapped already in `prev` (same device and inode) are reused, so
 * after a small write only the new delta is mapped. */
int ik__client_map_state(struct ik_client *c, const int *fds, int n, const struct ik_segset *prev,
                         struct ik_segset **out, struct ik_error *err);
/* segcache.c: the process's registry of mapped states, by the manifest's (or snapshot's)
 * identity, so that the clients of one process map each new state once: the first client to
 * be passed a state maps it and registers it, the others find it (after their round trip, or
 * with no round trip when the version page names it). Weak: a state goes from the registry
 * when no client holds it any more. */
/* A registered state (with a reference), or NULL; with `validated`, only one whose segments
 * were fully validated when mapped (a client asking for validation trusts no other's). */
struct ik__snap_ref *ik__shared_find(uint64_t version, dev_t dev, ino_t ino, bool validated);
void ik__shared_put(struct ik__snap_ref *r); /* registers r (with a reference of its own) */
void ik__snap_unref(struct ik__snap_ref *r); /* drops a reference; NULL is a no-op */
void ik__shared_lock(void);                  /* fork.c: held across fork() */
void ik__shared_unlock(void);
/* Runs q on a held mapping (snapshot or state), filling matched and the copy costs. */
int ik__client_ref_query(const struct ik__snap_ref *r, const struct ik_query *q,
                         struct ik_result *out, struct ik_error *err);

/* direct.c: the daemon-down path. On success err->message is empty, or says why the snapshot
 * file was not used (damaged: the rows came from SQLite). */
int ik__client_direct(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                      struct ik_error *err);

double ik__mono_ms(void);

/* "daemon (PID n)" into buf, the PID read from the lock (just "daemon" when none holds it). */
void ik__client_daemon_name(struct ik_client *c, char *buf, size_t cap);

/* fork.c: registers an open client so a forked child drops the connections it shares with its
 * parent (and the parent's client stays locked while fork() copies it). */
void ik__fork_register(struct ik_client *c);
void ik__fork_unregister(struct ik_client *c); /* before the client is freed */

/* client.c, for changes.c: one request/reply-header exchange (see exchange() there), giving
 * a connection back to the pool, and decoding a reply's data frames (JSON rows of
 * `json_schema`, or an IPC stream when it is NULL). */
int ik__client_exchange(struct ik_client *c, const char *req, json_t **hdr,
                        struct ik_reply_query *fast, int *conn, struct ik_sock_reader *rd,
                        struct ik_timings *t, struct ik_error *err);
void ik__client_conn_put(struct ik_client *c, int fd, const struct ik_sock_reader *rd);
int ik__client_decode(struct ik_client *c, struct ik_sock_reader *rd,
                      const struct ArrowSchema *json_schema, struct ArrowArrayStream *out,
                      struct ik_error *err);

#endif
