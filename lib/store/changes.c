/* The change log (docs/architecture.md "Change log"): every write path of the store records, in
 * the transaction of its write, which keys each version changed, so the log never disagrees
 * with the pins. changes(since) coalesces them per key into the difference
 * between two versions; trimming drops versions past the retention window, a chunk at a time,
 * in the writer's idle time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/builder.h"
#include "ipfskit/schemas.h"
#include "store/store_internal.h"

/* One row per (version, key): `existed` whether the key was in the table before the version's
 * first change of it, `present` whether it is after the version's last. change_versions holds
 * each version's commit time (for the age limit); meta.changes_floor is the oldest `since`
 * still answerable (every change after it is kept). A store that had no log starts it at its
 * current generation. The rows are written by the store's own write paths (ik__upsert and the
 * one-pin changes in store.c), not by triggers: a trigger on pins cost ~24 µs per row even
 * when empty (measured: 100,000 upserts 1.0 s, 3.4 s with an empty trigger, 5.7 s with the
 * log insert in it), which made imports 7 times slower. A single add looks up whether the pin
 * is new; an import does not (the lookup was 40% of a 200,000-pin import) and logs its rows
 * as "existed", so a pin imported and removed again after `since` comes out as a delete
 * (which changes nothing when applied) rather than not at all. An import into an empty table
 * logs all its rows at once as new (ik__changes_log_new). */
#define CHANGES_COLUMNS                                                                            \
    "(version INTEGER NOT NULL, cid TEXT NOT NULL, existed INTEGER NOT NULL,"                      \
    " present INTEGER NOT NULL, PRIMARY KEY(version, cid)) WITHOUT ROWID"
static const char *const changes_sql =
    "CREATE TABLE IF NOT EXISTS changes" CHANGES_COLUMNS ";"
    "CREATE TABLE IF NOT EXISTS change_versions(version INTEGER PRIMARY KEY, at INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta SELECT 'changes_floor', value FROM meta"
    " WHERE key = 'generation';";

static int prepare(struct ik_store *st, const char *sql, sqlite3_stmt **out, struct ik_error *err)
{
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: prepare", err);
}

int ik__changes_setup(struct ik_store *st, struct ik_error *err)
{
    int rc = sqlite3_exec(st->db, changes_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: change log", err);
    if ((rc = prepare(st,
                      "INSERT OR REPLACE INTO change_versions"
                      " SELECT value, ?1 FROM meta WHERE key = 'generation'",
                      &st->stamp, err)) != 0 ||
        (rc = prepare(st, "SELECT 1 FROM pins WHERE cid = ?1", &st->probe, err)) != 0 ||
        (rc = prepare(st,
                      "INSERT INTO changes VALUES(?1, ?2, ?3, ?4)"
                      " ON CONFLICT(version, cid) DO UPDATE SET present = excluded.present",
                      &st->log, err)) != 0 ||
        (rc = prepare(st, "SELECT value + 1 FROM meta WHERE key = 'generation'", &st->next, err)) !=
            0)
        return rc;
    return 0;
}

int ik__changes_begin(struct ik_store *st, struct ik_error *err)
{
    int rc = sqlite3_step(st->next);
    if (rc == SQLITE_ROW)
        st->log_version = sqlite3_column_int64(st->next, 0);
    sqlite3_reset(st->next);
    return rc == SQLITE_ROW ? 0 : ik__sql_error(st, rc, "pins.db: generation", err);
}

int ik__changes_exists(struct ik_store *st, const char *cid, size_t n, bool *out,
                       struct ik_error *err)
{
    int rc;
    sqlite3_bind_text(st->probe, 1, cid, (int)n, SQLITE_STATIC);
    rc = sqlite3_step(st->probe);
    sqlite3_reset(st->probe);
    *out = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db", err);
}

int ik__changes_log(struct ik_store *st, const char *cid, size_t n, bool existed, bool present,
                    struct ik_error *err)
{
    int rc;
    sqlite3_bind_int64(st->log, 1, st->log_version);
    sqlite3_bind_text(st->log, 2, cid, (int)n, SQLITE_STATIC);
    sqlite3_bind_int(st->log, 3, existed);
    sqlite3_bind_int(st->log, 4, present);
    rc = sqlite3_step(st->log);
    sqlite3_reset(st->log);
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: change log", err);
}

int ik__changes_stamp(struct ik_store *st, struct ik_error *err)
{
    int rc;
    sqlite3_bind_int64(st->stamp, 1, ik__now_us());
    rc = sqlite3_step(st->stamp);
    sqlite3_reset(st->stamp);
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: change log", err);
}

int ik__changes_log_new(struct ik_store *st, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "INSERT INTO changes SELECT ?1, cid, 0, 1 FROM pins", -1,
                                &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, st->log_version);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: change log", err);
}

/* One integer from `sql` (no parameters) into *v; *v untouched when there is no row. */
static int scalar(struct ik_store *st, const char *sql, int64_t *v, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) != SQLITE_NULL)
            *v = sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: change log", err);
}

int ik_store_changes_range(struct ik_store *st, uint64_t *oldest, uint64_t *newest,
                           struct ik_error *err)
{
    int64_t gen = 0, floor;
    int rc = scalar(st, "SELECT value FROM meta WHERE key = 'generation'", &gen, err);
    floor = gen; /* a store whose log was never created: nothing before now */
    if (rc == 0)
        rc = scalar(st, "SELECT value FROM meta WHERE key = 'changes_floor'", &floor, err);
    if (rc == 0) {
        *oldest = (uint64_t)floor;
        *newest = (uint64_t)gen;
    }
    return rc;
}

/* Coalescing the log after `since` per key, in two ordered scans of its primary key (version,
 * cid) — a GROUP BY cid would sort every entry through a temporary B-tree, ten times the cost:
 * the first notes, per key, whether it existed before its first change after since and the
 * version of its newest change; the second walks the log again joined with the rows as they
 * are now (the same read transaction) and emits each key at its newest change, in (version,
 * cid) order, unless it came and went after since. */
static const char *const keys_sql = "SELECT version, cid, existed FROM changes WHERE version > ?1";
static const char *const rows_sql =
    "SELECT c.version, c.present, c.cid, p.name, p.size_bytes, p.pin_type, p.timestamp,"
    " p.metadata, p.backend, p.replication_factor, p.verified, p.last_access, p.vfs_path,"
    " p.access_count FROM changes AS c LEFT JOIN pins AS p ON c.present AND p.cid = c.cid"
    " WHERE c.version > ?1";

struct keys {
    struct ik__strdict cids;
    int64_t *last; /* per key: the version of its newest change */
    bool *existed; /* per key: in the table before its first change after since */
    int64_t cap;
};

static void keys_free(struct keys *k)
{
    ik__strdict_free(&k->cids);
    free(k->last);
    free(k->existed);
}

/* The key of row `s` (text column `col`): its index, added when new. */
static int key_of(struct keys *k, sqlite3_stmt *s, int col, int64_t *idx, bool *added,
                  struct ik_error *err)
{
    int64_t n = k->cids.n;
    int rc = ik__strdict_find(&k->cids, sqlite3_column_text(s, col),
                              (size_t)sqlite3_column_bytes(s, col), INT32_MAX - 1, idx);
    if (rc != 0)
        return ik_error_set(err, rc, "changes: too many keys");
    *added = k->cids.n > n;
    if (*added && k->cids.n > k->cap) {
        int64_t cap = k->cap ? k->cap * 2 : 1024;
        int64_t *last = realloc(k->last, (size_t)cap * sizeof *last);
        bool *existed = last ? realloc(k->existed, (size_t)cap * sizeof *existed) : NULL;
        if (last)
            k->last = last;
        if (!existed)
            return ik_error_set(err, ENOMEM, "out of memory");
        k->existed = existed;
        k->cap = cap;
    }
    return 0;
}

/* Appends row `s` (rows_sql's columns) as an upsert (present) or a delete. */
static int append(struct ik_builder *b, sqlite3_stmt *s, bool present, struct ik_error *err)
{
    int c, rc = 0;
    for (c = 0; c < IK__NCOLS && rc == 0; c++) {
        int i = c + 2;
        if (sqlite3_column_type(s, i) == SQLITE_NULL)
            rc = ik_builder_null(b, c, err);
        else if (c == IK__VERIFIED)
            rc = ik_builder_bool(b, c, sqlite3_column_int(s, i) != 0, err);
        else if (ik__col_is_str(c))
            rc = ik_builder_str(b, c, (const char *)sqlite3_column_text(s, i),
                                (size_t)sqlite3_column_bytes(s, i), err);
        else
            rc = ik_builder_int(b, c, sqlite3_column_int64(s, i), err);
    }
    if (rc == 0)
        rc = ik_builder_str(b, IK__NCOLS, present ? "upsert" : "delete", 6, err);
    if (rc == 0)
        rc = ik_builder_int(b, IK__NCOLS + 1, sqlite3_column_int64(s, 0), err);
    if (rc == 0)
        rc = ik_builder_end_row(b, err);
    return rc;
}

static int scan(struct ik_store *st, const char *sql, uint64_t since, sqlite3_stmt **out,
                struct ik_error *err)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: changes", err);
    sqlite3_bind_int64(*out, 1, (int64_t)since);
    return 0;
}

/* `empty`: since is the newest version, nothing to read (and a store whose log was never
 * created, opened read-only, has no table to read). */
static int run_query(struct ik_store *st, uint64_t since, bool empty,
                     struct ArrowSchema *schema_out, struct ArrowArray *out, struct ik_error *err)
{
    struct ArrowSchema schema;
    struct ik_builder *b = NULL;
    struct keys k = {0};
    sqlite3_stmt *s = NULL;
    int64_t idx;
    bool added;
    int rc, sqlrc;
    if ((rc = ik_changes_schema("pin_index", &schema, err)) != 0)
        return rc;
    rc = ik_builder_create(&schema, 0, &b, err);
    schema.release(&schema);
    if (rc == 0 && empty) {
        rc = ik_builder_finish(b, NULL, schema_out, out, err);
        goto done;
    }
    if (rc != 0 || (rc = ik__strdict_reset(&k.cids)) != 0 ||
        (rc = scan(st, keys_sql, since, &s, err)) != 0)
        goto done;
    while ((sqlrc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((rc = key_of(&k, s, 1, &idx, &added, err)) != 0)
            goto done;
        if (added)
            k.existed[idx] = sqlite3_column_int(s, 2) != 0;
        k.last[idx] = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (sqlrc != SQLITE_DONE || (rc = scan(st, rows_sql, since, &s, err)) != 0) {
        rc = rc ? rc : ik__sql_error(st, sqlrc, "pins.db: changes", err);
        goto done;
    }
    while ((sqlrc = sqlite3_step(s)) == SQLITE_ROW) {
        bool present = sqlite3_column_int(s, 1) != 0;
        if ((rc = key_of(&k, s, 2, &idx, &added, err)) != 0)
            goto done;
        if (added) { /* the log changed between the scans: not in one transaction */
            rc = ik_error_set(err, EIO, "pins.db: the change log moved while read");
            goto done;
        }
        if (sqlite3_column_int64(s, 0) != k.last[idx] || (!present && !k.existed[idx]))
            continue; /* superseded, or came and went after since: no difference */
        if ((rc = append(b, s, present, err)) != 0)
            goto done;
    }
    if (sqlrc != SQLITE_DONE) {
        rc = ik__sql_error(st, sqlrc, "pins.db: changes", err);
        goto done;
    }
    rc = ik_builder_finish(b, NULL, schema_out, out, err);
done:
    sqlite3_finalize(s);
    ik_builder_destroy(b);
    keys_free(&k);
    return rc;
}

int ik_store_changes(struct ik_store *st, const char *table, uint64_t since,
                     struct ArrowSchema *schema_out, struct ArrowArray *out, uint64_t *newest,
                     struct ik_error *err)
{
    struct ArrowSchema check;
    uint64_t oldest = 0, gen = 0;
    int rc;
    if ((rc = ik_changes_schema(table, &check, err)) != 0)
        return rc;
    check.release(&check);
    if (since > INT64_MAX)
        return ik_error_set(err, EINVAL, "since %llu is out of range", (unsigned long long)since);
    /* one read transaction: the versions, the log and the rows agree */
    if ((rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: begin", err);
    rc = ik_store_changes_range(st, &oldest, &gen, err);
    if (rc == 0)
        rc = ik__pending_none(st, err);
    if (rc == 0 && since < oldest)
        rc = ik_error_set(err, IK_EGONE,
                          "changes since version %llu are gone: the oldest version still "
                          "available is %llu; re-read the table and follow from its version",
                          (unsigned long long)since, (unsigned long long)oldest);
    else if (rc == 0 && since > gen)
        rc = ik_error_set(err, EINVAL, "since %llu is newer than the newest version, %llu",
                          (unsigned long long)since, (unsigned long long)gen);
    else if (rc == 0)
        rc = run_query(st, since, since == gen, schema_out, out, err);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc == 0 && newest)
        *newest = gen;
    return rc;
}

/* The trim runs after every write the daemon's writer makes (when no other waits): its reads
 * are prepared once per connection (ik__stmt). */
enum { TRIM_GEN, TRIM_FLOOR, TRIM_AGE, TRIM_LEFT };
static const char *const trim_sql[] = {
    [TRIM_AGE] = "SELECT version, at FROM change_versions ORDER BY version",
    [TRIM_LEFT] = "SELECT 1 FROM changes WHERE version <= ?1 LIMIT 1",
};
static const int trim_id[] = {
    [TRIM_GEN] = -1, [TRIM_FLOOR] = -1, [TRIM_AGE] = IK__S_TRIM_AGE, [TRIM_LEFT] = IK__S_TRIM_LEFT};

static int trim_stmt(struct ik_store *st, int which, sqlite3_stmt **out, struct ik_error *err)
{
    return ik__stmt(st, trim_id[which], trim_sql[which], out, err);
}

/* One integer from trim statement `which` (bound to `arg`) into *v: *v untouched when there is
 * no row or it is NULL; *found (may be NULL) whether there was a row. The meta values through
 * the store's cached meta read. */
static int trim_scalar(struct ik_store *st, int which, int64_t arg, int64_t *v, bool *found,
                       struct ik_error *err)
{
    sqlite3_stmt *s;
    int rc;
    if (which == TRIM_GEN || which == TRIM_FLOOR) {
        int64_t m = 0;
        rc = ik__meta_get(st, which == TRIM_GEN ? "generation" : "changes_floor", &m, err);
        if (rc == 0)
            *v = m;
        if (found)
            *found = rc == 0;
        return rc;
    }
    if ((rc = trim_stmt(st, which, &s, err)) != 0)
        return rc;
    sqlite3_bind_int64(s, 1, arg);
    rc = sqlite3_step(s);
    if (found)
        *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0
               : ik__sql_error(st, rc, "pins.db: change log", err);
}

/* The newest version past the window: `retain_versions` behind the newest, or the newest
 * committed more than `retain_seconds` ago, whichever is later. Versions commit in order, so
 * those past the age limit are a prefix of change_versions (which starts at the floor): read
 * from the oldest up to the first younger one, a few rows once trimming keeps up, where
 * max(version) WHERE at < limit walked every version in the window after each write (on the
 * 1M bench store 28% of the daemon's CPU under a stream of single writes). A clock stepped
 * back can only end the prefix early: the window then keeps more, never less. */
static int cutoff(struct ik_store *st, int64_t retain_versions, int64_t retain_seconds,
                  int64_t now_us, int64_t *out, bool *by_age, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int64_t gen = 0, old = 0, limit = now_us - retain_seconds * 1000000;
    int rc = trim_scalar(st, TRIM_GEN, 0, &gen, NULL, err);
    if (rc != 0 || (rc = trim_stmt(st, TRIM_AGE, &s, err)) != 0)
        return rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_int64(s, 1) < limit)
        old = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ik__sql_error(st, rc, "pins.db: change log", err);
    *by_age = old > gen - retain_versions;
    *out = *by_age ? old : gen - retain_versions;
    return 0;
}

/* Trimming deletes a bounded chunk of log rows per transaction (a large import's version is
 * dropped over many idle moments). The daemon's writer runs it between writes, and a write that
 * comes meanwhile waits for it: the chunk adapts to take about TRIM_TARGET_MS, halving (down to
 * TRIM_CHUNK_MIN rows) after a slower one and doubling (up to TRIM_CHUNK_MAX) after one under
 * half of it. A fixed 20,000 rows took 50 ms to 6.6 s each on the 10M bench store, whose
 * import left 10M log rows at one version, in the soak on this shared disk (session 9): every
 * write arriving meanwhile waited as long. Under the count limit it waits until the window has
 * moved TRIM_STEP versions (or a sixteenth of the window) so that a steady stream of small
 * writes does not pay a second commit each; the age limit trims as soon as a version passes it. */
#define TRIM_CHUNK_MIN 256
#define TRIM_CHUNK_START 1024
#define TRIM_CHUNK_MAX 20000
#define TRIM_TARGET_MS 2.0
#define TRIM_STEP 64

/* Whether log rows at or below `floor` remain. */
static int leftover(struct ik_store *st, int64_t floor, bool *out, struct ik_error *err)
{
    int64_t one = 0;
    return trim_scalar(st, TRIM_LEFT, floor, &one, out, err);
}

/* The rewrite at a daemon's start (ik_store_changes_trim_bulk): when at least BULK_MIN log rows
 * are past the window and they outnumber the rows kept, the kept rows are copied into a new
 * table and the old one dropped, in one transaction. Deleting them a chunk at a time rewrote
 * every page of the log through the WAL: the 10M-pin bench store's import (10M rows at one
 * version, past the age window) kept the writer trimming for minutes while it served, ~30% of
 * a core, with the checkpoints' disk traffic behind it (session 9). A drop only puts the pages
 * on the free list. */
#define BULK_MIN 100000

/* count(*) of `sql` (?1 bound to a, and ?2 to b when it has one) into *n. */
static int count_rows(struct ik_store *st, const char *sql, int64_t a, int64_t b, int64_t *n,
                      struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, a);
        sqlite3_bind_int64(s, 2, b);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            *n = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: change log", err);
}

int ik_store_changes_trim_bulk(struct ik_store *st, int64_t retain_versions, int64_t retain_seconds,
                               int64_t now_us, int64_t *dropped, struct ik_error *err)
{
    int64_t floor = 0, cut = 0, gone = 0, kept = 0;
    bool by_age = false;
    char sql[640];
    int rc;
    *dropped = 0;
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    if ((rc = trim_scalar(st, TRIM_FLOOR, 0, &floor, NULL, err)) != 0 ||
        (rc = cutoff(st, retain_versions, retain_seconds, now_us, &cut, &by_age, err)) != 0)
        return rc;
    if (cut < floor)
        cut = floor; /* rows at or below the floor are left from an unfinished trim */
    if ((rc = count_rows(st,
                         "SELECT count(*) FROM (SELECT 1 FROM changes WHERE version <= ?1"
                         " LIMIT ?2)",
                         cut, BULK_MIN, &gone, err)) != 0 ||
        gone < BULK_MIN)
        return rc;
    if ((rc = count_rows(st, "SELECT count(*) FROM changes WHERE version <= ?1", cut, 0, &gone,
                         err)) != 0 ||
        (rc = count_rows(st,
                         "SELECT count(*) FROM (SELECT 1 FROM changes WHERE version > ?1"
                         " LIMIT ?2)",
                         cut, gone, &kept, err)) != 0 ||
        kept >= gone)
        return rc;
    if ((rc = ik__begin(st, err)) != 0)
        return rc;
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS changes_kept;"
             "CREATE TABLE changes_kept" CHANGES_COLUMNS ";"
             "INSERT INTO changes_kept SELECT version, cid, existed, present FROM changes"
             " WHERE version > %lld ORDER BY version, cid;"
             "DROP TABLE changes;"
             "ALTER TABLE changes_kept RENAME TO changes;"
             "UPDATE meta SET value = %lld WHERE key = 'changes_floor';"
             "DELETE FROM change_versions WHERE version <= %lld;",
             (long long)cut, (long long)cut, (long long)cut);
    if ((rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
        rc = ik__sql_error(st, rc, "pins.db: rewriting the change log", err);
        ik__rollback(st);
        return rc;
    }
    ik__stop_point("trim-bulk");
    if ((rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
        rc = ik__sql_error(st, rc, "pins.db: commit", err);
        ik__rollback(st);
        return rc;
    }
    *dropped = gone;
    return 0;
}

int ik_store_changes_trim(struct ik_store *st, int64_t retain_versions, int64_t retain_seconds,
                          int64_t now_us, bool *more, uint64_t *floor_out, struct ik_error *err)
{
    int64_t floor = 0, cut = 0, step, t0;
    bool left = false, by_age = false;
    double ms;
    int rc;
    char sql[320];
    *more = false;
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    if ((rc = trim_scalar(st, TRIM_FLOOR, 0, &floor, NULL, err)) != 0 ||
        (rc = cutoff(st, retain_versions, retain_seconds, now_us, &cut, &by_age, err)) != 0 ||
        (rc = leftover(st, floor, &left, err)) != 0)
        return rc;
    step = retain_versions / 16 < TRIM_STEP ? retain_versions / 16 : TRIM_STEP;
    if (floor_out)
        *floor_out = (uint64_t)floor;
    if (!left && (cut <= floor || (cut < floor + step && !by_age)))
        return 0;
    if (cut > floor)
        floor = cut;
    if (st->trim_chunk <= 0)
        st->trim_chunk = TRIM_CHUNK_START;
    t0 = ik__now_us();
    if ((rc = ik__begin(st, err)) != 0)
        return rc;
    snprintf(sql, sizeof sql,
             "UPDATE meta SET value = %lld WHERE key = 'changes_floor';"
             "DELETE FROM changes WHERE (version, cid) IN (SELECT version, cid FROM changes"
             " WHERE version <= %lld LIMIT %d);"
             "DELETE FROM change_versions WHERE version <= %lld;",
             (long long)floor, (long long)floor, (int)st->trim_chunk, (long long)floor);
    if ((rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
        rc = ik__sql_error(st, rc, "pins.db: trimming the change log", err);
        goto fail;
    }
    if ((rc = leftover(st, floor, more, err)) != 0)
        goto fail;
    if ((rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
        rc = ik__sql_error(st, rc, "pins.db: commit", err);
        goto fail;
    }
    ms = (double)(ik__now_us() - t0) / 1000.0;
    if (ms > TRIM_TARGET_MS && st->trim_chunk / 2 >= TRIM_CHUNK_MIN)
        st->trim_chunk /= 2;
    else if (ms < TRIM_TARGET_MS / 2 && st->trim_chunk * 2 <= TRIM_CHUNK_MAX)
        st->trim_chunk *= 2;
    if (floor_out)
        *floor_out = (uint64_t)floor;
    return 0;
fail:
    ik__rollback(st);
    return rc;
}
