/* The change tail (include/ipfskit/seglog.h): the newest part of the change log kept in memory
 * by the daemon, so that changes(since) of recent versions is answered without a read of
 * SQLite per row (docs/architecture.md "Change log"). The builder fills it from the very read
 * transaction in which it reads a delta's rows: one record per log row (version, cid), holding
 * what ik_store_changes would append for it — the row's values as they are at that version's
 * generation, or only the cid when it is gone. A key's newest log row is read at a generation
 * after which the key did not change, so its values are those the store would read now:
 * coalescing the records after `since` gives exactly the rows ik_store_changes gives.
 *
 * Layout: one byte arena of records and, per record, its version and offset, both in
 * (version, cid) order; the oldest records go when the store's retention window passes them
 * (the writer tells the floor after each trim) or when the arena passes its byte cap, whole
 * versions at a time. A record: existed (u8), present (u8), then per pin_index column a tag
 * (0 null, 1 int64, 2 string: u32 length and bytes, 3 bool: u8). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"
#include "ipfskit/seglog.h"
#include "store/store_internal.h"

enum { TAG_NULL, TAG_INT, TAG_STR, TAG_BOOL };

/* A growing byte buffer. */
struct bytes {
    uint8_t *p;
    size_t len, cap;
};

static int bytes_reserve(struct bytes *b, size_t n)
{
    size_t cap;
    uint8_t *p;
    if (b->len + n <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL)
        return ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void bytes_put(struct bytes *b, const void *p, size_t n) /* reserved before */
{
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

struct ik_change_tail {
    pthread_rwlock_t mu;
    size_t max_bytes;
    bool started;        /* base and head are set */
    uint64_t base, head; /* the records are every change after base up to head */
    uint64_t floor;      /* the store's oldest answerable since (older: gone) */
    struct bytes arena;  /* records [off[first], arena.len) */
    int64_t *ver;        /* per record: its version */
    size_t *off;         /* per record: its start in the arena */
    int64_t *prev;       /* per record: the key's record before it (index), or -1 */
    uint8_t *sup;        /* per record: 1 when a later record has its key */
    int64_t first, n, cap;
    /* key -> its newest record (index + 1; 0 empty), open addressing on the cid, comparing
     * against the arena (a dropped record's bytes stay until the move to the front, which
     * rebuilds the links): what makes a reply's coalescing a walk without hashing */
    int64_t *slots;
    size_t n_slots, used;
};

int ik_change_tail_create(size_t max_bytes, uint64_t floor, struct ik_change_tail **out,
                          struct ik_error *err)
{
    struct ik_change_tail *t = calloc(1, sizeof *t);
    pthread_rwlockattr_t attr;
    *out = NULL;
    if (t == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    /* writer-preferring: the builder appends between queries, never starved by them */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&t->mu, &attr);
    pthread_rwlockattr_destroy(&attr);
    t->max_bytes = max_bytes;
    t->floor = floor;
    *out = t;
    return 0;
}

void ik_change_tail_free(struct ik_change_tail *t)
{
    if (t == NULL)
        return;
    pthread_rwlock_destroy(&t->mu);
    free(t->arena.p);
    free(t->ver);
    free(t->off);
    free(t->prev);
    free(t->sup);
    free(t->slots);
    free(t);
}

/* The cid of the record at p (its first column, never null). */
static const uint8_t *record_cid(const uint8_t *p, uint32_t *len)
{
    uint32_t n;
    memcpy(&n, p + 3, 4);
    *len = n;
    return p + 7;
}

static size_t cid_hash(const uint8_t *p, uint32_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ len, w;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    h ^= h >> 32;
    return (size_t)h;
}

/* Links record k (its bytes in the arena) to the key's record before it, and marks that one
 * superseded. ENOMEM when the key table cannot grow. */
static int link_record(struct ik_change_tail *t, int64_t k)
{
    uint32_t len, olen;
    const uint8_t *cid = record_cid(t->arena.p + t->off[k], &len);
    size_t mask, j;
    if ((t->used + 1) * 2 > t->n_slots) {
        size_t n = t->n_slots ? t->n_slots * 2 : 1024, i;
        int64_t *old = t->slots, *ns = calloc(n, sizeof *ns);
        if (ns == NULL)
            return ENOMEM;
        for (i = 0; i < t->n_slots; i++) { /* the keys are distinct: no comparisons */
            const uint8_t *c;
            if (old[i] == 0)
                continue;
            c = record_cid(t->arena.p + t->off[old[i] - 1], &olen);
            for (j = cid_hash(c, olen) & (n - 1); ns[j]; j = (j + 1) & (n - 1))
                ;
            ns[j] = old[i];
        }
        free(old);
        t->slots = ns;
        t->n_slots = n;
    }
    mask = t->n_slots - 1;
    for (j = cid_hash(cid, len) & mask; t->slots[j]; j = (j + 1) & mask) {
        int64_t r = t->slots[j] - 1;
        const uint8_t *c = record_cid(t->arena.p + t->off[r], &olen);
        if (olen == len && memcmp(c, cid, len) == 0) {
            t->prev[k] = r >= t->first ? r : -1;
            if (r >= t->first)
                t->sup[r] = 1;
            t->sup[k] = 0;
            t->slots[j] = k + 1;
            return 0;
        }
    }
    t->prev[k] = -1;
    t->sup[k] = 0;
    t->slots[j] = k + 1;
    t->used++;
    return 0;
}

/* Forgets every key (write lock held). */
static void keys_clear(struct ik_change_tail *t)
{
    if (t->slots)
        memset(t->slots, 0, t->n_slots * sizeof *t->slots);
    t->used = 0;
}

/* Drops every record (write lock held): the tail knows nothing before `v`. */
static void drop_all(struct ik_change_tail *t, uint64_t v)
{
    keys_clear(t);
    t->first = t->n = 0;
    t->arena.len = 0;
    t->started = true;
    t->base = t->head = v;
}

/* Drops the records of versions up to `v` (write lock held), and moves what is left to the
 * front once the dropped part is the larger half. */
static void drop_through(struct ik_change_tail *t, uint64_t v)
{
    int64_t k;
    size_t cut;
    if (v <= t->base)
        return;
    if (v >= t->head) {
        drop_all(t, t->head);
        return;
    }
    while (t->first < t->n && (uint64_t)t->ver[t->first] <= v)
        t->first++;
    t->base = v;
    if (t->first == t->n) {
        keys_clear(t);
        t->first = t->n = 0;
        t->arena.len = 0;
        return;
    }
    cut = t->off[t->first];
    if (cut < t->arena.len / 2 && t->first < t->n / 2)
        return;
    memmove(t->arena.p, t->arena.p + cut, t->arena.len - cut);
    t->arena.len -= cut;
    for (k = t->first; k < t->n; k++) {
        t->ver[k - t->first] = t->ver[k];
        t->off[k - t->first] = t->off[k] - cut;
    }
    t->n -= t->first;
    t->first = 0;
    /* the indices moved: the links again (the table only shrinks, so no allocation fails) */
    keys_clear(t);
    for (k = 0; k < t->n; k++)
        (void)link_record(t, k);
}

/* Drops the oldest versions until the records fit in the cap (write lock held). */
static void fit(struct ik_change_tail *t)
{
    size_t target = t->max_bytes / 4 * 3;
    int64_t k = t->first;
    if (t->first >= t->n || t->arena.len - t->off[t->first] <= t->max_bytes)
        return;
    while (k < t->n && t->arena.len - t->off[k] > target)
        k++;
    if (k >= t->n) {
        drop_all(t, t->head);
        return;
    }
    /* whole versions: every record of the version before record k goes too */
    drop_through(t, k > t->first ? (uint64_t)t->ver[k - 1] : t->base);
}

void ik_change_tail_reset(struct ik_change_tail *t, uint64_t version)
{
    pthread_rwlock_wrlock(&t->mu);
    drop_all(t, version);
    pthread_rwlock_unlock(&t->mu);
}

void ik_change_tail_set_floor(struct ik_change_tail *t, uint64_t floor)
{
    pthread_rwlock_wrlock(&t->mu);
    if (floor > t->floor)
        t->floor = floor;
    if (t->started)
        drop_through(t, floor < t->head ? floor : t->head);
    pthread_rwlock_unlock(&t->mu);
}

/* ---- filling (the builder's thread, inside its read transaction) ----------------------- */

/* The same columns, in the same order, as changes.c's rows_sql. */
static const char *const tail_sql =
    "SELECT c.version, c.present, c.cid, p.name, p.size_bytes, p.pin_type, p.timestamp,"
    " p.metadata, p.backend, p.replication_factor, p.verified, p.last_access, p.vfs_path,"
    " p.access_count, c.existed FROM changes AS c LEFT JOIN pins AS p ON c.present AND"
    " p.cid = c.cid WHERE c.version > ?1 AND c.version <= ?2 ORDER BY c.version, c.cid";

/* One record of row `s` into `b`: what changes.c's append() gives a builder, as tags. */
static int encode(struct bytes *b, sqlite3_stmt *s)
{
    int c;
    uint8_t flags[2] = {(uint8_t)(sqlite3_column_int(s, 14) != 0),
                        (uint8_t)(sqlite3_column_int(s, 1) != 0)};
    if (bytes_reserve(b, 2) != 0)
        return ENOMEM;
    bytes_put(b, flags, 2);
    for (c = 0; c < IK__NCOLS; c++) {
        int i = c + 2;
        uint8_t tag;
        if (sqlite3_column_type(s, i) == SQLITE_NULL) {
            tag = TAG_NULL;
            if (bytes_reserve(b, 1) != 0)
                return ENOMEM;
            bytes_put(b, &tag, 1);
        } else if (c == IK__VERIFIED) {
            uint8_t v[2] = {TAG_BOOL, (uint8_t)(sqlite3_column_int(s, i) != 0)};
            if (bytes_reserve(b, 2) != 0)
                return ENOMEM;
            bytes_put(b, v, 2);
        } else if (ik__col_is_str(c)) {
            const unsigned char *p = sqlite3_column_text(s, i);
            uint32_t n = (uint32_t)sqlite3_column_bytes(s, i);
            tag = TAG_STR;
            if (bytes_reserve(b, 5 + (size_t)n) != 0)
                return ENOMEM;
            bytes_put(b, &tag, 1);
            bytes_put(b, &n, 4);
            bytes_put(b, p, n);
        } else {
            int64_t v = sqlite3_column_int64(s, i);
            tag = TAG_INT;
            if (bytes_reserve(b, 9) != 0)
                return ENOMEM;
            bytes_put(b, &tag, 1);
            bytes_put(b, &v, 8);
        }
    }
    return 0;
}

/* Appends the records read into `recs` (versions in vers, starts in offs) to the tail. */
static int append(struct ik_change_tail *t, const struct bytes *recs, const int64_t *vers,
                  const size_t *offs, int64_t n, uint64_t upto)
{
    int64_t i, need = t->n + n;
    size_t at;
    if (need > t->cap) {
        int64_t cap = t->cap ? t->cap : 1024;
        int64_t *v, *pv;
        size_t *o;
        uint8_t *sp;
        while (cap < need)
            cap *= 2;
        if ((v = realloc(t->ver, (size_t)cap * sizeof *v)) == NULL)
            return ENOMEM;
        t->ver = v;
        if ((o = realloc(t->off, (size_t)cap * sizeof *o)) == NULL)
            return ENOMEM;
        t->off = o;
        if ((pv = realloc(t->prev, (size_t)cap * sizeof *pv)) == NULL)
            return ENOMEM;
        t->prev = pv;
        if ((sp = realloc(t->sup, (size_t)cap)) == NULL)
            return ENOMEM;
        t->sup = sp;
        t->cap = cap;
    }
    if (bytes_reserve(&t->arena, recs->len) != 0)
        return ENOMEM;
    at = t->arena.len;
    bytes_put(&t->arena, recs->p, recs->len);
    for (i = 0; i < n; i++) {
        t->ver[t->n + i] = vers[i];
        t->off[t->n + i] = at + offs[i];
        if (link_record(t, t->n + i) != 0) {
            t->n += i; /* the caller drops them all */
            return ENOMEM;
        }
    }
    t->n = need;
    t->head = upto;
    fit(t);
    return 0;
}

/* The smallest record: the flags, twelve tags, a cid's length and a CIDv0's 46 bytes. */
#define MIN_RECORD (2 + IK__NCOLS + 4 + 46)

/* E2BIG when the log holds at least `limit` rows in (from, upto] (counted on its primary key,
 * without reading a pin): more than the tail can keep, so not worth reading. */
static int too_many(struct ik_store *st, uint64_t from, uint64_t upto, int64_t limit)
{
    sqlite3_stmt *s = NULL;
    int64_t n = 0;
    int rc = ik__stmt(st, IK__S_TAIL_COUNT,
                      "SELECT count(*) FROM (SELECT 1 FROM changes WHERE version > ?1"
                      " AND version <= ?2 LIMIT ?3)",
                      &s, NULL);
    if (rc != 0)
        return EIO;
    sqlite3_bind_int64(s, 1, (int64_t)from);
    sqlite3_bind_int64(s, 2, (int64_t)upto);
    sqlite3_bind_int64(s, 3, limit);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW)
        return EIO;
    return n >= limit ? E2BIG : 0;
}

int ik__change_tail_fill(struct ik_store *st, struct ik_change_tail *t, uint64_t since,
                         uint64_t generation, uint64_t floor)
{
    struct bytes recs = {0};
    int64_t *vers = NULL, n = 0, cap = 0;
    size_t *offs = NULL;
    sqlite3_stmt *s = NULL;
    uint64_t from;
    int rc = 0, sqlrc = SQLITE_DONE;
    bool head_known;
    /* From the tail's head whenever the log still reaches back to it: `since` may be past it
     * (a state the compactor made reads changes the builder has not read yet) or behind it (a
     * compacted state older than the newest published). */
    pthread_rwlock_rdlock(&t->mu); /* only this thread moves head; the lock is for base */
    head_known = t->started && t->head >= floor && t->head <= generation;
    from = head_known ? t->head : since;
    pthread_rwlock_unlock(&t->mu);
    if (from >= generation && head_known)
        goto done;
    if ((rc = too_many(st, from, generation, (int64_t)(t->max_bytes / MIN_RECORD) + 1)) != 0)
        goto done; /* not read at all: the tail starts after it */
    if (ik__stmt(st, IK__S_TAIL, tail_sql, &s, NULL) != 0) {
        rc = EIO;
        goto done;
    }
    sqlite3_bind_int64(s, 1, (int64_t)from);
    sqlite3_bind_int64(s, 2, (int64_t)generation);
    while ((sqlrc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            int64_t *v;
            size_t *o;
            cap = cap ? cap * 2 : 64;
            if ((v = realloc(vers, (size_t)cap * sizeof *v)) == NULL) {
                rc = ENOMEM;
                break;
            }
            vers = v;
            if ((o = realloc(offs, (size_t)cap * sizeof *o)) == NULL) {
                rc = ENOMEM;
                break;
            }
            offs = o;
        }
        vers[n] = sqlite3_column_int64(s, 0);
        offs[n] = recs.len;
        if ((rc = encode(&recs, s)) != 0)
            break;
        n++;
        if (recs.len > t->max_bytes) { /* more than the tail keeps: it starts after it */
            rc = E2BIG;
            break;
        }
    }
    if (rc == 0 && sqlrc != SQLITE_DONE)
        rc = EIO;
done:
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    pthread_rwlock_wrlock(&t->mu);
    if (floor > t->floor)
        t->floor = floor;
    if (rc == 0 && !head_known)
        drop_all(t, from);
    if (rc == 0 && from < generation)
        rc = append(t, &recs, vers, offs, n, generation);
    if (rc != 0)
        drop_all(t, generation); /* known from here on */
    pthread_rwlock_unlock(&t->mu);
    free(recs.p);
    free(vers);
    free(offs);
    return rc;
}

/* ---- answering -------------------------------------------------------------------------- */

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Appends the record at p to the builder as changes.c's append() does, with its version. */
static int replay(struct ik_builder *b, const uint8_t *p, int64_t version, struct ik_error *err)
{
    bool present = p[1] != 0;
    int c, rc = 0;
    p += 2;
    for (c = 0; c < IK__NCOLS && rc == 0; c++) {
        uint8_t tag = *p++;
        int64_t v;
        uint32_t n;
        switch (tag) {
        case TAG_NULL:
            rc = ik_builder_null(b, c, err);
            break;
        case TAG_BOOL:
            rc = ik_builder_bool(b, c, *p++ != 0, err);
            break;
        case TAG_STR:
            n = get_u32(p);
            rc = ik_builder_str(b, c, (const char *)p + 4, n, err);
            p += 4 + n;
            break;
        default:
            memcpy(&v, p, 8);
            rc = ik_builder_int(b, c, v, err);
            p += 8;
            break;
        }
    }
    if (rc == 0)
        rc = ik_builder_str(b, IK__NCOLS, present ? "upsert" : "delete", 6, err);
    if (rc == 0)
        rc = ik_builder_int(b, IK__NCOLS + 1, version, err);
    if (rc == 0)
        rc = ik_builder_end_row(b, err);
    return rc;
}

/* Adds the string bytes of the record at p to bytes[column]. */
static void count_strings(const uint8_t *p, size_t *bytes)
{
    p += 2;
    for (int c = 0; c < IK__NCOLS; c++) {
        uint8_t tag = *p++;
        uint32_t n;
        if (tag == TAG_BOOL) {
            p++;
        } else if (tag == TAG_STR) {
            n = get_u32(p);
            bytes[c] += n;
            p += 4 + n;
        } else if (tag == TAG_INT) {
            p += 8;
        }
    }
}

/* The coalesced changes of records [from, t->n) (read lock held), as ik_store_changes makes
 * them: each key at its newest record (one no later record supersedes: the links made as
 * records came in) unless it came and went after since (its first record after since, down
 * the links, says whether it existed before). The strings' room is reserved up front. */
static int coalesce(struct ik_change_tail *t, int64_t from, struct ArrowSchema *schema_out,
                    struct ArrowArray *out, struct ik_error *err)
{
    struct ArrowSchema schema;
    struct ik_builder *b = NULL;
    size_t bytes[IK__NCOLS + 1] = {0};
    int64_t n = t->n - from, i, k = 0;
    int64_t *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    int rc = 0, c;
    if (rows == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = from; i < t->n; i++) {
        const uint8_t *p = t->arena.p + t->off[i];
        int64_t j = i;
        if (t->sup[i])
            continue; /* superseded */
        while (t->prev[j] >= from)
            j = t->prev[j];
        if (p[1] == 0 && t->arena.p[t->off[j]] == 0)
            continue; /* came and went after since */
        rows[k++] = i;
        count_strings(p, bytes);
    }
    bytes[IK__NCOLS] = (size_t)k * 6; /* op: "upsert" or "delete" */
    if ((rc = ik_changes_schema("pin_index", &schema, err)) != 0)
        goto done;
    rc = ik_builder_create(&schema, k, &b, err);
    schema.release(&schema);
    for (c = 0; c <= IK__NCOLS && rc == 0; c++)
        if (bytes[c])
            rc = ik_builder_reserve_bytes(b, c, bytes[c], err);
    for (i = 0; i < k && rc == 0; i++)
        rc = replay(b, t->arena.p + t->off[rows[i]], t->ver[rows[i]], err);
    if (rc == 0)
        rc = ik_builder_finish(b, NULL, schema_out, out, err);
done:
    ik_builder_destroy(b);
    free(rows);
    return rc;
}

int ik_change_tail_changes(struct ik_change_tail *t, const char *table, uint64_t since,
                           struct ArrowSchema *schema_out, struct ArrowArray *out, uint64_t *newest,
                           bool *answered, struct ik_error *err)
{
    int64_t lo, hi;
    int rc = 0;
    *answered = false;
    if (t == NULL || strcmp(table, "pin_index") != 0 || since > INT64_MAX)
        return 0; /* the store's errors */
    pthread_rwlock_rdlock(&t->mu);
    if (since < t->floor) {
        *answered = true;
        rc = ik_error_set(err, IK_EGONE,
                          "changes since version %llu are gone: the oldest version still "
                          "available is %llu; re-read the table and follow from its version",
                          (unsigned long long)since, (unsigned long long)t->floor);
    } else if (t->started && since >= t->base && since < t->head) {
        lo = t->first;
        hi = t->n;
        while (lo < hi) { /* the first record after since */
            int64_t mid = lo + (hi - lo) / 2;
            if ((uint64_t)t->ver[mid] <= since)
                lo = mid + 1;
            else
                hi = mid;
        }
        *answered = true;
        if ((rc = coalesce(t, lo, schema_out, out, err)) == 0 && newest)
            *newest = t->head;
    }
    pthread_rwlock_unlock(&t->mu);
    return rc;
}

void ik_change_tail_stats(struct ik_change_tail *t, struct ik_change_tail_stats *out)
{
    pthread_rwlock_rdlock(&t->mu);
    out->base = t->started ? t->base : 0;
    out->head = t->started ? t->head : 0;
    out->floor = t->floor;
    out->records = t->n - t->first;
    out->bytes = (int64_t)(t->first < t->n ? t->arena.len - t->off[t->first] : 0);
    pthread_rwlock_unlock(&t->mu);
}
