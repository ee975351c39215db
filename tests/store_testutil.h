/* Test data for the pin store (tests/test_store.c, bench/bench_store.c): valid CIDv0 strings
 * made from a number (base58btc of 0x12 0x20 and a 32-byte digest derived from it), and a
 * memory sink for the IPC writer. */
#ifndef IK_STORE_TESTUTIL_H
#define IK_STORE_TESTUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/cid.h"
#include "ipfskit/error.h"

/* Writes the 46-character CIDv0 of number `n` and a NUL into out[47]. */
static inline void ik_test_cidv0(uint64_t n, char out[47])
{
    struct ik_cid c;
    uint8_t digest[32];
    uint64_t x = n * 0x9e3779b97f4a7c15u + 1;
    int i;
    for (i = 0; i < 32; i++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9u;
        x ^= x >> 32;
        digest[i] = (uint8_t)x;
    }
    ik_cid_v0(digest, &c);
    ik_cid_format(&c, out, 47);
}

struct ik_test_sink {
    uint8_t *p;
    size_t len, cap;
};

static inline int ik_test_sink_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct ik_test_sink *s = ctx;
    (void)err;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        uint8_t *q;
        while (cap < s->len + len)
            cap *= 2;
        if ((q = realloc(s->p, cap)) == NULL)
            return ENOMEM;
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, len);
    s->len += len;
    return 0;
}

#endif
