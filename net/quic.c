/*
 * XoQ transport: QUIC server and client on ngtcp2 0.12 + GnuTLS (see quic.h).
 *
 * Layout: common helpers (clock, keys, pins, send queues), then the server
 * (connection table by connection id, per-stream request reassembly and
 * reply queues), then the client (one connection, many request streams),
 * then test helpers.  Every ngtcp2 object is owned by exactly one thread:
 * the server's or the client's loop thread.  Other threads only touch the
 * mutex-protected hand-off queues (quic_reply pending chunks, client
 * submissions) and wake the loop through an eventfd.
 *
 * Invariants:
 *  - stream data handed to ngtcp2 stays in its chunk until ngtcp2 reports it
 *    acknowledged (acked_stream_data_offset) or the stream closes; chunks
 *    never move (ngtcp2 keeps pointers for retransmission);
 *  - a quic_reply is freed when both sides let go: the handler called
 *    end/abort and the stream is gone (srv->lock guards both flags);
 *  - receive windows are extended as soon as data is consumed, so the
 *    peer's sending rate is limited by congestion control, not by us.
 */
#include "net/quic.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "net/addr.h"
#include "util/base.h"
#include "util/log.h"

#define SCID_LEN 16
#define PKT_BUF 65536
#define MAX_PKTS_PER_WRITE 64
#define STREAM_WINDOW (16u << 20)
#define CONN_WINDOW (64u << 20)
#define MAX_STREAM_WINDOW (64u << 20)
#define MAX_CONN_WINDOW (256u << 20)
#define RETRY_TOKEN_TTL (10 * NGTCP2_SECONDS)
#define REGULAR_TOKEN_TTL (3600 * NGTCP2_SECONDS)
#define SOCK_BUF (8 << 20)
#define CID_BUCKETS 4096
#define RESETS_PER_S 64      /* stateless resets sent per second, at most */

static const char tls_prio[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:"
                               "+GROUP-SECP256R1:+GROUP-SECP384R1:%DISABLE_TLS13_COMPAT_MODE";

/* ------------------------------------------------------------------ common */

static ngtcp2_tstamp
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

static void
rand_cb(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rctx)
{
	(void)rctx;
	(void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, destlen);
}

static int
random_cid(ngtcp2_cid *cid, size_t len)
{
	cid->datalen = len;
	return gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len) == 0 ? 0 : -EIO;
}

static void
stat_add(uint64_t *p, uint64_t v)
{
	__atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static void
stat_sub(uint64_t *p, uint64_t v)
{
	__atomic_sub_fetch(p, v, __ATOMIC_RELAXED);
}

static void
stats_copy(struct quic_stats *dst, const struct quic_stats *src)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;
	for (size_t i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

static int
pubkey_pin(gnutls_pubkey_t pk, char pin[QUIC_PIN_LEN])
{
	gnutls_datum_t der = { NULL, 0 };
	uint8_t dig[32];
	if (gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &der) < 0)
		return -EINVAL;
	int ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, dig);
	gnutls_free(der.data);
	if (ret < 0)
		return -EIO;
	return base64_encode(dig, sizeof(dig), pin, QUIC_PIN_LEN) == QUIC_PIN_LEN - 1 ? 0 : -EIO;
}

static int
read_file(const char *path, gnutls_datum_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (1 << 20)) {
		close(fd);
		return -EINVAL;
	}
	out->data = gnutls_malloc((size_t)st.st_size);
	if (out->data == NULL) {
		close(fd);
		return -ENOMEM;
	}
	ssize_t n = read(fd, out->data, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		gnutls_free(out->data);
		return -EIO;
	}
	out->size = (unsigned)n;
	return 0;
}

/* Loads `path`, or creates an ECDSA P-256 key there (mode 0600) if it does not exist. */
static int
key_load_or_create(const char *path, gnutls_x509_privkey_t *out)
{
	gnutls_x509_privkey_t key;
	if (gnutls_x509_privkey_init(&key) < 0)
		return -ENOMEM;
	gnutls_datum_t d = { NULL, 0 };
	int ret = read_file(path, &d);
	if (ret == 0) {
		ret = gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM) < 0 ? -EINVAL : 0;
		gnutls_free(d.data);
		if (ret != 0) {
			log_error(NULL, "QUIC, key file %s, not a PEM private key", path);
			gnutls_x509_privkey_deinit(key);
			return ret;
		}
		*out = key;
		return 0;
	}
	if (ret != -ENOENT) {
		log_error(NULL, "QUIC, key file %s, cannot read (%s)", path, strerror(-ret));
		gnutls_x509_privkey_deinit(key);
		return ret;
	}
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) < 0) {
		gnutls_x509_privkey_deinit(key);
		return -EIO;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		gnutls_free(d.data);
		gnutls_x509_privkey_deinit(key);
		log_error(NULL, "QUIC, key file %s, cannot create (%s)", path, strerror(-ret));
		return ret;
	}
	ssize_t n = write(fd, d.data, d.size);
	ret = (n == (ssize_t)d.size && fsync(fd) == 0) ? 0 : -EIO;
	close(fd);
	gnutls_free(d.data);
	if (ret != 0) {
		unlink(path);
		gnutls_x509_privkey_deinit(key);
		return ret;
	}
	log_notice(NULL, "QUIC, generated key %s", path);
	*out = key;
	return 0;
}

static int
privkey_pin(gnutls_x509_privkey_t key, char pin[QUIC_PIN_LEN])
{
	gnutls_privkey_t pk = NULL;
	gnutls_pubkey_t pub = NULL;
	int ret = -EINVAL;
	if (gnutls_privkey_init(&pk) < 0 || gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_privkey_import_x509(pk, key, 0) < 0 ||
	    gnutls_pubkey_import_privkey(pub, pk, 0, 0) < 0)
		goto out;
	ret = pubkey_pin(pub, pin);
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (pk != NULL)
		gnutls_privkey_deinit(pk);
	return ret;
}

int
quic_spki_pin(const char *key_file, char pin[QUIC_PIN_LEN])
{
	gnutls_x509_privkey_t key;
	int ret = key_load_or_create(key_file, &key);
	if (ret != 0)
		return ret;
	ret = privkey_pin(key, pin);
	gnutls_x509_privkey_deinit(key);
	return ret;
}

/*
 * The server's static secret (address validation tokens, stateless reset
 * tokens): HMAC-SHA256 of the private key, so that a restarted server with
 * the same key computes the same reset token for a connection it lost and
 * the client learns at once that the connection is gone (RFC 9000 §10.3).
 */
static int
key_secret(gnutls_x509_privkey_t key, uint8_t secret[32])
{
	static const char label[] = "anycst QUIC static secret v1";
	gnutls_datum_t d = { NULL, 0 };
	if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_DER, &d) < 0)
		return -EIO;
	int ret = gnutls_hmac_fast(GNUTLS_MAC_SHA256, label, sizeof(label) - 1, d.data, d.size,
	                           secret) < 0 ? -EIO : 0;
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return ret;
}

/* A self-signed certificate for `key`; only the key matters (pinning). */
static int
make_cert(gnutls_x509_privkey_t key, gnutls_x509_crt_t *out)
{
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	uint8_t serial[16];
	(void)gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f;
	time_t t = time(NULL);
	static const char cn[] = "anycst";
	/* EdDSA signs the message itself: GnuTLS wants SHA-512 named for Ed25519 */
	int pk = gnutls_x509_privkey_get_pk_algorithm(key);
	gnutls_digest_algorithm_t dig = pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_SHA512
	                                                             : GNUTLS_DIG_SHA256;
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, t - 86400) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, t + 10 * 365 * 86400L) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	                                  sizeof(cn) - 1) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, dig, 0) < 0) {
		gnutls_x509_crt_deinit(crt);
		return -EIO;
	}
	*out = crt;
	return 0;
}

static int
udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int v = SOCK_BUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	if (family == AF_INET6) {
		int off = 0;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	}
	return fd;
}

/* Sends one datagram; on a full socket buffer waits briefly once, then drops (QUIC recovers). */
static int
send_pkt(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t len)
{
	for (int tries = 0; tries < 2; tries++) {
		ssize_t n = sendto(fd, p, len, 0, to, tolen);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		(void)poll(&pfd, 1, 20);
	}
	return -EAGAIN;
}

/*
 * Arms the loop's timerfd for `at` unless it already fires at or before
 * that (`*armed`, UINT64_MAX when nothing is armed; the caller resets it
 * when the timer fires).  ngtcp2's expiry moves on nearly every packet (its
 * pacing time among others) and timerfd_settime reprograms a kernel hrtimer
 * each time: it was the largest cost of a short request.  A timer that fires
 * early only costs one loop round that finds nothing expired.  Returns true
 * when `at` has already passed: the caller then polls without blocking
 * instead of taking a round trip through the timerfd.
 */
static bool
arm_timer(int tfd, ngtcp2_tstamp *armed, ngtcp2_tstamp at)
{
	if (at <= now_ns())
		return true;
	if (at >= *armed)
		return false;
	*armed = at;
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (at != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(at / NGTCP2_SECONDS);
		its.it_value.tv_nsec = (long)(at % NGTCP2_SECONDS);
	}
	(void)timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
	return false;
}

static void
drain_fd(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) > 0) {
	}
}

static void
wake_fd(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n;
}

/* Stream data queue: chunks in stream order; never moved once queued. */
struct chunk {
	struct chunk *next;
	uint64_t off;            /* stream offset of data[0] */
	size_t len;
	uint8_t data[];
};

struct sendq {
	struct chunk *head, *tail;  /* head: oldest unacknowledged */
	struct chunk *cur;          /* first chunk with unsent bytes, or NULL */
	size_t cur_off;
	uint64_t queued;            /* total bytes queued */
	uint64_t sent;              /* bytes handed to ngtcp2 */
	bool fin_wanted, fin_sent;
};

static struct chunk *
chunk_new(size_t len)
{
	struct chunk *c = malloc(sizeof(*c) + len);
	if (c != NULL) {
		c->next = NULL;
		c->len = len;
		c->off = 0;
	}
	return c;
}

static void
chunks_free(struct chunk *c)
{
	while (c != NULL) {
		struct chunk *n = c->next;
		free(c);
		c = n;
	}
}

static void
sendq_push(struct sendq *q, struct chunk *c)
{
	c->off = q->queued;
	c->next = NULL;
	q->queued += c->len;
	if (q->tail != NULL)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	if (q->cur == NULL) {
		q->cur = c;
		q->cur_off = 0;
	}
}

static bool
sendq_pending(const struct sendq *q)
{
	return q->sent < q->queued || (q->fin_wanted && !q->fin_sent);
}

/* Up to `max` vectors of unsent data; returns the count and whether all unsent data is in them. */
static size_t
sendq_vecs(const struct sendq *q, ngtcp2_vec *v, size_t max, bool *all)
{
	size_t n = 0;
	const struct chunk *c = q->cur;
	size_t off = q->cur_off;
	while (c != NULL && n < max) {
		if (c->len > off) {
			v[n].base = (uint8_t *)c->data + off;
			v[n].len = c->len - off;
			n++;
		}
		c = c->next;
		off = 0;
	}
	*all = c == NULL;
	return n;
}

static void
sendq_advance(struct sendq *q, size_t n)
{
	q->sent += n;
	while (n > 0 && q->cur != NULL) {
		size_t left = q->cur->len - q->cur_off;
		if (n < left) {
			q->cur_off += n;
			return;
		}
		n -= left;
		q->cur = q->cur->next;
		q->cur_off = 0;
	}
}

static void
sendq_ack(struct sendq *q, uint64_t upto)
{
	while (q->head != NULL && q->head != q->cur && q->head->off + q->head->len <= upto) {
		struct chunk *c = q->head;
		q->head = c->next;
		if (q->head == NULL)
			q->tail = NULL;
		free(c);
	}
}

static void
sendq_clear(struct sendq *q)
{
	chunks_free(q->head);
	memset(q, 0, sizeof(*q));
}

/* Rate limit for repeated log lines: at most one per kind per 10 s. */
static bool
log_ok(ngtcp2_tstamp *last, ngtcp2_tstamp now)
{
	if (*last != 0 && now - *last < 10 * NGTCP2_SECONDS)
		return false;
	*last = now;
	return true;
}

int
quic_stats_prometheus(const struct quic_stats *st, const char *prefix, char *buf, size_t cap)
{
	static const struct {
		const char *name, *help;
		size_t off;
		bool gauge;
	} f[] = {
		{ "conns_accepted", "QUIC connections accepted",
		  offsetof(struct quic_stats, conns_accepted), false },
		{ "conns_open", "QUIC connections open now", offsetof(struct quic_stats, conns_open),
		  true },
		{ "conns_refused", "QUIC connections refused by limits",
		  offsetof(struct quic_stats, conns_refused), false },
		{ "handshakes", "QUIC handshakes completed",
		  offsetof(struct quic_stats, handshakes_done), false },
		{ "handshake_failures", "QUIC handshakes failed (TLS, ALPN, pin, timeout)",
		  offsetof(struct quic_stats, handshake_failures), false },
		{ "retries", "QUIC Retry packets sent", offsetof(struct quic_stats, retries_sent),
		  false },
		{ "streams", "DoQ request streams", offsetof(struct quic_stats, streams), false },
		{ "stream_errors", "DoQ streams or connections closed with an error",
		  offsetof(struct quic_stats, stream_errors), false },
		{ "bytes_received", "QUIC UDP payload bytes received",
		  offsetof(struct quic_stats, bytes_rx), false },
		{ "bytes_sent", "QUIC UDP payload bytes sent", offsetof(struct quic_stats, bytes_tx),
		  false },
		{ "packets_received", "QUIC packets received", offsetof(struct quic_stats, pkts_rx),
		  false },
		{ "packets_sent", "QUIC packets sent", offsetof(struct quic_stats, pkts_tx), false },
		{ "packets_lost", "QUIC packets with stream data declared lost and retransmitted",
		  offsetof(struct quic_stats, pkts_lost), false },
		{ "stateless_resets", "QUIC stateless resets sent (server) or received (client)",
		  offsetof(struct quic_stats, stateless_resets), false },
	};
	size_t len = 0;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)st + f[i].off, sizeof(v));
		const char *sfx = f[i].gauge ? "" : "_total";
		int n = snprintf(buf + len, cap - len,
		                 "# HELP %s_quic_%s%s %s\n# TYPE %s_quic_%s%s %s\n%s_quic_%s%s %llu\n",
		                 prefix, f[i].name, sfx, f[i].help, prefix, f[i].name, sfx,
		                 f[i].gauge ? "gauge" : "counter", prefix, f[i].name, sfx,
		                 (unsigned long long)v);
		if (n < 0 || (size_t)n >= cap - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	return (int)len;
}

/* ------------------------------------------------------------------ server */

struct sconn;

struct sstream {
	int64_t id;
	struct sconn *c;
	struct doq_rx rx;
	struct quic_reply *reply;
	struct sendq q;
	bool blocked;
	bool reset_pending;
	uint64_t reset_code;
	size_t lost_seen;        /* ngtcp2's loss count already added to the stats */
	struct sstream *prev, *next;
};


struct sconn {
	struct quic_server *srv;
	ngtcp2_conn *conn;
	gnutls_session_t tls;
	ngtcp2_crypto_conn_ref ref;
	struct sockaddr_storage remote;
	socklen_t remotelen;
	uint64_t id;
	struct sstream *streams, *streams_tail;
	bool handshake_done;
	bool want_write;
	bool more;               /* stopped writing at the per-call packet cap */
	bool close_pending;      /* close with an application error after this event */
	unsigned stream_credit;  /* closed peer streams not yet given back (MAX_STREAMS) */
	uint64_t close_code;
	const char *close_why;
	struct sconn *prev, *next;
};

struct cid_ent {
	ngtcp2_cid cid;
	struct sconn *c;
	struct cid_ent *next;
};

struct quic_reply {
	struct quic_server *srv;
	struct sstream *st;      /* NULL once the stream is gone */
	struct chunk *ph, *pt;   /* sent by the handler, not yet moved to the stream */
	size_t backlog;
	uint16_t qid;
	bool ended, aborted, user_done, in_flush;
	uint64_t abort_code;
	struct quic_reply *flush_next;
};

struct job {
	struct job *next;
	struct quic_peer peer;
	struct quic_reply *r;
	size_t len;
	uint8_t q[];
};

struct quic_server {
	struct quic_server_cfg cfg;
	int fd, efd, tfd, epfd;
	ngtcp2_tstamp tarmed;             /* when tfd fires; UINT64_MAX: not armed */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	struct sockaddr_storage local;
	socklen_t locallen;
	char pin[QUIC_PIN_LEN];
	gnutls_certificate_credentials_t cred;
	uint8_t secret[32];              /* from the key: stable across restarts */
	ngtcp2_tstamp reset_window;      /* start of the current second of resets */
	unsigned resets_in_window;
	struct sconn *conns;
	unsigned nconns, pending_hs;
	uint64_t next_id;
	struct cid_ent *cids[CID_BUCKETS];
	pthread_mutex_t lock;            /* guards quic_reply state and the flush list */
	pthread_cond_t backlog_cv;       /* broadcast when backlogs shrink or streams go */
	struct quic_reply *flush;
	/* handler workers (cfg.workers > 0): jobs under `lock` */
	pthread_t *workers;
	unsigned nworkers;
	pthread_cond_t job_cv;
	struct job *jobs, *jobs_tail;
	bool workers_stop;
	struct quic_stats st;
	ngtcp2_tstamp log_hs, log_limit, log_proto;
	bool no_gso;                     /* the kernel refused UDP_SEGMENT once */
	uint8_t buf[PKT_BUF];
};

/* Adds the packets of `s` newly declared lost to the stats (live metric). */
static void
sstream_count_loss(struct quic_server *srv, ngtcp2_conn *conn, struct sstream *s)
{
	size_t n = ngtcp2_conn_get_stream_loss_count(conn, s->id);
	if (n > s->lost_seen) {
		stat_add(&srv->st.pkts_lost, n - s->lost_seen);
		s->lost_seen = n;
	}
}

static unsigned
cid_hash(const uint8_t *d, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ d[i]) * 16777619u;
	return h % CID_BUCKETS;
}

static struct sconn *
cid_find(struct quic_server *srv, const uint8_t *d, size_t len)
{
	for (struct cid_ent *e = srv->cids[cid_hash(d, len)]; e != NULL; e = e->next) {
		if (e->cid.datalen == len && memcmp(e->cid.data, d, len) == 0)
			return e->c;
	}
	return NULL;
}

static int
cid_add(struct quic_server *srv, const ngtcp2_cid *cid, struct sconn *c)
{
	struct cid_ent *e = malloc(sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->cid = *cid;
	e->c = c;
	unsigned h = cid_hash(cid->data, cid->datalen);
	e->next = srv->cids[h];
	srv->cids[h] = e;
	return 0;
}

static void
cid_del(struct quic_server *srv, const ngtcp2_cid *cid)
{
	struct cid_ent **pp = &srv->cids[cid_hash(cid->data, cid->datalen)];
	while (*pp != NULL) {
		struct cid_ent *e = *pp;
		if (ngtcp2_cid_eq(&e->cid, cid)) {
			*pp = e->next;
			free(e);
			return;
		}
		pp = &e->next;
	}
}

static void
cid_del_conn(struct quic_server *srv, struct sconn *c)
{
	for (unsigned i = 0; i < CID_BUCKETS; i++) {
		struct cid_ent **pp = &srv->cids[i];
		while (*pp != NULL) {
			struct cid_ent *e = *pp;
			if (e->c == c) {
				*pp = e->next;
				free(e);
			} else {
				pp = &e->next;
			}
		}
	}
}

/* Frees `r` if both the handler and the stream are done with it (lock held). */
static void
reply_maybe_free(struct quic_reply *r)
{
	if (r->user_done && r->st == NULL && !r->in_flush) {
		chunks_free(r->ph);
		free(r);
	}
}

static void
reply_schedule(struct quic_reply *r)
{
	if (r->in_flush)
		return;
	r->in_flush = true;
	r->flush_next = r->srv->flush;
	r->srv->flush = r;
	wake_fd(r->srv->efd);
}

/* Queues one message, and with `last` also the FIN, under one lock: the QUIC
 * thread then sends the answer's end in the same packet as its last bytes. */
static int
reply_push(struct quic_reply *r, const uint8_t *msg, size_t len, bool last)
{
	if (len > DOQ_MSG_MAX)
		return -EMSGSIZE;
	if (len < 2)
		return -EINVAL;
	struct chunk *c = chunk_new(2 + len);
	if (c == NULL)
		return -ENOMEM;
	(void)doq_prefix(c->data, len);
	memcpy(c->data + 2, msg, len);
	struct quic_server *srv = r->srv;      /* `r` may be freed once ended and unlocked */
	pthread_mutex_lock(&srv->lock);
	doq_set_msg_id(c->data + 2, len, r->qid);
	int ret = 0;
	if (r->user_done) {
		ret = -EINVAL;
	} else if (r->st == NULL) {
		ret = -ECONNRESET;
	} else {
		if (r->pt != NULL)
			r->pt->next = c;
		else
			r->ph = c;
		r->pt = c;
		__atomic_add_fetch(&r->backlog, c->len, __ATOMIC_RELAXED);
		if (last) {
			r->user_done = true;
			r->ended = true;
		}
		reply_schedule(r);
		c = NULL;
	}
	pthread_mutex_unlock(&srv->lock);
	free(c);
	return ret;
}

int
quic_reply_send(struct quic_reply *r, const uint8_t *msg, size_t len)
{
	return reply_push(r, msg, len, false);
}

int
quic_reply_send_last(struct quic_reply *r, const uint8_t *msg, size_t len)
{
	return reply_push(r, msg, len, true);
}

void
quic_reply_end(struct quic_reply *r)
{
	struct quic_server *srv = r->srv;      /* `r` may be freed before the unlock */
	pthread_mutex_lock(&srv->lock);
	if (!r->user_done) {
		r->user_done = true;
		r->ended = true;
		if (r->st != NULL)
			reply_schedule(r);
		else
			reply_maybe_free(r);
	}
	pthread_mutex_unlock(&srv->lock);
}

void
quic_reply_abort(struct quic_reply *r, enum doq_error code)
{
	struct quic_server *srv = r->srv;      /* `r` may be freed before the unlock */
	pthread_mutex_lock(&srv->lock);
	if (!r->user_done) {
		r->user_done = true;
		r->aborted = true;
		r->abort_code = code;
		if (r->st != NULL)
			reply_schedule(r);
		else
			reply_maybe_free(r);
	}
	pthread_mutex_unlock(&srv->lock);
}

size_t
quic_reply_backlog(const struct quic_reply *r)
{
	return __atomic_load_n(&r->backlog, __ATOMIC_RELAXED);
}

int
quic_reply_wait(struct quic_reply *r, size_t max_backlog, unsigned timeout_ms)
{
	struct quic_server *srv = r->srv;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	int ret = 0;
	pthread_mutex_lock(&srv->lock);
	while (r->st != NULL && __atomic_load_n(&r->backlog, __ATOMIC_RELAXED) > max_backlog) {
		if (pthread_cond_timedwait(&srv->backlog_cv, &srv->lock, &dl) == ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	if (r->st == NULL)
		ret = -ECONNRESET;
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

static void *
worker_thread(void *arg)
{
	struct quic_server *srv = arg;
	pthread_mutex_lock(&srv->lock);
	for (;;) {
		while (srv->jobs == NULL && !srv->workers_stop)
			pthread_cond_wait(&srv->job_cv, &srv->lock);
		if (srv->jobs == NULL)
			break;
		struct job *j = srv->jobs;
		srv->jobs = j->next;
		if (srv->jobs == NULL)
			srv->jobs_tail = NULL;
		pthread_mutex_unlock(&srv->lock);
		srv->cfg.handler(srv->cfg.handler_ctx, &j->peer, j->q, j->len, j->r);
		free(j);
		pthread_mutex_lock(&srv->lock);
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

static struct sstream *
sstream_new(struct sconn *c, int64_t id)
{
	struct sstream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->id = id;
	s->c = c;
	doq_rx_init(&s->rx, DOQ_RX_REQUEST);
	s->prev = c->streams_tail;
	if (c->streams_tail != NULL)
		c->streams_tail->next = s;
	else
		c->streams = s;
	c->streams_tail = s;
	return s;
}

static void
sstream_unlink(struct sconn *c, struct sstream *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		c->streams_tail = s->prev;
	s->prev = s->next = NULL;
}

static void
sstream_free(struct quic_server *srv, struct sstream *s)
{
	if (s->reply != NULL) {
		pthread_mutex_lock(&srv->lock);
		s->reply->st = NULL;
		reply_maybe_free(s->reply);
		pthread_cond_broadcast(&srv->backlog_cv);
		pthread_mutex_unlock(&srv->lock);
	}
	doq_rx_clear(&s->rx);
	sendq_clear(&s->q);
	free(s);
}

static void
sconn_free(struct sconn *c)
{
	struct quic_server *srv = c->srv;
	while (c->streams != NULL) {
		struct sstream *s = c->streams;
		if (c->conn != NULL)
			sstream_count_loss(srv, c->conn, s);
		sstream_unlink(c, s);
		sstream_free(srv, s);
	}
	cid_del_conn(srv, c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (srv->conns == c)
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->conn != NULL) {
		srv->nconns--;
		stat_sub(&srv->st.conns_open, 1);
		if (!c->handshake_done)
			srv->pending_hs--;
	}
	if (c->conn != NULL)
		ngtcp2_conn_del(c->conn);
	if (c->tls != NULL)
		gnutls_deinit(c->tls);
	free(c);
}

static ngtcp2_conn *
get_conn_ref(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct sconn *)ref->user_data)->conn;
}

static void
sconn_close(struct sconn *c, uint64_t code, const char *why)
{
	if (c->close_pending)
		return;
	c->close_pending = true;
	c->close_code = code;
	c->close_why = why;
}

static int
srv_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
	struct sconn *c = user_data;
	struct quic_server *srv = c->srv;
	gnutls_datum_t alpn;
	if (gnutls_alpn_get_selected_protocol(c->tls, &alpn) != 0 || alpn.size != 3 ||
	    memcmp(alpn.data, DOQ_ALPN, 3) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	c->handshake_done = true;
	srv->pending_hs--;
	stat_add(&srv->st.handshakes_done, 1);
	/* A token for the next connection from this address skips Retry. */
	uint8_t token[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
	const ngtcp2_path *path = ngtcp2_conn_get_path(conn);
	ngtcp2_ssize tl = ngtcp2_crypto_generate_regular_token(token, srv->secret,
	                                                       sizeof(srv->secret),
	                                                       path->remote.addr,
	                                                       path->remote.addrlen, now_ns());
	if (tl > 0)
		(void)ngtcp2_conn_submit_new_token(conn, token, (size_t)tl);
	return 0;
}

static int
srv_stream_open(ngtcp2_conn *conn, int64_t stream_id, void *user_data)
{
	struct sconn *c = user_data;
	if (!ngtcp2_is_bidi_stream(stream_id))
		return 0;
	struct sstream *s = sstream_new(c, stream_id);
	if (s == NULL)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	stat_add(&c->srv->st.streams, 1);
	return ngtcp2_conn_set_stream_user_data(conn, stream_id, s) == 0 ? 0
	                                                                  : NGTCP2_ERR_CALLBACK_FAILURE;
}

struct dispatch {
	struct sconn *c;
	struct sstream *s;
};

static int
srv_on_query(void *ctx, const uint8_t *msg, size_t len)
{
	struct dispatch *d = ctx;
	struct sconn *c = d->c;
	struct quic_server *srv = c->srv;
	uint16_t id = doq_msg_id(msg, len);
	if (id != 0 && srv->cfg.doq_strict) {
		sconn_close(c, DOQ_PROTOCOL_ERROR, "non-zero message id (strict)");
		return -EPROTO;
	}
	struct quic_reply *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->srv = srv;
	r->st = d->s;
	r->qid = id;
	d->s->reply = r;
	struct quic_peer peer;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer.addr, &c->remote, c->remotelen);
	peer.addrlen = c->remotelen;
	peer.conn_id = c->id;
	peer.stream_id = d->s->id;
	if (srv->nworkers == 0) {
		srv->cfg.handler(srv->cfg.handler_ctx, &peer, msg, len, r);
		return 0;
	}
	struct job *j = malloc(sizeof(*j) + len);
	if (j == NULL) {
		quic_reply_abort(r, DOQ_INTERNAL_ERROR);
		return 0;
	}
	j->next = NULL;
	j->peer = peer;
	j->r = r;
	j->len = len;
	memcpy(j->q, msg, len);
	pthread_mutex_lock(&srv->lock);
	if (srv->jobs_tail != NULL)
		srv->jobs_tail->next = j;
	else
		srv->jobs = j;
	srv->jobs_tail = j;
	pthread_cond_signal(&srv->job_cv);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

static int
srv_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
                     const uint8_t *data, size_t datalen, void *user_data,
                     void *stream_user_data)
{
	(void)offset;
	struct sconn *c = user_data;
	struct sstream *s = stream_user_data;
	ngtcp2_conn_extend_max_stream_offset(conn, stream_id, datalen);
	ngtcp2_conn_extend_max_offset(conn, datalen);
	if (s == NULL || c->close_pending)
		return 0;
	struct dispatch d = { c, s };
	int ret = doq_rx_feed(&s->rx, data, datalen, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0,
	                      srv_on_query, &d);
	if (ret != 0 && !c->close_pending)
		sconn_close(c, doq_error_from_ret(ret), s->rx.why ? s->rx.why : "internal error");
	return 0;
}

static int
srv_acked(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen,
          void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	(void)user_data;
	struct sstream *s = stream_user_data;
	if (s != NULL)
		sendq_ack(&s->q, offset + datalen);
	return 0;
}

static int
srv_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
                 void *user_data, void *stream_user_data)
{
	(void)flags;
	(void)app_error_code;
	struct sconn *c = user_data;
	struct sstream *s = stream_user_data;
	if (s == NULL)
		return 0;
	sstream_count_loss(c->srv, conn, s);
	sstream_unlink(c, s);
	sstream_free(c->srv, s);
	/* Stream credit goes back in batches of 1/16 of the limit: a MAX_STREAMS
	 * frame per closed stream cost a packet (and a wake-up on both sides) for
	 * every short request on a kept-open connection. */
	if (!ngtcp2_conn_is_local_stream(conn, stream_id)) {
		unsigned batch = c->srv->cfg.max_streams / 16;
		if (++c->stream_credit >= (batch > 0 ? batch : 1)) {
			ngtcp2_conn_extend_max_streams_bidi(conn, c->stream_credit);
			c->stream_credit = 0;
		}
	}
	return 0;
}

static int
srv_stream_reset(ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size,
                 uint64_t app_error_code, void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	(void)final_size;
	(void)app_error_code;
	struct sconn *c = user_data;
	struct sstream *s = stream_user_data;
	/* The client gave up on its request: stop sending the answer as well. */
	if (s != NULL && !s->q.fin_sent) {
		s->reset_pending = true;
		s->reset_code = DOQ_REQUEST_CANCELLED;
		c->want_write = true;
	}
	return 0;
}

static int
srv_stop_sending(ngtcp2_conn *conn, int64_t stream_id, uint64_t app_error_code, void *user_data,
                 void *stream_user_data)
{
	return srv_stream_reset(conn, stream_id, 0, app_error_code, user_data, stream_user_data);
}

static int
srv_get_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                void *user_data)
{
	(void)conn;
	struct sconn *c = user_data;
	struct quic_server *srv = c->srv;
	do {
		if (random_cid(cid, cidlen) != 0)
			return NGTCP2_ERR_CALLBACK_FAILURE;
	} while (cid_find(srv, cid->data, cid->datalen) != NULL);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, srv->secret, sizeof(srv->secret),
	                                                 cid) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return cid_add(srv, cid, c) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static int
srv_remove_cid(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
	(void)conn;
	struct sconn *c = user_data;
	cid_del(c->srv, cid);
	return 0;
}

static int
tls_session_new(gnutls_session_t *out, bool server, gnutls_certificate_credentials_t cred,
                const char *alpn, ngtcp2_crypto_conn_ref *ref)
{
	gnutls_session_t s;
	unsigned flags = (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS |
	                 GNUTLS_NO_END_OF_EARLY_DATA;
	if (gnutls_init(&s, flags) < 0)
		return -ENOMEM;
	int ok = gnutls_priority_set_direct(s, tls_prio, NULL) == 0;
	if (ok)
		ok = (server ? ngtcp2_crypto_gnutls_configure_server_session(s)
		             : ngtcp2_crypto_gnutls_configure_client_session(s)) == 0;
	if (ok)
		ok = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) == 0;
	if (ok) {
		gnutls_datum_t a = { (unsigned char *)(uintptr_t)alpn, (unsigned)strlen(alpn) };
		ok = gnutls_alpn_set_protocols(s, &a, 1, GNUTLS_ALPN_MANDATORY) == 0;
	}
	if (!ok) {
		gnutls_deinit(s);
		return -EINVAL;
	}
	gnutls_session_set_ptr(s, ref);
	*out = s;
	return 0;
}

static void
transport_params(ngtcp2_transport_params *p, bool server, unsigned idle_ms, unsigned streams)
{
	ngtcp2_transport_params_default(p);
	p->initial_max_streams_uni = 0;
	p->initial_max_streams_bidi = server ? streams : 0;
	p->initial_max_stream_data_bidi_local = STREAM_WINDOW;
	p->initial_max_stream_data_bidi_remote = server ? 65536 + 2 : STREAM_WINDOW;
	p->initial_max_data = CONN_WINDOW;
	p->max_idle_timeout = (uint64_t)idle_ms * NGTCP2_MILLISECONDS;
	p->disable_active_migration = 1;
}

static void
settings_init(ngtcp2_settings *st, unsigned hs_ms)
{
	ngtcp2_settings_default(st);
	st->initial_ts = now_ns();
	st->max_window = MAX_CONN_WINDOW;
	st->max_stream_window = MAX_STREAM_WINDOW;
	st->handshake_timeout = (uint64_t)hs_ms * NGTCP2_MILLISECONDS;
	/* BBR paces by measured bandwidth and RTT instead of backing off on every
	 * loss, which keeps long transfers moving on randomly lossy paths. */
	st->cc_algo = NGTCP2_CC_ALGO_BBR;
}

static const ngtcp2_callbacks srv_callbacks = {
	.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
	.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
	.handshake_completed = srv_handshake_completed,
	.encrypt = ngtcp2_crypto_encrypt_cb,
	.decrypt = ngtcp2_crypto_decrypt_cb,
	.hp_mask = ngtcp2_crypto_hp_mask_cb,
	.recv_stream_data = srv_recv_stream_data,
	.acked_stream_data_offset = srv_acked,
	.stream_open = srv_stream_open,
	.stream_close = srv_stream_close,
	.rand = rand_cb,
	.get_new_connection_id = srv_get_new_cid,
	.remove_connection_id = srv_remove_cid,
	.update_key = ngtcp2_crypto_update_key_cb,
	.stream_reset = srv_stream_reset,
	.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
	.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
	.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
	.stream_stop_sending = srv_stop_sending,
	.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

static ngtcp2_path
srv_path(struct quic_server *srv, const struct sockaddr_storage *remote, socklen_t rlen)
{
	ngtcp2_path p;
	memset(&p, 0, sizeof(p));
	p.local.addr = (ngtcp2_sockaddr *)&srv->local;
	p.local.addrlen = srv->locallen;
	p.remote.addr = (ngtcp2_sockaddr *)(uintptr_t)remote;
	p.remote.addrlen = rlen;
	return p;
}

static void
srv_send(struct quic_server *srv, const struct sockaddr_storage *to, socklen_t tolen,
         const uint8_t *p, size_t len)
{
	if (send_pkt(srv->fd, (const struct sockaddr *)to, tolen, p, len) == 0) {
		stat_add(&srv->st.pkts_tx, 1);
		stat_add(&srv->st.bytes_tx, len);
	}
}

/*
 * Sends `len` bytes holding packets of `seg` bytes (the last may be
 * shorter) with one UDP GSO sendmsg; falls back to one datagram each.
 */
static void
srv_send_batch(struct quic_server *srv, const struct sockaddr_storage *to, socklen_t tolen,
               const uint8_t *p, size_t len, size_t seg)
{
	if (len <= seg || srv->no_gso) {
		for (size_t off = 0; off < len; off += seg)
			srv_send(srv, to, tolen, p + off, len - off < seg ? len - off : seg);
		return;
	}
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm;
	memset(&cm, 0, sizeof(cm));
	struct iovec iov = { (void *)(uintptr_t)p, len };
	struct msghdr mh;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)(uintptr_t)to;
	mh.msg_namelen = tolen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t s16 = (uint16_t)seg;
	memcpy(CMSG_DATA(c), &s16, sizeof(s16));
	for (int tries = 0; tries < 2; tries++) {
		if (sendmsg(srv->fd, &mh, 0) >= 0) {
			stat_add(&srv->st.pkts_tx, (len + seg - 1) / seg);
			stat_add(&srv->st.bytes_tx, len);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			struct pollfd pfd = { .fd = srv->fd, .events = POLLOUT };
			(void)poll(&pfd, 1, 20);
			continue;
		}
		if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
			srv->no_gso = true;     /* no GSO here (device or kernel): datagrams */
			srv_send_batch(srv, to, tolen, p, len, seg);
		}
		return;
	}
}

/* Sends CONNECTION_CLOSE (best effort) and frees the connection. */
static void
sconn_close_now(struct sconn *c, const ngtcp2_connection_close_error *cc)
{
	struct quic_server *srv = c->srv;
	if (c->conn != NULL && !ngtcp2_conn_is_in_draining_period(c->conn)) {
		ngtcp2_path_storage ps;
		ngtcp2_path_storage_zero(&ps);
		ngtcp2_pkt_info pi;
		ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, srv->buf,
		                                                    sizeof(srv->buf), cc, now_ns());
		if (n > 0)
			srv_send(srv, &c->remote, c->remotelen, srv->buf, (size_t)n);
	}
	sconn_free(c);
}

static void
sconn_fail(struct sconn *c, int liberr, const char *what)
{
	struct quic_server *srv = c->srv;
	ngtcp2_connection_close_error cc;
	char ab[ADDR_TEXT_MAX];
	ngtcp2_connection_close_error_default(&cc);
	if (liberr == NGTCP2_ERR_CRYPTO || liberr == NGTCP2_ERR_CALLBACK_FAILURE) {
		uint8_t alert = ngtcp2_conn_get_tls_alert(c->conn);
		if (alert == 0)
			alert = 40;     /* handshake_failure */
		ngtcp2_connection_close_error_set_transport_error_tls_alert(&cc, alert, NULL, 0);
	} else {
		ngtcp2_connection_close_error_set_transport_error_liberr(&cc, liberr, NULL, 0);
	}
	if (!c->handshake_done) {
		stat_add(&srv->st.handshake_failures, 1);
		uint8_t alert = ngtcp2_conn_get_tls_alert(c->conn);
		const char *an = alert != 0 ? gnutls_alert_get_name((gnutls_alert_description_t)alert)
		                            : NULL;
		if (log_ok(&srv->log_hs, now_ns()))
			log_info(NULL, "QUIC, remote %s, handshake failed (%s%s)",
			         addr_fmt((const struct sockaddr *)&c->remote, ab, sizeof(ab)),
			         an != NULL ? "TLS alert " : "", an != NULL ? an : ngtcp2_strerror(liberr));
	} else if (log_ok(&srv->log_proto, now_ns())) {
		log_info(NULL, "QUIC, remote %s, connection closed, %s (%s)",
		         addr_fmt((const struct sockaddr *)&c->remote, ab, sizeof(ab)), what,
		         ngtcp2_strerror(liberr));
	}
	sconn_close_now(c, &cc);
}

static void
sconn_app_close(struct sconn *c)
{
	struct quic_server *srv = c->srv;
	char ab[ADDR_TEXT_MAX];
	ngtcp2_connection_close_error cc;
	ngtcp2_connection_close_error_default(&cc);
	const char *why = c->close_why ? c->close_why : "";
	ngtcp2_connection_close_error_set_application_error(&cc, c->close_code,
	                                                    (const uint8_t *)why, strlen(why));
	stat_add(&srv->st.stream_errors, 1);
	if (log_ok(&srv->log_proto, now_ns()))
		log_info(NULL, "QUIC, remote %s, connection closed with %s, %s",
		         addr_fmt((const struct sockaddr *)&c->remote, ab, sizeof(ab)),
		         doq_error_str(c->close_code), why);
	sconn_close_now(c, &cc);
}

/* Moves handler output into the streams (QUIC thread). */
static void
srv_flush_replies(struct quic_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	struct quic_reply *r = srv->flush;
	srv->flush = NULL;
	while (r != NULL) {
		struct quic_reply *next = r->flush_next;
		r->in_flush = false;
		struct sstream *s = r->st;
		if (s != NULL) {
			while (r->ph != NULL) {
				struct chunk *c = r->ph;
				r->ph = c->next;
				sendq_push(&s->q, c);
			}
			r->pt = NULL;
			if (r->ended)
				s->q.fin_wanted = true;
			if (r->aborted && !s->reset_pending) {
				s->reset_pending = true;
				s->reset_code = r->abort_code;
			}
			s->c->want_write = true;
		} else {
			chunks_free(r->ph);
			r->ph = r->pt = NULL;
			__atomic_store_n(&r->backlog, 0, __ATOMIC_RELAXED);
		}
		reply_maybe_free(r);
		r = next;
	}
	pthread_mutex_unlock(&srv->lock);
}

/* Writes packets until ngtcp2 has nothing more or the per-call cap; 0 or -1 (conn freed). */
static int
sconn_write(struct sconn *c)
{
	struct quic_server *srv = c->srv;
	ngtcp2_tstamp ts = now_ns();
	size_t maxlen = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->conn);
	if (maxlen > sizeof(srv->buf))
		maxlen = sizeof(srv->buf);
	for (struct sstream *s = c->streams; s != NULL; s = s->next) {
		sstream_count_loss(srv, c->conn, s);
		s->blocked = false;
		if (s->reset_pending) {
			s->reset_pending = false;
			s->q.fin_sent = true;
			s->q.fin_wanted = false;
			stat_add(&srv->st.stream_errors, 1);
			(void)ngtcp2_conn_shutdown_stream(c->conn, s->id, s->reset_code);
		}
	}
	c->more = false;
	c->want_write = false;
	unsigned npkts = 0;
	ngtcp2_pkt_info pi;
	memset(&pi, 0, sizeof(pi));
	/* Packets of one size are gathered in srv->buf and sent with one GSO call. */
	size_t off = 0, seg = 0;
	for (;;) {
		if (off + maxlen > sizeof(srv->buf)) {
			srv_send_batch(srv, &c->remote, c->remotelen, srv->buf, off, seg);
			off = 0;
		}
		struct sstream *s = c->streams;
		while (s != NULL && (s->blocked || !sendq_pending(&s->q)))
			s = s->next;
		ngtcp2_vec v[16];
		size_t nv = 0;
		bool all = true;
		uint32_t fl = NGTCP2_WRITE_STREAM_FLAG_MORE;
		int64_t sid = -1;
		if (s != NULL) {
			sid = s->id;
			nv = sendq_vecs(&s->q, v, 16, &all);
			if (all && s->q.fin_wanted)
				fl |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		}
		ngtcp2_ssize ndatalen = -1;
		ngtcp2_ssize n = ngtcp2_conn_writev_stream(c->conn, NULL, &pi, srv->buf + off, maxlen,
		                                           &ndatalen, fl, sid, v, nv, ts);
		if (n < 0) {
			if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
				s->blocked = true;
				continue;
			}
			if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
				s->q.sent = s->q.queued;
				s->q.cur = NULL;
				s->q.fin_sent = true;
				continue;
			}
			if (n == NGTCP2_ERR_WRITE_MORE) {
				if (s != NULL && ndatalen >= 0) {
					sendq_advance(&s->q, (size_t)ndatalen);
					if ((fl & NGTCP2_WRITE_STREAM_FLAG_FIN) && s->q.sent == s->q.queued)
						s->q.fin_sent = true;
					/* move it to the tail: streams share packets round-robin */
					if (s->next != NULL) {
						sstream_unlink(c, s);
						s->prev = c->streams_tail;
						c->streams_tail->next = s;
						c->streams_tail = s;
					}
				}
				continue;
			}
			if (off > 0)
				srv_send_batch(srv, &c->remote, c->remotelen, srv->buf, off, seg);
			sconn_fail(c, (int)n, "write failed");
			return -1;
		}
		if (s != NULL && ndatalen >= 0) {
			sendq_advance(&s->q, (size_t)ndatalen);
			if ((fl & NGTCP2_WRITE_STREAM_FLAG_FIN) && s->q.sent == s->q.queued)
				s->q.fin_sent = true;
			if (s->next != NULL) {
				sstream_unlink(c, s);
				s->prev = c->streams_tail;
				c->streams_tail->next = s;
				c->streams_tail = s;
			}
		}
		if (n == 0)
			break;
		size_t pn = (size_t)n;
		if (off == 0) {
			seg = pn;
			off = pn;
		} else if (pn > seg) {
			/* larger than the batch's segments: send those, start anew */
			srv_send_batch(srv, &c->remote, c->remotelen, srv->buf, off, seg);
			memmove(srv->buf, srv->buf + off, pn);
			seg = pn;
			off = pn;
		} else {
			off += pn;
		}
		if (pn < seg || srv->no_gso) {
			/* a short packet ends a GSO batch */
			srv_send_batch(srv, &c->remote, c->remotelen, srv->buf, off, seg);
			off = 0;
		}
		if (++npkts >= MAX_PKTS_PER_WRITE) {
			c->more = true;
			break;
		}
	}
	if (off > 0)
		srv_send_batch(srv, &c->remote, c->remotelen, srv->buf, off, seg);
	ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
	/* bytes handed to QUIC leave the producers' backlog */
	pthread_mutex_lock(&srv->lock);
	for (struct sstream *s = c->streams; s != NULL; s = s->next) {
		if (s->reply != NULL)
			__atomic_store_n(&s->reply->backlog, (size_t)(s->q.queued - s->q.sent),
			                 __ATOMIC_RELAXED);
	}
	pthread_cond_broadcast(&srv->backlog_cv);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

static unsigned
srv_count_addr(struct quic_server *srv, const struct sockaddr_storage *a)
{
	unsigned n = 0;
	for (struct sconn *c = srv->conns; c != NULL; c = c->next) {
		if (addr_equal_ip((const struct sockaddr *)&c->remote, (const struct sockaddr *)a))
			n++;
	}
	return n;
}

static void
srv_send_retry(struct quic_server *srv, const ngtcp2_pkt_hd *hd,
               const struct sockaddr_storage *ra, socklen_t rlen)
{
	ngtcp2_cid scid;
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	if (random_cid(&scid, SCID_LEN) != 0)
		return;
	ngtcp2_ssize tl = ngtcp2_crypto_generate_retry_token(
		token, srv->secret, sizeof(srv->secret), hd->version, (const ngtcp2_sockaddr *)ra,
		rlen, &scid, &hd->dcid, now_ns());
	if (tl < 0)
		return;
	uint8_t out[1500];
	ngtcp2_ssize n = ngtcp2_crypto_write_retry(out, sizeof(out), hd->version, &hd->scid, &scid,
	                                           &hd->dcid, token, (size_t)tl);
	if (n > 0) {
		srv_send(srv, ra, rlen, out, (size_t)n);
		stat_add(&srv->st.retries_sent, 1);
	}
}

/*
 * Answers a short-header packet of a connection we do not know (we lost it,
 * e.g. in a restart) with a stateless reset, so that the client drops it at
 * once instead of waiting for its idle timeout.  The reset is shorter than
 * the packet that caused it (no reset loops) and rate-limited (RFC 9000
 * §10.3); the token comes from the key-derived secret and the packet's DCID.
 */
static void
srv_send_reset(struct quic_server *srv, const uint8_t *dcid, size_t dcidlen, size_t pktlen,
               const struct sockaddr_storage *ra, socklen_t rlen)
{
	enum { RAND_MAX_LEN = 40 };
	size_t min = 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN;
	if (pktlen <= min || dcidlen == 0 || dcidlen > NGTCP2_MAX_CIDLEN)
		return;
	ngtcp2_tstamp ts = now_ns();
	if (ts - srv->reset_window >= NGTCP2_SECONDS) {
		srv->reset_window = ts;
		srv->resets_in_window = 0;
	}
	if (srv->resets_in_window >= RESETS_PER_S)
		return;
	srv->resets_in_window++;
	ngtcp2_cid cid;
	ngtcp2_cid_init(&cid, dcid, dcidlen);
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
	if (ngtcp2_crypto_generate_stateless_reset_token(token, srv->secret, sizeof(srv->secret),
	                                                 &cid) != 0)
		return;
	size_t randlen = pktlen - 1 - min + NGTCP2_MIN_STATELESS_RESET_RANDLEN;
	if (randlen > RAND_MAX_LEN)
		randlen = RAND_MAX_LEN;
	uint8_t rnd[RAND_MAX_LEN];
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, randlen) != 0)
		return;
	uint8_t out[1 + RAND_MAX_LEN + NGTCP2_STATELESS_RESET_TOKENLEN];
	ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(out, sizeof(out), token, rnd, randlen);
	if (n > 0) {
		srv_send(srv, ra, rlen, out, (size_t)n);
		stat_add(&srv->st.stateless_resets, 1);
	}
}

static void
srv_send_vn(struct quic_server *srv, const ngtcp2_version_cid *vc,
            const struct sockaddr_storage *ra, socklen_t rlen)
{
	uint8_t out[256];
	uint8_t r = 0;
	(void)gnutls_rnd(GNUTLS_RND_NONCE, &r, 1);
	const uint32_t sv[] = { NGTCP2_PROTO_VER_V1 };
	ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(out, sizeof(out), r, vc->scid,
	                                                      vc->scidlen, vc->dcid, vc->dcidlen,
	                                                      sv, 1);
	if (n > 0)
		srv_send(srv, ra, rlen, out, (size_t)n);
}

/* Reads one packet into `c`; returns 0, or -1 when the connection was freed. */
static int
sconn_read(struct sconn *c, const uint8_t *pkt, size_t len)
{
	ngtcp2_path path = srv_path(c->srv, &c->remote, c->remotelen);
	ngtcp2_pkt_info pi;
	memset(&pi, 0, sizeof(pi));
	int rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, len, now_ns());
	if (rv != 0) {
		if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_DROP_CONN ||
		    rv == NGTCP2_ERR_RETRY) {
			struct quic_server *srv = c->srv;
			if (!c->handshake_done) {
				char ab[ADDR_TEXT_MAX];
				stat_add(&srv->st.handshake_failures, 1);
				if (log_ok(&srv->log_hs, now_ns()))
					log_info(NULL, "QUIC, remote %s, handshake failed (closed by the "
					         "client)", addr_fmt((const struct sockaddr *)&c->remote,
					                             ab, sizeof(ab)));
			}
			sconn_free(c);
			return -1;
		}
		if (!ngtcp2_err_is_fatal(rv) && rv != NGTCP2_ERR_CRYPTO &&
		    rv != NGTCP2_ERR_CALLBACK_FAILURE)
			return 0;
		sconn_fail(c, rv, "read failed");
		return -1;
	}
	if (c->close_pending) {
		sconn_app_close(c);
		return -1;
	}
	c->want_write = true;
	return 0;
}

static void
srv_new_conn(struct quic_server *srv, const uint8_t *pkt, size_t len,
             const struct sockaddr_storage *ra, socklen_t rlen)
{
	ngtcp2_pkt_hd hd;
	if (ngtcp2_accept(&hd, pkt, len) != 0)
		return;
	ngtcp2_tstamp ts = now_ns();
	ngtcp2_cid odcid;
	bool validated = false, retried = false;
	if (hd.token.len > 0) {
		if (hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
			if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len,
			                                     srv->secret, sizeof(srv->secret),
			                                     hd.version, (const ngtcp2_sockaddr *)ra,
			                                     rlen, &hd.dcid, RETRY_TOKEN_TTL, ts) != 0)
				return;         /* forged or stale Retry token: drop */
			validated = retried = true;
		} else if (hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR) {
			validated = ngtcp2_crypto_verify_regular_token(
				hd.token.base, hd.token.len, srv->secret, sizeof(srv->secret),
				(const ngtcp2_sockaddr *)ra, rlen, REGULAR_TOKEN_TTL, ts) == 0;
		}
	}
	if (!validated && (srv->cfg.retry_always || srv->pending_hs >= srv->cfg.retry_threshold)) {
		srv_send_retry(srv, &hd, ra, rlen);
		return;
	}
	struct sconn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->srv = srv;
	memcpy(&c->remote, ra, rlen);
	c->remotelen = rlen;
	c->id = ++srv->next_id;
	c->ref.get_conn = get_conn_ref;
	c->ref.user_data = c;
	bool refuse = srv->nconns >= srv->cfg.max_conns ||
	              srv_count_addr(srv, ra) >= srv->cfg.max_conns_per_addr;

	ngtcp2_cid scid;
	ngtcp2_settings st;
	ngtcp2_transport_params params;
	settings_init(&st, srv->cfg.handshake_timeout_ms);
	if (hd.token.len > 0 && !retried) {
		st.token.base = hd.token.base;
		st.token.len = hd.token.len;
	}
	transport_params(&params, true, srv->cfg.idle_timeout_ms, srv->cfg.max_streams);
	params.original_dcid = retried ? odcid : hd.dcid;
	if (retried) {
		params.retry_scid = hd.dcid;
		params.retry_scid_present = 1;
	}
	params.stateless_reset_token_present = 1;
	do {
		if (random_cid(&scid, SCID_LEN) != 0) {
			free(c);
			return;
		}
	} while (cid_find(srv, scid.data, scid.datalen) != NULL);
	if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, srv->secret,
	                                                 sizeof(srv->secret), &scid) != 0) {
		free(c);
		return;
	}
	ngtcp2_path path = srv_path(srv, &c->remote, c->remotelen);
	if (ngtcp2_conn_server_new(&c->conn, &hd.scid, &scid, &path, hd.version, &srv_callbacks,
	                           &st, &params, NULL, c) != 0) {
		free(c);
		return;
	}
	/* accounted from here on: sconn_free() undoes it */
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	srv->pending_hs++;
	stat_add(&srv->st.conns_open, 1);
	if (tls_session_new(&c->tls, true, srv->cred, DOQ_ALPN, &c->ref) != 0) {
		sconn_free(c);
		return;
	}
	ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
	if (cid_add(srv, &scid, c) != 0 || cid_add(srv, &hd.dcid, c) != 0) {
		sconn_free(c);
		return;
	}
	if (refuse) {
		/* Finish reading the Initial so the close is readable, then refuse. */
		char ab[ADDR_TEXT_MAX];
		stat_add(&srv->st.conns_refused, 1);
		if (log_ok(&srv->log_limit, ts))
			log_notice(NULL, "QUIC, remote %s, connection refused, limit of %u connections"
			           " (%u per address) reached",
			           addr_fmt((const struct sockaddr *)ra, ab, sizeof(ab)),
			           srv->cfg.max_conns, srv->cfg.max_conns_per_addr);
		ngtcp2_path p2 = srv_path(srv, &c->remote, c->remotelen);
		ngtcp2_pkt_info pi;
		memset(&pi, 0, sizeof(pi));
		(void)ngtcp2_conn_read_pkt(c->conn, &p2, &pi, pkt, len, ts);
		ngtcp2_connection_close_error cc;
		ngtcp2_connection_close_error_default(&cc);
		ngtcp2_connection_close_error_set_application_error(&cc, DOQ_EXCESSIVE_LOAD, NULL, 0);
		c->handshake_done = true;       /* not a handshake failure */
		srv->pending_hs--;
		sconn_close_now(c, &cc);
		return;
	}
	stat_add(&srv->st.conns_accepted, 1);
	(void)sconn_read(c, pkt, len);
}

static void
srv_on_packet(struct quic_server *srv, const uint8_t *pkt, size_t len,
              const struct sockaddr_storage *ra, socklen_t rlen)
{
	stat_add(&srv->st.pkts_rx, 1);
	stat_add(&srv->st.bytes_rx, len);
	ngtcp2_version_cid vc;
	int rv = ngtcp2_pkt_decode_version_cid(&vc, pkt, len, SCID_LEN);
	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
		srv_send_vn(srv, &vc, ra, rlen);
		return;
	}
	if (rv != 0)
		return;
	struct sconn *c = cid_find(srv, vc.dcid, vc.dcidlen);
	if (c != NULL) {
		(void)sconn_read(c, pkt, len);
		return;
	}
	if (vc.version == 0) {
		/* short header for an unknown connection */
		srv_send_reset(srv, vc.dcid, vc.dcidlen, len, ra, rlen);
		return;
	}
	srv_new_conn(srv, pkt, len, ra, rlen);
}

static void
srv_read_socket(struct quic_server *srv)
{
	enum { BATCH = 32, DGRAM = 1500 };
	static __thread uint8_t bufs[BATCH][DGRAM];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = DGRAM;
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		int n = recvmmsg(srv->fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++)
			srv_on_packet(srv, bufs[i], mm[i].msg_len, &from[i], mm[i].msg_hdr.msg_namelen);
		if (n < BATCH)
			return;
	}
}

static void
srv_timers_and_writes(struct quic_server *srv)
{
	ngtcp2_tstamp ts = now_ns();
	struct sconn *c = srv->conns;
	while (c != NULL) {
		struct sconn *next = c->next;
		if (ngtcp2_conn_get_expiry(c->conn) <= ts) {
			int rv = ngtcp2_conn_handle_expiry(c->conn, ts);
			if (rv != 0) {
				if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
					if (!c->handshake_done)
						stat_add(&srv->st.handshake_failures, 1);
					sconn_free(c);
				} else {
					sconn_fail(c, rv, "timer");
				}
				c = next;
				continue;
			}
			c->want_write = true;
		}
		if (c->want_write || c->more)
			(void)sconn_write(c);
		c = next;
	}
}

static bool
srv_any_more(struct quic_server *srv)
{
	for (struct sconn *c = srv->conns; c != NULL; c = c->next) {
		if (c->more || c->want_write)
			return true;
	}
	return false;
}

/* Arms the timer for the earliest expiry; true when one has passed already. */
static bool
srv_arm(struct quic_server *srv)
{
	ngtcp2_tstamp min = UINT64_MAX;
	for (struct sconn *c = srv->conns; c != NULL; c = c->next) {
		ngtcp2_tstamp e = ngtcp2_conn_get_expiry(c->conn);
		if (e < min)
			min = e;
	}
	return arm_timer(srv->tfd, &srv->tarmed, min);
}

static void *
srv_thread(void *arg)
{
	struct quic_server *srv = arg;
	struct epoll_event ev[4];
	bool due = false;
	while (!atomic_load(&srv->stop)) {
		int timeout = due || srv_any_more(srv) ? 0 : 1000;
		int n = epoll_wait(srv->epfd, ev, 4, timeout);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == srv->efd)
				drain_fd(srv->efd);
			else if (ev[i].data.fd == srv->tfd) {
				drain_fd(srv->tfd);
				srv->tarmed = UINT64_MAX;
			} else if (ev[i].data.fd == srv->fd)
				srv_read_socket(srv);
		}
		srv_flush_replies(srv);
		srv_timers_and_writes(srv);
		due = srv_arm(srv);
	}
	return NULL;
}

static int
loop_fds(int *efd, int *tfd, int *epfd)
{
	*efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	*tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	*epfd = epoll_create1(EPOLL_CLOEXEC);
	if (*efd < 0 || *tfd < 0 || *epfd < 0)
		return -errno;
	struct epoll_event e = { .events = EPOLLIN };
	e.data.fd = *efd;
	if (epoll_ctl(*epfd, EPOLL_CTL_ADD, *efd, &e) != 0)
		return -errno;
	e.data.fd = *tfd;
	if (epoll_ctl(*epfd, EPOLL_CTL_ADD, *tfd, &e) != 0)
		return -errno;
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void
quic_server_free(struct quic_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->started) {
		atomic_store(&srv->stop, true);
		wake_fd(srv->efd);
		pthread_join(srv->thread, NULL);
	}
	/* streams go first, so workers blocked in quic_reply_wait() see -ECONNRESET */
	while (srv->conns != NULL) {
		ngtcp2_connection_close_error cc;
		ngtcp2_connection_close_error_default(&cc);
		ngtcp2_connection_close_error_set_application_error(&cc, DOQ_NO_ERROR, NULL, 0);
		sconn_close_now(srv->conns, &cc);
	}
	if (srv->nworkers > 0) {
		pthread_mutex_lock(&srv->lock);
		srv->workers_stop = true;
		pthread_cond_broadcast(&srv->job_cv);
		pthread_mutex_unlock(&srv->lock);
		for (unsigned i = 0; i < srv->nworkers; i++)
			pthread_join(srv->workers[i], NULL);
		/* queued jobs never started: their replies are orphans now */
		while (srv->jobs != NULL) {
			struct job *j = srv->jobs;
			srv->jobs = j->next;
			quic_reply_abort(j->r, DOQ_INTERNAL_ERROR);
			free(j);
		}
	}
	free(srv->workers);
	srv_flush_replies(srv);
	for (unsigned i = 0; i < CID_BUCKETS; i++) {
		while (srv->cids[i] != NULL) {
			struct cid_ent *e = srv->cids[i];
			srv->cids[i] = e->next;
			free(e);
		}
	}
	close_fd(&srv->fd);
	close_fd(&srv->efd);
	close_fd(&srv->tfd);
	close_fd(&srv->epfd);
	if (srv->cred != NULL)
		gnutls_certificate_free_credentials(srv->cred);
	pthread_cond_destroy(&srv->backlog_cv);
	pthread_cond_destroy(&srv->job_cv);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

int
quic_server_new(const struct quic_server_cfg *cfg, struct quic_server **out)
{
	if (cfg == NULL || cfg->listen == NULL || cfg->key_file == NULL || cfg->handler == NULL)
		return -EINVAL;
	struct quic_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -ENOMEM;
	srv->fd = srv->efd = srv->tfd = srv->epfd = -1;
	srv->tarmed = UINT64_MAX;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->backlog_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&srv->job_cv, NULL);
	srv->cfg = *cfg;
	struct quic_server_cfg *c = &srv->cfg;
	if (c->max_conns == 0)
		c->max_conns = 1024;
	if (c->max_conns_per_addr == 0)
		c->max_conns_per_addr = 256;
	if (c->max_streams == 0)
		c->max_streams = 1024;
	if (c->idle_timeout_ms == 0)
		c->idle_timeout_ms = 60000;
	if (c->handshake_timeout_ms == 0)
		c->handshake_timeout_ms = 5000;
	if (c->retry_threshold == 0)
		c->retry_threshold = 64;
	int ret = addr_parse(c->listen, 8853, &srv->local, &srv->locallen);
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	if (ret != 0)
		goto fail;
	ret = key_load_or_create(c->key_file, &key);
	if (ret == 0)
		ret = privkey_pin(key, srv->pin);
	if (ret == 0)
		ret = key_secret(key, srv->secret);
	if (ret == 0)
		ret = make_cert(key, &crt);
	if (ret == 0 && gnutls_certificate_allocate_credentials(&srv->cred) < 0)
		ret = -ENOMEM;
	if (ret == 0 && gnutls_certificate_set_x509_key(srv->cred, &crt, 1, key) < 0)
		ret = -EINVAL;
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	if (ret != 0)
		goto fail;
	srv->fd = udp_socket(srv->local.ss_family);
	if (srv->fd < 0) {
		ret = srv->fd;
		goto fail;
	}
	if (bind(srv->fd, (struct sockaddr *)&srv->local, srv->locallen) != 0) {
		ret = -errno;
		goto fail;
	}
	srv->locallen = sizeof(srv->local);
	if (getsockname(srv->fd, (struct sockaddr *)&srv->local, &srv->locallen) != 0) {
		ret = -errno;
		goto fail;
	}
	ret = loop_fds(&srv->efd, &srv->tfd, &srv->epfd);
	if (ret != 0)
		goto fail;
	struct epoll_event e = { .events = EPOLLIN };
	e.data.fd = srv->fd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->fd, &e) != 0) {
		ret = -errno;
		goto fail;
	}
	if (c->workers > 0) {
		srv->workers = calloc(c->workers, sizeof(*srv->workers));
		if (srv->workers == NULL) {
			ret = -ENOMEM;
			goto fail;
		}
		for (; srv->nworkers < c->workers; srv->nworkers++) {
			ret = -pthread_create(&srv->workers[srv->nworkers], NULL, worker_thread, srv);
			if (ret != 0)
				goto fail;
		}
	}
	ret = -pthread_create(&srv->thread, NULL, srv_thread, srv);
	if (ret != 0)
		goto fail;
	srv->started = true;
	char ab[ADDR_TEXT_MAX];
	log_debug(NULL, "QUIC, listening on %s, key pin %s",
	           addr_fmt((const struct sockaddr *)&srv->local, ab, sizeof(ab)), srv->pin);
	*out = srv;
	return 0;
fail:
	quic_server_free(srv);
	return ret;
}

uint16_t
quic_server_port(const struct quic_server *srv)
{
	return addr_port((const struct sockaddr *)&srv->local);
}

const char *
quic_server_pin(const struct quic_server *srv)
{
	return srv->pin;
}

void
quic_server_stats(const struct quic_server *srv, struct quic_stats *st)
{
	stats_copy(st, &srv->st);
}

/* ------------------------------------------------------------------ client */

struct creq {
	struct quic_client *cl;
	struct sendq q;
	struct doq_rx rx;
	quic_msg_fn on_msg;
	quic_done_fn on_done;
	void *ctx;
	int64_t sid;             /* -1 until a stream is open */
	bool raw;                /* test mode: answer content ignored, no framing rules */
	bool got_data;           /* some answer arrived: never sent again */
	bool resent;             /* already sent again once on a new connection */
	uint8_t *query;          /* the framed query, kept to send it again */
	size_t qlen;
	bool finished;           /* answer complete (FIN) or failed; see fail_* */
	bool reset_needed;       /* failed on our side: reset the stream outside callbacks */
	int fail_status;
	uint64_t fail_code;
	ngtcp2_tstamp deadline;  /* 0: none */
	atomic_int *cancel;      /* set from another thread: cancel at the next loop turn */
	struct creq *prev, *next;
};

enum cstate { CL_IDLE, CL_CONNECTING, CL_READY };

struct quic_client {
	struct quic_client_cfg cfg;
	char pin[QUIC_PIN_LEN];
	char alpn[32];
	struct sockaddr_storage remote, local;
	socklen_t remotelen, locallen;
	int fd, efd, tfd, epfd;
	ngtcp2_tstamp tarmed;             /* when tfd fires; UINT64_MAX: not armed */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t lock;            /* guards `submit` and peer_pin */
	struct creq *submit;             /* handed in by other threads, LIFO */
	/* owned by the client thread */
	enum cstate state;
	ngtcp2_conn *conn;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	ngtcp2_crypto_conn_ref ref;
	bool pin_failed;
	bool more;
	bool keepalive;
	ngtcp2_duration keepalive_ns;    /* PING interval on an idle connection */
	ngtcp2_tstamp last_rx;           /* last packet addressed to this connection read */
	ngtcp2_tstamp conn_start;
	ngtcp2_tstamp watch_until;       /* check for a dead connection until then */
	atomic_bool kick;                /* quic_client_server_alive() or a timeout */
	struct creq *waiting, *active;   /* waiting: no stream yet */
	char peer_pin[QUIC_PIN_LEN];
	struct quic_stats st;
	uint8_t buf[PKT_BUF];
	uint8_t rbuf[32][1500];          /* recvmmsg batch */
};

static void
list_add(struct creq **head, struct creq *r)
{
	r->prev = NULL;
	r->next = *head;
	if (*head != NULL)
		(*head)->prev = r;
	*head = r;
}

static void
list_del(struct creq **head, struct creq *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		*head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void
creq_finish(struct quic_client *cl, struct creq *r, int status, uint64_t app)
{
	list_del(r->sid >= 0 ? &cl->active : &cl->waiting, r);
	if (r->sid >= 0 && cl->conn != NULL) {
		stat_add(&cl->st.pkts_lost, ngtcp2_conn_get_stream_loss_count(cl->conn, r->sid));
		(void)ngtcp2_conn_set_stream_user_data(cl->conn, r->sid, NULL);
	}
	if (status != 0)
		stat_add(&cl->st.stream_errors, 1);
	r->on_done(r->ctx, status, app);
	doq_rx_clear(&r->rx);
	sendq_clear(&r->q);
	free(r->query);
	free(r);
}

/* Appends `r` to the waiting list (streams open in order). */
static void
waiting_append(struct quic_client *cl, struct creq *r)
{
	r->next = r->prev = NULL;
	if (cl->waiting == NULL) {
		cl->waiting = r;
		return;
	}
	struct creq *t = cl->waiting;
	while (t->next != NULL)
		t = t->next;
	t->next = r;
	r->prev = t;
}

/*
 * Takes an active request off its lost connection and queues it for the
 * next one: the query again from its first byte.  Only for requests that
 * got no answer yet and were not sent again before (DNS queries are
 * idempotent; a partly answered transfer is the caller's to retry).
 * Returns false when `r` does not qualify.
 */
static bool
creq_requeue(struct quic_client *cl, struct creq *r, ngtcp2_tstamp ts)
{
	if (r->got_data || r->resent || r->finished || r->raw || r->query == NULL ||
	    (r->cancel != NULL && atomic_load(r->cancel) != 0) ||
	    (r->deadline != 0 && ts >= r->deadline))
		return false;
	struct chunk *c = chunk_new(r->qlen);
	if (c == NULL)
		return false;
	memcpy(c->data, r->query, r->qlen);
	list_del(&cl->active, r);
	if (cl->conn != NULL)
		(void)ngtcp2_conn_set_stream_user_data(cl->conn, r->sid, NULL);
	sendq_clear(&r->q);
	sendq_push(&r->q, c);
	r->q.fin_wanted = true;
	doq_rx_clear(&r->rx);
	doq_rx_init(&r->rx, DOQ_RX_RESPONSE);
	r->sid = -1;
	r->resent = true;
	waiting_append(cl, r);
	return true;
}

static ngtcp2_conn *
cl_get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct quic_client *)ref->user_data)->conn;
}

/* GnuTLS certificate check: the server key's SPKI SHA-256 must equal the pin. */
static int
cl_verify(gnutls_session_t s)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	struct quic_client *cl = ref->user_data;
	char ab[ADDR_TEXT_MAX], pin[QUIC_PIN_LEN];
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	gnutls_pubkey_t pk = NULL;
	int ret = -1;
	addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
	if (certs == NULL || n == 0 || gnutls_pubkey_init(&pk) < 0)
		goto out;
	if (gnutls_pubkey_import_x509_raw(pk, &certs[0], GNUTLS_X509_FMT_DER, 0) < 0 ||
	    pubkey_pin(pk, pin) != 0)
		goto out;
	pthread_mutex_lock(&cl->lock);
	memcpy(cl->peer_pin, pin, sizeof(pin));
	pthread_mutex_unlock(&cl->lock);
	if (cl->pin[0] != '\0') {
		if (strcmp(pin, cl->pin) == 0) {
			ret = 0;
		} else {
			cl->pin_failed = true;
			log_error(NULL, "QUIC, remote %s, server key pin %s does not match %s, refused",
			          ab, pin, cl->pin);
		}
	} else if (cl->cfg.insecure) {
		log_warning(NULL, "QUIC, remote %s, server key not verified (insecure), pin %s",
		            ab, pin);
		ret = 0;
	}
out:
	if (pk != NULL)
		gnutls_pubkey_deinit(pk);
	return ret;
}

static int
cl_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
	(void)conn;
	struct quic_client *cl = user_data;
	gnutls_datum_t alpn;
	if (gnutls_alpn_get_selected_protocol(cl->tls, &alpn) != 0 ||
	    alpn.size != strlen(cl->alpn) || memcmp(alpn.data, cl->alpn, alpn.size) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	cl->state = CL_READY;
	stat_add(&cl->st.handshakes_done, 1);
	return 0;
}

static int
cl_recv_stateless_reset(ngtcp2_conn *conn, const ngtcp2_pkt_stateless_reset *sr,
                        void *user_data)
{
	(void)conn;
	(void)sr;
	struct quic_client *cl = user_data;
	char ab[ADDR_TEXT_MAX];
	stat_add(&cl->st.stateless_resets, 1);
	log_notice(NULL, "QUIC, remote %s, connection reset by the server (stateless reset: "
	           "it restarted or lost the connection)",
	           addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab)));
	return 0;
}

static int
cl_on_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct creq *r = ctx;
	if (r->on_msg == NULL)
		return 0;
	int ret = r->on_msg(r->ctx, msg, len);
	return ret != 0 ? -ECANCELED : 0;
}

static int
cl_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
                    const uint8_t *data, size_t datalen, void *user_data,
                    void *stream_user_data)
{
	(void)offset;
	(void)user_data;
	struct creq *r = stream_user_data;
	ngtcp2_conn_extend_max_stream_offset(conn, stream_id, datalen);
	ngtcp2_conn_extend_max_offset(conn, datalen);
	if (r == NULL || r->finished)
		return 0;
	r->got_data = true;
	bool fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
	int ret = r->raw ? 0 : doq_rx_feed(&r->rx, data, datalen, fin, cl_on_msg, r);
	if (ret != 0) {
		/* RFC 9250 §4.3.3: a framing violation by the server is a protocol error */
		r->finished = true;
		r->reset_needed = true;
		r->fail_status = ret == -ECANCELED ? -ECANCELED : ret == -EPROTO ? -EPROTO : ret;
		r->fail_code = ret == -EPROTO ? DOQ_PROTOCOL_ERROR : DOQ_REQUEST_CANCELLED;
		if (ret == -EPROTO) {
			char ab[ADDR_TEXT_MAX];
			log_warning(NULL, "QUIC, remote %s, bad answer stream, %s",
			            addr_fmt((const struct sockaddr *)&r->cl->remote, ab, sizeof(ab)),
			            r->rx.why);
		}
	} else if (fin) {
		r->finished = true;
	}
	return 0;
}

static int
cl_acked(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen,
         void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	(void)user_data;
	struct creq *r = stream_user_data;
	if (r != NULL)
		sendq_ack(&r->q, offset + datalen);
	return 0;
}

static int
cl_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
                void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	struct quic_client *cl = user_data;
	struct creq *r = stream_user_data;
	if (r == NULL)
		return 0;
	if (r->finished) {
		creq_finish(cl, r, r->fail_status, r->fail_status != 0 ? r->fail_code : 0);
	} else if (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) {
		creq_finish(cl, r, -EPROTO, app_error_code);
	} else {
		creq_finish(cl, r, -ECONNRESET, 0);
	}
	return 0;
}

static int
cl_stream_reset(ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size,
                uint64_t app_error_code, void *user_data, void *stream_user_data)
{
	(void)conn;
	(void)stream_id;
	(void)final_size;
	struct quic_client *cl = user_data;
	struct creq *r = stream_user_data;
	if (r != NULL && !r->finished)
		creq_finish(cl, r, -EPROTO, app_error_code);
	return 0;
}

static int
cl_get_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
               void *user_data)
{
	(void)conn;
	(void)user_data;
	if (random_cid(cid, cidlen) != 0 ||
	    gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static const ngtcp2_callbacks cl_callbacks = {
	.client_initial = ngtcp2_crypto_client_initial_cb,
	.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
	.handshake_completed = cl_handshake_completed,
	.encrypt = ngtcp2_crypto_encrypt_cb,
	.decrypt = ngtcp2_crypto_decrypt_cb,
	.hp_mask = ngtcp2_crypto_hp_mask_cb,
	.recv_stream_data = cl_recv_stream_data,
	.acked_stream_data_offset = cl_acked,
	.stream_close = cl_stream_close,
	.recv_retry = ngtcp2_crypto_recv_retry_cb,
	.rand = rand_cb,
	.get_new_connection_id = cl_get_new_cid,
	.update_key = ngtcp2_crypto_update_key_cb,
	.stream_reset = cl_stream_reset,
	.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
	.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
	.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
	.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
	.recv_stateless_reset = cl_recv_stateless_reset,
};

static void
cl_drop_conn(struct quic_client *cl)
{
	if (cl->conn != NULL)
		ngtcp2_conn_del(cl->conn);
	cl->conn = NULL;
	if (cl->tls != NULL)
		gnutls_deinit(cl->tls);
	cl->tls = NULL;
	if (cl->fd >= 0) {
		(void)epoll_ctl(cl->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
		close(cl->fd);
	}
	cl->fd = -1;
	if (cl->state != CL_IDLE)
		stat_sub(&cl->st.conns_open, 1);
	cl->state = CL_IDLE;
	cl->more = false;
}

/*
 * Ends the connection: requests on streams fail; waiting ones fail too if it
 * never came up.  When an established connection is lost without an error
 * from the server (stateless reset, idle timeout, silence), requests that
 * got no answer yet go out again at once on a new connection.
 */
static void
cl_conn_lost(struct quic_client *cl, int status, uint64_t app)
{
	bool was_ready = cl->state == CL_READY;
	if (!was_ready)
		stat_add(&cl->st.handshake_failures, 1);
	unsigned again = 0;
	if (was_ready && status == -ECONNRESET && app == 0) {
		ngtcp2_tstamp ts = now_ns();
		for (struct creq *r = cl->active; r != NULL;) {
			struct creq *next = r->next;
			if (creq_requeue(cl, r, ts))
				again++;
			r = next;
		}
	}
	if (again > 0) {
		char ab[ADDR_TEXT_MAX];
		log_info(NULL, "QUIC, remote %s, connection lost, %u request%s sent again on a new "
		         "connection", addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab)),
		         again, again == 1 ? "" : "s");
	}
	while (cl->active != NULL)
		creq_finish(cl, cl->active, status, app);
	if (!was_ready) {
		while (cl->waiting != NULL)
			creq_finish(cl, cl->waiting, status, app);
	}
	cl_drop_conn(cl);
}

static void
cl_close(struct quic_client *cl, const ngtcp2_connection_close_error *cc, int status)
{
	if (cl->conn != NULL && !ngtcp2_conn_is_in_draining_period(cl->conn)) {
		ngtcp2_path_storage ps;
		ngtcp2_path_storage_zero(&ps);
		ngtcp2_pkt_info pi;
		ngtcp2_ssize n = ngtcp2_conn_write_connection_close(cl->conn, &ps.path, &pi, cl->buf,
		                                                    sizeof(cl->buf), cc, now_ns());
		if (n > 0)
			(void)send_pkt(cl->fd, (const struct sockaddr *)&cl->remote, cl->remotelen,
			               cl->buf, (size_t)n);
	}
	cl_conn_lost(cl, status, 0);
}

static void
cl_fail(struct quic_client *cl, int liberr)
{
	char ab[ADDR_TEXT_MAX];
	addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
	ngtcp2_connection_close_error cc;
	ngtcp2_connection_close_error_default(&cc);
	int status = cl->state == CL_READY ? -ECONNRESET : -ECONNREFUSED;
	if (liberr == NGTCP2_ERR_CRYPTO || liberr == NGTCP2_ERR_CALLBACK_FAILURE) {
		uint8_t alert = ngtcp2_conn_get_tls_alert(cl->conn);
		ngtcp2_connection_close_error_set_transport_error_tls_alert(&cc, alert ? alert : 40,
		                                                            NULL, 0);
		log_warning(NULL, "QUIC, remote %s, handshake failed (%s)", ab,
		            cl->pin_failed ? "server key does not match the pin"
		                           : ngtcp2_strerror(liberr));
	} else {
		ngtcp2_connection_close_error_set_transport_error_liberr(&cc, liberr, NULL, 0);
		log_warning(NULL, "QUIC, remote %s, connection failed (%s)", ab,
		            ngtcp2_strerror(liberr));
	}
	cl_close(cl, &cc, status);
}

static int
cl_connect(struct quic_client *cl)
{
	cl->pin_failed = false;
	cl->fd = udp_socket(cl->remote.ss_family);
	if (cl->fd < 0)
		return cl->fd;
	if (connect(cl->fd, (struct sockaddr *)&cl->remote, cl->remotelen) != 0) {
		int ret = -errno;
		close(cl->fd);
		cl->fd = -1;
		return ret;
	}
	cl->locallen = sizeof(cl->local);
	if (getsockname(cl->fd, (struct sockaddr *)&cl->local, &cl->locallen) != 0) {
		close(cl->fd);
		cl->fd = -1;
		return -errno;
	}
	struct epoll_event e = { .events = EPOLLIN };
	e.data.fd = cl->fd;
	(void)epoll_ctl(cl->epfd, EPOLL_CTL_ADD, cl->fd, &e);
	ngtcp2_cid dcid, scid;
	if (random_cid(&dcid, 16) != 0 || random_cid(&scid, 16) != 0)
		return -EIO;
	ngtcp2_settings st;
	ngtcp2_transport_params params;
	settings_init(&st, cl->cfg.handshake_timeout_ms);
	transport_params(&params, false, cl->cfg.idle_timeout_ms, 0);
	ngtcp2_path path;
	memset(&path, 0, sizeof(path));
	path.local.addr = (ngtcp2_sockaddr *)&cl->local;
	path.local.addrlen = cl->locallen;
	path.remote.addr = (ngtcp2_sockaddr *)&cl->remote;
	path.remote.addrlen = cl->remotelen;
	cl->ref.get_conn = cl_get_conn;
	cl->ref.user_data = cl;
	cl->state = CL_CONNECTING;
	stat_add(&cl->st.conns_open, 1);
	stat_add(&cl->st.conns_accepted, 1);
	if (ngtcp2_conn_client_new(&cl->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1,
	                           &cl_callbacks, &st, &params, NULL, cl) != 0) {
		cl_drop_conn(cl);
		return -ENOMEM;
	}
	if (tls_session_new(&cl->tls, false, cl->cred, cl->alpn, &cl->ref) != 0) {
		cl_drop_conn(cl);
		return -ENOMEM;
	}
	gnutls_session_set_verify_function(cl->tls, cl_verify);
	ngtcp2_conn_set_tls_native_handle(cl->conn, cl->tls);
	/* PINGs keep an idle connection open for the next NOTIFY-triggered transfer */
	if (cl->keepalive)
		ngtcp2_conn_set_keep_alive_timeout(cl->conn, cl->keepalive_ns);
	cl->conn_start = cl->last_rx = now_ns();
	return 0;
}

/* Opens streams for waiting requests while the server allows. */
static void
cl_open_streams(struct quic_client *cl)
{
	while (cl->state == CL_READY && cl->waiting != NULL) {
		struct creq *r = cl->waiting;
		int64_t sid;
		if (ngtcp2_conn_open_bidi_stream(cl->conn, &sid, r) != 0)
			return;
		list_del(&cl->waiting, r);
		r->sid = sid;
		list_add(&cl->active, r);
		stat_add(&cl->st.streams, 1);
	}
}

static void
cl_write(struct quic_client *cl)
{
	if (cl->conn == NULL)
		return;
	ngtcp2_tstamp ts = now_ns();
	size_t maxlen = ngtcp2_conn_get_path_max_tx_udp_payload_size(cl->conn);
	if (maxlen > sizeof(cl->buf))
		maxlen = sizeof(cl->buf);
	/* requests failed by a framing error, a cancel or a deadline: reset their streams */
	for (struct creq *r = cl->active; r != NULL;) {
		struct creq *next = r->next;
		if (r->reset_needed) {
			int64_t sid = r->sid;
			uint64_t code = r->fail_code;
			creq_finish(cl, r, r->fail_status, code);
			(void)ngtcp2_conn_shutdown_stream(cl->conn, sid, code);
		}
		r = next;
	}
	cl->more = false;
	unsigned npkts = 0;
	ngtcp2_pkt_info pi;
	memset(&pi, 0, sizeof(pi));
	struct creq *blocked_until = NULL;
	for (;;) {
		struct creq *r = cl->active;
		while (r != NULL && (r == blocked_until || !sendq_pending(&r->q)))
			r = r->next;
		ngtcp2_vec v[16];
		size_t nv = 0;
		bool all = true;
		uint32_t fl = NGTCP2_WRITE_STREAM_FLAG_MORE;
		int64_t sid = -1;
		if (r != NULL) {
			sid = r->sid;
			nv = sendq_vecs(&r->q, v, 16, &all);
			if (all && r->q.fin_wanted)
				fl |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		}
		ngtcp2_ssize ndatalen = -1;
		ngtcp2_ssize n = ngtcp2_conn_writev_stream(cl->conn, NULL, &pi, cl->buf, maxlen,
		                                           &ndatalen, fl, sid, v, nv, ts);
		if (n < 0) {
			if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
			    n == NGTCP2_ERR_STREAM_NOT_FOUND) {
				/* requests are small: a blocked one waits for the next round */
				r->q.fin_sent = n != NGTCP2_ERR_STREAM_DATA_BLOCKED;
				if (r->q.fin_sent)
					r->q.sent = r->q.queued;
				blocked_until = r;
				continue;
			}
			if (n == NGTCP2_ERR_WRITE_MORE) {
				if (r != NULL && ndatalen >= 0) {
					sendq_advance(&r->q, (size_t)ndatalen);
					if ((fl & NGTCP2_WRITE_STREAM_FLAG_FIN) && r->q.sent == r->q.queued)
						r->q.fin_sent = true;
				}
				continue;
			}
			cl_fail(cl, (int)n);
			return;
		}
		if (r != NULL && ndatalen >= 0) {
			sendq_advance(&r->q, (size_t)ndatalen);
			if ((fl & NGTCP2_WRITE_STREAM_FLAG_FIN) && r->q.sent == r->q.queued)
				r->q.fin_sent = true;
		}
		if (n == 0)
			break;
		if (send_pkt(cl->fd, (const struct sockaddr *)&cl->remote, cl->remotelen, cl->buf,
		             (size_t)n) == 0) {
			stat_add(&cl->st.pkts_tx, 1);
			stat_add(&cl->st.bytes_tx, (uint64_t)n);
		}
		if (++npkts >= MAX_PKTS_PER_WRITE) {
			cl->more = true;
			break;
		}
	}
	ngtcp2_conn_update_pkt_tx_time(cl->conn, ts);
}

/*
 * Whether a datagram read without error was addressed to this connection:
 * a short-header packet carries one of our connection ids.  (ngtcp2 drops
 * packets it cannot decrypt without an error, e.g. another server's
 * stateless reset, which must not count as a sign of life.)
 */
static bool
cl_pkt_is_ours(struct quic_client *cl, const uint8_t *pkt, size_t n)
{
	if (n == 0 || (pkt[0] & 0x80) != 0)
		return true;    /* long header: the handshake, checked by ngtcp2 */
	ngtcp2_cid ids[8];
	if (ngtcp2_conn_get_num_scid(cl->conn) > 8)
		return true;
	size_t k = ngtcp2_conn_get_scid(cl->conn, ids);
	for (size_t i = 0; i < k; i++) {
		if (n >= 1 + ids[i].datalen && memcmp(pkt + 1, ids[i].data, ids[i].datalen) == 0)
			return true;
	}
	return false;
}

/* Handles one datagram; returns false when the connection ended. */
static bool
cl_packet(struct quic_client *cl, const uint8_t *pkt, size_t n, struct sockaddr_storage *from,
          socklen_t fl)
{
	stat_add(&cl->st.pkts_rx, 1);
	stat_add(&cl->st.bytes_rx, n);
	ngtcp2_path path;
	memset(&path, 0, sizeof(path));
	path.local.addr = (ngtcp2_sockaddr *)&cl->local;
	path.local.addrlen = cl->locallen;
	path.remote.addr = (ngtcp2_sockaddr *)from;
	path.remote.addrlen = fl;
	ngtcp2_pkt_info pi;
	memset(&pi, 0, sizeof(pi));
	ngtcp2_tstamp ts = now_ns();
	int rv = ngtcp2_conn_read_pkt(cl->conn, &path, &pi, pkt, n, ts);
	if (rv == 0) {
		if (cl_pkt_is_ours(cl, pkt, n))
			cl->last_rx = ts;
		return true;
	}
	if (rv == NGTCP2_ERR_DRAINING) {
		ngtcp2_connection_close_error cc;
		ngtcp2_conn_get_connection_close_error(cl->conn, &cc);
		char ab[ADDR_TEXT_MAX];
		addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
		bool app = cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
		if (cc.error_code != 0)
			log_warning(NULL, "QUIC, remote %s, connection closed by the server, %s 0x%llx",
			            ab, app ? doq_error_str(cc.error_code) : "transport error",
			            (unsigned long long)cc.error_code);
		int status = cl->state == CL_READY ? (app && cc.error_code ? -EPROTO : -ECONNRESET)
		                                   : -ECONNREFUSED;
		cl_conn_lost(cl, status, app ? cc.error_code : 0);
		return false;
	}
	if (!ngtcp2_err_is_fatal(rv) && rv != NGTCP2_ERR_CRYPTO &&
	    rv != NGTCP2_ERR_CALLBACK_FAILURE)
		return true;
	cl_fail(cl, rv);
	return false;
}

static void
cl_read(struct quic_client *cl)
{
	enum { BATCH = 32 };
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	for (int round = 0; round < 8 && cl->conn != NULL; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = cl->rbuf[i];
			iov[i].iov_len = sizeof(cl->rbuf[i]);
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		int n = recvmmsg(cl->fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == ECONNREFUSED && cl->state != CL_READY)
				cl_conn_lost(cl, -ECONNREFUSED, 0);
			return;
		}
		for (int i = 0; i < n; i++) {
			if (!cl_packet(cl, cl->rbuf[i], mm[i].msg_len, &from[i],
			               mm[i].msg_hdr.msg_namelen))
				return;
		}
		if (n < BATCH)
			return;
	}
}

static void
cl_take_submissions(struct quic_client *cl)
{
	pthread_mutex_lock(&cl->lock);
	struct creq *r = cl->submit;
	cl->submit = NULL;
	pthread_mutex_unlock(&cl->lock);
	/* reverse to keep submission order */
	struct creq *rev = NULL;
	while (r != NULL) {
		struct creq *n = r->next;
		r->next = rev;
		rev = r;
		r = n;
	}
	while (rev != NULL) {
		struct creq *n = rev->next;
		waiting_append(cl, rev);
		rev = n;
	}
	if (cl->waiting != NULL && cl->state == CL_IDLE) {
		int ret = cl_connect(cl);
		if (ret != 0) {
			while (cl->waiting != NULL)
				creq_finish(cl, cl->waiting, -ECONNREFUSED, 0);
		}
	}
}

static void
cl_deadlines(struct quic_client *cl, ngtcp2_tstamp ts)
{
	for (struct creq *r = cl->waiting; r != NULL;) {
		struct creq *next = r->next;
		if (r->cancel != NULL && atomic_load(r->cancel) != 0)
			creq_finish(cl, r, -ECANCELED, 0);
		else if (r->deadline != 0 && ts >= r->deadline)
			creq_finish(cl, r, -ETIMEDOUT, 0);
		r = next;
	}
	for (struct creq *r = cl->active; r != NULL; r = r->next) {
		if (r->finished)
			continue;
		bool cancel = r->cancel != NULL && atomic_load(r->cancel) != 0;
		if (cancel || (r->deadline != 0 && ts >= r->deadline)) {
			if (!cancel)
				atomic_store(&cl->kick, true);   /* a timeout: is the connection dead? */
			r->finished = true;
			r->reset_needed = true;
			r->fail_status = cancel ? -ECANCELED : -ETIMEDOUT;
			r->fail_code = DOQ_REQUEST_CANCELLED;
		}
	}
}

static ngtcp2_tstamp
cl_next_deadline(struct quic_client *cl)
{
	ngtcp2_tstamp min = cl->conn != NULL ? ngtcp2_conn_get_expiry(cl->conn) : UINT64_MAX;
	for (struct creq *r = cl->waiting; r != NULL; r = r->next) {
		if (r->deadline != 0 && r->deadline < min)
			min = r->deadline;
	}
	for (struct creq *r = cl->active; r != NULL; r = r->next) {
		if (r->deadline != 0 && !r->finished && r->deadline < min)
			min = r->deadline;
	}
	return min;
}

static void
cl_timers(struct quic_client *cl)
{
	ngtcp2_tstamp ts = now_ns();
	cl_deadlines(cl, ts);
	if (cl->conn == NULL)
		return;
	if (ngtcp2_conn_get_expiry(cl->conn) > ts)
		return;
	int rv = ngtcp2_conn_handle_expiry(cl->conn, ts);
	if (rv == 0)
		return;
	if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
		int status = cl->state == CL_READY ? -ECONNRESET : -ETIMEDOUT;
		if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
			char ab[ADDR_TEXT_MAX];
			log_warning(NULL, "QUIC, remote %s, handshake timed out",
			            addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab)));
		}
		cl_conn_lost(cl, status, 0);
		return;
	}
	cl_fail(cl, rv);
}

/*
 * For a few seconds after a NOTIFY (the server is up) or a request timeout:
 * a connection that has not heard from the server for longer than the
 * keep-alive interval plus a second, or whose last two probe timeouts went
 * unanswered, is dead or left over from before a restart.  Drop it so that
 * requests go out at once on a new one instead of waiting for the idle
 * timeout.  A handshake that got no answer is restarted the same way.
 */
static void
cl_check_stale(struct quic_client *cl)
{
	if (cl->conn == NULL)
		return;
	ngtcp2_tstamp ts = now_ns();
	ngtcp2_duration silent = ts - cl->last_rx;
	ngtcp2_conn_stat cs;
	ngtcp2_conn_get_conn_stat(cl->conn, &cs);
	/* Silent past a keep-alive round, or two probe timeouts in a row unanswered. */
	bool stale = silent > cl->keepalive_ns + NGTCP2_SECONDS ||
	             (cs.pto_count >= 2 && silent > 500 * NGTCP2_MILLISECONDS);
	if (!stale)
		return;
	cl->watch_until = 0;
	char ab[ADDR_TEXT_MAX];
	addr_fmt((const struct sockaddr *)&cl->remote, ab, sizeof(ab));
	if (cl->state != CL_READY) {
		if (ts - cl->conn_start <= NGTCP2_SECONDS)
			return;
		log_info(NULL, "QUIC, remote %s, handshake unanswered for %llu ms, starting over", ab,
		         (unsigned long long)((ts - cl->conn_start) / NGTCP2_MILLISECONDS));
		stat_add(&cl->st.handshake_failures, 1);
		cl_drop_conn(cl);   /* waiting requests stay: cl_take_submissions reconnects */
		return;
	}
	log_notice(NULL, "QUIC, remote %s, nothing heard from the server for %llu ms, "
	           "reconnecting", ab,
	           (unsigned long long)((ts - cl->last_rx) / NGTCP2_MILLISECONDS));
	ngtcp2_connection_close_error cc;
	ngtcp2_connection_close_error_default(&cc);
	ngtcp2_connection_close_error_set_application_error(&cc, DOQ_NO_ERROR, NULL, 0);
	cl_close(cl, &cc, -ECONNRESET);
}

static void *
cl_thread(void *arg)
{
	struct quic_client *cl = arg;
	struct epoll_event ev[4];
	bool due = false;
	while (!atomic_load(&cl->stop)) {
		int n = epoll_wait(cl->epfd, ev, 4, due || cl->more ? 0 : 1000);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == cl->efd)
				drain_fd(cl->efd);
			else if (ev[i].data.fd == cl->tfd) {
				drain_fd(cl->tfd);
				cl->tarmed = UINT64_MAX;
			} else if (ev[i].data.fd == cl->fd)
				cl_read(cl);
		}
		/* after a kick, watch a while: a request sent on a dead connection
		 * shows it by unanswered probes within a second or so */
		if (atomic_exchange(&cl->kick, false))
			cl->watch_until = now_ns() + 5 * NGTCP2_SECONDS;
		if (cl->watch_until != 0 && now_ns() < cl->watch_until)
			cl_check_stale(cl);
		cl_take_submissions(cl);
		cl_timers(cl);
		cl_open_streams(cl);
		cl_write(cl);
		if (cl->conn != NULL && cl->state == CL_READY && cl->active == NULL &&
		    cl->waiting == NULL && ngtcp2_conn_is_in_closing_period(cl->conn))
			cl_drop_conn(cl);
		due = arm_timer(cl->tfd, &cl->tarmed, cl_next_deadline(cl));
	}
	/* shutting down: polite close, then cancel what is left */
	if (cl->conn != NULL && cl->state == CL_READY) {
		ngtcp2_connection_close_error cc;
		ngtcp2_connection_close_error_default(&cc);
		ngtcp2_connection_close_error_set_application_error(&cc, DOQ_NO_ERROR, NULL, 0);
		cl_close(cl, &cc, -ECANCELED);
	}
	while (cl->active != NULL)
		creq_finish(cl, cl->active, -ECANCELED, 0);
	cl_take_submissions(cl);
	while (cl->waiting != NULL)
		creq_finish(cl, cl->waiting, -ECANCELED, 0);
	cl_drop_conn(cl);
	return NULL;
}

void
quic_client_free(struct quic_client *cl)
{
	if (cl == NULL)
		return;
	if (cl->started) {
		atomic_store(&cl->stop, true);
		wake_fd(cl->efd);
		pthread_join(cl->thread, NULL);
	}
	close_fd(&cl->fd);
	close_fd(&cl->efd);
	close_fd(&cl->tfd);
	close_fd(&cl->epfd);
	if (cl->cred != NULL)
		gnutls_certificate_free_credentials(cl->cred);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

int
quic_client_new(const struct quic_client_cfg *cfg, struct quic_client **out)
{
	if (cfg == NULL || cfg->remote == NULL)
		return -EINVAL;
	if ((cfg->pin == NULL || cfg->pin[0] == '\0') && !cfg->insecure)
		return -EINVAL;
	struct quic_client *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return -ENOMEM;
	cl->fd = cl->efd = cl->tfd = cl->epfd = -1;
	cl->tarmed = UINT64_MAX;
	pthread_mutex_init(&cl->lock, NULL);
	cl->cfg = *cfg;
	cl->cfg.pin = NULL;
	cl->cfg.remote = NULL;
	cl->cfg.alpn = NULL;
	if (cl->cfg.idle_timeout_ms == 0)
		cl->cfg.idle_timeout_ms = 10000;
	if (cl->cfg.handshake_timeout_ms == 0)
		cl->cfg.handshake_timeout_ms = 5000;
	cl->keepalive = !cfg->no_keepalive;
	cl->keepalive_ns = (ngtcp2_duration)cl->cfg.idle_timeout_ms * NGTCP2_MILLISECONDS / 4;
	int ret = -EINVAL;
	if (cfg->pin != NULL && cfg->pin[0] != '\0') {
		if (strlen(cfg->pin) != QUIC_PIN_LEN - 1)
			goto fail;
		memcpy(cl->pin, cfg->pin, QUIC_PIN_LEN);
	}
	const char *alpn = cfg->alpn != NULL ? cfg->alpn : DOQ_ALPN;
	if (strlen(alpn) == 0 || strlen(alpn) >= sizeof(cl->alpn))
		goto fail;
	memcpy(cl->alpn, alpn, strlen(alpn) + 1);
	ret = addr_parse(cfg->remote, 853, &cl->remote, &cl->remotelen);
	if (ret != 0)
		goto fail;
	ret = -ENOMEM;
	if (gnutls_certificate_allocate_credentials(&cl->cred) < 0) {
		cl->cred = NULL;
		goto fail;
	}
	ret = loop_fds(&cl->efd, &cl->tfd, &cl->epfd);
	if (ret != 0)
		goto fail;
	ret = -pthread_create(&cl->thread, NULL, cl_thread, cl);
	if (ret != 0)
		goto fail;
	cl->started = true;
	*out = cl;
	return 0;
fail:
	quic_client_free(cl);
	return ret;
}

static int
cl_submit(struct quic_client *cl, struct creq *r)
{
	pthread_mutex_lock(&cl->lock);
	r->next = cl->submit;
	cl->submit = r;
	pthread_mutex_unlock(&cl->lock);
	wake_fd(cl->efd);
	return 0;
}

static struct creq *
creq_new(struct quic_client *cl, quic_msg_fn on_msg, quic_done_fn on_done, void *ctx)
{
	struct creq *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->cl = cl;
	r->sid = -1;
	r->on_msg = on_msg;
	r->on_done = on_done;
	r->ctx = ctx;
	doq_rx_init(&r->rx, DOQ_RX_RESPONSE);
	return r;
}

static int
cl_request(struct quic_client *cl, const uint8_t *query, size_t len, quic_msg_fn on_msg,
           quic_done_fn on_done, void *ctx, unsigned timeout_ms, atomic_int *cancel)
{
	if (cl == NULL || on_done == NULL || len < DOQ_DNS_HDR)
		return -EINVAL;
	if (len > DOQ_MSG_MAX)
		return -EMSGSIZE;
	struct creq *r = creq_new(cl, on_msg, on_done, ctx);
	struct chunk *c = chunk_new(2 + len);
	if (r == NULL || c == NULL) {
		free(r);
		free(c);
		return -ENOMEM;
	}
	(void)doq_prefix(c->data, len);
	memcpy(c->data + 2, query, len);
	r->query = malloc(2 + len);
	if (r->query == NULL) {
		free(r);
		free(c);
		return -ENOMEM;
	}
	memcpy(r->query, c->data, 2 + len);
	r->qlen = 2 + len;
	sendq_push(&r->q, c);
	r->q.fin_wanted = true;
	if (timeout_ms != 0)
		r->deadline = now_ns() + (uint64_t)timeout_ms * NGTCP2_MILLISECONDS;
	r->cancel = cancel;
	return cl_submit(cl, r);
}

int
quic_client_request(struct quic_client *cl, const uint8_t *query, size_t len,
                    quic_msg_fn on_msg, quic_done_fn on_done, void *ctx)
{
	return cl_request(cl, query, len, on_msg, on_done, ctx, 0, NULL);
}

/* Pull-style requests: messages are copied to the caller's thread. */
struct smsg {
	struct smsg *next;
	size_t len;
	uint8_t data[];
};

struct quic_stream {
	struct quic_client *cl;
	pthread_mutex_t m;
	pthread_cond_t cv;
	struct smsg *head, *tail;
	bool done;
	int status;
	uint64_t app;
	atomic_int cancel;
};

static int
stream_on_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct quic_stream *s = ctx;
	if (atomic_load(&s->cancel) != 0)
		return 1;
	struct smsg *m = malloc(sizeof(*m) + len);
	if (m == NULL)
		return 1;
	m->next = NULL;
	m->len = len;
	memcpy(m->data, msg, len);
	pthread_mutex_lock(&s->m);
	if (s->tail != NULL)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->m);
	return 0;
}

static void
stream_on_done(void *ctx, int status, uint64_t app)
{
	struct quic_stream *s = ctx;
	pthread_mutex_lock(&s->m);
	s->done = true;
	s->status = status;
	s->app = app;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->m);
}

int
quic_stream_open(struct quic_client *cl, const uint8_t *query, size_t len, unsigned timeout_ms,
                 struct quic_stream **out)
{
	struct quic_stream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->cl = cl;
	pthread_mutex_init(&s->m, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	int ret = cl_request(cl, query, len, stream_on_msg, stream_on_done, s, timeout_ms,
	                     &s->cancel);
	if (ret != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->m);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

ssize_t
quic_stream_recv(struct quic_stream *s, uint8_t *buf, size_t cap, unsigned wait_ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += wait_ms / 1000;
	dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->m);
	while (s->head == NULL && !s->done) {
		if (wait_ms == 0) {
			pthread_cond_wait(&s->cv, &s->m);
		} else if (pthread_cond_timedwait(&s->cv, &s->m, &dl) == ETIMEDOUT &&
		           s->head == NULL && !s->done) {
			pthread_mutex_unlock(&s->m);
			return -ETIMEDOUT;
		}
	}
	ssize_t ret;
	if (s->head != NULL) {
		struct smsg *m = s->head;
		s->head = m->next;
		if (s->head == NULL)
			s->tail = NULL;
		if (m->len > cap) {
			ret = -EMSGSIZE;
		} else {
			memcpy(buf, m->data, m->len);
			ret = (ssize_t)m->len;
		}
		free(m);
	} else {
		ret = s->status;
	}
	pthread_mutex_unlock(&s->m);
	return ret;
}

uint64_t
quic_stream_app_error(struct quic_stream *s)
{
	pthread_mutex_lock(&s->m);
	uint64_t app = s->done ? s->app : 0;
	pthread_mutex_unlock(&s->m);
	return app;
}

void
quic_stream_close(struct quic_stream *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->cancel, 1);
	wake_fd(s->cl->efd);
	pthread_mutex_lock(&s->m);
	while (!s->done)
		pthread_cond_wait(&s->cv, &s->m);
	pthread_mutex_unlock(&s->m);
	while (s->head != NULL) {
		struct smsg *m = s->head;
		s->head = m->next;
		free(m);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->m);
	free(s);
}

int
quic_client_request_sync(struct quic_client *cl, const uint8_t *query, size_t len,
                         quic_msg_fn on_msg, void *ctx, unsigned timeout_ms)
{
	struct quic_stream *s;
	int ret = quic_stream_open(cl, query, len, timeout_ms, &s);
	if (ret != 0)
		return ret;
	uint8_t *buf = malloc(DOQ_MSG_MAX);
	if (buf == NULL) {
		quic_stream_close(s);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = quic_stream_recv(s, buf, DOQ_MSG_MAX, 0);
		if (n <= 0) {
			ret = (int)n;
			break;
		}
		if (on_msg != NULL) {
			ret = on_msg(ctx, buf, (size_t)n);
			if (ret != 0)
				break;
		}
	}
	free(buf);
	quic_stream_close(s);
	return ret;
}

void
quic_client_stats(const struct quic_client *cl, struct quic_stats *st)
{
	stats_copy(st, &cl->st);
}

void
quic_client_server_alive(struct quic_client *cl)
{
	if (cl == NULL)
		return;
	atomic_store(&cl->kick, true);
	wake_fd(cl->efd);
}

void
quic_client_peer_pin(const struct quic_client *cl, char pin[QUIC_PIN_LEN])
{
	struct quic_client *c = (struct quic_client *)(uintptr_t)cl;
	pthread_mutex_lock(&c->lock);
	memcpy(pin, c->peer_pin, QUIC_PIN_LEN);
	pthread_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------------ tests */

int
quic_debug_half_open(const char *remote, unsigned n)
{
	struct quic_client *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return -ENOMEM;
	int ret = addr_parse(remote, 853, &cl->remote, &cl->remotelen);
	if (ret != 0 || gnutls_certificate_allocate_credentials(&cl->cred) < 0) {
		free(cl);
		return ret != 0 ? ret : -ENOMEM;
	}
	memcpy(cl->alpn, DOQ_ALPN, sizeof(DOQ_ALPN));
	cl->cfg.handshake_timeout_ms = 5000;
	cl->cfg.idle_timeout_ms = 5000;
	cl->epfd = epoll_create1(EPOLL_CLOEXEC);
	unsigned sent = 0;
	for (unsigned i = 0; i < n; i++) {
		if (cl_connect(cl) != 0)
			break;
		ngtcp2_pkt_info pi;
		ngtcp2_ssize len = ngtcp2_conn_write_pkt(cl->conn, NULL, &pi, cl->buf, sizeof(cl->buf),
		                                         now_ns());
		if (len > 0 && send_pkt(cl->fd, (const struct sockaddr *)&cl->remote, cl->remotelen,
		                        cl->buf, (size_t)len) == 0)
			sent++;
		cl_drop_conn(cl);
	}
	close_fd(&cl->epfd);
	gnutls_certificate_free_credentials(cl->cred);
	free(cl);
	return (int)sent;
}

struct raw_wait {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int status;
	uint64_t app;
};

static void
raw_done(void *ctx, int status, uint64_t app)
{
	struct raw_wait *w = ctx;
	pthread_mutex_lock(&w->m);
	w->done = true;
	w->status = status;
	w->app = app;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

int
quic_debug_raw(struct quic_client *cl, const uint8_t *data, size_t len, const uint8_t *after,
               size_t after_len, unsigned timeout_ms)
{
	struct raw_wait w;
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.m, NULL);
	pthread_cond_init(&w.cv, NULL);
	struct creq *r = creq_new(cl, NULL, raw_done, &w);
	struct chunk *c = chunk_new(len + after_len);
	if (r == NULL || c == NULL || len + after_len == 0) {
		free(r);
		free(c);
		return -ENOMEM;
	}
	memcpy(c->data, data, len);
	if (after_len > 0)
		memcpy(c->data + len, after, after_len);
	r->raw = true;
	sendq_push(&r->q, c);
	r->q.fin_wanted = true;
	if (timeout_ms != 0)
		r->deadline = now_ns() + (uint64_t)timeout_ms * NGTCP2_MILLISECONDS;
	cl_submit(cl, r);
	pthread_mutex_lock(&w.m);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.m);
	pthread_mutex_unlock(&w.m);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.m);
	if (w.status == -EPROTO && w.app != 0)
		return (int)w.app;
	return w.status;
}
