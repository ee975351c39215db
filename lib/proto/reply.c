/* Reply headers: writing error replies, mapping error codes to their wire names, and parsing a
 * reply header on the client side (an error reply becomes IK_EREMOTE with the daemon's
 * message). */
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
    case IK_EPROTO:
        return "protocol";
    default:
        return "internal";
    }
}

const char *ik_reply_error_code(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "error"), "code"));
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
