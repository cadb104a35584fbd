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

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns/serial.h"

#define PROP_COMMITS 256
#define PROP_TEXT 80

struct ptarget {
	struct ptarget *next;
	char ip[PROP_TEXT];
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

struct propagation {
	pthread_mutex_t lock;
	struct pzone **buckets;      /* nbuckets, a power of two */
	size_t nbuckets, nzones;
};

int64_t
propagation_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++) {
		unsigned char l = *c >= 'A' && *c <= 'Z' ? (unsigned char)(*c + 32) : *c;
		h = (h ^ l) * 1099511628211ULL;
	}
	return h;
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

static struct ptarget *
target_get(struct pzone *z, const char *ip)
{
	for (struct ptarget *t = z->targets; t != NULL; t = t->next)
		if (strcmp(t->ip, ip) == 0)
			return t;
	if (strlen(ip) >= PROP_TEXT)
		return NULL;
	struct ptarget *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	memcpy(t->ip, ip, strlen(ip) + 1);
	/* Keep insertion order for stable output. */
	struct ptarget **pp = &z->targets;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = t;
	return t;
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

void
propagation_seen(struct propagation *p, const char *zone, const char *ip, const char *transport,
                 const char *key, enum propagation_how how, uint32_t serial, int64_t when_ms)
{
	pthread_mutex_lock(&p->lock);
	struct pzone *z = zone_get(p, zone, true);
	struct ptarget *t = z != NULL ? target_get(z, ip) : NULL;
	if (t != NULL) {
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
	struct ptarget *t = z != NULL ? target_get(z, ip) : NULL;
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
	for (struct ptarget *t = z != NULL ? z->targets : NULL; t != NULL; t = t->next) {
		if (strcmp(t->ip, ip) == 0) {
			has = t->has_serial && (t->serial == serial || dns_serial_gt(t->serial, serial));
			break;
		}
	}
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
		json_object_set_new(o, "target", json_string(t->ip));
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
