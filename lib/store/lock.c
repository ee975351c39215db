/* The daemon lock: `<dir>/daemon.lock`, write-locked with an open file description (OFD)
 * record lock by the running daemon and holding its PID so others can name it. OFD locks, not
 * flock: F_OFD_GETLK lets ik_lock_holder ask whether the lock is held without taking it, so a
 * probe can never make a starting daemon believe the store is locked.
 *
 * Stale locks need no detection of their own: the kernel drops an OFD lock when the last
 * descriptor of its open file description closes, which includes the holder dying. A file left
 * behind with a dead PID in it is therefore not locked, and the next ik_lock_acquire simply takes
 * it over and writes its own PID. The PID in the file is only ever information, never the lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/config.h"

#define LOCK_NAME "daemon.lock"

static int lock_path(const char *dir, char *path, size_t cap)
{
    int n = snprintf(path, cap, "%s/" LOCK_NAME, dir);
    return n < 0 || (size_t)n >= cap ? ENAMETOOLONG : 0;
}

#define DAEMON_MARK " daemon"

/* The PID written in the lock file, or 0 when it holds none (yet); *is_daemon (optional) says
 * whether the holder marked itself a daemon ("PID daemon\n", ik_lock_mark_daemon). */
static long read_pid(int fd, bool *is_daemon)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    char *end;
    long pid;
    if (is_daemon != NULL)
        *is_daemon = false;
    if (n <= 0)
        return 0;
    buf[n] = 0;
    pid = strtol(buf, &end, 10);
    if (end != buf && pid > 0 && strncmp(end, DAEMON_MARK, sizeof DAEMON_MARK - 1) == 0) {
        end += sizeof DAEMON_MARK - 1;
        if (is_daemon != NULL && (*end == '\n' || *end == 0))
            *is_daemon = true;
    }
    return end != buf && (*end == '\n' || *end == 0) && pid > 0 ? pid : 0;
}

static const char *pid_text(long pid, char buf[24])
{
    if (pid > 0)
        snprintf(buf, 24, "%ld", pid);
    else
        snprintf(buf, 24, "unknown");
    return buf;
}

/* A write lock on the whole file, or (get) the first lock that would conflict with one. */
static int whole_file(int fd, int cmd, short type, struct flock *fl)
{
    memset(fl, 0, sizeof *fl);
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    return fcntl(fd, cmd, fl);
}

int ik_lock_acquire(const char *dir, int *fd_out, long *holder_pid, struct ik_error *err)
{
    char path[PATH_MAX], line[24], who[24];
    struct flock fl;
    int fd, len;
    long pid;
    *fd_out = -1;
    if (holder_pid != NULL)
        *holder_pid = 0;
    if (lock_path(dir, path, sizeof path) != 0)
        return ik_error_set(err, ENAMETOOLONG, "lock path longer than %zu bytes", sizeof path - 1);
    /* never through a link planted in its place: a root daemon would create and write any path */
    fd = ik__open_nofollow(AT_FDCWD, path, O_RDWR | O_CREAT, 0600, err);
    if (fd < 0)
        return errno;
    if (whole_file(fd, F_OFD_SETLK, F_WRLCK, &fl) != 0) {
        int e = errno;
        if (e == EAGAIN || e == EACCES) {
            /* The holder may be between its lock and its write: then there is no PID yet. */
            pid = read_pid(fd, NULL);
            close(fd);
            if (holder_pid != NULL)
                *holder_pid = pid;
            return ik_error_set(err, IK_ELOCKED, "Database is locked by daemon (PID %s)",
                                pid_text(pid, who));
        }
        close(fd);
        return ik_error_set(err, e, "cannot lock %s: %s", path, strerror(e));
    }
    len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        int e = errno ? errno : EIO;
        close(fd);
        return ik_error_set(err, e, "cannot write our PID to %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

/* The file is emptied rather than unlinked: unlinking a locked file lets a process that opened
 * the old file before the unlink lock it while another creates and locks a new one, and then two
 * daemons both believe they hold the store. An empty file names nobody. */
void ik_lock_release(int fd, const char *dir)
{
    (void)dir;
    if (fd < 0)
        return;
    if (ftruncate(fd, 0) != 0) {
        /* nothing to do: closing below releases the lock all the same */
    }
    close(fd);
}

int ik_lock_mark_daemon(int fd)
{
    char line[48];
    int len = snprintf(line, sizeof line, "%ld" DAEMON_MARK "\n", (long)getpid());
    if (fd < 0)
        return EBADF;
    /* longer than the bare PID written at acquire, so no stale byte is left after it */
    return pwrite(fd, line, (size_t)len, 0) == len ? 0 : errno ? errno : EIO;
}

int ik_lock_holder(const char *dir, long *pid)
{
    return ik_lock_holder_role(dir, pid, NULL);
}

int ik_lock_holder_role(const char *dir, long *pid, bool *is_daemon)
{
    char path[PATH_MAX];
    struct flock fl;
    int fd, rc;
    *pid = 0;
    if (is_daemon != NULL)
        *is_daemon = false;
    if (lock_path(dir, path, sizeof path) != 0)
        return ENAMETOOLONG;
    fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, NULL);
    if (fd < 0)
        return errno;
    /* A separate open file description, so even a lock held by this process conflicts. */
    if (whole_file(fd, F_OFD_GETLK, F_WRLCK, &fl) != 0) {
        rc = errno;
    } else if (fl.l_type == F_UNLCK) {
        rc = ENOENT;
    } else {
        *pid = read_pid(fd, is_daemon);
        rc = 0;
    }
    close(fd);
    return rc;
}
