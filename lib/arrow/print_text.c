/* Text building blocks of rendering: a growable string, UTF-8 sanitising and JSON escaping,
 * display widths, and the spelling of scalars (floats, half floats, decimals of any width,
 * dates, times of day) shared by every output format. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "arrow/print_internal.h"

/* ---- growable string ---------------------------------------------------------------------- */

static bool sb_reserve(struct ik__sb *s, size_t n)
{
    size_t need, cap;
    char *q;
    if (s->oom)
        return false;
    if (n > SIZE_MAX / 2 - s->len) {
        s->oom = true;
        return false;
    }
    need = s->len + n + 1;
    if (need <= s->cap)
        return true;
    cap = s->cap ? s->cap : 64;
    while (cap < need)
        cap *= 2;
    q = realloc(s->p, cap);
    if (q == NULL) {
        s->oom = true;
        return false;
    }
    s->p = q;
    s->cap = cap;
    return true;
}

void ik__sb_add(struct ik__sb *s, const void *data, size_t n)
{
    if (n == 0 || !sb_reserve(s, n))
        return;
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = 0;
}

void ik__sb_addc(struct ik__sb *s, char c)
{
    if (!sb_reserve(s, 1))
        return;
    s->p[s->len++] = c;
    s->p[s->len] = 0;
}

void ik__sb_adds(struct ik__sb *s, const char *str)
{
    ik__sb_add(s, str, strlen(str));
}

void ik__sb_printf(struct ik__sb *s, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->oom = true;
        return;
    }
    if ((size_t)n < sizeof buf) {
        ik__sb_add(s, buf, (size_t)n);
        return;
    }
    if (!sb_reserve(s, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

void ik__sb_free(struct ik__sb *s)
{
    free(s->p);
    memset(s, 0, sizeof *s);
}

/* ---- UTF-8 -------------------------------------------------------------------------------- */

/* Decodes the well-formed sequence at p[0, n): returns its length and sets *cp. For an
 * ill-formed one returns 0 and sets *skip to the length of its maximal subpart (the longest
 * prefix that could start a well-formed sequence, at least 1), which becomes one U+FFFD: the
 * Unicode "substitution of maximal subparts" that Python's errors="replace" also follows. */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp, size_t *skip)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t need, j;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0Fu;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07u;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    } else {
        *skip = 1;
        return 0;
    }
    for (j = 1; j <= need; j++) {
        if (j >= n || p[j] < lo || p[j] > hi) {
            *skip = j;
            return 0;
        }
        v = (v << 6) | (p[j] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

static const char hex_digits[] = "0123456789abcdef";

/* The JSON escape of an ASCII byte that needs one (quote, backslash, control). */
static void json_escape(struct ik__sb *s, uint8_t c)
{
    char u[6] = {'\\', 'u', '0', '0', 0, 0};
    switch (c) {
    case '"':
        ik__sb_add(s, "\\\"", 2);
        return;
    case '\\':
        ik__sb_add(s, "\\\\", 2);
        return;
    case '\b':
        ik__sb_add(s, "\\b", 2);
        return;
    case '\f':
        ik__sb_add(s, "\\f", 2);
        return;
    case '\n':
        ik__sb_add(s, "\\n", 2);
        return;
    case '\r':
        ik__sb_add(s, "\\r", 2);
        return;
    case '\t':
        ik__sb_add(s, "\\t", 2);
        return;
    default:
        u[4] = hex_digits[c >> 4];
        u[5] = hex_digits[c & 15];
        ik__sb_add(s, u, 6);
    }
}

/* True for bytes copied through unchanged in `mode` without decoding. */
static bool plain_ascii(uint8_t c, enum ik__pmode mode)
{
    if (c >= 0x80)
        return false;
    switch (mode) {
    case IK__PM_JSON:
        return c >= 0x20 && c != '"' && c != '\\';
    case IK__PM_TABLE:
        return c >= 0x20 && c != 0x7f;
    default:
        return true;
    }
}

void ik__put_text(struct ik__sb *s, const uint8_t *p, size_t n, enum ik__pmode mode)
{
    size_t i = 0;
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
    while (i < n) {
        size_t run = i, len, skip = 1;
        uint32_t cp;
        while (run < n && plain_ascii(p[run], mode))
            run++;
        ik__sb_add(s, p + i, run - i);
        if ((i = run) == n)
            break;
        if (p[i] < 0x80) { /* an ASCII byte that needs escaping */
            json_escape(s, p[i++]);
            continue;
        }
        len = utf8_next(p + i, n - i, &cp, &skip);
        if (len == 0) {
            if (mode == IK__PM_JSON)
                ik__sb_add(s, "\\ufffd", 6);
            else
                ik__sb_add(s, "\xef\xbf\xbd", 3);
            i += skip;
        } else if (mode == IK__PM_TABLE && cp >= 0x80 && cp < 0xA0) { /* C1 controls */
            ik__sb_printf(s, "\\u%04" PRIx32, cp);
            i += len;
        } else {
            ik__sb_add(s, p + i, len);
            i += len;
        }
    }
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
}

/* Columns a code point occupies on a terminal: 0 for combining marks and zero-width
 * characters, 2 for East Asian wide and fullwidth forms and emoji, 1 otherwise. */
static size_t cp_width(uint32_t c)
{
    static const uint32_t zero[][2] = {
        {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A},
        {0x064B, 0x065F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
        {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F},
    };
    static const uint32_t wide[][2] = {
        {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
        {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
        {0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
        {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
    };
    size_t i;
    if (c < 0x300)
        return 1;
    for (i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (c >= zero[i][0] && c <= zero[i][1])
            return 0;
    for (i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (c >= wide[i][0] && c <= wide[i][1])
            return 2;
    return 1;
}

size_t ik__text_width(const char *text, size_t n, size_t max, size_t *cut)
{
    const uint8_t *p = (const uint8_t *)text;
    size_t i = 0, w = 0;
    *cut = n;
    while (i < n) {
        uint32_t cp = 0xFFFD;
        size_t skip = 1, len = utf8_next(p + i, n - i, &cp, &skip), cw = cp_width(cp);
        if (w + cw > max && *cut == n)
            *cut = i;
        w += cw;
        i += len ? len : skip;
    }
    return w;
}

/* ---- scalars ------------------------------------------------------------------------------ */

void ik__put_hex(struct ik__sb *s, const uint8_t *p, size_t n, enum ik__pmode mode)
{
    char buf[64];
    size_t i, k = 0;
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
    for (i = 0; i < n; i++) {
        buf[k++] = hex_digits[p[i] >> 4];
        buf[k++] = hex_digits[p[i] & 15];
        if (k == sizeof buf) {
            ik__sb_add(s, buf, k);
            k = 0;
        }
    }
    if (k)
        ik__sb_add(s, buf, k);
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
}

/* A word that JSON spells as a string and the other formats bare. */
static void put_word(struct ik__sb *s, const char *w, enum ik__pmode mode)
{
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
    ik__sb_adds(s, w);
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
}

void ik__put_double(struct ik__sb *s, double v, enum ik__pmode mode)
{
    char buf[40];
    int prec, n = 0;
    if (isnan(v)) {
        put_word(s, "NaN", mode);
        return;
    }
    if (isinf(v)) {
        put_word(s, v > 0 ? "Infinity" : "-Infinity", mode);
        return;
    }
    /* The shortest of 15, 16 and 17 significant digits that reads back as the same double
     * (17 always does). */
    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (n > 0 && (size_t)n < sizeof buf)
        ik__sb_add(s, buf, (size_t)n);
}

double ik__half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    unsigned m = h & 0x3ffu;
    double v;
    if (e == 0)
        v = ldexp((double)m, -24); /* zero and subnormals */
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp((double)(m | 0x400u), e - 25);
    return (h & 0x8000) ? -v : v;
}

void ik__put_decimal(struct ik__sb *s, const uint8_t *p, int bytes, int32_t scale,
                     enum ik__pmode mode)
{
    uint32_t w[8];
    char digits[96] = {0}; /* least significant first; 2^256 has 78 digits */
    int nw = bytes / 4, i, nd = 0, top;
    bool neg = (p[bytes - 1] & 0x80) != 0;
    for (i = 0; i < nw; i++)
        w[i] = ik__ld_u32(p + 4 * i);
    if (neg) { /* magnitude of a two's complement number: invert and add one */
        uint64_t carry = 1;
        for (i = 0; i < nw; i++) {
            uint64_t x = (uint64_t)(uint32_t)~w[i] + carry;
            w[i] = (uint32_t)x;
            carry = x >> 32;
        }
    }
    /* Long division by 10^9, nine digits (least significant first) per step. */
    for (top = nw - 1; top >= 0;) {
        uint64_t rem = 0;
        int d;
        for (i = top; i >= 0; i--) {
            uint64_t cur = (rem << 32) | w[i];
            w[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        for (d = 0; d < 9; d++) {
            digits[nd++] = (char)('0' + rem % 10);
            rem /= 10;
        }
        while (top >= 0 && w[top] == 0)
            top--;
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (nd == 0)
        digits[nd++] = '0';
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
    if (neg)
        ik__sb_addc(s, '-');
    if (scale <= 0) {
        for (i = nd - 1; i >= 0; i--)
            ik__sb_addc(s, digits[i]);
        if (!(nd == 1 && digits[0] == '0'))
            for (i = 0; i < -scale; i++)
                ik__sb_addc(s, '0');
    } else {
        if (nd <= scale) {
            ik__sb_add(s, "0.", 2);
            for (i = nd; i < scale; i++)
                ik__sb_addc(s, '0');
        }
        for (i = nd - 1; i >= 0; i--) {
            ik__sb_addc(s, digits[i]);
            if (i == scale && i > 0)
                ik__sb_addc(s, '.');
        }
    }
    if (mode == IK__PM_JSON)
        ik__sb_addc(s, '"');
}

/* ---- dates and times ---------------------------------------------------------------------- */

/* The proleptic Gregorian date `days` after 1970-01-01. Days are counted from 0000-03-01 so a
 * leap day is the last day of its year; 400-year eras (146097 days) repeat exactly, so the
 * year of era and day of year follow from leap-rule corrections, then the month from the
 * 153-day five-month pattern starting in March. */
static void civil_date(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468; /* 1970-01-01 is day 719468 after 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0 = March */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void ik__put_date(struct ik__sb *s, int64_t days)
{
    int64_t y;
    int m, d;
    civil_date(days, &y, &m, &d);
    if (y < 0)
        ik__sb_printf(s, "-%04" PRId64 "-%02d-%02d", -y, m, d);
    else
        ik__sb_printf(s, "%04" PRId64 "-%02d-%02d", y, m, d);
}

static const uint64_t per_second[4] = {1, 1000, 1000000, 1000000000};

/* HH:MM:SS[.fff|.ffffff|.fffffffff] of `v` units (hours are not wrapped at 24). */
static void put_clock(struct ik__sb *s, uint64_t v, enum ik_time_unit unit)
{
    uint64_t ps = per_second[unit], secs = v / ps;
    ik__sb_printf(s, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, secs / 3600, secs / 60 % 60,
                  secs % 60);
    if (unit != IK_SECOND)
        ik__sb_printf(s, ".%0*" PRIu64, 3 * (int)unit, v % ps);
}

void ik__put_time(struct ik__sb *s, int64_t v, enum ik_time_unit unit)
{
    if (v < 0) { /* outside a day: shown, not wrapped */
        ik__sb_addc(s, '-');
        put_clock(s, (uint64_t)(-(v + 1)) + 1, unit);
    } else {
        put_clock(s, (uint64_t)v, unit);
    }
}

void ik__put_timestamp(struct ik__sb *s, int64_t v, enum ik_time_unit unit, bool utc)
{
    int64_t per_day = (int64_t)per_second[unit] * 86400, days = v / per_day, rem = v % per_day;
    if (rem < 0) {
        rem += per_day;
        days--;
    }
    ik__put_date(s, days);
    ik__sb_addc(s, 'T');
    put_clock(s, (uint64_t)rem, unit);
    if (utc)
        ik__sb_addc(s, 'Z');
}
