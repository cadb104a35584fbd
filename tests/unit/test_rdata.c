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
#include "dns/wire.h"
#include "util/err.h"

static uint8_t origin[DNS_NAME_MAX];

/*
 * Allocation counter: this executable's malloc family shadows libc's, so
 * every allocation in the process passes here (not under ASan, which must
 * own the heap).
 */
#if !defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
static unsigned long nallocs;
void *
malloc(size_t n)
{
	nallocs++;
	return __libc_malloc(n);
}
void *
calloc(size_t n, size_t m)
{
	nallocs++;
	return __libc_calloc(n, m);
}
void *
realloc(void *p, size_t n)
{
	nallocs++;
	return __libc_realloc(p, n);
}
#endif

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
	RT(DNS_T_TXT, "\"a\\\"b\\\\c\" \"\\001\\255\xc3\xa9\"",
	   "\"a\\\"b\\\\c\" \"\\001\\255\\195\\169\"");
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
	/* RFC 6116 §3.2 example */
	RTW(DNS_T_NAPTR, "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .",
	    "\0\x64\0\x0a\1U\7E2U+sip\x1b!^.*$!sip:info@example.com!\0", NULL);
	RT(DNS_T_NAPTR, "100 10 \"\" \"\" \"\" _sip._udp", "100 10 \"\" \"\" \"\" _sip._udp.example.com.");
	RT(DNS_T_NAPTR, "1 1 \"a b\\\"\" \"\" \"\" .", NULL);
	/* NAPTR regexp rules (RFC 3403 §4.1) as BIND applies them */
	RT(DNS_T_NAPTR, "100 10 \"u\" \"E2U+sip\" \"!^(\\\\+441632960)(.*)$!sip:\\\\2@example.com!\" .",
	   NULL);
	RT(DNS_T_NAPTR, "1 1 \"\" \"\" \"!^[[:digit:]]+$!x!i\" .", NULL);
	bad(DNS_T_NAPTR, "1 1 \"\" \"\" \"!^(.*)$!sip:\\\\2@x!\" .", 4,
	    "bad NAPTR regexp '!^(.*)$!sip:\\\\2@x!'");
	bad(DNS_T_NAPTR, "1 1 \"\" \"\" \"1^.*$1x1\" .", 4, "bad NAPTR regexp '1^.*$1x1'");
	bad(DNS_T_NAPTR, "1 1 \"\" \"\" \"!^.*$!x!j\" .", 4, "bad NAPTR regexp '!^.*$!x!j'");
	bad(DNS_T_NAPTR, "1 1 \"\" \"\" \"!^.*$!x\" .", 4, "bad NAPTR regexp '!^.*$!x'");
	bad(DNS_T_NAPTR, "1 1 \"\" \"\" \"!a**!x!\" .", 4, "bad NAPTR regexp '!a**!x!'");
	bad(DNS_T_NAPTR, "1 1 \"\" \"\" \"![[:digit:]!x!\" .", 4,
	    "bad NAPTR regexp '![[:digit:]!x!'");
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
	/* SOA: mname points at the owner, rname at mname inside the same rdata */
	uint8_t soa[80] = { 0 };
	memcpy(soa + 12, "\7example\3com\0", 13);
	size_t sp = 25;
	static const uint8_t soa_rd[] = { 3, 'n', 's', '1', 0xc0, 0x0c, 4, 'h', 'o', 's', 't', 0xc0,
	                                  25, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
	                                  0, 0, 0, 5 };
	memcpy(soa + sp, soa_rd, sizeof(soa_rd));
	n = dns_rdata_unpack(DNS_T_SOA, soa, sp + sizeof(soa_rd), sp, sizeof(soa_rd), out,
	                     sizeof(out));
	assert_int_equal(n, 17 + 22 + 20);
	assert_memory_equal(out, "\3ns1\7example\3com\0\4host\3ns1\7example\3com\0", 39);
	char txt[256];
	assert_true(dns_rdata_to_text(DNS_T_SOA, out, (size_t)n, txt, sizeof(txt)) > 0);
	assert_string_equal(txt, "ns1.example.com. host.ns1.example.com. 1 2 3 4 5");
	/* NAPTR and RP names are accepted compressed (RFC 3597 §4) */
	static const uint8_t naptr_rd[] = { 0, 1, 0, 2, 1, 'U', 0, 0, 3, 's', 'i', 'p', 0xc0, 0x0c };
	memcpy(soa + sp, naptr_rd, sizeof(naptr_rd));
	n = dns_rdata_unpack(DNS_T_NAPTR, soa, sp + sizeof(naptr_rd), sp, sizeof(naptr_rd), out,
	                     sizeof(out));
	assert_int_equal(n, 8 + 17);
	assert_memory_equal(out + 8, "\3sip\7example\3com\0", 17);
	static const uint8_t rp_rd[] = { 0xc0, 0x0c, 1, 't', 0xc0, 0x0c };
	memcpy(soa + sp, rp_rd, sizeof(rp_rd));
	n = dns_rdata_unpack(DNS_T_RP, soa, sp + sizeof(rp_rd), sp, sizeof(rp_rd), out, sizeof(out));
	assert_int_equal(n, 13 + 15);
	/* names in RRSIG (signer) and SVCB (target) must not be compressed */
	static const uint8_t svcb_rd[] = { 0, 1, 0xc0, 0x0c };
	memcpy(soa + sp, svcb_rd, sizeof(svcb_rd));
	assert_true(dns_rdata_unpack(DNS_T_SVCB, soa, sp + 4, sp, 4, out, sizeof(out)) < 0);
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

static void
test_rdata_loc(void **state)
{
	(void)state;
	/* RFC 1876 §4 example, defaults for the precisions */
	RTW(DNS_T_LOC, "42 21 54 N 71 06 18 W -24m 30m",
	    "\x00\x33\x16\x13\x89\x17\x2d\xd0\x70\xbe\x15\xf0\x00\x98\x8d\x20",
	    "42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m");
	RT(DNS_T_LOC, "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m", NULL);
	RT(DNS_T_LOC, "42 21 43.952 N 71 5 6.344 W -24m 1m 200m",
	   "42 21 43.952 N 71 5 6.344 W -24.00m 1m 200m 10m");
	RT(DNS_T_LOC, "42 N 71 W 10 1 2 3", "42 0 0.000 N 71 0 0.000 W 10.00m 1m 2m 3m");
	RT(DNS_T_LOC, "0 0 0.001 S 0 0 0 E 0 1000000 100 1",
	   "0 0 0.001 S 0 0 0.000 E 0.00m 1000000m 100m 1m");
	RT(DNS_T_LOC, "0 0 0 S 0 0 0 W 0 0.5 0.05 1234",
	   "0 0 0.000 N 0 0 0.000 E 0.00m 0.50m 0.05m 1000m");
	RT(DNS_T_LOC, "90 S 180 W 42849672.95m 90000000m",
	   "90 0 0.000 S 180 0 0.000 W 42849672.95m 90000000m 10000m 10m");
	RT(DNS_T_LOC, "89 59 59.999 N 179 59 59.999 E -100000.00m",
	   "89 59 59.999 N 179 59 59.999 E -100000.00m 1m 10000m 10m");
	bad(DNS_T_LOC, "91 N 0 E 0", 0, "LOC latitude '91' out of range");
	bad(DNS_T_LOC, "90 1 N 0 E 0", 0, "LOC latitude '90' out of range");
	bad(DNS_T_LOC, "10 60 N 0 E 0", 0, "LOC latitude '10' out of range");
	bad(DNS_T_LOC, "10 X 0 E 0", 1, "bad LOC latitude 'X'");
	bad(DNS_T_LOC, "10 1 1 1 N 0 E 0", 3, "bad LOC latitude '1'");
	bad(DNS_T_LOC, "10 N 0 E", 4, "missing LOC field 'altitude'");
	bad(DNS_T_LOC, "10 N 0 E 1.234m", 4, "bad LOC altitude '1.234m'");
	bad(DNS_T_LOC, "10 N 0 E -100000.01", 4, "LOC altitude '-100000.01' out of range");
	bad(DNS_T_LOC, "10 N 0 E 0 1 2 3 4", 8, "unexpected extra field '4'");
	bad(DNS_T_LOC, "10 N 0 E 0 90000001", 5, "LOC size '90000001' out of range");
	bad(DNS_T_LOC, "10 N", 2, "missing LOC longitude hemisphere");
	/* wire checks: version, precision digits, latitude range */
	uint8_t w[16];
	memcpy(w, "\x00\x33\x16\x13\x89\x17\x2d\xd0\x70\xbe\x15\xf0\x00\x98\x8d\x20", 16);
	assert_int_equal(dns_rdata_check(DNS_T_LOC, w, 16), 0);
	w[0] = 1;
	assert_int_equal(dns_rdata_check(DNS_T_LOC, w, 16), ERR_RDATA);
	w[0] = 0;
	w[1] = 0xa0;
	assert_int_equal(dns_rdata_check(DNS_T_LOC, w, 16), ERR_RDATA);
	w[1] = 0x33;
	w[4] = 0xff;
	assert_int_equal(dns_rdata_check(DNS_T_LOC, w, 16), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_LOC, w, 15), ERR_RDATA);
}

/* RFC 4034 Appendix B key tag. */
static unsigned
key_tag(const uint8_t *rd, size_t n)
{
	unsigned long ac = 0;
	for (size_t i = 0; i < n; i++)
		ac += (i & 1) ? rd[i] : (unsigned long)rd[i] << 8;
	ac += (ac >> 16) & 0xffff;
	return ac & 0xffff;
}

static void
test_rdata_dnskey_ds(void **state)
{
	(void)state;
	/* RFC 4034 §5.4: the DS digest is SHA-1(owner | DNSKEY rdata), key tag 60485 */
	static const char key[] = "256 3 5 AQOeiiR0GOMYkDshWoSKz9Xz fwJr1AYtsmx3TGkJaNXVbfi/ "
	                          "2pHm822aJ5iI9BMzNXxeYCmZ DRD99WYwYqUSdjMmmAphXdvx "
	                          "egXd/M5+X7OrzKBaMbCVdFLU Uh6DhweJBjEVv5f2wwjM9Xzc "
	                          "nOf+EPbtG9DMBmADjFDc2w/r ljwvFw==";
	uint8_t kb[DNS_RDATA_MAX];
	int n = rt_wire(DNS_T_DNSKEY, key, NULL, 0,
	                "256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822a "
	                "J5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBa "
	                "MbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/r ljwvFw==",
	                kb);
	assert_int_equal(key_tag(kb, (size_t)n), 60485);
	uint8_t buf[512];
	memcpy(buf, "\5dskey\7example\3com\0", 19);
	memcpy(buf + 19, kb, (size_t)n);
	uint8_t sha1[20];
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, 19 + (size_t)n, sha1), 0);
	int d = RT(DNS_T_DS, "60485 5 1 2BB183AF5F22588179A53B0A9 8631FAD1A292118",
	       "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118");
	assert_int_equal(d, 24);
	assert_memory_equal(rdbuf, "\xec\x45\x05\x01", 4);
	assert_memory_equal(rdbuf + 4, sha1, 20);
	/* mnemonics, hex chunked at 56 digits, CDS/CDNSKEY delete forms (RFC 8078 §4) */
	RT(DNS_T_DNSKEY, "257 3 ECDSAP256SHA256 AwEAAQ==", "257 3 13 AwEAAQ==");
	RT(DNS_T_DS, "60485 8 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A",
	   "60485 8 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4 469DA50A");
	RT(DNS_T_DS, "1 RSASHA256 2 0000000000000000000000000000000000000000000000000000000000000000",
	   "1 8 2 00000000000000000000000000000000000000000000000000000000 00000000");
	RT(DNS_T_CDS, "0 0 0 00", NULL);
	RT(DNS_T_CDNSKEY, "0 3 0 AA==", NULL);
	bad(DNS_T_DNSKEY, "256 3 8 AwEAAa==", 3, "bad base64 in DNSKEY public key 'AwEAAa=='");
	bad(DNS_T_DNSKEY, "256 3 8 AwE!", 3, "bad base64 in DNSKEY public key 'AwE!'");
	bad(DNS_T_DNSKEY, "256 3 8 AwE AA", 4, "bad base64 in DNSKEY public key (incomplete)");
	bad(DNS_T_DNSKEY, "256 3 8", 3, "missing DNSKEY field 'public key'");
	bad(DNS_T_DNSKEY, "256 3 FOO AA==", 2, "bad DNSKEY algorithm 'FOO'");
	bad(DNS_T_DS, "1 8 1 00", 3, "DS digest length 1 does not fit digest type 1");
	bad(DNS_T_DS, "1 8 2 0g", 3, "bad hex in DS digest '0g'");
	bad(DNS_T_DS, "1 8 9 0", 3, "bad hex in DS digest (incomplete)");
}

static void
test_rdata_rrsig(void **state)
{
	(void)state;
	/* RFC 4034 §3.3 example */
	int n = RT(DNS_T_RRSIG, "A 5 3 86400 20030322173103 ( 20030220173103 2642 example.com. "
	           "oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6o"
	           "B9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkG"
	           "J5D6fwFm8nN+6pBzeDQfsS3Ap3o= )",
	           "A 5 3 86400 20030322173103 20030220173103 2642 example.com. "
	           "oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKi "
	           "jVCHX3DDKdfb+v6oB9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNaz "
	           "PwQKkRN20XPXV6nwwfoXmJQbsLNrLfkGJ5D6fwFm8nN+6pBzeDQfsS3A p3o=");
	assert_int_equal(n, 18 + 13 + 128);
	assert_memory_equal(rdbuf, "\x00\x01\x05\x03\x00\x01\x51\x80\x3e\x7c\x9d\xd7\x3e\x55\x10\xd7"
	                    "\x0a\x52", 18);
	/* integer times (RFC 4034 §3.2) print as YYYYMMDDHHmmSS */
	RT(DNS_T_RRSIG, "NS 13 2 3600 1700000000 1600000000 1 example.com. AAAA",
	   "NS 13 2 3600 20231114221320 20200913122640 1 example.com. AAAA");
	RT(DNS_T_RRSIG, "TYPE65534 8 0 0 20240229000000 20240228235960 65535 . AA==",
	   "TYPE65534 8 0 0 20240229000000 20240229000000 65535 . AA==");
	/* the signer is lowercased in canonical form; NSEC's next name is not
	 * (RFC 6840 §5.1) */
	n = RT(DNS_T_RRSIG, "A 8 2 60 20300101000000 20200101000000 1 Example.COM. AA==", NULL);
	dns_rdata_canonicalize(DNS_T_RRSIG, rdbuf, (size_t)n);
	assert_memory_equal(rdbuf + 18, "\7example\3com", 12);
	bad(DNS_T_RRSIG, "A 8 2 60 20031322173103 20200101000000 1 . AA==", 4,
	    "bad RRSIG expiration '20031322173103'");
	bad(DNS_T_RRSIG, "A 8 2 60 20230229000000 20200101000000 1 . AA==", 4,
	    "bad RRSIG expiration '20230229000000'");
	bad(DNS_T_RRSIG, "A 8 2 60 2023022900000 20200101000000 1 . AA==", 4,
	    "bad RRSIG expiration '2023022900000'");
	bad(DNS_T_RRSIG, "A 8 2 60 4294967296 20200101000000 1 . AA==", 4,
	    "bad RRSIG expiration '4294967296'");
	bad(DNS_T_RRSIG, "FOO 8 2 60 1 1 1 . AA==", 0,
	    "unknown type in RRSIG type covered 'FOO'");
	bad(DNS_T_RRSIG, "A 8 2 1h 1 1 1 . AA==", 3, "bad RRSIG original TTL '1h'");
}

static void
test_rdata_nsec_nsec3(void **state)
{
	(void)state;
	/* RFC 4034 §4.3 */
	static const char nsec[] = "\4host\7example\3com\0"
	                           "\x00\x06\x40\x01\x00\x00\x00\x03"
	                           "\x04\x1b\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x20";
	RTW(DNS_T_NSEC, "host.example.com. ( A MX RRSIG NSEC TYPE1234 )", nsec,
	    "host.example.com. A MX RRSIG NSEC TYPE1234");
	RT(DNS_T_NSEC, "a NSEC RRSIG CAA NS", "a.example.com. NS RRSIG NSEC CAA");
	RT(DNS_T_NSEC, "a.example.com.", NULL);
	bad(DNS_T_NSEC, "a A FOO", 2, "unknown type 'FOO' in NSEC type bitmap");
	/* bitmap on the wire: windows in order, 1..32 octets, no trailing zero */
	assert_int_equal(dns_rdata_check(DNS_T_NSEC, (const uint8_t *)"\0\0\1\x40", 4), 0);
	assert_int_equal(dns_rdata_check(DNS_T_NSEC, (const uint8_t *)"\0\0\2\x40\0", 5), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_NSEC, (const uint8_t *)"\0\0\0", 3), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_NSEC, (const uint8_t *)"\0\1\1\1\0\1\1", 7),
	                 ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_NSEC, (const uint8_t *)"\0\0\3\1", 4), ERR_RDATA);

	/* RFC 5155 Appendix A */
	static const char n3[] = "\x01\x01\x00\x0c\x04\xaa\xbb\xcc\xdd\x14"
	                         "\x17\x4e\xb2\x40\x9f\xe2\x8b\xcb\x48\x87\xa1\x83\x6f\x95\x7f\x0a"
	                         "\x84\x25\xe2\x7b"
	                         "\x00\x07\x22\x01\x00\x00\x00\x02\x90";
	RTW(DNS_T_NSEC3, "1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA "
	    "NSEC3PARAM RRSIG )", n3,
	    "1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR NS SOA MX RRSIG DNSKEY NSEC3PARAM");
	RT(DNS_T_NSEC3, "1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR", NULL);
	RTW(DNS_T_NSEC3PARAM, "1 0 12 aabbccdd", "\1\0\0\x0c\4\xaa\xbb\xcc\xdd", "1 0 12 AABBCCDD");
	RTW(DNS_T_NSEC3PARAM, "1 0 0 -", "\1\0\0\0\0", NULL);
	bad(DNS_T_NSEC3PARAM, "1 0 0 xyz", 3, "bad hex in NSEC3PARAM salt 'xyz'");
	bad(DNS_T_NSEC3PARAM, "1 0 0", 3, "missing NSEC3PARAM field 'salt'");
	bad(DNS_T_NSEC3, "1 0 0 - W", 4, "bad base32hex in NSEC3 next hashed owner 'W'");
	bad(DNS_T_NSEC3, "1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJ", 4,
	    "bad base32hex in NSEC3 next hashed owner '2T7B4G4VSA5SMI47K61MV5BV1A22BOJ'");
	bad(DNS_T_NSEC3, "1 0 70000 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR", 2,
	    "NSEC3 iterations '70000' out of range");
}

static void
test_rdata_tlsa_sshfp_openpgp_zonemd(void **state)
{
	(void)state;
	/* RFC 6698 §2.3 */
	RT(DNS_T_TLSA, "0 0 1 d2abde240d7cd3ee6b4b28c54df034b9 7983a1d16e8a410e4561cb106618e971",
	   "0 0 1 D2ABDE240D7CD3EE6B4B28C54DF034B97983A1D16E8A410E4561CB10 6618E971");
	RTW(DNS_T_TLSA, "3 1 1 0C72AC70", "\3\1\1\x0c\x72\xac\x70", NULL);
	RT(DNS_T_SMIMEA, "0 0 0 abcdef", "0 0 0 ABCDEF");
	bad(DNS_T_TLSA, "3 1 1", 3, "missing TLSA field 'certificate data'");
	/* RFC 4255 §3.3 */
	RTW(DNS_T_SSHFP, "2 1 123456789abcdef67890123456789abcdef67890",
	    "\2\1\x12\x34\x56\x78\x9a\xbc\xde\xf6\x78\x90\x12\x34\x56\x78\x9a\xbc\xde\xf6\x78\x90",
	    "2 1 123456789ABCDEF67890123456789ABCDEF67890");
	RT(DNS_T_SSHFP, "4 2 123456789abcdef67890123456789abcdef67890123456789abcdef678901234",
	   "4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF6 78901234");
	bad(DNS_T_SSHFP, "2 1 1234", 2,
	    "SSHFP fingerprint length 2 does not fit fingerprint type 1");
	RT(DNS_T_OPENPGPKEY, "AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj",
	   "AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8no kfzj");
	/* RFC 8976 §A.1 */
	int n = RT(DNS_T_ZONEMD, "2018031900 1 1 ( c68090d90a7aed716bc459f9340e3d7c 1370d4d24b7e2fc3"
	           "a1ddc0b9a87153b9 a9713b3c9ae5cc27777f98b8e730044c )",
	           "2018031900 1 1 C68090D90A7AED716BC459F9340E3D7C1370D4D24B7E2FC3A1DDC0B9 "
	           "A87153B9A9713B3C9AE5CC27777F98B8E730044C");
	assert_int_equal(n, 54);
	bad(DNS_T_ZONEMD, "1 1 1 00112233445566778899aabb", 3,
	    "ZONEMD digest length 12 does not fit hash algorithm 1");
	bad(DNS_T_ZONEMD, "1 1 9 0011", 3, "ZONEMD digest length 2 does not fit hash algorithm 9");
	RT(DNS_T_URI, "10 1 \"https://example.com/\"", NULL);
	RT(DNS_T_CSYNC, "66 3 A NS AAAA", NULL);
}

static void
test_rdata_svcb(void **state)
{
	(void)state;
	/* RFC 9460 Appendix D test vectors */
	RTW(DNS_T_HTTPS, "0 foo.example.com.", "\0\0\3foo\7example\3com\0", NULL);
	RTW(DNS_T_SVCB, "1 .", "\0\1\0", NULL);
	RTW(DNS_T_SVCB, "16 foo.example.com. port=53",
	    "\0\x10\3foo\7example\3com\0\0\3\0\2\0\x35", NULL);
	RTW(DNS_T_SVCB, "1 foo.example.com. key667=hello",
	    "\0\1\3foo\7example\3com\0\x02\x9b\0\5hello", "1 foo.example.com. key667=\"hello\"");
	RTW(DNS_T_SVCB, "1 foo.example.com. key667=\"hello\\210qoo\"",
	    "\0\1\3foo\7example\3com\0\x02\x9b\0\x09hello\xd2qoo", NULL);
	RTW(DNS_T_SVCB, "1 foo.example.com. ( ipv6hint=\"2001:db8::1,2001:db8::53:1\" )",
	    "\0\1\3foo\7example\3com\0\0\6\0\x20"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\x53\0\x01",
	    "1 foo.example.com. ipv6hint=2001:db8::1,2001:db8::53:1");
	RTW(DNS_T_SVCB, "1 example.com. ( ipv6hint=\"2001:db8:122:344::192.0.2.33\" )",
	    "\0\1\7example\3com\0\0\6\0\x10"
	    "\x20\x01\x0d\xb8\x01\x22\x03\x44\0\0\0\0\xc0\0\2\x21",
	    "1 example.com. ipv6hint=2001:db8:122:344::c000:221");
	RTW(DNS_T_SVCB, "16 foo.example.org. ( alpn=h2,h3-19 mandatory=ipv4hint,alpn "
	    "ipv4hint=192.0.2.1 )",
	    "\0\x10\3foo\7example\3org\0"
	    "\0\0\0\4\0\1\0\4"
	    "\0\1\0\x09\2h2\5h3-19"
	    "\0\4\0\4\xc0\0\2\1",
	    "16 foo.example.org. mandatory=alpn,ipv4hint alpn=\"h2,h3-19\" ipv4hint=192.0.2.1");
	RTW(DNS_T_SVCB, "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
	    "\0\x10\3foo\7example\3org\0\0\1\0\x0c\x08" "f\\oo,bar\2h2", NULL);
	RTW(DNS_T_SVCB, "16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2",
	    "\0\x10\3foo\7example\3org\0\0\1\0\x0c\x08" "f\\oo,bar\2h2",
	    "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"");
	/* BIND 9.18 output: sorted keys, key7 for dohpath, bare keys for empty values */
	RT(DNS_T_HTTPS, "1 . alpn=h3 dohpath=/dns-query{?dns}",
	   "1 . alpn=\"h3\" key7=\"/dns-query{?dns}\"");
	RT(DNS_T_SVCB, "1 . mandatory=ipv4hint,alpn alpn=h2 ipv4hint=1.2.3.4 key65535 key9=\"\" port=0",
	   "1 . mandatory=alpn,ipv4hint alpn=\"h2\" port=0 ipv4hint=1.2.3.4 key9 key65535");
	RT(DNS_T_SVCB, "1 . ech=AEP+DQA= no-default-alpn alpn=\"a b,c\"",
	   "1 . alpn=\"a\\032b,c\" no-default-alpn ech=AEP+DQA=");
	RT(DNS_T_SVCB, "1 . key65444=\"a b\\\"c\\\\d,e;f@g(h)i\"", NULL);
	RT(DNS_T_SVCB, "1 . key3=\"\\000\\080\"", "1 . port=80");
	RT(DNS_T_SVCB, "4 . ech=\"\"", "4 . ech");
	/* RFC 9460 Appendix D.3 failure cases, and more */
	bad(DNS_T_SVCB, "1 foo.example.com. key123=abc key123=def", 3,
	    "duplicate SVCB key 'key123'");
	bad(DNS_T_SVCB, "1 foo.example.com. mandatory=key123", 2,
	    "SVCB mandatory key 'key123' is missing");
	bad(DNS_T_SVCB, "1 . mandatory=port alpn=h2", 2, "SVCB mandatory key 'port' is missing");
	bad(DNS_T_SVCB, "1 foo.example.com. mandatory=mandatory", 2, "SVCB mandatory lists itself");
	bad(DNS_T_SVCB, "1 foo.example.com. no-default-alpn=abc", 2,
	    "bad SVCB value for key 'no-default-alpn'");
	bad(DNS_T_SVCB, "1 foo.example.com. mandatory=key123,key123 key123=abc", 2,
	    "duplicate key 'key123' in SVCB mandatory");
	bad(DNS_T_SVCB, "1 . foo=bar", 2, "unknown SVCB key 'foo'");
	bad(DNS_T_SVCB, "1 . key65536=1", 2, "unknown SVCB key 'key65536'");
	bad(DNS_T_SVCB, "1 . key01=1", 2, "unknown SVCB key 'key01'");
	bad(DNS_T_HTTPS, "0 foo.example.com. alpn=h2", 2,
	    "HTTPS AliasMode (priority 0) must not have params");
	bad(DNS_T_SVCB, "1 . port=65536", 2, "bad SVCB value for key 'port'");
	bad(DNS_T_SVCB, "1 . port", 2, "SVCB key 'port' needs a value");
	bad(DNS_T_SVCB, "1 . alpn=h2,,h3", 2, "bad SVCB value for key 'alpn'");
	bad(DNS_T_SVCB, "1 . ipv4hint=1.2.3", 2, "bad IPv4 address '1.2.3' in SVCB ipv4hint");
	bad(DNS_T_SVCB, "1 . ipv6hint=1.2.3.4", 2, "bad IPv6 address '1.2.3.4' in SVCB ipv6hint");
	bad(DNS_T_SVCB, "1 . ech=A", 2, "bad base64 in SVCB ech");
	bad(DNS_T_SVCB, "1 . dohpath=/q", 2, "bad SVCB value for key 'dohpath'");
	bad(DNS_T_SVCB, "1 . \"alpn\"", 2, "unexpected quoted string 'alpn' in SVCB params");
	bad(DNS_T_SVCB, "1", 1, "missing SVCB field 'target'");
	/* wire: keys must increase, values must fit their key */
	assert_int_equal(dns_rdata_check(DNS_T_SVCB, (const uint8_t *)"\0\1\0\0\3\0\2\0\x35\0\3\0\2\0\x35",
	                                 16), ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_SVCB, (const uint8_t *)"\0\1\0\0\3\0\1\0", 8),
	                 ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_SVCB, (const uint8_t *)"\0\1\0\0\1\0\1\0", 8),
	                 ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_SVCB, (const uint8_t *)"\0\1\0\0\3\0\2\0", 8),
	                 ERR_RDATA);
	assert_int_equal(dns_rdata_check(DNS_T_SVCB, (const uint8_t *)"\0\1\0\0\3\0\2\0\x35", 9), 0);
	/* the target is listed but never compressed nor lowercased */
	uint16_t offs[2];
	bool comp[2];
	int n = RT(DNS_T_SVCB, "1 Foo.example. port=1", NULL);
	assert_int_equal(dns_rdata_names(DNS_T_SVCB, rdbuf, (size_t)n, offs, comp, 2), 1);
	assert_int_equal(offs[0], 2);
	assert_false(comp[0]);
	dns_rdata_canonicalize(DNS_T_SVCB, rdbuf, (size_t)n);
	assert_memory_equal(rdbuf + 2, "\3Foo", 4);
}

static void
test_rdata_more_types(void **state)
{
	(void)state;
	/* RFC 7043 §3.2, §4.2 */
	RTW(DNS_T_EUI48, "00-00-5e-00-53-2a", "\x00\x00\x5e\x00\x53\x2a", NULL);
	RT(DNS_T_EUI48, "00-00-5E-00-53-2A", "00-00-5e-00-53-2a");
	RTW(DNS_T_EUI64, "00-00-5e-ef-10-00-00-2a", "\x00\x00\x5e\xef\x10\x00\x00\x2a", NULL);
	bad(DNS_T_EUI48, "00:00:5e:00:53:2a", 0, "bad EUI48 address '00:00:5e:00:53:2a'");
	bad(DNS_T_EUI48, "00-00-5e-00-53", 0, "bad EUI48 address '00-00-5e-00-53'");
	bad(DNS_T_EUI64, "0-00-5e-ef-10-00-00-2a", 0, "bad EUI64 address '0-00-5e-ef-10-00-00-2a'");
	/* RFC 6742 §2.1-2.4 */
	RTW(DNS_T_NID, "10 0014:4fff:ff20:ee64", "\0\x0a\x00\x14\x4f\xff\xff\x20\xee\x64",
	    "10 14:4fff:ff20:ee64");
	RT(DNS_T_L64, "10 2001:0DB8:1140:1000", "10 2001:db8:1140:1000");
	RTW(DNS_T_L32, "10 10.1.2.0", "\0\x0a\x0a\x01\x02\x00", NULL);
	RT(DNS_T_LP, "10 l64-subnet1.example.com.", NULL);
	bad(DNS_T_NID, "10 14::ff20:ee64", 1, "bad NID node id '14::ff20:ee64'");
	bad(DNS_T_NID, "10 00014:4fff:ff20:ee64", 1, "bad NID node id '00014:4fff:ff20:ee64'");
	bad(DNS_T_L64, "10 1:2:3", 1, "bad L64 locator '1:2:3'");
	/* RFC 4701 §3.6 */
	RT(DNS_T_DHCID, "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=", NULL);
	RT(DNS_T_TA, "1 8 2 0000000000000000000000000000000000000000000000000000000000000000",
	   "1 8 2 00000000000000000000000000000000000000000000000000000000 00000000");
	RT(DNS_T_DLV, "1 8 1 0000000000000000000000000000000000000000", NULL);
	bad(DNS_T_TA, "1 8 1 00", 3, "TA digest length 1 does not fit digest type 1");
	RT(DNS_T_KEY, "256 3 RSASHA256 AwEAAQ==", "256 3 8 AwEAAQ==");
	RT(DNS_T_AVC, "\"app-name:WOLFGANG|app-class:OAM\"", NULL);
	RT(DNS_T_NINFO, "\"hello\" world", "\"hello\" \"world\"");
	RTW(DNS_T_X25, "311061700956", "\x0c" "311061700956", "\"311061700956\"");
	bad(DNS_T_X25, "\"311\"", 0, "X25 PSDN address '311' is not 4 or more decimal digits");
	/* KEY: flags with both high bits set carry no key (RFC 2535 §3.1.2) */
	RTW(DNS_T_KEY, "49152 3 8", "\xc0\0\3\x08", NULL);
	bad(DNS_T_KEY, "49152 3 8 AA==", 3, "KEY flags say no key, yet a key follows");
	bad(DNS_T_KEY, "256 3 8", 3, "missing KEY field 'public key'");
	assert_int_equal(dns_rdata_check(DNS_T_KEY, (const uint8_t *)"\1\0\3\x08", 4), ERR_RDATA);
	/* DSYNC (RFC 9859), TALINK, NSAP-PTR, EID, HHIT, RESINFO, WALLET as BIND prints them */
	RTW(DNS_T_DSYNC, "CDS 1 5359 ds-scanner.example.",
	    "\0\x3b\1\x14\xef\x0a" "ds-scanner\7example\0", "CDS NOTIFY 5359 ds-scanner.example.");
	RT(DNS_T_DSYNC, "CSYNC notify 5359 .", "CSYNC NOTIFY 5359 .");
	RT(DNS_T_DSYNC, "CDS 2 1 .", NULL);
	RT(DNS_T_TALINK, "a.example. b.example.", NULL);
	RT(DNS_T_NSAP_PTR, "foo.example.", NULL);
	RT(DNS_T_EID, "0102ab", "0102AB");
	RT(DNS_T_HHIT, "AAAA", NULL);
	RT(DNS_T_RESINFO, "qnamemin exterr=15,16,17", "\"qnamemin\" \"exterr=15,16,17\"");
	RT(DNS_T_WALLET, "\"BTC\" \"bc1qa\"", NULL);
	bad(DNS_T_X25, "31a1", 0, "X25 PSDN address '31a1' is not 4 or more decimal digits");
}

static void
test_rdata_gateway_apl_hip_cert(void **state)
{
	(void)state;
	/* RFC 4025 §3 examples */
	RTW(DNS_T_IPSECKEY, "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
	    "\x0a\1\2\xc0\0\2\x26\x01\x03\x51\x53\x79\x86\xed\x35\x53\x3b\x60\x64"
	    "\x47\x8e\xee\xb2\x7b\x5b\xd7\x4d\xae\x14\x9b\x6e\x81\xba\x3a\x05\x21"
	    "\xaf\x82\xab\x78\x01", NULL);
	RT(DNS_T_IPSECKEY, "10 0 2 . AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==", NULL);
	RT(DNS_T_IPSECKEY,
	   "10 3 2 mygateway.example.com. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==", NULL);
	RT(DNS_T_IPSECKEY,
	   "10 2 2 2001:0DB8:0:8002::2000:1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
	   "10 2 2 2001:db8:0:8002::2000:1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==");
	bad(DNS_T_IPSECKEY, "10 0 2 x AA==", 3, "bad IPSECKEY gateway 'x'");
	bad(DNS_T_IPSECKEY, "10 1 2 1.2.3", 3, "bad IPSECKEY gateway '1.2.3'");
	RTW(DNS_T_IPSECKEY, "10 0 0 .", "\x0a\0\0", NULL);   /* no key: RFC 4025 §2.6 */
	/* RFC 8777 §4.3 */
	RTW(DNS_T_AMTRELAY, "10 0 1 203.0.113.15", "\x0a\x01\xcb\x00\x71\x0f", NULL);
	RTW(DNS_T_AMTRELAY, "128 1 2 2001:db8::15",
	    "\x80\x82\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x15", NULL);
	RT(DNS_T_AMTRELAY, "10 0 3 amtrelays.example.com.", NULL);
	RT(DNS_T_AMTRELAY, "0 0 0 .", NULL);
	bad(DNS_T_AMTRELAY, "10 2 1 1.2.3.4", 1, "AMTRELAY discovery optional '2' out of range");
	/* RFC 3123 §5 (trailing zero octets of the address left out on the wire) */
	RTW(DNS_T_APL, "1:192.168.32.0/21 !1:192.168.38.0/28",
	    "\0\1\x15\x03\xc0\xa8\x20" "\0\1\x1c\x83\xc0\xa8\x26", NULL);
	RT(DNS_T_APL, "1:224.0.0.0/4 2:FF00:0:0:0:0:0:0:0/8", "1:224.0.0.0/4 2:ff00::/8");
	RT(DNS_T_APL, "1:0.0.0.0/0", NULL);
	bad(DNS_T_APL, "1:192.168.32.0/33", 0, "bad APL item '1:192.168.32.0/33'");
	bad(DNS_T_APL, "3:192.168.32.0/8", 0, "bad APL item '3:192.168.32.0/8'");
	assert_int_equal(dns_rdata_check(DNS_T_APL, (const uint8_t *)"\0\1\x15\x02\xc0\0", 6),
	                 ERR_RDATA);
	/* RFC 8005 §6 */
	RT(DNS_T_HIP, "2 200100107B1A74DF365639CC39F1D578 AwEAAQ== rvs1.example.com. rvs2",
	   "2 200100107B1A74DF365639CC39F1D578 AwEAAQ== rvs1.example.com. rvs2.example.com.");
	bad(DNS_T_HIP, "2 xyz AwEAAQ==", 1, "bad hex in HIP HIT 'xyz'");
	/* RFC 4398 */
	RT(DNS_T_CERT, "PGP 0 0 AAAA", NULL);
	RT(DNS_T_CERT, "1 2 3 AAAA", "PKIX 2 DSA AAAA");
	RT(DNS_T_CERT, "65535 65535 255 AAAA", NULL);
	RT(DNS_T_ISDN, "\"150862028003217\" \"004\"", NULL);
	RT(DNS_T_ISDN, "150862028003217", "\"150862028003217\"");
	RT(DNS_T_NSAP, "0x47.0005.80.005a00.0000.0001.e133.ffffff000162.00",
	   "0x47000580005a0000000001e133ffffff00016200");
	bad(DNS_T_NSAP, "47.0005", 0, "bad NSAP NSAP '47.0005'");
	/* RFC 1035 §3.4.2: services as a port bitmap, printed as numbers */
	RTW(DNS_T_WKS, "192.0.2.1 tcp smtp http", "\xc0\0\2\1\6\0\0\0\x40\0\0\0\0\0\0\x80",
	    "192.0.2.1 6 25 80");
	RT(DNS_T_WKS, "192.0.2.1 17 53 65535", NULL);
	RTW(DNS_T_WKS, "192.0.2.1 6", "\xc0\0\2\1\6", NULL);
	bad(DNS_T_WKS, "192.0.2.1 300 1", 1, "bad WKS protocol '300'");
	bad(DNS_T_WKS, "192.0.2.1 tcp foo", 2, "bad WKS service 'foo'");
	bad(DNS_T_WKS, "192.0.2.1 tcp 65536", 2, "bad WKS service '65536'");
	RT(DNS_T_GPOS, "-32.6882 116.8652 10.0", "\"-32.6882\" \"116.8652\" \"10.0\"");
	RT(DNS_T_DOA, "0 1 2 \"\" -", NULL);
	RT(DNS_T_DOA, "1 2 3 \"text/plain\" AAAA", NULL);
}

static void
test_rdata_quoting_rules(void **state)
{
	(void)state;
	/* as BIND: only character-strings may be quoted; URI's target must be */
	bad(DNS_T_MX, "\"10\" mail", 0, "quoted MX preference '10'");
	bad(DNS_T_A, "\"1.2.3.4\"", 0, "quoted A address '1.2.3.4'");
	bad(DNS_T_NS, "\"quoted.example.\"", 0, "quoted NS nameserver 'quoted.example.'");
	bad(DNS_T_DNSKEY, "256 3 8 \"AwEAAQ==\"", 3, "quoted DNSKEY public key 'AwEAAQ=='");
	bad(DNS_T_URI, "1 1 abc", 2, "unquoted URI target 'abc'");
	RT(DNS_T_URI, "1 1 \"abc\"", NULL);
	RT(DNS_T_CAA, "0 issue ca.example.net", "0 issue \"ca.example.net\"");
	RT(DNS_T_HINFO, "a \"b\"", "\"a\" \"b\"");
	/* LOC hemispheres are upper case */
	bad(DNS_T_LOC, "10 n 0 e 0", 1, "bad LOC latitude 'n'");
	/* NSEC3 with SHA-1 carries a 20-octet hash */
	bad(DNS_T_NSEC3, "1 0 0 - 00", 4, "NSEC3 next hashed owner of 1 octets, SHA-1 gives 20");
	RT(DNS_T_NSEC3, "2 0 0 - 00", NULL);
}

/*
 * Property: any wire rdata that dns_rdata_check accepts prints, and the
 * printed text parses back to the same octets.  Seeds of every type are
 * mutated with a fixed-seed generator, so failures reproduce.
 */
static void
test_rdata_mutated_wire_roundtrip(void **state)
{
	(void)state;
	static const struct { uint16_t type; const char *text; } seeds[] = {
		{ DNS_T_A, "1.2.3.4" }, { DNS_T_AAAA, "2001:db8::1" }, { DNS_T_NS, "a.b." },
		{ DNS_T_SOA, "a. b. 1 2 3 4 5" }, { DNS_T_MX, "1 a." }, { DNS_T_TXT, "a \"b c\" \"\"" },
		{ DNS_T_HINFO, "a b" }, { DNS_T_SRV, "1 2 3 a." }, { DNS_T_NAPTR, "1 2 a b !x!y! d." },
		{ DNS_T_LOC, "42 21 54 N 71 06 18 W -24m 30m" }, { DNS_T_DNAME, "x.y." },
		{ DNS_T_DS, "1 8 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" },
		{ DNS_T_SSHFP, "1 1 00112233445566778899aabbccddeeff00112233" },
		{ DNS_T_RRSIG, "A 8 2 60 20300101000000 20200101000000 1 a. AAECAwQ=" },
		{ DNS_T_NSEC, "a. A NS SOA TYPE1234" }, { DNS_T_DNSKEY, "256 3 8 AwEAAQ==" },
		{ DNS_T_NSEC3, "2 1 12 aabb 2t7b4g4v A MX" }, { DNS_T_NSEC3PARAM, "1 0 1 ab" },
		{ DNS_T_TLSA, "3 1 1 0011" }, { DNS_T_OPENPGPKEY, "AAECAwQ=" },
		{ DNS_T_ZONEMD, "1 1 9 00112233445566778899aabb" }, { DNS_T_CAA, "0 issue \"x\"" },
		{ DNS_T_SVCB, "1 a. mandatory=alpn alpn=h2,h3 port=1 ipv4hint=1.2.3.4 key99=x" },
		{ DNS_T_HTTPS, "1 . ech=AAEC ipv6hint=::1 no-default-alpn alpn=h2" },
		{ DNS_T_URI, "1 2 \"u\"" }, { DNS_T_CSYNC, "1 2 A NS" }, { DNS_T_RP, "a. b." },
		{ DNS_T_IPSECKEY, "10 3 2 gw. AQID" }, { DNS_T_AMTRELAY, "10 1 2 ::1" },
		{ DNS_T_APL, "1:192.168.32.0/21 !2:2001:db8::/32" },
		{ DNS_T_HIP, "2 2001 AwEAAQ== rvs." }, { DNS_T_CERT, "PGP 1 8 AQID" },
		{ DNS_T_KEY, "49152 3 8" }, { DNS_T_DSYNC, "CDS 1 53 a." },
		{ DNS_T_NSAP, "0x4700" }, { DNS_T_WKS, "1.2.3.4 6 25 80" }, { DNS_T_ISDN, "1234 5" },
		{ DNS_T_DOA, "1 2 3 \"t\" -" },
	};
	uint32_t x = 2463534242u;
	uint8_t w[512], back[DNS_RDATA_MAX];
	static char txt[DNS_RDATA_TEXT_MAX];
	char err[128];
	unsigned accepted = 0;
	for (size_t si = 0; si < sizeof(seeds) / sizeof(seeds[0]); si++) {
		uint16_t type = seeds[si].type;
		int n0 = dns_rdata_from_str(type, seeds[si].text, strlen(seeds[si].text), origin, w,
		                            sizeof(w), err, sizeof(err));
		if (n0 < 0)
			print_error("seed '%s': %s\n", seeds[si].text, err);
		assert_true(n0 > 0);
		uint8_t seed[512];
		memcpy(seed, w, (size_t)n0);
		for (int it = 0; it < 3000; it++) {
			size_t n = (size_t)n0;
			memcpy(w, seed, n);
			for (int k = 0; k < 1 + it % 3; k++) {
				x ^= x << 13;
				x ^= x >> 17;
				x ^= x << 5;
				if (x % 7 == 0 && n > 1)
					n--;                              /* truncate */
				else
					w[x % n] = (uint8_t)(x >> 8); /* overwrite one octet */
			}
			if (dns_rdata_check(type, w, n) != 0)
				continue;
			accepted++;
			int t = dns_rdata_to_text(type, w, n, txt, sizeof(txt));
			assert_true(t >= 0);
			int r = dns_rdata_from_str(type, txt, (size_t)t, origin, back, sizeof(back), err,
			                           sizeof(err));
			/* wire AliasMode params are tolerated (RFC 9460 §2.4.2), text refuses them */
			if ((type == DNS_T_SVCB || type == DNS_T_HTTPS) && rd_u16(w) == 0 && r < 0) {
				assert_non_null(strstr(err, "AliasMode"));
				continue;
			}
			/* LOC's zero with a non-zero exponent has no text form of its own */
			if (type == DNS_T_LOC && r == (int)n && memcmp(back, w, n) != 0)
				continue;
			/* nor have trailing zero octets of a WKS bitmap */
			if (type == DNS_T_WKS && r >= 5 && r < (int)n && w[n - 1] == 0)
				continue;
			if (r != (int)n || memcmp(back, w, n) != 0)
				print_error("type %u: '%s' -> %d (%s)\n", type, txt, r, r < 0 ? err : "");
			assert_int_equal(r, (int)n);
			assert_memory_equal(back, w, n);
		}
	}
	assert_true(accepted > 5000);   /* the property was exercised, not skipped */
}

static void
test_rdata_no_allocation(void **state)
{
	(void)state;
#ifdef COUNT_ALLOCS
	static const struct { uint16_t type; const char *text; } recs[] = {
		{ DNS_T_A, "192.0.2.1" }, { DNS_T_AAAA, "2001:db8::1" }, { DNS_T_MX, "10 mail" },
		{ DNS_T_SOA, "ns1 host 1 1h 2 3 4" }, { DNS_T_TXT, "\"a b\" c" },
		{ DNS_T_LOC, "42 21 54 N 71 06 18 W -24m 30m" },
		{ DNS_T_DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118" },
		{ DNS_T_RRSIG, "A 8 2 60 20300101000000 20200101000000 1 a. AAECAwQ=" },
		{ DNS_T_NSEC, "a. A NS SOA TYPE1234" },
		{ DNS_T_NSEC3, "1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A" },
		{ DNS_T_SVCB, "1 . mandatory=alpn alpn=h2,h3 ech=AAEC ipv4hint=1.2.3.4 ipv6hint=::1" },
		{ DNS_T_CAA, "0 issue \"x\"" }, { 65534, "\\# 2 0102" },
	};
	uint8_t rd[512], out[512];
	char txt[1024], err[128];
	uint16_t offs[4];
	bool comp[4];
	unsigned long before = nallocs;
	for (int it = 0; it < 1000; it++) {
		for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
			int n = dns_rdata_from_str(recs[i].type, recs[i].text, strlen(recs[i].text), origin,
			                           rd, sizeof(rd), err, sizeof(err));
			int t = dns_rdata_to_text(recs[i].type, rd, (size_t)n, txt, sizeof(txt));
			int c = dns_rdata_check(recs[i].type, rd, (size_t)n);
			int u = dns_rdata_unpack(recs[i].type, rd, (size_t)n, 0, (size_t)n, out, sizeof(out));
			dns_rdata_names(recs[i].type, rd, (size_t)n, offs, comp, 4);
			dns_rdata_canonicalize(recs[i].type, rd, (size_t)n);
			if (n <= 0 || t <= 0 || c != 0 || u != n)
				fail_msg("record %zu failed", i);
		}
		/* and the error paths */
		if (dns_rdata_from_str(DNS_T_A, "1.2.3", 5, origin, rd, sizeof(rd), err, sizeof(err)) >= 0)
			fail_msg("1.2.3 parsed");
	}
	assert_int_equal(nallocs - before, 0);
#else
	skip();
#endif
}

static void
test_rdata_known_types(void **state)
{
	(void)state;
	static const char *const known[] = {
		"A", "NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "WKS", "PTR", "HINFO",
		"MINFO",
		"MX", "TXT", "RP", "AFSDB", "X25", "ISDN", "RT", "NSAP", "NSAP-PTR", "SIG", "KEY",
		"PX", "GPOS", "AAAA", "LOC", "EID", "NIMLOC", "SRV", "NAPTR", "KX", "CERT", "DNAME",
		"APL", "DS", "SSHFP", "IPSECKEY", "RRSIG", "NSEC", "DNSKEY", "DHCID", "NSEC3",
		"NSEC3PARAM", "TLSA", "SMIMEA", "HIP", "NINFO", "TALINK", "CDS", "CDNSKEY",
		"OPENPGPKEY", "CSYNC", "ZONEMD", "SVCB", "HTTPS", "DSYNC", "HHIT", "BRID", "SPF",
		"NID", "L32", "L64", "LP", "EUI48", "EUI64", "URI", "CAA", "AVC", "DOA", "AMTRELAY",
		"RESINFO", "WALLET", "TA", "DLV",
	};
	size_t nknown = 0;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		uint16_t t;
		assert_int_equal(dns_rrtype_from_text(known[i], strlen(known[i]), &t), 0);
		if (!dns_rdata_known(t))
			fail_msg("%s has no text form", known[i]);
	}
	/* and nothing else: the lookup table holds exactly these */
	for (unsigned c = 0; c < 65536; c++)
		nknown += dns_rdata_known((uint16_t)c);
	assert_int_equal(nknown, sizeof(known) / sizeof(known[0]));
	assert_false(dns_rdata_known(65534));
	assert_false(dns_rdata_known(DNS_T_OPT));
}

static void
test_rdata_output_space(void **state)
{
	(void)state;
	char txt[64];
	int n = RT(DNS_T_TXT, "\"hello\"", NULL);
	for (size_t cap = 0; cap < 8; cap++)
		assert_int_equal(dns_rdata_to_text(DNS_T_TXT, rdbuf, (size_t)n, txt, cap), -ENOSPC);
	assert_int_equal(dns_rdata_to_text(DNS_T_TXT, rdbuf, (size_t)n, txt, 8), 7);
	/* input larger than the output buffer */
	char err[128];
	uint8_t small[3];
	assert_int_equal(dns_rdata_from_str(DNS_T_A, "1.2.3.4", 7, origin, small, sizeof(small), err,
	                                    sizeof(err)), ERR_RDATA);
	assert_string_equal(err, "A rdata too long");
	assert_int_equal(dns_rdata_from_str(DNS_T_TXT, "\"abc\"", 5, origin, small, sizeof(small),
	                                    err, sizeof(err)), ERR_RDATA);
	assert_int_equal(dns_rdata_from_str(DNS_T_TXT, "\"ab\"", 4, origin, small, sizeof(small),
	                                    err, sizeof(err)), 3);
	assert_int_equal(dns_rdata_from_str(DNS_T_TXT, "\"abc", 4, origin, small, sizeof(small),
	                                    err, sizeof(err)), ERR_RDATA);
	assert_string_equal(err, "quoted string is never closed at column 1");
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
		cmocka_unit_test(test_rdata_loc),
		cmocka_unit_test(test_rdata_dnskey_ds),
		cmocka_unit_test(test_rdata_rrsig),
		cmocka_unit_test(test_rdata_nsec_nsec3),
		cmocka_unit_test(test_rdata_tlsa_sshfp_openpgp_zonemd),
		cmocka_unit_test(test_rdata_svcb),
		cmocka_unit_test(test_rdata_more_types),
		cmocka_unit_test(test_rdata_gateway_apl_hip_cert),
		cmocka_unit_test(test_rdata_quoting_rules),
		cmocka_unit_test(test_rdata_mutated_wire_roundtrip),
		cmocka_unit_test(test_rdata_no_allocation),
		cmocka_unit_test(test_rdata_known_types),
		cmocka_unit_test(test_rdata_output_space),
	};
	return cmocka_run_group_tests_name("rdata", tests, setup, NULL);
}
