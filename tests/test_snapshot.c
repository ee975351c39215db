/* Tests of snapshots: write/open round trip with metadata and mode, unfiltered query results
 * pointing into the mapping (zero copy) and outliving ik_snapshot_close and unlink, filtered
 * queries, latest() skipping temp, truncated and corrupt files, prune, refusing to replace a
 * version, write errors (full disk, file size limit, closed pipe) naming the file, and opening
 * exactly one version with its metadata checked; a snapshot written in 2 MiB-aligned writes
 * (so the page cache can hold it in huge folios) that reads back equal. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ik_test.h"
#include "ipfskit/snapshot.h"
#include "batch_eq.h"
#include "query_fixture.h"
#include "snapshot/segset_internal.h"

static void test_dir(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", ik_test_tmpdir(), name);
    mkdir(out, 0700);
}

static int write_mixed(const char *dir, uint64_t version, char *path, size_t cap,
                       struct ik_error *err)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    int rc;
    fx_mixed(true, &s, &b);
    rc = ik_snapshot_write(dir, "mixed", version, &s, &b, path, cap, err);
    b.release(&b);
    s.release(&s);
    return rc;
}

static bool inside(const void *p, const uint8_t *data, size_t size)
{
    const uint8_t *q = p;
    return p == NULL || (q >= data && q < data + size);
}

static bool all_inside(const struct ArrowArray *a, const uint8_t *data, size_t size)
{
    int64_t i;
    for (i = 0; i < a->n_buffers; i++)
        if (!inside(a->buffers[i], data, size))
            return false;
    for (i = 0; i < a->n_children; i++)
        if (!all_inside(a->children[i], data, size))
            return false;
    return a->dictionary == NULL || all_inside(a->dictionary, data, size);
}

TEST(test_snapshot_round_trip_with_metadata_and_mode)
{
    char dir[512], path[1024], want[1100];
    struct ArrowSchema rs;
    struct ArrowArray rb, batch;
    struct ArrowArrayStream st;
    struct ArrowSchema qs;
    struct ik_snapshot *snap;
    struct ik_query q;
    struct ik_error err;
    struct stat sb;
    char **ref, **got;
    int64_t nref, ngot, i;
    int32_t len;
    const char *v;
    test_dir("roundtrip", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 3, path, sizeof path, &err), &err);
    snprintf(want, sizeof want, "%s/snapshots/mixed.3.arrow", dir);
    ASSERT_STR_EQ(path, want);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0400);
    snprintf(want, sizeof want, "%s/snapshots", dir);
    ASSERT_EQ(stat(want, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0700);

    ASSERT_OK(ik_snapshot_open_path(path, 1, &snap, &err), &err);
    ASSERT_EQ(ik_snapshot_version(snap), 3);
    ASSERT_EQ(ik_snapshot_rows(snap), MIX_ROWS);
    v = ik_metadata_get(ik_snapshot_schema(snap)->metadata, "ipfs_kit.table", &len);
    ASSERT_TRUE(v && len == 5 && memcmp(v, "mixed", 5) == 0);
    v = ik_metadata_get(ik_snapshot_schema(snap)->metadata, "ipfs_kit.snapshot_version", &len);
    ASSERT_TRUE(v && len == 1 && v[0] == '3');
    v = ik_metadata_get(ik_snapshot_schema(snap)->metadata, "ipfs_kit.created_at", &len);
    ASSERT_TRUE(v != NULL);
    ASSERT_EQ(len, 27); /* 2024-01-02T03:04:05.123456Z */
    ASSERT_TRUE(v[4] == '-' && v[10] == 'T' && v[19] == '.' && v[26] == 'Z');

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_snapshot_query(snap, &q, &st, NULL, &err), &err);
    ASSERT_EQ(st.get_schema(&st, &qs), 0);
    ASSERT_EQ(st.get_next(&st, &batch), 0);
    fx_mixed(false, &rs, &rb);
    ASSERT_OK(fx_render(&rs, &rb, &ref, &nref), &err);
    ASSERT_OK(fx_render(&qs, &batch, &got, &ngot), &err);
    ASSERT_EQ(ngot, nref);
    for (i = 0; i < nref; i++)
        ASSERT_STR_EQ(got[i], ref[i]);
    fx_free_lines(ref, nref);
    fx_free_lines(got, ngot);
    batch.release(&batch);
    ASSERT_EQ(st.get_next(&st, &batch), 0);
    ASSERT_TRUE(batch.release == NULL); /* end of stream */
    st.release(&st);
    qs.release(&qs);
    rb.release(&rb);
    rs.release(&rs);
    ik_snapshot_close(snap);
    ik_query_reset(&q);
}

TEST(test_snapshot_unfiltered_query_is_zero_copy_and_outlives_close_and_unlink)
{
    char dir[512], path[1024];
    struct ArrowArrayStream st;
    struct ArrowSchema qs;
    struct ArrowArray batch;
    struct ik_snapshot *snap;
    struct ik_query q;
    struct ik_error err;
    const uint8_t *data;
    size_t size;
    int64_t live = ik_buffer_live_count(), matched = 0;
    test_dir("zerocopy", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 1, path, sizeof path, &err), &err);
    ASSERT_OK(ik_snapshot_open_path(path, 0, &snap, &err), &err);
    data = ik_snapshot_data(snap, &size);
    ASSERT_TRUE(size > 0);

    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_add_column(&q, "U", &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "d", &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "b", &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "s", &err), &err);
    q.offset = 2;
    q.limit = 5;
    ASSERT_OK(ik_snapshot_query(snap, &q, &st, &matched, &err), &err);
    ASSERT_EQ(matched, MIX_ROWS);
    ASSERT_EQ(st.get_next(&st, &batch), 0);
    ASSERT_EQ(batch.length, 5);
    ASSERT_TRUE(all_inside(&batch, data, size));
    ASSERT_TRUE(batch.children[0]->buffers[1] != NULL);

    /* close the snapshot and unlink the file: the batch still reads the mapping */
    ik_snapshot_close(snap);
    ASSERT_EQ(unlink(path), 0);
    ASSERT_EQ(st.get_schema(&st, &qs), 0);
    st.release(&st); /* the stream may go before the batch it handed out */
    ASSERT_OK(ik_array_validate(&qs, &batch, IK_VALIDATE_FULL, true, &err), &err);
    {
        char **got;
        int64_t n;
        ASSERT_OK(fx_render(&qs, &batch, &got, &n), &err);
        ASSERT_EQ(n, 5);
        ASSERT_STR_EQ(got[0], "{\"U\":null,\"d\":\"indirect\",\"b\":null,\"s\":null}");
        ASSERT_STR_EQ(got[1], "{\"U\":\"pq\",\"d\":\"recursive\",\"b\":true,\"s\":\"/x/y\"}");
        fx_free_lines(got, n);
    }
    ASSERT_TRUE(ik_buffer_live_count() > live);
    batch.release(&batch);
    qs.release(&qs);
    ASSERT_EQ(ik_buffer_live_count(), live); /* the last release unmapped */
    ik_query_reset(&q);
}

TEST(test_snapshot_filtered_query_materialises_rows)
{
    char dir[512], path[1024];
    struct ArrowArrayStream st;
    struct ArrowSchema qs;
    struct ArrowArray batch;
    struct ik_snapshot *snap;
    struct ik_query q;
    struct ik_error err;
    const uint8_t *data;
    size_t size;
    int64_t matched = 0;
    test_dir("filtered", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 1, path, sizeof path, &err), &err);
    ASSERT_OK(ik_snapshot_open_path(path, 1, &snap, &err), &err);
    data = ik_snapshot_data(snap, &size);
    ik_query_init(&q, "mixed");
    ASSERT_OK(ik_query_add_column(&q, "id", &err), &err);
    ASSERT_OK(ik_query_add_column(&q, "d", &err), &err);
    ASSERT_OK(ik_query_filter_str(&q, "d", IK_OP_EQ, "direct", &err), &err);
    ASSERT_OK(ik_snapshot_query(snap, &q, &st, &matched, &err), &err);
    ik_snapshot_close(snap);
    ASSERT_EQ(matched, 2);
    ASSERT_EQ(st.get_schema(&st, &qs), 0);
    ASSERT_EQ(st.get_next(&st, &batch), 0);
    ASSERT_OK(ik_array_validate(&qs, &batch, IK_VALIDATE_FULL, true, &err), &err);
    ASSERT_EQ(batch.length, 2);
    ASSERT_EQ(((const int32_t *)batch.children[0]->buffers[1])[0], 1);
    ASSERT_EQ(((const int32_t *)batch.children[0]->buffers[1])[1], 5);
    ASSERT_TRUE(!inside(batch.children[0]->buffers[1], data, size)); /* gathered */
    batch.release(&batch);
    qs.release(&qs);
    st.release(&st);
    ik_query_reset(&q);
}

TEST(test_snapshot_query_for_another_table_is_refused)
{
    char dir[512], path[1024];
    struct ArrowArrayStream st;
    struct ik_snapshot *snap;
    struct ik_query q;
    struct ik_error err;
    test_dir("othertable", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 1, path, sizeof path, &err), &err);
    ASSERT_OK(ik_snapshot_open_path(path, 0, &snap, &err), &err);
    ik_query_init(&q, "pin_index");
    ASSERT_FAILS(ik_snapshot_query(snap, &q, &st, NULL, &err), EINVAL, &err, "pin_index");
    ASSERT_TRUE(st.release == NULL);
    ik_snapshot_close(snap);
    ik_query_reset(&q);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (n && write(fd, data, n) != (ssize_t)n)
            perror(path);
        close(fd);
    }
}

TEST(test_snapshot_latest_skips_temp_truncated_and_corrupt_files)
{
    char dir[512], path[1024], p2[1024], other[1100], found[1100];
    struct ik_buffer *buf;
    struct ik_error err;
    uint64_t version = 0;
    test_dir("latest", dir, sizeof dir);
    ASSERT_FAILS(ik_snapshot_latest(dir, "mixed", found, sizeof found, &version, &err), ENOENT,
                 &err, "mixed");
    ASSERT_OK(write_mixed(dir, 1, path, sizeof path, &err), &err);
    ASSERT_OK(write_mixed(dir, 2, p2, sizeof p2, &err), &err);
    ASSERT_OK(ik_buffer_map_file(p2, &buf, &err), &err);
    snprintf(other, sizeof other, "%s/snapshots/mixed.7.arrow", dir); /* truncated */
    write_bytes(other, ik_buffer_data(buf), ik_buffer_size(buf) / 2);
    snprintf(other, sizeof other, "%s/snapshots/mixed.8.arrow", dir); /* corrupt footer */
    write_bytes(other, ik_buffer_data(buf), ik_buffer_size(buf) - 12);
    snprintf(other, sizeof other, "%s/snapshots/mixed.9.arrow.tmp.abcdef", dir); /* temp */
    write_bytes(other, ik_buffer_data(buf), ik_buffer_size(buf));
    snprintf(other, sizeof other, "%s/snapshots/mixed.10.arrow", dir); /* empty */
    write_bytes(other, "", 0);
    snprintf(other, sizeof other, "%s/snapshots/mixedx.11.arrow", dir); /* another table */
    write_bytes(other, ik_buffer_data(buf), ik_buffer_size(buf));
    snprintf(other, sizeof other, "%s/snapshots/mixed.12.arrow.bak", dir);
    write_bytes(other, ik_buffer_data(buf), ik_buffer_size(buf));
    ik_buffer_unref(buf);
    ASSERT_OK(ik_snapshot_latest(dir, "mixed", found, sizeof found, &version, &err), &err);
    ASSERT_EQ(version, 2);
    ASSERT_STR_EQ(found, p2);
    ASSERT_FAILS(ik_snapshot_latest(dir, "pin_index", found, sizeof found, &version, &err), ENOENT,
                 &err, "pin_index");
    ASSERT_FAILS(ik_snapshot_latest(dir, "../x", found, sizeof found, &version, &err), EINVAL, &err,
                 "table name");
}

TEST(test_snapshot_prune_unlinks_older_versions_readers_keep_working)
{
    char dir[512], p1[1024], p3[1024], other[1100], found[1100];
    struct ik_snapshot *old;
    struct ik_error err;
    struct stat sb;
    uint64_t version;
    test_dir("prune", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 1, p1, sizeof p1, &err), &err);
    ASSERT_OK(write_mixed(dir, 2, other, sizeof other, &err), &err);
    ASSERT_OK(write_mixed(dir, 3, p3, sizeof p3, &err), &err);
    snprintf(other, sizeof other, "%s/snapshots/mixed.1.arrow.tmp.XYZ123", dir);
    write_bytes(other, "x", 1);
    snprintf(other, sizeof other, "%s/snapshots/mixed.3.arrow.tmp.CRASH1", dir);
    write_bytes(other, "x", 1); /* a crashed write of the kept version */
    snprintf(other, sizeof other, "%s/snapshots/mixed.4.arrow.tmp.NEWER1", dir);
    write_bytes(other, "x", 1); /* newer than the kept one: not ours to judge */
    snprintf(other, sizeof other, "%s/snapshots/keep.1.arrow", dir);
    write_bytes(other, "x", 1);
    ASSERT_OK(ik_snapshot_open_path(p1, 0, &old, &err), &err);
    ASSERT_OK(ik_snapshot_prune(dir, "mixed", 3, &err), &err);
    ASSERT_TRUE(stat(p1, &sb) != 0);
    ASSERT_EQ(stat(p3, &sb), 0);
    ASSERT_EQ(stat(other, &sb), 0); /* another table's file */
    snprintf(other, sizeof other, "%s/snapshots/mixed.1.arrow.tmp.XYZ123", dir);
    ASSERT_TRUE(stat(other, &sb) != 0);
    snprintf(other, sizeof other, "%s/snapshots/mixed.3.arrow.tmp.CRASH1", dir);
    ASSERT_TRUE(stat(other, &sb) != 0);
    snprintf(other, sizeof other, "%s/snapshots/mixed.4.arrow.tmp.NEWER1", dir);
    ASSERT_EQ(stat(other, &sb), 0);
    ASSERT_OK(ik_snapshot_latest(dir, "mixed", found, sizeof found, &version, &err), &err);
    ASSERT_EQ(version, 3);
    ASSERT_EQ(ik_snapshot_rows(old), MIX_ROWS); /* still mapped */
    ik_snapshot_close(old);
}

TEST(test_snapshot_write_refuses_to_replace_a_version)
{
    char dir[512], path[1024], again[1024] = "";
    struct ik_error err;
    test_dir("replace", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 5, path, sizeof path, &err), &err);
    ASSERT_FAILS(write_mixed(dir, 5, again, sizeof again, &err), EEXIST, &err, "mixed.5.arrow");
    ASSERT_STR_EQ(again, path); /* the existing file is named for the caller to use */
}

TEST(test_snapshot_write_fd_to_a_full_disk_is_enospc)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_error err;
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        return; /* no /dev/full here */
    fx_mixed(false, &s, &b);
    ASSERT_FAILS(ik_snapshot_write_fd(fd, "mixed", 1, &s, &b, &err), ENOSPC, &err, "write");
    close(fd);
    b.release(&b);
    s.release(&s);
}

TEST(test_snapshot_write_error_names_the_file_and_leaves_nothing)
{
    char dir[512], path[1024], sdir[600];
    struct ik_error err;
    struct rlimit old, small;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    int rc;
    test_dir("fsize", dir, sizeof dir);
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 1024; /* the file system is "full" after 1 KiB */
    setrlimit(RLIMIT_FSIZE, &small);
    rc = write_mixed(dir, 1, path, sizeof path, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ASSERT_EQ(rc, EFBIG);
    ASSERT_TRUE(strstr(err.message, "snapshots/mixed.1.arrow") != NULL);
    snprintf(sdir, sizeof sdir, "%s/snapshots", dir);
    {
        struct ik_snapshot *snap;
        char found[1100];
        ASSERT_FAILS(ik_snapshot_latest(dir, "mixed", found, sizeof found, NULL, &err), ENOENT,
                     &err, "mixed");
        snprintf(path, sizeof path, "%s/mixed.1.arrow", sdir);
        ASSERT_FAILS(ik_snapshot_open_path(path, 0, &snap, &err), ENOENT, &err, "mixed.1.arrow");
    }
    /* and no temp file was left behind */
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", sdir);
        ASSERT_EQ(system(cmd), 0);
    }
}

TEST(test_snapshot_write_fd_to_a_closed_pipe_is_epipe)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_error err;
    int p[2];
    void (*prev)(int) = signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(pipe(p), 0);
    close(p[0]);
    fx_mixed(false, &s, &b);
    ASSERT_FAILS(ik_snapshot_write_fd(p[1], "mixed", 1, &s, &b, &err), EPIPE, &err, "write");
    close(p[1]);
    signal(SIGPIPE, prev);
    b.release(&b);
    s.release(&s);
}

TEST(test_snapshot_open_fd_of_a_memfd)
{
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_snapshot *snap;
    struct ik_error err;
    int fd = memfd_create("snapshot", MFD_CLOEXEC);
    ASSERT_TRUE(fd >= 0);
    fx_mixed(true, &s, &b);
    ASSERT_OK(ik_snapshot_write_fd(fd, "mixed", 42, &s, &b, &err), &err);
    ASSERT_OK(ik_snapshot_open_fd(fd, 1, &snap, &err), &err);
    close(fd);
    ASSERT_EQ(ik_snapshot_version(snap), 42);
    ASSERT_EQ(ik_snapshot_rows(snap), MIX_ROWS);
    ik_snapshot_close(snap);
    b.release(&b);
    s.release(&s);
}

TEST(test_snapshot_open_rejects_empty_and_garbage)
{
    char dir[512], path[1100];
    struct ik_snapshot *snap = (struct ik_snapshot *)1;
    struct ik_error err;
    test_dir("garbage", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/empty.arrow", dir);
    write_bytes(path, "", 0);
    err.message[0] = 0;
    ASSERT_TRUE(ik_snapshot_open_path(path, 0, &snap, &err) != 0);
    ASSERT_TRUE(snap == NULL);
    ASSERT_TRUE(strstr(err.message, "empty.arrow") != NULL);
    snprintf(path, sizeof path, "%s/garbage.arrow", dir);
    write_bytes(path, "ARROW1\0\0garbagegarbageARROW1", 28);
    ASSERT_TRUE(ik_snapshot_open_path(path, 0, &snap, &err) != 0);
    ik_snapshot_close(NULL);
}

TEST(test_snapshot_of_a_million_pins_answers_a_limit_query)
{
    char dir[512], path[1024];
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ArrowArrayStream st;
    struct ArrowArray out;
    struct ik_snapshot *snap;
    struct ik_query q;
    struct ik_error err;
    test_dir("speed", dir, sizeof dir);
    fx_pins(1000000, &s, &b);
    ASSERT_OK(ik_snapshot_write(dir, "pins", 1, &s, &b, path, sizeof path, &err), &err);
    b.release(&b);
    s.release(&s);
    ASSERT_OK(ik_snapshot_open_path(path, 0, &snap, &err), &err);
    ik_query_init(&q, "pins");
    q.limit = 100;
    ASSERT_OK(ik_snapshot_query(snap, &q, &st, NULL, &err), &err);
    ASSERT_EQ(st.get_next(&st, &out), 0);
    ASSERT_EQ(out.length, 100);
    out.release(&out);
    st.release(&st);
    ik_snapshot_close(snap);
    ik_query_reset(&q);
}

TEST(test_snapshot_unsynced_is_named_at_once_but_trusted_only_once_synced)
{
    char dir[512], p2[1024], found[1100];
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_error err;
    struct stat sb;
    uint64_t version = 0;
    test_dir("unsynced", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 1, found, sizeof found, &err), &err); /* synced: marked */
    fx_mixed(true, &s, &b);
    ASSERT_OK(ik_snapshot_write_unsynced(dir, "mixed", 2, &s, &b, p2, sizeof p2, &err), &err);
    b.release(&b);
    s.release(&s);
    ASSERT_EQ(stat(p2, &sb), 0); /* final name, mode 0400, before any fsync */
    ASSERT_EQ(sb.st_mode & 0777, 0400);
    /* a crash now could have torn it: the newest trusted version is still 1 */
    ASSERT_OK(ik_snapshot_latest(dir, "mixed", found, sizeof found, &version, &err), &err);
    ASSERT_EQ(version, 1);
    ASSERT_OK(ik_snapshot_sync(dir, "mixed", 2, &err), &err);
    ASSERT_OK(ik_snapshot_latest(dir, "mixed", found, sizeof found, &version, &err), &err);
    ASSERT_EQ(version, 2);
    ASSERT_STR_EQ(found, p2);
}

/* Exactly one version, checked: absent is ENOENT; a file whose metadata names another version
 * (a stray copy), a link, or one newer than the durable mark is refused naming the file. */
TEST(test_snapshot_open_version_checks_name_metadata_and_links)
{
    char dir[512], path[1024], other[1100];
    struct ik_snapshot *s = NULL;
    struct ik_error err;
    int fd = -1;
    test_dir("open_version", dir, sizeof dir);
    ASSERT_OK(write_mixed(dir, 8, path, sizeof path, &err), &err);
    ASSERT_OK(ik_snapshot_open_version(dir, "mixed", 8, IK_VALIDATE_FULL, &s, &fd, &err), &err);
    ASSERT_EQ(ik_snapshot_rows(s), MIX_ROWS);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    ik_snapshot_close(s);
    ASSERT_FAILS(ik_snapshot_open_version(dir, "mixed", 4, 1, &s, NULL, &err), ENOENT, &err,
                 "mixed.4.arrow");
    ASSERT_TRUE(s == NULL);
    snprintf(other, sizeof other, "%s/snapshots/mixed.5.arrow", dir);
    ASSERT_EQ(link(path, other), 0);
    ASSERT_FAILS(ik_snapshot_open_version(dir, "mixed", 5, 1, &s, &fd, &err), IK_EINVALID, &err,
                 "mixed.5.arrow: metadata ipfs_kit.snapshot_version is '8', not 5");
    ASSERT_EQ(fd, -1);
    snprintf(other, sizeof other, "%s/snapshots/mixed.6.arrow", dir);
    ASSERT_EQ(symlink(path, other), 0);
    ASSERT_FAILS(ik_snapshot_open_version(dir, "mixed", 6, 1, &s, NULL, &err), ELOOP, &err,
                 "mixed.6.arrow is a symbolic link");
    {
        struct ArrowSchema fs;
        struct ArrowArray fb;
        fx_mixed(false, &fs, &fb);
        ASSERT_OK(ik_snapshot_write_unsynced(dir, "mixed", 9, &fs, &fb, other, sizeof other, &err),
                  &err);
        fb.release(&fb);
        fs.release(&fs);
    }
    ASSERT_FAILS(ik_snapshot_open_version(dir, "mixed", 9, 1, &s, NULL, &err), ENOENT, &err,
                 "newer than the last version marked durable (8)");
    ASSERT_OK(ik_snapshot_discard(dir, "mixed", 9, &err), &err);
    ASSERT_TRUE(access(other, F_OK) != 0);
    ASSERT_OK(ik_snapshot_discard(dir, "mixed", 9, &err), &err); /* absent is fine */
}

/* ik_snapshot_write_fd's writes, recorded: where each started and how long it was. */
static struct {
    int64_t at[4096], len[4096];
    int n;
} writes;

static ssize_t record_writev(int fd, const struct iovec *iov, int n)
{
    off_t at = lseek(fd, 0, SEEK_CUR);
    ssize_t w = writev(fd, iov, n);
    if (w > 0 && writes.n < 4096) {
        writes.at[writes.n] = (int64_t)at;
        writes.len[writes.n++] = (int64_t)w;
    }
    return w;
}

TEST(test_snapshot_write_fd_writes_whole_2mib_chunks)
{
    static const int64_t rows[3] = {3, 100000, 400000}; /* one write; 5.5 MB; 22 MB */
    const int64_t chunk = (int64_t)2 << 20;
    char dir[512], path[1024], why[256];
    struct ik_error err;
    int k;
    test_dir("chunks", dir, sizeof dir);
    for (k = 0; k < 3; k++) {
        struct ArrowSchema s, qs;
        struct ArrowArray b, got;
        struct ArrowArrayStream st;
        struct ik_snapshot *snap;
        struct ik_query q;
        struct stat sb;
        int64_t end = 0, i;
        int fd;
        fx_pins(rows[k], &s, &b);
        snprintf(path, sizeof path, "%s/pins.%d.arrow", dir, k);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        writes.n = 0;
        ik__snapshot_writev = record_writev;
        ASSERT_OK(ik_snapshot_write_fd(fd, "pin_index", 1, &s, &b, &err), &err);
        ik__snapshot_writev = writev;
        ASSERT_EQ(fstat(fd, &sb), 0);
        close(fd);
        if (rows[k] == 3)
            ASSERT_EQ(writes.n, 1); /* a small file: one write */
        else
            ASSERT_TRUE(sb.st_size > 2 * chunk && writes.n > 1);
        for (i = 0; i < writes.n; i++) { /* in order, every one but the last on boundaries */
            ASSERT_EQ(writes.at[i], end);
            end += writes.len[i];
            ASSERT_EQ(writes.at[i] % chunk, 0);
            if (i + 1 < writes.n)
                ASSERT_EQ(end % chunk, 0);
        }
        ASSERT_EQ(end, (int64_t)sb.st_size);
        ASSERT_OK(ik_snapshot_open_path(path, 1, &snap, &err), &err);
        ik_query_init(&q, "pin_index");
        ASSERT_OK(ik_snapshot_query(snap, &q, &st, NULL, &err), &err);
        ASSERT_EQ(st.get_schema(&st, &qs), 0);
        ASSERT_EQ(st.get_next(&st, &got), 0);
        ASSERT_TRUE(ik_test_batch_equal(&s, &b, &got, why, sizeof why));
        got.release(&got);
        qs.release(&qs);
        st.release(&st);
        ik_query_reset(&q);
        ik_snapshot_close(snap);
        b.release(&b);
        s.release(&s);
    }
}

/* Full validation goes a window of rows at a time (IPFS_KIT_VALIDATE_CHUNK, 262,144 rows by
 * default), dropping the mapping's pages after each: a byte flipped in the last window is still
 * found, and the error says which rows; the same file validates whole, and an intact one
 * window by window (null counts summed across the windows). */
TEST(test_snapshot_validation_in_windows_finds_a_flip_in_the_last)
{
    char dir[512], path[1024];
    struct ArrowSchema s;
    struct ArrowArray b;
    struct ik_snapshot *snap = NULL;
    struct ik_error err = {{0}};
    const char *last = "Qm00000000000999"; /* the cid of row 999 */
    struct stat sb;
    uint8_t *bytes, bad = 0xff;
    int fd, rc;
    size_t i, at = 0, hits = 0;
    test_dir("windows", dir, sizeof dir);
    fx_pins(1000, &s, &b);
    ASSERT_OK(ik_snapshot_write(dir, "pins", 1, &s, &b, path, sizeof path, &err), &err);
    b.release(&b);
    s.release(&s);
    setenv("IPFS_KIT_VALIDATE_CHUNK", "100", 1);
    ASSERT_OK(ik_snapshot_open_path(path, 1, &snap, &err), &err); /* intact: ten windows */
    ASSERT_EQ(ik_snapshot_rows(snap), 1000);
    ik_snapshot_close(snap);
    /* flip the first byte of the last row's cid to 0xff: not UTF-8 */
    ASSERT_EQ(chmod(path, 0600), 0);
    ASSERT_TRUE((fd = open(path, O_RDWR)) >= 0);
    ASSERT_EQ(fstat(fd, &sb), 0);
    bytes = malloc((size_t)sb.st_size);
    ASSERT_EQ(pread(fd, bytes, (size_t)sb.st_size, 0), sb.st_size);
    for (i = 0; i + 16 <= (size_t)sb.st_size; i++)
        if (memcmp(bytes + i, last, 16) == 0) {
            at = i;
            hits++;
        }
    free(bytes);
    ASSERT_EQ(hits, 1);
    ASSERT_EQ(pwrite(fd, &bad, 1, (off_t)at), 1);
    close(fd);
    ASSERT_OK(ik_snapshot_open_path(path, 0, &snap, &err), &err); /* structure is intact */
    ik_snapshot_close(snap);
    rc = ik_snapshot_open_path(path, 1, &snap, &err);
    ASSERT_TRUE(rc != 0 && snap == NULL);
    ASSERT_TRUE(strstr(err.message, "column 'cid', rows 900 to 999") != NULL);
    ASSERT_TRUE(strstr(err.message, "invalid UTF-8 at index 99") != NULL); /* row 999 */
    setenv("IPFS_KIT_VALIDATE_CHUNK", "100000", 1); /* one window: the same file, refused too */
    rc = ik_snapshot_open_path(path, 1, &snap, &err);
    ASSERT_TRUE(rc != 0 && snap == NULL);
    ASSERT_TRUE(strstr(err.message, "UTF-8") != NULL);
    unsetenv("IPFS_KIT_VALIDATE_CHUNK");
}
