/* libmicrohttpd loaded when the HTTP server starts, not when a process starts. Linked, it made
 * every `ipfs-kit` process (every CLI command: the daemon is the same binary) load GnuTLS and
 * its eight libraries and run GnuTLS's initialisation: ~3 ms of CPU per process start, more
 * than a `pin list --cid X` costs otherwise. These are the libmicrohttpd functions daemon/http
 * calls, with its own signatures, forwarding to libmicrohttpd.so.12 opened by dlopen on first
 * use. A function the server starts calling needs its forwarder here (until it has one the
 * link fails naming it). Without the library the HTTP server does not start, saying why. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arrow/internal.h"

#define LIBMHD "libmicrohttpd.so.12"

static struct {
    struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                          MHD_AccessHandlerCallback, void *, va_list);
    void (*stop_daemon)(struct MHD_Daemon *);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
    struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
                                                        enum MHD_ResponseMemoryMode);
    struct MHD_Response *(*create_response_from_callback)(uint64_t, size_t,
                                                          MHD_ContentReaderCallback, void *,
                                                          MHD_ContentReaderFreeCallback);
    void (*destroy_response)(struct MHD_Response *);
    int (*get_connection_values)(struct MHD_Connection *, enum MHD_ValueKind, MHD_KeyValueIterator,
                                 void *);
    const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind,
                                           const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
} fn;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

#define SLOT(f) ((ik__fnptr *)&fn.f)

static void load(void)
{
    static const char *const names[] = {"MHD_start_daemon_va",
                                        "MHD_stop_daemon",
                                        "MHD_add_response_header",
                                        "MHD_create_response_from_buffer",
                                        "MHD_create_response_from_callback",
                                        "MHD_destroy_response",
                                        "MHD_get_connection_values",
                                        "MHD_lookup_connection_value",
                                        "MHD_queue_response"};
    ik__fnptr *const slots[] = {SLOT(start_daemon_va),
                                SLOT(stop_daemon),
                                SLOT(add_response_header),
                                SLOT(create_response_from_buffer),
                                SLOT(create_response_from_callback),
                                SLOT(destroy_response),
                                SLOT(get_connection_values),
                                SLOT(lookup_connection_value),
                                SLOT(queue_response)};
    const char *missing;
    loaded = ik__dlsyms(LIBMHD, names, slots, 9, &missing) == 0;
    if (!loaded)
        fprintf(stderr, "ipfs-kit: the HTTP server needs %s: %s not found\n", LIBMHD, missing);
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    struct MHD_Daemon *d;
    va_list ap;
    if (!ready())
        return NULL;
    va_start(ap, dh_cls);
    d = fn.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

/* The functions below are reached only through a daemon MHD_start_daemon started: loaded. */

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
    if (ready())
        fn.stop_daemon(daemon);
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
    return ready() ? fn.add_response_header(response, header, content) : MHD_NO;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    return ready() ? fn.create_response_from_buffer(size, buffer, mode) : NULL;
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block_size,
                                                       MHD_ContentReaderCallback crc, void *crc_cls,
                                                       MHD_ContentReaderFreeCallback crfc)
{
    return ready() ? fn.create_response_from_callback(size, block_size, crc, crc_cls, crfc) : NULL;
}

void MHD_destroy_response(struct MHD_Response *response)
{
    if (ready())
        fn.destroy_response(response);
}

int MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator iterator, void *iterator_cls)
{
    return ready() ? fn.get_connection_values(connection, kind, iterator, iterator_cls) : 0;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    return ready() ? fn.lookup_connection_value(connection, kind, key) : NULL;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    return ready() ? fn.queue_response(connection, status_code, response) : MHD_NO;
}
