/* The data directory and config.json: where it lives, creating it 0700, and loading the settings
 * (Arrow IPC switches and limits, backends to health-check) with every bad value reported by
 * its key. We never write config.json, so keys we do not know are simply left alone. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "config_internal.h"
#include "ipfskit/config.h"
#include "store/config_internal.h"

#define CONFIG_NAME "config.json"

/* ---- data directory ------------------------------------------------------------------- */

int ik_data_dir(char *out, size_t cap, struct ik_error *err)
{
    const char *env = getenv("IPFS_KIT_PATH"), *home;
    int n;
    if (env != NULL && env[0] != 0) {
        n = snprintf(out, cap, "%s", env);
    } else {
        home = getenv("HOME");
        if (home == NULL || home[0] == 0)
            return ik_error_set(err, ENOENT, "neither IPFS_KIT_PATH nor HOME is set");
        n = snprintf(out, cap, "%s/.ipfs_kit", home);
    }
    if (n < 0 || (size_t)n >= cap)
        return ik_error_set(err, ENAMETOOLONG, "data directory path longer than %zu bytes",
                            cap ? cap - 1 : 0);
    return 0;
}

/* mkdir of one path; an existing directory is fine, anything else existing is not. */
static int make_one(const char *path, struct ik_error *err)
{
    struct stat st;
    if (mkdir(path, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return ik_error_set(err, errno, "cannot create %s: %s", path, strerror(errno));
    if (stat(path, &st) != 0)
        return ik_error_set(err, errno, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ik_error_set(err, ENOTDIR, "%s exists and is not a directory", path);
    return 0;
}

int ik_data_dir_ensure(const char *dir, struct ik_error *err)
{
    char path[PATH_MAX];
    size_t len = strlen(dir), i;
    int rc;
    if (len == 0)
        return ik_error_set(err, EINVAL, "empty data directory path");
    if (len >= sizeof path)
        return ik_error_set(err, ENAMETOOLONG, "data directory path longer than %zu bytes",
                            sizeof path - 1);
    memcpy(path, dir, len + 1);
    for (i = 1; i < len; i++) {
        if (path[i] != '/' || path[i - 1] == '/')
            continue;
        path[i] = 0;
        rc = make_one(path, err);
        path[i] = '/';
        if (rc != 0)
            return rc;
    }
    return make_one(path, err);
}

/* "uid 1000 (alice)", or "uid 1000" when the name is unknown. */
static void owner_text(uid_t uid, char *out, size_t cap)
{
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != NULL)
        snprintf(out, cap, "uid %u (%s)", (unsigned)uid, found->pw_name);
    else
        snprintf(out, cap, "uid %u", (unsigned)uid);
}

/* A directory the daemon writes must be its own and closed to everyone else: whoever can
 * write it can plant links, swap files and fill it. */
static int check_owned(const char *path, const struct stat *st, struct ik_error *err)
{
    uid_t me = geteuid();
    char owner[300], fix[PATH_MAX * 2 + 64];
    int n = 0;
    if (st->st_uid == me && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0)
        return 0;
    owner_text(st->st_uid, owner, sizeof owner);
    fix[0] = 0;
    if (st->st_uid != me)
        n = snprintf(fix, sizeof fix, "chown %u '%s'", (unsigned)me, path);
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 && n >= 0 && (size_t)n < sizeof fix)
        snprintf(fix + n, sizeof fix - (size_t)n, "%schmod go-w '%s'", n ? " && " : "", path);
    return ik_error_set(err, EPERM,
                        "%s is owned by %s with mode %04o: refused, it must belong to uid %u "
                        "(this process) and be writable by no one else (whoever can write it "
                        "can plant links to files we would write); fix: %s",
                        path, owner, (unsigned)(st->st_mode & 07777), (unsigned)me, fix);
}

int ik_data_dir_check(const char *dir, int *dirfd_out, struct ik_error *err)
{
    char sub[PATH_MAX + 16];
    struct stat st;
    int fd, rc = 0;
    if (dirfd_out != NULL)
        *dirfd_out = -1;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ik_error_set(err, errno, "cannot open data directory %s: %s", dir, strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = ik_error_set(err, errno, "%s: fstat: %s", dir, strerror(errno));
    else
        rc = check_owned(dir, &st, err);
    snprintf(sub, sizeof sub, "%s/snapshots", dir);
    if (rc == 0 && fstatat(fd, "snapshots", &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            rc = ik_error_set(err, EPERM,
                              "%s is a symbolic link: refused (remove it; the daemon creates "
                              "the directory itself)",
                              sub);
        else if (!S_ISDIR(st.st_mode))
            rc = ik_error_set(err, ENOTDIR, "%s exists and is not a directory", sub);
        else
            rc = check_owned(sub, &st, err);
    }
    if (rc != 0 || dirfd_out == NULL)
        close(fd);
    else
        *dirfd_out = fd;
    return rc;
}

/* ---- config.json ---------------------------------------------------------------------- */

void ik_config_init(struct ik_config *c)
{
    memset(c, 0, sizeof *c);
    c->arrow_ipc_enabled = true;
    c->zero_copy = true;
    c->timeout_s = 30;
    c->max_table_size = IK_CONFIG_DEFAULT_MAX_TABLE_SIZE;
    c->health_interval_s = 10;
    c->max_connections = 1024;
    c->idle_timeout_s = 300;
    c->header_timeout_s = 10;
    c->send_timeout_s = 60;
    c->visible_timeout_s = 60;
    c->max_import_size = IK_CONFIG_DEFAULT_MAX_IMPORT_SIZE;
    c->changes_retain_versions = 100000;
    c->changes_retain_seconds = 86400;
    ik__config_http_init(&c->http);
    ik__config_flight_init(&c->flight);
    ik__config_peers_init(c);
}

void ik_config_reset(struct ik_config *c)
{
    free(c->backends);
    free(c->sources);
    free(c->peers);
    ik_config_init(c);
}

int ik_config_parse_size(const char *s, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t mul;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"kb", 1000},
        {"mb", 1000 * 1000},
        {"gb", 1000 * 1000 * 1000},
        {"tb", (int64_t)1000 * 1000 * 1000 * 1000},
        {"kib", 1024},
        {"mib", 1024 * 1024},
        {"gib", 1024 * 1024 * 1024},
        {"tib", (int64_t)1024 * 1024 * 1024 * 1024},
    };
    int64_t v = 0;
    size_t i;
    if (*s < '0' || *s > '9')
        return EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return EINVAL;
        v = v * 10 + (*s - '0');
    }
    if (*s == ' ')
        s++;
    for (i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(s, units[i].name) != 0)
            continue;
        if (v == 0 || v > INT64_MAX / units[i].mul)
            return EINVAL;
        *out = v * units[i].mul;
        return 0;
    }
    return EINVAL;
}

/* "expected ..., got <the value as JSON>" for `key`. */
static int bad_value(struct ik_error *err, const char *key, const char *expected, json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    int rc = ik_error_set(err, EINVAL, CONFIG_NAME ": %s: expected %s, got %.80s%s", key, expected,
                          text ? text : "?", text && strlen(text) > 80 ? "..." : "");
    free(text);
    return rc;
}

/* An optional member of `section` that must be an object. */
static int get_object(json_t *section, const char *name, json_t **out, struct ik_error *err)
{
    json_t *v = json_object_get(section, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return bad_value(err, name, "an object", v);
    *out = v;
    return 0;
}

static int get_bool(json_t *section, const char *key, const char *name, bool *out,
                    struct ik_error *err)
{
    json_t *v = section ? json_object_get(section, name) : NULL;
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return bad_value(err, key, "true or false", v);
    *out = json_is_true(v);
    return 0;
}

static int get_positive_int(json_t *section, const char *key, const char *name, int *out,
                            struct ik_error *err)
{
    json_t *v = section ? json_object_get(section, name) : NULL;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > INT_MAX)
        return bad_value(err, key, "a positive integer", v);
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_size(json_t *section, const char *key, const char *name, int64_t *out,
                    struct ik_error *err)
{
    json_t *v = section ? json_object_get(section, name) : NULL;
    if (v == NULL)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && ik_config_parse_size(json_string_value(v), out) == 0)
        return 0;
    return bad_value(err, key, "a positive size such as \"100MB\", \"1GiB\" or 1048576", v);
}

/* "host:port" (IPv6 as "[::1]:port") into b->host and b->port; port optional when
 * default_port > 0. Returns 0 or EINVAL with the reason in `why`. */
static int split_host_port(const char *s, size_t len, int default_port, struct ik_backend_conf *b,
                           const char **why)
{
    const char *host = s, *colon = NULL;
    size_t hlen;
    long port = default_port;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            *why = "unclosed '[' in host";
            return EINVAL;
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < s + len) {
            if (close[1] != ':') {
                *why = "expected ':' after ']'";
                return EINVAL;
            }
            colon = close + 1;
        }
    } else {
        const char *p;
        for (p = s + len; p > s; p--)
            if (p[-1] == ':') {
                colon = p - 1;
                break;
            }
        hlen = colon ? (size_t)(colon - s) : len;
    }
    if (hlen == 0 || hlen >= sizeof b->host) {
        *why = hlen == 0 ? "empty host" : "host longer than 255 bytes";
        return EINVAL;
    }
    if (colon != NULL) {
        const char *p = colon + 1, *end = s + len;
        if (p == end || end - p > 5) {
            *why = "bad port";
            return EINVAL;
        }
        for (port = 0; p < end; p++) {
            if (*p < '0' || *p > '9') {
                *why = "bad port";
                return EINVAL;
            }
            port = port * 10 + (*p - '0');
        }
    }
    if (port < 1 || port > 65535) {
        *why = colon ? "port out of range 1-65535" : "missing port";
        return EINVAL;
    }
    memcpy(b->host, host, hlen);
    b->host[hlen] = 0;
    b->port = (int)port;
    return 0;
}

static int parse_url(const char *url, struct ik_backend_conf *b, const char **why)
{
    static const char scheme[] = "http://";
    const char *authority = url + sizeof scheme - 1, *slash;
    size_t alen;
    if (strncmp(url, scheme, sizeof scheme - 1) != 0) {
        *why = "only http:// URLs are supported";
        return EINVAL;
    }
    slash = strchr(authority, '/');
    alen = slash ? (size_t)(slash - authority) : strlen(authority);
    if (split_host_port(authority, alen, 80, b, why) != 0)
        return EINVAL;
    if (slash == NULL)
        slash = "/";
    if (strlen(slash) >= sizeof b->path) {
        *why = "path longer than 255 bytes";
        return EINVAL;
    }
    strcpy(b->path, slash);
    strcpy(b->kind, "http");
    return 0;
}

static int load_backend(const char *name, json_t *v, struct ik_backend_conf *b,
                        struct ik_error *err)
{
    char key[96];
    json_t *url, *tcp;
    const char *why = NULL;
    snprintf(key, sizeof key, "backends.%.64s", name);
    memset(b, 0, sizeof *b);
    if (strlen(name) >= sizeof b->name || name[0] == 0)
        return ik_error_set(err, EINVAL, CONFIG_NAME ": %s: name must be 1 to 63 bytes", key);
    strcpy(b->name, name);
    b->timeout_ms = 2000;
    if (!json_is_object(v))
        return bad_value(err, key, "an object with \"url\" or \"tcp\"", v);
    url = json_object_get(v, "url");
    tcp = json_object_get(v, "tcp");
    if ((url == NULL) == (tcp == NULL))
        return ik_error_set(err, EINVAL,
                            CONFIG_NAME ": %s: expected exactly one of \"url\" or \"tcp\"", key);
    if (url != NULL) {
        snprintf(key, sizeof key, "backends.%.64s.url", name);
        if (!json_is_string(url))
            return bad_value(err, key, "an http:// URL", url);
        if (parse_url(json_string_value(url), b, &why) != 0)
            return ik_error_set(err, EINVAL, CONFIG_NAME ": %s: %s in \"%.80s\"", key, why,
                                json_string_value(url));
    } else {
        snprintf(key, sizeof key, "backends.%.64s.tcp", name);
        if (!json_is_string(tcp))
            return bad_value(err, key, "\"host:port\"", tcp);
        if (split_host_port(json_string_value(tcp), strlen(json_string_value(tcp)), 0, b, &why) !=
            0)
            return ik_error_set(err, EINVAL, CONFIG_NAME ": %s: %s in \"%.80s\"", key, why,
                                json_string_value(tcp));
        strcpy(b->kind, "tcp");
    }
    snprintf(key, sizeof key, "backends.%.64s.timeout_ms", name);
    return get_positive_int(v, key, "timeout_ms", &b->timeout_ms, err);
}

static int load_backends(json_t *root, struct ik_config *c, struct ik_error *err)
{
    json_t *backends, *v;
    const char *name;
    int rc = get_object(root, "backends", &backends, err);
    if (rc != 0 || backends == NULL || json_object_size(backends) == 0)
        return rc;
    c->backends = calloc(json_object_size(backends), sizeof *c->backends);
    if (c->backends == NULL)
        return ik_error_set(err, ENOMEM, "out of memory for %zu backends",
                            json_object_size(backends));
    json_object_foreach(backends, name, v)
    {
        rc = load_backend(name, v, &c->backends[c->n_backends], err);
        if (rc != 0)
            return rc;
        c->n_backends++;
    }
    return 0;
}

/* The "daemon" section: the daemon's limits and timeouts. */
static int load_daemon(json_t *root, struct ik_config *c, struct ik_error *err)
{
    json_t *dm;
    int rc;
    if ((rc = get_object(root, "daemon", &dm, err)) != 0 ||
        (rc = get_positive_int(dm, "daemon.max_connections", "max_connections", &c->max_connections,
                               err)) != 0 ||
        (rc = get_positive_int(dm, "daemon.idle_timeout", "idle_timeout", &c->idle_timeout_s,
                               err)) != 0 ||
        (rc = get_positive_int(dm, "daemon.header_timeout", "header_timeout", &c->header_timeout_s,
                               err)) != 0 ||
        (rc = get_positive_int(dm, "daemon.send_timeout", "send_timeout", &c->send_timeout_s,
                               err)) != 0 ||
        (rc = get_positive_int(dm, "daemon.visible_timeout", "visible_timeout",
                               &c->visible_timeout_s, err)) != 0)
        return rc;
    return get_size(dm, "daemon.max_import_size", "max_import_size", &c->max_import_size, err);
}

static int load_root(json_t *root, const char *dir, struct ik_config *c, struct ik_error *err)
{
    json_t *caps, *arrow, *changes;
    bool caps_arrow = true, enabled = true;
    int rc;
    if (!json_is_object(root))
        return bad_value(err, "(top level)", "an object", root);
    if ((rc = get_object(root, "capabilities", &caps, err)) != 0 ||
        (rc = get_object(root, "arrow_ipc", &arrow, err)) != 0 ||
        (rc = get_bool(caps, "capabilities.arrow_ipc", "arrow_ipc", &caps_arrow, err)) != 0 ||
        (rc = get_bool(caps, "capabilities.zero_copy", "zero_copy", &c->zero_copy, err)) != 0 ||
        (rc = get_bool(arrow, "arrow_ipc.enabled", "enabled", &enabled, err)) != 0 ||
        (rc = get_positive_int(arrow, "arrow_ipc.timeout", "timeout", &c->timeout_s, err)) != 0 ||
        (rc = get_size(arrow, "arrow_ipc.max_table_size", "max_table_size", &c->max_table_size,
                       err)) != 0 ||
        (rc = get_positive_int(root, "health_interval", "health_interval", &c->health_interval_s,
                               err)) != 0 ||
        (rc = get_object(root, "changes", &changes, err)) != 0 ||
        (rc = get_positive_int(changes, "changes.retain_versions", "retain_versions",
                               &c->changes_retain_versions, err)) != 0 ||
        (rc = get_positive_int(changes, "changes.retain_seconds", "retain_seconds",
                               &c->changes_retain_seconds, err)) != 0)
        return rc;
    c->arrow_ipc_enabled = caps_arrow && enabled;
    if ((rc = load_daemon(root, c, err)) != 0 ||
        (rc = ik__config_http_load(root, &c->http, err)) != 0 ||
        (rc = ik__config_flight_load(root, &c->flight, err)) != 0)
        return rc;
    if ((rc = load_backends(root, c, err)) != 0)
        return rc;
    if ((rc = ik__config_peers(root, dir, c, err)) != 0)
        return rc;
    return ik__config_sources(root, c, err);
}

int ik_config_load(const char *dir, struct ik_config *out, struct ik_error *err)
{
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *root;
    FILE *f;
    int rc, fd;
    ik_config_init(out);
    if (snprintf(path, sizeof path, "%s/" CONFIG_NAME, dir) >= (int)sizeof path)
        return ik_error_set(err, ENAMETOOLONG, "config path longer than %zu bytes",
                            sizeof path - 1);
    fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, err);
    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    if ((f = fdopen(fd, "rb")) == NULL) {
        close(fd);
        return ik_error_set(err, ENOMEM, "%s: out of memory", path);
    }
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (root == NULL)
        return ik_error_set(err, IK_EFORMAT, CONFIG_NAME ": line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
    rc = load_root(root, dir, out, err);
    json_decref(root);
    if (rc != 0)
        ik_config_reset(out);
    return rc;
}
