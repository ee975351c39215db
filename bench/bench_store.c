/* Pin store benchmark: imports N kubo `--stream` JSON lines of CIDv0 pins into an empty store
 * (SORTED=1: lines already in cid order), reads them back, then N more into the now-full store,
 * then reads every pin as Arrow; prints pins/s and ms. Also times jansson parsing the same lines,
 * the alternative to our hand parser. Usage: bench-store [N] [dir]   (default 1000000, a temp dir)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipfskit/store.h"
#include "../tests/store_testutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp47(const void *a, const void *b)
{
    return strcmp(a, b);
}

static char *lines(long n, long base, size_t *len)
{
    char *text = malloc((size_t)n * 100 + 1), *p = text, (*cids)[47] = malloc((size_t)n * 47);
    long i;
    for (i = 0; i < n; i++)
        ik_test_cidv0((uint64_t)(base + i), cids[i]);
    if (getenv("SORTED"))
        qsort(cids, (size_t)n, 47, cmp47);
    for (i = 0; i < n; i++)
        p += sprintf(p, "{\"Cid\":\"%s\",\"Name\":\"\",\"Type\":\"recursive\"}\n", cids[i]);
    free(cids);
    *len = (size_t)(p - text);
    return text;
}

static int import(struct ik_store *st, const char *what, char *text, size_t len, long n)
{
    struct ik_error err;
    struct ik_import_result res;
    double t = now_s();
    if (ik_store_import(st, (const uint8_t *)text, len, NULL, &res, &err) != 0) {
        fprintf(stderr, "import: %s\n", err.message);
        return 1;
    }
    t = now_s() - t;
    printf("%-34s %8ld pins %8.0f ms %10.0f pins/s\n", what, n, t * 1e3, (double)n / t);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char dir[256], cmd[300];
    struct ik_store *st;
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    size_t len1, len2;
    char *t1 = lines(n, 0, &len1), *t2 = lines(n, n, &len2), *p;
    double t;
    long k;
    int rc = 0;

    if (argc > 2)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else
        snprintf(dir, sizeof dir, "/tmp/ik-bench-store-%d", (int)getpid());
    t = now_s();
    for (p = t1, k = 0; p < t1 + len1; k++) {
        char *e = strchr(p, '\n');
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL);
        json_decref(j);
        p = e + 1;
    }
    t = now_s() - t;
    printf("%-34s %8ld pins %8.0f ms %10.0f pins/s\n", "jansson parse only (reference)", k, t * 1e3,
           (double)k / t);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    rc |= import(st, "import into empty store", t1, len1, n);
    for (k = 0; k < 2 && rc == 0; k++) {
        t = now_s();
        if (ik_store_read_pins(st, &s, &a, &err) != 0) {
            fprintf(stderr, "read: %s\n", err.message);
            return 1;
        }
        t = now_s() - t;
        printf("%-34s %8lld pins %8.0f ms\n", "read_pins", (long long)a.length, t * 1e3);
        s.release(&s);
        a.release(&a);
    }
    rc |= import(st, "import new pins into full store", t2, len2, n);
    rc |= import(st, "re-import (all updates)", t1, len1, n);
    for (k = 0; k < 3 && rc == 0; k++) {
        t = now_s();
        if (ik_store_read_pins(st, &s, &a, &err) != 0) {
            fprintf(stderr, "read: %s\n", err.message);
            return 1;
        }
        t = now_s() - t;
        printf("%-34s %8lld pins %8.0f ms\n", "read_pins", (long long)a.length, t * 1e3);
        s.release(&s);
        a.release(&a);
    }
    ik_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (argc <= 2 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(t1);
    free(t2);
    return rc;
}
