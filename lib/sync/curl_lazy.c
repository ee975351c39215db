/* libcurl loaded when a sync first makes a request, not when a process starts. Linking libcurl
 * made every process load ~30 more shared libraries (its TLS, Kerberos, LDAP, SSH, IDN ...):
 * 6M cycles in the dynamic loader, 16-30 ms of wall time per `ipfs-kit` command on a loaded
 * 2-core machine, against ~1 ms without. These are the few curl functions http.c calls, with
 * curl's own signatures, forwarding to libcurl.so.4 opened by dlopen on first use; a machine
 * without libcurl runs everything but sync, whose requests fail naming the missing library. */
#define CURL_DISABLE_TYPECHECK /* these definitions are the functions its macros check */
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "arrow/internal.h"

#define LIBCURL "libcurl.so.4"

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    void (*easy_cleanup)(CURL *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} fn;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

#define SLOT(f) ((ik__fnptr *)&fn.f)

static void load(void)
{
    static const char *const names[] = {
        "curl_global_init",  "curl_easy_init",    "curl_easy_setopt",
        "curl_easy_perform", "curl_easy_getinfo", "curl_easy_strerror",
        "curl_easy_cleanup", "curl_slist_append", "curl_slist_free_all"};
    ik__fnptr *const slots[] = {SLOT(global_init),  SLOT(easy_init),    SLOT(easy_setopt),
                                SLOT(easy_perform), SLOT(easy_getinfo), SLOT(easy_strerror),
                                SLOT(easy_cleanup), SLOT(slist_append), SLOT(slist_free_all)};
    const char *missing;
    loaded = ik__dlsyms(LIBCURL, names, slots, 9, &missing) == 0;
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

CURLcode curl_global_init(long flags)
{
    return ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
    return ready() ? fn.easy_init() : NULL;
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    CURLcode rc;
    if (!ready())
        return CURLE_FAILED_INIT;
    va_start(ap, option);
    /* the option's number says its argument's type (curl.h, CURLOPTTYPE_*) */
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        rc = fn.easy_setopt(curl, option, v);
    } else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        rc = fn.easy_setopt(curl, option, v);
    } else if (option >= CURLOPTTYPE_FUNCTIONPOINT && option < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        rc = fn.easy_setopt(curl, option, v);
    } else {
        void *v = va_arg(ap, void *);
        rc = fn.easy_setopt(curl, option, v);
    }
    va_end(ap);
    return rc;
}

CURLcode curl_easy_perform(CURL *curl)
{
    return ready() ? fn.easy_perform(curl) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    void *out;
    if (!ready())
        return CURLE_FAILED_INIT;
    va_start(ap, info);
    out = va_arg(ap, void *); /* every CURLINFO takes a pointer to its result */
    va_end(ap);
    return fn.easy_getinfo(curl, info, out);
}

const char *curl_easy_strerror(CURLcode code)
{
    if (!ready())
        return "cannot load " LIBCURL " (sync needs libcurl: install libcurl4)";
    return fn.easy_strerror(code);
}

void curl_easy_cleanup(CURL *curl)
{
    if (curl != NULL && ready())
        fn.easy_cleanup(curl);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
    return ready() ? fn.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (list != NULL && ready())
        fn.slist_free_all(list);
}
