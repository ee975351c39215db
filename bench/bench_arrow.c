/* Benchmarks of lib/arrow, driven by bench/run.py:
 *   gen PATH MB            write a fixed-width-heavy IPC file of about MB megabytes
 *   open PATH REPS         map + open + reach batch 0 (structural validation): median µs, RSS KiB
 *   validate PATH REPS     map + open + read every batch with full validation: best GB/s
 *   write MB REPS          uncompressed stream writer into memory vs memcpy of the same bytes
 * Each prints one JSON object on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arrow/internal.h"

#define COLS 8
#define ROWS_PER_BATCH (1 << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kib(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void make_schema(struct ArrowSchema *s)
{
    int i;
    char name[16];
    ik__schema_alloc(s, "+s", "", NULL, 0, COLS);
    for (i = 0; i < COLS; i++) {
        snprintf(name, sizeof name, "c%d", i);
        ik__schema_alloc(s->children[i], i % 2 ? "g" : "l", name, NULL, ARROW_FLAG_NULLABLE, 0);
    }
}

/* A batch of `rows` rows: 8 columns of int64/double, column 0 with a validity bitmap. */
static void make_batch(struct ArrowArray *b, int64_t rows, uint64_t seed)
{
    int i;
    int64_t r;
    ik__array_alloc(b, 1, COLS);
    b->length = rows;
    for (i = 0; i < COLS; i++) {
        struct ArrowArray *c = b->children[i];
        struct ik_buffer *buf;
        uint8_t *p;
        ik__array_alloc(c, 2, 0);
        c->length = rows;
        ik_buffer_alloc((size_t)rows * 8, &buf, &p);
        for (r = 0; r < rows; r++) {
            uint64_t v = (seed + (uint64_t)r) * 0x9E3779B97F4A7C15ull;
            memcpy(p + 8 * r, &v, 8);
        }
        c->buffers[1] = p;
        ik__array_hold(c, buf);
        ik_buffer_unref(buf);
        if (i == 0) {
            ik_buffer_alloc((size_t)rows / 8 + 1, &buf, &p);
            memset(p, 0xff, (size_t)rows / 8 + 1);
            for (r = 0; r < rows; r += 17) {
                p[r / 8] = (uint8_t)(p[r / 8] & ~(1u << (r % 8)));
                c->null_count++;
            }
            c->buffers[0] = p;
            ik__array_hold(c, buf);
            ik_buffer_unref(buf);
        }
    }
}

static int gen(const char *path, long mb)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_write_options o;
    struct ik_ipc_writer *w;
    struct ik_error err;
    int64_t bytes = (int64_t)mb << 20, per_row = COLS * 8, rows = bytes / per_row, done = 0;
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 1;
    make_schema(&s);
    ik_write_options_init(&o);
    o.format = IK_IPC_FILE;
    if (ik_ipc_writer_create(&s, &o, ik_write_to_file, f, &w, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    make_batch(&b, ROWS_PER_BATCH, 1);
    while (done < rows) {
        int64_t n = rows - done < ROWS_PER_BATCH ? rows - done : ROWS_PER_BATCH;
        b.length = n;
        if (ik_ipc_writer_write(w, &b, &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        done += n;
    }
    ik_ipc_writer_finish(w, &err);
    ik_ipc_writer_destroy(w);
    b.release(&b);
    s.release(&s);
    fclose(f);
    printf("{\"rows\": %lld}\n", (long long)rows);
    return 0;
}

static int bench_open(const char *path, int reps)
{
    double *t = calloc((size_t)reps, sizeof *t);
    long rss0 = rss_kib(), rss1 = 0;
    int i;
    for (i = 0; i < reps; i++) {
        struct ik_buffer *buf;
        struct ik_ipc_file *f;
        struct ArrowArray b;
        struct ik_error err;
        double t0 = now();
        if (ik_buffer_map_file(path, &buf, &err) || ik_ipc_file_open(buf, NULL, &f, &err) ||
            ik_ipc_file_read_batch(f, 0, &b, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        t[i] = now() - t0;
        if (i == 0)
            rss1 = rss_kib();
        b.release(&b);
        ik_ipc_file_destroy(f);
        ik_buffer_unref(buf);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    printf("{\"median_us\": %.3f, \"min_us\": %.3f, \"first_rss_growth_kib\": %ld}\n",
           t[reps / 2] * 1e6, t[0] * 1e6, rss1 - rss0);
    free(t);
    return 0;
}

static int bench_validate(const char *path, int reps)
{
    double best = 1e30;
    size_t size = 0;
    int i;
    for (i = 0; i < reps; i++) {
        struct ik_buffer *buf;
        struct ik_ipc_file *f;
        struct ik_read_options o;
        struct ik_error err;
        int64_t k;
        double t0 = now(), dt;
        ik_read_options_init(&o);
        o.validate = IK_VALIDATE_FULL;
        if (ik_buffer_map_file(path, &buf, &err) || ik_ipc_file_open(buf, &o, &f, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        size = ik_buffer_size(buf);
        for (k = 0; k < ik_ipc_file_num_batches(f); k++) {
            struct ArrowArray b;
            if (ik_ipc_file_read_batch(f, k, &b, &err) != 0) {
                fprintf(stderr, "%s\n", err.message);
                return 1;
            }
            b.release(&b);
        }
        ik_ipc_file_destroy(f);
        ik_buffer_unref(buf);
        dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    printf("{\"best_s\": %.6f, \"bytes\": %zu, \"gb_per_s\": %.3f}\n", best, size,
           (double)size / best / 1e9);
    return 0;
}

struct memsink {
    uint8_t *p;
    size_t len, cap;
};

static int mem_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct memsink *m = ctx;
    (void)err;
    if (m->len + len > m->cap)
        return ENOSPC;
    memcpy(m->p + m->len, data, len);
    m->len += len;
    return 0;
}

static int bench_write(long mb, int reps)
{
    int64_t rows = ((int64_t)mb << 20) / (COLS * 8);
    struct ArrowSchema s;
    struct ArrowArray b;
    struct memsink m;
    double best_w = 1e30, best_c = 1e30;
    size_t data_bytes = (size_t)rows * COLS * 8;
    uint8_t *src = malloc(data_bytes);
    int i;
    make_schema(&s);
    make_batch(&b, rows, 7);
    m.cap = data_bytes + ((size_t)1 << 20);
    m.p = malloc(m.cap);
    memset(m.p, 1, m.cap); /* fault the pages in before timing */
    memset(src, 2, data_bytes);
    for (i = 0; i < reps; i++) {
        struct ik_ipc_writer *w;
        struct ik_write_options o;
        struct ik_error err;
        double t0, dt;
        ik_write_options_init(&o);
        m.len = 0;
        t0 = now();
        if (ik_ipc_writer_create(&s, &o, mem_write, &m, &w, &err) ||
            ik_ipc_writer_write(w, &b, &err) || ik_ipc_writer_finish(w, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        dt = now() - t0;
        ik_ipc_writer_destroy(w);
        if (dt < best_w)
            best_w = dt;
        t0 = now();
        memcpy(m.p, src, data_bytes);
        dt = now() - t0;
        if (dt < best_c)
            best_c = dt;
    }
    printf("{\"bytes\": %zu, \"writer_gb_per_s\": %.3f, \"memcpy_gb_per_s\": %.3f, "
           "\"ratio\": %.3f, \"check\": %u}\n",
           data_bytes, (double)data_bytes / best_w / 1e9, (double)data_bytes / best_c / 1e9,
           best_c / best_w, m.p[m.len / 2]);
    b.release(&b);
    s.release(&s);
    free(m.p);
    free(src);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "open") == 0)
        return bench_open(argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "validate") == 0)
        return bench_validate(argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "write") == 0)
        return bench_write(atol(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: bench-arrow gen PATH MB | open PATH REPS | validate PATH REPS | "
                    "write MB REPS\n");
    return 2;
}
