/* Tests of segment sets (and the frames that carry a state's descriptors): after random mixes of
 * add / remove / touch, a state built delta by delta (ik_store_changes_since +
 * ik_segset_write_delta) holds exactly the rows of a from-scratch read of the store, at every
 * version (seed printed on failure); unfiltered results are slices inside the mapped segments
 * (nothing copied); point lookups by cid find the live row; manifests round-trip and a damaged one
 * is refused; prune keeps what is named, and the daemon's deferred prune unlinks bases at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ik_test.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"
#include "ipfskit/seglog.h"
#include "ipfskit/store.h"
#include "proto/proto.h"
#include "store_testutil.h"

static void seg_dir(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", ik_test_tmpdir(), name);
    mkdir(out, 0700);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows of a stream (or batch) as sorted JSON lines, joined: order-free comparison. */
struct lines {
    char **v;
    size_t n, cap;
};

static int add_lines(struct lines *l, const struct ArrowSchema *s, const struct ArrowArray *b)
{
    struct ik_test_sink sink = {0};
    char *text, *p, *nl;
    size_t len;
    if (ik_json_rows_write(s, b, ik_test_sink_write, &sink, NULL) != 0 ||
        ik_test_sink_write(&sink, "", 1, NULL) != 0)
        return -1;
    text = (char *)sink.p;
    len = sink.len - 1;
    for (p = text; p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        if (nl == NULL)
            break;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->v = realloc(l->v, l->cap * sizeof *l->v);
        }
        l->v[l->n++] = strndup(p, (size_t)(nl - p));
    }
    free(text);
    return 0;
}

static void free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int stream_lines(struct ArrowArrayStream *st, struct lines *l)
{
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    int rc = st->get_schema(st, &s);
    while (rc == 0 && (rc = st->get_next(st, &b)) == 0 && b.release) {
        rc = add_lines(l, &s, &b);
        b.release(&b);
    }
    if (s.release)
        s.release(&s);
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    return rc;
}

static bool same_lines(const struct lines *a, const struct lines *b, char *why, size_t cap)
{
    if (a->n != b->n) {
        snprintf(why, cap, "%zu rows against %zu", a->n, b->n);
        return false;
    }
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0) {
            snprintf(why, cap, "row %zu: %s against %s", i, a->v[i], b->v[i]);
            return false;
        }
    return true;
}

static void pin_of(uint64_t n, char cid[47], struct ik_pin *p)
{
    ik_test_cidv0(n, cid);
    ik_pin_init(p);
    p->cid = cid;
    p->name = n % 3 ? "file" : NULL;
    p->size_bytes = (int64_t)(n * 7 % 1000);
    p->pin_type = n % 2 ? "recursive" : "direct";
    p->timestamp_us = 1700000000000000 + (int64_t)n;
    p->vfs_path = n % 4 ? "/a/b" : NULL;
}

/* One random write; returns 0, or the store's error. */
static int random_write(struct ik_store *st, unsigned *seed, uint64_t universe)
{
    char cid[47];
    struct ik_pin p;
    uint64_t n = (uint64_t)rand_r(seed) % universe;
    int op = rand_r(seed) % 10, rc;
    struct ik_error err = {{0}};
    pin_of(n, cid, &p);
    if (op < 5 && (rc = ik_store_add(st, &p, &err)) != 0)
        fprintf(stderr, "add: %s\n", err.message);
    if (op < 5)
        return rc;
    rc = op < 8 ? ik_store_remove(st, cid, &err) : ik_store_touch(st, cid, 0, &err);
    if (rc != 0 && rc != ENOENT)
        fprintf(stderr, "write: %s\n", err.message);
    return rc == ENOENT ? 0 : rc;
}

/* A state built by deltas equals a from-scratch read after every step. */
static bool check_state(struct ik_store *st, struct ik_segset *set, char *why, size_t cap)
{
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    struct ArrowArrayStream out = {0};
    struct ik_query q;
    struct lines want = {0}, got = {0};
    bool ok;
    if (ik_store_read_pins(st, &s, &b, NULL) != 0)
        return snprintf(why, cap, "read_pins failed"), false;
    add_lines(&want, &s, &b);
    qsort(want.v, want.n, sizeof *want.v, cmp_str);
    { /* vfs_stats from the segments equals vfs_stats from the store's pins */
        struct ArrowSchema vs1 = {0}, vs2 = {0};
        struct ArrowArray va1 = {0}, va2 = {0};
        struct lines l1 = {0}, l2 = {0};
        ok = ik_vfs_stats_build(&s, &b, &vs1, &va1, NULL) == 0 &&
             ik_segset_vfs_stats(set, &vs2, &va2, NULL) == 0 && add_lines(&l1, &vs1, &va1) == 0 &&
             add_lines(&l2, &vs2, &va2) == 0 && same_lines(&l1, &l2, why, cap);
        if (va1.release)
            va1.release(&va1);
        if (va2.release)
            va2.release(&va2);
        if (vs1.release)
            vs1.release(&vs1);
        if (vs2.release)
            vs2.release(&vs2);
        free_lines(&l1);
        free_lines(&l2);
        if (!ok) {
            b.release(&b);
            s.release(&s);
            free_lines(&want);
            return false;
        }
    }
    b.release(&b);
    s.release(&s);
    ik_query_init(&q, "pin_index");
    ok = ik_segset_query(set, &q, &out, NULL, NULL) == 0 && stream_lines(&out, &got) == 0;
    if (out.release)
        out.release(&out);
    ok = ok && same_lines(&want, &got, why, cap);
    ok = ok && ik_segset_rows(set) == (int64_t)want.n;
    free_lines(&want);
    free_lines(&got);
    return ok;
}

/* A store of 60 random writes under test dir `name` and its state of one base (seq 1); the seed
 * from IK_TEST_SEED, else the time (*seed0 keeps it to print). */
static int random_base(const char *name, char *dir, size_t cap, unsigned *seed, unsigned *seed0,
                       struct ik_store **st, struct ik_segset **set)
{
    struct ik_error err = {{0}};
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    uint64_t gen = 0;
    int w, rc;
    *seed = *seed0 = getenv("IK_TEST_SEED") ? (unsigned)strtoul(getenv("IK_TEST_SEED"), NULL, 10)
                                            : (unsigned)time(NULL);
    seg_dir(name, dir, cap);
    if ((rc = ik_store_open(dir, IK_STORE_CREATE, st, &err)) != 0)
        return rc;
    for (w = 0; w < 60; w++)
        if ((rc = random_write(*st, seed, 200)) != 0)
            return rc;
    if ((rc = ik_store_generation(*st, &gen, &err)) != 0 ||
        (rc = ik_store_read_pins(*st, &s, &b, &err)) != 0)
        return rc;
    rc = ik_segset_write_base(dir, "pin_index", gen, 1, &s, &b, set, &err);
    b.release(&b);
    s.release(&s);
    return rc;
}

/* A store under test dir `name` holding pins 0..n-1 (pin_of), its generation in *gen, and its
 * state of one base file written with `seq`. */
static int pins_base(const char *name, uint64_t n, uint64_t seq, char *dir, size_t cap,
                     struct ik_store **st, struct ik_segset **set, uint64_t *gen)
{
    struct ik_error err = {{0}};
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    struct ik_pin p;
    char cid[47];
    int rc;
    seg_dir(name, dir, cap);
    if ((rc = ik_store_open(dir, IK_STORE_CREATE, st, &err)) != 0)
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        pin_of(i, cid, &p);
        if ((rc = ik_store_add(*st, &p, &err)) != 0)
            return rc;
    }
    if ((rc = ik_store_generation(*st, gen, &err)) != 0 ||
        (rc = ik_store_read_pins(*st, &s, &b, &err)) != 0)
        return rc;
    rc = ik_segset_write_base(dir, "pin_index", *gen, seq, &s, &b, set, &err);
    b.release(&b);
    s.release(&s);
    return rc;
}

/* Random writes, then a delta of their changes, `steps` times, the state checked against the
 * store after each; with `merging`, a third of the steps first keep a random prefix of the
 * state, as a minor merge does (compact.c), so the delta replaces the deltas after it. */
static void random_versions(const char *name, int steps, bool merging)
{
    char dir[512], why[512] = "";
    struct ik_store *st = NULL;
    struct ik_segset *set = NULL;
    struct ik_error err = {{0}};
    unsigned seed, seed0;
    uint64_t seq = 2;
    int step, w, merges = 0;
    setenv("IPFS_KIT_VFS_CHUNK", "7", 1); /* vfs_stats over chunks that gone rows straddle */
    ASSERT_EQ(random_base(name, dir, sizeof dir, &seed, &seed0, &st, &set), 0);
    ASSERT_EQ(ik_segset_prefix(set, 2, &(struct ik_segset *){NULL}, &err), EINVAL);
    for (step = 0; step < steps; step++) {
        struct ik_changeset cs;
        struct ik_segset *next = NULL, *from = set;
        int writes = merging ? rand_r(&seed) % 4 : 1 + rand_r(&seed) % 6, keep = 0;
        for (w = 0; w < writes; w++)
            ASSERT_EQ(random_write(st, &seed, 200), 0);
        if (merging && ik_segset_count(set) > 2 && rand_r(&seed) % 3 == 0) {
            keep = 1 + rand_r(&seed) % (ik_segset_count(set) - 1);
            ASSERT_EQ(ik_segset_prefix(set, keep, &from, &err), 0);
            ASSERT_EQ(ik_segset_count(from), keep);
            ASSERT_EQ(ik_segset_version(from),
                      ik_snapshot_version(ik_segset_segment(set, keep - 1)));
            merges++;
        }
        ASSERT_EQ(ik_store_changes_since(st, ik_segset_version(from), 1 << 20, &cs, &err), 0);
        ASSERT_EQ(ik_segset_write_delta(from, dir, cs.generation, seq++, &cs.schema, &cs.rows,
                                        (const char *const *)cs.deleted, cs.n_deleted, &next, &err),
                  0);
        ik_changeset_reset(&cs);
        if (from != set)
            ik_segset_release(from);
        ik_segset_release(set);
        set = next;
        if (!check_state(st, set, why, sizeof why)) {
            ik_test_fail(__FILE__, __LINE__, "seed %u (IK_TEST_SEED), step %d (kept %d): %s", seed0,
                         step, keep, why);
            break;
        }
    }
    if (merging)
        ASSERT_TRUE(merges > 0);
    else
        ASSERT_EQ(ik_segset_count(set), steps + 1);
    ik_segset_release(set);
    ik_store_close(st);
}

TEST(test_segments_equal_a_rebuild_after_random_writes_at_every_version)
{
    random_versions("segments_prop", 40, false);
}

/* A minor merge (compact.c): a prefix of the state and one delta of every change since the
 * prefix's version equals the store, whichever deltas it replaces, at every version. */
TEST(test_merging_the_newest_deltas_keeps_every_version_equal_to_a_rebuild)
{
    random_versions("segments_merge", 60, true);
}

/* 110 deltas (more batches than one block of views holds: segview.c): equal to a rebuild at
 * every version, and the whole-table result's batches outlive the stream and the state,
 * released in any order, with a column and a dictionary moved out and released last. */
TEST(test_a_state_of_110_deltas_equals_a_rebuild_and_its_views_outlive_it)
{
    char dir[512], why[512] = "";
    struct ik_store *st = NULL;
    struct ik_segset *set = NULL;
    struct ik_error err = {{0}};
    struct ArrowArrayStream out = {0};
    struct ArrowArray *kept = calloc(4096, sizeof *kept), col = {0}, dict = {0};
    struct ik_query q;
    unsigned seed, seed0;
    int n = 0, i, step;
    int64_t rows = 0;
    ASSERT_TRUE(kept != NULL);
    ASSERT_EQ(random_base("segments_110", dir, sizeof dir, &seed, &seed0, &st, &set), 0);
    for (step = 0; step < 110; step++) {
        struct ik_changeset cs;
        struct ik_segset *next = NULL;
        char cid[47];
        struct ik_pin p;
        pin_of(1000 + (uint64_t)step, cid, &p); /* a live row in every delta */
        ASSERT_EQ(ik_store_add(st, &p, &err), 0);
        if (step > 0) { /* and the previous delta's, superseded: a gone row in each */
            pin_of(999 + (uint64_t)step, cid, &p);
            ASSERT_EQ(ik_store_touch(st, cid, 0, &err), 0);
        }
        ASSERT_EQ(random_write(st, &seed, 200), 0);
        ASSERT_EQ(ik_store_changes_since(st, ik_segset_version(set), 1 << 20, &cs, &err), 0);
        ASSERT_EQ(ik_segset_write_delta(set, dir, cs.generation, (uint64_t)step + 2, &cs.schema,
                                        &cs.rows, (const char *const *)cs.deleted, cs.n_deleted,
                                        &next, &err),
                  0);
        ik_changeset_reset(&cs);
        ik_segset_release(set);
        set = next;
        if (!check_state(st, set, why, sizeof why)) {
            ik_test_fail(__FILE__, __LINE__, "seed %u (IK_TEST_SEED), step %d: %s", seed0, step,
                         why);
            break;
        }
    }
    ASSERT_EQ(ik_segset_count(set), 111);
    { /* every pin looked up by cid (binary search, gone rows skipped by binary search too):
       * each live one found once, the rest not, as many as the state's rows */
        int64_t found = 0;
        for (uint64_t k = 0; k < 1110; k = k == 199 ? 1000 : k + 1) {
            char cid[47];
            struct ik_pin p;
            struct ik_query_cost cost;
            pin_of(k, cid, &p);
            ik_query_init(&q, "pin_index");
            ASSERT_EQ(ik_query_filter_str(&q, "cid", IK_OP_EQ, cid, &err), 0);
            ASSERT_EQ(ik_segset_query(set, &q, &out, &cost, &err), 0);
            ASSERT_TRUE(cost.matched == 0 || cost.matched == 1);
            ASSERT_EQ(cost.copied_rows, 0);
            found += cost.matched;
            out.release(&out);
            ik_query_reset(&q);
        }
        ASSERT_EQ(found, ik_segset_rows(set));
        ASSERT_TRUE(ik_segset_gone_rows(set) >= 109); /* the lookups skipped gone rows */
    }
    ik_query_init(&q, "pin_index");
    ASSERT_EQ(ik_segset_query(set, &q, &out, NULL, &err), 0);
    while (n < 4096 && out.get_next(&out, &kept[n]) == 0 && kept[n].release)
        rows += kept[n++].length;
    out.release(&out);
    ASSERT_EQ(rows, ik_segset_rows(set));
    ASSERT_TRUE(n > 110);   /* four blocks of views at least */
    ik_segset_release(set); /* the batches keep the segments mapped */
    ik_store_close(st);
    col = *kept[n / 2].children[1]; /* name: a column moved out of its batch */
    kept[n / 2].children[1]->release = NULL;
    dict = *kept[n - 1].children[3]->dictionary; /* pin_type's dictionary */
    kept[n - 1].children[3]->dictionary->release = NULL;
    for (i = 0; i < n; i += 2) /* every other batch, then the rest backwards */
        kept[i].release(&kept[i]);
    for (i = n - 1; i >= 0; i--)
        if (i % 2)
            kept[i].release(&kept[i]);
    for (i = 0; i < n; i++)
        ASSERT_TRUE(kept[i].release == NULL);
    {
        const int32_t *off = dict.buffers[1];
        ASSERT_TRUE(dict.length >= 1);
        ASSERT_TRUE(off[dict.offset + dict.length] >= off[dict.offset]); /* still mapped */
    }
    ASSERT_EQ(col.length, kept[n / 2].length);
    col.release(&col);
    dict.release(&dict);
    ASSERT_TRUE(col.release == NULL && dict.release == NULL);
    ik_query_reset(&q);
    free(kept);
}

/* The delta's size limit counts distinct pins, not log rows, and stops counting one past the
 * limit: exactly max_rows changed pins are read, one more is E2BIG (a full build instead). */
TEST(test_changes_since_limit_counts_distinct_pins)
{
    char dir[512], cid[47];
    struct ik_store *st = NULL;
    struct ik_error err = {{0}};
    struct ik_changeset cs;
    struct ik_pin p;
    uint64_t gen = 0;
    seg_dir("segments_limit", dir, sizeof dir);
    ASSERT_EQ(ik_store_open(dir, IK_STORE_CREATE, &st, &err), 0);
    ASSERT_EQ(ik_store_generation(st, &gen, &err), 0);
    ASSERT_EQ(ik_store_changes_since(st, gen, 0, &cs, &err), 0); /* nothing changed */
    ASSERT_EQ(cs.rows.length, 0);
    ik_changeset_reset(&cs);
    for (uint64_t n = 0; n < 10; n++) {
        pin_of(n, cid, &p);
        ASSERT_EQ(ik_store_add(st, &p, &err), 0);
    }
    for (uint64_t n = 0; n < 5; n++) { /* 15 log rows, 10 pins */
        pin_of(n, cid, &p);
        ASSERT_EQ(ik_store_touch(st, cid, 0, &err), 0);
    }
    ASSERT_EQ(ik_store_changes_since(st, gen, 10, &cs, &err), 0);
    ASSERT_EQ(cs.rows.length, 10);
    ik_changeset_reset(&cs);
    ASSERT_EQ(ik_store_changes_since(st, gen, 9, &cs, &err), E2BIG);
    ASSERT_TRUE(strstr(err.message, "pins changed") != NULL);
    ik_changeset_reset(&cs);
    ASSERT_EQ(ik_store_changes_since(st, gen, 0, &cs, &err), E2BIG);
    ik_changeset_reset(&cs);
    ASSERT_EQ(ik_store_changes_since(st, gen + 10, 5, &cs, &err), 0); /* the 5 touches */
    ASSERT_EQ(cs.rows.length, 5);
    ik_changeset_reset(&cs);
    ik_store_close(st);
}

TEST(test_segment_results_are_slices_and_point_lookups_find_the_live_row)
{
    char dir[512], cid[47];
    struct ik_store *st = NULL;
    struct ik_segset *set = NULL, *next = NULL;
    struct ik_error err = {{0}};
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    struct ArrowArrayStream out = {0};
    struct ik_changeset cs;
    struct ik_query_cost cost;
    struct ik_query q;
    struct ik_pin p;
    uint64_t gen = 0;
    int64_t rows = 0;
    ASSERT_EQ(pins_base("segments_slices", 100, 1, dir, sizeof dir, &st, &set, &gen), 0);
    pin_of(7, cid, &p);
    ASSERT_EQ(ik_store_touch(st, cid, 0, &err), 0); /* superseded in the base */
    pin_of(8, cid, &p);
    ASSERT_EQ(ik_store_remove(st, cid, &err), 0);
    ASSERT_EQ(ik_store_changes_since(st, gen, 1000, &cs, &err), 0);
    ASSERT_EQ(cs.rows.length, 1);
    ASSERT_EQ(cs.n_deleted, 1);
    ASSERT_EQ(ik_segset_write_delta(set, dir, cs.generation, 2, &cs.schema, &cs.rows,
                                    (const char *const *)cs.deleted, cs.n_deleted, &next, &err),
              0);
    ik_changeset_reset(&cs);
    ASSERT_EQ(ik_segset_gone_rows(next), 2);
    ASSERT_EQ(ik_segset_rows(next), 99);

    /* every row, no filter: slices only, every buffer inside a mapped segment */
    ik_query_init(&q, "pin_index");
    ASSERT_EQ(ik_segset_query(next, &q, &out, &cost, &err), 0);
    ASSERT_EQ(cost.copied_rows, 0);
    ASSERT_EQ(cost.copied_bytes, 0);
    ASSERT_EQ(cost.matched, 99);
    while (out.get_next(&out, &b) == 0 && b.release) {
        rows += b.length;
        b.release(&b);
    }
    out.release(&out);
    ASSERT_EQ(rows, 99);

    /* slices are views (segview.c): every buffer inside the mapped segments, each batch alive
     * after its stream, and a column moved out of its batch released on its own */
    {
        struct ArrowArray kept[8], moved;
        int n_kept = 0, i;
        size_t size0, size1;
        const uint8_t *m0 = ik_snapshot_data(ik_segset_segment(next, 0), &size0);
        const uint8_t *m1 = ik_snapshot_data(ik_segset_segment(next, 1), &size1);
        ASSERT_EQ(ik_query_add_column(&q, "pin_type", &err), 0);
        ASSERT_EQ(ik_query_add_column(&q, "cid", &err), 0);
        ASSERT_EQ(ik_segset_query(next, &q, &out, &cost, &err), 0);
        while (n_kept < 8 && out.get_next(&out, &kept[n_kept]) == 0 && kept[n_kept].release)
            n_kept++;
        out.release(&out);
        ASSERT_TRUE(n_kept >= 3); /* base runs split by the gone rows, then the delta */
        for (i = 0; i < n_kept; i++) {
            const uint8_t *d = kept[i].children[1]->buffers[2];
            ASSERT_EQ(kept[i].n_children, 2);
            ASSERT_TRUE((d >= m0 && d < m0 + size0) || (d >= m1 && d < m1 + size1));
        }
        moved = *kept[1].children[1];
        kept[1].children[1]->release = NULL;
        for (i = 0; i < n_kept; i++)
            kept[i].release(&kept[i]);
        {
            const int32_t *off = moved.buffers[1];
            ASSERT_EQ(off[moved.offset + 1] - off[moved.offset], 46); /* a CIDv0, still mapped */
        }
        moved.release(&moved);
        ASSERT_TRUE(moved.release == NULL);
        ik_query_reset(&q);
        ik_query_init(&q, "pin_index");
    }

    /* the touched pin: found once, in the delta, by binary search */
    pin_of(7, cid, &p);
    ASSERT_EQ(ik_query_filter_str(&q, "cid", IK_OP_EQ, cid, &err), 0);
    ASSERT_EQ(ik_segset_query(next, &q, &out, &cost, &err), 0);
    ASSERT_EQ(cost.matched, 1);
    ASSERT_EQ(cost.copied_rows, 0); /* one row is a slice: a view into the delta's mapping */
    {
        size_t size1;
        const uint8_t *m1 = ik_snapshot_data(ik_segset_segment(next, 1), &size1), *d;
        ASSERT_EQ(out.get_next(&out, &b), 0);
        ASSERT_EQ(b.length, 1);
        ASSERT_EQ(out.get_schema(&out, &s), 0); /* made when asked: views only so far */
        ASSERT_EQ(s.n_children, b.n_children);
        ASSERT_TRUE(strcmp(s.children[0]->name, "cid") == 0);
        s.release(&s);
        d = b.children[0]->buffers[2];
        ASSERT_TRUE(d >= m1 && d < m1 + size1);
        out.release(&out); /* the batch outlives its stream */
        ASSERT_EQ(((const int32_t *)b.children[0]->buffers[1])[b.children[0]->offset + 1] -
                      ((const int32_t *)b.children[0]->buffers[1])[b.children[0]->offset],
                  46);
        b.release(&b);
    }
    ik_query_reset(&q);
    ik_query_init(&q, "pin_index");
    pin_of(8, cid, &p);
    ASSERT_EQ(ik_query_filter_str(&q, "cid", IK_OP_EQ, cid, &err), 0);
    ASSERT_EQ(ik_segset_query(next, &q, &out, &cost, &err), 0);
    ASSERT_EQ(cost.matched, 0); /* removed */
    out.release(&out);
    ik_query_reset(&q);

    /* a scattered filter gathers, and says so */
    ik_query_init(&q, "pin_index");
    ASSERT_EQ(ik_query_filter_str(&q, "pin_type", IK_OP_EQ, "direct", &err), 0);
    ASSERT_EQ(ik_segset_query(next, &q, &out, &cost, &err), 0);
    ASSERT_TRUE(cost.copied_rows > 0 && cost.copied_bytes > 0);
    out.release(&out);
    ik_query_reset(&q);

    /* manifest round trip, and a flipped byte refused */
    {
        uint8_t *bytes = NULL;
        size_t len = 0;
        struct ik_manifest m;
        ASSERT_EQ(ik_segset_manifest(next, &bytes, &len, &err), 0);
        ASSERT_EQ(ik_manifest_parse(bytes, len, &m, &err), 0);
        ASSERT_EQ(m.n, 2);
        ASSERT_EQ(m.seg[0].n_gone + m.seg[1].n_gone, 2);
        bytes[100] ^= 1;
        ASSERT_EQ(ik_manifest_parse(bytes, len, &m, &err), IK_EFORMAT);
        bytes[100] ^= 1;
        /* trusted (the running daemon's): the checksum not summed, every other check made */
        bytes[len - 1] ^= 1;
        ASSERT_EQ(ik_manifest_parse(bytes, len, &m, &err), IK_EFORMAT);
        ASSERT_EQ(ik_manifest_parse_flags(bytes, len, IK_MANIFEST_TRUSTED, &m, &err), 0);
        ASSERT_EQ(m.seg[0].n_gone + m.seg[1].n_gone, 2);
        {
            uint8_t *g = bytes + len - 8 - 16, save[16]; /* the two gone rows */
            uint32_t cnt = 0;
            memcpy(save, g, 16);
            memcpy(g, save + 8, 8); /* out of order */
            memcpy(g + 8, save, 8);
            ASSERT_EQ(ik_manifest_parse_flags(bytes, len, IK_MANIFEST_TRUSTED, &m, &err),
                      IK_EFORMAT);
            memset(g, 0xff, 8); /* negative */
            ASSERT_EQ(ik_manifest_parse_flags(bytes, len, IK_MANIFEST_TRUSTED, &m, &err),
                      IK_EFORMAT);
            memcpy(g, save, 16);
            ASSERT_EQ(ik_manifest_parse_flags(bytes, len - 8, IK_MANIFEST_TRUSTED, &m, &err),
                      IK_EFORMAT); /* cut */
            ASSERT_EQ(ik_manifest_parse_flags(bytes, 20, IK_MANIFEST_TRUSTED, &m, &err),
                      IK_EFORMAT);
            memcpy(bytes + 24, &(uint32_t){200}, 4); /* more segments than a state holds */
            ASSERT_EQ(ik_manifest_parse_flags(bytes, len, IK_MANIFEST_TRUSTED, &m, &err),
                      IK_EFORMAT);
            memcpy(bytes + 24, &cnt, 4);
            ASSERT_EQ(ik_manifest_parse_flags(bytes, len, IK_MANIFEST_TRUSTED, &m, &err),
                      IK_EFORMAT);
        }
        free(bytes);
    }
    /* durable and found again; prune keeps what the state names */
    ASSERT_EQ(ik_segset_write_manifest(next, dir, NULL, 0, &err), 0);
    {
        const char *fresh[2] = {ik_segset_name(next, 0), ik_segset_name(next, 1)};
        struct ik_segset *again = NULL;
        ASSERT_EQ(ik_segset_sync(next, dir, fresh, 2, &err), 0);
        ASSERT_EQ(ik_segset_prune(dir, "pin_index", &next, 1, &err), 0);
        ASSERT_EQ(ik_segset_latest(dir, "pin_index", 1, &again, NULL, 0, &err), 0);
        ASSERT_EQ(ik_segset_rows(again), 99);
        ASSERT_EQ(ik_segset_version(again), ik_segset_version(next));
        ik_segset_release(again);
    }
    ik_segset_release(next);
    ik_segset_release(set);
    ik_store_close(st);
}

static bool exists_at(const char *dir, const char *sub, const char *name)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    return stat(path, &st) == 0;
}

/* Temp files left under dir/snapshots and dir/manifests. */
static int n_tmp_files(const char *dir)
{
    const char *subs[2] = {"snapshots", "manifests"};
    char path[1024];
    struct dirent *e;
    int n = 0;
    for (int i = 0; i < 2; i++) {
        DIR *d;
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        if ((d = opendir(path)) == NULL)
            continue;
        while ((e = readdir(d)) != NULL)
            n += strstr(e->d_name, ".tmp.") != NULL;
        closedir(d);
    }
    return n;
}

static void touch_at(const char *dir, const char *sub, const char *name)
{
    char path[1024];
    int fd;
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

/* The daemon's prune lists under its lock and unlinks after: a dead base goes at once (its
 * name, the version alone, may be written again), the dead delta, manifest and temp file are
 * listed, still there, and gone after ik_segset_unlink_all; what the state names stays. */
TEST(test_prune_deferred_lists_what_is_never_named_again)
{
    char dir[512], **later = NULL;
    size_t n_later = 0;
    struct ik_store *st = NULL;
    struct ik_segset *set = NULL;
    struct ik_error err = {{0}};
    uint64_t gen = 0;
    ASSERT_EQ(pins_base("segments_prune_deferred", 10, 5, dir, sizeof dir, &st, &set, &gen), 0);
    ASSERT_EQ(ik_segset_write_manifest(set, dir, NULL, 0, &err), 0);
    /* never over an existing manifest (renameat2 RENAME_NOREPLACE), and no temp name left */
    ASSERT_EQ(ik_segset_write_manifest(set, dir, NULL, 0, &err), EEXIST);
    ASSERT_TRUE(strstr(err.message, "manifest exists already") != NULL);
    {
        char mdir[600];
        struct dirent *e;
        DIR *md;
        int files = 0;
        snprintf(mdir, sizeof mdir, "%s/manifests", dir);
        ASSERT_TRUE((md = opendir(mdir)) != NULL);
        while ((e = readdir(md)) != NULL)
            files += e->d_name[0] != '.';
        closedir(md);
        ASSERT_EQ(files, 1);
    }
    {
        /* the daemon's start: full validation of a pin_index segment, in windows of 3 rows
         * (its decoded columns have no release of their own: the batch owns them) */
        struct ik_snapshot *again = NULL;
        char path[1024];
        snprintf(path, sizeof path, "%s/snapshots/%s", dir, ik_segset_name(set, 0));
        setenv("IPFS_KIT_VALIDATE_CHUNK", "3", 1);
        ASSERT_EQ(ik_snapshot_open_path(path, 1, &again, &err), 0);
        unsetenv("IPFS_KIT_VALIDATE_CHUNK");
        ASSERT_EQ(ik_snapshot_rows(again), 10);
        ik_snapshot_close(again);
    }
    touch_at(dir, "snapshots", "pin_index.3.arrow");            /* a dead base */
    touch_at(dir, "snapshots", "pin_index.4.d2.arrow");         /* a dead delta */
    touch_at(dir, "snapshots", "pin_index.4.arrow.tmp.Ab3dEf"); /* a temp file left */
    touch_at(dir, "manifests", "pin_index.2.manifest");         /* an older state's */
    touch_at(dir, "snapshots", "vfs_stats.3.arrow");            /* another table's */
    ASSERT_EQ(ik_segset_prune_deferred(dir, "pin_index", &set, 1, &later, &n_later, &err), 0);
    ASSERT_EQ(n_later, 3);
    ASSERT_TRUE(!exists_at(dir, "snapshots", "pin_index.3.arrow"));
    ASSERT_TRUE(exists_at(dir, "snapshots", "pin_index.4.d2.arrow"));
    ASSERT_TRUE(exists_at(dir, "snapshots", "pin_index.4.arrow.tmp.Ab3dEf"));
    ASSERT_TRUE(exists_at(dir, "manifests", "pin_index.2.manifest"));
    for (size_t i = 0; i < n_later; i++)
        ASSERT_TRUE(strstr(later[i], "pin_index.4.d2.arrow") || strstr(later[i], ".tmp.") ||
                    strstr(later[i], "pin_index.2.manifest"));
    ik_segset_unlink_all(later, n_later);
    ASSERT_TRUE(!exists_at(dir, "snapshots", "pin_index.4.d2.arrow"));
    ASSERT_TRUE(!exists_at(dir, "snapshots", "pin_index.4.arrow.tmp.Ab3dEf"));
    ASSERT_TRUE(!exists_at(dir, "manifests", "pin_index.2.manifest"));
    ASSERT_TRUE(exists_at(dir, "snapshots", ik_segset_name(set, 0))); /* named: kept */
    ASSERT_TRUE(exists_at(dir, "manifests", "pin_index.5.manifest"));
    ASSERT_TRUE(exists_at(dir, "snapshots", "vfs_stats.3.arrow"));
    ik_segset_release(set);
    ik_store_close(st);
}

/* The bytes of open file fd, malloc'd (*n of them). */
static uint8_t *fd_bytes(int fd, size_t *n)
{
    struct stat st;
    uint8_t *b;
    if (fstat(fd, &st) != 0 || (b = malloc((size_t)st.st_size + 1)) == NULL)
        return NULL;
    *n = (size_t)st.st_size;
    if (pread(fd, b, *n, 0) != (ssize_t)*n) {
        free(b);
        return NULL;
    }
    return b;
}

/* A state published from memory: its delta and manifest are sealed memfds, nothing is written
 * under snapshots/ or manifests/ until ik_segset_sync, which writes them (byte for byte what
 * the memfds hold) before the durable mark; ik_segset_latest then opens that state. */
TEST(test_memory_segments_are_written_by_the_sync)
{
    char dir[512], cid[47], path[1024];
    struct ik_store *st = NULL;
    struct ik_segset *set = NULL, *next = NULL, *again = NULL, *vset = NULL;
    struct ik_error err = {{0}};
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    struct ik_changeset cs;
    struct ik_pin p;
    uint64_t gen = 0;
    uint8_t *mem_bytes, *file_bytes, *want = NULL;
    size_t mem_n = 0, file_n = 0, want_n = 0;
    const char *fresh[1];
    int mfd = -1, fd, seals;
    ASSERT_EQ(pins_base("segments_memory", 20, 1, dir, sizeof dir, &st, &set, &gen), 0);
    ASSERT_TRUE(!ik_segset_in_memory(set, 0));
    fresh[0] = ik_segset_name(set, 0);
    ASSERT_EQ(ik_segset_write_manifest(set, dir, NULL, 0, &err), 0);
    ASSERT_EQ(ik_segset_sync(set, dir, fresh, 1, &err), 0);

    pin_of(4, cid, &p);
    ASSERT_EQ(ik_store_touch(st, cid, 0, &err), 0);
    pin_of(5, cid, &p);
    ASSERT_EQ(ik_store_remove(st, cid, &err), 0);
    ASSERT_EQ(ik_store_changes_since(st, gen, 1000, &cs, &err), 0);
    ASSERT_EQ(ik_segset_mem_delta(set, cs.generation, 2, &cs.schema, &cs.rows,
                                  (const char *const *)cs.deleted, cs.n_deleted, &next, &err),
              0);
    ik_changeset_reset(&cs);
    ASSERT_EQ(ik_segset_count(next), 2);
    ASSERT_TRUE(ik_segset_in_memory(next, 1) && !ik_segset_in_memory(next, 0));
    ASSERT_EQ(ik_segset_rows(next), 19);
    ASSERT_TRUE(!exists_at(dir, "snapshots", ik_segset_name(next, 1)));
    /* sealed: nobody holding the descriptor (a client) can change or shrink it */
    fd = ik_segset_fd(next, 1);
    seals = fcntl(fd, F_GET_SEALS);
    ASSERT_TRUE(seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SHRINK) &&
                (seals & F_SEAL_GROW) && (seals & F_SEAL_SEAL));
    ASSERT_EQ(pwrite(fd, "x", 1, 0), -1);
    ASSERT_EQ(errno, EPERM);
    ASSERT_TRUE(ftruncate(fd, 0) != 0);
    /* the manifest in memory: what ik_segset_manifest says, sealed, no file */
    ASSERT_EQ(ik_segset_manifest_memfd(next, &mfd, &err), 0);
    ASSERT_TRUE((mem_bytes = fd_bytes(mfd, &mem_n)) != NULL);
    ASSERT_EQ(ik_segset_manifest(next, &want, &want_n, &err), 0);
    ASSERT_TRUE(mem_n == want_n && memcmp(mem_bytes, want, want_n) == 0);
    ASSERT_TRUE(fcntl(mfd, F_GET_SEALS) & F_SEAL_WRITE);
    ASSERT_TRUE(!exists_at(dir, "manifests", "pin_index.2.manifest"));
    /* not durable yet: the newest durable state is still the base */
    ASSERT_EQ(ik_segset_latest(dir, "pin_index", 1, &again, NULL, 0, &err), 0);
    ASSERT_EQ(ik_segset_version(again), gen);
    ik_segset_release(again);

    fresh[0] = ik_segset_name(next, 1);
    ASSERT_EQ(ik_segset_sync(next, dir, fresh, 1, &err), 0);
    ASSERT_TRUE(exists_at(dir, "manifests", "pin_index.2.manifest"));
    snprintf(path, sizeof path, "%s/manifests/pin_index.2.manifest", dir);
    ASSERT_TRUE((fd = open(path, O_RDONLY)) >= 0);
    ASSERT_TRUE((file_bytes = fd_bytes(fd, &file_n)) != NULL);
    close(fd);
    ASSERT_TRUE(file_n == mem_n && memcmp(file_bytes, mem_bytes, mem_n) == 0);
    free(file_bytes);
    free(mem_bytes);
    free(want);
    ASSERT_TRUE((mem_bytes = fd_bytes(ik_segset_fd(next, 1), &mem_n)) != NULL);
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, ik_segset_name(next, 1));
    ASSERT_TRUE((fd = open(path, O_RDONLY)) >= 0);
    ASSERT_TRUE((file_bytes = fd_bytes(fd, &file_n)) != NULL);
    close(fd);
    ASSERT_TRUE(file_n == mem_n && memcmp(file_bytes, mem_bytes, mem_n) == 0);
    free(file_bytes);
    free(mem_bytes);
    ASSERT_TRUE(!exists_at(dir, "snapshots", "x") && n_tmp_files(dir) == 0);
    ASSERT_EQ(ik_segset_latest(dir, "pin_index", 1, &again, NULL, 0, &err), 0);
    ASSERT_EQ(ik_segset_version(again), ik_segset_version(next));
    ASSERT_EQ(ik_segset_count(again), 2);
    ASSERT_EQ(ik_segset_rows(again), 19);
    ik_segset_release(again);

    /* a base in memory (the daemon's vfs_stats), written by the sync of its state too */
    ASSERT_EQ(ik_store_read_pins(st, &s, &b, &err), 0);
    ASSERT_EQ(ik_segset_mem_base("pin_index", ik_segset_version(next), 3, &s, &b, &vset, &err), 0);
    b.release(&b);
    s.release(&s);
    ASSERT_TRUE(ik_segset_in_memory(vset, 0));
    ASSERT_TRUE(!exists_at(dir, "snapshots", ik_segset_name(vset, 0)));
    fresh[0] = ik_segset_name(vset, 0);
    ASSERT_EQ(ik_segset_sync(vset, dir, fresh, 1, &err), 0);
    ASSERT_EQ(ik_segset_latest(dir, "pin_index", 1, &again, NULL, 0, &err), 0);
    ASSERT_EQ(ik_segset_count(again), 1);
    ASSERT_EQ(ik_segset_rows(again), 19);
    ik_segset_release(again);
    close(mfd);
    ik_segset_release(vset);
    ik_segset_release(next);
    ik_segset_release(set);
    ik_store_close(st);
}

/* A state travels as a manifest and its segments: several descriptors on one frame, in order;
 * a reader that expects one refuses a frame that carries more, closing them all. */
TEST(test_frame_carries_several_descriptors_in_order)
{
    int sv[2], fds[3], got[IK_PROTO_MAX_FDS], n = 0, i, one = -1;
    struct ik_sock_reader rd;
    struct ik_error err = {{0}};
    uint8_t frame[4 + 2] = {2, 0, 0, 0, 'o', 'k'}, *payload = NULL;
    size_t len = 0;
    ssize_t sent = 0;
    struct stat a, b;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (i = 0; i < 3; i++)
        ASSERT_TRUE((fds[i] = open(i == 1 ? "/dev/zero" : "/dev/null", O_RDONLY)) >= 0);
    ASSERT_EQ(ik_sock_sendmsg_fds(sv[0], frame, sizeof frame, fds, 3, &sent, &err), 0);
    ASSERT_EQ(sent, (ssize_t)sizeof frame);
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_EQ(
        ik_sock_reader_frame_fds(&rd, 64, &payload, &len, got, IK_PROTO_MAX_FDS, &n, 1000, &err),
        0);
    ASSERT_EQ(len, 2);
    ASSERT_EQ(n, 3);
    for (i = 0; i < 3; i++) {
        ASSERT_EQ(fstat(fds[i], &a), 0);
        ASSERT_EQ(fstat(got[i], &b), 0);
        ASSERT_TRUE(a.st_ino == b.st_ino && a.st_dev == b.st_dev); /* the order kept */
        close(got[i]);
    }
    free(payload);
    /* one expected, three sent: refused */
    ASSERT_EQ(ik_sock_sendmsg_fds(sv[0], frame, sizeof frame, fds, 3, &sent, &err), 0);
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_EQ(ik_sock_reader_frame(&rd, 64, &payload, &len, &one, 1000, &err), IK_EPROTO);
    ASSERT_EQ(one, -1);
    ASSERT_TRUE(strstr(err.message, "file descriptors passed at once") != NULL ||
                strstr(err.message, "more than one") != NULL);
    /* more than a frame may carry: refused by the sender */
    {
        int many[IK_PROTO_MAX_FDS + 1];
        for (i = 0; i <= IK_PROTO_MAX_FDS; i++)
            many[i] = fds[0];
        ASSERT_EQ(ik_sock_sendmsg_fds(sv[0], frame, sizeof frame, many, IK_PROTO_MAX_FDS + 1, &sent,
                                      &err),
                  EINVAL);
    }
    for (i = 0; i < 3; i++)
        close(fds[i]);
    close(sv[0]);
    close(sv[1]);
}
