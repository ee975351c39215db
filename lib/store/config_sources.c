/* config.json "sources": the kubo nodes and IPFS Cluster peers the daemon keeps the pin index
 * equal to (docs/sync.md). Each entry is checked here, with the key named on error, so a typo
 * is found at start rather than at the first sync. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/config_internal.h"

static int bad(struct ik_error *err, const char *key, const char *want, json_t *v)
{
    char *got = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    int rc = ik_error_set(err, EINVAL, "config.json: %s: expected %s, got %.60s", key, want,
                          got ? got : "nothing");
    free(got);
    return rc;
}

static int get_str(json_t *o, const char *key, const char *field, char *out, size_t cap,
                   bool required, struct ik_error *err)
{
    json_t *v = json_object_get(o, field);
    if (v == NULL)
        return required ? ik_error_set(err, EINVAL, "config.json: %s: missing", key) : 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap)
        return bad(err, key, "a non-empty string", v);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_int(json_t *o, const char *key, const char *field, int lo, int hi, int *out,
                   struct ik_error *err)
{
    json_t *v = json_object_get(o, field);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char want[64];
        snprintf(want, sizeof want, "an integer from %d to %d", lo, hi);
        return bad(err, key, want, v);
    }
    *out = (int)json_integer_value(v);
    return 0;
}

/* http(s)://host[:port][/path] with no trailing '/', no spaces or control characters */
static int check_api(char *api, const char *key, struct ik_error *err)
{
    size_t n = strlen(api);
    if (strncmp(api, "http://", 7) != 0 && strncmp(api, "https://", 8) != 0)
        return ik_error_set(err, EINVAL,
                            "config.json: %s: expected an http:// or https:// URL,"
                            " got \"%.80s\"",
                            key, api);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)api[i] <= ' ' || api[i] == 0x7f)
            return ik_error_set(err, EINVAL,
                                "config.json: %s: a URL cannot hold spaces or"
                                " control characters",
                                key);
    while (n > 0 && api[n - 1] == '/')
        api[--n] = '\0';
    return 0;
}

void ik_source_init(struct ik_source *s, enum ik_source_kind kind, const char *name,
                    const char *api)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    snprintf(s->name, sizeof s->name, "%s", name ? name : "");
    snprintf(s->api, sizeof s->api, "%s", api ? api : "");
    s->interval_s = 10;
    s->timeout_ms = 10000;
    s->stall_ms = 120000;
}

static int load_source(json_t *v, size_t i, struct ik_source *s, struct ik_config *c,
                       struct ik_error *err)
{
    char key[96], kind[32] = "";
    const char *known[] = {"name",       "kind",  "api",        "auth",
                           "interval_s", "sizes", "timeout_ms", "stall_ms"};
    const char *k;
    json_t *f;
    int rc;
    ik_source_init(s, IK_SOURCE_KUBO, NULL, NULL); /* kind, name and api are read below */
    snprintf(key, sizeof key, "sources[%zu]", i);
    if (!json_is_object(v))
        return bad(err, key, "an object with \"name\", \"kind\" and \"api\"", v);
    json_object_foreach(v, k, f)
    {
        size_t j;
        for (j = 0; j < sizeof known / sizeof *known && strcmp(k, known[j]) != 0; j++)
            ;
        if (j == sizeof known / sizeof *known)
            return ik_error_set(err, EINVAL, "config.json: %s: unknown key \"%.40s\"", key, k);
    }
#define KEY(field) (snprintf(key, sizeof key, "sources[%zu].%s", i, field), key)
    if ((rc = get_str(v, KEY("name"), "name", s->name, sizeof s->name, true, err)) != 0 ||
        (rc = get_str(v, KEY("kind"), "kind", kind, sizeof kind, true, err)) != 0 ||
        (rc = get_str(v, KEY("api"), "api", s->api, sizeof s->api, true, err)) != 0 ||
        (rc = get_str(v, KEY("auth"), "auth", s->auth, sizeof s->auth, false, err)) != 0 ||
        (rc = get_int(v, KEY("interval_s"), "interval_s", 1, 86400, &s->interval_s, err)) != 0 ||
        (rc = get_int(v, KEY("timeout_ms"), "timeout_ms", 100, 600000, &s->timeout_ms, err)) != 0 ||
        (rc = get_int(v, KEY("stall_ms"), "stall_ms", 100, 3600000, &s->stall_ms, err)) != 0)
        return rc;
    if (strcmp(kind, "kubo") == 0)
        s->kind = IK_SOURCE_KUBO;
    else if (strcmp(kind, "ipfs_cluster") == 0)
        s->kind = IK_SOURCE_CLUSTER;
    else
        return ik_error_set(err, EINVAL,
                            "config.json: %s: expected \"kubo\" or \"ipfs_cluster\", got \"%.40s\"",
                            KEY("kind"), kind);
    if ((rc = check_api(s->api, KEY("api"), err)) != 0)
        return rc;
    if ((f = json_object_get(v, "sizes")) != NULL) {
        if (!json_is_boolean(f))
            return bad(err, KEY("sizes"), "true or false", f);
        s->sizes = json_is_true(f);
    }
    for (size_t j = 0; j < c->n_sources; j++)
        if (strcmp(c->sources[j].name, s->name) == 0)
            return ik_error_set(err, EINVAL, "config.json: %s: \"%s\" names two sources",
                                KEY("name"), s->name);
#undef KEY
    return 0;
}

int ik__config_sources(json_t *root, struct ik_config *c, struct ik_error *err)
{
    json_t *arr = json_object_get(root, "sources"), *v;
    size_t i;
    if (arr == NULL)
        return 0;
    c->sources_given = true;
    if (json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return bad(err, "sources", "an array of sources", arr);
    if (json_array_size(arr) == 0)
        return 0;
    if ((c->sources = calloc(json_array_size(arr), sizeof *c->sources)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    json_array_foreach(arr, i, v)
    {
        int rc = load_source(v, i, &c->sources[c->n_sources], c, err);
        if (rc != 0)
            return rc;
        c->n_sources++;
    }
    return 0;
}
