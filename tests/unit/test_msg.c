/*
 * dns/msg.c: strict parsing (pointers, counts, truncation, OPT and TSIG
 * placement), building with compression, truncation, round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns/msg.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/wire.h"
#include "util/err.h"

static uint8_t rdbuf[DNS_RDATA_MAX];
static uint8_t owner[DNS_NAME_MAX];
static struct dns_msgw W;   /* 72 KiB: not on the test's stack */

static const uint8_t *
N(const char *s)
{
	static uint8_t bufs[8][DNS_NAME_MAX];
	static unsigned i;
	uint8_t *b = bufs[i++ % 8];
	int r = dns_name_from_text(s, strlen(s), NULL, b);
	assert_true(r > 0);
	return b;
}

/* Fills `rr` from presentation rdata; the rdata lives in `store`. */
static void
mkrr(struct dns_rr *rr, uint8_t *ownerbuf, const char *own, uint16_t type, const char *rdtext,
     uint8_t *store, size_t cap)
{
	int r = dns_name_from_text(own, strlen(own), NULL, ownerbuf);
	assert_true(r > 0);
	char err[128];
	int l = dns_rdata_from_str(type, rdtext, strlen(rdtext), NULL, store, cap, err, sizeof(err));
	if (l < 0)
		fail_msg("rdata '%s': %s", rdtext, err);
	rr->owner = ownerbuf;
	rr->type = type;
	rr->rclass = DNS_C_IN;
	rr->ttl = 3600;
	rr->rdlen = (uint16_t)l;
	rr->rdata = store;
}

/* A hand-made query header + question "a." A IN with the given counts. */
static size_t
hdr(uint8_t *p, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	memset(p, 0, 12);
	wr_u16(p, 0x1234);
	wr_u16(p + 4, qd);
	wr_u16(p + 6, an);
	wr_u16(p + 8, ns);
	wr_u16(p + 10, ar);
	return 12;
}

static size_t
put(uint8_t *p, size_t at, const void *b, size_t n)
{
	memcpy(p + at, b, n);
	return at + n;
}

static void
test_msg_query_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[512];
	uint8_t opt[] = {0, DNS_EDNS_OPT_NSID, 0, 0};
	struct dns_edns e = {.udp_size = 1232, .flags = DNS_EDNS_DO, .opts = opt, .optlen = 4};
	ssize_t n = dns_msg_make_query(buf, sizeof(buf), 0xbeef, N("WwW.Example.com."), DNS_T_AAAA,
	                               DNS_C_IN, DNS_F_RD, &e);
	assert_int_equal(n, 12 + 17 + 4 + 11 + 4);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.id, 0xbeef);
	assert_int_equal(m.flags, DNS_F_RD);
	assert_int_equal(m.qtype, DNS_T_AAAA);
	assert_int_equal(m.qclass, DNS_C_IN);
	assert_memory_equal(m.qname, "\3WwW\7Example\3com", 17);
	assert_true(m.has_opt);
	assert_int_equal(m.edns.udp_size, 1232);
	assert_int_equal(m.edns.version, 0);
	assert_int_equal(m.edns.flags, DNS_EDNS_DO);
	const uint8_t *d;
	uint16_t dl;
	assert_true(dns_msg_edns_option(&m, DNS_EDNS_OPT_NSID, &d, &dl));
	assert_int_equal(dl, 0);
	assert_false(dns_msg_edns_option(&m, DNS_EDNS_OPT_COOKIE, &d, &dl));
	assert_false(m.has_tsig);
	assert_int_equal(m.trailing, 0);
	assert_int_equal(dns_msg_opcode(&m), DNS_OP_QUERY);
	/* A short buffer is -EMSGSIZE. */
	assert_int_equal(dns_msg_make_query(buf, 40, 1, N("www.example.com."), 1, 1, 0, &e),
	                 -EMSGSIZE);
}

static void
test_msg_forward_pointer(void **state)
{
	(void)state;
	uint8_t p[64];
	size_t n = hdr(p, 1, 0, 0, 0);
	/* qname is a pointer to itself + 2 (forward) */
	n = put(p, n, "\xc0\x0e\x00\x01\x00\x01", 6);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_NAME_PTR);
	assert_int_equal(m.id, 0x1234);   /* still filled for the FORMERR answer */
}

static void
test_msg_pointer_loop(void **state)
{
	(void)state;
	uint8_t p[64];
	size_t n = hdr(p, 1, 0, 0, 0);
	/* pointer to itself */
	n = put(p, n, "\xc0\x0c\x00\x01\x00\x01", 6);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_NAME_PTR);
	/* two names pointing at each other: second -> first label -> pointer to second */
	n = hdr(p, 1, 1, 0, 0);
	n = put(p, n, "\1a\xc0\x14\x00\x01\x00\x01", 8);         /* 12: a, ptr to 20 (forward) */
	n = put(p, n, "\xc0\x0c\x00\x01\x00\x01\0\0\0\0\0\0", 12);
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_NAME_PTR);
}

static void
test_msg_pointer_into_header(void **state)
{
	(void)state;
	uint8_t p[64];
	size_t n = hdr(p, 1, 0, 0, 0);
	/* offset 4 holds 00 01: it would decode as the root name; rejected anyway */
	n = put(p, n, "\xc0\x04\x00\x01\x00\x01", 6);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_NAME_PTR);
}

static void
test_msg_label_types(void **state)
{
	(void)state;
	uint8_t p[64];
	struct dns_msg m;
	size_t n = hdr(p, 1, 0, 0, 0);
	n = put(p, n, "\x41\x00\x00\x01\x00\x01", 6);   /* 01xxxxxx: extended label */
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_NAME_LABEL);
	n = hdr(p, 1, 0, 0, 0);
	n = put(p, n, "\x81\x00\x00\x01\x00\x01", 6);   /* 10xxxxxx: reserved */
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_NAME_LABEL);
}

static void
test_msg_name_too_long_after_decompression(void **state)
{
	(void)state;
	uint8_t p[1024];
	size_t n = hdr(p, 1, 1, 0, 0);
	uint8_t lab[64];
	lab[0] = 63;
	memset(lab + 1, 'a', 63);
	/* qname: 3 x 63-octet labels = 193 octets, valid */
	for (int i = 0; i < 3; i++)
		n = put(p, n, lab, 64);
	n = put(p, n, "\0\0\1\0\1", 5);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_TRUNC);   /* answer missing */
	/* owner: 63 + 63 octets then a pointer to the qname: 128 + 193 > 255 */
	n = put(p, n, lab, 64);
	n = put(p, n, "\xc0\x0c\0\1\0\1\0\0\0\0\0\0", 12);
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_NAME_LONG);
	/* a short label before the pointer fits: 4 + 193 = 197 octets */
	n = hdr(p, 1, 1, 0, 0);
	for (int i = 0; i < 3; i++)
		n = put(p, n, lab, 64);
	n = put(p, n, "\0\0\1\0\1", 5);
	n = put(p, n, "\3www\xc0\x0c\xff\0\0\1\0\0\0\0\0\0", 16);   /* TYPE65280, empty */
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	struct dns_msg_iter it;
	struct dns_rr rr;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
	assert_int_equal(dns_name_len(rr.owner), 197);
}

static void
test_msg_counts_larger_than_data(void **state)
{
	(void)state;
	uint8_t p[64];
	struct dns_msg m;
	size_t n = hdr(p, 1, 3, 0, 0);
	n = put(p, n, "\1a\0\0\1\0\1", 7);
	n = put(p, n, "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4\1\2\3\4", 16);   /* only one of 3 */
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_TRUNC);
	/* 65535 questions claimed, none there */
	n = hdr(p, 0xffff, 0, 0, 0);
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_TRUNC);
	/* header cut */
	assert_int_equal(dns_msg_parse(&m, p, 11), ERR_TRUNC);
}

static void
test_msg_truncated_rr(void **state)
{
	(void)state;
	uint8_t p[64];
	struct dns_msg m;
	size_t n = hdr(p, 1, 1, 0, 0);
	n = put(p, n, "\1a\0\0\1\0\1", 7);
	size_t rr = n;
	n = put(p, n, "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4\1\2\3\4", 16);
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	/* cut anywhere inside the RR: rdata, rdlength, type, owner pointer */
	for (size_t cut = rr; cut < n; cut++)
		assert_int_equal(dns_msg_parse(&m, p, cut), ERR_TRUNC);
	/* rdlength larger than the packet */
	p[rr + 11] = 5;
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_TRUNC);
}

static void
test_msg_trailing_garbage_ignored(void **state)
{
	(void)state;
	uint8_t p[64];
	struct dns_msg m;
	size_t n = hdr(p, 1, 0, 0, 0);
	n = put(p, n, "\1a\0\0\1\0\1", 7);
	n = put(p, n, "\xde\xad\xbe", 3);
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	assert_int_equal(m.trailing, 3);
	assert_int_equal(m.end, n - 3);
}

static const uint8_t opt_rr[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};

static void
test_msg_opt_rules(void **state)
{
	(void)state;
	uint8_t p[128];
	struct dns_msg m;
	size_t q;
	/* one OPT: fine */
	size_t n = hdr(p, 1, 0, 0, 1);
	q = n = put(p, n, "\1a\0\0\1\0\1", 7);
	n = put(p, n, opt_rr, sizeof(opt_rr));
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	assert_int_equal(m.edns.udp_size, 4096);
	/* two: FORMERR (RFC 6891 §6.1.1) */
	wr_u16(p + 10, 2);
	n = put(p, n, opt_rr, sizeof(opt_rr));
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_FORMERR);
	/* OPT in the answer section */
	n = hdr(p, 1, 1, 0, 0);
	n = put(p, q, opt_rr, sizeof(opt_rr));
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_FORMERR);
	/* OPT with a non-root owner */
	n = hdr(p, 1, 0, 0, 1);
	n = put(p, q, "\xc0\x0c", 2);
	n = put(p, n, opt_rr + 1, sizeof(opt_rr) - 1);
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_FORMERR);
	/* an option whose length runs past the rdata */
	n = hdr(p, 1, 0, 0, 1);
	n = put(p, q, opt_rr, sizeof(opt_rr) - 2);
	n = put(p, n, "\0\7\0\3\0\5abc", 9);   /* rdlen 7: code 3, len 5, only 3 octets */
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_FORMERR);
	/* extended rcode and version are read */
	n = hdr(p, 1, 0, 0, 1);
	n = put(p, q, opt_rr, sizeof(opt_rr));
	p[q + 5] = 1;       /* ext rcode 1 -> 16 with header rcode 0 */
	p[q + 6] = 1;       /* version 1 */
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	assert_int_equal(dns_msg_rcode(&m), DNS_RCODE_BADVERS);
	assert_int_equal(m.edns.version, 1);
}

/* A syntactically valid TSIG RR (MAC not checked by parse). */
static size_t
put_tsig(uint8_t *p, size_t n)
{
	n = put(p, n, "\3key\0\0\xfa\0\xff\0\0\0\0", 13);
	size_t rdl = n;
	n = put(p, n, "\0\0", 2);
	n = put(p, n, "\013hmac-sha256\0", 13);
	n = put(p, n, "\0\0\0\0\0\1\1\x2c\0\4MACX\x12\x34\0\0\0\0", 20);
	wr_u16(p + rdl, (uint16_t)(n - rdl - 2));
	return n;
}

static void
test_msg_tsig_rules(void **state)
{
	(void)state;
	uint8_t p[256];
	struct dns_msg m;
	size_t n = hdr(p, 1, 0, 0, 1);
	size_t q = n = put(p, n, "\1a\0\0\1\0\1", 7);
	n = put_tsig(p, n);
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	assert_true(m.has_tsig);
	assert_int_equal(m.tsig.off, q);
	assert_int_equal(m.tsig.end, n);
	assert_int_equal(m.tsig.fudge, 300);
	assert_int_equal(m.tsig.time_signed, 1);
	assert_int_equal(m.tsig.mac_len, 4);
	assert_memory_equal(m.tsig.mac, "MACX", 4);
	assert_int_equal(m.tsig.orig_id, 0x1234);
	assert_memory_equal(m.tsig.key, "\3key", 5);
	/* TSIG then OPT: TSIG not last */
	wr_u16(p + 10, 2);
	size_t n2 = put(p, n, opt_rr, sizeof(opt_rr));
	assert_int_equal(dns_msg_parse(&m, p, n2), ERR_FORMERR);
	/* TSIG in the answer section */
	n = hdr(p, 1, 1, 0, 0);
	n = put_tsig(p, q);
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_FORMERR);
	/* OPT then TSIG: fine */
	n = hdr(p, 1, 0, 0, 2);
	n = put(p, q, opt_rr, sizeof(opt_rr));
	n = put_tsig(p, n);
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	assert_true(m.has_opt && m.has_tsig);
	/* MAC length running past the rdata */
	p[n - 11] = 40;
	assert_int_equal(dns_msg_parse(&m, p, n), ERR_FORMERR);
}

/* Builds an answer; checks exact compression on a known layout. */
static void
test_msg_compression_exact(void **state)
{
	(void)state;
	uint8_t buf[512];
	uint8_t o1[DNS_NAME_MAX], rd1[64];
	struct dns_rr rr;
	assert_int_equal(dns_msgw_init(&W, buf, sizeof(buf)), 0);
	assert_int_equal(dns_msgw_question(&W, N("www.example.com."), DNS_T_A, DNS_C_IN), 0);
	assert_int_equal(W.len, 12 + 17 + 4);
	/* owner in other case: still one pointer to the qname */
	mkrr(&rr, o1, "WWW.EXAMPLE.COM.", DNS_T_CNAME, "web.example.com.", rd1, sizeof(rd1));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rr), 0);
	/* 2 (ptr) + 10 + rdata "web" + ptr to example.com (offset 16) */
	assert_int_equal(W.len, 33 + 2 + 10 + 6);
	assert_memory_equal(buf + 33, "\xc0\x0c\0\5\0\1\0\0\x0e\x10\0\6\3web\xc0\x10", 18);
	/* the CNAME target as owner: pointer to where "web" was written (offset 45) */
	mkrr(&rr, o1, "web.example.com.", DNS_T_A, "192.0.2.1", rd1, sizeof(rd1));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rr), 0);
	assert_memory_equal(buf + 51, "\xc0\x2d\0\1", 4);
	/* MX in authority: preference then a compressed name */
	mkrr(&rr, o1, "example.com.", DNS_T_MX, "10 mail.example.com.", rd1, sizeof(rd1));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_NS, &rr), 0);
	size_t at = 51 + 16;
	assert_memory_equal(buf + at, "\xc0\x10\0\x0f\0\1\0\0\x0e\x10\0\x09\0\x0a\4mail\xc0\x10", 21);
	/* SRV target: not compressed (RFC 2782), but a later owner may point to it */
	mkrr(&rr, o1, "_sip._tcp.example.com.", DNS_T_SRV, "0 5 5060 sip.example.com.", rd1,
	     sizeof(rd1));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AR, &rr), 0);
	at += 21;
	/* owner: _sip _tcp + ptr; rdata: 6 fixed octets + 17-octet uncompressed name */
	assert_memory_equal(buf + at, "\4_sip\4_tcp\xc0\x10\0\x21\0\1\0\0\x0e\x10\0\x17", 22);
	size_t sip = at + 22 + 6;
	assert_memory_equal(buf + sip, "\3sip\7example\3com\0", 17);
	mkrr(&rr, o1, "sip.example.com.", DNS_T_A, "192.0.2.2", rd1, sizeof(rd1));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AR, &rr), 0);
	uint8_t want[2] = {0xc0, (uint8_t)sip};
	assert_memory_equal(buf + sip + 17, want, 2);
	/* everything parses back */
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, W.len), 0);
	assert_int_equal(m.count[DNS_SEC_AN], 2);
	assert_int_equal(m.count[DNS_SEC_NS], 1);
	assert_int_equal(m.count[DNS_SEC_AR], 2);
	/* appending to an earlier section is refused */
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rr), -EINVAL);
	assert_int_equal(dns_msgw_question(&W, N("a."), 1, 1), -EINVAL);
}

/* Suffixes match with their case; a whole name equal to the qname in any case is compressed. */
static void
test_msg_compression_keeps_case(void **state)
{
	(void)state;
	uint8_t buf[512];
	uint8_t o1[DNS_NAME_MAX], rd1[64];
	struct dns_rr rr;
	assert_int_equal(dns_msgw_init(&W, buf, sizeof(buf)), 0);
	assert_int_equal(dns_msgw_question(&W, N("wWw.ExAmple.com."), DNS_T_CNAME, DNS_C_IN), 0);
	mkrr(&rr, o1, "www.example.com.", DNS_T_CNAME, "web.EXAMPLE.com.", rd1, sizeof(rd1));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rr), 0);
	/* owner -> qname; rdata: "web" "EXAMPLE" then a pointer to "com" (offset 24) */
	assert_memory_equal(buf + 33, "\xc0\x0c\0\5\0\1\0\0\x0e\x10\0\x0e\3web\7EXAMPLE\xc0\x18", 26);
	mkrr(&rr, o1, "mail.EXAMPLE.com.", DNS_T_A, "192.0.2.1", rd1, sizeof(rd1));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rr), 0);
	assert_memory_equal(buf + 59, "\4mail\xc0\x31", 7);   /* "EXAMPLE.com" at 49 */
	struct dns_msg m;
	struct dns_msg_iter it;
	assert_int_equal(dns_msg_parse(&m, buf, W.len), 0);
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
	assert_memory_equal(rr.owner, "\3wWw\7ExAmple\3com", 17);
	assert_memory_equal(rr.rdata, "\3web\7EXAMPLE\3com", 17);
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
	assert_memory_equal(rr.owner, "\4mail\7EXAMPLE\3com", 18);
}

static const struct {
	const char *owner;
	uint16_t type;
	const char *rdata;
} zone[] = {
	{"example.com.", DNS_T_SOA, "ns1.example.com. hostmaster.example.com. 2024 3600 900 "
	                            "604800 300"},
	{"example.com.", DNS_T_NS, "ns1.example.com."},
	{"example.com.", DNS_T_NS, "ns2.example.net."},
	{"example.com.", DNS_T_MX, "10 mail.example.com."},
	{"example.com.", DNS_T_TXT, "\"v=spf1 -all\""},
	{"ns1.example.com.", DNS_T_A, "192.0.2.53"},
	{"mail.example.com.", DNS_T_AAAA, "2001:db8::25"},
	{"www.example.com.", DNS_T_CNAME, "example.com."},
	{"_xmpp._tcp.example.com.", DNS_T_SRV, "1 2 5269 xmpp.example.com."},
	{"sub.example.com.", DNS_T_NS, "ns.sub.example.com."},
	{"ns.sub.example.com.", DNS_T_A, "192.0.2.54"},
	{"ptr.example.com.", DNS_T_PTR, "host.example.org."},
	{"d.example.com.", DNS_T_DNAME, "example.net."},
};

static void
test_msg_build_parse_roundtrip(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	static uint8_t rds[16][512], owners[16][DNS_NAME_MAX];
	struct dns_rr rrs[16];
	size_t nz = sizeof(zone) / sizeof(zone[0]);
	assert_int_equal(dns_msgw_init(&W, buf, sizeof(buf)), 0);
	dns_msgw_set_id(&W, 77);
	dns_msgw_set_flags(&W, DNS_F_QR | DNS_F_AA);
	assert_int_equal(dns_msgw_question(&W, N("example.com."), DNS_T_AXFR, DNS_C_IN), 0);
	for (size_t i = 0; i < nz; i++) {
		mkrr(&rrs[i], owners[i], zone[i].owner, zone[i].type, zone[i].rdata, rds[i], 512);
		assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rrs[i]), 0);
	}
	size_t uncompressed = 12 + 13 + 4;
	for (size_t i = 0; i < nz; i++)
		uncompressed += dns_name_len(rrs[i].owner) + 10 + rrs[i].rdlen;
	assert_true(W.len < uncompressed * 2 / 3);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, W.len), 0);
	assert_int_equal(m.id, 77);
	assert_int_equal(m.flags, DNS_F_QR | DNS_F_AA);
	assert_int_equal(m.count[DNS_SEC_AN], nz);
	struct dns_msg_iter it;
	struct dns_rr rr;
	dns_msg_iter_init(&it, &m, DNS_SEC_QD);
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
	assert_int_equal(rr.type, DNS_T_AXFR);
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 0);
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	for (size_t i = 0; i < nz; i++) {
		assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
		assert_true(dns_name_equal(rr.owner, rrs[i].owner));
		assert_int_equal(rr.type, rrs[i].type);
		assert_int_equal(rr.ttl, 3600);
		assert_int_equal(rr.rdlen, rrs[i].rdlen);
		assert_memory_equal(rr.rdata, rrs[i].rdata, rr.rdlen);
	}
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 0);
}

static void
test_msg_truncation_keeps_message_valid(void **state)
{
	(void)state;
	uint8_t buf[200];
	uint8_t o[DNS_NAME_MAX], rd[512];
	struct dns_rr rr;
	assert_int_equal(dns_msgw_init(&W, buf, sizeof(buf)), 0);
	assert_int_equal(dns_msgw_reserve(&W, DNS_OPT_LEN), 0);
	assert_int_equal(dns_msgw_question(&W, N("example.com."), DNS_T_TXT, DNS_C_IN), 0);
	unsigned added = 0;
	int ret;
	char txt[64];
	for (;;) {
		snprintf(txt, sizeof(txt), "\"record number %u with some text\"", added);
		mkrr(&rr, o, "long-owner-name.example.com.", DNS_T_TXT, txt, rd, sizeof(rd));
		ret = dns_msgw_rr(&W, DNS_SEC_AN, &rr);
		if (ret != 0)
			break;
		added++;
	}
	assert_int_equal(ret, -EMSGSIZE);
	assert_true(added >= 2);
	size_t len = W.len;
	assert_true(len <= sizeof(buf) - DNS_OPT_LEN);
	/* the failed RR left no compression entry behind: a short RR reuses the owner */
	mkrr(&rr, o, "long-owner-name.example.com.", DNS_T_A, "192.0.2.1", rd, sizeof(rd));
	if (dns_msgw_rr(&W, DNS_SEC_AN, &rr) == 0)
		added++;
	dns_msgw_set_tc(&W);
	struct dns_edns e = {.udp_size = 1232};
	assert_int_equal(dns_msgw_opt(&W, &e), 0);   /* the reserve kept room */
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, W.len), 0);
	assert_int_equal(m.count[DNS_SEC_AN], added);
	assert_true(m.flags & DNS_F_TC);
	assert_true(m.has_opt);
	struct dns_msg_iter it;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	for (unsigned i = 0; i < added; i++) {
		assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
		assert_true(dns_name_equal(owner, N("long-owner-name.example.com.")));
	}
	/* a question that does not fit leaves the message unchanged */
	uint8_t small[20];
	assert_int_equal(dns_msgw_init(&W, small, sizeof(small)), 0);
	assert_int_equal(dns_msgw_question(&W, N("example.com."), 1, 1), -EMSGSIZE);
	assert_int_equal(W.len, 12);
	assert_int_equal(rd_u16(small + 4), 0);
}

/* Above offset 0x3fff names cannot be pointer targets; everything must still decode. */
static void
test_msg_large_message_pointer_limit(void **state)
{
	(void)state;
	static uint8_t buf[65535];
	uint8_t o[DNS_NAME_MAX], rd[64];
	struct dns_rr rr;
	char name[64], target[64];
	assert_int_equal(dns_msgw_init(&W, buf, sizeof(buf)), 0);
	assert_int_equal(dns_msgw_question(&W, N("example.com."), DNS_T_AXFR, DNS_C_IN), 0);
	unsigned i;
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "host%u.example.com.", i);
		snprintf(target, sizeof(target), "mx%u.example.com.", i % 50);
		char mx[80];
		snprintf(mx, sizeof(mx), "10 %s", target);
		mkrr(&rr, o, name, DNS_T_MX, mx, rd, sizeof(rd));
		if (dns_msgw_rr(&W, DNS_SEC_AN, &rr) != 0)
			break;
	}
	assert_true(W.len > 0x4000);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, W.len), 0);
	struct dns_msg_iter it;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	for (unsigned j = 0; j < i; j++) {
		assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
		snprintf(name, sizeof(name), "host%u.example.com.", j);
		assert_true(dns_name_equal(owner, N(name)));
		snprintf(target, sizeof(target), "mx%u.example.com.", j % 50);
		assert_true(dns_name_equal(rr.rdata + 2, N(target)));
	}
	/* truncate back to the question and start the next message */
	dns_msgw_truncate_to_question(&W);
	assert_int_equal(W.len, 12 + 13 + 4);
	mkrr(&rr, o, "example.com.", DNS_T_NS, "ns.example.com.", rd, sizeof(rd));
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rr), 0);
	assert_int_equal(W.len, 29 + 2 + 10 + 5);   /* owner and name suffix both compressed */
	assert_int_equal(dns_msg_parse(&m, buf, W.len), 0);
	assert_int_equal(m.count[DNS_SEC_AN], 1);
}

static void
test_msg_compressed_rdata_is_expanded(void **state)
{
	(void)state;
	uint8_t p[128];
	size_t n = hdr(p, 1, 1, 0, 0);
	n = put(p, n, "\7example\3com\0\0\2\0\1", 17);
	/* NS with rdata "ns1" + pointer to example.com. */
	n = put(p, n, "\xc0\x0c\0\2\0\1\0\0\0\x3c\0\6\3ns1\xc0\x0c", 18);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, p, n), 0);
	struct dns_msg_iter it;
	struct dns_rr rr;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
	assert_int_equal(rr.rdlen, 17);
	assert_memory_equal(rr.rdata, "\3ns1\7example\3com", 17);
	assert_int_equal(it.raw_rdlen, 6);
	/* a forward pointer inside rdata is an error of the iterator */
	p[n - 1] = 0x2e;
	assert_int_equal(dns_msg_parse(&m, p, n), 0);   /* parse does not decode rdata */
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	assert_true(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)) < 0);
}

static void
test_msg_response_helpers(void **state)
{
	(void)state;
	uint8_t q[512], r[512];
	struct dns_edns e = {.udp_size = 4096};
	ssize_t n = dns_msg_make_query(q, sizeof(q), 4242, N("MiXeD.example.COM."), DNS_T_A,
	                               DNS_C_IN, DNS_F_RD | DNS_F_CD, &e);
	assert_true(n > 0);
	struct dns_msg m, a;
	assert_int_equal(dns_msg_parse(&m, q, (size_t)n), 0);
	assert_int_equal(dns_msgw_init_response(&W, r, sizeof(r), &m, DNS_F_AA, DNS_RCODE_BADVERS),
	                 0);
	struct dns_edns re = {.udp_size = 1232};
	assert_int_equal(dns_msgw_opt(&W, &re), 0);
	assert_int_equal(dns_msg_parse(&a, r, W.len), 0);
	assert_int_equal(a.id, 4242);
	assert_int_equal(a.flags & ~DNS_F_RCODE_MASK, DNS_F_QR | DNS_F_AA | DNS_F_RD | DNS_F_CD);
	assert_int_equal(dns_msg_rcode(&a), DNS_RCODE_BADVERS);
	assert_memory_equal(a.qname, "\5MiXeD\7example\3COM", 19);
	/* rcode rewritten in place, extended bits into the OPT */
	assert_int_equal(dns_msg_set_rcode(r, W.len, DNS_RCODE_REFUSED), 0);
	assert_int_equal(dns_msg_parse(&a, r, W.len), 0);
	assert_int_equal(dns_msg_rcode(&a), DNS_RCODE_REFUSED);
	assert_int_equal(dns_msg_set_rcode(r, W.len, 23), 0);
	assert_int_equal(dns_msg_parse(&a, r, W.len), 0);
	assert_int_equal(dns_msg_rcode(&a), 23);
	n = dns_msg_make_query(q, sizeof(q), 1, N("a."), 1, 1, 0, NULL);
	assert_int_equal(dns_msg_set_rcode(q, (size_t)n, DNS_RCODE_BADVERS), -ERANGE);
	/* reset_response reuses the table */
	assert_int_equal(dns_msgw_reset_response(&W, r, sizeof(r), &m, 0, 0), 0);
	assert_int_equal(dns_msg_parse(&a, r, W.len), 0);
	assert_int_equal(a.count[DNS_SEC_QD], 1);
	assert_int_equal(a.count[DNS_SEC_AR], 0);
}

static void
test_msg_notify(void **state)
{
	(void)state;
	uint8_t buf[512], o[DNS_NAME_MAX], rd[256];
	struct dns_rr soa;
	mkrr(&soa, o, "example.com.", DNS_T_SOA, "ns.example.com. h.example.com. 7 1 2 3 4", rd,
	     sizeof(rd));
	ssize_t n = dns_msg_make_notify(buf, sizeof(buf), 99, N("example.com."), &soa);
	assert_true(n > 0);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(dns_msg_opcode(&m), DNS_OP_NOTIFY);
	assert_true(m.flags & DNS_F_AA);
	assert_false(m.flags & DNS_F_QR);
	assert_int_equal(m.qtype, DNS_T_SOA);
	assert_int_equal(m.count[DNS_SEC_AN], 1);
	struct dns_msg_iter it;
	struct dns_rr rr;
	dns_msg_iter_init(&it, &m, DNS_SEC_AN);
	assert_int_equal(dns_msg_iter_next(&it, &rr, owner, rdbuf, sizeof(rdbuf)), 1);
	assert_int_equal(rr.type, DNS_T_SOA);
	assert_int_equal(rr.rdlen, soa.rdlen);
	assert_memory_equal(rr.rdata, soa.rdata, soa.rdlen);
	n = dns_msg_make_notify(buf, sizeof(buf), 99, N("example.com."), NULL);
	assert_int_equal(n, 12 + 13 + 4);
}

static void
test_msg_raw_reserve_and_options(void **state)
{
	(void)state;
	uint8_t buf[128];
	assert_int_equal(dns_msgw_init(&W, buf, sizeof(buf)), 0);
	assert_int_equal(dns_msgw_question(&W, N("a.example."), DNS_T_A, DNS_C_IN), 0);
	/* a raw, uncompressed RR copied into the answer: counts follow nrr */
	static const uint8_t raw[] = "\1a\7example\0\0\1\0\1\0\0\0\x3c\0\4\xc0\0\2\1";
	assert_int_equal(dns_msgw_raw(&W, DNS_SEC_AN, raw, sizeof(raw) - 1, 1), 0);
	assert_int_equal(dns_msgw_raw(&W, 7, raw, sizeof(raw) - 1, 1), -EINVAL);
	assert_int_equal(dns_msgw_raw(&W, DNS_SEC_AN, raw, sizeof(buf), 1), -EMSGSIZE);
	/* a reserve larger than what is left fails and changes nothing */
	assert_int_equal(dns_msgw_reserve(&W, sizeof(buf)), -EMSGSIZE);
	assert_int_equal(dns_msgw_reserve(&W, sizeof(buf) - W.len), 0);
	struct dns_rr rr = {N("b.example."), DNS_T_A, DNS_C_IN, 60, 4, (const uint8_t *)"\1\2\3\4"};
	assert_int_equal(dns_msgw_rr(&W, DNS_SEC_AN, &rr), -EMSGSIZE);
	assert_int_equal(dns_msgw_rr(&W, 4, &rr), -EINVAL);
	/* OPT with two options; the second is found */
	uint8_t opts[] = {0, 10, 0, 2, 0xaa, 0xbb, 0, 3, 0, 1, 0x42};
	struct dns_edns e = {.udp_size = 1232, .version = 0, .opts = opts, .optlen = sizeof(opts)};
	assert_int_equal(dns_msgw_opt(&W, &e), 0);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, W.len), 0);
	assert_int_equal(m.count[DNS_SEC_AN], 1);
	const uint8_t *d;
	uint16_t dl;
	assert_true(dns_msg_edns_option(&m, DNS_EDNS_OPT_NSID, &d, &dl));
	assert_int_equal(dl, 1);
	assert_int_equal(d[0], 0x42);
	assert_true(dns_msg_edns_option(&m, DNS_EDNS_OPT_COOKIE, &d, &dl));
	assert_int_equal(dl, 2);
	assert_false(dns_msg_edns_option(&m, DNS_EDNS_OPT_PADDING, &d, &dl));
	struct dns_msg_iter it;
	struct dns_rr got;
	dns_msg_iter_init(&it, &m, DNS_SEC_AR);
	assert_int_equal(dns_msg_iter_next(&it, &got, owner, rdbuf, sizeof(rdbuf)), 1);
	assert_int_equal(got.type, DNS_T_OPT);
	assert_int_equal(got.rdlen, sizeof(opts));
	assert_int_equal(dns_msg_iter_next(&it, &got, owner, rdbuf, sizeof(rdbuf)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_query_roundtrip),
		cmocka_unit_test(test_msg_forward_pointer),
		cmocka_unit_test(test_msg_pointer_loop),
		cmocka_unit_test(test_msg_pointer_into_header),
		cmocka_unit_test(test_msg_label_types),
		cmocka_unit_test(test_msg_name_too_long_after_decompression),
		cmocka_unit_test(test_msg_counts_larger_than_data),
		cmocka_unit_test(test_msg_truncated_rr),
		cmocka_unit_test(test_msg_trailing_garbage_ignored),
		cmocka_unit_test(test_msg_opt_rules),
		cmocka_unit_test(test_msg_tsig_rules),
		cmocka_unit_test(test_msg_compression_exact),
		cmocka_unit_test(test_msg_compression_keeps_case),
		cmocka_unit_test(test_msg_build_parse_roundtrip),
		cmocka_unit_test(test_msg_truncation_keeps_message_valid),
		cmocka_unit_test(test_msg_large_message_pointer_limit),
		cmocka_unit_test(test_msg_compressed_rdata_is_expanded),
		cmocka_unit_test(test_msg_response_helpers),
		cmocka_unit_test(test_msg_notify),
		cmocka_unit_test(test_msg_raw_reserve_and_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
