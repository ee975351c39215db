/* Tests of the change tail (lib/store/change_tail.c): filled as the daemon's builder fills it
 * (ik_store_changes_since_tail after each group of writes), it answers changes(since) for every
 * since it covers with exactly the batch ik_store_changes gives (a property test over random
 * add / rm / touch / import mixes, seed printed), including after trims (the same gone error)
 * and when its byte cap drops old versions; it declines what it does not cover. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_eq.h"
#include "ik_test.h"
#include "ipfskit/seglog.h"
#include "ipfskit/store.h"
#include "store/store_internal.h"
#include "store_testutil.h"

static int dir_no;

static struct ik_store *fresh(char *dir, size_t cap)
{
    struct ik_error err;
    struct ik_store *st = NULL;
    snprintf(dir, cap, "%s/ctail%d", ik_test_tmpdir(), ++dir_no);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0)
        fprintf(stderr, "open: %s\n", err.message);
    return st;
}

/* What the builder does after a group of writes: reads the changes since `from`, filling the
 * tail. *from becomes the changeset's generation. */
static int fill(struct ik_store *st, struct ik_change_tail *t, uint64_t *from)
{
    struct ik_changeset cs;
    struct ik_error err;
    int rc = ik_store_changes_since_tail(st, *from, INT64_MAX, t, &cs, &err);
    if (rc != 0) {
        fprintf(stderr, "changes since %llu: %s\n", (unsigned long long)*from, err.message);
        return rc;
    }
    *from = cs.generation;
    ik_changeset_reset(&cs);
    return 0;
}

/* The tail's answer for `since` equals the store's (or both fail the same way); 1 when the
 * tail answered, 0 when it declined, -1 on a difference. */
static int same_as_store(struct ik_store *st, struct ik_change_tail *t, uint64_t since)
{
    struct ArrowSchema s1 = {0}, s2 = {0};
    struct ArrowArray a1 = {0}, a2 = {0};
    struct ik_error e1 = {{0}}, e2 = {{0}};
    uint64_t n1 = 0, n2 = 0;
    bool answered = false;
    char why[256] = "";
    int rc1 = ik_change_tail_changes(t, "pin_index", since, &s1, &a1, &n1, &answered, &e1), rc2;
    int result = answered ? 1 : 0;
    if (!answered)
        return 0;
    rc2 = ik_store_changes(st, "pin_index", since, &s2, &a2, &n2, &e2);
    if (rc1 != rc2 || (rc1 != 0 && strcmp(e1.message, e2.message) != 0)) {
        fprintf(stderr, "since %llu: tail %d '%s', store %d '%s'\n", (unsigned long long)since, rc1,
                e1.message, rc2, e2.message);
        result = -1;
    } else if (rc1 == 0 && (n1 != n2 || !ik_test_batch_equal(&s1, &a1, &a2, why, sizeof why) ||
                            strcmp(s1.children[0]->name, s2.children[0]->name) != 0 ||
                            s1.n_children != s2.n_children)) {
        fprintf(stderr, "since %llu: newest %llu / %llu, %lld / %lld rows: %s\n",
                (unsigned long long)since, (unsigned long long)n1, (unsigned long long)n2,
                (long long)a1.length, (long long)a2.length, why);
        result = -1;
    }
    if (a1.release)
        a1.release(&a1);
    if (s1.release)
        s1.release(&s1);
    if (a2.release)
        a2.release(&a2);
    if (s2.release)
        s2.release(&s2);
    return result;
}

TEST(test_change_tail_equals_store_property)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_change_tail *t = NULL;
    struct ik_change_tail_stats ts;
    char dir[256];
    unsigned seed = (unsigned)time(NULL), round;
    uint64_t from = 0, oldest = 0, newest = 0, v;
    const char *env = getenv("IK_TEST_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    fprintf(stderr, "  change tail property test: seed %u (IK_TEST_SEED=%u to replay)\n", seed,
            seed);
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(ik_store_changes_range(st, &oldest, &newest, &err), &err);
    ASSERT_OK(ik_change_tail_create(1 << 20, oldest, &t, &err), &err);
    for (round = 0; round < 40; round++) {
        int i, n = rand_r(&seed) % 8, answered = 0;
        for (i = 0; i < n; i++)
            ik_test_random_write(st, &seed, 30, 1);
        if (round % 7 == 3 && from > 4) {
            uint64_t older = from - 3; /* a compacted state: its fill starts behind the head */
            ASSERT_EQ(fill(st, t, &older), 0);
            from = older;
        } else {
            ASSERT_EQ(fill(st, t, &from), 0);
        }
        if (round % 9 == 8) { /* the writer's trim, then the floor it tells */
            bool more = true;
            uint64_t floor = 0;
            while (more)
                ASSERT_OK(ik_store_changes_trim(st, 16, 86400, ik__now_us(), &more, &floor, &err),
                          &err);
            ik_change_tail_set_floor(t, floor);
        }
        ASSERT_OK(ik_store_changes_range(st, &oldest, &newest, &err), &err);
        ik_change_tail_stats(t, &ts);
        ASSERT_EQ(ts.head, newest);
        ASSERT_EQ(ts.floor, oldest);
        for (v = 0; v <= newest; v++) {
            int r = same_as_store(st, t, v);
            ASSERT_TRUE(r >= 0);
            /* it answers every since from its base (or the floor) up to its head */
            if (v >= oldest && v >= ts.base && v < ts.head)
                ASSERT_EQ(r, 1);
            if (v < oldest)
                ASSERT_EQ(r, 1); /* gone, as the store says */
            answered += r;
        }
        ASSERT_TRUE(answered > 0 || newest == 0);
    }
    ik_change_tail_free(t);
    ik_store_close(st);
}

TEST(test_change_tail_cap_drops_whole_old_versions)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_change_tail *t = NULL;
    struct ik_change_tail_stats ts;
    char dir[256];
    unsigned seed = 7;
    uint64_t from = 0, v;
    int i;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(ik_change_tail_create(4000, 0, &t, &err), &err);
    for (i = 0; i < 60; i++) {
        ik_test_random_write(st, &seed, 50, 1);
        ASSERT_EQ(fill(st, t, &from), 0);
    }
    ik_change_tail_stats(t, &ts);
    ASSERT_TRUE(ts.bytes <= 4000);
    ASSERT_TRUE(ts.base > 0); /* old versions went */
    ASSERT_EQ(ts.head, from);
    for (v = 0; v <= from; v++) {
        int r = same_as_store(st, t, v);
        ASSERT_TRUE(r >= 0);
        ASSERT_EQ(r, v >= ts.base && v < ts.head ? 1 : 0);
    }
    ik_change_tail_free(t);
    ik_store_close(st);
}

/* The links between a key's records (what coalescing walks instead of hashing) are rebuilt
 * when the cap or a trim moves the records to the front: few keys, many small versions, a
 * small cap, and every answer checked against the store after each fill that dropped some. */
TEST(test_change_tail_links_survive_drops)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_change_tail *t = NULL;
    struct ik_change_tail_stats ts;
    char dir[256];
    unsigned seed = 11;
    uint64_t from = 0, v, base = 0;
    int i, checked = 0, drops = 0;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(ik_change_tail_create(3000, 0, &t, &err), &err);
    for (i = 0; i < 240; i++) {
        ik_test_random_write(st, &seed, 6, 1);
        ASSERT_EQ(fill(st, t, &from), 0);
        ik_change_tail_stats(t, &ts);
        if (ts.base == base)
            continue;
        base = ts.base;
        drops++;
        for (v = ts.base; v < ts.head; v++) {
            ASSERT_EQ(same_as_store(st, t, v), 1);
            checked++;
        }
    }
    ASSERT_TRUE(drops > 10);
    ASSERT_TRUE(checked > 100);
    ik_change_tail_free(t);
    ik_store_close(st);
}

TEST(test_change_tail_declines_what_it_does_not_cover)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_change_tail *t = NULL, *none = NULL;
    struct ik_change_tail_stats ts;
    struct ArrowSchema s = {0};
    struct ArrowArray a = {0};
    char dir[256];
    unsigned seed = 11;
    uint64_t from = 0, newest = 0, base;
    bool answered = true;
    int i;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(ik_change_tail_create(1 << 20, 0, &t, &err), &err);
    /* empty: nothing answered */
    ASSERT_OK(ik_change_tail_changes(t, "pin_index", 0, &s, &a, &newest, &answered, &err), &err);
    ASSERT_TRUE(!answered);
    for (i = 0; i < 10; i++)
        ik_test_random_write(st, &seed, 20, 1);
    ASSERT_OK(ik_store_generation(st, &from, &err), &err);
    from -= 4; /* the first fill starts there: nothing before it is known */
    base = from;
    ASSERT_EQ(fill(st, t, &from), 0);
    ik_change_tail_stats(t, &ts);
    ASSERT_EQ(ts.head, from);
    ASSERT_EQ(ts.base, base);
    ASSERT_EQ(same_as_store(st, t, from - 5), 0);
    ASSERT_EQ(same_as_store(st, t, from - 4), 1);
    ASSERT_EQ(same_as_store(st, t, from), 0); /* its newest: the store says what is newer */
    ASSERT_EQ(same_as_store(st, t, from + 3), 0);
    /* other tables and impossible versions: the store's errors */
    ASSERT_OK(ik_change_tail_changes(t, "metrics", from - 1, &s, &a, &newest, &answered, &err),
              &err);
    ASSERT_TRUE(!answered);
    ASSERT_OK(ik_change_tail_changes(t, "pin_index", UINT64_MAX, &s, &a, &newest, &answered, &err),
              &err);
    ASSERT_TRUE(!answered);
    ASSERT_OK(ik_change_tail_changes(NULL, "pin_index", 0, &s, &a, &newest, &answered, &err), &err);
    ASSERT_TRUE(!answered);
    /* a fill from past its head (a compacted state, or a full build, read changes it has not)
     * still reads from its head */
    for (i = 0; i < 6; i++)
        ik_test_random_write(st, &seed, 20, 1);
    ASSERT_OK(ik_store_generation(st, &from, &err), &err);
    from -= 2;
    ASSERT_EQ(fill(st, t, &from), 0);
    ik_change_tail_stats(t, &ts);
    ASSERT_EQ(ts.base, base);
    ASSERT_EQ(ts.head, from);
    ASSERT_EQ(same_as_store(st, t, base), 1);
    ASSERT_EQ(same_as_store(st, t, from - 3), 1);
    /* unless the log was trimmed past its head: then it starts over at its since */
    for (i = 0; i < 30; i++)
        ik_test_random_write(st, &seed, 20, 1);
    {
        bool more = true;
        uint64_t floor = 0, gen = 0;
        ASSERT_OK(ik_store_generation(st, &gen, &err), &err);
        while (more)
            ASSERT_OK(ik_store_changes_trim(st, 4, 86400, ik__now_us(), &more, &floor, &err), &err);
        ASSERT_TRUE(floor > from);
        from = gen - 1;
        ASSERT_EQ(fill(st, t, &from), 0);
        ik_change_tail_stats(t, &ts);
        ASSERT_EQ(ts.base, gen - 1);
        ASSERT_EQ(same_as_store(st, t, gen - 1), 1);
        ASSERT_EQ(same_as_store(st, t, gen - 2), 0);
    }
    /* reset: nothing before the version */
    ik_change_tail_reset(t, from);
    ASSERT_EQ(same_as_store(st, t, from - 1), 0);
    /* a tail of no bytes never holds a record: it declines everything */
    ASSERT_OK(ik_change_tail_create(0, 0, &none, &err), &err);
    ik_test_random_write(st, &seed, 20, 1);
    from -= 1;
    ASSERT_EQ(fill(st, none, &from), 0);
    ASSERT_EQ(same_as_store(st, none, from - 1), 0);
    ik_change_tail_free(none);
    ik_change_tail_free(t);
    ik_store_close(st);
}
