/* Rendering batches as JSON Lines, CSV or an aligned table, and schemas in pyarrow's notation.
 * Values are rendered per type into a growable string; nested values render as JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "arrow/internal.h"

struct sb {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sb *s, const char *d, size_t n)
{
    if (s->oom)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        char *q;
        while (cap < s->len + n + 1)
            cap *= 2;
        q = realloc(s->p, cap);
        if (q == NULL) {
            s->oom = true;
            return;
        }
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = 0;
}

static void sb_printf(struct sb *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(s, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static bool is_valid(const struct ArrowArray *a, int64_t i)
{
    const uint8_t *b = a->buffers[0];
    return b == NULL || ((b[(a->offset + i) >> 3] >> ((a->offset + i) & 7)) & 1);
}

static void json_string(struct sb *s, const uint8_t *p, int64_t n)
{
    int64_t i;
    sb_add(s, "\"", 1);
    for (i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_add(s, e, 2);
        } else if (c == '\n') {
            sb_add(s, "\\n", 2);
        } else if (c == '\t') {
            sb_add(s, "\\t", 2);
        } else if (c == '\r') {
            sb_add(s, "\\r", 2);
        } else if (c < 0x20) {
            sb_printf(s, "\\u%04x", c);
        } else {
            sb_add(s, (const char *)p + i, 1);
        }
    }
    sb_add(s, "\"", 1);
}

static void hex(struct sb *s, const uint8_t *p, int64_t n, bool quote)
{
    int64_t i;
    if (quote)
        sb_add(s, "\"", 1);
    for (i = 0; i < n; i++)
        sb_printf(s, "%02x", p[i]);
    if (quote)
        sb_add(s, "\"", 1);
}

static void dbl(struct sb *s, double v, bool json)
{
    char buf[64];
    int prec;
    if (isnan(v) || isinf(v)) {
        const char *t = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
        sb_printf(s, json ? "\"%s\"" : "%s", t);
        return;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    sb_add(s, buf, strlen(buf));
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Days since 1970-01-01 to y-m-d (proleptic Gregorian). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    yoe = z - era * 146097;
    yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
    doy = z - era * 146097 - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

static const int64_t per_sec[4] = {1, 1000, 1000000, 1000000000};

static void time_of_day(struct sb *s, int64_t v, int unit)
{
    int64_t ps = per_sec[unit], secs = floordiv(v, ps), frac = v - secs * ps;
    sb_printf(s, "%02lld:%02lld:%02lld", (long long)(secs / 3600), (long long)(secs / 60 % 60),
              (long long)(secs % 60));
    if (unit > 0)
        sb_printf(s, ".%0*lld", unit * 3, (long long)frac);
}

static void date_str(struct sb *s, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    sb_printf(s, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* Decimal from little-endian two's complement of `bytes` bytes. */
static void decimal(struct sb *s, const uint8_t *p, int bytes, int scale)
{
    uint32_t w[8] = {0};
    char digits[1100]; /* 78 digits of a 256-bit value, zero-padded up to scale <= 1000 */
    int nw = bytes / 4, i, nd = 0;
    bool neg = (p[bytes - 1] & 0x80) != 0, zero;
    for (i = 0; i < nw; i++)
        memcpy(&w[i], p + 4 * i, 4);
    if (neg) { /* negate: invert and add one */
        uint64_t carry = 1;
        for (i = 0; i < nw; i++) {
            uint64_t x = (uint64_t)(uint32_t)~w[i] + carry;
            w[i] = (uint32_t)x;
            carry = x >> 32;
        }
    }
    do {
        uint64_t rem = 0;
        zero = true;
        for (i = nw - 1; i >= 0; i--) {
            uint64_t cur = (rem << 32) | w[i];
            w[i] = (uint32_t)(cur / 10);
            rem = cur % 10;
            if (w[i])
                zero = false;
        }
        digits[nd++] = (char)('0' + rem);
    } while (!zero && nd < 99);
    if (scale > 1000)
        scale = 1000;
    if (neg)
        sb_add(s, "-", 1);
    if (scale <= 0) {
        for (i = nd - 1; i >= 0; i--)
            sb_add(s, &digits[i], 1);
        for (i = 0; i < -scale && !(nd == 1 && digits[0] == '0'); i++)
            sb_add(s, "0", 1);
        return;
    }
    while (nd <= scale)
        digits[nd++] = '0';
    for (i = nd - 1; i >= 0; i--) {
        sb_add(s, &digits[i], 1);
        if (i == scale)
            sb_add(s, ".", 1);
    }
}

static int value(struct sb *s, const struct ArrowSchema *sc, const struct ArrowArray *a, int64_t i,
                 bool json, int depth);

static int64_t int_at(const struct ik_type *t, const void *buf, int64_t k)
{
    switch (t->id) {
    case IK_T_INT8:
        return ((const int8_t *)buf)[k];
    case IK_T_UINT8:
        return ((const uint8_t *)buf)[k];
    case IK_T_INT16:
        return ((const int16_t *)buf)[k];
    case IK_T_UINT16:
        return ((const uint16_t *)buf)[k];
    case IK_T_INT32:
        return ((const int32_t *)buf)[k];
    case IK_T_UINT32:
        return ((const uint32_t *)buf)[k];
    default:
        return ((const int64_t *)buf)[k];
    }
}

static int nested(struct sb *s, const struct ArrowSchema *sc, const struct ArrowArray *a,
                  const struct ik_type *t, int64_t k, int depth)
{
    int64_t i, first, last;
    int rc;
    switch (t->id) {
    case IK_T_STRUCT:
        sb_add(s, "{", 1);
        for (i = 0; i < sc->n_children; i++) {
            if (i)
                sb_add(s, ", ", 2);
            json_string(s, (const uint8_t *)(sc->children[i]->name ? sc->children[i]->name : ""),
                        (int64_t)strlen(sc->children[i]->name ? sc->children[i]->name : ""));
            sb_add(s, ": ", 2);
            if ((rc = value(s, sc->children[i], a->children[i], k, true, depth + 1)))
                return rc;
        }
        sb_add(s, "}", 1);
        return 0;
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_MAP:
    case IK_T_FIXED_SIZE_LIST: {
        const struct ArrowArray *c = a->children[0];
        if (t->id == IK_T_FIXED_SIZE_LIST) {
            first = k * t->fixed_size;
            last = first + t->fixed_size;
        } else if (t->id == IK_T_LARGE_LIST) {
            first = ((const int64_t *)a->buffers[1])[k];
            last = ((const int64_t *)a->buffers[1])[k + 1];
        } else {
            first = ((const int32_t *)a->buffers[1])[k];
            last = ((const int32_t *)a->buffers[1])[k + 1];
        }
        sb_add(s, "[", 1);
        for (i = first; i < last; i++) {
            if (i > first)
                sb_add(s, ", ", 2);
            if (t->id == IK_T_MAP) {
                const struct ArrowSchema *es = sc->children[0];
                sb_add(s, "{\"key\": ", 8);
                if ((rc =
                         value(s, es->children[0], c->children[0], c->offset + i, true, depth + 1)))
                    return rc;
                sb_add(s, ", \"value\": ", 11);
                if ((rc =
                         value(s, es->children[1], c->children[1], c->offset + i, true, depth + 1)))
                    return rc;
                sb_add(s, "}", 1);
            } else if ((rc = value(s, sc->children[0], c, i, true, depth + 1))) {
                return rc;
            }
        }
        sb_add(s, "]", 1);
        return 0;
    }
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION: {
        int8_t id = ((const int8_t *)a->buffers[0])[k];
        int c;
        for (c = 0; c < t->n_type_ids && t->type_ids[c] != id; c++)
            ;
        if (c == t->n_type_ids || c >= a->n_children)
            return ik_error_set(NULL, IK_EINVALID, "bad union id");
        i = t->id == IK_T_DENSE_UNION ? ((const int32_t *)a->buffers[1])[k] : k;
        return value(s, sc->children[c], a->children[c], i, true, depth + 1);
    }
    case IK_T_RUN_END_ENCODED: {
        const struct ArrowArray *re = a->children[0];
        struct ik_type rt;
        int64_t lo = 0, hi = re->length;
        if (ik__type_parse(sc->children[0]->format, &rt, NULL) != 0)
            return IK_EINVALID;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (int_at(&rt, re->buffers[1], re->offset + mid) > k)
                hi = mid;
            else
                lo = mid + 1;
        }
        if (lo >= a->children[1]->length)
            return IK_EINVALID;
        return value(s, sc->children[1], a->children[1], lo, true, depth + 1);
    }
    default:
        return ENOTSUP;
    }
}

/* Renders element i (logical, before a->offset) of array a. */
static int value(struct sb *s, const struct ArrowSchema *sc, const struct ArrowArray *a, int64_t i,
                 bool json, int depth)
{
    struct ik_type t;
    int64_t k = a->offset + i;
    const void *d;
    if (depth > 64)
        return IK_ELIMIT;
    if (ik__type_parse(sc->format, &t, NULL) != 0)
        return EINVAL;
    if (t.id == IK_T_NA || (ik__type_has_validity(&t) && !is_valid(a, i))) {
        if (json)
            sb_add(s, "null", 4);
        return 0;
    }
    d = a->n_buffers > 1 ? a->buffers[1] : NULL;
    if (sc->dictionary) {
        int64_t x = int_at(&t, d, k);
        if (x < 0 || a->dictionary == NULL || x >= a->dictionary->length)
            return IK_EINVALID;
        return value(s, sc->dictionary, a->dictionary, x, json, depth + 1);
    }
    switch (t.id) {
    case IK_T_BOOL:
        sb_printf(s, "%s", ((((const uint8_t *)d)[k >> 3] >> (k & 7)) & 1) ? "true" : "false");
        return 0;
    case IK_T_INT8:
    case IK_T_UINT8:
    case IK_T_INT16:
    case IK_T_UINT16:
    case IK_T_INT32:
    case IK_T_UINT32:
    case IK_T_INT64:
        sb_printf(s, "%lld", (long long)int_at(&t, d, k));
        return 0;
    case IK_T_UINT64:
        sb_printf(s, "%llu", (unsigned long long)((const uint64_t *)d)[k]);
        return 0;
    case IK_T_HALF_FLOAT:
        dbl(s, half_to_double(((const uint16_t *)d)[k]), json);
        return 0;
    case IK_T_FLOAT:
        dbl(s, ((const float *)d)[k], json);
        return 0;
    case IK_T_DOUBLE:
        dbl(s, ((const double *)d)[k], json);
        return 0;
    case IK_T_DECIMAL32:
    case IK_T_DECIMAL64:
    case IK_T_DECIMAL128:
    case IK_T_DECIMAL256:
        if (json)
            sb_add(s, "\"", 1);
        decimal(s, (const uint8_t *)d + k * (t.bit_width / 8), t.bit_width / 8, t.scale);
        if (json)
            sb_add(s, "\"", 1);
        return 0;
    case IK_T_DATE32:
    case IK_T_DATE64:
    case IK_T_TIME32:
    case IK_T_TIME64:
    case IK_T_TIMESTAMP: {
        int64_t v = t.id == IK_T_DATE32 || t.id == IK_T_TIME32 ? ((const int32_t *)d)[k]
                                                               : ((const int64_t *)d)[k];
        if (json)
            sb_add(s, "\"", 1);
        if (t.id == IK_T_DATE32) {
            date_str(s, v);
        } else if (t.id == IK_T_DATE64) {
            date_str(s, floordiv(v, 86400000));
        } else if (t.id == IK_T_TIMESTAMP) {
            int64_t day = per_sec[t.unit] * 86400, days = floordiv(v, day);
            date_str(s, days);
            sb_add(s, "T", 1);
            time_of_day(s, v - days * day, (int)t.unit);
            if (t.timezone[0])
                sb_add(s, "Z", 1);
        } else {
            time_of_day(s, v, (int)t.unit);
        }
        if (json)
            sb_add(s, "\"", 1);
        return 0;
    }
    case IK_T_DURATION:
        sb_printf(s, "%lld", (long long)((const int64_t *)d)[k]);
        return 0;
    case IK_T_INTERVAL_MONTHS:
        sb_printf(s, "{\"months\": %d}", ((const int32_t *)d)[k]);
        return 0;
    case IK_T_INTERVAL_DAY_TIME:
        sb_printf(s, "{\"days\": %d, \"milliseconds\": %d}", ((const int32_t *)d)[2 * k],
                  ((const int32_t *)d)[2 * k + 1]);
        return 0;
    case IK_T_INTERVAL_MONTH_DAY_NANO: {
        const uint8_t *p = (const uint8_t *)d + 16 * k;
        sb_printf(s, "{\"months\": %d, \"days\": %d, \"nanoseconds\": %lld}", ik__ld_i32(p),
                  ik__ld_i32(p + 4), (long long)ik__ld_i64(p + 8));
        return 0;
    }
    case IK_T_FIXED_SIZE_BINARY:
        hex(s, (const uint8_t *)d + k * t.fixed_size, t.fixed_size, json);
        return 0;
    case IK_T_BINARY:
    case IK_T_STRING:
    case IK_T_LARGE_BINARY:
    case IK_T_LARGE_STRING:
    case IK_T_BINARY_VIEW:
    case IK_T_STRING_VIEW: {
        const uint8_t *p;
        int64_t n;
        bool str = t.id == IK_T_STRING || t.id == IK_T_LARGE_STRING || t.id == IK_T_STRING_VIEW;
        if (t.id == IK_T_BINARY_VIEW || t.id == IK_T_STRING_VIEW) {
            const uint8_t *v = (const uint8_t *)d + 16 * k;
            n = ik__ld_i32(v);
            p = n <= 12 ? v + 4
                        : (const uint8_t *)a->buffers[2 + ik__ld_i32(v + 8)] + ik__ld_i32(v + 12);
        } else if (t.id == IK_T_BINARY || t.id == IK_T_STRING) {
            int32_t f = ((const int32_t *)d)[k];
            n = ((const int32_t *)d)[k + 1] - f;
            p = (const uint8_t *)a->buffers[2] + f;
        } else {
            int64_t f = ((const int64_t *)d)[k];
            n = ((const int64_t *)d)[k + 1] - f;
            p = (const uint8_t *)a->buffers[2] + f;
        }
        if (!str)
            hex(s, p, n, json);
        else if (json)
            json_string(s, p, n);
        else
            sb_add(s, (const char *)p, (size_t)n);
        return 0;
    }
    default:
        return nested(s, sc, a, &t, k, depth);
    }
}

/* ---- printers ----------------------------------------------------------------------------- */

struct ik_printer {
    FILE *out;
    const struct ArrowSchema *schema;
    enum ik_print_format fmt;
    int64_t limit, printed;
    char **cells; /* table: held rows x columns */
    int64_t held, cap;
    size_t *widths;
    bool header_done;
};

int ik_printer_create(FILE *out, const struct ArrowSchema *schema, enum ik_print_format fmt,
                      int64_t limit, struct ik_printer **p_out, struct ik_error *err)
{
    struct ik_printer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    p->out = out;
    p->schema = schema;
    p->fmt = fmt;
    p->limit = limit;
    p->widths = calloc((size_t)schema->n_children + 1, sizeof *p->widths);
    if (p->widths == NULL) {
        free(p);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    *p_out = p;
    return 0;
}

bool ik_printer_done(const struct ik_printer *p)
{
    return p->limit >= 0 && p->printed >= p->limit;
}

static void csv_field(FILE *f, const char *v, size_t n)
{
    bool q = strpbrk(v, ",\"\r\n") != NULL;
    size_t i;
    if (!q) {
        fwrite(v, 1, n, f);
        return;
    }
    fputc('"', f);
    for (i = 0; i < n; i++) {
        if (v[i] == '"')
            fputc('"', f);
        fputc(v[i], f);
    }
    fputc('"', f);
}

static size_t display_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static int flush_table(struct ik_printer *p, struct ik_error *err)
{
    int64_t ncol = p->schema->n_children, r, c;
    if (!p->header_done) {
        for (c = 0; c < ncol; c++) {
            const char *n = p->schema->children[c]->name ? p->schema->children[c]->name : "";
            fprintf(p->out, "%s%-*s", c ? "  " : "", (int)p->widths[c], n);
        }
        fputc('\n', p->out);
        for (c = 0; c < ncol; c++) {
            size_t k;
            fputs(c ? "  " : "", p->out);
            for (k = 0; k < p->widths[c]; k++)
                fputc('-', p->out);
        }
        fputc('\n', p->out);
        p->header_done = true;
    }
    for (r = 0; r < p->held; r++) {
        for (c = 0; c < ncol; c++) {
            char *cell = p->cells[r * ncol + c];
            size_t w = display_width(cell);
            fputs(c ? "  " : "", p->out);
            fputs(cell, p->out);
            if (c + 1 < ncol)
                for (; w < p->widths[c]; w++)
                    fputc(' ', p->out);
            free(cell);
        }
        fputc('\n', p->out);
    }
    p->held = 0;
    return ferror(p->out) ? ik_error_set(err, EIO, "write failed") : 0;
}

int ik_printer_batch(struct ik_printer *p, const struct ArrowArray *batch, struct ik_error *err)
{
    int64_t ncol = p->schema->n_children, r, c;
    struct sb s = {0};
    int rc = 0;
    if (batch->n_children != ncol)
        return ik_error_set(err, EINVAL, "batch has %lld columns, schema %lld",
                            (long long)batch->n_children, (long long)ncol);
    if (p->fmt == IK_PRINT_CSV && !p->header_done) {
        for (c = 0; c < ncol; c++) {
            const char *n = p->schema->children[c]->name ? p->schema->children[c]->name : "";
            if (c)
                fputc(',', p->out);
            csv_field(p->out, n, strlen(n));
        }
        fputc('\n', p->out);
        p->header_done = true;
    }
    if (p->fmt == IK_PRINT_TABLE && p->widths[ncol] == 0) {
        for (c = 0; c < ncol; c++) {
            const char *n = p->schema->children[c]->name ? p->schema->children[c]->name : "";
            p->widths[c] = display_width(n);
        }
        p->widths[ncol] = 1;
    }
    for (r = 0; r < batch->length && !ik_printer_done(p); r++) {
        if (p->fmt == IK_PRINT_JSON)
            fputc('{', p->out);
        for (c = 0; c < ncol; c++) {
            const struct ArrowSchema *cs = p->schema->children[c];
            const struct ArrowArray *ca = batch->children[c];
            s.len = 0;
            sb_add(&s, "", 0);
            rc = value(&s, cs, ca, batch->offset + r, p->fmt == IK_PRINT_JSON, 0);
            if (rc != 0 || s.oom) {
                rc = ik_error_set(err, rc ? rc : ENOMEM, "column '%s' row %lld: cannot render",
                                  cs->name ? cs->name : "", (long long)(p->printed));
                goto out;
            }
            if (p->fmt == IK_PRINT_JSON) {
                if (c)
                    fputs(", ", p->out);
                {
                    struct sb key = {0};
                    json_string(&key, (const uint8_t *)(cs->name ? cs->name : ""),
                                (int64_t)strlen(cs->name ? cs->name : ""));
                    fprintf(p->out, "%s: %s", key.p ? key.p : "\"\"", s.p);
                    free(key.p);
                }
            } else if (p->fmt == IK_PRINT_CSV) {
                if (c)
                    fputc(',', p->out);
                csv_field(p->out, s.p, s.len);
            } else {
                char *cell;
                size_t w = display_width(s.p);
                if (w > 40) { /* truncate to 39 characters and an ellipsis */
                    size_t i = 0, n = 0;
                    while (s.p[i] && n < 39) {
                        i++;
                        while ((s.p[i] & 0xC0) == 0x80)
                            i++;
                        n++;
                    }
                    s.len = i;
                    s.p[i] = 0;
                    sb_add(&s, "\xe2\x80\xa6", 3);
                    w = 40;
                }
                if (p->held == p->cap) {
                    int64_t cap = p->cap ? p->cap * 2 : 64;
                    char **q = realloc(p->cells, (size_t)(cap * ncol) * sizeof *q);
                    if (q == NULL) {
                        rc = ik_error_set(err, ENOMEM, "out of memory");
                        goto out;
                    }
                    p->cells = q;
                    p->cap = cap;
                }
                cell = strdup(s.p);
                if (cell == NULL) {
                    rc = ik_error_set(err, ENOMEM, "out of memory");
                    goto out;
                }
                p->cells[p->held * ncol + c] = cell;
                if (w > p->widths[c])
                    p->widths[c] = w;
            }
        }
        if (p->fmt == IK_PRINT_JSON)
            fputs("}\n", p->out);
        else if (p->fmt == IK_PRINT_CSV)
            fputc('\n', p->out);
        else if (++p->held >= 1000 && (rc = flush_table(p, err)) != 0)
            goto out;
        p->printed++;
    }
out:
    free(s.p);
    if (rc == 0 && ferror(p->out))
        rc = ik_error_set(err, EIO, "write failed");
    return rc;
}

int ik_printer_finish(struct ik_printer *p, struct ik_error *err)
{
    if (p->fmt == IK_PRINT_TABLE) {
        if (p->widths[p->schema->n_children] == 0) {
            int64_t c;
            for (c = 0; c < p->schema->n_children; c++)
                p->widths[c] =
                    display_width(p->schema->children[c]->name ? p->schema->children[c]->name : "");
        }
        return flush_table(p, err);
    }
    if (p->fmt == IK_PRINT_CSV && !p->header_done) {
        struct ArrowArray empty;
        memset(&empty, 0, sizeof empty);
        empty.n_children = p->schema->n_children;
        return ik_printer_batch(p, &empty, err);
    }
    return fflush(p->out) ? ik_error_set(err, EIO, "write failed") : 0;
}

void ik_printer_destroy(struct ik_printer *p)
{
    if (p == NULL)
        return;
    if (p->cells) {
        int64_t i;
        for (i = 0; i < p->held * p->schema->n_children; i++)
            free(p->cells[i]);
    }
    free(p->cells);
    free(p->widths);
    free(p);
}

/* ---- schema in pyarrow's notation --------------------------------------------------------- */

static const char *const unit_names[] = {"s", "ms", "us", "ns"};

static void type_str(struct sb *s, const struct ArrowSchema *f);

static void child_str(struct sb *s, const struct ArrowSchema *c)
{
    sb_printf(s, "%s: ", c->name ? c->name : "");
    type_str(s, c);
    if (!(c->flags & ARROW_FLAG_NULLABLE))
        sb_add(s, " not null", 9);
}

static void type_str(struct sb *s, const struct ArrowSchema *f)
{
    struct ik_type t;
    int64_t i;
    int32_t elen;
    const char *ext = ik_metadata_get(f->metadata, "ARROW:extension:name", &elen);
    if (ext) {
        sb_printf(s, "extension<%.*s>", (int)elen, ext);
        return;
    }
    if (ik__type_parse(f->format, &t, NULL) != 0) {
        sb_printf(s, "unknown<%s>", f->format);
        return;
    }
    if (f->dictionary) {
        sb_add(s, "dictionary<values=", 18);
        type_str(s, f->dictionary);
        sb_printf(s, ", indices=%s, ordered=%d>", ik__type_name(t.id),
                  (f->flags & ARROW_FLAG_DICTIONARY_ORDERED) ? 1 : 0);
        return;
    }
    switch (t.id) {
    case IK_T_DECIMAL32:
    case IK_T_DECIMAL64:
    case IK_T_DECIMAL128:
    case IK_T_DECIMAL256:
        sb_printf(s, "%s(%d, %d)", ik__type_name(t.id), t.precision, t.scale);
        return;
    case IK_T_DATE32:
        sb_printf(s, "date32[day]");
        return;
    case IK_T_DATE64:
        sb_printf(s, "date64[ms]");
        return;
    case IK_T_TIME32:
    case IK_T_TIME64:
    case IK_T_DURATION:
        sb_printf(s, "%s[%s]", ik__type_name(t.id), unit_names[t.unit]);
        return;
    case IK_T_TIMESTAMP:
        if (t.timezone[0])
            sb_printf(s, "timestamp[%s, tz=%s]", unit_names[t.unit], t.timezone);
        else
            sb_printf(s, "timestamp[%s]", unit_names[t.unit]);
        return;
    case IK_T_FIXED_SIZE_BINARY:
        sb_printf(s, "fixed_size_binary[%d]", t.fixed_size);
        return;
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_FIXED_SIZE_LIST:
        sb_printf(s, "%s<", ik__type_name(t.id));
        child_str(s, f->children[0]);
        if (t.id == IK_T_FIXED_SIZE_LIST)
            sb_printf(s, ">[%d]", t.fixed_size);
        else
            sb_add(s, ">", 1);
        return;
    case IK_T_MAP:
        sb_add(s, "map<", 4);
        type_str(s, f->children[0]->children[0]);
        sb_add(s, ", ", 2);
        type_str(s, f->children[0]->children[1]);
        sb_add(s, ">", 1);
        return;
    case IK_T_STRUCT:
    case IK_T_RUN_END_ENCODED:
        sb_printf(s, "%s<", ik__type_name(t.id));
        for (i = 0; i < f->n_children; i++) {
            if (i)
                sb_add(s, ", ", 2);
            child_str(s, f->children[i]);
        }
        sb_add(s, ">", 1);
        return;
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION:
        sb_printf(s, "%s<", ik__type_name(t.id));
        for (i = 0; i < f->n_children && i < t.n_type_ids; i++) {
            if (i)
                sb_add(s, ", ", 2);
            child_str(s, f->children[i]);
            sb_printf(s, "=%d", t.type_ids[i]);
        }
        sb_add(s, ">", 1);
        return;
    default:
        sb_printf(s, "%s", ik__type_name(t.id));
    }
}

static void print_children(struct sb *s, const struct ArrowSchema *f, int indent)
{
    const struct ArrowSchema *v = f->dictionary ? f->dictionary : f;
    int64_t i;
    for (i = 0; i < v->n_children; i++) {
        sb_printf(s, "%*schild %lld, ", indent, "", (long long)i);
        child_str(s, v->children[i]);
        sb_add(s, "\n", 1);
        print_children(s, v->children[i], indent + 2);
    }
}

int ik_schema_print(FILE *out, const struct ArrowSchema *schema, struct ik_error *err)
{
    struct sb s = {0};
    int64_t i;
    for (i = 0; i < schema->n_children; i++) {
        child_str(&s, schema->children[i]);
        sb_add(&s, "\n", 1);
        print_children(&s, schema->children[i], 2);
    }
    if (schema->metadata) {
        const char *p = schema->metadata;
        int32_t n, kl, vl, k;
        memcpy(&n, p, 4);
        p += 4;
        sb_add(&s, "-- schema metadata --\n", 22);
        for (k = 0; k < n; k++) {
            memcpy(&kl, p, 4);
            sb_printf(&s, "%.*s: '", (int)kl, p + 4);
            p += 4 + kl;
            memcpy(&vl, p, 4);
            sb_printf(&s, "%.*s%s'\n", vl > 80 ? 80 : (int)vl, p + 4, vl > 80 ? "..." : "");
            p += 4 + vl;
        }
    }
    if (s.oom) {
        free(s.p);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    if (s.len)
        fwrite(s.p, 1, s.len, out);
    free(s.p);
    return ferror(out) ? ik_error_set(err, EIO, "write failed") : 0;
}
