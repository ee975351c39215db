/* vfs_stats from pin_index: every directory above a pin's vfs_path (and "/") gets the pin's
 * size, a file count, its access count and the newest pin timestamp. Directories are keyed in
 * an open-addressing hash map by (pointer, length) into the pins' own string data, hashed
 * incrementally while scanning each path once; the rows are sorted by path and built with the
 * row builder. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"

struct dir {
    const uint8_t *path; /* NULL: empty slot */
    int64_t len;
    uint64_t hash;
    int64_t size, files, access, last;
    bool has_last;
};

struct dirmap {
    struct dir *slots;
    size_t cap, n; /* cap a power of two */
};

static int map_grow(struct dirmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024, i;
    struct dir *s = calloc(cap, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    for (i = 0; i < m->cap; i++) {
        struct dir *d = &m->slots[i];
        size_t j;
        if (d->path == NULL)
            continue;
        for (j = (size_t)d->hash & (cap - 1); s[j].path; j = (j + 1) & (cap - 1))
            ;
        s[j] = *d;
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return 0;
}

static struct dir *map_get(struct dirmap *m, const uint8_t *path, int64_t len, uint64_t h)
{
    size_t j;
    if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0)
        return NULL;
    for (j = (size_t)h & (m->cap - 1); m->slots[j].path; j = (j + 1) & (m->cap - 1)) {
        struct dir *d = &m->slots[j];
        if (d->hash == h && d->len == len && memcmp(d->path, path, (size_t)len) == 0)
            return d;
    }
    m->slots[j].path = path;
    m->slots[j].len = len;
    m->slots[j].hash = h;
    m->n++;
    return &m->slots[j];
}

/* FNV-1a, then a final mix so the low bits spread. */
static inline uint64_t fnv_step(uint64_t h, uint8_t c)
{
    return (h ^ c) * 0x100000001b3ull;
}

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int cmp_dir(const void *a, const void *b)
{
    const struct dir *x = a, *y = b;
    int c = memcmp(x->path, y->path, (size_t)(x->len < y->len ? x->len : y->len));
    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

struct pin_cols {
    const struct ArrowArray *path, *size, *access, *ts;
    int64_t path_base, size_base, access_base, ts_base;
    bool large;
};

static const struct ArrowArray *column(const struct ArrowSchema *s, const struct ArrowArray *a,
                                       const char *name, const char *const *formats, int64_t *base,
                                       struct ik_error *err, int *rc)
{
    int64_t i;
    for (i = 0; i < s->n_children; i++) {
        const struct ArrowSchema *f = s->children[i];
        if (f->name == NULL || strcmp(f->name, name) != 0)
            continue;
        for (; *formats; formats++)
            if (strncmp(f->format, *formats, strlen(*formats)) == 0 && f->dictionary == NULL) {
                *base = a->offset + a->children[i]->offset;
                return a->children[i];
            }
        *rc = ik_error_set(err, EINVAL, "vfs_stats: column '%s' has type '%s'", name, f->format);
        return NULL;
    }
    return NULL;
}

static inline bool valid(const struct ArrowArray *a, int64_t i)
{
    const uint8_t *b = a->buffers[0];
    return a->null_count == 0 || b == NULL || ik__bit_get(b, i);
}

static inline int64_t value_or(const struct ArrowArray *a, int64_t base, int64_t r, int64_t dflt)
{
    if (a == NULL || !valid(a, base + r))
        return dflt;
    return ((const int64_t *)a->buffers[1])[base + r];
}

static int add_pin(struct dirmap *m, struct dir *root, const uint8_t *p, int64_t len, int64_t size,
                   int64_t access, int64_t ts, bool has_ts)
{
    uint64_t h = 0xcbf29ce484222325ull;
    int64_t i;
    for (i = 0; i < len; i++) {
        /* the directory ending before each '/' (not "/" itself, nor empty components) */
        if (p[i] == '/' && i > 0 && p[i - 1] != '/') {
            struct dir *d = map_get(m, p, i, mix(h));
            if (d == NULL)
                return ENOMEM;
            d->size += size;
            d->files++;
            d->access += access;
            if (has_ts && (!d->has_last || ts > d->last)) {
                d->last = ts;
                d->has_last = true;
            }
        }
        h = fnv_step(h, p[i]);
    }
    root->size += size;
    root->files++;
    root->access += access;
    if (has_ts && (!root->has_last || ts > root->last)) {
        root->last = ts;
        root->has_last = true;
    }
    return 0;
}

static int build_rows(const struct dir *dirs, size_t n, struct ArrowSchema *schema_out,
                      struct ArrowArray *out, struct ik_error *err)
{
    struct ik_builder *b = NULL;
    size_t i;
    int rc;
    if ((rc = ik_builder_create_table("vfs_stats", (int64_t)n, &b, err)) != 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++) {
        const struct dir *d = &dirs[i];
        rc = ik_builder_str(b, 0, (const char *)d->path, (size_t)d->len, err);
        if (rc == 0)
            rc = ik_builder_int(b, 1, d->size, err);
        if (rc == 0)
            rc = ik_builder_int(b, 2, d->files, err);
        if (rc == 0 && d->has_last)
            rc = ik_builder_int(b, 3, d->last, err);
        if (rc == 0)
            rc = ik_builder_int(b, 4, d->access, err);
        if (rc == 0)
            rc = ik_builder_end_row(b, err); /* cache_hit_ratio stays null */
    }
    if (rc == 0)
        rc = ik_builder_finish(b, NULL, schema_out, out, err);
    ik_builder_destroy(b);
    return rc;
}

/* The pins of one batch into the map, but rows skip[0..n_skip) (ascending). */
static int add_batch(struct dirmap *m, struct dir *root, const struct ArrowSchema *pins_schema,
                     const struct ArrowArray *pins, const int64_t *skip, int64_t n_skip,
                     struct ik_error *err)
{
    static const char *const str_f[] = {"u", "U", NULL}, *const int_f[] = {"l", NULL},
                             *const ts_f[] = {"ts", NULL};
    struct pin_cols c = {0};
    int64_t r, k = 0;
    size_t i;
    int rc = 0;
    if (pins_schema->n_children != pins->n_children)
        return ik_error_set(err, EINVAL, "vfs_stats: the batch has %lld columns, the schema %lld",
                            (long long)pins->n_children, (long long)pins_schema->n_children);
    c.path = column(pins_schema, pins, "vfs_path", str_f, &c.path_base, err, &rc);
    c.size = column(pins_schema, pins, "size_bytes", int_f, &c.size_base, err, &rc);
    c.access = column(pins_schema, pins, "access_count", int_f, &c.access_base, err, &rc);
    c.ts = column(pins_schema, pins, "timestamp", ts_f, &c.ts_base, err, &rc);
    if (rc != 0)
        return rc;
    if (c.path == NULL)
        return ik_error_set(err, EINVAL, "vfs_stats: the pins have no 'vfs_path' column");
    for (i = 0; i < (size_t)pins_schema->n_children; i++)
        if (pins->children[i] == c.path)
            c.large = strcmp(pins_schema->children[i]->format, "U") == 0;
    for (r = 0; r < pins->length; r++) {
        int64_t p = c.path_base + r, o0, o1;
        if (k < n_skip && skip[k] == r) {
            k++;
            continue;
        }
        if (!valid(c.path, p))
            continue;
        if (c.large) {
            o0 = ((const int64_t *)c.path->buffers[1])[p];
            o1 = ((const int64_t *)c.path->buffers[1])[p + 1];
        } else {
            o0 = ((const int32_t *)c.path->buffers[1])[p];
            o1 = ((const int32_t *)c.path->buffers[1])[p + 1];
        }
        if (add_pin(m, root, (const uint8_t *)c.path->buffers[2] + o0, o1 - o0,
                    value_or(c.size, c.size_base, r, 0), value_or(c.access, c.access_base, r, 0),
                    value_or(c.ts, c.ts_base, r, 0), c.ts && valid(c.ts, c.ts_base + r)) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

int ik_vfs_stats_build_batches(const struct ArrowSchema *pins_schema,
                               const struct ArrowArray *const *batches, const int64_t *const *skip,
                               const int64_t *n_skip, int n, void (*after)(void *ctx, int b),
                               void *ctx, struct ArrowSchema *schema_out, struct ArrowArray *out,
                               struct ik_error *err)
{
    struct dirmap m = {0};
    struct dir root = {.path = (const uint8_t *)"/", .len = 1}, *dirs = NULL;
    size_t i, nd = 0;
    int rc = 0, b;
    for (b = 0; b < n && rc == 0; b++) {
        rc = add_batch(&m, &root, pins_schema, batches[b], skip ? skip[b] : NULL,
                       n_skip ? n_skip[b] : 0, err);
        if (after)
            after(ctx, b);
    }
    if (rc != 0)
        goto done;
    dirs = malloc((m.n + 1) * sizeof *dirs);
    if (dirs == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    dirs[nd++] = root;
    for (i = 0; i < m.cap; i++)
        if (m.slots[i].path)
            dirs[nd++] = m.slots[i];
    qsort(dirs, nd, sizeof *dirs, cmp_dir);
    rc = build_rows(dirs, nd, schema_out, out, err);
done:
    free(dirs);
    free(m.slots);
    return rc;
}

int ik_vfs_stats_build(const struct ArrowSchema *pins_schema, const struct ArrowArray *pins,
                       struct ArrowSchema *schema_out, struct ArrowArray *out, struct ik_error *err)
{
    return ik_vfs_stats_build_batches(pins_schema, &pins, NULL, NULL, 1, NULL, NULL, schema_out,
                                      out, err);
}
