/* Stop points for crash tests: a process whose IPFS_KIT_STOP_AT names a point stops itself
 * (SIGSTOP, the whole process) on reaching it, so a test can kill -9 it at exactly that
 * instant instead of racing it. Unset, a point costs one getenv. Nothing sets the variable
 * but the tests; docs/testing.md lists the points. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "arrow/internal.h"

static _Thread_local const char *scope;

void ik__stop_point_scope(const char *prefix)
{
    scope = prefix;
}

void ik__stop_point(const char *point)
{
    const char *at = getenv("IPFS_KIT_STOP_AT");
    size_t n;
    if (at == NULL)
        return;
    if (scope) { /* "<scope>-<point>" */
        n = strlen(scope);
        if (strncmp(at, scope, n) != 0 || at[n] != '-')
            return;
        at += n + 1;
    }
    if (strcmp(at, point) == 0)
        raise(SIGSTOP);
}
