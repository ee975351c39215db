/* Tests of lib/flight: locations, FlightData encoded and decoded back into the same batch
 * (through gRPC byte buffers), body bytes referenced in the given ranges rather than copied
 * with the owner's references balanced, hostile FlightData protobufs, and the encapsulated
 * schema. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_eq.h"
#include "flight/client.h"
#include "flight/flight.h"
#include "ik_test.h"
#include "ipfskit/query.h"
#include "query_fixture.h"

TEST(test_flight_location_parses_unix_and_tcp)
{
    struct ik_flight_location l;
    struct ik_error err;
    char buf[300];
    ASSERT_OK(ik_flight_location_parse("grpc+unix:///tmp/x/flight.sock", &l, &err), &err);
    ASSERT_EQ(l.scheme, IK_FLIGHT_UNIX);
    ASSERT_STR_EQ(l.path, "/tmp/x/flight.sock");
    ASSERT_TRUE(ik_flight_location_is_local(&l));
    ASSERT_OK(ik_flight_location_target(&l, buf, sizeof buf), &err);
    ASSERT_STR_EQ(buf, "unix:/tmp/x/flight.sock");
    ASSERT_OK(ik_flight_location_parse("grpc+tcp://127.0.0.1:8815", &l, &err), &err);
    ASSERT_EQ(l.scheme, IK_FLIGHT_TCP);
    ASSERT_STR_EQ(l.host, "127.0.0.1");
    ASSERT_EQ(l.port, 8815);
    ASSERT_TRUE(ik_flight_location_is_local(&l));
    ASSERT_OK(ik_flight_location_parse("grpc://[::1]:0", &l, &err), &err);
    ASSERT_STR_EQ(l.host, "::1");
    ASSERT_EQ(l.port, 0);
    ASSERT_OK(ik_flight_location_target(&l, buf, sizeof buf), &err);
    ASSERT_STR_EQ(buf, "[::1]:0");
    ASSERT_OK(ik_flight_location_uri(&l, buf, sizeof buf), &err);
    ASSERT_STR_EQ(buf, "grpc+tcp://[::1]:0");
    ASSERT_OK(ik_flight_location_parse("grpc+tcp://node2.example:8815", &l, &err), &err);
    ASSERT_TRUE(!ik_flight_location_is_local(&l));
    ASSERT_OK(ik_flight_location_parse("grpc+tcp://127.0.0.1.evil:1", &l, &err), &err);
    ASSERT_TRUE(!ik_flight_location_is_local(&l));
}

TEST(test_flight_location_rejects_bad_uris)
{
    struct ik_flight_location l;
    struct ik_error err;
    ASSERT_FAILS(ik_flight_location_parse("http://x:1", &l, &err), EINVAL, &err, "scheme");
    ASSERT_FAILS(ik_flight_location_parse("grpc+tcp://host", &l, &err), EINVAL, &err, "no port");
    ASSERT_FAILS(ik_flight_location_parse("grpc+tcp://h:70000", &l, &err), EINVAL, &err, "port");
    ASSERT_FAILS(ik_flight_location_parse("grpc+tcp://h:8x", &l, &err), EINVAL, &err, "port");
    ASSERT_FAILS(ik_flight_location_parse("grpc+tcp://:1", &l, &err), EINVAL, &err, "bad host");
    ASSERT_FAILS(ik_flight_location_parse("grpc+tcp://a/b:1", &l, &err), EINVAL, &err, "host");
    ASSERT_FAILS(ik_flight_location_parse("grpc+unix://rel.sock", &l, &err), EINVAL, &err,
                 "absolute");
    ASSERT_FAILS(ik_flight_location_parse("grpc+tls://h", &l, &err), EINVAL, &err, "no port");
    ASSERT_FAILS(ik_flight_location_parse("grpc+tls://a@b:1", &l, &err), EINVAL, &err, "host");
}

TEST(test_flight_location_parses_tls)
{
    struct ik_flight_location l;
    struct ik_error err;
    char buf[300];
    ASSERT_OK(ik_flight_location_parse("grpc+tls://127.0.0.1:8815", &l, &err), &err);
    ASSERT_EQ(l.scheme, IK_FLIGHT_TLS);
    ASSERT_STR_EQ(l.host, "127.0.0.1");
    ASSERT_EQ(l.port, 8815);
    ASSERT_TRUE(ik_flight_location_is_local(&l));
    ASSERT_OK(ik_flight_location_target(&l, buf, sizeof buf), &err);
    ASSERT_STR_EQ(buf, "127.0.0.1:8815");
    ASSERT_OK(ik_flight_location_uri(&l, buf, sizeof buf), &err);
    ASSERT_STR_EQ(buf, "grpc+tls://127.0.0.1:8815");
    ASSERT_OK(ik_flight_location_parse("GRPC+TLS://[::1]:0", &l, &err), &err);
    ASSERT_EQ(l.scheme, IK_FLIGHT_TLS);
    ASSERT_OK(ik_flight_location_uri(&l, buf, sizeof buf), &err);
    ASSERT_STR_EQ(buf, "grpc+tls://[::1]:0");
    ASSERT_OK(ik_flight_location_parse("grpc+tls://node2.example:8815", &l, &err), &err);
    ASSERT_TRUE(!ik_flight_location_is_local(&l));
}

struct owner_count {
    atomic_int refs, unrefs;
};

static void count_ref(void *ctx)
{
    atomic_fetch_add(&((struct owner_count *)ctx)->refs, 1);
}

static void count_unref(void *ctx)
{
    atomic_fetch_add(&((struct owner_count *)ctx)->unrefs, 1);
}

/* Decodes every message of `bbs` with a stream reader into one batch. */
static int decode_all(grpc_byte_buffer **bbs, size_t n, struct ArrowArray *out,
                      struct ArrowSchema *schema_out, struct ik_error *err)
{
    struct ik_ipc_reader *r = NULL;
    struct ik_read_options o;
    int rc;
    ik_read_options_init(&o);
    if ((rc = ik_ipc_reader_create(&o, &r, err)) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t *p = NULL;
        size_t len = 0;
        struct ik_flight_data d;
        rc = ik_flight_bb_read(bbs[i], 1u << 30, &p, &len, err);
        if (rc == 0)
            rc = ik_flight_data_parse(p, len, &d, err);
        if (rc == 0)
            rc = ik_flight_data_feed(r, &d, err);
        free(p);
    }
    if (rc == 0)
        rc = ik_ipc_reader_finish(r, err);
    if (rc == 0)
        rc = ik_ipc_reader_next(r, out, err);
    if (rc == 0)
        rc = ik_schema_copy(ik_ipc_reader_schema(r), schema_out, err);
    ik_ipc_reader_destroy(r);
    return rc;
}

TEST(test_flight_data_round_trips_and_references_ranges)
{
    struct ArrowSchema s, s2 = {0};
    struct ArrowArray b, b2 = {0};
    struct ik_flight_encoder *e = NULL;
    struct owner_count oc = {0};
    struct ik_flight_owner owner = {count_ref, count_unref, &oc};
    struct ik_error err;
    grpc_byte_buffer *bbs[16];
    size_t n = 0;
    int64_t referenced, copied;
    char why[256];
    fx_pins(1000, &s, &b);
    /* the cid column's characters are "mapped": they must go out as references */
    const struct ArrowArray *cid = b.children[0];
    int32_t cid_len = ((const int32_t *)cid->buffers[1])[cid->length];
    struct ik_flight_range r = {cid->buffers[2], (size_t)cid_len};
    ASSERT_OK(ik_flight_encoder_create(&s, &r, 1, &owner, &e, &err), &err);
    ASSERT_OK(ik_flight_encoder_write(e, &b, &err), &err);
    for (grpc_byte_buffer *bb; n < 16 && (bb = ik_flight_encoder_next(e)) != NULL;)
        bbs[n++] = bb;
    ASSERT_EQ(ik_flight_encoder_next(e), 0);
    ASSERT_TRUE(n >= 3); /* schema, the dictionary, the batch */
    ik_flight_encoder_counts(e, &referenced, &copied);
    ASSERT_EQ(referenced, cid_len);
    ASSERT_TRUE(copied > 0);
    ik_flight_encoder_destroy(e);
    ASSERT_TRUE(atomic_load(&oc.refs) > 0);
    ASSERT_OK(decode_all(bbs, n, &b2, &s2, &err), &err);
    for (size_t i = 0; i < n; i++)
        grpc_byte_buffer_destroy(bbs[i]);
    ASSERT_EQ(atomic_load(&oc.refs), atomic_load(&oc.unrefs));
    ASSERT_TRUE(ik_test_batch_equal(&s, &b, &b2, why, sizeof why));
    b2.release(&b2);
    s2.release(&s2);
    b.release(&b);
    s.release(&s);
}

TEST(test_flight_data_of_a_slice_rebases_offsets_into_blocks_of_their_own)
{
    /* rows [1500, 5000) of a batch: the string columns' offsets are rebased by the writer and
     * handed to gRPC as the slices' own blocks (freed with them), not copied again */
    struct ArrowSchema s, s2 = {0};
    struct ArrowArray b, part = {0}, b2 = {0};
    struct ik_flight_encoder *e = NULL;
    struct ik_error err;
    struct ik_query q;
    grpc_byte_buffer *bbs[16];
    size_t n = 0;
    int64_t referenced, copied;
    char why[256];
    fx_pins(5000, &s, &b);
    ik_query_init(&q, "slice");
    q.offset = 1500;
    q.limit = 3500;
    ASSERT_OK(ik_query_apply(&q, &s, &b, NULL, &part, NULL, &err), &err);
    ik_query_reset(&q);
    ASSERT_OK(ik_flight_encoder_create(&s, NULL, 0, NULL, &e, &err), &err);
    ASSERT_OK(ik_flight_encoder_write(e, &part, &err), &err);
    for (grpc_byte_buffer *bb; n < 16 && (bb = ik_flight_encoder_next(e)) != NULL;)
        bbs[n++] = bb;
    ik_flight_encoder_counts(e, &referenced, &copied);
    ASSERT_EQ(referenced, 0);
    ASSERT_TRUE(copied > 3501 * 4); /* at least the cid column's rebased offsets */
    ik_flight_encoder_destroy(e);   /* the messages keep the blocks they hold */
    ASSERT_OK(decode_all(bbs, n, &b2, &s2, &err), &err);
    for (size_t i = 0; i < n; i++)
        grpc_byte_buffer_destroy(bbs[i]);
    ASSERT_TRUE(ik_test_batch_equal(&s, &part, &b2, why, sizeof why));
    b2.release(&b2);
    s2.release(&s2);
    part.release(&part);
    b.release(&b);
    s.release(&s);
}

TEST(test_flight_pool_hands_back_blocks_given_back_and_outlives_its_creator)
{
    struct ik_flight_pool *p = NULL;
    int64_t made, reused;
    ASSERT_EQ(ik_flight_pool_create(1 << 20, &p), 0);
    uint8_t *a = ik_flight_pool_get(p, 300000), *b = ik_flight_pool_get(p, 1000);
    ASSERT_TRUE(a != NULL && b != NULL && a != b);
    memset(a, 0xab, 300000); /* the whole size asked for is there */
    ik_flight_pool_put(a);
    ASSERT_EQ(ik_flight_pool_get(p, 250000), a); /* a smaller need takes the block back */
    ik_flight_pool_put(b);
    ASSERT_EQ(ik_flight_pool_get(p, 500), b); /* the smallest free block that fits */
    ik_flight_pool_counts(p, &made, &reused);
    ASSERT_EQ(made, 2);
    ASSERT_EQ(reused, 2);
    uint8_t *big = ik_flight_pool_get(p, 2 << 20); /* over what the pool keeps */
    ASSERT_TRUE(big != NULL);
    ik_flight_pool_put(big); /* freed, not kept */
    ik_flight_pool_counts(p, &made, &reused);
    ASSERT_EQ(reused, 2);
    ik_flight_pool_release(p); /* blocks still out keep the pool (ASan: no leak, no use after
                                * free when they come back) */
    ik_flight_pool_put(a);
    ik_flight_pool_put(b);
}

TEST(test_flight_data_rebases_offsets_into_pool_blocks_that_come_back)
{
    /* rows [1500, 5000) and then [1000, 4500) of a batch with a pool: the rebased offsets go out
     * in pool blocks that return when gRPC lets go of the messages, and the second encoder
     * rebases into the same blocks; both decode to their rows */
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_flight_pool *pool = NULL;
    struct ik_error err;
    int64_t made = 0, reused = 0, made_first = 0, reused_first = 0;
    char why[256];
    fx_pins(5000, &s, &b);
    ASSERT_EQ(ik_flight_pool_create(8 << 20, &pool), 0);
    for (int round = 0; round < 2; round++) {
        struct ArrowSchema s2 = {0};
        struct ArrowArray part = {0}, b2 = {0};
        struct ik_flight_encoder *e = NULL;
        struct ik_query q;
        grpc_byte_buffer *bbs[16];
        size_t n = 0;
        int64_t referenced, copied;
        ik_query_init(&q, "slice");
        q.offset = round ? 1000 : 1500;
        q.limit = 3500;
        ASSERT_OK(ik_query_apply(&q, &s, &b, NULL, &part, NULL, &err), &err);
        ik_query_reset(&q);
        ASSERT_OK(ik_flight_encoder_create(&s, NULL, 0, NULL, &e, &err), &err);
        ik_flight_encoder_use_pool(e, pool);
        ASSERT_OK(ik_flight_encoder_write(e, &part, &err), &err);
        for (grpc_byte_buffer *bb; n < 16 && (bb = ik_flight_encoder_next(e)) != NULL;)
            bbs[n++] = bb;
        ik_flight_encoder_counts(e, &referenced, &copied);
        ASSERT_TRUE(copied > 3501 * 4);
        ik_flight_encoder_destroy(e);
        ASSERT_OK(decode_all(bbs, n, &b2, &s2, &err), &err);
        for (size_t i = 0; i < n; i++)
            grpc_byte_buffer_destroy(bbs[i]); /* the blocks go back */
        ASSERT_TRUE(ik_test_batch_equal(&s, &part, &b2, why, sizeof why));
        ik_flight_pool_counts(pool, &made, &reused);
        if (round == 0) {
            made_first = made;
            reused_first = reused;
        }
        b2.release(&b2);
        s2.release(&s2);
        part.release(&part);
    }
    ASSERT_TRUE(made_first > 0);
    ASSERT_EQ(made, made_first); /* the second message needed no new block */
    ASSERT_TRUE(reused > reused_first);
    ik_flight_pool_release(pool);
    b.release(&b);
    s.release(&s);
}

TEST(test_flight_schema_bytes_are_an_encapsulated_message)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_error err;
    uint8_t *p = NULL;
    size_t len = 0;
    fx_pins(3, &s, &b);
    ASSERT_OK(ik_flight_schema_bytes(&s, &p, &len, &err), &err);
    ASSERT_TRUE(len > 8 && len % 8 == 0);
    ASSERT_EQ(p[0], 0xff);
    ASSERT_EQ(p[3], 0xff);
    free(p);
    b.release(&b);
    s.release(&s);
}

TEST(test_flight_data_parse_rejects_hostile_protobuf)
{
    struct ik_flight_data d;
    struct ik_error err;
    static const uint8_t past_end[] = {0x12, 0x10, 1, 2};
    static const uint8_t wrong_type[] = {0x10, 0x01};
    static const uint8_t bad_varint[] = {0x12, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t group[] = {0x0b};
    static const uint8_t unknown_ok[] = {0x20, 0x05, 0x12, 0x01, 0x07};
    ASSERT_FAILS(ik_flight_data_parse(past_end, sizeof past_end, &d, &err), IK_EFORMAT, &err,
                 "past the end");
    ASSERT_FAILS(ik_flight_data_parse(wrong_type, sizeof wrong_type, &d, &err), IK_EFORMAT, &err,
                 "wire type");
    ASSERT_FAILS(ik_flight_data_parse(bad_varint, sizeof bad_varint, &d, &err), IK_EFORMAT, &err,
                 "FlightData");
    ASSERT_FAILS(ik_flight_data_parse(group, sizeof group, &d, &err), IK_EFORMAT, &err,
                 "wire type");
    ASSERT_OK(ik_flight_data_parse(unknown_ok, sizeof unknown_ok, &d, &err), &err);
    ASSERT_EQ(d.header_len, 1);
    ASSERT_EQ(d.header[0], 7);
}

TEST(test_flight_unpack_names_the_message_type)
{
    static const uint8_t junk[] = {0x0a, 0x50, 0x01};
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)junk, sizeof junk);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    ProtobufCMessage *m = NULL;
    struct ik_error err;
    grpc_slice_unref(s);
    ASSERT_FAILS(ik_flight_unpack(bb, &arrow__flight__protocol__ticket__descriptor, 1024, &m, &err),
                 IK_EFORMAT, &err, "Ticket");
    ASSERT_FAILS(ik_flight_unpack(bb, &arrow__flight__protocol__ticket__descriptor, 2, &m, &err),
                 EMSGSIZE, &err, "limit");
    grpc_byte_buffer_destroy(bb);
}

TEST(test_flight_client_tls_roots_are_checked_when_opening)
{
    struct ik_flight_client *c = NULL;
    struct ik_error err;
    char missing[600], garbage[600], link[600];
    FILE *f;
    snprintf(missing, sizeof missing, "%s/no-such-ca.pem", ik_test_tmpdir());
    snprintf(garbage, sizeof garbage, "%s/garbage-ca.pem", ik_test_tmpdir());
    snprintf(link, sizeof link, "%s/link-ca.pem", ik_test_tmpdir());
    ASSERT_TRUE((f = fopen(garbage, "w")) != NULL);
    fputs("not a certificate\n", f);
    fclose(f);
    ASSERT_EQ(symlink(garbage, link), 0);
    ASSERT_FAILS(ik_flight_client_open("grpc+tls://127.0.0.1:1", NULL, missing, 0, &c, &err),
                 ENOENT, &err, "no-such-ca.pem");
    ASSERT_FAILS(ik_flight_client_open("grpc+tls://127.0.0.1:1", NULL, garbage, 0, &c, &err),
                 EINVAL, &err, "holds no PEM certificate");
    ASSERT_TRUE(ik_flight_client_open("grpc+tls://127.0.0.1:1", NULL, link, 0, &c, &err) != 0);
    ASSERT_TRUE(c == NULL);
    /* not read for locations without TLS, and none given: gRPC's default roots */
    ASSERT_OK(ik_flight_client_open("grpc+tcp://127.0.0.1:1", NULL, missing, 0, &c, &err), &err);
    ik_flight_client_close(c);
    ASSERT_OK(ik_flight_client_open("grpc+tls://127.0.0.1:1", "t", NULL, 0, &c, &err), &err);
    ik_flight_client_close(c);
}
