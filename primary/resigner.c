/*
 * The signature refresher (see resigner.h): one thread, a condition
 * variable to sleep on and to be woken for stopping.  Zones are listed from
 * a snapshot, then refreshed one by one through the store's write path, so
 * a refresh waits for (and is waited for by) API changes like any writer.
 */
#include "primary/resigner.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

struct resigner {
	struct store *st;
	unsigned interval;
	size_t batch;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

/* The names of the signed zones of one pass (grown as needed). */
struct zlist {
	uint8_t (*names)[DNS_NAME_MAX];
	size_t n, cap;
};

static int
zone_signed(void *ctx, const struct store_zone *z)
{
	struct zlist *l = ctx;
	if (!z->dnssec)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p = realloc(l->names, cap * sizeof(*l->names));
		if (p == NULL)
			return -ENOMEM;
		l->names = p;
		l->cap = cap;
	}
	memcpy(l->names[l->n++], z->name, DNS_NAME_MAX);
	return 0;
}

static void
pass(struct resigner *r)
{
	struct zlist l = {0};
	struct store_snap *sn;
	if (store_snap_open(r->st, &sn) != 0)
		return;
	store_snap_zones(sn, NULL, NULL, 0, zone_signed, &l);
	store_snap_close(sn);
	for (size_t i = 0; i < l.n; i++) {
		pthread_mutex_lock(&r->mu);
		bool stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		struct store_result res;
		char err[256] = "", text[DNS_NAME_TEXT_MAX];
		int ret = store_zone_refresh(r->st, l.names[i], r->batch, &res, err, sizeof(err));
		if (ret != 0 && ret != -ENOENT) {
			dns_name_to_text(l.names[i], text, sizeof(text));
			log_warning(text, "signature refresh failed: %s", err[0] ? err : strerror(-ret));
		}
		err[0] = '\0';
		ret = store_zone_roll(r->st, l.names[i], r->batch, &res, err, sizeof(err));
		if (ret != 0 && ret != -ENOENT) {
			dns_name_to_text(l.names[i], text, sizeof(text));
			log_warning(text, "ZSK rollover step failed: %s", err[0] ? err : strerror(-ret));
		}
	}
	free(l.names);
}

static void *
run(void *arg)
{
	struct resigner *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += r->interval;
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
			;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		pass(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int
resigner_start(struct store *st, unsigned interval, size_t batch, struct resigner **out,
               char *err, size_t errcap)
{
	struct resigner *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	r->st = st;
	r->interval = interval ? interval : 60;
	r->batch = batch ? batch : 200;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->th, NULL, run, r) != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		snprintf(err, errcap, "cannot start the signature refresher thread");
		return -EAGAIN;
	}
	*out = r;
	return 0;
}

void
resigner_stop(struct resigner *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
