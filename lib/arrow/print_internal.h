/* Internals shared by the rendering files: a growable string, the rendering plan compiled once
 * from a schema (print_value.c), and value rendering used by the printers (print.c). */
#ifndef IK_ARROW_PRINT_INTERNAL_H
#define IK_ARROW_PRINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arrow/internal.h"

/* Deepest schema the printers accept (readers stop at 64 by default). */
#define IK__PRINT_MAX_DEPTH 256

/* A growable NUL-terminated string. Allocation failure is sticky (oom) and later adds are
 * no-ops, so callers check once at the end. */
struct ik__sb {
    char *p;
    size_t len, cap;
    bool oom;
};

void ik__sb_add(struct ik__sb *s, const void *data, size_t n);
void ik__sb_addc(struct ik__sb *s, char c);
void ik__sb_adds(struct ik__sb *s, const char *str);
void ik__sb_printf(struct ik__sb *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ik__sb_free(struct ik__sb *s);

/* How a value is spelled.
 * JSON: JSON text (strings quoted and escaped, temporal/decimal/binary values as strings).
 * CSV: a top-level CSV field before quoting: text, hex, decimals and dates bare, null empty,
 *      nested values as their JSON text; invalid UTF-8 becomes U+FFFD.
 * TABLE: as CSV, but null is "null" and control characters are escaped as in JSON, so a cell
 *      stays on one line. */
enum ik__pmode { IK__PM_JSON = 0, IK__PM_CSV = 1, IK__PM_TABLE = 2 };

/* One field of the schema, parsed once. */
struct ik__pnode {
    struct ik_type t; /* storage type: the index type when dict != NULL */
    const char *name; /* never NULL */
    char *key;        /* the name as a JSON string followed by ':' (struct fields, columns) */
    size_t key_len;
    struct ik__pnode *children;
    int64_t n_children;
    struct ik__pnode *dict; /* dictionary value type, or NULL */
    int8_t child_of[128];   /* unions: type id -> child index, -1 when undeclared */
    bool has_validity;
    bool numeric; /* right-aligned in tables */
};

/* Compiles `s` (and its children and dictionary) into `n`; EINVAL for a type that cannot be
 * rendered, IK_ELIMIT beyond IK__PRINT_MAX_DEPTH, ENOMEM. `n` is freed on failure. */
int ik__pnode_build(struct ik__pnode *n, const struct ArrowSchema *s, struct ik_error *err);
void ik__pnode_free(struct ik__pnode *n);

/* Checks, in O(nodes), that `a` has the buffers, children and dictionary the plan reads, so
 * rendering never indexes a missing pointer (IK_EINVALID otherwise, naming what is missing). */
int ik__pnode_check(const struct ik__pnode *n, const struct ArrowArray *a, struct ik_error *err);

/* Appends element i (logical: a->offset is added here) of `a` to `s` in `mode`. Fails with
 * IK_EINVALID on an out-of-range dictionary index, union type id, view or offset. */
int ik__render(struct ik__sb *s, const struct ik__pnode *n, const struct ArrowArray *a, int64_t i,
               enum ik__pmode mode, struct ik_error *err);

/* Appends text bytes in `mode` (JSON: quoted and escaped; CSV: raw with invalid UTF-8 replaced
 * by U+FFFD; TABLE: as CSV with control characters escaped). */
void ik__put_text(struct ik__sb *s, const uint8_t *p, size_t n, enum ik__pmode mode);

/* Display width of UTF-8 text (East Asian wide characters count 2, combining marks 0); *cut
 * receives the byte length of its longest prefix no wider than `max`. */
size_t ik__text_width(const char *p, size_t n, size_t max, size_t *cut);

/* Scalars (print_text.c). JSON quotes hex, decimals, NaN/Infinity; dates and times are bare
 * here (the caller quotes). */
void ik__put_hex(struct ik__sb *s, const uint8_t *p, size_t n, enum ik__pmode mode);
void ik__put_double(struct ik__sb *s, double v, enum ik__pmode mode);
double ik__half_to_double(uint16_t h);
/* A little-endian two's complement integer of `bytes` (4, 8, 16, 32) with `scale` applied. */
void ik__put_decimal(struct ik__sb *s, const uint8_t *p, int bytes, int32_t scale,
                     enum ik__pmode mode);
void ik__put_date(struct ik__sb *s, int64_t days); /* YYYY-MM-DD, proleptic Gregorian */
void ik__put_time(struct ik__sb *s, int64_t v, enum ik_time_unit unit); /* HH:MM:SS[.f] */
/* YYYY-MM-DDTHH:MM:SS[.f], then Z when `utc`. */
void ik__put_timestamp(struct ik__sb *s, int64_t v, enum ik_time_unit unit, bool utc);

#endif
