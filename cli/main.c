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
    switch (rc) {
    case 0:
        return IK_EXIT_OK;
    case IK_EFORMAT:
    case IK_ELIMIT:
    case IK_EINVALID:
    case ENOTSUP:
        return IK_EXIT_DATAERR;
    case ENOENT:
    case EACCES:
    case EISDIR:
        return IK_EXIT_NOINPUT;
    case EIO:
    case ENOSPC:
    case EDQUOT:
    case EPIPE:
        return IK_EXIT_IOERR;
    case EINVAL:
        return IK_EXIT_USAGE;
    default:
        return IK_EXIT_SOFTWARE;
    }
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: ipfs-kit <command> [args]\n"
           "\n"
           "commands:\n"
           "  arrow validate FILE              check an Arrow IPC file or stream\n"
           "  arrow convert IN OUT [--to stream|file] [--compression none|lz4|zstd]\n"
           "  arrow cat FILE [--format table|json|csv] [--limit N]\n"
           "  arrow schema FILE\n"
           "  arrow sample-pins OUT [--rows N] [--seed S] [--to stream|file] [--format "
           "arrow|jsonl|kubo_json|csv]\n"
           "\n"
           "  daemon run|start|stop|status     the pin daemon on $IPFS_KIT_PATH\n"
           "  pin add CID [--name N] [--type T] [--backend B] [--size N] [--metadata JSON]\n"
           "          [--vfs-path P] [--replication N]\n"
           "  pin rm CID | pin touch CID\n"
           "  pin import FILE|- [--format auto|kubo_json|jsonl|csv|arrow] [--skip-invalid]\n"
           "  pin list [--type T] [--backend B] [--cid C] [--name-contains S]\n"
           "          [--vfs-prefix P] [--columns a,b] [--limit N] [--offset N]\n"
           "  metrics | vfs stats | backend health\n"
           "  sync [NAME] [--once]             sync the pin index from kubo / IPFS Cluster now\n"
           "\n"
           "query options: --format table|json|jsonl|csv|arrow, --limit, --offset, --columns,\n"
           "  --method auto|zero_copy|ipc_stream|direct|traditional, --compression none|lz4|zstd,\n"
           "  --source snapshot|sqlite (direct method)\n"
           "global option (before the command): --path DIR (default $IPFS_KIT_PATH or "
           "~/.ipfs_kit)\n"
           "  version\n"
           "\n"
           "FILE may be '-' for standard input, OUT '-' for standard output.\n");
}

int main(int argc, char **argv)
{
    while (argc >= 3 && strcmp(argv[1], "--path") == 0) {
        setenv("IPFS_KIT_PATH", argv[2], 1);
        argc -= 2;
        argv += 2;
    }
    if (argc < 2) {
        usage(stderr);
        return IK_EXIT_USAGE;
    }
    if (strcmp(argv[1], "arrow") == 0)
        return ik_cli_arrow(argc - 2, argv + 2);
    if (strcmp(argv[1], "pin") == 0)
        return ik_cli_pin(argc - 2, argv + 2);
    if (strcmp(argv[1], "daemon") == 0)
        return ik_cli_daemon(argc - 2, argv + 2);
    if (strcmp(argv[1], "sync") == 0)
        return ik_cli_sync(argc - 2, argv + 2);
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
        usage(stdout);
        return IK_EXIT_OK;
    }
    ik_cli_errorf("unknown command '%s' (try 'ipfs-kit help')", argv[1]);
    return IK_EXIT_USAGE;
}
