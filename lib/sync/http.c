/* HTTP requests to pin sources through libcurl: one request, its body either split into lines
 * as it streams in (NDJSON listings: memory bounded by the longest line) or kept whole up to a
 * bound (small replies). Error statuses keep the first 64 KiB of their body so the caller can
 * show the source's own message; a stalled response ends after the timeout. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_internal.h"

#define MAX_LINE ((size_t)1 << 20)
#define MAX_ERROR_BODY ((size_t)64 << 10)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct run {
    struct ik__http *h;
    CURL *curl;
    char *buf; /* the current partial line, or the kept body */
    size_t len, cap;
    int64_t lineno;
    int cb_rc; /* the line callback's error, returned as it is */
    bool over; /* a line or body passed its bound */
    struct ik_error *err;
};

static int grow(struct run *r, size_t need)
{
    size_t cap = r->cap ? r->cap : 4096;
    char *p;
    while (cap < need)
        cap *= 2;
    if (cap == r->cap)
        return 0;
    if ((p = realloc(r->buf, cap)) == NULL)
        return ENOMEM;
    r->buf = p;
    r->cap = cap;
    return 0;
}

static int emit(struct run *r, char *line, size_t n)
{
    r->lineno++;
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    line[n] = '\0';
    return r->h->on_line(r->h->ctx, line, n, r->lineno, r->err);
}

/* Splits what arrived into lines; a line cut by the chunk boundary waits in r->buf. */
static int take_lines(struct run *r, char *p, size_t n)
{
    while (n > 0) {
        char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (r->len + k + 1 > MAX_LINE) {
            r->over = true;
            return ik_error_set(r->err, IK_ELIMIT, "%s: line %lld is longer than %zu bytes",
                                r->h->url, (long long)r->lineno + 1, MAX_LINE);
        }
        if (nl && r->len == 0) { /* a whole line inside the chunk: no copy */
            char save = p[k];
            int rc = emit(r, p, k);
            p[k] = save;
            if (rc != 0)
                return rc;
        } else {
            if (grow(r, r->len + k + 1) != 0)
                return ik_error_set(r->err, ENOMEM, "out of memory");
            memcpy(r->buf + r->len, p, k);
            r->len += k;
            if (nl) {
                int rc = emit(r, r->buf, r->len);
                r->len = 0;
                if (rc != 0)
                    return rc;
            }
        }
        if (!nl)
            break;
        p += k + 1;
        n -= k + 1;
    }
    return 0;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    struct run *r = arg;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    r->h->status = status;
    if (status >= 200 && status < 300 && r->h->on_line != NULL) {
        r->cb_rc = take_lines(r, p, n);
        return r->cb_rc == 0 ? n : 0;
    }
    /* a kept body (small replies), or an error status's message */
    {
        size_t bound = status >= 200 && status < 300 ? r->h->max_body : MAX_ERROR_BODY;
        size_t k = n;
        if (r->len + k > bound) {
            k = bound > r->len ? bound - r->len : 0;
            if (status >= 200 && status < 300) {
                r->over = true;
                return 0;
            }
        }
        if (grow(r, r->len + k + 1) != 0)
            return 0;
        memcpy(r->buf + r->len, p, k);
        r->len += k;
        r->buf[r->len] = '\0';
    }
    return n;
}

/* kubo reports an error met after the listing started as a trailer. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct run *r = arg;
    size_t n = size * nmemb;
    static const char key[] = "x-stream-error:";
    if (n > sizeof key - 1 && strncasecmp(p, key, sizeof key - 1) == 0) {
        size_t k = n - (sizeof key - 1);
        const char *v = p + sizeof key - 1;
        while (k > 0 && (*v == ' ' || *v == '\t'))
            v++, k--;
        while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
            k--;
        if (k > 0) {
            snprintf(r->h->stream_error, sizeof r->h->stream_error, "%.*s", (int)k, v);
        }
    }
    return n;
}

/* The message of an error reply: kubo's {"Message"}, Cluster's {"message"}, else the text. */
static void error_message(const char *body, char *out, size_t cap)
{
    json_t *o = body ? json_loads(body, 0, NULL) : NULL, *m = json_object_get(o, "Message");
    out[0] = '\0';
    if (!json_is_string(m))
        m = json_object_get(o, "message");
    if (json_is_string(m))
        snprintf(out, cap, "%s", json_string_value(m));
    else if (body != NULL)
        snprintf(out, cap, "%.200s", body);
    json_decref(o);
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

static int set_options(struct run *r, struct curl_slist **headers)
{
    struct ik__http *h = r->h;
    CURL *c = r->curl;
    long to = h->timeout_ms > 0 ? h->timeout_ms : 10000;
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, to);
    /* a listing may take minutes; what must not happen is a silent peer holding us */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     ((h->stall_ms > 0 ? h->stall_ms : to) + 999) / 1000);
    if (h->total_ms > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->total_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ipfs-kit");
    if (h->post) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (h->auth != NULL && h->auth[0] != '\0') {
        char line[600];
        struct curl_slist *l;
        snprintf(line, sizeof line, "Authorization: %s", h->auth);
        if ((l = curl_slist_append(*headers, line)) == NULL)
            return ENOMEM;
        *headers = l;
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
    }
    return 0;
}

int ik__http_run(struct ik__http *h, struct ik_error *err)
{
    struct run r = {.h = h, .err = err};
    struct curl_slist *headers = NULL;
    CURLcode cc;
    int rc = 0;

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return ik_error_set(err, EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    h->status = 0;
    h->stream_error[0] = '\0';
    h->body = NULL;
    h->body_len = 0;
    if ((r.curl = curl_easy_init()) == NULL)
        return ik_error_set(err, ENOMEM, "libcurl: cannot create a handle");
    if (set_options(&r, &headers) != 0) {
        rc = ik_error_set(err, ENOMEM, "out of memory");
        goto out;
    }
    cc = curl_easy_perform(r.curl);
    curl_easy_getinfo(r.curl, CURLINFO_RESPONSE_CODE, &h->status);
    if (r.cb_rc != 0) {
        rc = r.cb_rc; /* the callback's own error and message */
    } else if (r.over) {
        rc = ik_error_set(err, IK_ELIMIT, "%s: reply larger than %zu bytes", h->url, h->max_body);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = ik_error_set(err, ETIMEDOUT, "%s: no answer within %d ms", h->url,
                          h->stall_ms > 0 ? h->stall_ms : h->timeout_ms);
    } else if (cc != CURLE_OK) {
        rc = ik_error_set(err, cc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO, "%s: %s", h->url,
                          curl_easy_strerror(cc));
    } else if (h->status < 200 || h->status >= 300) {
        char msg[300];
        error_message(r.buf, msg, sizeof msg);
        rc = ik_error_set(err, EIO, "%s: HTTP %ld%s%s", h->url, h->status, msg[0] ? ": " : "", msg);
    } else if (h->stream_error[0] != '\0') {
        rc = ik_error_set(err, EIO, "%s: %s", h->url, h->stream_error);
    } else if (h->on_line != NULL && r.len > 0) { /* a last line without its newline */
        if (grow(&r, r.len + 1) != 0)
            rc = ik_error_set(err, ENOMEM, "out of memory");
        else
            rc = emit(&r, r.buf, r.len);
    } else if (h->on_line == NULL) {
        h->body = r.buf; /* the caller frees it */
        h->body_len = r.len;
        r.buf = NULL;
    }
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(r.curl);
    free(r.buf);
    return rc;
}
