/* Flight locations: the URIs Flight uses for where a service listens and where a ticket can be
 * redeemed (grpc+unix://, grpc+tcp://, grpc://, grpc+tls://), parsed strictly and turned into
 * gRPC's own target strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flight/flight.h"

static int parse_port(const char *s, int *port, const char *uri, struct ik_error *err)
{
    long v = 0;
    if (*s == '\0')
        return ik_error_set(err, EINVAL, "flight location '%s': no port after ':'", uri);
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            return ik_error_set(err, EINVAL, "flight location '%s': port '%s' is not 0-65535", uri,
                                s);
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return ik_error_set(err, EINVAL, "flight location '%s': port '%s' is not 0-65535", uri, s);
    *port = (int)v;
    return 0;
}

static int parse_tcp(const char *rest, struct ik_flight_location *out, const char *uri,
                     struct ik_error *err)
{
    const char *colon;
    size_t hlen;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL || close[1] != ':')
            return ik_error_set(err, EINVAL,
                                "flight location '%s': an IPv6 host is written "
                                "[addr]:port",
                                uri);
        hlen = (size_t)(close - rest - 1);
        if (hlen == 0 || hlen >= sizeof out->host)
            return ik_error_set(err, EINVAL, "flight location '%s': bad host", uri);
        memcpy(out->host, rest + 1, hlen);
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (colon == NULL)
            return ik_error_set(err, EINVAL, "flight location '%s': no port (host:port)", uri);
        hlen = (size_t)(colon - rest);
        if (hlen == 0 || hlen >= sizeof out->host || memchr(rest, ':', hlen) != NULL)
            return ik_error_set(err, EINVAL, "flight location '%s': bad host", uri);
        memcpy(out->host, rest, hlen);
    }
    out->host[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++) {
        char c = out->host[i];
        if (c == '/' || c == '@' || c == '?' || c == '#' || c <= ' ' || c == 0x7f)
            return ik_error_set(err, EINVAL, "flight location '%s': bad character in host", uri);
    }
    out->scheme = IK_FLIGHT_TCP;
    return parse_port(colon + 1, &out->port, uri, err);
}

int ik_flight_location_parse(const char *uri, struct ik_flight_location *out, struct ik_error *err)
{
    memset(out, 0, sizeof *out);
    if (uri == NULL)
        return ik_error_set(err, EINVAL, "flight location: none given");
    if (strncasecmp(uri, "grpc+tcp://", 11) == 0)
        return parse_tcp(uri + 11, out, uri, err);
    if (strncasecmp(uri, "grpc://", 7) == 0)
        return parse_tcp(uri + 7, out, uri, err);
    if (strncasecmp(uri, "grpc+tls://", 11) == 0) {
        int rc = parse_tcp(uri + 11, out, uri, err);
        if (rc == 0)
            out->scheme = IK_FLIGHT_TLS;
        return rc;
    }
    if (strncasecmp(uri, "grpc+unix:", 10) == 0) {
        const char *p = uri + 10;
        size_t n;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        if (p[0] != '/')
            return ik_error_set(err, EINVAL,
                                "flight location '%s': the socket path must be "
                                "absolute (grpc+unix:///path)",
                                uri);
        n = strlen(p);
        if (n >= sizeof out->path)
            return ik_error_set(err, ENAMETOOLONG,
                                "flight location '%s': socket path longer "
                                "than %zu bytes",
                                uri, sizeof out->path - 1);
        memcpy(out->path, p, n + 1);
        out->scheme = IK_FLIGHT_UNIX;
        return 0;
    }
    return ik_error_set(err, EINVAL,
                        "flight location '%s': the scheme must be grpc+unix://, "
                        "grpc+tcp://, grpc:// or grpc+tls://",
                        uri);
}

int ik_flight_location_target(const struct ik_flight_location *loc, char *buf, size_t cap)
{
    int n;
    if (loc->scheme == IK_FLIGHT_UNIX)
        n = snprintf(buf, cap, "unix:%s", loc->path);
    else if (strchr(loc->host, ':'))
        n = snprintf(buf, cap, "[%s]:%d", loc->host, loc->port);
    else
        n = snprintf(buf, cap, "%s:%d", loc->host, loc->port);
    return n < 0 || (size_t)n >= cap ? ENAMETOOLONG : 0;
}

int ik_flight_location_uri(const struct ik_flight_location *loc, char *buf, size_t cap)
{
    int n;
    const char *scheme = loc->scheme == IK_FLIGHT_TLS ? "grpc+tls" : "grpc+tcp";
    if (loc->scheme == IK_FLIGHT_UNIX)
        n = snprintf(buf, cap, "grpc+unix://%s", loc->path);
    else if (strchr(loc->host, ':'))
        n = snprintf(buf, cap, "%s://[%s]:%d", scheme, loc->host, loc->port);
    else
        n = snprintf(buf, cap, "%s://%s:%d", scheme, loc->host, loc->port);
    return n < 0 || (size_t)n >= cap ? ENAMETOOLONG : 0;
}

bool ik_flight_location_is_local(const struct ik_flight_location *loc)
{
    if (loc->scheme == IK_FLIGHT_UNIX)
        return true;
    if (strcasecmp(loc->host, "localhost") == 0 || strcmp(loc->host, "::1") == 0)
        return true;
    if (strncmp(loc->host, "127.", 4) == 0) {
        int a, b, c, d;
        char tail;
        return sscanf(loc->host, "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) == 4 && a == 127 &&
               b >= 0 && b <= 255 && c >= 0 && c <= 255 && d >= 0 && d <= 255;
    }
    return false;
}
