/* A background measurement for front ends that must not block (the TUI): start measures
 * the configuration on the session's weights on a thread of its own, cancel stops it,
 * poll tells how it stands and hands over the result once. While a measurement runs the
 * caller may read the session (configuration, layers, sensitivity table, predictions)
 * but must not change it or run the engine: cancel (or wait) first, change, start again.
 * Not the evaluation itself (session_eval). */
#ifndef PRUNESCOPE_SESSION_WORKER_H
#define PRUNESCOPE_SESSION_WORKER_H

#include <stdint.h>

#include "core/err.h"
#include "session/session.h"

enum worker_state {
    WORKER_IDLE,      /* nothing running, no result waiting */
    WORKER_RUNNING,   /* started, not finished */
    WORKER_DONE,      /* a result waits (poll hands it over once) */
    WORKER_CANCELLED, /* the measurement was stopped before it finished */
    WORKER_FAILED,    /* it failed: the result's err says why */
};
const char *worker_state_name(enum worker_state st);

struct worker_result {
    uint64_t tag; /* the caller's tag given to worker_start */
    struct metrics m;
    double elapsed_ms;
    struct err err;
};

struct worker;

struct worker *worker_new(struct session *s, struct err *err);
/* Cancels a running measurement and ends the thread. NULL is fine. */
void worker_free(struct worker *w);

/* Measure the session's current configuration (cancelling one still running, whose result
 * is dropped). tag comes back in the result, to tell which configuration it was for. */
int worker_start(struct worker *w, uint64_t tag, struct err *err);
/* Stop the running measurement and wait until the thread has let go of the session.
 * Returns WORKER_CANCELLED when one was stopped, WORKER_DONE or WORKER_FAILED when it had
 * finished first (its result is dropped all the same), WORKER_IDLE when none was started. */
enum worker_state worker_cancel(struct worker *w);
/* How it stands; for DONE, CANCELLED and FAILED *out receives the result (may be NULL)
 * and the worker becomes idle. */
enum worker_state worker_poll(struct worker *w, struct worker_result *out);
/* Block until the measurement ends, then as worker_poll. */
enum worker_state worker_wait(struct worker *w, struct worker_result *out);

#endif
