/* Response bodies of the table endpoints: content negotiation by Accept, and the bodies
 * themselves. Arrow goes out as an IPC stream (arrow_body.c: sent from the segments' mappings)
 * with optional IPC buffer compression named in Content-Type's codecs parameter and never a
 * Content-Encoding. JSON (an array, as `pin list --format json`), JSON lines and CSV (as
 * `--format csv`) are rendered into one buffer, then encoded as Accept-Encoding asks
 * (encoding.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "ipfskit/json_rows.h"

#define ARROW_TYPE "application/vnd.apache.arrow.stream"

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

struct MHD_Response *ik__http_body(struct ik_http *h, struct ik_http_result *r, int format,
                                   int compression, int encoding, struct ik_http_sent *sent,
                                   struct ik_error *err)
{
    struct MHD_Response *resp;
    char *text = NULL;
    void *enc = NULL;
    size_t len = 0, enc_len = 0;
    int rc;
    memset(sent, 0, sizeof *sent);
    sent->format = format;
    sent->encoding = format == IK_FMT_ARROW ? IK_ENC_IDENTITY : encoding;
    if (format == IK_FMT_ARROW)
        return ik__http_arrow_body(h, r, compression, sent, err);
    rc = render_text(r, format, &text, &len, err);
    ik__http_result_reset(r);
    if (rc != 0)
        return NULL;
    if (encoding != IK_ENC_IDENTITY) {
        rc = ik__http_encode(encoding, text, len, &enc, &enc_len, err);
        free(text);
        if (rc != 0)
            return NULL;
        sent->encoded_in = (long long)len;
        text = enc;
        len = enc_len;
    }
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        ik_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    if (encoding != IK_ENC_IDENTITY)
        MHD_add_response_header(resp, "Content-Encoding", ik__http_encoding_name(encoding));
    sent->total = sent->owned = (long long)len;
    return resp;
}

void ik__http_count_sent(struct ik_http *h, const struct ik_http_sent *sent)
{
    struct ik_http_stats *s = &h->stats;
    atomic_fetch_add_explicit(&s->bytes[IK_ROUTE_TABLE][sent->format], sent->total,
                              memory_order_relaxed);
    if (sent->format == IK_FMT_ARROW) {
        for (int k = 0; k < IK_ARROW_BYTE_KINDS; k++)
            atomic_fetch_add_explicit(&s->arrow_bytes[k], sent->kind[k], memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&s->encoded[sent->encoding], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->encoded_in, sent->encoded_in, memory_order_relaxed);
}
