/* The inside of a segment set (segset.c), shared with its query (segquery.c) and files
 * (segfiles.c). */
#ifndef IK_SNAPSHOT_SEGSET_INTERNAL_H
#define IK_SNAPSHOT_SEGSET_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ipfskit/segments.h"

struct ik_seg {
    struct ik_snapshot *snap; /* a reference */
    char name[IK_SEG_NAME_MAX];
    int64_t rows;
    int64_t *gone; /* ascending row indices */
    int64_t n_gone;
    int fd; /* the daemon's descriptor of the file, or -1 */
    bool own_fd;
    bool mem;          /* held in a sealed memfd (fd), not written under snapshots/ by its maker:
                        * ik_segset_sync writes its file */
    uint64_t dev, ino; /* the file's identity once fds are adopted (0 unknown) */
};

struct ik_segset {
    atomic_int refs;
    char table[64];
    uint64_t version, seq;
    int n;
    struct ik_seg seg[IK_SEG_MAX];
};

/* snapshot.c: how ik_snapshot_write_fd writes its file (writev; a test records the writes). */
extern ssize_t (*ik__snapshot_writev)(int fd, const struct iovec *iov, int n);

/* snapshot.c: the snapshot's one record batch. */
const struct ArrowArray *ik__snapshot_batch(const struct ik_snapshot *s);
/* snapshot.c: segview.c's template of the snapshot's batch (an opaque malloc'd block freed with
 * the snapshot), or NULL before the first view; set_views stores one unless another thread
 * did first (then frees it) and returns the one stored. */
void *ik__snapshot_views(const struct ik_snapshot *s);
void *ik__snapshot_set_views(const struct ik_snapshot *s, void *views);
/* snapshot.c: whether `name` is exactly "<table>.<number><suffix>" (*v the number). */
bool ik__parse_numbered(const char *name, const char *table, const char *suffix, uint64_t *v);
/* snapshot.c: the numbers of the files "<table>.<number><suffix>" in directory sdir, malloc'd
 * in *out (*n of them), newest first. errno-style code when sdir cannot be read. */
int ik__list_numbered(const char *sdir, const char *table, const char *suffix, uint64_t **out,
                      size_t *n, struct ik_error *err);
/* snapshot.c: dir/<prefix>.<table> holds a number (written to a temp name and renamed, not
 * fsynced: a lost mark only makes the next start trust less); read: false when absent. */
int ik__mark_write(const char *dir, const char *prefix, const char *table, uint64_t value,
                   struct ik_error *err);
bool ik__mark_read(const char *dir, const char *prefix, const char *table, uint64_t *value);

const struct ArrowArray *ik__seg_batch(const struct ik_seg *g);
/* Row `row`'s key (the first column, utf8): 0, or -1 when the segment has none. */
int ik__seg_key(const struct ik_seg *g, int64_t row, const uint8_t **p, size_t *n);
/* The row whose key is `key` (binary search; the segment is sorted by key), or -1. */
int64_t ik__seg_find(const struct ik_seg *g, const void *key, size_t n);
bool ik__seg_is_gone(const struct ik_seg *g, int64_t row);
/* segview.c: the blocks a query's views are taken from (one reference to the set each). */
struct view_block;
struct ik__view_arena {
    struct ik_segset *set;
    struct view_block *cur;
};
void ik__view_arena_init(struct ik__view_arena *va, struct ik_segset *set);
/* Done taking views: the current block's unused room is given up (it is freed when the arrays
 * taken from it are all released, or now when none were). */
void ik__view_arena_seal(struct ik__view_arena *va);
/* segview.c: rows [start, start + k) of g, columns cols[0..n_cols), as views of the segment's
 * arrays taken from va's blocks (a new block has room for `more` such batches, at most a few
 * dozen): 0 or ENOMEM. */
int ik__seg_view(struct ik__view_arena *va, const struct ik_seg *g, const int64_t *cols,
                 int64_t n_cols, int64_t start, int64_t k, int64_t more, struct ArrowArray *out);

/* A spare file (spare.c) as a temp file: its descriptor, open for writing, and its path in
 * tmp; -1 when the pool is off or empty (then create one). */
int ik__spare_take(char *tmp, size_t cap);

#endif
