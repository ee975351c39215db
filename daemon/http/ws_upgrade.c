/* GET /v1/changes/ws: the WebSocket opening handshake (RFC 6455 section 4.2) on
 * libmicrohttpd's upgrade API. The request is checked here, on libmicrohttpd's thread, and
 * answered with an HTTP error naming what was wrong (426 with Sec-WebSocket-Version: 13 for a
 * request that is no WebSocket handshake of version 13, 400 for a bad key or argument); a good
 * one gets 101 and its socket goes to the hub (ws.c), which does everything after. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Whether the comma-separated header value `v` holds `token` (case-insensitive). */
static bool has_token(const char *v, const char *token)
{
    size_t n = strlen(token);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - v) == n && strncasecmp(v, token, n) == 0)
            return true;
        v = e;
    }
    return false;
}

/* A Sec-WebSocket-Key is 16 random bytes in base64: 24 characters ending in "==". */
static bool key_ok(const char *k)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!k || strlen(k) != 24 || strcmp(k + 22, "==") != 0)
        return false;
    for (int i = 0; i < 22; i++)
        if (!strchr(b64, k[i]) || !k[i])
            return false;
    return strchr("AQgw", k[21]) != NULL; /* the last 4 bits of 16 bytes are zero */
}

/* Sec-WebSocket-Accept: base64(SHA-1(key + GUID)), into out[29]. */
static int accept_value(const char *key, char out[29])
{
    char in[24 + sizeof WS_GUID];
    unsigned char sha[20];
    gnutls_datum_t d = {sha, sizeof sha}, r = {NULL, 0};
    memcpy(in, key, 24);
    memcpy(in + 24, WS_GUID, sizeof WS_GUID);
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, in, strlen(in), sha) != 0 ||
        gnutls_base64_encode2(&d, &r) != 0 || r.size < 28) {
        gnutls_free(r.data);
        return -1;
    }
    memcpy(out, r.data, 28);
    out[28] = 0;
    gnutls_free(r.data);
    return 0;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct ik_http_req *rq = req_cls;
    (void)conn;
    ik__ws_adopt(cls, sock, urh, extra, extra_len, rq ? rq->ws_since : 0, rq && rq->ws_json);
}

static enum MHD_Result upgrade_required(struct ik_http *h, struct MHD_Connection *conn,
                                        const char *why)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", "upgrade_required", "message", why);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    struct MHD_Response *r =
        s ? MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE) : NULL;
    json_decref(o);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Sec-WebSocket-Version", "13");
    MHD_add_response_header(r, "Upgrade", "websocket");
    return ik__http_queue(h, conn, 426, r);
}

enum MHD_Result ik__http_ws(struct ik_http *h, struct MHD_Connection *conn, struct ik_http_req *rq)
{
    struct ik_http_changes_args args = {0, false};
    struct ik_error err = {{0}};
    struct MHD_Response *r;
    char param[64], accept[29];
    const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
    const char *cn = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
    const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    if (!has_token(up, "websocket") || !has_token(cn, "upgrade"))
        return upgrade_required(h, conn,
                                "this endpoint is a WebSocket: send Upgrade: websocket and "
                                "Connection: Upgrade");
    if (!ver || strcmp(ver, "13") != 0)
        return upgrade_required(h, conn, "Sec-WebSocket-Version must be 13");
    if (!key_ok(key))
        return ik__http_error(h, conn, 400, "bad_request", "Sec-WebSocket-Key",
                              "Sec-WebSocket-Key must be 16 bytes in base64 (24 characters)");
    if (ik__http_changes_args(conn, true, &args, param, sizeof param, &err) != 0)
        return ik__http_error(h, conn, 400, "bad_parameter", param, err.message);
    if (!h->ws)
        return ik__http_error(h, conn, 503, "unavailable", NULL, "the change feed is not running");
    if (accept_value(key, accept) != 0)
        return ik__http_error(h, conn, 500, "internal", NULL, "SHA-1 failed");
    rq->ws_since = args.since;
    rq->ws_json = args.json;
    if ((r = MHD_create_response_for_upgrade(on_upgrade, h)) == NULL)
        return ik__http_error(h, conn, 500, "internal", NULL, "out of memory");
    MHD_add_response_header(r, "Upgrade", "websocket");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    return ik__http_queue(h, conn, 101, r);
}
