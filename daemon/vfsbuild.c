/* The vfs_stats rebuilder: vfs_stats aggregates every pin, so keeping it current on each write
 * would make writes O(pins) again. A thread of its own rebuilds it when it lags pin_index, from
 * the published pin_index state's mapped segments (reading the store held every pin in memory:
 * ~3 GB at 10M pins): never on the write path, once writes pause for VFS_QUIET_MS (or it has
 * lagged VFS_MAX_LAG_MS), and at most a fifth of the time (a build waits four times its last
 * duration after the previous one). Not on the compactor's thread: a rebuild took seconds at
 * 1M pins on a loaded machine, and the compactor's merges must not wait for it (deltas piled up
 * to the limit of a state behind one, and the builder then read every pin). The thread runs at
 * the lowest priority (nice 19, this thread alone): on a 2-core machine a rebuild took a core
 * from the write path (pin add p50 at 1M pins during a stream of writes rose by half). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"

#define VFS_QUIET_MS 100    /* pin_index unchanged this long: writes have paused */
#define VFS_MAX_LAG_MS 5000 /* under writes that never pause, rebuild vfs_stats anyway */
#define VFS_LOOK_MS 100     /* how often it looks without a publish waking it */

/* Writes vfs_stats (vs, va) at generation gen as a base and publishes it. */
static int publish_arrays(struct ik_daemon *d, uint64_t gen, const struct ArrowSchema *vs,
                          const struct ArrowArray *va, struct ik_error *err)
{
    struct ik_segset *set = NULL;
    int rc;
    pthread_mutex_lock(&d->files_mu);
    rc = ik_segbuild_vfs_base(d, gen, vs, va, &set, err);
    if (rc == 0)
        rc = ik_segbuild_publish(d, "vfs_stats", set, err); /* made durable by the settle */
    pthread_mutex_unlock(&d->files_mu);
    ik_segset_release(set);
    return rc;
}

int ik_vfs_publish(struct ik_daemon *d, uint64_t gen, const struct ArrowSchema *ps,
                   const struct ArrowArray *pa, struct ik_error *err)
{
    struct ArrowSchema vs = {0};
    struct ArrowArray va = {0};
    int rc = ik_vfs_stats_build(ps, pa, &vs, &va, err);
    if (rc != 0)
        return rc;
    rc = publish_arrays(d, gen, &vs, &va, err);
    va.release(&va);
    vs.release(&vs);
    return rc;
}

/* vfs_stats of the published pin_index state, read from its mapped segments (no pin read from
 * the store, none copied: at 10M pins the store read held ~3 GB), at that state's version. */
static int publish_from_state(struct ik_daemon *d, struct ik_error *err)
{
    struct ArrowSchema vs = {0};
    struct ArrowArray va = {0};
    struct ik_segset *pins = NULL;
    int rc;
    pthread_mutex_lock(&d->pub_mu);
    if ((pins = d->pins.set) != NULL)
        ik_segset_ref(pins);
    pthread_mutex_unlock(&d->pub_mu);
    if (pins == NULL)
        return 0;
    if ((rc = ik_segset_vfs_stats(pins, &vs, &va, err)) == 0) {
        rc = publish_arrays(d, ik_segset_version(pins), &vs, &va, err);
        va.release(&va);
        vs.release(&vs);
    }
    ik_segset_release(pins);
    return rc;
}

void *ik_vfsbuild_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_error err = {{0}};
    double last = 0, lag_since = 0, build_ms = 0;
    ik_sched_thread(d, "ik-vfs", IK_THREAD_IDLE); /* nice 19 (sched.c) */
    while (!atomic_load(&d->stop)) {
        uint64_t pins_version = 0, vfs_version = 0;
        double now = ik_now_ms(), quiet;
        pthread_mutex_lock(&d->pub_mu);
        if (d->pins.set != NULL)
            pins_version = ik_segset_version(d->pins.set);
        vfs_version = d->vfs.version;
        pthread_mutex_unlock(&d->pub_mu);
        quiet = now - (double)atomic_load(&d->pins_published_us) / 1000.0;
        if (vfs_version >= pins_version) {
            lag_since = 0;
        } else if (lag_since == 0) {
            lag_since = now;
        }
        /* not in the middle of a burst of writes (it would take a core from them), unless
         * vfs_stats has lagged for VFS_MAX_LAG_MS; and at most a fifth of the time */
        if (lag_since != 0 && (quiet >= VFS_QUIET_MS || now - lag_since >= VFS_MAX_LAG_MS) &&
            now - last >= 4 * build_ms) {
            lag_since = 0;
            if (publish_from_state(d, &err) != 0)
                fprintf(stderr, "ipfs-kit daemon: vfs_stats: %s\n", err.message);
            last = ik_now_ms();
            build_ms = last - now;
            continue;
        }
        ik_build_wait(d, &d->compact_cv, VFS_LOOK_MS, false); /* a publish, or a look */
    }
    return NULL;
}
