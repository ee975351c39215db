/* Test data for the pin store (tests/test_store.c, bench/bench_store.c): valid CIDv0 strings
 * made from a number (base58btc of 0x12 0x20 and a 32-byte digest derived from it), a memory
 * sink for the IPC writer, and random writes for the change-log property tests. */
#ifndef IK_STORE_TESTUTIL_H
#define IK_STORE_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/cid.h"
#include "ipfskit/error.h"
#include "ipfskit/store.h"

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

/* One random write to `st` over the pins numbered below `keys`: an add (with metadata now and
 * then when `metadata`), a remove, a touch, or an import of a few pins; failures (a remove of
 * a pin not there) are part of the mix. The random stream depends only on *seed and the
 * arguments, so a printed seed replays it. */
static inline void ik_test_random_write(struct ik_store *st, unsigned *seed, int keys, int metadata)
{
    struct ik_error err;
    char cid[47], name[32], path[32], text[2048];
    int op = rand_r(seed) % 10;
    ik_test_cidv0((uint64_t)(rand_r(seed) % keys), cid);
    if (op < 4) {
        struct ik_pin p;
        ik_pin_init(&p);
        snprintf(name, sizeof name, "n%d", rand_r(seed) % 5);
        snprintf(path, sizeof path, "/d%d/f", rand_r(seed) % 3);
        p.cid = cid;
        p.name = rand_r(seed) % 3 ? name : NULL;
        p.vfs_path = rand_r(seed) % 2 ? path : NULL;
        p.size_bytes = rand_r(seed) % 2 ? rand_r(seed) % 1000 : -1;
        if (metadata)
            p.metadata = rand_r(seed) % 4 == 0 ? "{\"k\":1}" : NULL;
        (void)ik_store_add(st, &p, &err);
    } else if (op < 6) {
        (void)ik_store_remove(st, cid, &err); /* ENOENT is fine */
    } else if (op < 8) {
        (void)ik_store_touch(st, cid, 0, &err);
    } else {
        struct ik_import_options o;
        struct ik_import_result res;
        size_t n = 0;
        int k, rows = 1 + rand_r(seed) % 6;
        for (k = 0; k < rows; k++) {
            ik_test_cidv0((uint64_t)(rand_r(seed) % keys), cid);
            n += (size_t)snprintf(text + n, sizeof text - n,
                                  "{\"cid\":\"%s\",\"name\":\"i%d\",\"pin_type\":\"%s\"}\n", cid,
                                  rand_r(seed) % 4, rand_r(seed) % 2 ? "direct" : "recursive");
        }
        ik_import_options_init(&o);
        (void)ik_store_import(st, (const uint8_t *)text, n, &o, &res, &err);
    }
}

#endif
