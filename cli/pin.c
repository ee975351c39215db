/* `ipfs-kit pin add|rm|touch|import|list|drop-import`: pin writes go through the daemon when it
 * runs (else straight into the store), `list` queries pin_index with filters, `drop-import`
 * gives up an import whose journal a power cut lost (the daemon stopped). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "cli.h"
#include "ipfskit/client.h"
#include "ipfskit/config.h"
#include "ipfskit/store.h"

/* Opens the client with the command's --timeout (milliseconds, 0 for the config's); the exit
 * code when it cannot be opened (the message printed). */
static int open_client(int timeout_ms, struct ik_client **c)
{
    struct ik_client_options o;
    ik_client_options_init(&o);
    o.timeout_ms = timeout_ms;
    return ik_cli_open(&o, c);
}

static int fail(int rc, const struct ik_error *err)
{
    ik_cli_errorf("%s%s", rc == ENOSPC || rc == EDQUOT ? "disk full: " : "",
                  err->message[0] ? err->message : ik_strerror(rc));
    return ik_cli_exit_code(rc == ENOENT || rc == EINVAL ? IK_EINVALID : rc);
}

/* An integer option's value in [0, max]; prints what was wrong and returns -1 otherwise. */
static int parse_count(const char *opt, const char *v, int64_t max, int64_t *out)
{
    char *end;
    long long n;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > max) {
        ik_cli_errorf("%s takes an integer from 0 to %lld, not '%s'", opt, (long long)max, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int cmd_add(int argc, char **argv)
{
    struct ik_pin p;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    uint64_t gen = 0;
    int64_t n;
    int rc, timeout_ms = 0;
    ik_pin_init(&p);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' && !p.cid) {
            p.cid = a;
            continue;
        }
        if (!v) {
            ik_cli_errorf("pin add: option '%s' needs a value", a);
            return IK_EXIT_USAGE;
        }
        i++;
        if (strcmp(a, "--name") == 0)
            p.name = v;
        else if (strcmp(a, "--type") == 0)
            p.pin_type = v;
        else if (strcmp(a, "--backend") == 0)
            p.backend = v;
        else if (strcmp(a, "--metadata") == 0)
            p.metadata = v;
        else if (strcmp(a, "--vfs-path") == 0)
            p.vfs_path = v;
        else if (strcmp(a, "--size") == 0) {
            if (parse_count(a, v, INT64_MAX, &n))
                return IK_EXIT_USAGE; /* a negative size would be stored as null */
            p.size_bytes = n;
        } else if (strcmp(a, "--replication") == 0) {
            if (parse_count(a, v, INT32_MAX, &n))
                return IK_EXIT_USAGE;
            p.replication_factor = (int32_t)n;
        } else if (strcmp(a, "--timeout") == 0) {
            if (ik_cli_parse_timeout(v, &timeout_ms))
                return IK_EXIT_USAGE;
        } else {
            ik_cli_errorf("pin add: unknown option '%s'", a);
            return IK_EXIT_USAGE;
        }
    }
    if (!p.cid)
        return ik_cli_usage_error("pin", "add");
    if ((rc = open_client(timeout_ms, &c)) != 0)
        return rc;
    rc = ik_client_pin_add(c, &p, &gen, &err);
    ik_client_close(c);
    if (rc != 0)
        return fail(rc, &err);
    printf("pinned %s (generation %llu)\n", p.cid, (unsigned long long)gen);
    if (err.message[0])
        fprintf(stderr, "ipfs-kit: warning: %s\n", err.message);
    return 0;
}

static int cmd_rm_touch(bool touch, int argc, char **argv)
{
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    const char *cid = NULL;
    uint64_t gen = 0;
    int rc, timeout_ms = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (ik_cli_parse_timeout(argv[++i], &timeout_ms))
                return IK_EXIT_USAGE;
        } else if (!cid && argv[i][0] != '-') {
            cid = argv[i];
        } else {
            return ik_cli_usage_error("pin", touch ? "touch" : "rm");
        }
    }
    if (!cid)
        return ik_cli_usage_error("pin", touch ? "touch" : "rm");
    if ((rc = open_client(timeout_ms, &c)) != 0)
        return rc;
    rc = touch ? ik_client_pin_touch(c, cid, &gen, &err) : ik_client_pin_remove(c, cid, &gen, &err);
    ik_client_close(c);
    if (rc == ENOENT) {
        ik_cli_errorf("%s: not pinned", cid);
        return IK_EXIT_DATAERR;
    }
    if (rc != 0)
        return fail(rc, &err);
    printf("%s %s (generation %llu)\n", touch ? "touched" : "unpinned", cid,
           (unsigned long long)gen);
    if (err.message[0])
        fprintf(stderr, "ipfs-kit: warning: %s\n", err.message);
    return 0;
}

/* Copies a non-regular input (a pipe, a terminal) into a memfd the store can map. */
static int spool(int in, int *out)
{
    char buf[1 << 16];
    int fd = memfd_create("ipfs-kit-import", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ssize_t n;
    if (fd < 0)
        return errno;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || write(fd, buf, (size_t)n) != n) {
            int e = errno;
            close(fd);
            return e ? e : EIO;
        }
    }
    /* sealed, the daemon maps it instead of copying it (it copies files that could change) */
    (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    *out = fd;
    return 0;
}

static int cmd_import(int argc, char **argv)
{
    struct ik_import_options o;
    struct ik_import_result res;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    struct stat st;
    const char *path = NULL;
    uint64_t gen = 0;
    int fd, rc, timeout_ms = 0;
    ik_import_options_init(&o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--skip-invalid") == 0)
            o.skip_invalid = true;
        else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "auto") == 0)
                o.format = IK_IMPORT_AUTO;
            else if (strcmp(v, "kubo") == 0 || strcmp(v, "kubo_json") == 0)
                o.format = IK_IMPORT_KUBO_JSON;
            else if (strcmp(v, "jsonl") == 0)
                o.format = IK_IMPORT_JSONL;
            else if (strcmp(v, "csv") == 0)
                o.format = IK_IMPORT_CSV;
            else if (strcmp(v, "arrow") == 0)
                o.format = IK_IMPORT_ARROW;
            else {
                ik_cli_errorf("--format takes auto, kubo_json, jsonl, csv or arrow, not '%s'", v);
                return IK_EXIT_USAGE;
            }
        } else if (strcmp(a, "--backend") == 0 && i + 1 < argc)
            o.default_backend = argv[++i];
        else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            if (ik_cli_parse_timeout(argv[++i], &timeout_ms))
                return IK_EXIT_USAGE;
        } else if (!path && (a[0] != '-' || strcmp(a, "-") == 0))
            path = a;
        else {
            ik_cli_errorf("pin import: unknown option '%s'", a);
            return IK_EXIT_USAGE;
        }
    }
    if (!path)
        return ik_cli_usage_error("pin", "import");
    fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ik_cli_errorf("%s: %s", path, strerror(errno));
        return IK_EXIT_NOINPUT;
    }
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        int m = -1;
        rc = spool(fd, &m);
        close(fd);
        if (rc != 0) {
            ik_cli_errorf("%s: %s", path, strerror(rc));
            return IK_EXIT_NOINPUT;
        }
        fd = m;
    }
    if ((rc = open_client(timeout_ms, &c)) != 0) {
        close(fd);
        return rc;
    }
    rc = ik_client_import_fd(c, fd, &o, &res, &gen, &err);
    ik_client_close(c);
    close(fd);
    if (rc != 0)
        return fail(rc, &err);
    printf("imported %lld pins", (long long)res.imported);
    if (res.skipped)
        printf(", skipped %lld invalid (first: %s)", (long long)res.skipped, res.first_skip);
    printf(" (generation %llu)\n", (unsigned long long)gen);
    if (err.message[0])
        fprintf(stderr, "ipfs-kit: warning: %s\n", err.message);
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    struct ik_cli_query_opts o;
    struct ik_query q;
    struct ik_error err = {{0}};
    int rc = 0;
    bool all_peers = false; /* --all-peers: this node and every peer (docs/distributed.md) */
    ik_cli_query_opts_init(&o);
    ik_query_init(&q, "pin_index");
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
        if (strcmp(a, "--all-peers") == 0) {
            all_peers = true;
            continue;
        }
        k = ik_cli_query_option(&o, &q, argc, argv, &i);
        if (k < 0) {
            rc = IK_EXIT_USAGE;
            break;
        }
        if (k > 0)
            continue;
        if (!v) {
            ik_cli_errorf("pin list: unknown option '%s'", a);
            rc = IK_EXIT_USAGE;
            break;
        }
        i++;
        if (strcmp(a, "--type") == 0)
            rc = ik_query_filter_str(&q, "pin_type", IK_OP_EQ, v, &err);
        else if (strcmp(a, "--backend") == 0)
            rc = ik_query_filter_str(&q, "backend", IK_OP_EQ, v, &err);
        else if (strcmp(a, "--cid") == 0)
            rc = ik_query_filter_str(&q, "cid", IK_OP_EQ, v, &err);
        else if (strcmp(a, "--name-contains") == 0)
            rc = ik_query_filter_str(&q, "name", IK_OP_CONTAINS, v, &err);
        else if (strcmp(a, "--vfs-prefix") == 0)
            rc = ik_query_filter_str(&q, "vfs_path", IK_OP_PATH_PREFIX, v, &err);
        else {
            ik_cli_errorf("pin list: unknown option '%s'", a);
            rc = IK_EXIT_USAGE;
        }
    }
    if (rc == 0 && all_peers)
        rc = ik_cli_run_all_peers(&o, &q, "pins");
    else if (rc == 0)
        rc = ik_cli_run_query(&o, &q, "pins");
    else if (err.message[0])
        ik_cli_errorf("%s", err.message);
    ik_query_reset(&q);
    return rc;
}

/* `pin drop-import VERSION`: ik_store_drop_import, with what was lost said on stdout. */
static int cmd_drop_import(int argc, char **argv)
{
    struct ik_dropped_import out;
    struct ik_error err = {{0}};
    char dir[4096], log[4200], line[1024], *end;
    unsigned long long v;
    int rc, fd;
    if (argc != 1 || argv[0][0] < '0' || argv[0][0] > '9')
        return ik_cli_usage_error("pin", "drop-import");
    errno = 0;
    v = strtoull(argv[0], &end, 10);
    if (errno || *end || v == 0) {
        ik_cli_errorf("drop-import takes the pending import's version (an integer > 0), not '%s'",
                      argv[0]);
        return IK_EXIT_USAGE;
    }
    if ((rc = ik_data_dir(dir, sizeof dir, &err)) != 0 ||
        (rc = ik_store_drop_import(dir, v, &out, &err)) != 0)
        return fail(rc == EEXIST ? EINVAL : rc, &err); /* refused: 65, as a wrong version */
    snprintf(line, sizeof line,
             "dropped import version %llu: %lld pins (%lld journal bytes) are lost and not in "
             "the store (its journal: %s)%s\n"
             "the store is now at version %llu; changes since any older version are gone "
             "(clients re-read the table)\n",
             (unsigned long long)out.version, (long long)out.rows, (long long)out.bytes, out.why,
             out.journal_removed ? "; the damaged journal file is removed" : "",
             (unsigned long long)out.new_version);
    fputs(line, stdout);
    /* and in the store's log, beside the refusals that named this command (best effort: the
     * drop is committed) */
    snprintf(log, sizeof log, "%s/daemon.log", dir);
    if ((fd = ik__open_nofollow(AT_FDCWD, log, O_WRONLY | O_CREAT | O_APPEND, 0600, NULL)) >= 0) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = ';';
        dprintf(fd, "ipfs-kit pin drop-import: %s", line);
        close(fd);
    }
    return 0;
}

int ik_cli_pin(int argc, char **argv)
{
    if (argc < 1)
        return ik_cli_usage_error("pin", NULL);
    if (strcmp(argv[0], "add") == 0)
        return cmd_add(argc - 1, argv + 1);
    if (strcmp(argv[0], "rm") == 0)
        return cmd_rm_touch(false, argc - 1, argv + 1);
    if (strcmp(argv[0], "touch") == 0)
        return cmd_rm_touch(true, argc - 1, argv + 1);
    if (strcmp(argv[0], "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0 || strcmp(argv[0], "ls") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(argv[0], "changes") == 0)
        return ik_cli_pin_changes(argc - 1, argv + 1);
    if (strcmp(argv[0], "drop-import") == 0)
        return cmd_drop_import(argc - 1, argv + 1);
    ik_cli_errorf("unknown pin command '%s' (add, rm, touch, import, list, changes, drop-import)",
                  argv[0]);
    return IK_EXIT_USAGE;
}
