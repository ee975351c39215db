/* Validation of C Data Interface arrays against their schema: structure (counts, lengths,
 * offsets at the ends) at the default level, and every value that can make a reader go out of
 * bounds or misread (offsets, UTF-8, dictionary indices, union ids, run ends, null counts) at
 * the full level. Errors name the field path and the index. */
#include <stdio.h>
#include <stdlib.h>

#include "arrow/internal.h"

struct val {
    enum ik_validate_level level;
    bool utf8;
    struct ik_error *err;
    char path[256];
};

static int fail(struct val *v, int code, const char *fmt, int64_t a, int64_t b, int64_t c)
{
    char what[256];
    /* fmt takes up to three %lld; unused ones are ignored */
    // cppcheck-suppress wrongPrintfScanfArgNum
    snprintf(what, sizeof what, fmt, (long long)a, (long long)b, (long long)c);
    return ik_error_set(v->err, code, "field '%s': %s", v->path[0] ? v->path : "(root)", what);
}

static int64_t offset_at(const void *p, int w, int64_t i)
{
    return w == 4 ? ((const int32_t *)p)[i] : ((const int64_t *)p)[i];
}

/* UTF-8 well-formedness (RFC 3629: no overlongs, no surrogates, max U+10FFFF): the offset of
 * the first byte that starts no valid sequence, or -1. ASCII is skipped 32, then 8 bytes at a
 * time. */
int64_t ik__utf8_bad_at(const uint8_t *s, int64_t n)
{
    int64_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            uint64_t w[4];
            i++;
            while (i + 32 <= n && (memcpy(w, s + i, 32),
                                   ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull) == 0))
                i += 32;
            while (i + 8 <= n && (memcpy(w, s + i, 8), (w[0] & 0x8080808080808080ull) == 0))
                i += 8;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
                return i;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            if (i + 2 >= n || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80)
                return i;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            if (i + 3 >= n || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return i;
            i += 4;
        } else {
            return i;
        }
    }
    return -1;
}

/* Vectors of the GNU C extension (GCC and Clang): plain SIMD on any target, scalar code where
 * there is none. Loaded and stored with memcpy, so alignment is never assumed. */
typedef uint64_t ik_v2u64 __attribute__((vector_size(16)));
typedef int32_t ik_v4i32 __attribute__((vector_size(16)));
typedef int64_t ik_v2i64 __attribute__((vector_size(16)));

/* The length of the ASCII prefix of s[0, n): 64 bytes at a time, then byte by byte. */
static int64_t ascii_prefix(const uint8_t *s, int64_t n)
{
    int64_t i = 0;
    while (i + 64 <= n) {
        ik_v2u64 a, b, c, d;
        memcpy(&a, s + i, 16);
        memcpy(&b, s + i + 16, 16);
        memcpy(&c, s + i + 32, 16);
        memcpy(&d, s + i + 48, 16);
        a = (a | b | c | d) & 0x8080808080808080ull;
        if (a[0] | a[1])
            break;
        i += 64;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

/* Every value of a string array (offsets of width w) must be valid UTF-8 by itself, as
 * pyarrow's full validation requires: "\xc3" then "\xa9" is two invalid values although the
 * bytes together spell "é". Values are taken 256 at a time: their bytes are scanned as one
 * range (a call per value costs more than the scan of a short value). A range of ASCII alone
 * is valid value by value. Otherwise, while its bytes are in cache, no value but the first may
 * start with a continuation byte: in a range that scanned valid, a byte is a continuation byte
 * exactly when it does not start a sequence, so no sequence crosses a value boundary; the first
 * value of a range starting with one fails the scan itself. Only on failure are the values
 * scanned one by one, to name the first bad one. */
static int check_utf8(struct val *v, const struct ArrowArray *a, int w)
{
    const uint8_t *data = a->buffers[2];
    const void *off = a->buffers[1];
    int64_t i, k, end = a->offset + a->length, bad;
    for (i = a->offset; i < end; i += 256) {
        int64_t stop = end - i < 256 ? end : i + 256, first = offset_at(off, w, i),
                last = offset_at(off, w, stop), ascii = ascii_prefix(data + first, last - first);
        bool ok;
        if (ascii == last - first)
            continue;
        /* the bytes before `ascii` start sequences of their own: the scan may begin there */
        ok = ik__utf8_bad_at(data + first + ascii, last - first - ascii) < 0;
        for (k = i + 1; ok && k < stop; k++) {
            int64_t o = offset_at(off, w, k);
            ok = o >= last || (data[o] & 0xC0) != 0x80;
        }
        if (ok)
            continue;
        for (k = i; k < stop; k++) {
            int64_t o = offset_at(off, w, k);
            if ((bad = ik__utf8_bad_at(data + o, offset_at(off, w, k + 1) - o)) >= 0)
                return fail(v, IK_EINVALID, "invalid UTF-8 at index %lld (byte %lld of the value)",
                            k - a->offset, bad, 0);
        }
    }
    return 0;
}

/* 10^p as n little-endian 64-bit words (p <= 76 fits in four). */
static void pow10_words(int p, uint64_t *w, int n)
{
    int i, k;
    memset(w, 0, (size_t)n * sizeof *w);
    w[0] = 1;
    for (k = 0; k < p; k++) {
        uint64_t carry = 0;
        for (i = 0; i < n; i++) {
            uint64_t lo = (w[i] & 0xFFFFFFFFu) * 10 + carry;
            uint64_t hi = (w[i] >> 32) * 10 + (lo >> 32);
            w[i] = (hi << 32) | (lo & 0xFFFFFFFFu);
            carry = hi >> 32;
        }
    }
}

/* Whether the two's complement value v (n words) has |v| < limit. The most negative value of
 * 128 and 256 bits passes, as in Arrow C++ (its absolute value overflows to itself there). */
static bool decimal_fits(const uint64_t *v, const uint64_t *limit, int n)
{
    uint64_t m[4] = {0, 0, 0, 0};
    int i;
    if (v[n - 1] >> 63) { /* negate: invert and add one */
        uint64_t carry = 1;
        for (i = 0; i < n; i++) {
            m[i] = ~v[i] + carry;
            carry = carry && m[i] == 0;
        }
        if (m[n - 1] >> 63)
            return true;
    } else {
        memcpy(m, v, (size_t)n * sizeof *m);
    }
    for (i = n - 1; i >= 0; i--)
        if (m[i] != limit[i])
            return m[i] < limit[i];
    return false;
}

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/* Whether the decimal128 value i has |v| >= limit; the most negative value passes, as in
 * decimal_fits. */
static inline bool dec128_bad(const uint8_t *data, int64_t i, u128 limit)
{
    uint64_t w[2];
    i128 x;
    u128 m;
    memcpy(w, data + (size_t)i * 16, 16);
    x = (i128)(((u128)w[1] << 64) | w[0]);
    m = x < 0 ? (u128)0 - (u128)x : (u128)x;
    return m >= limit && (m >> 127) == 0;
}

/* Whether value i breaks its type's rule (see check_values): limit is 10^precision for
 * decimals (n words), max one day in the unit for times. */
static bool value_bad(const struct ik_type *t, const uint8_t *data, int64_t i, int n,
                      const uint64_t *limit, int64_t max)
{
    switch (t->id) {
    case IK_T_DATE64:
        return ((const int64_t *)data)[i] % 86400000 != 0;
    case IK_T_TIME32:
        return (uint32_t)((const int32_t *)data)[i] >= (uint64_t)max;
    case IK_T_TIME64:
        return (uint64_t)((const int64_t *)data)[i] >= (uint64_t)max;
    case IK_T_DECIMAL32: {
        int64_t x = ((const int32_t *)data)[i];
        return (x < 0 ? 0 - (uint64_t)x : (uint64_t)x) >= limit[0];
    }
    case IK_T_DECIMAL64: {
        int64_t x = ((const int64_t *)data)[i];
        return (x < 0 ? 0 - (uint64_t)x : (uint64_t)x) >= limit[0];
    }
    default: {
        uint64_t w[4];
        memcpy(w, data + (size_t)i * (size_t)n * 8, (size_t)n * 8);
        return !decimal_fits(w, limit, n);
    }
    }
}

/* Whether any value in [i, stop) breaks its rule, validity ignored: one loop per type, so each
 * compiles to a tight scan. */
static bool block_bad(const struct ik_type *t, const uint8_t *data, int64_t i, int64_t stop, int n,
                      const uint64_t *limit, int64_t max)
{
    bool any = false;
    int64_t k;
    switch (t->id) {
    case IK_T_DATE64:
        for (k = i; k < stop; k++)
            any |= ((const int64_t *)data)[k] % 86400000 != 0;
        return any;
    case IK_T_TIME32:
        for (k = i; k < stop; k++)
            any |= (uint32_t)((const int32_t *)data)[k] >= (uint64_t)max;
        return any;
    case IK_T_TIME64:
        for (k = i; k < stop; k++)
            any |= (uint64_t)((const int64_t *)data)[k] >= (uint64_t)max;
        return any;
    case IK_T_DECIMAL128: {
        u128 lim = ((u128)limit[1] << 64) | limit[0];
        for (k = i; k < stop; k++)
            any |= dec128_bad(data, k, lim);
        return any;
    }
    default:
        for (k = i; k < stop; k++)
            any |= value_bad(t, data, k, n, limit, max);
        return any;
    }
}

/* The value-range rules Arrow C++ applies in full validation: decimals within their declared
 * precision, date64 a whole number of days, time32/time64 inside one day. Nulls are skipped.
 * Values go 256 at a time through a scan that ignores validity; only a block holding a bad
 * value is looked at again, value by value, with the bitmap. */
static int check_values(struct val *v, const struct ArrowArray *a, const struct ik_type *t)
{
    static const int64_t day[] = {86400, 86400000, 86400000000, 86400000000000};
    const uint8_t *valid = a->buffers[0], *data = a->buffers[1];
    int64_t i, k, end = a->offset + a->length, max = 0;
    uint64_t limit[4] = {0, 0, 0, 0};
    int n = t->bit_width >= 128 ? t->bit_width / 64 : 1;
    if (t->id >= IK_T_DECIMAL32 && t->id <= IK_T_DECIMAL256) {
        if (t->precision < 1 || t->precision > 76)
            return 0;
        pow10_words(t->precision, limit, n);
    } else if (t->id == IK_T_TIME32 || t->id == IK_T_TIME64) {
        max = day[t->unit];
    } else if (t->id != IK_T_DATE64) {
        return 0;
    }
    for (i = a->offset; i < end; i += 256) {
        int64_t stop = end - i < 256 ? end : i + 256;
        if (!block_bad(t, data, i, stop, n, limit, max))
            continue;
        for (k = i; k < stop; k++) {
            if (!value_bad(t, data, k, n, limit, max) || (valid && !ik__bit_get(valid, k)))
                continue;
            if (t->id == IK_T_DATE64)
                return fail(v, IK_EINVALID, "date64 value %lld at index %lld is not a whole day",
                            ((const int64_t *)data)[k], k - a->offset, 0);
            if (t->id == IK_T_TIME32 || t->id == IK_T_TIME64)
                return fail(v, IK_EINVALID, "time value %lld at index %lld outside [0, %lld)",
                            t->id == IK_T_TIME32 ? ((const int32_t *)data)[k]
                                                 : ((const int64_t *)data)[k],
                            k - a->offset, max);
            return fail(v, IK_EINVALID,
                        "decimal value at index %lld does not fit in precision %lld", k - a->offset,
                        t->precision, 0);
        }
    }
    return 0;
}

static int validate_node(struct val *v, const struct ArrowSchema *s, const struct ArrowArray *a,
                         int depth);

static int children(struct val *v, const struct ArrowSchema *s, const struct ArrowArray *a,
                    int depth)
{
    int64_t i;
    for (i = 0; i < s->n_children; i++) {
        size_t n = strlen(v->path);
        int rc;
        snprintf(v->path + n, sizeof v->path - n, "%s%s", n ? "." : "",
                 s->children[i]->name ? s->children[i]->name : "?");
        rc = validate_node(v, s->children[i], a->children[i], depth + 1);
        v->path[n] = 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Whether offsets [from, to] ever go down: one branch-free loop per width, so it compiles to a
 * tight scan; only a failure is looked at again, offset by offset, to name the index. */
static bool offsets_descend(const void *o, int w, int64_t from, int64_t to)
{
    int64_t i = from;
    bool down = false;
    if (w == 4) {
        const int32_t *p = o;
        ik_v4i32 x, y, acc = {0, 0, 0, 0};
        for (; i + 4 <= to; i += 4) {
            memcpy(&x, p + i, 16);
            memcpy(&y, p + i + 1, 16);
            acc |= y < x;
        }
        for (down = (acc[0] | acc[1] | acc[2] | acc[3]) != 0; i < to; i++)
            down |= p[i + 1] < p[i];
    } else {
        const int64_t *p = o;
        ik_v2i64 x, y, acc = {0, 0};
        for (; i + 2 <= to; i += 2) {
            memcpy(&x, p + i, 16);
            memcpy(&y, p + i + 1, 16);
            acc |= y < x;
        }
        for (down = (acc[0] | acc[1]) != 0; i < to; i++)
            down |= p[i + 1] < p[i];
    }
    return down;
}

static int check_offsets(struct val *v, const struct ArrowArray *a, int w, int64_t limit)
{
    const void *o = a->buffers[1];
    int64_t i, end = a->offset + a->length, prev, cur;
    if (a->length == 0)
        return 0;
    prev = offset_at(o, w, a->offset);
    if (prev < 0 || offset_at(o, w, end) > limit || offset_at(o, w, end) < prev)
        return fail(v, EINVAL, "offsets out of range (first %lld, last %lld, limit %lld)", prev,
                    offset_at(o, w, end), limit);
    if (v->level != IK_VALIDATE_FULL || !offsets_descend(o, w, a->offset, end))
        return 0;
    for (i = a->offset + 1; i <= end; i++) {
        cur = offset_at(o, w, i);
        if (cur < prev)
            return fail(v, IK_EINVALID, "offsets not monotone at index %lld (%lld > %lld)",
                        i - a->offset, prev, cur);
        prev = cur;
    }
    return 0;
}

/* Whether any of the integers [from, to) of type t lies outside [0, limit), nulls included:
 * one branch-free loop per type (a negative value compares as a huge unsigned one). */
static bool ints_outside(const void *p, const struct ik_type *t, int64_t from, int64_t to,
                         int64_t limit)
{
    uint64_t lim = (uint64_t)limit;
    bool out = false;
    int64_t k;
#define IK_SCAN(T)                                                                                 \
    do {                                                                                           \
        const T *q = p;                                                                            \
        for (k = from; k < to; k++)                                                                \
            out |= (uint64_t)(int64_t)q[k] >= lim;                                                 \
    } while (0)
    switch (t->id) {
    case IK_T_INT8:
        IK_SCAN(int8_t);
        break;
    case IK_T_UINT8:
        IK_SCAN(uint8_t);
        break;
    case IK_T_INT16:
        IK_SCAN(int16_t);
        break;
    case IK_T_UINT16:
        IK_SCAN(uint16_t);
        break;
    case IK_T_INT32:
        IK_SCAN(int32_t);
        break;
    case IK_T_UINT32:
        IK_SCAN(uint32_t);
        break;
    default:
        IK_SCAN(int64_t);
        break;
    }
#undef IK_SCAN
    return out;
}

/* Integers (dictionary indices) below `limit`, nulls skipped. The scan ignores validity; only
 * when it finds a value out of range (perhaps under a null) are the values looked at one by
 * one with the bitmap. */
static int check_ints_below(struct val *v, const struct ArrowArray *a, const struct ik_type *t,
                            int64_t limit, const char *what)
{
    int64_t i;
    if (!ints_outside(a->buffers[1], t, a->offset, a->offset + a->length, limit))
        return 0;
    for (i = 0; i < a->length; i++) {
        int64_t k = a->offset + i, x;
        if (a->buffers[0] && !ik__bit_get(a->buffers[0], k))
            continue;
        switch (t->id) {
        case IK_T_INT8:
            x = ((const int8_t *)a->buffers[1])[k];
            break;
        case IK_T_UINT8:
            x = ((const uint8_t *)a->buffers[1])[k];
            break;
        case IK_T_INT16:
            x = ((const int16_t *)a->buffers[1])[k];
            break;
        case IK_T_UINT16:
            x = ((const uint16_t *)a->buffers[1])[k];
            break;
        case IK_T_INT32:
            x = ((const int32_t *)a->buffers[1])[k];
            break;
        case IK_T_UINT32:
            x = ((const uint32_t *)a->buffers[1])[k];
            break;
        case IK_T_UINT64:
            if (((const uint64_t *)a->buffers[1])[k] > (uint64_t)INT64_MAX) {
                char fmt[128];
                snprintf(fmt, sizeof fmt, "%s at index %%lld is above INT64_MAX", what);
                return fail(v, IK_EINVALID, fmt, i, 0, 0);
            }
            x = ((const int64_t *)a->buffers[1])[k];
            break;
        default:
            x = ((const int64_t *)a->buffers[1])[k];
            break;
        }
        if (x < 0 || x >= limit) {
            char fmt[128];
            snprintf(fmt, sizeof fmt, "%s %%lld at index %%lld out of range [0, %%lld)", what);
            return fail(v, IK_EINVALID, fmt, x, i, limit);
        }
    }
    return 0;
}

static int validate_node(struct val *v, const struct ArrowSchema *s, const struct ArrowArray *a,
                         int depth)
{
    struct ik_type t;
    int64_t nb, i, end;
    int rc;
    if (depth > 64)
        return fail(v, IK_ELIMIT, "nesting deeper than 64 levels", 0, 0, 0);
    if (a == NULL || a->release == NULL)
        return fail(v, EINVAL, "array missing or released", 0, 0, 0);
    if ((rc = ik__type_parse(s->format, &t, v->err)) != 0)
        return rc;
    if (a->length < 0 || a->offset < 0 || a->offset > INT64_MAX - a->length)
        return fail(v, EINVAL, "invalid length %lld or offset %lld", a->length, a->offset, 0);
    end = a->offset + a->length;
    nb = ik__type_n_buffers(&t);
    if (t.id == IK_T_BINARY_VIEW || t.id == IK_T_STRING_VIEW)
        nb = 3;
    if ((t.id == IK_T_BINARY_VIEW || t.id == IK_T_STRING_VIEW) ? a->n_buffers < nb
                                                               : a->n_buffers != nb)
        return fail(v, EINVAL, "%lld buffers, the type needs %lld", a->n_buffers, nb, 0);
    if (!s->dictionary && ik__type_n_children(&t) >= 0 && a->n_children != ik__type_n_children(&t))
        return fail(v, EINVAL, "%lld children, the type needs %lld", a->n_children,
                    ik__type_n_children(&t), 0);
    if (a->n_children != (s->dictionary ? 0 : s->n_children))
        return fail(v, EINVAL, "%lld children, the schema has %lld", a->n_children, s->n_children,
                    0);
    for (i = ik__type_has_validity(&t) ? 1 : 0; i < nb && a->length > 0; i++)
        if (a->buffers[i] == NULL && t.id != IK_T_NA)
            return fail(v, EINVAL, "buffer %lld is NULL", i, 0, 0);
    if (ik__type_has_validity(&t) && a->buffers[0] == NULL && a->null_count > 0)
        return fail(v, EINVAL, "null count %lld without a validity bitmap", a->null_count, 0, 0);
    if (v->level == IK_VALIDATE_FULL && ik__type_has_validity(&t) && a->buffers[0] &&
        a->null_count >= 0) {
        int64_t nulls = a->length - ik__bits_count(a->buffers[0], a->offset, a->length);
        if (nulls != a->null_count)
            return fail(v, IK_EINVALID, "null count %lld, the bitmap has %lld nulls", a->null_count,
                        nulls, 0);
    }
    if (s->dictionary) {
        if (a->dictionary == NULL)
            return fail(v, EINVAL, "dictionary-encoded but no dictionary", 0, 0, 0);
        if ((rc = validate_node(v, s->dictionary, a->dictionary, depth + 1)) != 0)
            return rc;
        if (v->level == IK_VALIDATE_FULL)
            return check_ints_below(v, a, &t, a->dictionary->length, "dictionary index");
        return 0;
    }
    switch (t.id) {
    case IK_T_STRING:
    case IK_T_LARGE_STRING:
    case IK_T_BINARY:
    case IK_T_LARGE_BINARY: {
        int w = (t.id == IK_T_STRING || t.id == IK_T_BINARY) ? 4 : 8;
        if ((rc = check_offsets(v, a, w, INT64_MAX)) != 0)
            return rc;
        if (v->level == IK_VALIDATE_FULL && v->utf8 &&
            (t.id == IK_T_STRING || t.id == IK_T_LARGE_STRING) && a->length > 0)
            return check_utf8(v, a, w);
        return 0;
    }
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_MAP:
        if ((rc = check_offsets(v, a, t.id == IK_T_LARGE_LIST ? 8 : 4, a->children[0]->length)) !=
            0)
            return rc;
        return children(v, s, a, depth);
    case IK_T_LIST_VIEW:
    case IK_T_LARGE_LIST_VIEW: {
        int w = t.id == IK_T_LARGE_LIST_VIEW ? 8 : 4;
        int64_t n = a->children[0]->length;
        for (i = a->offset; v->level == IK_VALIDATE_FULL && i < end; i++) {
            int64_t off = offset_at(a->buffers[1], w, i), len = offset_at(a->buffers[2], w, i);
            if (a->buffers[0] && !ik__bit_get(a->buffers[0], i))
                continue;
            if (off < 0 || len < 0 || off > n || len > n - off)
                return fail(v, IK_EINVALID, "list view at index %lld outside the child (%lld)",
                            i - a->offset, n, 0);
        }
        return children(v, s, a, depth);
    }
    case IK_T_FIXED_SIZE_LIST:
        if (t.fixed_size > 0 && a->children[0]->length / t.fixed_size < end)
            return fail(v, EINVAL, "child has %lld values, needs %lld", a->children[0]->length,
                        end * t.fixed_size, 0);
        return children(v, s, a, depth);
    case IK_T_STRUCT:
        for (i = 0; i < a->n_children; i++)
            if (a->children[i]->length < end)
                return fail(v, EINVAL, "child %lld has %lld values, needs %lld", i,
                            a->children[i]->length, end);
        return children(v, s, a, depth);
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION: {
        int8_t child_of[128];
        memset(child_of, -1, sizeof child_of);
        for (i = 0; i < t.n_type_ids; i++)
            child_of[t.type_ids[i]] = (int8_t)i;
        if (t.n_type_ids != a->n_children)
            return fail(v, EINVAL, "%lld type ids for %lld children", t.n_type_ids, a->n_children,
                        0);
        if (t.id == IK_T_SPARSE_UNION)
            for (i = 0; i < a->n_children; i++)
                if (a->children[i]->length < end)
                    return fail(v, EINVAL, "child %lld has %lld values, needs %lld", i,
                                a->children[i]->length, end);
        if (v->level == IK_VALIDATE_FULL)
            for (i = a->offset; i < end; i++) {
                int8_t id = ((const int8_t *)a->buffers[0])[i];
                if (id < 0 || child_of[id] < 0)
                    return fail(v, IK_EINVALID, "undeclared union type id %lld at index %lld", id,
                                i - a->offset, 0);
                if (t.id == IK_T_DENSE_UNION) {
                    int32_t o = ((const int32_t *)a->buffers[1])[i];
                    if (o < 0 || o >= a->children[child_of[id]]->length)
                        return fail(v, IK_EINVALID,
                                    "dense union offset %lld at index %lld out of range (%lld)", o,
                                    i - a->offset, a->children[child_of[id]]->length);
                }
            }
        return children(v, s, a, depth);
    }
    case IK_T_RUN_END_ENCODED: {
        const struct ArrowArray *re = a->children[0];
        struct ik_type rt;
        int64_t prev = 0;
        if ((rc = ik__type_parse(s->children[0]->format, &rt, v->err)) != 0)
            return rc;
        if (rt.id != IK_T_INT16 && rt.id != IK_T_INT32 && rt.id != IK_T_INT64)
            return fail(v, IK_EINVALID, "run ends must be int16, int32 or int64", 0, 0, 0);
        if (re->null_count != 0)
            return fail(v, IK_EINVALID, "run ends contain nulls", 0, 0, 0);
        if ((rc = children(v, s, a, depth)) != 0)
            return rc;
        if (a->children[1]->length < re->length)
            return fail(v, IK_EINVALID, "fewer values (%lld) than runs (%lld)",
                        a->children[1]->length, re->length, 0);
        for (i = 0; i < re->length && (v->level == IK_VALIDATE_FULL || i == re->length - 1); i++) {
            int64_t k = re->offset + i;
            int64_t e = rt.id == IK_T_INT16   ? ((const int16_t *)re->buffers[1])[k]
                        : rt.id == IK_T_INT32 ? ((const int32_t *)re->buffers[1])[k]
                                              : ((const int64_t *)re->buffers[1])[k];
            if (v->level == IK_VALIDATE_FULL && e <= prev)
                return fail(v, IK_EINVALID, "run ends not increasing at run %lld (%lld)", i, e, 0);
            prev = e;
        }
        if (a->length > 0 && prev < end)
            return fail(v, IK_EINVALID, "run ends cover %lld rows, need %lld", prev, end, 0);
        return 0;
    }
    case IK_T_BINARY_VIEW:
    case IK_T_STRING_VIEW: {
        int64_t n_var = a->n_buffers - 3;
        const int64_t *sizes = a->buffers[a->n_buffers - 1];
        if (v->level != IK_VALIDATE_FULL)
            return 0;
        for (i = a->offset; i < end; i++) {
            const uint8_t *view = (const uint8_t *)a->buffers[1] + 16 * i;
            int32_t len, idx, off;
            const uint8_t *data;
            if (a->buffers[0] && !ik__bit_get(a->buffers[0], i))
                continue;
            memcpy(&len, view, 4);
            if (len < 0)
                return fail(v, IK_EINVALID, "negative view length at index %lld", i - a->offset, 0,
                            0);
            if (len <= 12) {
                /* the spec pads an inline value with zeros; pyarrow holds readers to it */
                data = view + 4;
                for (int k = 4 + len; k < 16; k++)
                    if (view[k] != 0)
                        return fail(v, IK_EINVALID,
                                    "view at index %lld: inline value of %lld bytes has nonzero "
                                    "padding",
                                    i - a->offset, len, 0);
            } else {
                memcpy(&idx, view + 8, 4);
                memcpy(&off, view + 12, 4);
                if (idx < 0 || idx >= n_var || off < 0 || (int64_t)off + len > sizes[idx])
                    return fail(v, IK_EINVALID, "view at index %lld points outside buffer %lld",
                                i - a->offset, idx, 0);
                data = (const uint8_t *)a->buffers[2 + idx] + off;
                if (memcmp(view + 4, data, 4) != 0) /* comparisons trust the prefix */
                    return fail(v, IK_EINVALID,
                                "view at index %lld: prefix differs from the value's first bytes",
                                i - a->offset, 0, 0);
            }
            if (v->utf8 && t.id == IK_T_STRING_VIEW && ik__utf8_bad_at(data, len) >= 0)
                return fail(v, IK_EINVALID, "invalid UTF-8 at index %lld", i - a->offset, 0, 0);
        }
        return 0;
    }
    case IK_T_NA:
        if (v->level == IK_VALIDATE_FULL && a->null_count >= 0 && a->null_count != a->length)
            return fail(v, IK_EINVALID, "null array with null count %lld, length %lld",
                        a->null_count, a->length, 0);
        return 0;
    default:
        return v->level == IK_VALIDATE_FULL && a->length > 0 ? check_values(v, a, &t) : 0;
    }
}

int ik_array_validate(const struct ArrowSchema *schema, const struct ArrowArray *array,
                      enum ik_validate_level level, bool check_utf8, struct ik_error *err)
{
    struct val v;
    memset(&v, 0, sizeof v);
    v.level = level;
    v.utf8 = check_utf8;
    v.err = err;
    if (schema == NULL || schema->release == NULL)
        return ik_error_set(err, EINVAL, "schema missing or released");
    return validate_node(&v, schema, array, 0);
}
