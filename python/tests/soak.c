/* The well-behaved half of the soak test (test_daemon_soak.py; compiled by the test against
 * build/libipfskit.so). Usage: soak DIR CLIENTS SECONDS TIMEOUT_MS
 *
 * CLIENTS threads each open their own ik_clients (timeout TIMEOUT_MS, no version page, so every
 * query is a round trip) and query pin_index for
 * SECONDS: 10 rows of the cid column, by zero_copy, ipc_stream or traditional in turn, reading
 * the rows. Every query must succeed by the method asked, return its rows, and finish within
 * TIMEOUT_MS. Prints "Q <client> <queries> <slowest ms>" per client and "ERR <client> <message>"
 * for a failure (the first one of a client ends it); exits 1 on any failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipfskit/client.h"

struct worker {
    pthread_t t;
    int id;
    const char *dir;
    double seconds, timeout_ms, slowest_ms;
    int queries;
    char error[700];
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int one(struct ik_client *c, struct worker *w, enum ik_method m)
{
    struct ik_query q;
    struct ik_result r;
    struct ik_error err = {{0}};
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    double t0 = now_ms(), ms;
    int rc;
    ik_query_init(&q, "pin_index");
    q.limit = 10;
    rc = ik_query_add_column(&q, "cid", &err);
    if (rc == 0)
        rc = ik_client_query(c, &q, &r, &err);
    ik_query_reset(&q);
    if (rc != 0) {
        snprintf(w->error, sizeof w->error, "query by %s: rc %d: %s", ik_method_name(m), rc,
                 err.message);
        return 1;
    }
    if (r.method != m)
        snprintf(w->error, sizeof w->error, "asked %s, answered by %s", ik_method_name(m),
                 r.method_name);
    else if (r.stream.get_schema(&r.stream, &s) != 0 || r.stream.get_next(&r.stream, &b) != 0 ||
             !b.release)
        snprintf(w->error, sizeof w->error, "reading the %s stream failed", r.method_name);
    else if (b.length != (r.table_rows < 10 ? r.table_rows : 10))
        snprintf(w->error, sizeof w->error, "%lld rows of %lld", (long long)b.length,
                 (long long)r.table_rows);
    if (b.release)
        b.release(&b);
    if (s.release)
        s.release(&s);
    ik_result_reset(&r);
    ms = now_ms() - t0;
    if (ms > w->slowest_ms)
        w->slowest_ms = ms;
    if (!w->error[0] && ms > w->timeout_ms)
        snprintf(w->error, sizeof w->error, "a %s query took %.0f ms (timeout %.0f ms)",
                 ik_method_name(m), ms, w->timeout_ms);
    w->queries++;
    return w->error[0] != 0;
}

static void *run(void *arg)
{
    static const enum ik_method methods[] = {IK_METHOD_ZERO_COPY, IK_METHOD_ZERO_COPY,
                                             IK_METHOD_IPC_STREAM, IK_METHOD_TRADITIONAL};
    struct worker *w = arg;
    struct ik_client *cs[4] = {0};
    struct ik_client_options o;
    struct ik_error err = {{0}};
    double end = now_ms() + w->seconds * 1e3;
    for (int i = 0; i < 4; i++) {
        ik_client_options_init(&o);
        o.path = w->dir;
        o.timeout_ms = (int)w->timeout_ms;
        o.method = methods[i];
        o.no_watch = true; /* every query reaches the daemon */
        if (ik_client_open(&o, &cs[i], &err) != 0) {
            snprintf(w->error, sizeof w->error, "open: %s", err.message);
            goto done;
        }
    }
    for (int k = w->id; now_ms() < end; k++)
        if (one(cs[k % 4], w, methods[k % 4]) != 0)
            break;
done:
    for (int i = 0; i < 4; i++)
        ik_client_close(cs[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    struct worker *ws;
    int n, failed = 0;
    if (argc != 5)
        return fprintf(stderr, "usage: soak DIR CLIENTS SECONDS TIMEOUT_MS\n"), 2;
    n = atoi(argv[2]);
    ws = calloc((size_t)n, sizeof *ws);
    if (!ws)
        return 2;
    for (int i = 0; i < n; i++) {
        ws[i].id = i;
        ws[i].dir = argv[1];
        ws[i].seconds = atof(argv[3]);
        ws[i].timeout_ms = atof(argv[4]);
        pthread_create(&ws[i].t, NULL, run, &ws[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(ws[i].t, NULL);
        printf("Q %d %d %.1f\n", i, ws[i].queries, ws[i].slowest_ms);
        if (ws[i].error[0]) {
            printf("ERR %d %s\n", i, ws[i].error);
            failed = 1;
        }
    }
    free(ws);
    return failed;
}
