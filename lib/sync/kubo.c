/* kubo's RPC API as a pin source: the streamed pin listing (`pin/ls?stream=true`, one
 * {"Cid","Name","Type"} object per line, Name omitted when empty, Type possibly "indirect
 * through <cid>"), the liveness probe (`id`), a DAG's cumulative size (`files/stat`), and the
 * API address from the repo's `api` file as kubo's CLI finds it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync/sync_internal.h"

struct list_ctx {
    const struct ik_source *src;
    ik_source_pin_fn fn;
    void *ctx;
    int64_t listed;
    const char *url;
};

static const char *str_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int kubo_line(void *arg, char *line, size_t len, int64_t lineno, struct ik_error *err)
{
    struct list_ctx *lc = arg;
    struct ik_source_pin pin = {.replication_factor = -1, .verified = -1};
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    const char *type;
    int rc;
    if (!json_is_object(o)) {
        json_decref(o);
        return ik_error_set(err, IK_EFORMAT, "%s: line %lld is not a pin object: %.80s", lc->url,
                            (long long)lineno, line);
    }
    pin.cid = str_field(o, "Cid");
    pin.name = str_field(o, "Name");
    type = str_field(o, "Type");
    if (pin.cid == NULL || type == NULL) {
        json_decref(o);
        return ik_error_set(err, IK_EFORMAT, "%s: line %lld has no %s: %.80s", lc->url,
                            (long long)lineno, pin.cid ? "Type" : "Cid", line);
    }
    if (pin.name != NULL && pin.name[0] == '\0')
        pin.name = NULL;
    /* "indirect through <cid>": indirect, whichever pin holds it */
    pin.pin_type = strncmp(type, "indirect", 8) == 0 ? "indirect" : type;
    lc->listed++;
    rc = lc->fn(lc->ctx, &pin, err);
    json_decref(o);
    return rc;
}

static int url_for(const struct ik_source *src, const char *path, char *url, size_t cap,
                   struct ik_error *err)
{
    if ((size_t)snprintf(url, cap, "%s%s", src->api, path) >= cap)
        return ik_error_set(err, EINVAL, "source %s: API URL too long", src->name);
    return 0;
}

int ik__cluster_list(const struct ik_source *src, ik_source_pin_fn fn, void *ctx, int64_t *listed,
                     struct ik_error *err);

int ik_source_list(const struct ik_source *src, ik_source_pin_fn fn, void *ctx, int64_t *listed,
                   struct ik_error *err)
{
    char url[700];
    struct list_ctx lc = {.src = src, .fn = fn, .ctx = ctx, .url = url};
    struct ik__http h = {0};
    int rc;
    if (listed)
        *listed = 0;
    if (src->kind == IK_SOURCE_CLUSTER)
        return ik__cluster_list(src, fn, ctx, listed, err);
    if ((rc = url_for(src, "/api/v0/pin/ls?stream=true&names=true&type=all", url, sizeof url,
                      err)) != 0)
        return rc;
    h.url = url;
    h.post = true;
    h.auth = src->auth;
    h.timeout_ms = src->timeout_ms;
    h.stall_ms = src->stall_ms;
    h.on_line = kubo_line;
    h.ctx = &lc;
    rc = ik__http_run(&h, err);
    if (listed)
        *listed = lc.listed;
    return rc;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int ik_source_probe(const struct ik_source *src, double *response_ms, struct ik_error *err)
{
    char url[700];
    struct ik__http h = {0};
    double t0 = mono_ms();
    int rc;
    if ((rc = url_for(src, src->kind == IK_SOURCE_KUBO ? "/api/v0/id" : "/id", url, sizeof url,
                      err)) != 0)
        return rc;
    h.url = url;
    h.post = src->kind == IK_SOURCE_KUBO;
    h.auth = src->auth;
    h.timeout_ms = src->timeout_ms;
    h.total_ms = src->timeout_ms > 0 ? src->timeout_ms : 10000;
    h.max_body = (size_t)1 << 20;
    rc = ik__http_run(&h, err);
    free(h.body);
    if (response_ms)
        *response_ms = mono_ms() - t0;
    return rc;
}

int ik_kubo_dag_size(const struct ik_source *src, const char *cid, int64_t *size,
                     struct ik_error *err)
{
    char url[900];
    struct ik__http h = {0};
    json_t *o = NULL, *v;
    int rc;
    /* a CID is base-encoded: nothing in it needs escaping, but refuse anything else */
    for (const char *c = cid; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              *c == '-' || *c == '_'))
            return ik_error_set(err, EINVAL, "not a CID: %.100s", cid);
    if ((size_t)snprintf(url, sizeof url, "%s/api/v0/files/stat?arg=/ipfs/%s", src->api, cid) >=
        sizeof url)
        return ik_error_set(err, EINVAL, "source %s: URL too long", src->name);
    h.url = url;
    h.post = true;
    h.auth = src->auth;
    h.timeout_ms = src->timeout_ms;
    h.total_ms = src->timeout_ms > 0 ? src->timeout_ms : 10000;
    h.max_body = 64 << 10;
    if ((rc = ik__http_run(&h, err)) != 0)
        return rc;
    o = json_loadb(h.body, h.body_len, 0, NULL);
    v = json_object_get(o, "CumulativeSize");
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        *size = json_integer_value(v);
    else
        rc = ik_error_set(err, IK_EFORMAT, "%s: no CumulativeSize in the reply", url);
    json_decref(o);
    free(h.body);
    return rc;
}

/* "/ip4/127.0.0.1/tcp/5001", "/ip6/::1/tcp/5001", "/dns4/host/tcp/5001" (optionally followed
 * by "/http"), or an http(s) URL kept as it is. */
static int multiaddr_url(const char *ma, char *url, size_t cap, struct ik_error *err)
{
    char proto[8], host[256], rest[64] = "";
    unsigned port = 0;
    if (strncmp(ma, "http://", 7) == 0 || strncmp(ma, "https://", 8) == 0) {
        size_t n = strlen(ma);
        while (n > 0 && ma[n - 1] == '/')
            n--;
        if (n >= cap)
            return ik_error_set(err, EINVAL, "kubo API address too long");
        memcpy(url, ma, n);
        url[n] = '\0';
        return 0;
    }
    if (sscanf(ma, "/%7[^/]/%255[^/]/tcp/%u%63s", proto, host, &port, rest) < 3 || port == 0 ||
        port > 65535 || (rest[0] != '\0' && strcmp(rest, "/http") != 0))
        return ik_error_set(err, EINVAL, "kubo API address %.200s: not /ip4|ip6|dns/HOST/tcp/PORT",
                            ma);
    if (strcmp(proto, "ip6") == 0)
        snprintf(url, cap, "http://[%s]:%u", host, port);
    else if (strcmp(proto, "ip4") == 0 || strncmp(proto, "dns", 3) == 0)
        snprintf(url, cap, "http://%s:%u", host, port);
    else
        return ik_error_set(err, EINVAL, "kubo API address %.200s: unsupported protocol %s", ma,
                            proto);
    return 0;
}

int ik_kubo_api_url(const char *repo, char *url, size_t cap, struct ik_error *err)
{
    char path[4096], line[512];
    const char *env = getenv("IPFS_PATH"), *home = getenv("HOME");
    FILE *f;
    size_t n;
    if (repo != NULL)
        snprintf(path, sizeof path, "%s/api", repo);
    else if (env != NULL && env[0] != '\0')
        snprintf(path, sizeof path, "%s/api", env);
    else if (home != NULL)
        snprintf(path, sizeof path, "%s/.ipfs/api", home);
    else
        return ik_error_set(err, ENOENT, "no IPFS_PATH and no HOME: no kubo repo to look in");
    if ((f = fopen(path, "re")) == NULL)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        line[--n] = '\0';
    return multiaddr_url(line, url, cap, err);
}
