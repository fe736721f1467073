/* error.c - the message side of t5e_status. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

const char *t5e_status_name(t5e_status s) {
    switch (s) {
    case T5E_OK: return "ok";
    case T5E_ERR_IO: return "i/o error";
    case T5E_ERR_FORMAT: return "bad format";
    case T5E_ERR_CONFIG: return "bad config";
    case T5E_ERR_SHAPE: return "bad shape";
    case T5E_ERR_ARG: return "bad argument";
    case T5E_ERR_NOMEM: return "out of memory";
    case T5E_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

t5e_status err_set(t5e_err *err, t5e_status s, const char *fmt, ...) {
    if (!err)
        return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = s;
    return s;
}

t5e_status err_prefix(t5e_err *err, t5e_status s, const char *fmt, ...) {
    if (!err)
        return s;
    char head[T5E_ERR_MSG_MAX / 2], old[T5E_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* the message may be cut at T5E_ERR_MSG_MAX; that is accepted */
    size_t n = strlen(head);
    size_t m = strlen(old), room = sizeof err->msg - n - 3;
    if (m > room)
        m = room;
    memcpy(err->msg, head, n);
    memcpy(err->msg + n, ": ", 2);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    err->status = s;
    return s;
}
