/* The `node` column (node_column.h): a C Data Interface stream wrapper. Each outer schema and
 * batch holds the inner one it extends and releases it last; the added child is ours. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/arrow.h"
#include "flight/node_column.h"

struct node_stream {
    struct ArrowArrayStream in;
    char *node;
    size_t node_len;
    struct ik_error err;
};

/* ---- schema ------------------------------------------------------------------------------- */

struct node_schema {
    struct ArrowSchema inner; /* the wrapped struct schema (its children are borrowed) */
    struct ArrowSchema field, values;
    struct ArrowSchema **children;
};

static void field_release(struct ArrowSchema *s)
{
    s->release = NULL; /* both live inside struct node_schema */
}

static void node_schema_release(struct ArrowSchema *s)
{
    struct node_schema *p = s->private_data;
    if (p->inner.release)
        p->inner.release(&p->inner);
    free(p->children);
    free(p);
    s->release = NULL;
}

static void fill_field(struct ArrowSchema *field, struct ArrowSchema *values)
{
    memset(field, 0, sizeof *field);
    memset(values, 0, sizeof *values);
    values->format = "u";
    values->name = "";
    values->flags = ARROW_FLAG_NULLABLE;
    values->release = field_release;
    field->format = "c";
    field->name = IK_NODE_COLUMN;
    field->flags = 0; /* not nullable */
    field->dictionary = values;
    field->release = field_release;
}

static void lone_field_release(struct ArrowSchema *s)
{
    free(s->private_data);
    s->release = NULL;
}

int ik_flight_node_field(struct ArrowSchema *out, struct ik_error *err)
{
    struct ArrowSchema *values = malloc(sizeof *values);
    if (values == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    fill_field(out, values);
    out->private_data = values;
    out->release = lone_field_release;
    return 0;
}

static int wrap_schema(struct ArrowSchema *inner, struct ArrowSchema *out, struct ik_error *err)
{
    struct node_schema *p = calloc(1, sizeof *p);
    int64_t n = inner->n_children;
    if (p == NULL || (p->children = calloc((size_t)n + 1, sizeof *p->children)) == NULL) {
        free(p);
        inner->release(inner);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    ik_schema_move(inner, &p->inner);
    for (int64_t i = 0; i < n; i++)
        p->children[i] = p->inner.children[i];
    fill_field(&p->field, &p->values);
    p->children[n] = &p->field;
    *out = p->inner; /* format, name, metadata, flags: borrowed from the inner schema */
    out->n_children = n + 1;
    out->children = p->children;
    out->dictionary = NULL;
    out->private_data = p;
    out->release = node_schema_release;
    return 0;
}

int ik_flight_node_schema(const struct ArrowSchema *in, struct ArrowSchema *out,
                          struct ik_error *err)
{
    struct ArrowSchema copy;
    int rc;
    memset(out, 0, sizeof *out);
    if (strcmp(in->format, "+s") != 0)
        return ik_error_set(err, EINVAL, "node column: the schema is not a struct");
    if ((rc = ik_schema_copy(in, &copy, err)) != 0)
        return rc;
    return wrap_schema(&copy, out, err);
}

/* ---- batches ------------------------------------------------------------------------------ */

struct node_batch {
    struct ArrowArray inner;
    struct ArrowArray col, dict;
    struct ArrowArray **children;
    const void *col_bufs[2], *dict_bufs[3];
    int32_t offsets[2];
    uint8_t *zeros;
    char *node;
};

static void child_release(struct ArrowArray *a)
{
    a->release = NULL;
}

static void node_batch_release(struct ArrowArray *a)
{
    struct node_batch *p = a->private_data;
    if (p->inner.release)
        p->inner.release(&p->inner);
    free(p->children);
    free(p->zeros);
    free(p->node);
    free(p);
    a->release = NULL;
}

static int wrap_batch(struct node_stream *s, struct ArrowArray *inner, struct ArrowArray *out)
{
    struct node_batch *p = calloc(1, sizeof *p);
    int64_t n = inner->n_children, rows = inner->offset + inner->length;
    if (p == NULL || (p->children = calloc((size_t)n + 1, sizeof *p->children)) == NULL ||
        (p->zeros = calloc(rows > 0 ? (size_t)rows : 1, 1)) == NULL ||
        (p->node = strdup(s->node)) == NULL) {
        if (p) {
            free(p->children);
            free(p->zeros);
        }
        free(p);
        inner->release(inner);
        return ik_error_set(&s->err, ENOMEM, "out of memory for a batch's node column");
    }
    ik_array_move(inner, &p->inner);
    for (int64_t i = 0; i < n; i++)
        p->children[i] = p->inner.children[i];
    p->offsets[0] = 0;
    p->offsets[1] = (int32_t)s->node_len;
    p->dict_bufs[0] = NULL;
    p->dict_bufs[1] = p->offsets;
    p->dict_bufs[2] = p->node;
    p->dict.length = 1;
    p->dict.n_buffers = 3;
    p->dict.buffers = p->dict_bufs;
    p->dict.release = child_release;
    p->col_bufs[0] = NULL;
    p->col_bufs[1] = p->zeros;
    p->col.length = rows;
    p->col.n_buffers = 2;
    p->col.buffers = p->col_bufs;
    p->col.dictionary = &p->dict;
    p->col.release = child_release;
    p->children[n] = &p->col;
    *out = p->inner; /* length, offset, null count and validity of the struct */
    out->n_children = n + 1;
    out->children = p->children;
    out->private_data = p;
    out->release = node_batch_release;
    return 0;
}

/* ---- the stream --------------------------------------------------------------------------- */

static int ns_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    struct node_stream *s = st->private_data;
    struct ArrowSchema inner;
    int rc = s->in.get_schema(&s->in, &inner);
    if (rc != 0) {
        const char *m = s->in.get_last_error(&s->in);
        ik_error_set(&s->err, rc, "%s", m ? m : "schema");
        return rc;
    }
    if (strcmp(inner.format, "+s") != 0) {
        inner.release(&inner);
        return ik_error_set(&s->err, EINVAL, "node column: the stream's schema is not a struct");
    }
    return wrap_schema(&inner, out, &s->err);
}

static int ns_get_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    struct node_stream *s = st->private_data;
    struct ArrowArray inner;
    int rc = s->in.get_next(&s->in, &inner);
    memset(out, 0, sizeof *out);
    if (rc != 0) {
        const char *m = s->in.get_last_error(&s->in);
        ik_error_set(&s->err, rc, "%s", m ? m : "next batch");
        return rc;
    }
    if (inner.release == NULL)
        return 0; /* the end */
    return wrap_batch(s, &inner, out);
}

static const char *ns_last_error(struct ArrowArrayStream *st)
{
    struct node_stream *s = st->private_data;
    return s->err.message[0] ? s->err.message : NULL;
}

static void ns_release(struct ArrowArrayStream *st)
{
    struct node_stream *s = st->private_data;
    if (s->in.release)
        s->in.release(&s->in);
    free(s->node);
    free(s);
    st->release = NULL;
}

int ik_flight_add_node_column(struct ArrowArrayStream *in, const char *node,
                              struct ArrowArrayStream *out, struct ik_error *err)
{
    struct node_stream *s;
    memset(out, 0, sizeof *out);
    if (node == NULL || node[0] == 0 || strlen(node) > INT32_MAX) {
        in->release(in);
        return ik_error_set(err, EINVAL, "node column: empty node name");
    }
    if ((s = calloc(1, sizeof *s)) == NULL || (s->node = strdup(node)) == NULL) {
        free(s);
        in->release(in);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    s->node_len = strlen(node);
    ik_stream_move(in, &s->in);
    out->private_data = s;
    out->get_schema = ns_get_schema;
    out->get_next = ns_get_next;
    out->get_last_error = ns_last_error;
    out->release = ns_release;
    return 0;
}
