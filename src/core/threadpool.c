/* Worker threads claiming task numbers from a shared counter, with the caller as worker 0.
 * Not for cancellation: a task that wants to stop early checks its own flag. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct worker {
    struct threadpool *pool;
    pthread_t thread;
    int index;
};

struct threadpool {
    int threads;
    struct worker *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    /* The current job; generation changes when a new one starts. */
    unsigned long generation;
    pool_task_fn fn;
    void *arg;
    size_t n_tasks;
    atomic_size_t next_task;
    int busy_helpers;
    bool stopping;
};

static void claim_tasks(struct threadpool *p, int worker)
{
    for (;;) {
        size_t t = atomic_fetch_add(&p->next_task, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->arg, t, worker);
    }
}

static void *worker_main(void *opaque)
{
    struct worker *w = opaque;
    struct threadpool *p = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stopping)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        claim_tasks(p, w->index);
        pthread_mutex_lock(&p->lock);
        if (--p->busy_helpers == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int pool_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

struct threadpool *pool_new(int threads, struct err *err)
{
    if (threads < 1)
        threads = 1;
    struct threadpool *p = calloc(1, sizeof *p);
    if (!p) {
        err_oom(err, "thread pool", sizeof *p);
        return NULL;
    }
    p->threads = threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->workers = calloc((size_t)threads, sizeof *p->workers);
    if (!p->workers) {
        pool_free(p);
        err_oom(err, "thread pool workers", (size_t)threads * sizeof *p->workers);
        return NULL;
    }
    for (int i = 1; i < threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            p->threads = i;
            pool_free(p);
            err_set(err, "could not start worker thread %d of %d", i + 1, threads);
            return NULL;
        }
    }
    return p;
}

void pool_free(struct threadpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->threads && p->workers; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->workers);
    free(p);
}

int pool_threads(const struct threadpool *p)
{
    return p ? p->threads : 1;
}

void pool_run(struct threadpool *p, size_t n_tasks, pool_task_fn fn, void *arg)
{
    if (!p || p->threads == 1 || n_tasks <= 1) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    p->busy_helpers = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    claim_tasks(p, 0);

    pthread_mutex_lock(&p->lock);
    while (p->busy_helpers > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
