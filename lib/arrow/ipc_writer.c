/* The IPC writer: schema, dictionary and record batch messages for the stream and file formats,
 * 64-byte aligned bodies, optional LZ4_FRAME / ZSTD buffer compression, dictionary deltas and
 * replacements, and the file footer. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrow/ipc_encode.h"
#include "arrow/ipc_internal.h"

struct wblock {
    int64_t offset;
    int32_t meta_length;
    int64_t body_length;
};

struct wdict {
    uint8_t *print; /* fingerprint of the dictionary as last written */
    size_t print_len;
    int64_t length;
    int64_t n_nested; /* dictionaries inside this one's values: the next n_nested in the list */
    int64_t owner;    /* the last field of this one's id, which holds the id's state */
    bool written;
    bool replaced; /* written whole over an earlier version in the current batch */
};

struct ik_ipc_writer {
    struct ArrowSchema schema;
    struct ik_write_options o;
    ik_write_fn write;
    void *ctx;
    int64_t pos;
    struct ik__dict_field *dfields;
    int64_t n_dfields;
    struct wdict *dicts;
    struct wblock *dblocks, *bblocks;
    int64_t n_dblocks, n_bblocks, cap_dblocks, cap_bblocks;
    struct ik__enc enc;
    struct ik_fbb fbb;
    uint8_t *zbuf; /* compressed frames of the message being written */
    size_t zcap;
    struct ik__zctx zctx;
    int failed;
    bool finished;
};

static const uint8_t pad_bytes[64];

#define ZBUF_HUGE ((size_t)2 << 20)   /* a huge page */
#define ZBUF_MAPPED ((size_t)4 << 20) /* compression blocks this large are mapped */

void ik_write_options_init(struct ik_write_options *o)
{
    memset(o, 0, sizeof *o);
}

int ik_write_to_file(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    if (len && fwrite(data, 1, len, (FILE *)ctx) != len)
        return ik_error_set(err, EIO, "write failed: %s", strerror(errno ? errno : EIO));
    return 0;
}

bool ik__ipc_writer_take_scratch(struct ik_ipc_writer *w, const void *p)
{
    return w != NULL && ik__enc_take_scratch(&w->enc, p);
}

void ik__ipc_writer_set_scratch_alloc(struct ik_ipc_writer *w, const struct ik__scratch_alloc *a)
{
    w->enc.sa = *a;
}

static int emit(struct ik_ipc_writer *w, const void *p, size_t n, struct ik_error *err)
{
    int rc = w->write(w->ctx, p, n, err);
    if (rc != 0)
        return rc;
    w->pos += (int64_t)n;
    return 0;
}

static int add_block(struct wblock **v, int64_t *n, int64_t *cap, struct wblock b)
{
    if (*n == *cap) {
        int64_t c = *cap ? *cap * 2 : 16;
        struct wblock *q = realloc(*v, (size_t)c * sizeof *q);
        if (q == NULL)
            return ENOMEM;
        *v = q;
        *cap = c;
    }
    (*v)[(*n)++] = b;
    return 0;
}

/* Writes one encapsulated message: continuation, length, flatbuffer padded so the body starts
 * 64-byte aligned in the output, then the body. */
static int write_message(struct ik_ipc_writer *w, const uint8_t *meta, size_t meta_len,
                         const struct ik__enc *body, const int64_t *offs, int64_t body_len,
                         struct wblock *block, struct ik_error *err)
{
    uint8_t prefix[8];
    int64_t start = w->pos, pad, i;
    int rc;
    pad = (IK_ALIGN - (start + 8 + (int64_t)meta_len) % IK_ALIGN) % IK_ALIGN;
    ik__st_u32(prefix, IK_CONTINUATION);
    ik__st_u32(prefix + 4, (uint32_t)(meta_len + (size_t)pad));
    if ((rc = emit(w, prefix, 8, err)) || (rc = emit(w, meta, meta_len, err)) ||
        (rc = emit(w, pad_bytes, (size_t)pad, err)))
        return rc;
    for (i = 0; body && i < body->n_bufs; i++) {
        const struct ik__enc_buf *eb = &body->bufs[i];
        int64_t at = w->pos - (start + 8 + (int64_t)meta_len + pad);
        if (at < offs[i] && (rc = emit(w, pad_bytes, (size_t)(offs[i] - at), err)))
            return rc;
        if (eb->rest) { /* stored raw: prefix, then the bytes where they lie */
            if ((rc = emit(w, eb->ptr, 8, err)) == 0)
                rc = emit(w, eb->rest, (size_t)eb->len - 8, err);
        } else if (eb->len) {
            rc = emit(w, eb->ptr, (size_t)eb->len, err);
        }
        if (rc != 0)
            return rc;
    }
    {
        int64_t end = start + 8 + (int64_t)meta_len + pad + body_len;
        if (w->pos < end && (rc = emit(w, pad_bytes, (size_t)(end - w->pos), err)) != 0)
            return rc;
    }
    if (w->pos - start != 8 + (int64_t)meta_len + pad + body_len)
        return ik_error_set(err, EIO, "internal: body length mismatch");
    block->offset = start;
    block->meta_length = (int32_t)(8 + (int64_t)meta_len + pad);
    block->body_length = body_len;
    return 0;
}

static int64_t align_up(int64_t v, int64_t a)
{
    return (v + a - 1) / a * a;
}

/* Releases the compression block (mapped or on the heap, by its size). */
static void zbuf_free(struct ik_ipc_writer *w)
{
    if (w->zbuf && w->zcap >= ZBUF_MAPPED)
        munmap(w->zbuf, w->zcap);
    else
        free(w->zbuf);
    w->zbuf = NULL;
    w->zcap = 0;
}

/* Compresses every buffer of w->enc into w->zbuf, one block kept for the writer's life (a
 * fresh allocation per buffer cost a page fault per 4 KiB written), and points the buffers at
 * their frames. A block of 4 MiB or more is an anonymous mapping in whole 2 MiB steps, a
 * quarter larger than the message needs, with a hint for huge pages: as malloc's 4 KiB pages,
 * the batches of a 1M-pin conversion took ~6,500 page faults (4-7 % of its CPU time). A
 * smaller one stays on the heap, where a huge page would cost more to clear than it saves. */
static int compress_body(struct ik_ipc_writer *w, struct ik_error *err)
{
    size_t need = 0, at = 0;
    int64_t i;
    for (i = 0; i < w->enc.n_bufs; i++)
        if (w->enc.bufs[i].len)
            need += ik__compress_bound(w->o.compression, (size_t)w->enc.bufs[i].len);
    if (need > w->zcap) {
        size_t cap = need;
        void *q;
        if (need >= ZBUF_MAPPED) {
            cap = (need + need / 4 + ZBUF_HUGE - 1) & ~(ZBUF_HUGE - 1);
            q = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (q != MAP_FAILED)
                (void)madvise(q, cap, MADV_HUGEPAGE);
            else
                q = NULL;
        } else {
            q = malloc(cap);
        }
        if (q == NULL)
            return ik_error_set(err, ENOMEM, "out of memory compressing");
        zbuf_free(w);
        w->zbuf = q;
        w->zcap = cap;
    }
    for (i = 0; i < w->enc.n_bufs; i++) {
        struct ik__enc_buf *b = &w->enc.bufs[i];
        size_t cap, written;
        bool raw;
        int rc;
        if (b->len == 0)
            continue;
        cap = ik__compress_bound(w->o.compression, (size_t)b->len);
        rc = ik__compress_buffer(&w->zctx, w->o.compression, w->o.compression_level, b->ptr,
                                 (size_t)b->len, w->zbuf + at, cap, &written, &raw, err);
        if (rc != 0)
            return rc;
        /* stored raw: the prefix is in the block, the bytes stay where they are (a copy of
         * every incompressible buffer cost ~4 % of an lz4 conversion of sample pins) */
        b->rest = raw ? b->ptr : NULL;
        b->ptr = w->zbuf + at;
        b->len = (int64_t)written;
        b->bits = 0;
        at += raw ? 8 : written;
    }
    return 0;
}

/* Builds the RecordBatch table for w->enc (buffer offsets computed here) and writes the message
 * with header type `htype` (record batch, or dictionary batch with id/delta). */
static int write_batch_message(struct ik_ipc_writer *w, int64_t length, bool is_dict, int64_t id,
                               bool delta, struct wblock *block, struct ik_error *err)
{
    struct ik_fbb *b = &w->fbb;
    int64_t *offs = NULL, body_len = 0, i;
    uint8_t *nodes = NULL, *bufs = NULL;
    ik_fbref rnodes, rbufs, rcomp = 0, rvar = 0, rb, hdr, msg;
    const uint8_t *meta;
    size_t meta_len;
    int rc = 0;
    /* a message of a few dozen columns needs no heap for these */
    int64_t offs_s[48];
    uint8_t nodes_s[48 * 16], bufs_s[48 * 16];
    bool small = w->enc.n_bufs < 48 && w->enc.n_nodes < 48;

    if (w->o.compression != IK_COMPRESSION_NONE && (rc = compress_body(w, err)) != 0)
        return rc;
    offs = small ? offs_s : malloc((size_t)(w->enc.n_bufs + 1) * sizeof *offs);
    nodes = small ? nodes_s : malloc((size_t)(w->enc.n_nodes + 1) * 16);
    bufs = small ? bufs_s : malloc((size_t)(w->enc.n_bufs + 1) * 16);
    if (offs == NULL || nodes == NULL || bufs == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < w->enc.n_bufs; i++) {
        offs[i] = body_len;
        ik__st_u64(bufs + 16 * i, (uint64_t)body_len);
        ik__st_u64(bufs + 16 * i + 8, (uint64_t)w->enc.bufs[i].len);
        body_len = align_up(body_len + w->enc.bufs[i].len, IK_ALIGN);
    }
    for (i = 0; i < w->enc.n_nodes; i++) {
        ik__st_u64(nodes + 16 * i, (uint64_t)w->enc.nodes[2 * i]);
        ik__st_u64(nodes + 16 * i + 8, (uint64_t)w->enc.nodes[2 * i + 1]);
    }
    ik__fbb_clear(b);
    rnodes = ik__fbb_vector_bytes(b, nodes, (uint32_t)w->enc.n_nodes, 16, 8);
    rbufs = ik__fbb_vector_bytes(b, bufs, (uint32_t)w->enc.n_bufs, 16, 8);
    if (w->enc.n_variadic) {
        uint8_t *v = malloc((size_t)w->enc.n_variadic * 8);
        if (v == NULL) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            goto done;
        }
        for (i = 0; i < w->enc.n_variadic; i++)
            ik__st_u64(v + 8 * i, (uint64_t)w->enc.variadic[i]);
        rvar = ik__fbb_vector_bytes(b, v, (uint32_t)w->enc.n_variadic, 8, 8);
        free(v);
    }
    if (w->o.compression != IK_COMPRESSION_NONE) {
        ik__fbb_table_start(b);
        ik__fbb_add_u8(b, IK_BC_CODEC, w->o.compression == IK_COMPRESSION_LZ4 ? 0 : 1);
        ik__fbb_add_u8(b, IK_BC_METHOD, 0);
        rcomp = ik__fbb_table_end(b);
    }
    ik__fbb_table_start(b);
    ik__fbb_add_i64(b, IK_RB_LENGTH, length);
    ik__fbb_add_ref(b, IK_RB_NODES, rnodes);
    ik__fbb_add_ref(b, IK_RB_BUFFERS, rbufs);
    ik__fbb_add_ref(b, IK_RB_COMPRESSION, rcomp);
    ik__fbb_add_ref(b, IK_RB_VARIADIC, rvar);
    rb = ik__fbb_table_end(b);
    hdr = rb;
    if (is_dict) {
        ik__fbb_table_start(b);
        ik__fbb_add_i64(b, IK_DB_ID, id);
        ik__fbb_add_ref(b, IK_DB_DATA, rb);
        ik__fbb_add_bool(b, IK_DB_IS_DELTA, delta);
        hdr = ik__fbb_table_end(b);
    }
    ik__fbb_table_start(b);
    ik__fbb_add_i16(b, IK_MSG_VERSION, IK_V5);
    ik__fbb_add_u8(b, IK_MSG_HEADER_TYPE, is_dict ? IK_HDR_DICTIONARY : IK_HDR_RECORD_BATCH);
    ik__fbb_add_ref(b, IK_MSG_HEADER, hdr);
    ik__fbb_add_i64(b, IK_MSG_BODY_LENGTH, body_len);
    msg = ik__fbb_table_end(b);
    if (ik__fbb_finish(b, msg, &meta, &meta_len) != 0) {
        rc = ik_error_set(err, ENOMEM, "out of memory building message metadata");
        goto done;
    }
    rc = write_message(w, meta, meta_len, &w->enc, offs, body_len, block, err);
done:
    if (!small) {
        free(offs);
        free(nodes);
        free(bufs);
    }
    return rc;
}

static int write_schema_message(struct ik_ipc_writer *w, struct ik_error *err)
{
    struct ik_fbb *b = &w->fbb;
    ik_fbref sref, msg;
    const uint8_t *meta;
    size_t meta_len;
    struct wblock block;
    int rc;
    ik__fbb_clear(b);
    if ((rc = ik__schema_to_fb(b, &w->schema, w->o.extra_metadata, w->dfields, &sref, err)) != 0)
        return rc;
    ik__fbb_table_start(b);
    ik__fbb_add_i16(b, IK_MSG_VERSION, IK_V5);
    ik__fbb_add_u8(b, IK_MSG_HEADER_TYPE, IK_HDR_SCHEMA);
    ik__fbb_add_ref(b, IK_MSG_HEADER, sref);
    ik__fbb_add_i64(b, IK_MSG_BODY_LENGTH, 0);
    msg = ik__fbb_table_end(b);
    if (ik__fbb_finish(b, msg, &meta, &meta_len) != 0)
        return ik_error_set(err, ENOMEM, "out of memory building the schema message");
    return write_message(w, meta, meta_len, NULL, NULL, 0, &block, err);
}

/* Number of dictionary-encoded fields under the type `s` (its children, recursively, and the
 * values of any dictionary among them): ik__schema_dict_fields lists them right after the
 * field whose values have type `s`. */
static int64_t count_dicts(const struct ArrowSchema *s, int depth)
{
    int64_t n = 0, i;
    if (depth > 64)
        return 0; /* ik__schema_dict_fields already refused such a schema */
    for (i = 0; i < s->n_children; i++) {
        const struct ArrowSchema *c = s->children[i];
        if (c->dictionary)
            n += 1 + count_dicts(c->dictionary, depth + 1);
        else
            n += count_dicts(c, depth + 1);
    }
    return n;
}

/* Takes the caller's dictionary ids and gives each dictionary field the last field of its id as
 * owner: the writer goes backwards through the list, so the dictionary is written there, before
 * any dictionary whose values hold one of the fields that share it. */
static int assign_ids(struct ik_ipc_writer *w, const struct ik_write_options *o,
                      struct ik_error *err)
{
    int64_t i, j;
    w->o.dictionary_ids = NULL; /* the caller's array is not kept */
    if (o && o->dictionary_ids) {
        if (o->n_dictionary_ids != w->n_dfields)
            return ik_error_set(err, EINVAL,
                                "%lld dictionary ids given for %lld dictionary-encoded fields",
                                (long long)o->n_dictionary_ids, (long long)w->n_dfields);
        for (i = 0; i < w->n_dfields; i++) {
            if (o->dictionary_ids[i] < 0)
                return ik_error_set(err, EINVAL, "dictionary id %lld is negative",
                                    (long long)o->dictionary_ids[i]);
            w->dfields[i].id = o->dictionary_ids[i];
        }
    }
    for (i = 0; i < w->n_dfields; i++) {
        const struct ArrowSchema *a = w->dfields[i].field;
        w->dicts[i].owner = i;
        for (j = w->n_dfields - 1; j > i; j--) {
            const struct ArrowSchema *b = w->dfields[j].field;
            if (w->dfields[j].id != w->dfields[i].id)
                continue;
            if (!ik__schema_same_type(a->dictionary, b->dictionary, 0))
                return ik_error_set(err, EINVAL,
                                    "fields '%s' and '%s' share dictionary id %lld but their "
                                    "value types differ",
                                    a->name ? a->name : "", b->name ? b->name : "",
                                    (long long)w->dfields[i].id);
            w->dicts[i].owner = j;
            break;
        }
    }
    return 0;
}

int ik_ipc_writer_create(const struct ArrowSchema *schema, const struct ik_write_options *opts,
                         ik_write_fn write, void *ctx, struct ik_ipc_writer **out,
                         struct ik_error *err)
{
    struct ik_ipc_writer *w;
    int64_t i;
    int rc;
    if (schema == NULL || schema->release == NULL || strcmp(schema->format, "+s") != 0)
        return ik_error_set(err, EINVAL, "the writer needs a struct schema (format \"+s\")");
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    if (opts)
        w->o = *opts;
    w->write = write;
    w->ctx = ctx;
    ik__enc_init(&w->enc);
    ik__fbb_init(&w->fbb);
    if (w->o.borrow_schema) {
        w->schema = *schema;
        w->schema.release = NULL; /* not ours to release */
    } else if ((rc = ik_schema_copy(schema, &w->schema, err)) != 0) {
        free(w);
        return rc;
    }
    if ((rc = ik__schema_dict_fields(&w->schema, &w->dfields, &w->n_dfields, err)) != 0)
        goto fail;
    w->dicts = calloc((size_t)(w->n_dfields ? w->n_dfields : 1), sizeof *w->dicts);
    if (w->dicts == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < w->n_dfields; i++)
        w->dicts[i].n_nested = count_dicts(w->dfields[i].field->dictionary, 0);
    if ((rc = assign_ids(w, opts, err)) != 0)
        goto fail;
    if (w->o.format == IK_IPC_FILE) {
        static const uint8_t magic[8] = {'A', 'R', 'R', 'O', 'W', '1', 0, 0};
        if ((rc = emit(w, magic, 8, err)) != 0)
            goto fail;
    }
    if (w->o.format == IK_IPC_STREAM && w->o.schema_message)
        rc = emit(w, w->o.schema_message, w->o.schema_message_len, err);
    else
        rc = write_schema_message(w, err);
    w->o.schema_message = NULL; /* not kept */
    if (rc != 0)
        goto fail;
    *out = w;
    return 0;
fail:
    ik_ipc_writer_destroy(w);
    return rc;
}

/* Finds the dictionary arrays of `a` (schema node `s`) in the order ik__schema_dict_fields
 * lists dictionary fields. */
static int collect_dicts(const struct ArrowSchema *s, const struct ArrowArray *a,
                         const struct ArrowArray **found, int64_t *n, int64_t max,
                         struct ik_error *err)
{
    int64_t i;
    const struct ArrowSchema *node = s;
    const struct ArrowArray *arr = a;
    if (s->dictionary) {
        if (a->dictionary == NULL)
            return ik_error_set(err, EINVAL,
                                "field '%s' is dictionary-encoded but the array "
                                "has no dictionary",
                                s->name ? s->name : "");
        if (*n >= max)
            return ik_error_set(err, EINVAL, "more dictionaries than the schema declares");
        found[(*n)++] = a->dictionary;
        node = s->dictionary;
        arr = a->dictionary;
    }
    if (arr->n_children != node->n_children)
        return ik_error_set(err, EINVAL, "field '%s': array has %lld children, schema %lld",
                            s->name ? s->name : "", (long long)arr->n_children,
                            (long long)node->n_children);
    for (i = 0; i < node->n_children; i++) {
        int rc = collect_dicts(node->children[i], arr->children[i], found, n, max, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int write_dictionary(struct ik_ipc_writer *w, int64_t k, const struct ArrowArray *d,
                            struct ik_error *err)
{
    struct wdict *wd = &w->dicts[k];
    const struct ArrowSchema *vs = w->dfields[k].field->dictionary;
    uint8_t *print = NULL, *prefix = NULL;
    size_t print_len, prefix_len;
    struct wblock block;
    int rc;
    bool delta = false, nested_replaced = false, whole = true; /* w->enc holds all of d */
    int64_t from = 0, i;

    /* A reader binds the nested dictionaries when it decodes this one: when one of them was
     * replaced, this one must be sent again whole, even with the same indices. */
    for (i = k + 1; i <= k + wd->n_nested; i++)
        nested_replaced = nested_replaced || w->dicts[w->dicts[i].owner].replaced;
    wd->replaced = false;

    ik__enc_clear(&w->enc);
    if ((rc = ik__enc_array(&w->enc, vs, d, d->offset, d->length, err)) != 0 ||
        ik__enc_fingerprint(&w->enc, &print, &print_len) != 0)
        return rc ? rc : ik_error_set(err, ENOMEM, "out of memory");
    if (wd->written) {
        if (!nested_replaced && print_len == wd->print_len &&
            memcmp(print, wd->print, print_len) == 0) {
            free(print);
            return 0; /* unchanged */
        }
        /* A grown dictionary goes as a delta, except in a stream when it holds dictionaries
         * itself: Arrow C++ cannot resolve those in a delta, and a stream may replace. */
        if (!nested_replaced && d->length > wd->length &&
            (wd->n_nested == 0 || w->o.format == IK_IPC_FILE)) {
            ik__enc_clear(&w->enc);
            whole = false;
            rc = ik__enc_array(&w->enc, vs, d, d->offset, wd->length, err);
            if (rc == 0 && ik__enc_fingerprint(&w->enc, &prefix, &prefix_len) != 0)
                rc = ik_error_set(err, ENOMEM, "out of memory");
            if (rc != 0) {
                free(print);
                return rc;
            }
            delta = prefix_len == wd->print_len && memcmp(prefix, wd->print, prefix_len) == 0;
            free(prefix);
        }
        if (!delta && w->o.format == IK_IPC_FILE) {
            free(print);
            return ik_error_set(err, EINVAL,
                                "dictionary %lld changed between batches; the IPC file format "
                                "allows only deltas (write a stream instead)",
                                (long long)w->dfields[k].id);
        }
        if (delta)
            from = wd->length;
    }
    if (!whole || from != 0) { /* else the encoding made for the fingerprint is the message's */
        ik__enc_clear(&w->enc);
        rc = ik__enc_array(&w->enc, vs, d, d->offset + from, d->length - from, err);
    }
    if (rc == 0)
        rc = write_batch_message(w, d->length - from, true, w->dfields[k].id, delta, &block, err);
    if (rc == 0 && add_block(&w->dblocks, &w->n_dblocks, &w->cap_dblocks, block) != 0)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    if (rc != 0) {
        free(print);
        return rc;
    }
    free(wd->print);
    wd->print = print;
    wd->print_len = print_len;
    wd->replaced = wd->written && !delta;
    wd->length = d->length;
    wd->written = true;
    return 0;
}

/* True when a and b are one array: the same buffers, lengths and offsets, node by node (as
 * the fields that share a decoded dictionary are). */
static bool same_array(const struct ArrowArray *a, const struct ArrowArray *b, int depth)
{
    int64_t i;
    if (a == b)
        return true;
    if (depth > 128 || a->length != b->length || a->offset != b->offset ||
        a->n_buffers != b->n_buffers || a->n_children != b->n_children ||
        (a->dictionary == NULL) != (b->dictionary == NULL))
        return false;
    for (i = 0; i < a->n_buffers; i++)
        if (a->buffers[i] != b->buffers[i])
            return false;
    for (i = 0; i < a->n_children; i++)
        if (!same_array(a->children[i], b->children[i], depth + 1))
            return false;
    return a->dictionary == NULL || same_array(a->dictionary, b->dictionary, depth + 1);
}

/* Field k shares its id with a field written after it in the list (its owner, whose dictionary
 * this batch has just written or found unchanged): its dictionary must be that one. */
static int check_shared_dictionary(struct ik_ipc_writer *w, int64_t k, const struct ArrowArray *d,
                                   const struct ArrowArray *owner_d, struct ik_error *err)
{
    const struct wdict *owner = &w->dicts[w->dicts[k].owner];
    uint8_t *print = NULL;
    size_t print_len = 0;
    bool same;
    int rc;
    if (same_array(d, owner_d, 0))
        return 0;
    ik__enc_clear(&w->enc);
    if ((rc = ik__enc_array(&w->enc, w->dfields[k].field->dictionary, d, d->offset, d->length,
                            err)) != 0)
        return rc;
    if (ik__enc_fingerprint(&w->enc, &print, &print_len) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    same = print_len == owner->print_len && memcmp(print, owner->print, print_len) == 0;
    free(print);
    if (same)
        return 0;
    return ik_error_set(
        err, EINVAL,
        "field '%s' shares dictionary id %lld with field '%s' but the batch "
        "gives them different dictionaries",
        w->dfields[k].field->name ? w->dfields[k].field->name : "", (long long)w->dfields[k].id,
        w->dfields[w->dicts[k].owner].field->name ? w->dfields[w->dicts[k].owner].field->name : "");
}

int ik_ipc_writer_write(struct ik_ipc_writer *w, const struct ArrowArray *batch,
                        struct ik_error *err)
{
    const struct ArrowArray **dicts = NULL;
    struct wblock block;
    int64_t n = 0, i;
    int rc = 0;

    if (w->failed || w->finished)
        return ik_error_set(err, EINVAL, "writer already %s", w->failed ? "failed" : "finished");
    if (batch == NULL || batch->release == NULL || batch->n_children != w->schema.n_children)
        return ik_error_set(err, EINVAL, "batch has %lld columns, schema has %lld",
                            batch ? (long long)batch->n_children : -1LL,
                            (long long)w->schema.n_children);
    for (i = 0; i < batch->n_children; i++) {
        if (batch->children[i]->length < batch->offset + batch->length)
            return ik_error_set(err, EINVAL, "column %lld is shorter than the batch", (long long)i);
    }
    if (w->n_dfields) {
        dicts = calloc((size_t)w->n_dfields, sizeof *dicts);
        if (dicts == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        for (i = 0; rc == 0 && i < w->schema.n_children; i++)
            rc = collect_dicts(w->schema.children[i], batch->children[i], dicts, &n, w->n_dfields,
                               err);
        /* Dependency order: the dictionaries nested in a dictionary's values follow it in the
         * list, so going backwards writes each one before the dictionary that refers to it. A
         * shared id is written once, at its last field (its owner). */
        if (rc == 0 && n != w->n_dfields)
            rc = ik_error_set(err, EINVAL, "the batch has %lld dictionaries, the schema %lld",
                              (long long)n, (long long)w->n_dfields);
        for (i = n - 1; rc == 0 && i >= 0; i--)
            rc = w->dicts[i].owner == i
                     ? write_dictionary(w, i, dicts[i], err)
                     : check_shared_dictionary(w, i, dicts[i], dicts[w->dicts[i].owner], err);
        free(dicts);
        if (rc != 0)
            goto fail;
    }
    ik__enc_clear(&w->enc);
    for (i = 0; i < w->schema.n_children; i++) {
        const struct ArrowArray *c = batch->children[i];
        rc = ik__enc_array(&w->enc, w->schema.children[i], c, c->offset + batch->offset,
                           batch->length, err);
        if (rc != 0)
            goto fail;
    }
    if ((rc = write_batch_message(w, batch->length, false, 0, false, &block, err)) != 0)
        goto fail;
    if (add_block(&w->bblocks, &w->n_bblocks, &w->cap_bblocks, block) != 0) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    ik__enc_clear(&w->enc);
    return 0;
fail:
    ik__enc_clear(&w->enc);
    if (rc == EIO || rc == ENOSPC)
        w->failed = rc;
    return rc;
}

static ik_fbref blocks_vector(struct ik_fbb *b, const struct wblock *v, int64_t n)
{
    uint8_t *raw = calloc((size_t)(n ? n : 1), IK_BLOCK_SIZE);
    ik_fbref r;
    int64_t i;
    if (raw == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        ik__st_u64(raw + 24 * i, (uint64_t)v[i].offset);
        ik__st_u32(raw + 24 * i + 8, (uint32_t)v[i].meta_length);
        ik__st_u64(raw + 24 * i + 16, (uint64_t)v[i].body_length);
    }
    r = ik__fbb_vector_bytes(b, raw, (uint32_t)n, IK_BLOCK_SIZE, 8);
    free(raw);
    return r;
}

int ik_ipc_writer_finish(struct ik_ipc_writer *w, struct ik_error *err)
{
    static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    int rc;
    if (w->failed || w->finished)
        return ik_error_set(err, EINVAL, "writer already %s", w->failed ? "failed" : "finished");
    if ((rc = emit(w, eos, 8, err)) != 0)
        return rc;
    if (w->o.format == IK_IPC_FILE) {
        struct ik_fbb *b = &w->fbb;
        ik_fbref sref, dv, bv, footer;
        const uint8_t *meta;
        size_t meta_len;
        uint8_t tail[10];
        ik__fbb_clear(b);
        if ((rc = ik__schema_to_fb(b, &w->schema, w->o.extra_metadata, w->dfields, &sref, err)) !=
            0)
            return rc;
        dv = blocks_vector(b, w->dblocks, w->n_dblocks);
        bv = blocks_vector(b, w->bblocks, w->n_bblocks);
        ik__fbb_table_start(b);
        ik__fbb_add_i16(b, IK_FOOTER_VERSION, IK_V5);
        ik__fbb_add_ref(b, IK_FOOTER_SCHEMA, sref);
        ik__fbb_add_ref(b, IK_FOOTER_DICTIONARIES, dv);
        ik__fbb_add_ref(b, IK_FOOTER_BATCHES, bv);
        footer = ik__fbb_table_end(b);
        if (dv == 0 || bv == 0 || ik__fbb_finish(b, footer, &meta, &meta_len) != 0)
            return ik_error_set(err, ENOMEM, "out of memory building the footer");
        ik__st_u32(tail, (uint32_t)meta_len);
        memcpy(tail + 4, "ARROW1", 6);
        if ((rc = emit(w, meta, meta_len, err)) != 0 || (rc = emit(w, tail, 10, err)) != 0)
            return rc;
    }
    w->finished = true;
    return 0;
}

void ik_ipc_writer_destroy(struct ik_ipc_writer *w)
{
    int64_t i;
    if (w == NULL)
        return;
    for (i = 0; w->dicts && i < w->n_dfields; i++)
        free(w->dicts[i].print);
    free(w->dicts);
    free(w->dfields);
    free(w->dblocks);
    free(w->bblocks);
    zbuf_free(w);
    ik__zctx_free(&w->zctx);
    ik__enc_reset(&w->enc);
    ik__fbb_reset(&w->fbb);
    if (w->schema.release)
        w->schema.release(&w->schema);
    free(w);
}

/* ---- whole streams to a path ---------------------------------------------------------- */

static int stream_error(struct ArrowArrayStream *s, int rc, const char *what, struct ik_error *err)
{
    const char *m = s->get_last_error ? s->get_last_error(s) : NULL;
    return ik_error_set(err, rc == EIO ? IK_EFORMAT : rc, "%s", m ? m : what);
}

int ik_ipc_write_stream_to_path(struct ArrowArrayStream *stream, const char *path,
                                const struct ik_write_options *opts, struct ik_error *err)
{
    struct ArrowSchema schema;
    struct ArrowArray batch;
    struct ik_ipc_writer *w = NULL;
    struct ik_write_options o;
    struct ik__fd_sink sink = {-1, NULL, 0, false, 0, 0};
    struct stat st;
    int64_t *ids = NULL;
    char tmp[4096];
    int rc, fd = -1;
    bool to_stdout = strcmp(path, "-") == 0;

    if ((rc = stream->get_schema(stream, &schema)) != 0)
        return stream_error(stream, rc, "could not read the input schema", err);
    if (!to_stdout) {
        if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
            schema.release(&schema);
            return ik_error_set(err, ENAMETOOLONG, "%s: path too long", path);
        }
        fd = mkstemp(tmp);
        if (fd < 0) {
            rc = ik_error_set(err, errno, "%s: %s", path, strerror(errno));
            schema.release(&schema);
            return rc;
        }
        { /* mkstemp makes 0600; give the file the usual umask-derived mode */
            mode_t um = umask(0);
            umask(um);
            if (fchmod(fd, 0666 & ~um) != 0) {
                /* keep 0600: still correct, only stricter */
            }
        }
        /* the rename will replace a name that exists: write behind (see fd_sink.c) */
        if (ik__fd_sink_init(&sink, fd, lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) != 0) {
            close(fd);
            unlink(tmp);
            schema.release(&schema);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
    }
    if (opts)
        o = *opts;
    else
        ik_write_options_init(&o);
    /* our own reader's stream: fields that share a dictionary keep sharing it */
    if (o.dictionary_ids == NULL &&
        ik__ipc_stream_dictionary_ids(stream, &ids, &o.n_dictionary_ids) == 0)
        o.dictionary_ids = ids;
    rc = to_stdout ? ik_ipc_writer_create(&schema, &o, ik_write_to_file, stdout, &w, err)
                   : ik_ipc_writer_create(&schema, &o, ik__fd_sink_write, &sink, &w, err);
    free(ids);
    schema.release(&schema);
    while (rc == 0) {
        if ((rc = stream->get_next(stream, &batch)) != 0) {
            rc = stream_error(stream, rc, "could not read the next batch", err);
            break;
        }
        if (batch.release == NULL)
            break;
        rc = ik_ipc_writer_write(w, &batch, err);
        batch.release(&batch);
    }
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    ik_ipc_writer_destroy(w);
    if (to_stdout) {
        if (rc == 0 && fflush(stdout) != 0)
            rc = ik_error_set(err, errno ? errno : EIO, "%s: %s", path,
                              strerror(errno ? errno : EIO));
        return rc;
    }
    if (rc == 0 && (rc = ik__fd_sink_flush(&sink, err)) != 0)
        ik_error_prefix(err, rc, "%s", path);
    ik__fd_sink_reset(&sink);
    if (rc == 0 && opts && opts->fsync && fsync(fd) != 0)
        rc = ik_error_set(err, errno, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = ik_error_set(err, errno ? errno : EIO, "%s: %s", path, strerror(errno ? errno : EIO));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = ik_error_set(err, errno, "%s: rename: %s", path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}
