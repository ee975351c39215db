/* The daemon's shared state and the interfaces between its parts: the event loop (loop.c),
 * request handlers (handlers.c), the writer, snapshot builder and reply workers (workers.c),
 * metrics (metrics.c) and backend probes (health.c). One loop thread owns connections and
 * never blocks; everything slow runs on a worker thread and reports back through a queue
 * and an eventfd. */
#ifndef IK_DAEMON_H
#define IK_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipfskit/config.h"
#include "ipfskit/error.h"
#include "ipfskit/store.h"
#include "proto/proto.h"

#define IK_DAEMON_WORKERS 4
#define IK_DAEMON_SEND_TIMEOUT_MS 10000 /* a reply making no progress this long is dropped */

struct ik_daemon;

/* One client connection, owned by the loop thread except while `busy` (lent to a worker). */
struct ik_conn {
    int fd;
    uint8_t *in;
    size_t in_len, in_cap;
    int in_fd; /* fd received with the request being parsed (import), or -1 */
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    int out_fds[IK_PROTO_MAX_FDS]; /* fds to pass with the first pending byte */
    int n_out_fds;
    uint32_t watched;   /* epoll events currently registered (skip no-op EPOLL_CTL_MOD) */
    bool busy;          /* lent to a worker or waiting on the writer */
    bool closing;       /* close once `out` is flushed */
    bool dead;          /* the socket failed: close at the next safe point */
    uint64_t wait_gen;  /* parked write reply: sent once this generation is published */
    double t_start;     /* request start (monotonic ms), for the latency histogram */
    int req_op;         /* op of the request in flight, for metrics */
    char *parked_reply; /* the reply held back until wait_gen is published */
    struct ik_conn *next_parked;
    struct ik_conn *prev, *next; /* every open connection, for shutdown */
    bool closed;                 /* closed; freed once the current batch of events is done */
    struct ik_conn *next_closed;
    bool watching;   /* a "watch" connection: quiet by design, no idle timeout */
    double t_active; /* last byte read or reply queued (monotonic ms): idle timeout */
    double t_in;     /* first byte of the request being received, 0 when none: header timeout */
    double t_out;    /* when `out` last became non-empty: send deadline */
    double t_parked; /* when the write reply was parked: visible timeout */
};

struct ik_segset;

/* A published state of a file-backed table: its segment set and its manifest file. */
struct ik_published {
    int fd; /* the manifest, read-only */
    uint64_t version;
    int64_t rows; /* live rows */
    int64_t bytes;
    uint64_t dev, ino;     /* the manifest's identity, matched against a query's "have" */
    struct ik_segset *set; /* a reference */
};

enum ik_job_kind { IK_JOB_WRITE, IK_JOB_REPLY };

/* A unit of work for a worker thread: the request (owned), the connection lent, and when
 * done, the reply header (malloc'd JSON) and the generation the reply waits for. */
struct ik_job {
    enum ik_job_kind kind;
    struct ik_conn *conn;
    struct ik_request req;
    int in_fd;
    struct ik_published snap; /* REPLY: the snapshot to answer from (fd dup'd) */
    char *reply;              /* done: header JSON to send (WRITE), NULL when the worker sent */
    uint64_t generation;      /* done: WRITE reply waits for this generation */
    bool close_conn;          /* done: the worker hit an I/O error; close */
    struct ik_job *next;
};

struct ik_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ik_job *head, *tail;
};

void ik_queue_init(struct ik_queue *q);
void ik_queue_push(struct ik_queue *q, struct ik_job *j);
/* Pops a job, waiting while empty; NULL once `stop` is set and the queue is empty. */
struct ik_job *ik_queue_pop(struct ik_queue *q, atomic_bool *stop);
/* Non-blocking pop. */
struct ik_job *ik_queue_try_pop(struct ik_queue *q);
void ik_queue_wake_all(struct ik_queue *q);

/* Daemon metrics: counters updated with relaxed atomics from any thread. */
enum { IK_M_OPS = 13, IK_M_METHODS = 4, IK_M_HIST = 64 };
struct ik_metrics {
    double started_ms; /* wall clock ms at start */
    double started_mono;
    atomic_llong requests_by_op[IK_M_OPS];
    atomic_llong replies_by_method[IK_M_METHODS]; /* zero_copy, ipc_stream, -, traditional */
    atomic_llong bytes_served;                    /* bytes written to sockets + mapped bytes */
    atomic_llong errors;
    atomic_llong connections;
    atomic_llong connections_open;
    atomic_llong connections_refused;   /* over daemon.max_connections, or out of descriptors */
    atomic_llong connections_timed_out; /* idle, header or send deadline */
    atomic_llong snapshot_build_failures;
    atomic_llong writes_not_visible; /* write replies that gave up waiting for a snapshot */
    atomic_llong snapshot_builds;
    atomic_llong snapshot_build_us_last;
    atomic_llong compactions;
    atomic_llong full_builds; /* bases the builder made from every pin (start, a log gap) */
    atomic_llong segment_limit_merges; /* a state at IK_SEG_MAX: its newer deltas merged */
    atomic_llong compaction_us_last;
    atomic_llong hist[IK_M_HIST]; /* request latency, log2 buckets of microseconds */
};

struct ik_health; /* health.c */
struct ik_syncer; /* sync.c */
struct ik_builder;
struct ik_http; /* http/ */

struct ik_flight; /* flight/ */

#define IK_DAEMON_TABLES 4 /* ik_table_names */

struct ik_daemon {
    char dir[PATH_MAX];       /* "." : the daemon's cwd is its data directory (loop.c) */
    char shown_dir[PATH_MAX]; /* the data directory as given, for messages */
    char sock_path[PATH_MAX];
    struct ik_config cfg;
    int lock_fd;
    int listen_fd;
    int ep_fd;
    int wake_fd; /* eventfd: workers → loop */
    atomic_bool stop;
    bool stopping; /* loop: shutdown requested, finish and exit */

    struct ik_store *wstore; /* writer thread's connection */
    struct ik_store *cstore; /* the checkpoint thread's (workers.c) */
    pthread_t checkpointer;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    int64_t ckpt_pages;     /* guarded by ckpt_mu: WAL pages after the writer's last commit */
    int64_t ckpt_base;      /* guarded by ckpt_mu: WAL pages at the last checkpoint */
    int64_t ckpt_copied;    /* guarded by ckpt_mu: WAL frames copied into pins.db, from its start */
    struct ik_queue writes; /* WRITE jobs */
    struct ik_queue replies; /* REPLY jobs (ipc_stream / traditional) */
    struct ik_queue done;    /* finished jobs, for the loop */

    pthread_t writer, builder, compactor, settler, vfsbuilder, sparer, workers[IK_DAEMON_WORKERS];
    int n_workers;
    pthread_mutex_t build_mu; /* builder: dirty flag and wake-up */
    pthread_mutex_t round_mu; /* held through a build round (builder thread, or the writer's
                                 ik_segbuild_inline); taken before files_mu */
    pthread_cond_t build_cv;
    uint64_t build_wanted;       /* newest generation committed (builder goal) */
    struct ik_segset *compacted; /* guarded by build_mu: a state the compactor made, to install */
    /* guarded by build_mu: the whole table at generation given_gen, as the writer's import into
     * an empty table left it (ik_store_import_rows); a full build at that generation publishes
     * it instead of reading the store back. given_rows.release is NULL when none. */
    struct ArrowSchema given_schema;
    struct ArrowArray given_rows;
    uint64_t given_gen;
    int given_fd; /* the import's journal (read-only), published as the base: -1 when none */
    pthread_mutex_t files_mu;      /* held from writing a segment until its state is published,
                                      and while pruning: prune never sees a file no state names
                                      yet */
    struct ik_segset *to_sync[2];  /* guarded by build_mu: published, not yet made durable
                                      (pin_index, vfs_stats) */
    struct ik_segset *durable_vfs; /* compactor: the newest durable vfs_stats state */
    pthread_cond_t compact_cv;     /* with build_mu: wakes the compactor */
    pthread_cond_t settle_cv;      /* with build_mu: wakes the settler (a state to make durable) */
    pthread_mutex_t prune_mu;      /* held while pruning */
    bool compacting;               /* guarded by prune_mu: the compactor writes files no state
                                      names yet (prune waits for the next settle) */
    struct ik_store *bstore;       /* builder's read-only connection (changes since) */
    struct ik_segset *durable;     /* compactor: the newest pin_index state made durable */
    _Atomic uint64_t seq;          /* the next manifest seq */
    double minor_ms, minor_end_ms; /* compactor: the last minor merge's time and end */
    _Atomic long long pins_published_us; /* monotonic µs of the last pin_index publish */

    pthread_mutex_t pub_mu; /* published snapshots: set by builder, read by loop/workers */
    struct ik_published pins, vfs;
    uint64_t published_gen;
    int http_wake_fd;  /* under pub_mu: eventfd written at each publish (http/ws.c), or -1 */
    bool build_failed; /* the newest build failed; the builder retries */
    char build_error[IK_ERROR_SIZE]; /* its error */
    int build_retries;               /* failed attempts in a row */
    double build_failed_since;       /* wall ms of the first failure of this run, 0 if none */

    struct ArrowSchema schemas[IK_DAEMON_TABLES]; /* loop: each table's, built on first use */
    struct ik_conn *parked;                       /* write replies waiting for a snapshot */
    struct ik_conn *conns;                        /* every open connection */
    struct ik_conn *closed; /* closed this round: a later event of the same epoll_wait batch
                               may still name them, so they are freed after the batch */
    struct ik_metrics metrics;
    struct ik_health *health;
    struct ik_http *http; /* http/server.c */
    int n_conns;          /* open connections (loop) */
    int max_conns;        /* daemon.max_connections */
    int reserve_fd;       /* spare descriptor, given up to refuse a client at EMFILE */
    double accept_paused; /* accepting paused until this time (monotonic ms), 0 if not */
    double last_sweep;    /* last timeout sweep (monotonic ms) */
    double stop_deadline; /* stopping: drain committed replies until then */
    struct ik_syncer *syncer;
    uid_t uid;
    _Atomic uint64_t *vpage; /* the version page (vpage.c), mapped read-write */
    int vpage_fd;

    struct ik_flight *flight; /* flight/server.c */

    struct ik_change_tail *ctail; /* the newest changes in memory (changes.c), filled by the
                                     builder; the writer moves its floor */

    /* Import journals (workers.c, docs/architecture.md "Imports are acknowledged from a
     * journal"), guarded by apply_mu; apply_cv is broadcast whenever they change. */
    pthread_mutex_t apply_mu;
    pthread_cond_t apply_cv;
    uint64_t unapplied; /* an import's version acknowledged, not yet applied to pins.db; or
                           IK_IMPORT_RUNNING while the writer runs an import; 0 otherwise */
    char apply_error[IK_ERROR_SIZE]; /* why the last apply failed, "" when it did not */

    int base_nice;  /* the daemon's nice at start (sched.c) */
    int write_nice; /* the write path's: base_nice - 5 when the kernel allowed it, else base */
};

#define IK_IMPORT_RUNNING UINT64_MAX

/* workers.c: waits at most `ms` until no import waits to be applied (reader threads whose store
 * read met one: EBUSY from the store); 0, or EBUSY with why (the apply's error or a timeout). */
int ik_apply_wait(struct ik_daemon *d, long ms, struct ik_error *err);

/* loop.c */
int ik_daemon_run(const char *dir, bool quiet, struct ik_error *err);
/* Queues a reply header frame and sends what it can. `pass_fd` (>= 0) is taken: it travels
 * with the frame and is closed once sent (or at once when it cannot be). */
void ik_conn_send(struct ik_daemon *d, struct ik_conn *c, const char *json, int pass_fd);
/* The same with descriptors fds[0..n) (all taken) on the frame's first byte. */
void ik_conn_send_fds(struct ik_daemon *d, struct ik_conn *c, const char *json, const int *fds,
                      int n);
void ik_conn_send_error(struct ik_daemon *d, struct ik_conn *c, const char *code,
                        const char *message);
void ik_loop_wake(struct ik_daemon *d);
/* Closes a dead or finished connection (not while busy). */
void ik_conn_settle(struct ik_daemon *d, struct ik_conn *c);
double ik_now_ms(void);                  /* monotonic (lib/arrow/clock.c) */
struct timespec ik_realtime_in(long ms); /* a cond wait's deadline (lib/arrow/clock.c) */
double ik_wall_ms(void);                 /* since the epoch */

/* handlers.c: handles one parsed request on the loop thread. */
void ik_handle_request(struct ik_daemon *d, struct ik_conn *c, struct ik_request *req, int in_fd);
void ik_handle_done(struct ik_daemon *d, struct ik_job *j);
/* Sends the parked write replies whose snapshot is published; those that waited longer than
 * daemon.visible_timeout while builds fail (or all, when `give_up`) get an error saying the
 * write committed but is not visible yet. */
void ik_release_parked(struct ik_daemon *d, bool give_up);

/* segbuild.c: the builder (publishes a delta per group of writes) and compact.c, the
 * compactor (merges deltas and rebuilds vfs_stats in the background). */
int ik_segbuild_start(struct ik_daemon *d, struct ik_error *err);
void ik_segbuild_stop(struct ik_daemon *d);
void ik_segbuild_free(struct ik_daemon *d);
/* Makes the newest published states durable and prunes older files (the settler's thread, so
 * that no fsync delays a merge; at start and stop on the calling thread). */
void ik_segbuild_settle(struct ik_daemon *d);
/* Publishes `set` as the table's state: writes its manifest; it is made durable later by
 * ik_segbuild_settle. Call with files_mu held since its files were written. */
int ik_segbuild_publish(struct ik_daemon *d, const char *table, struct ik_segset *set,
                        struct ik_error *err);
/* Deltas (the builder's and the compactor's minor merges) and vfs_stats bases of up to this
 * many rows are published from memory (sealed memfds) and written as files by the settler;
 * larger ones (an import's, a merge of many changes) are written as files at once: a memfd's
 * pages are memory for as long as a state or a client holds it, and work of that size waits
 * for far more than a file's creation anyway. */
#define IK_MEM_MAX_ROWS 65536
/* A vfs_stats base at generation gen (a small one in memory, the settler writes its file). */
int ik_segbuild_vfs_base(struct ik_daemon *d, uint64_t gen, const struct ArrowSchema *vs,
                         const struct ArrowArray *va, struct ik_segset **out, struct ik_error *err);
void *ik_compactor_main(void *arg);
/* Waits on cv (with build_mu) until it is signalled or ms pass; not when the daemon stops, nor,
 * with unless_to_sync, when a published state waits to be made durable. */
void ik_build_wait(struct ik_daemon *d, pthread_cond_t *cv, long ms, bool unless_to_sync);
/* vfsbuild.c: the thread rebuilding vfs_stats when it lags pin_index, and publishing vfs_stats
 * of `pins` at generation gen (the compactor's major compaction too). */
void *ik_vfsbuild_main(void *arg);
int ik_vfs_publish(struct ik_daemon *d, uint64_t gen, const struct ArrowSchema *ps,
                   const struct ArrowArray *pa, struct ik_error *err);

/* changes.c: changes(since) for every reader in the daemon (the protocol op, HTTP, the
 * WebSocket feed): from the change tail when it covers `since`, else from the store through
 * *st (opened read-only on first use when NULL; the caller closes it). */
#define IK_CHANGE_TAIL_BYTES (32 << 20)
#define IK_SPARE_FILES                                                                             \
    128 /* spare files kept for segments and manifests (lib/snapshot/spare.c)                      \
         */
int ik_changes_tail_start(struct ik_daemon *d, struct ik_error *err);
int ik_daemon_changes(struct ik_daemon *d, struct ik_store **st, const char *table, uint64_t since,
                      struct ArrowSchema *schema_out, struct ArrowArray *out, uint64_t *newest,
                      struct ik_error *err);

/* workers.c */
void ik_job_done(struct ik_daemon *d, struct ik_job *j); /* to the loop */
void ik_job_free(struct ik_job *j);                      /* and what it holds */
int ik_workers_start(struct ik_daemon *d, struct ik_error *err);
void ik_workers_stop(struct ik_daemon *d);
int ik_build_initial(struct ik_daemon *d, struct ik_error *err);
void ik_build_request(struct ik_daemon *d, uint64_t generation);
/* The whole table at `gen` as the writer's import left it, for the next full build (moved:
 * schema and rows are NULL-released after); gen 0 drops what is held. `journal_fd` (taken,
 * -1: none) is the import's journal, the same rows as a snapshot file: linked as the base
 * instead of writing them again. */
void ik_segbuild_give(struct ik_daemon *d, uint64_t gen, struct ArrowSchema *schema,
                      struct ArrowArray *rows, int journal_fd);
/* The writer's own build of the delta of its write, when nothing else waits and the builder
 * is idle: no thread handoff between the commit and the publish. True when `gen` is published
 * on return; false leaves it to the builder thread (busy, failing, a large or full build). */
bool ik_segbuild_inline(struct ik_daemon *d, uint64_t gen);
/* Current published snapshot of a table, fd dup'd (caller closes); ENOENT if none. When
 * `have` is set and names that very snapshot (version, dev, ino), out->fd is -1 instead: the
 * client holds it already, nothing to dup. */
int ik_published_get(struct ik_daemon *d, const char *table, const struct ik_snapshot_id *have,
                     struct ik_published *out);

/* vpage.c: the version page passed to "watch" requests. */
int ik_vpage_create(struct ik_daemon *d, struct ik_error *err);
/* Writes the published snapshots' identities (and the state serving). Call before the write
 * replies waiting for them are released. One thread (the publisher) calls it at a time. */
void ik_vpage_publish(struct ik_daemon *d, const struct ik_published *pins,
                      const struct ik_published *vfs);
void ik_vpage_stopping(struct ik_daemon *d); /* clients stop trusting the page */
void ik_vpage_free(struct ik_daemon *d);

/* sched.c: thread names and priorities (docs/architecture.md, "Threads"). */
enum ik_thread_role {
    IK_THREAD_NORMAL,     /* the daemon's own nice (the compactor too) */
    IK_THREAD_WRITE_PATH, /* loop, writer, builder: 5 below, when allowed */
    IK_THREAD_BACKGROUND, /* settler, checkpointer: 10 above */
    IK_THREAD_IDLE,       /* vfs_stats rebuilder: 19 */
};
/* Reads the daemon's nice and whether the write path may go below it. Call on the loop thread
 * before any other thread starts. */
void ik_sched_init(struct ik_daemon *d);
/* The nice value of a role. */
int ik_sched_nice(const struct ik_daemon *d, enum ik_thread_role role);
/* Names the calling thread (NULL: keeps its name) and gives it its role's nice. */
void ik_sched_thread(const struct ik_daemon *d, const char *name, enum ik_thread_role role);

/* metrics.c */
extern const char *const ik_metrics_op_names[IK_M_OPS];         /* "ping", "query", ... */
extern const char *const ik_metrics_method_names[IK_M_METHODS]; /* "zero_copy", ... */
void ik_metrics_init(struct ik_metrics *m);
void ik_metrics_request(struct ik_metrics *m, int op, int method, double latency_ms, bool error);
int ik_metrics_build(struct ik_daemon *d, struct ArrowSchema *schema, struct ArrowArray *out,
                     struct ik_error *err);

/* health.c */
int ik_health_start(struct ik_daemon *d, struct ik_error *err);
void ik_health_stop(struct ik_daemon *d);
int ik_health_build(struct ik_daemon *d, struct ArrowSchema *schema, struct ArrowArray *out,
                    struct ik_error *err);

/* sync.c: the syncer thread (config.json "sources", or the local kubo). */
int ik_syncer_start(struct ik_daemon *d, struct ik_error *err);
void ik_syncer_stop(struct ik_daemon *d);
size_t ik_syncer_sources(struct ik_daemon *d);
/* Appends one backend_health row per source (status, response time, last check, errors,
 * success rate over the last 20 probes). */
int ik_syncer_health_rows(struct ik_daemon *d, struct ik_builder *b, struct ik_error *err);
/* {"ok":true,"sources":[...]}: each source's kind, API, last success and try, lag, state,
 * counts of its last sync, last error, down since, next run (docs/sync.md). Malloc'd. */
char *ik_syncer_status_json(struct ik_daemon *d);
/* sync_now: asks the syncer to sync the source `name` ("" for every one) now, joining a sync of
 * it already running. The reply {"ok":true,"runs":[{"name","run","joined"}]} (malloc'd) names
 * the run each source's result will carry in sync_status; NULL with `why` set (an unknown name,
 * naming the sources; no sources) and *code the reply's error code. */
char *ik_syncer_request(struct ik_daemon *d, const char *name, const char **code, char *why,
                        size_t cap);

#endif
