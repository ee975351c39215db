/* ipfs-kitd: the daemon program. `ipfs-kit daemon run|start` executes it (from the directory
 * the ipfs-kit binary is in) with the data directory as its one argument; run by hand it does
 * the same as `ipfs-kit daemon run`. It is a program of its own so that the command line never
 * loads the servers' libraries (libmicrohttpd with GnuTLS, gRPC), whose loading and
 * initialisation cost milliseconds of every process start. `ipfs-kitd --cli ARGS` is the
 * command line itself, with the commands that need gRPC (`peers status`, `pin list
 * --all-peers`): ipfs-kit hands those over to it (cli/entry.c). */
#include <stdio.h>
#include <string.h>

#include "../cli/cli.h"
#include "daemon.h"

int main(int argc, char **argv)
{
    struct ik_error err = {{0}};
    int rc;
    if (argc >= 2 && strcmp(argv[1], "--cli") == 0)
        return ik_cli_main(argc - 1, argv + 1);
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: ipfs-kitd DATA_DIR   (normally started by 'ipfs-kit daemon "
                        "start' or 'ipfs-kit daemon run')\n");
        return IK_EXIT_USAGE;
    }
    rc = ik_daemon_run(argv[1], false, &err);
    if (rc != 0) {
        fprintf(stderr, "ipfs-kit: daemon: %s\n", err.message);
        return ik_exit_code(rc);
    }
    return IK_EXIT_OK;
}
