/* libFuzzer target: the incremental IPC stream reader, fed the input in two chunks split at a
 * point chosen by the first byte, with full validation; every batch is rendered and
 * re-encoded. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_read_options o;
    struct ik_ipc_reader *r;
    struct ik_error err;
    struct ArrowArray b;
    size_t split;
    int rc, n = 0;
    if (size == 0)
        return 0;
    split = (size_t)data[0] * size / 256;
    ik_read_options_init(&o);
    o.validate = IK_VALIDATE_FULL;
    o.max_body_bytes = 64 << 20;
    if (ik_ipc_reader_create(&o, &r, &err) != 0)
        return 0;
    ik_ipc_reader_feed(r, data + 1, split > 0 ? split - 1 : 0, &err);
    while ((rc = ik_ipc_reader_next(r, &b, &err)) == 0 && n++ < 64) {
        fuzz_consume(ik_ipc_reader_schema(r), &b);
        b.release(&b);
    }
    if (rc == 0)
        b.release(&b);
    if (rc == IK_EAGAIN) {
        ik_ipc_reader_feed(r, data + (split ? split : 1), size - (split ? split : 1), &err);
        ik_ipc_reader_finish(r, &err);
        while ((rc = ik_ipc_reader_next(r, &b, &err)) == 0 && n++ < 64) {
            fuzz_consume(ik_ipc_reader_schema(r), &b);
            b.release(&b);
        }
        if (rc == 0)
            b.release(&b);
    }
    ik_ipc_reader_destroy(r);
    return 0;
}
