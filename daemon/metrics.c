/* The daemon's own metrics: request counts by op and by method, bytes served, zero-copy
 * versus fallback replies, errors, latency percentiles (log2 histogram of microseconds),
 * snapshot builds, uptime and version — served as the `metrics` table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "flight/flight.h"
#include "http/http.h"
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"

#ifndef IK_VERSION
#define IK_VERSION "0.1.0"
#endif

const char *const ik_metrics_op_names[IK_M_OPS] = {
    "ping",   "capabilities", "status", "query",   "pin_add",     "pin_rm",  "pin_touch",
    "import", "shutdown",     "watch",  "changes", "sync_status", "sync_now"};
const char *const ik_metrics_method_names[IK_M_METHODS] = {"zero_copy", "ipc_stream", "direct",
                                                           "traditional"};

void ik_metrics_init(struct ik_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->started_ms = ik_wall_ms();
    m->started_mono = ik_now_ms();
}

void ik_metrics_request(struct ik_metrics *m, int op, int method, double latency_ms, bool error)
{
    double us = latency_ms * 1000.0;
    int b = 0;
    if (op >= 0 && op < IK_M_OPS)
        atomic_fetch_add_explicit(&m->requests_by_op[op], 1, memory_order_relaxed);
    if (method >= 0 && method < IK_M_METHODS)
        atomic_fetch_add_explicit(&m->replies_by_method[method], 1, memory_order_relaxed);
    if (error)
        atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
    while (b < IK_M_HIST - 1 && us >= (double)(1ull << (b + 1)) / 4.0)
        b++; /* bucket b holds [2^b/4, 2^(b+1)/4) microseconds: quarter-µs resolution */
    atomic_fetch_add_explicit(&m->hist[b], 1, memory_order_relaxed);
}

/* The latency below which a fraction q of requests fall, in ms (bucket midpoint). */
static double percentile(struct ik_metrics *m, double q)
{
    long long counts[IK_M_HIST], total = 0, seen = 0;
    for (int b = 0; b < IK_M_HIST; b++)
        total += counts[b] = atomic_load_explicit(&m->hist[b], memory_order_relaxed);
    if (total == 0)
        return NAN;
    for (int b = 0; b < IK_M_HIST; b++) {
        seen += counts[b];
        if ((double)seen >= q * (double)total) {
            double lo = b == 0 ? 0 : (double)(1ull << b) / 4.0,
                   hi = (double)(1ull << (b + 1)) / 4.0;
            return (lo + hi) / 2.0 / 1000.0;
        }
    }
    return NAN;
}

struct rows {
    struct ik_builder *b;
    int name, value, type, ts, tags;
    int64_t now_us;
    int rc;
    struct ik_error *err;
};

static void row(struct rows *r, const char *name, double value, const char *type, const char *tags)
{
    if (r->rc)
        return;
    if ((r->rc = ik_builder_str(r->b, r->name, name, strlen(name), r->err)) != 0)
        return;
    if (isnan(value))
        r->rc = ik_builder_null(r->b, r->value, r->err);
    else
        r->rc = ik_builder_double(r->b, r->value, value, r->err);
    if (!r->rc)
        r->rc = ik_builder_str(r->b, r->type, type, strlen(type), r->err);
    if (!r->rc)
        r->rc = ik_builder_int(r->b, r->ts, r->now_us, r->err);
    if (!r->rc && tags)
        r->rc = ik_builder_str(r->b, r->tags, tags, strlen(tags), r->err);
    if (!r->rc)
        r->rc = ik_builder_end_row(r->b, r->err);
}

static double load(atomic_llong *v)
{
    return (double)atomic_load_explicit(v, memory_order_relaxed);
}

int ik_metrics_build(struct ik_daemon *d, struct ArrowSchema *schema, struct ArrowArray *out,
                     struct ik_error *err)
{
    struct ik_metrics *m = &d->metrics;
    struct rows r = {0};
    char tags[160];
    double zc = 0, fallback = 0;
    uint64_t gen;
    int64_t pins;
    bool failing;
    int rc = ik_builder_create_table("metrics", 64, &r.b, err);
    if (rc != 0)
        return rc;
    r.name = ik_builder_column(r.b, "metric_name");
    r.value = ik_builder_column(r.b, "metric_value");
    r.type = ik_builder_column(r.b, "metric_type");
    r.ts = ik_builder_column(r.b, "timestamp");
    r.tags = ik_builder_column(r.b, "tags");
    r.now_us = (int64_t)(ik_wall_ms() * 1000.0);
    r.err = err;
    pthread_mutex_lock(&d->pub_mu);
    gen = d->published_gen;
    pins = d->pins.rows;
    failing = d->build_failed;
    pthread_mutex_unlock(&d->pub_mu);

    row(&r, "uptime_seconds", (ik_now_ms() - m->started_mono) / 1000.0, "gauge", NULL);
    snprintf(tags, sizeof tags, "{\"version\":\"%s\",\"build_time\":\"%s %s\"}", IK_VERSION,
             __DATE__, __TIME__);
    row(&r, "daemon_info", 1, "gauge", tags);
    for (int i = 0; i < IK_M_OPS; i++) {
        snprintf(tags, sizeof tags, "{\"op\":\"%s\"}", ik_metrics_op_names[i]);
        row(&r, "requests_total", load(&m->requests_by_op[i]), "counter", tags);
    }
    for (int i = 0; i < IK_M_METHODS; i++) {
        double v = load(&m->replies_by_method[i]);
        if (i == 0)
            zc = v;
        else
            fallback += v;
        snprintf(tags, sizeof tags, "{\"method\":\"%s\"}", ik_metrics_method_names[i]);
        row(&r, "replies_total", v, "counter", tags);
    }
    row(&r, "zero_copy_replies_total", zc, "counter", NULL);
    row(&r, "fallback_replies_total", fallback, "counter", NULL);
    row(&r, "bytes_served_total", load(&m->bytes_served), "counter", NULL);
    row(&r, "errors_total", load(&m->errors), "counter", NULL);
    row(&r, "connections_total", load(&m->connections), "counter", NULL);
    row(&r, "connections_open", load(&m->connections_open), "gauge", NULL);
    row(&r, "connections_refused_total", load(&m->connections_refused), "counter", NULL);
    row(&r, "connections_timed_out_total", load(&m->connections_timed_out), "counter", NULL);
    row(&r, "request_latency_ms", percentile(m, 0.50), "histogram_p50", NULL);
    row(&r, "request_latency_ms", percentile(m, 0.99), "histogram_p99", NULL);
    row(&r, "snapshot_builds_total", load(&m->snapshot_builds), "counter", NULL);
    row(&r, "snapshot_build_ms", load(&m->snapshot_build_us_last) / 1000.0, "gauge", NULL);
    row(&r, "snapshot_full_builds_total", load(&m->full_builds), "counter", NULL);
    row(&r, "snapshot_segment_limit_merges_total", load(&m->segment_limit_merges), "counter", NULL);
    row(&r, "snapshot_build_failures_total", load(&m->snapshot_build_failures), "counter", NULL);
    row(&r, "snapshot_build_failing", failing ? 1 : 0, "gauge", NULL);
    row(&r, "writes_not_visible_total", load(&m->writes_not_visible), "counter", NULL);
    row(&r, "snapshot_version", (double)gen, "gauge", NULL);
    row(&r, "pins", (double)pins, "gauge", NULL);
    row(&r, "http_up", ik_http_serving(d) ? 1 : 0, "gauge", NULL); /* why not: daemon status */
    {
        int64_t referenced, copied; /* DoGet body bytes: slices of the mappings, and copies */
        ik_flight_counts(d, &referenced, &copied);
        row(&r, "flight_up", ik_flight_serving(d) ? 1 : 0, "gauge", NULL);
        row(&r, "flight_calls_open", (double)ik_flight_calls(d), "gauge", NULL);
        row(&r, "flight_body_bytes_referenced_total", (double)referenced, "counter", NULL);
        row(&r, "flight_body_bytes_copied_total", (double)copied, "counter", NULL);
    }
    if (r.rc == 0)
        r.rc = ik_builder_finish(r.b, NULL, schema, out, err);
    ik_builder_destroy(r.b);
    return r.rc;
}
