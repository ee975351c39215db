/* GET /v1/changes?since=V (docs/http.md): the change feed of pin_index after version V, read
 * from the store on a read-only connection of the request's own (one read transaction, as the
 * socket's "changes" op), in the format Accept asks for: an Arrow stream (as `pin changes
 * --format arrow`), JSON lines (as `--format jsonl`), a JSON array (as `--format json`) or CSV.
 * Also the query arguments of the WebSocket (ws.c), parsed here once for both. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"

struct changes_args {
    bool ws;
    bool have_since;
    struct ik_http_changes_args *out;
    char *param;
    size_t param_cap;
    struct ik_error *err;
    int rc;
};

static int parse_version(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n;
    if (!v || !*v || *v < '0' || *v > '9')
        return EINVAL;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || *end || n > INT64_MAX)
        return EINVAL;
    *out = n;
    return 0;
}

static enum MHD_Result each(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct changes_args *a = cls;
    (void)kind;
    if (strcmp(key, "since") == 0) {
        a->have_since = true;
        if (parse_version(value, &a->out->since) == 0)
            return MHD_YES;
        a->rc = ik_error_set(a->err, EINVAL,
                             "since takes a version (a non-negative integer), "
                             "not '%.64s'",
                             value ? value : "");
    } else if (a->ws && strcmp(key, "format") == 0) {
        if (value && (strcmp(value, "json") == 0 || strcmp(value, "arrow") == 0)) {
            a->out->json = strcmp(value, "json") == 0;
            return MHD_YES;
        }
        a->rc = ik_error_set(a->err, EINVAL, "format takes json or arrow, not '%.64s'",
                             value ? value : "");
    } else {
        a->rc = ik_error_set(a->err, EINVAL, "unknown parameter '%.64s' (%s)", key,
                             a->ws ? "since, format" : "since");
    }
    snprintf(a->param, a->param_cap, "%s", key);
    return MHD_NO;
}

int ik__http_changes_args(struct MHD_Connection *conn, bool ws, struct ik_http_changes_args *out,
                          char *param, size_t param_cap, struct ik_error *err)
{
    struct changes_args a = {ws, false, out, param, param_cap, err, 0};
    memset(out, 0, sizeof *out);
    param[0] = 0;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, each, &a);
    if (a.rc == 0 && !a.have_since) {
        snprintf(param, param_cap, "since");
        a.rc = ik_error_set(err, EINVAL,
                            "since is required: the version to follow from (0 for everything "
                            "the change log keeps; a query's ETag names the table's version)");
    }
    return a.rc;
}

/* The status and code of a failed ik_store_changes. */
unsigned ik__http_changes_status(int rc, const char **code)
{
    if (rc == IK_EGONE) {
        *code = "gone";
        return 410;
    }
    if (rc == EINVAL) {
        *code = "bad_parameter";
        return 400;
    }
    *code = "unavailable";
    return 503;
}

/* ---- text bodies: the CLI's jsonl and json spellings ------------------------------------- */

struct text_out {
    FILE *f;
    bool array;
    int64_t printed;
};

static int text_line(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct text_out *o = ctx;
    int ok;
    if (o->array)
        ok = fprintf(o->f, "%s\n  %.*s", o->printed ? "," : "", (int)len - 1, (const char *)data) >=
             0;
    else
        ok = fwrite(data, 1, len, o->f) == len;
    o->printed++;
    return ok ? 0 : ik_error_set(err, ENOMEM, "out of memory");
}

/* JSON or JSON lines of the changes in `r`, Content-Encoded as `encoding` (IK_ENC_*). */
static struct MHD_Response *text_body(struct ik_http_result *r, bool array, int encoding,
                                      atomic_llong *bytes, struct ik_error *err)
{
    struct text_out o = {NULL, array, 0};
    struct MHD_Response *resp = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (!(o.f = open_memstream(&text, &len))) {
        ik_error_set(err, ENOMEM, "out of memory");
        goto cleanup;
    }
    if (array)
        fputs("[", o.f);
    for (int64_t i = 0; rc == 0 && i < r->n; i++)
        rc = ik_changes_json_write(&r->schema, &r->batches[i], text_line, &o, err);
    if (array)
        fputs(o.printed ? "\n]\n" : "]\n", o.f);
    if (fclose(o.f) != 0 && rc == 0)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    if (rc != 0)
        goto cleanup;
    if (encoding != IK_ENC_IDENTITY) {
        void *enc = NULL;
        size_t enc_len = 0;
        if (ik__http_encode(encoding, text, len, &enc, &enc_len, err) != 0)
            goto cleanup;
        free(text);
        text = enc;
        len = enc_len;
    }
    if ((resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)) == NULL) {
        ik_error_set(err, ENOMEM, "out of memory");
        goto cleanup;
    }
    text = NULL;
    if (encoding != IK_ENC_IDENTITY)
        MHD_add_response_header(resp, "Content-Encoding", ik__http_encoding_name(encoding));
    atomic_fetch_add_explicit(bytes, (long long)len, memory_order_relaxed);
cleanup:
    free(text);
    return resp;
}

enum MHD_Result ik__http_changes(struct ik_http *h, struct MHD_Connection *conn)
{
    struct ik_http_changes_args args = {0, false};
    struct ik_error err = {{0}};
    struct ik_http_result r;
    struct ik_store *st = NULL;
    struct MHD_Response *resp;
    char param[64], num[24];
    const char *code;
    uint64_t newest = 0;
    int compression, rc, encoding;
    int format = ik__http_negotiate(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"),
                                    &compression);
    if (format < 0)
        return ik__http_error(h, conn, 406, "not_acceptable", "Accept",
                              "acceptable types: application/vnd.apache.arrow.stream, "
                              "application/json, application/x-ndjson, text/csv");
    /* text as the tables' (Accept-Encoding); Arrow keeps IPC buffer compression instead */
    encoding = format == IK_FMT_ARROW ? IK_ENC_IDENTITY
                                      : ik__http_pick_encoding(MHD_lookup_connection_value(
                                            conn, MHD_HEADER_KIND, "Accept-Encoding"));
    if (ik__http_changes_args(conn, false, &args, param, sizeof param, &err) != 0)
        return ik__http_error(h, conn, 400, "bad_parameter", param, err.message);
    memset(&r, 0, sizeof r);
    r.file_fd = -1; /* no segment file: ik__http_result_reset closes one that is set */
    if ((r.batches = calloc(1, sizeof *r.batches)) == NULL)
        return ik__http_error(h, conn, 500, "internal", NULL, "out of memory");
    rc = ik_daemon_changes(h->d, &st, "pin_index", args.since, &r.schema, &r.batches[0], &newest,
                           &err);
    ik_store_close(st);
    if (rc != 0) {
        unsigned status = ik__http_changes_status(rc, &code);
        ik__http_result_reset(&r);
        return ik__http_error(h, conn, status, code, status == 503 ? NULL : "since", err.message);
    }
    r.n = 1;
    r.rows = r.matched = r.table_rows = r.batches[0].length;
    r.version = newest;
    snprintf(num, sizeof num, "%llu", (unsigned long long)newest);
    if (format == IK_FMT_JSON || format == IK_FMT_NDJSON) {
        resp = text_body(&r, format == IK_FMT_JSON, encoding,
                         &h->stats.bytes[IK_ROUTE_CHANGES][format], &err);
        ik__http_result_reset(&r);
    } else {
        struct ik_http_sent sent;
        resp = ik__http_body(h, &r, format, compression, encoding, &sent, &err);
        if (resp)
            atomic_fetch_add_explicit(&h->stats.bytes[IK_ROUTE_CHANGES][format], sent.total,
                                      memory_order_relaxed);
    }
    if (!resp)
        return ik__http_error(h, conn, 500, "internal", NULL, err.message);
    ik__http_body_headers(resp, format, compression);
    MHD_add_response_header(resp, "X-Ipfs-Kit-Version", num);
    return ik__http_queue(h, conn, 200, resp);
}
