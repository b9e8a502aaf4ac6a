/* A fixed set of worker threads that run numbered tasks of one job in parallel.
 * Not a queue of unrelated jobs: one job at a time, and the caller takes part in it. */
#ifndef PRUNESCOPE_CORE_THREADPOOL_H
#define PRUNESCOPE_CORE_THREADPOOL_H

#include <stddef.h>

#include "core/err.h"

struct threadpool;

/* Runs task number `task` on worker `worker` (0 .. threads-1; 0 is the calling thread). */
typedef void (*pool_task_fn)(void *arg, size_t task, int worker);

/* threads >= 1; threads - 1 helper threads are started. */
struct threadpool *pool_new(int threads, struct err *err);
void pool_free(struct threadpool *p);
int pool_threads(const struct threadpool *p);

/* Run tasks 0..n_tasks-1, each exactly once, spread over the workers; returns when all are
 * done. Tasks are claimed in increasing order. Must not be called from inside a task. */
void pool_run(struct threadpool *p, size_t n_tasks, pool_task_fn fn, void *arg);

/* Number of online CPUs (at least 1). */
int pool_cpu_count(void);

#endif
