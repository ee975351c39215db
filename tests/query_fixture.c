/* Fixtures for the query, snapshot and vfs tests (see query_fixture.h). Arrays are built by
 * hand with the library's internal allocators so that layouts the row builder never makes
 * (slices, int8 columns, large strings, NaN) are covered. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arrow/internal.h"
#include "query_fixture.h"

static void *give(struct ArrowArray *a, int i, size_t n)
{
    struct ik_buffer *b;
    uint8_t *p;
    if (ik_buffer_alloc(n ? n : 1, &b, &p) != 0)
        abort();
    ik__array_hold(a, b);
    ik_buffer_unref(b);
    a->buffers[i] = p;
    return p;
}

static void set_bit(uint8_t *b, int64_t i)
{
    b[i >> 3] = (uint8_t)(b[i >> 3] | (1u << (i & 7)));
}

/* Validity from a "1"/"0" string for the logical rows, junk rows valid; the null count is that
 * of the logical rows (junk rows are valid, so also that of the child's whole range). */
static void validity(struct ArrowArray *a, const char *valid, int64_t junk, int64_t n)
{
    uint8_t *bits;
    int64_t i, nulls = 0;
    if (valid == NULL)
        return;
    bits = give(a, 0, (size_t)(n + junk + 7) / 8);
    for (i = 0; i < junk; i++)
        set_bit(bits, i);
    for (i = 0; i < n; i++) {
        if (valid[i] == '1')
            set_bit(bits, junk + i);
        else
            nulls++;
    }
    a->null_count = nulls;
    if (nulls == 0)
        a->buffers[0] = NULL;
}

static void fixed(struct ArrowArray *a, const void *vals, const void *junk_val, size_t w,
                  const char *valid, int64_t junk, int64_t n)
{
    uint8_t *d;
    int64_t i;
    ik__array_alloc(a, 2, 0);
    d = give(a, 1, (size_t)(n + junk) * w);
    for (i = 0; i < junk; i++)
        memcpy(d + (size_t)i * w, junk_val, w);
    memcpy(d + (size_t)junk * w, vals, (size_t)n * w);
    validity(a, valid, junk, n);
    a->offset = junk ? 1 : 0;
    a->length = n + junk - a->offset;
}

static void strings(struct ArrowArray *a, const char *const *vals, const char *junk_val, bool large,
                    int64_t junk, int64_t n)
{
    char valid[64];
    int64_t i, total = 0;
    uint8_t *offs;
    char *d;
    ik__array_alloc(a, 3, 0);
    offs = give(a, 1, (size_t)(n + junk + 1) * (large ? 8 : 4));
    d = give(a, 2, 256);
    for (i = 0; i < n + junk; i++) {
        const char *v = i < junk ? junk_val : vals[i - junk];
        size_t l = v ? strlen(v) : 0;
        if (large)
            ((int64_t *)offs)[i] = total;
        else
            ((int32_t *)offs)[i] = (int32_t)total;
        memcpy(d + total, v ? v : "", l);
        total += (int64_t)l;
        if (i >= junk)
            valid[i - junk] = v ? '1' : '0';
    }
    if (large)
        ((int64_t *)offs)[n + junk] = total;
    else
        ((int32_t *)offs)[n + junk] = (int32_t)total;
    validity(a, valid, junk, n);
    a->offset = junk ? 1 : 0;
    a->length = n + junk - a->offset;
}

static void bools(struct ArrowArray *a, const char *vals, int64_t junk, int64_t n)
{
    char valid[64];
    uint8_t *d;
    int64_t i;
    ik__array_alloc(a, 2, 0);
    d = give(a, 1, (size_t)(n + junk + 7) / 8);
    for (i = 0; i < junk; i++)
        set_bit(d, i);
    for (i = 0; i < n; i++) {
        if (vals[i] == 'T')
            set_bit(d, junk + i);
        valid[i] = vals[i] == 'N' ? '0' : '1';
    }
    validity(a, valid, junk, n);
    a->offset = junk ? 1 : 0;
    a->length = n + junk - a->offset;
}

static void field(struct ArrowSchema *s, const char *fmt, const char *name, bool nullable)
{
    ik__schema_alloc(s, fmt, name, NULL, nullable ? ARROW_FLAG_NULLABLE : 0, 0);
}

void fx_mixed(bool sliced, struct ArrowSchema *schema, struct ArrowArray *batch)
{
    static const int32_t id[] = {0, 1, 2, 3, 4, 5, 6, 7}, id_junk = 99;
    static const char *const s[] = {"a", "bb", NULL, "/x/y", "/x", "/xy", "", "bb"};
    static const int64_t i64[] = {5, -3, 0, 100, 0, 7, 0, 5}, i64_junk = 5;
    static const int32_t i32[] = {1, 2, 3, 4, 5, 6, 7, 0}, i32_junk = 1;
    static const int8_t c[] = {-1, 0, 1, 0, 2, -128, 127, 0}, c_junk = -1;
    static const int64_t ts[] = {1000, 2000, 3000, 0, 5000, 1000, 0, -5}, ts_junk = 1000;
    static const int8_t d[] = {0, 1, 2, 0, 0, 1, 0, 2}, d_junk = 0;
    static const char *const dict[] = {"recursive", "direct", "indirect"};
    static const char *const U[] = {"p", "q", NULL, "pq", "qp", "", NULL, "p"};
    double f64[] = {1.5, 0, -2.0, 0.0, NAN, 3.25, 1.5, 100}, f64_junk = 1.5;
    static const char *names[] = {"id", "s", "i64", "i32", "c", "ts", "f64", "b", "d", "U"};
    static const char *fmts[] = {"i", "u", "l", "i", "c", "tsu:UTC", "g", "b", "c", "U"};
    int64_t junk = sliced ? 2 : 0, n = MIX_ROWS, i;
    struct ArrowArray **k;

    ik__schema_alloc(schema, "+s", "", NULL, 0, 10);
    for (i = 0; i < 10; i++)
        field(schema->children[i], fmts[i], names[i], i != 0);
    ik__schema_alloc_dictionary(schema->children[8]);
    field(schema->children[8]->dictionary, "u", NULL, true);

    ik__array_alloc(batch, 1, 10);
    k = batch->children;
    fixed(k[0], id, &id_junk, 4, NULL, junk, n);
    strings(k[1], s, "a", false, junk, n);
    fixed(k[2], i64, &i64_junk, 8, "11011101", junk, n);
    fixed(k[3], i32, &i32_junk, 4, "11111110", junk, n);
    fixed(k[4], c, &c_junk, 1, "11101111", junk, n);
    fixed(k[5], ts, &ts_junk, 8, "11101111", junk, n);
    fixed(k[6], f64, &f64_junk, 8, "10111111", junk, n);
    bools(k[7], "TFNTTFNF", junk, n);
    fixed(k[8], d, &d_junk, 1, "11110111", junk, n);
    ik__array_alloc_dictionary(k[8]);
    strings(k[8]->dictionary, dict, NULL, false, 0, 3);
    strings(k[9], U, "p", true, junk, n);
    batch->offset = sliced ? 1 : 0;
    batch->length = n;
}

int fx_render(const struct ArrowSchema *schema, const struct ArrowArray *batch, char ***lines,
              int64_t *n)
{
    char *text = NULL, *p, *nl;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    struct ik_printer *pr = NULL;
    struct ik_error err;
    int64_t cap = 16;
    int rc;
    *n = 0;
    *lines = NULL;
    if (f == NULL)
        return ENOMEM;
    rc = ik_printer_create(f, schema, IK_PRINT_JSON, -1, &pr, &err);
    if (rc == 0)
        rc = ik_printer_batch(pr, batch, &err);
    if (rc == 0)
        rc = ik_printer_finish(pr, &err);
    ik_printer_destroy(pr);
    fclose(f);
    if (rc != 0) {
        fprintf(stderr, "render: %s\n", err.message);
        free(text);
        return rc;
    }
    *lines = malloc((size_t)cap * sizeof **lines);
    for (p = text; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        if (*n == cap)
            *lines = realloc(*lines, (size_t)(cap *= 2) * sizeof **lines);
        (*lines)[(*n)++] = strndup(p, (size_t)(nl - p));
    }
    free(text);
    return 0;
}

void fx_free_lines(char **lines, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

void fx_pins(int64_t n, struct ArrowSchema *schema, struct ArrowArray *batch)
{
    static const char *names[] = {"cid", "size_bytes", "pin_type", "timestamp", "vfs_path"};
    static const char *fmts[] = {"u", "l", "c", "tsu:UTC", "u"};
    static const char *const dict[] = {"recursive", "direct", "indirect"};
    struct ArrowArray **k;
    int32_t *co, *po;
    char *cd, *pd;
    int64_t *sz, *ts, i;
    int8_t *pt;
    uint8_t *valid;

    ik__schema_alloc(schema, "+s", "", NULL, 0, 5);
    for (i = 0; i < 5; i++)
        field(schema->children[i], fmts[i], names[i], i == 1 || i == 4);
    ik__schema_alloc_dictionary(schema->children[2]);
    field(schema->children[2]->dictionary, "u", NULL, true);

    ik__array_alloc(batch, 1, 5);
    batch->length = n;
    k = batch->children;
    ik__array_alloc(k[0], 3, 0);
    k[0]->length = n;
    co = give(k[0], 1, (size_t)(n + 1) * 4);
    cd = give(k[0], 2, (size_t)n * 16 + 1);
    for (i = 0; i < n; i++) {
        co[i] = (int32_t)(i * 16);
        snprintf(cd + i * 16, 17, "Qm%014llu", (unsigned long long)i % 100000000000000ull);
    }
    co[n] = (int32_t)(n * 16);

    ik__array_alloc(k[1], 2, 0);
    k[1]->length = n;
    sz = give(k[1], 1, (size_t)n * 8);
    valid = give(k[1], 0, (size_t)(n + 7) / 8);
    for (i = 0; i < n; i++) {
        sz[i] = i * 3;
        if (i % 7 != 0)
            set_bit(valid, i);
        else
            k[1]->null_count++;
    }

    ik__array_alloc(k[2], 2, 0);
    k[2]->length = n;
    pt = give(k[2], 1, (size_t)n);
    for (i = 0; i < n; i++)
        pt[i] = (int8_t)((i * 7919) % 3);
    ik__array_alloc_dictionary(k[2]);
    strings(k[2]->dictionary, dict, NULL, false, 0, 3);

    ik__array_alloc(k[3], 2, 0);
    k[3]->length = n;
    ts = give(k[3], 1, (size_t)n * 8);
    for (i = 0; i < n; i++)
        ts[i] = 1700000000000000 + i;

    ik__array_alloc(k[4], 3, 0);
    k[4]->length = n;
    po = give(k[4], 1, (size_t)(n + 1) * 4);
    pd = give(k[4], 2, (size_t)n * 24 + 25);
    po[0] = 0;
    for (i = 0; i < n; i++) {
        int len = snprintf(pd + po[i], 25, "/d%lld/e%lld/f%lld", (long long)(i % 10),
                           (long long)(i % 100), (long long)i);
        po[i + 1] = po[i] + len;
    }
}

double fx_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}
