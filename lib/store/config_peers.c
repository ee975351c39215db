/* config.json "peers", "peer_timeout_ms", "peer_tls_ca" and "node_name": the other daemons
 * whose Arrow Flight endpoints this daemon lists beside its own, how long it waits for each, the
 * certificates grpc+tls peers are checked against, and the name its rows carry in the `node`
 * column (docs/distributed.md). Every entry is checked here with its key
 * named, so a typo is found when the daemon starts rather than as a peer that never answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/config_internal.h"

#define NODE_CHARS                                                                                 \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"                                         \
    "0123456789-._:"

void ik__config_peers_init(struct ik_config *c)
{
    char host[256] = "";
    c->peer_timeout_ms = 2000;
    /* the default node name: this machine's host name, cut to what a name may hold */
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == 0)
        strcpy(host, "localhost");
    host[strspn(host, NODE_CHARS)] = 0;
    if (host[0] == 0)
        strcpy(host, "localhost");
    host[sizeof c->node_name - 1] = 0; /* at most 63 bytes */
    memcpy(c->node_name, host, strlen(host) + 1);
}

int ik_peer_parse(const char *s, struct ik_peer_conf *p, const char **why)
{
    static const char tcp[] = "grpc+tcp://", plain[] = "grpc://", unx[] = "grpc+unix://",
                      tls[] = "grpc+tls://";
    const char *rest, *colon, *host, *end;
    size_t hlen, n = strlen(s);
    long port = 0;
    memset(p, 0, sizeof *p);
    *why = "expected \"grpc+tcp://host:port\", \"grpc+tls://host:port\" or "
           "\"grpc+unix:///absolute/path\"";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return EINVAL;
    if (strncmp(s, unx, sizeof unx - 1) == 0) {
        rest = s + sizeof unx - 1;
        if (rest[0] != '/' || strlen(rest) >= sizeof p->unix_path) {
            *why = "grpc+unix:// takes an absolute path of at most 107 bytes";
            return EINVAL;
        }
        strcpy(p->unix_path, rest);
        snprintf(p->location, sizeof p->location, "%s", s);
        return 0;
    }
    if (strncmp(s, tcp, sizeof tcp - 1) == 0)
        rest = s + sizeof tcp - 1;
    else if (strncmp(s, tls, sizeof tls - 1) == 0) {
        rest = s + sizeof tls - 1;
        p->tls = true;
    } else if (strncmp(s, plain, sizeof plain - 1) == 0)
        rest = s + sizeof plain - 1;
    else
        return EINVAL;
    end = rest + strlen(rest);
    if (end > rest && end[-1] == '/') /* "grpc+tcp://h:1/" */
        end--;
    host = rest;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', (size_t)(end - rest));
        if (close == NULL || close + 1 >= end || close[1] != ':')
            return EINVAL;
        host = rest + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *q = rest; q < end; q++) {
            if (*q == '/' || *q == '@' || *q == '?' || *q == '#')
                return EINVAL;
            if (*q == ':')
                colon = q;
        }
        if (colon == NULL)
            return EINVAL;
        hlen = (size_t)(colon - rest);
        if (memchr(rest, ':', hlen) != NULL) /* a bare IPv6 address needs its brackets */
            return EINVAL;
    }
    if (hlen == 0 || hlen >= sizeof p->host)
        return EINVAL;
    if (colon + 1 == end || end - (colon + 1) > 5) {
        *why = "the port must be 1 to 65535";
        return EINVAL;
    }
    for (const char *q = colon + 1; q < end; q++) {
        if (*q < '0' || *q > '9') {
            *why = "the port must be 1 to 65535";
            return EINVAL;
        }
        port = port * 10 + (*q - '0');
    }
    if (port < 1 || port > 65535) {
        *why = "the port must be 1 to 65535";
        return EINVAL;
    }
    memcpy(p->host, host, hlen);
    p->host[hlen] = 0;
    p->port = (int)port;
    /* one spelling for every peer: grpc+tcp://host:port (or grpc+tls), brackets around IPv6 */
    snprintf(p->location, sizeof p->location, strchr(p->host, ':') ? "%s[%s]:%d" : "%s%s:%d",
             p->tls ? tls : tcp, p->host, p->port);
    return 0;
}

static int load_node_name(json_t *root, struct ik_config *c, struct ik_error *err)
{
    json_t *v = json_object_get(root, "node_name");
    const char *s;
    size_t n;
    if (v == NULL || json_is_null(v))
        return 0;
    s = json_string_value(v);
    n = s ? strlen(s) : 0;
    if (!s || n == 0 || n >= sizeof c->node_name || strspn(s, NODE_CHARS) != n)
        return ik_error_set(err, EINVAL,
                            "config.json: node_name: expected 1 to %zu letters, digits or "
                            "-._: (the value of the node column)",
                            sizeof c->node_name - 1);
    memcpy(c->node_name, s, n + 1);
    return 0;
}

/* "peer_tls_ca": a path, made absolute against the data directory `dir`. */
static int load_peer_ca(json_t *root, const char *dir, struct ik_config *c, struct ik_error *err)
{
    json_t *v = json_object_get(root, "peer_tls_ca");
    const char *s = json_string_value(v);
    int n;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!s || !s[0])
        return ik_error_set(err, EINVAL,
                            "config.json: peer_tls_ca: expected the path of a PEM file of "
                            "certificates (or null)");
    n = s[0] == '/' ? snprintf(c->peer_tls_ca, sizeof c->peer_tls_ca, "%s", s)
                    : snprintf(c->peer_tls_ca, sizeof c->peer_tls_ca, "%s/%s", dir, s);
    if (n < 0 || (size_t)n >= sizeof c->peer_tls_ca)
        return ik_error_set(err, ENAMETOOLONG, "config.json: peer_tls_ca: path too long");
    return 0;
}

int ik__config_peers(json_t *root, const char *dir, struct ik_config *c, struct ik_error *err)
{
    json_t *arr = json_object_get(root, "peers"), *v = json_object_get(root, "peer_timeout_ms");
    size_t i;
    int rc = load_node_name(root, c, err);
    if (rc != 0 || (rc = load_peer_ca(root, dir, c, err)) != 0)
        return rc;
    if (v != NULL &&
        (!json_is_integer(v) || json_integer_value(v) < 10 || json_integer_value(v) > 600000))
        return ik_error_set(err, EINVAL,
                            "config.json: peer_timeout_ms: expected an integer from 10 to 600000 "
                            "(milliseconds)");
    if (v != NULL)
        c->peer_timeout_ms = (int)json_integer_value(v);
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > IK_PEERS_MAX)
        return ik_error_set(err, EINVAL,
                            "config.json: peers: expected an array of at most %d locations such "
                            "as \"grpc+tcp://node2.example:8815\"",
                            IK_PEERS_MAX);
    if (json_array_size(arr) == 0)
        return 0;
    if ((c->peers = calloc(json_array_size(arr), sizeof *c->peers)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    json_array_foreach(arr, i, v)
    {
        struct ik_peer_conf *p = &c->peers[c->n_peers];
        const char *why = "expected a string";
        if (!json_is_string(v) || ik_peer_parse(json_string_value(v), p, &why) != 0)
            return ik_error_set(err, EINVAL, "config.json: peers[%zu]: %s, got %s%.80s%s", i, why,
                                json_is_string(v) ? "\"" : "",
                                json_is_string(v) ? json_string_value(v) : "something else",
                                json_is_string(v) ? "\"" : "");
        for (size_t j = 0; j < c->n_peers; j++)
            if (strcmp(c->peers[j].location, p->location) == 0)
                return ik_error_set(err, EINVAL,
                                    "config.json: peers[%zu]: %s is already peers[%zu]", i,
                                    p->location, j);
        c->n_peers++;
    }
    return 0;
}
