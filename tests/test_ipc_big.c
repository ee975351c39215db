/* Tests of compressed messages large enough for the writer's mapped compression block (4 MiB
 * and more): a small, a large and a larger batch in turn (the block moves from the heap to a
 * mapping and grows), read back equal, with both codecs. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ik_test.h"
#include "store_testutil.h"

/* one int64 column of n values: i * 7919 % 100003, compressible but not trivially */
static void make_batch(struct ArrowArray *b, int64_t n)
{
    struct ik_buffer *buf;
    uint8_t *p;
    int64_t i;
    ik__array_alloc(b, 1, 1);
    b->length = n;
    ik__array_alloc(b->children[0], 2, 0);
    b->children[0]->length = n;
    ASSERT_EQ(ik_buffer_alloc((size_t)n * 8, &buf, &p), 0);
    for (i = 0; i < n; i++)
        ((int64_t *)(void *)p)[i] = i * 7919 % 100003;
    b->children[0]->buffers[1] = p;
    ik__array_hold(b->children[0], buf);
    ik_buffer_unref(buf);
}

static void round_trip(enum ik_compression c)
{
    static const int64_t rows[3] = {1000, 700000, 1500000}; /* 8 KB, 5.6 MB, 12 MB */
    struct ArrowSchema s;
    struct ArrowArray b, got;
    struct ik_write_options o;
    struct ik_ipc_writer *w;
    struct ik_ipc_reader *r;
    struct ik_error err;
    struct ik_test_sink out = {0};
    int k;
    ik__schema_alloc(&s, "+s", "", NULL, 0, 1);
    ik__schema_alloc(s.children[0], "l", "v", NULL, 0, 0);
    ik_write_options_init(&o);
    o.compression = c;
    ASSERT_OK(ik_ipc_writer_create(&s, &o, ik_test_sink_write, &out, &w, &err), &err);
    for (k = 0; k < 3; k++) {
        make_batch(&b, rows[k]);
        ASSERT_OK(ik_ipc_writer_write(w, &b, &err), &err);
        b.release(&b);
    }
    ASSERT_OK(ik_ipc_writer_finish(w, &err), &err);
    ik_ipc_writer_destroy(w);
    ASSERT_TRUE(out.len < (size_t)(rows[0] + rows[1] + rows[2]) * 8); /* compressed */
    ASSERT_OK(ik_ipc_reader_create(NULL, &r, &err), &err);
    ASSERT_OK(ik_ipc_reader_feed(r, out.p, out.len, &err), &err);
    for (k = 0; k < 3; k++) {
        const int64_t *v;
        int64_t i;
        ASSERT_OK(ik_ipc_reader_next(r, &got, &err), &err);
        ASSERT_EQ(got.length, rows[k]);
        v = got.children[0]->buffers[1];
        for (i = 0; i < rows[k]; i += 997)
            ASSERT_EQ(v[i], i * 7919 % 100003);
        ASSERT_EQ(v[rows[k] - 1], (rows[k] - 1) * 7919 % 100003);
        got.release(&got);
    }
    ik_ipc_reader_destroy(r);
    s.release(&s);
    free(out.p);
}

TEST(test_ipc_big_compressed_messages_lz4)
{
    round_trip(IK_COMPRESSION_LZ4);
}

TEST(test_ipc_big_compressed_messages_zstd)
{
    round_trip(IK_COMPRESSION_ZSTD);
}
