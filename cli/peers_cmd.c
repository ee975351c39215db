/* Many daemons as one from the command line (docs/distributed.md): `pin list --all-peers`
 * reads this node's rows the usual way and every peer's (config.json "peers") over Arrow
 * Flight, all at once, and prints the union with a `node` column; `peers status` asks each
 * peer's health. Every wait has a deadline: a peer that does not answer within
 * peer_timeout_ms is reported by name, and the others are served. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/support/log.h>

#include "cli.h"
#include "flight/client.h"
#include "flight/node_column.h"
#include "ipfskit/config.h"

/* gRPC's own log lines stay out of the output: what went wrong is in our messages. */
static void quiet_grpc(gpr_log_func_args *args)
{
    (void)args;
}

/* One node's part of the answer. */
struct part {
    char name[300];                  /* the node name (here) or the peer's location */
    const struct ik_peer_conf *peer; /* NULL: this node */
    const char *cmd;                 /* the command sent to peers */
    const char *token, *tls_roots;   /* http.read_token, peer_tls_ca */
    int info_ms, get_ms;
    /* results */
    int rc;
    struct ik_error err;
    struct ArrowSchema schema;
    struct ArrowArray *batches;
    size_t n, cap, next;
    int64_t rows;
    double ms;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Drains `s` (released here) into the part; the schema is taken from the first stream. */
static int collect(struct ArrowArrayStream *s, struct part *p)
{
    struct ArrowArray b;
    int rc = 0;
    if (p->schema.release == NULL && (rc = s->get_schema(s, &p->schema)) != 0)
        ik_error_set(&p->err, rc, "%s", s->get_last_error(s) ? s->get_last_error(s) : "schema");
    while (rc == 0) {
        if ((rc = s->get_next(s, &b)) != 0) {
            ik_error_set(&p->err, rc, "%s",
                         s->get_last_error(s) ? s->get_last_error(s) : "reading a batch");
            break;
        }
        if (b.release == NULL)
            break;
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 16;
            struct ArrowArray *nb = realloc(p->batches, cap * sizeof *nb);
            if (nb == NULL) {
                b.release(&b);
                rc = ik_error_set(&p->err, ENOMEM, "out of memory");
                break;
            }
            p->batches = nb;
            p->cap = cap;
        }
        p->rows += b.length;
        ik_array_move(&b, &p->batches[p->n++]);
    }
    s->release(s);
    return rc;
}

static void part_reset(struct part *p)
{
    for (size_t i = p->next; i < p->n; i++)
        if (p->batches[i].release)
            p->batches[i].release(&p->batches[i]);
    free(p->batches);
    if (p->schema.release)
        p->schema.release(&p->schema);
}

/* A peer: GetFlightInfo of the command, then DoGet of each endpoint it lists (an endpoint
 * without a location is served by the peer asked). */
static void *peer_main(void *arg)
{
    struct part *p = arg;
    struct ik_flight_client *c = NULL;
    Arrow__Flight__Protocol__FlightInfo *info = NULL;
    double t0 = now_ms();
    int rc = ik_flight_client_open(p->peer->location, p->token, p->tls_roots, 0, &c, &p->err);
    if (rc == 0)
        rc = ik_flight_client_get_info(c, p->cmd, strlen(p->cmd), p->info_ms, &info, &p->err);
    for (size_t i = 0; rc == 0 && i < info->n_endpoint; i++) {
        const Arrow__Flight__Protocol__FlightEndpoint *e = info->endpoint[i];
        struct ik_flight_client *ec = c;
        struct ArrowArrayStream s;
        if (e->ticket == NULL) {
            rc = ik_error_set(&p->err, IK_EFORMAT, "FlightInfo: endpoint %zu has no ticket", i);
            break;
        }
        if (e->n_location > 0 && e->location[0]->uri && e->location[0]->uri[0] &&
            strcmp(e->location[0]->uri, p->peer->location) != 0 &&
            (rc = ik_flight_client_open(e->location[0]->uri, p->token, p->tls_roots, 0, &ec,
                                        &p->err)) != 0)
            break;
        rc = ik_flight_client_do_get(ec, e->ticket->ticket.data, e->ticket->ticket.len, p->get_ms,
                                     &s, &p->err);
        if (rc == 0)
            rc = collect(&s, p);
        if (ec != c)
            ik_flight_client_close(ec);
    }
    if (info)
        protobuf_c_message_free_unpacked(&info->base, NULL);
    ik_flight_client_close(c);
    p->rc = rc;
    p->ms = now_ms() - t0;
    return NULL;
}

/* Whether two schemas have the same fields (names and formats, dictionaries' too). */
static bool same_fields(const struct ArrowSchema *a, const struct ArrowSchema *b)
{
    if (a->n_children != b->n_children)
        return false;
    for (int64_t i = 0; i < a->n_children; i++) {
        const struct ArrowSchema *x = a->children[i], *y = b->children[i];
        if (strcmp(x->name ? x->name : "", y->name ? y->name : "") != 0 ||
            strcmp(x->format, y->format) != 0 ||
            (x->dictionary == NULL) != (y->dictionary == NULL) ||
            (x->dictionary && strcmp(x->dictionary->format, y->dictionary->format) != 0))
            return false;
    }
    return true;
}

/* ---- the union, as one stream for the printers ------------------------------------------- */

struct union_src {
    struct part *parts;
    size_t n, at;
    const struct ArrowSchema *schema;
};

static int union_schema(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    struct union_src *u = s->private_data;
    return ik_schema_copy(u->schema, out, NULL);
}

static int union_next(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    struct union_src *u = s->private_data;
    memset(out, 0, sizeof *out);
    for (; u->at < u->n; u->at++) {
        struct part *p = &u->parts[u->at];
        if (p->rc == 0 && p->next < p->n) {
            ik_array_move(&p->batches[p->next++], out);
            return 0;
        }
    }
    return 0;
}

static const char *union_error(struct ArrowArrayStream *s)
{
    (void)s;
    return NULL;
}

static void union_release(struct ArrowArrayStream *s)
{
    s->release = NULL;
}

/* ---- pin list --all-peers ----------------------------------------------------------------- */

/* The query for the peers: the query's JSON with "node": true and "peers": false (each peer
 * answers for itself: this command does the fan-out). */
static char *peer_command(const struct ik_query *q)
{
    char *text = ik_query_to_json(q), *out = NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    if (o && json_object_set_new(o, "node", json_true()) == 0 &&
        json_object_set_new(o, "peers", json_false()) == 0)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(text);
    return out;
}

/* This node's rows, the usual way (zero_copy, or a fallback), with the node column added. */
static void local_part(struct ik_cli_query_opts *o, struct ik_query *q, const char *node,
                       struct part *p, struct ik_result *r)
{
    struct ik_client *c = NULL;
    struct ArrowArrayStream s;
    double t0 = now_ms();
    p->rc = ik_client_open(&o->client, &c, &p->err);
    if (p->rc == 0) {
        p->rc = ik_client_query(c, q, r, &p->err);
        ik_client_close(c);
    }
    if (p->rc == 0 && (p->rc = ik_flight_add_node_column(&r->stream, node, &s, &p->err)) == 0)
        p->rc = collect(&s, p);
    p->ms = now_ms() - t0;
}

/* The summary line: rows, nodes that answered, how this node's rows came, and the time. */
static void summarise(const struct part *parts, size_t n, const struct ik_result *r,
                      const char *noun, double ms, char *out, size_t cap)
{
    int64_t rows = 0;
    size_t answered = 0;
    for (size_t i = 0; i < n; i++)
        if (parts[i].rc == 0) {
            rows += parts[i].rows;
            answered++;
        }
    if (parts[0].rc == 0)
        snprintf(out, cap,
                 "%lld %s from %zu of %zu nodes \xc2\xb7 %s: %s via %s, peers: Arrow Flight "
                 "\xc2\xb7 copied: %lld rows here, every peer row (decoded) \xc2\xb7 %.2f ms",
                 (long long)rows, noun, answered, n, parts[0].name, r->method_name, r->source,
                 (long long)(r->copied_rows > 0 ? r->copied_rows : 0), ms);
    else
        snprintf(out, cap,
                 "%lld %s from %zu of %zu nodes \xc2\xb7 peers: Arrow Flight \xc2\xb7 copied: "
                 "every row (decoded) \xc2\xb7 %.2f ms",
                 (long long)rows, noun, answered, n, ms);
}

int ik_cli_run_all_peers(struct ik_cli_query_opts *o, struct ik_query *q, const char *noun)
{
    struct ik_config conf;
    struct ik_error err = {{0}};
    char dir[4096], summary[512];
    struct part *parts = NULL;
    pthread_t *threads = NULL;
    bool *started = NULL;
    struct ik_result r;
    struct union_src u = {0};
    struct ArrowArrayStream us = {0};
    char *cmd = NULL;
    size_t n = 0, answered = 0;
    double t0 = now_ms();
    int rc;
    ik_result_init(&r);
    ik_config_init(&conf);
    gpr_set_log_function(quiet_grpc);
    if ((rc = ik_data_dir(dir, sizeof dir, &err)) != 0 ||
        (rc = ik_config_load(dir, &conf, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        rc = rc == ENOENT ? IK_EXIT_NOINPUT : IK_EXIT_CONFIG;
        goto cleanup;
    }
    n = conf.n_peers + 1;
    if ((parts = calloc(n, sizeof *parts)) == NULL ||
        (threads = calloc(n, sizeof *threads)) == NULL ||
        (started = calloc(n, sizeof *started)) == NULL || (cmd = peer_command(q)) == NULL) {
        ik_cli_errorf("out of memory");
        rc = IK_EXIT_SOFTWARE;
        goto cleanup;
    }
    snprintf(parts[0].name, sizeof parts[0].name, "%s", conf.node_name);
    for (size_t i = 1; i < n; i++) {
        struct part *p = &parts[i];
        p->peer = &conf.peers[i - 1];
        snprintf(p->name, sizeof p->name, "%s", p->peer->location);
        p->cmd = cmd;
        p->token = conf.http.read_token;
        p->tls_roots = conf.peer_tls_ca;
        p->info_ms = conf.peer_timeout_ms;
        p->get_ms = o->client.timeout_ms > 0 ? o->client.timeout_ms : conf.timeout_s * 1000;
        started[i] = pthread_create(&threads[i], NULL, peer_main, p) == 0;
        if (!started[i])
            p->rc = ik_error_set(&p->err, EAGAIN, "cannot start a thread");
    }
    local_part(o, q, conf.node_name, &parts[0], &r);
    for (size_t i = 1; i < n; i++) /* each ends within its deadlines */
        if (started[i])
            pthread_join(threads[i], NULL);
    for (size_t i = 0; i < n; i++) {
        struct part *p = &parts[i];
        if (p->rc == 0 && u.schema && !same_fields(u.schema, &p->schema))
            p->rc = ik_error_set(&p->err, IK_EFORMAT,
                                 "its columns differ from %s's (another version of ipfs-kit, "
                                 "or not an ipfs-kit daemon?)",
                                 parts[0].name);
        if (p->rc == 0 && p->schema.release && u.schema == NULL)
            u.schema = &p->schema;
        if (p->rc == 0)
            answered++;
        else if (i == 0)
            fprintf(stderr, "%s: warning: %s (this node) not read: %s\n", ik_cli_prog, p->name,
                    p->err.message);
        else /* it answered, with something we cannot use: "not read" */
            fprintf(stderr, "%s: warning: peer %s %s: %s\n", ik_cli_prog, p->name,
                    p->rc == IK_EFORMAT ? "not read" : "not answering", p->err.message);
    }
    if (answered == 0 || u.schema == NULL) {
        ik_cli_errorf("no node answered (%zu tried)", n);
        rc = IK_EXIT_UNAVAILABLE;
        goto cleanup;
    }
    if (parts[0].rc == 0 && r.reason[0])
        fprintf(stderr, "%s: warning: %s; answered by the %s method\n", ik_cli_prog, r.reason,
                r.method_name);
    u.parts = parts;
    u.n = n;
    us.private_data = &u;
    us.get_schema = union_schema;
    us.get_next = union_next;
    us.get_last_error = union_error;
    us.release = union_release;
    rc = ik_cli_print_rows(o->format, &us, &err);
    if (rc != 0) {
        ik_cli_errorf("%s", err.message);
        rc = ik_cli_exit_code(rc);
        goto cleanup;
    }
    summarise(parts, n, &r, noun, now_ms() - t0, summary, sizeof summary);
    if (strcmp(o->format, "table") == 0)
        printf("%s\n", summary);
    else
        fprintf(stderr, "%s\n", summary);
    if (fflush(stdout) != 0) {
        ik_cli_errorf("writing to standard output failed");
        rc = IK_EXIT_IOERR;
        goto cleanup;
    }
    /* rows from every node that answered are out; a node that did not makes it partial */
    rc = answered == n ? IK_EXIT_OK : IK_EXIT_UNAVAILABLE;
cleanup:
    for (size_t i = 0; parts && i < n; i++)
        part_reset(&parts[i]);
    free(cmd);
    free(parts);
    free(threads);
    free(started);
    ik_result_reset(&r);
    ik_config_reset(&conf);
    return rc;
}

/* ---- peers status ------------------------------------------------------------------------- */

struct probe {
    const struct ik_peer_conf *peer;
    const char *token, *tls_roots; /* http.read_token, peer_tls_ca */
    int timeout_ms;
    bool reachable;
    double latency_ms;
    json_t *health; /* the health action's answer, or NULL */
    struct ik_error err;
};

/* Whether an error means the peer did answer (with an error status of its own). */
static bool answered_with_error(int rc)
{
    return rc == IK_EREMOTE || rc == IK_EFORMAT;
}

static void *probe_main(void *arg)
{
    struct probe *p = arg;
    struct ik_flight_client *c = NULL;
    uint8_t *body = NULL;
    size_t len = 0;
    double t0 = now_ms();
    int rc = ik_flight_client_open(p->peer->location, p->token, p->tls_roots, 0, &c, &p->err);
    if (rc == 0)
        rc = ik_flight_client_action(c, "health", NULL, 0, p->timeout_ms, &body, &len, &p->err);
    p->latency_ms = now_ms() - t0;
    p->reachable = rc == 0 || answered_with_error(rc);
    if (rc == 0) {
        json_error_t je;
        p->health = json_loadb((const char *)body, len, 0, &je);
        if (!json_is_object(p->health)) {
            json_decref(p->health);
            p->health = NULL;
            ik_error_set(&p->err, IK_EFORMAT, "health: not a JSON object");
        }
    }
    free(body);
    ik_flight_client_close(c);
    return NULL;
}

static json_t *probe_json(const struct probe *p)
{
    json_t *h = p->health, *o = json_object();
    json_t *v = h ? json_object_get(h, "version") : NULL;
    json_object_set_new(o, "location", json_string(p->peer->location));
    json_object_set_new(o, "reachable", json_boolean(p->reachable));
    json_object_set_new(o, "latency_ms", p->reachable ? json_real(p->latency_ms) : json_null());
    json_object_set_new(o, "node",
                        h && json_object_get(h, "node") ? json_deep_copy(json_object_get(h, "node"))
                                                        : json_null());
    json_object_set_new(o, "version", v ? json_deep_copy(v) : json_null());
    v = h ? json_object_get(h, "snapshot_version") : NULL;
    json_object_set_new(o, "snapshot_version", v ? json_deep_copy(v) : json_null());
    v = h ? json_object_get(h, "pins") : NULL;
    json_object_set_new(o, "pins", v ? json_deep_copy(v) : json_null());
    v = h ? json_object_get(h, "status") : NULL;
    json_object_set_new(o, "status",
                        v ? json_deep_copy(v) : json_string(p->reachable ? "unknown" : "down"));
    json_object_set_new(o, "last_error",
                        p->err.message[0] ? json_string(p->err.message) : json_null());
    return o;
}

/* A JSON value as table text ("-" for null). */
static void cell(json_t *v, char *out, size_t cap)
{
    if (v == NULL || json_is_null(v))
        snprintf(out, cap, "-");
    else if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.1f", json_real_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, cap, "%s", json_is_true(v) ? "yes" : "no");
}

static void print_table(json_t *rows)
{
    static const char *const cols[] = {"location", "reachable", "latency_ms", "node",
                                       "version",  "pins",      "status",     "last_error"};
    size_t i;
    json_t *row;
    printf("%-32s %-9s %10s %-16s %-8s %10s %-8s %s\n", "peer", "reachable", "latency_ms", "node",
           "version", "pins", "status", "last_error");
    json_array_foreach(rows, i, row)
    {
        char c[8][256];
        for (size_t k = 0; k < 8; k++)
            cell(json_object_get(row, cols[k]), c[k], sizeof c[k]);
        printf("%-32s %-9s %10s %-16s %-8s %10s %-8s %s\n", c[0], c[1], c[2], c[3], c[4], c[5],
               c[6], c[7]);
    }
}

static int cmd_status(int argc, char **argv)
{
    struct ik_config conf;
    struct ik_error err = {{0}};
    char dir[4096];
    const char *format = "table";
    struct probe *probes = NULL;
    pthread_t *threads = NULL;
    bool *started = NULL;
    json_t *rows = NULL;
    size_t up = 0;
    int timeout_ms = 0, rc;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--format") == 0 && v && (!strcmp(v, "table") || !strcmp(v, "json"))) {
            format = v;
            i++;
        } else if (strcmp(argv[i], "--timeout") == 0 && v) {
            if (ik_cli_parse_timeout(v, &timeout_ms) != 0)
                return IK_EXIT_USAGE;
            i++;
        } else {
            return ik_cli_usage_error("peers", "status");
        }
    }
    ik_config_init(&conf);
    gpr_set_log_function(quiet_grpc);
    if ((rc = ik_data_dir(dir, sizeof dir, &err)) != 0 ||
        (rc = ik_config_load(dir, &conf, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        ik_config_reset(&conf);
        return rc == ENOENT ? IK_EXIT_NOINPUT : IK_EXIT_CONFIG;
    }
    rc = IK_EXIT_SOFTWARE;
    if (conf.n_peers > 0 && ((probes = calloc(conf.n_peers, sizeof *probes)) == NULL ||
                             (threads = calloc(conf.n_peers, sizeof *threads)) == NULL ||
                             (started = calloc(conf.n_peers, sizeof *started)) == NULL))
        goto cleanup;
    for (size_t i = 0; i < conf.n_peers; i++) {
        probes[i].peer = &conf.peers[i];
        probes[i].token = conf.http.read_token;
        probes[i].tls_roots = conf.peer_tls_ca;
        probes[i].timeout_ms = timeout_ms > 0 ? timeout_ms : conf.peer_timeout_ms;
        started[i] = pthread_create(&threads[i], NULL, probe_main, &probes[i]) == 0;
        if (!started[i])
            ik_error_set(&probes[i].err, EAGAIN, "cannot start a thread");
    }
    if ((rows = json_array()) == NULL)
        goto cleanup;
    for (size_t i = 0; i < conf.n_peers; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        up += probes[i].reachable;
        json_array_append_new(rows, probe_json(&probes[i]));
    }
    if (strcmp(format, "json") == 0) {
        json_t *o = json_pack("{s:s,s:O}", "node", conf.node_name, "peers", rows);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
    } else {
        print_table(rows);
        printf("%zu of %zu peers reachable (this node: %s)\n", up, conf.n_peers, conf.node_name);
    }
    rc = fflush(stdout) != 0  ? IK_EXIT_IOERR
         : up == conf.n_peers ? IK_EXIT_OK
                              : IK_EXIT_UNAVAILABLE;
cleanup:
    if (rc == IK_EXIT_SOFTWARE)
        ik_cli_errorf("out of memory");
    for (size_t i = 0; probes && i < conf.n_peers; i++)
        json_decref(probes[i].health);
    json_decref(rows);
    free(probes);
    free(threads);
    free(started);
    ik_config_reset(&conf);
    return rc;
}

int ik_cli_peers(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    return ik_cli_usage_error("peers", "status");
}
