/* The daemon's event loop: one thread, epoll, non-blocking sockets. It accepts clients on
 * daemon.sock (mode 0600, peer uid checked), reads request frames, hands each parsed request
 * to handlers.c, and writes replies (with an fd attached when zero-copy) without ever
 * blocking: unsent bytes wait for EPOLLOUT. Workers report back through `done` + eventfd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "http/http.h"

#define TAG_LISTEN ((void *)1)
#define TAG_WAKE ((void *)2)
#define TAG_SIGNAL ((void *)3)
#define IN_CHUNK 4096
#define OUT_BACKLOG (256 * 1024)

double ik_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double ik_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ik_loop_wake(struct ik_daemon *d)
{
    uint64_t one = 1;
    ssize_t n = write(d->wake_fd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

static void conn_watch(struct ik_daemon *d, struct ik_conn *c)
{
    struct epoll_event ev = {0};
    if (c->busy)
        ev.events = 0; /* lent out: the loop must not touch it */
    else if (c->out_len - c->out_off > OUT_BACKLOG)
        ev.events = EPOLLOUT; /* a client that does not read its replies gets no more */
    else
        ev.events = EPOLLIN | (c->out_len > c->out_off ? EPOLLOUT : 0u);
    if (ev.events == c->watched)
        return; /* one syscall less per request in the common case */
    ev.data.ptr = c;
    if (epoll_ctl(d->ep_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->watched = ev.events;
}

static void conn_close(struct ik_daemon *d, struct ik_conn *c)
{
    struct ik_conn **pp;
    for (pp = &d->parked; *pp; pp = &(*pp)->next_parked)
        if (*pp == c) {
            *pp = c->next_parked;
            break;
        }
    if (c->prev)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    epoll_ctl(d->ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    free(c->parked_reply);
    c->parked_reply = NULL;
    if (c->in_fd >= 0)
        close(c->in_fd);
    if (c->out_fd >= 0)
        close(c->out_fd);
    c->in_fd = c->out_fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->closed = true;
    c->next_closed = d->closed; /* freed by conns_free_closed once no event can name it */
    d->closed = c;
}

static void conns_free_closed(struct ik_daemon *d)
{
    while (d->closed) {
        struct ik_conn *c = d->closed;
        d->closed = c->next_closed;
        free(c);
    }
}

/* Sends what is pending; returns -1 when the connection must be closed. */
static int conn_flush(struct ik_daemon *d, struct ik_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = 0;
        int rc = ik_sock_sendmsg_fd(c->fd, c->out + c->out_off, c->out_len - c->out_off, c->out_fd,
                                    &n, NULL);
        if (rc == EAGAIN)
            break;
        if (rc != 0)
            return -1;
        if (c->out_fd >= 0) { /* it went with the first byte sent */
            close(c->out_fd);
            c->out_fd = -1;
        }
        c->out_off += (size_t)n;
        atomic_fetch_add_explicit(&d->metrics.bytes_served, n, memory_order_relaxed);
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->closing)
            return -1;
    }
    return 0;
}

void ik_conn_send(struct ik_daemon *d, struct ik_conn *c, const char *json, int pass_fd)
{
    size_t n = strlen(json), need = c->out_len + 4 + n;
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 256;
        uint8_t *p;
        while (cap < need)
            cap *= 2;
        p = realloc(c->out, cap);
        if (!p) {
            if (pass_fd >= 0)
                close(pass_fd);
            c->closing = true;
            return;
        }
        c->out = p;
        c->out_cap = cap;
    }
    ik_frame_put_header(c->out + c->out_len, (uint32_t)n);
    memcpy(c->out + c->out_len + 4, json, n);
    if (pass_fd >= 0 && c->out_fd < 0 && c->out_len == c->out_off)
        c->out_fd = pass_fd; /* taken: no second dup, closed once sent */
    else if (pass_fd >= 0)
        close(pass_fd);
    c->out_len = need;
    if (c->busy || c->dead)
        return; /* a worker owns the socket; it flushes before handing back */
    if (conn_flush(d, c) < 0) {
        c->dead = true; /* closed by whoever called us, at a safe point */
        return;
    }
    conn_watch(d, c);
}

/* Closes the connection when it is dead or done; returns true when it was freed. */
static bool conn_settle(struct ik_daemon *d, struct ik_conn *c)
{
    if (c->busy)
        return false;
    if (c->dead || (c->closing && c->out_len == c->out_off)) {
        conn_close(d, c);
        return true;
    }
    conn_watch(d, c);
    return false;
}

void ik_conn_send_error(struct ik_daemon *d, struct ik_conn *c, const char *code,
                        const char *message)
{
    char *json = ik_reply_error(code, message);
    atomic_fetch_add_explicit(&d->metrics.errors, 1, memory_order_relaxed);
    if (!json) {
        c->closing = true;
        ik_conn_send(d, c, "{\"ok\":false}", -1);
        return;
    }
    ik_conn_send(d, c, json, -1);
    free(json);
}

static void on_accept(struct ik_daemon *d)
{
    for (;;) {
        struct epoll_event ev = {0};
        struct ik_conn *c;
        uid_t uid;
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE: the listener stays readable, we retry next turn */
        if (ik_sock_peer_uid(fd, &uid, NULL) != 0 || (uid != d->uid && uid != 0)) {
            static const char msg[] = "{\"ok\":false,\"error\":{\"code\":\"forbidden\","
                                      "\"message\":\"this daemon serves its own user only\"}}";
            uint8_t hdr[4];
            ik_frame_put_header(hdr, (uint32_t)(sizeof msg - 1));
            if (send(fd, hdr, 4, MSG_NOSIGNAL | MSG_DONTWAIT) == 4) /* best effort, then close */
                (void)!send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->in_fd = c->out_fd = -1;
        ev.events = c->watched = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = d->conns;
        if (d->conns)
            d->conns->prev = c;
        d->conns = c;
        atomic_fetch_add_explicit(&d->metrics.connections, 1, memory_order_relaxed);
    }
}

/* Parses and dispatches every complete frame in c->in. Returns -1 to close. */
static int conn_parse(struct ik_daemon *d, struct ik_conn *c)
{
    while (!c->busy && !c->closing && c->in_len > 0 && c->out_len - c->out_off <= OUT_BACKLOG) {
        struct ik_error err = {{0}};
        struct ik_request req;
        size_t off;
        uint32_t plen;
        int rc = ik_frame_parse(c->in, c->in_len, IK_PROTO_MAX_REQUEST, &off, &plen, &err);
        int in_fd;
        if (rc == IK_EAGAIN)
            return 0;
        if (rc != 0) {
            c->closing = true; /* oversized: we cannot find the next frame boundary */
            ik_conn_send_error(d, c, "too_large", err.message);
            return 0;
        }
        c->t_start = ik_now_ms();
        rc = ik_request_parse((const char *)c->in + off, plen, &req, &err);
        memmove(c->in, c->in + off + plen, c->in_len - off - plen);
        c->in_len -= off + plen;
        in_fd = c->in_fd;
        c->in_fd = -1;
        if (rc != 0) {
            if (in_fd >= 0)
                close(in_fd);
            ik_metrics_request(&d->metrics, -1, -1, 0, true);
            /* bad_request, or unsupported for another version; then close: a peer that
             * sends what no client of ours writes is not worth a second guess */
            c->closing = true;
            ik_conn_send_error(d, c, ik_reply_code(rc), err.message);
            return 0;
        }
        ik_handle_request(d, c, &req, in_fd); /* takes req and in_fd */
    }
    return 0;
}

static int conn_read(struct ik_daemon *d, struct ik_conn *c)
{
    for (;;) {
        struct ik_error err = {{0}};
        ssize_t n = 0;
        int fd = -1, rc;
        if (c->in_cap - c->in_len < IN_CHUNK) {
            size_t cap = c->in_cap ? c->in_cap * 2 : IN_CHUNK * 2;
            uint8_t *p;
            if (cap > IK_PROTO_MAX_REQUEST + 8 + IN_CHUNK * 2)
                cap = IK_PROTO_MAX_REQUEST + 8 + IN_CHUNK * 2;
            if (cap <= c->in_cap)
                return conn_parse(d, c); /* full: the parser will refuse the frame */
            p = realloc(c->in, cap);
            if (!p)
                return -1;
            c->in = p;
            c->in_cap = cap;
        }
        /* An import request carries its file; a frame with several descriptors is a
         * protocol error (all of them closed), as docs/protocol.md says. */
        rc = ik_sock_recvmsg_fd(c->fd, c->in + c->in_len, c->in_cap - c->in_len, &n, &fd, &err);
        if (rc == EAGAIN)
            break;
        if (rc == IK_EPROTO) {
            c->closing = true;
            ik_conn_send_error(d, c, ik_reply_code(rc), err.message);
            return 0;
        }
        if (rc != 0)
            return -1;
        if (fd >= 0) {
            if (c->in_fd >= 0)
                close(c->in_fd);
            c->in_fd = fd;
        }
        if (n == 0)
            return -1; /* peer closed */
        c->in_len += (size_t)n;
        if (conn_parse(d, c) < 0)
            return -1;
        /* Every byte read was a whole frame: stop here rather than spend a recvmsg learning
         * EAGAIN; epoll is level-triggered and brings us back when more has come. */
        if (c->busy || c->closing || c->in_len == 0)
            break;
    }
    return 0;
}

static void on_conn(struct ik_daemon *d, struct ik_conn *c, uint32_t events)
{
    if (c->busy || c->closed) /* closed by an earlier event of this batch */
        return;
    if ((events & EPOLLOUT) && conn_flush(d, c) < 0)
        c->dead = true;
    if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (conn_read(d, c) < 0) {
            c->closing = true; /* peer gone or broken: finish sending what we can */
            if (c->out_len == c->out_off || (events & (EPOLLHUP | EPOLLERR)))
                c->dead = true;
        }
        if (!c->busy && !c->dead && conn_flush(d, c) < 0)
            c->dead = true;
    }
    conn_settle(d, c);
}

/* Finished jobs: hand connections back, send deferred replies. */
static void on_wake(struct ik_daemon *d)
{
    uint64_t v;
    struct ik_job *j;
    ssize_t n = read(d->wake_fd, &v, sizeof v);
    (void)n;
    while ((j = ik_queue_try_pop(&d->done)) != NULL) {
        struct ik_conn *c = j->conn;
        ik_handle_done(d, j);
        if (c->busy)
            continue;
        if (!c->dead && conn_flush(d, c) < 0)
            c->dead = true;
        if (!c->dead && !c->closing && c->in_len > 0)
            conn_parse(d, c); /* requests pipelined behind the slow one */
        conn_settle(d, c);
    }
    ik_release_parked(d);
}

void ik_conn_settle(struct ik_daemon *d, struct ik_conn *c)
{
    conn_settle(d, c);
}

static int listen_socket(struct ik_daemon *d, struct ik_error *err)
{
    struct sockaddr_un sa = {0};
    mode_t old;
    if (strlen(d->sock_path) >= sizeof sa.sun_path)
        return ik_error_set(err, ENAMETOOLONG,
                            "socket path '%s' is longer than %zu bytes (choose a shorter "
                            "IPFS_KIT_PATH)",
                            d->sock_path, sizeof sa.sun_path - 1);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, d->sock_path, strlen(d->sock_path) + 1);
    d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->listen_fd < 0)
        return ik_error_set(err, errno, "socket: %s", strerror(errno));
    unlink(d->sock_path); /* we hold the lock: any socket file left is stale */
    old = umask(077);
    if (bind(d->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        umask(old);
        return ik_error_set(err, e, "bind %s: %s", d->sock_path, strerror(e));
    }
    umask(old);
    chmod(d->sock_path, 0600);
    if (listen(d->listen_fd, 1024) != 0)
        return ik_error_set(err, errno, "listen %s: %s", d->sock_path, strerror(errno));
    return 0;
}

static int ep_add(struct ik_daemon *d, int fd, void *tag)
{
    struct epoll_event ev = {0};
    ev.events = EPOLLIN;
    ev.data.ptr = tag;
    return epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void daemon_free(struct ik_daemon *d)
{
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        unlink(d->sock_path);
    }
    if (d->ep_fd >= 0)
        close(d->ep_fd);
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    if (d->pins.fd >= 0)
        close(d->pins.fd);
    if (d->vfs.fd >= 0)
        close(d->vfs.fd);
    ik_store_close(d->wstore);
    ik_vpage_free(d);
    for (int i = 0; i < IK_DAEMON_TABLES; i++)
        if (d->schemas[i].release)
            d->schemas[i].release(&d->schemas[i]);
    ik_config_reset(&d->cfg);
    if (d->lock_fd >= 0)
        ik_lock_release(d->lock_fd, d->dir);
    free(d);
}

static void loop(struct ik_daemon *d, int sig_fd)
{
    struct epoll_event evs[64];
    while (!d->stopping || d->parked) {
        int i, n = epoll_wait(d->ep_fd, evs, 64, d->stopping ? 100 : -1);
        if (n < 0 && errno != EINTR)
            break;
        for (i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == TAG_LISTEN)
                on_accept(d);
            else if (tag == TAG_WAKE)
                on_wake(d);
            else if (tag == TAG_SIGNAL) {
                struct signalfd_siginfo si;
                ssize_t r = read(sig_fd, &si, sizeof si);
                (void)r;
                fprintf(stderr, "ipfs-kit daemon: signal %u, shutting down\n", si.ssi_signo);
                d->stopping = true;
            } else
                on_conn(d, tag, evs[i].events);
        }
        conns_free_closed(d);
        if (d->stopping && d->parked && n == 0)
            break; /* a write reply that never got its snapshot: give up on it */
    }
}

int ik_daemon_run(const char *dir, bool quiet, struct ik_error *err)
{
    struct ik_daemon *d = calloc(1, sizeof *d);
    sigset_t mask;
    int rc, sig_fd = -1;
    long holder = 0;
    if (!d)
        return ik_error_set(err, ENOMEM, "out of memory");
    d->listen_fd = d->ep_fd = d->wake_fd = d->lock_fd = d->pins.fd = d->vfs.fd = -1;
    d->vpage_fd = -1;
    d->uid = getuid();
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    snprintf(d->sock_path, sizeof d->sock_path, "%s/daemon.sock", dir);
    ik_metrics_init(&d->metrics);
    ik_queue_init(&d->writes);
    ik_queue_init(&d->replies);
    ik_queue_init(&d->done);
    pthread_mutex_init(&d->build_mu, NULL);
    pthread_cond_init(&d->build_cv, NULL);
    pthread_mutex_init(&d->pub_mu, NULL);

    if ((rc = ik_data_dir_ensure(dir, err)) != 0 || (rc = ik_config_load(dir, &d->cfg, err)) != 0)
        goto fail;
    if ((rc = ik_lock_acquire(dir, &d->lock_fd, &holder, err)) != 0)
        goto fail;
    rc = ik_store_open(dir, IK_STORE_CREATE | IK_STORE_MANUAL_CHECKPOINT, &d->wstore, err);
    if (rc != 0)
        goto fail;
    if ((rc = ik_vpage_create(d, err)) != 0 || (rc = ik_build_initial(d, err)) != 0)
        goto fail;
    if ((rc = listen_socket(d, err)) != 0)
        goto fail;
    d->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL); /* threads started below inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit is an EFBIG to report, not a death */
    sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->ep_fd < 0 || d->wake_fd < 0 || sig_fd < 0 || ep_add(d, d->listen_fd, TAG_LISTEN) ||
        ep_add(d, d->wake_fd, TAG_WAKE) || ep_add(d, sig_fd, TAG_SIGNAL)) {
        rc = ik_error_set(err, errno, "event loop setup: %s", strerror(errno));
        goto fail;
    }
    if ((rc = ik_workers_start(d, err)) != 0)
        goto fail;
    if ((rc = ik_health_start(d, err)) != 0) {
        ik_workers_stop(d);
        goto fail;
    }
    ik_http_start(d, quiet); /* never fails the daemon: status says why HTTP is off */
    if (!quiet)
        fprintf(stderr, "ipfs-kit daemon: pid %ld serving %s (snapshot version %llu, %lld pins)\n",
                (long)getpid(), d->sock_path, (unsigned long long)d->published_gen,
                (long long)d->pins.rows);
    loop(d, sig_fd);
    ik_vpage_stopping(d); /* watching clients ask again, and find nobody */
    /* Stop accepting first, so a client never connects to a daemon that will not answer. */
    close(d->listen_fd);
    unlink(d->sock_path);
    d->listen_fd = -1;
    atomic_store(&d->stop, true); /* every thread's loop condition */
    ik_http_stop(d);
    ik_health_stop(d);
    ik_workers_stop(d);
    while (d->conns)
        conn_close(d, d->conns);
    conns_free_closed(d);
    close(sig_fd);
    if (!quiet)
        fprintf(stderr, "ipfs-kit daemon: stopped\n");
    daemon_free(d);
    return 0;
fail:
    if (sig_fd >= 0)
        close(sig_fd);
    daemon_free(d);
    return rc;
}
