/* The fast path from SQLite to one pin_index batch (snapshot builds, the direct fallback).
 * The generic query path (store_read.c) goes through the row builder value by value; this one
 * knows the pins table: it asks SQLite for each value once (sqlite3_column_type only when a
 * value may be NULL and looks like one), writes it straight into the column's buffer, and
 * looks dictionary strings up with a last-hit check before a tiny hash. The batch it makes
 * equals the builder's (same schema, dictionaries in first-appearance order, validity bitmaps
 * only on columns with nulls).
 *
 * ik_pin_reader reads with n threads on n read-only connections: the cid range is cut at
 * split keys (from the previous read, or seeded from a snapshot), every connection opens its
 * read transaction and they go on only when all saw the same generation (every write bumps
 * it, so they see the same rows), each thread reads its range into its own part, and the
 * parts are appended to the first (offsets rebased, bitmaps shifted, dictionary indices
 * remapped). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/schemas.h"
#include "store/store_internal.h"

#define MAX_PARTS 8

static const char *const select_sql =
    "SELECT cid, name, size_bytes, pin_type, timestamp, metadata, backend, replication_factor,"
    " verified, last_access, vfs_path, access_count FROM pins";

/* The layout of each column: width of buffer 1 in bytes (0: a bitmap), whether it has a
 * string data buffer, a dictionary, a validity bitmap. */
struct layout {
    int width;
    bool str, dict, nullable;
};

static const struct layout lay[IK__NCOLS] = {
    [IK__CID] = {4, true, false, false},        [IK__NAME] = {4, true, false, true},
    [IK__SIZE_BYTES] = {8, false, false, true}, [IK__PIN_TYPE] = {1, false, true, false},
    [IK__TIMESTAMP] = {8, false, false, false}, [IK__METADATA] = {4, true, false, true},
    [IK__BACKEND] = {2, false, true, false},    [IK__REPLICATION_FACTOR] = {4, false, false, false},
    [IK__VERIFIED] = {0, false, false, false},  [IK__LAST_ACCESS] = {8, false, false, true},
    [IK__VFS_PATH] = {4, true, false, true},    [IK__ACCESS_COUNT] = {8, false, false, false},
};

/* One thread's rows: buffers per column (0 validity, 1 offsets/values/indices, 2 string
 * data). */
struct part {
    struct ik_store *st;
    sqlite3_stmt *s;
    const char *lo, *hi; /* the cid range [lo, hi); NULL: open */
    size_t lo_len, hi_len;
    bool changed; /* only pins changed after generation `since` (lib/store/seglog.c) */
    bool cached;  /* s is the store's cached statement (ik__stmt): reset, never finalized */
    int64_t since;
    int64_t rows, cap;
    struct ik__gbuf buf[IK__NCOLS][3];
    int64_t nulls[IK__NCOLS];
    struct ik__strdict dict[IK__NCOLS]; /* dictionary<int, utf8> columns' values */
    int rc;
    struct ik_error err;
};

/* ---- dictionaries -------------------------------------------------------------------- */

/* Index of string s in column c's dictionary (int8 or int16 indices), added when new. */
static int dict_find(struct part *p, int c, const void *s, size_t n, int64_t *idx,
                     struct ik_error *err)
{
    int rc = ik__strdict_find(&p->dict[c], s, n, lay[c].width == 1 ? INT8_MAX : INT16_MAX, idx);
    if (rc == 0)
        return 0;
    if (rc == ENOMEM)
        return ik_error_set(err, ENOMEM, "out of memory");
    return ik_error_set(err, IK_ELIMIT, "pin_index: too many distinct values in a dictionary");
}

/* ---- parts ----------------------------------------------------------------------------- */

/* Lets go of p's statement: reset when it is the store's cached one. */
static void stmt_done(struct part *p)
{
    if (p->cached) {
        sqlite3_reset(p->s);
        sqlite3_clear_bindings(p->s);
    } else {
        sqlite3_finalize(p->s);
    }
    p->s = NULL;
    p->cached = false;
}

static void part_free(struct part *p)
{
    int c, k;
    stmt_done(p);
    for (c = 0; c < IK__NCOLS; c++) {
        for (k = 0; k < 3; k++)
            ik__gb_free(&p->buf[c][k]);
        ik__strdict_free(&p->dict[c]);
    }
}

static size_t bitmap_bytes(int64_t rows)
{
    return (size_t)(rows + 7) / 8;
}

/* Makes room for `cap` rows in every fixed-width buffer; new bitmap bytes are zeroed. */
static int part_grow(struct part *p, int64_t cap)
{
    int c;
    for (c = 0; c < IK__NCOLS; c++) {
        struct ik__gbuf *v = &p->buf[c][0], *b = &p->buf[c][1];
        size_t old = bitmap_bytes(p->cap), want = bitmap_bytes(cap);
        /* everything up to the old capacity may be in use: growth keeps `len` bytes */
        v->len = lay[c].nullable ? old : 0;
        b->len = lay[c].width ? (size_t)lay[c].width * (size_t)(p->cap + lay[c].str) : old;
        if (p->cap == 0)
            v->len = b->len = 0;
        if (lay[c].nullable) {
            if (ik__gb_grow(v, want) != 0)
                return ENOMEM;
            memset(v->data + old, 0, want - old);
        }
        if (lay[c].width == 0) {
            if (ik__gb_grow(b, want) != 0)
                return ENOMEM;
            memset(b->data + old, 0, want - old);
        } else if (ik__gb_grow(b, (size_t)lay[c].width * (size_t)(cap + lay[c].str)) != 0) {
            return ENOMEM;
        }
    }
    p->cap = cap;
    return 0;
}

static int part_init(struct part *p, struct ik_store *st)
{
    int c;
    memset(p, 0, sizeof *p);
    p->st = st;
    for (c = 0; c < IK__NCOLS; c++)
        if (lay[c].dict && ik__strdict_reset(&p->dict[c]) != 0)
            return ENOMEM;
    if (part_grow(p, 1024) != 0)
        return ENOMEM;
    for (c = 0; c < IK__NCOLS; c++)
        if (lay[c].str)
            memset(p->buf[c][1].data, 0, 4); /* offsets start at 0 */
    return 0;
}

static int null_in(struct part *p, int c, struct ik_error *err)
{
    return ik_error_set(err, EIO, "pins.db: pin %lld of this read: '%s' is NULL",
                        (long long)p->rows, ik__col_names[c]);
}

/* Reads the current row of p->s into row p->rows. */
static int read_row(struct part *p, struct ik_error *err)
{
    sqlite3_stmt *s = p->s;
    int64_t r = p->rows;
    int c, rc = 0;
    if (r == p->cap && part_grow(p, p->cap * 2) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (c = 0; c < IK__NCOLS; c++) {
        struct ik__gbuf *b = &p->buf[c][1];
        if (lay[c].str || lay[c].dict) {
            const unsigned char *t = sqlite3_column_text(s, c);
            size_t n = (size_t)sqlite3_column_bytes(s, c);
            if (t == NULL) {
                if (sqlite3_column_type(s, c) != SQLITE_NULL)
                    return ik_error_set(err, ENOMEM, "out of memory");
                if (!lay[c].nullable)
                    return null_in(p, c, err);
                p->nulls[c]++;
                n = 0;
            } else if (lay[c].nullable) {
                ik__bit_set(p->buf[c][0].data, r);
            }
            if (lay[c].dict) {
                int64_t i;
                if ((rc = dict_find(p, c, t, n, &i, err)) != 0)
                    return rc;
                if (lay[c].width == 1)
                    b->data[r] = (uint8_t)(int8_t)i;
                else {
                    int16_t v = (int16_t)i;
                    memcpy(b->data + 2 * r, &v, 2);
                }
            } else {
                struct ik__gbuf *d = &p->buf[c][2];
                int32_t end;
                if (d->len + n > INT32_MAX)
                    return ik_error_set(err, IK_ELIMIT,
                                        "column '%s': more than 2 GiB of "
                                        "string data",
                                        ik__col_names[c]);
                if (n) {
                    if (ik__gb_reserve(d, n) != 0)
                        return ik_error_set(err, ENOMEM, "out of memory");
                    memcpy(d->data + d->len, t, n);
                    d->len += n;
                }
                end = (int32_t)d->len;
                memcpy(b->data + 4 * (r + 1), &end, 4);
            }
        } else {
            int64_t v = sqlite3_column_int64(s, c);
            /* NOT NULL columns cannot hold NULL (the table says so); a nullable one is asked
             * only when its value reads as 0 */
            if (lay[c].nullable) {
                if (v == 0 && sqlite3_column_type(s, c) == SQLITE_NULL)
                    p->nulls[c]++;
                else
                    ik__bit_set(p->buf[c][0].data, r);
            }
            if (lay[c].width == 8) {
                memcpy(b->data + 8 * r, &v, 8);
            } else if (lay[c].width == 4) {
                int32_t x = (int32_t)v;
                if (x != v)
                    return ik_error_set(err, EINVAL, "column '%s' (int32): %lld is out of range",
                                        ik__col_names[c], (long long)v);
                memcpy(b->data + 4 * r, &x, 4);
            } else if (v) {
                ik__bit_set(b->data, r);
            }
        }
    }
    p->rows++;
    return 0;
}

/* Reads p's cid range (on its store's connection, in the transaction already open). */
static int part_read(struct part *p, struct ik_error *err)
{
    char sql[512];
    int sqlrc, rc, i = 1;
    if (p->changed)
        snprintf(sql, sizeof sql,
                 "%s WHERE cid IN (SELECT cid FROM changes WHERE version > ?1)"
                 " ORDER BY cid",
                 select_sql);
    else
        snprintf(sql, sizeof sql, "%s%s%s%s ORDER BY cid", select_sql,
                 p->lo || p->hi ? " WHERE " : "", p->lo ? "cid >= ?1" : "",
                 p->hi ? (p->lo ? " AND cid < ?2" : "cid < ?1") : "");
    if (p->changed) { /* every snapshot build: prepared once (ik__stmt) */
        if ((rc = ik__stmt(p->st, IK__S_CHANGED_PINS, sql, &p->s, err)) != 0)
            return rc;
        p->cached = true;
    } else if ((sqlrc = sqlite3_prepare_v2(p->st->db, sql, -1, &p->s, NULL)) != SQLITE_OK) {
        return ik__sql_error(p->st, sqlrc, "pins.db: reading the pins", err);
    }
    if (p->changed)
        sqlite3_bind_int64(p->s, 1, p->since);
    if (p->lo)
        sqlite3_bind_text(p->s, i++, p->lo, (int)p->lo_len, SQLITE_STATIC);
    if (p->hi)
        sqlite3_bind_text(p->s, i, p->hi, (int)p->hi_len, SQLITE_STATIC);
    while ((sqlrc = sqlite3_step(p->s)) == SQLITE_ROW)
        if ((rc = read_row(p, err)) != 0)
            return rc;
    if (sqlrc != SQLITE_DONE)
        return ik__sql_error(p->st, sqlrc, "pins.db: reading the pins", err);
    stmt_done(p);
    return 0;
}

static void *part_thread(void *arg)
{
    struct part *p = arg;
    p->rc = part_read(p, &p->err);
    return NULL;
}

/* Appends n bits of src (from bit 0) to dst at bit `at`; dst's bytes past `at` are zero. */
static void bits_append(uint8_t *dst, int64_t at, const uint8_t *src, int64_t n)
{
    int shift = (int)(at & 7);
    int64_t i, bytes = (n + 7) / 8;
    uint8_t *d = dst + (at >> 3);
    if (shift == 0) {
        memcpy(d, src, (size_t)bytes);
        if (n & 7)
            d[bytes - 1] = (uint8_t)(d[bytes - 1] & ((1u << (n & 7)) - 1));
        return;
    }
    for (i = 0; i < bytes; i++) {
        unsigned v = src[i];
        if (i == bytes - 1 && (n & 7))
            v &= (1u << (n & 7)) - 1;
        d[i] = (uint8_t)(d[i] | (v << shift));
        if ((v >> (8 - shift)) != 0)
            d[i + 1] = (uint8_t)(v >> (8 - shift));
    }
}

/* Appends q's rows to p. */
static int part_append(struct part *p, struct part *q, struct ik_error *err)
{
    int64_t r0 = p->rows, m = q->rows, i;
    int c, rc = 0;
    if (m == 0)
        return 0;
    if (r0 + m > p->cap && part_grow(p, r0 + m) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (c = 0; c < IK__NCOLS; c++) {
        struct ik__gbuf *b = &p->buf[c][1], *qb = &q->buf[c][1];
        if (lay[c].nullable)
            bits_append(p->buf[c][0].data, r0, q->buf[c][0].data, m);
        p->nulls[c] += q->nulls[c];
        if (lay[c].width == 0) {
            bits_append(b->data, r0, qb->data, m);
        } else if (lay[c].str) {
            struct ik__gbuf *d = &p->buf[c][2], *qd = &q->buf[c][2];
            int32_t base = (int32_t)d->len, o;
            if (d->len + qd->len > INT32_MAX)
                return ik_error_set(err, IK_ELIMIT,
                                    "column '%s': more than 2 GiB of string "
                                    "data",
                                    ik__col_names[c]);
            if (ik__gb_reserve(d, qd->len) != 0)
                return ik_error_set(err, ENOMEM, "out of memory");
            if (qd->len > 0) /* an all-null column has no data buffer, in either part */
                memcpy(d->data + d->len, qd->data, qd->len);
            d->len += qd->len;
            for (i = 1; i <= m; i++) {
                memcpy(&o, qb->data + 4 * i, 4);
                o += base;
                memcpy(b->data + 4 * (r0 + i), &o, 4);
            }
        } else if (lay[c].dict) {
            int32_t map[INT16_MAX + 1];
            for (int64_t k = 0; k < q->dict[c].n; k++) {
                const uint8_t *v;
                size_t n;
                int64_t to;
                ik__strdict_entry(&q->dict[c], k, &v, &n);
                if ((rc = dict_find(p, c, v, n, &to, err)) != 0)
                    return rc;
                map[k] = (int32_t)to;
            }
            for (i = 0; i < m; i++) {
                if (lay[c].width == 1) {
                    b->data[r0 + i] = (uint8_t)(int8_t)map[(int8_t)qb->data[i]];
                } else {
                    int16_t v;
                    memcpy(&v, qb->data + 2 * i, 2);
                    v = (int16_t)map[v];
                    memcpy(b->data + 2 * (r0 + i), &v, 2);
                }
            }
        } else {
            memcpy(b->data + (size_t)lay[c].width * (size_t)r0, qb->data,
                   (size_t)lay[c].width * (size_t)m);
        }
    }
    p->rows += m;
    return 0;
}

/* Hands p's buffers to a pin_index batch. */
static int part_finish(struct part *p, struct ArrowArray *out)
{
    int c;
    if (ik__array_alloc(out, 1, IK__NCOLS) != 0)
        return ENOMEM;
    out->length = p->rows;
    for (c = 0; c < IK__NCOLS; c++) {
        struct ArrowArray *a = out->children[c];
        struct ik__gbuf *b = p->buf[c];
        if (ik__array_alloc(a, lay[c].str ? 3 : 2, 0) != 0)
            goto oom;
        a->length = p->rows;
        a->null_count = p->nulls[c];
        b[1].len = lay[c].width ? (size_t)lay[c].width * (size_t)(p->rows + lay[c].str)
                                : bitmap_bytes(p->rows);
        if (p->nulls[c] > 0) {
            b[0].len = bitmap_bytes(p->rows);
            if (ik__gb_give(a, 0, &b[0]) != 0)
                goto oom;
        }
        if (ik__gb_give(a, 1, &b[1]) != 0 || (lay[c].str && ik__gb_give(a, 2, &b[2]) != 0))
            goto oom;
        if (lay[c].dict) {
            struct ArrowArray *d;
            if (ik__array_alloc_dictionary(a) != 0)
                goto oom;
            d = a->dictionary;
            if (ik__array_alloc(d, 3, 0) != 0)
                goto oom;
            d->length = p->dict[c].n;
            if (ik__gb_give(d, 1, &p->dict[c].offs) != 0 ||
                ik__gb_give(d, 2, &p->dict[c].data) != 0)
                goto oom;
        }
    }
    return 0;
oom:
    out->release(out);
    return ENOMEM;
}

/* Reads parts[0..n) (part 0 on this thread, the others on their own), appends them to part 0
 * and makes the batch. */
static int read_parts(struct part *parts, int n, struct ArrowSchema *schema_out,
                      struct ArrowArray *out, struct ik_error *err)
{
    pthread_t th[MAX_PARTS];
    int i, started = 1, rc = 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, part_thread, &parts[started]) != 0)
            break;
    rc = part_read(&parts[0], err);
    for (i = started; rc == 0 && i < n; i++) /* threads that would not start */
        part_thread(&parts[i]);
    for (i = 1; i < started; i++)
        pthread_join(th[i], NULL);
    for (i = 1; rc == 0 && i < n; i++)
        if ((rc = parts[i].rc) != 0)
            *err = parts[i].err;
    for (i = 1; rc == 0 && i < n; i++) {
        rc = part_append(&parts[0], &parts[i], err);
        part_free(&parts[i]);
    }
    if (rc != 0)
        return rc;
    if ((rc = ik_table_schema("pin_index", schema_out, err)) != 0)
        return rc;
    if (part_finish(&parts[0], out) != 0) {
        schema_out->release(schema_out);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

int ik_store_read_pins(struct ik_store *st, struct ArrowSchema *schema_out, struct ArrowArray *out,
                       struct ik_error *err)
{
    struct part p;
    int rc = part_init(&p, st) != 0 ? ik_error_set(err, ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = read_parts(&p, 1, schema_out, out, err);
    part_free(&p);
    return rc;
}

int ik__read_changed_pins(struct ik_store *st, uint64_t since, struct ArrowSchema *schema_out,
                          struct ArrowArray *out, struct ik_error *err)
{
    struct part p;
    int rc = part_init(&p, st) != 0 ? ik_error_set(err, ENOMEM, "out of memory") : 0;
    p.changed = true;
    p.since = (int64_t)since;
    if (rc == 0)
        rc = read_parts(&p, 1, schema_out, out, err);
    part_free(&p);
    return rc;
}

/* ---- the parallel reader --------------------------------------------------------------- */

struct ik_pin_reader {
    struct ik_store *st[MAX_PARTS];
    int n;
    char *split[MAX_PARTS - 1]; /* n - 1 cut keys, or none yet */
    size_t split_len[MAX_PARTS - 1];
    int n_split;
};

static void drop_splits(struct ik_pin_reader *r)
{
    int i;
    for (i = 0; i < r->n_split; i++)
        free(r->split[i]);
    r->n_split = 0;
}

/* Cuts for the next read: the cids that split this batch's rows into r->n equal parts. */
static void set_splits(struct ik_pin_reader *r, const struct ArrowArray *pins)
{
    const struct ArrowArray *cid = pins->children[IK__CID];
    const int32_t *offs = (const int32_t *)cid->buffers[1];
    const char *data = cid->buffers[2];
    int64_t base = pins->offset + cid->offset;
    int i;
    drop_splits(r);
    if (r->n < 2 || pins->length < 1024 * r->n) /* small: not worth a thread */
        return;
    for (i = 1; i < r->n; i++) {
        int64_t row = base + pins->length * i / r->n;
        size_t n = (size_t)(offs[row + 1] - offs[row]);
        if ((r->split[i - 1] = malloc(n ? n : 1)) == NULL)
            break;
        memcpy(r->split[i - 1], data + offs[row], n);
        r->split_len[i - 1] = n;
        r->n_split = i;
    }
    if (r->n_split != r->n - 1)
        drop_splits(r);
}

int ik_pin_reader_open(const char *dir, int threads, struct ik_pin_reader **out,
                       struct ik_error *err)
{
    struct ik_pin_reader *r = calloc(1, sizeof *r);
    int i, rc = 0;
    *out = NULL;
    if (r == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    r->n = threads < 1 ? 1 : threads > MAX_PARTS ? MAX_PARTS : threads;
    for (i = 0; i < r->n && rc == 0; i++) {
        rc = ik_store_open(dir, IK_STORE_READONLY, &r->st[i], err);
        /* pages straight from the page cache, not copied by read() (virtual space only) */
        if (rc == 0)
            sqlite3_exec(r->st[i]->db, "PRAGMA mmap_size = 1073741824", NULL, NULL, NULL);
    }
    if (rc != 0) {
        ik_pin_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void ik_pin_reader_close(struct ik_pin_reader *r)
{
    int i;
    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++)
        ik_store_close(r->st[i]);
    drop_splits(r);
    free(r);
}

/* Opens a read transaction on connection i and reads the generation it sees. */
static int begin_read(struct ik_store *st, uint64_t *gen, struct ik_error *err)
{
    int sqlrc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    if (sqlrc != SQLITE_OK)
        return ik__sql_error(st, sqlrc, "pins.db: begin", err);
    sqlrc = ik_store_generation(st, gen, err);
    return sqlrc != 0 ? sqlrc : ik__pending_none(st, err);
}

int ik_pin_reader_read(struct ik_pin_reader *r, uint64_t *generation,
                       struct ArrowSchema *schema_out, struct ArrowArray *out, struct ik_error *err)
{
    struct part parts[MAX_PARTS];
    uint64_t gen[MAX_PARTS];
    int n = r->n_split == r->n - 1 ? r->n : 1, i, k, tries, rc = 0, opened = 0;
    /* every connection must see the same state: the same generation */
    for (tries = 0; tries < 16; tries++) {
        for (i = 0, rc = 0; i < n && rc == 0; i++)
            if ((rc = begin_read(r->st[i], &gen[i], err)) == 0)
                opened = i + 1;
        for (i = 1; rc == 0 && i < n; i++)
            if (gen[i] != gen[0])
                break;
        if (rc != 0 || i == n)
            break;
        for (i = 0; i < opened; i++)
            sqlite3_exec(r->st[i]->db, "COMMIT", NULL, NULL, NULL);
        opened = 0;
        if (tries == 8)
            n = 1; /* writes keep landing between the begins: read alone */
    }
    for (k = 0; rc == 0 && k < n; k++) {
        if (part_init(&parts[k], r->st[k]) != 0) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            break;
        }
        if (k > 0) {
            parts[k].lo = r->split[k - 1];
            parts[k].lo_len = r->split_len[k - 1];
        }
        if (k < n - 1) {
            parts[k].hi = r->split[k];
            parts[k].hi_len = r->split_len[k];
        }
    }
    if (rc == 0)
        rc = read_parts(parts, n, schema_out, out, err);
    for (i = 0; i < k; i++)
        part_free(&parts[i]);
    for (i = 0; i < opened; i++)
        sqlite3_exec(r->st[i]->db, "COMMIT", NULL, NULL, NULL);
    if (rc != 0)
        return rc;
    *generation = gen[0];
    set_splits(r, out);
    return 0;
}
