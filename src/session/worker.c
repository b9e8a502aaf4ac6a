/* One thread per worker, waiting on a condition variable for jobs; the engine's cancel
 * flag points at the worker's own flag while it measures. */
#include "session/worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct worker {
    struct session *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool pending, running, quit;
    enum worker_state state; /* what poll reports */
    uint64_t job_tag;
    volatile sig_atomic_t stop;
    struct worker_result result;
};

const char *worker_state_name(enum worker_state st)
{
    switch (st) {
    case WORKER_IDLE: return "idle";
    case WORKER_RUNNING: return "running";
    case WORKER_DONE: return "done";
    case WORKER_CANCELLED: return "cancelled";
    case WORKER_FAILED: return "failed";
    }
    return "?";
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->pending && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit)
            break;
        w->pending = false;
        w->running = true;
        struct worker_result r = {.tag = w->job_tag};
        pthread_mutex_unlock(&w->mu);

        struct session *s = w->s;
        int rc = -1;
        if (s->engine)
            engine_set_cancel(s->engine, &w->stop);
        if (w->stop) {
            err_set(&r.err, "cancelled");
            r.err.code = ERR_CANCELLED;
        } else {
            rc = session_eval(s, 0, &r.m, &r.elapsed_ms, &r.err);
        }
        if (s->engine)
            engine_set_cancel(s->engine, s->cancel);

        pthread_mutex_lock(&w->mu);
        w->running = false;
        w->result = r;
        w->state = rc == 0                        ? WORKER_DONE
                   : r.err.code == ERR_CANCELLED ? WORKER_CANCELLED
                                                 : WORKER_FAILED;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct worker *worker_new(struct session *s, struct err *err)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w) {
        err_oom(err, "worker", sizeof *w);
        return NULL;
    }
    w->s = s;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        err_set(err, "cannot start the background worker thread");
        return NULL;
    }
    return w;
}

/* With mu held: stop what is pending or running and wait for the thread to let go. */
static enum worker_state stop_locked(struct worker *w)
{
    enum worker_state was = w->state;
    bool stopped = w->pending;
    w->pending = false;
    if (w->running) {
        w->stop = 1;
        while (w->running)
            pthread_cond_wait(&w->cv, &w->mu);
        stopped = w->state == WORKER_CANCELLED;
        was = w->state;
    }
    w->stop = 0;
    w->state = WORKER_IDLE;
    if (stopped)
        return WORKER_CANCELLED;
    return was == WORKER_RUNNING ? WORKER_CANCELLED : was;
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    stop_locked(w);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int worker_start(struct worker *w, uint64_t tag, struct err *err)
{
    if (!w->s->engine || !w->s->data)
        return err_set(err, "nothing to measure: load a model and data first");
    pthread_mutex_lock(&w->mu);
    stop_locked(w);
    w->job_tag = tag;
    w->pending = true;
    w->state = WORKER_RUNNING;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

enum worker_state worker_cancel(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    enum worker_state st = stop_locked(w);
    pthread_mutex_unlock(&w->mu);
    return st;
}

/* With mu held: report the state, handing over a finished result. */
static enum worker_state take_locked(struct worker *w, struct worker_result *out)
{
    enum worker_state st = w->state;
    if (st == WORKER_DONE || st == WORKER_CANCELLED || st == WORKER_FAILED) {
        if (out)
            *out = w->result;
        w->state = WORKER_IDLE;
    }
    return st;
}

enum worker_state worker_poll(struct worker *w, struct worker_result *out)
{
    pthread_mutex_lock(&w->mu);
    enum worker_state st = take_locked(w, out);
    pthread_mutex_unlock(&w->mu);
    return st;
}

enum worker_state worker_wait(struct worker *w, struct worker_result *out)
{
    pthread_mutex_lock(&w->mu);
    while (w->pending || w->running)
        pthread_cond_wait(&w->cv, &w->mu);
    enum worker_state st = take_locked(w, out);
    pthread_mutex_unlock(&w->mu);
    return st;
}
