/* Pin import: format detection from the first bytes, the one-transaction rule (all rows or
 * none), skip_invalid bookkeeping, and the sink every parser feeds rows into. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ipfskit/arrow.h"
#include "store/store_internal.h"

void ik_import_options_init(struct ik_import_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = IK_IMPORT_AUTO;
}

int ik__sink_bad(struct ik__sink *s, const char *msg, struct ik_error *err)
{
    if (!s->opts->skip_invalid)
        return ik_error_set(err, EINVAL, "%s", msg);
    if (s->res->skipped++ == 0)
        snprintf(s->res->first_skip, sizeof s->res->first_skip, "%s", msg);
    return 0;
}

int ik__sink_row(struct ik__sink *s, const struct ik__row *r, const char *unit, int64_t n,
                 struct ik_error *err)
{
    struct ik_error e;
    int rc = ik__row_check(r, &e);
    if (rc != 0) {
        char msg[IK_ERROR_SIZE + 64];
        snprintf(msg, sizeof msg, "%s %lld: %s", unit, (long long)n, e.message);
        return ik__sink_bad(s, msg, err);
    }
    rc = ik__upsert(s->st, r, s->now, s->opts->default_backend, err);
    if (rc != 0)
        return ik_error_prefix(err, rc, "%s %lld", unit, (long long)n);
    s->res->imported++;
    return 0;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* Guesses the format: Arrow by its magic or continuation marker; JSON when the text starts
 * with '{' (kubo's single object when its first key is "Keys", else JSON lines); CSV otherwise. */
static enum ik_import_format detect(const uint8_t *data, size_t len)
{
    static const uint8_t cont[4] = {0xff, 0xff, 0xff, 0xff};
    const char *p = (const char *)data, *end = p + len;
    if (len >= 6 && memcmp(data, "ARROW1", 6) == 0)
        return IK_IMPORT_ARROW;
    if (len >= 8 && memcmp(data, cont, 4) == 0)
        return IK_IMPORT_ARROW;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    p = skip_space(p, end);
    if (p < end && *p == '{') {
        p = skip_space(p + 1, end);
        if ((size_t)(end - p) >= 6 && memcmp(p, "\"Keys\"", 6) == 0)
            return IK_IMPORT_KUBO_JSON;
        return IK_IMPORT_JSONL;
    }
    return IK_IMPORT_CSV;
}

static int run_arrow(struct ik__sink *s, const uint8_t *data, size_t len, struct ik_error *err)
{
    struct ik_buffer *buf = NULL;
    struct ArrowArrayStream stream;
    int rc = ik_buffer_wrap(data, len, NULL, NULL, &buf);
    if (rc != 0)
        return ik_error_set(err, rc, "out of memory");
    rc = ik_ipc_open_stream(buf, NULL, &stream, NULL, err);
    ik_buffer_unref(buf);
    if (rc != 0) /* a file the reader refuses is the input's fault (exit 65) */
        return ik_error_prefix(err, rc == ENOMEM ? ENOMEM : EINVAL, "Arrow input");
    rc = ik__import_arrow_stream(s, &stream, err);
    stream.release(&stream);
    return rc;
}

/* Every row counted as imported was written by exactly one upsert, so the pins the upserts
 * changed (as SQLite counts them, st->upserted) must equal ours: a parser that stopped early
 * while reporting success, or counted rows it never wrote, is caught before the commit. */
static int check_count(struct ik__sink *s, struct ik_error *err)
{
    int64_t written = s->st->upserted - s->changes0;
    if (written == s->res->imported)
        return 0;
    return ik_error_set(err, EIO, "import: %lld rows counted, %lld written (nothing committed)",
                        (long long)s->res->imported, (long long)written);
}

static int finish(struct ik__sink *s, int rc, struct ik_error *err)
{
    if (rc == 0)
        rc = check_count(s, err);
    if (rc == 0 && s->st->log_at_commit)
        rc = ik__changes_log_new(s->st, err);
    s->st->log_at_commit = false;
    if (rc == 0)
        rc = ik__commit(s->st, err);
    if (rc != 0) {
        ik__rollback(s->st);
        s->res->imported = 0;
    }
    sqlite3_db_release_memory(s->st->db);
    return rc;
}

/* An import into an empty table logs its rows in one statement before the commit rather than
 * one logged insert per row (a sixth of a 100k-pin import's CPU): all of them are new. The
 * table is read inside the transaction (BEGIN IMMEDIATE: no other writer until the commit). */
static int log_at_commit(struct ik_store *st, struct ik_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT 1 FROM pins LIMIT 1", -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = ik__sql_error(st, rc, "pins.db", err); /* the message before the rollback's */
        ik__rollback(st);
        return rc;
    }
    st->log_at_commit = rc == SQLITE_DONE;
    return 0;
}

static int start(struct ik_store *st, const struct ik_import_options *o,
                 struct ik_import_options *defaults, struct ik_import_result *res,
                 struct ik__sink *s, struct ik_error *err)
{
    int rc;
    if (o == NULL) {
        ik_import_options_init(defaults);
        o = defaults;
    }
    memset(res, 0, sizeof *res);
    s->st = st;
    s->opts = o;
    s->res = res;
    s->now = ik__now_us();
    s->paths = 0;
    s->changes0 = st->upserted;
    s->given = NULL;
    s->journal = false;
    rc = ik__begin(st, err);
    return rc != 0 ? rc : log_at_commit(st, err);
}

/* `journal_dir` (ik_store_import_journal): an Arrow import into an empty table is acknowledged
 * from a journal of its rows instead of going through pins (*pending its version); other
 * imports run as ik_store_import_rows (*pending 0). */
static int import(struct ik_store *st, const uint8_t *data, size_t len,
                  const struct ik_import_options *o, struct ik_import_result *res,
                  struct ik__given **given, const char *journal_dir, struct ArrowSchema *schema_out,
                  struct ArrowArray *rows_out, uint64_t *pending, struct ik_error *err)
{
    struct ik_import_options defaults;
    struct ik_import_result scratch;
    struct ik__sink s;
    enum ik_import_format f;
    const char *text = (const char *)data;
    int rc;

    if (res == NULL)
        res = &scratch;
    if ((rc = start(st, o, &defaults, res, &s, err)) != 0)
        return rc;
    f = s.opts->format == IK_IMPORT_AUTO ? detect(data, len) : s.opts->format;
    s.given = NULL;
    if (given && f == IK_IMPORT_ARROW && st->log_at_commit && ik__given_create(given) == 0) {
        s.given = *given; /* an empty table: what it will hold is what pass 2 upserts */
        s.journal = journal_dir != NULL;
    }
    if (f != IK_IMPORT_ARROW && len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        text += 3; /* a UTF-8 byte order mark, as spreadsheets write */
        len -= 3;
    }
    switch (f) {
    case IK_IMPORT_KUBO_JSON:
        rc = ik__import_kubo_json(&s, text, len, err);
        break;
    case IK_IMPORT_JSONL:
        rc = ik__import_jsonl(&s, text, len, err);
        break;
    case IK_IMPORT_CSV:
        rc = ik__import_csv(&s, text, len, err);
        break;
    case IK_IMPORT_ARROW:
        rc = run_arrow(&s, data, len, err);
        break;
    default:
        rc = ik_error_set(err, EINVAL, "unknown import format %d", (int)f);
    }
    if (s.journal) {
        rc = ik__journal_finish(&s, rc, *given, journal_dir, schema_out, rows_out, pending, err);
        sqlite3_db_release_memory(st->db);
        return rc;
    }
    return finish(&s, rc, err);
}

int ik_store_import(struct ik_store *st, const uint8_t *data, size_t len,
                    const struct ik_import_options *o, struct ik_import_result *res,
                    struct ik_error *err)
{
    struct ArrowSchema schema; /* unused: no rows are given without a journal or given */
    struct ArrowArray rows;
    uint64_t pending;
    return import(st, data, len, o, res, NULL, NULL, &schema, &rows, &pending, err);
}

static int import_rows(struct ik_store *st, const uint8_t *data, size_t len,
                       const struct ik_import_options *o, struct ik_import_result *res,
                       const char *journal_dir, struct ArrowSchema *schema_out,
                       struct ArrowArray *rows_out, uint64_t *pending, struct ik_error *err)
{
    struct ik__given *g = NULL;
    uint64_t none = 0;
    int rc;
    if (pending == NULL)
        pending = &none;
    *pending = 0;
    rows_out->release = NULL;
    rc = import(st, data, len, o, res, &g, journal_dir, schema_out, rows_out, pending, err);
    if (*pending == 0) { /* not journalled: the rows pass 2 upserted, if it built them */
        if (rows_out->release != NULL) {
            rows_out->release(rows_out);
            schema_out->release(schema_out);
        }
        rows_out->release = NULL;
        if (rc == 0 && g != NULL && ik__given_finish(g, schema_out, rows_out) != 0)
            rows_out->release = NULL;
    }
    ik__given_free(g);
    return rc;
}

int ik_store_import_rows(struct ik_store *st, const uint8_t *data, size_t len,
                         const struct ik_import_options *o, struct ik_import_result *res,
                         struct ArrowSchema *schema_out, struct ArrowArray *rows_out,
                         struct ik_error *err)
{
    return import_rows(st, data, len, o, res, NULL, schema_out, rows_out, NULL, err);
}

int ik_store_import_journal(struct ik_store *st, const uint8_t *data, size_t len,
                            const struct ik_import_options *o, struct ik_import_result *res,
                            struct ArrowSchema *schema_out, struct ArrowArray *rows_out,
                            uint64_t *pending, struct ik_error *err)
{
    return import_rows(st, data, len, o, res, st->dir, schema_out, rows_out, pending, err);
}

int ik_store_import_stream(struct ik_store *st, struct ArrowArrayStream *stream,
                           const struct ik_import_options *o, struct ik_import_result *res,
                           struct ik_error *err)
{
    struct ik_import_options defaults;
    struct ik_import_result scratch;
    struct ik__sink s;
    int rc;
    if (res == NULL)
        res = &scratch;
    if ((rc = start(st, o, &defaults, res, &s, err)) != 0)
        return rc;
    return finish(&s, ik__import_arrow_stream(&s, stream, err), err);
}
