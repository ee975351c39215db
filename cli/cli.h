/* Shared declarations of the ipfs-kit command line: exit codes and subcommand entry points. */
#ifndef IK_CLI_H
#define IK_CLI_H

#include "ipfskit/arrow.h"
#include "ipfskit/client.h"
#include "ipfskit/query.h"

/* Exit codes (sysexits.h values where one fits). */
enum {
    IK_EXIT_OK = 0,
    IK_EXIT_USAGE = 2,
    IK_EXIT_DATAERR = 65,     /* invalid input data */
    IK_EXIT_NOINPUT = 66,     /* input missing or unreadable */
    IK_EXIT_UNAVAILABLE = 69, /* the daemon a command needs is not running */
    IK_EXIT_SOFTWARE = 70,
    IK_EXIT_IOERR = 74, /* output could not be written */
    IK_EXIT_TEMPFAIL = 75,  /* try again later (the store is busy, the daemon does not answer) */
};

extern const char *ik_cli_prog;

int ik_cli_arrow(int argc, char **argv);
int ik_cli_pin(int argc, char **argv);
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
/* Prints "ipfs-kit: <msg>" on one line to stderr. */
void ik_cli_errorf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Exit code for a library error code. */
int ik_cli_exit_code(int rc);

#endif
