/* Unix socket helpers: connecting with a timeout, sending and receiving whole frames with an
 * optional SCM_RIGHTS descriptor (blocking, for the client), single nonblocking sendmsg/recvmsg
 * calls for the daemon's event loop, and the peer's uid. */
#include <fcntl.h>
#include <stdbool.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/proto.h"

/* Room for the most descriptors a frame may carry, and a few more so that a peer sending more
 * is caught, not silently truncated. */
#define FDS_MAX (IK_PROTO_MAX_FDS + 4)

union cmsg_buf {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
};

/* ---- deadlines -------------------------------------------------------------------------- */

struct deadline {
    int infinite;
    struct timespec end;
};

static struct deadline deadline_in(int timeout_ms)
{
    struct deadline d = {timeout_ms < 0, {0, 0}};
    if (!d.infinite) {
        clock_gettime(CLOCK_MONOTONIC, &d.end);
        d.end.tv_sec += timeout_ms / 1000;
        d.end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (d.end.tv_nsec >= 1000000000L) {
            d.end.tv_sec++;
            d.end.tv_nsec -= 1000000000L;
        }
    }
    return d;
}

/* Milliseconds left (rounded up), 0 when past, -1 for no deadline. */
static int deadline_left(const struct deadline *d)
{
    struct timespec now;
    long long ms;
    if (d->infinite)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long long)(d->end.tv_sec - now.tv_sec) * 1000 +
         (d->end.tv_nsec - now.tv_nsec + 999999L) / 1000000L;
    if (ms <= 0)
        return 0;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* Before sleeping in poll, a waiter yields the CPU and checks again a few times: a reply from
 * the local daemon usually arrives within microseconds, and on a VM a sleeping thread's wake-up
 * can take tens (the CPU has gone idle). Measured on 2 cores: a 100-row zero-copy query p50 from
 * ~50 µs to ~15 µs from C, ~70 µs to ~25-40 µs from Python (64 rounds; 16 helped C only), one
 * client's queries/s doubled, 16 clients' unchanged or better. The cost is a few tens of µs of
 * yields for a wait that does end in sleep. IPFS_KIT_SPIN=n overrides the count. */
#define SPIN_YIELDS 64

/* Waits for `events` on fd until the deadline: 0 when ready (or hung up: the next call says
 * why), ETIMEDOUT, or poll's errno. */
static int wait_fd(int fd, short events, const struct deadline *d)
{
    static atomic_int cached = -1; /* racing threads compute and store the same value */
    int spins = atomic_load_explicit(&cached, memory_order_relaxed);
    if (spins < 0) {
        const char *e = getenv("IPFS_KIT_SPIN");
        spins = e ? atoi(e) : SPIN_YIELDS;
        atomic_store_explicit(&cached, spins, memory_order_relaxed);
    }
    for (int spin = 0; spin < spins; spin++) {
        struct pollfd p = {fd, events, 0};
        sched_yield();
        if (poll(&p, 1, 0) > 0)
            return 0;
    }
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int left = deadline_left(d), r = poll(&p, 1, left);
        if (r > 0)
            return 0;
        if (r == 0)
            return ETIMEDOUT;
        if (errno != EINTR)
            return errno;
    }
}

/* ---- descriptors in control messages ---------------------------------------------------- */

/* Collects the SCM_RIGHTS descriptors of a received message into fds[0..*got) (at most `max`):
 * 0, or IK_EPROTO after closing them all when there were more than `max` or the control data
 * was cut. */
static int take_fds(struct msghdr *m, int *fds, int max, int *got, struct ik_error *err)
{
    struct cmsghdr *c;
    int n = 0, all[FDS_MAX * 2], i;
    *got = 0;
    for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        size_t k, count;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (k = 0; k < count; k++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
            if (n < (int)(sizeof all / sizeof all[0]))
                all[n++] = fd;
            else
                close(fd);
        }
    }
    if (n <= max && !(m->msg_flags & MSG_CTRUNC)) {
        memcpy(fds, all, (size_t)n * sizeof *fds);
        *got = n;
        return 0;
    }
    for (i = 0; i < n; i++)
        close(all[i]);
    if (m->msg_flags & MSG_CTRUNC)
        return ik_error_set(err, IK_EPROTO, "control data truncated (too many descriptors)");
    if (max == 1)
        return ik_error_set(err, IK_EPROTO, "%d file descriptors passed at once, expected one", n);
    return ik_error_set(err, IK_EPROTO, "%d file descriptors passed at once, at most %d", n, max);
}

/* Attaches descriptors fds[0..n) to message m (its control data in cb). */
static void put_fds(struct msghdr *m, union cmsg_buf *cb, const int *fds, int n)
{
    struct cmsghdr *c;
    memset(cb, 0, sizeof *cb);
    m->msg_control = cb->buf;
    m->msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    c = CMSG_FIRSTHDR(m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
}

/* ---- nonblocking single calls ----------------------------------------------------------- */

int ik_sock_recvmsg_fd(int fd, void *buf, size_t cap, ssize_t *n, int *fd_out, struct ik_error *err)
{
    union cmsg_buf cb;
    struct iovec iov = {buf, cap};
    struct msghdr m;
    ssize_t r;
    int got = -1, n_got = 0, rc;
    if (fd_out)
        *fd_out = -1;
    *n = 0;
    if (cap == 0)
        return ik_error_set(err, EINVAL, "recvmsg: empty buffer");
    for (;;) {
        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = cb.buf;
        m.msg_controllen = sizeof cb.buf;
        r = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return EAGAIN;
        return ik_error_set(err, errno, "recvmsg: %s", strerror(errno));
    }
    rc = take_fds(&m, &got, 1, &n_got, err);
    if (rc)
        return rc;
    if (n_got == 0)
        got = -1;
    if (fd_out)
        *fd_out = got;
    else if (got >= 0)
        close(got);
    *n = r;
    return 0;
}

int ik_sock_sendmsg_fd(int fd, const void *data, size_t len, int pass_fd, ssize_t *n,
                       struct ik_error *err)
{
    return ik_sock_sendmsg_fds(fd, data, len, &pass_fd, pass_fd >= 0 ? 1 : 0, n, err);
}

int ik_sock_sendmsg_fds(int fd, const void *data, size_t len, const int *fds, int n_fds, ssize_t *n,
                        struct ik_error *err)
{
    union cmsg_buf cb;
    struct iovec iov = {(void *)(uintptr_t)data, len};
    struct msghdr m;
    ssize_t r;
    *n = 0;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (n_fds > IK_PROTO_MAX_FDS)
        return ik_error_set(err, EINVAL, "sendmsg: %d descriptors, at most %d", n_fds,
                            IK_PROTO_MAX_FDS);
    if (n_fds > 0) {
        if (len == 0)
            return ik_error_set(err, EINVAL, "sendmsg: a descriptor needs at least one byte");
        put_fds(&m, &cb, fds, n_fds);
    }
    for (;;) {
        r = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return EAGAIN;
        if (errno == EPIPE || errno == ECONNRESET)
            return ik_error_set(err, errno, "send: connection closed by peer");
        return ik_error_set(err, errno, "sendmsg: %s", strerror(errno));
    }
    *n = r;
    return 0;
}

int ik_sock_peer_uid(int fd, uid_t *uid, struct ik_error *err)
{
    struct ucred cred;
    socklen_t n = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &n) != 0)
        return ik_error_set(err, errno, "SO_PEERCRED: %s", strerror(errno));
    *uid = cred.uid;
    return 0;
}

/* ---- blocking helpers ------------------------------------------------------------------- */

static int connect_error(const char *path, int e, struct ik_error *err)
{
    if (e == ENOENT || e == ECONNREFUSED)
        return ik_error_set(err, IK_EDAEMON, "no daemon listening on %s", path);
    if (e == EACCES)
        return ik_error_set(err, EACCES, "permission denied connecting to %s", path);
    return ik_error_set(err, e, "connecting to %s: %s", path, strerror(e));
}

int ik_sock_connect_unix(const char *path, int timeout_ms, int *fd, struct ik_error *err)
{
    struct sockaddr_un sa;
    struct deadline d = deadline_in(timeout_ms);
    size_t n = strlen(path);
    int s, rc = 0;
    *fd = -1;
    if (n == 0)
        return ik_error_set(err, EINVAL, "empty socket path");
    if (n >= sizeof sa.sun_path)
        return ik_error_set(err, ENAMETOOLONG, "socket path of %zu bytes (limit %zu): %s", n,
                            sizeof sa.sun_path - 1, path);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return ik_error_set(err, errno, "socket: %s", strerror(errno));
    for (;;) {
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) { /* the listen queue is full: nothing changed, try again */
            int left = deadline_left(&d);
            if (left == 0) {
                rc = ik_error_set(err, ETIMEDOUT, "connecting to %s timed out after %d ms", path,
                                  timeout_ms);
                goto out;
            }
            poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
            continue;
        }
        if (errno == EINPROGRESS) {
            int e = 0;
            socklen_t el = sizeof e;
            rc = wait_fd(s, POLLOUT, &d);
            if (rc == ETIMEDOUT) {
                rc = ik_error_set(err, ETIMEDOUT, "connecting to %s timed out after %d ms", path,
                                  timeout_ms);
                goto out;
            }
            if (rc == 0 && getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
                rc = errno;
            if (rc == 0)
                rc = e;
            if (rc)
                rc = connect_error(path, rc, err);
            goto out;
        }
        rc = connect_error(path, errno, err);
        goto out;
    }
out:
    if (rc) {
        close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

int ik_sock_send_frame(int fd, const void *data, size_t len, int pass_fd, int timeout_ms,
                       struct ik_error *err)
{
    struct deadline d = {1, {0, 0}};
    bool have_deadline = false;
    uint8_t hdr[IK_FRAME_HEADER_SIZE];
    size_t sent = 0, total = IK_FRAME_HEADER_SIZE + len;
    if (len > UINT32_MAX)
        return ik_error_set(err, EINVAL, "frame payload of %zu bytes does not fit 32 bits", len);
    ik_frame_put_header(hdr, (uint32_t)len);
    /* Header and payload go in one sendmsg (two iovecs): one system call, and the reader
     * wakes once for the whole frame rather than for its first 4 bytes. */
    while (sent < total) {
        union cmsg_buf cb;
        struct iovec iov[2];
        struct msghdr m;
        ssize_t n;
        int rc;
        memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        if (sent < IK_FRAME_HEADER_SIZE) {
            iov[0].iov_base = hdr + sent;
            iov[0].iov_len = IK_FRAME_HEADER_SIZE - sent;
            iov[1].iov_base = (void *)(uintptr_t)data;
            iov[1].iov_len = len;
            m.msg_iovlen = len ? 2 : 1;
        } else {
            iov[0].iov_base = (uint8_t *)(uintptr_t)data + (sent - IK_FRAME_HEADER_SIZE);
            iov[0].iov_len = total - sent;
            m.msg_iovlen = 1;
        }
        if (sent == 0 && pass_fd >= 0)
            put_fds(&m, &cb, &pass_fd, 1);
        n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            sent += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return ik_error_set(err, errno, "send: connection closed by peer");
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return ik_error_set(err, errno, "sendmsg: %s", strerror(errno));
        if (!have_deadline) { /* the clock is read only when we have to wait */
            d = deadline_in(timeout_ms);
            have_deadline = true;
        }
        rc = wait_fd(fd, POLLOUT, &d);
        if (rc == ETIMEDOUT)
            return ik_error_set(err, ETIMEDOUT,
                                "sending a frame timed out after %d ms (%zu of %zu bytes)",
                                timeout_ms, sent, total);
        if (rc)
            return ik_error_set(err, rc, "poll: %s", strerror(rc));
    }
    return 0;
}

/* Reads exactly `want` bytes into buf, keeping a descriptor that arrives in *fd_got. */
static int recv_exact(int fd, uint8_t *buf, size_t want, int *fd_got, const struct deadline *d,
                      int timeout_ms, const char *what, struct ik_error *err)
{
    size_t got = 0;
    while (got < want) {
        ssize_t n;
        int rc, f;
        rc = ik_sock_recvmsg_fd(fd, buf + got, want - got, &n, &f, err);
        if (rc == EAGAIN) {
            rc = wait_fd(fd, POLLIN, d);
            if (rc == ETIMEDOUT)
                return ik_error_set(err, ETIMEDOUT,
                                    "receiving a frame timed out after %d ms (%zu of %zu %s "
                                    "bytes)",
                                    timeout_ms, got, want, what);
            if (rc)
                return ik_error_set(err, rc, "poll: %s", strerror(rc));
            continue;
        }
        if (rc)
            return rc;
        if (f >= 0) {
            if (*fd_got >= 0) {
                close(f);
                return ik_error_set(err, IK_EPROTO,
                                    "more than one file descriptor passed with a frame");
            }
            *fd_got = f;
        }
        if (n == 0) {
            if (got == 0 && strcmp(what, "header") == 0)
                return ik_error_set(err, IK_EOS, "connection closed by peer");
            return ik_error_set(err, IK_EPROTO, "connection closed after %zu of %zu %s bytes", got,
                                want, what);
        }
        got += (size_t)n;
    }
    return 0;
}

int ik_sock_recv_frame(int fd, size_t max, uint8_t **payload, size_t *len, int *fd_out,
                       int timeout_ms, struct ik_error *err)
{
    struct deadline d = deadline_in(timeout_ms);
    uint8_t hdr[IK_FRAME_HEADER_SIZE], *p = NULL;
    size_t off;
    uint32_t n;
    int rc, got = -1;
    *payload = NULL;
    *len = 0;
    if (fd_out)
        *fd_out = -1;
    rc = recv_exact(fd, hdr, sizeof hdr, &got, &d, timeout_ms, "header", err);
    if (rc)
        goto fail;
    /* With the header alone the parser says IK_EAGAIN (payload missing) or checks the limit. */
    rc = ik_frame_parse(hdr, sizeof hdr, max, &off, &n, err);
    if (rc == IK_ELIMIT)
        goto fail;
    n = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
    p = malloc(n ? n : 1);
    if (p == NULL) {
        rc = ik_error_set(err, ENOMEM, "out of memory for a frame of %lu bytes", (unsigned long)n);
        goto fail;
    }
    rc = recv_exact(fd, p, n, &got, &d, timeout_ms, "payload", err);
    if (rc)
        goto fail;
    *payload = p;
    *len = n;
    if (fd_out)
        *fd_out = got;
    else if (got >= 0)
        close(got);
    return 0;
fail:
    free(p);
    if (got >= 0)
        close(got);
    return rc;
}

/* ---- client replies: the frame reader ---------------------------------------------------- */

void ik_sock_reader_init(struct ik_sock_reader *r, int fd, bool wait_first)
{
    r->fd = fd;
    r->wait_first = wait_first;
    r->n_fds = 0;
    r->off = r->len = 0;
}

size_t ik_sock_reader_pending(const struct ik_sock_reader *r)
{
    return r->len - r->off;
}

void ik_sock_reader_reset(struct ik_sock_reader *r)
{
    for (int i = 0; i < r->n_fds; i++)
        close(r->fds[i]);
    r->n_fds = 0;
}

/* Reads into the free end of the buffer: poll first when `wait_first` (a reply just asked
 * for is not there yet, so a recvmsg would only learn EAGAIN), then one MSG_DONTWAIT recvmsg
 * of whatever has come. */
static int reader_fill(struct ik_sock_reader *r, bool wait_first, const struct deadline *d,
                       int timeout_ms, uint32_t want, struct ik_error *err)
{
    for (;;) {
        union cmsg_buf cb;
        struct iovec iov = {r->buf + r->len, sizeof r->buf - r->len};
        struct msghdr m;
        ssize_t n;
        int rc, f[IK_PROTO_MAX_FDS], nf = 0;
        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = cb.buf;
        m.msg_controllen = sizeof cb.buf;
        n = -1;
        errno = EAGAIN;
        if (!wait_first) /* else the reply is not there yet: straight to poll */
            n = recvmsg(r->fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        wait_first = false;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return ik_error_set(err, errno, "recvmsg: %s", strerror(errno));
            rc = wait_fd(r->fd, POLLIN, d);
            if (rc == ETIMEDOUT) {
                size_t have = r->len - r->off;
                return have < IK_FRAME_HEADER_SIZE
                           ? ik_error_set(err, ETIMEDOUT,
                                          "receiving a frame timed out after %d ms (%zu of 4 "
                                          "header bytes)",
                                          timeout_ms, have)
                           : ik_error_set(err, ETIMEDOUT,
                                          "receiving a frame timed out after %d ms (%zu of %lu "
                                          "payload bytes)",
                                          timeout_ms, have - IK_FRAME_HEADER_SIZE,
                                          (unsigned long)want);
            }
            if (rc)
                return ik_error_set(err, rc, "poll: %s", strerror(rc));
            continue;
        }
        if ((rc = take_fds(&m, f, IK_PROTO_MAX_FDS, &nf, err)) != 0)
            return rc;
        if (nf > 0) {
            if (r->n_fds > 0) {
                for (int i = 0; i < nf; i++)
                    close(f[i]);
                return ik_error_set(err, IK_EPROTO,
                                    "more than one file descriptor passed with a frame");
            }
            memcpy(r->fds, f, (size_t)nf * sizeof *f);
            r->n_fds = nf;
        }
        if (n == 0) {
            size_t have = r->len - r->off;
            if (have == 0)
                return ik_error_set(err, IK_EOS, "connection closed by peer");
            if (have < IK_FRAME_HEADER_SIZE)
                return ik_error_set(err, IK_EPROTO,
                                    "connection closed after %zu of 4 header "
                                    "bytes",
                                    have);
            return ik_error_set(err, IK_EPROTO,
                                "connection closed after %zu of %lu payload "
                                "bytes",
                                have - IK_FRAME_HEADER_SIZE, (unsigned long)want);
        }
        r->len += (size_t)n;
        return 0;
    }
}

int ik_sock_reader_frame(struct ik_sock_reader *r, size_t max, uint8_t **payload, size_t *len,
                         int *fd_out, int timeout_ms, struct ik_error *err)
{
    int n = 0, got = -1;
    int rc = ik_sock_reader_frame_fds(r, max, payload, len, &got, 1, &n, timeout_ms, err);
    if (fd_out)
        *fd_out = rc == 0 && n == 1 ? got : -1;
    else if (rc == 0 && n == 1)
        close(got); /* not wanted */
    return rc;
}

/* Room for `n` more bytes at dst->p + dst->len (capacity doubles). */
static int dst_reserve(struct ik_sock_dst *dst, size_t n)
{
    size_t cap = dst->cap ? dst->cap : 1 << 16;
    uint8_t *p;
    if (dst->len + n <= dst->cap)
        return 0;
    while (cap < dst->len + n) {
        if (cap > SIZE_MAX / 2)
            return ENOMEM;
        cap *= 2;
    }
    if ((p = realloc(dst->p, cap)) == NULL)
        return ENOMEM;
    dst->p = p;
    dst->cap = cap;
    return 0;
}

/* One frame: its payload malloc'd (dst NULL) or appended to dst (then *payload is NULL). */
static int reader_frame(struct ik_sock_reader *r, size_t max, struct ik_sock_dst *dst,
                        uint8_t **payload, size_t *len, int *fds, int max_fds, int *n_fds,
                        int timeout_ms, struct ik_error *err)
{
    struct deadline d = deadline_in(timeout_ms);
    bool wait_first = r->wait_first;
    uint8_t *p;
    *payload = NULL;
    *len = 0;
    *n_fds = 0;
    for (;;) {
        size_t have = r->len - r->off, off;
        uint32_t n = 0;
        int rc = ik_frame_parse(r->buf + r->off, have, max, &off, &n, err);
        if (rc == IK_ELIMIT)
            return rc;
        if (have >= IK_FRAME_HEADER_SIZE)
            n = (uint32_t)r->buf[r->off] | (uint32_t)r->buf[r->off + 1] << 8 |
                (uint32_t)r->buf[r->off + 2] << 16 | (uint32_t)r->buf[r->off + 3] << 24;
        if (rc == 0 ||
            (have >= IK_FRAME_HEADER_SIZE && IK_FRAME_HEADER_SIZE + (size_t)n > sizeof r->buf)) {
            size_t inbuf = have - IK_FRAME_HEADER_SIZE < n ? have - IK_FRAME_HEADER_SIZE : n;
            if (dst)
                p = dst_reserve(dst, n ? n : 1) == 0 ? dst->p + dst->len : NULL;
            else
                p = malloc(n ? n : 1);
            if (p == NULL)
                return ik_error_set(err, ENOMEM, "out of memory for a frame of %lu bytes",
                                    (unsigned long)n);
            memcpy(p, r->buf + r->off + IK_FRAME_HEADER_SIZE, inbuf);
            r->off += IK_FRAME_HEADER_SIZE + inbuf;
            if (inbuf < n) { /* a large frame: the rest straight into its payload */
                int got = -1;
                rc = recv_exact(r->fd, p + inbuf, n - inbuf, &got, &d, timeout_ms, "payload", err);
                if (rc == 0 && got >= 0 && r->n_fds > 0) {
                    close(got);
                    rc = ik_error_set(err, IK_EPROTO,
                                      "more than one file descriptor passed with a frame");
                } else if (got >= 0) {
                    r->fds[r->n_fds++] = got;
                }
                if (rc) {
                    if (!dst)
                        free(p);
                    return rc;
                }
            }
            if (r->off == r->len)
                r->off = r->len = 0;
            if (r->n_fds > max_fds) {
                int k = r->n_fds;
                if (!dst)
                    free(p);
                ik_sock_reader_reset(r);
                return max_fds <= 1 ? ik_error_set(err, IK_EPROTO,
                                                   "more than one file descriptor passed with a "
                                                   "frame")
                                    : ik_error_set(err, IK_EPROTO,
                                                   "%d file descriptors passed with a frame, at "
                                                   "most %d",
                                                   k, max_fds);
            }
            if (dst) {
                dst->len += n;
                p = NULL;
            }
            *payload = p;
            *len = n;
            if (r->n_fds > 0)
                memcpy(fds, r->fds, (size_t)r->n_fds * sizeof *fds);
            *n_fds = r->n_fds;
            r->n_fds = 0;
            return 0;
        }
        if (r->off > 0) { /* room at the end for the rest of this frame */
            memmove(r->buf, r->buf + r->off, have);
            r->off = 0;
            r->len = have;
        }
        rc = reader_fill(r, wait_first, &d, timeout_ms, n, err);
        if (rc)
            return rc;
        wait_first = false;
    }
}

int ik_sock_reader_frame_fds(struct ik_sock_reader *r, size_t max, uint8_t **payload, size_t *len,
                             int *fds, int max_fds, int *n_fds, int timeout_ms,
                             struct ik_error *err)
{
    return reader_frame(r, max, NULL, payload, len, fds, max_fds, n_fds, timeout_ms, err);
}

int ik_sock_reader_frame_append(struct ik_sock_reader *r, size_t max, struct ik_sock_dst *dst,
                                size_t *len, int timeout_ms, struct ik_error *err)
{
    uint8_t *none = NULL;
    int n = 0, got = -1;
    int rc = reader_frame(r, max, dst, &none, len, &got, 1, &n, timeout_ms, err);
    if (rc == 0 && n == 1)
        close(got); /* not wanted */
    return rc;
}
