/* The data directory ($IPFS_KIT_PATH, default ~/.ipfs_kit), its config.json, and the daemon
 * lock (`daemon.lock`, write-locked by the running daemon with an open file description lock
 * and holding its PID). */
#ifndef IPFSKIT_CONFIG_H
#define IPFSKIT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data directory ------------------------------------------------------------------- */

/* Writes the data directory into out: $IPFS_KIT_PATH when set and not empty, else
 * $HOME/.ipfs_kit. Returns 0, ENOENT when neither variable is set, ENAMETOOLONG when the path
 * does not fit in cap. */
int ik_data_dir(char *out, size_t cap, struct ik_error *err);

/* Creates `dir` and its missing parents with mode 0700 (mkdir -p). Existing directories are left
 * as they are. Returns 0, ENOTDIR when `dir` or a parent exists and is not a directory, or the
 * errno of the failing mkdir. */
int ik_data_dir_ensure(const char *dir, struct ik_error *err);

/* Checks that `dir` is a directory owned by this process's effective uid that neither group nor
 * others can write, and so is `dir`/snapshots when it exists (which must not be a symbolic link).
 * Whoever could write them could plant links to files we would then write. Returns 0, or EPERM
 * with a message naming the directory, its owner and mode and the chown/chmod that fixes it
 * (ENOTDIR, or the errno of a directory that cannot be opened). With `dirfd_out`, the opened
 * directory's descriptor is given to the caller on success (the directory that was checked,
 * even if its path is later renamed), else -1. */
int ik_data_dir_check(const char *dir, int *dirfd_out, struct ik_error *err);

/* ---- config.json ---------------------------------------------------------------------- */

struct ik_backend_conf {
    char name[64];  /* the key under "backends" */
    char kind[8];   /* "http" ({"url": "http://host:port/path"}) or "tcp" ({"tcp": "host:port"}) */
    char host[256]; /* IPv6 literals without their brackets */
    int port;       /* http without a port: 80 */
    char path[256]; /* http path, default "/"; empty for tcp */
    int timeout_ms; /* "timeout_ms", default 2000 */
};

/* A pin source (config.json "sources"; lib/sync reads it). */
enum ik_source_kind { IK_SOURCE_KUBO, IK_SOURCE_CLUSTER };

struct ik_source {
    char name[64];            /* the rows it owns carry it in `backend` */
    enum ik_source_kind kind; /* "kubo" or "ipfs_cluster" in config.json */
    char api[512];            /* base URL without a trailing '/', e.g. http://127.0.0.1:5001 */
    char auth[512];           /* an Authorization header value, or "" */
    int interval_s;           /* seconds between syncs (and probes); default 10 */
    bool sizes;               /* kubo: fill size_bytes from files/stat in the background */
    int timeout_ms;           /* connect timeout, and a probe's whole time; 10000 */
    int stall_ms;             /* the longest a listing may go without a byte; 120000 */
};

/* "http": the daemon's HTTP server (docs/http.md). */
#define IK_HTTP_DEFAULT_PORT 8774
#define IK_HTTP_MAX_CORS 8
struct ik_http_conf {
    bool enabled;                     /* false for "listen": null */
    char host[64];                    /* IPv4 or IPv6 literal (no brackets) or "localhost" */
    int port;                         /* 0 picks a free port */
    bool loopback;                    /* host is a loopback address */
    char read_token[128];             /* "read_token": reads need it as a Bearer token when set */
    char cors[IK_HTTP_MAX_CORS][128]; /* "cors_origins": allowed Origin values; none by default */
    int n_cors;
    int max_connections;  /* "max_connections", default 64 */
    int timeout_s;        /* "idle_timeout", seconds, default 10 */
    int max_header_bytes; /* "max_header_bytes", default 16384 */
    int max_body_bytes;   /* "max_body_bytes" of a POST /v1/pins, default 64 MiB */
    /* "tls_cert", "tls_key": PEM files (relative to the data directory unless absolute); HTTPS
     * when both are set, "" when not */
    char tls_cert[1024];
    char tls_key[1024];
};

/* A peer daemon (config.json "peers"; docs/distributed.md): where its Arrow Flight server
 * listens. */
#define IK_PEERS_MAX 64
struct ik_peer_conf {
    char location[300];  /* normalised: "grpc+tcp://host:port" ([v6]), "grpc+tls://host:port" or
                          * "grpc+unix:///path" */
    char host[256];      /* grpc+tcp/tls: name or address (IPv6 without brackets); "" for unix */
    int port;            /* grpc+tcp/tls: 1-65535 */
    char unix_path[108]; /* grpc+unix: the socket's absolute path; "" for tcp */
    bool tls;            /* grpc+tls: the peer's certificate is checked (peer_tls_ca) */
};

/* Parses one Flight location: "grpc+tcp://host:port" (also "grpc://host:port"; IPv6 as
 * "[::1]:port"), "grpc+tls://host:port" or "grpc+unix:///absolute/path", into `p` (location
 * spelled one way). Returns 0, or EINVAL with what was expected in *why (a static string). */
int ik_peer_parse(const char *s, struct ik_peer_conf *p, const char **why);

/* "flight": the daemon's Arrow Flight server (docs/flight.md). Locations are checked here for
 * their form; the daemon parses them fully and says in status why Flight is off when one is
 * unusable. Tokens are HTTP's: http.read_token for reads, http.token's for writes. */
#define IK_FLIGHT_MAX_LISTEN 4
struct ik_flight_conf {
    bool enabled;      /* false for "flight": null or "listen": null */
    bool listen_given; /* else grpc+unix://<data dir>/flight.sock and grpc+tcp://127.0.0.1:8815 */
    char listen[IK_FLIGHT_MAX_LISTEN][256];
    int n_listen;
    int max_message_bytes; /* "max_message_bytes": largest message received, default 64 MiB */
    int batch_rows;        /* "batch_rows": most rows per DoGet message, default 65536; 0 whole */
    int max_calls;         /* "max_calls": calls served at once, default 256 */
    /* "tls_cert", "tls_key": the PEM certificate (chain) and key of the grpc+tls locations
     * (relative to the data directory unless absolute), both or neither; when neither is set,
     * grpc+tls locations use http.tls_cert / http.tls_key */
    char tls_cert[1024];
    char tls_key[1024];
};

/* Fills `s` with `kind`, `name`, `api` and the defaults: interval 10 s, timeout 10 s, stall
 * 120 s, no auth, no sizes (config_sources.c; config.json entries start from the same). */
void ik_source_init(struct ik_source *s, enum ik_source_kind kind, const char *name,
                    const char *api);

struct ik_config {
    /* false when capabilities.arrow_ipc or arrow_ipc.enabled is false; default true */
    bool arrow_ipc_enabled;
    bool zero_copy;                   /* capabilities.zero_copy, default true */
    int timeout_s;                    /* arrow_ipc.timeout, seconds, default 30 */
    int64_t max_table_size;           /* arrow_ipc.max_table_size, bytes, default "100MB" */
    struct ik_backend_conf *backends; /* "backends" (owned; freed by ik_config_reset) */
    size_t n_backends;
    int health_interval_s;    /* "health_interval", seconds between backend checks, default 10 */
    struct ik_http_conf http; /* "http", defaults: listen 127.0.0.1:8774, no read token */
    /* The daemon's limits ("daemon" section; docs/protocol.md, "Limits and timeouts"). */
    int max_connections;     /* daemon.max_connections: open client connections, default 1024 */
    int idle_timeout_s;      /* daemon.idle_timeout: a quiet connection is closed, default 300 */
    int header_timeout_s;    /* daemon.header_timeout: to finish a started request, default 10 */
    int send_timeout_s;      /* daemon.send_timeout: to send one whole reply, default 60 */
    int visible_timeout_s;   /* daemon.visible_timeout: a write waits to be visible, default 60 */
    int64_t max_import_size; /* daemon.max_import_size: bytes of one import file, default 16GiB */
    /* The change log's retention (docs/architecture.md "Change log"): a version's changes are
     * kept while it is among the newest `changes.retain_versions` versions (default 100000)
     * and younger than `changes.retain_seconds` (default 86400). */
    int changes_retain_versions;
    int changes_retain_seconds;
    struct ik_source *sources; /* "sources" (owned; freed by ik_config_reset) */
    size_t n_sources;
    bool sources_given;           /* the key is present (even empty): no kubo source is implied */
    struct ik_flight_conf flight; /* "flight" (config_flight.c) */
    /* Many daemons as one (docs/distributed.md): "peers" (owned; freed by ik_config_reset),
     * "peer_timeout_ms" (a peer's whole answer, default 2000) and "node_name" (the `node`
     * column's value; default this machine's host name). */
    struct ik_peer_conf *peers;
    size_t n_peers;
    int peer_timeout_ms;
    char node_name[64];
    /* "peer_tls_ca": the PEM file of the certificates (CAs, or the peers' own self-signed ones)
     * that grpc+tls peers are checked against, made absolute (relative paths are under the data
     * directory); "" for gRPC's default roots */
    char peer_tls_ca[1024];
};

#define IK_CONFIG_DEFAULT_MAX_TABLE_SIZE ((int64_t)100 * 1000 * 1000)
#define IK_CONFIG_DEFAULT_MAX_IMPORT_SIZE ((int64_t)16 * 1024 * 1024 * 1024)

/* Fills `c` with the defaults (no backends). */
void ik_config_init(struct ik_config *c);

/* Frees the backends and sets `c` back to the defaults. */
void ik_config_reset(struct ik_config *c);

/* Parses a size: a positive integer of bytes, optionally followed (a space allowed) by a unit:
 * B, KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024), in any case. Returns 0,
 * or EINVAL for anything else, zero, or a size above INT64_MAX. */
int ik_config_parse_size(const char *s, int64_t *out);

/* Loads `<dir>/config.json` into `out` (initialised here; call ik_config_reset after). A missing
 * file gives the defaults. Unknown keys are ignored. Returns 0; IK_EFORMAT for malformed JSON
 * ("config.json: line 3, column 5: ..."); EINVAL for a bad value, naming the key ("config.json:
 * arrow_ipc.timeout: expected a positive integer, got \"x\""); ENOMEM; or the errno of a file
 * that exists but cannot be read. On error `out` holds the defaults. */
int ik_config_load(const char *dir, struct ik_config *out, struct ik_error *err);

/* ---- daemon lock ---------------------------------------------------------------------- */

/* Takes the daemon lock: opens or creates `<dir>/daemon.lock` (0600), F_OFD_SETLK F_WRLCK,
 * and writes our PID and "\n" into it. On success *fd_out holds the lock for as long as it stays
 * open. When another open file description holds it, returns IK_ELOCKED with "Database is
 * locked by daemon (PID n)" and *holder_pid = n (0 when the file names no PID yet);
 * holder_pid may be NULL. Other failures return the errno. On any failure *fd_out is -1. */
int ik_lock_acquire(const char *dir, int *fd_out, long *holder_pid, struct ik_error *err);

/* Gives the lock up: empties the file (no PID left in it) and closes fd. The file itself stays,
 * see lock.c for why. */
void ik_lock_release(int fd, const char *dir);

/* Whether the lock is held right now (by any process, this one included), asked with
 * F_OFD_GETLK, which takes nothing: 0 and the PID from the file (0 if none yet), or ENOENT when
 * nobody holds it or the file does not exist. Other failures return the errno. */
int ik_lock_holder(const char *dir, long *pid);

/* Marks the lock held through `fd` (from ik_lock_acquire) as a daemon's: the file then reads
 * "PID daemon\n". A direct writer leaves the bare PID, so `daemon stop` can tell a daemon it may
 * signal from a direct import holding the lock for a while. Returns 0 or the errno of pwrite. */
int ik_lock_mark_daemon(int fd);

/* ik_lock_holder, and *is_daemon (may be NULL) true when the holder marked itself a daemon. */
int ik_lock_holder_role(const char *dir, long *pid, bool *is_daemon);

#ifdef __cplusplus
}
#endif

#endif
