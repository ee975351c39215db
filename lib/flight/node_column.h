/* The `node` column of docs/distributed.md: a stream wrapper that adds to every batch a last
 * column `node`, dictionary<int8, utf8> not null, whose one dictionary value is the node's
 * name (config.json "node_name") and whose indices are all 0. The wrapped batches' own
 * columns are passed through untouched (no row copied); the column costs one zeroed byte per
 * row. Used by DoGet for a command with "node": true and by `pin list --all-peers` for the
 * local rows. */
#ifndef IK_FLIGHT_NODE_COLUMN_H
#define IK_FLIGHT_NODE_COLUMN_H

#include "ipfskit/abi.h"
#include "ipfskit/error.h"

#define IK_NODE_COLUMN "node"

/* Moves `in` into *out, which gives in's batches with the `node` column added (and in's
 * schema with the field added, metadata kept). `node` is copied. Returns 0, EINVAL for an
 * empty name, ENOMEM (then `in` is released). */
int ik_flight_add_node_column(struct ArrowArrayStream *in, const char *node,
                              struct ArrowArrayStream *out, struct ik_error *err);

/* `in` (a struct schema, copied) with the node field added last, as the wrapped stream's
 * schema reads: what FlightInfo and GetSchema announce for a command with "node": true. */
int ik_flight_node_schema(const struct ArrowSchema *in, struct ArrowSchema *out,
                          struct ik_error *err);

/* The node column's schema alone (a field named "node"), for callers that build schemas. */
int ik_flight_node_field(struct ArrowSchema *out, struct ik_error *err);

#endif
