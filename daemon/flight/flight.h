/* The daemon's Arrow Flight server (daemon/flight/, docs/flight.md), as the rest of the daemon
 * sees it: started after the workers, stopped before them, like HTTP. It runs on gRPC's
 * completion queue with its own threads and reads only published states and atomic metrics,
 * so it never blocks the unix-socket loop; writes go through the daemon's own socket. */
#ifndef IK_DAEMON_FLIGHT_H
#define IK_DAEMON_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

struct ik_daemon;

/* Starts serving d->cfg.flight when enabled. Never fails the daemon: when Flight cannot start
 * (a port taken, a location refused), the reason is kept for `status` and logged unless
 * `quiet`; locations that did bind are served. */
void ik_flight_start(struct ik_daemon *d, int quiet);
void ik_flight_stop(struct ik_daemon *d);

/* Whether Flight is being served (for the metrics table). */
int ik_flight_serving(struct ik_daemon *d);

/* The locations served, space-separated ("grpc+unix:///…/flight.sock grpc+tcp://127.0.0.1:8815",
 * the bound port when 0 was asked) into `where`, and why Flight (or a location of it) is off
 * into `why` ("" when all is served). */
void ik_flight_describe(struct ik_daemon *d, char *where, size_t where_cap, char *why,
                        size_t why_cap);

/* Calls being served now. */
int ik_flight_calls(struct ik_daemon *d);

/* Body bytes DoGet sent as references into mapped segments, and bytes it copied. */
void ik_flight_counts(struct ik_daemon *d, int64_t *referenced, int64_t *copied);

#endif
