/* The segment log (include/ipfskit/seglog.h): table seg_log(gen, cid), filled by triggers on
 * `pins` with the generation the running write transaction will commit (ik__commit bumps the
 * generation once, at the end, so every row of a transaction gets generation + 1), read by the
 * daemon's builder to make delta segments, pruned by the daemon's writer.
 *
 * Kept apart from the change feed's log (issue 12, another branch) on purpose: this one needs
 * only "which cids changed after G", keyed (gen, cid) so that appends go to the end of one
 * B-tree. meta 'seg_log_floor' is the generation up to which entries may be missing. */
#include <stdlib.h>
#include <string.h>

#include "ipfskit/seglog.h"
#include "store/store_internal.h"

#define NEXT_GEN "(SELECT value + 1 FROM meta WHERE key = 'generation')"

/* A trigger's OR IGNORE gives way to the outer statement's conflict clause (the upsert's), so
 * a repeated (gen, cid) is skipped by NOT EXISTS instead. */
#define LOG_ROW(c)                                                                                 \
    " INSERT INTO seg_log SELECT " NEXT_GEN ", " c " WHERE NOT EXISTS (SELECT 1 FROM seg_log"      \
    " WHERE gen = " NEXT_GEN " AND cid = " c ");"

static const char *const setup_sql =
    "CREATE TABLE IF NOT EXISTS seg_log(gen INTEGER NOT NULL, cid TEXT NOT NULL,"
    " PRIMARY KEY(gen, cid)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta SELECT 'seg_log_floor', value FROM meta"
    " WHERE key = 'generation';"
    "CREATE TRIGGER IF NOT EXISTS seg_log_insert AFTER INSERT ON pins BEGIN" LOG_ROW(
        "new.cid") " END;"
                   "CREATE TRIGGER IF NOT EXISTS seg_log_update AFTER UPDATE ON pins BEGIN" LOG_ROW(
                       "new.cid") " END;"
                                  "CREATE TRIGGER IF NOT EXISTS seg_log_delete AFTER DELETE ON "
                                  "pins BEGIN" LOG_ROW("old.cid") " END;";

int ik__seglog_setup(struct ik_store *st, struct ik_error *err)
{
    sqlite3 *db = ik__store_db(st);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'seg_log_delete'", -1,
                                &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_finalize(s);
        return 0; /* already there: no write on every open */
    }
    sqlite3_finalize(s);
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, setup_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int e = ik__sql_error(st, rc, "pins.db: segment log", err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return e;
    }
    return 0;
}

void ik_changeset_reset(struct ik_changeset *c)
{
    size_t i;
    if (c->rows.release)
        c->rows.release(&c->rows);
    if (c->schema.release)
        c->schema.release(&c->schema);
    for (i = 0; i < c->n_deleted; i++)
        free(c->deleted[i]);
    free(c->deleted);
    memset(c, 0, sizeof *c);
}

static int int_query(struct ik_store *st, const char *sql, int64_t arg, int64_t *out,
                     struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(ik__store_db(st), sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, arg);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = -1;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: segment log", err);
}

static int read_deleted(struct ik_store *st, uint64_t since, struct ik_changeset *out,
                        struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc = sqlite3_prepare_v2(ik__store_db(st),
                                "SELECT DISTINCT l.cid FROM seg_log l WHERE l.gen > ?1 AND NOT"
                                " EXISTS (SELECT 1 FROM pins p WHERE p.cid = l.cid) ORDER BY 1",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: segment log", err);
    sqlite3_bind_int64(s, 1, (int64_t)since);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (out->n_deleted == cap) {
            char **nd = realloc(out->deleted, (cap = cap ? cap * 2 : 16) * sizeof *nd);
            if (nd == NULL)
                break;
            out->deleted = nd;
        }
        if (t == NULL || (out->deleted[out->n_deleted] = strdup(t)) == NULL)
            break;
        out->n_deleted++;
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return ik_error_set(err, ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: segment log", err);
}

int ik_store_changes_since(struct ik_store *st, uint64_t since, int64_t max_rows,
                           struct ik_changeset *out, struct ik_error *err)
{
    sqlite3 *db = ik__store_db(st);
    int64_t floor = -1, n = 0;
    int rc;
    memset(out, 0, sizeof *out);
    out->since = since;
    if ((rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: begin", err);
    if ((rc = ik_store_generation(st, &out->generation, err)) != 0)
        goto done;
    if (int_query(st, "SELECT value FROM meta WHERE key = 'seg_log_floor'", 0, &floor, NULL) != 0 ||
        floor < 0 || (uint64_t)floor > since || since > out->generation) {
        rc = ik_error_set(err, ESTALE, "pins.db: the segment log does not reach back to %llu",
                          (unsigned long long)since);
        goto done;
    }
    if ((rc = int_query(st, "SELECT count(DISTINCT cid) FROM seg_log WHERE gen > ?1",
                        (int64_t)since, &n, err)) != 0)
        goto done;
    if (n > max_rows) {
        rc = ik_error_set(err, E2BIG, "%lld pins changed since %llu", (long long)n,
                          (unsigned long long)since);
        goto done;
    }
    if ((rc = ik__read_changed_pins(st, since, &out->schema, &out->rows, err)) == 0)
        rc = read_deleted(st, since, out, err);
done:
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != 0)
        ik_changeset_reset(out);
    return rc;
}

int ik_store_seglog_prune(struct ik_store *st, uint64_t upto, struct ik_error *err)
{
    sqlite3 *db = ik__store_db(st);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "DELETE FROM seg_log WHERE gen <= ?1", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, (int64_t)upto);
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "UPDATE meta SET value = max(value, ?1) WHERE key = "
                                "'seg_log_floor'",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, (int64_t)upto);
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_finalize(s);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int e = ik__sql_error(st, rc, "pins.db: pruning the segment log", err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return e;
    }
    return 0;
}
