/* `ipfs-kit daemon run|start|stop|status`: run in the foreground; start in the background
 * (returns once the socket answers, with the daemon's PID; waits for a daemon another start
 * has begun); stop cleanly (waits until the lock is released); status (exit 0 running,
 * 3 not running, 75 holding the lock but not answering), as a line or one JSON object. */
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arrow/internal.h"
#include "ipfskit/config.h"
#include "cli.h"
#include "ipfskit/client.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int resolve_dir(char *dir, size_t cap)
{
    struct ik_error err = {{0}};
    int rc = ik_data_dir(dir, cap, &err);
    if (rc != 0)
        ik_cli_errorf("%s", err.message);
    return rc;
}

/* Asks the daemon for its status; 0 and the reply object when it answers, else the error
 * (IK_EDAEMON: nothing listens; ETIMEDOUT: it listens but does not answer). */
static int ping(const char *dir, json_t **reply, int timeout_ms)
{
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    char *text = NULL;
    int rc;
    ik_client_options_init(&o);
    o.path = dir;
    o.timeout_ms = timeout_ms;
    if ((rc = ik_client_open(&o, &c, &err)) != 0)
        return rc;
    rc = ik_client_call(c, "{\"v\":1,\"op\":\"status\"}", &text, &err);
    ik_client_close(c);
    if (rc == 0 && reply)
        *reply = json_loads(text, 0, NULL);
    free(text);
    return rc;
}

int ik_cli_exec_kitd(char **args)
{
    char self[PATH_MAX], path[PATH_MAX + 16];
    char *slash;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        ik_cli_errorf("cannot find this program's directory (/proc/self/exe: %s)", strerror(errno));
        return IK_EXIT_SOFTWARE;
    }
    self[n] = 0;
    slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    snprintf(path, sizeof path, "%s/ipfs-kitd", slash ? self : ".");
    args[0] = path;
    fflush(NULL);
    execv(path, args);
    ik_cli_errorf("cannot run %s: %s (ipfs-kitd is built and installed beside ipfs-kit)", path,
                  strerror(errno));
    return IK_EXIT_UNAVAILABLE;
}

/* Replaces this process with the daemon program (see daemon/main.c). Returns only on failure,
 * with the reason printed and the exit code. */
static int exec_daemon(const char *dir)
{
    char *args[3] = {NULL, (char *)dir, NULL};
    return ik_cli_exec_kitd(args);
}

static int cmd_run(const char *dir)
{
    return exec_daemon(dir);
}

static void print_log_tail(const char *log)
{
    char buf[2048];
    int fd = ik__open_nofollow(AT_FDCWD, log, O_RDONLY, 0, NULL);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    size_t n;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    fseek(f, 0, SEEK_END);
    if (ftell(f) > (long)sizeof buf - 1)
        fseek(f, -(long)(sizeof buf - 1), SEEK_END);
    else
        fseek(f, 0, SEEK_SET);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "--- %s (last lines) ---\n%s", log, buf);
}

static int already_running(const char *dir, json_t *st)
{
    printf("daemon already running (PID %lld) on %s/daemon.sock\n",
           (long long)json_integer_value(json_object_get(st, "pid")), dir);
    json_decref(st);
    return 0;
}

/* A daemon holds the lock but did not answer. One that is not listening yet is starting
 * (another `daemon start`, or a big store to open): wait up to timeout_s for it to answer.
 * One that listens but says nothing is stopped or hung. Returns 0 when it answered, 1 when
 * the lock was let go meanwhile (start one), else the exit code (message printed). */
static int wait_starting(const char *dir, long holder, int timeout_s)
{
    double deadline = ik_now_ms() + timeout_s * 1000.0;
    json_t *st = NULL;
    long pid = holder;
    bool said = false;
    int rc;
    while ((rc = ping(dir, &st, 1000)) != 0) {
        if (ik_lock_holder(dir, &pid) != 0)
            return 1;
        if (rc != IK_EDAEMON) {
            ik_cli_errorf("daemon (PID %ld) holds the lock of %s but is not answering on its "
                          "socket (stopped or hung?); check it with 'ipfs-kit daemon status', "
                          "stop it with 'ipfs-kit daemon stop' and retry",
                          pid, dir);
            return IK_EXIT_TEMPFAIL;
        }
        if (ik_now_ms() > deadline) {
            ik_cli_errorf("a daemon (PID %ld) is still starting on %s after %d s (not listening "
                          "yet); wait for it ('ipfs-kit daemon status') or see %s/daemon.log",
                          pid, dir, timeout_s, dir);
            return IK_EXIT_TEMPFAIL;
        }
        if (!said)
            fprintf(stderr, "%s: a daemon (PID %ld) is starting on %s; waiting for it\n",
                    ik_cli_prog, pid, dir);
        said = true;
        sleep_ms(20);
    }
    already_running(dir, st);
    return 0;
}

static int cmd_start(const char *dir, int timeout_s)
{
    char log[PATH_MAX + 16];
    struct ik_error err = {{0}};
    json_t *st = NULL;
    long holder = 0;
    pid_t pid;
    double deadline;
    int log_fd;
    int rc = ping(dir, &st, 2000);
    if (rc == 0)
        return already_running(dir, st);
    if ((rc = ik_data_dir_ensure(dir, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    if (ik_data_dir_check(dir, NULL, &err) != 0) { /* the daemon would refuse it too */
        ik_cli_errorf("daemon: %s", err.message);
        return IK_EXIT_CONFIG;
    }
    if (ik_lock_holder(dir, &holder) == 0 && (rc = wait_starting(dir, holder, timeout_s)) != 1)
        return rc;
    snprintf(log, sizeof log, "%s/daemon.log", dir);
    /* Opened here, so that a log we must not write (a planted link) stops the start with the
     * reason on the terminal rather than leaving a daemon with nowhere to report. */
    log_fd = ik__open_nofollow(AT_FDCWD, log, O_WRONLY | O_CREAT | O_APPEND, 0600, &err);
    if (log_fd < 0) {
        ik_cli_errorf("daemon: %s", err.message);
        return IK_EXIT_CONFIG;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        ik_cli_errorf("fork: %s", strerror(errno));
        close(log_fd);
        return IK_EXIT_SOFTWARE;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        setsid();
        if (pid == 0 && fork() > 0)
            _exit(0); /* the grandchild is the daemon: never a zombie of our caller */
        if (nul >= 0)
            dup2(nul, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        close(log_fd);
        _exit(exec_daemon(dir)); /* returns only when ipfs-kitd could not be run */
    }
    close(log_fd);
    waitpid(pid, NULL, 0);
    deadline = ik_now_ms() + timeout_s * 1000.0;
    while (ik_now_ms() < deadline) {
        if (ping(dir, &st, 1000) == 0) {
            printf("daemon started (PID %lld), socket %s/daemon.sock, snapshot version %lld, "
                   "%lld pins\n",
                   (long long)json_integer_value(json_object_get(st, "pid")), dir,
                   (long long)json_integer_value(json_object_get(st, "snapshot_version")),
                   (long long)json_integer_value(json_object_get(st, "pins")));
            json_decref(st);
            return 0;
        }
        if (ik_lock_holder(dir, &holder) != 0 &&
            ik_now_ms() > deadline - timeout_s * 1000.0 + 2000) {
            ik_cli_errorf("the daemon exited before answering");
            print_log_tail(log);
            return IK_EXIT_UNAVAILABLE;
        }
        sleep_ms(20);
    }
    ik_cli_errorf("the daemon did not answer within %d s (see %s)", timeout_s, log);
    return IK_EXIT_TEMPFAIL;
}

static int wait_unlocked(const char *dir, int timeout_s)
{
    double deadline = ik_now_ms() + timeout_s * 1000.0;
    long pid;
    while (ik_lock_holder(dir, &pid) == 0) {
        if (ik_now_ms() > deadline)
            return -1;
        sleep_ms(10);
    }
    return 0;
}

/* Waits (until `deadline`) for `pid` to be gone or a zombie: it lets go of the lock before it
 * has finished exiting. Only watched, never signalled. */
static void wait_exited(long pid, double deadline)
{
    char path[64], buf[256];
    while (pid > 0 && kill((pid_t)pid, 0) == 0 && ik_now_ms() < deadline) {
        FILE *f;
        const char *state;
        size_t n = 0;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        if ((f = fopen(path, "r")) != NULL) {
            n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
        }
        buf[n] = 0;
        state = strrchr(buf, ')');
        if (state && state[1] == ' ' && state[2] == 'Z')
            return;
        sleep_ms(10);
    }
}

static int cmd_stop(const char *dir, int timeout_s)
{
    double deadline = ik_now_ms() + timeout_s * 1000.0;
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    char *reply = NULL;
    long pid = 0;
    int rc;
    bool is_daemon = false;
    ik_client_options_init(&o);
    o.path = dir;
    if ((rc = ik_client_open(&o, &c, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    if (ik_lock_holder_role(dir, &pid, &is_daemon) != 0 || !is_daemon)
        pid = 0; /* whose exit to wait for, after the lock goes */
    rc = ik_client_call(c, "{\"v\":1,\"op\":\"shutdown\"}", &reply, &err);
    ik_client_close(c);
    free(reply);
    if (rc != 0) {
        if (ik_lock_holder_role(dir, &pid, &is_daemon) != 0) {
            printf("no daemon running\n");
            return 0;
        }
        if (!is_daemon) {
            /* a direct write (pin import with no daemon) holds the lock: not ours to stop */
            printf("no daemon running (PID %ld holds the lock of %s for a direct write; not "
                   "signalling it)\n",
                   pid, dir);
            return 0;
        }
        fprintf(stderr, "ipfs-kit: daemon (PID %ld) does not answer; sending SIGTERM\n", pid);
        if (kill((pid_t)pid, SIGTERM) != 0) {
            ik_cli_errorf("kill %ld: %s", pid, strerror(errno));
            return 1;
        }
    }
    if (wait_unlocked(dir, timeout_s) != 0) {
        ik_cli_errorf("the daemon did not stop within %d s", timeout_s);
        return 1;
    }
    wait_exited(pid, deadline);
    printf("daemon stopped\n");
    return 0;
}

/* Status of a daemon whose snapshot builds fail: committed writes are not visible yet. */
static void build_warning(json_t *st)
{
    json_t *b = json_object_get(st, "snapshot_build");
    if (b && json_is_false(json_object_get(b, "ok")))
        fprintf(stderr,
                "ipfs-kit: warning: snapshot builds are failing (%lld retries, for %.1f s): %s; "
                "the newest writes are committed but not visible yet\n",
                (long long)json_integer_value(json_object_get(b, "retries")),
                json_number_value(json_object_get(b, "failing_for_s")),
                json_string_value(json_object_get(b, "error")));
}

/* Prints one JSON object (compact) and frees it. */
static void print_json(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(o);
}

/* Where Flight serves, or why not, in a running daemon's status line (before HTTP). */
static void flight_part(json_t *st)
{
    json_t *where = json_object_get(st, "flight");
    const char *off = json_string_value(json_object_get(st, "flight_off"));
    size_t i;
    if (json_array_size(where) == 0) {
        printf("Flight off (%s), ", off ? off : "unknown");
        return;
    }
    printf("Flight");
    for (i = 0; i < json_array_size(where); i++)
        printf(" %s", json_string_value(json_array_get(where, i)));
    if (off)
        printf(" (partly off: %s)", off);
    printf(", ");
}

static int cmd_status(const char *dir, bool json, int timeout_ms)
{
    json_t *st = NULL;
    long pid = 0;
    if (ping(dir, &st, timeout_ms) == 0) {
        if (json) {
            json_object_del(st, "ok");
            json_object_set_new(st, "state", json_string("running"));
            print_json(st);
            return 0;
        }
        const char *http = json_string_value(json_object_get(st, "http"));
        const char *off = json_string_value(json_object_get(st, "http_off"));
        printf("running: PID %lld, %lld pins, snapshot version %lld, uptime %.1f s, ",
               (long long)json_integer_value(json_object_get(st, "pid")),
               (long long)json_integer_value(json_object_get(st, "pins")),
               (long long)json_integer_value(json_object_get(st, "snapshot_version")),
               json_number_value(json_object_get(st, "uptime_s")));
        const char *scheme = json_string_value(json_object_get(st, "http_scheme"));
        flight_part(st);
        if (http)
            printf("HTTP %s://%s\n", scheme ? scheme : "http", http);
        else
            printf("HTTP off (%s)\n", off ? off : "unknown");
        build_warning(st);
        json_decref(st);
        return 0;
    }
    if (ik_lock_holder(dir, &pid) == 0) {
        if (json)
            print_json(json_pack("{s:s,s:I,s:s}", "state", "not_answering", "pid", (json_int_t)pid,
                                 "path", dir));
        else
            printf("not answering: PID %ld holds the lock of %s but its socket does not answer "
                   "within %g s\n",
                   pid, dir, timeout_ms / 1000.0);
        return IK_EXIT_TEMPFAIL;
    }
    if (json)
        print_json(json_pack("{s:s,s:s}", "state", "not_running", "path", dir));
    else
        printf("not running (%s)\n", dir);
    return 3;
}

/* What every daemon command needs before it looks at the daemon: a data directory of ours
 * and a config.json that loads (else "not running" or "not answering" would be the message). */
static int preflight(const char *dir)
{
    struct ik_client_options o;
    struct ik_client *c = NULL;
    int rc;
    ik_client_options_init(&o);
    o.path = dir;
    rc = ik_cli_open(&o, &c);
    ik_client_close(c);
    return rc;
}

int ik_cli_daemon(int argc, char **argv)
{
    char dir[PATH_MAX];
    int timeout_ms = 0, rc;
    bool json = false;
    if (argc < 1)
        return ik_cli_usage_error("daemon", NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (ik_cli_parse_timeout(argv[++i], &timeout_ms) != 0)
                return IK_EXIT_USAGE;
        } else if (strcmp(argv[0], "status") == 0 && strcmp(argv[i], "--format") == 0 &&
                   i + 1 < argc) {
            json = strcmp(argv[++i], "json") == 0;
            if (!json && strcmp(argv[i], "table") != 0) {
                ik_cli_errorf("--format takes table or json, not '%s'", argv[i]);
                return IK_EXIT_USAGE;
            }
        } else {
            ik_cli_errorf("daemon %s: unknown option '%s'", argv[0], argv[i]);
            return IK_EXIT_USAGE;
        }
    }
    if (resolve_dir(dir, sizeof dir) != 0)
        return IK_EXIT_CONFIG;
    if ((rc = preflight(dir)) != 0)
        return rc;
    if (strcmp(argv[0], "run") == 0)
        return cmd_run(dir);
    if (strcmp(argv[0], "start") == 0)
        return cmd_start(dir, timeout_ms ? (timeout_ms + 999) / 1000 : 60);
    if (strcmp(argv[0], "stop") == 0)
        return cmd_stop(dir, timeout_ms ? (timeout_ms + 999) / 1000 : 60);
    if (strcmp(argv[0], "status") == 0)
        return cmd_status(dir, json, timeout_ms ? timeout_ms : 2000);
    ik_cli_errorf("unknown daemon command '%s' (run, start, stop, status)", argv[0]);
    return IK_EXIT_USAGE;
}
