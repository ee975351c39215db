/* Writes over HTTP: POST /v1/pins (a body in any format `pin import` reads: JSON lines, kubo
 * JSON, CSV or an Arrow stream; one transaction, all or nothing) and DELETE /v1/pins/{cid}.
 * They go through the daemon's own unix socket with the client library, so they take exactly
 * the path of `ipfs-kit pin import` / `pin rm` — the one writer thread, the same validation,
 * and a reply only once a snapshot holding the write is published (read-your-writes). The
 * libmicrohttpd thread waits; the event loop serves the request like any other client's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_internal.h"
#include "ipfskit/client.h"

#define PINS "/v1/pins"
#define WRITE_TIMEOUT_MS 10000

int ik__http_writes_open(struct ik_http *h, struct ik_error *err)
{
    struct ik_client_options o;
    ik_client_options_init(&o);
    o.path = h->d->dir;
    o.timeout_ms = WRITE_TIMEOUT_MS;
    return ik_client_open(&o, &h->client, err);
}

void ik__http_writes_close(struct ik_http *h)
{
    ik_client_close(h->client);
    h->client = NULL;
}

static unsigned status_of(int rc)
{
    switch (rc) {
    case EINVAL:
    case IK_EFORMAT:
    case IK_EINVALID:
        return 400;
    case ENOENT:
        return 404;
    case IK_ELIMIT:
        return 413;
    case IK_ELOCKED:
    case IK_EDAEMON:
    case IK_EPROTO:
    case ETIMEDOUT:
        return 503;
    default:
        return 500;
    }
}

static enum MHD_Result failed(struct ik_http *h, struct MHD_Connection *conn, int rc,
                              const struct ik_error *err)
{
    unsigned status = status_of(rc);
    const char *code = status == 400   ? "bad_body"
                       : status == 404 ? "not_found"
                       : status == 413 ? "too_large"
                       : status == 503 ? "unavailable"
                                       : "internal";
    return ik__http_error(h, conn, status, code, NULL,
                          err->message[0] ? err->message : ik_strerror(rc));
}

/* 200 with `o` (taken), plus the daemon's warning when the write is committed but not yet
 * visible. */
static enum MHD_Result done(struct ik_http *h, struct MHD_Connection *conn, json_t *o,
                            const struct ik_error *err)
{
    char *body;
    if (o && err->message[0])
        json_object_set_new(o, "warning", json_string(err->message));
    body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return ik__http_json(h, conn, 200, body, IK_ROUTE_WRITE);
}

static enum ik_import_format format_of(const char *type)
{
    if (!type)
        return IK_IMPORT_AUTO;
    if (strncasecmp(type, "application/vnd.apache.arrow", 28) == 0)
        return IK_IMPORT_ARROW;
    if (strncasecmp(type, "text/csv", 8) == 0)
        return IK_IMPORT_CSV;
    if (strncasecmp(type, "application/x-ndjson", 20) == 0)
        return IK_IMPORT_JSONL;
    return IK_IMPORT_AUTO; /* application/json: kubo's object or JSON lines, by the bytes */
}

static enum MHD_Result remove_pin(struct ik_http *h, struct MHD_Connection *conn, const char *cid)
{
    struct ik_error err = {{0}};
    uint64_t gen = 0;
    int rc;
    if (!*cid || strchr(cid, '/'))
        return ik__http_error(h, conn, 404, "not_found", NULL, "DELETE /v1/pins/{cid}");
    rc = ik_client_pin_remove(h->client, cid, &gen, &err);
    if (rc != 0)
        return failed(h, conn, rc, &err);
    return done(h, conn,
                json_pack("{s:s,s:I}", "removed", cid, "snapshot_version", (json_int_t)gen), &err);
}

enum MHD_Result ik__http_write_begin(struct ik_http *h, struct MHD_Connection *conn,
                                     const char *url, const char *method, struct ik_http_req *rq)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    bool body = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding") ||
                (cl && strcmp(cl, "0") != 0);
    rq->route = IK_ROUTE_WRITE;
    if (strcmp(url, PINS) == 0 && strcmp(method, "POST") == 0) {
        if (!h->client)
            return ik__http_error(h, conn, 503, "unavailable", NULL, "writes are not set up");
        rq->body_fd = memfd_create("ipfs-kit-http-body", MFD_CLOEXEC);
        if (rq->body_fd < 0)
            return ik__http_error(h, conn, 500, "internal", NULL, strerror(errno));
        rq->started = false; /* answered once the body is in */
        return MHD_YES;
    }
    rq->started = true;
    if (strncmp(url, PINS "/", sizeof PINS) == 0 && strcmp(method, "DELETE") == 0) {
        if (body)
            return ik__http_error(h, conn, 400, "bad_request", NULL, "DELETE carries no body");
        if (!h->client)
            return ik__http_error(h, conn, 503, "unavailable", NULL, "writes are not set up");
        return remove_pin(h, conn, url + sizeof PINS);
    }
    if (strcmp(url, PINS) == 0 || strncmp(url, PINS "/", sizeof PINS) == 0)
        return ik__http_error(h, conn, 405, "method_not_allowed", NULL,
                              "POST /v1/pins or DELETE /v1/pins/{cid}");
    return ik__http_error(h, conn, 405, "method_not_allowed", NULL,
                          "writes are POST /v1/pins and DELETE /v1/pins/{cid}; reads are GET");
}

static enum MHD_Result import_body(struct ik_http *h, struct MHD_Connection *conn,
                                   struct ik_http_req *rq)
{
    struct ik_error err = {{0}};
    struct ik_import_options o;
    struct ik_import_result res = {0};
    uint64_t gen = 0;
    int rc;
    if (rq->body_len == 0)
        return ik__http_error(h, conn, 400, "bad_body", NULL, "empty body: send pins to import");
    ik_import_options_init(&o);
    o.format = format_of(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"));
    if (lseek(rq->body_fd, 0, SEEK_SET) != 0)
        return ik__http_error(h, conn, 500, "internal", NULL, strerror(errno));
    rc = ik_client_import_fd(h->client, rq->body_fd, &o, &res, &gen, &err);
    if (rc != 0)
        return failed(h, conn, rc, &err);
    return done(h, conn,
                json_pack("{s:I,s:I,s:I}", "imported", (json_int_t)res.imported, "skipped",
                          (json_int_t)res.skipped, "snapshot_version", (json_int_t)gen),
                &err);
}

enum MHD_Result ik__http_write_body(struct ik_http *h, struct MHD_Connection *conn,
                                    struct ik_http_req *rq, const char *data, size_t len)
{
    if (data) { /* a part of the body */
        if (rq->too_large || rq->body_len + (int64_t)len > h->d->cfg.http.max_body_bytes) {
            rq->too_large = true; /* the rest is read and dropped; the reply says why */
            return MHD_YES;
        }
        while (len > 0) {
            ssize_t w = write(rq->body_fd, data, len);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return MHD_NO;
            data += w;
            len -= (size_t)w;
            rq->body_len += w;
        }
        return MHD_YES;
    }
    rq->started = true;
    if (rq->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body exceeds http.max_body_bytes (%d)",
                 h->d->cfg.http.max_body_bytes);
        return ik__http_error(h, conn, 413, "too_large", NULL, msg);
    }
    return import_body(h, conn, rq);
}
