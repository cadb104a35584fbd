/*
 * bench/ixfr_apply: builds a zone of N records in memory (zone_builder),
 * reports the build time and the process RSS, then applies one-record IXFR
 * diffs (old SOA out, one A out, new SOA in, one A in) and publishes each
 * with zdb_publish, timing apply + publish.  Prints median and p99.
 *
 *   ixfr_apply [RECORDS (default 1000000)] [CHANGES (default 1000)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "dns/name.h"
#include "dns/rrtype.h"
#include "secondary/zdb.h"
#include "secondary/zone.h"
#include "util/clock.h"

static double
now_us(void)
{
	return (double)clock_mono_ns() / 1e3;
}

/* CPU time of this thread: a preempted change is not charged for the wait. */
static double
cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	}
	if (f != NULL)
		fclose(f);
	return kb;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* "h<i>.bench.test." in wire form. */
static void
host(unsigned i, uint8_t *w)
{
	char lab[16];
	int n = snprintf(lab, sizeof(lab), "h%u", i);
	w[0] = (uint8_t)n;
	memcpy(w + 1, lab, (size_t)n);
	memcpy(w + 1 + n, "\5bench\4test", 12);
}

static void
soa_rdata(uint32_t serial, uint8_t *rd, uint16_t *len)
{
	static const uint8_t names[] = "\2ns\5bench\4test\0\1h\5bench\4test";
	size_t nl = sizeof(names);   /* both names incl. the final 0 */
	memcpy(rd, names, nl);
	uint32_t f[5] = {serial, 3600, 600, 86400, 300};
	for (int i = 0; i < 5; i++) {
		rd[nl + 4 * i] = (uint8_t)(f[i] >> 24);
		rd[nl + 4 * i + 1] = (uint8_t)(f[i] >> 16);
		rd[nl + 4 * i + 2] = (uint8_t)(f[i] >> 8);
		rd[nl + 4 * i + 3] = (uint8_t)f[i];
	}
	*len = (uint16_t)(nl + 20);
}

int
main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000000;
	unsigned changes = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
	rcu_register_thread();
	long rss0 = rss_kb();
	uint8_t apex[DNS_NAME_MAX], owner[DNS_NAME_MAX], rd[64];
	uint16_t rdlen;
	char err[200];
	dns_name_from_text("bench.test.", 11, NULL, apex);
	double t0 = now_us();
	struct zone_builder *b = zone_builder_new(apex);
	soa_rdata(1, rd, &rdlen);
	struct dns_rr soa = {.owner = apex, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 3600,
	                     .rdlen = rdlen, .rdata = rd};
	if (zone_builder_add(b, &soa, err, sizeof(err)) != 0)
		return 1;
	for (unsigned i = 0; i < n - 1; i++) {
		uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		host(i, owner);
		struct dns_rr rr = {.owner = owner, .type = DNS_T_A, .rclass = DNS_C_IN, .ttl = 3600,
		                    .rdlen = 4, .rdata = a};
		if (zone_builder_add(b, &rr, err, sizeof(err)) != 0)
			return 1;
	}
	struct zone *z;
	if (zone_builder_finish(b, &z, err, sizeof(err)) != 0) {
		fprintf(stderr, "build: %s\n", err);
		return 1;
	}
	double t1 = now_us();
	struct zdb *db = zdb_new();
	zdb_add(db, apex);
	zdb_publish(db, z);
	printf("zone of %zu records built in %.0f ms, RSS %ld MB (process, %ld MB before)\n",
	       zone_records(z), (t1 - t0) / 1000, rss_kb() / 1024, rss0 / 1024);

	double *lat = calloc(changes, sizeof(double));
	double *cpu = calloc(changes, sizeof(double));
	uint8_t soa_old[64], soa_new[64], own[DNS_NAME_MAX];
	uint16_t lo, ln;
	srand(1);
	for (unsigned k = 0; k < changes; k++) {
		unsigned i = (unsigned)rand() % (n - 1);
		const struct zone *cur = zdb_get(db, apex);
		soa_rdata(1 + k, soa_old, &lo);
		soa_rdata(2 + k, soa_new, &ln);
		host(i, own);
		uint8_t a_old[4], a_new[4] = {192, 0, 2, (uint8_t)k};
		/* Current value: the one built, or the one a previous change set. */
		a_old[0] = 10;
		a_old[1] = (uint8_t)(i >> 16);
		a_old[2] = (uint8_t)(i >> 8);
		a_old[3] = (uint8_t)i;
		struct dns_rr del[2] = {
			{.owner = apex, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 3600, .rdlen = lo,
			 .rdata = soa_old},
			{.owner = own, .type = DNS_T_A, .rclass = DNS_C_IN, .ttl = 3600, .rdlen = 4,
			 .rdata = a_old}};
		struct dns_rr add[2] = {
			{.owner = apex, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 3600, .rdlen = ln,
			 .rdata = soa_new},
			{.owner = own, .type = DNS_T_A, .rclass = DNS_C_IN, .ttl = 3600, .rdlen = 4,
			 .rdata = a_new}};
		struct zone *nz;
		double s = now_us(), cs = cpu_us();
		int ret = zone_apply_diff(cur, del, 2, add, 2, &nz, err, sizeof(err));
		if (ret == 0)
			ret = zdb_publish(db, nz);
		double e = now_us(), ce = cpu_us();
		if (ret != 0) {
			/* The host was changed before (same random pick): undo the pick. */
			k--;
			continue;
		}
		lat[k] = e - s;
		cpu[k] = ce - cs;
		rcu_quiescent_state();
	}
	qsort(lat, changes, sizeof(double), cmp_double);
	qsort(cpu, changes, sizeof(double), cmp_double);
	printf("one-record IXFR apply + publish on %u records, %u changes: "
	       "median %.1f us, p99 %.1f us, max %.1f us (wall clock)\n",
	       n, changes, lat[changes / 2], lat[changes * 99 / 100], lat[changes - 1]);
	printf("  same, thread CPU time (preemption excluded): median %.1f us, p99 %.1f us\n",
	       cpu[changes / 2], cpu[changes * 99 / 100]);
	free(lat);
	free(cpu);
	rcu_thread_offline();
	rcu_barrier();
	zdb_free(db);
	rcu_unregister_thread();
	return 0;
}
