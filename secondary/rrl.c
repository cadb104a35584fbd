/*
 * Response rate limiting: one shared table of 64-bit buckets updated with
 * compare-and-swap (see rrl.h).  A bucket word packs
 *   bits 63..40  tag: 24 more bits of the prefix hash, to notice a takeover
 *   bits 39..24  the second (monotonic, mod 2^16) the count belongs to
 *   bits 23..0   responses counted in that second (saturating)
 * so the bucket refills to `rate` at every second boundary, and the count
 * beyond `rate` numbers the limited answers, which decides the slips.
 */
#include "secondary/rrl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define COUNT_MAX 0xffffffu
#define RRL_MAX_THREADS 256

struct wl {
	int family;
	uint8_t addr[16];
	unsigned bits;
};

struct rrl {
	uint32_t rate, slip;
	uint64_t mask;            /* buckets - 1 */
	uint64_t seed;
	size_t nwl;
	struct wl wl[RRL_WHITELIST_MAX];
	uint64_t *table;          /* accessed with __atomic builtins only */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rrl_stats *reg[RRL_MAX_THREADS];
static size_t reg_n;
static _Thread_local struct rrl_stats *tls_stats;
static _Thread_local bool tls_failed;

#define STAT_INC(st, field) \
	__atomic_store_n(&(st)->field, __atomic_load_n(&(st)->field, __ATOMIC_RELAXED) + 1, \
	                 __ATOMIC_RELAXED)

struct rrl *
rrl_new(const struct rrl_cfg *cfg)
{
	if (cfg->rate == 0)
		return NULL;
	struct rrl *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	size_t n = cfg->buckets != 0 ? cfg->buckets : RRL_DEFAULT_BUCKETS;
	size_t p = 64;
	while (p < n && p < ((size_t)1 << 26))
		p <<= 1;
	r->table = calloc(p, sizeof(uint64_t));
	if (r->table == NULL) {
		free(r);
		return NULL;
	}
	r->mask = p - 1;
	r->rate = cfg->rate > COUNT_MAX - 1 ? COUNT_MAX - 1 : cfg->rate;
	r->slip = cfg->slip;
	/* A secret seed keeps an attacker from aiming prefixes at one bucket. */
	if (getrandom(&r->seed, sizeof(r->seed), GRND_NONBLOCK) != (ssize_t)sizeof(r->seed)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r->seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
	}
	return r;
}

void
rrl_free(struct rrl *r)
{
	if (r == NULL)
		return;
	free(r->table);
	free(r);
}

int
rrl_whitelist_add(struct rrl *r, const char *prefix, char *err, size_t errcap)
{
	if (r->nwl == RRL_WHITELIST_MAX) {
		snprintf(err, errcap, "more than %d whitelisted prefixes", RRL_WHITELIST_MAX);
		return -ENOSPC;
	}
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(prefix);
	if (len == 0 || len >= sizeof(buf)) {
		snprintf(err, errcap, "'%s' is not an address or prefix", prefix);
		return -EINVAL;
	}
	memcpy(buf, prefix, len + 1);
	char *slash = strchr(buf, '/');
	long bits = -1;
	if (slash != NULL) {
		*slash = '\0';
		char *end;
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno != 0 || end == slash + 1 || *end != '\0' || bits < 0) {
			snprintf(err, errcap, "'%s': bad prefix length", prefix);
			return -EINVAL;
		}
	}
	struct wl w = {0};
	if (inet_pton(AF_INET, buf, w.addr) == 1) {
		w.family = AF_INET;
		if (bits < 0)
			bits = 32;
		if (bits > 32) {
			snprintf(err, errcap, "'%s': IPv4 prefix longer than 32", prefix);
			return -EINVAL;
		}
	} else if (inet_pton(AF_INET6, buf, w.addr) == 1) {
		w.family = AF_INET6;
		if (bits < 0)
			bits = 128;
		if (bits > 128) {
			snprintf(err, errcap, "'%s': IPv6 prefix longer than 128", prefix);
			return -EINVAL;
		}
	} else {
		snprintf(err, errcap, "'%s' is not an address or prefix", prefix);
		return -EINVAL;
	}
	w.bits = (unsigned)bits;
	r->wl[r->nwl++] = w;
	return 0;
}

static bool
prefix_match(const uint8_t *a, const uint8_t *p, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a, p, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (a[full] & m) == (p[full] & m);
}

static uint64_t
mix64(uint64_t x)
{
	/* splitmix64 finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Returns the client's address bytes and family, mapping v4-in-v6 to v4. */
static const uint8_t *
client_bytes(const struct sockaddr *sa, int *family)
{
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
			*family = AF_INET;
			return a + 12;
		}
		*family = AF_INET6;
		return a;
	}
	return NULL;
}

enum rrl_action
rrl_check(struct rrl *r, const struct sockaddr *client, uint64_t now_ms, struct rrl_stats *st)
{
	int fam;
	const uint8_t *a = client_bytes(client, &fam);
	if (a == NULL)
		return RRL_PASS;
	for (size_t i = 0; i < r->nwl; i++) {
		if (r->wl[i].family == fam && prefix_match(a, r->wl[i].addr, r->wl[i].bits)) {
			if (st != NULL)
				STAT_INC(st, whitelisted);
			return RRL_PASS;
		}
	}
	/* The prefix: /24 of IPv4, /56 of IPv6, with the family in the top bits. */
	uint64_t key;
	if (fam == AF_INET) {
		key = (4ull << 60) | ((uint64_t)a[0] << 16) | ((uint64_t)a[1] << 8) | a[2];
	} else {
		key = 6ull << 60;
		for (int i = 0; i < 7; i++)
			key |= (uint64_t)a[i] << (8 * (6 - i));
	}
	uint64_t h = mix64(key ^ r->seed);
	uint64_t *slot = &r->table[h & r->mask];
	uint64_t tag = (h >> 40) & 0xffffff;
	uint64_t sec = (now_ms / 1000) & 0xffff;
	uint64_t old = __atomic_load_n(slot, __ATOMIC_RELAXED);
	uint64_t count;
	for (;;) {
		uint64_t otag = old >> 40, osec = (old >> 24) & 0xffff;
		count = old & COUNT_MAX;
		if (otag != tag || osec != sec || old == 0)
			count = 0;
		if (count < COUNT_MAX)
			count++;
		uint64_t nw = (tag << 40) | (sec << 24) | count;
		if (nw == old)
			break;   /* saturated: nothing to write */
		if (__atomic_compare_exchange_n(slot, &old, nw, true, __ATOMIC_RELAXED,
		                                __ATOMIC_RELAXED))
			break;
	}
	if (count <= r->rate) {
		if (st != NULL)
			STAT_INC(st, passed);
		return RRL_PASS;
	}
	if (st != NULL)
		STAT_INC(st, limited);
	uint64_t nth = count - r->rate;   /* 1 for the first limited answer this second */
	if (r->slip != 0 && nth % r->slip == 0) {
		if (st != NULL)
			STAT_INC(st, slipped);
		return RRL_SLIP;
	}
	if (st != NULL)
		STAT_INC(st, dropped);
	return RRL_DROP;
}

size_t
rrl_truncate(uint8_t *msg, size_t len)
{
	if (len < 12)
		return 0;
	unsigned qd = ((unsigned)msg[4] << 8) | msg[5];
	size_t off = 12;
	if (qd > 0) {
		/* Walk the first question's name; a pointer ends it. */
		for (;;) {
			if (off >= len)
				return 0;
			uint8_t l = msg[off];
			if ((l & 0xc0) == 0xc0) {
				off += 2;
				break;
			}
			if (l & 0xc0)
				return 0;
			off += 1u + l;
			if (l == 0)
				break;
		}
		off += 4;   /* QTYPE, QCLASS */
		if (off > len)
			return 0;
		qd = 1;
	}
	msg[2] |= 0x02;   /* TC */
	msg[4] = 0;
	msg[5] = (uint8_t)qd;
	memset(msg + 6, 0, 6);
	return off;
}

static struct rrl_stats *
thread_stats(void)
{
	if (tls_stats != NULL || tls_failed)
		return tls_stats;
	struct rrl_stats *s = aligned_alloc(64, sizeof(*s));
	if (s != NULL) {
		memset(s, 0, sizeof(*s));
		pthread_mutex_lock(&reg_lock);
		if (reg_n < RRL_MAX_THREADS) {
			reg[reg_n++] = s;
		} else {
			free(s);
			s = NULL;
		}
		pthread_mutex_unlock(&reg_lock);
	}
	tls_stats = s;
	tls_failed = s == NULL;
	return s;
}

size_t
rrl_apply(struct rrl *r, const struct sockaddr *client, uint8_t *msg, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	switch (rrl_check(r, client, now, thread_stats())) {
	case RRL_PASS:
		return len;
	case RRL_SLIP:
		return rrl_truncate(msg, len);
	case RRL_DROP:
	default:
		return 0;
	}
}

void
rrl_stats_sum(struct rrl_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		out->passed += __atomic_load_n(&reg[i]->passed, __ATOMIC_RELAXED);
		out->limited += __atomic_load_n(&reg[i]->limited, __ATOMIC_RELAXED);
		out->slipped += __atomic_load_n(&reg[i]->slipped, __ATOMIC_RELAXED);
		out->dropped += __atomic_load_n(&reg[i]->dropped, __ATOMIC_RELAXED);
		out->whitelisted += __atomic_load_n(&reg[i]->whitelisted, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&reg_lock);
}
