/*
 * NOTIFY sender (see notify.h).  Requests from other threads land on a
 * mutex-guarded queue and wake the thread through an eventfd.  The thread
 * keeps one entry per (zone, target) with work to do: `pending` (a newer
 * serial should be announced), `inflight` (a NOTIFY awaits its answer,
 * identified by id and target address) and the time of its next action.
 * An entry with neither is freed, so the list holds only active pairs.
 */
#include "primary/notify.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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
#include "util/err.h"
#include "util/log.h"

#define NOTIFY_MAX_TARGETS 64

struct req {
	struct req *next;
	uint8_t zone[DNS_NAME_MAX];
	bool now;
};

struct target {
	struct sockaddr_storage addr;
	socklen_t len;
	char text[ADDR_TEXT_MAX];
	char ip[ADDR_TEXT_MAX];
};

struct entry {
	struct entry *next;
	uint8_t zone[DNS_NAME_MAX];
	char zone_text[DNS_NAME_TEXT_MAX];
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
	struct dns_tsig_key key;
	struct dns_tsig_ctx tsig;
};

struct notify {
	struct notify_source src;
	struct propagation *prop;
	int fd, evfd;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	struct req *queue, **qtail;
	bool stop;
	struct target targets[NOTIFY_MAX_TARGETS];
	unsigned ntargets;
	struct entry *entries;
	uint64_t sent;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	n->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
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

int
notify_add_target(struct notify *n, const struct sockaddr *to, socklen_t tolen)
{
	if (n->ntargets >= NOTIFY_MAX_TARGETS || tolen > sizeof(struct sockaddr_storage))
		return -ENOSPC;
	struct target *t = &n->targets[n->ntargets++];
	memcpy(&t->addr, to, tolen);
	t->len = tolen;
	addr_fmt(to, t->text, sizeof(t->text));
	addr_fmt_ip(to, t->ip, sizeof(t->ip));
	return 0;
}

int
notify_zone(struct notify *n, const uint8_t *zone, bool now)
{
	struct req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	memcpy(r->zone, zone, dns_name_len(zone));
	r->now = now;
	pthread_mutex_lock(&n->lock);
	*n->qtail = r;
	n->qtail = &r->next;
	pthread_mutex_unlock(&n->lock);
	uint64_t one = 1;
	ssize_t w = write(n->evfd, &one, sizeof(one));
	(void)w;
	return 0;
}

uint64_t
notify_sent(struct notify *n)
{
	return __atomic_load_n(&n->sent, __ATOMIC_RELAXED);
}

static struct entry *
entry_get(struct notify *n, const uint8_t *zone, unsigned target)
{
	for (struct entry *e = n->entries; e != NULL; e = e->next)
		if (e->target == target && dns_name_equal(e->zone, zone))
			return e;
	struct entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	memcpy(e->zone, zone, dns_name_len(zone));
	dns_name_to_text(zone, e->zone_text, sizeof(e->zone_text));
	e->target = target;
	dns_tsig_ctx_init(&e->tsig, NULL);
	e->next = n->entries;
	n->entries = e;
	return e;
}

static void
entry_free(struct entry *e)
{
	dns_tsig_ctx_clear(&e->tsig);
	free(e);
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
		for (unsigned i = 0; i < n->ntargets; i++) {
			struct entry *e = entry_get(n, q->zone, i);
			if (e == NULL)
				break;
			/* A newer serial goes out at the end of the coalescing window,
			 * even while an older NOTIFY still waits for its answer or
			 * retry: the newer one supersedes it. */
			int64_t at = e->last_send_ms != 0 ? e->last_send_ms + NOTIFY_COALESCE_MS : now;
			if (q->now || at < now)
				at = now;
			if (!(e->pending || e->inflight) || at < e->next_ms)
				e->next_ms = at;
			e->pending = true;
		}
		free(q);
		q = next;
	}
}

/* Builds and sends the NOTIFY of e's zone with its current SOA. */
static void
send_notify(struct notify *n, struct entry *e, int64_t now)
{
	struct target *t = &n->targets[e->target];
	struct xfrout_buf soa = {0};
	uint32_t serial = 0;
	int ret = n->src.soa(n->src.ctx, e->zone, &soa, &serial);
	if (ret != 0) {
		if (ret != -ENOENT)
			log_warning(e->zone_text, "notify, outgoing, remote %s, cannot read SOA, %s",
			            t->text, err_str(ret));
		e->pending = e->inflight = false;
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
	if (len < 0) {
		e->pending = e->inflight = false;
		return;
	}
	dns_tsig_ctx_clear(&e->tsig);
	e->has_key = n->src.key(n->src.ctx, e->zone, &e->key) == 0;
	dns_tsig_ctx_init(&e->tsig, e->has_key ? &e->key : NULL);
	if (e->has_key) {
		len = dns_tsig_sign(&e->tsig, buf, (size_t)len, sizeof(buf), (uint64_t)time(NULL));
		if (len < 0) {
			log_warning(e->zone_text, "notify, outgoing, remote %s, TSIG signing failed, %s",
			            t->text, err_str((int)len));
			e->pending = e->inflight = false;
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
	e->id = id;
	e->pending = false;
	e->inflight = true;
	e->last_send_ms = now;
	if (sendto(n->fd, buf, (size_t)len, 0, (const struct sockaddr *)&t->addr, t->len) < 0)
		log_debug(e->zone_text, "notify, outgoing, remote %s, send failed", t->text);
	/* The back-off counts from the send itself, not from `now` (read
	 * before the SOA lookup, the signing and the other entries' sends):
	 * a send delayed by a slow lookup must not bring the next one closer. */
	e->next_ms = mono_ms() + ((int64_t)NOTIFY_RETRY_MS << (e->tries - 1));
	__atomic_add_fetch(&n->sent, 1, __ATOMIC_RELAXED);
	if (e->tries == 1)
		log_info(e->zone_text, "notify, outgoing, remote %s, serial %u", t->text, serial);
	else
		log_debug(e->zone_text, "notify, outgoing, remote %s, serial %u, retry %u", t->text,
		          serial, e->tries - 1);
}

static void
timers(struct notify *n, int64_t now)
{
	struct entry **pp = &n->entries;
	while (*pp != NULL) {
		struct entry *e = *pp;
		if (e->next_ms <= now && e->nudge && !e->inflight && !e->pending) {
			struct target *t = &n->targets[e->target];
			e->nudge = false;
			if (n->prop != NULL && !propagation_has(n->prop, e->zone_text, t->ip, e->serial)) {
				log_debug(e->zone_text, "notify, outgoing, remote %s, serial %u, not fetched "
				          "yet, notifying again", t->text, e->serial);
				e->nudged = true;
				e->pending = true;
			}
		}
		if (e->next_ms <= now) {
			if (e->inflight && e->tries >= NOTIFY_TRIES) {
				struct target *t = &n->targets[e->target];
				log_warning(e->zone_text, "notify, outgoing, remote %s, serial %u, "
				            "no answer after %u tries", t->text, e->serial, e->tries);
				if (n->prop != NULL)
					propagation_notified(n->prop, e->zone_text, t->text, e->serial, false,
					                     e->tries, propagation_now_ms());
				e->inflight = false;
			}
			if (e->inflight || e->pending)
				send_notify(n, e, now);
		}
		if (!e->inflight && !e->pending && !e->nudge) {
			*pp = e->next;
			entry_free(e);
			continue;
		}
		pp = &e->next;
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
		if (dns_msg_parse(&m, buf, (size_t)len) != 0)
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
		struct entry *e;
		for (e = n->entries; e != NULL; e = e->next)
			if (e->inflight && e->id == m.id &&
			    addr_equal((const struct sockaddr *)&ss,
			               (const struct sockaddr *)&n->targets[e->target].addr))
				break;
		if (e == NULL || m.qname_len == 0 || !dns_name_equal(m.qname, e->zone))
			continue;
		struct target *t = &n->targets[e->target];
		if (e->has_key) {
			int ret = dns_tsig_verify(&e->tsig, &m, (uint64_t)time(NULL));
			if (ret == 0 && !m.has_tsig)
				ret = ERR_TSIG_BADSIG;
			if (ret == ERR_TSIG_BADKEY || ret == ERR_TSIG_BADTIME ||
			    (ret == ERR_TSIG_BADSIG && m.has_tsig && m.tsig.error != 0)) {
				/* The target refused our key, signature or clock: retrying
				 * cannot help, so stop and say why. */
				log_warning(e->zone_text, "notify, outgoing, remote %s, serial %u, refused "
				            "by the remote, %s", t->text, e->serial, err_str(ret));
				if (n->prop != NULL)
					propagation_notified(n->prop, e->zone_text, t->text, e->serial, false,
					                     e->tries, propagation_now_ms());
				e->inflight = false;
				continue;
			}
			if (ret != 0 && !m.has_tsig && dns_msg_rcode(&m) != DNS_RCODE_NOERROR) {
				/* An unsigned error (e.g. NOTAUTH for a zone the target does not
				 * serve yet): it cannot confirm anything, but retrying will not
				 * change it either. */
				log_warning(e->zone_text, "notify, outgoing, remote %s, serial %u, refused "
				            "by the remote, rcode %u (unsigned)", t->text, e->serial,
				            dns_msg_rcode(&m));
				if (n->prop != NULL)
					propagation_notified(n->prop, e->zone_text, t->text, e->serial, false,
					                     e->tries, propagation_now_ms());
				e->inflight = false;
				continue;
			}
			if (ret != 0) {
				log_warning(e->zone_text, "notify, outgoing, remote %s, serial %u, "
				            "answer ignored, %s", t->text, e->serial, err_str(ret));
				continue;
			}
		}
		unsigned rcode = dns_msg_rcode(&m);
		if (rcode != DNS_RCODE_NOERROR)
			log_warning(e->zone_text, "notify, outgoing, remote %s, serial %u, answered "
			            "with rcode %u", t->text, e->serial, rcode);
		else
			log_debug(e->zone_text, "notify, outgoing, remote %s, serial %u, answered",
			          t->text, e->serial);
		if (n->prop != NULL)
			propagation_notified(n->prop, e->zone_text, t->text, e->serial,
			                     rcode == DNS_RCODE_NOERROR, e->tries, propagation_now_ms());
		e->inflight = false;
		if (e->pending) {
			int64_t at = e->last_send_ms + NOTIFY_COALESCE_MS;
			e->next_ms = at > now ? at : now;
		} else if (rcode == DNS_RCODE_NOERROR && !e->nudged && n->prop != NULL) {
			e->nudge = true;
			e->next_ms = now + NOTIFY_NUDGE_MS;
		}
	}
}

static void *
run(void *arg)
{
	struct notify *n = arg;
	for (;;) {
		int64_t now = mono_ms();
		int timeout = 1000;
		for (struct entry *e = n->entries; e != NULL; e = e->next) {
			int64_t d = e->next_ms - now;
			if (d < 0)
				d = 0;
			if (d < timeout)
				timeout = (int)d;
		}
		struct pollfd pf[2] = {{.fd = n->fd, .events = POLLIN}, {.fd = n->evfd, .events = POLLIN}};
		poll(pf, 2, timeout);
		now = mono_ms();
		if (pf[1].revents & POLLIN) {
			uint64_t v;
			ssize_t r = read(n->evfd, &v, sizeof(v));
			(void)r;
		}
		pthread_mutex_lock(&n->lock);
		bool stop = n->stop;
		pthread_mutex_unlock(&n->lock);
		if (stop)
			return NULL;
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
	while (n->entries != NULL) {
		struct entry *e = n->entries;
		n->entries = e->next;
		entry_free(e);
	}
	while (n->queue != NULL) {
		struct req *r = n->queue;
		n->queue = r->next;
		free(r);
	}
	if (n->fd >= 0)
		close(n->fd);
	if (n->evfd >= 0)
		close(n->evfd);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
