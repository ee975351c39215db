/* Request handlers, run on the loop thread: answers ping/status/capabilities at once, hands
 * zero-copy queries the published snapshot's fd (O(1) whatever the table size), and sends
 * everything slow — writes, IPC stream and JSON replies — to a worker thread. Write replies
 * are held until a snapshot containing the write is published, so that a client's next
 * query sees its own write. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"
#include "flight/flight.h"
#include "http/http.h"
#include "ipfskit/client.h"
#include "ipfskit/schemas.h"
#include "ipfskit/seglog.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"

#ifndef IK_VERSION
#define IK_VERSION "0.1.0"
#endif

/* The table's schema, built once and kept (a query is checked against it every time). */
static const struct ArrowSchema *table_schema(struct ik_daemon *d, int t)
{
    struct ArrowSchema *s = &d->schemas[t];
    if (s->release == NULL && ik_table_schema(ik_table_names[t], s, NULL) != 0)
        return NULL;
    return s;
}

static bool file_backed(const char *t)
{
    return strcmp(t, "pin_index") == 0 || strcmp(t, "vfs_stats") == 0;
}

static void reply_json(struct ik_daemon *d, struct ik_conn *c, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) {
        ik_conn_send_error(d, c, "internal", "out of memory");
        return;
    }
    ik_conn_send(d, c, s, -1);
    free(s);
}

static void finish(struct ik_daemon *d, struct ik_conn *c, int op, int method, bool error)
{
    ik_metrics_request(&d->metrics, op, method, ik_now_ms() - c->t_start, error);
}

/* Builds a small table (metrics, backend_health) into a sealed memfd. */
static int small_table_fd(struct ik_daemon *d, const char *table, int64_t *rows,
                          struct ik_error *err)
{
    struct ArrowSchema s = {0};
    struct ArrowArray a = {0};
    int fd = -1, rc;
    rc = strcmp(table, "metrics") == 0 ? ik_metrics_build(d, &s, &a, err)
                                       : ik_health_build(d, &s, &a, err);
    if (rc != 0)
        return -rc;
    *rows = a.length;
    fd = memfd_create(table, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        rc = ik_error_set(err, errno, "memfd_create: %s", strerror(errno));
    else
        rc = ik_snapshot_write_fd(fd, table, (uint64_t)(ik_wall_ms() * 1000.0), &s, &a, err);
    a.release(&a);
    s.release(&s);
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        return -rc;
    }
    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
}

/* The header of a zero_copy reply, written by hand: this runs for every query. A segmented
 * table's reply carries the manifest and then each segment (docs/protocol.md), unless the
 * client holds that state ("held"). */
static void send_zero_copy(struct ik_daemon *d, struct ik_conn *c, const char *table,
                           const struct ik_published *snap, int fd)
{
    char h[320], segs[48] = "";
    int fds[IK_PROTO_MAX_FDS], n = 0, i, count = snap->set ? ik_segset_count(snap->set) : 0;
    if (fd >= 0)
        fds[n++] = fd;
    if (snap->set && fd >= 0) {
        for (i = 0; i < count && n < IK_PROTO_MAX_FDS; i++) {
            int f = fcntl(ik_segset_fd(snap->set, i), F_DUPFD_CLOEXEC, 3);
            if (f < 0)
                break;
            fds[n++] = f;
        }
        if (n != count + 1) {
            for (i = 0; i < n; i++)
                close(fds[i]);
            finish(d, c, IK_REQ_QUERY, -1, true);
            ik_conn_send_error(d, c, "internal", "cannot pass the segments (out of descriptors)");
            return;
        }
    }
    if (snap->set)
        snprintf(segs, sizeof segs, ",\"segments\":%d", count);
    snprintf(h, sizeof h,
             "{\"ok\":true,\"method\":\"zero_copy\",\"source\":\"arrow_ipc_daemon\","
             "\"transport\":\"fd\",\"table\":\"%s\",\"version\":%llu,\"table_rows\":%lld%s%s}",
             table, (unsigned long long)snap->version, (long long)snap->rows, segs,
             fd < 0 ? ",\"held\":true" : "");
    finish(d, c, IK_REQ_QUERY, 0, false);
    ik_conn_send_fds(d, c, h, fds, n);
}

/* Hands the request (moved into the job) to a reply worker, which owns the socket meanwhile;
 * with `snap_table`, the worker answers from that table's published snapshot. */
static void queue_reply(struct ik_daemon *d, struct ik_conn *c, struct ik_request *req,
                        enum ik_transport transport, const char *snap_table)
{
    struct ik_job *j = calloc(1, sizeof *j);
    if (!j) {
        ik_conn_send_error(d, c, "internal", "out of memory");
        ik_request_reset(req);
        return;
    }
    j->kind = IK_JOB_REPLY;
    j->conn = c;
    j->req = *req;
    j->req.transport = transport;
    j->in_fd = -1;
    j->snap.fd = -1;
    if (snap_table && ik_published_get(d, snap_table, NULL, &j->snap) != 0) {
        ik_segset_release(j->snap.set);
        free(j);
        ik_conn_send_error(d, c, "not_found", "no snapshot published yet");
        ik_request_reset(req);
        return;
    }
    c->busy = true;
    c->req_op = (int)req->op;
    ik_queue_push(&d->replies, j);
}

static void handle_query(struct ik_daemon *d, struct ik_conn *c, struct ik_request *req)
{
    struct ik_error err = {{0}};
    const struct ArrowSchema *schema;
    struct ik_published snap = {.fd = -1};
    const char *table = req->query.table;
    bool arrow = d->cfg.arrow_ipc_enabled;
    int transport = req->transport, t = ik_table_index(table);

    if (t < 0) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "unknown table '%.64s' (pin_index, metrics, vfs_stats, "
                 "backend_health)",
                 table);
        finish(d, c, IK_REQ_QUERY, -1, true);
        ik_conn_send_error(d, c, "not_found", msg);
        ik_request_reset(req);
        return;
    }
    table = ik_table_names[t]; /* a static string, known to need no JSON escaping */
    if (ik_query_canonical_cids(&req->query, &err) != 0 ||
        ((schema = table_schema(d, t)) != NULL && ik_query_check(&req->query, schema, &err) != 0)) {
        finish(d, c, IK_REQ_QUERY, -1, true);
        ik_conn_send_error(d, c, "bad_request", err.message);
        ik_request_reset(req);
        return;
    }
    if (!arrow)
        transport = IK_TRANSPORT_JSON; /* Arrow disabled in config: JSON rows, and say so */
    else if (transport == IK_TRANSPORT_FD && !d->cfg.zero_copy)
        transport = IK_TRANSPORT_STREAM;

    if (transport == IK_TRANSPORT_FD) {
        int fd;
        if (file_backed(table)) {
            if (ik_published_get(d, table, &req->have, &snap) != 0) {
                finish(d, c, IK_REQ_QUERY, -1, true);
                ik_conn_send_error(d, c, "not_found", "no snapshot published yet");
                ik_request_reset(req);
                return;
            }
            fd = snap.fd; /* -1: the client holds this snapshot already */
        } else {
            fd = small_table_fd(d, table, &snap.rows, &err);
            if (fd < 0) {
                finish(d, c, IK_REQ_QUERY, -1, true);
                ik_conn_send_error(d, c, "internal", err.message);
                ik_request_reset(req);
                return;
            }
            snap.version = 0;
        }
        send_zero_copy(d, c, table, &snap, fd); /* takes fd */
        ik_segset_release(snap.set);
        ik_request_reset(req);
        return;
    }
    /* ipc_stream and traditional: encoded by a worker, which owns the socket meanwhile. */
    queue_reply(d, c, req, (enum ik_transport)transport, file_backed(table) ? table : NULL);
}

/* "changes": read from the store and encoded by a reply worker (docs/protocol.md). */
static void handle_changes(struct ik_daemon *d, struct ik_conn *c, struct ik_request *req)
{
    queue_reply(d, c, req, d->cfg.arrow_ipc_enabled ? req->transport : IK_TRANSPORT_JSON, NULL);
}

static void handle_write(struct ik_daemon *d, struct ik_conn *c, struct ik_request *req, int in_fd)
{
    struct ik_job *j = calloc(1, sizeof *j);
    if (!j) {
        if (in_fd >= 0)
            close(in_fd);
        ik_conn_send_error(d, c, "internal", "out of memory");
        ik_request_reset(req);
        return;
    }
    if (req->op == IK_REQ_IMPORT && in_fd < 0) {
        free(j);
        ik_conn_send_error(d, c, "bad_request",
                           "import: the request carries no file (pass "
                           "the file to import as an fd)");
        ik_request_reset(req);
        return;
    }
    j->kind = IK_JOB_WRITE;
    j->conn = c;
    j->req = *req;
    j->in_fd = in_fd;
    j->snap.fd = -1;
    c->busy = true;
    c->req_op = (int)req->op;
    ik_queue_push(&d->writes, j);
}

/* "http": the bound address, or null and "http_off": why. */
static void http_status(struct ik_daemon *d, json_t *h)
{
    char addr[96], why[IK_ERROR_SIZE];
    ik_http_describe(d, addr, sizeof addr, why, sizeof why);
    if (!h)
        return;
    json_object_set_new(h, "http", addr[0] ? json_string(addr) : json_null());
    json_object_set_new(h, "http_scheme", json_string(ik_http_scheme(d)));
    if (!addr[0])
        json_object_set_new(h, "http_off", json_string(why));
}

/* "flight": the locations served (an array, empty when off), and "flight_off": why Flight or
 * one of its locations is not served. */
static void flight_status(struct ik_daemon *d, json_t *h)
{
    char where[1300], why[IK_ERROR_SIZE];
    json_t *a = json_array();
    ik_flight_describe(d, where, sizeof where, why, sizeof why);
    if (!h || !a) {
        json_decref(a);
        return;
    }
    for (char *save = NULL, *t = strtok_r(where, " ", &save); t; t = strtok_r(NULL, " ", &save))
        json_array_append_new(a, json_string(t));
    json_object_set_new(h, "flight", a);
    if (why[0])
        json_object_set_new(h, "flight_off", json_string(why));
}

/* The change tail (changes.c): the versions it answers changes since, and its size. */
static json_t *change_tail_state(struct ik_daemon *d)
{
    struct ik_change_tail_stats t;
    if (d->ctail == NULL)
        return json_null();
    ik_change_tail_stats(d->ctail, &t);
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "base", (json_int_t)t.base, "head",
                     (json_int_t)t.head, "floor", (json_int_t)t.floor, "records",
                     (json_int_t)t.records, "bytes", (json_int_t)t.bytes);
}

/* "snapshot_build" in status: {"ok":true} or the failure the builder is retrying. */
static json_t *build_state(struct ik_daemon *d)
{
    json_t *o;
    pthread_mutex_lock(&d->pub_mu);
    if (!d->build_failed)
        o = json_pack("{s:b}", "ok", 1);
    else
        o = json_pack("{s:b,s:s,s:i,s:f}", "ok", 0, "error", d->build_error, "retries",
                      d->build_retries, "failing_for_s",
                      (ik_wall_ms() - d->build_failed_since) / 1000.0);
    pthread_mutex_unlock(&d->pub_mu);
    return o;
}

static void handle_status(struct ik_daemon *d, struct ik_conn *c, int op)
{
    json_t *h;
    uint64_t gen, vfs_gen;
    int64_t rows;
    int segments;
    pthread_mutex_lock(&d->pub_mu);
    gen = d->published_gen;
    rows = d->pins.rows;
    vfs_gen = d->vfs.version;
    segments = d->pins.set ? ik_segset_count(d->pins.set) : 0;
    pthread_mutex_unlock(&d->pub_mu);
    if (op == IK_REQ_PING) {
        h = json_pack("{s:b,s:b,s:I}", "ok", 1, "pong", 1, "pid", (json_int_t)getpid());
    } else if (op == IK_REQ_CAPABILITIES) {
        h = json_pack("{s:b,s:i,s:{s:b,s:b,s:b,s:b,s:b,s:b,s:b},s:[sssssssssssss],s:[sss],s:[sss],"
                      "s:[ssss],s:i,s:s}",
                      "ok", 1, "protocol", IK_PROTO_VERSION, "capabilities", "arrow_ipc",
                      d->cfg.arrow_ipc_enabled, "zero_copy", d->cfg.zero_copy, "fd_passing", 1,
                      "ipc_stream", 1, "traditional", 1, "have", 1, "watch", 1, "ops", "ping",
                      "capabilities", "status", "query", "pin_add", "pin_rm", "pin_touch", "import",
                      "shutdown", "watch", "changes", "sync_status", "sync_now", "transports", "fd",
                      "stream", "json", "compression", "none", "lz4", "zstd", "tables", "pin_index",
                      "metrics", "vfs_stats", "backend_health", "max_request", IK_PROTO_MAX_REQUEST,
                      "version", IK_VERSION);
    } else {
        h = json_pack("{s:b,s:I,s:s,s:f,s:I,s:I,s:s,s:s,s:i,s:i}", "ok", 1, "pid",
                      (json_int_t)getpid(), "version", IK_VERSION, "uptime_s",
                      (ik_now_ms() - d->metrics.started_mono) / 1000.0, "snapshot_version",
                      (json_int_t)gen, "pins", (json_int_t)rows, "path", d->shown_dir, "socket",
                      d->sock_path, "connections", d->n_conns, "max_connections", d->max_conns);
        if (h) {
            json_object_set_new(h, "snapshot_build", build_state(d));
            json_object_set_new(h, "segments", json_integer(segments));
            json_object_set_new(h, "vfs_stats_version", json_integer((json_int_t)vfs_gen));
            json_object_set_new(h, "compactions",
                                json_integer(atomic_load(&d->metrics.compactions)));
            json_object_set_new(
                h, "compaction_ms_last",
                json_real((double)atomic_load(&d->metrics.compaction_us_last) / 1000.0));
            json_object_set_new(
                h, "build_ms_last",
                json_real((double)atomic_load(&d->metrics.snapshot_build_us_last) / 1000.0));
            json_object_set_new(h, "change_tail", change_tail_state(d));
            json_object_set_new(h, "write_path_nice", json_integer(d->write_nice));
            json_object_set_new(h, "write_path_raised", json_boolean(d->write_nice < d->base_nice));
        }
        http_status(d, h);
        flight_status(d, h);
    }
    finish(d, c, op, -1, false);
    reply_json(d, c, h);
}

/* "watch": the version page, passed as a read-only descriptor. The connection then stays open
 * and idle: the client polls it to learn that this daemon still runs. */
static void handle_watch(struct ik_daemon *d, struct ik_conn *c)
{
    char h[160];
    int fd = d->vpage_fd >= 0 ? fcntl(d->vpage_fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd < 0) {
        finish(d, c, IK_REQ_WATCH, -1, true);
        ik_conn_send_error(d, c, "internal", "no version page to pass");
        return;
    }
    snprintf(h, sizeof h, "{\"ok\":true,\"watch\":true,\"page_size\":%d,\"pid\":%ld}",
             IK_VPAGE_SIZE, (long)getpid());
    c->watching = true; /* stays open and quiet: exempt from daemon.idle_timeout */
    finish(d, c, IK_REQ_WATCH, -1, false);
    ik_conn_send(d, c, h, fd);
}

void ik_handle_request(struct ik_daemon *d, struct ik_conn *c, struct ik_request *req, int in_fd)
{
    switch (req->op) {
    case IK_REQ_QUERY:
        if (in_fd >= 0)
            close(in_fd);
        handle_query(d, c, req);
        return;
    case IK_REQ_CHANGES:
        if (in_fd >= 0)
            close(in_fd);
        handle_changes(d, c, req);
        return;
    case IK_REQ_PIN_ADD:
    case IK_REQ_PIN_RM:
    case IK_REQ_PIN_TOUCH:
    case IK_REQ_IMPORT:
        handle_write(d, c, req, in_fd);
        return;
    case IK_REQ_SHUTDOWN:
        finish(d, c, (int)req->op, -1, false);
        ik_conn_send(d, c, "{\"ok\":true,\"stopping\":true}", -1);
        d->stopping = true;
        break;
    case IK_REQ_WATCH:
        handle_watch(d, c);
        break;
    case IK_REQ_SYNC_STATUS: {
        char *text = ik_syncer_status_json(d);
        finish(d, c, (int)req->op, -1, text == NULL);
        if (text)
            ik_conn_send(d, c, text, -1);
        else
            ik_conn_send_error(d, c, "internal", "out of memory");
        free(text);
        break;
    }
    case IK_REQ_SYNC_NOW: {
        char why[512];
        const char *code = "internal";
        char *text = ik_syncer_request(d, req->source, &code, why, sizeof why);
        finish(d, c, (int)req->op, -1, text == NULL);
        if (text)
            ik_conn_send(d, c, text, -1);
        else
            ik_conn_send_error(d, c, code, why);
        free(text);
        break;
    }
    default: /* ping, status, capabilities */
        handle_status(d, c, (int)req->op);
        break;
    }
    if (in_fd >= 0)
        close(in_fd);
    ik_request_reset(req);
}

/* A committed write that is not visible in time: snapshot builds keep failing (a full disk,
 * no descriptors left). The write is in the store and shows once a retry succeeds, but the
 * reply must not claim it is visible: an error saying exactly that. */
static char *not_visible(struct ik_daemon *d, const struct ik_conn *c, const char *why)
{
    char msg[IK_ERROR_SIZE + 256];
    pthread_mutex_lock(&d->pub_mu);
    snprintf(msg, sizeof msg,
             "committed (generation %llu) but not yet visible: %s (snapshot build failing: %s); "
             "the daemon retries and queries show the write once a build succeeds",
             (unsigned long long)c->wait_gen, why,
             d->build_error[0] ? d->build_error : "not built yet");
    pthread_mutex_unlock(&d->pub_mu);
    atomic_fetch_add_explicit(&d->metrics.writes_not_visible, 1, memory_order_relaxed);
    return ik_reply_error("timeout", msg);
}

static void park(struct ik_daemon *d, struct ik_conn *c, struct ik_job *j)
{
    c->busy = true; /* parked: nothing else is read until the reply goes */
    c->wait_gen = j->generation;
    c->parked_reply = j->reply;
    c->t_parked = ik_now_ms();
    j->reply = NULL;
    c->next_parked = d->parked;
    d->parked = c;
}

void ik_handle_done(struct ik_daemon *d, struct ik_job *j)
{
    struct ik_conn *c = j->conn;
    c->busy = false;
    if (j->kind == IK_JOB_REPLY) {
        int method = j->req.transport == IK_TRANSPORT_JSON ? 3 : 1;
        finish(d, c, (int)j->req.op, method, j->close_conn);
        if (j->close_conn)
            c->closing = true;
    } else if (j->reply) {
        uint64_t published;
        pthread_mutex_lock(&d->pub_mu);
        published = d->published_gen;
        pthread_mutex_unlock(&d->pub_mu);
        if (j->generation > published) {
            park(d, c, j); /* even while builds fail: the builder retries */
        } else {
            finish(d, c, c->req_op, -1, strstr(j->reply, "\"ok\":false") != NULL);
            ik_conn_send(d, c, j->reply, -1);
        }
    }
    ik_job_free(j);
}

void ik_release_parked(struct ik_daemon *d, bool give_up)
{
    struct ik_conn **pp = &d->parked;
    double now = ik_now_ms(), limit = d->cfg.visible_timeout_s * 1e3;
    uint64_t published;
    bool failed;
    pthread_mutex_lock(&d->pub_mu);
    published = d->published_gen;
    failed = d->build_failed;
    pthread_mutex_unlock(&d->pub_mu);
    while (*pp) {
        struct ik_conn *c = *pp;
        bool late = failed && now - c->t_parked > limit;
        if (c->wait_gen <= published || late || give_up) {
            char *reply = c->parked_reply;
            if (c->wait_gen > published) {
                free(reply);
                reply = not_visible(d, c,
                                    give_up ? "the daemon is stopping"
                                            : "not published within daemon.visible_timeout");
                if (!reply)
                    c->closing = true;
            }
            *pp = c->next_parked;
            c->next_parked = NULL;
            c->parked_reply = NULL;
            c->busy = false;
            finish(d, c, c->req_op, -1, c->wait_gen > published);
            if (reply)
                ik_conn_send(d, c, reply, -1);
            free(reply);
            ik_conn_settle(d, c);
        } else {
            pp = &c->next_parked;
        }
    }
}
