/* Spare files (include/ipfskit/segments.h, docs/architecture.md "What one write costs"): empty
 * files created ahead, off the write path, which the writing of a segment or manifest takes as
 * its temp file instead of creating one. Creating a file is the
 * dearest step of a small write on some file systems: ext4 without a journal skips every inode
 * freed in the last 30 s when it allocates one, so under a stream of writes (each state's two
 * files created, older states' files unlinked) a create walked thousands of them. A spare is
 * created by ik_spare_fill (a thread of the daemon's own, woken by ik_spare_wait once the pool
 * is half empty) in `<data dir>/spares/` (0600; the writer makes it 0400), and renamed (or
 * linked) into snapshots/ or manifests/ once written, as a temp file is: nothing that scans
 * those directories ever sees one. ik_spare_enable removes what a killed daemon left there. A
 * process that never enables the pool (a direct writer, tests) creates its temp files as
 * before. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/segments.h"
#include "snapshot/segset_internal.h"

#define SPARE_MAX 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t low = PTHREAD_COND_INITIALIZER; /* the pool fell below half */
static char pool_dir[4096];                           /* "<data dir>/spares" */
static char *pool[SPARE_MAX]; /* paths; no descriptor held (a daemon near its fd limit) */
static int n_pool;
static int want;       /* spares kept; 0: the pool is off */
static unsigned count; /* names made */

/* Unlinks every file in the spares directory (a killed daemon's, or the pool's at disable). */
static void sweep(const char *dir)
{
    char path[4096 + 256];
    struct dirent *e;
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

int ik_spare_enable(const char *dir, int n, struct ik_error *err)
{
    struct stat st;
    pthread_mutex_lock(&mu);
    if ((size_t)snprintf(pool_dir, sizeof pool_dir, "%s/spares", dir) >= sizeof pool_dir) {
        pthread_mutex_unlock(&mu);
        return ik_error_set(err, ENAMETOOLONG, "%s: path too long", dir);
    }
    if ((mkdir(pool_dir, 0700) != 0 && errno != EEXIST) || lstat(pool_dir, &st) != 0 ||
        !S_ISDIR(st.st_mode)) { /* a link planted there is never followed */
        int e = errno ? errno : ENOTDIR;
        pthread_mutex_unlock(&mu);
        return ik_error_set(err, e, "%s: not a directory we made", pool_dir);
    }
    sweep(pool_dir);
    want = n < 0 ? 0 : n > SPARE_MAX ? SPARE_MAX : n;
    pthread_mutex_unlock(&mu);
    return 0;
}

void ik_spare_disable(void)
{
    int k;
    pthread_mutex_lock(&mu);
    for (k = 0; k < n_pool; k++) {
        unlink(pool[k]);
        free(pool[k]);
    }
    n_pool = 0;
    want = 0;
    pthread_cond_broadcast(&low);
    pthread_mutex_unlock(&mu);
}

void ik_spare_wait(int timeout_ms)
{
    struct timespec until = ik_realtime_in(timeout_ms);
    pthread_mutex_lock(&mu);
    if (want == 0 || n_pool >= want / 2) /* off: only the timeout (or a wake) ends it */
        pthread_cond_timedwait(&low, &mu, &until);
    pthread_mutex_unlock(&mu);
}

void ik_spare_wake(void)
{
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&low);
    pthread_mutex_unlock(&mu);
}

int ik_spare_fill(void)
{
    int made = 0;
    for (;;) {
        char name[4096 + 64];
        int fd;
        pthread_mutex_lock(&mu);
        if (n_pool >= want) {
            pthread_mutex_unlock(&mu);
            return made;
        }
        snprintf(name, sizeof name, "%s/%ld.%u", pool_dir, (long)getpid(), count++);
        pthread_mutex_unlock(&mu);
        /* created outside the lock: a take never waits for an inode allocation */
        fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return made;
        close(fd);
        pthread_mutex_lock(&mu);
        if (n_pool < want && (pool[n_pool] = strdup(name)) != NULL) {
            n_pool++;
            made++;
            fd = -1;
        }
        pthread_mutex_unlock(&mu);
        if (fd >= 0) { /* disabled meanwhile, or out of memory */
            unlink(name);
            return made;
        }
    }
}

int ik__spare_take(char *tmp, size_t cap)
{
    struct stat st;
    char *name = NULL;
    int fd;
    pthread_mutex_lock(&mu);
    if (want > 0 && n_pool > 0)
        name = pool[--n_pool];
    if (want > 0 && n_pool < want / 2)
        pthread_cond_signal(&low); /* the filler thread tops it up */
    pthread_mutex_unlock(&mu);
    if (name == NULL)
        return -1;
    if (strlen(name) >= cap) {
        unlink(name);
        free(name);
        return -1;
    }
    strcpy(tmp, name);
    free(name);
    /* opening an existing file allocates nothing; it must still be the empty file we made */
    fd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        unlink(tmp);
    return fd;
}
