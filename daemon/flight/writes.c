/* The Flight RPCs beyond reading tables: Handshake (token auth: Basic with the token as the
 * password answers with its Bearer header, a payload equal to a token is echoed), DoPut (pin
 * import from an Arrow stream: the FlightData gathered as an IPC stream in a memfd, then
 * imported through the daemon's own socket exactly as `pin import` does it, in one
 * transaction, answered once a snapshot holding it is published), DoAction ("changes" since
 * a version, "health") and ListActions. What blocks (the import, the changes query) runs on
 * the Flight worker thread. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flight_internal.h"
#include "ipfskit/client.h"

#define P(x) arrow__flight__protocol__##x
#define CLIENT_TIMEOUT_MS 10000
#ifndef IK_VERSION
#define IK_VERSION "0.1.0"
#endif

struct ik_fput {
    int fd; /* memfd: the IPC stream so far */
    int64_t bytes;
    bool described; /* the first message's descriptor was checked */
};

enum { WORK_PUT = 1, WORK_CHANGES = 2 };

void ik__fput_free(struct ik_fput *p)
{
    if (p == NULL)
        return;
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

static void fail_with(struct ik_fcall *c, int rc, const struct ik_error *err)
{
    ik__fcall_fail(c, ik__flight_status_of(rc), "%s",
                   err->message[0] ? err->message : ik_strerror(rc));
}

static int push_result(struct ik_fcall *c, const void *body, size_t len)
{
    Arrow__Flight__Protocol__Result r = ARROW__FLIGHT__PROTOCOL__RESULT__INIT;
    r.body.data = (uint8_t *)body;
    r.body.len = len;
    return ik__fcall_push(c, ik_flight_pack(&r.base));
}

/* ---- Handshake ---------------------------------------------------------------------------- */

static int b64_value(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decodes base64 (padding optional) into out; -1 on a bad character or overflow. */
static long b64_decode(const char *s, size_t n, char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k + 1 >= cap)
                return -1;
            out[k++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[k] = 0;
    return (long)k;
}

static bool is_token(struct ik_fcall *c, const char *s, size_t n)
{
    const char *read_token = c->f->d->cfg.http.read_token;
    size_t t = strlen(c->f->token), r = strlen(read_token);
    bool w = n == t && t && memcmp(s, c->f->token, t) == 0;
    return w || (n == r && r && memcmp(s, read_token, r) == 0);
}

static void handshake(struct ik_fcall *c, grpc_byte_buffer *req)
{
    struct ik_error err = {{0}};
    size_t n = 0;
    const char *auth = ik__fcall_header(c, "authorization", &n);
    if (req) {
        ProtobufCMessage *m = NULL;
        int rc = ik_flight_unpack(req, &P(handshake_request__descriptor), 65536, &m, &err);
        if (rc != 0) {
            fail_with(c, rc, &err);
        } else {
            Arrow__Flight__Protocol__HandshakeRequest *h = (void *)m;
            Arrow__Flight__Protocol__HandshakeResponse r =
                ARROW__FLIGHT__PROTOCOL__HANDSHAKE_RESPONSE__INIT;
            if (h->payload.len && !is_token(c, (const char *)h->payload.data, h->payload.len))
                ik__fcall_fail(c, GRPC_STATUS_UNAUTHENTICATED, "Handshake: wrong token");
            r.payload = h->payload;
            if (!c->status_set && ik__fcall_push(c, ik_flight_pack(&r.base)) != 0)
                fail_with(c, ENOMEM, &err);
        }
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
        if (!c->status_set) {
            ik__fcall_recv_more(c);
            return;
        }
    } else if (auth && n > 6 && strncasecmp(auth, "Basic ", 6) == 0) {
        char plain[512], bearer[600];
        long k = b64_decode(auth + 6, n - 6, plain, sizeof plain);
        const char *colon = k > 0 ? memchr(plain, ':', (size_t)k) : NULL;
        if (!colon || !is_token(c, colon + 1, (size_t)(plain + k - colon - 1))) {
            ik__fcall_fail(c, GRPC_STATUS_UNAUTHENTICATED,
                           "Handshake: the password must be a token (http.token or "
                           "http.read_token)");
        } else {
            snprintf(bearer, sizeof bearer, "Bearer %s", colon + 1);
            c->out_md.key = grpc_slice_from_static_string("authorization");
            c->out_md.value = grpc_slice_from_copied_string(bearer);
            c->has_out_md = true;
        }
    } else if (c->n_recv == 0 && !(auth && c->authed_read && c->f->d->cfg.http.read_token[0]) &&
               !c->authed_write) {
        ik__fcall_fail(c, GRPC_STATUS_UNAUTHENTICATED,
                       "Handshake: send authorization: Basic (any user, a token as password), "
                       "a Bearer token, or a token as the payload");
    }
    ik__fcall_resume(c);
}

/* ---- DoPut -------------------------------------------------------------------------------- */

static int put_write(struct ik_fput *p, const void *data, size_t len, struct ik_error *err)
{
    const uint8_t *b = data;
    while (len > 0) {
        ssize_t k = write(p->fd, b, len);
        if (k < 0)
            return ik_error_set(err, EIO, "DoPut: buffering the stream: %s", strerror(errno));
        b += k;
        len -= (size_t)k;
        p->bytes += k;
    }
    return 0;
}

static int put_check_descriptor(const struct ik_flight_data *fd, struct ik_error *err)
{
    Arrow__Flight__Protocol__FlightDescriptor *d;
    int rc = 0;
    if (fd->descriptor == NULL)
        return 0; /* none: the pin index */
    d = arrow__flight__protocol__flight_descriptor__unpack(NULL, fd->descriptor_len,
                                                           fd->descriptor);
    if (d == NULL)
        return ik_error_set(err, IK_EFORMAT, "FlightData.flight_descriptor: not a descriptor");
    if (d->type != ARROW__FLIGHT__PROTOCOL__FLIGHT_DESCRIPTOR__DESCRIPTOR_TYPE__PATH ||
        d->n_path != 1 || strcmp(d->path[0], "pin_index") != 0)
        rc = ik_error_set(err, EINVAL,
                          "FlightData.flight_descriptor: DoPut imports into the path "
                          "[\"pin_index\"] only");
    arrow__flight__protocol__flight_descriptor__free_unpacked(d, NULL);
    return rc;
}

/* One FlightData of the stream: its IPC message appended to the memfd. */
static int put_message(struct ik_fcall *c, grpc_byte_buffer *req, struct ik_error *err)
{
    struct ik_fput *p = c->put;
    struct ik_flight_data d = {0};
    uint8_t *bytes = NULL, prefix[8];
    size_t len = 0, pad;
    static const uint8_t zeros[8];
    int rc =
        ik_flight_bb_read(req, (size_t)c->f->d->cfg.flight.max_message_bytes, &bytes, &len, err);
    if (rc == 0)
        rc = ik_flight_data_parse(bytes, len, &d, err);
    if (rc == 0 && !p->described) {
        rc = put_check_descriptor(&d, err);
        p->described = true;
    }
    if (rc == 0 && p->bytes + (int64_t)len > c->f->d->cfg.max_import_size)
        rc = ik_error_set(err, IK_ELIMIT, "DoPut: the stream is over daemon.max_import_size");
    if (rc == 0 && d.header && d.header_len) {
        if (d.header_len > INT32_MAX - 8) {
            rc = ik_error_set(err, IK_EFORMAT, "FlightData.data_header: too large");
        } else {
            pad = (8 - d.header_len % 8) % 8;
            prefix[0] = prefix[1] = prefix[2] = prefix[3] = 0xff;
            uint32_t ml = (uint32_t)(d.header_len + pad);
            for (int i = 0; i < 4; i++)
                prefix[4 + i] = (uint8_t)(ml >> (8 * i));
            if ((rc = put_write(p, prefix, 8, err)) == 0 &&
                (rc = put_write(p, d.header, d.header_len, err)) == 0 &&
                (rc = put_write(p, zeros, pad, err)) == 0)
                rc = put_write(p, d.body, d.body_len, err);
        }
    }
    free(bytes);
    return rc;
}

static void do_put(struct ik_fcall *c, grpc_byte_buffer *req)
{
    struct ik_error err = {{0}};
    int rc = 0;
    if (!c->authed_write) {
        ik__fcall_fail(c, GRPC_STATUS_UNAUTHENTICATED,
                       "DoPut writes: send authorization: Bearer <the token in "
                       "$IPFS_KIT_PATH/http.token>");
        ik__fcall_resume(c);
        return;
    }
    if (c->put == NULL) {
        if ((c->put = calloc(1, sizeof *c->put)) == NULL ||
            (c->put->fd = memfd_create("ik-flight-put", MFD_CLOEXEC)) < 0) {
            if (c->put)
                c->put->fd = -1;
            fail_with(c, ENOMEM, &err);
            ik__fcall_resume(c);
            return;
        }
    }
    if (req) {
        if ((rc = put_message(c, req, &err)) != 0) {
            fail_with(c, rc, &err);
            ik__fcall_resume(c);
        } else {
            ik__fcall_recv_more(c);
        }
        return;
    }
    if (c->put->bytes == 0) {
        ik__fcall_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "DoPut: the stream held no Arrow data");
        ik__fcall_resume(c);
        return;
    }
    ik__fcall_to_worker(c);
}

/* ---- DoAction, ListActions ---------------------------------------------------------------- */

static char *health_json(struct ik_flight *f)
{
    struct ik_daemon *d = f->d;
    json_t *o;
    char *s;
    pthread_mutex_lock(&d->pub_mu);
    o = json_pack("{s:s,s:i,s:I,s:I,s:f}", "status", d->build_failed ? "degraded" : "ok", "pid",
                  (int)getpid(), "snapshot_version", (json_int_t)d->published_gen, "pins",
                  (json_int_t)d->pins.rows, "uptime_s",
                  (ik_now_ms() - d->metrics.started_mono) / 1000.0);
    pthread_mutex_unlock(&d->pub_mu);
    if (o) { /* `peers status` shows them (docs/distributed.md) */
        json_object_set_new(o, "version", json_string(IK_VERSION));
        json_object_set_new(o, "node", json_string(d->cfg.node_name));
    }
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static void do_action(struct ik_fcall *c, grpc_byte_buffer *req)
{
    struct ik_error err = {{0}};
    ProtobufCMessage *m = NULL;
    int rc = ik_flight_unpack(req, &P(action__descriptor), 65536, &m, &err);
    if (rc != 0) {
        fail_with(c, rc, &err);
    } else {
        Arrow__Flight__Protocol__Action *a = (void *)m;
        if (strcmp(a->type, "health") == 0) {
            char *h = health_json(c->f);
            if (!h || push_result(c, h, strlen(h)) != 0)
                fail_with(c, ENOMEM, &err);
            free(h);
        } else if (strcmp(a->type, "changes") == 0) {
            /* the body is parsed on the worker: keep it as the call's pending request */
            grpc_slice s = grpc_slice_from_copied_buffer((const char *)a->body.data, a->body.len);
            c->recv = grpc_raw_byte_buffer_create(&s, 1);
            grpc_slice_unref(s);
            protobuf_c_message_free_unpacked(m, NULL);
            ik__fcall_to_worker(c);
            return;
        } else {
            ik__fcall_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                           "Action.type: unknown action '%.64s' (changes, health)", a->type);
        }
    }
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    ik__fcall_resume(c);
}

static void list_actions(struct ik_fcall *c)
{
    static const char *const types[2][2] = {
        {"changes", "Changes of pin_index since a version: body {\"since\": V}; results: a "
                    "JSON summary, then an Arrow IPC stream of the changed rows"},
        {"health", "The daemon's health as JSON"}};
    struct ik_error err = {{0}};
    for (int i = 0; i < 2; i++) {
        Arrow__Flight__Protocol__ActionType t = ARROW__FLIGHT__PROTOCOL__ACTION_TYPE__INIT;
        t.type = (char *)types[i][0];
        t.description = (char *)types[i][1];
        if (ik__fcall_push(c, ik_flight_pack(&t.base)) != 0)
            fail_with(c, ENOMEM, &err);
    }
    ik__fcall_resume(c);
}

void ik__flight_write(struct ik_fcall *c, grpc_byte_buffer *req)
{
    switch (c->method) {
    case IK_FM_HANDSHAKE:
        handshake(c, req);
        break;
    case IK_FM_DO_PUT:
        do_put(c, req);
        break;
    case IK_FM_DO_ACTION:
        do_action(c, req);
        break;
    default:
        list_actions(c);
        break;
    }
}

/* ---- on the worker ------------------------------------------------------------------------ */

static int open_client(struct ik_flight *f, struct ik_client **out, struct ik_error *err)
{
    struct ik_client_options o;
    ik_client_options_init(&o);
    o.path = f->d->dir;
    o.timeout_ms = CLIENT_TIMEOUT_MS;
    return ik_client_open(&o, out, err);
}

static int work_put(struct ik_fcall *c, struct ik_client *cl, struct ik_error *err)
{
    static const uint8_t eos[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    struct ik_import_options o;
    struct ik_import_result res = {0};
    uint64_t gen = 0;
    char *reply;
    int rc;
    if ((rc = put_write(c->put, eos, sizeof eos, err)) != 0)
        return rc;
    if (lseek(c->put->fd, 0, SEEK_SET) != 0)
        return ik_error_set(err, EIO, "DoPut: rewinding the stream");
    ik_import_options_init(&o);
    o.format = IK_IMPORT_ARROW;
    if ((rc = ik_client_import_fd(cl, c->put->fd, &o, &res, &gen, err)) != 0)
        return rc;
    json_t *j = json_pack("{s:I,s:I,s:I}", "imported", (json_int_t)res.imported, "skipped",
                          (json_int_t)res.skipped, "snapshot_version", (json_int_t)gen);
    if (j && err->message[0])
        json_object_set_new(j, "warning", json_string(err->message));
    reply = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (reply) {
        Arrow__Flight__Protocol__PutResult pr = ARROW__FLIGHT__PROTOCOL__PUT_RESULT__INIT;
        pr.app_metadata.data = (uint8_t *)reply;
        pr.app_metadata.len = strlen(reply);
        rc = ik__fcall_push(c, ik_flight_pack(&pr.base));
        free(reply);
        return rc ? ik_error_set(err, ENOMEM, "out of memory") : 0;
    }
    return ik_error_set(err, ENOMEM, "out of memory");
}

static int mem_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    if (len && fwrite(data, 1, len, ctx) != len)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

/* The changes action: a JSON summary, then the changed rows as an Arrow IPC stream. */
static int work_changes(struct ik_fcall *c, struct ik_client *cl, struct ik_error *err)
{
    uint8_t *body = NULL;
    size_t blen = 0;
    json_error_t je;
    json_t *o, *since;
    struct ik_result res;
    uint64_t from;
    int rc = ik_flight_bb_read(c->recv, 65536, &body, &blen, err);
    grpc_byte_buffer_destroy(c->recv);
    c->recv = NULL;
    if (rc != 0)
        return rc;
    o = blen ? json_loadb((const char *)body, blen, 0, &je) : NULL;
    free(body);
    since = o ? json_object_get(o, "since") : NULL;
    if (!since || !json_is_integer(since) || json_integer_value(since) < 0) {
        json_decref(o);
        return ik_error_set(err, EINVAL,
                            "Action.body: expected {\"since\": <a snapshot version>} for changes");
    }
    from = (uint64_t)json_integer_value(since);
    json_decref(o);
    ik_result_init(&res);
    rc = ik_client_changes(cl, "pin_index", from, &res, err);
    if (rc == 0) {
        char *text = NULL, *sum;
        size_t tlen = 0;
        FILE *mem = open_memstream(&text, &tlen);
        struct ik_write_options wo;
        json_t *s = json_pack("{s:s,s:I,s:I,s:I}", "table", "pin_index", "since", (json_int_t)from,
                              "version", (json_int_t)res.version, "rows", (json_int_t)res.rows);
        ik_write_options_init(&wo);
        wo.format = IK_IPC_STREAM;
        sum = s ? json_dumps(s, JSON_COMPACT) : NULL;
        json_decref(s);
        rc = mem ? 0 : ik_error_set(err, ENOMEM, "out of memory");
        if (rc == 0 && (!sum || push_result(c, sum, strlen(sum)) != 0))
            rc = ik_error_set(err, ENOMEM, "out of memory");
        free(sum);
        if (rc == 0) {
            struct ArrowSchema sc = {0};
            struct ik_ipc_writer *w = NULL;
            rc = res.stream.get_schema(&res.stream, &sc);
            if (rc == 0)
                rc = ik_ipc_writer_create(&sc, &wo, mem_write, mem, &w, err);
            for (;;) {
                struct ArrowArray a = {0};
                if (rc != 0 || (rc = res.stream.get_next(&res.stream, &a)) != 0 || !a.release)
                    break;
                rc = ik_ipc_writer_write(w, &a, err);
                a.release(&a);
            }
            if (rc == 0)
                rc = ik_ipc_writer_finish(w, err);
            ik_ipc_writer_destroy(w);
            if (sc.release)
                sc.release(&sc);
        }
        if (mem && fclose(mem) != 0 && rc == 0)
            rc = ik_error_set(err, ENOMEM, "out of memory");
        if (rc == 0 && push_result(c, text, tlen) != 0)
            rc = ik_error_set(err, ENOMEM, "out of memory");
        free(text);
    }
    ik_result_reset(&res);
    return rc;
}

void ik__flight_work(struct ik_fcall *c)
{
    struct ik_error err = {{0}};
    struct ik_client *cl = NULL;
    int rc = open_client(c->f, &cl, &err);
    if (rc == 0)
        rc = c->method == IK_FM_DO_PUT ? work_put(c, cl, &err) : work_changes(c, cl, &err);
    ik_client_close(cl);
    if (rc != 0)
        fail_with(c, rc, &err);
}
