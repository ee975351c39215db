/* Tests of array concatenation (used for delta dictionaries): sliced run-end encoded arrays,
 * lists of strings and dense unions, checked value by value through the JSON renderer, and
 * full validation of every result. */
#include <stdio.h>
#include <stdlib.h>

#include "arrow/internal.h"
#include "ik_test.h"

static void *buf(struct ArrowArray *a, int i, size_t n, const void *init)
{
    struct ik_buffer *b;
    uint8_t *p;
    ik_buffer_alloc(n, &b, &p);
    memcpy(p, init, n);
    a->buffers[i] = p;
    ik__array_hold(a, b);
    ik_buffer_unref(b);
    return p;
}

static void utf8(struct ArrowArray *a, const int32_t *offs, int64_t n, const char *data)
{
    ik__array_alloc(a, 3, 0);
    a->length = n;
    buf(a, 1, (size_t)(n + 1) * 4, offs);
    buf(a, 2, (size_t)offs[n] + 1, data);
}

/* Renders a one-column batch of `s`/`a` as JSON lines into out. */
static int render(const struct ArrowSchema *s, const struct ArrowArray *a, char *out, size_t cap)
{
    struct ArrowSchema root;
    struct ArrowArray batch;
    struct ik_printer *p;
    struct ik_error err;
    FILE *f = fmemopen(out, cap, "w");
    const struct ArrowSchema *kids[1] = {s};
    const struct ArrowArray *akids[1] = {a};
    int rc;
    memset(&root, 0, sizeof root);
    root.format = "+s";
    root.n_children = 1;
    root.children = (struct ArrowSchema **)kids;
    memset(&batch, 0, sizeof batch);
    batch.length = a->length;
    batch.n_children = 1;
    batch.children = (struct ArrowArray **)akids;
    rc = ik_printer_create(f, &root, IK_PRINT_JSON, -1, &p, &err);
    if (rc == 0)
        rc = ik_printer_batch(p, &batch, &err);
    if (rc == 0)
        rc = ik_printer_finish(p, &err);
    ik_printer_destroy(p);
    fclose(f);
    return rc;
}

TEST(test_concat_sliced_run_end_encoded)
{
    /* a: runs [x x | y y y | null] (ends 2,5,6) sliced to rows 1..4 -> x y y y
     * b: runs [z | w w] (ends 1,3) sliced to rows 1..2 -> w w */
    static const int32_t ends_a[] = {2, 5, 6}, ends_b[] = {1, 3};
    static const int32_t offs_a[] = {0, 1, 2, 2}, offs_b[] = {0, 1, 2};
    static const uint8_t valid_a = 0x3;
    struct ArrowSchema s;
    struct ArrowArray a, b, out;
    struct ik_error err;
    char text[512];
    ik__schema_alloc(&s, "+r", "c", NULL, ARROW_FLAG_NULLABLE, 2);
    ik__schema_alloc(s.children[0], "i", "run_ends", NULL, 0, 0);
    ik__schema_alloc(s.children[1], "u", "values", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__array_alloc(&a, 0, 2);
    a.offset = 1;
    a.length = 4;
    ik__array_alloc(a.children[0], 2, 0);
    a.children[0]->length = 3;
    buf(a.children[0], 1, sizeof ends_a, ends_a);
    utf8(a.children[1], offs_a, 3, "xy");
    buf(a.children[1], 0, 1, &valid_a);
    a.children[1]->null_count = 1;
    ik__array_alloc(&b, 0, 2);
    b.offset = 1;
    b.length = 2;
    ik__array_alloc(b.children[0], 2, 0);
    b.children[0]->length = 2;
    buf(b.children[0], 1, sizeof ends_b, ends_b);
    utf8(b.children[1], offs_b, 2, "zw");
    ASSERT_OK(ik__array_concat(&s, &a, &b, &out, &err), &err);
    ASSERT_EQ(out.length, 6);
    ASSERT_OK(ik_array_validate(&s, &out, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_OK(render(&s, &out, text, sizeof text), &err);
    ASSERT_STR_EQ(text, "{\"c\":\"x\"}\n{\"c\":\"y\"}\n{\"c\":\"y\"}\n{\"c\":\"y\"}\n"
                        "{\"c\":\"w\"}\n{\"c\":\"w\"}\n");
    out.release(&out);
    a.release(&a);
    b.release(&b);
    s.release(&s);
}

TEST(test_concat_list_of_strings_and_dense_union)
{
    static const int32_t loffs_a[] = {0, 2, 3}, loffs_b[] = {0, 0, 1};
    static const int32_t soffs_a[] = {0, 1, 3, 6}, soffs_b[] = {0, 4};
    static const int8_t ids_a[] = {0, 1}, ids_b[] = {1, 1, 0};
    static const int32_t uoffs_a[] = {0, 0}, uoffs_b[] = {0, 1, 0};
    static const int64_t ints_a[] = {7}, ints_b[] = {9};
    static const int32_t u_soffs_a[] = {0, 2}, u_soffs_b[] = {0, 1, 2};
    struct ArrowSchema s, u;
    struct ArrowArray a, b, out, ua, ub, uout;
    struct ik_error err;
    char text[512];
    /* list<string>: a = [["a","bc"], ["def"]], b sliced to row 1 of [[], ["ghij"]] */
    ik__schema_alloc(&s, "+l", "l", NULL, ARROW_FLAG_NULLABLE, 1);
    ik__schema_alloc(s.children[0], "u", "item", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__array_alloc(&a, 2, 1);
    a.length = 2;
    buf(&a, 1, sizeof loffs_a, loffs_a);
    utf8(a.children[0], soffs_a, 3, "abcdef");
    ik__array_alloc(&b, 2, 1);
    b.offset = 1;
    b.length = 1;
    buf(&b, 1, sizeof loffs_b, loffs_b);
    utf8(b.children[0], soffs_b, 1, "ghij");
    ASSERT_OK(ik__array_concat(&s, &a, &b, &out, &err), &err);
    ASSERT_OK(ik_array_validate(&s, &out, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_OK(render(&s, &out, text, sizeof text), &err);
    ASSERT_STR_EQ(text, "{\"l\":[\"a\",\"bc\"]}\n{\"l\":[\"def\"]}\n{\"l\":[\"ghij\"]}\n");
    /* dense_union<i: int64=0, s: string=1>: a = [7, "pq"], b = ["r", "s", 9] */
    ik__schema_alloc(&u, "+ud:0,1", "u", NULL, 0, 2);
    ik__schema_alloc(u.children[0], "l", "i", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc(u.children[1], "u", "s", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__array_alloc(&ua, 2, 2);
    ua.length = 2;
    buf(&ua, 0, sizeof ids_a, ids_a);
    buf(&ua, 1, sizeof uoffs_a, uoffs_a);
    ik__array_alloc(ua.children[0], 2, 0);
    ua.children[0]->length = 1;
    buf(ua.children[0], 1, sizeof ints_a, ints_a);
    utf8(ua.children[1], u_soffs_a, 1, "pq");
    ik__array_alloc(&ub, 2, 2);
    ub.length = 3;
    buf(&ub, 0, sizeof ids_b, ids_b);
    buf(&ub, 1, sizeof uoffs_b, uoffs_b);
    ik__array_alloc(ub.children[0], 2, 0);
    ub.children[0]->length = 1;
    buf(ub.children[0], 1, sizeof ints_b, ints_b);
    utf8(ub.children[1], u_soffs_b, 2, "rs");
    ASSERT_OK(ik__array_concat(&u, &ua, &ub, &uout, &err), &err);
    ASSERT_OK(ik_array_validate(&u, &uout, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_OK(render(&u, &uout, text, sizeof text), &err);
    ASSERT_STR_EQ(text, "{\"u\":7}\n{\"u\":\"pq\"}\n{\"u\":\"r\"}\n{\"u\":\"s\"}\n{\"u\":9}\n");
    out.release(&out);
    a.release(&a);
    b.release(&b);
    s.release(&s);
    uout.release(&uout);
    ua.release(&ua);
    ub.release(&ub);
    u.release(&u);
}
