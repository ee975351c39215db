/* The segment log: which pins changed after a given store generation, so that the daemon's
 * builder can publish a delta segment of the size of the change instead of reading every pin
 * (docs/architecture.md, "Segments"). It reads the change log (store.h, "the change log"),
 * which every write path fills in its own transaction; the log's retention window bounds how
 * far back it reaches. */
#ifndef IPFSKIT_SEGLOG_H
#define IPFSKIT_SEGLOG_H

#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"
#include "ipfskit/error.h"
#include "ipfskit/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The change of the pins between a generation and the store's current one. */
struct ik_changeset {
    uint64_t since;            /* the generation it starts after */
    uint64_t generation;       /* the generation it brings the pins to */
    struct ArrowSchema schema; /* pin_index */
    struct ArrowArray rows;    /* pins inserted or updated after `since`, in cid order */
    char **deleted;            /* cids removed after `since` (and not there now), sorted */
    size_t n_deleted;
};

void ik_changeset_reset(struct ik_changeset *c); /* frees; a zeroed one is fine */

/* Reads the changes after generation `since` in one read transaction. ESTALE when the log no
 * longer reaches back to `since` (pruned, or written before the log existed), E2BIG when more
 * than `max_rows` pins changed (reading them all is cheaper): the caller then reads every pin.
 * EIO with SQLite's message otherwise. */
int ik_store_changes_since(struct ik_store *st, uint64_t since, int64_t max_rows,
                           struct ik_changeset *out, struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
