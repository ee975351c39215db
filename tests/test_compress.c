/* Buffer compression for the IPC writer: frames that shrink are kept and decompress equal,
 * buffers that do not shrink are stored raw (length -1), and LZ4 gives up early on a large
 * buffer whose first 256 KiB do not shrink. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ik_test.h"

/* Random bytes (xorshift) from `at` on, zeros before. */
static uint8_t *noisy(size_t n, size_t from, size_t to)
{
    uint8_t *p = calloc(1, n);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    size_t i;
    for (i = from; p && i < to; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* Frames src with codec c; *raw tells whether it was stored raw; compressed frames must
 * decompress to src. */
static int frame_of(enum ik_compression c, const uint8_t *src, size_t n, bool *raw)
{
    struct ik__zctx z = {NULL, NULL};
    struct ik_error err;
    size_t cap = ik__compress_bound(c, n), written = 0;
    uint8_t *dst = malloc(cap), *back = malloc(n ? n : 1);
    int64_t len = 0;
    int rc = dst && back ? 0 : ENOMEM;
    if (rc == 0)
        rc = ik__compress_buffer(&z, c, 0, src, n, dst, cap, &written, raw, &err);
    if (rc == 0 && *raw && written != 8 + n)
        rc = EIO;
    if (rc == 0 && !*raw &&
        ((rc = ik__decompressed_size(c, dst, written, INT64_MAX, &len, &err)) != 0 ||
         len != (int64_t)n || (rc = ik__decompress_buffer(c, dst, written, back, n, &err)) != 0 ||
         memcmp(back, src, n) != 0))
        rc = rc ? rc : EIO;
    ik__zctx_free(&z);
    free(dst);
    free(back);
    return rc;
}

TEST(test_compress_keeps_what_shrinks_and_stores_the_rest_raw)
{
    enum ik_compression codecs[2] = {IK_COMPRESSION_LZ4, IK_COMPRESSION_ZSTD};
    size_t big = (size_t)2 << 20;
    uint8_t *zeros = noisy(big, 0, 0), *random = noisy(big, 0, big);
    uint8_t *late = noisy(big, 0, (size_t)256 << 10);    /* noise first, zeros after */
    uint8_t *early = noisy(big, (size_t)256 << 10, big); /* zeros first, noise after */
    bool raw;
    int i;
    ASSERT_TRUE(zeros && random && late && early);
    for (i = 0; i < 2; i++) {
        ASSERT_EQ(frame_of(codecs[i], zeros, big, &raw), 0);
        ASSERT_TRUE(!raw);
        ASSERT_EQ(frame_of(codecs[i], random, big, &raw), 0);
        ASSERT_TRUE(raw);
        ASSERT_EQ(frame_of(codecs[i], early, big, &raw), 0);
        ASSERT_TRUE(!raw);
        ASSERT_EQ(frame_of(codecs[i], random, 1000, &raw), 0); /* small: a whole pass */
        ASSERT_TRUE(raw);
        ASSERT_EQ(frame_of(codecs[i], zeros, 1000, &raw), 0);
        ASSERT_TRUE(!raw);
    }
    /* LZ4 judges a large buffer by its first 256 KiB; ZSTD compresses it whole */
    ASSERT_EQ(frame_of(IK_COMPRESSION_LZ4, late, big, &raw), 0);
    ASSERT_TRUE(raw);
    ASSERT_EQ(frame_of(IK_COMPRESSION_ZSTD, late, big, &raw), 0);
    ASSERT_TRUE(!raw);
    /* just under the threshold, LZ4 compresses the whole buffer */
    ASSERT_EQ(frame_of(IK_COMPRESSION_LZ4, late, ((size_t)1 << 20) - 1, &raw), 0);
    ASSERT_TRUE(!raw);
    free(zeros);
    free(random);
    free(late);
    free(early);
}
