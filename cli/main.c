/* ipfs-kit: the command-line entry point; dispatches to the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef IK_VERSION
#define IK_VERSION "0.1.0"
#endif

const char *ik_cli_prog = "ipfs-kit";

void ik_cli_errorf(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    size_t i;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (i = 0; line[i]; i++) /* one line, whatever the message holds */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    fprintf(stderr, "%s: %s\n", ik_cli_prog, line);
}

int ik_cli_exit_code(int rc)
{
    return ik_exit_code(rc);
}

int ik_cli_open(const struct ik_client_options *o, struct ik_client **c)
{
    struct ik_error err = {{0}};
    int rc = ik_client_open(o, c, &err);
    if (rc == 0)
        return 0;
    ik_cli_errorf("%s", err.message);
    return rc == ENOMEM ? IK_EXIT_SOFTWARE : IK_EXIT_CONFIG; /* the directory, config.json */
}

int ik_cli_parse_timeout(const char *v, int *ms)
{
    char *end;
    double t;
    errno = 0;
    t = strtod(v, &end);
    if (errno || end == v || *end || !(t > 0) || t > 2e6) {
        ik_cli_errorf("--timeout takes a number of seconds greater than 0, not '%s'", v);
        return -1;
    }
    *ms = t * 1000 < 1 ? 1 : (int)(t * 1000 + 0.5);
    return 0;
}

/* `--help` or `-h` anywhere after the command: that command's usage on stdout. */
static bool wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int ik_cli_argc;
char **ik_cli_argv;

int ik_cli_main(int argc, char **argv)
{
    while (argc >= 3 && strcmp(argv[1], "--path") == 0) {
        setenv("IPFS_KIT_PATH", argv[2], 1);
        argc -= 2;
        argv += 2;
    }
    ik_cli_argc = argc;
    ik_cli_argv = argv;
    if (argc < 2) {
        ik_cli_usage(stderr, NULL, NULL, true);
        return IK_EXIT_USAGE;
    }
    if (wants_help(argc, argv) && ik_cli_is_command(argv[1], NULL)) {
        const char *sub = argc > 2 && argv[2][0] != '-' ? argv[2] : NULL;
        if (!sub || ik_cli_is_command(argv[1], sub)) { /* else the command names the error */
            ik_cli_usage(stdout, argv[1], sub, true);
            return IK_EXIT_OK;
        }
    }
    if (strcmp(argv[1], "arrow") == 0)
        return ik_cli_arrow(argc - 2, argv + 2);
    if (strcmp(argv[1], "pin") == 0)
        return ik_cli_pin(argc - 2, argv + 2);
    if (strcmp(argv[1], "daemon") == 0)
        return ik_cli_daemon(argc - 2, argv + 2);
    if (strcmp(argv[1], "sync") == 0)
        return ik_cli_sync(argc - 2, argv + 2);
    if (strcmp(argv[1], "peers") == 0)
        return ik_cli_peers(argc - 2, argv + 2);
    if (strcmp(argv[1], "metrics") == 0)
        return ik_cli_metrics(argc - 2, argv + 2);
    if (strcmp(argv[1], "vfs") == 0)
        return ik_cli_vfs(argc - 2, argv + 2);
    if (strcmp(argv[1], "backend") == 0)
        return ik_cli_backend(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("ipfs-kit %s\n", IK_VERSION);
        return IK_EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        ik_cli_usage(stdout, NULL, NULL, true);
        return IK_EXIT_OK;
    }
    ik_cli_errorf("unknown command '%s' (try 'ipfs-kit help')", argv[1]);
    return IK_EXIT_USAGE;
}
