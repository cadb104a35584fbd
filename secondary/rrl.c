/*
 * Response rate limiting: one shared table of 64-bit buckets updated with
 * compare-and-swap (see rrl.h).  A bucket word packs
 *   bit  63      shared: taken over by another key in this second already
 *   bits 62..40  tag: 23 more bits of the key hash, to notice a collision
 *   bits 39..24  the second (monotonic, mod 2^16) the count belongs to
 *   bits 23..0   responses counted in that second (saturating)
 * so the bucket refills to `rate` at every second boundary, and the count
 * beyond `rate` numbers the limited answers, which decides the slips.
 *
 * A key may use any of the eight words of the cache line its hash picks
 * (8-way set-associative), so keys rarely collide while the table has room.
 *
 * The key hash covers the masked client prefix, the class, the qtype (for
 * the classes whose answer depends on it) and the lowercased name, eight
 * bytes at a time (a SWAR lowercase), seeded with a secret: no allocation,
 * one cache line of the table touched per response.
 */
#include "secondary/rrl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "util/clock.h"

#define COUNT_MAX 0xffffffull
#define TAG_MASK 0x7fffffull
#define SHARED (1ull << 63)
#define HUGE_PAGE ((size_t)2 << 20)
#define WAYS 8                  /* bucket words per 64-byte cache line */
#define RRL_MAX_THREADS 256

struct wl {
	int family;
	uint8_t addr[16];
	unsigned bits;
};

struct rrl {
	uint32_t rate, slip;
	uint64_t v4_mask;         /* network order bytes of the IPv4 prefix mask, as loaded */
	uint64_t v6_mask[2];      /* the same for the IPv6 prefix, two halves */
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
	if (cfg->rate == 0 || cfg->v4_prefix > 32 || cfg->v6_prefix > 128)
		return NULL;
	struct rrl *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	size_t n = cfg->buckets != 0 ? cfg->buckets : RRL_DEFAULT_BUCKETS;
	size_t p = 64;
	while (p < n && p < ((size_t)1 << 26))
		p <<= 1;
	/* Huge-page aligned and advised: a random bucket per response must not
	 * also cost a TLB miss (the table is 2 MiB by default). */
	size_t bytes = p * sizeof(uint64_t);
	size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
	r->table = aligned_alloc(align, bytes);
	if (r->table == NULL) {
		free(r);
		return NULL;
	}
	if (align == HUGE_PAGE)
		madvise(r->table, bytes, MADV_HUGEPAGE);
	memset(r->table, 0, bytes);
	r->mask = p - 1;
	r->rate = cfg->rate > COUNT_MAX - 1 ? COUNT_MAX - 1 : cfg->rate;
	r->slip = cfg->slip;
	unsigned p4 = cfg->v4_prefix != 0 ? cfg->v4_prefix : RRL_DEFAULT_V4_PREFIX;
	unsigned p6 = cfg->v6_prefix != 0 ? cfg->v6_prefix : RRL_DEFAULT_V6_PREFIX;
	uint8_t m[16] = {0};
	for (unsigned i = 0; i < p6; i++)
		m[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	memcpy(&r->v6_mask[0], m, 8);
	memcpy(&r->v6_mask[1], m + 8, 8);
	memset(m, 0, sizeof(m));
	for (unsigned i = 0; i < p4; i++)
		m[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	uint32_t m4;
	memcpy(&m4, m, 4);
	r->v4_mask = m4;
	/* A secret seed keeps an attacker from aiming prefixes at one bucket. */
	if (getrandom(&r->seed, sizeof(r->seed), GRND_NONBLOCK) != (ssize_t)sizeof(r->seed)) {
		r->seed = (uint64_t)clock_mono_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)clock_real_ms();
	}
	return r;
}

void
rrl_set_rate(struct rrl *r, uint32_t rate, uint32_t slip)
{
	__atomic_store_n(&r->rate, rate > COUNT_MAX - 1 ? (uint32_t)(COUNT_MAX - 1) : rate,
	                 __ATOMIC_RELAXED);
	__atomic_store_n(&r->slip, slip, __ATOMIC_RELAXED);
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

/* ASCII A-Z to a-z in each of eight bytes at once; other bytes unchanged. */
static inline uint64_t
lower8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t low7 = w & ~high;
	uint64_t ge_a = low7 + ones * (0x80 - 'A');         /* bit 7 set: byte >= 'A' */
	uint64_t gt_z = low7 + ones * (0x7f - 'Z');         /* bit 7 set: byte > 'Z' */
	uint64_t upper = ge_a & ~gt_z & ~w & high;          /* ... and below 0x80 */
	return w | (upper >> 2);                            /* + 0x20 */
}

/* Hash of the wire name at `name` (letter case ignored), folded into `h`. */
static inline uint64_t
hash_name(uint64_t h, const uint8_t *name)
{
	size_t len = 0;
	while (len < 255 && name[len] != 0)
		len += (size_t)name[len] + 1;
	if (len > 255)
		len = 255;   /* not a valid name: hash what a valid one could hold */
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, name + i, 8);
		h = (h ^ lower8(w)) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	if (i < len) {
		uint64_t w = 0;
		memcpy(&w, name + i, len - i);
		h = (h ^ lower8(w)) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h ^ len;
}

/* Whether bucket word `w` counts responses of second `sec`. */
static inline bool
live(uint64_t w, uint64_t sec)
{
	return w != 0 && ((w >> 24) & 0xffff) == sec;
}

/*
 * The bucket of key hash `h` (tag `tag`): one of the WAYS words of its cache
 * line, starting at the one `h` picks: the live one with our tag, else the
 * first one not live this second, else the one `h` picks (taken over or
 * shared, see rrl_check).  Two threads may claim two free words for one new
 * key at once; that key then has twice its rate for the rest of the second.
 */
static inline uint64_t *
find_slot(struct rrl *r, uint64_t h, uint64_t tag, uint64_t sec)
{
	uint64_t *line = &r->table[h & r->mask & ~(uint64_t)(WAYS - 1)];
	unsigned first = (unsigned)h & (WAYS - 1);
	uint64_t *free_slot = NULL;
	for (unsigned i = 0; i < WAYS; i++) {
		uint64_t *s = &line[(first + i) & (WAYS - 1)];
		uint64_t w = __atomic_load_n(s, __ATOMIC_RELAXED);
		if (!live(w, sec)) {
			if (free_slot == NULL)
				free_slot = s;
		} else if (((w >> 40) & TAG_MASK) == tag) {
			return s;
		}
	}
	return free_slot != NULL ? free_slot : &line[first];
}

bool
rrl_key(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q, uint64_t *key,
        struct rrl_stats *st)
{
	int fam;
	const uint8_t *a = client_bytes(client, &fam);
	if (a == NULL)
		return false;
	for (size_t i = 0; i < r->nwl; i++) {
		if (r->wl[i].family == fam && prefix_match(a, r->wl[i].addr, r->wl[i].bits)) {
			if (st != NULL)
				STAT_INC(st, whitelisted);
			return false;
		}
	}
	/* The type matters only where the answer depends on it. */
	uint64_t qtype = 0;
	if (q->cls == RRL_CLS_ANSWER || q->cls == RRL_CLS_NODATA || q->cls == RRL_CLS_WILDCARD)
		qtype = q->qtype;
	uint64_t meta = ((uint64_t)q->cls << 48) | (qtype << 32);
	uint64_t h;
	if (fam == AF_INET) {
		uint32_t v4;
		memcpy(&v4, a, 4);
		h = (r->seed ^ meta ^ (4ull << 56) ^ (v4 & r->v4_mask)) * 0x9e3779b97f4a7c15ull;
	} else {
		uint64_t hi, lo;
		memcpy(&hi, a, 8);
		memcpy(&lo, a + 8, 8);
		h = mix64(r->seed ^ meta ^ (6ull << 56) ^ (hi & r->v6_mask[0]));
		h = (h ^ (lo & r->v6_mask[1])) * 0x9e3779b97f4a7c15ull;
	}
	h ^= h >> 29;
	h = mix64(q->name != NULL ? hash_name(h, q->name) : h);
	/* The decision comes later: let the bucket's cache line load meanwhile. */
	__builtin_prefetch(&r->table[h & r->mask & ~(uint64_t)(WAYS - 1)], 1, 3);
	*key = h;
	return true;
}

enum rrl_action
rrl_decide(struct rrl *r, uint64_t key, uint64_t now_ms, struct rrl_stats *st)
{
	uint64_t h = key;
	uint64_t tag = (h >> 40) & TAG_MASK;
	uint64_t sec = (now_ms / 1000) & 0xffff;
	uint64_t *slot = find_slot(r, h, tag, sec);
	uint64_t old = __atomic_load_n(slot, __ATOMIC_RELAXED);
	uint64_t count;
	for (;;) {
		uint64_t otag = (old >> 40) & TAG_MASK, osec = (old >> 24) & 0xffff;
		uint64_t head = (tag << 40) | (sec << 24);
		count = old & COUNT_MAX;
		if (old == 0 || osec != sec) {
			count = 0;                      /* a new second: full bucket */
		} else if (otag != tag && !(old & SHARED)) {
			count = 0;                      /* first collision this second: take over */
			head |= SHARED;
		} else {
			head = old & ~COUNT_MAX;        /* ours, or shared since a takeover */
		}
		if (count < COUNT_MAX)
			count++;
		uint64_t nw = head | count;
		if (nw == old)
			break;   /* saturated: nothing to write */
		if (__atomic_compare_exchange_n(slot, &old, nw, true, __ATOMIC_RELAXED,
		                                __ATOMIC_RELAXED))
			break;
	}
	uint32_t rate = __atomic_load_n(&r->rate, __ATOMIC_RELAXED);
	uint32_t slip = __atomic_load_n(&r->slip, __ATOMIC_RELAXED);
	if (count <= rate || rate == 0) {
		if (st != NULL)
			STAT_INC(st, passed);
		return RRL_PASS;
	}
	if (st != NULL)
		STAT_INC(st, limited);
	uint64_t nth = count - rate;   /* 1 for the first limited answer this second */
	if (slip != 0 && nth % slip == 0) {
		if (st != NULL)
			STAT_INC(st, slipped);
		return RRL_SLIP;
	}
	if (st != NULL)
		STAT_INC(st, dropped);
	return RRL_DROP;
}

enum rrl_action
rrl_check(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q,
          uint64_t now_ms, struct rrl_stats *st)
{
	uint64_t key;
	if (!rrl_key(r, client, q, &key, st))
		return RRL_PASS;
	return rrl_decide(r, key, now_ms, st);
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

bool
rrl_prepare(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q,
            uint64_t *key)
{
	if (__atomic_load_n(&r->rate, __ATOMIC_RELAXED) == 0)
		return false;   /* off (rrl_set_rate 0): no bucket work at all */
	return rrl_key(r, client, q, key, thread_stats());
}

/* CLOCK_MONOTONIC_COARSE on purpose (ms resolution is enough, no TSC read): once per answer. */
uint64_t
rrl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t
rrl_finish(struct rrl *r, uint64_t key, uint64_t now_ms, uint8_t *msg, size_t len)
{
	switch (rrl_decide(r, key, now_ms, thread_stats())) {
	case RRL_PASS:
		return len;
	case RRL_SLIP:
		return rrl_truncate(msg, len);
	case RRL_DROP:
	default:
		return 0;
	}
}

size_t
rrl_apply(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q, uint8_t *msg,
          size_t len)
{
	uint64_t key;
	if (!rrl_prepare(r, client, q, &key))
		return len;
	return rrl_finish(r, key, rrl_now_ms(), msg, len);
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
