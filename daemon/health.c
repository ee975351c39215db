/* Backend health: a prober thread checks each backend of config.json every
 * health_interval_s seconds — TCP (connect) or HTTP (GET, status line) with the backend's
 * timeout — and keeps status, response time, error count and success rate for the
 * `backend_health` table. It never runs on the loop. */
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"

struct probe_state {
    char status[16]; /* ok, degraded, down, unknown */
    double response_ms;
    int64_t last_check_us;
    int64_t errors, successes, probes;
};

struct ik_health {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct probe_state *st; /* one per cfg.backends */
};

/* Connects within `timeout_ms`; returns the fd or -1. */
static int connect_timeout(const char *host, int port, int timeout_ms)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char ports[16];
    int fd = -1;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ports, sizeof ports, "%d", port);
    if (getaddrinfo(host, ports, &hints, &res) != 0)
        return -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        struct pollfd pfd;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (errno != EINPROGRESS || poll(&pfd, 1, timeout_ms) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* HTTP status code of GET path, or -1 (no answer in time). */
static int http_status(int fd, const struct ik_backend_conf *b, int timeout_ms)
{
    char req[768], resp[64];
    size_t got = 0;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: ipfs-kit\r\n\r\n",
                     b->path[0] ? b->path : "/", b->host);
    if (n < 0 || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    while (got < 12) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t r;
        if (poll(&pfd, 1, timeout_ms) != 1)
            return -1;
        r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    resp[got] = 0;
    if (strncmp(resp, "HTTP/", 5) != 0 || !strchr(resp, ' '))
        return -1;
    return atoi(strchr(resp, ' ') + 1);
}

static void probe(const struct ik_backend_conf *b, struct probe_state *st)
{
    struct timespec t0, t1;
    int timeout = b->timeout_ms > 0 ? b->timeout_ms : 2000, fd, code = 0;
    const char *status = "down";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fd = connect_timeout(b->host, b->port, timeout);
    if (fd >= 0) {
        if (strcmp(b->kind, "http") == 0) {
            code = http_status(fd, b, timeout);
            status = code >= 200 && code < 400 ? "ok" : code > 0 ? "degraded" : "down";
        } else {
            status = "ok";
        }
        close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    snprintf(st->status, sizeof st->status, "%s", status);
    st->response_ms =
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    st->last_check_us = (int64_t)(ik_wall_ms() * 1000.0);
    st->probes++;
    if (strcmp(status, "ok") == 0)
        st->successes++;
    else
        st->errors++;
}

static void *health_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_health *h = d->health;
    size_t n = d->cfg.n_backends;
    int interval = d->cfg.health_interval_s > 0 ? d->cfg.health_interval_s : 10;
    ik_sched_thread(d, "ik-health", IK_THREAD_NORMAL);
    struct probe_state *tmp = calloc(n ? n : 1, sizeof *tmp);
    if (!tmp)
        return NULL;
    while (!atomic_load(&d->stop)) {
        struct timespec until;
        pthread_mutex_lock(&h->mu);
        memcpy(tmp, h->st, n * sizeof *tmp);
        pthread_mutex_unlock(&h->mu);
        for (size_t i = 0; i < n && !atomic_load(&d->stop); i++)
            probe(&d->cfg.backends[i], &tmp[i]); /* no lock held while probing */
        pthread_mutex_lock(&h->mu);
        memcpy(h->st, tmp, n * sizeof *tmp);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += interval;
        if (!atomic_load(&d->stop))
            pthread_cond_timedwait(&h->cv, &h->mu, &until);
        pthread_mutex_unlock(&h->mu);
    }
    free(tmp);
    return NULL;
}

int ik_health_start(struct ik_daemon *d, struct ik_error *err)
{
    struct ik_health *h = calloc(1, sizeof *h);
    size_t n = d->cfg.n_backends;
    if (!h || !(h->st = calloc(n ? n : 1, sizeof *h->st))) {
        free(h);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        snprintf(h->st[i].status, sizeof h->st[i].status, "unknown");
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    d->health = h;
    if (n > 0) {
        int rc = pthread_create(&h->thread, NULL, health_main, d);
        if (rc != 0)
            return ik_error_set(err, rc, "starting the health prober: %s", strerror(rc));
        h->started = true;
    }
    return 0;
}

void ik_health_stop(struct ik_daemon *d)
{
    struct ik_health *h = d->health;
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    free(h->st);
    free(h);
    d->health = NULL;
}

int ik_health_build(struct ik_daemon *d, struct ArrowSchema *schema, struct ArrowArray *out,
                    struct ik_error *err)
{
    struct ik_builder *b = NULL;
    struct ik_health *h = d->health;
    size_t n = d->cfg.n_backends, n_src = ik_syncer_sources(d);
    int rc = ik_builder_create_table("backend_health", (int64_t)(n + n_src) + 1, &b, err);
    int c_name, c_status, c_rt, c_last, c_err, c_rate;
    if (rc != 0)
        return rc;
    c_name = ik_builder_column(b, "backend_name");
    c_status = ik_builder_column(b, "status");
    c_rt = ik_builder_column(b, "response_time_ms");
    c_last = ik_builder_column(b, "last_check");
    c_err = ik_builder_column(b, "error_count");
    c_rate = ik_builder_column(b, "success_rate");
    if (n == 0 && n_src == 0) { /* nothing configured: the default backend, never probed */
        rc = ik_builder_str(b, c_name, "ipfs", 4, err);
        if (!rc)
            rc = ik_builder_str(b, c_status, "unknown", 7, err);
        if (!rc)
            rc = ik_builder_int(b, c_err, 0, err);
        if (!rc)
            rc = ik_builder_end_row(b, err);
    }
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct probe_state *st = &h->st[i];
        const char *name = d->cfg.backends[i].name;
        rc = ik_builder_str(b, c_name, name, strlen(name), err);
        if (!rc)
            rc = ik_builder_str(b, c_status, st->status, strlen(st->status), err);
        if (!rc && st->probes)
            rc = ik_builder_double(b, c_rt, st->response_ms, err);
        if (!rc && st->probes)
            rc = ik_builder_int(b, c_last, st->last_check_us, err);
        if (!rc)
            rc = ik_builder_int(b, c_err, st->errors, err);
        if (!rc && st->probes)
            rc = ik_builder_double(b, c_rate, (double)st->successes / (double)st->probes, err);
        if (!rc)
            rc = ik_builder_end_row(b, err);
    }
    pthread_mutex_unlock(&h->mu);
    if (rc == 0)
        rc = ik_syncer_health_rows(d, b, err);
    if (rc == 0)
        rc = ik_builder_finish(b, NULL, schema, out, err);
    ik_builder_destroy(b);
    return rc;
}
