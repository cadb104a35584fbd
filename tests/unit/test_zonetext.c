/* dns/zonetext.c: RFC 1035 §5 zone text parser, TTL rules of BIND 9.18, errors, printer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/zonetext.h"
#include "util/err.h"

#define MAXREC 32

/* Every record printed canonically, plus a copy of its wire form. */
struct got {
	unsigned n;
	char text[MAXREC][1024];
	uint8_t owner[MAXREC][DNS_NAME_MAX];
	uint16_t type[MAXREC];
	uint32_t ttl[MAXREC];
	uint16_t rdlen[MAXREC];
	uint8_t rdata[MAXREC][512];
};

static int
collect(void *ctx, const struct dns_rr *rr)
{
	struct got *g = ctx;
	assert_true(g->n < MAXREC);
	int n = dns_zt_print_rr(rr, g->text[g->n], sizeof(g->text[0]));
	assert_true(n > 0);
	g->text[g->n][n - 1] = '\0';  /* drop the newline */
	memcpy(g->owner[g->n], rr->owner, dns_name_len(rr->owner));
	g->type[g->n] = rr->type;
	g->ttl[g->n] = rr->ttl;
	assert_true(rr->rdlen <= sizeof(g->rdata[0]));
	g->rdlen[g->n] = rr->rdlen;
	memcpy(g->rdata[g->n], rr->rdata, rr->rdlen);
	g->n++;
	return 0;
}

static const uint8_t example[] = "\7example\3com";

static int
parse(const char *text, struct got *g, struct dns_zt_err *e)
{
	memset(g, 0, sizeof(*g));
	memset(e, 0, sizeof(*e));
	return dns_zt_parse(text, strlen(text), example, DNS_ZT_NO_TTL, collect, g, e);
}

static struct got g;

static void
test_zonetext_basic_records(void **state)
{
	(void)state;
	struct dns_zt_err e;
	const char *z =
		"$TTL 1h\n"
		"@\tIN SOA ns1 hostmaster ( 2024010101 ; serial\n"
		"\t\t7200 ; refresh\n"
		"\t\t3600 900 300 )\n"
		"\tIN NS ns1\n"
		"ns1 300 IN A 192.0.2.1\n"
		"www IN 2D A 192.0.2.2   ; class then TTL\n"
		"    a 192.0.2.3\n"          /* blank owner, lower-case type */
		"$ORIGIN sub\n"               /* relative to example.com. */
		"x  1W2d3H4m5S A 192.0.2.4\n"
		"@ A 192.0.2.5\n"
		"$ORIGIN other.test.\n"
		"y.example.com. MX 10 mail\n";
	assert_int_equal(parse(z, &g, &e), 0);
	assert_int_equal(g.n, 8);
	assert_string_equal(g.text[0], "example.com. 3600 IN SOA ns1.example.com. "
	                               "hostmaster.example.com. 2024010101 7200 3600 900 300");
	assert_string_equal(g.text[1], "example.com. 3600 IN NS ns1.example.com.");
	assert_string_equal(g.text[2], "ns1.example.com. 300 IN A 192.0.2.1");
	assert_string_equal(g.text[3], "www.example.com. 172800 IN A 192.0.2.2");
	assert_string_equal(g.text[4], "www.example.com. 3600 IN A 192.0.2.3");
	assert_string_equal(g.text[5], "x.sub.example.com. 788645 IN A 192.0.2.4");
	assert_string_equal(g.text[6], "sub.example.com. 3600 IN A 192.0.2.5");
	assert_string_equal(g.text[7], "y.example.com. 3600 IN MX 10 mail.other.test.");
	assert_int_equal(g.type[0], DNS_T_SOA);
	assert_int_equal(g.ttl[5], 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
}

static void
test_zonetext_escapes_in_names_and_txt(void **state)
{
	(void)state;
	struct dns_zt_err e;
	const char *z = "$TTL 60\n"
	                "a\\.b\\032c A 192.0.2.1\n"
	                "\\065\\@x TXT \"semi;colon\" \"quote\\\"d\" plain\\032word\n";
	assert_int_equal(parse(z, &g, &e), 0);
	assert_int_equal(g.n, 2);
	assert_memory_equal(g.owner[0], "\5a.b c\7example\3com", 19);
	assert_string_equal(g.text[0], "a\\.b\\032c.example.com. 60 IN A 192.0.2.1");
	assert_memory_equal(g.owner[1], "\3A@x\7example\3com", 17);
	assert_int_equal(g.rdlen[1], 11 + 8 + 11);
	assert_memory_equal(g.rdata[1], "\12semi;colon\7quote\"d\12plain word", 30);
}

static void
test_zonetext_ttl_from_soa_minimum(void **state)
{
	(void)state;
	struct dns_zt_err e;
	/* named-checkzone: "no TTL specified; using SOA MINTTL instead"; later
	 * records without a TTL take that default even after an explicit TTL. */
	const char *z = "@ SOA ns1 host 1 2 3 4 300\n"
	                "  NS ns1\n"
	                "b 600 A 192.0.2.5\n"
	                "c A 192.0.2.6\n";
	assert_int_equal(parse(z, &g, &e), 0);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.ttl[0], 300);
	assert_int_equal(g.ttl[1], 300);
	assert_int_equal(g.ttl[2], 600);
	assert_int_equal(g.ttl[3], 300);
}

static void
test_zonetext_ttl_rfc1035_last_explicit(void **state)
{
	(void)state;
	struct dns_zt_err e;
	/* No $TTL, explicit TTL first: later records reuse the last explicit TTL. */
	const char *z = "@ 500 SOA ns1 host 1 2 3 4 300\n"
	                "  NS ns1\n"
	                "b 600 A 192.0.2.5\n"
	                "c A 192.0.2.6\n";
	assert_int_equal(parse(z, &g, &e), 0);
	assert_int_equal(g.ttl[1], 500);
	assert_int_equal(g.ttl[3], 600);
}

struct warns {
	unsigned n, line[4], col[4];
	char what[4][96];
};

static void
record_warning(void *ctx, unsigned line, unsigned col, const char *what)
{
	struct warns *w = ctx;
	assert_true(w->n < 4);
	w->line[w->n] = line;
	w->col[w->n] = col;
	snprintf(w->what[w->n], sizeof(w->what[0]), "%s", what);
	w->n++;
}

/* The warnings of named-checkzone, where it gives them. */
static void
test_zonetext_bind_warnings(void **state)
{
	(void)state;
	struct dns_zt_err e;
	struct warns w = {0};
	struct dns_zt_opts o = {.warn = record_warning, .warn_ctx = &w};
	const char *z = "; no $TTL\n@ SOA ns1 host 1 2 3 4 300\n  NS ns1\n";
	memset(&g, 0, sizeof(g));
	assert_int_equal(dns_zt_parse_opts(z, strlen(z), example, DNS_ZT_NO_TTL, collect, &g, &o,
	                                   &e), 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 2);
	assert_int_equal(w.col[0], 1);
	assert_string_equal(w.what[0], "no TTL specified; using SOA MINTTL instead");
	memset(&w, 0, sizeof(w));
	z = "@ 60 SOA ns1 host 1 2 3 4 300\n  NS ns1\n  NS ns2\n";
	assert_int_equal(dns_zt_parse_opts(z, strlen(z), example, DNS_ZT_NO_TTL, collect, &g, &o,
	                                   &e), 0);
	assert_int_equal(w.n, 1);   /* once, like BIND */
	assert_int_equal(w.line[0], 2);
	assert_int_equal(w.col[0], 3);
	assert_string_equal(w.what[0], "using RFC1035 TTL semantics");
	memset(&w, 0, sizeof(w));
	z = "$TTL 5\n@ SOA ns1 host 1 2 3 4 300\n  NS ns1\n";
	assert_int_equal(dns_zt_parse_opts(z, strlen(z), example, DNS_ZT_NO_TTL, collect, &g, &o,
	                                   &e), 0);
	assert_int_equal(w.n, 0);
}

static void
test_zonetext_no_ttl_before_soa(void **state)
{
	(void)state;
	struct dns_zt_err e;
	assert_int_equal(parse("\nns1 A 192.0.2.1\n@ SOA ns1 host 1 2 3 4 300\n", &g, &e),
	                 ERR_SYNTAX);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.col, 1);
	assert_non_null(strstr(e.what, "no TTL"));
	/* a default TTL from the caller makes it fine */
	memset(&g, 0, sizeof(g));
	const char *z = "ns1 A 192.0.2.1\n";
	assert_int_equal(dns_zt_parse(z, strlen(z), example, 77, collect, &g, &e), 0);
	assert_int_equal(g.ttl[0], 77);
}

static void
test_zonetext_parse_ttl_units(void **state)
{
	(void)state;
	uint32_t t = 0;
#define TTL(s) dns_zt_parse_ttl(s, strlen(s), &t)
	assert_int_equal(TTL("0"), 0);
	assert_int_equal(t, 0);
	assert_int_equal(TTL("1h30m"), 0);
	assert_int_equal(t, 5400);
	assert_int_equal(TTL("1W2d3h4m5S"), 0);
	assert_int_equal(t, 788645);
	assert_int_equal(TTL("1d1d"), 0);
	assert_int_equal(t, 172800);
	assert_int_equal(TTL("2147483647"), 0);
	assert_int_equal(t, 2147483647u);
	assert_int_equal(TTL("2147483648"), -ERANGE);
	assert_int_equal(TTL("99999999999999999999"), -ERANGE);
	assert_int_equal(TTL("3551w"), -ERANGE);
	assert_int_equal(TTL("1h30"), ERR_SYNTAX);  /* BIND: bad ttl */
	assert_int_equal(TTL("h"), ERR_SYNTAX);
	assert_int_equal(TTL("1x"), ERR_SYNTAX);
	assert_int_equal(TTL(""), ERR_SYNTAX);
#undef TTL
}

/* Text printed by dns_zt_print_rr parses back to the same wire record. */
static void
test_zonetext_print_parses_back(void **state)
{
	(void)state;
	struct dns_zt_err e;
	static struct got again;
	const char *z = "$TTL 60\n"
	                "@ SOA ns1 h\\.m 1 2 3 4 5\n"
	                "a\\(b A 192.0.2.1\n"
	                "t TXT \"x\\010y\" \"\\\\\" \"\"\n"
	                "m MX 0 .\n";
	assert_int_equal(parse(z, &g, &e), 0);
	assert_int_equal(g.n, 4);
	for (unsigned i = 0; i < g.n; i++) {
		char line[1100];
		snprintf(line, sizeof(line), "%s\n", g.text[i]);
		memset(&again, 0, sizeof(again));
		assert_int_equal(dns_zt_parse(line, strlen(line), NULL, DNS_ZT_NO_TTL, collect,
		                              &again, &e), 0);
		assert_int_equal(again.n, 1);
		assert_true(dns_name_equal(again.owner[0], g.owner[i]));
		assert_int_equal(again.type[0], g.type[i]);
		assert_int_equal(again.ttl[0], g.ttl[i]);
		assert_int_equal(again.rdlen[0], g.rdlen[i]);
		assert_memory_equal(again.rdata[0], g.rdata[i], g.rdlen[i]);
	}
}

static int
stop_at_second(void *ctx, const struct dns_rr *rr)
{
	(void)rr;
	unsigned *n = ctx;
	return ++*n == 2 ? 42 : 0;
}

static void
test_zonetext_callback_stops_parse(void **state)
{
	(void)state;
	struct dns_zt_err e;
	unsigned n = 0;
	const char *z = "$TTL 1\na A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\n";
	assert_int_equal(dns_zt_parse(z, strlen(z), example, DNS_ZT_NO_TTL, stop_at_second, &n,
	                              &e), 42);
	assert_int_equal(n, 2);
	assert_int_equal(e.line, 3);
}

static void
test_zonetext_empty_and_comments_only(void **state)
{
	(void)state;
	struct dns_zt_err e;
	assert_int_equal(parse("", &g, &e), 0);
	assert_int_equal(parse("; nothing\n\n   \n\t; more\n", &g, &e), 0);
	assert_int_equal(g.n, 0);
	/* no newline at the end of the last record */
	assert_int_equal(parse("$TTL 5\nx A 192.0.2.9", &g, &e), 0);
	assert_int_equal(g.n, 1);
	/* no callback: a check of the text only */
	const char *z = "$TTL 5\nx A 192.0.2.9\ny A 1.2\n";
	assert_int_equal(dns_zt_parse(z, 20, example, DNS_ZT_NO_TTL, NULL, NULL, &e), 0);
	assert_int_equal(dns_zt_parse(z, strlen(z), example, DNS_ZT_NO_TTL, NULL, NULL, &e),
	                 ERR_RDATA);
	assert_int_equal(e.line, 3);
	assert_int_equal(dns_zt_parse(z, strlen(z), example, DNS_ZT_NO_TTL, NULL, NULL, NULL),
	                 ERR_RDATA);
}

static int
count_rdlen(void *ctx, const struct dns_rr *rr)
{
	size_t *total = ctx;
	*total += rr->rdlen;
	return 0;
}

/* More rdata fields than the inline array holds: grown, then capped. */
static void
test_zonetext_many_fields(void **state)
{
	(void)state;
	struct dns_zt_err e;
	size_t cap = 8 + 70000 * 3 + 2, n = 0;
	char *z = malloc(cap);
	assert_non_null(z);
	n += (size_t)snprintf(z + n, cap - n, "x 1 TXT");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(z + n, cap - n, " \"\"");
	z[n++] = '\n';
	size_t total = 0;
	assert_int_equal(dns_zt_parse(z, n, example, DNS_ZT_NO_TTL, count_rdlen, &total, &e), 0);
	assert_int_equal(total, 1000);   /* 1000 empty character-strings */
	n = (size_t)snprintf(z, cap, "x 1 TXT");
	for (int i = 0; i < 70000; i++)
		n += (size_t)snprintf(z + n, cap - n, " \"\"");
	total = 0;
	assert_int_equal(dns_zt_parse(z, n, example, DNS_ZT_NO_TTL, count_rdlen, &total, &e),
	                 ERR_SYNTAX);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.col, 9 + 3 * (DNS_ZT_MAX_FIELDS - 1));
	assert_non_null(strstr(e.what, "rdata fields"));
	free(z);
}

/* ---- errors: one test per kind, each checking line, column and reason ---- */

static void
expect_error(const char *z, int code, unsigned line, unsigned col, const char *what)
{
	struct dns_zt_err e;
	int r = parse(z, &g, &e);
	if (r != code || e.line != line || e.col != col || strstr(e.what, what) == NULL)
		print_error("got %d line %u col %u '%s'; want %d line %u col %u '%s'\n", r, e.line,
		            e.col, e.what, code, line, col, what);
	assert_int_equal(r, code);
	assert_int_equal(e.line, line);
	assert_int_equal(e.col, col);
	assert_non_null(strstr(e.what, what));
}

static void
test_zonetext_err_bad_ipv4(void **state)
{
	(void)state;
	expect_error("$TTL 1\nok A 192.0.2.1\nwww   IN  A  1.2.3\n", ERR_RDATA, 3, 14, "1.2.3");
	expect_error("$TTL 1\nwww A 1.2.3.256\n", ERR_RDATA, 2, 7, "IPv4");
}

static void
test_zonetext_err_unterminated_quote(void **state)
{
	(void)state;
	expect_error("$TTL 1\nt TXT \"ok\" \"never\nclosed\n", ERR_SYNTAX, 2, 12, "never closed");
}

static void
test_zonetext_err_unknown_type(void **state)
{
	(void)state;
	expect_error("$TTL 1\nx 60 IN FOO 1 2\n", ERR_TYPE, 2, 9, "unknown RR type 'FOO'");
	/* RFC 3597 §5: an unknown type's data must be given as \# len hex */
	expect_error("$TTL 1\nx TYPE65280 abcd\n", ERR_RDATA, 2, 13, "TYPE65280");
}

static void
test_zonetext_err_label_over_63(void **state)
{
	(void)state;
	char z[256];
	snprintf(z, sizeof(z), "$TTL 1\nwww.%s A 192.0.2.1\n",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");  /* 64 */
	expect_error(z, ERR_NAME_LABEL, 2, 5, "label longer than 63");
	/* in rdata too */
	snprintf(z, sizeof(z), "$TTL 1\nx CNAME %s.b\n",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_error(z, ERR_RDATA, 2, 9, "CNAME");
}

static void
test_zonetext_err_name_over_255(void **state)
{
	(void)state;
	/* 4 x 62-octet labels = 252 octets; the origin pushes it over 255 */
	char z[512], lab[63];
	memset(lab, 'b', 62);
	lab[62] = '\0';
	snprintf(z, sizeof(z), "$TTL 1\n@ A 192.0.2.1\n\t A 192.0.2.2\n%s.%s.%s.%s A 192.0.2.1\n",
	         lab, lab, lab, lab);
	expect_error(z, ERR_NAME_LONG, 4, 1, "longer than 255");
}

static void
test_zonetext_err_bad_escape(void **state)
{
	(void)state;
	expect_error("$TTL 1\nab\\25x A 192.0.2.1\n", ERR_NAME_ESCAPE, 2, 3, "bad escape");
	expect_error("$TTL 1\nab\\300 A 192.0.2.1\n", ERR_NAME_ESCAPE, 2, 3, "bad escape");
	expect_error("$TTL 1\na..b A 192.0.2.1\n", ERR_NAME_LABEL, 2, 3, "empty label");
}

static void
test_zonetext_err_include(void **state)
{
	(void)state;
	expect_error("$TTL 1\n$INCLUDE /etc/passwd\n", ERR_SYNTAX, 2, 1, "$INCLUDE is not allowed");
	expect_error("$GENERATE 1-9 h$ A 192.0.2.$\n", ERR_SYNTAX, 1, 1, "$GENERATE");
	expect_error("$FOO bar\n", ERR_SYNTAX, 1, 1, "unknown directive");
}

static void
test_zonetext_err_missing_soa_field(void **state)
{
	(void)state;
	/* minimum missing: reported where the field was expected (the line end) */
	expect_error("$TTL 1\n@ SOA ns1 host (\n 1 2 3\n 4 )\nx A 192.0.2.1\n", ERR_RDATA, 4, 5,
	             "SOA");
}

static void
test_zonetext_err_ttl_overflow(void **state)
{
	(void)state;
	expect_error("$TTL 1\nwww 2147483648 A 192.0.2.1\n", ERR_SYNTAX, 2, 5, "2147483647");
	expect_error("$TTL 1\nwww IN 4294967296 A 192.0.2.1\n", ERR_SYNTAX, 2, 8, "2147483647");
	expect_error("$TTL 68y\n", ERR_SYNTAX, 1, 6, "bad TTL");
	expect_error("$TTL 3551w\n", ERR_SYNTAX, 1, 6, "2147483647");
}

static void
test_zonetext_err_stray_paren(void **state)
{
	(void)state;
	expect_error("$TTL 1\nwww A 192.0.2.1 )\n", ERR_SYNTAX, 2, 17, "')'");
	expect_error("$TTL 1\nwww A ( 192.0.2.1\n", ERR_SYNTAX, 2, 7, "'('");
}

static void
test_zonetext_err_bad_base64_dnskey(void **state)
{
	(void)state;
	expect_error("$TTL 1\n@ DNSKEY 257 3 13 ( AwEAAa\n   bad!base64 )\n", ERR_RDATA, 3, 4,
	             "base64");
}

static void
test_zonetext_err_unknown_class(void **state)
{
	(void)state;
	expect_error("$TTL 1\nwww CH A 192.0.2.1\n", ERR_SYNTAX, 2, 5, "class CH is not supported");
	expect_error("$TTL 1\nwww 60 hs A 192.0.2.1\n", ERR_SYNTAX, 2, 8, "class hs");
}

static void
test_zonetext_err_bad_ttl_directive(void **state)
{
	(void)state;
	expect_error("$TTL 1h30\n", ERR_SYNTAX, 1, 6, "bad TTL '1h30'");
	expect_error("$TTL\n", ERR_SYNTAX, 1, 5, "$TTL needs");
	expect_error("$TTL 60 junk\n", ERR_SYNTAX, 1, 9, "junk");
}

static void
test_zonetext_err_missing_rdata(void **state)
{
	(void)state;
	expect_error("$TTL 1\nwww IN A\n", ERR_RDATA, 2, 9, "missing rdata");
	expect_error("$TTL 1\nwww IN 60\n", ERR_SYNTAX, 2, 10, "missing RR type");
}

static void
test_zonetext_err_junk_after_rdata(void **state)
{
	(void)state;
	expect_error("$TTL 1\nwww A 192.0.2.1 192.0.2.2\n", ERR_RDATA, 2, 17, "extra field");
	expect_error("$TTL 1\nm MX 10 mail.example.com. extra\n", ERR_RDATA, 2, 27, "extra field");
}

/* As BIND: CLASS1 is IN (RFC 3597 §5), a quoted owner is a name, an escaped
 * newline may sit inside quotes but a bare one may not. */
static void
test_zonetext_bind_compatible_forms(void **state)
{
	(void)state;
	struct dns_zt_err e;
	assert_int_equal(parse("$TTL 1\n\"q\" CLASS1 A 192.0.2.1\nt TXT \"a\\\nb\"\n", &g, &e), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.text[0], "q.example.com. 1 IN A 192.0.2.1");
	assert_memory_equal(g.rdata[1], "\3a\nb", 4);
	expect_error("$TTL 1\nt TXT \"a\nb\"\n", ERR_SYNTAX, 2, 7, "end of the line");
	expect_error("$TTL 1\nx IN CLASS1 A 192.0.2.1\n", ERR_SYNTAX, 2, 6, "class given twice");
	expect_error("$TTL 1\n\"\" A 192.0.2.1\n", ERR_NAME_LABEL, 2, 1, "empty owner");
	expect_error("$TTL 1\n\"a..b\" A 192.0.2.1\n", ERR_NAME_LABEL, 2, 4, "empty label");
}

static void
test_zonetext_err_blank_owner_first(void **state)
{
	(void)state;
	expect_error("$TTL 1\n   A 192.0.2.1\n", ERR_SYNTAX, 2, 4, "no owner");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zonetext_basic_records),
		cmocka_unit_test(test_zonetext_escapes_in_names_and_txt),
		cmocka_unit_test(test_zonetext_ttl_from_soa_minimum),
		cmocka_unit_test(test_zonetext_ttl_rfc1035_last_explicit),
		cmocka_unit_test(test_zonetext_no_ttl_before_soa),
		cmocka_unit_test(test_zonetext_bind_warnings),
		cmocka_unit_test(test_zonetext_parse_ttl_units),
		cmocka_unit_test(test_zonetext_print_parses_back),
		cmocka_unit_test(test_zonetext_callback_stops_parse),
		cmocka_unit_test(test_zonetext_empty_and_comments_only),
		cmocka_unit_test(test_zonetext_many_fields),
		cmocka_unit_test(test_zonetext_err_bad_ipv4),
		cmocka_unit_test(test_zonetext_err_unterminated_quote),
		cmocka_unit_test(test_zonetext_err_unknown_type),
		cmocka_unit_test(test_zonetext_err_label_over_63),
		cmocka_unit_test(test_zonetext_err_name_over_255),
		cmocka_unit_test(test_zonetext_err_bad_escape),
		cmocka_unit_test(test_zonetext_err_include),
		cmocka_unit_test(test_zonetext_err_missing_soa_field),
		cmocka_unit_test(test_zonetext_err_ttl_overflow),
		cmocka_unit_test(test_zonetext_err_stray_paren),
		cmocka_unit_test(test_zonetext_err_bad_base64_dnskey),
		cmocka_unit_test(test_zonetext_err_unknown_class),
		cmocka_unit_test(test_zonetext_err_bad_ttl_directive),
		cmocka_unit_test(test_zonetext_err_missing_rdata),
		cmocka_unit_test(test_zonetext_err_junk_after_rdata),
		cmocka_unit_test(test_zonetext_err_blank_owner_first),
		cmocka_unit_test(test_zonetext_bind_compatible_forms),
	};
	return cmocka_run_group_tests_name("zonetext", tests, NULL, NULL);
}
