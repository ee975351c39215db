/* The row printers behind `ipfs-kit arrow cat`: JSON Lines, RFC 4180 CSV and an aligned text
 * table, over any number of batches with a row limit. Values are spelled by print_value.c;
 * this file lays them out. The table holds up to TABLE_CHUNK rows to size its columns, prints
 * them, and keeps those widths for the rows after. */
#include <stdlib.h>

#include "arrow/print_internal.h"

#define TABLE_CHUNK 1000 /* rows held to size table columns */
#define CELL_MAX 40      /* display width of a table cell, ellipsis included */
#define FLUSH_AT 65536   /* bytes of JSON/CSV output gathered before a write */
#define ELLIPSIS "\xe2\x80\xa6"

struct cell {
    size_t off, len, width; /* text in the arena */
};

struct ik_printer {
    FILE *out;
    enum ik_print_format fmt;
    int64_t limit, printed;
    struct ik__pnode root; /* the schema's struct: one child per column */
    int64_t ncol;
    struct ik__sb value; /* one rendered value */
    struct ik__sb line;  /* pending output */
    bool header_done;
    /* table */
    struct ik__sb arena; /* text of held cells, then of the header cells */
    struct cell *cells;  /* held rows x ncol */
    int64_t held;
    struct ik__sb head_text;
    struct cell *head; /* ncol header cells */
    size_t *widths;
    bool widths_fixed;
};

bool ik_printer_done(const struct ik_printer *p)
{
    return p->limit >= 0 && p->printed >= p->limit;
}

static int write_out(struct ik_printer *p, struct ik_error *err)
{
    if (p->line.oom)
        return ik_error_set(err, ENOMEM, "out of memory rendering rows");
    if (p->line.len && fwrite(p->line.p, 1, p->line.len, p->out) != p->line.len)
        return ik_error_set(err, EIO, "writing output: %s", strerror(errno));
    p->line.len = 0;
    return 0;
}

/* Appends a text as one cell: sanitised for a terminal, cut to CELL_MAX columns with "…". */
static void add_cell(struct ik__sb *arena, struct cell *c, const char *text, size_t n)
{
    size_t cut, width = ik__text_width(text, n, CELL_MAX - 1, &cut);
    c->off = arena->len;
    if (width > CELL_MAX) {
        ik__sb_add(arena, text, cut);
        ik__sb_add(arena, ELLIPSIS, sizeof ELLIPSIS - 1);
        width = ik__text_width(text, cut, CELL_MAX, &n) + 1;
    } else {
        ik__sb_add(arena, text, n);
    }
    c->len = arena->len - c->off;
    c->width = width;
}

int ik_printer_create(FILE *out, const struct ArrowSchema *schema, enum ik_print_format fmt,
                      int64_t limit, struct ik_printer **p_out, struct ik_error *err)
{
    struct ik_printer *p;
    struct ik__sb name = {0};
    int64_t c;
    int rc;
    if (out == NULL || schema == NULL || p_out == NULL)
        return ik_error_set(err, EINVAL, "printer needs an output, a schema and a result");
    if (fmt != IK_PRINT_TABLE && fmt != IK_PRINT_JSON && fmt != IK_PRINT_CSV)
        return ik_error_set(err, EINVAL, "unknown print format %d", (int)fmt);
    if (schema->format == NULL || strcmp(schema->format, "+s") != 0)
        return ik_error_set(err, EINVAL, "a batch schema is a struct ('+s'), not '%.32s'",
                            schema->format ? schema->format : "(null)");
    if ((p = calloc(1, sizeof *p)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    p->out = out;
    p->fmt = fmt;
    p->limit = limit;
    if ((rc = ik__pnode_build(&p->root, schema, err)) != 0) {
        free(p);
        return rc;
    }
    p->ncol = p->root.n_children;
    if (fmt == IK_PRINT_TABLE) {
        p->cells = calloc((size_t)(TABLE_CHUNK * (p->ncol ? p->ncol : 1)), sizeof *p->cells);
        p->head = calloc((size_t)(p->ncol ? p->ncol : 1), sizeof *p->head);
        p->widths = calloc((size_t)(p->ncol ? p->ncol : 1), sizeof *p->widths);
        for (c = 0; c < p->ncol; c++) {
            const char *nm = p->root.children[c].name;
            name.len = 0;
            ik__put_text(&name, (const uint8_t *)nm, strlen(nm), IK__PM_TABLE);
            add_cell(&p->head_text, &p->head[c], name.p ? name.p : "", name.len);
        }
        rc = name.oom || p->head_text.oom;
        ik__sb_free(&name);
        if (p->cells == NULL || p->head == NULL || p->widths == NULL || rc) {
            ik_printer_destroy(p);
            return ik_error_set(err, ENOMEM, "out of memory");
        }
    }
    *p_out = p;
    return 0;
}

/* RFC 4180: quoted (quotes doubled) only when it holds a comma, quote, CR or LF. */
static void csv_field(struct ik__sb *line, const char *v, size_t n)
{
    size_t i, start = 0;
    bool quote = false;
    for (i = 0; i < n && !quote; i++)
        quote = v[i] == ',' || v[i] == '"' || v[i] == '\r' || v[i] == '\n';
    if (!quote) {
        ik__sb_add(line, v, n);
        return;
    }
    ik__sb_addc(line, '"');
    for (i = 0; i < n; i++) {
        if (v[i] == '"') {
            ik__sb_add(line, v + start, i + 1 - start); /* through the quote, then it again */
            start = i;
        }
    }
    ik__sb_add(line, v + start, n - start);
    ik__sb_addc(line, '"');
}

static void csv_header(struct ik_printer *p)
{
    int64_t c;
    for (c = 0; c < p->ncol; c++) {
        const char *nm = p->root.children[c].name;
        if (c)
            ik__sb_addc(&p->line, ',');
        p->value.len = 0;
        ik__put_text(&p->value, (const uint8_t *)nm, strlen(nm), IK__PM_CSV);
        csv_field(&p->line, p->value.p ? p->value.p : "", p->value.len);
    }
    ik__sb_addc(&p->line, '\n');
    p->header_done = true;
}

static void pad(struct ik__sb *line, size_t n)
{
    static const char spaces[] = "                                        ";
    while (n > 0) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        ik__sb_add(line, spaces, k);
        n -= k;
    }
}

/* One table line: numbers right-aligned, text left-aligned, no trailing blanks. */
static void table_line(struct ik_printer *p, const struct cell *cells, const char *text)
{
    int64_t c;
    for (c = 0; c < p->ncol; c++) {
        const struct cell *x = &cells[c];
        size_t gap = p->widths[c] > x->width ? p->widths[c] - x->width : 0;
        if (c)
            ik__sb_add(&p->line, "  ", 2);
        if (p->root.children[c].numeric)
            pad(&p->line, gap);
        if (x->len)
            ik__sb_add(&p->line, text + x->off, x->len);
        if (!p->root.children[c].numeric && c + 1 < p->ncol)
            pad(&p->line, gap);
    }
    ik__sb_addc(&p->line, '\n');
}

static int flush_table(struct ik_printer *p, struct ik_error *err)
{
    int64_t r, c;
    if (!p->widths_fixed) {
        for (c = 0; c < p->ncol; c++) {
            p->widths[c] = p->head[c].width;
            for (r = 0; r < p->held; r++)
                if (p->cells[r * p->ncol + c].width > p->widths[c])
                    p->widths[c] = p->cells[r * p->ncol + c].width;
        }
        p->widths_fixed = true;
    }
    if (!p->header_done) {
        table_line(p, p->head, p->head_text.p);
        for (c = 0; c < p->ncol; c++) {
            size_t k;
            if (c)
                ik__sb_add(&p->line, "  ", 2);
            for (k = 0; k < p->widths[c]; k++)
                ik__sb_addc(&p->line, '-');
        }
        ik__sb_addc(&p->line, '\n');
        p->header_done = true;
    }
    for (r = 0; r < p->held; r++)
        table_line(p, &p->cells[r * p->ncol], p->arena.p);
    p->held = 0;
    p->arena.len = 0;
    return write_out(p, err);
}

/* Renders row r of the batch into the pending output (JSON, CSV) or the held cells (table). */
static int render_row(struct ik_printer *p, const struct ArrowArray *batch, int64_t r,
                      struct ik_error *err)
{
    int64_t c, slot = batch->offset + r;
    int rc = 0;
    if (p->fmt == IK_PRINT_JSON)
        ik__sb_addc(&p->line, '{');
    for (c = 0; c < p->ncol && rc == 0; c++) {
        const struct ik__pnode *n = &p->root.children[c];
        const struct ArrowArray *col = batch->children[c];
        if (p->fmt == IK_PRINT_JSON) {
            if (c)
                ik__sb_addc(&p->line, ',');
            ik__sb_add(&p->line, n->key, n->key_len);
            rc = ik__render(&p->line, n, col, slot, IK__PM_JSON, err);
            continue;
        }
        p->value.len = 0;
        rc = ik__render(&p->value, n, col, slot, p->fmt == IK_PRINT_CSV ? IK__PM_CSV : IK__PM_TABLE,
                        err);
        if (p->fmt == IK_PRINT_CSV) {
            if (c)
                ik__sb_addc(&p->line, ',');
            csv_field(&p->line, p->value.p ? p->value.p : "", p->value.len);
        } else {
            add_cell(&p->arena, &p->cells[p->held * p->ncol + c], p->value.p ? p->value.p : "",
                     p->value.len);
        }
    }
    if (rc != 0)
        return ik_error_prefix(err, rc, "column '%s' row %lld", p->root.children[c - 1].name,
                               (long long)p->printed);
    if (p->value.oom || p->arena.oom)
        return ik_error_set(err, ENOMEM, "out of memory rendering rows");
    if (p->fmt == IK_PRINT_JSON)
        ik__sb_add(&p->line, "}\n", 2);
    else if (p->fmt == IK_PRINT_CSV)
        ik__sb_addc(&p->line, '\n');
    else
        p->held++;
    return 0;
}

static int check_batch(const struct ik_printer *p, const struct ArrowArray *batch,
                       struct ik_error *err)
{
    int64_t c;
    int rc;
    if (batch->length < 0 || batch->offset < 0 || batch->offset > INT64_MAX - batch->length)
        return ik_error_set(err, EINVAL, "batch has length %lld, offset %lld",
                            (long long)batch->length, (long long)batch->offset);
    if (batch->n_children != p->ncol || (p->ncol > 0 && batch->children == NULL))
        return ik_error_set(err, EINVAL, "batch has %lld columns, schema %lld",
                            (long long)batch->n_children, (long long)p->ncol);
    for (c = 0; c < p->ncol; c++) {
        const struct ArrowArray *col = batch->children[c];
        if ((rc = ik__pnode_check(&p->root.children[c], col, err)) != 0)
            return ik_error_prefix(err, rc, "column '%s'", p->root.children[c].name);
        if (col->length < batch->offset + batch->length)
            return ik_error_set(err, IK_EINVALID, "column '%s' has %lld rows, batch %lld",
                                p->root.children[c].name, (long long)col->length,
                                (long long)(batch->offset + batch->length));
    }
    return 0;
}

int ik_printer_batch(struct ik_printer *p, const struct ArrowArray *batch, struct ik_error *err)
{
    int64_t r, n;
    int rc;
    if (p == NULL || batch == NULL)
        return ik_error_set(err, EINVAL, "no printer or batch");
    if (ik_printer_done(p))
        return 0;
    if ((rc = check_batch(p, batch, err)) != 0)
        return rc;
    if (p->fmt == IK_PRINT_CSV && !p->header_done)
        csv_header(p);
    n = batch->length;
    if (p->limit >= 0 && n > p->limit - p->printed)
        n = p->limit - p->printed;
    for (r = 0; r < n; r++) {
        size_t mark = p->line.len;
        if ((rc = render_row(p, batch, r, err)) != 0) {
            p->line.len = mark; /* drop the partial row, keep the rows before it */
            write_out(p, NULL);
            return rc;
        }
        p->printed++;
        if (p->fmt == IK_PRINT_TABLE ? p->held == TABLE_CHUNK : p->line.len >= FLUSH_AT) {
            rc = p->fmt == IK_PRINT_TABLE ? flush_table(p, err) : write_out(p, err);
            if (rc != 0)
                return rc;
        }
    }
    return write_out(p, err);
}

int ik_printer_finish(struct ik_printer *p, struct ik_error *err)
{
    int rc;
    if (p == NULL)
        return ik_error_set(err, EINVAL, "no printer");
    if (p->fmt == IK_PRINT_CSV && !p->header_done)
        csv_header(p);
    if (p->fmt == IK_PRINT_TABLE)
        rc = flush_table(p, err);
    else
        rc = write_out(p, err);
    if (rc != 0)
        return rc;
    if (fflush(p->out) != 0 || ferror(p->out))
        return ik_error_set(err, EIO, "writing output: %s", strerror(errno));
    return 0;
}

void ik_printer_destroy(struct ik_printer *p)
{
    if (p == NULL)
        return;
    ik__pnode_free(&p->root);
    ik__sb_free(&p->value);
    ik__sb_free(&p->line);
    ik__sb_free(&p->arena);
    ik__sb_free(&p->head_text);
    free(p->cells);
    free(p->head);
    free(p->widths);
    free(p);
}
