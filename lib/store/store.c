/* The pin store's SQLite side: opening pins.db (WAL, schema, version check), the prepared
 * statements, write transactions that bump the generation counter, and the single-pin
 * operations add / remove / touch, count and generation. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/cid.h"
#include "store/cid_internal.h"
#include "store/store_internal.h"

/* 2: the change log (changes.c). An older ipfs-kit would write without logging, so it is
 * refused. 3: import journals (import_journal.c): an older one would ignore a pending import
 * (acknowledged, not yet in pins) and write over it. */
#define SCHEMA_VERSION 3

#define VFS_INDEX_SQL                                                                              \
    "CREATE INDEX IF NOT EXISTS pins_vfs_path ON pins(vfs_path) WHERE vfs_path IS NOT NULL"

/* The pins table is WITHOUT ROWID, keyed by cid: one B-tree instead of a rowid table plus a
 * separate primary-key index, so an insert updates one tree, and reading in cid order (what
 * every snapshot build does) is a plain scan with no sort and no lookups. Measured with 1M
 * kubo pins: see the commit message / report.
 *
 * Indexes, chosen for the CLI's filters:
 * - vfs_path: path_prefix / eq / prefix become range scans. Partial (vfs_path IS NOT NULL):
 *   imports from kubo or Cluster carry no paths and pay nothing, and any comparison on
 *   vfs_path implies NOT NULL, so the planner can use it.
 * - none on name: the CLI filters names by substring (`--name-contains`), which a B-tree cannot
 *   serve, and only the direct fallback could use one for eq / prefix. It was a third of the
 *   file (64 of 176 MB for 1M kubo pins with names) and, filled in name order while the table
 *   fills in cid order, made every import write random pages: dropping it cut a 1M-pin import's
 *   CPU time by more than half. Stores created before drop it on their next writable open.
 * - none on pin_type or backend: three pin types and a handful of backends, so an equality
 *   selects a large share of the table; an index would make every insert slower and a scan
 *   through it (a primary-key lookup per row, then a sort by cid) slower than the plain cid-order
 *   scan for all but rare values. */
static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('schema_version', 1);"
    "INSERT OR IGNORE INTO meta VALUES('generation', 0);"
    "CREATE TABLE IF NOT EXISTS pins("
    " cid TEXT PRIMARY KEY NOT NULL,"
    " name TEXT,"
    " size_bytes INTEGER,"
    " pin_type TEXT NOT NULL,"
    " timestamp INTEGER NOT NULL," /* microseconds since the epoch, UTC */
    " metadata TEXT,"              /* a JSON object */
    " backend TEXT NOT NULL,"
    " replication_factor INTEGER NOT NULL,"
    " verified INTEGER NOT NULL,"
    " last_access INTEGER,"
    " vfs_path TEXT,"
    " access_count INTEGER NOT NULL"
    ") WITHOUT ROWID;" VFS_INDEX_SQL ";"
    "DROP INDEX IF EXISTS pins_name;";

/* A missing column keeps the stored value on update and takes the default on insert. ?13 is
 * "now" (a missing pinned-at time on insert), ?14 the default backend. */
static const char *const upsert_sql =
    "INSERT INTO pins(cid, name, size_bytes, pin_type, timestamp, metadata, backend,"
    " replication_factor, verified, last_access, vfs_path, access_count)"
    " VALUES(?1, ?2, ?3, coalesce(?4, 'recursive'), coalesce(?5, ?13), ?6, coalesce(?7, ?14),"
    " coalesce(?8, 1), coalesce(?9, 0), ?10, ?11, coalesce(?12, 0))"
    " ON CONFLICT(cid) DO UPDATE SET name = coalesce(?2, name),"
    " size_bytes = coalesce(?3, size_bytes), pin_type = coalesce(?4, pin_type),"
    " timestamp = coalesce(?5, timestamp), metadata = coalesce(?6, metadata),"
    " backend = coalesce(?7, backend), replication_factor = coalesce(?8, replication_factor),"
    " verified = coalesce(?9, verified), last_access = coalesce(?10, last_access),"
    " vfs_path = coalesce(?11, vfs_path), access_count = coalesce(?12, access_count)";

int ik__sql_error(struct ik_store *st, int sqlrc, const char *what, struct ik_error *err)
{
    int primary = sqlrc & 0xff;
    int code = primary == SQLITE_FULL ? ENOSPC : EIO;
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(sqlrc);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        code = IK_ELOCKED;
    return ik_error_set(err, code, "%s: %s", what, msg);
}

sqlite3 *ik__store_db(struct ik_store *st)
{
    return st->db;
}

static int exec(struct ik_store *st, const char *sql, const char *what, struct ik_error *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, what, err);
}

int ik__stmt(struct ik_store *st, int which, const char *sql, sqlite3_stmt **out,
             struct ik_error *err)
{
    int rc;
    if (st->cached[which] == NULL &&
        (rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->cached[which],
                                 NULL)) != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: prepare", err);
    *out = st->cached[which];
    return 0;
}

int ik__meta_get(struct ik_store *st, const char *key, int64_t *v, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = ik__stmt(st, IK__S_META, "SELECT value FROM meta WHERE key = ?1", &s, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return ik_error_set(err, EIO, "pins.db: meta has no '%s'", key);
    return ik__sql_error(st, rc, "pins.db", err);
}

/* Checkpoints under IK_STORE_MANUAL_CHECKPOINT. The writer calls ik_store_checkpoint when idle,
 * which acts from SQLite's own autocheckpoint threshold on, so small writes keep costing no
 * fsync. A commit still checkpoints inline once the WAL passes WAL_CAP_BYTES, for a writer
 * that is never idle. journal_size_limit makes the first commit after the WAL is rewound
 * truncate the file, so one large import does not leave a WAL of its size on disk; at
 * WAL_CAP_BYTES, not below: the daemon rewinds its WAL at 128 MiB under a stream of writes,
 * and truncating 64 MiB of it at each rewind (freeing its blocks; this machine's ext4 is
 * mounted with discard) held that commit up to 110 ms. */
#define CHECKPOINT_FRAMES 1000
#define WAL_CAP_BYTES ((int64_t)256 << 20)

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct ik_store *st = arg;
    (void)db;
    (void)name;
    st->wal_frames = frames;
    return SQLITE_OK;
}

static int manual_checkpoints(struct ik_store *st, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    char limit[64];
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA page_size", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        st->page_size = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db", err);
    st->manual_checkpoint = true;
    sqlite3_wal_hook(st->db, wal_hook, st); /* replaces SQLite's autocheckpoint hook */
    snprintf(limit, sizeof limit, "PRAGMA journal_size_limit = %lld", (long long)WAL_CAP_BYTES);
    return exec(st, limit, "pins.db", err);
}

static int prepare(struct ik_store *st, const char *sql, sqlite3_stmt **out, struct ik_error *err)
{
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: prepare", err);
}

static int setup(struct ik_store *st, bool create, bool manual, struct ik_error *err)
{
    int64_t version = 0;
    int rc;
    /* busy_timeout first: everything after may meet a writer's lock. The page cache may grow to
     * 64 MiB so a large import does not spill dirty pages into the WAL twice; it is released
     * after each import (sqlite3_db_release_memory). */
    rc = exec(st, "PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536;", "pins.db", err);
    /* 16 KiB pages for a new store (ignored by an existing one: the size is fixed once the file
     * has a table, and WAL mode cannot change it): a 1M-pin import spends ~7% less CPU and
     * writes a quarter of the WAL frames, and snapshot builds scan fewer pages. The cost is 16
     * KiB of WAL per page a single-pin change touches, nothing at human rates. It must come
     * before journal_mode, which writes the file's first page. */
    if (rc == 0 && !st->readonly)
        rc = exec(st,
                  "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL;"
                  " PRAGMA synchronous = NORMAL;",
                  "pins.db", err);
    if (rc == 0 && create)
        rc = exec(st, schema_sql, "pins.db: creating the schema", err);
    if (rc == 0)
        rc = ik__meta_get(st, "schema_version", &version, err);
    if (rc != 0)
        return rc;
    if (version > SCHEMA_VERSION)
        return ik_error_set(err, ENOTSUP,
                            "pins.db has schema version %lld; this ipfs-kit reads up to %d",
                            (long long)version, SCHEMA_VERSION);
    if (st->readonly)
        return 0;
    if ((rc = ik__seglog_setup(st, err)) != 0)
        return rc;
    if (manual && (rc = manual_checkpoints(st, err)) != 0)
        return rc;
    if ((rc = ik__changes_setup(st, err)) != 0 || (rc = ik__pending_setup(st, err)) != 0 ||
        (rc = exec(st, "UPDATE meta SET value = 3 WHERE key = 'schema_version' AND value < 3",
                   "pins.db", err)) != 0)
        return rc;
    if ((rc = prepare(st, upsert_sql, &st->upsert, err)) != 0 ||
        (rc = prepare(st, "DELETE FROM pins WHERE cid = ?1", &st->remove, err)) != 0 ||
        (rc = prepare(st,
                      "UPDATE pins SET access_count = access_count + 1, last_access = ?2"
                      " WHERE cid = ?1",
                      &st->touch, err)) != 0 ||
        (rc = prepare(st, "UPDATE meta SET value = value + 1 WHERE key = 'generation'", &st->bump,
                      err)) != 0)
        return rc;
    return 0;
}

int ik_store_open(const char *dir, unsigned flags, struct ik_store **out, struct ik_error *err)
{
    struct ik_store *st;
    struct stat sb;
    char path[4096];
    bool readonly = (flags & IK_STORE_READONLY) != 0, exists, create;
    int rc, oflags;

    *out = NULL;
    if (snprintf(path, sizeof path, "%s/pins.db", dir) >= (int)sizeof path)
        return ik_error_set(err, EINVAL, "store directory path too long");
    exists = lstat(path, &sb) == 0; /* a link is "there": SQLite refuses it below */
    create = !exists && !readonly && (flags & IK_STORE_CREATE);
    if (!exists && !create)
        return ik_error_set(err, ENOENT, "%s does not exist", path);
    if (exists && S_ISLNK(sb.st_mode))
        return ik_error_set(err, ELOOP,
                            "%s is a symbolic link: refused (files in the data directory are "
                            "never followed through links; remove it)",
                            path);
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return ik_error_set(err, errno, "cannot create %s: %s", dir, strerror(errno));
    if (create) {
        /* Made here, 0600 and new (O_EXCL never follows a link), rather than by SQLite and then
         * chmod'ed by path; -wal and -shm take the database file's mode. An empty file is an
         * empty database. */
        int fd = ik__open_nofollow(AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL, 0600, err);
        if (fd < 0 && errno != EEXIST) /* EEXIST: a concurrent opener made it first */
            return errno;
        if (fd >= 0)
            close(fd);
    }
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    st->readonly = readonly;
    if ((st->dir = strdup(dir)) == NULL) {
        free(st);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    /* NOFOLLOW: pins.db may not be a link (SQLite opens -wal and -shm with O_NOFOLLOW itself) */
    oflags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
             SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
    rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        rc = ik_error_set(err, EIO, "%s: %s", path,
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        ik_store_close(st);
        return rc;
    }
    rc = setup(st, !readonly, (flags & IK_STORE_MANUAL_CHECKPOINT) != 0, err);
    /* an import acknowledged from its journal and not applied yet (the writer was killed):
     * every writer and reader of this connection must see it, so before anything else */
    if (rc == 0 && !readonly && !(flags & IK_STORE_KEEP_PENDING))
        rc = ik_store_apply_pending(st, NULL, err);
    if (rc != 0) {
        ik_error_prefix(err, rc, "%s", path);
        ik_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void ik_store_close(struct ik_store *st)
{
    if (st == NULL)
        return;
    sqlite3_finalize(st->upsert);
    sqlite3_finalize(st->remove);
    sqlite3_finalize(st->touch);
    sqlite3_finalize(st->bump);
    sqlite3_finalize(st->stamp);
    sqlite3_finalize(st->probe);
    sqlite3_finalize(st->log);
    sqlite3_finalize(st->next);
    for (size_t i = 0; i < sizeof st->cached / sizeof st->cached[0]; i++)
        sqlite3_finalize(st->cached[i]);
    sqlite3_close(st->db);
    free(st->dir);
    free(st);
}

int ik__begin(struct ik_store *st, struct ik_error *err)
{
    int rc;
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    if ((rc = exec(st, "BEGIN IMMEDIATE", "pins.db: begin", err)) != 0)
        return rc;
    /* no write over an import acknowledged from its journal and not applied yet: it is older,
     * and its rows are not in pins (import_journal.c applies it first) */
    if ((rc = ik__changes_begin(st, err)) != 0 ||
        (!st->applying && (rc = ik__pending_none(st, err)) != 0))
        ik__rollback(st);
    return rc;
}

/* Bulk imports in cid order insert into the vfs_path index at random places: over half of a
 * 1M-pin import's time, two thirds of a 10M one's (its pages no longer fit the page cache, so
 * they cycle through the WAL: 70 s of system time). CREATE INDEX instead sorts the entries
 * once and writes the tree in order: 10M sample pins 176 s -> 80 s, 1M 8.5 s -> 6 s.
 * It reads the whole table, so it pays only when the import brings at least as many paths as
 * the table already holds rows; below DEFER_MIN_ROWS the index inserts take milliseconds and a
 * schema change (every connection then prepares its statements again) is not worth it. */
#define DEFER_MIN_ROWS 10000

int ik__defer_vfs_index(struct ik_store *st, int64_t rows, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int64_t have = rows;
    int rc;
    if (rows < DEFER_MIN_ROWS || st->vfs_index_deferred)
        return 0;
    rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM (SELECT 1 FROM pins LIMIT ?1)", -1, &s,
                            NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, rows);
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            have = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: count", err);
    if (have >= rows)
        return 0;
    if ((rc = exec(st, "DROP INDEX IF EXISTS pins_vfs_path", "pins.db: vfs_path index", err)) != 0)
        return rc;
    st->vfs_index_deferred = true;
    return 0;
}

static int commit(struct ik_store *st, bool bump, struct ik_error *err)
{
    int rc;
    if (st->vfs_index_deferred) {
        st->vfs_index_deferred = false;
        /* one helper thread for the sort: 10M pins, 20 s -> 15 s */
        sqlite3_exec(st->db, "PRAGMA threads = 1", NULL, NULL, NULL);
        rc = exec(st, VFS_INDEX_SQL, "pins.db: vfs_path index", err);
        sqlite3_exec(st->db, "PRAGMA threads = 0", NULL, NULL, NULL);
        if (rc != 0)
            return rc;
    }
    if (bump) {
        rc = sqlite3_step(st->bump);
        sqlite3_reset(st->bump);
        if (rc != SQLITE_DONE)
            return ik__sql_error(st, rc, "pins.db: generation", err);
        if ((rc = ik__changes_stamp(st, err)) != 0)
            return rc;
        ik__stop_point("commit");
    }
    if ((rc = exec(st, "COMMIT", "pins.db: commit", err)) != 0)
        return rc;
    if (st->manual_checkpoint && st->wal_frames * st->page_size >= WAL_CAP_BYTES)
        (void)ik_store_checkpoint(st, NULL); /* committed; a failure here is retried later */
    return 0;
}

int ik__commit(struct ik_store *st, struct ik_error *err)
{
    return commit(st, true, err);
}

int ik__commit_applied(struct ik_store *st, struct ik_error *err)
{
    return commit(st, false, err);
}

int ik_store_checkpoint_now(struct ik_store *st, int64_t *copied, struct ik_error *err)
{
    int log = 0, done = 0, rc;
    if (copied)
        *copied = -1;
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_BUSY)
        return 0; /* another connection is checkpointing */
    if (rc != SQLITE_OK)
        return ik__sql_error(st, rc, "pins.db: checkpoint", err);
    if (done == log)
        st->wal_frames = 0;
    if (copied)
        *copied = done;
    return 0;
}

int ik_store_checkpoint(struct ik_store *st, struct ik_error *err)
{
    if (!st->readonly && st->manual_checkpoint && st->wal_frames < CHECKPOINT_FRAMES)
        return 0;
    return ik_store_checkpoint_now(st, NULL, err);
}

int64_t ik_store_wal_pages(const struct ik_store *st)
{
    return st->manual_checkpoint ? st->wal_frames : 0;
}

void ik__rollback(struct ik_store *st)
{
    st->vfs_index_deferred = false;
    st->log_at_commit = false;
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Binds column c of r to parameter c + 1, or NULL when the row does not give it. A parameter
 * keeps its value across sqlite3_reset, so a NULL already bound is not bound again: a kubo row
 * gives 3 of 12 columns, and the 9 sqlite3_bind_null calls per row were ~2% of an import. */
static void bind_col(struct ik_store *st, const struct ik__row *r, int c)
{
    sqlite3_stmt *s = st->upsert;
    unsigned bit = 1u << c;
    bool str = ik__col_is_str(c);
    if (IK__HAS(r, c) && (!str || r->str[c].p != NULL)) {
        if (str)
            sqlite3_bind_text(s, c + 1, r->str[c].p, (int)r->str[c].n, SQLITE_STATIC);
        else
            sqlite3_bind_int64(s, c + 1, r->num[c]);
        st->upsert_nulls &= ~bit;
    } else if (!(st->upsert_nulls & bit)) {
        sqlite3_bind_null(s, c + 1);
        st->upsert_nulls |= bit;
    }
}

/* Every pin is stored under its canonical CID text, whichever way it came in (the one place
 * all of them pass): `B…` and `b…` are one pin, as are a CID's base64, base36 and base16
 * forms. The test costs a scan of the text; only other forms are parsed and formatted. */
static int bind_cid(struct ik_store *st, const struct ik__row *r, char *buf, size_t cap,
                    struct ik__span *key, struct ik_error *err)
{
    struct ik__span cid = r->str[IK__CID];
    size_t n;
    *key = cid;
    if (!ik__cid_needs_canonical(cid.p, cid.n))
        return 0;
    if ((n = ik_cid_canonical(cid.p, cid.n, buf, cap)) == 0)
        return ik_error_set(err, EINVAL, "invalid CID '%.*s'", (int)(cid.n > 64 ? 64 : cid.n),
                            cid.p);
    sqlite3_bind_text(st->upsert, IK__CID + 1, buf, (int)n, SQLITE_STATIC);
    key->p = buf;
    key->n = n;
    return 0;
}

int ik__upsert(struct ik_store *st, const struct ik__row *r, int64_t now, const char *backend,
               struct ik_error *err)
{
    sqlite3_stmt *s = st->upsert;
    char buf[IK_CID_MAX_TEXT + 1];
    struct ik__span key;
    bool existed = true; /* unless looked up: "may have existed" (see changes.c) */
    int rc, c;
    for (c = 0; c < IK__NCOLS; c++)
        bind_col(st, r, c);
    if ((rc = bind_cid(st, r, buf, sizeof buf, &key, err)) != 0)
        return rc;
    if (st->probe_existed && (rc = ik__changes_exists(st, key.p, key.n, &existed, err)) != 0)
        return rc;
    sqlite3_bind_int64(s, 13, now);
    sqlite3_bind_text(s, 14, backend ? backend : "ipfs", -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return ik__sql_error(st, rc, "pins.db: insert", err);
    st->upserted += sqlite3_changes64(st->db); /* before the log's own insert */
    if (st->log_at_commit)
        return 0;
    return ik__changes_log(st, key.p, key.n, existed, true, err);
}

/* Converts the public pin to a row: NULL strings, negative sizes / last access, a zero
 * timestamp and a zero access count are "not given". */
static void pin_to_row(const struct ik_pin *p, struct ik__row *r)
{
    memset(r, 0, sizeof *r);
#define S(col, v)                                                                                  \
    if ((v) != NULL)                                                                               \
    ik__row_str(r, col, v, strlen(v))
    S(IK__CID, p->cid);
    S(IK__NAME, p->name);
    S(IK__PIN_TYPE, p->pin_type);
    S(IK__METADATA, p->metadata);
    S(IK__BACKEND, p->backend);
    S(IK__VFS_PATH, p->vfs_path);
#undef S
    if (p->size_bytes >= 0)
        ik__row_num(r, IK__SIZE_BYTES, p->size_bytes);
    if (p->timestamp_us != 0)
        ik__row_num(r, IK__TIMESTAMP, p->timestamp_us);
    ik__row_num(r, IK__REPLICATION_FACTOR, p->replication_factor);
    ik__row_num(r, IK__VERIFIED, p->verified);
    if (p->last_access_us >= 0)
        ik__row_num(r, IK__LAST_ACCESS, p->last_access_us);
    if (p->access_count != 0)
        ik__row_num(r, IK__ACCESS_COUNT, p->access_count);
}

int ik_pin_check(const struct ik_pin *p, struct ik_error *err)
{
    struct ik__row r;
    if (p->cid == NULL)
        return ik_error_set(err, EINVAL, "a pin needs a CID");
    pin_to_row(p, &r);
    return ik__row_check(&r, err);
}

int ik_store_add(struct ik_store *st, const struct ik_pin *p, struct ik_error *err)
{
    struct ik__row r;
    int rc = ik_pin_check(p, err);
    if (rc != 0)
        return rc;
    pin_to_row(p, &r);
    if ((rc = ik__begin(st, err)) != 0)
        return rc;
    st->probe_existed = true; /* one pin: log exactly whether it is new */
    rc = ik__upsert(st, &r, ik__now_us(), "ipfs", err);
    st->probe_existed = false;
    if (rc == 0)
        rc = ik__commit(st, err);
    if (rc != 0)
        ik__rollback(st);
    return rc;
}

/* Runs a one-row change `s` (cid bound as ?1 by the caller) in its own transaction, logged
 * with the pin `present` after it; ENOENT when it changed nothing. */
static int change_one(struct ik_store *st, sqlite3_stmt *s, const char *cid, const char *key,
                      bool present, struct ik_error *err)
{
    int rc = ik__begin(st, err);
    if (rc != 0)
        return rc;
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        rc = ik__sql_error(st, rc, "pins.db", err);
    else if (sqlite3_changes(st->db) == 0)
        rc = ik_error_set(err, ENOENT, "no pin %.100s", cid);
    else if ((rc = ik__changes_log(st, key, strlen(key), true, present, err)) == 0)
        rc = ik__commit(st, err);
    if (rc != 0)
        ik__rollback(st);
    return rc;
}

/* Binds ?1 of `s` to the canonical form of `cid` (kept in buf), or to `cid` itself when it is
 * not a CID (then it names no pin, and the message quotes it as given). */
static const char *bind_lookup(sqlite3_stmt *s, const char *cid, char *buf, size_t cap)
{
    size_t n = ik_cid_canonical(cid, strlen(cid), buf, cap);
    sqlite3_bind_text(s, 1, n ? buf : cid, -1, SQLITE_STATIC);
    return n ? buf : cid; /* the key bound */
}

int ik_store_remove(struct ik_store *st, const char *cid, struct ik_error *err)
{
    char buf[IK_CID_MAX_TEXT + 1];
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    return change_one(st, st->remove, cid, bind_lookup(st->remove, cid, buf, sizeof buf), false,
                      err);
}

int ik_store_touch(struct ik_store *st, const char *cid, int64_t now_us, struct ik_error *err)
{
    char buf[IK_CID_MAX_TEXT + 1];
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    const char *key = bind_lookup(st->touch, cid, buf, sizeof buf);
    sqlite3_bind_int64(st->touch, 2, now_us ? now_us : ik__now_us());
    return change_one(st, st->touch, cid, key, true, err);
}

int64_t ik_store_count(struct ik_store *st)
{
    sqlite3_stmt *s = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM pins", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

int ik_store_generation(struct ik_store *st, uint64_t *gen, struct ik_error *err)
{
    int64_t v = 0;
    int rc = ik__meta_get(st, "generation", &v, err);
    if (rc == 0)
        *gen = (uint64_t)v;
    return rc;
}
