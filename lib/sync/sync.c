/* One sync of one source into the store: the listing streams from the source into the
 * store's staging table, then the difference is applied in one transaction
 * (ik_store_sync_finish). Also which sources a data directory syncs: config.json's "sources",
 * or, when the key is absent, the local kubo node whose repo names its API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipfskit/sync.h"

struct stage_ctx {
    struct ik_store_sync *sync;
    ik_sync_progress_fn progress;
    void *pctx;
    int64_t n;
};

static int stage_pin(void *arg, const struct ik_source_pin *p, struct ik_error *err)
{
    struct stage_ctx *c = arg;
    if (p->status_only)
        return ik_store_sync_verified(c->sync, p->cid, p->verified == 1, err);
    if (c->progress != NULL && (++c->n & 4095) == 0)
        c->progress(c->pctx, c->n);
    return ik_store_sync_stage(c->sync, p->cid, p->name, p->pin_type, p->replication_factor,
                               p->metadata, p->verified, err);
}

int ik_sync_once(struct ik_store *st, const struct ik_source *src, ik_sync_progress_fn progress,
                 void *pctx, struct ik_sync_counts *res, struct ik_error *err)
{
    struct stage_ctx c = {.progress = progress, .pctx = pctx};
    int rc;
    memset(res, 0, sizeof *res);
    if ((rc = ik_store_sync_begin(st, src->name, &c.sync, err)) != 0)
        return rc;
    rc = ik_source_list(src, stage_pin, &c, NULL, err);
    if (rc != 0) {
        /* a listing cut short is not the source's pinset: nothing is applied */
        ik_store_sync_abort(c.sync);
        return ik_error_prefix(err, rc, "source %s", src->name);
    }
    if (progress != NULL)
        progress(pctx, c.n);
    rc = ik_store_sync_finish(c.sync, res, err);
    return rc == 0 ? 0 : ik_error_prefix(err, rc, "source %s", src->name);
}

int ik_sync_sources(const struct ik_config *cfg, struct ik_source **out, size_t *n,
                    struct ik_error *err)
{
    char url[512];
    struct ik_error ignored;
    *out = NULL;
    *n = 0;
    if (cfg->sources_given) {
        if (cfg->n_sources == 0)
            return 0;
        if ((*out = calloc(cfg->n_sources, sizeof **out)) == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        memcpy(*out, cfg->sources, cfg->n_sources * sizeof **out);
        *n = cfg->n_sources;
        return 0;
    }
    /* no "sources": the local kubo, if its repo names an API (as kubo's own CLI finds it) */
    if (ik_kubo_api_url(NULL, url, sizeof url, &ignored) != 0)
        return 0;
    if ((*out = calloc(1, sizeof **out)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    ik_source_init(*out, IK_SOURCE_KUBO, "kubo", url);
    *n = 1;
    return 0;
}
