/*
 * dns/rdata.c: presentation -> wire -> presentation for every type, with
 * wire bytes from RFC examples where they exist, the BIND 9.18 text form
 * (named-checkzone -D) as the expected output, and each class of error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "dns/lex.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "util/err.h"

static uint8_t origin[DNS_NAME_MAX];

static int
setup(void **state)
{
	(void)state;
	return dns_name_from_text("example.com.", 12, NULL, origin) > 0 ? 0 : -1;
}

/* Parses `in`, checks the wire bytes (when given) and the printed text. */
static int
rt_wire(uint16_t type, const char *in, const char *wire, size_t wlen, const char *out,
        uint8_t *rd)
{
	char err[128] = "";
	char txt[8192];
	int n = dns_rdata_from_str(type, in, strlen(in), origin, rd, DNS_RDATA_MAX, err,
	                           sizeof(err));
	if (n < 0)
		print_error("parse '%s' failed: %s\n", in, err);
	assert_true(n >= 0);
	if (wire != NULL) {
		assert_int_equal(n, (int)wlen);
		assert_memory_equal(rd, wire, wlen);
	}
	assert_int_equal(dns_rdata_check(type, rd, (size_t)n), 0);
	int t = dns_rdata_to_text(type, rd, (size_t)n, txt, sizeof(txt));
	assert_true(t > 0 || (t == 0 && out != NULL && out[0] == '\0'));
	assert_string_equal(txt, out != NULL ? out : in);
	/* the printed form parses back to the same wire */
	uint8_t again[DNS_RDATA_MAX];
	assert_int_equal(dns_rdata_from_str(type, txt, (size_t)t, origin, again, sizeof(again), err,
	                                     sizeof(err)), n);
	assert_memory_equal(again, rd, (size_t)n);
	/* and the RFC 3597 form of it is accepted as this type too */
	char gen[3 * DNS_RDATA_MAX];
	int g = dns_rdata_to_generic(rd, (size_t)n, gen, sizeof(gen));
	assert_true(g > 0);
	assert_int_equal(dns_rdata_from_str(type, gen, (size_t)g, origin, again, sizeof(again), err,
	                                     sizeof(err)), n);
	assert_memory_equal(again, rd, (size_t)n);
	return n;
}

static uint8_t rdbuf[DNS_RDATA_MAX];

#define RT(type, in, out) rt_wire(type, in, NULL, 0, out, rdbuf)
#define RTW(type, in, wire, out) rt_wire(type, in, wire, sizeof(wire) - 1, out, rdbuf)

/* Expects an error with message `msg` at token index `tok`. */
static void
bad(uint16_t type, const char *in, size_t tok, const char *msg)
{
	struct dns_tok t[64];
	struct dns_lex lx;
	size_t n = 0;
	dns_lex_init(&lx, in, strlen(in));
	for (;;) {
		assert_int_equal(dns_lex_next(&lx, &t[n]), 0);
		if (t[n].kind == DNS_TOK_EOF || t[n].kind == DNS_TOK_EOL)
			break;
		n++;
	}
	uint8_t out[DNS_RDATA_MAX];
	struct dns_rdata_err e;
	int r = dns_rdata_from_tokens(type, t, n, origin, out, sizeof(out), &e);
	if (r >= 0 || strcmp(e.what, msg) != 0 || e.tok != tok)
		print_error("'%s': got %d '%s' at %zu\n", in, r, r < 0 ? e.what : "", e.tok);
	assert_int_equal(r, ERR_RDATA);
	assert_string_equal(e.what, msg);
	assert_int_equal(e.tok, tok);
}

static void
test_rdata_a_aaaa(void **state)
{
	(void)state;
	RTW(DNS_T_A, "192.0.2.1", "\xc0\x00\x02\x01", NULL);
	RTW(DNS_T_AAAA, "2001:db8:0:0:0:0:0:1",
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", "2001:db8::1");
	RT(DNS_T_AAAA, "2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1");
	RT(DNS_T_AAAA, "::ffff:192.0.2.1", NULL);
	RT(DNS_T_AAAA, "::", NULL);
	RT(DNS_T_AAAA, "::1.2.3.4", NULL);
	RT(DNS_T_AAAA, "0:0:0:0:0:1:0:0", "::1:0:0");
	RT(DNS_T_AAAA, "1:0:0:1:0:0:0:1", "1:0:0:1::1");
	RT(DNS_T_AAAA, "::ffff:0:1.2.3.4", "::ffff:0:102:304");
	bad(DNS_T_A, "1.2.3", 0, "bad IPv4 address '1.2.3'");
	bad(DNS_T_A, "1.2.3.256", 0, "bad IPv4 address '1.2.3.256'");
	bad(DNS_T_A, "01.2.3.4x", 0, "bad IPv4 address '01.2.3.4x'");
	bad(DNS_T_A, "", 0, "missing A field 'address'");
	bad(DNS_T_A, "1.2.3.4 5", 1, "unexpected extra field '5'");
	bad(DNS_T_AAAA, "2001:db8::1::2", 0, "bad IPv6 address '2001:db8::1::2'");
	bad(DNS_T_AAAA, "192.0.2.1", 0, "bad IPv6 address '192.0.2.1'");
}

static void
test_rdata_names(void **state)
{
	(void)state;
	RTW(DNS_T_NS, "ns1", "\3ns1\7example\3com\0", "ns1.example.com.");
	RTW(DNS_T_CNAME, "www.example.net.", "\3www\7example\3net\0", NULL);
	RT(DNS_T_DNAME, "Example.NET.", NULL);   /* case kept, as BIND prints it */
	RT(DNS_T_PTR, "host.Example.org.", NULL);
	RT(DNS_T_NS, "@", "example.com.");
	RT(DNS_T_PTR, "a\\.b\\032c.", NULL);
	RTW(DNS_T_MX, "10 mail", "\0\x0a\4mail\7example\3com\0", "10 mail.example.com.");
	RT(DNS_T_MX, "0 .", NULL);
	RT(DNS_T_MB, "mb", "mb.example.com.");
	RT(DNS_T_MINFO, "a b", "a.example.com. b.example.com.");
	RT(DNS_T_RP, "mbox txt", "mbox.example.com. txt.example.com.");
	RT(DNS_T_AFSDB, "1 afs", "1 afs.example.com.");
	RT(DNS_T_RT, "1 rt", "1 rt.example.com.");
	RT(DNS_T_PX, "1 a b", "1 a.example.com. b.example.com.");
	RT(DNS_T_KX, "1 kx", "1 kx.example.com.");
	bad(DNS_T_MX, "70000 mail", 0, "MX preference '70000' out of range");
	bad(DNS_T_MX, "x mail", 0, "bad MX preference 'x'");
	bad(DNS_T_MX, "-1 mail", 0, "bad MX preference '-1'");
	bad(DNS_T_MX, "10", 1, "missing MX field 'exchange'");
	bad(DNS_T_NS, "a..b.", 0, "bad NS nameserver 'a..b.' (label empty or over 63 octets)");
	bad(DNS_T_CNAME, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 0,
	    "bad CNAME target 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' (label empty or "
	    "over 63 octets)");
}

static void
test_rdata_soa(void **state)
{
	(void)state;
	/* RFC 1035 §3.3.13 layout, built piecewise since octal escapes run on */
	uint8_t exp[64];
	size_t n = 0;
	memcpy(exp, "\3ns1\7example\3com", 17);
	n = 17;
	memcpy(exp + n, "\12hostmaster\7example\3com", 24);
	n += 24;
	memcpy(exp + n, "\x78\xa3\xf1\x75\0\0\x0e\x10\0\0\x03\x84\0\x09\x3a\x80\0\1\x51\x80", 20);
	n += 20;
	assert_int_equal(rt_wire(DNS_T_SOA, "ns1 hostmaster 2024010101 1h 15m 1w 1d", (char *)exp,
	                         n, "ns1.example.com. hostmaster.example.com. 2024010101 3600 "
	                            "900 604800 86400", rdbuf), 61);
	RT(DNS_T_SOA, ". . 4294967295 1h30m 0 2W 1D2H",
	   ". . 4294967295 5400 0 1209600 93600");
	bad(DNS_T_SOA, "ns1 hostmaster 1 2 3 4", 6, "missing SOA field 'minimum'");
	bad(DNS_T_SOA, "ns1 hostmaster 4294967296 2 3 4 5", 2,
	    "SOA serial '4294967296' out of range");
	bad(DNS_T_SOA, "ns1 hostmaster 1 2 3 4 1x", 6, "bad SOA minimum '1x'");
	bad(DNS_T_SOA, "ns1 hostmaster 1 2 3 4 h", 6, "bad SOA minimum 'h'");
	bad(DNS_T_SOA, "ns1 hostmaster 1 2 3 4 5000000000s", 6,
	    "SOA minimum '5000000000s' out of range");
	bad(DNS_T_SOA, "ns1 hostmaster 1 2 3 4 5 6", 7, "unexpected extra field '6'");
}

static void
test_rdata_txt(void **state)
{
	(void)state;
	RTW(DNS_T_TXT, "\"hello world\" foo", "\x0bhello world\3foo", "\"hello world\" \"foo\"");
	RT(DNS_T_TXT, "\"a\\\"b\\\\c\" \"\\001\\255\xc3\xa9\"", "\"a\\\"b\\\\c\" \"\\001\\255\\195\\169\"");
	RTW(DNS_T_TXT, "\"\"", "\0", NULL);
	RT(DNS_T_TXT, "\"a b;c@d(e)f$\"", NULL);
	RT(DNS_T_TXT, "\"\\009\\127~\"", NULL);
	RT(DNS_T_TXT, "a\\032b", "\"a b\"");
	RT(DNS_T_SPF, "\"v=spf1 -all\"", NULL);
	/* a 300-octet string becomes a 255-octet and a 45-octet string */
	char in[310], out[600];
	memset(in, 0, sizeof(in));
	in[0] = '"';
	memset(in + 1, 'a', 300);
	in[301] = '"';
	snprintf(out, sizeof(out), "\"%.255s\" \"%.45s\"", in + 1, in + 1);
	int n = RT(DNS_T_TXT, in, out);
	assert_int_equal(n, 302);
	assert_int_equal(rdbuf[0], 255);
	assert_int_equal(rdbuf[256], 45);
	/* exactly 510 octets: two full strings, no empty third one */
	char in2[520];
	memset(in2, 'b', 510);
	in2[510] = '\0';
	snprintf(out, sizeof(out), "\"%.255s\" \"%.255s\"", in2, in2);
	assert_int_equal(RT(DNS_T_TXT, in2, out), 512);
	assert_int_equal(rdbuf[256], 255);
	bad(DNS_T_TXT, "", 0, "missing TXT field 'text'");
	bad(DNS_T_TXT, "ok \"bad\\1\"", 1, "bad escape in TXT text 'bad\\1'");
}

static void
test_rdata_srv_naptr_hinfo_caa(void **state)
{
	(void)state;
	RTW(DNS_T_SRV, "10 60 5060 sip.example.com.",
	    "\0\x0a\0\x3c\x13\xc4\3sip\7example\3com\0", NULL);
	bad(DNS_T_SRV, "10 60 65536 sip.example.com.", 2, "SRV port '65536' out of range");
	RT(DNS_T_NAPTR, "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .", NULL);
	RT(DNS_T_NAPTR, "100 10 \"\" \"\" \"\" _sip._udp", "100 10 \"\" \"\" \"\" _sip._udp.example.com.");
	RT(DNS_T_NAPTR, "1 1 \"a b\\\"\" \"\" \"\" .", NULL);
	RT(DNS_T_HINFO, "\"PC\" \"Linux os\"", NULL);
	RT(DNS_T_HINFO, "PC \"\\\\\"", "\"PC\" \"\\\\\"");
	bad(DNS_T_HINFO, "PC", 1, "missing HINFO field 'os'");
	RTW(DNS_T_CAA, "0 issue \"letsencrypt.org\"", "\0\5issueletsencrypt.org", NULL);
	RT(DNS_T_CAA, "128 tbs \"Unknown\"", NULL);
	RT(DNS_T_CAA, "0 issue \"\"", NULL);
	RT(DNS_T_CAA, "1 Issue x", "1 Issue \"x\"");
	RT(DNS_T_CAA, "0 issue \"a\\\"b\\\\c\\007 \xc3\xa9\"", "0 issue \"a\\\"b\\\\c\\007 \\195\\169\"");
	bad(DNS_T_CAA, "0 is-sue \"x\"", 1, "bad CAA tag 'is-sue'");
	bad(DNS_T_CAA, "256 issue \"x\"", 0, "CAA flags '256' out of range");
	bad(DNS_T_CAA, "0 issue", 2, "missing CAA field 'value'");
}

static void
test_rdata_generic(void **state)
{
	(void)state;
	char txt[256];
	char err[128];
	uint8_t rd[64];
	/* unknown type: opaque bytes, printed in RFC 3597 form, hex in uppercase */
	int n = dns_rdata_from_str(65534, "\\# 3 0a0B0c", 11, origin, rd, sizeof(rd), err,
	                           sizeof(err));
	assert_int_equal(n, 3);
	assert_memory_equal(rd, "\x0a\x0b\x0c", 3);
	assert_int_equal(dns_rdata_to_text(65534, rd, 3, txt, sizeof(txt)), 11);
	assert_string_equal(txt, "\\# 3 0A0B0C");
	assert_int_equal(dns_rdata_from_str(999, "\\# 0", 4, origin, rd, sizeof(rd), err,
	                                    sizeof(err)), 0);
	assert_int_equal(dns_rdata_to_text(999, rd, 0, txt, sizeof(txt)), 4);
	assert_string_equal(txt, "\\# 0");
	/* hex split over tokens; long data chunked in 56 digits as BIND prints it */
	n = dns_rdata_from_str(65534, "\\# 40 0102030405060708090a0102030405060708090a 01020304"
	                       "05060708090a0102030405060708090a", 87, origin, rd, sizeof(rd), err,
	                       sizeof(err));
	assert_int_equal(n, 40);
	assert_true(dns_rdata_to_text(65534, rd, 40, txt, sizeof(txt)) > 0);
	assert_string_equal(txt, "\\# 40 0102030405060708090A0102030405060708090A0102030405060708 "
	                         "090A0102030405060708090A");
	/* a known type in generic form becomes that type */
	assert_int_equal(dns_rdata_from_str(DNS_T_A, "\\# 4 0A000001", 13, origin, rd, sizeof(rd),
	                                    err, sizeof(err)), 4);
	assert_int_equal(dns_rdata_to_text(DNS_T_A, rd, 4, txt, sizeof(txt)), 8);
	assert_string_equal(txt, "10.0.0.1");
	/* ... but must be valid for it */
	bad(DNS_T_A, "\\# 3 0A0000", 2, "\\# data is not valid A rdata");
	bad(DNS_T_MX, "\\# 2 000A", 2, "\\# data is not valid MX rdata");
	bad(65534, "\\# 4 0A0000", 3, "\\# data has 3 octets, length says 4");
	bad(65534, "\\# 2 0A0000", 2, "\\# data longer than its length 2");
	bad(65534, "\\# 2 0A0", 2, "bad hex in \\# data (odd number of digits)");
	bad(65534, "\\# 1 zz", 2, "bad hex in \\# data 'zz'");
	bad(65534, "\\# x", 1, "bad \\# length 'x'");
	bad(65534, "\\# 65536", 1, "bad \\# length '65536'");
	bad(65534, "\\#", 1, "missing length after \\# in TYPE65534 rdata");
	bad(65534, "0a0b", 0, "type TYPE65534 needs RFC 3597 '\\#' rdata");
	/* to_text refuses malformed wire rdata of a known type */
	assert_int_equal(dns_rdata_to_text(DNS_T_A, rd, 3, txt, sizeof(txt)), ERR_RDATA);
	assert_int_equal(dns_rdata_to_text(DNS_T_A, rd, 4, txt, 8), -ENOSPC);
}

static void
test_rdata_check(void **state)
{
	(void)state;
	assert_int_equal(dns_rdata_check(DNS_T_A, (const uint8_t *)"\1\2\3\4", 4), 0);
	assert_int_equal(dns_rdata_check(DNS_T_A, (const uint8_t *)"\1\2\3\4\5", 5), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_NS, (const uint8_t *)"\3com", 4), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_NS, (const uint8_t *)"\3com\0", 5), 0);
	assert_int_equal(dns_rdata_check(DNS_T_NS, (const uint8_t *)"\xc0\x0c", 2), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_MX, (const uint8_t *)"\0\1\0\0", 4), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_TXT, (const uint8_t *)"", 0), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_TXT, (const uint8_t *)"\3ab", 3), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_CAA, (const uint8_t *)"\0\0", 2), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_CAA, (const uint8_t *)"\0\1-", 3), ERR_RDATA);
	assert_int_equal(dns_rdata_check(65534, (const uint8_t *)"\1", 1), 0);
}

static void
test_rdata_names_and_compression(void **state)
{
	(void)state;
	uint16_t offs[4];
	bool comp[4];
	int n = RT(DNS_T_SOA, "ns1 host 1 2 3 4 5",
	           "ns1.example.com. host.example.com. 1 2 3 4 5");
	assert_int_equal(dns_rdata_names(DNS_T_SOA, rdbuf, (size_t)n, offs, comp, 4), 2);
	assert_int_equal(offs[0], 0);
	assert_int_equal(offs[1], 17);
	assert_true(comp[0] && comp[1]);
	n = RT(DNS_T_SRV, "1 2 3 t", "1 2 3 t.example.com.");
	assert_int_equal(dns_rdata_names(DNS_T_SRV, rdbuf, (size_t)n, offs, comp, 4), 1);
	assert_int_equal(offs[0], 6);
	assert_false(comp[0]);
	n = RT(DNS_T_MX, "1 m", "1 m.example.com.");
	assert_int_equal(dns_rdata_names(DNS_T_MX, rdbuf, (size_t)n, offs, comp, 4), 1);
	assert_int_equal(offs[0], 2);
	assert_true(comp[0]);
	n = RT(DNS_T_DNAME, "d", "d.example.com.");
	assert_int_equal(dns_rdata_names(DNS_T_DNAME, rdbuf, (size_t)n, offs, comp, 4), 1);
	assert_false(comp[0]);
	assert_int_equal(dns_rdata_names(DNS_T_A, rdbuf, 4, offs, comp, 4), 0);
	assert_int_equal(dns_rdata_names(65534, rdbuf, 4, offs, comp, 4), 0);
	/* max bounds the count */
	n = RT(DNS_T_SOA, "ns1 host 1 2 3 4 5", "ns1.example.com. host.example.com. 1 2 3 4 5");
	assert_int_equal(dns_rdata_names(DNS_T_SOA, rdbuf, (size_t)n, offs, comp, 1), 1);
}

static void
test_rdata_unpack_decompresses(void **state)
{
	(void)state;
	/* a message: header, then "example.com" at 12, then MX rdata "10 mail.<ptr 12>" */
	uint8_t pkt[64] = { 0 };
	memcpy(pkt + 12, "\7example\3com\0", 13);
	size_t rdpos = 25;
	memcpy(pkt + rdpos, "\0\x0a\4mail\xc0\x0c", 9);
	uint8_t out[64];
	int n = dns_rdata_unpack(DNS_T_MX, pkt, 34, rdpos, 9, out, sizeof(out));
	assert_int_equal(n, 20);
	assert_memory_equal(out, "\0\x0a\4mail\7example\3com\0", 20);
	/* SRV: receivers accept compression (RFC 3597 §4) */
	memcpy(pkt + rdpos, "\0\1\0\2\0\3\3sip\xc0\x0c", 12);
	n = dns_rdata_unpack(DNS_T_SRV, pkt, 37, rdpos, 12, out, sizeof(out));
	assert_int_equal(n, 23);
	assert_memory_equal(out, "\0\1\0\2\0\3\3sip\7example\3com\0", 23);
	/* DNAME: not decompressed, so a pointer is malformed */
	memcpy(pkt + rdpos, "\3sip\xc0\x0c", 6);
	assert_true(dns_rdata_unpack(DNS_T_DNAME, pkt, 31, rdpos, 6, out, sizeof(out)) < 0);
	/* forward pointer, pointer to itself */
	memcpy(pkt + rdpos, "\0\x0a\xc0\x30", 4);
	assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 48, rdpos, 4, out, sizeof(out)),
	                 ERR_FORMERR);
	memcpy(pkt + rdpos, "\0\x0a\xc0\x1b", 4);
	assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 48, rdpos, 4, out, sizeof(out)),
	                 ERR_FORMERR);
	/* rdlen past the packet, name running past the rdata */
	assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 30, rdpos, 9, out, sizeof(out)),
	                 ERR_FORMERR);
	memcpy(pkt + rdpos, "\0\x0a\4mail\0", 8);
	assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 48, rdpos, 6, out, sizeof(out)),
	                 ERR_FORMERR);
	/* trailing junk after the name */
	memcpy(pkt + rdpos, "\0\x0a\4mail\0\1", 9);
	assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 48, rdpos, 9, out, sizeof(out)),
	                 ERR_RDATA);
	/* unknown types are copied verbatim */
	assert_int_equal(dns_rdata_unpack(65534, pkt, 48, rdpos, 9, out, sizeof(out)), 9);
	assert_memory_equal(out, pkt + rdpos, 9);
	/* output space */
	memcpy(pkt + rdpos, "\0\x0a\4mail\xc0\x0c", 9);
	assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 34, rdpos, 9, out, 10), -ENOSPC);
}

static void
test_rdata_canonicalize(void **state)
{
	(void)state;
	int n = RT(DNS_T_MX, "10 MAIL.Example.COM.", NULL);
	dns_rdata_canonicalize(DNS_T_MX, rdbuf, (size_t)n);
	assert_memory_equal(rdbuf + 2, "\4mail\7example\3com", 18);
	n = RT(DNS_T_SRV, "1 1 1 SIP.Example.COM.", NULL);
	dns_rdata_canonicalize(DNS_T_SRV, rdbuf, (size_t)n);
	assert_memory_equal(rdbuf + 6, "\3sip\7example\3com", 17);
	n = RT(DNS_T_DNAME, "Example.NET.", NULL);
	dns_rdata_canonicalize(DNS_T_DNAME, rdbuf, (size_t)n);
	assert_memory_equal(rdbuf, "\7example\3net", 12);
	/* RFC 6840 §5.1: NSEC next name keeps its case */
	n = RT(DNS_T_NSEC, "Host.Example.COM. A", NULL);
	dns_rdata_canonicalize(DNS_T_NSEC, rdbuf, (size_t)n);
	assert_memory_equal(rdbuf, "\4Host\7Example\3COM", 17);
	/* TXT is not touched */
	n = RT(DNS_T_TXT, "\"ABC\"", NULL);
	dns_rdata_canonicalize(DNS_T_TXT, rdbuf, (size_t)n);
	assert_memory_equal(rdbuf, "\3ABC", 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdata_a_aaaa),
		cmocka_unit_test(test_rdata_names),
		cmocka_unit_test(test_rdata_soa),
		cmocka_unit_test(test_rdata_txt),
		cmocka_unit_test(test_rdata_srv_naptr_hinfo_caa),
		cmocka_unit_test(test_rdata_generic),
		cmocka_unit_test(test_rdata_check),
		cmocka_unit_test(test_rdata_names_and_compression),
		cmocka_unit_test(test_rdata_unpack_decompresses),
		cmocka_unit_test(test_rdata_canonicalize),
	};
	return cmocka_run_group_tests_name("rdata", tests, setup, NULL);
}
