/*
 * dns/dnssec.c against the RFCs' own vectors: RFC 6605 §6.1 (P-256 private
 * key, DNSKEY, DS, and the signed A record, whose signature must verify),
 * RFC 6605 §6.2 (the P-384 DS, a SHA-384 digest vector), RFC 8080 §6.1
 * (Ed25519 key, DNSKEY, DS, and the MX signature: Ed25519 is deterministic,
 * so ours must equal it byte for byte; the RFC's printed signature is wrong,
 * errata 4935 gives the right one), RFC 5155 Appendix A (NSEC3 hashes, salt
 * aabbccdd, 12 iterations) and RFC 4034 §4.3 (an NSEC type bitmap).  Also:
 * canonical form (case, order, duplicates), wildcards, key round trips, and
 * that a flipped bit fails verification.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "dns/dnssec.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "util/base.h"
#include "util/err.h"

static size_t
b64(const char *s, uint8_t *out, size_t cap)
{
	int n = base64_decode(s, strlen(s), out, cap);
	assert_true(n >= 0);
	return (size_t)n;
}

static size_t
name(const char *s, uint8_t *out)
{
	int n = dns_name_from_text(s, strlen(s), NULL, out);
	assert_true(n > 0);
	return (size_t)n;
}

static size_t
rdata(uint16_t type, const char *s, uint8_t *out, size_t cap)
{
	char err[160];
	int n = dns_rdata_from_str(type, s, strlen(s), dns_root_name, out, cap, err, sizeof(err));
	if (n < 0)
		fail_msg("%s: %s", s, err);
	return (size_t)n;
}

static void
assert_rdata_text(uint16_t type, const uint8_t *rd, size_t len, const char *want)
{
	/* BIND splits long hex fields; compare without the split */
	char buf[1024], *w = buf;
	assert_true(dns_rdata_to_text(type, rd, len, buf, sizeof(buf)) > 0);
	if (type == DNS_T_DS) {
		unsigned spaces = 0;
		for (const char *r = buf; *r; r++) {
			if (*r != ' ' || ++spaces <= 3)
				*w++ = *r;
		}
		*w = '\0';
	}
	assert_string_equal(buf, want);
}

/* RFC 6605 §6.1 */
#define P256_PRIV "GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ="
#define P256_DNSKEY "257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+" \
                    "MAnLr+Wi9xMWyQLc8NAA=="
#define P256_DS "55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"
#define P256_RRSIG "A 13 3 3600 20100909100439 20100812100439 55648 example.net. " \
                   "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus" \
                   "7ZwmwWep666VCw=="
/* RFC 8080 §6.1, signature from errata 4935 */
#define ED_PRIV "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI="
#define ED_DNSKEY "257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4="
#define ED_DS "3613 15 2 3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B"
#define ED_RRSIG "MX 15 2 3600 1440021600 1438207200 3613 example.com. " \
                 "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9Vrbp" \
                 "MngwcrqNAg=="

static struct dns_dnssec_key *
rfc6605_key(void)
{
	uint8_t priv[32], dk[DNS_DNSSEC_DNSKEY_MAX];
	assert_int_equal(b64(P256_PRIV, priv, sizeof(priv)), 32);
	assert_int_equal(rdata(DNS_T_DNSKEY, P256_DNSKEY, dk, sizeof(dk)), 68);
	struct dns_dnssec_key *k;
	assert_int_equal(dns_dnssec_key_from_raw(13, 257, priv, 32, dk + 4, 64, &k), 0);
	return k;
}

static void
test_dnssec_rfc6605_key_tag_ds(void **state)
{
	(void)state;
	uint8_t dk[DNS_DNSSEC_DNSKEY_MAX], owner[DNS_NAME_MAX], ds[DNS_DNSSEC_DS_MAX];
	size_t dl = rdata(DNS_T_DNSKEY, P256_DNSKEY, dk, sizeof(dk));
	name("example.net.", owner);
	assert_int_equal(dns_dnssec_keytag(dk, dl), 55648);
	int n = dns_dnssec_ds(owner, dk, dl, DNS_DNSSEC_DS_SHA256, ds, sizeof(ds));
	assert_int_equal(n, 36);
	assert_rdata_text(DNS_T_DS, ds, (size_t)n, P256_DS);
	/* the owner is hashed in canonical (lowercase) form */
	name("EXAMPLE.Net.", owner);
	n = dns_dnssec_ds(owner, dk, dl, DNS_DNSSEC_DS_SHA256, ds, sizeof(ds));
	assert_rdata_text(DNS_T_DS, ds, (size_t)n, P256_DS);
	assert_int_equal(dns_dnssec_ds(owner, dk, dl, 1, ds, sizeof(ds)), -ENOTSUP);
	assert_int_equal(dns_dnssec_ds(owner, dk, dl, 2, ds, 35), -ENOSPC);

	/* the key made from the RFC's private key has the RFC's DNSKEY */
	struct dns_dnssec_key *k = rfc6605_key();
	size_t kl;
	const uint8_t *kd = dns_dnssec_key_dnskey(k, &kl);
	assert_int_equal(kl, dl);
	assert_memory_equal(kd, dk, dl);
	assert_int_equal(dns_dnssec_key_tag(k), 55648);
	assert_int_equal(dns_dnssec_key_alg(k), 13);
	assert_int_equal(dns_dnssec_key_flags(k), 257);
	uint8_t raw[32], priv[32];
	b64(P256_PRIV, priv, sizeof(priv));
	assert_int_equal(dns_dnssec_key_to_raw(k, raw, sizeof(raw)), 32);
	assert_memory_equal(raw, priv, 32);
	dns_dnssec_key_free(k);

	/* a public key that does not belong to the private one is refused */
	dk[40] ^= 1;
	assert_int_not_equal(dns_dnssec_key_from_raw(13, 257, priv, 32, dk + 4, 64, &k), 0);
	assert_null(k);
}

static void
test_dnssec_rfc6605_p384_ds_sha384(void **state)
{
	(void)state;
	uint8_t dk[200], owner[DNS_NAME_MAX], ds[DNS_DNSSEC_DS_MAX];
	size_t dl = rdata(DNS_T_DNSKEY, "257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSA"
	                  "DtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
	                  dk, sizeof(dk));
	name("example.net.", owner);
	assert_int_equal(dns_dnssec_keytag(dk, dl), 10771);
	int n = dns_dnssec_ds(owner, dk, dl, DNS_DNSSEC_DS_SHA384, ds, sizeof(ds));
	assert_int_equal(n, 52);
	assert_rdata_text(DNS_T_DS, ds, (size_t)n,
	                  "10771 14 4 72D7B62976CE06438E9C0BF319013CF801F09ECC84B8D7E9495F27E305C6A9B0"
	                  "563A9B5F4D288405C3008A946DF983D6");
	/* algorithm 14 is not one we sign or verify with */
	struct dns_dnssec_key *k;
	assert_int_equal(dns_dnssec_key_from_dnskey(dk, dl, &k), -ENOTSUP);
}

static void
test_dnssec_rfc6605_signature(void **state)
{
	(void)state;
	uint8_t owner[DNS_NAME_MAX], zone[DNS_NAME_MAX], a[4], sig[DNS_DNSSEC_RRSIG_MAX];
	uint8_t dk[DNS_DNSSEC_DNSKEY_MAX];
	name("www.example.net.", owner);
	name("example.net.", zone);
	size_t al = rdata(DNS_T_A, "192.0.2.1", a, sizeof(a));
	size_t sl = rdata(DNS_T_RRSIG, P256_RRSIG, sig, sizeof(sig));
	size_t dl = rdata(DNS_T_DNSKEY, P256_DNSKEY, dk, sizeof(dk));
	const uint8_t *rds[] = {a};
	uint16_t lens[] = {(uint16_t)al};
	struct dns_dnssec_rrset rs = {owner, DNS_T_A, DNS_C_IN, 3600, 1, rds, lens};
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	struct dns_dnssec_key *pub, *k = rfc6605_key();
	assert_int_equal(dns_dnssec_key_from_dnskey(dk, dl, &pub), 0);
	assert_false(dns_dnssec_key_has_private(pub));
	uint32_t now = 1283000000;   /* inside 20100812100439..20100909100439 */

	/* the RFC's signature verifies with the RFC's key */
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, sl, now), 0);
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &rs, sig, sl, now), 0);
	/* outside its validity period it does not */
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, sl, 1281607478), -ERANGE);
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, sl, 1284026680), -ERANGE);
	/* one flipped bit of the signature, or of the data, and it fails */
	sig[sl - 7] ^= 0x10;
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, sl, now), -EBADMSG);
	sig[sl - 7] ^= 0x10;
	a[3] ^= 1;
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, sl, now), -EBADMSG);
	a[3] ^= 1;
	/* another type, or a key with another tag, is rejected before any crypto */
	rs.type = DNS_T_AAAA;
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, sl, now), -EKEYREJECTED);
	rs.type = DNS_T_A;
	assert_int_equal(dns_dnssec_verify(cx, pub, owner, &rs, sig, sl, now), -EKEYREJECTED);
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, 18, now), ERR_RDATA);

	/* ECDSA is randomised: our own signature differs from the RFC's but verifies */
	uint8_t mine[DNS_DNSSEC_RRSIG_MAX];
	int ml = dns_dnssec_sign(cx, k, zone, &rs, 1281607479, 1284026679, mine, sizeof(mine));
	assert_int_equal(ml, (int)sl);
	assert_memory_equal(mine, sig, sl - 64);   /* every field but the signature */
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, mine, (size_t)ml, now), 0);
	mine[ml - 1] ^= 1;
	assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, mine, (size_t)ml, now), -EBADMSG);
	/* a public-only key cannot sign */
	assert_int_equal(dns_dnssec_sign(cx, pub, zone, &rs, 1, 2, mine, sizeof(mine)), -EINVAL);
	assert_int_equal(dns_dnssec_sign(cx, k, zone, &rs, 1, 2, mine, 50), -ENOSPC);
	dns_dnssec_key_free(k);
	dns_dnssec_key_free(pub);
	dns_dnssec_ctx_free(cx);
}

static void
test_dnssec_rfc8080_ed25519_byte_for_byte(void **state)
{
	(void)state;
	uint8_t priv[32], dk[DNS_DNSSEC_DNSKEY_MAX], zone[DNS_NAME_MAX], mx[64], want[200];
	uint8_t sig[DNS_DNSSEC_RRSIG_MAX], ds[DNS_DNSSEC_DS_MAX];
	b64(ED_PRIV, priv, sizeof(priv));
	size_t dl = rdata(DNS_T_DNSKEY, ED_DNSKEY, dk, sizeof(dk));
	name("example.com.", zone);
	size_t ml = rdata(DNS_T_MX, "10 mail.example.com.", mx, sizeof(mx));
	size_t wl = rdata(DNS_T_RRSIG, ED_RRSIG, want, sizeof(want));
	struct dns_dnssec_key *k, *k2;
	/* Ed25519 derives the public key from the seed */
	assert_int_equal(dns_dnssec_key_from_raw(15, 257, priv, 32, NULL, 0, &k), 0);
	size_t kl;
	const uint8_t *kd = dns_dnssec_key_dnskey(k, &kl);
	assert_int_equal(kl, dl);
	assert_memory_equal(kd, dk, dl);
	assert_int_equal(dns_dnssec_key_tag(k), 3613);
	int n = dns_dnssec_ds(zone, kd, kl, DNS_DNSSEC_DS_SHA256, ds, sizeof(ds));
	assert_rdata_text(DNS_T_DS, ds, (size_t)n, ED_DS);
	assert_int_equal(dns_dnssec_key_from_raw(15, 257, priv, 32, dk + 4, 32, &k2), 0);
	dns_dnssec_key_free(k2);

	const uint8_t *rds[] = {mx};
	uint16_t lens[] = {(uint16_t)ml};
	struct dns_dnssec_rrset rs = {zone, DNS_T_MX, DNS_C_IN, 3600, 1, rds, lens};
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	int sl = dns_dnssec_sign(cx, k, zone, &rs, 1438207200, 1440021600, sig, sizeof(sig));
	assert_int_equal(sl, (int)wl);
	assert_memory_equal(sig, want, wl);
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &rs, want, wl, 1439000000), 0);
	want[wl - 30] ^= 0x80;
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &rs, want, wl, 1439000000), -EBADMSG);
	dns_dnssec_key_free(k);
	dns_dnssec_ctx_free(cx);
}

/* Case, order and duplicates of the rdata do not change what is signed. */
static void
test_dnssec_canonical_form(void **state)
{
	(void)state;
	uint8_t priv[32], zone[DNS_NAME_MAX], o1[DNS_NAME_MAX], o2[DNS_NAME_MAX];
	uint8_t r[4][64], s1[DNS_DNSSEC_RRSIG_MAX], s2[DNS_DNSSEC_RRSIG_MAX];
	b64(ED_PRIV, priv, sizeof(priv));
	struct dns_dnssec_key *k;
	assert_int_equal(dns_dnssec_key_from_raw(15, 256, priv, 32, NULL, 0, &k), 0);
	name("Example.COM.", zone);
	name("Sub.EXAMPLE.com.", o1);
	name("sub.example.com.", o2);
	uint16_t l[4];
	l[0] = (uint16_t)rdata(DNS_T_NS, "NS2.Example.NET.", r[0], 64);
	l[1] = (uint16_t)rdata(DNS_T_NS, "ns1.example.net.", r[1], 64);
	l[2] = (uint16_t)rdata(DNS_T_NS, "ns2.example.net.", r[2], 64);
	l[3] = (uint16_t)rdata(DNS_T_NS, "a.b.", r[3], 64);
	const uint8_t *messy[] = {r[0], r[1], r[2], r[3], r[1]};
	uint16_t ml[] = {l[0], l[1], l[2], l[3], l[1]};
	const uint8_t *clean[] = {r[3], r[1], r[2]};
	uint16_t cl[] = {l[3], l[1], l[2]};
	struct dns_dnssec_rrset a = {o1, DNS_T_NS, DNS_C_IN, 300, 5, messy, ml};
	struct dns_dnssec_rrset b = {o2, DNS_T_NS, DNS_C_IN, 300, 3, clean, cl};
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	int n1 = dns_dnssec_sign(cx, k, zone, &a, 100, 200, s1, sizeof(s1));
	int n2 = dns_dnssec_sign(cx, k, zone, &b, 100, 200, s2, sizeof(s2));
	assert_true(n1 > 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(s1, s2, (size_t)n1);
	/* the signer name is written lowercased */
	assert_memory_equal(s1 + 18, "\007example\003com", 13);
	assert_int_equal(s1[3], 3);
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &b, s1, (size_t)n1, 150), 0);
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &a, s2, (size_t)n2, 150), 0);
	/* a different TTL in the rrset does not matter: the Original TTL is used */
	b.ttl = 7;
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &b, s1, (size_t)n1, 150), 0);
	/* but a missing record does */
	b.n = 2;
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &b, s1, (size_t)n1, 150), -EBADMSG);
	/* serial arithmetic on the times (RFC 4034 §3.1.5): wraps past 2^32 */
	b.n = 3;
	n1 = dns_dnssec_sign(cx, k, zone, &b, 0xFFFFFF00u, 0x100, s1, sizeof(s1));
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &b, s1, (size_t)n1, 5), 0);
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &b, s1, (size_t)n1, 0x101), -ERANGE);
	dns_dnssec_key_free(k);
	dns_dnssec_ctx_free(cx);
}

/* RFC 4034 §3.1.3: "*" is not counted; an expansion verifies by its labels. */
static void
test_dnssec_wildcard(void **state)
{
	(void)state;
	struct dns_dnssec_key *k;
	assert_int_equal(dns_dnssec_key_generate(13, 256, &k), 0);
	uint8_t zone[DNS_NAME_MAX], wild[DNS_NAME_MAX], exp[DNS_NAME_MAX], a[4];
	uint8_t sig[DNS_DNSSEC_RRSIG_MAX];
	name("example.", zone);
	name("*.w.example.", wild);
	name("x.y.W.example.", exp);
	size_t al = rdata(DNS_T_A, "192.0.2.7", a, sizeof(a));
	const uint8_t *rds[] = {a};
	uint16_t lens[] = {(uint16_t)al};
	struct dns_dnssec_rrset rs = {wild, DNS_T_A, DNS_C_IN, 60, 1, rds, lens};
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	int n = dns_dnssec_sign(cx, k, zone, &rs, 10, 20, sig, sizeof(sig));
	assert_true(n > 0);
	assert_int_equal(sig[3], 2);
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &rs, sig, (size_t)n, 15), 0);
	rs.owner = exp;
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &rs, sig, (size_t)n, 15), 0);
	/* an owner with fewer labels than the RRSIG says cannot be its source */
	rs.owner = zone;
	assert_int_equal(dns_dnssec_verify(cx, k, zone, &rs, sig, (size_t)n, 15), -EKEYREJECTED);
	/* owner outside the signer's zone */
	name("w.example.org.", exp);
	rs.owner = exp;
	assert_int_equal(dns_dnssec_sign(cx, k, zone, &rs, 10, 20, sig, sizeof(sig)), -EINVAL);
	dns_dnssec_key_free(k);
	dns_dnssec_ctx_free(cx);
}

/* Generated keys: PEM and raw round trips, signatures verify with the DNSKEY alone. */
static void
test_dnssec_generate_round_trip(void **state)
{
	(void)state;
	static const uint8_t algs[] = {13, 15};
	uint8_t zone[DNS_NAME_MAX], txt[300], sig[DNS_DNSSEC_RRSIG_MAX];
	name("example.org.", zone);
	size_t tl = rdata(DNS_T_TXT, "\"hello\"", txt, sizeof(txt));
	const uint8_t *rds[] = {txt};
	uint16_t lens[] = {(uint16_t)tl};
	struct dns_dnssec_rrset rs = {zone, DNS_T_TXT, DNS_C_IN, 60, 1, rds, lens};
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	for (size_t i = 0; i < sizeof(algs); i++) {
		struct dns_dnssec_key *k, *k2, *k3, *pub;
		assert_int_equal(dns_dnssec_key_generate(algs[i], 257, &k), 0);
		char pem[1024];
		int pl = dns_dnssec_key_to_pem(k, pem, sizeof(pem));
		assert_true(pl > 0);
		assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
		assert_int_equal(dns_dnssec_key_to_pem(k, pem + 512, 20), -ENOSPC);
		assert_int_equal(dns_dnssec_key_from_pem(pem, (size_t)pl, 256, &k2), 0);
		uint8_t raw[32];
		assert_int_equal(dns_dnssec_key_to_raw(k, raw, sizeof(raw)), 32);
		size_t l1, l2;
		const uint8_t *d1 = dns_dnssec_key_dnskey(k, &l1);
		const uint8_t *d2 = dns_dnssec_key_dnskey(k2, &l2);
		assert_int_equal(l1, algs[i] == 13 ? 68 : 36);
		assert_int_equal(l1, l2);
		/* same key, other flags */
		assert_int_equal(d1[1], 1);
		assert_int_equal(d2[1], 0);
		assert_memory_equal(d1 + 2, d2 + 2, l1 - 2);
		assert_int_equal(dns_dnssec_key_from_raw(algs[i], 257, raw, 32, d1 + 4, l1 - 4, &k3), 0);
		size_t l3;
		assert_memory_equal(dns_dnssec_key_dnskey(k3, &l3), d1, l1);
		assert_int_equal(dns_dnssec_key_from_dnskey(d1, l1, &pub), 0);
		assert_int_equal(dns_dnssec_key_tag(pub), dns_dnssec_keytag(d1, l1));
		int n = dns_dnssec_sign(cx, k3, zone, &rs, 1, 0x7fffffff, sig, sizeof(sig));
		assert_true(n > 0);
		assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, (size_t)n, 1000), 0);
		n = dns_dnssec_sign(cx, k2, zone, &rs, 1, 0x7fffffff, sig, sizeof(sig));
		/* k2 has another tag (flags differ): only a key with its tag verifies */
		assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, (size_t)n, 1000),
		                 -EKEYREJECTED);
		dns_dnssec_key_free(k);
		dns_dnssec_key_free(k2);
		dns_dnssec_key_free(k3);
		dns_dnssec_key_free(pub);
	}
	struct dns_dnssec_key *k = NULL;
	assert_int_equal(dns_dnssec_key_generate(8, 257, &k), -ENOTSUP);
	assert_int_equal(dns_dnssec_key_generate(13, 1, &k), -EINVAL);
	assert_int_equal(dns_dnssec_key_from_pem("garbage", 7, 257, &k), -EINVAL);
	assert_null(k);
	dns_dnssec_key_free(NULL);
	dns_dnssec_ctx_free(cx);
}

/* r||s out of GnuTLS's DER without allocating: the same integers GnuTLS's
 * own decoder reads for every shape an r or s takes (a sign octet, a short
 * integer, both), and nothing out of malformed DER. */
static void
test_dnssec_der_rs(void **state)
{
	(void)state;
	uint8_t r[32], s[32], out[64], der[80];
	for (int shape = 0; shape < 4; shape++) {
		memset(r, 0x11, sizeof(r));
		memset(s, 0x22, sizeof(s));
		if (shape & 1)
			r[0] = 0x80;                 /* DER needs a 0x00 sign octet: 33 octets */
		if (shape & 2) {
			memset(s, 0, 3);             /* leading zeros dropped: 29 octets */
			s[3] = 0x7f;
		}
		gnutls_datum_t dr = {r, 32}, ds = {s, 32}, enc = {NULL, 0};
		assert_int_equal(gnutls_encode_rs_value(&enc, &dr, &ds), 0);
		assert_int_equal(dns_dnssec_der_rs(enc.data, enc.size, out, 32), 0);
		assert_memory_equal(out, r, 32);
		assert_memory_equal(out + 32, s, 32);
		assert_true(enc.size <= sizeof(der));
		size_t n = enc.size;
		memcpy(der, enc.data, n);
		gnutls_free(enc.data);
		/* malformed: truncated, trailing octet, wrong tags, negative, too long */
		assert_int_equal(dns_dnssec_der_rs(der, n - 1, out, 32), -EIO);
		der[n] = 0;
		assert_int_equal(dns_dnssec_der_rs(der, n + 1, out, 32), -EIO);
		der[1]++;
		assert_int_equal(dns_dnssec_der_rs(der, n + 1, out, 32), -EIO);   /* r, s, then junk */
		der[1]--;
		der[0] = 0x31;
		assert_int_equal(dns_dnssec_der_rs(der, n, out, 32), -EIO);
		der[0] = 0x30;
		der[2] = 0x04;
		assert_int_equal(dns_dnssec_der_rs(der, n, out, 32), -EIO);
		der[2] = 0x02;
		uint8_t keep = der[4];
		der[4] = 0x80;
		assert_int_equal(dns_dnssec_der_rs(der, n, out, 32), -EIO);     /* negative r */
		der[4] = keep;
		assert_int_equal(dns_dnssec_der_rs(der, n, out, 16), -EIO);     /* wider than w */
		assert_int_equal(dns_dnssec_der_rs(der, n, out, 32), 0);
	}
	static const uint8_t empty_int[] = {0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01};
	static const uint8_t long_len[] = {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
	static const uint8_t int_past[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x05, 0x01};
	assert_int_equal(dns_dnssec_der_rs(empty_int, sizeof(empty_int), out, 32), -EIO);
	assert_int_equal(dns_dnssec_der_rs(long_len, sizeof(long_len), out, 32), -EIO);
	assert_int_equal(dns_dnssec_der_rs(int_past, sizeof(int_past), out, 32), -EIO);
	assert_int_equal(dns_dnssec_der_rs(NULL, 0, out, 32), -EIO);
	/* and signing through it: 1,000 P-256 signatures (about 8 with a short
	 * r or s, half of them with a sign octet), each one verifies */
	uint8_t zone[DNS_NAME_MAX], txt[300], sig[DNS_DNSSEC_RRSIG_MAX];
	name("example.org.", zone);
	size_t tl = rdata(DNS_T_TXT, "\"hello\"", txt, sizeof(txt));
	const uint8_t *rds[] = {txt};
	uint16_t lens[] = {(uint16_t)tl};
	struct dns_dnssec_rrset rs = {zone, DNS_T_TXT, DNS_C_IN, 60, 1, rds, lens};
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	struct dns_dnssec_key *k, *pub;
	assert_int_equal(dns_dnssec_key_generate(13, 256, &k), 0);
	size_t dl;
	const uint8_t *dk = dns_dnssec_key_dnskey(k, &dl);
	assert_int_equal(dns_dnssec_key_from_dnskey(dk, dl, &pub), 0);
	for (uint32_t i = 0; i < 1000; i++) {
		int n = dns_dnssec_sign(cx, k, zone, &rs, i, 0x7fffffff, sig, sizeof(sig));
		assert_int_equal(n, 18 + 13 + 64);
		assert_int_equal(dns_dnssec_verify(cx, pub, zone, &rs, sig, (size_t)n, 1000), 0);
	}
	dns_dnssec_key_free(k);
	dns_dnssec_key_free(pub);
	dns_dnssec_ctx_free(cx);
}

/* PKCS#8 PEM made elsewhere: a P-256 key from `openssl genpkey` (public key
 * from `openssl pkey -pubout`), and RFC 8080's Ed25519 seed wrapped as RFC
 * 8410 PKCS#8 (then the RFC's DNSKEY must come out). */
static void
test_dnssec_pem_import(void **state)
{
	(void)state;
	static const char p256[] =
		"-----BEGIN PRIVATE KEY-----\n"
		"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIMeh9OMGSPO754vE\n"
		"mi3E/+fzfRUjOMyhNwQH79jBaRqhRANCAARAbL0kfLQg70hFQuaMtrpceFWpbUF5\n"
		"hDFDvWjGCB0Jfzxu3LsmaIwA5bLyILgsxC1JM6gaGeaFpq00Z+MIzznN\n"
		"-----END PRIVATE KEY-----\n";
	static const char ed[] =
		"-----BEGIN PRIVATE KEY-----\n"
		"MC4CAQAwBQYDK2VwBCIEIDgyMjYwMzg0NjI4MDgwMTIyNjQ1MTkwMjA0MTQyMjYy\n"
		"-----END PRIVATE KEY-----\n";
	uint8_t pub[64], dk[DNS_DNSSEC_DNSKEY_MAX];
	b64("QGy9JHy0IO9IRULmjLa6XHhVqW1BeYQxQ71oxggdCX88bty7JmiMAOWy8iC4LMQtSTOoGhnmhaatNGfjCM85zQ==",
	    pub, sizeof(pub));
	struct dns_dnssec_key *k;
	size_t kl;
	assert_int_equal(dns_dnssec_key_from_pem(p256, strlen(p256), 256, &k), 0);
	const uint8_t *kd = dns_dnssec_key_dnskey(k, &kl);
	assert_int_equal(kl, 68);
	assert_memory_equal(kd, "\x01\x00\x03\x0d", 4);
	assert_memory_equal(kd + 4, pub, 64);
	dns_dnssec_key_free(k);
	size_t dl = rdata(DNS_T_DNSKEY, ED_DNSKEY, dk, sizeof(dk));
	assert_int_equal(dns_dnssec_key_from_pem(ed, strlen(ed), 257, &k), 0);
	kd = dns_dnssec_key_dnskey(k, &kl);
	assert_int_equal(kl, dl);
	assert_memory_equal(kd, dk, dl);
	char pem[512];
	assert_true(dns_dnssec_key_to_pem(k, pem, sizeof(pem)) > 0);
	assert_string_equal(pem, ed);
	dns_dnssec_key_free(k);
}

/* RFC 5155 Appendix A: salt aabbccdd, 12 iterations. */
static void
test_dnssec_nsec3_hash_rfc5155(void **state)
{
	(void)state;
	static const struct {
		const char *name, *hash;
	} v[] = {
		{"example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
		{"a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
		{"ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"},
		{"ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"},
		{"ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r"},
		{"w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
		{"*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
		{"x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"},
		{"y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"},
		{"x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"},
		{"xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"},
		{"XX.Example.", "t644ebqk9bibcna874givr6joj62mlhv"},
	};
	static const uint8_t salt[] = {0xaa, 0xbb, 0xcc, 0xdd};
	uint8_t zone[DNS_NAME_MAX];
	name("example.", zone);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t n[DNS_NAME_MAX], h[20], owner[DNS_NAME_MAX];
		char text[64], want[64];
		name(v[i].name, n);
		assert_int_equal(dns_dnssec_nsec3_hash(n, salt, 4, 12, h), 0);
		assert_int_equal(base32hex_encode(h, 20, text, sizeof(text)), 32);
		for (char *p = text; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		assert_string_equal(text, v[i].hash);
		int ol = dns_dnssec_nsec3_owner(n, zone, salt, 4, 12, owner);
		assert_int_equal(ol, 1 + 32 + 9);
		char otext[DNS_NAME_TEXT_MAX];
		dns_name_to_text(owner, otext, sizeof(otext));
		snprintf(want, sizeof(want), "%s.example.", v[i].hash);
		assert_string_equal(otext, want);
	}
	/* RFC 9276: 0 iterations, empty salt (checked against ldns-nsec3-hash) */
	uint8_t n[DNS_NAME_MAX], owner[DNS_NAME_MAX];
	char otext[DNS_NAME_TEXT_MAX];
	name("example.com.", n);
	assert_true(dns_dnssec_nsec3_owner(n, n, NULL, 0, 0, owner) > 0);
	dns_name_to_text(owner, otext, sizeof(otext));
	assert_string_equal(otext, "onib9mgub9h0rml3cdf5bgrj59dkjhvk.example.com.");

	/* NSEC3PARAM and NSEC3 rdata read back as the presentation form says */
	uint8_t rd[300], bm[64], next[20];
	int pl = dns_dnssec_nsec3param(0, 12, salt, 4, rd, sizeof(rd));
	assert_rdata_text(DNS_T_NSEC3PARAM, rd, (size_t)pl, "1 0 12 AABBCCDD");
	pl = dns_dnssec_nsec3param(0, 0, NULL, 0, rd, sizeof(rd));
	assert_rdata_text(DNS_T_NSEC3PARAM, rd, (size_t)pl, "1 0 0 -");
	assert_int_equal(dns_dnssec_nsec3param(0, 0, NULL, 0, rd, 4), -ENOSPC);
	uint16_t types[] = {DNS_T_MX, DNS_T_DNSKEY, DNS_T_NS, DNS_T_SOA, DNS_T_NSEC3PARAM,
	                    DNS_T_RRSIG};
	int bl = dns_dnssec_bitmap_encode(types, 6, bm, sizeof(bm));
	name("ns1.example.", n);
	dns_dnssec_nsec3_hash(n, salt, 4, 12, next);
	pl = dns_dnssec_nsec3_rdata(1, 12, salt, 4, next, bm, (size_t)bl, rd, sizeof(rd));
	assert_rdata_text(DNS_T_NSEC3, rd, (size_t)pl, "1 1 12 AABBCCDD "
	                  "2T7B4G4VSA5SMI47K61MV5BV1A22BOJR NS SOA MX RRSIG DNSKEY NSEC3PARAM");
}

/* RFC 4034 §4.3: "host.example.com. A MX RRSIG NSEC TYPE1234". */
static void
test_dnssec_bitmap(void **state)
{
	(void)state;
	static const uint8_t want[] = {
		0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03,
		0x04, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x20};
	uint16_t in[] = {1234, DNS_T_NSEC, DNS_T_A, DNS_T_MX, DNS_T_RRSIG, DNS_T_MX};
	uint8_t bm[DNS_DNSSEC_BITMAP_MAX];
	int n = dns_dnssec_bitmap_encode(in, 6, bm, sizeof(bm));
	assert_int_equal(n, (int)sizeof(want));
	assert_memory_equal(bm, want, sizeof(want));
	uint16_t out[16];
	assert_int_equal(dns_dnssec_bitmap_decode(bm, (size_t)n, out, 16), 5);
	assert_int_equal(out[0], DNS_T_A);
	assert_int_equal(out[1], DNS_T_MX);
	assert_int_equal(out[2], DNS_T_RRSIG);
	assert_int_equal(out[3], DNS_T_NSEC);
	assert_int_equal(out[4], 1234);
	assert_true(dns_dnssec_bitmap_has(bm, (size_t)n, 1234));
	assert_true(dns_dnssec_bitmap_has(bm, (size_t)n, DNS_T_MX));
	assert_false(dns_dnssec_bitmap_has(bm, (size_t)n, DNS_T_AAAA));
	assert_false(dns_dnssec_bitmap_has(bm, (size_t)n, 1235));
	assert_false(dns_dnssec_bitmap_has(bm, (size_t)n, 65535));
	assert_int_equal(dns_dnssec_bitmap_decode(bm, (size_t)n, out, 4), -ENOSPC);
	/* empty set, and every type: round trips */
	assert_int_equal(dns_dnssec_bitmap_encode(in, 0, bm, sizeof(bm)), 0);
	static uint16_t all[65536];
	static uint16_t back[65536];
	for (size_t i = 0; i < 65536; i++)
		all[i] = (uint16_t)(65535 - i);
	n = dns_dnssec_bitmap_encode(all, 65536, bm, sizeof(bm));
	assert_int_equal(n, 256 * 34);
	assert_int_equal(dns_dnssec_bitmap_decode(bm, (size_t)n, back, 65536), 65536);
	for (size_t i = 0; i < 65536; i++)
		assert_int_equal(back[i], i);
	assert_int_equal(dns_dnssec_bitmap_encode(all, 65536, bm, 100), -ENOSPC);
	/* malformed: trailing zero octet, zero length, windows out of order, truncated */
	static const uint8_t trail[] = {0x00, 0x02, 0x40, 0x00};
	static const uint8_t zero[] = {0x00, 0x00};
	static const uint8_t order[] = {0x04, 0x01, 0x80, 0x00, 0x01, 0x40};
	static const uint8_t trunc[] = {0x00, 0x03, 0x40};
	static const uint8_t big[] = {0x00, 33};
	assert_int_equal(dns_dnssec_bitmap_decode(trail, 4, out, 16), ERR_RDATA);
	assert_int_equal(dns_dnssec_bitmap_decode(zero, 2, out, 16), ERR_RDATA);
	assert_int_equal(dns_dnssec_bitmap_decode(order, 6, out, 16), ERR_RDATA);
	assert_int_equal(dns_dnssec_bitmap_decode(trunc, 3, out, 16), ERR_RDATA);
	assert_int_equal(dns_dnssec_bitmap_decode(big, 2, out, 16), ERR_RDATA);
	assert_int_equal(dns_dnssec_bitmap_decode(trunc, 1, out, 16), ERR_RDATA);

	/* NSEC rdata: next name lowercased, then the bitmap */
	uint8_t next[DNS_NAME_MAX], rd[300];
	name("Host.Example.COM.", next);
	n = dns_dnssec_bitmap_encode(in, 6, bm, sizeof(bm));
	int rl = dns_dnssec_nsec_rdata(next, bm, (size_t)n, rd, sizeof(rd));
	assert_rdata_text(DNS_T_NSEC, rd, (size_t)rl, "host.example.com. A MX RRSIG NSEC TYPE1234");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dnssec_rfc6605_key_tag_ds),
		cmocka_unit_test(test_dnssec_rfc6605_p384_ds_sha384),
		cmocka_unit_test(test_dnssec_rfc6605_signature),
		cmocka_unit_test(test_dnssec_rfc8080_ed25519_byte_for_byte),
		cmocka_unit_test(test_dnssec_canonical_form),
		cmocka_unit_test(test_dnssec_wildcard),
		cmocka_unit_test(test_dnssec_generate_round_trip),
		cmocka_unit_test(test_dnssec_der_rs),
		cmocka_unit_test(test_dnssec_pem_import),
		cmocka_unit_test(test_dnssec_nsec3_hash_rfc5155),
		cmocka_unit_test(test_dnssec_bitmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
