/* `ipfs-kit arrow sample-pins OUT`: deterministic sample rows of the pin_index table (valid
 * CIDv0 strings, dictionary-encoded pin types and backends, timestamps, nulls) written as an
 * Arrow IPC file or stream. Used by the demo, the tests and the benchmarks. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "cli.h"
#include "ipfskit/cid.h"
#include "ipfskit/json_rows.h"
#include "ipfskit/schemas.h"

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct strcol {
    int32_t *offs;
    char *data;
    size_t len, cap;
    uint8_t *valid;
    int64_t n, nulls;
};

static int str_init(struct strcol *c, int64_t rows)
{
    memset(c, 0, sizeof *c);
    c->offs = calloc((size_t)rows + 1, 4);
    c->valid = calloc((size_t)rows / 8 + 1, 1);
    c->cap = 64 * (size_t)rows + 64;
    c->data = malloc(c->cap);
    return c->offs && c->valid && c->data ? 0 : ENOMEM;
}

static void str_add(struct strcol *c, const char *s)
{
    size_t l = s ? strlen(s) : 0;
    if (c->len + l > c->cap) { /* never reached with the sizes below; stay safe */
        l = 0;
        s = NULL;
    }
    if (s) {
        memcpy(c->data + c->len, s, l);
        c->len += l;
        c->valid[c->n / 8] = (uint8_t)(c->valid[c->n / 8] | (1u << (c->n % 8)));
    } else {
        c->nulls++;
    }
    c->n++;
    c->offs[c->n] = (int32_t)c->len;
}

static void free_ctx(void *p)
{
    free(p);
}

/* Moves a malloc'd block into an array as buffer i. */
static int give(struct ArrowArray *a, int i, void *p, size_t n)
{
    struct ik_buffer *b;
    if (p == NULL || ik_buffer_wrap(p, n, free_ctx, p, &b) != 0) {
        free(p);
        return ENOMEM;
    }
    a->buffers[i] = p;
    i = ik__array_hold(a, b);
    ik_buffer_unref(b);
    return i;
}

static int str_finish(struct strcol *c, struct ArrowArray *a)
{
    int rc = ik__array_alloc(a, 3, 0);
    if (rc != 0)
        return rc;
    a->length = c->n;
    a->null_count = c->nulls;
    rc = give(a, 1, c->offs, (size_t)(c->n + 1) * 4) | give(a, 2, c->data, c->len);
    if (c->nulls)
        rc |= give(a, 0, c->valid, (size_t)c->n / 8 + 1);
    else
        free(c->valid);
    return rc ? ENOMEM : 0;
}

/* A fixed-width column of `rows` values of `width` bytes, optional validity. */
static int fixed(struct ArrowArray *a, int64_t rows, void *values, size_t width, uint8_t *valid,
                 int64_t nulls)
{
    int rc = ik__array_alloc(a, 2, 0);
    if (rc != 0) {
        free(values);
        free(valid);
        return rc;
    }
    a->length = rows;
    a->null_count = nulls;
    rc = give(a, 1, values, (size_t)rows * width);
    if (nulls)
        rc |= give(a, 0, valid, (size_t)rows / 8 + 1);
    else
        free(valid);
    return rc ? ENOMEM : 0;
}

static int dict_values(struct ArrowArray *d, const char *const *words, int n)
{
    struct strcol c;
    int i;
    if (str_init(&c, n) != 0)
        return ENOMEM;
    for (i = 0; i < n; i++)
        str_add(&c, words[i]);
    return str_finish(&c, d);
}

static const char *const pin_types[] = {"recursive", "direct", "indirect"};
static const char *const backends[] = {"ipfs", "filecoin", "s3", "storacha"};

/* Builds rows [first, first+rows) as a struct array matching the pin_index schema. */
static int make_batch(uint64_t seed, int64_t first, int64_t rows, struct ArrowArray *out)
{
    struct strcol cid, name, meta, path;
    int64_t *size = malloc((size_t)rows * 8), *ts = malloc((size_t)rows * 8);
    int64_t *last = malloc((size_t)rows * 8), *count = malloc((size_t)rows * 8);
    int8_t *ptype = malloc((size_t)rows);
    int16_t *backend = malloc((size_t)rows * 2);
    int32_t *repl = malloc((size_t)rows * 4);
    uint8_t *verified = calloc((size_t)rows / 8 + 1, 1);
    uint8_t *last_valid = calloc((size_t)rows / 8 + 1, 1),
            *size_valid = calloc((size_t)rows / 8 + 1, 1);
    int64_t i, last_nulls = 0, size_nulls = 0;
    int rc;
    char buf[160];

    if (str_init(&cid, rows) || str_init(&name, rows) || str_init(&meta, rows) ||
        str_init(&path, rows) || !size || !ts || !last || !count || !ptype || !backend || !repl ||
        !verified || !last_valid || !size_valid)
        return ENOMEM; /* the process exits on this path; nothing to salvage */
    for (i = 0; i < rows; i++) {
        uint64_t s = seed * 1000003u + (uint64_t)(first + i), r;
        uint8_t digest[32];
        struct ik_cid c;
        int k;
        for (k = 0; k < 4; k++) {
            r = splitmix(&s);
            memcpy(digest + 8 * k, &r, 8);
        }
        ik_cid_v0(digest, &c);
        ik_cid_format(&c, buf, sizeof buf);
        str_add(&cid, buf);
        r = splitmix(&s);
        if (r % 7 == 0) {
            str_add(&name, NULL);
        } else {
            snprintf(buf, sizeof buf, "file-%08lld.bin", (long long)(first + i));
            str_add(&name, buf);
        }
        size[i] = (int64_t)(1024u << (r % 20)) + (int64_t)(r >> 44);
        if (r % 97 == 3)
            size_nulls++;
        else
            size_valid[i / 8] = (uint8_t)(size_valid[i / 8] | (1u << (i % 8)));
        ptype[i] = (int8_t)((r >> 8) % 10 < 7 ? 0 : (r >> 8) % 10 < 9 ? 1 : 2);
        backend[i] = (int16_t)((r >> 16) % 4);
        repl[i] = (int32_t)(1 + (r >> 20) % 3);
        if ((r >> 24) & 1)
            verified[i / 8] = (uint8_t)(verified[i / 8] | (1u << (i % 8)));
        ts[i] = 1767225600000000ll + (first + i) * 1000000ll; /* 2026-01-01T00:00:00Z + i s */
        if ((r >> 28) % 3 == 0) {
            last_nulls++;
            last[i] = 0;
        } else {
            last[i] = ts[i] + (int64_t)((r >> 32) % 86400) * 1000000ll;
            last_valid[i / 8] = (uint8_t)(last_valid[i / 8] | (1u << (i % 8)));
        }
        count[i] = (int64_t)((r >> 40) % 1000);
        if ((r >> 50) % 5 == 0) {
            str_add(&meta, NULL);
        } else {
            snprintf(buf, sizeof buf, "{\"source\":\"sample\",\"n\":%lld}", (long long)(first + i));
            str_add(&meta, buf);
        }
        snprintf(buf, sizeof buf, "/datasets/set-%02d/part-%03d/file-%08lld.bin",
                 (int)((r >> 52) % 16), (int)((r >> 56) % 32), (long long)(first + i));
        str_add(&path, buf);
    }
    if ((rc = ik__array_alloc(out, 1, 12)) != 0)
        return rc;
    out->length = rows;
    rc = str_finish(&cid, out->children[0]);
    rc |= str_finish(&name, out->children[1]);
    rc |= fixed(out->children[2], rows, size, 8, size_valid, size_nulls);
    rc |= fixed(out->children[3], rows, ptype, 1, NULL, 0);
    rc |= fixed(out->children[4], rows, ts, 8, NULL, 0);
    rc |= str_finish(&meta, out->children[5]);
    rc |= fixed(out->children[6], rows, backend, 2, NULL, 0);
    rc |= fixed(out->children[7], rows, repl, 4, NULL, 0);
    rc |= fixed(out->children[8], rows, verified, 1, NULL, 0);
    out->children[8]->length = rows; /* bit-packed: `fixed` sized it by bytes */
    rc |= fixed(out->children[9], rows, last, 8, last_valid, last_nulls);
    rc |= str_finish(&path, out->children[10]);
    rc |= fixed(out->children[11], rows, count, 8, NULL, 0);
    if (rc == 0) {
        rc = ik__array_alloc_dictionary(out->children[3]) ||
             dict_values(out->children[3]->dictionary, pin_types, 3) ||
             ik__array_alloc_dictionary(out->children[6]) ||
             dict_values(out->children[6]->dictionary, backends, 4);
    }
    return rc ? ENOMEM : 0;
}

/* One kubo `ipfs pin ls --enc=json --stream` line per row: {"Cid","Name","Type"}. */
static int write_kubo(FILE *f, const struct ArrowArray *b)
{
    const struct ArrowArray *cid = b->children[0], *name = b->children[1], *pt = b->children[3];
    const int32_t *co = cid->buffers[1], *no = name->buffers[1];
    const char *cd = cid->buffers[2], *nd = name->buffers[2];
    const uint8_t *nvalid = name->buffers[0];
    const int8_t *ti = pt->buffers[1];
    for (int64_t i = 0; i < b->length; i++) {
        bool has_name = !nvalid || (nvalid[i / 8] >> (i % 8) & 1);
        if (fprintf(f, "{\"Cid\":\"%.*s\",\"Name\":\"%.*s\",\"Type\":\"%s\"}\n",
                    (int)(co[i + 1] - co[i]), cd + co[i], has_name ? (int)(no[i + 1] - no[i]) : 0,
                    has_name ? nd + no[i] : "", pin_types[ti[i]]) < 0)
            return EIO;
    }
    return 0;
}

int ik_cli_sample(int argc, char **argv)
{
    const char *text_format = NULL;
    const char *path = NULL;
    long long rows = 1000, seed = 42;
    struct ik_write_options wo;
    struct ik_error err = {{0}};
    struct ArrowSchema schema = {0};
    struct ik_ipc_writer *w = NULL;
    FILE *f;
    int i, rc;
    long long done = 0;

    ik_write_options_init(&wo);
    wo.format = IK_IPC_FILE;
    for (i = 0; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            rows = strtoll(argv[++i], &end, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoll(argv[++i], &end, 10);
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "jsonl") == 0 || strcmp(argv[i], "kubo") == 0)
                text_format = argv[i];
            else if (strcmp(argv[i], "arrow") != 0)
                end = argv[i];
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "stream") == 0)
                wo.format = IK_IPC_STREAM;
            else if (strcmp(argv[i], "file") != 0)
                end = argv[i];
        } else if (path == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            path = argv[i];
        } else {
            end = argv[i];
        }
        if (end && *end) {
            ik_cli_errorf("arrow sample-pins: bad argument '%s'", argv[i]);
            return ik_cli_usage_error("arrow", "sample-pins");
        }
    }
    if (path == NULL || rows < 0) {
        return ik_cli_usage_error("arrow", "sample-pins");
    }
    f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (f == NULL) {
        ik_cli_errorf("%s: %s", path, strerror(errno));
        return IK_EXIT_IOERR;
    }
    if ((rc = ik_table_schema("pin_index", &schema, &err)) == 0) {
        if (!text_format)
            rc = ik_ipc_writer_create(&schema, &wo, ik_write_to_file, f, &w, &err);
    }
    while (rc == 0 && done < rows) {
        struct ArrowArray batch;
        long long n = rows - done < 65536 ? rows - done : 65536;
        if ((rc = make_batch((uint64_t)seed, done, n, &batch)) != 0) {
            ik_error_set(&err, rc, "out of memory building sample rows");
            break;
        }
        if (!text_format)
            rc = ik_ipc_writer_write(w, &batch, &err);
        else if (strcmp(text_format, "jsonl") == 0)
            rc = ik_json_rows_write(&schema, &batch, ik_write_to_file, f, &err);
        else if ((rc = write_kubo(f, &batch)) != 0)
            ik_error_set(&err, rc, "write failed");
        batch.release(&batch);
        done += n;
    }
    if (schema.release)
        schema.release(&schema);
    if (rc == 0 && w)
        rc = ik_ipc_writer_finish(w, &err);
    ik_ipc_writer_destroy(w);
    if (f != stdout && fclose(f) != 0 && rc == 0)
        rc = ik_error_set(&err, EIO, "%s", strerror(errno));
    if (rc != 0) {
        ik_cli_errorf("%s: %s", path, err.message);
        return ik_cli_exit_code(rc);
    }
    return IK_EXIT_OK;
}
