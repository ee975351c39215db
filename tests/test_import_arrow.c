/* Tests of the Arrow import, which checks every row and then upserts in cid order: across record
 * batches the later of two rows with one CID wins, the input order does not change the store,
 * errors name the record batch and row (of a check and of the insert), skip_invalid skips. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "batch_eq.h"
#include "ik_test.h"
#include "ipfskit/arrow.h"
#include "ipfskit/builder.h"
#include "ipfskit/cid.h"
#include "ipfskit/config.h"
#include "ipfskit/seglog.h"
#include "ipfskit/segments.h"
#include "ipfskit/store.h"
#include "store/store_internal.h"
#include "store_testutil.h"

static int dir_no;

static struct ik_store *fresh(void)
{
    struct ik_error err;
    struct ik_store *st = NULL;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/arrow-import%d", ik_test_tmpdir(), ++dir_no);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0)
        fprintf(stderr, "open: %s\n", err.message);
    return st;
}

/* One input row: NULL strings and a zero timestamp are nulls (not given). A row with a NULL
 * cid ends the record batch instead. */
struct arow {
    const char *cid, *name, *pin_type, *vfs_path;
    int64_t ts;
};

#define NCOL 5

/* An IPC stream of `rows` with the columns cid, name, pin_type, vfs_path (utf8) and
 * timestamp (int64 µs), all nullable, a record batch per run of rows. */
static int arrow_rows(const struct arow *rows, int n, struct ik_test_sink *out,
                      struct ik_error *err)
{
    static const char *const names[NCOL] = {"cid", "name", "pin_type", "vfs_path", "timestamp"};
    struct ArrowSchema s;
    struct ArrowArray a;
    struct ik_builder *b = NULL;
    struct ik_ipc_writer *w = NULL;
    struct ik_write_options o;
    int i, k, rc;
    if (ik__schema_alloc(&s, "+s", "", NULL, 0, NCOL) != 0)
        return ENOMEM;
    for (k = 0; k < NCOL; k++)
        if (ik__schema_alloc(s.children[k], k < 4 ? "u" : "l", names[k], NULL, ARROW_FLAG_NULLABLE,
                             0) != 0) {
            s.release(&s);
            return ENOMEM;
        }
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    rc = ik_builder_create(&s, 0, &b, err);
    if (rc == 0)
        rc = ik_ipc_writer_create(&s, &o, ik_test_sink_write, out, &w, err);
    for (i = 0; i <= n && rc == 0; i++) {
        const struct arow *r = i < n ? &rows[i] : NULL;
        const char *v[4];
        if (r == NULL || r->cid == NULL) {
            if (ik_builder_rows(b) == 0)
                continue;
            rc = ik_builder_finish(b, NULL, NULL, &a, err);
            if (rc == 0) {
                rc = ik_ipc_writer_write(w, &a, err);
                a.release(&a);
            }
            continue;
        }
        v[0] = r->cid, v[1] = r->name, v[2] = r->pin_type, v[3] = r->vfs_path;
        for (k = 0; k < 4 && rc == 0; k++)
            rc = v[k] ? ik_builder_str(b, k, v[k], strlen(v[k]), err) : 0;
        if (rc == 0 && r->ts)
            rc = ik_builder_int(b, 4, r->ts, err);
        if (rc == 0)
            rc = ik_builder_end_row(b, err);
    }
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    ik_ipc_writer_destroy(w);
    ik_builder_destroy(b);
    s.release(&s);
    return rc;
}

static int import_rows(struct ik_store *st, const struct arow *rows, int n, bool skip,
                       struct ik_import_result *res, struct ik_error *err)
{
    struct ik_test_sink bytes = {0};
    struct ik_import_options o;
    int rc = arrow_rows(rows, n, &bytes, err);
    ik_import_options_init(&o);
    o.format = IK_IMPORT_ARROW;
    o.skip_invalid = skip;
    if (rc == 0)
        rc = ik_store_import(st, bytes.p, bytes.len, &o, res, err);
    free(bytes.p);
    return rc;
}

/* The pins as read back (cid order), and a column's string at row i ("" for null). */
struct pins {
    struct ArrowSchema s;
    struct ArrowArray b;
};

static const char *col_str(const struct pins *p, const char *name, int64_t i, char *buf)
{
    int64_t c;
    size_t n = 0;
    const char *v = NULL;
    for (c = 0; c < p->s.n_children; c++)
        if (strcmp(p->s.children[c]->name, name) == 0 && !ik_test_is_null(p->b.children[c], i))
            v = ik_test_str(p->s.children[c], p->b.children[c], i, &n);
    if (v == NULL || n > 63)
        n = 0;
    if (n)
        memcpy(buf, v, n);
    buf[n] = 0;
    return buf;
}

static void pins_release(struct pins *p)
{
    p->s.release(&p->s);
    p->b.release(&p->b);
}

TEST(test_import_arrow_later_duplicate_wins_across_batches)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    struct ik_cid cid;
    struct pins p;
    char c[4][47], sib[64], buf[64];
    int i;
    ASSERT_TRUE(st != NULL);
    for (i = 0; i < 4; i++)
        ik_test_cidv0(70 + (uint64_t)i, c[i]);
    ASSERT_OK(ik_cid_parse(c[0], 46, &cid, &err), &err);
    cid.binary[cid.binary_len - 1] ^= 1; /* shares the 16-character sort key with c[0] */
    ASSERT_EQ(ik_cid_format(&cid, sib, sizeof sib), 46);
    ASSERT_TRUE(strncmp(sib, c[0], 16) == 0 && strcmp(sib, c[0]) != 0);
    {
        const struct arow rows[] = {
            {c[0], "a1", "direct", "/a/1", 0}, {c[1], "b1", NULL, NULL, 0},
            {sib, "sib", NULL, NULL, 0},       {NULL, NULL, NULL, NULL, 0},
            {c[0], "a2", NULL, NULL, 0}, /* pin_type and vfs_path not given: kept */
            {c[3], "d", NULL, "/d", 0},        {c[1], "b2", "indirect", NULL, 0},
            {NULL, NULL, NULL, NULL, 0},       {c[0], "a3", NULL, NULL, 0},
            {c[2], "c", NULL, NULL, 0},
        };
        ASSERT_OK(import_rows(st, rows, 10, false, &res, &err), &err);
    }
    ASSERT_EQ(res.imported, 8);
    ASSERT_EQ(ik_store_count(st), 5);
    ASSERT_OK(ik_store_read_pins(st, &p.s, &p.b, &err), &err);
    ASSERT_EQ(p.b.length, 5);
    for (i = 0; i < 5; i++) {
        col_str(&p, "cid", i, buf);
        if (strcmp(buf, c[0]) == 0) {
            ASSERT_STR_EQ(col_str(&p, "name", i, buf), "a3");
            ASSERT_STR_EQ(col_str(&p, "pin_type", i, buf), "direct");
            ASSERT_STR_EQ(col_str(&p, "vfs_path", i, buf), "/a/1");
        } else if (strcmp(buf, c[1]) == 0) {
            ASSERT_STR_EQ(col_str(&p, "name", i, buf), "b2");
            ASSERT_STR_EQ(col_str(&p, "pin_type", i, buf), "indirect");
        } else if (strcmp(buf, sib) == 0) {
            ASSERT_STR_EQ(col_str(&p, "name", i, buf), "sib");
        } else if (strcmp(buf, c[2]) == 0) {
            ASSERT_STR_EQ(col_str(&p, "name", i, buf), "c");
        } else {
            ASSERT_STR_EQ(buf, c[3]);
            ASSERT_STR_EQ(col_str(&p, "vfs_path", i, buf), "/d");
        }
    }
    pins_release(&p);
    ik_store_close(st);
}

/* ik_store_import_rows into an empty table gives the table as the commit left it: equal,
 * value for value, to a read of the store (defaults, the later of two rows merged over the
 * earlier, a CID in another form stored canonical, skipped rows left out); into a table with
 * pins, or from another format, no rows are given. */
static void expect_given_equals_store(const struct arow *rows, int n, const char *backend,
                                      int64_t want_rows)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_import_options o;
    struct ik_test_sink bytes = {0};
    struct ik_store *st = fresh();
    struct ArrowSchema gs = {0};
    struct ArrowArray ga = {0};
    struct pins p;
    char why[256] = "";
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(arrow_rows(rows, n, &bytes, &err), &err);
    ik_import_options_init(&o);
    o.skip_invalid = true;
    o.default_backend = backend;
    ASSERT_OK(ik_store_import_rows(st, bytes.p, bytes.len, &o, &res, &gs, &ga, &err), &err);
    ASSERT_TRUE(ga.release != NULL);
    ASSERT_EQ(ga.length, want_rows);
    ASSERT_OK(ik_array_validate(&gs, &ga, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_OK(ik_store_read_pins(st, &p.s, &p.b, &err), &err);
    ASSERT_EQ(p.b.length, want_rows);
    ASSERT_EQ(gs.n_children, p.s.n_children);
    for (int64_t c = 0; c < gs.n_children; c++) {
        ASSERT_STR_EQ(gs.children[c]->name, p.s.children[c]->name);
        ASSERT_STR_EQ(gs.children[c]->format, p.s.children[c]->format);
    }
    if (!ik_test_batch_equal(&p.s, &p.b, &ga, why, sizeof why))
        fprintf(stderr, "given rows differ from the store: %s\n", why);
    ASSERT_TRUE(ik_test_batch_equal(&p.s, &p.b, &ga, why, sizeof why));
    pins_release(&p);
    ga.release(&ga);
    gs.release(&gs);
    /* the table has pins now: the next import gives none */
    ASSERT_OK(ik_store_import_rows(st, bytes.p, bytes.len, &o, &res, &gs, &ga, &err), &err);
    ASSERT_TRUE(ga.release == NULL);
    free(bytes.p);
    ik_store_close(st);
}

TEST(test_import_rows_into_an_empty_table_equal_a_read_of_the_store)
{
    char c[6][47];
    static const char v1[] = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    static const char v1_upper[] = "BAFYBEIGDYRZT5SFP7UDM7HU76UH7Y26NF3EFUYLQABF3OCLGTQY55FBZDI";
    int i;
    for (i = 0; i < 6; i++)
        ik_test_cidv0(500 + (uint64_t)i, c[i]);
    {
        const struct arow rows[] = {
            {c[0], "a1", "direct", "/a/1", 1700000000000001},
            {c[1], NULL, NULL, NULL, 0},
            {v1_upper, "upper", NULL, "/v/1", 0}, /* stored as v1 */
            {NULL, NULL, NULL, NULL, 0},
            {c[0], "a2", NULL, NULL, 0},     /* pin_type, vfs_path and timestamp kept */
            {c[2], "", "indirect", NULL, 5}, /* an empty name is no name */
            {"Qmbad", "bad", NULL, NULL, 0}, /* skipped */
            {v1, NULL, "direct", NULL, 0},   /* merged over "upper" */
            {NULL, NULL, NULL, NULL, 0},
            {c[3], "d", NULL, "/d/3", 0},
            {c[1], "b2", NULL, NULL, 7},
            {c[4], NULL, NULL, NULL, 0},
            {c[4], NULL, NULL, NULL, 0},
            {c[5], "f", "recursive", "/f", 9},
        };
        expect_given_equals_store(rows, 14, NULL, 7);
        expect_given_equals_store(rows, 14, "filecoin", 7);
    }
}

TEST(test_import_rows_are_not_given_for_other_formats)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    struct ArrowSchema gs = {0};
    struct ArrowArray ga = {0};
    char c[47], line[128];
    ASSERT_TRUE(st != NULL);
    ik_test_cidv0(900, c);
    snprintf(line, sizeof line, "{\"cid\":\"%s\"}\n", c);
    ASSERT_OK(
        ik_store_import_rows(st, (const uint8_t *)line, strlen(line), NULL, &res, &gs, &ga, &err),
        &err);
    ASSERT_EQ(res.imported, 1);
    ASSERT_TRUE(ga.release == NULL);
    ik_store_close(st);
}

#define NPERM 300

/* The same distinct pins in file order (one batch) and in a scrambled order (batches of 7)
 * give equal stores. */
TEST(test_import_arrow_input_order_does_not_change_the_store)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st[2];
    struct pins p[2];
    static char cids[NPERM][47], names[NPERM][16], paths[NPERM][32];
    static struct arow rows[2][NPERM + NPERM / 7];
    char why[256];
    int i, k, n = 0;
    for (i = 0; i < NPERM; i++) {
        ik_test_cidv0(5000 + (uint64_t)i, cids[i]);
        snprintf(names[i], sizeof names[i], "n%d", i);
        snprintf(paths[i], sizeof paths[i], "/p/%d/f%d", i % 5, i);
        rows[0][i] = (struct arow){cids[i], names[i], i % 3 ? "recursive" : "direct",
                                   i % 4 ? paths[i] : NULL, 1000000 + i};
    }
    for (i = 0; i < NPERM; i++) {
        int j = (int)(((unsigned)i * 7919u) % NPERM); /* 7919 is prime: a permutation */
        if (i % 7 == 6)
            rows[1][n++] = (struct arow){NULL, NULL, NULL, NULL, 0};
        rows[1][n++] = rows[0][j];
    }
    for (k = 0; k < 2; k++) {
        st[k] = fresh();
        ASSERT_TRUE(st[k] != NULL);
        ASSERT_OK(import_rows(st[k], rows[k], k ? n : NPERM, false, &res, &err), &err);
        ASSERT_EQ(res.imported, NPERM);
        ASSERT_OK(ik_store_read_pins(st[k], &p[k].s, &p[k].b, &err), &err);
    }
    ASSERT_EQ(p[0].b.length, NPERM);
    ASSERT_TRUE(ik_test_batch_equal(&p[0].s, &p[0].b, &p[1].b, why, sizeof why));
    for (k = 0; k < 2; k++) {
        pins_release(&p[k]);
        ik_store_close(st[k]);
    }
}

TEST(test_import_arrow_errors_name_batch_and_row)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    char c[6][47];
    int i;
    ASSERT_TRUE(st != NULL);
    for (i = 0; i < 6; i++)
        ik_test_cidv0(90 + (uint64_t)i, c[i]);
    c[4][7] = '0'; /* not base58 */
    {
        const struct arow rows[] = {
            {c[0], NULL, NULL, NULL, 0},        {c[1], NULL, NULL, NULL, 0},
            {NULL, NULL, NULL, NULL, 0},        {c[2], NULL, NULL, NULL, 0},
            {c[3], NULL, "sometimes", NULL, 0}, {c[4], NULL, NULL, NULL, 0},
            {c[5], NULL, NULL, NULL, 0},
        };
        ASSERT_FAILS(import_rows(st, rows, 7, false, &res, &err), EINVAL, &err,
                     "record batch 1 row 1: pin_type 'sometimes'");
        ASSERT_EQ(res.imported, 0);
        ASSERT_EQ(ik_store_count(st), 0);
        ASSERT_OK(import_rows(st, rows, 7, true, &res, &err), &err);
        ASSERT_EQ(res.imported, 4);
        ASSERT_EQ(res.skipped, 2);
        ASSERT_TRUE(strncmp(res.first_skip, "record batch 1 row 1: pin_type", 30) == 0);
        ASSERT_EQ(ik_store_count(st), 4);
    }
    ik_store_close(st);
}

/* A failing insert (here a full disk) names the row it was inserting, though rows go in cid
 * order, and nothing is kept. */
TEST(test_import_arrow_insert_error_names_batch_and_row)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    static char cids[3000][47];
    static struct arow rows[3000];
    int i;
    ASSERT_TRUE(st != NULL);
    for (i = 0; i < 3000; i++) {
        ik_test_cidv0(20000 + (uint64_t)i, cids[i]);
        rows[i] = (struct arow){cids[i], "some name to fill pages", NULL, NULL, 0};
    }
    ASSERT_EQ(sqlite3_exec(ik__store_db(st), "PRAGMA max_page_count = 8", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_FAILS(import_rows(st, rows, 3000, false, &res, &err), ENOSPC, &err,
                 "record batch 0 row ");
    ASSERT_TRUE(strstr(err.message, "database or disk is full") != NULL);
    ASSERT_EQ(ik_store_count(st), 0);
    ik_store_close(st);
}

static int64_t sql_int(struct ik_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(ik__store_db(st), sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

#define NBIG 12000
#define HAS_INDEX "SELECT count(*) FROM sqlite_master WHERE name = 'pins_vfs_path'"

/* An import bringing more paths than the table has rows drops the vfs_path index and builds
 * it at commit (the schema changes); one that fails after the drop leaves it as it was; a
 * smaller one leaves the schema alone. */
TEST(test_import_arrow_large_import_builds_the_vfs_path_index_at_commit)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st = fresh();
    static char cids[NBIG][47], paths[NBIG][32];
    static struct arow rows[NBIG];
    int64_t v0, v1;
    int i;
    ASSERT_TRUE(st != NULL);
    for (i = 0; i < NBIG; i++) {
        ik_test_cidv0(100000 + (uint64_t)i, cids[i]);
        snprintf(paths[i], sizeof paths[i], "/p/%d/f%d", i % 3, i);
        rows[i] = (struct arow){cids[i], NULL, NULL, paths[i], 0};
    }
    v0 = sql_int(st, "PRAGMA schema_version");
    ASSERT_EQ(sqlite3_exec(ik__store_db(st), "PRAGMA max_page_count = 20", NULL, NULL, NULL),
              SQLITE_OK); /* fails in the inserts, after the index was dropped */
    ASSERT_FAILS(import_rows(st, rows, NBIG, false, &res, &err), ENOSPC, &err, "record batch 0");
    ASSERT_EQ(sql_int(st, HAS_INDEX), 1);
    ASSERT_EQ(sql_int(st, "PRAGMA schema_version"), v0);
    ASSERT_EQ(sqlite3_exec(ik__store_db(st), "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_OK(import_rows(st, rows, NBIG, false, &res, &err), &err);
    ASSERT_EQ(res.imported, NBIG);
    ASSERT_EQ(sql_int(st, HAS_INDEX), 1);
    v1 = sql_int(st, "PRAGMA schema_version");
    ASSERT_TRUE(v1 > v0);
    ASSERT_EQ(sql_int(st, "SELECT count(*) FROM pins WHERE vfs_path >= '/p/1/' AND vfs_path < "
                          "'/p/10'"),
              NBIG / 3);
    ASSERT_OK(import_rows(st, rows, NBIG - 1000, false, &res, &err), &err);
    ASSERT_EQ(sql_int(st, "PRAGMA schema_version"), v1);
    ASSERT_EQ(ik_store_count(st), NBIG);
    ik_store_close(st);
}

/* Finds the 12 bytes of int32 offsets {a, b, c} in an IPC stream (the only place they occur
 * in these small inputs) and overwrites them with {x, y, z}; false when not found. */
static bool patch_offsets(struct ik_test_sink *bytes, const int32_t from[3], const int32_t to[3])
{
    size_t i;
    for (i = 0; i + 12 <= bytes->len; i++)
        if (memcmp(bytes->p + i, from, 12) == 0) {
            memcpy(bytes->p + i, to, 12);
            return true;
        }
    return false;
}

/* Two rows named `a` and `b`, as an IPC stream in *bytes. */
static int two_names(const char *a, const char *b, struct ik_test_sink *bytes, struct ik_error *err)
{
    char c[2][47];
    ik_test_cidv0(501, c[0]);
    ik_test_cidv0(502, c[1]);
    {
        const struct arow rows[] = {{c[0], a, NULL, NULL, 0}, {c[1], b, NULL, NULL, 0}};
        return arrow_rows(rows, 2, bytes, err);
    }
}

/* Importing `bytes` fails with EINVAL naming `want` and the column 'name', even when skipping
 * bad rows (a damaged file is not a bad row: it is refused whole), and stores nothing. */
static void expect_refused(struct ik_test_sink *bytes, const char *want)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_import_options o;
    struct ik_store *st = fresh();
    ASSERT_TRUE(st != NULL);
    ik_import_options_init(&o);
    o.skip_invalid = true;
    ASSERT_FAILS(ik_store_import(st, bytes->p, bytes->len, &o, &res, &err), EINVAL, &err, want);
    ASSERT_TRUE(strstr(err.message, "'name'") != NULL);
    ASSERT_EQ(res.imported, 0);
    ASSERT_EQ(ik_store_count(st), 0);
    ik_store_close(st);
}

/* Names "aaaaaaaa" and "bbbb", whose offsets {0, 8, 12} are then replaced by `to`. */
static void import_patched_names(const int32_t to[3], const char *want)
{
    static const int32_t from[3] = {0, 8, 12};
    struct ik_error err;
    struct ik_test_sink bytes = {0};
    ASSERT_OK(two_names("aaaaaaaa", "bbbb", &bytes, &err), &err);
    ASSERT_TRUE(patch_offsets(&bytes, from, to));
    expect_refused(&bytes, want);
    free(bytes.p);
}

TEST(test_import_arrow_rejects_string_offsets_going_backwards)
{
    static const int32_t to[3] = {0, 8, 4};
    import_patched_names(to, "Arrow input: record batch 0: ");
}

TEST(test_import_arrow_rejects_string_offsets_past_the_data)
{
    static const int32_t to[3] = {0, 8, 0x7fffff00};
    import_patched_names(to, "Arrow input: ");
}

TEST(test_import_arrow_rejects_negative_string_offsets)
{
    static const int32_t to[3] = {-100000, 8, 12};
    import_patched_names(to, "Arrow input: ");
}

/* A name that is not UTF-8 is refused before any row is read, as `pin add` refuses it. */
TEST(test_import_arrow_rejects_invalid_utf8_strings)
{
    struct ik_error err;
    struct ik_test_sink bytes = {0};
    ASSERT_OK(two_names("fine", "bad \xff\xfe name", &bytes, &err), &err);
    expect_refused(&bytes, "UTF-8");
    free(bytes.p);
}

/* ---- import journals (lib/store/import_journal.c) ----------------------------------------- */

static struct ik_store *fresh_in(char *dir, size_t cap)
{
    struct ik_error err;
    struct ik_store *st = NULL;
    snprintf(dir, cap, "%s/arrow-import%d", ik_test_tmpdir(), ++dir_no);
    if (ik_store_open(dir, IK_STORE_CREATE, &st, &err) != 0)
        fprintf(stderr, "open: %s\n", err.message);
    return st;
}

static void journal_rows(const struct arow **rows, int *n, char c[6][47])
{
    static struct arow r[8];
    for (int i = 0; i < 6; i++)
        ik_test_cidv0(700 + (uint64_t)i, c[i]);
    r[0] = (struct arow){c[0], "a1", "direct", "/a/1", 1700000000000001};
    r[1] = (struct arow){c[1], NULL, NULL, NULL, 0};
    r[2] = (struct arow){c[0], "a2", NULL, NULL, 0}; /* merged over the first */
    r[3] = (struct arow){NULL, NULL, NULL, NULL, 0};
    r[4] = (struct arow){c[2], "", "indirect", NULL, 5};
    r[5] = (struct arow){c[3], "d", NULL, "/d/3", 0};
    r[6] = (struct arow){c[4], NULL, NULL, NULL, 0};
    r[7] = (struct arow){c[5], "f", "recursive", "/f", 9};
    *rows = r;
    *n = 8;
}

/* An Arrow import into an empty table acknowledged from its journal: the version is committed
 * with the rows only in journal/import.1.arrow (pins empty, readers of the store told EBUSY);
 * once applied, pins, the given rows and the change log equal those of the same import through
 * pins; a second import (the table has pins) takes the old path. */
TEST(test_import_journal_applies_to_what_the_import_leaves)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_test_sink bytes = {0};
    struct ArrowSchema gs = {0}, rs = {0}, cs1, cs2;
    struct ArrowArray ga = {0}, ra = {0}, ca1, ca2;
    struct pins p, q;
    char dir[256], path[400], why[256] = "", c[6][47], extra[47];
    const struct arow *rows;
    uint64_t pending = 0, gen = 0, newest = 0;
    int n, applied = 0;
    struct ik_store *st = fresh_in(dir, sizeof dir), *ref = fresh(), *other = NULL;
    struct ik_pin pin;
    ASSERT_TRUE(st != NULL && ref != NULL);
    ASSERT_OK(ik_store_open(dir, 0, &other, &err), &err); /* a second writer, open before */
    journal_rows(&rows, &n, c);
    ASSERT_OK(arrow_rows(rows, n, &bytes, &err), &err);
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 1);
    ASSERT_EQ(res.imported, 7);
    ASSERT_EQ(ga.length, 6);
    ASSERT_OK(ik_store_generation(st, &gen, &err), &err);
    ASSERT_EQ(gen, 1);
    ASSERT_EQ(ik_store_count(st), 0); /* not yet in pins */
    snprintf(path, sizeof path, "%s/journal/import.1.arrow", dir);
    ASSERT_TRUE(access(path, F_OK) == 0);
    ASSERT_FAILS(ik_store_changes(st, "pin_index", 0, &cs1, &ca1, &newest, &err), EBUSY, &err,
                 "version 1");
    ASSERT_OK(ik_store_pending(st, &pending, &err), &err);
    ASSERT_EQ(pending, 1);
    /* no write over it until it is applied */
    ik_test_cidv0(999, extra);
    ik_pin_init(&pin);
    pin.cid = extra;
    ASSERT_FAILS(ik_store_add(other, &pin, &err), EBUSY, &err, "version 1");

    ASSERT_OK(ik_store_apply_pending(st, &applied, &err), &err);
    ASSERT_OK(ik_store_add(other, &pin, &err), &err);     /* now after it: version 2 */
    ASSERT_OK(ik_store_remove(other, extra, &err), &err); /* and gone: version 3 */
    ik_store_close(other);
    ASSERT_EQ(applied, 1);
    ASSERT_TRUE(access(path, F_OK) != 0); /* removed after the commit */
    ASSERT_OK(ik_store_generation(st, &gen, &err), &err);
    ASSERT_EQ(gen, 3); /* the apply adds no version: 1, then the remove and the add */
    ASSERT_OK(ik_store_pending(st, &pending, &err), &err);
    ASSERT_EQ(pending, 0);

    /* the same input through pins, into another empty store */
    ASSERT_OK(ik_store_import_rows(ref, bytes.p, bytes.len, NULL, &res, &rs, &ra, &err), &err);
    ASSERT_OK(ik_store_read_pins(st, &p.s, &p.b, &err), &err);
    ASSERT_OK(ik_store_read_pins(ref, &q.s, &q.b, &err), &err);
    ASSERT_EQ(p.b.length, 6);
    /* the timestamp default is each import's own "now": equal where the input gave it */
    ASSERT_TRUE(ik_test_batch_equal(&p.s, &p.b, &ga, why, sizeof why));
    {
        int ts = -1;
        for (int k = 0; k < p.s.n_children; k++)
            if (strcmp(p.s.children[k]->name, "timestamp") == 0)
                ts = k;
        ASSERT_TRUE(ts >= 0);
        for (int64_t i = 0; i < p.b.length; i++) { /* rows given a time: the same */
            int64_t a = ik_test_int(p.s.children[ts], p.b.children[ts], i);
            int64_t b = ik_test_int(q.s.children[ts], q.b.children[ts], i);
            ASSERT_TRUE(a == b || (a > 1700000000000001 && b > 1700000000000001));
        }
    }
    ASSERT_OK(ik_store_changes(st, "pin_index", 0, &cs1, &ca1, &newest, &err), &err);
    ASSERT_EQ(newest, 3);
    ASSERT_OK(ik_store_changes(ref, "pin_index", 0, &cs2, &ca2, &newest, &err), &err);
    ASSERT_EQ(ca1.length, ca2.length);
    ASSERT_EQ(ca1.length, 6);
    ca1.release(&ca1), cs1.release(&cs1), ca2.release(&ca2), cs2.release(&cs2);
    pins_release(&p);
    pins_release(&q);
    ga.release(&ga), gs.release(&gs), ra.release(&ra), rs.release(&rs);

    /* the table has pins: no journal */
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 0);
    ASSERT_TRUE(ga.release == NULL);
    free(bytes.p);
    ik_store_close(st);
    ik_store_close(ref);
}

/* A journal missing, truncated or altered is an error naming the file and the version, at the
 * apply and at every writable open; the import stays pending until the file is right. */
TEST(test_import_journal_damaged_is_an_error_never_dropped)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_test_sink bytes = {0};
    struct ArrowSchema gs;
    struct ArrowArray ga;
    char dir[256], path[400], c[6][47];
    const struct arow *rows;
    uint64_t pending = 0;
    int n;
    struct ik_store *st = fresh_in(dir, sizeof dir);
    FILE *f;
    char *saved;
    long size;
    ASSERT_TRUE(st != NULL);
    journal_rows(&rows, &n, c);
    ASSERT_OK(arrow_rows(rows, n, &bytes, &err), &err);
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 1);
    ga.release(&ga), gs.release(&gs);
    ik_store_close(st);
    snprintf(path, sizeof path, "%s/journal/import.1.arrow", dir);
    ASSERT_TRUE((f = fopen(path, "rb")) != NULL);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    saved = malloc((size_t)size);
    ASSERT_EQ(fread(saved, 1, (size_t)size, f), (size_t)size);
    fclose(f);

    /* one byte altered inside a value */
    saved[size / 2] ^= 0x20;
    f = fopen(path, "wb");
    fwrite(saved, 1, (size_t)size, f);
    fclose(f);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), IK_EFORMAT, &err, "checksum mismatch");
    ASSERT_TRUE(strstr(err.message, "import.1.arrow") && strstr(err.message, "version 1"));
    ASSERT_FAILS(ik_store_recover(dir, &err), IK_EFORMAT, &err, "import.1.arrow");
    saved[size / 2] ^= 0x20;
    /* truncated */
    ASSERT_TRUE(truncate(path, size - 9) == 0);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), IK_EFORMAT, &err, "truncated or altered");
    ASSERT_TRUE(strstr(err.message, "version 1") != NULL);
    /* missing */
    ASSERT_TRUE(unlink(path) == 0);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), IK_EFORMAT, &err, "missing");
    ASSERT_TRUE(strstr(err.message, "import.1.arrow") && strstr(err.message, "version 1"));
    /* a link planted in its place is not followed */
    ASSERT_TRUE(symlink("/etc/hostname", path) == 0);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), IK_EFORMAT, &err, "import.1.arrow");
    ASSERT_TRUE(unlink(path) == 0);
    /* put back: applied at the next open, nothing lost */
    f = fopen(path, "wb");
    fwrite(saved, 1, (size_t)size, f);
    fclose(f);
    ASSERT_OK(ik_store_open(dir, 0, &st, &err), &err);
    ASSERT_EQ(ik_store_count(st), 6);
    ASSERT_OK(ik_store_pending(st, &pending, &err), &err);
    ASSERT_EQ(pending, 0);
    ASSERT_TRUE(access(path, F_OK) != 0);
    free(saved);
    free(bytes.p);
    ik_store_close(st);
}

/* A journal a power cut lost (the pending record kept): the open names `pin drop-import 1`;
 * ik_store_drop_import refuses while the lock is held, for another version and while the
 * journal is valid, then gives it up in one transaction: the version goes on (2), the change
 * log's floor is there (since 0 or 1: IK_EGONE, the segment log ESTALE), the store opens and
 * takes an import again. */
TEST(test_import_journal_drop)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_test_sink bytes = {0};
    struct ik_dropped_import out;
    struct ik_changeset cs;
    struct ArrowSchema gs, cs0;
    struct ArrowArray ga, ca0;
    char dir[256], path[400], nodir[300], c[6][47];
    const struct arow *rows;
    uint64_t pending = 0, gen = 0, newest = 0;
    long pid = 0;
    int n, lock_fd = -1;
    struct ik_store *st = fresh_in(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    journal_rows(&rows, &n, c);
    ASSERT_OK(arrow_rows(rows, n, &bytes, &err), &err);
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 1);
    ga.release(&ga), gs.release(&gs);
    ik_store_close(st);
    snprintf(path, sizeof path, "%s/journal/import.1.arrow", dir);

    /* refused: the journal is valid (and the check applied nothing) */
    ASSERT_FAILS(ik_store_drop_import(dir, 1, &out, &err), EEXIST, &err, "present and valid");
    ASSERT_OK(ik_store_open(dir, IK_STORE_READONLY, &st, &err), &err);
    ASSERT_OK(ik_store_pending(st, &pending, &err), &err);
    ASSERT_EQ(pending, 1);
    ASSERT_EQ(ik_store_count(st), 0);
    ik_store_close(st);
    ASSERT_TRUE(access(path, F_OK) == 0);
    /* the power cut: the journal's pages lost */
    ASSERT_TRUE(truncate(path, 0) == 0);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), IK_EFORMAT, &err, "pin drop-import 1");
    ASSERT_TRUE(strstr(err.message, "ipfs-kit --path /") != NULL); /* absolute */
    /* refused: another version, the lock held */
    ASSERT_FAILS(ik_store_drop_import(dir, 2, &out, &err), EINVAL, &err,
                 "version 2 is not a pending import");
    ASSERT_TRUE(strstr(err.message, "version 1") != NULL);
    ASSERT_OK(ik_lock_acquire(dir, &lock_fd, &pid, &err), &err);
    ASSERT_FAILS(ik_store_drop_import(dir, 1, &out, &err), IK_ELOCKED, &err, "nothing dropped");
    ik_lock_release(lock_fd, dir);
    snprintf(nodir, sizeof nodir, "%s/none", dir);
    ASSERT_TRUE(mkdir(nodir, 0700) == 0);
    ASSERT_FAILS(ik_store_drop_import(nodir, 1, &out, &err), ENOENT, &err, "no store at");
    ASSERT_OK(ik_store_open(dir, IK_STORE_READONLY, &st, &err), &err);
    ASSERT_OK(ik_store_pending(st, &pending, &err), &err);
    ASSERT_EQ(pending, 1);
    ik_store_close(st);

    /* given up */
    ASSERT_OK(ik_store_drop_import(dir, 1, &out, &err), &err);
    ASSERT_EQ(out.version, 1);
    ASSERT_EQ(out.new_version, 2);
    ASSERT_EQ(out.rows, 6);
    ASSERT_TRUE(out.bytes > 0 && out.journal_removed);
    ASSERT_TRUE(access(path, F_OK) != 0);
    ASSERT_FAILS(ik_store_drop_import(dir, 1, &out, &err), ENOENT, &err, "no import is pending");
    ASSERT_OK(ik_store_open(dir, 0, &st, &err), &err);
    ASSERT_OK(ik_store_generation(st, &gen, &err), &err);
    ASSERT_EQ(gen, 2);
    ASSERT_EQ(ik_store_count(st), 0);
    ASSERT_FAILS(ik_store_changes(st, "pin_index", 0, &cs0, &ca0, &newest, &err), IK_EGONE, &err,
                 "gone");
    ASSERT_FAILS(ik_store_changes(st, "pin_index", 1, &cs0, &ca0, &newest, &err), IK_EGONE, &err,
                 "gone");
    ASSERT_OK(ik_store_changes(st, "pin_index", 2, &cs0, &ca0, &newest, &err), &err);
    ASSERT_EQ(ca0.length, 0);
    ASSERT_EQ(newest, 2);
    ca0.release(&ca0), cs0.release(&cs0);
    /* a snapshot of version 1 (published from the journal) cannot be brought up to date */
    ASSERT_FAILS(ik_store_changes_since(st, 1, -1, &cs, &err), ESTALE, &err, "reach back");
    ik_changeset_reset(&cs);
    /* a new import works: version 3 */
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 3);
    ga.release(&ga), gs.release(&gs);
    ASSERT_OK(ik_store_apply_pending(st, NULL, &err), &err);
    ASSERT_EQ(ik_store_count(st), 6);
    ASSERT_OK(ik_store_changes(st, "pin_index", 2, &cs0, &ca0, &newest, &err), &err);
    ASSERT_EQ(ca0.length, 6);
    ca0.release(&ca0), cs0.release(&cs0);
    free(bytes.p);
    ik_store_close(st);
}

/* A pending record altered to name another file (pins.db through ".."): the drop gives the
 * import up (its journal cannot be that) but removes nothing it names. */
TEST(test_import_journal_drop_removes_only_the_journal)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_test_sink bytes = {0};
    struct ik_dropped_import out;
    struct ArrowSchema gs;
    struct ArrowArray ga;
    char dir[256], path[400], c[6][47];
    const struct arow *rows;
    uint64_t pending = 0;
    int n;
    struct ik_store *st = fresh_in(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    journal_rows(&rows, &n, c);
    ASSERT_OK(arrow_rows(rows, n, &bytes, &err), &err);
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ga.release(&ga), gs.release(&gs);
    ik_store_close(st);
    ASSERT_OK(ik_store_open(dir, IK_STORE_KEEP_PENDING, &st, &err), &err);
    ASSERT_EQ(sqlite3_exec(ik__store_db(st),
                           "UPDATE pending_imports SET file = 'journal/../pins.db'", NULL, NULL,
                           NULL),
              SQLITE_OK);
    ik_store_close(st);
    ASSERT_FAILS(ik_store_open(dir, 0, &st, &err), IK_EFORMAT, &err, "pin drop-import 1");
    ASSERT_OK(ik_store_drop_import(dir, 1, &out, &err), &err);
    ASSERT_TRUE(!out.journal_removed);
    snprintf(path, sizeof path, "%s/pins.db", dir);
    ASSERT_TRUE(access(path, F_OK) == 0);
    ASSERT_OK(ik_store_open(dir, 0, &st, &err), &err);
    ASSERT_EQ(ik_store_count(st), 0);
    ik_store_close(st);
    free(bytes.p);
}

/* A file or a link already where the journal goes: the import fails naming it, nothing is
 * committed, and the planted file is neither followed nor changed. */
TEST(test_import_journal_refuses_a_planted_file)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_test_sink bytes = {0};
    struct ArrowSchema gs;
    struct ArrowArray ga;
    char dir[256], path[400], target[400], jdir[400], c[6][47];
    const struct arow *rows;
    uint64_t pending = 7, gen = 9;
    int n;
    struct ik_store *st = fresh_in(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    journal_rows(&rows, &n, c);
    ASSERT_OK(arrow_rows(rows, n, &bytes, &err), &err);
    snprintf(jdir, sizeof jdir, "%s/journal", dir);
    snprintf(path, sizeof path, "%s/journal/import.1.arrow", dir);
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    ASSERT_TRUE(mkdir(jdir, 0700) == 0);
    ASSERT_TRUE(symlink(target, path) == 0);
    ASSERT_FAILS(
        ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
        EEXIST, &err, "import.1.arrow");
    ASSERT_EQ(pending, 0);
    ASSERT_TRUE(ga.release == NULL);
    ASSERT_TRUE(access(target, F_OK) != 0); /* not created through the link */
    ASSERT_OK(ik_store_generation(st, &gen, &err), &err);
    ASSERT_EQ(gen, 0);
    ASSERT_EQ(ik_store_count(st), 0);
    ASSERT_TRUE(unlink(path) == 0);
    /* the journal directory itself a link */
    ASSERT_TRUE(rmdir(jdir) == 0);
    ASSERT_TRUE(mkdir(target, 0700) == 0);
    ASSERT_TRUE(symlink(target, jdir) == 0);
    ASSERT_FAILS(
        ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
        ELOOP, &err, "symbolic link");
    ASSERT_OK(ik_store_generation(st, &gen, &err), &err);
    ASSERT_EQ(gen, 0);
    ASSERT_TRUE(unlink(jdir) == 0);
    /* and then it works */
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 1);
    ga.release(&ga), gs.release(&gs);
    ASSERT_OK(ik_store_apply_pending(st, NULL, &err), &err);
    ASSERT_EQ(ik_store_count(st), 6);
    free(bytes.p);
    ik_store_close(st);
}

/* A journal whose buffers are larger than the writer's staging (written straight to the file,
 * in order after what was staged) applies with its checksum: 5,000 pins, 200-byte names. */
TEST(test_import_journal_large_buffers_apply)
{
    enum { ROWS = 5000 };
    struct ik_error err;
    struct ik_import_result res;
    struct ik_test_sink bytes = {0};
    struct ArrowSchema gs;
    struct ArrowArray ga;
    struct arow *rows = calloc(ROWS, sizeof *rows);
    char(*cids)[47] = calloc(ROWS, 47), *names = calloc(ROWS, 201), dir[256];
    uint64_t pending = 0;
    int applied = 0;
    struct ik_store *st = fresh_in(dir, sizeof dir);
    ASSERT_TRUE(st != NULL && rows && cids && names);
    for (int i = 0; i < ROWS; i++) {
        ik_test_cidv0(20000 + (uint64_t)i, cids[i]);
        memset(names + 201 * i, 'a' + i % 26, 200);
        rows[i] = (struct arow){cids[i], names + 201 * i, NULL, NULL, 0};
    }
    ASSERT_OK(arrow_rows(rows, ROWS, &bytes, &err), &err);
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 1);
    ga.release(&ga), gs.release(&gs);
    ASSERT_OK(ik_store_apply_pending(st, &applied, &err), &err);
    ASSERT_EQ(applied, 1);
    ASSERT_EQ(ik_store_count(st), ROWS);
    free(bytes.p);
    free(rows);
    free(cids);
    free(names);
    ik_store_close(st);
}

/* ---- the rows built a column at a time (import_given.c), on two threads from 8192 rows ---- */

/* An IPC stream of `n` pins with every pin_index column in another type than the table's (large
 * strings, a dictionary of int16, int32 sizes, seconds and milliseconds, int64 replication,
 * uint16 counts, a plain backend string), in shuffled order, two record batches, with nulls,
 * empty names, CIDv1 in upper case and twins whose later row gives fewer columns. */
static int mixed_rows(int n, unsigned seed, struct ik_test_sink *out, struct ik_error *err)
{
    static const char *const names[IK__NCOLS] = {
        "cid",       "name",        "size_bytes", "pin_type",
        "timestamp", "metadata",    "backend",    "replication_factor",
        "verified",  "last_access", "vfs_path",   "access_count"};
    static const char *const fmts[IK__NCOLS] = {"u", "U", "i", "s",       "tss:UTC", "u",
                                                "u", "l", "b", "tsm:UTC", "u",       "S"};
    static const char v1_upper[] = "BAFYBEIGDYRZT5SFP7UDM7HU76UH7Y26NF3EFUYLQABF3OCLGTQY55FBZDI";
    static const char *const types[3] = {"recursive", "direct", "indirect"};
    struct ArrowSchema s;
    struct ik_builder *b = NULL;
    struct ik_ipc_writer *w = NULL;
    struct ik_write_options o;
    int *order = malloc((size_t)n * sizeof *order);
    int i, k, rc = 0;
    if (order == NULL || ik__schema_alloc(&s, "+s", "", NULL, 0, IK__NCOLS) != 0) {
        free(order);
        return ENOMEM;
    }
    for (k = 0; k < IK__NCOLS && rc == 0; k++) {
        rc = ik__schema_alloc(s.children[k], fmts[k], names[k], NULL, k ? ARROW_FLAG_NULLABLE : 0,
                              0);
        if (rc == 0 && k == IK__PIN_TYPE)
            rc = ik__schema_alloc_dictionary(s.children[k]) ||
                 ik__schema_alloc(s.children[k]->dictionary, "u", NULL, NULL, ARROW_FLAG_NULLABLE,
                                  0);
    }
    for (i = 0; i < n; i++)
        order[i] = i;
    for (i = n - 1; i > 0; i--) { /* shuffled: the gather reads every column at random */
        int j = (int)((unsigned)rand_r(&seed) % (unsigned)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    if (rc == 0)
        rc = ik_builder_create(&s, 0, &b, err);
    if (rc == 0)
        rc = ik_ipc_writer_create(&s, &o, ik_test_sink_write, out, &w, err);
    for (i = 0; i < n && rc == 0; i++) {
        int p = order[i], twin = p % 97 == 3; /* a later row of an earlier pin */
        char cid[47], text[96];
        ik_test_cidv0(twin ? (uint64_t)(p - 1) : (uint64_t)p, cid);
        if (p == 7 || p == 8) /* the same CIDv1, upper case twice: stored canonical, merged */
            rc = ik_builder_str(b, 0, v1_upper, strlen(v1_upper), err);
        else
            rc = ik_builder_str(b, 0, cid, strlen(cid), err);
        snprintf(text, sizeof text, "file-%d", p);
        if (rc == 0 && p % 5 != 0)
            rc = ik_builder_str(b, 1, p % 11 == 1 ? "" : text, p % 11 == 1 ? 0 : strlen(text), err);
        if (rc == 0 && p % 7 != 0 && !twin)
            rc = ik_builder_int(b, 2, p * 3, err);
        if (rc == 0 && p % 4 != 0)
            rc = ik_builder_str(b, 3, types[p % 3], strlen(types[p % 3]), err);
        if (rc == 0 && p % 6 != 0)
            rc = ik_builder_int(b, 4, 1700000000 + p, err);
        snprintf(text, sizeof text, "{\"n\":%d}", p);
        if (rc == 0 && p % 3 == 0)
            rc = ik_builder_str(b, 5, text, strlen(text), err);
        if (rc == 0 && p % 8 != 0 && !twin)
            rc = ik_builder_str(b, 6, p % 2 ? "ipfs" : "s3", p % 2 ? 4 : 2, err);
        if (rc == 0 && p % 9 != 0)
            rc = ik_builder_int(b, 7, p % 4, err);
        if (rc == 0 && p % 10 != 0)
            rc = ik_builder_bool(b, 8, p % 2 == 0, err);
        if (rc == 0 && p % 2 == 0)
            rc = ik_builder_int(b, 9, 1700000000000LL + p, err);
        snprintf(text, sizeof text, "/d/%d/f%d", p % 13, p);
        if (rc == 0 && p % 12 != 0 && !twin)
            rc = ik_builder_str(b, 10, text, strlen(text), err);
        if (rc == 0 && p % 3 != 0)
            rc = ik_builder_int(b, 11, p % 60000, err);
        if (rc == 0)
            rc = ik_builder_end_row(b, err);
        if (rc == 0 && (i == n / 3 || i == n - 1)) {
            struct ArrowArray a;
            rc = ik_builder_finish(b, NULL, NULL, &a, err);
            if (rc == 0) {
                rc = ik_ipc_writer_write(w, &a, err);
                a.release(&a);
            }
        }
    }
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    ik_ipc_writer_destroy(w);
    ik_builder_destroy(b);
    s.release(&s);
    free(order);
    return rc;
}

/* Every column of every type, twins merged, defaults filled: the rows given (built on two
 * threads) equal a read of the store, through pins and from the journal once applied. */
TEST(test_import_rows_of_every_column_equal_the_store_on_two_threads)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_import_options o;
    struct ik_test_sink bytes = {0};
    struct ArrowSchema gs = {0};
    struct ArrowArray ga = {0};
    struct pins p;
    char dir[256], why[256] = "";
    uint64_t pending = 0;
    int n = 20000;
    ASSERT_OK(mixed_rows(n, 7, &bytes, &err), &err);
    ik_import_options_init(&o);
    o.default_backend = "filecoin";
    for (int journal = 0; journal < 2; journal++) {
        struct ik_store *st = fresh_in(dir, sizeof dir);
        ASSERT_TRUE(st != NULL);
        if (journal) {
            ASSERT_OK(
                ik_store_import_journal(st, bytes.p, bytes.len, &o, &res, &gs, &ga, &pending, &err),
                &err);
            ASSERT_EQ(pending, 1);
            ASSERT_OK(ik_store_apply_pending(st, NULL, &err), &err);
        } else {
            ASSERT_OK(ik_store_import_rows(st, bytes.p, bytes.len, &o, &res, &gs, &ga, &err), &err);
        }
        ASSERT_EQ(res.imported, n);
        ASSERT_TRUE(ga.release != NULL);
        ASSERT_EQ(ga.length, n - (n + 93) / 97 - 1); /* twins (p % 97 == 3), the CIDv1 pair */
        ASSERT_OK(ik_array_validate(&gs, &ga, IK_VALIDATE_FULL, true, &err), &err);
        ASSERT_OK(ik_store_read_pins(st, &p.s, &p.b, &err), &err);
        ASSERT_EQ(p.b.length, ga.length);
        if (!ik_test_batch_equal(&p.s, &p.b, &ga, why, sizeof why))
            fprintf(stderr, "given rows differ from the store: %s\n", why);
        ASSERT_TRUE(ik_test_batch_equal(&p.s, &p.b, &ga, why, sizeof why));
        pins_release(&p);
        ga.release(&ga);
        gs.release(&gs);
        ik_store_close(st);
    }
    free(bytes.p);
}

/* The journal is a snapshot file of pin_index at its version (read-only, metadata naming both),
 * so the daemon can publish it as the base: linked, the segment holds the journal's rows. A
 * writable descriptor, another version or another table is refused (the daemon then writes). */
TEST(test_import_journal_is_the_base_segment)
{
    struct ik_error err;
    struct ik_import_result res;
    struct ik_test_sink bytes = {0};
    struct ArrowSchema gs = {0};
    struct ArrowArray ga = {0};
    struct ik_segset *set = NULL;
    struct stat a, b;
    char dir[256], path[400], seg[400], why[256] = "";
    uint64_t pending = 0;
    int fd, wfd;
    struct ik_store *st = fresh_in(dir, sizeof dir);
    ASSERT_TRUE(st != NULL);
    ASSERT_OK(mixed_rows(300, 3, &bytes, &err), &err);
    ASSERT_OK(ik_store_import_journal(st, bytes.p, bytes.len, NULL, &res, &gs, &ga, &pending, &err),
              &err);
    ASSERT_EQ(pending, 1);
    snprintf(path, sizeof path, "%s/journal/import.1.arrow", dir);
    ASSERT_TRUE(stat(path, &a) == 0);
    ASSERT_EQ(a.st_mode & 0777, 0400);
    fd = ik_store_journal_open(st, 1);
    ASSERT_TRUE(fd >= 0);
    ASSERT_TRUE(ik_store_journal_open(st, 2) < 0); /* none at 2 */
    wfd = open(path, O_RDWR); /* a writable descriptor (root may open a 0400 file so) */
    if (wfd >= 0) {
        ASSERT_FAILS(ik_segset_link_base(dir, "pin_index", 1, 1, wfd, &set, &err), EINVAL, &err,
                     "read-only");
        close(wfd);
    }
    ASSERT_FAILS(ik_segset_link_base(dir, "pin_index", 2, 1, fd, &set, &err), EINVAL, &err,
                 "not the snapshot of pin_index at 2");
    ASSERT_FAILS(ik_segset_link_base(dir, "vfs_stats", 1, 1, fd, &set, &err), EINVAL, &err,
                 "not the snapshot of vfs_stats");
    ASSERT_OK(ik_segset_link_base(dir, "pin_index", 1, 1, fd, &set, &err), &err);
    close(fd); /* the state holds its own */
    snprintf(seg, sizeof seg, "%s/snapshots/pin_index.1.arrow", dir);
    ASSERT_TRUE(stat(seg, &b) == 0);
    ASSERT_TRUE(a.st_ino == b.st_ino && a.st_dev == b.st_dev); /* one file, two names */
    ASSERT_EQ(ik_segset_version(set), 1);
    ASSERT_EQ(ik_segset_rows(set), ga.length);
    { /* the segment's file holds the rows given */
        struct ik_buffer *buf = NULL;
        struct ik_ipc_file *f = NULL;
        struct ArrowArray sb;
        int sfd = open(seg, O_RDONLY);
        ASSERT_TRUE(sfd >= 0);
        ASSERT_OK(ik_buffer_map_fd(sfd, &buf, &err), &err);
        close(sfd);
        ASSERT_OK(ik_ipc_file_open(buf, NULL, &f, &err), &err);
        ASSERT_OK(ik_ipc_file_read_batch(f, 0, &sb, &err), &err);
        ASSERT_TRUE(ik_test_batch_equal(ik_ipc_file_schema(f), &sb, &ga, why, sizeof why));
        sb.release(&sb);
        ik_ipc_file_destroy(f);
        ik_buffer_unref(buf);
    }
    ik_segset_release(set);
    /* the apply removes the journal's name only: the base stays */
    ASSERT_OK(ik_store_apply_pending(st, NULL, &err), &err);
    ASSERT_TRUE(access(path, F_OK) != 0);
    ASSERT_TRUE(stat(seg, &b) == 0 && b.st_nlink == 1);
    ga.release(&ga);
    gs.release(&gs);
    free(bytes.p);
    ik_store_close(st);
}

/* Pass 1 checks a large batch's halves on two threads: the outcome is the sequential one. The
 * first bad row fails the import, whichever half it is in; skipped, every bad row counts and
 * the first one is the one named; the good rows all land. */
TEST(test_import_arrow_checks_in_two_halves_as_in_one)
{
    enum { NR = 10000 };
    struct arow *rows = calloc(NR, sizeof *rows);
    static char cids[NR][47];
    struct ik_error err;
    struct ik_import_result res;
    struct ik_store *st;
    ASSERT_TRUE(rows != NULL);
    for (int i = 0; i < NR; i++) {
        ik_test_cidv0(40000 + (uint64_t)i, cids[i]);
        rows[i] = (struct arow){cids[i], NULL, NULL, NULL, 0};
    }
    rows[9000].cid = "Qmbad9000"; /* the second half only */
    st = fresh();
    ASSERT_FAILS(import_rows(st, rows, NR, false, &res, &err), EINVAL, &err,
                 "record batch 0 row 9000");
    ASSERT_EQ(ik_store_count(st), 0);
    rows[7000].pin_type = "sideways"; /* then a bad row in each half: the first one named */
    rows[3000].cid = "Qmbad3000";
    ASSERT_FAILS(import_rows(st, rows, NR, false, &res, &err), EINVAL, &err,
                 "record batch 0 row 3000");
    ASSERT_OK(import_rows(st, rows, NR, true, &res, &err), &err);
    ASSERT_EQ(res.imported, NR - 3);
    ASSERT_EQ(res.skipped, 3);
    ASSERT_TRUE(strstr(res.first_skip, "record batch 0 row 3000") != NULL);
    ASSERT_EQ(ik_store_count(st), NR - 3);
    rows[3000].cid = cids[3000]; /* only the second half skips: its first is named */
    ik_store_close(st);
    st = fresh();
    ASSERT_OK(import_rows(st, rows, NR, true, &res, &err), &err);
    ASSERT_EQ(res.skipped, 2);
    ASSERT_TRUE(strstr(res.first_skip, "record batch 0 row 7000") != NULL);
    ASSERT_EQ(ik_store_count(st), NR - 2);
    ik_store_close(st);
    free(rows);
}
