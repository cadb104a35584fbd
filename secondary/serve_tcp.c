/*
 * TCP service thread: one epoll set with the listening sockets, the stop
 * eventfd and every connection.  Each connection holds one framing buffer
 * (net/tcp.h) and one output buffer; a query is answered only when the
 * previous answer has been written out, which bounds memory per connection
 * and keeps answers in query order.  Two timers, swept once per second:
 * between messages (and while an answer waits for the client to read it)
 * the idle timeout runs from the last answer; once the first byte of a
 * message is in, the whole message must arrive within msg_ms (RFC 7766
 * §6.2.3), so a client trickling one byte a second cannot keep a slot.
 * The thread is an RCU reader like the UDP workers.
 */
#include "secondary/serve_tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "net/addr.h"
#include "net/tcp.h"
#include "util/log.h"

struct conn {
	int fd;
	struct sockaddr_storage peer;
	int64_t last_ms;              /* accept or last answer: the idle timer */
	int64_t msg_ms;               /* first byte of the message being read */
	size_t out_len, out_off;      /* pending answer bytes in out */
	bool want_out;                /* registered for EPOLLOUT */
	struct tcp_frame in;
	uint8_t out[2 + TCP_MSG_MAX];
};

struct serve_tcp {
	pthread_t thread;
	bool started;
	struct serve_ctx ctx;
	struct serve_tcp_limits lim;
	int epfd, stopfd;
	int *lfds;
	size_t nl;
	struct conn **conns;          /* max_conns slots */
	size_t nconns;
};

/* Tags in epoll data: listening sockets and the stop fd are fds, conns pointers. */
#define TAG_LISTEN 1ULL
#define TAG_STOP 2ULL

static void
conn_close(struct serve_tcp *t, size_t idx)
{
	struct conn *c = t->conns[idx];
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	tcp_frame_clear(&c->in);
	free(c);
	t->conns[idx] = t->conns[--t->nconns];
	t->conns[t->nconns] = NULL;
}

static size_t
conn_index(struct serve_tcp *t, const struct conn *c)
{
	for (size_t i = 0; i < t->nconns; i++)
		if (t->conns[i] == c)
			return i;
	return (size_t)-1;
}

static unsigned
count_peer(const struct serve_tcp *t, const struct sockaddr *sa)
{
	unsigned n = 0;
	for (size_t i = 0; i < t->nconns; i++)
		if (addr_equal_ip((const struct sockaddr *)&t->conns[i]->peer, sa))
			n++;
	return n;
}

static void
accept_all(struct serve_tcp *t, int lfd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (t->nconns >= t->lim.max_conns ||
		    count_peer(t, (const struct sockaddr *)&ss) >=
		            __atomic_load_n(&t->lim.max_per_client, __ATOMIC_RELAXED)) {
			SERVE_INC(t->ctx.stats->tcp_refused_limit);
			close(fd);
			continue;
		}
		struct conn *c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer = ss;
		c->last_ms = tcp_now_ms();
		c->msg_ms = 0;
		c->out_len = c->out_off = 0;
		c->want_out = false;
		tcp_frame_init(&c->in);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			continue;
		}
		t->conns[t->nconns++] = c;
		SERVE_INC(t->ctx.stats->tcp_accepted);
	}
}

/* Writes what is pending.  Returns 0 (all written or would block), -1 to close. */
static int
flush_out(struct serve_tcp *t, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out) {
				struct epoll_event ev = {.events = EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
				epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
				c->want_out = true;
			}
			return 0;
		}
		return -1;
	}
	c->out_len = c->out_off = 0;
	if (c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
		epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = false;
	}
	return 0;
}

/* Reads and answers queries while the output is free.  Returns -1 to close. */
static int
conn_work(struct serve_tcp *t, struct conn *c)
{
	for (int budget = 0; budget < 64; budget++) {
		if (c->out_len > 0)
			return flush_out(t, c);
		const uint8_t *msg;
		size_t len;
		if (tcp_frame_ready(&c->in, &msg, &len)) {
			size_t n = serve_message(&t->ctx, msg, len, (const struct sockaddr *)&c->peer,
			                         true, c->out + 2, TCP_MSG_MAX);
			tcp_frame_next(&c->in);
			c->last_ms = tcp_now_ms();
			if (n == 0)
				return -1;   /* nothing to answer on a stream: the peer is confused */
			c->out[0] = (uint8_t)(n >> 8);
			c->out[1] = (uint8_t)n;
			c->out_len = n + 2;
			c->out_off = 0;
			if (flush_out(t, c) != 0)
				return -1;
			continue;
		}
		bool first = tcp_frame_pending(&c->in) == 0;
		ssize_t r = tcp_frame_read(&c->in, c->fd);
		if (r == -EAGAIN)
			return 0;
		if (r <= 0)
			return -1;
		/* bytes do not restart the idle timer: the message deadline runs */
		if (first)
			c->msg_ms = tcp_now_ms();
	}
	return 0;
}

static void
sweep_idle(struct serve_tcp *t)
{
	int64_t now = tcp_now_ms();
	for (size_t i = 0; i < t->nconns;) {
		const struct conn *c = t->conns[i];
		bool late;
		if (c->out_len == 0 && tcp_frame_pending(&c->in) > 0)
			late = now - c->msg_ms > (int64_t)__atomic_load_n(&t->lim.msg_ms, __ATOMIC_RELAXED);
		else
			late = now - c->last_ms >
			       (int64_t)__atomic_load_n(&t->lim.idle_ms, __ATOMIC_RELAXED);
		if (late) {
			SERVE_INC(t->ctx.stats->tcp_idle_closed);
			conn_close(t, i);
			continue;
		}
		i++;
	}
}

static void *
tcp_main(void *arg)
{
	struct serve_tcp *t = arg;
	rcu_register_thread();
	struct epoll_event ev[64];
	int64_t next_sweep = tcp_now_ms() + 1000;
	while (!atomic_load_explicit(&serve_stopping, memory_order_relaxed)) {
		rcu_thread_offline();
		int n = epoll_wait(t->epfd, ev, 64, 500);
		rcu_thread_online();
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == TAG_STOP)
				continue;
			if ((tag & 3) == TAG_LISTEN) {   /* pointers are 8-aligned: low bits 0 */
				accept_all(t, (int)(tag >> 2));
				continue;
			}
			struct conn *c = ev[i].data.ptr;
			size_t idx = conn_index(t, c);
			if (idx == (size_t)-1)
				continue;   /* closed earlier in this round */
			int r = 0;
			if (ev[i].events & (EPOLLERR | EPOLLHUP))
				r = -1;
			else if (c->out_len > 0)
				r = flush_out(t, c);
			if (r == 0)
				r = conn_work(t, c);
			if (r == 0 && (ev[i].events & EPOLLRDHUP) && c->out_len == 0 &&
			    !tcp_frame_ready(&c->in, &(const uint8_t *){NULL}, &(size_t){0}))
				r = -1;   /* peer finished sending and everything is answered */
			if (r != 0)
				conn_close(t, idx);
		}
		rcu_quiescent_state();
		int64_t now = tcp_now_ms();
		if (now >= next_sweep) {
			sweep_idle(t);
			next_sweep = now + 1000;
		}
	}
	while (t->nconns > 0)
		conn_close(t, t->nconns - 1);
	rcu_unregister_thread();
	return NULL;
}

struct serve_tcp *
serve_tcp_start(const struct sockaddr_storage *addrs, size_t naddrs,
                const struct serve_ctx *tmpl, const struct serve_tcp_limits *lim, char *err,
                size_t errcap)
{
	struct serve_tcp *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	t->epfd = -1;
	t->stopfd = -1;
	t->ctx = *tmpl;
	t->ctx.stats = serve_stats_new();
	t->lim.max_conns = lim != NULL && lim->max_conns ? lim->max_conns : 512;
	t->lim.max_per_client = lim != NULL && lim->max_per_client ? lim->max_per_client : 32;
	t->lim.idle_ms = lim != NULL && lim->idle_ms ? lim->idle_ms : 10000;
	t->lim.msg_ms = lim != NULL && lim->msg_ms ? lim->msg_ms : 5000;
	/* room for max_conns sockets besides the daemon's other descriptors */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	t->conns = calloc(t->lim.max_conns, sizeof(*t->conns));
	t->lfds = calloc(naddrs, sizeof(int));
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->ctx.stats == NULL || t->conns == NULL || t->lfds == NULL || t->epfd < 0 ||
	    t->stopfd < 0) {
		snprintf(err, errcap, "out of memory starting the TCP service");
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_STOP};
	epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stopfd, &ev);
	for (size_t i = 0; i < naddrs; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i];
		int fd = tcp_listen(sa, addr_len(sa), 256);
		if (fd < 0) {
			char a[ADDR_TEXT_MAX];
			snprintf(err, errcap, "cannot listen on TCP %s: %s", addr_fmt(sa, a, sizeof(a)),
			         strerror(-fd));
			goto fail;
		}
		t->lfds[t->nl++] = fd;
		ev.data.u64 = ((uint64_t)fd << 2) | TAG_LISTEN;
		epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
	if (pthread_create(&t->thread, NULL, tcp_main, t) != 0) {
		snprintf(err, errcap, "cannot start the TCP thread");
		goto fail;
	}
	t->started = true;
	return t;
fail:
	serve_tcp_stop(t);
	return NULL;
}

void
serve_tcp_stop(struct serve_tcp *t)
{
	if (t == NULL)
		return;
	atomic_store(&serve_stopping, true);
	if (t->stopfd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(t->stopfd, &one, sizeof(one));
		(void)w;
	}
	if (t->started)
		pthread_join(t->thread, NULL);
	for (size_t i = 0; i < t->nl; i++)
		close(t->lfds[i]);
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stopfd >= 0)
		close(t->stopfd);
	free(t->lfds);
	free(t->conns);
	free(t);
}

void
serve_tcp_set_limits(struct serve_tcp *t, const struct serve_tcp_limits *lim)
{
	if (lim->max_per_client != 0)
		__atomic_store_n(&t->lim.max_per_client, lim->max_per_client, __ATOMIC_RELAXED);
	if (lim->idle_ms != 0)
		__atomic_store_n(&t->lim.idle_ms, lim->idle_ms, __ATOMIC_RELAXED);
	if (lim->msg_ms != 0)
		__atomic_store_n(&t->lim.msg_ms, lim->msg_ms, __ATOMIC_RELAXED);
}
