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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "flight/flight.h"
#include "http/http.h"
#include "ipfskit/seglog.h"
#include "ipfskit/segments.h"

#define TAG_LISTEN ((void *)1)
#define TAG_WAKE ((void *)2)
#define TAG_SIGNAL ((void *)3)
#define IN_CHUNK 4096
#define OUT_BACKLOG (16 * 1024) /* replies waiting for a client before it is read no more */
#define SWEEP_MS 200            /* how often timeouts are checked */
#define ACCEPT_PAUSE_MS 100     /* out of descriptors even for the refusal: wait this long */
#define SOCK_NAME "daemon.sock"

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
    for (int i = 0; i < c->n_out_fds; i++)
        close(c->out_fds[i]);
    c->n_out_fds = 0;
    c->in_fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->closed = true;
    d->n_conns--;
    atomic_fetch_sub_explicit(&d->metrics.connections_open, 1, memory_order_relaxed);
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
        int rc = ik_sock_sendmsg_fds(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                     c->out_fds, c->n_out_fds, &n, NULL);
        if (rc == EAGAIN)
            break;
        if (rc != 0)
            return -1;
        for (int i = 0; i < c->n_out_fds; i++) /* they went with the first byte sent */
            close(c->out_fds[i]);
        c->n_out_fds = 0;
        c->out_off += (size_t)n;
        atomic_fetch_add_explicit(&d->metrics.bytes_served, n, memory_order_relaxed);
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > OUT_BACKLOG) { /* a burst is over: give its memory back */
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
        if (c->closing)
            return -1;
    }
    return 0;
}

void ik_conn_send(struct ik_daemon *d, struct ik_conn *c, const char *json, int pass_fd)
{
    ik_conn_send_fds(d, c, json, &pass_fd, pass_fd >= 0 ? 1 : 0);
}

static void close_fds(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

void ik_conn_send_fds(struct ik_daemon *d, struct ik_conn *c, const char *json, const int *fds,
                      int n_fds)
{
    size_t n = strlen(json), need = c->out_len + 4 + n;
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 256;
        uint8_t *p;
        while (cap < need)
            cap *= 2;
        p = realloc(c->out, cap);
        if (!p) {
            close_fds(fds, n_fds);
            c->closing = true;
            return;
        }
        c->out = p;
        c->out_cap = cap;
    }
    if (c->out_len == c->out_off)
        c->t_out = ik_now_ms(); /* the send deadline runs from here */
    c->t_active = ik_now_ms();
    ik_frame_put_header(c->out + c->out_len, (uint32_t)n);
    memcpy(c->out + c->out_len + 4, json, n);
    if (n_fds > 0 && c->n_out_fds == 0 && c->out_len == c->out_off && n_fds <= IK_PROTO_MAX_FDS) {
        memcpy(c->out_fds, fds, (size_t)n_fds * sizeof *fds); /* taken: closed once sent */
        c->n_out_fds = n_fds;
    } else {
        close_fds(fds, n_fds);
    }
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

/* Best effort: one error header to a client we will not serve, then close it. */
static void refuse(int fd, const char *code, const char *message)
{
    char *json = ik_reply_error(code, message);
    uint8_t hdr[4];
    if (json) {
        ik_frame_put_header(hdr, (uint32_t)strlen(json));
        if (send(fd, hdr, 4, MSG_NOSIGNAL | MSG_DONTWAIT) == 4)
            (void)!send(fd, json, strlen(json), MSG_NOSIGNAL | MSG_DONTWAIT);
        free(json);
    }
    close(fd);
}

static void listen_watch(struct ik_daemon *d, uint32_t events)
{
    struct epoll_event ev = {0};
    ev.events = events;
    ev.data.ptr = TAG_LISTEN;
    epoll_ctl(d->ep_fd, EPOLL_CTL_MOD, d->listen_fd, &ev);
}

/* accept() failed with EMFILE/ENFILE: the waiting client would keep the listener readable and
 * the loop spinning. Give up the spare descriptor to accept it and refuse it with a reason;
 * if even that fails, stop accepting for ACCEPT_PAUSE_MS. */
static void shed(struct ik_daemon *d)
{
    int fd = -1;
    atomic_fetch_add_explicit(&d->metrics.connections_refused, 1, memory_order_relaxed);
    if (d->reserve_fd >= 0) {
        close(d->reserve_fd);
        fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            refuse(fd, "busy", "the daemon is out of file descriptors; retry later");
        d->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0 || d->reserve_fd < 0) {
        listen_watch(d, 0);
        d->accept_paused = ik_now_ms() + ACCEPT_PAUSE_MS;
    }
}

static void on_accept(struct ik_daemon *d)
{
    for (;;) {
        struct epoll_event ev = {0};
        struct ik_conn *c;
        uid_t uid;
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                shed(d);
                if (d->accept_paused == 0)
                    continue;
            }
            return; /* EAGAIN, or paused */
        }
        if (ik_sock_peer_uid(fd, &uid, NULL) != 0 || (uid != d->uid && uid != 0)) {
            refuse(fd, "forbidden", "this daemon serves its own user only");
            continue;
        }
        if (d->n_conns >= d->max_conns) {
            char msg[128];
            snprintf(msg, sizeof msg, "too many connections (daemon.max_connections is %d)",
                     d->max_conns);
            atomic_fetch_add_explicit(&d->metrics.connections_refused, 1, memory_order_relaxed);
            refuse(fd, "busy", msg);
            continue;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->in_fd = -1;
        c->t_active = ik_now_ms();
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
        d->n_conns++;
        atomic_fetch_add_explicit(&d->metrics.connections, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&d->metrics.connections_open, 1, memory_order_relaxed);
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
        c->t_in = c->in_len > 0 ? c->t_start : 0; /* the next request's clock starts now */
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
        if (d->stopping) { /* committed work drains; nothing new starts */
            if (in_fd >= 0)
                close(in_fd);
            ik_request_reset(&req);
            c->closing = true;
            ik_conn_send_error(d, c, "busy", "the daemon is stopping");
            return 0;
        }
        ik_handle_request(d, c, &req, in_fd); /* takes req and in_fd */
    }
    if (c->in_len == 0 && c->in_cap > IN_CHUNK * 2) { /* idle: keep no request buffer */
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    return 0;
}

static int conn_read(struct ik_daemon *d, struct ik_conn *c)
{
    for (;;) {
        struct ik_error err = {{0}};
        ssize_t n = 0;
        int fd = -1, rc;
        if (c->out_len - c->out_off > OUT_BACKLOG)
            break; /* it does not read its replies: its requests wait in the kernel, not here */
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
        if (c->in_len == 0)
            c->t_in = ik_now_ms();
        c->t_active = ik_now_ms();
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
    ik_release_parked(d, false);
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
    memcpy(sa.sun_path, SOCK_NAME, sizeof SOCK_NAME); /* in the data directory, our cwd */
    d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->listen_fd < 0)
        return ik_error_set(err, errno, "socket: %s", strerror(errno));
    unlink(SOCK_NAME); /* we hold the lock: any socket file left is stale (or a planted link) */
    /* Created 0600 by bind itself: a chmod by path afterwards could be sent through a link
     * swapped in after the bind. */
    old = umask(0177);
    if (bind(d->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        umask(old);
        return ik_error_set(err, e, "bind %s: %s", d->sock_path, strerror(e));
    }
    umask(old);
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
        unlink(SOCK_NAME);
    }
    if (d->ep_fd >= 0)
        close(d->ep_fd);
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    if (d->reserve_fd >= 0)
        close(d->reserve_fd);
    ik_segbuild_free(d);
    ik_store_close(d->wstore);
    ik_store_close(d->cstore);
    ik_change_tail_free(d->ctail);
    d->ctail = NULL;
    ik_spare_disable();
    ik_vpage_free(d);
    for (int i = 0; i < IK_DAEMON_TABLES; i++)
        if (d->schemas[i].release)
            d->schemas[i].release(&d->schemas[i]);
    ik_config_reset(&d->cfg);
    if (d->lock_fd >= 0)
        ik_lock_release(d->lock_fd, d->dir);
    free(d);
}

/* Closes connections past a deadline (docs/protocol.md, "Limits and timeouts"). */
static void sweep(struct ik_daemon *d, double now)
{
    double idle = d->cfg.idle_timeout_s * 1e3, header = d->cfg.header_timeout_s * 1e3,
           send_ms = d->cfg.send_timeout_s * 1e3;
    struct ik_conn *c, *next;
    d->last_sweep = now;
    if (d->accept_paused != 0 && now >= d->accept_paused && d->listen_fd >= 0) {
        d->accept_paused = 0;
        listen_watch(d, EPOLLIN);
    }
    for (c = d->conns; c; c = next) {
        bool pending = c->out_len > c->out_off;
        next = c->next;
        if (c->busy || c->dead)
            continue;
        if (pending && now - c->t_out > send_ms) {
            c->dead = true; /* it does not read what it asked for */
        } else if (!pending && c->in_len > 0 && c->t_in != 0 && now - c->t_in > header &&
                   !c->closing) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "request not complete within %d s (daemon.header_timeout); closing",
                     d->cfg.header_timeout_s);
            c->closing = true;
            ik_conn_send_error(d, c, "timeout", msg);
        } else if (!pending && c->in_len == 0 && !c->watching && now - c->t_active > idle) {
            c->dead = true;
        } else {
            continue;
        }
        atomic_fetch_add_explicit(&d->metrics.connections_timed_out, 1, memory_order_relaxed);
        conn_settle(d, c);
    }
    ik_release_parked(d, false); /* write replies past daemon.visible_timeout */
}

/* Still something owed to a client: a job out, a parked write reply, unsent bytes. */
static bool owing(struct ik_daemon *d)
{
    for (struct ik_conn *c = d->conns; c; c = c->next)
        if (c->busy || (c->out_len > c->out_off && !c->dead))
            return true;
    return false;
}

/* Shutdown asked: stop accepting at once (clients then find no daemon and fall back), then
 * drain what was committed or is being answered, up to the send timeout. */
static void begin_stop(struct ik_daemon *d)
{
    if (d->stop_deadline != 0)
        return;
    d->stop_deadline = ik_now_ms() + d->cfg.send_timeout_s * 1e3;
    if (d->listen_fd >= 0) {
        epoll_ctl(d->ep_fd, EPOLL_CTL_DEL, d->listen_fd, NULL);
        close(d->listen_fd);
        unlink(SOCK_NAME);
        d->listen_fd = -1;
    }
}

static void loop(struct ik_daemon *d, int sig_fd)
{
    struct epoll_event evs[64];
    for (;;) {
        double now;
        int i, n;
        if (d->stopping) {
            begin_stop(d);
            if (!owing(d))
                break;
            if (ik_now_ms() > d->stop_deadline) {
                fprintf(stderr, "ipfs-kit daemon: replies still owed after %d s; stopping\n",
                        d->cfg.send_timeout_s);
                ik_release_parked(d, true);
                break;
            }
        }
        n = epoll_wait(d->ep_fd, evs, 64, d->conns || d->accept_paused ? SWEEP_MS : -1);
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
        now = ik_now_ms();
        if (now - d->last_sweep >= SWEEP_MS)
            sweep(d, now);
        conns_free_closed(d);
    }
    conns_free_closed(d);
}

/* Lifts the soft descriptor limit to the hard one: each connection holds one or more. */
static void raise_nofile(struct ik_daemon *d)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    d->max_conns = d->cfg.max_connections;
    d->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int ik_daemon_run(const char *dir, bool quiet, struct ik_error *err)
{
    struct ik_daemon *d = calloc(1, sizeof *d);
    sigset_t mask;
    int rc, sig_fd = -1, dir_fd = -1;
    long holder = 0;
    if (!d)
        return ik_error_set(err, ENOMEM, "out of memory");
    d->listen_fd = d->ep_fd = d->wake_fd = d->lock_fd = d->pins.fd = d->vfs.fd = -1;
    d->given_fd = -1;
    d->vpage_fd = d->reserve_fd = -1;
    d->uid = getuid();
    snprintf(d->dir, sizeof d->dir, ".");
    snprintf(d->shown_dir, sizeof d->shown_dir, "%s", dir);
    snprintf(d->sock_path, sizeof d->sock_path, "%s/daemon.sock", dir);
    ik_metrics_init(&d->metrics);
    ik_queue_init(&d->writes);
    ik_queue_init(&d->replies);
    ik_queue_init(&d->done);
    pthread_mutex_init(&d->build_mu, NULL);
    pthread_cond_init(&d->build_cv, NULL);
    pthread_mutex_init(&d->pub_mu, NULL);
    d->http_wake_fd = -1;
    pthread_mutex_init(&d->files_mu, NULL);
    pthread_mutex_init(&d->round_mu, NULL);
    pthread_cond_init(&d->compact_cv, NULL);
    pthread_cond_init(&d->settle_cv, NULL);
    pthread_mutex_init(&d->ckpt_mu, NULL);
    pthread_cond_init(&d->ckpt_cv, NULL);
    pthread_mutex_init(&d->prune_mu, NULL);
    pthread_mutex_init(&d->apply_mu, NULL);
    pthread_cond_init(&d->apply_cv, NULL);

    if ((rc = ik_data_dir_ensure(dir, err)) != 0 || (rc = ik_data_dir_check(dir, &dir_fd, err)))
        goto fail;
    /* The daemon works inside the directory it checked, for its whole life: every file is
     * named relative to it (d->dir is "."), so renaming a parent directory or swapping in a
     * link for it after the check cannot send a single open elsewhere. */
    if (fchdir(dir_fd) != 0) {
        rc = ik_error_set(err, errno, "cannot enter %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((rc = ik_config_load(d->dir, &d->cfg, err)) != 0)
        goto fail;
    if ((rc = ik_lock_acquire(d->dir, &d->lock_fd, &holder, err)) != 0)
        goto fail;
    ik_sched_init(d); /* before any thread starts */
    if ((rc = ik_lock_mark_daemon(d->lock_fd)) != 0) {
        ik_error_set(err, rc, "cannot mark daemon.lock: %s", strerror(rc));
        goto fail;
    }
    /* the open applies every import acknowledged from its journal but not yet applied (a
     * killed writer); then journals no pending import names (killed before its commit, or
     * applied but not removed) go */
    rc = ik_store_open(d->dir, IK_STORE_CREATE | IK_STORE_MANUAL_CHECKPOINT, &d->wstore, err);
    if (rc == 0) {
        int removed = 0;
        rc = ik_store_journal_clean(d->wstore, &removed, err);
        if (rc == 0 && removed > 0 && !quiet)
            fprintf(stderr, "ipfs-kit daemon: removed %d import journal(s) no import names\n",
                    removed);
    }
    if (rc == 0) { /* a large aged-out version: one rewrite now, not minutes of trims later */
        struct ik_error e = {{0}};
        int64_t dropped = 0;
        if (ik_store_changes_trim_bulk(d->wstore, d->cfg.changes_retain_versions,
                                       d->cfg.changes_retain_seconds,
                                       (int64_t)(ik_wall_ms() * 1000.0), &dropped, &e) != 0)
            fprintf(stderr, "ipfs-kit daemon: trimming the change log: %s\n", e.message);
        else if (dropped > 0 && !quiet)
            fprintf(stderr,
                    "ipfs-kit daemon: dropped %lld change-log rows past the retention window "
                    "(one rewrite)\n",
                    (long long)dropped);
    }
    if (rc != 0 || (rc = ik_changes_tail_start(d, err)) != 0)
        goto fail;
    {
        struct ik_error e = {{0}};
        if (ik_spare_enable(d->dir, IK_SPARE_FILES, &e) != 0) /* files are then created inline */
            fprintf(stderr, "ipfs-kit daemon: spare files: %s\n", e.message);
    }
    if ((rc = ik_vpage_create(d, err)) != 0 || (rc = ik_build_initial(d, err)) != 0)
        goto fail;
    raise_nofile(d);
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
    if ((rc = ik_syncer_start(d, err)) != 0) {
        ik_syncer_stop(d);
        ik_health_stop(d);
        ik_workers_stop(d);
        goto fail;
    }
    ik_http_start(d, quiet); /* never fails the daemon: status says why HTTP is off */
    /* nor does Flight */
    ik_flight_start(d, quiet);
    close(dir_fd); /* the working directory holds it from here on */
    dir_fd = -1;
    ik_sched_thread(d, NULL, IK_THREAD_WRITE_PATH); /* its name stays the program's */
    if (!quiet)
        fprintf(stderr,
                "ipfs-kit daemon: pid %ld serving %s (snapshot version %llu, %lld pins); write "
                "path at nice %d%s, background at %d\n",
                (long)getpid(), d->sock_path, (unsigned long long)d->published_gen,
                (long long)d->pins.rows, d->write_nice,
                d->write_nice < d->base_nice ? "" : " (not raised: needs CAP_SYS_NICE)",
                ik_sched_nice(d, IK_THREAD_BACKGROUND));
    loop(d, sig_fd);
    ik_vpage_stopping(d);         /* watching clients ask again, and find nobody */
    begin_stop(d);                /* after a failed epoll_wait: not accepting either */
    atomic_store(&d->stop, true); /* every thread's loop condition */
    ik_http_stop(d);
    ik_flight_stop(d);
    ik_syncer_stop(d);
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
    if (dir_fd >= 0)
        close(dir_fd);
    if (err != NULL && strncmp(err->message, "./", 2) == 0) /* a file named from our cwd */
        ik_error_prefix(err, rc, "%s", dir);
    daemon_free(d);
    return rc;
}
