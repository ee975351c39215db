/* The daemon's threads besides the loop: the writer (the only thread that writes the store),
 * the snapshot builder (reads the store on its own connection, writes snapshot files off the
 * loop, coalescing many writes into one build) and the reply workers (encode IPC stream and
 * JSON replies and send them with a timeout, so a slow reader holds up only its own worker).
 * Each reports back to the loop through d->done and the eventfd. */
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "daemon.h"
#include "ipfskit/arrow.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"
#include "ipfskit/snapshot.h"

/* ---- queues --------------------------------------------------------------------------- */

void ik_queue_init(struct ik_queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->head = q->tail = NULL;
}

void ik_queue_push(struct ik_queue *q, struct ik_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static struct ik_job *pop_locked(struct ik_queue *q)
{
    struct ik_job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
    }
    return j;
}

struct ik_job *ik_queue_pop(struct ik_queue *q, atomic_bool *stop)
{
    struct ik_job *j;
    pthread_mutex_lock(&q->mu);
    while (!q->head && !atomic_load(stop))
        pthread_cond_wait(&q->cv, &q->mu);
    j = pop_locked(q);
    pthread_mutex_unlock(&q->mu);
    return j;
}

struct ik_job *ik_queue_try_pop(struct ik_queue *q)
{
    struct ik_job *j;
    pthread_mutex_lock(&q->mu);
    j = pop_locked(q);
    pthread_mutex_unlock(&q->mu);
    return j;
}

void ik_queue_wake_all(struct ik_queue *q)
{
    pthread_mutex_lock(&q->mu);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void ik_job_done(struct ik_daemon *d, struct ik_job *j)
{
    ik_queue_push(&d->done, j);
    ik_loop_wake(d);
}

/* ---- snapshots ------------------------------------------------------------------------ */

static int open_ro(const char *path, struct ik_error *err)
{
    return ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, err);
}

static int64_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
}

static void identify(struct ik_published *p)
{
    struct stat st;
    if (p->fd >= 0 && fstat(p->fd, &st) == 0) {
        p->dev = (uint64_t)st.st_dev;
        p->ino = (uint64_t)st.st_ino;
    }
}

static void publish(struct ik_daemon *d, uint64_t gen, struct ik_published *pins,
                    struct ik_published *vfs)
{
    int old_pins, old_vfs;
    identify(pins);
    identify(vfs);
    pthread_mutex_lock(&d->pub_mu);
    old_pins = d->pins.fd;
    old_vfs = d->vfs.fd;
    d->pins = *pins;
    d->vfs = *vfs;
    d->published_gen = gen;
    d->build_failed = false;
    d->build_retries = 0;
    d->build_failed_since = 0;
    ik_vpage_publish(d, pins, vfs);
    pthread_mutex_unlock(&d->pub_mu);
    if (old_pins >= 0)
        close(old_pins);
    if (old_vfs >= 0)
        close(old_vfs);
}

/* Writes a snapshot, not yet fsynced (build() syncs it once published); a version already on disk
 * (written before a restart) is the same generation of the same store, so it is used as it is. */
static int write_snapshot(struct ik_daemon *d, const char *table, uint64_t gen,
                          const struct ArrowSchema *s, const struct ArrowArray *a, char *path,
                          size_t cap, struct ik_error *err)
{
    int rc = ik_snapshot_write_unsynced(d->dir, table, gen, s, a, path, cap, err);
    return rc == EEXIST ? 0 : rc; /* path names the existing file */
}

/* Builds the pin_index and vfs_stats snapshots of the store's current generation, read by the
 * builder's parallel pin reader `pr`, or (at start, pr NULL) on the store `st`. */
static int build(struct ik_daemon *d, struct ik_pin_reader *pr, struct ik_store *st,
                 struct ik_error *err)
{
    struct ArrowSchema ps = {0}, vs = {0};
    struct ArrowArray pa = {0}, va = {0};
    struct ik_published pins = {.fd = -1}, vfs = {.fd = -1};
    char path[PATH_MAX + 64];
    uint64_t gen = 0;
    double t0 = ik_now_ms();
    int rc;
    if (pr != NULL)
        rc = ik_pin_reader_read(pr, &gen, &ps, &pa, err);
    else if ((rc = ik_store_generation(st, &gen, err)) == 0)
        rc = ik_store_read_pins(st, &ps, &pa, err);
    if (rc != 0)
        return rc;
    rc = write_snapshot(d, "pin_index", gen, &ps, &pa, path, sizeof path, err);
    if (rc == 0 && (pins.fd = open_ro(path, err)) < 0)
        rc = errno ? errno : EIO;
    if (rc == 0)
        rc = ik_vfs_stats_build(&ps, &pa, &vs, &va, err);
    pins.rows = pa.length;
    pa.release(&pa);
    ps.release(&ps);
    if (rc == 0) {
        rc = write_snapshot(d, "vfs_stats", gen, &vs, &va, path, sizeof path, err);
        if (rc == 0 && (vfs.fd = open_ro(path, err)) < 0)
            rc = errno ? errno : EIO;
        vfs.rows = va.length;
        va.release(&va);
        vs.release(&vs);
    }
    if (rc != 0) {
        if (pins.fd >= 0)
            close(pins.fd);
        return rc;
    }
    pins.version = vfs.version = gen;
    pins.bytes = file_size(pins.fd);
    vfs.bytes = file_size(vfs.fd);
    publish(d, gen, &pins, &vfs);
    /* the build as writers wait for it: their replies go once published */
    atomic_fetch_add_explicit(&d->metrics.snapshot_builds, 1, memory_order_relaxed);
    atomic_store_explicit(&d->metrics.snapshot_build_us_last,
                          (long long)((ik_now_ms() - t0) * 1000.0), memory_order_relaxed);
    if (pr != NULL) /* the builder thread: parked write replies can go now */
        ik_loop_wake(d);
    /* Durable after it is served (docs/architecture.md): a crash before the mark leaves the
     * files unmarked, and a restart rebuilds rather than trusting them. Older versions go
     * only once this one is durable. */
    if (ik_snapshot_sync(d->dir, "pin_index", gen, err) != 0 ||
        ik_snapshot_sync(d->dir, "vfs_stats", gen, err) != 0) {
        fprintf(stderr, "ipfs-kit daemon: snapshot %llu: %s\n", (unsigned long long)gen,
                err->message);
        return 0;
    }
    ik_snapshot_prune(d->dir, "pin_index", gen, NULL);
    ik_snapshot_prune(d->dir, "vfs_stats", gen, NULL);
    return 0;
}

/* One table's snapshot of generation `gen`, fully validated (a damaged file must never reach
 * a reader: the query engine and the printers trust a snapshot's offsets); false, with the
 * reason logged, when there is none or it cannot be used. */
static bool reuse_one(struct ik_daemon *d, const char *table, uint64_t gen, struct ik_published *p)
{
    struct ik_error err = {{0}};
    struct ik_snapshot *s = NULL;
    int rc = ik_snapshot_open_version(d->dir, table, gen, IK_VALIDATE_FULL, &s, &p->fd, &err);
    if (rc != 0) {
        if (rc != ENOENT) /* none of this generation is the normal case after direct writes */
            fprintf(stderr,
                    "ipfs-kit daemon: snapshot of %s version %llu is damaged, rebuilding it "
                    "from the store: %s\n",
                    table, (unsigned long long)gen, err.message);
        /* damaged, or there but never marked durable: the build must write it anew, not
         * take the file it finds under that name */
        if (ik_snapshot_discard(d->dir, table, gen, &err) != 0)
            fprintf(stderr, "ipfs-kit daemon: %s\n", err.message);
        return false;
    }
    p->version = gen;
    p->rows = ik_snapshot_rows(s);
    p->bytes = file_size(p->fd);
    ik_snapshot_close(s);
    return true;
}

/* At start: reuse the snapshots of the store's generation when they are sound, else build
 * them now (the socket opens only once there is something to serve). */
int ik_build_initial(struct ik_daemon *d, struct ik_error *err)
{
    struct ik_published pins = {.fd = -1}, vfs = {.fd = -1};
    uint64_t gen = 0;
    bool pins_ok, vfs_ok;
    int rc = ik_store_generation(d->wstore, &gen, err);
    if (rc != 0)
        return rc;
    /* both checked whatever the first gives: a build takes the file it finds under a name */
    pins_ok = reuse_one(d, "pin_index", gen, &pins);
    vfs_ok = reuse_one(d, "vfs_stats", gen, &vfs);
    if (pins_ok && vfs_ok) {
        publish(d, gen, &pins, &vfs);
        return 0;
    }
    if (pins.fd >= 0)
        close(pins.fd);
    if (vfs.fd >= 0)
        close(vfs.fd);
    return build(d, NULL, d->wstore, err);
}

void ik_build_request(struct ik_daemon *d, uint64_t generation)
{
    pthread_mutex_lock(&d->build_mu);
    if (generation > d->build_wanted)
        d->build_wanted = generation;
    pthread_cond_signal(&d->build_cv);
    pthread_mutex_unlock(&d->build_mu);
}

/* IPFS_KIT_FAIL_BUILDS=n (tests only): the builder thread's next n builds fail as a full disk
 * would. Read once; only the builder thread calls this. */
static int injected_failure(struct ik_error *err)
{
    static int left = -1;
    if (left < 0) {
        const char *v = getenv("IPFS_KIT_FAIL_BUILDS");
        left = v ? atoi(v) : 0;
    }
    if (left <= 0)
        return 0;
    left--;
    return ik_error_set(err, ENOSPC,
                        "writing the snapshot: No space left on device (injected by "
                        "IPFS_KIT_FAIL_BUILDS)");
}

/* A failed build leaves committed writes invisible: record it for status and metrics (their
 * replies stay parked) and retry after a backoff of 50 ms doubling to 5 s, not waiting for
 * another write to come. */
static void build_failed(struct ik_daemon *d, const struct ik_error *err)
{
    struct timespec until;
    int retries;
    long ms;
    atomic_fetch_add_explicit(&d->metrics.snapshot_build_failures, 1, memory_order_relaxed);
    pthread_mutex_lock(&d->pub_mu);
    if (!d->build_failed)
        d->build_failed_since = ik_wall_ms();
    d->build_failed = true;
    retries = ++d->build_retries;
    snprintf(d->build_error, sizeof d->build_error, "%s", err->message);
    pthread_mutex_unlock(&d->pub_mu);
    ms = retries >= 8 ? 5000 : 50L << (retries - 1); /* 50, 100, ... 3200, then 5000 */
    fprintf(stderr, "ipfs-kit daemon: snapshot build failed (attempt %d, retry in %ld ms): %s\n",
            retries, ms, err->message);
    ik_loop_wake(d); /* parked replies: their visible_timeout may have passed */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->build_mu);
    if (!atomic_load(&d->stop))
        pthread_cond_timedwait(&d->build_cv, &d->build_mu, &until);
    pthread_mutex_unlock(&d->build_mu);
}

static void *builder_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_pin_reader *pr = NULL;
    struct ik_error err = {{0}};
    /* one reading thread per core of this 2-core target; each has its own connection */
    if (ik_pin_reader_open(d->dir, 2, &pr, &err) != 0) {
        fprintf(stderr, "ipfs-kit daemon: snapshot builder: %s\n", err.message);
        return NULL;
    }
    for (;;) {
        uint64_t want, have;
        pthread_mutex_lock(&d->build_mu);
        for (;;) {
            pthread_mutex_lock(&d->pub_mu);
            have = d->published_gen;
            pthread_mutex_unlock(&d->pub_mu);
            want = d->build_wanted;
            if (atomic_load(&d->stop) || want > have)
                break;
            pthread_cond_wait(&d->build_cv, &d->build_mu);
        }
        pthread_mutex_unlock(&d->build_mu);
        if (atomic_load(&d->stop))
            break;
        if (injected_failure(&err) != 0 || build(d, pr, NULL, &err) != 0) {
            build_failed(d, &err);
            continue;
        }
        ik_loop_wake(d); /* parked write replies can go */
    }
    ik_pin_reader_close(pr);
    return NULL;
}

int ik_published_get(struct ik_daemon *d, const char *table, const struct ik_snapshot_id *have,
                     struct ik_published *out)
{
    struct ik_published *p;
    int rc = 0;
    pthread_mutex_lock(&d->pub_mu);
    p = strcmp(table, "pin_index") == 0 ? &d->pins : &d->vfs;
    *out = *p;
    if (p->fd >= 0 && have && have->set && have->version == p->version && have->dev == p->dev &&
        have->ino == p->ino)
        out->fd = -1; /* the client holds this very file */
    else if ((out->fd = p->fd >= 0 ? fcntl(p->fd, F_DUPFD_CLOEXEC, 3) : -1) < 0)
        rc = ENOENT;
    pthread_mutex_unlock(&d->pub_mu);
    return rc;
}

/* ---- the writer ----------------------------------------------------------------------- */

static char *error_reply(const char *code, int rc, const struct ik_error *err)
{
    char msg[IK_ERROR_SIZE + 64];
    snprintf(msg, sizeof msg, "%s", err->message[0] ? err->message : ik_strerror(rc));
    return ik_reply_error(code, msg);
}

/* The client's file is never mapped as it is: a client that truncates it would kill the daemon
 * with SIGBUS, and one that rewrites it between the two passes would have the second read
 * other rows than the first checked. ik_buffer_read_fd copies it into private memory (a 1M-pin,
 * 380 MB JSON lines file: see docs/architecture.md), unless it is a sealed memfd. Only files
 * with an end: reading a pipe or a device whose other end never closes would hold the writer
 * thread, and every write behind it, forever (or fill memory). */
static int too_big(struct ik_daemon *d, int64_t size, struct ik_error *err)
{
    return ik_error_set(err, IK_ELIMIT,
                        "import: the file has %lld bytes, over the limit of %lld "
                        "(daemon.max_import_size in config.json)",
                        (long long)size, (long long)d->cfg.max_import_size);
}

static int do_import(struct ik_daemon *d, struct ik_job *j, struct ik_import_result *res,
                     struct ik_error *err)
{
    struct ik_buffer *buf = NULL;
    struct stat st;
    int rc;
    /* before a byte is read: the writer stays free */
    if (fstat(j->in_fd, &st) == 0 && st.st_size > d->cfg.max_import_size)
        return too_big(d, (int64_t)st.st_size, err);
    rc = ik_buffer_read_fd(j->in_fd, &buf, err);
    if (rc == EINVAL)
        return ik_error_set(err, EINVAL,
                            "import: the file passed must be a regular file or a "
                            "memfd (spool a pipe into one first)");
    if (rc != 0)
        return ik_error_prefix(err, rc, "import");
    if ((int64_t)ik_buffer_size(buf) > d->cfg.max_import_size) { /* said size 0, but was not */
        int64_t size = (int64_t)ik_buffer_size(buf);
        ik_buffer_unref(buf);
        return too_big(d, size, err);
    }
    rc = ik_store_import(d->wstore, ik_buffer_data(buf), ik_buffer_size(buf), &j->req.import, res,
                         err);
    ik_buffer_unref(buf);
    return rc;
}

static void write_job(struct ik_daemon *d, struct ik_job *j)
{
    struct ik_error err = {{0}};
    struct ik_import_result res = {0};
    uint64_t gen = 0;
    int rc;
    switch (j->req.op) {
    case IK_REQ_PIN_ADD:
        rc = ik_store_add(d->wstore, &j->req.pin, &err);
        break;
    case IK_REQ_PIN_RM:
        rc = ik_store_remove(d->wstore, j->req.cid, &err);
        break;
    case IK_REQ_PIN_TOUCH:
        rc = ik_store_touch(d->wstore, j->req.cid, 0, &err);
        break;
    default:
        rc = do_import(d, j, &res, &err);
        break;
    }
    if (rc == 0)
        rc = ik_store_generation(d->wstore, &gen, &err);
    if (rc != 0) {
        j->reply = error_reply(ik_reply_code(rc), rc, &err);
        j->generation = 0;
        return;
    }
    {
        json_t *h = json_pack("{s:b,s:I}", "ok", 1, "generation", (json_int_t)gen);
        if (h && j->req.op != IK_REQ_IMPORT)
            json_object_set_new(
                h, "cid", json_string(j->req.op == IK_REQ_PIN_ADD ? j->req.pin.cid : j->req.cid));
        if (h && j->req.op == IK_REQ_IMPORT) {
            json_object_set_new(h, "imported", json_integer(res.imported));
            json_object_set_new(h, "skipped", json_integer(res.skipped));
            if (res.first_skip[0])
                json_object_set_new(h, "first_skip", json_string(res.first_skip));
        }
        j->reply = h ? json_dumps(h, JSON_COMPACT) : NULL;
        json_decref(h);
    }
    j->generation = gen;
    ik_build_request(d, gen);
}

static bool queue_empty(struct ik_queue *q)
{
    bool empty;
    pthread_mutex_lock(&q->mu);
    empty = q->head == NULL;
    pthread_mutex_unlock(&q->mu);
    return empty;
}

/* Drops change-log versions past the retention window (config.json "changes") while no write
 * waits: one bounded chunk at a time, checking the queue between chunks. */
static void trim_changes(struct ik_daemon *d)
{
    struct ik_error err = {{0}};
    bool more = true;
    while (more && queue_empty(&d->writes)) {
        if (ik_store_changes_trim(d->wstore, d->cfg.changes_retain_versions,
                                  d->cfg.changes_retain_seconds, (int64_t)(ik_wall_ms() * 1000.0),
                                  &more, &err) != 0) {
            fprintf(stderr, "ipfs-kit daemon: trimming the change log: %s\n", err.message);
            return;
        }
    }
}

/* The store is opened with IK_STORE_MANUAL_CHECKPOINT: commits do not copy the WAL into
 * pins.db (for a 1M-pin import that was a second write of the whole table and two fsyncs
 * before the build could start); the writer does it here once no write is waiting, while the
 * builder reads. */
static void *writer_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_job *j;
    struct ik_error err = {{0}};
    while ((j = ik_queue_pop(&d->writes, &d->stop)) != NULL) {
        write_job(d, j);
        if (!j->reply)
            j->reply = ik_reply_error("internal", "out of memory");
        ik_job_done(d, j);
        if (queue_empty(&d->writes) && ik_store_checkpoint(d->wstore, &err) != 0)
            fprintf(stderr, "ipfs-kit daemon: checkpoint: %s\n", err.message);
        trim_changes(d);
    }
    return NULL;
}

/* ---- start / stop --------------------------------------------------------------------- */

void *ik_reply_worker_main(void *arg);

int ik_workers_start(struct ik_daemon *d, struct ik_error *err)
{
    int rc;
    if ((rc = pthread_create(&d->writer, NULL, writer_main, d)) != 0)
        return ik_error_set(err, rc, "starting the writer thread: %s", strerror(rc));
    if ((rc = pthread_create(&d->builder, NULL, builder_main, d)) != 0) {
        atomic_store(&d->stop, true);
        ik_queue_wake_all(&d->writes);
        pthread_join(d->writer, NULL);
        return ik_error_set(err, rc, "starting the snapshot builder: %s", strerror(rc));
    }
    for (d->n_workers = 0; d->n_workers < IK_DAEMON_WORKERS; d->n_workers++)
        if (pthread_create(&d->workers[d->n_workers], NULL, ik_reply_worker_main, d) != 0)
            break;
    return 0;
}

void ik_workers_stop(struct ik_daemon *d)
{
    struct ik_job *j;
    atomic_store(&d->stop, true);
    ik_queue_wake_all(&d->writes);
    ik_queue_wake_all(&d->replies);
    pthread_mutex_lock(&d->build_mu);
    pthread_cond_broadcast(&d->build_cv);
    pthread_mutex_unlock(&d->build_mu);
    pthread_join(d->writer, NULL);
    pthread_join(d->builder, NULL);
    for (int i = 0; i < d->n_workers; i++)
        pthread_join(d->workers[i], NULL);
    /* Jobs finished after the loop stopped listening: their connections are closed by the
     * loop's shutdown; free the jobs. */
    while ((j = ik_queue_try_pop(&d->done)) != NULL) {
        j->conn->busy = false;
        ik_job_free(j);
    }
}

void ik_job_free(struct ik_job *j)
{
    free(j->reply);
    if (j->snap.fd >= 0)
        close(j->snap.fd);
    if (j->in_fd >= 0)
        close(j->in_fd);
    ik_request_reset(&j->req);
    free(j);
}
