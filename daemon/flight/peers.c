/* Many daemons as one (peers.h, docs/distributed.md). GetFlightInfo on a daemon with peers runs
 * here, on a thread of its own so the completion queue threads never wait on another machine:
 * this daemon's FlightInfo is made as usual, every peer is asked for its own (the command with
 * "peers": false, so nobody asks further) at once with lib/flight's client, and the answer lists
 * every endpoint, unordered, with a peer's location where it gave none. A peer that does not
 * answer within peer_timeout_ms is listed in the FlightInfo's app_metadata, not dropped
 * silently. The `node` column (a command's "node": true) is lib/flight/node_column.c's. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "flight/client.h"
#include "flight/node_column.h"
#include "peers.h"

#define P(x) arrow__flight__protocol__##x

/* ---- the node column ---------------------------------------------------------------------- */

bool ik__flight_wants_node(const uint8_t *p, size_t n)
{
    json_t *o = p && n ? json_loadb((const char *)p, n, 0, NULL) : NULL;
    bool yes = json_is_object(o) && json_is_true(json_object_get(o, "node"));
    json_decref(o);
    return yes;
}

bool ik__flight_desc_wants_node(const Arrow__Flight__Protocol__FlightDescriptor *d)
{
    return d && d->type == ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__CMD &&
           ik__flight_wants_node(d->cmd.data, d->cmd.len);
}

bool ik__flight_ticket_wants_node(const uint8_t *p, size_t n)
{
    Arrow__Flight__Protocol__Ticket *t = arrow__flight__protocol__ticket__unpack(NULL, n, p);
    bool yes = t && ik__flight_wants_node(t->ticket.data, t->ticket.len);
    if (t)
        arrow__flight__protocol__ticket__free_unpacked(t, NULL);
    return yes;
}

char *ik__flight_ticket_add_node(char *ticket)
{
    json_t *o = ticket ? json_loads(ticket, 0, NULL) : NULL;
    char *out = NULL;
    if (json_is_object(o) && json_object_set_new(o, "node", json_true()) == 0)
        out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    free(ticket);
    return out;
}

int ik__flight_stream_add_node(struct ArrowArrayStream *st, struct ArrowSchema *schema,
                               const char *node, struct ik_error *err)
{
    struct ArrowArrayStream wrapped;
    int rc = ik_flight_add_node_column(st, node, &wrapped, err);
    if (rc != 0)
        return rc;
    ik_stream_move(&wrapped, st);
    if (schema->release)
        schema->release(schema);
    if ((rc = st->get_schema(st, schema)) != 0)
        return ik_error_set(err, rc, "node column: %s",
                            st->get_last_error(st) ? st->get_last_error(st) : "schema");
    return 0;
}

/* ---- asking the peers --------------------------------------------------------------------- */

struct ask {
    const struct ik_peer_conf *peer;
    const char *cmd, *token, *tls_roots;
    int timeout_ms;
    Arrow__Flight__Protocol__FlightInfo *info;       /* the peer's answer */
    Arrow__Flight__Protocol__Location loc, *locs[1]; /* the peer's, for endpoints without one */
    int rc;
    double ms;
    struct ik_error err;
};

static void *ask_main(void *arg)
{
    struct ask *a = arg;
    struct ik_flight_client *c = NULL;
    double t0 = ik_now_ms();
    a->rc = ik_flight_client_open(a->peer->location, a->token, a->tls_roots, 0, &c, &a->err);
    if (a->rc == 0)
        a->rc =
            ik_flight_client_get_info(c, a->cmd, strlen(a->cmd), a->timeout_ms, &a->info, &a->err);
    ik_flight_client_close(c);
    a->ms = ik_now_ms() - t0;
    return NULL;
}

/* The command the peers get: the request's query with "peers": false (a path descriptor
 * becomes the command of its table). NULL when the request asks for this daemon alone. */
static char *peer_command(const Arrow__Flight__Protocol__FlightDescriptor *d)
{
    json_t *o = NULL, *v;
    char *out = NULL;
    if (d->type == ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__CMD)
        o = json_loadb((const char *)d->cmd.data, d->cmd.len, 0, NULL);
    else if (d->type == ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__PATH &&
             d->n_path == 1)
        o = json_pack("{s:s}", "table", d->path[0]);
    if (!json_is_object(o) || ((v = json_object_get(o, "peers")) != NULL && json_is_false(v))) {
        json_decref(o);
        return NULL;
    }
    if (json_object_set_new(o, "peers", json_false()) == 0)
        out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return out;
}

/* app_metadata: {"node": this daemon's name, "peers": [{"location", "status": "ok" |
 * "unreachable", "endpoints", "records", "ms", "error"}], "unreachable": [{"location",
 * "error"}]} (docs/distributed.md). */
static char *app_metadata(const char *node, const struct ask *asks, size_t n)
{
    json_t *o = json_pack("{s:s,s:[],s:[]}", "node", node, "peers", "unreachable");
    char *out = NULL;
    for (size_t i = 0; o && i < n; i++) {
        const struct ask *a = &asks[i];
        json_t *p = json_pack("{s:s,s:s,s:f}", "location", a->peer->location, "status",
                              a->rc == 0 ? "ok" : "unreachable", "ms", a->ms);
        if (p && a->rc == 0) {
            json_object_set_new(p, "endpoints", json_integer((json_int_t)a->info->n_endpoint));
            json_object_set_new(p, "records", json_integer(a->info->total_records));
        } else if (p) {
            json_object_set_new(p, "error", json_string(a->err.message));
            json_array_append_new(
                json_object_get(o, "unreachable"),
                json_pack("{s:s,s:s}", "location", a->peer->location, "error", a->err.message));
        }
        json_array_append_new(json_object_get(o, "peers"), p);
    }
    if (o)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

/* Our FlightInfo with every answering peer's endpoints added; packed into *out. */
static int merge(const char *node, grpc_byte_buffer *local_bb, struct ask *asks, size_t n,
                 size_t max, grpc_byte_buffer **out, struct ik_error *err)
{
    Arrow__Flight__Protocol__FlightInfo *local = NULL, info;
    Arrow__Flight__Protocol__FlightEndpoint **eps = NULL;
    char *meta = NULL;
    size_t total = 0, k = 0;
    int rc = ik_flight_unpack(local_bb, &P(flight_info__descriptor), max,
                              (ProtobufCMessage **)&local, err);
    if (rc != 0)
        return rc;
    total = local->n_endpoint;
    for (size_t i = 0; i < n; i++)
        total += asks[i].rc == 0 ? asks[i].info->n_endpoint : 0;
    if ((eps = calloc(total ? total : 1, sizeof *eps)) == NULL ||
        (meta = app_metadata(node, asks, n)) == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto cleanup;
    }
    info = *local;
    for (size_t j = 0; j < local->n_endpoint; j++)
        eps[k++] = local->endpoint[j];
    for (size_t i = 0; i < n; i++) {
        struct ask *a = &asks[i];
        if (a->rc != 0)
            continue;
        if (info.total_records >= 0)
            info.total_records =
                a->info->total_records >= 0 ? info.total_records + a->info->total_records : -1;
        if (info.total_bytes >= 0)
            info.total_bytes =
                a->info->total_bytes >= 0 ? info.total_bytes + a->info->total_bytes : -1;
        arrow__flight__protocol__location__init(&a->loc);
        a->loc.uri = (char *)a->peer->location;
        a->locs[0] = &a->loc;
        for (size_t j = 0; j < a->info->n_endpoint; j++) {
            Arrow__Flight__Protocol__FlightEndpoint *e = a->info->endpoint[j];
            if (e->n_location == 0) { /* "here", said by the peer: the peer's location */
                e->n_location = 1;
                e->location = a->locs;
            }
            eps[k++] = e;
        }
    }
    info.n_endpoint = k;
    info.endpoint = eps;
    info.ordered = false; /* read them in parallel, in any order */
    info.app_metadata.data = (uint8_t *)meta;
    info.app_metadata.len = strlen(meta);
    if ((*out = ik_flight_pack(&info.base)) == NULL)
        rc = ik_error_set(err, ENOMEM, "out of memory");
cleanup:
    for (size_t i = 0; i < n; i++) /* the borrowed locations go back before the frees */
        for (size_t j = 0; asks[i].rc == 0 && j < asks[i].info->n_endpoint; j++)
            if (asks[i].info->endpoint[j]->location == asks[i].locs) {
                asks[i].info->endpoint[j]->n_location = 0;
                asks[i].info->endpoint[j]->location = NULL;
            }
    free(meta);
    free(eps);
    protobuf_c_message_free_unpacked(&local->base, NULL);
    return rc;
}

/* ---- the call's own thread ---------------------------------------------------------------- */

static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t running_cv = PTHREAD_COND_INITIALIZER;
static int running; /* fan-outs under way; the server waits for them before it stops */

struct fan {
    struct ik_fcall *c;
    uint8_t *req;
    size_t req_len;
    char *cmd;
};

static void answer(struct fan *fn)
{
    struct ik_fcall *c = fn->c;
    struct ik_flight *f = c->f;
    const struct ik_config *cfg = &f->d->cfg;
    struct ask *asks = calloc(cfg->n_peers, sizeof *asks);
    pthread_t *th = calloc(cfg->n_peers, sizeof *th);
    bool *started = calloc(cfg->n_peers, sizeof *started);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)fn->req, fn->req_len);
    grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&s, 1), *local = NULL, *out = NULL;
    struct ik_error err = {{0}};
    int rc;
    grpc_slice_unref(s);
    if (!asks || !th || !started || !req) {
        rc = ik_error_set(&err, ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < cfg->n_peers; i++) {
        asks[i].peer = &cfg->peers[i];
        asks[i].cmd = fn->cmd;
        asks[i].token = cfg->http.read_token;
        asks[i].tls_roots = cfg->peer_tls_ca;
        asks[i].timeout_ms = cfg->peer_timeout_ms;
        started[i] = pthread_create(&th[i], NULL, ask_main, &asks[i]) == 0;
        if (!started[i])
            asks[i].rc = ik_error_set(&asks[i].err, EAGAIN, "cannot start a thread");
    }
    rc = ik__flight_info_local(c, req, &local, &err); /* meanwhile, our own */
    for (size_t i = 0; i < cfg->n_peers; i++)         /* each ends within its deadline */
        if (started[i])
            pthread_join(th[i], NULL);
    if (rc == 0)
        rc = merge(cfg->node_name, local, asks, cfg->n_peers, (size_t)cfg->flight.max_message_bytes,
                   &out, &err);
    if (rc == 0 && ik__fcall_push(c, out) != 0)
        rc = ik_error_set(&err, ENOMEM, "out of memory");
cleanup:
    if (rc != 0)
        ik__fcall_fail(c, ik__flight_status_of(rc), "%s",
                       err.message[0] ? err.message : "GetFlightInfo failed");
    for (size_t i = 0; asks && i < cfg->n_peers; i++)
        if (asks[i].info)
            protobuf_c_message_free_unpacked(&asks[i].info->base, NULL);
    if (local)
        grpc_byte_buffer_destroy(local);
    if (req)
        grpc_byte_buffer_destroy(req);
    free(asks);
    free(th);
    free(started);
    ik__fcall_resume(c);
}

static void *fan_main(void *arg)
{
    struct fan *fn = arg;
    answer(fn);
    free(fn->req);
    free(fn->cmd);
    free(fn);
    pthread_mutex_lock(&running_mu);
    if (--running == 0)
        pthread_cond_broadcast(&running_cv);
    pthread_mutex_unlock(&running_mu);
    return NULL;
}

bool ik__flight_peers_defer(struct ik_fcall *c, grpc_byte_buffer *req)
{
    const struct ik_config *cfg = &c->f->d->cfg;
    ProtobufCMessage *m = NULL;
    struct ik_error err = {{0}};
    struct fan *fn;
    pthread_attr_t attr;
    pthread_t th;
    char *cmd;
    bool ok;
    if (cfg->n_peers == 0 || atomic_load(&c->f->stopping) ||
        ik_flight_unpack(req, &P(flight_descriptor__descriptor),
                         (size_t)cfg->flight.max_message_bytes, &m, &err) != 0)
        return false; /* the usual path answers, errors included */
    cmd = peer_command((const Arrow__Flight__Protocol__FlightDescriptor *)m);
    protobuf_c_message_free_unpacked(m, NULL);
    if (cmd == NULL || (fn = calloc(1, sizeof *fn)) == NULL) {
        free(cmd);
        return false;
    }
    fn->c = c;
    fn->cmd = cmd;
    if (ik_flight_bb_read(req, (size_t)cfg->flight.max_message_bytes, &fn->req, &fn->req_len,
                          &err) != 0) {
        free(cmd);
        free(fn);
        return false;
    }
    pthread_mutex_lock(&running_mu);
    running++;
    pthread_mutex_unlock(&running_mu);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ok = pthread_create(&th, &attr, fan_main, fn) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        pthread_mutex_lock(&running_mu);
        running--;
        pthread_mutex_unlock(&running_mu);
        free(fn->req);
        free(cmd);
        free(fn);
    }
    return ok;
}

void ik__flight_peers_drain(void)
{
    pthread_mutex_lock(&running_mu);
    while (running > 0)
        pthread_cond_wait(&running_cv, &running_mu);
    pthread_mutex_unlock(&running_mu);
}
