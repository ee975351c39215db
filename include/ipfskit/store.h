/* The pin store: SQLite (WAL) at $IPFS_KIT_PATH/pins.db, the source of truth for the
 * pin_index table. Adds, removes and touches pins, imports kubo / IPFS Cluster / CSV / Arrow
 * pin lists in one transaction, and reads pins out as Arrow (for snapshots and for the
 * daemon-down fallback). One ik_store is used by one thread at a time. */
#ifndef IPFSKIT_STORE_H
#define IPFSKIT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"
#include "ipfskit/error.h"
#include "ipfskit/query.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ik_store;

enum {
    IK_STORE_READONLY = 1, /* open read-only (no schema creation, no writes) */
    IK_STORE_CREATE = 2,   /* create pins.db and its schema when missing */
    /* commits leave the WAL to ik_store_checkpoint (a long-lived writer that has idle time,
     * like the daemon's writer thread); without it SQLite checkpoints inside each commit that
     * leaves 1000 pages or more in the WAL */
    IK_STORE_MANUAL_CHECKPOINT = 4,
    /* a writable open that leaves pending imports as they are (ik_store_drop_import's own
     * open; any other writer must apply them first) */
    IK_STORE_KEEP_PENDING = 8,
};

/* Opens `dir`/pins.db. ENOENT when it does not exist and IK_STORE_CREATE is not set; EIO with
 * SQLite's message otherwise. A database written by a newer schema version is refused. */
int ik_store_open(const char *dir, unsigned flags, struct ik_store **out, struct ik_error *err);
void ik_store_close(struct ik_store *st); /* NULL is a no-op */

/* One pin; strings are borrowed. Use ik_pin_init for the defaults. A NULL string, a negative
 * size_bytes or last_access_us means null. */
struct ik_pin {
    const char *cid; /* required, validated */
    const char *name;
    int64_t size_bytes;
    const char *pin_type;       /* "recursive" (default), "direct", "indirect" */
    int64_t timestamp_us;       /* pinned at, microseconds since the epoch UTC; 0 = now */
    const char *metadata;       /* a JSON object text, validated */
    const char *backend;        /* default "ipfs" */
    int32_t replication_factor; /* default 1, >= 0 */
    bool verified;
    int64_t last_access_us;
    const char *vfs_path; /* absolute path, no "//", no trailing '/' except "/" itself */
    int64_t access_count;
};

void ik_pin_init(struct ik_pin *p);

/* Checks one pin (CID, pin type, metadata JSON, vfs path, numbers); EINVAL with the reason,
 * e.g. "invalid CID 'Qmx': CIDv0 must be 46 characters", "pin_type 'foo' is not one of
 * recursive, direct, indirect". */
int ik_pin_check(const struct ik_pin *p, struct ik_error *err);

/* Adds a pin, or updates every given field of an existing one (access_count and last_access
 * are kept when the new pin does not set them). */
int ik_store_add(struct ik_store *st, const struct ik_pin *p, struct ik_error *err);

/* Removes a pin: ENOENT when it is not there. */
int ik_store_remove(struct ik_store *st, const char *cid, struct ik_error *err);

/* Records an access: access_count + 1, last_access = now_us (0 = now). ENOENT when absent. */
int ik_store_touch(struct ik_store *st, const char *cid, int64_t now_us, struct ik_error *err);

enum ik_import_format {
    IK_IMPORT_AUTO,      /* detected from the bytes */
    IK_IMPORT_KUBO_JSON, /* `ipfs pin ls --enc=json`: {"Keys":{cid:{"Type","Name"}}} */
    IK_IMPORT_JSONL,     /* one JSON object per line: kubo --stream {"Cid","Name","Type"},
                            IPFS Cluster state export {"cid", "name", ...}, or our own columns */
    IK_IMPORT_CSV,       /* header line naming columns of pin_index (cid required) */
    IK_IMPORT_ARROW,     /* Arrow IPC stream or file with pin_index column names */
};

struct ik_import_options {
    enum ik_import_format format;
    bool skip_invalid;           /* import the valid rows, count the others */
    const char *default_backend; /* NULL = "ipfs" */
};

struct ik_import_result {
    int64_t imported;     /* rows inserted or updated */
    int64_t skipped;      /* invalid rows skipped (skip_invalid) */
    char first_skip[256]; /* reason for the first skipped row, "" when none */
};

void ik_import_options_init(struct ik_import_options *o);

/* Imports the pins in `data` (len bytes) in ONE transaction: all or nothing. Without
 * skip_invalid the first bad row aborts the import with EINVAL naming its line (or record
 * batch row) and reason, e.g. "line 17: invalid CID 'Qm123': CIDv0 must be 46 characters";
 * nothing is written. kubo's "indirect through <cid>" type reads as "indirect". */
int ik_store_import(struct ik_store *st, const uint8_t *data, size_t len,
                    const struct ik_import_options *o, struct ik_import_result *res,
                    struct ik_error *err);

/* ik_store_import, and when Arrow input went into an empty table (a first import), the
 * table as the commit left it: one pin_index batch equal to what ik_store_read_pins would
 * read at that generation (cid order, defaults filled, a CID given twice merged as the upsert
 * merges it), built from the rows as they were upserted, so a caller publishing the table
 * need not read it back. rows_out->release is NULL when the rows are not given (another
 * format, a table with pins, or no memory for them: the import itself still stands). */
int ik_store_import_rows(struct ik_store *st, const uint8_t *data, size_t len,
                         const struct ik_import_options *o, struct ik_import_result *res,
                         struct ArrowSchema *schema_out, struct ArrowArray *rows_out,
                         struct ik_error *err);

/* ik_store_import_rows, acknowledged from a journal when Arrow input goes into an empty table
 * (the daemon's import; docs/architecture.md "Imports are acknowledged from a journal"): the
 * rows are checked and sorted as for ik_store_import_rows, written to the data directory as an
 * import journal (journal/import.<version>.arrow, an Arrow IPC file of the rows as the table
 * will hold them), and a small transaction commits the version with the journal recorded as
 * pending; the rows do not go through pins. *pending is that version, the rows are returned
 * as by ik_store_import_rows, and the caller publishes them, then calls ik_store_apply_pending
 * before any other write of the store. Every other import runs as ik_store_import_rows with
 * *pending 0. A failure leaves the store and the directory as they were. The journal is a
 * snapshot file of pin_index at *pending (0400, its schema's metadata naming the table and
 * the version), so the caller may publish the file itself (ik_store_journal_open). */
int ik_store_import_journal(struct ik_store *st, const uint8_t *data, size_t len,
                            const struct ik_import_options *o, struct ik_import_result *res,
                            struct ArrowSchema *schema_out, struct ArrowArray *rows_out,
                            uint64_t *pending, struct ik_error *err);

/* The journal of the import pending at `version`, opened read-only (no link followed): a
 * descriptor the caller closes, or -1 when it cannot be opened. */
int ik_store_journal_open(struct ik_store *st, uint64_t version);

/* Applies the pending import journals, oldest version first, each in one transaction that
 * writes its rows to pins (and the change log, at its version) and clears its pending record;
 * the journal file is removed after that commit. A writable ik_store_open calls it. *applied
 * (optional) counts them. A journal that is missing, of another size or checksum, or not a
 * valid pin file is IK_EFORMAT naming the file, the version and the command that gives it up
 * (ik_store_drop_import), and stays pending: never dropped by itself. */
int ik_store_apply_pending(struct ik_store *st, int *applied, struct ik_error *err);

/* What ik_store_drop_import gave up: the pending record's version, rows and journal bytes,
 * and the version the store is at after the drop (the change log's floor: changes since any
 * older version are IK_EGONE). */
struct ik_dropped_import {
    uint64_t version, new_version;
    int64_t rows, bytes;
    bool journal_removed; /* a (damaged) journal file was there and is removed */
    char why[256];        /* why its journal could not be applied (missing, checksum, ...) */
};

/* Gives up the pending import of `version` whose journal is missing or damaged (after a power
 * cut; docs/architecture.md "Imports are acknowledged from a journal"), so that the store opens
 * again: takes the store's lock (IK_ELOCKED while a daemon or a direct writer holds it), and in
 * one transaction deletes the pending record, bumps the generation past it and moves the change
 * log's floor to the new version (a reader who saw the import is told IK_EGONE, re-read the
 * table). Refused with EEXIST when the journal is present and valid (any writable open applies
 * it), ENOENT when no import is pending, EINVAL when `version` is not the oldest pending one. */
int ik_store_drop_import(const char *dir, uint64_t version, struct ik_dropped_import *out,
                         struct ik_error *err);

/* The oldest pending import's version, 0 when none (any store, read-only too). */
int ik_store_pending(struct ik_store *st, uint64_t *version, struct ik_error *err);

/* ik_store_recover, then waits (at most timeout_ms) while a daemon holding the store has an
 * import pending: a reader of pins.db (the direct path) then sees it. EBUSY on timeout. */
int ik_store_await_applied(const char *dir, int timeout_ms, struct ik_error *err);

/* Removes the journal files no pending import names (an import killed before its commit, or
 * one applied but not yet removed): the daemon, at start, with the lock held. */
int ik_store_journal_clean(struct ik_store *st, int *removed, struct ik_error *err);

/* For readers opening `dir` read-only: when an import is pending and no daemon holds the store,
 * applies it (a writable open) so that the reader sees it. 0 too when there is no store. */
int ik_store_recover(const char *dir, struct ik_error *err);

/* Imports the pins of an Arrow stream (columns by name; cid required). One transaction. */
int ik_store_import_stream(struct ik_store *st, struct ArrowArrayStream *stream,
                           const struct ik_import_options *o, struct ik_import_result *res,
                           struct ik_error *err);

/* Copies the WAL into pins.db without waiting for readers (a PASSIVE checkpoint); frames a
 * reader still needs stay for a later call. Meant for stores opened with
 * IK_STORE_MANUAL_CHECKPOINT, called when the writer is idle; there it does nothing while the
 * WAL holds fewer than 1000 pages (SQLite's autocheckpoint threshold), so a stream of small
 * writes does not pay two fsyncs each. Returns 0, also when another connection is
 * checkpointing; EIO (ENOSPC) with SQLite's message on an I/O error; EINVAL on a read-only
 * store. */
int ik_store_checkpoint(struct ik_store *st, struct ik_error *err);
/* A PASSIVE checkpoint now, whatever the WAL holds. *copied (may be NULL): the WAL's frames
 * copied into pins.db as of this checkpoint, counted from the WAL's start (frames from there on
 * came during it, or a reader still needs them); -1 when another connection was checkpointing
 * (nothing done, 0 returned). Errors as ik_store_checkpoint. */
int ik_store_checkpoint_now(struct ik_store *st, int64_t *copied, struct ik_error *err);
/* Pages in the WAL after this connection's last commit, as SQLite reported them (stores opened
 * with IK_STORE_MANUAL_CHECKPOINT; 0 otherwise). Another connection of the same store can then
 * checkpoint most of it for the writer (the daemon's checkpoint thread, so that no fsync of
 * pins.db holds the writer). The WAL starts over only at a commit that finds it all copied:
 * under a stream of writes the writer itself copies the last few frames
 * (ik_store_checkpoint_now), or the WAL grows to 256 MiB and a commit checkpoints it all. */
int64_t ik_store_wal_pages(const struct ik_store *st);

/* Number of pins. */
int64_t ik_store_count(struct ik_store *st);

/* A number that grows with every committed change to the pins (by anyone). */
int ik_store_generation(struct ik_store *st, uint64_t *gen, struct ik_error *err);

/* Reads every pin as one pin_index record batch (schema of ipfskit/schemas.h, rows in cid
 * order), for snapshot builds and the direct fallback. */
int ik_store_read_pins(struct ik_store *st, struct ArrowSchema *schema_out, struct ArrowArray *out,
                       struct ik_error *err);

/* A reader of every pin for snapshot builds: ik_store_read_pins split over `threads` threads,
 * each with its own read-only connection to dir/pins.db, reading one range of cids; all of
 * them read the same state (one generation). The cuts come from the previous read, so the
 * first read runs on one thread. Use from one thread at a time. */
struct ik_pin_reader;
int ik_pin_reader_open(const char *dir, int threads, struct ik_pin_reader **out,
                       struct ik_error *err);
/* Reads every pin as ik_store_read_pins does, in one read transaction per connection;
 * *generation receives the store generation the batch holds. */
int ik_pin_reader_read(struct ik_pin_reader *r, uint64_t *generation,
                       struct ArrowSchema *schema_out, struct ArrowArray *out,
                       struct ik_error *err);
/* Closes the connections; NULL is a no-op. */
void ik_pin_reader_close(struct ik_pin_reader *r);

/* Reads the pins selected by `q` (table pin_index) using SQL and the store's indexes, then
 * applies projection/offset/limit: the direct SQLite fallback. */
int ik_store_query(struct ik_store *st, const struct ik_query *q, struct ArrowSchema *schema_out,
                   struct ArrowArray *out, struct ik_error *err);

/* ---- the change log (docs/architecture.md "Change log") ------------------------------------
 * Every write records, in its own transaction, which keys its version changed. */

/* The changes of `table` (pin_index) after version `since`, as one batch of schema
 * ik_changes_schema: one row per key whose row differs between version `since` and the newest
 * version, at the version of its newest change, in (version, cid) order; an upsert carries the
 * row's values at the newest version, a delete only its cid. *newest (may be NULL) receives the
 * newest version, read in the same transaction. IK_EGONE when `since` is older than the log
 * keeps ("... the oldest version still available is N; re-read the table ..."); EINVAL when it
 * is newer than the newest version; ENOENT/ENOTSUP for a table without a change log. */
int ik_store_changes(struct ik_store *st, const char *table, uint64_t since,
                     struct ArrowSchema *schema_out, struct ArrowArray *out, uint64_t *newest,
                     struct ik_error *err);

/* The oldest `since` still answerable and the newest version. */
int ik_store_changes_range(struct ik_store *st, uint64_t *oldest, uint64_t *newest,
                           struct ik_error *err);

/* Drops versions past the retention window: those more than `retain_versions` behind the newest
 * or committed more than `retain_seconds` before `now_us`. Does nothing (and writes nothing)
 * until the window has moved a few versions; deletes a bounded chunk of log rows per call and
 * sets *more when rows past the window remain (call again when idle). *floor (may be NULL)
 * receives the oldest `since` still answerable after the call. */
int ik_store_changes_trim(struct ik_store *st, int64_t retain_versions, int64_t retain_seconds,
                          int64_t now_us, bool *more, uint64_t *floor, struct ik_error *err);

/* The same window, at a daemon's start: when at least 100,000 log rows are past it and they
 * outnumber the rows kept (a large import aged out), rewrites the log in one transaction (the
 * kept rows copied, the old table dropped) instead of deleting row by row; otherwise does
 * nothing and leaves the rest to ik_store_changes_trim. *dropped: the rows that went. */
int ik_store_changes_trim_bulk(struct ik_store *st, int64_t retain_versions, int64_t retain_seconds,
                               int64_t now_us, int64_t *dropped, struct ik_error *err);

/* ---- sync: making a source's rows equal to its listing (lib/sync, docs/sync.md) ---------- */

struct ik_store_sync;

struct ik_sync_counts {
    int64_t listed; /* pins the source listed */
    int64_t added, changed, removed;
    int64_t invalid;         /* listed pins the store refuses (bad CID, ...), left out */
    char first_invalid[256]; /* why the first of them was refused, "" when none */
    bool wrote;              /* a change was committed (else nothing was written) */
    uint64_t generation;     /* the store generation after the sync, when wrote */
};

/* Starts a sync of the rows whose backend is `source`: listed pins are staged (in a temporary
 * table; the store itself is not locked meanwhile) by ik_store_sync_stage, then
 * ik_store_sync_finish applies the difference in one write transaction. The creator ends it
 * with finish (which frees it) or abort. */
int ik_store_sync_begin(struct ik_store *st, const char *source, struct ik_store_sync **out,
                        struct ik_error *err);
/* Stages one listed pin. `name` NULL is no name; `rf` < 0, `metadata` NULL and `verified` < 0
 * mean the source does not say (the stored value is kept). A pin the store would refuse is
 * counted as invalid and left out (not an error). A CID listed twice keeps the last. */
int ik_store_sync_stage(struct ik_store_sync *s, const char *cid, const char *name,
                        const char *pin_type, int32_t rf, const char *metadata, int verified,
                        struct ik_error *err);
/* Sets `verified` of a staged pin (a second pass over per-peer status); unknown CIDs ignored. */
int ik_store_sync_verified(struct ik_store_sync *s, const char *cid, bool verified,
                           struct ik_error *err);
/* Applies the staged listing: inserts new pins (backend = the source), updates the source's
 * rows whose listed columns changed, removes the source's rows no longer listed. Rows of
 * other backends are never touched, even when the source lists their CID. Nothing changed:
 * nothing written, no generation used. Frees `s` in every case. */
int ik_store_sync_finish(struct ik_store_sync *s, struct ik_sync_counts *res, struct ik_error *err);
void ik_store_sync_abort(struct ik_store_sync *s); /* NULL is a no-op */

/* Up to `limit` CIDs of the source's recursive and direct pins whose size_bytes is null
 * (malloc'd array of malloc'd strings, the caller frees each and the array). */
int ik_store_sizes_missing(struct ik_store *st, const char *source, int64_t limit, char ***cids_out,
                           size_t *n_out, struct ik_error *err);
/* Sets size_bytes of the source's pins (a negative size skips that pin), in one transaction;
 * `*changed` rows changed (none: nothing written). */
int ik_store_set_sizes(struct ik_store *st, const char *source, char *const *cids,
                       const int64_t *sizes, size_t n, int64_t *changed, struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
