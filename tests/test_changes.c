/* Tests of the change log (lib/store/changes.c): changes(since=V) applied to the table at V gives
 * the newest table and names every row that differs (a property test over random add / rm /
 * touch / import mixes, seed printed), a too-old since is IK_EGONE naming the oldest version,
 * trimming follows the retention window, and a write rolled back leaves no log entry. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ik_test.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"
#include "ipfskit/store.h"
#include "proto/proto.h"
#include "store/store_internal.h"
#include "store_testutil.h"

static int dir_no;

static struct ik_store *fresh(char *dir, size_t cap)
{
    struct ik_error err;
    struct ik_store *st = NULL;
    snprintf(dir, cap, "%s/changes%d", ik_test_tmpdir(), ++dir_no);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0)
        fprintf(stderr, "open: %s\n", err.message);
    return st;
}

static int64_t sql_count(struct ik_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(ik__store_db(st), sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

static int text_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    return ik_test_sink_write(ctx, data, len, err);
}

/* The rows of a batch as {cid: canonical JSON of the row without op/version}, and in *ops (when
 * not NULL) {cid: "upsert"|"delete"}. */
static json_t *rows_by_cid(const struct ArrowSchema *s, const struct ArrowArray *a, json_t *ops)
{
    struct ik_test_sink sink = {0};
    struct ik_error err;
    json_t *out = json_object();
    char *line, *save = NULL;
    if (ik_json_rows_write(s, a, text_write, &sink, &err) != 0 ||
        text_write(&sink, "", 1, &err) != 0) {
        fprintf(stderr, "json rows: %s\n", err.message);
        free(sink.p);
        json_decref(out);
        return NULL;
    }
    for (line = strtok_r((char *)sink.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        const char *cid = json_string_value(json_object_get(o, "cid"));
        char *canon;
        if (ops)
            json_object_set(ops, cid, json_object_get(o, "op"));
        json_object_del(o, "op");
        json_object_del(o, "version");
        canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_object_set_new(out, cid, json_string(canon));
        free(canon);
        json_decref(o);
    }
    free(sink.p);
    return out;
}

/* The whole pin_index as rows_by_cid, nulls written as the changes batch writes them. */
static json_t *table_now(struct ik_store *st)
{
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_query q;
    json_t *out;
    ik_query_init(&q, "pin_index");
    if (ik_store_query(st, &q, &s, &a, &err) != 0) {
        fprintf(stderr, "query: %s\n", err.message);
        ik_query_reset(&q);
        return NULL;
    }
    ik_query_reset(&q);
    out = rows_by_cid(&s, &a, NULL);
    a.release(&a);
    s.release(&s);
    return out;
}

TEST(test_changes_since_v_applied_to_v_gives_newest_property)
{
    struct ik_error err;
    struct ik_store *st;
    char dir[256];
    unsigned seed = (unsigned)time(NULL), round;
    const char *env = getenv("IK_TEST_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    fprintf(stderr, "  changes property test: seed %u (IK_TEST_SEED=%u to replay)\n", seed, seed);
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    for (round = 0; round < 12; round++) {
        uint64_t v = 0, newest = 0;
        struct ArrowSchema cs;
        struct ArrowArray ca;
        json_t *at_v, *now, *changed, *ops, *applied, *val;
        const char *key;
        int i, n = rand_r(&seed) % 25;
        ASSERT_OK(ik_store_generation(st, &v, &err), &err);
        at_v = table_now(st);
        ASSERT_TRUE(at_v != NULL);
        for (i = 0; i < n; i++)
            ik_test_random_write(st, &seed, 40, 0);
        ASSERT_OK(ik_store_changes(st, "pin_index", v, &cs, &ca, &newest, &err), &err);
        ASSERT_OK(ik_store_generation(st, &newest, &err), &err);
        now = table_now(st);
        ops = json_object();
        changed = rows_by_cid(&cs, &ca, ops);
        ASSERT_TRUE(now != NULL && changed != NULL);
        /* versions ascend, each after v */
        {
            const int64_t *ver = (const int64_t *)ca.children[cs.n_children - 1]->buffers[1];
            for (int64_t r = 0; r < ca.length; r++) {
                ASSERT_TRUE(ver[r] > (int64_t)v && ver[r] <= (int64_t)newest);
                ASSERT_TRUE(r == 0 || ver[r] >= ver[r - 1]);
            }
        }
        /* apply to the table at v */
        applied = json_deep_copy(at_v);
        json_object_foreach(changed, key, val)
        {
            if (strcmp(json_string_value(json_object_get(ops, key)), "delete") == 0) {
                /* a delete names a pin gone now; one absent at v too only if imported */
                ASSERT_TRUE(json_object_get(now, key) == NULL);
                json_object_del(applied, key);
            } else {
                json_object_set(applied, key, val);
            }
        }
        ASSERT_TRUE(json_equal(applied, now));
        /* every row that differs is named */
        json_object_foreach(now, key, val)
        {
            json_t *old = json_object_get(at_v, key);
            if (!old || !json_equal(old, val))
                ASSERT_TRUE(json_object_get(changed, key) != NULL);
        }
        json_object_foreach(at_v, key, val)
        {
            if (!json_object_get(now, key))
                ASSERT_TRUE(json_object_get(changed, key) != NULL);
        }
        json_decref(applied);
        json_decref(changed);
        json_decref(ops);
        json_decref(now);
        json_decref(at_v);
        ca.release(&ca);
        cs.release(&cs);
    }
    ik_store_close(st);
}

static void add_n(struct ik_store *st, int from, int n)
{
    struct ik_error err;
    char cid[47];
    for (int i = from; i < from + n; i++) {
        struct ik_pin p;
        ik_test_cidv0((uint64_t)i, cid);
        ik_pin_init(&p);
        p.cid = cid;
        if (ik_store_add(st, &p, &err) != 0)
            fprintf(stderr, "add: %s\n", err.message);
    }
}

TEST(test_changes_coalesce_per_key_at_newest_version)
{
    struct ik_error err;
    struct ik_store *st;
    struct ArrowSchema s;
    struct ArrowArray a;
    char dir[256], c0[47], c1[47], c2[47];
    uint64_t newest = 0;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    add_n(st, 0, 2); /* v1: c0, v2: c1 */
    ik_test_cidv0(0, c0);
    ik_test_cidv0(1, c1);
    ik_test_cidv0(2, c2);
    ASSERT_OK(ik_store_touch(st, c0, 5, &err), &err); /* v3 */
    ASSERT_OK(ik_store_remove(st, c1, &err), &err);   /* v4 */
    add_n(st, 2, 1);                                  /* v5: c2 */
    ASSERT_OK(ik_store_remove(st, c2, &err), &err);   /* v6: added and gone again */
    ASSERT_OK(ik_store_changes(st, "pin_index", 2, &s, &a, &newest, &err), &err);
    ASSERT_EQ(newest, 6);
    ASSERT_EQ(a.length, 2); /* c0 upsert at 3, c1 delete at 4; c2 never differs */
    {
        const int64_t *ver = (const int64_t *)a.children[13]->buffers[1];
        const int8_t *op = (const int8_t *)a.children[12]->buffers[1];
        const int32_t *off = (const int32_t *)a.children[0]->buffers[1];
        const char *data = (const char *)a.children[0]->buffers[2];
        const struct ArrowArray *dict = a.children[12]->dictionary;
        const int32_t *doff = (const int32_t *)dict->buffers[1];
        const char *dd = (const char *)dict->buffers[2];
        ASSERT_EQ(ver[0], 3);
        ASSERT_EQ(ver[1], 4);
        ASSERT_MEM_EQ(data + off[0], c0, 46);
        ASSERT_MEM_EQ(data + off[1], c1, 46);
        ASSERT_MEM_EQ(dd + doff[op[0]], "upsert", 6);
        ASSERT_MEM_EQ(dd + doff[op[1]], "delete", 6);
        ASSERT_STR_EQ(s.children[12]->name, "op");
        ASSERT_STR_EQ(s.children[13]->name, "version");
        ASSERT_STR_EQ(s.children[13]->format, "l");
    }
    a.release(&a);
    s.release(&s);
    /* since the newest: nothing; since beyond it: an error */
    ASSERT_OK(ik_store_changes(st, "pin_index", 6, &s, &a, NULL, &err), &err);
    ASSERT_EQ(a.length, 0);
    a.release(&a);
    s.release(&s);
    ASSERT_FAILS(ik_store_changes(st, "pin_index", 7, &s, &a, NULL, &err), EINVAL, &err,
                 "newer than the newest version, 6");
    ASSERT_FAILS(ik_store_changes(st, "metrics", 0, &s, &a, NULL, &err), ENOTSUP, &err,
                 "no change feed");
    ASSERT_FAILS(ik_store_changes(st, "pins", 0, &s, &a, NULL, &err), ENOENT, &err, "pins");
    ik_store_close(st);
}

TEST(test_changes_too_old_since_is_gone_naming_oldest)
{
    struct ik_error err;
    struct ik_store *st;
    struct ArrowSchema s;
    struct ArrowArray a;
    char dir[256];
    uint64_t oldest = 0, newest = 0;
    bool more = true;
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    add_n(st, 0, 40); /* versions 1..40 */
    /* keep the newest 16 versions: since >= 24 stays answerable */
    ASSERT_OK(ik_store_changes_trim(st, 16, 86400, ik__now_us(), &more, NULL, &err), &err);
    ASSERT_TRUE(!more);
    ASSERT_OK(ik_store_changes_range(st, &oldest, &newest, &err), &err);
    ASSERT_EQ(oldest, 24);
    ASSERT_EQ(newest, 40);
    ASSERT_FAILS(ik_store_changes(st, "pin_index", 23, &s, &a, NULL, &err), IK_EGONE, &err,
                 "the oldest version still available is 24; re-read the table");
    ASSERT_OK(ik_store_changes(st, "pin_index", 24, &s, &a, NULL, &err), &err);
    ASSERT_EQ(a.length, 16);
    a.release(&a);
    s.release(&s);
    /* the age limit: every version committed over a second before "now" goes */
    ASSERT_OK(ik_store_changes_trim(st, 1000, 1, ik__now_us() + 5000000, &more, NULL, &err), &err);
    ASSERT_OK(ik_store_changes_range(st, &oldest, &newest, &err), &err);
    ASSERT_EQ(oldest, 40);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 0);
    ik_store_close(st);
}

/* A version with more log rows than a trim deletes at once (an import's) goes over several
 * calls, each deleting a bounded chunk (at most 20,000 rows; it starts at 1,024 and adapts to
 * the time a chunk takes), *more set until the last; then the window is exactly as asked. */
TEST(test_changes_trim_of_a_large_version_goes_in_bounded_chunks)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_options o;
    struct ik_import_result res;
    char dir[256], cid[47];
    size_t cap = 3000 * 64, len = 0;
    char *text = malloc(cap);
    uint64_t oldest = 0, newest = 0;
    bool more = true;
    int64_t before, left, calls = 0;
    ASSERT_TRUE(text != NULL);
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    for (int i = 0; i < 3000; i++) {
        ik_test_cidv0((uint64_t)(10000 + i), cid);
        len += (size_t)snprintf(text + len, cap - len, "{\"cid\":\"%s\"}\n", cid);
    }
    ik_import_options_init(&o);
    ASSERT_OK(ik_store_import(st, (const uint8_t *)text, len, &o, &res, &err), &err);
    free(text);
    add_n(st, 0, 20); /* versions 2..21 */
    before = sql_count(st, "SELECT count(*) FROM changes");
    ASSERT_EQ(before, 3020);
    while (more) {
        ASSERT_OK(ik_store_changes_trim(st, 4, 86400, ik__now_us(), &more, NULL, &err), &err);
        left = sql_count(st, "SELECT count(*) FROM changes");
        ASSERT_TRUE(before - left <= 20000 && (before - left > 0 || !more));
        if (more)
            ASSERT_TRUE(before - left < 3000 + 17); /* never the whole import in one go */
        before = left;
        ASSERT_TRUE(++calls < 1000);
    }
    ASSERT_TRUE(calls >= 2);
    ASSERT_OK(ik_store_changes_range(st, &oldest, &newest, &err), &err);
    ASSERT_EQ(oldest, 17);
    ASSERT_EQ(newest, 21);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 4);
    ik_store_close(st);
}

/* At a daemon's start a large aged-out version goes in one rewrite (the kept rows copied, the
 * old table dropped): the window, the floor and changes(since) are then exactly what the
 * chunked trim leaves, later writes still log, and a second call has nothing to do. Rows past
 * the window fewer than the kept ones, or under 100,000, are left to the chunked trim. */
TEST(test_changes_trim_bulk_rewrites_a_large_aged_out_version)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_options o;
    struct ik_import_result res;
    struct ArrowSchema s;
    struct ArrowArray a;
    char dir[256], cid[47];
    size_t cap = 120000 * 64, len = 0;
    char *text = malloc(cap);
    uint64_t oldest = 0, newest = 0;
    int64_t dropped = -1;
    ASSERT_TRUE(text != NULL);
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    for (int i = 0; i < 120000; i++) {
        ik_test_cidv0((uint64_t)(1000000 + i), cid);
        len += (size_t)snprintf(text + len, cap - len, "{\"cid\":\"%s\"}\n", cid);
    }
    ik_import_options_init(&o);
    ASSERT_OK(ik_store_import(st, (const uint8_t *)text, len, &o, &res, &err), &err);
    free(text);
    add_n(st, 0, 20); /* versions 2..21 */
    /* a window holding more rows than go: nothing */
    ASSERT_OK(ik_store_changes_trim_bulk(st, 21, 86400, ik__now_us(), &dropped, &err), &err);
    ASSERT_EQ(dropped, 0);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 120020);
    /* keep the newest 4 versions: 120,000 + 16 rows go at once */
    ASSERT_OK(ik_store_changes_trim_bulk(st, 4, 86400, ik__now_us(), &dropped, &err), &err);
    ASSERT_EQ(dropped, 120016);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 4);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM change_versions WHERE version <= 17"), 0);
    ASSERT_OK(ik_store_changes_range(st, &oldest, &newest, &err), &err);
    ASSERT_EQ(oldest, 17);
    ASSERT_EQ(newest, 21);
    ASSERT_FAILS(ik_store_changes(st, "pin_index", 16, &s, &a, NULL, &err), IK_EGONE, &err,
                 "the oldest version still available is 17");
    ASSERT_OK(ik_store_changes(st, "pin_index", 17, &s, &a, NULL, &err), &err);
    ASSERT_EQ(a.length, 4);
    a.release(&a);
    s.release(&s);
    ASSERT_OK(ik_store_changes_trim_bulk(st, 4, 86400, ik__now_us(), &dropped, &err), &err);
    ASSERT_EQ(dropped, 0);
    add_n(st, 100, 3); /* versions 22..24 log into the rewritten table */
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 7);
    ASSERT_OK(ik_store_changes(st, "pin_index", 21, &s, &a, NULL, &err), &err);
    ASSERT_EQ(a.length, 3);
    a.release(&a);
    s.release(&s);
    ik_store_close(st);
    /* the rewritten log is what a reopened store finds */
    ASSERT_OK(ik_store_open(dir, 0, &st, &err), &err);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 7);
    ASSERT_OK(ik_store_changes_range(st, &oldest, &newest, &err), &err);
    ASSERT_EQ(oldest, 17);
    ik_store_close(st);
}

TEST(test_changes_log_exists_for_each_write_path_and_not_for_a_failed_one)
{
    struct ik_error err;
    struct ik_store *st;
    struct ik_import_options o;
    struct ik_import_result res;
    char dir[256], c0[47], text[256];
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(7, c0);
    snprintf(text, sizeof text, "{\"cid\":\"%s\"}\n{\"cid\":\"bad\"}\n", c0);
    ik_import_options_init(&o);
    ASSERT_TRUE(ik_store_import(st, (const uint8_t *)text, strlen(text), &o, &res, &err) != 0);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 0); /* rolled back with the pins */
    o.skip_invalid = true;
    ASSERT_OK(ik_store_import(st, (const uint8_t *)text, strlen(text), &o, &res, &err), &err);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes WHERE version = 1"), 1);
    ASSERT_OK(ik_store_touch(st, c0, 9, &err), &err);
    ASSERT_OK(ik_store_remove(st, c0, &err), &err);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM changes"), 3);
    ASSERT_EQ(sql_count(st, "SELECT count(*) FROM change_versions"), 3);
    ik_store_close(st);
}

TEST(test_changes_request_parses_and_round_trips)
{
    struct ik_error err;
    struct ik_request r, back;
    const char *ok = "{\"v\":1,\"op\":\"changes\",\"table\":\"pin_index\",\"since\":41}";
    char *text;
    ASSERT_OK(ik_request_parse(ok, strlen(ok), &r, &err), &err);
    ASSERT_EQ(r.op, IK_REQ_CHANGES);
    ASSERT_EQ(r.since, 41);
    ASSERT_EQ(r.transport, IK_TRANSPORT_STREAM);
    ASSERT_STR_EQ(r.query.table, "pin_index");
    text = ik_request_to_json(&r);
    ASSERT_TRUE(text != NULL);
    ASSERT_OK(ik_request_parse(text, strlen(text), &back, &err), &err);
    ASSERT_EQ(back.since, 41);
    ASSERT_STR_EQ(back.query.table, "pin_index");
    free(text);
    ik_request_reset(&back);
    ik_request_reset(&r);
#define BAD(json, what)                                                                            \
    do {                                                                                           \
        ASSERT_FAILS(ik_request_parse(json, strlen(json), &r, &err), EINVAL, &err, what);          \
        ik_request_reset(&r);                                                                      \
    } while (0)
    BAD("{\"v\":1,\"op\":\"changes\",\"table\":\"pin_index\"}", "missing \"since\"");
    BAD("{\"v\":1,\"op\":\"changes\",\"table\":\"pin_index\",\"since\":-1}", "non-negative");
    BAD("{\"v\":1,\"op\":\"changes\",\"table\":\"pin_index\",\"since\":\"3\"}", "non-negative");
    BAD("{\"v\":1,\"op\":\"changes\",\"since\":3}", "missing \"table\"");
    BAD("{\"v\":1,\"op\":\"changes\",\"table\":\"pin_index\",\"since\":3,\"transport\":\"fd\"}",
        "no file to pass");
    BAD("{\"v\":1,\"op\":\"changes\",\"table\":\"pin_index\",\"since\":3,\"limit\":3}",
        "unknown key \"limit\"");
#undef BAD
}

TEST(test_changes_on_a_store_that_never_had_a_log)
{
    struct ik_error err;
    struct ik_store *st, *ro;
    struct ArrowSchema s;
    struct ArrowArray a;
    char dir[256];
    st = fresh(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    add_n(st, 0, 3);
    /* as a store written by an ipfs-kit without the log, opened read-only before any write */
    ASSERT_EQ(sqlite3_exec(ik__store_db(st),
                           "DROP TABLE changes; DROP TABLE change_versions;"
                           " DELETE FROM meta WHERE key = 'changes_floor'",
                           NULL, NULL, NULL),
              SQLITE_OK);
    ik_store_close(st);
    ASSERT_OK(ik_store_open(dir, IK_STORE_READONLY, &ro, &err), &err);
    ASSERT_OK(ik_store_changes(ro, "pin_index", 3, &s, &a, NULL, &err), &err);
    ASSERT_EQ(a.length, 0);
    a.release(&a);
    s.release(&s);
    ASSERT_FAILS(ik_store_changes(ro, "pin_index", 2, &s, &a, NULL, &err), IK_EGONE, &err,
                 "oldest version still available is 3");
    ik_store_close(ro);
    /* a writable open starts the log at the current version */
    ASSERT_OK(ik_store_open(dir, 0, &st, &err), &err);
    add_n(st, 10, 1);
    ASSERT_OK(ik_store_changes(st, "pin_index", 3, &s, &a, NULL, &err), &err);
    ASSERT_EQ(a.length, 1);
    a.release(&a);
    s.release(&s);
    ik_store_close(st);
}
