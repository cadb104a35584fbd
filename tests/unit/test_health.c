/* secondary/health.c (POP health verdicts) and announce.c's interface and BIRD probes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "secondary/announce.h"
#include "secondary/health.h"

static struct timers_zone_info
zinfo(const char *name, bool loaded, bool expired, uint32_t serial)
{
	struct timers_zone_info z;
	memset(&z, 0, sizeof(z));
	snprintf(z.name, sizeof(z.name), "%s", name);
	z.loaded = loaded;
	z.expired = expired;
	z.serial = serial;
	z.since_refresh = 1;
	return z;
}

static struct health *
mk(unsigned lag_s, uint32_t lag_serials)
{
	struct health_cfg c = {.timers = NULL, .max_lag_s = lag_s, .max_lag_serials = lag_serials};
	struct health *h = health_new(&c);
	assert_non_null(h);
	health_set_listening(h, true);
	return h;
}

static void
test_health_all_good(void **state)
{
	(void)state;
	struct health *h = mk(5, 0);
	struct timers_zone_info z[2] = {zinfo("example.com.", true, false, 7),
	                                zinfo("example.net.", true, false, 1)};
	struct health_result r;
	health_eval(h, z, 2, 1000, &r);
	assert_true(r.healthy);
	assert_int_equal(r.faults, 0);
	assert_int_equal(r.zones, 2);
	assert_string_equal(r.why, "");
	health_free(h);
}

/* A signed zone whose signatures expire within --rrsig-margin is bad (issue 15). */
static void
test_health_rrsig_margin(void **state)
{
	(void)state;
	struct health_cfg c = {.rrsig_margin_s = 3600};
	struct health *h = health_new(&c);
	assert_non_null(h);
	health_set_listening(h, true);
	struct timers_zone_info z = zinfo("signed.example.", true, false, 1);
	z.is_signed = true;
	z.sig_left_s = 7200;
	struct health_result r;
	health_eval(h, &z, 1, 1000, &r);
	assert_true(r.healthy);
	z.sig_left_s = 3599;   /* expiring: withdraw */
	health_eval(h, &z, 1, 1000, &r);
	assert_false(r.healthy);
	assert_non_null(strstr(r.why, "zone signed.example. signatures expire in 3599 s (margin 3600 s)"));
	/* ... also among many good zones: not counted against --health-max-bad */
	struct timers_zone_info many[4] = {z, zinfo("a.example.", true, false, 1),
	                                   zinfo("b.example.", true, false, 1),
	                                   zinfo("c.example.", true, false, 1)};
	health_eval(h, many, 4, 1000, &r);
	assert_false(r.healthy);
	assert_int_equal(r.bad, 0);
	assert_non_null(strstr(r.why, "zone signed.example. signatures expire in 3599 s"));
	z.sig_left_s = -5;
	health_eval(h, &z, 1, 1000, &r);
	assert_false(r.healthy);
	assert_non_null(strstr(r.why, "zone signed.example. signatures expired 5 s ago"));
	/* Unsigned zones have no signatures to expire. */
	z.is_signed = false;
	health_eval(h, &z, 1, 1000, &r);
	assert_true(r.healthy);
	health_free(h);
	/* 0 turns the check off. */
	c.rrsig_margin_s = 0;
	h = health_new(&c);
	health_set_listening(h, true);
	z.is_signed = true;
	health_eval(h, &z, 1, 1000, &r);
	assert_true(r.healthy);
	health_free(h);
}

static void
test_health_not_listening_no_zones(void **state)
{
	(void)state;
	struct health *h = mk(5, 0);
	health_set_listening(h, false);
	struct health_result r;
	health_eval(h, NULL, 0, 1000, &r);
	assert_false(r.healthy);
	assert_int_equal(r.faults, 2);
	assert_string_equal(r.why, "DNS service not listening\nno zones\n");
	assert_string_equal(r.lag, "DNS service not listening\n");
	/* health_check without timers sees no zones */
	health_set_listening(h, true);
	assert_int_equal(health_check(h, 1000, &r), 0);
	assert_false(r.healthy);
	assert_string_equal(r.why, "no zones\n");
	health_free(h);
}

static void
test_health_unloaded_and_expired(void **state)
{
	(void)state;
	struct health *h = mk(5, 0);
	struct timers_zone_info z[3] = {zinfo("a.example.", false, false, 0),
	                                zinfo("b.example.", true, true, 3),
	                                zinfo("c.example.", true, false, 3)};
	struct health_result r;
	health_eval(h, z, 3, 1000, &r);
	assert_false(r.healthy);
	assert_int_equal(r.faults, 2);
	assert_string_equal(r.why, "2 of 3 zones missing, expired or lagging (at most 0 allowed)\n"
	                           "zone a.example. not loaded\nzone b.example. expired\n");
	assert_string_equal(r.lag, "");
	assert_int_equal(r.unloadable, 2);
	health_free(h);
}

static struct health *
mk_policy(unsigned grace_s, const char *max_bad)
{
	struct health_cfg c = {.timers = NULL, .max_lag_s = 5, .grace_s = grace_s};
	assert_int_equal(health_parse_max_bad(max_bad, &c), 0);
	struct health *h = health_new(&c);
	assert_non_null(h);
	health_set_listening(h, true);
	return h;
}

static void
test_health_parse_max_bad(void **state)
{
	(void)state;
	struct health_cfg c = {0};
	assert_int_equal(health_parse_max_bad("1%", &c), 0);
	assert_int_equal(c.max_bad_ppm, 10000);
	assert_int_equal(health_parse_max_bad("0.5%", &c), 0);
	assert_int_equal(c.max_bad_ppm, 5000);
	assert_int_equal(health_parse_max_bad("100%", &c), 0);
	assert_int_equal(c.max_bad_ppm, 1000000);
	assert_int_equal(health_parse_max_bad("7", &c), 0);
	assert_int_equal(c.max_bad, 7);
	assert_int_equal(c.max_bad_ppm, 0);
	assert_int_equal(health_parse_max_bad("0", &c), 0);
	assert_int_equal(c.max_bad, 0);
	const char *bad[] = {"", "%", "x", "1.5", "-1", "101%", "1%%", "1.00001%", " 1", "1 ",
	                     "99999999999", "0x10", ".%", "1..0%"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(health_parse_max_bad(bad[i], &c), -EINVAL);
}

/* A catalog with `n` members loaded since t=0; the catalog first. */
static size_t
catalog_zones(struct timers_zone_info *z, size_t n)
{
	z[0] = zinfo("cat.invalid.", true, false, 1);
	z[0].is_catalog = true;
	for (size_t i = 1; i <= n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "z%zu.example.", i);
		z[i] = zinfo(name, true, false, 1);
		z[i].initial = true;
	}
	return n + 1;
}

static void
test_health_new_zone_grace(void **state)
{
	(void)state;
	struct health *h = mk_policy(60, "0");   /* strict: any settled bad zone withdraws */
	struct timers_zone_info z[8];
	size_t n = catalog_zones(z, 3);
	/* Five new members, not loaded yet, added at t=100 s. */
	for (int i = 0; i < 4; i++) {
		z[n] = zinfo("new.example.", false, false, 0);
		z[n].name[3] = (char)('a' + i);
		z[n++].added_ms = 100000;
	}
	struct health_result r;
	health_eval(h, z, n, 100000, &r);
	assert_true(r.healthy);
	assert_int_equal(r.pending, 4);
	assert_int_equal(r.unloadable, 4);
	assert_int_equal(r.bad, 0);
	assert_non_null(strstr(r.detail, "zone newaexample. not loaded, new (0 s in the catalog, "
	                                 "grace 60 s)\n"));
	health_eval(h, z, n, 160000, &r);   /* a full grace: settled, missing */
	assert_false(r.healthy);
	health_eval(h, z, n, 159999, &r);
	assert_true(r.healthy);
	health_eval(h, z, n, 160001, &r);
	assert_false(r.healthy);
	assert_int_equal(r.bad, 4);
	assert_non_null(strstr(r.why, "4 of 7 zones missing, expired or lagging (at most 0 allowed)"));
	/* An initial member (first catalog version) has no grace. */
	struct timers_zone_info y[3];
	n = catalog_zones(y, 2);
	y[2].loaded = false;
	y[2].added_ms = 100000;
	health_eval(h, y, n, 100000, &r);
	assert_false(r.healthy);
	assert_string_equal(r.why, "zone z2.example. not loaded\n");
	health_free(h);
}

static void
test_health_max_bad_budget(void **state)
{
	(void)state;
	struct health *h = mk_policy(60, "1%");
	static struct timers_zone_info z[302];
	size_t n = catalog_zones(z, 300);
	struct health_result r;
	health_eval(h, z, n, 1000000, &r);
	assert_true(r.healthy);
	assert_int_equal(r.allowed, 3);     /* 1% of 300 */
	/* Three broken zones (never loaded, expired, lagging): still announced. */
	z[1].loaded = false;
	z[2].expired = true;
	assert_int_equal(health_note_primary(h, "z3.example.", 9, 1000000), 0);
	health_eval(h, z, n, 1000000, &r);
	assert_true(r.healthy);
	health_eval(h, z, n, 1006001, &r);  /* z3 behind for more than 5 s */
	assert_true(r.healthy);
	assert_int_equal(r.bad, 3);
	assert_int_equal(r.unloadable, 2);
	assert_string_equal(r.detail, "zone z1.example. not loaded\nzone z2.example. expired\n"
	    "zone z3.example. lags the primary: serial 1, primary 9, for 6 s\n");
	assert_string_equal(r.why, "");
	/* A fourth withdraws. */
	z[4].expired = true;
	health_eval(h, z, n, 1006001, &r);
	assert_false(r.healthy);
	assert_non_null(strstr(r.why, "4 of 300 zones missing, expired or lagging (at most 3 allowed)\n"
	                              "zone z1.example. not loaded\n"));
	assert_non_null(strstr(r.lag, "zone z3.example. lags"));
	health_free(h);

	/* Few zones: 1% rounds down, but at least one zone is tolerated. */
	h = mk_policy(60, "1%");
	n = catalog_zones(z, 4);
	z[3].loaded = false;
	health_eval(h, z, n, 1000000, &r);
	assert_true(r.healthy);
	assert_int_equal(r.allowed, 1);
	assert_non_null(strstr(r.detail, "zone z3.example. not loaded\n"));
	z[2].expired = true;
	health_eval(h, z, n, 1000000, &r);
	assert_false(r.healthy);
	health_free(h);
}

static void
test_health_catalog_and_nothing_servable(void **state)
{
	(void)state;
	struct health *h = mk_policy(60, "5");
	struct timers_zone_info z[4];
	size_t n = catalog_zones(z, 3);
	struct health_result r;
	/* The catalog itself expired: withdraw whatever the members. */
	z[0].expired = true;
	health_eval(h, z, n, 1000, &r);
	assert_false(r.healthy);
	assert_string_equal(r.why, "catalog cat.invalid. expired\n");
	z[0].expired = false;
	z[0].loaded = false;
	health_eval(h, z, n, 1000, &r);
	assert_string_equal(r.why, "catalog cat.invalid. not loaded\n");
	z[0].loaded = true;
	/* A catalog with no members yet is fine. */
	health_eval(h, z, 1, 1000, &r);
	assert_true(r.healthy);
	/* Within the budget, but no zone servable at all: withdraw. */
	z[1].loaded = z[2].loaded = false;
	z[3].expired = true;
	health_eval(h, z, n, 1000, &r);
	assert_false(r.healthy);
	assert_string_equal(r.why, "none of 3 zones servable\nzone z1.example. not loaded\n"
	                           "zone z2.example. not loaded\nzone z3.example. expired\n");
	/* A single configured zone (--zone) that expired withdraws (nothing to serve). */
	struct timers_zone_info one = zinfo("example.com.", true, true, 3);
	one.initial = true;
	health_eval(h, &one, 1, 1000, &r);
	assert_false(r.healthy);
	assert_string_equal(r.why, "zone example.com. expired\n");
	health_free(h);
}

static void
test_health_lag_seconds(void **state)
{
	(void)state;
	struct health *h = mk(5, 0);
	struct timers_zone_info z = zinfo("example.com.", true, false, 8);
	struct health_result r;
	/* NOTIFY announced serial 10 at t=1 s; we serve 8. */
	assert_int_equal(health_note_primary(h, "example.com.", 10, 1000), 0);
	health_eval(h, &z, 1, 1000, &r);
	assert_true(r.healthy);                 /* behind, but within 5 s */
	health_eval(h, &z, 1, 6000, &r);
	assert_true(r.healthy);                 /* exactly 5 s is still fine */
	health_eval(h, &z, 1, 6001, &r);
	assert_false(r.healthy);
	assert_string_equal(r.why, "zone example.com. lags the primary: serial 8, primary 10, for 5 s\n");
	assert_string_equal(r.lag, r.why);
	/* An older NOTIFY does not lower the known serial. */
	assert_int_equal(health_note_primary(h, "EXAMPLE.com.", 9, 7000), 0);
	health_eval(h, &z, 1, 7000, &r);
	assert_non_null(strstr(r.why, "primary 10"));
	/* The refresh brings serial 10: healthy at once; a new lag starts afresh. */
	z.serial = 10;
	health_eval(h, &z, 1, 8000, &r);
	assert_true(r.healthy);
	assert_int_equal(health_note_primary(h, "example.com.", 11, 9000), 0);
	health_eval(h, &z, 1, 9000, &r);
	assert_true(r.healthy);
	health_eval(h, &z, 1, 13000, &r);
	assert_true(r.healthy);
	health_eval(h, &z, 1, 14001, &r);
	assert_false(r.healthy);
	health_free(h);
}

static void
test_health_lag_serials_rfc1982(void **state)
{
	(void)state;
	struct health *h = mk(0, 3);
	/* Across the wrap: primary 2 is 4 ahead of 0xfffffffe (RFC 1982). */
	struct timers_zone_info z = zinfo("example.com.", true, false, 0xfffffffeu);
	struct health_result r;
	assert_int_equal(health_note_primary(h, "example.com.", 2, 0), 0);
	health_eval(h, &z, 1, 0, &r);
	assert_false(r.healthy);
	assert_string_equal(r.why,
	    "zone example.com. lags the primary: serial 4294967294, primary 2 (4 serials)\n");
	z.serial = 0xffffffffu;                 /* 3 behind: allowed */
	health_eval(h, &z, 1, 100000, &r);
	assert_true(r.healthy);                 /* seconds limit off */
	/* A served serial ahead of the NOTIFY's is no lag. */
	z.serial = 5;
	health_eval(h, &z, 1, 100000, &r);
	assert_true(r.healthy);
	health_free(h);
}

static void
test_health_on_notify_without_timers(void **state)
{
	(void)state;
	struct health *h = mk(1, 0);
	const uint8_t apex[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
	assert_int_equal(health_on_notify(h, apex, true, 50), -ENOENT);
	struct timers_zone_info z = zinfo("example.com.", true, false, 49);
	struct health_result r;
	int64_t now = health_now_ms();
	health_eval(h, &z, 1, now, &r);
	assert_true(r.healthy);
	health_eval(h, &z, 1, now + 1001, &r);
	assert_false(r.healthy);
	health_free(h);
}

static void
test_health_iface_probe(void **state)
{
	(void)state;
	assert_int_equal(announce_iface_get("lo"), 1);
	assert_int_equal(announce_iface_get("nosuchif0"), -ENODEV);
	assert_int_equal(announce_iface_get("a-name-far-too-long-for-linux"), -EINVAL);
	assert_int_equal(announce_iface_set("nosuchif0", true), -ENODEV);
	assert_int_equal(announce_iface_set("", true), -EINVAL);
	/* Already up: setting up again changes nothing and needs no privilege. */
	assert_int_equal(announce_iface_set("lo", true), 0);
}

struct greeter {
	int lfd;
	const char *greeting;
};

static void *
greeter_main(void *arg)
{
	struct greeter *g = arg;
	int c = accept(g->lfd, NULL, NULL);
	if (c >= 0) {
		ssize_t w = write(c, g->greeting, strlen(g->greeting));
		(void)w;
		close(c);
	}
	return NULL;
}

static int
unix_socket(const char *path, bool do_listen)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void
test_health_bird_probe(void **state)
{
	(void)state;
	char path[64];
	snprintf(path, sizeof(path), "/tmp/anycst-test-bird-%d.ctl", (int)getpid());
	unlink(path);
	assert_int_equal(announce_bird_probe(path, 200), -ENOENT);
	/* Bound but not listening: BIRD refusing its control socket. */
	int fd = unix_socket(path, false);
	assert_int_equal(announce_bird_probe(path, 200), -ECONNREFUSED);
	close(fd);
	/* Listening but silent: times out. */
	fd = unix_socket(path, true);
	assert_int_equal(announce_bird_probe(path, 100), -ETIMEDOUT);
	close(fd);
	/* A BIRD greeting. */
	fd = unix_socket(path, true);
	struct greeter g = {.lfd = fd, .greeting = "0001 BIRD 2.0.12 ready.\n"};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, greeter_main, &g), 0);
	assert_int_equal(announce_bird_probe(path, 2000), 0);
	pthread_join(t, NULL);
	/* Something else on that path. */
	g.greeting = "HTTP/1.1 400 Bad Request\r\n";
	assert_int_equal(pthread_create(&t, NULL, greeter_main, &g), 0);
	assert_int_equal(announce_bird_probe(path, 2000), -EPROTO);
	pthread_join(t, NULL);
	close(fd);
	unlink(path);
	assert_int_equal(announce_bird_probe("", 100), -ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_all_good),
		cmocka_unit_test(test_health_rrsig_margin),
		cmocka_unit_test(test_health_not_listening_no_zones),
		cmocka_unit_test(test_health_unloaded_and_expired),
		cmocka_unit_test(test_health_parse_max_bad),
		cmocka_unit_test(test_health_new_zone_grace),
		cmocka_unit_test(test_health_max_bad_budget),
		cmocka_unit_test(test_health_catalog_and_nothing_servable),
		cmocka_unit_test(test_health_lag_seconds),
		cmocka_unit_test(test_health_lag_serials_rfc1982),
		cmocka_unit_test(test_health_on_notify_without_timers),
		cmocka_unit_test(test_health_iface_probe),
		cmocka_unit_test(test_health_bird_probe),
	};
	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
