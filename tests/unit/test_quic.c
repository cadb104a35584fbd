/*
 * net/quic (quic_*.c) over loopback: a test server whose handler answers a query
 * for "nN-sS.test." with N messages of S bytes (deterministic content), and
 * the client: 1 and 100 messages, a 10 MB answer, parallel streams on one
 * connection, off-thread replies, pins, ALPN, message ids and strict mode,
 * framing errors, handshakes that never finish, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "net/doq.h"
#include "net/quic.h"

static char keydir[64];
static char keyfile[128];

/* ---------------------------------------------------------------- answers */

static uint8_t
pat(unsigned i, size_t j)
{
	return (uint8_t)(i * 31u + j * 7u + (j >> 8));
}

/* Builds a query for "nN-sS.test." with message id `id`. */
static size_t
make_query(uint8_t *q, unsigned n, unsigned size, uint16_t id)
{
	char lab[32];
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
parse_query(const uint8_t *q, size_t len, unsigned *n, unsigned *size, bool *threaded)
{
	if (len < 14 || q[12] == 0 || (size_t)q[12] + 13 > len)
		return -1;
	char lab[64];
	memcpy(lab, q + 13, q[12]);
	lab[q[12]] = '\0';
	*threaded = lab[0] == 't';
	char *p = lab + (*threaded ? 1 : 0);
	char *end;
	if (*p != 'n')
		return -1;
	*n = (unsigned)strtoul(p + 1, &end, 10);
	if (strncmp(end, "-s", 2) != 0)
		return -1;
	*size = (unsigned)strtoul(end + 2, &end, 10);
	return *size >= 12 && *size <= 65535 ? 0 : -1;
}

static void
fill_msg(uint8_t *m, unsigned i, unsigned size)
{
	for (size_t j = 0; j < size; j++)
		m[j] = pat(i, j);
	m[2] = 0x84;    /* QR AA */
	m[3] = 0;
}

struct job {
	struct quic_reply *r;
	unsigned n, size;
};

static void *
job_thread(void *arg)
{
	struct job *j = arg;
	uint8_t *m = malloc(j->size);
	for (unsigned i = 0; i < j->n; i++) {
		fill_msg(m, i, j->size);
		if (quic_reply_send(j->r, m, j->size) != 0)
			break;
		if (i % 16 == 0)
			usleep(1000);
	}
	quic_reply_end(j->r);
	free(m);
	free(j);
	return NULL;
}

static size_t max_backlog_seen;

static void
handler(void *ctx, const struct quic_peer *peer, const uint8_t *q, size_t len,
        struct quic_reply *r)
{
	(void)peer;
	unsigned n, size;
	bool threaded;
	if (parse_query(q, len, &n, &size, &threaded) != 0) {
		quic_reply_abort(r, DOQ_UNSPECIFIED_ERROR);
		return;
	}
	if (ctx != NULL) {
		/* worker mode: block on flow control like a transfer producer */
		uint8_t *m = malloc(size);
		int ret = 0;
		for (unsigned i = 0; i < n && ret == 0; i++) {
			fill_msg(m, i, size);
			ret = quic_reply_wait(r, 1 << 20, 30000);
			if (ret == 0) {
				/* what a producer let through the wait; two
				 * workers record it, so atomically */
				size_t b = quic_reply_backlog(r);
				size_t seen = __atomic_load_n(&max_backlog_seen, __ATOMIC_RELAXED);
				while (b > seen &&
				       !__atomic_compare_exchange_n(&max_backlog_seen, &seen, b, false,
				                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
					;
				ret = quic_reply_send(r, m, size);
			}
		}
		free(m);
		if (ret == 0)
			quic_reply_end(r);
		else
			quic_reply_abort(r, DOQ_INTERNAL_ERROR);
		return;
	}
	if (threaded) {
		struct job *j = malloc(sizeof(*j));
		j->r = r;
		j->n = n;
		j->size = size;
		pthread_t t;
		pthread_create(&t, NULL, job_thread, j);
		pthread_detach(t);
		return;
	}
	uint8_t *m = malloc(size);
	for (unsigned i = 0; i < n; i++) {
		fill_msg(m, i, size);
		assert_int_equal(quic_reply_send(r, m, size), 0);
	}
	free(m);
	quic_reply_end(r);
}

/* Checks every message against the pattern; counts. */
struct got {
	unsigned n;
	size_t bytes;
	unsigned bad;
	uint16_t want_id;
	unsigned size;
};

static int
on_msg(void *ctx, const uint8_t *m, size_t len)
{
	struct got *g = ctx;
	if (len != g->size || doq_msg_id(m, len) != g->want_id)
		g->bad++;
	for (size_t j = 4; j < len; j++) {
		if (m[j] != pat(g->n, j)) {
			g->bad++;
			break;
		}
	}
	g->n++;
	g->bytes += len;
	return 0;
}

/* ---------------------------------------------------------------- fixture */

static struct quic_server *
server(const struct quic_server_cfg *extra)
{
	struct quic_server_cfg cfg;
	if (extra != NULL)
		cfg = *extra;
	else
		memset(&cfg, 0, sizeof(cfg));
	if (cfg.listen == NULL)
		cfg.listen = "127.0.0.1:0";
	cfg.key_file = keyfile;
	cfg.handler = handler;
	struct quic_server *srv = NULL;
	assert_int_equal(quic_server_new(&cfg, &srv), 0);
	return srv;
}

static struct quic_client *
client(struct quic_server *srv, const char *pin, bool insecure, const char *alpn)
{
	char remote[64];
	snprintf(remote, sizeof(remote), "127.0.0.1:%u", quic_server_port(srv));
	struct quic_client_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.remote = remote;
	cfg.pin = pin;
	cfg.insecure = insecure;
	cfg.alpn = alpn;
	cfg.handshake_timeout_ms = 3000;
	struct quic_client *cl = NULL;
	assert_int_equal(quic_client_new(&cfg, &cl), 0);
	return cl;
}

/* Reads every answer message of `s` through `fn`, closes it: 0 after the FIN, or the status. */
static int
drain(struct quic_stream *s, int (*fn)(void *, const uint8_t *, size_t), void *ctx)
{
	static uint8_t buf[65535];
	int ret;
	for (;;) {
		ssize_t n = quic_stream_recv(s, buf, sizeof(buf), 0);
		if (n <= 0) {
			ret = (int)n;
			break;
		}
		ret = fn(ctx, buf, (size_t)n);
		if (ret != 0)
			break;
	}
	quic_stream_close(s);
	return ret;
}

/* One request, read to its end. */
static int
request(struct quic_client *cl, const uint8_t *q, size_t ql,
        int (*fn)(void *, const uint8_t *, size_t), void *ctx)
{
	struct quic_stream *s;
	int ret = quic_stream_open(cl, q, ql, 20000, &s);
	if (ret != 0)
		return ret;
	return drain(s, fn, ctx);
}

static int
get(struct quic_client *cl, unsigned n, unsigned size, uint16_t id, struct got *g)
{
	uint8_t q[128];
	size_t ql = make_query(q, n, size, id);
	memset(g, 0, sizeof(*g));
	g->want_id = id;
	g->size = size;
	return request(cl, q, ql, on_msg, g);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(keydir, sizeof(keydir), "/tmp/test_quic.XXXXXX");
	assert_non_null(mkdtemp(keydir));
	snprintf(keyfile, sizeof(keyfile), "%s/tls.key", keydir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(keyfile);
	rmdir(keydir);
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void
test_quic_stats_prometheus(void **state)
{
	(void)state;
	struct quic_stats st;
	memset(&st, 0, sizeof(st));
	st.conns_accepted = 7;
	st.conns_open = 2;
	st.pkts_lost = 123456789012ULL;
	char buf[4096];
	int n = quic_stats_prometheus(&st, "anycst", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, "\nanycst_quic_conns_accepted_total 7\n"));
	assert_non_null(strstr(buf, "# TYPE anycst_quic_conns_open gauge\nanycst_quic_conns_open 2\n"));
	assert_non_null(strstr(buf, "anycst_quic_packets_lost_total 123456789012\n"));
	assert_non_null(strstr(buf, "anycst_quic_handshake_failures_total 0\n"));
	assert_int_equal(quic_stats_prometheus(&st, "anycst", buf, 100), -ENOSPC);
}

static void
test_quic_key_and_pin(void **state)
{
	(void)state;
	char p1[QUIC_PIN_LEN], p2[QUIC_PIN_LEN];
	unlink(keyfile);
	assert_int_equal(quic_spki_pin(keyfile, p1), 0);
	struct stat st;
	assert_int_equal(stat(keyfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strlen(p1), 44);
	assert_int_equal(p1[43], '=');
	assert_int_equal(quic_spki_pin(keyfile, p2), 0);
	assert_string_equal(p1, p2);            /* stable across loads */
	/* the pin equals what the server serves and what a client sees */
	struct quic_server *srv = server(NULL);
	assert_string_equal(quic_server_pin(srv), p1);
	struct quic_client *cl = client(srv, p1, false, NULL);
	struct got g;
	assert_int_equal(get(cl, 1, 100, 0, &g), 0);
	char seen[QUIC_PIN_LEN];
	quic_client_peer_pin(cl, seen);
	assert_string_equal(seen, p1);
	quic_client_free(cl);
	quic_server_free(srv);
	/* a garbled key file is refused */
	char bad[160];
	snprintf(bad, sizeof(bad), "%s/bad.key", keydir);
	FILE *f = fopen(bad, "w");
	fputs("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	assert_int_equal(quic_spki_pin(bad, p2), -EINVAL);
	unlink(bad);
}

static void
test_quic_one_and_hundred_messages(void **state)
{
	(void)state;
	struct quic_server *srv = server(NULL);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	struct got g;
	assert_int_equal(get(cl, 1, 300, 0, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.bad, 0);
	assert_int_equal(get(cl, 100, 1000, 0, &g), 0);
	assert_int_equal(g.n, 100);
	assert_int_equal(g.bytes, 100000);
	assert_int_equal(g.bad, 0);
	/* answers built on another thread, with pauses */
	uint8_t q[128];
	size_t ql = make_query(q, 60, 700, 0);
	memmove(q + 14, q + 13, ql - 13);       /* "n60-s700" -> "tn60-s700" */
	q[13] = 't';
	q[12]++;
	ql++;
	memset(&g, 0, sizeof(g));
	g.size = 700;
	assert_int_equal(request(cl, q, ql, on_msg, &g), 0);
	assert_int_equal(g.n, 60);
	assert_int_equal(g.bad, 0);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.conns_accepted, 1); /* one connection kept for all requests */
	assert_int_equal(st.streams, 3);
	assert_true(st.bytes_tx > 100000 + 60 * 700);
	quic_client_free(cl);
	quic_server_free(srv);
}

static void
test_quic_ten_megabytes(void **state)
{
	(void)state;
	struct quic_server *srv = server(NULL);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	struct got g;
	assert_int_equal(get(cl, 200, 50000, 0, &g), 0);
	assert_int_equal(g.n, 200);
	assert_int_equal(g.bytes, 10000000);
	assert_int_equal(g.bad, 0);
	quic_client_free(cl);
	quic_server_free(srv);
}

struct par {
	unsigned done, ok;
	struct got g[64];
};

static int
par_msg(void *ctx, const uint8_t *m, size_t len)
{
	return on_msg(ctx, m, len);
}

static void
test_quic_parallel_streams(void **state)
{
	(void)state;
	struct quic_server_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_streams = 16;   /* fewer than the requests: streams must be reused */
	struct quic_server *srv = server(&cfg);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	struct par *p = calloc(1, sizeof(*p));
	struct quic_stream *s[64];
	/* all 64 requests in flight at once, then each answer read */
	for (unsigned i = 0; i < 64; i++) {
		uint8_t q[128];
		size_t ql = make_query(q, 20, 2000 + i, 0);
		p->g[i].size = 2000 + i;
		assert_int_equal(quic_stream_open(cl, q, ql, 0, &s[i]), 0);
	}
	for (unsigned i = 0; i < 64; i++) {
		int status = drain(s[i], par_msg, &p->g[i]);
		p->done++;
		if (status == 0 && p->g[i].bad == 0 && p->g[i].n == 20)
			p->ok++;
	}
	assert_int_equal(p->done, 64);
	assert_int_equal(p->ok, 64);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.conns_accepted, 1);
	assert_int_equal(st.streams, 64);
	quic_client_free(cl);
	quic_server_free(srv);
	free(p);
}


static void
test_quic_thousand_transfers_one_connection(void **state)
{
	(void)state;
	/* a catalog of 1,000 zones: every transfer on one connection */
	struct quic_server *srv = server(NULL);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	struct got *g = calloc(1000, sizeof(*g));
	struct quic_stream **s = calloc(1000, sizeof(*s));
	unsigned k_done = 0, k_ok = 0;
	/* all 1,000 requests in flight at once, then each answer read */
	for (unsigned i = 0; i < 1000; i++) {
		uint8_t q[128];
		size_t ql = make_query(q, 2, 200 + i, 0);
		g[i].size = 200 + i;
		assert_int_equal(quic_stream_open(cl, q, ql, 0, &s[i]), 0);
	}
	for (unsigned i = 0; i < 1000; i++) {
		int status = drain(s[i], on_msg, &g[i]);
		k_done++;
		if (status == 0 && g[i].n == 2 && g[i].bad == 0)
			k_ok++;
	}
	free(s);
	assert_int_equal(k_done, 1000);
	assert_int_equal(k_ok, 1000);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.conns_accepted, 1);
	assert_int_equal(st.streams, 1000);
	quic_client_free(cl);
	quic_server_free(srv);
	free(g);
}

static void
test_quic_stream_pull_and_cancel(void **state)
{
	(void)state;
	struct quic_server *srv = server(NULL);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	uint8_t q[128], buf[65535];
	size_t ql = make_query(q, 5, 3000, 0);
	struct quic_stream *s = NULL;
	assert_int_equal(quic_stream_open(cl, q, ql, 10000, &s), 0);
	for (unsigned i = 0; i < 5; i++) {
		ssize_t n = quic_stream_recv(s, buf, sizeof(buf), 5000);
		assert_int_equal(n, 3000);
		assert_int_equal(buf[100], pat(i, 100));
	}
	assert_int_equal(quic_stream_recv(s, buf, sizeof(buf), 5000), 0);       /* FIN */
	quic_stream_close(s);
	/* too small a buffer */
	assert_int_equal(quic_stream_open(cl, q, ql, 10000, &s), 0);
	assert_int_equal(quic_stream_recv(s, buf, 100, 5000), -EMSGSIZE);
	quic_stream_close(s);
	/* close in the middle of a 10 MB answer: cancelled, the connection stays */
	ql = make_query(q, 200, 50000, 0);
	assert_int_equal(quic_stream_open(cl, q, ql, 10000, &s), 0);
	assert_int_equal(quic_stream_recv(s, buf, sizeof(buf), 5000), 50000);
	quic_stream_close(s);
	struct got g;
	assert_int_equal(get(cl, 3, 500, 0, &g), 0);
	assert_int_equal(g.n, 3);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.conns_accepted, 1);
	/* the server resets the stream with a DoQ error */
	ql = make_query(q, 1, 100, 0);
	q[13] = 'x';    /* unparsable: the test handler aborts with DOQ_UNSPECIFIED_ERROR */
	assert_int_equal(quic_stream_open(cl, q, ql, 10000, &s), 0);
	assert_int_equal(quic_stream_recv(s, buf, sizeof(buf), 5000), -EPROTO);
	assert_int_equal(quic_stream_app_error(s), DOQ_UNSPECIFIED_ERROR);
	quic_stream_close(s);
	quic_client_free(cl);
	quic_server_free(srv);
}

static void
test_quic_workers_backpressure(void **state)
{
	(void)state;
	static int worker_mode = 1;
	struct quic_server_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = 2;
	cfg.handler_ctx = &worker_mode;
	cfg.listen = "[::1]:0";                 /* and over IPv6 */
	struct quic_server *srv = server(&cfg);
	char remote[64];
	snprintf(remote, sizeof(remote), "[::1]:%u", quic_server_port(srv));
	struct quic_client_cfg cc;
	memset(&cc, 0, sizeof(cc));
	cc.remote = remote;
	cc.pin = quic_server_pin(srv);
	struct quic_client *cl = NULL;
	assert_int_equal(quic_client_new(&cc, &cl), 0);
	max_backlog_seen = 0;
	struct got g;
	assert_int_equal(get(cl, 200, 50000, 0, &g), 0);
	assert_int_equal(g.n, 200);
	assert_int_equal(g.bad, 0);
	assert_true(__atomic_load_n(&max_backlog_seen, __ATOMIC_RELAXED) <= (1 << 20));
	assert_true(__atomic_load_n(&max_backlog_seen, __ATOMIC_RELAXED) > 0);
	/* a server going away under a blocked producer releases it */
	uint8_t q[128];
	size_t ql = make_query(q, 400, 60000, 0);
	struct quic_stream *s = NULL;
	assert_int_equal(quic_stream_open(cl, q, ql, 10000, &s), 0);
	uint8_t buf[65535];
	assert_int_equal(quic_stream_recv(s, buf, sizeof(buf), 5000), 60000);
	quic_server_free(srv);
	quic_stream_close(s);
	quic_client_free(cl);
}

static void
test_quic_keepalive(void **state)
{
	(void)state;
	struct quic_server_cfg scfg;
	memset(&scfg, 0, sizeof(scfg));
	scfg.idle_timeout_ms = 400;
	struct quic_server *srv = server(&scfg);
	char remote[64];
	snprintf(remote, sizeof(remote), "127.0.0.1:%u", quic_server_port(srv));
	for (int ka = 1; ka >= 0; ka--) {
		struct quic_client_cfg cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.remote = remote;
		cfg.pin = quic_server_pin(srv);
		cfg.idle_timeout_ms = 400;
		cfg.no_keepalive = !ka;
		struct quic_client *cl = NULL;
		assert_int_equal(quic_client_new(&cfg, &cl), 0);
		struct got g;
		assert_int_equal(get(cl, 1, 100, 0, &g), 0);
		usleep(1500000);        /* idle well past the idle timeout */
		assert_int_equal(get(cl, 1, 100, 0, &g), 0);
		struct quic_stats st;
		quic_client_stats(cl, &st);
		/* with keep-alive the same connection carried both; without, a new one */
		assert_int_equal(st.conns_accepted, ka ? 1 : 2);
		quic_client_free(cl);
	}
	quic_server_free(srv);
}

/* A server in a child process, so that it can die by SIGKILL (no CONNECTION_CLOSE). */
static pid_t
server_child(const char *key, uint16_t *port)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlives the test */
		close(pfd[0]);
		char listen[32];
		snprintf(listen, sizeof(listen), "127.0.0.1:%u", *port);
		struct quic_server_cfg cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.listen = listen;
		cfg.key_file = key;
		cfg.handler = handler;
		struct quic_server *srv = NULL;
		if (quic_server_new(&cfg, &srv) != 0)
			_exit(1);
		uint16_t p = quic_server_port(srv);
		if (write(pfd[1], &p, sizeof(p)) != (ssize_t)sizeof(p))
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	uint16_t p = 0;
	assert_int_equal(read(pfd[0], &p, sizeof(p)), (ssize_t)sizeof(p));
	close(pfd[0]);
	*port = p;
	return pid;
}

static void
kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static double
mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Issue 13.2: the server is killed and restarted with the same key.  Its
 * stateless reset (token from the key-derived secret) ends the client's old
 * connection at the next packet, and the request goes out again at once on
 * a new connection, instead of waiting for the idle timeout.
 */
static void
test_quic_restarted_server_resets(void **state)
{
	(void)state;
	uint16_t port = 0;
	pid_t pid = server_child(keyfile, &port);
	char pin[QUIC_PIN_LEN];
	assert_int_equal(quic_spki_pin(keyfile, pin), 0);
	char remote[64];
	snprintf(remote, sizeof(remote), "127.0.0.1:%u", port);
	struct quic_client_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.remote = remote;
	cfg.pin = pin;
	struct quic_client *cl = NULL;
	assert_int_equal(quic_client_new(&cfg, &cl), 0);
	struct got g;
	assert_int_equal(get(cl, 1, 100, 0, &g), 0);
	kill_child(pid);
	pid = server_child(keyfile, &port);
	double t0 = mono_s();
	assert_int_equal(get(cl, 2, 100, 0, &g), 0);
	assert_int_equal(g.n, 2);
	assert_true(mono_s() - t0 < 1.5);
	struct quic_stats st;
	quic_client_stats(cl, &st);
	assert_int_equal(st.stateless_resets, 1);
	assert_int_equal(st.conns_accepted, 2);
	quic_client_free(cl);
	kill_child(pid);
}

/*
 * A restarted server that cannot reset the connection (another key): after
 * quic_client_server_alive() (a NOTIFY came) a connection silent for longer
 * than the keep-alive interval is dropped and the request goes out at once
 * on a new one.
 */
static void
test_quic_server_alive_drops_silent_connection(void **state)
{
	(void)state;
	uint16_t port = 0;
	pid_t pid = server_child(keyfile, &port);
	char remote[64];
	snprintf(remote, sizeof(remote), "127.0.0.1:%u", port);
	struct quic_client_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.remote = remote;
	cfg.insecure = true;
	struct quic_client *cl = NULL;
	assert_int_equal(quic_client_new(&cfg, &cl), 0);
	struct got g;
	assert_int_equal(get(cl, 1, 100, 0, &g), 0);
	kill_child(pid);
	char key2[160];
	snprintf(key2, sizeof(key2), "%s/other.key", keydir);
	pid = server_child(key2, &port);
	usleep(4000000);   /* past keep-alive (2.5 s) + 1 s, before the idle timeout (10 s) */
	quic_client_server_alive(cl);
	double t0 = mono_s();
	assert_int_equal(get(cl, 3, 100, 0, &g), 0);
	assert_int_equal(g.n, 3);
	assert_true(mono_s() - t0 < 1.5);
	/* At once after the restart (no keep-alive lost yet): the request itself
	 * goes unanswered, and two probe timeouts later the connection is dropped. */
	kill_child(pid);
	pid = server_child(keyfile, &port);
	quic_client_server_alive(cl);
	t0 = mono_s();
	assert_int_equal(get(cl, 4, 100, 0, &g), 0);
	assert_int_equal(g.n, 4);
	assert_true(mono_s() - t0 < 2.5);
	struct quic_stats st;
	quic_client_stats(cl, &st);
	assert_int_equal(st.stateless_resets, 0);
	assert_int_equal(st.conns_accepted, 3);
	quic_client_free(cl);
	kill_child(pid);
	unlink(key2);
}

static void
test_quic_pin_checks(void **state)
{
	(void)state;
	struct quic_server *srv = server(NULL);
	struct got g;
	/* wrong pin: refused during the handshake */
	struct quic_client *cl = client(srv, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", false,
	                                NULL);
	assert_int_equal(get(cl, 1, 100, 0, &g), -ECONNREFUSED);
	assert_int_equal(g.n, 0);
	quic_client_free(cl);
	/* insecure: accepted (with a warning) */
	cl = client(srv, NULL, true, NULL);
	assert_int_equal(get(cl, 1, 100, 0, &g), 0);
	assert_int_equal(g.n, 1);
	quic_client_free(cl);
	/* neither pin nor insecure: the client refuses to exist */
	struct quic_client_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.remote = "127.0.0.1:853";
	assert_int_equal(quic_client_new(&cfg, &cl), -EINVAL);
	/* server side counted one failed handshake */
	for (int i = 0; i < 100; i++) {
		struct quic_stats st;
		quic_server_stats(srv, &st);
		if (st.handshake_failures >= 1)
			break;
		usleep(10000);
	}
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.handshake_failures, 1);
	quic_server_free(srv);
}

static void
test_quic_wrong_alpn(void **state)
{
	(void)state;
	struct quic_server *srv = server(NULL);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, "dot");
	struct got g;
	assert_int_equal(get(cl, 1, 100, 0, &g), -ECONNREFUSED);
	quic_client_free(cl);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.handshakes_done, 0);
	assert_int_equal(st.handshake_failures, 1);
	/* and a good client still gets served */
	cl = client(srv, quic_server_pin(srv), false, NULL);
	assert_int_equal(get(cl, 2, 100, 0, &g), 0);
	assert_int_equal(g.n, 2);
	quic_client_free(cl);
	quic_server_free(srv);
}

static void
test_quic_message_id(void **state)
{
	(void)state;
	struct quic_server *srv = server(NULL);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	struct got g;
	/* Knot 3.3+ style: a non-zero id is echoed in every answer */
	assert_int_equal(get(cl, 3, 200, 0xbeef, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.bad, 0);
	quic_client_free(cl);
	quic_server_free(srv);

	struct quic_server_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.doq_strict = true;
	srv = server(&cfg);
	cl = client(srv, quic_server_pin(srv), false, NULL);
	assert_int_equal(get(cl, 1, 200, 0, &g), 0);            /* id 0 fine */
	assert_int_equal(g.n, 1);
	uint8_t q[128];
	size_t ql = make_query(q, 1, 200, 0x1234);
	assert_int_equal(quic_debug_raw(cl, (const uint8_t[]){ 0, (uint8_t)ql }, 2, q, ql, 5000),
	                 DOQ_PROTOCOL_ERROR);
	/* the client reconnects for the next request */
	assert_int_equal(get(cl, 1, 200, 0, &g), 0);
	quic_client_free(cl);
	quic_server_free(srv);
}

static void
test_quic_framing_errors(void **state)
{
	(void)state;
	struct quic_server *srv = server(NULL);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	uint8_t q[128];
	size_t ql = make_query(q, 1, 100, 0);
	uint8_t pre[2] = { 0, (uint8_t)ql };
	/* well-formed raw request: answered and closed with FIN */
	assert_int_equal(quic_debug_raw(cl, pre, 2, q, ql, 5000), 0);
	/* a stream without the length prefix */
	assert_int_equal(quic_debug_raw(cl, q, ql, NULL, 0, 5000), DOQ_PROTOCOL_ERROR);
	/* data after the query (a second message before FIN) */
	uint8_t two[260];
	memcpy(two, pre, 2);
	memcpy(two + 2, q, ql);
	memcpy(two + 2 + ql, pre, 2);
	memcpy(two + 4 + ql, q, ql);
	assert_int_equal(quic_debug_raw(cl, two, 4 + 2 * ql, NULL, 0, 5000), DOQ_PROTOCOL_ERROR);
	/* a message truncated by FIN */
	assert_int_equal(quic_debug_raw(cl, pre, 2, q, ql - 5, 5000), DOQ_PROTOCOL_ERROR);
	/* the server still serves */
	struct got g;
	assert_int_equal(get(cl, 5, 100, 0, &g), 0);
	assert_int_equal(g.n, 5);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_true(st.stream_errors >= 3);
	quic_client_free(cl);
	quic_server_free(srv);
}

static void
test_quic_retry_always(void **state)
{
	(void)state;
	struct quic_server_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.retry_always = true;        /* every new address is validated with Retry */
	struct quic_server *srv = server(&cfg);
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	struct got g;
	assert_int_equal(get(cl, 4, 1000, 0, &g), 0);
	assert_int_equal(g.n, 4);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.retries_sent, 1);
	assert_int_equal(st.conns_accepted, 1);
	assert_int_equal(st.handshakes_done, 1);
	quic_client_free(cl);
	quic_server_free(srv);
}

static void
test_quic_half_open_flood(void **state)
{
	(void)state;
	struct quic_server_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.handshake_timeout_ms = 1000;
	cfg.retry_threshold = 32;
	struct quic_server *srv = server(&cfg);
	char remote[64];
	snprintf(remote, sizeof(remote), "127.0.0.1:%u", quic_server_port(srv));
	assert_int_equal(quic_debug_half_open(remote, 1000), 1000);
	/* a good client is served while the flood is pending (via Retry) */
	struct quic_client *cl = client(srv, quic_server_pin(srv), false, NULL);
	struct got g;
	assert_int_equal(get(cl, 10, 1000, 0, &g), 0);
	assert_int_equal(g.n, 10);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_true(st.retries_sent >= 900);    /* state only for the first few */
	assert_true(st.conns_open <= 40);
	/* the handshake timeout reclaims the half-open connections */
	for (int i = 0; i < 60; i++) {
		quic_server_stats(srv, &st);
		if (st.conns_open == 1)
			break;
		usleep(100000);
	}
	assert_int_equal(st.conns_open, 1);
	assert_true(st.handshake_failures >= 32);
	assert_int_equal(get(cl, 1, 100, 0, &g), 0);
	quic_client_free(cl);
	quic_server_free(srv);
}

static void
test_quic_connection_limit(void **state)
{
	(void)state;
	struct quic_server_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_conns_per_addr = 2;
	struct quic_server *srv = server(&cfg);
	struct quic_client *c1 = client(srv, quic_server_pin(srv), false, NULL);
	struct quic_client *c2 = client(srv, quic_server_pin(srv), false, NULL);
	struct quic_client *c3 = client(srv, quic_server_pin(srv), false, NULL);
	struct got g;
	assert_int_equal(get(c1, 1, 100, 0, &g), 0);
	assert_int_equal(get(c2, 1, 100, 0, &g), 0);
	int ret = get(c3, 1, 100, 0, &g);
	assert_true(ret == -ECONNREFUSED || ret == -EPROTO);
	struct quic_stats st;
	quic_server_stats(srv, &st);
	assert_int_equal(st.conns_refused, 1);
	quic_client_free(c1);
	quic_client_free(c2);
	quic_client_free(c3);
	quic_server_free(srv);
}

static void
test_quic_no_server(void **state)
{
	(void)state;
	/* nobody listens: the request fails in bounded time */
	struct quic_client_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.remote = "127.0.0.1:9";
	cfg.insecure = true;
	cfg.handshake_timeout_ms = 500;
	struct quic_client *cl = NULL;
	assert_int_equal(quic_client_new(&cfg, &cl), 0);
	struct got g;
	int ret = get(cl, 1, 100, 0, &g);
	assert_true(ret == -ECONNREFUSED || ret == -ETIMEDOUT);
	quic_client_free(cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quic_stats_prometheus),
		cmocka_unit_test(test_quic_key_and_pin),
		cmocka_unit_test(test_quic_one_and_hundred_messages),
		cmocka_unit_test(test_quic_ten_megabytes),
		cmocka_unit_test(test_quic_parallel_streams),
		cmocka_unit_test(test_quic_thousand_transfers_one_connection),
		cmocka_unit_test(test_quic_stream_pull_and_cancel),
		cmocka_unit_test(test_quic_workers_backpressure),
		cmocka_unit_test(test_quic_keepalive),
		cmocka_unit_test(test_quic_restarted_server_resets),
		cmocka_unit_test(test_quic_server_alive_drops_silent_connection),
		cmocka_unit_test(test_quic_pin_checks),
		cmocka_unit_test(test_quic_wrong_alpn),
		cmocka_unit_test(test_quic_message_id),
		cmocka_unit_test(test_quic_framing_errors),
		cmocka_unit_test(test_quic_retry_always),
		cmocka_unit_test(test_quic_half_open_flood),
		cmocka_unit_test(test_quic_connection_limit),
		cmocka_unit_test(test_quic_no_server),
	};
	return cmocka_run_group_tests_name("quic", tests, setup, teardown);
}
