/*
 * anycst-doq-test: a DoQ (RFC 9250) test server and client on net/quic, for
 * end-to-end tests (network namespaces with packet loss) and bench/xoq.sh.
 * A query for "nN-sS.test." is answered with N messages of S bytes whose
 * content is a fixed pattern, so the client checks every byte it gets.
 * The tcp-server / tcp-get modes do the same over TCP (RFC 7766 framing),
 * as the baseline the benchmark compares QUIC with.
 *
 *   anycst-doq-test server --listen ADDR --key FILE [--strict] [--workers N]
 *                   [--handshake-timeout MS] [--per-addr N] [--retry]
 *   anycst-doq-test get --remote ADDR (--pin PIN | --insecure) [-n N] [-s S]
 *                   [--id ID] [--parallel K] [--repeat R] [--alpn X] [--timeout MS]
 *   anycst-doq-test raw --remote ADDR --insecure --mode noprefix|extra|truncated
 *   anycst-doq-test flood --remote ADDR --count N
 *   anycst-doq-test tcp-server --listen ADDR
 *   anycst-doq-test tcp-get --remote ADDR [-n N] [-s S]
 *
 * Output is one line ("ready port=... pin=...", "ok messages=... bytes=...
 * ms=...", "error: ...") so scripts can parse it.  Exit 0 on success.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/addr.h"
#include "net/doq.h"
#include "net/quic.h"
#include "util/clock.h"
#include "util/log.h"

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint8_t
pat(unsigned i, size_t j)
{
	return (uint8_t)(i * 31u + j * 7u + (j >> 8));
}

static void
fill_msg(uint8_t *m, unsigned i, unsigned size)
{
	for (size_t j = 0; j < size; j++)
		m[j] = pat(i, j);
	m[2] = 0x84;
	m[3] = 0;
}

static size_t
make_query(uint8_t *q, unsigned n, unsigned size, uint16_t id)
{
	char lab[40];
	int l = snprintf(lab, sizeof(lab), "n%u-s%u", n, size);
	memset(q, 0, 12);
	doq_set_msg_id(q, 12, id);
	q[5] = 1;
	size_t o = 12;
	q[o++] = (uint8_t)l;
	memcpy(q + o, lab, (size_t)l);
	o += (size_t)l;
	memcpy(q + o, "\4test\0\0\xfc\0\1", 10);
	return o + 10;
}

static int
parse_query(const uint8_t *q, size_t len, unsigned *n, unsigned *size)
{
	if (len < 14 || q[12] == 0 || q[12] > 40 || (size_t)q[12] + 13 > len)
		return -1;
	char lab[48];
	memcpy(lab, q + 13, q[12]);
	lab[q[12]] = '\0';
	char *end;
	if (lab[0] != 'n')
		return -1;
	unsigned long nv = strtoul(lab + 1, &end, 10);
	if (strncmp(end, "-s", 2) != 0)
		return -1;
	unsigned long sv = strtoul(end + 2, &end, 10);
	if (*end != '\0' || sv < 12 || sv > 65535 || nv > 10000000)
		return -1;
	*n = (unsigned)nv;
	*size = (unsigned)sv;
	return 0;
}

static double
now_ms(void)
{
	return (double)clock_mono_ns() / 1e6;
}

/* -------------------------------------------------------------- arguments */

struct args {
	const char *cmd, *listen, *key, *remote, *pin, *alpn, *mode;
	bool insecure, strict, retry;
	unsigned n, s, id, parallel, repeat, timeout, workers, hs_timeout, per_addr, count;
};

static int
parse_uint(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > 0xffffffffUL)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->n = 1;
	a->s = 512;
	a->parallel = 1;
	a->repeat = 1;
	a->timeout = 60000;
	a->count = 1000;
	if (argc < 2)
		return -1;
	a->cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned *u = NULL;
		const char **str = NULL;
		if (strcmp(o, "--insecure") == 0) {
			a->insecure = true;
			continue;
		}
		if (strcmp(o, "--strict") == 0) {
			a->strict = true;
			continue;
		}
		if (strcmp(o, "--retry") == 0) {
			a->retry = true;
			continue;
		}
		if (strcmp(o, "--listen") == 0)
			str = &a->listen;
		else if (strcmp(o, "--key") == 0)
			str = &a->key;
		else if (strcmp(o, "--remote") == 0)
			str = &a->remote;
		else if (strcmp(o, "--pin") == 0)
			str = &a->pin;
		else if (strcmp(o, "--alpn") == 0)
			str = &a->alpn;
		else if (strcmp(o, "--mode") == 0)
			str = &a->mode;
		else if (strcmp(o, "-n") == 0)
			u = &a->n;
		else if (strcmp(o, "-s") == 0)
			u = &a->s;
		else if (strcmp(o, "--id") == 0)
			u = &a->id;
		else if (strcmp(o, "--parallel") == 0)
			u = &a->parallel;
		else if (strcmp(o, "--repeat") == 0)
			u = &a->repeat;
		else if (strcmp(o, "--timeout") == 0)
			u = &a->timeout;
		else if (strcmp(o, "--workers") == 0)
			u = &a->workers;
		else if (strcmp(o, "--handshake-timeout") == 0)
			u = &a->hs_timeout;
		else if (strcmp(o, "--per-addr") == 0)
			u = &a->per_addr;
		else if (strcmp(o, "--count") == 0)
			u = &a->count;
		if (v == NULL || (str == NULL && u == NULL)) {
			fprintf(stderr, "error: bad option %s\n", o);
			return -1;
		}
		if (str != NULL)
			*str = v;
		else if (parse_uint(v, u) != 0) {
			fprintf(stderr, "error: bad number for %s: %s\n", o, v);
			return -1;
		}
		i++;
	}
	if (a->s < 12 || a->s > 65535 || a->parallel == 0 || a->parallel > 1024 || a->id > 65535)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- server */

static void
handler(void *ctx, const struct quic_peer *peer, const uint8_t *q, size_t len,
        struct quic_reply *r)
{
	(void)peer;
	bool blocking = ctx != NULL;
	unsigned n, size;
	if (parse_query(q, len, &n, &size) != 0) {
		quic_reply_abort(r, DOQ_UNSPECIFIED_ERROR);
		return;
	}
	uint8_t *m = malloc(size);
	if (m == NULL) {
		quic_reply_abort(r, DOQ_INTERNAL_ERROR);
		return;
	}
	int ret = 0;
	for (unsigned i = 0; i < n && ret == 0; i++) {
		fill_msg(m, i, size);
		if (blocking)
			ret = quic_reply_wait(r, 4u << 20, 60000);
		if (ret == 0)
			ret = quic_reply_send(r, m, size);
	}
	free(m);
	if (ret == 0)
		quic_reply_end(r);
	else
		quic_reply_abort(r, DOQ_INTERNAL_ERROR);
}

static int
cmd_server(const struct args *a)
{
	struct quic_server_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = a->listen != NULL ? a->listen : "127.0.0.1:0";
	cfg.key_file = a->key;
	cfg.handler = handler;
	cfg.workers = a->workers;
	cfg.handler_ctx = a->workers > 0 ? (void *)&cfg : NULL;
	cfg.doq_strict = a->strict;
	cfg.retry_always = a->retry;
	cfg.handshake_timeout_ms = a->hs_timeout;
	cfg.max_conns_per_addr = a->per_addr;
	if (cfg.key_file == NULL) {
		fprintf(stderr, "error: --key is required\n");
		return 2;
	}
	struct quic_server *srv = NULL;
	int ret = quic_server_new(&cfg, &srv);
	if (ret != 0) {
		fprintf(stderr, "error: cannot start server: %s\n", strerror(-ret));
		return 1;
	}
	printf("ready port=%u pin=%s\n", quic_server_port(srv), quic_server_pin(srv));
	fflush(stdout);
	while (!stop_flag)
		usleep(50000);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	printf("stats conns_accepted=%llu conns_open=%llu conns_refused=%llu handshakes=%llu "
	       "handshake_failures=%llu retries=%llu streams=%llu stream_errors=%llu "
	       "bytes_tx=%llu bytes_rx=%llu pkts_tx=%llu pkts_lost=%llu\n",
	       (unsigned long long)st.conns_accepted, (unsigned long long)st.conns_open,
	       (unsigned long long)st.conns_refused, (unsigned long long)st.handshakes_done,
	       (unsigned long long)st.handshake_failures, (unsigned long long)st.retries_sent,
	       (unsigned long long)st.streams, (unsigned long long)st.stream_errors,
	       (unsigned long long)st.bytes_tx, (unsigned long long)st.bytes_rx,
	       (unsigned long long)st.pkts_tx, (unsigned long long)st.pkts_lost);
	fflush(stdout);
	quic_server_free(srv);
	return 0;
}

/* ---------------------------------------------------------------- client */

struct check {
	unsigned n, size, bad;
	uint16_t id;
	uint64_t bytes;
	char why[96];
};

static int
check_msg(void *ctx, const uint8_t *m, size_t len)
{
	struct check *c = ctx;
	if (len != c->size) {
		if (c->bad++ == 0)
			snprintf(c->why, sizeof(c->why), "message %u: %zu bytes, want %u", c->n, len,
			         c->size);
	} else if (doq_msg_id(m, len) != c->id) {
		if (c->bad++ == 0)
			snprintf(c->why, sizeof(c->why), "message %u: id %u, want %u", c->n,
			         doq_msg_id(m, len), c->id);
	} else {
		for (size_t j = 4; j < len; j++) {
			if (m[j] != pat(c->n, j)) {
				if (c->bad++ == 0)
					snprintf(c->why, sizeof(c->why), "message %u: byte %zu differs",
					         c->n, j);
				break;
			}
		}
	}
	c->n++;
	c->bytes += len;
	return 0;
}

struct worker {
	struct quic_client *cl;
	const struct args *a;
	int ret;
	struct check c;
	double *lat;            /* per-request milliseconds, `repeat` entries */
	unsigned nlat;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Prints " p50_ms=.. p99_ms=.." for `n` latencies (sorted in place). */
static void
print_latency(double *lat, unsigned n)
{
	if (n < 2)
		return;
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf(" p50_ms=%.3f p99_ms=%.3f", lat[n / 2], lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]);
}

/* One request on its own stream: every answer message through check_msg(). */
static int
fetch(struct quic_client *cl, const uint8_t *q, size_t ql, struct check *c, unsigned timeout)
{
	static _Thread_local uint8_t buf[65535];
	struct quic_stream *s;
	int ret = quic_stream_open(cl, q, ql, timeout, &s);
	if (ret != 0)
		return ret;
	for (;;) {
		ssize_t n = quic_stream_recv(s, buf, sizeof(buf), 0);
		if (n <= 0) {
			ret = (int)n;
			break;
		}
		ret = check_msg(c, buf, (size_t)n);
		if (ret != 0)
			break;
	}
	quic_stream_close(s);
	return ret;
}

static void *
get_worker(void *arg)
{
	struct worker *w = arg;
	uint8_t q[128];
	size_t ql = make_query(q, w->a->n, w->a->s, (uint16_t)w->a->id);
	for (unsigned r = 0; r < w->a->repeat && w->ret == 0; r++) {
		struct check c;
		memset(&c, 0, sizeof(c));
		c.size = w->a->s;
		c.id = (uint16_t)w->a->id;
		double t0 = now_ms();
		w->ret = fetch(w->cl, q, ql, &c, w->a->timeout);
		if (w->lat != NULL)
			w->lat[w->nlat++] = now_ms() - t0;
		if (w->ret == 0 && (c.bad != 0 || c.n != w->a->n)) {
			w->ret = -EBADMSG;
			if (c.why[0] == '\0')
				snprintf(c.why, sizeof(c.why), "%u messages, want %u", c.n, w->a->n);
		}
		w->c.n += c.n;
		w->c.bytes += c.bytes;
		if (c.why[0] != '\0')
			memcpy(w->c.why, c.why, sizeof(c.why));
	}
	return NULL;
}

static struct quic_client *
make_client(const struct args *a)
{
	struct quic_client_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.remote = a->remote;
	cfg.pin = a->pin;
	cfg.insecure = a->insecure;
	cfg.alpn = a->alpn;
	struct quic_client *cl = NULL;
	int ret = quic_client_new(&cfg, &cl);
	if (ret != 0) {
		printf("error: client: %s\n", ret == -EINVAL ? "bad --remote, or neither --pin nor "
		                                              "--insecure" : strerror(-ret));
		return NULL;
	}
	return cl;
}

static int
cmd_get(const struct args *a)
{
	struct quic_client *cl = make_client(a);
	if (cl == NULL)
		return 2;
	struct worker *w = calloc(a->parallel, sizeof(*w));
	pthread_t *t = calloc(a->parallel, sizeof(*t));
	if (w == NULL || t == NULL)
		return 2;
	double t0 = now_ms();
	for (unsigned i = 0; i < a->parallel; i++) {
		w[i].cl = cl;
		w[i].a = a;
		w[i].lat = a->repeat > 1 ? calloc(a->repeat, sizeof(double)) : NULL;
		pthread_create(&t[i], NULL, get_worker, &w[i]);
	}
	int ret = 0;
	uint64_t msgs = 0, bytes = 0;
	const char *why = NULL;
	for (unsigned i = 0; i < a->parallel; i++) {
		pthread_join(t[i], NULL);
		msgs += w[i].c.n;
		bytes += w[i].c.bytes;
		if (w[i].ret != 0 && ret == 0) {
			ret = w[i].ret;
			why = w[i].c.why[0] != '\0' ? w[i].c.why : NULL;
		}
	}
	double ms = now_ms() - t0;
	struct quic_stats st;
	quic_client_stats(cl, &st);
	if (ret == 0) {
		printf("ok messages=%llu bytes=%llu ms=%.1f connections=%llu lost=%llu",
		       (unsigned long long)msgs, (unsigned long long)bytes, ms,
		       (unsigned long long)st.conns_accepted, (unsigned long long)st.pkts_lost);
		if (w[0].lat != NULL)       /* the first request also paid the handshake */
			print_latency(w[0].lat + 1, w[0].nlat - 1);
		printf("\n");
	} else
		printf("error: %s%s%s\n", ret == -EBADMSG ? "bad answer" : strerror(-ret),
		       why ? ": " : "", why ? why : "");
	fflush(stdout);
	quic_client_free(cl);
	for (unsigned i = 0; i < a->parallel; i++)
		free(w[i].lat);
	free(w);
	free(t);
	return ret == 0 ? 0 : 1;
}

static int
cmd_raw(const struct args *a)
{
	struct quic_client *cl = make_client(a);
	if (cl == NULL)
		return 2;
	uint8_t q[128], buf[300];
	size_t ql = make_query(q, 1, 100, 0);
	uint8_t pre[2] = { 0, (uint8_t)ql };
	int ret;
	const char *mode = a->mode != NULL ? a->mode : "";
	if (strcmp(mode, "noprefix") == 0) {
		ret = quic_debug_raw(cl, q, ql, NULL, 0, a->timeout);
	} else if (strcmp(mode, "extra") == 0) {
		memcpy(buf, q, ql);
		memcpy(buf + ql, "\0\0\0", 3);
		ret = quic_debug_raw(cl, pre, 2, buf, ql + 3, a->timeout);
	} else if (strcmp(mode, "truncated") == 0) {
		ret = quic_debug_raw(cl, pre, 2, q, ql - 4, a->timeout);
	} else if (strcmp(mode, "good") == 0) {
		ret = quic_debug_raw(cl, pre, 2, q, ql, a->timeout);
	} else {
		printf("error: --mode noprefix|extra|truncated|good\n");
		quic_client_free(cl);
		return 2;
	}
	if (ret > 0)
		printf("closed %s\n", doq_error_str((uint64_t)ret));
	else if (ret == 0)
		printf("ok answered\n");
	else
		printf("error: %s\n", strerror(-ret));
	fflush(stdout);
	quic_client_free(cl);
	return 0;
}

static int
cmd_flood(const struct args *a)
{
	int n = quic_debug_half_open(a->remote, a->count);
	if (n < 0) {
		printf("error: %s\n", strerror(-n));
		return 1;
	}
	printf("ok sent=%d\n", n);
	return 0;
}

/* ---------------------------------------------------------------- TCP baseline */

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
tcp_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t q[65535 + 2], *m = malloc(65537);
	uint8_t h[2];
	while (m != NULL && read_all(fd, h, 2) == 0) {
		size_t ql = ((size_t)h[0] << 8) | h[1];
		unsigned n, size;
		if (read_all(fd, q, ql) != 0 || parse_query(q, ql, &n, &size) != 0)
			break;
		int ok = 0;
		for (unsigned i = 0; i < n && ok == 0; i++) {
			fill_msg(m + 2, i, size);
			(void)doq_prefix(m, size);
			m[2] = q[0];
			m[3] = q[1];
			ok = write_all(fd, m, size + 2);
		}
	}
	free(m);
	close(fd);
	return NULL;
}

static int
cmd_tcp_server(const struct args *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (addr_parse(a->listen != NULL ? a->listen : "127.0.0.1:0", 5300, &ss, &len) != 0)
		return 2;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
		printf("error: %s\n", strerror(errno));
		return 1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	printf("ready port=%u\n", addr_port((struct sockaddr *)&ss));
	fflush(stdout);
	while (!stop_flag) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		pthread_t t;
		pthread_create(&t, NULL, tcp_conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
	close(fd);
	return 0;
}

static int
cmd_tcp_get(const struct args *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (a->remote == NULL || addr_parse(a->remote, 5300, &ss, &len) != 0)
		return 2;
	double t0 = now_ms();
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = a->timeout / 1000, .tv_usec = 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
		printf("error: connect: %s\n", strerror(errno));
		return 1;
	}
	uint8_t q[130], *m = malloc(65535);
	size_t ql = make_query(q + 2, a->n, a->s, (uint16_t)a->id);
	(void)doq_prefix(q, ql);
	struct check c;
	memset(&c, 0, sizeof(c));
	c.size = a->s;
	c.id = (uint16_t)a->id;
	int ret = 0;
	double *lat = calloc(a->repeat, sizeof(double));
	unsigned nlat = 0;
	for (unsigned r = 0; r < a->repeat && ret == 0; r++) {
		double r0 = now_ms();
		if (write_all(fd, q, ql + 2) != 0) {
			ret = -1;
			break;
		}
		for (unsigned i = 0; i < a->n; i++) {
			uint8_t h[2];
			if (read_all(fd, h, 2) != 0 || read_all(fd, m, ((size_t)h[0] << 8) | h[1]) != 0) {
				ret = -1;
				break;
			}
			c.n = i;
			check_msg(&c, m, ((size_t)h[0] << 8) | h[1]);
		}
		if (lat != NULL)
			lat[nlat++] = now_ms() - r0;
	}
	double ms = now_ms() - t0;
	close(fd);
	free(m);
	if (ret == 0 && c.bad == 0) {
		printf("ok messages=%u bytes=%llu ms=%.1f", a->n * a->repeat,
		       (unsigned long long)c.bytes, ms);
		if (lat != NULL && a->repeat > 1)
			print_latency(lat + 1, nlat - 1);
		printf("\n");
	} else
		printf("error: %s\n", c.why[0] ? c.why : "connection lost");
	free(lat);
	return ret == 0 && c.bad == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct args a;
	if (parse_args(argc, argv, &a) != 0) {
		fprintf(stderr, "usage: anycst-doq-test server|get|raw|flood|tcp-server|tcp-get "
		                "[options] (see tools/anycst-doq-test.c)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (strcmp(a.cmd, "server") == 0)
		return cmd_server(&a);
	if (a.remote == NULL && strcmp(a.cmd, "tcp-server") != 0) {
		fprintf(stderr, "error: --remote is required\n");
		return 2;
	}
	if (strcmp(a.cmd, "get") == 0)
		return cmd_get(&a);
	if (strcmp(a.cmd, "raw") == 0)
		return cmd_raw(&a);
	if (strcmp(a.cmd, "flood") == 0)
		return cmd_flood(&a);
	if (strcmp(a.cmd, "tcp-server") == 0)
		return cmd_tcp_server(&a);
	if (strcmp(a.cmd, "tcp-get") == 0)
		return cmd_tcp_get(&a);
	fprintf(stderr, "error: unknown command %s\n", a.cmd);
	return 2;
}
