/* `ipfs-kit pin changes --since V [--follow] [--format table|json|jsonl|csv|arrow]`: the change
 * feed (docs/protocol.md "changes"). jsonl/json rows are objects with op, version, cid and, for
 * an upsert, the other columns. --follow waits for each newer version (ik_client_wait_version:
 * a blocking wait, in one-second slices) and prints its changes, until SIGINT or SIGTERM, which
 * end it with status 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipfskit/client.h"
#include "ipfskit/json_rows.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct out {
    const char *format;
    bool follow;
    int64_t printed;             /* rows so far (json: separators) */
    struct ik_ipc_writer *arrow; /* --format arrow: one stream over every batch */
    struct ik_printer *csv;      /* --format csv: one header */
};

static int stdout_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    (void)ctx;
    if (fwrite(data, 1, len, stdout) != len)
        return ik_error_set(err, EIO, "writing to standard output failed");
    return 0;
}

/* One line of ik_changes_json_write: as it is (jsonl) or as an element of the array (json). */
static int json_line(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct out *o = ctx;
    int n = (int)len - 1; /* without its newline */
    if (strcmp(o->format, "json") == 0)
        printf("%s\n  %.*s", o->printed ? "," : "", n, (const char *)data);
    else
        printf("%.*s\n", n, (const char *)data);
    o->printed++;
    (void)err;
    return 0;
}

static int print_batch(struct out *o, const struct ArrowSchema *s, const struct ArrowArray *b,
                       struct ik_error *err)
{
    int rc = 0;
    if (strcmp(o->format, "jsonl") == 0 || strcmp(o->format, "json") == 0)
        return ik_changes_json_write(s, b, json_line, o, err);
    if (strcmp(o->format, "arrow") == 0) {
        if (!o->arrow) {
            struct ik_write_options wo;
            ik_write_options_init(&wo);
            wo.format = IK_IPC_STREAM;
            if ((rc = ik_ipc_writer_create(s, &wo, stdout_write, NULL, &o->arrow, err)) != 0)
                return rc;
        }
        return ik_ipc_writer_write(o->arrow, b, err);
    }
    if (strcmp(o->format, "csv") == 0) {
        if (!o->csv && (rc = ik_printer_create(stdout, s, IK_PRINT_CSV, -1, &o->csv, err)) != 0)
            return rc;
        return ik_printer_batch(o->csv, b, err);
    }
    if (b->length > 0 || !o->follow) { /* table: one per batch, aligned over its rows */
        struct ik_printer *p = NULL;
        rc = ik_printer_create(stdout, s, IK_PRINT_TABLE, -1, &p, err);
        if (rc == 0)
            rc = ik_printer_batch(p, b, err);
        if (rc == 0)
            rc = ik_printer_finish(p, err);
        ik_printer_destroy(p);
    }
    return rc;
}

static int finish_output(struct out *o, struct ik_error *err)
{
    int rc = 0;
    if (strcmp(o->format, "json") == 0)
        fputs(o->printed ? "\n]\n" : "]\n", stdout);
    if (o->arrow) {
        rc = ik_ipc_writer_finish(o->arrow, err);
        ik_ipc_writer_destroy(o->arrow);
    }
    if (o->csv) {
        if (rc == 0)
            rc = ik_printer_finish(o->csv, err);
        ik_printer_destroy(o->csv);
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = ik_error_set(err, EIO, "writing to standard output failed");
    return rc;
}

/* Fetches and prints the changes after *since; *since becomes the newest version covered. */
static int one_round(struct ik_client *c, struct out *o, uint64_t *since, struct ik_error *err)
{
    struct ik_result r;
    struct ArrowSchema s = {0};
    struct ArrowArray b = {0};
    uint64_t from = *since;
    int rc = ik_client_changes(c, "pin_index", *since, &r, err);
    if (rc != 0)
        return rc;
    rc = r.stream.get_schema(&r.stream, &s);
    while (rc == 0 && (rc = r.stream.get_next(&r.stream, &b)) == 0 && b.release) {
        rc = print_batch(o, &s, &b, err);
        b.release(&b);
    }
    if (rc == 0 && !o->follow) {
        FILE *f = strcmp(o->format, "table") == 0 ? stdout : stderr;
        fprintf(f,
                "%lld changes since version %llu, up to version %llu \xc2\xb7 %s via %s \xc2\xb7 "
                "%.2f ms\n",
                (long long)r.rows, (unsigned long long)from, (unsigned long long)r.version,
                r.method_name, r.source, r.timings.total_ms);
    }
    if (s.release)
        s.release(&s);
    if (rc == 0) {
        *since = r.version;
        fflush(stdout);
    }
    ik_result_reset(&r);
    return rc;
}

static int usage(void)
{
    return ik_cli_usage_error("pin", "changes");
}

int ik_cli_pin_changes(int argc, char **argv)
{
    struct ik_client_options co;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    struct out o = {"table", false, 0, NULL, NULL};
    struct sigaction sa;
    uint64_t since = 0;
    bool have_since = false;
    int rc = 0, i;
    ik_client_options_init(&co);
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--follow") == 0) {
            o.follow = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--since") == 0) {
            char *end;
            unsigned long long n;
            errno = 0;
            n = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-' || n > INT64_MAX) {
                ik_cli_errorf("--since takes a version (a non-negative integer), not '%s'", v);
                return IK_EXIT_USAGE;
            }
            since = n;
            have_since = true;
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "table") && strcmp(v, "json") && strcmp(v, "jsonl") && strcmp(v, "csv") &&
                strcmp(v, "arrow")) {
                ik_cli_errorf("--format takes table, json, jsonl, csv or arrow, not '%s'", v);
                return IK_EXIT_USAGE;
            }
            o.format = v;
        } else if (strcmp(a, "--timeout") == 0) {
            if (ik_cli_parse_timeout(v, &co.timeout_ms) != 0)
                return IK_EXIT_USAGE;
        } else if (strcmp(a, "--method") == 0) {
            int m = ik_method_from_name(v);
            if (m < 0 || m == IK_METHOD_ZERO_COPY) {
                ik_cli_errorf("--method takes auto, ipc_stream, direct or traditional, not '%s'",
                              v);
                return IK_EXIT_USAGE;
            }
            co.method = (enum ik_method)m;
        } else {
            ik_cli_errorf("pin changes: unknown option '%s'", a);
            return usage();
        }
    }
    if (!have_since)
        return usage();
    if ((rc = ik_client_open(&co, &c, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the wait returns EINTR */
    sigemptyset(&sa.sa_mask);
    if (o.follow) {
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    if (strcmp(o.format, "json") == 0)
        fputs("[", stdout);
    rc = one_round(c, &o, &since, &err);
    while (rc == 0 && o.follow && !interrupted) {
        uint64_t v = 0;
        rc = ik_client_wait_version(c, since, 1000, &v, &err);
        if (rc == ETIMEDOUT || rc == EINTR) {
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = one_round(c, &o, &since, &err);
    }
    if (rc == 0)
        rc = finish_output(&o, &err);
    else
        (void)finish_output(&o, &(struct ik_error){{0}});
    ik_client_close(c);
    if (rc != 0) {
        ik_cli_errorf("%s", err.message[0] ? err.message : ik_strerror(rc));
        return rc == IK_EGONE ? IK_EXIT_DATAERR : ik_cli_exit_code(rc);
    }
    return IK_EXIT_OK;
}
