/* The daemon-down path (`direct`, source `direct_pin_index`): the newest snapshot file when
 * it reflects the store's current generation, else the SQLite store opened read-only (WAL
 * lets it read while another process writes). */
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"
#include "ipfskit/store.h"

static int from_snapshot(struct ik_client *c, const struct ik_query *q, const char *path,
                         struct ik_result *out, struct ik_error *err)
{
    struct ik_snapshot *s = NULL;
    int rc = ik_snapshot_open_path(path, c->opts.validate, &s, err);
    if (rc != 0)
        return rc;
    out->version = ik_snapshot_version(s);
    out->table_rows = ik_snapshot_rows(s);
    rc = ik_snapshot_query(s, q, &out->stream, &out->matched, err);
    ik_snapshot_close(s);
    out->detail = "snapshot";
    out->copied_rows = out->copied_bytes = q->n_preds ? -1 : 0; /* a filter may gather */
    return rc;
}

static int from_state(struct ik_client *c, const struct ik_query *q, struct ik_segset *set,
                      struct ik_result *out, struct ik_error *err)
{
    struct ik_query_cost cost;
    int rc;
    (void)c;
    out->version = ik_segset_version(set);
    out->table_rows = ik_segset_rows(set);
    rc = ik_segset_query(set, q, &out->stream, &cost, err);
    out->matched = cost.matched;
    out->copied_rows = cost.copied_rows;
    out->copied_bytes = cost.copied_bytes;
    out->detail = "snapshot";
    return rc;
}

static int from_store(struct ik_client *c, struct ik_store *st, const struct ik_query *q,
                      struct ik_result *out, struct ik_error *err)
{
    struct ArrowSchema s = {0};
    struct ArrowArray a = {0};
    int rc;
    out->detail = "sqlite";
    out->copied_rows = out->copied_bytes = -1; /* every row read out of SQLite */
    out->table_rows = -1; /* COUNT(*) would cost a scan of the table: not counted */
    if (strcmp(q->table, "pin_index") == 0) {
        rc = ik_store_query(st, q, &s, &a, err);
        out->matched = -1; /* not counted: the rows come from SQL with LIMIT/OFFSET */
        if (rc == 0)
            out->rows = a.length;
    } else { /* vfs_stats: aggregated from every pin */
        struct ArrowSchema ps = {0}, vs = {0};
        struct ArrowArray pa = {0}, va = {0};
        rc = ik_store_read_pins(st, &ps, &pa, err);
        if (rc == 0) {
            rc = ik_vfs_stats_build(&ps, &pa, &vs, &va, err);
            pa.release(&pa);
            ps.release(&ps);
        }
        if (rc == 0) {
            out->table_rows = va.length;
            rc = ik_query_apply(q, &vs, &va, &s, &a, &out->matched, err);
            va.release(&va);
            vs.release(&vs);
        }
    }
    (void)c;
    if (rc != 0)
        return rc;
    return ik_batch_stream(&s, &a, &out->stream, err);
}

int ik__client_direct(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                      struct ik_error *err)
{
    char path[4400];
    uint64_t version = 0, gen = 0;
    struct ik_store *st = NULL;
    struct ik_segset *set = NULL;
    int rc, have_snap;
    double t0 = ik__mono_ms();
    if (strcmp(q->table, "pin_index") != 0 && strcmp(q->table, "vfs_stats") != 0)
        return ik_error_set(err, IK_EDAEMON,
                            "%s come from the running daemon, and none is "
                            "running (start it: ipfs-kit daemon start)",
                            q->table);
    out->method = IK_METHOD_DIRECT;
    out->source = "direct_pin_index";
    /* the newest durable state (base + deltas); the older single-file snapshots otherwise */
    if (!c->opts.direct_sqlite &&
        ik_segset_latest(c->dir, q->table, c->opts.validate, &set, NULL, 0, NULL) == 0) {
        have_snap = 1;
        version = ik_segset_version(set);
    } else {
        have_snap = !c->opts.direct_sqlite &&
                    ik_snapshot_latest(c->dir, q->table, path, sizeof path, &version, NULL) == 0;
    }
    rc = ik_store_open(c->dir, IK_STORE_READONLY, &st, err);
    if (rc == ENOENT && have_snap) { /* snapshots without a store: serve what we have */
        rc = set ? from_state(c, q, set, out, err) : from_snapshot(c, q, path, out, err);
        goto done;
    }
    if (rc != 0) {
        ik_segset_release(set);
        return rc;
    }
    if ((rc = ik_store_generation(st, &gen, err)) != 0)
        goto done;
    if (have_snap && version == gen) {
        rc = set ? from_state(c, q, set, out, err) : from_snapshot(c, q, path, out, err);
        if (rc == 0)
            goto done;
        ik_result_reset(out); /* unreadable snapshot: SQLite is the source of truth */
        out->method = IK_METHOD_DIRECT;
        out->source = "direct_pin_index";
    }
    rc = from_store(c, st, q, out, err);
    out->version = gen;
done:
    ik_segset_release(set);
    ik_store_close(st);
    out->timings.decode_ms = ik__mono_ms() - t0;
    return rc;
}
