/* JSON rows, the `traditional` fallback wire format (include/ipfskit/json_rows.h): a writer
 * that spells each row of a batch as one JSON object per line, and a reader (jansson, one
 * line at a time) that builds the batch back through the row builder, exactly. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/builder.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"

/* ---- the plan: how each column is spelled ----------------------------------------------- */
enum jkind { J_STR, J_LSTR, J_DICT, J_BOOL, J_INT, J_UINT, J_F64, J_F32, J_TS, J_DATE32, J_DATE64 };

struct jcol {
    const char *name;
    enum jkind kind;
    int width;      /* bytes of one value (ints, dictionary indices) */
    bool is_signed; /* ints, dictionary indices */
    enum ik_time_unit unit;
};

static int plan_column(const struct ArrowSchema *f, struct jcol *c, struct ik_error *err)
{
    struct ik_type t;
    c->name = f->name ? f->name : "";
    if (ik__type_parse(f->format, &t, err) != 0)
        return ik_error_prefix(err, EINVAL, "column '%s'", c->name);
    c->width = t.bit_width / 8;
    c->unit = t.unit;
    c->is_signed =
        t.id == IK_T_INT8 || t.id == IK_T_INT16 || t.id == IK_T_INT32 || t.id == IK_T_INT64;
    if (f->dictionary) {
        if (!c->is_signed && t.id != IK_T_UINT8 && t.id != IK_T_UINT16 && t.id != IK_T_UINT32 &&
            t.id != IK_T_UINT64)
            return ik_error_set(err, EINVAL, "column '%s': bad dictionary index type '%s'", c->name,
                                f->format);
        if (strcmp(f->dictionary->format, "u") != 0)
            return ik_error_set(err, ENOTSUP,
                                "column '%s': JSON rows spell only dictionaries of utf8", c->name);
        c->kind = J_DICT;
        return 0;
    }
    switch (t.id) {
    case IK_T_STRING:
        c->kind = J_STR;
        return 0;
    case IK_T_LARGE_STRING:
        c->kind = J_LSTR;
        return 0;
    case IK_T_BOOL:
        c->kind = J_BOOL;
        return 0;
    case IK_T_INT8:
    case IK_T_INT16:
    case IK_T_INT32:
    case IK_T_INT64:
    case IK_T_TIME32:
    case IK_T_TIME64:
    case IK_T_DURATION:
        c->is_signed = true;
        c->kind = J_INT;
        return 0;
    case IK_T_UINT8:
    case IK_T_UINT16:
    case IK_T_UINT32:
    case IK_T_UINT64:
        c->kind = J_UINT;
        return 0;
    case IK_T_DOUBLE:
        c->kind = J_F64;
        return 0;
    case IK_T_FLOAT:
        c->kind = J_F32;
        return 0;
    case IK_T_TIMESTAMP:
        c->kind = J_TS;
        return 0;
    case IK_T_DATE32:
        c->kind = J_DATE32;
        return 0;
    case IK_T_DATE64:
        c->kind = J_DATE64;
        return 0;
    default:
        return ik_error_set(err, ENOTSUP, "column '%s': JSON rows cannot spell type %s", c->name,
                            ik__type_name(t.id));
    }
}

static int plan(const struct ArrowSchema *s, struct jcol **out, struct ik_error *err)
{
    struct jcol *cols;
    int64_t i;
    int rc;
    *out = NULL;
    if (s == NULL || s->format == NULL || strcmp(s->format, "+s") != 0)
        return ik_error_set(err, EINVAL, "JSON rows: the schema is not a struct");
    cols = calloc((size_t)(s->n_children ? s->n_children : 1), sizeof *cols);
    if (cols == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < s->n_children; i++) {
        if (s->children[i]->n_children != 0) {
            free(cols);
            return ik_error_set(err, ENOTSUP, "column '%s': nested types are not supported",
                                s->children[i]->name ? s->children[i]->name : "");
        }
        if ((rc = plan_column(s->children[i], &cols[i], err)) != 0) {
            free(cols);
            return rc;
        }
    }
    *out = cols;
    return 0;
}

/* ---- calendar (proleptic Gregorian, H. Hinnant's algorithms) ------------------------------ */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

static const int64_t unit_per_sec[] = {1, 1000, 1000000, 1000000000};
static const int unit_digits[] = {0, 3, 6, 9};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

/* ---- writing ------------------------------------------------------------------------------ */
struct out {
    char *p;
    size_t len, cap;
    ik_write_fn write;
    void *ctx;
};

static int out_reserve(struct out *o, size_t n)
{
    size_t cap = o->cap ? o->cap : 65536;
    char *q;
    if (o->len + n <= o->cap)
        return 0;
    while (cap < o->len + n)
        cap *= 2;
    q = realloc(o->p, cap);
    if (q == NULL)
        return ENOMEM;
    o->p = q;
    o->cap = cap;
    return 0;
}

static void out_add(struct out *o, const char *s, size_t n) /* after out_reserve */
{
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Length of the valid UTF-8 sequence at s[0, n), or 0 when it is invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t b = s[0], lo = 0x80, hi = 0xBF;
    size_t len, i;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        lo = b == 0xE0 ? 0xA0 : 0x80;
        hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        lo = b == 0xF0 ? 0x90 : 0x80;
        hi = b == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

/* Appends s[0, n) as a JSON string; returns the offset of invalid UTF-8 + 1, or 0. */
static size_t put_string(struct out *o, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    char *q;
    o->p[o->len++] = '"';
    q = o->p + o->len;
    while (i < n) {
        uint8_t b = s[i];
        if (b >= 0x20 && b != '"' && b != '\\' && b < 0x80) {
            *q++ = (char)b;
            i++;
        } else if (b >= 0x80) {
            size_t l = utf8_seq(s + i, n - i);
            if (l == 0)
                return i + 1;
            memcpy(q, s + i, l);
            q += l;
            i += l;
        } else {
            *q++ = '\\';
            switch (b) {
            case '"':
            case '\\':
                *q++ = (char)b;
                break;
            case '\n':
                *q++ = 'n';
                break;
            case '\r':
                *q++ = 'r';
                break;
            case '\t':
                *q++ = 't';
                break;
            case '\b':
                *q++ = 'b';
                break;
            case '\f':
                *q++ = 'f';
                break;
            default:
                memcpy(q, "u00", 3);
                q[3] = hex[b >> 4];
                q[4] = hex[b & 15];
                q += 5;
            }
            i++;
        }
    }
    *q++ = '"';
    o->len = (size_t)(q - o->p);
    return 0;
}

/* The shortest of %.{lo..hi}g that reads back as v; a '.0' is added to integral spellings so
 * readers see a real (and -0.0 keeps its sign). */
static int spell_real(char *buf, size_t cap, double v, bool single)
{
    int prec, n = 0;
    for (prec = single ? 6 : 15; prec <= (single ? 9 : 17); prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (single ? (float)back == (float)v : back == v)
            break;
    }
    if (strpbrk(buf, ".e") == NULL)
        n += snprintf(buf + n, cap - (size_t)n, ".0");
    return n;
}

static int spell_timestamp(char *buf, size_t cap, int64_t v, enum ik_time_unit unit)
{
    int64_t per = unit_per_sec[unit], secs = floor_div(v, per), frac = v - secs * per;
    int64_t days = floor_div(secs, 86400), sod = secs - days * 86400, y;
    int m, d, n;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return snprintf(buf, cap, "%" PRId64, v);
    n = snprintf(buf, cap, "\"%04d-%02d-%02dT%02d:%02d:%02d", (int)y, m, d, (int)(sod / 3600),
                 (int)(sod / 60 % 60), (int)(sod % 60));
    if (unit != IK_SECOND)
        n += snprintf(buf + n, cap - (size_t)n, ".%0*" PRId64, unit_digits[unit], frac);
    return n + snprintf(buf + n, cap - (size_t)n, "Z\"");
}

static int spell_date(char *buf, size_t cap, int64_t days, int64_t raw)
{
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return snprintf(buf, cap, "%" PRId64, raw);
    return snprintf(buf, cap, "\"%04d-%02d-%02d\"", (int)y, m, d);
}

static int64_t load_int(const uint8_t *p, int width, bool is_signed)
{
    switch (width) {
    case 1:
        return is_signed ? (int64_t)(int8_t)p[0] : (int64_t)p[0];
    case 2: {
        uint16_t x;
        memcpy(&x, p, 2);
        return is_signed ? (int64_t)(int16_t)x : (int64_t)x;
    }
    case 4: {
        uint32_t x;
        memcpy(&x, p, 4);
        return is_signed ? (int64_t)(int32_t)x : (int64_t)x;
    }
    default: {
        int64_t x;
        memcpy(&x, p, 8);
        return x;
    }
    }
}

static bool is_null(const struct ArrowArray *a, int64_t j)
{
    const uint8_t *v = a->null_count == 0 ? NULL : a->buffers[0];
    return v != NULL && !(v[j >> 3] & (1u << (j & 7)));
}

/* Appends the bytes of string j of a utf8 (large when `large`) array: 0, the position + 1 of
 * invalid UTF-8, SIZE_MAX when out of memory, SIZE_MAX - 1 when its offsets are out of range. */
static size_t put_utf8_at(struct out *o, const struct ArrowArray *a, int64_t j, bool large)
{
    int64_t s, e;
    if (large) {
        const int64_t *off = a->buffers[1];
        s = off[j];
        e = off[j + 1];
    } else {
        const int32_t *off = a->buffers[1];
        s = off[j];
        e = off[j + 1];
    }
    if (!ik__range_ok(a, large, s, e))
        return SIZE_MAX - 1; /* offsets out of order: not a value to read */
    if (out_reserve(o, (size_t)(e - s) * 6 + 2) != 0)
        return SIZE_MAX;
    return put_string(o, (const uint8_t *)a->buffers[2] + s, (size_t)(e - s));
}

static int put_value(struct out *o, const struct jcol *c, const struct ArrowArray *a, int64_t j,
                     int64_t row, struct ik_error *err)
{
    const uint8_t *data = a->buffers[1];
    char buf[64];
    size_t bad;
    int64_t v;
    int n;
    switch (c->kind) {
    case J_DICT: {
        const struct ArrowArray *d = a->dictionary;
        v = load_int(data + (size_t)j * (size_t)c->width, c->width, c->is_signed);
        if (v < 0 || v >= d->length)
            return ik_error_set(err, IK_EINVALID,
                                "row %" PRId64 ", column '%s': dictionary index %" PRId64
                                " out of range (%" PRId64 " values)",
                                row, c->name, v, d->length);
        bad = put_utf8_at(o, d, d->offset + v, false);
        goto string_done;
    }
    case J_STR:
    case J_LSTR:
        bad = put_utf8_at(o, a, j, c->kind == J_LSTR);
    string_done:
        if (bad == SIZE_MAX)
            return ik_error_set(err, ENOMEM, "out of memory");
        if (bad == SIZE_MAX - 1)
            return ik_error_set(err, IK_EINVALID,
                                "row %" PRId64 ", column '%s': value offsets out of order or out "
                                "of range",
                                row, c->name);
        if (bad != 0)
            return ik_error_set(err, IK_EINVALID,
                                "row %" PRId64 ", column '%s': invalid UTF-8 at byte %zu", row,
                                c->name, bad - 1);
        return 0;
    case J_BOOL:
        n = snprintf(buf, sizeof buf, "%s", ik__bit_get(data, j) ? "true" : "false");
        break;
    case J_INT:
        n = snprintf(buf, sizeof buf, "%" PRId64,
                     load_int(data + (size_t)j * (size_t)c->width, c->width, true));
        break;
    case J_UINT:
        v = load_int(data + (size_t)j * (size_t)c->width, c->width, false);
        n = snprintf(buf, sizeof buf, "%" PRIu64, (uint64_t)v);
        break;
    case J_F64:
    case J_F32: {
        double x;
        if (c->kind == J_F64) {
            memcpy(&x, data + (size_t)j * 8, 8);
        } else {
            float f;
            memcpy(&f, data + (size_t)j * 4, 4);
            x = f;
        }
        if (x != x || x - x != 0) /* NaN, ±Inf */
            n = snprintf(buf, sizeof buf, "null");
        else
            n = spell_real(buf, sizeof buf, x, c->kind == J_F32);
        break;
    }
    case J_TS:
        n = spell_timestamp(buf, sizeof buf, load_int(data + (size_t)j * 8, 8, true), c->unit);
        break;
    case J_DATE32:
        v = load_int(data + (size_t)j * 4, 4, true);
        n = spell_date(buf, sizeof buf, v, v);
        break;
    default: /* J_DATE64 */
        v = load_int(data + (size_t)j * 8, 8, true);
        if (v % 86400000 == 0)
            n = spell_date(buf, sizeof buf, v / 86400000, v);
        else
            n = snprintf(buf, sizeof buf, "%" PRId64, v);
        break;
    }
    if (out_reserve(o, (size_t)n) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    out_add(o, buf, (size_t)n);
    return 0;
}

/* Checks that the batch has the columns and buffers the writer reads. */
static int check_batch(const struct ArrowSchema *s, const struct jcol *cols,
                       const struct ArrowArray *b, struct ik_error *err)
{
    int64_t i;
    if (b == NULL || b->release == NULL || b->n_children != s->n_children)
        return ik_error_set(err, EINVAL, "JSON rows: the batch does not match the schema");
    for (i = 0; i < s->n_children; i++) {
        const struct ArrowArray *a = b->children[i];
        int need = (cols[i].kind == J_STR || cols[i].kind == J_LSTR) ? 3 : 2;
        if (a == NULL || a->n_buffers < need || a->buffers[1] == NULL ||
            (need == 3 && a->buffers[2] == NULL) || a->length < b->offset + b->length ||
            (a->null_count > 0 && a->buffers[0] == NULL) ||
            (cols[i].kind == J_DICT &&
             (a->dictionary == NULL || a->dictionary->n_buffers < 3 ||
              a->dictionary->buffers[1] == NULL || a->dictionary->buffers[2] == NULL)))
            return ik_error_set(err, IK_EINVALID,
                                "JSON rows: column '%s' lacks buffers for its type or rows",
                                cols[i].name);
    }
    return 0;
}

int ik_json_rows_write(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       ik_write_fn write, void *ctx, struct ik_error *err)
{
    struct out o = {NULL, 0, 0, write, ctx};
    struct jcol *cols = NULL;
    int64_t r, c;
    int rc;
    if ((rc = plan(schema, &cols, err)) != 0)
        return rc;
    if ((rc = check_batch(schema, cols, batch, err)) != 0)
        goto done;
    for (r = 0; r < batch->length; r++) {
        for (c = 0; c < schema->n_children; c++) {
            const struct ArrowArray *a = batch->children[c];
            int64_t j = a->offset + batch->offset + r;
            size_t kl = strlen(cols[c].name);
            if (out_reserve(&o, kl * 6 + 4) != 0)
                goto oom;
            o.p[o.len++] = c == 0 ? '{' : ',';
            if (put_string(&o, (const uint8_t *)cols[c].name, kl) != 0) {
                rc = ik_error_set(err, EINVAL, "column %" PRId64 ": name is not UTF-8", c);
                goto done;
            }
            o.p[o.len++] = ':';
            if (is_null(a, j)) {
                rc = out_reserve(&o, 4);
                if (rc == 0)
                    out_add(&o, "null", 4);
            } else {
                rc = put_value(&o, &cols[c], a, j, r, err);
            }
            if (rc != 0)
                goto done;
        }
        if (out_reserve(&o, 3) != 0)
            goto oom;
        if (schema->n_children == 0)
            o.p[o.len++] = '{';
        out_add(&o, "}\n", 2);
        if (o.len >= 65536) {
            if ((rc = write(ctx, o.p, o.len, err)) != 0)
                goto done;
            o.len = 0;
        }
    }
    if (o.len)
        rc = write(ctx, o.p, o.len, err);
done:
    free(o.p);
    free(cols);
    return rc;
oom:
    rc = ik_error_set(err, ENOMEM, "out of memory");
    goto done;
}

/* ---- reading ------------------------------------------------------------------------------ */

static bool digits(const char *s, int n, int64_t *out)
{
    int64_t v = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Parses "YYYY-MM-DD" at s[0, 10) into days since the epoch. */
static bool parse_date(const char *s, size_t n, int64_t *days)
{
    int64_t y, m, d;
    if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > days_in_month(y, (int)m))
        return false;
    *days = days_from_civil(y, (int)m, (int)d);
    return true;
}

/* Parses an RFC 3339 date-time into `unit`s since the epoch. Returns NULL or what is wrong. */
static const char *parse_timestamp(const char *s, size_t n, enum ik_time_unit unit, int64_t *out)
{
    int64_t days, hh, mm, ss, frac = 0, secs, v, off = 0;
    size_t i = 19;
    int nd = 0;
    if (!parse_date(s, n, &days) || n < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':' || !digits(s + 11, 2, &hh) || !digits(s + 14, 2, &mm) ||
        !digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
        return "expected an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.frac]Z)";
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
            if (nd < unit_digits[unit])
                frac = frac * 10 + (s[i] - '0');
            else if (s[i] != '0')
                return "timestamp is finer than the column's unit";
        }
        if (nd == 0)
            return "expected digits after '.' in the timestamp";
    }
    for (; nd < unit_digits[unit]; nd++)
        frac *= 10;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int64_t oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return "bad UTC offset in the timestamp";
        off = (oh * 60 + om) * 60 * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return "expected 'Z' or an offset (+HH:MM) after the timestamp's time";
    }
    if (i != n)
        return "unexpected text after the timestamp";
    secs = days * 86400 + hh * 3600 + mm * 60 + ss - off;
    if (__builtin_mul_overflow(secs, unit_per_sec[unit], &v) || __builtin_add_overflow(v, frac, &v))
        return "timestamp out of range for the column's unit";
    *out = v;
    return NULL;
}

static int bad(struct ik_error *err, int64_t line, const char *key, const char *what)
{
    return ik_error_set(err, EINVAL, "line %" PRId64 ": key '%s': %s", line, key, what);
}

/* Appends JSON value `v` to column `col` as the column's kind wants. */
static int read_value(struct ik_builder *b, int col, const struct jcol *c, json_t *v, int64_t line,
                      struct ik_error *err)
{
    int64_t x;
    int rc;
    switch (json_typeof(v)) {
    case JSON_NULL:
        rc = ik_builder_null(b, col, err);
        break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        const char *why = NULL;
        if (c->kind == J_STR || c->kind == J_LSTR || c->kind == J_DICT) {
            rc = ik_builder_str(b, col, s, n, err);
            break;
        }
        if (c->kind == J_TS) {
            why = parse_timestamp(s, n, c->unit, &x);
        } else if (c->kind == J_DATE32 || c->kind == J_DATE64) {
            if (n != 10 || !parse_date(s, n, &x))
                why = "expected a date (YYYY-MM-DD)";
            else if (c->kind == J_DATE64)
                x *= 86400000;
        } else {
            goto wrong;
        }
        if (why)
            return bad(err, line, c->name, why);
        rc = ik_builder_int(b, col, x, err);
        break;
    }
    case JSON_INTEGER:
        if (c->kind == J_STR || c->kind == J_LSTR || c->kind == J_DICT || c->kind == J_BOOL)
            goto wrong;
        rc = ik_builder_int(b, col, json_integer_value(v), err);
        break;
    case JSON_REAL:
        if (c->kind != J_F64 && c->kind != J_F32)
            goto wrong;
        rc = ik_builder_double(b, col, json_real_value(v), err);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        if (c->kind != J_BOOL)
            goto wrong;
        rc = ik_builder_bool(b, col, json_is_true(v), err);
        break;
    default:
        goto wrong;
    }
    if (rc != 0)
        return ik_error_prefix(err, rc, "line %" PRId64 ": key '%s'", line, c->name);
    return 0;
wrong:
    switch (c->kind) {
    case J_STR:
    case J_LSTR:
    case J_DICT:
        return bad(err, line, c->name, "expected a string");
    case J_BOOL:
        return bad(err, line, c->name, "expected true or false");
    case J_INT:
    case J_UINT:
        return bad(err, line, c->name, "expected an integer");
    case J_F64:
    case J_F32:
        return bad(err, line, c->name, "expected a number");
    case J_TS:
        return bad(err, line, c->name, "expected an RFC 3339 timestamp string or an integer");
    default:
        return bad(err, line, c->name, "expected a date string (YYYY-MM-DD) or an integer");
    }
}

/* Parses one line (an object) into the current row of `b`. */
static int read_line(struct ik_builder *b, const struct jcol *cols, int n_cols, const char *p,
                     size_t n, int64_t line, struct ik_error *err)
{
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je), *v;
    const char *key;
    size_t seen = 0;
    int c, rc = 0;
    if (o == NULL)
        return ik_error_set(err, IK_EFORMAT, "line %" PRId64 ", column %d: %s", line, je.column,
                            je.text);
    if (!json_is_object(o)) {
        rc = ik_error_set(err, IK_EFORMAT, "line %" PRId64 ": expected a JSON object", line);
        goto done;
    }
    for (c = 0; c < n_cols; c++) {
        v = json_object_get(o, cols[c].name);
        if (v == NULL)
            continue;
        seen++;
        if ((rc = read_value(b, c, &cols[c], v, line, err)) != 0)
            goto done;
    }
    if (seen != json_object_size(o)) {
        json_object_foreach(o, key, v)
        {
            if (ik_builder_column(b, key) < 0) {
                rc = ik_error_set(err, EINVAL, "line %" PRId64 ": unknown key '%s'", line, key);
                goto done;
            }
        }
    }
    if ((rc = ik_builder_end_row(b, err)) != 0)
        ik_error_prefix(err, rc, "line %" PRId64, line);
done:
    if (rc != 0)
        ik_builder_abort_row(b);
    json_decref(o);
    return rc;
}

int ik_json_rows_read(const char *table_or_NULL, const struct ArrowSchema *schema, const char *text,
                      size_t len, struct ArrowSchema *schema_out, struct ArrowArray *out,
                      struct ik_error *err)
{
    struct ArrowSchema table;
    struct ik_builder *b = NULL;
    struct jcol *cols = NULL;
    const char *p = text, *end = text + len;
    int64_t line = 0;
    int rc;
    table.release = NULL;
    if (table_or_NULL) {
        if ((rc = ik_table_schema(table_or_NULL, &table, err)) != 0)
            return rc;
        schema = &table;
    }
    if ((rc = plan(schema, &cols, err)) != 0 || (rc = ik_builder_create(schema, 0, &b, err)) != 0)
        goto done;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end, *q = p;
        line++;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < e &&
            (rc = read_line(b, cols, (int)schema->n_children, p, (size_t)(e - p), line, err)) != 0)
            goto done;
        p = nl ? nl + 1 : end;
    }
    rc = ik_builder_finish(b, NULL, schema_out, out, err);
done:
    ik_builder_destroy(b);
    free(cols);
    if (table.release)
        table.release(&table);
    return rc;
}
