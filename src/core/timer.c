/* CLOCK_MONOTONIC as seconds in a double.
 * Not for timestamps shown to users as dates. */
#include "core/timer.h"

#include <time.h>

double timer_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
