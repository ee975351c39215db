/* The four ipfs-kit tables (pin_index, metrics, vfs_stats, backend_health), defined once here
 * and used by the store, the snapshot builder, the JSON fallback and the tests. Documented in
 * docs/schemas.md. */
#ifndef IPFSKIT_SCHEMAS_H
#define IPFSKIT_SCHEMAS_H

#include "ipfskit/arrow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills `out` with the struct schema of table `name`; ENOENT for an unknown table. The schema
 * carries the custom metadata key "ipfs_kit.table". */
int ik_table_schema(const char *name, struct ArrowSchema *out, struct ik_error *err);

/* The custom metadata keys of a table's schema, and of a snapshot's (lib/snapshot). */
#define IK_META_TABLE "ipfs_kit.table"
#define IK_META_VERSION "ipfs_kit.snapshot_version"
#define IK_META_CREATED "ipfs_kit.created_at"

/* ik_table_schema with the metadata a snapshot of `version` carries: "ipfs_kit.table", then
 * "ipfs_kit.snapshot_version" and "ipfs_kit.created_at" (now, RFC 3339), as lib/snapshot
 * writes them: rows encoded with it are a snapshot file (an import's journal, published as
 * its base segment). */
int ik_table_snapshot_schema(const char *name, uint64_t version, struct ArrowSchema *out,
                             struct ik_error *err);

/* The table names, NULL-terminated. */
extern const char *const ik_table_names[];

/* The index of table `name` in ik_table_names, or -1. */
int ik_table_index(const char *name);

struct ik_builder;

/* Creates a row builder (include/ipfskit/builder.h) for table `name`'s schema; ENOENT for an
 * unknown name. */
int ik_builder_create_table(const char *name, int64_t capacity_hint, struct ik_builder **out,
                            struct ik_error *err);

/* vfs_stats from a pin_index batch: one row per directory of every pin's vfs_path (and "/"),
 * with size_bytes and file_count summed over the pins under it, last_modified the newest pin
 * timestamp, access_count summed, cache_hit_ratio null (no cache data yet). Rows sorted by
 * path. */
int ik_vfs_stats_build(const struct ArrowSchema *pins_schema, const struct ArrowArray *pins,
                       struct ArrowSchema *schema_out, struct ArrowArray *out,
                       struct ik_error *err);
/* The same over n batches of one schema, leaving out rows skip[b][0..n_skip[b]) (ascending, of
 * the batch's own rows) of batch b (skip and n_skip may be NULL): a segmented state's live rows.
 * `after` (may be NULL) is called with ctx after each batch. */
int ik_vfs_stats_build_batches(const struct ArrowSchema *pins_schema,
                               const struct ArrowArray *const *batches, const int64_t *const *skip,
                               const int64_t *n_skip, int n, void (*after)(void *ctx, int b),
                               void *ctx, struct ArrowSchema *schema_out, struct ArrowArray *out,
                               struct ik_error *err);

/* The schema of `table`'s change feed: the table's columns (all nullable but the first, the
 * key), then "op" dictionary<int8, utf8> ("upsert" or "delete") and "version" int64. ENOENT for
 * an unknown table, ENOTSUP for a table without a change log (all but pin_index). */
int ik_changes_schema(const char *table, struct ArrowSchema *out, struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
