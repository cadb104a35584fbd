/*
 * UDP workers.  Each worker owns its sockets, receive and send buffers and
 * counters; nothing on this path allocates, locks or logs.  Shutdown: the
 * main thread sets serve_stopping and writes the shared eventfd, which every
 * worker's epoll set holds.
 */
#include "secondary/serve_udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "net/addr.h"
#include "secondary/rrl.h"
#include "util/log.h"

#define UDP_BUF 4096   /* queries larger than this are not real UDP queries */
#define UDP_OUT 4096   /* answer_build never exceeds our EDNS payload (1232) over UDP */

struct worker {
	pthread_t thread;
	bool started;
	struct serve_ctx ctx;
	int *fds;
	size_t nfds;
	int epfd;
	int stopfd;
	uint8_t (*rx)[UDP_BUF];
	uint8_t (*tx)[UDP_OUT];
	struct mmsghdr rmsg[SERVE_UDP_BATCH], smsg[SERVE_UDP_BATCH];
	struct iovec riov[SERVE_UDP_BATCH], siov[SERVE_UDP_BATCH];
	struct sockaddr_storage from[SERVE_UDP_BATCH];
	/* Destination address of each query on wildcard sockets (IP_PKTINFO), so
	 * the answer leaves from the address the client asked (anycast). */
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctrl[SERVE_UDP_BATCH];
	uint64_t wildcard;            /* bit i: fds[i] is bound to a wildcard address */
	uint64_t rrl_key[SERVE_UDP_BATCH];   /* answer i's RRL bucket, when rrl_judge[i] */
	bool rrl_judge[SERVE_UDP_BATCH];
};

struct serve_udp {
	struct worker *w;
	unsigned nworkers;
	int stopfd;
};

static bool
is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int
udp_socket(const struct sockaddr_storage *ss, char *err, size_t errcap)
{
	const struct sockaddr *sa = (const struct sockaddr *)ss;
	char a[ADDR_TEXT_MAX];
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errcap, "UDP socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* On a wildcard address, learn each query's destination to answer from it. */
	if (is_wildcard(ss) && sa->sa_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else if (is_wildcard(ss))
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	int rcv = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(fd, sa, addr_len(sa)) != 0) {
		snprintf(err, errcap, "cannot bind UDP %s: %s", addr_fmt(sa, a, sizeof(a)),
		         strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Keeps only the packet-info control message, pointed at the query's destination. */
static size_t
reply_control(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
			memmove(mh->msg_control, c, CMSG_SPACE(sizeof(*pi)));
			return CMSG_SPACE(sizeof(*pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			memmove(mh->msg_control, c, CMSG_SPACE(sizeof(struct in6_pktinfo)));
			return CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
	}
	return 0;
}

/*
 * Rate limiting of a batch's `out` answers, after all were built so the
 * buckets' cache lines (prefetched by rrl_prepare) have arrived: each answer
 * is sent as built, truncated, or dropped (the rest move up).  Returns how
 * many are left to send.
 */
static unsigned
rrl_batch(struct worker *w, unsigned out)
{
	uint64_t now = rrl_now_ms();
	unsigned keep = 0;
	for (unsigned k = 0; k < out; k++) {
		size_t len = w->siov[k].iov_len;
		if (w->rrl_judge[k])
			len = rrl_finish(w->ctx.rrl, w->rrl_key[k], now, w->tx[k], len);
		if (len == 0)
			continue;
		if (keep != k) {
			w->smsg[keep] = w->smsg[k];
			w->siov[keep] = w->siov[k];
			w->smsg[keep].msg_hdr.msg_iov = &w->siov[keep];
		}
		w->siov[keep].iov_len = len;
		keep++;
	}
	return keep;
}

static void
serve_fd(struct worker *w, int fd, bool wildcard)
{
	for (int round = 0; round < 8; round++) {
		for (unsigned i = 0; i < SERVE_UDP_BATCH; i++) {
			w->riov[i].iov_base = w->rx[i];
			w->riov[i].iov_len = UDP_BUF;
			memset(&w->rmsg[i].msg_hdr, 0, sizeof(w->rmsg[i].msg_hdr));
			w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
			w->rmsg[i].msg_hdr.msg_iovlen = 1;
			w->rmsg[i].msg_hdr.msg_name = &w->from[i];
			w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->from[i]);
			if (wildcard) {
				w->rmsg[i].msg_hdr.msg_control = w->ctrl[i].buf;
				w->rmsg[i].msg_hdr.msg_controllen = sizeof(w->ctrl[i].buf);
			}
		}
		int n = recvmmsg(fd, w->rmsg, SERVE_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		unsigned out = 0;
		for (int i = 0; i < n; i++) {
			size_t len = w->rmsg[i].msg_len;
			if (w->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				SERVE_INC(w->ctx.stats->dropped);
				continue;
			}
			size_t r = serve_message(&w->ctx, w->rx[i], len,
			                         (const struct sockaddr *)&w->from[i], false, w->tx[out],
			                         UDP_OUT);
			if (r == 0)
				continue;
			w->siov[out].iov_base = w->tx[out];
			w->siov[out].iov_len = r;
			memset(&w->smsg[out].msg_hdr, 0, sizeof(w->smsg[out].msg_hdr));
			w->smsg[out].msg_hdr.msg_iov = &w->siov[out];
			w->smsg[out].msg_hdr.msg_iovlen = 1;
			w->smsg[out].msg_hdr.msg_name = &w->from[i];
			w->smsg[out].msg_hdr.msg_namelen = w->rmsg[i].msg_hdr.msg_namelen;
			if (wildcard) {
				/* rx slot i's control buffer is read only here, so reuse it */
				size_t cl = reply_control(&w->rmsg[i].msg_hdr);
				if (cl > 0) {
					w->smsg[out].msg_hdr.msg_control = w->ctrl[i].buf;
					w->smsg[out].msg_hdr.msg_controllen = cl;
				}
			}
			w->rrl_judge[out] = w->ctx.rrl_pending;
			w->rrl_key[out] = w->ctx.rrl_key;
			out++;
		}
		if (w->ctx.rrl != NULL)
			out = rrl_batch(w, out);
		unsigned sent = 0;
		while (sent < out) {
			int s = sendmmsg(fd, w->smsg + sent, out - sent, MSG_DONTWAIT);
			if (s <= 0) {
				/* Full socket buffer or a bad destination: drop that one answer. */
				sent++;
				continue;
			}
			sent += (unsigned)s;
		}
		rcu_quiescent_state();
		if (n < SERVE_UDP_BATCH)
			return;
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	rcu_register_thread();
	struct epoll_event ev[16];
	while (!atomic_load_explicit(&serve_stopping, memory_order_relaxed)) {
		rcu_thread_offline();
		int n = epoll_wait(w->epfd, ev, 16, 1000);
		rcu_thread_online();
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == w->stopfd)
				continue;
			bool wild = false;
			for (size_t k = 0; k < w->nfds && k < 64; k++)
				if (w->fds[k] == fd)
					wild = (w->wildcard >> k) & 1;
			serve_fd(w, fd, wild);
		}
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

static void
worker_free(struct worker *w)
{
	for (size_t i = 0; i < w->nfds; i++)
		if (w->fds[i] >= 0)
			close(w->fds[i]);
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->fds);
	free(w->rx);
	free(w->tx);
}

struct serve_udp *
serve_udp_start(const struct sockaddr_storage *addrs, size_t naddrs, unsigned workers,
                const struct serve_ctx *tmpl, char *err, size_t errcap)
{
	if (workers == 0)
		workers = 1;
	struct serve_udp *u = calloc(1, sizeof(*u));
	if (u == NULL)
		goto nomem;
	u->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	u->w = calloc(workers, sizeof(*u->w));
	if (u->w == NULL || u->stopfd < 0)
		goto nomem;
	u->nworkers = workers;
	for (unsigned i = 0; i < workers; i++)
		u->w[i].epfd = -1;
	for (unsigned i = 0; i < workers; i++) {
		struct worker *w = &u->w[i];
		w->ctx = *tmpl;
		w->ctx.stats = serve_stats_new();
		w->stopfd = u->stopfd;
		w->fds = calloc(naddrs, sizeof(int));
		w->rx = malloc(sizeof(*w->rx) * SERVE_UDP_BATCH);
		w->tx = malloc(sizeof(*w->tx) * SERVE_UDP_BATCH);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->ctx.stats == NULL || w->fds == NULL || w->rx == NULL || w->tx == NULL ||
		    w->epfd < 0)
			goto nomem;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = u->stopfd};
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, u->stopfd, &ev);
		for (size_t a = 0; a < naddrs; a++) {
			int fd = udp_socket(&addrs[a], err, errcap);
			if (fd < 0)
				goto fail;
			if (is_wildcard(&addrs[a]) && w->nfds < 64)
				w->wildcard |= 1ULL << w->nfds;
			w->fds[w->nfds++] = fd;
			ev.data.fd = fd;
			epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
		}
	}
	for (unsigned i = 0; i < workers; i++) {
		if (pthread_create(&u->w[i].thread, NULL, worker_main, &u->w[i]) != 0) {
			snprintf(err, errcap, "cannot start UDP worker %u", i);
			goto fail;
		}
		u->w[i].started = true;
	}
	return u;
nomem:
	snprintf(err, errcap, "out of memory starting the UDP workers");
fail:
	serve_udp_stop(u);
	return NULL;
}

void
serve_udp_stop(struct serve_udp *u)
{
	if (u == NULL)
		return;
	atomic_store(&serve_stopping, true);
	if (u->stopfd >= 0) {
		uint64_t one = 1;
		ssize_t wr = write(u->stopfd, &one, sizeof(one));
		(void)wr;
	}
	for (unsigned i = 0; u->w != NULL && i < u->nworkers; i++) {
		if (u->w[i].started)
			pthread_join(u->w[i].thread, NULL);
		worker_free(&u->w[i]);
	}
	if (u->stopfd >= 0)
		close(u->stopfd);
	free(u->w);
	free(u);
}
