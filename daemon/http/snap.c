/* The HTTP server's one reader of published snapshots: every table request goes through
 * ik__http_snap_query, so a change in how the daemon publishes (base + delta segments) is
 * adapted here only. Each file-backed table's newest snapshot stays mapped between requests
 * (a mapping and footer read cost tens of µs); results are slices of that mapping. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"
#include "ipfskit/schemas.h"

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

/* The cached snapshot of `slot`, replaced when the daemon has published a newer one. Called
 * with cache_mu held. */
static int current(struct ik_http *h, const char *table, int slot, struct ik_snapshot **out,
                   struct ik_error *err)
{
    struct ik_http_cached *c = &h->cache[slot];
    struct ik_snapshot_id have = {0};
    struct ik_published p;
    struct ik_snapshot *s = NULL;
    int rc;
    if (c->snap) {
        have.set = true;
        have.version = c->version;
        have.dev = c->dev;
        have.ino = c->ino;
    }
    if (ik_published_get(h->d, table, &have, &p) != 0)
        return ik_error_set(err, EAGAIN, "no snapshot of %s published yet", table);
    if (p.fd < 0) { /* the one we hold */
        *out = c->snap;
        return 0;
    }
    rc = ik_snapshot_open_fd(p.fd, 0, &s, err);
    close(p.fd);
    if (rc != 0)
        return rc;
    ik_snapshot_close(c->snap); /* results still using it hold their own reference */
    c->snap = s;
    c->version = p.version;
    c->dev = p.dev;
    c->ino = p.ino;
    *out = s;
    return 0;
}

static int from_snapshot(struct ik_http *h, const struct ik_query *q, int slot,
                         struct ik_http_result *r, struct ik_error *err)
{
    struct ArrowArrayStream st = {0};
    struct ik_snapshot *s = NULL;
    int rc;
    pthread_mutex_lock(&h->cache_mu);
    rc = current(h, q->table, slot, &s, err);
    if (rc == 0) {
        r->version = h->cache[slot].version;
        r->table_rows = ik_snapshot_rows(s);
        r->map = ik_snapshot_data(s, &r->map_size);
        rc = ik_snapshot_query(s, q, &st, &r->matched, err);
    }
    pthread_mutex_unlock(&h->cache_mu);
    if (rc != 0)
        return rc;
    r->versioned = true;
    rc = st.get_schema(&st, &r->schema);
    if (rc == 0)
        rc = st.get_next(&st, &r->batch);
    if (rc == 0 && r->batch.release == NULL)
        rc = ik_error_set(err, EIO, "snapshot query returned no batch");
    else if (rc != 0)
        ik_error_set(err, rc, "%s", st.get_last_error(&st) ? st.get_last_error(&st) : "query");
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
    if (slot >= 0) {
        rc = from_snapshot(h, q, slot, r, err);
        if (rc != 0)
            ik__http_result_reset(r);
        return rc;
    }
    rc = strcmp(q->table, "metrics") == 0 ? ik_metrics_build(h->d, &s, &a, err)
                                          : ik_health_build(h->d, &s, &a, err);
    if (rc != 0)
        return rc;
    r->table_rows = a.length;
    rc = ik_query_apply(q, &s, &a, &r->schema, &r->batch, &r->matched, err);
    a.release(&a);
    s.release(&s);
    return rc;
}

void ik__http_result_reset(struct ik_http_result *r)
{
    if (r->batch.release)
        r->batch.release(&r->batch);
    if (r->schema.release)
        r->schema.release(&r->schema);
    memset(r, 0, sizeof *r);
}

void ik__http_snap_free(struct ik_http *h)
{
    for (int i = 0; i < 2; i++) {
        ik_snapshot_close(h->cache[i].snap);
        h->cache[i].snap = NULL;
    }
}
