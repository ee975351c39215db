/* Decoding IPC messages into C Data Interface arrays: message framing, RecordBatch and
 * DictionaryBatch bodies, dictionary state. Every buffer, node and offset is checked against the
 * message before use (the structural validation level); arrays point straight into the body. */
#include <stdlib.h>
#include <string.h>

#include "arrow/ipc_internal.h"

/* Zero bytes that stand in for empty buffers, so consumers never see NULL offsets. */
static const int64_t zero_block[8];

int ik__msg_frame(const uint8_t *p, size_t avail, const struct ik_read_options *o,
                  struct ik__msg *m, struct ik_error *err)
{
    size_t prefix = 4;
    uint32_t len;
    memset(m, 0, sizeof *m);
    if (avail < 4)
        return IK_EAGAIN;
    len = ik__ld_u32(p);
    if (len == IK_CONTINUATION) {
        if (avail < 8)
            return IK_EAGAIN;
        len = ik__ld_u32(p + 4);
        prefix = 8;
    }
    if (len == 0) {
        m->eos = true;
        m->total = prefix;
        return 0;
    }
    if (len > INT32_MAX || (int64_t)len > o->max_message_bytes)
        return ik_error_set(err, IK_ELIMIT, "metadata length %u exceeds the limit of %lld bytes",
                            len, (long long)o->max_message_bytes);
    if (avail - prefix < len)
        return IK_EAGAIN;
    m->meta_offset = prefix;
    m->meta_length = len;
    if (ik__fb_init(&m->fb, p + prefix, len, err) != 0)
        return ik_error_prefix(err, IK_EFORMAT, "message metadata");
    {
        struct ik_fbt msg = ik__fb_root(&m->fb);
        m->version = ik__fbt_i16(msg, IK_MSG_VERSION, 0);
        m->header_type = ik__fbt_u8(msg, IK_MSG_HEADER_TYPE, 0);
        m->header = ik__fbt_table(msg, IK_MSG_HEADER);
        m->body_length = ik__fbt_i64(msg, IK_MSG_BODY_LENGTH, 0);
        {
            /* We do not use the message's custom metadata, but Arrow C++ verifies it and
             * refuses the message when it is damaged: walk it so the verdicts agree. */
            struct ik_fbv kv = ik__fbt_vector(msg, IK_MSG_CUSTOM_METADATA, 4);
            uint32_t i;
            for (i = 0; i < kv.n && !ik__fb_failed(&m->fb); i++) {
                struct ik_fbt e = ik__fbv_table(kv, i);
                (void)ik__fbt_string(e, 0);
                (void)ik__fbt_string(e, 1);
            }
        }
        if (ik__fb_failed(&m->fb))
            return ik__fb_error(&m->fb, "message metadata", err);
        if (!ik__fbt_present(msg) || !ik__fbt_present(m->header))
            return ik_error_set(err, IK_EFORMAT, "message metadata has no header");
    }
    if (m->version < IK_V4)
        return ik_error_set(err, ENOTSUP, "metadata version V%d is not supported (V4 and V5 are)",
                            m->version + 1);
    if (m->version > IK_V5)
        return ik_error_set(err, ENOTSUP, "metadata version %d is newer than V5", m->version + 1);
    if (m->body_length < 0 || m->body_length > o->max_body_bytes)
        return ik_error_set(err, IK_ELIMIT, "body length %lld is negative or over the limit",
                            (long long)m->body_length);
    if ((uint64_t)(avail - prefix - len) < (uint64_t)m->body_length)
        return IK_EAGAIN;
    m->total = prefix + len + (size_t)m->body_length;
    return 0;
}

/* ---- dictionary state ---------------------------------------------------------------- */

static struct ik__dict_entry *dict_find(struct ik__dicts *d, int64_t id)
{
    int64_t i;
    for (i = 0; i < d->n; i++)
        if (d->e[i].id == id)
            return &d->e[i];
    return NULL;
}

int ik__dicts_init(struct ik__dicts *d, const struct ik__dict_field *fields, int64_t n,
                   struct ik_error *err)
{
    int64_t i;
    d->n = 0;
    d->n_fields = n;
    d->e = calloc((size_t)(n ? n : 1), sizeof *d->e);
    d->fields = malloc((size_t)(n ? n : 1) * sizeof *d->fields);
    if (d->e == NULL || d->fields == NULL) {
        ik__dicts_reset(d);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    if (n)
        memcpy(d->fields, fields, (size_t)n * sizeof *fields);
    for (i = 0; i < n; i++) /* the first field of each id gives the dictionary's value type */
        if (dict_find(d, fields[i].id) == NULL) {
            d->e[d->n].id = fields[i].id;
            d->e[d->n].field = fields[i].field;
            d->n++;
        }
    return 0;
}

void ik__dicts_reset(struct ik__dicts *d)
{
    int64_t i;
    for (i = 0; d->e && i < d->n; i++)
        ik_buffer_unref(d->e[i].owner);
    free(d->e);
    free(d->fields);
    d->e = NULL;
    d->fields = NULL;
    d->n = 0;
    d->n_fields = 0;
}

static struct ik__dict_entry *dict_for_field(struct ik__dicts *d, const struct ArrowSchema *f)
{
    int64_t i;
    for (i = 0; i < d->n_fields; i++)
        if (d->fields[i].field == f)
            return dict_find(d, d->fields[i].id);
    return NULL;
}

static void owner_free(void *ctx)
{
    struct ArrowArray *a = ctx;
    if (a->release)
        a->release(a);
    free(a);
}

int ik__array_owner(struct ArrowArray *array, struct ik_buffer **owner, struct ArrowArray **view)
{
    struct ArrowArray *a = malloc(sizeof *a);
    if (a == NULL)
        return ENOMEM;
    ik_array_move(array, a);
    if (ik_buffer_wrap(NULL, 0, owner_free, a, owner) != 0) {
        owner_free(a);
        return ENOMEM;
    }
    *view = a;
    return 0;
}

int ik__array_share(const struct ArrowArray *src, struct ik_buffer *owner, struct ArrowArray *out)
{
    int64_t i;
    if (ik__array_alloc(out, src->n_buffers, src->n_children) != 0)
        return ENOMEM;
    if (ik__array_hold(out, owner) != 0)
        goto fail;
    out->length = src->length;
    out->null_count = src->null_count;
    out->offset = src->offset;
    for (i = 0; i < src->n_buffers; i++)
        out->buffers[i] = src->buffers[i];
    for (i = 0; i < src->n_children; i++)
        if (ik__array_share(src->children[i], owner, out->children[i]) != 0)
            goto fail;
    if (src->dictionary) {
        if (ik__array_alloc_dictionary(out) != 0 ||
            ik__array_share(src->dictionary, owner, out->dictionary) != 0)
            goto fail;
    }
    return 0;
fail:
    out->release(out);
    return ENOMEM;
}

/* ---- body decoding ------------------------------------------------------------------- */

struct dec {
    struct ik_fbv nodes, bufs, variadic;
    uint32_t node_i, buf_i, var_i;
    const uint8_t *body;
    size_t body_len;
    struct ik_buffer *body_buf;
    int codec; /* -1: uncompressed */
    int16_t version;
    struct ik__dicts *dicts;
    const struct ik_read_options *o;
    struct ik_error *err;
    char path[256];
    int depth;
    int64_t decompressed;
};

static int dec_fail(struct dec *d, int code, const char *fmt, const char *detail)
{
    return ik_error_set(d->err, code, "field '%s': %s%s", d->path[0] ? d->path : "(root)", fmt,
                        detail ? detail : "");
}

static int next_node(struct dec *d, int64_t *length, int64_t *null_count)
{
    const uint8_t *p;
    char msg[160];
    if (d->node_i >= d->nodes.n) {
        snprintf(msg, sizeof msg, " (%u nodes in the message)", d->nodes.n);
        return dec_fail(d, IK_EFORMAT, "more fields than field nodes", msg);
    }
    p = ik__fbv_elem(d->nodes, d->node_i++, IK_NODE_SIZE);
    if (p == NULL)
        return dec_fail(d, IK_EFORMAT, "field node out of bounds", NULL);
    *length = ik__ld_i64(p);
    *null_count = ik__ld_i64(p + 8);
    if (*length < 0 || *length > (INT64_MAX >> 5) || *null_count < 0 || *null_count > *length) {
        snprintf(msg, sizeof msg, " (length %lld, null count %lld)", (long long)*length,
                 (long long)*null_count);
        return dec_fail(d, IK_EFORMAT, "invalid field node", msg);
    }
    return 0;
}

/* Reads the next buffer descriptor into ptr and size: bounds-checked, decompressed when the body is
 * compressed, copied when misaligned. Empty buffers point at zero_block. */
static int next_buffer(struct dec *d, struct ArrowArray *a, const char *what, const void **ptr,
                       int64_t *size)
{
    const uint8_t *p;
    int64_t off, len;
    char msg[200];
    struct ik_buffer *nb;
    uint8_t *dst;
    int rc;
    uint32_t idx = d->buf_i;

    if (d->buf_i >= d->bufs.n) {
        snprintf(msg, sizeof msg, " (%u buffers in the message, needed %s)", d->bufs.n, what);
        return dec_fail(d, IK_EFORMAT, "more buffers needed than the message has", msg);
    }
    p = ik__fbv_elem(d->bufs, d->buf_i++, IK_BUFFER_SIZE);
    if (p == NULL)
        return dec_fail(d, IK_EFORMAT, "buffer descriptor out of bounds", NULL);
    off = ik__ld_i64(p);
    len = ik__ld_i64(p + 8);
    /* an empty buffer reads nothing, so where it points does not matter (Arrow C++ agrees) */
    if (off < 0 || len < 0 ||
        (len > 0 && ((uint64_t)off > d->body_len || (uint64_t)len > d->body_len - (uint64_t)off))) {
        snprintf(msg, sizeof msg, " (buffer %u (%s): offset %lld, length %lld, body %zu)", idx,
                 what, (long long)off, (long long)len, d->body_len);
        return dec_fail(d, IK_EFORMAT, "buffer extends past body end", msg);
    }
    if (len == 0) {
        *ptr = zero_block;
        *size = 0;
        return 0;
    }
    p = d->body + off;
    if (d->codec >= 0) {
        int64_t raw;
        rc = ik__decompressed_size((enum ik_compression)(d->codec + 1), p, (size_t)len,
                                   d->o->max_body_bytes - d->decompressed, &raw, d->err);
        if (rc != 0) {
            snprintf(msg, sizeof msg, "buffer %u (%s)", idx, what);
            ik_error_prefix(d->err, rc, "field '%s': %s", d->path[0] ? d->path : "(root)", msg);
            return rc;
        }
        if (raw < 0) { /* stored uncompressed after the 8-byte prefix */
            p += 8;
            len -= 8;
        } else {
            d->decompressed += raw;
            if (raw == 0) {
                *ptr = zero_block;
                *size = 0;
                return 0;
            }
            if (ik_buffer_alloc((size_t)raw, &nb, &dst) != 0)
                return ik_error_set(d->err, ENOMEM, "out of memory decompressing a buffer");
            rc = ik__decompress_buffer((enum ik_compression)(d->codec + 1), p, (size_t)len, dst,
                                       (size_t)raw, d->err);
            if (rc == 0)
                rc = ik__array_hold(a, nb) ? ENOMEM : 0;
            ik_buffer_unref(nb);
            if (rc != 0) {
                snprintf(msg, sizeof msg, "buffer %u (%s)", idx, what);
                return ik_error_prefix(d->err, rc, "field '%s': %s",
                                       d->path[0] ? d->path : "(root)", msg);
            }
            *ptr = dst;
            *size = raw;
            return 0;
        }
    }
    if (((uintptr_t)p & 7) != 0) { /* misaligned: copy so typed loads are aligned */
        if (ik_buffer_alloc((size_t)len, &nb, &dst) != 0)
            return ik_error_set(d->err, ENOMEM, "out of memory copying a misaligned buffer");
        memcpy(dst, p, (size_t)len);
        rc = ik__array_hold(a, nb);
        ik_buffer_unref(nb);
        if (rc != 0)
            return ik_error_set(d->err, ENOMEM, "out of memory");
        p = dst;
    }
    *ptr = p;
    *size = len;
    return 0;
}

/* Checks that a buffer holds at least `need` bytes. */
static int need_bytes(struct dec *d, const char *what, int64_t have, int64_t need)
{
    char msg[160];
    if (have >= need)
        return 0;
    snprintf(msg, sizeof msg, " (%s buffer has %lld bytes, needs %lld)", what, (long long)have,
             (long long)need);
    return dec_fail(d, IK_EFORMAT, "buffer too small", msg);
}

static int64_t bits_to_bytes(int64_t bits)
{
    return bits / 8 + (bits % 8 != 0);
}

static int decode_node(struct dec *d, const struct ArrowSchema *s, struct ArrowArray *a);

static int validity(struct dec *d, struct ArrowArray *a, int64_t length, int64_t nulls)
{
    const void *p;
    int64_t size;
    int rc;
    if (nulls == 0) {
        /* No nulls: the bitmap is not needed, and like Arrow C++ we do not look at where its
         * descriptor points (only that it is there). */
        if (d->buf_i >= d->bufs.n || ik__fbv_elem(d->bufs, d->buf_i, IK_BUFFER_SIZE) == NULL)
            return dec_fail(d, IK_EFORMAT, "more buffers needed than the message has",
                            " (validity)");
        d->buf_i++;
        a->buffers[0] = NULL;
        return 0;
    }
    if ((rc = next_buffer(d, a, "validity", &p, &size)) != 0)
        return rc;
    if ((rc = need_bytes(d, "validity", size, bits_to_bytes(length))) != 0)
        return rc;
    a->buffers[0] = p;
    return 0;
}

static int offsets_buffer(struct dec *d, struct ArrowArray *a, int idx, int64_t length, int w,
                          int64_t *first, int64_t *last)
{
    const void *p;
    int64_t size;
    int rc = next_buffer(d, a, "offsets", &p, &size);
    char msg[160];
    if (rc != 0)
        return rc;
    a->buffers[idx] = p;
    if (length == 0 && size == 0) {
        *first = *last = 0;
        return 0;
    }
    if ((rc = need_bytes(d, "offsets", size, (length + 1) * w)) != 0)
        return rc;
    if (w == 4) {
        *first = ((const int32_t *)p)[0];
        *last = ((const int32_t *)p)[length];
    } else {
        *first = ((const int64_t *)p)[0];
        *last = ((const int64_t *)p)[length];
    }
    if (*first < 0 || *last < *first) {
        snprintf(msg, sizeof msg, " (first %lld, last %lld)", (long long)*first, (long long)*last);
        return dec_fail(d, IK_EFORMAT, "invalid offsets", msg);
    }
    return 0;
}

/* The offsets and sizes buffers of a list view (w bytes per value), each checked to hold
 * `length` values. */
static int view_buffers(struct dec *d, struct ArrowArray *a, int64_t length, int w)
{
    static const char *const what[2] = {"offsets", "sizes"};
    const void *p;
    int64_t size;
    int rc, k;
    for (k = 0; k < 2; k++) {
        if ((rc = next_buffer(d, a, what[k], &p, &size)) != 0 ||
            (rc = need_bytes(d, what[k], size, length * w)) != 0)
            return rc;
        a->buffers[1 + k] = p;
    }
    return 0;
}

/* Every list view of a (nulls included: consumers may read their views too) lies inside the
 * child: O(length), done even at the default level, since a view is not bounded by its
 * neighbours as list offsets are. */
static int views_in_child(struct dec *d, const struct ArrowArray *a, int w)
{
    int64_t i, n = a->children[0]->length;
    char msg[120];
    for (i = 0; i < a->length; i++) {
        int64_t off =
            w == 4 ? ((const int32_t *)a->buffers[1])[i] : ((const int64_t *)a->buffers[1])[i];
        int64_t len =
            w == 4 ? ((const int32_t *)a->buffers[2])[i] : ((const int64_t *)a->buffers[2])[i];
        if (len == 0)
            continue;
        if (off < 0 || len < 0 || off > n || len > n - off) {
            snprintf(msg, sizeof msg, " (index %lld: offset %lld, size %lld, child %lld)",
                     (long long)i, (long long)off, (long long)len, (long long)n);
            return dec_fail(d, IK_EFORMAT, "list view outside its child", msg);
        }
    }
    return 0;
}

static size_t path_push(struct dec *d, const char *name)
{
    size_t n = strlen(d->path);
    if (n > 0 && n + 1 < sizeof d->path)
        d->path[n] = '.', d->path[n + 1] = 0;
    strncat(d->path, name ? name : "?", sizeof d->path - strlen(d->path) - 1);
    return n;
}

static int decode_children(struct dec *d, const struct ArrowSchema *s, struct ArrowArray *a)
{
    int64_t i;
    int rc;
    for (i = 0; i < s->n_children; i++) {
        size_t n = path_push(d, s->children[i]->name);
        rc = decode_node(d, s->children[i], a->children[i]);
        d->path[n] = 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int child_length_at_least(struct dec *d, const struct ArrowArray *child, int64_t need)
{
    char msg[160];
    if (child->length >= need)
        return 0;
    snprintf(msg, sizeof msg, " (child has %lld values, needs %lld)", (long long)child->length,
             (long long)need);
    return dec_fail(d, IK_EFORMAT, "child array too short", msg);
}

static int decode_layout(struct dec *d, const struct ArrowSchema *s, const struct ik_type *t,
                         struct ArrowArray *a, int64_t length, int64_t nulls)
{
    const void *p;
    int64_t size, first, last, i;
    int rc;

    switch (t->id) {
    case IK_T_NA: /* the node's null count is kept: full validation holds it to the length */
        return 0;
    case IK_T_BINARY:
    case IK_T_STRING:
    case IK_T_LARGE_BINARY:
    case IK_T_LARGE_STRING: {
        int w = (t->id == IK_T_BINARY || t->id == IK_T_STRING) ? 4 : 8;
        if ((rc = validity(d, a, length, nulls)) != 0 ||
            (rc = offsets_buffer(d, a, 1, length, w, &first, &last)) != 0 ||
            (rc = next_buffer(d, a, "data", &p, &size)) != 0)
            return rc;
        a->buffers[2] = p;
        /* an empty array reads no data, so Arrow C++ does not hold its one offset to the data
         * buffer's size; neither do we */
        return need_bytes(d, "data", size, length == 0 ? 0 : last);
    }
    case IK_T_BINARY_VIEW:
    case IK_T_STRING_VIEW: {
        /* C layout: validity, views, variadic data buffers..., int64 sizes of those buffers */
        int64_t n_var = a->n_buffers - 3;
        struct ik_buffer *sb;
        uint8_t *sizes;
        d->var_i++;
        if ((rc = validity(d, a, length, nulls)) != 0 ||
            (rc = next_buffer(d, a, "views", &p, &size)) != 0)
            return rc;
        if ((rc = need_bytes(d, "views", size, length * 16)) != 0)
            return rc;
        a->buffers[1] = p;
        if (ik_buffer_alloc((size_t)(n_var ? n_var : 1) * 8, &sb, &sizes) != 0)
            return ik_error_set(d->err, ENOMEM, "out of memory");
        rc = ik__array_hold(a, sb) ? ENOMEM : 0;
        ik_buffer_unref(sb);
        if (rc != 0)
            return ik_error_set(d->err, ENOMEM, "out of memory");
        for (i = 0; i < n_var; i++) {
            if ((rc = next_buffer(d, a, "variadic data", &p, &size)) != 0)
                return rc;
            a->buffers[2 + i] = p;
            memcpy(sizes + 8 * i, &size, 8);
        }
        a->buffers[2 + n_var] = sizes;
        return 0;
    }
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_MAP: {
        int w = t->id == IK_T_LARGE_LIST ? 8 : 4;
        if ((rc = validity(d, a, length, nulls)) != 0 ||
            (rc = offsets_buffer(d, a, 1, length, w, &first, &last)) != 0 ||
            (rc = decode_children(d, s, a)) != 0)
            return rc;
        if (a->n_children != 1) /* a schema can reach here unchecked (dictionary values) */
            return dec_fail(d, IK_EFORMAT, "list type without exactly one child field", NULL);
        return child_length_at_least(d, a->children[0], last);
    }
    case IK_T_LIST_VIEW:
    case IK_T_LARGE_LIST_VIEW:
        if ((rc = validity(d, a, length, nulls)) != 0 ||
            (rc = view_buffers(d, a, length, t->id == IK_T_LARGE_LIST_VIEW ? 8 : 4)) != 0 ||
            (rc = decode_children(d, s, a)) != 0)
            return rc;
        if (a->n_children != 1)
            return dec_fail(d, IK_EFORMAT, "list view type without exactly one child field", NULL);
        return views_in_child(d, a, t->id == IK_T_LARGE_LIST_VIEW ? 8 : 4);
    case IK_T_FIXED_SIZE_LIST:
        if ((rc = validity(d, a, length, nulls)) != 0 || (rc = decode_children(d, s, a)) != 0)
            return rc;
        if (a->n_children != 1)
            return dec_fail(d, IK_EFORMAT, "list type without exactly one child field", NULL);
        if (t->fixed_size > 0 && length > INT64_MAX / t->fixed_size)
            return dec_fail(d, IK_EFORMAT, "fixed size list length overflows", NULL);
        return child_length_at_least(d, a->children[0], length * t->fixed_size);
    case IK_T_STRUCT:
        if ((rc = validity(d, a, length, nulls)) != 0 || (rc = decode_children(d, s, a)) != 0)
            return rc;
        for (i = 0; i < a->n_children; i++)
            if ((rc = child_length_at_least(d, a->children[i], length)) != 0)
                return rc;
        return 0;
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION:
        if (d->version < IK_V5) { /* V4 unions carried a validity buffer first */
            if ((rc = next_buffer(d, a, "union validity", &p, &size)) != 0)
                return rc;
            if (nulls != 0)
                return dec_fail(d, ENOTSUP, "V4 union with nulls is not supported", NULL);
        }
        if ((rc = next_buffer(d, a, "type ids", &p, &size)) != 0)
            return rc;
        if ((rc = need_bytes(d, "type ids", size, length)) != 0)
            return rc;
        a->buffers[0] = p;
        if (t->id == IK_T_DENSE_UNION) {
            if ((rc = next_buffer(d, a, "offsets", &p, &size)) != 0)
                return rc;
            if ((rc = need_bytes(d, "offsets", size, length * 4)) != 0)
                return rc;
            a->buffers[1] = p;
        }
        a->null_count = 0;
        if ((rc = decode_children(d, s, a)) != 0)
            return rc;
        if (t->id == IK_T_SPARSE_UNION)
            for (i = 0; i < a->n_children; i++)
                if ((rc = child_length_at_least(d, a->children[i], length)) != 0)
                    return rc;
        return 0;
    case IK_T_RUN_END_ENCODED:
        a->null_count = 0;
        return decode_children(d, s, a);
    default: /* fixed width: validity + data */
        if (ik__type_n_buffers(t) != 2)
            return dec_fail(d, ENOTSUP, "unsupported type ", ik__type_name(t->id));
        if ((rc = validity(d, a, length, nulls)) != 0 ||
            (rc = next_buffer(d, a, "data", &p, &size)) != 0)
            return rc;
        if (length > INT64_MAX / (t->bit_width ? t->bit_width : 1))
            return dec_fail(d, IK_EFORMAT, "length overflows", NULL);
        a->buffers[1] = p;
        return need_bytes(d, "data", size, bits_to_bytes(length * t->bit_width));
    }
}

static int decode_node(struct dec *d, const struct ArrowSchema *s, struct ArrowArray *a)
{
    struct ik_type t;
    int64_t length = 0, nulls = 0, n_children, n_buffers;
    int rc;

    if (++d->depth > d->o->max_depth) {
        d->depth--;
        return dec_fail(d, IK_ELIMIT, "nesting deeper than the limit", NULL);
    }
    rc = ik__type_parse(s->format, &t, d->err);
    if (rc == 0)
        rc = next_node(d, &length, &nulls);
    if (rc != 0)
        goto out;
    n_children = s->dictionary ? 0 : s->n_children;
    n_buffers = ik__type_n_buffers(&t);
    if (!s->dictionary && (t.id == IK_T_BINARY_VIEW || t.id == IK_T_STRING_VIEW)) {
        const uint8_t *cnt = ik__fbv_elem(d->variadic, d->var_i, 8);
        int64_t n_var = cnt ? ik__ld_i64(cnt) : -1;
        if (n_var < 0 || n_var > (int64_t)(d->bufs.n - d->buf_i)) {
            rc = dec_fail(d, IK_EFORMAT, "missing or invalid variadicBufferCounts entry", NULL);
            goto out;
        }
        n_buffers = 3 + n_var;
    }
    if (ik__array_alloc(a, n_buffers, n_children) != 0 || ik__array_hold(a, d->body_buf) != 0) {
        rc = ik_error_set(d->err, ENOMEM, "out of memory");
        goto out;
    }
    /* A type without a validity bitmap (unions, run-end encoded) has no nulls of its own,
     * whatever its node says: Arrow C++ ignores that count, so do we. */
    if (!ik__type_has_validity(&t) && t.id != IK_T_NA)
        nulls = 0;
    a->length = length;
    a->null_count = nulls;
    if (s->dictionary) {
        struct ik__dict_entry *e = dict_for_field(d->dicts, s);
        if (t.id < IK_T_INT8 || t.id > IK_T_UINT64) {
            rc = dec_fail(d, IK_EFORMAT, "dictionary index type must be an integer", NULL);
            goto out;
        }
        if ((rc = decode_layout(d, s, &t, a, length, nulls)) != 0)
            goto out;
        if (e == NULL || e->values == NULL) {
            char msg[64];
            snprintf(msg, sizeof msg, " %lld", e ? (long long)e->id : -1LL);
            rc = dec_fail(d, IK_EFORMAT, "no dictionary received for id", msg);
            goto out;
        }
        if (ik__array_alloc_dictionary(a) != 0 ||
            ik__array_share(e->values, e->owner, a->dictionary) != 0)
            rc = ik_error_set(d->err, ENOMEM, "out of memory");
        goto out;
    }
    rc = decode_layout(d, s, &t, a, length, nulls);
out:
    d->depth--;
    return rc;
}

static int dec_init(struct dec *d, const struct ik__msg *m, struct ik_fbt rb,
                    struct ik_buffer *body, size_t body_offset, struct ik__dicts *dicts,
                    const struct ik_read_options *o, struct ik_error *err)
{
    struct ik_fbt comp;
    memset(d, 0, sizeof *d);
    d->nodes = ik__fbt_vector(rb, IK_RB_NODES, IK_NODE_SIZE);
    d->bufs = ik__fbt_vector(rb, IK_RB_BUFFERS, IK_BUFFER_SIZE);
    d->variadic = ik__fbt_vector(rb, IK_RB_VARIADIC, 8);
    comp = ik__fbt_table(rb, IK_RB_COMPRESSION);
    d->codec = -1;
    if (ik__fbt_present(comp)) {
        int8_t codec = ik__fbt_i8(comp, IK_BC_CODEC, 0);
        if (codec != 0 && codec != 1)
            return ik_error_set(err, IK_EFORMAT, "unknown compression codec %d", codec);
        if (ik__fbt_i8(comp, IK_BC_METHOD, 0) != 0)
            return ik_error_set(err, IK_EFORMAT, "unknown body compression method");
        d->codec = codec;
    }
    if (ik__fb_failed(&m->fb))
        return ik__fb_error(&m->fb, "record batch", err);
    d->body = ik_buffer_data(body) + body_offset;
    d->body_len = (size_t)m->body_length;
    d->body_buf = body;
    d->version = m->version;
    d->dicts = dicts;
    d->o = o;
    d->err = err;
    return 0;
}

/* Decodes a RecordBatch table. For a dictionary batch (is_dict) the column keeps its node's
 * length whatever the batch length says, as in Arrow C++. */
static int decode_rb(const struct ArrowSchema *schema, const struct ik__msg *m, struct ik_fbt rb,
                     struct ik_buffer *body, size_t body_offset, struct ik__dicts *dicts,
                     const struct ik_read_options *o, bool is_dict, struct ArrowArray *out,
                     struct ik_error *err)
{
    struct dec d;
    int64_t length = ik__fbt_i64(rb, IK_RB_LENGTH, 0), i;
    int rc = dec_init(&d, m, rb, body, body_offset, dicts, o, err);
    if (rc != 0)
        return rc;
    if (length < 0)
        return ik_error_set(err, IK_EFORMAT, "record batch length %lld is negative",
                            (long long)length);
    if (ik__array_alloc(out, 1, schema->n_children) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    out->length = length;
    for (i = 0; i < schema->n_children; i++) {
        size_t n = path_push(&d, schema->children[i]->name);
        rc = decode_node(&d, schema->children[i], out->children[i]);
        d.path[n] = 0;
        if (rc == 0 && !is_dict && out->children[i]->length != length) {
            rc = ik_error_set(err, IK_EFORMAT,
                              "column %lld has %lld rows, the record batch says %lld", (long long)i,
                              (long long)out->children[i]->length, (long long)length);
        }
        if (rc != 0)
            goto fail;
        if (is_dict)
            out->length = out->children[i]->length;
    }
    /* Field nodes and buffers left over after the schema's are ignored, as Arrow C++ ignores
     * them (its verdict is the one we match); each one used was bounds-checked. */
    if (o->validate == IK_VALIDATE_FULL &&
        (rc = ik_array_validate(schema, out, IK_VALIDATE_FULL, o->check_utf8, err)) != 0) {
        if (rc == EINVAL) /* the arrays came from input bytes: bad data, not a bad argument */
            rc = IK_EINVALID;
        goto fail;
    }
    return 0;
fail:
    out->release(out);
    return rc;
}

int ik__decode_batch(const struct ArrowSchema *schema, const struct ik__msg *m,
                     struct ik_buffer *body, size_t body_offset, struct ik__dicts *dicts,
                     const struct ik_read_options *o, struct ArrowArray *out, struct ik_error *err)
{
    if (m->header_type != IK_HDR_RECORD_BATCH)
        return ik_error_set(err, IK_EFORMAT, "expected a record batch, got message type %d",
                            m->header_type);
    return decode_rb(schema, m, m->header, body, body_offset, dicts, o, false, out, err);
}

static void noop_release(struct ArrowSchema *s)
{
    (void)s;
}

int ik__decode_dictionary(const struct ik__msg *m, struct ik_buffer *body, size_t body_offset,
                          struct ik__dicts *dicts, const struct ik_read_options *o,
                          bool allow_replacement, struct ik_error *err)
{
    struct ik_fbt rb = ik__fbt_table(m->header, IK_DB_DATA);
    int64_t id = ik__fbt_i64(m->header, IK_DB_ID, 0);
    bool delta = ik__fbt_bool(m->header, IK_DB_IS_DELTA, false);
    struct ik__dict_entry *e;
    struct ArrowSchema wrap, *child;
    struct ArrowArray batch, values, merged, *view;
    struct ik_buffer *owner;
    int rc;

    if (ik__fb_failed(&m->fb))
        return ik__fb_error(&m->fb, "dictionary batch", err);
    if (!ik__fbt_present(rb))
        return ik_error_set(err, IK_EFORMAT, "dictionary batch %lld has no data", (long long)id);
    e = dict_find(dicts, id);
    if (e == NULL)
        return ik_error_set(err, IK_EFORMAT, "dictionary id %lld is not in the schema",
                            (long long)id);
    if (e->values && !delta && !allow_replacement)
        return ik_error_set(err, IK_EFORMAT,
                            "dictionary %lld replaced, which the IPC file format forbids",
                            (long long)id);
    if (delta && e->values == NULL)
        return ik_error_set(err, IK_EFORMAT, "delta for dictionary %lld before its first batch",
                            (long long)id);
    /* A one-column schema whose column is the dictionary's value type. */
    child = e->field->dictionary;
    memset(&wrap, 0, sizeof wrap);
    wrap.format = "+s";
    wrap.release = noop_release; /* borrowed: marks it live for validation */
    wrap.n_children = 1;
    wrap.children = &child;
    rc = decode_rb(&wrap, m, rb, body, body_offset, dicts, o, true, &batch, err);
    if (rc != 0)
        return ik_error_prefix(err, rc, "dictionary %lld", (long long)id);
    ik_array_move(batch.children[0], &values);
    batch.release(&batch);
    if (delta) {
        rc = ik__array_concat(child, e->values, &values, &merged, err);
        values.release(&values);
        if (rc != 0)
            return ik_error_prefix(err, rc, "dictionary %lld delta", (long long)id);
        ik_array_move(&merged, &values);
    }
    if (ik__array_owner(&values, &owner, &view) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    ik_buffer_unref(e->owner);
    e->owner = owner;
    e->values = view;
    return 0;
}
