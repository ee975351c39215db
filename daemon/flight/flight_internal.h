/* Internal to daemon/flight: the server state, one call's state machine (server.c), the read
 * RPCs (reads.c: ListFlights, GetFlightInfo, GetSchema, DoGet and the retained states tickets
 * name), and the RPCs that need the daemon's socket or a token (writes.c: Handshake, DoPut,
 * DoAction, ListActions, run on the Flight worker thread when they block). */
#ifndef IK_FLIGHT_INTERNAL_H
#define IK_FLIGHT_INTERNAL_H

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../daemon.h"
#include "flight.h"
#include "flight/flight.h"

#define IK_FLIGHT_CQ_THREADS 2
#define IK_FLIGHT_PENDING 8 /* calls requested from gRPC ahead of arrival */
#define IK_FLIGHT_RETAIN 16 /* table states kept for the tickets handed out */
#define IK_FLIGHT_RETAIN_MS (10 * 60 * 1000)
#define IK_FLIGHT_HANDSHAKE_MS 10000 /* gRPC's default is 120 s; HTTP's idle_timeout is 10 s */
/* A DoGet's first batch is small (IK_FLIGHT_FIRST_ROWS rows, then doubling to batch_rows) and
 * the rest waits this long after it (reads.c, the pacer in server.c): a client that polls its
 * connection from the thread that reads (gRPC's synchronous API, pyarrow's) hands a message to
 * its caller only once its socket runs dry, so the bulk sent at once behind the first batch
 * held it back by milliseconds (bench/results/flight.md). */
#define IK_FLIGHT_FIRST_ROWS ((int64_t)256)
#define IK_FLIGHT_FIRST_PAUSE_MS 1.0
/* Free blocks of rebased offsets kept for the next DoGet messages (lib/flight/pool.c): a
 * message of 65,536 rows needs about 1.3 MB of them while gRPC sends it. */
#define IK_FLIGHT_POOL_KEEP ((size_t)8 << 20)

enum ik_fmethod {
    IK_FM_HANDSHAKE,
    IK_FM_LIST_FLIGHTS,
    IK_FM_GET_FLIGHT_INFO,
    IK_FM_GET_SCHEMA,
    IK_FM_DO_GET,
    IK_FM_DO_PUT,
    IK_FM_DO_EXCHANGE,
    IK_FM_DO_ACTION,
    IK_FM_LIST_ACTIONS,
    IK_FM_UNKNOWN,
    IK_FM_COUNT
};

struct ik_fcall;

/* A completion queue tag: which call, which of its batches. */
struct ik_ftag {
    struct ik_fcall *c;
    int kind;
};

/* A DoGet in progress: the query's stream of batches and the encoder cutting them. */
struct ik_fget;
/* A DoPut in progress: the IPC stream gathered into a memfd. */
struct ik_fput;

struct ik_fcall {
    struct ik_flight *f;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    struct ik_ftag t_new, t_close, t_step;
    atomic_int refs; /* the close batch and the main chain each hold one */
    int close_cancelled;
    enum ik_fmethod method;
    int phase;
    bool sent_md;
    grpc_metadata out_md; /* one initial metadata entry to send (Handshake), if key set */
    bool has_out_md;
    grpc_byte_buffer *recv;
    int n_recv;             /* messages received */
    grpc_byte_buffer **out; /* messages to send, out[i_out..n_out) */
    size_t n_out, i_out, cap_out;
    grpc_byte_buffer *sending;
    grpc_status_code status;
    char status_msg[IK_ERROR_SIZE];
    bool status_set;
    struct ik_fget *get;
    struct ik_fput *put;
    bool authed_write; /* the call carried the write token */
    bool authed_read;  /* ... or a token reads accept (or none is needed) */
    double t0;
    struct ik_fcall *next_job; /* the worker's queue, or the pacer's */
    double due_ms;             /* the pacer resumes the call then (monotonic ms) */
};

struct ik_flight_listener {
    char uri[300]; /* as served (the bound port when 0 was asked) */
    struct ik_flight_location loc;
};

/* A table state kept because a ticket names it. */
struct ik_retained {
    char table[IK_TABLE_NAME_MAX];
    uint64_t version;
    struct ik_segset *set;
    double t; /* last handed out (monotonic ms) */
};

struct ik_flight {
    struct ik_daemon *d;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t threads[IK_FLIGHT_CQ_THREADS];
    int n_threads;
    struct ik_flight_listener listeners[IK_FLIGHT_MAX_LISTEN];
    int n_listeners;
    char why[IK_ERROR_SIZE];
    char token[65]; /* the write token (http.token) */
    atomic_bool stopping;
    atomic_int calls; /* calls being served */
    struct ik_ftag t_shutdown;
    pthread_mutex_t mu; /* retained states */
    struct ik_retained retained[IK_FLIGHT_RETAIN];
    pthread_t worker; /* blocking work: DoPut, the changes action */
    bool worker_started;
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    struct ik_fcall *jobs, *jobs_tail;
    bool worker_gone; /* the worker has ended (stopping): calls are failed, not queued */
    pthread_t pacer;  /* resumes DoGets paused after their first batch */
    bool pacer_started, pacer_gone;
    pthread_mutex_t pmu;
    pthread_cond_t pcv; /* on CLOCK_MONOTONIC */
    struct ik_fcall *paced, *paced_tail;
    atomic_llong requests[IK_FM_COUNT];
    atomic_llong errors;
    atomic_llong referenced, copied;    /* DoGet body bytes */
    struct ik_flight_pool *pool;        /* blocks DoGets rebase offsets into, or NULL */
    grpc_server_credentials *tls_creds; /* grpc+tls locations' (tls.c), made at the first */
};

/* ---- server.c: the call's next moves ----------------------------------------------------- */

/* Queues a message to send (taken). ENOMEM only. */
int ik__fcall_push(struct ik_fcall *c, grpc_byte_buffer *bb);
/* Sets the status the call ends with (after the queued messages). Returns `code`. */
grpc_status_code ik__fcall_fail(struct ik_fcall *c, grpc_status_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The gRPC status for an ik error code. */
grpc_status_code ik__flight_status_of(int rc);
/* Continues a call that a handler (or the worker) has finished preparing: sends what is
 * queued, then the status. From any thread. */
void ik__fcall_resume(struct ik_fcall *c);
/* Starts receiving the next client message (client-streaming calls). */
void ik__fcall_recv_more(struct ik_fcall *c);
/* Hands the call to the worker thread, which runs ik__flight_work(c) then resumes it. */
void ik__fcall_to_worker(struct ik_fcall *c);
/* Resumes the call after `ms` on the pacer thread (at once when the daemon is stopping). */
void ik__fcall_pace(struct ik_fcall *c, double ms);
/* The value of request header `key` (lower case), or NULL; *len gets its length. */
const char *ik__fcall_header(const struct ik_fcall *c, const char *key, size_t *len);

/* ---- reads.c ---------------------------------------------------------------------------- */

/* Handles the request message of a read RPC (ListFlights, GetFlightInfo, GetSchema, DoGet). */
void ik__flight_read(struct ik_fcall *c, grpc_byte_buffer *req);
/* DoGet: queues the next message(s) of the stream; false once it is over (status set). */
bool ik__fget_more(struct ik_fcall *c);
/* Whether the DoGet's query stream has ended (all its messages made). */
bool ik__fget_done(const struct ik_fget *g);
/* True once: the DoGet's first batch has just been made and more rows follow (the call then
 * waits IK_FLIGHT_FIRST_PAUSE_MS once its queued messages are sent). */
bool ik__fget_pause_now(struct ik_fget *g);
void ik__fget_free(struct ik_fget *g);
void ik__flight_retained_clear(struct ik_flight *f);

/* ---- tls.c ------------------------------------------------------------------------------ */

/* Makes f->tls_creds (once) from flight.tls_cert / tls_key, else http.tls_cert / tls_key; the
 * error names the key and file refused. */
int ik__flight_tls_creds(struct ik_flight *f, struct ik_error *err);
void ik__flight_tls_release(struct ik_flight *f);

/* ---- writes.c --------------------------------------------------------------------------- */

/* Handles one received message of Handshake, DoPut, DoAction or ListActions (`req` NULL: the
 * client's stream ended). */
void ik__flight_write(struct ik_fcall *c, grpc_byte_buffer *req);
/* On the worker thread: the blocking part of a call. */
void ik__flight_work(struct ik_fcall *c);
void ik__fput_free(struct ik_fput *p);

#endif
