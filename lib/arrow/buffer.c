/* Refcounted immutable byte buffers: memory mappings, aligned heap blocks and wrapped caller
 * memory. The last ik_buffer_unref unmaps or frees, so arrays pointing into a mapping keep it
 * alive for as long as any of them is unreleased. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "ipfskit/arrow.h"

enum kind { KIND_HEAP, KIND_MMAP, KIND_WRAP };

struct ik_buffer {
    const uint8_t *data;
    size_t size;
    atomic_long refs;
    enum kind kind;
    void *base; /* what to free or unmap */
    size_t map_len;
    void (*free_fn)(void *ctx);
    void *ctx;
};

static atomic_long live_count;

int64_t ik_buffer_live_count(void)
{
    return (int64_t)atomic_load(&live_count);
}

static struct ik_buffer *new_buffer(enum kind k)
{
    struct ik_buffer *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->kind = k;
    atomic_fetch_add(&live_count, 1);
    return b;
}

int ik_buffer_alloc(size_t size, struct ik_buffer **out, uint8_t **data_out)
{
    struct ik_buffer *b;
    void *p = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size)
        return ENOMEM;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0)
        return ENOMEM;
    memset(p, 0, rounded ? rounded : 64);
    b = new_buffer(KIND_HEAP);
    if (b == NULL) {
        free(p);
        return ENOMEM;
    }
    b->base = p;
    b->data = p;
    b->size = size;
    *out = b;
    if (data_out)
        *data_out = p;
    return 0;
}

int ik_buffer_wrap(const void *data, size_t size, void (*free_fn)(void *ctx), void *ctx,
                   struct ik_buffer **out)
{
    struct ik_buffer *b = new_buffer(KIND_WRAP);
    if (b == NULL)
        return ENOMEM;
    b->data = data;
    b->size = size;
    b->free_fn = free_fn;
    b->ctx = ctx;
    *out = b;
    return 0;
}

int ik_buffer_map_fd(int fd, struct ik_buffer **out, struct ik_error *err)
{
    struct stat st;
    struct ik_buffer *b;
    void *p = NULL;
    if (fstat(fd, &st) != 0)
        return ik_error_set(err, errno, "fstat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ik_error_set(err, EINVAL, "not a regular file (cannot be mapped)");
    if (st.st_size > 0) {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            return ik_error_set(err, errno, "mmap: %s", strerror(errno));
#ifdef MADV_HUGEPAGE
        /* advisory: pages faulted in from the disk come as 2 MiB folios where the file system
         * has large folios (ext4, xfs on Linux 6.x), mapped with one TLB entry each; a
         * whole-table read then misses the TLB less (Flight's copy into the socket:
         * docs/flight.md, "Huge pages"). Pages already cached keep their size. */
        if (st.st_size >= (off_t)(2 << 20))
            (void)madvise(p, (size_t)st.st_size, MADV_HUGEPAGE);
#endif
    }
    b = new_buffer(KIND_MMAP);
    if (b == NULL) {
        if (p)
            munmap(p, (size_t)st.st_size);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    b->base = p;
    b->map_len = (size_t)st.st_size;
    b->data = p ? p : (const void *)"";
    b->size = (size_t)st.st_size;
    *out = b;
    return 0;
}

/* A memfd sealed against writes and shrinking cannot change under a mapping. */
static bool sealed(int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) == (F_SEAL_WRITE | F_SEAL_SHRINK);
}

/* pread()s fd from offset 0 to its end into an anonymous mapping of at least `hint` + 1 bytes
 * (grown with mremap should the file grow meanwhile). */
static int copy_fd(int fd, size_t hint, struct ik_buffer *b, struct ik_error *err)
{
    size_t cap = hint + 1 > (1 << 16) ? hint + 1 : (1 << 16), n = 0;
    uint8_t *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return ik_error_set(err, ENOMEM, "out of memory for a copy of %zu bytes", hint);
    /* a hint: a 380 MB file then takes a few hundred page faults instead of ~93,000, and
     * reading it out of order (an import's second pass) misses the TLB less */
    (void)madvise(p, cap, MADV_HUGEPAGE);
    for (;;) {
        ssize_t r;
        if (n == cap) {
            void *q = mremap(p, cap, cap * 2, MREMAP_MAYMOVE);
            if (q == MAP_FAILED) {
                munmap(p, cap);
                return ik_error_set(err, ENOMEM, "out of memory for a copy of %zu bytes", cap * 2);
            }
            p = q;
            cap *= 2;
        }
        r = pread(fd, p + n, cap - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            munmap(p, cap);
            return ik_error_set(err, e, "read: %s", strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    b->base = p;
    b->map_len = cap;
    b->data = p;
    b->size = n;
    return 0;
}

int ik_buffer_read_fd(int fd, struct ik_buffer **out, struct ik_error *err)
{
    struct stat st;
    struct ik_buffer *b;
    int rc;
    if (fstat(fd, &st) != 0)
        return ik_error_set(err, errno, "fstat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ik_error_set(err, EINVAL, "not a regular file");
    if (st.st_size > 0 && sealed(fd))
        return ik_buffer_map_fd(fd, out, err);
    if ((b = new_buffer(KIND_MMAP)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    if ((rc = copy_fd(fd, (size_t)st.st_size, b, err)) != 0) {
        ik_buffer_unref(b);
        return rc;
    }
    *out = b;
    return 0;
}

int ik_buffer_map_file(const char *path, struct ik_buffer **out, struct ik_error *err)
{
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    rc = ik_buffer_map_fd(fd, out, err);
    close(fd);
    if (rc != 0)
        ik_error_prefix(err, rc, "%s", path);
    return rc;
}

int ik_buffer_read_stream(FILE *f, struct ik_buffer **out, struct ik_error *err)
{
    size_t cap = 1 << 16, len = 0, n;
    uint8_t *p = malloc(cap), *q;
    struct ik_buffer *b;
    if (p == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    while ((n = fread(p + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            q = malloc(cap * 2);
            if (q == NULL) {
                free(p);
                return ik_error_set(err, ENOMEM, "out of memory reading input");
            }
            memcpy(q, p, len);
            free(p);
            p = q;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        free(p);
        return ik_error_set(err, EIO, "read error");
    }
    /* Copy into an aligned block so decoded buffers are 64-byte aligned like a mapping. */
    if (ik_buffer_alloc(len, &b, &q) != 0) {
        free(p);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    memcpy(q, p, len);
    free(p);
    *out = b;
    return 0;
}

const uint8_t *ik_buffer_data(const struct ik_buffer *b)
{
    return b->data;
}

size_t ik_buffer_size(const struct ik_buffer *b)
{
    return b->size;
}

struct ik_buffer *ik_buffer_ref(struct ik_buffer *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

void ik_buffer_unref(struct ik_buffer *b)
{
    if (b == NULL || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    switch (b->kind) {
    case KIND_HEAP:
        free(b->base);
        break;
    case KIND_MMAP:
        if (b->base)
            munmap(b->base, b->map_len);
        break;
    case KIND_WRAP:
        if (b->free_fn)
            b->free_fn(b->ctx);
        break;
    }
    atomic_fetch_sub(&live_count, 1);
    free(b);
}
