/* The check import_pins makes on an Arrow stream's schema before anything is sent: every
 * column must be one of pin_index's (an unknown one is an error listing the known ones, not
 * silently ignored) and of a type that can feed it. Types are named in words ("int64",
 * "string", "timestamp[ms, tz=UTC]", "dictionary of string (int8 indices)"), never as Arrow
 * format codes. */
#include <string.h>

#include "ikpy.h"

static const struct {
    const char *code, *words;
} simple[] = {
    {"n", "null"},         {"b", "bool"},        {"c", "int8"},
    {"C", "uint8"},        {"s", "int16"},       {"S", "uint16"},
    {"i", "int32"},        {"I", "uint32"},      {"l", "int64"},
    {"L", "uint64"},       {"e", "float16"},     {"f", "float32"},
    {"g", "float64"},      {"z", "binary"},      {"Z", "large binary"},
    {"vz", "binary view"}, {"u", "string"},      {"U", "large string"},
    {"vu", "string view"}, {"tdD", "date32"},    {"tdm", "date64"},
    {"+l", "list"},        {"+L", "large list"}, {"+s", "struct"},
    {"+m", "map"},         {"+vl", "list view"}, {"+r", "run-end encoded"},
};

static const char *unit_word(char u)
{
    return u == 's' ? "s" : u == 'm' ? "ms" : u == 'u' ? "us" : u == 'n' ? "ns" : "?";
}

/* A format string in words, into buf. */
static void words(const char *f, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(f, simple[i].code) == 0) {
            snprintf(buf, size, "%s", simple[i].words);
            return;
        }
    if (strncmp(f, "ts", 2) == 0 && f[2] && f[3] == ':')
        snprintf(buf, size, f[4] ? "timestamp[%s, tz=%s]" : "timestamp[%s]", unit_word(f[2]),
                 f + 4);
    else if (strncmp(f, "tt", 2) == 0 && f[2])
        snprintf(buf, size, "time[%s]", unit_word(f[2]));
    else if (strncmp(f, "tD", 2) == 0 && f[2])
        snprintf(buf, size, "duration[%s]", unit_word(f[2]));
    else if (strncmp(f, "d:", 2) == 0)
        snprintf(buf, size, "decimal(%s)", f + 2);
    else if (strncmp(f, "w:", 2) == 0)
        snprintf(buf, size, "fixed-size binary(%s)", f + 2);
    else if (strncmp(f, "+w:", 3) == 0)
        snprintf(buf, size, "fixed-size list(%s)", f + 3);
    else if (strncmp(f, "+u", 2) == 0)
        snprintf(buf, size, "union");
    else
        snprintf(buf, size, "an Arrow type this binding does not name ('%.32s')", f);
}

static void field_words(const struct ArrowSchema *f, char *buf, size_t size)
{
    char v[96], ix[96];
    if (f->dictionary == NULL) {
        words(f->format, buf, size);
        return;
    }
    words(f->dictionary->format, v, sizeof v);
    words(f->format, ix, sizeof ix);
    snprintf(buf, size, "dictionary of %s (%s indices)", v, ix);
}

static int is_int(const char *f)
{
    return f[0] && f[1] == 0 && strchr("csilCSIL", f[0]) != NULL;
}

static int is_str(const char *f)
{
    return strcmp(f, "u") == 0 || strcmp(f, "U") == 0 || strcmp(f, "vu") == 0;
}

static int is_time_col(const struct ArrowSchema *col)
{
    return strncmp(col->format, "ts", 2) == 0;
}

static int is_str_col(const struct ArrowSchema *col)
{
    return is_str(col->format) || col->dictionary != NULL;
}

/* What `col` (a pin_index field) needs, in words, when `f` cannot feed it; NULL when it can. */
static const char *mismatch(const struct ArrowSchema *col, const struct ArrowSchema *f)
{
    const char *vf = f->dictionary ? f->dictionary->format : f->format;
    if (is_str_col(col))
        return is_str(vf) && (!f->dictionary || is_int(f->format))
                   ? NULL
                   : "a string (string, large string, string view, or a dictionary of one)";
    if (f->dictionary)
        return "a plain column, not a dictionary";
    if (is_time_col(col)) {
        if (strncmp(vf, "ts", 2) == 0 && strchr("smun", vf[2]) && vf[2] && vf[3] == ':')
            return NULL;
        if (is_int(vf))
            return "a timestamp (a number alone is ambiguous: IPFS-Kit used seconds, Arrow "
                   "microseconds; cast it, e.g. pyarrow.compute.cast(col, "
                   "pyarrow.timestamp('s', 'UTC')) for seconds)";
        return "a timestamp (any unit)";
    }
    if (strcmp(col->format, "b") == 0)
        return strcmp(vf, "b") == 0 ? NULL : "a bool";
    return is_int(vf) ? NULL : "an integer";
}

int ikpy_import_check(struct ArrowArrayStream *s)
{
    const struct ArrowSchema *pins = ikpy_table_schema("pin_index");
    struct ArrowSchema schema;
    char msg[IK_ERROR_SIZE], known[512] = "";
    int rc;
    memset(&schema, 0, sizeof schema);
    if ((rc = s->get_schema(s, &schema)) != 0) {
        const char *e = s->get_last_error ? s->get_last_error(s) : NULL;
        snprintf(msg, sizeof msg, "import_pins: reading the data's schema failed: %s",
                 e ? e : "no message");
        ikpy_raise_msg(EINVAL, msg);
        return -1;
    }
    for (int64_t j = 0; j < pins->n_children; j++) {
        size_t n = strlen(known);
        snprintf(known + n, sizeof known - n, "%s%s", j ? ", " : "", pins->children[j]->name);
    }
    rc = 0;
    for (int64_t i = 0; i < schema.n_children && rc == 0; i++) {
        const struct ArrowSchema *f = schema.children[i], *col = NULL;
        const char *need;
        char got[224];
        for (int64_t j = 0; j < pins->n_children && !col; j++)
            if (f->name && strcmp(f->name, pins->children[j]->name) == 0)
                col = pins->children[j];
        if (col == NULL) {
            snprintf(msg, sizeof msg,
                     "import_pins: unknown column '%.100s'; pin_index's columns are %s",
                     f->name ? f->name : "", known);
            rc = -1;
        } else if ((need = mismatch(col, f)) != NULL) {
            field_words(f, got, sizeof got);
            snprintf(msg, sizeof msg, "import_pins: column '%s' is %s; it must be %s", col->name,
                     got, need);
            rc = -1;
        }
    }
    if (rc == 0) {
        int has_cid = 0;
        for (int64_t i = 0; i < schema.n_children; i++)
            has_cid |= schema.children[i]->name && strcmp(schema.children[i]->name, "cid") == 0;
        if (!has_cid) {
            snprintf(msg, sizeof msg,
                     "import_pins: the data has no 'cid' column (pin_index's columns are %s)",
                     known);
            rc = -1;
        }
    }
    schema.release(&schema);
    if (rc != 0)
        ikpy_raise_msg(EINVAL, msg);
    return rc;
}
