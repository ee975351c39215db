/* Snapshots: immutable Arrow IPC files `$IPFS_KIT_PATH/snapshots/<table>.<version>.arrow`
 * (uncompressed, little-endian, 64-byte aligned, one record batch, mode 0400, written to a
 * temp name, fsynced and renamed), their discovery for the daemon-down fallback, and opening
 * one from a path or a passed file descriptor to answer a query without copying rows. */
#ifndef IPFSKIT_SNAPSHOT_H
#define IPFSKIT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"
#include "ipfskit/error.h"
#include "ipfskit/query.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes `batch` (schema + struct array, borrowed) as snapshot `version` of `table` under
 * `dir`/snapshots (created 0700 when missing). Schema metadata gains ipfs_kit.table,
 * ipfs_kit.snapshot_version and ipfs_kit.created_at (RFC 3339 UTC, microseconds). The file
 * appears atomically (temp name, fsync, rename, fsync of the directory) with mode 0400.
 * Its path is written to path_out (may be NULL). A version that exists already is EEXIST, with
 * that file's path in path_out. A full disk is ENOSPC naming the file; no partial snapshot is
 * ever left under a final name. */
int ik_snapshot_write(const char *dir, const char *table, uint64_t version,
                      const struct ArrowSchema *schema, const struct ArrowArray *batch,
                      char *path_out, size_t path_cap, struct ik_error *err);

/* As ik_snapshot_write, but returns as soon as the file has its final name, before any fsync:
 * for a caller that hands the file out at once and makes it durable afterwards with
 * ik_snapshot_sync. Until then ik_snapshot_latest skips it (a crash may have torn it). */
int ik_snapshot_write_unsynced(const char *dir, const char *table, uint64_t version,
                               const struct ArrowSchema *schema, const struct ArrowArray *batch,
                               char *path_out, size_t path_cap, struct ik_error *err);
/* Makes version `version` of `table` durable (fsync of the file and of snapshots/), then
 * records it in dir/snapshots-synced.<table> as the newest durable version. */
int ik_snapshot_sync(const char *dir, const char *table, uint64_t version, struct ik_error *err);

/* Writes the same snapshot bytes to an open fd (e.g. a sealed memfd for small tables). */
int ik_snapshot_write_fd(int fd, const char *table, uint64_t version,
                         const struct ArrowSchema *schema, const struct ArrowArray *batch,
                         struct ik_error *err);

/* Finds the newest complete snapshot of `table` under `dir` (highest version whose file
 * opens and has a valid footer; temp files ignored; when dir/snapshots-synced.<table> exists,
 * versions newer than the one it names are not yet durable and are skipped). ENOENT when there is
 * none. */
int ik_snapshot_latest(const char *dir, const char *table, char *path_out, size_t path_cap,
                       uint64_t *version_out, struct ik_error *err);

/* Unlinks version `version` of `table` (absent is fine): for the one writer of the snapshots,
 * before it writes that version again because the file found there was damaged or not durable. */
int ik_snapshot_discard(const char *dir, const char *table, uint64_t version, struct ik_error *err);

/* Unlinks snapshots of `table` older than `keep_version` (mapped readers keep working), and
 * temp files of crashed writes up to and including `keep_version`. Only the one writer of
 * the snapshots (the daemon's builder) may call it, between its builds. */
int ik_snapshot_prune(const char *dir, const char *table, uint64_t keep_version,
                      struct ik_error *err);

struct ik_snapshot;

/* Opens a snapshot from a path or an fd (the fd is not closed; the mapping is). The mapping
 * is read-only and refcounted: arrays handed out keep it alive after ik_snapshot_close. The
 * footer and schema are validated; the batch is validated (full) when `validate` is non-zero
 * (clients validate what a daemon sent them only when asked; the default trusts a 0400 file
 * owned by the same uid). */
int ik_snapshot_open_path(const char *path, int validate, struct ik_snapshot **out,
                          struct ik_error *err);
int ik_snapshot_open_fd(int fd, int validate, struct ik_snapshot **out, struct ik_error *err);

/* Opens exactly version `version` of `table` under `dir` for a reader that may only use that
 * version (the store's generation), checking it as ik_snapshot_open_fd does with `validate`
 * (IK_VALIDATE_FULL reads every value: offsets, UTF-8, dictionary indices), and that its
 * metadata names that table and version and its columns are the table's. ENOENT when there is
 * no such file or it is newer than the version marked durable; IK_EFORMAT/IK_EINVALID (or the
 * errno of the open) for a file that is there but damaged, the message naming the file and what
 * is wrong. With `fd_out` the file's read-only descriptor is kept there (else closed). */
int ik_snapshot_open_version(const char *dir, const char *table, uint64_t version, int validate,
                             struct ik_snapshot **out, int *fd_out, struct ik_error *err);

struct ik_snapshot;

const struct ArrowSchema *ik_snapshot_schema(const struct ik_snapshot *s);
uint64_t ik_snapshot_version(const struct ik_snapshot *s); /* from metadata; 0 if absent */
int64_t ik_snapshot_rows(const struct ik_snapshot *s);
/* The mapped bytes (for zero-copy proofs: every buffer lies in [data, data + size)). */
const uint8_t *ik_snapshot_data(const struct ik_snapshot *s, size_t *size);

/* Applies `q` to the snapshot and returns the result as a stream of one batch whose buffers
 * point into the mapping (slices) or, for filtered rows, are materialised. `*matched` (may be
 * NULL) is the row count matching the filter before offset/limit. */
int ik_snapshot_query(struct ik_snapshot *s, const struct ik_query *q, struct ArrowArrayStream *out,
                      int64_t *matched, struct ik_error *err);

/* The same one-batch stream over a schema and batch of the caller's (both moved in, and
 * released on error): a copy of the schema on every get_schema, the batch once, then the end. */
int ik_batch_stream(struct ArrowSchema *schema, struct ArrowArray *batch,
                    struct ArrowArrayStream *out, struct ik_error *err);

/* Drops the opener's reference; streams from ik_snapshot_query hold their own, so the snapshot
 * goes when the last of them is released. NULL is a no-op. */
void ik_snapshot_close(struct ik_snapshot *s);

#ifdef __cplusplus
}
#endif

#endif
