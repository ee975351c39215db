/* Internals of the pin store shared by its files (store.c, pin.c, import*.c, store_read.c):
 * the store handle, the pin row as parsers produce it (spans into the input, with a mask of the
 * columns the input gave), its validation, and the prepared upsert. Not public API. */
#ifndef IK_STORE_INTERNAL_H
#define IK_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/error.h"
#include "ipfskit/store.h"

/* pin_index columns, in schema order; also the SQL column order of the pins table. */
enum ik__col {
    IK__CID,
    IK__NAME,
    IK__SIZE_BYTES,
    IK__PIN_TYPE,
    IK__TIMESTAMP,
    IK__METADATA,
    IK__BACKEND,
    IK__REPLICATION_FACTOR,
    IK__VERIFIED,
    IK__LAST_ACCESS,
    IK__VFS_PATH,
    IK__ACCESS_COUNT,
    IK__NCOLS
};

/* Whether column c holds text (cid, name, pin_type, metadata, backend, vfs_path); the others
 * hold integers. */
static inline bool ik__col_is_str(int c)
{
    return c == IK__CID || c == IK__NAME || c == IK__PIN_TYPE || c == IK__METADATA ||
           c == IK__BACKEND || c == IK__VFS_PATH;
}

extern const char *const ik__col_names[IK__NCOLS];
/* Column index for a pin_index column name of `len` bytes, or -1. */
int ik__col_find(const char *name, size_t len);

struct ik__span {
    const char *p; /* not NUL-terminated */
    size_t n;
};

/* One pin as read from any input. A column whose bit is not in `given` was not in the input: an
 * insert takes the default, an update keeps the stored value. */
struct ik__row {
    unsigned given;                 /* 1u << enum ik__col */
    struct ik__span str[IK__NCOLS]; /* cid, name, pin_type, metadata, backend, vfs_path */
    int64_t num[IK__NCOLS];         /* size_bytes, timestamp, rf, verified, last_access, count */
};

#define IK__HAS(r, c) (((r)->given >> (c)) & 1u)

static inline void ik__row_str(struct ik__row *r, int c, const char *p, size_t n)
{
    r->given |= 1u << c;
    r->str[c].p = p;
    r->str[c].n = n;
}

static inline void ik__row_num(struct ik__row *r, int c, int64_t v)
{
    r->given |= 1u << c;
    r->num[c] = v;
}

/* Validates a row (CID, pin type, metadata JSON object, vfs path, numbers); EINVAL with the
 * reason, e.g. "invalid CID 'Qmx': CIDv0 must be 46 characters". */
int ik__row_check(const struct ik__row *r, struct ik_error *err);
/* Whether p[0..n) is certainly a JSON object jansson accepts (false: not sure; ask jansson). */
bool ik__json_object_plain(const char *p, size_t n);

/* Parses "true"/"false"/"1"/"0" (-1 if neither), and an RFC 3339 time or an integer count of
 * microseconds into *us (EINVAL on anything else). */
int ik__parse_bool(const char *s, size_t n);
int ik__parse_time(const char *s, size_t n, int64_t *us);
int ik__parse_int(const char *s, size_t n, int64_t *v);

int64_t ik__now_us(void);

struct ik_store {
    sqlite3 *db;
    bool readonly;
    bool manual_checkpoint; /* IK_STORE_MANUAL_CHECKPOINT */
    int wal_frames;         /* frames in the WAL after the last commit (manual checkpoints) */
    int64_t page_size;
    bool vfs_index_deferred; /* dropped in this transaction, built again by ik__commit */
    sqlite3_stmt *upsert;
    unsigned upsert_nulls; /* upsert parameters bound to NULL (1u << column) */
    sqlite3_stmt *remove;
    sqlite3_stmt *touch;
    sqlite3_stmt *bump;
    /* the change log (changes.c) */
    sqlite3_stmt *stamp;      /* change_versions row of the committing version */
    sqlite3_stmt *probe;      /* is a cid in pins? */
    sqlite3_stmt *log;        /* one changes row */
    sqlite3_stmt *next;       /* the version this transaction commits */
    int64_t log_version;      /* set by ik__begin */
    bool probe_existed;       /* ik__upsert looks up whether the pin is new (ik_store_add) */
    bool log_at_commit;       /* an import into an empty table: ik__upsert logs nothing, the import
                                 logs every row at once before its commit (ik__changes_log_new) */
    int64_t upserted;         /* pins rows changed by ik__upsert (SQLite's count), ever */
    sqlite3_stmt *cached[16]; /* ik__stmt: statements of every call, prepared on first use */
    char *dir;                /* the data directory (import journals live in dir/journal) */
    bool applying;            /* ik_store_apply_pending's transaction (ik__begin lets it in) */
    int64_t trim_chunk;       /* changes.c: log rows the next trim deletes (0: not set yet) */
};

/* Statements run on every write or every snapshot build, prepared once per connection (a
 * prepare costs as much as the query: ~10% of the daemon's CPU under single writes). */
enum ik__stmt_id {
    IK__S_META,          /* store.c: a meta value by key */
    IK__S_TRIM_AGE,      /* changes.c */
    IK__S_TRIM_LEFT,     /* changes.c */
    IK__S_CHANGED_COUNT, /* seglog.c */
    IK__S_CHANGED_PINS,  /* read_pins.c */
    IK__S_DELETED,       /* seglog.c */
    IK__S_TAIL_COUNT,    /* change_tail.c */
    IK__S_TAIL,          /* change_tail.c */
    IK__S_PENDING,       /* import_journal.c */
    IK__S_N
};

/* The integer meta value `key` (EIO when there is none). */
int ik__meta_get(struct ik_store *st, const char *key, int64_t *v, struct ik_error *err);

/* The statement `which`, whose text is `sql` at every call, prepared on its first use; the
 * caller resets it (and clears its bindings) after each use, and never finalizes it. */
int ik__stmt(struct ik_store *st, int which, const char *sql, sqlite3_stmt **out,
             struct ik_error *err);

/* The change log of an import into a table that was empty when its transaction began: every
 * row now in pins is new in this version (existed 0, present 1), written by one INSERT ... SELECT
 * instead of a logged insert per row. */
int ik__changes_log_new(struct ik_store *st, struct ik_error *err);

/* The change tail's fill (change_tail.c), inside the builder's read transaction: the log
 * after the tail's newest version (or after `since` when the log, which starts after `floor`,
 * no longer reaches back to it) up to `generation`. 0, or what reset the
 * tail to start at `generation`. */
struct ik_change_tail;
int ik__change_tail_fill(struct ik_store *st, struct ik_change_tail *t, uint64_t since,
                         uint64_t generation, uint64_t floor);

/* Formats SQLite's current error: "what: message" with code EIO (ENOSPC for SQLITE_FULL). */
int ik__sql_error(struct ik_store *st, int sqlrc, const char *what, struct ik_error *err);

/* Write transactions: BEGIN IMMEDIATE ... bump generation, COMMIT; rollback on failure. */
int ik__begin(struct ik_store *st, struct ik_error *err);
int ik__commit(struct ik_store *st, struct ik_error *err);
/* ik__commit without the generation bump and version stamp: a journal's apply, whose version
 * was committed with its pending record (import_journal.c). */
int ik__commit_applied(struct ik_store *st, struct ik_error *err);
void ik__rollback(struct ik_store *st);

/* Called inside a write transaction before upserting `rows` rows that carry a vfs_path: when
 * the table holds fewer rows than that (and rows >= 10000), drops the vfs_path index so that
 * ik__commit builds it once from the finished table (sorted) instead of taking every insert
 * at a random place. A rollback restores it. */
int ik__defer_vfs_index(struct ik_store *st, int64_t rows, struct ik_error *err);

/* Binds and runs the prepared upsert for one (checked) row. `now` fills a missing timestamp on
 * insert; `backend` a missing backend. */
int ik__upsert(struct ik_store *st, const struct ik__row *r, int64_t now, const char *backend,
               struct ik_error *err);

/* Import sink: each parser hands rows to ik__sink_row, which checks, counts or skips, and
 * upserts them. Messages start with "<unit> <n>: " ("line 17: ", "record batch 2 row 5: "),
 * formatted only when a row is bad. */
struct ik__given;
struct ik__sink {
    struct ik_store *st;
    const struct ik_import_options *opts;
    struct ik_import_result *res;
    int64_t now;
    int64_t paths;           /* checked rows giving a vfs_path (the two-pass parsers count them) */
    int64_t changes0;        /* st->upserted when the import began */
    struct ik__given *given; /* ik_store_import_rows into an empty table, else NULL */
    bool journal;            /* ik_store_import_journal: rows go to the journal, not to pins */
};
/* The rows of an import into an empty table, as the table holds them after it
 * (import_given.c), built a column at a time: begin with the number of rows (one per CID once
 * twins are merged), then each column's values in row order, the columns in any order: cid
 * (canonical) with ik__given_cid, the others with ik__given_value (`r` NULL or not giving
 * column c: the INSERT's default, `now` and `backend` (NULL: "ipfs") among them). Errors
 * (ENOMEM, EINVAL past the rows, IK_ELIMIT past 2 GiB of one column's strings) leave a column
 * short, and finish then refuses (EINVAL), as after ik__given_drop. */
int ik__given_create(struct ik__given **out);
void ik__given_free(struct ik__given *g);
int ik__given_begin(struct ik__given *g, int64_t rows, int64_t now, const char *backend);
int ik__given_cid(struct ik__given *g, const char *p, size_t n);
int ik__given_value(struct ik__given *g, int c, const struct ik__row *r);
/* A value for ik__given_values: a string (p, v bytes) or a number (v); has false: not given. */
struct ik__gval {
    const char *p;
    int64_t v;
    bool has;
};
/* n values of column c at once (as n calls of ik__given_value). */
int ik__given_values(struct ik__given *g, int c, const struct ik__gval *v, size_t n);
void ik__given_drop(struct ik__given *g);
/* The rows as one batch of pin_index's schema; EINVAL when they were dropped or are short. */
int ik__given_finish(struct ik__given *g, struct ArrowSchema *schema_out, struct ArrowArray *out);
int ik__sink_row(struct ik__sink *s, const struct ik__row *r, const char *unit, int64_t n,
                 struct ik_error *err);
/* A row the parser could not read (bad syntax/value): skipped under skip_invalid, else fatal.
 * `msg` is the reason with its location. Returns 0 when skipped. */
int ik__sink_bad(struct ik__sink *s, const char *msg, struct ik_error *err);

/* A checked row waiting to be upserted in cid order (import_order.c). `key` holds the CID's
 * first 16 bytes, big-endian and zero-padded, so the sort compares integers in a 32-byte entry
 * instead of reading every CID out of the input at random (a cache miss each). `cid` points into
 * the input, which must outlive the list; `seq` is the row's place in the input, unique and
 * increasing (of two rows with the same CID the later is upserted last and wins). */
struct ik__pending {
    uint64_t key[2];
    const char *cid;
    uint32_t cid_len;
    uint32_t seq;
};

struct ik__pending_list {
    struct ik__pending *v;
    size_t n, cap;
};

/* Appends an entry (ENOMEM; EFBIG when seq passes UINT32_MAX). */
int ik__pending_add(struct ik__pending_list *l, const char *cid, size_t n, uint64_t seq,
                    struct ik_error *err);
/* Appends the entries of `more` (ENOMEM). */
int ik__pending_append(struct ik__pending_list *l, const struct ik__pending_list *more,
                       struct ik_error *err);
/* The CID text an entry sorts by, the canonical form (written into buf, of cap >=
 * IK_CID_MAX_TEXT + 1) for one given in another form: its length, *text pointing to it. */
size_t ik__pending_text(const struct ik__pending *t, char *buf, size_t cap, const char **text);
/* Whether two entries name the same pin (their canonical CIDs are equal). */
bool ik__pending_same_cid(const struct ik__pending *a, const struct ik__pending *b);
/* Sorts by (cid, seq); needs n more entries of scratch, else falls back to qsort. */
void ik__pending_sort(struct ik__pending_list *l);
void ik__pending_free(struct ik__pending_list *l);

/* The parsers (import_json.c, import_csv.c, import_arrow.c). */
int ik__import_kubo_json(struct ik__sink *s, const char *data, size_t len, struct ik_error *err);
int ik__import_jsonl(struct ik__sink *s, const char *data, size_t len, struct ik_error *err);
int ik__import_csv(struct ik__sink *s, const char *data, size_t len, struct ik_error *err);
int ik__import_arrow_stream(struct ik__sink *s, struct ArrowArrayStream *stream,
                            struct ik_error *err);

/* The change log (changes.c). setup: creates its tables (a writable open) and prepares its
 * statements. begin: notes the version the transaction will commit (ik__begin). exists: whether
 * a cid is in the table now. log: records that `cid` changed in this transaction's version
 * (`existed` before the change, `present` after it; a second change of the same key in the same
 * version keeps the first `existed`). stamp: the committing version's time (ik__commit, after
 * the generation bump). Every write to pins must log: ik__upsert and the one-pin changes do. */
int ik__changes_setup(struct ik_store *st, struct ik_error *err);
int ik__changes_begin(struct ik_store *st, struct ik_error *err);
int ik__changes_exists(struct ik_store *st, const char *cid, size_t n, bool *out,
                       struct ik_error *err);
int ik__changes_log(struct ik_store *st, const char *cid, size_t n, bool existed, bool present,
                    struct ik_error *err);
int ik__changes_stamp(struct ik_store *st, struct ik_error *err);

/* Import journals (import_journal.c). finish: the end of ik_store_import_journal's import once
 * pass 1 checked and sorted the rows (rc its result): writes the rows as the journal, records
 * it as pending and commits the version; rolls back on failure. pending_setup: its table
 * (writable opens). */
int ik__journal_finish(struct ik__sink *s, int rc, struct ik__given *g, const char *dir,
                       struct ArrowSchema *schema_out, struct ArrowArray *rows_out,
                       uint64_t *pending, struct ik_error *err);
int ik__pending_setup(struct ik_store *st, struct ik_error *err);
/* Inside a read transaction: 0 when its snapshot holds no pending import, else EBUSY naming
 * the version. A reader of pins or of the change log must not answer from such a snapshot: its
 * generation counts an import whose rows are still only in the journal. */
int ik__pending_none(struct ik_store *st, struct ik_error *err);

/* For tests: the store's SQLite handle. */
sqlite3 *ik__store_db(struct ik_store *st);

/* read_pins.c: the pins changed after generation `since` (their cids in seg_log), in cid
 * order, as one pin_index batch. Inside the caller's read transaction. */
int ik__read_changed_pins(struct ik_store *st, uint64_t since, struct ArrowSchema *schema_out,
                          struct ArrowArray *out, struct ik_error *err);
/* seglog.c: creates the per-row change log and its triggers (writable opens). */
int ik__seglog_setup(struct ik_store *st, struct ik_error *err);

#endif
