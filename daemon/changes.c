/* changes(since) inside the daemon (docs/architecture.md "Change log"): every reader — the
 * socket's "changes" op (reply.c), GET /v1/changes and the WebSocket feed (http/) — asks here.
 * Recent versions come from the change tail, which the builder fills as it reads each delta
 * (segbuild.c) and the writer trims with the store's retention window (workers.c); older ones,
 * those before the daemon started, and versions committed but not yet read by the builder,
 * from the store, as before. Both give the same rows for the same versions. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "ipfskit/seglog.h"

int ik_changes_tail_start(struct ik_daemon *d, struct ik_error *err)
{
    uint64_t oldest = 0, newest = 0;
    int rc = ik_store_changes_range(d->wstore, &oldest, &newest, err);
    const char *cap = getenv("IPFS_KIT_CHANGE_TAIL_BYTES"); /* tests: a small tail */
    size_t bytes = IK_CHANGE_TAIL_BYTES;
    if (cap && *cap)
        bytes = (size_t)strtoull(cap, NULL, 10);
    if (rc != 0)
        return rc;
    return ik_change_tail_create(bytes, oldest, &d->ctail, err);
}

int ik_daemon_changes(struct ik_daemon *d, struct ik_store **st, const char *table, uint64_t since,
                      struct ArrowSchema *schema_out, struct ArrowArray *out, uint64_t *newest,
                      struct ik_error *err)
{
    bool answered = false;
    int rc =
        ik_change_tail_changes(d->ctail, table, since, schema_out, out, newest, &answered, err);
    if (answered)
        return rc;
    if (*st == NULL && (rc = ik_store_open(d->dir, IK_STORE_READONLY, st, err)) != 0)
        return rc;
    /* EBUSY: the store's newest version is an import acknowledged from its journal whose rows
     * the writer has not applied yet (it does right after the publish): wait for it */
    for (int tries = 0; tries < 100; tries++) {
        rc = ik_store_changes(*st, table, since, schema_out, out, newest, err);
        if (rc != EBUSY || (rc = ik_apply_wait(d, 30000, err)) != 0)
            return rc;
    }
    return ik_error_set(err, EBUSY, "changes: imports kept landing while reading; try again");
}
