/* `ipfs-kit daemon run|start|stop|status`: run in the foreground; start in the background
 * (returns once the socket answers, with the daemon's PID); stop cleanly (waits until the
 * lock is released); status (exit 0 running, 3 not running, 1 holding the lock but not
 * answering). */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "daemon.h"
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

/* Asks the daemon for its status; 0 and the reply object when it answers. */
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

static int cmd_run(const char *dir)
{
    struct ik_error err = {{0}};
    int rc = ik_daemon_run(dir, false, &err);
    if (rc != 0) {
        ik_cli_errorf("daemon: %s", err.message);
        return rc == IK_ELOCKED ? 1 : ik_cli_exit_code(rc);
    }
    return 0;
}

static void print_log_tail(const char *log)
{
    char buf[2048];
    FILE *f = fopen(log, "r");
    size_t n;
    if (!f)
        return;
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

static int cmd_start(const char *dir, int timeout_s)
{
    char log[PATH_MAX + 16];
    struct ik_error err = {{0}};
    json_t *st = NULL;
    long holder = 0;
    pid_t pid;
    double deadline;
    if (ping(dir, &st, 2000) == 0) {
        printf("daemon already running (PID %lld) on %s/daemon.sock\n",
               (long long)json_integer_value(json_object_get(st, "pid")), dir);
        json_decref(st);
        return 0;
    }
    if (ik_data_dir_ensure(dir, &err) != 0) {
        ik_cli_errorf("%s", err.message);
        return IK_EXIT_NOINPUT;
    }
    if (ik_lock_holder(dir, &holder) == 0) {
        ik_cli_errorf("Database is locked by daemon (PID %ld), which does not answer; stop it "
                      "(ipfs-kit daemon stop, or kill %ld) and retry",
                      holder, holder);
        return 1;
    }
    snprintf(log, sizeof log, "%s/daemon.log", dir);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        ik_cli_errorf("fork: %s", strerror(errno));
        return IK_EXIT_SOFTWARE;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int nul = open("/dev/null", O_RDONLY);
        setsid();
        if (pid == 0 && fork() > 0)
            _exit(0); /* the grandchild is the daemon: never a zombie of our caller */
        if (nul >= 0)
            dup2(nul, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        _exit(ik_daemon_run(dir, false, &err) == 0
                  ? 0
                  : (fprintf(stderr, "ipfs-kit daemon: %s\n", err.message), 1));
    }
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
            return 1;
        }
        sleep_ms(20);
    }
    ik_cli_errorf("the daemon did not answer within %d s (see %s)", timeout_s, log);
    return 1;
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

static int cmd_stop(const char *dir, int timeout_s)
{
    struct ik_client_options o;
    struct ik_client *c = NULL;
    struct ik_error err = {{0}};
    char *reply = NULL;
    long pid = 0;
    int rc;
    ik_client_options_init(&o);
    o.path = dir;
    if ((rc = ik_client_open(&o, &c, &err)) != 0) {
        ik_cli_errorf("%s", err.message);
        return ik_cli_exit_code(rc);
    }
    rc = ik_client_call(c, "{\"v\":1,\"op\":\"shutdown\"}", &reply, &err);
    ik_client_close(c);
    free(reply);
    if (rc != 0) {
        if (ik_lock_holder(dir, &pid) != 0) {
            printf("no daemon running\n");
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
    printf("daemon stopped\n");
    return 0;
}

static int cmd_status(const char *dir)
{
    json_t *st = NULL;
    long pid = 0;
    if (ping(dir, &st, 2000) == 0) {
        char *text = json_dumps(st, JSON_COMPACT);
        const char *http = json_string_value(json_object_get(st, "http"));
        const char *off = json_string_value(json_object_get(st, "http_off"));
        printf("running: PID %lld, %lld pins, snapshot version %lld, uptime %.1f s, ",
               (long long)json_integer_value(json_object_get(st, "pid")),
               (long long)json_integer_value(json_object_get(st, "pins")),
               (long long)json_integer_value(json_object_get(st, "snapshot_version")),
               json_number_value(json_object_get(st, "uptime_s")));
        if (http)
            printf("HTTP http://%s\n", http);
        else
            printf("HTTP off (%s)\n", off ? off : "unknown");
        printf("%s\n", text ? text : "");
        free(text);
        json_decref(st);
        return 0;
    }
    if (ik_lock_holder(dir, &pid) == 0) {
        printf("not answering: PID %ld holds the lock of %s but its socket does not answer\n", pid,
               dir);
        return 1;
    }
    printf("not running (%s)\n", dir);
    return 3;
}

int ik_cli_daemon(int argc, char **argv)
{
    char dir[PATH_MAX];
    int timeout_s = 60;
    if (argc < 1) {
        ik_cli_errorf("usage: ipfs-kit daemon run|start|stop|status");
        return IK_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_s = atoi(argv[++i]);
        else {
            ik_cli_errorf("daemon %s: unknown option '%s'", argv[0], argv[i]);
            return IK_EXIT_USAGE;
        }
    }
    if (resolve_dir(dir, sizeof dir) != 0)
        return IK_EXIT_USAGE;
    if (strcmp(argv[0], "run") == 0)
        return cmd_run(dir);
    if (strcmp(argv[0], "start") == 0)
        return cmd_start(dir, timeout_s);
    if (strcmp(argv[0], "stop") == 0)
        return cmd_stop(dir, timeout_s);
    if (strcmp(argv[0], "status") == 0)
        return cmd_status(dir);
    ik_cli_errorf("unknown daemon command '%s' (run, start, stop, status)", argv[0]);
    return IK_EXIT_USAGE;
}
