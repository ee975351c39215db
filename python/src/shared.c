/* A query result kept as one schema and its record batches, shared by refcount, from which any
 * number of fresh ArrowArrayStreams can be handed out. Every array handed out is a new tree of
 * ArrowArray nodes pointing at the original buffers (nothing is copied); each node holds one
 * reference on the set, so the original arrays — and through them the snapshot mapping — live
 * until the last exported node and the last Python owner let go. Pure C: release callbacks may
 * run on any thread (DuckDB's, polars') without the GIL. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ikpy.h"

struct ikpy_batches {
    atomic_long refs;
    struct ArrowSchema schema;
    struct ArrowArray *batches;
    int64_t n;
    int64_t rows;
};

static void batches_unref(struct ikpy_batches *b)
{
    if (b == NULL || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int64_t i = 0; i < b->n; i++)
        if (b->batches[i].release)
            b->batches[i].release(&b->batches[i]);
    if (b->schema.release)
        b->schema.release(&b->schema);
    free(b->batches);
    free(b);
}

void ikpy_batches_unref(struct ikpy_batches *b)
{
    batches_unref(b);
}

struct ikpy_batches *ikpy_batches_ref(struct ikpy_batches *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

int64_t ikpy_batches_rows(const struct ikpy_batches *b)
{
    return b->rows;
}

int64_t ikpy_batches_count(const struct ikpy_batches *b)
{
    return b->n;
}

const struct ArrowSchema *ikpy_batches_schema(const struct ikpy_batches *b)
{
    return &b->schema;
}

static int stream_error(struct ArrowArrayStream *s, int rc, const char *what, struct ik_error *err)
{
    const char *msg = s->get_last_error ? s->get_last_error(s) : NULL;
    return ik_error_set(err, rc ? rc : EIO, "%s: %s", what, msg ? msg : "stream error");
}

int ikpy_batches_from_stream(struct ArrowArrayStream *s, struct ikpy_batches **out,
                             struct ik_error *err)
{
    struct ikpy_batches *b = calloc(1, sizeof *b);
    int64_t cap = 0;
    int rc = 0;
    *out = NULL;
    if (b == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    atomic_init(&b->refs, 1);
    if ((rc = s->get_schema(s, &b->schema)) != 0) {
        b->schema.release = NULL;
        rc = stream_error(s, rc, "reading the result schema", err);
        goto done;
    }
    for (;;) {
        struct ArrowArray a;
        memset(&a, 0, sizeof a);
        if ((rc = s->get_next(s, &a)) != 0) {
            rc = stream_error(s, rc, "reading a result batch", err);
            goto done;
        }
        if (a.release == NULL)
            break;
        if (b->n == cap) {
            int64_t ncap = cap ? cap * 2 : 1;
            struct ArrowArray *nb = realloc(b->batches, (size_t)ncap * sizeof *nb);
            if (nb == NULL) {
                a.release(&a);
                rc = ik_error_set(err, ENOMEM, "out of memory");
                goto done;
            }
            b->batches = nb;
            cap = ncap;
        }
        b->rows += a.length;
        b->batches[b->n++] = a;
    }
done:
    if (s->release)
        s->release(s);
    if (rc != 0) {
        batches_unref(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ---- exported array trees ------------------------------------------------------------- */

struct node {
    struct ikpy_batches *owner;
    struct ArrowArray *children_storage;
    struct ArrowArray **children;
    struct ArrowArray dictionary;
};

static void node_release(struct ArrowArray *a)
{
    struct node *n;
    if (a == NULL || a->release == NULL)
        return;
    n = a->private_data;
    for (int64_t i = 0; i < a->n_children; i++)
        if (n->children[i]->release)
            n->children[i]->release(n->children[i]);
    if (n->dictionary.release)
        n->dictionary.release(&n->dictionary);
    batches_unref(n->owner);
    free(n->children_storage);
    free(n->children);
    free(n);
    a->release = NULL;
}

/* Fills `dst` with a node sharing src's buffers; children and dictionary likewise. */
static int export_node(struct ikpy_batches *owner, const struct ArrowArray *src,
                       struct ArrowArray *dst)
{
    struct node *n = calloc(1, sizeof *n);
    int64_t i;
    memset(dst, 0, sizeof *dst);
    if (n == NULL)
        return ENOMEM;
    if (src->n_children > 0) {
        n->children_storage = calloc((size_t)src->n_children, sizeof *n->children_storage);
        n->children = calloc((size_t)src->n_children, sizeof *n->children);
        if (n->children_storage == NULL || n->children == NULL) {
            free(n->children_storage);
            free(n->children);
            free(n);
            return ENOMEM;
        }
    }
    n->owner = ikpy_batches_ref(owner);
    dst->length = src->length;
    dst->null_count = src->null_count;
    dst->offset = src->offset;
    dst->n_buffers = src->n_buffers;
    dst->n_children = src->n_children;
    dst->buffers = src->buffers; /* the original keeps its pointer array alive as long */
    dst->children = n->children;
    dst->release = node_release;
    dst->private_data = n;
    for (i = 0; i < src->n_children; i++)
        n->children[i] = &n->children_storage[i];
    for (i = 0; i < src->n_children; i++)
        if (export_node(owner, src->children[i], n->children[i]) != 0)
            goto fail;
    if (src->dictionary) {
        if (export_node(owner, src->dictionary, &n->dictionary) != 0)
            goto fail;
        dst->dictionary = &n->dictionary;
    }
    return 0;
fail:
    node_release(dst);
    return ENOMEM;
}

/* ---- streams ---------------------------------------------------------------------------- */

struct stream_priv {
    struct ikpy_batches *owner;
    int64_t next;
    char error[IK_ERROR_SIZE];
};

static int st_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    struct stream_priv *p = s->private_data;
    struct ik_error err = {{0}};
    int rc = ik_schema_copy(&p->owner->schema, out, &err);
    if (rc != 0)
        snprintf(p->error, sizeof p->error, "%s", err.message);
    return rc;
}

static int st_get_next(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    struct stream_priv *p = s->private_data;
    if (p->next >= p->owner->n) {
        memset(out, 0, sizeof *out); /* end of stream */
        return 0;
    }
    if (export_node(p->owner, &p->owner->batches[p->next], out) != 0) {
        snprintf(p->error, sizeof p->error, "out of memory exporting batch %lld",
                 (long long)p->next);
        return ENOMEM;
    }
    p->next++;
    return 0;
}

static const char *st_last_error(struct ArrowArrayStream *s)
{
    struct stream_priv *p = s->private_data;
    return p->error[0] ? p->error : NULL;
}

static void st_release(struct ArrowArrayStream *s)
{
    struct stream_priv *p;
    if (s == NULL || s->release == NULL)
        return;
    p = s->private_data;
    batches_unref(p->owner);
    free(p);
    s->release = NULL;
}

int ikpy_batches_export_stream(struct ikpy_batches *b, struct ArrowArrayStream *out)
{
    struct stream_priv *p = calloc(1, sizeof *p);
    memset(out, 0, sizeof *out);
    if (p == NULL)
        return ENOMEM;
    p->owner = ikpy_batches_ref(b);
    out->get_schema = st_get_schema;
    out->get_next = st_get_next;
    out->get_last_error = st_last_error;
    out->release = st_release;
    out->private_data = p;
    return 0;
}
