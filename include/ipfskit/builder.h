/* Row-wise builder of one record batch of an ipfs-kit table (or any flat struct schema of
 * utf8, binary, bool, int8-64, float64, timestamp/date/duration and dictionary<int, utf8>
 * columns). Used by the store (SQLite rows to Arrow), the daemon (metrics, backend health),
 * the JSON fallback decoder and vfs statistics. Buffers are 64-byte aligned; the finished
 * batch owns its memory and is released through its release callback. */
#ifndef IPFSKIT_BUILDER_H
#define IPFSKIT_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"
#include "ipfskit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ik_builder;

/* Creates a builder for the struct schema `schema` (copied; the caller keeps its own).
 * `capacity_hint` rows are reserved up front (0 is fine). EINVAL names an unsupported column
 * type. */
int ik_builder_create(const struct ArrowSchema *schema, int64_t capacity_hint,
                      struct ik_builder **out, struct ik_error *err);

/* Index of the column called `name`, or -1. */
int ik_builder_column(const struct ik_builder *b, const char *name);

/* Appends a value to column `col` of the current row. Strings go to utf8, binary and
 * dictionary<…, utf8> columns (the dictionary is deduplicated by the builder); ints to
 * integer, timestamp, date and duration columns (in the column's unit) and to float64;
 * doubles to float64; bools to bool. A value of the wrong kind for the column, a second value
 * for the same column in one row, or an int out of the column's range is EINVAL naming the
 * column. */
int ik_builder_null(struct ik_builder *b, int col, struct ik_error *err);
int ik_builder_str(struct ik_builder *b, int col, const char *s, size_t len, struct ik_error *err);
int ik_builder_int(struct ik_builder *b, int col, int64_t v, struct ik_error *err);
int ik_builder_double(struct ik_builder *b, int col, double v, struct ik_error *err);
int ik_builder_bool(struct ik_builder *b, int col, bool v, struct ik_error *err);

/* Reserves room for `bytes` more string bytes in column `col` (utf8 and binary columns; other
 * kinds ignore it): a caller that knows its strings' total saves the buffer's growth. ENOMEM,
 * EINVAL for no such column. */
int ik_builder_reserve_bytes(struct ik_builder *b, int col, size_t bytes, struct ik_error *err);

/* Ends the current row: columns given no value become null; a non-nullable column without a
 * value is EINVAL ("column 'cid' is not nullable") and the row is dropped. */
int ik_builder_end_row(struct ik_builder *b, struct ik_error *err);

/* Drops the values appended to the current row so far (after a bad value). */
void ik_builder_abort_row(struct ik_builder *b);

int64_t ik_builder_rows(const struct ik_builder *b);

/* Moves the rows built so far into a schema + struct array (one record batch) and resets the
 * builder to empty (same schema). `schema_out` may be NULL. `metadata` (Arrow C metadata
 * encoding, may be NULL) replaces the schema's custom metadata in schema_out. */
int ik_builder_finish(struct ik_builder *b, const char *metadata, struct ArrowSchema *schema_out,
                      struct ArrowArray *array_out, struct ik_error *err);

void ik_builder_destroy(struct ik_builder *b);

/* Builds Arrow C metadata (int32 count, then length-prefixed key and value) from `n` pairs;
 * malloc'd, caller frees. */
char *ik_metadata_build(const char *const *keys, const char *const *values, int n);

#ifdef __cplusplus
}
#endif

#endif
