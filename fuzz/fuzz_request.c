/* libFuzzer target: the request path of the daemon. The input is a byte stream of frames cut by
 * the frame parser (fed in two chunks split at a point chosen by the first byte, as a socket
 * delivers them); every complete payload goes to ik_request_parse, ik_query_from_json and
 * ik_reply_parse. A request that parses must survive ik_request_to_json -> ik_request_parse
 * with the same JSON text. An input starting with '{' is also parsed whole as one request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const struct ik_request *r)
{
    struct ik_request back;
    struct ik_error err;
    char *a = ik_request_to_json(r), *b;
    if (a == NULL) {
        fprintf(stderr, "fuzz_request: a parsed request has no JSON form\n");
        abort();
    }
    if (strlen(a) > IK_PROTO_MAX_REQUEST) { /* the canonical form may be longer than input */
        free(a);
        return;
    }
    if (ik_request_parse(a, strlen(a), &back, &err) != 0) {
        fprintf(stderr, "fuzz_request: %s does not parse back: %s\n", a, err.message);
        abort();
    }
    b = ik_request_to_json(&back);
    if (b == NULL || strcmp(a, b) != 0) {
        fprintf(stderr, "fuzz_request: round trip changed\n%s\ninto\n%s\n", a, b ? b : "NULL");
        abort();
    }
    free(a);
    free(b);
    ik_request_reset(&back);
}

static void one_payload(const uint8_t *p, size_t n)
{
    struct ik_request r;
    struct ik_query q;
    struct ik_error err;
    json_t *obj = NULL;
    if (ik_request_parse((const char *)p, n, &r, &err) == 0)
        check_round_trip(&r);
    ik_request_reset(&r);
    if (ik_query_from_json((const char *)p, n, &q, &err) == 0) {
        char *s = ik_query_to_json(&q);
        free(s);
    }
    ik_query_reset(&q);
    ik_reply_parse((const char *)p, n, &obj, &err);
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf;
    size_t len = 0, split, off;
    uint32_t plen;
    int rc = IK_EAGAIN, chunk;
    if (size == 0)
        return 0;
    if (data[0] == '{')
        one_payload(data, size);
    split = 1 + (size_t)data[0] * (size - 1) / 256;
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    for (chunk = 0; chunk < 2; chunk++) {
        size_t from = chunk ? split : 1, to = chunk ? size : split;
        memcpy(buf + len, data + from, to - from);
        len += to - from;
        /* an exact-size heap copy, so that a read past len is caught */
        while (len > 0) {
            uint8_t *exact = malloc(len);
            if (exact == NULL)
                break;
            memcpy(exact, buf, len);
            rc = ik_frame_parse(exact, len, IK_PROTO_MAX_REQUEST, &off, &plen, NULL);
            if (rc == 0)
                one_payload(exact + off, plen);
            free(exact);
            if (rc != 0)
                break;
            memmove(buf, buf + off + plen, len - off - plen);
            len -= off + plen;
        }
        if (rc == IK_ELIMIT)
            break;
    }
    free(buf);
    return 0;
}
