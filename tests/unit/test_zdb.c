/* secondary/zdb.c: longest-match zone lookup, RCU publish under concurrent readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include "dns/wire.h"
#include "secondary/zdb.h"
#include "secondary/zone.h"
#include "secondary/zone_impl.h"
#include "tests/unit/zone_helper.h"
#include "util/err.h"

static struct zone *
mkzone(const char *apex, unsigned serial)
{
	char soa[200], err[160];
	snprintf(soa, sizeof(soa), "%s 60 SOA ns.%s h.%s %u 2 3 4 5", apex, apex, apex, serial);
	const char *lines[] = {soa};
	struct zone *z = tzone_build(apex, lines, 1, err, sizeof(err));
	assert_non_null(z);
	return z;
}

static const uint8_t *
wire(const char *name, uint8_t *buf)
{
	assert_true(dns_name_from_text(name, strlen(name), NULL, buf) > 0);
	return buf;
}

static bool
find(struct zdb *db, const char *name, struct zdb_view *v)
{
	uint8_t w[DNS_NAME_MAX], k[DNS_LOOKUP_MAX];
	wire(name, w);
	size_t kl = dns_name_to_lookup(w, k);
	return zdb_find(db, k, kl, v);
}

static void
test_zdb_longest_match(void **state)
{
	(void)state;
	uint8_t w[DNS_NAME_MAX];
	struct zdb *db = zdb_new();
	assert_int_equal(zdb_add(db, wire("example.test.", w)), 0);
	assert_int_equal(zdb_add(db, wire("sub.example.test.", w)), 0);
	assert_int_equal(zdb_add(db, wire("example.test.", w)), -EEXIST);
	assert_int_equal(zdb_count(db), 2);
	assert_int_equal(zdb_publish(db, mkzone("example.test.", 1)), 0);
	struct zone *orphan = mkzone("other.test.", 1);
	assert_int_equal(zdb_publish(db, orphan), -ENOENT);
	zone_free(orphan);
	struct zdb_view v;
	assert_true(find(db, "www.example.test.", &v));
	assert_true(dns_name_equal(v.apex, wire("example.test.", w)));
	assert_non_null(v.zone);
	assert_int_equal(zone_serial(v.zone), 1);
	assert_true(find(db, "a.b.SUB.example.test.", &v));
	assert_true(dns_name_equal(v.apex, wire("sub.example.test.", w)));
	assert_null(v.zone);                       /* added, never published */
	assert_true(find(db, "subx.example.test.", &v));   /* label boundary, not a prefix */
	assert_true(dns_name_equal(v.apex, wire("example.test.", w)));
	assert_false(find(db, "test.", &v));
	assert_false(find(db, "example.org.", &v));
	assert_int_equal(zdb_set_expired(db, wire("example.test.", w), true), 0);
	assert_true(find(db, "example.test.", &v));
	assert_true(v.expired);
	/* A new version clears the expired mark. */
	assert_int_equal(zdb_publish(db, mkzone("example.test.", 2)), 0);
	assert_true(find(db, "example.test.", &v));
	assert_false(v.expired);
	assert_int_equal(zone_serial(zdb_get(db, wire("example.test.", w))), 2);
	assert_int_equal(zdb_remove(db, wire("sub.example.test.", w)), 0);
	assert_int_equal(zdb_remove(db, wire("sub.example.test.", w)), -ENOENT);
	assert_true(find(db, "a.sub.example.test.", &v));
	assert_true(dns_name_equal(v.apex, wire("example.test.", w)));
	/* A version committed on a zone removed meanwhile: not published, retired later. */
	const struct zone *base = zdb_get(db, wire("example.test.", w));
	struct trr t;
	char err[160];
	trr_parse(&t, "www.example.test. 60 A 192.0.2.1");
	struct zone *nz;
	assert_int_equal(zone_apply_diff(base, NULL, 0, &t.rr, 1, &nz, err, sizeof(err)), 0);
	assert_int_equal(zdb_remove(db, wire("example.test.", w)), 0);
	assert_int_equal(zdb_publish(db, nz), -ENOENT);
	zdb_retire(nz);
	/* A root zone matches everything. */
	assert_int_equal(zdb_add(db, wire(".", w)), 0);
	assert_true(find(db, "example.org.", &v));
	assert_int_equal(v.apex[0], 0);
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	zdb_free(db);
}

/* ---- 1,000 IXFR publishes while a reader checks a two-record invariant ---- */

struct shared {
	struct zdb *db;
	uint8_t apex[DNS_NAME_MAX];
	atomic_bool done;
	atomic_ulong checks;
	unsigned long mixed;
};

static uint32_t
txt_value(const struct zone *z, const char *name)
{
	uint8_t w[DNS_NAME_MAX], k[DNS_LOOKUP_MAX];
	dns_name_from_text(name, strlen(name), NULL, w);
	size_t kl = dns_name_to_lookup(w, k);
	const struct znode *n = zone_node(z, k, kl);
	assert_non_null(n);
	const struct zrrset *rs = znode_rrset(n, DNS_T_TXT);
	assert_non_null(rs);
	assert_int_equal(rs->count, 1);
	const uint8_t *rd = zrrset_data(n, rs) + ZRR_HDR;
	uint32_t v = 0;
	for (unsigned i = 1; i <= rd[0]; i++)
		v = v * 10 + (uint32_t)(rd[i] - '0');
	return v;
}

static void *
reader(void *arg)
{
	struct shared *s = arg;
	rcu_register_thread();
	while (!atomic_load(&s->done)) {
		const struct zone *z = zdb_get(s->db, s->apex);
		uint32_t a = txt_value(z, "v.inv.test."), b = txt_value(z, "w.inv.test.");
		if (a != b || a != zone_serial(z))
			s->mixed++;
		atomic_fetch_add(&s->checks, 1);
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

static void
test_zdb_publish_under_readers(void **state)
{
	(void)state;
	static struct shared s;
	memset(&s, 0, sizeof(s));
	s.db = zdb_new();
	wire("inv.test.", s.apex);
	const char *lines[] = {"inv.test. 60 SOA ns.inv.test. h.inv.test. 0 2 3 4 5",
	                       "v.inv.test. 60 TXT \"0\"", "w.inv.test. 60 TXT \"0\""};
	char err[160];
	struct zone *z = tzone_build("inv.test.", lines, 3, err, sizeof(err));
	assert_int_equal(zdb_add(s.db, s.apex), 0);
	assert_int_equal(zdb_publish(s.db, z), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader, &s), 0);
	unsigned long seen = 0;
	for (unsigned k = 1; k <= 1000; k++) {
		/* Every 50 versions, let the reader check some: the two must interleave. */
		if (k % 50 == 1) {
			while (atomic_load(&s.checks) == seen)
				sched_yield();
			seen = atomic_load(&s.checks);
		}
		static struct trr del[3], add[3];
		char l[160];
		snprintf(l, sizeof(l), "inv.test. 60 SOA ns.inv.test. h.inv.test. %u 2 3 4 5", k - 1);
		trr_parse(&del[0], l);
		snprintf(l, sizeof(l), "v.inv.test. 60 TXT \"%u\"", k - 1);
		trr_parse(&del[1], l);
		snprintf(l, sizeof(l), "w.inv.test. 60 TXT \"%u\"", k - 1);
		trr_parse(&del[2], l);
		snprintf(l, sizeof(l), "inv.test. 60 SOA ns.inv.test. h.inv.test. %u 2 3 4 5", k);
		trr_parse(&add[0], l);
		snprintf(l, sizeof(l), "v.inv.test. 60 TXT \"%u\"", k);
		trr_parse(&add[1], l);
		snprintf(l, sizeof(l), "w.inv.test. 60 TXT \"%u\"", k);
		trr_parse(&add[2], l);
		struct dns_rr d[3] = {del[0].rr, del[1].rr, del[2].rr};
		struct dns_rr a[3] = {add[0].rr, add[1].rr, add[2].rr};
		struct zone *nz;
		const struct zone *cur = zdb_get(s.db, s.apex);
		assert_int_equal(zone_apply_diff(cur, d, 3, a, 3, &nz, err, sizeof(err)), 0);
		assert_int_equal(zdb_publish(s.db, nz), 0);
		rcu_quiescent_state();
	}
	atomic_store(&s.done, true);
	pthread_join(th, NULL);
	assert_int_equal(zone_serial(zdb_get(s.db, s.apex)), 1000);
	assert_true(atomic_load(&s.checks) >= 20);
	assert_int_equal(s.mixed, 0);
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	zdb_free(s.db);
}

static int
setup(void **state)
{
	(void)state;
	rcu_register_thread();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rcu_unregister_thread();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zdb_longest_match),
		cmocka_unit_test(test_zdb_publish_under_readers),
	};
	return cmocka_run_group_tests_name("zdb", tests, setup, teardown);
}
