/*
 * Store-backed xfrout source (see xfrout_store.h).  IXFR policy lives here
 * because it needs the snapshot: the journal from the client's serial when
 * it reaches back, else the whole zone; and the whole zone when it has
 * fewer RRs than the journal entries would send (counted with an early
 * stop, so a small diff of a big zone never reads the big zone).
 */
#include "primary/xfrout_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "dns/name.h"
#include "dns/serial.h"
#include "dns/tsig.h"
#include "primary/acl.h"
#include "primary/pop_gate.h"
#include "primary/store.h"
#include "util/clock.h"
#include "util/hash.h"

struct rec_load {
	struct xfrout_data *d;
	bool soa_only;
	size_t limit;            /* stop after this many non-SOA RRs (0: no limit) */
	bool stopped;
	int err;
};

static int
rec_cb(void *ctx, const struct dns_rr *rr)
{
	struct rec_load *rl = ctx;
	struct xfrout_data *d = rl->d;
	if (d->soa.nrrs == 0) {
		rl->err = xfrout_buf_rr(&d->soa, rr);
		return rl->err != 0 || rl->soa_only ? 1 : 0;
	}
	if (rl->limit != 0 && d->rrs.nrrs >= rl->limit) {
		rl->stopped = true;
		return 1;
	}
	rl->err = xfrout_buf_rr(&d->rrs, rr);
	return rl->err != 0 ? 1 : 0;
}

static int
load_records(struct store_snap *sn, const struct store_zone *z, struct rec_load *rl)
{
	int ret = store_snap_records(sn, z, rec_cb, rl);
	if (rl->err != 0)
		return rl->err;
	if (ret < 0)
		return ret;
	if (rl->d->soa.nrrs == 0)
		return -EIO;   /* every zone has its SOA */
	return 0;
}

static int
journal_cb(void *ctx, const struct store_journal_entry *e)
{
	struct xfrout_data *d = ctx;
	size_t pos = 0, n = 0;
	struct dns_rr rr;
	int ret;
	while ((ret = store_blob_next(e->removed, e->removed_len, &pos, &rr)) == 1)
		n++;
	if (ret < 0)
		return ret;
	if (xfrout_buf_raw(&d->diff, e->removed, e->removed_len, n) != 0)
		return -ENOMEM;
	pos = 0;
	n = 0;
	while ((ret = store_blob_next(e->added, e->added_len, &pos, &rr)) == 1)
		n++;
	if (ret < 0)
		return ret;
	if (xfrout_buf_raw(&d->diff, e->added, e->added_len, n) != 0)
		return -ENOMEM;
	d->ndiffs++;
	return 0;
}

#define XSRC_CACHE_BYTES ((size_t)512 << 20)
#define XSRC_BUCKETS_MIN 64
/* A stream's read snapshot lives at most this long (then the rest is read
 * at once): a slow client never keeps the checkpointer from the WAL's frames
 * longer than that. */
#define XSRC_HOLD_MS 3000

struct xsrc;

/*
 * One cached zone version.  The cache holds at most one version per zone
 * name, found through a hash table keyed by the lowercased wire name, and
 * every entry sits on a recency list (most recently used first) so that
 * lookup, invalidation and eviction cost O(1) whatever the number of zones.
 */
struct zc {
	struct zc *hnext;         /* hash chain */
	struct zc *prev, *next;   /* recency list */
	struct xsrc *owner;
	uint64_t hash;
	uint8_t zone[DNS_NAME_MAX];
	int64_t id;               /* zone ids are never reused: a re-created zone
	                           * with the same serial is another version */
	uint32_t serial;
	unsigned refs;            /* the cache's own + one per transfer */
	bool placeholder;         /* no records: this version was streamed once */
	struct xfrout_buf rrs;
};

struct xsrc {
	struct store *st;
	const struct pop_gate *gate;   /* NULL: no POP registry */
	pthread_mutex_t lock;
	struct zc **buckets;      /* NULL until the first entry */
	size_t nbuckets, n;
	struct zc *mru, *lru;     /* recency list ends */
	size_t bytes, limit;
	uint64_t ops;             /* entries visited by lookups (see xfrout_store_stats) */
	int64_t hold_ms;          /* longest a stream keeps its snapshot */
};

/* FNV-1a over the ASCII-lowercased wire name, so EXAMPLE.com. and example.com. meet. */
static uint64_t
zc_hash(const uint8_t *name)
{
	return hash_fnv1a_lower(name, dns_name_len(name), 0);
}

static void
zc_unref_locked(struct zc *e)
{
	if (--e->refs == 0) {
		xfrout_buf_clear(&e->rrs);
		free(e);
	}
}

static void
zc_release(void *ref)
{
	struct zc *e = ref;
	struct xsrc *x = e->owner;
	pthread_mutex_lock(&x->lock);
	zc_unref_locked(e);
	pthread_mutex_unlock(&x->lock);
}

/* The chain slot holding the entry for `name` (*result NULL when absent). */
static struct zc **
zc_slot(struct xsrc *x, const uint8_t *name, uint64_t h)
{
	struct zc **pp = &x->buckets[h & (x->nbuckets - 1)];
	while (*pp != NULL) {
		x->ops++;
		if ((*pp)->hash == h && dns_name_equal((*pp)->zone, name))
			break;
		pp = &(*pp)->hnext;
	}
	return pp;
}

static void
list_unlink(struct xsrc *x, struct zc *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		x->mru = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		x->lru = e->prev;
	e->prev = e->next = NULL;
}

static void
list_push_front(struct xsrc *x, struct zc *e)
{
	e->prev = NULL;
	e->next = x->mru;
	if (x->mru != NULL)
		x->mru->prev = e;
	else
		x->lru = e;
	x->mru = e;
}

/* Unlinks `e`, found at chain slot `pp`, and drops the cache's reference. */
static void
zc_drop_locked(struct xsrc *x, struct zc **pp, struct zc *e)
{
	*pp = e->hnext;
	e->hnext = NULL;
	list_unlink(x, e);
	x->n--;
	x->bytes -= e->rrs.cap;
	zc_unref_locked(e);   /* transfers still sending it keep their reference */
}

/* Drops the cached version of `name`, if any. */
static void
zc_forget_locked(struct xsrc *x, const uint8_t *name)
{
	if (x->buckets == NULL)
		return;
	struct zc **pp = zc_slot(x, name, zc_hash(name));
	if (*pp != NULL)
		zc_drop_locked(x, pp, *pp);
}

/* Doubles the table; on -ENOMEM the old one stays (only longer chains). */
static void
zc_grow(struct xsrc *x)
{
	size_t nb = x->nbuckets * 2;
	struct zc **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < x->nbuckets; i++) {
		struct zc *e, *n;
		for (e = x->buckets[i]; e != NULL; e = n) {
			n = e->hnext;
			e->hnext = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(x->buckets);
	x->buckets = b;
	x->nbuckets = nb;
}

static void
borrow(struct xfrout_data *d, struct zc *e)
{
	d->rrs.data = e->rrs.data;
	d->rrs.len = e->rrs.len;
	d->rrs.nrrs = e->rrs.nrrs;
	d->rrs.cap = 0;
	d->release = zc_release;
	d->ref = e;
}

/* A cached version of z, with a reference for the caller, or NULL. */
static struct zc *
zc_get(struct xsrc *x, const struct store_zone *z)
{
	struct zc *e = NULL;
	pthread_mutex_lock(&x->lock);
	if (x->buckets != NULL) {
		e = *zc_slot(x, z->name, zc_hash(z->name));
		if (e != NULL && (e->id != z->id || e->serial != z->serial || e->placeholder))
			e = NULL;
	}
	if (e != NULL) {
		e->refs++;
		list_unlink(x, e);
		list_push_front(x, e);
	}
	pthread_mutex_unlock(&x->lock);
	return e;
}

/*
 * Moves *rrs into the cache as z's version (rrs NULL: a placeholder saying
 * "this version was streamed once") and returns the entry with a reference
 * for the caller (NULL for a placeholder); NULL with *rrs untouched when it
 * is too big or memory is short.
 */
static struct zc *
zc_put(struct xsrc *x, const struct store_zone *z, struct xfrout_buf *rrs)
{
	if (rrs != NULL && rrs->cap > x->limit / 2)
		return NULL;   /* too big to keep: the transfer owns it */
	struct zc *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	pthread_mutex_lock(&x->lock);
	if (x->buckets == NULL) {
		x->buckets = calloc(XSRC_BUCKETS_MIN, sizeof(*x->buckets));
		if (x->buckets == NULL) {
			pthread_mutex_unlock(&x->lock);
			free(e);
			return NULL;   /* the caller keeps owning its records */
		}
		x->nbuckets = XSRC_BUCKETS_MIN;
	}
	e->owner = x;
	memcpy(e->zone, z->name, dns_name_len(z->name));
	e->hash = zc_hash(z->name);
	e->serial = z->serial;
	e->id = z->id;
	e->refs = rrs != NULL ? 2 : 1;
	e->placeholder = rrs == NULL;
	if (rrs != NULL) {
		e->rrs = *rrs;
		memset(rrs, 0, sizeof(*rrs));
	}
	/* An older version of this zone is of no use any more. */
	struct zc **pp = zc_slot(x, z->name, e->hash);
	if (*pp != NULL)
		zc_drop_locked(x, pp, *pp);
	e->hnext = x->buckets[e->hash & (x->nbuckets - 1)];
	x->buckets[e->hash & (x->nbuckets - 1)] = e;
	list_push_front(x, e);
	x->bytes += e->rrs.cap;
	if (++x->n > x->nbuckets)
		zc_grow(x);
	while (x->bytes > x->limit && x->lru != e) {
		struct zc *o = x->lru;
		zc_drop_locked(x, zc_slot(x, o->zone, o->hash), o);
	}
	pthread_mutex_unlock(&x->lock);
	return rrs != NULL ? e : NULL;
}

/*
 * Whether this version of z was streamed before (its placeholder is in the
 * cache); if not, leaves the placeholder.
 */
static bool
zc_seen(struct xsrc *x, const struct store_zone *z)
{
	bool seen = false;
	pthread_mutex_lock(&x->lock);
	if (x->buckets != NULL) {
		struct zc *e = *zc_slot(x, z->name, zc_hash(z->name));
		seen = e != NULL && e->placeholder && e->id == z->id && e->serial == z->serial;
	}
	pthread_mutex_unlock(&x->lock);
	if (!seen)
		zc_put(x, z, NULL);
	return seen;
}

/*
 * A large zone's records after the first XSRC_FIRST_BYTES, read through a
 * cursor on the snapshot as the transfer sends them.  The second transfer
 * of the same version also copies them (tee) and caches the version when
 * it is read to the end, so a version that several POPs ask for is read
 * from the store at most twice, and one asked for once never costs its
 * size in memory.
 */
struct xstream {
	struct xsrc *x;
	struct store_snap *sn;          /* closed as soon as the cursor ends */
	struct store_rr_cursor *cur;
	int64_t opened_ms, hold_ms;     /* past hold_ms the rest is read at once */
	struct xfrout_buf rest;         /* ... into here, handed out from `rest_pos` */
	size_t rest_pos;
	struct store_zone z;
	bool tee_on, eof;
	size_t tee_max;
	struct xfrout_buf tee;
};

static void
xs_close_snap(struct xstream *xs)
{
	store_rr_cursor_close(xs->cur);
	xs->cur = NULL;
	store_snap_close(xs->sn);
	xs->sn = NULL;
}

/*
 * A client that reads slowly must not hold the read snapshot (and with it
 * the WAL's frames) for long: past hold_ms the rest of the version is read
 * into memory at once and the snapshot ends.  Returns 0 or a negative code.
 */
static int
xs_take_rest(struct xstream *xs)
{
	struct dns_rr rr;
	int ret;
	while ((ret = store_rr_cursor_next(xs->cur, &rr)) == 1) {
		if (xfrout_buf_rr(&xs->rest, &rr) != 0)
			return -ENOMEM;
	}
	if (ret < 0)
		return ret;
	xs->eof = true;
	xs_close_snap(xs);
	return 0;
}

/* Hands out the next records of xs->rest (about `want` bytes): 0 or <0. */
static int
xs_from_rest(struct xstream *xs, struct xfrout_buf *b, size_t want)
{
	size_t start = b->len;
	struct dns_rr rr;
	while (b->len - start < want && xs->rest_pos < xs->rest.len) {
		size_t pos = xs->rest_pos;
		if (store_blob_next(xs->rest.data, xs->rest.len, &pos, &rr) != 1)
			return -EIO;
		if (xfrout_buf_rr(b, &rr) != 0)
			return -ENOMEM;
		xs->rest_pos = pos;
	}
	return 0;
}

static int
xs_more(void *stream, struct xfrout_buf *b, size_t want)
{
	struct xstream *xs = stream;
	size_t start = b->len, nrrs = b->nrrs;
	struct dns_rr rr;
	if (xs->cur != NULL && clock_mono_ms() - xs->opened_ms > xs->hold_ms) {
		int ret = xs_take_rest(xs);
		if (ret != 0)
			return ret;
	}
	if (xs->cur == NULL) {
		int ret = xs_from_rest(xs, b, want);
		if (ret != 0)
			return ret;
	}
	while (xs->cur != NULL && b->len - start < want) {
		int ret = store_rr_cursor_next(xs->cur, &rr);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			xs->eof = true;
			xs_close_snap(xs);   /* the read transaction ends with the reading */
			break;
		}
		if (xfrout_buf_rr(b, &rr) != 0)
			return -ENOMEM;
	}
	if (xs->tee_on && b->len > start) {
		if (xfrout_buf_raw(&xs->tee, b->data + start, b->len - start, b->nrrs - nrrs) != 0 ||
		    xs->tee.cap > xs->tee_max) {
			xfrout_buf_clear(&xs->tee);
			xs->tee_on = false;
		}
	}
	return b->len > start ? 1 : 0;
}

static void
xs_end(void *stream)
{
	struct xstream *xs = stream;
	xs_close_snap(xs);
	if (xs->eof && xs->tee_on) {
		struct zc *e = zc_put(xs->x, &xs->z, &xs->tee);
		if (e != NULL)
			zc_release(e);
	}
	xfrout_buf_clear(&xs->tee);
	xfrout_buf_clear(&xs->rest);
	free(xs);
}

/* Bytes of records read at once; a zone that fits is cached on its first transfer. */
#define XSRC_FIRST_BYTES ((size_t)256 << 10)

/*
 * The records after the SOA into d->rrs, up to about XSRC_FIRST_BYTES; the
 * rest, if any, becomes d's stream, which takes *sn over (*sn is then NULL).
 */
static int
load_first(struct xsrc *x, struct store_snap **sn, const struct store_zone *z,
           struct xfrout_data *d)
{
	struct store_rr_cursor *cur = NULL;
	int ret = store_snap_cursor(*sn, z, &cur);
	if (ret != 0)
		return ret;
	struct dns_rr rr;
	while (d->rrs.len < XSRC_FIRST_BYTES && (ret = store_rr_cursor_next(cur, &rr)) == 1) {
		if (xfrout_buf_rr(&d->rrs, &rr) != 0)
			ret = -ENOMEM;
		if (ret != 1)
			break;
	}
	if (ret <= 0) {
		store_rr_cursor_close(cur);
		if (ret == 0) {
			struct zc *e = zc_put(x, z, &d->rrs);
			if (e != NULL)
				borrow(d, e);
		}
		return ret;
	}
	struct xstream *xs = calloc(1, sizeof(*xs));
	if (xs == NULL) {
		store_rr_cursor_close(cur);
		return -ENOMEM;
	}
	*xs = (struct xstream){.x = x, .sn = *sn, .cur = cur, .z = *z,
	                       .opened_ms = clock_mono_ms()};
	*sn = NULL;
	pthread_mutex_lock(&x->lock);
	xs->tee_max = x->limit / 2;
	xs->hold_ms = x->hold_ms;
	pthread_mutex_unlock(&x->lock);
	if (zc_seen(x, z)) {
		xs->tee_on = xfrout_buf_raw(&xs->tee, d->rrs.data, d->rrs.len, d->rrs.nrrs) == 0;
	}
	d->more = xs_more;
	d->more_end = xs_end;
	d->stream = xs;
	return 0;
}

/* The whole zone into d: from the cache, or read (then cached, or streamed). */
static int
load_full(struct xsrc *x, struct store_snap **sn, const struct store_zone *z,
          struct xfrout_data *d)
{
	struct zc *e = zc_get(x, z);
	struct rec_load rl = {.d = d, .soa_only = true};
	int ret = load_records(*sn, z, &rl);
	if (ret != 0) {
		if (e != NULL)
			zc_release(e);
		return ret;
	}
	if (e != NULL) {
		borrow(d, e);
		return 0;
	}
	return load_first(x, sn, z, d);
}

static int
src_load(void *ctx, const uint8_t *zone, int what, uint32_t from, struct xfrout_data *d)
{
	struct xsrc *x = ctx;
	struct store *st = x->st;
	struct store_snap *sn = NULL;
	struct store_zone z;
	int ret = store_snap_open(st, &sn);
	if (ret != 0)
		return ret;
	ret = store_snap_zone(sn, zone, &z);
	if (ret != 0)
		goto out;
	d->serial = z.serial;
	struct rec_load rl = {.d = d};
	int cmp = dns_serial_cmp(from, z.serial);
	if (what == XFROUT_LOAD_SOA || (what == XFROUT_LOAD_DIFF && cmp >= 0 && cmp != 2)) {
		rl.soa_only = true;
		ret = load_records(sn, &z, &rl);
		goto out;
	}
	if (what == XFROUT_LOAD_ZONE) {
		ret = load_full(x, &sn, &z, d);
		goto out;
	}
	ret = store_snap_journal(sn, &z, from, journal_cb, d);
	if (ret == -ERANGE || (ret == 0 && d->ndiffs == 0)) {
		d->journal_gap = true;
		xfrout_buf_clear(&d->diff);
		d->ndiffs = 0;
		ret = load_full(x, &sn, &z, d);
		goto out;
	}
	if (ret != 0)
		goto out;
	/* The zone as AXFR sends it has nrrs + 2 RRs (SOA first and last). */
	size_t diff_rrs = d->diff.nrrs + 2;
	rl.limit = diff_rrs > 2 ? diff_rrs - 2 : 1;
	ret = load_records(sn, &z, &rl);
	if (ret != 0)
		goto out;
	if (!rl.stopped && d->rrs.nrrs + 2 < diff_rrs) {
		d->diff_larger = true;
		xfrout_buf_clear(&d->diff);
		d->ndiffs = 0;
	} else {
		xfrout_buf_clear(&d->rrs);
	}
out:
	store_snap_close(sn);
	return ret;
}

static int
src_key(void *ctx, const uint8_t *name, struct dns_tsig_key *k)
{
	struct store *st = ((struct xsrc *)ctx)->st;
	struct store_tsig_key sk;
	char text[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(name, text, sizeof(text)) < 0)
		return -ENOENT;
	int ret = store_tsig_key_get(st, text, &sk);
	if (ret != 0)
		return ret;
	char spec[sizeof(sk.name) + sizeof(sk.algorithm) + sizeof(sk.secret) + 4];
	snprintf(spec, sizeof(spec), "%s:%s:%s", sk.name, sk.algorithm, sk.secret);
	if (dns_tsig_key_parse(k, spec, NULL, 0) != 0)
		return -ENOENT;
	return 0;
}

#define CHECK_KEY  1   /* the key may transfer the zone (acl_xfr_allowed) */
#define CHECK_FROM 2   /* from this address (acl_xfr_from_allowed) */

/*
 * The transfer checks `what` of `zone` in one snapshot: 1 allowed, 0 refused
 * (XFROUT_FROM_REFUSED when the key passed and the address did not), or a
 * negative errno.
 */
static int
src_check(struct xsrc *x, const uint8_t *zone, const uint8_t *key, const struct sockaddr *peer,
          int what)
{
	struct store_snap *sn = NULL;
	struct store_zone z;
	char text[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(key, text, sizeof(text)) < 0)
		return 0;
	bool is_pop = pop_gate_key_is_pop(x->gate, text);
	int ret = store_snap_open(x->st, &sn);
	if (ret != 0)
		return ret;
	ret = store_snap_zone(sn, zone, &z);
	if (ret == 0)
		ret = what & CHECK_KEY ? acl_xfr_allowed(sn, &z, text, is_pop) : 1;
	if (ret == 1 && (what & CHECK_FROM)) {
		ret = acl_xfr_from_allowed(sn, &z, peer, is_pop);
		if (ret == 0 && (what & CHECK_KEY))
			ret = XFROUT_FROM_REFUSED;
	}
	store_snap_close(sn);
	return ret;
}

static int
src_allowed(void *ctx, const uint8_t *zone, const uint8_t *key)
{
	return src_check(ctx, zone, key, NULL, CHECK_KEY);
}

static int
src_from_allowed(void *ctx, const uint8_t *zone, const uint8_t *key, const struct sockaddr *peer)
{
	return src_check(ctx, zone, key, peer, CHECK_FROM);
}

/* src_allowed and src_from_allowed in one snapshot (one transaction a transfer less). */
static int
src_access(void *ctx, const uint8_t *zone, const uint8_t *key, const struct sockaddr *peer)
{
	return src_check(ctx, zone, key, peer, CHECK_KEY | CHECK_FROM);
}

int
xfrout_store_source(struct store *st, struct xfrout_source *src)
{
	struct xsrc *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->st = st;
	x->limit = XSRC_CACHE_BYTES;
	x->hold_ms = XSRC_HOLD_MS;
	pthread_mutex_init(&x->lock, NULL);
	src->ctx = x;
	src->load = src_load;
	src->key = src_key;
	src->allowed = src_allowed;
	src->from_allowed = src_from_allowed;
	src->access = src_access;
	return 0;
}

void
xfrout_store_set_gate(struct xfrout_source *src, const struct pop_gate *gate)
{
	struct xsrc *x = src->ctx;
	if (x != NULL)
		x->gate = gate;
}

void
xfrout_store_forget(struct xfrout_source *src, const uint8_t *zone)
{
	struct xsrc *x = src->ctx;
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	zc_forget_locked(x, zone);
	pthread_mutex_unlock(&x->lock);
}

void
xfrout_store_set_cache_limit(struct xfrout_source *src, size_t bytes)
{
	struct xsrc *x = src->ctx;
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	x->limit = bytes;
	while (x->bytes > x->limit && x->lru != NULL) {
		struct zc *o = x->lru;
		zc_drop_locked(x, zc_slot(x, o->zone, o->hash), o);
	}
	pthread_mutex_unlock(&x->lock);
}

void
xfrout_store_set_stream_hold(struct xfrout_source *src, int64_t ms)
{
	struct xsrc *x = src->ctx;
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	x->hold_ms = ms;
	pthread_mutex_unlock(&x->lock);
}

void
xfrout_store_stats(struct xfrout_source *src, struct xfrout_store_stats *out)
{
	struct xsrc *x = src->ctx;
	memset(out, 0, sizeof(*out));
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	out->zones = x->n;
	out->bytes = x->bytes;
	out->limit = x->limit;
	out->ops = x->ops;
	pthread_mutex_unlock(&x->lock);
}

void
xfrout_store_source_clear(struct xfrout_source *src)
{
	struct xsrc *x = src->ctx;
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	while (x->mru != NULL) {
		struct zc *o = x->mru;
		zc_drop_locked(x, zc_slot(x, o->zone, o->hash), o);
	}
	pthread_mutex_unlock(&x->lock);
	pthread_mutex_destroy(&x->lock);
	free(x->buckets);
	free(x);
	src->ctx = NULL;
}

static int
nsrc_soa(void *ctx, const uint8_t *zone, struct xfrout_buf *soa, uint32_t *serial)
{
	struct xfrout_data d = {0};
	struct xsrc x = {.st = ctx};   /* SOA reads never touch the cache */
	int ret = src_load(&x, zone, XFROUT_LOAD_SOA, 0, &d);
	if (ret == 0) {
		*soa = d.soa;
		*serial = d.serial;
		memset(&d.soa, 0, sizeof(d.soa));
	}
	xfrout_buf_clear(&d.soa);
	return ret;
}

static int
first_key(void *ctx, const struct store_tsig_key *k)
{
	struct store_tsig_key *out = ctx;
	*out = *k;
	return 1;
}

struct member_key {
	struct store_snap *sn;
	struct store_tsig_key *out;
	int err;
};

static int
member_first_key(void *ctx, const struct store_zone *z)
{
	struct member_key *mk = ctx;
	if (z->is_catalog)
		return 0;
	int ret = store_snap_zone_tsig_keys(mk->sn, z, first_key, mk->out);
	if (ret < 0) {
		mk->err = ret;
		return 1;
	}
	return mk->out->name[0] != '\0' ? 1 : 0;
}

static int
nsrc_key(void *ctx, const uint8_t *zone, struct dns_tsig_key *k)
{
	struct store *st = ctx;
	struct store_snap *sn = NULL;
	struct store_zone z;
	struct store_tsig_key sk;
	sk.name[0] = '\0';
	int ret = store_snap_open(st, &sn);
	if (ret != 0)
		return ret;
	ret = store_snap_zone(sn, zone, &z);
	if (ret == 0)
		ret = store_snap_zone_tsig_keys(sn, &z, first_key, &sk);
	if (ret >= 0 && z.is_catalog && sk.name[0] == '\0') {
		/* A catalog without keys of its own (those the admin allowed to
		 * follow it): its consumers use a member's. */
		struct member_key mk = {.sn = sn, .out = &sk};
		ret = store_snap_zones(sn, NULL, NULL, 0, member_first_key, &mk);
		if (ret >= 0)
			ret = mk.err;
	}
	if (ret >= 0)
		ret = sk.name[0] != '\0' ? 0 : -ENOENT;
	store_snap_close(sn);
	if (ret != 0)
		return ret;
	char spec[sizeof(sk.name) + sizeof(sk.algorithm) + sizeof(sk.secret) + 4];
	snprintf(spec, sizeof(spec), "%s:%s:%s", sk.name, sk.algorithm, sk.secret);
	return dns_tsig_key_parse(k, spec, NULL, 0) == 0 ? 0 : -ENOENT;
}

void
notify_store_source(struct store *st, struct notify_source *src)
{
	src->ctx = st;
	src->soa = nsrc_soa;
	src->key = nsrc_key;
}
