/* The wire protocol between the daemon and its clients (internal to libipfskit): length-prefixed
 * frames, blocking socket helpers for the client, nonblocking ones for the daemon's event loop
 * (both pass file descriptors with SCM_RIGHTS), JSON requests and reply headers. The protocol
 * itself is documented in docs/protocol.md; keep the two in step. */
#ifndef IK_PROTO_H
#define IK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "ipfskit/arrow.h"
#include "ipfskit/cid.h"
#include "ipfskit/error.h"
#include "ipfskit/query.h"
#include "ipfskit/store.h"

#define IK_PROTO_VERSION 1
#define IK_FRAME_HEADER_SIZE 4
#define IK_PROTO_MAX_REQUEST 65536 /* request frame payload (JSON) */
#define IK_PROTO_MAX_FDS 130 /* descriptors on one frame: a manifest and up to 128 segments, +1 */
#define IK_PROTO_MAX_HEADER 65536     /* reply header frame payload (JSON) */
#define IK_PROTO_MAX_DATA (16u << 20) /* one data frame of a reply stream */

/* ---------------------------------------------------------------------------------------------
 * The version page: one page of a sealed memfd that the daemon passes with the reply to a
 * "watch" request and rewrites whenever it publishes snapshots. The daemon maps it read-write;
 * F_SEAL_FUTURE_WRITE stops anyone else from writing it, so clients map it read-only. Every
 * field is a native-endian uint64_t accessed atomically. The table words are rewritten as a
 * seqlock: IK_VPAGE_W_SEQ goes odd, the words change, it goes even again. A client that holds a
 * snapshot mapped and finds, on a watch connection still open, the state "serving" and a
 * consistent read of its table's words naming that snapshot (version, device, inode) knows it
 * is the one the daemon would pass: it answers from its mapping without a round trip. */
#define IK_VPAGE_SIZE 4096
#define IK_VPAGE_MAGIC 0x3165676170766b69ull /* "ikvpage1" read as a little-endian word */
enum ik_vpage_word {
    IK_VPAGE_W_MAGIC = 0,  /* IK_VPAGE_MAGIC */
    IK_VPAGE_W_STATE = 1,  /* IK_VPAGE_STARTING, _SERVING, _STOPPING */
    IK_VPAGE_W_PID = 2,    /* the daemon's process id */
    IK_VPAGE_W_SEQ = 3,    /* odd while the table words are being rewritten */
    IK_VPAGE_W_TABLES = 8, /* table t (index in ik_table_names) at 8 + 4t: IK_VPAGE_T_* */
};
enum { IK_VPAGE_T_VERSION, IK_VPAGE_T_DEV, IK_VPAGE_T_INO, IK_VPAGE_T_ROWS, IK_VPAGE_T_WORDS };
enum { IK_VPAGE_STARTING = 0, IK_VPAGE_SERVING = 1, IK_VPAGE_STOPPING = 2 };

/* ---------------------------------------------------------------------------------------------
 * Frames: a 4-byte little-endian payload length, then the payload. */

/* Looks at the bytes buffered so far (`buf`, `len`; never reads past len). Returns 0 when a
 * whole frame is there: its payload is buf[*payload_off .. *payload_off + *payload_len) and the
 * frame ends at *payload_off + *payload_len. IK_EAGAIN when more bytes are needed (call again
 * with more; nothing is kept between calls). IK_ELIMIT as soon as the header announces more than
 * `max_payload` bytes ("frame of 70000 bytes exceeds the limit of 65536 bytes"): the stream can
 * not be resynchronised, close it after replying. */
int ik_frame_parse(const uint8_t *buf, size_t len, size_t max_payload, size_t *payload_off,
                   uint32_t *payload_len, struct ik_error *err);

/* Writes the little-endian length header. */
void ik_frame_put_header(uint8_t out[4], uint32_t len);

/* A malloc'd frame (header + copy of payload) of *frame_len bytes. EINVAL when len does not
 * fit 32 bits, ENOMEM. */
int ik_frame_build(const void *payload, size_t len, uint8_t **frame, size_t *frame_len,
                   struct ik_error *err);

/* ---------------------------------------------------------------------------------------------
 * Blocking helpers (the client). timeout_ms < 0 waits forever; the timeout bounds the whole
 * call, not each wait. EINTR is retried; SIGPIPE is never raised (MSG_NOSIGNAL). They work on
 * blocking and nonblocking sockets alike (every send/recv uses MSG_DONTWAIT and poll). */

/* Connects to the unix stream socket at `path`; *fd is nonblocking and close-on-exec.
 * IK_EDAEMON "no daemon listening on <path>" when nothing is bound there (ENOENT) or nothing
 * accepts (ECONNREFUSED); ETIMEDOUT when the listen queue stays full; ENAMETOOLONG; EACCES. */
int ik_sock_connect_unix(const char *path, int timeout_ms, int *fd, struct ik_error *err);

/* Sends one frame (header + `len` bytes of data) completely. `pass_fd` (>= 0) travels with
 * SCM_RIGHTS on the first byte of the frame; -1 for none. The caller keeps its copy of
 * pass_fd. ETIMEDOUT, EPIPE/ECONNRESET when the peer has gone, EINVAL for len > UINT32_MAX. */
int ik_sock_send_frame(int fd, const void *data, size_t len, int pass_fd, int timeout_ms,
                       struct ik_error *err);

/* Receives one frame: *payload is malloc'd (never NULL on success, even for a 0-byte frame;
 * free it), *len its size. A descriptor passed with the frame goes to *fd_out (close-on-exec;
 * -1 when none); when fd_out is NULL it is closed. Errors: IK_EOS when the peer closed the
 * connection cleanly before a frame; IK_EPROTO "connection closed after 2 of 4 header bytes"
 * (or "... of N payload bytes"), or more than one fd with a frame; IK_ELIMIT when the frame
 * announces more than `max` bytes; ETIMEDOUT. After any error the connection is unusable. */
int ik_sock_recv_frame(int fd, size_t max, uint8_t **payload, size_t *len, int *fd_out,
                       int timeout_ms, struct ik_error *err);

/* Reads the frames of one reply: each recvmsg takes whatever the kernel has, up to the buffer,
 * so a reply header normally arrives in one poll + one recvmsg (with its descriptor) rather than
 * recvmsg (EAGAIN), poll, 4 bytes, the rest; bytes read past a frame are kept for the next call.
 * Frames larger than the buffer are read straight into their payload. Lives on the stack for one
 * request/reply; a connection may only be reused when ik_sock_reader_pending is 0 after the reply's
 * last frame. */
#define IK_SOCK_READER_BUF 2048
struct ik_sock_reader {
    int fd;
    bool wait_first;           /* poll before the first recvmsg of the next frame */
    int fds[IK_PROTO_MAX_FDS]; /* descriptors received and not yet handed out with a frame */
    int n_fds;
    size_t off, len;
    uint8_t buf[IK_SOCK_READER_BUF];
};

/* `wait_first`: the reply was just asked for, so poll before reading the first frame. Every
 * read is MSG_DONTWAIT and every wait a poll bounded by the timeout (any socket works).
 * (A blocking recvmsg would save the poll, but Linux wakes a task sleeping in recvmsg on a
 * unix socket also when the peer consumes what it sent — unix_write_space — which showed as
 * extra context switches and no gain.) */
void ik_sock_reader_init(struct ik_sock_reader *r, int fd, bool wait_first);

/* Like ik_sock_recv_frame (same errors and messages, *payload malloc'd), through the reader.
 * A descriptor goes out with the frame completed by the read that brought it. */
int ik_sock_reader_frame(struct ik_sock_reader *r, size_t max, uint8_t **payload, size_t *len,
                         int *fd_out, int timeout_ms, struct ik_error *err);

/* The same, for a frame that may carry up to `max_fds` descriptors (all attached to its first
 * byte, in one SCM_RIGHTS message): they go to fds[0..*n_fds) in the order sent. More is
 * IK_EPROTO (all closed). */
int ik_sock_reader_frame_fds(struct ik_sock_reader *r, size_t max, uint8_t **payload, size_t *len,
                             int *fds, int max_fds, int *n_fds, int timeout_ms,
                             struct ik_error *err);

/* A growing buffer that frames are received into (malloc'd; zero-initialise; the caller frees
 * p). */
struct ik_sock_dst {
    uint8_t *p;
    size_t len, cap;
};

/* Like ik_sock_reader_frame without a descriptor (one passed is closed), the payload appended
 * straight to dst (its *len bytes; 0 for an empty frame): a reply of many frames received into
 * one buffer with no copy between. */
int ik_sock_reader_frame_append(struct ik_sock_reader *r, size_t max, struct ik_sock_dst *dst,
                                size_t *len, int timeout_ms, struct ik_error *err);

/* Bytes buffered beyond the frames handed out (0 when the reply was read exactly). */
size_t ik_sock_reader_pending(const struct ik_sock_reader *r);

/* Closes a descriptor still held (after an error). The socket is not closed. */
void ik_sock_reader_reset(struct ik_sock_reader *r);

/* ---------------------------------------------------------------------------------------------
 * Nonblocking helpers (the daemon's event loop): one system call each, never waiting. */

/* One recvmsg (MSG_DONTWAIT, MSG_CMSG_CLOEXEC) of up to `cap` (> 0) bytes. Returns 0 with *n
 * bytes read (0 = the peer closed), or EAGAIN when nothing is available; EINTR is retried. A
 * descriptor that arrived with these bytes goes to *fd_out (-1 when none; closed when fd_out is
 * NULL). More than one descriptor, or truncated control data, is IK_EPROTO (any received
 * descriptors closed). Other errno values (ECONNRESET...) are returned as they are. Note: the
 * kernel ends a read after bytes that carried descriptors, so an fd-carrying frame may need one
 * more call than its size suggests. */
int ik_sock_recvmsg_fd(int fd, void *buf, size_t cap, ssize_t *n, int *fd_out,
                       struct ik_error *err);

/* One sendmsg (MSG_DONTWAIT, MSG_NOSIGNAL) of up to `len` bytes, with `pass_fd` (>= 0) attached
 * to the first byte. Returns 0 with *n bytes sent (possibly fewer than len; when *n > 0 the
 * descriptor has gone and must not be passed again), EAGAIN when nothing could be sent; EINTR
 * is retried; EPIPE/ECONNRESET when the peer has gone. */
int ik_sock_sendmsg_fd(int fd, const void *data, size_t len, int pass_fd, ssize_t *n,
                       struct ik_error *err);

/* The same with descriptors fds[0..n_fds) (at most IK_PROTO_MAX_FDS) attached to the first
 * byte. */
int ik_sock_sendmsg_fds(int fd, const void *data, size_t len, const int *fds, int n_fds, ssize_t *n,
                        struct ik_error *err);

/* The uid of the process at the other end (SO_PEERCRED, as of connect()). */
int ik_sock_peer_uid(int fd, uid_t *uid, struct ik_error *err);

/* ---------------------------------------------------------------------------------------------
 * Requests: one JSON object per request frame, at most IK_PROTO_MAX_REQUEST bytes. */

enum ik_req_op {
    IK_REQ_PING,
    IK_REQ_CAPABILITIES,
    IK_REQ_STATUS,
    IK_REQ_QUERY,
    IK_REQ_PIN_ADD,
    IK_REQ_PIN_RM,
    IK_REQ_PIN_TOUCH,
    IK_REQ_IMPORT,
    IK_REQ_SHUTDOWN,
    IK_REQ_WATCH,
    IK_REQ_CHANGES,
    IK_REQ_SYNC_STATUS,
    IK_REQ_SYNC_NOW,
};

enum ik_transport {
    IK_TRANSPORT_FD,     /* "fd": the snapshot's descriptor rides on the reply header */
    IK_TRANSPORT_STREAM, /* "stream": Arrow IPC stream bytes in data frames */
    IK_TRANSPORT_JSON,   /* "json": JSON lines (one object per row) in data frames */
};

#define IK_REQ_OWNED_MAX 8

/* The snapshot file a client holds mapped (request key "have"): its version as the daemon
 * announced it and the file's identity (st_dev, st_ino). When it is still the published one the
 * daemon answers a transport-fd query without passing the descriptor again. */
struct ik_snapshot_id {
    bool set;
    uint64_t version, dev, ino; /* each at most INT64_MAX (a JSON integer) */
};

struct ik_request {
    int v; /* IK_PROTO_VERSION */
    enum ik_req_op op;
    struct ik_query query;           /* QUERY; CHANGES uses its table (owned; always initialised) */
    uint64_t since;                  /* CHANGES: changes after this version (at most INT64_MAX) */
    enum ik_transport transport;     /* QUERY (default fd); CHANGES: stream (default) or json */
    enum ik_compression compression; /* QUERY, CHANGES over "stream"; default none */
    struct ik_snapshot_id have;      /* QUERY: the snapshot the client holds; default unset */
    struct ik_pin pin;               /* PIN_ADD; see ik_request_init for the defaults */
    char cid[IK_CID_MAX_TEXT];       /* PIN_RM, PIN_TOUCH */
    struct ik_import_options import; /* IMPORT; the file comes as the frame's descriptor */
    char source[64];                 /* SYNC_NOW: the source named ("name"), "" for every one */
    /* Strings of `pin` and `import` allocated by ik_request_parse (freed by reset). Strings a
     * caller points `pin` at are borrowed and never freed here. */
    char *owned_[IK_REQ_OWNED_MAX];
};

/* Sets v = 1, `op`, an empty query (table ""), transport fd, compression none, and the pin
 * defaults: every string NULL, size_bytes -1, last_access_us -1, timestamp_us 0 (now),
 * replication_factor 1, verified false, access_count 0; import format auto, skip_invalid false,
 * default_backend NULL. */
void ik_request_init(struct ik_request *r, enum ik_req_op op);

/* Frees what the request owns and leaves it as ik_request_init(r, IK_REQ_PING) did. */
void ik_request_reset(struct ik_request *r);

/* Parses a request frame's payload into `out` (initialised here; reset it after use, also after
 * an error). Errors, each message starting with "request: ":
 * IK_ELIMIT (len > IK_PROTO_MAX_REQUEST); IK_EFORMAT "invalid JSON at line 1 column 7: ..." and
 * "not a JSON object"; ENOTSUP "unsupported version 2"; EINVAL for everything else, naming the
 * key: "missing \"op\"", "unknown op \"frob\"", "\"limit\" must be a non-negative integer",
 * "unknown key \"limt\" for op \"query\"", "filter on 'size_bytes': unknown op \"between\"". */
int ik_request_parse(const char *json, size_t len, struct ik_request *out, struct ik_error *err);

/* The request as compact JSON text (malloc'd), written so that ik_request_parse gives back an
 * equal request. NULL on ENOMEM or when a value has no JSON form (a non-finite double, a string
 * that is not UTF-8). Only the fields of r->op are written; defaults are left out. */
char *ik_request_to_json(const struct ik_request *r);

/* Wire names: "ping", "pin_add", ...; "fd", "stream", "json"; "none", "lz4", "zstd". */
const char *ik_req_op_name(enum ik_req_op op);
const char *ik_transport_name(enum ik_transport t);
const char *ik_compression_name(enum ik_compression c);

/* Reads the query fields ("table", "columns", "filter", "offset", "limit") of a JSON object
 * into `q` (initialised here; reset it after use, also after an error). Other keys are ignored.
 * EINVAL with an unprefixed message naming the key. Used by ik_request_parse and
 * ik_query_from_json. */
int ik__query_from_jansson(const json_t *obj, struct ik_query *q, struct ik_error *err);

/* Adds the query fields to `obj` (new references). ENOMEM, or EINVAL for a value without a
 * JSON form. */
int ik__query_to_jansson(const struct ik_query *q, json_t *obj);

/* ---------------------------------------------------------------------------------------------
 * Replies: a JSON header frame, {"ok":true,...} or {"ok":false,"error":{"code","message"}},
 * then for some replies data frames ended by a zero-length frame (docs/protocol.md). */

/* {"ok":false,"error":{"code":code,"message":message}} as malloc'd compact JSON; bytes of
 * `message` that are not UTF-8 become '?'. NULL only on ENOMEM. */
char *ik_reply_error(const char *code, const char *message);

/* The reply error code for an ik/errno code: IK_EFORMAT, EINVAL -> "bad_request"; ENOTSUP ->
 * "unsupported"; IK_ELIMIT -> "too_large"; ENOENT -> "not_found"; EACCES, EPERM -> "forbidden";
 * IK_ELOCKED, EBUSY -> "busy"; ETIMEDOUT -> "timeout"; IK_EPROTO -> "protocol"; IK_EGONE -> "gone";
 * anything else "internal". */
const char *ik_reply_code(int rc);

/* Parses a reply header. Returns 0 for {"ok":true,...} with the object in *obj_out (decref it).
 * IK_EREMOTE for an error reply: err receives the daemon's message as it is, and *obj_out the
 * object too (decref it; ik_reply_error_code reads its code). IK_EPROTO "reply header: ..." when
 * it is not JSON, not an object, lacks a boolean "ok", or is an error reply without a string
 * code and message; *obj_out is NULL then. */
int ik_reply_parse(const char *json, size_t len, json_t **obj_out, struct ik_error *err);

/* The fields of a successful query reply header that the client reads. */
struct ik_reply_query {
    char method[16];     /* "zero_copy", "ipc_stream", "traditional"; "" when absent */
    char compression[8]; /* "none", "lz4", "zstd"; "" when absent */
    uint64_t version;
    int64_t table_rows, matched;
    bool held;    /* "held":true: no descriptor, the client's "have" is current */
    int segments; /* "segments": the reply's descriptors are a manifest and this many segments
                     (0: one snapshot file) */
};

/* Reads a query reply header the cheap way: 0 for a compact, flat {"ok":true,...} whose keys
 * and strings are plain ASCII needing no unescaping and whose values are strings, integers,
 * booleans or null (what our daemon writes); unknown keys are skipped. EAGAIN for anything else —
 * an error reply, whitespace, escapes, nesting, a number that is not a plain integer, a repeated
 * key, a string that does not fit — which the caller must hand to ik_reply_parse (it decides, and
 * refuses what is malformed with IK_EPROTO). Never reads past len. */
int ik_reply_query_fast(const char *json, size_t len, struct ik_reply_query *out);

/* The same fields from a parsed header object (the fallback of the above). */
void ik_reply_query_from(const json_t *obj, struct ik_reply_query *out);

/* The "code" of an error reply object, or NULL. Borrowed from obj. */
const char *ik_reply_error_code(const json_t *obj);

/* The client's code for an error reply's code, so that a failure reads the same whether the
 * daemon or the client found it: "bad_request" -> EINVAL, "unsupported" -> ENOTSUP,
 * "too_large" -> IK_ELIMIT, "not_found" -> ENOENT, "forbidden" -> EACCES, "protocol" ->
 * IK_EPROTO, "disk_full" -> ENOSPC, "io_error" -> EIO; anything else (NULL, "internal",
 * "busy", "timeout": the daemon's own state, not ours) IK_EREMOTE. */
int ik_reply_errno(const char *code);

#endif
