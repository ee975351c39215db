/* One pin's values: defaults (ik_pin_init), validation shared by ik_pin_check and every import
 * parser (CID, pin type, metadata JSON object, vfs path, numbers), and the small value parsers
 * the text formats share (integers, booleans, RFC 3339 times). */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "arrow/internal.h"
#include "ipfskit/cid.h"
#include "store/store_internal.h"

const char *const ik__col_names[IK__NCOLS] = {
    "cid",       "name",        "size_bytes", "pin_type",
    "timestamp", "metadata",    "backend",    "replication_factor",
    "verified",  "last_access", "vfs_path",   "access_count",
};

int ik__col_find(const char *name, size_t len)
{
    int c;
    for (c = 0; c < IK__NCOLS; c++)
        if (strlen(ik__col_names[c]) == len && memcmp(ik__col_names[c], name, len) == 0)
            return c;
    return -1;
}

void ik_pin_init(struct ik_pin *p)
{
    memset(p, 0, sizeof *p);
    p->size_bytes = -1;
    p->pin_type = "recursive";
    p->backend = "ipfs";
    p->replication_factor = 1;
    p->last_access_us = -1;
}

int64_t ik__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Quotes at most 64 bytes of a value for a message. */
#define SHOWN(sp) (int)((sp).n > 64 ? 64 : (sp).n), (sp).p

static int check_vfs_path(struct ik__span s, struct ik_error *err)
{
    size_t i, seg = 1;
    if (s.n == 0 || s.p[0] != '/')
        return ik_error_set(err, EINVAL, "vfs_path '%.*s' is not absolute", SHOWN(s));
    if (s.n > 1 && s.p[s.n - 1] == '/')
        return ik_error_set(err, EINVAL, "vfs_path '%.*s' ends with '/'", SHOWN(s));
    for (i = 1; i <= s.n; i++) {
        if (i < s.n && s.p[i] == 0)
            return ik_error_set(err, EINVAL, "vfs_path contains a NUL byte");
        if (i < s.n && s.p[i] != '/')
            continue;
        /* segment s.p[seg, i) */
        if (i == seg && s.n > 1)
            return ik_error_set(err, EINVAL, "vfs_path '%.*s' contains '//'", SHOWN(s));
        if ((i - seg == 1 && s.p[seg] == '.') ||
            (i - seg == 2 && s.p[seg] == '.' && s.p[seg + 1] == '.'))
            return ik_error_set(err, EINVAL, "vfs_path '%.*s' is not normalised ('.' or '..')",
                                SHOWN(s));
        seg = i + 1;
    }
    return 0;
}

/* A scanner of JSON text that says "certainly valid" only for what jansson accepts (json_loadb,
 * flags 0); anything it is not sure of — non-ASCII, \u escapes, reals, integers over 18
 * digits, nesting past 32 — it leaves to jansson. */
struct jscan {
    const char *p, *e;
};

static void jws(struct jscan *s)
{
    while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool jlit(struct jscan *s, const char *lit, size_t n)
{
    if ((size_t)(s->e - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool jstring(struct jscan *s)
{
    for (s->p++; s->p < s->e;) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"')
            return true;
        if (c < 0x20 || c >= 0x80)
            return false;
        if (c == '\\') {
            if (s->p == s->e)
                return false;
            c = (unsigned char)*s->p++;
            if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' && c != 'r' &&
                c != 't')
                return false;
        }
    }
    return false;
}

static bool jnumber(struct jscan *s)
{
    const char *q = s->p;
    size_t digits = 0;
    if (q < s->e && *q == '-')
        q++;
    if (q < s->e && *q == '0') {
        q++;
        digits = 1;
    } else {
        for (; q < s->e && *q >= '0' && *q <= '9'; q++)
            digits++;
    }
    if (digits == 0 || digits > 18 || (q < s->e && (*q == '.' || *q == 'e' || *q == 'E')))
        return false;
    s->p = q;
    return true;
}

static bool jvalue(struct jscan *s, int depth);

/* An object or array at s->p ('{' or '['), its members separated by ',' */
static bool jcontainer(struct jscan *s, int depth)
{
    char close = *s->p == '{' ? '}' : ']';
    if (depth > 32)
        return false;
    s->p++;
    jws(s);
    if (s->p < s->e && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (s->p == s->e || *s->p != '"' || !jstring(s))
                return false;
            jws(s);
            if (s->p == s->e || *s->p++ != ':')
                return false;
            jws(s);
        }
        if (!jvalue(s, depth))
            return false;
        jws(s);
        if (s->p == s->e)
            return false;
        if (*s->p == close) {
            s->p++;
            return true;
        }
        if (*s->p++ != ',')
            return false;
        jws(s);
    }
}

static bool jvalue(struct jscan *s, int depth)
{
    if (s->p == s->e)
        return false;
    switch (*s->p) {
    case '{':
    case '[':
        return jcontainer(s, depth + 1);
    case '"':
        return jstring(s);
    case 't':
        return jlit(s, "true", 4);
    case 'f':
        return jlit(s, "false", 5);
    case 'n':
        return jlit(s, "null", 4);
    default:
        return jnumber(s);
    }
}

bool ik__json_object_plain(const char *p, size_t n)
{
    struct jscan s = {p, p + n};
    jws(&s);
    if (s.p == s.e || *s.p != '{' || !jcontainer(&s, 1))
        return false;
    jws(&s);
    return s.p == s.e;
}

/* Most metadata is plain JSON the scanner above vouches for without building a tree (a tenth
 * of an import's CPU with jansson); the rest, and every error message, is jansson's. */
static int check_metadata(struct ik__span s, struct ik_error *err)
{
    json_error_t je;
    json_t *j;
    bool object;
    if (ik__json_object_plain(s.p, s.n))
        return 0;
    j = json_loadb(s.p, s.n, 0, &je);
    object = j != NULL && json_is_object(j);
    json_decref(j);
    if (j == NULL)
        return ik_error_set(err, EINVAL, "metadata is not valid JSON: %s (at byte %d)", je.text,
                            je.position);
    if (!object)
        return ik_error_set(err, EINVAL, "metadata is not a JSON object");
    return 0;
}

/* Every text column must hold UTF-8, whatever format it came in: the snapshots are Arrow utf8
 * columns, and a reader validating them (pyarrow, our own full validation) refuses anything
 * else. The CID and pin type are checked against their alphabets instead. */
static int check_utf8(const struct ik__row *r, struct ik_error *err)
{
    static const int cols[] = {IK__NAME, IK__METADATA, IK__BACKEND, IK__VFS_PATH};
    size_t i;
    for (i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        int c = cols[i];
        int64_t bad;
        if (!IK__HAS(r, c) || r->str[c].p == NULL)
            continue;
        bad = ik__utf8_bad_at((const uint8_t *)r->str[c].p, (int64_t)r->str[c].n);
        if (bad >= 0)
            return ik_error_set(err, EINVAL, "%s is not valid UTF-8 (byte %lld is 0x%02x)",
                                ik__col_names[c], (long long)bad,
                                (unsigned)(unsigned char)r->str[c].p[bad]);
    }
    return 0;
}

static bool span_is(struct ik__span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

int ik__row_check(const struct ik__row *r, struct ik_error *err)
{
    struct ik_cid cid;
    int rc;
    if (!IK__HAS(r, IK__CID) || r->str[IK__CID].p == NULL)
        return ik_error_set(err, EINVAL, "no CID");
    rc = ik_cid_parse(r->str[IK__CID].p, r->str[IK__CID].n, &cid, err);
    if (rc != 0)
        return ik_error_prefix(err, EINVAL, "invalid CID '%.*s'", SHOWN(r->str[IK__CID]));
    if (IK__HAS(r, IK__PIN_TYPE)) {
        struct ik__span t = r->str[IK__PIN_TYPE];
        if (!span_is(t, "recursive") && !span_is(t, "direct") && !span_is(t, "indirect"))
            return ik_error_set(
                err, EINVAL, "pin_type '%.*s' is not one of recursive, direct, indirect", SHOWN(t));
    }
    if ((rc = check_utf8(r, err)) != 0)
        return rc;
    if (IK__HAS(r, IK__BACKEND) && r->str[IK__BACKEND].n == 0)
        return ik_error_set(err, EINVAL, "backend is empty");
    if (IK__HAS(r, IK__METADATA) && (rc = check_metadata(r->str[IK__METADATA], err)) != 0)
        return rc;
    if (IK__HAS(r, IK__VFS_PATH) && (rc = check_vfs_path(r->str[IK__VFS_PATH], err)) != 0)
        return rc;
    if (IK__HAS(r, IK__REPLICATION_FACTOR) &&
        (r->num[IK__REPLICATION_FACTOR] < 0 || r->num[IK__REPLICATION_FACTOR] > INT32_MAX))
        return ik_error_set(err, EINVAL, "replication_factor %lld is out of range (0 to %d)",
                            (long long)r->num[IK__REPLICATION_FACTOR], INT32_MAX);
    if (IK__HAS(r, IK__SIZE_BYTES) && r->num[IK__SIZE_BYTES] < 0)
        return ik_error_set(err, EINVAL, "size_bytes %lld is negative",
                            (long long)r->num[IK__SIZE_BYTES]);
    if (IK__HAS(r, IK__ACCESS_COUNT) && r->num[IK__ACCESS_COUNT] < 0)
        return ik_error_set(err, EINVAL, "access_count %lld is negative",
                            (long long)r->num[IK__ACCESS_COUNT]);
    return 0;
}

int ik__parse_int(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    bool neg = false;
    uint64_t x = 0, lim;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return EINVAL;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || x > (lim - d) / 10)
            return EINVAL;
        x = x * 10 + d;
    }
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 0;
}

int ik__parse_bool(const char *s, size_t n)
{
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1'))
        return 1;
    if ((n == 5 && memcmp(s, "false", 5) == 0) || (n == 1 && s[0] == '0'))
        return 0;
    return -1;
}

static int digits(const char *s, int n)
{
    int v = 0, i;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff…](Z|±HH:MM)" (also ' ' for 'T'), or an integer (microseconds). */
int ik__parse_time(const char *s, size_t n, int64_t *us)
{
    int y, mo, d, h, mi, sec, frac_digits = 0;
    int64_t frac = 0, off = 0, v;
    size_t i = 19;
    if (ik__parse_int(s, n, us) == 0)
        return 0;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return EINVAL;
    y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        sec < 0 || sec > 60)
        return EINVAL;
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, frac_digits++)
            if (frac_digits < 6)
                frac = frac * 10 + (s[i] - '0');
        if (frac_digits == 0)
            return EINVAL;
        for (; frac_digits < 6; frac_digits++)
            frac *= 10;
    }
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        off = 0;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return EINVAL;
        off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
    } else {
        return EINVAL;
    }
    v = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *us = v * 1000000 + frac;
    return 0;
}
