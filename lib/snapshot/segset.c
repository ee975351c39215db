/* Segment sets (include/ipfskit/segments.h): a table's state as a base segment plus deltas and
 * the rows of each that are gone; building the next state from a delta (finding each changed
 * key's live row by binary search in the key-sorted segments), the manifest bytes, and opening
 * a state from a manifest and its segments. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "snapshot/segset_internal.h"

#define MAGIC "IKMANI01"
#define HEAD_SIZE 96
#define SEG_SIZE 96

/* ---- keys ------------------------------------------------------------------------------ */

int ik__seg_key(const struct ik_seg *g, int64_t row, const uint8_t **p, size_t *n)
{
    const struct ArrowArray *b = ik__seg_batch(g), *c;
    const int32_t *offs;
    int64_t at;
    if (b == NULL || b->n_children < 1)
        return -1;
    c = b->children[0];
    offs = (const int32_t *)c->buffers[1];
    at = c->offset + b->offset + row;
    *p = (const uint8_t *)c->buffers[2] + offs[at];
    *n = (size_t)(offs[at + 1] - offs[at]);
    return 0;
}

static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* The first 8 bytes of p (n of them when fewer) as a big-endian number: comparing two such
 * numbers orders the keys as memcmp does their first 8 bytes. */
static uint64_t prefix8(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (i < n ? p[i] : 0);
    return v;
}

int64_t ik__seg_find(const struct ik_seg *g, const void *key, size_t n)
{
    const struct ArrowArray *b = ik__seg_batch(g), *c;
    const int32_t *offs;
    const uint8_t *data;
    uint64_t kp = prefix8(key, n);
    int64_t lo = 0, hi = g->rows;
    if (b == NULL || b->n_children < 1)
        return -1;
    c = b->children[0]; /* the invariants of every probe, out of the loop (ik__seg_key) */
    offs = (const int32_t *)c->buffers[1] + c->offset + b->offset;
    data = c->buffers[2];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const uint8_t *p = data + offs[mid];
        size_t pn = (size_t)(offs[mid + 1] - offs[mid]);
        uint64_t pp = prefix8(p, pn);
        /* the prefixes decide unless equal (then the whole keys: a prefix padded with zeros
         * equals a longer key's with zero bytes, which memcmp orders by length) */
        if (pp != kp ? pp < kp : key_cmp(p, pn, key, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < g->rows) {
        const uint8_t *p = data + offs[lo];
        if (key_cmp(p, (size_t)(offs[lo + 1] - offs[lo]), key, n) == 0)
            return lo;
    }
    return -1;
}

bool ik__seg_is_gone(const struct ik_seg *g, int64_t row)
{
    int64_t lo = 0, hi = g->n_gone;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (g->gone[mid] < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->n_gone && g->gone[lo] == row;
}

const struct ArrowArray *ik__seg_batch(const struct ik_seg *g)
{
    return ik__snapshot_batch(g->snap);
}

/* ---- lifetime -------------------------------------------------------------------------- */

static struct ik_segset *alloc_set(const char *table, uint64_t version, uint64_t seq)
{
    struct ik_segset *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    snprintf(s->table, sizeof s->table, "%s", table);
    s->version = version;
    s->seq = seq;
    return s;
}

void ik_segset_ref(struct ik_segset *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void ik_segset_release(struct ik_segset *s)
{
    int i;
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) > 1)
        return;
    for (i = 0; i < s->n; i++) {
        ik_snapshot_close(s->seg[i].snap);
        free(s->seg[i].gone);
        if (s->seg[i].fd >= 0 && s->seg[i].own_fd)
            close(s->seg[i].fd);
    }
    free(s);
}

static int set_seg(struct ik_seg *g, struct ik_snapshot *snap, const char *name, int fd,
                   struct ik_error *err)
{
    if (strlen(name) >= IK_SEG_NAME_MAX)
        return ik_error_set(err, ENAMETOOLONG, "segment name '%s' is too long", name);
    memset(g, 0, sizeof *g);
    ik_snapshot_ref(snap);
    g->snap = snap;
    g->rows = ik_snapshot_rows(snap);
    g->fd = fd;
    g->own_fd = fd >= 0;
    snprintf(g->name, sizeof g->name, "%s", name);
    return 0;
}

int ik_segset_new(const char *table, uint64_t version, uint64_t seq, struct ik_snapshot *snap,
                  const char *name, int fd, struct ik_segset **out, struct ik_error *err)
{
    struct ik_segset *s = alloc_set(table, version, seq);
    int rc;
    *out = NULL;
    if (s == NULL) {
        if (fd >= 0)
            close(fd);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    if ((rc = set_seg(&s->seg[0], snap, name, fd, err)) != 0) {
        if (fd >= 0)
            close(fd);
        free(s);
        return rc;
    }
    s->n = 1;
    *out = s;
    return 0;
}

/* ---- the next state -------------------------------------------------------------------- */

struct kill {
    int seg;
    int64_t row;
};

static int kill_cmp(const void *a, const void *b)
{
    const struct kill *x = a, *y = b;
    if (x->seg != y->seg)
        return x->seg - y->seg;
    return (x->row > y->row) - (x->row < y->row);
}

/* The live row holding `key` in segments [0, n) of s, newest first: -1 when none. */
static void find_live(const struct ik_segset *s, int n, const void *key, size_t len, struct kill *k)
{
    int i;
    k->seg = -1;
    for (i = n - 1; i >= 0; i--) {
        int64_t r = ik__seg_find(&s->seg[i], key, len);
        if (r >= 0 && !ik__seg_is_gone(&s->seg[i], r)) {
            k->seg = i;
            k->row = r;
            return;
        }
    }
}

/* seg->gone := seg->gone ∪ rows of kills[0..n) (sorted, all of this segment). */
static int merge_gone(struct ik_seg *g, const struct kill *kills, int64_t n)
{
    int64_t *m = malloc((size_t)(g->n_gone + n + 1) * sizeof *m), i = 0, j = 0, k = 0;
    if (m == NULL)
        return ENOMEM;
    while (i < g->n_gone || j < n) {
        int64_t v;
        if (j >= n || (i < g->n_gone && g->gone[i] < kills[j].row))
            v = g->gone[i++];
        else if (i < g->n_gone && g->gone[i] == kills[j].row)
            v = g->gone[i++], j++;
        else
            v = kills[j++].row;
        m[k++] = v;
    }
    free(g->gone);
    g->gone = m;
    g->n_gone = k;
    return 0;
}

static bool sorted_by_key(const struct ik_seg *g)
{
    const uint8_t *a, *b;
    size_t an, bn;
    int64_t r;
    for (r = 1; r < g->rows; r++) {
        if (ik__seg_key(g, r - 1, &a, &an) != 0 || ik__seg_key(g, r, &b, &bn) != 0 ||
            key_cmp(a, an, b, bn) >= 0)
            return false;
    }
    return true;
}

/* s->seg[0..n) := cur's first n segments: references, their own descriptors, rows gone. */
static int copy_segs(struct ik_segset *s, const struct ik_segset *cur, int n, struct ik_error *err)
{
    int i;
    for (i = 0; i < n; i++) {
        s->seg[i] = cur->seg[i];
        /* every state owns descriptors of its own segments */
        s->seg[i].fd = cur->seg[i].fd >= 0 ? fcntl(cur->seg[i].fd, F_DUPFD_CLOEXEC, 3) : -1;
        s->seg[i].own_fd = s->seg[i].fd >= 0;
        ik_snapshot_ref(s->seg[i].snap);
        s->n = i + 1;
        s->seg[i].gone = malloc((size_t)(cur->seg[i].n_gone + 1) * sizeof(int64_t));
        if (s->seg[i].gone == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        if (cur->seg[i].n_gone > 0)
            memcpy(s->seg[i].gone, cur->seg[i].gone, (size_t)cur->seg[i].n_gone * sizeof(int64_t));
    }
    return 0;
}

int ik_segset_add(const struct ik_segset *cur, uint64_t version, uint64_t seq,
                  struct ik_snapshot *delta, const char *name, int fd, const char *const *deleted,
                  size_t n_deleted, struct ik_segset **out, struct ik_error *err)
{
    struct ik_segset *s = NULL;
    struct kill *kills = NULL;
    int64_t nk = 0, r, i, j;
    const uint8_t *p;
    size_t pn;
    int rc = 0;
    *out = NULL;
    if (cur->n >= IK_SEG_MAX) {
        rc = ik_error_set(err, IK_ELIMIT, "%s: %d segments already", cur->table, cur->n);
        goto fail;
    }
    if (ik_snapshot_schema(delta)->n_children != ik_snapshot_schema(cur->seg[0].snap)->n_children) {
        rc =
            ik_error_set(err, EINVAL, "%s: the delta's schema differs from the base's", cur->table);
        goto fail;
    }
    if ((s = alloc_set(cur->table, version, seq)) == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = copy_segs(s, cur, cur->n, err)) != 0)
        goto fail;
    if ((rc = set_seg(&s->seg[s->n], delta, name, fd, err)) != 0)
        goto fail;
    fd = -1;
    s->n++;
    if (!sorted_by_key(&s->seg[s->n - 1])) {
        rc = ik_error_set(err, EINVAL, "%s: delta %s is not sorted by key", cur->table, name);
        goto fail;
    }
    kills = malloc((size_t)(s->seg[s->n - 1].rows + (int64_t)n_deleted + 1) * sizeof *kills);
    if (kills == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (r = 0; r < s->seg[s->n - 1].rows; r++) {
        ik__seg_key(&s->seg[s->n - 1], r, &p, &pn);
        find_live(s, s->n - 1, p, pn, &kills[nk]);
        nk += kills[nk].seg >= 0;
    }
    for (r = 0; r < (int64_t)n_deleted; r++) {
        find_live(s, s->n - 1, deleted[r], strlen(deleted[r]), &kills[nk]);
        nk += kills[nk].seg >= 0;
    }
    qsort(kills, (size_t)nk, sizeof *kills, kill_cmp);
    for (i = 0; i < nk; i = j) {
        for (j = i; j < nk && kills[j].seg == kills[i].seg; j++)
            ;
        if (merge_gone(&s->seg[kills[i].seg], kills + i, j - i) != 0) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    free(kills);
    *out = s;
    return 0;
fail:
    free(kills);
    if (fd >= 0)
        close(fd);
    ik_segset_release(s);
    return rc;
}

/* ---- manifest bytes -------------------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int ik_segset_manifest(const struct ik_segset *s, uint8_t **bytes, size_t *len,
                       struct ik_error *err)
{
    size_t n = HEAD_SIZE + (size_t)s->n * SEG_SIZE + 8, at;
    uint8_t *b;
    uint32_t cnt = (uint32_t)s->n;
    int i;
    for (i = 0; i < s->n; i++)
        n += (size_t)s->seg[i].n_gone * 8;
    if ((b = calloc(1, n)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    memcpy(b, MAGIC, 8);
    put64(b + 8, s->version);
    put64(b + 16, s->seq);
    memcpy(b + 24, &cnt, 4);
    memcpy(b + 32, s->table, strlen(s->table));
    at = HEAD_SIZE + (size_t)s->n * SEG_SIZE;
    for (i = 0; i < s->n; i++) {
        uint8_t *e = b + HEAD_SIZE + (size_t)i * SEG_SIZE;
        memcpy(e, s->seg[i].name, strlen(s->seg[i].name));
        put64(e + 64, (uint64_t)s->seg[i].rows);
        put64(e + 72, (uint64_t)s->seg[i].n_gone);
        if (s->seg[i].n_gone > 0)
            memcpy(b + at, s->seg[i].gone, (size_t)s->seg[i].n_gone * 8);
        at += (size_t)s->seg[i].n_gone * 8;
    }
    put64(b + at, fnv1a(b, at));
    *bytes = b;
    *len = n;
    return 0;
}

static bool good_name(const char *name, const char *table)
{
    size_t n = strlen(name), tl = strlen(table), i;
    if (n < tl + 7 || strncmp(name, table, tl) != 0 || name[tl] != '.' ||
        strcmp(name + n - 6, ".arrow") != 0)
        return false;
    for (i = 0; i < n; i++)
        if (name[i] == '/' || (unsigned char)name[i] < 0x21)
            return false;
    return true;
}

int ik_manifest_parse(const uint8_t *b, size_t len, struct ik_manifest *m, struct ik_error *err)
{
    return ik_manifest_parse_flags(b, len, 0, m, err);
}

int ik_manifest_parse_flags(const uint8_t *b, size_t len, unsigned flags, struct ik_manifest *m,
                            struct ik_error *err)
{
    uint32_t cnt;
    size_t at, need;
    int i;
    memset(m, 0, sizeof *m);
    if (len < HEAD_SIZE + 8 || memcmp(b, MAGIC, 8) != 0)
        return ik_error_set(err, IK_EFORMAT, "manifest: not a manifest (%zu bytes, bad magic)",
                            len);
    if (!(flags & IK_MANIFEST_TRUSTED) && get64(b + len - 8) != fnv1a(b, len - 8))
        return ik_error_set(err, IK_EFORMAT, "manifest: checksum mismatch (torn or altered)");
    memcpy(&cnt, b + 24, 4);
    if (cnt < 1 || cnt > IK_SEG_MAX)
        return ik_error_set(err, IK_EFORMAT, "manifest: %u segments (1 to %d)", cnt, IK_SEG_MAX);
    if (b[32 + 63] != 0)
        return ik_error_set(err, IK_EFORMAT, "manifest: table name not terminated");
    memcpy(m->table, b + 32, 64);
    m->version = get64(b + 8);
    m->seq = get64(b + 16);
    m->n = (int)cnt;
    need = HEAD_SIZE + (size_t)cnt * SEG_SIZE + 8;
    if (len < need)
        return ik_error_set(err, IK_EFORMAT, "manifest: %zu bytes, %zu needed", len, need);
    at = HEAD_SIZE + (size_t)cnt * SEG_SIZE;
    for (i = 0; i < m->n; i++) {
        const uint8_t *e = b + HEAD_SIZE + (size_t)i * SEG_SIZE;
        struct ik_manifest_seg *g = &m->seg[i];
        uint64_t ng = get64(e + 72);
        int64_t k;
        if (e[63] != 0)
            return ik_error_set(err, IK_EFORMAT, "manifest: segment %d: name not terminated", i);
        memcpy(g->name, e, 64);
        if (!good_name(g->name, m->table))
            return ik_error_set(err, IK_EFORMAT, "manifest: segment %d: bad file name '%s'", i,
                                g->name);
        g->rows = (int64_t)get64(e + 64);
        if (g->rows < 0 || ng > (uint64_t)g->rows || ng > (len - 8 - at) / 8)
            return ik_error_set(err, IK_EFORMAT,
                                "manifest: segment %d: %llu gone rows of %lld, or past the end", i,
                                (unsigned long long)ng, (long long)g->rows);
        g->n_gone = (int64_t)ng;
        g->gone = (const int64_t *)(const void *)(b + at);
        for (k = 0; k < g->n_gone; k++) {
            int64_t v = (int64_t)get64(b + at + (size_t)k * 8);
            if (v < 0 || v >= g->rows || (k > 0 && v <= (int64_t)get64(b + at + (size_t)k * 8 - 8)))
                return ik_error_set(err, IK_EFORMAT,
                                    "manifest: segment %d: gone row %lld out of order or range", i,
                                    (long long)k);
        }
        at += (size_t)ng * 8;
    }
    if (at + 8 != len)
        return ik_error_set(err, IK_EFORMAT, "manifest: %zu bytes after the gone rows",
                            len - 8 - at);
    return 0;
}

int ik_segset_open(const uint8_t *manifest, size_t len, struct ik_snapshot *const *segs, int n,
                   struct ik_segset **out, struct ik_error *err)
{
    return ik_segset_open_flags(manifest, len, 0, segs, n, out, err);
}

int ik_segset_open_flags(const uint8_t *manifest, size_t len, unsigned flags,
                         struct ik_snapshot *const *segs, int n, struct ik_segset **out,
                         struct ik_error *err)
{
    struct ik_manifest *m = malloc(sizeof *m);
    struct ik_segset *s = NULL;
    int rc, i;
    *out = NULL;
    if (m == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    if ((rc = ik_manifest_parse_flags(manifest, len, flags, m, err)) != 0)
        goto done;
    if (n != m->n) {
        rc = ik_error_set(err, IK_EFORMAT, "manifest names %d segments, %d given", m->n, n);
        goto done;
    }
    if ((s = alloc_set(m->table, m->version, m->seq)) == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < n; i++) {
        struct ik_seg *g = &s->seg[i];
        const struct ArrowSchema *sc = ik_snapshot_schema(segs[i]);
        int32_t tl = 0;
        const char *t = ik_metadata_get(sc->metadata, "ipfs_kit.table", &tl);
        if ((rc = set_seg(g, segs[i], m->seg[i].name, -1, err)) != 0)
            goto done;
        s->n = i + 1;
        if (g->rows != m->seg[i].rows || t == NULL || (size_t)tl != strlen(m->table) ||
            memcmp(t, m->table, (size_t)tl) != 0 || sc->n_children < 1 ||
            sc->n_children != ik_snapshot_schema(segs[0])->n_children) {
            rc = ik_error_set(err, IK_EFORMAT,
                              "segment %d (%s): %lld rows of table '%.*s', the manifest says "
                              "%lld of '%s'",
                              i, m->seg[i].name, (long long)g->rows, t ? (int)tl : 0, t ? t : "",
                              (long long)m->seg[i].rows, m->table);
            goto done;
        }
        g->n_gone = m->seg[i].n_gone;
        if ((g->gone = malloc((size_t)(g->n_gone + 1) * sizeof(int64_t))) == NULL) {
            rc = ik_error_set(err, ENOMEM, "out of memory");
            goto done;
        }
        if (g->n_gone > 0)
            memcpy(g->gone, m->seg[i].gone, (size_t)g->n_gone * sizeof(int64_t));
    }
    *out = s;
    s = NULL;
done:
    ik_segset_release(s);
    free(m);
    return rc;
}

/* ---- accessors ------------------------------------------------------------------------- */

const char *ik_segset_table(const struct ik_segset *s)
{
    return s->table;
}

uint64_t ik_segset_version(const struct ik_segset *s)
{
    return s->version;
}

uint64_t ik_segset_seq(const struct ik_segset *s)
{
    return s->seq;
}

int ik_segset_count(const struct ik_segset *s)
{
    return s->n;
}

int64_t ik_segset_gone_rows(const struct ik_segset *s)
{
    int64_t n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->seg[i].n_gone;
    return n;
}

int64_t ik_segset_rows(const struct ik_segset *s)
{
    int64_t n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->seg[i].rows;
    return n - ik_segset_gone_rows(s);
}

int64_t ik_segset_delta_rows(const struct ik_segset *s)
{
    int64_t n = 0;
    for (int i = 1; i < s->n; i++)
        n += s->seg[i].rows;
    return n;
}

struct ik_snapshot *ik_segset_segment(const struct ik_segset *s, int i)
{
    return s->seg[i].snap;
}

const char *ik_segset_name(const struct ik_segset *s, int i)
{
    return s->seg[i].name;
}

int ik_segset_fd(const struct ik_segset *s, int i)
{
    return s->seg[i].fd;
}

int64_t ik_segset_segment_gone(const struct ik_segset *s, int i)
{
    return s->seg[i].n_gone;
}

int ik_segset_prefix(const struct ik_segset *cur, int n, struct ik_segset **out,
                     struct ik_error *err)
{
    struct ik_segset *s;
    int rc;
    *out = NULL;
    if (n < 1 || n > cur->n)
        return ik_error_set(err, EINVAL, "%s: no prefix of %d of its %d segments", cur->table, n,
                            cur->n);
    if ((s = alloc_set(cur->table, ik_snapshot_version(cur->seg[n - 1].snap), 0)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    if ((rc = copy_segs(s, cur, n, err)) != 0) {
        ik_segset_release(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ik_segset_adopt_fds(struct ik_segset *s, const int *fds, int n)
{
    struct stat st;
    int i;
    if (n != s->n) {
        for (i = 0; i < n; i++)
            close(fds[i]);
        return EINVAL;
    }
    for (i = 0; i < n; i++) {
        if (s->seg[i].fd >= 0 && s->seg[i].own_fd)
            close(s->seg[i].fd);
        s->seg[i].fd = fds[i];
        s->seg[i].own_fd = true;
        if (fstat(fds[i], &st) == 0) {
            s->seg[i].dev = (uint64_t)st.st_dev;
            s->seg[i].ino = (uint64_t)st.st_ino;
        }
    }
    return 0;
}

struct ik_snapshot *ik_segset_find_file(const struct ik_segset *s, uint64_t dev, uint64_t ino)
{
    int i;
    for (i = 0; s && i < s->n; i++)
        if (s->seg[i].ino == ino && s->seg[i].dev == dev && ino != 0)
            return s->seg[i].snap;
    return NULL;
}

void ik_segset_drop_pages(const struct ik_segset *s)
{
    long page = sysconf(_SC_PAGESIZE);
    int i;
    /* every segment is a read-only MAP_SHARED mapping of its file (ik_snapshot_open_fd): a page
     * dropped here is read again from the page cache when next touched */
    for (i = 0; i < s->n && page > 0; i++) {
        size_t size;
        uintptr_t a = (uintptr_t)ik_snapshot_data(s->seg[i].snap, &size), b = a + size;
        a = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
        b &= ~((uintptr_t)page - 1);
        if (b > a)
            (void)madvise((void *)a, b - a, MADV_DONTNEED);
    }
}

/* vfs_stats reads a state in chunks of this many rows (IPFS_KIT_VFS_CHUNK for tests), dropping
 * the pages read after each: the reader's RSS grows by one chunk's columns (~15 MB), not by the
 * 10M-pin base's (~600 MB). */
static int64_t vfs_chunk(void)
{
    const char *v = getenv("IPFS_KIT_VFS_CHUNK");
    long long n = v ? atoll(v) : 0;
    return n > 0 ? (int64_t)n : (int64_t)1 << 18;
}

static void drop_after_chunk(void *ctx, int b)
{
    (void)b;
    ik_segset_drop_pages(ctx);
}

int ik_segset_vfs_stats(const struct ik_segset *s, struct ArrowSchema *schema_out,
                        struct ArrowArray *out, struct ik_error *err)
{
    struct ArrowArray *chunks = NULL;
    const struct ArrowArray **batches = NULL;
    const int64_t **skip = NULL;
    int64_t *n_skip = NULL, *rel = NULL, n = 0, total_gone = 0, at = 0, chunk = vfs_chunk();
    int i, rc;
    for (i = 0; i < s->n; i++) {
        n += (s->seg[i].rows + chunk - 1) / chunk;
        total_gone += s->seg[i].n_gone;
    }
    chunks = calloc((size_t)(n + 1), sizeof *chunks);
    batches = calloc((size_t)(n + 1), sizeof *batches);
    skip = calloc((size_t)(n + 1), sizeof *skip);
    n_skip = calloc((size_t)(n + 1), sizeof *n_skip);
    rel = malloc((size_t)(total_gone + 1) * sizeof *rel); /* gone rows, chunk-relative */
    if (!chunks || !batches || !skip || !n_skip || !rel) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    n = 0;
    for (i = 0; i < s->n; i++) {
        const struct ik_seg *g = &s->seg[i];
        int64_t start, k = 0;
        for (start = 0; start < g->rows; start += chunk, n++) {
            int64_t len = g->rows - start < chunk ? g->rows - start : chunk;
            chunks[n] = *ik__seg_batch(g); /* a view: no buffer, child or release of its own */
            chunks[n].offset += start;
            chunks[n].length = len;
            chunks[n].release = NULL;
            batches[n] = &chunks[n];
            skip[n] = rel + at;
            for (; k < g->n_gone && g->gone[k] < start + len; k++)
                rel[at++] = g->gone[k] - start;
            n_skip[n] = rel + at - skip[n];
        }
    }
    rc = ik_vfs_stats_build_batches(ik_snapshot_schema(s->seg[0].snap), batches, skip, n_skip,
                                    (int)n, drop_after_chunk, (void *)s, schema_out, out, err);
done:
    ik_segset_drop_pages(s);
    free(chunks);
    free(batches);
    free(skip);
    free(n_skip);
    free(rel);
    return rc;
}
