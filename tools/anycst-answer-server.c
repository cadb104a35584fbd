/*
 * anycst-answer-server: a tiny single-threaded UDP+TCP DNS server over
 * answer_build(), loading zone files with dns/zonetext.  It exists for the
 * differential test against knotd, for benchmarks (pin it with taskset) and
 * for poking at answers by hand; the POP daemon is bin/anycst-secondary.
 *
 *   anycst-answer-server --listen 127.0.0.1:5353 --zone example.com.:example.com.zone
 *
 * Prints "ready PORT" on stdout once it serves (PORT is the bound port, so
 * --listen 127.0.0.1:0 picks a free one).  SIGTERM/SIGINT stop it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "dns/name.h"
#include "dns/zonetext.h"
#include "net/addr.h"
#include "secondary/answer.h"
#include "secondary/zdb.h"
#include "secondary/zone.h"
#include "util/err.h"
#include "util/log.h"
#include "util/opts.h"

#define BATCH 64

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct opt tool_opts[] = {
	{.name = "listen", .arg = "ADDR:PORT", .def = "127.0.0.1:5353", .help = "UDP and TCP"},
	{.name = "zone", .arg = "NAME:FILE", .help = "zone to serve from a zone file",
	 .repeatable = true},
	{.name = "identity", .arg = "STRING", .help = "id.server / hostname.bind / NSID"},
	{.name = "version-text", .arg = "STRING", .help = "version.bind text"},
	{.name = "udp-payload", .arg = "N", .def = "1232", .help = "our EDNS UDP size"},
	{0},
};

struct load_ctx {
	struct zone_builder *b;
	char err[200];
};

static int
load_rr(void *ctx, const struct dns_rr *rr)
{
	struct load_ctx *l = ctx;
	return zone_builder_add(l->b, rr, l->err, sizeof(l->err));
}

static struct zone *
load_zone(const char *spec)
{
	const char *colon = strchr(spec, ':');
	if (colon == NULL)
		fatal("--zone %s: expected NAME:FILE", spec);
	uint8_t apex[DNS_NAME_MAX];
	if (dns_name_from_text(spec, (size_t)(colon - spec), NULL, apex) < 0)
		fatal("--zone %s: bad zone name", spec);
	FILE *f = fopen(colon + 1, "r");
	if (f == NULL)
		fatal("--zone %s: %s", spec, strerror(errno));
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0)
		fatal("--zone %s: %s", spec, strerror(errno));
	char *text = malloc((size_t)sb.st_size + 1);
	if (text == NULL || fread(text, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
		fatal("--zone %s: read failed", spec);
	fclose(f);
	struct load_ctx l = {.b = zone_builder_new(apex)};
	struct dns_zt_err ze;
	int ret = dns_zt_parse(text, (size_t)sb.st_size, apex, DNS_ZT_NO_TTL, load_rr, &l, &ze);
	free(text);
	if (ret != 0) {
		if (l.err[0])
			fatal("%s: %s", colon + 1, l.err);
		fatal("%s:%u:%u: %s", colon + 1, ze.line, ze.col, ze.what);
	}
	struct zone *z;
	ret = zone_builder_finish(l.b, &z, l.err, sizeof(l.err));
	if (ret != 0)
		fatal("%s: %s", colon + 1, ret == ERR_XFR ? l.err : err_str(ret));
	return z;
}

/* Serves one TCP connection until it closes or idles for a second. */
static void
serve_tcp(int fd, struct zdb *db, const struct answer_opts *o)
{
	static uint8_t q[65537], r[65537];
	struct answer_opts to = *o;
	to.is_tcp = true;
	for (;;) {
		size_t have = 0, need = 2;
		while (have < need) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (poll(&pfd, 1, 1000) <= 0)
				return;
			ssize_t n = read(fd, q + have, need - have);
			if (n <= 0)
				return;
			have += (size_t)n;
			if (have == 2 && need == 2) {
				need = 2 + (((size_t)q[0] << 8) | q[1]);
				if (need == 2)
					return;
			}
		}
		ssize_t len = answer_build(db, q + 2, need - 2, r + 2, 65535, &to, NULL);
		rcu_quiescent_state();
		if (len <= 0)
			continue;
		r[0] = (uint8_t)(len >> 8);
		r[1] = (uint8_t)len;
		size_t off = 0, tot = (size_t)len + 2;
		while (off < tot) {
			ssize_t n = write(fd, r + off, tot - off);
			if (n <= 0)
				return;
			off += (size_t)n;
		}
	}
}

int
main(int argc, char **argv)
{
	char err[256];
	if (opts_parse(tool_opts, argc, argv, "anycst-answer-server",
	               "answers DNS queries from zone files with answer_build()", err,
	               sizeof(err)) != 0)
		fatal("%s", err);
	rcu_register_thread();
	struct zdb *db = zdb_new();
	struct opt *zo = opts_get(tool_opts, "zone");
	for (size_t i = 0; i < zo->nvalues; i++) {
		struct zone *z = load_zone(zo->values[i]);
		if (zdb_add(db, zone_apex(z)) != 0 || zdb_publish(db, z) != 0)
			fatal("--zone %s: duplicate zone", zo->values[i]);
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(opts_str(tool_opts, "listen"), 53, &ss, &sl) != 0)
		fatal("--listen: bad address");
	/* With port 0 the UDP port is picked first; retry until TCP gets the same one. */
	int u = -1, t = -1, one = 1;
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	for (int attempt = 0; attempt < 50 && t < 0; attempt++) {
		if (u >= 0)
			close(u);
		u = socket(ss.ss_family, SOCK_DGRAM, 0);
		if (u < 0 || bind(u, (struct sockaddr *)&ss, sl) != 0)
			fatal("bind udp: %s", strerror(errno));
		bl = sizeof(bound);
		getsockname(u, (struct sockaddr *)&bound, &bl);
		t = socket(ss.ss_family, SOCK_STREAM, 0);
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (t < 0 || bind(t, (struct sockaddr *)&bound, bl) != 0 || listen(t, 64) != 0) {
			if (t >= 0)
				close(t);
			t = -1;
			if (addr_port((struct sockaddr *)&ss) != 0)
				break;
		}
	}
	if (t < 0)
		fatal("bind tcp: %s", strerror(errno));
	int bufsz = 4 << 20;
	setsockopt(u, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(u, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("ready %u\n", (unsigned)addr_port((struct sockaddr *)&bound));
	fflush(stdout);

	struct answer_opts o = {.identity = opts_str(tool_opts, "identity"),
	                        .version = opts_str(tool_opts, "version-text")};
	const char *ps = opts_str(tool_opts, "udp-payload");
	char *end;
	unsigned long pl = strtoul(ps, &end, 10);
	if (*end != 0 || pl < 512 || pl > 65535)
		fatal("--udp-payload %s: expected 512..65535", ps);
	o.udp_payload = (uint16_t)pl;

	static uint8_t rx[BATCH][4096], tx[BATCH][4096];
	static struct mmsghdr in[BATCH], outm[BATCH];
	static struct iovec iin[BATCH], iout[BATCH];
	static struct sockaddr_storage from[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iin[i].iov_base = rx[i];
		iin[i].iov_len = sizeof(rx[i]);
		in[i].msg_hdr.msg_iov = &iin[i];
		in[i].msg_hdr.msg_iovlen = 1;
		in[i].msg_hdr.msg_name = &from[i];
	}
	struct pollfd pf[2] = {{.fd = u, .events = POLLIN}, {.fd = t, .events = POLLIN}};
	while (!stop) {
		rcu_thread_offline();
		int pr = poll(pf, 2, 500);
		rcu_thread_online();
		if (pr <= 0)
			continue;
		if (pf[1].revents & POLLIN) {
			int c = accept(t, NULL, NULL);
			if (c >= 0) {
				serve_tcp(c, db, &o);
				close(c);
			}
		}
		if (!(pf[0].revents & POLLIN))
			continue;
		for (;;) {
			for (int i = 0; i < BATCH; i++)
				in[i].msg_hdr.msg_namelen = sizeof(from[i]);
			int n = recvmmsg(u, in, BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				break;
			int m = 0;
			for (int i = 0; i < n; i++) {
				ssize_t len = answer_build(db, rx[i], in[i].msg_len, tx[m], sizeof(tx[m]), &o,
				                           NULL);
				if (len <= 0)
					continue;
				iout[m].iov_base = tx[m];
				iout[m].iov_len = (size_t)len;
				memset(&outm[m], 0, sizeof(outm[m]));
				outm[m].msg_hdr.msg_iov = &iout[m];
				outm[m].msg_hdr.msg_iovlen = 1;
				outm[m].msg_hdr.msg_name = &from[i];
				outm[m].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
				m++;
			}
			if (m > 0)
				sendmmsg(u, outm, (unsigned)m, 0);
			rcu_quiescent_state();
			if (n < BATCH)
				break;
		}
	}
	rcu_thread_offline();
	rcu_barrier();
	zdb_free(db);
	rcu_unregister_thread();
	return 0;
}
