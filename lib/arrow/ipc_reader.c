/* The IPC stream reader (incremental: bytes in any chunking, whole batches out) and the IPC
 * file reader (random access to batch i on a caller's buffer or a mapping), plus the
 * ArrowArrayStream wrappers over both. */
#include <stdlib.h>
#include <string.h>

#include "arrow/ipc_internal.h"

void ik_read_options_init(struct ik_read_options *o)
{
    memset(o, 0, sizeof *o);
    o->validate = IK_VALIDATE_DEFAULT;
    o->check_utf8 = true;
    o->max_depth = 64;
    o->max_message_bytes = 64ll << 20;
    o->max_body_bytes = 16ll << 30;
}

static void options_or_default(const struct ik_read_options *in, struct ik_read_options *out)
{
    if (in)
        *out = *in;
    else
        ik_read_options_init(out);
    if (out->max_depth <= 0)
        out->max_depth = 64;
    if (out->max_message_bytes <= 0)
        out->max_message_bytes = 64ll << 20;
    if (out->max_body_bytes <= 0)
        out->max_body_bytes = 16ll << 30;
}

/* Parses a Schema message header into schema + dictionary state. */
static int read_schema(struct ik_fbt schema_table, const struct ik_read_options *o,
                       struct ArrowSchema *schema, struct ik__dicts *dicts, struct ik_error *err)
{
    struct ik__dict_field *fields = NULL;
    int64_t n = 0;
    int rc = ik__schema_from_fb(schema_table, o->max_depth, schema, &fields, &n, err);
    if (rc != 0)
        return rc;
    rc = ik__dicts_init(dicts, fields, n, err);
    free(fields);
    if (rc != 0)
        schema->release(schema);
    return rc;
}

/* ==== stream reader ====================================================================== */

struct ik_ipc_reader {
    struct ik_read_options o;
    uint8_t *acc; /* pending copied bytes acc[acc_pos, acc_len) */
    size_t acc_len, acc_pos, acc_cap;
    struct ik_buffer *cur; /* zero-copy source: bytes [cur_pos, size) pending */
    size_t cur_pos;
    struct ArrowSchema schema;
    struct ik__dicts dicts;
    bool have_schema, finished, eos;
    int64_t messages;
    int64_t initial_left; /* dictionaries still due before the first batch */
    int failed;
    struct ik_error last;
};

int ik_ipc_reader_create(const struct ik_read_options *opts, struct ik_ipc_reader **out,
                         struct ik_error *err)
{
    struct ik_ipc_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    options_or_default(opts, &r->o);
    *out = r;
    return 0;
}

void ik_ipc_reader_destroy(struct ik_ipc_reader *r)
{
    if (r == NULL)
        return;
    if (r->have_schema) {
        ik__dicts_reset(&r->dicts);
        r->schema.release(&r->schema);
    }
    ik_buffer_unref(r->cur);
    free(r->acc);
    free(r);
}

static int acc_append(struct ik_ipc_reader *r, const uint8_t *p, size_t n, struct ik_error *err)
{
    if (r->acc_pos > 0 && r->acc_pos == r->acc_len)
        r->acc_pos = r->acc_len = 0;
    if (r->acc_len + n > r->acc_cap) {
        size_t live = r->acc_len - r->acc_pos, cap = r->acc_cap ? r->acc_cap : 4096;
        uint8_t *q;
        while (cap < live + n)
            cap *= 2;
        q = malloc(cap);
        if (q == NULL)
            return ik_error_set(err, ENOMEM, "out of memory buffering the stream");
        if (live)
            memcpy(q, r->acc + r->acc_pos, live);
        free(r->acc);
        r->acc = q;
        r->acc_cap = cap;
        r->acc_pos = 0;
        r->acc_len = live;
    }
    if (n)
        memcpy(r->acc + r->acc_len, p, n);
    r->acc_len += n;
    return 0;
}

int ik_ipc_reader_feed(struct ik_ipc_reader *r, const void *data, size_t len, struct ik_error *err)
{
    if (r->finished)
        return ik_error_set(err, EINVAL, "bytes fed after finish");
    if (r->cur) { /* keep order: move the zero-copy remainder into the copy buffer first */
        int rc = acc_append(r, ik_buffer_data(r->cur) + r->cur_pos,
                            ik_buffer_size(r->cur) - r->cur_pos, err);
        ik_buffer_unref(r->cur);
        r->cur = NULL;
        if (rc != 0)
            return rc;
    }
    return acc_append(r, data, len, err);
}

int ik_ipc_reader_feed_buffer(struct ik_ipc_reader *r, struct ik_buffer *buf, struct ik_error *err)
{
    if (r->finished)
        return ik_error_set(err, EINVAL, "bytes fed after finish");
    if (r->cur == NULL && r->acc_len == r->acc_pos) {
        r->cur = ik_buffer_ref(buf);
        r->cur_pos = 0;
        return 0;
    }
    return ik_ipc_reader_feed(r, ik_buffer_data(buf), ik_buffer_size(buf), err);
}

int ik_ipc_reader_finish(struct ik_ipc_reader *r, struct ik_error *err)
{
    (void)err;
    r->finished = true;
    return 0;
}

const struct ArrowSchema *ik_ipc_reader_schema(const struct ik_ipc_reader *r)
{
    return r->have_schema ? &r->schema : NULL;
}

int64_t ik_ipc_reader_message_count(const struct ik_ipc_reader *r)
{
    return r->messages;
}

/* Handles one framed message whose bytes start at p inside `src` (held). Returns 0 with
 * *got_batch set when a batch was produced. */
static int handle_message(struct ik_ipc_reader *r, const struct ik__msg *m, struct ik_buffer *src,
                          size_t msg_off, struct ArrowArray *out, bool *got_batch,
                          struct ik_error *err)
{
    size_t body_off = msg_off + m->meta_offset + m->meta_length;
    if (!r->have_schema) {
        if (m->header_type != IK_HDR_SCHEMA)
            return ik_error_set(err, IK_EFORMAT, "stream does not start with a schema (type %d)",
                                m->header_type);
        int rc = read_schema(m->header, &r->o, &r->schema, &r->dicts, err);
        if (rc != 0)
            return rc;
        r->have_schema = true;
        r->initial_left = r->dicts.n;
        return 0;
    }
    switch (m->header_type) {
    case IK_HDR_SCHEMA:
        return ik_error_set(err, IK_EFORMAT, "a second schema message in the stream");
    case IK_HDR_DICTIONARY: {
        int rc = ik__decode_dictionary(m, src, body_off, &r->dicts, &r->o, true, err);
        if (rc == 0 && r->initial_left > 0)
            r->initial_left--;
        return rc;
    }
    case IK_HDR_RECORD_BATCH: {
        int rc;
        /* As in Arrow C++: one dictionary batch per dictionary id comes first. */
        if (r->initial_left > 0)
            return ik_error_set(err, IK_EFORMAT,
                                "a record batch before the stream's %lld dictionaries were sent",
                                (long long)r->dicts.n);
        rc = ik__decode_batch(&r->schema, m, src, body_off, &r->dicts, &r->o, out, err);
        if (rc == 0)
            *got_batch = true;
        return rc;
    }
    default:
        return ik_error_set(err, ENOTSUP, "message type %d is not supported", m->header_type);
    }
}

/* The end of the stream (marker or not): refused when it cuts the initial dictionaries short
 * (none at all is a stream with a schema and no data). */
static int reader_end(struct ik_ipc_reader *r, struct ik_error *err)
{
    r->eos = true;
    if (r->initial_left > 0 && r->initial_left < r->dicts.n)
        return ik_error_set(err, IK_EFORMAT, "stream ended before its %lld dictionaries were sent",
                            (long long)r->dicts.n);
    return IK_EOS;
}

static int reader_step(struct ik_ipc_reader *r, struct ArrowArray *out, bool *got_batch,
                       struct ik_error *err)
{
    struct ik__msg m;
    int rc;
    if (r->cur) {
        const uint8_t *base = ik_buffer_data(r->cur);
        size_t avail = ik_buffer_size(r->cur) - r->cur_pos;
        rc = ik__msg_frame(base + r->cur_pos, avail, &r->o, &m, err);
        if (rc == IK_EAGAIN) { /* partial message: continue in the copy buffer */
            rc = acc_append(r, base + r->cur_pos, avail, err);
            ik_buffer_unref(r->cur);
            r->cur = NULL;
            return rc ? rc : IK_EAGAIN;
        }
        if (rc != 0)
            return rc;
        if (m.eos)
            return reader_end(r, err);
        rc = handle_message(r, &m, r->cur, r->cur_pos, out, got_batch, err);
        r->cur_pos += m.total;
        if (r->cur_pos == ik_buffer_size(r->cur)) {
            ik_buffer_unref(r->cur);
            r->cur = NULL;
        }
        return rc;
    }
    if (r->acc == NULL) /* nothing buffered yet */
        return IK_EAGAIN;
    rc = ik__msg_frame(r->acc + r->acc_pos, r->acc_len - r->acc_pos, &r->o, &m, err);
    if (rc != 0)
        return rc;
    if (m.eos)
        return reader_end(r, err);
    {
        /* Copy the message into an aligned block the arrays can hold on to. */
        struct ik_buffer *b;
        uint8_t *dst;
        if (ik_buffer_alloc(m.total, &b, &dst) != 0)
            return ik_error_set(err, ENOMEM, "out of memory");
        memcpy(dst, r->acc + r->acc_pos, m.total);
        r->acc_pos += m.total;
        /* the framing's flatbuffer must point into the copy */
        if (ik__fb_init(&m.fb, dst + m.meta_offset, m.meta_length, err) == 0) {
            struct ik_fbt root = ik__fb_root(&m.fb);
            m.header = ik__fbt_table(root, IK_MSG_HEADER);
            rc = handle_message(r, &m, b, 0, out, got_batch, err);
        } else {
            rc = IK_EFORMAT;
        }
        ik_buffer_unref(b);
        return rc;
    }
}

int ik_ipc_reader_next(struct ik_ipc_reader *r, struct ArrowArray *out, struct ik_error *err)
{
    int rc;
    if (r->failed)
        return ik_error_set(err, r->failed, "%s", r->last.message);
    out->release = NULL;
    for (;;) {
        bool got = false;
        if (r->eos)
            return IK_EOS;
        rc = reader_step(r, out, &got, err);
        if (rc == IK_EAGAIN || rc == IK_EOS) {
            if (rc == IK_EAGAIN && r->finished) {
                size_t left = r->acc_len - r->acc_pos;
                if (left == 0 && r->cur == NULL) {
                    if (!r->have_schema)
                        return ik_error_set(err, IK_EFORMAT, "empty stream: no schema message");
                    rc = reader_end(r, err); /* a stream may end without the marker */
                    if (rc == IK_EOS)
                        return rc;
                    break;
                }
                rc = ik_error_set(err, IK_EFORMAT,
                                  "message %lld: stream truncated (%zu bytes of an incomplete "
                                  "message at the end)",
                                  (long long)r->messages, left);
                break;
            }
            return rc;
        }
        if (rc != 0) {
            ik_error_prefix(err, rc, "message %lld", (long long)r->messages);
            break;
        }
        r->messages++;
        if (got)
            return 0;
    }
    r->failed = rc;
    if (err)
        r->last = *err;
    return rc;
}

/* ==== file reader ======================================================================== */

struct block {
    int64_t offset;
    int32_t meta_length;
    int64_t body_length;
};

struct ik_ipc_file {
    struct ik_buffer *buf;
    struct ik_read_options o;
    struct ArrowSchema schema;
    struct ik__dicts dicts;
    struct block *dict_blocks, *batch_blocks;
    int64_t n_dict_blocks, n_batch_blocks;
    bool dicts_loaded;
};

static const char magic[6] = {'A', 'R', 'R', 'O', 'W', '1'};

static int read_blocks(struct ik_fbt footer, int id, size_t file_len, struct block **out,
                       int64_t *n, const char *what, struct ik_error *err)
{
    struct ik_fbv v = ik__fbt_vector(footer, id, IK_BLOCK_SIZE);
    uint32_t i;
    *out = calloc(v.n ? v.n : 1, sizeof **out);
    *n = v.n;
    if (*out == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < v.n; i++) {
        const uint8_t *p = ik__fbv_elem(v, i, IK_BLOCK_SIZE);
        struct block *b = &(*out)[i];
        if (p == NULL)
            return ik_error_set(err, IK_EFORMAT, "footer: %s block %u out of bounds", what, i);
        b->offset = ik__ld_i64(p);
        b->meta_length = ik__ld_i32(p + 8);
        b->body_length = ik__ld_i64(p + 16);
        if (b->offset < 8 || b->meta_length < 8 || b->body_length < 0 ||
            (uint64_t)b->offset > file_len ||
            (uint64_t)b->meta_length > file_len - (uint64_t)b->offset ||
            (uint64_t)b->body_length > file_len - (uint64_t)b->offset - (uint64_t)b->meta_length)
            return ik_error_set(err, IK_EFORMAT,
                                "footer: %s block %u (offset %lld, metadata %d, body %lld) lies "
                                "outside the file (%zu bytes)",
                                what, i, (long long)b->offset, b->meta_length,
                                (long long)b->body_length, file_len);
    }
    return 0;
}

int ik_ipc_file_open(struct ik_buffer *buf, const struct ik_read_options *opts,
                     struct ik_ipc_file **out, struct ik_error *err)
{
    const uint8_t *p = ik_buffer_data(buf);
    size_t len = ik_buffer_size(buf);
    struct ik_ipc_file *f;
    struct ik_fb fb;
    struct ik_fbt footer, schema;
    int32_t flen;
    int rc;

    if (len < 6 || memcmp(p, magic, 6) != 0)
        return ik_error_set(err, IK_EFORMAT, "not an Arrow IPC file (no ARROW1 magic at start)");
    if (len < 8 + 6 + 4 + 8 || memcmp(p + len - 6, magic, 6) != 0)
        return ik_error_set(err, IK_EFORMAT,
                            "Arrow IPC file truncated: no ARROW1 magic at the end (%zu bytes)",
                            len);
    flen = ik__ld_i32(p + len - 10);
    if (flen <= 0 || (size_t)flen > len - 10 - 8)
        return ik_error_set(err, IK_EFORMAT, "footer length %d is invalid for a %zu-byte file",
                            flen, len);
    if ((int64_t)flen > (opts ? opts->max_message_bytes : 64ll << 20) && opts &&
        opts->max_message_bytes > 0)
        return ik_error_set(err, IK_ELIMIT, "footer length %d exceeds the limit", flen);
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    options_or_default(opts, &f->o);
    f->buf = ik_buffer_ref(buf);
    if ((rc = ik__fb_init(&fb, p + len - 10 - flen, (size_t)flen, err)) != 0) {
        ik_error_prefix(err, rc, "footer");
        goto fail_nodicts;
    }
    footer = ik__fb_root(&fb);
    schema = ik__fbt_table(footer, IK_FOOTER_SCHEMA);
    if (ik__fb_failed(&fb) || !ik__fbt_present(schema)) {
        rc = ik__fb_failed(&fb) ? ik__fb_error(&fb, "footer", err)
                                : ik_error_set(err, IK_EFORMAT, "footer has no schema");
        goto fail_nodicts;
    }
    if ((rc = read_schema(schema, &f->o, &f->schema, &f->dicts, err)) != 0) {
        ik_error_prefix(err, rc, "footer schema");
        goto fail_nodicts;
    }
    if ((rc = read_blocks(footer, IK_FOOTER_DICTIONARIES, len, &f->dict_blocks, &f->n_dict_blocks,
                          "dictionary", err)) != 0 ||
        (rc = read_blocks(footer, IK_FOOTER_BATCHES, len, &f->batch_blocks, &f->n_batch_blocks,
                          "record batch", err)) != 0)
        goto fail;
    if (ik__fb_failed(&fb)) {
        rc = ik__fb_error(&fb, "footer", err);
        goto fail;
    }
    *out = f;
    return 0;
fail:
    ik_ipc_file_destroy(f);
    return rc;
fail_nodicts:
    ik_buffer_unref(f->buf);
    free(f);
    return rc;
}

void ik_ipc_file_destroy(struct ik_ipc_file *f)
{
    if (f == NULL)
        return;
    ik__dicts_reset(&f->dicts);
    if (f->schema.release)
        f->schema.release(&f->schema);
    free(f->dict_blocks);
    free(f->batch_blocks);
    ik_buffer_unref(f->buf);
    free(f);
}

int64_t ik_ipc_file_num_batches(const struct ik_ipc_file *f)
{
    return f->n_batch_blocks;
}

const struct ArrowSchema *ik_ipc_file_schema(const struct ik_ipc_file *f)
{
    return &f->schema;
}

/* Frames the message of block b and checks it matches the block. */
static int frame_block(struct ik_ipc_file *f, const struct block *b, struct ik__msg *m,
                       struct ik_error *err)
{
    const uint8_t *p = ik_buffer_data(f->buf) + b->offset;
    size_t avail = (size_t)b->meta_length + (size_t)b->body_length;
    int rc = ik__msg_frame(p, avail, &f->o, m, err);
    if (rc == IK_EAGAIN)
        return ik_error_set(err, IK_EFORMAT,
                            "message at offset %lld does not fit its block (metadata %d, body "
                            "%lld)",
                            (long long)b->offset, b->meta_length, (long long)b->body_length);
    if (rc != 0)
        return ik_error_prefix(err, rc, "message at offset %lld", (long long)b->offset);
    if (m->eos)
        return ik_error_set(err, IK_EFORMAT, "block at offset %lld holds an end-of-stream marker",
                            (long long)b->offset);
    if (m->body_length != b->body_length ||
        m->meta_offset + m->meta_length != (size_t)b->meta_length)
        return ik_error_set(err, IK_EFORMAT,
                            "message at offset %lld disagrees with its footer block (body %lld "
                            "vs %lld)",
                            (long long)b->offset, (long long)m->body_length,
                            (long long)b->body_length);
    return 0;
}

static int load_dictionaries(struct ik_ipc_file *f, struct ik_error *err)
{
    int64_t i;
    int rc;
    if (f->dicts_loaded)
        return 0;
    for (i = 0; i < f->n_dict_blocks; i++) {
        struct ik__msg m;
        const struct block *b = &f->dict_blocks[i];
        if ((rc = frame_block(f, b, &m, err)) != 0)
            return ik_error_prefix(err, rc, "dictionary block %lld", (long long)i);
        if (m.header_type != IK_HDR_DICTIONARY)
            return ik_error_set(err, IK_EFORMAT, "dictionary block %lld holds message type %d",
                                (long long)i, m.header_type);
        rc = ik__decode_dictionary(&m, f->buf, (size_t)b->offset + m.meta_offset + m.meta_length,
                                   &f->dicts, &f->o, false, err);
        if (rc != 0)
            return ik_error_prefix(err, rc, "dictionary block %lld", (long long)i);
    }
    f->dicts_loaded = true;
    return 0;
}

int ik_ipc_file_read_batch(struct ik_ipc_file *f, int64_t i, struct ArrowArray *out,
                           struct ik_error *err)
{
    struct ik__msg m;
    const struct block *b;
    int rc;
    out->release = NULL;
    if (i < 0 || i >= f->n_batch_blocks)
        return ik_error_set(err, EINVAL, "batch %lld out of range (file has %lld)", (long long)i,
                            (long long)f->n_batch_blocks);
    if ((rc = load_dictionaries(f, err)) != 0)
        return rc;
    b = &f->batch_blocks[i];
    if ((rc = frame_block(f, b, &m, err)) != 0)
        return ik_error_prefix(err, rc, "record batch %lld", (long long)i);
    rc = ik__decode_batch(&f->schema, &m, f->buf, (size_t)b->offset + m.meta_offset + m.meta_length,
                          &f->dicts, &f->o, out, err);
    if (rc != 0)
        return ik_error_prefix(err, rc, "record batch %lld", (long long)i);
    return 0;
}

/* ==== ArrowArrayStream wrappers ========================================================== */

struct stream_priv {
    struct ik_ipc_file *file;
    int64_t next;
    struct ik_ipc_reader *reader;
    struct ik_error err;
};

static int stream_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    struct stream_priv *p = s->private_data;
    const struct ArrowSchema *schema =
        p->file ? ik_ipc_file_schema(p->file) : ik_ipc_reader_schema(p->reader);
    if (schema == NULL) {
        struct ArrowArray tmp;
        int rc = ik_ipc_reader_next(p->reader, &tmp, &p->err);
        if (rc == 0) { /* cannot happen before a schema; defensive */
            tmp.release(&tmp);
            return EIO;
        }
        schema = ik_ipc_reader_schema(p->reader);
        if (schema == NULL)
            return rc == IK_EOS ? EIO : (rc < 1000 ? rc : EIO);
    }
    return ik_schema_copy(schema, out, &p->err) ? ENOMEM : 0;
}

static int stream_get_next(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    struct stream_priv *p = s->private_data;
    int rc;
    out->release = NULL;
    if (p->file) {
        if (p->next >= ik_ipc_file_num_batches(p->file))
            return 0;
        rc = ik_ipc_file_read_batch(p->file, p->next, out, &p->err);
        if (rc == 0)
            p->next++;
    } else {
        rc = ik_ipc_reader_next(p->reader, out, &p->err);
        if (rc == IK_EOS)
            return 0;
    }
    if (rc == 0)
        return 0;
    return (rc == IK_EFORMAT || rc == IK_ELIMIT || rc == IK_EINVALID) ? EIO : rc;
}

static const char *stream_last_error(struct ArrowArrayStream *s)
{
    struct stream_priv *p = s->private_data;
    return p->err.message[0] ? p->err.message : NULL;
}

static void stream_release(struct ArrowArrayStream *s)
{
    struct stream_priv *p;
    if (s == NULL || s->release == NULL)
        return;
    p = s->private_data;
    ik_ipc_file_destroy(p->file);
    ik_ipc_reader_destroy(p->reader);
    free(p);
    s->release = NULL;
}

static int make_stream(struct ik_ipc_file *file, struct ik_ipc_reader *reader,
                       struct ArrowArrayStream *out)
{
    struct stream_priv *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ENOMEM;
    p->file = file;
    p->reader = reader;
    out->get_schema = stream_get_schema;
    out->get_next = stream_get_next;
    out->get_last_error = stream_last_error;
    out->release = stream_release;
    out->private_data = p;
    return 0;
}

int ik__ipc_stream_dictionary_ids(const struct ArrowArrayStream *s, int64_t **ids, int64_t *n)
{
    const struct stream_priv *p;
    const struct ik__dicts *d;
    int64_t i;
    *ids = NULL;
    *n = 0;
    if (s->get_schema != stream_get_schema)
        return ENOENT;
    p = s->private_data;
    if (p->file == NULL && !p->reader->have_schema)
        return ENOENT;
    d = p->file ? &p->file->dicts : &p->reader->dicts;
    if (d->n_fields == 0)
        return 0;
    if ((*ids = malloc((size_t)d->n_fields * sizeof **ids)) == NULL)
        return ENOMEM;
    for (i = 0; i < d->n_fields; i++)
        (*ids)[i] = d->fields[i].id;
    *n = d->n_fields;
    return 0;
}

int ik_ipc_file_to_stream(struct ik_ipc_file *f, struct ArrowArrayStream *out, struct ik_error *err)
{
    struct ik_ipc_file *copy;
    /* Re-open on the same buffer so the stream owns its own reader state. */
    int rc = ik_ipc_file_open(f->buf, &f->o, &copy, err);
    if (rc != 0)
        return rc;
    if (make_stream(copy, NULL, out) != 0) {
        ik_ipc_file_destroy(copy);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

int ik_ipc_open_stream(struct ik_buffer *buf, const struct ik_read_options *opts,
                       struct ArrowArrayStream *out, bool *is_file, struct ik_error *err)
{
    const uint8_t *p = ik_buffer_data(buf);
    size_t len = ik_buffer_size(buf);
    int rc;
    if (len >= 6 && memcmp(p, magic, 6) == 0) {
        struct ik_ipc_file *f;
        if (is_file)
            *is_file = true;
        if ((rc = ik_ipc_file_open(buf, opts, &f, err)) != 0)
            return rc;
        if (make_stream(f, NULL, out) != 0) {
            ik_ipc_file_destroy(f);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
    } else {
        struct ik_ipc_reader *r;
        struct ArrowArray first;
        if (is_file)
            *is_file = false;
        if ((rc = ik_ipc_reader_create(opts, &r, err)) != 0)
            return rc;
        if ((rc = ik_ipc_reader_feed_buffer(r, buf, err)) != 0 ||
            (rc = ik_ipc_reader_finish(r, err)) != 0)
            goto fail;
        /* Read up to the schema now so a bad stream fails here, with its message. */
        while (ik_ipc_reader_schema(r) == NULL) {
            struct ik__msg m;
            rc = ik__msg_frame(p, len, &r->o, &m, err);
            if (rc == IK_EAGAIN || (rc == 0 && m.eos)) {
                rc = ik_error_set(err, IK_EFORMAT,
                                  len == 0 ? "empty input: no schema message"
                                           : "stream truncated before its schema");
                goto fail;
            }
            if (rc != 0)
                goto fail;
            {
                bool got = false;
                rc = reader_step(r, &first, &got, err);
                if (rc != 0) {
                    ik_error_prefix(err, rc, "message 0");
                    goto fail;
                }
                r->messages++;
            }
        }
        if (make_stream(NULL, r, out) != 0) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            goto fail;
        }
        return 0;
    fail:
        ik_ipc_reader_destroy(r);
        return rc;
    }
}
