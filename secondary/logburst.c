/* See logburst.h. */
#include "secondary/logburst.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void
log_burst_init(struct log_burst *b, const char *const *kinds, size_t nkinds)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->m, NULL);
	b->nkinds = nkinds < LOG_BURST_KINDS ? nkinds : LOG_BURST_KINDS;
	for (size_t i = 0; i < b->nkinds; i++)
		b->kinds[i] = kinds[i];
}

/* The summary of the lines put at debug; lock held. */
static void
summary_locked(struct log_burst *b, int64_t now_ms)
{
	char text[512];
	size_t len = 0;
	for (size_t i = 0; i < b->nkinds; i++) {
		if (b->quiet[i] == 0 || len >= sizeof(text))
			continue;
		int w = snprintf(text + len, sizeof(text) - len, "%s%" PRIu64 " %s",
		                 len > 0 ? ", " : "", b->quiet[i], b->kinds[i]);
		if (w > 0)
			len += (size_t)w;
		b->quiet[i] = 0;
	}
	atomic_store(&b->pending, false);
	if (len > 0)
		log_info(NULL, "busy, in the last %.1f s %s, their lines at debug level",
		         (double)(now_ms - b->quiet_since) / 1000.0, text);
}

enum log_level
log_burst_level(struct log_burst *b, size_t kind, int64_t now_ms)
{
	if (kind >= b->nkinds)
		return LOG_INFO;
	enum log_level lvl = LOG_INFO;
	pthread_mutex_lock(&b->m);
	if (now_ms - b->window_ms >= 1000) {
		b->window_ms = now_ms;
		b->n = 0;
	}
	if (atomic_load(&b->pending) && now_ms - b->quiet_since >= 1000)
		summary_locked(b, now_ms);
	if (b->n < LOG_BURST_MAX) {
		b->n++;
	} else {
		if (!atomic_load(&b->pending)) {
			atomic_store(&b->pending, true);
			b->quiet_since = now_ms;
		}
		b->quiet[kind]++;
		lvl = LOG_DEBUG;
	}
	pthread_mutex_unlock(&b->m);
	return lvl;
}

bool
log_burst_tick(struct log_burst *b, int64_t now_ms, bool force)
{
	if (!atomic_load(&b->pending))
		return false;
	pthread_mutex_lock(&b->m);
	if (atomic_load(&b->pending) && (force || now_ms - b->quiet_since >= 1000))
		summary_locked(b, now_ms);
	bool pending = atomic_load(&b->pending);
	pthread_mutex_unlock(&b->m);
	return pending;
}

void
log_burst_destroy(struct log_burst *b, int64_t now_ms)
{
	log_burst_tick(b, now_ms, true);
	pthread_mutex_destroy(&b->m);
}
