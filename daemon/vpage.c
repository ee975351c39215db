/* The version page (lib/proto/proto.h, docs/protocol.md "watch"): a sealed one-page memfd
 * holding the published version of every table. The builder rewrites it on publish, before any
 * write reply waiting for that snapshot is sent, so a client that reads its own write through
 * the page sees it. Clients get the page with a "watch" request and map it read-only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"
#include "ipfskit/schemas.h"

int ik_vpage_create(struct ik_daemon *d, struct ik_error *err)
{
    void *p;
    int fd = memfd_create("ipfs-kit-versions", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return ik_error_set(err, errno, "version page: memfd_create: %s", strerror(errno));
    if (ftruncate(fd, IK_VPAGE_SIZE) != 0) {
        int e = errno;
        close(fd);
        return ik_error_set(err, e, "version page: ftruncate: %s", strerror(e));
    }
    p = mmap(NULL, IK_VPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return ik_error_set(err, e, "version page: mmap: %s", strerror(e));
    }
    /* Our writable mapping stays; nobody can make another or change the size. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) !=
        0) {
        int e = errno;
        munmap(p, IK_VPAGE_SIZE);
        close(fd);
        return ik_error_set(err, e, "version page: sealing: %s", strerror(e));
    }
    d->vpage = p;
    d->vpage_fd = fd;
    atomic_store_explicit(&d->vpage[IK_VPAGE_W_PID], (uint64_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&d->vpage[IK_VPAGE_W_MAGIC], IK_VPAGE_MAGIC, memory_order_release);
    return 0;
}

static void put_table(struct ik_daemon *d, const char *table, const struct ik_published *p)
{
    int t = ik_table_index(table);
    _Atomic uint64_t *w;
    if (t < 0)
        return;
    w = &d->vpage[IK_VPAGE_W_TABLES + IK_VPAGE_T_WORDS * t];
    atomic_store_explicit(&w[IK_VPAGE_T_VERSION], p->version, memory_order_relaxed);
    atomic_store_explicit(&w[IK_VPAGE_T_DEV], p->dev, memory_order_relaxed);
    atomic_store_explicit(&w[IK_VPAGE_T_INO], p->ino, memory_order_relaxed);
    atomic_store_explicit(&w[IK_VPAGE_T_ROWS], (uint64_t)p->rows, memory_order_relaxed);
}

void ik_vpage_publish(struct ik_daemon *d, const struct ik_published *pins,
                      const struct ik_published *vfs)
{
    uint64_t seq, one = 1;
    /* the HTTP change feed's subscribers (http/ws.c) wait on this eventfd, set under pub_mu */
    if (d->http_wake_fd >= 0 && write(d->http_wake_fd, &one, sizeof one) < 0)
        (void)0; /* full counter: the feed is woken already */
    if (d->vpage == NULL)
        return;
    /* the builder is the only writer: a plain seqlock */
    seq = atomic_load_explicit(&d->vpage[IK_VPAGE_W_SEQ], memory_order_relaxed);
    atomic_store_explicit(&d->vpage[IK_VPAGE_W_SEQ], seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* odd before any word changes */
    put_table(d, "pin_index", pins);
    put_table(d, "vfs_stats", vfs);
    atomic_store_explicit(&d->vpage[IK_VPAGE_W_SEQ], seq + 2, memory_order_release);
    /* a background publish (vfs_stats) after the stop began must not say serving again */
    if (atomic_load_explicit(&d->vpage[IK_VPAGE_W_STATE], memory_order_acquire) !=
        IK_VPAGE_STOPPING)
        atomic_store_explicit(&d->vpage[IK_VPAGE_W_STATE], IK_VPAGE_SERVING, memory_order_release);
}

void ik_vpage_stopping(struct ik_daemon *d)
{
    if (d->vpage == NULL)
        return;
    pthread_mutex_lock(&d->pub_mu); /* publishers write the page under it */
    atomic_store_explicit(&d->vpage[IK_VPAGE_W_STATE], IK_VPAGE_STOPPING, memory_order_release);
    pthread_mutex_unlock(&d->pub_mu);
}

void ik_vpage_free(struct ik_daemon *d)
{
    if (d->vpage != NULL)
        munmap((void *)d->vpage, IK_VPAGE_SIZE);
    if (d->vpage_fd >= 0)
        close(d->vpage_fd);
    d->vpage = NULL;
    d->vpage_fd = -1;
}
