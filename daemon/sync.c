/* The daemon's syncer: one thread that keeps the pin index equal to each configured source
 * (docs/sync.md). Every interval_s it probes the source (its backend_health row) and syncs it
 * on a store connection of its own — the listing is staged without locking the store, the
 * difference applied in one short transaction — then asks the builder for the new version.
 * It never runs on the loop, so queries are not held up by a sync; a source that fails is
 * retried with backoff and keeps its last synced pins. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "ipfskit/builder.h"
#include "ipfskit/sync.h"

#define WINDOW 20             /* probes in success_rate */
#define SIZE_BATCH 256        /* pins sized per store transaction */
#define SIZE_THREADS 4        /* files/stat requests in flight */
#define SIZE_BUDGET_MS 2000.0 /* sizing per round, so the next sync is never held long */
#define MAX_BACKOFF_MS 300000 /* a failing source is retried at least every 5 minutes */

struct src_state {
    double next_ms; /* monotonic: next probe + sync */
    int failures;   /* in a row */
    bool requested; /* a client asked for a sync now */
    /* runs, numbered from 1: a client's sync_now waits for the run it was given */
    uint64_t runs_started, runs_done;
    bool running;
    int64_t listed_now; /* the running sync: pins listed so far */
    double run_t0_ms;
    bool last_failed, last_data_error; /* the last run: failed, and whether on bad data */
    /* the last sync */
    int64_t last_ok_us, last_try_us, down_since_us;
    double last_sync_ms;
    struct ik_sync_counts last;
    char last_error[256];
    /* probes, for backend_health */
    char status[16];
    double response_ms;
    int64_t last_check_us, errors;
    uint32_t window; /* bit i: probe i ago succeeded */
    int window_n;
};

struct ik_syncer {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ik_source *src;
    size_t n;
    struct src_state *st;
    struct ik_store *store;
};

static int64_t wall_us(void)
{
    return (int64_t)(ik_wall_ms() * 1000.0);
}

static void record_probe(struct src_state *s, int rc, double ms, int timeout_ms)
{
    bool ok = rc == 0;
    s->response_ms = ms;
    s->last_check_us = wall_us();
    s->window = (s->window << 1) | (ok ? 1u : 0u);
    if (s->window_n < WINDOW)
        s->window_n++;
    if (!ok)
        s->errors++;
    /* slow (over half its timeout) or answering while its listing fails: degraded */
    if (!ok)
        snprintf(s->status, sizeof s->status, "down");
    else if (ms > timeout_ms / 2.0 || s->failures > 0)
        snprintf(s->status, sizeof s->status, "degraded");
    else
        snprintf(s->status, sizeof s->status, "ok");
}

static void size_pins(struct ik_daemon *d, struct ik_syncer *y, const struct ik_source *src);

struct run_progress {
    struct ik_syncer *y;
    struct src_state *s;
};

/* the running sync's count, for sync_status (a client's progress line) */
static void note_progress(void *arg, int64_t listed)
{
    struct run_progress *p = arg;
    pthread_mutex_lock(&p->y->mu);
    p->s->listed_now = listed;
    pthread_mutex_unlock(&p->y->mu);
}

/* One probe and sync of source i, no lock held while talking to it (the caller has marked
 * it running). */
static void run_source(struct ik_daemon *d, struct ik_syncer *y, size_t i)
{
    const struct ik_source *src = &y->src[i];
    struct ik_sync_counts res = {0};
    struct ik_error err = {{0}};
    struct run_progress prog = {y, &y->st[i]};
    double ms = 0, t0;
    int prc = ik_source_probe(src, &ms, &err), rc = prc;
    t0 = ik_now_ms();
    /* an import acknowledged from its journal is applied first (the store refuses writes
     * over it with EBUSY; the writer applies it right after its publish) */
    for (int tries = 0; prc == 0 && tries < 3; tries++) {
        if ((rc = ik_apply_wait(d, 30000, &err)) == 0)
            rc = ik_sync_once(y->store, src, note_progress, &prog, &res, &err);
        if (rc != EBUSY)
            break;
    }
    pthread_mutex_lock(&y->mu);
    {
        struct src_state *s = &y->st[i];
        s->last_try_us = wall_us();
        s->running = false;
        s->runs_done = s->runs_started;
        s->last_failed = rc != 0;
        s->last_data_error = rc == IK_EFORMAT || rc == IK_ELIMIT;
        if (rc == 0) {
            s->failures = 0;
            s->last_ok_us = s->last_try_us;
            s->down_since_us = 0;
            s->last = res;
            s->last_sync_ms = ik_now_ms() - t0;
            s->last_error[0] = '\0';
            s->next_ms = ik_now_ms() + src->interval_s * 1000.0;
        } else {
            double backoff =
                src->interval_s * 1000.0 * pow(2.0, s->failures < 10 ? s->failures : 10);
            s->failures++;
            if (s->down_since_us == 0)
                s->down_since_us = s->last_try_us;
            snprintf(s->last_error, sizeof s->last_error, "%.255s", err.message);
            s->next_ms = ik_now_ms() + (backoff < MAX_BACKOFF_MS ? backoff : MAX_BACKOFF_MS);
        }
        record_probe(s, prc, ms, src->timeout_ms);
    }
    pthread_mutex_unlock(&y->mu);
    if (rc == 0 && res.wrote) {
        ik_build_request(d, res.generation);
        fprintf(stderr, "ipfs-kit daemon: sync %s: %lld added, %lld removed, %lld changed\n",
                src->name, (long long)res.added, (long long)res.removed, (long long)res.changed);
    } else if (rc != 0) {
        fprintf(stderr, "ipfs-kit daemon: sync %s: %s\n", src->name, err.message);
    }
    if (rc == 0 && src->kind == IK_SOURCE_KUBO && src->sizes)
        size_pins(d, y, src);
}

struct size_job {
    const struct ik_source *src;
    char **cids;
    int64_t *sizes;
    size_t from, to;
};

static void *size_some(void *arg)
{
    struct size_job *j = arg;
    for (size_t i = j->from; i < j->to; i++)
        if (ik_kubo_dag_size(j->src, j->cids[i], &j->sizes[i], NULL) != 0)
            j->sizes[i] = -1; /* retried next round */
    return NULL;
}

/* kubo's listing has no sizes: with "sizes": true, the source's new recursive and direct pins
 * get size_bytes from files/stat (CumulativeSize), SIZE_THREADS requests at a time, in batches
 * that each commit and publish, within SIZE_BUDGET_MS a round. */
static void size_pins(struct ik_daemon *d, struct ik_syncer *y, const struct ik_source *src)
{
    double t0 = ik_now_ms();
    while (!atomic_load(&d->stop) && ik_now_ms() - t0 < SIZE_BUDGET_MS) {
        struct ik_error err = {{0}};
        struct size_job jobs[SIZE_THREADS];
        pthread_t th[SIZE_THREADS];
        bool started[SIZE_THREADS];
        char **cids = NULL;
        int64_t *sizes, changed = 0;
        size_t n = 0, k;
        int rc;
        if (ik_store_sizes_missing(y->store, src->name, SIZE_BATCH, &cids, &n, &err) != 0 ||
            n == 0) {
            free(cids);
            return;
        }
        if ((sizes = calloc(n, sizeof *sizes)) != NULL) {
            for (k = 0; k < SIZE_THREADS; k++) {
                jobs[k] = (struct size_job){src, cids, sizes, n * k / SIZE_THREADS,
                                            n * (k + 1) / SIZE_THREADS};
                started[k] = pthread_create(&th[k], NULL, size_some, &jobs[k]) == 0;
                if (!started[k])
                    size_some(&jobs[k]);
            }
            for (k = 0; k < SIZE_THREADS; k++)
                if (started[k])
                    pthread_join(th[k], NULL);
            rc = ik_store_set_sizes(y->store, src->name, cids, sizes, n, &changed, &err);
            if (rc == 0 && changed > 0) {
                uint64_t gen = 0;
                if (ik_store_generation(y->store, &gen, &err) == 0)
                    ik_build_request(d, gen);
            } else if (rc == EBUSY) { /* an import not applied yet: after it, again */
                (void)ik_apply_wait(d, 30000, &err);
            } else if (rc != 0) {
                fprintf(stderr, "ipfs-kit daemon: sizes of %s: %s\n", src->name, err.message);
            }
        }
        for (k = 0; k < n; k++)
            free(cids[k]);
        free(cids);
        free(sizes);
        if (changed == 0)
            return; /* nothing could be sized: try again next round */
    }
}

static void *syncer_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_syncer *y = d->syncer;
    ik_sched_thread(d, "ik-sync", IK_THREAD_NORMAL);
    pthread_mutex_lock(&y->mu);
    while (!atomic_load(&d->stop)) {
        double now = ik_now_ms(), soonest = now + 3600e3;
        size_t due = y->n;
        for (size_t i = 0; i < y->n; i++) {
            if (y->st[i].requested || y->st[i].next_ms <= now) {
                due = i;
                break;
            }
            if (y->st[i].next_ms < soonest)
                soonest = y->st[i].next_ms;
        }
        if (due < y->n) {
            struct src_state *s = &y->st[due];
            /* a request from now on joins this run */
            s->requested = false;
            s->running = true;
            s->runs_started++;
            s->listed_now = 0;
            s->run_t0_ms = now;
            pthread_mutex_unlock(&y->mu);
            run_source(d, y, due);
            pthread_mutex_lock(&y->mu);
            continue;
        }
        {
            struct timespec until = ik_realtime_in((long)ceil(soonest - now));
            pthread_cond_timedwait(&y->cv, &y->mu, &until);
        }
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

int ik_syncer_start(struct ik_daemon *d, struct ik_error *err)
{
    struct ik_syncer *y = calloc(1, sizeof *y);
    int rc;
    if (y == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&y->mu, NULL);
    pthread_cond_init(&y->cv, NULL);
    d->syncer = y;
    if ((rc = ik_sync_sources(&d->cfg, &y->src, &y->n, err)) != 0)
        return rc;
    if (y->n == 0)
        return 0;
    if ((y->st = calloc(y->n, sizeof *y->st)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < y->n; i++)
        snprintf(y->st[i].status, sizeof y->st[i].status, "unknown");
    if ((rc = ik_store_open(d->dir, IK_STORE_CREATE, &y->store, err)) != 0)
        return ik_error_prefix(err, rc, "syncer");
    if ((rc = pthread_create(&y->thread, NULL, syncer_main, d)) != 0)
        return ik_error_set(err, rc, "starting the syncer: %s", strerror(rc));
    y->started = true;
    return 0;
}

void ik_syncer_stop(struct ik_daemon *d)
{
    struct ik_syncer *y = d->syncer;
    if (y == NULL)
        return;
    if (y->started) {
        pthread_mutex_lock(&y->mu);
        pthread_cond_broadcast(&y->cv);
        pthread_mutex_unlock(&y->mu);
        pthread_join(y->thread, NULL);
    }
    ik_store_close(y->store);
    free(y->st);
    free(y->src);
    free(y);
    d->syncer = NULL;
}

size_t ik_syncer_sources(struct ik_daemon *d)
{
    return d->syncer ? d->syncer->n : 0;
}

int ik_syncer_health_rows(struct ik_daemon *d, struct ik_builder *b, struct ik_error *err)
{
    struct ik_syncer *y = d->syncer;
    int rc = 0;
    int c_name = ik_builder_column(b, "backend_name"), c_status = ik_builder_column(b, "status"),
        c_rt = ik_builder_column(b, "response_time_ms"),
        c_last = ik_builder_column(b, "last_check"), c_err = ik_builder_column(b, "error_count"),
        c_rate = ik_builder_column(b, "success_rate");
    if (y == NULL)
        return 0;
    pthread_mutex_lock(&y->mu);
    for (size_t i = 0; i < y->n && rc == 0; i++) {
        const struct src_state *s = &y->st[i];
        const char *name = y->src[i].name;
        rc = ik_builder_str(b, c_name, name, strlen(name), err);
        if (!rc)
            rc = ik_builder_str(b, c_status, s->status, strlen(s->status), err);
        if (!rc && s->window_n)
            rc = ik_builder_double(b, c_rt, s->response_ms, err);
        if (!rc && s->window_n)
            rc = ik_builder_int(b, c_last, s->last_check_us, err);
        if (!rc)
            rc = ik_builder_int(b, c_err, s->errors, err);
        if (!rc && s->window_n) {
            uint32_t mask = s->window_n >= 32 ? ~0u : (1u << s->window_n) - 1u;
            rc = ik_builder_double(b, c_rate,
                                   (double)__builtin_popcount(s->window & mask) / s->window_n, err);
        }
        if (!rc)
            rc = ik_builder_end_row(b, err);
    }
    pthread_mutex_unlock(&y->mu);
    return rc;
}

/* The result of a source's last finished run (held y->mu): what `ipfs-kit sync` prints of it.
 * "visible": its write is in the published snapshot (a query sees it); "not_visible": why it is
 * not, once snapshot builds have failed for daemon.visible_timeout (as a write reply says). */
static json_t *last_run(const struct src_state *s, uint64_t published, const char *failing)
{
    json_t *r = json_pack("{s:I,s:b}", "run", (json_int_t)s->runs_done, "ok", !s->last_failed);
    if (r == NULL)
        return json_null();
    if (s->last_failed) {
        json_object_set_new(r, "error", json_string(s->last_error));
        json_object_set_new(r, "error_kind",
                            json_string(s->last_data_error ? "data" : "unavailable"));
        return r;
    }
    json_object_set_new(r, "listed", json_integer(s->last.listed));
    json_object_set_new(r, "added", json_integer(s->last.added));
    json_object_set_new(r, "removed", json_integer(s->last.removed));
    json_object_set_new(r, "changed", json_integer(s->last.changed));
    json_object_set_new(r, "wrote", json_boolean(s->last.wrote));
    json_object_set_new(r, "visible",
                        json_boolean(!s->last.wrote || s->last.generation <= published));
    if (s->last.wrote && s->last.generation > published && failing[0])
        json_object_set_new(r, "not_visible", json_string(failing));
    json_object_set_new(r, "ms", json_real(s->last_sync_ms));
    json_object_set_new(r, "invalid", json_integer(s->last.invalid));
    if (s->last.invalid > 0)
        json_object_set_new(r, "first_invalid", json_string(s->last.first_invalid));
    return r;
}

/* `o` with `key` set to `arr` as compact JSON text (malloc'd); both are taken, either may be
 * NULL (out of memory: NULL). */
static char *dump_with(json_t *o, const char *key, json_t *arr)
{
    char *text = NULL;
    if (o != NULL && arr != NULL) {
        int rc = json_object_set_new(o, key, arr); /* takes arr, also on failure */
        arr = NULL;
        if (rc == 0)
            text = json_dumps(o, JSON_COMPACT);
    }
    json_decref(arr);
    json_decref(o);
    return text;
}

char *ik_syncer_status_json(struct ik_daemon *d)
{
    struct ik_syncer *y = d->syncer;
    json_t *o = json_object(), *arr = json_array();
    double now_ms = ik_now_ms();
    int64_t now_us = wall_us();
    if (o == NULL || arr == NULL)
        goto done;
    json_object_set_new(o, "ok", json_true());
    if (y != NULL) {
        uint64_t published;
        char failing[IK_ERROR_SIZE] = "";
        pthread_mutex_lock(&d->pub_mu);
        published = d->published_gen;
        if (d->build_failed &&
            ik_wall_ms() - d->build_failed_since >= d->cfg.visible_timeout_s * 1000.0)
            snprintf(failing, sizeof failing, "%s",
                     d->build_error[0] ? d->build_error : "snapshot builds are failing");
        pthread_mutex_unlock(&d->pub_mu);
        pthread_mutex_lock(&y->mu);
        for (size_t i = 0; i < y->n; i++) {
            const struct ik_source *src = &y->src[i];
            const struct src_state *s = &y->st[i];
            json_t *e =
                json_pack("{s:s,s:s,s:s,s:s,s:i,s:f}", "name", src->name, "kind",
                          src->kind == IK_SOURCE_KUBO ? "kubo" : "ipfs_cluster", "api", src->api,
                          "status", s->status, "interval_s", src->interval_s, "next_run_in_s",
                          s->next_ms > now_ms ? (s->next_ms - now_ms) / 1000.0 : 0.0);
            if (e == NULL)
                continue;
            /* times are µs since the epoch (as the tables' timestamps); lag: since the last
             * success, the age of what the index shows of this source */
            json_object_set_new(e, "last_success_us",
                                s->last_ok_us ? json_integer(s->last_ok_us) : json_null());
            json_object_set_new(e, "lag_s",
                                s->last_ok_us ? json_real((double)(now_us - s->last_ok_us) / 1e6)
                                              : json_null());
            json_object_set_new(e, "last_try_us",
                                s->last_try_us ? json_integer(s->last_try_us) : json_null());
            json_object_set_new(e, "last_error",
                                s->last_error[0] ? json_string(s->last_error) : json_null());
            json_object_set_new(e, "down_since_us",
                                s->down_since_us ? json_integer(s->down_since_us) : json_null());
            json_object_set_new(e, "failures", json_integer(s->failures));
            json_object_set_new(e, "runs_done", json_integer((json_int_t)s->runs_done));
            json_object_set_new(e, "running",
                                s->running
                                    ? json_pack("{s:I,s:I,s:f}", "run", (json_int_t)s->runs_started,
                                                "listed", (json_int_t)s->listed_now, "elapsed_s",
                                                (now_ms - s->run_t0_ms) / 1000.0)
                                    : json_null());
            if (s->runs_done > 0)
                json_object_set_new(e, "last_run", last_run(s, published, failing));
            if (s->last_ok_us)
                json_object_set_new(
                    e, "last_sync",
                    json_pack("{s:I,s:I,s:I,s:I,s:b,s:f}", "listed", (json_int_t)s->last.listed,
                              "added", (json_int_t)s->last.added, "removed",
                              (json_int_t)s->last.removed, "changed", (json_int_t)s->last.changed,
                              "wrote", s->last.wrote, "ms", s->last_sync_ms));
            json_array_append_new(arr, e);
        }
        pthread_mutex_unlock(&y->mu);
    }
done:
    return dump_with(o, "sources", arr);
}

char *ik_syncer_request(struct ik_daemon *d, const char *name, const char **code, char *why,
                        size_t cap)
{
    struct ik_syncer *y = d->syncer;
    json_t *o = NULL, *runs = NULL;
    size_t i, matched = 0;
    *code = "not_found";
    if (y == NULL || y->n == 0) {
        snprintf(why, cap,
                 "this daemon syncs no sources (config.json \"sources\" is empty, or absent and "
                 "no local kubo API file was found when it started)");
        return NULL;
    }
    for (i = 0; i < y->n; i++)
        matched += name[0] == '\0' || strcmp(name, y->src[i].name) == 0;
    if (matched == 0) {
        size_t n =
            (size_t)snprintf(why, cap, "no source named '%.63s' (the daemon's sources:", name);
        for (i = 0; i < y->n && n < cap; i++)
            n += (size_t)snprintf(why + n, cap - n, "%s %s", i ? "," : "", y->src[i].name);
        if (n < cap)
            snprintf(why + n, cap - n, ")");
        return NULL;
    }
    *code = "internal";
    snprintf(why, cap, "out of memory");
    if ((o = json_object()) == NULL || (runs = json_array()) == NULL)
        goto done;
    pthread_mutex_lock(&y->mu);
    for (i = 0; i < y->n; i++) {
        struct src_state *s = &y->st[i];
        bool join = s->running;
        if (name[0] != '\0' && strcmp(name, y->src[i].name) != 0)
            continue;
        if (!join)
            s->requested = true; /* the next run is this one's */
        json_array_append_new(runs, json_pack("{s:s,s:I,s:b}", "name", y->src[i].name, "run",
                                              (json_int_t)(s->runs_started + (join ? 0 : 1)),
                                              "joined", join));
    }
    pthread_cond_broadcast(&y->cv);
    pthread_mutex_unlock(&y->mu);
    json_object_set_new(o, "ok", json_true());
done:
    return dump_with(o, "runs", runs);
}
