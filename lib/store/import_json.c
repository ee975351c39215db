/* JSON pin lists: kubo's `ipfs pin ls --enc=json` object and JSON lines (kubo --stream, IPFS
 * Cluster `state export`, our own column names). A small hand parser: jansson builds a tree
 * per line, several times slower than the SQLite insert it feeds. Strings without escapes are
 * used in place; escaped ones are decoded into a per-row scratch buffer. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "store/store_internal.h"

#define MAX_DEPTH 64

struct jp {
    const char *p, *end, *base; /* base: start of the line, for column numbers */
    char *scratch;              /* decoded strings of the current row */
    size_t cap, used;
    bool offsets;  /* name byte offsets in messages, not columns (kubo's one-object form) */
    bool dry;      /* skipping: strings are checked, their decoded bytes thrown away */
    char sink[8];  /* where a dry decode writes (one character at a time) */
    char msg[160]; /* syntax error */
};

static int fail(struct jp *j, const char *what)
{
    if (j->msg[0] == 0)
        snprintf(j->msg, sizeof j->msg, "bad JSON: %s at %s %lld", what,
                 j->offsets ? "byte" : "column",
                 (long long)(j->p - j->base) + (j->offsets ? 0 : 1));
    return -1;
}

static void ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

static int hex4(const char *s, unsigned *v)
{
    int i;
    *v = 0;
    for (i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* Decodes the escaped string whose body starts at `s` (after the quote) into scratch. The
 * scratch buffer holds at least the row's text length, which bounds every decoded string.
 * A dry run (skip) checks the same escapes but writes each character into j->sink, so it
 * needs no scratch at all: kubo's object form skips an entry before it sizes the buffer. */
static int decode(struct jp *j, const char *s, struct ik__span *out)
{
    char *o = j->dry ? j->sink : j->scratch + j->used, *o0 = o;
    j->p = s;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (j->dry) /* a character writes at most 4 bytes */
            o = o0;
        if (c < 0x20)
            return fail(j, "control character in string");
        if (c != '\\') {
            *o++ = *j->p++;
            continue;
        }
        if (j->end - j->p < 2)
            return fail(j, "unterminated string");
        c = (unsigned char)j->p[1];
        j->p += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)c;
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (j->end - j->p < 4 || hex4(j->p, &cp) != 0)
                return fail(j, "bad \\u escape");
            j->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                    hex4(j->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                    return fail(j, "unpaired surrogate");
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return fail(j, "unpaired surrogate");
            }
            o = put_utf8(o, cp);
            break;
        }
        default:
            return fail(j, "bad escape");
        }
    }
    if (j->p >= j->end)
        return fail(j, "unterminated string");
    j->p++;
    out->p = o0;
    out->n = j->dry ? 0 : (size_t)(o - o0);
    j->used += out->n;
    return 0;
}

static int string(struct jp *j, struct ik__span *out)
{
    const char *s;
    if (j->p >= j->end || *j->p != '"')
        return fail(j, "expected a string");
    s = ++j->p;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            out->p = s;
            out->n = (size_t)(j->p - s);
            j->p++;
            return 0;
        }
        if (c == '\\')
            return decode(j, s, out);
        if (c < 0x20)
            return fail(j, "control character in string");
        j->p++;
    }
    return fail(j, "unterminated string");
}

static bool lit(struct jp *j, const char *w, size_t n)
{
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, w, n) == 0) {
        j->p += n;
        return true;
    }
    return false;
}

static int number(struct jp *j)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return fail(j, "bad value");
    while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || *j->p == '.' || *j->p == 'e' ||
                             *j->p == 'E' || *j->p == '+' || *j->p == '-'))
        j->p++;
    return j->p > s ? 0 : fail(j, "bad number");
}

/* Skips any value, checking its syntax (numbers loosely); see skip(). */
static int skip_value(struct jp *j, int depth)
{
    struct ik__span s;
    char close;
    if (depth > MAX_DEPTH)
        return fail(j, "nested too deeply");
    ws(j);
    if (j->p >= j->end)
        return fail(j, "expected a value");
    switch (*j->p) {
    case '"':
        return string(j, &s);
    case 't':
        return lit(j, "true", 4) ? 0 : fail(j, "bad value");
    case 'f':
        return lit(j, "false", 5) ? 0 : fail(j, "bad value");
    case 'n':
        return lit(j, "null", 4) ? 0 : fail(j, "bad value");
    case '{':
    case '[':
        close = *j->p == '{' ? '}' : ']';
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (close == '}') {
                ws(j);
                if (string(j, &s) != 0)
                    return -1;
                ws(j);
                if (!lit(j, ":", 1))
                    return fail(j, "expected ':'");
            }
            if (skip_value(j, depth + 1) != 0)
                return -1;
            ws(j);
            if (lit(j, ",", 1))
                continue;
            if (lit(j, &close, 1))
                return 0;
            return fail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    default:
        return number(j);
    }
}

/* Skips a value without decoding its strings into the scratch buffer (a dry run). */
static int skip(struct jp *j, int depth)
{
    bool was = j->dry;
    int rc;
    j->dry = true;
    rc = skip_value(j, depth);
    j->dry = was;
    return rc;
}

/* The value kinds a field may have. */
enum vk { V_NULL, V_STR, V_NUM, V_BOOL, V_OBJ, V_OTHER };

struct val {
    enum vk kind;
    struct ik__span s; /* string contents, or the raw text of a number / object / array */
    bool b;
};

static int value(struct jp *j, struct val *v)
{
    const char *s;
    ws(j);
    s = j->p;
    v->kind = V_OTHER;
    if (j->p < j->end && *j->p == '"') {
        v->kind = V_STR;
        return string(j, &v->s);
    }
    if (lit(j, "null", 4)) {
        v->kind = V_NULL;
        return 0;
    }
    if (lit(j, "true", 4) || lit(j, "false", 5)) {
        v->kind = V_BOOL;
        v->b = *s == 't';
        return 0;
    }
    if (j->p < j->end && (*j->p == '{' || *j->p == '['))
        v->kind = *j->p == '{' ? V_OBJ : V_OTHER;
    else
        v->kind = V_NUM;
    if (skip(j, 0) != 0)
        return -1;
    v->s.p = s;
    v->s.n = (size_t)(j->p - s);
    return 0;
}

/* What a JSON key means. */
enum key {
    K_IGNORE = -1,
    K_CLUSTER_MODE = IK__NCOLS, /* Cluster "mode": pin type */
    K_CLUSTER_RFMIN,            /* Cluster "replication_factor_min": -1 means every peer */
    K_TYPE, /* kubo "Type" / "type": a string pin type (Cluster's is a number) */
};

static int key_of(struct ik__span k)
{
    int c;
    switch (k.n) {
    case 3:
        if (memcmp(k.p, "Cid", 3) == 0)
            return IK__CID;
        break;
    case 4:
        if (memcmp(k.p, "Name", 4) == 0)
            return IK__NAME;
        if (memcmp(k.p, "Type", 4) == 0 || memcmp(k.p, "type", 4) == 0)
            return K_TYPE;
        if (memcmp(k.p, "mode", 4) == 0)
            return K_CLUSTER_MODE;
        break;
    case 22:
        if (memcmp(k.p, "replication_factor_min", 22) == 0)
            return K_CLUSTER_RFMIN;
        break;
    }
    c = ik__col_find(k.p, k.n);
    return c >= 0 ? c : K_IGNORE;
}

/* Sets row field `c` from v; a wrong kind becomes the row's error (not a syntax error). */
static void set_field(struct ik__row *r, int c, const struct val *v, char *bad, size_t badsz)
{
    int64_t x;
    if (v->kind == V_NULL)
        return;
    if (c == K_TYPE) {
        if (v->kind != V_STR)
            return; /* Cluster's numeric pin type (data, meta, shard…): not ours */
        c = IK__PIN_TYPE;
    } else if (c == K_CLUSTER_MODE) {
        c = IK__PIN_TYPE;
    }
    if (c == IK__PIN_TYPE && v->kind == V_STR && v->s.n > 17 &&
        memcmp(v->s.p, "indirect through ", 17) == 0) {
        ik__row_str(r, c, v->s.p, 8);
        return;
    }
    if (c == IK__METADATA && v->kind == V_OBJ) {
        ik__row_str(r, c, v->s.p, v->s.n);
        return;
    }
    if (ik__col_is_str(c)) {
        if (v->kind != V_STR)
            snprintf(bad, badsz, "%s is not a string", ik__col_names[c]);
        else if (c != IK__NAME || v->s.n > 0) /* kubo writes "" for no name */
            ik__row_str(r, c, v->s.p, v->s.n);
        return;
    }
    if (c == IK__VERIFIED) {
        if (v->kind == V_BOOL)
            ik__row_num(r, c, v->b);
        else
            snprintf(bad, badsz, "verified is not a boolean");
        return;
    }
    if ((c == IK__TIMESTAMP || c == IK__LAST_ACCESS) && v->kind == V_STR) {
        if (ik__parse_time(v->s.p, v->s.n, &x) == 0)
            ik__row_num(r, c, x);
        else
            snprintf(bad, badsz, "%s '%.*s' is not an RFC 3339 time", ik__col_names[c],
                     (int)(v->s.n > 40 ? 40 : v->s.n), v->s.p);
        return;
    }
    if (v->kind != V_NUM || ik__parse_int(v->s.p, v->s.n, &x) != 0) {
        snprintf(bad, badsz, "%s is not an integer",
                 c == K_CLUSTER_RFMIN ? "replication_factor_min" : ik__col_names[c]);
        return;
    }
    if (c == K_CLUSTER_RFMIN) {
        ik__row_num(r, IK__REPLICATION_FACTOR, x < 0 ? 0 : x);
        return;
    }
    ik__row_num(r, c, x);
}

/* Parses Cluster's {"/": "Qm…"} CID form. */
static int cid_link(struct jp *j, struct val *v)
{
    struct jp sub = *j;
    struct ik__span k;
    sub.p = v->s.p + 1;
    sub.end = v->s.p + v->s.n - 1;
    ws(&sub);
    if (string(&sub, &k) != 0 || k.n != 1 || k.p[0] != '/')
        return -1;
    ws(&sub);
    if (!lit(&sub, ":", 1))
        return -1;
    ws(&sub);
    if (string(&sub, &v->s) != 0)
        return -1;
    j->used = sub.used;
    v->kind = V_STR;
    return 0;
}

/* Parses one pin object at j->p into r. A syntax error returns -1 (message in j->msg); a bad
 * field leaves its reason in `bad`. */
static int object(struct jp *j, struct ik__row *r, char *bad, size_t badsz)
{
    struct ik__span k;
    struct val v;
    memset(r, 0, offsetof(struct ik__row, str));
    ws(j);
    if (!lit(j, "{", 1))
        return fail(j, "expected '{'");
    ws(j);
    if (lit(j, "}", 1))
        return 0;
    for (;;) {
        int c;
        ws(j);
        if (string(j, &k) != 0)
            return -1;
        ws(j);
        if (!lit(j, ":", 1))
            return fail(j, "expected ':'");
        if (value(j, &v) != 0)
            return -1;
        c = key_of(k);
        if (c == IK__CID && v.kind == V_OBJ && cid_link(j, &v) != 0)
            snprintf(bad, badsz, "cid is neither a string nor {\"/\": string}");
        else if (c != K_IGNORE && bad[0] == 0)
            set_field(r, c, &v, bad, badsz);
        ws(j);
        if (lit(j, ",", 1))
            continue;
        if (lit(j, "}", 1))
            return 0;
        return fail(j, "expected ',' or '}'");
    }
}

/* Makes the scratch buffer hold at least n bytes (only between rows: spans point into it). */
static int reserve(struct jp *j, size_t n, struct ik_error *err)
{
    j->used = 0;
    if (n <= j->cap)
        return 0;
    free(j->scratch);
    j->cap = n < 4096 ? 4096 : n;
    j->scratch = malloc(j->cap);
    if (j->scratch == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

static int row_done(struct ik__sink *s, struct jp *j, int prc, struct ik__row *r, const char *bad,
                    int64_t line, struct ik_error *err)
{
    char msg[256];
    if (prc != 0) {
        snprintf(msg, sizeof msg, "line %lld: %s", (long long)line, j->msg);
        return ik__sink_bad(s, msg, err);
    }
    if (bad[0]) {
        snprintf(msg, sizeof msg, "line %lld: %s", (long long)line, bad);
        return ik__sink_bad(s, msg, err);
    }
    return ik__sink_row(s, r, "line", line, err);
}

static int64_t count_lines(const char *from, const char *to)
{
    int64_t n = 0;
    while ((from = memchr(from, '\n', (size_t)(to - from))) != NULL) {
        n++;
        from++;
    }
    return n;
}

#define PREFETCH 8 /* lines ahead in pass 2 */

/* The start of the line holding `at`. */
static const char *line_of(const char *data, const char *at)
{
    while (at > data && at[-1] != '\n') /* the CID is near the start: kubo's 8 bytes in */
        at--;
    return at;
}

/* Parses the line at `p` (up to its newline or `end`); 0 for an empty line, 1 for a row, -1 on a
 * syntax error (j->msg). */
static int parse_line(struct jp *j, const char *p, const char *end, struct ik__row *r, char *bad,
                      size_t badsz, struct ik_error *err, int *rc)
{
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    int prc;
    j->base = j->p = p;
    j->end = eol ? eol : end;
    ws(j);
    if (j->p == j->end)
        return 0;
    if ((*rc = reserve(j, (size_t)(j->end - j->p), err)) != 0)
        return -2;
    j->msg[0] = bad[0] = 0;
    prc = object(j, r, bad, badsz);
    if (prc == 0) {
        ws(j);
        if (j->p != j->end)
            prc = fail(j, "text after the object");
    }
    return prc == 0 ? 1 : -1;
}

/* Two passes: every line is parsed and checked first (bad ones fail or are skipped), then the
 * good lines are sorted by CID and parsed again to be inserted in key order — SQLite appends
 * to its B-tree instead of splitting random pages, about twice as fast for 1M pins. A line
 * whose CID has escapes (decoded into the scratch buffer, gone by the sort) is entered with
 * its line start and length 0, and then the lines go in file order. */
int ik__import_jsonl(struct ik__sink *s, const char *data, size_t len, struct ik_error *err)
{
    struct jp j = {0};
    const char *p = data, *end = data + len;
    struct ik__pending_list todo = {0};
    size_t i;
    int64_t line = 0;
    int rc = 0;
    bool all_plain = true;
    struct ik__row r;
    char bad[160], msg[IK_ERROR_SIZE + 32];
    struct ik_error e;

    for (; rc == 0 && p < end; line++) {
        const char *at = p;
        struct ik__span cid;
        int k = parse_line(&j, p, end, &r, bad, sizeof bad, err, &rc);
        p = j.end < end ? j.end + 1 : end;
        if (k == -2 || k == 0)
            continue;
        if (k < 0 || bad[0] || ik__row_check(&r, &e) != 0) {
            snprintf(msg, sizeof msg, "line %lld: %s", (long long)line + 1,
                     k < 0    ? j.msg
                     : bad[0] ? bad
                              : e.message);
            rc = ik__sink_bad(s, msg, err);
            continue;
        }
        cid = r.str[IK__CID];
        if (cid.p >= j.scratch && cid.p < j.scratch + j.cap) {
            all_plain = false;
            cid.p = at;
            cid.n = 0;
        }
        s->paths += IK__HAS(&r, IK__VFS_PATH);
        rc = ik__pending_add(&todo, cid.p, cid.n, todo.n, err);
    }
    if (rc == 0 && all_plain)
        ik__pending_sort(&todo);
    if (rc == 0)
        rc = ik__defer_vfs_index(s->st, s->paths, err);
    if (rc == 0)
        ik__stop_point("import-pass2");
    for (i = 0; i < todo.n && rc == 0; i++) {
        const char *at;
        if (i + PREFETCH < todo.n) { /* the lines come in cid order, i.e. from all over the input */
            __builtin_prefetch(todo.v[i + PREFETCH].cid);
            __builtin_prefetch(todo.v[i + PREFETCH].cid + 64);
        }
        at = line_of(data, todo.v[i].cid);
        /* Pass 1 parsed and checked this line: failing now means the input changed under us
         * (it is a private copy, so a bug). Never a silent end with success. */
        if (parse_line(&j, at, end, &r, bad, sizeof bad, err, &rc) != 1 || bad[0]) {
            if (rc == 0)
                rc =
                    ik_error_set(err, EIO, "line %lld: parsed in the first pass, not in the second",
                                 (long long)(1 + count_lines(data, at)));
            break;
        }
        if ((rc = ik__upsert(s->st, &r, s->now, s->opts->default_backend, err)) != 0)
            rc = ik_error_prefix(err, rc, "line %lld", (long long)(1 + count_lines(data, at)));
        else
            s->res->imported++;
    }
    ik__pending_free(&todo);
    free(j.scratch);
    return rc;
}

/* {"Keys": {cid: {"Type": …, "Name": …}, …}}: one entry at a time; an entry's span is found
 * by skipping it first so its strings can be decoded into a buffer of the right size. */
int ik__import_kubo_json(struct ik__sink *s, const char *data, size_t len, struct ik_error *err)
{
    struct jp j = {0};
    struct ik__span k;
    struct ik__row r;
    const char *line_at;
    int64_t line = 1;
    char bad[160], msg[256];
    int rc = 0;

    j.base = j.p = data;
    j.end = data + len;
    j.offsets = true;
    ws(&j);
    if (!lit(&j, "{", 1) || (ws(&j), !lit(&j, "\"Keys\"", 6)) || (ws(&j), !lit(&j, ":", 1)) ||
        (ws(&j), !lit(&j, "{", 1))) {
        fail(&j, "expected {\"Keys\": {");
        goto syntax;
    }
    ws(&j);
    if (lit(&j, "}", 1))
        goto tail;
    line_at = data;
    for (;;) {
        const char *entry = j.p;
        struct val v;
        ws(&j);
        line += count_lines(line_at, j.p);
        line_at = j.p;
        /* the key is checked only: it is decoded in the second pass, into a sized buffer */
        if (j.p >= j.end || *j.p != '"') {
            fail(&j, "expected a string");
            goto syntax;
        }
        if (skip(&j, 0) != 0)
            goto syntax;
        ws(&j);
        if (!lit(&j, ":", 1)) {
            fail(&j, "expected ':'");
            goto syntax;
        }
        if (skip(&j, 0) != 0)
            goto syntax;
        /* second pass over the entry, decoding */
        if ((rc = reserve(&j, (size_t)(j.p - entry), err)) != 0)
            goto out;
        j.p = entry;
        ws(&j);
        (void)string(&j, &k);
        ws(&j);
        j.p++;
        bad[0] = 0;
        ws(&j);
        if (j.p < j.end && *j.p == '{') {
            if (object(&j, &r, bad, sizeof bad) != 0)
                goto syntax;
        } else {
            (void)value(&j, &v);
            memset(&r, 0, offsetof(struct ik__row, str));
            snprintf(bad, sizeof bad, "the value of a key is not an object");
        }
        if (bad[0] == 0 && IK__HAS(&r, IK__CID))
            snprintf(bad, sizeof bad, "an entry under Keys has its own Cid");
        ik__row_str(&r, IK__CID, k.p, k.n);
        if ((rc = row_done(s, &j, 0, &r, bad, line, err)) != 0)
            goto out;
        ws(&j);
        if (lit(&j, ",", 1))
            continue;
        if (lit(&j, "}", 1))
            break;
        fail(&j, "expected ',' or '}'");
        goto syntax;
    }
tail:
    ws(&j);
    if (!lit(&j, "}", 1))
        goto syntax;
    ws(&j);
    if (j.p != j.end) {
        fail(&j, "text after the object");
        goto syntax;
    }
    goto out;
syntax:
    fail(&j, "unexpected input");
    line = 1 + count_lines(data, j.p);
    snprintf(msg, sizeof msg, "line %lld: %s", (long long)line, j.msg);
    rc = ik_error_set(err, EINVAL, "%s", msg);
out:
    free(j.scratch);
    return rc;
}
