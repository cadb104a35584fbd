/*
 * DNS over TCP framing (RFC 7766).  The client helpers block in poll() with
 * an absolute deadline, so a stuck peer costs at most the caller's timeout;
 * the server framing state never reads past the end of the current frame,
 * which keeps pipelined queries in the kernel buffer until their turn.
 */
#include "net/tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

bool
tcp_cancel_requested(int cancel_fd)
{
	if (cancel_fd < 0)
		return false;
	struct pollfd p = {.fd = cancel_fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

int
tcp_listen(const struct sockaddr *sa, socklen_t len, int backlog)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, len) != 0 || listen(fd, backlog) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Waits for `events` on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int
wait_fd(int fd, short events, int64_t deadline, int cancel_fd)
{
	for (;;) {
		int64_t left = deadline - tcp_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p[2] = {{.fd = fd, .events = events},
		                      {.fd = cancel_fd, .events = POLLIN}};
		int r = poll(p, cancel_fd >= 0 ? 2 : 1, left > 60000 ? 60000 : (int)left);
		if (r > 0 && cancel_fd >= 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int
tcp_connect(const struct sockaddr *sa, socklen_t len, int64_t deadline, int cancel_fd)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int ret = 0;
	if (connect(fd, sa, len) != 0) {
		if (errno != EINPROGRESS) {
			ret = -errno;
			goto out;
		}
		ret = wait_fd(fd, POLLOUT, deadline, cancel_fd);
		if (ret != 0)
			goto out;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			ret = -errno;
		else if (soerr != 0)
			ret = -soerr;
	}
out:
	if (ret != 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int
tcp_send_msg(int fd, const uint8_t *msg, size_t len, int64_t deadline, int cancel_fd)
{
	if (len > TCP_MSG_MAX)
		return -EMSGSIZE;
	uint8_t pfx[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	size_t total = len + 2, done = 0;
	while (done < total) {
		struct iovec iov[2];
		int n = 0;
		if (done < 2) {
			iov[n].iov_base = pfx + done;
			iov[n++].iov_len = 2 - done;
			iov[n].iov_base = (void *)(uintptr_t)msg;
			iov[n++].iov_len = len;
		} else {
			iov[n].iov_base = (void *)(uintptr_t)(msg + (done - 2));
			iov[n++].iov_len = total - done;
		}
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = wait_fd(fd, POLLOUT, deadline, cancel_fd);
			if (r != 0)
				return r;
			continue;
		}
		return w < 0 ? -errno : -EPIPE;
	}
	return 0;
}

/* Reads exactly n bytes before the deadline. */
static int
read_full(int fd, uint8_t *p, size_t n, int64_t deadline, int cancel_fd)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int w = wait_fd(fd, POLLIN, deadline, cancel_fd);
		if (w != 0)
			return w;
	}
	return 0;
}

ssize_t
tcp_recv_msg(int fd, uint8_t *buf, size_t cap, int64_t deadline, int cancel_fd)
{
	uint8_t pfx[2];
	int r = read_full(fd, pfx, 2, deadline, cancel_fd);
	if (r != 0)
		return r;
	size_t len = ((size_t)pfx[0] << 8) | pfx[1];
	if (len > cap)
		return -EMSGSIZE;
	r = read_full(fd, buf, len, deadline, cancel_fd);
	if (r != 0)
		return r;
	return (ssize_t)len;
}

void
tcp_frame_init(struct tcp_frame *f)
{
	f->body = NULL;
	f->cap = 0;
	f->have = 0;
}

void
tcp_frame_clear(struct tcp_frame *f)
{
	free(f->body);
	tcp_frame_init(f);
}

ssize_t
tcp_frame_len(const struct tcp_frame *f)
{
	if (f->have < 2)
		return -1;
	return (ssize_t)(((size_t)f->pfx[0] << 8) | f->pfx[1]);
}

/* Total bytes of the current frame once its prefix is known, else 2. */
static size_t
frame_want(const struct tcp_frame *f)
{
	ssize_t len = tcp_frame_len(f);
	return 2 + (len < 0 ? 0 : (size_t)len);
}

/* Where the next byte of the frame goes; grows the body for a known length. */
static uint8_t *
frame_dst(struct tcp_frame *f, size_t want)
{
	if (f->have < 2)
		return f->pfx + f->have;
	if (f->cap < want - 2) {
		uint8_t *b = realloc(f->body, want - 2);
		if (b == NULL)
			return NULL;
		f->body = b;
		f->cap = want - 2;
	}
	return f->body + (f->have - 2);
}

ssize_t
tcp_frame_read(struct tcp_frame *f, int fd)
{
	size_t want = frame_want(f);
	if (f->have >= 2 && f->have >= want)
		return -EAGAIN;   /* a whole message waits for tcp_frame_next() */
	uint8_t *dst = frame_dst(f, want);
	if (dst == NULL)
		return -ENOMEM;
	size_t room = want - f->have;
	for (;;) {
		ssize_t r = read(fd, dst, room);
		if (r > 0) {
			f->have += (size_t)r;
			return r;
		}
		if (r == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

int
tcp_frame_ready(const struct tcp_frame *f, const uint8_t **msg, size_t *len)
{
	if (f->have < 2 || f->have < frame_want(f))
		return 0;
	*msg = f->body != NULL ? f->body : f->pfx;   /* an empty first message has no body */
	*len = f->have - 2;
	return 1;
}

void
tcp_frame_next(struct tcp_frame *f)
{
	f->have = 0;
}

size_t
tcp_frame_pending(const struct tcp_frame *f)
{
	return f->have;
}
