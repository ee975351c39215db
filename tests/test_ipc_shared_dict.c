/* Tests of dictionary ids shared by several fields on the writer side (ik_write_options
 * .dictionary_ids): one dictionary per id on the stream and file formats, deltas included, the
 * ids read back as written, and the refusals (id count, negative id, value types that differ,
 * a batch giving the sharing fields different dictionaries). */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "arrow/ipc_internal.h"
#include "ik_test.h"

struct sink {
    uint8_t *p;
    size_t len, cap;
};

static int sink_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct sink *s = ctx;
    (void)err;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint8_t *q;
        while (cap < s->len + len)
            cap *= 2;
        if ((q = realloc(s->p, cap)) == NULL)
            return ENOMEM;
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, len);
    s->len += len;
    return 0;
}

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

/* dictionary<int8, utf8 or binary>: n indices i % nwords over `words` */
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

static const char *const words_a[] = {"foo", "bar", "baz"};
static const char *const words_b[] = {"foo", "bar", "baz", "qux"}; /* words_a grown */
static const char *const words_c[] = {"zeta", "eta"};

/* two dictionary-encoded columns "a" and "b"; b's values are `b_values` ("u" or "z") */
static void make_schema(struct ArrowSchema *s, const char *b_values)
{
    ik__schema_alloc(s, "+s", "", NULL, 0, 2);
    ik__schema_alloc(s->children[0], "c", "a", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc_dictionary(s->children[0]);
    ik__schema_alloc(s->children[0]->dictionary, "u", NULL, NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc(s->children[1], "c", "b", NULL, ARROW_FLAG_NULLABLE, 0);
    ik__schema_alloc_dictionary(s->children[1]);
    ik__schema_alloc(s->children[1]->dictionary, b_values, NULL, NULL, ARROW_FLAG_NULLABLE, 0);
}

static void make_batch(struct ArrowArray *b, const char *const *wa, int na, const char *const *wb,
                       int nb)
{
    ik__array_alloc(b, 1, 2);
    b->length = 8;
    make_dict(b->children[0], 8, wa, na);
    make_dict(b->children[1], 8, wb, nb);
}

static const int64_t shared_ids[2] = {5, 5};

/* Writes batches (words_a, words_a) then (words_b, words_b) with both columns on id 5. */
static void write_shared(enum ik_ipc_format fmt, struct sink *out)
{
    struct ArrowSchema s;
    struct ArrowArray b1, b2;
    struct ik_write_options o;
    struct ik_ipc_writer *w;
    struct ik_error err;
    make_schema(&s, "u");
    make_batch(&b1, words_a, 3, words_a, 3);
    make_batch(&b2, words_b, 4, words_b, 4);
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

/* Reads `out` back: both columns decode words_a then words_b (a file's reader applies every
 * delta before the first batch), and the stream gives id 5 to both fields. */
static void read_back(const struct sink *out, bool is_file)
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
    write_shared(IK_IPC_STREAM, &out);
    read_back(&out, false);
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
    write_shared(IK_IPC_FILE, &out);
    read_back(&out, true);
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
    make_schema(&s, "u");
    make_schema(&sz, "z");
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
    make_batch(&b, words_a, 3, words_c, 2);
    ASSERT_FAILS(ik_ipc_writer_write(w, &b, &err), EINVAL, &err, "different dictionaries");
    ik_ipc_writer_destroy(w);
    b.release(&b);
    s.release(&s);
    sz.release(&sz);
    free(out.p);
}
