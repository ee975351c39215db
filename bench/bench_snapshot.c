/* Snapshot build benchmark: the phases of the daemon's build() on an existing store, timed
 * separately — read_pins (SQLite rows to one pin_index batch), the pin_index snapshot write
 * (encode, write, fsync, link, directory fsync), vfs_stats aggregation and its write — each
 * the best and median of ITERS runs, and the least process CPU time (all threads; steadier
 * than wall time on a busy machine). Snapshots go to a scratch directory, not the store's.
 * Usage: bench-snapshot STORE_DIR [ITERS]   (STORE_DIR holds pins.db)
 * THREADS=n reads with an ik_pin_reader of n threads (its first read runs on one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipfskit/schemas.h"
#include "ipfskit/snapshot.h"
#include "ipfskit/store.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { READ, PWRITE, VFS, VWRITE, TOTAL, NPHASE };
static const char *const names[NPHASE] = {"read_pins", "write pin_index", "vfs_stats build",
                                          "write vfs_stats", "total"};

int main(int argc, char **argv)
{
    int iters = argc > 2 ? atoi(argv[2]) : 5, i, k;
    double t[NPHASE][64], cpu[NPHASE][64];
    char out[256], cmd[300], path[4400];
    struct ik_store *st = NULL;
    struct ik_pin_reader *pr = NULL;
    int threads = getenv("THREADS") ? atoi(getenv("THREADS")) : 0;
    uint64_t gen;
    struct ik_error err;
    if (argc < 2 || iters < 1 || iters > 64) {
        fprintf(stderr, "usage: bench-snapshot STORE_DIR [ITERS<=64]\n");
        return 2;
    }
    snprintf(out, sizeof out, "/tmp/ik-bench-snapshot-%d", (int)getpid());
    if (mkdir(out, 0700) != 0) {
        perror(out);
        return 1;
    }
    if (threads > 0 ? ik_pin_reader_open(argv[1], threads, &pr, &err) != 0
                    : ik_store_open(argv[1], IK_STORE_READONLY, &st, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    for (i = 0; i < iters; i++) {
        struct ArrowSchema ps, vs;
        struct ArrowArray pa, va;
        double t0 = now_ms(), t1, t2, t3, t4, c0 = cpu_ms(), c1, c2, c3;
        if (pr ? ik_pin_reader_read(pr, &gen, &ps, &pa, &err) != 0
               : ik_store_read_pins(st, &ps, &pa, &err) != 0)
            goto fail;
        t1 = now_ms();
        c1 = cpu_ms();
        if (ik_snapshot_write(out, "pin_index", (uint64_t)i + 1, &ps, &pa, path, sizeof path,
                              &err) != 0)
            goto fail;
        t2 = now_ms();
        c2 = cpu_ms();
        if (ik_vfs_stats_build(&ps, &pa, &vs, &va, &err) != 0)
            goto fail;
        t3 = now_ms();
        c3 = cpu_ms();
        if (ik_snapshot_write(out, "vfs_stats", (uint64_t)i + 1, &vs, &va, path, sizeof path,
                              &err) != 0)
            goto fail;
        t4 = now_ms();
        t[READ][i] = t1 - t0;
        t[PWRITE][i] = t2 - t1;
        t[VFS][i] = t3 - t2;
        t[VWRITE][i] = t4 - t3;
        t[TOTAL][i] = t4 - t0;
        cpu[READ][i] = c1 - c0;
        cpu[PWRITE][i] = c2 - c1;
        cpu[VFS][i] = c3 - c2;
        cpu[VWRITE][i] = cpu_ms() - c3;
        cpu[TOTAL][i] = cpu_ms() - c0;
        if (i == 0)
            printf("%lld pins, %lld directories\n", (long long)pa.length, (long long)va.length);
        pa.release(&pa);
        ps.release(&ps);
        va.release(&va);
        vs.release(&vs);
        ik_snapshot_prune(out, "pin_index", (uint64_t)i + 1, NULL);
        ik_snapshot_prune(out, "vfs_stats", (uint64_t)i + 1, NULL);
    }
    for (k = 0; k < NPHASE; k++) {
        qsort(t[k], (size_t)iters, sizeof(double), cmp_double);
        qsort(cpu[k], (size_t)iters, sizeof(double), cmp_double);
        printf("%-18s min %8.1f ms  median %8.1f ms  (cpu min %8.1f ms)\n", names[k], t[k][0],
               t[k][iters / 2], cpu[k][0]);
    }
    ik_store_close(st);
    ik_pin_reader_close(pr);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    return system(cmd) != 0;
fail:
    fprintf(stderr, "%s\n", err.message);
    ik_store_close(st);
    ik_pin_reader_close(pr);
    return 1;
}
