/* libFuzzer target: the Flight server's request decoders (lib/flight). The first byte picks
 * the decoder for the rest: 0 FlightDescriptor -> query, 1 Ticket -> query and version (a
 * ticket that parses must come back the same from ik_flight_ticket), 2 a DoPut stream (the
 * rest cut into FlightData messages by 4-byte little-endian lengths, each parsed and fed to
 * an IPC stream reader, every batch consumed), 3 the small messages the server unpacks
 * (Action, HandshakeRequest, Criteria, Empty). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "flight/flight.h"
#include "ipfskit/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ticket_round_trip(const uint8_t *p, size_t n)
{
    struct ik_query q, back;
    struct ik_error err;
    uint64_t v = 0, v2 = 0;
    if (ik_flight_query_from_ticket(p, n, &q, &v, &err) == 0) {
        char *t = ik_flight_ticket(&q, v);
        Arrow__Flight__Protocol__Ticket msg = ARROW__FLIGHT__PROTOCOL__TICKET__INIT;
        uint8_t *packed;
        if (t) {
            msg.ticket.data = (uint8_t *)t;
            msg.ticket.len = strlen(t);
            packed = malloc(protobuf_c_message_get_packed_size(&msg.base) + 1);
            size_t len = protobuf_c_message_pack(&msg.base, packed);
            if (ik_flight_query_from_ticket(packed, len, &back, &v2, &err) != 0 || v2 != v) {
                fprintf(stderr, "fuzz_flight: ticket %s does not parse back: %s\n", t, err.message);
                abort();
            }
            ik_query_reset(&back);
            free(packed);
            free(t);
        }
    }
    ik_query_reset(&q);
}

static void put_stream(const uint8_t *p, size_t n)
{
    struct ik_ipc_reader *r = NULL;
    struct ik_read_options o;
    struct ik_error err;
    ik_read_options_init(&o);
    if (ik_ipc_reader_create(&o, &r, &err) != 0)
        return;
    while (n >= 4) {
        size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        struct ik_flight_data d;
        p += 4;
        n -= 4;
        if (len > n)
            len = n;
        uint8_t *exact = malloc(len ? len : 1); /* an exact-size copy: reads past it are caught */
        memcpy(exact, p, len);
        if (ik_flight_data_parse(exact, len, &d, &err) == 0 &&
            ik_flight_data_feed(r, &d, &err) == 0) {
            for (;;) {
                struct ArrowArray a = {0};
                if (ik_ipc_reader_next(r, &a, &err) != 0)
                    break;
                fuzz_consume(ik_ipc_reader_schema(r), &a);
                a.release(&a);
            }
        }
        free(exact);
        p += len;
        n -= len;
    }
    ik_ipc_reader_destroy(r);
}

static void small_messages(const uint8_t *p, size_t n)
{
    const ProtobufCMessageDescriptor *descs[] = {
        &arrow__flight__protocol__action__descriptor,
        &arrow__flight__protocol__handshake_request__descriptor,
        &arrow__flight__protocol__criteria__descriptor,
        &arrow__flight__protocol__empty__descriptor,
        &arrow__flight__protocol__flight_info__descriptor,
    };
    for (size_t i = 0; i < sizeof descs / sizeof *descs; i++) {
        ProtobufCMessage *m = protobuf_c_message_unpack(descs[i], NULL, n, p);
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_query q;
    struct ik_error err;
    uint8_t *rest;
    if (size == 0)
        return 0;
    rest = malloc(size); /* the rest as an exact-size copy */
    if (rest == NULL)
        return 0;
    memcpy(rest, data + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        ik_flight_query_from_descriptor(rest, size - 1, &q, &err);
        ik_query_reset(&q);
        break;
    case 1:
        ticket_round_trip(rest, size - 1);
        break;
    case 2:
        put_stream(rest, size - 1);
        break;
    default:
        small_messages(rest, size - 1);
        break;
    }
    free(rest);
    return 0;
}
