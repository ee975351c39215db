/* The client: options, the connection pool, request/reply exchange with the daemon, and
 * queries along the zero_copy, ipc_stream and traditional paths (direct.c holds the
 * daemon-down path, write.c the writes). */
#include <jansson.h>
#include <stdio.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "ipfskit/builder.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"
#include "proto/proto.h"

static const char *const method_names[] = {"auto", "zero_copy", "ipc_stream", "direct",
                                           "traditional"};

const char *ik_method_name(enum ik_method m)
{
    return (unsigned)m < 5 ? method_names[m] : "?";
}

int ik_method_from_name(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(name, method_names[i]) == 0)
            return i;
    return -1;
}

double ik__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ik_client_options_init(struct ik_client_options *o)
{
    memset(o, 0, sizeof *o);
}

static void user_name(uid_t uid, char *buf, size_t cap)
{
    struct passwd pw, *found = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &found) == 0 && found)
        snprintf(buf, cap, "%s (uid %u)", found->pw_name, (unsigned)uid);
    else
        snprintf(buf, cap, "uid %u", (unsigned)uid);
}

/* A data directory of another user, or a daemon of another user on ours: that daemon refuses
 * us (it serves its own uid and root) and the files are not ours to read, so say that, not
 * what fails first. Root may use any. */
static int check_owner(const char *dir, const char *sock, struct ik_error *err)
{
    struct stat sb;
    char owner[96], me[96];
    uid_t uid = geteuid();
    bool dir_theirs = stat(dir, &sb) == 0 && sb.st_uid != uid;
    if (uid == 0)
        return 0;
    if (!dir_theirs && (lstat(sock, &sb) != 0 || !S_ISSOCK(sb.st_mode) || sb.st_uid == uid))
        return 0;
    user_name(sb.st_uid, owner, sizeof owner);
    user_name(uid, me, sizeof me);
    if (dir_theirs)
        return ik_error_set(err, EPERM,
                            "the data directory %s belongs to %s, not to you, %s: only its "
                            "owner (or root) can use it and its daemon; run as that user, or use "
                            "a directory of your own (--path DIR or IPFS_KIT_PATH)",
                            dir, owner, me);
    return ik_error_set(err, EPERM,
                        "the daemon socket %s belongs to %s, not to you, %s: a daemon of that "
                        "user serves your data directory and answers only its owner (or root); "
                        "stop it (as that user) and start your own",
                        sock, owner, me);
}

int ik_client_open(const struct ik_client_options *o, struct ik_client **out, struct ik_error *err)
{
    struct ik_client *c = calloc(1, sizeof *c);
    int rc;
    *out = NULL;
    if (!c)
        return ik_error_set(err, ENOMEM, "out of memory");
    if (o)
        c->opts = *o;
    if (c->opts.path && c->opts.path[0])
        snprintf(c->dir, sizeof c->dir, "%s", c->opts.path);
    else if ((rc = ik_data_dir(c->dir, sizeof c->dir, err)) != 0) {
        free(c);
        return rc;
    }
    c->opts.path = NULL; /* borrowed from the caller: keep our copy only */
    snprintf(c->sock_path, sizeof c->sock_path, "%s/daemon.sock", c->dir);
    if ((rc = check_owner(c->dir, c->sock_path, err)) != 0 ||
        (rc = ik_config_load(c->dir, &c->cfg, err)) != 0) {
        free(c);
        return rc;
    }
    c->timeout_ms = c->opts.timeout_ms > 0 ? c->opts.timeout_ms : c->cfg.timeout_s * 1000;
    if (c->timeout_ms <= 0)
        c->timeout_ms = 30000;
    pthread_mutex_init(&c->mu, NULL);
    ik__fork_register(c);
    *out = c;
    return 0;
}

static void snap_drop(struct ik_client *c, struct ik__snap_ref *r)
{
    (void)c;
    ik__snap_unref(r);
}

/* Makes r (a reference of the caller's) the client's cached state of `slot`, with a reference
 * of the cache's own. */
static void snap_install(struct ik_client *c, int slot, struct ik__snap_ref *r)
{
    struct ik__snap_ref *old;
    atomic_fetch_add(&r->refs, 1);
    pthread_mutex_lock(&c->mu);
    old = c->snaps[slot];
    c->snaps[slot] = r;
    pthread_mutex_unlock(&c->mu);
    snap_drop(c, old);
}

static void watch_drop(struct ik_client *c, struct ik__watch *w)
{
    bool last;
    if (!w)
        return;
    pthread_mutex_lock(&c->mu);
    last = --w->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last) {
        munmap((void *)(uintptr_t)w->page, IK_VPAGE_SIZE);
        close(w->fd);
        free(w);
    }
}

void ik_client_close(struct ik_client *c)
{
    if (!c)
        return;
    ik__fork_unregister(c);
    watch_drop(c, c->watch);
    for (int i = 0; i < IK_CLIENT_SNAP_TABLES; i++)
        snap_drop(c, c->snaps[i]);
    for (int i = 0; i < c->n_idle; i++)
        close(c->idle[i]);
    pthread_mutex_destroy(&c->mu);
    ik_config_reset(&c->cfg);
    free(c);
}

const char *ik_client_path(const struct ik_client *c)
{
    return c->dir;
}

void ik_result_init(struct ik_result *r)
{
    memset(r, 0, sizeof *r);
    r->method_name = r->source = r->detail = "";
}

void ik_result_reset(struct ik_result *r)
{
    if (r->stream.release)
        r->stream.release(&r->stream);
    ik_result_init(r);
}

/* ---- connections ---------------------------------------------------------------------- */

static int conn_get(struct ik_client *c, int *fd, bool *reused, struct ik_error *err)
{
    pthread_mutex_lock(&c->mu);
    if (c->n_idle > 0) {
        *fd = c->idle[--c->n_idle];
        pthread_mutex_unlock(&c->mu);
        *reused = true;
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    *reused = false;
    return ik_sock_connect_unix(c->sock_path, c->timeout_ms, fd, err);
}

/* Gives a connection back to the pool once its reply has been read exactly; one with bytes
 * left over (a broken reply) is closed. */
static void conn_put(struct ik_client *c, int fd, const struct ik_sock_reader *rd)
{
    if (rd && ik_sock_reader_pending(rd) != 0) {
        close(fd);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (c->n_idle < IK_CLIENT_POOL) {
        c->idle[c->n_idle++] = fd;
        fd = -1;
    }
    pthread_mutex_unlock(&c->mu);
    if (fd >= 0)
        close(fd);
}

/* One exchange: sends `req`, receives the reply header (and its fd) through `rd`, as a tree in
 * *hdr, or when `fast` is given, as its query fields in *fast (with *hdr NULL when the cheap
 * reader could take the header, else the tree as well). On success
 * *conn is the connection (give it back with conn_put once any data frames are read through
 * `rd`, or close it). A pooled connection that turns out dead (daemon restarted) is replaced
 * once. */
static int exchange(struct ik_client *c, const char *req, int pass_fd, int reply_timeout_ms,
                    json_t **hdr, struct ik_reply_query *fast, int *fds, int *n_fds, int *conn,
                    struct ik_sock_reader *rd, struct ik_timings *t, struct ik_error *err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        uint8_t *payload = NULL;
        size_t len = 0;
        bool reused = false;
        double t0 = ik__mono_ms(), t1;
        int fd = -1, rc = conn_get(c, &fd, &reused, err), got[IK_PROTO_MAX_FDS], n_got = 0;
        if (rc != 0)
            return rc;
        t1 = ik__mono_ms();
        if (t)
            t->connect_ms += t1 - t0;
        ik_sock_reader_init(rd, fd, true);
        rc = ik_sock_send_frame(fd, req, strlen(req), pass_fd, c->timeout_ms, err);
        if (rc == 0)
            rc = ik_sock_reader_frame_fds(rd, IK_PROTO_MAX_HEADER, &payload, &len, got,
                                          IK_PROTO_MAX_FDS, &n_got, reply_timeout_ms, err);
        if (rc != 0) {
            ik_sock_reader_reset(rd);
            close(fd);
            if (reused && (rc == IK_EOS || rc == EPIPE || rc == ECONNRESET))
                continue; /* stale pooled connection: try a fresh one */
            if (rc == IK_EOS)
                rc = ik_error_set(err, IK_EPROTO,
                                  "the daemon closed the connection without "
                                  "a reply");
            return rc;
        }
        if (t)
            t->request_ms += ik__mono_ms() - t1;
        if (fast && ik_reply_query_fast((const char *)payload, len, fast) == 0) {
            *hdr = NULL; /* our daemon's compact header, read without building a tree */
            rc = 0;
        } else {
            rc = ik_reply_parse((const char *)payload, len, hdr, err);
            if (rc == 0 && fast)
                ik_reply_query_from(*hdr, fast);
        }
        free(payload);
        if (rc == IK_EREMOTE && *hdr && ik_reply_error_code(*hdr) &&
            strcmp(ik_reply_error_code(*hdr), "gone") == 0)
            rc = IK_EGONE; /* the daemon's message names the oldest version kept */
        if (rc != 0) {
            bool remote = rc == IK_EREMOTE;
            if (remote) /* the daemon's verdict, as the client's own code */
                rc = ik_reply_errno(ik_reply_error_code(*hdr));
            if (*hdr) {
                json_decref(*hdr);
                *hdr = NULL;
            }
            for (int i = 0; i < n_got; i++)
                close(got[i]);
            if (remote || rc == IK_EGONE)
                conn_put(c, fd, rd); /* an error reply leaves the connection usable */
            else
                close(fd);
            return rc;
        }
        *conn = fd;
        if (fds) {
            memcpy(fds, got, (size_t)n_got * sizeof *got);
            *n_fds = n_got;
        } else {
            for (int i = 0; i < n_got; i++)
                close(got[i]);
        }
        return 0;
    }
    return ik_error_set(err, IK_EDAEMON, "no daemon answers on %s", c->sock_path);
}

int ik_client_call(struct ik_client *c, const char *request_json, char **reply_json,
                   struct ik_error *err)
{
    struct ik_sock_reader rd;
    json_t *hdr = NULL;
    int conn = -1;
    int rc =
        exchange(c, request_json, -1, c->timeout_ms, &hdr, NULL, NULL, NULL, &conn, &rd, NULL, err);
    if (rc != 0)
        return rc;
    conn_put(c, conn, &rd);
    *reply_json = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    return *reply_json ? 0 : ik_error_set(err, ENOMEM, "out of memory");
}

/* Reads data frames until the zero-length end frame into one malloc'd buffer, each frame
 * received straight into it. */
static int read_data(struct ik_client *c, struct ik_sock_reader *rd, uint8_t **data, size_t *len,
                     struct ik_error *err)
{
    struct ik_sock_dst dst = {0};
    for (;;) {
        size_t plen = 0;
        int rc =
            ik_sock_reader_frame_append(rd, IK_PROTO_MAX_DATA, &dst, &plen, c->timeout_ms, err);
        if (rc != 0) {
            free(dst.p);
            return rc == IK_EOS ? ik_error_set(err, IK_EPROTO, "reply ended before its end frame")
                                : rc;
        }
        if (plen == 0)
            break;
    }
    *data = dst.p;
    *len = dst.len;
    return 0;
}

static void free_cb(void *ctx)
{
    free(ctx);
}

/* The schema of the query's result: the table's, projected to q->columns. */
static int projected_schema(const struct ik_query *q, struct ArrowSchema *out, struct ik_error *err)
{
    struct ik_builder *b = NULL;
    struct ArrowSchema full = {0};
    struct ArrowArray empty = {0}, res = {0};
    struct ik_query proj;
    int rc;
    ik_query_init(&proj, q->table);
    proj.columns = q->columns; /* borrowed: only the projection matters here */
    proj.n_columns = q->n_columns;
    rc = ik_builder_create_table(q->table, 0, &b, err);
    if (rc == 0)
        rc = ik_builder_finish(b, NULL, &full, &empty, err);
    ik_builder_destroy(b);
    if (rc == 0) {
        rc = ik_query_apply(&proj, &full, &empty, out, &res, NULL, err);
        if (rc == 0)
            res.release(&res);
        empty.release(&empty);
        full.release(&full);
    }
    return rc;
}

/* Decodes the data frames of a reply into *out: JSON rows of `json_schema`, or (NULL) an Arrow
 * IPC stream. */
int ik__client_decode(struct ik_client *c, struct ik_sock_reader *rd,
                      const struct ArrowSchema *json_schema, struct ArrowArrayStream *out,
                      struct ik_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_data(c, rd, &data, &len, err);
    if (rc != 0)
        return rc;
    if (json_schema) {
        struct ArrowSchema s = {0};
        struct ArrowArray a = {0};
        rc = ik_json_rows_read(NULL, json_schema, (const char *)data, len, &s, &a, err);
        free(data);
        if (rc == 0)
            rc = ik_batch_stream(&s, &a, out, err);
        return rc;
    }
    {
        struct ik_buffer *buf = NULL;
        struct ik_read_options ro;
        bool is_file = false;
        if (len == 0) {
            free(data);
            return ik_error_set(err, IK_EPROTO, "ipc_stream reply carried no bytes");
        }
        rc = ik_buffer_wrap(data, len, free_cb, data, &buf);
        if (rc != 0) {
            free(data);
            return ik_error_set(err, rc, "out of memory");
        }
        ik_read_options_init(&ro);
        rc = ik_ipc_open_stream(buf, &ro, out, &is_file, err);
        ik_buffer_unref(buf);
        return rc;
    }
}

/* Decodes the data frames of an ipc_stream or traditional reply into out->stream. */
static int decode_rows(struct ik_client *c, const struct ik_query *q, struct ik_sock_reader *rd,
                       bool json, struct ik_result *out, struct ik_error *err)
{
    struct ArrowSchema proj = {0};
    int rc;
    if (!json)
        return ik__client_decode(c, rd, NULL, &out->stream, err);
    if ((rc = projected_schema(q, &proj, err)) != 0)
        return rc;
    rc = ik__client_decode(c, rd, &proj, &out->stream, err);
    proj.release(&proj);
    return rc;
}

static const char *static_compression(const char *name)
{
    if (name && strcmp(name, "lz4") == 0)
        return "lz4";
    if (name && strcmp(name, "zstd") == 0)
        return "zstd";
    return "none";
}

static int snap_slot(const char *table)
{
    return strcmp(table, "pin_index") == 0 ? 0 : strcmp(table, "vfs_stats") == 0 ? 1 : -1;
}

/* The cached mapping of a file-backed table with a reference for the caller, or NULL. */
static struct ik__snap_ref *snap_held(struct ik_client *c, const char *table)
{
    int slot = snap_slot(table);
    struct ik__snap_ref *r = NULL;
    if (slot < 0)
        return NULL;
    pthread_mutex_lock(&c->mu);
    if ((r = c->snaps[slot]) != NULL)
        atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* The snapshot passed as fds[0] — or with `segmented`, the state: a manifest and its segments
 * in fds[1..n) — (all consumed), mapped: the cached mapping when the daemon passed the same
 * immutable file as last time, else a new one that replaces it in the cache. The caller drops
 * its reference with snap_drop. */
static int snap_get(struct ik_client *c, const char *table, uint64_t version, int64_t table_rows,
                    const int *fds, int n, bool segmented, struct ik__snap_ref **out,
                    struct ik_error *err)
{
    int slot = snap_slot(table), i;
    struct ik__snap_ref *r, *prev = NULL;
    struct stat sb;
    int rc;
    bool have_id = slot >= 0 && fstat(fds[0], &sb) == 0;
    *out = NULL;
    if (have_id) {
        pthread_mutex_lock(&c->mu);
        r = c->snaps[slot];
        if (r && r->dev == sb.st_dev && r->ino == sb.st_ino) {
            atomic_fetch_add(&r->refs, 1);
            pthread_mutex_unlock(&c->mu);
            for (i = 0; i < n; i++)
                close(fds[i]);
            *out = r;
            return 0;
        }
        if ((prev = r) != NULL)
            atomic_fetch_add(&r->refs, 1);
        pthread_mutex_unlock(&c->mu);
        /* another client of this process mapped it already */
        if ((r = ik__shared_find(version, sb.st_dev, sb.st_ino, c->opts.validate)) != NULL) {
            for (i = 0; i < n; i++)
                close(fds[i]);
            snap_drop(c, prev);
            snap_install(c, slot, r);
            *out = r;
            return 0;
        }
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        for (i = 0; i < n; i++)
            close(fds[i]);
        snap_drop(c, prev);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    r->manifest_fd = -1;
    if (segmented) {
        rc = ik__client_map_state(c, fds, n, prev ? prev->set : NULL, &r->set, err);
        if (rc == 0)
            r->manifest_fd = fds[0];
        else
            close(fds[0]);
    } else {
        rc = ik_snapshot_open_fd(fds[0], c->opts.validate, &r->s, err);
        for (i = 0; i < n; i++)
            close(fds[i]);
    }
    snap_drop(c, prev);
    if (rc != 0) {
        free(r);
        return rc;
    }
    atomic_init(&r->refs, 1);
    r->validated = c->opts.validate;
    r->version = version;
    r->table_rows = table_rows;
    if (have_id) {
        r->dev = sb.st_dev;
        r->ino = sb.st_ino;
        snap_install(c, slot, r);
        ik__shared_put(r);
    }
    *out = r;
    return 0;
}

static int need_daemon_table(const char *table)
{
    return strcmp(table, "metrics") == 0 || strcmp(table, "backend_health") == 0;
}

/* The zero_copy result: from the snapshot passed as `fd`, or from `held` (the mapping named in
 * "have") when the daemon says the client holds the published one. Consumes fd. */
static int zero_copy_result(struct ik_client *c, const struct ik_query *q,
                            const struct ik_reply_query *hdr, const int *fds, int n_fds,
                            struct ik__snap_ref *held, struct ik_result *out, struct ik_error *err)
{
    struct ik__snap_ref *s = NULL;
    int rc, i, fd = n_fds > 0 ? fds[0] : -1;
    if (n_fds > 0 && n_fds != (hdr->segments > 0 ? hdr->segments + 1 : 1)) {
        for (i = 0; i < n_fds; i++)
            close(fds[i]);
        rc = ik_error_set(err, IK_EPROTO, "zero_copy reply carried %d descriptors for %d segments",
                          n_fds, hdr->segments);
    } else if (fd >= 0)
        rc = snap_get(c, q->table, out->version, out->table_rows, fds, n_fds, hdr->segments > 0, &s,
                      err);
    else if (held && hdr->held)
        rc = 0, s = held, held = NULL;
    else
        rc = ik_error_set(err, IK_EPROTO, "zero_copy reply carried no file descriptor");
    if (rc == 0) {
        rc = ik__client_ref_query(s, q, out, err);
        snap_drop(c, s);
    }
    snap_drop(c, held);
    out->method = IK_METHOD_ZERO_COPY;
    out->source = "arrow_ipc_daemon";
    out->detail = fd >= 0 ? "fd" : "held";
    return rc;
}

/* ---- the version page ----------------------------------------------------------------- */

/* The first of a file-backed table's words in the version page, or -1. */
static int page_word(const char *table)
{
    int t = snap_slot(table) < 0 ? -1 : ik_table_index(table);
    return t < 0 ? -1 : IK_VPAGE_W_TABLES + IK_VPAGE_T_WORDS * t;
}

/* Whether the page, read consistently (seqlock), names `s` as the table's published snapshot
 * while the daemon serves. A read that overlaps a rewrite is retried a few times, then counts
 * as no. */
static bool page_read(const _Atomic uint64_t *page, int word, uint64_t *v, uint64_t *dev,
                      uint64_t *ino)
{
    const _Atomic uint64_t *w = page + word;
    for (int tries = 0; tries < 4; tries++) {
        uint64_t seq = atomic_load_explicit(&page[IK_VPAGE_W_SEQ], memory_order_acquire);
        if (seq & 1)
            continue;
        *v = atomic_load_explicit(&w[IK_VPAGE_T_VERSION], memory_order_relaxed);
        *dev = atomic_load_explicit(&w[IK_VPAGE_T_DEV], memory_order_relaxed);
        *ino = atomic_load_explicit(&w[IK_VPAGE_T_INO], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire); /* the words before the second look */
        if (atomic_load_explicit(&page[IK_VPAGE_W_SEQ], memory_order_relaxed) != seq)
            continue;
        return atomic_load_explicit(&page[IK_VPAGE_W_STATE], memory_order_acquire) ==
               IK_VPAGE_SERVING;
    }
    return false;
}

/* Whether s is the state (version, device, inode) the page names. */
static bool is_state(const struct ik__snap_ref *s, uint64_t v, uint64_t dev, uint64_t ino)
{
    return v == s->version && dev == (uint64_t)s->dev && ino == (uint64_t)s->ino;
}

/* Asks the daemon for its version page on a connection of its own, kept open afterwards. A
 * daemon that does not know "watch" is never asked again; any other failure is left for a later
 * query to retry. Never fails the query that triggered it. */
static void watch_open(struct ik_client *c)
{
    static const char req[] = "{\"v\":1,\"op\":\"watch\"}";
    struct ik_sock_reader rd;
    struct ik_error e = {{0}};
    struct ik__watch *w = NULL;
    json_t *hdr = NULL;
    uint8_t *payload = NULL;
    size_t len = 0;
    void *page = MAP_FAILED;
    int conn = -1, pfd = -1, rc;

    pthread_mutex_lock(&c->mu);
    if (c->watch || c->watch_refused || c->watch_opening) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->watch_opening = true;
    pthread_mutex_unlock(&c->mu);

    rc = ik_sock_connect_unix(c->sock_path, c->timeout_ms, &conn, &e);
    if (rc == 0)
        rc = ik_sock_send_frame(conn, req, sizeof req - 1, -1, c->timeout_ms, &e);
    if (rc == 0) {
        ik_sock_reader_init(&rd, conn, true);
        rc =
            ik_sock_reader_frame(&rd, IK_PROTO_MAX_HEADER, &payload, &len, &pfd, c->timeout_ms, &e);
        if (rc == 0 && ik_sock_reader_pending(&rd) != 0)
            rc = IK_EPROTO; /* nothing may follow the header on this connection */
        ik_sock_reader_reset(&rd);
    }
    if (rc == 0)
        rc = ik_reply_parse((const char *)payload, len, &hdr, &e);
    if (rc == IK_EREMOTE && strstr(e.message, "unknown op")) {
        pthread_mutex_lock(&c->mu);
        c->watch_refused = true; /* an older daemon */
        pthread_mutex_unlock(&c->mu);
    }
    if (rc == 0 && pfd >= 0 && json_is_true(json_object_get(hdr, "watch")))
        page = mmap(NULL, IK_VPAGE_SIZE, PROT_READ, MAP_SHARED, pfd, 0);
    if (page != MAP_FAILED &&
        atomic_load_explicit(&((const _Atomic uint64_t *)page)[IK_VPAGE_W_MAGIC],
                             memory_order_acquire) == IK_VPAGE_MAGIC &&
        (w = calloc(1, sizeof *w)) != NULL) {
        w->fd = conn;
        w->page = page;
        w->refs = 1; /* the client's */
        conn = -1;
        page = MAP_FAILED;
    }
    if (page != MAP_FAILED)
        munmap(page, IK_VPAGE_SIZE);
    if (pfd >= 0)
        close(pfd);
    if (conn >= 0)
        close(conn);
    free(payload);
    json_decref(hdr);
    pthread_mutex_lock(&c->mu);
    c->watch = w;
    c->watch_opening = false;
    pthread_mutex_unlock(&c->mu);
}

/* q answered from s, which the version page names (t0: when the page was looked at). */
static int page_answer(const struct ik_query *q, const struct ik__snap_ref *s,
                       struct ik_result *out, double t0, struct ik_error *err)
{
    double t1 = ik__mono_ms();
    int rc = ik__client_ref_query(s, q, out, err);
    out->method = IK_METHOD_ZERO_COPY;
    out->source = "arrow_ipc_daemon";
    out->detail = "page";
    out->version = s->version;
    out->table_rows = s->table_rows;
    out->timings.request_ms = t1 - t0; /* the poll and the page read */
    out->timings.decode_ms = ik__mono_ms() - t1;
    return rc;
}

/* Answers `q` from the snapshot the client holds when the version page says the daemon still
 * publishes it, or from the one another client of this process mapped when the page names
 * that (segcache.c's registry): no request, no reply. *answered false leaves the query to the
 * round trip. */
static int answer_from_page(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                            bool *answered, struct ik_error *err)
{
    int slot = snap_slot(q->table), word = page_word(q->table), rc = 0;
    struct ik__snap_ref *s = NULL;
    struct ik__watch *w = NULL;
    struct pollfd p;
    double t0;
    *answered = false;
    if (slot < 0 || word < 0)
        return 0;
    pthread_mutex_lock(&c->mu);
    if (c->watch && (s = c->snaps[slot]) != NULL) {
        w = c->watch;
        w->refs++;
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_mutex_unlock(&c->mu);
    if (!w)
        return 0;
    t0 = ik__mono_ms();
    p.fd = w->fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 0) != 0) {
        /* hung up (the daemon has gone) or readable (it never writes here): stop trusting the
         * page; the round trip finds out what runs now */
        pthread_mutex_lock(&c->mu);
        if (c->watch == w) {
            c->watch = NULL;
            w->refs--; /* the client's reference; ours is dropped below */
        }
        pthread_mutex_unlock(&c->mu);
    } else {
        uint64_t v, dev, ino;
        struct ik__snap_ref *n;
        bool serving = page_read(w->page, word, &v, &dev, &ino);
        if (serving && !is_state(s, v, dev, ino) && dev == (uint64_t)(dev_t)dev &&
            ino == (uint64_t)(ino_t)ino &&
            (n = ik__shared_find(v, (dev_t)dev, (ino_t)ino, c->opts.validate)) != NULL) {
            snap_install(c, slot, n);
            snap_drop(c, s);
            s = n; /* our reference */
        }
        if (serving && is_state(s, v, dev, ino)) {
            rc = page_answer(q, s, out, t0, err);
            *answered = true;
        }
    }
    snap_drop(c, s);
    watch_drop(c, w);
    return rc;
}

static int query_daemon(struct ik_client *c, const struct ik_query *q, enum ik_method m,
                        struct ik_result *out, struct ik_error *err)
{
    struct ik_request req;
    struct ik__snap_ref *held = NULL;
    struct ik_sock_reader rd;
    struct ik_error e1 = {{0}};
    json_t *hdr = NULL;
    struct ik_reply_query fh;
    char *text;
    const char *method;
    int conn = -1, fds[IK_PROTO_MAX_FDS], n_fds = 0, rc, i;
    double t_dec;

    if (m != IK_METHOD_IPC_STREAM && m != IK_METHOD_TRADITIONAL && !c->opts.no_watch) {
        bool answered;
        rc = answer_from_page(c, q, out, &answered, err);
        if (rc != 0 || answered)
            return rc;
    }
    ik_request_init(&req, IK_REQ_QUERY);
    req.query = *q; /* borrowed: not reset below */
    req.transport = m == IK_METHOD_IPC_STREAM    ? IK_TRANSPORT_STREAM
                    : m == IK_METHOD_TRADITIONAL ? IK_TRANSPORT_JSON
                                                 : IK_TRANSPORT_FD;
    req.compression = (enum ik_compression)c->opts.compression;
    /* Name the snapshot we hold mapped: if it is still the published one, the daemon passes
     * no descriptor and we answer from the mapping (the reference kept meanwhile). */
    if (req.transport == IK_TRANSPORT_FD && !c->no_have && (held = snap_held(c, q->table))) {
        req.have.set = (uint64_t)held->dev <= INT64_MAX && (uint64_t)held->ino <= INT64_MAX &&
                       held->version <= INT64_MAX;
        req.have.version = held->version;
        req.have.dev = (uint64_t)held->dev;
        req.have.ino = (uint64_t)held->ino;
    }
    text = ik_request_to_json(&req);
    if (!text) {
        snap_drop(c, held);
        return ik_error_set(err, EINVAL, "query has a value without a JSON form");
    }
    rc = exchange(c, text, -1, c->timeout_ms, &hdr, &fh, fds, &n_fds, &conn, &rd, &out->timings,
                  &e1);
    free(text);
    if (rc != 0 && err)
        *err = e1;
    if (rc == EINVAL && req.have.set && strstr(e1.message, "unknown key \"have\"")) {
        /* a daemon older than "have": ask again without it, and never send it again */
        json_decref(hdr);
        hdr = NULL;
        c->no_have = true;
        req.have.set = false;
        text = ik_request_to_json(&req);
        rc = text ? exchange(c, text, -1, c->timeout_ms, &hdr, &fh, fds, &n_fds, &conn, &rd,
                             &out->timings, err)
                  : ik_error_set(err, EINVAL, "query has a value without a JSON form");
        free(text);
    }
    if (rc != 0) {
        snap_drop(c, held);
        return rc;
    }
    t_dec = ik__mono_ms();
    method = fh.method;
    out->version = fh.version;
    out->table_rows = fh.table_rows;
    if (strcmp(method, "zero_copy") == 0) {
        bool repeated = n_fds == 0 && fh.held;
        rc = zero_copy_result(c, q, &fh, fds, n_fds, held, out, err);
        held = NULL; /* dropped there */
        conn_put(c, conn, &rd);
        if (rc == 0 && repeated && !c->opts.no_watch && page_word(q->table) >= 0)
            watch_open(c); /* queries repeat here: the next ones can skip the round trip */
    } else if (strcmp(method, "ipc_stream") == 0 || strcmp(method, "traditional") == 0) {
        bool json = strcmp(method, "traditional") == 0;
        for (i = 0; i < n_fds; i++)
            close(fds[i]);
        out->copied_rows = out->copied_bytes = -1; /* decoded from the socket: all copied */
        out->matched = fh.matched;
        rc = decode_rows(c, q, &rd, json, out, err);
        if (rc == 0)
            conn_put(c, conn, &rd);
        else
            close(conn);
        out->method = json ? IK_METHOD_TRADITIONAL : IK_METHOD_IPC_STREAM;
        out->source = json ? "traditional_json_fallback" : "arrow_ipc_daemon";
        /* a static string: the header's own value dies with fh */
        out->detail = json ? "json" : static_compression(fh.compression);
    } else {
        for (i = 0; i < n_fds; i++)
            close(fds[i]);
        close(conn);
        rc = ik_error_set(err, IK_EPROTO, "reply header names no known method");
    }
    snap_drop(c, held);
    json_decref(hdr);
    out->timings.decode_ms = ik__mono_ms() - t_dec;
    return rc;
}

void ik__client_daemon_name(struct ik_client *c, char *buf, size_t cap)
{
    long pid = 0;
    if (ik_lock_holder(c->dir, &pid) == 0)
        snprintf(buf, cap, "daemon (PID %ld)", pid);
    else
        snprintf(buf, cap, "daemon");
}

/* A copy of q with its cid filters in canonical form (see ik_query_canonical_cids). */
static int canonical_copy(const struct ik_query *q, struct ik_query *out, struct ik_error *err)
{
    char *json = ik_query_to_json(q);
    int rc;
    ik_query_init(out, NULL);
    if (json == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    rc = ik_query_from_json(json, strlen(json), out, err);
    free(json);
    if (rc == 0)
        rc = ik_query_canonical_cids(out, err);
    return rc;
}

static int run_query(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                     struct ik_error *err);

int ik_client_query(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                    struct ik_error *err)
{
    struct ik_query canon;
    int rc;
    if (!ik_query_has_other_cids(q))
        return run_query(c, q, out, err);
    ik_result_init(out);
    rc = canonical_copy(q, &canon, err);
    if (rc == 0)
        rc = run_query(c, &canon, out, err);
    ik_query_reset(&canon);
    return rc;
}

/* A query on pin_index with a filter cid = X or cid in [...]: a few rows found by index. */
static bool point_lookup(const struct ik_query *q)
{
    if (strcmp(q->table, "pin_index") != 0)
        return false;
    for (size_t i = 0; i < q->n_preds; i++)
        if (strcmp(q->preds[i].column, "cid") == 0 &&
            (q->preds[i].op == IK_OP_EQ || q->preds[i].op == IK_OP_IN))
            return true;
    return false;
}

static int run_query(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                     struct ik_error *err)
{
    enum ik_method m = c->opts.method;
    double t0 = ik__mono_ms();
    char why[sizeof out->reason] = "";
    int rc;
    ik_result_init(out);
    if (!c->cfg.arrow_ipc_enabled && m == IK_METHOD_AUTO)
        m = IK_METHOD_TRADITIONAL; /* Arrow disabled in config: JSON rows */
    if (m == IK_METHOD_DIRECT) {
        rc = ik__client_direct(c, q, out, err);
    } else {
        /* one query and gone: mapping the whole state (a descriptor, a mapping and a
         * footer per segment) costs more than the daemon's lookup and a reply of its rows */
        bool rows = m == IK_METHOD_AUTO && c->opts.one_shot && point_lookup(q);
        rc = query_daemon(c, q, rows ? IK_METHOD_IPC_STREAM : m, out, err);
        if (rc == ETIMEDOUT) { /* stopped or hung: it holds the lock but says nothing */
            char who[64];
            ik__client_daemon_name(c, who, sizeof who);
            snprintf(why, sizeof why, "the %s did not answer within %g s", who,
                     c->timeout_ms / 1000.0);
        }
        if ((rc == IK_EDAEMON || rc == ETIMEDOUT) && m == IK_METHOD_AUTO &&
            !need_daemon_table(q->table)) {
            ik_result_reset(out);
            rc = ik__client_direct(c, q, out, err);
            snprintf(out->reason, sizeof out->reason, "%s", why);
        } else if (rc == ETIMEDOUT) {
            rc = ik_error_set(err, ETIMEDOUT,
                              "%s; %s (check it with 'ipfs-kit daemon status', or raise "
                              "--timeout)",
                              why,
                              need_daemon_table(q->table) ? "this table comes from the daemon"
                                                          : "the method asked for needs it");
        } else if (rc == IK_EDAEMON && need_daemon_table(q->table)) {
            rc = ik_error_set(err, IK_EDAEMON,
                              "%s come from the running daemon, and none "
                              "answers on %s (start it: ipfs-kit daemon start)",
                              q->table, c->sock_path);
        }
    }
    if (rc != 0) {
        ik_result_reset(out);
        return rc;
    }
    if (err != NULL && out->method != IK_METHOD_DIRECT)
        err->message[0] = 0; /* no warning; nothing left from a path tried before */
    out->method_name = ik_method_name(out->method);
    out->timings.total_ms = ik__mono_ms() - t0;
    if (out->matched >= 0) { /* the one batch the stream delivers */
        int64_t rows = out->matched - q->offset;
        rows = rows < 0 ? 0 : rows;
        out->rows = q->limit >= 0 && q->limit < rows ? q->limit : rows;
    }
    return 0;
}

int ik_client_capabilities(struct ik_client *c, char **json, struct ik_error *err)
{
    char *reply = NULL;
    json_t *o, *d = NULL;
    struct ik_error e2 = {{0}};
    int rc = ik_client_call(c, "{\"v\":1,\"op\":\"capabilities\"}", &reply, &e2);
    if (rc == 0) {
        d = json_loads(reply, 0, NULL);
        free(reply);
    }
    {
        json_t *caps = d ? json_object_get(d, "capabilities") : NULL;
        o = json_pack("{s:b,s:b,s:b,s:s,s:O}", "arrow_ipc", c->cfg.arrow_ipc_enabled, "zero_copy",
                      c->cfg.zero_copy, "daemon_running", rc == 0, "path", c->dir, "daemon",
                      caps ? caps : json_null());
    }
    json_decref(d);
    if (!o)
        return ik_error_set(err, ENOMEM, "out of memory");
    *json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return *json ? 0 : ik_error_set(err, ENOMEM, "out of memory");
}

/* For the client's other files (changes.c). */
int ik__client_exchange(struct ik_client *c, const char *req, json_t **hdr,
                        struct ik_reply_query *fast, int *conn, struct ik_sock_reader *rd,
                        struct ik_timings *t, struct ik_error *err)
{
    return exchange(c, req, -1, c->timeout_ms, hdr, fast, NULL, NULL, conn, rd, t, err);
}

void ik__client_conn_put(struct ik_client *c, int fd, const struct ik_sock_reader *rd)
{
    conn_put(c, fd, rd);
}
