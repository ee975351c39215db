/* A slice of a segment as one allocation: the batch of rows [start, start + k) of a mapped
 * segment, projected, whose arrays are views of the segment's own (the same buffers, the top
 * columns' offset moved). The general path (ik__query_take) clones every array of every
 * column, a handful of mallocs each: ~4 µs per batch, which a whole-table result over 100
 * segments paid 100 times. Every array of the view (parent, columns, their children and
 * dictionaries) shares one block and one reference to the segment; each has its own release
 * (the C Data Interface lets a consumer move any child out and release it alone), and the
 * last one released frees the block. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "snapshot/segset_internal.h"

struct view_block {
    atomic_long refs; /* arrays of the view not yet released */
    struct ik_snapshot *snap;
    const void *no_buffers[1]; /* the parent's validity: none */
};

static void view_release(struct ArrowArray *a)
{
    struct view_block *b;
    int64_t i;
    if (a == NULL || a->release == NULL)
        return;
    b = a->private_data;
    for (i = 0; i < a->n_children; i++)
        if (a->children[i]->release)
            a->children[i]->release(a->children[i]);
    if (a->dictionary && a->dictionary->release)
        a->dictionary->release(a->dictionary);
    a->release = NULL;
    if (atomic_fetch_sub(&b->refs, 1) == 1) {
        ik_snapshot_close(b->snap);
        free(b);
    }
}

/* Arrays and child pointers in the tree under a (a included). */
static void count(const struct ArrowArray *a, int64_t *nodes, int64_t *ptrs)
{
    int64_t i;
    (*nodes)++;
    *ptrs += a->n_children;
    for (i = 0; i < a->n_children; i++)
        count(a->children[i], nodes, ptrs);
    if (a->dictionary)
        count(a->dictionary, nodes, ptrs);
}

struct cursor {
    struct view_block *b;
    struct ArrowArray *nodes;
    struct ArrowArray **ptrs;
};

/* dst := a view of src (and of everything under it). */
static void fill(struct cursor *c, struct ArrowArray *dst, const struct ArrowArray *src)
{
    int64_t i;
    *dst = *src;
    dst->private_data = c->b;
    dst->release = view_release;
    dst->children = src->n_children ? c->ptrs : NULL;
    c->ptrs += src->n_children;
    for (i = 0; i < src->n_children; i++) {
        dst->children[i] = c->nodes++;
        fill(c, dst->children[i], src->children[i]);
    }
    if (src->dictionary) {
        dst->dictionary = c->nodes++;
        fill(c, dst->dictionary, src->dictionary);
    }
}

int ik__seg_view(const struct ik_seg *g, const int64_t *cols, int64_t n_cols, int64_t start,
                 int64_t k, struct ArrowArray *out)
{
    const struct ArrowArray *batch = ik__seg_batch(g);
    int64_t nodes = 1, ptrs = n_cols, i;
    struct view_block *b;
    struct cursor c;
    for (i = 0; i < n_cols; i++)
        count(batch->children[cols[i]], &nodes, &ptrs);
    b = calloc(1, sizeof *b + (size_t)nodes * sizeof(struct ArrowArray) +
                      (size_t)ptrs * sizeof(struct ArrowArray *));
    if (b == NULL)
        return ENOMEM;
    atomic_init(&b->refs, nodes);
    ik_snapshot_ref(g->snap);
    b->snap = g->snap;
    c.b = b;
    c.nodes = (struct ArrowArray *)(b + 1);
    c.ptrs = (struct ArrowArray **)(c.nodes + nodes);
    memset(out, 0, sizeof *out);
    out->length = k;
    out->n_buffers = 1;
    out->buffers = b->no_buffers;
    out->n_children = n_cols;
    out->children = n_cols ? c.ptrs : NULL;
    out->private_data = b;
    out->release = view_release;
    c.ptrs += n_cols;
    for (i = 0; i < n_cols; i++) {
        const struct ArrowArray *col = batch->children[cols[i]];
        struct ArrowArray *v = c.nodes++;
        out->children[i] = v;
        fill(&c, v, col);
        v->offset = col->offset + batch->offset + start;
        v->length = k;
        if (col->null_count != 0 && !(v->offset == col->offset && k == col->length))
            v->null_count = -1; /* not known for the slice */
    }
    return 0;
}
