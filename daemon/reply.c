/* Reply workers: answer queries whose reply carries the rows — an Arrow IPC stream (the
 * `ipc_stream` method, optionally LZ4/ZSTD compressed) or JSON lines (`traditional`) — as a
 * header frame, data frames and a zero-length end frame. The socket is written with a
 * deadline for the whole reply (daemon.send_timeout) and a 10 s bound on a stall: a client that
 * reads slowly or not at all loses its connection, and frees its worker for the others. */
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "daemon.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"

#define FRAME_CAP (1u << 20)

struct sender {
    struct ik_daemon *d;
    int fd;
    uint8_t *buf; /* 4 header bytes + payload */
    size_t len;   /* payload bytes */
    int64_t sent;
    double deadline; /* the whole reply is sent by then (daemon.send_timeout), monotonic ms */
};

/* Sends the iovecs whole (advanced in place), waiting for room until the reply's deadline. */
static int send_iov(struct sender *s, struct iovec *iov, int cnt, struct ik_error *err)
{
    while (cnt > 0) {
        struct pollfd pfd = {s->fd, POLLOUT, 0};
        struct msghdr m = {0};
        double left = s->deadline - ik_now_ms();
        ssize_t w;
        if (iov->iov_len == 0) {
            iov++;
            cnt--;
            continue;
        }
        m.msg_iov = iov;
        m.msg_iovlen = (size_t)cnt;
        w = sendmsg(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            size_t k = (size_t)w;
            s->sent += w;
            while (cnt > 0 && k >= iov->iov_len) {
                k -= iov->iov_len;
                iov++;
                cnt--;
            }
            if (cnt > 0) {
                iov->iov_base = (uint8_t *)iov->iov_base + k;
                iov->iov_len -= k;
            }
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return ik_error_set(err, errno, "send: %s", strerror(errno));
        if (left <= 0)
            return ik_error_set(err, ETIMEDOUT,
                                "reply not sent within daemon.send_timeout (%d s): client reads "
                                "too slowly",
                                s->d->cfg.send_timeout_s);
        if (poll(&pfd, 1,
                 left < IK_DAEMON_SEND_TIMEOUT_MS ? (int)left + 1 : IK_DAEMON_SEND_TIMEOUT_MS) <=
                0 &&
            ik_now_ms() < s->deadline)
            return ik_error_set(err, ETIMEDOUT, "client stopped reading");
        if (atomic_load(&s->d->stop))
            return ik_error_set(err, ECANCELED, "daemon stopping");
    }
    return 0;
}

static int send_all(struct sender *s, const uint8_t *p, size_t n, struct ik_error *err)
{
    struct iovec iov = {(void *)(uintptr_t)p, n};
    return send_iov(s, &iov, 1, err);
}

static int flush_frame(struct sender *s, struct ik_error *err)
{
    ik_frame_put_header(s->buf, (uint32_t)s->len);
    int rc = send_all(s, s->buf, s->len + 4, err);
    s->len = 0;
    return rc;
}

/* Writer output at least this long goes out from where it is (a column's buffer: the batch's
 * own memory), closing the frame gathered so far, instead of being copied into it. */
#define DIRECT_MIN (64u << 10)

/* ik_write_fn: gathers writer output into frames of up to FRAME_CAP bytes. */
static int frame_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct sender *s = ctx;
    const uint8_t *p = data;
    while (len >= DIRECT_MIN) { /* the frame: what is gathered, then this piece, by sendmsg */
        size_t k = FRAME_CAP - s->len < len ? FRAME_CAP - s->len : len;
        struct iovec iov[2] = {{s->buf, s->len + 4}, {(void *)(uintptr_t)p, k}};
        int rc;
        ik_frame_put_header(s->buf, (uint32_t)(s->len + k));
        rc = send_iov(s, iov, 2, err);
        s->len = 0;
        if (rc)
            return rc;
        p += k;
        len -= k;
    }
    while (len > 0) {
        size_t k = FRAME_CAP - s->len < len ? FRAME_CAP - s->len : len;
        memcpy(s->buf + 4 + s->len, p, k);
        s->len += k;
        p += k;
        len -= k;
        if (s->len == FRAME_CAP) {
            int rc = flush_frame(s, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static const char *compression_name(int c)
{
    return c == IK_COMPRESSION_LZ4 ? "lz4" : c == IK_COMPRESSION_ZSTD ? "zstd" : "none";
}

/* The result rows of the job's query as batches (*n of them, malloc'd array): from the
 * published state, or built now for small tables. */
static int result_batches(struct ik_daemon *d, struct ik_job *j, struct ArrowSchema *schema,
                          struct ArrowArray **batches, int64_t *n, int64_t *matched,
                          int64_t *table_rows, struct ik_error *err)
{
    const char *table = j->req.query.table;
    struct ArrowSchema s = {0};
    struct ArrowArray a = {0};
    int rc;
    *n = 0;
    if (j->snap.set) {
        struct ArrowArrayStream st = {0};
        struct ik_query_cost cost;
        int64_t cap = 0;
        *table_rows = ik_segset_rows(j->snap.set);
        if ((rc = ik_segset_query(j->snap.set, &j->req.query, &st, &cost, err)) != 0)
            return rc;
        *matched = cost.matched;
        rc = st.get_schema(&st, schema);
        while (rc == 0) {
            if (*n == cap) {
                struct ArrowArray *nb =
                    realloc(*batches, (size_t)(cap = cap ? cap * 2 : 4) * sizeof *nb);
                if (nb == NULL) {
                    rc = ik_error_set(err, ENOMEM, "out of memory");
                    break;
                }
                *batches = nb;
            }
            if ((rc = st.get_next(&st, &(*batches)[*n])) != 0 || (*batches)[*n].release == NULL)
                break;
            (*n)++;
        }
        st.release(&st);
        return rc;
    }
    rc = strcmp(table, "metrics") == 0 ? ik_metrics_build(d, &s, &a, err)
                                       : ik_health_build(d, &s, &a, err);
    if (rc != 0)
        return rc;
    *table_rows = a.length;
    if ((*batches = calloc(1, sizeof **batches)) == NULL)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    else if ((rc = ik_query_apply(&j->req.query, &s, &a, schema, *batches, matched, err)) == 0)
        *n = 1;
    a.release(&a);
    s.release(&s);
    return rc;
}

/* The changes of the job's table since its version: from the change tail, or read from the
 * store on the worker's own read-only connection (opened on first use, kept for the worker's
 * life). The reply's version is the newest the batch covers. */
static int changes_batch(struct ik_daemon *d, struct ik_job *j, struct ik_store **ro,
                         struct ArrowSchema *schema, struct ArrowArray *batch, struct ik_error *err)
{
    uint64_t newest = 0;
    int rc =
        ik_daemon_changes(d, ro, j->req.query.table, j->req.since, schema, batch, &newest, err);
    j->snap.version = newest;
    return rc;
}

static int send_header(struct sender *s, struct ik_job *j, int64_t rows, int64_t matched,
                       int64_t table_rows, struct ik_error *err)
{
    bool json = j->req.transport == IK_TRANSPORT_JSON;
    json_t *h = json_pack(
        "{s:b,s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "ok", 1, "method", json ? "traditional" : "ipc_stream",
        "source", json ? "traditional_json_fallback" : "arrow_ipc_daemon", "table",
        j->req.query.table, "version", (json_int_t)j->snap.version, "rows", (json_int_t)rows,
        "matched", (json_int_t)matched, "table_rows", (json_int_t)table_rows);
    char *text;
    int rc;
    if (!h)
        return ik_error_set(err, ENOMEM, "out of memory");
    json_object_set_new(h, "transport", json_string(json ? "json" : "stream"));
    if (j->req.op == IK_REQ_CHANGES)
        json_object_set_new(h, "since", json_integer((json_int_t)j->req.since));
    if (!json)
        json_object_set_new(h, "compression", json_string(compression_name(j->req.compression)));
    text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    if (!text)
        return ik_error_set(err, ENOMEM, "out of memory");
    rc = frame_write(s, text, strlen(text), err);
    free(text);
    return rc ? rc : flush_frame(s, err);
}

static int encode(struct sender *s, struct ik_job *j, const struct ArrowSchema *schema,
                  const struct ArrowArray *batches, int64_t n, struct ik_error *err)
{
    int rc = 0;
    int64_t i;
    if (j->req.transport == IK_TRANSPORT_JSON) {
        for (i = 0; i < n && rc == 0; i++)
            rc = ik_json_rows_write(schema, &batches[i], frame_write, s, err);
    } else {
        struct ik_write_options o;
        struct ik_ipc_writer *w = NULL;
        ik_write_options_init(&o);
        o.format = IK_IPC_STREAM;
        o.compression = (enum ik_compression)j->req.compression;
        rc = ik_ipc_writer_create(schema, &o, frame_write, s, &w, err);
        for (i = 0; i < n && rc == 0; i++)
            rc = ik_ipc_writer_write(w, &batches[i], err);
        if (rc == 0)
            rc = ik_ipc_writer_finish(w, err);
        ik_ipc_writer_destroy(w);
    }
    if (rc == 0 && s->len > 0)
        rc = flush_frame(s, err);
    if (rc == 0)
        rc = flush_frame(s, err); /* the zero-length end frame */
    return rc;
}

static void reply_job(struct ik_daemon *d, struct ik_job *j, uint8_t *buf, struct ik_store **ro)
{
    struct sender s = {d, j->conn->fd, buf, 0, 0, ik_now_ms() + d->cfg.send_timeout_s * 1e3};
    struct ik_error err = {{0}};
    struct ArrowSchema schema = {0};
    struct ArrowArray *batches = NULL;
    struct ik_conn *c = j->conn;
    int64_t matched = 0, table_rows = 0, n = 0, rows = 0, i;
    int rc;
    /* Replies queued before this one go first, in order. */
    if (c->out_len > c->out_off) {
        rc = send_all(&s, c->out + c->out_off, c->out_len - c->out_off, &err);
        c->out_off = c->out_len = 0;
        if (rc != 0) {
            j->close_conn = true;
            return;
        }
    }
    if (j->req.op == IK_REQ_CHANGES) {
        if ((batches = calloc(1, sizeof *batches)) == NULL) {
            rc = ik_error_set(&err, ENOMEM, "out of memory");
        } else {
            rc = changes_batch(d, j, ro, &schema, &batches[0], &err);
            n = rc == 0 ? 1 : 0;
            matched = table_rows = rc == 0 ? batches[0].length : 0;
        }
    } else {
        rc = result_batches(d, j, &schema, &batches, &n, &matched, &table_rows, &err);
    }
    if (rc != 0) {
        for (i = 0; i < n; i++)
            batches[i].release(&batches[i]);
        free(batches);
        if (schema.release)
            schema.release(&schema);
        char *e = ik_reply_error(ik_reply_code(rc), err.message);
        if (!e || frame_write(&s, e, strlen(e), &err) || flush_frame(&s, &err))
            j->close_conn = true;
        free(e);
        atomic_fetch_add_explicit(&d->metrics.errors, 1, memory_order_relaxed);
        return;
    }
    for (i = 0; i < n; i++)
        rows += batches[i].length;
    rc = send_header(&s, j, rows, matched, table_rows, &err);
    if (rc == 0)
        rc = encode(&s, j, &schema, batches, n, &err);
    if (rc != 0) {
        /* Mid-stream failure: the client sees the connection close before the end frame. */
        j->close_conn = true;
        atomic_fetch_add_explicit(&d->metrics.errors, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&d->metrics.bytes_served, s.sent, memory_order_relaxed);
    for (i = 0; i < n; i++)
        batches[i].release(&batches[i]);
    free(batches);
    schema.release(&schema);
}

void *ik_reply_worker_main(void *arg)
{
    struct ik_daemon *d = arg;
    uint8_t *buf = malloc(FRAME_CAP + 4);
    struct ik_store *ro = NULL; /* for "changes" */
    struct ik_job *j;
    ik_sched_thread(d, "ik-reply", IK_THREAD_NORMAL);
    while ((j = ik_queue_pop(&d->replies, &d->stop)) != NULL) {
        if (buf)
            reply_job(d, j, buf, &ro);
        else
            j->close_conn = true;
        ik_job_done(d, j);
    }
    ik_store_close(ro);
    free(buf);
    return NULL;
}
