/* job.h: one thread waiting on a condition variable; each command runs with a text sink
 * writing into a memory stream, and its out_progress reports go into fields behind the
 * job's mutex. */
#include "tui/job.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    struct session *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, pending, done, quit;
    char *line;
    /* The result, valid when done. */
    int rc;
    char *output;
    struct err err;
    /* Progress of the running command. */
    char what[64];
    size_t p_done, p_total;
    double p_elapsed;
};

static void on_progress(void *ctx, const char *what, size_t done, size_t total, double elapsed_s)
{
    struct job *j = ctx;
    pthread_mutex_lock(&j->mu);
    snprintf(j->what, sizeof j->what, "%s", what ? what : "");
    j->p_done = done;
    j->p_total = total;
    j->p_elapsed = elapsed_s;
    pthread_mutex_unlock(&j->mu);
}

static void run_one(struct job *j, const char *line, int *rc, char **output, struct err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        *rc = err_oom(err, "command output", 0);
        *output = NULL;
        return;
    }
    struct out o;
    out_init(&o, false, f, f);
    o.progress = on_progress;
    o.progress_ctx = j;
    struct cmd_ctx c = {.s = j->s, .o = &o};
    *rc = cmd_run_line(&c, line, err);
    fclose(f);
    *output = buf;
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->pending && !j->quit)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->quit)
            break;
        j->pending = false;
        char *line = j->line;
        pthread_mutex_unlock(&j->mu);
        int rc;
        char *output;
        struct err err;
        err_clear(&err);
        run_one(j, line, &rc, &output, &err);
        pthread_mutex_lock(&j->mu);
        j->rc = rc;
        j->output = output;
        j->err = err;
        j->done = true;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

struct job *job_new(struct session *s, struct err *err)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        err_oom(err, "job", sizeof *j);
        return NULL;
    }
    j->s = s;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
        err_set(err, "cannot start the screen's command thread");
        return NULL;
    }
    return j;
}

void job_free(struct job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    while (j->started && !j->done)
        pthread_cond_wait(&j->cv, &j->mu);
    j->quit = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    free(j->line);
    free(j->output);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

int job_start(struct job *j, const char *line, struct err *err)
{
    char *copy = strdup(line);
    if (!copy)
        return err_oom(err, "command line", strlen(line));
    pthread_mutex_lock(&j->mu);
    if (j->started) {
        pthread_mutex_unlock(&j->mu);
        free(copy);
        return err_set(err, "a command is still running");
    }
    free(j->line);
    j->line = copy;
    j->started = true;
    j->done = false;
    j->pending = true;
    j->what[0] = '\0';
    j->p_done = j->p_total = 0;
    j->p_elapsed = 0;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

bool job_busy(struct job *j)
{
    pthread_mutex_lock(&j->mu);
    bool busy = j->started;
    pthread_mutex_unlock(&j->mu);
    return busy;
}

bool job_wait(struct job *j, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mu);
    while (j->started && !j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) != 0)
            break;
    bool ended = !j->started || j->done;
    pthread_mutex_unlock(&j->mu);
    return ended;
}

int job_collect(struct job *j, char **output, struct err *err)
{
    pthread_mutex_lock(&j->mu);
    int rc = j->rc;
    *output = j->output;
    j->output = NULL;
    *err = j->err;
    j->started = j->done = false;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void job_progress(struct job *j, char *what, size_t size, size_t *done, size_t *total,
                  double *elapsed_s)
{
    pthread_mutex_lock(&j->mu);
    snprintf(what, size, "%s", j->what);
    *done = j->p_done;
    *total = j->p_total;
    *elapsed_s = j->p_elapsed;
    pthread_mutex_unlock(&j->mu);
}

void job_line(struct job *j, char *buf, size_t size)
{
    pthread_mutex_lock(&j->mu);
    snprintf(buf, size, "%s", j->line ? j->line : "");
    pthread_mutex_unlock(&j->mu);
}
