/* One command line run on a thread of its own, so that the screen keeps drawing (and Esc
 * can cancel) while a sweep, a curve or an export runs: its text output captured, its
 * progress readable at any time. Not the commands (commands/) and not drawing. */
#ifndef PRUNESCOPE_TUI_JOB_H
#define PRUNESCOPE_TUI_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "commands/command.h"

struct job;

/* Runs commands on session s (borrowed). While a job runs nothing else may touch s. */
struct job *job_new(struct session *s, struct err *err);
/* Waits for a running job to end (the caller cancels it first), then frees. NULL is fine. */
void job_free(struct job *j);

/* Start line (copied) when no job runs. */
int job_start(struct job *j, const char *line, struct err *err);
/* Whether a job was started and has not been collected by job_collect. */
bool job_busy(struct job *j);
/* Waits up to timeout_ms for the job to end; true when it has ended. */
bool job_wait(struct job *j, int timeout_ms);
/* Once ended: the command's return code (0 or -1), its text output (owned by the caller,
 * free it) and the error when it failed. The job becomes idle. */
int job_collect(struct job *j, char **output, struct err *err);

/* What the running command last reported through out_progress (what may be empty). */
void job_progress(struct job *j, char *what, size_t size, size_t *done, size_t *total,
                  double *elapsed_s);
/* The line running (or last run), for the status line. */
void job_line(struct job *j, char *buf, size_t size);

#endif
