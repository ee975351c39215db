/* The monotonic clock in milliseconds, for deadlines and durations in every layer. */
#include <time.h>

#include "internal.h"

double ik_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
