/* CSV pin lists (RFC 4180): a header line naming pin_index columns (cid required), then one
 * record per pin. Quoted fields may hold commas, newlines and doubled quotes. An empty unquoted
 * field is a missing value; numbers are integers, times RFC 3339 or integer microseconds,
 * booleans true/false/1/0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define MAX_FIELDS 64

struct field {
    struct ik__span s;
    bool quoted;
};

struct csv {
    const char *p, *end;
    int64_t line;  /* line of the next byte */
    char *scratch; /* decoded quoted fields with doubled quotes; as large as the input */
    size_t used;
    size_t total;
};

static int64_t count_nl(const char *p, size_t n)
{
    int64_t k = 0;
    const char *e = p + n;
    while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        k++;
        p++;
    }
    return k;
}

/* Reads one field; *last is set at the end of the record. -1 on a quoting error. */
static int field(struct csv *c, struct field *f, bool *last)
{
    f->quoted = false;
    if (c->p < c->end && *c->p == '"') {
        const char *s = ++c->p;
        char *o = NULL;
        f->quoted = true;
        for (;;) {
            const char *q = memchr(c->p, '"', (size_t)(c->end - c->p));
            if (q == NULL)
                return -1;
            if (q + 1 < c->end && q[1] == '"') { /* doubled quote: decode into scratch */
                if (o == NULL) {
                    if (c->scratch == NULL && (c->scratch = malloc(c->total + 1)) == NULL)
                        return -2;
                    o = c->scratch + c->used;
                    memcpy(o, s, (size_t)(q - s));
                    o += q - s;
                } else {
                    memcpy(o, c->p, (size_t)(q - c->p));
                    o += q - c->p;
                }
                *o++ = '"';
                c->p = q + 2;
                continue;
            }
            if (o != NULL) {
                memcpy(o, c->p, (size_t)(q - c->p));
                o += q - c->p;
                f->s.p = c->scratch + c->used;
                f->s.n = (size_t)(o - f->s.p);
                c->used += f->s.n;
            } else {
                f->s.p = s;
                f->s.n = (size_t)(q - s);
            }
            c->line += count_nl(f->s.p, f->s.n);
            c->p = q + 1;
            break;
        }
    } else {
        const char *s = c->p;
        while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '"')
            c->p++;
        if (c->p < c->end && *c->p == '"')
            return -1;
        f->s.p = s;
        f->s.n = (size_t)(c->p - s);
        if (f->s.n > 0 && s[f->s.n - 1] == '\r' && (c->p == c->end || *c->p == '\n'))
            f->s.n--;
    }
    if (c->p < c->end && *c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
        c->p++;
    if (c->p >= c->end || *c->p == '\n') {
        *last = true;
        if (c->p < c->end) {
            c->p++;
            c->line++;
        }
        return 0;
    }
    if (*c->p != ',')
        return -1;
    c->p++;
    *last = false;
    return 0;
}

/* Reads one record into f[]; returns the number of fields, -1 on a quoting error, -2 on ENOMEM,
 * -3 when there are more than MAX_FIELDS. */
static int record(struct csv *c, struct field *f)
{
    int n = 0, rc;
    bool last = false;
    c->used = 0;
    while (!last) {
        if (n == MAX_FIELDS)
            return -3;
        if ((rc = field(c, &f[n], &last)) != 0)
            return rc;
        n++;
    }
    return n;
}

static int value(struct ik__row *r, int col, const struct field *f, char *bad, size_t badsz)
{
    int64_t v;
    int b;
    if (f->s.n == 0 && !f->quoted)
        return 0;
    switch (col) {
    case IK__NAME:
        if (f->s.n == 0)
            return 0; /* as kubo: an empty name is no name */
        /* fall through */
    case IK__CID:
    case IK__PIN_TYPE:
    case IK__METADATA:
    case IK__BACKEND:
    case IK__VFS_PATH:
        ik__row_str(r, col, f->s.p, f->s.n);
        return 0;
    case IK__TIMESTAMP:
    case IK__LAST_ACCESS:
        if (ik__parse_time(f->s.p, f->s.n, &v) != 0)
            break;
        ik__row_num(r, col, v);
        return 0;
    case IK__VERIFIED:
        if ((b = ik__parse_bool(f->s.p, f->s.n)) < 0)
            break;
        ik__row_num(r, col, b);
        return 0;
    default:
        if (ik__parse_int(f->s.p, f->s.n, &v) != 0)
            break;
        ik__row_num(r, col, v);
        return 0;
    }
    snprintf(bad, badsz, "%s '%.*s' is not %s", ik__col_names[col],
             (int)(f->s.n > 40 ? 40 : f->s.n), f->s.p,
             col == IK__VERIFIED                              ? "true, false, 1 or 0"
             : col == IK__TIMESTAMP || col == IK__LAST_ACCESS ? "an RFC 3339 time or microseconds"
                                                              : "an integer");
    return -1;
}

static int syntax(int rc, int64_t line, struct ik_error *err)
{
    if (rc == -2)
        return ik_error_set(err, ENOMEM, "out of memory");
    if (rc == -3)
        return ik_error_set(err, EINVAL, "line %lld: more than %d fields", (long long)line,
                            MAX_FIELDS);
    return ik_error_set(err, EINVAL, "line %lld: bad CSV quoting", (long long)line);
}

static int header(struct csv *c, int *cols, int *ncols, struct ik_error *err)
{
    struct field f[MAX_FIELDS];
    bool has_cid = false;
    int n = record(c, f), i, k;
    if (n < 0)
        return syntax(n, 1, err);
    for (i = 0; i < n; i++) {
        cols[i] = ik__col_find(f[i].s.p, f[i].s.n);
        if (cols[i] < 0)
            return ik_error_set(err, EINVAL, "CSV header: '%.*s' is not a pin_index column",
                                (int)(f[i].s.n > 40 ? 40 : f[i].s.n), f[i].s.p);
        for (k = 0; k < i; k++)
            if (cols[k] == cols[i])
                return ik_error_set(err, EINVAL, "CSV header: column '%s' appears twice",
                                    ik__col_names[cols[i]]);
        has_cid |= cols[i] == IK__CID;
    }
    if (!has_cid)
        return ik_error_set(err, EINVAL, "CSV header: no 'cid' column");
    *ncols = n;
    return 0;
}

int ik__import_csv(struct ik__sink *s, const char *data, size_t len, struct ik_error *err)
{
    struct csv c = {data, data + len, 1, NULL, 0, len};
    struct field f[MAX_FIELDS];
    int cols[MAX_FIELDS], ncols = 0, n, i, rc;
    struct ik__row r;
    char bad[160], msg[256];

    if ((rc = header(&c, cols, &ncols, err)) != 0)
        goto out;
    while (rc == 0 && c.p < c.end) {
        int64_t line = c.line;
        if (*c.p == '\n' || (*c.p == '\r' && c.p + 1 < c.end && c.p[1] == '\n')) {
            c.p += *c.p == '\r' ? 2 : 1; /* blank line */
            c.line++;
            continue;
        }
        if ((n = record(&c, f)) < 0) {
            rc = syntax(n, line, err);
            break;
        }
        memset(&r, 0, sizeof r.given);
        bad[0] = 0;
        if (n != ncols)
            snprintf(bad, sizeof bad, "%d fields, the header has %d", n, ncols);
        for (i = 0; i < n && bad[0] == 0; i++)
            value(&r, cols[i], &f[i], bad, sizeof bad);
        if (bad[0]) {
            snprintf(msg, sizeof msg, "line %lld: %s", (long long)line, bad);
            rc = ik__sink_bad(s, msg, err);
        } else {
            rc = ik__sink_row(s, &r, "line", line, err);
        }
    }
out:
    free(c.scratch);
    return rc;
}
