/* A write sink on a file descriptor for the IPC writer: the small pieces of a message (prefix,
 * metadata, padding, bitmaps, compressed frames of a few KiB) gather in a staging block and go
 * out in one writev together with the next large piece, which is written from where it lies
 * (the mapped input, the compression block). A 1M-pin conversion took 636 write calls through
 * stdio, which also split every large buffer in three; now about one call per large buffer.
 * When the file is to replace an existing one, every 8 MiB written is handed to the kernel's
 * writeback at once (sync_file_range, which does not wait for the disk): renaming a file over
 * an existing one makes ext4 (auto_da_alloc) start writing all of it inside rename(), ~105 ms
 * of a 174 MB conversion, which now overlaps the conversion (the rename then took ~37 ms, the
 * old file's removal). Not for a new file, whose writeback the kernel does later outside this
 * process (doing it here cost a fresh 174 MB conversion 12-24 ms of CPU and 20-40 ms of wall
 * time). No durability is promised by this: that is --fsync. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arrow/internal.h"

#define STAGE_CAP ((size_t)64 << 10)
#define SMALL ((size_t)16 << 10) /* pieces below this are copied into the staging block */
#define WRITE_BEHIND ((int64_t)8 << 20)

int ik__fd_sink_init(struct ik__fd_sink *s, int fd, bool write_behind)
{
    s->fd = fd;
    s->write_behind = write_behind;
    s->n = 0;
    s->written = s->kicked = 0;
    s->stage = malloc(STAGE_CAP);
    return s->stage ? 0 : ENOMEM;
}

void ik__fd_sink_reset(struct ik__fd_sink *s)
{
    free(s->stage);
    s->stage = NULL;
    s->n = 0;
}

/* With write-behind on, starts the writeback of what was written since the last call once that
 * is WRITE_BEHIND bytes or more: a hint, whose failure (a file system without it) changes
 * nothing. */
static void write_behind(struct ik__fd_sink *s)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (s->write_behind && s->written - s->kicked >= WRITE_BEHIND) {
        (void)sync_file_range(s->fd, s->kicked, s->written - s->kicked, SYNC_FILE_RANGE_WRITE);
        s->kicked = s->written;
    }
#else
    (void)s;
#endif
}

/* Writes iov[0, n) whole, resuming after short writes and EINTR. */
static int write_all(struct ik__fd_sink *s, struct iovec *iov, int n, struct ik_error *err)
{
    while (n > 0) {
        ssize_t r = writev(s->fd, iov, n);
        size_t done;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ik_error_set(err, errno, "write failed: %s", strerror(errno));
        if (r == 0)
            return ik_error_set(err, EIO, "write failed: wrote nothing");
        s->written += r;
        for (done = (size_t)r; n > 0 && done >= iov->iov_len; iov++, n--)
            done -= iov->iov_len;
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    write_behind(s);
    return 0;
}

int ik__fd_sink_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct ik__fd_sink *s = ctx;
    struct iovec iov[2];
    int n = 0, rc;
    if (len < SMALL && s->n + len <= STAGE_CAP) {
        memcpy(s->stage + s->n, data, len);
        s->n += len;
        return 0;
    }
    if (s->n) {
        iov[n].iov_base = s->stage;
        iov[n++].iov_len = s->n;
    }
    if (len >= SMALL) {
        iov[n].iov_base = (void *)(uintptr_t)data;
        iov[n++].iov_len = len;
    }
    rc = write_all(s, iov, n, err);
    s->n = 0;
    if (rc == 0 && len < SMALL) { /* the staging block was full: start it again */
        memcpy(s->stage, data, len);
        s->n = len;
    }
    return rc;
}

int ik__fd_sink_flush(struct ik__fd_sink *s, struct ik_error *err)
{
    struct iovec iov;
    int rc;
    if (s->n == 0)
        return 0;
    iov.iov_base = s->stage;
    iov.iov_len = s->n;
    rc = write_all(s, &iov, 1, err);
    s->n = 0;
    return rc;
}
