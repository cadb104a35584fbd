/*
 * Routine per-zone lines that come in bursts: a POP that follows a catalog
 * of 100,000 new zones would write a line for each member added, each
 * transfer started and each completed (three write()s a zone).  The first
 * LOG_BURST_MAX of a second are logged at info as before; beyond that they
 * go to debug, and one info line a second says how many of each kind there
 * were:
 *   info: busy, in the last 1.0 s 3405 zone transfers, 5000 zones added
 *         from the catalog, their lines at debug level
 * Failures and rejections are never counted here: they keep their level.
 * Thread-safe.
 */
#ifndef SECONDARY_LOGBURST_H
#define SECONDARY_LOGBURST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

#define LOG_BURST_MAX 20
#define LOG_BURST_KINDS 6

struct log_burst {
	pthread_mutex_t m;
	const char *kinds[LOG_BURST_KINDS];   /* "zone transfers completed", ... */
	size_t nkinds;
	int64_t window_ms;                    /* this second's start */
	unsigned n;                           /* lines at info in it */
	uint64_t quiet[LOG_BURST_KINDS];      /* lines at debug since quiet_since */
	int64_t quiet_since;
	atomic_bool pending;                  /* a summary is due (read without m) */
};

/* `kinds`: what each counter counts, for the summary line (static strings). */
void log_burst_init(struct log_burst *b, const char *const *kinds, size_t nkinds);
/* Says what is still counted, then frees. */
void log_burst_destroy(struct log_burst *b, int64_t now_ms);
/* The level for one more line of `kind` at `now_ms` (monotonic): LOG_INFO or LOG_DEBUG. */
enum log_level log_burst_level(struct log_burst *b, size_t kind, int64_t now_ms);
/* Writes the summary line when one is due (a second after the first line
 * put at debug, or at once with `force`); whether lines still wait for one. */
bool log_burst_tick(struct log_burst *b, int64_t now_ms, bool force);

#endif
