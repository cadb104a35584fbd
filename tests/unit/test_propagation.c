/*
 * propagation: what the primary knows of each target's serial, the lag
 * from commit, NOTIFY outcomes, and the JSON of GET /zones/{id}/propagation;
 * acl_key_equal's name rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <unistd.h>

#include "primary/acl.h"
#include "primary/propagation.h"
#include "primary/store.h"
#include "store_db.h"

static json_t *
target(json_t *root, const char *ip)
{
	json_t *arr = json_object_get(root, "targets");
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t) {
		if (strcmp(json_string_value(json_object_get(t, "target")), ip) == 0)
			return t;
	}
	return NULL;
}

static json_t *
get(struct propagation *p, const char *zone, uint32_t serial, int64_t now)
{
	char *s = propagation_json(p, zone, serial, now);
	assert_non_null(s);
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	free(s);
	assert_non_null(j);
	return j;
}

static void
test_propagation_lag_and_behind(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	propagation_commit(p, "example.com.", 5, 1000000);
	propagation_commit(p, "example.com.", 6, 2000000);
	/* Target A asked IXFR from 5 (it holds 5), then got 6 by IXFR 150 ms after
	 * the commit of 6; target B holds 5 only. */
	propagation_seen(p, "example.com.", "10.53.0.2", "TCP", "pop-a.", PROP_IXFR_ASKED, 5,
	                 2000100);
	propagation_seen(p, "example.com.", "10.53.0.2", "TCP", "pop-a.", PROP_IXFR_DONE, 6,
	                 2000150);
	propagation_seen(p, "example.com.", "10.53.0.3", "QUIC", "pop-b.", PROP_FULL_DONE, 5,
	                 1000500);
	json_t *j = get(p, "EXAMPLE.com.", 6, 2003000);
	assert_int_equal(json_integer_value(json_object_get(j, "serial")), 6);
	json_t *a = target(j, "10.53.0.2");
	json_t *b = target(j, "10.53.0.3");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(json_is_true(json_object_get(a, "up_to_date")));
	assert_int_equal(json_integer_value(json_object_get(a, "lag_ms")), 150);
	assert_string_equal(json_string_value(json_object_get(a, "how")), "IXFR");
	assert_true(json_is_null(json_object_get(a, "behind_ms")));
	assert_true(json_is_false(json_object_get(b, "up_to_date")));
	assert_int_equal(json_integer_value(json_object_get(b, "serial")), 5);
	assert_int_equal(json_integer_value(json_object_get(b, "lag_ms")), 500);
	/* Behind since the commit of 6, three seconds ago. */
	assert_int_equal(json_integer_value(json_object_get(b, "behind_ms")), 3000);
	assert_string_equal(json_string_value(json_object_get(b, "transport")), "QUIC");
	json_decref(j);
	assert_true(propagation_has(p, "example.com.", "10.53.0.2", 6));
	assert_true(propagation_has(p, "example.com.", "10.53.0.2", 5));
	assert_false(propagation_has(p, "example.com.", "10.53.0.3", 6));
	assert_false(propagation_has(p, "example.com.", "10.53.0.9", 1));
	propagation_free(p);
}

static void
test_propagation_soa_query_is_contact_only(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	propagation_seen(p, "example.com.", "127.0.0.1", "TCP", NULL, PROP_SOA_ASKED, 9, 5000);
	json_t *j = get(p, "example.com.", 9, 6000);
	json_t *t = target(j, "127.0.0.1");
	assert_non_null(t);
	assert_true(json_is_null(json_object_get(t, "serial")));
	assert_true(json_is_false(json_object_get(t, "up_to_date")));
	assert_false(propagation_has(p, "example.com.", "127.0.0.1", 9));
	json_decref(j);
	propagation_free(p);
}

static void
test_propagation_notify_and_drop(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	propagation_notified(p, "example.com.", "127.0.0.1@5353", 7, true, 2, 7000);
	json_t *j = get(p, "example.com.", 7, 8000);
	json_t *n = json_object_get(target(j, "127.0.0.1"), "notify");
	assert_string_equal(json_string_value(json_object_get(n, "remote")), "127.0.0.1@5353");
	assert_true(json_is_true(json_object_get(n, "answered")));
	assert_int_equal(json_integer_value(json_object_get(n, "tries")), 2);
	json_decref(j);
	propagation_drop_zone(p, "example.com.");
	j = get(p, "example.com.", 7, 8000);
	assert_int_equal(json_array_size(json_object_get(j, "targets")), 0);
	json_decref(j);
	propagation_free(p);
}

static void
test_propagation_serial_wraps(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	/* RFC 1982: 5 follows 4294967290 */
	propagation_seen(p, "w.test.", "10.0.0.1", "TCP", NULL, PROP_FULL_DONE, 5, 1);
	assert_true(propagation_has(p, "w.test.", "10.0.0.1", 4294967290u));
	assert_false(propagation_has(p, "w.test.", "10.0.0.1", 6));
	propagation_free(p);
}

static const char *
zname(char *buf, size_t cap, unsigned i)
{
	snprintf(buf, cap, "Z%u.Bench%u.test.", i, i % 7);
	return buf;
}

static json_t *
committed_at(struct propagation *p, const char *zone, uint32_t serial)
{
	json_t *j = get(p, zone, serial, 1);
	json_t *c = json_incref(json_object_get(j, "committed_at"));
	json_decref(j);
	return c;
}

/* Many zones, some dropped and created again: each keeps its own history,
 * found in any letter case; the ring keeps the last 256 commits of a zone. */
static void
test_propagation_many_zones(void **state)
{
	(void)state;
	enum { N = 20000 };
	char buf[64], low[64];
	struct propagation *p = propagation_new();
	for (unsigned i = 0; i < N; i++)
		propagation_commit(p, zname(buf, sizeof(buf), i), i + 1, 1000 + i);
	for (unsigned i = 0; i < N; i += 2)
		propagation_drop_zone(p, zname(buf, sizeof(buf), i));
	for (unsigned i = 0; i < N; i += 997) {
		zname(buf, sizeof(buf), i);
		for (size_t k = 0; buf[k] != '\0'; k++)
			low[k] = (char)(buf[k] >= 'A' && buf[k] <= 'Z' ? buf[k] + 32 : buf[k]);
		low[strlen(buf)] = '\0';
		json_t *c = committed_at(p, low, i + 1);
		if (i % 2 == 0)
			assert_true(json_is_null(c));
		else
			assert_true(json_is_string(c));
		json_decref(c);
	}
	/* A dropped zone comes back empty. */
	propagation_commit(p, zname(buf, sizeof(buf), 0), 77, 5000);
	json_t *c = committed_at(p, buf, 1);
	assert_true(json_is_null(c));
	json_decref(c);
	/* 300 commits to one zone: serials 1..44 have left the ring. */
	for (unsigned s = 1; s <= 300; s++)
		propagation_commit(p, "ring.test.", s, 100000 + s);
	c = committed_at(p, "ring.test.", 44);
	assert_true(json_is_null(c));
	json_decref(c);
	c = committed_at(p, "RING.test.", 45);
	assert_string_equal(json_string_value(c), "1970-01-01T00:01:40.045Z");
	json_decref(c);
	c = committed_at(p, "ring.test.", 300);
	assert_string_equal(json_string_value(c), "1970-01-01T00:01:40.300Z");
	json_decref(c);
	propagation_seen(p, "ring.test.", "10.0.0.1", "TCP", NULL, PROP_IXFR_DONE, 299, 100400);
	json_t *j = get(p, "ring.test.", 300, 100500);
	json_t *t = target(j, "10.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(t, "lag_ms")), 101);
	assert_int_equal(json_integer_value(json_object_get(t, "behind_ms")), 200);
	json_decref(j);
	propagation_free(p);
}

static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of three: CPU seconds for `n` commits (and a has() each) to the
 * first zone created, beside `others` zones created after it. */
static double
commit_cost(unsigned others, unsigned n)
{
	char buf[64];
	struct propagation *p = propagation_new();
	propagation_commit(p, "first.test.", 1, 1);
	for (unsigned i = 0; i < others; i++)
		propagation_commit(p, zname(buf, sizeof(buf), i), 1, 1);
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		double t = cpu_s();
		for (unsigned i = 0; i < n; i++) {
			propagation_commit(p, "first.test.", i + 2, i);
			assert_false(propagation_has(p, "first.test.", "10.0.0.1", i));
		}
		t = cpu_s() - t;
		if (t < best)
			best = t;
	}
	propagation_free(p);
	return best;
}

/* A commit costs O(1) in the number of zones (it once walked a list of
 * them: 20,000 zones made every commit thousands of times dearer). */
static void
test_propagation_commit_cost_flat(void **state)
{
	(void)state;
	double one = commit_cost(0, 2000);
	double many = commit_cost(20000, 2000);
	print_message("2000 commits: %.2f ms beside 1 zone, %.3f ms beside 20001\n",
	              one * 1e3, many * 1e3);
	/* Cache misses make the big table somewhat dearer; a list walk would be
	 * thousands of times dearer. */
	assert_true(many < one * 8 + 0.005);
}

static void
test_acl_key_equal_names(void **state)
{
	(void)state;
	assert_true(acl_key_equal("xfr-key.", "XFR-Key"));
	assert_true(acl_key_equal("xfr-key", "xfr-key."));
	assert_false(acl_key_equal("xfr-key.", "xfr-key2."));
	assert_false(acl_key_equal("xfr-key.", "xfr-ke."));
	assert_true(acl_key_equal(".", ""));
}

static void
test_propagation_pop_named_by_registry(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	assert_int_equal(propagation_pop_add(p, "tokyo", "10.53.0.2"), 0);
	/* its address, also through a dual-stack socket, is the POP's */
	propagation_seen(p, "example.com.", "::ffff:10.53.0.2", "QUIC", "pop-tokyo.",
	                 PROP_IXFR_ASKED, 7, 1000);
	propagation_notified(p, "example.com.", "10.53.0.2@5353", 8, true, 1, 1100);
	propagation_seen(p, "example.com.", "127.0.0.1", "TCP", NULL, PROP_FULL_DONE, 8, 1200);
	json_t *j = get(p, "example.com.", 8, 2000);
	assert_int_equal(json_array_size(json_object_get(j, "targets")), 2);
	json_t *t = target(j, "tokyo");
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "pop")), "tokyo");
	assert_string_equal(json_string_value(json_object_get(t, "address")), "10.53.0.2");
	assert_int_equal(json_integer_value(json_object_get(t, "serial")), 7);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "notify"),
	                                                    "serial")), 8);
	json_t *o = target(j, "127.0.0.1");
	assert_non_null(o);
	assert_true(json_is_null(json_object_get(o, "pop")));
	json_decref(j);
	uint32_t serial = 0;
	assert_true(propagation_pop_serial(p, "tokyo", "EXAMPLE.com.", &serial));
	assert_int_equal(serial, 7);
	assert_true(propagation_has(p, "example.com.", "10.53.0.2", 7));
	/* retired: gone from every zone; its address is an ordinary target again */
	propagation_pop_drop(p, "tokyo");
	assert_false(propagation_pop_serial(p, "tokyo", "example.com.", &serial));
	j = get(p, "example.com.", 8, 2000);
	assert_null(target(j, "tokyo"));
	assert_null(target(j, "10.53.0.2"));
	json_decref(j);
	/* seen before it was known as a POP (registry not loaded yet): becomes the POP's */
	propagation_seen(p, "example.com.", "10.53.0.5", "TCP", NULL, PROP_IXFR_ASKED, 8, 3000);
	assert_int_equal(propagation_pop_add(p, "late", "10.53.0.5"), 0);
	j = get(p, "example.com.", 8, 4000);
	assert_null(target(j, "10.53.0.5"));
	assert_non_null(target(j, "late"));
	assert_true(json_is_true(json_object_get(target(j, "late"), "up_to_date")));
	json_decref(j);
	propagation_free(p);
}

struct acks {
	char rows[8][160];
	size_t n;
};

static int
collect(void *ctx, const struct store_pop_ack *a)
{
	struct acks *k = ctx;
	if (k->n < 8)
		snprintf(k->rows[k->n++], sizeof(k->rows[0]), "%s %s %u %s %s", a->pop, a->zone,
		         a->serial, a->transport, a->address);
	return 0;
}

static void
test_propagation_pop_serials_survive_restart(void **state)
{
	(void)state;
	char dir[64], path[192], err[256];
	snprintf(dir, sizeof(dir), "/tmp/anycst-prop-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	test_db_fresh(path, sizeof(path));
	struct store_opts so = {.path = path, .catalog = "cat.test."};
	struct store *st = NULL;
	assert_int_equal(store_open(&so, &st, err, sizeof(err)), 0);
	uint8_t zw[DNS_NAME_MAX];
	assert_true(dns_name_from_text("example.com.", 12, NULL, zw) > 0);
	struct store_zone_new zn = {.name = zw, .kind = "Native", .account = ""};
	struct store_result res;
	assert_int_equal(store_zone_create(st, &zn, NULL, 0, &res, err, sizeof(err)), 0);
	test_db_exec(path, "INSERT INTO secondaries (name, endpoint, public_key, mesh_ip, created_at) "
	          "VALUES ('tokyo', '192.0.2.1:1', 'k1', '10.53.0.2', 0), "
	          "('osaka', '192.0.2.2:1', 'k2', '10.53.0.3', 0)");

	struct propagation *p = propagation_new();
	assert_int_equal(propagation_persist_start(p, st), 0);
	propagation_pop_add(p, "tokyo", "10.53.0.2");
	propagation_pop_add(p, "osaka", "10.53.0.3");
	propagation_pop_add(p, "ghost", "10.53.0.9");     /* not in the registry table */
	propagation_seen(p, "EXAMPLE.com.", "10.53.0.2", "QUIC", NULL, PROP_IXFR_ASKED, 41, 1000);
	propagation_seen(p, "example.com.", "10.53.0.2", "QUIC", NULL, PROP_IXFR_DONE, 42, 1100);
	propagation_seen(p, "example.com.", "10.53.0.3", "TCP", NULL, PROP_FULL_DONE, 42, 1200);
	propagation_seen(p, "example.com.", "10.53.0.9", "TCP", NULL, PROP_FULL_DONE, 42, 1200);
	propagation_seen(p, "nozone.test.", "10.53.0.2", "TCP", NULL, PROP_FULL_DONE, 3, 1200);
	propagation_seen(p, "example.com.", "127.0.0.1", "TCP", NULL, PROP_FULL_DONE, 42, 1300);
	assert_int_equal(propagation_flush(p), 0);
	struct acks k = {0};
	assert_int_equal(store_pop_acks_list(st, collect, &k), 0);
	/* POPs only, registered ones only, existing zones only, the newest serial, one row each */
	assert_int_equal(k.n, 2);
	assert_string_equal(k.rows[0], "osaka example.com. 42 TCP 10.53.0.3");
	assert_string_equal(k.rows[1], "tokyo example.com. 42 QUIC 10.53.0.2");
	propagation_free(p);

	/* next run: known at once, by name, before the registry is even loaded */
	p = propagation_new();
	assert_int_equal(propagation_persist_start(p, st), 0);
	uint32_t serial = 0;
	assert_true(propagation_pop_serial(p, "tokyo", "example.com.", &serial));
	assert_int_equal(serial, 42);
	json_t *j = get(p, "example.com.", 42, 2000);
	json_t *t = target(j, "tokyo");
	assert_non_null(t);
	assert_true(json_is_true(json_object_get(t, "up_to_date")));
	assert_string_equal(json_string_value(json_object_get(t, "address")), "10.53.0.2");
	assert_null(target(j, "127.0.0.1"));
	json_decref(j);
	/* a retired POP: its rows go with it (the registry's DELETE), and a late
	 * write for it is not stored */
	propagation_pop_add(p, "osaka", "10.53.0.3");
	propagation_seen(p, "example.com.", "10.53.0.3", "TCP", NULL, PROP_FULL_DONE, 43, 3000);
	test_db_exec(path, "DELETE FROM secondaries WHERE name = 'osaka'");
	assert_int_equal(propagation_flush(p), 0);
	k.n = 0;
	assert_int_equal(store_pop_acks_list(st, collect, &k), 0);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.rows[0], "tokyo example.com. 42 QUIC 10.53.0.2");
	/* the zone's rows go with the zone */
	assert_int_equal(store_zone_delete(st, zw, NULL), 0);
	k.n = 0;
	assert_int_equal(store_pop_acks_list(st, collect, &k), 0);
	assert_int_equal(k.n, 0);
	propagation_free(p);
	store_close(st);
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char f[224];
		snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
		unlink(f);
	}
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_propagation_lag_and_behind),
		cmocka_unit_test(test_propagation_soa_query_is_contact_only),
		cmocka_unit_test(test_propagation_notify_and_drop),
		cmocka_unit_test(test_propagation_serial_wraps),
		cmocka_unit_test(test_propagation_pop_named_by_registry),
		cmocka_unit_test(test_propagation_pop_serials_survive_restart),
		cmocka_unit_test(test_propagation_many_zones),
		cmocka_unit_test(test_propagation_commit_cost_flat),
		cmocka_unit_test(test_acl_key_equal_names),
	};
	return cmocka_run_group_tests_name("propagation", tests, NULL, NULL);
}
