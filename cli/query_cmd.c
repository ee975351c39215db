/* Query commands of the command line: `pin list`, `metrics`, `vfs stats`, `backend health`.
 * Each runs one ik_client_query, prints the rows in the chosen format, and says which path
 * the result took and how long it took (last line of the table format; stderr otherwise). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipfskit/client.h"
#include "ipfskit/json_rows.h"

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

void ik_cli_query_opts_init(struct ik_cli_query_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = "table";
    ik_client_options_init(&o->client);
    o->client.one_shot = true; /* one query per process */
}

/* Options every query command takes; returns 1 when argv[*i] was one (consumed), 0 when
 * not, -1 on a bad value (message printed). */
int ik_cli_query_option(struct ik_cli_query_opts *o, struct ik_query *q, int argc, char **argv,
                        int *i)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    struct ik_error err = {{0}};
    if (!v || strncmp(a, "--", 2) != 0)
        return 0;
    if (strcmp(a, "--limit") == 0 || strcmp(a, "--offset") == 0) {
        int64_t n;
        if (parse_i64(v, &n) != 0) {
            ik_cli_errorf("%s takes a non-negative integer, not '%s'", a, v);
            return -1;
        }
        if (a[2] == 'l')
            q->limit = n;
        else
            q->offset = n;
    } else if (strcmp(a, "--format") == 0) {
        if (strcmp(v, "table") && strcmp(v, "json") && strcmp(v, "jsonl") && strcmp(v, "csv") &&
            strcmp(v, "arrow")) {
            ik_cli_errorf("--format takes table, json, jsonl, csv or arrow, not '%s'", v);
            return -1;
        }
        o->format = v;
    } else if (strcmp(a, "--columns") == 0) {
        char *copy = strdup(v), *tok, *save = NULL;
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (ik_query_add_column(q, tok, &err) != 0)
                break;
        free(copy);
    } else if (strcmp(a, "--method") == 0) {
        int m = ik_method_from_name(v);
        if (m < 0) {
            ik_cli_errorf("--method takes auto, zero_copy, ipc_stream, direct or traditional, "
                          "not '%s'",
                          v);
            return -1;
        }
        o->client.method = (enum ik_method)m;
    } else if (strcmp(a, "--compression") == 0) {
        if (strcmp(v, "none") == 0)
            o->client.compression = IK_COMPRESSION_NONE;
        else if (strcmp(v, "lz4") == 0)
            o->client.compression = IK_COMPRESSION_LZ4;
        else if (strcmp(v, "zstd") == 0)
            o->client.compression = IK_COMPRESSION_ZSTD;
        else {
            ik_cli_errorf("--compression takes none, lz4 or zstd, not '%s'", v);
            return -1;
        }
    } else if (strcmp(a, "--timeout") == 0) {
        if (ik_cli_parse_timeout(v, &o->client.timeout_ms) != 0)
            return -1;
    } else if (strcmp(a, "--source") == 0) {
        if (strcmp(v, "sqlite") == 0)
            o->client.direct_sqlite = true;
        else if (strcmp(v, "snapshot") != 0) {
            ik_cli_errorf("--source takes snapshot or sqlite, not '%s'", v);
            return -1;
        }
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

static int stdout_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    if (fwrite(data, 1, len, ctx) != len)
        return ik_error_set(err, EIO, "writing to standard output failed");
    return 0;
}

int ik_cli_print_rows(const char *format, struct ArrowArrayStream *s, struct ik_error *err)
{
    struct ArrowSchema schema = {0};
    struct ArrowArray b = {0};
    int rc = s->get_schema(s, &schema);
    if (rc != 0)
        return ik_error_set(err, rc, "%s", s->get_last_error(s) ? s->get_last_error(s) : "schema");
    if (strcmp(format, "arrow") == 0) {
        schema.release(&schema);
        return ik_ipc_write_stream_to_path(s, "-", NULL, err);
    }
    if (strcmp(format, "json") == 0 || strcmp(format, "jsonl") == 0) {
        bool array = strcmp(format, "json") == 0;
        bool any = false;
        if (array)
            fputs("[", stdout);
        while (rc == 0 && (rc = s->get_next(s, &b)) == 0 && b.release) {
            if (array) {
                /* One row per line; separators between rows. */
                char *text = NULL;
                size_t len = 0;
                FILE *mem = open_memstream(&text, &len);
                rc = mem ? ik_json_rows_write(&schema, &b, stdout_write, mem, err) : ENOMEM;
                if (mem)
                    fclose(mem);
                for (char *line = text, *nl; rc == 0 && line && *line; line = nl + 1) {
                    nl = strchr(line, '\n');
                    if (!nl)
                        break;
                    printf("%s\n  %.*s", any ? "," : "", (int)(nl - line), line);
                    any = true;
                }
                free(text);
            } else {
                rc = ik_json_rows_write(&schema, &b, stdout_write, stdout, err);
            }
            b.release(&b);
        }
        if (array)
            fputs(any ? "\n]\n" : "]\n", stdout);
    } else {
        struct ik_printer *p = NULL;
        rc = ik_printer_create(stdout, &schema,
                               strcmp(format, "csv") == 0 ? IK_PRINT_CSV : IK_PRINT_TABLE, -1, &p,
                               err);
        while (rc == 0 && (rc = s->get_next(s, &b)) == 0 && b.release) {
            rc = ik_printer_batch(p, &b, err);
            b.release(&b);
        }
        if (rc == 0)
            rc = ik_printer_finish(p, err);
        ik_printer_destroy(p);
    }
    schema.release(&schema);
    return rc;
}

int ik_cli_run_query(struct ik_cli_query_opts *o, struct ik_query *q, const char *noun)
{
    struct ik_client *c = NULL;
    struct ik_result r;
    struct ik_error err = {{0}};
    char summary[320], count[64], copied[96];
    int rc = ik_cli_open(&o->client, &c);
    if (rc != 0)
        return rc;
    rc = ik_client_query(c, q, &r, &err);
    ik_client_close(c);
    if (rc != 0) {
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    if (err.message[0]) /* the path taken had to work around something: say what */
        fprintf(stderr, "%s: warning: %s\n", ik_cli_prog, err.message);
    if (r.matched >= 0)
        snprintf(count, sizeof count, "%lld of %lld", (long long)r.rows, (long long)r.matched);
    else
        snprintf(count, sizeof count, "%lld", (long long)r.rows);
    /* what the result cost beyond slicing the snapshot (docs/protocol.md, "zero_copy") */
    if (r.copied_bytes < 0)
        snprintf(copied, sizeof copied, "copied: every row (decoded)");
    else
        snprintf(copied, sizeof copied, "copied: %lld rows, %lld bytes", (long long)r.copied_rows,
                 (long long)r.copied_bytes);
    snprintf(summary, sizeof summary, "%s %s \xc2\xb7 %s via %s \xc2\xb7 %s \xc2\xb7 %.2f ms",
             count, noun, r.method_name, r.source, copied, r.timings.total_ms);
    if (r.reason[0]) /* a fallback: say why this path and not the usual one */
        fprintf(stderr, "%s: warning: %s; answered by the %s method\n", ik_cli_prog, r.reason,
                r.method_name);
    rc = ik_cli_print_rows(o->format, &r.stream, &err);
    if (rc != 0) {
        ik_result_reset(&r);
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    if (strcmp(o->format, "table") == 0)
        printf("%s\n", summary);
    else
        fprintf(stderr, "%s\n", summary);
    ik_result_reset(&r);
    if (fflush(stdout) != 0) {
        ik_cli_errorf("writing to standard output failed");
        return IK_EXIT_IOERR;
    }
    return 0;
}

static int simple_table(const char *table, const char *noun, int argc, char **argv)
{
    struct ik_cli_query_opts o;
    struct ik_query q;
    int rc = 0;
    ik_cli_query_opts_init(&o);
    ik_query_init(&q, table);
    for (int i = 0; i < argc; i++) {
        int k = ik_cli_query_option(&o, &q, argc, argv, &i);
        if (k < 0) {
            rc = IK_EXIT_USAGE;
            break;
        }
        if (k == 0) {
            ik_cli_errorf("%s: unknown option '%s'", noun, argv[i]);
            rc = IK_EXIT_USAGE;
            break;
        }
    }
    if (rc == 0)
        rc = ik_cli_run_query(&o, &q, noun);
    ik_query_reset(&q);
    return rc;
}

int ik_cli_metrics(int argc, char **argv)
{
    return simple_table("metrics", "metrics", argc, argv);
}

int ik_cli_vfs(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "stats") != 0) {
        return ik_cli_usage_error("vfs", "stats");
    }
    return simple_table("vfs_stats", "paths", argc - 1, argv + 1);
}

int ik_cli_backend(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "health") != 0) {
        return ik_cli_usage_error("backend", "health");
    }
    return simple_table("backend_health", "backends", argc - 1, argv + 1);
}
