/* Arrow response bodies without copying rows. The IPC writer runs over the query's batches with
 * a sink that keeps, for each piece it emits, either a reference (bytes inside a segment's
 * mapping, which the result's batches keep mapped, or padding zeros) or a copy into one arena
 * (message headers, the end-of-stream marker, and whatever the writer had to make: rebased
 * offsets, shifted bitmaps, compressed frames). The pieces become one libmicrohttpd iovec
 * response: MHD sends it with sendmsg straight from the mappings and calls the free callback,
 * which lets go of the batches (and so the mappings), when the response is done. The length is
 * known before the first byte, so the body carries Content-Length (docs/http.md says why that,
 * not chunked framing). Bytes are counted by kind for /metrics: referenced, copied, compressed
 * and framing (IPC message headers and padding). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* libmicrohttpd copies the iovec array into the connection's memory pool (a few KiB next to
 * the request's headers): beyond this many pieces, small referenced ones are copied instead. */
#define MAX_IOV 128
#define SMALL_PIECE 4096
#define SMALL_BODY (64 << 10) /* bodies up to this size are sent as one buffer (small_body) */

static const uint8_t zeros[64];

struct piece {
    const uint8_t *ref; /* referenced bytes, or NULL: `len` bytes at `off` in the arena */
    size_t off, len;
};

struct abody {
    struct ik_http_result r;
    struct piece *p;
    size_t n, cap;
    uint8_t *arena;
    size_t used, acap;
    bool compressed;
    bool cached_schema; /* the next emission is a kept schema message (framing) */
    uint32_t meta_left; /* bytes of the current IPC message header still to come */
    long long kind[IK_ARROW_BYTE_KINDS];
};

/* The mapping [p, p+len) lies in, or -1. */
static int in_map(const struct ik_http_result *r, const uint8_t *p, size_t len)
{
    for (int i = 0; i < r->n_maps; i++)
        if (p >= r->maps[i].p && len <= r->maps[i].n &&
            (size_t)(p - r->maps[i].p) <= r->maps[i].n - len)
            return i;
    return -1;
}

static int push(struct abody *a, struct piece s)
{
    if (a->n) {
        struct piece *last = &a->p[a->n - 1];
        if (!s.ref && !last->ref && last->off + last->len == s.off) {
            last->len += s.len; /* adjacent arena bytes */
            return 0;
        }
        if (s.ref && last->ref && last->ref + last->len == s.ref) {
            last->len += s.len; /* adjacent bytes of one mapping */
            return 0;
        }
    }
    if (a->n == a->cap) {
        size_t c = a->cap ? a->cap * 2 : 64;
        struct piece *q = realloc(a->p, c * sizeof *q);
        if (!q)
            return ENOMEM;
        a->p = q;
        a->cap = c;
    }
    a->p[a->n++] = s;
    return 0;
}

static int copy_in(struct abody *a, const void *data, size_t len)
{
    if (a->used + len > a->acap) {
        size_t c = a->acap ? a->acap : 4096;
        while (c < a->used + len)
            c *= 2;
        uint8_t *q = realloc(a->arena, c);
        if (!q)
            return ENOMEM;
        a->arena = q;
        a->acap = c;
    }
    memcpy(a->arena + a->used, data, len);
    a->used += len;
    return push(a, (struct piece){NULL, a->used - len, len});
}

/* Padding after a referenced piece: when the mapping holds the same zeros right after it (a
 * segment's buffers are laid out as the stream lays them out), the reference grows over them,
 * so a whole segment's body stays one piece. */
static bool extend_over_zeros(struct abody *a, size_t len)
{
    struct piece *last = a->n ? &a->p[a->n - 1] : NULL;
    if (!last || !last->ref || in_map(&a->r, last->ref, last->len + len) < 0)
        return false;
    if (memcmp(last->ref + last->len, zeros, len) != 0)
        return false;
    last->len += len;
    return true;
}

/* Which of the writer's emissions are IPC message headers (for the counts only): a message
 * starts with the 8-byte continuation and length (a multiple of 8, small), followed by that many
 * bytes of flatbuffer and padding. */
static bool is_framing(struct abody *a, const uint8_t *p, size_t len)
{
    uint32_t n;
    if (a->meta_left) {
        a->meta_left -= len < a->meta_left ? (uint32_t)len : a->meta_left;
        return true;
    }
    if (len != 8 || p[0] != 0xFF || p[1] != 0xFF || p[2] != 0xFF || p[3] != 0xFF)
        return false;
    n = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    if (n % 8 != 0 || n > (1u << 24))
        return false;
    a->meta_left = n;
    return true;
}

static int gather(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct abody *a = ctx;
    const uint8_t *p = data;
    int rc;
    if (len == 0)
        return 0;
    if (a->cached_schema) { /* the kept schema message, emitted whole */
        a->cached_schema = false;
        a->kind[IK_ARROW_FRAMING] += (long long)len;
        rc = copy_in(a, p, len);
    } else if (in_map(&a->r, p, len) >= 0) { /* never a message header */
        a->kind[IK_ARROW_REFERENCED] += (long long)len;
        rc = push(a, (struct piece){p, 0, len});
    } else if (is_framing(a, p, len)) {
        a->kind[IK_ARROW_FRAMING] += (long long)len;
        rc = copy_in(a, p, len);
    } else if (len <= sizeof zeros && memcmp(p, zeros, len) == 0) {
        a->kind[IK_ARROW_FRAMING] += (long long)len;
        rc = extend_over_zeros(a, len) ? 0 : push(a, (struct piece){zeros, 0, len});
    } else {
        a->kind[a->compressed ? IK_ARROW_COMPRESSED : IK_ARROW_COPIED] += (long long)len;
        rc = copy_in(a, p, len);
    }
    return rc ? ik_error_set(err, ENOMEM, "out of memory") : 0;
}

/* Too many pieces for MHD's pool: copies the small referenced ones into the arena, so only
 * large references stay (counted as copied). */
static int coalesce(struct abody *a)
{
    struct piece *old = a->p;
    size_t n = a->n;
    a->p = NULL;
    a->n = a->cap = 0;
    for (size_t i = 0; i < n; i++) {
        struct piece s = old[i];
        int rc;
        if (s.ref && s.len < SMALL_PIECE && s.ref != zeros) {
            a->kind[IK_ARROW_REFERENCED] -= (long long)s.len;
            a->kind[IK_ARROW_COPIED] += (long long)s.len;
            rc = copy_in(a, s.ref, s.len);
        } else if (s.ref && s.ref == zeros) {
            rc = copy_in(a, zeros, s.len);
        } else {
            rc = push(a, s);
        }
        if (rc != 0) {
            free(old);
            return rc;
        }
    }
    free(old);
    return 0;
}

static void abody_free(void *cls)
{
    struct abody *a = cls;
    ik__http_result_reset(&a->r);
    free(a->p);
    free(a->arena);
    free(a);
}

/* A small body (a page of rows) goes as one buffer: libmicrohttpd then sends the headers and
 * the body in one sendmsg, where an iovec body costs a second system call and a second TCP
 * segment (and the client a second wakeup), more than copying a few KiB. The mappings are let
 * go at once. The referenced bytes are counted as gathered. */
static struct MHD_Response *small_body(struct abody *a, long long total, struct ik_http_sent *sent,
                                       struct ik_error *err)
{
    struct MHD_Response *resp = NULL;
    uint8_t *buf = malloc(total ? (size_t)total : 1), *at = buf;
    if (buf) {
        for (size_t i = 0; i < a->n; i++) {
            memcpy(at, a->p[i].ref ? a->p[i].ref : a->arena + a->p[i].off, a->p[i].len);
            at += a->p[i].len;
        }
        resp = MHD_create_response_from_buffer((size_t)total, buf, MHD_RESPMEM_MUST_FREE);
    }
    if (!resp) {
        free(buf);
        abody_free(a);
        ik_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    a->kind[IK_ARROW_GATHERED] += a->kind[IK_ARROW_REFERENCED];
    a->kind[IK_ARROW_REFERENCED] = 0;
    for (int k = 0; k < IK_ARROW_BYTE_KINDS; k++)
        sent->kind[k] = a->kind[k];
    sent->total = sent->owned = total;
    abody_free(a);
    return resp;
}

/* ---- schema messages kept (h->msgs) ------------------------------------------------------ */

/* Copies the message kept for `schema` into *out (malloc'd); false when there is none. */
static bool schema_msg_get(struct ik_http *h, const struct ArrowSchema *schema, uint8_t **out,
                           size_t *len)
{
    bool found = false;
    *out = NULL;
    pthread_mutex_lock(&h->msg_mu);
    for (int i = 0; i < IK_HTTP_SCHEMA_MSGS && !found; i++) {
        struct ik_http_schema_msg *m = &h->msgs[i];
        if (m->schema.release && ik_schema_equal(&m->schema, schema)) {
            if ((*out = malloc(m->len)) != NULL) {
                memcpy(*out, m->bytes, m->len);
                *len = m->len;
                m->used = ++h->msg_clock;
                found = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&h->msg_mu);
    return found;
}

/* Keeps the schema message the writer just wrote (the pieces so far), in the least recently
 * used slot. Nothing is kept when memory is short. */
static void schema_msg_put(struct ik_http *h, const struct abody *a)
{
    struct ik_http_schema_msg m;
    size_t len = 0;
    uint8_t *at;
    int slot = 0;
    memset(&m, 0, sizeof m);
    for (size_t i = 0; i < a->n; i++)
        len += a->p[i].len;
    if (len == 0 || (m.bytes = malloc(len)) == NULL)
        return;
    if (ik_schema_copy(&a->r.schema, &m.schema, NULL) != 0) {
        free(m.bytes);
        return;
    }
    at = m.bytes;
    for (size_t i = 0; i < a->n; i++) {
        memcpy(at, a->p[i].ref ? a->p[i].ref : a->arena + a->p[i].off, a->p[i].len);
        at += a->p[i].len;
    }
    m.len = len;
    pthread_mutex_lock(&h->msg_mu);
    for (int i = 0; i < IK_HTTP_SCHEMA_MSGS; i++) {
        if (h->msgs[i].schema.release && ik_schema_equal(&h->msgs[i].schema, &m.schema)) {
            slot = -1; /* another thread kept it meanwhile */
            break;
        }
        if (h->msgs[i].used < h->msgs[slot].used)
            slot = i;
    }
    if (slot >= 0) {
        struct ik_http_schema_msg old = h->msgs[slot];
        m.used = ++h->msg_clock;
        h->msgs[slot] = m;
        m = old;
    }
    pthread_mutex_unlock(&h->msg_mu);
    if (m.schema.release)
        m.schema.release(&m.schema);
    free(m.bytes);
}

void ik__http_schema_msgs_free(struct ik_http *h)
{
    for (int i = 0; i < IK_HTTP_SCHEMA_MSGS; i++) {
        struct ik_http_schema_msg *m = &h->msgs[i];
        if (m->schema.release)
            m->schema.release(&m->schema);
        free(m->bytes);
        memset(m, 0, sizeof *m);
    }
}

static int write_stream(struct ik_http *h, struct abody *a, int compression, struct ik_error *err)
{
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    uint8_t *kept = NULL;
    size_t kept_len = 0;
    int rc;
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    o.compression = (enum ik_compression)compression;
    o.borrow_schema = true; /* a->r.schema outlives the writer */
    if (h && schema_msg_get(h, &a->r.schema, &kept, &kept_len)) {
        o.schema_message = kept;
        o.schema_message_len = kept_len;
        a->cached_schema = true;
    }
    rc = ik_ipc_writer_create(&a->r.schema, &o, gather, a, &w, err);
    free(kept);
    a->cached_schema = false;
    if (rc == 0 && h && !kept)
        schema_msg_put(h, a);
    for (int64_t i = 0; rc == 0 && i < a->r.n; i++)
        rc = ik_ipc_writer_write(w, &a->r.batches[i], err);
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    ik_ipc_writer_destroy(w);
    if (rc == 0 && a->n > MAX_IOV && coalesce(a) != 0)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    return rc;
}

struct MHD_Response *ik__http_arrow_body(struct ik_http *h, struct ik_http_result *r,
                                         int compression, struct ik_http_sent *sent,
                                         struct ik_error *err)
{
    struct abody *a;
    struct MHD_IoVec *iov = NULL;
    struct MHD_Response *resp = NULL;
    long long total = 0;
    if (compression == IK_COMPRESSION_NONE && r->file_fd >= 0) {
        /* the whole segment file's stream: sendfile from the file, MHD closes the descriptor */
        resp = MHD_create_response_from_fd_at_offset64(r->file_len, r->file_fd, r->file_off);
        if (resp) {
            r->file_fd = -1;
            sent->kind[IK_ARROW_REFERENCED] = sent->total = (long long)r->file_len;
        }
        ik__http_result_reset(r);
        if (!resp)
            ik_error_set(err, ENOMEM, "libmicrohttpd refused the response");
        return resp;
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        ik__http_result_reset(r);
        ik_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    a->r = *r;
    memset(r, 0, sizeof *r);
    r->file_fd = -1;
    a->compressed = compression != IK_COMPRESSION_NONE;
    if (write_stream(h, a, compression, err) != 0)
        goto cleanup;
    for (size_t i = 0; i < a->n; i++)
        total += (long long)a->p[i].len;
    if (total <= SMALL_BODY)
        return small_body(a, total, sent, err);
    total = 0;
    if (!(iov = malloc((a->n ? a->n : 1) * sizeof *iov))) {
        ik_error_set(err, ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < a->n; i++) {
        iov[i].iov_base = a->p[i].ref ? a->p[i].ref : a->arena + a->p[i].off;
        iov[i].iov_len = a->p[i].len;
        total += (long long)a->p[i].len;
    }
    resp = MHD_create_response_from_iovec(iov, (unsigned)a->n, abody_free, a);
    if (!resp) {
        ik_error_set(err, ENOMEM, "libmicrohttpd refused the response");
        goto cleanup;
    }
    for (int k = 0; k < IK_ARROW_BYTE_KINDS; k++)
        sent->kind[k] = a->kind[k];
    sent->total = total;
    sent->owned = (long long)(a->acap + a->cap * sizeof *a->p);
    free(iov);
    return resp;
cleanup:
    free(iov);
    abody_free(a);
    return NULL;
}
