/* Test helpers shared by the builder and JSON rows tests: value-by-value comparison of two
 * record batches of one flat schema, and reading single values out of a column. */
#ifndef IK_TEST_BATCH_EQ_H
#define IK_TEST_BATCH_EQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/abi.h"

/* True when batches a and b (struct arrays of `schema`, offsets honoured) hold the same rows;
 * otherwise false with the first difference described in `why`. Dictionary columns compare by
 * the strings, not the indices. */
bool ik_test_batch_equal(const struct ArrowSchema *schema, const struct ArrowArray *a,
                         const struct ArrowArray *b, char *why, size_t why_len);

/* Row `i` of a flat column (array offset honoured). */
bool ik_test_is_null(const struct ArrowArray *col, int64_t i);
/* utf8/binary (32-bit offsets) or dictionary<…, utf8>: pointer and length. */
const char *ik_test_str(const struct ArrowSchema *field, const struct ArrowArray *col, int64_t i,
                        size_t *len);
/* Integer (any width, signed per format), timestamps and dates. */
int64_t ik_test_int(const struct ArrowSchema *field, const struct ArrowArray *col, int64_t i);
double ik_test_double(const struct ArrowArray *col, int64_t i);
bool ik_test_bool(const struct ArrowArray *col, int64_t i);

#endif
