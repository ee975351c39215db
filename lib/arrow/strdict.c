/* A string dictionary being built: the values of a dictionary<int, utf8> array (offsets and
 * data, in first-appearance order) and an open-addressing hash of them, with the last hit
 * checked first (consecutive values often repeat). Shared by the row builder and the pin
 * reader (lib/store/read_pins.c). */
#include <stdlib.h>

#include "arrow/internal.h"

static inline uint32_t hash_bytes(const void *s, size_t len)
{
    const uint8_t *p = s;
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, folded to 32 bits */
    size_t i;
    for (i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return (uint32_t)(h ^ (h >> 32));
}

static inline bool entry_is(const struct ik__strdict *d, int64_t e, const void *s, size_t len)
{
    const uint8_t *v;
    size_t n;
    ik__strdict_entry(d, e, &v, &n);
    return n == len && memcmp(v, s, len) == 0;
}

static void place(struct ik__strdict *d, uint32_t h, uint32_t idx)
{
    size_t mask = d->n_slots - 1, j = h & mask;
    while (d->slots[j])
        j = (j + 1) & mask;
    d->slots[j] = idx + 1;
}

int ik__strdict_reset(struct ik__strdict *d)
{
    if (d->slots == NULL) {
        d->n_slots = 16;
        if ((d->slots = calloc(d->n_slots, sizeof *d->slots)) == NULL)
            return ENOMEM;
    } else {
        memset(d->slots, 0, d->n_slots * sizeof *d->slots);
    }
    d->n = 0;
    d->last = -1;
    d->data.len = 0;
    if (ik__gb_reserve(&d->offs, 64) != 0)
        return ENOMEM;
    memset(d->offs.data, 0, 4);
    d->offs.len = 4;
    return 0;
}

void ik__strdict_free(struct ik__strdict *d)
{
    ik__gb_free(&d->offs);
    ik__gb_free(&d->data);
    free(d->slots);
    free(d->hashes);
    memset(d, 0, sizeof *d);
}

static int rehash(struct ik__strdict *d)
{
    size_t n = d->n_slots * 2, i;
    uint32_t *s = calloc(n, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    free(d->slots);
    d->slots = s;
    d->n_slots = n;
    for (i = 0; i < (size_t)d->n; i++)
        place(d, d->hashes[i], (uint32_t)i);
    return 0;
}

int ik__strdict_find(struct ik__strdict *d, const void *s, size_t len, int64_t max, int64_t *idx)
{
    uint32_t h;
    size_t mask, j;
    int32_t end;
    if (d->last >= 0 && entry_is(d, d->last, s, len)) {
        *idx = d->last;
        return 0;
    }
    h = hash_bytes(s, len);
    mask = d->n_slots - 1;
    for (j = h & mask; d->slots[j]; j = (j + 1) & mask) {
        uint32_t e = d->slots[j] - 1;
        if (d->hashes[e] == h && entry_is(d, e, s, len)) {
            *idx = d->last = e;
            return 0;
        }
    }
    if (d->n > max)
        return ERANGE;
    if (d->data.len + len > INT32_MAX)
        return IK_ELIMIT;
    if ((size_t)(d->n + 1) * 2 > d->n_slots && rehash(d) != 0)
        return ENOMEM;
    if ((d->n & (d->n - 1)) == 0) { /* grow the hash array at powers of two */
        size_t n = d->n ? (size_t)d->n * 2 : 8;
        uint32_t *hs = realloc(d->hashes, n * sizeof *hs);
        if (hs == NULL)
            return ENOMEM;
        d->hashes = hs;
    }
    if (ik__gb_reserve(&d->data, len) != 0 || ik__gb_reserve(&d->offs, 4) != 0)
        return ENOMEM;
    if (len)
        memcpy(d->data.data + d->data.len, s, len);
    d->data.len += len;
    end = (int32_t)d->data.len;
    memcpy(d->offs.data + d->offs.len, &end, 4);
    d->offs.len += 4;
    d->hashes[d->n] = h;
    place(d, h, (uint32_t)d->n);
    *idx = d->last = d->n++;
    return 0;
}

void ik__strdict_truncate(struct ik__strdict *d, int64_t n)
{
    while (d->n > n) {
        uint32_t e = (uint32_t)(d->n - 1);
        size_t mask = d->n_slots - 1, j = d->hashes[e] & mask, k;
        int32_t start;
        while (d->slots[j] != e + 1)
            j = (j + 1) & mask;
        d->slots[j] = 0;
        /* re-place the rest of the probe cluster so lookups still find it */
        for (k = (j + 1) & mask; d->slots[k]; k = (k + 1) & mask) {
            uint32_t x = d->slots[k] - 1;
            d->slots[k] = 0;
            place(d, d->hashes[x], x);
        }
        memcpy(&start, d->offs.data + 4 * e, 4);
        d->data.len = (size_t)start;
        d->offs.len -= 4;
        d->n--;
    }
    if (d->last >= d->n)
        d->last = -1;
}
