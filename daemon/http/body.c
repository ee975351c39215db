/* Response bodies of the table endpoints: content negotiation by Accept, and the bodies
 * themselves. Arrow goes out as a chunked IPC stream (schema, one record batch, end of stream)
 * with optional IPC buffer compression named in Content-Type's codecs parameter and never a
 * Content-Encoding; uncompressed buffers that lie in the snapshot mapping are not copied
 * before libmicrohttpd reads them into its send buffer. JSON (an array, as `pin list --format
 * json`), JSON lines and CSV (as `--format csv`) are rendered into one buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "ipfskit/json_rows.h"

#define ARROW_TYPE "application/vnd.apache.arrow.stream"
#define BLOCK (256 * 1024)

/* ---- Accept ----------------------------------------------------------------------------- */

static const char *const media[IK_FMT_COUNT] = {ARROW_TYPE, "application/json",
                                                "application/x-ndjson", "text/csv"};

/* The next media range of an Accept header: [*s, end) at a comma outside quotes. */
static const char *next_range(const char *s, const char **end)
{
    bool quoted = false;
    const char *p = s;
    for (; *p && (quoted || *p != ','); p++)
        if (*p == '"')
            quoted = !quoted;
    *end = p;
    return s;
}

static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* The first codec of a codecs="…" list that we support. */
static int codecs(const char *b, const char *e)
{
    while (b < e) {
        const char *p = b;
        while (p < e && *p != ',' && *p != '"')
            p++;
        const char *tb = b, *te = p;
        trim(&tb, &te);
        if (te - tb == 4 && strncasecmp(tb, "zstd", 4) == 0)
            return IK_COMPRESSION_ZSTD;
        if (te - tb == 3 && strncasecmp(tb, "lz4", 3) == 0)
            return IK_COMPRESSION_LZ4;
        b = p + 1;
    }
    return IK_COMPRESSION_NONE;
}

static int match(const char *b, const char *e)
{
    size_t n = (size_t)(e - b);
    if ((n == 3 && strncmp(b, "*/*", 3) == 0) || (n == 13 && strncmp(b, "application/*", n) == 0))
        return IK_FMT_ARROW;
    if (n == 6 && strncmp(b, "text/*", 6) == 0)
        return IK_FMT_CSV;
    for (int f = 0; f < IK_FMT_COUNT; f++)
        if (strlen(media[f]) == n && strncasecmp(b, media[f], n) == 0)
            return f;
    return -1;
}

int ik__http_negotiate(const char *accept, int *compression)
{
    double best_q = 0;
    int best = -1;
    *compression = IK_COMPRESSION_NONE;
    if (!accept || !*accept)
        return IK_FMT_ARROW;
    for (const char *s = accept, *end; *s; s = *end ? end + 1 : end) {
        const char *b = next_range(s, &end), *tb = b, *te;
        double q = 1;
        int comp = IK_COMPRESSION_NONE, f;
        const char *semi = memchr(b, ';', (size_t)(end - b));
        te = semi ? semi : end;
        trim(&tb, &te);
        if ((f = match(tb, te)) < 0)
            continue;
        for (const char *p = semi; p && p < end;) {
            const char *pe = memchr(p + 1, ';', (size_t)(end - p - 1)), *pb = p + 1;
            pe = pe ? pe : end;
            trim(&pb, &pe);
            if (pe - pb > 2 && strncasecmp(pb, "q=", 2) == 0)
                q = strtod(pb + 2, NULL);
            else if (pe - pb > 7 && strncasecmp(pb, "codecs=", 7) == 0)
                comp = codecs(pb + 7, pe);
            p = pe < end ? pe : NULL;
        }
        if (q > best_q) {
            best_q = q;
            best = f;
            *compression = f == IK_FMT_ARROW ? comp : IK_COMPRESSION_NONE;
        }
    }
    return best;
}

const char *ik__http_content_type(int format, int compression, char *buf, size_t cap)
{
    if (format == IK_FMT_ARROW && compression != IK_COMPRESSION_NONE) {
        snprintf(buf, cap, ARROW_TYPE "; codecs=\"%s\"",
                 compression == IK_COMPRESSION_ZSTD ? "zstd" : "lz4");
        return buf;
    }
    if (format == IK_FMT_CSV)
        return "text/csv; charset=utf-8";
    return media[format];
}

/* ---- Arrow: segments of the IPC stream, referenced in the mapping or copied -------------- */

struct seg {
    const uint8_t *ref; /* in the mapping, or NULL: `len` bytes at `off` in the copy buffer */
    size_t off, len;
};

struct arrow_body {
    struct ik_http_result r;
    struct seg *segs;
    size_t n_segs, cap_segs, cur, cur_off;
    uint8_t *copy;
    size_t copy_len, copy_cap;
    bool zero_copy; /* uncompressed: buffers in the mapping may be referenced */
    atomic_llong *bytes;
};

static int add_seg(struct arrow_body *a, struct seg s)
{
    if (a->n_segs && !s.ref && !a->segs[a->n_segs - 1].ref) {
        a->segs[a->n_segs - 1].len += s.len; /* adjacent copies merge */
        return 0;
    }
    if (a->n_segs == a->cap_segs) {
        size_t c = a->cap_segs ? a->cap_segs * 2 : 64;
        struct seg *p = realloc(a->segs, c * sizeof *p);
        if (!p)
            return ENOMEM;
        a->segs = p;
        a->cap_segs = c;
    }
    a->segs[a->n_segs++] = s;
    return 0;
}

static int gather(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct arrow_body *a = ctx;
    const uint8_t *p = data;
    if (len == 0)
        return 0;
    if (a->zero_copy && a->r.map && p >= a->r.map && len <= a->r.map_size &&
        (size_t)(p - a->r.map) <= a->r.map_size - len)
        return add_seg(a, (struct seg){p, 0, len}) ? ik_error_set(err, ENOMEM, "out of memory") : 0;
    if (a->copy_len + len > a->copy_cap) {
        size_t c = a->copy_cap ? a->copy_cap : 4096;
        while (c < a->copy_len + len)
            c *= 2;
        uint8_t *q = realloc(a->copy, c);
        if (!q)
            return ik_error_set(err, ENOMEM, "out of memory");
        a->copy = q;
        a->copy_cap = c;
    }
    memcpy(a->copy + a->copy_len, p, len);
    a->copy_len += len;
    return add_seg(a, (struct seg){NULL, a->copy_len - len, len})
               ? ik_error_set(err, ENOMEM, "out of memory")
               : 0;
}

static ssize_t arrow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct arrow_body *a = cls;
    size_t n = 0;
    (void)pos;
    while (n < max && a->cur < a->n_segs) {
        const struct seg *s = &a->segs[a->cur];
        const uint8_t *src = (s->ref ? s->ref : a->copy + s->off) + a->cur_off;
        size_t k = s->len - a->cur_off < max - n ? s->len - a->cur_off : max - n;
        memcpy(buf + n, src, k);
        n += k;
        a->cur_off += k;
        if (a->cur_off == s->len) {
            a->cur++;
            a->cur_off = 0;
        }
    }
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    atomic_fetch_add_explicit(a->bytes, (long long)n, memory_order_relaxed);
    return (ssize_t)n;
}

static void arrow_free(void *cls)
{
    struct arrow_body *a = cls;
    ik__http_result_reset(&a->r);
    free(a->segs);
    free(a->copy);
    free(a);
}

static struct MHD_Response *arrow_body(struct ik_http_result *r, int compression,
                                       atomic_llong *bytes, struct ik_error *err)
{
    struct arrow_body *a = calloc(1, sizeof *a);
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    struct MHD_Response *resp = NULL;
    size_t total = 0;
    int rc;
    if (!a) {
        ik__http_result_reset(r);
        ik_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    a->r = *r;
    memset(r, 0, sizeof *r);
    a->bytes = bytes;
    a->zero_copy = compression == IK_COMPRESSION_NONE;
    ik_write_options_init(&o);
    o.format = IK_IPC_STREAM;
    o.compression = (enum ik_compression)compression;
    rc = ik_ipc_writer_create(&a->r.schema, &o, gather, a, &w, err);
    for (int64_t i = 0; rc == 0 && i < a->r.n; i++)
        rc = ik_ipc_writer_write(w, &a->r.batches[i], err);
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    ik_ipc_writer_destroy(w);
    for (size_t i = 0; i < a->n_segs; i++)
        total += a->segs[i].len;
    /* MHD allocates the block per response: a small body gets a small one */
    if (rc == 0)
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
                                                 total < BLOCK ? (total | 4095) + 1 : BLOCK,
                                                 arrow_read, a, arrow_free);
    if (!resp) {
        if (rc == 0)
            ik_error_set(err, ENOMEM, "out of memory");
        arrow_free(a);
    }
    return resp;
}

/* ---- text -------------------------------------------------------------------------------- */

static int mem_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    if (len && fwrite(data, 1, len, ctx) != len)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

/* JSON lines → the CLI's JSON array: "[\n  row,\n  row\n]\n" (or "[]\n"). */
static int lines_to_array(const char *lines, size_t len, FILE *out)
{
    bool any = false;
    fputs("[", out);
    for (const char *p = lines, *nl; p < lines + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(lines + len - p));
        if (!nl)
            break;
        fprintf(out, "%s\n  %.*s", any ? "," : "", (int)(nl - p), p);
        any = true;
    }
    fputs(any ? "\n]\n" : "]\n", out);
    return 0;
}

static int render_text(struct ik_http_result *r, int format, char **text, size_t *len,
                       struct ik_error *err)
{
    FILE *mem = open_memstream(text, len);
    int rc;
    if (!mem)
        return ik_error_set(err, ENOMEM, "out of memory");
    if (format == IK_FMT_CSV) {
        struct ik_printer *p = NULL;
        rc = ik_printer_create(mem, &r->schema, IK_PRINT_CSV, -1, &p, err);
        for (int64_t i = 0; rc == 0 && i < r->n; i++)
            rc = ik_printer_batch(p, &r->batches[i], err);
        if (rc == 0)
            rc = ik_printer_finish(p, err);
        ik_printer_destroy(p);
    } else if (format == IK_FMT_NDJSON) {
        rc = 0;
        for (int64_t i = 0; rc == 0 && i < r->n; i++)
            rc = ik_json_rows_write(&r->schema, &r->batches[i], mem_write, mem, err);
    } else {
        char *lines = NULL;
        size_t n = 0;
        FILE *lm = open_memstream(&lines, &n);
        rc = lm ? 0 : ik_error_set(err, ENOMEM, "out of memory");
        for (int64_t i = 0; rc == 0 && i < r->n; i++)
            rc = ik_json_rows_write(&r->schema, &r->batches[i], mem_write, lm, err);
        if (lm)
            fclose(lm);
        if (rc == 0)
            rc = lines_to_array(lines, n, mem);
        free(lines);
    }
    if (fclose(mem) != 0 && rc == 0)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    if (rc != 0) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

struct MHD_Response *ik__http_body(struct ik_http_result *r, int format, int compression,
                                   atomic_llong *bytes, struct ik_error *err)
{
    struct MHD_Response *resp;
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (format == IK_FMT_ARROW)
        return arrow_body(r, compression, bytes, err);
    rc = render_text(r, format, &text, &len, err);
    ik__http_result_reset(r);
    if (rc != 0)
        return NULL;
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        ik_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    atomic_fetch_add_explicit(bytes, (long long)len, memory_order_relaxed);
    return resp;
}
