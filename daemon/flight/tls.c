/* Flight over TLS: the credentials of the grpc+tls locations. The certificate and key are
 * flight.tls_cert / flight.tls_key, or HTTP's (http.tls_cert / http.tls_key) when Flight names
 * none, so one certificate per host serves both and Flight can still have its own while HTTP
 * stays plain on loopback. The files are read as HTTPS reads its own (ik_http_pem_read: no
 * link, a regular file, the key 0600 and ours), checked with GnuTLS (the library HTTPS uses)
 * so a malformed file or a key that does not match gets the same clear reason as HTTP's, and
 * then handed to gRPC's SSL server credentials. Every refusal names the key and the file and
 * leaves the grpc+tls locations off; the others are served. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <grpc/grpc_security.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flight_internal.h"
#include "../http/http.h"

/* GnuTLS's verdict on the pair (the messages HTTPS gives for the same files). */
static int check_pair(const char *cert, const char *key, const char *cert_name,
                      const char *key_name, struct ik_error *err)
{
    gnutls_certificate_credentials_t x = NULL;
    gnutls_datum_t c = {(unsigned char *)cert, (unsigned)strlen(cert)};
    gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};
    int r;
    if (gnutls_certificate_allocate_credentials(&x) < 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    r = gnutls_certificate_set_x509_key_mem(x, &c, &k, GNUTLS_X509_FMT_PEM);
    gnutls_certificate_free_credentials(x);
    if (r < 0)
        return ik_error_set(err, EINVAL,
                            "TLS: the certificate (%s) and key (%s) were refused: GnuTLS: %s",
                            cert_name, key_name, gnutls_strerror(r));
    return 0;
}

int ik__flight_tls_creds(struct ik_flight *f, struct ik_error *err)
{
    const struct ik_config *cfg = &f->d->cfg;
    const bool own = cfg->flight.tls_cert[0] != 0;
    const char *cert_path = own ? cfg->flight.tls_cert : cfg->http.tls_cert;
    const char *key_path = own ? cfg->flight.tls_key : cfg->http.tls_key;
    const char *cert_name = own ? "flight.tls_cert" : "http.tls_cert";
    const char *key_name = own ? "flight.tls_key" : "http.tls_key";
    char *cert = NULL, *key = NULL;
    int rc;
    if (f->tls_creds)
        return 0;
    if (!cert_path[0])
        return ik_error_set(err, EINVAL,
                            "no certificate for grpc+tls: set flight.tls_cert and flight.tls_key "
                            "(or http.tls_cert and http.tls_key)");
    if ((rc = ik_http_pem_read(cert_name, cert_path, false, &cert, err)) != 0 ||
        (rc = ik_http_pem_read(key_name, key_path, true, &key, err)) != 0)
        goto cleanup;
    if (!strstr(cert, "-----BEGIN CERTIFICATE-----")) {
        rc = ik_error_set(err, EINVAL, "%s: %s holds no PEM certificate", cert_name, cert_path);
        goto cleanup;
    }
    if (!strstr(key, "PRIVATE KEY-----")) {
        rc = ik_error_set(err, EINVAL, "%s: %s holds no PEM private key", key_name, key_path);
        goto cleanup;
    }
    if ((rc = check_pair(cert, key, cert_name, key_name, err)) != 0)
        goto cleanup;
    grpc_ssl_pem_key_cert_pair pair = {key, cert}; /* gRPC copies both */
    f->tls_creds = grpc_ssl_server_credentials_create_ex(
        NULL, &pair, 1, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
    if (f->tls_creds == NULL)
        rc = ik_error_set(err, EINVAL, "TLS: gRPC refused the certificate (%s) and key (%s)",
                          cert_name, key_name);
cleanup:
    if (key) /* no copy of the key left in freed memory */
        explicit_bzero(key, strlen(key));
    free(key);
    free(cert);
    return rc;
}

void ik__flight_tls_release(struct ik_flight *f)
{
    if (f->tls_creds)
        grpc_server_credentials_release(f->tls_creds);
    f->tls_creds = NULL;
}
