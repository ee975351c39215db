/* Parts of config.json's loader kept in their own files. Not public API. */
#ifndef IK_CONFIG_INTERNAL_H
#define IK_CONFIG_INTERNAL_H

#include <jansson.h>

#include "ipfskit/config.h"

/* "sources": an array of {"name","kind","api","auth","interval_s","sizes","timeout_ms"} into
 * c->sources (config_sources.c). EINVAL naming the key ("sources[1].kind: ..."). */
int ik__config_sources(json_t *root, struct ik_config *c, struct ik_error *err);

/* config_http.c: the "http" section's defaults, and its parser (EINVAL naming the key). */
void ik__config_http_init(struct ik_http_conf *h);
int ik__config_http_load(json_t *root, struct ik_http_conf *h, struct ik_error *err);

/* config_flight.c: the "flight" section's defaults and parser (EINVAL naming the key), and
 * an integer key of an object checked to lie in [lo, hi] (absent: *out unchanged; EINVAL
 * naming "<section>.<name>"). */
int ik__config_int_in(json_t *o, const char *section, const char *name, int lo, int hi, int *out,
                      struct ik_error *err);
/* A key of an object that names a PEM file ("tls_cert", "tls_key"): a non-empty path shorter
 * than cap copied to out, or null/absent (out unchanged); EINVAL naming "<section>.<name>".
 * The files themselves are read when the server that uses them starts. */
int ik__config_pem_path(json_t *o, const char *section, const char *name, char *out, size_t cap,
                        struct ik_error *err);
void ik__config_flight_init(struct ik_flight_conf *f);
int ik__config_flight_load(json_t *root, struct ik_flight_conf *f, struct ik_error *err);

/* config_peers.c: "peers", "peer_timeout_ms" and "node_name" (defaults set by _init). */
void ik__config_peers_init(struct ik_config *c);
/* `dir`: the data directory (relative paths are under it) */
int ik__config_peers(json_t *root, const char *dir, struct ik_config *c, struct ik_error *err);

#endif
