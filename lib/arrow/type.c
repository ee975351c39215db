/* Data types: parsing C Data Interface format strings into struct ik_type, and the buffer and
 * child layout each type has (Columnar.rst, "Buffer Listing for Each Layout"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"

static const char *const names[IK_T_COUNT_] = {
    [IK_T_NA] = "null",
    [IK_T_BOOL] = "bool",
    [IK_T_INT8] = "int8",
    [IK_T_UINT8] = "uint8",
    [IK_T_INT16] = "int16",
    [IK_T_UINT16] = "uint16",
    [IK_T_INT32] = "int32",
    [IK_T_UINT32] = "uint32",
    [IK_T_INT64] = "int64",
    [IK_T_UINT64] = "uint64",
    [IK_T_HALF_FLOAT] = "halffloat",
    [IK_T_FLOAT] = "float",
    [IK_T_DOUBLE] = "double",
    [IK_T_DECIMAL32] = "decimal32",
    [IK_T_DECIMAL64] = "decimal64",
    [IK_T_DECIMAL128] = "decimal128",
    [IK_T_DECIMAL256] = "decimal256",
    [IK_T_DATE32] = "date32",
    [IK_T_DATE64] = "date64",
    [IK_T_TIME32] = "time32",
    [IK_T_TIME64] = "time64",
    [IK_T_TIMESTAMP] = "timestamp",
    [IK_T_DURATION] = "duration",
    [IK_T_INTERVAL_MONTHS] = "month_interval",
    [IK_T_INTERVAL_DAY_TIME] = "day_time_interval",
    [IK_T_INTERVAL_MONTH_DAY_NANO] = "month_day_nano_interval",
    [IK_T_BINARY] = "binary",
    [IK_T_STRING] = "string",
    [IK_T_LARGE_BINARY] = "large_binary",
    [IK_T_LARGE_STRING] = "large_string",
    [IK_T_BINARY_VIEW] = "binary_view",
    [IK_T_STRING_VIEW] = "string_view",
    [IK_T_FIXED_SIZE_BINARY] = "fixed_size_binary",
    [IK_T_LIST] = "list",
    [IK_T_LARGE_LIST] = "large_list",
    [IK_T_FIXED_SIZE_LIST] = "fixed_size_list",
    [IK_T_STRUCT] = "struct",
    [IK_T_MAP] = "map",
    [IK_T_SPARSE_UNION] = "sparse_union",
    [IK_T_DENSE_UNION] = "dense_union",
    [IK_T_RUN_END_ENCODED] = "run_end_encoded",
    [IK_T_LIST_VIEW] = "list_view",
    [IK_T_LARGE_LIST_VIEW] = "large_list_view",
};

const char *ik__type_name(enum ik_type_id id)
{
    return (id >= 0 && id < IK_T_COUNT_) ? names[id] : "unknown";
}

static int bad(const char *format, struct ik_error *err)
{
    return ik_error_set(err, IK_EFORMAT, "unsupported or malformed format string '%.64s'", format);
}

/* Parses a decimal integer in [lo, hi] at *p, advancing it. */
static int parse_int(const char **p, long lo, long hi, int32_t *out)
{
    char *end;
    long v;
    if (**p < '0' || **p > '9') {
        if (!(**p == '-' && (*p)[1] >= '0' && (*p)[1] <= '9'))
            return -1;
    }
    v = strtol(*p, &end, 10);
    if (end == *p || v < lo || v > hi)
        return -1;
    *p = end;
    *out = (int32_t)v;
    return 0;
}

static int parse_unit(char c, enum ik_time_unit *u)
{
    switch (c) {
    case 's':
        *u = IK_SECOND;
        return 0;
    case 'm':
        *u = IK_MILLI;
        return 0;
    case 'u':
        *u = IK_MICRO;
        return 0;
    case 'n':
        *u = IK_NANO;
        return 0;
    default:
        return -1;
    }
}

static int parse_union(const char *format, const char *p, struct ik_type *t, struct ik_error *err)
{
    if (*p++ != ':')
        return bad(format, err);
    t->n_type_ids = 0;
    if (*p == 0)
        return 0;
    for (;;) {
        int32_t id;
        if (t->n_type_ids >= 128 || parse_int(&p, 0, 127, &id) != 0)
            return bad(format, err);
        t->type_ids[t->n_type_ids++] = (int8_t)id;
        if (*p == 0)
            return 0;
        if (*p++ != ',')
            return bad(format, err);
    }
}

static int parse_nested(const char *format, struct ik_type *t, struct ik_error *err)
{
    const char *p = format + 1;
    switch (*p) {
    case 'l':
        t->id = IK_T_LIST;
        return p[1] ? bad(format, err) : 0;
    case 'L':
        t->id = IK_T_LARGE_LIST;
        return p[1] ? bad(format, err) : 0;
    case 's':
        t->id = IK_T_STRUCT;
        return p[1] ? bad(format, err) : 0;
    case 'm':
        t->id = IK_T_MAP;
        return p[1] ? bad(format, err) : 0;
    case 'r':
        t->id = IK_T_RUN_END_ENCODED;
        return p[1] ? bad(format, err) : 0;
    case 'w':
        t->id = IK_T_FIXED_SIZE_LIST;
        p++;
        if (*p++ != ':' || parse_int(&p, 0, INT32_MAX, &t->fixed_size) != 0 || *p)
            return bad(format, err);
        return 0;
    case 'u':
        if (p[1] == 'd')
            t->id = IK_T_DENSE_UNION;
        else if (p[1] == 's')
            t->id = IK_T_SPARSE_UNION;
        else
            return bad(format, err);
        return parse_union(format, p + 2, t, err);
    case 'v':
        if (p[1] == 'l')
            t->id = IK_T_LIST_VIEW;
        else if (p[1] == 'L')
            t->id = IK_T_LARGE_LIST_VIEW;
        else
            return bad(format, err);
        return p[2] ? bad(format, err) : 0;
    default:
        return bad(format, err);
    }
}

static int parse_temporal(const char *format, struct ik_type *t, struct ik_error *err)
{
    const char *p = format + 1;
    char kind = *p++, u = *p++;
    switch (kind) {
    case 'd':
        if (u == 'D' && *p == 0) {
            t->id = IK_T_DATE32;
            t->bit_width = 32;
        } else if (u == 'm' && *p == 0) {
            t->id = IK_T_DATE64;
            t->bit_width = 64;
        } else {
            return bad(format, err);
        }
        return 0;
    case 't':
        if (parse_unit(u, &t->unit) != 0 || *p)
            return bad(format, err);
        t->id = (u == 's' || u == 'm') ? IK_T_TIME32 : IK_T_TIME64;
        t->bit_width = t->id == IK_T_TIME32 ? 32 : 64;
        return 0;
    case 's':
        if (parse_unit(u, &t->unit) != 0 || *p != ':')
            return bad(format, err);
        t->id = IK_T_TIMESTAMP;
        t->bit_width = 64;
        t->timezone = p + 1;
        return 0;
    case 'D':
        if (parse_unit(u, &t->unit) != 0 || *p)
            return bad(format, err);
        t->id = IK_T_DURATION;
        t->bit_width = 64;
        return 0;
    case 'i':
        if (*p)
            return bad(format, err);
        if (u == 'M') {
            t->id = IK_T_INTERVAL_MONTHS;
            t->bit_width = 32;
        } else if (u == 'D') {
            t->id = IK_T_INTERVAL_DAY_TIME;
            t->bit_width = 64;
        } else if (u == 'n') {
            t->id = IK_T_INTERVAL_MONTH_DAY_NANO;
            t->bit_width = 128;
        } else {
            return bad(format, err);
        }
        return 0;
    default:
        return bad(format, err);
    }
}

static int parse_decimal(const char *format, struct ik_type *t, struct ik_error *err)
{
    const char *p = format + 1;
    int32_t bits = 128;
    if (*p++ != ':' || parse_int(&p, 1, 76, &t->precision) != 0 || *p++ != ',' ||
        parse_int(&p, -1000, 1000, &t->scale) != 0)
        return bad(format, err);
    if (*p == ',') {
        p++;
        if (parse_int(&p, 32, 256, &bits) != 0)
            return bad(format, err);
    }
    if (*p)
        return bad(format, err);
    switch (bits) {
    case 32:
        t->id = IK_T_DECIMAL32;
        break;
    case 64:
        t->id = IK_T_DECIMAL64;
        break;
    case 128:
        t->id = IK_T_DECIMAL128;
        break;
    case 256:
        t->id = IK_T_DECIMAL256;
        break;
    default:
        return bad(format, err);
    }
    t->bit_width = bits;
    /* the most digits the width holds: 9, 18, 38, 76 (Arrow refuses a larger precision) */
    if (t->precision > (bits == 32 ? 9 : bits == 64 ? 18 : bits == 128 ? 38 : 76))
        return ik_error_set(err, IK_EFORMAT, "'%s': precision %d does not fit %d-bit decimals",
                            format, (int)t->precision, (int)bits);
    return 0;
}

int ik__type_parse(const char *format, struct ik_type *t, struct ik_error *err)
{
    static const struct {
        char c;
        enum ik_type_id id;
        int32_t bits;
    } simple[] = {
        {'n', IK_T_NA, 0},      {'b', IK_T_BOOL, 1},         {'c', IK_T_INT8, 8},
        {'C', IK_T_UINT8, 8},   {'s', IK_T_INT16, 16},       {'S', IK_T_UINT16, 16},
        {'i', IK_T_INT32, 32},  {'I', IK_T_UINT32, 32},      {'l', IK_T_INT64, 64},
        {'L', IK_T_UINT64, 64}, {'e', IK_T_HALF_FLOAT, 16},  {'f', IK_T_FLOAT, 32},
        {'g', IK_T_DOUBLE, 64}, {'z', IK_T_BINARY, 0},       {'Z', IK_T_LARGE_BINARY, 0},
        {'u', IK_T_STRING, 0},  {'U', IK_T_LARGE_STRING, 0},
    };
    size_t i;
    memset(t, 0, sizeof *t);
    t->timezone = "";
    if (format == NULL || format[0] == 0)
        return ik_error_set(err, IK_EFORMAT, "empty format string");
    if (format[1] == 0) {
        for (i = 0; i < sizeof simple / sizeof simple[0]; i++) {
            if (simple[i].c == format[0]) {
                t->id = simple[i].id;
                t->bit_width = simple[i].bits;
                return 0;
            }
        }
        return bad(format, err);
    }
    switch (format[0]) {
    case 'v':
        if (format[1] == 'z' && format[2] == 0)
            t->id = IK_T_BINARY_VIEW;
        else if (format[1] == 'u' && format[2] == 0)
            t->id = IK_T_STRING_VIEW;
        else
            return bad(format, err);
        t->bit_width = 128;
        return 0;
    case 'w': {
        const char *p = format + 1;
        if (*p++ != ':' || parse_int(&p, 0, INT32_MAX / 8, &t->fixed_size) != 0 || *p)
            return bad(format, err);
        t->id = IK_T_FIXED_SIZE_BINARY;
        t->bit_width = t->fixed_size * 8;
        return 0;
    }
    case 'd':
        return parse_decimal(format, t, err);
    case 't':
        return parse_temporal(format, t, err);
    case '+':
        return parse_nested(format, t, err);
    default:
        return bad(format, err);
    }
}

int ik__type_n_buffers(const struct ik_type *t)
{
    switch (t->id) {
    case IK_T_NA:
    case IK_T_RUN_END_ENCODED:
        return 0;
    case IK_T_SPARSE_UNION:
    case IK_T_FIXED_SIZE_LIST:
    case IK_T_STRUCT:
        return 1;
    case IK_T_BINARY:
    case IK_T_STRING:
    case IK_T_LARGE_BINARY:
    case IK_T_LARGE_STRING:
    case IK_T_LIST_VIEW:
    case IK_T_LARGE_LIST_VIEW:
        return 3;
    default:
        return 2;
    }
}

int ik__type_n_children(const struct ik_type *t)
{
    switch (t->id) {
    case IK_T_LIST:
    case IK_T_LARGE_LIST:
    case IK_T_LIST_VIEW:
    case IK_T_LARGE_LIST_VIEW:
    case IK_T_FIXED_SIZE_LIST:
    case IK_T_MAP:
        return 1;
    case IK_T_RUN_END_ENCODED:
        return 2;
    case IK_T_STRUCT:
    case IK_T_SPARSE_UNION:
    case IK_T_DENSE_UNION:
        return -1;
    default:
        return 0;
    }
}

bool ik__type_has_validity(const struct ik_type *t)
{
    return t->id != IK_T_NA && t->id != IK_T_SPARSE_UNION && t->id != IK_T_DENSE_UNION &&
           t->id != IK_T_RUN_END_ENCODED;
}
