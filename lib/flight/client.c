/* The Flight client (client.h): one gRPC channel per location (TLS for grpc+tls, checked
 * against the roots file given), one completion queue per call, and a deadline on every call, so a
 * peer that is gone or stalls costs at most its timeout. gRPC statuses become our error codes here,
 * with the server's message kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "arrow/internal.h"
#include "flight/client.h"

#define METHOD(name) IK_FLIGHT_SERVICE name
#define DEFAULT_MAX ((size_t)1 << 30)
#define ROOTS_MAX (1 << 20)

struct ik_flight_client {
    atomic_int refs; /* the client and each live stream */
    grpc_channel *ch;
    grpc_metadata md[1];
    size_t n_md;
    size_t max;
};

/* One call and the queue its events arrive on. */
struct fcall {
    struct ik_flight_client *c;
    grpc_completion_queue *cq;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md_in, trail;
    grpc_status_code status;
    grpc_slice details;
    const char *what; /* the RPC's name, for messages */
    int tags;         /* events started and not yet taken */
};

/* ---- the client --------------------------------------------------------------------------- */

/* The PEM certificates in `path` (malloc'd, NUL-terminated). */
static int read_roots(const char *path, char **out, struct ik_error *err)
{
    struct ik_error e = {{0}};
    struct stat st;
    char *buf = NULL;
    int rc = 0, fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, &e);
    *out = NULL;
    if (fd < 0)
        return ik_error_set(err, errno ? errno : EIO, "TLS roots: %s", e.message);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > ROOTS_MAX) {
        rc = ik_error_set(err, EINVAL,
                          "TLS roots: %s is not a PEM file of certificates (a "
                          "regular file of 1 byte to 1 MiB)",
                          path);
        goto cleanup;
    }
    if ((rc = ik__read_all(fd, (size_t)st.st_size, &buf)) != 0) {
        rc = rc == ENOMEM
                 ? ik_error_set(err, ENOMEM, "out of memory")
                 : ik_error_set(err, rc == ENODATA ? EIO : rc, "TLS roots: cannot read %s", path);
        goto cleanup;
    }
    if (strlen(buf) != (size_t)st.st_size || !strstr(buf, "-----BEGIN CERTIFICATE-----"))
        rc = ik_error_set(err, EINVAL, "TLS roots: %s holds no PEM certificate", path);
cleanup:
    close(fd);
    if (rc != 0)
        free(buf);
    else
        *out = buf;
    return rc;
}

static grpc_channel_credentials *credentials(const struct ik_flight_location *loc,
                                             const char *roots)
{
    if (loc->scheme != IK_FLIGHT_TLS)
        return grpc_insecure_credentials_create();
    return grpc_ssl_credentials_create(roots, NULL, NULL, NULL);
}

int ik_flight_client_open(const char *location, const char *token, const char *tls_roots,
                          size_t max_message_bytes, struct ik_flight_client **out,
                          struct ik_error *err)
{
    char *roots = NULL;
    struct ik_flight_location loc;
    struct ik_flight_client *c;
    char target[400];
    grpc_arg args[2];
    grpc_channel_args ca = {2, args};
    grpc_channel_credentials *creds;
    int rc;
    *out = NULL;
    if ((rc = ik_flight_location_parse(location, &loc, err)) != 0)
        return rc;
    if (ik_flight_location_target(&loc, target, sizeof target) != 0)
        return ik_error_set(err, ENAMETOOLONG, "%s: location too long", location);
    if (loc.scheme == IK_FLIGHT_TLS && tls_roots && tls_roots[0] &&
        (rc = read_roots(tls_roots, &roots, err)) != 0)
        return rc;
    if ((c = calloc(1, sizeof *c)) == NULL) {
        free(roots);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    c->max = max_message_bytes ? max_message_bytes : DEFAULT_MAX;
    if (c->max > INT32_MAX)
        c->max = INT32_MAX;
    atomic_init(&c->refs, 1);
    grpc_init();
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)c->max;
    args[1].type = GRPC_ARG_INTEGER; /* a peer that was down is retried now, not after backoff */
    args[1].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[1].value.integer = 100;
    creds = credentials(&loc, roots);
    c->ch = grpc_channel_create(target, creds, &ca);
    grpc_channel_credentials_release(creds);
    free(roots);
    if (token && token[0]) {
        char *bearer = NULL;
        if (asprintf(&bearer, "Bearer %s", token) < 0) {
            ik_flight_client_close(c);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
        c->md[0].key = grpc_slice_from_static_string("authorization");
        c->md[0].value = grpc_slice_from_copied_string(bearer);
        c->n_md = 1;
        free(bearer);
    }
    *out = c;
    return 0;
}

static void client_unref(struct ik_flight_client *c)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    if (c->n_md)
        grpc_slice_unref(c->md[0].value);
    if (c->ch)
        grpc_channel_destroy(c->ch);
    free(c);
    grpc_shutdown();
}

void ik_flight_client_close(struct ik_flight_client *c)
{
    client_unref(c);
}

/* ---- one call ----------------------------------------------------------------------------- */

static gpr_timespec deadline_in(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(ms > 0 ? ms : 1, GPR_TIMESPAN));
}

static int call_start(struct fcall *k, struct ik_flight_client *c, const char *method,
                      const char *what, int timeout_ms, struct ik_error *err)
{
    memset(k, 0, sizeof *k);
    k->c = c;
    k->what = what;
    k->deadline = deadline_in(timeout_ms);
    grpc_metadata_array_init(&k->md_in);
    grpc_metadata_array_init(&k->trail);
    k->details = grpc_empty_slice();
    if ((k->cq = grpc_completion_queue_create_for_next(NULL)) == NULL)
        return ik_error_set(err, ENOMEM, "%s: out of memory", what);
    k->call =
        grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, k->cq,
                                 grpc_slice_from_static_string(method), NULL, k->deadline, NULL);
    if (k->call == NULL)
        return ik_error_set(err, ENOMEM, "%s: cannot create the call", what);
    return 0;
}

/* Starts a batch and waits for it. The call's deadline ends every wait: gRPC fails the call
 * then, and a queue that still gives nothing a second later has the call cancelled. */
static int call_batch(struct fcall *k, const grpc_op *ops, size_t n, bool *ok, struct ik_error *err)
{
    grpc_event ev;
    gpr_timespec limit = gpr_time_add(k->deadline, gpr_time_from_millis(1000, GPR_TIMESPAN));
    if (grpc_call_start_batch(k->call, ops, n, k, NULL) != GRPC_CALL_OK)
        return ik_error_set(err, EIO, "%s: gRPC refused the batch", k->what);
    k->tags++;
    ev = grpc_completion_queue_next(k->cq, limit, NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        grpc_call_cancel(k->call, NULL);
        ev = grpc_completion_queue_next(k->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    }
    if (ev.type != GRPC_OP_COMPLETE)
        return ik_error_set(err, EIO, "%s: the completion queue ended", k->what);
    k->tags--;
    *ok = ev.success != 0;
    return 0;
}

static int status_rc(grpc_status_code s)
{
    switch (s) {
    case GRPC_STATUS_OK:
        return 0;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return ETIMEDOUT;
    case GRPC_STATUS_UNAVAILABLE:
        return IK_EDAEMON;
    default:
        return IK_EREMOTE;
    }
}

static const char *status_name(grpc_status_code s)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "UNKNOWN";
}

/* Receives the status and turns it into 0 or an error naming it. */
static int call_status(struct fcall *k, struct ik_error *err)
{
    grpc_op op;
    bool ok;
    int rc;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &k->trail;
    op.data.recv_status_on_client.status = &k->status;
    op.data.recv_status_on_client.status_details = &k->details;
    if ((rc = call_batch(k, &op, 1, &ok, err)) != 0)
        return rc;
    if (k->status == GRPC_STATUS_OK)
        return 0;
    return ik_error_set(
        err, status_rc(k->status), "%s: %s: %.*s", k->what, status_name(k->status),
        (int)(GRPC_SLICE_LENGTH(k->details) > 300 ? 300 : GRPC_SLICE_LENGTH(k->details)),
        (const char *)GRPC_SLICE_START_PTR(k->details));
}

static void call_end(struct fcall *k)
{
    if (k->call) {
        if (k->tags) /* a batch still out (a failed wait): cancel, then take its event */
            grpc_call_cancel(k->call, NULL);
        while (k->tags-- > 0)
            grpc_completion_queue_next(k->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        grpc_call_unref(k->call);
    }
    if (k->cq) {
        grpc_completion_queue_shutdown(k->cq);
        while (grpc_completion_queue_next(k->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(k->cq);
    }
    grpc_metadata_array_destroy(&k->md_in);
    grpc_metadata_array_destroy(&k->trail);
    grpc_slice_unref(k->details);
    k->call = NULL;
    k->cq = NULL;
}

/* Sends the request message and closes the sending side; with `recv`, also waits for the first
 * reply message (NULL at once when the server sent none). */
static int call_send(struct fcall *k, grpc_byte_buffer *req, grpc_byte_buffer **recv,
                     struct ik_error *err)
{
    grpc_op ops[5];
    size_t n = 0;
    bool ok = false;
    int rc;
    memset(ops, 0, sizeof ops);
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].data.send_initial_metadata.count = k->c->n_md;
    ops[n++].data.send_initial_metadata.metadata = k->c->md;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = req;
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &k->md_in;
    if (recv) {
        *recv = NULL;
        ops[n].op = GRPC_OP_RECV_MESSAGE;
        ops[n++].data.recv_message.recv_message = recv;
    }
    if ((rc = call_batch(k, ops, n, &ok, err)) != 0)
        return rc;
    (void)ok; /* a failure shows in the status */
    return 0;
}

static int call_recv(struct fcall *k, grpc_byte_buffer **msg, struct ik_error *err)
{
    grpc_op op;
    bool ok;
    memset(&op, 0, sizeof op);
    *msg = NULL;
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = msg;
    return call_batch(k, &op, 1, &ok, err);
}

/* A unary call: one request, one reply (NULL when the call failed: the status says why). */
static int unary(struct ik_flight_client *c, const char *method, const char *what,
                 grpc_byte_buffer *req, int timeout_ms, grpc_byte_buffer **reply,
                 struct ik_error *err)
{
    struct fcall k;
    int rc = call_start(&k, c, method, what, timeout_ms, err);
    *reply = NULL;
    if (rc == 0)
        rc = call_send(&k, req, reply, err);
    if (rc == 0)
        rc = call_status(&k, err);
    if (rc == 0 && *reply == NULL)
        rc = ik_error_set(err, IK_EFORMAT, "%s: the server answered with no message", what);
    if (rc != 0 && *reply) {
        grpc_byte_buffer_destroy(*reply);
        *reply = NULL;
    }
    call_end(&k);
    return rc;
}

/* ---- GetFlightInfo, DoAction -------------------------------------------------------------- */

int ik_flight_client_get_info(struct ik_flight_client *c, const void *cmd, size_t cmd_len,
                              int timeout_ms, Arrow__Flight__Protocol__FlightInfo **out,
                              struct ik_error *err)
{
    Arrow__Flight__Protocol__FlightDescriptor d = ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__INIT;
    grpc_byte_buffer *req, *reply = NULL;
    ProtobufCMessage *m = NULL;
    int rc;
    *out = NULL;
    d.type = ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__CMD;
    d.cmd.data = (uint8_t *)cmd;
    d.cmd.len = cmd_len;
    if ((req = ik_flight_pack(&d.base)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    rc = unary(c, METHOD("GetFlightInfo"), "GetFlightInfo", req, timeout_ms, &reply, err);
    grpc_byte_buffer_destroy(req);
    if (rc == 0)
        rc = ik_flight_unpack(reply, &arrow__flight__protocol__flight_info__descriptor, c->max, &m,
                              err);
    if (reply)
        grpc_byte_buffer_destroy(reply);
    if (rc == 0)
        *out = (Arrow__Flight__Protocol__FlightInfo *)m;
    return rc;
}

int ik_flight_client_action(struct ik_flight_client *c, const char *type, const void *body,
                            size_t body_len, int timeout_ms, uint8_t **out, size_t *out_len,
                            struct ik_error *err)
{
    Arrow__Flight__Protocol__Action a = ARROW__FLIGHT__PROTOCOL__ACTION__INIT;
    Arrow__Flight__Protocol__Result *r = NULL;
    grpc_byte_buffer *req, *reply = NULL;
    struct fcall k;
    int rc;
    *out = NULL;
    *out_len = 0;
    a.type = (char *)type;
    a.body.data = (uint8_t *)body;
    a.body.len = body_len;
    if ((req = ik_flight_pack(&a.base)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    rc = call_start(&k, c, METHOD("DoAction"), "DoAction", timeout_ms, err);
    if (rc == 0)
        rc = call_send(&k, req, &reply, err);
    /* the results after the first are read and dropped, so the status can come */
    for (grpc_byte_buffer *more = NULL; rc == 0 && reply;) {
        if ((rc = call_recv(&k, &more, err)) != 0 || more == NULL)
            break;
        grpc_byte_buffer_destroy(more);
    }
    if (rc == 0)
        rc = call_status(&k, err);
    call_end(&k);
    grpc_byte_buffer_destroy(req);
    if (rc == 0 && reply)
        rc = ik_flight_unpack(reply, &arrow__flight__protocol__result__descriptor, c->max,
                              (ProtobufCMessage **)&r, err);
    if (rc == 0 && r) {
        if ((*out = malloc(r->body.len + 1)) == NULL) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
        } else {
            if (r->body.len)
                memcpy(*out, r->body.data, r->body.len);
            (*out)[r->body.len] = 0;
            *out_len = r->body.len;
        }
    }
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    if (reply)
        grpc_byte_buffer_destroy(reply);
    return rc;
}

/* ---- DoGet -------------------------------------------------------------------------------- */

struct get_stream {
    struct fcall k;
    struct ik_ipc_reader *reader;
    struct ArrowArray pending; /* a batch read with the schema, not yet given out */
    bool ended;                /* the server sent its last message and its status was OK */
    int rc;                    /* a failure, repeated by every later get_next */
    struct ik_error err;
};

/* Reads messages into the IPC reader until it gives a batch (0), the stream ends (IK_EOS), or
 * something fails. */
static int get_pump(struct get_stream *g, struct ArrowArray *out)
{
    for (;;) {
        grpc_byte_buffer *bb = NULL;
        struct ik_flight_data d;
        uint8_t *p = NULL;
        size_t n = 0;
        /* without `out`, up to the schema: the reader reads it when asked for a batch, and a
         * batch that comes with it waits in g->pending */
        int rc = ik_ipc_reader_next(g->reader, out ? out : &g->pending, &g->err);
        if (out == NULL && (rc == 0 || (rc == IK_EAGAIN && ik_ipc_reader_schema(g->reader))))
            return 0;
        if (rc != IK_EAGAIN)
            return rc;
        if (g->ended) {
            rc = ik_ipc_reader_finish(g->reader, &g->err);
            return rc != 0 ? rc : IK_EOS;
        }
        if ((rc = call_recv(&g->k, &bb, &g->err)) != 0)
            return rc;
        if (bb == NULL) { /* the server is done: its status says how it went */
            if ((rc = call_status(&g->k, &g->err)) != 0)
                return rc;
            g->ended = true;
            continue;
        }
        rc = ik_flight_bb_read(bb, g->k.c->max, &p, &n, &g->err);
        grpc_byte_buffer_destroy(bb);
        if (rc == 0 && (rc = ik_flight_data_parse(p, n, &d, &g->err)) == 0)
            rc = ik_flight_data_feed(g->reader, &d, &g->err);
        free(p);
        if (rc != 0)
            return rc;
    }
}

static int get_schema_cb(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    struct get_stream *g = s->private_data;
    const struct ArrowSchema *schema = ik_ipc_reader_schema(g->reader);
    if (schema == NULL)
        return EINVAL;
    return ik_schema_copy(schema, out, &g->err);
}

static int get_next_cb(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    struct get_stream *g = s->private_data;
    int rc;
    memset(out, 0, sizeof *out);
    if (g->rc != 0)
        return g->rc;
    if (g->pending.release) {
        ik_array_move(&g->pending, out);
        return 0;
    }
    rc = get_pump(g, out);
    if (rc == IK_EOS)
        return 0; /* out->release == NULL: the end */
    if (rc != 0)
        g->rc = rc == IK_EREMOTE || rc == IK_EDAEMON || rc == IK_EFORMAT ? EIO : rc;
    return g->rc;
}

static const char *get_error_cb(struct ArrowArrayStream *s)
{
    struct get_stream *g = s->private_data;
    return g->err.message[0] ? g->err.message : NULL;
}

static void get_release_cb(struct ArrowArrayStream *s)
{
    struct get_stream *g = s->private_data;
    struct ik_flight_client *c = g->k.c;
    call_end(&g->k);
    if (g->pending.release)
        g->pending.release(&g->pending);
    ik_ipc_reader_destroy(g->reader);
    free(g);
    client_unref(c);
    s->release = NULL;
}

int ik_flight_client_do_get(struct ik_flight_client *c, const void *ticket, size_t ticket_len,
                            int timeout_ms, struct ArrowArrayStream *out, struct ik_error *err)
{
    Arrow__Flight__Protocol__Ticket t = ARROW__FLIGHT__PROTOCOL__TICKET__INIT;
    struct ik_read_options ro;
    struct get_stream *g;
    grpc_byte_buffer *req;
    int rc;
    memset(out, 0, sizeof *out);
    if ((g = calloc(1, sizeof *g)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    atomic_fetch_add(&c->refs, 1);
    t.ticket.data = (uint8_t *)ticket;
    t.ticket.len = ticket_len;
    ik_read_options_init(&ro);
    if ((req = ik_flight_pack(&t.base)) == NULL)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    else if ((rc = ik_ipc_reader_create(&ro, &g->reader, err)) == 0 &&
             (rc = call_start(&g->k, c, METHOD("DoGet"), "DoGet", timeout_ms, err)) == 0 &&
             (rc = call_send(&g->k, req, NULL, err)) == 0) {
        rc = get_pump(g, NULL); /* up to the schema */
        if (rc == IK_EOS)
            rc = ik_error_set(&g->err, IK_EFORMAT, "DoGet: the stream ended without a schema");
        if (rc != 0)
            *err = g->err;
    }
    if (req)
        grpc_byte_buffer_destroy(req);
    out->private_data = g;
    out->get_schema = get_schema_cb;
    out->get_next = get_next_cb;
    out->get_last_error = get_error_cb;
    out->release = get_release_cb;
    if (rc != 0)
        get_release_cb(out);
    return rc;
}
