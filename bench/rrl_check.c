/* rrl_check -- cost of the RRL hook alone: ns per rrl_apply() call over a
 * realistic spread of client prefixes and names, one call at a time and in
 * batches (rrl_prepare x 64, then rrl_finish x 64, as serve_udp.c does) (a rate far above the load,
 * so every answer passes; the name hashed is "hNNNN.bench.test."), beside a
 * loop that only builds the same client addresses and names.
 * Built and run by bench/edge.sh against build/libsecondary.a.
 *
 * usage: rrl_check [CALLS=20000000] [PREFIXES=4096]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secondary/rrl.h"
#include "util/clock.h"

static double
now_s(void)
{
	return clock_mono_s();
}

int
main(int argc, char **argv)
{
	unsigned long calls = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000000ul;
	unsigned long prefixes = argc > 2 ? strtoul(argv[2], NULL, 10) : 4096;
	if (calls == 0 || prefixes == 0)
		return 2;
	struct rrl_cfg c = {.rate = 10000000, .slip = 2};
	struct rrl *r = rrl_new(&c);
	if (r == NULL)
		return 1;
	uint8_t msg[64] = {0x12, 0x34, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0};
	uint8_t name[32] = "\5h0000\5bench\4test";
	struct rrl_query q = {.name = name, .qtype = 1, .cls = RRL_CLS_ANSWER};
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	volatile size_t sink = 0;
	double best_hook = 1e9, best_base = 1e9, best_batch = 1e9;
	uint64_t keys[64];
	for (int round = 0; round < 5; round++) {
		double t0 = now_s();
		for (unsigned long i = 0; i < calls; i++) {
			sin.sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)((i % prefixes) << 8) | 7);
			name[2 + (i & 3)] = (uint8_t)('0' + (i >> 2) % 10);
			sink += sin.sin_addr.s_addr & 1;
		}
		double t1 = now_s();
		for (unsigned long i = 0; i < calls; i++) {
			sin.sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)((i % prefixes) << 8) | 7);
			name[2 + (i & 3)] = (uint8_t)('0' + (i >> 2) % 10);
			sink += rrl_apply(r, (struct sockaddr *)&sin, &q, msg, sizeof(msg));
		}
		double t2 = now_s();
		/* As a UDP worker does it: keys for a batch of 64 (prefetching), then verdicts. */
		for (unsigned long i = 0; i < calls; i += 64) {
			for (unsigned k = 0; k < 64; k++) {
				unsigned long j = i + k;
				uint32_t a = 0x0a000000u | (uint32_t)((j % prefixes) << 8) | 7;
				sin.sin_addr.s_addr = htonl(a);
				name[2 + (j & 3)] = (uint8_t)('0' + (j >> 2) % 10);
				rrl_prepare(r, (struct sockaddr *)&sin, &q, &keys[k]);
			}
			uint64_t now = rrl_now_ms();
			for (unsigned k = 0; k < 64; k++)
				sink += rrl_finish(r, keys[k], now, msg, sizeof(msg));
		}
		double t3 = now_s();
		if ((t1 - t0) < best_base)
			best_base = t1 - t0;
		if ((t2 - t1) < best_hook)
			best_hook = t2 - t1;
		if ((t3 - t2) < best_batch)
			best_batch = t3 - t2;
	}
	struct rrl_stats st;
	rrl_stats_sum(&st);
	printf("rrl_apply: %.1f ns per call, %.1f ns in batches of 64 as the UDP workers call it "
	       "(%lu calls over %lu prefixes x 10,000 names, best of 5; loop alone %.1f ns); "
	       "passed %llu, limited %llu\n",
	       (best_hook - best_base) * 1e9 / (double)calls,
	       (best_batch - best_base) * 1e9 / (double)calls, calls, prefixes,
	       best_base * 1e9 / (double)calls, (unsigned long long)st.passed,
	       (unsigned long long)st.limited);
	rrl_free(r);
	(void)sink;
	return 0;
}
