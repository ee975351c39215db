/* Arrow pin lists: an IPC stream or file (or any ArrowArrayStream) whose columns are named as
 * pin_index's. Strings may be utf8, large_utf8, utf8_view (polars' strings) or
 * dictionary-encoded; numbers any integer type;
 * times any timestamp unit (converted to microseconds) or int64 microseconds; verified a bool.
 * Columns with other names are ignored. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/arrow.h"
#include "ipfskit/cid.h"
#include "store/store_internal.h"

enum kind { K_NONE, K_STR32, K_STR64, K_VIEW, K_INT, K_BOOL };

struct acol {
    int col;        /* pin_index column */
    enum kind kind; /* of the values (the dictionary's, when dict) */
    char int_fmt;   /* c s i l C S I L of the values, or of the indices when dict */
    int64_t ts_mul; /* timestamp unit to microseconds: multiply... */
    int64_t ts_div; /* ...or divide */
    bool dict;
    char idx_fmt;
    const struct ArrowArray *arr; /* current batch's child */
};

static bool is_int_fmt(const char *f)
{
    return f[0] && f[1] == 0 && strchr("csilCSIL", f[0]) != NULL;
}

static int64_t load_int(const void *buf, char fmt, int64_t i)
{
    switch (fmt) {
    case 'c':
        return ((const int8_t *)buf)[i];
    case 'C':
        return ((const uint8_t *)buf)[i];
    case 's':
        return ((const int16_t *)buf)[i];
    case 'S':
        return ((const uint16_t *)buf)[i];
    case 'i':
        return ((const int32_t *)buf)[i];
    case 'I':
        return ((const uint32_t *)buf)[i];
    case 'L': {
        uint64_t v = ((const uint64_t *)buf)[i];
        return v > INT64_MAX ? -1 : (int64_t)v;
    }
    default:
        return ((const int64_t *)buf)[i];
    }
}

static bool valid(const struct ArrowArray *a, int64_t i)
{
    const uint8_t *bits = a->buffers[0];
    i += a->offset;
    return bits == NULL || (bits[i >> 3] >> (i & 7)) & 1;
}

/* Sets up column `c` from its schema; EINVAL when the type cannot feed the column. */
static int describe(struct acol *c, const struct ArrowSchema *f, struct ik_error *err)
{
    const char *fmt = f->format, *vf;
    bool want_str = ik__col_is_str(c->col);
    c->ts_mul = c->ts_div = 1;
    c->dict = f->dictionary != NULL;
    vf = c->dict ? f->dictionary->format : fmt;
    if (c->dict) {
        if (!is_int_fmt(fmt))
            goto bad;
        c->idx_fmt = fmt[0];
    }
    if (want_str) {
        if (strcmp(vf, "u") == 0)
            c->kind = K_STR32;
        else if (strcmp(vf, "U") == 0)
            c->kind = K_STR64;
        else if (strcmp(vf, "vu") == 0)
            c->kind = K_VIEW;
        else
            goto bad;
        return 0;
    }
    if (c->dict)
        goto bad;
    if (c->col == IK__VERIFIED && strcmp(vf, "b") == 0) {
        c->kind = K_BOOL;
        return 0;
    }
    if (is_int_fmt(vf)) {
        c->kind = K_INT;
        c->int_fmt = vf[0];
        return 0;
    }
    if ((c->col == IK__TIMESTAMP || c->col == IK__LAST_ACCESS) && strncmp(vf, "ts", 2) == 0 &&
        vf[2] && vf[3] == ':') {
        c->kind = K_INT;
        c->int_fmt = 'l';
        switch (vf[2]) {
        case 's':
            c->ts_mul = 1000000;
            break;
        case 'm':
            c->ts_mul = 1000;
            break;
        case 'u':
            break;
        case 'n':
            c->ts_div = 1000;
            break;
        default:
            goto bad;
        }
        return 0;
    }
bad:
    return ik_error_set(err, EINVAL, "Arrow column '%s': type '%s%s%s' cannot be read as %s",
                        ik__col_names[c->col], fmt, c->dict ? " dictionary of " : "",
                        c->dict ? f->dictionary->format : "",
                        want_str                 ? "a string"
                        : c->col == IK__VERIFIED ? "a bool"
                                                 : "an integer");
}

static void read_str(const struct ArrowArray *a, enum kind k, int64_t i, struct ik__span *out)
{
    int64_t b, e;
    i += a->offset;
    if (k == K_VIEW) { /* 16-byte views: length, then inline bytes or prefix, buffer, offset */
        const uint8_t *v = (const uint8_t *)a->buffers[1] + 16 * i;
        int32_t len, buf, off;
        memcpy(&len, v, 4);
        out->n = (size_t)len;
        if (len <= 12) {
            out->p = (const char *)v + 4;
            return;
        }
        memcpy(&buf, v + 8, 4);
        memcpy(&off, v + 12, 4);
        out->p = (const char *)a->buffers[2 + buf] + off;
        return;
    }
    if (k == K_STR32) {
        const int32_t *o = a->buffers[1];
        b = o[i], e = o[i + 1];
    } else {
        const int64_t *o = a->buffers[1];
        b = o[i], e = o[i + 1];
    }
    out->p = (const char *)a->buffers[2] + b;
    out->n = (size_t)(e - b);
}

static void read_value(const struct acol *c, int64_t i, struct ik__row *r)
{
    const struct ArrowArray *a = c->arr;
    if (!valid(a, i))
        return;
    if (c->dict) {
        i = load_int(a->buffers[1], c->idx_fmt, a->offset + i);
        a = a->dictionary;
        if (!valid(a, i))
            return;
    }
    if (c->kind == K_STR32 || c->kind == K_STR64 || c->kind == K_VIEW) {
        struct ik__span s;
        read_str(a, c->kind, i, &s);
        if (c->col != IK__NAME || s.n > 0)
            ik__row_str(r, c->col, s.p, s.n);
    } else if (c->kind == K_BOOL) {
        const uint8_t *bits = a->buffers[1];
        int64_t k = a->offset + i;
        ik__row_num(r, c->col, (bits[k >> 3] >> (k & 7)) & 1);
    } else {
        int64_t v = load_int(a->buffers[1], c->int_fmt, a->offset + i);
        ik__row_num(r, c->col, c->ts_div > 1 ? v / c->ts_div : v * c->ts_mul);
    }
}

/* The batches of one import, kept until every row is upserted (the pending entries point into
 * them), with the input row number of each one's first row. v[i] is record batch i. */
struct held {
    struct ArrowArray *v;
    uint64_t *first;
    size_t n, cap;
};

static int hold(struct held *h, struct ArrowArray *b, uint64_t first, struct ik_error *err)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct ArrowArray *v = realloc(h->v, cap * sizeof *v);
        uint64_t *f = v ? realloc(h->first, cap * sizeof *f) : NULL;
        if (v)
            h->v = v;
        if (f == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        h->first = f;
        h->cap = cap;
    }
    h->v[h->n] = *b; /* moved: the C Data Interface lets a struct be moved by copying it */
    h->first[h->n++] = first;
    b->release = NULL;
    return 0;
}

static void release_held(struct held *h)
{
    size_t i;
    for (i = 0; i < h->n; i++)
        h->v[i].release(&h->v[i]);
    free(h->v);
    free(h->first);
}

/* The held batch holding input row `seq`. */
static size_t batch_of(const struct held *h, uint64_t seq)
{
    size_t lo = 0, hi = h->n; /* first[lo] <= seq < first[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->first[mid] <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void read_row(const struct acol *cols, int n, const struct ArrowArray *b, int64_t i,
                     struct ik__row *r)
{
    int k;
    r->given = 0;
    for (k = 0; k < n; k++)
        read_value(&cols[k], b->offset + i, r);
}

/* Pass 1 over rows [from, to) of one batch (its children set in cols): checks every row, fails
 * or skips the bad ones and enters the good ones, `first` being the input row number of row 0. */
static int check_rows(struct ik__sink *s, const struct acol *cols, int n,
                      const struct ArrowArray *b, int64_t batch_no, uint64_t first, int64_t from,
                      int64_t to, struct ik__pending_list *todo, struct ik_error *err)
{
    struct ik__row r;
    struct ik_error e;
    char msg[IK_ERROR_SIZE + 64];
    int64_t i;
    int rc = 0;
    for (i = from; i < to && rc == 0; i++) {
        read_row(cols, n, b, i, &r);
        if (ik__row_check(&r, &e) != 0) {
            snprintf(msg, sizeof msg, "record batch %lld row %lld: %s", (long long)batch_no,
                     (long long)i, e.message);
            rc = ik__sink_bad(s, msg, err);
            continue;
        }
        s->paths += IK__HAS(&r, IK__VFS_PATH);
        rc = ik__pending_add(todo, r.str[IK__CID].p, r.str[IK__CID].n, first + (uint64_t)i, err);
    }
    return rc;
}

/* The second half of a batch's pass 1, on a thread of its own: its own sink result, entries
 * and error, merged after it in row order. */
struct half {
    struct ik__sink s;
    struct ik_import_result res;
    const struct acol *cols;
    int n;
    const struct ArrowArray *b;
    int64_t batch_no, from;
    uint64_t first;
    struct ik__pending_list todo;
    struct ik_error err;
    int rc;
};

static void *half_thread(void *arg)
{
    struct half *h = arg;
    h->rc = check_rows(&h->s, h->cols, h->n, h->b, h->batch_no, h->first, h->from, h->b->length,
                       &h->todo, &h->err);
    return NULL;
}

#define CHECK_THREAD_MIN 8192 /* rows of a batch from which its second half has a thread */

/* Pass 1 over one batch: from CHECK_THREAD_MIN rows, its second half on a second thread (the
 * CID's base58, the metadata's JSON: ~0.3 µs a row). The result is the sequential one: the
 * first bad row of the batch fails it, skipped rows count in order, entries in input order. */
static int check_batch(struct ik__sink *s, const struct acol *cols, int n,
                       const struct ArrowArray *b, int64_t batch_no, uint64_t first,
                       struct ik__pending_list *todo, struct ik_error *err)
{
    struct half *h = b->length >= CHECK_THREAD_MIN ? calloc(1, sizeof *h) : NULL;
    pthread_t th;
    int rc;
    if (h != NULL) {
        h->s = *s;
        h->s.res = &h->res;
        h->s.paths = 0;
        h->cols = cols;
        h->n = n;
        h->b = b;
        h->batch_no = batch_no;
        h->from = b->length / 2;
        h->first = first;
    }
    if (h == NULL || pthread_create(&th, NULL, half_thread, h) != 0) {
        free(h);
        return check_rows(s, cols, n, b, batch_no, first, 0, b->length, todo, err);
    }
    rc = check_rows(s, cols, n, b, batch_no, first, 0, h->from, todo, err);
    pthread_join(th, NULL);
    if (rc == 0 && h->rc != 0) {
        rc = h->rc;
        if (err)
            *err = h->err;
    }
    if (rc == 0) {
        if (h->res.skipped > 0 && s->res->skipped == 0)
            memcpy(s->res->first_skip, h->res.first_skip, sizeof s->res->first_skip);
        s->res->skipped += h->res.skipped;
        s->paths += h->s.paths;
        rc = ik__pending_append(todo, &h->todo, err);
    }
    ik__pending_free(&h->todo);
    free(h);
    return rc;
}

/* Pass 2 without a journal: upserts the entered rows in cid order. */
static int upsert_sorted(struct ik__sink *s, struct acol *cols, int n, const int64_t *child,
                         const struct held *h, const struct ik__pending_list *todo,
                         struct ik_error *err)
{
    struct ik__row r;
    size_t i, b;
    int k, rc;
    for (i = 0; i < todo->n; i++) {
        uint64_t seq = todo->v[i].seq;
        int64_t row;
        b = batch_of(h, seq);
        row = (int64_t)(seq - h->first[b]);
        for (k = 0; k < n; k++)
            cols[k].arr = h->v[b].children[child[k]];
        read_row(cols, n, &h->v[b], row, &r);
        if ((rc = ik__upsert(s->st, &r, s->now, s->opts->default_backend, err)) != 0)
            return ik_error_prefix(err, rc, "record batch %zu row %lld", b, (long long)row);
        s->res->imported++;
    }
    return 0;
}

/* Whether the upsert binds column c of r to a value (not NULL): store.c's bind_col. */
static bool bound(const struct ik__row *r, int c)
{
    return IK__HAS(r, c) && (!ik__col_is_str(c) || r->str[c].p != NULL);
}

/* Where an entry's row lies in the held batches. */
struct at {
    uint32_t batch, row;
};

/* Input row i's value of column c (read_value's i, in child `a`) as the upsert binds it: true
 * with *o set, false when the row does not give it. utf8 and plain integer columns are read
 * here directly (the common case), the others through read_value. */
static bool read_gval(struct acol *c, const struct ArrowArray *a, int64_t i, struct ik__gval *o)
{
    struct ik__row r;
    if (!c->dict && (c->kind == K_STR32 || c->kind == K_INT)) {
        const uint8_t *bits = a->buffers[0];
        int64_t k = a->offset + i;
        if (bits != NULL && !((bits[k >> 3] >> (k & 7)) & 1))
            return false;
        if (c->kind == K_INT) {
            int64_t v = load_int(a->buffers[1], c->int_fmt, k);
            o->v = c->ts_div > 1 ? v / c->ts_div : v * c->ts_mul;
            o->p = NULL;
            return o->has = true;
        }
        if (a->buffers[2] == NULL) /* no bytes at all: bound to nothing, as bound() says */
            return false;
        {
            const int32_t *off = a->buffers[1];
            o->p = (const char *)a->buffers[2] + off[k];
            o->v = off[k + 1] - off[k];
        }
        return c->col == IK__NAME && o->v == 0 ? false : (o->has = true); /* "" is no name */
    }
    c->arr = a;
    r.given = 0;
    read_value(c, i, &r);
    if (!bound(&r, c->col))
        return false;
    o->p = ik__col_is_str(c->col) ? r.str[c->col].p : NULL;
    o->v = ik__col_is_str(c->col) ? (int64_t)r.str[c->col].n : r.num[c->col];
    return o->has = true;
}

#define GATHER_CHUNK 256

/* Column c of every row the table will hold (s->given), row j's value taken from the last of
 * its twins (entries first[j] .. first[j + 1] - 1) that gives it, as the upserts in that order
 * leave it; `k` is c's input column (-1: none, every row takes the default). */
static int gather_column(struct ik__given *g, int c, struct acol *cols, int k, const int64_t *child,
                         const struct held *h, const struct at *at, const uint32_t *first, size_t m)
{
    struct ik__gval v[GATHER_CHUNK];
    int rc = 0;
    for (size_t j0 = 0; j0 < m && rc == 0; j0 += GATHER_CHUNK) {
        size_t n = m - j0 < GATHER_CHUNK ? m - j0 : GATHER_CHUNK;
        for (size_t j = 0; j < n; j++) {
            v[j].has = false;
            for (uint32_t i = first[j0 + j + 1]; k >= 0 && i-- > first[j0 + j];) {
                const struct ArrowArray *b = &h->v[at[i].batch];
                if (read_gval(&cols[k], b->children[child[k]], b->offset + (int64_t)at[i].row,
                              &v[j]))
                    break;
            }
        }
        rc = ik__given_values(g, c, v, n);
    }
    return rc;
}

/* One thread's share of the gather: the columns in `mask` (1u << column). */
struct gjob {
    struct ik__sink *s;
    struct acol cols[IK__NCOLS]; /* its own copy: each value read writes the column's arr */
    int n;
    const int64_t *child;
    const struct held *h;
    const struct ik__pending_list *todo;
    const struct at *at;
    const uint32_t *first;
    size_t m;
    unsigned mask;
    int rc;
};

static int gather_columns(struct gjob *j)
{
    char buf[IK_CID_MAX_TEXT + 1];
    int rc = 0, c, k;
    for (size_t i = 0; (j->mask & 1u << IK__CID) && i < j->m && rc == 0; i++) {
        const char *text; /* the CID the upsert stored: canonical */
        size_t len = ik__pending_text(&j->todo->v[j->first[i]], buf, sizeof buf, &text);
        rc = len > 0 ? ik__given_cid(j->s->given, text, len) : EINVAL;
    }
    for (c = 0; c < IK__NCOLS && rc == 0; c++) {
        if (c == IK__CID || !(j->mask & 1u << c))
            continue;
        for (k = 0; k < j->n && j->cols[k].col != c; k++)
            ;
        rc = gather_column(j->s->given, c, j->cols, k < j->n ? k : -1, j->child, j->h, j->at,
                           j->first, j->m);
    }
    return rc;
}

static void *gather_thread(void *arg)
{
    struct gjob *j = arg;
    j->rc = gather_columns(j);
    return NULL;
}

/* Columns the second thread gathers: about half the bytes of a typical pin list (the CID's
 * and the name's on the first, metadata and vfs_path here). */
#define SECOND_HALF                                                                                \
    (1u << IK__METADATA | 1u << IK__VFS_PATH | 1u << IK__REPLICATION_FACTOR | 1u << IK__VERIFIED | \
     1u << IK__LAST_ACCESS | 1u << IK__ACCESS_COUNT)
#define THREAD_MIN_ROWS 8192 /* fewer: not worth a thread */

/* The rows the table will hold after the upserts of pass 2 (s->given), built a column at a
 * time from the sorted entries: twins (the same CID, adjacent once sorted) make one row. The
 * columns are independent: from THREAD_MIN_ROWS rows on, half of them are gathered on a second
 * thread (the other core is idle meanwhile: the client waits for the reply); if it cannot be
 * started, this thread does them after its own. */
static int gather(struct ik__sink *s, struct acol *cols, int n, const int64_t *child,
                  const struct held *h, const struct ik__pending_list *todo)
{
    struct at *at = malloc((todo->n + 1) * sizeof *at);
    uint32_t *first = malloc((todo->n + 1) * sizeof *first);
    struct gjob *job = calloc(2, sizeof *job);
    pthread_t th;
    bool threaded = false;
    size_t m = 0, i;
    int rc = at && first && job ? 0 : ENOMEM;
    for (i = 0; i < todo->n && rc == 0; i++) {
        size_t b = batch_of(h, todo->v[i].seq);
        at[i].batch = (uint32_t)b;
        at[i].row = (uint32_t)(todo->v[i].seq - h->first[b]);
        if (i == 0 || !ik__pending_same_cid(&todo->v[i - 1], &todo->v[i]))
            first[m++] = (uint32_t)i;
    }
    if (rc == 0) {
        first[m] = (uint32_t)todo->n;
        rc = ik__given_begin(s->given, (int64_t)m, s->now, s->opts->default_backend);
    }
    for (int t = 0; t < 2 && rc == 0; t++) {
        struct gjob *j = &job[t];
        j->s = s;
        memcpy(j->cols, cols, (size_t)n * sizeof *cols);
        j->n = n;
        j->child = child;
        j->h = h;
        j->todo = todo;
        j->at = at;
        j->first = first;
        j->m = m;
        j->mask = t == 0 ? ~SECOND_HALF : SECOND_HALF;
    }
    if (rc == 0 && m >= THREAD_MIN_ROWS)
        threaded = pthread_create(&th, NULL, gather_thread, &job[1]) == 0;
    if (rc == 0)
        rc = gather_columns(&job[0]);
    if (threaded) {
        pthread_join(th, NULL);
        if (rc == 0)
            rc = job[1].rc;
    } else if (rc == 0) {
        rc = gather_columns(&job[1]);
    }
    if (rc != 0)
        ik__given_drop(s->given);
    free(at);
    free(first);
    free(job);
    return rc;
}

static const char *last_error(struct ArrowArrayStream *stream, int rc)
{
    const char *m = stream->get_last_error ? stream->get_last_error(stream) : NULL;
    return m ? m : ik_strerror(rc);
}

/* Two passes, like JSON lines: every row is read and checked as its batch arrives, and the good
 * ones are entered (CID and input row number); then the entries are sorted by CID and the rows
 * read again from the held batches and upserted in key order. SQLite then appends to the pins
 * B-tree instead of splitting random pages. Memory: 32 bytes per row (twice during the sort),
 * plus the batches: for an uncompressed IPC input they point into its mapping. */
int ik__import_arrow_stream(struct ik__sink *s, struct ArrowArrayStream *stream,
                            struct ik_error *err)
{
    struct ArrowSchema schema;
    struct ArrowArray batch;
    struct acol cols[IK__NCOLS];
    struct held h = {0};
    struct ik__pending_list todo = {0};
    int n = 0, rc, k;
    int64_t i, child[IK__NCOLS];
    uint64_t rows = 0;
    bool has_cid = false;

    if ((rc = stream->get_schema(stream, &schema)) != 0)
        return ik_error_set(err, rc, "Arrow input: %s", last_error(stream, rc));
    for (i = 0; i < schema.n_children && rc == 0; i++) {
        const struct ArrowSchema *f = schema.children[i];
        int c = f->name ? ik__col_find(f->name, strlen(f->name)) : -1;
        if (c < 0)
            continue;
        for (k = 0; k < n; k++)
            if (cols[k].col == c)
                rc = ik_error_set(err, EINVAL, "Arrow input: column '%s' appears twice", f->name);
        if (rc != 0)
            break;
        memset(&cols[n], 0, sizeof cols[n]);
        cols[n].col = c;
        child[n] = i;
        rc = describe(&cols[n], f, err);
        has_cid |= c == IK__CID;
        n++;
    }
    if (rc == 0 && !has_cid)
        rc = ik_error_set(err, EINVAL, "Arrow input: no 'cid' column");
    while (rc == 0) {
        if ((rc = stream->get_next(stream, &batch)) != 0) {
            /* what the reader refuses is the input's fault (exit 65), whatever its code */
            rc = ik_error_set(err, rc == ENOMEM ? ENOMEM : EINVAL,
                              "Arrow input: record batch %zu: %s", h.n, last_error(stream, rc));
            break;
        }
        if (batch.release == NULL)
            break;
        /* Every value, before a row is read: offsets, UTF-8, dictionary indices, views. The
         * structure alone lets a hostile file send reads anywhere. */
        if ((rc = ik_array_validate(&schema, &batch, IK_VALIDATE_FULL, true, err)) != 0) {
            rc = ik_error_prefix(err, EINVAL, "Arrow input: record batch %zu", h.n);
            batch.release(&batch);
            break;
        }
        for (k = 0; k < n; k++)
            cols[k].arr = batch.children[child[k]];
        rc = check_batch(s, cols, n, &batch, (int64_t)h.n, rows, &todo, err);
        rows += (uint64_t)batch.length;
        if (rc == 0)
            rc = hold(&h, &batch, rows - (uint64_t)batch.length, err);
        if (batch.release)
            batch.release(&batch);
    }
    if (rc == 0) {
        ik__pending_sort(&todo);
        if (!s->journal) /* the apply defers it (import_journal.c) */
            rc = ik__defer_vfs_index(s->st, s->paths, err);
    }
    if (rc == 0) {
        ik__stop_point("import-pass2");
        if (s->journal) /* the apply upserts them */
            s->res->imported += (int64_t)todo.n;
        else
            rc = upsert_sorted(s, cols, n, child, &h, &todo, err);
    }
    if (rc == 0 && s->given && (k = gather(s, cols, n, child, &h, &todo)) != 0 && s->journal)
        rc = ik_error_set(err, k == ENOMEM ? ENOMEM : EIO,
                          "import: building the rows failed: %s (nothing committed)",
                          ik_strerror(k)); /* without a journal: the rows are not given */
    ik__pending_free(&todo);
    release_held(&h);
    schema.release(&schema);
    return rc;
}
