/* Blocks for the bytes the encoder computes (the offsets of a batch cut from inside a segment,
 * rebased to 0), reused: a block handed to gRPC as a slice comes back to the pool when gRPC lets
 * go of the slice, and the next message is rebased into memory whose pages are already
 * resident. Fresh blocks from malloc cost more than the rebasing itself: each large one is
 * mapped, zeroed by the kernel page by page on first touch, and unmapped (or trimmed) when
 * freed (a tenth of the daemon's CPU in a whole-table DoGet, docs/flight.md). Thread-safe
 * (blocks come back on gRPC's threads); counted: the pool lives while its creator, an encoder
 * or a block out of it holds it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "flight/flight.h"

/* Blocks are a whole number of GRAIN bytes, so one block serves many nearby sizes. */
#define GRAIN ((size_t)64 << 10)
#define SMALL ((size_t)4 << 10)

struct block {
    struct ik_flight_pool *pool;
    struct block *next; /* in the free list */
    size_t cap;         /* bytes after the header */
    max_align_t data[];
};

struct ik_flight_pool {
    pthread_mutex_t mu;
    atomic_long refs; /* the creator's, each encoder's, each block out */
    struct block *free_list;
    size_t kept, keep_max;        /* bytes in the free list, and its bound */
    _Atomic int64_t reused, made; /* blocks handed out again, and made */
};

int ik_flight_pool_create(size_t keep_bytes, struct ik_flight_pool **out)
{
    struct ik_flight_pool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p == NULL)
        return ENOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return ENOMEM;
    }
    atomic_init(&p->refs, 1);
    p->keep_max = keep_bytes;
    *out = p;
    return 0;
}

void ik_flight_pool_ref(struct ik_flight_pool *p)
{
    atomic_fetch_add(&p->refs, 1);
}

void ik_flight_pool_release(struct ik_flight_pool *p)
{
    if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (struct block *b = p->free_list, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void *ik_flight_pool_get(struct ik_flight_pool *p, size_t n)
{
    struct block *b = NULL, **best = NULL;
    size_t cap = n < SMALL ? SMALL : (n + GRAIN - 1) / GRAIN * GRAIN;
    pthread_mutex_lock(&p->mu);
    for (struct block **at = &p->free_list; *at; at = &(*at)->next) /* the smallest that fits */
        if ((*at)->cap >= n && (best == NULL || (*at)->cap < (*best)->cap))
            best = at;
    if (best) {
        b = *best;
        *best = b->next;
        p->kept -= b->cap;
    }
    pthread_mutex_unlock(&p->mu);
    if (b) {
        atomic_fetch_add_explicit(&p->reused, 1, memory_order_relaxed);
    } else {
        if ((b = malloc(sizeof *b + cap)) == NULL)
            return NULL;
        b->cap = cap;
        b->pool = p;
        atomic_fetch_add_explicit(&p->made, 1, memory_order_relaxed);
    }
    ik_flight_pool_ref(p);
    return b->data;
}

void ik_flight_pool_put(void *data)
{
    struct block *b;
    struct ik_flight_pool *p;
    if (data == NULL)
        return;
    b = (struct block *)(void *)((char *)data - offsetof(struct block, data));
    p = b->pool;
    pthread_mutex_lock(&p->mu);
    if (p->kept + b->cap <= p->keep_max) {
        b->next = p->free_list;
        p->free_list = b;
        p->kept += b->cap;
        b = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    free(b);
    ik_flight_pool_release(p);
}

void ik_flight_pool_counts(const struct ik_flight_pool *p, int64_t *made, int64_t *reused)
{
    *made = atomic_load(&p->made);
    *reused = atomic_load(&p->reused);
}
