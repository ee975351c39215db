/* Import journals (docs/architecture.md "Imports are acknowledged from a journal"). The
 * daemon acknowledges an Arrow import into an empty table once its rows are checked, sorted
 * and written as a journal file, and a small transaction has committed its version with the
 * journal recorded as pending: SQLite's B-tree work for the rows (upserts, vfs_path index,
 * change log: ~0.35 s of a 100k-pin import here) happens after the reply, when the writer
 * applies the journal. The journal is an Arrow IPC file of the rows exactly as the table will
 * hold them (defaults filled, canonical CIDs, a CID given twice merged, cid order), so the
 * apply's upserts into the (still empty) table leave what ik_store_import would have left.
 *
 * Durability is the store's: the journal is written with write() and not fsynced, like the
 * WAL frames of any commit (WAL, synchronous=NORMAL). After a kill -9 the page cache has both;
 * the pending record is committed only after the whole journal was written, and records its
 * size and a checksum, so a journal that is missing, torn or altered is an error naming it
 * and its version, never a silently dropped import. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/arrow.h"
#include "ipfskit/config.h"
#include "ipfskit/schemas.h"
#include "store/store_internal.h"

#define JOURNAL_DIR "journal"

static const char *const pending_sql =
    "CREATE TABLE IF NOT EXISTS pending_imports("
    " version INTEGER PRIMARY KEY," /* the version the import committed */
    " file TEXT NOT NULL,"          /* relative to the data directory */
    " rows INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " checksum INTEGER NOT NULL)";

int ik__pending_setup(struct ik_store *st, struct ik_error *err)
{
    int rc = sqlite3_exec(st->db, pending_sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : ik__sql_error(st, rc, "pins.db: pending imports", err);
}

/* A 64-bit checksum of the journal's bytes, computed as they stream by: four lanes of
 * multiply-xor over 8-byte words (~0.3 cycles a byte: an 18 MB journal in ~3 ms), then the
 * lanes and the tail mixed. It finds torn and altered files; it is not a defence against a
 * forger (who could also edit pins.db). */
struct sum {
    uint64_t h[4], total;
    uint8_t carry[32];
    size_t nc;
};

static void sum_init(struct sum *s)
{
    memset(s, 0, sizeof *s);
    for (int j = 0; j < 4; j++)
        s->h[j] = (uint64_t)j + 1;
}

static void sum_block(struct sum *s, const uint8_t *p)
{
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    uint64_t w;
    for (int j = 0; j < 4; j++) {
        memcpy(&w, p + 8 * j, 8);
        s->h[j] = (s->h[j] ^ w) * k;
        s->h[j] ^= s->h[j] >> 29;
    }
}

static void sum_update(struct sum *s, const uint8_t *p, size_t n)
{
    s->total += n;
    if (s->nc > 0) {
        size_t take = 32 - s->nc < n ? 32 - s->nc : n;
        memcpy(s->carry + s->nc, p, take);
        s->nc += take;
        p += take;
        n -= take;
        if (s->nc < 32)
            return;
        sum_block(s, s->carry);
        s->nc = 0;
    }
    for (; n >= 32; p += 32, n -= 32)
        sum_block(s, p);
    memcpy(s->carry, p, n);
    s->nc = n;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static uint64_t sum_final(const struct sum *s)
{
    uint64_t t = 0;
    for (size_t i = 0; i < s->nc; i++)
        t = (t << 8 | s->carry[i]) * 31 + i;
    return mix(mix(s->h[0]) ^ mix(s->h[1] + 1) ^ mix(s->h[2] + 2) ^ mix(s->h[3] + 3) ^
               mix(t + s->total));
}

static uint64_t checksum(const uint8_t *p, size_t n)
{
    struct sum s;
    sum_init(&s);
    sum_update(&s, p, n);
    return sum_final(&s);
}

/* ---- writing ----------------------------------------------------------------------------- */

/* The IPC writer's bytes to the journal file through the library's file sink (small pieces
 * staged, large ones written from where they lie), summed on the way. */
struct out {
    struct ik__fd_sink sink;
    struct sum sum;
};

static int to_file(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct out *o = ctx;
    sum_update(&o->sum, data, len);
    return ik__fd_sink_write(&o->sink, data, len, err);
}

/* Encodes the rows as an Arrow IPC file into fd: *bytes and *sum of what it wrote. */
static int encode(const struct ArrowSchema *schema, const struct ArrowArray *rows, int fd,
                  uint64_t *bytes, uint64_t *sum, struct ik_error *err)
{
    struct ik_write_options opt;
    struct ik_ipc_writer *w = NULL;
    struct out o;
    int rc;
    if (ik__fd_sink_init(&o.sink, fd, false) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    sum_init(&o.sum);
    ik_write_options_init(&opt);
    opt.format = IK_IPC_FILE;
    if ((rc = ik_ipc_writer_create(schema, &opt, to_file, &o, &w, err)) == 0 &&
        (rc = ik_ipc_writer_write(w, rows, err)) == 0 && (rc = ik_ipc_writer_finish(w, err)) == 0)
        rc = ik__fd_sink_flush(&o.sink, err);
    ik_ipc_writer_destroy(w);
    ik__fd_sink_reset(&o.sink);
    *bytes = o.sum.total;
    *sum = sum_final(&o.sum);
    return rc;
}

/* The journal directory, made 0700 when missing; a link or a non-directory there is refused. */
static int open_dir(const char *dir, bool make, struct ik_error *err)
{
    char path[4096];
    int fd;
    if (snprintf(path, sizeof path, "%s/" JOURNAL_DIR, dir) >= (int)sizeof path)
        return -ik_error_set(err, ENAMETOOLONG, "data directory path too long");
    if (make && mkdir(path, 0700) != 0 && errno != EEXIST)
        return -ik_error_set(err, errno, "cannot create %s: %s", path, strerror(errno));
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP || e == ENOTDIR)
            return -ik_error_set(err, ELOOP,
                                 "%s is not a directory (or is a symbolic link): refused (files "
                                 "in the data directory are never followed through links; "
                                 "remove it)",
                                 path);
        return -ik_error_set(err, e, "%s: %s", path, strerror(e));
    }
    return fd;
}

/* Writes the rows as journal/<name>, new (O_EXCL: never over a file or through a link planted
 * there); *bytes and *sum of it. Removed again on failure. The file is a snapshot of pin_index
 * at `version` (its schema's metadata says so) and read-only (0400) like one: the daemon links
 * it into snapshots/ as the version's base segment instead of writing the rows a second time
 * (ik_segset_link_base). */
static int write_journal(const char *dir, const char *name, uint64_t version,
                         const struct ArrowArray *rows, uint64_t *bytes, uint64_t *sum,
                         struct ik_error *err)
{
    struct ArrowSchema schema;
    int dfd, fd, rc;
    if ((rc = ik_table_snapshot_schema("pin_index", version, &schema, err)) != 0)
        return rc;
    if ((dfd = open_dir(dir, true, err)) < 0) {
        schema.release(&schema);
        return -dfd;
    }
    fd = ik__open_nofollow(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0400, err);
    if (fd < 0) {
        rc = errno == EEXIST ? ik_error_set(err, EEXIST,
                                            "import journal %s/" JOURNAL_DIR "/%s already exists "
                                            "(nothing committed; a file the daemon did not "
                                            "write: remove it)",
                                            dir, name)
                             : ik_error_prefix(err, errno, "import journal");
        close(dfd);
        schema.release(&schema);
        return rc;
    }
    rc = encode(&schema, rows, fd, bytes, sum, err);
    schema.release(&schema);
    if (rc != 0) {
        char why[IK_ERROR_SIZE];
        snprintf(why, sizeof why, "%s", err->message[0] ? err->message : strerror(rc));
        ik_error_set(err, rc,
                     "writing import journal %s/" JOURNAL_DIR "/%s: %s (nothing committed)", dir,
                     name, rc < 1000 && !err->message[0] ? strerror(rc) : why);
        unlinkat(dfd, name, 0);
    }
    close(fd);
    close(dfd);
    return rc;
}

int ik_store_journal_open(struct ik_store *st, uint64_t version)
{
    char name[64];
    int dfd = open_dir(st->dir, false, NULL), fd;
    if (dfd < 0)
        return -1;
    snprintf(name, sizeof name, "import.%llu.arrow", (unsigned long long)version);
    fd = ik__open_nofollow(dfd, name, O_RDONLY, 0, NULL);
    close(dfd);
    return fd;
}

static int record(struct ik_store *st, uint64_t version, const char *file, int64_t rows,
                  uint64_t bytes, uint64_t sum, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "INSERT INTO pending_imports VALUES(?1, ?2, ?3, ?4, ?5)",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, (int64_t)version);
        sqlite3_bind_text(s, 2, file, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, rows);
        sqlite3_bind_int64(s, 4, (int64_t)bytes);
        sqlite3_bind_int64(s, 5, (int64_t)sum);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: pending import", err);
}

int ik__journal_finish(struct ik__sink *s, int rc, struct ik__given *g, const char *dir,
                       struct ArrowSchema *schema_out, struct ArrowArray *rows_out,
                       uint64_t *pending, struct ik_error *err)
{
    struct ik_store *st = s->st;
    uint64_t bytes = 0, sum = 0;
    char name[64], file[80];
    bool written = false;
    uint64_t version = (uint64_t)st->log_version;
    *pending = 0;
    rows_out->release = NULL;
    snprintf(name, sizeof name, "import.%llu.arrow", (unsigned long long)version);
    snprintf(file, sizeof file, JOURNAL_DIR "/%s", name);
    if (rc == 0 && ik__given_finish(g, schema_out, rows_out) != 0) {
        rows_out->release = NULL;
        rc = ik_error_set(err, ENOMEM, "import: out of memory for the rows (nothing committed)");
    }
    if (rc == 0 && rows_out->length > s->res->imported) /* merged twins make fewer, not more */
        rc = ik_error_set(err, EIO, "import: %lld rows built from %lld (nothing committed)",
                          (long long)rows_out->length, (long long)s->res->imported);
    if (rc == 0 && (rc = write_journal(dir, name, version, rows_out, &bytes, &sum, err)) == 0)
        written = true;
    if (rc == 0) {
        ik__stop_point("import-journal"); /* written, not recorded: not acknowledged */
        rc = record(st, version, file, rows_out->length, bytes, sum, err);
    }
    st->log_at_commit = false; /* the apply logs the rows */
    if (rc == 0)
        rc = ik__commit(st, err);
    if (rc != 0) {
        ik__rollback(st);
        s->res->imported = 0;
        if (written) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", dir, file);
            unlink(path);
        }
        if (rows_out->release) {
            rows_out->release(rows_out);
            schema_out->release(schema_out);
            rows_out->release = NULL;
        }
    } else {
        *pending = version;
    }
    return rc;
}

/* ---- applying ---------------------------------------------------------------------------- */

struct pending {
    uint64_t version;
    char file[256];
    int64_t rows, bytes;
    uint64_t sum;
};

/* The oldest pending import into *p; ENOENT when none (or no table: a store never written by
 * a version that journals). */
static int oldest(struct ik_store *st, struct pending *p, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT version, file, rows, bytes, checksum FROM pending_imports"
                                " ORDER BY version LIMIT 1",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) {
        bool none = sqlite3_errmsg(st->db) && strstr(sqlite3_errmsg(st->db), "no such table");
        sqlite3_finalize(s);
        return none ? ENOENT : ik__sql_error(st, rc, "pins.db: pending imports", err);
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *f = (const char *)sqlite3_column_text(s, 1);
        p->version = (uint64_t)sqlite3_column_int64(s, 0);
        snprintf(p->file, sizeof p->file, "%s", f ? f : "");
        p->rows = sqlite3_column_int64(s, 2);
        p->bytes = sqlite3_column_int64(s, 3);
        p->sum = (uint64_t)sqlite3_column_int64(s, 4);
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? ENOENT : ik__sql_error(st, rc, "pins.db: pending imports", err);
}

int ik_store_pending(struct ik_store *st, uint64_t *version, struct ik_error *err)
{
    struct pending p;
    int rc = oldest(st, &p, err);
    *version = rc == 0 ? p.version : 0;
    return rc == ENOENT ? 0 : rc;
}

int ik__pending_none(struct ik_store *st, struct ik_error *err)
{
    sqlite3_stmt *s = NULL;
    int64_t v = 0;
    int rc;
    /* a store no journalling version wrote has no table: nothing pending (not cached then) */
    if (st->cached[IK__S_PENDING] == NULL &&
        sqlite3_prepare_v3(st->db, "SELECT version FROM pending_imports ORDER BY version LIMIT 1",
                           -1, SQLITE_PREPARE_PERSISTENT, &st->cached[IK__S_PENDING],
                           NULL) != SQLITE_OK)
        return 0;
    s = st->cached[IK__S_PENDING];
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ik__sql_error(st, rc, "pins.db: pending imports", err);
    if (v == 0)
        return 0;
    return ik_error_set(err, EBUSY,
                        "version %lld is an import acknowledged from its journal and not yet "
                        "applied to pins.db (the writer applies it next)",
                        (long long)v);
}

/* The journal's bytes, checked against its record. */
static int load(struct ik_store *st, const struct pending *p, uint8_t **out, struct ik_error *err)
{
    char path[4400];
    struct stat sb;
    char *bytes = NULL;
    int fd, rc;
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", st->dir, p->file);
    if (strncmp(p->file, JOURNAL_DIR "/", sizeof JOURNAL_DIR) != 0 || strstr(p->file, "..")) {
        return ik_error_set(err, IK_EFORMAT,
                            "import journal '%s' of version %llu: not a name the daemon writes "
                            "(pins.db altered?)",
                            p->file, (unsigned long long)p->version);
    }
    fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, NULL);
    if (fd < 0) {
        int e = errno;
        return ik_error_set(err, IK_EFORMAT, /* not ENOENT: that is "no store" to callers */
                            "import journal %s of version %llu (%lld pins, acknowledged): %s", path,
                            (unsigned long long)p->version, (long long)p->rows,
                            e == ENOENT ? "missing" : strerror(e));
    }
    if (fstat(fd, &sb) != 0 || sb.st_size != p->bytes) {
        close(fd);
        return ik_error_set(err, IK_EFORMAT,
                            "import journal %s of version %llu (%lld pins, acknowledged): %lld "
                            "bytes, %lld recorded (truncated or altered)",
                            path, (unsigned long long)p->version, (long long)p->rows,
                            (long long)sb.st_size, (long long)p->bytes);
    }
    rc = ik__read_all(fd, (size_t)p->bytes, &bytes);
    close(fd);
    if (rc != 0)
        return ik_error_set(
            err, rc == ENODATA ? IK_EFORMAT : rc, "import journal %s of version %llu: %s", path,
            (unsigned long long)p->version, rc == ENODATA ? "shorter than recorded" : strerror(rc));
    if (checksum((const uint8_t *)bytes, (size_t)p->bytes) != p->sum) {
        free(bytes);
        return ik_error_set(err, IK_EFORMAT,
                            "import journal %s of version %llu (%lld pins, acknowledged): checksum "
                            "mismatch (torn or altered)",
                            path, (unsigned long long)p->version, (long long)p->rows);
    }
    *out = (uint8_t *)bytes;
    return 0;
}

/* Deletes the pending record of `version`: SQLite's result code (SQLITE_DONE when done). */
static int unrecord(struct ik_store *st, uint64_t version)
{
    sqlite3_stmt *q = NULL;
    int rc =
        sqlite3_prepare_v2(st->db, "DELETE FROM pending_imports WHERE version = ?1", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, (int64_t)version);
        rc = sqlite3_step(q);
    }
    sqlite3_finalize(q);
    return rc;
}

/* Applies one journal in the transaction the caller began (its version is `p->version`). */
static int apply_one(struct ik_store *st, const struct pending *p, const uint8_t *bytes,
                     struct ik_error *err)
{
    struct ik_import_options o;
    struct ik_import_result res = {0};
    struct ik__sink s = {0};
    struct ik_buffer *buf = NULL;
    struct ArrowArrayStream stream;
    sqlite3_stmt *q = NULL;
    int rc;
    ik_import_options_init(&o);
    s.st = st;
    s.opts = &o;
    s.res = &res;
    s.now = ik__now_us(); /* unused: every row gives every column */
    s.changes0 = st->upserted;
    st->log_version = (int64_t)p->version; /* the rows belong to the version acknowledged */
    /* the table as the journal found it: empty, unless a store was edited meanwhile by a writer
     * that does not know journals; then every row is logged as "may have existed" */
    rc = sqlite3_prepare_v2(st->db, "SELECT 1 FROM pins LIMIT 1", -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ik__sql_error(st, rc, "pins.db", err);
    st->log_at_commit = rc == SQLITE_DONE;
    if ((rc = ik_buffer_wrap(bytes, (size_t)p->bytes, NULL, NULL, &buf)) != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    rc = ik_ipc_open_stream(buf, NULL, &stream, NULL, err);
    ik_buffer_unref(buf);
    if (rc == 0) {
        rc = ik__import_arrow_stream(&s, &stream, err);
        stream.release(&stream);
    }
    if (rc == 0 && (res.imported != p->rows || st->upserted - s.changes0 != p->rows))
        rc = ik_error_set(err, IK_EFORMAT, "%lld rows applied, %lld recorded",
                          (long long)res.imported, (long long)p->rows);
    if (rc == 0 && st->log_at_commit)
        rc = ik__changes_log_new(st, err);
    st->log_at_commit = false;
    if (rc != 0)
        return ik_error_prefix(err, rc == ENOMEM ? ENOMEM : IK_EFORMAT,
                               "import journal %s/%s of version %llu", st->dir, p->file,
                               (unsigned long long)p->version);
    rc = unrecord(st, p->version);
    return rc == SQLITE_DONE ? 0 : ik__sql_error(st, rc, "pins.db: pending imports", err);
}

/* The way out named in the error of a journal that cannot be applied: the exact command, with
 * the data directory absolute (the daemon opens "." after its chdir) and quoted for a shell
 * when it needs to be. */
static void drop_hint(const char *dir, const struct pending *p, struct ik_error *err)
{
    char *abs = realpath(dir, NULL);
    const char *d = abs ? abs : dir;
    bool plain = strspn(d, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,"
                           ":@%") == strlen(d);
    size_t n = strlen(err->message);
    if (n < sizeof err->message)
        snprintf(err->message + n, sizeof err->message - n,
                 "; the import cannot be applied and nothing is dropped: restore the file (or "
                 "the store from a backup), or give the import up (its %lld pins are lost) with: "
                 "ipfs-kit --path %s%s%s pin drop-import %llu",
                 (long long)p->rows, plain ? "" : "'", d, plain ? "" : "'",
                 (unsigned long long)p->version);
    free(abs);
}

int ik_store_apply_pending(struct ik_store *st, int *applied, struct ik_error *err)
{
    struct pending p;
    int rc, n = 0;
    if (applied)
        *applied = 0;
    if (st->readonly)
        return ik_error_set(err, EINVAL, "the store is open read-only");
    for (;;) {
        uint8_t *bytes = NULL;
        char path[4400];
        /* outside a transaction first: most opens find nothing and begin none */
        if ((rc = oldest(st, &p, err)) == ENOENT)
            break;
        if (rc != 0)
            return rc;
        st->applying = true;
        rc = ik__begin(st, err);
        st->applying = false;
        if (rc != 0)
            return rc;
        if ((rc = oldest(st, &p, err)) == ENOENT) { /* another connection applied it */
            ik__rollback(st);
            continue;
        }
        if (rc == 0)
            rc = load(st, &p, &bytes, err);
        if (rc == 0)
            rc = apply_one(st, &p, bytes, err);
        if (rc == 0) {
            ik__stop_point("import-apply-commit"); /* rows written, not committed */
            rc = ik__commit_applied(st, err);
        }
        free(bytes);
        if (rc != 0) {
            ik__rollback(st);
            sqlite3_db_release_memory(st->db);
            if (rc == IK_EFORMAT)
                drop_hint(st->dir, &p, err);
            return rc;
        }
        sqlite3_db_release_memory(st->db);
        ik__stop_point("import-unlink"); /* applied and committed, the file still there */
        snprintf(path, sizeof path, "%s/%s", st->dir, p.file);
        unlink(path); /* a leftover (a crash here) is removed at the daemon's next start */
        n++;
    }
    if (applied)
        *applied = n;
    return 0;
}

int ik_store_recover(const char *dir, struct ik_error *err)
{
    struct ik_store *st = NULL;
    uint64_t v = 0;
    long pid = 0;
    int rc = ik_store_open(dir, IK_STORE_READONLY, &st, err);
    if (rc == ENOENT)
        return 0;
    if (rc == 0)
        rc = ik_store_pending(st, &v, err);
    ik_store_close(st);
    if (rc != 0 || v == 0)
        return rc;
    if (ik_lock_holder(dir, &pid) == 0)
        return 0; /* a daemon (or a direct writer) holds the store: it applies it */
    if ((rc = ik_store_open(dir, 0, &st, err)) == 0) /* applies every pending import */
        ik_store_close(st);
    return rc;
}

int ik_store_await_applied(const char *dir, int timeout_ms, struct ik_error *err)
{
    double deadline = ik_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        struct ik_store *st = NULL;
        uint64_t v = 0;
        struct timespec ts = {0, 2000000}; /* the daemon applies right after its publish */
        int rc = ik_store_recover(dir, err);
        if (rc == 0 && (rc = ik_store_open(dir, IK_STORE_READONLY, &st, err)) == 0)
            rc = ik_store_pending(st, &v, err);
        ik_store_close(st);
        if (rc != 0 || v == 0)
            return rc == ENOENT ? 0 : rc;
        if (ik_now_ms() >= deadline)
            return ik_error_set(err, EBUSY,
                                "the store's version %llu is an import its daemon has not applied "
                                "to pins.db yet (waited %d ms); ask the daemon, or try again",
                                (unsigned long long)v, timeout_ms);
        nanosleep(&ts, NULL);
    }
}

/* Removes journal files no pending record names: written by an import killed before its
 * commit (never acknowledged), or applied and committed but not yet removed. The daemon calls
 * it at start, with the lock held, after its writable open applied every pending one. */
int ik_store_journal_clean(struct ik_store *st, int *removed, struct ik_error *err)
{
    struct dirent *e;
    sqlite3_stmt *q = NULL;
    DIR *d;
    int dfd, rc = 0;
    *removed = 0;
    if ((dfd = open_dir(st->dir, false, err)) < 0)
        return -dfd == ENOENT ? 0 : -dfd;
    if ((d = fdopendir(dfd)) == NULL) {
        close(dfd);
        return ik_error_set(err, errno, "%s/" JOURNAL_DIR ": %s", st->dir, strerror(errno));
    }
    if ((rc = sqlite3_prepare_v2(st->db, "SELECT 1 FROM pending_imports WHERE file = ?1", -1, &q,
                                 NULL)) != SQLITE_OK) {
        closedir(d);
        return ik__sql_error(st, rc, "pins.db: pending imports", err);
    }
    rc = 0;
    while ((e = readdir(d)) != NULL) {
        char file[300];
        int step;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(file, sizeof file, JOURNAL_DIR "/%s", e->d_name);
        sqlite3_bind_text(q, 1, file, -1, SQLITE_TRANSIENT);
        step = sqlite3_step(q);
        sqlite3_reset(q);
        if (step == SQLITE_ROW)
            continue; /* pending: kept */
        if (step != SQLITE_DONE) {
            rc = ik__sql_error(st, step, "pins.db: pending imports", err);
            break;
        }
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            (*removed)++;
    }
    sqlite3_finalize(q);
    closedir(d);
    return rc;
}

/* ---- giving one up ----------------------------------------------------------------------- */

/* Whether the pending import `p` could be applied: its journal loaded and its rows applied in a
 * transaction rolled back at once. 0 when it could (then it must not be dropped). */
static int try_apply(struct ik_store *st, const struct pending *p, struct ik_error *err)
{
    uint8_t *bytes = NULL;
    int rc;
    st->applying = true;
    rc = ik__begin(st, err);
    st->applying = false;
    if (rc != 0)
        return rc;
    if ((rc = load(st, p, &bytes, err)) == 0)
        rc = apply_one(st, p, bytes, err);
    free(bytes);
    ik__rollback(st);
    sqlite3_db_release_memory(st->db);
    return rc;
}

static int drop_locked(struct ik_store *st, uint64_t version, struct ik_dropped_import *out,
                       struct ik_error *err)
{
    struct pending p;
    struct ik_error why = {0};
    char path[4400], floor_sql[128];
    int rc, dfd;
    if ((rc = oldest(st, &p, err)) == ENOENT)
        return ik_error_set(err, ENOENT, "no import is pending in %s: nothing to drop", st->dir);
    if (rc != 0)
        return rc;
    if (p.version != version)
        return ik_error_set(err, EINVAL,
                            "version %llu is not a pending import; the pending import is version "
                            "%llu (%lld pins, journal %s)",
                            (unsigned long long)version, (unsigned long long)p.version,
                            (long long)p.rows, p.file);
    rc = try_apply(st, &p, &why);
    if (rc == 0)
        return ik_error_set(err, EEXIST,
                            "the journal of version %llu (%s, %lld pins) is present and valid: "
                            "nothing needs to be dropped; it is applied by the next start of the "
                            "daemon (ipfs-kit daemon start) or any direct command",
                            (unsigned long long)version, p.file, (long long)p.rows);
    if (rc != IK_EFORMAT)
        return ik_error_set(err, rc, "%s", why.message); /* not the journal's fault: kept */
    /* one transaction: the record gone, a new version past the lost one, and the change log's
     * floor at that version (since any older one: gone, re-read the table) */
    st->applying = true;
    rc = ik__begin(st, err); /* log_version: the version this commit makes */
    st->applying = false;
    if (rc != 0)
        return rc;
    rc = unrecord(st, p.version);
    rc = rc == SQLITE_DONE && sqlite3_changes(st->db) == 1
             ? 0
             : ik__sql_error(st, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "pins.db: pending imports",
                             err);
    snprintf(floor_sql, sizeof floor_sql,
             "UPDATE meta SET value = %lld WHERE key = 'changes_floor'",
             (long long)st->log_version);
    if (rc == 0 && (rc = sqlite3_exec(st->db, floor_sql, NULL, NULL, NULL)) != SQLITE_OK)
        rc = ik__sql_error(st, rc, "pins.db: change log", err);
    out->new_version = (uint64_t)st->log_version;
    if (rc == 0)
        rc = ik__commit(st, err);
    if (rc != 0) {
        ik__rollback(st);
        return rc;
    }
    out->version = p.version;
    snprintf(out->why, sizeof out->why, "%.*s", (int)sizeof out->why - 1, why.message);
    out->rows = p.rows;
    out->bytes = p.bytes;
    /* only the name the daemon writes for that version: a record altered to name another
     * file (journal/../pins.db) never has it removed */
    snprintf(path, sizeof path, JOURNAL_DIR "/import.%llu.arrow", (unsigned long long)p.version);
    if (strcmp(path, p.file) == 0 && (dfd = open_dir(st->dir, false, &why)) >= 0) {
        /* a link there: the link goes, not its target; a linked directory is not opened */
        out->journal_removed = unlinkat(dfd, path + sizeof JOURNAL_DIR, 0) == 0;
        close(dfd);
    }
    return 0;
}

int ik_store_drop_import(const char *dir, uint64_t version, struct ik_dropped_import *out,
                         struct ik_error *err)
{
    struct ik_store *st = NULL;
    long pid = 0;
    int lock_fd = -1, rc;
    char db[4200];
    struct stat sb;
    memset(out, 0, sizeof *out);
    snprintf(db, sizeof db, "%s/pins.db", dir);
    if (lstat(db, &sb) != 0)
        return ik_error_set(err, ENOENT, "no store at %s: nothing to drop", db);
    /* this process is the store's writer: the daemon's rules for the directory apply */
    if ((rc = ik_data_dir_check(dir, NULL, err)) != 0)
        return rc;
    if ((rc = ik_lock_acquire(dir, &lock_fd, &pid, err)) != 0) {
        if (rc == IK_ELOCKED)
            ik_error_set(err, IK_ELOCKED,
                         "the store %s is held by PID %ld (a running daemon or a direct writer): "
                         "nothing dropped; stop it first (ipfs-kit daemon stop)",
                         dir, pid);
        return rc;
    }
    if ((rc = ik_store_open(dir, IK_STORE_KEEP_PENDING, &st, err)) == 0)
        rc = drop_locked(st, version, out, err);
    ik_store_close(st);
    ik_lock_release(lock_fd, dir);
    return rc;
}
