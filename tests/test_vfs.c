/* Tests of ik_vfs_stats_build: sums, counts and newest timestamps over every ancestor directory,
 * null sizes and paths, sliced input (a query result), sort order, and 1M pins. */
#include <stdlib.h>

#include "ik_test.h"
#include "ipfskit/builder.h"
#include "ipfskit/query.h"
#include "ipfskit/schemas.h"
#include "ipfskit/snapshot.h"
#include "query_fixture.h"

static int add_pin(struct ik_builder *b, const char *cid, int64_t size, int64_t ts,
                   const char *path, int64_t access, struct ik_error *err)
{
    int rc = ik_builder_str(b, ik_builder_column(b, "cid"), cid, strlen(cid), err);
    if (rc == 0)
        rc = size < 0 ? ik_builder_null(b, ik_builder_column(b, "size_bytes"), err)
                      : ik_builder_int(b, ik_builder_column(b, "size_bytes"), size, err);
    if (rc == 0)
        rc = ik_builder_str(b, ik_builder_column(b, "pin_type"), "recursive", 9, err);
    if (rc == 0)
        rc = ik_builder_int(b, ik_builder_column(b, "timestamp"), ts, err);
    if (rc == 0)
        rc = ik_builder_str(b, ik_builder_column(b, "backend"), "ipfs", 4, err);
    if (rc == 0)
        rc = ik_builder_int(b, ik_builder_column(b, "replication_factor"), 1, err);
    if (rc == 0)
        rc = ik_builder_bool(b, ik_builder_column(b, "verified"), true, err);
    if (rc == 0 && path)
        rc = ik_builder_str(b, ik_builder_column(b, "vfs_path"), path, strlen(path), err);
    if (rc == 0)
        rc = ik_builder_int(b, ik_builder_column(b, "access_count"), access, err);
    if (rc == 0)
        rc = ik_builder_end_row(b, err);
    return rc;
}

static int make_pins(struct ArrowSchema *s, struct ArrowArray *a, struct ik_error *err)
{
    struct ik_builder *b;
    int rc = ik_builder_create_table("pin_index", 0, &b, err);
    if (rc != 0)
        return rc;
    if (rc == 0)
        rc = add_pin(b, "QmA", 10, 100, "/a/b/f1", 1, err);
    if (rc == 0)
        rc = add_pin(b, "QmB", -1, 300, "/a/b/f2", 2, err);
    if (rc == 0)
        rc = add_pin(b, "QmC", 5, 200, "/a/c/f3", 4, err);
    if (rc == 0)
        rc = add_pin(b, "QmD", 7, 50, "/top", 8, err);
    if (rc == 0)
        rc = add_pin(b, "QmE", 1000, 999, NULL, 16, err);
    if (rc == 0)
        rc = add_pin(b, "QmF", 1, 20, "/a-b/x", 32, err);
    if (rc == 0)
        rc = ik_builder_finish(b, NULL, s, a, err);
    ik_builder_destroy(b);
    return rc;
}

static void expect_lines(const struct ArrowSchema *s, const struct ArrowArray *a,
                         const char *const *want, int64_t n)
{
    char **got;
    int64_t ngot, i;
    struct ik_error err;
    ASSERT_OK(ik_array_validate(s, a, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_OK(fx_render(s, a, &got, &ngot), &err);
    if (ngot != n)
        ik_test_fail(__FILE__, __LINE__, "%lld rows, want %lld", (long long)ngot, (long long)n);
    for (i = 0; i < n && i < ngot; i++)
        if (strcmp(got[i], want[i]) != 0) {
            ik_test_fail(__FILE__, __LINE__, "row %lld: %s, want %s", (long long)i, got[i],
                         want[i]);
            break;
        }
    fx_free_lines(got, ngot);
}

#define T(us) "\"1970-01-01T00:00:00.000" #us "Z\""

TEST(test_vfs_aggregates_every_ancestor_directory)
{
    static const char *const want[] = {
        "{\"path\":\"/\",\"size_bytes\":23,\"file_count\":5,\"last_modified\":" T(
            300) ","
                 "\"access_count\":47,\"cache_hit_ratio\":null}",
        "{\"path\":\"/a\",\"size_bytes\":15,\"file_count\":3,\"last_modified\":" T(
            300) ","
                 "\"access_count\":7,\"cache_hit_ratio\":null}",
        "{\"path\":\"/a-b\",\"size_bytes\":1,\"file_count\":1,\"last_modified\":" T(
            020) ","
                 "\"access_count\":32,\"cache_hit_ratio\":null}",
        "{\"path\":\"/a/b\",\"size_bytes\":10,\"file_count\":2,\"last_modified\":" T(
            300) ","
                 "\"access_count\":3,\"cache_hit_ratio\":null}",
        "{\"path\":\"/a/c\",\"size_bytes\":5,\"file_count\":1,\"last_modified\":" T(
            200) ","
                 "\"access_count\":4,\"cache_hit_ratio\":null}",
    };
    struct ArrowSchema ps, vs, ref;
    struct ArrowArray pa, va;
    struct ik_error err;
    int64_t i;
    ASSERT_OK(make_pins(&ps, &pa, &err), &err);
    ASSERT_OK(ik_vfs_stats_build(&ps, &pa, &vs, &va, &err), &err);
    ASSERT_OK(ik_table_schema("vfs_stats", &ref, &err), &err);
    ASSERT_EQ(vs.n_children, ref.n_children);
    for (i = 0; i < ref.n_children; i++) {
        ASSERT_STR_EQ(vs.children[i]->name, ref.children[i]->name);
        ASSERT_STR_EQ(vs.children[i]->format, ref.children[i]->format);
    }
    expect_lines(&vs, &va, want, 5);
    ref.release(&ref);
    va.release(&va);
    vs.release(&vs);
    pa.release(&pa);
    ps.release(&ps);
}

TEST(test_vfs_over_a_sliced_query_result)
{
    /* rows QmB, QmC, QmD (offset 1 limit 3): a slice sharing the pins' buffers */
    static const char *const want[] = {
        "{\"path\":\"/\",\"size_bytes\":12,\"file_count\":3,\"last_modified\":" T(
            300) ","
                 "\"access_count\":14,\"cache_hit_ratio\":null}",
        "{\"path\":\"/a\",\"size_bytes\":5,\"file_count\":2,\"last_modified\":" T(
            300) ","
                 "\"access_count\":6,\"cache_hit_ratio\":null}",
        "{\"path\":\"/a/b\",\"size_bytes\":0,\"file_count\":1,\"last_modified\":" T(
            300) ","
                 "\"access_count\":2,\"cache_hit_ratio\":null}",
        "{\"path\":\"/a/c\",\"size_bytes\":5,\"file_count\":1,\"last_modified\":" T(
            200) ","
                 "\"access_count\":4,\"cache_hit_ratio\":null}",
    };
    struct ArrowSchema ps, qs, vs;
    struct ArrowArray pa, qa, va;
    struct ik_query q;
    struct ik_error err;
    ASSERT_OK(make_pins(&ps, &pa, &err), &err);
    ik_query_init(&q, "pin_index");
    q.offset = 1;
    q.limit = 3;
    ASSERT_OK(ik_query_apply(&q, &ps, &pa, &qs, &qa, NULL, &err), &err);
    ASSERT_OK(ik_vfs_stats_build(&qs, &qa, &vs, &va, &err), &err);
    expect_lines(&vs, &va, want, 4);
    va.release(&va);
    vs.release(&vs);
    qa.release(&qa);
    qs.release(&qs);
    pa.release(&pa);
    ps.release(&ps);
    ik_query_reset(&q);
}

TEST(test_vfs_without_pins_has_only_the_root)
{
    static const char *const want[] = {
        "{\"path\":\"/\",\"size_bytes\":0,\"file_count\":0,\"last_modified\":null,"
        "\"access_count\":0,\"cache_hit_ratio\":null}",
    };
    struct ik_builder *b;
    struct ArrowSchema ps, vs;
    struct ArrowArray pa, va;
    struct ik_error err;
    ASSERT_OK(ik_builder_create_table("pin_index", 0, &b, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &ps, &pa, &err), &err);
    ik_builder_destroy(b);
    ASSERT_OK(ik_vfs_stats_build(&ps, &pa, &vs, &va, &err), &err);
    expect_lines(&vs, &va, want, 1);
    va.release(&va);
    vs.release(&vs);
    pa.release(&pa);
    ps.release(&ps);
}

TEST(test_vfs_needs_a_vfs_path_column)
{
    struct ArrowSchema s, vs;
    struct ArrowArray a, va;
    struct ik_error err;
    fx_mixed(false, &s, &a);
    ASSERT_FAILS(ik_vfs_stats_build(&s, &a, &vs, &va, &err), EINVAL, &err, "vfs_path");
    a.release(&a);
    s.release(&s);
}

TEST(test_vfs_sums_a_million_pins)
{
    struct ArrowSchema ps, vs;
    struct ArrowArray pa, va;
    struct ik_error err;
    int64_t n = 1000000, i, size = 0;
    fx_pins(n, &ps, &pa);
    for (i = 0; i < n; i++)
        size += i % 7 ? i * 3 : 0;
    ASSERT_OK(ik_vfs_stats_build(&ps, &pa, &vs, &va, &err), &err);
    ASSERT_EQ(va.length, 1 + 10 + 100);
    ASSERT_OK(ik_array_validate(&vs, &va, IK_VALIDATE_FULL, true, &err), &err);
    /* row 0 is "/": every pin */
    ASSERT_EQ(((const int64_t *)va.children[1]->buffers[1])[0], size);
    ASSERT_EQ(((const int64_t *)va.children[2]->buffers[1])[0], n);
    ASSERT_EQ(((const int64_t *)va.children[3]->buffers[1])[0], 1700000000000000 + n - 1);
    va.release(&va);
    vs.release(&vs);
    pa.release(&pa);
    ps.release(&ps);
}
