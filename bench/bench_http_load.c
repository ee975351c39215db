/* HTTP load client for bench/bench_http.py (issue 17's targets): keep-alive HTTP/1.1 GETs over
 * loopback, reading each response by its framing (Content-Length or chunked) into a reused
 * buffer, so the client costs little next to the server it measures. One client serves both
 * the daemon and the pyarrow server it is compared with.
 *
 *   bench-http-load lat  HOST:PORT PATH N [ACCEPT]          one connection, N requests in turn
 *   bench-http-load get  HOST:PORT PATH REPS [ACCEPT]       one connection, a big body REPS times
 *   bench-http-load load HOST:PORT PATH CONNS SECONDS       CONNS connections on epoll, each
 *                                                           sending its next request when its
 *                                                           response is in
 *   bench-http-load alt  HOST:PORT N PATH...                one connection, N rounds of one
 *                                                           request per PATH in turn (so each
 *                                                           path is timed under the same load
 *                                                           as the others), a result per PATH
 * In PATH, "{i}" becomes the request's number (a different query each time, so no response
 * cache serves it). Each prints one JSON object. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One response being read: its headers, then its body by Content-Length or chunks. */
struct resp {
    enum { HEAD, BODY, CHUNK_LINE, CHUNK_DATA, CHUNK_CRLF, TRAILER, DONE } st;
    long long left; /* BODY / CHUNK_DATA: bytes still to come */
    long long body; /* body bytes seen */
    int status;
};

struct conn {
    int fd;
    char *buf;
    size_t have;
    struct resp r;
    double t0;
};

/* Parses what is in c->buf; returns true when the response is complete (leftover bytes stay). */
static bool parse(struct conn *c)
{
    size_t at = 0;
    bool done = false;
    while (!done && at < c->have) {
        char *p = c->buf + at, *e;
        size_t n = c->have - at;
        switch (c->r.st) {
        case HEAD:
            if (!(e = memmem(p, n, "\r\n\r\n", 4)))
                goto out;
            *e = 0;
            c->r.status = atoi(p + 9);
            if (strcasestr(p, "\ntransfer-encoding: chunked")) {
                c->r.st = CHUNK_LINE;
            } else {
                char *cl = strcasestr(p, "\ncontent-length:");
                c->r.left = cl ? atoll(cl + 16) : 0;
                c->r.st = c->r.left ? BODY : DONE;
            }
            at += (size_t)(e - p) + 4;
            break;
        case BODY:
        case CHUNK_DATA: {
            size_t k = n < (size_t)c->r.left ? n : (size_t)c->r.left;
            c->r.left -= (long long)k;
            c->r.body += (long long)k;
            at += k;
            if (c->r.left == 0)
                c->r.st = c->r.st == BODY ? DONE : CHUNK_CRLF;
            break;
        }
        case CHUNK_LINE:
            if (!(e = memmem(p, n, "\r\n", 2)))
                goto out;
            c->r.left = strtoll(p, NULL, 16);
            c->r.st = c->r.left ? CHUNK_DATA : TRAILER;
            at += (size_t)(e - p) + 2;
            break;
        case CHUNK_CRLF:
            if (n < 2)
                goto out;
            at += 2;
            c->r.st = CHUNK_LINE;
            break;
        case TRAILER:
            if (!(e = memmem(p, n, "\r\n", 2)))
                goto out;
            at += (size_t)(e - p) + 2;
            if (e == p)
                c->r.st = DONE;
            break;
        case DONE:
            break;
        }
        done = c->r.st == DONE;
    }
out:
    memmove(c->buf, c->buf + at, c->have - at);
    c->have -= at;
    return done || c->r.st == DONE;
}

static int connect_to(const char *addr)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd, one = 1;
    if (!colon || (size_t)(colon - addr) >= sizeof host)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_req(struct conn *c, const char *req, size_t len)
{
    memset(&c->r, 0, sizeof c->r);
    c->t0 = now_us();
    return send(c->fd, req, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Blocking: one whole response. */
static int roundtrip(struct conn *c, const char *req, size_t len)
{
    if (send_req(c, req, len) != 0)
        return -1;
    while (!parse(c)) {
        ssize_t n = recv(c->fd, c->buf + c->have, BUF - c->have, 0);
        if (n <= 0)
            return -1;
        c->have += (size_t)n;
    }
    return c->r.status == 200 ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    return n ? v[(size_t)((double)(n - 1) * p)] : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-http-load lat|get HOST:PORT PATH N [ACCEPT]\n"
                    "       bench-http-load load HOST:PORT PATH CONNS SECONDS\n"
                    "       bench-http-load alt HOST:PORT N PATH...\n");
    return 2;
}

static int single(const char *mode, const char *addr, const char *path, long n, const char *acc)
{
    char req[2048];
    struct conn c = {.fd = connect_to(addr), .buf = malloc(BUF)};
    double *t = calloc((size_t)n, sizeof *t), best = 1e30;
    size_t len = (size_t)snprintf(req, sizeof req,
                                  "GET %s HTTP/1.1\r\nHost: b\r\nAccept: %s\r\n\r\n", path, acc);
    if (c.fd < 0 || !c.buf || !t) {
        fprintf(stderr, "bench-http-load: cannot connect to %s\n", addr);
        return 69;
    }
    const char *var = strstr(path, "{i}");
    for (long i = 0; i < n; i++) {
        if (var)
            len = (size_t)snprintf(req, sizeof req,
                                   "GET %.*s%ld%s HTTP/1.1\r\nHost: b\r\nAccept: %s\r\n\r\n",
                                   (int)(var - path), path, i, var + 3, acc);
        if (roundtrip(&c, req, len) != 0) {
            fprintf(stderr, "bench-http-load: %s %s: status %d\n", addr, path, c.r.status);
            return 69;
        }
        t[i] = now_us() - c.t0;
        best = t[i] < best ? t[i] : best;
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    if (strcmp(mode, "lat") == 0)
        printf("{\"n\":%ld,\"bytes\":%lld,\"min_us\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f}\n", n,
               c.r.body, t[0], pct(t, (size_t)n, 0.5), pct(t, (size_t)n, 0.99));
    else
        printf("{\"reps\":%ld,\"bytes\":%lld,\"best_s\":%.6f,\"p50_s\":%.6f,\"mb_per_s\":%.1f}\n",
               n, c.r.body, best / 1e6, pct(t, (size_t)n, 0.5) / 1e6, (double)c.r.body / best);
    close(c.fd);
    free(c.buf);
    free(t);
    return 0;
}

/* Alternating paths on one connection: round i sends paths[0..k) in turn. */
static int alt(const char *addr, long n, char **paths, int k)
{
    char req[2048];
    struct conn c = {.fd = connect_to(addr), .buf = malloc(BUF)};
    double *t = calloc((size_t)n * (size_t)k, sizeof *t);
    long long *bytes = calloc((size_t)k, sizeof *bytes);
    if (c.fd < 0 || !c.buf || !t || !bytes) {
        fprintf(stderr, "bench-http-load: cannot connect to %s\n", addr);
        return 69;
    }
    for (long i = 0; i < n; i++)
        for (int p = 0; p < k; p++) {
            const char *path = paths[p], *var = strstr(path, "{i}");
            size_t len;
            if (var)
                len = (size_t)snprintf(req, sizeof req, "GET %.*s%ld%s HTTP/1.1\r\nHost: b\r\n\r\n",
                                       (int)(var - path), path, i, var + 3);
            else
                len = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: b\r\n\r\n", path);
            if (roundtrip(&c, req, len) != 0) {
                fprintf(stderr, "bench-http-load: %s %s: status %d\n", addr, path, c.r.status);
                return 69;
            }
            t[(size_t)p * (size_t)n + (size_t)i] = now_us() - c.t0;
            bytes[p] = c.r.body;
        }
    printf("[");
    for (int p = 0; p < k; p++) {
        double *v = t + (size_t)p * (size_t)n;
        qsort(v, (size_t)n, sizeof *v, cmp);
        printf("%s{\"path\":\"%s\",\"n\":%ld,\"bytes\":%lld,\"min_us\":%.2f,\"p50_us\":%.2f,"
               "\"p99_us\":%.2f}",
               p ? "," : "", paths[p], n, bytes[p], v[0], pct(v, (size_t)n, 0.5),
               pct(v, (size_t)n, 0.99));
    }
    printf("]\n");
    close(c.fd);
    free(c.buf);
    free(t);
    free(bytes);
    return 0;
}

static int load(const char *addr, const char *path, int conns, double seconds)
{
    char req[512];
    size_t len = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: b\r\n\r\n", path);
    struct conn *cs = calloc((size_t)conns, sizeof *cs);
    size_t cap = 1 << 20, nt = 0;
    double *t = malloc(cap * sizeof *t), t0, end;
    long long errors = 0;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || !t || ep < 0)
        return 71;
    for (int i = 0; i < conns; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        cs[i].fd = connect_to(addr);
        cs[i].buf = malloc(65536);
        if (cs[i].fd < 0 || !cs[i].buf || epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0) {
            fprintf(stderr, "bench-http-load: cannot open connection %d to %s\n", i, addr);
            return 69;
        }
    }
    t0 = now_us();
    end = t0 + seconds * 1e6;
    for (int i = 0; i < conns; i++)
        if (send_req(&cs[i], req, len) != 0)
            errors++;
    while (now_us() < end) {
        struct epoll_event evs[64];
        int k = epoll_wait(ep, evs, 64, 100);
        for (int j = 0; j < k; j++) {
            struct conn *c = evs[j].data.ptr;
            ssize_t n = recv(c->fd, c->buf + c->have, 65536 - c->have, 0);
            if (n <= 0) {
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                continue;
            }
            c->have += (size_t)n;
            if (!parse(c))
                continue;
            if (c->r.status != 200)
                errors++;
            if (nt < cap)
                t[nt++] = now_us() - c->t0;
            if (send_req(c, req, len) != 0)
                errors++;
        }
    }
    end = now_us();
    qsort(t, nt, sizeof *t, cmp);
    printf("{\"conns\":%d,\"requests\":%zu,\"seconds\":%.3f,\"rps\":%.0f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"errors\":%lld}\n",
           conns, nt, (end - t0) / 1e6, (double)nt / ((end - t0) / 1e6), pct(t, nt, 0.5),
           pct(t, nt, 0.99), errors);
    for (int i = 0; i < conns; i++) {
        close(cs[i].fd);
        free(cs[i].buf);
    }
    free(cs);
    free(t);
    close(ep);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return usage();
    if (strcmp(argv[1], "lat") == 0 || strcmp(argv[1], "get") == 0)
        return single(argv[1], argv[2], argv[3], atol(argv[4]) > 0 ? atol(argv[4]) : 1,
                      argc > 5 ? argv[5] : "application/vnd.apache.arrow.stream");
    if (strcmp(argv[1], "alt") == 0)
        return alt(argv[2], atol(argv[3]) > 0 ? atol(argv[3]) : 1, argv + 4, argc - 4);
    if (strcmp(argv[1], "load") == 0 && argc > 5)
        return load(argv[2], argv[3], atoi(argv[4]) > 0 ? atoi(argv[4]) : 1, atof(argv[5]));
    return usage();
}
