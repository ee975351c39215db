/* Tests of the row printers (JSON Lines, CSV, table): every type spelled exactly, nulls,
 * sliced batches and children, nested and encoded types, CSV quoting, JSON escaping with
 * invalid UTF-8, table alignment and truncation, limits across batches, and the errors for
 * out-of-range indices and failed writes. Arrays are built by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ik_test.h"

/* ---- building arrays by hand -------------------------------------------------------------- */

/* A zeroed buffer of n bytes as buffer i of a, which holds it. */
static void *buf(struct ArrowArray *a, int i, size_t n)
{
    struct ik_buffer *b;
    uint8_t *p;
    if (ik_buffer_alloc(n ? n : 1, &b, &p) != 0)
        return NULL;
    a->buffers[i] = p;
    ik__array_hold(a, b);
    ik_buffer_unref(b);
    return p;
}

static struct ArrowArray *arr(struct ArrowArray *a, int64_t n_buffers, int64_t n_children,
                              int64_t length)
{
    ik__array_alloc(a, n_buffers, n_children);
    a->length = length;
    return a;
}

/* Validity from a pattern such as "1101" ('0' = null); NULL leaves the bitmap absent. */
static void valid(struct ArrowArray *a, const char *pat)
{
    size_t i, n;
    uint8_t *v;
    if (pat == NULL)
        return;
    n = strlen(pat);
    v = buf(a, 0, n / 8 + 1);
    for (i = 0; i < n; i++) {
        if (pat[i] == '1')
            v[i / 8] = (uint8_t)(v[i / 8] | (1u << (i % 8)));
        else
            a->null_count++;
    }
}

/* A fixed-width column of n values of `width` bytes. */
static struct ArrowArray *fixed(struct ArrowArray *a, int64_t n, const void *v, size_t width,
                                const char *pat)
{
    arr(a, 2, 0, n);
    memcpy(buf(a, 1, (size_t)n * width), v, (size_t)n * width);
    valid(a, pat);
    return a;
}

static struct ArrowArray *i32s(struct ArrowArray *a, int64_t n, const int32_t *v, const char *pat)
{
    return fixed(a, n, v, 4, pat);
}

/* Bits from a pattern of '0'/'1'. */
static struct ArrowArray *bools(struct ArrowArray *a, const char *bits, const char *pat)
{
    size_t i, n = strlen(bits);
    uint8_t *d;
    arr(a, 2, 0, (int64_t)n);
    d = buf(a, 1, n / 8 + 1);
    for (i = 0; i < n; i++)
        if (bits[i] == '1')
            d[i / 8] = (uint8_t)(d[i / 8] | (1u << (i % 8)));
    valid(a, pat);
    return a;
}

/* Variable-size binary: v[i] of len[i] bytes (len -1: null); int64 offsets when `large`. */
static struct ArrowArray *bins(struct ArrowArray *a, int64_t n, const char *const *v,
                               const int32_t *len, bool large)
{
    int64_t i, total = 0, pos = 0;
    char pat[64] = {0};
    uint8_t *o, *d;
    arr(a, 3, 0, n);
    for (i = 0; i < n; i++) {
        total += len[i] > 0 ? len[i] : 0;
        pat[i] = len[i] < 0 ? '0' : '1';
    }
    o = buf(a, 1, (size_t)(n + 1) * (large ? 8 : 4));
    d = buf(a, 2, (size_t)total);
    for (i = 0; i <= n; i++) {
        if (large)
            memcpy(o + 8 * i, &pos, 8);
        else {
            int32_t p32 = (int32_t)pos;
            memcpy(o + 4 * i, &p32, 4);
        }
        if (i < n && len[i] > 0) {
            memcpy(d + pos, v[i], (size_t)len[i]);
            pos += len[i];
        }
    }
    if (strchr(pat, '0'))
        valid(a, pat);
    return a;
}

/* Strings (NULL entries are nulls). */
static struct ArrowArray *strs(struct ArrowArray *a, int64_t n, const char *const *v, bool large)
{
    int32_t len[64];
    int64_t i;
    for (i = 0; i < n; i++)
        len[i] = v[i] ? (int32_t)strlen(v[i]) : -1;
    return bins(a, n, v, len, large);
}

static void offsets32(struct ArrowArray *a, int64_t n, const int32_t *o)
{
    memcpy(buf(a, 1, (size_t)n * 4), o, (size_t)n * 4);
}

static struct ArrowSchema *fld(struct ArrowSchema *s, const char *format, const char *name,
                               int64_t n_children)
{
    ik__schema_alloc(s, format, name, NULL, ARROW_FLAG_NULLABLE, n_children);
    return s;
}

/* A batch schema and a batch of `rows` rows with `ncol` columns to fill. */
struct tbl {
    struct ArrowSchema s;
    struct ArrowArray b;
};

static void tbl_init(struct tbl *t, int64_t ncol, int64_t rows)
{
    ik__schema_alloc(&t->s, "+s", NULL, NULL, 0, ncol);
    arr(&t->b, 1, ncol, rows);
}

static void tbl_free(struct tbl *t)
{
    t->s.release(&t->s);
    t->b.release(&t->b);
}

/* ---- rendering into a string --------------------------------------------------------------- */

static char out[1 << 18];

/* Renders the batches (all of them with one schema) and returns the text, or
 * "error <code>: <message>". */
static const char *run_batches(const struct ArrowSchema *s, const struct ArrowArray *const *b,
                               int nb, enum ik_print_format fmt, int64_t limit)
{
    struct ik_error err = {{0}};
    struct ik_printer *p = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc, i;
    rc = ik_printer_create(f, s, fmt, limit, &p, &err);
    for (i = 0; rc == 0 && i < nb && !ik_printer_done(p); i++)
        rc = ik_printer_batch(p, b[i], &err);
    if (rc == 0)
        rc = ik_printer_finish(p, &err);
    ik_printer_destroy(p);
    fclose(f);
    if (rc != 0)
        snprintf(out, sizeof out, "error %d: %s", rc, err.message);
    else
        snprintf(out, sizeof out, "%s", text ? text : "");
    free(text);
    return out;
}

static const char *run(struct tbl *t, enum ik_print_format fmt, int64_t limit)
{
    const struct ArrowArray *b = &t->b;
    return run_batches(&t->s, &b, 1, fmt, limit);
}

/* One column named v of type `format` whose array the caller fills. */
static struct ArrowArray *one(struct tbl *t, const char *format, int64_t rows)
{
    tbl_init(t, 1, rows);
    fld(t->s.children[0], format, "v", 0);
    return t->b.children[0];
}

/* ---- scalars ------------------------------------------------------------------------------- */

TEST(test_print_json_integers_full_range)
{
    struct tbl t;
    static const char *const fmts[] = {"c", "C", "s", "S", "i", "I", "l", "L"};
    static const char *const names[] = {"i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64"};
    int8_t i8[] = {-128, 127, 0};
    uint8_t u8[] = {0, 255, 0};
    int16_t i16[] = {-32768, 32767, 0};
    uint16_t u16[] = {0, 65535, 0};
    int32_t i32[] = {INT32_MIN, INT32_MAX, 0};
    uint32_t u32[] = {0, UINT32_MAX, 0};
    int64_t i64[] = {INT64_MIN, INT64_MAX, 0};
    uint64_t u64[] = {0, UINT64_MAX, 0};
    const void *vals[] = {i8, u8, i16, u16, i32, u32, i64, u64};
    const size_t widths[] = {1, 1, 2, 2, 4, 4, 8, 8};
    int c;
    tbl_init(&t, 8, 3);
    for (c = 0; c < 8; c++) {
        fld(t.s.children[c], fmts[c], names[c], 0);
        fixed(t.b.children[c], 3, vals[c], widths[c], "110");
    }
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"i8\":-128,\"u8\":0,\"i16\":-32768,\"u16\":0,\"i32\":-2147483648,\"u32\":0,"
                  "\"i64\":-9223372036854775808,\"u64\":0}\n"
                  "{\"i8\":127,\"u8\":255,\"i16\":32767,\"u16\":65535,\"i32\":2147483647,"
                  "\"u32\":4294967295,\"i64\":9223372036854775807,\"u64\":18446744073709551615}\n"
                  "{\"i8\":null,\"u8\":null,\"i16\":null,\"u16\":null,\"i32\":null,\"u32\":null,"
                  "\"i64\":null,\"u64\":null}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1),
                  "i8,u8,i16,u16,i32,u32,i64,u64\n"
                  "-128,0,-32768,0,-2147483648,0,-9223372036854775808,0\n"
                  "127,255,32767,65535,2147483647,4294967295,9223372036854775807,"
                  "18446744073709551615\n"
                  ",,,,,,,\n");
    tbl_free(&t);
}

TEST(test_print_floats_shortest_round_trip)
{
    struct tbl t;
    double d[] = {0.1, 1.5, -0.0, 1e300, 1.0 / 3, NAN, INFINITY, -INFINITY, 5e-324, 0};
    float f[] = {0.1f, 1.5f, -0.0f, 1e30f, 1.0f / 3, NAN, INFINITY, -INFINITY, 65504.0f, 0};
    uint16_t h[] = {0x3c00, 0x2e66, 0x8000, 0x7bff, 0x3555, 0x7e00, 0x7c00, 0xfc00, 0x0001, 0};
    tbl_init(&t, 3, 10);
    fld(t.s.children[0], "g", "d", 0);
    fld(t.s.children[1], "f", "f", 0);
    fld(t.s.children[2], "e", "h", 0);
    fixed(t.b.children[0], 10, d, 8, "1111111110");
    fixed(t.b.children[1], 10, f, 4, "1111111110");
    fixed(t.b.children[2], 10, h, 2, "1111111110");
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"d\":0.1,\"f\":0.10000000149011612,\"h\":1}\n"
                  "{\"d\":1.5,\"f\":1.5,\"h\":0.0999755859375}\n"
                  "{\"d\":-0,\"f\":-0,\"h\":-0}\n"
                  "{\"d\":1e+300,\"f\":1.0000000150474662e+30,\"h\":65504}\n"
                  "{\"d\":0.3333333333333333,\"f\":0.3333333432674408,\"h\":0.333251953125}\n"
                  "{\"d\":\"NaN\",\"f\":\"NaN\",\"h\":\"NaN\"}\n"
                  "{\"d\":\"Infinity\",\"f\":\"Infinity\",\"h\":\"Infinity\"}\n"
                  "{\"d\":\"-Infinity\",\"f\":\"-Infinity\",\"h\":\"-Infinity\"}\n"
                  "{\"d\":4.94065645841247e-324,\"f\":65504,\"h\":5.9604644775390625e-08}\n"
                  "{\"d\":null,\"f\":null,\"h\":null}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1),
                  "d,f,h\n"
                  "0.1,0.10000000149011612,1\n"
                  "1.5,1.5,0.0999755859375\n"
                  "-0,-0,-0\n"
                  "1e+300,1.0000000150474662e+30,65504\n"
                  "0.3333333333333333,0.3333333432674408,0.333251953125\n"
                  "NaN,NaN,NaN\n"
                  "Infinity,Infinity,Infinity\n"
                  "-Infinity,-Infinity,-Infinity\n"
                  "4.94065645841247e-324,65504,5.9604644775390625e-08\n"
                  ",,\n");
    tbl_free(&t);
}

TEST(test_print_bool_and_null_columns)
{
    struct tbl t;
    tbl_init(&t, 2, 3);
    fld(t.s.children[0], "b", "b", 0);
    fld(t.s.children[1], "n", "n", 0);
    bools(t.b.children[0], "101", "110");
    arr(t.b.children[1], 0, 0, 3);
    t.b.children[1]->null_count = 3;
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"b\":true,\"n\":null}\n"
                                              "{\"b\":false,\"n\":null}\n"
                                              "{\"b\":null,\"n\":null}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "b,n\ntrue,\nfalse,\n,\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_TABLE, -1), "b      n\n"
                                               "-----  ----\n"
                                               "true   null\n"
                                               "false  null\n"
                                               "null   null\n");
    tbl_free(&t);
}

TEST(test_print_json_escapes_strings_and_invalid_utf8)
{
    struct tbl t;
    static const char *const v[] = {
        "plain",
        "q\"b\\s",
        "nl\nt\tcr\r\x01\x1f\b\f",
        "\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80",
        "bad\xff!",
        "trunc\xe2\x82",
        "sur\xed\xa0\x80",
        "over\xc0\xaf",
        "a\x80\x80"
        "b",
        "",
        NULL,
        "del\x7f",
    };
    tbl_init(&t, 1, 12);
    fld(t.s.children[0], "u", "we\"ird\n", 0);
    strs(t.b.children[0], 12, v, false);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"we\\\"ird\\n\":\"plain\"}\n"
                  "{\"we\\\"ird\\n\":\"q\\\"b\\\\s\"}\n"
                  "{\"we\\\"ird\\n\":\"nl\\nt\\tcr\\r\\u0001\\u001f\\b\\f\"}\n"
                  "{\"we\\\"ird\\n\":\"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80\"}\n"
                  "{\"we\\\"ird\\n\":\"bad\\ufffd!\"}\n"
                  "{\"we\\\"ird\\n\":\"trunc\\ufffd\"}\n"
                  "{\"we\\\"ird\\n\":\"sur\\ufffd\\ufffd\\ufffd\"}\n"
                  "{\"we\\\"ird\\n\":\"over\\ufffd\\ufffd\"}\n"
                  "{\"we\\\"ird\\n\":\"a\\ufffd\\ufffdb\"}\n"
                  "{\"we\\\"ird\\n\":\"\"}\n"
                  "{\"we\\\"ird\\n\":null}\n"
                  "{\"we\\\"ird\\n\":\"del\x7f\"}\n");
    tbl_free(&t);
}

TEST(test_print_csv_quotes_only_when_needed)
{
    struct tbl t;
    static const char *const s[] = {"plain", "a,b", "say \"hi\"", "two\nlines",
                                    "cr\rx", "",    NULL,         "bad\xff"};
    int32_t n[] = {1, 2, 3, 4, 5, 6, 7, 8};
    tbl_init(&t, 2, 8);
    fld(t.s.children[0], "u", "text, with comma", 0);
    fld(t.s.children[1], "i", "n\"q", 0);
    strs(t.b.children[0], 8, s, false);
    i32s(t.b.children[1], 8, n, NULL);
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "\"text, with comma\",\"n\"\"q\"\n"
                                             "plain,1\n"
                                             "\"a,b\",2\n"
                                             "\"say \"\"hi\"\"\",3\n"
                                             "\"two\nlines\",4\n"
                                             "\"cr\rx\",5\n"
                                             ",6\n"
                                             ",7\n"
                                             "bad\xef\xbf\xbd,8\n");
    tbl_free(&t);
}

TEST(test_print_binary_types_as_hex)
{
    struct tbl t;
    static const char *const b[] = {"\x00\xff\x10", "", NULL};
    static const int32_t blen[] = {3, 0, -1};
    static const char *const lb[] = {"abc", NULL, "\x7f"};
    static const int32_t lblen[] = {3, -1, 1};
    static const char *const ls[] = {"x", "y\"", NULL};
    uint8_t fsb[] = {1, 2, 3, 0xaa, 0xbb, 0xcc, 0, 0, 0};
    tbl_init(&t, 4, 3);
    fld(t.s.children[0], "z", "b", 0);
    fld(t.s.children[1], "Z", "lb", 0);
    fld(t.s.children[2], "w:3", "fsb", 0);
    fld(t.s.children[3], "U", "ls", 0);
    bins(t.b.children[0], 3, b, blen, false);
    bins(t.b.children[1], 3, lb, lblen, true);
    fixed(t.b.children[2], 3, fsb, 3, "110");
    strs(t.b.children[3], 3, ls, true);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"b\":\"00ff10\",\"lb\":\"616263\",\"fsb\":\"010203\",\"ls\":\"x\"}\n"
                  "{\"b\":\"\",\"lb\":null,\"fsb\":\"aabbcc\",\"ls\":\"y\\\"\"}\n"
                  "{\"b\":null,\"lb\":\"7f\",\"fsb\":null,\"ls\":null}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "b,lb,fsb,ls\n"
                                             "00ff10,616263,010203,x\n"
                                             ",,aabbcc,\"y\"\"\"\n"
                                             ",7f,,\n");
    tbl_free(&t);
}

/* A view column (string or binary) over two variadic buffers. */
static void make_views(struct ArrowArray *a, int32_t bad_index)
{
    static const char d0[] = "a string longer than twelve";
    static const char d1[] = "xxxanother long string value!";
    uint8_t *v, *b0, *b1;
    int64_t sizes[2] = {(int64_t)sizeof d0 - 1, (int64_t)sizeof d1 - 1};
    struct {
        int32_t len, idx, off;
        const char *inl;
    } rows[] = {{5, 0, 0, "short"},
                {(int32_t)sizeof d0 - 1, 0, 0, NULL},
                {(int32_t)sizeof d1 - 4, 1, 3, NULL},
                {0, 0, 0, ""},
                {0, 0, 0, ""},
                {12, 0, 0, "twelve chars"}};
    int i;
    arr(a, 5, 0, 6);
    valid(a, "111011");
    v = buf(a, 1, 6 * 16);
    b0 = buf(a, 2, sizeof d0 - 1);
    b1 = buf(a, 3, sizeof d1 - 1);
    memcpy(b0, d0, sizeof d0 - 1);
    memcpy(b1, d1, sizeof d1 - 1);
    memcpy(buf(a, 4, 16), sizes, 16);
    for (i = 0; i < 6; i++) {
        uint8_t *w = v + 16 * i;
        memcpy(w, &rows[i].len, 4);
        if (rows[i].inl) {
            memcpy(w + 4, rows[i].inl, (size_t)rows[i].len);
        } else {
            int32_t idx = i == 2 && bad_index ? bad_index : rows[i].idx;
            memcpy(w + 4, (idx ? d1 + rows[i].off : d0), 4);
            memcpy(w + 8, &idx, 4);
            memcpy(w + 12, &rows[i].off, 4);
        }
    }
}

TEST(test_print_string_and_binary_views)
{
    struct tbl t;
    tbl_init(&t, 2, 6);
    fld(t.s.children[0], "vu", "sv", 0);
    fld(t.s.children[1], "vz", "bv", 0);
    make_views(t.b.children[0], 0);
    make_views(t.b.children[1], 0);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"sv\":\"short\",\"bv\":\"73686f7274\"}\n"
                  "{\"sv\":\"a string longer than twelve\",\"bv\":"
                  "\"6120737472696e67206c6f6e676572207468616e207477656c7665\"}\n"
                  "{\"sv\":\"another long string value!\",\"bv\":"
                  "\"616e6f74686572206c6f6e6720737472696e672076616c756521\"}\n"
                  "{\"sv\":null,\"bv\":null}\n"
                  "{\"sv\":\"\",\"bv\":\"\"}\n"
                  "{\"sv\":\"twelve chars\",\"bv\":\"7477656c7665206368617273\"}\n");
    tbl_free(&t);
}

TEST(test_print_rejects_view_buffer_index_out_of_range)
{
    struct tbl t;
    make_views(one(&t, "vu", 6), 2);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "error 1004: column 'v' row 2: view buffer index 2 out of range (limit 2)");
    tbl_free(&t);
}

/* ---- decimals ------------------------------------------------------------------------------ */

/* One decimal column of `bytes`-wide little-endian values given as int64 (sign-extended). */
static const char *decimals(const char *format, int bytes, const int64_t *v, int n)
{
    struct tbl t;
    uint8_t data[8 * 32] = {0};
    int i, k;
    const char *r;
    for (i = 0; i < n; i++)
        for (k = 0; k < bytes; k++)
            data[i * bytes + k] =
                (uint8_t)(k < 8 ? (uint64_t)v[i] >> (8 * k) : (v[i] < 0 ? 0xffu : 0u));
    fixed(one(&t, format, n), n, data, (size_t)bytes, NULL);
    r = run(&t, IK_PRINT_CSV, -1);
    tbl_free(&t);
    return r;
}

TEST(test_print_decimals_apply_scale)
{
    int64_t a[] = {-12345, 0, 5, 100, -1, 12345678901234};
    int64_t b[] = {12345, -7, 0};
    int64_t c[] = {5, -123, 1234567};
    int64_t d[] = {12, 0, -4};
    ASSERT_STR_EQ(decimals("d:10,2", 16, a, 6),
                  "v\n-123.45\n0.00\n0.05\n1.00\n-0.01\n123456789012.34\n");
    ASSERT_STR_EQ(decimals("d:5,0", 16, b, 3), "v\n12345\n-7\n0\n");
    ASSERT_STR_EQ(decimals("d:10,6", 16, c, 3), "v\n0.000005\n-0.000123\n1.234567\n");
    ASSERT_STR_EQ(decimals("d:5,-3", 16, d, 3), "v\n12000\n0\n-4000\n");
}

TEST(test_print_decimals_32_64_bit_extremes)
{
    int64_t a[] = {-123456, INT32_MIN, INT32_MAX};
    int64_t b[] = {INT64_MIN, INT64_MAX, -1};
    ASSERT_STR_EQ(decimals("d:9,3,32", 4, a, 3), "v\n-123.456\n-2147483.648\n2147483.647\n");
    ASSERT_STR_EQ(decimals("d:18,4,64", 8, b, 3),
                  "v\n-922337203685477.5808\n922337203685477.5807\n-0.0001\n");
}

TEST(test_print_decimals_128_256_bit_extremes)
{
    struct tbl t;
    uint8_t d128[3 * 16] = {0}, d256[3 * 32] = {0};
    d128[15] = 0x80;             /* -2^127 */
    memset(d128 + 16, 0xff, 15); /* 2^127 - 1 */
    d128[31] = 0x7f;
    memset(d128 + 32, 0xff, 16); /* -1 */
    d256[31] = 0x80;             /* -2^255 */
    memset(d256 + 32, 0xff, 31); /* 2^255 - 1 */
    d256[63] = 0x7f;
    memset(d256 + 64, 0xff, 32); /* -1 */
    tbl_init(&t, 2, 3);
    fld(t.s.children[0], "d:38,2", "a", 0);
    fld(t.s.children[1], "d:76,10,256", "b", 0);
    fixed(t.b.children[0], 3, d128, 16, NULL);
    fixed(t.b.children[1], 3, d256, 32, NULL);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"a\":\"-1701411834604692317316873037158841057.28\",\"b\":\"-"
                  "5789604461865809771178549250434395392663499233282028201972879200395."
                  "6564819968\"}\n"
                  "{\"a\":\"1701411834604692317316873037158841057.27\",\"b\":\""
                  "5789604461865809771178549250434395392663499233282028201972879200395."
                  "6564819967\"}\n"
                  "{\"a\":\"-0.01\",\"b\":\"-0.0000000001\"}\n");
    tbl_free(&t);
}

/* ---- temporal ------------------------------------------------------------------------------ */

TEST(test_print_dates_proleptic_gregorian)
{
    struct tbl t;
    int32_t d32[] = {0, -1, 11016, -719528, -719529, 2932896, 2932897, INT32_MIN, INT32_MAX};
    int64_t d64[] = {0, -1, 951782400000, -86400000, 86400000, -62167219200000, 1, 2, 3};
    tbl_init(&t, 2, 9);
    fld(t.s.children[0], "tdD", "d32", 0);
    fld(t.s.children[1], "tdm", "d64", 0);
    fixed(t.b.children[0], 9, d32, 4, NULL);
    fixed(t.b.children[1], 9, d64, 8, "111111000");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "d32,d64\n"
                                             "1970-01-01,1970-01-01\n"
                                             "1969-12-31,1969-12-31\n"
                                             "2000-02-29,2000-02-29\n"
                                             "0000-01-01,1969-12-31\n"
                                             "-0001-12-31,1970-01-02\n"
                                             "9999-12-31,0000-01-01\n"
                                             "10000-01-01,\n"
                                             "-5877641-06-23,\n"
                                             "5881580-07-11,\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, 1), "{\"d32\":\"1970-01-01\",\"d64\":\"1970-01-01\"}\n");
    tbl_free(&t);
}

TEST(test_print_times_of_day_each_unit)
{
    struct tbl t;
    int32_t s[] = {0, 86399, 3661};
    int32_t ms[] = {45296789, 0, 1};
    int64_t us[] = {1, 86399999999, 0};
    int64_t ns[] = {86399999999999, 1, -1};
    tbl_init(&t, 4, 3);
    fld(t.s.children[0], "tts", "s", 0);
    fld(t.s.children[1], "ttm", "ms", 0);
    fld(t.s.children[2], "ttu", "us", 0);
    fld(t.s.children[3], "ttn", "ns", 0);
    fixed(t.b.children[0], 3, s, 4, NULL);
    fixed(t.b.children[1], 3, ms, 4, NULL);
    fixed(t.b.children[2], 3, us, 8, "110");
    fixed(t.b.children[3], 3, ns, 8, NULL);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"s\":\"00:00:00\",\"ms\":\"12:34:56.789\",\"us\":\"00:00:00.000001\","
                  "\"ns\":\"23:59:59.999999999\"}\n"
                  "{\"s\":\"23:59:59\",\"ms\":\"00:00:00.000\",\"us\":\"23:59:59.999999\","
                  "\"ns\":\"00:00:00.000000001\"}\n"
                  "{\"s\":\"01:01:01\",\"ms\":\"00:00:00.001\",\"us\":null,"
                  "\"ns\":\"-00:00:00.000000001\"}\n");
    tbl_free(&t);
}

TEST(test_print_timestamps_each_unit_naive_and_utc)
{
    struct tbl t;
    int64_t s[] = {-1, 0, INT64_MAX};
    int64_t ms[] = {1500, -1, 0};
    int64_t us[] = {951782400123456, 0, -1};
    int64_t ns[] = {INT64_MIN, INT64_MAX, 0};
    tbl_init(&t, 4, 3);
    fld(t.s.children[0], "tss:", "s", 0);
    fld(t.s.children[1], "tsm:UTC", "ms", 0);
    fld(t.s.children[2], "tsu:", "us", 0);
    fld(t.s.children[3], "tsn:Europe/Paris", "ns", 0);
    fixed(t.b.children[0], 3, s, 8, NULL);
    fixed(t.b.children[1], 3, ms, 8, NULL);
    fixed(t.b.children[2], 3, us, 8, NULL);
    fixed(t.b.children[3], 3, ns, 8, "110");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1),
                  "s,ms,us,ns\n"
                  "1969-12-31T23:59:59,1970-01-01T00:00:01.500Z,2000-02-29T00:00:00.123456,"
                  "1677-09-21T00:12:43.145224192Z\n"
                  "1970-01-01T00:00:00,1969-12-31T23:59:59.999Z,1970-01-01T00:00:00.000000,"
                  "2262-04-11T23:47:16.854775807Z\n"
                  "292277026596-12-04T15:30:07,1970-01-01T00:00:00.000Z,"
                  "1969-12-31T23:59:59.999999,\n");
    tbl_free(&t);
}

TEST(test_print_durations_and_intervals)
{
    struct tbl t;
    int64_t dur[] = {-5, 123};
    int32_t months[] = {14, -1};
    int32_t dt[] = {3, -500, 0, 0};
    uint8_t mdn[32] = {0};
    int32_t m = 1, dd = -2;
    int64_t nsv = 3000000000;
    memcpy(mdn, &m, 4);
    memcpy(mdn + 4, &dd, 4);
    memcpy(mdn + 8, &nsv, 8);
    tbl_init(&t, 4, 2);
    fld(t.s.children[0], "tDs", "dur", 0);
    fld(t.s.children[1], "tiM", "ym", 0);
    fld(t.s.children[2], "tiD", "dt", 0);
    fld(t.s.children[3], "tin", "mdn", 0);
    fixed(t.b.children[0], 2, dur, 8, NULL);
    fixed(t.b.children[1], 2, months, 4, NULL);
    fixed(t.b.children[2], 2, dt, 8, NULL);
    fixed(t.b.children[3], 2, mdn, 16, "10");
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"dur\":-5,\"ym\":{\"months\":14},\"dt\":{\"days\":3,\"milliseconds\":-500},"
                  "\"mdn\":{\"months\":1,\"days\":-2,\"nanoseconds\":3000000000}}\n"
                  "{\"dur\":123,\"ym\":{\"months\":-1},\"dt\":{\"days\":0,\"milliseconds\":0},"
                  "\"mdn\":null}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1),
                  "dur,ym,dt,mdn\n"
                  "-5,\"{\"\"months\"\":14}\",\"{\"\"days\"\":3,\"\"milliseconds\"\":-500}\","
                  "\"{\"\"months\"\":1,\"\"days\"\":-2,\"\"nanoseconds\"\":3000000000}\"\n"
                  "123,\"{\"\"months\"\":-1}\",\"{\"\"days\"\":0,\"\"milliseconds\"\":0}\",\n");
    tbl_free(&t);
}

/* ---- nested -------------------------------------------------------------------------------- */

TEST(test_print_list_with_sliced_child_and_nulls)
{
    struct tbl t;
    struct ArrowArray *l = one(&t, "+l", 5), *c;
    int32_t child[] = {100, 0, 1, 2, 3, 4, 5};
    int32_t offs[] = {0, 0, 2, 2, 5, 6, 6};
    t.s.children[0]->release(t.s.children[0]);
    fld(t.s.children[0], "+l", "v", 1);
    fld(t.s.children[0]->children[0], "i", "item", 0);
    arr(l, 2, 1, 5);
    l->offset = 1;
    valid(l, "111110");
    offsets32(l, 7, offs);
    c = i32s(l->children[0], 7, child, "1111011");
    c->offset = 1;
    c->length = 6;
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"v\":[0,1]}\n"
                                              "{\"v\":[]}\n"
                                              "{\"v\":[2,null,4]}\n"
                                              "{\"v\":[5]}\n"
                                              "{\"v\":null}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "v\n\"[0,1]\"\n[]\n\"[2,null,4]\"\n[5]\n\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_TABLE, -1), "v\n----------\n[0,1]\n[]\n[2,null,4]\n[5]\nnull\n");
    tbl_free(&t);
}

TEST(test_print_large_and_fixed_size_lists)
{
    struct tbl t;
    struct ArrowArray *ll, *fl;
    int64_t loffs[] = {0, 1, 3, 3};
    int32_t a[] = {7, 8, 9};
    int32_t b[] = {1, 2, 3, 4, 5, 6, 7, 8};
    tbl_init(&t, 2, 3);
    fld(t.s.children[0], "+L", "ll", 1);
    fld(t.s.children[0]->children[0], "i", "item", 0);
    fld(t.s.children[1], "+w:2", "fl", 1);
    fld(t.s.children[1]->children[0], "i", "item", 0);
    ll = arr(t.b.children[0], 2, 1, 3);
    memcpy(buf(ll, 1, sizeof loffs), loffs, sizeof loffs);
    i32s(ll->children[0], 3, a, NULL);
    fl = arr(t.b.children[1], 1, 1, 3);
    fl->offset = 1; /* rows are the pairs 2, 3, 4 of the child */
    valid(fl, "1101");
    i32s(fl->children[0], 8, b, "11111101");
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"ll\":[7],\"fl\":[3,4]}\n"
                                              "{\"ll\":[8,9],\"fl\":null}\n"
                                              "{\"ll\":[],\"fl\":[null,8]}\n");
    tbl_free(&t);
}

TEST(test_print_struct_with_offset_and_nulls)
{
    struct tbl t;
    struct ArrowArray *st = one(&t, "+s", 3);
    struct ArrowSchema *ss = t.s.children[0];
    int16_t x[] = {9, 1, 2, 3};
    static const char *const y[] = {"z", "a", "b", "c"};
    ss->release(ss);
    fld(ss, "+s", "v", 2);
    fld(ss->children[0], "s", "x", 0);
    fld(ss->children[1], "u", "y", 0);
    arr(st, 1, 2, 3);
    st->offset = 1;
    valid(st, "1110");
    fixed(st->children[0], 4, x, 2, "1101");
    strs(st->children[1], 4, y, false);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"v\":{\"x\":1,\"y\":\"a\"}}\n"
                                              "{\"v\":{\"x\":null,\"y\":\"b\"}}\n"
                                              "{\"v\":null}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "v\n"
                                             "\"{\"\"x\"\":1,\"\"y\"\":\"\"a\"\"}\"\n"
                                             "\"{\"\"x\"\":null,\"\"y\"\":\"\"b\"\"}\"\n"
                                             "\n");
    tbl_free(&t);
}

TEST(test_print_map_as_key_value_objects)
{
    struct tbl t;
    struct ArrowArray *m = one(&t, "+m", 3), *e;
    struct ArrowSchema *ms = t.s.children[0];
    static const char *const keys[] = {"a", "b", "c"};
    int64_t vals[] = {1, 0, 3};
    int32_t offs[] = {0, 2, 2, 3};
    ms->release(ms);
    ik__schema_alloc(ms, "+m", "v", NULL, ARROW_FLAG_NULLABLE, 1);
    ik__schema_alloc(ms->children[0], "+s", "entries", NULL, 0, 2);
    ik__schema_alloc(ms->children[0]->children[0], "u", "k", NULL, 0, 0);
    fld(ms->children[0]->children[1], "l", "val", 0);
    arr(m, 2, 1, 3);
    valid(m, "101");
    offsets32(m, 4, offs);
    e = arr(m->children[0], 1, 2, 3);
    strs(e->children[0], 3, keys, false);
    fixed(e->children[1], 3, vals, 8, "101");
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"v\":[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":null}]}\n"
                  "{\"v\":null}\n"
                  "{\"v\":[{\"key\":\"c\",\"value\":3}]}\n");
    tbl_free(&t);
}

TEST(test_print_list_of_struct_of_list)
{
    struct tbl t;
    struct ArrowArray *l = one(&t, "+l", 1), *st, *tags;
    struct ArrowSchema *ls = t.s.children[0];
    int32_t lo[] = {0, 2}, to[] = {0, 1, 3}, x[] = {1, 2};
    static const char *const words[] = {"p", "q", "r\"s"};
    ls->release(ls);
    fld(ls, "+l", "v", 1);
    fld(ls->children[0], "+s", "item", 2);
    fld(ls->children[0]->children[0], "i", "x", 0);
    fld(ls->children[0]->children[1], "+l", "tags", 1);
    fld(ls->children[0]->children[1]->children[0], "u", "item", 0);
    arr(l, 2, 1, 1);
    offsets32(l, 2, lo);
    st = arr(l->children[0], 1, 2, 2);
    i32s(st->children[0], 2, x, NULL);
    tags = arr(st->children[1], 2, 1, 2);
    offsets32(tags, 3, to);
    strs(tags->children[0], 3, words, false);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "{\"v\":[{\"x\":1,\"tags\":[\"p\"]},{\"x\":2,\"tags\":[\"q\",\"r\\\"s\"]}]}\n");
    tbl_free(&t);
}

/* ---- unions, dictionaries, run-end encoding ------------------------------------------------ */

TEST(test_print_sparse_union_with_offset)
{
    struct tbl t;
    struct ArrowArray *u = one(&t, "+us:5,7", 4);
    struct ArrowSchema *us = t.s.children[0];
    int8_t ids[] = {5, 5, 7, 5, 7};
    int32_t a[] = {0, 10, 20, 30, 40};
    static const char *const b[] = {"s0", "s1", "s2", "s3", "s4"};
    us->release(us);
    fld(us, "+us:5,7", "v", 2);
    fld(us->children[0], "i", "a", 0);
    fld(us->children[1], "u", "b", 0);
    arr(u, 1, 2, 4);
    u->offset = 1;
    memcpy(buf(u, 0, 5), ids, 5);
    i32s(u->children[0], 5, a, "11101");
    strs(u->children[1], 5, b, false);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"v\":10}\n{\"v\":\"s2\"}\n{\"v\":null}\n"
                                              "{\"v\":\"s4\"}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "v\n10\ns2\n\ns4\n");
    ids[2] = 6;
    memcpy((void *)u->buffers[0], ids, 5);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "error 1004: column 'v' row 1: undeclared union type id 6");
    tbl_free(&t);
}

TEST(test_print_dense_union_checks_offsets)
{
    struct tbl t;
    struct ArrowArray *u = one(&t, "+ud:0,1", 4);
    struct ArrowSchema *us = t.s.children[0];
    int8_t ids[] = {1, 0, 1, 0};
    int32_t offs[] = {0, 0, 1, 1}, a[] = {7, 8};
    static const char *const b[] = {"x", "y"};
    us->release(us);
    fld(us, "+ud:0,1", "v", 2);
    fld(us->children[0], "i", "a", 0);
    fld(us->children[1], "u", "b", 0);
    arr(u, 2, 2, 4);
    memcpy(buf(u, 0, 4), ids, 4);
    memcpy(buf(u, 1, 16), offs, 16);
    i32s(u->children[0], 2, a, NULL);
    strs(u->children[1], 2, b, false);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"v\":\"x\"}\n{\"v\":7}\n{\"v\":\"y\"}\n"
                                              "{\"v\":8}\n");
    offs[3] = 2;
    memcpy((void *)u->buffers[1], offs, 16);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "error 1004: column 'v' row 3: union child offset 2 out of range (limit 2)");
    tbl_free(&t);
}

TEST(test_print_dictionary_decodes_and_checks_indices)
{
    struct tbl t;
    struct ArrowArray *d, *e;
    int8_t di[] = {2, 0, 0, 1};
    uint32_t ei[] = {0, 1, 0, 1, 1};
    int64_t evals[] = {10, 20};
    static const char *const words[] = {"apple", NULL, "cherry"};
    tbl_init(&t, 2, 4);
    fld(t.s.children[0], "c", "d", 0);
    ik__schema_alloc_dictionary(t.s.children[0]);
    fld(t.s.children[0]->dictionary, "u", NULL, 0);
    fld(t.s.children[1], "I", "e", 0);
    ik__schema_alloc_dictionary(t.s.children[1]);
    fld(t.s.children[1]->dictionary, "l", NULL, 0);
    d = fixed(t.b.children[0], 4, di, 1, "1101");
    ik__array_alloc_dictionary(d);
    strs(d->dictionary, 3, words, false);
    e = fixed(t.b.children[1], 5, ei, 4, NULL);
    e->offset = 1;
    e->length = 4;
    ik__array_alloc_dictionary(e);
    fixed(e->dictionary, 2, evals, 8, NULL);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"d\":\"cherry\",\"e\":20}\n"
                                              "{\"d\":\"apple\",\"e\":10}\n"
                                              "{\"d\":null,\"e\":20}\n"
                                              "{\"d\":null,\"e\":20}\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_TABLE, -1), "d        e\n"
                                               "------  --\n"
                                               "cherry  20\n"
                                               "apple   10\n"
                                               "null    20\n"
                                               "null    20\n");
    di[0] = 3;
    memcpy((void *)d->buffers[1], di, 4);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "error 1004: column 'd' row 0: dictionary index 3 out of range (limit 3)");
    di[0] = -1;
    memcpy((void *)d->buffers[1], di, 4);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "error 1004: column 'd' row 0: dictionary index -1 out of range (limit 3)");
    tbl_free(&t);
}

TEST(test_print_run_end_encoded_logical_values)
{
    struct tbl t;
    struct ArrowArray *r, *vals;
    struct ArrowSchema *rs;
    int32_t ends[] = {2, 3, 6, 8};
    int16_t ends16[] = {1, 8};
    int64_t nums[] = {4, 5};
    static const char *const words[] = {"zz", "a", NULL, "b", "c"};
    tbl_init(&t, 2, 6);
    rs = fld(t.s.children[0], "+r", "r", 2);
    ik__schema_alloc(rs->children[0], "i", "run_ends", NULL, 0, 0);
    fld(rs->children[1], "u", "values", 0);
    rs = fld(t.s.children[1], "+r", "n", 2);
    ik__schema_alloc(rs->children[0], "s", "run_ends", NULL, 0, 0);
    fld(rs->children[1], "l", "values", 0);
    r = arr(t.b.children[0], 0, 2, 6);
    r->offset = 2; /* logical slots 2..7 */
    i32s(r->children[0], 4, ends, NULL);
    vals = strs(r->children[1], 5, words, false);
    vals->offset = 1;
    vals->length = 4;
    r = arr(t.b.children[1], 0, 2, 8);
    fixed(r->children[0], 2, ends16, 2, NULL);
    fixed(r->children[1], 2, nums, 8, NULL);
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "r,n\n,4\nb,5\nb,5\nb,5\nc,5\nc,5\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_TABLE, 2), "r     n\n----  -\nnull  4\nb     5\n");
    ends[3] = 7; /* the last run ends before the array does */
    memcpy((void *)t.b.children[0]->children[0]->buffers[1], ends, 16);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "error 1004: column 'r' row 5: run for slot 7 out of range (limit 4)");
    tbl_free(&t);
}

/* ---- batches, slicing, limits ------------------------------------------------------------- */

TEST(test_print_sliced_batch_and_columns)
{
    struct tbl t;
    int32_t n[] = {0, 1, 2, 3, 4, 5};
    static const char *const s[] = {"a", "b", "c", "d"};
    struct ArrowArray *c;
    tbl_init(&t, 2, 2);
    t.b.offset = 2;
    fld(t.s.children[0], "i", "n", 0);
    fld(t.s.children[1], "u", "s", 0);
    c = i32s(t.b.children[0], 6, n, "111011");
    c->offset = 1;
    c->length = 5;
    strs(t.b.children[1], 4, s, false);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "{\"n\":null,\"s\":\"c\"}\n{\"n\":4,\"s\":\"d\"}\n");
    tbl_free(&t);
}

/* Three batches of an int32 column n: 0..2, 3..5, 6..8. */
static const char *three_batches(enum ik_print_format fmt, int64_t limit, bool *done)
{
    struct tbl t[3];
    const struct ArrowArray *b[3];
    struct ik_error err = {{0}};
    struct ik_printer *p = NULL;
    const char *r;
    int i;
    for (i = 0; i < 3; i++) {
        int32_t v[3] = {3 * i, 3 * i + 1, 3 * i + 2};
        tbl_init(&t[i], 1, 3);
        fld(t[i].s.children[0], "i", "n", 0);
        i32s(t[i].b.children[0], 3, v, NULL);
        b[i] = &t[i].b;
    }
    r = run_batches(&t[0].s, b, 3, fmt, limit);
    if (done) { /* the same again, feeding every batch, to see done() */
        FILE *f = fopen("/dev/null", "w");
        ik_printer_create(f, &t[0].s, fmt, limit, &p, &err);
        for (i = 0; i < 3; i++)
            ik_printer_batch(p, b[i], &err);
        *done = ik_printer_done(p);
        ik_printer_destroy(p);
        fclose(f);
    }
    for (i = 0; i < 3; i++)
        tbl_free(&t[i]);
    return r;
}

TEST(test_print_limit_across_batches)
{
    bool done = false;
    ASSERT_STR_EQ(three_batches(IK_PRINT_JSON, 5, &done),
                  "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
    ASSERT_TRUE(done);
    ASSERT_STR_EQ(three_batches(IK_PRINT_CSV, -1, &done), "n\n0\n1\n2\n3\n4\n5\n6\n7\n8\n");
    ASSERT_TRUE(!done);
    ASSERT_STR_EQ(three_batches(IK_PRINT_CSV, 0, &done), "n\n");
    ASSERT_TRUE(done);
    ASSERT_STR_EQ(three_batches(IK_PRINT_TABLE, 4, NULL), "n\n-\n0\n1\n2\n3\n");
    ASSERT_STR_EQ(three_batches(IK_PRINT_JSON, 0, NULL), "");
    ASSERT_STR_EQ(three_batches(IK_PRINT_CSV, 9, &done), "n\n0\n1\n2\n3\n4\n5\n6\n7\n8\n");
    ASSERT_TRUE(done);
}

TEST(test_print_empty_batch_prints_headers)
{
    struct tbl t;
    tbl_init(&t, 2, 0);
    fld(t.s.children[0], "l", "count", 0);
    fld(t.s.children[1], "u", "name", 0);
    arr(t.b.children[0], 2, 0, 0);
    arr(t.b.children[1], 3, 0, 0);
    ASSERT_STR_EQ(run(&t, IK_PRINT_TABLE, -1), "count  name\n-----  ----\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_CSV, -1), "count,name\n");
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1), "");
    tbl_free(&t);
}

/* ---- the table ------------------------------------------------------------------------------ */

TEST(test_print_table_aligns_truncates_and_escapes)
{
    struct tbl t;
    int64_t id[] = {1, -333, 0};
    static const char *const name[] = {"short", "0123456789012345678901234567890123456789XYZ",
                                       "tab\there"};
    static const char *const wide[] = {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "e\xcc\x81", NULL};
    int64_t amount[] = {150, -5, 12345};
    uint8_t dec[3 * 16];
    int i;
    for (i = 0; i < 3; i++) {
        memset(dec + 16 * i, amount[i] < 0 ? 0xff : 0, 16);
        memcpy(dec + 16 * i, &amount[i], 8);
    }
    tbl_init(&t, 4, 3);
    fld(t.s.children[0], "l", "id", 0);
    fld(t.s.children[1], "u", "name", 0);
    fld(t.s.children[2], "u", "wide", 0);
    fld(t.s.children[3], "d:5,2", "amount", 0);
    fixed(t.b.children[0], 3, id, 8, "110");
    strs(t.b.children[1], 3, name, false);
    strs(t.b.children[2], 3, wide, false);
    fixed(t.b.children[3], 3, dec, 16, NULL);
    ASSERT_STR_EQ(run(&t, IK_PRINT_TABLE, -1),
                  "  id  name                                      wide    amount\n"
                  "----  ----------------------------------------  ------  ------\n"
                  "   1  short                                     "
                  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e    1.50\n"
                  "-333  012345678901234567890123456789012345678\xe2\x80\xa6  e\xcc\x81        "
                  "-0.05\n"
                  "null  tab\\there                                 null    123.45\n");
    tbl_free(&t);
}

TEST(test_print_table_keeps_widths_after_first_thousand_rows)
{
    struct tbl t;
    int64_t v[1001];
    const char *r;
    int i;
    for (i = 0; i < 1001; i++)
        v[i] = i;
    fixed(one(&t, "l", 1001), 1001, v, 8, NULL);
    r = run(&t, IK_PRINT_TABLE, -1);
    ASSERT_TRUE(strncmp(r, "  v\n---\n  0\n  1\n", 16) == 0);
    ASSERT_TRUE(strstr(r, "\n 99\n100\n") != NULL);
    ASSERT_STR_EQ(r + strlen(r) - 9, "999\n1000\n");
    tbl_free(&t);
}

/* ---- errors ------------------------------------------------------------------------------- */

TEST(test_print_rejects_unrenderable_types_and_bad_batches)
{
    struct tbl t;
    struct ik_error err = {{0}};
    struct ik_printer *p = NULL;
    struct ArrowSchema s;
    struct ArrowArray b;
    int32_t v[] = {1, 2, 3};
    i32s(one(&t, "i", 3), 3, v, NULL);
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, 1);
    fld(s.children[0], "+vl", "lv", 1);
    fld(s.children[0]->children[0], "i", "item", 0);
    ASSERT_FAILS(ik_printer_create(stdout, &s, IK_PRINT_JSON, -1, &p, &err), EINVAL, &err,
                 "field 'lv': cannot render type '+vl'");
    s.release(&s);
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, 1);
    fld(s.children[0], "g", "x", 0);
    ik__schema_alloc_dictionary(s.children[0]);
    fld(s.children[0]->dictionary, "u", NULL, 0);
    ASSERT_FAILS(ik_printer_create(stdout, &s, IK_PRINT_JSON, -1, &p, &err), EINVAL, &err,
                 "dictionary index type double is not an integer");
    s.release(&s);
    ASSERT_FAILS(ik_printer_create(stdout, t.s.children[0], IK_PRINT_JSON, -1, &p, &err), EINVAL,
                 &err, "a batch schema is a struct");
    ASSERT_OK(ik_printer_create(stdout, &t.s, IK_PRINT_JSON, -1, &p, &err), &err);
    arr(&b, 1, 2, 3);
    ASSERT_FAILS(ik_printer_batch(p, &b, &err), EINVAL, &err, "batch has 2 columns, schema 1");
    b.release(&b);
    arr(&b, 1, 1, 3);
    arr(b.children[0], 2, 0, 3); /* no data buffer */
    ASSERT_FAILS(ik_printer_batch(p, &b, &err), IK_EINVALID, &err,
                 "column 'v': int32 array of nonzero length lacks buffer 1");
    b.release(&b);
    arr(&b, 1, 1, 4);
    i32s(b.children[0], 3, v, NULL);
    ASSERT_FAILS(ik_printer_batch(p, &b, &err), IK_EINVALID, &err,
                 "column 'v' has 3 rows, batch 4");
    b.release(&b);
    ik_printer_destroy(p);
    tbl_free(&t);
}

TEST(test_print_rejects_list_range_outside_child)
{
    struct tbl t;
    struct ArrowArray *l = one(&t, "+l", 1);
    int32_t offs[] = {0, 9}, v[] = {1, 2, 3};
    t.s.children[0]->release(t.s.children[0]);
    fld(t.s.children[0], "+l", "v", 1);
    fld(t.s.children[0]->children[0], "i", "item", 0);
    arr(l, 2, 1, 1);
    offsets32(l, 2, offs);
    i32s(l->children[0], 3, v, NULL);
    ASSERT_STR_EQ(run(&t, IK_PRINT_JSON, -1),
                  "error 1004: column 'v' row 0: list range [0, 9) outside child of 3");
    tbl_free(&t);
}

TEST(test_print_reports_write_failure_as_eio)
{
    struct tbl t;
    struct ik_error err = {{0}};
    struct ik_printer *p = NULL;
    int32_t v[] = {1, 2, 3};
    FILE *f = fopen("/dev/full", "w");
    if (f == NULL)
        return; /* no /dev/full here */
    i32s(one(&t, "i", 3), 3, v, NULL);
    ASSERT_OK(ik_printer_create(f, &t.s, IK_PRINT_CSV, -1, &p, &err), &err);
    ASSERT_OK(ik_printer_batch(p, &t.b, &err), &err);
    ASSERT_FAILS(ik_printer_finish(p, &err), EIO, &err, "writing output");
    ik_printer_destroy(p);
    fclose(f);
    tbl_free(&t);
}

/* Offsets that go backwards or past the array's last offset (a damaged snapshot read without
 * full validation): an error naming the row, never a read outside the data. */
TEST(test_print_rejects_string_offsets_out_of_order)
{
    struct tbl t;
    static const char *const v[] = {"abc", "de", "f"};
    struct ArrowArray *a = strs(one(&t, "u", 3), 3, v, false);
    int32_t *off = (int32_t *)(uintptr_t)a->buffers[1];
    off[2] = 1; /* row 1: [3, 1) */
    ASSERT_TRUE(strstr(run(&t, IK_PRINT_JSON, -1), "error 1004: column 'v' row 1") != NULL);
    ASSERT_TRUE(strstr(run(&t, IK_PRINT_TABLE, -1), "bad value range [3, 1)") != NULL);
    off[2] = 1 << 30; /* row 1 ends far past the data, row 2 starts there */
    ASSERT_TRUE(strstr(run(&t, IK_PRINT_CSV, -1), "error 1004: column 'v' row 1") != NULL);
    tbl_free(&t);
}
