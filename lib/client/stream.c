/* A one-batch ArrowArrayStream: hands out a schema copy on every get_schema, the batch once,
 * then end of stream. The client wraps every result in one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

struct one {
    struct ArrowSchema schema;
    struct ArrowArray batch;
    char error[IK_ERROR_SIZE];
};

static int one_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    struct one *o = s->private_data;
    struct ik_error err = {{0}};
    int rc = ik_schema_copy(&o->schema, out, &err);
    if (rc != 0)
        snprintf(o->error, sizeof o->error, "%s", err.message);
    return rc;
}

static int one_get_next(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    struct one *o = s->private_data;
    if (o->batch.release) {
        ik_array_move(&o->batch, out);
    } else {
        memset(out, 0, sizeof *out); /* end of stream */
    }
    return 0;
}

static const char *one_last_error(struct ArrowArrayStream *s)
{
    struct one *o = s->private_data;
    return o->error[0] ? o->error : NULL;
}

static void one_release(struct ArrowArrayStream *s)
{
    struct one *o = s->private_data;
    if (o->batch.release)
        o->batch.release(&o->batch);
    if (o->schema.release)
        o->schema.release(&o->schema);
    free(o);
    s->release = NULL;
}

int ik__one_batch_stream(struct ArrowSchema *schema, struct ArrowArray *batch,
                         struct ArrowArrayStream *out, struct ik_error *err)
{
    struct one *o = calloc(1, sizeof *o);
    if (!o) {
        schema->release(schema);
        batch->release(batch);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    ik_schema_move(schema, &o->schema);
    ik_array_move(batch, &o->batch);
    out->get_schema = one_get_schema;
    out->get_next = one_get_next;
    out->get_last_error = one_last_error;
    out->release = one_release;
    out->private_data = o;
    return 0;
}
