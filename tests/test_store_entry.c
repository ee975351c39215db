/* Tests of the one validation every pin passes on its way into the store, whichever way it comes
 * (ik_store_add, import of kubo JSON, JSON lines, CSV, Arrow): strings must be UTF-8, and CIDs
 * are stored in their canonical text (lower-case base32 for v1, base58 for v0), so a CID given
 * in another multibase or case finds, updates and removes the same pin. Also the import file
 * as it is read (ik_buffer_read_fd: a private copy unless sealed) and a kubo parser crash the
 * import fuzzer found. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ik_test.h"
#include "ipfskit/arrow.h"
#include "ipfskit/cid.h"
#include "ipfskit/store.h"
#include "store/store_internal.h"
#include "store_testutil.h"

static int dir_no;

static struct ik_store *fresh(void)
{
    struct ik_error err;
    struct ik_store *st = NULL;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/entry%d", ik_test_tmpdir(), ++dir_no);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0)
        fprintf(stderr, "open: %s\n", err.message);
    return st;
}

static int import_as(struct ik_store *st, const char *text, enum ik_import_format f,
                     struct ik_import_result *res, struct ik_error *err)
{
    struct ik_import_options o;
    ik_import_options_init(&o);
    o.format = f;
    return ik_store_import(st, (const uint8_t *)text, strlen(text), &o, res, err);
}

/* ---- UTF-8 ------------------------------------------------------------------------------ */

TEST(test_entry_pin_check_refuses_strings_that_are_not_utf8)
{
    struct ik_error err;
    struct ik_pin p;
    char cid[47];
    ik_test_cidv0(3, cid);
    ik_pin_init(&p);
    p.cid = cid;
    p.name = "caf\xe9";
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "name is not valid UTF-8 (byte 3 is 0xe9)");
    p.name = "caf\xc3\xa9"; /* the same word in UTF-8 */
    ASSERT_OK(ik_pin_check(&p, &err), &err);
    p.backend = "s\xed\xa0\x80"; /* a surrogate */
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "backend is not valid UTF-8");
    p.backend = "ipfs";
    p.vfs_path = "/a/\xc0\xaf"; /* an overlong '/' */
    ASSERT_FAILS(ik_pin_check(&p, &err), EINVAL, &err, "vfs_path is not valid UTF-8");
}

TEST(test_entry_every_import_format_refuses_strings_that_are_not_utf8)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    char cid[47], text[512];
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(4, cid);
    snprintf(text, sizeof text, "cid,name\n%s,caf\xe9\n", cid);
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_CSV, &res, &err), EINVAL, &err,
                 "line 2: name is not valid UTF-8");
    snprintf(text, sizeof text, "cid,metadata\n%s,\"{\"\"k\"\":\"\"\xff\"\"}\"\n", cid);
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_CSV, &res, &err), EINVAL, &err, "UTF-8");
    snprintf(text, sizeof text, "{\"cid\":\"%s\",\"name\":\"caf\xe9\"}\n", cid);
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_JSONL, &res, &err), EINVAL, &err, "UTF-8");
    snprintf(text, sizeof text, "{\"Keys\":{\"%s\":{\"Type\":\"direct\",\"Name\":\"caf\xe9\"}}}",
             cid);
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_KUBO_JSON, &res, &err), EINVAL, &err, "UTF-8");
    snprintf(text, sizeof text, "{\"Cid\":\"%s\",\"Name\":\"caf\xe9\",\"Type\":\"direct\"}\n", cid);
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_JSONL, &res, &err), EINVAL, &err, "UTF-8");
    ASSERT_EQ(ik_store_count(st), 0);
    snprintf(text, sizeof text, "cid,name\n%s,caf\xc3\xa9\n", cid);
    ASSERT_OK(import_as(st, text, IK_IMPORT_CSV, &res, &err), &err);
    ASSERT_EQ(ik_store_count(st), 1);
    ik_store_close(st);
}
/* The single cid stored, or "" when the store holds not exactly one pin. */
static void only_cid(struct ik_store *st, char out[IK_CID_MAX_TEXT + 1])
{
    sqlite3_stmt *s = NULL;
    out[0] = 0;
    if (ik_store_count(st) != 1)
        return;
    if (sqlite3_prepare_v2(ik__store_db(st), "SELECT cid FROM pins", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        snprintf(out, IK_CID_MAX_TEXT + 1, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

/* ---- canonical CIDs ----------------------------------------------------------------------- */

#define LOWER "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
#define UPPER "BAFYBEIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU"
#define B64 "mAXASIOOwxEKY/BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV"
#define B36 "k2jmtxx1epa2wl096hsbpuhrz9xhppklonehzwkmskc9rmeb51kwn4ut"

TEST(test_entry_add_stores_one_pin_under_the_canonical_cid)
{
    struct ik_error err;
    struct ik_pin p;
    struct ik_store *st = fresh();
    char cid[IK_CID_MAX_TEXT + 1];
    ASSERT_TRUE(st != NULL);
    ik_pin_init(&p);
    p.cid = UPPER;
    ASSERT_OK(ik_store_add(st, &p, &err), &err);
    p.cid = LOWER;
    ASSERT_OK(ik_store_add(st, &p, &err), &err);
    p.cid = B64;
    p.name = "by base64";
    ASSERT_OK(ik_store_add(st, &p, &err), &err);
    only_cid(st, cid);
    ASSERT_STR_EQ(cid, LOWER);
    ASSERT_OK(ik_store_touch(st, B36, 0, &err), &err);
    ASSERT_OK(ik_store_remove(st, UPPER, &err), &err);
    ASSERT_EQ(ik_store_count(st), 0);
    ASSERT_FAILS(ik_store_remove(st, B64, &err), ENOENT, &err, "no pin " B64);
    ik_store_close(st);
}

TEST(test_entry_every_import_format_stores_the_canonical_cid)
{
    static const struct {
        enum ik_import_format f;
        const char *text;
    } v[] = {
        {IK_IMPORT_CSV, "cid,name\n" UPPER ",a\n"},
        {IK_IMPORT_JSONL, "{\"cid\":\"" B64 "\",\"name\":\"b\"}\n"},
        {IK_IMPORT_JSONL, "{\"Cid\":\"" B36 "\",\"Type\":\"direct\"}\n"},
        {IK_IMPORT_KUBO_JSON, "{\"Keys\":{\"" UPPER "\":{\"Type\":\"direct\"}}}"},
    };
    struct ik_error err;
    struct ik_import_result res;
    char cid[IK_CID_MAX_TEXT + 1];
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct ik_store *st = fresh();
        ASSERT_TRUE(st != NULL);
        ASSERT_OK(import_as(st, v[i].text, v[i].f, &res, &err), &err);
        ASSERT_EQ(res.imported, 1);
        only_cid(st, cid);
        ASSERT_STR_EQ(cid, LOWER);
        ik_store_close(st);
    }
}

/* Twins in one import are one pin, as in two. */
TEST(test_entry_import_of_twin_cids_keeps_one_pin)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    char cid[IK_CID_MAX_TEXT + 1];
    sqlite3_stmt *s = NULL;
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(import_as(st,
                        "{\"cid\":\"" LOWER "\",\"name\":\"lower\"}\n"
                        "{\"cid\":\"" UPPER "\",\"name\":\"upper\"}\n",
                        IK_IMPORT_JSONL, &res, &err),
              &err);
    ASSERT_EQ(res.imported, 2);
    only_cid(st, cid);
    ASSERT_STR_EQ(cid, LOWER);
    ASSERT_TRUE(sqlite3_prepare_v2(ik__store_db(st), "SELECT name FROM pins", -1, &s, NULL) ==
                SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 0), "upper"); /* the later row wins */
    sqlite3_finalize(s);
    ik_store_close(st);
}

/* kubo's object form skips each entry to find its end before it sizes the buffer strings are
 * decoded into: an escaped string in a skipped field wrote through a NULL buffer (or past a
 * short one). Found by fuzz_import_kubo. */
TEST(test_entry_kubo_object_with_escapes_in_unknown_fields)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    char cid[47], text[1024];
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(8, cid);
    snprintf(text, sizeof text,
             "{\"Keys\":{\"%s\":{\"Type\":\"direct\",\"Extra\":{\"k\\u00e9y\":[\"v\\u00e9\\n\","
             "\"\\ud83d\\ude80%0400d\"]},\"Name\":\"caf\\u00e9\"}}}",
             cid, 0);
    ASSERT_OK(import_as(st, text, IK_IMPORT_KUBO_JSON, &res, &err), &err);
    ASSERT_EQ(res.imported, 1);
    /* an escape in the first key (the CID) was decoded through the unsized buffer too */
    snprintf(text, sizeof text, "{\"Keys\":{\"%.10s\\u0041%s\":{\"Type\":\"direct\"}}}", cid,
             cid + 10);
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_KUBO_JSON, &res, &err), EINVAL, &err, "invalid CID");
    snprintf(text, sizeof text, "{\"K\\u0065ys\":{}}");
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_KUBO_JSON, &res, &err), EINVAL, &err,
                 "expected {\"Keys\": {");
    snprintf(text, sizeof text, "{\"Keys\":{\"%s\":{\"Type\":\"direct\",\"X\":\"\\uZZZZ\"}}}", cid);
    ASSERT_FAILS(import_as(st, text, IK_IMPORT_KUBO_JSON, &res, &err), EINVAL, &err,
                 "bad \\u escape");
    ik_store_close(st);
}

/* ---- the import file as the daemon reads it ------------------------------------------------ */

/* A copy, not a mapping: truncating or rewriting the file afterwards changes nothing read
 * (a mapping raised SIGBUS on the truncated pages). A sealed memfd cannot change: mapped. */
TEST(test_entry_read_fd_copies_a_file_that_can_change)
{
    static const char text[] = "cid,name\nsome,rows\n";
    struct ik_error err;
    struct ik_buffer *buf = NULL;
    int fd = memfd_create("read-fd", MFD_CLOEXEC | MFD_ALLOW_SEALING), sealed;
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    ASSERT_OK(ik_buffer_read_fd(fd, &buf, &err), &err);
    ASSERT_EQ(ftruncate(fd, 0), 0);
    ASSERT_EQ(ik_buffer_size(buf), sizeof text - 1);
    ASSERT_MEM_EQ(ik_buffer_data(buf), text, sizeof text - 1); /* no SIGBUS, the same bytes */
    ik_buffer_unref(buf);
    ASSERT_EQ(pwrite(fd, text, sizeof text - 1, 0), (ssize_t)(sizeof text - 1));
    ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), 0);
    ASSERT_OK(ik_buffer_read_fd(fd, &buf, &err), &err);
    ASSERT_MEM_EQ(ik_buffer_data(buf), text, sizeof text - 1);
    sealed = ftruncate(fd, 0);
    ASSERT_EQ(sealed, -1); /* the seal holds, so mapping it was safe */
    ik_buffer_unref(buf);
    close(fd);
    ASSERT_FAILS(ik_buffer_read_fd(-1, &buf, &err), EBADF, &err, "fstat");
}
