/*
 * Response rate limiting (RRL) for UDP answers, in the manner of BIND's
 * rate-limit and Knot's mod-rrl (3.x): a token bucket refilling `rate`
 * responses per second (burst: one second's worth) for every
 *   client prefix (/24 for IPv4, /56 for IPv6 by default, configurable)
 *   x response class (answer, NODATA, NXDOMAIN, referral, wildcard, error)
 *   x name (the qname; the zone for NXDOMAIN and errors, the wildcard's
 *           closest encloser, the delegation point for referrals)
 *   x qtype (answers, NODATA and wildcards only),
 * so a resolver behind one /24 asking many different names is never limited,
 * while one name flooded, or a random-subdomain flood of one zone (all its
 * NXDOMAINs share one bucket), is.  A response beyond its bucket is
 * "limited": it is dropped, except every `slip`-th limited response per
 * bucket, which leaves as a truncated answer (header and question only, TC=1)
 * so a real client retries over TCP, where nothing is limited.  A truncated
 * answer is never longer than the query's question, so a spoofed flood gets
 * no amplification.
 *
 * The table is one fixed array of buckets shared by every worker, indexed by
 * a keyed hash of the key above; each bucket is one 64-bit word updated with a
 * compare-and-swap loop: no lock, no allocation, no log on the query path.
 * Two keys that hash to the same bucket: the newer takes it over (with a full
 * bucket) at most once per second; after that they share it, so two colliding
 * keys cannot keep resetting each other (Knot's slow-start rule).
 * Whitelisted prefixes are never limited.  Counters are per thread (summed by
 * rrl_stats_sum for /metrics).
 */
#ifndef SECONDARY_RRL_H
#define SECONDARY_RRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rrl;

#define RRL_WHITELIST_MAX 32
#define RRL_DEFAULT_BUCKETS 262144
#define RRL_DEFAULT_V4_PREFIX 24
#define RRL_DEFAULT_V6_PREFIX 56

struct rrl_cfg {
	uint32_t rate;          /* responses per second per bucket; 0: RRL off */
	uint32_t slip;          /* every slip-th limited answer is truncated; 0: drop all */
	size_t buckets;         /* table size (rounded up to a power of two); 0: default */
	unsigned v4_prefix;     /* IPv4 client prefix length 1..32; 0: 24 */
	unsigned v6_prefix;     /* IPv6 client prefix length 1..128; 0: 56 */
};

/* Response classes: part of the bucket key. */
enum rrl_class {
	RRL_CLS_ANSWER = 1,     /* NOERROR with data for the qname (incl. CNAME/DNAME) */
	RRL_CLS_NODATA,         /* NOERROR, no data of that type */
	RRL_CLS_NXDOMAIN,       /* keyed by the zone, not the qname */
	RRL_CLS_REFERRAL,       /* keyed by the delegation point */
	RRL_CLS_WILDCARD,       /* synthesized from a wildcard: keyed by its closest encloser */
	RRL_CLS_ERROR,          /* REFUSED, SERVFAIL, FORMERR...: keyed by the zone or the root */
};

/* What a response is, for its bucket. */
struct rrl_query {
	const uint8_t *name;    /* uncompressed wire name, any letter case; NULL: the root */
	uint16_t qtype;
	uint8_t cls;            /* enum rrl_class */
};

/* Verdict on one response. */
enum rrl_action {
	RRL_PASS = 0,           /* send as built */
	RRL_SLIP,               /* send truncated (rrl_truncate) */
	RRL_DROP,               /* send nothing */
};

struct rrl_stats {
	uint64_t passed, limited, slipped, dropped, whitelisted;
} __attribute__((aligned(64)));

/*
 * A reload's rate and slip, taking effect with the next response (rate 0:
 * RRL off, rrl_prepare passes every response without touching the table,
 * which stays for a later reload to turn it on).  Thread-safe.
 */
void rrl_set_rate(struct rrl *r, uint32_t rate, uint32_t slip);

/*
 * NULL on ENOMEM, when cfg->rate is 0 (RRL off: callers skip the hook) or a
 * prefix length is out of range (callers check the flags first).
 */
struct rrl *rrl_new(const struct rrl_cfg *cfg);
void rrl_free(struct rrl *r);

/*
 * Adds a whitelisted prefix "192.0.2.0/24", "2001:db8::/32" or a plain
 * address (host prefix).  Not thread-safe: call before serving starts.
 * Returns 0, -EINVAL (does not parse, with detail in err) or -ENOSPC.
 */
int rrl_whitelist_add(struct rrl *r, const char *prefix, char *err, size_t errcap);

/*
 * Decides what to do with one response of kind `q` to `client` at time
 * `now_ms` (any monotonic clock in milliseconds).  Lock-free, never
 * allocates.  `st` is the calling thread's counters (may be NULL).
 */
enum rrl_action rrl_check(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q,
                          uint64_t now_ms, struct rrl_stats *st);

/*
 * rrl_check in two halves, so a batch can compute every response's key
 * first (which prefetches its bucket) and decide afterwards, while the
 * buckets' cache lines arrive.  rrl_key returns false when the response is
 * not judged (a whitelisted client, counted, or an unknown address family),
 * else sets `*key`.  `key` is only meaningful to the same `r`.
 */
bool rrl_key(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q,
             uint64_t *key, struct rrl_stats *st);
enum rrl_action rrl_decide(struct rrl *r, uint64_t key, uint64_t now_ms, struct rrl_stats *st);

/*
 * Cuts response `msg` (`len` bytes) down to its header and question with
 * TC=1 and no other records.  Returns the new length, or 0 when `msg` is
 * malformed (then send nothing).
 */
size_t rrl_truncate(uint8_t *msg, size_t len);

/*
 * The whole hook for a UDP worker: checks response `msg` (`len` bytes, of
 * kind `q`) to `client`, and returns the length to send (`len`, the
 * truncated length, or 0 to drop).  Uses a per-thread counter block
 * registered on the thread's first call (never freed).
 */
size_t rrl_apply(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q,
                 uint8_t *msg, size_t len);

/*
 * rrl_apply in two halves for a batch of responses (see rrl_key), with the
 * same per-thread counters: rrl_prepare returns false when the response is
 * not judged (send it as built); rrl_finish returns the length to send.
 * `now_ms` from rrl_now_ms(), once per batch.
 */
bool rrl_prepare(struct rrl *r, const struct sockaddr *client, const struct rrl_query *q,
                 uint64_t *key);
size_t rrl_finish(struct rrl *r, uint64_t key, uint64_t now_ms, uint8_t *msg, size_t len);
uint64_t rrl_now_ms(void);

/* Sums every thread's counters into `out`. */
void rrl_stats_sum(struct rrl_stats *out);

#endif
