/* The C test runner: runs every TEST registered in tests/ (optionally those whose name
 * contains argv[1]) and prints one line per failure and `N passed, N failed` last. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ik_test.h"

static struct ik_test *tests;
static int current_failed;
static char tmpdir[256];

void ik_test_register(struct ik_test *t)
{
    t->next = tests;
    tests = t;
}

void ik_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    current_failed = 1;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *ik_test_tmpdir(void)
{
    if (tmpdir[0] == 0) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/ik-test-XXXXXX", base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return tmpdir;
}

static int by_name(const void *a, const void *b)
{
    const struct ik_test *x = *(const struct ik_test *const *)a;
    const struct ik_test *y = *(const struct ik_test *const *)b;
    return strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    size_t n = 0, i;
    struct ik_test *t, **all;
    int passed = 0, failed = 0;

    for (t = tests; t; t = t->next)
        n++;
    all = calloc(n ? n : 1, sizeof *all);
    if (all == NULL)
        return 2;
    for (i = 0, t = tests; t; t = t->next)
        all[i++] = t;
    qsort(all, n, sizeof *all, by_name);
    for (i = 0; i < n; i++) {
        if (filter && strstr(all[i]->name, filter) == NULL)
            continue;
        current_failed = 0;
        all[i]->fn();
        if (current_failed) {
            fprintf(stderr, "FAIL %s\n", all[i]->name);
            failed++;
        } else {
            passed++;
        }
    }
    free(all);
    if (tmpdir[0] && failed == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    if (passed + failed == 0) {
        fprintf(stderr, "no test matched\n");
        failed = 1;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
