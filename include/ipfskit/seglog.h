/* The segment log: which pins changed after a given store generation, so that the daemon's
 * builder can publish a delta segment of the size of the change instead of reading every pin
 * (docs/architecture.md, "Segments"). It reads the change log (store.h, "the change log"),
 * which every write path fills in its own transaction; the log's retention window bounds how
 * far back it reaches. */
#ifndef IPFSKIT_SEGLOG_H
#define IPFSKIT_SEGLOG_H

#include <stdbool.h>
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

/* ---- the change tail ------------------------------------------------------------------
 * The newest part of the change log, in memory (lib/store/change_tail.c): the daemon answers
 * changes(since) of recent versions from it without reading SQLite per row, and exactly as
 * ik_store_changes would (same rows, order, values and gone error). Filled by the builder
 * (ik_store_changes_since_tail) from its own read transaction; thread-safe (a read-write lock:
 * queries share it, a fill takes it for its append). */
struct ik_change_tail;

/* An empty tail keeping at most `max_bytes` of records (the oldest versions go first), and
 * `floor`, the store's oldest answerable since (ik_store_changes_range). ENOMEM. */
int ik_change_tail_create(size_t max_bytes, uint64_t floor, struct ik_change_tail **out,
                          struct ik_error *err);
void ik_change_tail_free(struct ik_change_tail *t); /* NULL is fine */

/* The store's oldest answerable since moved to `floor` (after a trim): older since are gone,
 * and the records they alone needed are dropped. Never moves it back. */
void ik_change_tail_set_floor(struct ik_change_tail *t, uint64_t floor);

/* Forgets every record: the tail knows the changes after `version` only from its next fill. */
void ik_change_tail_reset(struct ik_change_tail *t, uint64_t version);

/* changes(since) of `table` from the tail. *answered false (and 0) when the tail does not
 * cover `since` (older than what it holds, or not older than its newest version, or not
 * pin_index): ask the store. Otherwise the result or error ik_store_changes would give, with
 * *newest the tail's newest version (at most the store's: the versions the builder read). */
int ik_change_tail_changes(struct ik_change_tail *t, const char *table, uint64_t since,
                           struct ArrowSchema *schema_out, struct ArrowArray *out, uint64_t *newest,
                           bool *answered, struct ik_error *err);

struct ik_change_tail_stats {
    uint64_t base, head, floor; /* it answers since in [max(base, floor), head) */
    int64_t records, bytes;
};
void ik_change_tail_stats(struct ik_change_tail *t, struct ik_change_tail_stats *out);

/* ik_store_changes_since that also appends the change log after the tail's newest version (or
 * after `since` when the log no longer reaches back to it) up to the changeset's generation to
 * `tail`, in the same read transaction (more than the tail keeps is not read). A failure there only
 * resets the tail (it then starts at the changeset's generation); the changeset is returned as
 * ik_store_changes_since returns it. */
int ik_store_changes_since_tail(struct ik_store *st, uint64_t since, int64_t max_rows,
                                struct ik_change_tail *tail, struct ik_changeset *out,
                                struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
