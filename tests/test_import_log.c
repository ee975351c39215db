/* What makes imports cheaper must not change what they guarantee: an import into an empty
 * table logs every row at once (existed 0, present 1) and one into a table with rows logs
 * each (existed 1); a failed import logs nothing and leaves the next write logging as before;
 * the fast JSON-object check never vouches for text jansson refuses. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include "ipfskit/store.h"
#include "store/store_internal.h"
#include "store_testutil.h"

/* The first column of the first row of `sql`, as an integer (-1: no row). */
static int first_int(void *out, int n, char **values, char **names)
{
    (void)names;
    *(int64_t *)out = n > 0 && values[0] ? strtoll(values[0], NULL, 10) : -1;
    return 1; /* one row is enough */
}

static int64_t sql_int(struct ik_store *st, const char *sql)
{
    int64_t v = -1;
    sqlite3_exec(ik__store_db(st), sql, first_int, &v, NULL);
    return v;
}

/* JSON lines of pins first..first+n-1 (the text is malloc'd); `bad_at` >= 0 spoils that line. */
static char *lines(int first, int n, int bad_at)
{
    char *text = malloc((size_t)n * 128 + 1), cid[47];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        ik_test_cidv0((uint64_t)(first + i), cid);
        len += (size_t)sprintf(text + len, "{\"cid\":\"%s\",\"metadata\":%s}\n",
                               i == bad_at ? "Qmnope" : cid,
                               i % 2 ? "{\"n\":1,\"a\":[true,null,\"x\"]}" : "null");
    }
    text[len] = '\0';
    return text;
}

static int import_text(struct ik_store *st, const char *text, struct ik_error *err)
{
    struct ik_import_result res;
    return ik_store_import(st, (const uint8_t *)text, strlen(text), NULL, &res, err);
}

TEST(test_import_into_an_empty_table_logs_every_row_as_new)
{
    char dir[512], *text = lines(0, 300, -1);
    struct ik_error err;
    struct ik_store *st = NULL;
    snprintf(dir, sizeof dir, "%s/importlog1", ik_test_tmpdir());
    ASSERT_OK(ik_store_open(dir, IK_STORE_CREATE, &st, &err), &err);
    ASSERT_OK(import_text(st, text, &err), &err);
    free(text);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM pins"), 300);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM changes WHERE version = 1 AND existed = 0 AND "
                          "present = 1 AND cid IN (SELECT cid FROM pins)"),
              300);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM changes"), 300);
    ASSERT_TRUE(!(st->log_at_commit));
    /* into a table with rows (200 of them already there): each row logged, as "existed" */
    text = lines(100, 300, -1);
    ASSERT_OK(import_text(st, text, &err), &err);
    free(text);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM changes WHERE version = 2"), 300);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM changes WHERE version = 2 AND existed = 1"), 300);
    ik_store_close(st);
}

TEST(test_a_failed_import_into_an_empty_table_logs_nothing)
{
    char dir[512], *text = lines(0, 50, 49);
    struct ik_error err;
    struct ik_pin p;
    char cid[47];
    struct ik_store *st = NULL;
    snprintf(dir, sizeof dir, "%s/importlog2", ik_test_tmpdir());
    ASSERT_OK(ik_store_open(dir, IK_STORE_CREATE, &st, &err), &err);
    ASSERT_TRUE(import_text(st, text, &err) != 0);
    free(text);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM pins"), 0);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM changes"), 0);
    ASSERT_TRUE(!(st->log_at_commit));
    /* the next write logs itself */
    ik_test_cidv0(7, cid);
    ik_pin_init(&p);
    p.cid = cid;
    ASSERT_OK(ik_store_add(st, &p, &err), &err);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM changes WHERE existed = 0 AND present = 1"), 1);
    ik_store_close(st);
}

static bool jansson_object(const char *s)
{
    json_error_t je;
    json_t *j = json_loadb(s, strlen(s), 0, &je);
    bool ok = j != NULL && json_is_object(j);
    json_decref(j);
    return ok;
}

TEST(test_plain_json_check_agrees_with_jansson)
{
    static const char *const sure[] = {
        "{}",
        " { } ",
        "{\"a\":1}",
        "{\"a\":-0,\"b\":[],\"c\":{}}",
        "{\"\":\"\"}",
        "{\"a\":[1,2,[3,{\"b\":null}]],\"t\":true,\"f\":false}",
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
        "{\"n\":999999999999999999}",
        "\t{\"a\" : 1 ,\r\n\"b\":\"x\"}\n",
    };
    /* all valid, but left to jansson (or refused by it) */
    static const char *const unsure[] = {
        "{\"a\":1.5}",
        "{\"a\":1e3}",
        "{\"a\":\"\\u00e9\"}",
        "{\"a\":\"caf\xc3\xa9\"}",
        "{\"n\":9999999999999999999}",
        "{\"a\":\"\\u0000\"}",
        "[]",
        "\"x\"",
        "1",
        "",
        "{",
        "}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":nul}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":\"x\ny\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":1} {}",
        "{\"a\":1}x",
        "{\"a\":\"unterminated}",
        "{\"a\":+1}",
        "{\"a\":NaN}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    };
    for (size_t i = 0; i < sizeof sure / sizeof sure[0]; i++) {
        ASSERT_TRUE(ik__json_object_plain(sure[i], strlen(sure[i])));
        ASSERT_TRUE(jansson_object(sure[i]));
    }
    for (size_t i = 0; i < sizeof unsure / sizeof unsure[0]; i++)
        ASSERT_TRUE(!(ik__json_object_plain(unsure[i], strlen(unsure[i]))));
    /* a NUL inside the span is never vouched for */
    ASSERT_TRUE(!(ik__json_object_plain("{\"a\":\"\0\"}", 8)));
    ASSERT_TRUE(!(ik__json_object_plain("{\"a\":1}\0", 8)));
    /* every prefix of a valid text: vouched for only when jansson takes it too */
    {
        const char *t = "{\"a\":[1,{\"b\":\"c\\n\"},true,false,null],\"d\":-12}";
        char buf[128];
        for (size_t n = 0; n <= strlen(t); n++) {
            memcpy(buf, t, n);
            buf[n] = '\0';
            if (ik__json_object_plain(buf, n))
                ASSERT_TRUE(jansson_object(buf));
        }
    }
}
