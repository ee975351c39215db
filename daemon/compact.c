/* The compactor: a thread that keeps the published pin_index state short, off the write path
 * (no write reply waits for it; readers keep the states they hold). It prepares a state and
 * hands it to the builder (segbuild.c), which installs it with the changes made meanwhile:
 *
 * - major: a new base of every pin (read from the store, as a full build), when the deltas
 *   and gone rows reach a share of the base (1/COMPACT_SHARE, at least COMPACT_MIN_ROWS);
 * - minor: the newest deltas merged into one (the rows changed since the delta before them,
 *   from the segment log), tiered (merge_from): a run of at least COMPACT_DELTAS deltas whose
 *   older ones are at most MERGE_GROWTH times the newer ones together, so the deltas stay
 *   about log3 of the changes since the base (100 single writes leave a handful) and a row is
 *   rewritten O(log changes) times.
 *
 * vfs_stats, an aggregate of every pin, is rebuilt on its own thread (vfsbuild.c): a rebuild
 * takes seconds at 1M pins on a loaded machine, and merges waiting for it let deltas pile up
 * to the limit of a state. IPFS_KIT_COMPACT_DELTAS, IPFS_KIT_COMPACT_SHARE and
 * IPFS_KIT_COMPACT_MIN_ROWS override the thresholds (tests, benchmarks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arrow/internal.h"
#include "daemon.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/seglog.h"
#include "ipfskit/snapshot.h"

#define COMPACT_DELTAS 2 /* the fewest deltas a minor merge takes */
#define MERGE_GROWTH 2
#define COMPACT_SHARE 8
#define COMPACT_MIN_ROWS 1024
#define IDLE_MS 200

static int64_t env_num(const char *name, int64_t def)
{
    const char *v = getenv(name);
    char *end;
    long long x;
    if (v == NULL || *v == 0)
        return def;
    x = strtoll(v, &end, 10);
    return *end == 0 && x >= 0 ? x : def;
}

static uint64_t next_seq(struct ik_daemon *d)
{
    return atomic_fetch_add(&d->seq, 1);
}

/* Every pin at one generation: the new base, and vfs_stats from the same rows. */
static int major(struct ik_daemon *d, struct ik_pin_reader *pr, struct ik_segset **out,
                 struct ik_error *err)
{
    struct ArrowSchema ps = {0};
    struct ArrowArray pa = {0};
    uint64_t gen = 0;
    double t0 = ik_now_ms();
    int rc = ik_pin_reader_read(pr, &gen, &ps, &pa, err);
    if (rc != 0)
        return rc;
    ik__stop_point("read"); /* compact-read: every pin read, nothing written */
    rc = ik_segset_write_base(d->dir, "pin_index", gen, next_seq(d), &ps, &pa, out, err);
    /* the compaction's time: the new base alone (vfs_stats from the same rows comes after) */
    atomic_store_explicit(&d->metrics.compaction_us_last, (long long)((ik_now_ms() - t0) * 1000.0),
                          memory_order_relaxed);
    if (rc == 0)
        (void)ik_vfs_publish(d, gen, &ps, &pa, NULL);
    pa.release(&pa);
    ps.release(&ps);
    return rc;
}

/* The deltas of `cur` to merge: the first of them (segment index), or 0 for none. Walking back
 * from the newest delta, an older one joins while it is at most MERGE_GROWTH times the rows of
 * the newer ones together; the run is merged when it holds at least `min_run` deltas. So a
 * merge at least (1 + 1/MERGE_GROWTH)-folds the delta every row it rewrites lands in (a row is
 * rewritten O(log changes) times: O(change) amortised), and once merged the deltas shrink
 * MERGE_GROWTH + 1-fold from oldest to newest: about log3(changes) of them, plus fewer than
 * min_run new ones per step. A delta holding only deletions counts as one row. */
static int merge_from(const struct ik_segset *cur, int64_t min_run)
{
    int n = ik_segset_count(cur), k = n - 1;
    int64_t newer;
    if (k < 1)
        return 0;
    newer = ik_snapshot_rows(ik_segset_segment(cur, k));
    newer = newer > 0 ? newer : 1;
    while (k > 1) {
        int64_t rows = ik_snapshot_rows(ik_segset_segment(cur, k - 1));
        rows = rows > 0 ? rows : 1;
        if (rows > MERGE_GROWTH * newer)
            break;
        newer += rows;
        k--;
    }
    return n - k >= 2 && n - k >= min_run ? k : 0;
}

/* Segments [0, keep) of `cur` and one delta of every change since the newest of them. */
static int minor(struct ik_daemon *d, struct ik_store *st, struct ik_segset *cur, int keep,
                 struct ik_segset **out, struct ik_error *err)
{
    struct ik_segset *base = NULL;
    struct ik_changeset cs;
    int rc = ik_segset_prefix(cur, keep, &base, err);
    if (rc != 0)
        return rc;
    rc = ik_store_changes_since(st, ik_segset_version(base), INT64_MAX, &cs, err);
    if (rc == 0) {
        ik__stop_point("read");
        /* in memory when small (a merge under a stream of single writes, ~100 a second: each
         * a file created and renamed, and unlinked later, kept the disk's journal busy) */
        if (cs.rows.length <= IK_MEM_MAX_ROWS)
            rc = ik_segset_mem_delta(base, cs.generation, next_seq(d), &cs.schema, &cs.rows,
                                     (const char *const *)cs.deleted, cs.n_deleted, out, err);
        else
            rc = ik_segset_write_delta(base, d->dir, cs.generation, next_seq(d), &cs.schema,
                                       &cs.rows, (const char *const *)cs.deleted, cs.n_deleted, out,
                                       err);
        ik_changeset_reset(&cs);
    }
    ik_segset_release(base);
    return rc;
}

/* One look at the published state; true when it did some work. */
static bool round_once(struct ik_daemon *d, struct ik_pin_reader *pr, struct ik_store *st)
{
    struct ik_segset *cur = NULL, *made = NULL;
    struct ik_error err = {{0}};
    int64_t base_rows, change, deltas;
    int keep = 0;
    bool is_major, is_minor, busy;
    int rc = 0;
    pthread_mutex_lock(&d->pub_mu);
    if ((cur = d->pins.set) != NULL)
        ik_segset_ref(cur);
    pthread_mutex_unlock(&d->pub_mu);
    if (cur == NULL)
        return false;
    base_rows = ik_snapshot_rows(ik_segset_segment(cur, 0));
    change = ik_segset_delta_rows(cur) + ik_segset_gone_rows(cur);
    deltas = ik_segset_count(cur) - 1;
    is_major = deltas > 0 && change >= env_num("IPFS_KIT_COMPACT_MIN_ROWS", COMPACT_MIN_ROWS) &&
               change * env_num("IPFS_KIT_COMPACT_SHARE", COMPACT_SHARE) >= base_rows;
    /* a minor merge reads every change since the base: under a stream of writes it waits
     * twice its last duration after the previous one, so merging takes at most a third of a
     * core while the deltas it leaves stay few */
    if (!is_major)
        keep = merge_from(cur, env_num("IPFS_KIT_COMPACT_DELTAS", COMPACT_DELTAS));
    is_minor = keep > 0 && ik_now_ms() - d->minor_end_ms >= 2 * d->minor_ms;
    pthread_mutex_lock(&d->build_mu);
    busy = d->compacted != NULL; /* one waits to be installed */
    pthread_mutex_unlock(&d->build_mu);
    if (!busy && (is_major || is_minor)) {
        double t0 = ik_now_ms();
        /* no prune while its files are named by no state (not files_mu: the builder takes it
         * for every write, and a merge waiting behind a stream of them lets deltas pile up) */
        pthread_mutex_lock(&d->prune_mu);
        d->compacting = true;
        pthread_mutex_unlock(&d->prune_mu);
        rc = is_major ? major(d, pr, &made, &err) : minor(d, st, cur, keep, &made, &err);
        pthread_mutex_lock(&d->build_mu);
        if (rc == 0) {
            d->compacted = made; /* prune keeps it from here on */
            pthread_cond_signal(&d->build_cv);
        }
        pthread_mutex_unlock(&d->build_mu);
        pthread_mutex_lock(&d->prune_mu);
        d->compacting = false;
        pthread_mutex_unlock(&d->prune_mu);
        if (rc == 0) {
            atomic_fetch_add_explicit(&d->metrics.compactions, 1, memory_order_relaxed);
            if (!is_major) {
                d->minor_end_ms = ik_now_ms();
                d->minor_ms = d->minor_end_ms - t0;
                atomic_store_explicit(&d->metrics.compaction_us_last,
                                      (long long)(d->minor_ms * 1000.0), memory_order_relaxed);
            }
        } else if (rc != ESTALE && rc != EBUSY) { /* EBUSY: an import not applied yet */
            fprintf(stderr, "ipfs-kit daemon: compaction: %s\n", err.message);
        }
        ik_segset_release(cur);
        return rc == 0;
    }
    ik_segset_release(cur);
    return false;
}

void *ik_compactor_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_pin_reader *pr = NULL;
    struct ik_store *st = NULL;
    struct ik_error err = {{0}};
    ik__stop_point_scope("compact"); /* its points: compact-compact, compact-publish, ... */
    ik_sched_thread(d, "ik-compact", IK_THREAD_NORMAL); /* not lower (sched.c) */
    /* one reading thread: the builder and the write path keep the other core */
    if (ik_pin_reader_open(d->dir, 1, &pr, &err) != 0 ||
        ik_store_open(d->dir, IK_STORE_READONLY, &st, &err) != 0) {
        fprintf(stderr, "ipfs-kit daemon: compactor: %s\n", err.message);
        ik_pin_reader_close(pr);
        return NULL;
    }
    while (!atomic_load(&d->stop)) { /* the settler makes the states durable (segbuild.c) */
        if (!round_once(d, pr, st))
            ik_build_wait(d, &d->compact_cv, IDLE_MS, false);
    }
    ik_store_close(st);
    ik_pin_reader_close(pr);
    return NULL;
}
