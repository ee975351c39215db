/* `ipfs-kit arrow …`: validate, convert, cat and schema over Arrow IPC files and streams,
 * using our own reader (full validation: input is untrusted) and writer. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct input {
    struct ik_buffer *buf;
    struct ArrowArrayStream stream;
    bool is_file;
};

static int open_input(const char *path, struct input *in, struct ik_error *err)
{
    struct ik_read_options o;
    int rc;
    memset(in, 0, sizeof *in);
    if (strcmp(path, "-") == 0)
        rc = ik_buffer_read_stream(stdin, &in->buf, err);
    else
        rc = ik_buffer_map_file(path, &in->buf, err);
    if (rc == EINVAL) { /* a pipe or device: read it instead of mapping */
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
        rc = ik_buffer_read_stream(f, &in->buf, err);
        fclose(f);
    }
    if (rc != 0)
        return rc;
    ik_read_options_init(&o);
    o.validate = IK_VALIDATE_FULL;
    o.check_utf8 = true;
    rc = ik_ipc_open_stream(in->buf, &o, &in->stream, &in->is_file, err);
    if (rc != 0) {
        ik_buffer_unref(in->buf);
        in->buf = NULL;
    }
    return rc;
}

static void close_input(struct input *in)
{
    if (in->stream.release)
        in->stream.release(&in->stream);
    ik_buffer_unref(in->buf);
}

/* Turns a stream callback failure into our code and message. */
static int stream_fail(struct ArrowArrayStream *s, int rc, struct ik_error *err)
{
    const char *m = s->get_last_error(s);
    return ik_error_set(err, rc == EIO ? IK_EFORMAT : rc, "%s", m ? m : strerror(rc));
}

static int fail(const char *path, int rc, const struct ik_error *err)
{
    ik_cli_errorf("%s: %s", path, err->message[0] ? err->message : ik_strerror(rc));
    return ik_cli_exit_code(rc);
}

static int cmd_validate(int argc, char **argv)
{
    struct input in;
    struct ik_error err = {{0}};
    struct ArrowArray batch;
    int64_t batches = 0, rows = 0;
    int rc;
    if (argc != 1) {
        return ik_cli_usage_error("arrow", "validate");
    }
    if ((rc = open_input(argv[0], &in, &err)) != 0)
        return fail(argv[0], rc, &err);
    for (;;) {
        if ((rc = in.stream.get_next(&in.stream, &batch)) != 0) {
            rc = stream_fail(&in.stream, rc, &err);
            break;
        }
        if (batch.release == NULL)
            break;
        batches++;
        rows += batch.length;
        batch.release(&batch);
    }
    close_input(&in);
    if (rc != 0)
        return fail(argv[0], rc, &err);
    printf("%s: valid Arrow IPC %s, %lld batches, %lld rows\n", argv[0],
           in.is_file ? "file" : "stream", (long long)batches, (long long)rows);
    return IK_EXIT_OK;
}

static int parse_compression(const char *s, enum ik_compression *c)
{
    if (strcmp(s, "none") == 0)
        *c = IK_COMPRESSION_NONE;
    else if (strcmp(s, "lz4") == 0)
        *c = IK_COMPRESSION_LZ4;
    else if (strcmp(s, "zstd") == 0)
        *c = IK_COMPRESSION_ZSTD;
    else
        return -1;
    return 0;
}

static int cmd_convert(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL}, *to = NULL;
    struct ik_write_options wo;
    struct input in;
    struct ik_error err = {{0}};
    int i, np = 0, rc;

    ik_write_options_init(&wo);
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to = argv[++i];
            if (strcmp(to, "stream") != 0 && strcmp(to, "file") != 0) {
                ik_cli_errorf("--to takes 'stream' or 'file', not '%s'", to);
                return IK_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--compression") == 0 && i + 1 < argc) {
            if (parse_compression(argv[++i], &wo.compression) != 0) {
                ik_cli_errorf("--compression takes none, lz4 or zstd, not '%s'", argv[i]);
                return IK_EXIT_USAGE;
            }
        } else if (np < 2 && (argv[i][0] != '-' || argv[i][1] == 0)) {
            paths[np++] = argv[i];
        } else {
            return ik_cli_usage_error("arrow", "convert");
        }
    }
    if (np != 2) {
        return ik_cli_usage_error("arrow", "convert");
    }
    if ((rc = open_input(paths[0], &in, &err)) != 0)
        return fail(paths[0], rc, &err);
    wo.format = to ? (strcmp(to, "file") == 0 ? IK_IPC_FILE : IK_IPC_STREAM)
                   : (in.is_file ? IK_IPC_FILE : IK_IPC_STREAM);
    rc = ik_ipc_write_stream_to_path(&in.stream, paths[1], &wo, &err);
    close_input(&in);
    if (rc != 0) {
        int code = ik_cli_exit_code(rc);
        ik_cli_errorf("%s: %s", code == IK_EXIT_DATAERR ? paths[0] : paths[1], err.message);
        return code;
    }
    return IK_EXIT_OK;
}

static int cmd_cat(int argc, char **argv)
{
    const char *path = NULL;
    enum ik_print_format fmt = IK_PRINT_TABLE;
    long long limit = -1;
    struct input in;
    struct ik_error err = {{0}};
    struct ik_printer *pr = NULL;
    struct ArrowSchema schema;
    struct ArrowArray batch;
    int i, rc;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "table") == 0)
                fmt = IK_PRINT_TABLE;
            else if (strcmp(f, "json") == 0)
                fmt = IK_PRINT_JSON;
            else if (strcmp(f, "csv") == 0)
                fmt = IK_PRINT_CSV;
            else {
                ik_cli_errorf("--format takes table, json or csv, not '%s'", f);
                return IK_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            char *end;
            limit = strtoll(argv[++i], &end, 10);
            if (*end || limit < 0) {
                ik_cli_errorf("--limit takes a non-negative integer, not '%s'", argv[i]);
                return IK_EXIT_USAGE;
            }
        } else if (path == NULL && (argv[i][0] != '-' || argv[i][1] == 0)) {
            path = argv[i];
        } else {
            return ik_cli_usage_error("arrow", "cat");
        }
    }
    if (path == NULL) {
        return ik_cli_usage_error("arrow", "cat");
    }
    if ((rc = open_input(path, &in, &err)) != 0)
        return fail(path, rc, &err);
    if ((rc = in.stream.get_schema(&in.stream, &schema)) != 0) {
        rc = stream_fail(&in.stream, rc, &err);
        close_input(&in);
        return fail(path, rc, &err);
    }
    rc = ik_printer_create(stdout, &schema, fmt, limit, &pr, &err);
    while (rc == 0 && !ik_printer_done(pr)) {
        if ((rc = in.stream.get_next(&in.stream, &batch)) != 0) {
            rc = stream_fail(&in.stream, rc, &err);
            break;
        }
        if (batch.release == NULL)
            break;
        rc = ik_printer_batch(pr, &batch, &err);
        batch.release(&batch);
    }
    if (rc == 0)
        rc = ik_printer_finish(pr, &err);
    ik_printer_destroy(pr);
    schema.release(&schema);
    close_input(&in);
    if (rc == 0 && fflush(stdout) != 0)
        rc = ik_error_set(&err, EIO, "writing output: %s", strerror(errno));
    return rc ? fail(path, rc, &err) : IK_EXIT_OK;
}

static int cmd_schema(int argc, char **argv)
{
    struct input in;
    struct ik_error err = {{0}};
    struct ArrowSchema schema;
    int rc;
    if (argc != 1) {
        return ik_cli_usage_error("arrow", "schema");
    }
    if ((rc = open_input(argv[0], &in, &err)) != 0)
        return fail(argv[0], rc, &err);
    if ((rc = in.stream.get_schema(&in.stream, &schema)) != 0) {
        rc = stream_fail(&in.stream, rc, &err);
    } else {
        rc = ik_schema_print(stdout, &schema, &err);
        schema.release(&schema);
    }
    close_input(&in);
    return rc ? fail(argv[0], rc, &err) : IK_EXIT_OK;
}

int ik_cli_arrow(int argc, char **argv)
{
    if (argc < 1) {
        return ik_cli_usage_error("arrow", NULL);
    }
    if (strcmp(argv[0], "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(argv[0], "convert") == 0)
        return cmd_convert(argc - 1, argv + 1);
    if (strcmp(argv[0], "cat") == 0)
        return cmd_cat(argc - 1, argv + 1);
    if (strcmp(argv[0], "schema") == 0)
        return cmd_schema(argc - 1, argv + 1);
    if (strcmp(argv[0], "sample-pins") == 0)
        return ik_cli_sample(argc - 1, argv + 1);
    ik_cli_errorf("unknown arrow command '%s'", argv[0]);
    return IK_EXIT_USAGE;
}
