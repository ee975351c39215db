/* A change feed batch as JSON lines (docs/protocol.md "changes"): one object per change with
 * `op`, `version` and `cid` first and, for an upsert, the table's other columns after them; a
 * delete carries only those three. The one spelling of `pin changes --format jsonl`, HTTP
 * `GET /v1/changes` (application/x-ndjson) and the WebSocket's JSON frames. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/json_rows.h"

static int mem_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    if (fwrite(data, 1, len, ctx) != len)
        return ik_error_set(err, ENOMEM, "out of memory");
    return 0;
}

/* One row of ik_json_rows_write (schema order) reordered, with its '\n', to `write`. */
static int reorder(const char *line, ik_write_fn write, void *ctx, struct ik_error *err)
{
    json_t *in = json_loads(line, 0, NULL), *row = json_object(), *v;
    const char *key, *op;
    char *text = NULL;
    size_t n = 0;
    int rc;
    if (!in || !row) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto cleanup;
    }
    op = json_string_value(json_object_get(in, "op"));
    json_object_set(row, "op", json_object_get(in, "op"));
    json_object_set(row, "version", json_object_get(in, "version"));
    json_object_set(row, "cid", json_object_get(in, "cid"));
    if (op && strcmp(op, "upsert") == 0)
        json_object_foreach(in, key, v)
        {
            if (!json_object_get(row, key))
                json_object_set(row, key, v);
        }
    if (!(text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto cleanup;
    }
    n = strlen(text);
    text[n] = '\n'; /* replaces the NUL: the line goes out with its newline, in one write */
    rc = write(ctx, text, n + 1, err);
cleanup:
    free(text);
    json_decref(row);
    json_decref(in);
    return rc;
}

int ik_changes_json_write(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                          ik_write_fn write, void *ctx, struct ik_error *err)
{
    char *text = NULL, *line, *nl;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = mem ? ik_json_rows_write(schema, batch, mem_write, mem, err)
                 : ik_error_set(err, ENOMEM, "out of memory");
    if (mem && fclose(mem) != 0 && rc == 0)
        rc = ik_error_set(err, ENOMEM, "out of memory");
    for (line = text; rc == 0 && line && (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        rc = reorder(line, write, ctx, err);
    }
    free(text);
    return rc;
}
