/*
 * Transfer server over TCP (RFC 7766), see xfr_tcp.h.  Invariants: a
 * connection is either reading one request (length prefix, then body) or
 * writing one answer (txn != NULL), never both, so pipelined requests wait
 * in the kernel's buffer; epoll interest follows that state.  Connections
 * live on a list ordered by last activity (oldest first), which makes
 * eviction at a limit and the timeout sweep cheap.
 */
#include "primary/xfr_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dns/msg.h"
#include "net/addr.h"
#include "net/tcp.h"
#include "primary/xfrout.h"
#include "util/log.h"
#include "util/clock.h"

/* Messages written per connection per wake-up, so one fast transfer
 * cannot starve the others. */
#define BURST 16

struct conn {
	int fd;
	struct sockaddr_storage peer;
	struct conn *prev, *next;     /* activity list, oldest first */
	uint64_t last_active;         /* ms, any progress */
	uint64_t req_start;           /* ms of the first byte of a request, 0 if none */
	struct tcp_frame in;          /* the request being read (net/tcp.h) */
	const uint8_t *rx;            /* the complete request, in `in`, while loading */
	size_t rxlen;
	struct xfrout_txn *txn;
	uint8_t *tx;                  /* 2 + XFROUT_MSG_MAX while answering */
	size_t txlen, txoff;
	uint32_t events;
	bool closed;                  /* in the graveyard, freed after this batch */
	bool loading;                 /* a worker runs xfrout_begin for it */
	bool dead;                    /* closed by the peer while loading */
	struct conn *jnext;           /* worker queues */
	int jret;
	struct xfrout_txn *jtxn;
};

/* Workers for transfers and queries (a zone read from the store each), and
 * for DNS UPDATEs: those wait for the store's group commit, so as many
 * UPDATEs as these workers can be written in one transaction, and a long
 * transfer's load never delays an UPDATE. */
#define WORKERS 2
#define UWORKERS 8

struct xfr_tcp;

/* A UDP request (xfr_tcp_udp), answered by an UPDATE worker. */
struct udpjob {
	struct udpjob *next;
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t len;
	uint8_t q[];
};

struct worker {
	struct xfr_tcp *s;
	bool update;                  /* takes UPDATE jobs (ujobs) */
	pthread_t thread;
};

struct xfr_tcp {
	struct xfr_tcp_conf conf;
	struct xfrout *x;
	int lfd, efd, stopfd;
	pthread_t thread;
	bool started;
	struct conn *head, *tail;
	struct conn *grave;           /* closed during this epoll batch */
	unsigned nconns;              /* written by the thread, read by others */
	uint64_t last_refuse_log;
	/* Requests are started (zone read from the store) by worker threads so
	 * a big zone never stalls the loop: jobs in, finished jobs out. */
	pthread_mutex_t jlock;
	pthread_cond_t jcond, ucond;  /* jobs, ujobs waiting */
	struct conn *jobs, *ujobs, *done;
	struct udpjob *udp, **udptail;   /* UDP UPDATEs waiting, oldest first */
	unsigned nudp;
	int udpfd;                    /* the NOTIFY socket's copy (xfr_tcp_set_udp) */
	bool jstop;
	int donefd;
	struct worker workers[WORKERS + UWORKERS];
	unsigned nworkers;
};

static uint64_t
now_ms(void)
{
	return (uint64_t)clock_mono_ms();
}

static void
list_unlink(struct xfr_tcp *s, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		s->tail = c->prev;
	c->prev = c->next = NULL;
}

static void
list_append(struct xfr_tcp *s, struct conn *c)
{
	c->prev = s->tail;
	c->next = NULL;
	if (s->tail != NULL)
		s->tail->next = c;
	else
		s->head = c;
	s->tail = c;
}

/* Marks progress: moves c to the young end of the list. */
static void
touch(struct xfr_tcp *s, struct conn *c, uint64_t now)
{
	c->last_active = now;
	list_unlink(s, c);
	list_append(s, c);
}

static void
conn_close(struct xfr_tcp *s, struct conn *c)
{
	if (c->loading) {
		/* A worker still reads its request: finish when it is done. */
		if (!c->dead) {
			epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
			c->dead = true;
		}
		return;
	}
	if (c->closed)
		return;
	if (!c->dead)
		epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	xfrout_end(c->txn);
	c->txn = NULL;
	list_unlink(s, c);
	/* Later events of the same epoll batch may still name c: free it
	 * after the batch (bury). */
	c->closed = true;
	c->jnext = s->grave;
	s->grave = c;
	__atomic_store_n(&s->nconns, s->nconns - 1, __ATOMIC_RELAXED);
}

static void
bury(struct xfr_tcp *s)
{
	while (s->grave != NULL) {
		struct conn *c = s->grave;
		s->grave = c->jnext;
		tcp_frame_clear(&c->in);
		free(c->tx);
		free(c);
	}
}

static int
set_events(struct xfr_tcp *s, struct conn *c, uint32_t ev)
{
	if (c->events == ev)
		return 0;
	struct epoll_event e = {.events = ev, .data.ptr = c};
	if (epoll_ctl(s->efd, EPOLL_CTL_MOD, c->fd, &e) != 0)
		return -errno;
	c->events = ev;
	return 0;
}

/*
 * Writes what it can of the answer: the pending message, then further
 * ones from xfrout.  Returns 0 to keep the connection, <0 to close it.
 */
static int
conn_write(struct xfr_tcp *s, struct conn *c, uint64_t now)
{
	for (int burst = 0; burst < BURST;) {
		if (c->txoff == c->txlen) {
			ssize_t n = xfrout_next(c->txn, c->tx + 2, XFROUT_MSG_MAX);
			if (n < 0)
				return (int)n;
			if (n == 0) {
				xfrout_end(c->txn);
				c->txn = NULL;
				free(c->tx);
				c->tx = NULL;
				c->txlen = c->txoff = 0;
				return set_events(s, c, EPOLLIN);
			}
			c->tx[0] = (uint8_t)(n >> 8);
			c->tx[1] = (uint8_t)n;
			c->txlen = (size_t)n + 2;
			c->txoff = 0;
			burst++;
		}
		ssize_t w = send(c->fd, c->tx + c->txoff, c->txlen - c->txoff, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return set_events(s, c, EPOLLOUT);
			return -errno;
		}
		c->txoff += (size_t)w;
		touch(s, c, now);
	}
	/* Burst used up: come back when epoll says the socket is writable. */
	return set_events(s, c, EPOLLOUT);
}

/* A complete request: hand it to a worker (an UPDATE to an UPDATE worker,
 * by the header's opcode); the loop waits for it. */
static int
conn_request(struct xfr_tcp *s, struct conn *c, uint64_t now)
{
	(void)now;
	if (!tcp_frame_ready(&c->in, &c->rx, &c->rxlen))
		return -EINVAL;
	c->req_start = 0;
	c->loading = true;
	int ret = set_events(s, c, 0);
	if (ret != 0)
		return ret;
	bool update = c->rxlen > 2 && ((c->rx[2] >> 3) & 0x0f) == DNS_OP_UPDATE;
	pthread_mutex_lock(&s->jlock);
	c->jnext = NULL;
	struct conn **pp = update ? &s->ujobs : &s->jobs;
	while (*pp != NULL)
		pp = &(*pp)->jnext;
	*pp = c;
	pthread_cond_signal(update ? &s->ucond : &s->jcond);
	pthread_mutex_unlock(&s->jlock);
	return 0;
}

/* One UDP UPDATE, answered on the NOTIFY socket (notify.c's rule: a signed
 * answer when the TSIG verified, else nothing larger than the request). */
static void
udp_answer(struct xfr_tcp *s, struct udpjob *j)
{
	struct xfrout_txn *t;
	if (xfrout_begin(s->x, j->q, j->len, (const struct sockaddr *)&j->ss, "UDP", &t) != 0)
		return;
	uint8_t out[4096];
	ssize_t len = xfrout_next(t, out, sizeof(out));
	if (len > 0 && ((size_t)len <= j->len || xfrout_verified(t)))
		sendto(s->udpfd, out, (size_t)len, 0, (const struct sockaddr *)&j->ss, j->sl);
	xfrout_end(t);
}

/* The next UDP UPDATE, under jlock; NULL when none waits. */
static struct udpjob *
udp_take(struct xfr_tcp *s)
{
	struct udpjob *j = s->udp;
	if (j == NULL)
		return NULL;
	s->udp = j->next;
	if (s->udp == NULL)
		s->udptail = &s->udp;
	s->nudp--;
	return j;
}

static void *
worker(void *arg)
{
	struct worker *wk = arg;
	struct xfr_tcp *s = wk->s;
	struct conn **q = wk->update ? &s->ujobs : &s->jobs;
	pthread_cond_t *cond = wk->update ? &s->ucond : &s->jcond;
	pthread_mutex_lock(&s->jlock);
	for (;;) {
		while (*q == NULL && !(wk->update && s->udp != NULL) && !s->jstop)
			pthread_cond_wait(cond, &s->jlock);
		if (s->jstop)
			break;
		if (*q == NULL) {
			struct udpjob *j = udp_take(s);
			pthread_mutex_unlock(&s->jlock);
			udp_answer(s, j);
			free(j);
			pthread_mutex_lock(&s->jlock);
			continue;
		}
		struct conn *c = *q;
		*q = c->jnext;
		pthread_mutex_unlock(&s->jlock);
		/* Only this thread touches c's request and jtxn until it is done. */
		c->jtxn = NULL;
		c->jret = xfrout_begin(s->x, c->rx, c->rxlen, (const struct sockaddr *)&c->peer,
		                       "TCP", &c->jtxn);
		pthread_mutex_lock(&s->jlock);
		/* the loop takes the whole list after each wake-up: one that was not
		 * empty has a wake-up pending */
		bool wake = s->done == NULL;
		c->jnext = s->done;
		s->done = c;
		if (wake) {
			uint64_t one = 1;
			ssize_t w = write(s->donefd, &one, sizeof(one));
			(void)w;
		}
	}
	pthread_mutex_unlock(&s->jlock);
	return NULL;
}

/* Back in the loop: start writing the answers of finished jobs. */
static void
take_done(struct xfr_tcp *s)
{
	uint64_t v;
	ssize_t r = read(s->donefd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&s->jlock);
	struct conn *c = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->jlock);
	uint64_t now = now_ms();
	while (c != NULL) {
		struct conn *next = c->jnext;
		c->loading = false;
		tcp_frame_next(&c->in);
		c->rx = NULL;
		c->rxlen = 0;
		int ret = c->jret;
		if (ret == 0 && c->dead) {
			xfrout_end(c->jtxn);
			ret = -ECONNRESET;
		} else if (ret == 0) {
			c->txn = c->jtxn;
			c->tx = malloc(2 + XFROUT_MSG_MAX);
			if (c->tx == NULL) {
				ret = -ENOMEM;
			} else {
				c->txlen = c->txoff = 0;
				touch(s, c, now);
				ret = conn_write(s, c, now);
			}
		}
		c->jtxn = NULL;
		if (ret != 0)
			conn_close(s, c);
		c = next;
	}
}

/* Reads toward one complete request; exactly as many bytes as it needs. */
static int
conn_read(struct xfr_tcp *s, struct conn *c, uint64_t now)
{
	for (;;) {
		ssize_t n = tcp_frame_read(&c->in, c->fd);
		if (n == 0)
			return -ECONNRESET;
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		if (c->req_start == 0)
			c->req_start = now;
		touch(s, c, now);
		/* Shorter than a DNS header: nothing we could even refuse. */
		ssize_t len = tcp_frame_len(&c->in);
		if (len >= 0 && len < 12)
			return -EPROTO;
		if (tcp_frame_ready(&c->in, &(const uint8_t *){ NULL }, &(size_t){ 0 }))
			return conn_request(s, c, now);
	}
}

static void
conn_event(struct xfr_tcp *s, struct conn *c, uint32_t ev)
{
	uint64_t now = now_ms();
	int ret = 0;
	if (c->closed)
		return;
	if (c->loading || c->dead)
		ret = (ev & (EPOLLERR | EPOLLHUP)) ? -ECONNRESET : 0;
	else if (ev & (EPOLLERR | EPOLLHUP)) {
		ret = -ECONNRESET;
	} else if (c->txn != NULL) {
		if (ev & EPOLLOUT)
			ret = conn_write(s, c, now);
	} else if (ev & EPOLLIN) {
		ret = conn_read(s, c, now);
	}
	if (ret != 0) {
		char a[ADDR_TEXT_MAX];
		if (ret != -ECONNRESET && ret != -EPIPE)
			log_debug(NULL, "xfr TCP, closing %s, %s",
			          addr_fmt((const struct sockaddr *)&c->peer, a, sizeof(a)),
			          strerror(-ret > 0 && -ret < 4096 ? -ret : EPROTO));
		conn_close(s, c);
	}
}

/* The least recently active connection without an answer in flight,
 * optionally only from `ip`'s address. */
static struct conn *
evictable(struct xfr_tcp *s, const struct sockaddr *ip)
{
	for (struct conn *c = s->head; c != NULL; c = c->next) {
		if (c->txn != NULL || c->loading)
			continue;
		if (ip == NULL || addr_equal_ip((const struct sockaddr *)&c->peer, ip))
			return c;
	}
	return NULL;
}

static unsigned
count_client(struct xfr_tcp *s, const struct sockaddr *ip)
{
	unsigned n = 0;
	for (struct conn *c = s->head; c != NULL; c = c->next)
		if (addr_equal_ip((const struct sockaddr *)&c->peer, ip))
			n++;
	return n;
}

static void
do_accept(struct xfr_tcp *s)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors: make room by closing the longest idle
			 * connection, else the listening socket would stay readable
			 * and spin the loop. */
			if (errno == EMFILE || errno == ENFILE) {
				struct conn *v = evictable(s, NULL);
				if (v != NULL)
					conn_close(s, v);
			}
			return;
		}
		const struct sockaddr *sa = (const struct sockaddr *)&ss;
		uint64_t now = now_ms();
		bool ok = true;
		if (count_client(s, sa) >= s->conf.max_per_client) {
			struct conn *v = evictable(s, sa);
			if (v != NULL)
				conn_close(s, v);
			else
				ok = false;
		}
		if (ok && s->nconns >= s->conf.max_conns) {
			struct conn *v = evictable(s, NULL);
			if (v != NULL)
				conn_close(s, v);
			else
				ok = false;
		}
		struct conn *c = ok ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			if (now - s->last_refuse_log >= 60000) {
				char a[ADDR_TEXT_MAX];
				log_warning(NULL, "xfr TCP, connection from %s refused, limit of %u reached",
				            addr_fmt(sa, a, sizeof(a)), s->conf.max_conns);
				s->last_refuse_log = now;
			}
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		tcp_frame_init(&c->in);
		memcpy(&c->peer, &ss, sizeof(ss));
		c->last_active = now;
		c->events = EPOLLIN;
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &e) != 0) {
			close(fd);
			free(c);
			continue;
		}
		list_append(s, c);
		__atomic_store_n(&s->nconns, s->nconns + 1, __ATOMIC_RELAXED);
	}
}

static void
sweep(struct xfr_tcp *s, uint64_t now)
{
	struct conn *next;
	for (struct conn *c = s->head; c != NULL; c = next) {
		next = c->next;
		bool expired;
		if (c->loading)
			continue;   /* the store is working for it */
		if (c->txn != NULL)
			expired = now - c->last_active >= s->conf.write_timeout_ms;
		else if (c->req_start != 0)
			expired = now - c->req_start >= s->conf.request_timeout_ms;
		else
			expired = now - c->last_active >= s->conf.idle_timeout_ms;
		if (expired) {
			char a[ADDR_TEXT_MAX];
			log_debug(NULL, "xfr TCP, closing %s, timed out",
			          addr_fmt((const struct sockaddr *)&c->peer, a, sizeof(a)));
			conn_close(s, c);
		}
	}
}

static void *
run(void *arg)
{
	struct xfr_tcp *s = arg;
	struct epoll_event evs[64];
	uint64_t last_sweep = now_ms();
	for (;;) {
		int n = epoll_wait(s->efd, evs, 64, 200);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->stopfd)
				return NULL;
			if (p == &s->lfd)
				do_accept(s);
			else if (p == &s->donefd)
				take_done(s);
			else
				conn_event(s, p, evs[i].events);
		}
		uint64_t now = now_ms();
		if (now - last_sweep >= 200) {
			sweep(s, now);
			last_sweep = now;
		}
		bury(s);
	}
}

struct xfr_tcp *
xfr_tcp_new(const struct sockaddr *addr, socklen_t alen, const struct xfr_tcp_conf *conf,
            struct xfrout *x, int *err)
{
	struct xfr_tcp *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	s->x = x;
	s->lfd = s->efd = s->stopfd = s->donefd = s->udpfd = -1;
	s->udptail = &s->udp;
	pthread_mutex_init(&s->jlock, NULL);
	pthread_cond_init(&s->jcond, NULL);
	pthread_cond_init(&s->ucond, NULL);
	if (conf != NULL)
		s->conf = *conf;
	if (s->conf.max_conns == 0)
		s->conf.max_conns = 1024;
	if (s->conf.max_per_client == 0)
		s->conf.max_per_client = 512;
	if (s->conf.idle_timeout_ms == 0)
		s->conf.idle_timeout_ms = 10000;
	if (s->conf.request_timeout_ms == 0)
		s->conf.request_timeout_ms = 5000;
	if (s->conf.write_timeout_ms == 0)
		s->conf.write_timeout_ms = 20000;

	/* Room for max_conns sockets besides the daemon's other descriptors. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	s->lfd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		goto fail;
	int one = 1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->sa_family == AF_INET6)
		setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s->lfd, addr, alen) != 0 || listen(s->lfd, 1024) != 0)
		goto fail;
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	s->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0 || s->stopfd < 0 || s->donefd < 0)
		goto fail;
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->lfd};
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &e) != 0)
		goto fail;
	e.data.ptr = &s->stopfd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->stopfd, &e) != 0)
		goto fail;
	e.data.ptr = &s->donefd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->donefd, &e) != 0)
		goto fail;
	return s;
fail:
	*err = -errno;
	xfr_tcp_free(s);
	return NULL;
}

int
xfr_tcp_start(struct xfr_tcp *s)
{
	for (unsigned i = 0; i < WORKERS + UWORKERS; i++) {
		struct worker *wk = &s->workers[i];
		wk->s = s;
		wk->update = i >= WORKERS;
		int ret = pthread_create(&wk->thread, NULL, worker, wk);
		if (ret != 0)
			return -ret;
		s->nworkers++;
	}
	int ret = pthread_create(&s->thread, NULL, run, s);
	if (ret != 0)
		return -ret;
	s->started = true;
	return 0;
}

int
xfr_tcp_set_udp(struct xfr_tcp *s, int fd)
{
	s->udpfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return s->udpfd >= 0 ? 0 : -errno;
}

int
xfr_tcp_udp(void *ctx, const uint8_t *q, size_t len, const struct sockaddr_storage *ss,
            socklen_t sl)
{
	struct xfr_tcp *s = ctx;
	if (s->udpfd < 0)
		return -ENOTCONN;
	struct udpjob *j = malloc(sizeof(*j) + len);
	if (j == NULL)
		return -ENOMEM;
	j->next = NULL;
	memcpy(&j->ss, ss, sl);
	j->sl = sl;
	j->len = len;
	memcpy(j->q, q, len);
	pthread_mutex_lock(&s->jlock);
	bool full = s->nudp >= XFR_TCP_UDP_QUEUE || s->jstop;
	if (!full) {
		*s->udptail = j;
		s->udptail = &j->next;
		s->nudp++;
		pthread_cond_signal(&s->ucond);
	}
	pthread_mutex_unlock(&s->jlock);
	if (full)
		free(j);
	return full ? -EBUSY : 0;
}

unsigned
xfr_tcp_conns(struct xfr_tcp *s)
{
	return __atomic_load_n(&s->nconns, __ATOMIC_RELAXED);
}

void
xfr_tcp_free(struct xfr_tcp *s)
{
	if (s == NULL)
		return;
	if (s->started) {
		uint64_t one = 1;
		ssize_t w = write(s->stopfd, &one, sizeof(one));
		(void)w;
		pthread_join(s->thread, NULL);
	}
	pthread_mutex_lock(&s->jlock);
	s->jstop = true;
	pthread_cond_broadcast(&s->jcond);
	pthread_cond_broadcast(&s->ucond);
	pthread_mutex_unlock(&s->jlock);
	for (unsigned i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i].thread, NULL);
	/* Jobs never started, and jobs done but not taken, end here. */
	for (int k = 0; k < 2; k++) {
		for (struct conn *c = k ? s->ujobs : s->jobs; c != NULL; c = c->jnext) {
			c->jret = -ECANCELED;
			c->loading = false;
			c->dead = true;
		}
	}
	for (struct conn *c = s->done; c != NULL; c = c->jnext) {
		xfrout_end(c->jtxn);
		c->jtxn = NULL;
		c->loading = false;
		c->dead = true;
	}
	while (s->head != NULL)
		conn_close(s, s->head);
	bury(s);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->efd >= 0)
		close(s->efd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	if (s->donefd >= 0)
		close(s->donefd);
	for (struct udpjob *j; (j = udp_take(s)) != NULL;)
		free(j);
	if (s->udpfd >= 0)
		close(s->udpfd);
	pthread_mutex_destroy(&s->jlock);
	pthread_cond_destroy(&s->jcond);
	pthread_cond_destroy(&s->ucond);
	free(s);
}
