/* Import in cid order: the parsers check every row first, collect one small entry per good row,
 * sort the entries by CID here and then upsert in that order, so SQLite appends to the pins
 * B-tree (keyed by cid) instead of splitting random pages. Used by import_json.c (JSON lines)
 * and import_arrow.c. */
#include <stdlib.h>
#include <string.h>

#include "ipfskit/cid.h"
#include "store/cid_internal.h"
#include "store/store_internal.h"

/* A CID given in another form than the stored one sorts by its canonical text (the first 16
 * bytes in the key, the rest when keys tie), so it lands beside its twins and the later row
 * still wins. Such entries carry this bit in cid_len. */
#define OTHER_FORM 0x80000000u

/* The text an entry sorts by: its own, or its canonical form written into buf. */
static const char *sort_text(const struct ik__pending *t, char *buf, size_t cap, size_t *n)
{
    *n = t->cid_len & ~OTHER_FORM;
    if (!(t->cid_len & OTHER_FORM))
        return t->cid;
    *n = ik_cid_canonical(t->cid, *n, buf, cap);
    return buf;
}

size_t ik__pending_text(const struct ik__pending *t, char *buf, size_t cap, const char **text)
{
    size_t n;
    *text = sort_text(t, buf, cap, &n);
    return n;
}

bool ik__pending_same_cid(const struct ik__pending *a, const struct ik__pending *b)
{
    char ba[IK_CID_MAX_TEXT + 1], bb[IK_CID_MAX_TEXT + 1];
    const char *ta, *tb;
    size_t na, nb;
    if (a->key[0] != b->key[0] || a->key[1] != b->key[1])
        return false;
    ta = sort_text(a, ba, sizeof ba, &na);
    tb = sort_text(b, bb, sizeof bb, &nb);
    return na == nb && memcmp(ta, tb, na) == 0;
}

int ik__pending_add(struct ik__pending_list *l, const char *cid, size_t n, uint64_t seq,
                    struct ik_error *err)
{
    struct ik__pending *t;
    char canon[IK_CID_MAX_TEXT + 1];
    const char *k = cid;
    size_t i, kn = n;
    if (seq > UINT32_MAX)
        return ik_error_set(err, EFBIG, "more than %u rows in one import", UINT32_MAX);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        if ((t = realloc(l->v, cap * sizeof *t)) == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        l->v = t;
        l->cap = cap;
    }
    t = &l->v[l->n++];
    t->key[0] = t->key[1] = 0;
    t->cid = cid;
    t->cid_len = (uint32_t)n; /* a checked CID is short */
    t->seq = (uint32_t)seq;
    if (n > 0 && ik__cid_needs_canonical(cid, n) &&
        (kn = ik_cid_canonical(cid, n, canon, sizeof canon)) > 0) {
        k = canon;
        t->cid_len |= OTHER_FORM;
    } else {
        kn = n;
    }
    for (i = 0; i < 16 && i < kn; i++)
        t->key[i / 8] |= (uint64_t)(unsigned char)k[i] << (56 - 8 * (i % 8));
    return 0;
}

int ik__pending_append(struct ik__pending_list *l, const struct ik__pending_list *more,
                       struct ik_error *err)
{
    if (more->n == 0)
        return 0;
    if (l->n + more->n > l->cap) {
        struct ik__pending *t = realloc(l->v, (l->n + more->n) * sizeof *t);
        if (t == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        l->v = t;
        l->cap = l->n + more->n;
    }
    memcpy(l->v + l->n, more->v, more->n * sizeof *more->v);
    l->n += more->n;
    return 0;
}

void ik__pending_free(struct ik__pending_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Keys compare like the bytes they hold; equal keys fall back to the whole CID (memcmp, then
 * length: SQLite's BINARY collation), then to the input order. */
static int by_cid(const void *a, const void *b)
{
    const struct ik__pending *x = a, *y = b;
    char bx[IK_CID_MAX_TEXT + 1], by[IK_CID_MAX_TEXT + 1];
    const char *tx, *ty;
    size_t n, nx, ny;
    int c;
    if (x->key[0] != y->key[0])
        return x->key[0] < y->key[0] ? -1 : 1;
    if (x->key[1] != y->key[1])
        return x->key[1] < y->key[1] ? -1 : 1;
    tx = sort_text(x, bx, sizeof bx, &nx);
    ty = sort_text(y, by, sizeof by, &ny);
    n = nx < ny ? nx : ny;
    c = memcmp(tx, ty, n);
    if (c == 0)
        c = nx < ny ? -1 : nx > ny;
    if (c == 0) /* the same pin twice: the later row is upserted last and wins */
        c = x->seq < y->seq ? -1 : x->seq > y->seq;
    return c;
}

/* A bottom-up merge sort over runs put in order by insertion, with the comparison inlined and
 * 32-byte entries moved by assignment (glibc's qsort calls by_cid through a pointer and copies
 * generic elements: 192 ms for 1M lines, this 122 ms). `tmp` holds n entries. Stable, and
 * O(n log n) whatever the input. */
#define RUN 16

static void merge_sort(struct ik__pending *a, struct ik__pending *tmp, size_t n)
{
    struct ik__pending *src = a, *dst = tmp, *t;
    size_t w, i, j;
    for (i = 0; i < n; i += RUN) {
        size_t e = i + RUN < n ? i + RUN : n;
        for (j = i + 1; j < e; j++) {
            struct ik__pending x = a[j];
            size_t k = j;
            for (; k > i && by_cid(&x, &a[k - 1]) < 0; k--)
                a[k] = a[k - 1];
            a[k] = x;
        }
    }
    for (w = RUN; w < n; w *= 2) {
        for (i = 0; i < n; i += 2 * w) {
            size_t m = i + w < n ? i + w : n, e = i + 2 * w < n ? i + 2 * w : n;
            size_t l = i, r = m, k = i;
            while (l < m && r < e)
                dst[k++] = by_cid(&src[r], &src[l]) < 0 ? src[r++] : src[l++];
            while (l < m)
                dst[k++] = src[l++];
            while (r < e)
                dst[k++] = src[r++];
        }
        t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

void ik__pending_sort(struct ik__pending_list *l)
{
    struct ik__pending *tmp = malloc(l->n * sizeof *tmp + 1);
    if (tmp != NULL)
        merge_sort(l->v, tmp, l->n);
    else /* by_cid is a total order (seq is unique), so qsort's instability does not matter */
        qsort(l->v, l->n, sizeof *l->v, by_cid);
    free(tmp);
}
