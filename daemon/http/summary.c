/* GET /v1/summary: pins and bytes by pin type and by backend, counted over the published
 * pin_index snapshot (its dictionary columns: one pass over the indices), for the dashboard. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

struct tally {
    long long pins, bytes;
};

/* dictionary index of row i of a dictionary column (int8 or int16 indices) */
static int64_t dict_index(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t i)
{
    int64_t k = a->offset + i;
    if (s->format[0] == 'c')
        return ((const int8_t *)a->buffers[1])[k];
    return ((const int16_t *)a->buffers[1])[k];
}

/* Adds one batch's rows to `o` ({value: {"pins", "bytes"}}): batches of different segments
 * each carry their own dictionary, so the tally goes by value. */
static json_t *by(const struct ArrowSchema *s, const struct ArrowArray *col,
                  const struct ArrowArray *size, int64_t base, int64_t rows, json_t *o, int *rc)
{
    const struct ArrowArray *dict = col->dictionary;
    const int32_t *offs = dict->buffers[1];
    const char *data = dict->buffers[2];
    struct tally *t = calloc((size_t)dict->length + 1, sizeof *t);
    if (!t || !o) {
        *rc = ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i < rows; i++) {
        int64_t k = dict_index(s, col, base + i);
        int64_t j = size->offset + base + i;
        const uint8_t *valid = size->buffers[0];
        if (k < 0 || k >= dict->length)
            continue;
        t[k].pins++;
        if (!valid || (valid[j / 8] >> (j % 8) & 1))
            t[k].bytes += ((const int64_t *)size->buffers[1])[j];
    }
    for (int64_t k = 0; k < dict->length; k++) {
        int64_t a = dict->offset + k;
        char name[256];
        size_t n = (size_t)(offs[a + 1] - offs[a]);
        if (t[k].pins == 0)
            continue;
        n = n < sizeof name - 1 ? n : sizeof name - 1;
        memcpy(name, data + offs[a], n);
        name[n] = 0;
        {
            json_t *have = json_object_get(o, name);
            long long pins = t[k].pins, bytes = t[k].bytes;
            if (have) {
                pins += (long long)json_integer_value(json_object_get(have, "pins"));
                bytes += (long long)json_integer_value(json_object_get(have, "bytes"));
            }
            json_object_set_new(
                o, name,
                json_pack("{s:I,s:I}", "pins", (json_int_t)pins, "bytes", (json_int_t)bytes));
        }
    }
done:
    free(t);
    return o;
}

char *ik__http_summary(struct ik_http *h, struct ik_error *err)
{
    struct ik_query q;
    struct ik_http_result r;
    json_t *o = NULL, *types = NULL, *backends = NULL;
    char *text = NULL;
    int rc = 0;
    ik_query_init(&q, "pin_index");
    if (ik_query_add_column(&q, "pin_type", err) || ik_query_add_column(&q, "backend", err) ||
        ik_query_add_column(&q, "size_bytes", err) || ik__http_snap_query(h, &q, &r, err)) {
        ik_query_reset(&q);
        return NULL;
    }
    ik_query_reset(&q);
    types = json_object();
    backends = json_object();
    for (int64_t i = 0; i < r.n && rc == 0; i++) {
        const struct ArrowArray *b = &r.batches[i];
        by(r.schema.children[0], b->children[0], b->children[2], b->offset, b->length, types, &rc);
        by(r.schema.children[1], b->children[1], b->children[2], b->offset, b->length, backends,
           &rc);
    }
    if (rc == 0)
        o = json_pack("{s:I,s:I,s:o,s:o}", "snapshot_version", (json_int_t)r.version, "pins",
                      (json_int_t)r.rows, "by_type", types, "by_backend", backends);
    else {
        json_decref(types);
        json_decref(backends);
    }
    ik__http_result_reset(&r);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        ik_error_set(err, ENOMEM, "out of memory");
    return text;
}
