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
	assert_string_equal(r.why, "zone a.example. not loaded\nzone b.example. expired\n");
	assert_string_equal(r.lag, "");
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
		cmocka_unit_test(test_health_not_listening_no_zones),
		cmocka_unit_test(test_health_unloaded_and_expired),
		cmocka_unit_test(test_health_lag_seconds),
		cmocka_unit_test(test_health_lag_serials_rfc1982),
		cmocka_unit_test(test_health_on_notify_without_timers),
		cmocka_unit_test(test_health_iface_probe),
		cmocka_unit_test(test_health_bird_probe),
	};
	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
