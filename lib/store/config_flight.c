/* The "flight" section of config.json: where the daemon's Arrow Flight server listens
 * ("listen": an array of grpc+unix://, grpc+tcp:// and grpc+tls:// locations, null to turn it
 * off), the certificate and key of its grpc+tls locations, and its limits. Locations are
 * checked for their form here; daemon/flight parses them fully and reads the PEM files. */
#include <string.h>

#include "config_internal.h"

#define SECTION "config.json: flight."

void ik__config_flight_init(struct ik_flight_conf *f)
{
    memset(f, 0, sizeof *f);
    f->enabled = true;
    f->max_message_bytes = 64 << 20;
    f->batch_rows = 65536;
    f->max_calls = 256;
}

static int load_listen(json_t *v, struct ik_flight_conf *f, struct ik_error *err)
{
    static const char *const schemes[] = {"grpc+unix:///", "grpc+tcp://", "grpc://", "grpc+tls://"};
    json_t *o;
    size_t i;
    if (json_is_null(v)) {
        f->enabled = false;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > IK_FLIGHT_MAX_LISTEN)
        return ik_error_set(err, EINVAL,
                            SECTION "listen: expected an array of 1 to %d locations "
                                    "(\"grpc+unix:///path\", \"grpc+tcp://host:port\", "
                                    "\"grpc+tls://host:port\") or null",
                            IK_FLIGHT_MAX_LISTEN);
    json_array_foreach(v, i, o)
    {
        const char *s = json_string_value(o);
        bool known = false;
        for (size_t k = 0; s && k < sizeof schemes / sizeof *schemes; k++)
            known = known || strncmp(s, schemes[k], strlen(schemes[k])) == 0;
        if (!s || !known || strlen(s) >= sizeof f->listen[0])
            return ik_error_set(err, EINVAL,
                                SECTION "listen[%zu]: expected \"grpc+unix:///absolute/path\", "
                                        "\"grpc+tcp://host:port\" or \"grpc+tls://host:port\"",
                                i);
        strcpy(f->listen[f->n_listen++], s);
    }
    f->listen_given = true;
    return 0;
}

int ik__config_int_in(json_t *o, const char *section, const char *name, int lo, int hi, int *out,
                      struct ik_error *err)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return ik_error_set(err, EINVAL, "config.json: %s.%s: expected an integer from %d to %d",
                            section, name, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_int(json_t *o, const char *name, int lo, int hi, int *out, struct ik_error *err)
{
    return ik__config_int_in(o, "flight", name, lo, hi, out, err);
}

int ik__config_pem_path(json_t *o, const char *section, const char *name, char *out, size_t cap,
                        struct ik_error *err)
{
    json_t *v = json_object_get(o, name);
    const char *s = json_string_value(v);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!s || !s[0] || strlen(s) >= cap)
        return ik_error_set(err, EINVAL,
                            "config.json: %s.%s: expected the path of a PEM file (or null)",
                            section, name);
    strcpy(out, s);
    return 0;
}

int ik__config_flight_load(json_t *root, struct ik_flight_conf *f, struct ik_error *err)
{
    json_t *fl = json_object_get(root, "flight"), *v;
    int rc;
    if (fl == NULL)
        return 0;
    if (json_is_null(fl)) {
        f->enabled = false;
        return 0;
    }
    if (!json_is_object(fl))
        return ik_error_set(err, EINVAL, "config.json: flight: expected an object or null");
    if ((v = json_object_get(fl, "listen")) != NULL && (rc = load_listen(v, f, err)) != 0)
        return rc;
    if ((rc = get_int(fl, "max_message_bytes", 1024, 1 << 30, &f->max_message_bytes, err)) != 0 ||
        (rc = get_int(fl, "batch_rows", 0, 1 << 30, &f->batch_rows, err)) != 0 ||
        (rc = get_int(fl, "max_calls", 1, 4096, &f->max_calls, err)) != 0)
        return rc;
    if ((rc = ik__config_pem_path(fl, "flight", "tls_cert", f->tls_cert, sizeof f->tls_cert,
                                  err)) != 0 ||
        (rc = ik__config_pem_path(fl, "flight", "tls_key", f->tls_key, sizeof f->tls_key, err)) !=
            0)
        return rc;
    if (!f->tls_cert[0] != !f->tls_key[0])
        return ik_error_set(
            err, EINVAL, SECTION "%s: set together with flight.%s (a certificate and its key)",
            f->tls_cert[0] ? "tls_cert" : "tls_key", f->tls_cert[0] ? "tls_key" : "tls_cert");
    return 0;
}
