/*
 * dns/tsig.c: key parsing, request/response signing checked byte for byte
 * against dnspython 2.3 (an independent RFC 8945 implementation), the
 * error answers (BADKEY, BADSIG, BADTIME), truncated MACs and the
 * multi-message rules of §5.3.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dns/msg.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "util/err.h"

static size_t
unhex(const char *h, uint8_t *out)
{
	size_t n = 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned v;
		assert_int_equal(sscanf(h, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/*
 * dnspython 2.3: key test.key. hmac-sha256 secret "secret-secret-secret-secret!";
 * make_query("example.com.", "SOA"), id 0x4d2, flags 0, signed at 1700000000,
 * then make_response() with AA and one SOA, signed at 1700000001.
 */
static const char *dnspy_query =
	"04d200000001000000000001076578616d706c6503636f6d00000600010474657374036b65790000fa00ff0000"
	"0000003d0b686d61632d7368613235360000006553f100012c00201eceaef8acd29bfd2c68997a77b4fe57af2c"
	"739b9f81f011454844e901c06a9204d200000000";
static const char *dnspy_response =
	"04d284000001000100000001076578616d706c6503636f6d0000060001c00c0006000100000e10001d026e73c0"
	"0c0168c00c00000001000000020000000300000004000000050474657374036b65790000fa00ff00000000003d"
	"0b686d61632d7368613235360000006553f101012c0020b3588a826594e174eec7ad7914cd12c74cea15024163"
	"865452a5d337ee85b3ec04d200000000";
#define T0 1700000000u

static struct dns_tsig_key key;

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(dns_tsig_key_parse(&key, "test.key:hmac-sha256:"
	                                    "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==", NULL, 0), 0);
	return 0;
}

/* Strips the TSIG RR from a signed message: returns the unsigned length. */
static size_t
strip_tsig(uint8_t *buf, size_t len)
{
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, len), 0);
	assert_true(m.has_tsig);
	wr_u16(buf + 10, (uint16_t)(rd_u16(buf + 10) - 1));
	return m.tsig.off;
}

static void
test_tsig_key_parse(void **state)
{
	(void)state;
	struct dns_tsig_key k;
	char err[128];
	assert_int_equal(key.alg, DNS_TSIG_HMAC_SHA256);
	assert_memory_equal(key.name, "\4test\3key", 10);
	assert_int_equal(key.secret_len, 28);
	assert_memory_equal(key.secret, "secret-secret-secret-secret!", 28);
	/* dig's ALG:NAME:SECRET order, upper case, trailing dot */
	assert_int_equal(dns_tsig_key_parse(&k, "HMAC-SHA512:Xfr.Key.:YWJj", err, sizeof(err)), 0);
	assert_int_equal(k.alg, DNS_TSIG_HMAC_SHA512);
	assert_memory_equal(k.name, "\3xfr\3key", 9);
	assert_int_equal(k.secret_len, 3);
	assert_int_equal(dns_tsig_key_parse(&k, "k:hmac-md5:YWJj", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "algorithm"));
	assert_int_equal(dns_tsig_key_parse(&k, "k:hmac-sha256:!!!", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "base64"));
	assert_int_equal(dns_tsig_key_parse(&k, "k:hmac-sha256", err, sizeof(err)), -EINVAL);
	assert_int_equal(dns_tsig_key_parse(&k, "k:hmac-sha256:", err, sizeof(err)), -EINVAL);
	assert_int_equal(dns_tsig_key_parse(&k, ":hmac-sha256:YWJj", err, sizeof(err)), -EINVAL);
	assert_int_equal(dns_tsig_key_init(&k, "a.b", "hmac-sha1", (const uint8_t *)"x", 1), 0);
	assert_int_equal(dns_tsig_mac_len(k.alg), 20);
	assert_int_equal(dns_tsig_key_init(&k, "a.b", "hmac-sha3", (const uint8_t *)"x", 1), -EINVAL);
}

static void
test_tsig_sign_request_matches_dnspython(void **state)
{
	(void)state;
	uint8_t ref[512], buf[512];
	size_t rlen = unhex(dnspy_query, ref);
	memcpy(buf, ref, rlen);
	size_t ulen = strip_tsig(buf, rlen);
	struct dns_tsig_ctx c;
	dns_tsig_ctx_init(&c, &key);
	ssize_t n = dns_tsig_sign(&c, buf, ulen, sizeof(buf), T0);
	assert_int_equal(n, (ssize_t)rlen);
	assert_memory_equal(buf, ref, rlen);
	assert_true(n - (ssize_t)ulen <= (ssize_t)dns_tsig_reserve(&key));
	/* and dnspython's signed response verifies against our request */
	uint8_t resp[512];
	size_t rl = unhex(dnspy_response, resp);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, resp, rl), 0);
	assert_int_equal(dns_tsig_verify(&c, &m, T0 + 1), 0);
	assert_int_equal(dns_tsig_verify_done(&c), 0);
	dns_tsig_ctx_clear(&c);
	/* one flipped bit anywhere in the response: BADSIG */
	for (size_t i = 0; i < m.tsig.off; i += 7) {
		resp[i] ^= 0x20;
		dns_tsig_ctx_init(&c, &key);
		memcpy(buf, ref, rlen);
		assert_true(dns_tsig_sign(&c, buf, ulen, sizeof(buf), T0) > 0);
		struct dns_msg m2;
		if (dns_msg_parse(&m2, resp, rl) == 0 && m2.has_tsig)
			assert_int_not_equal(dns_tsig_verify(&c, &m2, T0 + 1), 0);
		dns_tsig_ctx_clear(&c);
		resp[i] ^= 0x20;
	}
}

static void
test_tsig_verify_request_and_sign_response_match_dnspython(void **state)
{
	(void)state;
	uint8_t q[512], ref[512], buf[512];
	size_t qlen = unhex(dnspy_query, q);
	size_t rlen = unhex(dnspy_response, ref);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, q, qlen), 0);
	struct dns_tsig_key keys[2];
	assert_int_equal(dns_tsig_key_parse(&keys[0], "other:hmac-sha256:YWJj", NULL, 0), 0);
	keys[1] = key;
	struct dns_tsig_ctx c;
	dns_tsig_ctx_init(&c, NULL);
	assert_int_equal(dns_tsig_verify_request(&c, &m, keys, 2, T0 + 299), 0);
	assert_ptr_equal(c.key, &keys[1]);
	memcpy(buf, ref, rlen);
	size_t ulen = strip_tsig(buf, rlen);
	assert_int_equal(dns_tsig_sign(&c, buf, ulen, sizeof(buf), T0 + 1), (ssize_t)rlen);
	assert_memory_equal(buf, ref, rlen);
	dns_tsig_ctx_clear(&c);
	/* an unsigned request: 1 */
	uint8_t plain[64];
	ssize_t pl = dns_msg_make_query(plain, sizeof(plain), 1, m.qname, DNS_T_SOA, DNS_C_IN, 0,
	                                NULL);
	struct dns_msg pm;
	assert_int_equal(dns_msg_parse(&pm, plain, (size_t)pl), 0);
	dns_tsig_ctx_init(&c, NULL);
	assert_int_equal(dns_tsig_verify_request(&c, &pm, keys, 2, T0), 1);
	dns_tsig_ctx_clear(&c);
}

/* Builds the unsigned answer to `q` in `buf` with NOTAUTH; returns its length. */
static size_t
notauth(const struct dns_msg *q, uint8_t *buf, size_t cap)
{
	static struct dns_msgw w;
	assert_int_equal(dns_msgw_init_response(&w, buf, cap, q, 0, DNS_RCODE_NOTAUTH), 0);
	return w.len;
}

static void
test_tsig_error_answers(void **state)
{
	(void)state;
	uint8_t q[512], r[512];
	size_t qlen = unhex(dnspy_query, q);
	struct dns_msg m, a;
	struct dns_tsig_ctx s, cl;
	struct dns_tsig_key wrong = key;
	wrong.secret[0] ^= 1;

	/* BADSIG: wrong secret on the server; unsigned answer carrying the error */
	assert_int_equal(dns_msg_parse(&m, q, qlen), 0);
	dns_tsig_ctx_init(&s, NULL);
	assert_int_equal(dns_tsig_verify_request(&s, &m, &wrong, 1, T0), ERR_TSIG_BADSIG);
	size_t n = notauth(&m, r, sizeof(r));
	ssize_t rn = dns_tsig_sign(&s, r, n, sizeof(r), T0);
	assert_true(rn > 0);
	assert_int_equal(dns_msg_parse(&a, r, (size_t)rn), 0);
	assert_true(a.has_tsig);
	assert_int_equal(a.tsig.error, DNS_RCODE_BADSIG);
	assert_int_equal(a.tsig.mac_len, 0);
	assert_int_equal(dns_msg_rcode(&a), DNS_RCODE_NOTAUTH);
	dns_tsig_ctx_clear(&s);
	/* the client sees BADSIG */
	uint8_t cq[512];
	memcpy(cq, q, qlen);
	size_t cul = strip_tsig(cq, qlen);
	dns_tsig_ctx_init(&cl, &key);
	assert_true(dns_tsig_sign(&cl, cq, cul, sizeof(cq), T0) > 0);
	assert_int_equal(dns_tsig_verify(&cl, &a, T0), ERR_TSIG_BADSIG);
	assert_int_equal(dns_tsig_verify_done(&cl), ERR_TSIG_BADSIG);
	dns_tsig_ctx_clear(&cl);

	/* BADKEY: unknown name, echoed unsigned */
	struct dns_tsig_key other;
	assert_int_equal(dns_tsig_key_parse(&other, "other.key:hmac-sha256:YWJj", NULL, 0), 0);
	dns_tsig_ctx_init(&s, NULL);
	assert_int_equal(dns_tsig_verify_request(&s, &m, &other, 1, T0), ERR_TSIG_BADKEY);
	n = notauth(&m, r, sizeof(r));
	rn = dns_tsig_sign(&s, r, n, sizeof(r), T0);
	assert_int_equal(dns_msg_parse(&a, r, (size_t)rn), 0);
	assert_int_equal(a.tsig.error, DNS_RCODE_BADKEY);
	assert_memory_equal(a.tsig.key, "\4test\3key", 10);
	assert_int_equal(a.tsig.mac_len, 0);
	dns_tsig_ctx_clear(&s);
	/* same name, other algorithm: BADKEY too */
	struct dns_tsig_key k512 = key;
	k512.alg = DNS_TSIG_HMAC_SHA512;
	dns_tsig_ctx_init(&s, NULL);
	assert_int_equal(dns_tsig_verify_request(&s, &m, &k512, 1, T0), ERR_TSIG_BADKEY);
	dns_tsig_ctx_clear(&s);

	/* BADTIME: 301 s late; the answer is signed, Time Signed = request's, Other = our time */
	dns_tsig_ctx_init(&s, NULL);
	assert_int_equal(dns_tsig_verify_request(&s, &m, &key, 1, T0 + 301), ERR_TSIG_BADTIME);
	n = notauth(&m, r, sizeof(r));
	rn = dns_tsig_sign(&s, r, n, sizeof(r), T0 + 301);
	assert_int_equal(dns_msg_parse(&a, r, (size_t)rn), 0);
	assert_int_equal(a.tsig.error, DNS_RCODE_BADTIME);
	assert_int_equal(a.tsig.mac_len, 32);
	assert_int_equal(a.tsig.time_signed, T0);
	assert_int_equal(a.tsig.other_len, 6);
	assert_int_equal(rd_u32(a.tsig.other + 2), T0 + 301);
	dns_tsig_ctx_clear(&s);
	/* the client verifies the MAC and reports BADTIME */
	memcpy(cq, q, qlen);
	cul = strip_tsig(cq, qlen);
	dns_tsig_ctx_init(&cl, &key);
	assert_true(dns_tsig_sign(&cl, cq, cul, sizeof(cq), T0) > 0);
	assert_int_equal(dns_tsig_verify(&cl, &a, T0 + 1), ERR_TSIG_BADTIME);
	dns_tsig_ctx_clear(&cl);
	/* early by more than the fudge as well */
	dns_tsig_ctx_init(&s, NULL);
	assert_int_equal(dns_tsig_verify_request(&s, &m, &key, 1, T0 - 301), ERR_TSIG_BADTIME);
	dns_tsig_ctx_clear(&s);
	dns_tsig_ctx_init(&s, NULL);
	assert_int_equal(dns_tsig_verify_request(&s, &m, &key, 1, T0 - 300), 0);
	dns_tsig_ctx_clear(&s);
}

/* Rewrites the MAC of the signed message `buf` to its first `keep` octets. */
static size_t
truncate_mac(uint8_t *buf, size_t len, uint16_t keep)
{
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, buf, len), 0);
	size_t macpos = (size_t)(m.tsig.mac - buf);
	size_t cut = m.tsig.mac_len - keep;
	memmove(buf + macpos + keep, buf + macpos + m.tsig.mac_len, len - macpos - m.tsig.mac_len);
	wr_u16(buf + macpos - 2, keep);
	/* rdlength: after the uncompressed owner and type, class, TTL */
	size_t rdlen_at = m.tsig.off + dns_name_len(m.tsig.key) + 8;
	wr_u16(buf + rdlen_at, (uint16_t)(rd_u16(buf + rdlen_at) - cut));
	return len - cut;
}

static void
test_tsig_truncated_mac(void **state)
{
	(void)state;
	uint8_t q[512], t[512];
	size_t qlen = unhex(dnspy_query, q);
	struct dns_msg m;
	struct dns_tsig_ctx s;
	static const struct {
		uint16_t keep;
		int want;
	} cases[] = {{32, 0}, {16, 0}, {20, 0}, {15, ERR_TSIG_FORMERR}, {10, ERR_TSIG_FORMERR},
	             {0, ERR_TSIG_FORMERR}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(t, q, qlen);
		size_t tl = truncate_mac(t, qlen, cases[i].keep);
		assert_int_equal(dns_msg_parse(&m, t, tl), 0);
		assert_int_equal(m.tsig.mac_len, cases[i].keep);
		dns_tsig_ctx_init(&s, NULL);
		assert_int_equal(dns_tsig_verify_request(&s, &m, &key, 1, T0), cases[i].want);
		dns_tsig_ctx_clear(&s);
	}
	/* a truncated MAC with a wrong octet is BADSIG */
	memcpy(t, q, qlen);
	size_t tl = truncate_mac(t, qlen, 16);
	assert_int_equal(dns_msg_parse(&m, t, tl), 0);
	((uint8_t *)t)[m.tsig.mac - t + 15] ^= 1;
	dns_tsig_ctx_init(&s, NULL);
	assert_int_equal(dns_tsig_verify_request(&s, &m, &key, 1, T0), ERR_TSIG_BADSIG);
	dns_tsig_ctx_clear(&s);
}

/*
 * A transfer: the client signs a request, the server signs message 1 and
 * then signs or skips the following ones according to `plan` ('s' signed,
 * 'u' unsigned); the client verifies each.  Returns the first non-zero
 * verification result (with its index in *at), or verify_done's result.
 */
static int
transfer(const char *plan, size_t *at, int tamper)
{
	static uint8_t msgs[256][128];
	uint8_t req[512];
	uint8_t zone[] = "\7example\3com";
	ssize_t rl = dns_msg_make_query(req, sizeof(req), 7, zone, DNS_T_AXFR, DNS_C_IN, 0, NULL);
	struct dns_tsig_ctx cl, sv;
	dns_tsig_ctx_init(&cl, &key);
	rl = dns_tsig_sign(&cl, req, (size_t)rl, sizeof(req), T0);
	assert_true(rl > 0);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, req, (size_t)rl), 0);
	dns_tsig_ctx_init(&sv, NULL);
	assert_int_equal(dns_tsig_verify_request(&sv, &m, &key, 1, T0), 0);
	size_t n = strlen(plan);
	assert_true(n <= 256);
	int ret = 0;
	*at = n;
	for (size_t i = 0; i < n; i++) {
		/* each message: header, question, one TXT saying its number */
		uint8_t *b = msgs[i];
		ssize_t l = dns_msg_make_query(b, 128, 7, zone, DNS_T_AXFR, DNS_C_IN, DNS_F_QR, NULL);
		uint8_t rr[] = {0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, (uint8_t)i};
		memcpy(b + l, rr, sizeof(rr));
		l += (ssize_t)sizeof(rr);
		wr_u16(b + 6, 1);
		if (plan[i] == 's') {
			l = dns_tsig_sign(&sv, b, (size_t)l, 128, T0 + i);
			assert_true(l > 0);
		} else {
			int sk = dns_tsig_sign_skip(&sv, b, (size_t)l);
			if (sk != 0) {
				ret = ERR_TSIG_BADSIG;   /* the sender refuses the plan */
				*at = i;
				break;
			}
		}
		if (tamper >= 0 && (size_t)tamper == i)
			b[42] ^= 1;   /* the TXT's octet, signed or not */
		struct dns_msg rm;
		assert_int_equal(dns_msg_parse(&rm, b, (size_t)l), 0);
		ret = dns_tsig_verify(&cl, &rm, T0 + i);
		if (ret != 0) {
			*at = i;
			break;
		}
	}
	if (ret == 0)
		ret = dns_tsig_verify_done(&cl);
	dns_tsig_ctx_clear(&cl);
	dns_tsig_ctx_clear(&sv);
	return ret;
}

static void
test_tsig_multi_message(void **state)
{
	(void)state;
	char plan[256];
	size_t at;
	/* all signed */
	assert_int_equal(transfer("sssss", &at, -1), 0);
	/* 99 unsigned between signed ones is fine */
	memset(plan, 'u', sizeof(plan));
	plan[0] = 's';
	plan[100] = 's';
	plan[101] = '\0';
	assert_int_equal(transfer(plan, &at, -1), 0);
	/* unsigned last: verify_done refuses */
	assert_int_equal(transfer("ssu", &at, -1), ERR_TSIG_BADSIG);
	assert_int_equal(at, 3);
	/* the first must be signed */
	assert_int_equal(transfer("us", &at, -1), ERR_TSIG_BADSIG);
	assert_int_equal(at, 0);
	/* 100 unsigned in a row: refused (by our signer, and by the verifier) */
	memset(plan, 'u', sizeof(plan));
	plan[0] = 's';
	plan[101] = 's';
	plan[102] = '\0';
	assert_int_equal(transfer(plan, &at, -1), ERR_TSIG_BADSIG);
	assert_int_equal(at, 100);
	/* a change inside an unsigned message breaks the next signed one */
	assert_int_equal(transfer("suus", &at, 2), ERR_TSIG_BADSIG);
	assert_int_equal(at, 3);
	/* a change inside a signed message later in the stream */
	assert_int_equal(transfer("ssss", &at, 2), ERR_TSIG_BADSIG);
	assert_int_equal(at, 2);
}

static void
test_tsig_verifier_skips_unsigned_from_peer(void **state)
{
	(void)state;
	/* Verifier side of 99 unsigned without our signer's help: craft them by hand. */
	uint8_t req[512], b[128];
	uint8_t zone[] = "\7example\3com";
	struct dns_tsig_ctx cl, sv;
	ssize_t rl = dns_msg_make_query(req, sizeof(req), 9, zone, DNS_T_AXFR, DNS_C_IN, 0, NULL);
	dns_tsig_ctx_init(&cl, &key);
	rl = dns_tsig_sign(&cl, req, (size_t)rl, sizeof(req), T0);
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(&m, req, (size_t)rl), 0);
	dns_tsig_ctx_init(&sv, NULL);
	assert_int_equal(dns_tsig_verify_request(&sv, &m, &key, 1, T0), 0);
	ssize_t l = dns_msg_make_query(b, sizeof(b), 9, zone, DNS_T_AXFR, DNS_C_IN, DNS_F_QR, NULL);
	ssize_t sl = dns_tsig_sign(&sv, b, (size_t)l, sizeof(b), T0);
	assert_int_equal(dns_msg_parse(&m, b, (size_t)sl), 0);
	assert_int_equal(dns_tsig_verify(&cl, &m, T0), 0);
	/* the next 100 unsigned: the 100th is refused */
	l = dns_msg_make_query(b, sizeof(b), 9, zone, DNS_T_AXFR, DNS_C_IN, DNS_F_QR, NULL);
	assert_int_equal(dns_msg_parse(&m, b, (size_t)l), 0);
	for (int i = 0; i < 99; i++)
		assert_int_equal(dns_tsig_verify(&cl, &m, T0), 0);
	assert_int_equal(dns_tsig_verify_done(&cl), ERR_TSIG_BADSIG);
	assert_int_equal(dns_tsig_verify(&cl, &m, T0), ERR_TSIG_BADSIG);
	/* after a failure the ctx accepts nothing */
	assert_int_equal(dns_tsig_verify(&cl, &m, T0), ERR_TSIG_BADSIG);
	dns_tsig_ctx_clear(&cl);
	dns_tsig_ctx_clear(&sv);
}

static void
test_tsig_sign_space(void **state)
{
	(void)state;
	uint8_t b[64];
	uint8_t zone[] = "\7example\3com";
	struct dns_tsig_ctx c;
	ssize_t l = dns_msg_make_query(b, sizeof(b), 1, zone, DNS_T_SOA, DNS_C_IN, 0, NULL);
	uint8_t copy[64];
	memcpy(copy, b, sizeof(b));
	dns_tsig_ctx_init(&c, &key);
	assert_int_equal(dns_tsig_sign(&c, b, (size_t)l, sizeof(b), T0), -EMSGSIZE);
	assert_memory_equal(b, copy, sizeof(b));
	assert_int_equal(dns_tsig_sign(&c, b, 5, sizeof(b), T0), ERR_FORMERR);
	dns_tsig_ctx_clear(&c);
	struct dns_tsig_ctx none;
	dns_tsig_ctx_init(&none, NULL);
	assert_int_equal(dns_tsig_sign(&none, b, (size_t)l, sizeof(b), T0), -EINVAL);
	dns_tsig_ctx_clear(&none);
}

/* --tsig-file text: one key line, comments and blanks skipped, the secret never quoted. */
static void
test_tsig_key_parse_text(void **state)
{
	(void)state;
	struct dns_tsig_key k, ref;
	char err[200];
	const char *sec = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
	assert_int_equal(dns_tsig_key_parse(&ref, "pop-tokyo.:hmac-sha256:"
	                                    "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=", NULL, 0), 0);
	const char *ok = "# POP tokyo\r\n\n  pop-tokyo.:hmac-sha256:"
	                 "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ= \r\n";
	assert_int_equal(dns_tsig_key_parse_text(&k, ok, strlen(ok), err, sizeof(err)), 0);
	assert_memory_equal(&k, &ref, sizeof(k));
	/* not NUL-terminated: only `len` bytes are read */
	char nonul[80];
	int n = snprintf(nonul, sizeof(nonul), "pop-tokyo.:hmac-sha256:%s", sec);
	nonul[n] = 'X';
	assert_int_equal(dns_tsig_key_parse_text(&k, nonul, (size_t)n, err, sizeof(err)), 0);
	const char *none = "# nothing\n\n";
	assert_int_equal(dns_tsig_key_parse_text(&k, none, strlen(none), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no key"));
	const char *two = "a.:hmac-sha256:c2VjcmV0\nb.:hmac-sha256:c2VjcmV0\n";
	assert_int_equal(dns_tsig_key_parse_text(&k, two, strlen(two), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than one"));
	const char *bad = "k.:hmac-sha999:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=\n";
	assert_int_equal(dns_tsig_key_parse_text(&k, bad, strlen(bad), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "algorithm"));
	assert_null(strstr(err, "c2Vj"));
	const char nul[] = "k.:hmac-sha256:c2Vj\0cmV0\n";
	assert_int_equal(dns_tsig_key_parse_text(&k, nul, sizeof(nul) - 1, err, sizeof(err)), -EINVAL);
	static char big[DNS_TSIG_TEXT_MAX + 2];
	memset(big, '#', sizeof(big));
	assert_int_equal(dns_tsig_key_parse_text(&k, big, sizeof(big), err, sizeof(err)), -EMSGSIZE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tsig_key_parse),
		cmocka_unit_test(test_tsig_sign_request_matches_dnspython),
		cmocka_unit_test(test_tsig_verify_request_and_sign_response_match_dnspython),
		cmocka_unit_test(test_tsig_error_answers),
		cmocka_unit_test(test_tsig_truncated_mac),
		cmocka_unit_test(test_tsig_multi_message),
		cmocka_unit_test(test_tsig_verifier_skips_unsigned_from_peer),
		cmocka_unit_test(test_tsig_sign_space),
		cmocka_unit_test(test_tsig_key_parse_text),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
