/* ipfs-kit sync [NAME] [--once]: makes the pin index equal to each source's pins now
 * (docs/sync.md). With no daemon running the sync goes straight into the store under the
 * daemon lock; a running daemon owns the store, so the sync is asked of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ipfskit/config.h"
#include "ipfskit/store.h"
#include "ipfskit/sync.h"

static void sync_usage(FILE *f)
{
    fprintf(f, "usage: ipfs-kit sync [NAME] [--once]\n"
               "  syncs every source of config.json \"sources\" (or the one named) now and\n"
               "  prints pins added, removed and changed; with no \"sources\" key the local kubo\n"
               "  ($IPFS_PATH/api or ~/.ipfs/api) is the source \"kubo\"\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress {
    const char *name;
    double t0;
    bool shown;
};

/* a progress line on a terminal only; nothing when stderr is piped */
static void show_progress(void *arg, int64_t listed)
{
    struct progress *p = arg;
    double dt = now_s() - p->t0;
    fprintf(stderr, "\r%s: %lld pins listed (%.0f/s)", p->name, (long long)listed,
            dt > 0 ? (double)listed / dt : 0.0);
    p->shown = true;
}

static int sync_direct(const char *dir, struct ik_source *srcs, size_t n, const char *only)
{
    struct ik_store *st = NULL;
    struct ik_error err = {{0}};
    long pid = 0;
    int lock_fd = -1, rc, worst = 0;
    bool tty = isatty(STDERR_FILENO) == 1;
    if ((rc = ik_data_dir_ensure(dir, &err)) != 0 ||
        (rc = ik_data_dir_check(dir, NULL, &err)) != 0 ||
        (rc = ik_lock_acquire(dir, &lock_fd, &pid, &err)) != 0) {
        if (rc == IK_ELOCKED)
            ik_cli_errorf("a daemon (PID %ld) owns the store; syncing through it is not built "
                          "yet: stop it ('ipfs-kit daemon stop') and run 'ipfs-kit sync' again",
                          pid);
        else
            ik_cli_errorf("%s", err.message);
        return rc == IK_ELOCKED ? IK_EXIT_TEMPFAIL : ik_cli_exit_code(rc);
    }
    if ((rc = ik_store_open(dir, IK_STORE_CREATE, &st, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        ik_lock_release(lock_fd, dir);
        return ik_cli_exit_code(rc);
    }
    for (size_t i = 0; i < n; i++) {
        struct ik_sync_counts res;
        struct progress p = {.name = srcs[i].name, .t0 = now_s()};
        if (only != NULL && strcmp(only, srcs[i].name) != 0)
            continue;
        rc = ik_sync_once(st, &srcs[i], tty ? show_progress : NULL, &p, &res, &err);
        if (p.shown)
            fputc('\n', stderr);
        if (rc != 0) {
            ik_cli_errorf("%s", err.message);
            worst = worst                                 ? worst
                    : rc == IK_EFORMAT || rc == IK_ELIMIT ? IK_EXIT_DATAERR
                                                          : IK_EXIT_UNAVAILABLE;
            continue;
        }
        printf("%s: %lld listed, %lld added, %lld removed, %lld changed%s · %.2f s\n", srcs[i].name,
               (long long)res.listed, (long long)res.added, (long long)res.removed,
               (long long)res.changed, res.wrote ? "" : " (nothing to write)", now_s() - p.t0);
        if (res.invalid > 0)
            ik_cli_errorf("%s: %lld listed pins refused: %s", srcs[i].name, (long long)res.invalid,
                          res.first_invalid);
    }
    ik_store_close(st);
    ik_lock_release(lock_fd, dir);
    return worst;
}

int ik_cli_sync(int argc, char **argv)
{
    const char *only = NULL;
    char dir[4096];
    struct ik_config cfg;
    struct ik_source *srcs = NULL;
    struct ik_error err = {{0}};
    size_t n = 0;
    int rc;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sync_usage(stdout);
            return IK_EXIT_OK;
        } else if (strcmp(argv[i], "--once") == 0) {
            continue; /* a sync from the command line is always one sync */
        } else if (argv[i][0] == '-' || only != NULL) {
            ik_cli_errorf("sync: unexpected argument '%s'", argv[i]);
            sync_usage(stderr);
            return IK_EXIT_USAGE;
        } else {
            only = argv[i];
        }
    }
    if ((rc = ik_data_dir(dir, sizeof dir, &err)) != 0 ||
        (rc = ik_config_load(dir, &cfg, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    rc = ik_sync_sources(&cfg, &srcs, &n, &err);
    ik_config_reset(&cfg);
    if (rc != 0) {
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    if (n == 0) {
        ik_cli_errorf("sync: no sources: add \"sources\" to %s/config.json, or run kubo (its "
                      "$IPFS_PATH/api names the API)",
                      dir);
        return IK_EXIT_UNAVAILABLE;
    }
    if (only != NULL) {
        size_t i;
        for (i = 0; i < n && strcmp(srcs[i].name, only) != 0; i++)
            ;
        if (i == n) {
            ik_cli_errorf("sync: no source named '%s'", only);
            free(srcs);
            return IK_EXIT_USAGE;
        }
    }
    rc = sync_direct(dir, srcs, n, only);
    free(srcs);
    return rc;
}
