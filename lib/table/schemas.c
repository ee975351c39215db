/* The single definition of the four ipfs-kit table schemas (DESIGN.md "Tables"). */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ipfskit/schemas.h"

const char *const ik_table_names[] = {"pin_index", "metrics", "vfs_stats", "backend_health", NULL};

int ik_table_index(const char *name)
{
    for (int i = 0; ik_table_names[i]; i++)
        if (strcmp(ik_table_names[i], name) == 0)
            return i;
    return -1;
}

struct col {
    const char *name;
    const char *format;      /* index type for dictionary columns */
    const char *dict_format; /* value type of a dictionary column, or NULL */
    bool nullable;
};

#define TS "tsu:UTC"

static const struct col pin_index[] = {
    {"cid", "u", NULL, false},       {"name", "u", NULL, true},
    {"size_bytes", "l", NULL, true}, {"pin_type", "c", "u", false},
    {"timestamp", TS, NULL, false},  {"metadata", "u", NULL, true},
    {"backend", "s", "u", false},    {"replication_factor", "i", NULL, false},
    {"verified", "b", NULL, false},  {"last_access", TS, NULL, true},
    {"vfs_path", "u", NULL, true},   {"access_count", "l", NULL, false},
    {NULL, NULL, NULL, false},
};

static const struct col metrics[] = {
    {"metric_name", "u", NULL, false}, {"metric_value", "g", NULL, true},
    {"metric_type", "u", NULL, true},  {"timestamp", TS, NULL, true},
    {"tags", "u", NULL, true},         {NULL, NULL, NULL, false},
};

static const struct col vfs_stats[] = {
    {"path", "u", NULL, false},        {"size_bytes", "l", NULL, true},
    {"file_count", "l", NULL, true},   {"last_modified", TS, NULL, true},
    {"access_count", "l", NULL, true}, {"cache_hit_ratio", "g", NULL, true},
    {NULL, NULL, NULL, false},
};

static const struct col backend_health[] = {
    {"backend_name", "u", NULL, false},
    {"status", "u", NULL, true},
    {"response_time_ms", "g", NULL, true},
    {"last_check", TS, NULL, true},
    {"error_count", "l", NULL, true},
    {"success_rate", "g", NULL, true},
    {NULL, NULL, NULL, false},
};

/* A metadata blob with one key/value pair. */
static char *metadata1(const char *k, const char *v)
{
    int32_t n = 1, kl = (int32_t)strlen(k), vl = (int32_t)strlen(v);
    char *m = malloc(4 + 4 + (size_t)kl + 4 + (size_t)vl), *p = m;
    if (m == NULL)
        return NULL;
    memcpy(p, &n, 4);
    memcpy(p + 4, &kl, 4);
    memcpy(p + 8, k, (size_t)kl);
    p += 8 + kl;
    memcpy(p, &vl, 4);
    memcpy(p + 4, v, (size_t)vl);
    return m;
}

int ik_table_schema(const char *name, struct ArrowSchema *out, struct ik_error *err)
{
    const struct col *cols = NULL;
    int64_t n = 0, i;
    char *meta;
    int rc;
    if (strcmp(name, "pin_index") == 0)
        cols = pin_index;
    else if (strcmp(name, "metrics") == 0)
        cols = metrics;
    else if (strcmp(name, "vfs_stats") == 0)
        cols = vfs_stats;
    else if (strcmp(name, "backend_health") == 0)
        cols = backend_health;
    else
        return ik_error_set(err, ENOENT, "unknown table '%s'", name);
    while (cols[n].name)
        n++;
    meta = metadata1("ipfs_kit.table", name);
    if (meta == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    rc = ik__schema_alloc(out, "+s", "", meta, 0, n);
    free(meta);
    if (rc != 0)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        struct ArrowSchema *c = out->children[i];
        if (ik__schema_alloc(c, cols[i].format, cols[i].name, NULL,
                             cols[i].nullable ? ARROW_FLAG_NULLABLE : 0, 0) != 0)
            goto oom;
        if (cols[i].dict_format) {
            if (ik__schema_alloc_dictionary(c) != 0 ||
                ik__schema_alloc(c->dictionary, cols[i].dict_format, NULL, NULL,
                                 ARROW_FLAG_NULLABLE, 0) != 0)
                goto oom;
        }
    }
    return 0;
oom:
    out->release(out);
    return ik_error_set(err, ENOMEM, "out of memory");
}
