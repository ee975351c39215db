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
    free(p); /* buffers, children and their storage are in the same block */
    a->release = NULL;
}

/* One allocation per node, as for schemas (ik__schema_alloc). */
int ik__array_alloc(struct ArrowArray *out, int64_t n_buffers, int64_t n_children)
{
    struct array_priv *p;
    size_t nb, nk, size;
    uint8_t *at;
    memset(out, 0, sizeof *out);
    if (n_buffers < 0 || n_children < 0 || (uint64_t)n_buffers > SIZE_MAX / 256 ||
        (uint64_t)n_children > SIZE_MAX / 256)
        return ENOMEM;
    nb = (size_t)(n_buffers ? n_buffers : 1);
    nk = (size_t)(n_children ? n_children : 1);
    size = sizeof *p + nb * sizeof *p->buffers + nk * sizeof *p->children +
           nk * sizeof *p->child_storage;
    if ((p = calloc(1, size)) == NULL)
        return ENOMEM;
    at = (uint8_t *)(p + 1);
    p->buffers = (const void **)(void *)at;
    at += nb * sizeof *p->buffers;
    p->children = (struct ArrowArray **)(void *)at;
    at += nk * sizeof *p->children;
    p->child_storage = (struct ArrowArray *)(void *)at;
    for (int64_t i = 0; i < n_children; i++)
        p->children[i] = &p->child_storage[i];
    out->n_buffers = n_buffers;
    out->n_children = n_children;
    out->buffers = p->buffers;
    out->children = n_children ? p->children : NULL;
    out->release = array_release;
    out->private_data = p;
    return 0;
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
    free(p); /* children, their storage and the strings are in the same block */
    s->release = NULL;
}

/* One allocation per node (the private part, the children's pointers and storage, then the
 * format, name and metadata): a schema is copied several times per query, and five mallocs and
 * frees per node were most of the cost of a small HTTP query (bench/results/http-latest.md). */
int ik__schema_alloc(struct ArrowSchema *out, const char *format, const char *name,
                     const char *metadata, int64_t flags, int64_t n_children)
{
    struct schema_priv *p;
    int64_t mlen = ik__metadata_size(metadata);
    size_t nk, flen, nlen, head, size;
    uint8_t *at;
    memset(out, 0, sizeof *out);
    if (n_children < 0 || mlen < 0 || (uint64_t)n_children > SIZE_MAX / 128)
        return ENOMEM;
    nk = (size_t)(n_children ? n_children : 1);
    format = format ? format : "";
    flen = strlen(format) + 1;
    nlen = name ? strlen(name) + 1 : 0;
    head = sizeof *p + nk * sizeof *p->children + nk * sizeof *p->child_storage;
    size = head + flen + nlen + (size_t)mlen;
    if ((p = malloc(size)) == NULL)
        return ENOMEM;
    memset(p, 0, head);
    at = (uint8_t *)(p + 1);
    p->children = (struct ArrowSchema **)(void *)at;
    at += nk * sizeof *p->children;
    p->child_storage = (struct ArrowSchema *)(void *)at;
    at += nk * sizeof *p->child_storage;
    p->format = memcpy(at, format, flen);
    at += flen;
    p->name = name ? memcpy(at, name, nlen) : NULL;
    at += nlen;
    p->metadata = mlen ? memcpy(at, metadata, (size_t)mlen) : NULL;
    for (int64_t i = 0; i < n_children; i++)
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

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool schema_equal(const struct ArrowSchema *a, const struct ArrowSchema *b, int depth)
{
    int64_t ma, mb;
    if (depth > 64 || !same_string(a->format, b->format) || !same_string(a->name, b->name) ||
        a->flags != b->flags || a->n_children != b->n_children || !a->dictionary != !b->dictionary)
        return false;
    ma = ik__metadata_size(a->metadata);
    mb = ik__metadata_size(b->metadata);
    if (ma != mb || (ma && memcmp(a->metadata, b->metadata, (size_t)ma) != 0))
        return false;
    for (int64_t i = 0; i < a->n_children; i++)
        if (!schema_equal(a->children[i], b->children[i], depth + 1))
            return false;
    return !a->dictionary || schema_equal(a->dictionary, b->dictionary, depth + 1);
}

bool ik_schema_equal(const struct ArrowSchema *a, const struct ArrowSchema *b)
{
    return a && b && schema_equal(a, b, 0);
}
