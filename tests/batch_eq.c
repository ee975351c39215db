/* Value-by-value batch comparison and value accessors for the tests (see batch_eq.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arrow/internal.h"
#include "batch_eq.h"

bool ik_test_is_null(const struct ArrowArray *col, int64_t i)
{
    const uint8_t *v = col->buffers[0];
    int64_t j = col->offset + i;
    return v != NULL && !(v[j >> 3] & (1u << (j & 7)));
}

static int64_t index_at(const char *format, const struct ArrowArray *col, int64_t j)
{
    switch (format[0]) {
    case 'c':
        return ((const int8_t *)col->buffers[1])[j];
    case 'C':
        return ((const uint8_t *)col->buffers[1])[j];
    case 's':
        return ((const int16_t *)col->buffers[1])[j];
    case 'S':
        return ((const uint16_t *)col->buffers[1])[j];
    case 'i':
        return ((const int32_t *)col->buffers[1])[j];
    case 'I':
        return ((const uint32_t *)col->buffers[1])[j];
    default:
        return ((const int64_t *)col->buffers[1])[j];
    }
}

static const char *bytes_at(const char *format, const struct ArrowArray *col, int64_t j,
                            size_t *len)
{
    if (format[0] == 'U' || format[0] == 'Z') {
        const int64_t *o = col->buffers[1];
        *len = (size_t)(o[j + 1] - o[j]);
        return (const char *)col->buffers[2] + o[j];
    }
    const int32_t *o = col->buffers[1];
    *len = (size_t)(o[j + 1] - o[j]);
    return (const char *)col->buffers[2] + o[j];
}

const char *ik_test_str(const struct ArrowSchema *field, const struct ArrowArray *col, int64_t i,
                        size_t *len)
{
    int64_t j = col->offset + i;
    if (field->dictionary) {
        const struct ArrowArray *d = col->dictionary;
        return bytes_at(field->dictionary->format, d, d->offset + index_at(field->format, col, j),
                        len);
    }
    return bytes_at(field->format, col, j, len);
}

int64_t ik_test_int(const struct ArrowSchema *field, const struct ArrowArray *col, int64_t i)
{
    const char *f = field->format;
    int64_t j = col->offset + i;
    if (f[0] == 't' && (f[1] == 's' || f[1] == 'D' || f[1] == 'd'))
        f = (f[1] == 'd' && f[2] == 'D') ? "i" : "l";
    if (f[0] == 't' && f[1] == 't')
        f = (f[2] == 's' || f[2] == 'm') ? "i" : "l";
    return index_at(f, col, j);
}

double ik_test_double(const struct ArrowArray *col, int64_t i)
{
    return ((const double *)col->buffers[1])[col->offset + i];
}

bool ik_test_bool(const struct ArrowArray *col, int64_t i)
{
    const uint8_t *d = col->buffers[1];
    int64_t j = col->offset + i;
    return (d[j >> 3] >> (j & 7)) & 1;
}

static bool value_equal(const struct ArrowSchema *f, const struct ArrowArray *a, int64_t i,
                        const struct ArrowArray *b, int64_t k)
{
    struct ik_type t;
    if (f->dictionary || strchr("uUzZ", f->format[0]) != NULL) {
        size_t la, lb;
        const char *sa = ik_test_str(f, a, i, &la), *sb = ik_test_str(f, b, k, &lb);
        return la == lb && memcmp(sa, sb, la) == 0;
    }
    if (ik__type_parse(f->format, &t, NULL) != 0)
        return false;
    if (t.id == IK_T_BOOL)
        return ik_test_bool(a, i) == ik_test_bool(b, k);
    size_t w = (size_t)t.bit_width / 8;
    return memcmp((const uint8_t *)a->buffers[1] + (size_t)(a->offset + i) * w,
                  (const uint8_t *)b->buffers[1] + (size_t)(b->offset + k) * w, w) == 0;
}

bool ik_test_batch_equal(const struct ArrowSchema *schema, const struct ArrowArray *a,
                         const struct ArrowArray *b, char *why, size_t why_len)
{
    int64_t c, r;
    if (a->length != b->length || a->n_children != b->n_children ||
        a->n_children != schema->n_children) {
        snprintf(why, why_len,
                 "shape differs: %" PRId64 "/%" PRId64 " rows, %" PRId64 "/%" PRId64 " columns",
                 a->length, b->length, a->n_children, b->n_children);
        return false;
    }
    for (c = 0; c < schema->n_children; c++) {
        const struct ArrowSchema *f = schema->children[c];
        const struct ArrowArray *ca = a->children[c], *cb = b->children[c];
        for (r = 0; r < a->length; r++) {
            int64_t i = a->offset + r, k = b->offset + r;
            bool na = ik_test_is_null(ca, i), nb = ik_test_is_null(cb, k);
            if (na != nb || (!na && !value_equal(f, ca, i, cb, k))) {
                snprintf(why, why_len, "column '%s' row %" PRId64 " differs%s", f->name, r,
                         na != nb ? " in nullness" : "");
                return false;
            }
        }
    }
    return true;
}
