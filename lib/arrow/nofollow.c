/* Opening files in the data directory without following links. Anyone who could write that
 * directory could plant `daemon.log -> /etc/passwd` and have a daemon running as root append to
 * it; every file the data directory holds is therefore opened with O_NOFOLLOW (a link at the
 * last component is refused, not followed) and must be a regular file (a FIFO or device planted
 * there is refused before it can block or be written). The data directory's owner and mode are
 * checked separately (ik_data_dir_check, lib/store/config.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"

int ik__open_nofollow(int dirfd, const char *path, int flags, unsigned mode, struct ik_error *err)
{
    struct stat st;
    int fd, e;
    /* O_NONBLOCK: opening a planted FIFO must not wait for a writer; cleared below. */
    fd = openat(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, (mode_t)mode);
    if (fd < 0) {
        e = errno;
        if (e == ELOOP)
            ik_error_set(err, e,
                         "%s is a symbolic link: refused (files in the data directory are never "
                         "followed through links; remove it)",
                         path);
        else
            ik_error_set(err, e, "cannot open %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        ik_error_set(err, e, "%s: fstat: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        close(fd);
        ik_error_set(err, e, "%s is not a regular file: refused", path);
        errno = e;
        return -1;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        e = errno;
        close(fd);
        ik_error_set(err, e, "%s: fcntl: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    return fd;
}

int ik__read_all(int fd, size_t size, char **out)
{
    char *buf = malloc(size + 1);
    size_t have = 0;
    *out = NULL;
    if (buf == NULL)
        return ENOMEM;
    while (have < size) {
        ssize_t n = read(fd, buf + have, size - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENODATA;
            free(buf);
            return e;
        }
        have += (size_t)n;
    }
    buf[have] = 0;
    *out = buf;
    return 0;
}
