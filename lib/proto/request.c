/* Protocol requests: parsing a request frame's JSON into struct ik_request with errors that
 * name the key at fault, and writing a request back as JSON for the client. */
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

static const char *const op_names[] = {
    [IK_REQ_PING] = "ping",           [IK_REQ_CAPABILITIES] = "capabilities",
    [IK_REQ_STATUS] = "status",       [IK_REQ_QUERY] = "query",
    [IK_REQ_PIN_ADD] = "pin_add",     [IK_REQ_PIN_RM] = "pin_rm",
    [IK_REQ_PIN_TOUCH] = "pin_touch", [IK_REQ_IMPORT] = "import",
    [IK_REQ_SHUTDOWN] = "shutdown",   [IK_REQ_WATCH] = "watch",
    [IK_REQ_CHANGES] = "changes",     [IK_REQ_SYNC_STATUS] = "sync_status",
    [IK_REQ_SYNC_NOW] = "sync_now",
};
#define N_OPS ((int)(sizeof op_names / sizeof op_names[0]))

static const char *const transport_names[] = {"fd", "stream", "json"};
static const char *const compression_names[] = {"none", "lz4", "zstd"};
static const char *const format_names[] = {
    [IK_IMPORT_AUTO] = "auto", [IK_IMPORT_KUBO_JSON] = "kubo_json", [IK_IMPORT_JSONL] = "jsonl",
    [IK_IMPORT_CSV] = "csv",   [IK_IMPORT_ARROW] = "arrow",
};

/* The keys each op accepts besides "v" and "op"; anything else is refused, so that a misspelt
 * key is an error rather than silently ignored. */
static const char *const keys_query[] = {"table",     "columns",     "filter", "limit", "offset",
                                         "transport", "compression", "have",   NULL};
static const char *const have_keys[] = {"version", "dev", "ino", NULL};
static const char *const keys_pin_add[] = {"pin", NULL};
static const char *const keys_cid[] = {"cid", NULL};
static const char *const keys_import[] = {"format", "skip_invalid", "default_backend", NULL};
static const char *const keys_none[] = {NULL};
static const char *const keys_changes[] = {"table", "since", "transport", "compression", NULL};
static const char *const keys_sync_now[] = {"name", NULL};

static const char *const pin_keys[] = {
    "cid",     "name",     "size_bytes", "pin_type",           "timestamp_us",   "metadata",
    "backend", "verified", "vfs_path",   "replication_factor", "last_access_us", "access_count",
    NULL};

const char *ik_req_op_name(enum ik_req_op op)
{
    return (int)op >= 0 && (int)op < N_OPS ? op_names[op] : "?";
}

const char *ik_transport_name(enum ik_transport t)
{
    return (unsigned)t < 3 ? transport_names[t] : "?";
}

const char *ik_compression_name(enum ik_compression c)
{
    return (unsigned)c < 3 ? compression_names[c] : "?";
}

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

void ik_request_init(struct ik_request *r, enum ik_req_op op)
{
    memset(r, 0, sizeof *r);
    r->v = IK_PROTO_VERSION;
    r->op = op;
    ik_query_init(&r->query, NULL);
    r->transport = IK_TRANSPORT_FD;
    r->compression = IK_COMPRESSION_NONE;
    r->pin.size_bytes = -1;
    r->pin.last_access_us = -1;
    r->pin.replication_factor = 1;
    r->import.format = IK_IMPORT_AUTO;
}

void ik_request_reset(struct ik_request *r)
{
    ik_query_reset(&r->query);
    for (int i = 0; i < IK_REQ_OWNED_MAX; i++)
        free(r->owned_[i]);
    ik_request_init(r, IK_REQ_PING);
}

/* Keeps a copy of a string in the request's storage. */
static const char *own(struct ik_request *r, const char *s, size_t len)
{
    for (int i = 0; i < IK_REQ_OWNED_MAX; i++)
        if (r->owned_[i] == NULL) {
            r->owned_[i] = malloc(len + 1);
            if (r->owned_[i] == NULL)
                return NULL;
            memcpy(r->owned_[i], s, len);
            r->owned_[i][len] = 0;
            return r->owned_[i];
        }
    return NULL;
}

static int check_keys(const json_t *obj, const char *const *allowed, const char *what,
                      const char *name, struct ik_error *err)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)(uintptr_t)obj, key, val)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return ik_error_set(err, EINVAL, "unknown key \"%.64s\" for %s \"%s\"", key, what,
                                name);
    }
    return 0;
}

/* A string member (or NULL when absent/null, if nullable), copied into the request. */
static int get_str(struct ik_request *r, const json_t *obj, const char *key, int required,
                   const char *prefix, const char **out, struct ik_error *err)
{
    const json_t *j = json_object_get(obj, key);
    if (j == NULL || json_is_null(j)) {
        if (required)
            return ik_error_set(err, EINVAL, "missing \"%s%s\"", prefix, key);
        return 0;
    }
    if (!json_is_string(j))
        return ik_error_set(err, EINVAL, "\"%s%s\" must be a string", prefix, key);
    *out = own(r, json_string_value(j), json_string_length(j));
    return *out ? 0 : ik_error_set(err, ENOMEM, "out of memory reading \"%s\"", key);
}

static int get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int nullable,
                   int64_t *out, struct ik_error *err)
{
    const json_t *j = json_object_get(obj, key);
    if (j == NULL)
        return 0;
    if (nullable && json_is_null(j)) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(j) || json_integer_value(j) < min || json_integer_value(j) > max)
        return ik_error_set(err, EINVAL, "\"pin.%s\" must be an integer from %lld to %lld%s", key,
                            (long long)min, (long long)max, nullable ? " or null" : "");
    *out = (int64_t)json_integer_value(j);
    return 0;
}

static int parse_metadata(struct ik_request *r, const json_t *m, struct ik_error *err)
{
    char *text;
    json_t *parsed;
    if (m == NULL || json_is_null(m))
        return 0;
    /* A string holding a JSON object is read as that object, so that the text kept is always
     * compact and writing it back gives the same request. Other strings are kept for
     * ik_pin_check to refuse with its own message. */
    parsed = json_is_string(m) ? json_loadb(json_string_value(m), json_string_length(m),
                                            JSON_REJECT_DUPLICATES, NULL)
                               : json_incref((json_t *)(uintptr_t)m);
    if (!json_is_object(parsed)) {
        json_decref(parsed);
        if (!json_is_string(m))
            return ik_error_set(err, EINVAL, "\"pin.metadata\" must be an object");
        r->pin.metadata = own(r, json_string_value(m), json_string_length(m));
        return r->pin.metadata ? 0 : ENOMEM;
    }
    text = json_dumps(parsed, JSON_COMPACT);
    json_decref(parsed);
    if (text == NULL)
        return ik_error_set(err, ENOMEM, "out of memory reading \"pin.metadata\"");
    r->pin.metadata = own(r, text, strlen(text));
    free(text);
    return r->pin.metadata ? 0 : ik_error_set(err, ENOMEM, "out of memory");
}

static int parse_pin(struct ik_request *r, const json_t *obj, struct ik_error *err)
{
    const json_t *p = json_object_get(obj, "pin"), *v;
    struct ik_pin *pin = &r->pin;
    int64_t rf = pin->replication_factor;
    int rc;
    if (p == NULL)
        return ik_error_set(err, EINVAL, "missing \"pin\"");
    if (!json_is_object(p))
        return ik_error_set(err, EINVAL, "\"pin\" must be an object");
    if ((rc = check_keys(p, pin_keys, "object", "pin", err)) != 0 ||
        (rc = get_str(r, p, "cid", 1, "pin.", &pin->cid, err)) != 0 ||
        (rc = get_str(r, p, "name", 0, "pin.", &pin->name, err)) != 0 ||
        (rc = get_str(r, p, "pin_type", 0, "pin.", &pin->pin_type, err)) != 0 ||
        (rc = get_str(r, p, "backend", 0, "pin.", &pin->backend, err)) != 0 ||
        (rc = get_str(r, p, "vfs_path", 0, "pin.", &pin->vfs_path, err)) != 0 ||
        (rc = get_int(p, "size_bytes", 0, INT64_MAX, 1, &pin->size_bytes, err)) != 0 ||
        (rc = get_int(p, "timestamp_us", 0, INT64_MAX, 0, &pin->timestamp_us, err)) != 0 ||
        (rc = get_int(p, "last_access_us", 0, INT64_MAX, 1, &pin->last_access_us, err)) != 0 ||
        (rc = get_int(p, "access_count", 0, INT64_MAX, 0, &pin->access_count, err)) != 0 ||
        (rc = get_int(p, "replication_factor", 0, INT32_MAX, 0, &rf, err)) != 0 ||
        (rc = parse_metadata(r, json_object_get(p, "metadata"), err)) != 0)
        return rc;
    pin->replication_factor = (int32_t)rf;
    if (pin->cid[0] == 0)
        return ik_error_set(err, EINVAL, "\"pin.cid\" must not be empty");
    v = json_object_get(p, "verified");
    if (v && !json_is_boolean(v))
        return ik_error_set(err, EINVAL, "\"pin.verified\" must be true or false");
    pin->verified = json_is_true(v);
    return 0;
}

static int parse_cid(struct ik_request *r, const json_t *obj, struct ik_error *err)
{
    const json_t *c = json_object_get(obj, "cid");
    if (c == NULL)
        return ik_error_set(err, EINVAL, "missing \"cid\"");
    if (!json_is_string(c) || json_string_length(c) == 0 || json_string_length(c) >= sizeof r->cid)
        return ik_error_set(err, EINVAL, "\"cid\" must be a string of 1 to %zu bytes",
                            sizeof r->cid - 1);
    memcpy(r->cid, json_string_value(c), json_string_length(c) + 1);
    return 0;
}

/* A string member that must be one of `names`; *out keeps its default when absent. */
static int get_enum(const json_t *obj, const char *key, const char *const *names, int n, int *out,
                    struct ik_error *err)
{
    const json_t *j = json_object_get(obj, key);
    int i;
    if (j == NULL)
        return 0;
    i = json_is_string(j) ? name_index(names, n, json_string_value(j)) : -1;
    if (i < 0) {
        char list[128] = "";
        for (int k = 0; k < n; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"",
                     k ? (k + 1 == n ? " or " : ", ") : "", names[k]);
        return ik_error_set(err, EINVAL, "\"%s\" must be %s", key, list);
    }
    *out = i;
    return 0;
}

static int parse_import(struct ik_request *r, const json_t *obj, struct ik_error *err)
{
    const json_t *s = json_object_get(obj, "skip_invalid");
    int f = (int)r->import.format;
    int rc = get_enum(obj, "format", format_names, 5, &f, err);
    if (rc)
        return rc;
    r->import.format = (enum ik_import_format)f;
    if (s && !json_is_boolean(s))
        return ik_error_set(err, EINVAL, "\"skip_invalid\" must be true or false");
    r->import.skip_invalid = json_is_true(s);
    return get_str(r, obj, "default_backend", 0, "", &r->import.default_backend, err);
}

/* "have": {"version":N,"dev":N,"ino":N}, all three non-negative integers; null = absent. */
static int parse_have(struct ik_request *r, const json_t *obj, struct ik_error *err)
{
    const json_t *h = json_object_get(obj, "have");
    uint64_t *dst[3] = {&r->have.version, &r->have.dev, &r->have.ino};
    int rc;
    if (h == NULL || json_is_null(h))
        return 0;
    if (!json_is_object(h))
        return ik_error_set(err, EINVAL, "\"have\" must be an object");
    if ((rc = check_keys(h, have_keys, "object", "have", err)) != 0)
        return rc;
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_object_get(h, have_keys[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return ik_error_set(err, EINVAL, "\"have.%s\" must be a non-negative integer",
                                have_keys[i]);
        *dst[i] = (uint64_t)json_integer_value(v);
    }
    r->have.set = true;
    return 0;
}

static int parse_query(struct ik_request *r, const json_t *obj, struct ik_error *err)
{
    int t = (int)r->transport, c = (int)r->compression;
    int rc = ik__query_from_jansson(obj, &r->query, err);
    if (rc == 0)
        rc = get_enum(obj, "transport", transport_names, 3, &t, err);
    if (rc == 0)
        rc = get_enum(obj, "compression", compression_names, 3, &c, err);
    if (rc == 0)
        rc = parse_have(r, obj, err);
    r->transport = (enum ik_transport)t;
    r->compression = (enum ik_compression)c;
    return rc;
}

/* "changes": a table, "since" (a non-negative integer, required), transport "stream" (the
 * default) or "json", and a compression for the stream. */
static int parse_changes(struct ik_request *r, const json_t *obj, struct ik_error *err)
{
    const json_t *s = json_object_get(obj, "since");
    int rc;
    if (s == NULL)
        return ik_error_set(err, EINVAL, "missing \"since\"");
    if (!json_is_integer(s) || json_integer_value(s) < 0)
        return ik_error_set(err, EINVAL, "\"since\" must be a non-negative integer (a version)");
    r->since = (uint64_t)json_integer_value(s);
    r->transport = IK_TRANSPORT_STREAM;
    if ((rc = parse_query(r, obj, err)) != 0)
        return rc;
    if (r->transport == IK_TRANSPORT_FD)
        return ik_error_set(err, EINVAL,
                            "\"transport\" of changes must be \"stream\" or \"json\" (a change "
                            "batch is built for the request, there is no file to pass)");
    if (r->query.table[0] == '\0')
        return ik_error_set(err, EINVAL, "missing \"table\"");
    return 0;
}

/* sync_now: "name", a source's name (optional: every source). */
static int parse_sync_now(struct ik_request *r, const json_t *obj, struct ik_error *err)
{
    const json_t *n = json_object_get(obj, "name");
    if (n == NULL)
        return 0;
    if (!json_is_string(n) || json_string_length(n) == 0 ||
        json_string_length(n) >= sizeof r->source ||
        strlen(json_string_value(n)) != json_string_length(n))
        return ik_error_set(err, EINVAL,
                            "\"name\" must be a source's name (a string of 1 to %d "
                            "bytes)",
                            (int)sizeof r->source - 1);
    memcpy(r->source, json_string_value(n), json_string_length(n) + 1);
    return 0;
}

static int parse_object(const json_t *obj, struct ik_request *r, struct ik_error *err)
{
    static const char *const *const keys[] = {
        [IK_REQ_PING] = keys_none,         [IK_REQ_CAPABILITIES] = keys_none,
        [IK_REQ_STATUS] = keys_none,       [IK_REQ_QUERY] = keys_query,
        [IK_REQ_PIN_ADD] = keys_pin_add,   [IK_REQ_PIN_RM] = keys_cid,
        [IK_REQ_PIN_TOUCH] = keys_cid,     [IK_REQ_IMPORT] = keys_import,
        [IK_REQ_SHUTDOWN] = keys_none,     [IK_REQ_WATCH] = keys_none,
        [IK_REQ_CHANGES] = keys_changes,   [IK_REQ_SYNC_STATUS] = keys_none,
        [IK_REQ_SYNC_NOW] = keys_sync_now,
    };
    const json_t *v = json_object_get(obj, "v"), *op = json_object_get(obj, "op");
    const char *key;
    json_t *val;
    int i;
    if (v == NULL)
        return ik_error_set(err, EINVAL, "missing \"v\"");
    if (!json_is_integer(v))
        return ik_error_set(err, EINVAL, "\"v\" must be an integer");
    if (json_integer_value(v) != IK_PROTO_VERSION)
        return ik_error_set(err, ENOTSUP, "unsupported version %lld (this daemon speaks %d)",
                            (long long)json_integer_value(v), IK_PROTO_VERSION);
    if (op == NULL)
        return ik_error_set(err, EINVAL, "missing \"op\"");
    if (!json_is_string(op))
        return ik_error_set(err, EINVAL, "\"op\" must be a string");
    i = name_index(op_names, N_OPS, json_string_value(op));
    if (i < 0)
        return ik_error_set(err, EINVAL, "unknown op \"%.64s\"", json_string_value(op));
    r->op = (enum ik_req_op)i;
    json_object_foreach((json_t *)(uintptr_t)obj, key, val)
    {
        int ok = strcmp(key, "v") == 0 || strcmp(key, "op") == 0;
        for (const char *const *a = keys[i]; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return ik_error_set(err, EINVAL, "unknown key \"%.64s\" for op \"%s\"", key,
                                op_names[i]);
    }
    switch (r->op) {
    case IK_REQ_QUERY:
        return parse_query(r, obj, err);
    case IK_REQ_PIN_ADD:
        return parse_pin(r, obj, err);
    case IK_REQ_PIN_RM:
    case IK_REQ_PIN_TOUCH:
        return parse_cid(r, obj, err);
    case IK_REQ_IMPORT:
        return parse_import(r, obj, err);
    case IK_REQ_CHANGES:
        return parse_changes(r, obj, err);
    case IK_REQ_SYNC_NOW:
        return parse_sync_now(r, obj, err);
    default:
        return 0;
    }
}

/* ---- the common query, read without a jansson tree ---------------------------------------- */

struct cursor {
    const char *s;
    size_t len, p;
};

static bool lit(struct cursor *c, const char *text)
{
    size_t n = strlen(text);
    if (c->len - c->p < n || memcmp(c->s + c->p, text, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A string of printable ASCII without escapes (what it decodes to is exactly its bytes). */
static bool plain_str(struct cursor *c, const char **s, size_t *n)
{
    size_t i = c->p;
    if (i >= c->len || c->s[i] != '"')
        return false;
    for (++i; i < c->len && c->s[i] != '"'; i++)
        if ((unsigned char)c->s[i] < 0x20 || (unsigned char)c->s[i] >= 0x7f || c->s[i] == '\\')
            return false;
    if (i >= c->len)
        return false;
    *s = c->s + c->p + 1;
    *n = i - c->p - 1;
    c->p = i + 1;
    return true;
}

/* A non-negative JSON integer of at most 18 digits, no leading zero. */
static bool small_uint(struct cursor *c, uint64_t *v)
{
    size_t start = c->p;
    *v = 0;
    while (c->p < c->len && c->s[c->p] >= '0' && c->s[c->p] <= '9' && c->p - start < 19)
        *v = *v * 10 + (uint64_t)(c->s[c->p++] - '0');
    if (c->p == start || c->p - start > 18 || (c->s[start] == '0' && c->p - start > 1))
        return false;
    return c->p >= c->len || (c->s[c->p] != '.' && c->s[c->p] != 'e' && c->s[c->p] != 'E' &&
                              (c->s[c->p] < '0' || c->s[c->p] > '9'));
}

/* The query our client writes (ik_request_to_json's hand-written form): table, then optional
 * columns, offset, limit and have, in that order, compact, plain names. 0 with `out` filled
 * exactly as the jansson path fills it; EAGAIN for anything else, which that path reads (or
 * refuses with its message). */
static int parse_query_fast(const char *json, size_t len, struct ik_request *out)
{
    struct cursor c = {json, len, 0};
    const char *s;
    size_t n;
    uint64_t v;
    char name[256];
    if (!lit(&c, "{\"v\":1,\"op\":\"query\",\"table\":") || !plain_str(&c, &s, &n) || n == 0 ||
        n >= IK_TABLE_NAME_MAX)
        return EAGAIN;
    out->op = IK_REQ_QUERY;
    memcpy(out->query.table, s, n);
    out->query.table[n] = 0;
    if (lit(&c, ",\"columns\":[")) {
        do {
            if (!plain_str(&c, &s, &n) || n == 0 || n >= sizeof name)
                return EAGAIN;
            memcpy(name, s, n);
            name[n] = 0;
            if (ik_query_add_column(&out->query, name, NULL) != 0)
                return EAGAIN;
        } while (lit(&c, ","));
        if (!lit(&c, "]"))
            return EAGAIN;
    }
    if (lit(&c, ",\"offset\":")) {
        if (!small_uint(&c, &v))
            return EAGAIN;
        out->query.offset = (int64_t)v;
    }
    if (lit(&c, ",\"limit\":")) {
        if (!small_uint(&c, &v))
            return EAGAIN;
        out->query.limit = (int64_t)v;
    }
    if (lit(&c, ",\"have\":{\"version\":")) {
        if (!small_uint(&c, &out->have.version) || !lit(&c, ",\"dev\":") ||
            !small_uint(&c, &out->have.dev) || !lit(&c, ",\"ino\":") ||
            !small_uint(&c, &out->have.ino) || !lit(&c, "}"))
            return EAGAIN;
        out->have.set = true;
    }
    return lit(&c, "}") && c.p == c.len ? 0 : EAGAIN;
}

int ik_request_parse(const char *json, size_t len, struct ik_request *out, struct ik_error *err)
{
    json_error_t je;
    json_t *obj;
    int rc;
    ik_request_init(out, IK_REQ_PING);
    if (len > IK_PROTO_MAX_REQUEST)
        return ik_error_set(err, IK_ELIMIT, "request: %zu bytes exceeds the limit of %d bytes", len,
                            IK_PROTO_MAX_REQUEST);
    if (parse_query_fast(json, len, out) == 0)
        return 0;
    ik_request_reset(out); /* whatever the fast reader took: start again with jansson */
    obj = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (obj == NULL)
        return ik_error_set(err, IK_EFORMAT, "request: invalid JSON at line %d column %d: %s",
                            je.line, je.column, je.text);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return ik_error_set(err, IK_EFORMAT, "request: not a JSON object");
    }
    rc = parse_object(obj, out, err);
    json_decref(obj);
    if (rc)
        return ik_error_prefix(err, rc, "request");
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

static int set_str(json_t *o, const char *key, const char *s)
{
    return s ? json_object_set_new(o, key, json_string(s)) : 0;
}

static int set_int(json_t *o, const char *key, int64_t v, int64_t dflt)
{
    return v != dflt ? json_object_set_new(o, key, json_integer((json_int_t)v)) : 0;
}

static json_t *pin_to_json(const struct ik_pin *p)
{
    json_t *o = json_object(), *m;
    if (o == NULL)
        return NULL;
    if (set_str(o, "cid", p->cid ? p->cid : "")) {
        json_decref(o);
        return NULL;
    }
    if (p->metadata) { /* an object when the text is one, else the text as it is */
        m = json_loads(p->metadata, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(m)) {
            json_decref(m);
            m = json_string(p->metadata);
        }
        /* set first, so that a failure below leaves nothing to free but o */
        if (json_object_set_new(o, "metadata", m) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    if (set_str(o, "name", p->name) ||
        set_int(o, "size_bytes", p->size_bytes < 0 ? -1 : p->size_bytes, -1) ||
        set_str(o, "pin_type", p->pin_type) || set_int(o, "timestamp_us", p->timestamp_us, 0) ||
        set_str(o, "backend", p->backend) ||
        (p->verified && json_object_set_new(o, "verified", json_true())) ||
        set_str(o, "vfs_path", p->vfs_path) ||
        set_int(o, "replication_factor", p->replication_factor, 1) ||
        set_int(o, "last_access_us", p->last_access_us < 0 ? -1 : p->last_access_us, -1) ||
        set_int(o, "access_count", p->access_count, 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* "transport" (unless the op's default) and "compression" (unless none). */
static int put_delivery(const struct ik_request *r, enum ik_transport dflt, json_t *o)
{
    if (r->transport != dflt &&
        json_object_set_new(o, "transport", json_string(ik_transport_name(r->transport))))
        return EINVAL;
    if (r->compression != IK_COMPRESSION_NONE &&
        json_object_set_new(o, "compression", json_string(ik_compression_name(r->compression))))
        return EINVAL;
    return 0;
}

static int request_fields(const struct ik_request *r, json_t *o)
{
    switch (r->op) {
    case IK_REQ_QUERY:
        if (ik__query_to_jansson(&r->query, o) != 0 || put_delivery(r, IK_TRANSPORT_FD, o) != 0)
            return EINVAL;
        if (r->have.set) {
            if (r->have.version > INT64_MAX || r->have.dev > INT64_MAX || r->have.ino > INT64_MAX)
                return EINVAL;
            if (json_object_set_new(
                    o, "have",
                    json_pack("{s:I,s:I,s:I}", "version", (json_int_t)r->have.version, "dev",
                              (json_int_t)r->have.dev, "ino", (json_int_t)r->have.ino)))
                return EINVAL;
        }
        return 0;
    case IK_REQ_PIN_ADD:
        return json_object_set_new(o, "pin", pin_to_json(&r->pin)) ? EINVAL : 0;
    case IK_REQ_PIN_RM:
    case IK_REQ_PIN_TOUCH:
        return json_object_set_new(o, "cid", json_string(r->cid)) ? EINVAL : 0;
    case IK_REQ_IMPORT:
        if ((unsigned)r->import.format > IK_IMPORT_ARROW)
            return EINVAL;
        if (r->import.format != IK_IMPORT_AUTO &&
            json_object_set_new(o, "format", json_string(format_names[r->import.format])))
            return EINVAL;
        if (r->import.skip_invalid && json_object_set_new(o, "skip_invalid", json_true()))
            return EINVAL;
        return set_str(o, "default_backend", r->import.default_backend) ? EINVAL : 0;
    case IK_REQ_CHANGES:
        if (r->since > INT64_MAX || r->transport == IK_TRANSPORT_FD ||
            json_object_set_new(o, "table", json_string(r->query.table)) ||
            json_object_set_new(o, "since", json_integer((json_int_t)r->since)))
            return EINVAL;
        return put_delivery(r, IK_TRANSPORT_STREAM, o);
    case IK_REQ_SYNC_NOW:
        return r->source[0] && json_object_set_new(o, "name", json_string(r->source)) ? EINVAL : 0;
    default:
        return 0;
    }
}

/* Appends "s" (quoted) when s needs no escaping: printable ASCII without '"' and '\\'. */
static bool put_plain(char *buf, size_t cap, size_t *n, const char *s)
{
    size_t len = strlen(s);
    if (*n + len + 2 >= cap)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
            s[i] == '\\')
            return false;
    buf[(*n)++] = '"';
    memcpy(buf + *n, s, len);
    *n += len;
    buf[(*n)++] = '"';
    return true;
}

static bool put_fmt(char *buf, size_t cap, size_t *n, const char *fmt, unsigned long long v)
{
    int k = snprintf(buf + *n, cap - *n, fmt, v);
    if (k < 0 || (size_t)k >= cap - *n)
        return false;
    *n += (size_t)k;
    return true;
}

/* The common query (transport fd, no compression, no filter, plain names) written by hand, in
 * exactly the form the jansson path below writes: clients send one per query. NULL when it
 * does not apply (the caller checked transport, compression and that "have" has a JSON form). */
static char *query_to_json_fast(const struct ik_request *r)
{
    char buf[1024];
    size_t n = 0;
    bool ok = r->query.n_preds == 0;
    static const char head[] = "{\"v\":1,\"op\":\"query\",\"table\":";
    if (ok) {
        memcpy(buf, head, sizeof head - 1);
        n = sizeof head - 1;
        ok = r->v == 1 && put_plain(buf, sizeof buf, &n, r->query.table);
    }
    for (size_t i = 0; ok && i < r->query.n_columns; i++) {
        ok = n + 14 < sizeof buf;
        if (ok) {
            memcpy(buf + n, i ? "," : ",\"columns\":[", i ? 1 : 12);
            n += i ? 1 : 12;
            ok = put_plain(buf, sizeof buf, &n, r->query.columns[i]);
        }
    }
    if (ok && r->query.n_columns)
        buf[n++] = ']'; /* room kept by the "n + 14" check */
    if (ok && r->query.offset != 0)
        ok = r->query.offset > 0 &&
             put_fmt(buf, sizeof buf, &n, ",\"offset\":%llu", (unsigned long long)r->query.offset);
    if (ok && r->query.limit >= 0)
        ok = put_fmt(buf, sizeof buf, &n, ",\"limit\":%llu", (unsigned long long)r->query.limit);
    if (ok && r->have.set)
        ok = put_fmt(buf, sizeof buf, &n, ",\"have\":{\"version\":%llu",
                     (unsigned long long)r->have.version) &&
             put_fmt(buf, sizeof buf, &n, ",\"dev\":%llu", (unsigned long long)r->have.dev) &&
             put_fmt(buf, sizeof buf, &n, ",\"ino\":%llu}", (unsigned long long)r->have.ino);
    if (!ok || n + 2 > sizeof buf)
        return NULL;
    buf[n++] = '}';
    buf[n] = 0;
    return strdup(buf);
}

char *ik_request_to_json(const struct ik_request *r)
{
    json_t *o;
    char *s = NULL;
    if ((int)r->op < 0 || (int)r->op >= N_OPS)
        return NULL;
    if (r->op == IK_REQ_QUERY && r->transport == IK_TRANSPORT_FD &&
        r->compression == IK_COMPRESSION_NONE && r->query.n_preds == 0) {
        if (r->have.set &&
            (r->have.version > INT64_MAX || r->have.dev > INT64_MAX || r->have.ino > INT64_MAX))
            return NULL;
        if ((s = query_to_json_fast(r)) != NULL)
            return s;
    }
    o = json_object();
    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "v", json_integer(r->v)) == 0 &&
        json_object_set_new(o, "op", json_string(op_names[r->op])) == 0 &&
        request_fields(r, o) == 0)
        s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
