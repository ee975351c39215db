/* Tests of the row-wise builder: every supported column kind, nulls and lazily materialised
 * validity, non-nullable and wrong-kind errors, dictionary deduplication and index overflow,
 * aborted rows, reuse after finish, metadata, and a round trip through an IPC file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "batch_eq.h"
#include "ik_test.h"
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"

/* A struct schema from "name:format" specs; a format "dict:<index>" is dictionary<index, utf8>.
 * A leading '!' on the name makes the column non-nullable. */
static int make_schema(struct ArrowSchema *s, const char *const *specs, int n)
{
    int i;
    if (ik__schema_alloc(s, "+s", "", NULL, 0, n) != 0)
        return ENOMEM;
    for (i = 0; i < n; i++) {
        char name[64];
        const char *colon = strchr(specs[i], ':'), *fmt = colon + 1, *nm = specs[i];
        bool nullable = nm[0] != '!';
        if (!nullable)
            nm++;
        snprintf(name, sizeof name, "%.*s", (int)(colon - nm), nm);
        bool dict = strncmp(fmt, "dict:", 5) == 0;
        if (ik__schema_alloc(s->children[i], dict ? fmt + 5 : fmt, name, NULL,
                             nullable ? ARROW_FLAG_NULLABLE : 0, 0) != 0)
            return ENOMEM;
        if (dict && (ik__schema_alloc_dictionary(s->children[i]) != 0 ||
                     ik__schema_alloc(s->children[i]->dictionary, "u", NULL, NULL,
                                      ARROW_FLAG_NULLABLE, 0) != 0))
            return ENOMEM;
    }
    return 0;
}

static bool str_is(const struct ArrowSchema *f, const struct ArrowArray *c, int64_t i,
                   const char *want)
{
    size_t len;
    const char *s = ik_test_str(f, c, i, &len);
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

static const char *const all_kinds[] = {
    "u:u",        "U:U",        "z:z",     "b:b",     "c:c",     "s:s",       "i:i",
    "l:l",        "C:C",        "S:S",     "I:I",     "L:L",     "g:g",       "f:f",
    "ts:tsu:UTC", "ts_ns:tsn:", "d32:tdD", "d64:tdm", "dur:tDu", "d8:dict:c", "d64i:dict:l",
};
#define N_KINDS ((int)(sizeof all_kinds / sizeof all_kinds[0]))

TEST(test_builder_every_column_kind)
{
    struct ik_error err;
    struct ArrowSchema s, so;
    struct ArrowArray a;
    struct ik_builder *b;
    int row, c;
    ASSERT_OK(make_schema(&s, all_kinds, N_KINDS), &err);
    ASSERT_OK(ik_builder_create(&s, 0, &b, &err), &err);
    s.release(&s);
    for (row = 0; row < 3; row++) {
        if (row == 1) { /* all null */
            ASSERT_OK(ik_builder_end_row(b, &err), &err);
            continue;
        }
        int64_t k = row == 0 ? -1 : 1;
        ASSERT_OK(ik_builder_str(b, 0, "héllo", 6, &err), &err);
        ASSERT_OK(ik_builder_str(b, 1, "large", 5, &err), &err);
        ASSERT_OK(ik_builder_str(b, 2, "\0\1\2", 3, &err), &err);
        ASSERT_OK(ik_builder_bool(b, 3, row == 0, &err), &err);
        ASSERT_OK(ik_builder_int(b, 4, -128 * (row == 0), &err), &err);
        ASSERT_OK(ik_builder_int(b, 5, 32767 * k, &err), &err);
        ASSERT_OK(ik_builder_int(b, 6, INT32_MIN, &err), &err);
        ASSERT_OK(ik_builder_int(b, 7, INT64_MIN, &err), &err);
        ASSERT_OK(ik_builder_int(b, 8, 255, &err), &err);
        ASSERT_OK(ik_builder_int(b, 9, 65535, &err), &err);
        ASSERT_OK(ik_builder_int(b, 10, UINT32_MAX, &err), &err);
        ASSERT_OK(ik_builder_int(b, 11, INT64_MAX, &err), &err);
        ASSERT_OK(ik_builder_double(b, 12, 0.1 * (double)k, &err), &err);
        ASSERT_OK(ik_builder_double(b, 13, 1.5, &err), &err);
        ASSERT_OK(ik_builder_int(b, 14, 1795600800123456, &err), &err);
        ASSERT_OK(ik_builder_int(b, 15, -1, &err), &err);
        ASSERT_OK(ik_builder_int(b, 16, 20000, &err), &err);
        ASSERT_OK(ik_builder_int(b, 17, 86400000, &err), &err);
        ASSERT_OK(ik_builder_int(b, 18, 42, &err), &err);
        ASSERT_OK(ik_builder_str(b, 19, row == 0 ? "x" : "y", 1, &err), &err);
        ASSERT_OK(ik_builder_str(b, 20, "x", 1, &err), &err);
        ASSERT_OK(ik_builder_end_row(b, &err), &err);
    }
    ASSERT_EQ(ik_builder_rows(b), 3);
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a, &err), &err);
    ASSERT_EQ(ik_builder_rows(b), 0);
    ik_builder_destroy(b);
    ASSERT_OK(ik_array_validate(&so, &a, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_EQ(a.length, 3);
    for (c = 0; c < N_KINDS; c++) {
        const struct ArrowSchema *f = so.children[c];
        const struct ArrowArray *col = a.children[c];
        ASSERT_EQ(col->length, 3);
        ASSERT_EQ(col->null_count, 1);
        ASSERT_TRUE(!ik_test_is_null(col, 0) && ik_test_is_null(col, 1));
        ASSERT_TRUE(!ik_test_is_null(col, 2));
        (void)f;
    }
    ASSERT_TRUE(str_is(so.children[0], a.children[0], 2, "héllo"));
    ASSERT_TRUE(str_is(so.children[1], a.children[1], 0, "large"));
    ASSERT_TRUE(str_is(so.children[1], a.children[1], 1, ""));
    ASSERT_MEM_EQ(ik_test_str(so.children[2], a.children[2], 0, &(size_t){0}), "\0\1\2", 3);
    ASSERT_TRUE(ik_test_bool(a.children[3], 0) && !ik_test_bool(a.children[3], 2));
    ASSERT_EQ(ik_test_int(so.children[4], a.children[4], 0), -128);
    ASSERT_EQ(ik_test_int(so.children[5], a.children[5], 0), -32767);
    ASSERT_EQ(ik_test_int(so.children[6], a.children[6], 2), INT32_MIN);
    ASSERT_EQ(ik_test_int(so.children[7], a.children[7], 2), INT64_MIN);
    ASSERT_EQ(ik_test_int(so.children[8], a.children[8], 0), 255);
    ASSERT_EQ(ik_test_int(so.children[9], a.children[9], 0), 65535);
    ASSERT_EQ(ik_test_int(so.children[10], a.children[10], 0), UINT32_MAX);
    ASSERT_EQ(ik_test_int(so.children[11], a.children[11], 0), INT64_MAX);
    ASSERT_TRUE(ik_test_double(a.children[12], 0) == -0.1);
    ASSERT_TRUE(((const float *)a.children[13]->buffers[1])[2] == 1.5f);
    ASSERT_EQ(ik_test_int(so.children[14], a.children[14], 2), 1795600800123456);
    ASSERT_EQ(ik_test_int(so.children[15], a.children[15], 0), -1);
    ASSERT_EQ(ik_test_int(so.children[16], a.children[16], 0), 20000);
    ASSERT_EQ(ik_test_int(so.children[17], a.children[17], 0), 86400000);
    ASSERT_EQ(ik_test_int(so.children[18], a.children[18], 2), 42);
    ASSERT_TRUE(str_is(so.children[19], a.children[19], 0, "x"));
    ASSERT_TRUE(str_is(so.children[19], a.children[19], 2, "y"));
    ASSERT_EQ(a.children[19]->dictionary->length, 2);
    ASSERT_EQ(a.children[20]->dictionary->length, 1);
    a.release(&a);
    so.release(&so);
}

TEST(test_builder_bitmap_only_when_a_null)
{
    struct ik_error err;
    struct ArrowArray a;
    struct ik_builder *b;
    int i;
    ASSERT_OK(ik_builder_create_table("metrics", 4, &b, &err), &err);
    for (i = 0; i < 20; i++) {
        ASSERT_OK(ik_builder_str(b, 0, "m", 1, &err), &err);
        ASSERT_OK(ik_builder_double(b, 1, i, &err), &err);
        if (i == 13)
            ASSERT_OK(ik_builder_null(b, 2, &err), &err);
        else
            ASSERT_OK(ik_builder_str(b, 2, "gauge", 5, &err), &err);
        ASSERT_OK(ik_builder_int(b, 3, i, &err), &err);
        ASSERT_OK(ik_builder_end_row(b, &err), &err); /* tags: null */
    }
    ASSERT_OK(ik_builder_finish(b, NULL, NULL, &a, &err), &err);
    ik_builder_destroy(b);
    ASSERT_TRUE(a.children[0]->buffers[0] == NULL);
    ASSERT_EQ(a.children[0]->null_count, 0);
    ASSERT_TRUE(a.children[1]->buffers[0] == NULL);
    ASSERT_EQ(a.children[2]->null_count, 1);
    ASSERT_TRUE(ik_test_is_null(a.children[2], 13));
    ASSERT_TRUE(!ik_test_is_null(a.children[2], 12) && !ik_test_is_null(a.children[2], 14));
    ASSERT_EQ(a.children[4]->null_count, 20);
    a.release(&a);
}

TEST(test_builder_non_nullable_column_drops_row)
{
    struct ik_error err;
    struct ArrowSchema so;
    struct ArrowArray a;
    struct ik_builder *b;
    int cid;
    ASSERT_OK(ik_builder_create_table("pin_index", 0, &b, &err), &err);
    cid = ik_builder_column(b, "cid");
    ASSERT_EQ(cid, 0);
    ASSERT_EQ(ik_builder_column(b, "nope"), -1);
    ASSERT_FAILS(ik_builder_null(b, cid, &err), EINVAL, &err, "column 'cid' is not nullable");
    ASSERT_OK(ik_builder_str(b, ik_builder_column(b, "name"), "n", 1, &err), &err);
    ASSERT_OK(ik_builder_str(b, ik_builder_column(b, "pin_type"), "odd", 3, &err), &err);
    ASSERT_FAILS(ik_builder_end_row(b, &err), EINVAL, &err, "column 'cid' is not nullable");
    ASSERT_EQ(ik_builder_rows(b), 0);
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a, &err), &err);
    ASSERT_EQ(a.length, 0);
    ASSERT_EQ(a.children[1]->length, 0);
    ASSERT_EQ(a.children[3]->dictionary->length, 0); /* "odd" was rolled back */
    ASSERT_OK(ik_array_validate(&so, &a, IK_VALIDATE_FULL, true, &err), &err);
    a.release(&a);
    so.release(&so);
    ik_builder_destroy(b);
}

TEST(test_builder_rejects_wrong_kinds_and_ranges)
{
    struct ik_error err;
    struct ik_builder *b;
    ASSERT_OK(ik_builder_create_table("pin_index", 0, &b, &err), &err);
    ASSERT_FAILS(ik_builder_str(b, 2, "12", 2, &err), EINVAL, &err,
                 "column 'size_bytes' (int64): expected an integer, got a string");
    ASSERT_FAILS(ik_builder_int(b, 0, 1, &err), EINVAL, &err, "column 'cid'");
    ASSERT_FAILS(ik_builder_double(b, 2, 1.0, &err), EINVAL, &err, "expected an integer");
    ASSERT_FAILS(ik_builder_bool(b, 2, true, &err), EINVAL, &err, "got a bool");
    ASSERT_FAILS(ik_builder_int(b, 8, 1, &err), EINVAL, &err, "'verified' (bool)");
    ASSERT_FAILS(ik_builder_int(b, 3, 1, &err), EINVAL, &err, "'pin_type'");
    ASSERT_FAILS(ik_builder_int(b, 7, INT64_C(3000000000), &err), EINVAL, &err,
                 "column 'replication_factor' (int32): 3000000000 is out of range");
    ASSERT_FAILS(ik_builder_int(b, 12, 1, &err), EINVAL, &err, "no column 12");
    ASSERT_FAILS(ik_builder_int(b, -1, 1, &err), EINVAL, &err, "no column -1");
    ASSERT_OK(ik_builder_int(b, 2, 5, &err), &err);
    ASSERT_FAILS(ik_builder_int(b, 2, 6, &err), EINVAL, &err,
                 "column 'size_bytes': a second value in one row");
    ASSERT_FAILS(ik_builder_null(b, 2, &err), EINVAL, &err, "second value");
    ik_builder_abort_row(b);
    ASSERT_OK(ik_builder_int(b, 2, 6, &err), &err); /* the row was aborted: allowed again */
    ik_builder_destroy(b);
}

TEST(test_builder_rejects_unsupported_schemas)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ik_builder *b = (struct ik_builder *)&s;
    static const char *const lst[] = {"x:+l"}, *const dec[] = {"d:d:10,2"},
                             *const udict[] = {"p:dict:C"};
    ASSERT_FAILS(ik_builder_create_table("pins", 0, &b, &err), ENOENT, &err, "pins");
    ASSERT_TRUE(b == NULL);
    ASSERT_OK(make_schema(&s, lst, 1), &err);
    ASSERT_FAILS(ik_builder_create(&s, 0, &b, &err), EINVAL, &err, "column 'x'");
    s.release(&s);
    ASSERT_OK(make_schema(&s, dec, 1), &err);
    ASSERT_FAILS(ik_builder_create(&s, 0, &b, &err), EINVAL, &err, "decimal");
    s.release(&s);
    ASSERT_OK(make_schema(&s, udict, 1), &err);
    ASSERT_FAILS(ik_builder_create(&s, 0, &b, &err), EINVAL, &err, "not a signed integer");
    s.release(&s);
    ASSERT_OK(ik_table_schema("metrics", &s, &err), &err);
    ASSERT_FAILS(ik_builder_create(s.children[0], 0, &b, &err), EINVAL, &err, "not a struct");
    s.release(&s);
}

TEST(test_builder_dictionary_dedup_and_overflow)
{
    struct ik_error err;
    struct ArrowSchema so;
    struct ArrowArray a;
    struct ik_builder *b;
    static const char *const types[] = {"recursive", "direct", "indirect"};
    static const char *const spec[] = {"!pin_type:dict:c"};
    char v[16];
    int i;
    ASSERT_OK(make_schema(&so, spec, 1), &err);
    ASSERT_OK(ik_builder_create(&so, 0, &b, &err), &err);
    so.release(&so);
    for (i = 0; i < 1000; i++) {
        ASSERT_OK(ik_builder_str(b, 0, types[i % 3], strlen(types[i % 3]), &err), &err);
        ASSERT_OK(ik_builder_end_row(b, &err), &err);
    }
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a, &err), &err);
    ASSERT_EQ(a.children[0]->dictionary->length, 3);
    for (i = 0; i < 1000; i++)
        ASSERT_TRUE(str_is(so.children[0], a.children[0], i, types[i % 3]));
    ASSERT_OK(ik_array_validate(&so, &a, IK_VALIDATE_FULL, true, &err), &err);
    a.release(&a);
    so.release(&so);
    /* int8 indices: 128 distinct strings fit, the 129th does not */
    for (i = 0; i < 128; i++) {
        snprintf(v, sizeof v, "v%d", i);
        ASSERT_OK(ik_builder_str(b, 0, v, strlen(v), &err), &err);
        ASSERT_OK(ik_builder_end_row(b, &err), &err);
    }
    ASSERT_OK(ik_builder_str(b, 0, "v7", 2, &err), &err); /* known: still fine */
    ASSERT_OK(ik_builder_end_row(b, &err), &err);
    ASSERT_FAILS(ik_builder_str(b, 0, "new", 3, &err), EINVAL, &err,
                 "dictionary for 'pin_type' exceeds int8 index range");
    ik_builder_abort_row(b);
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a, &err), &err);
    ASSERT_EQ(a.length, 129);
    ASSERT_EQ(a.children[0]->dictionary->length, 128);
    ASSERT_TRUE(str_is(so.children[0], a.children[0], 128, "v7"));
    ASSERT_OK(ik_array_validate(&so, &a, IK_VALIDATE_FULL, true, &err), &err);
    a.release(&a);
    so.release(&so);
    ik_builder_destroy(b);
}

TEST(test_builder_abort_row_rolls_back_dictionary)
{
    struct ik_error err;
    struct ArrowSchema so;
    struct ArrowArray a;
    struct ik_builder *b;
    static const char *const spec[] = {"k:dict:s", "s:u", "f:b"};
    int i;
    ASSERT_OK(make_schema(&so, spec, 3), &err);
    ASSERT_OK(ik_builder_create(&so, 0, &b, &err), &err);
    so.release(&so);
    /* enough distinct values to force rehashes, every third one aborted */
    for (i = 0; i < 3000; i++) {
        char v[16];
        snprintf(v, sizeof v, "k%d", i);
        ASSERT_OK(ik_builder_str(b, 0, v, strlen(v), &err), &err);
        ASSERT_OK(ik_builder_str(b, 1, v, strlen(v), &err), &err);
        if (i % 3 == 2) {
            ASSERT_OK(ik_builder_null(b, 2, &err), &err);
            ik_builder_abort_row(b);
        } else {
            ASSERT_OK(ik_builder_bool(b, 2, true, &err), &err);
            ASSERT_OK(ik_builder_end_row(b, &err), &err);
        }
    }
    /* values seen before dedup against the rolled-back table */
    ASSERT_OK(ik_builder_str(b, 0, "k0", 2, &err), &err);
    ASSERT_OK(ik_builder_end_row(b, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a, &err), &err);
    ASSERT_EQ(a.length, 2001);
    ASSERT_EQ(a.children[0]->dictionary->length, 2000);
    ASSERT_EQ(a.children[2]->null_count, 1);
    ASSERT_TRUE(str_is(so.children[0], a.children[0], 2, "k3"));
    ASSERT_TRUE(str_is(so.children[1], a.children[1], 2, "k3"));
    ASSERT_TRUE(str_is(so.children[0], a.children[0], 2000, "k0"));
    ASSERT_EQ(((const int16_t *)a.children[0]->buffers[1])[2000], 0);
    ASSERT_OK(ik_array_validate(&so, &a, IK_VALIDATE_FULL, true, &err), &err);
    a.release(&a);
    so.release(&so);
    ik_builder_destroy(b);
}

/* Fills row i of pin_index with generated values (some nulls). */
static int pin_row(struct ik_builder *b, int i, struct ik_error *err)
{
    static const char *const types[] = {"recursive", "direct", "indirect"};
    static const char *const backends[] = {"ipfs", "s3", "filecoin", "storacha"};
    char cid[64], path[64];
    int rc = 0;
    snprintf(cid, sizeof cid, "QmPin%08dabcdefghijklmnopqrstuvwxyzABCDEF", i);
    snprintf(path, sizeof path, "/vfs/dir%d/file%d", i % 17, i);
    rc |= ik_builder_str(b, 0, cid, strlen(cid), err);
    rc |= i % 5 ? ik_builder_str(b, 1, "name", 4, err) : 0;
    rc |= i % 7 ? ik_builder_int(b, 2, (int64_t)i * 1024, err) : ik_builder_null(b, 2, err);
    rc |= ik_builder_str(b, 3, types[i % 3], strlen(types[i % 3]), err);
    rc |= ik_builder_int(b, 4, 1795600800000000 + i, err);
    rc |= i % 2 ? ik_builder_str(b, 5, "{\"k\":1}", 7, err) : 0;
    rc |= ik_builder_str(b, 6, backends[i % 4], strlen(backends[i % 4]), err);
    rc |= ik_builder_int(b, 7, 1 + i % 3, err);
    rc |= ik_builder_bool(b, 8, i % 3 == 0, err);
    rc |= i % 4 ? ik_builder_int(b, 9, 1795600900000000 + i, err) : 0;
    rc |= i % 3 ? ik_builder_str(b, 10, path, strlen(path), err) : 0;
    rc |= ik_builder_int(b, 11, i, err);
    return rc ? rc : ik_builder_end_row(b, err);
}

TEST(test_builder_reusable_after_finish)
{
    struct ik_error err;
    struct ArrowSchema so;
    struct ArrowArray a1, a2;
    struct ik_builder *b;
    int i;
    char why[200];
    ASSERT_OK(ik_builder_create_table("pin_index", 10, &b, &err), &err);
    for (i = 0; i < 50; i++)
        ASSERT_OK(pin_row(b, i, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a1, &err), &err);
    for (i = 0; i < 50; i++)
        ASSERT_OK(pin_row(b, i, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, NULL, &a2, &err), &err);
    ASSERT_TRUE(ik_test_batch_equal(&so, &a1, &a2, why, sizeof why));
    ASSERT_TRUE(a1.children[0]->buffers[2] != a2.children[0]->buffers[2]);
    a1.release(&a1);
    ASSERT_OK(ik_array_validate(&so, &a2, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_EQ(a2.children[3]->dictionary->length, 3);
    a2.release(&a2);
    /* an empty batch is valid too */
    ASSERT_OK(ik_builder_finish(b, NULL, NULL, &a2, &err), &err);
    ASSERT_EQ(a2.length, 0);
    ASSERT_OK(ik_array_validate(&so, &a2, IK_VALIDATE_FULL, true, &err), &err);
    a2.release(&a2);
    so.release(&so);
    ik_builder_destroy(b);
}

TEST(test_builder_metadata_replaces_schema_metadata)
{
    struct ik_error err;
    struct ArrowSchema so;
    struct ArrowArray a;
    struct ik_builder *b;
    const char *keys[] = {"ipfs_kit.table", "ipfs_kit.snapshot_version"};
    const char *vals[] = {"pin_index", "7"};
    char *m = ik_metadata_build(keys, vals, 2);
    int32_t len;
    const char *v;
    ASSERT_TRUE(m != NULL);
    ASSERT_EQ(ik__metadata_size(m), 4 + 8 + 14 + 9 + 8 + 25 + 1);
    ASSERT_OK(ik_builder_create_table("pin_index", 0, &b, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a, &err), &err);
    ASSERT_TRUE(ik_metadata_get(so.metadata, "ipfs_kit.table", &len) != NULL);
    ASSERT_TRUE(ik_metadata_get(so.metadata, "ipfs_kit.snapshot_version", &len) == NULL);
    so.release(&so);
    a.release(&a);
    ASSERT_OK(ik_builder_finish(b, m, &so, &a, &err), &err);
    v = ik_metadata_get(so.metadata, "ipfs_kit.snapshot_version", &len);
    ASSERT_TRUE(v != NULL && len == 1 && v[0] == '7');
    ASSERT_EQ(so.n_children, 12);
    ASSERT_STR_EQ(so.children[3]->dictionary->format, "u");
    so.release(&so);
    a.release(&a);
    ik_builder_destroy(b);
    free(m);
}

struct sink {
    uint8_t *p;
    size_t len, cap;
};

static int sink_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct sink *s = ctx;
    (void)err;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + len)
            cap *= 2;
        uint8_t *q = realloc(s->p, cap);
        if (q == NULL)
            return ENOMEM;
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, len);
    s->len += len;
    return 0;
}

static void free_ctx(void *p)
{
    free(p);
}

TEST(test_builder_round_trips_through_ipc_file)
{
    struct ik_error err;
    struct ArrowSchema so;
    struct ArrowArray a, back;
    struct ik_builder *b;
    struct ik_write_options o;
    struct ik_ipc_writer *w;
    struct ik_ipc_file *f;
    struct ik_buffer *buf;
    struct sink out = {0};
    struct ik_read_options ro;
    char why[200];
    int i;
    ASSERT_OK(ik_builder_create_table("pin_index", 0, &b, &err), &err);
    for (i = 0; i < 1000; i++)
        ASSERT_OK(pin_row(b, i, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &so, &a, &err), &err);
    ik_builder_destroy(b);
    ik_write_options_init(&o);
    o.format = IK_IPC_FILE;
    ASSERT_OK(ik_ipc_writer_create(&so, &o, sink_write, &out, &w, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &a, &err), &err);
    ASSERT_OK(ik_ipc_writer_finish(w, &err), &err);
    ik_ipc_writer_destroy(w);
    ASSERT_OK(ik_buffer_wrap(out.p, out.len, free_ctx, out.p, &buf), &err);
    ik_read_options_init(&ro);
    ro.validate = IK_VALIDATE_FULL;
    ro.check_utf8 = true;
    ASSERT_OK(ik_ipc_file_open(buf, &ro, &f, &err), &err);
    ik_buffer_unref(buf);
    ASSERT_EQ(ik_ipc_file_num_batches(f), 1);
    ASSERT_OK(ik_ipc_file_read_batch(f, 0, &back, &err), &err);
    ASSERT_OK(ik_array_validate(ik_ipc_file_schema(f), &back, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_TRUE(ik_test_batch_equal(&so, &a, &back, why, sizeof why));
    ASSERT_EQ(back.children[2]->null_count, a.children[2]->null_count);
    ASSERT_STR_EQ(ik_ipc_file_schema(f)->children[6]->format, "s");
    back.release(&back);
    ik_ipc_file_destroy(f);
    a.release(&a);
    so.release(&so);
}
