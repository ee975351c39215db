/* The WebSocket change feed's hub (GET /v1/changes/ws, docs/http.md): one thread that owns
 * every subscriber's socket (handed over by ws_upgrade.c after the 101), frames with wslay, and
 * wakes on an eventfd the daemon writes at each publish (vpage.c, under pub_mu), on its
 * subscribers' sockets, and at the next ping or close deadline: it never polls.
 *
 * Each subscriber has a cursor, the version its queued changes reach. A new one catches up from
 * its `since` with a query of its own, queued in slices while its queue is short, so a large
 * backlog costs memory of the Arrow batch, not of its encoding. Once at the hub's head, it gets
 * each new version's changes as they are published: read from the store once, encoded once per
 * format, queued to every subscriber at the head. The queue (wslay's) is bounded: a subscriber
 * whose unsent bytes pass IK_WS_QUEUE_MAX is closed with 1008 and a reason naming its cursor,
 * so a slow reader never holds memory without bound nor stalls the others or the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "ws_internal.h"

/* ---- the hub's state ------------------------------------------------------------------ */

static double now_ms(void)
{
    return ik_now_ms();
}

static void wake(struct ik_ws_hub *hub)
{
    uint64_t one = 1;
    if (write(hub->efd, &one, sizeof one) < 0)
        (void)0; /* counter full: the hub is awake already */
}

/* ---- subscriber I/O (wslay callbacks) --------------------------------------------------- */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    struct ik_ws_sub *s = user;
    ssize_t n;
    (void)flags;
    if (s->pre_off < s->pre_len) { /* bytes libmicrohttpd read past the handshake */
        n = (ssize_t)(len < s->pre_len - s->pre_off ? len : s->pre_len - s->pre_off);
        memcpy(buf, s->pre + s->pre_off, (size_t)n);
        s->pre_off += (size_t)n;
        s->last_rx = now_ms();
        return n;
    }
    n = recv(s->fd, buf, len, 0);
    if (n > 0) {
        s->last_rx = now_ms();
        return n;
    }
    wslay_event_set_error(ctx, n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* wslay sends a frame as two pieces, its header flagged "more" and then its payload: the
 * header is kept and goes out with the payload in one sendmsg (a fan-out to 100 subscribers
 * was 200 system calls). Bytes of a kept header that the socket did not take stay kept and go
 * first next time. */
static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct ik_ws_sub *s = user;
    struct iovec iov[2];
    struct msghdr mh = {.msg_iov = iov};
    ssize_t n;
    if ((flags & WSLAY_MSG_MORE) && s->head_len == 0 && len <= sizeof s->head) {
        memcpy(s->head, data, len);
        s->head_len = len;
        return (ssize_t)len;
    }
    if (s->head_len)
        iov[mh.msg_iovlen++] = (struct iovec){s->head, s->head_len};
    iov[mh.msg_iovlen++] = (struct iovec){(void *)data, len};
    n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | (flags & WSLAY_MSG_MORE ? MSG_MORE : 0));
    if (n >= 0) {
        size_t kept = s->head_len;
        atomic_fetch_add_explicit(&s->hub->bytes_sent, n, memory_order_relaxed);
        if ((size_t)n < kept) { /* part of the kept header only */
            memmove(s->head, s->head + n, kept - (size_t)n);
            s->head_len = kept - (size_t)n;
            n = 0;
        } else {
            s->head_len = 0;
            n -= (ssize_t)kept;
        }
        if (n > 0)
            return n;
        errno = EAGAIN; /* nothing of `data` went: wslay tries again later */
    }
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* A kept header whose payload wslay did not hand over (it does not happen: a header flagged
 * "more" is followed by its payload) goes alone. */
static void send_head(struct ik_ws_sub *s)
{
    ssize_t n;
    if (s->head_len == 0)
        return;
    n = send(s->fd, s->head, s->head_len, MSG_NOSIGNAL);
    if (n > 0) {
        memmove(s->head, s->head + n, s->head_len - (size_t)n);
        s->head_len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        s->dead = true;
    }
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user)
{
    struct ik_ws_sub *s = user;
    (void)ctx;
    if (a->opcode == WSLAY_PONG)
        s->ping_at = 0;
    /* text and binary messages from the client mean nothing here: ignored */
}

/* Starts the closing handshake (no more changes are queued); the socket goes once the close
 * is sent and answered, or at the grace deadline. */
void ik__ws_close(struct ik_ws_sub *s, uint16_t code, const char *reason)
{
    if (s->closing)
        return;
    s->closing = true;
    s->close_by = now_ms() + IK_WS_CLOSE_GRACE_MS;
    wslay_event_queue_close(s->ws, code, (const uint8_t *)reason, strlen(reason));
}

/* Queues the messages of `m`: IK_WS_QUEUED; for `live` changes (a catch-up slice and the
 * schema are paced by the caller instead), IK_WS_DEFERRED when they would pass the
 * bound of a subscriber that has kept up (its queue under IK_WS_CATCHUP_LOW: a version larger
 * than the bound, which it then reads as a catch-up, paced); IK_WS_CLOSED when they would pass
 * the bound of one that has not (closed with 1008, its reason naming the version to reconnect
 * from) or on a failure. */
int ik__ws_queue(struct ik_ws_sub *s, const struct ik_ws_msgs *m, bool live)
{
    char reason[124];
    size_t bytes = m->n ? m->off[m->n] - m->off[0] : 0;
    size_t queued = wslay_event_get_queued_msg_length(s->ws);
    if (s->closing)
        return IK_WS_CLOSED;
    if (live && queued + bytes > IK_WS_QUEUE_MAX && queued < IK_WS_CATCHUP_LOW)
        return IK_WS_DEFERRED;
    if (live && queued + bytes > IK_WS_QUEUE_MAX) {
        snprintf(reason, sizeof reason, "too slow: over %d MiB unsent; reconnect with since=%llu",
                 IK_WS_QUEUE_MAX >> 20, (unsigned long long)s->cursor);
        atomic_fetch_add_explicit(&s->hub->closed_slow, 1, memory_order_relaxed);
        ik__ws_close(s, 1008, reason);
        return IK_WS_CLOSED;
    }
    for (size_t i = 0; i < m->n; i++) {
        struct wslay_event_msg msg = {m->binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME,
                                      m->buf + m->off[i], m->off[i + 1] - m->off[i]};
        if (wslay_event_queue_msg(s->ws, &msg) != 0) {
            ik__ws_close(s, 1011, "out of memory");
            return IK_WS_CLOSED;
        }
        atomic_fetch_add_explicit(&s->hub->messages, 1, memory_order_relaxed);
    }
    return IK_WS_QUEUED;
}

/* Sends what the socket takes and sets the epoll interest; marks the subscriber dead when its
 * connection is over. */
static void flush(struct ik_ws_hub *hub, struct ik_ws_sub *s)
{
    struct epoll_event ev = {0};
    uint32_t want;
    if (s->dead)
        return;
    if (wslay_event_want_write(s->ws) && wslay_event_send(s->ws) != 0)
        s->dead = true;
    if (!s->dead && !wslay_event_want_write(s->ws))
        send_head(s);
    if (!wslay_event_want_read(s->ws) && !wslay_event_want_write(s->ws) && s->head_len == 0)
        s->dead = true;
    if (s->dead)
        return;
    /* catching up: writable means the next slice can go (level-triggered) */
    want = EPOLLIN |
           (wslay_event_want_write(s->ws) || s->head_len || (s->catching && !s->closing) ? EPOLLOUT
                                                                                         : 0u);
    if (want != s->watched) {
        ev.events = want;
        ev.data.ptr = s;
        epoll_ctl(hub->ep, EPOLL_CTL_MOD, s->fd, &ev);
        s->watched = want;
    }
}

static void sub_free(struct ik_ws_hub *hub, struct ik_ws_sub *s)
{
    epoll_ctl(hub->ep, EPOLL_CTL_DEL, s->fd, NULL);
    if (s->ws)
        wslay_event_context_free(s->ws);
    MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE); /* closes the socket */
    ik__ws_catchup_reset(s);
    free(s->pre);
    free(s);
    atomic_fetch_sub_explicit(&hub->open, 1, memory_order_relaxed);
}

/* Reads what the peer sent. On a protocol error wslay has queued its close (1002, 1007,
 * 1009): that is still sent, within the grace time; on a failed socket the peer is gone. */
static void receive(struct ik_ws_sub *s)
{
    if (wslay_event_recv(s->ws) == 0)
        return;
    if (wslay_event_want_write(s->ws) && !s->closing) {
        s->closing = true;
        s->close_by = now_ms() + IK_WS_CLOSE_GRACE_MS;
    } else if (!wslay_event_want_write(s->ws)) {
        s->dead = true;
    }
}

/* ---- adopting upgraded connections ------------------------------------------------------ */

void ik__ws_adopt(struct ik_http *h, int fd, struct MHD_UpgradeResponseHandle *urh,
                  const char *extra, size_t extra_len, uint64_t since, bool json)
{
    struct ik_ws_hub *hub = h->ws;
    struct ik_ws_sub *s = calloc(1, sizeof *s);
    if (s && extra_len && (s->pre = malloc(extra_len)) != NULL)
        memcpy(s->pre, extra, extra_len);
    if (!s || (extra_len && !s->pre)) {
        free(s);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    s->hub = hub;
    s->fd = fd;
    s->urh = urh;
    s->pre_len = extra_len;
    s->cursor = since;
    s->json = json;
    pthread_mutex_lock(&hub->mu);
    if (hub->stopping) {
        pthread_mutex_unlock(&hub->mu);
        free(s->pre);
        free(s);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    s->next = hub->incoming;
    hub->incoming = s;
    pthread_mutex_unlock(&hub->mu);
    wake(hub);
}

static const struct wslay_event_callbacks callbacks = {on_recv, on_send, NULL,  NULL,
                                                       NULL,    NULL,    on_msg};

/* Sets up a subscriber handed over by ik__ws_adopt: wslay, epoll, the schema (Arrow), and
 * its catch-up from `since`. */
static void join(struct ik_ws_hub *hub, struct ik_ws_sub *s)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    int fl = fcntl(s->fd, F_GETFL);
    atomic_fetch_add_explicit(&hub->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hub->total, 1, memory_order_relaxed);
    s->next = hub->subs;
    hub->subs = s;
    s->last_rx = now_ms();
    if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        wslay_event_context_server_init(&s->ws, &callbacks, s) != 0 ||
        epoll_ctl(hub->ep, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
        s->dead = true;
        return;
    }
    s->watched = EPOLLIN;
    wslay_event_config_set_max_recv_msg_length(s->ws, IK_WS_MAX_RECV);
    if (!s->json)
        ik__ws_queue(s, &hub->schema_msg, false);
    if (s->pre_len)
        receive(s);
    ik__ws_catchup_start(hub, s);
}

/* ---- time: pings, silent peers, closing deadlines --------------------------------------- */

static int timers(struct ik_ws_hub *hub)
{
    double now = now_ms(), next = -1;
    for (struct ik_ws_sub *s = hub->subs; s; s = s->next) {
        double due;
        if (s->dead)
            continue;
        if (s->closing) {
            due = s->close_by;
            if (now >= due)
                s->dead = true;
        } else if (s->ping_at > 0) {
            due = s->ping_at + hub->pong_ms;
            if (now >= due) {
                atomic_fetch_add_explicit(&hub->closed_silent, 1, memory_order_relaxed);
                ik__ws_close(s, 1008, "no pong: the peer stopped answering pings");
                due = s->close_by;
            }
        } else {
            due = s->last_rx + hub->ping_ms;
            if (now >= due) {
                struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *)"ipfs-kit", 8};
                wslay_event_queue_msg(s->ws, &ping);
                s->ping_at = now;
                due = now + hub->pong_ms;
            }
        }
        if (!s->dead && (next < 0 || due < next))
            next = due;
    }
    return next < 0 ? -1 : (int)(next - now_ms() + 1 > 0 ? next - now_ms() + 1 : 0);
}

/* ---- fan-out timing ---------------------------------------------------------------------- */

const double ik__ws_fan_le[IK_WS_FAN_BUCKETS] = {0.1, 0.25, 0.5, 1,   2.5, 5,
                                                 10,  25,   50,  100, 250, 1000};

/* After a round of sends: when a fan-out is pending and no subscriber at the head has bytes
 * left to write, the time from the publish to now goes into the histogram. */
static void fan_done(struct ik_ws_hub *hub)
{
    double ms;
    int b = 0;
    if (!hub->fan_pending)
        return;
    for (struct ik_ws_sub *s = hub->subs; s; s = s->next)
        if (!s->dead && !s->closing && !s->catching &&
            (wslay_event_want_write(s->ws) || s->head_len))
            return; /* a socket still full: not done */
    hub->fan_pending = false;
    ms = now_ms() - hub->fan_t0;
    while (b < IK_WS_FAN_BUCKETS && ms > ik__ws_fan_le[b])
        b++;
    atomic_fetch_add_explicit(&hub->fan_hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hub->fan_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hub->fan_sum_us, (long long)(ms * 1000.0), memory_order_relaxed);
}

/* ---- the thread ------------------------------------------------------------------------- */

static void *hub_main(void *arg)
{
    struct ik_ws_hub *hub = arg;
    struct epoll_event evs[64];
    int timeout = -1;
    for (;;) {
        bool woken = false;
        int n = epoll_wait(hub->ep, evs, 64, timeout);
        for (int i = 0; i < n; i++) {
            struct ik_ws_sub *s = evs[i].data.ptr;
            if (s == NULL) {
                uint64_t v;
                woken = read(hub->efd, &v, sizeof v) > 0 || woken;
                continue;
            }
            if (s->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                receive(s);
        }
        pthread_mutex_lock(&hub->mu);
        bool stopping = hub->stopping;
        struct ik_ws_sub *in = hub->incoming;
        hub->incoming = NULL;
        pthread_mutex_unlock(&hub->mu);
        while (in) {
            struct ik_ws_sub *next = in->next;
            join(hub, in);
            in = next;
        }
        if (stopping)
            break;
        if (woken)
            ik__ws_live(hub);
        timeout = timers(hub);
        for (struct ik_ws_sub **p = &hub->subs, *s; (s = *p) != NULL;) {
            ik__ws_catchup_step(hub, s);
            flush(hub, s);
            if (s->dead) {
                *p = s->next;
                sub_free(hub, s);
            } else {
                p = &s->next;
            }
        }
        fan_done(hub);
    }
    /* Stopping: every subscriber is told (1001), given what the socket takes now, and let go
     * (libmicrohttpd must have every upgraded socket back before it stops). */
    while (hub->subs) {
        struct ik_ws_sub *s = hub->subs;
        hub->subs = s->next;
        if (!s->dead) {
            ik__ws_close(s, 1001, "the daemon is stopping");
            wslay_event_send(s->ws);
            send_head(s);
        }
        sub_free(hub, s);
    }
    return NULL;
}

int ik__ws_start(struct ik_http *h, struct ik_error *err)
{
    struct ik_ws_hub *hub = calloc(1, sizeof *hub);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    uint64_t oldest = 0;
    int rc;
    if (!hub)
        return ik_error_set(err, ENOMEM, "out of memory");
    hub->h = h;
    hub->d = h->d;
    hub->efd = hub->ep = -1;
    pthread_mutex_init(&hub->mu, NULL);
    h->ws = hub;
    double t = h->d->cfg.http.timeout_s > 0 ? h->d->cfg.http.timeout_s * 1000.0 : 30000.0;
    hub->ping_ms = t / 2;
    hub->pong_ms = t / 2;
    if ((rc = ik_store_open(h->d->dir, IK_STORE_READONLY, &hub->st, err)) != 0 ||
        (rc = ik_store_changes_range(hub->st, &oldest, &hub->head, err)) != 0 ||
        (rc = ik__ws_schema(hub, err)) != 0)
        return rc;
    if ((hub->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (hub->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(hub->ep, EPOLL_CTL_ADD, hub->efd, &ev) != 0)
        return ik_error_set(err, errno, "change feed: %s", strerror(errno));
    if ((rc = pthread_create(&hub->thread, NULL, hub_main, hub)) != 0)
        return ik_error_set(err, rc, "change feed thread: %s", strerror(rc));
    hub->running = true;
    pthread_mutex_lock(&h->d->pub_mu);
    h->d->http_wake_fd = hub->efd;
    pthread_mutex_unlock(&h->d->pub_mu);
    wake(hub); /* anything published between the range read and now */
    return 0;
}

void ik__ws_stop(struct ik_http *h)
{
    struct ik_ws_hub *hub = h->ws;
    if (!hub)
        return;
    pthread_mutex_lock(&h->d->pub_mu);
    if (h->d->http_wake_fd == hub->efd)
        h->d->http_wake_fd = -1;
    pthread_mutex_unlock(&h->d->pub_mu);
    pthread_mutex_lock(&hub->mu);
    hub->stopping = true;
    pthread_mutex_unlock(&hub->mu);
    if (hub->running) {
        wake(hub);
        pthread_join(hub->thread, NULL);
        hub->running = false;
    }
    for (struct ik_ws_sub *s = hub->incoming, *next; s; s = next) { /* adopted after the end */
        next = s->next;
        MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
        free(s->pre);
        free(s);
    }
    hub->incoming = NULL;
}

void ik__ws_free(struct ik_http *h)
{
    struct ik_ws_hub *hub = h->ws;
    if (!hub)
        return;
    ik__ws_stop(h);
    ik_store_close(hub->st);
    ik__ws_msgs_reset(&hub->schema_msg);
    if (hub->schema.release)
        hub->schema.release(&hub->schema);
    if (hub->efd >= 0)
        close(hub->efd);
    if (hub->ep >= 0)
        close(hub->ep);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
    h->ws = NULL;
}

void ik__ws_prometheus(struct ik_http *h, FILE *f)
{
    struct ik_ws_hub *hub = h->ws;
    if (!hub)
        return;
    fprintf(f,
            "# HELP ipfs_kit_ws_subscribers WebSocket change feed subscribers connected now.\n"
            "# TYPE ipfs_kit_ws_subscribers gauge\nipfs_kit_ws_subscribers %lld\n"
            "# HELP ipfs_kit_ws_subscribers_total WebSocket change feed subscribers accepted.\n"
            "# TYPE ipfs_kit_ws_subscribers_total counter\nipfs_kit_ws_subscribers_total %lld\n"
            "# HELP ipfs_kit_ws_messages_total WebSocket messages queued to subscribers.\n"
            "# TYPE ipfs_kit_ws_messages_total counter\nipfs_kit_ws_messages_total %lld\n"
            "# HELP ipfs_kit_ws_sent_bytes_total WebSocket bytes written to subscribers.\n"
            "# TYPE ipfs_kit_ws_sent_bytes_total counter\nipfs_kit_ws_sent_bytes_total %lld\n"
            "# HELP ipfs_kit_ws_closed_total WebSocket subscribers closed by the server, by "
            "reason.\n# TYPE ipfs_kit_ws_closed_total counter\n"
            "ipfs_kit_ws_closed_total{reason=\"slow\"} %lld\n"
            "ipfs_kit_ws_closed_total{reason=\"silent\"} %lld\n"
            "ipfs_kit_ws_closed_total{reason=\"gone\"} %lld\n",
            atomic_load(&hub->open), atomic_load(&hub->total), atomic_load(&hub->messages),
            atomic_load(&hub->bytes_sent), atomic_load(&hub->closed_slow),
            atomic_load(&hub->closed_silent), atomic_load(&hub->closed_gone));
    fprintf(f, "# HELP ipfs_kit_ws_fanout_seconds From a pin_index version's publish to its "
               "changes written to the socket of every subscriber at the head.\n"
               "# TYPE ipfs_kit_ws_fanout_seconds histogram\n");
    long long cum = 0;
    for (int b = 0; b <= IK_WS_FAN_BUCKETS; b++) {
        cum += atomic_load(&hub->fan_hist[b]);
        if (b < IK_WS_FAN_BUCKETS)
            fprintf(f, "ipfs_kit_ws_fanout_seconds_bucket{le=\"%g\"} %lld\n",
                    ik__ws_fan_le[b] / 1000.0, cum);
        else
            fprintf(f, "ipfs_kit_ws_fanout_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    }
    fprintf(f, "ipfs_kit_ws_fanout_seconds_sum %.6f\nipfs_kit_ws_fanout_seconds_count %lld\n",
            (double)atomic_load(&hub->fan_sum_us) / 1e6, atomic_load(&hub->fan_count));
}
