/*
 * Response rate limiting (RRL) for UDP answers, in the manner of Knot's
 * mod-rrl and BIND's rate-limit: every client prefix (/24 for IPv4, /56 for
 * IPv6) owns a token bucket that refills `rate` responses per second (burst:
 * one second's worth).  A response beyond the bucket is "limited": it is
 * dropped, except every `slip`-th limited response per bucket, which leaves as
 * a truncated answer (header and question only, TC=1) so a real client
 * retries over TCP, where nothing is limited.  A truncated answer is never
 * longer than the query's question, so a spoofed flood gets no amplification.
 *
 * The table is one fixed array of buckets shared by every worker, indexed by
 * a keyed hash of the prefix; each bucket is one 64-bit word updated with a
 * compare-and-swap loop: no lock, no allocation, no log on the query path.
 * Two prefixes that hash to the same bucket take it over from each other
 * (the newer one starts with a full bucket), as in Knot's table.
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
#define RRL_DEFAULT_BUCKETS 65536

struct rrl_cfg {
	uint32_t rate;          /* responses per second per prefix; 0: RRL off */
	uint32_t slip;          /* every slip-th limited answer is truncated; 0: drop all */
	size_t buckets;         /* table size (rounded up to a power of two); 0: default */
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

/* NULL on ENOMEM or when cfg->rate is 0 (RRL off: callers skip the hook). */
struct rrl *rrl_new(const struct rrl_cfg *cfg);
void rrl_free(struct rrl *r);

/*
 * Adds a whitelisted prefix "192.0.2.0/24", "2001:db8::/32" or a plain
 * address (host prefix).  Not thread-safe: call before serving starts.
 * Returns 0, -EINVAL (does not parse, with detail in err) or -ENOSPC.
 */
int rrl_whitelist_add(struct rrl *r, const char *prefix, char *err, size_t errcap);

/*
 * Decides what to do with one response to `client` at time `now_ms`
 * (any monotonic clock in milliseconds).  Lock-free, never allocates.
 * `st` is the calling thread's counters (may be NULL).
 */
enum rrl_action rrl_check(struct rrl *r, const struct sockaddr *client, uint64_t now_ms,
                          struct rrl_stats *st);

/*
 * Cuts response `msg` (`len` bytes) down to its header and question with
 * TC=1 and no other records.  Returns the new length, or 0 when `msg` is
 * malformed (then send nothing).
 */
size_t rrl_truncate(uint8_t *msg, size_t len);

/*
 * The whole hook for a UDP worker: checks `client`, and returns the length
 * to send (`len`, the truncated length, or 0 to drop).  Uses a per-thread
 * counter block registered on the thread's first call (never freed).
 */
size_t rrl_apply(struct rrl *r, const struct sockaddr *client, uint8_t *msg, size_t len);

/* Sums every thread's counters into `out`. */
void rrl_stats_sum(struct rrl_stats *out);

#endif
