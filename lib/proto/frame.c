/* Frames: a 4-byte little-endian payload length followed by the payload. The parser works on
 * the caller's buffer, keeps no state and never reads past the bytes it is given. */
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

void ik_frame_put_header(uint8_t out[4], uint32_t len)
{
    out[0] = (uint8_t)(len & 0xff);
    out[1] = (uint8_t)((len >> 8) & 0xff);
    out[2] = (uint8_t)((len >> 16) & 0xff);
    out[3] = (uint8_t)((len >> 24) & 0xff);
}

int ik_frame_parse(const uint8_t *buf, size_t len, size_t max_payload, size_t *payload_off,
                   uint32_t *payload_len, struct ik_error *err)
{
    uint32_t n;
    if (len < IK_FRAME_HEADER_SIZE)
        return IK_EAGAIN;
    n = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
    if (n > max_payload)
        return ik_error_set(err, IK_ELIMIT, "frame of %lu bytes exceeds the limit of %zu bytes",
                            (unsigned long)n, max_payload);
    if (len - IK_FRAME_HEADER_SIZE < n)
        return IK_EAGAIN;
    *payload_off = IK_FRAME_HEADER_SIZE;
    *payload_len = n;
    return 0;
}

int ik_frame_build(const void *payload, size_t len, uint8_t **frame, size_t *frame_len,
                   struct ik_error *err)
{
    uint8_t *f;
    if (len > UINT32_MAX)
        return ik_error_set(err, EINVAL, "frame payload of %zu bytes does not fit 32 bits", len);
    f = malloc(IK_FRAME_HEADER_SIZE + len);
    if (f == NULL)
        return ik_error_set(err, ENOMEM, "out of memory for a frame of %zu bytes", len);
    ik_frame_put_header(f, (uint32_t)len);
    if (len)
        memcpy(f + IK_FRAME_HEADER_SIZE, payload, len);
    *frame = f;
    *frame_len = IK_FRAME_HEADER_SIZE + len;
    return 0;
}
