/* Queries on a segment set: the result is a stream of batches in the state's row order (each
 * segment's live rows, base first). Without a filter the batches are slices of the mapped
 * segments, one per run of live rows between gone rows, cut by offset and limit; with a filter
 * each segment's selected rows are one slice when contiguous, else gathered (and counted as
 * copied). A filter on the key column (`eq` or `in`) finds its rows by binary search in every
 * segment instead of scanning. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/segments.h"
#include "table/query_internal.h"
#include "snapshot/segset_internal.h"

struct seg_stream {
    struct ik_segset *set;
    struct ArrowSchema schema;
    struct ArrowArray *batches;
    int64_t n, next;
    int64_t *cols, n_cols;    /* the projection's column indices (slices are views) */
    struct ik__view_arena va; /* where the views' arrays come from */
    int64_t runs_left;        /* runs of live rows not yet visited (no filter) */
    char error[IK_ERROR_SIZE];
};

static int project(struct seg_stream *r, const struct ArrowSchema *sc, struct ik_error *err);

static int ss_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    struct seg_stream *r = st->private_data;
    struct ik_error err;
    int rc = 0;
    if (!r->schema.release) /* views only so far: the projection made when first asked */
        rc = project(r, ik_snapshot_schema(r->set->seg[0].snap), &err);
    if (rc == 0)
        rc = ik_schema_copy(&r->schema, out, &err);
    if (rc != 0)
        snprintf(r->error, sizeof r->error, "%s", err.message);
    return rc;
}

static int ss_get_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    struct seg_stream *r = st->private_data;
    if (r->next < r->n)
        ik_array_move(&r->batches[r->next++], out);
    else
        memset(out, 0, sizeof *out);
    return 0;
}

static const char *ss_last_error(struct ArrowArrayStream *st)
{
    struct seg_stream *r = st->private_data;
    return r->error[0] ? r->error : NULL;
}

static void ss_free(struct seg_stream *r)
{
    int64_t i;
    if (r == NULL)
        return;
    for (i = r->next; i < r->n; i++)
        if (r->batches[i].release)
            r->batches[i].release(&r->batches[i]);
    ik__view_arena_seal(&r->va);
    free(r->batches);
    free(r->cols);
    if (r->schema.release)
        r->schema.release(&r->schema);
    ik_segset_release(r->set);
    free(r);
}

static void ss_release(struct ArrowArrayStream *st)
{
    if (st == NULL || st->release == NULL)
        return;
    ss_free(st->private_data);
    st->release = NULL;
}

static int push(struct seg_stream *r, int64_t *cap, struct ik_error *err)
{
    if (r->n < *cap)
        return 0;
    *cap = *cap ? *cap * 2 : 8;
    {
        struct ArrowArray *nb = realloc(r->batches, (size_t)*cap * sizeof *nb);
        if (nb == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        r->batches = nb;
    }
    return 0;
}

/* ---- costs ----------------------------------------------------------------------------- */

/* Whether p lies in a mapped segment: the batch's own segment `hint` first (a slice always
 * does), then the others. */
static bool in_segments(const struct ik_segset *s, int hint, const void *p)
{
    int i;
    for (i = -1; i < s->n; i++) {
        size_t size;
        const uint8_t *d;
        if (i == hint || (i < 0 && hint < 0))
            continue;
        d = ik_snapshot_data(s->seg[i < 0 ? hint : i].snap, &size);
        if ((const uint8_t *)p >= d && (const uint8_t *)p < d + size)
            return true;
    }
    return false;
}

/* Bytes of array `a` (field f) held outside the segments' mappings; *any when some are. */
static int64_t copied_bytes(const struct ik_segset *s, int hint, const struct ArrowSchema *f,
                            const struct ArrowArray *a, bool *any)
{
    int64_t n = 0, len = a->offset + a->length, w = 8, i;
    const char *fmt = f->format;
    if (fmt[0] == 'b')
        w = 0;
    else if (fmt[0] == 'c' || fmt[0] == 'C')
        w = 1;
    else if (fmt[0] == 's' || fmt[0] == 'S')
        w = 2;
    else if (fmt[0] == 'i' || fmt[0] == 'I' || fmt[0] == 'u' || fmt[0] == 'z' || fmt[0] == 'f')
        w = 4;
    if (a->n_buffers > 0 && a->buffers[0] && !in_segments(s, hint, a->buffers[0]))
        n += (len + 7) / 8;
    if (a->n_buffers > 1 && a->buffers[1] && !in_segments(s, hint, a->buffers[1]))
        n += w ? w * (len + (fmt[0] == 'u' || fmt[0] == 'z')) : (len + 7) / 8;
    if (a->n_buffers > 2 && a->buffers[2] && !in_segments(s, hint, a->buffers[2])) {
        const int32_t *o = a->buffers[1];
        n += o[len] - o[a->offset];
    }
    for (i = 0; i < a->n_children && i < f->n_children; i++)
        n += copied_bytes(s, hint, f->children[i], a->children[i], any);
    if (a->dictionary && f->dictionary)
        n += copied_bytes(s, hint, f->dictionary, a->dictionary, any);
    if (n > 0)
        *any = true;
    return n;
}

/* ---- selection ------------------------------------------------------------------------- */

/* The key predicate (first column, eq or in, string values), or NULL. */
static const struct ik_predicate *key_pred(const struct ik_query *q, const struct ArrowSchema *sc)
{
    size_t i, k;
    for (i = 0; i < q->n_preds; i++) {
        const struct ik_predicate *p = &q->preds[i];
        bool strings = p->n_values > 0;
        if (strcmp(p->column, sc->children[0]->name) != 0 ||
            (p->op != IK_OP_EQ && p->op != IK_OP_IN))
            continue;
        for (k = 0; k < p->n_values; k++)
            strings = strings && p->values[k].kind == IK_VAL_STR;
        if (strings)
            return p;
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Rows of segment g holding one of the key values (ascending, distinct). */
static int key_rows(const struct ik_seg *g, const struct ik_predicate *p, int64_t **out, int64_t *n,
                    struct ik_error *err)
{
    int64_t *rows = malloc((p->n_values + 1) * sizeof *rows), k = 0, i, j = 0;
    size_t v;
    if (rows == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (v = 0; v < p->n_values; v++) {
        int64_t r = ik__seg_find(g, p->values[v].s, p->values[v].len);
        if (r >= 0)
            rows[k++] = r;
    }
    qsort(rows, (size_t)k, sizeof *rows, cmp_i64);
    for (i = 0; i < k; i++)
        if (j == 0 || rows[j - 1] != rows[i])
            rows[j++] = rows[i];
    *out = rows;
    *n = j;
    return 0;
}

/* r->cols: the indices of the query's columns (every column without a projection). */
static int projection(const struct ik_query *q, const struct ArrowSchema *sc, struct seg_stream *r,
                      struct ik_error *err)
{
    int64_t n = q->n_columns ? (int64_t)q->n_columns : sc->n_children, i, c;
    if ((r->cols = malloc((size_t)(n ? n : 1) * sizeof *r->cols)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        for (c = 0; q->n_columns && c < sc->n_children; c++)
            if (strcmp(sc->children[c]->name, q->columns[i]) == 0)
                break;
        if (c >= sc->n_children) { /* ik_query_check let it through: the general path says */
            free(r->cols);
            r->cols = NULL;
            return 0;
        }
        r->cols[i] = q->n_columns ? c : i;
    }
    r->n_cols = n;
    return 0;
}

/* r->schema: the projection of the segment's schema `sc` (r->cols), as ik__query_take makes
 * it, so that the first slice is a view too (cloning every array of every column for it was
 * most of the cost of a small query: the HTTP benchmark's limit=100). */
static int project(struct seg_stream *r, const struct ArrowSchema *sc, struct ik_error *err)
{
    int64_t i;
    int rc;
    if (ik__schema_alloc(&r->schema, "+s", sc->name, sc->metadata, sc->flags, r->n_cols) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < r->n_cols; i++)
        if ((rc = ik_schema_copy(sc->children[r->cols[i]], r->schema.children[i], err)) != 0) {
            r->schema.release(&r->schema);
            return rc;
        }
    return 0;
}

/* Adds the batch for rows sel[0..k) (or the slice [start, start + k) when sel is NULL, with
 * about `more` slices to come, this one included). Rows that follow each other (a point
 * lookup's one row) are a slice too: views, as an unfiltered result's are. */
static int add_batch(struct seg_stream *r, int64_t *cap, const struct ik_query *q,
                     const struct ik_seg *g, const int64_t *sel, int64_t start, int64_t k,
                     int64_t more, struct ik_query_cost *cost, struct ik_error *err)
{
    const struct ArrowSchema *sc = ik_snapshot_schema(g->snap);
    struct ArrowArray *b;
    bool any = false, slice = true;
    int rc;
    int64_t i;
    if ((rc = push(r, cap, err)) != 0)
        return rc;
    b = &r->batches[r->n];
    for (i = 1; sel != NULL && i < k && slice; i++) /* selected rows that follow each other */
        slice = sel[i] == sel[i - 1] + 1;
    if (sel != NULL && slice && k > 0)
        start = sel[0];
    if (slice && r->cols) { /* a slice: views, nothing copied (the schema made when asked) */
        if (ik__seg_view(&r->va, g, r->cols, r->n_cols, start, k, more, b) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        r->n++;
        return 0;
    }
    rc = ik__query_take(q, sc, ik__seg_batch(g), sel, start, k,
                        r->schema.release ? NULL : &r->schema, b, err);
    if (rc != 0)
        return rc;
    r->n++;
    for (i = 0; i < b->n_children; i++)
        cost->copied_bytes += copied_bytes(r->set, (int)(g - r->set->seg), r->schema.children[i],
                                           b->children[i], &any);
    if (any)
        cost->copied_rows += k;
    return 0;
}

/* Takes the rows of one segment's selection that survive the global offset and limit. */
static int take_selected(struct seg_stream *r, int64_t *cap, const struct ik_query *q,
                         const struct ik_seg *g, const int64_t *sel, int64_t n, int64_t *skip,
                         int64_t *left, struct ik_query_cost *cost, struct ik_error *err)
{
    int64_t from = *skip < n ? *skip : n, k = n - from;
    *skip -= from;
    if (*left >= 0 && k > *left)
        k = *left;
    if (*left >= 0)
        *left -= k;
    if (k <= 0)
        return 0;
    return add_batch(r, cap, q, g, sel + from, 0, k, 1, cost, err);
}

/* No filter: the runs of live rows of segment g, cut by offset and limit. */
static int take_runs(struct seg_stream *r, int64_t *cap, const struct ik_query *q,
                     const struct ik_seg *g, int64_t *skip, int64_t *left,
                     struct ik_query_cost *cost, struct ik_error *err)
{
    int64_t i, from = 0;
    int rc;
    for (i = 0; i <= g->n_gone && (*left < 0 || *left > 0); i++) {
        int64_t to = i < g->n_gone ? g->gone[i] : g->rows, len = to - from, k;
        r->runs_left--;
        if (*skip >= len) {
            *skip -= len;
        } else {
            from += *skip;
            len -= *skip;
            *skip = 0;
            k = *left >= 0 && *left < len ? *left : len;
            if (*left >= 0)
                *left -= k;
            if (k > 0 && (rc = add_batch(r, cap, q, g, NULL, from, k,
                                         *left == 0 ? 1 : r->runs_left + 1, cost, err)) != 0)
                return rc;
        }
        from = to + 1;
    }
    return 0;
}

int ik_segset_query(struct ik_segset *s, const struct ik_query *q, struct ArrowArrayStream *out,
                    struct ik_query_cost *cost, struct ik_error *err)
{
    const struct ArrowSchema *sc = ik_snapshot_schema(s->seg[0].snap);
    const struct ik_predicate *kp;
    struct ik_query_cost dummy;
    struct seg_stream *r;
    int64_t cap = 0, skip = q->offset, left = q->limit, matched = 0;
    int rc = 0, i;
    out->release = NULL;
    if (cost == NULL)
        cost = &dummy;
    memset(cost, 0, sizeof *cost);
    if (q->table[0] && strcmp(q->table, s->table) != 0)
        return ik_error_set(err, EINVAL, "query for table '%s' on a state of '%s'", q->table,
                            s->table);
    if ((rc = ik_query_check(q, sc, err)) != 0)
        return rc;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    ik_segset_ref(s);
    r->set = s;
    ik__view_arena_init(&r->va, s);
    for (i = 0; i < s->n && q->n_preds == 0; i++)
        r->runs_left += s->seg[i].n_gone + 1;
    if ((rc = projection(q, sc, r, err)) != 0) {
        ss_free(r);
        return rc;
    }
    kp = q->n_preds ? key_pred(q, sc) : NULL;
    for (i = 0; i < s->n && rc == 0; i++) {
        const struct ik_seg *g = &s->seg[i];
        int64_t *cand = NULL, n_cand = 0, *sel = NULL, n_sel = 0;
        if (q->n_preds == 0) {
            matched += g->rows - g->n_gone;
            rc = take_runs(r, &cap, q, g, &skip, &left, cost, err);
            continue;
        }
        if (kp && (rc = key_rows(g, kp, &cand, &n_cand, err)) != 0)
            break;
        if (kp && q->n_preds == 1) { /* the key alone: its rows are the match, less the gone */
            for (int64_t c = 0; c < n_cand; c++)
                if (!ik__seg_is_gone(g, cand[c]))
                    cand[n_sel++] = cand[c];
            sel = cand;
            cand = NULL;
        } else if (!kp || n_cand > 0) {
            rc = ik__query_select(q, ik_snapshot_schema(g->snap), ik__seg_batch(g), cand, n_cand,
                                  g->gone, g->n_gone, &sel, &n_sel, err);
        }
        if (rc == 0) {
            matched += n_sel;
            rc = take_selected(r, &cap, q, g, sel, n_sel, &skip, &left, cost, err);
        }
        free(cand);
        free(sel);
    }
    /* an empty result is one empty batch, with the projected schema */
    if (rc == 0 && r->n == 0)
        rc = add_batch(r, &cap, q, &s->seg[0], NULL, 0, 0, 1, cost, err);
    ik__view_arena_seal(&r->va);
    if (rc != 0) {
        ss_free(r);
        return rc;
    }
    cost->matched = matched;
    out->get_schema = ss_get_schema;
    out->get_next = ss_get_next;
    out->get_last_error = ss_last_error;
    out->release = ss_release;
    out->private_data = r;
    return 0;
}
