/*
 * Clocks: the one place that reads CLOCK_MONOTONIC and CLOCK_REALTIME.
 * Monotonic time is for deadlines and durations, real time only for what is
 * shown to people or written into DNS (TSIG, SOA EPOCH, RRSIG).
 */
#ifndef UTIL_CLOCK_H
#define UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds since an arbitrary point (boot). */
static inline int64_t
clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic milliseconds. */
static inline int64_t
clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

/* Monotonic seconds as a double (durations in logs and metrics). */
static inline double
clock_mono_s(void)
{
	return (double)clock_mono_ns() / 1e9;
}

/* Wall-clock milliseconds since the epoch. */
static inline int64_t
clock_real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
