/* The daemon's HTTP server (daemon/http/, docs/http.md), as the rest of the daemon sees it:
 * started after the workers, stopped before them. It runs on libmicrohttpd's own threads and
 * reads only published snapshots and atomic metrics, so it never blocks the unix-socket loop. */
#ifndef IK_HTTP_H
#define IK_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ipfskit/error.h"

struct ik_daemon;

/* The write token ($IPFS_KIT_PATH/http.token, 64 hex characters) into token[cap >= 65]:
 * created at first use (O_EXCL, O_NOFOLLOW), else read (a regular file of ours, mode 0600).
 * HTTP and Flight share it. */
int ik_http_token(struct ik_daemon *d, char *token, size_t cap, struct ik_error *err);

/* Reads a PEM file of the configuration (`key` names it in messages: "http.tls_cert") into
 * *out (malloc'd, NUL-terminated) as every file of the data directory is read: never through
 * a symbolic link at the last component, only a regular file of at most 1 MiB that group and
 * others cannot write; a `secret` (a private key) must also be the daemon user's own with no
 * group or other access. Every refusal names the key and the file. HTTPS and Flight's
 * grpc+tls share it. */
int ik_http_pem_read(const char *key, const char *path, bool secret, char **out,
                     struct ik_error *err);

/* Starts serving d->cfg.http when enabled. Never fails the daemon: when the server cannot
 * start (port taken, no token file...), the reason is kept for `status` and logged unless
 * `quiet`. */
void ik_http_start(struct ik_daemon *d, int quiet);
void ik_http_stop(struct ik_daemon *d);

/* Whether HTTP is being served (for the metrics table's http_up). */
int ik_http_serving(struct ik_daemon *d);

/* "https" when serving TLS (http.tls_cert / tls_key), else "http". */
const char *ik_http_scheme(struct ik_daemon *d);

/* Where HTTP is served ("127.0.0.1:8774", the bound port when 0 was asked) into `addr`, or
 * "" with why it is not into `why`. */
void ik_http_describe(struct ik_daemon *d, char *addr, size_t addr_cap, char *why, size_t why_cap);

#endif
