/*
 * POP health (see health.h).  The table of primary serials holds one entry
 * per zone whose primary serial was seen (NOTIFY, every refresh's SOA
 * check: 100,000 with a big catalog), found by name through a hash set; it
 * is touched by NOTIFY, refreshes and the announce thread, never by queries.
 */
#include "secondary/health.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/name.h"
#include "dns/serial.h"
#include "secondary/sched.h"
#include "util/clock.h"

struct primary_serial {
	uint32_t serial;
	int64_t behind_since_ms;      /* 0: not behind */
	uint8_t wire[];               /* the key of the set, as long as it is */
};

struct health {
	struct health_cfg cfg;
	pthread_mutex_t lock;
	bool listening;
	struct nameset ps;            /* of struct primary_serial */
};

static const uint8_t *
ps_key(const void *v)
{
	return ((const struct primary_serial *)v)->wire;
}

int64_t
health_now_ms(void)
{
	return clock_mono_ms();
}

struct health *
health_new(const struct health_cfg *cfg)
{
	struct health *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->cfg = *cfg;
	pthread_mutex_init(&h->lock, NULL);
	nameset_init(&h->ps, ps_key);
	return h;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->lock);
	for (size_t i = 0; i < h->ps.cap; i++)
		free(h->ps.slot[i]);
	nameset_free(&h->ps);
	free(h);
}

void
health_set_listening(struct health *h, bool on)
{
	pthread_mutex_lock(&h->lock);
	h->listening = on;
	pthread_mutex_unlock(&h->lock);
}

/* The entry of `zone` (presentation form); its wire form into `wire`. */
static struct primary_serial *
find_ps(struct health *h, const char *zone, uint8_t *wire)
{
	if (dns_name_from_text(zone, strlen(zone), NULL, wire) < 0)
		return NULL;
	return nameset_get(&h->ps, wire);
}

int
health_note_primary(struct health *h, const char *zone, uint32_t serial, int64_t now_ms)
{
	(void)now_ms;
	int ret = 0;
	pthread_mutex_lock(&h->lock);
	uint8_t wire[DNS_NAME_MAX];
	struct primary_serial *p = find_ps(h, zone, wire);
	if (p == NULL) {
		if (dns_name_from_text(zone, strlen(zone), NULL, wire) < 0) {
			ret = -EINVAL;
			goto out;
		}
		p = calloc(1, sizeof(*p) + dns_name_len(wire));
		if (p == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(p->wire, wire, dns_name_len(wire));
		p->serial = serial;
		if (nameset_put(&h->ps, p) != 0) {
			free(p);
			ret = -ENOMEM;
		}
	} else if (dns_serial_gt(serial, p->serial)) {
		p->serial = serial;
	}
out:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void
health_set_timers(struct health *h, struct timers *t)
{
	h->cfg.timers = t;
}

void
health_primary_serial_cb(void *ctx, const char *zone, uint32_t serial)
{
	health_note_primary(ctx, zone, serial, health_now_ms());
}

int
health_on_notify(void *ctx, const uint8_t *apex, bool has_serial, uint32_t serial)
{
	struct health *h = ctx;
	if (has_serial) {
		char name[DNS_NAME_TEXT_MAX];
		if (dns_name_to_text(apex, name, sizeof(name)) >= 0)
			health_note_primary(h, name, serial, health_now_ms());
	}
	if (h->cfg.timers == NULL)
		return -ENOENT;
	return timers_notify(h->cfg.timers, apex, has_serial, serial);
}

static void addf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends to a fixed buffer; when full, the buffer ends with "...\n". */
static void
addf(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strnlen(buf, cap);
	if (len + 1 >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= cap - len && cap >= 5)
		memcpy(buf + cap - 5, "...\n", 5);
}

static void
fault(struct health_result *out, bool lag, const char *line)
{
	out->faults++;
	out->healthy = false;
	addf(out->why, sizeof(out->why), "%s\n", line);
	if (lag)
		addf(out->lag, sizeof(out->lag), "%s\n", line);
}

/*
 * Whether zone `z` (loaded) lags the primary beyond the limits; if so, the
 * reason in `line`.  Forgets the lag of a zone that caught up.  h->lock held.
 */
static bool
lagging(struct health *h, const struct timers_zone_info *z, int64_t now_ms, char *line,
        size_t cap)
{
	uint8_t wire[DNS_NAME_MAX];
	struct primary_serial *p = find_ps(h, z->name, wire);
	if (p == NULL)
		return false;
	if (!dns_serial_gt(p->serial, z->serial)) {
		/* caught up (a refresh brought the primary's serial or newer) */
		p->serial = z->serial;
		p->behind_since_ms = 0;
		return false;
	}
	if (p->behind_since_ms == 0)
		p->behind_since_ms = now_ms > 0 ? now_ms : 1;
	long long behind_s = (now_ms - p->behind_since_ms) / 1000;
	uint32_t dist = p->serial - z->serial;   /* RFC 1982: forward distance */
	if (h->cfg.max_lag_serials != 0 && dist > h->cfg.max_lag_serials) {
		snprintf(line, cap, "zone %s lags the primary: serial %u, primary %u (%u serials)",
		         z->name, z->serial, p->serial, dist);
		return true;
	}
	if (h->cfg.max_lag_s != 0 &&
	    now_ms - p->behind_since_ms > (int64_t)h->cfg.max_lag_s * 1000) {
		snprintf(line, cap, "zone %s lags the primary: serial %u, primary %u, for %lld s",
		         z->name, z->serial, p->serial, behind_s);
		return true;
	}
	return false;
}

/* Whether signed zone `z` has signatures expiring within the margin; if so, why in `line`. */
static bool
sigs_expiring(const struct health *h, const struct timers_zone_info *z, char *line, size_t cap)
{
	if (h->cfg.rrsig_margin_s == 0 || !z->is_signed ||
	    z->sig_left_s >= (int64_t)h->cfg.rrsig_margin_s)
		return false;
	if (z->sig_left_s < 0)
		snprintf(line, cap, "zone %s signatures expired %lld s ago", z->name,
		         (long long)-z->sig_left_s);
	else
		snprintf(line, cap, "zone %s signatures expire in %lld s (margin %u s)", z->name,
		         (long long)z->sig_left_s, h->cfg.rrsig_margin_s);
	return true;
}

int
health_parse_max_bad(const char *s, struct health_cfg *cfg)
{
	size_t len = strlen(s);
	if (len == 0 || len > 16)
		return -EINVAL;
	bool pct = s[len - 1] == '%';
	size_t digits = pct ? len - 1 : len;
	uint64_t whole = 0, frac = 0;
	unsigned nfrac = 0;
	bool dot = false, any = false;
	for (size_t i = 0; i < digits; i++) {
		if (s[i] == '.' && pct && !dot) {
			dot = true;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		any = true;
		if (dot) {
			if (++nfrac > 4)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(s[i] - '0');
		} else {
			whole = whole * 10 + (uint64_t)(s[i] - '0');
			if (whole > 1000000)
				return -EINVAL;
		}
	}
	if (!any)
		return -EINVAL;
	if (!pct) {
		cfg->max_bad = (unsigned)whole;
		cfg->max_bad_ppm = 0;
		return 0;
	}
	for (; nfrac < 4; nfrac++)
		frac *= 10;
	uint64_t ppm = whole * 10000 + frac;   /* 1% = 10000 ppm */
	if (ppm > 1000000)
		return -EINVAL;
	cfg->max_bad = 0;
	cfg->max_bad_ppm = (unsigned)ppm;
	return 0;
}

/* One evaluation, zone by zone (health_check streams the zones from the
 * timers' walk: no copy of 100,000 zone states, 110 MB, at every check). */
struct acc {
	struct health *h;
	struct health_result *out;
	int64_t now_ms;
	unsigned served;
	size_t n;
	char badl[sizeof(((struct health_result *)0)->why)];
	char lagl[sizeof(((struct health_result *)0)->lag)];
};

/* Caller holds h->lock from here to acc_end. */
static void
acc_begin(struct acc *a, struct health *h, int64_t now_ms, struct health_result *out)
{
	memset(out, 0, sizeof(*out));
	a->h = h;
	a->out = out;
	a->now_ms = now_ms;
	a->served = 0;
	a->n = 0;
	a->badl[0] = a->lagl[0] = '\0';
	out->healthy = true;
	if (!h->listening) {
		out->faults++;
		out->healthy = false;
		addf(out->why, sizeof(out->why), "DNS service not listening\n");
		addf(out->lag, sizeof(out->lag), "DNS service not listening\n");
	}
}

static void
acc_catalog(struct acc *a, const struct timers_zone_info *z)
{
	/* The catalog is the list of what to serve: it must be fresh. */
	char line[DNS_NAME_TEXT_MAX + 128];
	bool lag = false;
	if (!z->loaded || z->expired)
		snprintf(line, sizeof(line), "catalog %s %s", z->name,
		         z->loaded ? "expired" : "not loaded");
	else if (!(lag = lagging(a->h, z, a->now_ms, line, sizeof(line))))
		return;
	fault(a->out, lag, line);
}

static void
acc_zone(void *ctx, const struct timers_zone_info *z)
{
	struct acc *a = ctx;
	struct health *h = a->h;
	struct health_result *out = a->out;
	int64_t now_ms = a->now_ms;
	a->n++;
	out->zones++;
	if (z->is_catalog) {
		acc_catalog(a, z);
		return;
	}
	char line[DNS_NAME_TEXT_MAX + 128];
	out->members++;
	bool settled = z->initial || now_ms - z->added_ms >= (int64_t)h->cfg.grace_s * 1000;
	bool lag = false;
	if (!z->loaded || z->expired)
		out->unloadable++;
	if (z->expired) {
		snprintf(line, sizeof(line), "zone %s expired", z->name);
	} else if (!z->loaded && !settled) {
		out->pending++;
		addf(out->detail, sizeof(out->detail),
		     "zone %s not loaded, new (%lld s in the catalog, grace %u s)\n", z->name,
		     (long long)((now_ms - z->added_ms) / 1000), h->cfg.grace_s);
		return;
	} else if (!z->loaded) {
		snprintf(line, sizeof(line), "zone %s not loaded", z->name);
	} else if (sigs_expiring(h, z, line, sizeof(line))) {
		/* Its answers would soon not validate: withdraw rather than serve
		 * bogus data (DESIGN: expiring signatures withdraw), whatever the
		 * --health-max-bad budget. */
		a->served++;
		out->settled++;
		fault(out, false, line);
		addf(out->detail, sizeof(out->detail), "%s\n", line);
		return;
	} else if (!(lag = lagging(h, z, now_ms, line, sizeof(line)))) {
		a->served++;
		if (settled)
			out->settled++;
		return;
	}
	out->settled++;
	out->bad++;
	addf(out->detail, sizeof(out->detail), "%s\n", line);
	addf(a->badl, sizeof(a->badl), "%s\n", line);
	if (lag)
		addf(a->lagl, sizeof(a->lagl), "%s\n", line);
}

/* The verdict; h->lock no longer needed. */
static void
acc_end(struct acc *a)
{
	struct health *h = a->h;
	struct health_result *out = a->out;
	if (h->cfg.max_bad_ppm != 0) {
		uint64_t al = (uint64_t)out->settled * h->cfg.max_bad_ppm / 1000000;
		out->allowed = al < 1 ? 1 : (unsigned)al;
	} else {
		out->allowed = h->cfg.max_bad;
	}
	if (out->bad > out->allowed || (out->bad > 0 && a->served == 0)) {
		out->healthy = false;
		out->faults += out->bad;
		if (out->bad > out->allowed && out->bad > 1)
			addf(out->why, sizeof(out->why),
			     "%u of %u zones missing, expired or lagging (at most %u allowed)\n",
			     out->bad, out->settled, out->allowed);
		else if (out->bad > 1)
			addf(out->why, sizeof(out->why), "none of %u zones servable\n", out->members);
		addf(out->why, sizeof(out->why), "%s", a->badl);
		addf(out->lag, sizeof(out->lag), "%s", a->lagl);
	}
	if (a->n == 0) {
		out->faults++;
		out->healthy = false;
		addf(out->why, sizeof(out->why), "no zones\n");
	}
}

void
health_eval(struct health *h, const struct timers_zone_info *zi, size_t n, int64_t now_ms,
            struct health_result *out)
{
	struct acc *a = malloc(sizeof(*a));
	if (a == NULL) {
		memset(out, 0, sizeof(*out));
		out->faults = 1;
		snprintf(out->why, sizeof(out->why), "out of memory checking the zones\n");
		return;
	}
	pthread_mutex_lock(&h->lock);
	acc_begin(a, h, now_ms, out);
	for (size_t i = 0; i < n; i++)
		acc_zone(a, &zi[i]);
	pthread_mutex_unlock(&h->lock);
	acc_end(a);
	free(a);
}

int
health_check(struct health *h, int64_t now_ms, struct health_result *out)
{
	struct acc *a = malloc(sizeof(*a));
	if (a == NULL) {
		memset(out, 0, sizeof(*out));
		out->faults = 1;
		snprintf(out->why, sizeof(out->why), "out of memory checking the zones\n");
		return -ENOMEM;
	}
	/* lock order: h->lock, then the registry's (timers_walk); nothing takes them the
	 * other way round (the timers call health without their lock) */
	pthread_mutex_lock(&h->lock);
	acc_begin(a, h, now_ms, out);
	if (h->cfg.timers != NULL)
		timers_walk(h->cfg.timers, acc_zone, a);
	pthread_mutex_unlock(&h->lock);
	acc_end(a);
	free(a);
	return 0;
}
