/*
 * anycst-dig: a small DNS client and test responder built on dns/msg and
 * dns/tsig, for interoperability tests against knotd, dig and kdig.
 *
 *   anycst-dig [-s ADDR:PORT] [-t] [-y NAME:ALG:SECRET] [--rebuild] [--print]
 *              [--tamper N] NAME TYPE
 *       Sends one query (UDP, or TCP with -t; AXFR always uses TCP), reads the
 *       answer (every message of an AXFR until the closing SOA), verifies TSIG
 *       on every message when -y is given, and prints one line per message:
 *         msg 1: 65530 octets, rcode NOERROR, an 1820, tsig ok, rebuilt 65210
 *       --rebuild writes the same records again with our compressing writer
 *       and prints its size; --tamper N flips one bit of message N (1-based)
 *       before verification; --print prints the records; --capture FILE
 *       saves the request and every answer message, each behind a 2-octet
 *       length (the DNS-over-TCP framing), as fuzzing seeds.
 *       Exit: 0 fine, 2 TSIG failure, 3 rcode not NOERROR, 1 other errors.
 *
 *   anycst-dig --serve [-s ADDR:PORT] [-y NAME:ALG:SECRET] [--count N]
 *       Answers UDP queries with a synthetic SOA, verifying the request's
 *       TSIG and signing the answer (NOTAUTH with the TSIG error otherwise;
 *       REFUSED without TSIG when a key is set).  Prints "listening PORT".
 *
 *   anycst-dig --serve -t [-s ADDR:PORT] [-y KEY] [--count N] [--messages M]
 *              [--unsigned K]
 *       The same over TCP, and AXFR queries get M messages (default 5) of
 *       synthetic records between two SOAs; with --unsigned K only every
 *       (K+1)-th message and the last carry a TSIG (RFC 8945 §5.3.1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "dns/msg.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "net/addr.h"
#include "util/err.h"

struct opts {
	const char *server;
	bool tcp;
	bool rebuild;
	bool print;
	bool serve;
	long tamper;
	long count;
	long messages;
	long unsigned_run;
	bool have_key;
	struct dns_tsig_key key;
	const char *capture;
	const char *name;
	const char *type;
};

static uint8_t rdbuf[DNS_RDATA_MAX];
static struct dns_msgw W;

static void
usage(void)
{
	fprintf(stderr, "usage: anycst-dig [-s ADDR:PORT] [-t] [-y NAME:ALG:SECRET] [--rebuild] "
	                "[--print] [--tamper N] [--capture FILE] NAME TYPE\n"
	                "       anycst-dig --serve [-t] [-s ADDR:PORT] [-y NAME:ALG:SECRET] [--count N]\n"
	                "                  [--messages M] [--unsigned K]\n");
	exit(1);
}

static long
num(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		usage();
	return v;
}

static int
read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static const char *
rcode_name(unsigned rc)
{
	static const char *names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
	                              "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
	                              "NOTZONE"};
	return rc < sizeof(names) / sizeof(names[0]) ? names[rc] : "RCODE?";
}

static void
print_rr(const struct dns_rr *rr)
{
	char name[DNS_NAME_TEXT_MAX], type[DNS_RRTYPE_TEXT_MAX];
	static char rd[DNS_RDATA_MAX * 4];
	dns_name_to_text(rr->owner, name, sizeof(name));
	dns_rrtype_to_text(rr->type, type, sizeof(type));
	if (dns_rdata_to_text(rr->type, rr->rdata, rr->rdlen, rd, sizeof(rd)) < 0)
		dns_rdata_to_generic(rr->rdata, rr->rdlen, rd, sizeof(rd));
	printf("%s\t%u\t%s\t%s\n", name, rr->ttl, type, rd);
}

/*
 * Writes the records of `m` (all sections but OPT and TSIG) again with our
 * writer, same header and question; returns the size or a negative error.
 */
static ssize_t
rebuild(const struct dns_msg *m)
{
	static uint8_t out[DNS_MSG_MAX];
	static uint8_t owner[DNS_NAME_MAX];
	int ret = dns_msgw_reset(&W, out, sizeof(out));
	if (ret != 0)
		return ret;
	dns_msgw_set_id(&W, m->id);
	dns_msgw_set_flags(&W, m->flags);
	struct dns_msg_iter it;
	struct dns_rr rr;
	for (unsigned s = DNS_SEC_QD; s <= DNS_SEC_AR; s++) {
		dns_msg_iter_init(&it, m, s);
		while ((ret = dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf))) == 1) {
			if (rr.type == DNS_T_OPT || rr.type == DNS_T_TSIG)
				continue;
			if (s == DNS_SEC_QD)
				ret = dns_msgw_question(&W, rr.owner, rr.type, rr.rclass);
			else
				ret = dns_msgw_rr(&W, s, &rr);
			if (ret != 0)
				return ret;
		}
		if (ret < 0)
			return ret;
	}
	return (ssize_t)W.len;
}

static int
query(struct opts *o)
{
	uint8_t qname[DNS_NAME_MAX];
	uint16_t qtype;
	if (dns_name_from_text(o->name, strlen(o->name), NULL, qname) < 0 ||
	    dns_rrtype_from_text(o->type, strlen(o->type), &qtype) != 0) {
		fprintf(stderr, "bad name or type\n");
		return 1;
	}
	bool axfr = qtype == DNS_T_AXFR || qtype == DNS_T_IXFR;
	bool tcp = o->tcp || axfr;
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(o->server, 53, &ss, &sl) != 0) {
		fprintf(stderr, "bad server address %s\n", o->server);
		return 1;
	}
	uint8_t q[1024];
	struct dns_edns e = {.udp_size = 1232};
	uint16_t id = (uint16_t)(time(NULL) ^ getpid());
	ssize_t ql = dns_msg_make_query(q + 2, sizeof(q) - 2, id, qname, qtype, DNS_C_IN,
	                                axfr ? 0 : DNS_F_RD, axfr ? NULL : &e);
	if (ql < 0)
		return 1;
	struct dns_tsig_ctx tc;
	dns_tsig_ctx_init(&tc, o->have_key ? &o->key : NULL);
	if (o->have_key) {
		ql = dns_tsig_sign(&tc, q + 2, (size_t)ql, sizeof(q) - 2, (uint64_t)time(NULL));
		if (ql < 0) {
			fprintf(stderr, "sign: %s\n", err_str((int)ql));
			return 1;
		}
	}
	int fd = socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		perror("connect");
		return 1;
	}
	wr_u16(q, (uint16_t)ql);
	ssize_t w = tcp ? write(fd, q, (size_t)ql + 2) : write(fd, q + 2, (size_t)ql);
	if (w < 0) {
		perror("write");
		return 1;
	}
	FILE *cap = NULL;
	if (o->capture != NULL) {
		cap = fopen(o->capture, "wb");
		if (cap == NULL) {
			perror(o->capture);
			return 1;
		}
		fwrite(q, 1, (size_t)ql + 2, cap);
	}
	static uint8_t pkt[DNS_MSG_MAX];
	unsigned nmsg = 0, soas = 0, signed_msgs = 0;
	unsigned long nrr = 0;
	int result = 0;
	for (;;) {
		size_t len;
		if (tcp) {
			uint8_t l2[2];
			if (read_full(fd, l2, 2) != 0)
				break;
			len = rd_u16(l2);
			if (read_full(fd, pkt, len) != 0) {
				fprintf(stderr, "short read\n");
				result = 1;
				break;
			}
		} else {
			ssize_t r = read(fd, pkt, sizeof(pkt));
			if (r < 0) {
				perror("read");
				result = 1;
				break;
			}
			len = (size_t)r;
		}
		nmsg++;
		if (cap != NULL) {
			uint8_t l2[2];
			wr_u16(l2, (uint16_t)len);
			fwrite(l2, 1, 2, cap);
			fwrite(pkt, 1, len, cap);
		}
		if (o->tamper > 0 && (unsigned long)o->tamper == nmsg && len > 20)
			pkt[len / 2] ^= 0x01;
		struct dns_msg m;
		int ret = dns_msg_parse(&m, pkt, len);
		if (ret != 0) {
			printf("msg %u: parse error: %s\n", nmsg, err_str(ret));
			result = 1;
			break;
		}
		const char *ts = "none";
		if (o->have_key) {
			ret = dns_tsig_verify(&tc, &m, (uint64_t)time(NULL));
			ts = ret == 0 ? (m.has_tsig ? "ok" : "unsigned") : err_str(ret);
			if (m.has_tsig && ret == 0)
				signed_msgs++;
			if (ret != 0)
				result = 2;
		} else if (m.has_tsig) {
			ts = "present";
		}
		printf("msg %u: %zu octets, rcode %s, an %u, tsig %s", nmsg, len,
		       rcode_name(dns_msg_rcode(&m)), m.count[DNS_SEC_AN], ts);
		if (m.has_tsig)
			printf(" (error %u)", m.tsig.error);
		if (o->rebuild) {
			ssize_t rb = rebuild(&m);
			/* compare without TSIG: the peer's TSIG is not rebuilt */
			size_t body = m.has_tsig ? m.tsig.off : m.end;
			if (m.has_opt)
				body -= DNS_OPT_LEN + m.edns.optlen;
			printf(", body %zu, rebuilt %zd", body, rb);
		}
		printf("\n");
		if (result != 0)
			break;
		if (dns_msg_rcode(&m) != DNS_RCODE_NOERROR) {
			result = 3;
			break;
		}
		struct dns_msg_iter it;
		struct dns_rr rr;
		uint8_t owner[DNS_NAME_MAX];
		dns_msg_iter_init(&it, &m, DNS_SEC_AN);
		while ((ret = dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf))) == 1) {
			nrr++;
			if (rr.type == DNS_T_SOA)
				soas++;
			if (o->print)
				print_rr(&rr);
		}
		if (ret < 0) {
			printf("msg %u: record error: %s\n", nmsg, err_str(ret));
			result = 1;
			break;
		}
		if (!axfr || soas >= 2 || (qtype == DNS_T_IXFR && m.count[DNS_SEC_AN] == 1))
			break;
	}
	if (result == 0 && o->have_key && dns_tsig_verify_done(&tc) != 0) {
		printf("tsig: last message not signed\n");
		result = 2;
	}
	printf("total: %u messages, %lu records, %u signed\n", nmsg, nrr, signed_msgs);
	dns_tsig_ctx_clear(&tc);
	close(fd);
	if (cap != NULL)
		fclose(cap);
	if (nmsg == 0 && result == 0)
		result = 1;
	return result;
}

static int
serve(struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(o->server, 0, &ss, &sl) != 0) {
		fprintf(stderr, "bad listen address %s\n", o->server);
		return 1;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		perror("bind");
		return 1;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	printf("listening %u\n", addr_port((struct sockaddr *)&ss));
	fflush(stdout);
	static uint8_t pkt[DNS_MSG_MAX], out[4096];
	uint8_t soa_rd[256];
	char err[96];
	for (long n = 0; o->count == 0 || n < o->count; n++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fl);
		if (r < 0)
			continue;
		struct dns_msg m;
		struct dns_tsig_ctx tc;
		dns_tsig_ctx_init(&tc, NULL);
		int ret = dns_msg_parse(&m, pkt, (size_t)r);
		int tret = 1;
		unsigned rcode = DNS_RCODE_NOERROR;
		if (ret != 0) {
			rcode = DNS_RCODE_FORMERR;
		} else if (o->have_key) {
			tret = dns_tsig_verify_request(&tc, &m, &o->key, 1, (uint64_t)time(NULL));
			if (tret == 1)
				rcode = DNS_RCODE_REFUSED;
			else if (tret == ERR_TSIG_FORMERR)
				rcode = DNS_RCODE_FORMERR;
			else if (tret != 0)
				rcode = DNS_RCODE_NOTAUTH;
		}
		fprintf(stderr, "request %ld: %s, tsig %s\n", n + 1,
		        ret == 0 ? "parsed" : err_str(ret), tret == 1 ? "none" : err_str(tret));
		if (ret != 0 && m.len < DNS_HDR_LEN) {
			dns_tsig_ctx_clear(&tc);
			continue;
		}
		if (ret == 0) {
			ret = dns_msgw_init_response(&W, out, sizeof(out), &m,
			                             rcode == DNS_RCODE_NOERROR ? DNS_F_AA : 0, rcode);
		} else {
			ret = dns_msgw_init(&W, out, sizeof(out));
			dns_msgw_set_id(&W, m.id);
			dns_msgw_set_flags(&W, DNS_F_QR | DNS_RCODE_FORMERR);
		}
		if (o->have_key && tret <= 0 && tret != ERR_TSIG_FORMERR)
			dns_msgw_reserve(&W, dns_tsig_reserve(&o->key) + DNS_NAME_MAX * 2);
		if (ret == 0 && rcode == DNS_RCODE_NOERROR && m.qtype == DNS_T_SOA) {
			static const char soa_text[] = "ns.invalid. h.invalid. 1 3600 900 604800 300";
			int rl = dns_rdata_from_str(DNS_T_SOA, soa_text, sizeof(soa_text) - 1, NULL,
			                            soa_rd, sizeof(soa_rd), err, sizeof(err));
			struct dns_rr soa = {m.qname, DNS_T_SOA, DNS_C_IN, 300, (uint16_t)rl, soa_rd};
			if (rl > 0)
				dns_msgw_rr(&W, DNS_SEC_AN, &soa);
		}
		if (m.has_opt) {
			struct dns_edns e = {.udp_size = 1232};
			dns_msgw_opt(&W, &e);
		}
		ssize_t len = (ssize_t)W.len;
		if (o->have_key && tret <= 0 && tret != ERR_TSIG_FORMERR)
			len = dns_tsig_sign(&tc, out, W.len, sizeof(out), (uint64_t)time(NULL));
		if (len > 0)
			sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&from, fl);
		dns_tsig_ctx_clear(&tc);
	}
	close(fd);
	return 0;
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

/* Sends `len` octets of out+2 with the TCP length prefix. */
static int
send_framed(int fd, uint8_t *out, size_t len)
{
	wr_u16(out, (uint16_t)len);
	return write_full(fd, out, len + 2);
}

/* One TCP connection: one request, then the answer (AXFR: several messages). */
static void
serve_conn(struct opts *o, int fd, long n)
{
	static uint8_t req[DNS_MSG_MAX], out[2 + DNS_MSG_MAX];
	uint8_t l2[2];
	if (read_full(fd, l2, 2) != 0 || read_full(fd, req, rd_u16(l2)) != 0)
		return;
	size_t qlen = rd_u16(l2);
	struct dns_msg m;
	struct dns_tsig_ctx tc;
	dns_tsig_ctx_init(&tc, NULL);
	int ret = dns_msg_parse(&m, req, qlen);
	int tret = 1;
	unsigned rcode = ret == 0 ? DNS_RCODE_NOERROR : DNS_RCODE_FORMERR;
	if (ret == 0 && o->have_key) {
		tret = dns_tsig_verify_request(&tc, &m, &o->key, 1, (uint64_t)time(NULL));
		if (tret == 1)
			rcode = DNS_RCODE_REFUSED;
		else if (tret == ERR_TSIG_FORMERR)
			rcode = DNS_RCODE_FORMERR;
		else if (tret != 0)
			rcode = DNS_RCODE_NOTAUTH;
	}
	fprintf(stderr, "request %ld: %s, tsig %s\n", n + 1, ret == 0 ? "parsed" : err_str(ret),
	        tret == 1 ? "none" : err_str(tret));
	bool sign = o->have_key && tret <= 0 && tret != ERR_TSIG_FORMERR;
	long msgs = rcode == DNS_RCODE_NOERROR && m.qtype == DNS_T_AXFR ? o->messages : 1;
	uint8_t soa_rd[256];
	char err[96];
	static const char soa_text[] = "ns.invalid. h.invalid. 1 3600 900 604800 300";
	int sl = dns_rdata_from_str(DNS_T_SOA, soa_text, sizeof(soa_text) - 1, NULL, soa_rd,
	                            sizeof(soa_rd), err, sizeof(err));
	struct dns_rr soa = {m.qname, DNS_T_SOA, DNS_C_IN, 300, (uint16_t)sl, soa_rd};
	for (long i = 0; i < msgs && ret == 0; i++) {
		ret = dns_msgw_reset_response(&W, out + 2, DNS_MSG_MAX, &m,
		                              rcode == DNS_RCODE_NOERROR ? DNS_F_AA : 0, rcode);
		if (ret == 0 && sign)
			ret = dns_msgw_reserve(&W, dns_tsig_reserve(&o->key) + 2 * DNS_NAME_MAX);
		if (ret == 0 && rcode == DNS_RCODE_NOERROR && (i == 0 || m.qtype != DNS_T_AXFR))
			ret = dns_msgw_rr(&W, DNS_SEC_AN, &soa);
		for (int j = 0; ret == 0 && m.qtype == DNS_T_AXFR && rcode == 0 && j < 50; j++) {
			char label[32];
			uint8_t owner[DNS_NAME_MAX], a[4] = {10, (uint8_t)i, (uint8_t)j, 1};
			int ll = snprintf(label, sizeof(label), "h%ld-%d", i, j);
			if (dns_name_from_text(label, (size_t)ll, m.qname, owner) < 0)
				break;
			struct dns_rr rr = {owner, DNS_T_A, DNS_C_IN, 300, 4, a};
			ret = dns_msgw_rr(&W, DNS_SEC_AN, &rr);
		}
		if (ret == 0 && m.qtype == DNS_T_AXFR && rcode == 0 && i == msgs - 1)
			ret = dns_msgw_rr(&W, DNS_SEC_AN, &soa);
		if (ret != 0)
			break;
		ssize_t len = (ssize_t)W.len;
		bool last = i == msgs - 1;
		if (sign && (i == 0 || last || o->unsigned_run == 0 ||
		             i % (o->unsigned_run + 1) == 0)) {
			len = dns_tsig_sign(&tc, out + 2, W.len, DNS_MSG_MAX, (uint64_t)time(NULL));
		} else if (sign && dns_tsig_sign_skip(&tc, out + 2, W.len) != 0) {
			len = -1;
		}
		if (len < 0 || send_framed(fd, out, (size_t)len) != 0)
			break;
	}
	dns_tsig_ctx_clear(&tc);
}

static int
serve_tcp(struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(o->server, 0, &ss, &sl) != 0) {
		fprintf(stderr, "bad listen address %s\n", o->server);
		return 1;
	}
	int one = 1;
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 16) != 0) {
		perror("bind");
		return 1;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	printf("listening %u\n", addr_port((struct sockaddr *)&ss));
	fflush(stdout);
	if (dns_msgw_init(&W, rdbuf, DNS_HDR_LEN) != 0)
		return 1;
	for (long n = 0; o->count == 0 || n < o->count; n++) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		struct timeval tv = {5, 0};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		serve_conn(o, c, n);
		close(c);
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = {.server = "127.0.0.1:53", .messages = 5};
	const char *pos[2];
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-s") == 0 && i + 1 < argc) {
			o.server = argv[++i];
		} else if (strcmp(a, "-t") == 0) {
			o.tcp = true;
		} else if (strcmp(a, "-y") == 0 && i + 1 < argc) {
			char err[128];
			if (dns_tsig_key_parse(&o.key, argv[++i], err, sizeof(err)) != 0) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			o.have_key = true;
		} else if (strcmp(a, "--rebuild") == 0) {
			o.rebuild = true;
		} else if (strcmp(a, "--print") == 0) {
			o.print = true;
		} else if (strcmp(a, "--serve") == 0) {
			o.serve = true;
		} else if (strcmp(a, "--tamper") == 0 && i + 1 < argc) {
			o.tamper = num(argv[++i]);
		} else if (strcmp(a, "--capture") == 0 && i + 1 < argc) {
			o.capture = argv[++i];
		} else if (strcmp(a, "--messages") == 0 && i + 1 < argc) {
			o.messages = num(argv[++i]);
		} else if (strcmp(a, "--unsigned") == 0 && i + 1 < argc) {
			o.unsigned_run = num(argv[++i]);
		} else if (strcmp(a, "--count") == 0 && i + 1 < argc) {
			o.count = num(argv[++i]);
		} else if (a[0] == '-') {
			usage();
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			usage();
		}
	}
	if (o.serve)
		return o.tcp ? serve_tcp(&o) : serve(&o);
	if (npos != 2)
		usage();
	o.name = pos[0];
	o.type = pos[1];
	(void)dns_msgw_init(&W, rdbuf, DNS_HDR_LEN);   /* clears the table once */
	return query(&o);
}
