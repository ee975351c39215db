/* Slices of segments as views: the batch of rows [start, start + k) of a mapped segment,
 * projected, whose arrays are views of the segment's own (the same buffers, the top columns'
 * offset moved). The general path (ik__query_take) clones every array of every column, a
 * handful of mallocs each: ~4 µs per batch, which a whole-table result over 100 segments paid
 * 100 times.
 *
 * The views of one query share blocks (an arena): each block holds the arrays of up to a few
 * dozen batches (parents' columns, their children and dictionaries) and one reference to the
 * segment set. Every array has its own release (the C Data Interface lets a consumer move any
 * child out and release it alone); releasing an array releases the arrays under it that are
 * still in place without touching the block's count, then takes them all off it at once: one
 * atomic operation per batch, not one per array (15 for a pin_index batch, which was most of a
 * whole-table handoff's release over 100 segments). The last array released frees the block. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "snapshot/segset_internal.h"

#define BATCHES_PER_BLOCK 32 /* ~43 KB for pin_index: below malloc's mmap threshold */

struct view_block {
    atomic_long refs; /* arrays not yet released, plus the unused room until sealed */
    struct ik_segset *set;
    int64_t nodes_left, ptrs_left; /* room not yet handed out */
    struct ArrowArray *nodes;
    struct ArrowArray **ptrs;
    const void *no_buffers[1]; /* the parents' validity: none */
};

static void view_release(struct ArrowArray *a);

static void block_unref(struct view_block *b, int64_t n)
{
    if (n > 0 && atomic_fetch_sub(&b->refs, n) == n) {
        ik_segset_release(b->set);
        free(b);
    }
}

/* Releases a (an array of block b) and the arrays under it still in place: how many of b's
 * arrays that released. A child moved out by the consumer is no longer in place (its slot's
 * release is NULL) and releases itself. */
static int64_t drop_tree(struct ArrowArray *a, const struct view_block *b)
{
    int64_t n = 1, i;
    for (i = 0; i < a->n_children + (a->dictionary != NULL); i++) {
        struct ArrowArray *c = i < a->n_children ? a->children[i] : a->dictionary;
        if (c->release == NULL)
            continue;
        if (c->release == view_release && c->private_data == b)
            n += drop_tree(c, b);
        else
            c->release(c);
    }
    a->release = NULL;
    return n;
}

static void view_release(struct ArrowArray *a)
{
    struct view_block *b;
    if (a == NULL || a->release == NULL)
        return;
    b = a->private_data;
    block_unref(b, drop_tree(a, b));
}

/* ---- the template ---------------------------------------------------------------------
 * A copy of a segment's batch arrays (every column's tree: the column, its children and
 * dictionary), each column's arrays together and in order, made once per snapshot: a view of a
 * column is then one copy of a few contiguous arrays with their pointers moved, instead of a
 * walk through the decoded arrays scattered over the heap (a cache miss each when the machine
 * is busy). */

struct col_shape {
    int64_t node, nodes; /* the column's arrays: tmpl nodes [node, node + nodes) */
    int64_t ptr, ptrs;   /* its child pointers: tmpl ptrs [ptr, ptr + ptrs) */
};

struct view_tmpl {
    int64_t n_cols;
    struct col_shape *col;
    struct ArrowArray *nodes;
    struct ArrowArray **ptrs;
};

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

/* dst := a copy of src's tree, its arrays and pointers taken from *nodes and *ptrs. */
static void copy_tree(struct ArrowArray *dst, const struct ArrowArray *src,
                      struct ArrowArray **nodes, struct ArrowArray ***ptrs)
{
    int64_t i;
    *dst = *src;
    dst->children = src->n_children ? *ptrs : NULL;
    *ptrs += src->n_children;
    for (i = 0; i < src->n_children; i++) {
        dst->children[i] = (*nodes)++;
        copy_tree(dst->children[i], src->children[i], nodes, ptrs);
    }
    if (src->dictionary) {
        dst->dictionary = (*nodes)++;
        copy_tree(dst->dictionary, src->dictionary, nodes, ptrs);
    }
}

static const struct view_tmpl *tmpl_get(const struct ik_seg *g)
{
    const struct view_tmpl *t = ik__snapshot_views(g->snap);
    const struct ArrowArray *batch = ik__seg_batch(g);
    int64_t nodes = 0, ptrs = 0, c;
    struct view_tmpl *m;
    struct ArrowArray *np;
    struct ArrowArray **pp;
    if (t != NULL)
        return t;
    for (c = 0; c < batch->n_children; c++)
        count(batch->children[c], &nodes, &ptrs);
    m = malloc(sizeof *m + (size_t)batch->n_children * sizeof *m->col + (size_t)nodes * sizeof *np +
               (size_t)ptrs * sizeof *pp);
    if (m == NULL)
        return NULL;
    m->n_cols = batch->n_children;
    m->col = (struct col_shape *)(m + 1);
    m->nodes = np = (struct ArrowArray *)(m->col + m->n_cols);
    m->ptrs = pp = (struct ArrowArray **)(m->nodes + nodes);
    for (c = 0; c < batch->n_children; c++) {
        struct col_shape *cs = &m->col[c];
        struct ArrowArray *next = np + 1;
        cs->node = np - m->nodes;
        cs->ptr = pp - m->ptrs;
        copy_tree(np, batch->children[c], &next, &pp);
        cs->nodes = next - np;
        cs->ptrs = (pp - m->ptrs) - cs->ptr;
        np = next;
    }
    return ik__snapshot_set_views(g->snap, m);
}

/* Column c of t as views in block b: its arrays copied, their pointers moved into the copy. */
static struct ArrowArray *view_col(struct view_block *b, const struct view_tmpl *t, int64_t c)
{
    const struct col_shape *cs = &t->col[c];
    const struct ArrowArray *tn = t->nodes + cs->node;
    struct ArrowArray *const *tp = t->ptrs + cs->ptr;
    struct ArrowArray *d = b->nodes, **p = b->ptrs;
    int64_t i;
    /* field by field from the template: reading back what a memcpy just wrote stalls */
    for (i = 0; i < cs->nodes; i++) {
        d[i] = tn[i];
        d[i].private_data = b;
        d[i].release = view_release;
        if (tn[i].children)
            d[i].children = p + (tn[i].children - tp);
        if (tn[i].dictionary)
            d[i].dictionary = d + (tn[i].dictionary - tn);
    }
    for (i = 0; i < cs->ptrs; i++)
        p[i] = d + (tp[i] - tn);
    b->nodes += cs->nodes;
    b->ptrs += cs->ptrs;
    return d;
}

void ik__view_arena_init(struct ik__view_arena *va, struct ik_segset *set)
{
    va->set = set;
    va->cur = NULL;
}

void ik__view_arena_seal(struct ik__view_arena *va)
{
    struct view_block *b = va->cur;
    va->cur = NULL;
    if (b != NULL) /* the room never handed out; frees b when every array is released */
        block_unref(b, b->nodes_left + 1);
}

/* A block with room for `batches` batches of nodes arrays and ptrs pointers each. */
static struct view_block *block_new(struct ik_segset *set, int64_t nodes, int64_t ptrs,
                                    int64_t batches)
{
    struct view_block *b;
    int64_t n = nodes * batches, p = ptrs * batches;
    b = malloc(sizeof *b + (size_t)n * sizeof(struct ArrowArray) +
               (size_t)p * sizeof(struct ArrowArray *));
    if (b == NULL)
        return NULL;
    /* every array it will hold (unused room is taken off when sealed), and the arena's own */
    atomic_init(&b->refs, n + 1);
    ik_segset_ref(set);
    b->set = set;
    b->nodes_left = n;
    b->ptrs_left = p;
    b->nodes = (struct ArrowArray *)(b + 1);
    b->ptrs = (struct ArrowArray **)(b->nodes + n);
    b->no_buffers[0] = NULL;
    return b;
}

int ik__seg_view(struct ik__view_arena *va, const struct ik_seg *g, const int64_t *cols,
                 int64_t n_cols, int64_t start, int64_t k, int64_t more, struct ArrowArray *out)
{
    const struct ArrowArray *batch = ik__seg_batch(g);
    const struct view_tmpl *t = tmpl_get(g);
    int64_t nodes = 1, ptrs = n_cols, i; /* the parent counts: its release takes one off */
    struct view_block *b = va->cur;
    if (t == NULL)
        return ENOMEM;
    for (i = 0; i < n_cols; i++) {
        nodes += t->col[cols[i]].nodes;
        ptrs += t->col[cols[i]].ptrs;
    }
    if (b == NULL || b->nodes_left < nodes || b->ptrs_left < ptrs) {
        int64_t batches = more < 1 ? 1 : more > BATCHES_PER_BLOCK ? BATCHES_PER_BLOCK : more;
        ik__view_arena_seal(va);
        if ((b = block_new(va->set, nodes, ptrs, batches)) == NULL)
            return ENOMEM;
        va->cur = b;
    }
    b->nodes_left -= nodes;
    b->ptrs_left -= ptrs;
    b->nodes++; /* the parent's slot is not used: out is the caller's */
    memset(out, 0, sizeof *out);
    out->length = k;
    out->n_buffers = 1;
    out->buffers = b->no_buffers;
    out->n_children = n_cols;
    out->children = n_cols ? b->ptrs : NULL;
    out->private_data = b;
    out->release = view_release;
    b->ptrs += n_cols;
    for (i = 0; i < n_cols; i++) {
        const struct ArrowArray *col = batch->children[cols[i]];
        struct ArrowArray *v = view_col(b, t, cols[i]);
        out->children[i] = v;
        v->offset = col->offset + batch->offset + start;
        v->length = k;
        if (col->null_count != 0 && !(v->offset == col->offset && k == col->length))
            v->null_count = -1; /* not known for the slice */
    }
    return 0;
}
