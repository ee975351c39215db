/* Writes from the client: through the daemon when it runs (it owns the store), straight
 * into the store under the daemon lock when none runs, and a clear refusal —
 * "Database is locked by daemon (PID n)" and what to do — when a daemon holds the lock but
 * does not answer. */
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "proto/proto.h"

enum wop { W_ADD, W_RM, W_TOUCH, W_IMPORT, W_IMPORT_STREAM };

struct wargs {
    enum wop op;
    const struct ik_pin *pin;
    const char *cid;
    int fd;
    struct ArrowArrayStream *stream;
    const struct ik_import_options *imp;
    struct ik_import_result *res;
};

static int locked_error(struct ik_client *c, long pid, struct ik_error *err)
{
    return ik_error_set(err, IK_ELOCKED,
                        "Database is locked by daemon (PID %ld), which does not answer on %s. "
                        "Check it with 'ipfs-kit daemon status'; stop it with 'ipfs-kit daemon "
                        "stop' (or kill %ld) and retry",
                        pid, c->sock_path, pid);
}

/* Whether the daemon answers a ping on a connection of its own within `timeout_ms`: its
 * event loop runs even while its writer works through a long import. */
static bool daemon_answers(struct ik_client *c, int timeout_ms)
{
    static const char req[] = "{\"v\":1,\"op\":\"ping\"}";
    struct ik_error e = {{0}};
    uint8_t *payload = NULL;
    size_t len = 0;
    int fd = -1;
    int rc = ik_sock_connect_unix(c->sock_path, timeout_ms, &fd, &e);
    if (rc == 0)
        rc = ik_sock_send_frame(fd, req, sizeof req - 1, -1, timeout_ms, &e);
    if (rc == 0)
        rc = ik_sock_recv_frame(fd, IK_PROTO_MAX_HEADER, &payload, &len, NULL, timeout_ms, &e);
    free(payload);
    if (fd >= 0)
        close(fd);
    return rc == 0;
}

/* Waits until the write's reply starts arriving on `conn`. A big import may take the daemon
 * minutes, so there is no deadline on the write itself: the wait fails (ETIMEDOUT) only when
 * the daemon has answered neither the write nor a ping for the client's timeout (half of it
 * waiting, half for the ping), as when it is stopped or hung. */
static int await_reply(struct ik_client *c, int conn, struct ik_error *err)
{
    int half = c->timeout_ms / 2 > 0 ? c->timeout_ms / 2 : 1;
    char who[64];
    for (;;) {
        struct pollfd p = {.fd = conn, .events = POLLIN};
        int n = poll(&p, 1, half);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return ik_error_set(err, errno, "poll: %s", strerror(errno));
        if (n == 0 && !daemon_answers(c, half))
            break;
    }
    ik__client_daemon_name(c, who, sizeof who);
    return ik_error_set(err, ETIMEDOUT,
                        "%s is not answering: no reply to the write within %g s; the write may "
                        "still be applied when it resumes (check with 'ipfs-kit daemon status', "
                        "then retry, or raise --timeout)",
                        who, c->timeout_ms / 1000.0);
}

static int direct_write(struct ik_client *c, struct wargs *a, uint64_t *gen, struct ik_error *err)
{
    struct ik_store *st = NULL;
    long pid = 0;
    int lock_fd = -1, rc;
    /* with no daemon, this process is the store's writer: the daemon's rules apply */
    if ((rc = ik_data_dir_ensure(c->dir, err)) != 0 || (rc = ik_data_dir_check(c->dir, NULL, err)))
        return rc;
    rc = ik_lock_acquire(c->dir, &lock_fd, &pid, err);
    if (rc == IK_ELOCKED)
        return locked_error(c, pid, err);
    if (rc != 0)
        return rc;
    rc = ik_store_open(c->dir, IK_STORE_CREATE, &st, err);
    if (rc == 0) {
        switch (a->op) {
        case W_ADD:
            rc = ik_store_add(st, a->pin, err);
            break;
        case W_RM:
            rc = ik_store_remove(st, a->cid, err);
            break;
        case W_TOUCH:
            rc = ik_store_touch(st, a->cid, 0, err);
            break;
        case W_IMPORT_STREAM:
            rc = ik_store_import_stream(st, a->stream, a->imp, a->res, err);
            break;
        case W_IMPORT: {
            struct ik_buffer *buf = NULL;
            rc = ik_buffer_read_fd(a->fd, &buf, err); /* another process may change the file */
            if (rc == 0) {
                rc = ik_store_import(st, ik_buffer_data(buf), ik_buffer_size(buf), a->imp, a->res,
                                     err);
                ik_buffer_unref(buf);
            }
            break;
        }
        }
    }
    if (rc == 0 && gen)
        rc = ik_store_generation(st, gen, err);
    if (rc == 0) { /* no daemon trims the change log: one bounded chunk after each write */
        struct timespec now;
        bool more = false;
        clock_gettime(CLOCK_REALTIME, &now);
        (void)ik_store_changes_trim(
            st, c->cfg.changes_retain_versions, c->cfg.changes_retain_seconds,
            (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, &more, NULL, NULL);
    }
    ik_store_close(st);
    ik_lock_release(lock_fd, c->dir);
    return rc;
}

/* Writes an Arrow stream into a memfd (IPC stream format) so the daemon can map it. */
static int stream_to_memfd(struct ArrowArrayStream *s, int *fd_out, struct ik_error *err)
{
    int fd = memfd_create("ipfs-kit-import", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    FILE *f;
    int rc;
    if (fd < 0)
        return ik_error_set(err, errno, "memfd_create: %s", strerror(errno));
    f = fdopen(dup(fd), "wb");
    if (!f) {
        close(fd);
        return ik_error_set(err, errno, "fdopen: %s", strerror(errno));
    }
    {
        struct ArrowSchema schema = {0};
        struct ik_write_options o;
        struct ik_ipc_writer *w = NULL;
        ik_write_options_init(&o);
        rc = s->get_schema(s, &schema);
        if (rc != 0)
            rc = ik_error_set(err, rc, "import stream: %s",
                              s->get_last_error(s) ? s->get_last_error(s) : "get_schema failed");
        if (rc == 0)
            rc = ik_ipc_writer_create(&schema, &o, ik_write_to_file, f, &w, err);
        while (rc == 0) {
            struct ArrowArray b = {0};
            rc = s->get_next(s, &b);
            if (rc != 0) {
                rc = ik_error_set(err, rc, "import stream: %s",
                                  s->get_last_error(s) ? s->get_last_error(s) : "get_next failed");
                break;
            }
            if (!b.release)
                break;
            rc = ik_ipc_writer_write(w, &b, err);
            b.release(&b);
        }
        if (rc == 0)
            rc = ik_ipc_writer_finish(w, err);
        ik_ipc_writer_destroy(w);
        if (schema.release)
            schema.release(&schema);
    }
    if (fclose(f) != 0 && rc == 0)
        rc = ik_error_set(err, EIO, "writing the import to memory failed");
    /* sealed, the daemon can map it instead of copying it (it copies what could change) */
    if (rc == 0 &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        rc = ik_error_set(err, errno, "sealing the import: %s", strerror(errno));
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

static int daemon_write(struct ik_client *c, struct wargs *a, uint64_t *gen, struct ik_error *err)
{
    struct ik_request req;
    json_t *hdr = NULL;
    char *text;
    int conn = -1, pass_fd = -1, rc;
    ik_request_init(&req, a->op == W_ADD     ? IK_REQ_PIN_ADD
                          : a->op == W_RM    ? IK_REQ_PIN_RM
                          : a->op == W_TOUCH ? IK_REQ_PIN_TOUCH
                                             : IK_REQ_IMPORT);
    if (a->op == W_ADD)
        req.pin = *a->pin;
    if (a->op == W_RM || a->op == W_TOUCH)
        snprintf(req.cid, sizeof req.cid, "%s", a->cid);
    if (a->op == W_IMPORT || a->op == W_IMPORT_STREAM) {
        req.import = *a->imp;
        pass_fd = a->fd;
    }
    text = ik_request_to_json(&req);
    if (!text)
        return ik_error_set(err, EINVAL, "the request has a value without a JSON form");
    /* exchange() lives in client.c; the write path uses the raw helpers */
    rc = ik_sock_connect_unix(c->sock_path, c->timeout_ms, &conn, err);
    if (rc == 0)
        rc = ik_sock_send_frame(conn, text, strlen(text), pass_fd, c->timeout_ms, err);
    free(text);
    if (rc == 0) {
        uint8_t *payload = NULL;
        size_t len = 0;
        rc = await_reply(c, conn, err);
        if (rc == 0)
            rc = ik_sock_recv_frame(conn, IK_PROTO_MAX_HEADER, &payload, &len, NULL, c->timeout_ms,
                                    err);
        if (rc == IK_EOS)
            rc = ik_error_set(err, IK_EPROTO,
                              "the daemon closed the connection without a reply "
                              "(did it stop?)");
        if (rc == 0)
            rc = ik_reply_parse((const char *)payload, len, &hdr, err);
        free(payload);
    }
    if (conn >= 0)
        close(conn);
    if (rc == IK_EREMOTE) { /* the same code as when the client finds it itself */
        const char *code = ik_reply_error_code(hdr);
        if (code && strcmp(code, "invalid") == 0)
            rc = EINVAL;
        else if (code && strcmp(code, "timeout") == 0)
            rc = ETIMEDOUT; /* the daemon gave up on its side: try again later, too */
        else
            rc = ik_reply_errno(code);
    }
    if (rc == 0) {
        json_t *v = json_object_get(hdr, "generation");
        const char *warning = json_string_value(json_object_get(hdr, "warning"));
        if (warning) /* committed, but not yet visible: said in err, with success */
            ik_error_set(err, 0, "%s", warning);
        if (gen)
            *gen = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
        if (a->res) {
            const char *fs = json_string_value(json_object_get(hdr, "first_skip"));
            a->res->imported = json_integer_value(json_object_get(hdr, "imported"));
            a->res->skipped = json_integer_value(json_object_get(hdr, "skipped"));
            snprintf(a->res->first_skip, sizeof a->res->first_skip, "%s", fs ? fs : "");
        }
    }
    json_decref(hdr);
    return rc;
}

static int do_write(struct ik_client *c, struct wargs *a, uint64_t *gen, struct ik_error *err)
{
    long pid = 0;
    int rc, memfd = -1;
    if (a->res)
        memset(a->res, 0, sizeof *a->res);
    if (a->op == W_IMPORT_STREAM && c->opts.method != IK_METHOD_DIRECT) {
        /* The daemon needs bytes it can map: spool the stream once, here. If no daemon
         * answers, the same bytes are imported directly. */
        if ((rc = stream_to_memfd(a->stream, &memfd, err)) != 0)
            return rc;
        a->op = W_IMPORT;
        a->fd = memfd;
    }
    rc = c->opts.method == IK_METHOD_DIRECT ? IK_EDAEMON : daemon_write(c, a, gen, err);
    if (rc == IK_EDAEMON) {
        if (err)
            err->message[0] = 0; /* no daemon is the normal case for a direct write */
        if (ik_lock_holder(c->dir, &pid) == 0) {
            rc = locked_error(c, pid, err);
        } else {
            rc = direct_write(c, a, gen, err);
        }
    }
    if (memfd >= 0)
        close(memfd);
    return rc;
}

int ik_client_pin_add(struct ik_client *c, const struct ik_pin *p, uint64_t *generation,
                      struct ik_error *err)
{
    struct wargs a = {.op = W_ADD, .pin = p, .fd = -1};
    int rc = ik_pin_check(p, err);
    return rc ? rc : do_write(c, &a, generation, err);
}

int ik_client_pin_remove(struct ik_client *c, const char *cid, uint64_t *generation,
                         struct ik_error *err)
{
    struct wargs a = {.op = W_RM, .cid = cid, .fd = -1};
    return do_write(c, &a, generation, err);
}

int ik_client_pin_touch(struct ik_client *c, const char *cid, uint64_t *generation,
                        struct ik_error *err)
{
    struct wargs a = {.op = W_TOUCH, .cid = cid, .fd = -1};
    return do_write(c, &a, generation, err);
}

int ik_client_import_fd(struct ik_client *c, int fd, const struct ik_import_options *o,
                        struct ik_import_result *res, uint64_t *generation, struct ik_error *err)
{
    struct ik_import_options def;
    struct wargs a = {.op = W_IMPORT, .fd = fd, .imp = o, .res = res};
    if (!o) {
        ik_import_options_init(&def);
        a.imp = &def;
    }
    return do_write(c, &a, generation, err);
}

int ik_client_import_stream(struct ik_client *c, struct ArrowArrayStream *stream,
                            const struct ik_import_options *o, struct ik_import_result *res,
                            uint64_t *generation, struct ik_error *err)
{
    struct ik_import_options def;
    struct wargs a = {.op = W_IMPORT_STREAM, .stream = stream, .fd = -1, .imp = o, .res = res};
    int rc;
    if (!o) {
        ik_import_options_init(&def);
        a.imp = &def;
    }
    rc = do_write(c, &a, generation, err);
    if (stream->release)
        stream->release(stream);
    return rc;
}
