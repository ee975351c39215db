/* The "http" section of config.json: where the daemon's HTTP server listens ("listen":
 * "host:port", null to turn it off), the read token, the CORS allow list and the limits. A
 * non-loopback address without a read token is refused here, so a daemon never exposes the
 * index beyond the machine to anyone who asks. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define SECTION "config.json: http."

void ik__config_http_init(struct ik_http_conf *h)
{
    memset(h, 0, sizeof *h);
    h->enabled = true;
    strcpy(h->host, "127.0.0.1");
    h->port = IK_HTTP_DEFAULT_PORT;
    h->loopback = true;
    h->max_connections = 64;
    h->timeout_s = 10;
    h->max_header_bytes = 16384;
    h->max_body_bytes = 64 << 20;
}

static bool is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* "host:port" or "[v6]:port" with a literal address (or localhost) and a port 0-65535. */
static int parse_listen(const char *s, struct ik_http_conf *h, struct ik_error *err)
{
    const char *colon, *host = s;
    size_t hlen;
    char *end;
    long port;
    struct in_addr a4;
    struct in6_addr a6;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            goto bad;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            goto bad;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof h->host)
        goto bad;
    memcpy(h->host, host, hlen);
    h->host[hlen] = 0;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        goto bad;
    if (strcmp(h->host, "localhost") != 0 && inet_pton(AF_INET, h->host, &a4) != 1 &&
        inet_pton(AF_INET6, h->host, &a6) != 1)
        return ik_error_set(err, EINVAL,
                            SECTION "listen: \"%.80s\": the host must be an IP address or "
                                    "localhost",
                            s);
    h->port = (int)port;
    h->loopback = is_loopback(h->host);
    return 0;
bad:
    return ik_error_set(err, EINVAL,
                        SECTION "listen: expected \"host:port\" (port 0-65535) or null, got "
                                "\"%.80s\"",
                        s);
}

static int get_limit(json_t *http, const char *name, int lo, int hi, int *out, struct ik_error *err)
{
    return ik__config_int_in(http, "http", name, lo, hi, out, err);
}

static int load_cors(json_t *http, struct ik_http_conf *h, struct ik_error *err)
{
    json_t *v = json_object_get(http, "cors_origins"), *o;
    size_t i;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > IK_HTTP_MAX_CORS)
        return ik_error_set(err, EINVAL,
                            SECTION "cors_origins: expected an array of at most %d origins",
                            IK_HTTP_MAX_CORS);
    json_array_foreach(v, i, o)
    {
        const char *s = json_string_value(o);
        if (!s || !s[0] || strlen(s) >= sizeof h->cors[0] || strpbrk(s, "\r\n"))
            return ik_error_set(err, EINVAL,
                                SECTION "cors_origins[%zu]: expected an origin such as "
                                        "\"http://localhost:3000\"",
                                i);
        strcpy(h->cors[h->n_cors++], s);
    }
    return 0;
}

int ik__config_http_load(json_t *root, struct ik_http_conf *h, struct ik_error *err)
{
    json_t *http = json_object_get(root, "http"), *v;
    int rc;
    if (http == NULL)
        return 0;
    if (!json_is_object(http))
        return ik_error_set(err, EINVAL, "config.json: http: expected an object");
    v = json_object_get(http, "listen");
    if (v != NULL && json_is_null(v)) {
        h->enabled = false;
    } else if (v != NULL) {
        if (!json_is_string(v))
            return ik_error_set(err, EINVAL, SECTION "listen: expected \"host:port\" or null");
        if ((rc = parse_listen(json_string_value(v), h, err)) != 0)
            return rc;
    }
    v = json_object_get(http, "read_token");
    if (v != NULL && !json_is_null(v)) {
        const char *t = json_string_value(v);
        size_t n = t ? strlen(t) : 0;
        if (!t || n < 16 || n >= sizeof h->read_token ||
            strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "abcdefghijklmnopqrstuvwxyz"
                      "0123456789-._~+/=") != n)
            return ik_error_set(err, EINVAL,
                                SECTION "read_token: expected 16 to 127 token characters "
                                        "(letters, digits, -._~+/=)");
        strcpy(h->read_token, t);
    }
    if ((rc = load_cors(http, h, err)) != 0 ||
        (rc = get_limit(http, "max_connections", 1, 4096, &h->max_connections, err)) != 0 ||
        (rc = get_limit(http, "idle_timeout", 1, 3600, &h->timeout_s, err)) != 0 ||
        (rc = get_limit(http, "max_header_bytes", 1024, 1 << 20, &h->max_header_bytes, err)) != 0 ||
        (rc = get_limit(http, "max_body_bytes", 1, 1 << 30, &h->max_body_bytes, err)) != 0)
        return rc;
    if ((rc = ik__config_pem_path(http, "http", "tls_cert", h->tls_cert, sizeof h->tls_cert,
                                  err)) != 0 ||
        (rc = ik__config_pem_path(http, "http", "tls_key", h->tls_key, sizeof h->tls_key, err)) !=
            0)
        return rc;
    if (!h->tls_cert[0] != !h->tls_key[0])
        return ik_error_set(
            err, EINVAL, SECTION "%s: set together with http.%s (a certificate and its key)",
            h->tls_cert[0] ? "tls_cert" : "tls_key", h->tls_cert[0] ? "tls_key" : "tls_cert");
    if (h->enabled && !h->loopback && !h->read_token[0])
        return ik_error_set(err, EINVAL,
                            SECTION "listen: %s is not a loopback address; set http.read_token "
                                    "to serve beyond this machine",
                            h->host);
    return 0;
}
