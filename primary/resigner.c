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

#include "dns/dnssec.h"
#include "net/addr.h"
#include "primary/parent_ds.h"
#include "util/log.h"

struct resigner {
	struct store *st;
	unsigned interval;
	size_t batch;
	struct sockaddr_storage parent;   /* --dnssec-parent (parent_len 0: none) */
	socklen_t parent_len;
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

/* The incoming KSK whose CDS is up, and its DS rdatas. */
struct pending {
	const uint8_t *zone;
	int64_t id;
	struct parent_ds_want w;
};

static int
pending_one(void *ctx, const struct store_cryptokey *k)
{
	struct pending *p = ctx;
	if (!k->cds || !k->active || !k->published || p->id != 0)
		return 0;
	static const uint8_t dg[2] = {DNS_DNSSEC_DS_SHA256, DNS_DNSSEC_DS_SHA384};
	for (int i = 0; i < 2; i++) {
		int n = dns_dnssec_ds(p->zone, k->dnskey, k->dnskey_len, dg[i], p->w.ds[i],
		                      sizeof(p->w.ds[i]));
		p->w.len[i] = n > 0 ? (size_t)n : 0;
	}
	p->id = k->id;
	return 0;
}

/* With --dnssec-parent: the DS of zone's incoming KSK seen there moves its rollover on. */
static void
parent_check(struct resigner *r, const uint8_t *zone)
{
	struct pending p = {.zone = zone};
	struct store_snap *sn;
	struct store_zone z;
	if (r->parent_len == 0 || store_snap_open(r->st, &sn) != 0)
		return;
	if (store_snap_zone(sn, zone, &z) == 0)
		store_snap_cryptokeys(sn, &z, pending_one, &p);
	store_snap_close(sn);
	if (p.id == 0)
		return;
	char text[DNS_NAME_TEXT_MAX], err[256] = "";
	dns_name_to_text(zone, text, sizeof(text));
	int has = parent_ds_query((struct sockaddr *)&r->parent, r->parent_len, zone, &p.w, 2000);
	if (has < 0)
		log_warning(text, "parent DS query: %s", strerror(-has));
	if (has != 1)
		return;
	struct store_result res;
	int ret = store_ksk_ds_seen(r->st, zone, NULL, p.id, &res, err, sizeof(err));
	if (ret != 0)
		log_warning(text, "DS seen at the parent, but: %s", err[0] ? err : strerror(-ret));
	else
		log_info(text, "DS of the incoming KSK seen at the parent (--dnssec-parent)");
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
		parent_check(r, l.names[i]);
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
resigner_start(struct store *st, unsigned interval, size_t batch, const char *parent,
               struct resigner **out, char *err, size_t errcap)
{
	struct resigner *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	if (parent != NULL && addr_parse(parent, 53, &r->parent, &r->parent_len) != 0) {
		free(r);
		snprintf(err, errcap, "--dnssec-parent: '%s' is not ADDR or ADDR@PORT", parent);
		return -EINVAL;
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
