/* Full validation's block scans (offsets going down, UTF-8 per value, dictionary indices in
 * range): every bad position is found and named, whether it falls in the vector loop or in
 * its scalar tail, at any array offset, and values under a null are not held to the range. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ik_test.h"

static void no_release(struct ArrowArray *a)
{
    a->release = NULL;
}

/* An array of `n` values at `offset` over caller-owned buffers (n_buffers of them). */
static void view(struct ArrowArray *a, const void **bufs, int64_t n_buffers, int64_t n,
                 int64_t offset, int64_t null_count)
{
    memset(a, 0, sizeof *a);
    a->length = n;
    a->offset = offset;
    a->null_count = null_count;
    a->n_buffers = n_buffers;
    a->buffers = bufs;
    a->release = no_release;
}

static int validate(const char *format, const struct ArrowArray *a, struct ik_error *err)
{
    struct ArrowSchema s;
    int rc;
    if (ik__schema_alloc(&s, format, "x", NULL, ARROW_FLAG_NULLABLE, 0) != 0)
        return ENOMEM;
    rc = ik_array_validate(&s, a, IK_VALIDATE_FULL, true, err);
    s.release(&s);
    return rc;
}

static int validate_dict(const char *index_format, const struct ArrowArray *a, struct ik_error *err)
{
    struct ArrowSchema s;
    int rc;
    if (ik__schema_alloc(&s, index_format, "d", NULL, ARROW_FLAG_NULLABLE, 0) != 0 ||
        ik__schema_alloc_dictionary(&s) != 0 ||
        ik__schema_alloc(s.dictionary, "u", NULL, NULL, ARROW_FLAG_NULLABLE, 0) != 0)
        return ENOMEM;
    rc = ik_array_validate(&s, a, IK_VALIDATE_FULL, true, err);
    s.release(&s);
    return rc;
}

TEST(test_validate_names_every_offset_that_goes_down)
{
    enum { N = 37 };
    int32_t o32[N + 1];
    int64_t o64[N + 1];
    char data[N], want[96];
    struct ik_error err;
    struct ArrowArray a;
    const void *b32[3] = {NULL, o32, data}, *b64[3] = {NULL, o64, data};
    int64_t j, off;
    memset(data, 'a', sizeof data);
    for (off = 0; off < 3; off++) {
        for (j = 0; j <= N; j++) /* value j is one byte; the first `off` values are skipped */
            o32[j] = (int32_t)(o64[j] = j);
        view(&a, b32, 3, N - off, off, 0);
        ASSERT_OK(validate("u", &a, &err), &err);
        view(&a, b64, 3, N - off, off, 0);
        ASSERT_OK(validate("U", &a, &err), &err);
        for (j = off + 1; j < N; j++) { /* offset j below offset j - 1 (the last must hold) */
            o32[j] = (int32_t)(o64[j] = j - 2);
            snprintf(want, sizeof want, "offsets not monotone at index %lld", (long long)(j - off));
            view(&a, b32, 3, N - off, off, 0);
            ASSERT_EQ(validate("u", &a, &err), IK_EINVALID);
            ASSERT_TRUE(strstr(err.message, want) != NULL);
            view(&a, b64, 3, N - off, off, 0);
            ASSERT_EQ(validate("U", &a, &err), IK_EINVALID);
            ASSERT_TRUE(strstr(err.message, want) != NULL);
            o32[j] = (int32_t)(o64[j] = j);
        }
    }
}

/* Values of 70 ASCII bytes (past one 64-byte step), one of them holding `bad` at `at`. */
static int utf8_case(int64_t n, int64_t which, const char *bad, size_t at, struct ik_error *err)
{
    enum { LEN = 70 };
    int32_t *o = malloc((size_t)(n + 1) * sizeof *o);
    char *data = malloc((size_t)(n * LEN));
    const void *bufs[3] = {NULL, o, data};
    struct ArrowArray a;
    int64_t j;
    int rc;
    memset(data, 'x', (size_t)(n * LEN));
    for (j = 0; j <= n; j++)
        o[j] = (int32_t)(j * LEN);
    if (bad)
        memcpy(data + which * LEN + at, bad, strlen(bad));
    view(&a, bufs, 3, n, 0, 0);
    rc = validate("u", &a, err);
    free(o);
    free(data);
    return rc;
}

TEST(test_validate_utf8_after_long_ascii)
{
    struct ik_error err;
    /* all ASCII, and valid multi-byte characters after 64 bytes of ASCII and at the ends */
    ASSERT_OK(utf8_case(300, 0, NULL, 0, &err), &err);
    ASSERT_OK(utf8_case(300, 299, "\xc3\xa9", 66, &err), &err);
    ASSERT_OK(utf8_case(300, 5, "\xf0\x9f\x98\x80", 0, &err), &err);
    ASSERT_OK(utf8_case(300, 256, "\xe2\x82\xac", 67, &err), &err);
    /* a value starting with a continuation byte, in a range whose bytes scan valid together */
    ASSERT_EQ(utf8_case(300, 7, "\xc3\xa9", 69, &err), IK_EINVALID);
    ASSERT_TRUE(strstr(err.message, "invalid UTF-8 at index 7 (byte 69 of the value)") != NULL);
    /* broken sequences after the ASCII prefix, in the first and in the second block of 256 */
    ASSERT_EQ(utf8_case(300, 3, "\xc3x", 65, &err), IK_EINVALID);
    ASSERT_TRUE(strstr(err.message, "invalid UTF-8 at index 3 (byte 65 of the value)") != NULL);
    ASSERT_EQ(utf8_case(300, 280, "\x80", 64, &err), IK_EINVALID);
    ASSERT_TRUE(strstr(err.message, "invalid UTF-8 at index 280 (byte 64 of the value)") != NULL);
    ASSERT_EQ(utf8_case(300, 299, "\xed\xa0\x80", 1, &err), IK_EINVALID); /* a surrogate */
    ASSERT_TRUE(strstr(err.message, "invalid UTF-8 at index 299 (byte 1 of the value)") != NULL);
}

TEST(test_validate_dictionary_indices_in_range_nulls_skipped)
{
    enum { N = 41 };
    int8_t i8[N];
    int16_t i16[N];
    uint64_t u64[N];
    uint8_t valid[(N + 7) / 8];
    int32_t doff[4] = {0, 1, 2, 3};
    const char *dchars = "abc";
    const void *dbufs[3] = {NULL, doff, dchars};
    const void *b8[2] = {valid, i8}, *b16[2] = {valid, i16}, *b64[2] = {valid, u64};
    struct ArrowArray a, dict;
    struct ik_error err;
    int64_t j;
    char want[96];
    view(&dict, dbufs, 3, 3, 0, 0);
    memset(valid, 0xFF, sizeof valid);
    for (j = 0; j < N; j++)
        u64[j] = (uint64_t)(i16[j] = i8[j] = (int8_t)(j % 3));
    view(&a, b8, 2, N, 0, 0);
    a.dictionary = &dict;
    ASSERT_OK(validate_dict("c", &a, &err), &err);
    for (j = 0; j < N; j++) {
        /* out of range under a null: valid; without the null: named */
        i8[j] = j % 2 ? 3 : -1;
        i16[j] = (int16_t)(j % 2 ? 3 : -1);
        u64[j] = j % 2 ? 3 : UINT64_MAX;
        valid[j / 8] = (uint8_t)(valid[j / 8] & ~(1u << (j % 8)));
        view(&a, b8, 2, N, 0, 1);
        a.dictionary = &dict;
        ASSERT_OK(validate_dict("c", &a, &err), &err);
        view(&a, b16, 2, N, 0, 1);
        a.dictionary = &dict;
        ASSERT_OK(validate_dict("s", &a, &err), &err);
        view(&a, b64, 2, N, 0, 1);
        a.dictionary = &dict;
        ASSERT_OK(validate_dict("L", &a, &err), &err);
        valid[j / 8] = (uint8_t)(valid[j / 8] | (1u << (j % 8)));
        snprintf(want, sizeof want, "dictionary index %d at index %lld out of range [0, 3)",
                 j % 2 ? 3 : -1, (long long)j);
        view(&a, b8, 2, N, 0, 0);
        a.dictionary = &dict;
        ASSERT_EQ(validate_dict("c", &a, &err), IK_EINVALID);
        ASSERT_TRUE(strstr(err.message, want) != NULL);
        view(&a, b16, 2, N, 0, 0);
        a.dictionary = &dict;
        ASSERT_EQ(validate_dict("s", &a, &err), IK_EINVALID);
        ASSERT_TRUE(strstr(err.message, want) != NULL);
        view(&a, b64, 2, N, 0, 0);
        a.dictionary = &dict;
        ASSERT_EQ(validate_dict("L", &a, &err), IK_EINVALID);
        ASSERT_TRUE(j % 2 ? strstr(err.message, want) != NULL
                          : strstr(err.message, "above INT64_MAX") != NULL);
        u64[j] = (uint64_t)(i16[j] = i8[j] = (int8_t)(j % 3));
    }
}
