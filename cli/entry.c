/* ipfs-kit's entry point, and the hand-over of the commands that speak Arrow Flight to other
 * daemons (`peers status`, `pin list --all-peers`): those run in ipfs-kitd, the program that
 * links gRPC (daemon/main.c, `ipfs-kitd --cli ...`), so that no other command loads gRPC's
 * libraries at start. This file is linked into ipfs-kit only; ipfs-kitd links peers_cmd.c. */
#include <stdlib.h>

#include "cli.h"

/* Runs this command line again in ipfs-kitd (same arguments, same environment). */
static int hand_over(void)
{
    int n = ik_cli_argc > 0 ? ik_cli_argc : 1;
    char **args = calloc((size_t)n + 2, sizeof *args);
    int rc;
    if (!args) {
        ik_cli_errorf("out of memory");
        return IK_EXIT_SOFTWARE;
    }
    args[1] = "--cli";
    for (int i = 1; i < ik_cli_argc; i++)
        args[i + 1] = ik_cli_argv[i];
    rc = ik_cli_exec_kitd(args); /* returns only when ipfs-kitd could not be run */
    free(args);
    return rc;
}

int ik_cli_run_all_peers(struct ik_cli_query_opts *o, struct ik_query *q, const char *noun)
{
    (void)o;
    (void)q;
    (void)noun;
    return hand_over();
}

int ik_cli_peers(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return hand_over();
}

int main(int argc, char **argv)
{
    return ik_cli_main(argc, argv);
}
