/* The daemon's threads besides the loop: the writer (the only thread that writes the store),
 * the snapshot builder (reads the store on its own connection, writes snapshot files off the
 * loop, coalescing many writes into one build) and the reply workers (encode IPC stream and
 * JSON replies and send them with a timeout, so a slow reader holds up only its own worker).
 * Each reports back to the loop through d->done and the eventfd. */
#include <errno.h>
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
#include "ipfskit/seglog.h"
#include "ipfskit/segments.h"
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
                     struct ArrowSchema *schema, struct ArrowArray *rows, uint64_t *pending,
                     struct ik_error *err)
{
    static int no_journal = -1; /* IPFS_KIT_NO_JOURNAL=1: every import through pins (bench) */
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
    if (no_journal < 0)
        no_journal = getenv("IPFS_KIT_NO_JOURNAL") != NULL;
    if (no_journal)
        rc = ik_store_import_rows(d->wstore, ik_buffer_data(buf), ik_buffer_size(buf),
                                  &j->req.import, res, schema, rows, err);
    else
        rc = ik_store_import_journal(d->wstore, ik_buffer_data(buf), ik_buffer_size(buf),
                                     &j->req.import, res, schema, rows, pending, err);
    ik_buffer_unref(buf);
    return rc;
}

/* ---- import journals ------------------------------------------------------------------ */

static void set_unapplied(struct ik_daemon *d, uint64_t v, const char *error)
{
    pthread_mutex_lock(&d->apply_mu);
    d->unapplied = v;
    snprintf(d->apply_error, sizeof d->apply_error, "%s", error ? error : "");
    pthread_cond_broadcast(&d->apply_cv);
    pthread_mutex_unlock(&d->apply_mu);
}

/* Applies the acknowledged import (its journal) to pins.db: after its reply and publish, and
 * before any other write. A failure is logged and kept (readers waiting for it get it); the
 * next write tries again and fails with it until it succeeds. */
static int apply_now(struct ik_daemon *d, struct ik_error *err)
{
    uint64_t v;
    int rc;
    pthread_mutex_lock(&d->apply_mu);
    v = d->unapplied;
    pthread_mutex_unlock(&d->apply_mu);
    if (v == 0)
        return 0;
    rc = ik_store_apply_pending(d->wstore, NULL, err);
    if (rc != 0) {
        fprintf(stderr, "ipfs-kit daemon: applying import version %llu: %s\n",
                (unsigned long long)v, err->message);
        set_unapplied(d, v, err->message);
        return ik_error_prefix(err, rc, "the import of version %llu is not applied yet",
                               (unsigned long long)v);
    }
    set_unapplied(d, 0, NULL);
    return 0;
}

int ik_apply_wait(struct ik_daemon *d, long ms, struct ik_error *err)
{
    struct timespec until = ik_realtime_in(ms);
    int rc = 0;
    pthread_mutex_lock(&d->apply_mu);
    while (d->unapplied != 0 && d->apply_error[0] == 0 && !atomic_load(&d->stop) && rc == 0)
        rc = pthread_cond_timedwait(&d->apply_cv, &d->apply_mu, &until);
    if (d->unapplied != 0)
        rc = ik_error_set(err, EBUSY, "the import of version %llu is not applied yet: %s",
                          (unsigned long long)d->unapplied,
                          d->apply_error[0] ? d->apply_error : "timed out waiting for it");
    else
        rc = 0;
    pthread_mutex_unlock(&d->apply_mu);
    return rc;
}

static bool queue_empty(struct ik_queue *q)
{
    bool empty;
    pthread_mutex_lock(&q->mu);
    empty = q->head == NULL;
    pthread_mutex_unlock(&q->mu);
    return empty;
}

static void write_job(struct ik_daemon *d, struct ik_job *j)
{
    struct ik_error err = {{0}};
    struct ik_import_result res = {0};
    struct ArrowSchema schema = {0};
    struct ArrowArray rows = {0};
    uint64_t gen = 0, pending = 0;
    int rc;
    /* an acknowledged import is applied before any later write (normally done already, right
     * after its publish) */
    if ((rc = apply_now(d, &err)) != 0) {
        j->reply = error_reply(ik_reply_code(rc), rc, &err);
        j->generation = 0;
        return;
    }
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
        /* readers whose store snapshot shows a pending import (EBUSY) wait while it runs */
        set_unapplied(d, IK_IMPORT_RUNNING, NULL);
        rc = do_import(d, j, &res, &schema, &rows, &pending, &err);
        break;
    }
    if (rc == 0)
        rc = ik_store_generation(d->wstore, &gen, &err);
    if (rc != 0 && pending != 0) /* committed: the generation is the pending version */
        rc = 0, gen = pending;
    if (rows.release) /* handed to the builder, or dropped */
        ik_segbuild_give(d, rc == 0 ? gen : 0, &schema, &rows,
                         rc == 0 && pending != 0 ? ik_store_journal_open(d->wstore, pending) : -1);
    if (pending != 0) {
        /* the tail learns the import's rows from the log once applied: until then it starts
         * at its version, and older since go to the store (which waits for the apply) */
        ik_change_tail_reset(d->ctail, pending);
        ik__stop_point("import-pending"); /* committed, not published */
    }
    if (j->req.op == IK_REQ_IMPORT)
        set_unapplied(d, pending, NULL);
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
    /* published here when nothing else waits (no handoff to the builder thread), else by the
     * builder, which groups the writes that came meanwhile */
    if (!(queue_empty(&d->writes) && j->req.op != IK_REQ_IMPORT && ik_segbuild_inline(d, gen)))
        ik_build_request(d, gen);
}

/* Drops change-log versions past the retention window (config.json "changes") while no write
 * waits and the daemon is not stopping: one bounded chunk at a time (about 2 ms each,
 * lib/store/changes.c), checking the queue between chunks. A stop used to wait for the whole
 * trim: after the 10M soak, minutes of it. */
static void trim_changes(struct ik_daemon *d)
{
    struct ik_error err = {{0}};
    uint64_t floor = 0;
    bool more = true;
    while (more && queue_empty(&d->writes) && !atomic_load(&d->stop)) {
        if (ik_store_changes_trim(d->wstore, d->cfg.changes_retain_versions,
                                  d->cfg.changes_retain_seconds, (int64_t)(ik_wall_ms() * 1000.0),
                                  &more, &floor, &err) != 0) {
            fprintf(stderr, "ipfs-kit daemon: trimming the change log: %s\n", err.message);
            return;
        }
        ik_change_tail_set_floor(d->ctail, floor); /* older since: gone, as the store says */
    }
}

/* Waits (at most CHECKPOINT_WAIT_S) until generation `gen` is published, a write comes or the
 * daemon stops; publish() wakes the writes queue. Returns at once when the write was published
 * inline. */
#define CHECKPOINT_WAIT_S 2

static void await_publish(struct ik_daemon *d, uint64_t gen)
{
    struct timespec until;
    uint64_t published = 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CHECKPOINT_WAIT_S;
    pthread_mutex_lock(&d->writes.mu);
    while (d->writes.head == NULL && !atomic_load(&d->stop)) {
        pthread_mutex_lock(&d->pub_mu);
        published = d->published_gen;
        pthread_mutex_unlock(&d->pub_mu);
        if (published >= gen ||
            pthread_cond_timedwait(&d->writes.cv, &d->writes.mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&d->writes.mu);
}

/* Waits at most `ms` for a write to arrive (or the daemon to stop); true when none came. */
static bool wait_for_write(struct ik_daemon *d, long ms)
{
    struct timespec until = ik_realtime_in(ms);
    bool none;
    pthread_mutex_lock(&d->writes.mu);
    while (d->writes.head == NULL && !atomic_load(&d->stop))
        if (pthread_cond_timedwait(&d->writes.cv, &d->writes.mu, &until) == ETIMEDOUT)
            break;
    none = d->writes.head == NULL;
    pthread_mutex_unlock(&d->writes.mu);
    return none;
}

/* The store is opened with IK_STORE_MANUAL_CHECKPOINT: commits do not copy the WAL into
 * pins.db (for a 1M-pin import that was a second write of the whole table and two fsyncs
 * before the build could start). The checkpoint thread copies it, on a connection of its own,
 * once the idle writer finds CHECKPOINT_PAGES more in the WAL than at the last checkpoint: a
 * checkpoint fsyncs the WAL and pins.db, and on a busy disk that took up to 0.75 s, which on
 * the writer's thread held every write queued behind it (issue 12's soak). The writer's commits
 * go on meanwhile, so the WAL only starts over at a commit that finds every frame copied: from
 * RESTART_PAGES on, the checkpoint thread copies again as soon as more than CATCHUP_FRAMES are
 * left, and the idle writer copies the last few itself (a short checkpoint, its fsyncs of a
 * few frames), so its next commit starts the WAL over; without that the WAL grew to 256 MiB
 * under 1,000 touches/s (four 16 KiB pages each) and a commit checkpointed it all inline, up
 * to 0.95 s (lib/store/store.c keeps that for a writer that is never idle). A write the builder
 * publishes (an import: reading 100k pins back) is published before any of this: run beside
 * the build, the checkpoint (writing the whole import into pins.db) took the CPU the build
 * needed, and the reply waits for the build (100k-pin import: the build's read 160-214 ms
 * beside the checkpoint, 108-142 ms without). */
#define CHECKPOINT_PAGES 1000 /* SQLite's autocheckpoint threshold (16 MiB of 16 KiB pages) */
#define RESTART_PAGES 8192    /* 128 MiB: from here the WAL is brought back to its start */
#define CATCHUP_FRAMES 64     /* the most the writer copies itself (1 MiB) */
#define RETRY_MS 50           /* a checkpoint that copied nothing new (a reader holds frames) */

/* Whether the checkpoint thread has work: with ckpt_mu held. */
static bool checkpoint_due(struct ik_daemon *d)
{
    int64_t pages = d->ckpt_pages;
    if (pages < d->ckpt_base || pages < d->ckpt_copied) { /* the WAL started over */
        d->ckpt_base = 0;
        d->ckpt_copied = 0;
    }
    return pages - d->ckpt_base >= CHECKPOINT_PAGES ||
           (pages >= RESTART_PAGES && pages - d->ckpt_copied > CATCHUP_FRAMES);
}

/* The idle writer's part: tells the checkpoint thread the WAL's size, or copies the last
 * frames itself once the WAL is long and nearly all copied. */
static void checkpoint_step(struct ik_daemon *d)
{
    struct ik_error err = {{0}};
    int64_t pages = ik_store_wal_pages(d->wstore), copied = -1;
    bool catch_up;
    pthread_mutex_lock(&d->ckpt_mu);
    d->ckpt_pages = pages;
    if (checkpoint_due(d))
        pthread_cond_signal(&d->ckpt_cv);
    catch_up = pages >= RESTART_PAGES && pages - d->ckpt_copied <= CATCHUP_FRAMES;
    pthread_mutex_unlock(&d->ckpt_mu);
    if (!catch_up)
        return;
    if (ik_store_checkpoint_now(d->wstore, &copied, &err) != 0)
        fprintf(stderr, "ipfs-kit daemon: checkpoint: %s\n", err.message);
    pthread_mutex_lock(&d->ckpt_mu);
    if (copied > d->ckpt_copied)
        d->ckpt_copied = copied;
    pthread_mutex_unlock(&d->ckpt_mu);
}

static void *checkpointer_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_error err = {{0}};
    ik_sched_thread(d, "ik-checkpoint", IK_THREAD_BACKGROUND);
    pthread_mutex_lock(&d->ckpt_mu);
    while (!atomic_load(&d->stop)) {
        int64_t pages = d->ckpt_pages, copied = -1, before = d->ckpt_copied;
        if (!checkpoint_due(d)) {
            pthread_cond_wait(&d->ckpt_cv, &d->ckpt_mu);
            continue;
        }
        pthread_mutex_unlock(&d->ckpt_mu);
        /* PASSIVE: frames a reader still needs stay; the writer's commits go on meanwhile */
        if (ik_store_checkpoint_now(d->cstore, &copied, &err) != 0)
            fprintf(stderr, "ipfs-kit daemon: checkpoint: %s\n", err.message);
        pthread_mutex_lock(&d->ckpt_mu);
        d->ckpt_base = pages; /* the next one after CHECKPOINT_PAGES more (or a failure's retry) */
        if (copied > d->ckpt_copied)
            d->ckpt_copied = copied;
        if (copied <= before) { /* nothing new copied: not again at once */
            struct timespec until = ik_realtime_in(RETRY_MS);
            if (!atomic_load(&d->stop))
                pthread_cond_timedwait(&d->ckpt_cv, &d->ckpt_mu, &until);
        }
    }
    pthread_mutex_unlock(&d->ckpt_mu);
    return NULL;
}

static void *writer_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_job *j;
    struct ik_error err = {{0}};
    ik_sched_thread(d, "ik-writer", IK_THREAD_WRITE_PATH);
    while ((j = ik_queue_pop(&d->writes, &d->stop)) != NULL) {
        uint64_t gen;
        write_job(d, j);
        gen = j->generation;
        if (!j->reply)
            j->reply = ik_reply_error("internal", "out of memory");
        ik_job_done(d, j);
        if (gen > 0 && queue_empty(&d->writes))
            await_publish(d, gen);
        /* an import acknowledged from its journal: now its rows; retried while it fails (a
         * full disk, a lock held past busy_timeout) and no write comes, which would try it */
        pthread_mutex_lock(&d->apply_mu);
        gen = d->unapplied;
        pthread_mutex_unlock(&d->apply_mu);
        if (gen != 0)
            ik__stop_point("import-apply"); /* acknowledged and published, not applied */
        for (long ms = 50; apply_now(d, &err) != 0 && !atomic_load(&d->stop); ms *= 2)
            if (!wait_for_write(d, ms < 5000 ? ms : 5000))
                break;
        if (queue_empty(&d->writes))
            checkpoint_step(d);
        trim_changes(d);
    }
    (void)apply_now(d, &err); /* a stop leaves nothing pending */
    return NULL;
}

/* ---- start / stop --------------------------------------------------------------------- */

void *ik_reply_worker_main(void *arg);

/* Sets stop, wakes and joins the checkpoint thread. */
static void stop_checkpointer(struct ik_daemon *d)
{
    atomic_store(&d->stop, true);
    pthread_mutex_lock(&d->ckpt_mu);
    pthread_cond_broadcast(&d->ckpt_cv);
    pthread_mutex_unlock(&d->ckpt_mu);
    pthread_join(d->checkpointer, NULL);
}

int ik_workers_start(struct ik_daemon *d, struct ik_error *err)
{
    int rc;
    if ((rc = ik_store_open(d->dir, 0, &d->cstore, err)) != 0)
        return ik_error_prefix(err, rc, "the checkpoint thread's connection");
    if ((rc = pthread_create(&d->checkpointer, NULL, checkpointer_main, d)) != 0)
        return ik_error_set(err, rc, "starting the checkpoint thread: %s", strerror(rc));
    if ((rc = pthread_create(&d->writer, NULL, writer_main, d)) != 0) {
        stop_checkpointer(d);
        return ik_error_set(err, rc, "starting the writer thread: %s", strerror(rc));
    }
    if ((rc = ik_segbuild_start(d, err)) != 0) {
        atomic_store(&d->stop, true);
        ik_queue_wake_all(&d->writes);
        pthread_join(d->writer, NULL);
        stop_checkpointer(d);
        return rc;
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
    pthread_join(d->writer, NULL);
    stop_checkpointer(d);
    ik_segbuild_stop(d);
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
    ik_segset_release(j->snap.set);
    if (j->in_fd >= 0)
        close(j->in_fd);
    ik_request_reset(&j->req);
    free(j);
}
