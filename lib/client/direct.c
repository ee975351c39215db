/* The daemon-down path (`direct`, source `direct_pin_index`): the newest snapshot file when
 * it reflects the store's current generation, else the SQLite store opened read-only (WAL
 * lets it read while another process writes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"
#include "ipfskit/store.h"

/* Serves `q` from an opened snapshot (the result keeps its own reference). */
static int from_snapshot(struct ik_snapshot *s, const struct ik_query *q, struct ik_result *out,
                         struct ik_error *err)
{
    int rc;
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

/* No store, only snapshot files (a copied directory): the newest that passes full
 * validation, as there is nothing else to read. */
static int from_latest(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                       int store_rc, struct ik_error *err)
{
    char path[4400];
    struct ik_snapshot *s = NULL;
    int rc;
    if (c->opts.direct_sqlite ||
        ik_snapshot_latest(c->dir, q->table, path, sizeof path, NULL, NULL) != 0)
        return store_rc;
    if ((rc = ik_snapshot_open_path(path, IK_VALIDATE_FULL, &s, err)) != 0)
        return rc;
    return from_snapshot(s, q, out, err);
}

/* No store and no snapshot: say where we looked and how to get one (the first thing a new
 * user meets, e.g. the README's Python example after `make demo`, whose store is elsewhere). */
static int no_store(const struct ik_client *c, struct ik_error *err)
{
    char def[4096];
    bool is_default = getenv("IPFS_KIT_PATH") == NULL && ik_data_dir(def, sizeof def, NULL) == 0 &&
                      strcmp(def, c->dir) == 0;
    bool autom = c->opts.method == IK_METHOD_AUTO;
    return ik_error_set(err, ENOENT,
                        "no ipfs-kit store at %s (no pins.db there%s)%s. Start one: 'ipfs-kit "
                        "--path %s daemon start', then 'ipfs-kit pin import FILE'; or set "
                        "IPFS_KIT_PATH to an existing data directory ('make demo' leaves one "
                        "in build/demo/ipfs_kit)",
                        c->dir, autom ? ", and no daemon answers on its socket" : "",
                        is_default ? "; IPFS_KIT_PATH is not set, so this is the default "
                                     "~/.ipfs_kit"
                                   : "",
                        c->dir);
}

int ik__client_direct(struct ik_client *c, const struct ik_query *q, struct ik_result *out,
                      struct ik_error *err)
{
    char warning[IK_ERROR_SIZE + 200] = "";
    uint64_t gen = 0;
    struct ik_store *st = NULL;
    struct ik_segset *set = NULL;
    struct ik_error why = {{0}};
    int rc, have_set = ENOENT;
    double t0 = ik__mono_ms();
    if (strcmp(q->table, "pin_index") != 0 && strcmp(q->table, "vfs_stats") != 0)
        return ik_error_set(err, IK_EDAEMON,
                            "%s come from the running daemon, and none is "
                            "running (start it: ipfs-kit daemon start)",
                            q->table);
    out->method = IK_METHOD_DIRECT;
    out->source = "direct_pin_index";
    /* The newest durable state (base + deltas), fully validated: nothing guards a file on disk
     * between the daemon's runs, and the query engine and printers trust a segment's offsets.
     * Damaged, it is skipped with the reason given back. */
    if (!c->opts.direct_sqlite)
        have_set = ik_segset_latest(c->dir, q->table, IK_VALIDATE_FULL, &set, NULL, 0, &why);
    rc = ik_store_open(c->dir, IK_STORE_READONLY, &st, err);
    if (rc == ENOENT) { /* snapshots without a store (a copied directory): serve what we have */
        if (have_set == 0)
            rc = from_state(c, q, set, out, err);
        else if ((rc = from_latest(c, q, out, rc, err)) == ENOENT)
            rc = no_store(c, err);
        goto done;
    }
    if (rc != 0)
        goto done;
    if ((rc = ik_store_generation(st, &gen, err)) != 0)
        goto done;
    if (have_set == 0 && ik_segset_version(set) == gen) {
        rc = from_state(c, q, set, out, err);
        goto done;
    }
    {
        /* an import acknowledged from its journal, not applied to pins.db yet: applied here
         * when no daemon holds the store (its daemon was killed), else waited for (the daemon
         * applies it right after its publish); docs/architecture.md, import journals */
        uint64_t pending = 0;
        if ((rc = ik_store_pending(st, &pending, err)) != 0)
            goto done;
        if (pending != 0) {
            ik_store_close(st);
            st = NULL;
            if ((rc = ik_store_await_applied(c->dir, c->timeout_ms, err)) != 0 ||
                (rc = ik_store_open(c->dir, IK_STORE_READONLY, &st, err)) != 0 ||
                (rc = ik_store_generation(st, &gen, err)) != 0)
                goto done;
        }
    }
    if (have_set != 0 && have_set != ENOENT)
        snprintf(warning, sizeof warning,
                 "the %s snapshot is damaged, read from SQLite instead (the daemon rebuilds "
                 "it when it starts): %s",
                 q->table, why.message);
    rc = from_store(c, st, q, out, err);
    out->version = gen;
done:
    ik_segset_release(set);
    ik_store_close(st);
    out->timings.decode_ms = ik__mono_ms() - t0;
    if (rc == 0 && err != NULL)
        snprintf(err->message, sizeof err->message, "%.*s", IK_ERROR_SIZE - 1, warning);
    return rc;
}
