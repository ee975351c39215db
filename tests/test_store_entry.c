/* Tests of the one validation every pin passes on its way into the store, whichever way it comes
 * (ik_store_add, import of kubo JSON, JSON lines, CSV, Arrow): strings must be UTF-8, and CIDs
 * are stored in their canonical text (lower-case base32 for v1, base58 for v0), so a CID given
 * in another multibase or case finds, updates and removes the same pin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
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
