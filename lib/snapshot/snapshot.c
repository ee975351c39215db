/* Snapshots: writing one record batch as an immutable Arrow IPC file (temp name, fsync, rename
 * without replacing, fsync of the directory, mode 0400; or the fsyncs deferred until after the
 * file is in use, with a mark of the newest durable version), finding the newest complete one,
 * pruning old ones, and opening one from a path or fd to answer queries whose results point
 * into the read-only mapping. */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/schemas.h"
#include "ipfskit/snapshot.h"
#include "snapshot/segset_internal.h"

#define KEY_TABLE IK_META_TABLE /* include/ipfskit/schemas.h */
#define KEY_VERSION IK_META_VERSION
#define KEY_CREATED IK_META_CREATED

struct ik_snapshot {
    atomic_int refs; /* the opener's, and one per unprojected result (its schema lives here) */
    struct ik_buffer *buf;
    struct ik_ipc_file *file;
    struct ArrowArray batch;
    uint64_t version;
    _Atomic(void *) views; /* segview.c's template of the batch's arrays (malloc'd), or NULL */
};

/* ---- names ----------------------------------------------------------------------------- */

static int check_table_name(const char *table, struct ik_error *err)
{
    size_t i, n = strlen(table);
    if (n == 0 || n >= IK_TABLE_NAME_MAX)
        return ik_error_set(err, EINVAL, "bad table name '%s' (1 to %d characters)", table,
                            IK_TABLE_NAME_MAX - 1);
    for (i = 0; i < n; i++) {
        char c = table[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return ik_error_set(err, EINVAL, "bad table name '%s' (letters, digits, '_', '-')",
                                table);
    }
    return 0;
}

bool ik__parse_numbered(const char *name, const char *table, const char *suffix, uint64_t *v)
{
    size_t tl = strlen(table);
    const char *p;
    uint64_t x = 0;
    if (strncmp(name, table, tl) != 0 || name[tl] != '.')
        return false;
    p = name + tl + 1;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > (UINT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    if (strcmp(p, suffix) != 0)
        return false;
    *v = x;
    return true;
}

/* Parses "<table>.<version>.arrow" (exactly; temp names do not parse). */
static bool parse_name(const char *name, const char *table, uint64_t *version)
{
    return ik__parse_numbered(name, table, ".arrow", version);
}

static int snap_dir(const char *dir, char *out, size_t cap, struct ik_error *err)
{
    if ((size_t)snprintf(out, cap, "%s/snapshots", dir) >= cap)
        return ik_error_set(err, ENAMETOOLONG, "%s/snapshots: path too long", dir);
    return 0;
}

/* ---- writing --------------------------------------------------------------------------- */

/* A metadata blob: `src` without our three keys, then our three keys. */
static char *merge_metadata(const char *src, const char *const *keys, const char *const *vals)
{
    int64_t size = ik__metadata_size(src), out_size = size + 4;
    int32_t n = 0, i, kl, vl;
    struct ik__kv_iter it;
    struct ik__kv e;
    char *m, *w;
    for (i = 0; i < 3; i++)
        out_size += 8 + (int64_t)strlen(keys[i]) + (int64_t)strlen(vals[i]);
    m = malloc((size_t)out_size);
    if (m == NULL)
        return NULL;
    w = m + 4;
    for (ik__kv_begin(&it, src); ik__kv_next(&it, &e);) {
        if (ik__kv_is(&e, keys[0]) || ik__kv_is(&e, keys[1]) || ik__kv_is(&e, keys[2]))
            continue;
        memcpy(w, e.start, (size_t)(e.end - e.start));
        w += e.end - e.start;
        n++;
    }
    for (i = 0; i < 3; i++) {
        kl = (int32_t)strlen(keys[i]);
        vl = (int32_t)strlen(vals[i]);
        memcpy(w, &kl, 4);
        memcpy(w + 4, keys[i], (size_t)kl);
        w += 4 + kl;
        memcpy(w, &vl, 4);
        memcpy(w + 4, vals[i], (size_t)vl);
        w += 4 + vl;
        n++;
    }
    memcpy(m, &n, 4);
    return m;
}

static void now_rfc3339(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

/* The IPC writer hands over each flatbuffer, body buffer and padding on its own (a one-row
 * delta is ~60 pieces): they are gathered here and written in writes that start and end at
 * multiples of WRITE_CHUNK (2 MiB) in the file, so a small segment costs one write() instead of
 * one per piece, and a file system with large folios (ext4 and xfs on Linux 6.x) caches the file
 * in 2 MiB folios: a write covering a 2 MiB-aligned range whole fills one, while a range written
 * in smaller or straddling pieces is left in small ones. The readers' mappings (MADV_HUGEPAGE,
 * lib/arrow/buffer.c) then map it with one TLB entry per 2 MiB: Flight's copy of a whole table
 * into its socket (docs/flight.md, "Huge pages"). A piece that spans a whole chunk goes to the
 * file from where it lies, beside what is gathered (writev), up to the last boundary it
 * crosses; only its tail past that boundary is copied. */
#define WRITE_CHUNK ((size_t)2 << 20)

ssize_t (*ik__snapshot_writev)(int fd, const struct iovec *iov, int n) = writev;

struct fd_out {
    int fd;
    uint8_t *buf;
    size_t len;
    uint64_t pos; /* the file offset of buf[0] */
};

static int writev_all(int fd, struct iovec *iov, int n, struct ik_error *err)
{
    while (n > 0) {
        ssize_t w = ik__snapshot_writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            return ik_error_set(err, e, "write: %s", strerror(e));
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int fd_flush(struct fd_out *o, struct ik_error *err)
{
    struct iovec iov = {o->buf, o->len};
    int rc = o->len ? writev_all(o->fd, &iov, 1, err) : 0;
    o->pos += o->len;
    o->len = 0;
    return rc;
}

static int fd_write(void *ctx, const void *data, size_t len, struct ik_error *err)
{
    struct fd_out *o = ctx;
    const uint8_t *p = data;
    int rc = 0;
    if (o->buf == NULL) { /* every piece as it comes */
        struct iovec iov = {(void *)p, len};
        return writev_all(o->fd, &iov, 1, err);
    }
    while (len > 0 && rc == 0) {
        uint64_t at = o->pos + o->len; /* where p[0] goes in the file */
        size_t room = WRITE_CHUNK - (size_t)(at % WRITE_CHUNK), k;
        if (len > room && len - room >= WRITE_CHUNK) {
            struct iovec iov[2] = {{o->buf, o->len}, {(void *)p, 0}};
            k = len - (size_t)((at + len) % WRITE_CHUNK); /* to the last boundary crossed */
            iov[1].iov_len = k;
            rc = writev_all(o->fd, iov, 2, err);
            o->pos += o->len + k;
            o->len = 0;
        } else {
            k = len < room ? len : room;
            memcpy(o->buf + o->len, p, k);
            o->len += k;
            if (k == room)
                rc = fd_flush(o, err);
        }
        p += k;
        len -= k;
    }
    return rc;
}

int ik_snapshot_write_fd(int fd, const char *table, uint64_t version,
                         const struct ArrowSchema *schema, const struct ArrowArray *batch,
                         struct ik_error *err)
{
    static const char *const keys[3] = {KEY_TABLE, KEY_VERSION, KEY_CREATED};
    char vbuf[24], created[80];
    const char *vals[3] = {table, vbuf, created};
    struct ArrowSchema view;
    struct ik_write_options o;
    struct ik_ipc_writer *w = NULL;
    struct fd_out out = {fd, NULL, 0, 0};
    off_t at = lseek(fd, 0, SEEK_CUR);
    char *meta;
    int rc;
    if ((rc = check_table_name(table, err)) != 0)
        return rc;
    if (batch->n_children != schema->n_children)
        return ik_error_set(err, EINVAL,
                            "snapshot of '%s': the batch has %lld columns, the schema %lld", table,
                            (long long)batch->n_children, (long long)schema->n_children);
    snprintf(vbuf, sizeof vbuf, "%llu", (unsigned long long)version);
    now_rfc3339(created, sizeof created);
    meta = merge_metadata(schema->metadata, keys, vals);
    if (meta == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    view = *schema; /* read only by the writer, which copies it */
    view.metadata = meta;
    ik_write_options_init(&o);
    o.format = IK_IPC_FILE;
    o.compression = IK_COMPRESSION_NONE;
    out.buf = malloc(WRITE_CHUNK);       /* without it, every piece is written as it comes */
    out.pos = at > 0 ? (uint64_t)at : 0; /* not a file (a pipe): from 0 */
    rc = ik_ipc_writer_create(&view, &o, fd_write, &out, &w, err);
    if (rc == 0)
        rc = ik_ipc_writer_write(w, batch, err);
    if (rc == 0)
        rc = ik_ipc_writer_finish(w, err);
    if (rc == 0)
        rc = fd_flush(&out, err);
    ik_ipc_writer_destroy(w);
    free(out.buf);
    free(meta);
    return rc;
}

static int fsync_dir(const char *path, struct ik_error *err)
{
    int rc = 0, fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = ik_error_set(err, errno, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* <dir>/<prefix>.<table>: a number recorded about the table's files. Outside snapshots/,
 * which holds only Arrow files. */
static int mark_path(const char *dir, const char *prefix, const char *table, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "%s/%s.%s", dir, prefix, table) >= cap ? -1 : 0;
}

int ik__mark_write(const char *dir, const char *prefix, const char *table, uint64_t value,
                   struct ik_error *err)
{
    char path[4200], tmp[4300], text[32];
    int fd, n, rc = 0;
    if (mark_path(dir, prefix, table, path, sizeof path) != 0)
        return ik_error_set(err, ENAMETOOLONG, "%s: path too long", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)value);
    /* A new file, never one found there: a stale one (a crash between open and rename) is
     * removed, and a link planted in its place is removed rather than followed. */
    fd = ik__open_nofollow(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600, err);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = ik__open_nofollow(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600, err);
    if (fd < 0)
        return errno;
    if (write(fd, text, (size_t)n) != n)
        rc = ik_error_set(err, errno ? errno : EIO, "%s: write failed", tmp);
    close(fd);
    /* no fsync: losing the mark only makes the next start rebuild */
    if (rc == 0 && rename(tmp, path) != 0)
        rc = ik_error_set(err, errno, "%s: rename: %s", path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

bool ik__mark_read(const char *dir, const char *prefix, const char *table, uint64_t *value)
{
    char path[4200], text[32];
    ssize_t n;
    uint64_t v = 0;
    int fd, i;
    if (mark_path(dir, prefix, table, path, sizeof path) != 0 ||
        (fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, NULL)) < 0)
        return false;
    n = read(fd, text, sizeof text - 1);
    close(fd);
    for (i = 0; i < n && text[i] >= '0' && text[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(text[i] - '0');
    *value = v;
    return true;
}

/* dir/snapshots-synced.<table>: the newest version of `table` known durable (written only
 * after that file and its directory were fsynced). */
static int mark_synced(const char *dir, const char *table, uint64_t version, struct ik_error *err)
{
    return ik__mark_write(dir, "snapshots-synced", table, version, err);
}

/* The version in the table's synced mark; false when there is none (every snapshot under
 * snapshots/ was then fsynced before it got its name). */
static bool read_synced(const char *dir, const char *table, uint64_t *version)
{
    return ik__mark_read(dir, "snapshots-synced", table, version);
}

/* <sdir>/<table>.<version>.arrow into out; -1 when it does not fit. */
static int version_path(const char *sdir, const char *table, uint64_t version, char *out,
                        size_t cap)
{
    return (size_t)snprintf(out, cap, "%s/%s.%llu.arrow", sdir, table,
                            (unsigned long long)version) >= cap
               ? -1
               : 0;
}

/* The path just written (or found already there) into the caller's path_out. */
static int give_path(const char *path, char *path_out, size_t path_cap, struct ik_error *err)
{
    if (path_out && (size_t)snprintf(path_out, path_cap, "%s", path) >= path_cap)
        return ik_error_set(err, ENAMETOOLONG, "%s: longer than the caller's buffer", path);
    return 0;
}

static int write_named(const char *dir, const char *table, uint64_t version,
                       const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       char *path_out, size_t path_cap, bool sync, struct ik_error *err)
{
    char sdir[4096], path[4096], tmp[4200];
    int rc, fd;
    if ((rc = check_table_name(table, err)) != 0 || (rc = snap_dir(dir, sdir, sizeof sdir, err)))
        return rc;
    if (version_path(sdir, table, version, path, sizeof path) != 0)
        return ik_error_set(err, ENAMETOOLONG, "%s: path too long", sdir);
    if (mkdir(sdir, 0700) != 0 && errno != EEXIST)
        return ik_error_set(err, errno, "%s: %s", sdir, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return ik_error_set(err, errno, "%s: %s", tmp, strerror(errno));
    if (fchmod(fd, 0400) != 0) {
        rc = ik_error_set(err, errno, "%s: chmod: %s", tmp, strerror(errno));
        goto fail;
    }
    if ((rc = ik_snapshot_write_fd(fd, table, version, schema, batch, err)) != 0) {
        ik_error_prefix(err, rc, "%s", path);
        goto fail;
    }
    if (sync && fsync(fd) != 0) {
        rc = ik_error_set(err, errno, "%s: fsync: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = ik_error_set(err, errno, "%s: close: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    ik__stop_point("publish");
    /* link() never replaces: a published version is immutable. */
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = ik_error_set(err, EEXIST, "%s: snapshot version %llu already exists", path,
                              (unsigned long long)version);
            (void)give_path(path, path_out, path_cap, NULL);
            goto fail;
        }
        if (rename(tmp, path) != 0) { /* a file system without hard links */
            rc = ik_error_set(err, errno, "%s: rename: %s", path, strerror(errno));
            goto fail;
        }
    } else {
        unlink(tmp);
    }
    if (sync && ((rc = fsync_dir(sdir, err)) != 0 || (rc = mark_synced(dir, table, version, err))))
        return rc;
    return give_path(path, path_out, path_cap, err);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

int ik_snapshot_write(const char *dir, const char *table, uint64_t version,
                      const struct ArrowSchema *schema, const struct ArrowArray *batch,
                      char *path_out, size_t path_cap, struct ik_error *err)
{
    return write_named(dir, table, version, schema, batch, path_out, path_cap, true, err);
}

int ik_snapshot_write_unsynced(const char *dir, const char *table, uint64_t version,
                               const struct ArrowSchema *schema, const struct ArrowArray *batch,
                               char *path_out, size_t path_cap, struct ik_error *err)
{
    return write_named(dir, table, version, schema, batch, path_out, path_cap, false, err);
}

int ik_snapshot_sync(const char *dir, const char *table, uint64_t version, struct ik_error *err)
{
    char sdir[4096], path[4200];
    int rc, fd;
    if ((rc = check_table_name(table, err)) != 0 || (rc = snap_dir(dir, sdir, sizeof sdir, err)))
        return rc;
    if (version_path(sdir, table, version, path, sizeof path) != 0)
        return ik_error_set(err, ENAMETOOLONG, "%s: path too long", sdir);
    if ((fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, err)) < 0)
        return errno;
    if (fsync(fd) != 0)
        rc = ik_error_set(err, errno, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    if (rc == 0 && (rc = fsync_dir(sdir, err)) == 0)
        rc = mark_synced(dir, table, version, err);
    return rc;
}

/* ---- discovery ------------------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

int ik__list_numbered(const char *sdir, const char *table, const char *suffix, uint64_t **out,
                      size_t *n, struct ik_error *err)
{
    DIR *d = opendir(sdir);
    struct dirent *e;
    uint64_t *v = NULL, ver;
    size_t cap = 0;
    *n = 0;
    *out = NULL;
    if (d == NULL)
        return ik_error_set(err, errno, "%s: %s", sdir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        if (!ik__parse_numbered(e->d_name, table, suffix, &ver))
            continue;
        if (*n == cap) {
            uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
            if (nv == NULL) {
                free(v);
                closedir(d);
                return ik_error_set(err, ENOMEM, "out of memory");
            }
            v = nv;
        }
        v[(*n)++] = ver;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_desc);
    *out = v;
    return 0;
}

/* The versions of `table` under dir/snapshots (malloc'd, sorted newest first). */
static int list_versions(const char *sdir, const char *table, uint64_t **out, size_t *n,
                         struct ik_error *err)
{
    return ik__list_numbered(sdir, table, ".arrow", out, n, err);
}

int ik_snapshot_latest(const char *dir, const char *table, char *path_out, size_t path_cap,
                       uint64_t *version_out, struct ik_error *err)
{
    char sdir[4096], path[4200];
    uint64_t *v = NULL, synced = 0;
    size_t n = 0, i;
    int rc;
    bool marked;
    if ((rc = check_table_name(table, err)) != 0 || (rc = snap_dir(dir, sdir, sizeof sdir, err)))
        return rc;
    marked = read_synced(dir, table, &synced);
    if ((rc = list_versions(sdir, table, &v, &n, err)) != 0)
        return rc == ENOENT ? ik_error_set(err, ENOENT, "no snapshot of '%s' under %s", table, dir)
                            : rc;
    for (i = 0; i < n; i++) {
        struct ik_snapshot *s;
        if (marked && v[i] > synced)
            continue; /* named before its fsync, which a crash may have cut short */
        if (version_path(sdir, table, v[i], path, sizeof path) != 0)
            continue;
        if (ik_snapshot_open_path(path, 0, &s, NULL) != 0)
            continue; /* truncated, corrupt or unreadable: try an older one */
        ik_snapshot_close(s);
        if (version_out)
            *version_out = v[i];
        free(v);
        return give_path(path, path_out, path_cap, err);
    }
    free(v);
    return ik_error_set(err, ENOENT, "no complete snapshot of '%s' under %s", table, sdir);
}

/* Whether two schemas have the same fields: names, types, nullability, dictionaries. */
static bool same_fields(const struct ArrowSchema *a, const struct ArrowSchema *b)
{
    int64_t i;
    if (strcmp(a->format, b->format) != 0 || a->n_children != b->n_children ||
        (a->flags & ARROW_FLAG_NULLABLE) != (b->flags & ARROW_FLAG_NULLABLE) ||
        (a->name == NULL) != (b->name == NULL) || (a->name && strcmp(a->name, b->name) != 0) ||
        (a->dictionary == NULL) != (b->dictionary == NULL) ||
        (a->dictionary && !same_fields(a->dictionary, b->dictionary)))
        return false;
    for (i = 0; i < a->n_children; i++)
        if (!same_fields(a->children[i], b->children[i]))
            return false;
    return true;
}

/* A snapshot names its table and version in its metadata and has that table's columns. */
static int check_identity(const struct ik_snapshot *s, const char *table, uint64_t version,
                          struct ik_error *err)
{
    const struct ArrowSchema *schema = ik_snapshot_schema(s);
    struct ArrowSchema want = {0};
    char vbuf[24];
    int32_t tl = -1, vl = -1;
    const char *t = ik_metadata_get(schema->metadata, KEY_TABLE, &tl);
    const char *v = ik_metadata_get(schema->metadata, KEY_VERSION, &vl);
    int rc = 0;
    snprintf(vbuf, sizeof vbuf, "%llu", (unsigned long long)version);
    if (t == NULL || (size_t)tl != strlen(table) || memcmp(t, table, (size_t)tl) != 0)
        return ik_error_set(err, IK_EINVALID, "metadata %s is '%.*s', not '%s'", KEY_TABLE,
                            t ? (int)tl : 0, t ? t : "", table);
    if (v == NULL || (size_t)vl != strlen(vbuf) || memcmp(v, vbuf, (size_t)vl) != 0)
        return ik_error_set(err, IK_EINVALID, "metadata %s is '%.*s', not %s (its file name)",
                            KEY_VERSION, v ? (int)(vl < 32 ? vl : 32) : 0, v ? v : "", vbuf);
    if (ik_table_schema(table, &want, NULL) != 0)
        return 0; /* a table we do not define (tests): nothing more to compare */
    if (!same_fields(schema, &want))
        rc = ik_error_set(err, IK_EINVALID, "its columns are not those of table '%s'", table);
    want.release(&want);
    return rc;
}

int ik_snapshot_open_version(const char *dir, const char *table, uint64_t version, int validate,
                             struct ik_snapshot **out, int *fd_out, struct ik_error *err)
{
    char sdir[4096], path[4200];
    uint64_t synced = 0;
    int rc, fd;
    *out = NULL;
    if (fd_out != NULL)
        *fd_out = -1;
    if ((rc = check_table_name(table, err)) != 0 || (rc = snap_dir(dir, sdir, sizeof sdir, err)))
        return rc;
    if (version_path(sdir, table, version, path, sizeof path) != 0)
        return ik_error_set(err, ENAMETOOLONG, "%s: path too long", sdir);
    if (read_synced(dir, table, &synced) && version > synced)
        return ik_error_set(err, ENOENT,
                            "%s: newer than the last version marked durable (%llu): a crash may "
                            "have torn it",
                            path, (unsigned long long)synced);
    if ((fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, err)) < 0)
        return errno;
    rc = ik_snapshot_open_fd(fd, validate, out, err);
    if (rc == 0 && (rc = check_identity(*out, table, version, err)) != 0) {
        ik_snapshot_close(*out);
        *out = NULL;
    }
    if (rc != 0) {
        close(fd);
        return ik_error_prefix(err, rc, "%s", path);
    }
    if (fd_out != NULL)
        *fd_out = fd;
    else
        close(fd);
    return 0;
}

int ik_snapshot_discard(const char *dir, const char *table, uint64_t version, struct ik_error *err)
{
    char sdir[4096], path[4200];
    int rc;
    if ((rc = check_table_name(table, err)) != 0 || (rc = snap_dir(dir, sdir, sizeof sdir, err)))
        return rc;
    if (version_path(sdir, table, version, path, sizeof path) != 0)
        return ik_error_set(err, ENAMETOOLONG, "%s: path too long", sdir);
    if (unlink(path) != 0 && errno != ENOENT)
        return ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    return 0;
}

int ik_snapshot_prune(const char *dir, const char *table, uint64_t keep_version,
                      struct ik_error *err)
{
    char sdir[4096], path[4400];
    DIR *d;
    struct dirent *e;
    int rc = 0;
    if ((rc = check_table_name(table, err)) != 0 || (rc = snap_dir(dir, sdir, sizeof sdir, err)))
        return rc;
    if ((d = opendir(sdir)) == NULL)
        return errno == ENOENT ? 0 : ik_error_set(err, errno, "%s: %s", sdir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        uint64_t ver;
        char name[256];
        const char *tmp = strstr(e->d_name, ".arrow.tmp.");
        /* A temp file left by a crashed writer counts as its version; one of the kept
         * version itself is dead too (the kept file is complete), and would otherwise stay
         * forever, a partial file beside the snapshots. */
        snprintf(name, sizeof name, "%.*s", tmp ? (int)(tmp - e->d_name + 6) : 255, e->d_name);
        if (!parse_name(name, table, &ver) || ver > keep_version || (ver == keep_version && !tmp))
            continue;
        snprintf(path, sizeof path, "%s/%s", sdir, e->d_name);
        if (unlink(path) != 0 && errno != ENOENT && rc == 0)
            rc = ik_error_set(err, errno, "%s: %s", path, strerror(errno));
    }
    closedir(d);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------- */

/* Rows validated at a time (IPFS_KIT_VALIDATE_CHUNK for tests). */
static int64_t validate_chunk(void)
{
    const char *v = getenv("IPFS_KIT_VALIDATE_CHUNK");
    long long n = v ? atoll(v) : 0;
    return n > 0 ? (int64_t)n : (int64_t)1 << 18;
}

/* Drops the pages of the file's mapping from the caller's memory: a read-only MAP_SHARED
 * mapping (ik_buffer_map_fd), so a page dropped is read again from the page cache when touched
 * next; buffers copied out of it (compressed, misaligned) are not in that range. */
static void drop_mapping(const struct ik_buffer *buf)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)ik_buffer_data(buf), b = a + ik_buffer_size(buf);
    if (page <= 0)
        return;
    a = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    b &= ~((uintptr_t)page - 1);
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* The release of a window's view: never called (the view owns nothing), but a column checked
 * as a root array must have one, and a decoded batch's children may have none of their own. */
static void view_release(struct ArrowArray *a)
{
    a->release = NULL;
}

/* Whether every column is flat (no child arrays): those are validated window by window. */
static bool flat_columns(const struct ArrowArray *batch)
{
    for (int64_t i = 0; i < batch->n_children; i++)
        if (batch->children[i]->n_children != 0)
            return false;
    return true;
}

/* IK_VALIDATE_FULL of the batch (already checked for structure), validate_chunk() rows at a
 * time, the pages read dropped after each window: validating a 10M-pin base (1.8 GB) at the
 * daemon's start made every page of it resident, and the daemon's peak RSS (VmHWM) 1.4 GB;
 * now it grows by a window's pages. Each window checks what a full validation checks of those
 * rows (offsets, UTF-8, dictionary indices...; windows share their boundary offset), and the
 * null counts are summed over the windows against each column's. Columns with children are
 * validated whole, as before. */
static int validate_full(struct ik_snapshot *s, struct ik_error *err)
{
    const struct ArrowSchema *schema = ik_ipc_file_schema(s->file);
    const struct ArrowArray *b = &s->batch;
    int64_t chunk = validate_chunk(), start, i;
    int64_t *nulls = NULL;
    int rc = 0;
    if (!flat_columns(b) || b->length <= chunk) {
        rc = ik_array_validate(schema, b, IK_VALIDATE_FULL, true, err);
        drop_mapping(s->buf);
        return rc;
    }
    if ((nulls = calloc((size_t)b->n_children + 1, sizeof *nulls)) == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    for (start = 0; rc == 0 && start < b->length; start += chunk) {
        int64_t len = b->length - start < chunk ? b->length - start : chunk;
        for (i = 0; rc == 0 && i < b->n_children; i++) {
            const struct ArrowArray *c = b->children[i];
            struct ArrowArray w = *c; /* a view, never released */
            w.offset = c->offset + b->offset + start;
            w.length = len;
            w.null_count = -1; /* counted here, compared below */
            if (w.release == NULL)
                w.release = view_release;
            if (c->buffers && c->n_buffers > 0 && c->buffers[0] != NULL)
                nulls[i] += len - ik__bits_count(c->buffers[0], w.offset, len);
            rc = ik_array_validate(schema->children[i], &w, IK_VALIDATE_FULL, true, err);
            if (rc != 0) /* its field path starts at the column: say which, and which rows */
                ik_error_prefix(err, rc, "column '%s', rows %lld to %lld",
                                schema->children[i]->name ? schema->children[i]->name : "?",
                                (long long)start, (long long)(start + len - 1));
        }
        drop_mapping(s->buf);
    }
    for (i = 0; rc == 0 && i < b->n_children; i++) {
        const struct ArrowArray *c = b->children[i];
        if (c->null_count >= 0 && c->null_count != nulls[i] &&
            (c->buffers[0] != NULL || c->null_count != 0))
            rc = ik_error_set(err, IK_EINVALID, "%s: null count %lld, the bitmap has %lld nulls",
                              schema->children[i]->name ? schema->children[i]->name : "?",
                              (long long)c->null_count, (long long)nulls[i]);
    }
    free(nulls);
    return rc;
}

int ik_snapshot_open_fd(int fd, int validate, struct ik_snapshot **out, struct ik_error *err)
{
    struct ik_snapshot *s = calloc(1, sizeof *s);
    struct ik_read_options o;
    const char *v;
    int32_t vlen = 0, i;
    int rc;
    *out = NULL;
    if (s == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    atomic_init(&s->refs, 1);
    if ((rc = ik_buffer_map_fd(fd, &s->buf, err)) != 0)
        goto fail;
    ik_read_options_init(&o); /* structure here; the values below, a window at a time */
    if ((rc = ik_ipc_file_open(s->buf, &o, &s->file, err)) != 0)
        goto fail;
    if (ik_ipc_file_num_batches(s->file) != 1) {
        rc = ik_error_set(err, IK_EFORMAT, "a snapshot holds one record batch, this file %lld",
                          (long long)ik_ipc_file_num_batches(s->file));
        goto fail;
    }
    if ((rc = ik_ipc_file_read_batch(s->file, 0, &s->batch, err)) != 0)
        goto fail;
    if (validate && (rc = validate_full(s, err)) != 0)
        goto fail;
    v = ik_metadata_get(ik_ipc_file_schema(s->file)->metadata, KEY_VERSION, &vlen);
    for (i = 0; v && i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
        s->version = s->version * 10 + (uint64_t)(v[i] - '0');
    *out = s;
    return 0;
fail:
    ik_snapshot_close(s);
    return rc;
}

int ik_snapshot_open_path(const char *path, int validate, struct ik_snapshot **out,
                          struct ik_error *err)
{
    int rc, fd = ik__open_nofollow(AT_FDCWD, path, O_RDONLY, 0, err);
    *out = NULL;
    if (fd < 0)
        return errno;
    rc = ik_snapshot_open_fd(fd, validate, out, err);
    close(fd);
    if (rc != 0)
        ik_error_prefix(err, rc, "%s", path);
    return rc;
}

const struct ArrowSchema *ik_snapshot_schema(const struct ik_snapshot *s)
{
    return ik_ipc_file_schema(s->file);
}

uint64_t ik_snapshot_version(const struct ik_snapshot *s)
{
    return s->version;
}

int64_t ik_snapshot_rows(const struct ik_snapshot *s)
{
    return s->batch.length;
}

const uint8_t *ik_snapshot_data(const struct ik_snapshot *s, size_t *size)
{
    if (size)
        *size = ik_buffer_size(s->buf);
    return ik_buffer_data(s->buf);
}

const struct ArrowArray *ik__snapshot_batch(const struct ik_snapshot *s)
{
    return &s->batch;
}

void *ik__snapshot_views(const struct ik_snapshot *s)
{
    return atomic_load_explicit(&((struct ik_snapshot *)s)->views, memory_order_acquire);
}

void *ik__snapshot_set_views(const struct ik_snapshot *s, void *views)
{
    void *none = NULL;
    if (atomic_compare_exchange_strong_explicit(&((struct ik_snapshot *)s)->views, &none, views,
                                                memory_order_acq_rel, memory_order_acquire))
        return views;
    free(views); /* another thread's came first: the same content */
    return none;
}

void ik_snapshot_ref(struct ik_snapshot *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void ik_snapshot_close(struct ik_snapshot *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) > 1)
        return;
    if (s->batch.release)
        s->batch.release(&s->batch);
    free(atomic_load(&s->views));
    ik_ipc_file_destroy(s->file);
    ik_buffer_unref(s->buf);
    free(s);
}

/* ---- the one-batch result stream ------------------------------------------------------- */

struct result {
    struct ik_snapshot *snap;  /* unprojected: the schema is the snapshot's, copied on request */
    struct ArrowSchema schema; /* otherwise owned: the projection's, or ik_batch_stream's */
    struct ArrowArray batch;   /* moved out by the first get_next */
    char error[IK_ERROR_SIZE];
};

static int result_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    struct result *r = st->private_data;
    struct ik_error err;
    int rc = ik_schema_copy(r->snap ? ik_snapshot_schema(r->snap) : &r->schema, out, &err);
    if (rc != 0)
        snprintf(r->error, sizeof r->error, "%s", err.message);
    return rc;
}

static int result_get_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    struct result *r = st->private_data;
    if (r->batch.release)
        ik_array_move(&r->batch, out);
    else
        memset(out, 0, sizeof *out); /* end of stream */
    return 0;
}

static const char *result_last_error(struct ArrowArrayStream *st)
{
    struct result *r = st->private_data;
    return r->error[0] ? r->error : NULL;
}

static void result_release(struct ArrowArrayStream *st)
{
    struct result *r;
    if (st == NULL || st->release == NULL)
        return;
    r = st->private_data;
    if (r->schema.release)
        r->schema.release(&r->schema);
    if (r->batch.release)
        r->batch.release(&r->batch);
    ik_snapshot_close(r->snap);
    free(r);
    st->release = NULL;
}

static void result_stream(struct result *r, struct ArrowArrayStream *out)
{
    out->get_schema = result_get_schema;
    out->get_next = result_get_next;
    out->get_last_error = result_last_error;
    out->release = result_release;
    out->private_data = r;
}

int ik_batch_stream(struct ArrowSchema *schema, struct ArrowArray *batch,
                    struct ArrowArrayStream *out, struct ik_error *err)
{
    struct result *r = calloc(1, sizeof *r);
    out->release = NULL;
    if (r == NULL) {
        schema->release(schema);
        batch->release(batch);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    ik_schema_move(schema, &r->schema);
    ik_array_move(batch, &r->batch);
    result_stream(r, out);
    return 0;
}

int ik_snapshot_query(struct ik_snapshot *s, const struct ik_query *q, struct ArrowArrayStream *out,
                      int64_t *matched, struct ik_error *err)
{
    const struct ArrowSchema *schema = ik_snapshot_schema(s);
    struct result *r;
    int32_t tl = 0;
    const char *table = ik_metadata_get(schema->metadata, KEY_TABLE, &tl);
    int rc;
    out->release = NULL;
    if (table && q->table[0] &&
        (strlen(q->table) != (size_t)tl || memcmp(q->table, table, (size_t)tl) != 0))
        return ik_error_set(err, EINVAL, "query for table '%s' on a snapshot of '%.*s'", q->table,
                            (int)tl, table);
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return ik_error_set(err, ENOMEM, "out of memory");
    /* Without a projection the result's schema is the snapshot's: it is copied only when the
     * consumer asks for it, and the snapshot stays alive (refcount) while the result does. */
    rc = ik_query_apply(q, schema, &s->batch, q->n_columns ? &r->schema : NULL, &r->batch, matched,
                        err);
    if (rc != 0) {
        free(r);
        return rc;
    }
    if (q->n_columns == 0) {
        atomic_fetch_add(&s->refs, 1);
        r->snap = s;
    }
    result_stream(r, out);
    return 0;
}
