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

/* The table names, NULL-terminated. */
extern const char *const ik_table_names[];

/* The index of table `name` in ik_table_names, or -1. */
int ik_table_index(const char *name);

#ifdef __cplusplus
}
#endif

#endif
