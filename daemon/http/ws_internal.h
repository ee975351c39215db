/* Internal to the WebSocket change feed: the hub (ws.c: thread, sockets, wslay, timers) and
 * the feed (ws_feed.c: what each subscriber is sent, encoded once per version and format). */
#ifndef IK_WS_INTERNAL_H
#define IK_WS_INTERNAL_H

#include <wslay/wslay.h>

#include "http_internal.h"

enum {
    IK_WS_QUEUE_MAX = 4 << 20,   /* unsent bytes a subscriber may have before it is closed */
    IK_WS_CATCHUP_LOW = 1 << 18, /* catching up: the next slice is queued below this */
    IK_WS_SLICE_ROWS = 4096,     /* rows per catch-up slice */
    IK_WS_MAX_RECV = 4096,       /* the largest message a client may send (1009 beyond) */
    IK_WS_CLOSE_GRACE_MS = 2000, /* a closing subscriber's socket goes after this at most */
    IK_WS_FAN_BUCKETS = 12,      /* fan-out histogram buckets (ik__ws_fan_le) */
};

/* Messages encoded once, queued to many: message i is buf[off[i], off[i+1]). */
struct ik_ws_msgs {
    uint8_t *buf;
    size_t len, cap;
    size_t *off; /* n + 1 offsets */
    size_t n, cap_n;
    bool binary; /* Arrow IPC messages (binary frames), else JSON (text frames) */
};

struct ik_ws_hub;

struct ik_ws_sub {
    struct ik_ws_hub *hub;
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    wslay_event_context_ptr ws;
    uint8_t *pre; /* bytes read by libmicrohttpd past the handshake, served first */
    size_t pre_len, pre_off;
    /* a frame header wslay handed over with "more to come", sent with what comes next (one
     * system call per frame, not two: ws.c on_send) */
    uint8_t head[16];
    size_t head_len;
    bool json;
    uint64_t cursor; /* the changes up to this version are queued */
    /* catching up: the rows of a query of its own, queued a slice at a time */
    bool catching;
    struct ArrowSchema cschema;
    struct ArrowArray cbatch;
    int64_t coff;
    uint64_t cto; /* the version the batch reaches */
    double last_rx, ping_at, close_by;
    bool closing, dead;
    uint32_t watched;
    struct ik_ws_sub *next;
};

struct ik_ws_hub {
    struct ik_http *h;
    struct ik_daemon *d;
    pthread_t thread;
    bool running;
    int efd, ep;
    pthread_mutex_t mu; /* incoming, stopping */
    struct ik_ws_sub *incoming;
    bool stopping;
    /* the hub thread's own */
    struct ik_store *st;       /* read-only */
    uint64_t head;             /* the newest version fanned out */
    struct ArrowSchema schema; /* the change feed's */
    struct ik_ws_msgs schema_msg;
    struct ik_ws_sub *subs;
    double ping_ms, pong_ms;
    /* counters (/metrics) */
    atomic_llong open, total, messages, bytes_sent, closed_slow, closed_silent, closed_gone;
    /* fan-out: from a version's publish to its frames written to every subscriber at the head
     * (the hub thread's own; the histogram is read by /metrics) */
    double fan_t0; /* monotonic ms of the publish being fanned out */
    bool fan_pending;
    atomic_llong fan_hist[IK_WS_FAN_BUCKETS + 1]; /* [i]: <= ik__ws_fan_le[i] ms; last: +Inf */
    atomic_llong fan_count, fan_sum_us;
};

/* The fan-out histogram's bucket bounds, in ms. */
extern const double ik__ws_fan_le[IK_WS_FAN_BUCKETS];

/* ws_feed.c */
int ik__ws_schema(struct ik_ws_hub *hub, struct ik_error *err);
int ik__ws_encode(const struct ArrowSchema *schema, const struct ArrowArray *batch, bool json,
                  struct ik_ws_msgs *m, struct ik_error *err);
void ik__ws_msgs_reset(struct ik_ws_msgs *m);
/* Reads the changes after the subscriber's cursor (closing it with 4410 when they are gone,
 * 4400 when its since is ahead of the newest version). */
void ik__ws_catchup_start(struct ik_ws_hub *hub, struct ik_ws_sub *s);
/* Queues the next slices while the queue is short; at the end, joins the head or catches up
 * again. */
void ik__ws_catchup_step(struct ik_ws_hub *hub, struct ik_ws_sub *s);
void ik__ws_catchup_reset(struct ik_ws_sub *s);
/* A publish woke the hub: the changes after its head, to every subscriber at the head. */
void ik__ws_live(struct ik_ws_hub *hub);

/* ws.c */
void ik__ws_close(struct ik_ws_sub *s, uint16_t code, const char *reason);
enum { IK_WS_QUEUED, IK_WS_DEFERRED, IK_WS_CLOSED };
int ik__ws_queue(struct ik_ws_sub *s, const struct ik_ws_msgs *m, bool live);

#endif
