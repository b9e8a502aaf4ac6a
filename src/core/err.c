/* Error message helpers: formatting and prefixing of the one error type.
 * Not for deciding how errors reach the user (the front ends do that). */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

int err_vset(struct err *e, const char *fmt, va_list ap)
{
    if (e) {
        e->code = ERR_FAILED;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return -1;
}

int err_unsupported(struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, fmt, ap);
    va_end(ap);
    if (e)
        e->code = ERR_UNSUPPORTED;
    return -1;
}

int err_set(struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, fmt, ap);
    va_end(ap);
    return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char head[ERR_MSG_BYTES];
    char old[ERR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t used = strlen(head);
    if (used >= sizeof e->msg)
        used = sizeof e->msg - 1;
    memcpy(e->msg, head, used);
    size_t rest = strlen(old);
    if (rest > sizeof e->msg - 1 - used)
        rest = sizeof e->msg - 1 - used;
    memcpy(e->msg + used, old, rest);
    e->msg[used + rest] = '\0';
    return -1;
}

int err_oom(struct err *e, const char *what, size_t bytes)
{
    return err_set(e, "out of memory allocating %zu bytes for %s", bytes, what);
}

void err_clear(struct err *e)
{
    if (e) {
        e->code = ERR_FAILED;
        e->msg[0] = '\0';
    }
}
