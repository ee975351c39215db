/* libFuzzer target: the snapshot reader as the daemon and the direct path use it. The input
 * is written to a memfd and opened with ik_snapshot_open_fd (validated: a snapshot file may be
 * damaged on disk), then a fixed set of pin_index queries (projection, filters of each kind,
 * offset and limit) runs on it and every result is printed as a table, CSV and JSON and
 * re-encoded. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ipfskit/query.h"
#include "ipfskit/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const queries[] = {
    "{\"table\":\"pin_index\"}",
    "{\"table\":\"pin_index\",\"columns\":[\"cid\",\"name\",\"size_bytes\"],\"limit\":3}",
    "{\"table\":\"pin_index\",\"filter\":{\"cid\":"
    "\"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n\"}}",
    "{\"table\":\"pin_index\",\"filter\":{\"name\":{\"contains\":\"a\"}},\"offset\":1}",
    "{\"table\":\"pin_index\",\"filter\":{\"size_bytes\":{\"gt\":100},\"pin_type\":\"recursive\"}}",
    "{\"table\":\"pin_index\",\"filter\":{\"vfs_path\":{\"prefix\":\"/a\"},\"backend\":{\"in\":"
    "[\"ipfs\",\"s3\"]}}}",
    "{\"table\":\"pin_index\",\"filter\":{\"metadata\":{\"not_null\":true}},\"limit\":0}",
};

static void print_all(const struct ArrowSchema *schema, const struct ArrowArray *batch)
{
    static const enum ik_print_format formats[] = {IK_PRINT_TABLE,
                                                   IK_PRINT_CSV}; /* JSON: fuzz_consume */
    struct ik_error err;
    size_t i;
    for (i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct ik_printer *p = NULL;
        if (ik_printer_create(fuzz_devnull(), schema, formats[i], 64, &p, &err) != 0)
            continue;
        if (ik_printer_batch(p, batch, &err) == 0)
            ik_printer_finish(p, &err);
        ik_printer_destroy(p);
    }
}

static void run_query(struct ik_snapshot *s, const char *json)
{
    struct ik_query q;
    struct ik_error err;
    struct ArrowArrayStream st;
    struct ArrowSchema schema;
    struct ArrowArray b;
    int64_t matched;
    if (ik_query_from_json(json, strlen(json), &q, &err) != 0) {
        fprintf(stderr, "fuzz_snapshot: bad query %s: %s\n", json, err.message);
        abort();
    }
    if (ik_snapshot_query(s, &q, &st, &matched, &err) == 0) {
        if (st.get_schema(&st, &schema) == 0) {
            while (st.get_next(&st, &b) == 0 && b.release != NULL) {
                print_all(&schema, &b);
                fuzz_consume(&schema, &b);
                b.release(&b);
            }
            schema.release(&schema);
        }
        st.release(&st);
    }
    ik_query_reset(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_snapshot *s = NULL;
    struct ik_error err;
    size_t i;
    int fd = memfd_create("fuzz-snapshot", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size && ik_snapshot_open_fd(fd, 1, &s, &err) == 0) {
        for (i = 0; i < sizeof queries / sizeof queries[0]; i++)
            run_query(s, queries[i]);
        ik_snapshot_close(s);
    }
    close(fd);
    return 0;
}
