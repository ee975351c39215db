/* Segmented snapshots: a table's published state is a base segment (an immutable snapshot file)
 * plus a short list of immutable delta segments (the rows added or changed since, sorted by
 * the table's key, its first column), the rows of earlier segments that are gone (deleted or
 * superseded), and a manifest naming it all: version → segments, rows gone. A write adds one
 * delta of the size of the change; compaction replaces segments by one in the background.
 * docs/architecture.md ("Segments") describes the files and what a crash leaves.
 *
 * Manifest file `manifests/<table>.<seq>.manifest` (seq grows with every manifest the daemon
 * writes; little-endian):
 *   0  "IKMANI01"   8  version u64   16  seq u64   24  segments u32   28  0 u32
 *   32 table name, 64 bytes NUL-padded
 *   96 per segment, 96 bytes: file name (64 bytes NUL-padded, under snapshots/), rows i64,
 *      gone rows u64 (their indices follow all segment entries, segment by segment, as
 *      ascending i64)
 *   the last 8 bytes: FNV-1a 64 of every byte before them.
 * A state's rows, in order: each segment's rows in ascending row order, skipping gone rows,
 * base first, then the deltas oldest first. */
#ifndef IPFSKIT_SEGMENTS_H
#define IPFSKIT_SEGMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"
#include "ipfskit/error.h"
#include "ipfskit/query.h"
#include "ipfskit/snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IK_SEG_MAX 128     /* segments in one state (base + deltas) */
#define IK_SEG_NAME_MAX 64 /* a segment's file name, NUL included */

struct ik_segset; /* immutable once built, refcounted, shared by threads */

/* ---- building (the daemon's builder) --------------------------------------------------- */

/* A state of one segment (a base, no row gone). `snap` gets a reference; `fd` (may be -1) is
 * taken: the segset closes it; `name` is the file name under snapshots/. */
int ik_segset_new(const char *table, uint64_t version, uint64_t seq, struct ik_snapshot *snap,
                  const char *name, int fd, struct ik_segset **out, struct ik_error *err);

/* `cur` plus one delta segment at `version`: every row of an earlier segment whose key is in
 * `delta` or in `deleted` (n_deleted keys) becomes gone. Same ownership as ik_segset_new.
 * IK_ELIMIT when cur holds IK_SEG_MAX segments already; EINVAL when the delta is not sorted
 * by key or its schema differs. */
int ik_segset_add(const struct ik_segset *cur, uint64_t version, uint64_t seq,
                  struct ik_snapshot *delta, const char *name, int fd, const char *const *deleted,
                  size_t n_deleted, struct ik_segset **out, struct ik_error *err);

/* The first n segments of `cur` (its base and oldest n - 1 deltas; descriptors dup'd) with the
 * rows gone in cur, at the version of segment n - 1: where a merge of the newer deltas starts.
 * A delta of every change after that version then makes a state equal to cur's (the rows the
 * merged deltas superseded are gone already, and stay so). EINVAL unless 1 <= n <= count. */
int ik_segset_prefix(const struct ik_segset *cur, int n, struct ik_segset **out,
                     struct ik_error *err);

/* Opens a descriptor of each segment file under dir/snapshots (for a state found on disk that
 * the daemon will pass on). Call before the state is shared. */
int ik_segset_open_fds(struct ik_segset *s, const char *dir, struct ik_error *err);

/* Gives the state descriptors fds[0..n) of its segments, in order (taken; closed with the
 * state). 0, or EINVAL (all closed) when n is not its segment count. Before sharing it. */
int ik_segset_adopt_fds(struct ik_segset *s, const int *fds, int n);

/* The segment of s that is the file (dev, ino), as adopted with ik_segset_adopt_fds; borrowed,
 * NULL when none. */
struct ik_snapshot *ik_segset_find_file(const struct ik_segset *s, uint64_t dev, uint64_t ino);

/* The manifest bytes (malloc'd). */
int ik_segset_manifest(const struct ik_segset *s, uint8_t **bytes, size_t *len,
                       struct ik_error *err);

/* ---- reading --------------------------------------------------------------------------- */

/* A parsed manifest. */
struct ik_manifest_seg {
    char name[IK_SEG_NAME_MAX];
    int64_t rows;
    const int64_t *gone; /* points into the manifest bytes */
    int64_t n_gone;
};
struct ik_manifest {
    char table[64];
    uint64_t version, seq;
    int n;
    struct ik_manifest_seg seg[IK_SEG_MAX];
};

/* Checks and parses manifest bytes (borrowed: seg[].gone points into them): magic, size,
 * checksum, names, gone rows ascending and inside their segment. IK_EFORMAT naming what is
 * wrong. */
int ik_manifest_parse(const uint8_t *bytes, size_t len, struct ik_manifest *m,
                      struct ik_error *err);
/* The same with IK_MANIFEST_TRUSTED in flags: the checksum is not summed (every other check
 * stays). For a manifest the running daemon passes (it wrote the file, renamed it complete and
 * published it): summing its bytes one at a time (FNV-1a, a multiply per byte) was most of a
 * client's cost of following a new version when the gone rows make it a few KB. */
#define IK_MANIFEST_TRUSTED 1u
int ik_manifest_parse_flags(const uint8_t *bytes, size_t len, unsigned flags, struct ik_manifest *m,
                            struct ik_error *err);

/* The state a manifest describes over its segments, opened by the caller in manifest order
 * (each gets a reference). IK_EFORMAT when a segment's row count, table or schema does not
 * match the manifest. */
int ik_segset_open(const uint8_t *manifest, size_t len, struct ik_snapshot *const *segs, int n,
                   struct ik_segset **out, struct ik_error *err);
/* The same, the manifest parsed with `flags` (ik_manifest_parse_flags). */
int ik_segset_open_flags(const uint8_t *manifest, size_t len, unsigned flags,
                         struct ik_snapshot *const *segs, int n, struct ik_segset **out,
                         struct ik_error *err);

/* The newest durable state of `table` (manifests under dir/manifests), its segments opened (and,
 * when `validate`, fully validated); *path_out (may be NULL) gets the manifest's path. ENOENT when
 * there is none; when that state is damaged (a segment missing, invalid, or not what the
 * manifest says), the error naming why (older states are not tried). */
int ik_segset_latest(const char *dir, const char *table, int validate, struct ik_segset **out,
                     char *path_out, size_t path_cap, struct ik_error *err);

void ik_segset_ref(struct ik_segset *s);
void ik_segset_release(struct ik_segset *s); /* NULL is a no-op */

const char *ik_segset_table(const struct ik_segset *s);
uint64_t ik_segset_version(const struct ik_segset *s);
uint64_t ik_segset_seq(const struct ik_segset *s);
int ik_segset_count(const struct ik_segset *s);
int64_t ik_segset_rows(const struct ik_segset *s);       /* live rows */
int64_t ik_segset_gone_rows(const struct ik_segset *s);  /* rows of segments that are gone */
int64_t ik_segset_delta_rows(const struct ik_segset *s); /* rows of the deltas */
struct ik_snapshot *ik_segset_segment(const struct ik_segset *s, int i); /* borrowed */
const char *ik_segset_name(const struct ik_segset *s, int i);
int ik_segset_fd(const struct ik_segset *s, int i); /* -1 when not kept */
int64_t ik_segset_segment_gone(const struct ik_segset *s, int i);

/* What a query cost beyond slicing. */
struct ik_query_cost {
    int64_t matched;      /* rows matching the filter before offset/limit */
    int64_t copied_rows;  /* rows of the result gathered into new buffers (0: all slices) */
    int64_t copied_bytes; /* bytes of the result in buffers that are not the segments' */
};

/* Applies `q` to the state: a stream of batches, in the state's row order, that are slices of
 * the mapped segments (the live runs between gone rows) or, for rows a filter picks apart,
 * gathered copies. A filter `key eq v` or `key in [...]` (key: the first column) is answered by
 * binary search in each segment. `cost` may be NULL. The stream holds the state. */
int ik_segset_query(struct ik_segset *s, const struct ik_query *q, struct ArrowArrayStream *out,
                    struct ik_query_cost *cost, struct ik_error *err);

/* Drops the pages of s's segments from this process's mappings (they stay in the page cache and
 * come back when touched): after reading a whole segment (a validation, a vfs_stats rebuild),
 * its 1.8 GB at 10M pins would otherwise stay in the reader's RSS. */
void ik_segset_drop_pages(const struct ik_segset *s);

/* vfs_stats of a pin_index state's live rows, read from its mapped segments (no copy of a
 * pin); the pages read are dropped afterwards (ik_segset_drop_pages). */
int ik_segset_vfs_stats(const struct ik_segset *s, struct ArrowSchema *schema_out,
                        struct ArrowArray *out, struct ik_error *err);

/* ---- files ----------------------------------------------------------------------------- */

/* dir/manifests/<table>.<seq>.manifest into out: 0, or ENAMETOOLONG. */
int ik_segset_manifest_path(const char *dir, const char *table, uint64_t seq, char *out,
                            size_t cap);
/* Writes the manifest as dir/manifests/<table>.<seq>.manifest (temp name, then linked; not
 * fsynced: see ik_segset_sync). path_out may be NULL. */
int ik_segset_write_manifest(const struct ik_segset *s, const char *dir, char *path_out,
                             size_t path_cap, struct ik_error *err);
/* Links the snapshot file open on `fd` (read-only; not taken: the state holds a dup) as the
 * base segment dir/snapshots/<table>.<version>.arrow and returns the state of that one
 * segment, as ik_segset_write_base would for the same rows: an import's journal, already a
 * snapshot of `version`, published without writing its rows again. EINVAL when the file is
 * not a snapshot of that table and version (or fd is writable); the link's errors (EXDEV, no
 * /proc) as they come: the caller then writes the rows. Not fsynced (ik_segset_sync). */
int ik_segset_link_base(const char *dir, const char *table, uint64_t version, uint64_t seq, int fd,
                        struct ik_segset **out, struct ik_error *err);
/* Writes `batch` (key-sorted) as the base segment dir/snapshots/<table>.<version>.arrow (a
 * file of that name already there is the same version and is reused) and returns the state of
 * that one segment. Not fsynced (ik_segset_sync). */
int ik_segset_write_base(const char *dir, const char *table, uint64_t version, uint64_t seq,
                         const struct ArrowSchema *schema, const struct ArrowArray *batch,
                         struct ik_segset **out, struct ik_error *err);
/* The same two, except that the segment is held in a sealed memfd named as its file would be
 * (`<table>.<version>.arrow`, `<table>.<version>.d<seq>.arrow`), not written under snapshots/:
 * the daemon publishes a write without touching the file system, and ik_segset_sync writes the
 * file once that state (or a later one naming the segment) is made durable. The segment's
 * descriptor (ik_segset_fd) is the memfd; a state made from it keeps it (ik_segset_add,
 * ik_segset_prefix dup it), so its identity (device, inode) never changes. */
int ik_segset_mem_base(const char *table, uint64_t version, uint64_t seq,
                       const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       struct ik_segset **out, struct ik_error *err);
int ik_segset_mem_delta(const struct ik_segset *cur, uint64_t version, uint64_t seq,
                        const struct ArrowSchema *schema, const struct ArrowArray *rows,
                        const char *const *deleted, size_t n_deleted, struct ik_segset **out,
                        struct ik_error *err);
/* Whether segment i of s is held in memory (made by ik_segset_mem_*), its file maybe not
 * written yet. */
bool ik_segset_in_memory(const struct ik_segset *s, int i);
/* The manifest of s in a sealed memfd named `<table>.<seq>.manifest` (what the daemon passes
 * to clients for a state published from memory): *fd_out, taken by the caller. */
int ik_segset_manifest_memfd(const struct ik_segset *s, int *fd_out, struct ik_error *err);
/* Writes `rows` (key-sorted; the rows inserted or changed after cur's version) as delta segment
 * dir/snapshots/<table>.<version>.d<seq>.arrow and returns cur plus that delta, with
 * `deleted` (keys removed) and the rows the delta supersedes gone (ik_segset_add). */
int ik_segset_write_delta(const struct ik_segset *cur, const char *dir, uint64_t version,
                          uint64_t seq, const struct ArrowSchema *schema,
                          const struct ArrowArray *rows, const char *const *deleted,
                          size_t n_deleted, struct ik_segset **out, struct ik_error *err);
/* Makes the state durable: the segments named in `fresh` (n_fresh file names, the ones not in
 * the last durable state) are fsynced, or, held in memory (ik_segset_in_memory), written as
 * files and fsynced; its manifest is written when there is no file of it yet, and fsynced;
 * then snapshots/ and manifests/, and seq is recorded in dir/manifest-synced.<table>, which
 * ik_segset_latest trusts. */
int ik_segset_sync(const struct ik_segset *s, const char *dir, const char *const *fresh,
                   int n_fresh, struct ik_error *err);
/* Unlinks every manifest of the table with a seq below `keep`'s and every segment file of
 * the table that no state in keep[0..n_keep) names (temp files too). Only the writer of the
 * table's files may call it, while it writes none. */
int ik_segset_prune(const char *dir, const char *table, struct ik_segset *const *keep, int n_keep,
                    struct ik_error *err);
/* The same, except that the files whose names are never made again (deltas, whose names carry
 * their state's seq; manifests; temp files) are not unlinked: *later (malloc'd; *n_later paths)
 * lists them for ik_segset_unlink_all, which the caller runs once it no longer excludes the
 * writers of the table's files (an unlink on a busy disk took up to 120 ms, and the daemon's
 * builder waited for it). Bases, named by their version alone, are unlinked here: a later
 * state at the same version writes that name again. On an error *later holds what was listed. */
int ik_segset_prune_deferred(const char *dir, const char *table, struct ik_segset *const *keep,
                             int n_keep, char ***later, size_t *n_later, struct ik_error *err);
/* Unlinks paths[0..n) (errors ignored: a file left is pruned the next time) and frees them. */
void ik_segset_unlink_all(char **paths, size_t n);
/* The highest manifest seq of `table` under dir (0 when none). */
uint64_t ik_segset_max_seq(const char *dir, const char *table);

/* Spare files (lib/snapshot/spare.c): empty files created ahead in `<dir>/spares/`, which the
 * writing of segments and manifests takes instead of creating a temp file (creating a file is
 * the dearest step of a small write on some file systems). ik_spare_enable removes what a
 * previous process left there and keeps `n` (at most 256) from then on; ik_spare_fill creates
 * the missing ones (call it off the write path) and returns how many; ik_spare_wait blocks
 * until the pool is below half (or timeout_ms, or ik_spare_wake); ik_spare_disable removes
 * them. Process-wide: one data directory per process. */
int ik_spare_enable(const char *dir, int n, struct ik_error *err);
int ik_spare_fill(void);
void ik_spare_wait(int timeout_ms);
void ik_spare_wake(void);
void ik_spare_disable(void);

#ifdef __cplusplus
}
#endif

#endif
