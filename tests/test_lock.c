/* Tests of the daemon lock: a child process holds it and the parent is refused with the child's
 * PID; when the child dies without releasing, the parent takes the stale lock over. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ik_test.h"
#include "ipfskit/config.h"

static const char *lock_dir(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/lock-%s", ik_test_tmpdir(), name);
    mkdir(dir, 0700);
    return dir;
}

static void read_file(const char *dir, char *buf, size_t cap)
{
    char path[600];
    FILE *f;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/daemon.lock", dir);
    f = fopen(path, "r");
    if (f != NULL) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = 0;
}

TEST(test_lock_acquire_writes_pid_and_release_empties)
{
    struct ik_error err;
    const char *dir = lock_dir("basic");
    char text[64], want[32], path[600];
    struct stat st;
    long pid = -1;
    int fd = -1, fd2 = 7;
    ASSERT_EQ(ik_lock_holder(dir, &pid), ENOENT); /* no file yet */
    ASSERT_OK(ik_lock_acquire(dir, &fd, NULL, &err), &err);
    ASSERT_TRUE(fd >= 0);
    read_file(dir, text, sizeof text);
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    ASSERT_STR_EQ(text, want);
    snprintf(path, sizeof path, "%s/daemon.lock", dir);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    /* we hold it: the holder check sees us, a second acquire in this process is refused */
    ASSERT_EQ(ik_lock_holder(dir, &pid), 0);
    ASSERT_EQ(pid, getpid());
    ASSERT_FAILS(ik_lock_acquire(dir, &fd2, &pid, &err), IK_ELOCKED, &err,
                 "Database is locked by daemon (PID");
    ASSERT_EQ(fd2, -1);
    ASSERT_EQ(pid, getpid());
    ik_lock_release(fd, dir);
    ASSERT_EQ(ik_lock_holder(dir, &pid), ENOENT);
    read_file(dir, text, sizeof text);
    ASSERT_STR_EQ(text, "");
}

TEST(test_lock_held_by_child_then_stale_lock_taken_over)
{
    struct ik_error err;
    const char *dir = lock_dir("fork");
    int ready[2], go[2], fd = -1, status = 0, rc;
    long holder = 0;
    char c = 0, want[64], text[64];
    pid_t child;
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(go), 0);
    child = fork();
    ASSERT_TRUE(child >= 0);
    if (child == 0) {
        int cfd;
        char ok;
        close(ready[0]);
        close(go[1]);
        ok = ik_lock_acquire(dir, &cfd, NULL, NULL) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(2);
        if (read(go[0], &ok, 1) < 0)
            _exit(2);
        _exit(0); /* dies holding the lock: no release, the PID stays in the file */
    }
    close(ready[1]);
    close(go[0]);
    rc = (int)read(ready[0], &c, 1);
    if (rc != 1 || c != 'y') {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ASSERT_TRUE(!"child could not take the lock");
    }
    rc = ik_lock_acquire(dir, &fd, &holder, &err);
    snprintf(want, sizeof want, "Database is locked by daemon (PID %ld)", (long)child);
    if (rc != IK_ELOCKED || holder != child || strcmp(err.message, want) != 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ik_test_fail(__FILE__, __LINE__, "acquire returned %d holder %ld \"%s\"", rc, holder,
                     err.message);
        return;
    }
    ASSERT_EQ(ik_lock_holder(dir, &holder), 0);
    ASSERT_EQ(holder, child);
    /* let the child exit; the kernel drops its lock */
    ASSERT_EQ(write(go[1], "x", 1), 1);
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    close(go[1]);
    /* stale: the file still names the dead child, but nobody holds the lock */
    read_file(dir, text, sizeof text);
    snprintf(want, sizeof want, "%ld\n", (long)child);
    ASSERT_STR_EQ(text, want);
    ASSERT_EQ(ik_lock_holder(dir, &holder), ENOENT);
    ASSERT_OK(ik_lock_acquire(dir, &fd, &holder, &err), &err);
    read_file(dir, text, sizeof text);
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    ASSERT_STR_EQ(text, want);
    ASSERT_EQ(ik_lock_holder(dir, &holder), 0);
    ASSERT_EQ(holder, getpid());
    ik_lock_release(fd, dir);
}

TEST(test_lock_missing_directory_is_an_error)
{
    struct ik_error err;
    int fd = 7;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lock-nowhere/below", ik_test_tmpdir());
    ASSERT_FAILS(ik_lock_acquire(dir, &fd, NULL, &err), ENOENT, &err, "cannot open");
    ASSERT_EQ(fd, -1);
}

TEST(test_lock_marked_daemon_is_told_from_a_direct_writer)
{
    struct ik_error err;
    const char *dir = lock_dir("role");
    char text[64], want[48];
    long pid = 0;
    bool is_daemon = true;
    int fd = -1;
    ASSERT_OK(ik_lock_acquire(dir, &fd, NULL, &err), &err);
    /* a direct writer leaves the bare PID */
    ASSERT_EQ(ik_lock_holder_role(dir, &pid, &is_daemon), 0);
    ASSERT_EQ(pid, getpid());
    ASSERT_TRUE(!is_daemon);
    /* a daemon marks itself; the PID still reads the same for everyone */
    ASSERT_EQ(ik_lock_mark_daemon(fd), 0);
    read_file(dir, text, sizeof text);
    snprintf(want, sizeof want, "%ld daemon\n", (long)getpid());
    ASSERT_STR_EQ(text, want);
    ASSERT_EQ(ik_lock_holder_role(dir, &pid, &is_daemon), 0);
    ASSERT_EQ(pid, getpid());
    ASSERT_TRUE(is_daemon);
    ASSERT_EQ(ik_lock_holder(dir, &pid), 0);
    ASSERT_EQ(pid, getpid());
    ik_lock_release(fd, dir);
    ASSERT_EQ(ik_lock_holder_role(dir, &pid, &is_daemon), ENOENT);
    ASSERT_TRUE(!is_daemon);
    ASSERT_EQ(ik_lock_mark_daemon(-1), EBADF);
}
