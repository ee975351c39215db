/* Segment set files: manifests under dir/manifests (`<table>.<seq>.manifest`, written to a
 * temp name and linked, never replaced; not in snapshots/, which holds only Arrow files), the
 * durable mark dir/manifest-synced.<table> (the newest seq whose manifest and segments were
 * fsynced), finding the newest durable state, and pruning files no state needs. Segments and
 * manifests can also be made in sealed memfds (the daemon's write path: no file operation),
 * whose files ik_segset_sync writes when their state is made durable. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/snapshot.h"
#include "snapshot/segset_internal.h"

#define PATH_CAP 4400
/* The seals of a memory segment or manifest: its bytes and size are fixed for good. */
#define MEM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* Parses "<table>.<seq>.manifest" exactly. */
static bool parse_manifest_name(const char *name, const char *table, uint64_t *seq)
{
    return ik__parse_numbered(name, table, ".manifest", seq);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int ik_segset_manifest_path(const char *dir, const char *table, uint64_t seq, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "%s/manifests/%s.%llu.manifest", dir, table,
                            (unsigned long long)seq) >= cap
               ? ENAMETOOLONG
               : 0;
}

int ik_segset_write_manifest(const struct ik_segset *s, const char *dir, char *path_out,
                             size_t path_cap, struct ik_error *err)
{
    char path[PATH_CAP], tmp[PATH_CAP + 16];
    uint8_t *bytes = NULL;
    size_t len = 0;
    int fd, rc;
    if (ik_segset_manifest_path(dir, s->table, s->seq, path, sizeof path) != 0)
        return ik_error_set(err, ENAMETOOLONG, "%s: path too long", dir);
    snprintf(tmp, sizeof tmp, "%s/manifests", dir);
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return ik_error_set(err, errno, "%s: %s", tmp, strerror(errno));
    if ((rc = ik_segset_manifest(s, &bytes, &len, err)) != 0)
        return rc;
    if ((fd = ik__spare_take(tmp, sizeof tmp)) < 0) { /* no spare file: create one */
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
    }
    if (fd < 0) {
        rc = ik_error_set(err, errno, "%s: %s", tmp, strerror(errno));
        free(bytes);
        return rc;
    }
    rc = fchmod(fd, 0400) != 0 ? errno : write_all(fd, bytes, len);
    free(bytes);
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    if (rc != 0) {
        unlink(tmp);
        return ik_error_set(err, rc, "%s: %s", path, strerror(rc));
    }
    ik__stop_point("manifest");
    /* never over an existing manifest: one rename that refuses to replace (one directory
     * operation: link + unlink of the temp name were two, and the unlink, waiting for a busy
     * ext4 journal, took 1.9 s of the write path's 30 s in the 1M soak); link + unlink where
     * the file system cannot (EINVAL) */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
        rc = errno;
        if (rc == EINVAL || rc == ENOSYS)
            rc = link(tmp, path) != 0 ? errno : 0;
        unlink(tmp); /* gone already after a rename; the link's temp name otherwise */
        if (rc != 0)
            return ik_error_set(err, rc, "%s: %s", path,
                                rc == EEXIST ? "manifest exists already" : strerror(rc));
    }
    if (path_out && (size_t)snprintf(path_out, path_cap, "%s", path) >= path_cap)
        return ik_error_set(err, ENAMETOOLONG, "%s: longer than the caller's buffer", path);
    return 0;
}

int ik_segset_manifest_memfd(const struct ik_segset *s, int *fd_out, struct ik_error *err)
{
    char name[IK_SEG_NAME_MAX + 32];
    uint8_t *bytes = NULL;
    size_t len = 0;
    int fd, rc;
    *fd_out = -1;
    snprintf(name, sizeof name, "%s.%llu.manifest", s->table, (unsigned long long)s->seq);
    if ((rc = ik_segset_manifest(s, &bytes, &len, err)) != 0)
        return rc;
    if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
        rc = ik_error_set(err, errno, "%s: memfd_create: %s", name, strerror(errno));
        free(bytes);
        return rc;
    }
    rc = write_all(fd, bytes, len);
    free(bytes);
    if (rc == 0 && fcntl(fd, F_ADD_SEALS, MEM_SEALS) != 0)
        rc = errno;
    if (rc != 0) {
        close(fd);
        return ik_error_set(err, rc, "%s (in memory): %s", name, strerror(rc));
    }
    ik__stop_point("manifest");
    *fd_out = fd;
    return 0;
}

static int fsync_path(const char *path, int flags, struct ik_error *err)
{
    int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW), rc = 0;
    if (fd < 0)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        rc = ik_error_set(err, errno, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* Writes memory segment g (its sealed memfd) as dir/snapshots/<name>, fsynced: a temp file
 * (or a spare) renamed over whatever had that name (write_segment says why). */
static int save_segment(const char *dir, const struct ik_seg *g, struct ik_error *err)
{
    char path[PATH_CAP + 128], tmp[PATH_CAP + 160];
    uint8_t buf[1 << 16];
    off_t at = 0;
    int fd, rc = 0;
    snprintf(tmp, sizeof tmp, "%s/snapshots", dir);
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return ik_error_set(err, errno, "%s: %s", tmp, strerror(errno));
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, g->name);
    if ((fd = ik__spare_take(tmp, sizeof tmp)) < 0) {
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
    }
    if (fd < 0)
        return ik_error_set(err, errno, "%s: %s", tmp, strerror(errno));
    if (fchmod(fd, 0400) != 0)
        rc = errno;
    /* read from the descriptor, not the mapping: the pages stay out of this process's RSS */
    while (rc == 0) {
        ssize_t r = pread(g->fd, buf, sizeof buf, at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = errno;
        if (r <= 0)
            break;
        rc = write_all(fd, buf, (size_t)r);
        at += r;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    if (rc == 0) {
        ik__stop_point("file");
        if (rename(tmp, path) != 0)
            rc = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return ik_error_set(err, rc, "%s: %s", path, strerror(rc));
    }
    return 0;
}

static const struct ik_seg *seg_named(const struct ik_segset *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->seg[i].name, name) == 0)
            return &s->seg[i];
    return NULL;
}

int ik_segset_sync(const struct ik_segset *s, const char *dir, const char *const *fresh,
                   int n_fresh, struct ik_error *err)
{
    char path[PATH_CAP];
    int i, rc, fd;
    for (i = 0; i < n_fresh; i++) {
        const struct ik_seg *g = seg_named(s, fresh[i]);
        if (g != NULL && g->mem && g->fd >= 0) { /* only in memory until now */
            if ((rc = save_segment(dir, g, err)) != 0)
                return rc;
            continue;
        }
        snprintf(path, sizeof path, "%s/snapshots/%s", dir, fresh[i]);
        if ((rc = fsync_path(path, O_RDONLY, err)) != 0)
            return rc;
    }
    /* the manifest: written here when its state was published from memory */
    ik_segset_manifest_path(dir, s->table, s->seq, path, sizeof path);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
        close(fd);
    else if (errno != ENOENT)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    else if ((rc = ik_segset_write_manifest(s, dir, NULL, 0, err)) != 0)
        return rc;
    if ((rc = fsync_path(path, O_RDONLY, err)) != 0)
        return rc;
    snprintf(path, sizeof path, "%s/snapshots", dir);
    if (n_fresh > 0 && (rc = fsync_path(path, O_RDONLY | O_DIRECTORY, err)) != 0)
        return rc;
    snprintf(path, sizeof path, "%s/manifests", dir);
    if ((rc = fsync_path(path, O_RDONLY | O_DIRECTORY, err)) != 0)
        return rc;
    ik__stop_point("mark");
    return ik__mark_write(dir, "manifest-synced", s->table, s->seq, err);
}

/* ---- discovery ------------------------------------------------------------------------- */

/* The manifest seqs of `table` (malloc'd, newest first). */
static int list_seqs(const char *dir, const char *table, uint64_t **out, size_t *n)
{
    char sdir[PATH_CAP];
    struct ik_error err;
    snprintf(sdir, sizeof sdir, "%s/manifests", dir);
    return ik__list_numbered(sdir, table, ".manifest", out, n, &err);
}

uint64_t ik_segset_max_seq(const char *dir, const char *table)
{
    uint64_t *v = NULL, m = 0;
    size_t n = 0;
    if (list_seqs(dir, table, &v, &n) == 0 && n > 0)
        m = v[0];
    free(v);
    return m;
}

static int read_file(const char *path, uint8_t **out, size_t *len, struct ik_error *err)
{
    struct stat st;
    uint8_t *b;
    ssize_t r;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
        close(fd);
        return ik_error_set(err, IK_EFORMAT, "%s: not a regular file of at most 64 MiB", path);
    }
    if ((b = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    while (got < (size_t)st.st_size && (r = read(fd, b + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)r;
    close(fd);
    *out = b;
    *len = got;
    return 0;
}

/* Opens the state of manifest `path`. */
static int open_manifest(const char *dir, const char *path, int validate, struct ik_segset **out,
                         struct ik_error *err)
{
    struct ik_snapshot *segs[IK_SEG_MAX] = {0};
    struct ik_manifest *m = malloc(sizeof *m);
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc, i, n = 0;
    if (m == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    if ((rc = read_file(path, &bytes, &len, err)) == 0 &&
        (rc = ik_manifest_parse(bytes, len, m, err)) == 0) {
        for (n = 0; n < m->n && rc == 0; n++) {
            char sp[PATH_CAP];
            snprintf(sp, sizeof sp, "%s/snapshots/%s", dir, m->seg[n].name);
            if ((rc = ik_snapshot_open_path(sp, validate, &segs[n], err)) != 0)
                break;
        }
        if (rc == 0)
            rc = ik_segset_open(bytes, len, segs, m->n, out, err);
    }
    for (i = 0; i < n && i < IK_SEG_MAX; i++)
        ik_snapshot_close(segs[i]);
    free(bytes);
    free(m);
    return rc;
}

int ik_segset_latest(const char *dir, const char *table, int validate, struct ik_segset **out,
                     char *path_out, size_t path_cap, struct ik_error *err)
{
    uint64_t *v = NULL, mark = 0;
    size_t n = 0, i;
    bool marked = ik__mark_read(dir, "manifest-synced", table, &mark);
    int rc = list_seqs(dir, table, &v, &n);
    *out = NULL;
    if (rc != 0 && rc != ENOENT)
        return ik_error_set(err, rc, "%s/snapshots: %s", dir, strerror(rc));
    for (i = 0; i < n; i++) {
        char path[PATH_CAP];
        if (!marked || v[i] > mark)
            continue; /* not durable: a power cut may have torn it or its segments */
        ik_segset_manifest_path(dir, table, v[i], path, sizeof path);
        /* Only the newest durable state: an older one is not the store's generation anyway,
         * and a damaged newest one must be said, not skipped over in silence. */
        rc = open_manifest(dir, path, validate, out, err);
        free(v);
        if (rc == 0 && path_out)
            snprintf(path_out, path_cap, "%s", path);
        if (rc == ENOENT) /* a segment it names is gone: the state is damaged */
            rc = IK_EFORMAT;
        return rc;
    }
    free(v);
    return ik_error_set(err, ENOENT, "no durable segment manifest of '%s' under %s/manifests",
                        table, dir);
}

/* ---- pruning --------------------------------------------------------------------------- */

static bool named_by(struct ik_segset *const *keep, int n_keep, const char *name)
{
    int k, i;
    for (k = 0; k < n_keep; k++)
        for (i = 0; keep[k] && i < keep[k]->n; i++)
            if (strcmp(keep[k]->seg[i].name, name) == 0)
                return true;
    return false;
}

/* A list of paths to unlink later (ik_segset_prune_deferred). */
struct later {
    char ***paths;
    size_t *n, cap;
};

static int later_add(struct later *l, const char *path, struct ik_error *err)
{
    char *p;
    if (*l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(*l->paths, cap * sizeof *grown);
        if (grown == NULL)
            return ik_error_set(err, ENOMEM, "out of memory");
        *l->paths = grown;
        l->cap = cap;
    }
    if ((p = strdup(path)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    (*l->paths)[(*l->n)++] = p;
    return 0;
}

/* Unlinks the table's files in `sub` (snapshots or manifests) that are dead by `keep`; with
 * `later`, those whose names are never made again (all but bases) go on that list instead. */
static int prune_dir(const char *dir, const char *sub, const char *table,
                     struct ik_segset *const *keep, int n_keep, uint64_t min_seq,
                     struct later *later, struct ik_error *err)
{
    char sdir[PATH_CAP], path[PATH_CAP + 256];
    size_t tl = strlen(table);
    struct dirent *e;
    uint64_t seq;
    DIR *d;
    int rc = 0;
    snprintf(sdir, sizeof sdir, "%s/%s", dir, sub);
    if ((d = opendir(sdir)) == NULL)
        return errno == ENOENT ? 0 : ik_error_set(err, errno, "%s: %s", sdir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        bool dead, base = false;
        if (strncmp(nm, table, tl) != 0 || nm[tl] != '.')
            continue;
        if (strstr(nm, ".tmp.")) {
            dead = true; /* mkostemp's name, unique */
        } else if (parse_manifest_name(nm, table, &seq)) {
            dead = seq < min_seq; /* seqs only grow */
        } else if (strlen(nm) > 6 && strcmp(nm + strlen(nm) - 6, ".arrow") == 0) {
            dead = !named_by(keep, n_keep, nm);
            base = strstr(nm + tl, ".d") == NULL; /* <table>.<version>.arrow; a delta: .d<seq> */
        } else {
            dead = false;
        }
        if (!dead)
            continue;
        snprintf(path, sizeof path, "%s/%s", sdir, nm);
        if (later != NULL && !base) {
            if ((rc = later_add(later, path, err)) != 0)
                break;
        } else if (unlink(path) != 0 && errno != ENOENT && rc == 0) {
            rc = ik_error_set(err, errno, "%s: %s", path, strerror(errno));
        }
    }
    closedir(d);
    return rc;
}

static int prune(const char *dir, const char *table, struct ik_segset *const *keep, int n_keep,
                 struct later *later, struct ik_error *err)
{
    uint64_t min_seq = UINT64_MAX;
    int k, rc;
    for (k = 0; k < n_keep; k++)
        if (keep[k] && keep[k]->seq < min_seq)
            min_seq = keep[k]->seq;
    rc = prune_dir(dir, "snapshots", table, keep, n_keep, min_seq, later, err);
    if (rc == 0)
        rc = prune_dir(dir, "manifests", table, keep, n_keep, min_seq, later, err);
    return rc;
}

int ik_segset_prune(const char *dir, const char *table, struct ik_segset *const *keep, int n_keep,
                    struct ik_error *err)
{
    return prune(dir, table, keep, n_keep, NULL, err);
}

int ik_segset_prune_deferred(const char *dir, const char *table, struct ik_segset *const *keep,
                             int n_keep, char ***later, size_t *n_later, struct ik_error *err)
{
    struct later l = {later, n_later, 0};
    *later = NULL;
    *n_later = 0;
    return prune(dir, table, keep, n_keep, &l, err);
}

void ik_segset_unlink_all(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        (void)unlink(paths[i]); /* gone already (ENOENT) or refused: the next prune tries again */
        free(paths[i]);
    }
    free(paths);
}

/* ---- writing segments ------------------------------------------------------------------ */

/* Writes `batch` as a sealed memfd named `name` (no file): *fd and *snap. */
static int mem_segment(const char *table, const char *name, uint64_t version,
                       const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       int *fd_out, struct ik_snapshot **snap, struct ik_error *err)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), rc;
    *fd_out = -1;
    *snap = NULL;
    if (fd < 0)
        return ik_error_set(err, errno, "%s: memfd_create: %s", name, strerror(errno));
    if ((rc = ik_snapshot_write_fd(fd, table, version, schema, batch, err)) != 0)
        ik_error_prefix(err, rc, "%s (in memory)", name);
    else if (fcntl(fd, F_ADD_SEALS, MEM_SEALS) != 0)
        rc = ik_error_set(err, errno, "%s: sealing: %s", name, strerror(errno));
    if (rc == 0) {
        ik__stop_point("publish");
        rc = ik_snapshot_open_fd(fd, 0, snap, err);
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

/* Writes `batch` as dir/snapshots/<name> (temp name, renamed; not fsynced) and opens it: *fd
 * and *snap. Whatever had that name is replaced, never used or followed: a name carries the
 * version, so a file there is a copy of the same rows at best, and at worst a torn or damaged
 * one, or a link planted in the directory (rename replaces the link itself). With `mem`, a
 * sealed memfd instead (mem_segment). */
static int write_segment(const char *dir, const char *table, const char *name, uint64_t version,
                         const struct ArrowSchema *schema, const struct ArrowArray *batch, bool mem,
                         int *fd_out, struct ik_snapshot **snap, struct ik_error *err)
{
    char sdir[PATH_CAP], path[PATH_CAP + 128], tmp[PATH_CAP + 160];
    int fd, rc = 0;
    if (mem)
        return mem_segment(table, name, version, schema, batch, fd_out, snap, err);
    *fd_out = -1;
    *snap = NULL;
    snprintf(sdir, sizeof sdir, "%s/snapshots", dir);
    if (mkdir(sdir, 0700) != 0 && errno != EEXIST)
        return ik_error_set(err, errno, "%s: %s", sdir, strerror(errno));
    snprintf(path, sizeof path, "%s/%s", sdir, name);
    if ((fd = ik__spare_take(tmp, sizeof tmp)) < 0) { /* no spare file: create one */
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
    }
    if (fd < 0)
        return ik_error_set(err, errno, "%s: %s", tmp, strerror(errno));
    if (fchmod(fd, 0400) != 0)
        rc = ik_error_set(err, errno, "%s: chmod: %s", tmp, strerror(errno));
    if (rc == 0 && (rc = ik_snapshot_write_fd(fd, table, version, schema, batch, err)) != 0)
        ik_error_prefix(err, rc, "%s", path);
    close(fd);
    if (rc == 0) {
        ik__stop_point("publish");
        if (rename(tmp, path) != 0)
            rc = ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    }
    if (rc != 0)
        unlink(tmp);
    if (rc != 0)
        return rc;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    if ((rc = ik_snapshot_open_fd(fd, 0, snap, err)) != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

static int base(const char *dir, const char *table, uint64_t version, uint64_t seq,
                const struct ArrowSchema *schema, const struct ArrowArray *batch, bool mem,
                struct ik_segset **out, struct ik_error *err)
{
    char name[IK_SEG_NAME_MAX];
    struct ik_snapshot *snap = NULL;
    int fd, rc;
    *out = NULL;
    if ((size_t)snprintf(name, sizeof name, "%s.%llu.arrow", table, (unsigned long long)version) >=
        sizeof name)
        return ik_error_set(err, ENAMETOOLONG, "table name '%s' too long", table);
    if ((rc = write_segment(dir, table, name, version, schema, batch, mem, &fd, &snap, err)) != 0)
        return rc;
    rc = ik_segset_new(table, version, seq, snap, name, fd, out, err);
    ik_snapshot_close(snap);
    if (rc == 0)
        (*out)->seg[0].mem = mem;
    return rc;
}

int ik_segset_write_base(const char *dir, const char *table, uint64_t version, uint64_t seq,
                         const struct ArrowSchema *schema, const struct ArrowArray *batch,
                         struct ik_segset **out, struct ik_error *err)
{
    return base(dir, table, version, seq, schema, batch, false, out, err);
}

int ik_segset_mem_base(const char *table, uint64_t version, uint64_t seq,
                       const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       struct ik_segset **out, struct ik_error *err)
{
    return base(NULL, table, version, seq, schema, batch, true, out, err);
}

/* The snapshot open on fd is table's at version (its schema's metadata). */
static int same_snapshot(const struct ik_snapshot *snap, const char *table, uint64_t version,
                         struct ik_error *err)
{
    int32_t tl = 0;
    const char *t = ik_metadata_get(ik_snapshot_schema(snap)->metadata, IK_META_TABLE, &tl);
    if (ik_snapshot_version(snap) != version || t == NULL || (size_t)tl != strlen(table) ||
        memcmp(t, table, (size_t)tl) != 0)
        return ik_error_set(err, EINVAL, "the file is not the snapshot of %s at %llu", table,
                            (unsigned long long)version);
    return 0;
}

int ik_segset_link_base(const char *dir, const char *table, uint64_t version, uint64_t seq, int fd,
                        struct ik_segset **out, struct ik_error *err)
{
    char name[IK_SEG_NAME_MAX], sdir[PATH_CAP], path[PATH_CAP + 128], tmp[PATH_CAP + 192];
    char proc[64];
    struct ik_snapshot *snap = NULL;
    struct stat a, b;
    int own, rc;
    *out = NULL;
    if ((size_t)snprintf(name, sizeof name, "%s.%llu.arrow", table, (unsigned long long)version) >=
        sizeof name)
        return ik_error_set(err, ENAMETOOLONG, "table name '%s' too long", table);
    if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY || fstat(fd, &a) != 0 || !S_ISREG(a.st_mode))
        return ik_error_set(err, EINVAL, "not a read-only descriptor of a regular file");
    if ((own = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) /* the state's, handed to clients */
        return ik_error_set(err, errno, "dup: %s", strerror(errno));
    if ((rc = ik_snapshot_open_fd(own, 0, &snap, err)) != 0 ||
        (rc = same_snapshot(snap, table, version, err)) != 0)
        goto fail;
    snprintf(sdir, sizeof sdir, "%s/snapshots", dir);
    if (mkdir(sdir, 0700) != 0 && errno != EEXIST) {
        rc = ik_error_set(err, errno, "%s: %s", sdir, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/%s", sdir, name);
    /* a temp name first, then renamed over whatever had the name (as write_segment does); a
     * temp name left by a crash is pruned (".tmp.") */
    snprintf(tmp, sizeof tmp, "%s.tmp.link.%ld.%llu", path, (long)getpid(),
             (unsigned long long)seq);
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", own);
    (void)unlink(tmp);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0) {
        rc = ik_error_set(err, errno, "link %s: %s", tmp, strerror(errno));
        goto fail;
    }
    ik__stop_point("publish");
    if (rename(tmp, path) != 0) {
        rc = ik_error_set(err, errno, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto fail;
    }
    if (lstat(path, &b) != 0 || b.st_ino != a.st_ino || b.st_dev != a.st_dev) {
        rc = ik_error_set(err, EIO, "%s: not the file linked", path);
        goto fail;
    }
    rc = ik_segset_new(table, version, seq, snap, name, own, out, err); /* takes own */
    ik_snapshot_close(snap);
    return rc;
fail:
    ik_snapshot_close(snap);
    close(own);
    return rc;
}

static int delta(const struct ik_segset *cur, const char *dir, uint64_t version, uint64_t seq,
                 const struct ArrowSchema *schema, const struct ArrowArray *rows,
                 const char *const *deleted, size_t n_deleted, bool mem, struct ik_segset **out,
                 struct ik_error *err)
{
    char name[IK_SEG_NAME_MAX];
    struct ik_snapshot *snap = NULL;
    int fd, rc;
    *out = NULL;
    if ((size_t)snprintf(name, sizeof name, "%s.%llu.d%llu.arrow", cur->table,
                         (unsigned long long)version, (unsigned long long)seq) >= sizeof name)
        return ik_error_set(err, ENAMETOOLONG, "table name '%s' too long", cur->table);
    if ((rc = write_segment(dir, cur->table, name, version, schema, rows, mem, &fd, &snap, err)) !=
        0)
        return rc;
    rc = ik_segset_add(cur, version, seq, snap, name, fd, deleted, n_deleted, out, err);
    ik_snapshot_close(snap);
    if (rc == 0)
        (*out)->seg[(*out)->n - 1].mem = mem;
    return rc;
}

int ik_segset_write_delta(const struct ik_segset *cur, const char *dir, uint64_t version,
                          uint64_t seq, const struct ArrowSchema *schema,
                          const struct ArrowArray *rows, const char *const *deleted,
                          size_t n_deleted, struct ik_segset **out, struct ik_error *err)
{
    return delta(cur, dir, version, seq, schema, rows, deleted, n_deleted, false, out, err);
}

int ik_segset_mem_delta(const struct ik_segset *cur, uint64_t version, uint64_t seq,
                        const struct ArrowSchema *schema, const struct ArrowArray *rows,
                        const char *const *deleted, size_t n_deleted, struct ik_segset **out,
                        struct ik_error *err)
{
    return delta(cur, NULL, version, seq, schema, rows, deleted, n_deleted, true, out, err);
}

bool ik_segset_in_memory(const struct ik_segset *s, int i)
{
    return i >= 0 && i < s->n && s->seg[i].mem;
}

int ik_segset_open_fds(struct ik_segset *s, const char *dir, struct ik_error *err)
{
    char path[PATH_CAP + 128];
    int i;
    for (i = 0; i < s->n; i++) {
        if (s->seg[i].fd >= 0)
            continue;
        snprintf(path, sizeof path, "%s/snapshots/%s", dir, s->seg[i].name);
        if ((s->seg[i].fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
            return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
        s->seg[i].own_fd = true;
    }
    return 0;
}
