/* Tests of the IPC reader and writer: round trips through the stream and file formats, sliced
 * input, dictionaries (replacement, delta), byte-at-a-time feeding, zero-copy decoding from a
 * buffer, refcounted lifetimes, hostile bytes (every truncation, bit flips), and dictionary ids
 * shared by several fields. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "arrow/ipc_internal.h"
#include "ik_test.h"

/* ---- a growable memory sink ---------------------------------------------------------- */
struct sink {
    uint8_t *p;
    size_t len, cap;
};

static int sink_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct sink *s = ctx;
    (void)err;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        uint8_t *q;
        while (cap < s->len + len)
            cap *= 2;
        q = realloc(s->p, cap);
        if (q == NULL)
            return ENOMEM;
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, len);
    s->len += len;
    return 0;
}

static void free_ctx(void *p)
{
    free(p);
}

/* ---- building test arrays ------------------------------------------------------------ */
static void *give(struct ArrowArray *a, int i, size_t n)
{
    struct ik_buffer *b;
    uint8_t *p;
    if (ik_buffer_alloc(n, &b, &p) != 0)
        return NULL;
    a->buffers[i] = p;
    ik__array_hold(a, b);
    ik_buffer_unref(b);
    return p;
}

/* int32 column 0..n-1 with every third value null */
static void make_int32(struct ArrowArray *a, int64_t n)
{
    int64_t i;
    uint8_t *v;
    int32_t *d;
    ik__array_alloc(a, 2, 0);
    a->length = n;
    v = give(a, 0, (size_t)n / 8 + 1);
    d = give(a, 1, (size_t)n * 4);
    for (i = 0; i < n; i++) {
        d[i] = (int32_t)i;
        if (i % 3 != 0)
            v[i / 8] = (uint8_t)(v[i / 8] | (1u << (i % 8)));
        else
            a->null_count++;
    }
}

/* utf8 column of "s<i>" */
static void make_utf8(struct ArrowArray *a, int64_t n)
{
    int64_t i;
    int32_t *o;
    char *d;
    ik__array_alloc(a, 3, 0);
    a->length = n;
    o = give(a, 1, (size_t)(n + 1) * 4);
    d = give(a, 2, (size_t)n * 12 + 1);
    o[0] = 0;
    for (i = 0; i < n; i++)
        o[i + 1] = o[i] + sprintf(d + o[i], "s%lld", (long long)i);
}

/* dictionary<int8, utf8> with `words` values; indices i % nwords */
static void make_dict(struct ArrowArray *a, int64_t n, const char *const *words, int nwords)
{
    int64_t i;
    int8_t *idx;
    int32_t *o;
    char *d;
    ik__array_alloc(a, 2, 0);
    a->length = n;
    idx = give(a, 1, (size_t)n);
    for (i = 0; i < n; i++)
        idx[i] = (int8_t)(i % nwords);
    ik__array_alloc_dictionary(a);
    ik__array_alloc(a->dictionary, 3, 0);
    a->dictionary->length = nwords;
    o = give(a->dictionary, 1, (size_t)(nwords + 1) * 4);
    d = give(a->dictionary, 2, 256);
    o[0] = 0;
    for (i = 0; i < nwords; i++) {
        size_t l = strlen(words[i]);
        memcpy(d + o[i], words[i], l);
        o[i + 1] = o[i] + (int32_t)l;
    }
}

/* list<int64>: row i has i % 4 items */
static void make_list(struct ArrowArray *a, int64_t n)
{
    int64_t i, total = 0, j;
    int32_t *o;
    int64_t *vals;
    struct ArrowArray *c;
    ik__array_alloc(a, 2, 1);
    a->length = n;
    o = give(a, 1, (size_t)(n + 1) * 4);
    for (i = 0; i < n; i++) {
        o[i] = (int32_t)total;
        total += i % 4;
    }
    o[n] = (int32_t)total;
    c = a->children[0];
    ik__array_alloc(c, 2, 0);
    c->length = total;
    vals = give(c, 1, (size_t)total * 8 + 8);
    for (j = 0; j < total; j++)
        vals[j] = j * 10;
}

static const char *const words_a[] = {"recursive", "direct", "indirect"};
static const char *const words_b[] = {"recursive", "direct", "indirect", "extra"};
static const char *const words_c[] = {"zeta", "eta"};

static void make_schema(struct ArrowSchema *s)
{
    ik__schema_alloc(s, "+s", "", NULL, 0, 4);
    ik__schema_alloc(s->children[0], "i", "n", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc(s->children[1], "u", "name", NULL, 0, 0);
    ik__schema_alloc(s->children[2], "c", "kind", NULL, 0, 0);
    ik__schema_alloc_dictionary(s->children[2]);
    ik__schema_alloc(s->children[2]->dictionary, "u", NULL, NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc(s->children[3], "+l", "tags", NULL, ARROW_FLAG_NULLABLE, 1);
    ik__schema_alloc(s->children[3]->children[0], "l", "item", NULL, ARROW_FLAG_NULLABLE, 0);
}

static void make_batch(struct ArrowArray *b, int64_t n, const char *const *words, int nwords)
{
    ik__array_alloc(b, 1, 4);
    b->length = n;
    make_int32(b->children[0], n);
    make_utf8(b->children[1], n);
    make_dict(b->children[2], n, words, nwords);
    make_list(b->children[3], n);
}

/* Checks that batch `got` row r equals source row `src_row` of make_batch. */
static int row_ok(const struct ArrowArray *got, int64_t r, int64_t src_row, int nwords,
                  const char *const *words)
{
    const struct ArrowArray *c0 = got->children[0], *c1 = got->children[1], *c2 = got->children[2],
                            *c3 = got->children[3];
    int64_t i0 = c0->offset + r;
    const uint8_t *v = c0->buffers[0];
    bool valid = v == NULL || ((v[i0 / 8] >> (i0 % 8)) & 1);
    char want[32];
    const int32_t *o = c1->buffers[1];
    int64_t i1 = c1->offset + r;
    const int8_t *idx = c2->buffers[1];
    const struct ArrowArray *d = c2->dictionary;
    const int32_t *dofs = d->buffers[1];
    int k;
    const int32_t *lo = c3->buffers[1];
    int64_t i3 = c3->offset + r;
    if (valid != (src_row % 3 != 0))
        return 0;
    if (valid && ((const int32_t *)c0->buffers[1])[i0] != (int32_t)src_row)
        return 0;
    snprintf(want, sizeof want, "s%lld", (long long)src_row);
    if ((size_t)(o[i1 + 1] - o[i1]) != strlen(want) ||
        memcmp((const char *)c1->buffers[2] + o[i1], want, strlen(want)) != 0)
        return 0;
    k = idx[c2->offset + r];
    if (k != (int)(src_row % nwords) ||
        memcmp((const char *)d->buffers[2] + dofs[d->offset + k], words[k], strlen(words[k])) != 0)
        return 0;
    if (lo[i3 + 1] - lo[i3] != src_row % 4)
        return 0;
    if (src_row % 4) {
        const int64_t *vals = c3->children[0]->buffers[1];
        /* first item of the row: its global index in make_list's numbering */
        int64_t first = 0, i;
        for (i = 0; i < src_row; i++)
            first += i % 4;
        if (vals[c3->children[0]->offset + lo[i3]] != first * 10)
            return 0;
    }
    return 1;
}

static int write_all(enum ik_ipc_format fmt, enum ik_compression comp, int64_t rows,
                     int64_t slice_off, struct sink *out, struct ik_error *err)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_write_options o;
    struct ik_ipc_writer *w;
    int rc;
    make_schema(&s);
    make_batch(&b, rows, words_a, 3);
    b.offset = slice_off;
    b.length = rows - slice_off;
    ik_write_options_init(&o);
    o.format = fmt;
    o.compression = comp;
    memset(out, 0, sizeof *out);
    rc = ik_ipc_writer_create(&s, &o, sink_write, out, &w, err);
    if (rc == 0)
        rc = ik_ipc_writer_write(w, &b, err);
    if (rc == 0)
        rc = ik_ipc_writer_write(w, &b, err); /* same dictionary: written once */
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    ik_ipc_writer_destroy(w);
    b.release(&b);
    s.release(&s);
    return rc;
}

/* True when schemas a and b have the same formats node by node (dictionaries included). */
static bool same_formats(const struct ArrowSchema *a, const struct ArrowSchema *b)
{
    int64_t i;
    if (strcmp(a->format, b->format) != 0 || a->n_children != b->n_children ||
        (a->dictionary == NULL) != (b->dictionary == NULL))
        return false;
    if (a->dictionary && !same_formats(a->dictionary, b->dictionary))
        return false;
    for (i = 0; i < a->n_children; i++)
        if (!same_formats(a->children[i], b->children[i]))
            return false;
    return true;
}

static int check_stream_bytes(const uint8_t *p, size_t n, int64_t rows, int64_t slice_off,
                              struct ik_error *err, int64_t *batches)
{
    struct ik_buffer *buf;
    struct ArrowArrayStream st;
    struct ArrowArray b;
    struct ik_read_options o;
    int rc;
    int64_t r;
    ik_read_options_init(&o);
    o.validate = IK_VALIDATE_FULL;
    ik_buffer_wrap(p, n, NULL, NULL, &buf);
    rc = ik_ipc_open_stream(buf, &o, &st, NULL, err);
    ik_buffer_unref(buf);
    if (rc != 0)
        return rc;
    {
        /* a flip may change a type and still decode; row_ok reads the written types only */
        struct ArrowSchema got, want;
        bool same;
        if (st.get_schema(&st, &got) != 0) {
            st.release(&st);
            return EINVAL;
        }
        make_schema(&want);
        same = same_formats(&got, &want);
        got.release(&got);
        want.release(&want);
        if (!same) {
            st.release(&st);
            snprintf(err->message, sizeof err->message, "schema differs");
            return EINVAL;
        }
    }
    *batches = 0;
    for (;;) {
        if ((rc = st.get_next(&st, &b)) != 0) {
            snprintf(err->message, sizeof err->message, "%s", st.get_last_error(&st));
            break;
        }
        if (b.release == NULL)
            break;
        (*batches)++;
        if (b.length != rows - slice_off)
            rc = EINVAL;
        for (r = 0; rc == 0 && r < b.length; r++)
            if (!row_ok(&b, r, slice_off + r, 3, words_a)) {
                snprintf(err->message, sizeof err->message, "row %lld differs", (long long)r);
                rc = EINVAL;
            }
        b.release(&b);
        if (rc != 0)
            break;
    }
    st.release(&st);
    return rc;
}

TEST(test_ipc_stream_round_trip)
{
    struct sink s;
    struct ik_error err;
    int64_t batches;
    ASSERT_OK(write_all(IK_IPC_STREAM, IK_COMPRESSION_NONE, 100, 0, &s, &err), &err);
    ASSERT_OK(check_stream_bytes(s.p, s.len, 100, 0, &err, &batches), &err);
    ASSERT_EQ(batches, 2);
    free(s.p);
}

TEST(test_ipc_file_round_trip_sliced)
{
    struct sink s;
    struct ik_error err;
    int64_t batches;
    ASSERT_OK(write_all(IK_IPC_FILE, IK_COMPRESSION_NONE, 100, 13, &s, &err), &err);
    ASSERT_MEM_EQ(s.p, "ARROW1", 6);
    ASSERT_OK(check_stream_bytes(s.p, s.len, 100, 13, &err, &batches), &err);
    ASSERT_EQ(batches, 2);
    free(s.p);
}

TEST(test_ipc_compressed_round_trips)
{
    struct sink s;
    struct ik_error err;
    int64_t batches;
    ASSERT_OK(write_all(IK_IPC_STREAM, IK_COMPRESSION_LZ4, 500, 7, &s, &err), &err);
    ASSERT_OK(check_stream_bytes(s.p, s.len, 500, 7, &err, &batches), &err);
    free(s.p);
    ASSERT_OK(write_all(IK_IPC_FILE, IK_COMPRESSION_ZSTD, 500, 0, &s, &err), &err);
    ASSERT_OK(check_stream_bytes(s.p, s.len, 500, 0, &err, &batches), &err);
    ASSERT_EQ(batches, 2);
    free(s.p);
}

TEST(test_ipc_buffers_aligned_to_64)
{
    struct sink s;
    struct ik_error err;
    struct ik_buffer *buf;
    struct ik_ipc_file *f;
    struct ArrowArray b;
    int64_t i, j;
    uint8_t *copy;
    ASSERT_OK(write_all(IK_IPC_FILE, IK_COMPRESSION_NONE, 300, 0, &s, &err), &err);
    ASSERT_OK(ik_buffer_alloc(s.len, &buf, &copy), &err); /* 64-aligned base, like a mapping */
    memcpy(copy, s.p, s.len);
    free(s.p);
    ASSERT_OK(ik_ipc_file_open(buf, NULL, &f, &err), &err);
    ASSERT_OK(ik_ipc_file_read_batch(f, 0, &b, &err), &err);
    for (i = 0; i < b.n_children; i++)
        for (j = 0; j < b.children[i]->n_buffers; j++) {
            const uint8_t *p = b.children[i]->buffers[j];
            if (p == NULL)
                continue;
            /* zero-copy: every buffer lies inside the file bytes, 64-byte aligned */
            ASSERT_TRUE(p >= copy && p < copy + ik_buffer_size(buf));
            ASSERT_EQ(((uintptr_t)p) % 64, 0);
        }
    b.release(&b);
    ik_ipc_file_destroy(f);
    ik_buffer_unref(buf);
}

TEST(test_ipc_batch_keeps_buffer_alive)
{
    struct sink s;
    struct ik_error err;
    struct ik_buffer *buf;
    struct ik_ipc_file *f;
    struct ArrowArray b;
    int64_t before = ik_buffer_live_count();
    ASSERT_OK(write_all(IK_IPC_FILE, IK_COMPRESSION_NONE, 50, 0, &s, &err), &err);
    ASSERT_OK(ik_buffer_wrap(s.p, s.len, free_ctx, s.p, &buf), &err);
    ASSERT_OK(ik_ipc_file_open(buf, NULL, &f, &err), &err);
    ik_buffer_unref(buf);
    ASSERT_OK(ik_ipc_file_read_batch(f, 1, &b, &err), &err);
    ik_ipc_file_destroy(f);
    ASSERT_TRUE(ik_buffer_live_count() > before); /* the batch still holds the bytes */
    ASSERT_TRUE(row_ok(&b, 49, 49, 3, words_a));
    b.release(&b);
    ASSERT_EQ(ik_buffer_live_count(), before);
}

TEST(test_ipc_reader_byte_at_a_time)
{
    struct sink s;
    struct ik_error err;
    struct ik_ipc_reader *r;
    struct ArrowArray b;
    size_t i;
    int64_t got = 0;
    int rc = IK_EAGAIN;
    ASSERT_OK(write_all(IK_IPC_STREAM, IK_COMPRESSION_NONE, 40, 0, &s, &err), &err);
    ASSERT_OK(ik_ipc_reader_create(NULL, &r, &err), &err);
    for (i = 0; i < s.len; i++) {
        ASSERT_OK(ik_ipc_reader_feed(r, s.p + i, 1, &err), &err);
        while ((rc = ik_ipc_reader_next(r, &b, &err)) == 0) {
            ASSERT_TRUE(row_ok(&b, 39, 39, 3, words_a));
            b.release(&b);
            got++;
        }
        if (i + 1 < s.len)
            ASSERT_EQ(rc, IK_EAGAIN);
    }
    ASSERT_EQ(rc, IK_EOS);
    ASSERT_EQ(got, 2);
    ik_ipc_reader_destroy(r);
    free(s.p);
}

TEST(test_ipc_every_truncation_fails_cleanly)
{
    struct sink s;
    struct ik_error err;
    size_t cut;
    int64_t batches;
    ASSERT_OK(write_all(IK_IPC_FILE, IK_COMPRESSION_NONE, 20, 0, &s, &err), &err);
    for (cut = 0; cut < s.len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        int rc;
        memcpy(p, s.p, cut);
        rc = check_stream_bytes(p, cut, 20, 0, &err, &batches);
        /* a file cut anywhere is an error (the footer is at the end) */
        ASSERT_NE(rc, 0);
        ASSERT_TRUE(err.message[0] != 0);
        free(p);
    }
    free(s.p);
    ASSERT_OK(write_all(IK_IPC_STREAM, IK_COMPRESSION_NONE, 20, 0, &s, &err), &err);
    for (cut = 0; cut + 8 < s.len; cut++) { /* cutting only the end-of-stream marker is fine */
        uint8_t *p = malloc(cut ? cut : 1);
        int rc;
        memcpy(p, s.p, cut);
        rc = check_stream_bytes(p, cut, 20, 0, &err, &batches);
        if (rc == 0) /* a cut exactly between messages: fewer batches, no error */
            ASSERT_TRUE(batches < 2);
        free(p);
    }
    free(s.p);
}

TEST(test_ipc_bit_flips_never_crash)
{
    struct sink s;
    struct ik_error err;
    size_t i;
    int64_t batches;
    uint64_t seed = 12345;
    ASSERT_OK(write_all(IK_IPC_STREAM, IK_COMPRESSION_NONE, 30, 0, &s, &err), &err);
    for (i = 0; i < 3000; i++) {
        uint8_t *p = malloc(s.len);
        size_t pos;
        memcpy(p, s.p, s.len);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        pos = (size_t)(seed >> 33) % s.len;
        p[pos] ^= (uint8_t)(1u << ((seed >> 20) & 7));
        (void)check_stream_bytes(p, s.len, 30, 0, &err, &batches);
        free(p);
    }
    free(s.p);
}

TEST(test_ipc_dictionary_delta_and_replacement)
{
    struct ArrowSchema s;
    struct ArrowArray b1, b2, b3, got;
    struct ik_write_options o;
    struct ik_ipc_writer *w;
    struct ik_error err;
    struct sink out = {0};
    struct ik_ipc_reader *r;
    int n = 0;
    make_schema(&s);
    make_batch(&b1, 10, words_a, 3);
    make_batch(&b2, 10, words_b, 4); /* grows by appending: a delta */
    make_batch(&b3, 10, words_c, 2); /* different: a replacement */
    ik_write_options_init(&o);
    ASSERT_OK(ik_ipc_writer_create(&s, &o, sink_write, &out, &w, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b1, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b2, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b3, &err), &err);
    ASSERT_OK(ik_ipc_writer_finish(w, &err), &err);
    ik_ipc_writer_destroy(w);
    ASSERT_OK(ik_ipc_reader_create(NULL, &r, &err), &err);
    ASSERT_OK(ik_ipc_reader_feed(r, out.p, out.len, &err), &err);
    while (ik_ipc_reader_next(r, &got, &err) == 0) {
        const char *const *words = n == 0 ? words_a : n == 1 ? words_b : words_c;
        int nw = n == 0 ? 3 : n == 1 ? 4 : 2;
        ASSERT_EQ(got.children[2]->dictionary->length, nw);
        ASSERT_TRUE(row_ok(&got, 9, 9, nw, words));
        got.release(&got);
        n++;
    }
    ASSERT_EQ(n, 3);
    /* 1 schema + dictionary + batch + delta + batch + replacement + batch */
    ASSERT_EQ(ik_ipc_reader_message_count(r), 7);
    ik_ipc_reader_destroy(r);
    free(out.p);

    /* The file format refuses the replacement, naming the reason. */
    memset(&out, 0, sizeof out);
    o.format = IK_IPC_FILE;
    ASSERT_OK(ik_ipc_writer_create(&s, &o, sink_write, &out, &w, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b1, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b2, &err), &err);
    ASSERT_FAILS(ik_ipc_writer_write(w, &b3, &err), EINVAL, &err, "only deltas");
    ik_ipc_writer_destroy(w);
    free(out.p);
    b1.release(&b1);
    b2.release(&b2);
    b3.release(&b3);
    s.release(&s);
}

TEST(test_ipc_rejects_non_arrow_input)
{
    struct ik_buffer *buf;
    struct ArrowArrayStream st;
    struct ik_error err;
    static const char junk[] = "hello, this is not arrow data at all";
    ik_buffer_wrap(junk, sizeof junk, NULL, NULL, &buf);
    ASSERT_NE(ik_ipc_open_stream(buf, NULL, &st, NULL, &err), 0);
    ASSERT_TRUE(err.message[0] != 0);
    ik_buffer_unref(buf);
    ik_buffer_wrap(junk, 0, NULL, NULL, &buf);
    ASSERT_FAILS(ik_ipc_open_stream(buf, NULL, &st, NULL, &err), IK_EFORMAT, &err, "empty");
    ik_buffer_unref(buf);
}

/* ---- dictionary ids shared by several fields (ik_write_options.dictionary_ids): one
 * dictionary per id on the stream and file formats, deltas included, the ids read back as
 * written, and the refusals (id count, negative id, value types that differ, a batch giving the
 * sharing fields different dictionaries) ---------------------------------------------------- */

static const char *const sd_words_a[] = {"foo", "bar", "baz"};
static const char *const sd_words_b[] = {"foo", "bar", "baz", "qux"}; /* sd_words_a grown */
static const char *const sd_words_c[] = {"zeta", "eta"};

/* two dictionary-encoded columns "a" and "b"; b's values are `b_values` ("u" or "z") */
static void sd_make_schema(struct ArrowSchema *s, const char *b_values)
{
    ik__schema_alloc(s, "+s", "", NULL, 0, 2);
    ik__schema_alloc(s->children[0], "c", "a", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc_dictionary(s->children[0]);
    ik__schema_alloc(s->children[0]->dictionary, "u", NULL, NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc(s->children[1], "c", "b", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc_dictionary(s->children[1]);
    ik__schema_alloc(s->children[1]->dictionary, b_values, NULL, NULL, ARROW_FLAG_NULLABLE, 0);
}

static void sd_make_batch(struct ArrowArray *b, const char *const *wa, int na,
                          const char *const *wb, int nb)
{
    ik__array_alloc(b, 1, 2);
    b->length = 8;
    make_dict(b->children[0], 8, wa, na);
    make_dict(b->children[1], 8, wb, nb);
}

static const int64_t shared_ids[2] = {5, 5};

/* Writes batches (sd_words_a, sd_words_a) then (sd_words_b, sd_words_b) with both columns on id 5.
 */
static void sd_write_shared(enum ik_ipc_format fmt, struct sink *out)
{
    struct ArrowSchema s;
    struct ArrowArray b1, b2;
    struct ik_write_options o;
    struct ik_ipc_writer *w;
    struct ik_error err;
    sd_make_schema(&s, "u");
    sd_make_batch(&b1, sd_words_a, 3, sd_words_a, 3);
    sd_make_batch(&b2, sd_words_b, 4, sd_words_b, 4);
    ik_write_options_init(&o);
    o.format = fmt;
    o.compression = IK_COMPRESSION_ZSTD;
    o.dictionary_ids = shared_ids;
    o.n_dictionary_ids = 2;
    memset(out, 0, sizeof *out);
    ASSERT_OK(ik_ipc_writer_create(&s, &o, sink_write, out, &w, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b1, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b2, &err), &err);
    ASSERT_OK(ik_ipc_writer_finish(w, &err), &err);
    ik_ipc_writer_destroy(w);
    b1.release(&b1);
    b2.release(&b2);
    s.release(&s);
}

/* Reads `out` back: both columns decode sd_words_a then sd_words_b (a file's reader applies every
 * delta before the first batch), and the stream gives id 5 to both fields. */
static void sd_read_back(const struct sink *out, bool is_file)
{
    struct ik_buffer *buf;
    struct ArrowArrayStream st;
    struct ArrowArray got;
    struct ik_error err;
    int64_t *ids = NULL, n_ids = 0, k = 0;
    int c;
    ASSERT_OK(ik_buffer_wrap(out->p, out->len, NULL, NULL, &buf), &err);
    ASSERT_OK(ik_ipc_open_stream(buf, NULL, &st, NULL, &err), &err);
    ASSERT_EQ(ik__ipc_stream_dictionary_ids(&st, &ids, &n_ids), 0);
    ASSERT_EQ(n_ids, 2);
    ASSERT_EQ(ids[0], 5);
    ASSERT_EQ(ids[1], 5);
    free(ids);
    while (st.get_next(&st, &got) == 0 && got.release) {
        for (c = 0; c < 2; c++) {
            const struct ArrowArray *d = got.children[c]->dictionary;
            const int32_t *o = d->buffers[1];
            ASSERT_EQ(d->length, k == 0 && !is_file ? 3 : 4);
            ASSERT_TRUE(memcmp((const char *)d->buffers[2] + o[d->offset + 2], "baz", 3) == 0);
        }
        got.release(&got);
        k++;
    }
    ASSERT_EQ(k, 2);
    st.release(&st);
    ik_buffer_unref(buf);
}

TEST(test_ipc_shared_dictionary_stream_one_dictionary_and_a_delta)
{
    struct sink out;
    struct ik_ipc_reader *r;
    struct ArrowArray got;
    struct ik_error err;
    sd_write_shared(IK_IPC_STREAM, &out);
    sd_read_back(&out, false);
    /* schema + dictionary 5 + batch + delta of 5 + batch: nothing written per field */
    ASSERT_OK(ik_ipc_reader_create(NULL, &r, &err), &err);
    ASSERT_OK(ik_ipc_reader_feed(r, out.p, out.len, &err), &err);
    while (ik_ipc_reader_next(r, &got, &err) == 0)
        got.release(&got);
    ASSERT_EQ(ik_ipc_reader_message_count(r), 5);
    ik_ipc_reader_destroy(r);
    free(out.p);
}

TEST(test_ipc_shared_dictionary_file)
{
    struct sink out;
    struct ik_buffer *buf;
    struct ik_ipc_file *f;
    struct ik_error err;
    sd_write_shared(IK_IPC_FILE, &out);
    sd_read_back(&out, true);
    ASSERT_OK(ik_buffer_wrap(out.p, out.len, NULL, NULL, &buf), &err);
    ASSERT_OK(ik_ipc_file_open(buf, NULL, &f, &err), &err);
    ASSERT_EQ(ik_ipc_file_num_batches(f), 2);
    ik_ipc_file_destroy(f);
    ik_buffer_unref(buf);
    free(out.p);
}

TEST(test_ipc_shared_dictionary_refusals)
{
    struct ArrowSchema s, sz;
    struct ArrowArray b;
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    struct ik_error err;
    struct sink out = {0};
    static const int64_t negative[2] = {0, -1};
    sd_make_schema(&s, "u");
    sd_make_schema(&sz, "z");
    ik_write_options_init(&o);
    o.dictionary_ids = shared_ids;
    o.n_dictionary_ids = 1;
    ASSERT_FAILS(ik_ipc_writer_create(&s, &o, sink_write, &out, &w, &err), EINVAL, &err,
                 "1 dictionary ids given for 2");
    o.n_dictionary_ids = 2;
    o.dictionary_ids = negative;
    ASSERT_FAILS(ik_ipc_writer_create(&s, &o, sink_write, &out, &w, &err), EINVAL, &err,
                 "negative");
    o.dictionary_ids = shared_ids;
    ASSERT_FAILS(ik_ipc_writer_create(&sz, &o, sink_write, &out, &w, &err), EINVAL, &err,
                 "value types differ");
    /* one id, but the batch gives the two columns different dictionaries */
    ASSERT_OK(ik_ipc_writer_create(&s, &o, sink_write, &out, &w, &err), &err);
    sd_make_batch(&b, sd_words_a, 3, sd_words_c, 2);
    ASSERT_FAILS(ik_ipc_writer_write(w, &b, &err), EINVAL, &err, "different dictionaries");
    ik_ipc_writer_destroy(w);
    b.release(&b);
    s.release(&s);
    sz.release(&sz);
    free(out.p);
}

/* Bitmaps of a slice are shifted when the slice starts inside a byte: every phase of the
 * shift and lengths that end inside a byte round-trip (the int32 column has nulls). */
TEST(test_ipc_slices_at_every_bit_offset_round_trip)
{
    struct sink s;
    struct ik_error err;
    int64_t batches;
    for (int64_t off = 0; off < 18; off++)
        for (int64_t rows = off + 1; rows < off + 20; rows += 3) {
            ASSERT_OK(write_all(IK_IPC_STREAM, IK_COMPRESSION_NONE, rows, off, &s, &err), &err);
            ASSERT_OK(check_stream_bytes(s.p, s.len, rows, off, &err, &batches), &err);
            free(s.p);
        }
}

TEST(test_schema_equal_sees_every_part)
{
    struct ArrowSchema a, b;
    struct ik_error err;
    make_schema(&a);
    ASSERT_OK(ik_schema_copy(&a, &b, &err), &err);
    ASSERT_TRUE(ik_schema_equal(&a, &b));
    ASSERT_TRUE(!ik_schema_equal(&a, a.children[0]));
    b.children[2]->dictionary->flags = 0; /* a dictionary's flags */
    ASSERT_TRUE(!ik_schema_equal(&a, &b));
    b.release(&b);
    ASSERT_OK(ik_schema_copy(&a, &b, &err), &err);
    b.children[3]->children[0]->name = "elem"; /* a nested name (ours: never released) */
    ASSERT_TRUE(!ik_schema_equal(&a, &b));
    b.children[3]->children[0]->name = "item";
    ASSERT_TRUE(ik_schema_equal(&a, &b));
    b.release(&b);
    {
        static const char meta[] = "\1\0\0\0\1\0\0\0k\1\0\0\0v";
        ik__schema_alloc(&b, "+s", "", meta, 0, 0);
        ASSERT_TRUE(!ik_schema_equal(&a, &b)); /* metadata and children */
        b.release(&b);
    }
    a.release(&a);
}

/* A writer given an earlier writer's schema message (and reading the caller's schema in
 * place) writes the very same bytes. */
TEST(test_ipc_writer_takes_a_kept_schema_message)
{
    struct sink first, second;
    struct ik_error err;
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    size_t msg = 0;
    ASSERT_OK(write_all(IK_IPC_STREAM, IK_COMPRESSION_NONE, 100, 5, &first, &err), &err);
    ASSERT_OK(ik_ipc_message_size(first.p, first.len, &msg, &err), &err);
    make_schema(&s);
    make_batch(&b, 100, words_a, 3);
    b.offset = 5;
    b.length = 95;
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    o.schema_message = first.p;
    o.schema_message_len = msg;
    o.borrow_schema = true;
    memset(&second, 0, sizeof second);
    ASSERT_OK(ik_ipc_writer_create(&s, &o, sink_write, &second, &w, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b, &err), &err);
    ASSERT_OK(ik_ipc_writer_write(w, &b, &err), &err);
    ASSERT_OK(ik_ipc_writer_finish(w, &err), &err);
    ik_ipc_writer_destroy(w);
    ASSERT_EQ(second.len, first.len);
    ASSERT_MEM_EQ(second.p, first.p, first.len);
    ASSERT_TRUE(s.release != NULL); /* borrowed: still the caller's */
    b.release(&b);
    s.release(&s);
    free(first.p);
    free(second.p);
}

/* 64-bit offsets (large_utf8) of a slice are rebased too: every slice start and a length on
 * each side of the 8-wide blocks the rebasing works in. */
TEST(test_ipc_slices_of_large_strings_round_trip)
{
    struct ik_error err;
    for (int64_t off = 1; off < 12; off += 5)
        for (int64_t len = 1; len < 20; len += 3) {
            struct ArrowSchema s, *got_s;
            struct ArrowArray b, got = {0};
            struct ik_write_options o;
            struct ik_ipc_writer *w = NULL;
            struct ik_ipc_reader *r = NULL;
            struct ik_read_options ro;
            struct sink out = {0};
            int64_t n = off + len, *ofs;
            char *d;
            ik__schema_alloc(&s, "+s", "", NULL, 0, 1);
            ik__schema_alloc(s.children[0], "U", "big", NULL, 0, 0);
            ik__array_alloc(&b, 1, 1);
            b.length = n;
            ik__array_alloc(b.children[0], 3, 0);
            b.children[0]->length = n;
            ofs = give(b.children[0], 1, (size_t)(n + 1) * 8);
            d = give(b.children[0], 2, (size_t)n * 12 + 1);
            ofs[0] = 0;
            for (int64_t i = 0; i < n; i++)
                ofs[i + 1] = ofs[i] + sprintf(d + ofs[i], "w%lld", (long long)i);
            b.offset = off;
            b.length = len;
            ik_write_options_init(&o);
            o.format = IK_IPC_STREAM;
            ASSERT_OK(ik_ipc_writer_create(&s, &o, sink_write, &out, &w, &err), &err);
            ASSERT_OK(ik_ipc_writer_write(w, &b, &err), &err);
            ASSERT_OK(ik_ipc_writer_finish(w, &err), &err);
            ik_ipc_writer_destroy(w);
            ik_read_options_init(&ro);
            ASSERT_OK(ik_ipc_reader_create(&ro, &r, &err), &err);
            ASSERT_OK(ik_ipc_reader_feed(r, out.p, out.len, &err), &err);
            ASSERT_OK(ik_ipc_reader_finish(r, &err), &err);
            ASSERT_OK(ik_ipc_reader_next(r, &got, &err), &err);
            got_s = (struct ArrowSchema *)ik_ipc_reader_schema(r);
            ASSERT_EQ(strcmp(got_s->children[0]->format, "U"), 0);
            ASSERT_EQ(got.length, len);
            {
                const struct ArrowArray *c = got.children[0];
                const int64_t *go = (const int64_t *)c->buffers[1] + c->offset;
                const char *gd = c->buffers[2];
                for (int64_t i = 0; i < len; i++) {
                    char want[32];
                    int k = sprintf(want, "w%lld", (long long)(off + i));
                    ASSERT_EQ(go[i + 1] - go[i], k);
                    ASSERT_TRUE(memcmp(gd + go[i], want, (size_t)k) == 0);
                }
            }
            got.release(&got);
            ik_ipc_reader_destroy(r);
            free(out.p);
            b.release(&b);
            s.release(&s);
        }
}
