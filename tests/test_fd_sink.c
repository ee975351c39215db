/* The IPC writer's file sink: pieces of every size (staged, large, filling the staging block
 * exactly and overflowing it), written behind or not, reach the file whole and in order; a
 * write error is reported. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ik_test.h"

TEST(test_fd_sink_writes_every_piece_in_order)
{
    static const size_t sizes[] = {0,       1,       8,       16383,   16384,   3,       65536,
                                   40000,   20000,   16383,   16383,   16383,   16383,   16383,
                                   5,       1 << 20, 7,       65535,   64,      12345,   16385,
                                   1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20,
                                   1 << 20, 1 << 20, 1};
    size_t n = sizeof sizes / sizeof sizes[0], total = 0, at = 0, i;
    char path[512];
    struct ik__fd_sink s;
    struct ik_error err;
    uint8_t *want, *got;
    int fd;
    for (i = 0; i < n; i++)
        total += sizes[i];
    want = malloc(total);
    got = malloc(total + 1);
    ASSERT_TRUE(want && got);
    for (i = 0; i < total; i++)
        want[i] = (uint8_t)(i * 131 + i / 977);
    snprintf(path, sizeof path, "%s/fd_sink.bin", ik_test_tmpdir());
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(ik__fd_sink_init(&s, fd, true), 0); /* 10 MiB: written behind */
    for (i = 0; i < n; i++) {
        ASSERT_OK(ik__fd_sink_write(&s, want + at, sizes[i], &err), &err);
        at += sizes[i];
    }
    ASSERT_OK(ik__fd_sink_flush(&s, &err), &err);
    ik__fd_sink_reset(&s);
    ASSERT_EQ(pread(fd, got, total + 1, 0), (ssize_t)total);
    ASSERT_TRUE(memcmp(got, want, total) == 0);
    close(fd);
    /* a descriptor open for reading only: the error comes back, with its message */
    fd = open(path, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(ik__fd_sink_init(&s, fd, false), 0);
    ASSERT_OK(ik__fd_sink_write(&s, want, 10, &err), &err); /* staged */
    ASSERT_EQ(ik__fd_sink_write(&s, want, 1 << 20, &err), EBADF);
    ASSERT_TRUE(strstr(err.message, "write failed") != NULL);
    ASSERT_EQ(ik__fd_sink_write(&s, want, 10, &err), 0);
    ASSERT_EQ(ik__fd_sink_flush(&s, &err), EBADF);
    ik__fd_sink_reset(&s);
    close(fd);
    unlink(path);
    free(want);
    free(got);
}
