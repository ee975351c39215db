/* JSON rows: the `traditional` fallback wire format (DESIGN.md "Fallbacks"). One JSON object
 * per row per line, keys in schema order: `{"cid":"Qm…","name":null,"size_bytes":123,…}`.
 * Spelling: strings and dictionary<…, utf8> values as JSON strings (escaped, control characters
 * as \uXXXX); integers, durations and times as numbers; float64/float32 as the shortest text
 * that reads back to the same value (NaN and ±Inf as null); bools as true/false; timestamps as
 * RFC 3339 UTC strings with the unit's fraction ("2026-11-25T10:00:00.123456Z" for
 * microseconds; years outside 0000-9999 as the raw integer); date32 (and whole-day date64) as
 * "YYYY-MM-DD". Binary columns are not supported (ENOTSUP). */
#ifndef IPFSKIT_JSON_ROWS_H
#define IPFSKIT_JSON_ROWS_H

#include <stddef.h>

#include "ipfskit/arrow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the rows of `batch` (a struct array of `schema`; offsets of the batch and of its
 * columns honoured) to `write`, one line per row, each ending in '\n'. Invalid UTF-8 in a
 * string column is refused (IK_EINVALID naming the row and column), as are dictionary indices
 * out of range; EINVAL for a schema it cannot spell; errors of `write` are passed on. */
int ik_json_rows_write(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       ik_write_fn write, void *ctx, struct ik_error *err);

/* Writes a change feed batch (schema ik_changes_schema) as JSON lines, one `write` call per
 * line (with its '\n'): `op`, `version`, `cid`, then for an upsert the table's other columns in
 * schema order; a delete has only the three. Errors as ik_json_rows_write. */
int ik_changes_json_write(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                          ik_write_fn write, void *ctx, struct ik_error *err);

/* Parses JSON rows in text[0, len) into one batch of table `table_or_NULL` (one of the ipfs-kit
 * tables; `schema` is then ignored and may be NULL) or, when it is NULL, of `schema` (a flat
 * struct schema the builder supports). Blank lines are skipped; a missing key is null; an
 * unknown or repeated key is an error. Timestamps and dates accept the strings written above
 * (any RFC 3339 offset) or integers in the column's unit. `schema_out` (may be NULL) receives
 * the schema, `out` the batch. Errors (IK_EFORMAT for bad JSON, EINVAL for a bad value) name
 * the line and key: "line 3: key 'size_bytes': expected an integer". */
int ik_json_rows_read(const char *table_or_NULL, const struct ArrowSchema *schema, const char *text,
                      size_t len, struct ArrowSchema *schema_out, struct ArrowArray *out,
                      struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
