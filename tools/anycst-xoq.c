/*
 * anycst-xoq: a zone transfer client for the primary's transfer ports, over
 * QUIC (RFC 9250, net/quic) or TCP (RFC 7766 framing), for end-to-end tests
 * and bench/xoq.sh.  One connection carries every request of a run, so
 * --repeat measures requests over an established connection.
 *
 *   anycst-xoq --remote ADDR (--pin PIN | --insecure | --tcp) [-y NAME:ALG:SECRET]
 *              [--id ID] [--serial N] [--repeat R] [--timeout MS] [--warm] ZONE TYPE
 *
 * TYPE is SOA, AXFR or IXFR (IXFR needs --serial, the client's version).
 * Each answer message is checked: its id equals the query's (QUIC: --id,
 * default 0 as RFC 9250 §4.2.1 says; TCP: random), its TSIG verifies when a
 * key is given, and the transfer has the shape RFC 5936 / RFC 1995 give it
 * (SOA first, and the closing SOA last).  Output, one line per run:
 *   ok messages=M records=R bytes=B ms=T rcode=NOERROR serial=S id=ID connections=C
 * and with --repeat R > 1 also p50_ms= p99_ms= over the R requests.  --warm
 * first asks for the zone's SOA on the same connection (untimed), so the
 * times leave out the handshake, as for a secondary that checked the SOA.  On a
 * failure: "error: ..." (a stream reset names its DoQ error code).
 * Exit 0 when every request completed with NOERROR, else 1.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "net/addr.h"
#include "net/doq.h"
#include "net/quic.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

struct opts {
	const char *remote, *pin, *zone, *type;
	bool insecure, tcp, have_key, have_serial, warm;
	struct dns_tsig_key key;
	unsigned id, repeat, timeout;
	uint32_t serial;
};

/* One request's progress, fed message by message. */
struct xfr {
	uint16_t qtype, id;
	struct dns_tsig_ctx tc;
	bool have_key;
	unsigned msgs, rrs, rcode;
	size_t bytes;
	uint32_t first_serial;  /* serial of the opening SOA */
	unsigned soa_seen;      /* SOA RRs with first_serial so far */
	bool incremental;       /* IXFR: the second RR is an SOA */
	bool complete;          /* the closing SOA was read */
	char why[160];
};

static uint8_t owner[DNS_NAME_MAX];
static uint8_t rdbuf[DNS_RDATA_MAX];

static int64_t
now_us(void)
{
	return clock_mono_ns() / 1000;
}

static const char *
rcode_name(unsigned rc)
{
	static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
	                                "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
	                                "NOTZONE"};
	return rc < sizeof(n) / sizeof(n[0]) ? n[rc] : "RCODE?";
}

static const char *
doq_error_name(uint64_t e)
{
	switch (e) {
	case DOQ_NO_ERROR: return "DOQ_NO_ERROR";
	case DOQ_INTERNAL_ERROR: return "DOQ_INTERNAL_ERROR";
	case DOQ_PROTOCOL_ERROR: return "DOQ_PROTOCOL_ERROR";
	case DOQ_REQUEST_CANCELLED: return "DOQ_REQUEST_CANCELLED";
	case DOQ_EXCESSIVE_LOAD: return "DOQ_EXCESSIVE_LOAD";
	case DOQ_UNSPECIFIED_ERROR: return "DOQ_UNSPECIFIED_ERROR";
	default: return "unknown DoQ error";
	}
}

/* The serial of an SOA rdata in uncompressed form; false when malformed. */
static bool
soa_serial(const uint8_t *rd, size_t len, uint32_t *serial)
{
	size_t o = 0;
	for (int names = 0; names < 2; names++) {
		for (;;) {
			if (o >= len)
				return false;
			uint8_t l = rd[o];
			o += 1u + l;
			if (l == 0)
				break;
		}
	}
	if (o + 4 > len)
		return false;
	*serial = (uint32_t)rd[o] << 24 | (uint32_t)rd[o + 1] << 16 | (uint32_t)rd[o + 2] << 8 |
	          rd[o + 3];
	return true;
}

/* Checks one answer message.  Returns 0, or -1 with x->why set. */
static int
xfr_feed(struct xfr *x, const uint8_t *msg, size_t len)
{
	struct dns_msg m;
	x->msgs++;
	x->bytes += len;
	if (x->complete) {
		snprintf(x->why, sizeof(x->why), "message %u after the closing SOA", x->msgs);
		return -1;
	}
	int ret = dns_msg_parse(&m, msg, len);
	if (ret != 0) {
		snprintf(x->why, sizeof(x->why), "message %u: %s", x->msgs, err_str(ret));
		return -1;
	}
	if (m.id != x->id) {
		snprintf(x->why, sizeof(x->why), "message %u: id %u, the query's was %u", x->msgs,
		         m.id, x->id);
		return -1;
	}
	if (x->have_key) {
		ret = dns_tsig_verify(&x->tc, &m, (uint64_t)time(NULL));
		if (ret != 0) {
			snprintf(x->why, sizeof(x->why), "message %u: TSIG %s", x->msgs, err_str(ret));
			return -1;
		}
	}
	x->rcode = dns_msg_rcode(&m);
	if (x->rcode != 0) {
		x->complete = true;     /* an error answer is one message */
		return 0;
	}
	struct dns_msg_iter it;
	struct dns_rr rr;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	while ((ret = dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf))) == 1) {
		x->rrs++;
		if (x->complete) {
			snprintf(x->why, sizeof(x->why), "message %u: records after the closing SOA",
			         x->msgs);
			return -1;
		}
		uint32_t s = 0;
		bool soa = rr.type == DNS_T_SOA;
		if (soa && !soa_serial(rr.rdata, rr.rdlen, &s)) {
			snprintf(x->why, sizeof(x->why), "message %u: malformed SOA", x->msgs);
			return -1;
		}
		if (x->rrs == 1) {
			if (!soa) {
				snprintf(x->why, sizeof(x->why), "the answer does not start with an SOA");
				return -1;
			}
			x->first_serial = s;
			x->soa_seen = 1;
			if (x->qtype == DNS_T_SOA)
				x->complete = true;
			continue;
		}
		if (x->rrs == 2 && x->qtype == DNS_T_IXFR && soa && s != x->first_serial)
			x->incremental = true;
		if (soa && s == x->first_serial) {
			x->soa_seen++;
			/* AXFR (and IXFR as a full zone): SOA ... SOA; incremental IXFR:
			 * SOA (old SOA ... new SOA ...)+ SOA, the new serial three times. */
			if (x->soa_seen == (x->incremental ? 3u : 2u))
				x->complete = true;
		}
	}
	if (ret < 0) {
		snprintf(x->why, sizeof(x->why), "message %u: %s", x->msgs, err_str(ret));
		return -1;
	}
	/* IXFR answered with the one SOA: the client is up to date (RFC 1995 §4). */
	if (x->qtype == DNS_T_IXFR && x->rrs == 1 && x->msgs == 1)
		x->complete = true;
	return 0;
}

static ssize_t
make_request(const struct opts *o, const uint8_t *zone, uint16_t qtype, uint16_t id,
             struct xfr *x, uint8_t *q, size_t cap)
{
	ssize_t ql = dns_msg_make_query(q, cap, id, zone, qtype, DNS_C_IN, 0, NULL);
	if (ql < 0)
		return ql;
	if (qtype == DNS_T_IXFR) {
		/* authority: the client's SOA (RFC 1995 §3), owner a pointer to the qname */
		static const uint8_t head[] = {0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0};
		if ((size_t)ql + sizeof(head) + 20 > cap)
			return -EMSGSIZE;
		memcpy(q + ql, head, sizeof(head));
		uint8_t *p = q + ql + sizeof(head);
		memset(p, 0, 20);
		p[0] = (uint8_t)(o->serial >> 24);
		p[1] = (uint8_t)(o->serial >> 16);
		p[2] = (uint8_t)(o->serial >> 8);
		p[3] = (uint8_t)o->serial;
		ql += (ssize_t)sizeof(head) + 20;
		q[9] = 1;   /* NSCOUNT */
	}
	memset(x, 0, sizeof(*x));
	x->qtype = qtype;
	x->id = id;
	x->have_key = o->have_key;
	dns_tsig_ctx_init(&x->tc, o->have_key ? &o->key : NULL);
	if (o->have_key)
		ql = dns_tsig_sign(&x->tc, q, (size_t)ql, cap, (uint64_t)time(NULL));
	return ql;
}

/* ---- TCP ------------------------------------------------------------------------------ */

static int
read_full(int fd, uint8_t *p, size_t n, int64_t deadline_us)
{
	while (n > 0) {
		int64_t left = (deadline_us - now_us()) / 1000;
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		ssize_t r = read(fd, p, n);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
tcp_request(int fd, const uint8_t *q, size_t ql, struct xfr *x, int64_t deadline_us)
{
	static uint8_t buf[2 + 65535];
	buf[0] = (uint8_t)(ql >> 8);
	buf[1] = (uint8_t)ql;
	memcpy(buf + 2, q, ql);
	if (write(fd, buf, ql + 2) != (ssize_t)(ql + 2)) {
		snprintf(x->why, sizeof(x->why), "write: %s", strerror(errno));
		return -1;
	}
	while (!x->complete) {
		int r = read_full(fd, buf, 2, deadline_us);
		size_t n = (size_t)buf[0] << 8 | buf[1];
		if (r == 0)
			r = read_full(fd, buf, n, deadline_us);
		if (r != 0) {
			snprintf(x->why, sizeof(x->why), "after %u messages: %s", x->msgs, strerror(-r));
			return -1;
		}
		if (xfr_feed(x, buf, n) != 0)
			return -1;
	}
	return 0;
}

/* ---- QUIC ----------------------------------------------------------------------------- */

static int
quic_request(struct quic_client *cl, const uint8_t *q, size_t ql, struct xfr *x,
             unsigned timeout_ms)
{
	static uint8_t buf[65535];
	struct quic_stream *s = NULL;
	int ret = quic_stream_open(cl, q, ql, timeout_ms, &s);
	if (ret != 0) {
		snprintf(x->why, sizeof(x->why), "request: %s", strerror(-ret));
		return -1;
	}
	int out = 0;
	for (;;) {
		ssize_t n = quic_stream_recv(s, buf, sizeof(buf), 0);
		if (n == 0)
			break;
		if (n < 0) {
			uint64_t app = quic_stream_app_error(s);
			if (app != 0 || n == -EPROTO)
				snprintf(x->why, sizeof(x->why), "after %u messages: closed with %s (0x%llx)",
				         x->msgs, doq_error_name(app), (unsigned long long)app);
			else
				snprintf(x->why, sizeof(x->why), "after %u messages: %s", x->msgs,
				         n == -ECONNREFUSED ? "connection refused (handshake failed)" :
				         strerror((int)-n));
			out = -1;
			break;
		}
		if (xfr_feed(x, buf, (size_t)n) != 0) {
			out = -1;
			break;
		}
	}
	quic_stream_close(s);
	if (out == 0 && !x->complete) {
		snprintf(x->why, sizeof(x->why), "FIN after %u messages, before the closing SOA",
		         x->msgs);
		out = -1;
	}
	return out;
}

/* ---- main ----------------------------------------------------------------------------- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: anycst-xoq --remote ADDR (--pin PIN | --insecure | --tcp) "
	        "[-y NAME:ALG:SECRET] [--id ID] [--serial N] [--repeat R] [--timeout MS] [--warm] "
	        "ZONE SOA|AXFR|IXFR\n");
	exit(2);
}

static unsigned long
num(const char *s, unsigned long max)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v > max) {
		fprintf(stderr, "bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct opts o = {.repeat = 1, .timeout = 120000};
	const char *pos[2];
	int npos = 0;
	char err[160];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(a, "--remote") == 0 && has)
			o.remote = argv[++i];
		else if (strcmp(a, "--pin") == 0 && has)
			o.pin = argv[++i];
		else if (strcmp(a, "--insecure") == 0)
			o.insecure = true;
		else if (strcmp(a, "--tcp") == 0)
			o.tcp = true;
		else if (strcmp(a, "--warm") == 0)
			o.warm = true;
		else if (strcmp(a, "-y") == 0 && has) {
			if (dns_tsig_key_parse(&o.key, argv[++i], err, sizeof(err)) != 0) {
				fprintf(stderr, "-y: %s\n", err);
				return 2;
			}
			o.have_key = true;
		} else if (strcmp(a, "--id") == 0 && has)
			o.id = (unsigned)num(argv[++i], 65535);
		else if (strcmp(a, "--serial") == 0 && has) {
			o.serial = (uint32_t)num(argv[++i], 0xffffffffUL);
			o.have_serial = true;
		} else if (strcmp(a, "--repeat") == 0 && has)
			o.repeat = (unsigned)num(argv[++i], 1000000);
		else if (strcmp(a, "--timeout") == 0 && has)
			o.timeout = (unsigned)num(argv[++i], 3600000);
		else if (a[0] != '-' && npos < 2)
			pos[npos++] = a;
		else
			usage();
	}
	if (o.remote == NULL || npos != 2 || o.repeat == 0 ||
	    (!o.tcp && o.pin == NULL && !o.insecure))
		usage();
	o.zone = pos[0];
	o.type = pos[1];
	uint8_t zone[DNS_NAME_MAX];
	uint16_t qtype = 0;
	if (dns_name_from_text(o.zone, strlen(o.zone), NULL, zone) < 0 ||
	    dns_rrtype_from_text(o.type, strlen(o.type), &qtype) != 0 ||
	    (qtype != DNS_T_SOA && qtype != DNS_T_AXFR && qtype != DNS_T_IXFR)) {
		fprintf(stderr, "bad zone or type (SOA, AXFR, IXFR)\n");
		return 2;
	}
	if (qtype == DNS_T_IXFR && !o.have_serial) {
		fprintf(stderr, "IXFR needs --serial\n");
		return 2;
	}
	log_set_level(LOG_WARNING);

	int fd = -1;
	struct quic_client *cl = NULL;
	if (o.tcp) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (addr_parse(o.remote, 53, &ss, &sl) != 0) {
			printf("error: bad address %s\n", o.remote);
			return 1;
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (fd >= 0)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
			printf("error: connect: %s\n", strerror(errno));
			return 1;
		}
	} else {
		struct quic_client_cfg cfg = {.remote = o.remote, .pin = o.pin, .insecure = o.insecure,
		                              .handshake_timeout_ms = 10000};
		int ret = quic_client_new(&cfg, &cl);
		if (ret != 0) {
			printf("error: QUIC client: %s\n", strerror(-ret));
			return 1;
		}
	}
	int64_t *lat = calloc(o.repeat, sizeof(*lat));
	if (lat == NULL)
		return 1;
	uint8_t q[1024];
	struct xfr x;
	int rc = 0;
	int64_t t_all = now_us();
	unsigned done = 0;
	srand((unsigned)(now_us() ^ getpid()));
	if (o.warm) {
		ssize_t ql = make_request(&o, zone, DNS_T_SOA, o.tcp ? (uint16_t)rand() : (uint16_t)o.id,
		                          &x, q, sizeof(q));
		int ret = ql < 0 ? -1
		          : o.tcp ? tcp_request(fd, q, (size_t)ql, &x, now_us() + (int64_t)o.timeout * 1000)
		                  : quic_request(cl, q, (size_t)ql, &x, o.timeout);
		dns_tsig_ctx_clear(&x.tc);
		if (ret != 0) {
			printf("error: warm-up SOA: %s\n", x.why);
			free(lat);
			quic_client_free(cl);
			if (fd >= 0)
				close(fd);
			return 1;
		}
	}
	for (unsigned r = 0; r < o.repeat; r++) {
		uint16_t id = o.tcp ? (uint16_t)rand() : (uint16_t)o.id;
		ssize_t ql = make_request(&o, zone, qtype, id, &x, q, sizeof(q));
		if (ql < 0) {
			printf("error: building the query: %s\n", err_str((int)ql));
			rc = 1;
			break;
		}
		int64_t t0 = now_us();
		int ret = o.tcp ? tcp_request(fd, q, (size_t)ql, &x, t0 + (int64_t)o.timeout * 1000)
		                : quic_request(cl, q, (size_t)ql, &x, o.timeout);
		lat[r] = now_us() - t0;
		if (ret == 0 && o.have_key && x.rcode == 0 && dns_tsig_verify_done(&x.tc) != 0) {
			snprintf(x.why, sizeof(x.why), "the last message is not signed");
			ret = -1;
		}
		dns_tsig_ctx_clear(&x.tc);
		if (ret != 0) {
			printf("error: %s\n", x.why);
			rc = 1;
			break;
		}
		done++;
		if (x.rcode != 0)
			rc = 1;
	}
	if (done == o.repeat) {
		struct quic_stats st = {0};
		if (cl != NULL)
			quic_client_stats(cl, &st);
		printf("ok messages=%u records=%u bytes=%zu ms=%.3f rcode=%s serial=%u id=%u "
		       "connections=%llu", x.msgs, x.rrs, x.bytes, (double)lat[o.repeat - 1] / 1000.0,
		       rcode_name(x.rcode), x.first_serial, x.id,
		       (unsigned long long)(o.tcp ? 1 : st.conns_accepted));
		if (o.repeat > 1) {
			qsort(lat, o.repeat, sizeof(*lat), cmp_i64);
			size_t p99 = (size_t)((o.repeat - 1) * 99 / 100);
			printf(" requests=%u p50_ms=%.3f p99_ms=%.3f total_ms=%.1f", o.repeat,
			       (double)lat[(o.repeat - 1) / 2] / 1000.0, (double)lat[p99] / 1000.0,
			       (double)(now_us() - t_all) / 1000.0);
		}
		printf("\n");
	}
	free(lat);
	quic_client_free(cl);
	if (fd >= 0)
		close(fd);
	return rc;
}
