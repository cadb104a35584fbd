/*
 * What the UDP and TCP service threads share: one function that turns a
 * received message into the message to send back (queries go to
 * answer_build, NOTIFY to secondary/notify.c), and per-thread counters that
 * only their own thread writes (SERVE_INC) and /metrics sums with relaxed
 * atomic loads: no shared writes and no locked instructions on the query
 * path; /metrics tolerates a value a few queries old.
 */
#ifndef SECONDARY_SERVE_H
#define SECONDARY_SERVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "secondary/answer.h"

struct zdb;
struct notify_cfg;
struct rrl;

/* qtype counters: one slot per type up to SERVE_QTYPE_OTHER, then "other". */
#define SERVE_QTYPE_OTHER 260
#define SERVE_RCODES 24

struct serve_stats {
	uint64_t queries;
	uint64_t udp, tcp;
	uint64_t rcode[SERVE_RCODES];         /* rcode of the answer (BADVERS 16...) */
	uint64_t qtype[SERVE_QTYPE_OTHER + 1];
	uint64_t dropped;                      /* no answer sent (responses, short packets) */
	uint64_t notify_accepted, notify_refused;
	uint64_t tcp_accepted, tcp_refused_limit, tcp_idle_closed;
} __attribute__((aligned(64)));

/*
 * Increments a counter only its own thread writes: a relaxed atomic load and
 * store (plain moves on x86-64, no lock prefix), so /metrics may read it from
 * another thread without a data race.
 */
#define SERVE_INC(field) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED)

/* Registry of every thread's counters, summed by serve_stats_sum(). */
#define SERVE_MAX_THREADS 256

/* Returns a zeroed counter block for one thread (never freed), or NULL. */
struct serve_stats *serve_stats_new(void);
/* Adds every registered thread's counters into `out` (zeroed first). */
void serve_stats_sum(struct serve_stats *out);

/* Context of one serving thread. */
struct serve_ctx {
	struct zdb *db;
	struct answer_opts aopts;      /* is_tcp set per call */
	struct notify_cfg *notify;     /* NULL: NOTIFY answered NOTIMP */
	struct serve_stats *stats;     /* this thread's own */
	struct rrl *rrl;               /* UDP response rate limiting; NULL: off (secondary/rrl.h) */
	/* Set by each serve_message call: whether its UDP answer awaits the rate
	 * limiter's verdict, rrl_finish(rrl, rrl_key, ...), which the caller gives
	 * once per batch (the bucket's cache line is prefetched meanwhile). */
	bool rrl_pending;
	uint64_t rrl_key;
};

/*
 * Handles one received message `q` (`qlen` bytes) from `from` and writes the
 * response into `out` (`cap` bytes).  Returns its length, or 0 when nothing
 * is to be sent.  A UDP answer to a query with `c->rrl` set leaves
 * c->rrl_pending true when the caller must still judge it (rrl_finish).
 * Never allocates on the query path; NOTIFY takes a slower path (TSIG, a log
 * line, waking the refresh thread).
 */
size_t serve_message(struct serve_ctx *c, const uint8_t *q, size_t qlen,
                     const struct sockaddr *from, bool tcp, uint8_t *out, size_t cap);

/* Set once at shutdown; serving threads poll it between batches. */
extern atomic_bool serve_stopping;

#endif
