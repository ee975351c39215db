/* Tests of ik_query_check and ik_query_apply: every op on every column type with nulls, on plain
 * and sliced input; projection order; offset/limit edges; the zero-copy property of unfiltered
 * results; results outliving their input; foreign (non-libipfskit) input; speed on 1M rows. */
#include <stdlib.h>

#include "arrow/internal.h"
#include "ik_test.h"
#include "ipfskit/query.h"
#include "query_fixture.h"

#define S(x)                                                                                       \
    {                                                                                              \
        .kind = IK_VAL_STR, .s = (char *)(x), .len = sizeof(x) - 1                                 \
    }
#define I(x)                                                                                       \
    {                                                                                              \
        .kind = IK_VAL_INT, .i = (x), .d = (double)(x)                                             \
    }
#define D(x)                                                                                       \
    {                                                                                              \
        .kind = IK_VAL_DOUBLE, .d = (x)                                                            \
    }
#define B(x)                                                                                       \
    {                                                                                              \
        .kind = IK_VAL_BOOL, .b = (x)                                                              \
    }

struct fcase {
    const char *col;
    enum ik_op op;
    size_t nv;
    struct ik_value v[2];
    const char *ids; /* expected row ids, comma separated */
};

static const struct fcase cases[] = {
    /* utf8 (row 2 null) */
    {"s", IK_OP_EQ, 1, {S("bb")}, "1,7"},
    {"s", IK_OP_NE, 1, {S("bb")}, "0,3,4,5,6"},
    {"s", IK_OP_GT, 1, {S("a")}, "1,7"},
    {"s", IK_OP_GTE, 1, {S("bb")}, "1,7"},
    {"s", IK_OP_LT, 1, {S("a")}, "3,4,5,6"},
    {"s", IK_OP_LTE, 1, {S("")}, "6"},
    {"s", IK_OP_IN, 2, {S("a"), S("")}, "0,6"},
    {"s", IK_OP_CONTAINS, 1, {S("x")}, "3,4,5"},
    {"s", IK_OP_CONTAINS, 1, {S("")}, "0,1,3,4,5,6,7"},
    {"s", IK_OP_PREFIX, 1, {S("/x")}, "3,4,5"},
    {"s", IK_OP_PATH_PREFIX, 1, {S("/x")}, "3,4"},
    {"s", IK_OP_PATH_PREFIX, 1, {S("/x/")}, "3,4"},
    {"s", IK_OP_PATH_PREFIX, 1, {S("/x/y")}, "3"},
    {"s", IK_OP_PATH_PREFIX, 1, {S("/")}, "3,4,5"},
    {"s", IK_OP_IS_NULL, 0, {{0}}, "2"},
    {"s", IK_OP_NOT_NULL, 0, {{0}}, "0,1,3,4,5,6,7"},
    /* int64 (rows 2, 6 null) */
    {"i64", IK_OP_EQ, 1, {I(5)}, "0,7"},
    {"i64", IK_OP_NE, 1, {I(5)}, "1,3,4,5"},
    {"i64", IK_OP_GT, 1, {I(0)}, "0,3,5,7"},
    {"i64", IK_OP_GTE, 1, {I(0)}, "0,3,4,5,7"},
    {"i64", IK_OP_LT, 1, {I(0)}, "1"},
    {"i64", IK_OP_LTE, 1, {I(5)}, "0,1,4,7"},
    {"i64", IK_OP_IN, 2, {I(100), I(-3)}, "1,3"},
    {"i64", IK_OP_GT, 1, {D(2.5)}, "0,3,5,7"},
    {"i64", IK_OP_EQ, 1, {D(5.0)}, "0,7"},
    {"i64", IK_OP_IS_NULL, 0, {{0}}, "2,6"},
    {"i64", IK_OP_GT, 1, {I(1000)}, ""},
    /* int32 (row 7 null) */
    {"i32", IK_OP_GT, 1, {I(5)}, "5,6"},
    {"i32", IK_OP_EQ, 1, {I(3)}, "2"},
    {"i32", IK_OP_IS_NULL, 0, {{0}}, "7"},
    /* int8 (row 3 null) */
    {"c", IK_OP_LT, 1, {I(0)}, "0,5"},
    {"c", IK_OP_EQ, 1, {I(0)}, "1,7"},
    {"c", IK_OP_GTE, 1, {I(127)}, "6"},
    {"c", IK_OP_NOT_NULL, 0, {{0}}, "0,1,2,4,5,6,7"},
    /* timestamp[us] (row 3 null) */
    {"ts", IK_OP_GTE, 1, {I(1000)}, "0,1,2,4,5"},
    {"ts", IK_OP_LT, 1, {I(0)}, "7"},
    {"ts", IK_OP_EQ, 1, {I(1000)}, "0,5"},
    {"ts", IK_OP_IS_NULL, 0, {{0}}, "3"},
    /* float64 (row 1 null, row 4 NaN) */
    {"f64", IK_OP_GT, 1, {D(1.0)}, "0,5,6,7"},
    {"f64", IK_OP_EQ, 1, {D(1.5)}, "0,6"},
    {"f64", IK_OP_NE, 1, {D(1.5)}, "2,3,4,5,7"},
    {"f64", IK_OP_LT, 1, {I(0)}, "2"},
    {"f64", IK_OP_IN, 2, {I(0), D(100)}, "3,7"},
    {"f64", IK_OP_IS_NULL, 0, {{0}}, "1"},
    /* bool (rows 2, 6 null) */
    {"b", IK_OP_EQ, 1, {B(true)}, "0,3,4"},
    {"b", IK_OP_EQ, 1, {B(false)}, "1,5,7"},
    {"b", IK_OP_NE, 1, {B(true)}, "1,5,7"},
    {"b", IK_OP_IN, 2, {B(true), B(false)}, "0,1,3,4,5,7"},
    {"b", IK_OP_IS_NULL, 0, {{0}}, "2,6"},
    /* dictionary<int8, utf8> (row 4 null): recursive direct indirect recursive - direct
     * recursive indirect */
    {"d", IK_OP_EQ, 1, {S("direct")}, "1,5"},
    {"d", IK_OP_NE, 1, {S("direct")}, "0,2,3,6,7"},
    {"d", IK_OP_IN, 2, {S("indirect"), S("recursive")}, "0,2,3,6,7"},
    {"d", IK_OP_PREFIX, 1, {S("re")}, "0,3,6"},
    {"d", IK_OP_GT, 1, {S("direct")}, "0,2,3,6,7"},
    {"d", IK_OP_CONTAINS, 1, {S("direct")}, "1,2,5,7"},
    {"d", IK_OP_EQ, 1, {S("nope")}, ""},
    {"d", IK_OP_IS_NULL, 0, {{0}}, "4"},
    {"d", IK_OP_NOT_NULL, 0, {{0}}, "0,1,2,3,5,6,7"},
    /* large_utf8 (rows 2, 6 null) */
    {"U", IK_OP_EQ, 1, {S("p")}, "0,7"},
    {"U", IK_OP_PREFIX, 1, {S("p")}, "0,3,7"},
    {"U", IK_OP_CONTAINS, 1, {S("q")}, "1,3,4"},
    {"U", IK_OP_LT, 1, {S("p")}, "5"},
    {"U", IK_OP_IS_NULL, 0, {{0}}, "2,6"},
};

static int parse_ids(const char *s, int64_t *ids)
{
    int n = 0;
    char *end;
    while (*s) {
        ids[n++] = strtol(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* Applies q to the mixed table (sliced or not) and checks the result holds exactly rows `ids`
 * of the table in that order, all columns equal to the source rows, validated in full. The
 * input is released before the result is read. */
static void expect_rows(const struct ik_query *q, bool sliced, const int64_t *ids, int n,
                        int64_t want_matched, const char *what)
{
    struct ArrowSchema rs, s, os;
    struct ArrowArray rb, b, out;
    struct ik_error err;
    char **ref, **got;
    int64_t nref, ngot, matched = -1, i;
    int rc;
    fx_mixed(false, &rs, &rb);
    fx_mixed(sliced, &s, &b);
    ASSERT_OK(fx_render(&rs, &rb, &ref, &nref), &err);
    rc = ik_query_apply(q, &s, &b, &os, &out, &matched, &err);
    b.release(&b);
    s.release(&s);
    if (rc != 0) {
        ik_test_fail(__FILE__, __LINE__, "%s: apply returned %d: %s", what, rc, err.message);
        goto done;
    }
    if (ik_array_validate(&os, &out, IK_VALIDATE_FULL, true, &err) != 0) {
        ik_test_fail(__FILE__, __LINE__, "%s: result does not validate: %s", what, err.message);
        goto done2;
    }
    if (want_matched >= 0 && matched != want_matched)
        ik_test_fail(__FILE__, __LINE__, "%s: matched %lld, want %lld", what, (long long)matched,
                     (long long)want_matched);
    fx_render(&os, &out, &got, &ngot);
    if (ngot != n || out.length != n) {
        ik_test_fail(__FILE__, __LINE__, "%s: %lld rows, want %d", what, (long long)ngot, n);
    } else {
        for (i = 0; i < n; i++)
            if (strcmp(got[i], ref[ids[i]]) != 0) {
                ik_test_fail(__FILE__, __LINE__, "%s: row %lld is %s, want %s", what, (long long)i,
                             got[i], ref[ids[i]]);
                break;
            }
    }
    fx_free_lines(got, ngot);
done2:
    out.release(&out);
    os.release(&os);
done:
    fx_free_lines(ref, nref);
    rb.release(&rb);
    rs.release(&rs);
}

static void run_cases(bool sliced)
{
    size_t i;
    int64_t live = ik_buffer_live_count();
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct fcase *c = &cases[i];
        struct ik_query q;
        struct ik_error err;
        int64_t ids[MIX_ROWS];
        char what[128];
        int n = parse_ids(c->ids, ids);
        ik_query_init(&q, "mixed");
        ASSERT_OK(ik_query_add_filter(&q, c->col, c->op, c->v, c->nv, &err), &err);
        snprintf(what, sizeof what, "%s %s%s (case %zu)", c->col, ik_op_name(c->op),
                 sliced ? " sliced" : "", i);
        expect_rows(&q, sliced, ids, n, n, what);
        ik_query_reset(&q);
    }
    ASSERT_EQ(ik_buffer_live_count(), live);
}

TEST(test_query_every_op_on_every_type)
{
    run_cases(false);
}

TEST(test_query_every_op_on_every_type_sliced_input)
{
    run_cases(true);
}

TEST(test_query_conjunction_of_predicates)
{
    struct ik_query q;
    struct ik_error err;
    static const int64_t ids[] = {0, 3};
    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_int(&q, "i64", IK_OP_GTE, 0, &err), &err);
    ASSERT_OK(ik_query_filter_str(&q, "d", IK_OP_EQ, "recursive", &err), &err);
    expect_rows(&q, false, ids, 2, 2, "i64 >= 0 and d = recursive");
    expect_rows(&q, true, ids, 2, 2, "i64 >= 0 and d = recursive, sliced");
    ik_query_reset(&q);
}

TEST(test_query_filter_with_offset_and_limit)
{
    struct ik_query q;
    struct ik_error err;
    /* i64 not null: 0 1 3 4 5 7 */
    static const int64_t scattered[] = {1, 3, 4}, tail[] = {5, 7}, run[] = {3, 4, 5};
    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_add_filter(&q, "i64", IK_OP_NOT_NULL, NULL, 0, &err), &err);
    q.offset = 1;
    q.limit = 3;
    expect_rows(&q, true, scattered, 3, 6, "offset 1 limit 3");
    q.offset = 4;
    q.limit = 10;
    expect_rows(&q, true, tail, 2, 6, "offset 4 limit 10");
    q.offset = 6;
    expect_rows(&q, true, NULL, 0, 6, "offset at the end");
    q.offset = 100;
    expect_rows(&q, false, NULL, 0, 6, "offset past the end");
    q.offset = 0;
    q.limit = 0;
    expect_rows(&q, true, NULL, 0, 6, "limit 0");
    ik_query_reset(&q);
    /* s not null: 0 1 3 4 5 6 7; rows 3 4 5 are contiguous: a slice, still correct */
    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_add_filter(&q, "s", IK_OP_NOT_NULL, NULL, 0, &err), &err);
    q.offset = 2;
    q.limit = 3;
    expect_rows(&q, true, run, 3, 7, "contiguous selection");
    ik_query_reset(&q);
}

/* Unfiltered: every output buffer is the input's pointer, the offsets carry the slice. */
static void check_shared(const struct ArrowArray *in, const struct ArrowArray *out)
{
    int64_t i;
    ASSERT_EQ(out->n_buffers, in->n_buffers);
    for (i = 0; i < in->n_buffers; i++)
        ASSERT_TRUE(out->buffers[i] == in->buffers[i]);
    if (in->dictionary) {
        ASSERT_TRUE(out->dictionary != NULL);
        check_shared(in->dictionary, out->dictionary);
    }
}

TEST(test_query_projection_order_and_zero_copy_slices)
{
    static const char *cols[] = {"d", "id", "U", "s"};
    static const int64_t idx[] = {8, 0, 9, 1};
    struct ArrowSchema s, os;
    struct ArrowArray b, out;
    struct ik_query q;
    struct ik_error err;
    int64_t matched, i, live = ik_buffer_live_count();
    fx_mixed(true, &s, &b);
    ik_query_init(&q, "mixed");
    for (i = 0; i < 4; i++)
        ASSERT_OK(ik_query_add_column(&q, cols[i], &err), &err);
    q.offset = 3;
    q.limit = 4;
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), &err);
    ASSERT_EQ(matched, MIX_ROWS);
    ASSERT_EQ(out.length, 4);
    ASSERT_EQ(os.n_children, 4);
    ASSERT_EQ(out.n_children, 4);
    for (i = 0; i < 4; i++) {
        const struct ArrowArray *c = b.children[idx[i]];
        ASSERT_STR_EQ(os.children[i]->name, cols[i]);
        ASSERT_STR_EQ(os.children[i]->format, s.children[idx[i]]->format);
        check_shared(c, out.children[i]);
        ASSERT_EQ(out.children[i]->offset, c->offset + b.offset + 3);
        ASSERT_EQ(out.children[i]->length, 4);
    }
    ASSERT_TRUE(os.children[0]->dictionary != NULL);
    ASSERT_OK(ik_array_validate(&os, &out, IK_VALIDATE_FULL, true, &err), &err);
    /* The result outlives the input batch and schema. */
    b.release(&b);
    s.release(&s);
    ASSERT_OK(ik_array_validate(&os, &out, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_EQ(((const int32_t *)out.children[1]->buffers[1])[out.children[1]->offset], 3);
    out.release(&out);
    os.release(&os);
    ik_query_reset(&q);
    ASSERT_EQ(ik_buffer_live_count(), live);
}

TEST(test_query_offset_limit_edges_without_filter)
{
    static const struct {
        int64_t offset, limit, rows;
    } e[] = {{0, -1, 8}, {0, 0, 0}, {3, 2, 2}, {7, 5, 1}, {8, -1, 0}, {100, 1, 0}, {0, 100, 8}};
    size_t k;
    for (k = 0; k < sizeof e / sizeof e[0]; k++) {
        struct ArrowSchema s, os;
        struct ArrowArray b, out;
        struct ik_query q;
        struct ik_error err;
        int64_t ids[MIX_ROWS], i;
        char what[64];
        ik_query_init(&q, "mixed");
        q.offset = e[k].offset;
        q.limit = e[k].limit;
        for (i = 0; i < e[k].rows; i++)
            ids[i] = e[k].offset + i;
        snprintf(what, sizeof what, "offset %lld limit %lld", (long long)e[k].offset,
                 (long long)e[k].limit);
        expect_rows(&q, true, ids, (int)e[k].rows, MIX_ROWS, what);
        fx_mixed(true, &s, &b);
        ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, NULL, &err), &err);
        for (i = 0; i < out.n_children; i++)
            check_shared(b.children[i], out.children[i]);
        out.release(&out);
        os.release(&os);
        b.release(&b);
        s.release(&s);
    }
}

TEST(test_query_keeps_schema_metadata)
{
    struct ArrowSchema s0, s, os;
    struct ArrowArray b, out;
    struct ik_query q;
    struct ik_error err;
    static const char meta[] = "\1\0\0\0\16\0\0\0ipfs_kit.table\5\0\0\0mixed";
    int32_t len = 0;
    const char *v;
    int64_t i;
    fx_mixed(false, &s0, &b);
    ik__schema_alloc(&s, "+s", "", meta, 0, s0.n_children);
    for (i = 0; i < s0.n_children; i++)
        ASSERT_OK(ik_schema_copy(s0.children[i], s.children[i], &err), &err);
    s0.release(&s0);
    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_add_column(&q, "id", &err), &err);
    ASSERT_OK(ik_query_filter_int(&q, "id", IK_OP_GT, 5, &err), &err);
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, NULL, &err), &err);
    v = ik_metadata_get(os.metadata, "ipfs_kit.table", &len);
    ASSERT_TRUE(v != NULL);
    ASSERT_EQ(len, 5);
    ASSERT_MEM_EQ(v, "mixed", 5);
    ASSERT_EQ(out.length, 2);
    out.release(&out);
    os.release(&os);
    b.release(&b);
    s.release(&s);
    ik_query_reset(&q);
}

TEST(test_query_check_names_the_problem)
{
    struct ArrowSchema s;
    struct ArrowArray b, out;
    struct ik_query q;
    struct ik_error err;
    struct ik_value nul = {.kind = IK_VAL_NULL};
    fx_mixed(false, &s, &b);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_check(&q, &s, &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "nope", &err), &err);
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err, "'nope'");
    ik_query_reset(&q);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_str(&q, "i64", IK_OP_CONTAINS, "1", &err), &err);
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err,
                 "filter on 'i64': op 'contains' needs a string column");
    ik_query_reset(&q);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_str(&q, "i64", IK_OP_EQ, "1", &err), &err);
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err, "needs a number, got a string");
    ik_query_reset(&q);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_int(&q, "s", IK_OP_EQ, 1, &err), &err);
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err, "filter on 's'");
    ik_query_reset(&q);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_int(&q, "b", IK_OP_EQ, 1, &err), &err);
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err, "needs a boolean");
    ik_query_reset(&q);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_add_filter(&q, "s", IK_OP_EQ, &nul, 1, &err), &err);
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err, "is_null");
    ik_query_reset(&q);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_int(&q, "missing", IK_OP_EQ, 1, &err), &err);
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err, "'missing'");
    /* apply checks too, and leaves the outputs released */
    {
        struct ArrowSchema os;
        ASSERT_FAILS(ik_query_apply(&q, &s, &b, &os, &out, NULL, &err), EINVAL, &err, "missing");
        ASSERT_TRUE(out.release == NULL && os.release == NULL);
    }
    ik_query_reset(&q);

    ik_query_init(&q, "mixed");
    q.offset = -1;
    ASSERT_FAILS(ik_query_check(&q, &s, &err), EINVAL, &err, "offset");
    ik_query_reset(&q);
    b.release(&b);
    s.release(&s);
}

/* A batch whose nodes were not made by libipfskit: results are copies, still correct. */
static void foreign_release(struct ArrowArray *a)
{
    a->release = NULL;
}

TEST(test_query_foreign_input_is_copied)
{
    static const int64_t vals[] = {10, 20, 30, 40};
    static const int32_t offs[] = {0, 1, 3, 3, 6};
    static const char data[] = "abbccc";
    const void *vb[2] = {NULL, vals}, *sb[3] = {NULL, offs, data}, *rb[1] = {NULL};
    struct ArrowArray cv = {.length = 4, .n_buffers = 2, .buffers = vb, .release = foreign_release};
    struct ArrowArray cs = {.length = 4, .n_buffers = 3, .buffers = sb, .release = foreign_release};
    struct ArrowArray *kids[2] = {&cv, &cs};
    struct ArrowArray b = {.length = 4,
                           .n_buffers = 1,
                           .buffers = rb,
                           .n_children = 2,
                           .children = kids,
                           .release = foreign_release};
    struct ArrowSchema s, os;
    struct ArrowArray out;
    struct ik_query q;
    struct ik_error err;
    ik__schema_alloc(&s, "+s", "", NULL, 0, 2);
    ik__schema_alloc(s.children[0], "l", "v", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc(s.children[1], "u", "s", NULL, ARROW_FLAG_NULLABLE, 0);
    ik_query_init(&q, "t");
    q.offset = 1;
    q.limit = 2;
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, NULL, &err), &err);
    ASSERT_OK(ik_array_validate(&os, &out, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_EQ(out.length, 2);
    ASSERT_TRUE(out.children[0]->buffers[1] != (const void *)vals);
    ASSERT_EQ(((const int64_t *)out.children[0]->buffers[1])[out.children[0]->offset], 20);
    ASSERT_EQ(((const int64_t *)out.children[0]->buffers[1])[out.children[0]->offset + 1], 30);
    out.release(&out);
    os.release(&os);
    ASSERT_OK(ik_query_filter_str(&q, "s", IK_OP_PREFIX, "c", &err), &err);
    q.offset = 0;
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, NULL, &err), &err);
    ASSERT_OK(ik_array_validate(&os, &out, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_EQ(out.length, 1);
    ASSERT_EQ(((const int64_t *)out.children[0]->buffers[1])[0], 40);
    out.release(&out);
    os.release(&os);
    s.release(&s);
    ik_query_reset(&q);
}

TEST(test_query_filters_a_million_pins)
{
    struct ArrowSchema s, os;
    struct ArrowArray b, out;
    struct ik_query q;
    struct ik_error err;
    int64_t matched = 0, i, n = 1000000, expect = 0;
    fx_pins(n, &s, &b);
    for (i = 0; i < n; i++)
        expect += (i * 7919) % 3 == 1;

    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "pin_type", IK_OP_EQ, "direct", &err), &err);
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), &err);
    ASSERT_EQ(matched, expect);
    ASSERT_EQ(out.length, expect);
    ASSERT_OK(ik_array_validate(&os, &out, IK_VALIDATE_FULL, true, &err), &err);
    out.release(&out);
    os.release(&os);
    ik_query_reset(&q);

    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "pin_type", IK_OP_EQ, "direct", &err), &err);
    q.limit = 100;
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), &err);
    ASSERT_EQ(matched, expect);
    ASSERT_EQ(out.length, 100);
    out.release(&out);
    os.release(&os);
    ik_query_reset(&q);

    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_int(&q, "size_bytes", IK_OP_GT, 1500000, &err), &err);
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), &err);
    out.release(&out);
    os.release(&os);
    ik_query_reset(&q);

    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "vfs_path", IK_OP_PATH_PREFIX, "/d3/e13", &err), &err);
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), &err);
    ASSERT_EQ(matched, n / 100);
    out.release(&out);
    os.release(&os);
    ik_query_reset(&q);

    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_add_column(&q, "cid", &err), &err);
    q.offset = 10;
    q.limit = 100;
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), &err);
    ASSERT_EQ(out.length, 100);
    out.release(&out);
    os.release(&os);
    ik_query_reset(&q);

    b.release(&b);
    s.release(&s);
}

/* Column s of the mixed table with row 3's offsets going backwards, as in a snapshot damaged
 * after it was validated (snapshots are fully validated before use; this is the second line). */
static void mixed_with_bad_offsets(struct ArrowSchema *s, struct ArrowArray *b)
{
    int32_t *off;
    fx_mixed(false, s, b);
    off = (int32_t *)(uintptr_t)b->children[1]->buffers[1];
    off[4] = off[3] - 2; /* row 3 "/x/y" now ends 2 bytes before it starts */
}

TEST(test_query_survives_string_offsets_out_of_order)
{
    struct ArrowSchema s, os;
    struct ArrowArray b, out;
    struct ik_query q;
    struct ik_error err;
    int64_t matched;
    mixed_with_bad_offsets(&s, &b);
    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_str(&q, "s", IK_OP_CONTAINS, "x", &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "id", &err), &err);
    ASSERT_OK(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), &err);
    /* row 3 matches nothing; row 4 now spans bytes 1..9 ("b/x/y/x"), row 5 is "/xy" */
    ASSERT_EQ(matched, 2);
    ASSERT_EQ(out.length, 2);
    ASSERT_EQ(((const int32_t *)out.children[0]->buffers[1])[out.children[0]->offset], 4);
    ASSERT_EQ(((const int32_t *)out.children[0]->buffers[1])[out.children[0]->offset + 1], 5);
    out.release(&out);
    os.release(&os);
    ik_query_reset(&q);
    /* rows 0, 2-7: not one run, so their values are copied, row 3's among them: an error */
    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_filter_int(&q, "i32", IK_OP_NE, 2, &err), &err);
    ASSERT_FAILS(ik_query_apply(&q, &s, &b, &os, &out, &matched, &err), IK_EINVALID, &err,
                 "column 's', row 3: value offsets [3, 1) out of order or out of range");
    ik_query_reset(&q);
    b.release(&b);
    s.release(&s);
}
