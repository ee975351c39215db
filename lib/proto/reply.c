/* Reply headers: writing error replies, mapping error codes to their wire names, and parsing a
 * reply header on the client side (an error reply becomes IK_EREMOTE with the daemon's
 * message). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned long cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

char *ik_reply_error(const char *code, const char *message)
{
    size_t n = strlen(message), i = 0;
    char *clean = malloc(n + 1), *s = NULL;
    json_t *o;
    if (clean == NULL)
        return NULL;
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)message + i, n - i);
        if (k == 0) {
            clean[i++] = '?';
            continue;
        }
        memcpy(clean + i, message + i, k);
        i += k;
    }
    clean[n] = 0;
    o = json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", code, "message", clean);
    if (o)
        s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(clean);
    return s;
}

const char *ik_reply_code(int rc)
{
    switch (rc) {
    case IK_EFORMAT:
    case EINVAL:
        return "bad_request";
    case ENOTSUP:
        return "unsupported";
    case IK_ELIMIT:
        return "too_large";
    case ENOENT:
        return "not_found";
    case EACCES:
    case EPERM:
        return "forbidden";
    case IK_ELOCKED:
    case EBUSY:
        return "busy";
    case ETIMEDOUT:
        return "timeout";
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return "disk_full";
    case EIO:
        return "io_error";
    case IK_EPROTO:
        return "protocol";
    case IK_EGONE:
        return "gone";
    default:
        return "internal";
    }
}

const char *ik_reply_error_code(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "error"), "code"));
}

int ik_reply_errno(const char *code)
{
    static const struct {
        const char *code;
        int rc;
    } map[] = {{"bad_request", EINVAL}, {"unsupported", ENOTSUP}, {"too_large", IK_ELIMIT},
               {"not_found", ENOENT},   {"forbidden", EACCES},    {"protocol", IK_EPROTO},
               {"disk_full", ENOSPC},   {"io_error", EIO}};
    for (size_t i = 0; code && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].rc;
    return IK_EREMOTE;
}

int ik_reply_parse(const char *json, size_t len, json_t **obj_out, struct ik_error *err)
{
    json_error_t je;
    json_t *obj, *ok, *e, *code, *msg;
    *obj_out = NULL;
    obj = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (obj == NULL)
        return ik_error_set(err, IK_EPROTO, "reply header: invalid JSON at line %d column %d: %s",
                            je.line, je.column, je.text);
    ok = json_object_get(obj, "ok");
    if (!json_is_object(obj) || !json_is_boolean(ok)) {
        json_decref(obj);
        return ik_error_set(err, IK_EPROTO, "reply header: not an object with a boolean \"ok\"");
    }
    if (json_is_true(ok)) {
        *obj_out = obj;
        return 0;
    }
    e = json_object_get(obj, "error");
    code = json_object_get(e, "code");
    msg = json_object_get(e, "message");
    if (!json_is_string(code) || !json_is_string(msg)) {
        json_decref(obj);
        return ik_error_set(err, IK_EPROTO,
                            "reply header: error reply without a string code and message");
    }
    *obj_out = obj;
    return ik_error_set(err, IK_EREMOTE, "%s", json_string_value(msg));
}

/* ---- the client's query reply header ---------------------------------------------------- */

/* A plain string at *p (no escapes, no control bytes): its bounds; false otherwise. */
static bool scan_str(const char *json, size_t len, size_t *p, const char **s, size_t *n)
{
    size_t i = *p;
    if (i >= len || json[i] != '"')
        return false;
    for (++i; i < len && json[i] != '"'; i++)
        if (json[i] == '\\' || (unsigned char)json[i] < 0x20 || (unsigned char)json[i] >= 0x80)
            return false; /* escapes and non-ASCII (UTF-8 to check): the general parser */
    if (i >= len)
        return false;
    *s = json + *p + 1;
    *n = i - *p - 1;
    *p = i + 1;
    return true;
}

static bool key_is(const char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* Copies a string value into a field, or fails when it does not fit. */
static bool put_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = 0;
    return true;
}

int ik_reply_query_fast(const char *json, size_t len, struct ik_reply_query *out)
{
    size_t p = 1;
    unsigned seen = 0;
    memset(out, 0, sizeof *out);
    if (len < 11 || json[0] != '{' || memcmp(json + 1, "\"ok\":true", 9) != 0)
        return EAGAIN;
    p = 10;
    seen = 1;
    while (p < len && json[p] == ',') {
        const char *k, *v = NULL;
        size_t kn, vn = 0;
        int64_t num = 0;
        bool is_num = false, is_true = false;
        unsigned bit = 0;
        p++;
        if (!scan_str(json, len, &p, &k, &kn) || p >= len || json[p++] != ':' || p >= len)
            return EAGAIN;
        if (json[p] == '"') {
            if (!scan_str(json, len, &p, &v, &vn))
                return EAGAIN;
        } else if (json[p] == '-' || (json[p] >= '0' && json[p] <= '9')) {
            bool neg = json[p] == '-';
            size_t digits = 0;
            uint64_t u = 0;
            p += neg;
            for (; p < len && json[p] >= '0' && json[p] <= '9'; p++, digits++) {
                if (u > (UINT64_MAX - 9) / 10)
                    return EAGAIN;
                u = u * 10 + (uint64_t)(json[p] - '0');
            }
            if (digits == 0 || u > INT64_MAX ||
                (p < len && (json[p] == '.' || json[p] == 'e' || json[p] == 'E')))
                return EAGAIN;
            num = neg ? -(int64_t)u : (int64_t)u;
            is_num = true;
        } else if (len - p >= 4 && memcmp(json + p, "true", 4) == 0) {
            p += 4;
            is_true = true;
        } else if (len - p >= 5 && memcmp(json + p, "false", 5) == 0) {
            p += 5;
        } else if (len - p >= 4 && memcmp(json + p, "null", 4) == 0) {
            p += 4;
        } else {
            return EAGAIN; /* an object, an array: the general parser */
        }
        if (key_is(k, kn, "ok"))
            return EAGAIN; /* repeated */
        else if (key_is(k, kn, "method"))
            bit = 2;
        else if (key_is(k, kn, "compression"))
            bit = 4;
        else if (key_is(k, kn, "version"))
            bit = 8;
        else if (key_is(k, kn, "table_rows"))
            bit = 16;
        else if (key_is(k, kn, "matched"))
            bit = 32;
        else if (key_is(k, kn, "held"))
            bit = 64;
        if (bit & seen)
            return EAGAIN; /* a repeated key: jansson refuses it */
        seen |= bit;
        if ((bit == 2 && v && !put_field(out->method, sizeof out->method, v, vn)) ||
            (bit == 4 && v && !put_field(out->compression, sizeof out->compression, v, vn)))
            return EAGAIN;
        if (bit == 8 && is_num && num >= 0)
            out->version = (uint64_t)num;
        else if (bit == 16 && is_num)
            out->table_rows = num;
        else if (bit == 32 && is_num)
            out->matched = num;
        else if (bit == 64)
            out->held = is_true;
    }
    return p + 1 == len && json[p] == '}' ? 0 : EAGAIN;
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    const char *s = json_string_value(v);
    if (s && strlen(s) < cap)
        memcpy(dst, s, strlen(s) + 1);
}

static int64_t int_of(const json_t *v)
{
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

void ik_reply_query_from(const json_t *obj, struct ik_reply_query *out)
{
    memset(out, 0, sizeof *out);
    copy_str(out->method, sizeof out->method, json_object_get(obj, "method"));
    copy_str(out->compression, sizeof out->compression, json_object_get(obj, "compression"));
    out->version = (uint64_t)int_of(json_object_get(obj, "version"));
    out->table_rows = int_of(json_object_get(obj, "table_rows"));
    out->matched = int_of(json_object_get(obj, "matched"));
    out->held = json_is_true(json_object_get(obj, "held"));
}
