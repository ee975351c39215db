/* HTTPS: when config.json sets http.tls_cert and http.tls_key, the server speaks TLS
 * (libmicrohttpd's MHD_USE_TLS, GnuTLS underneath). The PEM files are read as every file of the
 * data directory is (arrow/nofollow.c): never through a symbolic link at the last component,
 * only regular files, bounded in size; the key must be the daemon's own and unreadable by group
 * and others, and neither file may be writable by them. Every refusal names the key and the
 * file, and leaves HTTP off with that reason (the unix socket serves on). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "http_internal.h"

#define PEM_MAX (1 << 20)

/* The whole file at `path` (NUL-terminated, malloc'd) after the checks above (http.h). */
int ik_http_pem_read(const char *key, const char *path, bool secret, char **out,
                     struct ik_error *err)
{
    struct ik_error e = {{0}};
    struct stat st;
    char *buf = NULL;
    int fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, &e), rc = 0;
    if (fd < 0)
        return ik_error_set(err, errno ? errno : EIO, "%s: %s", key, e.message);
    if (fstat(fd, &st) != 0) {
        rc = ik_error_set(err, errno, "%s: %s: %s", key, path, strerror(errno));
        goto cleanup;
    }
    if ((st.st_mode & 022) != 0) {
        rc = ik_error_set(err, EPERM, "%s: %s is writable by group or others: refused", key, path);
        goto cleanup;
    }
    if (secret && (st.st_uid != getuid() || (st.st_mode & 077) != 0)) {
        rc = ik_error_set(err, EPERM,
                          "%s: %s must be the daemon user's own file with no group or other "
                          "access (chmod 600)",
                          key, path);
        goto cleanup;
    }
    if (st.st_size <= 0 || st.st_size > PEM_MAX) {
        rc = ik_error_set(err, EINVAL, "%s: %s is %s", key, path,
                          st.st_size <= 0 ? "empty" : "larger than 1 MiB: not a PEM file");
        goto cleanup;
    }
    if ((rc = ik__read_all(fd, (size_t)st.st_size, &buf)) != 0) {
        rc = rc == ENOMEM ? ik_error_set(err, ENOMEM, "out of memory")
                          : ik_error_set(err, rc == ENODATA ? EIO : rc, "%s: cannot read %s: %s",
                                         key, path, rc == ENODATA ? "file shrank" : strerror(rc));
        goto cleanup;
    }
    if (strlen(buf) != (size_t)st.st_size) {
        rc = ik_error_set(err, EINVAL, "%s: %s holds NUL bytes: not a PEM file", key, path);
        goto cleanup;
    }
cleanup:
    close(fd);
    if (rc != 0) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return rc;
}

int ik__http_tls_load(struct ik_http *h, struct ik_error *err)
{
    const struct ik_http_conf *c = &h->d->cfg.http;
    int rc;
    if (!c->tls_cert[0])
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return ik_error_set(err, ENOTSUP,
                            "http.tls_cert is set but this libmicrohttpd was built without TLS "
                            "(MHD_FEATURE_TLS): refusing to serve plain HTTP instead");
    if ((rc = ik_http_pem_read("http.tls_cert", c->tls_cert, false, &h->tls_cert, err)) != 0 ||
        (rc = ik_http_pem_read("http.tls_key", c->tls_key, true, &h->tls_key, err)) != 0)
        return rc;
    if (!strstr(h->tls_cert, "-----BEGIN CERTIFICATE-----"))
        return ik_error_set(err, EINVAL, "http.tls_cert: %s holds no PEM certificate", c->tls_cert);
    if (!strstr(h->tls_key, "PRIVATE KEY-----"))
        return ik_error_set(err, EINVAL, "http.tls_key: %s holds no PEM private key", c->tls_key);
    return 0;
}

void ik__http_tls_free(struct ik_http *h)
{
    if (h->tls_key) /* no copy of the key left in freed memory */
        explicit_bzero(h->tls_key, strlen(h->tls_key));
    free(h->tls_key);
    free(h->tls_cert);
    h->tls_key = h->tls_cert = NULL;
}

/* libmicrohttpd's messages: kept while the server starts (GnuTLS's reason for refusing a
 * certificate or key arrives this way), dropped afterwards (a client's failed handshake is
 * that client's business, and the log must not be flooded by one). */
void ik__http_log(void *cls, const char *fmt, va_list ap)
{
    struct ik_http *h = cls;
    char msg[sizeof h->mhd_msg];
    if (!atomic_load(&h->starting))
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = 0;
    /* the first message, unless a later one is the first to name TLS (GnuTLS's reason) */
    if (!h->mhd_msg[0] || (strstr(msg, "TLS") && !strstr(h->mhd_msg, "TLS")))
        memcpy(h->mhd_msg, msg, sizeof msg);
}
