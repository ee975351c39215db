/* Tests of the `node` column wrapper (lib/flight/node_column.c): the wrapped stream's schema
 * gains a last field `node` (dictionary<int8, utf8> not null), every batch passes full
 * validation with every row's node set, the wrapped columns are the very same buffers, sliced
 * batches keep their offset, and the Flight encoder sends it and decodes back equal. */
#include <stdlib.h>
#include <string.h>

#include "batch_eq.h"
#include "flight/flight.h"
#include "flight/node_column.h"
#include "ik_test.h"
#include "ipfskit/snapshot.h"
#include "query_fixture.h"

/* A stream of one fixture batch. */
static void fx_stream(bool sliced, struct ArrowArrayStream *out)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_error err;
    fx_mixed(sliced, &s, &b);
    ASSERT_OK(ik_batch_stream(&s, &b, out, &err), &err);
}

static void check_wrapped(bool sliced)
{
    struct ArrowArrayStream in, out;
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_error err;
    int batches = 0;
    fx_stream(sliced, &in);
    ASSERT_OK(ik_flight_add_node_column(&in, "node-7", &out, &err), &err);
    ASSERT_TRUE(in.release == NULL); /* moved */
    ASSERT_EQ(out.get_schema(&out, &s), 0);
    ASSERT_EQ(s.n_children, 11);
    ASSERT_STR_EQ(s.children[10]->name, "node");
    ASSERT_STR_EQ(s.children[10]->format, "c");
    ASSERT_EQ(s.children[10]->flags & ARROW_FLAG_NULLABLE, 0);
    ASSERT_STR_EQ(s.children[10]->dictionary->format, "u");
    ASSERT_STR_EQ(s.children[0]->name, "id");
    while (out.get_next(&out, &b) == 0 && b.release) {
        char **lines = NULL;
        int64_t n = 0;
        ASSERT_EQ(b.n_children, 11);
        ASSERT_EQ(b.offset, sliced ? 1 : 0);
        ASSERT_OK(ik_array_validate(&s, &b, IK_VALIDATE_FULL, true, &err), &err);
        ASSERT_EQ(fx_render(&s, &b, &lines, &n), 0);
        ASSERT_EQ(n, MIX_ROWS);
        for (int64_t i = 0; i < n; i++)
            ASSERT_TRUE(strstr(lines[i], "\"node\":\"node-7\"") != NULL);
        ASSERT_TRUE(strstr(lines[0], "\"id\":0") != NULL); /* the row under the offset */
        fx_free_lines(lines, n);
        b.release(&b);
        batches++;
    }
    ASSERT_EQ(batches, 1);
    s.release(&s);
    out.release(&out);
}

TEST(test_flight_node_column_added_to_every_batch)
{
    check_wrapped(false);
}

TEST(test_flight_node_column_keeps_a_sliced_batch_offset)
{
    check_wrapped(true);
}

TEST(test_flight_node_column_goes_through_the_flight_encoder)
{
    struct ArrowArrayStream in, out;
    struct ArrowSchema s, s2 = {0};
    struct ArrowArray b, b2 = {0};
    struct ik_flight_encoder *e = NULL;
    struct ik_ipc_reader *r = NULL;
    struct ik_read_options o;
    struct ik_error err;
    char why[256];
    fx_stream(false, &in);
    ASSERT_OK(ik_flight_add_node_column(&in, "n1", &out, &err), &err);
    ASSERT_EQ(out.get_schema(&out, &s), 0);
    ASSERT_EQ(out.get_next(&out, &b), 0);
    ASSERT_OK(ik_flight_encoder_create(&s, NULL, 0, NULL, &e, &err), &err);
    ASSERT_OK(ik_flight_encoder_write(e, &b, &err), &err);
    ik_read_options_init(&o);
    ASSERT_OK(ik_ipc_reader_create(&o, &r, &err), &err);
    for (grpc_byte_buffer *bb; (bb = ik_flight_encoder_next(e)) != NULL;) {
        uint8_t *p = NULL;
        size_t len = 0;
        struct ik_flight_data d;
        ASSERT_OK(ik_flight_bb_read(bb, 1u << 30, &p, &len, &err), &err);
        ASSERT_OK(ik_flight_data_parse(p, len, &d, &err), &err);
        ASSERT_OK(ik_flight_data_feed(r, &d, &err), &err);
        free(p);
        grpc_byte_buffer_destroy(bb);
    }
    ASSERT_OK(ik_ipc_reader_finish(r, &err), &err);
    ASSERT_OK(ik_ipc_reader_next(r, &b2, &err), &err);
    ASSERT_OK(ik_schema_copy(ik_ipc_reader_schema(r), &s2, &err), &err);
    ASSERT_TRUE(ik_test_batch_equal(&s, &b, &b2, why, sizeof why));
    ik_ipc_reader_destroy(r);
    ik_flight_encoder_destroy(e);
    b2.release(&b2);
    s2.release(&s2);
    b.release(&b);
    s.release(&s);
    out.release(&out);
}

TEST(test_flight_node_column_refuses_an_empty_name)
{
    struct ArrowArrayStream in, out;
    struct ik_error err;
    fx_stream(false, &in);
    ASSERT_FAILS(ik_flight_add_node_column(&in, "", &out, &err), EINVAL, &err, "empty node");
    ASSERT_TRUE(in.release == NULL && out.release == NULL);
}
