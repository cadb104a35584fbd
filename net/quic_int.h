/*
 * Internals shared by the QUIC files (net/quic_*.c), the only files that
 * include <ngtcp2/...>.  Layers, each calling only those above it:
 *   quic_tls.c    keys, SPKI pins, the key-derived static secret, TLS sessions
 *   quic_io.c     clock, sockets, timers, stream send queues, the one packet
 *                 write loop (quic_tx_write) shared by server and client, metrics
 *   quic_reply.c  the server's answer hand-off (quic_reply_*) and handler workers
 *   quic_sconn.c  one server connection: ngtcp2 callbacks, read, write, close
 *   quic_server.c the server: socket loop, new connections, Retry, resets, lifecycle
 *   quic_client.c the client: one connection, request streams, its loop thread
 *   quic_stream.c the client API: pull-style request streams (quic_stream_*)
 *   quic_debug.c  test hooks (half-open handshakes, raw stream data)
 */
#ifndef NET_QUIC_INT_H
#define NET_QUIC_INT_H

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
#include "util/clock.h"
#include "util/hash.h"
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

/* ngtcp2 timestamps are CLOCK_MONOTONIC nanoseconds. */
static inline ngtcp2_tstamp
quic_now(void)
{
	return (ngtcp2_tstamp)clock_mono_ns();
}

/* `ms` from now as an absolute time for pthread_cond_timedwait (CLOCK_MONOTONIC condvars). */
static inline struct timespec
quic_cond_deadline(unsigned ms)
{
	int64_t ns = clock_mono_ns() + (int64_t)ms * 1000000;
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	return ts;
}

/* Called for each answer message; `msg` valid during the call.  Non-zero cancels. */
typedef int (*quic_msg_fn)(void *ctx, const uint8_t *msg, size_t len);
/*
 * Called once when a request ends: 0 after the server's FIN (every message
 * delivered), -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EPROTO (with
 * `app_error` when the server reset the stream), -ECANCELED.
 */
typedef void (*quic_done_fn)(void *ctx, int status, uint64_t app_error);

/* ---- send queues (quic_io.c) */

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

/* ---- the write loop (quic_io.c) */

/* A stream the write loop may send from. */
struct quic_txs {
	int64_t id;
	struct sendq *q;
	void *owner;             /* the server's or client's stream */
};

/* One connection's output: where packets go and which streams have data. */
struct quic_tx {
	ngtcp2_conn *conn;
	int fd;
	const struct sockaddr_storage *to;
	socklen_t tolen;
	uint8_t *buf;            /* packets are built and batched here */
	size_t cap;
	bool *no_gso;            /* set once the kernel refuses UDP_SEGMENT */
	struct quic_stats *st;   /* pkts_tx, bytes_tx */
	/* The next stream with unsent data and not blocked: fills *out, or false. */
	bool (*next)(void *ctx, struct quic_txs *out);
	/* ngtcp2 takes no more of this stream's data in this round. */
	void (*blocked)(void *ctx, void *owner);
	/* Some of this stream's data went into a packet (may be NULL). */
	void (*wrote)(void *ctx, void *owner);
	void *ctx;
};

int quic_tx_write(const struct quic_tx *tx);

/*
 * ngtcp2's acked_stream_data_offset callback of server and client: frees
 * the acknowledged chunks.  The stream's user data starts with its sendq.
 */
int quic_acked(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen,
               void *user_data, void *stream_user_data);

/* ---- server state (quic_sconn.c, quic_reply.c, quic_server.c) */

struct sconn;

struct sstream {
	struct sendq q;          /* first: ngtcp2's stream data is the send queue (quic_acked) */
	int64_t id;
	struct sconn *c;
	struct doq_rx rx;
	struct quic_reply *reply;
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

extern const ngtcp2_callbacks quic_srv_callbacks;

/* ---- client state (quic_client.c, quic_stream.c, quic_debug.c) */

struct creq {
	struct sendq q;          /* first: ngtcp2's stream data is the send queue (quic_acked) */
	struct quic_client *cl;
	struct doq_rx rx;
	quic_msg_fn on_msg;
	quic_done_fn on_done;
	void *ctx;
	int64_t sid;             /* -1 until a stream is open */
	bool raw;                /* test mode: answer content ignored, no framing rules */
	bool got_data;           /* some answer arrived: never sent again */
	bool blocked;            /* flow control: skipped for the rest of this write round */
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
	bool no_gso;                     /* the kernel refused UDP_SEGMENT once */
	uint8_t rbuf[32][1500];          /* recvmmsg batch */
};

/* ---- functions shared between the files, by file */

/* quic_tls.c */
int quic_pubkey_pin(gnutls_pubkey_t pk, char pin[QUIC_PIN_LEN]);
int quic_key_load_or_create(const char *path, gnutls_x509_privkey_t *out);
int quic_privkey_pin(gnutls_x509_privkey_t key, char pin[QUIC_PIN_LEN]);
int quic_key_secret(gnutls_x509_privkey_t key, uint8_t secret[32]);
int quic_make_cert(gnutls_x509_privkey_t key, gnutls_x509_crt_t *out);
int quic_tls_session_new(gnutls_session_t *out, bool server,
                         gnutls_certificate_credentials_t cred, const char *alpn,
                         ngtcp2_crypto_conn_ref *ref);
/* quic_io.c */
void quic_rand_cb(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rctx);
int quic_random_cid(ngtcp2_cid *cid, size_t len);
void quic_stat_add(uint64_t *p, uint64_t v);
void quic_stat_sub(uint64_t *p, uint64_t v);
void quic_stats_copy(struct quic_stats *dst, const struct quic_stats *src);
int quic_udp_socket(int family);
int quic_send_pkt(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t len);
bool quic_arm_timer(int tfd, ngtcp2_tstamp *armed, ngtcp2_tstamp at);
void quic_drain_fd(int fd);
void quic_wake_fd(int fd);
struct chunk *quic_chunk_new(size_t len);
void quic_chunks_free(struct chunk *c);
void quic_sendq_push(struct sendq *q, struct chunk *c);
bool quic_sendq_pending(const struct sendq *q);
size_t quic_sendq_vecs(const struct sendq *q, ngtcp2_vec *v, size_t max, bool *all);
void quic_sendq_advance(struct sendq *q, size_t n);
void quic_sendq_ack(struct sendq *q, uint64_t upto);
void quic_sendq_clear(struct sendq *q);
bool quic_log_ok(ngtcp2_tstamp *last, ngtcp2_tstamp now);
void quic_transport_params(ngtcp2_transport_params *p, bool server, unsigned idle_ms,
                           unsigned streams);
void quic_settings_init(ngtcp2_settings *st, unsigned hs_ms);
int quic_loop_fds(int *efd, int *tfd, int *epfd);
void quic_close_fd(int *fd);
/* quic_sconn.c */
struct sconn *quic_cid_find(struct quic_server *srv, const uint8_t *d, size_t len);
int quic_cid_add(struct quic_server *srv, const ngtcp2_cid *cid, struct sconn *c);
void quic_sconn_free(struct sconn *c);
ngtcp2_conn *quic_get_conn_ref(ngtcp2_crypto_conn_ref *ref);
ngtcp2_path quic_srv_path(struct quic_server *srv, const struct sockaddr_storage *remote,
                          socklen_t rlen);
void quic_srv_send(struct quic_server *srv, const struct sockaddr_storage *to, socklen_t tolen,
                   const uint8_t *p, size_t len);
void quic_sconn_close_now(struct sconn *c, const ngtcp2_connection_close_error *cc);
void quic_sconn_fail(struct sconn *c, int liberr, const char *what);
void quic_srv_flush_replies(struct quic_server *srv);
int quic_sconn_write(struct sconn *c);
int quic_sconn_read(struct sconn *c, const uint8_t *pkt, size_t len);
/* quic_reply.c */
void quic_reply_maybe_free(struct quic_reply *r);
void *quic_worker_thread(void *arg);
/* quic_client.c */
void quic_cl_drop_conn(struct quic_client *cl);
int quic_cl_connect(struct quic_client *cl);
int quic_cl_submit(struct quic_client *cl, struct creq *r);
struct creq *quic_creq_new(struct quic_client *cl, quic_msg_fn on_msg, quic_done_fn on_done,
                           void *ctx);
int quic_cl_request(struct quic_client *cl, const uint8_t *query, size_t len, quic_msg_fn on_msg,
                    quic_done_fn on_done, void *ctx, unsigned timeout_ms, atomic_int *cancel);

#endif
