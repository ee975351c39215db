/* Tests of the pin store: open/create, add/upsert/remove/touch, pin validation, the generation
 * counter, every import format, the one-transaction rule, skip_invalid, a full disk, reading
 * pins as Arrow, queries answered by SQL against a reference filter, a read-only reader
 * next to a writer, and checkpoints left to the caller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ik_test.h"
#include "ipfskit/arrow.h"
#include "ipfskit/builder.h"
#include "ipfskit/cid.h"
#include "ipfskit/schemas.h"
#include "ipfskit/store.h"
#include "store/store_internal.h"
#include "store_testutil.h"

static int dir_no;

/* A fresh store in a new directory under the test tmpdir. */
static struct ik_store *fresh(char *dir, size_t cap)
{
    struct ik_error err;
    struct ik_store *st = NULL;
    snprintf(dir, cap, "%s/store%d", ik_test_tmpdir(), ++dir_no);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0)
        fprintf(stderr, "open: %s\n", err.message);
    return st;
}

static int import_text(struct ik_store *st, const char *text, bool skip,
                       struct ik_import_result *res, struct ik_error *err)
{
    struct ik_import_options o;
    ik_import_options_init(&o);
    o.skip_invalid = skip;
    return ik_store_import(st, (const uint8_t *)text, strlen(text), &o, res, err);
}

/* ---- reading values back out of a pin_index batch ---------------------------------------- */

static int col_of(const struct ArrowSchema *s, const char *name)
{
    int64_t i;
    for (i = 0; i < s->n_children; i++)
        if (strcmp(s->children[i]->name, name) == 0)
            return (int)i;
    return -1;
}

static bool is_null(const struct ArrowArray *a, int64_t i)
{
    const uint8_t *v = a->buffers[0];
    i += a->offset;
    return v != NULL && !((v[i >> 3] >> (i & 7)) & 1);
}

/* The string at row i of a utf8 or dictionary<int8|int16, utf8> column, copied into buf. */
static const char *str_at(const struct ArrowSchema *s, const struct ArrowArray *b, const char *name,
                          int64_t i, char *buf, size_t cap)
{
    int c = col_of(s, name);
    const struct ArrowArray *a;
    const int32_t *o;
    int64_t k;
    size_t n;
    if (c < 0)
        return "(no column)";
    a = b->children[c];
    if (is_null(a, i))
        return NULL;
    k = i + a->offset;
    if (a->dictionary != NULL) {
        k = s->children[c]->format[0] == 'c' ? ((const int8_t *)a->buffers[1])[k]
                                             : ((const int16_t *)a->buffers[1])[k];
        a = a->dictionary;
        k += a->offset;
    }
    o = a->buffers[1];
    n = (size_t)(o[k + 1] - o[k]);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, (const char *)a->buffers[2] + o[k], n);
    buf[n] = 0;
    return buf;
}

static int64_t int_at(const struct ArrowSchema *s, const struct ArrowArray *b, const char *name,
                      int64_t i)
{
    int c = col_of(s, name);
    const struct ArrowArray *a = b->children[c];
    int64_t k = i + a->offset;
    if (is_null(a, i))
        return -999;
    if (s->children[c]->format[0] == 'b')
        return (((const uint8_t *)a->buffers[1])[k >> 3] >> (k & 7)) & 1;
    if (s->children[c]->format[0] == 'i')
        return ((const int32_t *)a->buffers[1])[k];
    return ((const int64_t *)a->buffers[1])[k];
}

static void release_both(struct ArrowSchema *s, struct ArrowArray *a)
{
    if (s->release)
        s->release(s);
    if (a->release)
        a->release(a);
}

/* ---- open, add, remove, touch ---------------------------------------------------------- */

TEST(test_store_open_needs_create_and_reopens)
{
    struct ik_error err;
    struct ik_store *st = NULL;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/open%d", ik_test_tmpdir(), ++dir_no);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), ENOENT, &err, "does not exist");
    ASSERT_FAILS(ik_store_open(dir, IK_STORE_READONLY, &st, &err), ENOENT, &err, "pins.db");
    ASSERT_OK(ik_store_open(dir, IK_STORE_CREATE, &st, &err), &err);
    ASSERT_EQ(ik_store_count(st), 0);
    ik_store_close(st);
    ASSERT_OK(ik_store_open(dir, 0, &st, &err), &err);
    ASSERT_EQ(ik_store_count(st), 0);
    ik_store_close(st);
    ASSERT_OK(ik_store_open(dir, IK_STORE_READONLY, &st, &err), &err);
    ASSERT_EQ(ik_store_count(st), 0);
    ik_store_close(st);
    ik_store_close(NULL);
}

TEST(test_store_refuses_newer_schema_version)
{
    struct ik_error err;
    struct ik_store *st;
    char dir[256];
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(sqlite3_exec(ik__store_db(st),
                           "UPDATE meta SET value = 4 WHERE key = 'schema_version'", NULL, NULL,
                           NULL),
              SQLITE_OK);
    ik_store_close(st);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), ENOTSUP, &err, "schema version 4");
}

TEST(test_store_add_upsert_remove_touch)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_pin p;
    struct ArrowSchema s;
    struct ArrowArray b;
    char dir[256], cid[47], buf[128];

    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(1, cid);
    ik_pin_init(&p);
    p.cid = cid;
    p.name = "first";
    p.size_bytes = 100;
    p.timestamp_us = 1700000000000000;
    ASSERT_OK(ik_store_add(st, &p, &err), &err);
    ASSERT_OK(ik_store_touch(st, cid, 1700000000000123, &err), &err);
    ASSERT_OK(ik_store_touch(st, cid, 1700000000000456, &err), &err);

    /* upsert: new name and type; access_count and last_access kept; size kept (not given) */
    ik_pin_init(&p);
    p.cid = cid;
    p.name = "second";
    p.pin_type = "direct";
    p.metadata = "{\"k\": 1}";
    p.vfs_path = "/a/b";
    ASSERT_OK(ik_store_add(st, &p, &err), &err);
    ASSERT_EQ(ik_store_count(st), 1);

    ASSERT_OK(ik_store_read_pins(st, &s, &b, &err), &err);
    ASSERT_EQ(b.length, 1);
    ASSERT_STR_EQ(str_at(&s, &b, "cid", 0, buf, sizeof buf), cid);
    ASSERT_STR_EQ(str_at(&s, &b, "name", 0, buf, sizeof buf), "second");
    ASSERT_STR_EQ(str_at(&s, &b, "pin_type", 0, buf, sizeof buf), "direct");
    ASSERT_STR_EQ(str_at(&s, &b, "backend", 0, buf, sizeof buf), "ipfs");
    ASSERT_STR_EQ(str_at(&s, &b, "metadata", 0, buf, sizeof buf), "{\"k\": 1}");
    ASSERT_STR_EQ(str_at(&s, &b, "vfs_path", 0, buf, sizeof buf), "/a/b");
    ASSERT_EQ(int_at(&s, &b, "size_bytes", 0), 100);
    ASSERT_EQ(int_at(&s, &b, "timestamp", 0), 1700000000000000);
    ASSERT_EQ(int_at(&s, &b, "access_count", 0), 2);
    ASSERT_EQ(int_at(&s, &b, "last_access", 0), 1700000000000456);
    ASSERT_EQ(int_at(&s, &b, "replication_factor", 0), 1);
    ASSERT_EQ(int_at(&s, &b, "verified", 0), 0);
    release_both(&s, &b);

    ASSERT_OK(ik_store_remove(st, cid, &err), &err);
    ASSERT_EQ(ik_store_count(st), 0);
    ASSERT_FAILS(ik_store_remove(st, cid, &err), ENOENT, &err, "no pin");
    ASSERT_FAILS(ik_store_touch(st, cid, 0, &err), ENOENT, &err, "no pin");
    ik_store_close(st);
}

TEST(test_store_pin_check_names_the_reason)
{
    struct ik_error err;
    struct ik_pin p;
    char cid[47];
    ik_test_cidv0(2, cid);
    ik_pin_init(&p);
    p.cid = "Qm123";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "invalid CID 'Qm123': ");
    p.cid = cid;
    ASSERT_OK(ik_pin_check(&p, &err), &err);
    p.pin_type = "foo";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err,
                 "pin_type 'foo' is not one of recursive, direct, indirect");
    p.pin_type = "indirect";
    p.metadata = "[1]";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "metadata is not a JSON object");
    p.metadata = "{\"a\":";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "metadata is not valid JSON");
    p.metadata = "{}";
    p.vfs_path = "a/b";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "not absolute");
    p.vfs_path = "/a//b";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "'//'");
    p.vfs_path = "/a/";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "ends with '/'");
    p.vfs_path = "/a/../b";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "not normalised");
    p.vfs_path = "/";
    ASSERT_OK(ik_pin_check(&p, &err), &err);
    p.vfs_path = "/a/.b/c..";
    ASSERT_OK(ik_pin_check(&p, &err), &err);
    p.replication_factor = -1;
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "replication_factor -1");
    p.replication_factor = 0;
    p.access_count = -3;
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "access_count -3 is negative");
}

TEST(test_store_generation_grows_with_each_write)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_pin p;
    struct ik_import_result res;
    uint64_t g0, g1, g2, g3, g4;
    char dir[256], cid[47], line[128];
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(3, cid);
    ASSERT_OK(ik_store_generation(st, &g0, &err), &err);
    ik_pin_init(&p);
    p.cid = cid;
    ASSERT_OK(ik_store_add(st, &p, &err), &err);
    ASSERT_OK(ik_store_generation(st, &g1, &err), &err);
    ASSERT_OK(ik_store_touch(st, cid, 0, &err), &err);
    ASSERT_OK(ik_store_generation(st, &g2, &err), &err);
    snprintf(line, sizeof line, "{\"Cid\":\"%s\",\"Type\":\"direct\"}\n", cid);
    ASSERT_OK(import_text(st, line, false, &res, &err), &err);
    ASSERT_OK(ik_store_generation(st, &g3, &err), &err);
    ASSERT_OK(ik_store_remove(st, cid, &err), &err);
    ASSERT_OK(ik_store_generation(st, &g4, &err), &err);
    ASSERT_TRUE(g0 < g1 && g1 < g2 && g2 < g3 && g3 < g4);
    /* failures change nothing */
    ASSERT_FAILS(ik_store_remove(st, cid, &err), ENOENT, &err, "no pin");
    ASSERT_NE(import_text(st, "{\"Cid\":\"Qm1\"}\n", false, &res, &err), 0);
    ASSERT_OK(ik_store_generation(st, &g0, &err), &err);
    ASSERT_EQ(g0, g4);
    ik_store_close(st);
}

/* ---- imports --------------------------------------------------------------------------- */

TEST(test_store_import_kubo_json_object)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    struct ArrowSchema s;
    struct ArrowArray b;
    char dir[256], c1[47], c2[47], text[512], buf[128];
    const char *first;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(10, c1);
    ik_test_cidv0(11, c2);
    snprintf(text, sizeof text,
             "{\"Keys\":{\"%s\":{\"Type\":\"recursive\",\"Name\":\"\"},\n"
             "  \"%s\":{\"Type\":\"indirect through %s\",\"Name\":\"n\\u00e9\"}}}\n",
             c1, c2, c1);
    ASSERT_OK(import_text(st, text, false, &res, &err), &err);
    ASSERT_EQ(res.imported, 2);
    ASSERT_EQ(res.skipped, 0);
    ASSERT_OK(ik_store_read_pins(st, &s, &b, &err), &err);
    ASSERT_EQ(b.length, 2);
    first = strcmp(c1, c2) < 0 ? c1 : c2;
    ASSERT_STR_EQ(str_at(&s, &b, "cid", 0, buf, sizeof buf), first);
    ASSERT_STR_EQ(str_at(&s, &b, "pin_type", first == c1 ? 1 : 0, buf, sizeof buf), "indirect");
    ASSERT_STR_EQ(str_at(&s, &b, "name", first == c1 ? 1 : 0, buf, sizeof buf), "n\xc3\xa9");
    ASSERT_TRUE(str_at(&s, &b, "name", first == c1 ? 0 : 1, buf, sizeof buf) == NULL);
    ASSERT_TRUE(int_at(&s, &b, "timestamp", 0) > 1600000000000000);
    release_both(&s, &b);

    snprintf(text, sizeof text, "{\"Keys\":{\"%s\":{\"Type\":\"recursive\"},\n\"Qm123\":{}}}", c1);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err,
                 "line 2: invalid CID 'Qm123'");
    ASSERT_FAILS(import_text(st, "{\"Keys\":{\"x\" 1}}", false, &res, &err), EINVAL, &err,
                 "line 1: bad JSON: expected ':'");
    ik_store_close(st);
}

TEST(test_store_import_kubo_stream_lines)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    char dir[256], c[3][47], text[1024];
    int i;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    for (i = 0; i < 3; i++)
        ik_test_cidv0(20 + (uint64_t)i, c[i]);
    snprintf(text, sizeof text,
             "{\"Cid\":\"%s\",\"Name\":\"\",\"Type\":\"recursive\"}\n"
             "\r\n"
             "{\"Cid\":\"%s\",\"Name\":\"a\",\"Type\":\"direct\"}\r\n"
             "{\"Cid\":\"%s\",\"Name\":\"\",\"Type\":\"indirect through %s\"}",
             c[0], c[1], c[2], c[0]);
    ASSERT_OK(import_text(st, text, false, &res, &err), &err);
    ASSERT_EQ(res.imported, 3);
    ASSERT_EQ(ik_store_count(st), 3);
    snprintf(text, sizeof text, "{\"Cid\":\"%s\"}\n{\"Cid\":\"%s\",\"Type\":\"weird\"}\n", c[0],
             c[1]);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err,
                 "line 2: pin_type 'weird' is not one of");
    ASSERT_FAILS(import_text(st, "{\"Cid\":\"x\"\n", false, &res, &err), EINVAL, &err,
                 "line 1: bad JSON: expected ',' or '}' at column 11");
    ik_store_close(st);
}

/* Lines are inserted in cid order: CIDs whose first 16 characters tie (the sort key) still sort
 * by the whole CID, and of two lines with the same CID the later one is applied last. */
TEST(test_store_import_lines_sort_by_whole_cid_and_later_duplicate_wins)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    struct ik_cid cid;
    struct ArrowSchema s;
    struct ArrowArray b;
    char dir[256], c[3][47], sib[64], text[2048], buf[64];
    const char *want[4][3];
    int i, k;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    for (i = 0; i < 3; i++)
        ik_test_cidv0(40 + (uint64_t)i, c[i]);
    ASSERT_OK(ik_cid_parse(c[0], 46, &cid, &err), &err);
    cid.binary[cid.binary_len - 1] ^= 1; /* the same multihash but its last bit */
    ASSERT_EQ(ik_cid_format(&cid, sib, sizeof sib), 46);
    ASSERT_TRUE(strncmp(sib, c[0], 16) == 0 && strcmp(sib, c[0]) != 0);
    snprintf(text, sizeof text,
             "{\"Cid\":\"%s\",\"Name\":\"two\"}\n"
             "{\"Cid\":\"%s\",\"Name\":\"sib\"}\n"
             "{\"Cid\":\"%s\",\"Name\":\"old\",\"Type\":\"direct\"}\n"
             "{\"Cid\":\"%s\",\"Name\":\"one\"}\n"
             "{\"Cid\":\"%s\",\"Name\":\"new\"}\n",
             c[2], sib, c[0], c[1], c[0]);
    ASSERT_OK(import_text(st, text, false, &res, &err), &err);
    ASSERT_EQ(res.imported, 5);
    ASSERT_EQ(ik_store_count(st), 4);
    want[0][0] = c[0], want[0][1] = "new", want[0][2] = "direct";
    want[1][0] = sib, want[1][1] = "sib", want[1][2] = "recursive";
    want[2][0] = c[1], want[2][1] = "one", want[2][2] = "recursive";
    want[3][0] = c[2], want[3][1] = "two", want[3][2] = "recursive";
    ASSERT_OK(ik_store_read_pins(st, &s, &b, &err), &err);
    ASSERT_EQ(b.length, 4);
    for (i = 0; i < 4; i++) {
        for (k = 0; k < 4; k++)
            if (strcmp(str_at(&s, &b, "cid", i, buf, sizeof buf), want[k][0]) == 0)
                break;
        ASSERT_TRUE(k < 4);
        ASSERT_STR_EQ(str_at(&s, &b, "name", i, buf, sizeof buf), want[k][1]);
        ASSERT_STR_EQ(str_at(&s, &b, "pin_type", i, buf, sizeof buf), want[k][2]);
    }
    release_both(&s, &b);
    ik_store_close(st);
}

TEST(test_store_import_cluster_state_export)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    struct ArrowSchema s;
    struct ArrowArray b;
    char dir[256], c1[47], c2[47], text[2048], buf[128];
    int64_t r1;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(30, c1);
    ik_test_cidv0(31, c2);
    snprintf(text, sizeof text,
             "{\"cid\":{\"/\":\"%s\"},\"name\":\"web\",\"allocations\":[],\"max_depth\":-1,"
             "\"reference\":null,\"replication_factor_min\":-1,\"replication_factor_max\":-1,"
             "\"shard_size\":0,\"user_allocations\":null,\"expire_at\":\"0001-01-01T00:00:00Z\","
             "\"metadata\":{\"a\":\"b\"},\"pin_update\":null,\"origins\":[],\"mode\":\"direct\","
             "\"type\":2,\"timestamp\":\"2024-01-02T03:04:05.5Z\"}\n"
             "{\"cid\":\"%s\",\"name\":\"\",\"replication_factor_min\":3,\"mode\":\"recursive\","
             "\"type\":2,\"metadata\":null,\"timestamp\":\"2024-01-02T04:04:05+01:00\"}\n",
             c1, c2);
    ASSERT_OK(import_text(st, text, false, &res, &err), &err);
    ASSERT_EQ(res.imported, 2);
    ASSERT_OK(ik_store_read_pins(st, &s, &b, &err), &err);
    r1 = strcmp(c1, c2) < 0 ? 0 : 1;
    ASSERT_STR_EQ(str_at(&s, &b, "cid", r1, buf, sizeof buf), c1);
    ASSERT_STR_EQ(str_at(&s, &b, "name", r1, buf, sizeof buf), "web");
    ASSERT_STR_EQ(str_at(&s, &b, "pin_type", r1, buf, sizeof buf), "direct");
    ASSERT_STR_EQ(str_at(&s, &b, "metadata", r1, buf, sizeof buf), "{\"a\":\"b\"}");
    ASSERT_EQ(int_at(&s, &b, "replication_factor", r1), 0);
    ASSERT_EQ(int_at(&s, &b, "timestamp", r1), 1704164645500000);
    ASSERT_EQ(int_at(&s, &b, "replication_factor", 1 - r1), 3);
    ASSERT_EQ(int_at(&s, &b, "timestamp", 1 - r1), 1704164645000000);
    ASSERT_TRUE(str_at(&s, &b, "metadata", 1 - r1, buf, sizeof buf) == NULL);
    release_both(&s, &b);
    ik_store_close(st);
}

TEST(test_store_import_own_columns_as_json_lines)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_import_options o;
    char dir[256], c1[47], text[1024], buf[128];
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(40, c1);
    snprintf(text, sizeof text,
             "{\"cid\":\"%s\",\"name\":\"q\\\"x\\n\",\"size_bytes\":5,\"pin_type\":\"direct\","
             "\"timestamp\":1000,\"metadata\":\"{\\\"a\\\":1}\",\"verified\":true,"
             "\"last_access\":2000,\"vfs_path\":\"/m/n\",\"access_count\":4,"
             "\"replication_factor\":2,\"unknown\":[1,{\"x\":null}]}\n",
             c1);
    ik_import_options_init(&o);
    o.default_backend = "s3";
    ASSERT_OK(ik_store_import(st, (const uint8_t *)text, strlen(text), &o, &res, &err), &err);
    ASSERT_OK(ik_store_read_pins(st, &s, &b, &err), &err);
    ASSERT_EQ(b.length, 1);
    ASSERT_STR_EQ(str_at(&s, &b, "name", 0, buf, sizeof buf), "q\"x\n");
    ASSERT_STR_EQ(str_at(&s, &b, "metadata", 0, buf, sizeof buf), "{\"a\":1}");
    ASSERT_STR_EQ(str_at(&s, &b, "backend", 0, buf, sizeof buf), "s3");
    ASSERT_STR_EQ(str_at(&s, &b, "vfs_path", 0, buf, sizeof buf), "/m/n");
    ASSERT_EQ(int_at(&s, &b, "size_bytes", 0), 5);
    ASSERT_EQ(int_at(&s, &b, "timestamp", 0), 1000);
    ASSERT_EQ(int_at(&s, &b, "verified", 0), 1);
    ASSERT_EQ(int_at(&s, &b, "last_access", 0), 2000);
    ASSERT_EQ(int_at(&s, &b, "access_count", 0), 4);
    ASSERT_EQ(int_at(&s, &b, "replication_factor", 0), 2);
    release_both(&s, &b);
    snprintf(text, sizeof text, "{\"cid\":\"%s\",\"size_bytes\":\"5\"}", c1);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err,
                 "line 1: size_bytes is not an integer");
    snprintf(text, sizeof text, "{\"cid\":\"%s\",\"vfs_path\":\"rel\"}", c1);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err,
                 "line 1: vfs_path 'rel' is not absolute");
    ik_store_close(st);
}

TEST(test_store_import_csv_with_quotes)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    struct ArrowSchema s;
    struct ArrowArray b;
    char dir[256], c[3][47], text[1024], buf[128];
    int i, r;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    for (i = 0; i < 3; i++)
        ik_test_cidv0(50 + (uint64_t)i, c[i]);
    snprintf(
        text, sizeof text,
        "\xef\xbb\xbf"
        "cid,name,size_bytes,pin_type,verified,timestamp,metadata\r\n"
        "%s,\"a, \"\"quoted\"\"\nname\",12,direct,true,2024-01-02T03:04:05Z,\"{\"\"k\"\":2}\"\r\n"
        "%s,,,,,,\n"
        "\n"
        "%s,plain,7,indirect,0,1500,",
        c[0], c[1], c[2]);
    ASSERT_OK(import_text(st, text, false, &res, &err), &err);
    ASSERT_EQ(res.imported, 3);
    ASSERT_OK(ik_store_read_pins(st, &s, &b, &err), &err);
    ASSERT_EQ(b.length, 3);
    for (r = 0; r < 3; r++) {
        const char *cid = str_at(&s, &b, "cid", r, buf, sizeof buf);
        if (strcmp(cid, c[0]) == 0) {
            ASSERT_STR_EQ(str_at(&s, &b, "name", r, buf, sizeof buf), "a, \"quoted\"\nname");
            ASSERT_STR_EQ(str_at(&s, &b, "metadata", r, buf, sizeof buf), "{\"k\":2}");
            ASSERT_STR_EQ(str_at(&s, &b, "pin_type", r, buf, sizeof buf), "direct");
            ASSERT_EQ(int_at(&s, &b, "size_bytes", r), 12);
            ASSERT_EQ(int_at(&s, &b, "verified", r), 1);
            ASSERT_EQ(int_at(&s, &b, "timestamp", r), 1704164645000000);
        } else if (strcmp(cid, c[1]) == 0) {
            ASSERT_TRUE(str_at(&s, &b, "name", r, buf, sizeof buf) == NULL);
            ASSERT_STR_EQ(str_at(&s, &b, "pin_type", r, buf, sizeof buf), "recursive");
            ASSERT_EQ(int_at(&s, &b, "size_bytes", r), -999);
        } else {
            ASSERT_STR_EQ(str_at(&s, &b, "name", r, buf, sizeof buf), "plain");
            ASSERT_EQ(int_at(&s, &b, "timestamp", r), 1500);
            ASSERT_EQ(int_at(&s, &b, "verified", r), 0);
        }
    }
    release_both(&s, &b);
    /* the line number of a record counts the newlines inside quoted fields */
    snprintf(text, sizeof text, "cid,name\n%s,\"x\ny\"\n%s,z,extra\n", c[0], c[1]);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err,
                 "line 4: 3 fields, the header has 2");
    ASSERT_FAILS(import_text(st, "cid,colour\n", false, &res, &err), EINVAL, &err,
                 "'colour' is not a pin_index column");
    ASSERT_FAILS(import_text(st, "name\nx\n", false, &res, &err), EINVAL, &err, "no 'cid'");
    snprintf(text, sizeof text, "cid,size_bytes\n%s,12kb\n", c[0]);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err,
                 "line 2: size_bytes '12kb' is not an integer");
    snprintf(text, sizeof text, "cid,name\n%s,\"open\n", c[0]);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err, "bad CSV quoting");
    ik_store_close(st);
}

/* Builds an Arrow IPC stream or file of n pin_index rows with the row builder. */
static int arrow_pins(int n, bool bad_row_2, enum ik_ipc_format fmt, struct ik_test_sink *out,
                      struct ik_error *err)
{
    struct ik_builder *b = NULL;
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_ipc_writer *w = NULL;
    struct ik_write_options o;
    int i, rc;
    char cid[47];
    if ((rc = ik_builder_create_table("pin_index", 0, &b, err)) != 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++) {
        ik_test_cidv0(60 + (uint64_t)i, cid);
        if (bad_row_2 && i == 2)
            cid[5] = '0';
        rc = ik_builder_str(b, 0, cid, 46, err);
        if (rc == 0)
            rc = ik_builder_str(b, 1, "arrow", 5, err);
        if (rc == 0)
            rc = ik_builder_int(b, 2, 1000 + i, err);
        if (rc == 0)
            rc = ik_builder_str(b, 3, i % 2 ? "direct" : "recursive", i % 2 ? 6 : 9, err);
        if (rc == 0)
            rc = ik_builder_int(b, 4, 5000000 + i, err);
        if (rc == 0)
            rc = ik_builder_str(b, 6, "ipfs", 4, err);
        if (rc == 0)
            rc = ik_builder_int(b, 7, 2, err);
        if (rc == 0)
            rc = ik_builder_bool(b, 8, i % 2 == 0, err);
        if (rc == 0)
            rc = ik_builder_int(b, 11, i, err);
        if (rc == 0)
            rc = ik_builder_end_row(b, err);
    }
    if (rc == 0)
        rc = ik_builder_finish(b, NULL, &s, &a, err);
    ik_builder_destroy(b);
    if (rc != 0)
        return rc;
    ik_write_options_init(&o);
    o.format = fmt;
    rc = ik_ipc_writer_create(&s, &o, ik_test_sink_write, out, &w, err);
    if (rc == 0)
        rc = ik_ipc_writer_write(w, &a, err);
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    ik_ipc_writer_destroy(w);
    release_both(&s, &a);
    return rc;
}

TEST(test_store_import_arrow_stream_and_file)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    struct ik_import_options o;
    struct ik_test_sink bytes = {0};
    struct ArrowSchema s;
    struct ArrowArray b;
    char dir[256], buf[128];
    int f;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ik_import_options_init(&o);
    for (f = 0; f < 2; f++) {
        bytes.len = 0;
        ASSERT_OK(arrow_pins(5, false, f ? IK_IPC_FILE : IK_IPC_STREAM, &bytes, &err), &err);
        ASSERT_OK(ik_store_import(st, bytes.p, bytes.len, &o, &res, &err), &err);
        ASSERT_EQ(res.imported, 5);
    }
    ASSERT_EQ(ik_store_count(st), 5);
    ASSERT_OK(ik_store_read_pins(st, &s, &b, &err), &err);
    ASSERT_STR_EQ(str_at(&s, &b, "name", 0, buf, sizeof buf), "arrow");
    ASSERT_EQ(int_at(&s, &b, "replication_factor", 0), 2);
    ASSERT_TRUE(int_at(&s, &b, "timestamp", 0) >= 5000000 &&
                int_at(&s, &b, "timestamp", 0) < 5000005);
    release_both(&s, &b);
    bytes.len = 0;
    ASSERT_OK(arrow_pins(5, true, IK_IPC_STREAM, &bytes, &err), &err);
    ASSERT_FAILS(ik_store_import(st, bytes.p, bytes.len, &o, &res, &err), EINVAL, &err,
                 "record batch 0 row 2: invalid CID");
    ASSERT_NE(ik_store_import(st, bytes.p, bytes.len / 2, &o, &res, &err), 0);
    ASSERT_TRUE(strstr(err.message, "Arrow") != NULL);
    ASSERT_EQ(ik_store_count(st), 5);
    free(bytes.p);
    ik_store_close(st);
}

/* n kubo --stream lines; line `bad` (1-based, 0 = none) gets an invalid CID. */
static char *kubo_lines(int n, int bad, int bad2)
{
    char *text = malloc((size_t)n * 100 + 1), *p = text, cid[47];
    int i;
    for (i = 1; i <= n; i++) {
        ik_test_cidv0(1000 + (uint64_t)i, cid);
        if (i == bad || i == bad2)
            cid[10] = 'l'; /* not in the base58 alphabet */
        p += sprintf(p, "{\"Cid\":\"%s\",\"Name\":\"\",\"Type\":\"recursive\"}\n", cid);
    }
    return text;
}

TEST(test_store_import_is_all_or_nothing)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    uint64_t g0, g1;
    char dir[256];
    char *ok = kubo_lines(3, 0, 0), *text = kubo_lines(1000, 500, 0);
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(import_text(st, ok, false, &res, &err), &err);
    ASSERT_OK(ik_store_generation(st, &g0, &err), &err);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), EINVAL, &err, "line 500: invalid CID '");
    ASSERT_EQ(res.imported, 0);
    ASSERT_EQ(ik_store_count(st), 3);
    ASSERT_OK(ik_store_generation(st, &g1, &err), &err);
    ASSERT_EQ(g1, g0);
    free(ok);
    free(text);
    ik_store_close(st);
}

TEST(test_store_import_skip_invalid_counts_and_keeps_first_reason)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    char dir[256];
    char *text = kubo_lines(1000, 10, 500);
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    strcat(text, "{\"Cid\": oops}\n");
    ASSERT_OK(import_text(st, text, true, &res, &err), &err);
    ASSERT_EQ(res.imported, 998);
    ASSERT_EQ(res.skipped, 3);
    ASSERT_TRUE(strncmp(res.first_skip, "line 10: invalid CID '", 22) == 0);
    ASSERT_EQ(ik_store_count(st), 998);
    free(text);
    ik_store_close(st);
}

TEST(test_store_import_full_disk_rolls_back_with_sqlite_message)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_result res;
    char dir[256];
    char *text = kubo_lines(20000, 0, 0);
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(import_text(st, "{\"Cid\":\"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG\"}", false,
                          &res, &err),
              &err);
    ASSERT_EQ(sqlite3_exec(ik__store_db(st), "PRAGMA max_page_count = 40", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_FAILS(import_text(st, text, false, &res, &err), ENOSPC, &err,
                 "database or disk is full");
    ASSERT_EQ(ik_store_count(st), 1);
    ASSERT_EQ(sqlite3_exec(ik__store_db(st), "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_OK(import_text(st, text, false, &res, &err), &err);
    ASSERT_EQ(ik_store_count(st), 20001);
    free(text);
    ik_store_close(st);
}

TEST(test_store_readonly_reads_while_a_writer_holds_a_transaction)
{
    struct ik_error err;
    struct ik_store *w, *r;
    struct ik_import_result res;
    struct ik_pin p;
    struct ArrowSchema s;
    struct ArrowArray b;
    uint64_t g;
    char dir[256];
    char *text = kubo_lines(10, 0, 0);
    w = fresh(dir, sizeof dir);
    ASSERT_TRUE(w != NULL);
    ASSERT_OK(import_text(w, text, false, &res, &err), &err);
    ASSERT_EQ(sqlite3_exec(ik__store_db(w), "BEGIN IMMEDIATE; DELETE FROM pins;", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_OK(ik_store_open(dir, IK_STORE_READONLY, &r, &err), &err);
    ASSERT_EQ(ik_store_count(r), 10);
    ASSERT_OK(ik_store_generation(r, &g, &err), &err);
    ASSERT_OK(ik_store_read_pins(r, &s, &b, &err), &err);
    ASSERT_EQ(b.length, 10);
    release_both(&s, &b);
    ik_pin_init(&p);
    p.cid = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
    ASSERT_FAILS(ik_store_add(r, &p, &err), EINVAL, &err, "read-only");
    ASSERT_EQ(sqlite3_exec(ik__store_db(w), "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ(ik_store_count(r), 0);
    ik_store_close(r);
    ik_store_close(w);
    free(text);
}

static int64_t file_size(const char *dir, const char *name)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* 20000 pins with 1000-byte names: ~22 MB, over the 1000-page (16 MB) checkpoint threshold. */
static char *big_lines(void)
{
    char *text = malloc(20000 * 1100 + 1), *p = text, cid[47], name[1001];
    int i;
    memset(name, 'n', 1000);
    name[1000] = 0;
    for (i = 0; i < 20000; i++) {
        ik_test_cidv0(70000 + (uint64_t)i, cid);
        p += sprintf(p, "{\"Cid\":\"%s\",\"Name\":\"%s\"}\n", cid, name);
    }
    return text;
}

TEST(test_store_manual_checkpoint_leaves_the_wal_to_the_caller)
{
    struct ik_error err;
    struct ik_store *w, *r, *auto_st;
    struct ik_import_result res;
    char dir[256], dir2[256];
    char *text = big_lines();
    snprintf(dir, sizeof dir, "%s/store%d", ik_test_tmpdir(), ++dir_no);
    ASSERT_OK(ik_store_open(dir, IK_STORE_CREATE | IK_STORE_MANUAL_CHECKPOINT, &w, &err), &err);
    ASSERT_OK(import_text(w, text, false, &res, &err), &err);
    ASSERT_TRUE(file_size(dir, "pins.db") < (1 << 20)); /* all of it still in the WAL */
    ASSERT_TRUE(file_size(dir, "pins.db-wal") > (20 << 20));
    ASSERT_TRUE(ik_store_wal_pages(w) > 1000); /* what the daemon's writer hands on */
    ASSERT_OK(ik_store_open(dir, IK_STORE_READONLY, &r, &err), &err);
    ASSERT_EQ(ik_store_wal_pages(r), 0);
    ASSERT_EQ(ik_store_count(r), 20000);
    ASSERT_FAILS(ik_store_checkpoint(r, &err), EINVAL, &err, "read-only");
    ASSERT_OK(ik_store_checkpoint(w, &err), &err);
    ASSERT_TRUE(file_size(dir, "pins.db") > (20 << 20));
    ASSERT_EQ(ik_store_count(r), 20000);
    ik_store_close(r);
    ik_store_close(w);
    /* without the flag, the commit checkpoints as SQLite does by default */
    auto_st = fresh(dir2, sizeof dir2);
    ASSERT_TRUE(auto_st != NULL);
    ASSERT_OK(import_text(auto_st, text, false, &res, &err), &err);
    ASSERT_TRUE(file_size(dir2, "pins.db") > (20 << 20));
    ik_store_close(auto_st);
    free(text);
}

/* The daemon's checkpoint thread: a second connection opened without the flag checkpoints
 * for the writer at each call; the writer's next commit then starts the WAL over, and the
 * pages it reports say so. */
TEST(test_store_checkpoint_from_another_connection)
{
    struct ik_error err;
    struct ik_store *w, *c;
    struct ik_import_result res;
    struct ik_pin pin;
    char dir[256], cid[47];
    char *text = big_lines();
    snprintf(dir, sizeof dir, "%s/store%d", ik_test_tmpdir(), ++dir_no);
    ASSERT_OK(ik_store_open(dir, IK_STORE_CREATE | IK_STORE_MANUAL_CHECKPOINT, &w, &err), &err);
    ASSERT_OK(import_text(w, text, false, &res, &err), &err);
    ASSERT_TRUE(ik_store_wal_pages(w) > 1000);
    ASSERT_TRUE(file_size(dir, "pins.db") < (1 << 20));
    ASSERT_OK(ik_store_open(dir, 0, &c, &err), &err);
    ASSERT_EQ(ik_store_wal_pages(c), 0); /* it commits nothing itself */
    {
        int64_t copied = -2;
        ASSERT_OK(ik_store_checkpoint_now(c, &copied, &err), &err);
        ASSERT_EQ(copied, ik_store_wal_pages(w)); /* every frame, counted from the WAL's start */
    }
    ASSERT_TRUE(file_size(dir, "pins.db") > (20 << 20));
    ik_pin_init(&pin);
    ik_test_cidv0(99, cid);
    pin.cid = cid;
    ASSERT_OK(ik_store_add(w, &pin, &err), &err);
    ASSERT_TRUE(ik_store_wal_pages(w) > 0);
    ASSERT_TRUE(ik_store_wal_pages(w) < 100); /* written from the WAL's start again */
    ASSERT_EQ(ik_store_count(w), 20001);
    ik_store_close(c);
    ik_store_close(w);
    free(text);
}

/* ---- queries: SQL against a reference filter over the same pins ------------------------- */

#define NQ 300

struct refpin {
    char cid[47];
    char name[16]; /* "" = null */
    const char *pin_type, *backend;
    int64_t size; /* -1 = null */
    char vfs[32]; /* "" = null */
    bool verified;
    int64_t ts;
};

static struct refpin refs[NQ];

static int by_cid(const void *a, const void *b)
{
    return strcmp(((const struct refpin *)a)->cid, ((const struct refpin *)b)->cid);
}

static struct ik_store *query_store(struct ik_error *err)
{
    static const char *const types[] = {"recursive", "direct", "indirect"};
    char dir[256];
    struct ik_store *st = fresh(dir, sizeof dir);
    int i;
    for (i = 0; i < NQ && st; i++) {
        struct refpin *r = &refs[i];
        struct ik_pin p;
        ik_test_cidv0(5000 + (uint64_t)i, r->cid);
        r->name[0] = r->vfs[0] = 0;
        if (i % 4)
            snprintf(r->name, sizeof r->name, "pin-%d", i);
        r->pin_type = types[i % 3];
        r->backend = i % 5 == 0 ? "s3" : "ipfs";
        r->size = i % 7 == 0 ? -1 : i * 10;
        if (i % 2)
            snprintf(r->vfs, sizeof r->vfs, "/data/d%d/f%d", i % 6, i);
        else if (i % 10 == 0)
            snprintf(r->vfs, sizeof r->vfs, "/data%s", i % 20 ? "x" : "/d1");
        r->verified = i % 3 == 0;
        r->ts = 1000000000000000 + i;
        ik_pin_init(&p);
        p.cid = r->cid;
        p.name = r->name[0] ? r->name : NULL;
        p.pin_type = r->pin_type;
        p.backend = r->backend;
        p.size_bytes = r->size;
        p.vfs_path = r->vfs[0] ? r->vfs : NULL;
        p.verified = r->verified;
        p.timestamp_us = r->ts;
        if (ik_store_add(st, &p, err) != 0) {
            ik_store_close(st);
            return NULL;
        }
    }
    qsort(refs, NQ, sizeof refs[0], by_cid);
    return st;
}

typedef bool (*ref_pred)(const struct refpin *r);

static bool q_direct(const struct refpin *r)
{
    return strcmp(r->pin_type, "direct") == 0;
}
static bool q_s3_big(const struct refpin *r)
{
    return strcmp(r->backend, "s3") == 0 && r->size > 500;
}
static bool q_path(const struct refpin *r)
{
    return strcmp(r->vfs, "/data/d1") == 0 || strncmp(r->vfs, "/data/d1/", 9) == 0;
}
static bool q_root(const struct refpin *r)
{
    return r->vfs[0] == '/';
}
static bool q_name_prefix(const struct refpin *r)
{
    return strncmp(r->name, "pin-1", 5) == 0;
}
static bool q_name_contains(const struct refpin *r)
{
    return strstr(r->name, "-2") != NULL;
}
static bool q_size_null(const struct refpin *r)
{
    return r->size < 0;
}
static bool q_verified(const struct refpin *r)
{
    return r->verified;
}
static bool q_ts(const struct refpin *r)
{
    return r->ts >= 1000000000000100 && r->ts < 1000000000000120;
}
static bool q_name_ne(const struct refpin *r)
{
    return r->name[0] && strcmp(r->name, "pin-5");
}

/* Runs q and checks its cid column against the reference rows, offset and limit applied. */
static void check_query(struct ik_store *st, struct ik_query *q, ref_pred pred, int *failed)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray b;
    char buf[64];
    int i, k = 0, skipped = 0;
    *failed = 1;
    if (ik_store_query(st, q, &s, &b, &err) != 0) {
        fprintf(stderr, "  query: %s\n", err.message);
        return;
    }
    for (i = 0; i < NQ; i++) {
        if (!pred(&refs[i]))
            continue;
        if (skipped++ < q->offset)
            continue;
        if (q->limit >= 0 && k >= q->limit)
            break;
        if (k >= b.length || strcmp(str_at(&s, &b, "cid", k, buf, sizeof buf), refs[i].cid)) {
            fprintf(stderr, "  row %d: expected %s\n", k, refs[i].cid);
            release_both(&s, &b);
            return;
        }
        k++;
    }
    if (k != b.length || k == 0)
        fprintf(stderr, "  %lld rows, expected %d\n", (long long)b.length, k);
    else
        *failed = 0;
    release_both(&s, &b);
}

TEST(test_store_query_equals_reference_filter)
{
    struct ik_error err;
    struct ik_store *st = query_store(&err);
    struct ik_query q;
    struct ik_value in[2] = {{IK_VAL_STR, 0, 0, false, (char *)"s3", 2},
                             {IK_VAL_STR, 0, 0, false, (char *)"nope", 4}};
    struct ik_value yes = {IK_VAL_BOOL, 0, 0, true, NULL, 0};
    int failed;
    ASSERT_TRUE(st != NULL);

#define RUN(pred)                                                                                  \
    do {                                                                                           \
        check_query(st, &q, pred, &failed);                                                        \
        ik_query_reset(&q);                                                                        \
        ASSERT_EQ(failed, 0);                                                                      \
    } while (0)

    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "pin_type", IK_OP_EQ, "direct", &err), &err);
    RUN(q_direct);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_add_filter(&q, "backend", IK_OP_IN, in, 2, &err), &err);
    ASSERT_OK(ik_query_filter_int(&q, "size_bytes", IK_OP_GT, 500, &err), &err);
    RUN(q_s3_big);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "vfs_path", IK_OP_PATH_PREFIX, "/data/d1", &err), &err);
    RUN(q_path);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "vfs_path", IK_OP_PATH_PREFIX, "/", &err), &err);
    RUN(q_root);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "name", IK_OP_PREFIX, "pin-1", &err), &err);
    RUN(q_name_prefix);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "name", IK_OP_CONTAINS, "-2", &err), &err);
    RUN(q_name_contains);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_add_filter(&q, "size_bytes", IK_OP_IS_NULL, NULL, 0, &err), &err);
    RUN(q_size_null);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_add_filter(&q, "verified", IK_OP_EQ, &yes, 1, &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "size_bytes", &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "cid", &err), &err);
    q.offset = 3;
    q.limit = 5;
    RUN(q_verified);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_int(&q, "timestamp", IK_OP_GTE, 1000000000000100, &err), &err);
    ASSERT_OK(ik_query_filter_int(&q, "timestamp", IK_OP_LT, 1000000000000120, &err), &err);
    RUN(q_ts);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "name", IK_OP_NE, "pin-5", &err), &err);
    RUN(q_name_ne);
#undef RUN
    ik_store_close(st);
}

TEST(test_store_query_projects_and_rejects_bad_filters)
{
    struct ik_error err;
    struct ik_store *st = query_store(&err);
    struct ik_query q;
    struct ArrowSchema s;
    struct ArrowArray b;
    ASSERT_TRUE(st != NULL);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_add_column(&q, "vfs_path", &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "cid", &err), &err);
    q.limit = 7;
    ASSERT_OK(ik_store_query(st, &q, &s, &b, &err), &err);
    ASSERT_EQ(s.n_children, 2);
    ASSERT_STR_EQ(s.children[0]->name, "vfs_path");
    ASSERT_STR_EQ(s.children[1]->name, "cid");
    ASSERT_EQ(b.length, 7);
    release_both(&s, &b);
    ik_query_reset(&q);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "size_bytes", IK_OP_CONTAINS, "1", &err), &err);
    ASSERT_FAILS(ik_store_query(st, &q, &s, &b, &err), EINVAL, &err,
                 "filter on 'size_bytes': op 'contains' needs a string column");
    ik_query_reset(&q);
    ik_query_init(&q, "pin_index");
    ASSERT_OK(ik_query_filter_str(&q, "colour", IK_OP_EQ, "1", &err), &err);
    ASSERT_FAILS(ik_store_query(st, &q, &s, &b, &err), EINVAL, &err, "'colour'");
    ik_query_reset(&q);
    ik_query_init(&q, "metrics");
    ASSERT_FAILS(ik_store_query(st, &q, &s, &b, &err), EINVAL, &err, "pin_index");
    ik_query_reset(&q);
    ik_store_close(st);
}
