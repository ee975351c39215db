/* Test fixtures shared by the query, snapshot and vfs tests: a small table holding one column of
 * every filterable type (with nulls, optionally sliced: every column and the batch itself start
 * at a non-zero offset behind junk rows), rendering rows as JSON lines, and big pin-like
 * batches for timing. */
#ifndef IK_QUERY_FIXTURE_H
#define IK_QUERY_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "ipfskit/arrow.h"

#define MIX_ROWS 8

/* Columns: id int32 (0..7), s utf8, i64 int64, i32 int32, c int8, ts timestamp[us, UTC],
 * f64 float64, b bool, d dictionary<int8, utf8>, U large_utf8 (see query_fixture.c for values).
 * sliced: children at offset 1 and the batch at offset 1 over junk leading rows. */
void fx_mixed(bool sliced, struct ArrowSchema *schema, struct ArrowArray *batch);

/* Renders every row of a batch as one JSON line each into a malloc'd array of malloc'd
 * strings (*n rows). Returns 0 or an ik code. */
int fx_render(const struct ArrowSchema *schema, const struct ArrowArray *batch, char ***lines,
              int64_t *n);
void fx_free_lines(char **lines, int64_t n);

/* An n-row pin-like batch: cid utf8, size_bytes int64 (null every 7th), pin_type
 * dictionary<int8, utf8> (recursive/direct/indirect by i % 3... scrambled), timestamp,
 * vfs_path utf8. */
void fx_pins(int64_t n, struct ArrowSchema *schema, struct ArrowArray *batch);

/* Milliseconds on a monotonic clock. */
double fx_ms(void);

#endif
