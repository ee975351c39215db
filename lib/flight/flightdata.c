/* FlightData by hand. Out: the IPC stream writer's bytes are cut into messages (prefix,
 * flatbuffer header, body) and each becomes one FlightData protobuf in a gRPC byte buffer:
 * a small slice with data_header and the field keys, then the body as slices that point into
 * the mapped segments (holding a reference on their owner) wherever the writer's bytes lie in
 * them; rebased offsets the writer computed are taken over as slices of their own; only other
 * bytes outside them (padding, gathered rows) are copied. In: a FlightData protobuf parsed in
 * place, its IPC message fed to a stream reader. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "arrow/ipc_encode.h"
#include "arrow/ipc_internal.h"
#include "flight/flight.h"

enum { ST_PREFIX, ST_META, ST_BODY };

struct piece {
    const uint8_t *ref; /* in a range, or NULL: `len` bytes at `off` of the copy buffer */
    size_t off, len;
    void *own; /* or a block the writer computed and handed over (freed with its slice) */
};

/* Blocks the writer computes (rebased offsets) are taken over rather than copied from this
 * size on; smaller ones are copied beside the padding. */
#define TAKE_MIN 4096

struct ik_flight_encoder {
    struct ik_ipc_writer *w;
    struct ik_flight_range *ranges;
    size_t n_ranges;
    struct ik_flight_owner owner;
    int state;
    uint8_t prefix[8];
    size_t prefix_got;
    uint8_t *meta;
    size_t meta_len, meta_got, meta_cap;
    uint64_t body_len, body_got;
    struct piece *pieces;
    size_t n_pieces, cap_pieces;
    uint8_t *copy;
    size_t copy_len, copy_cap;
    grpc_byte_buffer **q; /* finished messages, q[head..len) */
    size_t q_head, q_len, q_cap;
    int64_t referenced, copied;
    struct ik_flight_pool *pool; /* where the writer's computed blocks come from, or NULL */
};

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static const struct ik_flight_range *range_of(const struct ik_flight_encoder *e, const uint8_t *p,
                                              size_t len)
{
    for (size_t i = 0; i < e->n_ranges; i++) {
        const struct ik_flight_range *r = &e->ranges[i];
        if (p >= r->data && len <= r->len && (size_t)(p - r->data) <= r->len - len)
            return r;
    }
    return NULL;
}

static int add_piece(struct ik_flight_encoder *e, struct piece pc)
{
    const struct piece *last = e->n_pieces ? &e->pieces[e->n_pieces - 1] : NULL;
    if (last && (pc.own || last->own))
        last = NULL; /* a taken block is a slice of its own */
    if (last && pc.ref == NULL && e->pieces[e->n_pieces - 1].ref == NULL) {
        e->pieces[e->n_pieces - 1].len += pc.len; /* adjacent copies merge */
        return 0;
    }
    if (last && pc.ref && e->pieces[e->n_pieces - 1].ref &&
        e->pieces[e->n_pieces - 1].ref + e->pieces[e->n_pieces - 1].len == pc.ref) {
        e->pieces[e->n_pieces - 1].len += pc.len; /* contiguous references merge */
        return 0;
    }
    if (e->n_pieces == e->cap_pieces) {
        size_t c = e->cap_pieces ? 2 * e->cap_pieces : 32;
        struct piece *p = realloc(e->pieces, c * sizeof *p);
        if (p == NULL)
            return ENOMEM;
        e->pieces = p;
        e->cap_pieces = c;
    }
    e->pieces[e->n_pieces++] = pc;
    return 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    size_t c = *cap ? *cap : 256;
    uint8_t *p;
    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if ((p = realloc(*buf, c)) == NULL)
        return ENOMEM;
    *buf = p;
    *cap = c;
    return 0;
}

static int queue_push(struct ik_flight_encoder *e, grpc_byte_buffer *bb)
{
    if (e->q_head > 0 && e->q_head == e->q_len)
        e->q_head = e->q_len = 0;
    if (e->q_len == e->q_cap) {
        size_t c = e->q_cap ? 2 * e->q_cap : 8;
        grpc_byte_buffer **p = realloc(e->q, c * sizeof *p);
        if (p == NULL)
            return ENOMEM;
        e->q = p;
        e->q_cap = c;
    }
    e->q[e->q_len++] = bb;
    return 0;
}

static void free_with_len(void *p, size_t len)
{
    (void)len;
    free(p);
}

static void *pool_alloc(void *ctx, size_t n)
{
    return ik_flight_pool_get(ctx, n);
}

static void pool_free(void *ctx, void *p)
{
    (void)ctx;
    ik_flight_pool_put(p);
}

static void pool_free_slice(void *p)
{
    ik_flight_pool_put(p);
}

/* Gives back a block the writer computed and the encoder took over. */
static void own_free(const struct ik_flight_encoder *e, void *p)
{
    if (e->pool)
        ik_flight_pool_put(p);
    else
        free(p);
}

/* Forgets the pieces gathered, freeing the blocks taken over that no slice holds yet. */
static void drop_pieces(struct ik_flight_encoder *e)
{
    for (size_t i = 0; i < e->n_pieces; i++)
        if (e->pieces[i].own)
            own_free(e, e->pieces[i].own);
    e->n_pieces = 0;
}

/* The message gathered (meta in e->meta, body in e->pieces) becomes a byte buffer. */
static int finish_message(struct ik_flight_encoder *e, struct ik_error *err)
{
    size_t n_slices = 1 + e->n_pieces, k = 0, head_len;
    grpc_slice *slices = calloc(n_slices, sizeof *slices), copy_base;
    grpc_byte_buffer *bb;
    uint8_t *h;
    int rc = 0;
    if (slices == NULL) {
        drop_pieces(e);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    head_len = 1 + 10 + e->meta_len + (e->body_len ? 2 + 10 : 0);
    slices[k] = grpc_slice_malloc(head_len);
    h = GRPC_SLICE_START_PTR(slices[k]);
    head_len = 0;
    h[head_len++] = 0x12; /* data_header = 2, length-delimited */
    head_len += put_varint(h + head_len, e->meta_len);
    memcpy(h + head_len, e->meta, e->meta_len);
    head_len += e->meta_len;
    if (e->body_len) {
        h[head_len++] = 0xc2; /* data_body = 1000, length-delimited: key 8002 as a varint */
        h[head_len++] = 0x3e;
        head_len += put_varint(h + head_len, e->body_len);
    }
    GRPC_SLICE_SET_LENGTH(slices[k], head_len);
    k++;
    copy_base = grpc_empty_slice();
    if (e->copy_len) {
        copy_base = grpc_slice_new_with_len(e->copy, e->copy_len, free_with_len);
        e->copy = NULL;
        e->copy_len = e->copy_cap = 0;
    }
    for (size_t i = 0; i < e->n_pieces; i++) {
        const struct piece *pc = &e->pieces[i];
        if (pc->own) { /* computed here (rebased offsets): the slice frees it */
            slices[k++] =
                e->pool ? grpc_slice_new_with_user_data(pc->own, pc->len, pool_free_slice, pc->own)
                        : grpc_slice_new_with_len(pc->own, pc->len, free_with_len);
            e->copied += (int64_t)pc->len;
        } else if (pc->ref) {
            e->owner.ref(e->owner.ctx);
            slices[k++] = grpc_slice_new_with_user_data((void *)pc->ref, pc->len, e->owner.unref,
                                                        e->owner.ctx);
            e->referenced += (int64_t)pc->len;
        } else {
            slices[k++] = grpc_slice_sub(copy_base, pc->off, pc->off + pc->len);
            e->copied += (int64_t)pc->len;
        }
    }
    grpc_slice_unref(copy_base);
    bb = grpc_raw_byte_buffer_create(slices, k);
    for (size_t i = 0; i < k; i++)
        grpc_slice_unref(slices[i]);
    free(slices);
    if (bb == NULL || queue_push(e, bb) != 0) {
        if (bb)
            grpc_byte_buffer_destroy(bb);
        rc = ik_error_set(err, ENOMEM, "out of memory");
    }
    e->n_pieces = 0; /* the taken blocks now belong to their slices */
    e->state = ST_PREFIX;
    e->prefix_got = e->meta_got = e->meta_len = 0;
    e->body_len = e->body_got = 0;
    return rc;
}

/* The header is done: read its body length, then expect the body. */
static int meta_done(struct ik_flight_encoder *e, struct ik_error *err)
{
    struct ik_fb fb;
    struct ik_fbt root;
    int64_t body;
    if (ik__fb_init(&fb, e->meta, e->meta_len, err) != 0)
        return ik_error_prefix(err, IK_EFORMAT, "flight: encoded message");
    root = ik__fb_root(&fb);
    body = ik__fbt_i64(root, IK_MSG_BODY_LENGTH, 0);
    if (ik__fb_failed(&fb) || body < 0)
        return ik_error_set(err, IK_EFORMAT, "flight: encoded message has no body length");
    e->body_len = (uint64_t)body;
    e->state = ST_BODY;
    return e->body_len == 0 ? finish_message(e, err) : 0;
}

static int body_bytes(struct ik_flight_encoder *e, const uint8_t *p, size_t k, struct ik_error *err)
{
    if (e->n_ranges && range_of(e, p, k)) {
        if (add_piece(e, (struct piece){p, 0, k, NULL}) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
    } else if (k >= TAKE_MIN && ik__ipc_writer_take_scratch(e->w, p)) {
        if (add_piece(e, (struct piece){NULL, 0, k, (void *)p}) != 0) {
            own_free(e, (void *)p);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
    } else {
        if (grow(&e->copy, &e->copy_cap, e->copy_len + k) != 0 ||
            add_piece(e, (struct piece){NULL, e->copy_len, k, NULL}) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        memcpy(e->copy + e->copy_len, p, k);
        e->copy_len += k;
    }
    e->body_got += k;
    return e->body_got == e->body_len ? finish_message(e, err) : 0;
}

/* The writer's sink: bytes of the IPC stream, cut into messages. */
static int sink(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct ik_flight_encoder *e = ctx;
    const uint8_t *p = data;
    int rc = 0;
    while (len > 0 && rc == 0) {
        size_t k;
        if (e->state == ST_PREFIX) {
            k = 8 - e->prefix_got < len ? 8 - e->prefix_got : len;
            memcpy(e->prefix + e->prefix_got, p, k);
            e->prefix_got += k;
            if (e->prefix_got == 8) {
                e->meta_len = ik__ld_u32(e->prefix + 4);
                e->meta_got = 0;
                if (ik__ld_u32(e->prefix) != IK_CONTINUATION)
                    rc = ik_error_set(err, IK_EFORMAT, "flight: writer emitted no continuation");
                else if (e->meta_len == 0)
                    e->prefix_got = 0; /* end of stream: Flight has none */
                else if (grow(&e->meta, &e->meta_cap, e->meta_len) != 0)
                    rc = ik_error_set(err, ENOMEM, "out of memory");
                else
                    e->state = ST_META;
            }
        } else if (e->state == ST_META) {
            k = e->meta_len - e->meta_got < len ? e->meta_len - e->meta_got : len;
            memcpy(e->meta + e->meta_got, p, k);
            e->meta_got += k;
            if (e->meta_got == e->meta_len)
                rc = meta_done(e, err);
        } else {
            uint64_t left = e->body_len - e->body_got;
            k = left < len ? (size_t)left : len;
            rc = body_bytes(e, p, k, err);
        }
        p += k;
        len -= k;
    }
    return rc;
}

int ik_flight_encoder_create(const struct ArrowSchema *schema, const struct ik_flight_range *ranges,
                             size_t n_ranges, const struct ik_flight_owner *owner,
                             struct ik_flight_encoder **out, struct ik_error *err)
{
    struct ik_flight_encoder *e = calloc(1, sizeof *e);
    struct ik_write_options o;
    int rc;
    *out = NULL;
    if (e == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    if (n_ranges && owner == NULL) {
        free(e);
        return ik_error_set(err, EINVAL, "flight: ranges need an owner");
    }
    if (n_ranges) {
        if ((e->ranges = malloc(n_ranges * sizeof *ranges)) == NULL) {
            free(e);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
        memcpy(e->ranges, ranges, n_ranges * sizeof *ranges);
        e->n_ranges = n_ranges;
        e->owner = *owner;
    }
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    rc = ik_ipc_writer_create(schema, &o, sink, e, &e->w, err);
    if (rc != 0) {
        ik_flight_encoder_destroy(e);
        return rc;
    }
    *out = e;
    return 0;
}

void ik_flight_encoder_use_pool(struct ik_flight_encoder *e, struct ik_flight_pool *pool)
{
    struct ik__scratch_alloc sa = {pool_alloc, pool_free, pool};
    ik_flight_pool_ref(pool);
    ik_flight_pool_release(e->pool);
    e->pool = pool;
    ik__ipc_writer_set_scratch_alloc(e->w, &sa);
}

int ik_flight_encoder_write(struct ik_flight_encoder *e, const struct ArrowArray *batch,
                            struct ik_error *err)
{
    return ik_ipc_writer_write(e->w, batch, err);
}

grpc_byte_buffer *ik_flight_encoder_next(struct ik_flight_encoder *e)
{
    if (e->q_head == e->q_len)
        return NULL;
    return e->q[e->q_head++];
}

void ik_flight_encoder_counts(const struct ik_flight_encoder *e, int64_t *referenced,
                              int64_t *copied)
{
    *referenced = e->referenced;
    *copied = e->copied;
}

void ik_flight_encoder_destroy(struct ik_flight_encoder *e)
{
    if (e == NULL)
        return;
    ik_ipc_writer_destroy(e->w);
    drop_pieces(e);
    for (size_t i = e->q_head; i < e->q_len; i++)
        grpc_byte_buffer_destroy(e->q[i]);
    free(e->q);
    free(e->meta);
    free(e->pieces);
    free(e->copy);
    free(e->ranges);
    ik_flight_pool_release(e->pool);
    free(e);
}

/* ---- the encapsulated schema ----------------------------------------------------------- */

struct membuf {
    uint8_t *p;
    size_t len, cap;
};

static int mem_sink(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct membuf *m = ctx;
    if (grow(&m->p, &m->cap, m->len + len) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    memcpy(m->p + m->len, data, len);
    m->len += len;
    return 0;
}

int ik_flight_schema_bytes(const struct ArrowSchema *schema, uint8_t **out, size_t *len,
                           struct ik_error *err)
{
    struct membuf m = {0};
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    int rc;
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    rc = ik_ipc_writer_create(schema, &o, mem_sink, &m, &w, err);
    ik_ipc_writer_destroy(w);
    if (rc != 0) {
        free(m.p);
        return rc;
    }
    *out = m.p;
    *len = m.len;
    return 0;
}

/* ---- FlightData in --------------------------------------------------------------------- */

static int get_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *at < n; shift += 7) {
        uint8_t b = p[(*at)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = r;
            return 0;
        }
    }
    return IK_EFORMAT;
}

int ik_flight_data_parse(const uint8_t *p, size_t n, struct ik_flight_data *out,
                         struct ik_error *err)
{
    size_t at = 0;
    memset(out, 0, sizeof *out);
    while (at < n) {
        size_t start = at;
        uint64_t key, v;
        if (get_varint(p, n, &at, &key) != 0)
            return ik_error_set(err, IK_EFORMAT, "FlightData: bad field key at byte %zu", start);
        uint64_t field = key >> 3;
        unsigned wt = (unsigned)(key & 7);
        bool known = field == 1 || field == 2 || field == 3 || field == 1000;
        if (known && wt != 2)
            return ik_error_set(err, IK_EFORMAT,
                                "FlightData: field %llu at byte %zu has wire type %u, not 2 "
                                "(length-delimited)",
                                (unsigned long long)field, start, wt);
        if (field == 0)
            return ik_error_set(err, IK_EFORMAT, "FlightData: field number 0 at byte %zu", start);
        switch (wt) {
        case 0:
            if (get_varint(p, n, &at, &v) != 0)
                return ik_error_set(err, IK_EFORMAT, "FlightData: bad varint at byte %zu", at);
            break;
        case 1:
        case 5:
            if (n - at < (wt == 1 ? 8u : 4u))
                return ik_error_set(err, IK_EFORMAT, "FlightData: truncated at byte %zu", at);
            at += wt == 1 ? 8 : 4;
            break;
        case 2:
            if (get_varint(p, n, &at, &v) != 0 || v > n - at)
                return ik_error_set(err, IK_EFORMAT,
                                    "FlightData: field %llu at byte %zu: length past the end "
                                    "of the message (%zu bytes)",
                                    (unsigned long long)field, start, n);
            if (field == 1) {
                out->descriptor = p + at;
                out->descriptor_len = (size_t)v;
            } else if (field == 2) {
                out->header = p + at;
                out->header_len = (size_t)v;
            } else if (field == 3) {
                out->app_metadata = p + at;
                out->app_metadata_len = (size_t)v;
            } else if (field == 1000) {
                out->body = p + at;
                out->body_len = (size_t)v;
            }
            at += (size_t)v;
            break;
        default:
            return ik_error_set(err, IK_EFORMAT, "FlightData: wire type %u at byte %zu", wt, start);
        }
    }
    return 0;
}

int ik_flight_data_feed(struct ik_ipc_reader *r, const struct ik_flight_data *d,
                        struct ik_error *err)
{
    static const uint8_t zeros[8];
    uint8_t prefix[8];
    size_t pad;
    int rc;
    if (d->header == NULL || d->header_len == 0)
        return 0;
    if (d->header_len > INT32_MAX - 8)
        return ik_error_set(err, IK_EFORMAT, "FlightData: data_header of %zu bytes", d->header_len);
    pad = (8 - d->header_len % 8) % 8;
    ik__st_u32(prefix, IK_CONTINUATION);
    ik__st_u32(prefix + 4, (uint32_t)(d->header_len + pad));
    if ((rc = ik_ipc_reader_feed(r, prefix, 8, err)) != 0 ||
        (rc = ik_ipc_reader_feed(r, d->header, d->header_len, err)) != 0 ||
        (pad && (rc = ik_ipc_reader_feed(r, zeros, pad, err)) != 0) ||
        (d->body_len && (rc = ik_ipc_reader_feed(r, d->body, d->body_len, err)) != 0))
        return rc;
    return 0;
}
