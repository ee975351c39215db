/* Internal pieces of the query engine (query.c) for results that span several segments
 * (segquery.c): selecting rows of one batch and projecting a selection. */
#ifndef IK_SNAPSHOT_QUERY_INTERNAL_H
#define IK_SNAPSHOT_QUERY_INTERNAL_H

#include "ipfskit/query.h"

/* The rows of `batch` matching every predicate of `q` (checked already), ascending, as a
 * malloc'd array in *sel (*n_sel rows). When `cand` is not NULL only rows cand[0..n_cand)
 * (ascending) are tested; rows listed in `skip` (ascending) never match. */
int ik__query_select(const struct ik_query *q, const struct ArrowSchema *schema,
                     const struct ArrowArray *batch, const int64_t *cand, int64_t n_cand,
                     const int64_t *skip, int64_t n_skip, int64_t **sel, int64_t *n_sel,
                     struct ik_error *err);

/* q's projection of `k` rows of `batch`: rows sel[0..k) (a slice when they are contiguous,
 * else gathered), or when sel is NULL the slice [start, start + k). schema_out may be NULL. */
int ik__query_take(const struct ik_query *q, const struct ArrowSchema *schema,
                   const struct ArrowArray *batch, const int64_t *sel, int64_t start, int64_t k,
                   struct ArrowSchema *schema_out, struct ArrowArray *out, struct ik_error *err);

#endif
