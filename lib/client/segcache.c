/* The client's side of segmented states: mapping a state passed as a manifest and its segment
 * descriptors, reusing segments it holds mapped already (snapshots and segments never change
 * once published, so device and inode name their content), the process's registry of mapped
 * states shared by its clients, and running a query on whatever it holds. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_internal.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"

/* ---- the registry --------------------------------------------------------------------------
 * Every write publishes a new version, and every client that queries next is passed it: 16
 * clients in one process each read the manifest, looked up and mapped the new delta and
 * unmapped what went, 16 times per version. The registry holds the states mapped lately (a
 * reference each) by identity; a state leaves it when the registry's reference is the last
 * (the clients have moved on) or when newer ones push it out. Lock order: a client's mu is
 * never held while taking shared_mu. */

#define SHARED_MAX 8

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ik__snap_ref *shared[SHARED_MAX]; /* oldest first */
static int n_shared;

static void ref_free(struct ik__snap_ref *r)
{
    ik_snapshot_close(r->s); /* arrays handed out keep the mapping alive */
    ik_segset_release(r->set);
    if (r->manifest_fd >= 0)
        close(r->manifest_fd);
    free(r);
}

/* Takes r out of the registry (shared_mu held). */
static void shared_remove(struct ik__snap_ref *r)
{
    int i, k = 0;
    for (i = 0; i < n_shared; i++)
        if (shared[i] != r)
            shared[k++] = shared[i];
    n_shared = k;
    r->shared = false;
}

void ik__snap_unref(struct ik__snap_ref *r)
{
    int left;
    if (r == NULL)
        return;
    left = atomic_fetch_sub(&r->refs, 1) - 1;
    if (left == 1) { /* perhaps only the registry's: nobody else can take one meanwhile */
        pthread_mutex_lock(&shared_mu);
        if (r->shared && atomic_load(&r->refs) == 1) {
            shared_remove(r);
            left = atomic_fetch_sub(&r->refs, 1) - 1;
        }
        pthread_mutex_unlock(&shared_mu);
    }
    if (left == 0)
        ref_free(r);
}

struct ik__snap_ref *ik__shared_find(uint64_t version, dev_t dev, ino_t ino, bool validated)
{
    struct ik__snap_ref *r = NULL;
    int i;
    pthread_mutex_lock(&shared_mu);
    for (i = n_shared - 1; i >= 0 && r == NULL; i--)
        if (shared[i]->dev == dev && shared[i]->ino == ino && shared[i]->version == version &&
            (shared[i]->validated || !validated)) {
            r = shared[i];
            atomic_fetch_add(&r->refs, 1);
        }
    pthread_mutex_unlock(&shared_mu);
    return r;
}

void ik__shared_put(struct ik__snap_ref *r)
{
    struct ik__snap_ref *out = NULL;
    int i;
    pthread_mutex_lock(&shared_mu);
    for (i = 0; i < n_shared; i++)
        if (shared[i]->dev == r->dev && shared[i]->ino == r->ino)
            break; /* another client registered this state first: keep that one */
    if (i == n_shared) {
        if (n_shared == SHARED_MAX) {
            out = shared[0];
            shared_remove(out);
        }
        atomic_fetch_add(&r->refs, 1);
        r->shared = true;
        shared[n_shared++] = r;
    }
    pthread_mutex_unlock(&shared_mu);
    if (out != NULL && atomic_fetch_sub(&out->refs, 1) == 1)
        ref_free(out);
}

void ik__shared_lock(void)
{
    pthread_mutex_lock(&shared_mu);
}

void ik__shared_unlock(void)
{
    pthread_mutex_unlock(&shared_mu);
}

/* ---- mapping a state ---------------------------------------------------------------------- */

/* Reads the whole (small) manifest file on fd. */
static int read_manifest(int fd, uint8_t **out, size_t *len, struct ik_error *err)
{
    struct stat st;
    uint8_t *b;
    size_t got = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 1 || st.st_size > (64 << 20))
        return ik_error_set(err, IK_EPROTO,
                            "the manifest passed is not a regular file of 1 B to "
                            "64 MiB");
    if ((b = malloc((size_t)st.st_size)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(b);
            return ik_error_set(err, IK_EPROTO, "reading the manifest: %s",
                                r < 0 ? strerror(errno) : "short file");
        }
        got += (size_t)r;
    }
    *out = b;
    *len = got;
    return 0;
}

/* A segment of `prev` that is the file open on fd (same device and inode), or NULL. */
static struct ik_snapshot *held_segment(const struct ik_segset *prev, int fd)
{
    struct stat a;
    if (prev == NULL || fstat(fd, &a) != 0)
        return NULL;
    return ik_segset_find_file(prev, (uint64_t)a.st_dev, (uint64_t)a.st_ino);
}

int ik__client_map_state(struct ik_client *c, const int *fds, int n, const struct ik_segset *prev,
                         struct ik_segset **out, struct ik_error *err)
{
    struct ik_snapshot *segs[IK_SEG_MAX] = {0};
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc, i, opened = 0;
    *out = NULL;
    if (n < 2 || n - 1 > IK_SEG_MAX)
        rc = ik_error_set(err, IK_EPROTO,
                          "a state needs a manifest and 1 to %d segments, got %d "
                          "descriptors",
                          IK_SEG_MAX, n);
    else
        rc = read_manifest(fds[0], &bytes, &len, err);
    for (i = 1; rc == 0 && i < n; i++, opened++) {
        struct ik_snapshot *h = held_segment(prev, fds[i]);
        if (h != NULL) {
            ik_snapshot_ref(h);
            segs[i - 1] = h;
        } else if ((rc = ik_snapshot_open_fd(fds[i], c->opts.validate, &segs[i - 1], err)) != 0) {
            ik_error_prefix(err, rc, "segment %d", i - 1);
        }
    }
    if (rc == 0)
        /* the running daemon's published manifest: its checksum only with full validation */
        rc = ik_segset_open_flags(bytes, len, c->opts.validate ? 0 : IK_MANIFEST_TRUSTED, segs,
                                  n - 1, out, err);
    /* keep the segments' descriptors for identity (the next state reuses what it can) */
    if (rc == 0)
        rc = ik_segset_adopt_fds(*out, fds + 1, n - 1);
    else
        for (i = 1; i < n; i++)
            close(fds[i]);
    for (i = 0; i < opened; i++)
        ik_snapshot_close(segs[i]);
    free(bytes);
    return rc;
}

int ik__client_ref_query(const struct ik__snap_ref *r, const struct ik_query *q,
                         struct ik_result *out, struct ik_error *err)
{
    struct ik_query_cost cost;
    int rc;
    if (r->set == NULL) {
        rc = ik_snapshot_query(r->s, q, &out->stream, &out->matched, err);
        out->copied_rows = q->n_preds ? -1 : 0; /* a filter may gather: not counted here */
        out->copied_bytes = q->n_preds ? -1 : 0;
        return rc;
    }
    rc = ik_segset_query(r->set, q, &out->stream, &cost, err);
    out->matched = cost.matched;
    out->copied_rows = cost.copied_rows;
    out->copied_bytes = cost.copied_bytes;
    return rc;
}
