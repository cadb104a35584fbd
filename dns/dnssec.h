/*
 * DNSSEC primitives (RFC 4033-4035, 5155, 6605, 8080) over GnuTLS: keys for
 * algorithms 13 (ECDSA P-256/SHA-256) and 15 (Ed25519), DNSKEY rdata, key
 * tags, DS digests, RRSIG creation and verification for one rrset in the
 * canonical form of RFC 4034 §6, NSEC type bitmaps and NSEC3 hashing.
 *
 * Pure library: no I/O, no policy (which rrsets to sign, lifetimes, chains
 * are the caller's).  Names are uncompressed wire form, any case; what this
 * module writes into rdata (the RRSIG signer name) is lowercased.  Times are
 * 32-bit seconds since the epoch compared with serial arithmetic (RFC 4034
 * §3.1.5).
 *
 * Error codes: -EINVAL (bad argument), -ENOTSUP (algorithm or digest type
 * not implemented), -ENOMEM, -ENOSPC (output too small), ERR_RDATA
 * (malformed DNSKEY/RRSIG/bitmap), -EBADMSG (signature does not verify),
 * -EKEYREJECTED (RRSIG fields do not match the key or rrset), -ERANGE (RRSIG
 * not valid at the given time), -EIO (GnuTLS failed).
 */
#ifndef DNS_DNSSEC_H
#define DNS_DNSSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	DNS_DNSSEC_ALG_ECDSAP256SHA256 = 13,
	DNS_DNSSEC_ALG_ED25519 = 15,
};

enum { DNS_DNSSEC_DS_SHA256 = 2, DNS_DNSSEC_DS_SHA384 = 4 };

/* DNSKEY flags: zone key (256, a ZSK) plus SEP (257, a KSK or CSK). */
#define DNS_DNSSEC_FLAG_ZONE 0x0100
#define DNS_DNSSEC_FLAG_SEP 0x0001
#define DNS_DNSSEC_ZSK DNS_DNSSEC_FLAG_ZONE
#define DNS_DNSSEC_KSK (DNS_DNSSEC_FLAG_ZONE | DNS_DNSSEC_FLAG_SEP)

#define DNS_DNSSEC_PUBKEY_MAX 64         /* P-256 x||y; Ed25519 is 32 */
#define DNS_DNSSEC_SIG_MAX 64            /* P-256 r||s and Ed25519 */
#define DNS_DNSSEC_DNSKEY_MAX (4 + DNS_DNSSEC_PUBKEY_MAX)
#define DNS_DNSSEC_DS_MAX (4 + 48)
#define DNS_DNSSEC_RAW_MAX 32            /* P-256 scalar d; Ed25519 seed */
/* RRSIG rdata: 18 fixed octets, the signer name, the signature. */
#define DNS_DNSSEC_RRSIG_MAX (18 + 255 + DNS_DNSSEC_SIG_MAX)
#define DNS_DNSSEC_NSEC3_HASH_LEN 20     /* SHA-1 */
#define DNS_DNSSEC_BITMAP_MAX (256 * 34)

struct dns_dnssec_key;
struct dns_dnssec_ctx;

/* One rrset to sign or verify: borrowed, unsorted, may hold duplicates. */
struct dns_dnssec_rrset {
	const uint8_t *owner;
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;                    /* the Original TTL */
	size_t n;
	const uint8_t *const *rdata;
	const uint16_t *rdlen;
};

/* ---- keys ----------------------------------------------------------------------------- */

/*
 * Generates a new private key of `alg` (13 or 15) with DNSKEY `flags` (256
 * or 257) into *out.  Returns 0, -ENOTSUP, -EINVAL, -ENOMEM or -EIO.
 */
int dns_dnssec_key_generate(uint8_t alg, uint16_t flags, struct dns_dnssec_key **out);

/*
 * Imports an unencrypted PKCS#8 PEM private key ("BEGIN PRIVATE KEY", as
 * dns_dnssec_key_to_pem writes and `openssl genpkey` makes) of `len` bytes.
 * The algorithm comes from the key and must be P-256 or Ed25519.
 * Returns 0, -EINVAL (not such a key), -ENOTSUP, -ENOMEM or -EIO.
 */
int dns_dnssec_key_from_pem(const char *pem, size_t len, uint16_t flags,
                            struct dns_dnssec_key **out);

/*
 * Imports a raw private key: the 32-octet scalar d (alg 13) or seed (alg
 * 15), as in BIND's "PrivateKey:" field.  P-256 also needs the public key
 * `pub` (x||y, 64 octets, e.g. from the DNSKEY); Ed25519 derives it, `pub`
 * may be NULL (when given it must match).  Returns 0, -EINVAL, -ENOTSUP,
 * -ENOMEM or -EIO.
 */
int dns_dnssec_key_from_raw(uint8_t alg, uint16_t flags, const uint8_t *priv, size_t privlen,
                            const uint8_t *pub, size_t publen, struct dns_dnssec_key **out);

/*
 * A public-only key (for verification) from DNSKEY rdata.  Returns 0,
 * ERR_RDATA, -ENOTSUP, -ENOMEM or -EIO.
 */
int dns_dnssec_key_from_dnskey(const uint8_t *rd, size_t rdlen, struct dns_dnssec_key **out);

/* Frees a key (the private part is wiped by GnuTLS).  NULL is a no-op. */
void dns_dnssec_key_free(struct dns_dnssec_key *k);

/*
 * Writes the private key as PKCS#8 PEM into `buf` (NUL-terminated).
 * Returns the text length, -EINVAL (public-only key), -ENOSPC or -EIO.
 */
int dns_dnssec_key_to_pem(const struct dns_dnssec_key *k, char *buf, size_t cap);

/* Writes the 32-octet raw private key.  Returns 32, -EINVAL, -ENOSPC or -EIO. */
int dns_dnssec_key_to_raw(const struct dns_dnssec_key *k, uint8_t *out, size_t cap);

/* The key's DNSKEY rdata (valid while the key lives) and its length. */
const uint8_t *dns_dnssec_key_dnskey(const struct dns_dnssec_key *k, size_t *len);
uint16_t dns_dnssec_key_tag(const struct dns_dnssec_key *k);
uint8_t dns_dnssec_key_alg(const struct dns_dnssec_key *k);
uint16_t dns_dnssec_key_flags(const struct dns_dnssec_key *k);
bool dns_dnssec_key_has_private(const struct dns_dnssec_key *k);

/* Key tag of any DNSKEY rdata (RFC 4034 Appendix B; algorithm 1 excluded). */
uint16_t dns_dnssec_keytag(const uint8_t *rd, size_t rdlen);

/*
 * Writes the DS rdata (key tag, algorithm, digest type, digest) for the
 * DNSKEY rdata `rd` owned by `owner` into `out`.  `digest` is 2 (SHA-256)
 * or 4 (SHA-384).  Returns the rdata length, ERR_RDATA, -ENOTSUP, -ENOSPC.
 */
int dns_dnssec_ds(const uint8_t *owner, const uint8_t *rd, size_t rdlen, uint8_t digest,
                  uint8_t *out, size_t cap);

/* ---- signatures ----------------------------------------------------------------------- */

/*
 * A signing context: scratch buffers reused by every call, so signing
 * allocates only what GnuTLS does.  One per thread.
 */
struct dns_dnssec_ctx *dns_dnssec_ctx_new(void);
void dns_dnssec_ctx_free(struct dns_dnssec_ctx *cx);

/*
 * An ECDSA signature in DER, SEQUENCE { INTEGER r, INTEGER s } (RFC 3279
 * §2.2.3; short lengths only, enough for P-256), into r||s of `w` octets
 * each (RFC 6605 §4).  0, or -EIO for anything else (a negative or empty
 * integer, one longer than `w`, trailing octets).  No allocation.
 */
int dns_dnssec_der_rs(const uint8_t *der, size_t len, uint8_t *out, size_t w);

/*
 * Signs `rs` with private key `k` for zone `signer` and writes the RRSIG
 * rdata into `out` (DNS_DNSSEC_RRSIG_MAX is always enough).  The labels
 * field leaves out a leading "*" (RFC 4034 §3.1.3); rdata are put in
 * canonical form, sorted and deduplicated (§6.2, §6.3).
 * Returns the rdata length, -EINVAL (public-only key, empty rrset, owner
 * not under signer), -ENOSPC, -ENOMEM or -EIO.
 */
int dns_dnssec_sign(struct dns_dnssec_ctx *cx, const struct dns_dnssec_key *k,
                    const uint8_t *signer, const struct dns_dnssec_rrset *rs, uint32_t inception,
                    uint32_t expiration, uint8_t *out, size_t cap);

/*
 * Verifies RRSIG rdata `sig` over `rs` (whose `ttl` is ignored: the RRSIG's
 * Original TTL is used) with key `k` (RFC 4035 §5.3): type covered,
 * algorithm, key tag, signer (the key's owner, `signer`), labels, the
 * validity period at `now`, then the signature.  A RRSIG whose labels are
 * fewer than the owner's verifies a wildcard expansion.
 * Returns 0, ERR_RDATA, -EKEYREJECTED, -ERANGE, -EBADMSG, -ENOMEM, -EIO.
 */
int dns_dnssec_verify(struct dns_dnssec_ctx *cx, const struct dns_dnssec_key *k,
                      const uint8_t *signer, const struct dns_dnssec_rrset *rs,
                      const uint8_t *sig, size_t siglen, uint32_t now);

/* ---- denial of existence --------------------------------------------------------------- */

/*
 * Encodes the set of `n` types (any order, duplicates allowed) as an NSEC
 * type bitmap (RFC 4034 §4.1.2) into `out` (DNS_DNSSEC_BITMAP_MAX is always
 * enough).  Returns the length (0 for no types) or -ENOSPC.
 */
int dns_dnssec_bitmap_encode(const uint16_t *types, size_t n, uint8_t *out, size_t cap);

/*
 * Decodes a type bitmap into ascending `types` (at most `max`).  Returns
 * the count, ERR_RDATA (windows out of order, a length of 0 or over 32,
 * trailing zero octets, truncated) or -ENOSPC.
 */
int dns_dnssec_bitmap_decode(const uint8_t *p, size_t len, uint16_t *types, size_t max);

/* True when `type` is set in bitmap `p` (assumed well-formed). */
bool dns_dnssec_bitmap_has(const uint8_t *p, size_t len, uint16_t type);

/*
 * NSEC3 hash (RFC 5155 §5, algorithm 1 = SHA-1) of `name` (lowercased
 * first) with `salt` and `iterations` extra iterations, into `out` (20
 * octets).  Returns 0, -EINVAL (salt over 255 octets) or -EIO.
 */
int dns_dnssec_nsec3_hash(const uint8_t *name, const uint8_t *salt, size_t saltlen,
                          uint16_t iterations, uint8_t out[DNS_DNSSEC_NSEC3_HASH_LEN]);

/*
 * Writes the NSEC3 owner name of `name` in `zone`: the lowercase base32hex
 * hash label followed by `zone` (DNS_NAME_MAX bytes).  Returns the wire
 * length, -EINVAL, -ENAMETOOLONG or -EIO.
 */
int dns_dnssec_nsec3_owner(const uint8_t *name, const uint8_t *zone, const uint8_t *salt,
                           size_t saltlen, uint16_t iterations, uint8_t *out);

/*
 * NSEC3PARAM rdata (hash algorithm 1, `flags`, `iterations`, `salt`).
 * Returns the length, -EINVAL or -ENOSPC.
 */
int dns_dnssec_nsec3param(uint8_t flags, uint16_t iterations, const uint8_t *salt,
                          size_t saltlen, uint8_t *out, size_t cap);

/*
 * NSEC3 rdata: hash algorithm 1, `flags` (1 = opt-out), `iterations`,
 * `salt`, the next hashed owner (20 octets) and type bitmap `bm`.
 * Returns the length, -EINVAL or -ENOSPC.
 */
int dns_dnssec_nsec3_rdata(uint8_t flags, uint16_t iterations, const uint8_t *salt,
                           size_t saltlen, const uint8_t *next, const uint8_t *bm, size_t bmlen,
                           uint8_t *out, size_t cap);

/*
 * NSEC rdata: `next` (written lowercased) and bitmap `bm`.  Returns the
 * length or -ENOSPC.
 */
int dns_dnssec_nsec_rdata(const uint8_t *next, const uint8_t *bm, size_t bmlen, uint8_t *out,
                          size_t cap);

#endif
