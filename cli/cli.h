/* Shared declarations of the ipfs-kit command line: exit codes and subcommand entry points. */
#ifndef IK_CLI_H
#define IK_CLI_H

#include <stdio.h>

#include "ipfskit/arrow.h"
#include "ipfskit/client.h"
#include "ipfskit/query.h"

/* Exit codes: IK_EXIT_* in ipfskit/error.h (shared with the daemon program). */

extern const char *ik_cli_prog;

/* The command line: main.c. ipfs-kit's main (entry.c) and ipfs-kitd's (daemon/main.c, for the
 * commands that need Flight) call it; it keeps its argv for ik_cli_hand_over. */
int ik_cli_main(int argc, char **argv);
extern int ik_cli_argc;
extern char **ik_cli_argv;
/* Replaces this process with ipfs-kitd from this program's directory, running args[1..]
 * (args[0] is set here; NULL-terminated). Returns only on failure: message printed, exit code. */
int ik_cli_exec_kitd(char **args);

int ik_cli_arrow(int argc, char **argv);
int ik_cli_pin(int argc, char **argv);
int ik_cli_pin_changes(int argc, char **argv); /* changes_cmd.c */
int ik_cli_metrics(int argc, char **argv);
int ik_cli_vfs(int argc, char **argv);
int ik_cli_backend(int argc, char **argv);
int ik_cli_daemon(int argc, char **argv);
int ik_cli_sync(int argc, char **argv);

/* Options shared by the query commands. */
struct ik_cli_query_opts {
    const char *format; /* table, json, jsonl, csv, arrow */
    struct ik_client_options client;
};
void ik_cli_query_opts_init(struct ik_cli_query_opts *o);
int ik_cli_query_option(struct ik_cli_query_opts *o, struct ik_query *q, int argc, char **argv,
                        int *i);
/* Runs the query, prints rows and the "N of M <noun> · method via source · t ms" line. */
int ik_cli_run_query(struct ik_cli_query_opts *o, struct ik_query *q, const char *noun);
int ik_cli_sample(int argc, char **argv);
/* Prints a stream's rows in `format` (table, json, jsonl, csv, arrow); the stream is read, not
 * released (query_cmd.c). */
int ik_cli_print_rows(const char *format, struct ArrowArrayStream *s, struct ik_error *err);
/* peers_cmd.c (docs/distributed.md): `pin list --all-peers` runs the query here and on every
 * peer of config.json and prints the union with a node column; `peers status`. */
int ik_cli_run_all_peers(struct ik_cli_query_opts *o, struct ik_query *q, const char *noun);
int ik_cli_peers(int argc, char **argv);
/* Prints "ipfs-kit: <msg>" on one line to stderr. */
void ik_cli_errorf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Exit code for a library error code: the same failure gives the same code in every
 * command (README.md, "Exit codes"). */
int ik_cli_exit_code(int rc);

/* Opens a client; 0, or the exit code with the message printed: 78 for a data directory (or
 * daemon) of another user or a bad config.json. */
int ik_cli_open(const struct ik_client_options *o, struct ik_client **c);

/* usage.c: whether `cmd` (and `sub`, when not NULL) names a command; prints the usage of one
 * subcommand (`full`: with its options), of every subcommand of `cmd`, or of all (cmd NULL). */
bool ik_cli_is_command(const char *cmd, const char *sub);
void ik_cli_usage(FILE *f, const char *cmd, const char *sub, bool full);
/* Prints the subcommand's synopsis to stderr as an error; returns IK_EXIT_USAGE. */
int ik_cli_usage_error(const char *cmd, const char *sub);
/* Parses a --timeout value (seconds, fractions allowed, > 0) into milliseconds; prints the
 * error and returns -1 when it is not one. */
int ik_cli_parse_timeout(const char *v, int *ms);

#endif
