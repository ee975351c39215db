/* GET /metrics: the daemon's metrics (daemon/metrics.c's counters), the HTTP server's own and
 * the Flight server's, in Prometheus's text exposition format 0.0.4. Names carry the ipfs_kit_
 * prefix; latencies are histograms in seconds with power-of-two bucket bounds. */
#include <stdio.h>
#include <stdlib.h>

#include "http_internal.h"
#include "../flight/flight.h"

#ifndef IK_VERSION
#define IK_VERSION "0.1.0"
#endif

static const char *const route_names[IK_ROUTE_COUNT] = {
    "health", "table", "metrics", "summary", "dashboard", "write", "changes", "ws", "other"};
static const char *const format_names[IK_FMT_COUNT] = {"arrow", "json", "ndjson", "csv"};
static const char *const arrow_kinds[IK_ARROW_BYTE_KINDS] = {"referenced", "copied", "compressed",
                                                             "framing", "gathered"};

static long long ld(atomic_llong *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP ipfs_kit_%s %s\n# TYPE ipfs_kit_%s %s\n", name, help, name, type);
}

static void socket_metrics(FILE *f, struct ik_http *h)
{
    struct ik_metrics *m = &h->d->metrics;
    long long cum = 0;
    uint64_t gen;
    int64_t pins;
    bool failed;
    ik__http_published(h, &gen, &pins, &failed);
    head(f, "info", "gauge", "Build information.");
    fprintf(f, "ipfs_kit_info{version=\"%s\"} 1\n", IK_VERSION);
    head(f, "uptime_seconds", "gauge", "Seconds since the daemon started.");
    fprintf(f, "ipfs_kit_uptime_seconds %.3f\n", (ik_now_ms() - m->started_mono) / 1000.0);
    head(f, "requests_total", "counter", "Unix-socket requests by op.");
    for (int i = 0; i < IK_M_OPS; i++)
        fprintf(f, "ipfs_kit_requests_total{op=\"%s\"} %lld\n", ik_metrics_op_names[i],
                ld(&m->requests_by_op[i]));
    head(f, "replies_total", "counter", "Unix-socket query replies by method.");
    for (int i = 0; i < IK_M_METHODS; i++)
        fprintf(f, "ipfs_kit_replies_total{method=\"%s\"} %lld\n", ik_metrics_method_names[i],
                ld(&m->replies_by_method[i]));
    head(f, "bytes_served_total", "counter", "Bytes served on the unix socket (and mapped).");
    fprintf(f, "ipfs_kit_bytes_served_total %lld\n", ld(&m->bytes_served));
    head(f, "errors_total", "counter", "Unix-socket requests that failed.");
    fprintf(f, "ipfs_kit_errors_total %lld\n", ld(&m->errors));
    head(f, "connections_total", "counter", "Unix-socket connections accepted.");
    fprintf(f, "ipfs_kit_connections_total %lld\n", ld(&m->connections));
    head(f, "snapshot_builds_total", "counter", "Snapshots built.");
    fprintf(f, "ipfs_kit_snapshot_builds_total %lld\n", ld(&m->snapshot_builds));
    head(f, "snapshot_full_builds_total", "counter", "Bases built from every pin.");
    fprintf(f, "ipfs_kit_snapshot_full_builds_total %lld\n", ld(&m->full_builds));
    head(f, "snapshot_segment_limit_merges_total", "counter",
         "States at the segment limit whose newer deltas the builder merged.");
    fprintf(f, "ipfs_kit_snapshot_segment_limit_merges_total %lld\n", ld(&m->segment_limit_merges));
    head(f, "snapshot_build_seconds", "gauge", "Duration of the last snapshot build.");
    fprintf(f, "ipfs_kit_snapshot_build_seconds %.6f\n",
            (double)ld(&m->snapshot_build_us_last) / 1e6);
    head(f, "snapshot_version", "gauge", "Newest published snapshot version.");
    fprintf(f, "ipfs_kit_snapshot_version %llu\n", (unsigned long long)gen);
    head(f, "pins", "gauge", "Pins in the published snapshot.");
    fprintf(f, "ipfs_kit_pins %lld\n", (long long)pins);
    /* socket latency: bucket b holds [2^b/4, 2^(b+1)/4) µs; bounds from 1 µs to ~2 min */
    head(f, "request_duration_seconds", "histogram", "Unix-socket request latency.");
    for (int b = 0; b < IK_M_HIST; b++) {
        cum += ld(&m->hist[b]);
        if (b >= 2 && b <= 28)
            fprintf(f, "ipfs_kit_request_duration_seconds_bucket{le=\"%g\"} %lld\n",
                    (double)(1ull << (b + 1)) / 4.0 / 1e6, cum);
    }
    fprintf(f, "ipfs_kit_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    fprintf(f, "ipfs_kit_request_duration_seconds_count %lld\n", cum);
}

/* Flight's (daemon/flight): DoGet body bytes sent as slices of the mappings or copied. */
static void flight_metrics(FILE *f, struct ik_http *h)
{
    int64_t referenced, copied;
    ik_flight_counts(h->d, &referenced, &copied);
    head(f, "flight_up", "gauge", "Whether the Flight server serves at least one location.");
    fprintf(f, "ipfs_kit_flight_up %d\n", ik_flight_serving(h->d) ? 1 : 0);
    head(f, "flight_calls_open", "gauge", "Flight calls being served now.");
    fprintf(f, "ipfs_kit_flight_calls_open %d\n", ik_flight_calls(h->d));
    head(f, "flight_body_bytes_total", "counter",
         "DoGet body bytes by how they were sent: referenced (slices of the mapped segments) or "
         "copied (padding, rebased offsets, rows a filter gathered).");
    fprintf(f, "ipfs_kit_flight_body_bytes_total{kind=\"referenced\"} %lld\n",
            (long long)referenced);
    fprintf(f, "ipfs_kit_flight_body_bytes_total{kind=\"copied\"} %lld\n", (long long)copied);
}

static void http_metrics(FILE *f, struct ik_http *h)
{
    struct ik_http_stats *s = &h->stats;
    long long cum = 0;
    head(f, "http_up", "gauge", "Whether the HTTP server is serving (1 here).");
    fprintf(f, "ipfs_kit_http_up 1\n");
    head(f, "http_requests_total", "counter", "HTTP requests completed, by endpoint.");
    for (int r = 0; r < IK_ROUTE_COUNT; r++)
        fprintf(f, "ipfs_kit_http_requests_total{endpoint=\"%s\"} %lld\n", route_names[r],
                ld(&s->requests[r]));
    head(f, "http_responses_total", "counter", "HTTP responses by status class.");
    for (int c = 2; c <= 5; c++)
        fprintf(f, "ipfs_kit_http_responses_total{class=\"%dxx\"} %lld\n", c, ld(&s->status[c]));
    head(f, "http_not_modified_total", "counter", "Table requests answered 304 by ETag.");
    fprintf(f, "ipfs_kit_http_not_modified_total %lld\n", ld(&s->not_modified));
    head(f, "http_response_bytes_total", "counter", "HTTP body bytes, by endpoint and format.");
    for (int r = 0; r < IK_ROUTE_COUNT; r++)
        for (int k = 0; k < IK_FMT_COUNT; k++)
            if (ld(&s->bytes[r][k]) || (r == IK_ROUTE_TABLE))
                fprintf(f,
                        "ipfs_kit_http_response_bytes_total{endpoint=\"%s\",format=\"%s\"} "
                        "%lld\n",
                        route_names[r], format_names[k], ld(&s->bytes[r][k]));
    head(f, "http_arrow_bytes_total", "counter",
         "Arrow body bytes by how they were sent: referenced (from the mappings), copied, "
         "compressed, framing (IPC headers, padding), gathered (a small body's rows, copied "
         "into one buffer sent with the headers).");
    for (int k = 0; k < IK_ARROW_BYTE_KINDS; k++)
        fprintf(f, "ipfs_kit_http_arrow_bytes_total{kind=\"%s\"} %lld\n", arrow_kinds[k],
                ld(&s->arrow_bytes[k]));
    head(f, "http_encoded_responses_total", "counter", "Text table bodies by Content-Encoding.");
    for (int e = 0; e < IK_ENC_COUNT; e++)
        fprintf(f, "ipfs_kit_http_encoded_responses_total{encoding=\"%s\"} %lld\n",
                ik__http_encoding_name(e), ld(&s->encoded[e]));
    head(f, "http_encoded_input_bytes_total", "counter",
         "Bytes of text bodies before gzip or zstd encoding.");
    fprintf(f, "ipfs_kit_http_encoded_input_bytes_total %lld\n", ld(&s->encoded_in));
    head(f, "http_response_cache_total", "counter",
         "Table responses served from the per-version response cache (hit) or built (miss).");
    fprintf(f, "ipfs_kit_http_response_cache_total{result=\"hit\"} %lld\n", ld(&s->cache_hits));
    fprintf(f, "ipfs_kit_http_response_cache_total{result=\"miss\"} %lld\n", ld(&s->cache_misses));
    head(f, "http_connections_total", "counter", "HTTP connections accepted.");
    fprintf(f, "ipfs_kit_http_connections_total %lld\n", ld(&s->connections_total));
    head(f, "http_connections_open", "gauge", "HTTP connections open now.");
    fprintf(f, "ipfs_kit_http_connections_open %lld\n", ld(&s->connections_open));
    head(f, "http_request_duration_seconds", "histogram", "HTTP request latency.");
    for (int b = 0; b < IK_HTTP_HIST; b++) {
        cum += ld(&s->hist[b]);
        if (b <= 27)
            fprintf(f, "ipfs_kit_http_request_duration_seconds_bucket{le=\"%g\"} %lld\n",
                    (double)(1ull << b) / 1e6, cum);
    }
    fprintf(f, "ipfs_kit_http_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    fprintf(f, "ipfs_kit_http_request_duration_seconds_sum %.6f\n",
            (double)ld(&s->latency_us_sum) / 1e6);
    fprintf(f, "ipfs_kit_http_request_duration_seconds_count %lld\n", cum);
}

char *ik__http_prometheus(struct ik_http *h, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    socket_metrics(f, h);
    http_metrics(f, h);
    flight_metrics(f, h);
    ik__ws_prometheus(h, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
