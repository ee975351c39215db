/* The write-and-query soak of issue 12 (run by bench/bench_soak.py, which starts the daemon
 * and samples its RSS): for SECONDS, WRITERS threads (default 1), each with its own connection,
 * send `pin touch` at RATE per second between them (each paced by the clock at RATE/WRITERS,
 * their schedules interleaved, not paced by the replies: a slow reply makes the next ones late,
 * not fewer) over 1,000 pins of the store, while CLIENTS threads, each with its own client
 * (defaults: zero_copy, version page), look up a random one of those pins by cid, reading the
 * batch. Every touch and every query must succeed; a lookup must find its one row. Several
 * writers are what a node's many touching processes look like, and what group commit is for.
 * Usage: bench-soak DIR SECONDS CLIENTS RATE [WRITERS [READ_RATE]]
 * READ_RATE: lookups per second between the clients, each paced by the clock at
 * READ_RATE/CLIENTS as the writers are (0, the default: each as fast as it can).
 * Prints one JSON object: writes (count, rate, reply ms min/p50/p99/max, how late the writer
 * fell behind its schedule), queries (count, per second, errors). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipfskit/client.h"

#define N_CIDS 1000

static char cids[N_CIDS][80];
static int n_cids;
static const char *dir;
static double end_ms, read_rate, t_start;
static int n_clients;
static atomic_long queries, failures;
static char first_error[512];
static pthread_mutex_t error_mu = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail(const char *what, const char *msg)
{
    atomic_fetch_add(&failures, 1);
    pthread_mutex_lock(&error_mu);
    if (!first_error[0])
        snprintf(first_error, sizeof first_error, "%.40s: %.400s", what, msg);
    pthread_mutex_unlock(&error_mu);
}

static struct ik_client *open_client(void)
{
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    ik_client_options_init(&o);
    o.path = dir;
    if (ik_client_open(&o, &c, &err) != 0) {
        fprintf(stderr, "bench-soak: %s\n", err.message);
        exit(1);
    }
    return c;
}

/* The cids of the first N_CIDS rows. */
static void load_cids(void)
{
    struct ik_client *c = open_client();
    struct ik_query q;
    struct ik_result r;
    struct ik_error err = {{0}};
    struct ArrowArray b = {0};
    ik_query_init(&q, "pin_index");
    q.limit = N_CIDS;
    ik_result_init(&r);
    if (ik_query_add_column(&q, "cid", &err) != 0 || ik_client_query(c, &q, &r, &err) != 0) {
        fprintf(stderr, "bench-soak: %s\n", err.message);
        exit(1);
    }
    while (n_cids < N_CIDS && r.stream.get_next(&r.stream, &b) == 0 && b.release) {
        const struct ArrowArray *col = b.children[0];
        const int32_t *off = col->buffers[1];
        const char *data = col->buffers[2];
        for (int64_t i = 0; i < b.length && n_cids < N_CIDS; i++) {
            int64_t at = col->offset + b.offset + i;
            int len = off[at + 1] - off[at];
            snprintf(cids[n_cids++], sizeof cids[0], "%.*s", len, data + off[at]);
        }
        b.release(&b);
    }
    ik_result_reset(&r);
    ik_query_reset(&q);
    ik_client_close(c);
    if (n_cids == 0) {
        fprintf(stderr, "bench-soak: the store has no pins\n");
        exit(1);
    }
}

static void *reader(void *arg)
{
    struct ik_client *c = open_client();
    unsigned seed = (unsigned)(size_t)arg * 2654435761u;
    long k = 0;
    int index = (int)(size_t)arg - 1;
    while (now_ms() < end_ms) {
        if (read_rate > 0) { /* client i's k-th lookup is due at t0 + (k * clients + i) / rate */
            double due = t_start + ((double)k++ * n_clients + index) * 1e3 / read_rate,
                   now = now_ms();
            if (due >= end_ms)
                break;
            if (due > now) {
                struct timespec ts = {0, (long)((due - now) * 1e6)};
                if (due - now >= 1e3) {
                    ts.tv_sec = (time_t)((due - now) / 1e3);
                    ts.tv_nsec = (long)((due - now - (double)ts.tv_sec * 1e3) * 1e6);
                }
                nanosleep(&ts, NULL);
            }
        }
        struct ik_query q;
        struct ik_result r;
        struct ik_error err = {{0}};
        struct ArrowArray b = {0};
        int64_t rows = 0;
        ik_query_init(&q, "pin_index");
        ik_result_init(&r);
        if (ik_query_filter_str(&q, "cid", IK_OP_EQ, cids[rand_r(&seed) % n_cids], &err) != 0 ||
            ik_client_query(c, &q, &r, &err) != 0) {
            fail("query", err.message);
        } else {
            while (r.stream.get_next(&r.stream, &b) == 0 && b.release) {
                rows += b.length;
                b.release(&b);
            }
            if (rows != 1)
                fail("query", "a lookup did not find its one row");
            else
                atomic_fetch_add(&queries, 1);
        }
        ik_result_reset(&r);
        ik_query_reset(&q);
    }
    ik_client_close(c);
    return NULL;
}

struct writer {
    pthread_t th;
    int index, of;
    double rate, t0, late_max, *lat;
    long n, cap;
};

static void *writer(void *arg)
{
    struct writer *w = arg;
    struct ik_client *c = open_client();
    /* writer i's k-th touch is due at t0 + (k * of + i) / rate: together one every 1/rate */
    while (w->n < w->cap) {
        struct ik_error err = {{0}};
        double due = w->t0 + ((double)w->n * w->of + w->index) * 1e3 / w->rate, now = now_ms(), s;
        if (due >= end_ms || now >= end_ms)
            break;
        if (due > now) {
            struct timespec ts = {0, (long)((due - now) * 1e6)};
            nanosleep(&ts, NULL);
        } else if (now - due > w->late_max) {
            w->late_max = now - due;
        }
        s = now_ms();
        if (ik_client_pin_touch(c, cids[(w->n * w->of + w->index) % n_cids], NULL, &err) != 0)
            fail("touch", err.message);
        w->lat[w->n++] = now_ms() - s;
    }
    ik_client_close(c);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    double seconds, rate, t0, late_max = 0, *lat;
    int clients, writers = 1;
    long n = 0, cap;
    pthread_t *th;
    struct writer *wr;
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: bench-soak DIR SECONDS CLIENTS RATE [WRITERS [READ_RATE]]\n");
        return 2;
    }
    dir = argv[1];
    seconds = atof(argv[2]);
    clients = atoi(argv[3]);
    rate = atof(argv[4]);
    if (argc >= 6)
        writers = atoi(argv[5]);
    if (argc == 7)
        read_rate = atof(argv[6]);
    n_clients = clients;
    if (seconds <= 0 || clients < 0 || rate <= 0 || writers < 1 || writers > 256 || read_rate < 0) {
        fprintf(stderr, "bench-soak: SECONDS and RATE must be > 0, CLIENTS >= 0, "
                        "WRITERS 1 to 256\n");
        return 2;
    }
    load_cids();
    cap = (long)(seconds * rate / writers) + 16;
    lat = calloc((size_t)(cap * writers), sizeof *lat);
    th = calloc((size_t)clients + 1, sizeof *th);
    wr = calloc((size_t)writers, sizeof *wr);
    if (!lat || !th || !wr) {
        fprintf(stderr, "bench-soak: out of memory\n");
        return 1;
    }
    t0 = t_start = now_ms();
    end_ms = t0 + seconds * 1e3;
    for (int i = 0; i < clients; i++)
        pthread_create(&th[i], NULL, reader, (void *)(size_t)(i + 1));
    for (int i = 0; i < writers; i++) {
        wr[i] = (struct writer){.index = i,
                                .of = writers,
                                .rate = rate,
                                .t0 = t0,
                                .lat = lat + (size_t)i * (size_t)cap,
                                .cap = cap};
        pthread_create(&wr[i].th, NULL, writer, &wr[i]);
    }
    for (int i = 0; i < writers; i++) {
        pthread_join(wr[i].th, NULL);
        /* gather every writer's latencies at the front, in one array */
        memmove(lat + n, wr[i].lat, (size_t)wr[i].n * sizeof *lat);
        n += wr[i].n;
        if (wr[i].late_max > late_max)
            late_max = wr[i].late_max;
    }
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    seconds = (now_ms() - t0) / 1e3;
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    printf("{\"seconds\": %.2f, \"clients\": %d, \"writers\": %d, \"rate\": %.0f, "
           "\"writes\": %ld, "
           "\"read_rate\": %.0f, \"writes_per_s\": %.1f, \"write_ms\": {\"min\": %.3f, \"p50\": "
           "%.3f, \"p99\": %.3f, "
           "\"max\": %.3f}, \"writer_late_max_ms\": %.1f, \"queries\": %ld, "
           "\"queries_per_s\": %.0f, \"failures\": %ld, \"first_error\": \"",
           seconds, clients, writers, rate, n, read_rate, (double)n / seconds, n ? lat[0] : 0,
           n ? lat[n / 2] : 0, n ? lat[n - 1 - n / 100] : 0, n ? lat[n - 1] : 0, late_max,
           atomic_load(&queries), (double)atomic_load(&queries) / seconds, atomic_load(&failures));
    for (const char *p = first_error; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        putchar((unsigned char)*p < 32 ? ' ' : *p);
    }
    printf("\"}\n");
    free(lat);
    free(th);
    free(wr);
    return atomic_load(&failures) ? 1 : 0;
}
