/* ipfs-kit sync [NAME] [--once]: makes the pin index equal to each source's pins now
 * (docs/sync.md). With no daemon running the sync goes straight into the store under the
 * daemon lock; a running daemon owns the store, so the sync is asked of it (op sync_now) and
 * its result read from sync_status, polled until the run is done and visible. */
#include <jansson.h>
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

#define SYNC_WAIT_S 3600 /* how long a sync through the daemon is waited for by default */
#define POLL_MS 100      /* sync_status polls while it runs */

static void sync_usage(FILE *f)
{
    fprintf(f,
            "usage: ipfs-kit sync [NAME] [--once] [--timeout SECONDS]\n"
            "  syncs every source of config.json \"sources\" (or the one named) now and\n"
            "  prints pins added, removed and changed; with no \"sources\" key the local kubo\n"
            "  ($IPFS_PATH/api or ~/.ipfs/api) is the source \"kubo\"; a running daemon does\n"
            "  the sync, waited for up to --timeout (default %d s)\n",
            SYNC_WAIT_S);
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

/* "a, b, c": the names of the sources, for an error naming them. */
static void source_names(const struct ik_source *srcs, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? ", " : "", srcs[i].name);
}

/* The sync in this process, under the daemon lock (lock_fd, released here). */
static int sync_direct(const char *dir, int lock_fd, struct ik_source *srcs, size_t n,
                       const char *only)
{
    struct ik_store *st = NULL;
    struct ik_error err = {{0}};
    int rc, worst = 0;
    bool tty = isatty(STDERR_FILENO) == 1;
    if (n == 0) {
        ik_cli_errorf("sync: no sources: add \"sources\" to %s/config.json, or run kubo (its "
                      "$IPFS_PATH/api names the API)",
                      dir);
        ik_lock_release(lock_fd, dir);
        return IK_EXIT_UNAVAILABLE;
    }
    if (only != NULL) {
        size_t i;
        for (i = 0; i < n && strcmp(srcs[i].name, only) != 0; i++)
            ;
        if (i == n) {
            char names[1024];
            source_names(srcs, n, names, sizeof names);
            ik_cli_errorf("sync: no source named '%s' (the sources: %s)", only, names);
            ik_lock_release(lock_fd, dir);
            return IK_EXIT_USAGE;
        }
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

/* "2026-12-07T04:50:12Z", or "never" */
static void when(json_t *us, char *out, size_t cap)
{
    time_t t;
    struct tm tm;
    if (!json_is_integer(us)) {
        snprintf(out, cap, "never");
        return;
    }
    t = (time_t)(json_integer_value(us) / 1000000);
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ipfs-kit sync status: each source as the running daemon sees it. */
static int sync_status(int argc, char **argv)
{
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    char *reply = NULL;
    bool json = false;
    json_t *root, *src;
    size_t i;
    int rc;
    ik_client_options_init(&o);
    for (int k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--format") == 0 && k + 1 < argc &&
            (strcmp(argv[k + 1], "json") == 0 || strcmp(argv[k + 1], "table") == 0)) {
            json = strcmp(argv[++k], "json") == 0;
        } else if (strcmp(argv[k], "--timeout") == 0 && k + 1 < argc) {
            if (ik_cli_parse_timeout(argv[++k], &o.timeout_ms) != 0)
                return IK_EXIT_USAGE;
        } else {
            return ik_cli_usage_error("sync", "status");
        }
    }
    if ((rc = ik_cli_open(&o, &c)) != 0)
        return rc;
    rc = ik_client_call(c, "{\"v\":1,\"op\":\"sync_status\"}", &reply, &err);
    ik_client_close(c);
    if (rc != 0) {
        if (rc == IK_EDAEMON)
            ik_cli_errorf("sync status: no daemon is running (the daemon syncs the sources; "
                          "start it with 'ipfs-kit daemon start', or sync once with "
                          "'ipfs-kit sync')");
        else
            ik_cli_errorf("sync status: %s", err.message);
        return rc == IK_EDAEMON ? IK_EXIT_UNAVAILABLE : ik_cli_exit_code(rc);
    }
    root = json_loads(reply, 0, NULL);
    free(reply);
    if (!json_is_object(root)) {
        json_decref(root);
        ik_cli_errorf("sync status: the daemon's reply is not a JSON object");
        return IK_EXIT_SOFTWARE;
    }
    json_object_del(root, "ok");
    if (json) {
        char *text = json_dumps(root, JSON_COMPACT);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(root);
        return IK_EXIT_OK;
    }
    printf("%-12s %-12s %-9s %-20s %8s  %-28s %7s  %s\n", "source", "kind", "status",
           "last success", "lag s", "last sync", "next s", "last error");
    json_array_foreach(json_object_get(root, "sources"), i, src)
    {
        char ok[32], counts[64] = "-";
        json_t *last = json_object_get(src, "last_sync"), *lag = json_object_get(src, "lag_s");
        const char *e = json_string_value(json_object_get(src, "last_error"));
        when(json_object_get(src, "last_success_us"), ok, sizeof ok);
        if (json_is_object(last))
            snprintf(counts, sizeof counts, "+%lld -%lld ~%lld of %lld",
                     (long long)json_integer_value(json_object_get(last, "added")),
                     (long long)json_integer_value(json_object_get(last, "removed")),
                     (long long)json_integer_value(json_object_get(last, "changed")),
                     (long long)json_integer_value(json_object_get(last, "listed")));
        printf("%-12s %-12s %-9s %-20s %8.1f  %-28s %7.1f  %s\n",
               json_string_value(json_object_get(src, "name")),
               json_string_value(json_object_get(src, "kind")),
               json_string_value(json_object_get(src, "status")), ok,
               json_is_number(lag) ? json_number_value(lag) : -1.0, counts,
               json_number_value(json_object_get(src, "next_run_in_s")), e ? e : "");
        if (json_is_integer(json_object_get(src, "down_since_us"))) {
            char since[32];
            when(json_object_get(src, "down_since_us"), since, sizeof since);
            printf("%-12s down since %s\n", "", since);
        }
    }
    if (json_array_size(json_object_get(root, "sources")) == 0)
        printf("(no sources: add \"sources\" to config.json, or run kubo)\n");
    json_decref(root);
    return IK_EXIT_OK;
}

struct run {
    char name[64];
    long long run;
    bool done;
};

/* The source's entry in a sync_status reply. */
static json_t *source_entry(json_t *status, const char *name)
{
    size_t i;
    json_t *src;
    json_array_foreach(json_object_get(status, "sources"), i, src)
    {
        const char *n = json_string_value(json_object_get(src, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return src;
    }
    return NULL;
}

/* A finished run's line (as the direct path prints it); 0, or the exit code of its failure. */
static int print_run(const char *name, json_t *r)
{
    const char *e = json_string_value(json_object_get(r, "error"));
    long long invalid = (long long)json_integer_value(json_object_get(r, "invalid"));
    if (!json_is_true(json_object_get(r, "ok"))) {
        const char *kind = json_string_value(json_object_get(r, "error_kind"));
        ik_cli_errorf("%s", e ? e : "sync failed");
        return kind && strcmp(kind, "data") == 0 ? IK_EXIT_DATAERR : IK_EXIT_UNAVAILABLE;
    }
    printf("%s: %lld listed, %lld added, %lld removed, %lld changed%s · %.2f s\n", name,
           (long long)json_integer_value(json_object_get(r, "listed")),
           (long long)json_integer_value(json_object_get(r, "added")),
           (long long)json_integer_value(json_object_get(r, "removed")),
           (long long)json_integer_value(json_object_get(r, "changed")),
           json_is_true(json_object_get(r, "wrote")) ? "" : " (nothing to write)",
           json_number_value(json_object_get(r, "ms")) / 1000.0);
    fflush(stdout);
    if (invalid > 0)
        ik_cli_errorf("%s: %lld listed pins refused: %s", name, invalid,
                      json_string_value(json_object_get(r, "first_invalid")));
    return 0;
}

/* Asks the daemon for the runs (sync_now); 0, or the exit code with the message printed. */
static int ask_daemon(struct ik_client *c, const char *only, struct run **runs, size_t *n)
{
    struct ik_error err = {{0}};
    json_t *req = json_pack("{s:i,s:s}", "v", 1, "op", "sync_now"), *reply, *r;
    char *text = NULL, *out = NULL;
    size_t i;
    int rc;
    if (req != NULL && only != NULL)
        json_object_set_new(req, "name", json_string(only));
    text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (text == NULL) {
        ik_cli_errorf("out of memory");
        return IK_EXIT_SOFTWARE;
    }
    rc = ik_client_call(c, text, &out, &err);
    free(text);
    if (rc != 0) {
        if (rc == ENOENT) { /* an unknown name (naming the daemon's sources), or none */
            ik_cli_errorf("sync: %s", err.message);
            return only != NULL && strstr(err.message, "no source named") ? IK_EXIT_USAGE
                                                                          : IK_EXIT_UNAVAILABLE;
        }
        if (rc == EINVAL && strstr(err.message, "unknown op")) {
            ik_cli_errorf("sync: the running daemon predates 'sync' through it (%s); restart it "
                          "('ipfs-kit daemon stop', then start)",
                          err.message);
            return IK_EXIT_UNAVAILABLE;
        }
        if (rc == IK_EDAEMON || rc == ETIMEDOUT) {
            ik_cli_errorf("sync: a daemon owns the store but does not answer (%s); try again",
                          err.message);
            return IK_EXIT_TEMPFAIL;
        }
        ik_cli_errorf("sync: %s", err.message);
        return ik_cli_exit_code(rc);
    }
    reply = json_loads(out, 0, NULL);
    free(out);
    *n = json_array_size(json_object_get(reply, "runs"));
    if ((*runs = calloc(*n ? *n : 1, sizeof **runs)) == NULL) {
        json_decref(reply);
        ik_cli_errorf("out of memory");
        return IK_EXIT_SOFTWARE;
    }
    json_array_foreach(json_object_get(reply, "runs"), i, r)
    {
        snprintf((*runs)[i].name, sizeof(*runs)[i].name, "%s",
                 json_string_value(json_object_get(r, "name")));
        (*runs)[i].run = (long long)json_integer_value(json_object_get(r, "run"));
    }
    json_decref(reply);
    return 0;
}

/* The sync asked of the running daemon: each source's run is waited for (up to timeout_ms, or
 * SYNC_WAIT_S) by polling sync_status, which also gives the progress line's count. A run
 * counts as done once it failed, or its write is in the published snapshot. */
static int sync_daemon(const char *only, int timeout_ms)
{
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct run *runs = NULL;
    size_t n = 0, left;
    bool tty = isatty(STDERR_FILENO) == 1, shown = false;
    double t0 = now_s(), limit = timeout_ms > 0 ? timeout_ms / 1000.0 : SYNC_WAIT_S;
    int rc, worst = 0;
    ik_client_options_init(&o);
    if (timeout_ms > 0)
        o.timeout_ms = timeout_ms;
    if ((rc = ik_cli_open(&o, &c)) != 0)
        return rc;
    if ((rc = ask_daemon(c, only, &runs, &n)) != 0) {
        ik_client_close(c);
        return rc;
    }
    for (left = n; left > 0;) {
        struct ik_error err = {{0}};
        char *text = NULL;
        json_t *status;
        rc = ik_client_call(c, "{\"v\":1,\"op\":\"sync_status\"}", &text, &err);
        if (rc != 0) {
            if (shown)
                fputc('\n', stderr);
            ik_cli_errorf("sync: the daemon stopped answering while it synced (%s)", err.message);
            worst = IK_EXIT_TEMPFAIL;
            break;
        }
        status = json_loads(text, 0, NULL);
        free(text);
        for (size_t i = 0; i < n; i++) {
            json_t *src = source_entry(status, runs[i].name), *last, *running;
            if (runs[i].done || src == NULL)
                continue;
            last = json_object_get(src, "last_run");
            running = json_object_get(src, "running");
            if (json_integer_value(json_object_get(last, "run")) >= runs[i].run &&
                (!json_is_true(json_object_get(last, "ok")) ||
                 json_is_true(json_object_get(last, "visible")) ||
                 json_is_string(json_object_get(last, "not_visible")))) {
                if (shown)
                    fputc('\n', stderr);
                shown = false;
                rc = print_run(runs[i].name, last);
                if (rc == 0 && !json_is_true(json_object_get(last, "visible"))) {
                    ik_cli_errorf("sync: %s: committed but not yet visible (snapshot builds "
                                  "failing: %s); the daemon retries and queries show it once a "
                                  "build succeeds",
                                  runs[i].name,
                                  json_string_value(json_object_get(last, "not_visible")));
                    rc = IK_EXIT_TEMPFAIL;
                }
                worst = worst ? worst : rc;
                runs[i].done = true;
                left--;
            } else if (tty && json_is_object(running) &&
                       json_integer_value(json_object_get(running, "run")) >= runs[i].run) {
                double dt = json_number_value(json_object_get(running, "elapsed_s"));
                long long listed =
                    (long long)json_integer_value(json_object_get(running, "listed"));
                fprintf(stderr, "\r%s: %lld pins listed (%.0f/s)", runs[i].name, listed,
                        dt > 0 ? (double)listed / dt : 0.0);
                shown = true;
            }
        }
        json_decref(status);
        if (left == 0)
            break;
        if (now_s() - t0 > limit) {
            if (shown)
                fputc('\n', stderr);
            for (size_t i = 0; i < n; i++)
                if (!runs[i].done)
                    ik_cli_errorf("sync: %s not done after %.0f s: the daemon goes on with it "
                                  "('ipfs-kit sync status' shows how it ends)",
                                  runs[i].name, limit);
            worst = IK_EXIT_TEMPFAIL;
            break;
        }
        {
            struct timespec ts = {0, POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    free(runs);
    ik_client_close(c);
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
    long pid = 0;
    int rc, lock_fd = -1, timeout_ms = -1;
    if (argc > 0 && strcmp(argv[0], "status") == 0)
        return sync_status(argc - 1, argv + 1);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sync_usage(stdout);
            return IK_EXIT_OK;
        } else if (strcmp(argv[i], "--once") == 0) {
            continue; /* a sync from the command line is always one sync */
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (ik_cli_parse_timeout(argv[++i], &timeout_ms) != 0)
                return IK_EXIT_USAGE;
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
    if ((rc = ik_data_dir_ensure(dir, &err)) != 0 ||
        (rc = ik_data_dir_check(dir, NULL, &err)) != 0 ||
        (rc = ik_lock_acquire(dir, &lock_fd, &pid, &err)) != 0) {
        free(srcs);
        if (rc == IK_ELOCKED) /* the daemon owns the store: it syncs, with its sources */
            return sync_daemon(only, timeout_ms);
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    rc = sync_direct(dir, lock_fd, srcs, n, only);
    free(srcs);
    return rc;
}
