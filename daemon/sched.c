/* Thread names and priorities. On the small machines the daemon is meant for (2 cores), its
 * own background work — merging deltas, making states durable, checkpointing the WAL,
 * rebuilding vfs_stats — competes for a core with the threads a write reply waits for: the
 * loop (reads the request, sends the reply), the writer (commits it) and the builder (publishes
 * it when the writer cannot). So each thread names itself (top -H, perf and /proc/<pid>/task
 * show which is which) and takes a nice value relative to the daemon's own (`nice ipfs-kit
 * daemon start` moves them all):
 *
 *   write path (loop, writer, builder)       base - 5, when the kernel allows (CAP_SYS_NICE,
 *                                            or RLIMIT_NICE); else base, silently
 *   compactor                                base (at base + 5, under 1,000 writes/s, it
 *                                            merged a fifth as often and the deltas
 *                                            reached the limit of a state: 22-45
 *                                            segment-limit merges on the builder in 30 s)
 *   settler, checkpointer                    base + 10 (they mostly wait for fsync)
 *   vfs_stats rebuilder                      19 (vfsbuild.c)
 *   reply workers, spare files, the rest     base
 *
 * Raising a thread's nice needs no privilege; lowering it does. Whether the write path got its
 * raise is decided once, at start (ik_sched_init), and shown by `ipfs-kit daemon status`
 * ("write_path_nice", "write_path_raised") and in the start message. Linux: a thread's id
 * given to setpriority(PRIO_PROCESS) sets that thread alone. docs/architecture.md, "Threads". */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon.h"

#define WRITE_PATH_RAISE 5
#define BACKGROUND_LOWER 10

static int clamp_nice(int n)
{
    return n < -20 ? -20 : n > 19 ? 19 : n;
}

void ik_sched_init(struct ik_daemon *d)
{
    id_t tid = (id_t)gettid();
    int base, want;
    errno = 0;
    base = getpriority(PRIO_PROCESS, tid);
    if (base == -1 && errno != 0)
        base = 0;
    d->base_nice = base;
    want = clamp_nice(base - WRITE_PATH_RAISE);
    /* tried on this thread (the loop, before any other starts) and undone at once: threads
     * inherit their creator's nice, and the loop takes its own just before it runs */
    d->write_nice = base;
    if (want < base && setpriority(PRIO_PROCESS, tid, want) == 0) {
        d->write_nice = want;
        (void)setpriority(PRIO_PROCESS, tid, base); /* raising nice: always allowed */
    }
}

int ik_sched_nice(const struct ik_daemon *d, enum ik_thread_role role)
{
    switch (role) {
    case IK_THREAD_WRITE_PATH:
        return d->write_nice;
    case IK_THREAD_BACKGROUND:
        return clamp_nice(d->base_nice + BACKGROUND_LOWER);
    case IK_THREAD_IDLE:
        return 19;
    default:
        return d->base_nice;
    }
}

void ik_sched_thread(const struct ik_daemon *d, const char *name, enum ik_thread_role role)
{
    int nice = ik_sched_nice(d, role);
    if (name != NULL)
        (void)pthread_setname_np(pthread_self(), name); /* at most 15 bytes */
    if (nice != d->base_nice && setpriority(PRIO_PROCESS, (id_t)gettid(), nice) != 0 &&
        nice > d->base_nice)
        fprintf(stderr, "ipfs-kit daemon: %s: nice %d: %s\n", name ? name : "thread", nice,
                strerror(errno));
}
