/* Benchmarks of the daemon, the client library and the CLI, driven by bench/run.py. Each
 * subcommand prints one JSON object on stdout; nothing here asserts a time.
 *
 *   floor ITERS                 socketpair and unix-socket ping-pong round trips (p50/p99 µs)
 *                               and memcpy bandwidth: the floors the other numbers are read
 *                               against
 *   query DIR LIMIT ITERS       ik_client_query on pin_index through the running daemon with
 *                               one reused client (its connection pool), get_next, release:
 *                               p50/p99 µs; LIMIT -1 is the whole-table handoff
 *   qps DIR CLIENTS MS LIMIT S  CLIENTS threads issuing queries for MS milliseconds, each with
 *                               its own ik_client (S=0) or all sharing one (S=1): queries/s
 *   exec ITERS ARGV...          fork/exec ARGV (stdout to /dev/null) and wait: p50/p99 ms
 *   pinadd DIR ITERS            ik_client_pin_add of a new pin (the reply comes once the
 *                               snapshot holding it is published): p50/p99 ms
 *   lookup DIR ITERS            ik_client_query of one pin by cid (cid eq: binary search in each
 *                               segment), warm client: p50/p99 µs
 *   import DIR FILE             ik_client_import_fd of FILE through the daemon: pins/s
 *   store-import DIR FILE       ik_store_import in process into DIR (a fresh store): pins/s
 *   path DIR METHOD COMP SQLITE LIMIT ITERS MAXSEC
 *                               one client path (zero_copy, ipc_stream, direct, traditional;
 *                               COMP none|lz4|zstd; SQLITE 1 = direct from SQLite): a new
 *                               ik_client, its first query timed alone ("cold": new connection,
 *                               new mapping) with the resident growth while its result is held,
 *                               then up to ITERS warm queries (at most MAXSEC seconds, at least
 *                               3, or 1 when the cold query took over MAXSEC/3), every batch
 *                               taken: min/p50/p99 µs. LIMIT -1 = whole table
 *   scan FILE REPS              floors over a snapshot file: map it and touch every page; sum
 *                               every 8-byte word of the mapping (bandwidth); min/p50/p99 ms
 *   groupby DIR ITERS           zero_copy whole table, then sum(size_bytes) group by backend in
 *                               plain C over the mapped buffers: the floor for the same query
 *                               in pyarrow / polars / DuckDB / SQLite; min/p50/p99 ms
 *
 * Clients here ask the daemon on every query (ik_client_options.no_watch), so that the
 * numbers measure the round trip; BENCH_WATCH=1 lets them use the daemon's version page as
 * clients do by default (repeated queries answered from the held snapshot).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipfskit/client.h"
#include "ipfskit/store.h"

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints "name": {"p50":..,"p99":..,"min":..,"n":..} (values in the caller's unit). */
/* min/p50/p99 of t[0..n) (sorted here) as "name": {...}. */
static void print_stats(const char *name, double *t, int n, const char *tail)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("\"%s\": {\"min\": %.3f, \"p50\": %.3f, \"p99\": %.3f, \"n\": %d}%s", name, t[0],
           t[n / 2], t[n > 1 ? (int)((double)(n - 1) * 0.99) : 0], n, tail);
}

static void die(const char *what, const struct ik_error *err)
{
    fprintf(stderr, "bench-daemon: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

/* ---- floors ------------------------------------------------------------------------------ */

static void *echo_thread(void *arg)
{
    int fd = *(int *)arg;
    char buf[256];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0 || write(fd, buf, (size_t)n) != n)
            break;
    }
    return NULL;
}

/* Before blocking, the pinger may wait as the client library does (lib/proto/sock.c wait_fd:
 * a few sched_yield + poll(0) rounds), so that the floor is measured with the same waiting
 * strategy as the queries compared with it. */
static void wait_spin(int fd)
{
    for (int k = 0; k < 16; k++) {
        struct pollfd p = {fd, POLLIN, 0};
        sched_yield();
        if (poll(&p, 1, 0) > 0)
            return;
    }
}

/* Round trips of a 64-byte message to an echo thread over `fd`. */
static void ping_pong(int fd, double *t, int iters, int spin)
{
    char msg[64] = {1}, back[64];
    for (int i = -iters / 10; i < iters; i++) {
        double t0 = now_us();
        size_t got = 0;
        if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg)
            die("ping write", NULL);
        if (spin)
            wait_spin(fd);
        while (got < sizeof back) {
            ssize_t n = read(fd, back + got, sizeof back - got);
            if (n <= 0)
                die("ping read", NULL);
            got += (size_t)n;
        }
        if (i >= 0)
            t[i] = now_us() - t0;
    }
}

static int cmd_floor(int iters)
{
    double *t = calloc((size_t)iters, sizeof *t);
    int sv[2];
    pthread_t th;
    struct sockaddr_un sa = {0};
    char path[108];
    int lfd, cfd, afd;
    size_t bytes = 256u << 20;
    uint8_t *src, *dst;
    double best = 1e30;

    printf("{");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        die("socketpair", NULL);
    pthread_create(&th, NULL, echo_thread, &sv[1]);
    ping_pong(sv[0], t, iters, 0);
    close(sv[0]);
    pthread_join(th, NULL);
    close(sv[1]);
    print_stats("socketpair_rtt_us", t, iters, ", ");

    snprintf(path, sizeof path, "/tmp/ik-bench-%ld.sock", (long)getpid());
    unlink(path);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4) != 0)
        die("unix listen", NULL);
    cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("unix connect", NULL);
    afd = accept(lfd, NULL, NULL);
    pthread_create(&th, NULL, echo_thread, &afd);
    ping_pong(cfd, t, iters, 0);
    print_stats("unix_rtt_us", t, iters, ", ");
    ping_pong(cfd, t, iters, 1);
    print_stats("unix_rtt_spin_us", t, iters, ", ");
    close(cfd);
    pthread_join(th, NULL);
    close(afd);
    close(lfd);
    unlink(path);

    src = malloc(bytes);
    dst = malloc(bytes);
    memset(src, 0x5a, bytes);
    memset(dst, 0, bytes);
    for (int r = 0; r < 5; r++) {
        double t0 = now_us(), dt;
        memcpy(dst, src, bytes);
        dt = now_us() - t0;
        if (dt < best)
            best = dt;
    }
    printf("\"memcpy_gb_per_s\": %.3f, \"check\": %d}\n", (double)bytes / best / 1e3,
           dst[bytes / 2]);
    free(src);
    free(dst);
    free(t);
    return 0;
}

/* ---- queries ----------------------------------------------------------------------------- */

/* Whether clients may answer from the version page (BENCH_WATCH=1), or must ask the daemon. */
static bool use_watch(void)
{
    const char *v = getenv("BENCH_WATCH");
    return v && strcmp(v, "0") != 0 && v[0];
}

static struct ik_client *open_client(const char *dir)
{
    struct ik_client_options o;
    struct ik_client *c;
    struct ik_error err = {{0}};
    ik_client_options_init(&o);
    o.path = dir;
    o.no_watch = !use_watch();
    o.method = IK_METHOD_ZERO_COPY; /* never fall back silently: we measure this path */
    if (ik_client_open(&o, &c, &err) != 0)
        die("client open", &err);
    return c;
}

/* One query: ask, take every batch (one per run of live rows of each segment), release them
 * and the stream. */
static int64_t one_query(struct ik_client *c, const struct ik_query *q, uint64_t *version,
                         struct ik_timings *tm)
{
    struct ik_result r;
    struct ik_error err = {{0}};
    struct ArrowArray b;
    int64_t rows = 0;
    if (ik_client_query(c, q, &r, &err) != 0)
        die("query", &err);
    for (;;) {
        if (r.stream.get_next(&r.stream, &b) != 0)
            die("get_next", NULL);
        if (b.release == NULL)
            break;
        rows += b.length;
        b.release(&b);
    }
    if (tm)
        *tm = r.timings;
    if (version)
        *version = r.version;
    ik_result_reset(&r);
    return rows;
}

static int cmd_query(const char *dir, long limit, int iters)
{
    struct ik_client *c = open_client(dir);
    struct ik_query q;
    double *t = calloc((size_t)iters, sizeof *t), *req = calloc((size_t)iters, sizeof *t),
           *dec = calloc((size_t)iters, sizeof *t);
    uint64_t version = 0;
    int64_t rows = 0;
    ik_query_init(&q, "pin_index");
    q.limit = limit;
    for (int i = -iters / 10 - 10; i < iters; i++) {
        struct ik_timings tm;
        double t0 = now_us();
        rows = one_query(c, &q, &version, &tm);
        if (i >= 0) {
            t[i] = now_us() - t0;
            req[i] = tm.request_ms * 1e3; /* request sent until the header and fd arrived */
            dec[i] = tm.decode_ms * 1e3;  /* map + open + slice */
        }
    }
    printf("{\"limit\": %ld, \"rows\": %lld, \"version\": %llu, ", limit, (long long)rows,
           (unsigned long long)version);
    print_stats("request_us", req, iters, ", ");
    print_stats("decode_us", dec, iters, ", ");
    print_stats("us", t, iters, "}\n");
    free(req);
    free(dec);
    ik_query_reset(&q);
    ik_client_close(c);
    free(t);
    return 0;
}

struct qps_arg {
    struct ik_client *c;
    const char *dir;
    long limit;
    double until;
    atomic_bool *go;
    long long n;
};

static void *qps_thread(void *p)
{
    struct qps_arg *a = p;
    struct ik_client *c = a->c ? a->c : open_client(a->dir);
    struct ik_query q;
    ik_query_init(&q, "pin_index");
    q.limit = a->limit;
    one_query(c, &q, NULL, NULL); /* connect before the clock starts */
    while (!atomic_load(a->go))
        ;
    while (now_us() < a->until) {
        one_query(c, &q, NULL, NULL);
        a->n++;
    }
    ik_query_reset(&q);
    if (!a->c)
        ik_client_close(c);
    return NULL;
}

static int cmd_qps(const char *dir, int clients, int ms, long limit, int shared)
{
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    struct qps_arg *a = calloc((size_t)clients, sizeof *a);
    struct ik_client *one = shared ? open_client(dir) : NULL;
    atomic_bool go = false;
    long long total = 0;
    double t0, until;
    t0 = now_us() + 200e3 + 2e3 * clients; /* time for every thread to connect */
    until = t0 + ms * 1e3;
    for (int i = 0; i < clients; i++) {
        a[i] = (struct qps_arg){one, dir, limit, until, &go, 0};
        pthread_create(&th[i], NULL, qps_thread, &a[i]);
    }
    while (now_us() < t0)
        usleep(1000);
    atomic_store(&go, true);
    t0 = now_us();
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += a[i].n;
    }
    printf("{\"clients\": %d, \"shared\": %d, \"limit\": %ld, \"queries\": %lld, "
           "\"seconds\": %.3f, \"qps\": %.0f}\n",
           clients, shared, limit, total, (until - t0) / 1e6, (double)total / ((until - t0) / 1e6));
    ik_client_close(one);
    free(th);
    free(a);
    return 0;
}

/* ---- whole processes --------------------------------------------------------------------- */

static int cmd_exec(int iters, char **argv)
{
    double *t = calloc((size_t)iters, sizeof *t);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (int i = -3; i < iters; i++) {
        pid_t pid;
        int st = 0;
        double t0 = now_us();
        if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
            die("posix_spawn", NULL);
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die("child failed", NULL);
        if (i >= 0)
            t[i] = (now_us() - t0) / 1e3;
    }
    printf("{");
    print_stats("ms", t, iters, "}\n");
    posix_spawn_file_actions_destroy(&fa);
    free(t);
    return 0;
}

/* A valid CIDv1 (raw, sha2-256) in base16 whose digest is derived from `n`. */
static void make_cid(uint64_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t bin[36] = {0x01, 0x55, 0x12, 0x20};
    uint64_t x = n * 0x9E3779B97F4A7C15ull + 0xB5AD4ECEDA1CE2A9ull;
    for (int i = 4; i < 36; i++) {
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ull;
        bin[i] = (uint8_t)(x >> 56);
    }
    out[0] = 'f';
    for (int i = 0; i < 36; i++) {
        out[1 + 2 * i] = hex[bin[i] >> 4];
        out[2 + 2 * i] = hex[bin[i] & 15];
    }
    out[73] = 0;
}

static int cmd_pinadd(const char *dir, int iters)
{
    struct ik_client *c = open_client(dir);
    double *t = calloc((size_t)iters, sizeof *t);
    uint64_t gen = 0;
    for (int i = -1; i < iters; i++) {
        struct ik_pin p;
        struct ik_error err = {{0}};
        char cid[80];
        double t0;
        make_cid((uint64_t)(i + 2) + ((uint64_t)getpid() << 20), cid);
        ik_pin_init(&p);
        p.cid = cid;
        p.name = "bench.bin";
        p.size_bytes = 1234;
        p.vfs_path = "/bench/bench.bin";
        t0 = now_us();
        if (ik_client_pin_add(c, &p, &gen, &err) != 0)
            die("pin_add", &err);
        if (i >= 0)
            t[i] = (now_us() - t0) / 1e3;
    }
    printf("{\"generation\": %llu, ", (unsigned long long)gen);
    print_stats("ms", t, iters, "}\n");
    ik_client_close(c);
    free(t);
    return 0;
}

/* ITERS point lookups (cid eq, a random pin of the first 1000 rows) through one warm client:
 * p50/p99 µs of the library call, every batch taken. */
static int cmd_lookup(const char *dir, int iters)
{
    struct ik_client *c = open_client(dir);
    struct ik_query q;
    struct ik_result r;
    struct ik_error err = {{0}};
    struct ArrowArray b;
    char(*cids)[64] = calloc(1000, 64);
    double *t = calloc((size_t)iters, sizeof *t);
    int n = 0;
    ik_query_init(&q, "pin_index");
    if (ik_query_add_column(&q, "cid", &err) != 0)
        die("query", &err);
    q.limit = 1000;
    if (ik_client_query(c, &q, &r, &err) != 0)
        die("query", &err);
    while (r.stream.get_next(&r.stream, &b) == 0 && b.release) {
        const struct ArrowArray *col = b.children[0];
        const int32_t *o = col->buffers[1];
        for (int64_t i = 0; i < b.length && n < 1000; i++, n++) {
            int64_t k = col->offset + i;
            snprintf(cids[n], 64, "%.*s", (int)(o[k + 1] - o[k]),
                     (const char *)col->buffers[2] + o[k]);
        }
        b.release(&b);
    }
    ik_result_reset(&r);
    ik_query_reset(&q);
    if (n == 0)
        die("no pins to look up", NULL);
    for (int i = -iters / 10 - 10; i < iters; i++) {
        double t0;
        ik_query_init(&q, "pin_index");
        if (ik_query_filter_str(&q, "cid", IK_OP_EQ,
                                cids[(unsigned)(i + 1000) * 7919u % (unsigned)n], &err) != 0)
            die("query", &err);
        t0 = now_us();
        if (one_query(c, &q, NULL, NULL) != 1)
            die("lookup found no row", NULL);
        if (i >= 0)
            t[i] = now_us() - t0;
        ik_query_reset(&q);
    }
    printf("{");
    print_stats("us", t, iters, "}\n");
    ik_client_close(c);
    free(cids);
    free(t);
    return 0;
}

/* changes(since) through a warm client, `iters` times: p50/p99 ms of the library call with
 * every batch taken; `method` "daemon" (the daemon's reply: its change tail when it covers
 * since) or "direct" (the store read by the client itself: SQLite, as before the tail). */
static int cmd_changes(const char *dir, uint64_t since, int iters, const char *method)
{
    struct ik_client_options o;
    struct ik_client *c;
    struct ik_error err = {{0}};
    double *t = calloc((size_t)iters, sizeof *t);
    int64_t rows = 0;
    uint64_t version = 0;
    ik_client_options_init(&o);
    o.path = dir;
    o.no_watch = true;
    o.method = strcmp(method, "direct") == 0 ? IK_METHOD_DIRECT : IK_METHOD_IPC_STREAM;
    if (ik_client_open(&o, &c, &err) != 0)
        die("client open", &err);
    for (int i = -iters / 10 - 1; i < iters; i++) {
        struct ik_result r;
        struct ArrowArray b;
        double t0 = now_us();
        if (ik_client_changes(c, "pin_index", since, &r, &err) != 0)
            die("changes", &err);
        rows = 0;
        while (r.stream.get_next(&r.stream, &b) == 0 && b.release) {
            rows += b.length;
            b.release(&b);
        }
        version = r.version;
        ik_result_reset(&r);
        if (i >= 0)
            t[i] = (now_us() - t0) / 1e3;
    }
    printf("{\"rows\": %lld, \"version\": %llu, \"since\": %llu, ", (long long)rows,
           (unsigned long long)version, (unsigned long long)since);
    print_stats("ms", t, iters, "}\n");
    ik_client_close(c);
    free(t);
    return 0;
}

static int cmd_import(const char *dir, const char *file)
{
    struct ik_client *c = open_client(dir);
    struct ik_import_options o;
    struct ik_import_result res = {0};
    struct ik_error err = {{0}};
    uint64_t gen = 0;
    double t0, dt;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(file, NULL);
    ik_import_options_init(&o);
    t0 = now_us();
    if (ik_client_import_fd(c, fd, &o, &res, &gen, &err) != 0)
        die("import", &err);
    dt = (now_us() - t0) / 1e6;
    printf("{\"imported\": %lld, \"seconds\": %.3f, \"pins_per_s\": %.0f}\n",
           (long long)res.imported, dt, (double)res.imported / dt);
    close(fd);
    ik_client_close(c);
    return 0;
}

static int cmd_store_import(const char *dir, const char *file)
{
    struct ik_store *st;
    struct ik_import_options o;
    struct ik_import_result res = {0};
    struct ik_error err = {{0}};
    struct stat sb;
    double t0, dt;
    uint8_t *data;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0)
        die(file, NULL);
    data = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (data == MAP_FAILED)
        die("mmap", NULL);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0)
        die("store open", &err);
    ik_import_options_init(&o);
    t0 = now_us();
    if (ik_store_import(st, data, (size_t)sb.st_size, &o, &res, &err) != 0)
        die("store import", &err);
    dt = (now_us() - t0) / 1e6;
    printf("{\"imported\": %lld, \"seconds\": %.3f, \"pins_per_s\": %.0f}\n",
           (long long)res.imported, dt, (double)res.imported / dt);
    ik_store_close(st);
    munmap(data, (size_t)sb.st_size);
    close(fd);
    return 0;
}

/* ---- every client path ------------------------------------------------------------------- */

static long status_kib(const char *key)
{
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = atol(line + kl + 1);
            break;
        }
    fclose(f);
    return v;
}

/* Runs q and takes every batch; *held (when not NULL) keeps the batches alive (caller frees).
 * Returns the rows. */
static int64_t drain_query(struct ik_client *c, const struct ik_query *q, enum ik_method want,
                           struct ArrowArray **held, int *nheld)
{
    struct ik_result r;
    struct ik_error err = {{0}};
    int64_t rows = 0;
    if (ik_client_query(c, q, &r, &err) != 0)
        die("query", &err);
    if (r.method != want) {
        fprintf(stderr, "bench-daemon: asked for %s, got %s\n", ik_method_name(want),
                r.method_name);
        exit(1);
    }
    for (;;) {
        struct ArrowArray b;
        if (r.stream.get_next(&r.stream, &b) != 0)
            die("get_next", NULL);
        if (b.release == NULL)
            break;
        rows += b.length;
        if (held) {
            *held = realloc(*held, (size_t)(*nheld + 1) * sizeof **held);
            (*held)[(*nheld)++] = b;
        } else {
            b.release(&b);
        }
    }
    ik_result_reset(&r);
    return rows;
}

static int cmd_path(char **a)
{
    const char *dir = a[0];
    int method = ik_method_from_name(a[1]);
    const char *comp = a[2];
    long limit = atol(a[4]);
    int iters = atoi(a[5]);
    double maxsec = atof(a[6]), t0, cold, deadline;
    struct ik_client_options o;
    struct ik_client *c;
    struct ik_error err = {{0}};
    struct ik_query q;
    struct ArrowArray *held = NULL;
    int nheld = 0, n = 0;
    long rss0, rss1, hwm0, hwm1;
    int64_t rows;
    double *t = calloc((size_t)(iters > 0 ? iters : 1), sizeof *t);
    if (method <= 0)
        die("unknown method", NULL);
    ik_client_options_init(&o);
    o.path = dir;
    o.no_watch = !use_watch();
    o.method = (enum ik_method)method;
    o.compression = strcmp(comp, "lz4") == 0    ? IK_COMPRESSION_LZ4
                    : strcmp(comp, "zstd") == 0 ? IK_COMPRESSION_ZSTD
                                                : IK_COMPRESSION_NONE;
    o.direct_sqlite = atoi(a[3]) != 0;
    if (ik_client_open(&o, &c, &err) != 0)
        die("client open", &err);
    ik_query_init(&q, "pin_index");
    q.limit = limit;

    rss0 = status_kib("VmRSS");
    hwm0 = status_kib("VmHWM");
    t0 = now_us();
    rows = drain_query(c, &q, o.method, &held, &nheld);
    cold = now_us() - t0;
    rss1 = status_kib("VmRSS");
    hwm1 = status_kib("VmHWM");
    for (int i = 0; i < nheld; i++)
        held[i].release(&held[i]);
    free(held);

    deadline = now_us() + maxsec * 1e6;
    /* at least 3 warm runs, or 1 when the cold one alone took a third of the budget */
    for (; n < iters && (n < (cold * 3 > maxsec * 1e6 ? 1 : 3) || now_us() < deadline); n++) {
        double s = now_us();
        drain_query(c, &q, o.method, NULL, NULL);
        t[n] = now_us() - s;
    }
    printf("{\"method\": \"%s\", \"compression\": \"%s\", \"sqlite\": %d, \"limit\": %ld, "
           "\"rows\": %lld, \"cold_us\": %.3f, \"rss_growth_kib\": %ld, \"hwm_growth_kib\": %ld, ",
           ik_method_name(o.method), comp, o.direct_sqlite, limit, (long long)rows, cold,
           rss1 - rss0, hwm1 - hwm0);
    print_stats("us", t, n, "}\n");
    ik_query_reset(&q);
    ik_client_close(c);
    free(t);
    return 0;
}

static int cmd_scan(const char *file, int reps)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    double *touch = calloc((size_t)reps, sizeof *touch), *sum = calloc((size_t)reps, sizeof *sum);
    uint64_t acc = 0;
    size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
    if (fd < 0 || fstat(fd, &sb) != 0)
        die(file, NULL);
    len = (size_t)sb.st_size;
    for (int r = 0; r < reps; r++) {
        const volatile uint8_t *p;
        const uint64_t *w;
        double s = now_us();
        void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            die("mmap", NULL);
        p = m;
        for (size_t off = 0; off < len; off += page)
            acc += p[off];
        touch[r] = (now_us() - s) / 1e3;
        w = m;
        s = now_us();
        for (size_t i = 0; i < len / 8; i++)
            acc += w[i];
        sum[r] = (now_us() - s) / 1e3;
        munmap(m, len);
    }
    printf("{\"bytes\": %zu, \"pages\": %zu, \"check\": %llu, ", len, (len + page - 1) / page,
           (unsigned long long)(acc & 0xff));
    print_stats("touch_pages_ms", touch, reps, ", ");
    printf("\"sum_gb_per_s\": %.3f, ", (double)len / (sum[0] * 1e6));
    print_stats("sum_words_ms", sum, reps, "}\n");
    free(touch);
    free(sum);
    close(fd);
    return 0;
}

static int child_index(const struct ArrowSchema *s, const char *name)
{
    for (int64_t i = 0; i < s->n_children; i++)
        if (strcmp(s->children[i]->name, name) == 0)
            return (int)i;
    die(name, NULL);
    return -1;
}

/* zero_copy whole table, sum(size_bytes) group by backend over the mapped buffers. */
static int cmd_groupby(const char *dir, int iters)
{
    struct ik_client *c = open_client(dir);
    struct ik_query q;
    double *t = calloc((size_t)iters, sizeof *t);
    int64_t groups = 0, total = 0;
    ik_query_init(&q, "pin_index");
    for (int it = -2; it < iters; it++) {
        struct ik_result r;
        struct ik_error err = {{0}};
        struct ArrowSchema s;
        int is, ib;
        int64_t sums[65536] = {0};
        uint8_t seen[65536] = {0};
        double t0 = now_us();
        if (ik_client_query(c, &q, &r, &err) != 0)
            die("query", &err);
        if (r.stream.get_schema(&r.stream, &s) != 0)
            die("get_schema", NULL);
        is = child_index(&s, "size_bytes");
        ib = child_index(&s, "backend");
        s.release(&s);
        total = 0;
        for (;;) {
            struct ArrowArray b;
            const struct ArrowArray *sz, *be;
            const int64_t *v;
            const int16_t *k;
            const uint8_t *valid;
            if (r.stream.get_next(&r.stream, &b) != 0)
                die("get_next", NULL);
            if (b.release == NULL)
                break;
            sz = b.children[is];
            be = b.children[ib];
            v = (const int64_t *)sz->buffers[1] + sz->offset + b.offset;
            valid = sz->null_count != 0 ? sz->buffers[0] : NULL;
            k = (const int16_t *)be->buffers[1] + be->offset + b.offset;
            for (int64_t i = 0; i < b.length; i++) {
                int64_t bit = sz->offset + b.offset + i;
                if (valid && !(valid[bit >> 3] >> (bit & 7) & 1))
                    continue;
                sums[(uint16_t)k[i]] += v[i];
                seen[(uint16_t)k[i]] = 1;
            }
            total += b.length;
            b.release(&b);
        }
        ik_result_reset(&r);
        groups = 0;
        for (int g = 0; g < 65536; g++)
            groups += seen[g];
        if (it >= 0)
            t[it] = (now_us() - t0) / 1e3;
    }
    printf("{\"rows\": %lld, \"groups\": %lld, ", (long long)total, (long long)groups);
    print_stats("ms", t, iters, "}\n");
    ik_query_reset(&q);
    ik_client_close(c);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 9 && strcmp(argv[1], "path") == 0)
        return cmd_path(argv + 2);
    if (argc >= 4 && strcmp(argv[1], "scan") == 0)
        return cmd_scan(argv[2], atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "groupby") == 0)
        return cmd_groupby(argv[2], atoi(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "floor") == 0)
        return cmd_floor(atoi(argv[2]));
    if (argc >= 5 && strcmp(argv[1], "query") == 0)
        return cmd_query(argv[2], atol(argv[3]), atoi(argv[4]));
    if (argc >= 7 && strcmp(argv[1], "qps") == 0)
        return cmd_qps(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), atoi(argv[6]));
    if (argc >= 4 && strcmp(argv[1], "exec") == 0)
        return cmd_exec(atoi(argv[2]), argv + 3);
    if (argc >= 4 && strcmp(argv[1], "pinadd") == 0)
        return cmd_pinadd(argv[2], atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "lookup") == 0)
        return cmd_lookup(argv[2], atoi(argv[3]));
    if (argc >= 6 && strcmp(argv[1], "changes") == 0)
        return cmd_changes(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]), argv[5]);
    if (argc >= 4 && strcmp(argv[1], "import") == 0)
        return cmd_import(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "store-import") == 0)
        return cmd_store_import(argv[2], argv[3]);
    fprintf(
        stderr,
        "usage: bench-daemon "
        "floor|query|qps|exec|pinadd|lookup|changes|import|store-import|path|scan|groupby ...\n");
    return 2;
}
