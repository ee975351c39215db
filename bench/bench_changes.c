/* Change feed benchmark: a store of B base pins, then N changes (adds, touches and removes of
 * single pins, each its own version, as a daemon's writer commits them), then
 * ik_store_changes(since = the version before them) timed over R runs, and the same from a
 * change tail filled as the daemon's builder fills it (ik_change_tail_changes: what the daemon
 * answers from); and the same for N pins imported in one version. Prints one JSON object
 * (min / p50 / p99 ms, rows).
 * Usage: bench-changes [N] [B] [R]   (default 10000 changes on 100000 pins, 21 runs) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tests/store_testutil.h"
#include "ipfskit/seglog.h"
#include "ipfskit/store.h"

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int import_range(struct ik_store *st, long from, long n)
{
    struct ik_error err;
    struct ik_import_result res;
    char *text = malloc((size_t)n * 100 + 1), *p = text, cid[47];
    int rc;
    for (long i = 0; i < n; i++) {
        ik_test_cidv0((uint64_t)(from + i), cid);
        p += sprintf(p, "{\"Cid\":\"%s\",\"Name\":\"\",\"Type\":\"recursive\"}\n", cid);
    }
    rc = ik_store_import(st, (const uint8_t *)text, (size_t)(p - text), NULL, &res, &err);
    if (rc != 0)
        fprintf(stderr, "import: %s\n", err.message);
    free(text);
    return rc;
}

/* Fills `tail` with the changes after `since` as the daemon's builder does (one read). */
static int fill(struct ik_store *st, struct ik_change_tail *tail, uint64_t since)
{
    struct ik_changeset cs;
    struct ik_error err;
    if (ik_store_changes_since_tail(st, since, INT64_MAX, tail, &cs, &err) != 0) {
        fprintf(stderr, "changes since: %s\n", err.message);
        return 1;
    }
    ik_changeset_reset(&cs);
    return 0;
}

static int changes_of(struct ik_store *st, struct ik_change_tail *tail, uint64_t since,
                      struct ArrowSchema *s, struct ArrowArray *a, struct ik_error *err)
{
    bool answered = false;
    int rc;
    if (!tail)
        return ik_store_changes(st, "pin_index", since, s, a, NULL, err);
    rc = ik_change_tail_changes(tail, "pin_index", since, s, a, NULL, &answered, err);
    if (rc == 0 && !answered)
        rc = ik_error_set(err, ENOENT, "the tail does not cover %llu", (unsigned long long)since);
    return rc;
}

/* Times changes(since) `runs` times, from the store or (tail not NULL) the daemon's change
 * tail; prints the JSON member `name`. */
static int measure(struct ik_store *st, struct ik_change_tail *tail, const char *name,
                   uint64_t since, int runs, bool last)
{
    double *t = malloc((size_t)runs * sizeof *t), *cpu = malloc((size_t)runs * sizeof *cpu);
    int64_t rows = 0;
    for (int r = 0; r < runs; r++) {
        struct ik_error err;
        struct ArrowSchema s;
        struct ArrowArray a;
        double t0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (changes_of(st, tail, since, &s, &a, &err) != 0) {
            fprintf(stderr, "changes: %s\n", err.message);
            free(t);
            free(cpu);
            return 1;
        }
        t[r] = clock_ms(CLOCK_MONOTONIC) - t0;
        cpu[r] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        rows = a.length;
        a.release(&a);
        s.release(&s);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_d);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_d);
    /* CPU time too: on a loaded machine the wall time counts waits for a CPU */
    printf("\"%s\":{\"rows\":%lld,\"runs\":%d,\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"cpu_min_ms\":%.3f,\"cpu_p50_ms\":%.3f}%s",
           name, (long long)rows, runs, t[0], t[runs / 2], t[runs - 1 - runs / 100], cpu[0],
           cpu[runs / 2], last ? "" : ",");
    free(t);
    free(cpu);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000, base = argc > 2 ? atol(argv[2]) : 100000;
    int runs = argc > 3 ? atoi(argv[3]) : 21;
    char dir[] = "/tmp/ik-bench-changes-XXXXXX", cmd[64], cid[47];
    struct ik_store *st = NULL;
    struct ik_change_tail *tail = NULL;
    struct ik_error err;
    uint64_t v0 = 0, v1 = 0;
    int rc = 1;
    if (!mkdtemp(dir) || ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0) {
        fprintf(stderr, "store: %s\n", err.message);
        return 1;
    }
    if (import_range(st, 0, base) != 0 || ik_store_generation(st, &v0, &err) != 0)
        goto done;
    for (long i = 0; i < n; i++) { /* half adds, a quarter touches, a quarter removes */
        struct ik_pin p;
        if (i % 4 < 2) {
            ik_test_cidv0((uint64_t)(base + i), cid);
            ik_pin_init(&p);
            p.cid = cid;
            rc = ik_store_add(st, &p, &err);
        } else {
            ik_test_cidv0((uint64_t)(i * 7 % base), cid);
            rc = i % 4 == 2 ? ik_store_touch(st, cid, 0, &err) : ik_store_remove(st, cid, &err);
            if (rc == ENOENT)
                rc = 0;
        }
        if (rc != 0) {
            fprintf(stderr, "write: %s\n", err.message);
            goto done;
        }
    }
    printf("{\"changes\":%ld,\"base_pins\":%ld,", n, base);
    if ((rc = ik_change_tail_create(64 << 20, 0, &tail, &err)) != 0 ||
        (rc = fill(st, tail, v0)) != 0)
        goto done;
    rc = measure(st, NULL, "many_versions", v0, runs, false);
    if (rc == 0)
        rc = measure(st, tail, "tail_many_versions", v0, runs, false);
    if (rc != 0 || (rc = ik_store_generation(st, &v1, &err)) != 0 ||
        (rc = import_range(st, 10 * base, n)) != 0 || (rc = fill(st, tail, v1)) != 0)
        goto done;
    rc = measure(st, NULL, "one_version", v1, runs, false);
    if (rc == 0)
        rc = measure(st, tail, "tail_one_version", v1, runs, false);
    if (rc == 0)
        rc = measure(st, NULL, "nothing_new", v1 + 1, runs, true);
    printf("}\n");
done:
    ik_change_tail_free(tail);
    ik_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
