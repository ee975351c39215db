/* The snapshot builder: keeps each file-backed table's published state (a segment set and its
 * manifest, include/ipfskit/segments.h). A group of writes becomes one delta segment holding the
 * rows they changed (read through the store's segment log) and a new manifest — O(change), the
 * base is never rewritten; a full read of the store makes a new base only at start, when the
 * log cannot say what changed, or when more changed than a delta should hold. States the
 * compactor (compact.c) prepares are installed here, so manifests have one writer. Each state
 * is published (write replies go) from memory: a small delta and the manifest are sealed
 * memfds, no file is made. The settler's thread writes the newest published state's files,
 * fsyncs them and prunes older files (ik_segbuild_settle), so no file operation is ever on the
 * way of the next write. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "ipfskit/schemas.h"
#include "ipfskit/segments.h"
#include "ipfskit/seglog.h"
#include "arrow/internal.h"
#include "ipfskit/snapshot.h"

/* A delta larger than this share of the live rows (or MIN) is made as a new base instead. */
#define DELTA_MAX_SHARE 4
#define DELTA_MAX_MIN 4096
/* The writer builds a delta itself (ik_segbuild_inline) only up to this many changed pins. */
#define INLINE_MAX_ROWS 1024

/* ---- publishing ------------------------------------------------------------------------ */

static struct ik_published *slot(struct ik_daemon *d, const char *table)
{
    return strcmp(table, "pin_index") == 0 ? &d->pins : &d->vfs;
}

/* A state just published, to be made durable by the next settle (the newest one wins). */
static void to_sync(struct ik_daemon *d, int t, struct ik_segset *set)
{
    struct ik_segset *old;
    ik_segset_ref(set);
    pthread_mutex_lock(&d->build_mu);
    old = d->to_sync[t];
    d->to_sync[t] = set;
    pthread_cond_broadcast(&d->compact_cv); /* the compactor and the vfs_stats builder */
    pthread_cond_signal(&d->settle_cv);
    pthread_mutex_unlock(&d->build_mu);
    ik_segset_release(old);
}

/* Publishes `set`: its manifest in a sealed memfd (its file is the settler's to write), or with
 * `on_disk`, the manifest file it was found by. No file is made here: a write's reply waits for
 * this, and on a busy disk a file's creation or rename waited 10-120 ms for the journal. */
static int publish(struct ik_daemon *d, const char *table, struct ik_segset *set, bool on_disk,
                   struct ik_error *err)
{
    char path[PATH_MAX + 64];
    struct ik_published p = {.fd = -1}, old;
    struct stat st;
    int rc, i;
    if (on_disk) {
        ik_segset_manifest_path(d->dir, table, ik_segset_seq(set), path, sizeof path);
        p.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    } else if ((rc = ik_segset_manifest_memfd(set, &p.fd, err)) != 0) {
        return rc; /* a sealed memfd: the settler writes the file (ik_segset_sync) */
    } else {
        snprintf(path, sizeof path, "%s.%llu.manifest (in memory)", table,
                 (unsigned long long)ik_segset_seq(set));
    }
    if (p.fd < 0 || fstat(p.fd, &st) != 0) {
        rc = ik_error_set(err, errno, "%s: %s", path, strerror(errno));
        if (p.fd >= 0)
            close(p.fd);
        return rc;
    }
    p.dev = (uint64_t)st.st_dev;
    p.ino = (uint64_t)st.st_ino;
    p.version = ik_segset_version(set);
    p.rows = ik_segset_rows(set);
    p.bytes = (int64_t)st.st_size;
    for (i = 0; i < ik_segset_count(set); i++) { /* the mapped sizes: no fstat per segment */
        size_t size = 0;
        (void)ik_snapshot_data(ik_segset_segment(set, i), &size);
        p.bytes += (int64_t)size;
    }
    ik_segset_ref(set);
    p.set = set;
    pthread_mutex_lock(&d->pub_mu);
    old = *slot(d, table);
    if (old.set && ik_segset_version(old.set) > p.version) {
        pthread_mutex_unlock(&d->pub_mu); /* versions never go back (a late vfs_stats build) */
        close(p.fd);
        ik_segset_release(set);
        return 0;
    }
    *slot(d, table) = p;
    if (strcmp(table, "pin_index") == 0) {
        d->published_gen = p.version;
        d->build_failed = false;
        d->build_retries = 0;
        d->build_failed_since = 0;
        atomic_store(&d->pins_published_us, (long long)(ik_now_ms() * 1000.0));
    }
    ik_vpage_publish(d, &d->pins, &d->vfs);
    pthread_mutex_unlock(&d->pub_mu);
    if (strcmp(table, "pin_index") == 0)
        ik_queue_wake_all(&d->writes); /* a writer waiting to checkpoint (workers.c) */
    if (old.fd >= 0)
        close(old.fd);
    ik_segset_release(old.set);
    if (!on_disk)
        to_sync(d, strcmp(table, "pin_index") == 0 ? 0 : 1, set);
    return 0;
}

int ik_segbuild_publish(struct ik_daemon *d, const char *table, struct ik_segset *set,
                        struct ik_error *err)
{
    return publish(d, table, set, false, err);
}

int ik_published_get(struct ik_daemon *d, const char *table, const struct ik_snapshot_id *have,
                     struct ik_published *out)
{
    struct ik_published *p;
    int rc = 0;
    pthread_mutex_lock(&d->pub_mu);
    p = slot(d, table);
    *out = *p;
    out->set = NULL;
    if (p->fd >= 0 && have && have->set && have->version == p->version && have->dev == p->dev &&
        have->ino == p->ino)
        out->fd = -1; /* the client holds this very state */
    else if ((out->fd = p->fd >= 0 ? fcntl(p->fd, F_DUPFD_CLOEXEC, 3) : -1) < 0)
        rc = ENOENT;
    if (rc == 0 && p->set) {
        ik_segset_ref(p->set);
        out->set = p->set;
    }
    pthread_mutex_unlock(&d->pub_mu);
    return rc;
}

/* The files of `set` not named by `durable`: what a sync must fsync. */
static int fresh_names(struct ik_segset *durable, struct ik_segset *set, const char **out)
{
    int i, k, n = 0;
    for (i = 0; i < ik_segset_count(set); i++) {
        bool known = false;
        for (k = 0; durable && k < ik_segset_count(durable) && !known; k++)
            known = strcmp(ik_segset_name(durable, k), ik_segset_name(set, i)) == 0;
        if (!known)
            out[n++] = ik_segset_name(set, i);
    }
    return n;
}

/* Makes `set` (table t: 0 pin_index, 1 vfs_stats) durable; *durable becomes it. */
static int make_durable(struct ik_daemon *d, struct ik_segset *set, struct ik_segset **durable)
{
    const char *fresh[IK_SEG_MAX];
    struct ik_error err = {{0}};
    int n = fresh_names(*durable, set, fresh);
    if (ik_segset_sync(set, d->dir, fresh, n, &err) != 0) {
        fprintf(stderr, "ipfs-kit daemon: %s %llu: %s\n", ik_segset_table(set),
                (unsigned long long)ik_segset_version(set), err.message);
        return -1;
    }
    ik_segset_ref(set);
    ik_segset_release(*durable);
    *durable = set;
    return 0;
}

/* Unlinks the files of `table` that neither the published, the durable nor a pending compacted
 * state names. Lists them holding files_mu (every linked file is named by one of them
 * meanwhile), and unlinks all but bases after letting it go: the builder takes files_mu for
 * every delta, and an unlink on a busy disk (ext4 waiting for its journal) took up to 120 ms;
 * those names are never made again (ik_segset_prune_deferred). */
static void prune(struct ik_daemon *d, const char *table, struct ik_segset *durable)
{
    struct ik_segset *keep[3] = {durable, NULL, NULL};
    char **later = NULL;
    size_t n_later = 0;
    int n = 1, i;
    pthread_mutex_lock(&d->prune_mu);
    if (d->compacting) { /* its files are named by no state yet: the next settle prunes */
        pthread_mutex_unlock(&d->prune_mu);
        return;
    }
    pthread_mutex_lock(&d->files_mu);
    pthread_mutex_lock(&d->pub_mu);
    if ((keep[n] = slot(d, table)->set) != NULL)
        ik_segset_ref(keep[n++]);
    pthread_mutex_unlock(&d->pub_mu);
    pthread_mutex_lock(&d->build_mu);
    if (strcmp(table, "pin_index") == 0 && (keep[n] = d->compacted) != NULL)
        ik_segset_ref(keep[n++]);
    pthread_mutex_unlock(&d->build_mu);
    (void)ik_segset_prune_deferred(d->dir, table, keep, n, &later, &n_later, NULL);
    pthread_mutex_unlock(&d->files_mu);
    pthread_mutex_unlock(&d->prune_mu);
    ik_segset_unlink_all(later, n_later);
    for (i = 1; i < n; i++)
        ik_segset_release(keep[i]);
}

void ik_segbuild_settle(struct ik_daemon *d)
{
    struct ik_segset *set[2];
    pthread_mutex_lock(&d->build_mu);
    set[0] = d->to_sync[0];
    set[1] = d->to_sync[1];
    d->to_sync[0] = d->to_sync[1] = NULL;
    pthread_mutex_unlock(&d->build_mu);
    if (set[0] && make_durable(d, set[0], &d->durable) == 0)
        prune(d, "pin_index", d->durable);
    if (set[1] && make_durable(d, set[1], &d->durable_vfs) == 0)
        prune(d, "vfs_stats", d->durable_vfs);
    ik_segset_release(set[0]);
    ik_segset_release(set[1]);
}

/* ---- building -------------------------------------------------------------------------- */

int ik_segbuild_vfs_base(struct ik_daemon *d, uint64_t gen, const struct ArrowSchema *vs,
                         const struct ArrowArray *va, struct ik_segset **out, struct ik_error *err)
{
    uint64_t seq = atomic_fetch_add(&d->seq, 1);
    if (va->length <= IK_MEM_MAX_ROWS)
        return ik_segset_mem_base("vfs_stats", gen, seq, vs, va, out, err);
    return ik_segset_write_base(d->dir, "vfs_stats", gen, seq, vs, va, out, err);
}

static uint64_t next_seq(struct ik_daemon *d)
{
    return atomic_fetch_add(&d->seq, 1);
}

void ik_segbuild_give(struct ik_daemon *d, uint64_t gen, struct ArrowSchema *schema,
                      struct ArrowArray *rows, int journal_fd)
{
    struct ArrowSchema os = {0};
    struct ArrowArray oa = {0};
    int ofd;
    pthread_mutex_lock(&d->build_mu);
    os = d->given_schema;
    oa = d->given_rows;
    ofd = d->given_fd;
    d->given_rows.release = NULL;
    d->given_schema.release = NULL;
    d->given_fd = -1;
    if (gen > 0) {
        d->given_schema = *schema;
        d->given_rows = *rows;
        d->given_gen = gen;
        d->given_fd = journal_fd;
        schema->release = NULL;
        rows->release = NULL;
        journal_fd = -1;
    }
    pthread_mutex_unlock(&d->build_mu);
    if (ofd >= 0)
        close(ofd);
    if (journal_fd >= 0)
        close(journal_fd);
    if (oa.release)
        oa.release(&oa);
    if (os.release)
        os.release(&os);
    if (rows->release)
        rows->release(rows);
    if (schema->release)
        schema->release(schema);
}

/* Moves out the rows the writer gave when their generation is `gen` (take) or older (they
 * are no longer the store's: dropped), in one hold of build_mu; true when taken. Rows given
 * for a newer generation (after this round began) stay. */
static bool take_or_drop(struct ik_daemon *d, uint64_t gen, bool take, struct ArrowSchema *ps,
                         struct ArrowArray *pa, int *journal_fd)
{
    struct ArrowSchema os = {0};
    struct ArrowArray oa = {0};
    bool ok = false;
    int fd = -1;
    pthread_mutex_lock(&d->build_mu);
    if (d->given_rows.release != NULL && d->given_gen <= gen) {
        os = d->given_schema;
        oa = d->given_rows;
        fd = d->given_fd;
        ok = take && d->given_gen == gen;
        d->given_schema.release = NULL;
        d->given_rows.release = NULL;
        d->given_fd = -1;
    }
    pthread_mutex_unlock(&d->build_mu);
    if (ok) {
        *ps = os;
        *pa = oa;
        *journal_fd = fd;
        return true;
    }
    if (fd >= 0)
        close(fd);
    if (oa.release)
        oa.release(&oa);
    if (os.release)
        os.release(&os);
    return false;
}

/* Whether the writer gave the rows of generation `gen` (a first import: when acknowledged
 * from its journal, pins.db does not hold them until the writer applies it). */
static bool given_for(struct ik_daemon *d, uint64_t gen)
{
    bool yes;
    pthread_mutex_lock(&d->build_mu);
    yes = d->given_rows.release != NULL && d->given_gen == gen;
    pthread_mutex_unlock(&d->build_mu);
    return yes;
}

/* Drops rows the writer gave for a generation `published` covers. */
static void drop_given(struct ik_daemon *d, uint64_t published)
{
    take_or_drop(d, published, false, NULL, NULL, NULL);
}

/* The import's journal (jfd, closed here), which holds the rows of `gen` as a snapshot file,
 * linked as the base segment of `gen`: the rows are not written a second time. A failure is
 * logged, and the caller writes the rows instead. */
static int link_journal(struct ik_daemon *d, uint64_t gen, int jfd, struct ik_segset **out)
{
    struct ik_error err = {{0}};
    int rc = ik_segset_link_base(d->dir, "pin_index", gen, next_seq(d), jfd, out, &err);
    close(jfd);
    if (rc != 0)
        fprintf(stderr,
                "ipfs-kit daemon: the import's journal as the base of %llu: %s (writing "
                "the rows instead)\n",
                (unsigned long long)gen, err.message);
    return rc;
}

/* A new base of every pin (and vfs_stats from the same rows): the writer's rows when it gave
 * them for the store's generation (a first import), else read from the store. */
static int full_build(struct ik_daemon *d, struct ik_pin_reader *pr, struct ik_store *st,
                      struct ik_segset **out, struct ik_error *err)
{
    struct ArrowSchema ps = {0}, vs = {0};
    struct ArrowArray pa = {0}, va = {0};
    struct ik_segset *vset = NULL;
    uint64_t gen = 0;
    int rc, jfd = -1;
    atomic_fetch_add_explicit(&d->metrics.full_builds, 1, memory_order_relaxed);
    if (ik_store_generation(st, &gen, NULL) == 0 && take_or_drop(d, gen, true, &ps, &pa, &jfd))
        rc = 0;
    else if (pr != NULL)
        rc = ik_pin_reader_read(pr, &gen, &ps, &pa, err);
    else if ((rc = ik_store_generation(st, &gen, err)) == 0)
        rc = ik_store_read_pins(st, &ps, &pa, err);
    if (rc != 0)
        return rc;
    rc = jfd >= 0 ? link_journal(d, gen, jfd, out) : ENOENT;
    if (rc != 0)
        rc = ik_segset_write_base(d->dir, "pin_index", gen, next_seq(d), &ps, &pa, out, err);
    if (rc == 0 && (rc = ik_vfs_stats_build(&ps, &pa, &vs, &va, err)) == 0) {
        rc = ik_segbuild_vfs_base(d, gen, &vs, &va, &vset, err);
        va.release(&va);
        vs.release(&vs);
    }
    pa.release(&pa);
    ps.release(&ps);
    if (rc == 0)
        rc = ik_segbuild_publish(d, "vfs_stats", vset, err);
    ik_segset_release(vset);
    if (rc != 0) {
        ik_segset_release(*out);
        *out = NULL;
    }
    return rc;
}

/* The next state of pin_index from `from` (the published state or one the compactor made):
 * the rows changed since its version as one delta, or a full build when the log cannot say or
 * too much changed. *out is NULL when nothing changed since `from`. */
static int next_state(struct ik_daemon *d, struct ik_pin_reader *pr, struct ik_store *st,
                      struct ik_segset *from, bool small, struct ik_segset **out,
                      struct ik_error *err)
{
    struct ik_changeset cs;
    int64_t max = ik_segset_rows(from) / DELTA_MAX_SHARE;
    int rc;
    *out = NULL;
    if (max < DELTA_MAX_MIN)
        max = DELTA_MAX_MIN;
    if (small && max > INLINE_MAX_ROWS)
        max = INLINE_MAX_ROWS;
    if (ik_segset_count(from) >= IK_SEG_MAX - 1) {
        /* the compactor fell behind a stream of writes (each may be a delta of its own): the
         * newer half of the deltas goes into the next delta with the new changes, as its minor
         * merge does (O(rows changed since the older half), not a full build of every pin,
         * which at 10M pins held every write for ~20 s) */
        struct ik_segset *older = NULL;
        if (small)
            return EAGAIN;
        if ((rc = ik_segset_prefix(from, ik_segset_count(from) / 2, &older, err)) != 0)
            return rc;
        atomic_fetch_add_explicit(&d->metrics.segment_limit_merges, 1, memory_order_relaxed);
        rc = next_state(d, pr, st, older, small, out, err);
        if (rc == 0 && *out == NULL) /* nothing changed since the older half: it is the state */
            ik_segset_ref(*out = older);
        ik_segset_release(older);
        return rc;
    }
    {
        uint64_t gen = 0; /* the writer's rows of the store's generation: a new base of them */
        if (ik_store_generation(st, &gen, NULL) == 0 && gen > ik_segset_version(from) &&
            given_for(d, gen))
            return small ? EAGAIN : full_build(d, pr, st, out, err);
    }
    rc = ik_store_changes_since_tail(st, ik_segset_version(from), max, d->ctail, &cs, err);
    if (rc == ESTALE || rc == E2BIG) {
        if (small)
            return EAGAIN;
        fprintf(stderr, "ipfs-kit daemon: pin_index after %llu: a full build (%s)\n",
                (unsigned long long)ik_segset_version(from),
                rc == ESTALE ? "the change log no longer reaches back"
                             : "more rows changed than a delta takes");
        return full_build(d, pr, st, out, err);
    }
    if (rc != 0)
        return rc;
    if (cs.generation > ik_segset_version(from) && cs.rows.length <= IK_MEM_MAX_ROWS)
        rc = ik_segset_mem_delta(from, cs.generation, next_seq(d), &cs.schema, &cs.rows,
                                 (const char *const *)cs.deleted, cs.n_deleted, out, err);
    else if (cs.generation > ik_segset_version(from)) /* a large import's */
        rc = ik_segset_write_delta(from, d->dir, cs.generation, next_seq(d), &cs.schema, &cs.rows,
                                   (const char *const *)cs.deleted, cs.n_deleted, out, err);
    ik_changeset_reset(&cs);
    return rc;
}

/* One round of the builder: installs a compacted state if one waits, brings the state up to
 * the store, publishes. `small` (the writer's own round): EAGAIN rather than wait for files_mu
 * or read more than a small delta (a full build, a large change). Called with round_mu held. */
static int build_round(struct ik_daemon *d, struct ik_pin_reader *pr, struct ik_store *st,
                       bool small, struct ik_error *err)
{
    struct ik_segset *from = NULL, *next = NULL;
    double t0 = ik_now_ms();
    int rc;
    /* files_mu first: from taking a compacted state until it is published, no prune may run
     * (no other state names its files meanwhile) */
    if (!small)
        pthread_mutex_lock(&d->files_mu);
    else if (pthread_mutex_trylock(&d->files_mu) != 0)
        return EAGAIN; /* a vfs_stats base or a prune holds it: the builder waits instead */
    pthread_mutex_lock(&d->build_mu);
    from = d->compacted;
    d->compacted = NULL;
    pthread_mutex_unlock(&d->build_mu);
    if (from == NULL) {
        pthread_mutex_lock(&d->pub_mu);
        if ((from = d->pins.set) != NULL)
            ik_segset_ref(from);
        pthread_mutex_unlock(&d->pub_mu);
    } else {
        ik__stop_point("install");
    }
    if (from == NULL)
        rc = small ? EAGAIN : full_build(d, pr, st, &next, err);
    else
        rc = next_state(d, pr, st, from, small, &next, err);
    if (rc == 0 && next == NULL && from != NULL) {
        pthread_mutex_lock(&d->pub_mu);
        if (d->pins.set != from) /* a compacted state with nothing after it */
            ik_segset_ref(next = from);
        pthread_mutex_unlock(&d->pub_mu);
    }
    ik_segset_release(from);
    if (rc == 0 && next != NULL)
        rc = ik_segbuild_publish(d, "pin_index", next, err); /* wakes the compactor */
    if (rc == 0 && next != NULL)
        drop_given(d, ik_segset_version(next)); /* published by a delta (a small import) */
    pthread_mutex_unlock(&d->files_mu);
    if (rc == 0 && next != NULL) {
        atomic_fetch_add_explicit(&d->metrics.snapshot_builds, 1, memory_order_relaxed);
        atomic_store_explicit(&d->metrics.snapshot_build_us_last,
                              (long long)((ik_now_ms() - t0) * 1000.0), memory_order_relaxed);
        ik_loop_wake(d); /* parked write replies can go */
    }
    ik_segset_release(next);
    return rc;
}

/* Opens descriptors of a state found on disk (the daemon passes them to clients). */
static int adopt(struct ik_daemon *d, const char *table, struct ik_segset **out,
                 struct ik_error *err)
{
    int rc = ik_segset_latest(d->dir, table, IK_VALIDATE_FULL, out, NULL, 0, err);
    /* a damaged state must never reach a reader (the query engine and printers trust a
     * segment's offsets): logged, and the build below writes it anew from the store */
    if (rc != 0 && rc != ENOENT)
        fprintf(stderr,
                "ipfs-kit daemon: snapshot of %s is damaged, rebuilding it from the store: %s\n",
                table, err ? err->message : "");
    if (rc == 0)
        ik_segset_drop_pages(*out); /* validated: every page read, none needed in our RSS */
    if (rc == 0 && (rc = ik_segset_open_fds(*out, d->dir, err)) != 0) {
        ik_segset_release(*out);
        *out = NULL;
    }
    return rc;
}

/* At start: the newest durable states, brought up to the store's generation (a delta of what
 * direct writes changed meanwhile), else a full build. The socket opens only afterwards. */
int ik_build_initial(struct ik_daemon *d, struct ik_error *err)
{
    struct ik_segset *pins = NULL, *vfs = NULL;
    bool pins_ok, vfs_ok;
    uint64_t gen = 0, seq;
    int rc;
    seq = ik_segset_max_seq(d->dir, "pin_index");
    if (ik_segset_max_seq(d->dir, "vfs_stats") > seq)
        seq = ik_segset_max_seq(d->dir, "vfs_stats");
    atomic_store(&d->seq, seq + 1);
    if ((rc = ik_store_generation(d->wstore, &gen, err)) != 0)
        return rc;
    {
        struct ik_error e1 = {{0}}, e2 = {{0}};
        /* both checked (and a damaged one logged) whatever the first gives */
        pins_ok = adopt(d, "pin_index", &pins, &e1) == 0 && ik_segset_version(pins) <= gen;
        vfs_ok = adopt(d, "vfs_stats", &vfs, &e2) == 0;
    }
    if (pins_ok && vfs_ok) {
        if ((rc = publish(d, "pin_index", pins, true, err)) == 0)
            rc = publish(d, "vfs_stats", vfs, true, err);
        d->durable = pins; /* found durable */
        d->durable_vfs = vfs;
        pins = vfs = NULL;
        if (rc == 0)
            rc = build_round(d, NULL, d->wstore, false, err); /* changed while no daemon ran */
    } else {
        rc = build_round(d, NULL, d->wstore, false, err);
    }
    ik_segset_release(pins);
    ik_segset_release(vfs);
    if (rc != 0)
        return rc;
    ik_segbuild_settle(d); /* durable, and the files of older states (or a crash) gone */
    prune(d, "pin_index", d->durable);
    prune(d, "vfs_stats", d->durable_vfs);
    return 0;
}

void ik_build_wait(struct ik_daemon *d, pthread_cond_t *cv, long ms, bool unless_to_sync)
{
    struct timespec until = ik_realtime_in(ms);
    pthread_mutex_lock(&d->build_mu);
    if (!atomic_load(&d->stop) &&
        !(unless_to_sync && (d->to_sync[0] != NULL || d->to_sync[1] != NULL)))
        pthread_cond_timedwait(cv, &d->build_mu, &until);
    pthread_mutex_unlock(&d->build_mu);
}

void ik_build_request(struct ik_daemon *d, uint64_t generation)
{
    pthread_mutex_lock(&d->build_mu);
    if (generation > d->build_wanted)
        d->build_wanted = generation;
    pthread_cond_signal(&d->build_cv);
    pthread_mutex_unlock(&d->build_mu);
}

/* IPFS_KIT_FAIL_BUILDS=n (tests only): the builder thread's next n builds fail as a full disk
 * would. Read once; only the builder thread calls this. */
static int injected_failure(struct ik_error *err)
{
    static int left = -1;
    if (left < 0) {
        const char *v = getenv("IPFS_KIT_FAIL_BUILDS");
        left = v ? atoi(v) : 0;
    }
    if (left <= 0)
        return 0;
    left--;
    return ik_error_set(err, ENOSPC,
                        "writing the snapshot: No space left on device (injected by "
                        "IPFS_KIT_FAIL_BUILDS)");
}

/* A failed build leaves committed writes invisible: record it for status and metrics (their
 * replies stay parked) and retry after a backoff of 50 ms doubling to 5 s, not waiting for
 * another write to come. */
static void build_failed(struct ik_daemon *d, const struct ik_error *err)
{
    int retries;
    long ms;
    atomic_fetch_add_explicit(&d->metrics.snapshot_build_failures, 1, memory_order_relaxed);
    pthread_mutex_lock(&d->pub_mu);
    if (!d->build_failed)
        d->build_failed_since = ik_wall_ms();
    d->build_failed = true;
    retries = ++d->build_retries;
    snprintf(d->build_error, sizeof d->build_error, "%s", err->message);
    pthread_mutex_unlock(&d->pub_mu);
    ms = retries >= 8 ? 5000 : 50L << (retries - 1); /* 50, 100, ... 3200, then 5000 */
    fprintf(stderr, "ipfs-kit daemon: snapshot build failed (attempt %d, retry in %ld ms): %s\n",
            retries, ms, err->message);
    ik_loop_wake(d); /* parked replies: their visible_timeout may have passed */
    ik_build_wait(d, &d->build_cv, ms, false);
}

/* Whether a round has something to do: a committed generation not published, or a compacted
 * state to install. */
static bool round_needed(struct ik_daemon *d)
{
    bool need;
    pthread_mutex_lock(&d->build_mu);
    pthread_mutex_lock(&d->pub_mu);
    need = d->build_wanted > d->published_gen || d->compacted != NULL;
    pthread_mutex_unlock(&d->pub_mu);
    pthread_mutex_unlock(&d->build_mu);
    return need;
}

bool ik_segbuild_inline(struct ik_daemon *d, uint64_t gen)
{
    struct ik_error err = {{0}};
    static int off = -1; /* IPFS_KIT_FAIL_BUILDS: failures are the builder thread's to make;
                          * IPFS_KIT_NO_INLINE_BUILD (benchmarks): every build on the builder */
    bool done, leave;
    int rc;
    if (off < 0)
        off = getenv("IPFS_KIT_FAIL_BUILDS") != NULL || getenv("IPFS_KIT_NO_INLINE_BUILD") != NULL;
    pthread_mutex_lock(&d->pub_mu);
    done = d->published_gen >= gen;
    /* failing builds: the builder's backoff and retries decide; no state yet: a full build */
    leave = d->build_failed || off || d->pins.set == NULL;
    pthread_mutex_unlock(&d->pub_mu);
    if (done || leave || pthread_mutex_trylock(&d->round_mu) != 0)
        return done;
    rc = build_round(d, NULL, d->wstore, true, &err);
    pthread_mutex_unlock(&d->round_mu);
    if (rc != 0 && rc != EAGAIN && rc != EBUSY)
        fprintf(stderr, "ipfs-kit daemon: the writer's snapshot build: %s (the builder retries)\n",
                err.message);
    pthread_mutex_lock(&d->pub_mu);
    done = d->published_gen >= gen;
    pthread_mutex_unlock(&d->pub_mu);
    return done;
}

static void *builder_main(void *arg)
{
    struct ik_daemon *d = arg;
    struct ik_pin_reader *pr = NULL;
    struct ik_error err = {{0}};
    int rc;
    ik_sched_thread(d, "ik-builder", IK_THREAD_WRITE_PATH); /* it publishes write replies */
    /* one reading thread per core of this 2-core target; each has its own connection */
    if (ik_pin_reader_open(d->dir, 2, &pr, &err) != 0 ||
        ik_store_open(d->dir, IK_STORE_READONLY, &d->bstore, &err) != 0) {
        fprintf(stderr, "ipfs-kit daemon: snapshot builder: %s\n", err.message);
        ik_pin_reader_close(pr);
        return NULL;
    }
    for (;;) {
        uint64_t want, have;
        pthread_mutex_lock(&d->build_mu);
        for (;;) {
            pthread_mutex_lock(&d->pub_mu);
            have = d->published_gen;
            pthread_mutex_unlock(&d->pub_mu);
            want = d->build_wanted;
            if (atomic_load(&d->stop) || want > have || d->compacted)
                break;
            pthread_cond_wait(&d->build_cv, &d->build_mu);
        }
        pthread_mutex_unlock(&d->build_mu);
        if (atomic_load(&d->stop))
            break;
        pthread_mutex_lock(&d->round_mu);
        if (!round_needed(d)) { /* the writer published it meanwhile (ik_segbuild_inline) */
            pthread_mutex_unlock(&d->round_mu);
            continue;
        }
        rc = injected_failure(&err);
        if (rc == 0)
            rc = build_round(d, pr, d->bstore, false, &err);
        pthread_mutex_unlock(&d->round_mu);
        if (rc == EBUSY) { /* the store's newest version is an import not applied yet: its
                              rows come from the writer (given) or, once applied, the store */
            struct timespec until = ik_realtime_in(100);
            pthread_mutex_lock(&d->apply_mu); /* woken when the writer gives or applies */
            if (d->unapplied != 0 && !atomic_load(&d->stop))
                pthread_cond_timedwait(&d->apply_cv, &d->apply_mu, &until);
            pthread_mutex_unlock(&d->apply_mu);
            continue;
        }
        if (rc != 0)
            build_failed(d, &err); /* retried after a backoff, not only at the next write */
    }
    ik_pin_reader_close(pr);
    return NULL;
}

/* The settler: makes each newest published state durable and prunes what no state names, on
 * its own thread (an fsync on a busy disk takes up to a second; the compactor's merges must
 * not wait for it, or the deltas pile up under a stream of writes). A write publishes its delta
 * and manifest in memory (sealed memfds); the settler writes the files of the newest state
 * only, at most once per SETTLE_EVERY_MS: under a stream of single writes, files per write (a
 * delta and a manifest created and renamed, and later fsynced and unlinked) kept the ext4
 * journal busy, and the write path's own creates and renames waited for it 10-120 ms at a time.
 * A snapshot is derived data: a crash loses at most the states published since the last
 * round, which the next start rebuilds from the store's log (the direct path reads SQLite
 * meanwhile: the durable manifest is older than the store's generation).
 * IPFS_KIT_SETTLE_MS (tests) sets the period. */
#define SETTLE_EVERY_MS 1000

static void *settler_main(void *arg)
{
    struct ik_daemon *d = arg;
    const char *env = getenv("IPFS_KIT_SETTLE_MS");
    long every = env && atol(env) > 0 ? atol(env) : SETTLE_EVERY_MS;
    ik__stop_point_scope("settle"); /* settle-file, settle-manifest, settle-mark */
    ik_sched_thread(d, "ik-settle", IK_THREAD_BACKGROUND);
    while (!atomic_load(&d->stop)) {
        double next = ik_now_ms() + (double)every, now;
        ik_segbuild_settle(d);
        while (!atomic_load(&d->stop) && (now = ik_now_ms()) < next) /* publishes wake it */
            ik_build_wait(d, &d->settle_cv, (long)(next - now) + 1, false);
        ik_build_wait(d, &d->settle_cv, 200, true);
    }
    return NULL;
}

/* The spare files' filler (lib/snapshot/spare.c): tops the pool up whenever takes have halved
 * it, at the daemon's priority (at nice 19, as the vfs_stats thread, it starved under a stream
 * of writes on a loaded machine and the writes created their files themselves again). */
static void *sparer_main(void *arg)
{
    struct ik_daemon *d = arg;
    ik_sched_thread(d, "ik-spare", IK_THREAD_NORMAL);
    while (!atomic_load(&d->stop)) {
        ik_spare_fill();
        ik_spare_wait(500);
    }
    return NULL;
}

int ik_segbuild_start(struct ik_daemon *d, struct ik_error *err)
{
    int rc;
    if ((rc = pthread_create(&d->builder, NULL, builder_main, d)) != 0)
        return ik_error_set(err, rc, "starting the snapshot builder: %s", strerror(rc));
    if ((rc = pthread_create(&d->compactor, NULL, ik_compactor_main, d)) != 0) {
        atomic_store(&d->stop, true);
        ik_segbuild_stop(d);
        return ik_error_set(err, rc, "starting the compactor: %s", strerror(rc));
    }
    if ((rc = pthread_create(&d->settler, NULL, settler_main, d)) != 0) {
        atomic_store(&d->stop, true);
        ik_segbuild_stop(d);
        return ik_error_set(err, rc, "starting the settler: %s", strerror(rc));
    }
    if ((rc = pthread_create(&d->sparer, NULL, sparer_main, d)) != 0) {
        atomic_store(&d->stop, true);
        ik_segbuild_stop(d);
        return ik_error_set(err, rc, "starting the spare file filler: %s", strerror(rc));
    }
    if ((rc = pthread_create(&d->vfsbuilder, NULL, ik_vfsbuild_main, d)) != 0) {
        atomic_store(&d->stop, true);
        ik_segbuild_stop(d);
        return ik_error_set(err, rc, "starting the vfs_stats builder: %s", strerror(rc));
    }
    return 0;
}

void ik_segbuild_stop(struct ik_daemon *d)
{
    pthread_mutex_lock(&d->build_mu);
    pthread_cond_broadcast(&d->build_cv);
    pthread_cond_broadcast(&d->compact_cv);
    pthread_cond_broadcast(&d->settle_cv);
    pthread_mutex_unlock(&d->build_mu);
    pthread_join(d->builder, NULL);
    if (d->compactor)
        pthread_join(d->compactor, NULL);
    d->compactor = 0;
    if (d->settler)
        pthread_join(d->settler, NULL);
    d->settler = 0;
    if (d->vfsbuilder)
        pthread_join(d->vfsbuilder, NULL);
    d->vfsbuilder = 0;
    if (d->sparer) {
        ik_spare_wake();
        pthread_join(d->sparer, NULL);
    }
    d->sparer = 0;
    ik_segbuild_settle(d); /* a clean stop leaves the newest states durable */
}

void ik_segbuild_free(struct ik_daemon *d)
{
    if (d->pins.fd >= 0)
        close(d->pins.fd);
    if (d->vfs.fd >= 0)
        close(d->vfs.fd);
    d->pins.fd = d->vfs.fd = -1;
    ik_segset_release(d->pins.set);
    ik_segset_release(d->vfs.set);
    ik_segset_release(d->compacted);
    if (d->given_rows.release) /* the threads are gone: no lock */
        d->given_rows.release(&d->given_rows);
    if (d->given_schema.release)
        d->given_schema.release(&d->given_schema);
    if (d->given_fd >= 0)
        close(d->given_fd);
    d->given_fd = -1;
    d->given_rows.release = NULL;
    d->given_schema.release = NULL;
    ik_segset_release(d->durable);
    ik_segset_release(d->durable_vfs);
    ik_segset_release(d->to_sync[0]);
    ik_segset_release(d->to_sync[1]);
    ik_store_close(d->bstore);
    d->pins.set = d->vfs.set = d->compacted = d->durable = d->durable_vfs = NULL;
    d->to_sync[0] = d->to_sync[1] = NULL;
    d->bstore = NULL;
}
