/* Tests of lib/proto: the frame parser under every chunking, request parsing for every op and
 * every error, the query JSON form, reply headers, and the socket helpers over socketpairs
 * (descriptor passing, timeouts, a peer closing mid-frame). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ik_test.h"
#include "proto/proto.h"

/* ---- frames ----------------------------------------------------------------------------- */

/* Three frames of 0, 5 and 300 payload bytes back to back. */
static size_t three_frames(uint8_t *buf)
{
    static const uint32_t sizes[3] = {0, 5, 300};
    size_t off = 0;
    for (int f = 0; f < 3; f++) {
        ik_frame_put_header(buf + off, sizes[f]);
        off += 4;
        for (uint32_t i = 0; i < sizes[f]; i++)
            buf[off++] = (uint8_t)(f * 50 + (int)i);
    }
    return off;
}

/* A consumer that appends chunks to its buffer and takes out every complete frame. */
struct consumer {
    uint8_t buf[512];
    size_t len;
    uint32_t got[8];
    int n;
    int bad;
};

static void consume(struct consumer *c, const uint8_t *p, size_t n)
{
    size_t off;
    uint32_t plen;
    int rc;
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    while ((rc = ik_frame_parse(c->buf, c->len, 1000, &off, &plen, NULL)) == 0) {
        for (uint32_t i = 0; i < plen; i++)
            if (c->buf[off + i] != (uint8_t)(c->n * 50 + (int)i))
                c->bad = 1;
        c->got[c->n++] = plen;
        memmove(c->buf, c->buf + off + plen, c->len - off - plen);
        c->len -= off + plen;
    }
    if (rc != IK_EAGAIN)
        c->bad = 1;
}

static int consumer_ok(const struct consumer *c)
{
    return !c->bad && c->n == 3 && c->got[0] == 0 && c->got[1] == 5 && c->got[2] == 300 &&
           c->len == 0;
}

TEST(test_proto_frame_parse_every_two_and_three_way_split)
{
    uint8_t buf[512];
    size_t len = three_frames(buf), i, j;
    for (i = 0; i <= len; i++) {
        struct consumer c = {0};
        consume(&c, buf, i);
        consume(&c, buf + i, len - i);
        ASSERT_TRUE(consumer_ok(&c));
    }
    for (i = 0; i <= len; i += 3)
        for (j = i; j <= len; j++) {
            struct consumer c = {0};
            consume(&c, buf, i);
            consume(&c, buf + i, j - i);
            consume(&c, buf + j, len - j);
            ASSERT_TRUE(consumer_ok(&c));
        }
}

TEST(test_proto_frame_parse_byte_by_byte)
{
    uint8_t buf[512];
    size_t len = three_frames(buf), i;
    struct consumer c = {0};
    for (i = 0; i < len; i++)
        consume(&c, buf + i, 1);
    ASSERT_TRUE(consumer_ok(&c));
}

TEST(test_proto_frame_parse_incomplete_never_reads_past_len)
{
    uint8_t hdr[4];
    size_t off = 99;
    uint32_t plen = 99;
    /* A heap copy of exactly len bytes, so ASan catches any read past it. */
    ik_frame_put_header(hdr, 10);
    for (size_t len = 0; len < 4; len++) {
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, hdr, len);
        ASSERT_EQ(ik_frame_parse(p, len, 100, &off, &plen, NULL), IK_EAGAIN);
        free(p);
    }
    ASSERT_EQ(ik_frame_parse(hdr, 4, 100, &off, &plen, NULL), IK_EAGAIN);
    ASSERT_EQ(off, 99);
}

TEST(test_proto_frame_parse_rejects_oversize_from_the_header_alone)
{
    struct ik_error err;
    uint8_t hdr[4];
    size_t off;
    uint32_t plen;
    ik_frame_put_header(hdr, IK_PROTO_MAX_REQUEST + 1);
    ASSERT_FAILS(ik_frame_parse(hdr, 4, IK_PROTO_MAX_REQUEST, &off, &plen, &err), IK_ELIMIT, &err,
                 "frame of 65537 bytes exceeds the limit of 65536 bytes");
    ik_frame_put_header(hdr, 0xffffffffu);
    ASSERT_FAILS(ik_frame_parse(hdr, 4, IK_PROTO_MAX_REQUEST, &off, &plen, &err), IK_ELIMIT, &err,
                 "frame of 4294967295 bytes");
    ik_frame_put_header(hdr, IK_PROTO_MAX_REQUEST); /* exactly the limit is fine */
    ASSERT_EQ(ik_frame_parse(hdr, 4, IK_PROTO_MAX_REQUEST, &off, &plen, &err), IK_EAGAIN);
}

TEST(test_proto_frame_zero_length_and_little_endian_header)
{
    uint8_t hdr[4], *f;
    size_t off, flen;
    uint32_t plen = 7;
    ik_frame_put_header(hdr, 0);
    ASSERT_EQ(ik_frame_parse(hdr, 4, 0, &off, &plen, NULL), 0);
    ASSERT_EQ(off, 4);
    ASSERT_EQ(plen, 0);
    ik_frame_put_header(hdr, 0x01020304u);
    ASSERT_EQ(hdr[0], 4);
    ASSERT_EQ(hdr[1], 3);
    ASSERT_EQ(hdr[2], 2);
    ASSERT_EQ(hdr[3], 1);
    ASSERT_EQ(ik_frame_build("abc", 3, &f, &flen, NULL), 0);
    ASSERT_EQ(flen, 7);
    ASSERT_MEM_EQ(f,
                  "\x03\x00\x00\x00"
                  "abc",
                  7);
    free(f);
}

/* ---- requests --------------------------------------------------------------------------- */

#define CID0 "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"

static int parse(const char *json, struct ik_request *r, struct ik_error *err)
{
    return ik_request_parse(json, strlen(json), r, err);
}

/* Parses json, writes it back, and checks the text is `canon` (json itself when NULL) and
 * that parsing that gives the same text again. */
static int round_trip(const char *json, const char *canon)
{
    struct ik_request r, r2;
    struct ik_error err;
    char *a, *b;
    int ok;
    if (parse(json, &r, &err) != 0) {
        fprintf(stderr, "  %s: %s\n", json, err.message);
        ik_request_reset(&r);
        return 0;
    }
    a = ik_request_to_json(&r);
    ok = a && parse(a, &r2, &err) == 0;
    b = ok ? ik_request_to_json(&r2) : NULL;
    ok = ok && b && strcmp(a, b) == 0 && strcmp(a, canon ? canon : json) == 0;
    if (!ok)
        fprintf(stderr, "  round trip of %s gave %s then %s\n", json, a ? a : "NULL",
                b ? b : "NULL");
    free(a);
    free(b);
    ik_request_reset(&r);
    ik_request_reset(&r2);
    return ok;
}

TEST(test_proto_request_parses_ops_without_fields)
{
    static const char *const ops[] = {"ping", "capabilities", "status", "shutdown", "watch"};
    static const enum ik_req_op want[] = {IK_REQ_PING, IK_REQ_CAPABILITIES, IK_REQ_STATUS,
                                          IK_REQ_SHUTDOWN, IK_REQ_WATCH};
    struct ik_request r;
    struct ik_error err;
    char json[64];
    for (int i = 0; i < 5; i++) {
        snprintf(json, sizeof json, "{\"v\":1,\"op\":\"%s\"}", ops[i]);
        ASSERT_OK(parse(json, &r, &err), &err);
        ASSERT_EQ(r.op, want[i]);
        ASSERT_EQ(r.v, 1);
        ASSERT_STR_EQ(ik_req_op_name(r.op), ops[i]);
        ik_request_reset(&r);
        ASSERT_TRUE(round_trip(json, NULL));
    }
}

TEST(test_proto_watch_takes_no_keys)
{
    struct ik_request r;
    struct ik_error err;
    ASSERT_EQ(parse("{\"v\":1,\"op\":\"watch\",\"table\":\"pin_index\"}", &r, &err), EINVAL);
    ASSERT_STR_EQ(err.message, "request: unknown key \"table\" for op \"watch\"");
    ik_request_reset(&r);
}

TEST(test_proto_sync_now_takes_an_optional_source_name)
{
    struct ik_request r;
    struct ik_error err;
    char json[160];
    ASSERT_OK(parse("{\"v\":1,\"op\":\"sync_now\"}", &r, &err), &err);
    ASSERT_EQ(r.op, IK_REQ_SYNC_NOW);
    ASSERT_STR_EQ(r.source, "");
    ik_request_reset(&r);
    ASSERT_TRUE(round_trip("{\"v\":1,\"op\":\"sync_now\"}", NULL));
    ASSERT_OK(parse("{\"v\":1,\"op\":\"sync_now\",\"name\":\"kubo\"}", &r, &err), &err);
    ASSERT_STR_EQ(r.source, "kubo");
    ik_request_reset(&r);
    ASSERT_TRUE(round_trip("{\"v\":1,\"op\":\"sync_now\",\"name\":\"kubo\"}", NULL));
    ASSERT_EQ(parse("{\"v\":1,\"op\":\"sync_now\",\"name\":3}", &r, &err), EINVAL);
    ASSERT_STR_EQ(err.message,
                  "request: \"name\" must be a source's name (a string of 1 to 63 bytes)");
    ik_request_reset(&r);
    ASSERT_EQ(parse("{\"v\":1,\"op\":\"sync_now\",\"name\":\"\"}", &r, &err), EINVAL);
    ik_request_reset(&r);
    snprintf(json, sizeof json, "{\"v\":1,\"op\":\"sync_now\",\"name\":\"%064d\"}", 0);
    ASSERT_EQ(parse(json, &r, &err), EINVAL);
    ik_request_reset(&r);
    ASSERT_TRUE(parse("{\"v\":1,\"op\":\"sync_now\",\"name\":\"a\\u0000b\"}", &r, &err) != 0);
    ik_request_reset(&r);
    ASSERT_EQ(parse("{\"v\":1,\"op\":\"sync_now\",\"table\":\"x\"}", &r, &err), EINVAL);
    ASSERT_STR_EQ(err.message, "request: unknown key \"table\" for op \"sync_now\"");
    ik_request_reset(&r);
}

TEST(test_proto_request_parses_query)
{
    struct ik_request r;
    struct ik_error err;
    const char *json = "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"columns\":[\"cid\","
                       "\"name\"],\"filter\":{\"pin_type\":\"recursive\",\"size_bytes\":{\"gt\":"
                       "1000,\"lte\":2.5},\"name\":null,\"backend\":[\"ipfs\",\"s3\"]},\"limit\":"
                       "10,\"offset\":3,\"transport\":\"stream\",\"compression\":\"zstd\"}";
    ASSERT_OK(parse(json, &r, &err), &err);
    ASSERT_EQ(r.op, IK_REQ_QUERY);
    ASSERT_STR_EQ(r.query.table, "pin_index");
    ASSERT_EQ(r.query.n_columns, 2);
    ASSERT_STR_EQ(r.query.columns[1], "name");
    ASSERT_EQ(r.query.limit, 10);
    ASSERT_EQ(r.query.offset, 3);
    ASSERT_EQ(r.transport, IK_TRANSPORT_STREAM);
    ASSERT_EQ(r.compression, IK_COMPRESSION_ZSTD);
    ASSERT_EQ(r.query.n_preds, 5);
    ASSERT_STR_EQ(r.query.preds[0].column, "pin_type");
    ASSERT_EQ(r.query.preds[0].op, IK_OP_EQ);
    ASSERT_EQ(r.query.preds[0].values[0].kind, IK_VAL_STR);
    ASSERT_STR_EQ(r.query.preds[0].values[0].s, "recursive");
    ASSERT_EQ(r.query.preds[1].op, IK_OP_GT);
    ASSERT_EQ(r.query.preds[1].values[0].kind, IK_VAL_INT);
    ASSERT_EQ(r.query.preds[1].values[0].i, 1000);
    ASSERT_EQ(r.query.preds[2].op, IK_OP_LTE);
    ASSERT_EQ(r.query.preds[2].values[0].kind, IK_VAL_DOUBLE);
    ASSERT_TRUE(r.query.preds[2].values[0].d == 2.5);
    ASSERT_EQ(r.query.preds[3].op, IK_OP_IS_NULL);
    ASSERT_EQ(r.query.preds[3].n_values, 0);
    ASSERT_EQ(r.query.preds[4].op, IK_OP_IN);
    ASSERT_EQ(r.query.preds[4].n_values, 2);
    ASSERT_STR_EQ(r.query.preds[4].values[1].s, "s3");
    ik_request_reset(&r);

    /* defaults */
    ASSERT_OK(parse("{\"v\":1,\"op\":\"query\",\"table\":\"metrics\"}", &r, &err), &err);
    ASSERT_EQ(r.query.limit, -1);
    ASSERT_EQ(r.query.offset, 0);
    ASSERT_EQ(r.query.n_columns, 0);
    ASSERT_EQ(r.transport, IK_TRANSPORT_FD);
    ASSERT_EQ(r.compression, IK_COMPRESSION_NONE);
    ik_request_reset(&r);
    ASSERT_OK(parse("{\"v\":1,\"op\":\"query\",\"table\":\"metrics\",\"limit\":null}", &r, &err),
              &err);
    ASSERT_EQ(r.query.limit, -1);
    ik_request_reset(&r);
}

TEST(test_proto_request_parses_every_filter_op)
{
    struct ik_request r;
    struct ik_error err;
    const char *json =
        "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"filter\":{\"a\":{\"eq\":true,"
        "\"ne\":1,\"gt\":2,\"gte\":3,\"lt\":4,\"lte\":5,\"in\":[1,\"x\",1.5,false],"
        "\"contains\":\"c\",\"prefix\":\"p\",\"path_prefix\":\"/v\",\"is_null\":true,"
        "\"not_null\":true},\"b\":{\"is_null\":false,\"eq\":null,\"ne\":null}}}";
    static const enum ik_op want[] = {
        IK_OP_EQ,      IK_OP_NE,       IK_OP_GT,       IK_OP_GTE,     IK_OP_LT,
        IK_OP_LTE,     IK_OP_IN,       IK_OP_CONTAINS, IK_OP_PREFIX,  IK_OP_PATH_PREFIX,
        IK_OP_IS_NULL, IK_OP_NOT_NULL, IK_OP_NOT_NULL, IK_OP_IS_NULL, IK_OP_NOT_NULL};
    ASSERT_OK(parse(json, &r, &err), &err);
    ASSERT_EQ(r.query.n_preds, 15);
    for (size_t i = 0; i < 15; i++)
        ASSERT_EQ(r.query.preds[i].op, want[i]);
    ASSERT_EQ(r.query.preds[0].values[0].kind, IK_VAL_BOOL);
    ASSERT_EQ(r.query.preds[0].values[0].b, 1);
    ASSERT_EQ(r.query.preds[6].n_values, 4);
    ASSERT_EQ(r.query.preds[6].values[3].kind, IK_VAL_BOOL);
    ik_request_reset(&r);
}

TEST(test_proto_request_parses_pin_add)
{
    struct ik_request r;
    struct ik_error err;
    const char *json = "{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"" CID0 "\",\"name\":"
                       "\"a.txt\",\"pin_type\":\"direct\",\"backend\":\"s3\",\"size_bytes\":"
                       "1234,\"metadata\":{\"k\": [1, 2]},\"vfs_path\":\"/docs/a.txt\","
                       "\"replication_factor\":3,\"verified\":true,\"timestamp_us\":17,"
                       "\"last_access_us\":18,\"access_count\":4}}";
    ASSERT_OK(parse(json, &r, &err), &err);
    ASSERT_EQ(r.op, IK_REQ_PIN_ADD);
    ASSERT_STR_EQ(r.pin.cid, CID0);
    ASSERT_STR_EQ(r.pin.name, "a.txt");
    ASSERT_STR_EQ(r.pin.pin_type, "direct");
    ASSERT_STR_EQ(r.pin.backend, "s3");
    ASSERT_EQ(r.pin.size_bytes, 1234);
    ASSERT_STR_EQ(r.pin.metadata, "{\"k\":[1,2]}");
    ASSERT_STR_EQ(r.pin.vfs_path, "/docs/a.txt");
    ASSERT_EQ(r.pin.replication_factor, 3);
    ASSERT_EQ(r.pin.verified, 1);
    ASSERT_EQ(r.pin.timestamp_us, 17);
    ASSERT_EQ(r.pin.last_access_us, 18);
    ASSERT_EQ(r.pin.access_count, 4);
    ik_request_reset(&r);

    /* only the cid: the defaults of ik_request_init */
    ASSERT_OK(parse("{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"" CID0 "\"}}", &r, &err), &err);
    ASSERT_TRUE(r.pin.name == NULL && r.pin.pin_type == NULL && r.pin.metadata == NULL);
    ASSERT_EQ(r.pin.size_bytes, -1);
    ASSERT_EQ(r.pin.last_access_us, -1);
    ASSERT_EQ(r.pin.replication_factor, 1);
    ASSERT_EQ(r.pin.verified, 0);
    ik_request_reset(&r);

    /* metadata given as JSON text is kept compact; other text is kept as it is */
    ASSERT_OK(parse("{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"metadata\":"
                    "\"{\\\"a\\\": 1}\"}}",
                    &r, &err),
              &err);
    ASSERT_STR_EQ(r.pin.metadata, "{\"a\":1}");
    ik_request_reset(&r);
    ASSERT_OK(
        parse("{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"metadata\":\"[1\"}}", &r, &err),
        &err);
    ASSERT_STR_EQ(r.pin.metadata, "[1");
    ik_request_reset(&r);
}

TEST(test_proto_request_parses_pin_rm_touch_import)
{
    struct ik_request r;
    struct ik_error err;
    ASSERT_OK(parse("{\"v\":1,\"op\":\"pin_rm\",\"cid\":\"" CID0 "\"}", &r, &err), &err);
    ASSERT_EQ(r.op, IK_REQ_PIN_RM);
    ASSERT_STR_EQ(r.cid, CID0);
    ik_request_reset(&r);
    ASSERT_OK(parse("{\"v\":1,\"op\":\"pin_touch\",\"cid\":\"bafy\"}", &r, &err), &err);
    ASSERT_EQ(r.op, IK_REQ_PIN_TOUCH);
    ASSERT_STR_EQ(r.cid, "bafy");
    ik_request_reset(&r);
    ASSERT_OK(parse("{\"v\":1,\"op\":\"import\",\"format\":\"csv\",\"skip_invalid\":true,"
                    "\"default_backend\":\"s3\"}",
                    &r, &err),
              &err);
    ASSERT_EQ(r.op, IK_REQ_IMPORT);
    ASSERT_EQ(r.import.format, IK_IMPORT_CSV);
    ASSERT_EQ(r.import.skip_invalid, 1);
    ASSERT_STR_EQ(r.import.default_backend, "s3");
    ik_request_reset(&r);
    ASSERT_OK(parse("{\"v\":1,\"op\":\"import\"}", &r, &err), &err);
    ASSERT_EQ(r.import.format, IK_IMPORT_AUTO);
    ASSERT_EQ(r.import.skip_invalid, 0);
    ASSERT_TRUE(r.import.default_backend == NULL);
    ik_request_reset(&r);
}

struct bad_request {
    const char *json;
    int code;
    const char *message;
};

TEST(test_proto_request_errors_name_what_is_wrong)
{
    static const struct bad_request cases[] = {
        {"{\"v\":1}", EINVAL, "request: missing \"op\""},
        {"{\"op\":\"ping\"}", EINVAL, "request: missing \"v\""},
        {"{\"v\":\"1\",\"op\":\"ping\"}", EINVAL, "request: \"v\" must be an integer"},
        {"{\"v\":2,\"op\":\"ping\"}", ENOTSUP, "request: unsupported version 2"},
        {"{\"v\":1,\"op\":\"frob\"}", EINVAL, "request: unknown op \"frob\""},
        {"{\"v\":1,\"op\":7}", EINVAL, "request: \"op\" must be a string"},
        {"[1,2]", IK_EFORMAT, "request: not a JSON object"},
        {"\"ping\"", IK_EFORMAT, "request: not a JSON object"},
        {"{\"v\":1,", IK_EFORMAT, "request: invalid JSON at line 1 column 7: "},
        {"", IK_EFORMAT, "request: invalid JSON at line 1 column 0"},
        {"{\"v\":1,\"op\":\"ping\"} x", IK_EFORMAT, "request: invalid JSON"},
        {"{\"v\":1,\"v\":1,\"op\":\"ping\"}", IK_EFORMAT, "duplicate object key"},
        {"{\"v\":1,\"op\":\"ping\",\"table\":\"x\"}", EINVAL,
         "request: unknown key \"table\" for op \"ping\""},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"limt\":1}", EINVAL,
         "unknown key \"limt\" for op \"query\""},
        {"{\"v\":1,\"op\":\"query\"}", EINVAL, "request: missing \"table\""},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"have\":3}", EINVAL,
         "request: \"have\" must be an object"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"have\":{\"version\":1,\"dev\":2}}", EINVAL,
         "request: \"have.ino\" must be a non-negative integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"have\":{\"version\":-1,\"dev\":2,"
         "\"ino\":3}}",
         EINVAL, "request: \"have.version\" must be a non-negative integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"have\":{\"version\":1,\"dev\":2,"
         "\"ino\":3,\"size\":4}}",
         EINVAL, "request: unknown key \"size\" for object \"have\""},
        {"{\"v\":1,\"op\":\"ping\",\"have\":null}", EINVAL,
         "request: unknown key \"have\" for op \"ping\""},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"\"}", EINVAL, "\"table\" must be a string of 1"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"limit\":-1}", EINVAL,
         "request: \"limit\" must be a non-negative integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"limit\":1.5}", EINVAL,
         "request: \"limit\" must be a non-negative integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"offset\":\"3\"}", EINVAL,
         "request: \"offset\" must be a non-negative integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"columns\":\"cid\"}", EINVAL,
         "\"columns\" must be an array"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"columns\":[\"cid\",3]}", EINVAL,
         "\"columns\" element 1 must be a non-empty string"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":3}", EINVAL,
         "\"filter\" must be an object, not an integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":[3]}", EINVAL,
         "\"filter\" element 0 must be an object"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"size_bytes\":{\"between\":1}}}",
         EINVAL, "request: filter on 'size_bytes': unknown op \"between\""},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{}}}", EINVAL,
         "filter on 'a': no op"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"\":1}}", EINVAL,
         "filter: empty column name"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{\"in\":[]}}}", EINVAL,
         "op 'in' takes a non-empty array"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{\"in\":[1,null]}}}", EINVAL,
         "'in' value 1 is null"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{\"contains\":1}}}", EINVAL,
         "op 'contains' needs a string, not an integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{\"gt\":[1]}}}", EINVAL,
         "op 'gt' needs a string, number or boolean, not an array"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{\"is_null\":1}}}", EINVAL,
         "op 'is_null' takes true or false"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"transport\":\"carrier\"}", EINVAL,
         "\"transport\" must be \"fd\", \"stream\" or \"json\""},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"compression\":\"gzip\"}", EINVAL,
         "\"compression\" must be \"none\", \"lz4\" or \"zstd\""},
        {"{\"v\":1,\"op\":\"pin_add\"}", EINVAL, "request: missing \"pin\""},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":[]}", EINVAL, "\"pin\" must be an object"},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{}}", EINVAL, "missing \"pin.cid\""},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"\"}}", EINVAL,
         "\"pin.cid\" must not be empty"},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"colour\":1}}", EINVAL,
         "unknown key \"colour\" for object \"pin\""},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"name\":1}}", EINVAL,
         "\"pin.name\" must be a string"},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"size_bytes\":-5}}", EINVAL,
         "\"pin.size_bytes\" must be an integer from 0"},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"replication_factor\":3000000000}}",
         EINVAL, "\"pin.replication_factor\" must be an integer from 0 to 2147483647"},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"verified\":1}}", EINVAL,
         "\"pin.verified\" must be true or false"},
        {"{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"metadata\":[1]}}", EINVAL,
         "\"pin.metadata\" must be an object"},
        {"{\"v\":1,\"op\":\"pin_rm\"}", EINVAL, "request: missing \"cid\""},
        {"{\"v\":1,\"op\":\"pin_touch\",\"cid\":5}", EINVAL, "\"cid\" must be a string of 1"},
        {"{\"v\":1,\"op\":\"pin_rm\",\"cid\":\"\"}", EINVAL, "\"cid\" must be a string of 1"},
        {"{\"v\":1,\"op\":\"import\",\"format\":\"xml\"}", EINVAL,
         "\"format\" must be \"auto\", \"kubo_json\", \"jsonl\", \"csv\" or \"arrow\""},
        {"{\"v\":1,\"op\":\"import\",\"skip_invalid\":\"yes\"}", EINVAL,
         "\"skip_invalid\" must be true or false"},
        {"{\"v\":1,\"op\":\"import\",\"default_backend\":false}", EINVAL,
         "\"default_backend\" must be a string"},
        {"{\"v\":1,\"op\":\"import\",\"path\":\"/etc/passwd\"}", EINVAL,
         "unknown key \"path\" for op \"import\""},
    };
    struct ik_request r;
    struct ik_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_FAILS(parse(cases[i].json, &r, &err), cases[i].code, &err, cases[i].message);
        ik_request_reset(&r);
    }
}

TEST(test_proto_request_refuses_oversize_and_invalid_utf8)
{
    struct ik_request r;
    struct ik_error err;
    size_t n = IK_PROTO_MAX_REQUEST + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    memcpy(big, "{\"v\":1,\"op\":\"ping\"}", 19);
    ASSERT_FAILS(ik_request_parse(big, n, &r, &err), IK_ELIMIT, &err,
                 "request: 65537 bytes exceeds the limit of 65536 bytes");
    ASSERT_OK(ik_request_parse(big, n - 1, &r, &err), &err);
    free(big);
    ik_request_reset(&r);
    ASSERT_FAILS(parse("{\"v\":1,\"op\":\"pi\xffng\"}", &r, &err), IK_EFORMAT, &err,
                 "invalid JSON");
    ik_request_reset(&r);
    /* an embedded NUL ends nothing early: the length is what counts */
    ASSERT_FAILS(ik_request_parse("{\"v\":1,\"op\":\"ping\"}\0x", 21, &r, &err), IK_EFORMAT, &err,
                 "invalid JSON");
    ik_request_reset(&r);
}

TEST(test_proto_request_round_trips_exactly)
{
    static const char *const canon[] = {
        "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"columns\":[\"cid\",\"name\"],"
        "\"filter\":{\"pin_type\":\"recursive\",\"size_bytes\":{\"gt\":1000,\"lt\":2.5}},"
        "\"offset\":2,\"limit\":10,\"transport\":\"stream\",\"compression\":\"lz4\"}",
        "{\"v\":1,\"op\":\"query\",\"table\":\"vfs_stats\",\"limit\":0}",
        "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"limit\":100,\"have\":{"
        "\"version\":7,\"dev\":2049,\"ino\":9223372036854775807}}",
        "{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{\"is_null\":true},\"b\":"
        "{\"not_null\":true},\"c\":{\"in\":[1,\"x\",true,0.5]},\"d\":{\"path_prefix\":\"/a\","
        "\"ne\":false}},\"transport\":\"json\"}",
        "{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":[{\"a\":{\"gt\":1}},{\"a\":{\"gt\":"
        "2}}]}",
        "{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"" CID0 "\",\"metadata\":{\"k\":[1,{}]},"
        "\"name\":\"n\",\"size_bytes\":0,\"pin_type\":\"indirect\",\"timestamp_us\":5,\"backend\":"
        "\"b\",\"verified\":true,\"vfs_path\":\"/\",\"replication_factor\":0,\"last_access_us\":0,"
        "\"access_count\":9}}",
        "{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"metadata\":\"not json\"}}",
        "{\"v\":1,\"op\":\"pin_rm\",\"cid\":\"" CID0 "\"}",
        "{\"v\":1,\"op\":\"pin_touch\",\"cid\":\"" CID0 "\"}",
        "{\"v\":1,\"op\":\"import\",\"format\":\"kubo_json\",\"skip_invalid\":true,"
        "\"default_backend\":\"ipfs\"}",
        "{\"v\":1,\"op\":\"import\"}",
    };
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++)
        ASSERT_TRUE(round_trip(canon[i], NULL));
    /* non-canonical forms come back in the canonical one */
    ASSERT_TRUE(round_trip("{\"op\":\"query\",\"v\":1,\"table\":\"t\",\"offset\":0,\"limit\":null,"
                           "\"columns\":[],\"filter\":{},\"transport\":\"fd\",\"compression\":"
                           "\"none\"}",
                           "{\"v\":1,\"op\":\"query\",\"table\":\"t\"}"));
    ASSERT_TRUE(round_trip("{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":null,"
                           "\"b\":[1],\"c\":{\"eq\":3},\"d\":{\"is_null\":false}}}",
                           "{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"filter\":{\"a\":{"
                           "\"is_null\":true},\"b\":{\"in\":[1]},\"c\":3,\"d\":{\"not_null\":"
                           "true}}}"));
    ASSERT_TRUE(round_trip("{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"size_bytes\":"
                           "null,\"replication_factor\":1,\"verified\":false,\"metadata\":"
                           "\"{\\\"a\\\" : 1}\"}}",
                           "{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"x\",\"metadata\":{"
                           "\"a\":1}}}"));
}

TEST(test_proto_request_parses_have)
{
    struct ik_request r;
    struct ik_error err;
    ASSERT_OK(parse("{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"have\":{\"ino\":"
                    "12,\"version\":3,\"dev\":0}}",
                    &r, &err),
              &err);
    ASSERT_TRUE(r.have.set);
    ASSERT_EQ(r.have.version, 3);
    ASSERT_EQ(r.have.dev, 0);
    ASSERT_EQ(r.have.ino, 12);
    ik_request_reset(&r);
    ASSERT_TRUE(!r.have.set);
    /* absent or null: not set, the daemon passes the descriptor as before */
    ASSERT_OK(parse("{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"have\":null}", &r, &err), &err);
    ASSERT_TRUE(!r.have.set);
    ik_request_reset(&r);
    /* an identity above INT64_MAX has no JSON form: the client leaves "have" out */
    ik_request_init(&r, IK_REQ_QUERY);
    ik_query_init(&r.query, "pin_index");
    r.have.set = true;
    r.have.ino = (uint64_t)INT64_MAX + 1;
    ASSERT_TRUE(ik_request_to_json(&r) == NULL);
    ik_request_reset(&r);
}

TEST(test_proto_request_to_json_from_a_built_request)
{
    struct ik_request r, back;
    struct ik_error err;
    char *s;
    ik_request_init(&r, IK_REQ_PIN_ADD);
    r.pin.cid = CID0; /* borrowed: reset must not free it */
    r.pin.name = "hello";
    r.pin.size_bytes = 42;
    s = ik_request_to_json(&r);
    ASSERT_STR_EQ(s, "{\"v\":1,\"op\":\"pin_add\",\"pin\":{\"cid\":\"" CID0
                     "\",\"name\":\"hello\",\"size_bytes\":42}}");
    ASSERT_OK(parse(s, &back, &err), &err);
    ASSERT_STR_EQ(back.pin.name, "hello");
    ik_request_reset(&back);
    free(s);
    ik_request_reset(&r);

    ik_request_init(&r, IK_REQ_QUERY);
    ik_query_init(&r.query, "pin_index");
    ASSERT_OK(ik_query_filter_str(&r.query, "name", IK_OP_CONTAINS, "x\"y", &err), &err);
    r.query.limit = 5;
    s = ik_request_to_json(&r);
    ASSERT_STR_EQ(s, "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"filter\":{\"name\":{"
                     "\"contains\":\"x\\\"y\"}},\"limit\":5}");
    free(s);
    ik_request_reset(&r);

    /* the common query, written by hand, and the same with a name that needs escaping (jansson
     * writes it): one form either way */
    ik_request_init(&r, IK_REQ_QUERY);
    ik_query_init(&r.query, "pin_index");
    ASSERT_OK(ik_query_add_column(&r.query, "cid", &err), &err);
    ASSERT_OK(ik_query_add_column(&r.query, "size_bytes", &err), &err);
    r.query.offset = 3;
    r.query.limit = 100;
    r.have.set = true;
    r.have.version = 9;
    r.have.dev = 2049;
    r.have.ino = 77;
    s = ik_request_to_json(&r);
    ASSERT_STR_EQ(s, "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"columns\":[\"cid\","
                     "\"size_bytes\"],\"offset\":3,\"limit\":100,\"have\":{\"version\":9,"
                     "\"dev\":2049,\"ino\":77}}");
    free(s);
    ASSERT_OK(ik_query_add_column(&r.query, "a\"b", &err), &err);
    s = ik_request_to_json(&r);
    ASSERT_STR_EQ(s, "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"columns\":[\"cid\","
                     "\"size_bytes\",\"a\\\"b\"],\"offset\":3,\"limit\":100,\"have\":{"
                     "\"version\":9,\"dev\":2049,\"ino\":77}}");
    free(s);
    ik_request_reset(&r);
    ik_request_init(&r, IK_REQ_QUERY);
    ik_query_init(&r.query, "pin_index");
    s = ik_request_to_json(&r);
    ASSERT_STR_EQ(s, "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\"}");
    free(s);
    r.transport = IK_TRANSPORT_STREAM;
    r.compression = IK_COMPRESSION_LZ4;
    s = ik_request_to_json(&r);
    ASSERT_STR_EQ(s, "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"transport\":"
                     "\"stream\",\"compression\":\"lz4\"}");
    free(s);
    ik_request_reset(&r);

    ik_request_init(&r, IK_REQ_QUERY);
    ik_query_init(&r.query, "pin_index");
    ASSERT_OK(ik_query_filter_str(&r.query, "name", IK_OP_CONTAINS, "x", &err), &err);
    /* a string that is not UTF-8 has no JSON form */
    ASSERT_OK(ik_query_filter_str(&r.query, "name", IK_OP_EQ, "\xff", &err), &err);
    ASSERT_TRUE(ik_request_to_json(&r) == NULL);
    ik_request_reset(&r);
}

/* ---- query JSON ------------------------------------------------------------------------- */

TEST(test_proto_query_json_round_trip)
{
    struct ik_query q, back;
    struct ik_error err;
    struct ik_value in[2] = {{.kind = IK_VAL_STR, .s = "direct", .len = 6},
                             {.kind = IK_VAL_STR, .s = "indirect", .len = 8}};
    struct ik_value d = {.kind = IK_VAL_DOUBLE, .d = 0.1};
    char *s, *s2;
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_add_column(&q, "cid", &err), &err);
    ASSERT_OK(ik_query_filter_int(&q, "size_bytes", IK_OP_GTE, 1000, &err), &err);
    ASSERT_OK(ik_query_add_filter(&q, "pin_type", IK_OP_IN, in, 2, &err), &err);
    ASSERT_OK(ik_query_filter_int(&q, "size_bytes", IK_OP_LT, 5000, &err), &err);
    ASSERT_OK(ik_query_add_filter(&q, "ratio", IK_OP_GT, &d, 1, &err), &err);
    ASSERT_OK(ik_query_add_filter(&q, "vfs_path", IK_OP_NOT_NULL, NULL, 0, &err), &err);
    q.offset = 4;
    s = ik_query_to_json(&q);
    ASSERT_STR_EQ(s, "{\"table\":\"pin_index\",\"columns\":[\"cid\"],\"filter\":{\"size_bytes\":"
                     "{\"gte\":1000,\"lt\":5000},\"pin_type\":{\"in\":[\"direct\",\"indirect\"]},"
                     "\"ratio\":{\"gt\":0.10000000000000001},\"vfs_path\":{\"not_null\":true}},"
                     "\"offset\":4}");
    ASSERT_OK(ik_query_from_json(s, strlen(s), &back, &err), &err);
    ASSERT_EQ(back.n_preds, 5);
    ASSERT_EQ(back.preds[1].op, IK_OP_LT); /* regrouped by column */
    ASSERT_EQ(back.preds[1].values[0].i, 5000);
    ASSERT_TRUE(back.preds[3].values[0].d == 0.1);
    ASSERT_EQ(back.offset, 4);
    ASSERT_EQ(back.limit, -1);
    s2 = ik_query_to_json(&back);
    ASSERT_STR_EQ(s2, s);
    free(s);
    free(s2);
    ik_query_reset(&back);

    /* the same op twice on one column needs the array form, which keeps the order */
    ASSERT_OK(ik_query_filter_int(&q, "size_bytes", IK_OP_LT, 4000, &err), &err);
    s = ik_query_to_json(&q);
    ASSERT_TRUE(strstr(s, "\"filter\":[{\"size_bytes\":{\"gte\":1000}},") != NULL);
    ASSERT_OK(ik_query_from_json(s, strlen(s), &back, &err), &err);
    ASSERT_EQ(back.n_preds, 6);
    for (size_t i = 0; i < 6; i++) {
        ASSERT_EQ(back.preds[i].op, q.preds[i].op);
        ASSERT_STR_EQ(back.preds[i].column, q.preds[i].column);
    }
    s2 = ik_query_to_json(&back);
    ASSERT_STR_EQ(s2, s);
    free(s);
    free(s2);
    ik_query_reset(&back);
    ik_query_reset(&q);
}

TEST(test_proto_query_from_json_errors_and_ignored_keys)
{
    struct ik_query q;
    struct ik_error err;
    const char *ok = "{\"table\":\"pin_index\",\"op\":\"query\",\"whatever\":1}";
    ASSERT_OK(ik_query_from_json(ok, strlen(ok), &q, &err), &err);
    ASSERT_STR_EQ(q.table, "pin_index");
    ik_query_reset(&q);
    ASSERT_FAILS(ik_query_from_json("{\"table\":1}", 11, &q, &err), EINVAL, &err,
                 "query: \"table\" must be a string");
    ik_query_reset(&q);
    ASSERT_FAILS(ik_query_from_json("{\"table", 7, &q, &err), IK_EFORMAT, &err,
                 "query: invalid JSON at line 1");
    ik_query_reset(&q);
    ASSERT_FAILS(ik_query_from_json("[]", 2, &q, &err), IK_EFORMAT, &err,
                 "query: not a JSON object");
    ik_query_reset(&q);
    /* a table name of 64 bytes does not fit */
    char long_table[100];
    snprintf(long_table, sizeof long_table, "{\"table\":\"%064d\"}", 0);
    ASSERT_FAILS(ik_query_from_json(long_table, strlen(long_table), &q, &err), EINVAL, &err,
                 "\"table\" must be a string of 1 to 63 bytes");
    ik_query_reset(&q);
}

/* ---- replies ---------------------------------------------------------------------------- */

TEST(test_proto_reply_error_and_parse)
{
    struct ik_error err;
    json_t *obj;
    char *s = ik_reply_error("bad_request", "request: unknown op \"frob\"");
    ASSERT_STR_EQ(s, "{\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"request: "
                     "unknown op \\\"frob\\\"\"}}");
    ASSERT_FAILS(ik_reply_parse(s, strlen(s), &obj, &err), IK_EREMOTE, &err,
                 "request: unknown op \"frob\"");
    ASSERT_STR_EQ(ik_reply_error_code(obj), "bad_request");
    json_decref(obj);
    free(s);

    s = ik_reply_error("internal", "bad \xff byte and \xc3\xa9 kept");
    ASSERT_STR_EQ(s, "{\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":\"bad ? byte "
                     "and \xc3\xa9 kept\"}}");
    free(s);

    ASSERT_OK(ik_reply_parse("{\"ok\":true,\"rows\":3}", 20, &obj, &err), &err);
    ASSERT_EQ(json_integer_value(json_object_get(obj, "rows")), 3);
    ASSERT_TRUE(ik_reply_error_code(obj) == NULL);
    json_decref(obj);

    ASSERT_FAILS(ik_reply_parse("{\"rows\":3}", 10, &obj, &err), IK_EPROTO, &err,
                 "reply header: not an object with a boolean \"ok\"");
    ASSERT_TRUE(obj == NULL);
    ASSERT_FAILS(ik_reply_parse("{\"ok\":false}", 12, &obj, &err), IK_EPROTO, &err,
                 "error reply without a string code and message");
    ASSERT_FAILS(ik_reply_parse("{\"ok\":tru", 9, &obj, &err), IK_EPROTO, &err,
                 "reply header: invalid JSON");
    ASSERT_FAILS(ik_reply_parse("[]", 2, &obj, &err), IK_EPROTO, &err, "reply header");

    ASSERT_STR_EQ(ik_reply_code(EINVAL), "bad_request");
    ASSERT_STR_EQ(ik_reply_code(IK_EFORMAT), "bad_request");
    ASSERT_STR_EQ(ik_reply_code(ENOTSUP), "unsupported");
    ASSERT_STR_EQ(ik_reply_code(IK_ELIMIT), "too_large");
    ASSERT_STR_EQ(ik_reply_code(ENOENT), "not_found");
    ASSERT_STR_EQ(ik_reply_code(IK_ELOCKED), "busy");
    ASSERT_STR_EQ(ik_reply_code(ENOSPC), "disk_full");
    ASSERT_STR_EQ(ik_reply_code(EDQUOT), "disk_full");
    ASSERT_STR_EQ(ik_reply_code(EIO), "io_error");
    ASSERT_STR_EQ(ik_reply_code(ENOMEM), "internal");

    /* and back, for every code that is the client's concern too */
    int codes[] = {EINVAL, ENOTSUP, IK_ELIMIT, ENOENT, EACCES, IK_EPROTO, ENOSPC, EIO};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        ASSERT_EQ(ik_reply_errno(ik_reply_code(codes[i])), codes[i]);
    ASSERT_EQ(ik_reply_errno("internal"), IK_EREMOTE);
    ASSERT_EQ(ik_reply_errno("timeout"), IK_EREMOTE); /* the daemon's wait, not ours */
    ASSERT_EQ(ik_reply_errno("busy"), IK_EREMOTE);
    ASSERT_EQ(ik_reply_errno(NULL), IK_EREMOTE);
}

/* ---- sockets ---------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int temp_file_with(const char *text)
{
    char path[512];
    int fd;
    snprintf(path, sizeof path, "%s/proto-XXXXXX", ik_test_tmpdir());
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return -1;
    }
    return fd;
}

TEST(test_proto_sock_frame_carries_a_working_fd)
{
    struct ik_error err;
    int sv[2], file, got = -2;
    uint8_t *payload;
    size_t len;
    char text[32] = {0};
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    file = temp_file_with("pins on disk");
    ASSERT_TRUE(file >= 0);
    ASSERT_OK(ik_sock_send_frame(sv[0], "{\"ok\":true}", 11, file, 1000, &err), &err);
    close(file); /* the receiver's copy is its own */
    ASSERT_OK(ik_sock_recv_frame(sv[1], 100, &payload, &len, &got, 1000, &err), &err);
    ASSERT_EQ(len, 11);
    ASSERT_MEM_EQ(payload, "{\"ok\":true}", 11);
    free(payload);
    ASSERT_TRUE(got >= 0);
    ASSERT_EQ(fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ASSERT_EQ(pread(got, text, sizeof text - 1, 0), 12);
    ASSERT_STR_EQ(text, "pins on disk");
    close(got);

    /* a frame without a descriptor, and a zero-length one, give -1 */
    ASSERT_OK(ik_sock_send_frame(sv[0], "", 0, -1, 1000, &err), &err);
    ASSERT_OK(ik_sock_recv_frame(sv[1], 100, &payload, &len, &got, 1000, &err), &err);
    ASSERT_EQ(len, 0);
    ASSERT_TRUE(payload != NULL);
    ASSERT_EQ(got, -1);
    free(payload);
    close(sv[0]);
    close(sv[1]);
}

TEST(test_proto_sock_recv_closes_an_unwanted_fd)
{
    struct ik_error err;
    int sv[2], file, probe;
    uint8_t *payload;
    size_t len;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    file = temp_file_with("x");
    ASSERT_OK(ik_sock_send_frame(sv[0], "abc", 3, file, 1000, &err), &err);
    close(file);
    ASSERT_OK(ik_sock_recv_frame(sv[1], 100, &payload, &len, NULL, 1000, &err), &err);
    free(payload);
    /* the received descriptor took the lowest free number and was closed: it is free again */
    probe = dup(0);
    ASSERT_EQ(probe, file);
    close(probe);
    close(sv[0]);
    close(sv[1]);
}

TEST(test_proto_sock_large_frame_over_nonblocking_pair)
{
    struct ik_error err;
    int sv[2];
    size_t n = 3u << 20, len;
    uint8_t *big = malloc(n), *payload;
    pid_t pid;
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    pid = fork();
    if (pid == 0) {
        close(sv[1]);
        _exit(ik_sock_send_frame(sv[0], big, n, -1, 5000, NULL) == 0 ? 0 : 1);
    }
    close(sv[0]);
    ASSERT_OK(ik_sock_recv_frame(sv[1], n, &payload, &len, NULL, 5000, &err), &err);
    ASSERT_EQ(len, n);
    ASSERT_MEM_EQ(payload, big, n);
    free(payload);
    free(big);
    close(sv[1]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(status, 0);
}

TEST(test_proto_sock_timeouts)
{
    struct ik_error err;
    int sv[2];
    uint8_t *payload, *big;
    size_t len, n = 8u << 20;
    int64_t t0;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t0 = now_ms();
    ASSERT_FAILS(ik_sock_recv_frame(sv[1], 100, &payload, &len, NULL, 50, &err), ETIMEDOUT, &err,
                 "receiving a frame timed out after 50 ms (0 of 4 header bytes)");
    ASSERT_TRUE(now_ms() - t0 >= 45);
    /* half a header, then silence */
    ASSERT_EQ(write(sv[0], "\x05\x00", 2), 2);
    ASSERT_FAILS(ik_sock_recv_frame(sv[1], 100, &payload, &len, NULL, 30, &err), ETIMEDOUT, &err,
                 "(2 of 4 header bytes)");
    /* a peer that never reads: the send times out once the buffers are full */
    big = calloc(1, n);
    t0 = now_ms();
    ASSERT_FAILS(ik_sock_send_frame(sv[0], big, n, -1, 50, &err), ETIMEDOUT, &err,
                 "sending a frame timed out after 50 ms");
    ASSERT_TRUE(now_ms() - t0 >= 45);
    free(big);
    /* zero timeout: a pure poll */
    ASSERT_FAILS(ik_sock_recv_frame(sv[0], 100, &payload, &len, NULL, 0, &err), ETIMEDOUT, &err,
                 "timed out");
    close(sv[0]);
    close(sv[1]);
}

TEST(test_proto_sock_peer_closed_mid_frame)
{
    struct ik_error err;
    int sv[2];
    uint8_t *payload;
    size_t len;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(write(sv[0], "\x0a\x00", 2), 2);
    close(sv[0]);
    ASSERT_FAILS(ik_sock_recv_frame(sv[1], 100, &payload, &len, NULL, 1000, &err), IK_EPROTO, &err,
                 "connection closed after 2 of 4 header bytes");
    ASSERT_TRUE(payload == NULL);
    close(sv[1]);

    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(write(sv[0], "\x0a\x00\x00\x00xyz", 7), 7);
    close(sv[0]);
    ASSERT_FAILS(ik_sock_recv_frame(sv[1], 100, &payload, &len, NULL, 1000, &err), IK_EPROTO, &err,
                 "connection closed after 3 of 10 payload bytes");
    close(sv[1]);

    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[0]);
    ASSERT_FAILS(ik_sock_recv_frame(sv[1], 100, &payload, &len, NULL, 1000, &err), IK_EOS, &err,
                 "connection closed by peer");
    /* sending to a closed peer is EPIPE, without SIGPIPE */
    ASSERT_FAILS(ik_sock_send_frame(sv[1], "x", 1, -1, 1000, &err), EPIPE, &err,
                 "connection closed by peer");
    close(sv[1]);
}

TEST(test_proto_sock_recv_refuses_oversize_and_two_fds)
{
    struct ik_error err;
    int sv[2], a, b;
    uint8_t *payload;
    size_t len;
    ssize_t n;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_OK(ik_sock_send_frame(sv[0], "0123456789", 10, -1, 1000, &err), &err);
    ASSERT_FAILS(ik_sock_recv_frame(sv[1], 9, &payload, &len, NULL, 1000, &err), IK_ELIMIT, &err,
                 "frame of 10 bytes exceeds the limit of 9 bytes");
    close(sv[0]);
    close(sv[1]);

    /* a frame whose header and payload each carry a descriptor */
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    a = temp_file_with("a");
    b = temp_file_with("b");
    ASSERT_OK(ik_sock_sendmsg_fd(sv[0], "\x02\x00\x00\x00", 4, a, &n, &err), &err);
    ASSERT_EQ(n, 4);
    ASSERT_OK(ik_sock_sendmsg_fd(sv[0], "hi", 2, b, &n, &err), &err);
    ASSERT_FAILS(ik_sock_recv_frame(sv[1], 100, &payload, &len, NULL, 1000, &err), IK_EPROTO, &err,
                 "more than one file descriptor passed with a frame");
    close(a);
    close(b);
    close(sv[0]);
    close(sv[1]);
}

TEST(test_proto_sock_nonblocking_recvmsg_and_sendmsg)
{
    struct ik_error err;
    int sv[2], file, got;
    char buf[16];
    ssize_t n;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(ik_sock_recvmsg_fd(sv[1], buf, sizeof buf, &n, &got, &err), EAGAIN);
    file = temp_file_with("zz");
    ASSERT_OK(ik_sock_sendmsg_fd(sv[0], "hello", 5, file, &n, &err), &err);
    ASSERT_EQ(n, 5);
    close(file);
    ASSERT_OK(ik_sock_recvmsg_fd(sv[1], buf, 2, &n, &got, &err), &err);
    ASSERT_EQ(n, 2);
    ASSERT_TRUE(got >= 0); /* the descriptor comes with the first bytes read */
    ASSERT_EQ(pread(got, buf, 2, 0), 2);
    ASSERT_MEM_EQ(buf, "zz", 2);
    close(got);
    ASSERT_OK(ik_sock_recvmsg_fd(sv[1], buf, sizeof buf, &n, &got, &err), &err);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(got, -1);
    ASSERT_FAILS(ik_sock_sendmsg_fd(sv[0], "", 0, 0, &n, &err), EINVAL, &err, "at least one");
    close(sv[0]);
    ASSERT_OK(ik_sock_recvmsg_fd(sv[1], buf, sizeof buf, &n, &got, &err), &err);
    ASSERT_EQ(n, 0); /* end of file */
    close(sv[1]);
}

TEST(test_proto_sock_connect_unix_and_peer_uid)
{
    struct ik_error err;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char path[300];
    int lfd, cfd, afd;
    uid_t uid;
    snprintf(path, sizeof path, "%s/nothing.sock", ik_test_tmpdir());
    ASSERT_FAILS(ik_sock_connect_unix(path, 100, &cfd, &err), IK_EDAEMON, &err,
                 "no daemon listening on ");
    ASSERT_TRUE(strstr(err.message, "nothing.sock") != NULL);
    ASSERT_EQ(cfd, -1);

    /* bound but not listening: refused */
    snprintf(path, sizeof path, "%s/d.sock", ik_test_tmpdir());
    ASSERT_TRUE(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ASSERT_FAILS(ik_sock_connect_unix(path, 100, &cfd, &err), IK_EDAEMON, &err,
                 "no daemon listening on");
    ASSERT_EQ(listen(lfd, 4), 0);
    ASSERT_OK(ik_sock_connect_unix(path, 1000, &cfd, &err), &err);
    ASSERT_TRUE(fcntl(cfd, F_GETFL) & O_NONBLOCK);
    afd = accept(lfd, NULL, NULL);
    ASSERT_TRUE(afd >= 0);
    ASSERT_OK(ik_sock_peer_uid(afd, &uid, &err), &err);
    ASSERT_EQ(uid, getuid());
    close(afd);
    close(cfd);
    close(lfd);

    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    ASSERT_FAILS(ik_sock_connect_unix(longpath, 100, &cfd, &err), ENAMETOOLONG, &err,
                 "socket path of 199 bytes (limit 107)");
    ASSERT_FAILS(ik_sock_connect_unix("", 100, &cfd, &err), EINVAL, &err, "empty socket path");
}

/* ---- the client's frame reader ---------------------------------------------------------- */

TEST(test_proto_reader_takes_glued_frames_and_keeps_the_fd_with_the_first)
{
    struct ik_error err;
    struct ik_sock_reader rd;
    int sv[2], file, got = -2;
    uint8_t *payload;
    size_t len;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    file = temp_file_with("snapshot");
    ASSERT_TRUE(file >= 0);
    /* a header with a descriptor, a data frame and the end frame, all queued before reading */
    ASSERT_OK(ik_sock_send_frame(sv[0], "{\"ok\":true}", 11, file, 1000, &err), &err);
    ASSERT_OK(ik_sock_send_frame(sv[0], "data", 4, -1, 1000, &err), &err);
    ASSERT_OK(ik_sock_send_frame(sv[0], "", 0, -1, 1000, &err), &err);
    close(file);
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_OK(ik_sock_reader_frame(&rd, 100, &payload, &len, &got, 1000, &err), &err);
    ASSERT_EQ(len, 11);
    ASSERT_MEM_EQ(payload, "{\"ok\":true}", 11);
    free(payload);
    ASSERT_TRUE(got >= 0);
    close(got);
    ASSERT_OK(ik_sock_reader_frame(&rd, 100, &payload, &len, &got, 1000, &err), &err);
    ASSERT_EQ(len, 4);
    ASSERT_MEM_EQ(payload, "data", 4);
    ASSERT_EQ(got, -1);
    free(payload);
    ASSERT_OK(ik_sock_reader_frame(&rd, 100, &payload, &len, &got, 1000, &err), &err);
    ASSERT_EQ(len, 0);
    free(payload);
    ASSERT_EQ(ik_sock_reader_pending(&rd), 0);

    /* bytes past the last frame read stay pending: the connection is not reusable */
    ASSERT_OK(ik_sock_send_frame(sv[0], "a", 1, -1, 1000, &err), &err);
    ASSERT_OK(ik_sock_send_frame(sv[0], "b", 1, -1, 1000, &err), &err);
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_OK(ik_sock_reader_frame(&rd, 100, &payload, &len, NULL, 1000, &err), &err);
    free(payload);
    ASSERT_EQ(ik_sock_reader_pending(&rd), 5);
    close(sv[0]);
    close(sv[1]);
}

TEST(test_proto_reader_large_frame_timeout_and_close)
{
    struct ik_error err;
    struct ik_sock_reader rd;
    size_t n = 3 * IK_SOCK_READER_BUF + 17, len;
    uint8_t *big = malloc(n), *payload;
    int sv[2];
    pid_t pid;
    int st;
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = fork();
    if (pid == 0) { /* the frame in pieces, slowly */
        uint8_t hdr[4];
        ik_frame_put_header(hdr, (uint32_t)n);
        (void)!write(sv[0], hdr, 2);
        usleep(20000);
        (void)!write(sv[0], hdr + 2, 2);
        (void)!write(sv[0], big, 100);
        usleep(20000);
        (void)!write(sv[0], big + 100, n - 100);
        _exit(0);
    }
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_OK(ik_sock_reader_frame(&rd, n, &payload, &len, NULL, 2000, &err), &err);
    ASSERT_EQ(len, n);
    ASSERT_MEM_EQ(payload, big, n);
    free(payload);
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_EQ(ik_sock_reader_pending(&rd), 0);

    /* nothing comes: the timeout holds on a blocking socket too, with or without a first poll */
    ik_sock_reader_init(&rd, sv[1], false);
    ASSERT_FAILS(ik_sock_reader_frame(&rd, 100, &payload, &len, NULL, 30, &err), ETIMEDOUT, &err,
                 "of 4 header bytes");
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_FAILS(ik_sock_reader_frame(&rd, 100, &payload, &len, NULL, 30, &err), ETIMEDOUT, &err,
                 "of 4 header bytes");
    /* over the limit, from the header alone */
    ASSERT_OK(ik_sock_send_frame(sv[0], "0123456789", 10, -1, 1000, &err), &err);
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_FAILS(ik_sock_reader_frame(&rd, 9, &payload, &len, NULL, 1000, &err), IK_ELIMIT, &err,
                 "exceeds the limit");
    /* closed mid-frame, then at a frame boundary */
    ik_sock_reader_init(&rd, sv[1], true);
    {
        uint8_t hdr[4];
        ik_frame_put_header(hdr, 8);
        ASSERT_EQ(write(sv[0], hdr, 4), 4);
        ASSERT_EQ(write(sv[0], "abc", 3), 3);
    }
    close(sv[0]);
    ASSERT_FAILS(ik_sock_reader_frame(&rd, 100, &payload, &len, NULL, 1000, &err), IK_EPROTO, &err,
                 "connection closed after 3 of 8 payload bytes");
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_FAILS(ik_sock_reader_frame(&rd, 100, &payload, &len, NULL, 1000, &err), IK_EOS, &err,
                 "closed by peer");
    close(sv[1]);
    free(big);
}

/* Frames appended into one buffer (a reply's data frames): small glued frames, a frame larger
 * than the reader's buffer that arrives in pieces, an empty frame, a descriptor (closed), and
 * the same limit, truncation and timeout errors as ik_sock_reader_frame, the buffer kept. */
TEST(test_proto_reader_appends_frames_into_one_buffer)
{
    struct ik_error err;
    struct ik_sock_reader rd;
    struct ik_sock_dst dst = {0};
    size_t n = 3 * IK_SOCK_READER_BUF + 17, len = 99;
    uint8_t *big = malloc(n);
    int sv[2], file;
    pid_t pid;
    int st;
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 13);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    file = temp_file_with("x");
    ASSERT_TRUE(file >= 0);
    ASSERT_OK(ik_sock_send_frame(sv[0], "ab", 2, file, 1000, &err), &err);
    close(file);
    ASSERT_OK(ik_sock_send_frame(sv[0], "cde", 3, -1, 1000, &err), &err);
    pid = fork();
    if (pid == 0) { /* then a large frame in pieces, slowly */
        uint8_t hdr[4];
        ik_frame_put_header(hdr, (uint32_t)n);
        (void)!write(sv[0], hdr, 3);
        usleep(20000);
        (void)!write(sv[0], hdr + 3, 1);
        (void)!write(sv[0], big, 100);
        usleep(20000);
        (void)!write(sv[0], big + 100, n - 100);
        (void)!write(sv[0], "\0\0\0\0", 4);
        _exit(0);
    }
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_OK(ik_sock_reader_frame_append(&rd, n, &dst, &len, 2000, &err), &err);
    ASSERT_EQ(len, 2);
    ASSERT_EQ(rd.n_fds, 0); /* the descriptor was closed, not kept */
    ASSERT_OK(ik_sock_reader_frame_append(&rd, n, &dst, &len, 2000, &err), &err);
    ASSERT_EQ(len, 3);
    ASSERT_OK(ik_sock_reader_frame_append(&rd, n, &dst, &len, 2000, &err), &err);
    ASSERT_EQ(len, n);
    ASSERT_OK(ik_sock_reader_frame_append(&rd, n, &dst, &len, 2000, &err), &err);
    ASSERT_EQ(len, 0);
    ASSERT_EQ(dst.len, 5 + n);
    ASSERT_MEM_EQ(dst.p, "abcde", 5);
    ASSERT_MEM_EQ(dst.p + 5, big, n);
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_EQ(ik_sock_reader_pending(&rd), 0);

    /* over the limit, from the header alone; nothing more: the timeout; the buffer unchanged */
    ASSERT_OK(ik_sock_send_frame(sv[0], "0123456789", 10, -1, 1000, &err), &err);
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_FAILS(ik_sock_reader_frame_append(&rd, 9, &dst, &len, 1000, &err), IK_ELIMIT, &err,
                 "exceeds the limit");
    ik_sock_reader_init(&rd, sv[1], false); /* (the refused frame was read into the old one) */
    ASSERT_FAILS(ik_sock_reader_frame_append(&rd, 100, &dst, &len, 30, &err), ETIMEDOUT, &err,
                 "of 4 header bytes");
    ASSERT_EQ(dst.len, 5 + n);
    /* closed mid-frame (a large one), then at a frame boundary */
    {
        uint8_t hdr[4];
        ik_frame_put_header(hdr, (uint32_t)n);
        ASSERT_EQ(write(sv[0], hdr, 4), 4);
        ASSERT_EQ(write(sv[0], big, 3000), 3000);
    }
    close(sv[0]);
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_FAILS(ik_sock_reader_frame_append(&rd, n, &dst, &len, 1000, &err), IK_EPROTO, &err,
                 "payload bytes");
    ik_sock_reader_init(&rd, sv[1], true);
    ASSERT_FAILS(ik_sock_reader_frame_append(&rd, n, &dst, &len, 1000, &err), IK_EOS, &err,
                 "closed by peer");
    ASSERT_MEM_EQ(dst.p + 5, big, n);
    close(sv[1]);
    free(dst.p);
    free(big);
}

/* ---- the client's cheap reply header reader --------------------------------------------- */

TEST(test_proto_reply_query_fast_reads_our_headers_and_defers_the_rest)
{
    static const char *const ours[] = {
        "{\"ok\":true,\"method\":\"zero_copy\",\"source\":\"arrow_ipc_daemon\",\"transport\":"
        "\"fd\",\"table\":\"pin_index\",\"version\":12,\"table_rows\":1000000}",
        "{\"ok\":true,\"method\":\"zero_copy\",\"source\":\"arrow_ipc_daemon\",\"transport\":"
        "\"fd\",\"table\":\"pin_index\",\"version\":12,\"table_rows\":1000000,\"held\":true}",
        "{\"ok\":true,\"method\":\"ipc_stream\",\"source\":\"arrow_ipc_daemon\",\"table\":"
        "\"metrics\",\"version\":0,\"rows\":3,\"matched\":7,\"table_rows\":9,\"transport\":"
        "\"stream\",\"compression\":\"lz4\",\"future\":null,\"flag\":false,\"neg\":-4}",
        "{\"ok\":true}",
    };
    /* each is read exactly as jansson reads it */
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        struct ik_reply_query fast, slow;
        struct ik_error err;
        json_t *obj = NULL;
        ASSERT_EQ(ik_reply_query_fast(ours[i], strlen(ours[i]), &fast), 0);
        ASSERT_OK(ik_reply_parse(ours[i], strlen(ours[i]), &obj, &err), &err);
        ik_reply_query_from(obj, &slow);
        json_decref(obj);
        ASSERT_STR_EQ(fast.method, slow.method);
        ASSERT_STR_EQ(fast.compression, slow.compression);
        ASSERT_EQ(fast.version, slow.version);
        ASSERT_EQ(fast.table_rows, slow.table_rows);
        ASSERT_EQ(fast.matched, slow.matched);
        ASSERT_EQ(fast.held, slow.held);
    }
    {
        struct ik_reply_query r;
        ASSERT_EQ(ik_reply_query_fast(ours[1], strlen(ours[1]), &r), 0);
        ASSERT_STR_EQ(r.method, "zero_copy");
        ASSERT_EQ(r.version, 12);
        ASSERT_EQ(r.table_rows, 1000000);
        ASSERT_TRUE(r.held);
        /* every truncation is deferred, never misread */
        for (size_t n = 0; n < strlen(ours[1]); n++)
            ASSERT_EQ(ik_reply_query_fast(ours[1], n, &r), EAGAIN);
    }
    /* anything else goes to ik_reply_parse, which accepts or refuses it */
    static const char *const others[] = {
        "{\"ok\":false,\"error\":{\"code\":\"x\",\"message\":\"y\"}}",
        "{ \"ok\":true}",
        "{\"ok\":true, \"version\":1}",
        "{\"ok\":true,\"method\":\"zero\\u005fcopy\"}",
        "{\"ok\":true,\"capabilities\":{\"a\":true}}",
        "{\"ok\":true,\"version\":1.5}",
        "{\"ok\":true,\"version\":1e3}",
        "{\"ok\":true,\"version\":99999999999999999999}",
        "{\"ok\":true,\"version\":1,\"version\":2}",
        "{\"ok\":true,\"ok\":true}",
        "{\"ok\":true,\"method\":\"zero_copy_but_far_too_long\"}",
        "{\"ok\":true,\"m\":\"\xc3\xa9\"}",
        "{\"ok\":true}x",
        "{\"ok\":true,}",
        "{\"ok\":true,\"version\":-}",
        "{\"ok\":true,\"held\":tru}",
        "[\"ok\",true]",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        struct ik_reply_query r;
        ASSERT_EQ(ik_reply_query_fast(others[i], strlen(others[i]), &r), EAGAIN);
    }
}

/* ---- the daemon's cheap read of the common query ---------------------------------------- */

TEST(test_proto_request_fast_query_reads_as_jansson_does)
{
    static const char *const forms[] = {
        "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\"}",
        "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"limit\":100}",
        "{\"v\":1,\"op\":\"query\",\"table\":\"pin_index\",\"columns\":[\"cid\",\"name\"],"
        "\"offset\":5,\"limit\":0,\"have\":{\"version\":3,\"dev\":2049,\"ino\":123456789}}",
        "{\"v\":1,\"op\":\"query\",\"table\":\"vfs_stats\",\"offset\":999999999999999999}",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct ik_request fast, slow;
        struct ik_error err;
        char spaced[512];
        char *a, *b;
        /* one space after '{' is still JSON, but not the hand-written form: jansson reads it */
        snprintf(spaced, sizeof spaced, "{ %s", forms[i] + 1);
        ASSERT_OK(parse(forms[i], &fast, &err), &err);
        ASSERT_OK(parse(spaced, &slow, &err), &err);
        a = ik_request_to_json(&fast);
        b = ik_request_to_json(&slow);
        ASSERT_STR_EQ(a, forms[i]);
        ASSERT_STR_EQ(b, forms[i]);
        ASSERT_EQ(fast.have.set, slow.have.set);
        ASSERT_EQ(fast.query.limit, slow.query.limit);
        ASSERT_EQ(fast.query.offset, slow.query.offset);
        free(a);
        free(b);
        ik_request_reset(&fast);
        ik_request_reset(&slow);
    }
    /* near misses get jansson's verdict and message */
    static const struct bad_request near[] = {
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"limit\":01}", IK_EFORMAT, "invalid JSON"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"limit\":1}x", IK_EFORMAT, "invalid JSON"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"limit\":1.0}", EINVAL,
         "\"limit\" must be a non-negative integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"limit\":99999999999999999999}", IK_EFORMAT,
         "invalid JSON"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"\"}", EINVAL, "\"table\" must be a string of 1"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"columns\":[\"\"]}", EINVAL,
         "\"columns\" element 0 must be a non-empty string"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"have\":{\"version\":1,\"dev\":2}}", EINVAL,
         "\"have.ino\" must be a non-negative integer"},
        {"{\"v\":1,\"op\":\"query\",\"table\":\"t\",\"limit\":1,\"limit\":2}", IK_EFORMAT,
         "duplicate object key"},
    };
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
        struct ik_request r;
        struct ik_error err = {{0}};
        int rc = parse(near[i].json, &r, &err);
        ik_request_reset(&r);
        ASSERT_EQ(rc, near[i].code);
        ASSERT_TRUE(strstr(err.message, near[i].message) != NULL);
    }
}
