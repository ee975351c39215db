/* The fast pin reader (lib/store/read_pins.c): its batch equals the row builder's (the generic
 * query path) on pins with every kind of null, many dictionary values and more rows than its
 * first allocation, and the parallel reader's merged parts equal it too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_eq.h"
#include "ik_test.h"
#include "ipfskit/arrow.h"
#include "ipfskit/query.h"
#include "ipfskit/store.h"
#include "store_testutil.h"

#define N_PINS 5003

static const char *const types[] = {"recursive", "direct", "indirect"};

/* JSON lines of N_PINS pins: column i is null (absent) on rows where i divides the row. */
static char *pins_text(size_t *len)
{
    char *text = malloc((size_t)N_PINS * 400), *p = text, cid[47];
    int i;
    for (i = 0; i < N_PINS; i++) {
        ik_test_cidv0((uint64_t)i, cid);
        p += sprintf(p, "{\"cid\":\"%s\",\"pin_type\":\"%s\",\"backend\":\"b%d\"", cid,
                     types[(i / 7) % 3], (i * 13) % 41);
        if (i % 3)
            p += sprintf(p, ",\"name\":\"n%d\"", i);
        if (i % 5)
            p += sprintf(p, ",\"size_bytes\":%d", i * 1000);
        if (i % 11)
            p += sprintf(p, ",\"metadata\":\"{\\\"n\\\":%d}\"", i);
        if (i % 4)
            p += sprintf(p, ",\"last_access\":%d", 1000 + i);
        if (i % 9)
            p += sprintf(p, ",\"vfs_path\":\"/d%d/f%d\"", i % 17, i);
        p += sprintf(p,
                     ",\"timestamp\":%d,\"replication_factor\":%d,\"verified\":%s,"
                     "\"access_count\":%d}\n",
                     1700000 + i, i % 4, i % 2 ? "true" : "false", i % 100);
    }
    *len = (size_t)(p - text);
    return text;
}

/* a == b row by row, and their dictionaries hold the same strings in the same order. */
static void assert_same(const struct ArrowSchema *s, const struct ArrowArray *a,
                        const struct ArrowArray *b)
{
    char why[256] = "";
    struct ik_error err;
    int64_t c;
    ASSERT_OK(ik_array_validate(s, b, IK_VALIDATE_FULL, true, &err), &err);
    if (!ik_test_batch_equal(s, a, b, why, sizeof why))
        fprintf(stderr, "differ: %s\n", why);
    ASSERT_TRUE(ik_test_batch_equal(s, a, b, why, sizeof why));
    for (c = 0; c < s->n_children; c++) {
        const struct ArrowArray *x = a->children[c]->dictionary, *y = b->children[c]->dictionary;
        ASSERT_EQ(a->children[c]->null_count, b->children[c]->null_count);
        ASSERT_EQ(a->children[c]->buffers[0] == NULL, b->children[c]->buffers[0] == NULL);
        if (x == NULL)
            continue;
        ASSERT_EQ(x->length, y->length);
        ASSERT_MEM_EQ(x->buffers[1], y->buffers[1], (size_t)(x->length + 1) * 4);
    }
}

TEST(test_read_pins_equals_the_builder_and_parallel_parts_merge)
{
    char dir[512];
    struct ik_store *st = NULL;
    struct ik_pin_reader *r = NULL;
    struct ik_error err;
    struct ik_import_result res;
    struct ArrowSchema gs, fs;
    struct ArrowArray ga, fa;
    struct ik_query q;
    uint64_t gen = 0, want = 0;
    size_t len;
    char *text = pins_text(&len);
    int threads, k;
    snprintf(dir, sizeof dir, "%s/read_pins", ik_test_tmpdir());
    ASSERT_OK(ik_store_open(dir, IK_STORE_CREATE, &st, &err), &err);
    ASSERT_OK(ik_store_import(st, (const uint8_t *)text, len, NULL, &res, &err), &err);
    free(text);
    ASSERT_EQ(res.imported, N_PINS);
    ASSERT_OK(ik_store_generation(st, &want, &err), &err);

    ik_query_init(&q, "pin_index"); /* no filter: the generic path, through the builder */
    ASSERT_OK(ik_store_query(st, &q, &gs, &ga, &err), &err);
    ik_query_reset(&q);
    ASSERT_EQ(ga.length, N_PINS);

    ASSERT_OK(ik_store_read_pins(st, &fs, &fa, &err), &err);
    assert_same(&gs, &ga, &fa);
    fa.release(&fa);
    fs.release(&fs);

    for (threads = 2; threads <= 3; threads++) {
        ASSERT_OK(ik_pin_reader_open(dir, threads, &r, &err), &err);
        for (k = 0; k < 3; k++) { /* the first read on one thread, then split */
            ASSERT_OK(ik_pin_reader_read(r, &gen, &fs, &fa, &err), &err);
            ASSERT_EQ(gen, want);
            assert_same(&gs, &ga, &fa);
            fa.release(&fa);
            fs.release(&fs);
        }
        ik_pin_reader_close(r);
    }
    ga.release(&ga);
    gs.release(&gs);
    ik_store_close(st);
}
