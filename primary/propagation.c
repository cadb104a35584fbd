/*
 * Propagation tracking (see propagation.h).  Zones are kept in a hash
 * table keyed by the lowercased name (chained, doubled when the load passes
 * one), so a commit costs O(1) whatever the number of zones: every API
 * commit and every transfer lands here.  Each zone has a ring of its last
 * PROP_COMMITS commits (serial, time), grown on demand so that 100,000
 * quiet zones stay small, and a list of targets; targets per zone are few
 * (the secondaries), so that list is scanned linearly.  One mutex guards it
 * all; nothing here is on a query path.
 */
#include "primary/propagation.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns/serial.h"
#include "primary/store.h"
#include "util/log.h"
#include "util/clock.h"
#include "util/hash.h"

#define PROP_COMMITS 256
#define PROP_TEXT 80

struct ptarget {
	struct ptarget *next;
	char pop[PROP_TEXT];         /* registry name of a POP, "" for other targets */
	char ip[PROP_TEXT];          /* address last seen ("" when only known from the store) */
	bool dirty;                  /* a POP's serial changed since the last flush */
	bool has_serial;
	uint32_t serial;
	enum propagation_how how;
	char transport[8];
	char key[PROP_TEXT * 2];
	int64_t at_ms;               /* when it asked or received `serial` */
	int64_t seen_ms;             /* last contact of any kind */
	bool notified;
	char notify_remote[PROP_TEXT];
	uint32_t notify_serial;
	bool notify_answered;
	unsigned notify_tries;
	int64_t notify_ms;
};

#define PROP_NAME_MAX 1040     /* longest zone name text accepted */
#define PROP_BUCKETS_MIN 64

struct pcommit {
	uint32_t serial;
	int64_t ms;
};

struct pzone {
	struct pzone *next;          /* hash chain */
	uint64_t hash;
	struct pcommit *commits;     /* ring of `cap` slots, cap <= PROP_COMMITS */
	unsigned cap, ncommits, head;   /* head is the next slot */
	struct ptarget *targets;
	char name[];                 /* as first given; compared case-insensitively */
};

/* The last transfer any zone's target at `ip` asked for or received: a
 * target working through a backlog (a bulk change) is busy, not stuck. */
#define PROP_ACTIVE_MAX 64
struct pactive {
	char ip[PROP_TEXT];
	int64_t ms;
};

/* A registered POP: targets at its address are known by its name. */
struct ppop {
	char name[PROP_TEXT];
	char ip[PROP_TEXT];
};

/* A (zone, POP) whose acknowledged serial is to be written to the store. */
struct pdirty {
	struct pdirty *next;
	char pop[PROP_TEXT];
	char zone[];
};

struct propagation {
	pthread_mutex_t lock;
	struct pzone **buckets;      /* nbuckets, a power of two */
	size_t nbuckets, nzones;
	struct ppop *pops;
	size_t npops, popcap;
	struct pactive active[PROP_ACTIVE_MAX];   /* oldest replaced when full */
	size_t nactive;
	struct pdirty *dirty, **dirty_tail;
	size_t ndirty;
	/* persistence (propagation_persist_start): the flusher thread */
	struct store *st;
	pthread_t flusher;
	bool flushing, stop;
	pthread_cond_t cv;           /* wakes the flusher (stop), with `lock` */
	pthread_mutex_t flush_mu;    /* one flush at a time */
};

int64_t
propagation_now_ms(void)
{
	return clock_real_ms();
}

struct propagation *
propagation_new(void)
{
	struct propagation *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->nbuckets = PROP_BUCKETS_MIN;
	p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
	if (p->buckets == NULL) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->flush_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	p->dirty_tail = &p->dirty;
	return p;
}

static void
zone_free(struct pzone *z)
{
	struct ptarget *t, *n;
	for (t = z->targets; t != NULL; t = n) {
		n = t->next;
		free(t);
	}
	free(z->commits);
	free(z);
}

void
propagation_free(struct propagation *p)
{
	if (p == NULL)
		return;
	propagation_persist_stop(p);
	while (p->dirty != NULL) {
		struct pdirty *d = p->dirty;
		p->dirty = d->next;
		free(d);
	}
	free(p->pops);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->flush_mu);
	for (size_t b = 0; b < p->nbuckets; b++) {
		struct pzone *z, *n;
		for (z = p->buckets[b]; z != NULL; z = n) {
			n = z->next;
			zone_free(z);
		}
	}
	free(p->buckets);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* FNV-1a over the ASCII-lowercased name, so EXAMPLE.com. and example.com. meet. */
static uint64_t
name_hash(const char *name)
{
	return hash_fnv1a_lower(name, strlen(name), 0);
}

/* Doubles the table; on -ENOMEM the old one stays (only longer chains). */
static void
grow(struct propagation *p)
{
	size_t nb = p->nbuckets * 2;
	struct pzone **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct pzone *z, *n;
		for (z = p->buckets[i]; z != NULL; z = n) {
			n = z->next;
			z->next = b[z->hash & (nb - 1)];
			b[z->hash & (nb - 1)] = z;
		}
	}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = nb;
}

/* The zone's slot in its chain (where *result is the zone, or NULL when absent). */
static struct pzone **
zone_slot(struct propagation *p, const char *name, uint64_t h)
{
	struct pzone **pp = &p->buckets[h & (p->nbuckets - 1)];
	while (*pp != NULL && ((*pp)->hash != h || strcasecmp((*pp)->name, name) != 0))
		pp = &(*pp)->next;
	return pp;
}

static struct pzone *
zone_get(struct propagation *p, const char *name, bool create)
{
	uint64_t h = name_hash(name);
	struct pzone **pp = zone_slot(p, name, h);
	if (*pp != NULL || !create)
		return *pp;
	size_t len = strlen(name);
	if (len >= PROP_NAME_MAX)
		return NULL;
	struct pzone *z = calloc(1, sizeof(*z) + len + 1);
	if (z == NULL)
		return NULL;
	memcpy(z->name, name, len + 1);
	z->hash = h;
	*pp = z;
	if (++p->nzones > p->nbuckets)
		grow(p);
	return z;
}

/* An IPv4 peer seen through a dual-stack socket ("::ffff:10.53.0.2") as plain IPv4. */
static const char *
plain_ip(const char *ip)
{
	if (strncasecmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL)
		return ip + 7;
	return ip;
}

/* The POP at address `ip` (plain_ip), or NULL.  Under the lock. */
static const struct ppop *
pop_by_ip(const struct propagation *p, const char *ip)
{
	for (size_t i = 0; i < p->npops; i++)
		if (strcmp(p->pops[i].ip, ip) == 0)
			return &p->pops[i];
	return NULL;
}

static void copy_text(char *dst, size_t cap, const char *src);

/*
 * The target of zone `z` for POP `pop` (when not NULL) or else for address
 * `ip`, created when missing (create) and the names fit.
 */
static struct ptarget *
target_find(struct pzone *z, const char *pop, const char *ip, bool create)
{
	for (struct ptarget *t = z->targets; t != NULL; t = t->next) {
		if (pop != NULL ? strcmp(t->pop, pop) == 0
		                : t->pop[0] == '\0' && strcmp(t->ip, ip) == 0)
			return t;
	}
	if (!create || strlen(ip) >= PROP_TEXT || (pop != NULL && strlen(pop) >= PROP_TEXT))
		return NULL;
	struct ptarget *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	copy_text(t->ip, sizeof(t->ip), ip);
	copy_text(t->pop, sizeof(t->pop), pop);
	/* Keep insertion order for stable output. */
	struct ptarget **pp = &z->targets;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = t;
	return t;
}

/* The target at address `ip` (a POP's when it is a POP's address). */
static struct ptarget *
target_get(struct propagation *p, struct pzone *z, const char *ip, bool create)
{
	const struct ppop *pop = pop_by_ip(p, ip);
	return target_find(z, pop != NULL ? pop->name : NULL, ip, create);
}

/* Queues a POP target's serial for the next flush (once until it is flushed). */
static void
mark_dirty(struct propagation *p, const struct pzone *z, struct ptarget *t)
{
	if (t->pop[0] == '\0' || t->dirty || p->st == NULL)
		return;
	size_t len = strlen(z->name);
	struct pdirty *d = calloc(1, sizeof(*d) + len + 1);
	if (d == NULL)
		return;   /* written at the next change of this pair */
	memcpy(d->zone, z->name, len + 1);
	copy_text(d->pop, sizeof(d->pop), t->pop);
	*p->dirty_tail = d;
	p->dirty_tail = &d->next;
	p->ndirty++;
	t->dirty = true;
}

static void
copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void
propagation_commit(struct propagation *p, const char *zone, uint32_t serial, int64_t when_ms)
{
	pthread_mutex_lock(&p->lock);
	struct pzone *z = zone_get(p, zone, true);
	if (z != NULL && z->ncommits == z->cap && z->cap < PROP_COMMITS) {
		/* Full but may grow: the ring is in order from slot 0 (head == 0). */
		unsigned cap = z->cap == 0 ? 4 : z->cap * 2;
		struct pcommit *c = realloc(z->commits, cap * sizeof(*c));
		if (c != NULL) {
			z->commits = c;
			z->head = z->ncommits;
			z->cap = cap;
		}
	}
	if (z != NULL && z->cap > 0) {
		z->commits[z->head].serial = serial;
		z->commits[z->head].ms = when_ms;
		z->head = (z->head + 1) % z->cap;
		if (z->ncommits < z->cap)
			z->ncommits++;
	}
	pthread_mutex_unlock(&p->lock);
}

void
propagation_drop_zone(struct propagation *p, const char *zone)
{
	pthread_mutex_lock(&p->lock);
	struct pzone **pp = zone_slot(p, zone, name_hash(zone));
	if (*pp != NULL) {
		struct pzone *z = *pp;
		*pp = z->next;
		zone_free(z);
		p->nzones--;
	}
	pthread_mutex_unlock(&p->lock);
}

/* Under the lock. */
static void
active_note(struct propagation *p, const char *ip, int64_t when_ms)
{
	size_t oldest = 0;
	for (size_t i = 0; i < p->nactive; i++) {
		if (strcmp(p->active[i].ip, ip) == 0) {
			if (when_ms > p->active[i].ms)
				p->active[i].ms = when_ms;
			return;
		}
		if (p->active[i].ms < p->active[oldest].ms)
			oldest = i;
	}
	size_t i = p->nactive < PROP_ACTIVE_MAX ? p->nactive++ : oldest;
	copy_text(p->active[i].ip, sizeof(p->active[i].ip), ip);
	p->active[i].ms = when_ms;
}

bool
propagation_busy(struct propagation *p, const char *ip, int64_t since_ms)
{
	bool busy = false;
	ip = plain_ip(ip);
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nactive; i++)
		if (strcmp(p->active[i].ip, ip) == 0) {
			busy = p->active[i].ms >= since_ms;
			break;
		}
	pthread_mutex_unlock(&p->lock);
	return busy;
}

void
propagation_seen(struct propagation *p, const char *zone, const char *ip, const char *transport,
                 const char *key, enum propagation_how how, uint32_t serial, int64_t when_ms)
{
	ip = plain_ip(ip);
	pthread_mutex_lock(&p->lock);
	if (how != PROP_SOA_ASKED)
		active_note(p, ip, when_ms);
	struct pzone *z = zone_get(p, zone, true);
	struct ptarget *t = z != NULL ? target_get(p, z, ip, true) : NULL;
	if (t != NULL) {
		copy_text(t->ip, sizeof(t->ip), ip);
		t->seen_ms = when_ms;
		copy_text(t->transport, sizeof(t->transport), transport);
		if (key != NULL)
			copy_text(t->key, sizeof(t->key), key);
		/* A SOA query tells us nothing about what the target holds; an IXFR
		 * request from an older serial than what it got before means it
		 * lost data (restart), so the newest word wins either way. */
		if (how != PROP_SOA_ASKED) {
			if (!t->has_serial || t->serial != serial || how != PROP_IXFR_ASKED) {
				t->at_ms = when_ms;
				t->how = how;
				mark_dirty(p, z, t);
			}
			t->serial = serial;
			t->has_serial = true;
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void
propagation_notified(struct propagation *p, const char *zone, const char *target,
                     uint32_t serial, bool answered, unsigned tries, int64_t when_ms)
{
	char ip[PROP_TEXT];
	copy_text(ip, sizeof(ip), target);
	/* "ip@port" -> "ip": targets are known by address. */
	char *at = strrchr(ip, '@');
	if (at != NULL)
		*at = '\0';
	pthread_mutex_lock(&p->lock);
	struct pzone *z = zone_get(p, zone, true);
	struct ptarget *t = z != NULL ? target_get(p, z, plain_ip(ip), true) : NULL;
	if (t != NULL) {
		t->notified = true;
		copy_text(t->notify_remote, sizeof(t->notify_remote), target);
		t->notify_serial = serial;
		t->notify_answered = answered;
		t->notify_tries = tries;
		t->notify_ms = when_ms;
	}
	pthread_mutex_unlock(&p->lock);
}

bool
propagation_has(struct propagation *p, const char *zone, const char *ip, uint32_t serial)
{
	bool has = false;
	pthread_mutex_lock(&p->lock);
	struct pzone *z = zone_get(p, zone, false);
	struct ptarget *t = z != NULL ? target_get(p, z, plain_ip(ip), false) : NULL;
	if (t != NULL)
		has = t->has_serial && (t->serial == serial || dns_serial_gt(t->serial, serial));
	pthread_mutex_unlock(&p->lock);
	return has;
}

static json_t *
iso_time(int64_t ms)
{
	if (ms <= 0)
		return json_null();
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char buf[40];
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
	return json_string(buf);
}

/* Commit time of `serial`, or 0 when it is not in the ring. */
static int64_t
commit_ms(const struct pzone *z, uint32_t serial)
{
	for (unsigned i = 0; i < z->ncommits; i++) {
		unsigned k = (z->head + z->cap - 1 - i) % z->cap;
		if (z->commits[k].serial == serial)
			return z->commits[k].ms;
	}
	return 0;
}

/* Commit time of the first serial after `serial` (when the target fell behind). */
static int64_t
first_commit_after(const struct pzone *z, uint32_t serial)
{
	int64_t best = 0;
	for (unsigned i = 0; i < z->ncommits; i++) {
		unsigned k = (z->head + z->cap - 1 - i) % z->cap;
		if (dns_serial_gt(z->commits[k].serial, serial))
			best = z->commits[k].ms;   /* walking newest to oldest: ends at the oldest */
	}
	return best;
}

static const char *
how_name(enum propagation_how how)
{
	switch (how) {
	case PROP_IXFR_ASKED: return "IXFR request";
	case PROP_IXFR_DONE: return "IXFR";
	case PROP_FULL_DONE: return "full zone";
	case PROP_SOA_ASKED: return "SOA query";
	}
	return "unknown";
}

char *
propagation_json(struct propagation *p, const char *zone, uint32_t serial, int64_t now_ms)
{
	json_t *root = json_object();
	json_t *arr = json_array();
	if (root == NULL || arr == NULL) {
		json_decref(root);
		json_decref(arr);
		return NULL;
	}
	json_object_set_new(root, "zone", json_string(zone));
	json_object_set_new(root, "serial", json_integer(serial));
	pthread_mutex_lock(&p->lock);
	struct pzone *z = zone_get(p, zone, false);
	json_object_set_new(root, "committed_at", z != NULL ? iso_time(commit_ms(z, serial))
	                                                    : json_null());
	for (struct ptarget *t = z != NULL ? z->targets : NULL; t != NULL; t = t->next) {
		json_t *o = json_object();
		if (o == NULL)
			break;
		json_object_set_new(o, "target", json_string(t->pop[0] != '\0' ? t->pop : t->ip));
		json_object_set_new(o, "pop", t->pop[0] != '\0' ? json_string(t->pop) : json_null());
		json_object_set_new(o, "address", t->ip[0] != '\0' ? json_string(t->ip)
		                                                   : json_null());
		bool up = t->has_serial && t->serial == serial;
		json_object_set_new(o, "serial", t->has_serial ? json_integer(t->serial) : json_null());
		json_object_set_new(o, "up_to_date", json_boolean(up));
		json_object_set_new(o, "how", t->has_serial ? json_string(how_name(t->how))
		                                           : json_null());
		json_object_set_new(o, "transport", t->transport[0] != '\0'
		                    ? json_string(t->transport) : json_null());
		json_object_set_new(o, "key", t->key[0] != '\0' ? json_string(t->key) : json_null());
		json_object_set_new(o, "last_transfer", t->has_serial ? iso_time(t->at_ms)
		                                                     : json_null());
		json_object_set_new(o, "last_seen", iso_time(t->seen_ms));
		int64_t c = t->has_serial ? commit_ms(z, t->serial) : 0;
		json_object_set_new(o, "lag_ms", c > 0 && t->at_ms >= c ? json_integer(t->at_ms - c)
		                                                        : json_null());
		int64_t since = t->has_serial && !up ? first_commit_after(z, t->serial) : 0;
		json_object_set_new(o, "behind_ms", since > 0 ? json_integer(now_ms - since)
		                                              : json_null());
		if (t->notified) {
			json_t *n = json_object();
			json_object_set_new(n, "remote", json_string(t->notify_remote));
			json_object_set_new(n, "serial", json_integer(t->notify_serial));
			json_object_set_new(n, "answered", json_boolean(t->notify_answered));
			json_object_set_new(n, "tries", json_integer(t->notify_tries));
			json_object_set_new(n, "at", iso_time(t->notify_ms));
			json_object_set_new(o, "notify", n);
		} else {
			json_object_set_new(o, "notify", json_null());
		}
		json_array_append_new(arr, o);
	}
	pthread_mutex_unlock(&p->lock);
	json_object_set_new(root, "targets", arr);
	char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return s;
}

/* ---- POPs and persistence ------------------------------------------------------------ */

int
propagation_pop_add(struct propagation *p, const char *name, const char *ip)
{
	if (strlen(name) >= PROP_TEXT || strlen(ip) >= PROP_TEXT)
		return -EINVAL;
	int ret = 0;
	pthread_mutex_lock(&p->lock);
	struct ppop *pop = NULL;
	for (size_t i = 0; i < p->npops && pop == NULL; i++)
		if (strcmp(p->pops[i].name, name) == 0)
			pop = &p->pops[i];
	if (pop == NULL && p->npops == p->popcap) {
		size_t cap = p->popcap != 0 ? p->popcap * 2 : 8;
		struct ppop *np = realloc(p->pops, cap * sizeof(*np));
		if (np == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		p->pops = np;
		p->popcap = cap;
	}
	if (pop == NULL)
		pop = &p->pops[p->npops++];
	copy_text(pop->name, sizeof(pop->name), name);
	copy_text(pop->ip, sizeof(pop->ip), ip);
	/* What was seen from its address before it was known as a POP (a transfer
	 * before the registry was loaded) becomes the POP's: one entry per POP. */
	for (size_t b = 0; b < p->nbuckets; b++) {
		for (struct pzone *z = p->buckets[b]; z != NULL; z = z->next) {
			struct ptarget *mine = target_find(z, name, ip, false);
			for (struct ptarget **tp = &z->targets; *tp != NULL;) {
				struct ptarget *t = *tp;
				if (t->pop[0] != '\0' || strcmp(t->ip, ip) != 0) {
					tp = &t->next;
					continue;
				}
				if (mine == NULL) {
					copy_text(t->pop, sizeof(t->pop), name);
					if (t->has_serial)
						mark_dirty(p, z, t);
					mine = t;
					tp = &t->next;
					continue;
				}
				*tp = t->next;
				free(t);
			}
		}
	}
out:
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void
propagation_pop_drop(struct propagation *p, const char *name)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->npops; i++) {
		if (strcmp(p->pops[i].name, name) == 0) {
			p->pops[i] = p->pops[--p->npops];
			break;
		}
	}
	/* Every zone's target of this POP: a retired POP is no longer shown. */
	for (size_t b = 0; b < p->nbuckets; b++) {
		for (struct pzone *z = p->buckets[b]; z != NULL; z = z->next) {
			for (struct ptarget **tp = &z->targets; *tp != NULL;) {
				struct ptarget *t = *tp;
				if (strcmp(t->pop, name) != 0) {
					tp = &t->next;
					continue;
				}
				*tp = t->next;
				free(t);
			}
		}
	}
	/* Its queued writes go too (the flusher finds no target for them anyway). */
	for (struct pdirty **dp = &p->dirty; *dp != NULL;) {
		struct pdirty *d = *dp;
		if (strcmp(d->pop, name) != 0) {
			dp = &d->next;
			continue;
		}
		*dp = d->next;
		free(d);
		p->ndirty--;
	}
	p->dirty_tail = &p->dirty;
	while (*p->dirty_tail != NULL)
		p->dirty_tail = &(*p->dirty_tail)->next;
	pthread_mutex_unlock(&p->lock);
}

bool
propagation_pop_serial(struct propagation *p, const char *pop, const char *zone,
                       uint32_t *serial)
{
	bool has = false;
	pthread_mutex_lock(&p->lock);
	struct pzone *z = zone_get(p, zone, false);
	struct ptarget *t = z != NULL ? target_find(z, pop, "", false) : NULL;
	if (t != NULL && t->has_serial) {
		has = true;
		*serial = t->serial;
	}
	pthread_mutex_unlock(&p->lock);
	return has;
}

/* A stored acknowledgement back into memory (at start, before any traffic). */
static int
load_ack(void *ctx, const struct store_pop_ack *a)
{
	struct propagation *p = ctx;
	struct pzone *z = zone_get(p, a->zone, true);
	struct ptarget *t = z != NULL ? target_find(z, a->pop, a->address != NULL ? a->address : "",
	                                            true) : NULL;
	if (t == NULL)
		return -ENOMEM;
	t->has_serial = true;
	t->serial = a->serial;
	t->how = a->how >= PROP_IXFR_ASKED && a->how <= PROP_SOA_ASKED ? (enum propagation_how)a->how
	                                                               : PROP_IXFR_ASKED;
	copy_text(t->transport, sizeof(t->transport), a->transport);
	t->at_ms = a->at_ms;
	t->seen_ms = a->at_ms;
	return 0;
}

/*
 * Writes the queued (zone, POP) serials: their current values are copied
 * under the lock, then written through the store without it, so transfers
 * and commits never wait for the disk here.
 */
static int
flush(struct propagation *p)
{
	pthread_mutex_lock(&p->flush_mu);
	pthread_mutex_lock(&p->lock);
	struct pdirty *list = p->dirty;
	size_t n = p->ndirty;
	p->dirty = NULL;
	p->dirty_tail = &p->dirty;
	p->ndirty = 0;
	struct store_pop_ack *acks = n > 0 ? calloc(n, sizeof(*acks)) : NULL;
	/* text copies: the targets may change or go once the lock is released */
	struct ackcopy {
		char transport[8];
		char ip[PROP_TEXT];
	} *copies = n > 0 ? calloc(n, sizeof(*copies)) : NULL;
	size_t k = 0;
	if (n > 0 && (acks == NULL || copies == NULL)) {
		/* out of memory: keep the queue for the next round */
		p->dirty = list;
		p->ndirty = n;
		while (*p->dirty_tail != NULL)
			p->dirty_tail = &(*p->dirty_tail)->next;
		list = NULL;
	}
	for (struct pdirty *d = list; d != NULL; d = d->next) {
		struct pzone *z = zone_get(p, d->zone, false);
		struct ptarget *t = z != NULL ? target_find(z, d->pop, "", false) : NULL;
		if (t == NULL || !t->dirty || !t->has_serial)
			continue;
		t->dirty = false;
		memcpy(copies[k].transport, t->transport, sizeof(copies[k].transport));
		memcpy(copies[k].ip, t->ip, sizeof(copies[k].ip));
		acks[k] = (struct store_pop_ack){.pop = d->pop, .zone = d->zone, .serial = t->serial,
		                                 .how = (int)t->how, .transport = copies[k].transport,
		                                 .address = copies[k].ip, .at_ms = t->at_ms};
		k++;
	}
	struct store *st = p->st;
	pthread_mutex_unlock(&p->lock);
	int ret = 0;
	if (k > 0 && st != NULL) {
		ret = store_pop_acks_put(st, acks, k);
		if (ret != 0)
			log_warning(NULL, "propagation, cannot write %zu POP serials to the database, %s",
			            k, strerror(-ret));
	}
	while (list != NULL) {
		struct pdirty *d = list;
		list = d->next;
		free(d);
	}
	free(acks);
	free(copies);
	pthread_mutex_unlock(&p->flush_mu);
	return ret;
}

int
propagation_flush(struct propagation *p)
{
	return flush(p);
}

static void *
flusher(void *arg)
{
	struct propagation *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += PROP_FLUSH_MS / 1000;
		ts.tv_nsec += (long)(PROP_FLUSH_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cv, &p->lock, &ts);
		if (p->stop || p->ndirty == 0)
			continue;
		pthread_mutex_unlock(&p->lock);
		flush(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int
propagation_persist_start(struct propagation *p, struct store *st)
{
	int ret = store_pop_acks_list(st, load_ack, p);
	if (ret != 0)
		return ret;
	pthread_mutex_lock(&p->lock);
	p->st = st;
	p->stop = false;
	pthread_mutex_unlock(&p->lock);
	ret = pthread_create(&p->flusher, NULL, flusher, p);
	if (ret != 0)
		return -ret;
	p->flushing = true;
	return 0;
}

void
propagation_persist_stop(struct propagation *p)
{
	if (p == NULL || !p->flushing)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->flusher, NULL);
	p->flushing = false;
	flush(p);   /* what came in since the last round */
	pthread_mutex_lock(&p->lock);
	p->st = NULL;
	pthread_mutex_unlock(&p->lock);
}
