/*
 * Two primaries in one process (issue 14): each `struct primary` on its own
 * temporary directory and loopback ports, with its API on top as main.c
 * starts it.  A zone created through one's API must show in that one's
 * /metrics and NOTIFY (its transfer service) and nowhere in the other's:
 * nothing of the primary side is global.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "api/api.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "primary/primary.h"
#include "store_db.h"
#include "primary/xfr_quic.h"
#include "primary/xfr_service.h"
#include "util/clock.h"
#include "util/log.h"

#define KEY "test-key-0123456789"

struct inst {
	char dir[64], db[192], tls[96];
	char xfr[32], quic[32], api[32];
	uint16_t api_port;
	int notify_fd;            /* the --notify target: a socket of this test */
	char notify_to[32];
	const char *notify_list[1];
	struct primary *p;
};

/* A loopback port free right now (bound, read, closed). */
static uint16_t
free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void
inst_start(struct inst *in)
{
	snprintf(in->dir, sizeof(in->dir), "/tmp/anycst-test-primary-XXXXXX");
	assert_non_null(mkdtemp(in->dir));
	snprintf(in->db, sizeof(in->db), "%s/db", in->dir);
	test_db_fresh(in->db, sizeof(in->db));
	snprintf(in->tls, sizeof(in->tls), "%s/tls.key", in->dir);
	uint16_t xp = free_port(SOCK_STREAM);
	snprintf(in->xfr, sizeof(in->xfr), "127.0.0.1:%u", xp);
	snprintf(in->quic, sizeof(in->quic), "127.0.0.1:%u", free_port(SOCK_DGRAM));
	in->api_port = free_port(SOCK_STREAM);
	snprintf(in->api, sizeof(in->api), "127.0.0.1:%u", in->api_port);

	in->notify_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	assert_int_equal(bind(in->notify_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(in->notify_fd, (struct sockaddr *)&a, &l), 0);
	snprintf(in->notify_to, sizeof(in->notify_to), "127.0.0.1:%u", ntohs(a.sin_port));
	in->notify_list[0] = in->notify_to;

	struct primary_conf pc = {
		.store = {.path = in->db, .catalog = "catalog.anycst.invalid.", .journal_keep = 100},
		.xfr = in->xfr,
		.notify = in->notify_list,
		.nnotify = 1,
		.quic = in->quic,
		.tls_key = in->tls,
		.mesh = {.net = "10.53.0.0/24"},
	};
	char err[512];
	int ret = primary_open(&pc, &in->p, err, sizeof(err));
	if (ret != 0)
		fail_msg("primary_open: %s", err);
	struct api_opts ao = {
		.listen = in->api, .key = KEY, .version = "0.1.0",
		.quic_spki_pin = xfr_quic_pin(in->p->quic),
		.propagation = xfr_service_propagation(in->p->xfr),
		.mesh = in->p->mesh,
		.metrics_fn = xfr_quic_metrics,
		.metrics_ctx = in->p->quic,
	};
	ret = api_start(&ao, in->p->store, &in->p->api, err, sizeof(err));
	if (ret != 0)
		fail_msg("api_start: %s", err);
}

static void
inst_stop(struct inst *in)
{
	api_stop(in->p->api);
	primary_close(in->p);
	close(in->notify_fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", in->dir);
	assert_int_equal(system(cmd), 0);
}

/* One HTTP/1.1 request to the instance's API; the whole answer into buf. */
static void
http(struct inst *in, const char *method, const char *path, const char *body, char *buf,
     size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(in->api_port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	char req[1024];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nX-API-Key: " KEY "\r\n"
	                 "Connection: close\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\n\r\n%s", method, path,
	                 body != NULL ? strlen(body) : 0, body != NULL ? body : "");
	assert_int_equal(write(fd, req, (size_t)n), n);
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd);
}

static void
create_zone(struct inst *in, const char *name)
{
	char body[256], buf[8192];
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"kind\":\"Native\",\"nameservers\":"
	         "[\"ns1.%s\"]}", name, name);
	http(in, "POST", "/api/v1/servers/localhost/zones", body, buf, sizeof(buf));
	if (strncmp(buf, "HTTP/1.1 201", 12) != 0)
		fail_msg("create %s: %.200s", name, buf);
}

/* The value of metric `name` on the instance's /metrics. */
static long
metric(struct inst *in, const char *name)
{
	static char buf[1 << 16];
	http(in, "GET", "/metrics", NULL, buf, sizeof(buf));
	char pat[128];
	snprintf(pat, sizeof(pat), "\n%s ", name);
	const char *p = strstr(buf, pat);
	if (p == NULL)
		fail_msg("no %s in /metrics", name);
	return strtol(p + strlen(pat), NULL, 10);
}

/*
 * Reads NOTIFYs arriving at the instance's target for `ms`: sets seen[i]
 * for each name of `want` announced, and fails on any zone not in `allowed`.
 */
static void
collect_notifies(struct inst *in, const char *const *allowed, size_t nallowed, bool *seen,
                 int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;
	for (;;) {
		int64_t left = end - clock_mono_ms();
		if (left <= 0)
			return;
		struct pollfd pf = {.fd = in->notify_fd, .events = POLLIN};
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		uint8_t pkt[2048];
		ssize_t n = recv(in->notify_fd, pkt, sizeof(pkt), 0);
		struct dns_msg m;
		if (n <= 0 || dns_msg_parse(&m, pkt, (size_t)n) != 0)
			continue;
		assert_int_equal(dns_msg_opcode(&m), DNS_OP_NOTIFY);
		char text[DNS_NAME_TEXT_MAX];
		assert_true(dns_name_to_text(m.qname, text, sizeof(text)) > 0);
		size_t i;
		for (i = 0; i < nallowed; i++)
			if (strcmp(text, allowed[i]) == 0)
				break;
		if (i == nallowed)
			fail_msg("NOTIFY of %s reached the other primary's target", text);
		seen[i] = true;
	}
}

static void
test_two_primaries_one_process(void **state)
{
	(void)state;
	struct inst a = {0}, b = {0};
	inst_start(&a);
	inst_start(&b);
	long za = metric(&a, "anycst_zones"), zb = metric(&b, "anycst_zones");

	create_zone(&a, "alpha.test.");
	create_zone(&b, "beta.test.");
	create_zone(&b, "gamma.test.");

	/* each one's store and /metrics count its own changes only */
	assert_int_equal(metric(&a, "anycst_zones"), za + 1);
	assert_int_equal(metric(&b, "anycst_zones"), zb + 2);
	assert_int_equal(metric(&a, "anycst_commits_total") + 1, metric(&b, "anycst_commits_total"));

	/* each one's transfer service NOTIFYs its own zones to its own target */
	const char *na[] = {"alpha.test.", "catalog.anycst.invalid."};
	const char *nb[] = {"beta.test.", "gamma.test.", "catalog.anycst.invalid."};
	bool sa[2] = {false}, sb[3] = {false};
	int64_t deadline = clock_mono_ms() + 20000;
	while (!(sa[0] && sb[0] && sb[1]) && clock_mono_ms() < deadline) {
		collect_notifies(&a, na, 2, sa, 200);
		collect_notifies(&b, nb, 3, sb, 200);
	}
	assert_true(sa[0]);
	assert_true(sb[0]);
	assert_true(sb[1]);

	/* and stopping one leaves the other serving */
	inst_stop(&a);
	char buf[8192];
	http(&b, "GET", "/api/v1/servers/localhost/zones/beta.test.", NULL, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "HTTP/1.1 200", 12), 0);
	inst_stop(&b);
}

int
main(void)
{
	log_set_level(LOG_WARNING);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_primaries_one_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
