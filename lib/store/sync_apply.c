/* Making a source's rows equal to what the source lists (docs/sync.md). The listing is staged
 * into a temporary table as it streams in (on disk past SQLite's page cache, so memory stays
 * bounded whatever the pin count), then one write transaction inserts the new pins, updates the
 * changed ones and removes the vanished ones, each logged in the change log like every other
 * write (inserts through ik__upsert, updates and deletes through RETURNING). Only rows
 * whose backend is the source's name are the source's: hand-added pins and other sources' rows
 * are never touched, and a CID some other row already holds stays that row's. A listing that
 * changes nothing writes nothing: the transaction is rolled back and no generation is used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/cid.h"
#include "store/store_internal.h"

struct ik_store_sync {
    struct ik_store *st;
    char source[64];
    sqlite3_stmt *stage, *verify;
    int64_t staged, invalid;
    char first_invalid[256];
};

static int run(struct ik_store *st, const char *sql, struct ik_error *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: sync", err);
}

static int prep(struct ik_store *st, const char *sql, sqlite3_stmt **s, struct ik_error *err)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: sync", err);
}

void ik_store_sync_abort(struct ik_store_sync *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->stage);
    sqlite3_finalize(s->verify);
    if (!sqlite3_get_autocommit(s->st->db))
        sqlite3_exec(s->st->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(s->st->db, "DROP TABLE IF EXISTS temp.sync_stage", NULL, NULL, NULL);
    free(s);
}

int ik_store_sync_begin(struct ik_store *st, const char *source, struct ik_store_sync **out,
                        struct ik_error *err)
{
    struct ik_store_sync *s;
    int rc;
    *out = NULL;
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    if (source == NULL || source[0] == '\0' || strlen(source) >= sizeof s->source)
        return ik_error_set(err, EINVAL, "a source needs a name of 1 to 63 bytes");
    if ((s = calloc(1, sizeof *s)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    s->st = st;
    snprintf(s->source, sizeof s->source, "%s", source);
    /* The staging transaction writes only the temp database, so the store stays free for
     * other writers while the listing streams in. */
    rc = run(st,
             "DROP TABLE IF EXISTS temp.sync_stage;"
             "CREATE TEMP TABLE sync_stage(cid TEXT PRIMARY KEY NOT NULL, name TEXT,"
             " pin_type TEXT NOT NULL, rf INTEGER, metadata TEXT, verified INTEGER)"
             " WITHOUT ROWID;"
             "BEGIN",
             err);
    if (rc == 0)
        rc = prep(st, "INSERT OR REPLACE INTO temp.sync_stage VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                  &s->stage, err);
    if (rc == 0)
        rc = prep(st, "UPDATE temp.sync_stage SET verified = ?2 WHERE cid = ?1", &s->verify, err);
    if (rc != 0) {
        ik_store_sync_abort(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void bind_opt_text(sqlite3_stmt *q, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

int ik_store_sync_stage(struct ik_store_sync *s, const char *cid, const char *name,
                        const char *pin_type, int32_t rf, const char *metadata, int verified,
                        struct ik_error *err)
{
    struct ik__row r;
    struct ik_error why;
    sqlite3_stmt *q = s->stage;
    char canon[IK_CID_MAX_TEXT + 1];
    size_t n = ik_cid_canonical(cid, strlen(cid), canon, sizeof canon);
    int rc;
    if (n > 0)
        cid = canon; /* stored and compared under one text, whatever base the source used */
    memset(&r, 0, sizeof r);
    ik__row_str(&r, IK__CID, cid, strlen(cid));
    if (name != NULL)
        ik__row_str(&r, IK__NAME, name, strlen(name));
    ik__row_str(&r, IK__PIN_TYPE, pin_type, strlen(pin_type));
    if (metadata != NULL)
        ik__row_str(&r, IK__METADATA, metadata, strlen(metadata));
    if (rf >= 0)
        ik__row_num(&r, IK__REPLICATION_FACTOR, rf);
    /* a source's reply is not trusted: a pin the store would refuse is counted and left out */
    if (ik__row_check(&r, &why) != 0) {
        if (s->invalid++ == 0)
            snprintf(s->first_invalid, sizeof s->first_invalid, "%.255s", why.message);
        return 0;
    }
    sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
    bind_opt_text(q, 2, name);
    sqlite3_bind_text(q, 3, pin_type, -1, SQLITE_STATIC);
    if (rf >= 0)
        sqlite3_bind_int(q, 4, rf);
    else
        sqlite3_bind_null(q, 4);
    bind_opt_text(q, 5, metadata);
    if (verified >= 0)
        sqlite3_bind_int(q, 6, verified != 0);
    else
        sqlite3_bind_null(q, 6);
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return ik__sql_error(s->st, rc, "pins.db: staging a synced pin", err);
    s->staged++;
    return 0;
}

int ik_store_sync_verified(struct ik_store_sync *s, const char *cid, bool verified,
                           struct ik_error *err)
{
    char canon[IK_CID_MAX_TEXT + 1];
    int rc;
    if (ik_cid_canonical(cid, strlen(cid), canon, sizeof canon) > 0)
        cid = canon;
    sqlite3_bind_text(s->verify, 1, cid, -1, SQLITE_STATIC);
    sqlite3_bind_int(s->verify, 2, verified);
    rc = sqlite3_step(s->verify);
    sqlite3_reset(s->verify);
    return rc == SQLITE_DONE ? 0 : ik__sql_error(s->st, rc, "pins.db: staging a status", err);
}

/* New pins: listed, and no row holds their CID. */
static int insert_new(struct ik_store_sync *s, int64_t now, int64_t *n, struct ik_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = prep(s->st,
                  "SELECT cid, name, pin_type, rf, metadata, verified FROM temp.sync_stage s"
                  " WHERE NOT EXISTS (SELECT 1 FROM main.pins p WHERE p.cid = s.cid)",
                  &q, err);
    while (rc == 0) {
        struct ik__row r;
        int step = sqlite3_step(q);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = ik__sql_error(s->st, step, "pins.db: sync insert", err);
            break;
        }
        memset(&r, 0, sizeof r);
        for (int i = 0; i < 3; i++) {
            static const int col[] = {IK__CID, IK__NAME, IK__PIN_TYPE};
            const char *v = (const char *)sqlite3_column_text(q, i);
            if (v != NULL)
                ik__row_str(&r, col[i], v, (size_t)sqlite3_column_bytes(q, i));
        }
        if (sqlite3_column_type(q, 3) != SQLITE_NULL)
            ik__row_num(&r, IK__REPLICATION_FACTOR, sqlite3_column_int64(q, 3));
        if (sqlite3_column_type(q, 4) != SQLITE_NULL)
            ik__row_str(&r, IK__METADATA, (const char *)sqlite3_column_text(q, 4),
                        (size_t)sqlite3_column_bytes(q, 4));
        if (sqlite3_column_type(q, 5) != SQLITE_NULL)
            ik__row_num(&r, IK__VERIFIED, sqlite3_column_int64(q, 5));
        ik__row_str(&r, IK__BACKEND, s->source, strlen(s->source));
        if ((rc = ik__upsert(s->st, &r, now, s->source, err)) == 0)
            ++*n;
    }
    sqlite3_finalize(q);
    return rc;
}

/* Steps a write statement with `RETURNING cid` to its end, logging each pin it changed
 * (RETURNING rows are produced after all its changes are made, so the log's own insert may run
 * between steps). */
static int step_logged(struct ik_store *st, sqlite3_stmt *q, bool present, int64_t *n,
                       const char *what, struct ik_error *err)
{
    int rc = 0;
    *n = 0;
    for (;;) {
        int step = sqlite3_step(q);
        if (step == SQLITE_DONE)
            return rc;
        if (step != SQLITE_ROW)
            return ik__sql_error(st, step, what, err);
        if (rc == 0) {
            rc = ik__changes_log(st, (const char *)sqlite3_column_text(q, 0),
                                 (size_t)sqlite3_column_bytes(q, 0), true, present, err);
            ++*n;
        }
    }
}

/* Changed pins: the source's rows whose listed columns differ. What the source does not say
 * (a NULL rf, metadata or verified) keeps the stored value; a missing name is no name. */
static int update_changed(struct ik_store_sync *s, int64_t *n, struct ik_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = prep(
        s->st,
        "UPDATE main.pins AS p SET name = s.name, pin_type = s.pin_type,"
        " replication_factor = coalesce(s.rf, p.replication_factor),"
        " metadata = coalesce(s.metadata, p.metadata), verified = coalesce(s.verified, p.verified)"
        " FROM temp.sync_stage AS s WHERE p.cid = s.cid AND p.backend = ?1 AND"
        " (p.name IS NOT s.name OR p.pin_type IS NOT s.pin_type"
        "  OR (s.rf IS NOT NULL AND p.replication_factor IS NOT s.rf)"
        "  OR (s.metadata IS NOT NULL AND p.metadata IS NOT s.metadata)"
        "  OR (s.verified IS NOT NULL AND p.verified IS NOT s.verified))"
        " RETURNING cid",
        &q, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(q, 1, s->source, -1, SQLITE_STATIC);
    rc = step_logged(s->st, q, true, n, "pins.db: sync update", err);
    sqlite3_finalize(q);
    return rc;
}

/* Vanished pins: the source's rows it no longer lists. */
static int remove_vanished(struct ik_store_sync *s, int64_t *n, struct ik_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = prep(s->st,
                  "DELETE FROM main.pins WHERE backend = ?1 AND NOT EXISTS"
                  " (SELECT 1 FROM temp.sync_stage s WHERE s.cid = main.pins.cid) RETURNING cid",
                  &q, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(q, 1, s->source, -1, SQLITE_STATIC);
    rc = step_logged(s->st, q, false, n, "pins.db: sync remove", err);
    sqlite3_finalize(q);
    return rc;
}

int ik_store_sync_finish(struct ik_store_sync *s, struct ik_sync_counts *res, struct ik_error *err)
{
    struct ik_store *st = s->st;
    int rc;
    memset(res, 0, sizeof *res);
    res->listed = s->staged + s->invalid;
    res->invalid = s->invalid;
    memcpy(res->first_invalid, s->first_invalid, sizeof res->first_invalid);
    /* the staged rows are committed to the temp database; the diff runs in a write transaction
     * of its own, so it compares against the store as it is now */
    if ((rc = run(st, "COMMIT", err)) != 0 || (rc = ik__begin(st, err)) != 0)
        goto out;
    if ((rc = update_changed(s, &res->changed, err)) != 0 ||
        (rc = insert_new(s, ik__now_us(), &res->added, err)) != 0 ||
        (rc = remove_vanished(s, &res->removed, err)) != 0)
        goto out;
    if (res->added + res->changed + res->removed == 0) {
        ik__rollback(st); /* nothing changed: no new generation, no new version */
    } else if ((rc = ik__commit(st, err)) == 0) {
        res->wrote = true;
    }
out:
    if (rc != 0)
        ik__rollback(st);
    if (rc == 0 && res->wrote)
        rc = ik_store_generation(st, &res->generation, err);
    ik_store_sync_abort(s); /* frees the staging table and s */
    return rc;
}

int ik_store_sizes_missing(struct ik_store *st, const char *source, int64_t limit, char ***cids_out,
                           size_t *n_out, struct ik_error *err)
{
    sqlite3_stmt *q = NULL;
    char **cids = NULL;
    size_t n = 0;
    int rc = prep(st,
                  "SELECT cid FROM pins WHERE backend = ?1 AND size_bytes IS NULL"
                  " AND pin_type != 'indirect' LIMIT ?2",
                  &q, err);
    *cids_out = NULL;
    *n_out = 0;
    if (rc != 0)
        return rc;
    sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, limit);
    if ((cids = calloc((size_t)limit, sizeof *cids)) == NULL) {
        sqlite3_finalize(q);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    while (rc == 0) {
        int step = sqlite3_step(q);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = ik__sql_error(st, step, "pins.db: sizes", err);
            break;
        }
        if ((cids[n] = strdup((const char *)sqlite3_column_text(q, 0))) == NULL)
            rc = ik_error_set(err, ENOMEM, "out of memory");
        else
            n++;
    }
    sqlite3_finalize(q);
    if (rc != 0) {
        while (n > 0)
            free(cids[--n]);
        free(cids);
        return rc;
    }
    *cids_out = cids;
    *n_out = n;
    return 0;
}

int ik_store_set_sizes(struct ik_store *st, const char *source, char *const *cids,
                       const int64_t *sizes, size_t n, int64_t *changed, struct ik_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc;
    *changed = 0;
    if ((rc = ik__begin(st, err)) != 0)
        return rc;
    rc = prep(st,
              "UPDATE pins SET size_bytes = ?2 WHERE cid = ?1 AND backend = ?3"
              " AND size_bytes IS NOT ?2",
              &q, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (sizes[i] < 0)
            continue; /* not known (the source did not answer for it) */
        sqlite3_bind_text(q, 1, cids[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, sizes[i]);
        sqlite3_bind_text(q, 3, source, -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE) {
            rc = ik__sql_error(st, sqlite3_errcode(st->db), "pins.db: sizes", err);
        } else if (sqlite3_changes(st->db) > 0) {
            ++*changed;
            rc = ik__changes_log(st, cids[i], strlen(cids[i]), true, true, err);
        }
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (rc == 0 && *changed > 0)
        rc = ik__commit(st, err);
    if (rc != 0 || *changed == 0)
        ik__rollback(st);
    return rc;
}
