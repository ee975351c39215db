/* Libraries loaded on first use (dlsyms.c): the few functions a part of ipfs-kit needs from a
 * large library whose loading and initialisation every process would pay otherwise (libcurl for
 * sync: lib/sync/curl_lazy.c). */
#include <dlfcn.h>
#include <string.h>

#include "arrow/internal.h"

int ik__dlsyms(const char *lib, const char *const *names, ik__fnptr *const *slots, int n,
               const char **missing)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    int i;
    *missing = NULL;
    if (h == NULL) {
        *missing = lib;
        return -1;
    }
    for (i = 0; i < n; i++) {
        void *p = dlsym(h, names[i]);
        if (p == NULL) {
            *missing = names[i];
            return -1;
        }
        memcpy(slots[i], &p, sizeof p); /* POSIX: an object pointer from dlsym is callable */
    }
    return 0; /* the handle stays open for the life of the process */
}
