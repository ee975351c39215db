/* Many clients querying one daemon at once, for test_daemon_concurrency.py (compiled by the
 * test against build/libipfskit.so). Usage: hammer DIR CLIENTS QUERIES WATCH
 *
 * Each thread opens its own ik_client and makes one unfiltered query of pin_index's cid column,
 * reading the result's batch; when every thread has, "READY" is printed. The threads then go on
 * querying until each has made at least QUERIES queries and standard input has reached its end
 * (the writer closes it once its writes are acknowledged), then make one last query, which must
 * see the last write. Every reply must be zero_copy and one consistent
 * state: rows == matched == table_rows == the rows of its batches (one per run of live rows in
 * the segments), with nothing copied; a client's versions never go backwards. Prints "V <client>
 * <version> <table_rows>" for each version a client saw, "P <client> <n> 0" with the number of
 * answers read through the version page (WATCH 1; with WATCH 0 every query asks the daemon), "Q
 * <client> <n> <version>" with its number of queries and the version its last query saw, "ERR
 * <client> <message>" for each failure; exits 1 on any failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/client.h"

#define MAX_SEEN 4096

struct worker {
    pthread_t t;
    int id, queries;
    const char *dir;
    char error[600];
    uint64_t versions[MAX_SEEN];
    int64_t rows[MAX_SEEN];
    int n_seen;
    bool watch;    /* use the version page (the default), or ask the daemon every time */
    int pages;     /* answers read through the version page (detail "page") */
    int done;      /* queries made */
    uint64_t last; /* the version the last query saw */
};

static pthread_barrier_t start;
static atomic_bool stop; /* standard input has ended: the writer is done */

static int one(struct ik_client *c, struct worker *w, uint64_t *last, struct ik_error *err)
{
    struct ik_query q;
    struct ik_result r;
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    int rc;
    ik_query_init(&q, "pin_index");
    rc = ik_query_add_column(&q, "cid", err);
    if (rc == 0)
        rc = ik_client_query(c, &q, &r, err);
    ik_query_reset(&q);
    if (rc != 0)
        return snprintf(w->error, sizeof w->error, "query: rc %d: %s", rc, err->message), 1;
    if (strcmp(r.detail, "page") == 0)
        w->pages++;
    if (r.method != IK_METHOD_ZERO_COPY)
        snprintf(w->error, sizeof w->error, "method %s", r.method_name);
    else if (r.rows != r.matched || r.rows != r.table_rows)
        snprintf(w->error, sizeof w->error, "rows %lld matched %lld table_rows %lld",
                 (long long)r.rows, (long long)r.matched, (long long)r.table_rows);
    else if (r.version < *last)
        snprintf(w->error, sizeof w->error, "version went back from %llu to %llu",
                 (unsigned long long)*last, (unsigned long long)r.version);
    else if (r.copied_rows != 0 || r.copied_bytes != 0)
        snprintf(w->error, sizeof w->error, "copied %lld rows, %lld bytes",
                 (long long)r.copied_rows, (long long)r.copied_bytes);
    else if (r.stream.get_schema(&r.stream, &s) != 0)
        snprintf(w->error, sizeof w->error, "reading the stream failed");
    else {
        int64_t got = 0;
        while ((rc = r.stream.get_next(&r.stream, &b)) == 0 && b.release) {
            got += b.length;
            b.release(&b);
        }
        if (rc != 0)
            snprintf(w->error, sizeof w->error, "reading the stream failed");
        else if (got != r.table_rows)
            snprintf(w->error, sizeof w->error, "batches of %lld rows, table_rows %lld",
                     (long long)got, (long long)r.table_rows);
    }
    if (s.release)
        s.release(&s);
    if (!w->error[0] && (w->n_seen == 0 || w->versions[w->n_seen - 1] != r.version)) {
        if (w->n_seen == MAX_SEEN) {
            snprintf(w->error, sizeof w->error, "too many versions");
        } else {
            w->versions[w->n_seen] = r.version;
            w->rows[w->n_seen++] = r.table_rows;
        }
    }
    *last = r.version;
    w->done++;
    ik_result_reset(&r);
    return w->error[0] != 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    uint64_t last = 0;
    ik_client_options_init(&o);
    o.path = w->dir;
    o.no_watch = !w->watch;
    if (ik_client_open(&o, &c, &err) != 0) {
        snprintf(w->error, sizeof w->error, "open: %s", err.message);
        pthread_barrier_wait(&start);
        return NULL;
    }
    if (one(c, w, &last, &err) != 0) {
        pthread_barrier_wait(&start);
        ik_client_close(c);
        return NULL;
    }
    pthread_barrier_wait(&start);
    while (w->done < w->queries || !atomic_load(&stop))
        if (one(c, w, &last, &err) != 0)
            break;
    if (!w->error[0])
        one(c, w, &last, &err); /* begun after the writer's last acknowledged write */
    w->last = last;
    ik_client_close(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int n, queries, failed = 0;
    struct worker *ws;
    if (argc != 5)
        return fprintf(stderr, "usage: hammer DIR CLIENTS QUERIES WATCH(0|1)\n"), 2;
    n = atoi(argv[2]);
    queries = atoi(argv[3]);
    ws = calloc((size_t)n, sizeof *ws);
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        ws[i].id = i;
        ws[i].queries = queries;
        ws[i].dir = argv[1];
        ws[i].watch = atoi(argv[4]) != 0;
        pthread_create(&ws[i].t, NULL, run, &ws[i]);
    }
    pthread_barrier_wait(&start);
    printf("READY\n");
    fflush(stdout);
    while (getchar() != EOF)
        ;
    atomic_store(&stop, true);
    for (int i = 0; i < n; i++) {
        pthread_join(ws[i].t, NULL);
        for (int k = 0; k < ws[i].n_seen; k++)
            printf("V %d %llu %lld\n", i, (unsigned long long)ws[i].versions[k],
                   (long long)ws[i].rows[k]);
        printf("P %d %d 0\n", i, ws[i].pages);
        printf("Q %d %d %llu\n", i, ws[i].done, (unsigned long long)ws[i].last);
        if (ws[i].error[0]) {
            printf("ERR %d %s\n", i, ws[i].error);
            failed = 1;
        }
    }
    free(ws);
    return failed;
}
