/* The segment log (include/ipfskit/seglog.h): which pins changed after a generation, read by the
 * daemon's builder to make delta segments. It is the change log's table (changes.c: one row
 * per (version, cid), written by every write path in the write's own transaction), read here
 * for the builder; its retention is the change log's (config "changes"), so a builder that
 * falls further behind than the window (a daemon down through many direct writes) is told
 * ESTALE and reads every pin instead. An earlier version kept a second table filled by
 * triggers on pins; the triggers cost ~24 us a row (imports 7x slower), so stores that have
 * them drop them at their next writable open. */
#include <stdlib.h>
#include <string.h>

#include "ipfskit/seglog.h"
#include "store/store_internal.h"

int ik__seglog_setup(struct ik_store *st, struct ik_error *err)
{
    sqlite3 *db = ik__store_db(st);
    sqlite3_stmt *s = NULL;
    int rc =
        sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'seg_log'", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return 0; /* nothing to drop: no write on every open */
    }
    sqlite3_finalize(s);
    rc = sqlite3_exec(db,
                      "BEGIN IMMEDIATE; DROP TRIGGER IF EXISTS seg_log_insert;"
                      " DROP TRIGGER IF EXISTS seg_log_update; DROP TRIGGER IF EXISTS"
                      " seg_log_delete; DROP TABLE IF EXISTS seg_log;"
                      " DELETE FROM meta WHERE key = 'seg_log_floor'; COMMIT",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int e = ik__sql_error(st, rc, "pins.db: dropping the old segment log", err);
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

/* The first integer of cached statement `which` bound to `arg` and `arg2` (-1 without a row). */
static int int_query(struct ik_store *st, int which, const char *sql, int64_t arg, int64_t arg2,
                     int64_t *out, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = ik__stmt(st, which, sql, &s, err);
    if (rc != 0)
        return rc;
    if (sqlite3_bind_parameter_count(s) > 0)
        sqlite3_bind_int64(s, 1, arg);
    if (sqlite3_bind_parameter_count(s) > 1)
        sqlite3_bind_int64(s, 2, arg2);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *out = -1;
        rc = SQLITE_OK;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: segment log", err);
}

static int read_deleted(struct ik_store *st, uint64_t since, struct ik_changeset *out,
                        struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc = ik__stmt(st, IK__S_DELETED,
                      "SELECT DISTINCT l.cid FROM changes l WHERE l.version > ?1 AND NOT"
                      " EXISTS (SELECT 1 FROM pins p WHERE p.cid = l.cid) ORDER BY 1",
                      &s, err);
    if (rc != 0)
        return rc;
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
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc == SQLITE_ROW)
        return ik_error_set(err, ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: segment log", err);
}

int ik_store_changes_since(struct ik_store *st, uint64_t since, int64_t max_rows,
                           struct ik_changeset *out, struct ik_error *err)
{
    return ik_store_changes_since_tail(st, since, max_rows, NULL, out, err);
}

int ik_store_changes_since_tail(struct ik_store *st, uint64_t since, int64_t max_rows,
                                struct ik_change_tail *tail, struct ik_changeset *out,
                                struct ik_error *err)
{
    sqlite3 *db = ik__store_db(st);
    int64_t floor = -1, n = 0;
    int rc;
    memset(out, 0, sizeof *out);
    out->since = since;
    if ((rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: begin", err);
    if ((rc = ik_store_generation(st, &out->generation, err)) != 0 ||
        (rc = ik__pending_none(st, err)) != 0)
        goto done;
    if (ik__meta_get(st, "changes_floor", &floor, NULL) != 0 || floor < 0 ||
        (uint64_t)floor > since || since > out->generation) {
        rc = ik_error_set(err, ESTALE, "pins.db: the segment log does not reach back to %llu",
                          (unsigned long long)since);
        goto done;
    }
    /* counted up to one past the limit only: a 100k-pin import's log (all distinct) took
     * 25-40 ms to count whole before the full build it leads to, this well under 1 ms */
    if ((rc = int_query(st, IK__S_CHANGED_COUNT,
                        "SELECT count(*) FROM (SELECT DISTINCT cid FROM changes"
                        " WHERE version > ?1 LIMIT ?2)",
                        (int64_t)since, max_rows >= 0 && max_rows < INT64_MAX ? max_rows + 1 : -1,
                        &n, err)) != 0)
        goto done;
    if (n > max_rows) {
        rc = ik_error_set(err, E2BIG, "%lld pins changed since %llu", (long long)n,
                          (unsigned long long)since);
        goto done;
    }
    if ((rc = ik__read_changed_pins(st, since, &out->schema, &out->rows, err)) == 0)
        rc = read_deleted(st, since, out, err);
    if (rc == 0 && tail)
        (void)ik__change_tail_fill(st, tail, since, out->generation, (uint64_t)floor);
done:
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != 0)
        ik_changeset_reset(out);
    return rc;
}
