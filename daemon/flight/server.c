/* The Flight server on gRPC's C core: listeners from config.json "flight.listen" (grpc+unix,
 * grpc+tcp, and grpc+tls with tls.c's credentials), one completion queue served by its own
 * threads, and each call as a small state machine: receive the request, let reads.c or
 * writes.c prepare messages (or hand the call to the worker thread when it must block), send
 * them one at a time (a slow client holds only its own call), then the status. A call's
 * "close" batch learns when the client went away. Tokens follow HTTP's rules (docs/http.md):
 * reads need http.read_token when it is set, writes always need the token in http.token; a
 * non-loopback location needs a read token. */
#include <errno.h>
#include <fcntl.h>
#include <grpc/grpc_security.h>
#include <grpc/support/log.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flight_internal.h"
#include "peers.h"
#include "../http/http.h"

enum { TAG_NEW, TAG_CLOSE, TAG_STEP };
enum { PH_RECV, PH_SEND, PH_STATUS, PH_WORK };

static const char *const method_names[IK_FM_COUNT] = {
    "Handshake", "ListFlights", "GetFlightInfo", "GetSchema",   "DoGet",
    "DoPut",     "DoExchange",  "DoAction",      "ListActions", "?"};

/* ---- calls ------------------------------------------------------------------------------- */

static void request_call(struct ik_flight *f);

static void call_free(struct ik_fcall *c)
{
    if (c->call)
        grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    free(c);
}

static void call_unref(struct ik_fcall *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        call_free(c);
}

/* The main chain is over (sent, failed or cancelled): let go of what it holds. */
static void chain_end(struct ik_fcall *c)
{
    struct ik_flight *f = c->f;
    for (size_t i = c->i_out; i < c->n_out; i++)
        grpc_byte_buffer_destroy(c->out[i]);
    free(c->out);
    c->out = NULL;
    c->n_out = c->i_out = 0;
    if (c->sending)
        grpc_byte_buffer_destroy(c->sending);
    if (c->recv)
        grpc_byte_buffer_destroy(c->recv);
    c->sending = c->recv = NULL;
    ik__fget_free(c->get);
    ik__fput_free(c->put);
    c->get = NULL;
    c->put = NULL;
    if (c->has_out_md) {
        grpc_slice_unref(c->out_md.key);
        grpc_slice_unref(c->out_md.value);
        c->has_out_md = false;
    }
    atomic_fetch_sub(&f->calls, 1);
    call_unref(c);
}

int ik__fcall_push(struct ik_fcall *c, grpc_byte_buffer *bb)
{
    if (bb == NULL)
        return ENOMEM;
    if (c->n_out == c->cap_out) {
        size_t n = c->cap_out ? 2 * c->cap_out : 8;
        grpc_byte_buffer **p = realloc(c->out, n * sizeof *p);
        if (p == NULL) {
            grpc_byte_buffer_destroy(bb);
            return ENOMEM;
        }
        c->out = p;
        c->cap_out = n;
    }
    c->out[c->n_out++] = bb;
    return 0;
}

grpc_status_code ik__fcall_fail(struct ik_fcall *c, grpc_status_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->status_msg, sizeof c->status_msg, fmt, ap);
    va_end(ap);
    c->status = code;
    c->status_set = true;
    return code;
}

grpc_status_code ik__flight_status_of(int rc)
{
    switch (rc) {
    case 0:
        return GRPC_STATUS_OK;
    case EINVAL:
    case IK_EFORMAT:
    case IK_EINVALID:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case ENOENT:
    case IK_EGONE:
        return GRPC_STATUS_NOT_FOUND;
    case IK_ELIMIT:
    case EMSGSIZE:
    case EFBIG:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case ENOTSUP:
        return GRPC_STATUS_UNIMPLEMENTED;
    case EAGAIN:
    case IK_ELOCKED:
    case IK_EDAEMON:
    case IK_EPROTO:
    case ETIMEDOUT:
        return GRPC_STATUS_UNAVAILABLE;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

static size_t initial_md(struct ik_fcall *c, grpc_op *op)
{
    if (c->sent_md)
        return 0;
    memset(op, 0, sizeof *op);
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op->data.send_initial_metadata.count = c->has_out_md ? 1 : 0;
    op->data.send_initial_metadata.metadata = c->has_out_md ? &c->out_md : NULL;
    c->sent_md = true;
    return 1;
}

static void start(struct ik_fcall *c, grpc_op *ops, size_t n)
{
    if (grpc_call_start_batch(c->call, ops, n, &c->t_step, NULL) != GRPC_CALL_OK)
        chain_end(c);
}

static void send_status(struct ik_fcall *c)
{
    grpc_op ops[2];
    grpc_slice details = grpc_empty_slice(); /* gRPC takes its own reference */
    size_t n;
    if (!c->status_set)
        c->status = GRPC_STATUS_OK;
    if (c->status != GRPC_STATUS_OK) {
        atomic_fetch_add_explicit(&c->f->errors, 1, memory_order_relaxed);
        details = grpc_slice_from_copied_string(c->status_msg);
    }
    n = initial_md(c, &ops[0]);
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = c->status;
    ops[n].data.send_status_from_server.status_details =
        c->status == GRPC_STATUS_OK ? NULL : &details;
    c->phase = PH_STATUS;
    start(c, ops, n + 1);
    grpc_slice_unref(details);
}

void ik__fcall_resume(struct ik_fcall *c)
{
    grpc_op ops[2];
    size_t n;
    while (c->i_out == c->n_out && c->get && !c->status_set) {
        if (atomic_load(&c->f->stopping) && !ik__fget_done(c->get)) {
            ik__fcall_fail(c, GRPC_STATUS_UNAVAILABLE, "the daemon is stopping");
            break;
        }
        if (!ik__fget_more(c))
            break;
    }
    if (c->i_out == c->n_out || (c->status_set && c->status != GRPC_STATUS_OK)) {
        send_status(c);
        return;
    }
    c->sending = c->out[c->i_out++];
    n = initial_md(c, &ops[0]);
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->sending;
    c->phase = PH_SEND;
    start(c, ops, n + 1);
}

void ik__fcall_recv_more(struct ik_fcall *c)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv;
    c->phase = PH_RECV;
    start(c, &op, 1);
}

const char *ik__fcall_header(const struct ik_fcall *c, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *m = &c->md.metadata[i];
        if (GRPC_SLICE_LENGTH(m->key) == klen &&
            memcmp(GRPC_SLICE_START_PTR(m->key), key, klen) == 0) {
            *len = GRPC_SLICE_LENGTH(m->value);
            return (const char *)GRPC_SLICE_START_PTR(m->value);
        }
    }
    return NULL;
}

/* Constant-time comparison of a presented token with a secret. */
static bool token_is(const char *got, size_t n, const char *secret)
{
    size_t m = strlen(secret);
    unsigned diff = (unsigned)(n != m);
    if (m == 0)
        return false;
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned char)(secret[i] ^ (i < n ? got[i] : 0));
    return diff == 0;
}

static void authorize(struct ik_fcall *c)
{
    size_t n = 0;
    const char *v = ik__fcall_header(c, "authorization", &n);
    const char *read_token = c->f->d->cfg.http.read_token;
    if (v && n > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
        c->authed_write = token_is(v + 7, n - 7, c->f->token);
        c->authed_read = c->authed_write || token_is(v + 7, n - 7, read_token);
    }
    if (!read_token[0])
        c->authed_read = true;
}

static enum ik_fmethod method_of(const grpc_slice *m)
{
    size_t plen = strlen(IK_FLIGHT_SERVICE), n = GRPC_SLICE_LENGTH(*m);
    const char *p = (const char *)GRPC_SLICE_START_PTR(*m);
    if (n <= plen || memcmp(p, IK_FLIGHT_SERVICE, plen) != 0)
        return IK_FM_UNKNOWN;
    for (int i = 0; i < IK_FM_UNKNOWN; i++)
        if (strlen(method_names[i]) == n - plen && memcmp(p + plen, method_names[i], n - plen) == 0)
            return (enum ik_fmethod)i;
    return IK_FM_UNKNOWN;
}

static void on_new(struct ik_fcall *c)
{
    struct ik_flight *f = c->f;
    grpc_op op;
    atomic_store(&c->refs, 2);
    atomic_fetch_add(&f->calls, 1);
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    if (grpc_call_start_batch(c->call, &op, 1, &c->t_close, NULL) != GRPC_CALL_OK)
        call_unref(c);
    c->method = method_of(&c->details.method);
    c->t0 = ik_now_ms();
    atomic_fetch_add_explicit(&f->requests[c->method], 1, memory_order_relaxed);
    authorize(c);
    if (atomic_load(&f->calls) > f->d->cfg.flight.max_calls) {
        ik__fcall_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                       "the Flight server serves %d calls at once (flight.max_calls); retry",
                       f->d->cfg.flight.max_calls);
        ik__fcall_resume(c);
    } else if (c->method == IK_FM_UNKNOWN || c->method == IK_FM_DO_EXCHANGE) {
        ik__fcall_fail(c, GRPC_STATUS_UNIMPLEMENTED, "%s is not served (docs/flight.md)",
                       c->method == IK_FM_DO_EXCHANGE ? "DoExchange" : "this method");
        ik__fcall_resume(c);
    } else if (!c->authed_read && c->method != IK_FM_HANDSHAKE) {
        ik__fcall_fail(c, GRPC_STATUS_UNAUTHENTICATED,
                       "Flight reads need authorization: Bearer <http.read_token>");
        ik__fcall_resume(c);
    } else {
        ik__fcall_recv_more(c);
    }
}

static void on_step(struct ik_fcall *c, bool ok)
{
    if (!ok || c->phase == PH_STATUS) {
        chain_end(c);
        return;
    }
    if (c->phase == PH_SEND) {
        grpc_byte_buffer_destroy(c->sending);
        c->sending = NULL;
        if (c->get && c->i_out == c->n_out && !c->status_set && ik__fget_pause_now(c->get))
            ik__fcall_pace(c, IK_FLIGHT_FIRST_PAUSE_MS); /* the first batch is out */
        else
            ik__fcall_resume(c);
        return;
    }
    /* PH_RECV */
    grpc_byte_buffer *req = c->recv;
    c->recv = NULL;
    c->n_recv += req != NULL;
    switch (c->method) {
    case IK_FM_LIST_FLIGHTS:
    case IK_FM_GET_FLIGHT_INFO:
    case IK_FM_GET_SCHEMA:
    case IK_FM_DO_GET:
        ik__flight_read(c, req);
        break;
    default:
        ik__flight_write(c, req);
        break;
    }
    if (req)
        grpc_byte_buffer_destroy(req);
}

static void dispatch(struct ik_flight *f, struct ik_ftag *t, bool ok)
{
    struct ik_fcall *c = t->c;
    switch (t->kind) {
    case TAG_NEW:
        if (!ok) { /* the server is shutting down */
            call_free(c);
            return;
        }
        if (!atomic_load(&f->stopping))
            request_call(f);
        on_new(c);
        break;
    case TAG_CLOSE:
        call_unref(c);
        break;
    default:
        on_step(c, ok);
        break;
    }
}

static void request_call(struct ik_flight *f)
{
    struct ik_fcall *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->f = f;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    c->t_new = (struct ik_ftag){c, TAG_NEW};
    c->t_close = (struct ik_ftag){c, TAG_CLOSE};
    c->t_step = (struct ik_ftag){c, TAG_STEP};
    if (grpc_server_request_call(f->server, &c->call, &c->details, &c->md, f->cq, f->cq,
                                 &c->t_new) != GRPC_CALL_OK)
        call_free(c);
}

static void *cq_main(void *arg)
{
    struct ik_flight *f = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(f->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &f->t_shutdown) {
            grpc_completion_queue_shutdown(f->cq);
            continue;
        }
        dispatch(f, ev.tag, ev.success != 0);
    }
    return NULL;
}

/* ---- the worker: calls that block (DoPut's import, the changes action) ------------------- */

void ik__fcall_to_worker(struct ik_fcall *c)
{
    struct ik_flight *f = c->f;
    c->phase = PH_WORK;
    pthread_mutex_lock(&f->wmu);
    if (f->worker_gone) { /* stopping: nobody would take it */
        pthread_mutex_unlock(&f->wmu);
        ik__fcall_fail(c, GRPC_STATUS_UNAVAILABLE, "the daemon is stopping");
        ik__fcall_resume(c);
        return;
    }
    c->next_job = NULL;
    if (f->jobs_tail)
        f->jobs_tail->next_job = c;
    else
        f->jobs = c;
    f->jobs_tail = c;
    pthread_cond_signal(&f->wcv);
    pthread_mutex_unlock(&f->wmu);
}

static void *worker_main(void *arg)
{
    struct ik_flight *f = arg;
    for (;;) {
        struct ik_fcall *c;
        pthread_mutex_lock(&f->wmu);
        while (!f->jobs && !atomic_load(&f->stopping))
            pthread_cond_wait(&f->wcv, &f->wmu);
        c = f->jobs;
        if (c) {
            f->jobs = c->next_job;
            if (!f->jobs)
                f->jobs_tail = NULL;
        } else {
            f->worker_gone = true;
        }
        pthread_mutex_unlock(&f->wmu);
        if (!c)
            return NULL;
        if (atomic_load(&f->stopping))
            ik__fcall_fail(c, GRPC_STATUS_UNAVAILABLE, "the daemon is stopping");
        else
            ik__flight_work(c);
        ik__fcall_resume(c);
    }
}

/* ---- the pacer: DoGets resumed a moment after their first batch (IK_FLIGHT_FIRST_PAUSE_MS) - */

void ik__fcall_pace(struct ik_fcall *c, double ms)
{
    struct ik_flight *f = c->f;
    c->phase = PH_WORK;
    c->due_ms = ik_now_ms() + ms;
    c->next_job = NULL;
    pthread_mutex_lock(&f->pmu);
    if (f->pacer_gone) { /* stopping: resumed now, it then ends UNAVAILABLE */
        pthread_mutex_unlock(&f->pmu);
        ik__fcall_resume(c);
        return;
    }
    if (f->paced_tail) /* one delay for all: the queue stays in due order */
        f->paced_tail->next_job = c;
    else
        f->paced = c;
    f->paced_tail = c;
    pthread_cond_signal(&f->pcv);
    pthread_mutex_unlock(&f->pmu);
}

static void *pacer_main(void *arg)
{
    struct ik_flight *f = arg;
    pthread_mutex_lock(&f->pmu);
    for (;;) {
        struct ik_fcall *c = f->paced;
        bool stopping = atomic_load(&f->stopping);
        if (c == NULL && stopping)
            break;
        if (c == NULL) {
            pthread_cond_wait(&f->pcv, &f->pmu);
            continue;
        }
        double now = ik_now_ms();
        if (!stopping && now < c->due_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            long ns = ts.tv_nsec + (long)((c->due_ms - now) * 1e6);
            ts.tv_sec += ns / 1000000000L;
            ts.tv_nsec = ns % 1000000000L;
            pthread_cond_timedwait(&f->pcv, &f->pmu, &ts);
            continue;
        }
        f->paced = c->next_job;
        if (!f->paced)
            f->paced_tail = NULL;
        pthread_mutex_unlock(&f->pmu);
        ik__fcall_resume(c);
        pthread_mutex_lock(&f->pmu);
    }
    f->pacer_gone = true;
    pthread_mutex_unlock(&f->pmu);
    return NULL;
}

/* ---- listeners ---------------------------------------------------------------------------- */

/* Why binding `loc` failed, found by trying it ourselves. */
static void bind_reason(const struct ik_flight_location *loc, char *out, size_t cap)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    snprintf(out, cap, "gRPC could not bind it");
    if (loc->scheme == IK_FLIGHT_UNIX)
        return;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", loc->port);
    if (getaddrinfo(loc->host, port, &hints, &ai) != 0 || ai == NULL) {
        snprintf(out, cap, "cannot resolve %s", loc->host);
        return;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        snprintf(out, cap, "%s%s", strerror(errno),
                 errno == EADDRINUSE ? " (another process has the port)" : "");
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
}

static void add_why(struct ik_flight *f, const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(f->why);
    snprintf(f->why + n, sizeof f->why - n, "%s", n ? "; " : "");
    n = strlen(f->why);
    snprintf(f->why + n, sizeof f->why - n, fmt, a, b);
}

static void add_listener(struct ik_flight *f, const char *uri, int idx)
{
    struct ik_flight_listener *l = &f->listeners[f->n_listeners];
    struct ik_error err = {{0}};
    char target[400], why[256];
    int port;
    if (ik_flight_location_parse(uri, &l->loc, &err) != 0) {
        add_why(f, "flight.listen: %s%s", err.message, "");
        return;
    }
    if (!ik_flight_location_is_local(&l->loc) && !f->d->cfg.http.read_token[0]) {
        add_why(f, "%s is not a loopback address%s", uri,
                "; set http.read_token to serve Flight beyond this machine");
        return;
    }
    if (ik_flight_location_target(&l->loc, target, sizeof target) != 0) {
        add_why(f, "%s: %s", uri, "too long");
        return;
    }
    if (l->loc.scheme == IK_FLIGHT_TLS) {
        if (ik__flight_tls_creds(f, &err) != 0) {
            add_why(f, "%s: %s", uri, err.message);
            return;
        }
        port = grpc_server_add_http2_port(f->server, target, f->tls_creds);
    } else {
        grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
        port = grpc_server_add_http2_port(f->server, target, creds);
        grpc_server_credentials_release(creds);
    }
    if (port == 0) {
        bind_reason(&l->loc, why, sizeof why);
        add_why(f, "cannot listen on %s: %s", uri, why);
        return;
    }
    if (l->loc.scheme != IK_FLIGHT_UNIX)
        l->loc.port = port;
    ik_flight_location_uri(&l->loc, l->uri, sizeof l->uri);
    (void)idx;
    f->n_listeners++;
}

static void quiet_log(gpr_log_func_args *args)
{
    (void)args; /* gRPC's own lines: the reasons we report are in status and our log */
}

static int load_token(struct ik_flight *f, struct ik_error *err)
{
    return ik_http_token(f->d, f->token, sizeof f->token, err);
}

static int serve(struct ik_flight *f, struct ik_error *err)
{
    const struct ik_flight_conf *fc = &f->d->cfg.flight;
    grpc_arg args[4];
    grpc_channel_args ca = {4, args};
    char cwd[PATH_MAX], uri[PATH_MAX + 32];
    int rc;
    if ((rc = load_token(f, err)) != 0)
        return rc;
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = fc->max_message_bytes;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = -1;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
    args[2].value.integer = 0;       /* a port another process holds is taken, not shared */
    args[3].type = GRPC_ARG_INTEGER; /* a connection stalled in its TLS or HTTP/2 handshake */
    args[3].key = (char *)GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS;
    args[3].value.integer = IK_FLIGHT_HANDSHAKE_MS;
    if (ik_flight_pool_create(IK_FLIGHT_POOL_KEEP, &f->pool) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    f->server = grpc_server_create(&ca, NULL);
    f->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(f->server, f->cq, NULL);
    if (fc->listen_given) {
        for (int i = 0; i < fc->n_listen; i++)
            add_listener(f, fc->listen[i], i);
    } else {
        if (getcwd(cwd, sizeof cwd) == NULL)
            return ik_error_set(err, errno, "getcwd: %s", strerror(errno));
        snprintf(uri, sizeof uri, "grpc+unix://%s/flight.sock", cwd);
        add_listener(f, uri, 0);
        snprintf(uri, sizeof uri, "grpc+tcp://127.0.0.1:%d", IK_FLIGHT_DEFAULT_TCP_PORT);
        add_listener(f, uri, 1);
    }
    if (f->n_listeners == 0)
        return ik_error_set(err, EADDRINUSE, "%s", f->why);
    grpc_server_start(f->server);
    for (int i = 0; i < IK_FLIGHT_PENDING; i++)
        request_call(f);
    for (int i = 0; i < IK_FLIGHT_CQ_THREADS; i++) {
        if (pthread_create(&f->threads[i], NULL, cq_main, f) != 0)
            return ik_error_set(err, EAGAIN, "cannot start a Flight thread");
        f->n_threads++;
    }
    if (pthread_create(&f->worker, NULL, worker_main, f) != 0)
        return ik_error_set(err, EAGAIN, "cannot start the Flight worker");
    f->worker_started = true;
    if (pthread_create(&f->pacer, NULL, pacer_main, f) != 0)
        return ik_error_set(err, EAGAIN, "cannot start the Flight pacer");
    f->pacer_started = true;
    return 0;
}

static void teardown(struct ik_flight *f)
{
    atomic_store(&f->stopping, true);
    ik__flight_peers_drain(); /* peers.c: GetFlightInfo threads asking the peers */
    if (f->worker_started) {
        pthread_mutex_lock(&f->wmu);
        pthread_cond_broadcast(&f->wcv);
        pthread_mutex_unlock(&f->wmu);
        pthread_join(f->worker, NULL);
        f->worker_started = false;
    }
    if (f->pacer_started) { /* the paused DoGets are resumed (and end UNAVAILABLE) */
        pthread_mutex_lock(&f->pmu);
        pthread_cond_broadcast(&f->pcv);
        pthread_mutex_unlock(&f->pmu);
        pthread_join(f->pacer, NULL);
        f->pacer_started = false;
    }
    if (f->server) {
        f->t_shutdown = (struct ik_ftag){NULL, -1};
        grpc_server_shutdown_and_notify(f->server, f->cq, &f->t_shutdown);
        grpc_server_cancel_all_calls(f->server);
        if (f->n_threads == 0) { /* nobody drains the queue: do it here */
            f->n_threads = 0;
            cq_main(f);
        }
        for (int i = 0; i < f->n_threads; i++)
            pthread_join(f->threads[i], NULL);
        grpc_server_destroy(f->server);
        grpc_completion_queue_destroy(f->cq);
        for (int i = 0; i < f->n_listeners; i++)
            if (f->listeners[i].loc.scheme == IK_FLIGHT_UNIX)
                unlink(f->listeners[i].loc.path);
    }
    ik__flight_retained_clear(f);
    ik__flight_tls_release(f);
    ik_flight_pool_release(f->pool); /* blocks gRPC still holds keep it until they are back */
    f->pool = NULL;
    f->server = NULL;
    f->n_listeners = 0;
}

void ik_flight_start(struct ik_daemon *d, int quiet)
{
    struct ik_error err = {{0}};
    struct ik_flight *f = calloc(1, sizeof *f);
    d->flight = f;
    if (!f)
        return;
    f->d = d;
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_init(&f->wmu, NULL);
    pthread_cond_init(&f->wcv, NULL);
    pthread_mutex_init(&f->pmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->pcv, &ca);
    pthread_condattr_destroy(&ca);
    if (!d->cfg.flight.enabled) {
        snprintf(f->why, sizeof f->why, "off in config.json (flight or flight.listen is null)");
        return;
    }
    grpc_init();
    gpr_set_log_function(quiet_log);
    if (serve(f, &err) != 0) {
        snprintf(f->why, sizeof f->why, "%s", err.message);
        teardown(f);
        if (!quiet)
            fprintf(stderr, "ipfs-kit daemon: Flight off: %s\n", f->why);
        return;
    }
    if (!quiet) {
        for (int i = 0; i < f->n_listeners; i++)
            fprintf(stderr, "ipfs-kit daemon: Flight on %s\n", f->listeners[i].uri);
        if (f->why[0])
            fprintf(stderr, "ipfs-kit daemon: Flight partly off: %s\n", f->why);
    }
}

void ik_flight_stop(struct ik_daemon *d)
{
    struct ik_flight *f = d->flight;
    if (!f)
        return;
    bool inited = d->cfg.flight.enabled;
    teardown(f);
    if (inited)
        grpc_shutdown();
    pthread_mutex_destroy(&f->mu);
    pthread_mutex_destroy(&f->wmu);
    pthread_cond_destroy(&f->wcv);
    pthread_mutex_destroy(&f->pmu);
    pthread_cond_destroy(&f->pcv);
    free(f);
    d->flight = NULL;
}

int ik_flight_serving(struct ik_daemon *d)
{
    return d->flight && d->flight->n_listeners > 0;
}

void ik_flight_describe(struct ik_daemon *d, char *where, size_t where_cap, char *why,
                        size_t why_cap)
{
    struct ik_flight *f = d->flight;
    size_t n = 0;
    if (where_cap)
        where[0] = 0;
    for (int i = 0; f && i < f->n_listeners && n < where_cap; i++) {
        int k = snprintf(where + n, where_cap - n, "%s%s", i ? " " : "", f->listeners[i].uri);
        n += k > 0 ? (size_t)k : 0;
    }
    snprintf(why, why_cap, "%s", f ? f->why : "not started");
}

int ik_flight_calls(struct ik_daemon *d)
{
    return d->flight ? atomic_load(&d->flight->calls) : 0;
}

void ik_flight_counts(struct ik_daemon *d, int64_t *referenced, int64_t *copied)
{
    struct ik_flight *f = d->flight;
    *referenced = f ? atomic_load(&f->referenced) : 0;
    *copied = f ? atomic_load(&f->copied) : 0;
}
