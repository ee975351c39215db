/* Flatbuffers reader/verifier and builder (binary format of google/flatbuffers, internals.md).
 * The reader checks every access before use and records the first failure in struct ik_fb;
 * the builder writes back to front, children before parents. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "arrow/internal.h"

int ik__fb_init(struct ik_fb *fb, const void *buf, size_t len, struct ik_error *err)
{
    memset(fb, 0, sizeof *fb);
    if (len < 8 || len >= ((size_t)1 << 31))
        return ik_error_set(err, IK_EFORMAT, "flatbuffer of %zu bytes (must be 8 to 2^31)", len);
    fb->buf = buf;
    fb->len = (uint32_t)len;
    return 0;
}

void ik__fb_fail(struct ik_fb *fb, const char *fmt, ...)
{
    va_list ap;
    if (fb->code)
        return;
    fb->code = IK_EFORMAT;
    va_start(ap, fmt);
    vsnprintf(fb->message, sizeof fb->message, fmt, ap);
    va_end(ap);
}

bool ik__fb_failed(const struct ik_fb *fb)
{
    return fb->code != 0;
}

int ik__fb_error(const struct ik_fb *fb, const char *what, struct ik_error *err)
{
    if (!fb->code)
        return 0;
    return ik_error_set(err, fb->code, "%s: flatbuffer: %s", what, fb->message);
}

/* A table at `pos`: position, alignment, vtable. */
static struct ik_fbt table_at(struct ik_fb *fb, uint64_t pos)
{
    struct ik_fbt t = {fb, 0, 0, 0, 0};
    int64_t vt;
    if (fb->code)
        return t;
    if (pos == 0 || pos + 4 > fb->len || (pos & 3)) {
        ik__fb_fail(fb, "table at %llu out of bounds or misaligned (len %u)",
                    (unsigned long long)pos, fb->len);
        return t;
    }
    vt = (int64_t)pos - (int64_t)ik__ld_i32(fb->buf + pos);
    if (vt < 0 || (uint64_t)vt + 4 > fb->len || (vt & 1)) {
        ik__fb_fail(fb, "table at %llu: vtable at %lld out of bounds", (unsigned long long)pos,
                    (long long)vt);
        return t;
    }
    t.vt_size = ik__ld_u16(fb->buf + vt);
    t.tbl_size = ik__ld_u16(fb->buf + vt + 2);
    if (t.vt_size < 4 || (t.vt_size & 1) || (uint64_t)vt + t.vt_size > fb->len || t.tbl_size < 4 ||
        pos + t.tbl_size > fb->len) {
        ik__fb_fail(fb, "table at %llu: vtable size %u / table size %u invalid (len %u)",
                    (unsigned long long)pos, t.vt_size, t.tbl_size, fb->len);
        t.vt_size = t.tbl_size = 0;
        return t;
    }
    t.pos = (uint32_t)pos;
    t.vt = (uint32_t)vt;
    return t;
}

struct ik_fbt ik__fb_root(struct ik_fb *fb)
{
    return table_at(fb, ik__ld_u32(fb->buf));
}

/* Offset of field `id` inside the table, 0 if absent; checks `size` bytes fit the table. */
static uint32_t field(struct ik_fbt t, int id, uint32_t size)
{
    uint32_t slot = 4 + 2 * (uint32_t)id, off;
    if (t.pos == 0 || id < 0 || slot + 2 > t.vt_size)
        return 0;
    off = ik__ld_u16(t.fb->buf + t.vt + slot);
    if (off == 0)
        return 0;
    if (off + size > t.tbl_size) {
        ik__fb_fail(t.fb, "table at %u: field %d (offset %u, %u bytes) past table end (%u)", t.pos,
                    id, off, size, t.tbl_size);
        return 0;
    }
    /* a scalar (or offset, or struct) sits at its own alignment in the buffer, as the
     * flatbuffers verifier that Arrow C++ runs requires */
    if ((t.pos + off) % (size >= 8 ? 8 : size) != 0) {
        ik__fb_fail(t.fb, "table at %u: field %d misaligned (offset %u, %u bytes)", t.pos, id, off,
                    size);
        return 0;
    }
    return off;
}

bool ik__fbt_has(struct ik_fbt t, int id)
{
    return field(t, id, 1) != 0;
}

#define SCALAR(name, type, size, load)                                                             \
    type name(struct ik_fbt t, int id, type dflt)                                                  \
    {                                                                                              \
        uint32_t off = field(t, id, size);                                                         \
        return off ? (type)(load) : dflt;                                                          \
    }

SCALAR(ik__fbt_i8, int8_t, 1, (int8_t)t.fb->buf[t.pos + off])
SCALAR(ik__fbt_u8, uint8_t, 1, t.fb->buf[t.pos + off])
SCALAR(ik__fbt_i16, int16_t, 2, (int16_t)ik__ld_u16(t.fb->buf + t.pos + off))
SCALAR(ik__fbt_i32, int32_t, 4, ik__ld_i32(t.fb->buf + t.pos + off))
SCALAR(ik__fbt_i64, int64_t, 8, ik__ld_i64(t.fb->buf + t.pos + off))

bool ik__fbt_bool(struct ik_fbt t, int id, bool dflt)
{
    uint32_t off = field(t, id, 1);
    return off ? t.fb->buf[t.pos + off] != 0 : dflt;
}

/* Follows the uoffset stored in field `id`; 0 if absent or bad. */
static uint64_t deref(struct ik_fbt t, int id)
{
    uint32_t off = field(t, id, 4);
    uint64_t at, target;
    if (off == 0)
        return 0;
    at = (uint64_t)t.pos + off;
    target = at + ik__ld_u32(t.fb->buf + at);
    if (target + 4 > t.fb->len) {
        ik__fb_fail(t.fb, "table at %u: field %d points past end (%llu, len %u)", t.pos, id,
                    (unsigned long long)target, t.fb->len);
        return 0;
    }
    return target;
}

struct ik_fbt ik__fbt_table(struct ik_fbt t, int id)
{
    struct ik_fbt none = {t.fb, 0, 0, 0, 0};
    uint64_t p = deref(t, id);
    return p ? table_at(t.fb, p) : none;
}

static struct ik_fbs string_at(struct ik_fb *fb, uint64_t p)
{
    struct ik_fbs s = {NULL, 0};
    uint32_t n;
    if (p == 0 || fb->code)
        return s;
    if ((p & 3) || p + 4 > fb->len) {
        ik__fb_fail(fb, "string at %llu misaligned or out of bounds", (unsigned long long)p);
        return s;
    }
    n = ik__ld_u32(fb->buf + p);
    if (p + 4 + (uint64_t)n + 1 > fb->len || fb->buf[p + 4 + n] != 0) {
        ik__fb_fail(fb, "string at %llu (length %u) past end or not NUL-terminated (len %u)",
                    (unsigned long long)p, n, fb->len);
        return s;
    }
    s.ptr = (const char *)fb->buf + p + 4;
    s.len = n;
    return s;
}

struct ik_fbs ik__fbt_string(struct ik_fbt t, int id)
{
    return string_at(t.fb, deref(t, id));
}

struct ik_fbv ik__fbt_vector(struct ik_fbt t, int id, uint32_t elem_size)
{
    struct ik_fbv v = {t.fb, 0, 0};
    uint64_t p = deref(t, id);
    uint32_t n;
    if (p == 0)
        return v;
    if (p & 3) {
        ik__fb_fail(t.fb, "vector at %llu misaligned", (unsigned long long)p);
        return v;
    }
    n = ik__ld_u32(t.fb->buf + p);
    if ((uint64_t)n * elem_size > t.fb->len - p - 4) {
        ik__fb_fail(t.fb, "vector at %llu: %u elements of %u bytes past end (len %u)",
                    (unsigned long long)p, n, elem_size, t.fb->len);
        return v;
    }
    v.pos = (uint32_t)p + 4;
    v.n = n;
    return v;
}

const uint8_t *ik__fbt_struct(struct ik_fbt t, int id, uint32_t size)
{
    uint32_t off = field(t, id, size);
    return off ? t.fb->buf + t.pos + off : NULL;
}

const uint8_t *ik__fbv_elem(struct ik_fbv v, uint32_t i, uint32_t elem_size)
{
    if (v.pos == 0 || i >= v.n)
        return NULL;
    return v.fb->buf + v.pos + (uint64_t)i * elem_size;
}

static uint64_t vec_deref(struct ik_fbv v, uint32_t i)
{
    uint64_t at, target;
    if (v.pos == 0 || i >= v.n || v.fb->code)
        return 0;
    at = v.pos + (uint64_t)i * 4;
    target = at + ik__ld_u32(v.fb->buf + at);
    if (target + 4 > v.fb->len) {
        ik__fb_fail(v.fb, "vector element %u at %llu points past end", i, (unsigned long long)at);
        return 0;
    }
    return target;
}

struct ik_fbt ik__fbv_table(struct ik_fbv v, uint32_t i)
{
    struct ik_fbt none = {v.fb, 0, 0, 0, 0};
    uint64_t p = vec_deref(v, i);
    return p ? table_at(v.fb, p) : none;
}

struct ik_fbs ik__fbv_string(struct ik_fbv v, uint32_t i)
{
    return string_at(v.fb, vec_deref(v, i));
}

/* ---- builder ------------------------------------------------------------------------------ */

void ik__fbb_init(struct ik_fbb *b)
{
    memset(b, 0, sizeof *b);
    b->minalign = 8;
}

void ik__fbb_reset(struct ik_fbb *b)
{
    free(b->buf);
    ik__fbb_init(b);
}

void ik__fbb_clear(struct ik_fbb *b)
{
    b->size = 0;
    b->minalign = 8;
    b->failed = false; /* a failed growth left the buffer as it was */
    b->in_table = false;
    b->n_fields = 0;
}

bool ik__fbb_failed(const struct ik_fbb *b)
{
    return b->failed;
}

/* Makes room for n more bytes at the front; returns the new front pointer. */
static uint8_t *front(struct ik_fbb *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *q;
        while (cap < b->size + n)
            cap *= 2;
        q = malloc(cap);
        if (q == NULL) {
            b->failed = true;
            return NULL;
        }
        if (b->size)
            memcpy(q + cap - b->size, b->buf + b->cap - b->size, b->size);
        free(b->buf);
        b->buf = q;
        b->cap = cap;
    }
    b->size += n;
    return b->buf + b->cap - b->size;
}

/* Pads so that after writing `n` more bytes the size is a multiple of `align`. */
static void align_for(struct ik_fbb *b, size_t n, size_t align)
{
    size_t pad = (align - (b->size + n) % align) % align;
    uint8_t *p;
    if (align > b->minalign)
        b->minalign = align;
    if (pad && (p = front(b, pad)) != NULL)
        memset(p, 0, pad);
}

ik_fbref ik__fbb_string(struct ik_fbb *b, const char *s, size_t len)
{
    uint8_t *p;
    align_for(b, len + 1 + 4, 4);
    p = front(b, len + 1 + 4);
    if (p == NULL)
        return 0;
    ik__st_u32(p, (uint32_t)len);
    if (len)
        memcpy(p + 4, s, len);
    p[4 + len] = 0;
    return (ik_fbref)b->size;
}

ik_fbref ik__fbb_vector_bytes(struct ik_fbb *b, const void *elems, uint32_t n, uint32_t elem_size,
                              uint32_t align)
{
    size_t bytes = (size_t)n * elem_size;
    uint8_t *p;
    align_for(b, bytes, align < 4 ? 4 : align);
    align_for(b, bytes + 4, 4);
    p = front(b, bytes + 4);
    if (p == NULL)
        return 0;
    ik__st_u32(p, n);
    if (bytes)
        memcpy(p + 4, elems, bytes);
    return (ik_fbref)b->size;
}

ik_fbref ik__fbb_vector_refs(struct ik_fbb *b, const ik_fbref *refs, uint32_t n)
{
    uint8_t *p;
    uint32_t i;
    align_for(b, (size_t)n * 4 + 4, 4);
    p = front(b, (size_t)n * 4 + 4);
    if (p == NULL)
        return 0;
    ik__st_u32(p, n);
    for (i = 0; i < n; i++) {
        /* element i sits at distance (size - 4 - 4i) from the end */
        uint32_t here = (uint32_t)b->size - 4 - 4 * i;
        ik__st_u32(p + 4 + 4 * i, here - refs[i]);
    }
    return (ik_fbref)b->size;
}

void ik__fbb_table_start(struct ik_fbb *b)
{
    b->in_table = true;
    b->n_fields = 0;
}

static struct ik__fbb_field *add_field(struct ik_fbb *b, int id, uint8_t size, uint8_t align)
{
    struct ik__fbb_field *f;
    if (b->n_fields >= 64 || id < 0 || id > 63) {
        b->failed = true;
        return NULL;
    }
    f = &b->fields[b->n_fields++];
    memset(f, 0, sizeof *f);
    f->id = (uint16_t)id;
    f->size = size;
    f->align = align;
    return f;
}

static void add_scalar(struct ik_fbb *b, int id, uint64_t v, uint8_t size)
{
    struct ik__fbb_field *f = add_field(b, id, size, size);
    int i;
    if (f)
        for (i = 0; i < size; i++)
            f->bytes[i] = (uint8_t)(v >> (8 * i));
}

void ik__fbb_add_bool(struct ik_fbb *b, int id, bool v)
{
    add_scalar(b, id, v ? 1 : 0, 1);
}
void ik__fbb_add_u8(struct ik_fbb *b, int id, uint8_t v)
{
    add_scalar(b, id, v, 1);
}
void ik__fbb_add_i16(struct ik_fbb *b, int id, int16_t v)
{
    add_scalar(b, id, (uint16_t)v, 2);
}
void ik__fbb_add_i32(struct ik_fbb *b, int id, int32_t v)
{
    add_scalar(b, id, (uint32_t)v, 4);
}
void ik__fbb_add_i64(struct ik_fbb *b, int id, int64_t v)
{
    add_scalar(b, id, (uint64_t)v, 8);
}

void ik__fbb_add_ref(struct ik_fbb *b, int id, ik_fbref ref)
{
    struct ik__fbb_field *f;
    if (ref == 0)
        return;
    f = add_field(b, id, 4, 4);
    if (f) {
        f->is_ref = 1;
        memcpy(f->bytes, &ref, 4);
    }
}

void ik__fbb_add_struct(struct ik_fbb *b, int id, const void *data, uint8_t size, uint8_t align)
{
    struct ik__fbb_field *f = size <= 32 ? add_field(b, id, size, align) : NULL;
    if (f)
        memcpy(f->bytes, data, size);
    else
        b->failed = true;
}

ik_fbref ik__fbb_table_end(struct ik_fbb *b)
{
    uint32_t offs[64] = {0};
    int i, max_id = -1, pass;
    size_t table_end = b->size, vt_size, tbl_size;
    uint8_t *p;
    ik_fbref table;
    b->in_table = false;
    /* Fields largest alignment first, so padding stays small. */
    for (pass = 8; pass >= 1; pass /= 2) {
        for (i = 0; i < b->n_fields; i++) {
            struct ik__fbb_field *f = &b->fields[i];
            if (f->align != pass)
                continue;
            align_for(b, f->size, f->align);
            p = front(b, f->size);
            if (p == NULL)
                return 0;
            if (f->is_ref) {
                ik_fbref ref;
                memcpy(&ref, f->bytes, 4);
                ik__st_u32(p, (uint32_t)b->size - ref);
            } else {
                memcpy(p, f->bytes, f->size);
            }
            offs[f->id] = (uint32_t)b->size;
            if (f->id > max_id)
                max_id = f->id;
        }
    }
    align_for(b, 4, 4);
    p = front(b, 4); /* soffset to the vtable, filled below */
    if (p == NULL)
        return 0;
    table = (ik_fbref)b->size;
    tbl_size = b->size - table_end;
    vt_size = 4 + 2 * (size_t)(max_id + 1);
    {
        uint8_t *vt = front(b, vt_size);
        if (vt == NULL || tbl_size > 0xFFFF)
            return b->failed = true, 0;
        vt[0] = (uint8_t)vt_size;
        vt[1] = (uint8_t)(vt_size >> 8);
        vt[2] = (uint8_t)tbl_size;
        vt[3] = (uint8_t)(tbl_size >> 8);
        for (i = 0; i <= max_id; i++) {
            uint32_t o = offs[i] ? table - offs[i] : 0;
            vt[4 + 2 * i] = (uint8_t)o;
            vt[5 + 2 * i] = (uint8_t)(o >> 8);
        }
        /* vtable precedes the table: soffset = table - vtable (positive) */
        ik__st_u32(b->buf + b->cap - table, (uint32_t)(int32_t)vt_size);
    }
    return table;
}

int ik__fbb_finish(struct ik_fbb *b, ik_fbref root, const uint8_t **data, size_t *len)
{
    uint8_t *p;
    align_for(b, 4, b->minalign);
    p = front(b, 4);
    if (p == NULL || b->failed)
        return ENOMEM;
    ik__st_u32(p, (uint32_t)b->size - root);
    *data = b->buf + b->cap - b->size;
    *len = b->size;
    return 0;
}
