/* The HTTP server: libmicrohttpd on its own threads (a pool of two), our own listening socket
 * (so "port taken" is a clear message and port 0 reports the port bound), limits from
 * config.json (connections, header bytes, idle timeout), TLS when configured (tls.c), tokens,
 * CORS, routing, the table responses (served from cache.c when the same request was answered
 * at the same version), and the request statistics /metrics reports. See docs/http.md for the
 * endpoints. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_internal.h"
#include "ipfskit/schemas.h"

#ifndef IK_VERSION
#define IK_VERSION "0.1.0"
#endif

/* ---- the write token ($IPFS_KIT_PATH/http.token) ---------------------------------------- */

static int read_token(const char *path, char *token, size_t cap, struct ik_error *err)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ik_error_set(err, errno, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077) != 0) {
        close(fd);
        return ik_error_set(err, EPERM, "%s must be a regular file of ours with mode 0600", path);
    }
    n = read(fd, token, cap - 1);
    close(fd);
    if (n < 32)
        return ik_error_set(err, EINVAL, "%s holds no token (32+ characters)", path);
    token[n] = 0;
    token[strcspn(token, "\r\n")] = 0;
    return strlen(token) < 32 ? ik_error_set(err, EINVAL, "%s holds no token", path) : 0;
}

/* Creates the token at first start (O_EXCL, O_NOFOLLOW: never through a planted link), else
 * reads it. */
static int load_token(struct ik_http *h, struct ik_error *err)
{
    return ik_http_token(h->d, h->token, sizeof h->token, err);
}

int ik_http_token(struct ik_daemon *d, char *token, size_t cap, struct ik_error *err)
{
    char path[PATH_MAX + 16];
    uint8_t raw[32];
    int fd;
    if (cap < 65)
        return ik_error_set(err, EINVAL, "token buffer too small");
    snprintf(path, sizeof path, "%s/http.token", d->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        return read_token(path, token, cap, err);
    if (fd < 0)
        return ik_error_set(err, errno, "cannot create %s: %s", path, strerror(errno));
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        close(fd);
        unlink(path);
        return ik_error_set(err, EIO, "getrandom failed");
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    token[64] = '\n';
    if (write(fd, token, 65) != 65 || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return ik_error_set(err, EIO, "cannot write %s", path);
    }
    token[64] = 0;
    close(fd);
    return 0;
}

/* ---- replies ------------------------------------------------------------------------------ */

static void count_status(struct ik_http *h, unsigned status)
{
    if (status >= 200 && status < 600)
        atomic_fetch_add_explicit(&h->stats.status[status / 100], 1, memory_order_relaxed);
}

static void cors(struct ik_http *h, struct MHD_Connection *conn, struct MHD_Response *r)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return;
    for (int i = 0; i < h->d->cfg.http.n_cors; i++)
        if (strcmp(origin, h->d->cfg.http.cors[i]) == 0) {
            MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
            MHD_add_response_header(r, "Vary", "Origin");
            MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Accept");
            MHD_add_response_header(r, "Access-Control-Expose-Headers", "ETag");
            return;
        }
}

static enum MHD_Result queue(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                             struct MHD_Response *r)
{
    enum MHD_Result ok;
    if (!r)
        return MHD_NO;
    cors(h, conn, r);
    count_status(h, status);
    ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result ik__http_queue(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                               struct MHD_Response *r)
{
    return queue(h, conn, status, r);
}

static enum MHD_Result text(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                            const char *type, const char *body, size_t len,
                            enum ik_http_route route)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r) {
        MHD_add_response_header(r, "Content-Type", type);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
    }
    atomic_fetch_add_explicit(&h->stats.bytes[route][IK_FMT_JSON], (long long)len,
                              memory_order_relaxed);
    return queue(h, conn, status, r);
}

/* {"error":{"code","message"[,"parameter"]}} */
enum MHD_Result ik__http_error(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                               const char *code, const char *param, const char *message)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    char *s;
    enum MHD_Result ok;
    if (o && param)
        json_object_set_new(json_object_get(o, "error"), "parameter", json_string(param));
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return MHD_NO;
    ok = text(h, conn, status, "application/json", s, strlen(s), IK_ROUTE_OTHER);
    free(s);
    return ok;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

/* Drops cached responses of versions no longer published (cache.c), once per generation
 * (health and table requests check). */
static void prune_cache(struct ik_http *h)
{
    uint64_t gen, pins_version, vfs_version;
    ik__http_versions(h, &gen, &pins_version, &vfs_version);
    if (atomic_exchange(&h->cache_gen, gen) != gen)
        ik__http_cache_prune(h, pins_version, vfs_version);
}

static enum MHD_Result health(struct ik_http *h, struct MHD_Connection *conn)
{
    struct ik_daemon *d = h->d;
    char body[512];
    uint64_t gen;
    int64_t pins;
    bool failed;
    int n;
    ik__http_published(h, &gen, &pins, &failed);
    if (atomic_load_explicit(&h->cache_gen, memory_order_relaxed) != gen)
        prune_cache(h);
    n = snprintf(body, sizeof body,
                 "{\"status\":\"%s\",\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%.3f,"
                 "\"snapshot_version\":%llu,\"pins\":%lld,\"http\":\"%s\"}\n",
                 failed ? "degraded" : "ok", IK_VERSION, (long)getpid(),
                 (ik_now_ms() - d->metrics.started_mono) / 1000.0, (unsigned long long)gen,
                 (long long)pins, h->addr);
    return text(h, conn, 200, "application/json", body, (size_t)n, IK_ROUTE_HEALTH);
}

static bool etag_matches(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    if (!inm)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
        bool start = p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/';
        bool end = p[n] == 0 || p[n] == ',' || p[n] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

void ik__http_body_headers(struct MHD_Response *resp, int format, int compression)
{
    char ctype[96];
    MHD_add_response_header(resp, "Content-Type",
                            ik__http_content_type(format, compression, ctype, sizeof ctype));
    MHD_add_response_header(resp, "Vary", "Accept, Accept-Encoding");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
}

/* Whether a response to this request gets CORS headers (such a response is not shared). */
static bool cors_applies(struct ik_http *h, struct MHD_Connection *conn)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    for (int i = 0; origin && i < h->d->cfg.http.n_cors; i++)
        if (strcmp(origin, h->d->cfg.http.cors[i]) == 0)
            return true;
    return false;
}

static enum MHD_Result table(struct ik_http *h, struct MHD_Connection *conn, const char *name)
{
    struct ik_error err = {{0}};
    struct ik_query q;
    struct ik_http_result r;
    struct ik_http_sent sent;
    struct MHD_Response *resp;
    char param[64], etag[40], ctype[96], num[24], key[IK_HTTP_CACHE_KEY];
    uint64_t version = 0;
    int compression, rc, encoding;
    bool versioned, cacheable;
    enum MHD_Result ok;
    int format = ik__http_negotiate(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"),
                                    &compression);
    if (format < 0)
        return ik__http_error(h, conn, 406, "not_acceptable", "Accept",
                              "acceptable types: "
                              "application/vnd.apache.arrow.stream, application/json, "
                              "application/x-ndjson, text/csv");
    encoding = format == IK_FMT_ARROW ? IK_ENC_IDENTITY
                                      : ik__http_pick_encoding(MHD_lookup_connection_value(
                                            conn, MHD_HEADER_KIND, "Accept-Encoding"));
    versioned = ik__http_snap_version(h, name, &version);
    snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)version);
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    /* the same request at the same version: the response kept from the first time */
    cacheable = versioned && version > 0 && !cors_applies(h, conn) &&
                ik__http_cache_key(conn, name, format, compression, encoding, key, sizeof key);
    if (cacheable) {
        prune_cache(h);
        if (!etag_matches(inm, etag) && ik__http_cache_serve(h, conn, key, version, &ok))
            return ok;
    }
    if ((rc = ik__http_query_from_args(h, conn, name, &q, param, sizeof param, &err)) != 0) {
        ik_query_reset(&q);
        return ik__http_error(h, conn, 400, "bad_parameter", param[0] ? param : NULL, err.message);
    }
    if (versioned && version > 0 && etag_matches(inm, etag)) {
        ik_query_reset(&q);
        atomic_fetch_add_explicit(&h->stats.not_modified, 1, memory_order_relaxed);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (resp) {
            MHD_add_response_header(resp, "ETag", etag);
            MHD_add_response_header(resp, "Vary", "Accept, Accept-Encoding");
        }
        return queue(h, conn, 304, resp);
    }
    rc = ik__http_snap_query(h, &q, &r, &err);
    ik_query_reset(&q);
    if (rc != 0)
        return ik__http_error(h, conn, rc == EINVAL ? 400 : 503,
                              rc == EINVAL ? "bad_query" : "unavailable", NULL, err.message);
    cacheable = cacheable && r.version == version; /* else published meanwhile: not kept */
    snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)r.version);
    versioned = r.versioned;
    snprintf(num, sizeof num, "%lld", (long long)r.matched);
    resp = ik__http_body(h, &r, format, compression, encoding, &sent, &err);
    if (!resp)
        return ik__http_error(h, conn, 500, "internal", NULL, err.message);
    ik__http_count_sent(h, &sent);
    MHD_add_response_header(resp, "Content-Type",
                            ik__http_content_type(format, compression, ctype, sizeof ctype));
    MHD_add_response_header(resp, "Vary", "Accept, Accept-Encoding");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Ipfs-Kit-Matched", num);
    if (versioned)
        MHD_add_response_header(resp, "ETag", etag);
    if (!cacheable)
        return queue(h, conn, 200, resp);
    count_status(h, 200);
    ok = MHD_queue_response(conn, 200, resp);
    ik__http_cache_put(h, key, version, resp, &sent); /* takes resp */
    return ok;
}

enum MHD_Result ik__http_json(struct ik_http *h, struct MHD_Connection *conn, unsigned status,
                              char *body_owned, enum ik_http_route route)
{
    enum MHD_Result ok;
    if (!body_owned)
        return ik__http_error(h, conn, 500, "internal", NULL, "out of memory");
    ok = text(h, conn, status, "application/json", body_owned, strlen(body_owned), route);
    free(body_owned);
    return ok;
}

static enum MHD_Result owned_text(struct ik_http *h, struct MHD_Connection *conn, char *body,
                                  size_t len, const char *type, enum ik_http_route route)
{
    enum MHD_Result ok;
    if (!body)
        return ik__http_error(h, conn, 500, "internal", NULL, "out of memory");
    ok = text(h, conn, 200, type, body, len, route);
    free(body);
    return ok;
}

static enum MHD_Result route(struct ik_http *h, struct MHD_Connection *conn, const char *url,
                             struct ik_http_req *rq)
{
    static const char tables[] = "/v1/tables/";
    struct ik_error err = {{0}};
    size_t len = 0;
    char *body;
    if (strcmp(url, "/health") == 0) {
        rq->route = IK_ROUTE_HEALTH;
        return health(h, conn);
    }
    if (strcmp(url, "/pin-index-arrow") == 0) {
        rq->route = IK_ROUTE_TABLE;
        return table(h, conn, "pin_index");
    }
    if (strncmp(url, tables, sizeof tables - 1) == 0 &&
        ik_table_index(url + sizeof tables - 1) >= 0) {
        rq->route = IK_ROUTE_TABLE;
        return table(h, conn, url + sizeof tables - 1);
    }
    if (strcmp(url, "/v1/changes") == 0) {
        rq->route = IK_ROUTE_CHANGES;
        return ik__http_changes(h, conn);
    }
    if (strcmp(url, "/v1/changes/ws") == 0) {
        rq->route = IK_ROUTE_WS;
        return ik__http_ws(h, conn, rq);
    }
    if (strcmp(url, "/metrics") == 0) {
        rq->route = IK_ROUTE_METRICS;
        body = ik__http_prometheus(h, &len);
        return owned_text(h, conn, body, len, "text/plain; version=0.0.4; charset=utf-8",
                          IK_ROUTE_METRICS);
    }
    if (strcmp(url, "/v1/summary") == 0) {
        rq->route = IK_ROUTE_SUMMARY;
        body = ik__http_summary(h, &err);
        if (!body)
            return ik__http_error(h, conn, 503, "unavailable", NULL, err.message);
        return owned_text(h, conn, body, strlen(body), "application/json", IK_ROUTE_SUMMARY);
    }
    if (strcmp(url, "/") == 0) {
        rq->route = IK_ROUTE_DASHBOARD;
        const char *page = ik__http_dashboard(&len);
        if (!page)
            return ik__http_error(h, conn, 500, "internal", NULL, "out of memory");
        return text(h, conn, 200, "text/html; charset=utf-8", page, len, IK_ROUTE_DASHBOARD);
    }
    return ik__http_error(h, conn, 404, "not_found", NULL, "no such endpoint (see docs/http.md)");
}

/* ---- requests ----------------------------------------------------------------------------- */

/* Bearer token check in constant time. */
static bool bearer_is(struct MHD_Connection *conn, const char *token)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    size_t n = strlen(token), m;
    unsigned char diff = 0;
    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    auth += 7;
    m = strlen(auth);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(token[i] ^ (i < m ? auth[i] : 0));
    return diff == 0 && m == n;
}

static enum MHD_Result unauthorized(struct ik_http *h, struct MHD_Connection *conn, const char *why)
{
    return ik__http_error(h, conn, 401, "unauthorized", "Authorization", why);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **req_cls)
{
    struct ik_http *h = cls;
    struct ik_http_req *rq = *req_cls;
    bool read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const char *cl;
    (void)version;
    if (rq && rq->body_fd >= 0 && !rq->started) { /* POST /v1/pins: its body, then its end */
        size_t n = *upload_size;
        *upload_size = 0;
        return ik__http_write_body(h, conn, rq, n ? upload_data : NULL, n);
    }
    if (rq) { /* the whole request is in (a GET has no body: refused below) */
        if (*upload_size != 0) {
            *upload_size = 0;
            return MHD_YES;
        }
        if (rq->started)
            return MHD_YES;
        rq->started = true;
        if (h->d->cfg.http.read_token[0] && !bearer_is(conn, h->d->cfg.http.read_token) &&
            !bearer_is(conn, h->token))
            return unauthorized(h, conn, "reads need Authorization: Bearer <http.read_token>");
        return route(h, conn, url, rq);
    }
    if (!(rq = calloc(1, sizeof *rq)))
        return MHD_NO;
    rq->t0 = ik_now_ms();
    rq->route = IK_ROUTE_OTHER;
    rq->body_fd = -1;
    *req_cls = rq;
    /* Answered at once, before any body is read (the connection then closes): */
    if (strcmp(method, "OPTIONS") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        rq->started = true;
        if (r) {
            MHD_add_response_header(r, "Allow", "GET, HEAD, OPTIONS");
            MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, HEAD");
        }
        return queue(h, conn, 204, r);
    }
    if (!read) {
        rq->started = true;
        if (!bearer_is(conn, h->token))
            return unauthorized(h, conn,
                                "writes need Authorization: Bearer <the token in "
                                "$IPFS_KIT_PATH/http.token>");
        return ik__http_write_begin(h, conn, url, method, rq);
    }
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding") ||
        (cl && strcmp(cl, "0") != 0)) {
        rq->started = true;
        return ik__http_error(h, conn, 400, "bad_request", NULL, "a GET request carries no body");
    }
    return MHD_YES;
}

/* Counts each request once, when its response is queued: before the client can have it,
 * so a client that reads /metrics after a response always sees that request counted. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    struct ik_http *h = cls;
    enum MHD_Result ok = handle(cls, conn, url, method, version, upload_data, upload_size, req_cls);
    struct ik_http_req *rq = *req_cls;
    if (rq && rq->started && !rq->counted) {
        rq->counted = true;
        atomic_fetch_add_explicit(&h->stats.requests[rq->route], 1, memory_order_relaxed);
    }
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    struct ik_http *h = cls;
    struct ik_http_req *rq = *req_cls;
    (void)conn;
    (void)why;
    if (!rq)
        return;
    long long us = (long long)((ik_now_ms() - rq->t0) * 1000.0);
    int b = 0;
    while (b < IK_HTTP_HIST - 1 && us >= (1ll << b))
        b++;
    atomic_fetch_add_explicit(&h->stats.hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->stats.latency_us_sum, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->stats.latency_count, 1, memory_order_relaxed);
    if (rq->body_fd >= 0)
        close(rq->body_fd);
    free(rq);
    *req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    struct ik_http *h = cls;
    (void)conn;
    (void)socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add_explicit(&h->stats.connections_total, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->stats.connections_open, 1, memory_order_relaxed);
    } else {
        atomic_fetch_sub_explicit(&h->stats.connections_open, 1, memory_order_relaxed);
    }
}

/* Percent-decoding of the path and the query arguments, in place, except %00: a NUL would
 * end the C string early ("/v1/tables/pin_index%00x" must not read as a table), so it stays
 * as the three characters and names nothing. */
static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *w = s;
    (void)cls;
    (void)conn;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* ---- start, stop ---------------------------------------------------------------------------- */

/* Binds the configured address; the port bound goes into h->addr. */
static int listen_on(struct ik_http *h, int *fd_out, struct ik_error *err)
{
    const struct ik_http_conf *c = &h->d->cfg.http;
    const char *host = strcmp(c->host, "localhost") == 0 ? "127.0.0.1" : c->host;
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int fd, one = 1, v6 = strchr(host, ':') != NULL;
    char shown[64];
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)c->port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)c->port);
        inet_pton(AF_INET, host, &a->sin_addr);
        len = sizeof *a;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return ik_error_set(err, errno, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        return ik_error_set(err, e, "cannot listen on %s:%d: %s%s", c->host, c->port, strerror(e),
                            e == EADDRINUSE ? " (another process has the port)" : "");
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (v6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, shown, sizeof shown);
        snprintf(h->addr, sizeof h->addr, "[%s]:%u", shown,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, shown, sizeof shown);
        snprintf(h->addr, sizeof h->addr, "%s:%u", shown,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    *fd_out = fd;
    return 0;
}

static int start(struct ik_http *h, struct ik_error *err)
{
    const struct ik_http_conf *c = &h->d->cfg.http;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
    int fd = -1, rc;
    if ((rc = load_token(h, err)) != 0 || (rc = ik__http_tls_load(h, err)) != 0 ||
        (rc = ik__http_writes_open(h, err)) != 0 || (rc = ik__ws_start(h, err)) != 0 ||
        (rc = listen_on(h, &fd, err)) != 0)
        return rc;
    atomic_store(&h->starting, true);
    /* Options that are NULL are skipped: MHD_OPTION_ARRAY ends at the first MHD_OPTION_END. */
    struct MHD_OptionItem tls[] = {
        {h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->mhd = MHD_start_daemon(
        flags | (h->tls_cert ? MHD_USE_TLS : 0), 0, NULL, NULL, on_request, h,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)c->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)c->max_header_bytes + 4096, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        h, MHD_OPTION_EXTERNAL_LOGGER, ik__http_log, h, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    atomic_store(&h->starting, false);
    if (!h->mhd) {
        close(fd);
        h->addr[0] = 0;
        if (h->tls_cert)
            return ik_error_set(err, EINVAL,
                                "TLS: the certificate (http.tls_cert) and key (http.tls_key) "
                                "were refused: %s",
                                h->mhd_msg[0] ? h->mhd_msg : "no reason given");
        return ik_error_set(err, EIO, "libmicrohttpd did not start%s%s", h->mhd_msg[0] ? ": " : "",
                            h->mhd_msg);
    }
    return 0;
}

void ik_http_start(struct ik_daemon *d, int quiet)
{
    struct ik_error err = {{0}};
    struct ik_http *h = calloc(1, sizeof *h);
    d->http = h;
    if (!h)
        return;
    h->d = d;
    pthread_mutex_init(&h->cache_mu, NULL);
    pthread_mutex_init(&h->msg_mu, NULL);
    for (int t = 0; t < IK_DAEMON_TABLES && ik_table_names[t]; t++)
        if (ik_table_schema(ik_table_names[t], &h->schemas[t], &err) != 0) {
            snprintf(h->why, sizeof h->why, "%s", err.message);
            return;
        }
    if (!d->cfg.http.enabled) {
        snprintf(h->why, sizeof h->why, "off in config.json (http.listen is null)");
        return;
    }
    if (start(h, &err) != 0) {
        ik__http_tls_free(h);
        snprintf(h->why, sizeof h->why, "%s", err.message);
        if (!quiet)
            fprintf(stderr, "ipfs-kit daemon: HTTP off: %s\n", h->why);
        return;
    }
    if (!quiet)
        fprintf(stderr, "ipfs-kit daemon: HTTP on %s://%s\n", ik_http_scheme(d), h->addr);
}

void ik_http_stop(struct ik_daemon *d)
{
    struct ik_http *h = d->http;
    if (!h)
        return;
    if (h->mhd) {
        /* An HTTP write may be waiting for this daemon's reply, which the stopped loop will
         * never send: hang up the unix connections (this is the loop thread; they are closed
         * right after anyway) so that request fails with 503 and its thread ends. */
        for (struct ik_conn *c = d->conns; c; c = c->next)
            if (c->fd >= 0)
                shutdown(c->fd, SHUT_RDWR);
        ik__ws_stop(h);          /* every upgraded socket back to libmicrohttpd before it stops */
        MHD_stop_daemon(h->mhd); /* closes the listening socket too */
    }
    ik__ws_free(h);
    ik__http_writes_close(h);
    ik__http_cache_free(h);
    pthread_mutex_destroy(&h->cache_mu);
    ik__http_schema_msgs_free(h);
    pthread_mutex_destroy(&h->msg_mu);
    ik__http_tls_free(h);
    for (int t = 0; t < IK_DAEMON_TABLES; t++)
        if (h->schemas[t].release)
            h->schemas[t].release(&h->schemas[t]);
    free(h);
    d->http = NULL;
}

const char *ik_http_scheme(struct ik_daemon *d)
{
    return d->http && d->http->tls_cert ? "https" : "http";
}

int ik_http_serving(struct ik_daemon *d)
{
    return d->http && d->http->mhd;
}

void ik_http_describe(struct ik_daemon *d, char *addr, size_t addr_cap, char *why, size_t why_cap)
{
    struct ik_http *h = d->http;
    snprintf(addr, addr_cap, "%s", h && h->mhd ? h->addr : "");
    snprintf(why, why_cap, "%s", h ? h->why : "not started");
}
