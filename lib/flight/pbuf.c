/* protobuf-c messages to and from gRPC byte buffers, with a size limit on the way in. */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>

#include "flight/flight.h"

grpc_byte_buffer *ik_flight_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    grpc_byte_buffer *bb;
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

int ik_flight_bb_read(grpc_byte_buffer *bb, size_t max, uint8_t **out, size_t *len,
                      struct ik_error *err)
{
    grpc_byte_buffer_reader rd;
    grpc_slice s;
    size_t n, at = 0;
    uint8_t *p;
    *out = NULL;
    *len = 0;
    if (bb == NULL)
        return 0;
    n = grpc_byte_buffer_length(bb);
    if (n > max)
        return ik_error_set(err, EMSGSIZE, "message of %zu bytes is over the limit of %zu", n, max);
    if (n == 0)
        return 0;
    if ((p = malloc(n)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    if (!grpc_byte_buffer_reader_init(&rd, bb)) {
        free(p);
        return ik_error_set(err, IK_EFORMAT, "message could not be decompressed");
    }
    while (at < n && grpc_byte_buffer_reader_next(&rd, &s)) {
        size_t k = GRPC_SLICE_LENGTH(s);
        if (k > n - at)
            k = n - at;
        memcpy(p + at, GRPC_SLICE_START_PTR(s), k);
        at += k;
        grpc_slice_unref(s);
    }
    grpc_byte_buffer_reader_destroy(&rd);
    *out = p;
    *len = at;
    return 0;
}

int ik_flight_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc, size_t max,
                     ProtobufCMessage **out, struct ik_error *err)
{
    uint8_t *p = NULL;
    size_t n = 0;
    int rc = ik_flight_bb_read(bb, max, &p, &n, err);
    *out = NULL;
    if (rc != 0)
        return rc;
    *out = protobuf_c_message_unpack(desc, NULL, n, p);
    free(p);
    if (*out == NULL)
        return ik_error_set(err, IK_EFORMAT, "request is not a valid %s message", desc->short_name);
    return 0;
}
