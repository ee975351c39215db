/* Pin sources: kubo's RPC API and IPFS Cluster's REST API, read over HTTP (libcurl). Lists a
 * source's pins as a stream (memory bounded whatever the pin count), probes whether it
 * answers, and finds kubo's API the way kubo's own CLI does. Applying a listing to the store is
 * ik_store_sync (store.h); this layer only talks to the sources. */
#ifndef IPFSKIT_SYNC_H
#define IPFSKIT_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/config.h"
#include "ipfskit/error.h"
#include "ipfskit/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One pin as a source lists it. Strings are NUL-terminated and valid only during the call. */
struct ik_source_pin {
    const char *cid;
    const char *name;           /* NULL when the source gives none */
    const char *pin_type;       /* "recursive", "direct" or "indirect" */
    int32_t replication_factor; /* -1: the source does not say */
    const char *metadata;       /* a JSON object text, or NULL */
    int verified;               /* 1, 0, or -1: the source does not say */
    bool status_only;           /* Cluster's second pass: only cid and verified are meant */
};

/* Called for every pin listed; a non-zero return stops the listing and is returned by
 * ik_source_list (with whatever the callback wrote into err). */
typedef int (*ik_source_pin_fn)(void *ctx, const struct ik_source_pin *pin, struct ik_error *err);

/* Lists every pin of the source, calling `fn` as the response streams in. kubo:
 * POST /api/v0/pin/ls?stream=true&names=true&type=all (a type "indirect through <cid>" is
 * reported as "indirect"); IPFS Cluster: GET /allocations, with `verified` from GET /pins.
 * Errors name the URL: EHOSTUNREACH-style failures as "<url>: Couldn't connect to server", an
 * HTTP error status with the source's own message (kubo's {"Message"}), ETIMEDOUT when the
 * response stalls longer than timeout_ms, IK_EFORMAT for a line that is not a pin (with its
 * line number). `*listed` (may be NULL) receives the number of pins passed to fn. */
int ik_source_list(const struct ik_source *src, ik_source_pin_fn fn, void *ctx, int64_t *listed,
                   struct ik_error *err);

/* Asks the source whether it answers (kubo: POST /api/v0/id; Cluster: GET /id) within
 * timeout_ms. 0 and the response time in ms; otherwise the error, naming the URL. */
int ik_source_probe(const struct ik_source *src, double *response_ms, struct ik_error *err);

/* kubo's API address for a repo: reads `<repo>/api` (a multiaddr such as
 * /ip4/127.0.0.1/tcp/5001, or an http URL) and writes http://host:port into url. `repo` NULL
 * means $IPFS_PATH, else ~/.ipfs, as kubo's CLI looks it up. ENOENT when the file is absent
 * (no local kubo), EINVAL for an address it cannot use (naming it). */
int ik_kubo_api_url(const char *repo, char *url, size_t cap, struct ik_error *err);

/* kubo: the cumulative size of a pin's DAG (POST /api/v0/files/stat?arg=/ipfs/<cid>). */
int ik_kubo_dag_size(const struct ik_source *src, const char *cid, int64_t *size,
                     struct ik_error *err);

/* Called now and then during a sync with the number of pins listed so far (a progress line). */
typedef void (*ik_sync_progress_fn)(void *ctx, int64_t listed);

/* Makes the store's rows of `src` (backend = src->name) equal to what the source lists, in one
 * transaction after the whole listing has arrived; a listing that fails part way applies
 * nothing. `res` says what changed; nothing changed writes nothing. Errors name the source. */
int ik_sync_once(struct ik_store *st, const struct ik_source *src, ik_sync_progress_fn progress,
                 void *pctx, struct ik_sync_counts *res, struct ik_error *err);

/* The sources a data directory syncs (a malloc'd array the caller frees): config.json's
 * "sources" when the key is there (possibly none), else the local kubo named by
 * $IPFS_PATH/api or ~/.ipfs/api, called "kubo", when that file exists. */
int ik_sync_sources(const struct ik_config *cfg, struct ik_source **out, size_t *n,
                    struct ik_error *err);

#ifdef __cplusplus
}
#endif

#endif
