/* The read RPCs of the Flight server. A flight is a query (docs/protocol.md's object: table,
 * columns, filter, offset, limit), named by a path descriptor (["pin_index"]: the whole table)
 * or a command descriptor (the query object as JSON). FlightInfo hands out one endpoint whose
 * ticket is that query plus the snapshot version it was planned on; the state of that version
 * is retained for a while, so DoGet redeems the ticket on the same rows. DoGet reads the
 * published state as the socket and HTTP paths do (slices of the mapped segments) and streams
 * it through lib/flight's encoder: schema, dictionaries, then batches of at most
 * flight.batch_rows rows whose bodies are slices of the mappings. */
#include <stdlib.h>
#include <string.h>

#include "flight_internal.h"
#include "flight/node_column.h"
#include "peers.h"
#include "ipfskit/client.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"

/* A query being answered: its stream of batches and where they come from. */
struct fsrc {
    struct ik_segset *set; /* file-backed tables: the state (a reference), else NULL */
    uint64_t version;
    struct ArrowArrayStream st;
    struct ArrowSchema schema;
    int64_t rows; /* result rows */
};

struct ik_fget {
    struct ik_flight *f;
    struct fsrc src;
    struct ik_flight_encoder *enc;
    struct ArrowArray cur; /* the batch being cut into messages */
    int64_t cur_off;
    int64_t referenced, copied; /* already added to the server's counters */
    bool done;                  /* the query's stream has ended */
    bool paused;                /* the pause after the first batch is taken */
    int pieces;                 /* messages of batches made so far */
};

static bool file_backed(const char *table)
{
    return strcmp(table, "pin_index") == 0 || strcmp(table, "vfs_stats") == 0;
}

static void src_reset(struct fsrc *s)
{
    if (s->st.release)
        s->st.release(&s->st);
    if (s->schema.release)
        s->schema.release(&s->schema);
    ik_segset_release(s->set);
    memset(s, 0, sizeof *s);
}

/* ---- retained states ------------------------------------------------------------------- */

/* Keeps `set` for tickets naming its version (a reference of the caller's is not taken). */
static void retain(struct ik_flight *f, const char *table, struct ik_segset *set)
{
    uint64_t v = ik_segset_version(set);
    double now = ik_now_ms();
    int slot = -1, oldest = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < IK_FLIGHT_RETAIN; i++) {
        struct ik_retained *r = &f->retained[i];
        if (r->set && now - r->t > IK_FLIGHT_RETAIN_MS) {
            ik_segset_release(r->set);
            r->set = NULL;
        }
        if (r->set && r->version == v && strcmp(r->table, table) == 0) {
            r->t = now;
            pthread_mutex_unlock(&f->mu);
            return;
        }
        if (!r->set && slot < 0)
            slot = i;
        if (r->set && r->t < f->retained[oldest].t)
            oldest = i;
    }
    if (slot < 0) {
        slot = oldest;
        ik_segset_release(f->retained[slot].set);
    }
    ik_segset_ref(set);
    f->retained[slot] = (struct ik_retained){.version = v, .set = set, .t = now};
    snprintf(f->retained[slot].table, sizeof f->retained[slot].table, "%s", table);
    pthread_mutex_unlock(&f->mu);
}

void ik__flight_retained_clear(struct ik_flight *f)
{
    for (int i = 0; i < IK_FLIGHT_RETAIN; i++) {
        ik_segset_release(f->retained[i].set);
        f->retained[i].set = NULL;
    }
}

/* The state of `table` at `version` (0: the newest), a reference; ENOENT naming why. */
static int state_at(struct ik_flight *f, const char *table, uint64_t version,
                    struct ik_segset **out, struct ik_error *err)
{
    struct ik_daemon *d = f->d;
    struct ik_published *p = strcmp(table, "pin_index") == 0 ? &d->pins : &d->vfs;
    uint64_t newest;
    *out = NULL;
    pthread_mutex_lock(&d->pub_mu);
    newest = p->set ? ik_segset_version(p->set) : 0;
    if (p->set && (version == 0 || version == newest)) {
        ik_segset_ref(p->set);
        *out = p->set;
    }
    pthread_mutex_unlock(&d->pub_mu);
    if (*out)
        return 0;
    if (version == 0)
        return ik_error_set(err, EAGAIN, "no snapshot of %s is published yet", table);
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < IK_FLIGHT_RETAIN && !*out; i++)
        if (f->retained[i].set && f->retained[i].version == version &&
            strcmp(f->retained[i].table, table) == 0) {
            ik_segset_ref(f->retained[i].set);
            *out = f->retained[i].set;
        }
    pthread_mutex_unlock(&f->mu);
    if (*out)
        return 0;
    return ik_error_set(err, ENOENT,
                        "ticket: version %llu of %s is no longer retained (the newest is %llu); "
                        "get a new FlightInfo",
                        (unsigned long long)version, table, (unsigned long long)newest);
}

/* Runs `q` (its CIDs made canonical) on the table's state at `version` (0: newest). */
static int src_open(struct ik_flight *f, struct ik_query *q, uint64_t version, struct fsrc *s,
                    struct ik_error *err)
{
    struct ik_query_cost cost;
    int rc;
    memset(s, 0, sizeof *s);
    if (ik_table_index(q->table) < 0)
        return ik_error_set(
            err, ENOENT, "no table '%s' (pin_index, vfs_stats, metrics, backend_health)", q->table);
    if (ik_query_has_other_cids(q) && (rc = ik_query_canonical_cids(q, err)) != 0)
        return rc;
    if (file_backed(q->table)) {
        if ((rc = state_at(f, q->table, version, &s->set, err)) != 0)
            return rc;
        s->version = ik_segset_version(s->set);
        rc = ik_segset_query(s->set, q, &s->st, &cost, err);
        if (rc == 0) {
            int64_t left = cost.matched - q->offset;
            left = left < 0 ? 0 : left;
            s->rows = q->limit >= 0 && q->limit < left ? q->limit : left;
        }
    } else {
        struct ArrowSchema ts = {0}, rs = {0};
        struct ArrowArray ta = {0}, ra = {0};
        rc = strcmp(q->table, "metrics") == 0 ? ik_metrics_build(f->d, &ts, &ta, err)
                                              : ik_health_build(f->d, &ts, &ta, err);
        if (rc == 0 && (rc = ik_query_check(q, &ts, err)) == 0 &&
            (rc = ik_query_apply(q, &ts, &ta, &rs, &ra, NULL, err)) == 0) {
            s->rows = ra.length;
            rc = ik_batch_stream(&rs, &ra, &s->st, err);
        }
        if (ta.release)
            ta.release(&ta);
        if (ts.release)
            ts.release(&ts);
    }
    if (rc == 0 && (rc = s->st.get_schema(&s->st, &s->schema)) != 0)
        ik_error_set(err, rc, "query schema");
    if (rc != 0)
        src_reset(s);
    return rc;
}

/* ---- replies ---------------------------------------------------------------------------- */

static void fail_with(struct ik_fcall *c, int rc, const struct ik_error *err)
{
    ik__fcall_fail(c, ik__flight_status_of(rc), "%s",
                   err->message[0] ? err->message : ik_strerror(rc));
}

/* The FlightInfo of `q` (packed into a byte buffer); retains the state its ticket names. */
static int flight_info(struct ik_fcall *c, struct ik_query *q,
                       Arrow__Flight__Protocol__FlightDescriptor *desc, grpc_byte_buffer **out,
                       struct ik_error *err)
{
    Arrow__Flight__Protocol__FlightInfo info = ARROW__FLIGHT__PROTOCOL__FLIGHT_INFO__INIT;
    Arrow__Flight__Protocol__FlightEndpoint ep = ARROW__FLIGHT__PROTOCOL__FLIGHT_ENDPOINT__INIT;
    Arrow__Flight__Protocol__Ticket t = ARROW__FLIGHT__PROTOCOL__TICKET__INIT;
    Arrow__Flight__Protocol__FlightEndpoint *eps[1] = {&ep};
    struct fsrc s;
    uint8_t *schema = NULL;
    size_t schema_len = 0;
    char *ticket = NULL;
    bool node = ik__flight_desc_wants_node(desc); /* peers.c: the node column */
    struct ArrowSchema ns = {0};
    int rc = src_open(c->f, q, 0, &s, err);
    if (rc != 0)
        return rc;
    if (node && (rc = ik_flight_node_schema(&s.schema, &ns, err)) != 0)
        goto cleanup;
    if ((rc = ik_flight_schema_bytes(node ? &ns : &s.schema, &schema, &schema_len, err)) != 0)
        goto cleanup;
    ticket = ik_flight_ticket(q, s.version);
    if (node)
        ticket = ik__flight_ticket_add_node(ticket);
    if (ticket == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto cleanup;
    }
    if (s.set)
        retain(c->f, q->table, s.set);
    t.ticket.data = (uint8_t *)ticket;
    t.ticket.len = strlen(ticket);
    ep.ticket = &t;
    info.schema.data = schema;
    info.schema.len = schema_len;
    info.flight_descriptor = desc;
    info.n_endpoint = 1;
    info.endpoint = eps;
    info.total_records = s.rows;
    info.total_bytes = -1;
    info.ordered = true;
    if ((*out = ik_flight_pack(&info.base)) == NULL)
        rc = ik_error_set(err, ENOMEM, "out of memory");
cleanup:
    if (ns.release)
        ns.release(&ns);
    free(ticket);
    free(schema);
    src_reset(&s);
    return rc;
}

static void list_flights(struct ik_fcall *c)
{
    struct ik_error err = {{0}};
    for (int i = 0; ik_table_names[i]; i++) {
        Arrow__Flight__Protocol__FlightDescriptor desc =
            ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__INIT;
        char *path[1] = {(char *)ik_table_names[i]};
        struct ik_query q;
        grpc_byte_buffer *bb = NULL;
        int rc;
        desc.type = ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__PATH;
        desc.n_path = 1;
        desc.path = path;
        ik_query_init(&q, ik_table_names[i]);
        rc = flight_info(c, &q, &desc, &bb, &err);
        ik_query_reset(&q);
        if (rc == EAGAIN)
            continue; /* nothing published yet: not listed */
        if (rc != 0 || ik__fcall_push(c, bb) != 0) {
            fail_with(c, rc ? rc : ENOMEM, &err);
            return;
        }
    }
}

int ik__flight_info_local(struct ik_fcall *c, grpc_byte_buffer *req, grpc_byte_buffer **out,
                          struct ik_error *err)
{
    Arrow__Flight__Protocol__FlightDescriptor *desc = NULL;
    struct ik_query q;
    uint8_t *bytes = NULL;
    size_t n = 0;
    int rc = ik_flight_bb_read(req, (size_t)c->f->d->cfg.flight.max_message_bytes, &bytes, &n, err);
    ik_query_init(&q, NULL);
    if (rc == 0)
        rc = ik_flight_query_from_descriptor(bytes, n, &q, err);
    if (rc == 0 &&
        (desc = arrow__flight__protocol__flight_descriptor__unpack(NULL, n, bytes)) == NULL)
        rc = ik_error_set(err, IK_EFORMAT, "request is not a valid FlightDescriptor message");
    if (rc == 0)
        rc = flight_info(c, &q, desc, out, err);
    ik_query_reset(&q);
    if (desc)
        arrow__flight__protocol__flight_descriptor__free_unpacked(desc, NULL);
    free(bytes);
    return rc;
}

static void get_info_or_schema(struct ik_fcall *c, grpc_byte_buffer *req)
{
    Arrow__Flight__Protocol__FlightDescriptor *desc = NULL;
    struct ik_error err = {{0}};
    struct ik_query q;
    uint8_t *bytes = NULL;
    size_t n = 0;
    int rc =
        ik_flight_bb_read(req, (size_t)c->f->d->cfg.flight.max_message_bytes, &bytes, &n, &err);
    ik_query_init(&q, NULL);
    if (rc == 0)
        rc = ik_flight_query_from_descriptor(bytes, n, &q, &err);
    if (rc == 0 && c->method == IK_FM_GET_FLIGHT_INFO) {
        grpc_byte_buffer *bb = NULL;
        desc = arrow__flight__protocol__flight_descriptor__unpack(NULL, n, bytes);
        rc = flight_info(c, &q, desc, &bb, &err);
        if (rc == 0 && ik__fcall_push(c, bb) != 0)
            rc = ik_error_set(&err, ENOMEM, "out of memory");
    } else if (rc == 0) {
        Arrow__Flight__Protocol__SchemaResult sr = ARROW__FLIGHT__PROTOCOL__SCHEMA_RESULT__INIT;
        struct fsrc s;
        if ((rc = src_open(c->f, &q, 0, &s, &err)) == 0) {
            desc = arrow__flight__protocol__flight_descriptor__unpack(NULL, n, bytes);
            if (ik__flight_desc_wants_node(desc)) /* peers.c: the node column */
                rc = ik__flight_stream_add_node(&s.st, &s.schema, c->f->d->cfg.node_name, &err);
            if (rc == 0)
                rc = ik_flight_schema_bytes(&s.schema, &sr.schema.data, &sr.schema.len, &err);
            if (rc == 0 && ik__fcall_push(c, ik_flight_pack(&sr.base)) != 0)
                rc = ik_error_set(&err, ENOMEM, "out of memory");
            free(sr.schema.data);
            src_reset(&s);
        }
    }
    if (rc != 0)
        fail_with(c, rc, &err);
    ik_query_reset(&q);
    if (desc)
        arrow__flight__protocol__flight_descriptor__free_unpacked(desc, NULL);
    free(bytes);
}

/* ---- DoGet -------------------------------------------------------------------------------- */

static void owner_ref(void *ctx)
{
    ik_segset_ref(ctx);
}

static void owner_unref(void *ctx)
{
    ik_segset_release(ctx);
}

static int fget_open(struct ik_fcall *c, grpc_byte_buffer *req, struct ik_error *err)
{
    struct ik_fget *g;
    struct ik_query q;
    struct ik_flight_range ranges[IK_SEG_MAX];
    size_t n_ranges = 0, n = 0;
    uint64_t version = 0;
    uint8_t *bytes = NULL;
    bool node = false;
    int rc = ik_flight_bb_read(req, (size_t)c->f->d->cfg.flight.max_message_bytes, &bytes, &n, err);
    ik_query_init(&q, NULL);
    if (rc == 0)
        rc = ik_flight_query_from_ticket(bytes, n, &q, &version, err);
    if (rc == 0)
        node = ik__flight_ticket_wants_node(bytes, n); /* peers.c */
    free(bytes);
    if (rc != 0) {
        ik_query_reset(&q);
        return rc;
    }
    if ((g = calloc(1, sizeof *g)) == NULL) {
        ik_query_reset(&q);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    g->f = c->f;
    c->get = g;
    rc = src_open(c->f, &q, version, &g->src, err);
    ik_query_reset(&q);
    if (rc == 0 && node)
        rc = ik__flight_stream_add_node(&g->src.st, &g->src.schema, c->f->d->cfg.node_name, err);
    if (rc != 0)
        return rc;
    for (int i = 0; g->src.set && i < ik_segset_count(g->src.set); i++) {
        size_t size = 0;
        const uint8_t *p = ik_snapshot_data(ik_segset_segment(g->src.set, i), &size);
        if (p)
            ranges[n_ranges++] = (struct ik_flight_range){p, size};
    }
    struct ik_flight_owner owner = {owner_ref, owner_unref, g->src.set};
    rc = ik_flight_encoder_create(&g->src.schema, ranges, n_ranges, n_ranges ? &owner : NULL,
                                  &g->enc, err);
    if (rc == 0 && c->f->pool)
        ik_flight_encoder_use_pool(g->enc, c->f->pool);
    return rc;
}

/* Rows [off, off + k) of the struct batch `b` as a batch that borrows b's columns: each child a
 * shallow copy of b's with its offset moved, nothing copied and no reference taken, so it is
 * valid while b is (the encoder is done with it when ik_flight_encoder_write returns; the bytes
 * it sends are referenced through the state's owner or copied). ik_query_apply would copy
 * every row of a batch that is not the library's own array (the segments' views are not). */
static void borrowed_child_release(struct ArrowArray *a)
{
    a->release = NULL; /* b's own release frees what the copy points to */
}

static void borrowed_release(struct ArrowArray *a)
{
    free(a->private_data);
    a->release = NULL;
}

static int borrow_rows(const struct ArrowArray *b, int64_t off, int64_t k, struct ArrowArray *out)
{
    static const void *no_buffers[1];
    int64_t n = b->n_children, i;
    struct ArrowArray *kids = malloc((size_t)(n ? n : 1) * (sizeof *kids + sizeof(void *)));
    struct ArrowArray **ptrs;
    if (kids == NULL)
        return ENOMEM;
    ptrs = (struct ArrowArray **)(void *)(kids + n); /* the pointers follow the children */
    for (i = 0; i < n; i++) {
        const struct ArrowArray *c = b->children[i];
        kids[i] = *c;
        kids[i].offset = c->offset + b->offset + off;
        kids[i].length = k;
        if (c->null_count != 0 && !(off == 0 && b->offset == 0 && k == c->length))
            kids[i].null_count = -1; /* not known for the slice */
        kids[i].release = borrowed_child_release;
        ptrs[i] = &kids[i];
    }
    memset(out, 0, sizeof *out);
    out->length = k;
    out->n_buffers = 1;
    out->buffers = no_buffers;
    out->n_children = n;
    out->children = n ? ptrs : NULL;
    out->private_data = kids;
    out->release = borrowed_release;
    return 0;
}

/* The next piece of the current batch: all of it, or flight.batch_rows rows as a slice. The
 * stream's first pieces are smaller (IK_FLIGHT_FIRST_ROWS, doubling), so the first batch comes
 * soon (not with batch_rows 0: each segment's batch whole, nothing cut). */
static int write_piece(struct ik_fget *g, struct ik_error *err)
{
    int64_t max = g->f->d->cfg.flight.batch_rows, left = g->cur.length - g->cur_off;
    int rc;
    if (max > 0 && g->pieces < 16 && (IK_FLIGHT_FIRST_ROWS << g->pieces) < max)
        max = IK_FLIGHT_FIRST_ROWS << g->pieces;
    g->pieces++;
    if (g->cur_off == 0 && (max == 0 || left <= max)) {
        g->cur_off = g->cur.length;
        return ik_flight_encoder_write(g->enc, &g->cur, err);
    }
    struct ArrowArray part = {0};
    if (borrow_rows(&g->cur, g->cur_off, left < max ? left : max, &part) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    g->cur_off += part.length;
    rc = ik_flight_encoder_write(g->enc, &part, err);
    part.release(&part);
    return rc;
}

bool ik__fget_more(struct ik_fcall *c)
{
    struct ik_fget *g = c->get;
    struct ik_error err = {{0}};
    int64_t referenced, copied;
    int rc = 0;
    if (g->done)
        return false;
    if (g->cur.release && g->cur_off >= g->cur.length)
        g->cur.release(&g->cur);
    if (!g->cur.release) {
        g->cur_off = 0;
        if ((rc = g->src.st.get_next(&g->src.st, &g->cur)) != 0) {
            const char *m = g->src.st.get_last_error(&g->src.st);
            ik_error_set(&err, rc, "%s", m ? m : "query");
        }
        g->done = rc == 0 && !g->cur.release;
    }
    if (rc == 0 && g->cur.release)
        rc = write_piece(g, &err);
    ik_flight_encoder_counts(g->enc, &referenced, &copied);
    atomic_fetch_add_explicit(&g->f->referenced, referenced - g->referenced, memory_order_relaxed);
    atomic_fetch_add_explicit(&g->f->copied, copied - g->copied, memory_order_relaxed);
    g->referenced = referenced;
    g->copied = copied;
    for (grpc_byte_buffer *bb; (bb = ik_flight_encoder_next(g->enc)) != NULL;)
        if (ik__fcall_push(c, bb) != 0 && rc == 0)
            rc = ik_error_set(&err, ENOMEM, "out of memory");
    if (rc != 0) {
        fail_with(c, rc, &err);
        return false;
    }
    return g->cur.release != NULL;
}

bool ik__fget_done(const struct ik_fget *g)
{
    return g->done;
}

bool ik__fget_pause_now(struct ik_fget *g)
{
    if (g->paused || g->pieces != 1 || !g->cur.release || g->cur_off >= g->cur.length)
        return false;
    g->paused = true;
    return true;
}

void ik__fget_free(struct ik_fget *g)
{
    if (g == NULL)
        return;
    if (g->cur.release)
        g->cur.release(&g->cur);
    ik_flight_encoder_destroy(g->enc);
    src_reset(&g->src);
    free(g);
}

void ik__flight_read(struct ik_fcall *c, grpc_byte_buffer *req)
{
    struct ik_error err = {{0}};
    int rc;
    switch (c->method) {
    case IK_FM_LIST_FLIGHTS:
        list_flights(c);
        break;
    case IK_FM_GET_FLIGHT_INFO:
    case IK_FM_GET_SCHEMA:
        if (c->method == IK_FM_GET_FLIGHT_INFO && ik__flight_peers_defer(c, req))
            return; /* peers.c asks the peers and resumes the call */
        get_info_or_schema(c, req);
        break;
    default:
        if ((rc = fget_open(c, req, &err)) != 0) {
            fail_with(c, rc, &err);
            ik__fget_free(c->get);
            c->get = NULL;
        } else {
            /* the schema message is queued by the encoder already */
            for (grpc_byte_buffer *bb; (bb = ik_flight_encoder_next(c->get->enc)) != NULL;)
                if (ik__fcall_push(c, bb) != 0)
                    fail_with(c, ENOMEM, &err);
        }
        break;
    }
    ik__fcall_resume(c);
}
