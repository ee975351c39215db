/* Tests of JSON rows (the traditional fallback format): exact spelling of a row, escapes and
 * Unicode, refusal of invalid UTF-8, sliced batches, errors naming line and key, timestamps,
 * and exact round trips of all four ipfs-kit tables in both directions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "batch_eq.h"
#include "ik_test.h"
#include "ipfskit/builder.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"

struct text {
    char *p;
    size_t len, cap;
};

static int text_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct text *t = ctx;
    (void)err;
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + len + 1)
            cap *= 2;
        char *q = realloc(t->p, cap);
        if (q == NULL)
            return ENOMEM;
        t->p = q;
        t->cap = cap;
    }
    memcpy(t->p + t->len, data, len);
    t->len += len;
    t->p[t->len] = 0;
    return 0;
}

static const char *const strs[] = {
    "plain",
    "quote \" back \\ slash",
    "tab\there\nnew line\r",
    "\x01\x1f\x7f ctl",
    "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80",
    "",
    "{\"k\":[1,2]}",
    "/vfs/a b/c",
};
#define N_STRS ((int)(sizeof strs / sizeof strs[0]))

static const double reals[] = {0.1,     -0.0,    1e300, 5e-324, 123456789.123456789,
                               1.0 / 3, -2.5e-8, 0.0,   1e22,   9007199254740993.0};
#define N_REALS ((int)(sizeof reals / sizeof reals[0]))

/* Fills row i of any ipfs-kit table with generated values of each column's type, nulls in
 * nullable columns now and then. */
static int gen_row(struct ik_builder *b, const struct ArrowSchema *s, int i, struct ik_error *err)
{
    static const char *const dict[] = {"recursive", "direct", "indirect", "ipfs", "s3"};
    int64_t c;
    for (c = 0; c < s->n_children; c++) {
        const struct ArrowSchema *f = s->children[c];
        const char *fmt = f->format;
        int col = (int)c, rc;
        if ((f->flags & ARROW_FLAG_NULLABLE) && (i + c) % 5 == 0)
            rc = ik_builder_null(b, col, err);
        else if (f->dictionary)
            rc = ik_builder_str(b, col, dict[(i + c) % 5], strlen(dict[(i + c) % 5]), err);
        else if (fmt[0] == 'u') {
            char v[96];
            snprintf(v, sizeof v, "%s#%d", strs[(i + c) % N_STRS], i);
            rc = ik_builder_str(b, col, v, strlen(v), err);
        } else if (fmt[0] == 'l')
            rc = ik_builder_int(b, col, (int64_t)(i - 500) * INT64_C(12345678901), err);
        else if (fmt[0] == 'i')
            rc = ik_builder_int(b, col, i % 7 - 3, err);
        else if (fmt[0] == 'b')
            rc = ik_builder_bool(b, col, i % 2, err);
        else if (fmt[0] == 'g')
            rc = ik_builder_double(b, col, reals[(i + c) % N_REALS] * (i % 3 ? 1 : -1), err);
        else /* timestamp[us, UTC], some before 1970 */
            rc = ik_builder_int(b, col, INT64_C(1795600800123456) + (i - 400) * INT64_C(7777777777),
                                err);
        if (rc != 0)
            return rc;
    }
    return ik_builder_end_row(b, err);
}

static int gen_table(const char *table, int rows, struct ArrowSchema *s, struct ArrowArray *a,
                     struct ik_error *err)
{
    struct ik_builder *b;
    int i, rc;
    if ((rc = ik_table_schema(table, s, err)) != 0)
        return rc;
    if ((rc = ik_builder_create(s, rows, &b, err)) != 0)
        return rc;
    for (i = 0; i < rows && rc == 0; i++)
        rc = gen_row(b, s, i, err);
    if (rc == 0)
        rc = ik_builder_finish(b, NULL, NULL, a, err);
    ik_builder_destroy(b);
    return rc;
}

/* read(write(batch)) equals batch, and write(read(text)) equals text. */
static void check_round_trip(const char *table, int rows)
{
    struct ik_error err;
    struct ArrowSchema s, s2;
    struct ArrowArray a, back;
    struct text t1 = {0}, t2 = {0};
    char why[200];
    ASSERT_OK(gen_table(table, rows, &s, &a, &err), &err);
    ASSERT_OK(ik_json_rows_write(&s, &a, text_write, &t1, &err), &err);
    ASSERT_OK(ik_json_rows_read(table, NULL, t1.p, t1.len, &s2, &back, &err), &err);
    ASSERT_OK(ik_array_validate(&s2, &back, IK_VALIDATE_FULL, true, &err), &err);
    if (!ik_test_batch_equal(&s, &a, &back, why, sizeof why))
        ik_test_fail(__FILE__, __LINE__, "%s: %s", table, why);
    ASSERT_OK(ik_json_rows_write(&s2, &back, text_write, &t2, &err), &err);
    ASSERT_EQ(t1.len, t2.len);
    ASSERT_MEM_EQ(t1.p, t2.p, t1.len);
    free(t1.p);
    free(t2.p);
    a.release(&a);
    back.release(&back);
    s.release(&s);
    s2.release(&s2);
}

TEST(test_json_rows_round_trip_1000_pin_rows)
{
    check_round_trip("pin_index", 1000);
}

TEST(test_json_rows_round_trip_every_table)
{
    int i;
    for (i = 0; ik_table_names[i]; i++)
        check_round_trip(ik_table_names[i], 300);
}

TEST(test_json_rows_spells_a_pin_row)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_builder *b;
    struct text t = {0};
    ASSERT_OK(ik_builder_create_table("pin_index", 0, &b, &err), &err);
    ASSERT_OK(ik_builder_str(b, 0, "QmX", 3, &err), &err);
    ASSERT_OK(ik_builder_int(b, 2, 123, &err), &err);
    ASSERT_OK(ik_builder_str(b, 3, "recursive", 9, &err), &err);
    ASSERT_OK(ik_builder_int(b, 4, INT64_C(1795600800123456), &err), &err);
    ASSERT_OK(ik_builder_str(b, 6, "ipfs", 4, &err), &err);
    ASSERT_OK(ik_builder_int(b, 7, 1, &err), &err);
    ASSERT_OK(ik_builder_bool(b, 8, true, &err), &err);
    ASSERT_OK(ik_builder_int(b, 9, -1, &err), &err);
    ASSERT_OK(ik_builder_int(b, 11, 0, &err), &err);
    ASSERT_OK(ik_builder_end_row(b, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &s, &a, &err), &err);
    ik_builder_destroy(b);
    ASSERT_OK(ik_json_rows_write(&s, &a, text_write, &t, &err), &err);
    ASSERT_STR_EQ(t.p,
                  "{\"cid\":\"QmX\",\"name\":null,\"size_bytes\":123,\"pin_type\":\"recursive\","
                  "\"timestamp\":\"2026-11-25T10:00:00.123456Z\",\"metadata\":null,"
                  "\"backend\":\"ipfs\",\"replication_factor\":1,\"verified\":true,"
                  "\"last_access\":\"1969-12-31T23:59:59.999999Z\",\"vfs_path\":null,"
                  "\"access_count\":0}\n");
    free(t.p);
    a.release(&a);
    s.release(&s);
}

TEST(test_json_rows_escapes_and_unicode)
{
    struct ik_error err;
    struct ArrowSchema s, s2;
    struct ArrowArray a, back;
    struct ik_builder *b;
    struct text t = {0};
    char why[200];
    static const char nul[] = "a\0b";
    int i;
    ASSERT_OK(ik_builder_create_table("metrics", 0, &b, &err), &err);
    for (i = 0; i <= N_STRS; i++) {
        if (i == N_STRS)
            ASSERT_OK(ik_builder_str(b, 0, nul, 3, &err), &err);
        else
            ASSERT_OK(ik_builder_str(b, 0, strs[i], strlen(strs[i]), &err), &err);
        ASSERT_OK(ik_builder_end_row(b, &err), &err);
    }
    ASSERT_OK(ik_builder_finish(b, NULL, &s, &a, &err), &err);
    ik_builder_destroy(b);
    ASSERT_OK(ik_json_rows_write(&s, &a, text_write, &t, &err), &err);
    ASSERT_TRUE(strstr(t.p, "{\"metric_name\":\"quote \\\" back \\\\ slash\",") != NULL);
    ASSERT_TRUE(strstr(t.p, "\"tab\\there\\nnew line\\r\"") != NULL);
    ASSERT_TRUE(strstr(t.p, "\"\\u0001\\u001f\x7f ctl\"") != NULL);
    ASSERT_TRUE(strstr(t.p, "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"") != NULL);
    ASSERT_TRUE(strstr(t.p, "\"a\\u0000b\"") != NULL);
    ASSERT_OK(ik_json_rows_read(NULL, &s, t.p, t.len, &s2, &back, &err), &err);
    ASSERT_TRUE(ik_test_batch_equal(&s, &a, &back, why, sizeof why));
    back.release(&back);
    s2.release(&s2);
    /* \u escapes and surrogate pairs written by others read as the same strings */
    const char *in = "{\"metric_name\":\"caf\\u00e9 \\ud83d\\ude00 \\/\"}\n";
    ASSERT_OK(ik_json_rows_read("metrics", NULL, in, strlen(in), NULL, &back, &err), &err);
    size_t n;
    const char *v = ik_test_str(s.children[0], back.children[0], 0, &n);
    ASSERT_EQ(n, strlen("caf\xc3\xa9 \xf0\x9f\x98\x80 /"));
    ASSERT_MEM_EQ(v, "caf\xc3\xa9 \xf0\x9f\x98\x80 /", n);
    back.release(&back);
    free(t.p);
    a.release(&a);
    s.release(&s);
}

TEST(test_json_rows_refuses_invalid_utf8)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_builder *b;
    struct text t = {0};
    static const char *const bad[] = {"ok\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "\xe2\x82"};
    int i;
    for (i = 0; i < 5; i++) {
        ASSERT_OK(ik_builder_create_table("metrics", 0, &b, &err), &err);
        ASSERT_OK(ik_builder_str(b, 0, "m", 1, &err), &err);
        ASSERT_OK(ik_builder_str(b, 4, bad[i], strlen(bad[i]), &err), &err);
        ASSERT_OK(ik_builder_end_row(b, &err), &err);
        ASSERT_OK(ik_builder_finish(b, NULL, &s, &a, &err), &err);
        ik_builder_destroy(b);
        ASSERT_FAILS(ik_json_rows_write(&s, &a, text_write, &t, &err), IK_EINVALID, &err,
                     "row 0, column 'tags': invalid UTF-8 at byte");
        a.release(&a);
        s.release(&s);
    }
    ASSERT_EQ(t.len, 0); /* nothing written */
    free(t.p);
}

TEST(test_json_rows_nan_and_infinity_are_null)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_builder *b;
    struct text t = {0};
    ASSERT_OK(ik_builder_create_table("metrics", 0, &b, &err), &err);
    ASSERT_OK(ik_builder_str(b, 0, "m", 1, &err), &err);
    ASSERT_OK(ik_builder_double(b, 1, NAN, &err), &err);
    ASSERT_OK(ik_builder_end_row(b, &err), &err);
    ASSERT_OK(ik_builder_str(b, 0, "m", 1, &err), &err);
    ASSERT_OK(ik_builder_double(b, 1, -INFINITY, &err), &err);
    ASSERT_OK(ik_builder_end_row(b, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &s, &a, &err), &err);
    ik_builder_destroy(b);
    ASSERT_OK(ik_json_rows_write(&s, &a, text_write, &t, &err), &err);
    ASSERT_STR_EQ(t.p, "{\"metric_name\":\"m\",\"metric_value\":null,\"metric_type\":null,"
                       "\"timestamp\":null,\"tags\":null}\n"
                       "{\"metric_name\":\"m\",\"metric_value\":null,\"metric_type\":null,"
                       "\"timestamp\":null,\"tags\":null}\n");
    free(t.p);
    a.release(&a);
    s.release(&s);
}

TEST(test_json_rows_honours_batch_and_column_offsets)
{
    struct ik_error err;
    struct ArrowSchema s, s2;
    struct ArrowArray a, view, back, kids[12], *kp[12];
    struct text t = {0};
    char why[200];
    int i;
    ASSERT_OK(gen_table("pin_index", 100, &s, &a, &err), &err);
    view = a;
    view.offset = 7;
    view.length = 50;
    view.children = kp;
    for (i = 0; i < 12; i++) {
        kids[i] = *a.children[i];
        kids[i].offset = i % 4;
        kids[i].length -= i % 4;
        if (kids[i].null_count != 0)
            kids[i].null_count = -1; /* unknown after slicing */
        kp[i] = &kids[i];
    }
    ASSERT_OK(ik_json_rows_write(&s, &view, text_write, &t, &err), &err);
    ASSERT_OK(ik_json_rows_read("pin_index", NULL, t.p, t.len, &s2, &back, &err), &err);
    ASSERT_EQ(back.length, 50);
    if (!ik_test_batch_equal(&s, &view, &back, why, sizeof why))
        ik_test_fail(__FILE__, __LINE__, "%s", why);
    back.release(&back);
    s2.release(&s2);
    free(t.p);
    a.release(&a);
    s.release(&s);
}

static void expect_read_error(const char *text, int code, const char *msg)
{
    struct ik_error err;
    struct ArrowArray a;
    ASSERT_FAILS(ik_json_rows_read("pin_index", NULL, text, strlen(text), NULL, &a, &err), code,
                 &err, msg);
}

#define PIN_OK                                                                                     \
    "{\"cid\":\"Qm1\",\"pin_type\":\"direct\",\"timestamp\":\"2026-11-25T10:00:00Z\","             \
    "\"backend\":\"ipfs\",\"replication_factor\":1,\"verified\":false,\"access_count\":0}\n"

TEST(test_json_rows_errors_name_line_and_key)
{
    expect_read_error(PIN_OK "\n" PIN_OK
                             "{\"cid\":\"Qm\",\"size_bytes\":\"12\",\"pin_type\":\"direct\"}\n",
                      EINVAL, "line 4: key 'size_bytes': expected an integer");
    expect_read_error(PIN_OK "{\"cid\":\"Qm\",\"size_bytes\":1.5}\n", EINVAL,
                      "line 2: key 'size_bytes': expected an integer");
    expect_read_error(PIN_OK "{\"cid\":7}\n", EINVAL, "line 2: key 'cid': expected a string");
    expect_read_error("{\"cid\":\"Qm\",\"verified\":1}\n", EINVAL,
                      "line 1: key 'verified': expected true or false");
    expect_read_error("{\"cid\":null}\n", EINVAL,
                      "line 1: key 'cid': column 'cid' is not nullable");
    expect_read_error("{\"cid\":\"Qm\"}\n", EINVAL, "line 1: column 'pin_type' is not nullable");
    expect_read_error(PIN_OK "{\"cid\":\"Qm\",\"replication_factor\":3000000000}\n", EINVAL,
                      "line 2: key 'replication_factor': column 'replication_factor' (int32): "
                      "3000000000 is out of range");
    expect_read_error(PIN_OK "{\"cid\":\"Qm\",\"colour\":\"red\"}\n", EINVAL,
                      "line 2: unknown key 'colour'");
    expect_read_error("{\"cid\":\"Qm\",\"cid\":\"Qn\"}\n", IK_EFORMAT, "line 1, column");
    expect_read_error(PIN_OK "{\"cid\":\"Qm\",\n", IK_EFORMAT, "line 2, column");
    expect_read_error("[1,2]\n", IK_EFORMAT, "line 1: expected a JSON object");
    expect_read_error("{\"cid\":\"Qm\",\"timestamp\":\"2026-13-01T00:00:00Z\"}", EINVAL,
                      "line 1: key 'timestamp': expected an RFC 3339 timestamp");
    expect_read_error("{\"cid\":\"Qm\",\"timestamp\":\"2026-11-25T10:00:00.1234567Z\"}", EINVAL,
                      "finer than the column's unit");
    expect_read_error("{\"cid\":\"Qm\",\"timestamp\":\"2026-11-25T10:00:00\"}", EINVAL,
                      "expected 'Z' or an offset");
    expect_read_error("{\"cid\":\"Qm\",\"timestamp\":true}", EINVAL,
                      "key 'timestamp': expected an RFC 3339 timestamp string or an integer");
}

TEST(test_json_rows_reads_timestamps_offsets_and_integers)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    const char *in = "{\"metric_name\":\"a\",\"timestamp\":\"2026-11-25T12:00:00.5+02:00\"}\n"
                     "  \r\n"
                     "{\"metric_name\":\"b\",\"timestamp\":\"1969-12-31t23:59:59.999999z\"}\r\n"
                     "{\"metric_name\":\"c\",\"timestamp\":-5,\"metric_value\":3}\n"
                     "{\"metric_name\":\"d\",\"timestamp\":\"0000-01-01T00:00:00.000000000Z\"}";
    ASSERT_OK(ik_json_rows_read("metrics", NULL, in, strlen(in), &s, &a, &err), &err);
    ASSERT_EQ(a.length, 4);
    ASSERT_EQ(ik_test_int(s.children[3], a.children[3], 0), INT64_C(1795600800500000));
    ASSERT_EQ(ik_test_int(s.children[3], a.children[3], 1), -1);
    ASSERT_EQ(ik_test_int(s.children[3], a.children[3], 2), -5);
    ASSERT_EQ(ik_test_int(s.children[3], a.children[3], 3), INT64_C(-62167219200000000));
    ASSERT_TRUE(ik_test_double(a.children[1], 2) == 3.0);
    a.release(&a);
    s.release(&s);
}

TEST(test_json_rows_other_temporal_and_integer_types)
{
    struct ik_error err;
    struct ArrowSchema s, s2;
    struct ArrowArray a, back;
    struct ik_builder *b;
    struct text t = {0};
    char why[200];
    static const char *const fmts[] = {
        "tsn:", "tss:Europe/Paris", "tsm:", "tdD", "tdm", "tDs", "C", "S", "I", "L", "c", "f"};
    int i, r;
    ASSERT_OK(ik__schema_alloc(&s, "+s", "", NULL, 0, 12), &err);
    for (i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        ASSERT_OK(ik__schema_alloc(s.children[i], fmts[i], name, NULL, ARROW_FLAG_NULLABLE, 0),
                  &err);
    }
    ASSERT_OK(ik_builder_create(&s, 0, &b, &err), &err);
    for (r = 0; r < 4; r++) {
        int64_t k = r - 2;
        ASSERT_OK(ik_builder_int(b, 0, k * INT64_C(1000000000123456789), &err), &err);
        ASSERT_OK(ik_builder_int(b, 1, k * INT64_C(100000000000), &err), &err); /* year > 9999 */
        ASSERT_OK(ik_builder_int(b, 2, k * 86400001, &err), &err);
        ASSERT_OK(ik_builder_int(b, 3, k * 20000, &err), &err);
        ASSERT_OK(ik_builder_int(b, 4, k * 86400000 + (r == 3), &err), &err);
        ASSERT_OK(ik_builder_int(b, 5, k * 99, &err), &err);
        ASSERT_OK(ik_builder_int(b, 6, 255 - r, &err), &err);
        ASSERT_OK(ik_builder_int(b, 7, 65535 - r, &err), &err);
        ASSERT_OK(ik_builder_int(b, 8, UINT32_MAX - (uint32_t)r, &err), &err);
        ASSERT_OK(ik_builder_int(b, 9, INT64_MAX - r, &err), &err);
        ASSERT_OK(ik_builder_int(b, 10, -128 + r, &err), &err);
        ASSERT_OK(ik_builder_double(b, 11, 0.1 * (double)k, &err), &err);
        ASSERT_OK(ik_builder_end_row(b, &err), &err);
    }
    ASSERT_OK(ik_builder_finish(b, NULL, NULL, &a, &err), &err);
    ik_builder_destroy(b);
    ASSERT_OK(ik_json_rows_write(&s, &a, text_write, &t, &err), &err);
    ASSERT_TRUE(strstr(t.p, "\"c3\":\"2024-10-04\"") != NULL);
    ASSERT_TRUE(strstr(t.p, "\"c0\":\"1906-08-16T20:26:39.753086422Z\"") != NULL);
    ASSERT_OK(ik_json_rows_read(NULL, &s, t.p, t.len, &s2, &back, &err), &err);
    if (!ik_test_batch_equal(&s, &a, &back, why, sizeof why))
        ik_test_fail(__FILE__, __LINE__, "%s\n%s", why, t.p);
    back.release(&back);
    s2.release(&s2);
    a.release(&a);
    s.release(&s);
    free(t.p);
}

TEST(test_json_rows_refuses_offsets_out_of_order)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_builder *b;
    struct text t = {0};
    int32_t *off;
    ASSERT_OK(ik_builder_create_table("metrics", 0, &b, &err), &err);
    ASSERT_OK(ik_builder_str(b, 0, "m1", 2, &err), &err);
    ASSERT_OK(ik_builder_end_row(b, &err), &err);
    ASSERT_OK(ik_builder_str(b, 0, "m2", 2, &err), &err);
    ASSERT_OK(ik_builder_end_row(b, &err), &err);
    ASSERT_OK(ik_builder_finish(b, NULL, &s, &a, &err), &err);
    ik_builder_destroy(b);
    off = (int32_t *)(uintptr_t)a.children[0]->buffers[1];
    off[1] = 4; /* row 0 ends past the column's last offset (2 + 2 = 4 is row 1's end) */
    off[2] = 2;
    ASSERT_FAILS(ik_json_rows_write(&s, &a, text_write, &t, &err), IK_EINVALID, &err,
                 "row 0, column 'metric_name': value offsets out of order or out of range");
    a.release(&a);
    s.release(&s);
    free(t.p);
}
