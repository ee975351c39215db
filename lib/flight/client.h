/* A small Arrow Flight client on gRPC's C core: GetFlightInfo, DoGet (as an ArrowArrayStream
 * fed by lib/flight's FlightData decoder) and DoAction, each call with a deadline. It speaks to
 * any Flight server (our daemon, pyarrow's FlightServerBase, ...). Used by the daemon to ask its
 * peers (daemon/flight/peers.c) and by `ipfs-kit pin list --all-peers` and `ipfs-kit peers
 * status` (cli/peers_cmd.c); docs/distributed.md. Part of libipfskit-flight.a. */
#ifndef IK_FLIGHT_CLIENT_H
#define IK_FLIGHT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "flight/flight.h"

struct ik_flight_client;

/* Opens a channel to `location` ("grpc+tcp://host:port", "grpc://host:port",
 * "grpc+tls://host:port" or "grpc+unix:///path"); nothing is connected until the first call.
 * `token` (NULL or "" for none) goes as "authorization: Bearer <token>" on every call. For
 * grpc+tls, the server's certificate is checked against the PEM certificates in the file
 * `tls_roots` (NULL or "": gRPC's default roots); the file is read here (no symbolic link, a
 * regular file of at most 1 MiB). Messages up to `max_message_bytes` are received (0: 1 GiB).
 * Returns 0, EINVAL for a location that is not one or a roots file that is not a PEM file of
 * certificates (err says why, naming the file), ENOENT/EACCES/... for a roots file that cannot
 * be read, ENOMEM. Close with ik_flight_client_close. */
int ik_flight_client_open(const char *location, const char *token, const char *tls_roots,
                          size_t max_message_bytes, struct ik_flight_client **out,
                          struct ik_error *err);

/* Closes the channel. Streams made by the client keep it open until they are released.
 * NULL is a no-op. */
void ik_flight_client_close(struct ik_flight_client *c);

/* GetFlightInfo of a CMD descriptor holding `cmd` (cmd_len bytes), waiting at most timeout_ms
 * for the whole answer. *out: the FlightInfo (free with protobuf_c_message_free_unpacked(
 * &(*out)->base, NULL)). Errors: ETIMEDOUT (no answer in time), IK_EDAEMON (nobody answers
 * there), IK_EREMOTE (the server's error status, its message in err), IK_EFORMAT (not a
 * FlightInfo), ENOMEM. err reads "GetFlightInfo: <status name>: <server's message>". */
int ik_flight_client_get_info(struct ik_flight_client *c, const void *cmd, size_t cmd_len,
                              int timeout_ms, Arrow__Flight__Protocol__FlightInfo **out,
                              struct ik_error *err);

/* DoAction `type` with `body`, waiting at most timeout_ms: the body of the first result in
 * *out (malloc'd, NUL-terminated for convenience, *out_len without the NUL; NULL and 0 when
 * the action gave none). Errors as ik_flight_client_get_info. */
int ik_flight_client_action(struct ik_flight_client *c, const char *type, const void *body,
                            size_t body_len, int timeout_ms, uint8_t **out, size_t *out_len,
                            struct ik_error *err);

/* DoGet of `ticket`: once the schema has arrived (within timeout_ms), *out is a stream of the
 * batches as they arrive; the whole call must end within timeout_ms of the start, else
 * get_next fails with ETIMEDOUT. The stream's arrays own their memory (decoded from the
 * received messages). Errors as ik_flight_client_get_info. */
int ik_flight_client_do_get(struct ik_flight_client *c, const void *ticket, size_t ticket_len,
                            int timeout_ms, struct ArrowArrayStream *out, struct ik_error *err);

#endif
