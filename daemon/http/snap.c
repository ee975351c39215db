/* The HTTP server's one reader of published snapshots: every table request goes through
 * ik__http_snap_query, so a change in how the daemon publishes (base + delta segments) is
 * adapted here only. A file-backed table is the daemon's published state (a base and delta
 * segments, mapped by the builder): a request takes a reference to it, and its results are
 * slices of the segments' mappings, one or more batches. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <stdlib.h>

#include "http_internal.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"

static int cache_slot(const char *table)
{
    if (strcmp(table, "pin_index") == 0)
        return 0;
    if (strcmp(table, "vfs_stats") == 0)
        return 1;
    return -1;
}

void ik__http_published(struct ik_http *h, uint64_t *generation, int64_t *pins, bool *failed)
{
    pthread_mutex_lock(&h->d->pub_mu);
    *generation = h->d->published_gen;
    *pins = h->d->pins.rows;
    *failed = h->d->build_failed;
    pthread_mutex_unlock(&h->d->pub_mu);
}

void ik__http_versions(struct ik_http *h, uint64_t *generation, uint64_t *pins_version,
                       uint64_t *vfs_version)
{
    pthread_mutex_lock(&h->d->pub_mu);
    *generation = h->d->published_gen;
    *pins_version = h->d->pins.version;
    *vfs_version = h->d->vfs.version;
    pthread_mutex_unlock(&h->d->pub_mu);
}

bool ik__http_snap_version(struct ik_http *h, const char *table, uint64_t *version)
{
    int slot = cache_slot(table);
    if (slot < 0)
        return false;
    pthread_mutex_lock(&h->d->pub_mu);
    *version = slot == 0 ? h->d->pins.version : h->d->vfs.version;
    pthread_mutex_unlock(&h->d->pub_mu);
    return true;
}

/* Moves every batch of `st` into r->batches (the stream is released by the caller). */
static int drain(struct ArrowArrayStream *st, struct ik_http_result *r, struct ik_error *err)
{
    int64_t cap = 0;
    for (;;) {
        struct ArrowArray a = {0};
        int rc = st->get_next(st, &a);
        if (rc != 0) {
            const char *m = st->get_last_error(st);
            return ik_error_set(err, rc, "%s", m ? m : "query");
        }
        if (a.release == NULL)
            return 0;
        if (r->n == cap) {
            struct ArrowArray *p =
                realloc(r->batches, (size_t)(cap = cap ? 2 * cap : 8) * sizeof *p);
            if (p == NULL) {
                a.release(&a);
                return ik_error_set(err, ENOMEM, "out of memory");
            }
            r->batches = p;
        }
        r->rows += a.length;
        r->batches[r->n++] = a;
    }
}

/* A reference to the published state of a file-backed table (slot 0 pins, 1 vfs), or NULL.
 * Taken under pub_mu as the unix path does, without the manifest descriptor that path hands
 * to clients (HTTP needs none: no dup and close per request). */
static struct ik_segset *published_set(struct ik_http *h, int slot)
{
    struct ik_segset *set;
    pthread_mutex_lock(&h->d->pub_mu);
    set = slot == 0 ? h->d->pins.set : h->d->vfs.set;
    if (set)
        ik_segset_ref(set);
    pthread_mutex_unlock(&h->d->pub_mu);
    return set;
}

/* When `q` asks for the whole of a state whose rows all lie in one segment (the others empty,
 * no row gone), the result is
 * that segment file's messages: between the 8-byte magic and the footer an IPC file holds the
 * stream (schema, dictionaries, batches, end-of-stream marker, as our writer wrote it). Checks
 * that layout in the mapping, and keeps a descriptor of the file for sendfile. */
static void whole_file(const struct ik_query *q, struct ik_segset *set, struct ik_http_result *r)
{
    static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    size_t size = 0;
    const uint8_t *p;
    uint32_t footer;
    int fd, only = -1;
    if (q->n_columns || q->n_preds || q->offset || (q->limit >= 0 && q->limit < r->table_rows) ||
        ik_segset_gone_rows(set) != 0)
        return;
    for (int i = 0; i < ik_segset_count(set); i++) /* the one segment holding rows */
        if (ik_snapshot_rows(ik_segset_segment(set, i)) > 0) {
            if (only >= 0)
                return;
            only = i;
        }
    if (only < 0 || (fd = ik_segset_fd(set, only)) < 0)
        return;
    p = ik_snapshot_data(ik_segset_segment(set, only), &size);
    if (!p || size < 32 || memcmp(p, "ARROW1", 6) != 0 || memcmp(p + size - 6, "ARROW1", 6) != 0)
        return;
    footer = (uint32_t)p[size - 10] | (uint32_t)p[size - 9] << 8 | (uint32_t)p[size - 8] << 16 |
             (uint32_t)p[size - 7] << 24;
    if ((uint64_t)footer + 10 + 8 + 8 > size || memcmp(p + size - 10 - footer - 8, eos, 8) != 0)
        return;
    if ((r->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return;
    r->file_off = 8;
    r->file_len = size - 10 - footer - 8;
}

/* A file-backed table: the daemon's published state (a base and delta segments), queried as
 * slices of its segments. The result's batches hold their own references to the mappings,
 * whose ranges r->maps lists (the bodies reference them instead of copying). */
static int from_state(struct ik_http *h, const struct ik_query *q, int slot,
                      struct ik_http_result *r, struct ik_error *err)
{
    struct ArrowArrayStream st = {0};
    struct ik_query_cost cost;
    struct ik_segset *set = published_set(h, slot);
    int rc;
    if (set == NULL)
        return ik_error_set(err, EAGAIN, "no snapshot of %s published yet", q->table);
    r->version = ik_segset_version(set);
    r->table_rows = ik_segset_rows(set);
    for (int i = 0; i < ik_segset_count(set) && r->n_maps < IK_SEG_MAX; i++) {
        size_t size = 0;
        const uint8_t *p = ik_snapshot_data(ik_segset_segment(set, i), &size);
        if (p) {
            r->maps[r->n_maps].p = p;
            r->maps[r->n_maps++].n = size;
        }
    }
    rc = ik_segset_query(set, q, &st, &cost, err);
    if (rc == 0) {
        r->matched = cost.matched;
        r->versioned = true;
        whole_file(q, set, r);
    }
    ik_segset_release(set);
    if (rc != 0)
        return rc;
    rc = st.get_schema(&st, &r->schema);
    if (rc == 0)
        rc = drain(&st, r, err);
    else
        ik_error_set(err, rc, "query schema");
    st.release(&st);
    return rc;
}

int ik__http_snap_query(struct ik_http *h, const struct ik_query *q, struct ik_http_result *r,
                        struct ik_error *err)
{
    struct ArrowSchema s = {0};
    struct ArrowArray a = {0};
    int slot = cache_slot(q->table), rc;
    memset(r, 0, sizeof *r);
    r->file_fd = -1;
    if (slot >= 0) {
        rc = from_state(h, q, slot, r, err);
        if (rc != 0)
            ik__http_result_reset(r);
        return rc;
    }
    rc = strcmp(q->table, "metrics") == 0 ? ik_metrics_build(h->d, &s, &a, err)
                                          : ik_health_build(h->d, &s, &a, err);
    if (rc != 0)
        return rc;
    r->table_rows = a.length;
    if ((r->batches = calloc(1, sizeof *r->batches)) == NULL)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    else
        rc = ik_query_apply(q, &s, &a, &r->schema, &r->batches[0], &r->matched, err);
    if (rc == 0) {
        r->n = 1;
        r->rows = r->batches[0].length;
    }
    a.release(&a);
    s.release(&s);
    return rc;
}

void ik__http_result_reset(struct ik_http_result *r)
{
    for (int64_t i = 0; i < r->n; i++)
        if (r->batches[i].release)
            r->batches[i].release(&r->batches[i]);
    free(r->batches);
    if (r->schema.release)
        r->schema.release(&r->schema);
    if (r->file_fd >= 0)
        close(r->file_fd);
    memset(r, 0, sizeof *r);
    r->file_fd = -1;
}
