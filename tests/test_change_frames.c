/* Tests of what the HTTP change feed frames are made of: ik_ipc_message_size splits an IPC
 * stream into its messages (and says "incomplete" or "no message" on bad bytes), and
 * ik_changes_json_write spells each change as `pin changes --format jsonl` does (op, version,
 * cid first; a delete has only those). */
#include <stdlib.h>
#include <string.h>

#include "ik_test.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"
#include "store_testutil.h"

static const char rows[] =
    "{\"cid\":\"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG\",\"name\":\"a\",\"pin_type\":"
    "\"recursive\",\"timestamp\":0,\"backend\":\"ipfs\",\"replication_factor\":1,"
    "\"verified\":false,\"access_count\":0,\"op\":\"upsert\",\"version\":7}\n"
    "{\"cid\":\"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\",\"op\":\"delete\","
    "\"version\":8}\n";

static int changes_batch(struct ArrowSchema *s, struct ArrowArray *a, struct ik_error *err)
{
    struct ArrowSchema cs;
    int rc = ik_changes_schema("pin_index", &cs, err);
    if (rc == 0)
        rc = ik_json_rows_read(NULL, &cs, rows, strlen(rows), s, a, err);
    cs.release(&cs);
    return rc;
}

TEST(test_ipc_message_size_splits_a_stream_into_its_messages)
{
    struct ik_error err = {{0}};
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    struct ik_test_sink out = {0};
    size_t at = 0, size = 0, n = 0;
    ASSERT_OK(changes_batch(&s, &a, &err), &err);
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    ASSERT_OK(ik_ipc_writer_create(&s, &o, ik_test_sink_write, &out, &w, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &a, &err), &err);
    ASSERT_OK(ik_ipc_writer_finish(w, &err), &err);
    ik_ipc_writer_destroy(w);
    for (; at < out.len; at += size, n++)
        ASSERT_OK(ik_ipc_message_size(out.p + at, out.len - at, &size, &err), &err);
    ASSERT_EQ(at, out.len);
    /* schema, two dictionary batches (pin_type, backend), op's dictionary, the record batch and
     * the end-of-stream marker */
    ASSERT_EQ(n, 6u);
    ASSERT_EQ(size, 8u);
    ASSERT_FAILS(ik_ipc_message_size(out.p, 20, &size, &err), IK_EAGAIN, &err, "");
    memset(out.p, 0x7f, 16);
    ASSERT_TRUE(ik_ipc_message_size(out.p, out.len, &size, &err) != 0);
    free(out.p);
    a.release(&a);
    s.release(&s);
}

static int lines(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    (void)err;
    strncat(ctx, data, len); /* one call per line, with its newline */
    return ((const char *)data)[len - 1] == '\n' ? 0 : EINVAL;
}

TEST(test_changes_json_puts_op_version_cid_first_and_deletes_carry_only_them)
{
    struct ik_error err = {{0}};
    struct ArrowSchema s;
    struct ArrowArray a;
    char text[2048] = "";
    ASSERT_OK(changes_batch(&s, &a, &err), &err);
    ASSERT_OK(ik_changes_json_write(&s, &a, lines, text, &err), &err);
    ASSERT_TRUE(strncmp(text,
                        "{\"op\":\"upsert\",\"version\":7,\"cid\":"
                        "\"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG\",\"name\":\"a\",",
                        93) == 0);
    ASSERT_TRUE(strstr(text, "\n{\"op\":\"delete\",\"version\":8,\"cid\":"
                             "\"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\"}\n") != NULL);
    a.release(&a);
    s.release(&s);
}
