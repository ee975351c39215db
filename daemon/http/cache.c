/* Table responses kept per published version. A snapshot version never changes, so the
 * response to the same request (table, format, codec, encoding, query arguments) at the same
 * version is the same bytes: the MHD response is kept (libmicrohttpd responses are refcounted
 * and may be queued on any number of connections) and queued again, skipping the query, the IPC
 * writer and the allocations they make. A kept Arrow response references the segments'
 * mappings, so it keeps them mapped: entries of older versions are dropped at the next request
 * that sees a new generation; an entry holding more than IK_HTTP_CACHE_OWNED bytes of memory
 * (a big text body, a compressed table) is not kept. 16 entries, least recently used out. */
#include <stdio.h>
#include <string.h>

#include "http_internal.h"

struct keybuf {
    char *p;
    size_t len, cap;
    bool full;
};

static void add(struct keybuf *k, const char *s)
{
    size_t n = strlen(s);
    if (k->full || k->len + n + 1 >= k->cap) {
        k->full = true;
        return;
    }
    memcpy(k->p + k->len, s, n + 1);
    k->len += n;
}

static enum MHD_Result arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct keybuf *k = cls;
    (void)kind;
    add(k, "&");
    add(k, key);
    add(k, "=");
    add(k, value ? value : "");
    return k->full ? MHD_NO : MHD_YES;
}

bool ik__http_cache_key(struct MHD_Connection *conn, const char *table, int format, int compression,
                        int encoding, char *key, size_t cap)
{
    struct keybuf k = {key, 0, cap, false};
    char head[96];
    snprintf(head, sizeof head, "%s|%d|%d|%d|", table, format, compression, encoding);
    add(&k, head);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, arg, &k);
    return !k.full;
}

bool ik__http_cache_serve(struct ik_http *h, struct MHD_Connection *conn, const char *key,
                          uint64_t version, enum MHD_Result *ok)
{
    struct ik_http_sent sent;
    bool hit = false;
    pthread_mutex_lock(&h->cache_mu);
    for (int i = 0; i < IK_HTTP_CACHE; i++) {
        struct ik_http_cached *c = &h->cache[i];
        if (c->resp && c->version == version && strcmp(c->key, key) == 0) {
            /* queued under the lock: MHD takes its own reference before an eviction could
             * drop the cache's */
            *ok = MHD_queue_response(conn, 200, c->resp);
            sent = c->sent;
            c->used = ++h->cache_clock;
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&h->cache_mu);
    atomic_fetch_add_explicit(hit ? &h->stats.cache_hits : &h->stats.cache_misses, 1,
                              memory_order_relaxed);
    if (hit) {
        atomic_fetch_add_explicit(&h->stats.status[2], 1, memory_order_relaxed);
        ik__http_count_sent(h, &sent);
    }
    return hit;
}

void ik__http_cache_put(struct ik_http *h, const char *key, uint64_t version,
                        struct MHD_Response *resp, const struct ik_http_sent *sent)
{
    struct MHD_Response *old = NULL;
    struct ik_http_cached *c;
    int victim = 0;
    if (sent->owned > IK_HTTP_CACHE_OWNED || strlen(key) >= IK_HTTP_CACHE_KEY) {
        MHD_destroy_response(resp);
        return;
    }
    pthread_mutex_lock(&h->cache_mu);
    for (int i = 0; i < IK_HTTP_CACHE; i++) {
        if (!h->cache[i].resp) {
            victim = i;
            break;
        }
        if (h->cache[i].used < h->cache[victim].used)
            victim = i;
    }
    c = &h->cache[victim];
    old = c->resp;
    c->resp = resp;
    c->version = version;
    c->sent = *sent;
    c->used = ++h->cache_clock;
    strcpy(c->key, key);
    pthread_mutex_unlock(&h->cache_mu);
    if (old)
        MHD_destroy_response(old); /* freed once no connection sends it any more */
}

void ik__http_cache_prune(struct ik_http *h, uint64_t pins_version, uint64_t vfs_version)
{
    struct MHD_Response *drop[IK_HTTP_CACHE];
    int n = 0;
    pthread_mutex_lock(&h->cache_mu);
    for (int i = 0; i < IK_HTTP_CACHE; i++) {
        struct ik_http_cached *c = &h->cache[i];
        bool pins = strncmp(c->key, "pin_index|", 10) == 0;
        if (c->resp && c->version != (pins ? pins_version : vfs_version)) {
            drop[n++] = c->resp;
            c->resp = NULL;
        }
    }
    pthread_mutex_unlock(&h->cache_mu);
    for (int i = 0; i < n; i++)
        MHD_destroy_response(drop[i]);
}

void ik__http_cache_free(struct ik_http *h)
{
    ik__http_cache_prune(h, UINT64_MAX, UINT64_MAX);
}
