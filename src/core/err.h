/* The one error type of prunescope: callees fill a message, callers decide how to show it.
 * Not for logging or progress output; nothing below main.c prints or exits. */
#ifndef PRUNESCOPE_CORE_ERR_H
#define PRUNESCOPE_CORE_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define ERR_MSG_BYTES 1024

/* What kind of failure, for callers that react differently (a conformance run counts
 * "unsupported" as skipped, not failed). */
enum err_code {
    ERR_FAILED = 0,
    ERR_UNSUPPORTED = 1, /* valid input using a feature prunescope does not implement */
    ERR_CANCELLED = 2,   /* the user interrupted the work (Ctrl-C) */
};

struct err {
    enum err_code code;
    char msg[ERR_MSG_BYTES];
};

/* Replace the message. Always returns -1 so a caller can write `return err_set(...)`. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int err_vset(struct err *e, const char *fmt, va_list ap);

/* Like err_set, with code ERR_UNSUPPORTED. Returns -1. */
int err_unsupported(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Put context in front of the message already set ("model.onnx: " + message). Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set an out-of-memory message naming what was being allocated. Returns -1. */
int err_oom(struct err *e, const char *what, size_t bytes);

void err_clear(struct err *e);

#endif
