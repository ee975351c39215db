/* Schemas in pyarrow's notation, as print(schema) shows them in pyarrow 26: one line per field
 * ("cid: string not null"), the fields of nested types listed below it ("  child 0, item: ..."),
 * field metadata after each field and the schema's custom metadata last, long values cut the
 * way Arrow C++'s pretty printer cuts them. */
#include <stdlib.h>

#include "arrow/print_internal.h"

#define EXT_NAME "ARROW:extension:name"
#define EXT_META "ARROW:extension:metadata"

static const char *const unit_names[] = {"s", "ms", "us", "ns"};

static int type_str(struct ik__sb *s, const struct ArrowSchema *f, int depth, struct ik_error *err);

static const char *name_of(const struct ArrowSchema *f)
{
    return f->name ? f->name : "";
}

static void spaces(struct ik__sb *s, size_t n)
{
    while (n-- > 0)
        ik__sb_addc(s, ' ');
}

/* "name: type" and " not null" when the field is not nullable. */
static int field_str(struct ik__sb *s, const struct ArrowSchema *f, int depth, struct ik_error *err)
{
    int rc;
    ik__sb_adds(s, name_of(f));
    ik__sb_add(s, ": ", 2);
    if ((rc = type_str(s, f, depth, err)) != 0)
        return rc;
    if (!(f->flags & ARROW_FLAG_NULLABLE))
        ik__sb_add(s, " not null", 9);
    return 0;
}

/* A map's key or item type, then " ('name')" when the name is not the standard one. */
static int map_part(struct ik__sb *s, const struct ArrowSchema *f, const char *std, int depth,
                    struct ik_error *err)
{
    int rc = type_str(s, f, depth, err);
    if (rc == 0 && strcmp(name_of(f), std) != 0)
        ik__sb_printf(s, " ('%s')", name_of(f));
    return rc;
}

static int nested_str(struct ik__sb *s, const struct ArrowSchema *f, const struct ik_type *t,
                      int depth, struct ik_error *err)
{
    const struct ArrowSchema *e;
    int64_t i;
    int rc = 0;
    switch (t->id) {
    case IK_T_MAP:
        e = f->children[0];
        if (e->n_children != 2 || e->children == NULL)
            return ik_error_set(err, EINVAL, "map entries without key and value");
        ik__sb_add(s, "map<", 4);
        if ((rc = map_part(s, e->children[0], "key", depth, err)) != 0)
            return rc;
        ik__sb_add(s, ", ", 2);
        if ((rc = map_part(s, e->children[1], "value", depth, err)) != 0)
            return rc;
        if (f->flags & ARROW_FLAG_MAP_KEYS_SORTED)
            ik__sb_adds(s, ", keys_sorted");
        if (strcmp(name_of(e), "entries") != 0)
            ik__sb_printf(s, " ('%s')", name_of(e));
        ik__sb_addc(s, '>');
        return 0;
    case IK_T_RUN_END_ENCODED: /* Arrow C++ names the children itself */
        ik__sb_adds(s, "run_end_encoded<run_ends: ");
        if ((rc = type_str(s, f->children[0], depth, err)) != 0)
            return rc;
        ik__sb_adds(s, ", values: ");
        if ((rc = type_str(s, f->children[1], depth, err)) != 0)
            return rc;
        ik__sb_addc(s, '>');
        return 0;
    default:
        ik__sb_printf(s, "%s<", ik__type_name(t->id));
        for (i = 0; i < f->n_children && rc == 0; i++) {
            if (i)
                ik__sb_add(s, ", ", 2);
            rc = field_str(s, f->children[i], depth, err);
            if (t->id == IK_T_SPARSE_UNION || t->id == IK_T_DENSE_UNION)
                ik__sb_printf(s, "=%d", i < t->n_type_ids ? (int)t->type_ids[i] : (int)i);
        }
        ik__sb_addc(s, '>');
        if (t->id == IK_T_FIXED_SIZE_LIST)
            ik__sb_printf(s, "[%d]", (int)t->fixed_size);
        return rc;
    }
}

static int type_str(struct ik__sb *s, const struct ArrowSchema *f, int depth, struct ik_error *err)
{
    struct ik_type t;
    int32_t elen = 0;
    const char *ext = ik_metadata_get(f->metadata, EXT_NAME, &elen);
    int want, rc;
    if (depth > IK__PRINT_MAX_DEPTH)
        return ik_error_set(err, IK_ELIMIT, "schema nested deeper than %d levels",
                            IK__PRINT_MAX_DEPTH);
    if (ext) {
        ik__sb_printf(s, "extension<%.*s>", (int)(elen > 0 ? elen : 0), ext);
        return 0;
    }
    if ((rc = ik__type_parse(f->format, &t, err)) != 0)
        return ik_error_prefix(err, EINVAL, "field '%s'", name_of(f));
    if (f->dictionary) {
        ik__sb_adds(s, "dictionary<values=");
        if ((rc = type_str(s, f->dictionary, depth + 1, err)) != 0)
            return rc;
        ik__sb_printf(s, ", indices=%s, ordered=%d>", ik__type_name(t.id),
                      (f->flags & ARROW_FLAG_DICTIONARY_ORDERED) ? 1 : 0);
        return 0;
    }
    want = ik__type_n_children(&t);
    if (f->n_children < 0 || (want >= 0 && f->n_children != want) ||
        (f->n_children > 0 && f->children == NULL))
        return ik_error_set(err, EINVAL, "field '%s': %s with %lld children", name_of(f),
                            ik__type_name(t.id), (long long)f->n_children);
    switch (t.id) {
    case IK_T_DECIMAL32:
    case IK_T_DECIMAL64:
    case IK_T_DECIMAL128:
    case IK_T_DECIMAL256:
        ik__sb_printf(s, "%s(%d, %d)", ik__type_name(t.id), (int)t.precision, (int)t.scale);
        return 0;
    case IK_T_DATE32:
        ik__sb_adds(s, "date32[day]");
        return 0;
    case IK_T_DATE64:
        ik__sb_adds(s, "date64[ms]");
        return 0;
    case IK_T_TIME32:
    case IK_T_TIME64:
    case IK_T_DURATION:
        ik__sb_printf(s, "%s[%s]", ik__type_name(t.id), unit_names[t.unit]);
        return 0;
    case IK_T_TIMESTAMP:
        ik__sb_printf(s, "timestamp[%s", unit_names[t.unit]);
        if (t.timezone[0])
            ik__sb_printf(s, ", tz=%s", t.timezone);
        ik__sb_addc(s, ']');
        return 0;
    case IK_T_FIXED_SIZE_BINARY:
        ik__sb_printf(s, "fixed_size_binary[%d]", (int)t.fixed_size);
        return 0;
    default:
        if (want == 0)
            ik__sb_adds(s, ik__type_name(t.id));
        else
            return nested_str(s, f, &t, depth + 1, err);
        return 0;
    }
}

/* ---- metadata ----------------------------------------------------------------------------- */

/* A title line and "key: 'value'" lines at `indent`; a value longer than
 * max(10, 70 - key length - indent) bytes is cut there and followed by " + <bytes left>".
 * Extension keys are left out when `skip_ext` (they are the field's type). */
static void metadata_str(struct ik__sb *s, const char *md, const char *title, size_t indent,
                         bool skip_ext)
{
    struct ik__kv_iter it;
    struct ik__kv e;
    bool any = false;
    for (ik__kv_begin(&it, md); ik__kv_next(&it, &e);) {
        size_t lim;
        if (skip_ext && (ik__kv_is(&e, EXT_NAME) || ik__kv_is(&e, EXT_META)))
            continue;
        if (!any) {
            ik__sb_addc(s, '\n');
            spaces(s, indent);
            ik__sb_adds(s, title);
            any = true;
        }
        ik__sb_addc(s, '\n');
        spaces(s, indent);
        ik__sb_add(s, e.key, e.key_len);
        ik__sb_add(s, ": '", 3);
        lim = e.key_len + indent <= 70 ? 70 - e.key_len - indent : SIZE_MAX;
        if (lim < 10)
            lim = 10;
        if (e.value_len <= lim) {
            ik__sb_add(s, e.value, e.value_len);
            ik__sb_addc(s, '\'');
        } else {
            ik__sb_add(s, e.value, lim);
            ik__sb_printf(s, "' + %zu", e.value_len - lim);
        }
    }
}

/* ---- fields and their children ------------------------------------------------------------ */

static int field_tree(struct ik__sb *s, const struct ArrowSchema *f, const char *name,
                      bool nullable, size_t indent, int depth, struct ik_error *err);

/* The fields a type lists below it: none for dictionary and extension types. */
static int children_tree(struct ik__sb *s, const struct ArrowSchema *f, size_t indent, int depth,
                         struct ik_error *err)
{
    struct ik_type t;
    int64_t i;
    int rc;
    if (f->dictionary || ik_metadata_get(f->metadata, EXT_NAME, NULL) ||
        ik__type_parse(f->format, &t, NULL) != 0)
        return 0;
    for (i = 0; i < f->n_children; i++) {
        const struct ArrowSchema *c = f->children[i];
        bool ree = t.id == IK_T_RUN_END_ENCODED;
        ik__sb_addc(s, '\n');
        spaces(s, indent + indent + 2);
        ik__sb_printf(s, "child %lld, ", (long long)i);
        rc = field_tree(s, c, ree ? (i == 0 ? "run_ends" : "values") : NULL,
                        ree ? i != 0 : (c->flags & ARROW_FLAG_NULLABLE) != 0, indent + 2, depth + 1,
                        err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A field, the fields below it, then its metadata. `name` overrides the schema's name (the
 * children of run-end encoded types, whose names and nullability Arrow C++ fixes). */
static int field_tree(struct ik__sb *s, const struct ArrowSchema *f, const char *name,
                      bool nullable, size_t indent, int depth, struct ik_error *err)
{
    int rc;
    if (depth > IK__PRINT_MAX_DEPTH)
        return ik_error_set(err, IK_ELIMIT, "schema nested deeper than %d levels",
                            IK__PRINT_MAX_DEPTH);
    ik__sb_adds(s, name ? name : name_of(f));
    ik__sb_add(s, ": ", 2);
    if ((rc = type_str(s, f, depth, err)) != 0)
        return rc;
    if (!nullable)
        ik__sb_add(s, " not null", 9);
    if ((rc = children_tree(s, f, indent, depth, err)) != 0)
        return rc;
    if (name == NULL)
        metadata_str(s, f->metadata, "-- field metadata --", indent + 2,
                     ik_metadata_get(f->metadata, EXT_NAME, NULL) != NULL);
    return 0;
}

int ik_schema_print(FILE *out, const struct ArrowSchema *schema, struct ik_error *err)
{
    struct ik__sb s = {0};
    int64_t i;
    int rc = 0;
    if (out == NULL || schema == NULL)
        return ik_error_set(err, EINVAL, "no output or schema");
    if (schema->n_children < 0 || (schema->n_children > 0 && schema->children == NULL))
        return ik_error_set(err, EINVAL, "schema with %lld fields", (long long)schema->n_children);
    for (i = 0; i < schema->n_children && rc == 0; i++) {
        if (i)
            ik__sb_addc(&s, '\n');
        rc = field_tree(&s, schema->children[i], NULL,
                        (schema->children[i]->flags & ARROW_FLAG_NULLABLE) != 0, 0, 0, err);
    }
    if (rc == 0) {
        metadata_str(&s, schema->metadata, "-- schema metadata --", 0, false);
        ik__sb_addc(&s, '\n');
        if (s.oom)
            rc = ik_error_set(err, ENOMEM, "out of memory");
        else if (fwrite(s.p, 1, s.len, out) != s.len || fflush(out) != 0)
            rc = ik_error_set(err, EIO, "writing output: %s", strerror(errno));
    }
    ik__sb_free(&s);
    return rc;
}
