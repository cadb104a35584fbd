/*
 * NOTIFY sender (see notify.h).  Requests from other threads land on a
 * mutex-guarded queue and wake the thread through an eventfd.  The thread
 * keeps one entry per (zone, target) with work to do: `pending` (a newer
 * serial should be announced), `inflight` (a NOTIFY awaits its answer,
 * identified by id and target address) and the time of its next action.
 * An entry with neither is freed, so only active pairs are kept.  Entries
 * are found through a hash table keyed by (lowercased zone, target), the
 * answers to them through an index by message id, and the next due one is
 * the top of a min-heap on next_ms: the thread's work per event does not
 * grow with the number of zones waiting (a target that does not answer
 * while many zones are created).  An entry that goes idle outside the
 * timers is made due at once, and the timers free it.  A target has at most
 * NOTIFY_WINDOW entries in flight; an entry due while the window is full is
 * parked in the target's queue (out of the timers) until a slot frees.  An
 * entry holds its zone's name and a few fields; the TSIG state (struct
 * flight) exists only while its NOTIFY flies.
 */
#include "primary/notify.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/wire.h"
#include "net/addr.h"
#include "primary/propagation.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/log.h"

enum req_kind { REQ_ZONE, REQ_ADD, REQ_REMOVE };

/* Target changes go through the queue too: only the thread touches targets. */
struct req {
	struct req *next;
	enum req_kind kind;
	uint8_t zone[DNS_NAME_MAX];
	bool now;
	int target;               /* REQ_ZONE: one target, -1 all; REQ_REMOVE: which */
	struct target *add;       /* REQ_ADD */
	bool sync, done;          /* the caller waits on `done` (n->cond) */
	int result;
};

struct entry;

struct target {
	unsigned inflight;        /* entries of this target in flight */
	struct entry *wait_head, *wait_tail;   /* parked: due, waiting for the window */
	struct sockaddr_storage addr;
	socklen_t len;
	char text[ADDR_TEXT_MAX];
	char ip[ADDR_TEXT_MAX];
	bool own_key;             /* sign with `key`, not the zone's (a POP's) */
	struct dns_tsig_key key;
};

/* What a NOTIFY in flight needs to check its answer (only while it flies). */
struct flight {
	struct dns_tsig_key key;
	struct dns_tsig_ctx tsig;
};

/* Small: a target that does not answer keeps one per zone changed. */
struct entry {
	struct entry *hnext;      /* (zone, target) hash chain */
	struct entry *idnext;     /* message id chain, once sent */
	struct entry *wprev, *wnext;   /* the target's parked queue */
	uint64_t hash;
	size_t heap_idx;          /* position in the due-time heap */
	bool in_ids;
	bool parked;              /* due, in the target's queue until its window has room */
	unsigned target;
	bool pending;
	bool inflight;
	uint16_t id;
	unsigned tries;
	uint32_t serial;          /* serial of the NOTIFY in flight */
	int64_t next_ms;          /* pending: send time; inflight: retry time */
	int64_t last_send_ms;
	bool nudge;               /* check at next_ms that the target came */
	bool nudged;              /* this serial was nudged once already */
	bool has_key;
	struct flight *fl;        /* while a NOTIFY flies (or its answer may come) */
	uint8_t zone[];           /* wire name, its length */
};

struct notify {
	struct notify_source src;
	struct propagation *prop;
	struct xfrout *xo;        /* signed SOA queries and UPDATEs over UDP; NULL: none */
	notify_udp_fn udp_fn;     /* UPDATEs over UDP go there instead (the UPDATE workers) */
	void *udp_ctx;
	int fd, evfd;
	int family;               /* fd's: the --xfr address's; targets must share it */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* sync requests done */
	struct req *queue, **qtail;
	bool stop;
	struct target *targets[NOTIFY_MAX_TARGETS];   /* NULL: free slot */
	unsigned ntargets;        /* slots in use are below this */
	unsigned live;            /* targets in use; read by notify_zone (atomic) */
	struct entry **buckets;   /* (zone, target) hash, nbuckets a power of 2 */
	size_t nbuckets, nentries;
	struct entry **ids;       /* NOTIFY_ID_BUCKETS chains by message id */
	struct entry **heap;      /* every entry, min-heap on next_ms */
	size_t heap_cap;
	uint64_t sent;
	uint64_t ops;             /* entries visited by lookups (notify_ops) */
};

#define NOTIFY_BUCKETS_MIN 64
#define NOTIFY_ID_BUCKETS 65536


struct notify *
notify_new(const struct sockaddr *from, socklen_t fromlen, const struct notify_source *src,
           struct propagation *prop, int *err)
{
	struct notify *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	n->src = *src;
	n->prop = prop;
	n->qtail = &n->queue;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->fd = n->evfd = -1;
	n->nbuckets = NOTIFY_BUCKETS_MIN;
	n->buckets = calloc(n->nbuckets, sizeof(*n->buckets));
	n->ids = calloc(NOTIFY_ID_BUCKETS, sizeof(*n->ids));
	if (n->buckets == NULL || n->ids == NULL) {
		notify_free(n);
		*err = -ENOMEM;
		return NULL;
	}
	n->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	n->family = from->sa_family;
	n->fd = socket(from->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0 || n->evfd < 0)
		goto fail;
	int one = 1;
	setsockopt(n->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (from->sa_family == AF_INET6)
		setsockopt(n->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(n->fd, from, fromlen) != 0)
		goto fail;
	return n;
fail:
	*err = -errno;
	notify_free(n);
	return NULL;
}

void
notify_set_xfrout(struct notify *n, struct xfrout *x)
{
	n->xo = x;
}

void
notify_set_udp_update(struct notify *n, notify_udp_fn fn, void *ctx)
{
	n->udp_fn = fn;
	n->udp_ctx = ctx;
}

int
notify_fd(const struct notify *n)
{
	return n->fd;
}

static void run_request(struct notify *n, struct req *r, int64_t now);

/*
 * Hands `r` to the thread.  A sync request is run here when the thread is
 * not running (before notify_start: the caller is the only user), else
 * waited for; its result is returned and it is freed.
 */
static int
submit(struct notify *n, struct req *r)
{
	if (r->sync && !n->started) {
		run_request(n, r, clock_mono_ms());
		int ret = r->result;
		free(r);
		return ret;
	}
	bool sync = r->sync;   /* an async r is the thread's once queued */
	pthread_mutex_lock(&n->lock);
	/* the thread takes the whole queue after each wake-up: a queue that was
	 * not empty has a wake-up pending, so a burst of commits wakes it once */
	bool wake = n->queue == NULL;
	*n->qtail = r;
	n->qtail = &r->next;
	pthread_mutex_unlock(&n->lock);
	if (wake) {
		uint64_t one = 1;
		ssize_t w = write(n->evfd, &one, sizeof(one));
		(void)w;
	}
	if (!sync)
		return 0;
	pthread_mutex_lock(&n->lock);
	while (!r->done)
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
	int ret = r->result;
	free(r);
	return ret;
}

int
notify_target_add(struct notify *n, const struct sockaddr *to, socklen_t tolen,
                  const struct dns_tsig_key *key)
{
	if (tolen > sizeof(struct sockaddr_storage))
		return -EINVAL;
	/* the one socket is bound to the --xfr address (IPV6_V6ONLY): it cannot
	 * reach the other family, and sendto would fail for ever */
	if (to->sa_family != n->family)
		return -EAFNOSUPPORT;
	struct req *r = calloc(1, sizeof(*r));
	struct target *t = calloc(1, sizeof(*t));
	if (r == NULL || t == NULL) {
		free(r);
		free(t);
		return -ENOMEM;
	}
	memcpy(&t->addr, to, tolen);
	t->len = tolen;
	addr_fmt(to, t->text, sizeof(t->text));
	addr_fmt_ip(to, t->ip, sizeof(t->ip));
	if (key != NULL) {
		t->own_key = true;
		t->key = *key;
	}
	r->kind = REQ_ADD;
	r->add = t;
	r->sync = true;
	return submit(n, r);
}

int
notify_add_target(struct notify *n, const struct sockaddr *to, socklen_t tolen)
{
	int ret = notify_target_add(n, to, tolen, NULL);
	return ret < 0 ? ret : 0;
}

void
notify_target_remove(struct notify *n, int target)
{
	struct req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		log_error(NULL, "notify, cannot remove a target, out of memory");
		return;
	}
	r->kind = REQ_REMOVE;
	r->target = target;
	r->sync = true;
	submit(n, r);
}

int
notify_zone_to(struct notify *n, const uint8_t *zone, int target, bool now)
{
	/* no target: nothing to send, and the thread is not woken at every commit */
	if (target < 0 && __atomic_load_n(&n->live, __ATOMIC_ACQUIRE) == 0)
		return 0;
	struct req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->kind = REQ_ZONE;
	memcpy(r->zone, zone, dns_name_len(zone));
	r->now = now;
	r->target = target;
	return submit(n, r);
}

int
notify_zone(struct notify *n, const uint8_t *zone, bool now)
{
	return notify_zone_to(n, zone, -1, now);
}

uint64_t
notify_sent(struct notify *n)
{
	return __atomic_load_n(&n->sent, __ATOMIC_RELAXED);
}

uint64_t
notify_ops(struct notify *n)
{
	return __atomic_load_n(&n->ops, __ATOMIC_RELAXED);
}

static void
count_op(struct notify *n)
{
	__atomic_add_fetch(&n->ops, 1, __ATOMIC_RELAXED);
}

/* FNV-1a over the ASCII-lowercased wire name, then the target. */
static uint64_t
entry_hash(const uint8_t *zone, unsigned target)
{
	uint64_t h = hash_fnv1a_lower(zone, dns_name_len(zone), 0);
	return (h ^ target) * HASH_FNV_PRIME;
}

/* --- min-heap on next_ms; every entry is in it until freed --- */

static void
heap_swap(struct notify *n, size_t a, size_t b)
{
	struct entry *t = n->heap[a];
	n->heap[a] = n->heap[b];
	n->heap[b] = t;
	n->heap[a]->heap_idx = a;
	n->heap[b]->heap_idx = b;
}

static void
heap_fix(struct notify *n, size_t i)
{
	while (i > 0 && n->heap[(i - 1) / 2]->next_ms > n->heap[i]->next_ms) {
		heap_swap(n, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n->nentries && n->heap[l]->next_ms < n->heap[m]->next_ms)
			m = l;
		if (r < n->nentries && n->heap[r]->next_ms < n->heap[m]->next_ms)
			m = r;
		if (m == i)
			return;
		heap_swap(n, i, m);
		i = m;
	}
}

/* Every change of next_ms goes through here, so the heap stays ordered. */
static void
set_next(struct notify *n, struct entry *e, int64_t ms)
{
	e->next_ms = ms;
	heap_fix(n, e->heap_idx);
}

/* --- the index by message id (entries that were sent at least once) --- */

static void
ids_remove(struct notify *n, struct entry *e)
{
	if (!e->in_ids)
		return;
	for (struct entry **pp = &n->ids[e->id]; *pp != NULL; pp = &(*pp)->idnext) {
		if (*pp == e) {
			*pp = e->idnext;
			break;
		}
	}
	e->idnext = NULL;
	e->in_ids = false;
}

static void
ids_add(struct notify *n, struct entry *e)
{
	e->idnext = n->ids[e->id];
	n->ids[e->id] = e;
	e->in_ids = true;
}

/* Doubles the hash table; on -ENOMEM the old one stays (only longer chains). */
static void
grow(struct notify *n)
{
	size_t nb = n->nbuckets * 2;
	struct entry **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < n->nbuckets; i++) {
		struct entry *e, *next;
		for (e = n->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(n->buckets);
	n->buckets = b;
	n->nbuckets = nb;
}

static struct entry *
entry_get(struct notify *n, const uint8_t *zone, unsigned target)
{
	uint64_t h = entry_hash(zone, target);
	for (struct entry *e = n->buckets[h & (n->nbuckets - 1)]; e != NULL; e = e->hnext) {
		count_op(n);
		if (e->hash == h && e->target == target && dns_name_equal(e->zone, zone))
			return e;
	}
	if (n->nentries == n->heap_cap) {
		size_t cap = n->heap_cap != 0 ? n->heap_cap * 2 : 64;
		struct entry **heap = realloc(n->heap, cap * sizeof(*heap));
		if (heap == NULL)
			return NULL;
		n->heap = heap;
		n->heap_cap = cap;
	}
	struct entry *e = calloc(1, sizeof(*e) + dns_name_len(zone));
	if (e == NULL)
		return NULL;
	memcpy(e->zone, zone, dns_name_len(zone));
	e->target = target;
	e->hash = h;
	e->hnext = n->buckets[h & (n->nbuckets - 1)];
	n->buckets[h & (n->nbuckets - 1)] = e;
	/* next_ms 0 sorts first until the caller sets it. */
	e->heap_idx = n->nentries;
	n->heap[n->nentries++] = e;
	heap_fix(n, e->heap_idx);
	if (n->nentries > n->nbuckets)
		grow(n);
	return e;
}

static void
flight_free(struct entry *e)
{
	if (e->fl == NULL)
		return;
	dns_tsig_ctx_clear(&e->fl->tsig);
	explicit_bzero(&e->fl->key, sizeof(e->fl->key));
	free(e->fl);
	e->fl = NULL;
}

static void
entry_free(struct entry *e)
{
	flight_free(e);
	free(e);
}

/* The zone's name in text, for logs and the propagation table. */
static const char *
ztext(const struct entry *e, char *buf, size_t cap)
{
	if (dns_name_to_text(e->zone, buf, cap) < 0)
		snprintf(buf, cap, "?");
	return buf;
}

/* --- the per-target window: at most NOTIFY_WINDOW NOTIFYs in flight --- */

static void
park(struct notify *n, struct entry *e)
{
	struct target *t = n->targets[e->target];
	e->parked = true;
	e->wnext = NULL;
	e->wprev = t->wait_tail;
	if (t->wait_tail != NULL)
		t->wait_tail->wnext = e;
	else
		t->wait_head = e;
	t->wait_tail = e;
}

static void
unpark(struct notify *n, struct entry *e)
{
	if (!e->parked)
		return;
	struct target *t = n->targets[e->target];
	if (e->wprev != NULL)
		e->wprev->wnext = e->wnext;
	else
		t->wait_head = e->wnext;
	if (e->wnext != NULL)
		e->wnext->wprev = e->wprev;
	else
		t->wait_tail = e->wprev;
	e->wprev = e->wnext = NULL;
	e->parked = false;
}

/*
 * Every change of `inflight` goes through here: the target's count, and a
 * slot freed goes to the first entry parked for it (due at once).
 */
static void
inflight_set(struct notify *n, struct entry *e, bool on)
{
	struct target *t = n->targets[e->target];
	if (on == e->inflight)
		return;
	e->inflight = on;
	if (on) {
		t->inflight++;
		return;
	}
	t->inflight--;
	struct entry *w = t->wait_head;
	if (w != NULL && t->inflight < NOTIFY_WINDOW) {
		unpark(n, w);
		set_next(n, w, clock_mono_ms());
	}
}

/* Unlinks `e` from the hash, the id index and the heap, and frees it. */
static void
entry_remove(struct notify *n, struct entry *e)
{
	for (struct entry **pp = &n->buckets[e->hash & (n->nbuckets - 1)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	ids_remove(n, e);
	unpark(n, e);
	if (e->inflight)
		n->targets[e->target]->inflight--;
	size_t i = e->heap_idx, last = --n->nentries;
	if (i != last) {
		n->heap[i] = n->heap[last];
		n->heap[i]->heap_idx = i;
		heap_fix(n, i);
	}
	entry_free(e);
}

static bool
entry_idle(const struct entry *e)
{
	return !e->inflight && !e->pending && !e->nudge;
}

/* Queues a NOTIFY of the request's zone to target `i`; false on -ENOMEM. */
static bool
queue_zone(struct notify *n, const struct req *q, unsigned i, int64_t now)
{
	struct entry *e = entry_get(n, q->zone, i);
	if (e == NULL)
		return false;
	if (e->parked) {
		e->pending = true;   /* sent once the window has room, with the newest serial */
		return true;
	}
	/* A newer serial goes out at the end of the coalescing window, even
	 * while an older NOTIFY still waits for its answer or retry: the newer
	 * one supersedes it. */
	int64_t at = e->last_send_ms != 0 ? e->last_send_ms + NOTIFY_COALESCE_MS : now;
	if (q->now || at < now)
		at = now;
	if (!(e->pending || e->inflight) || at < e->next_ms)
		set_next(n, e, at);
	e->pending = true;
	return true;
}

/* A new target in the first free slot: its index, or -ENOSPC. */
static int
target_add(struct notify *n, struct target *t)
{
	for (unsigned i = 0; i < NOTIFY_MAX_TARGETS; i++) {
		if (n->targets[i] != NULL)
			continue;
		n->targets[i] = t;
		if (i >= n->ntargets)
			n->ntargets = i + 1;
		__atomic_add_fetch(&n->live, 1, __ATOMIC_RELEASE);
		return (int)i;
	}
	free(t);
	return -ENOSPC;
}

/* Forgets target `i` and every NOTIFY to it: no answer from it counts later. */
static void
target_remove(struct notify *n, int i)
{
	if (i < 0 || (unsigned)i >= n->ntargets || n->targets[i] == NULL)
		return;
	size_t k = 0;
	while (k < n->nentries) {
		if (n->heap[k]->target == (unsigned)i)
			entry_remove(n, n->heap[k]);   /* moves another entry to k */
		else
			k++;
	}
	explicit_bzero(n->targets[i], sizeof(*n->targets[i]));
	free(n->targets[i]);
	n->targets[i] = NULL;
	__atomic_sub_fetch(&n->live, 1, __ATOMIC_RELEASE);
}

static void
run_request(struct notify *n, struct req *r, int64_t now)
{
	switch (r->kind) {
	case REQ_ADD:
		r->result = target_add(n, r->add);
		break;
	case REQ_REMOVE:
		target_remove(n, r->target);
		break;
	case REQ_ZONE:
		if (r->target >= 0) {
			if ((unsigned)r->target < n->ntargets && n->targets[r->target] != NULL)
				queue_zone(n, r, (unsigned)r->target, now);
			break;
		}
		for (unsigned i = 0; i < n->ntargets; i++)
			if (n->targets[i] != NULL && !queue_zone(n, r, i, now))
				break;
		break;
	}
}

static void
take_requests(struct notify *n, int64_t now)
{
	pthread_mutex_lock(&n->lock);
	struct req *q = n->queue;
	n->queue = NULL;
	n->qtail = &n->queue;
	pthread_mutex_unlock(&n->lock);
	while (q != NULL) {
		struct req *next = q->next;
		run_request(n, q, now);
		if (q->sync) {
			pthread_mutex_lock(&n->lock);
			q->done = true;   /* the caller frees it */
			pthread_cond_broadcast(&n->cond);
			pthread_mutex_unlock(&n->lock);
		} else {
			free(q);
		}
		q = next;
	}
}

/* Builds and sends the NOTIFY of e's zone with its current SOA. */
static void
send_notify(struct notify *n, struct entry *e, int64_t now)
{
	struct target *t = n->targets[e->target];
	struct xfrout_buf soa = {0};
	uint32_t serial = 0;
	char zt[DNS_NAME_TEXT_MAX];
	ztext(e, zt, sizeof(zt));
	int ret = n->src.soa(n->src.ctx, e->zone, &soa, &serial);
	if (ret != 0) {
		if (ret != -ENOENT)
			log_warning(zt, "notify, outgoing, remote %s, cannot read SOA, %s",
			            t->text, err_str(ret));
		e->pending = false;
		inflight_set(n, e, false);
		xfrout_buf_clear(&soa);
		return;
	}
	struct dns_rr rr = {.owner = soa.data};
	size_t ol = dns_name_len(soa.data);
	rr.type = DNS_T_SOA;
	rr.rclass = DNS_C_IN;
	rr.ttl = rd_u32(soa.data + ol + 4);
	rr.rdlen = rd_u16(soa.data + ol + 8);
	rr.rdata = soa.data + ol + 10;

	uint16_t id;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(now ^ (now >> 16));
	uint8_t buf[1024];
	ssize_t len = dns_msg_make_notify(buf, sizeof(buf), id, e->zone, &rr);
	xfrout_buf_clear(&soa);
	flight_free(e);
	if (len >= 0)
		e->fl = calloc(1, sizeof(*e->fl));
	if (len < 0 || e->fl == NULL) {
		e->pending = false;
		inflight_set(n, e, false);
		return;
	}
	if (t->own_key) {
		e->fl->key = t->key;
		e->has_key = true;
	} else {
		e->has_key = n->src.key(n->src.ctx, e->zone, &e->fl->key) == 0;
	}
	dns_tsig_ctx_init(&e->fl->tsig, e->has_key ? &e->fl->key : NULL);
	if (e->has_key) {
		len = dns_tsig_sign(&e->fl->tsig, buf, (size_t)len, sizeof(buf),
		                    (uint64_t)time(NULL));
		if (len < 0) {
			log_warning(zt, "notify, outgoing, remote %s, TSIG signing failed, %s",
			            t->text, err_str((int)len));
			e->pending = false;
			inflight_set(n, e, false);
			return;
		}
	}
	bool fresh = !e->inflight || e->serial != serial;
	if (fresh)
		e->tries = 0;
	if (e->serial != serial)
		e->nudged = false;
	e->nudge = false;
	e->tries++;
	e->serial = serial;
	ids_remove(n, e);
	e->id = id;
	ids_add(n, e);
	e->pending = false;
	inflight_set(n, e, true);
	e->last_send_ms = now;
	if (sendto(n->fd, buf, (size_t)len, 0, (const struct sockaddr *)&t->addr, t->len) < 0)
		log_debug(zt, "notify, outgoing, remote %s, send failed", t->text);
	/* The back-off counts from the send itself, not from `now` (read
	 * before the SOA lookup, the signing and the other entries' sends):
	 * a send delayed by a slow lookup must not bring the next one closer. */
	set_next(n, e, clock_mono_ms() + ((int64_t)NOTIFY_RETRY_MS << (e->tries - 1)));
	__atomic_add_fetch(&n->sent, 1, __ATOMIC_RELAXED);
	if (e->tries == 1)
		log_info(zt, "notify, outgoing, remote %s, serial %u", t->text, serial);
	else
		log_debug(zt, "notify, outgoing, remote %s, serial %u, retry %u", t->text,
		          serial, e->tries - 1);
}

/* Runs the entries due by `now`, earliest first; frees those left idle. */
static void
timers(struct notify *n, int64_t now)
{
	while (n->nentries > 0 && n->heap[0]->next_ms <= now) {
		struct entry *e = n->heap[0];
		struct target *t = n->targets[e->target];
		char zt[DNS_NAME_TEXT_MAX];
		ztext(e, zt, sizeof(zt));
		count_op(n);
		if (e->nudge && !e->inflight && !e->pending) {
			e->nudge = false;
			if (n->prop != NULL && now - e->last_send_ms < NOTIFY_NUDGE_BUSY_MS &&
			    !propagation_has(n->prop, zt, t->ip, e->serial) &&
			    propagation_busy(n->prop, t->ip,
			                     propagation_now_ms() - NOTIFY_NUDGE_MS)) {
				/* it is transferring other zones (a bulk change): it
				 * will come; look again later rather than send more */
				e->nudge = true;
				set_next(n, e, now + NOTIFY_NUDGE_MS);
				continue;
			}
			if (n->prop != NULL && !propagation_has(n->prop, zt, t->ip, e->serial)) {
				log_debug(zt, "notify, outgoing, remote %s, serial %u, not fetched "
				          "yet, notifying again", t->text, e->serial);
				e->nudged = true;
				e->pending = true;
			}
		}
		if (e->inflight && e->tries >= NOTIFY_TRIES) {
			log_warning(zt, "notify, outgoing, remote %s, serial %u, "
			            "no answer after %u tries", t->text, e->serial, e->tries);
			if (n->prop != NULL)
				propagation_notified(n->prop, zt, t->text, e->serial, false,
				                     e->tries, propagation_now_ms());
			flight_free(e);
			inflight_set(n, e, false);
		}
		if (!e->inflight && e->pending && t->inflight >= NOTIFY_WINDOW) {
			/* the window is full: wait in the target's queue, in order */
			park(n, e);
			set_next(n, e, INT64_MAX);
			continue;
		}
		if (e->inflight || e->pending)
			send_notify(n, e, now);
		if (entry_idle(e)) {
			entry_remove(n, e);
			continue;
		}
		/* A sent entry is due after its back-off, in the future; never spin. */
		if (e->next_ms <= now)
			set_next(n, e, now + 1);
	}
}

/*
 * A plain query on UDP at the transfer address: SOA, AXFR and IXFR get an
 * empty truncated answer (TC: ask again over TCP, where xfrout answers with
 * TSIG and the ACL); anything else is REFUSED, as on TCP.  Signed queries
 * are left unanswered here (an unsigned answer would fail their check).
 * Answers are never larger than the query, so this reflects nothing.
 */
static void
udp_query(struct notify *n, const struct dns_msg *m, const struct sockaddr_storage *ss,
          socklen_t sl)
{
	uint8_t out[512];
	static __thread struct dns_msgw w;
	bool xfr = m->qtype == DNS_T_SOA || m->qtype == DNS_T_AXFR || m->qtype == DNS_T_IXFR;
	if (dns_msgw_init_response(&w, out, sizeof(out), m, 0,
	                           xfr ? DNS_RCODE_NOERROR : DNS_RCODE_REFUSED) != 0)
		return;
	if (xfr)
		dns_msgw_set_tc(&w);
	if (w.len <= m->len)
		sendto(n->fd, out, w.len, 0, (const struct sockaddr *)ss, sl);
}

/*
 * A signed SOA query or an UPDATE on UDP, answered by xfrout (TSIG, the
 * zone, the UPDATE itself) in one message.  A signed answer goes out only
 * when the request's TSIG verified; anything else only when it is no larger
 * than the request, so an unauthenticated sender cannot amplify.
 */
static void
udp_xfrout(struct notify *n, const uint8_t *q, size_t qlen, const struct sockaddr_storage *ss,
           socklen_t sl)
{
	struct xfrout_txn *t;
	if (xfrout_begin(n->xo, q, qlen, (const struct sockaddr *)ss, "UDP", &t) != 0)
		return;
	uint8_t out[4096];
	ssize_t len = xfrout_next(t, out, sizeof(out));
	if (len > 0 && ((size_t)len <= qlen || xfrout_verified(t)))
		sendto(n->fd, out, (size_t)len, 0, (const struct sockaddr *)ss, sl);
	xfrout_end(t);
}

/* The answer `m` to e's NOTIFY in flight. */
static void
answered(struct notify *n, struct entry *e, struct dns_msg *m, int64_t now)
{
	struct target *t = n->targets[e->target];
	char zt[DNS_NAME_TEXT_MAX];
	ztext(e, zt, sizeof(zt));
	if (e->has_key) {
		int ret = dns_tsig_verify(&e->fl->tsig, m, (uint64_t)time(NULL));
		if (ret == 0 && !m->has_tsig)
			ret = ERR_TSIG_BADSIG;
		if (ret == ERR_TSIG_BADKEY || ret == ERR_TSIG_BADTIME ||
		    (ret == ERR_TSIG_BADSIG && m->has_tsig && m->tsig.error != 0)) {
			/* The target refused our key, signature or clock: retrying
			 * cannot help, so stop and say why. */
			log_warning(zt, "notify, outgoing, remote %s, serial %u, refused "
			            "by the remote, %s", t->text, e->serial, err_str(ret));
			if (n->prop != NULL)
				propagation_notified(n->prop, zt, t->text, e->serial, false,
				                     e->tries, propagation_now_ms());
			flight_free(e);
			inflight_set(n, e, false);
			return;
		}
		if (ret != 0 && !m->has_tsig && dns_msg_rcode(m) != DNS_RCODE_NOERROR) {
			/* An unsigned error (e.g. NOTAUTH for a zone the target does not
			 * serve yet): it cannot confirm anything, but retrying will not
			 * change it either. */
			log_warning(zt, "notify, outgoing, remote %s, serial %u, refused "
			            "by the remote, rcode %u (unsigned)", t->text, e->serial,
			            dns_msg_rcode(m));
			if (n->prop != NULL)
				propagation_notified(n->prop, zt, t->text, e->serial, false,
				                     e->tries, propagation_now_ms());
			flight_free(e);
			inflight_set(n, e, false);
			return;
		}
		if (ret != 0) {
			log_warning(zt, "notify, outgoing, remote %s, serial %u, "
			            "answer ignored, %s", t->text, e->serial, err_str(ret));
			return;
		}
	}
	unsigned rcode = dns_msg_rcode(m);
	if (rcode != DNS_RCODE_NOERROR)
		log_warning(zt, "notify, outgoing, remote %s, serial %u, answered "
		            "with rcode %u", t->text, e->serial, rcode);
	else
		log_debug(zt, "notify, outgoing, remote %s, serial %u, answered",
		          t->text, e->serial);
	if (n->prop != NULL)
		propagation_notified(n->prop, zt, t->text, e->serial,
		                     rcode == DNS_RCODE_NOERROR, e->tries, propagation_now_ms());
	flight_free(e);
	inflight_set(n, e, false);
	if (e->pending) {
		int64_t at = e->last_send_ms + NOTIFY_COALESCE_MS;
		set_next(n, e, at > now ? at : now);
	} else if (rcode == DNS_RCODE_NOERROR && !e->nudged && n->prop != NULL) {
		e->nudge = true;
		set_next(n, e, now + NOTIFY_NUDGE_MS);
	}
}

static void
receive(struct notify *n, int64_t now)
{
	uint8_t buf[4096];
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t len = recvfrom(n->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (len < 0)
			return;
		struct dns_msg m;
		int pret = dns_msg_parse(&m, buf, (size_t)len);
		if (n->xo != NULL && len >= DNS_HDR_LEN && !(m.flags & DNS_F_QR) &&
		    (dns_msg_opcode(&m) == DNS_OP_UPDATE ||
		     (pret == 0 && dns_msg_opcode(&m) == DNS_OP_QUERY && m.has_tsig &&
		      m.count[0] == 1 && m.qtype == DNS_T_SOA))) {
			/* an UPDATE waits for the store's group commit: not on this
			 * thread, which the NOTIFYs of every change go through */
			if (dns_msg_opcode(&m) == DNS_OP_UPDATE && n->udp_fn != NULL) {
				if (n->udp_fn(n->udp_ctx, buf, (size_t)len, &ss, sl) != 0)
					log_debug(NULL, "notify socket, UDP UPDATE dropped: the "
					          "UPDATE workers' queue is full");
				continue;
			}
			udp_xfrout(n, buf, (size_t)len, &ss, sl);
			continue;
		}
		if (pret != 0)
			continue;
		if (!(m.flags & DNS_F_QR) && dns_msg_opcode(&m) == DNS_OP_QUERY && !m.has_tsig &&
		    m.count[0] == 1) {
			udp_query(n, &m, &ss, sl);
			continue;
		}
		if (!(m.flags & DNS_F_QR) || dns_msg_opcode(&m) != DNS_OP_NOTIFY) {
			char a[ADDR_TEXT_MAX];
			log_debug(NULL, "notify socket, ignored a %s (opcode %u) from %s",
			          (m.flags & DNS_F_QR) ? "response" : "query", dns_msg_opcode(&m),
			          addr_fmt((const struct sockaddr *)&ss, a, sizeof(a)));
			continue;
		}
		if (m.qname_len == 0)
			continue;
		struct entry *e;
		for (e = n->ids[m.id]; e != NULL; e = e->idnext) {
			count_op(n);
			if (e->inflight && e->id == m.id &&
			    addr_equal((const struct sockaddr *)&ss,
			               (const struct sockaddr *)&n->targets[e->target]->addr) &&
			    dns_name_equal(m.qname, e->zone))
				break;
		}
		if (e == NULL)
			continue;
		answered(n, e, &m, now);
		if (entry_idle(e))
			set_next(n, e, now);   /* the timers free it (it may be reused first) */
	}
}

static void *
run(void *arg)
{
	struct notify *n = arg;
	for (;;) {
		int64_t now = clock_mono_ms();
		int timeout = 1000;
		if (n->nentries > 0) {
			int64_t d = n->heap[0]->next_ms - now;
			if (d < 0)
				d = 0;
			if (d < timeout)
				timeout = (int)d;
		}
		struct pollfd pf[2] = {{.fd = n->fd, .events = POLLIN}, {.fd = n->evfd, .events = POLLIN}};
		poll(pf, 2, timeout);
		now = clock_mono_ms();
		if (pf[1].revents & POLLIN) {
			uint64_t v;
			ssize_t r = read(n->evfd, &v, sizeof(v));
			(void)r;
		}
		pthread_mutex_lock(&n->lock);
		bool stop = n->stop;
		pthread_mutex_unlock(&n->lock);
		if (stop) {
			take_requests(n, now);   /* no caller left waiting */
			return NULL;
		}
		if (pf[0].revents & POLLIN)
			receive(n, now);
		take_requests(n, now);
		timers(n, now);
	}
}

int
notify_start(struct notify *n)
{
	int ret = pthread_create(&n->thread, NULL, run, n);
	if (ret != 0)
		return -ret;
	n->started = true;
	return 0;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->started) {
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_mutex_unlock(&n->lock);
		uint64_t one = 1;
		ssize_t w = write(n->evfd, &one, sizeof(one));
		(void)w;
		pthread_join(n->thread, NULL);
	}
	for (size_t i = 0; i < n->nentries; i++)
		entry_free(n->heap[i]);
	for (unsigned i = 0; i < n->ntargets; i++) {
		if (n->targets[i] != NULL)
			explicit_bzero(n->targets[i], sizeof(*n->targets[i]));
		free(n->targets[i]);
	}
	free(n->heap);
	free(n->buckets);
	free(n->ids);
	while (n->queue != NULL) {
		/* only async ones are left: sync callers wait for the thread */
		struct req *r = n->queue;
		n->queue = r->next;
		free(r->add);
		free(r);
	}
	if (n->fd >= 0)
		close(n->fd);
	if (n->evfd >= 0)
		close(n->evfd);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}
