/* libFuzzer target: the IPC file reader on the input as one buffer (as a mapping would be),
 * with full validation; batches are read last to first and each is rendered and re-encoded. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_read_options o;
    struct ik_buffer *buf;
    struct ik_ipc_file *f;
    struct ik_error err;
    uint8_t *copy;
    int64_t i;
    if (ik_buffer_alloc(size, &buf, &copy) != 0)
        return 0;
    memcpy(copy, data, size);
    ik_read_options_init(&o);
    o.validate = IK_VALIDATE_FULL;
    o.max_body_bytes = 64 << 20;
    if (ik_ipc_file_open(buf, &o, &f, &err) == 0) {
        int64_t n = ik_ipc_file_num_batches(f);
        for (i = n - 1; i >= 0 && i >= n - 64; i--) {
            struct ArrowArray b;
            if (ik_ipc_file_read_batch(f, i, &b, &err) == 0) {
                fuzz_consume(ik_ipc_file_schema(f), &b);
                b.release(&b);
            }
        }
        ik_ipc_file_destroy(f);
    }
    ik_buffer_unref(buf);
    return 0;
}
