/* WebSocket subscribers for bench/bench_ws.py (issue 17's fan-out target): N connections to
 * GET /v1/changes/ws in one process, framed by wslay (the library the daemon uses: no framing
 * of our own), read on one epoll loop. Each text message's arrival is stamped with
 * CLOCK_MONOTONIC (the clock of Python's time.monotonic, so the driver in another process can
 * compare) the moment wslay hands it over, and one line per message goes to stdout when the
 * run ends:
 *
 *   bench-ws-sub HOST:PORT SINCE N        (subscribers ask for ?since=SINCE&format=json)
 *
 * prints "ready" once every handshake is answered with 101, then "<sub> <t_ns> <cid>" per
 * message received, after the driver closes our stdin. Several processes spread the
 * subscribers over the cores, so no one client loop serialises 100 frame decodes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

struct sub {
    int fd, index;
    wslay_event_context_ptr ws;
    uint8_t pre[4096]; /* bytes read past the 101's headers, fed to wslay first */
    size_t pre_len, pre_off;
};

struct rec {
    int sub;
    long long t_ns;
    char cid[64];
};

static struct rec *recs;
static size_t n_recs, cap_recs;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    struct sub *s = user;
    ssize_t n;
    (void)flags;
    if (s->pre_off < s->pre_len) {
        n = (ssize_t)(len < s->pre_len - s->pre_off ? len : s->pre_len - s->pre_off);
        memcpy(buf, s->pre + s->pre_off, (size_t)n);
        s->pre_off += (size_t)n;
        return n;
    }
    n = recv(s->fd, buf, len, 0);
    if (n > 0)
        return n;
    wslay_event_set_error(ctx, n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct sub *s = user;
    ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL);
    (void)flags;
    if (n >= 0)
        return n;
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static int genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

/* A text message: its arrival, and the value of its "cid" (the change's pin). */
static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user)
{
    struct sub *s = user;
    long long t = now_ns();
    const char *p, *end;
    struct rec *r;
    (void)ctx;
    if (a->opcode != WSLAY_TEXT_FRAME)
        return;
    if (n_recs == cap_recs) {
        size_t c = cap_recs ? 2 * cap_recs : 4096;
        struct rec *q = realloc(recs, c * sizeof *q);
        if (!q)
            return;
        recs = q;
        cap_recs = c;
    }
    r = &recs[n_recs++];
    r->sub = s->index;
    r->t_ns = t;
    r->cid[0] = 0;
    p = memmem(a->msg, a->msg_length, "\"cid\":\"", 7);
    if (p) {
        p += 7;
        end = memchr(p, '"', a->msg_length - (size_t)(p - (const char *)a->msg));
        if (end && end - p < (long)sizeof r->cid) {
            memcpy(r->cid, p, (size_t)(end - p));
            r->cid[end - p] = 0;
        }
    }
}

static const struct wslay_event_callbacks callbacks = {on_recv, on_send, genmask, NULL,
                                                       NULL,    NULL,    on_msg};

/* Connects and upgrades (the handshake is plain HTTP); the socket is non-blocking after. */
static int subscribe(struct sub *s, const struct sockaddr_in *sa, const char *host,
                     const char *since)
{
    char req[512], got[4096];
    uint8_t key[16];
    char key64[32];
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t have = 0;
    int one = 1, n;
    char *end;
    if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(s->fd, (const struct sockaddr *)sa, sizeof *sa) != 0)
        return -1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
        return -1;
    for (int i = 0, j = 0; i < 16; i += 3) { /* base64 of the 16-byte key (RFC 6455 4.1) */
        uint32_t v = (uint32_t)key[i] << 16 | (i + 1 < 16 ? (uint32_t)key[i + 1] << 8 : 0) |
                     (i + 2 < 16 ? key[i + 2] : 0);
        key64[j++] = b64[v >> 18 & 63];
        key64[j++] = b64[v >> 12 & 63];
        key64[j++] = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
        key64[j++] = i + 2 < 16 ? b64[v & 63] : '=';
        key64[j] = 0;
    }
    n = snprintf(req, sizeof req,
                 "GET /v1/changes/ws?since=%s&format=json HTTP/1.1\r\nHost: %s\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 since, host, key64);
    if (send(s->fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    while (!(end = memmem(got, have, "\r\n\r\n", 4))) {
        ssize_t k = recv(s->fd, got + have, sizeof got - have, 0);
        if (k <= 0)
            return -1;
        have += (size_t)k;
    }
    if (have < 12 || memcmp(got, "HTTP/1.1 101", 12) != 0)
        return -1;
    s->pre_len = have - (size_t)(end + 4 - got);
    memcpy(s->pre, end + 4, s->pre_len);
    if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) != 0 ||
        wslay_event_context_client_init(&s->ws, &callbacks, s) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    const char *colon;
    struct sub *subs;
    int n, ep;
    if (argc != 4 || !(colon = strrchr(argv[1], ':')) || colon - argv[1] >= (long)sizeof host ||
        (n = atoi(argv[3])) <= 0) {
        fprintf(stderr, "usage: bench-ws-sub HOST:PORT SINCE N\n");
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = 0;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || !(subs = calloc((size_t)n, sizeof *subs)) ||
        (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return 2;
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &subs[i]};
        subs[i].index = i;
        if (subscribe(&subs[i], &sa, host, argv[2]) != 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &ev) != 0) {
            fprintf(stderr, "bench-ws-sub: subscriber %d: no 101 from %s\n", i, argv[1]);
            return 69;
        }
    }
    {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* stdin: the end */
        epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
    }
    for (int i = 0; i < n; i++) /* bytes that came with the 101 */
        if (subs[i].pre_len)
            wslay_event_recv(subs[i].ws);
    printf("ready\n");
    fflush(stdout);
    for (int done = 0; !done;) {
        struct epoll_event evs[64];
        int k = epoll_wait(ep, evs, 64, -1);
        for (int j = 0; j < k; j++) {
            struct sub *s = evs[j].data.ptr;
            if (!s) {
                char c[64];
                done = read(0, c, sizeof c) <= 0;
                continue;
            }
            if (wslay_event_recv(s->ws) != 0 ||
                (wslay_event_want_write(s->ws) && wslay_event_send(s->ws) != 0)) {
                fprintf(stderr, "bench-ws-sub: subscriber %d: connection ended\n", s->index);
                epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
            }
        }
    }
    for (size_t i = 0; i < n_recs; i++)
        printf("%d %lld %s\n", recs[i].sub, recs[i].t_ns, recs[i].cid);
    for (int i = 0; i < n; i++) {
        wslay_event_context_free(subs[i].ws);
        close(subs[i].fd);
    }
    free(subs);
    free(recs);
    return 0;
}
