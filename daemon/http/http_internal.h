/* Internal to daemon/http: the server state, the snapshot reader (snap.c, the one place that
 * knows how the daemon publishes snapshots), query parameters (params.c), bodies (body.c;
 * Arrow in arrow_body.c, Content-Encoding in encoding.c), the response cache (cache.c), TLS
 * (tls.c), Prometheus text (prom.c) and the dashboard page (dashboard.c). */
#ifndef IK_HTTP_INTERNAL_H
#define IK_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../daemon.h"
#include "http.h"
#include "ipfskit/query.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"

enum { IK_HTTP_HIST = 40 }; /* latency buckets: log2 of microseconds */
enum ik_http_route {
    IK_ROUTE_HEALTH,
    IK_ROUTE_TABLE,
    IK_ROUTE_METRICS,
    IK_ROUTE_SUMMARY,
    IK_ROUTE_DASHBOARD,
    IK_ROUTE_WRITE,
    IK_ROUTE_CHANGES, /* GET /v1/changes */
    IK_ROUTE_WS,      /* GET /v1/changes/ws (the upgrade) */
    IK_ROUTE_OTHER,
    IK_ROUTE_COUNT
};
enum ik_http_format { IK_FMT_ARROW, IK_FMT_JSON, IK_FMT_NDJSON, IK_FMT_CSV, IK_FMT_COUNT };
/* Bytes of Arrow bodies by how they got there (arrow_body.c) */
enum {
    IK_ARROW_REFERENCED, /* sent straight from a segment's mapping */
    IK_ARROW_COPIED,     /* copied first (rebased offsets, shifted bitmaps, small pieces) */
    IK_ARROW_COMPRESSED, /* IPC buffer compression's output */
    IK_ARROW_FRAMING,    /* IPC message headers, padding, end of stream */
    IK_ARROW_GATHERED,   /* a small body's referenced bytes, gathered into one buffer */
    IK_ARROW_BYTE_KINDS
};
/* Content-Encoding of text bodies (encoding.c) */
enum ik_http_encoding { IK_ENC_IDENTITY, IK_ENC_GZIP, IK_ENC_ZSTD, IK_ENC_COUNT };

struct ik_http_stats {
    atomic_llong requests[IK_ROUTE_COUNT];
    atomic_llong bytes[IK_ROUTE_COUNT][IK_FMT_COUNT]; /* body bytes by route and format */
    atomic_llong status[6];                           /* by class: [2] 2xx ... [5] 5xx */
    atomic_llong not_modified;
    atomic_llong connections_total, connections_open;
    atomic_llong hist[IK_HTTP_HIST]; /* bucket b: latency < 2^b µs */
    atomic_llong latency_us_sum;
    atomic_llong latency_count;
    atomic_llong arrow_bytes[IK_ARROW_BYTE_KINDS];
    atomic_llong encoded[IK_ENC_COUNT];    /* text bodies by Content-Encoding */
    atomic_llong encoded_in;               /* their bytes before encoding (gzip, zstd) */
    atomic_llong cache_hits, cache_misses; /* table responses from cache.c, or built */
};

/* One request's state, from its first call of the access handler to its completion. */
struct ik_http_req {
    double t0;
    enum ik_http_route route;
    bool started; /* a response is queued (or the request is being answered) */
    bool counted; /* in stats.requests */
    int body_fd;  /* POST /v1/pins: the body, gathered in a memfd; -1 otherwise */
    int64_t body_len;
    bool too_large;
    uint64_t ws_since; /* GET /v1/changes/ws: its arguments, for the upgrade (ws.c) */
    bool ws_json;
};

/* What a table body holds, for /metrics (counted by ik__http_count_sent for every send, a
 * cached response's too) and the cache (owned: bytes it keeps in memory). */
struct ik_http_sent {
    int format, encoding;
    long long total, owned, encoded_in;
    long long kind[IK_ARROW_BYTE_KINDS]; /* Arrow bodies */
};

enum { IK_HTTP_CACHE = 16, IK_HTTP_CACHE_KEY = 480, IK_HTTP_CACHE_OWNED = 1 << 20 };
struct ik_http_cached {
    char key[IK_HTTP_CACHE_KEY];
    uint64_t version;
    struct MHD_Response *resp; /* a reference (MHD responses can be queued again) */
    struct ik_http_sent sent;
    unsigned long long used;
};

/* An IPC schema message kept for the schema it encodes (arrow_body.c): a response's writer
 * writes it as it is instead of encoding the schema again. */
enum { IK_HTTP_SCHEMA_MSGS = 8 };
struct ik_http_schema_msg {
    struct ArrowSchema schema; /* released: the slot is empty */
    uint8_t *bytes;
    size_t len;
    unsigned long long used;
};

struct ik_http {
    struct ik_daemon *d;
    struct MHD_Daemon *mhd;
    char addr[96];           /* bound address, "host:port" */
    char why[IK_ERROR_SIZE]; /* why HTTP is off, when it is */
    char token[65];          /* write token (http.token), hex */
    struct ik_http_stats stats;
    struct ik_client *client; /* writes go through the daemon's own socket (writes.c) */
    struct ik_ws_hub *ws;     /* the WebSocket change feed (ws.c) */
    /* TLS (tls.c): the PEM texts while serving HTTPS, NULL otherwise */
    char *tls_cert, *tls_key;
    atomic_bool starting;            /* libmicrohttpd's messages are kept meanwhile */
    char mhd_msg[IK_ERROR_SIZE / 2]; /* ... this one */
    pthread_mutex_t cache_mu;        /* cache.c */
    struct ik_http_cached cache[IK_HTTP_CACHE];
    unsigned long long cache_clock;
    atomic_ullong cache_gen; /* published generation the cache was last pruned at */
    /* each table's schema, built at start (params.c checks every query against it) */
    struct ArrowSchema schemas[IK_DAEMON_TABLES];
    pthread_mutex_t msg_mu; /* arrow_body.c: the schema messages of recent responses */
    struct ik_http_schema_msg msgs[IK_HTTP_SCHEMA_MSGS];
    unsigned long long msg_clock;
};

/* ---- snap.c: query results ------------------------------------------------------------- */

struct ik_http_result {
    struct ArrowSchema schema;
    struct ArrowArray *batches; /* n batches (a state's segments give one or more each) */
    int64_t n;
    int64_t rows; /* over all batches */
    int64_t matched, table_rows;
    uint64_t version; /* snapshot version (file-backed tables), else 0 */
    bool versioned;   /* file-backed: the ETag applies */
    struct {
        const uint8_t *p;
        size_t n;
    } maps[IK_SEG_MAX]; /* the segments' mappings the batches' slices point into */
    int n_maps;
    /* The whole result is one segment file's messages, as an IPC stream: [file_off, +file_len)
     * of file_fd (owned; -1 when not), which can be sent with sendfile. */
    int file_fd;
    uint64_t file_off, file_len;
};

/* The newest published generation, its pin count, and whether the last build failed. */
void ik__http_published(struct ik_http *h, uint64_t *generation, int64_t *pins, bool *failed);
/* The published generation and the versions of the two file-backed tables, at once. */
void ik__http_versions(struct ik_http *h, uint64_t *generation, uint64_t *pins_version,
                       uint64_t *vfs_version);
/* The published version of a file-backed table (for If-None-Match before any work); false for
 * the tables built on demand (metrics, backend_health). */
bool ik__http_snap_version(struct ik_http *h, const char *table, uint64_t *version);
/* Runs `q` on the table's published snapshot (or its freshly built rows). */
int ik__http_snap_query(struct ik_http *h, const struct ik_query *q, struct ik_http_result *r,
                        struct ik_error *err);
void ik__http_result_reset(struct ik_http_result *r);

/* ---- params.c: the query string ---------------------------------------------------------- */

/* Builds `q` for `table` from the request's arguments (initialised here; reset it after).
 * 400-worthy problems return EINVAL with `param` naming the argument. */
int ik__http_query_from_args(struct ik_http *h, struct MHD_Connection *conn, const char *table,
                             struct ik_query *q, char *param, size_t param_cap,
                             struct ik_error *err);

/* ---- body.c: response bodies ------------------------------------------------------------- */

/* Picks the format from Accept (absent, or any type: Arrow); -1 when none is acceptable. Sets
 * *compression (IK_COMPRESSION_*) from the Arrow type's codecs parameter. */
int ik__http_negotiate(const char *accept, int *compression);
const char *ik__http_content_type(int format, int compression, char *buf, size_t cap);
/* The response for `r` (taken: released with the response) in `format`; text formats are
 * encoded with `encoding` (IK_ENC_*), and Content-Encoding set when not identity. */
struct MHD_Response *ik__http_body(struct ik_http *h, struct ik_http_result *r, int format,
                                   int compression, int encoding, struct ik_http_sent *sent,
                                   struct ik_error *err);
void ik__http_count_sent(struct ik_http *h, const struct ik_http_sent *sent);

/* ---- arrow_body.c: Arrow IPC stream bodies sent from the mappings ------------------------ */

/* The IPC stream of `r` (taken: released when MHD is done with the response); its bytes by
 * kind into `sent`. The schema message comes from h's cache when it holds one for r's schema
 * (h may be NULL: no cache). */
struct MHD_Response *ik__http_arrow_body(struct ik_http *h, struct ik_http_result *r,
                                         int compression, struct ik_http_sent *sent,
                                         struct ik_error *err);
/* Frees the schema messages kept (at stop). */
void ik__http_schema_msgs_free(struct ik_http *h);

/* ---- cache.c: table responses kept per published version --------------------------------- */

/* The cache key of a table request (table, format, codec, encoding, its query arguments in
 * order); false when the request is not cached (arguments too long). */
bool ik__http_cache_key(struct MHD_Connection *conn, const char *table, int format, int compression,
                        int encoding, char *key, size_t cap);
/* Queues the response cached for `key` at `version` (200, counted as sent) into *ok; false
 * when there is none. */
bool ik__http_cache_serve(struct ik_http *h, struct MHD_Connection *conn, const char *key,
                          uint64_t version, enum MHD_Result *ok);
/* Keeps `resp` (taken: the caller has queued it and does not destroy it), or destroys it when
 * it holds more than IK_HTTP_CACHE_OWNED bytes of memory. */
void ik__http_cache_put(struct ik_http *h, const char *key, uint64_t version,
                        struct MHD_Response *resp, const struct ik_http_sent *sent);
/* Drops the entries of versions other than the published ones (so old segments are unmapped). */
void ik__http_cache_prune(struct ik_http *h, uint64_t pins_version, uint64_t vfs_version);
void ik__http_cache_free(struct ik_http *h);

/* ---- encoding.c: Content-Encoding of text bodies ----------------------------------------- */

/* The best encoding the Accept-Encoding header allows (IK_ENC_*; identity when absent). */
int ik__http_pick_encoding(const char *accept_encoding);
const char *ik__http_encoding_name(int encoding);
/* Encodes `len` bytes of `in` into *out (malloc'd) of *out_len bytes. */
int ik__http_encode(int encoding, const void *in, size_t len, void **out, size_t *out_len,
                    struct ik_error *err);

/* ---- writes.c: POST /v1/pins, DELETE /v1/pins/{cid} (authorised by server.c) -------------- */

/* First call of a write request: answers at once (DELETE, unknown paths) or prepares to read
 * the body (POST /v1/pins). */
enum MHD_Result ik__http_write_begin(struct ik_http *h, struct MHD_Connection *conn,
                                     const char *url, const char *method, struct ik_http_req *rq);
/* Later calls: `data` is the next part of the body, or NULL at its end (then answers). */
enum MHD_Result ik__http_write_body(struct ik_http *h, struct MHD_Connection *conn,
                                    struct ik_http_req *rq, const char *data, size_t len);
int ik__http_writes_open(struct ik_http *h, struct ik_error *err);
void ik__http_writes_close(struct ik_http *h);

/* server.c: replies, for writes.c */
enum MHD_Result ik__http_error(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                               const char *code, const char *param, const char *message);
enum MHD_Result ik__http_json(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                              char *body_owned, enum ik_http_route route);

/* ---- changes.c, ws.c, ws_conn.c: the change feed (GET /v1/changes, /v1/changes/ws) ---------- */

struct ik_http_changes_args {
    uint64_t since;
    bool json; /* WebSocket: text frames of JSON (format=json), else Arrow */
};
/* Parses ?since=V (required) and, for the WebSocket, &format=json|arrow; any other argument
 * is refused. EINVAL with `param` naming the argument. */
int ik__http_changes_args(struct MHD_Connection *conn, bool ws, struct ik_http_changes_args *out,
                          char *param, size_t param_cap, struct ik_error *err);
/* The HTTP status (and error code) of a failed ik_store_changes: 410 gone, 400, 503. */
unsigned ik__http_changes_status(int rc, const char **code);
enum MHD_Result ik__http_changes(struct ik_http *h, struct MHD_Connection *conn);
/* Checks the upgrade request and answers 101 (the hub then owns the socket) or an error. */
enum MHD_Result ik__http_ws(struct ik_http *h, struct MHD_Connection *conn, struct ik_http_req *rq);
struct ik_ws_hub;
/* Starts the hub thread (before libmicrohttpd); stops it, closing every subscriber with 1001
 * (before MHD_stop_daemon, which needs every upgraded socket given back); frees it (after). */
int ik__ws_start(struct ik_http *h, struct ik_error *err);
void ik__ws_stop(struct ik_http *h);
void ik__ws_free(struct ik_http *h);
/* Hands an upgraded connection to the hub (from libmicrohttpd's thread). */
void ik__ws_adopt(struct ik_http *h, int fd, struct MHD_UpgradeResponseHandle *urh,
                  const char *extra, size_t extra_len, uint64_t since, bool json);
/* The feed's counters in Prometheus text. */
void ik__ws_prometheus(struct ik_http *h, FILE *f);
/* server.c: Content-Type (negotiated), Vary: Accept, Accept-Encoding and Cache-Control: no-cache.
 */
void ik__http_body_headers(struct MHD_Response *resp, int format, int compression);
/* server.c: queues `r` (taken) with CORS headers, counting its status. */
enum MHD_Result ik__http_queue(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                               struct MHD_Response *r);
/* ---- tls.c ------------------------------------------------------------------------------ */

/* Reads http.tls_cert / tls_key into h->tls_cert / tls_key when configured (0 and nothing
 * when not); an error names the key, the file and what is wrong. */
int ik__http_tls_load(struct ik_http *h, struct ik_error *err);
void ik__http_tls_free(struct ik_http *h);
/* MHD_OPTION_EXTERNAL_LOGGER: keeps libmicrohttpd's message in h->mhd_msg while starting. */
void ik__http_log(void *cls, const char *fmt, va_list ap);

/* ---- prom.c, dashboard.c ----------------------------------------------------------------- */

/* The Prometheus text exposition (malloc'd, NUL-terminated). */
char *ik__http_prometheus(struct ik_http *h, size_t *len);
/* Counts and bytes of pins by type and by backend, as JSON (malloc'd). */
char *ik__http_summary(struct ik_http *h, struct ik_error *err);
/* The dashboard page (assembled once; NULL when out of memory). */
const char *ik__http_dashboard(size_t *len);

#endif
