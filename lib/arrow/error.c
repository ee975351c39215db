/* Error messages: formatting into struct ik_error and naming error codes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ipfskit/error.h"

int ik_error_set(struct ik_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL)
        return code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

int ik_error_prefix(struct ik_error *err, int code, const char *fmt, ...)
{
    char old[IK_ERROR_SIZE];
    size_t n;
    va_list ap;
    if (err == NULL)
        return code;
    memcpy(old, err->message, sizeof old);
    old[sizeof old - 1] = 0;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    n = strlen(err->message);
    if (n + 2 < sizeof err->message) {
        memcpy(err->message + n, ": ", 2);
        n += 2;
        strncpy(err->message + n, old, sizeof err->message - n - 1);
        err->message[sizeof err->message - 1] = 0;
    }
    return code;
}

const char *ik_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case IK_EFORMAT:
        return "format error";
    case IK_ELIMIT:
        return "limit exceeded";
    case IK_EAGAIN:
        return "more input needed";
    case IK_EOS:
        return "end of stream";
    case IK_EINVALID:
        return "invalid data";
    case IK_ELOCKED:
        return "store locked by daemon";
    case IK_EDAEMON:
        return "daemon not running";
    case IK_EPROTO:
        return "protocol error";
    case IK_EREMOTE:
        return "daemon error";
    case IK_EGONE:
        return "changes no longer kept";
    default:
        return strerror(code);
    }
}

int ik_exit_code(int code)
{
    switch (code) {
    case 0:
        return IK_EXIT_OK;
    case IK_EFORMAT:
    case IK_ELIMIT:
    case IK_EINVALID:
    case ENOTSUP:
        return IK_EXIT_DATAERR;
    case ENOENT:
    case EACCES:
    case EISDIR:
        return IK_EXIT_NOINPUT;
    case EIO:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EPIPE:
        return IK_EXIT_IOERR;
    case ETIMEDOUT:
    case IK_ELOCKED:
        return IK_EXIT_TEMPFAIL;
    case IK_EDAEMON:
        return IK_EXIT_UNAVAILABLE;
    case EINVAL:
        return IK_EXIT_USAGE;
    case EPERM: /* a data directory that is not ours */
    case ELOOP: /* a link planted in it */
        return IK_EXIT_CONFIG;
    default:
        return IK_EXIT_SOFTWARE;
    }
}
