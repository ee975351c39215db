/* Arrow Flight over gRPC's C core, the parts shared by the daemon's Flight server
 * (daemon/flight/) and Flight clients: locations (grpc+unix://, grpc+tcp://, grpc+tls://),
 * FlightData encoded by hand so batch bodies leave as slices of the mapped segments,
 * FlightData decoded for DoPut and for readers, protobuf-c messages to and from gRPC byte
 * buffers, and the IPC-encapsulated schema FlightInfo and GetSchema carry. The messages are
 * lib/flight/flight.proto (package arrow.flight.protocol), compiled by protoc-c into
 * build/gen/flight.pb-c.h at build time. Not part of libipfskit.a: it lives in
 * build/libipfskit-flight.a with -lgrpc -lgpr -lprotobuf-c (Makefile), so the Python binding
 * and libipfskit.so need no gRPC. docs/flight.md describes the service. */
#ifndef IK_FLIGHT_H
#define IK_FLIGHT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <protobuf-c/protobuf-c.h>

#include "flight.pb-c.h"
#include "ipfskit/abi.h"
#include "ipfskit/arrow.h"
#include "ipfskit/error.h"

/* gRPC method paths of the Flight service. */
#define IK_FLIGHT_SERVICE "/arrow.flight.protocol.FlightService/"
#define IK_FLIGHT_DEFAULT_TCP_PORT 8815

/* ---- locations --------------------------------------------------------------------------- */

/* grpc+tls is TCP with TLS (gRPC's SSL credentials) */
enum ik_flight_scheme { IK_FLIGHT_UNIX = 1, IK_FLIGHT_TCP = 2, IK_FLIGHT_TLS = 3 };

struct ik_flight_location {
    enum ik_flight_scheme scheme;
    char host[256]; /* TCP: a name or an IP literal (IPv6 without brackets) */
    int port;       /* TCP: 1..65535, or 0 (a free port, for listening) */
    char path[108]; /* UNIX: the socket path (sun_path's size) */
};

/* Parses "grpc+unix:///abs/path" (also "grpc+unix:/abs/path"), "grpc+tcp://host:port",
 * "grpc://host:port" (= grpc+tcp), "grpc+tls://host:port" and "grpc+tcp://[::1]:port". EINVAL
 * naming what is wrong. */
int ik_flight_location_parse(const char *uri, struct ik_flight_location *out, struct ik_error *err);
/* The gRPC target/address of a location: "unix:/path", "host:port" or "[v6]:port". 0, or
 * ENAMETOOLONG. */
int ik_flight_location_target(const struct ik_flight_location *loc, char *buf, size_t cap);
/* The URI of a location as a client would write it ("grpc+tcp://127.0.0.1:8815"). */
int ik_flight_location_uri(const struct ik_flight_location *loc, char *buf, size_t cap);
/* Whether only this machine can reach it: a unix socket, 127.0.0.0/8, ::1 or "localhost". */
bool ik_flight_location_is_local(const struct ik_flight_location *loc);

/* ---- FlightData out: the encoder --------------------------------------------------------- */

/* A byte range whose memory outlives the encoder's messages while `owner` holds a reference:
 * the mapped segments. Body bytes inside a range go out as slices of it; others are copied. */
struct ik_flight_range {
    const uint8_t *data;
    size_t len;
};

/* The holder of what the slices point into: ref/unref are called once per slice made and
 * once per slice gRPC lets go (from any thread). */
struct ik_flight_owner {
    void (*ref)(void *ctx);
    void (*unref)(void *ctx);
    void *ctx;
};

struct ik_flight_encoder;

/* Blocks the encoder rebases offsets into, reused across messages and encoders (lib/flight/
 * pool.c): a block handed to gRPC comes back when gRPC lets go of its slice. Thread-safe and
 * counted: create gives the caller one reference (ik_flight_pool_release), each encoder using
 * it and each block out of it hold one more. At most `keep_bytes` of free blocks are kept;
 * the rest go back to malloc. ENOMEM. */
struct ik_flight_pool;
int ik_flight_pool_create(size_t keep_bytes, struct ik_flight_pool **out);
void ik_flight_pool_ref(struct ik_flight_pool *p);
void ik_flight_pool_release(struct ik_flight_pool *p); /* NULL is a no-op */
/* A block of at least n bytes (uninitialised), or NULL; ik_flight_pool_put gives it back. */
void *ik_flight_pool_get(struct ik_flight_pool *p, size_t n);
void ik_flight_pool_put(void *block); /* NULL is a no-op */
/* Blocks made with malloc, and blocks handed out again from the free list, so far. */
void ik_flight_pool_counts(const struct ik_flight_pool *p, int64_t *made, int64_t *reused);

/* Starts a stream of FlightData for `schema`: the schema message is queued first. `ranges`
 * (n_ranges, copied) and `owner` (may be NULL when n_ranges is 0) say what may be referenced. */
int ik_flight_encoder_create(const struct ArrowSchema *schema, const struct ik_flight_range *ranges,
                             size_t n_ranges, const struct ik_flight_owner *owner,
                             struct ik_flight_encoder **out, struct ik_error *err);
/* The encoder's computed blocks (rebased offsets) come from `pool` (a reference is taken)
 * instead of malloc; call before the first ik_flight_encoder_write. */
void ik_flight_encoder_use_pool(struct ik_flight_encoder *e, struct ik_flight_pool *pool);
/* Encodes one record batch (a struct array; borrowed, must stay valid while the messages made
 * from it are alive unless its buffers lie in the ranges): queues any dictionary messages it
 * needs, then the batch. */
int ik_flight_encoder_write(struct ik_flight_encoder *e, const struct ArrowArray *batch,
                            struct ik_error *err);
/* The next queued message (the caller owns it: grpc_byte_buffer_destroy), NULL when none. */
grpc_byte_buffer *ik_flight_encoder_next(struct ik_flight_encoder *e);
/* Body bytes sent as references into the ranges, and body bytes copied, so far. */
void ik_flight_encoder_counts(const struct ik_flight_encoder *e, int64_t *referenced,
                              int64_t *copied);
/* Frees the encoder and any message still queued. NULL is a no-op. */
void ik_flight_encoder_destroy(struct ik_flight_encoder *e);

/* The schema as Flight's FlightInfo.schema / SchemaResult.schema want it: an IPC
 * encapsulated Schema message (continuation, length, flatbuffer). *out is malloc'd. */
int ik_flight_schema_bytes(const struct ArrowSchema *schema, uint8_t **out, size_t *len,
                           struct ik_error *err);

/* ---- FlightData in: the decoder ---------------------------------------------------------- */

/* One FlightData message, every field pointing into the bytes it was parsed from. */
struct ik_flight_data {
    const uint8_t *descriptor; /* a packed FlightDescriptor, or NULL */
    size_t descriptor_len;
    const uint8_t *header; /* data_header: a flatbuffer Message, or NULL */
    size_t header_len;
    const uint8_t *app_metadata;
    size_t app_metadata_len;
    const uint8_t *body;
    size_t body_len;
};

/* Parses a FlightData message from p[0, n). IK_EFORMAT naming the field or byte offset where
 * the protobuf is wrong; unknown fields are skipped as protobuf wants. */
int ik_flight_data_parse(const uint8_t *p, size_t n, struct ik_flight_data *out,
                         struct ik_error *err);

/* Feeds the IPC message of `d` (its header and body) to an IPC stream reader, as the
 * encapsulated bytes the reader expects. A message without a header is skipped (metadata
 * only). IK_EFORMAT when the header is too large to frame. */
int ik_flight_data_feed(struct ik_ipc_reader *r, const struct ik_flight_data *d,
                        struct ik_error *err);

/* ---- requests: descriptors and tickets (lib/flight/request.c) --------------------------- */

struct ik_query;

/* The query a packed FlightDescriptor names: a PATH of one table name (the whole table) or a
 * CMD holding the query's JSON object (docs/protocol.md: table, columns, filter, offset,
 * limit). `q` is initialised here (reset it after, also on error). ENOENT for a path that is
 * no table; EINVAL/IK_EFORMAT naming the field ("FlightDescriptor.cmd: ...") otherwise. */
int ik_flight_query_from_descriptor(const uint8_t *p, size_t n, struct ik_query *q,
                                    struct ik_error *err);
/* The same for a ticket's bytes: the query's JSON object plus "version" (the snapshot version
 * it was planned on, 0 when absent: the newest). */
int ik_flight_query_from_ticket(const uint8_t *p, size_t n, struct ik_query *q, uint64_t *version,
                                struct ik_error *err);
/* A ticket for `q` at `version` (malloc'd NUL-terminated JSON; NULL on ENOMEM). */
char *ik_flight_ticket(const struct ik_query *q, uint64_t version);

/* ---- protobuf-c and gRPC byte buffers ---------------------------------------------------- */

/* Packs a protobuf-c message into a new byte buffer (NULL on ENOMEM). */
grpc_byte_buffer *ik_flight_pack(const ProtobufCMessage *msg);
/* The bytes of a received byte buffer, in one malloc'd block (*out; NULL when empty). EMSGSIZE
 * when longer than `max`. */
int ik_flight_bb_read(grpc_byte_buffer *bb, size_t max, uint8_t **out, size_t *len,
                      struct ik_error *err);
/* Unpacks a message of type `desc` from a received byte buffer (NULL buffer: an empty
 * message). IK_EFORMAT naming the message type when the bytes are not one; free the result
 * with protobuf_c_message_free_unpacked. */
int ik_flight_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc, size_t max,
                     ProtobufCMessage **out, struct ik_error *err);

#endif
