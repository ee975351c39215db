/* Many daemons as one (docs/distributed.md), inside the Flight server: GetFlightInfo of a
 * command on a daemon with config.json "peers" lists an endpoint on every peer beside its own,
 * and a command or ticket with "node": true gets the `node` column. Hooks called from
 * reads.c; the code is peers.c. */
#ifndef IK_FLIGHT_PEERS_H
#define IK_FLIGHT_PEERS_H

#include <stdbool.h>

#include "flight_internal.h"

/* Whether JSON bytes (a command or a ticket) hold "node": true. */
bool ik__flight_wants_node(const uint8_t *p, size_t n);
/* The same for a descriptor: only a command can ask. */
bool ik__flight_desc_wants_node(const Arrow__Flight__Protocol__FlightDescriptor *d);
/* The same for a packed Ticket message. */
bool ik__flight_ticket_wants_node(const uint8_t *p, size_t n);
/* `ticket` (a JSON object text, malloc'd, taken) with "node": true added; NULL on ENOMEM. */
char *ik__flight_ticket_add_node(char *ticket);
/* Wraps the query stream `st` so its batches carry the node column of `node`, and replaces
 * `schema` (released) with the wrapped stream's. 0 or ENOMEM. */
int ik__flight_stream_add_node(struct ArrowArrayStream *st, struct ArrowSchema *schema,
                               const char *node, struct ik_error *err);

/* GetFlightInfo: when the daemon has peers and the request is a command that does not say
 * "peers": false, takes the call over (true): a thread of its own asks every peer at once
 * (each within peer_timeout_ms), answers with every endpoint, and resumes the call. False:
 * the caller answers as usual. `req` stays the caller's. */
bool ik__flight_peers_defer(struct ik_fcall *c, grpc_byte_buffer *req);

/* Waits for the GetFlightInfo threads under way (each ends within peer_timeout_ms): the
 * server calls it when it stops, before the calls' memory goes. */
void ik__flight_peers_drain(void);

/* reads.c: this daemon's own FlightInfo for the request `req` (a packed FlightDescriptor). */
int ik__flight_info_local(struct ik_fcall *c, grpc_byte_buffer *req, grpc_byte_buffer **out,
                          struct ik_error *err);

#endif
