/* The single definition of the four ipfs-kit table schemas (DESIGN.md "Tables"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arrow/internal.h"
#include "ipfskit/builder.h"
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

static int table_schema(const char *name, const char *version, struct ArrowSchema *out,
                        struct ik_error *err);

int ik_table_schema(const char *name, struct ArrowSchema *out, struct ik_error *err)
{
    return table_schema(name, NULL, out, err);
}

int ik_table_snapshot_schema(const char *name, uint64_t version, struct ArrowSchema *out,
                             struct ik_error *err)
{
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)version);
    return table_schema(name, v, out, err);
}

/* The metadata of a table's schema: its name, and for a snapshot's (`version` not NULL) the
 * version and the time it was made, in that order (as lib/snapshot/snapshot.c writes them). */
static char *table_metadata(const char *name, const char *version)
{
    static const char *const keys[3] = {IK_META_TABLE, IK_META_VERSION, IK_META_CREATED};
    const char *vals[3] = {name, version, NULL};
    char created[80];
    struct timespec ts;
    struct tm tm;
    if (version == NULL)
        return metadata1(IK_META_TABLE, name);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(created, sizeof created, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    vals[2] = created;
    return ik_metadata_build(keys, vals, 3);
}

static int table_schema(const char *name, const char *version, struct ArrowSchema *out,
                        struct ik_error *err)
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
    meta = table_metadata(name, version);
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
