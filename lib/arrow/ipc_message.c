/* Splitting an IPC stream into its messages without decoding them: the size of the message at
 * the start of a buffer (prefix, metadata, body), for senders that frame each message on its
 * own (the daemon's WebSocket change feed sends one message per frame). */
#include "arrow/ipc_internal.h"

int ik_ipc_message_size(const void *data, size_t avail, size_t *size, struct ik_error *err)
{
    struct ik_read_options o;
    struct ik__msg m;
    int rc;
    ik_read_options_init(&o);
    if ((rc = ik__msg_frame(data, avail, &o, &m, err)) != 0)
        return rc;
    *size = m.total;
    return 0;
}
