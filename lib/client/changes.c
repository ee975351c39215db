/* The change feed for clients (include/ipfskit/client.h): changes(since) through the daemon's
 * "changes" op (an IPC stream, or JSON rows when Arrow is off), or from the store read-only
 * when no daemon runs; and the wait for a newer version that a follower blocks in between. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "client_internal.h"
#include "ipfskit/schemas.h"
#include "ipfskit/snapshot.h"

static int decode(struct ik_client *c, const char *table, struct ik_sock_reader *rd, bool json,
                  struct ik_result *out, struct ik_error *err)
{
    struct ArrowSchema cs = {0};
    int rc;
    if (!json)
        return ik__client_decode(c, rd, NULL, &out->stream, err);
    if ((rc = ik_changes_schema(table, &cs, err)) != 0)
        return rc;
    rc = ik__client_decode(c, rd, &cs, &out->stream, err);
    cs.release(&cs);
    return rc;
}

static int from_daemon(struct ik_client *c, const char *table, uint64_t since, bool json,
                       struct ik_result *out, struct ik_error *err)
{
    struct ik_request req;
    struct ik_sock_reader rd;
    struct ik_reply_query fh;
    json_t *hdr = NULL;
    char *text;
    int conn = -1, rc;
    ik_request_init(&req, IK_REQ_CHANGES);
    ik_query_init(&req.query, table);
    req.since = since;
    req.transport = json ? IK_TRANSPORT_JSON : IK_TRANSPORT_STREAM;
    req.compression = (enum ik_compression)c->opts.compression;
    text = ik_request_to_json(&req);
    ik_request_reset(&req);
    if (!text)
        return ik_error_set(err, EINVAL, "since %llu has no JSON form", (unsigned long long)since);
    rc = ik__client_exchange(c, text, &hdr, &fh, &conn, &rd, &out->timings, err);
    free(text);
    if (rc != 0) {
        json_decref(hdr);
        return rc;
    }
    json = strcmp(fh.method, "traditional") == 0;
    out->version = fh.version;
    out->matched = out->table_rows = out->rows = fh.matched;
    rc = decode(c, table, &rd, json, out, err);
    if (rc == 0)
        ik__client_conn_put(c, conn, &rd);
    else
        close(conn);
    out->method = json ? IK_METHOD_TRADITIONAL : IK_METHOD_IPC_STREAM;
    out->source = json ? "traditional_json_fallback" : "arrow_ipc_daemon";
    out->detail = json ? "json" : "changes";
    json_decref(hdr);
    return rc;
}

static int from_store(struct ik_client *c, const char *table, uint64_t since, struct ik_result *out,
                      struct ik_error *err)
{
    struct ik_store *st = NULL;
    struct ArrowSchema s = {0};
    struct ArrowArray a = {0};
    int rc = ik_store_open(c->dir, IK_STORE_READONLY, &st, err);
    if (rc != 0)
        return rc;
    rc = ik_store_changes(st, table, since, &s, &a, &out->version, err);
    if (rc == EBUSY) { /* an import not applied yet: applied here, or waited for */
        ik_store_close(st);
        st = NULL;
        if ((rc = ik_store_await_applied(c->dir, c->timeout_ms, err)) == 0 &&
            (rc = ik_store_open(c->dir, IK_STORE_READONLY, &st, err)) == 0)
            rc = ik_store_changes(st, table, since, &s, &a, &out->version, err);
    }
    ik_store_close(st);
    if (rc != 0)
        return rc;
    out->matched = out->table_rows = out->rows = a.length;
    out->method = IK_METHOD_DIRECT;
    out->source = "direct_pin_index";
    out->detail = "sqlite";
    return ik_batch_stream(&s, &a, &out->stream, err);
}

int ik_client_changes(struct ik_client *c, const char *table, uint64_t since, struct ik_result *out,
                      struct ik_error *err)
{
    enum ik_method m = c->opts.method;
    double t0 = ik__mono_ms(), t1;
    int rc;
    ik_result_init(out);
    if (m == IK_METHOD_ZERO_COPY)
        m = IK_METHOD_AUTO; /* a change batch is built per request: no file to map */
    if (!c->cfg.arrow_ipc_enabled && m == IK_METHOD_AUTO)
        m = IK_METHOD_TRADITIONAL;
    if (m == IK_METHOD_DIRECT) {
        rc = from_store(c, table, since, out, err);
    } else {
        rc = from_daemon(c, table, since, m == IK_METHOD_TRADITIONAL, out, err);
        if (rc == IK_EDAEMON && m == IK_METHOD_AUTO) {
            ik_result_reset(out);
            rc = from_store(c, table, since, out, err);
        }
    }
    if (rc != 0) {
        ik_result_reset(out);
        return rc;
    }
    t1 = ik__mono_ms();
    out->method_name = ik_method_name(out->method);
    out->timings.total_ms = t1 - t0;
    return 0;
}

/* The store's newest version, or *v = 0 while there is no store yet. */
static int newest(struct ik_client *c, struct ik_store **st, uint64_t *v, struct ik_error *err)
{
    uint64_t oldest = 0;
    int rc;
    *v = 0;
    if (*st == NULL) {
        rc = ik_store_open(c->dir, IK_STORE_READONLY, st, err);
        if (rc == ENOENT)
            return 0;
        if (rc != 0)
            return rc;
    }
    return ik_store_changes_range(*st, &oldest, v, err);
}

int ik_client_wait_version(struct ik_client *c, uint64_t after, int timeout_ms, uint64_t *version,
                           struct ik_error *err)
{
    struct ik_store *st = NULL;
    double deadline = ik__mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    char buf[4096];
    int in, rc;
    *version = 0;
    /* Every commit appends to pins.db-wal (or writes pins.db), in this directory: watched
     * before the version is read, so a commit in between still wakes us. */
    in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (in < 0)
        return ik_error_set(err, errno, "inotify: %s", strerror(errno));
    if (inotify_add_watch(in, c->dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
        rc = ik_error_set(err, errno, "watching %s: %s", c->dir, strerror(errno));
        goto done;
    }
    for (;;) {
        struct pollfd p = {in, POLLIN, 0};
        double left;
        if ((rc = newest(c, &st, version, err)) != 0)
            goto done;
        if (*version > after)
            break;
        left = deadline - ik__mono_ms();
        if (left <= 0) {
            rc = ETIMEDOUT;
            ik_error_set(err, ETIMEDOUT, "no version after %llu within %d ms",
                         (unsigned long long)after, timeout_ms);
            goto done;
        }
        rc = poll(&p, 1, (int)left + 1);
        if (rc < 0 && errno != EINTR) {
            rc = ik_error_set(err, errno, "poll: %s", strerror(errno));
            goto done;
        }
        if (rc < 0) {
            rc = EINTR; /* a signal: let the caller decide (SIGINT ends a follow) */
            ik_error_set(err, EINTR, "interrupted");
            goto done;
        }
        while (read(in, buf, sizeof buf) > 0)
            ; /* drain: any event means "look again" */
    }
    rc = 0;
done:
    ik_store_close(st);
    close(in);
    return rc;
}
