/* Internals of lib/sync: one HTTP request through libcurl (http.c). Not public API. */
#ifndef IK_SYNC_INTERNAL_H
#define IK_SYNC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/error.h"
#include "ipfskit/sync.h"

struct ik__http {
    const char *url;
    bool post;        /* POST with an empty body (kubo's RPC API takes only POST) */
    const char *auth; /* Authorization header value, or NULL */
    int timeout_ms;   /* connect timeout, and how long the response may stall */
    int stall_ms;     /* when > 0: how long the response may stall instead */
    long total_ms;    /* the whole request, or 0 for no bound (streamed listings) */
    /* Streaming: each non-empty line of a 2xx body, NUL-terminated (writable, valid during the
     * call; trailing CR and blanks removed), with its 1-based number. Non-zero stops. */
    int (*on_line)(void *ctx, char *line, size_t len, int64_t lineno, struct ik_error *err);
    void *ctx;
    size_t max_body; /* without on_line: the 2xx body is kept whole up to this many bytes */
    /* results */
    long status; /* the HTTP status, 0 when none arrived */
    char *body;  /* without on_line: the kept body, NUL-terminated; caller frees */
    size_t body_len;
    char stream_error[256]; /* kubo's X-Stream-Error trailer, "" when none */
};

/* Runs the request. 0 for a 2xx status whose body was read whole; otherwise the error naming
 * the URL: ECONNREFUSED / EIO for transport failures, ETIMEDOUT, EIO with "HTTP <status>: <the
 * source's message>", IK_ELIMIT for a line over 1 MiB or a body over max_body, or the line
 * callback's own return and message. */
int ik__http_run(struct ik__http *h, struct ik_error *err);

#endif
