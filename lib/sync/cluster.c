/* IPFS Cluster's REST API as a pin source (shapes of ipfs-cluster v1.1.6, api/types.go and
 * api/rest/restapi.go): the pinset from `GET /allocations?filter=pin` (one api.Pin per line:
 * cid, name, mode, replication_factor_min/max, metadata, allocations; 204 when empty), then the
 * per-peer state from `GET /pins` (one api.GlobalPinInfo per line, peer_map of statuses) to set
 * `verified`. Both are streamed; the second pass reports status-only pins. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_internal.h"

int ik__cluster_list(const struct ik_source *src, ik_source_pin_fn fn, void *ctx, int64_t *listed,
                     struct ik_error *err);

struct cl_ctx {
    ik_source_pin_fn fn;
    void *ctx;
    int64_t listed;
    const char *url;
};

/* cluster's Cid marshals as a string; older releases wrote {"/": "..."} */
static const char *cid_of(json_t *o)
{
    json_t *c = json_object_get(o, "cid");
    if (json_is_object(c))
        c = json_object_get(c, "/");
    return json_is_string(c) ? json_string_value(c) : NULL;
}

static int bad_line(struct cl_ctx *c, int64_t lineno, const char *what, const char *line,
                    struct ik_error *err)
{
    return ik_error_set(err, IK_EFORMAT, "%s: line %lld %s: %.80s", c->url, (long long)lineno, what,
                        line);
}

static int alloc_line(void *arg, char *line, size_t len, int64_t lineno, struct ik_error *err)
{
    struct cl_ctx *c = arg;
    struct ik_source_pin pin = {.replication_factor = -1, .verified = -1};
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *v;
    char *meta = NULL;
    int rc;
    if (!json_is_object(o) || (pin.cid = cid_of(o)) == NULL) {
        json_decref(o);
        return bad_line(c, lineno, "is not a cluster pin", line, err);
    }
    v = json_object_get(o, "name");
    if (json_is_string(v) && json_string_length(v) > 0)
        pin.name = json_string_value(v);
    v = json_object_get(o, "mode");
    pin.pin_type =
        json_is_string(v) && strcmp(json_string_value(v), "direct") == 0 ? "direct" : "recursive";
    v = json_object_get(o, "replication_factor_min");
    /* -1 (pin everywhere) and 0 (the cluster default) leave the factor unknown */
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= INT32_MAX)
        pin.replication_factor = (int32_t)json_integer_value(v);
    v = json_object_get(o, "metadata");
    if (json_is_object(v) && json_object_size(v) > 0) {
        meta = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        pin.metadata = meta;
    }
    c->listed++;
    rc = c->fn(c->ctx, &pin, err);
    free(meta);
    json_decref(o);
    return rc;
}

static int status_line(void *arg, char *line, size_t len, int64_t lineno, struct ik_error *err)
{
    struct cl_ctx *c = arg;
    struct ik_source_pin pin = {.replication_factor = -1, .status_only = true};
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *pm, *pi;
    const char *peer;
    int pinned = 0, other = 0, rc;
    if (!json_is_object(o) || (pin.cid = cid_of(o)) == NULL) {
        json_decref(o);
        return bad_line(c, lineno, "is not a cluster pin status", line, err);
    }
    pm = json_object_get(o, "peer_map");
    json_object_foreach(pm, peer, pi)
    {
        json_t *st = json_object_get(pi, "status");
        const char *s = json_is_string(st) ? json_string_value(st) : "";
        if (strcmp(s, "pinned") == 0)
            pinned++;
        else if (strcmp(s, "remote") != 0) /* remote: not allocated to that peer */
            other++;
    }
    /* verified: every peer the pin is allocated to reports it pinned */
    pin.verified = pinned > 0 && other == 0;
    rc = c->fn(c->ctx, &pin, err);
    json_decref(o);
    return rc;
}

static int get_lines(const struct ik_source *src, const char *path,
                     int (*line)(void *, char *, size_t, int64_t, struct ik_error *),
                     struct cl_ctx *c, struct ik_error *err)
{
    char url[700];
    struct ik__http h = {0};
    if ((size_t)snprintf(url, sizeof url, "%s%s", src->api, path) >= sizeof url)
        return ik_error_set(err, EINVAL, "source %s: API URL too long", src->name);
    c->url = url;
    h.url = url;
    h.auth = src->auth;
    h.timeout_ms = src->timeout_ms;
    h.stall_ms = src->stall_ms;
    h.on_line = line;
    h.ctx = c;
    return ik__http_run(&h, err); /* 204 (no pins) has no body: no line */
}

int ik__cluster_list(const struct ik_source *src, ik_source_pin_fn fn, void *ctx, int64_t *listed,
                     struct ik_error *err)
{
    struct cl_ctx c = {.fn = fn, .ctx = ctx};
    int rc = get_lines(src, "/allocations?filter=pin", alloc_line, &c, err);
    if (listed)
        *listed = c.listed;
    if (rc == 0)
        rc = get_lines(src, "/pins", status_line, &c, err);
    return rc;
}
