/* Error codes and the error message buffer shared by every ipfs-kit function.
 * Functions return 0 on success or a positive code; when `err` is not NULL it receives a
 * human-readable message naming what was wrong and where. */
#ifndef IPFSKIT_ERROR_H
#define IPFSKIT_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* errno-style codes we use as they are: EINVAL (bad argument from the caller), ENOMEM, EIO,
 * ENOENT, ENOTSUP (valid input we do not implement). Our own codes start at 1000. */
enum {
    IK_EFORMAT = 1000,  /* malformed or hostile input bytes (IPC, flatbuffers, JSON) */
    IK_ELIMIT = 1001,   /* input exceeds a configured limit (size, depth, count) */
    IK_EAGAIN = 1002,   /* incremental reader: more bytes are needed */
    IK_EOS = 1003,      /* reader: end of stream reached, no more batches */
    IK_EINVALID = 1004, /* data that decodes but violates the Arrow spec (full validation) */
    IK_ELOCKED = 1005,  /* the store is held by a running daemon that could not be reached */
    IK_EDAEMON = 1006,  /* no daemon answers on the socket (down, or not ours) */
    IK_EPROTO = 1007,   /* the peer broke the wire protocol (bad frame, bad header) */
    IK_EREMOTE = 1008,  /* the daemon answered with an error reply; the message is its own */
    IK_EGONE = 1009,    /* changes asked since a version the change log no longer holds */
};

#define IK_ERROR_SIZE 512

struct ik_error {
    char message[IK_ERROR_SIZE];
};

/* Formats a message into `err` (no-op when err is NULL) and returns `code`. */
int ik_error_set(struct ik_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prepends "prefix: " to the message already in `err` (no-op when err is NULL); returns code. */
int ik_error_prefix(struct ik_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A short name for a code: "format error", "limit exceeded", strerror() for errno codes. */
const char *ik_strerror(int code);

/* Process exit codes of the ipfs-kit programs (sysexits.h values where one fits). */
enum {
    IK_EXIT_OK = 0,
    IK_EXIT_USAGE = 2,
    IK_EXIT_DATAERR = 65,     /* invalid input data */
    IK_EXIT_NOINPUT = 66,     /* input missing or unreadable */
    IK_EXIT_UNAVAILABLE = 69, /* the daemon a command needs is not running */
    IK_EXIT_SOFTWARE = 70,
    IK_EXIT_IOERR = 74,    /* a file could not be read or written, or the disk is full */
    IK_EXIT_TEMPFAIL = 75, /* the daemon holds the store but does not answer: retry later */
    IK_EXIT_CONFIG = 78,   /* the data directory is not ours or unsafe (owner, mode, links), or
                              config.json is bad */
};

/* The exit code for a function's error code: one per kind of failure (README's table). */
int ik_exit_code(int code);

#ifdef __cplusplus
}
#endif

#endif
