/*
 * DNSSEC primitives over GnuTLS.  A key holds its GnuTLS private key (or
 * none, for a key made from a DNSKEY), a public key object made once, and
 * its DNSKEY rdata and key tag computed once, so signing only formats the
 * data and calls GnuTLS.  A context holds the scratch buffers that the
 * canonical form needs (copies of the rdata, their sorted order, the signed
 * data) and grows them when an rrset needs more; it never shrinks them.
 *
 * Signatures are in DNS form: ECDSA as r||s (32 octets each, RFC 6605 §4),
 * taken out of the DER GnuTLS signs into by dns_dnssec_der_rs (no allocation: the
 * first signing makes one a record) and put back for verifying with
 * gnutls_encode_rs_value; Ed25519 as the raw 64 octets (RFC 8080 §4).
 */
#include "dns/dnssec.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dns/name.h"
#include "dns/rdata.h"
#include "util/base.h"
#include "util/err.h"

struct dns_dnssec_key {
	gnutls_privkey_t priv;            /* NULL for a public-only key */
	gnutls_pubkey_t pub;
	uint8_t alg;
	uint16_t flags, tag;
	size_t dnskey_len;
	uint8_t dnskey[DNS_DNSSEC_DNSKEY_MAX];
};

struct rdref {
	const uint8_t *p;
	uint16_t len;
};

struct dns_dnssec_ctx {
	uint8_t *rd;                      /* canonical copies of the rdata */
	size_t rdcap;
	struct rdref *refs;
	size_t refcap;
	uint8_t *buf;                     /* the data that is signed */
	size_t bufcap;
};

/* Per algorithm: curve, public key and signature layout, GnuTLS names. */
struct alg_info {
	uint8_t alg;
	gnutls_ecc_curve_t curve;
	gnutls_pk_algorithm_t pk;
	gnutls_sign_algorithm_t sign;
	size_t publen;                    /* octets in the DNSKEY public key */
	bool ecdsa;                       /* signature needs DER <-> r||s */
};

static const struct alg_info algs[] = {
	{DNS_DNSSEC_ALG_ECDSAP256SHA256, GNUTLS_ECC_CURVE_SECP256R1, GNUTLS_PK_ECDSA,
	 GNUTLS_SIGN_ECDSA_SHA256, 64, true},
	{DNS_DNSSEC_ALG_ED25519, GNUTLS_ECC_CURVE_ED25519, GNUTLS_PK_EDDSA_ED25519,
	 GNUTLS_SIGN_EDDSA_ED25519, 32, false},
};

static const struct alg_info *
alg_find(uint8_t alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (algs[i].alg == alg)
			return &algs[i];
	}
	return NULL;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Copies a big-endian integer from GnuTLS into exactly `w` octets: GnuTLS
 * may strip leading zeros or add one for the DER sign bit.
 */
static int
put_fixed(const gnutls_datum_t *d, uint8_t *out, size_t w)
{
	const uint8_t *p = d->data;
	size_t n = d->size;
	while (n > w && *p == 0) {
		p++;
		n--;
	}
	if (n > w)
		return -EIO;
	memset(out, 0, w - n);
	if (n > 0)
		memcpy(out + w - n, p, n);
	return 0;
}

/* One DER INTEGER at der[*pos] (positive, at most `w` octets once its sign
 * octet is dropped) into exactly `w` octets.  0 or -EIO. */
static int
der_int(const uint8_t *der, size_t len, size_t *pos, uint8_t *out, size_t w)
{
	size_t p = *pos;
	if (p + 2 > len || der[p] != 0x02)
		return -EIO;
	size_t n = der[p + 1];
	p += 2;
	if (n == 0 || n > w + 1 || n > len - p || (der[p] & 0x80) != 0)
		return -EIO;   /* empty, too long, past the end, or negative */
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)(der + p), (unsigned)n};
	*pos = p + n;
	return put_fixed(&d, out, w);
}

int
dns_dnssec_der_rs(const uint8_t *der, size_t len, uint8_t *out, size_t w)
{
	if (len < 2 || der[0] != 0x30 || der[1] >= 0x80 || (size_t)der[1] != len - 2)
		return -EIO;
	size_t pos = 2;
	if (der_int(der, len, &pos, out, w) != 0 || der_int(der, len, &pos, out + w, w) != 0)
		return -EIO;
	return pos == len ? 0 : -EIO;
}

/* ---- keys ----------------------------------------------------------------------------- */

uint16_t
dns_dnssec_keytag(const uint8_t *rd, size_t rdlen)
{
	uint32_t ac = 0;
	for (size_t i = 0; i < rdlen; i++)
		ac += (i & 1) ? rd[i] : (uint32_t)rd[i] << 8;
	ac += (ac >> 16) & 0xFFFF;
	return (uint16_t)(ac & 0xFFFF);
}

void
dns_dnssec_key_free(struct dns_dnssec_key *k)
{
	if (k == NULL)
		return;
	if (k->priv != NULL)
		gnutls_privkey_deinit(k->priv);
	if (k->pub != NULL)
		gnutls_pubkey_deinit(k->pub);
	free(k);
}

static struct dns_dnssec_key *
key_alloc(uint16_t flags)
{
	struct dns_dnssec_key *k = calloc(1, sizeof(*k));
	if (k != NULL)
		k->flags = flags;
	return k;
}

/* Fills the DNSKEY rdata and key tag from the public key `x` (and `y`). */
static void
key_set_dnskey(struct dns_dnssec_key *k, const struct alg_info *ai, const uint8_t *pubkey)
{
	put16(k->dnskey, k->flags);
	k->dnskey[2] = 3;
	k->dnskey[3] = ai->alg;
	memcpy(k->dnskey + 4, pubkey, ai->publen);
	k->dnskey_len = 4 + ai->publen;
	k->tag = dns_dnssec_keytag(k->dnskey, k->dnskey_len);
}

/*
 * Completes a key whose private part is set: checks the curve, derives the
 * public key object and the DNSKEY.  `want` (may be NULL) is a public key
 * the private one must match.
 */
static int
key_finish_private(struct dns_dnssec_key *k, const uint8_t *want, size_t wantlen)
{
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
	uint8_t pubkey[DNS_DNSSEC_PUBKEY_MAX];
	const struct alg_info *ai = NULL;
	int ret = -EIO;
	if (gnutls_pubkey_init(&k->pub) < 0)
		return -ENOMEM;
	if (gnutls_pubkey_import_privkey(k->pub, k->priv, 0, 0) < 0)
		goto out;
	if (gnutls_pubkey_export_ecc_raw2(k->pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ) < 0) {
		ret = -ENOTSUP;
		goto out;
	}
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (algs[i].curve == curve)
			ai = &algs[i];
	}
	if (ai == NULL) {
		ret = -ENOTSUP;
		goto out;
	}
	if (ai->ecdsa) {
		if (put_fixed(&x, pubkey, 32) != 0 || put_fixed(&y, pubkey + 32, 32) != 0)
			goto out;
	} else if (x.size != 32) {
		goto out;
	} else {
		memcpy(pubkey, x.data, 32);
	}
	if (want != NULL && (wantlen != ai->publen || memcmp(want, pubkey, wantlen) != 0)) {
		ret = -EINVAL;
		goto out;
	}
	k->alg = ai->alg;
	key_set_dnskey(k, ai, pubkey);
	ret = 0;
out:
	gnutls_free(x.data);
	gnutls_free(y.data);
	return ret;
}

static bool
flags_ok(uint16_t flags)
{
	return flags == DNS_DNSSEC_ZSK || flags == DNS_DNSSEC_KSK;
}

int
dns_dnssec_key_generate(uint8_t alg, uint16_t flags, struct dns_dnssec_key **out)
{
	const struct alg_info *ai = alg_find(alg);
	*out = NULL;
	if (ai == NULL)
		return -ENOTSUP;
	if (!flags_ok(flags))
		return -EINVAL;
	struct dns_dnssec_key *k = key_alloc(flags);
	if (k == NULL)
		return -ENOMEM;
	int ret = -ENOMEM;
	if (gnutls_privkey_init(&k->priv) < 0)
		goto out;
	ret = -EIO;
	if (gnutls_privkey_generate2(k->priv, ai->pk, GNUTLS_CURVE_TO_BITS(ai->curve), 0, NULL, 0) <
	    0)
		goto out;
	ret = key_finish_private(k, NULL, 0);
out:
	if (ret != 0)
		dns_dnssec_key_free(k);
	else
		*out = k;
	return ret;
}

int
dns_dnssec_key_from_pem(const char *pem, size_t len, uint16_t flags, struct dns_dnssec_key **out)
{
	*out = NULL;
	if (!flags_ok(flags) || len == 0 || len > UINT32_MAX)
		return -EINVAL;
	struct dns_dnssec_key *k = key_alloc(flags);
	if (k == NULL)
		return -ENOMEM;
	int ret = -ENOMEM;
	if (gnutls_privkey_init(&k->priv) < 0)
		goto out;
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)pem, (unsigned)len};
	ret = -EINVAL;
	if (gnutls_privkey_import_x509_raw(k->priv, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0)
		goto out;
	int pk = gnutls_privkey_get_pk_algorithm(k->priv, NULL);
	if (pk != GNUTLS_PK_ECDSA && pk != GNUTLS_PK_EDDSA_ED25519) {
		ret = -ENOTSUP;
		goto out;
	}
	ret = key_finish_private(k, NULL, 0);
out:
	if (ret != 0)
		dns_dnssec_key_free(k);
	else
		*out = k;
	return ret;
}

int
dns_dnssec_key_from_raw(uint8_t alg, uint16_t flags, const uint8_t *priv, size_t privlen,
                        const uint8_t *pub, size_t publen, struct dns_dnssec_key **out)
{
	const struct alg_info *ai = alg_find(alg);
	*out = NULL;
	if (ai == NULL)
		return -ENOTSUP;
	if (!flags_ok(flags) || privlen != 32 || (ai->ecdsa && (pub == NULL || publen != 64)))
		return -EINVAL;
	struct dns_dnssec_key *k = key_alloc(flags);
	if (k == NULL)
		return -ENOMEM;
	int ret = -ENOMEM;
	if (gnutls_privkey_init(&k->priv) < 0)
		goto out;
	gnutls_datum_t dk = {(unsigned char *)(uintptr_t)priv, 32};
	ret = -EINVAL;
	if (ai->ecdsa) {
		gnutls_datum_t dx = {(unsigned char *)(uintptr_t)pub, 32};
		gnutls_datum_t dy = {(unsigned char *)(uintptr_t)pub + 32, 32};
		if (gnutls_privkey_import_ecc_raw(k->priv, ai->curve, &dx, &dy, &dk) < 0)
			goto out;
		/* GnuTLS takes x, y as given: prove they belong to d */
		if (gnutls_privkey_verify_params(k->priv) < 0)
			goto out;
	} else {
		/*
		 * GnuTLS wants the public key with a raw Ed25519 import; wrapped
		 * as PKCS#8 (RFC 8410 §7) the seed alone is enough.
		 */
		static const uint8_t pfx[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
		                                0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
		uint8_t der[48];
		memcpy(der, pfx, sizeof(pfx));
		memcpy(der + 16, priv, 32);
		gnutls_datum_t dd = {der, sizeof(der)};
		int r = gnutls_privkey_import_x509_raw(k->priv, &dd, GNUTLS_X509_FMT_DER, NULL, 0);
		gnutls_memset(der, 0, sizeof(der));
		if (r < 0)
			goto out;
	}
	ret = key_finish_private(k, pub, publen);
out:
	if (ret != 0)
		dns_dnssec_key_free(k);
	else
		*out = k;
	return ret;
}

int
dns_dnssec_key_from_dnskey(const uint8_t *rd, size_t rdlen, struct dns_dnssec_key **out)
{
	*out = NULL;
	if (rdlen < 4 || rd[2] != 3)
		return ERR_RDATA;
	const struct alg_info *ai = alg_find(rd[3]);
	if (ai == NULL)
		return -ENOTSUP;
	if (rdlen != 4 + ai->publen)
		return ERR_RDATA;
	struct dns_dnssec_key *k = key_alloc(get16(rd));
	if (k == NULL)
		return -ENOMEM;
	int ret = -ENOMEM;
	if (gnutls_pubkey_init(&k->pub) < 0)
		goto out;
	gnutls_datum_t dx = {(unsigned char *)(uintptr_t)rd + 4, ai->ecdsa ? 32 : 32};
	gnutls_datum_t dy = {(unsigned char *)(uintptr_t)rd + 36, 32};
	ret = ERR_RDATA;
	if (gnutls_pubkey_import_ecc_raw(k->pub, ai->curve, &dx, ai->ecdsa ? &dy : NULL) < 0)
		goto out;
	k->alg = ai->alg;
	key_set_dnskey(k, ai, rd + 4);
	ret = 0;
out:
	if (ret != 0)
		dns_dnssec_key_free(k);
	else
		*out = k;
	return ret;
}

int
dns_dnssec_key_to_pem(const struct dns_dnssec_key *k, char *buf, size_t cap)
{
	if (k->priv == NULL)
		return -EINVAL;
	gnutls_x509_privkey_t x = NULL;
	gnutls_datum_t d = {NULL, 0};
	int ret = -EIO;
	if (gnutls_privkey_export_x509(k->priv, &x) < 0)
		return -EIO;
	if (gnutls_x509_privkey_export2_pkcs8(x, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d) <
	    0)
		goto out;
	if (d.size >= cap) {
		ret = -ENOSPC;
		goto out;
	}
	memcpy(buf, d.data, d.size);
	buf[d.size] = '\0';
	ret = (int)d.size;
out:
	if (d.data != NULL) {
		gnutls_memset(d.data, 0, d.size);
		gnutls_free(d.data);
	}
	gnutls_x509_privkey_deinit(x);
	return ret;
}

int
dns_dnssec_key_to_raw(const struct dns_dnssec_key *k, uint8_t *out, size_t cap)
{
	if (k->priv == NULL)
		return -EINVAL;
	if (cap < 32)
		return -ENOSPC;
	gnutls_datum_t d = {NULL, 0};
	int ret = -EIO;
	if (gnutls_privkey_export_ecc_raw2(k->priv, NULL, NULL, NULL, &d, GNUTLS_EXPORT_FLAG_NO_LZ) <
	    0)
		return -EIO;
	if (put_fixed(&d, out, 32) == 0)
		ret = 32;
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return ret;
}

const uint8_t *
dns_dnssec_key_dnskey(const struct dns_dnssec_key *k, size_t *len)
{
	*len = k->dnskey_len;
	return k->dnskey;
}

uint16_t
dns_dnssec_key_tag(const struct dns_dnssec_key *k)
{
	return k->tag;
}

uint8_t
dns_dnssec_key_alg(const struct dns_dnssec_key *k)
{
	return k->alg;
}

uint16_t
dns_dnssec_key_flags(const struct dns_dnssec_key *k)
{
	return k->flags;
}

bool
dns_dnssec_key_has_private(const struct dns_dnssec_key *k)
{
	return k->priv != NULL;
}

int
dns_dnssec_ds(const uint8_t *owner, const uint8_t *rd, size_t rdlen, uint8_t digest, uint8_t *out,
              size_t cap)
{
	gnutls_digest_algorithm_t dig;
	size_t dlen;
	if (digest == DNS_DNSSEC_DS_SHA256) {
		dig = GNUTLS_DIG_SHA256;
		dlen = 32;
	} else if (digest == DNS_DNSSEC_DS_SHA384) {
		dig = GNUTLS_DIG_SHA384;
		dlen = 48;
	} else {
		return -ENOTSUP;
	}
	if (rdlen < 4 || rdlen > UINT16_MAX)
		return ERR_RDATA;
	if (cap < 4 + dlen)
		return -ENOSPC;
	uint8_t name[DNS_NAME_MAX];
	size_t nlen = dns_name_len(owner);
	memcpy(name, owner, nlen);
	dns_name_lower(name);
	gnutls_hash_hd_t h;
	if (gnutls_hash_init(&h, dig) < 0)
		return -EIO;
	int r1 = gnutls_hash(h, name, nlen);
	int r2 = gnutls_hash(h, rd, rdlen);
	gnutls_hash_deinit(h, out + 4);
	if (r1 < 0 || r2 < 0)
		return -EIO;
	put16(out, dns_dnssec_keytag(rd, rdlen));
	out[2] = rd[3];
	out[3] = digest;
	return (int)(4 + dlen);
}

/* ---- signatures ----------------------------------------------------------------------- */

struct dns_dnssec_ctx *
dns_dnssec_ctx_new(void)
{
	return calloc(1, sizeof(struct dns_dnssec_ctx));
}

void
dns_dnssec_ctx_free(struct dns_dnssec_ctx *cx)
{
	if (cx == NULL)
		return;
	free(cx->rd);
	free(cx->refs);
	free(cx->buf);
	free(cx);
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (q == NULL)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* RFC 4034 §6.3: rdata as left-justified octet strings, absent octets sort first. */
static int
rdref_cmp(const void *a, const void *b)
{
	const struct rdref *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int c = m ? memcmp(x->p, y->p, m) : 0;
	if (c != 0)
		return c;
	return (int)x->len - (int)y->len;
}

/*
 * Builds the signed data of RFC 4034 §3.1.8.1 in cx->buf: `head` (the RRSIG
 * rdata without signature, signer lowercased), then each distinct RR in
 * canonical form and order with owner `owner` (already canonical) and TTL
 * `ottl`.  Returns the length or -ENOMEM / -EINVAL.
 */
static ssize_t
signed_data(struct dns_dnssec_ctx *cx, const uint8_t *head, size_t headlen, const uint8_t *owner,
            const struct dns_dnssec_rrset *rs, uint32_t ottl)
{
	size_t olen = dns_name_len(owner), total = 0;
	for (size_t i = 0; i < rs->n; i++)
		total += rs->rdlen[i];
	if (grow((void **)&cx->rd, &cx->rdcap, total ? total : 1, 1) != 0 ||
	    grow((void **)&cx->refs, &cx->refcap, rs->n, sizeof(*cx->refs)) != 0)
		return -ENOMEM;
	size_t pos = 0;
	for (size_t i = 0; i < rs->n; i++) {
		uint8_t *p = cx->rd + pos;
		if (rs->rdlen[i] > 0)
			memcpy(p, rs->rdata[i], rs->rdlen[i]);
		dns_rdata_canonicalize(rs->type, p, rs->rdlen[i]);
		cx->refs[i].p = p;
		cx->refs[i].len = rs->rdlen[i];
		pos += rs->rdlen[i];
	}
	size_t n = rs->n;
	if (n > 1) {
		qsort(cx->refs, n, sizeof(*cx->refs), rdref_cmp);
		size_t w = 1;
		for (size_t i = 1; i < n; i++) {
			if (rdref_cmp(&cx->refs[i], &cx->refs[w - 1]) != 0)
				cx->refs[w++] = cx->refs[i];
		}
		n = w;
	}
	size_t need = headlen;
	for (size_t i = 0; i < n; i++)
		need += olen + 10 + cx->refs[i].len;
	if (grow((void **)&cx->buf, &cx->bufcap, need, 1) != 0)
		return -ENOMEM;
	uint8_t *b = cx->buf;
	memcpy(b, head, headlen);
	b += headlen;
	for (size_t i = 0; i < n; i++) {
		memcpy(b, owner, olen);
		b += olen;
		put16(b, rs->type);
		put16(b + 2, rs->rclass);
		put32(b + 4, ottl);
		put16(b + 8, cx->refs[i].len);
		b += 10;
		if (cx->refs[i].len > 0)
			memcpy(b, cx->refs[i].p, cx->refs[i].len);
		b += cx->refs[i].len;
	}
	return (ssize_t)need;
}

int
dns_dnssec_sign(struct dns_dnssec_ctx *cx, const struct dns_dnssec_key *k, const uint8_t *signer,
                const struct dns_dnssec_rrset *rs, uint32_t inception, uint32_t expiration,
                uint8_t *out, size_t cap)
{
	const struct alg_info *ai = alg_find(k->alg);
	if (k->priv == NULL || ai == NULL || rs->n == 0 || !dns_name_is_sub(rs->owner, signer))
		return -EINVAL;
	size_t slen = dns_name_len(signer);
	size_t headlen = 18 + slen;
	if (cap < headlen + DNS_DNSSEC_SIG_MAX)
		return -ENOSPC;
	unsigned labels = dns_name_labels(rs->owner);
	if (dns_name_is_wildcard(rs->owner))
		labels--;
	put16(out, rs->type);
	out[2] = k->alg;
	out[3] = (uint8_t)labels;
	put32(out + 4, rs->ttl);
	put32(out + 8, expiration);
	put32(out + 12, inception);
	put16(out + 16, k->tag);
	memcpy(out + 18, signer, slen);
	dns_name_lower(out + 18);
	uint8_t owner[DNS_NAME_MAX];
	memcpy(owner, rs->owner, dns_name_len(rs->owner));
	dns_name_lower(owner);
	ssize_t dl = signed_data(cx, out, headlen, owner, rs, rs->ttl);
	if (dl < 0)
		return (int)dl;
	gnutls_datum_t data = {cx->buf, (unsigned)dl}, sig = {NULL, 0};
	if (gnutls_privkey_sign_data2(k->priv, ai->sign, 0, &data, &sig) < 0)
		return -EIO;
	int ret = -EIO;
	uint8_t *s = out + headlen;
	if (ai->ecdsa) {
		if (dns_dnssec_der_rs(sig.data, sig.size, s, 32) == 0)
			ret = (int)(headlen + 64);
	} else if (sig.size == 64) {
		memcpy(s, sig.data, 64);
		ret = (int)(headlen + 64);
	}
	gnutls_free(sig.data);
	return ret;
}

int
dns_dnssec_verify(struct dns_dnssec_ctx *cx, const struct dns_dnssec_key *k,
                  const uint8_t *signer, const struct dns_dnssec_rrset *rs, const uint8_t *sig,
                  size_t siglen, uint32_t now)
{
	const struct alg_info *ai = alg_find(k->alg);
	if (ai == NULL)
		return -ENOTSUP;
	if (siglen < 19 || rs->n == 0)
		return ERR_RDATA;
	int sl = dns_name_check(sig + 18, siglen - 18);
	if (sl < 0)
		return ERR_RDATA;
	size_t headlen = 18 + (size_t)sl;
	if (siglen - headlen != DNS_DNSSEC_SIG_MAX)
		return ERR_RDATA;
	if (get16(sig) != rs->type || sig[2] != k->alg || get16(sig + 16) != k->tag ||
	    !(k->flags & DNS_DNSSEC_FLAG_ZONE) || !dns_name_equal(sig + 18, signer) ||
	    !dns_name_is_sub(rs->owner, signer))
		return -EKEYREJECTED;
	unsigned labels = sig[3], olabels = dns_name_labels(rs->owner);
	if (dns_name_is_wildcard(rs->owner))
		olabels--;
	if (labels > olabels)
		return -EKEYREJECTED;
	uint32_t exp = get32(sig + 8), inc = get32(sig + 12);
	if ((int32_t)(exp - now) < 0 || (int32_t)(now - inc) < 0)
		return -ERANGE;
	/* owner in canonical form; fewer labels: the wildcard it was expanded from */
	uint8_t owner[DNS_NAME_MAX];
	const uint8_t *src = rs->owner;
	unsigned total = dns_name_labels(rs->owner);
	size_t off = 0;
	if (labels < total) {
		for (unsigned i = 0; i < total - labels; i++)
			src = dns_name_parent(src);
		owner[0] = 1;
		owner[1] = '*';
		off = 2;
	}
	memcpy(owner + off, src, dns_name_len(src));
	dns_name_lower(owner);
	uint8_t head[18 + DNS_NAME_MAX];
	memcpy(head, sig, headlen);
	dns_name_lower(head + 18);
	ssize_t dl = signed_data(cx, head, headlen, owner, rs, get32(sig + 4));
	if (dl < 0)
		return (int)dl;
	gnutls_datum_t data = {cx->buf, (unsigned)dl};
	const uint8_t *s = sig + headlen;
	int ret;
	if (ai->ecdsa) {
		gnutls_datum_t r = {(unsigned char *)(uintptr_t)s, 32};
		gnutls_datum_t ss = {(unsigned char *)(uintptr_t)s + 32, 32};
		gnutls_datum_t der = {NULL, 0};
		if (gnutls_encode_rs_value(&der, &r, &ss) < 0)
			return -EIO;
		ret = gnutls_pubkey_verify_data2(k->pub, ai->sign, 0, &data, &der);
		gnutls_free(der.data);
	} else {
		gnutls_datum_t d = {(unsigned char *)(uintptr_t)s, 64};
		ret = gnutls_pubkey_verify_data2(k->pub, ai->sign, 0, &data, &d);
	}
	return ret < 0 ? -EBADMSG : 0;
}

/* ---- denial of existence --------------------------------------------------------------- */

int
dns_dnssec_bitmap_encode(const uint16_t *types, size_t n, uint8_t *out, size_t cap)
{
	/* only the windows in use are cleared and walked: this runs once per
	 * name signed (a first signing makes 100,000s) */
	uint8_t bits[8192];
	bool used[256] = {false};
	for (size_t i = 0; i < n; i++) {
		unsigned w = types[i] >> 8;
		if (!used[w]) {
			memset(bits + w * 32, 0, 32);
			used[w] = true;
		}
		bits[types[i] >> 3] |= (uint8_t)(0x80 >> (types[i] & 7));
	}
	size_t pos = 0;
	for (unsigned w = 0; w < 256; w++) {
		if (!used[w])
			continue;
		const uint8_t *win = bits + w * 32;
		unsigned len = 32;
		while (len > 0 && win[len - 1] == 0)
			len--;
		if (cap - pos < 2 + len)
			return -ENOSPC;
		out[pos] = (uint8_t)w;
		out[pos + 1] = (uint8_t)len;
		memcpy(out + pos + 2, win, len);
		pos += 2 + len;
	}
	return (int)pos;
}

int
dns_dnssec_bitmap_decode(const uint8_t *p, size_t len, uint16_t *types, size_t max)
{
	size_t pos = 0, cnt = 0;
	int last = -1;
	while (pos < len) {
		if (len - pos < 2)
			return ERR_RDATA;
		uint8_t win = p[pos], bl = p[pos + 1];
		if ((int)win <= last || bl == 0 || bl > 32 || len - pos - 2 < bl ||
		    p[pos + 2 + bl - 1] == 0)
			return ERR_RDATA;
		for (unsigned i = 0; i < bl; i++) {
			for (unsigned b = 0; b < 8; b++) {
				if (!(p[pos + 2 + i] & (0x80 >> b)))
					continue;
				if (cnt == max)
					return -ENOSPC;
				types[cnt++] = (uint16_t)(win << 8 | (i << 3) | b);
			}
		}
		last = win;
		pos += 2 + (size_t)bl;
	}
	return (int)cnt;
}

bool
dns_dnssec_bitmap_has(const uint8_t *p, size_t len, uint16_t type)
{
	uint8_t want = (uint8_t)(type >> 8), oct = (uint8_t)((type & 0xFF) >> 3);
	size_t pos = 0;
	while (len - pos >= 2) {
		uint8_t win = p[pos], bl = p[pos + 1];
		if (len - pos - 2 < bl)
			return false;
		if (win == want)
			return oct < bl && (p[pos + 2 + oct] & (0x80 >> (type & 7)));
		pos += 2 + (size_t)bl;
	}
	return false;
}

int
dns_dnssec_nsec3_hash(const uint8_t *name, const uint8_t *salt, size_t saltlen,
                      uint16_t iterations, uint8_t out[DNS_DNSSEC_NSEC3_HASH_LEN])
{
	uint8_t in[DNS_NAME_MAX + 255];
	if (saltlen > 255)
		return -EINVAL;
	size_t nlen = dns_name_len(name);
	memcpy(in, name, nlen);
	dns_name_lower(in);
	if (saltlen > 0)
		memcpy(in + nlen, salt, saltlen);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, in, nlen + saltlen, out) < 0)
		return -EIO;
	if (saltlen > 0)
		memcpy(in + DNS_DNSSEC_NSEC3_HASH_LEN, salt, saltlen);
	for (unsigned i = 0; i < iterations; i++) {
		memcpy(in, out, DNS_DNSSEC_NSEC3_HASH_LEN);
		if (gnutls_hash_fast(GNUTLS_DIG_SHA1, in, DNS_DNSSEC_NSEC3_HASH_LEN + saltlen, out) < 0)
			return -EIO;
	}
	return 0;
}

int
dns_dnssec_nsec3_owner(const uint8_t *name, const uint8_t *zone, const uint8_t *salt,
                       size_t saltlen, uint16_t iterations, uint8_t *out)
{
	uint8_t h[DNS_DNSSEC_NSEC3_HASH_LEN];
	char label[BASE32HEX_LEN(DNS_DNSSEC_NSEC3_HASH_LEN) + 1];
	int ret = dns_dnssec_nsec3_hash(name, salt, saltlen, iterations, h);
	if (ret != 0)
		return ret;
	int ll = base32hex_encode(h, sizeof(h), label, sizeof(label));
	if (ll != 32)
		return -EIO;
	size_t zlen = dns_name_len(zone);
	if (1 + (size_t)ll + zlen > DNS_NAME_MAX)
		return -ENAMETOOLONG;
	out[0] = (uint8_t)ll;
	for (int i = 0; i < ll; i++) {
		char ch = label[i];
		out[1 + i] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	memcpy(out + 1 + ll, zone, zlen);
	dns_name_lower(out + 1 + ll);
	return (int)(1 + (size_t)ll + zlen);
}

int
dns_dnssec_nsec3param(uint8_t flags, uint16_t iterations, const uint8_t *salt, size_t saltlen,
                      uint8_t *out, size_t cap)
{
	if (saltlen > 255)
		return -EINVAL;
	if (cap < 5 + saltlen)
		return -ENOSPC;
	out[0] = 1;
	out[1] = flags;
	put16(out + 2, iterations);
	out[4] = (uint8_t)saltlen;
	if (saltlen > 0)
		memcpy(out + 5, salt, saltlen);
	return (int)(5 + saltlen);
}

int
dns_dnssec_nsec3_rdata(uint8_t flags, uint16_t iterations, const uint8_t *salt, size_t saltlen,
                       const uint8_t *next, const uint8_t *bm, size_t bmlen, uint8_t *out,
                       size_t cap)
{
	int n = dns_dnssec_nsec3param(flags, iterations, salt, saltlen, out, cap);
	if (n < 0)
		return n;
	size_t pos = (size_t)n;
	if (cap - pos < 1 + DNS_DNSSEC_NSEC3_HASH_LEN + bmlen)
		return -ENOSPC;
	out[pos++] = DNS_DNSSEC_NSEC3_HASH_LEN;
	memcpy(out + pos, next, DNS_DNSSEC_NSEC3_HASH_LEN);
	pos += DNS_DNSSEC_NSEC3_HASH_LEN;
	if (bmlen > 0)
		memcpy(out + pos, bm, bmlen);
	return (int)(pos + bmlen);
}

int
dns_dnssec_nsec_rdata(const uint8_t *next, const uint8_t *bm, size_t bmlen, uint8_t *out,
                      size_t cap)
{
	size_t nlen = dns_name_len(next);
	if (cap < nlen + bmlen)
		return -ENOSPC;
	memcpy(out, next, nlen);
	dns_name_lower(out);
	if (bmlen > 0)
		memcpy(out + nlen, bm, bmlen);
	return (int)(nlen + bmlen);
}
