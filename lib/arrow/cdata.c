/* Building, copying and moving C Data Interface structs. Arrays made here own references to
 * refcounted ik_buffers, so arrays decoded from a mapping keep the mapping alive; their release
 * callbacks follow the spec: release children and dictionary, free private data, mark released. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"

struct array_priv {
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *child_storage;
    struct ArrowArray *dict;
    struct ik_buffer **holds;
    int n_holds;
    int cap_holds;
};

static void array_release(struct ArrowArray *a)
{
    struct array_priv *p;
    int64_t i;
    if (a == NULL || a->release == NULL)
        return;
    p = a->private_data;
    for (i = 0; i < a->n_children; i++) {
        if (p->children[i]->release)
            p->children[i]->release(p->children[i]);
    }
    if (p->dict && p->dict->release)
        p->dict->release(p->dict);
    for (i = 0; i < p->n_holds; i++)
        ik_buffer_unref(p->holds[i]);
    free(p->holds);
    free(p->dict);
    free(p->child_storage);
    free(p->children);
    free(p->buffers);
    free(p);
    a->release = NULL;
}

int ik__array_alloc(struct ArrowArray *out, int64_t n_buffers, int64_t n_children)
{
    struct array_priv *p = calloc(1, sizeof *p);
    int64_t i;
    memset(out, 0, sizeof *out);
    if (p == NULL || n_buffers < 0 || n_children < 0)
        goto fail;
    p->buffers = calloc((size_t)(n_buffers ? n_buffers : 1), sizeof *p->buffers);
    p->children = calloc((size_t)(n_children ? n_children : 1), sizeof *p->children);
    p->child_storage = calloc((size_t)(n_children ? n_children : 1), sizeof *p->child_storage);
    if (p->buffers == NULL || p->children == NULL || p->child_storage == NULL)
        goto fail;
    for (i = 0; i < n_children; i++)
        p->children[i] = &p->child_storage[i];
    out->n_buffers = n_buffers;
    out->n_children = n_children;
    out->buffers = p->buffers;
    out->children = n_children ? p->children : NULL;
    out->release = array_release;
    out->private_data = p;
    return 0;
fail:
    if (p) {
        free(p->buffers);
        free(p->children);
        free(p->child_storage);
        free(p);
    }
    return ENOMEM;
}

int ik__array_hold(struct ArrowArray *a, struct ik_buffer *b)
{
    struct array_priv *p = a->private_data;
    if (p->n_holds == p->cap_holds) {
        int cap = p->cap_holds ? p->cap_holds * 2 : 2;
        struct ik_buffer **h = realloc(p->holds, (size_t)cap * sizeof *h);
        if (h == NULL)
            return ENOMEM;
        p->holds = h;
        p->cap_holds = cap;
    }
    p->holds[p->n_holds++] = ik_buffer_ref(b);
    return 0;
}

void *ik__array_new_buffer(struct ArrowArray *out, int idx, size_t n)
{
    struct ik_buffer *b;
    uint8_t *p;
    if (ik_buffer_alloc(n, &b, &p) != 0)
        return NULL;
    if (ik__array_hold(out, b) != 0) {
        ik_buffer_unref(b);
        return NULL;
    }
    ik_buffer_unref(b);
    out->buffers[idx] = p;
    return p;
}

int ik__array_hold_all(struct ArrowArray *dst, const struct ArrowArray *src)
{
    const struct array_priv *p;
    int i;
    if (src->release != array_release)
        return ENOTSUP;
    p = src->private_data;
    for (i = 0; i < p->n_holds; i++)
        if (ik__array_hold(dst, p->holds[i]) != 0)
            return ENOMEM;
    return 0;
}

int ik__array_clone(const struct ArrowArray *src, struct ArrowArray *out)
{
    int64_t i;
    int rc;
    if (src->release != array_release)
        return ENOTSUP;
    if (ik__array_alloc(out, src->n_buffers, src->n_children) != 0)
        return ENOMEM;
    if ((rc = ik__array_hold_all(out, src)) != 0)
        goto fail;
    out->length = src->length;
    out->null_count = src->null_count;
    out->offset = src->offset;
    for (i = 0; i < src->n_buffers; i++)
        out->buffers[i] = src->buffers[i];
    for (i = 0; i < src->n_children; i++)
        if ((rc = ik__array_clone(src->children[i], out->children[i])) != 0)
            goto fail;
    if (src->dictionary) {
        if (ik__array_alloc_dictionary(out) != 0) {
            rc = ENOMEM;
            goto fail;
        }
        if ((rc = ik__array_clone(src->dictionary, out->dictionary)) != 0)
            goto fail;
    }
    return 0;
fail:
    out->release(out);
    return rc;
}

int ik__array_alloc_dictionary(struct ArrowArray *a)
{
    struct array_priv *p = a->private_data;
    if (p->dict == NULL) {
        p->dict = calloc(1, sizeof *p->dict);
        if (p->dict == NULL)
            return ENOMEM;
    }
    a->dictionary = p->dict;
    return 0;
}

void ik_array_move(struct ArrowArray *src, struct ArrowArray *dst)
{
    memcpy(dst, src, sizeof *dst);
    src->release = NULL;
}

void ik_schema_move(struct ArrowSchema *src, struct ArrowSchema *dst)
{
    memcpy(dst, src, sizeof *dst);
    src->release = NULL;
}

void ik_stream_move(struct ArrowArrayStream *src, struct ArrowArrayStream *dst)
{
    memcpy(dst, src, sizeof *dst);
    src->release = NULL;
}

/* ---- schemas ---------------------------------------------------------------------------- */

struct schema_priv {
    char *format;
    char *name;
    char *metadata;
    struct ArrowSchema **children;
    struct ArrowSchema *child_storage;
    struct ArrowSchema *dict;
};

void ik__kv_begin(struct ik__kv_iter *it, const char *metadata)
{
    it->p = metadata;
    it->left = 0;
    if (metadata) {
        memcpy(&it->left, metadata, 4);
        it->p += 4;
    }
}

bool ik__kv_next(struct ik__kv_iter *it, struct ik__kv *out)
{
    int32_t len;
    if (it->left <= 0)
        return false;
    out->start = it->p;
    memcpy(&len, it->p, 4);
    if (len < 0)
        return it->left = 0, false;
    out->key = it->p + 4;
    out->key_len = (size_t)len;
    memcpy(&len, out->key + out->key_len, 4);
    if (len < 0)
        return it->left = 0, false;
    out->value = out->key + out->key_len + 4;
    out->value_len = (size_t)len;
    it->p = out->end = out->value + out->value_len;
    it->left--;
    return true;
}

bool ik__kv_is(const struct ik__kv *e, const char *key)
{
    return e->key_len == strlen(key) && memcmp(e->key, key, e->key_len) == 0;
}

int64_t ik__metadata_size(const char *metadata)
{
    struct ik__kv_iter it;
    struct ik__kv e;
    ik__kv_begin(&it, metadata);
    while (ik__kv_next(&it, &e))
        ;
    return metadata ? it.p - metadata : 0;
}

const char *ik_metadata_get(const char *metadata, const char *key, int32_t *len)
{
    struct ik__kv_iter it;
    struct ik__kv e;
    for (ik__kv_begin(&it, metadata); ik__kv_next(&it, &e);)
        if (ik__kv_is(&e, key)) {
            if (len)
                *len = (int32_t)e.value_len;
            return e.value;
        }
    return NULL;
}

static void schema_release(struct ArrowSchema *s)
{
    struct schema_priv *p;
    int64_t i;
    if (s == NULL || s->release == NULL)
        return;
    p = s->private_data;
    for (i = 0; i < s->n_children; i++) {
        if (p->children[i]->release)
            p->children[i]->release(p->children[i]);
    }
    if (p->dict && p->dict->release)
        p->dict->release(p->dict);
    free(p->dict);
    free(p->child_storage);
    free(p->children);
    free(p->format);
    free(p->name);
    free(p->metadata);
    free(p);
    s->release = NULL;
}

int ik__schema_alloc(struct ArrowSchema *out, const char *format, const char *name,
                     const char *metadata, int64_t flags, int64_t n_children)
{
    struct schema_priv *p = calloc(1, sizeof *p);
    int64_t i, mlen = ik__metadata_size(metadata);
    memset(out, 0, sizeof *out);
    if (p == NULL || n_children < 0)
        goto fail;
    p->format = strdup(format ? format : "");
    p->name = name ? strdup(name) : NULL;
    p->metadata = mlen ? malloc((size_t)mlen) : NULL;
    p->children = calloc((size_t)(n_children ? n_children : 1), sizeof *p->children);
    p->child_storage = calloc((size_t)(n_children ? n_children : 1), sizeof *p->child_storage);
    if (p->format == NULL || (name && p->name == NULL) || (mlen && p->metadata == NULL) ||
        p->children == NULL || p->child_storage == NULL)
        goto fail;
    if (mlen)
        memcpy(p->metadata, metadata, (size_t)mlen);
    for (i = 0; i < n_children; i++)
        p->children[i] = &p->child_storage[i];
    out->format = p->format;
    out->name = p->name;
    out->metadata = p->metadata;
    out->flags = flags;
    out->n_children = n_children;
    out->children = n_children ? p->children : NULL;
    out->release = schema_release;
    out->private_data = p;
    return 0;
fail:
    if (p) {
        free(p->format);
        free(p->name);
        free(p->metadata);
        free(p->children);
        free(p->child_storage);
        free(p);
    }
    return ENOMEM;
}

int ik__schema_alloc_dictionary(struct ArrowSchema *s)
{
    struct schema_priv *p = s->private_data;
    if (p->dict == NULL) {
        p->dict = calloc(1, sizeof *p->dict);
        if (p->dict == NULL)
            return ENOMEM;
    }
    s->dictionary = p->dict;
    return 0;
}

static int schema_copy(const struct ArrowSchema *src, struct ArrowSchema *out, int depth,
                       struct ik_error *err)
{
    int64_t i;
    int rc;
    if (depth > 256)
        return ik_error_set(err, IK_ELIMIT, "schema nested deeper than 256 levels");
    if (ik__schema_alloc(out, src->format, src->name, src->metadata, src->flags, src->n_children) !=
        0)
        return ik_error_set(err, ENOMEM, "out of memory copying a schema");
    for (i = 0; i < src->n_children; i++) {
        rc = schema_copy(src->children[i], out->children[i], depth + 1, err);
        if (rc != 0)
            goto fail;
    }
    if (src->dictionary) {
        if (ik__schema_alloc_dictionary(out) != 0) {
            rc = ik_error_set(err, ENOMEM, "out of memory copying a schema");
            goto fail;
        }
        rc = schema_copy(src->dictionary, out->dictionary, depth + 1, err);
        if (rc != 0)
            goto fail;
    }
    return 0;
fail:
    out->release(out);
    return rc;
}

int ik_schema_copy(const struct ArrowSchema *src, struct ArrowSchema *out, struct ik_error *err)
{
    return schema_copy(src, out, 0, err);
}
