/* What the WebSocket change feed sends (ws.c owns the sockets): the schema message first (Arrow
 * subscribers), a subscriber's catch-up from its `since` (a query of its own, queued a slice at
 * a time), and each new version's changes, read and encoded once for every subscriber at the
 * head. A frame is one Arrow IPC message (schema, dictionary batch or record batch: each slice
 * or version is its own small stream after the schema, so its dictionaries replace the ones
 * before, as the stream format allows) or one JSON change object (the `pin changes --format
 * jsonl` line). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"
#include "ws_internal.h"

/* ---- encoded messages ------------------------------------------------------------------- */

static int msgs_add(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct ik_ws_msgs *m = ctx;
    if (m->len + len > m->cap) {
        size_t c = m->cap ? m->cap : 4096;
        while (c < m->len + len)
            c *= 2;
        uint8_t *p = realloc(m->buf, c);
        if (!p)
            return ik_error_set(err, ENOMEM, "out of memory");
        m->buf = p;
        m->cap = c;
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    return 0;
}

/* Ends a message: [start, end) of m->buf (start matters for the first one only: each one
 * starts where the one before ended). */
static int msgs_cut(struct ik_ws_msgs *m, size_t start, size_t end, struct ik_error *err)
{
    if (m->n + 2 > m->cap_n) {
        size_t c = m->cap_n ? 2 * m->cap_n : 64;
        size_t *p = realloc(m->off, c * sizeof *p);
        if (!p)
            return ik_error_set(err, ENOMEM, "out of memory");
        m->off = p;
        m->cap_n = c;
    }
    if (m->n == 0)
        m->off[0] = start;
    m->off[++m->n] = end;
    return 0;
}

static int json_line(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct ik_ws_msgs *m = ctx;
    size_t start = m->len;
    int rc = msgs_add(m, data, len - 1, err); /* the frame is the line without its newline */
    return rc ? rc : msgs_cut(m, start, m->len, err);
}

void ik__ws_msgs_reset(struct ik_ws_msgs *m)
{
    free(m->buf);
    free(m->off);
    memset(m, 0, sizeof *m);
}

/* The messages of `batch`: one JSON object per row, or the IPC stream messages after the
 * schema (dictionaries, then the record batch). */
int ik__ws_encode(const struct ArrowSchema *schema, const struct ArrowArray *batch, bool json,
                  struct ik_ws_msgs *m, struct ik_error *err)
{
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    size_t at = 0, size;
    int rc;
    m->binary = !json;
    if (json)
        return ik_changes_json_write(schema, batch, json_line, m, err);
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    rc = ik_ipc_writer_create(schema, &o, msgs_add, m, &w, err);
    if (rc == 0) {
        at = m->len; /* the schema message ends here; it went first, once (ik__ws_schema) */
        rc = ik_ipc_writer_write(w, batch, err);
    }
    ik_ipc_writer_destroy(w);
    for (; rc == 0 && at < m->len; at += size)
        if ((rc = ik_ipc_message_size(m->buf + at, m->len - at, &size, err)) == 0)
            rc = msgs_cut(m, at, at + size, err);
    return rc;
}

int ik__ws_schema(struct ik_ws_hub *hub, struct ik_error *err)
{
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    int rc = ik_changes_schema("pin_index", &hub->schema, err);
    if (rc != 0)
        return rc;
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    rc = ik_ipc_writer_create(&hub->schema, &o, msgs_add, &hub->schema_msg, &w, err);
    ik_ipc_writer_destroy(w);
    hub->schema_msg.binary = true;
    return rc ? rc : msgs_cut(&hub->schema_msg, 0, hub->schema_msg.len, err);
}

/* ---- catching up ------------------------------------------------------------------------ */

void ik__ws_catchup_reset(struct ik_ws_sub *s)
{
    if (s->cbatch.release)
        s->cbatch.release(&s->cbatch);
    if (s->cschema.release)
        s->cschema.release(&s->cschema);
    memset(&s->cbatch, 0, sizeof s->cbatch);
    memset(&s->cschema, 0, sizeof s->cschema);
    s->catching = false;
    s->coff = 0;
}

void ik__ws_catchup_start(struct ik_ws_hub *hub, struct ik_ws_sub *s)
{
    struct ik_error err = {{0}};
    char reason[124];
    uint64_t newest = 0, oldest = 0, now = 0;
    int rc;
    ik__ws_catchup_reset(s);
    if (s->dead || s->closing)
        return;
    rc = ik_daemon_changes(hub->d, &hub->st, "pin_index", s->cursor, &s->cschema, &s->cbatch,
                           &newest, &err);
    if (rc == 0) {
        s->catching = true;
        s->cto = newest;
        return;
    }
    ik__ws_catchup_reset(s);
    if (rc == IK_EGONE) {
        ik_store_changes_range(hub->st, &oldest, &now, NULL);
        snprintf(reason, sizeof reason,
                 "since %llu is gone: the oldest version kept is %llu; re-read the table",
                 (unsigned long long)s->cursor, (unsigned long long)oldest);
        atomic_fetch_add_explicit(&hub->closed_gone, 1, memory_order_relaxed);
        ik__ws_close(s, 4410, reason);
    } else if (rc == EINVAL) {
        snprintf(reason, sizeof reason, "%.120s", err.message);
        ik__ws_close(s, 4400, reason);
    } else {
        snprintf(reason, sizeof reason, "store: %.110s", err.message);
        ik__ws_close(s, 1011, reason);
    }
}

static void noop_release(struct ArrowArray *a)
{
    a->release = NULL;
}

/* Queues rows [coff, coff + IK_WS_SLICE_ROWS) of the catch-up batch. */
static void queue_slice(struct ik_ws_sub *s)
{
    struct ik_error err = {{0}};
    struct ik_ws_msgs m = {0};
    struct ArrowArray view = s->cbatch;
    int64_t k = s->cbatch.length - s->coff;
    char reason[124];
    if (k > IK_WS_SLICE_ROWS)
        k = IK_WS_SLICE_ROWS;
    view.offset = s->cbatch.offset + s->coff;
    view.length = k;
    view.null_count = -1;
    view.release = noop_release;
    if (ik__ws_encode(&s->cschema, &view, s->json, &m, &err) != 0) {
        snprintf(reason, sizeof reason, "encoding: %.110s", err.message);
        ik__ws_close(s, 1011, reason);
    } else {
        ik__ws_queue(s, &m, false);
    }
    ik__ws_msgs_reset(&m);
    s->coff += k;
}

void ik__ws_catchup_step(struct ik_ws_hub *hub, struct ik_ws_sub *s)
{
    while (!s->dead && !s->closing) {
        if (s->catching) {
            if (s->coff >= s->cbatch.length) {
                s->cursor = s->cto;
                ik__ws_catchup_reset(s);
                continue;
            }
            if (wslay_event_get_queued_msg_length(s->ws) >= IK_WS_CATCHUP_LOW)
                return; /* the socket's EPOLLOUT brings it back */
            queue_slice(s);
        } else if (s->cursor < hub->head) {
            ik__ws_catchup_start(hub, s);
        } else {
            return;
        }
    }
}

/* ---- live ----------------------------------------------------------------------------- */

void ik__ws_live(struct ik_ws_hub *hub)
{
    struct ik_error err = {{0}};
    struct ArrowSchema schema = {0};
    struct ArrowArray batch = {0};
    struct ik_ws_msgs m[2] = {{0}, {0}}; /* [0] Arrow, [1] JSON: encoded when first needed */
    bool tried[2] = {false, false}, ok[2] = {false, false};
    uint64_t published, newest = 0, oldest = 0;
    double published_ms;
    bool queued = false;
    int rc;
    pthread_mutex_lock(&hub->d->pub_mu);
    published = hub->d->published_gen;
    published_ms = (double)atomic_load(&hub->d->pins_published_us) / 1000.0;
    pthread_mutex_unlock(&hub->d->pub_mu);
    if (published <= hub->head)
        return;
    rc =
        ik_daemon_changes(hub->d, &hub->st, "pin_index", hub->head, &schema, &batch, &newest, &err);
    if (rc == IK_EGONE) { /* the subscribers at the head catch up alone, and hear it is gone */
        if (ik_store_changes_range(hub->st, &oldest, &newest, NULL) == 0)
            hub->head = newest;
        return;
    }
    if (rc != 0)
        return; /* the next publish tries again */
    for (struct ik_ws_sub *s = hub->subs; s; s = s->next) {
        int f = s->json ? 1 : 0;
        if (s->dead || s->closing || s->catching || s->cursor != hub->head)
            continue;
        if (batch.length > 0) {
            if (!tried[f]) {
                tried[f] = true;
                ok[f] = ik__ws_encode(&schema, &batch, s->json, &m[f], &err) == 0;
            }
            if (!ok[f]) {
                ik__ws_close(s, 1011, "encoding failed");
                continue;
            }
            rc = ik__ws_queue(s, &m[f], true);
            if (rc == IK_WS_DEFERRED)
                continue; /* behind the head now: catches up alone, paced */
            queued = queued || rc == IK_WS_QUEUED;
        }
        s->cursor = newest;
    }
    hub->head = newest;
    if (queued && !hub->fan_pending) { /* ws.c times it until every frame is written */
        hub->fan_t0 = published_ms;
        hub->fan_pending = true;
    }
    ik__ws_msgs_reset(&m[0]);
    ik__ws_msgs_reset(&m[1]);
    batch.release(&batch);
    schema.release(&schema);
}
