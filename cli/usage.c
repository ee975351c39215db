/* The command line's usage texts, one entry per subcommand: `ipfs-kit help`, every
 * `ipfs-kit <cmd> [<sub>] --help` (or -h) and every usage error print from this one table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct usage {
    const char *cmd, *sub; /* sub NULL: a command without subcommands */
    const char *synopsis;  /* after "ipfs-kit " */
    const char *body;      /* what it does and its options; may be NULL */
};

#define TIMEOUT_OPT                                                                                \
    "  --timeout SECONDS  how long to wait for the daemon's answer (default: config.json\n"        \
    "                     arrow_ipc.timeout, 30 s)\n"

#define QUERY_OPTS                                                                                 \
    "  --format table|json|jsonl|csv|arrow   --limit N   --offset N   --columns a,b\n"             \
    "  --method auto|zero_copy|ipc_stream|direct|traditional\n"                                    \
    "  --compression none|lz4|zstd (ipc_stream)   --source snapshot|sqlite (direct)\n" TIMEOUT_OPT

static const struct usage usages[] = {
    {"arrow", "validate", "arrow validate FILE", "Checks an Arrow IPC file or stream.\n"},
    {"arrow", "convert",
     "arrow convert IN OUT [--to stream|file] [--compression none|lz4|zstd] [--fsync]",
     "Rewrites an Arrow IPC file or stream.\n"},
    {"arrow", "cat", "arrow cat FILE [--format table|json|csv] [--limit N]",
     "Prints the rows of an Arrow IPC file or stream.\n"},
    {"arrow", "schema", "arrow schema FILE", "Prints the schema of an Arrow IPC file or stream.\n"},
    {"arrow", "sample-pins",
     "arrow sample-pins OUT [--rows N] [--seed S] [--to stream|file] [--format arrow|jsonl|kubo]",
     "Writes N sample pins (pin_index schema).\n"},
    {"daemon", "run", "daemon run", "Runs the pin daemon on $IPFS_KIT_PATH in the foreground.\n"},
    {"daemon", "start", "daemon start [--timeout SECONDS]",
     "Starts the daemon in the background; returns once it answers (waits up to\n"
     "--timeout, default 60 s).\n"},
    {"daemon", "stop", "daemon stop [--timeout SECONDS]",
     "Stops the daemon and waits up to --timeout (default 60 s) for it to exit.\n"},
    {"daemon", "status", "daemon status [--format table|json] [--timeout SECONDS]",
     "Says whether the daemon runs: exit 0 running, 3 not running, 75 holding the lock\n"
     "but not answering within --timeout (default 2 s). --format json prints one object.\n"},
    {"pin", "add",
     "pin add CID [--name N] [--type recursive|direct|indirect] [--backend B]\n"
     "            [--size BYTES] [--metadata JSON] [--vfs-path PATH] [--replication N]\n"
     "            [--timeout SECONDS]",
     "Adds or replaces a pin (through the daemon when it runs).\n" TIMEOUT_OPT},
    {"pin", "rm", "pin rm CID [--timeout SECONDS]", "Removes a pin.\n" TIMEOUT_OPT},
    {"pin", "touch", "pin touch CID [--timeout SECONDS]",
     "Records an access to a pin (last_access, access_count).\n" TIMEOUT_OPT},
    {"pin", "import",
     "pin import FILE|- [--format auto|kubo_json|jsonl|csv|arrow] [--skip-invalid]\n"
     "            [--backend B] [--timeout SECONDS]",
     "Imports pins from a file (or standard input) in one transaction.\n" TIMEOUT_OPT},
    {"pin", "list",
     "pin list [--type T] [--backend B] [--cid C] [--name-contains S] [--vfs-prefix P]\n"
     "            [--all-peers] [query options]",
     "Lists pins (pin_index). --all-peers: this node's and every config.json peer's pins\n"
     "read at once (over Arrow Flight) with a node column; a peer that does not answer\n"
     "within peer_timeout_ms is named on stderr and the exit code is then 69\n"
     "(docs/distributed.md). Query options:\n" QUERY_OPTS},
    {"pin", "changes",
     "pin changes --since V [--follow] [--format table|json|jsonl|csv|arrow]\n"
     "            [--method auto|ipc_stream|direct|traditional] [--timeout SECONDS]",
     "What changed after version V: one row per pin (op upsert or delete, version, and for\n"
     "upserts the pin's columns). --follow keeps printing each new version's changes until\n"
     "interrupted (Ctrl-C: exit 0).\n" TIMEOUT_OPT},
    {"pin", "drop-import", "pin drop-import VERSION",
     "Gives up the pending import VERSION whose journal (journal/import.VERSION.arrow) a\n"
     "power cut lost or damaged, so that the store opens again: its pins are lost, the store\n"
     "moves to a new version, and changes since older versions are gone (re-read the table).\n"
     "Only with the daemon stopped; refused while the journal is valid (then it is applied).\n"},
    {"sync", "status", "sync status [--format table|json] [--timeout SECONDS]",
     "Each source as the running daemon syncs it: status (ok, degraded, down), last success,\n"
     "lag, what the last sync changed, seconds to the next run, the last error, and since\n"
     "when a source is down.\n" TIMEOUT_OPT},
    {"sync", NULL, "sync [NAME] [--once] [--timeout SECONDS]",
     "Makes the pin index equal to each source's pins now (config.json \"sources\", or the\n"
     "local kubo named by $IPFS_PATH/api) and prints pins added, removed and changed\n"
     "(docs/sync.md). A running daemon does the sync (joining one already running) and the\n"
     "command waits for it, up to --timeout (default 3600 s; then exit 75, the daemon goes\n"
     "on); with no daemon the sync runs here, into the store.\n"},
    {"peers", "status", "peers status [--format table|json] [--timeout SECONDS]",
     "Each config.json peer: reachable or not, latency, node name, version, pins, status and\n"
     "the last error (its Flight health action; waits up to --timeout, default\n"
     "peer_timeout_ms). Exit 69 when one is not reachable (docs/distributed.md).\n"},
    {"metrics", NULL, "metrics [query options]",
     "The daemon's metrics table. Query options:\n" QUERY_OPTS},
    {"vfs", "stats", "vfs stats [query options]",
     "The vfs_stats table. Query options:\n" QUERY_OPTS},
    {"backend", "health", "backend health [query options]",
     "The backend_health table. Query options:\n" QUERY_OPTS},
    {"version", NULL, "version", "Prints the version.\n"},
    {"help", NULL, "help", "Prints this text.\n"},
};

#define N_USAGES (sizeof usages / sizeof usages[0])

static bool matches(const struct usage *u, const char *cmd, const char *sub)
{
    return strcmp(u->cmd, cmd) == 0 && (!sub || !u->sub || strcmp(u->sub, sub) == 0);
}

bool ik_cli_is_command(const char *cmd, const char *sub)
{
    for (size_t i = 0; i < N_USAGES; i++)
        if (matches(&usages[i], cmd, sub) && (!sub || usages[i].sub))
            return true;
    return false;
}

void ik_cli_usage(FILE *f, const char *cmd, const char *sub, bool full)
{
    size_t n = 0, any = 0;
    bool one;
    if (cmd && sub && !ik_cli_is_command(cmd, sub))
        sub = NULL; /* an unknown subcommand: every one of the command */
    for (size_t i = 0; cmd && i < N_USAGES; i++)
        n += matches(&usages[i], cmd, sub);
    one = n == 1; /* `vfs` has one subcommand, `metrics` none */
    for (size_t i = 0; i < N_USAGES; i++) {
        const struct usage *u = &usages[i];
        if (cmd && !matches(u, cmd, sub))
            continue;
        fprintf(f, "%s ipfs-kit %s\n", any++ ? "      " : "usage:", u->synopsis);
        if (full && one && u->body)
            fprintf(f, "\n%s", u->body);
    }
    if (full && !one)
        fputs("\nglobal option (before the command): --path DIR (default $IPFS_KIT_PATH or "
              "~/.ipfs_kit)\n"
              "'ipfs-kit <command> [<subcommand>] --help' prints a command's options.\n"
              "FILE may be '-' for standard input, OUT '-' for standard output.\n"
              "Exit codes (README.md): 0 ok, 2 usage, 3 not running (daemon status), 65 invalid\n"
              "data, 66 no input, 69 no daemon, 70 internal error, 74 I/O error or disk full,\n"
              "75 the daemon does not answer (retry later), 78 another user's directory or\n"
              "daemon, or a bad config.json.\n",
              f);
}

int ik_cli_usage_error(const char *cmd, const char *sub)
{
    fprintf(stderr, "%s: ", ik_cli_prog);
    ik_cli_usage(stderr, cmd, sub, false);
    return IK_EXIT_USAGE;
}
