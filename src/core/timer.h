/* Monotonic wall-clock time for measuring how long work takes.
 * Not a scheduler or a sleep facility. */
#ifndef PRUNESCOPE_CORE_TIMER_H
#define PRUNESCOPE_CORE_TIMER_H

/* Seconds since an arbitrary fixed point, from CLOCK_MONOTONIC. */
double timer_now_s(void);

#endif
