/* Tests of ik_schema_print: the text must equal pyarrow 26's str(schema) plus a newline (the
 * expected strings below were produced by pyarrow for the same schemas): type names, nested
 * children and their indentation, maps, unions, dictionaries, run-end encoding, extension
 * types, field and schema metadata with pyarrow's truncation, and the error cases. */
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"
#include "ik_test.h"

#define N ARROW_FLAG_NULLABLE

static struct ArrowSchema *fld(struct ArrowSchema *s, const char *format, const char *name,
                               int64_t flags, int64_t n_children)
{
    ik__schema_alloc(s, format, name, NULL, flags, n_children);
    return s;
}

/* A C Data Interface metadata blob of n key/value pairs, written into `out`. */
static const char *meta(char *out, int32_t n, const char *const *kv)
{
    char *p = out + 4;
    int32_t i;
    memcpy(out, &n, 4);
    for (i = 0; i < 2 * n; i++) {
        int32_t len = (int32_t)strlen(kv[i]);
        memcpy(p, &len, 4);
        memcpy(p + 4, kv[i], (size_t)len);
        p += 4 + len;
    }
    return out;
}

static char text[1 << 14];

/* The printed schema, or "error <code>: <message>". Releases the schema. */
static const char *print(struct ArrowSchema *s)
{
    struct ik_error err = {{0}};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = ik_schema_print(f, s, &err);
    fclose(f);
    if (rc != 0)
        snprintf(text, sizeof text, "error %d: %s", rc, err.message);
    else
        snprintf(text, sizeof text, "%s", buf);
    free(buf);
    s->release(s);
    return text;
}

TEST(test_schema_print_names_every_flat_type_like_pyarrow)
{
    static const struct {
        const char *format, *name;
        int64_t flags;
    } f[] = {
        {"c", "a", 0},
        {"L", "b", N},
        {"e", "h", N},
        {"f", "f", N},
        {"g", "d", N},
        {"d:10,2", "dec", N},
        {"d:5,2,32", "dec32", N},
        {"d:15,3,64", "dec64", N},
        {"d:40,-2,256", "dec256", N},
        {"tdD", "d32", N},
        {"tdm", "d64", N},
        {"tts", "t32", N},
        {"ttn", "t64", N},
        {"tsu:", "ts", N},
        {"tsu:UTC", "tstz", N},
        {"tss:+01:00", "tstz2", N},
        {"tDm", "dur", N},
        {"tin", "im", N},
        {"z", "bin", N},
        {"u", "s", 0},
        {"Z", "lb", N},
        {"U", "ls", N},
        {"vz", "bv", N},
        {"vu", "sv", N},
        {"w:16", "fsb", N},
        {"n", "n", N},
        {"b", "bo", N},
        {"tiM", "ym", N},
        {"tiD", "dt", N},
    };
    struct ArrowSchema s;
    int i, n = (int)(sizeof f / sizeof f[0]);
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, n);
    for (i = 0; i < n; i++)
        fld(s.children[i], f[i].format, f[i].name, f[i].flags, 0);
    ASSERT_STR_EQ(print(&s), "a: int8 not null\n"
                             "b: uint64\n"
                             "h: halffloat\n"
                             "f: float\n"
                             "d: double\n"
                             "dec: decimal128(10, 2)\n"
                             "dec32: decimal32(5, 2)\n"
                             "dec64: decimal64(15, 3)\n"
                             "dec256: decimal256(40, -2)\n"
                             "d32: date32[day]\n"
                             "d64: date64[ms]\n"
                             "t32: time32[s]\n"
                             "t64: time64[ns]\n"
                             "ts: timestamp[us]\n"
                             "tstz: timestamp[us, tz=UTC]\n"
                             "tstz2: timestamp[s, tz=+01:00]\n"
                             "dur: duration[ms]\n"
                             "im: month_day_nano_interval\n"
                             "bin: binary\n"
                             "s: string not null\n"
                             "lb: large_binary\n"
                             "ls: large_string\n"
                             "bv: binary_view\n"
                             "sv: string_view\n"
                             "fsb: fixed_size_binary[16]\n"
                             "n: null\n"
                             "bo: bool\n"
                             "ym: month_interval\n"
                             "dt: day_time_interval\n");
}

/* A map field: entries struct of key and value with the given names. */
static void map_field(struct ArrowSchema *m, const char *name, const char *k, const char *v,
                      int64_t value_flags, int64_t map_flags)
{
    fld(m, "+m", name, map_flags, 1);
    fld(m->children[0], "+s", "entries", 0, 2);
    fld(m->children[0]->children[0], "u", k, 0, 0);
    fld(m->children[0]->children[1], "l", v, value_flags, 0);
}

static void union_field(struct ArrowSchema *u, const char *format, const char *name)
{
    fld(u, format, name, N, 2);
    fld(u->children[0], "i", "a", N, 0);
    fld(u->children[1], "u", "b", N, 0);
}

TEST(test_schema_print_nested_types_and_schema_metadata_like_pyarrow)
{
    struct ArrowSchema s, *c;
    char md[1024], k65[66], k75[76], x100[101], v20[21];
    const char *kv[10];
    memset(k65, 'k', 65);
    k65[65] = 0;
    memset(k75, 'k', 75);
    k75[75] = 0;
    memset(x100, 'x', 100);
    x100[100] = 0;
    memset(v20, 'v', 20);
    v20[20] = 0;
    kv[0] = "ipfs_kit.table";
    kv[1] = "pin_index";
    kv[2] = "long";
    kv[3] = x100;
    kv[4] = k65;
    kv[5] = v20;
    kv[6] = k75;
    kv[7] = v20;
    kv[8] = "e";
    kv[9] = "";
    ik__schema_alloc(&s, "+s", NULL, meta(md, 5, kv), 0, 11);
    fld(fld(s.children[0], "+l", "l", N, 1)->children[0], "l", "item", N, 0);
    fld(fld(s.children[1], "+L", "ll", N, 1)->children[0], "l", "x", 0, 0);
    fld(fld(s.children[2], "+w:3", "fsl", 0, 1)->children[0], "l", "item", N, 0);
    c = fld(s.children[3], "+s", "st", N, 2);
    fld(c->children[0], "i", "x", N, 0);
    fld(fld(c->children[1], "+l", "y", 0, 1)->children[0], "u", "item", N, 0);
    map_field(s.children[4], "m", "key", "value", N, N);
    map_field(s.children[5], "m2", "k", "v", 0, N | ARROW_FLAG_MAP_KEYS_SORTED);
    union_field(s.children[6], "+us:0,1", "su");
    union_field(s.children[7], "+ud:5,7", "du");
    fld(s.children[8], "i", "dict", N, 0);
    ik__schema_alloc_dictionary(s.children[8]);
    fld(s.children[8]->dictionary, "u", NULL, N, 0);
    fld(s.children[9], "C", "dicto", ARROW_FLAG_DICTIONARY_ORDERED, 0);
    ik__schema_alloc_dictionary(s.children[9]);
    fld(fld(s.children[9]->dictionary, "+l", NULL, N, 1)->children[0], "u", "item", N, 0);
    c = fld(s.children[10], "+r", "ree", N, 2);
    fld(c->children[0], "s", "ends", N, 0); /* Arrow C++ renames and fixes nullability */
    fld(fld(c->children[1], "+l", "vals", 0, 1)->children[0], "c", "item", N, 0);
    ASSERT_STR_EQ(
        print(&s),
        "l: list<item: int64>\n"
        "  child 0, item: int64\n"
        "ll: large_list<x: int64 not null>\n"
        "  child 0, x: int64 not null\n"
        "fsl: fixed_size_list<item: int64>[3] not null\n"
        "  child 0, item: int64\n"
        "st: struct<x: int32, y: list<item: string> not null>\n"
        "  child 0, x: int32\n"
        "  child 1, y: list<item: string> not null\n"
        "      child 0, item: string\n"
        "m: map<string, int64>\n"
        "  child 0, entries: struct<key: string not null, value: int64> not null\n"
        "      child 0, key: string not null\n"
        "      child 1, value: int64\n"
        "m2: map<string ('k'), int64 ('v'), keys_sorted>\n"
        "  child 0, entries: struct<k: string not null, v: int64 not null> not null\n"
        "      child 0, k: string not null\n"
        "      child 1, v: int64 not null\n"
        "su: sparse_union<a: int32=0, b: string=1>\n"
        "  child 0, a: int32\n"
        "  child 1, b: string\n"
        "du: dense_union<a: int32=5, b: string=7>\n"
        "  child 0, a: int32\n"
        "  child 1, b: string\n"
        "dict: dictionary<values=string, indices=int32, ordered=0>\n"
        "dicto: dictionary<values=list<item: string>, indices=uint8, ordered=1> not null\n"
        "ree: run_end_encoded<run_ends: int16, values: list<item: int8>>\n"
        "  child 0, run_ends: int16 not null\n"
        "  child 1, values: list<item: int8>\n"
        "      child 0, item: int8\n"
        "-- schema metadata --\n"
        "ipfs_kit.table: 'pin_index'\n"
        "long: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 34\n"
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: 'vvvvvvvvvv' + "
        "10\n"
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: "
        "'vvvvvvvvvvvvvvvvvvvv'\n"
        "e: ''\n");
}

TEST(test_schema_print_extension_types_and_field_metadata_like_pyarrow)
{
    struct ArrowSchema s;
    char m1[256], m2[256], m3[64], m4[256], v100[101];
    const char *uuid[] = {
        "ARROW:extension:name", "arrow.uuid", "ARROW:extension:metadata", "", "note", "hi"};
    const char *json[] = {"ARROW:extension:name", "arrow.json", "ARROW:extension:metadata", ""};
    const char *xy[] = {"x", "y"};
    const char *kv[] = {"k", v100};
    memset(v100, 'v', 100);
    v100[100] = 0;
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, 3);
    ik__schema_alloc(s.children[0], "w:16", "u", meta(m1, 3, uuid), N, 0);
    ik__schema_alloc(s.children[1], "u", "j", meta(m2, 2, json), N, 0);
    ik__schema_alloc(s.children[2], "+s", "st", meta(m3, 1, xy), N, 1);
    ik__schema_alloc(s.children[2]->children[0], "c", "c", meta(m4, 1, kv), N, 0);
    ASSERT_STR_EQ(
        print(&s),
        "u: extension<arrow.uuid>\n"
        "  -- field metadata --\n"
        "  note: 'hi'\n"
        "j: extension<arrow.json>\n"
        "st: struct<c: int8>\n"
        "  child 0, c: int8\n"
        "    -- field metadata --\n"
        "    k: 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' + 35\n"
        "  -- field metadata --\n"
        "  x: 'y'\n");
}

TEST(test_schema_print_empty_schema_and_empty_containers)
{
    struct ArrowSchema s;
    char md[64];
    const char *kv[] = {"a", "b"};
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, 0);
    ASSERT_STR_EQ(print(&s), "\n");
    ik__schema_alloc(&s, "+s", NULL, meta(md, 1, kv), 0, 0);
    ASSERT_STR_EQ(print(&s), "\n-- schema metadata --\na: 'b'\n");
    ik__schema_alloc(&s, "+s", NULL, meta(md, 0, kv), 0, 3);
    fld(s.children[0], "+ud:", "a", N, 0);
    fld(s.children[1], "+s", "b", N, 0);
    fld(s.children[2], "i", NULL, N, 0);
    ASSERT_STR_EQ(print(&s), "a: dense_union<>\nb: struct<>\n: int32\n");
}

TEST(test_schema_print_errors)
{
    struct ArrowSchema s;
    struct ik_error err = {{0}};
    FILE *f;
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, 1);
    fld(s.children[0], "+vx", "lv", N, 1); /* no such type */
    fld(s.children[0]->children[0], "i", "item", N, 0);
    ASSERT_TRUE(strncmp(print(&s), "error 22: field 'lv': ", 22) == 0);
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, 2);
    fld(s.children[0], "+vl", "lv", N, 1);
    fld(s.children[0]->children[0], "i", "item", N, 0);
    fld(s.children[1], "+vL", "llv", N, 1);
    fld(s.children[1]->children[0], "u", "item", N, 0);
    ASSERT_STR_EQ(print(&s), "lv: list_view<item: int32>\n  child 0, item: int32\n"
                             "llv: large_list_view<item: string>\n  child 0, item: string\n");
    ik__schema_alloc(&s, "+s", NULL, NULL, 0, 1);
    fld(s.children[0], "+l", "l", N, 0);
    ASSERT_STR_EQ(print(&s), "error 22: field 'l': list with 0 children");
    if ((f = fopen("/dev/full", "w")) != NULL) {
        ik__schema_alloc(&s, "+s", NULL, NULL, 0, 1);
        fld(s.children[0], "i", "x", N, 0);
        ASSERT_FAILS(ik_schema_print(f, &s, &err), EIO, &err, "writing output");
        s.release(&s);
        fclose(f);
    }
}
