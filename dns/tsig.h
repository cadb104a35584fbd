/*
 * TSIG (RFC 8945): keys, signing and verification with GnuTLS HMAC
 * (hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1).
 *
 * One struct dns_tsig_ctx follows one transaction (a request and its
 * response messages, §5.3.1):
 *  client:  dns_tsig_ctx_init(key); dns_tsig_sign(request);
 *           for each response message: dns_tsig_verify(msg);
 *           after the last one: dns_tsig_verify_done().
 *  server:  dns_tsig_ctx_init(NULL); dns_tsig_verify_request(request, keys);
 *           then dns_tsig_sign() on every response message, including the
 *           error response when verification failed (unsigned for BADKEY and
 *           BADSIG, signed with the request MAC and the server time in
 *           Other Data for BADTIME, as §5.3.2 and §5.2.3 say), or
 *           dns_tsig_sign_skip() for a message sent unsigned (§5.3.1: the
 *           first and the last must be signed, and at least every 100th).
 * Verification accepts up to 99 unsigned messages between signed ones
 * (their bytes enter the next MAC) and requires the first and the last to be
 * signed.  MACs are compared in constant time.  Truncated MACs (§5.2.2.1)
 * are accepted down to max(10, half the hash length) octets; what we sign
 * always carries the full MAC.
 *
 * Times are seconds since the epoch passed in by the caller (`now`), so
 * tests control the clock.  Each ctx holds a GnuTLS HMAC handle:
 * dns_tsig_ctx_clear() releases it.
 */
#ifndef DNS_TSIG_H
#define DNS_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dns/msg.h"
#include "dns/name.h"

enum dns_tsig_alg {
	DNS_TSIG_ALG_NONE = 0,
	DNS_TSIG_HMAC_SHA1,
	DNS_TSIG_HMAC_SHA224,
	DNS_TSIG_HMAC_SHA256,
	DNS_TSIG_HMAC_SHA384,
	DNS_TSIG_HMAC_SHA512,
};

#define DNS_TSIG_SECRET_MAX 256
#define DNS_TSIG_MAC_MAX 64
#define DNS_TSIG_FUDGE 300

struct dns_tsig_key {
	uint8_t name[DNS_NAME_MAX];     /* wire form, lowercased */
	enum dns_tsig_alg alg;
	uint8_t secret[DNS_TSIG_SECRET_MAX];
	size_t secret_len;
};

/*
 * Parses the `NAME:ALG:BASE64SECRET` form of --tsig (ALG e.g. hmac-sha256,
 * any case; NAME with or without its trailing dot).  Returns 0 or -EINVAL
 * (writing a reason into `err`, `errcap` bytes, when err is not NULL).
 */
int dns_tsig_key_parse(struct dns_tsig_key *k, const char *s, char *err, size_t errcap);

/* Longest key file text dns_tsig_key_parse_text() takes. */
#define DNS_TSIG_TEXT_MAX 4096

/*
 * Parses the text of a TSIG key file (--tsig-file): exactly one line
 * NAME:ALG:BASE64SECRET as dns_tsig_key_parse() takes it; blank lines and
 * lines starting with '#' are skipped, surrounding blanks and CR ignored.
 * `text` is `len` bytes, not necessarily NUL-terminated.  Returns 0, or
 * -EINVAL / -EMSGSIZE (longer than DNS_TSIG_TEXT_MAX) with a reason in `err`
 * that never quotes the secret.
 */
int dns_tsig_key_parse_text(struct dns_tsig_key *k, const char *text, size_t len, char *err,
                            size_t errcap);

/*
 * Fills `k` from a presentation name, an algorithm name and the raw secret.
 * Returns 0 or -EINVAL (bad name, unknown algorithm, secret empty or longer
 * than DNS_TSIG_SECRET_MAX).
 */
int dns_tsig_key_init(struct dns_tsig_key *k, const char *name, const char *alg,
                      const uint8_t *secret, size_t secret_len);

/* "hmac-sha256" etc. -> alg, or DNS_TSIG_ALG_NONE when unknown. */
enum dns_tsig_alg dns_tsig_alg_from_text(const char *s, size_t len);
/* Algorithm name as text ("hmac-sha256") or NULL. */
const char *dns_tsig_alg_name(enum dns_tsig_alg alg);
/* Algorithm name in wire form ("hmac-sha256." or "hmac-md5.sig-alg.reg.int.") */
const uint8_t *dns_tsig_alg_wire(enum dns_tsig_alg alg);
/* MAC length of `alg` in octets (0 when unknown). */
size_t dns_tsig_mac_len(enum dns_tsig_alg alg);

/*
 * Bytes a TSIG RR signed with `k` adds to a message at most (incl. 6 octets
 * of Other Data for BADTIME): give this to dns_msgw_reserve().
 */
size_t dns_tsig_reserve(const struct dns_tsig_key *k);

struct dns_tsig_ctx {
	const struct dns_tsig_key *key;  /* borrowed; must outlive the ctx */
	void *hmac;                      /* gnutls_hmac_hd_t, running digest */
	uint8_t mac[DNS_TSIG_MAC_MAX];   /* previous MAC (request or last message) */
	size_t mac_len;
	unsigned nmsg;                   /* messages signed or verified after the request */
	unsigned unsigned_run;           /* unsigned messages since the last signed one */
	bool have_request;               /* mac holds the request MAC */
	bool last_signed;
	bool failed;                     /* client: a verification failed */
	/* Server side after dns_tsig_verify_request(): */
	uint16_t error;                  /* TSIG error to answer (0, BADSIG, BADKEY, BADTIME) */
	uint64_t req_time;               /* Time Signed of the request */
	uint16_t req_id;                 /* Original ID of the request */
	uint8_t req_key[DNS_NAME_MAX];   /* key and algorithm names of the request, */
	uint8_t req_alg[DNS_NAME_MAX];   /* echoed in an unsigned error response */
};

/* Starts a transaction with `key` (client) or NULL (server, key from the request). */
void dns_tsig_ctx_init(struct dns_tsig_ctx *c, const struct dns_tsig_key *key);
/* Releases the HMAC handle; the ctx may be initialised again. */
void dns_tsig_ctx_clear(struct dns_tsig_ctx *c);

/*
 * Appends a TSIG RR to the message in `buf` (`len` bytes, `cap` available)
 * and increments ARCOUNT.  On a fresh client ctx this signs the request; after
 * dns_tsig_verify_request() it signs the next response message, chaining the previous
 * MAC (§5.3.1: full TSIG variables for the first response, timers only for
 * the rest).  With c->error BADKEY or BADSIG it appends an unsigned TSIG
 * (MAC size 0) carrying the error; with BADTIME a signed one whose Other
 * Data holds `now`.  The message must not already carry a TSIG.
 * Returns the new length, -EMSGSIZE (buffer unchanged), -EINVAL (no key),
 * ERR_FORMERR (buf is no DNS message), -ENOMEM (GnuTLS failed).
 */
ssize_t dns_tsig_sign(struct dns_tsig_ctx *c, uint8_t *buf, size_t len, size_t cap,
                      uint64_t now);

/*
 * Server: accounts for response message `buf` (`len` bytes) sent without a
 * TSIG, so the next signed message covers it (§5.3.1).  Only after the first
 * response was signed, and at most 99 in a row.  Returns 0, -EINVAL (not
 * allowed now) or -ERANGE (the next message must be signed).
 */
int dns_tsig_sign_skip(struct dns_tsig_ctx *c, const uint8_t *buf, size_t len);

/*
 * Server: verifies the TSIG of request `m` against `keys[0..nkeys)` (found
 * by name and algorithm) at time `now`.  Returns
 *   1               no TSIG in the request (nothing else done),
 *   0               signed and valid: dns_tsig_sign() signs the responses,
 *   ERR_TSIG_BADKEY unknown key or algorithm   } answer NOTAUTH (rcode 9)
 *   ERR_TSIG_BADSIG MAC wrong or truncated too far } with dns_tsig_sign(),
 *   ERR_TSIG_BADTIME outside the fudge          } which adds the error TSIG
 *   ERR_TSIG_FORMERR malformed TSIG (answer FORMERR without TSIG)
 * c->error holds the TSIG error code to answer.
 */
int dns_tsig_verify_request(struct dns_tsig_ctx *c, const struct dns_msg *m,
                            const struct dns_tsig_key *keys, size_t nkeys, uint64_t now);

/*
 * Client: verifies one response message `m` of the transaction (call for
 * every message, in order).  Returns 0 (signed and valid, or unsigned and
 * allowed: not the first and fewer than 100 unsigned in a row),
 * ERR_TSIG_BADSIG (MAC wrong, missing where required, wrong key name or
 * algorithm), ERR_TSIG_BADTIME (outside the fudge, or the peer answered
 * BADTIME), ERR_TSIG_BADKEY (the peer answered BADKEY), ERR_TSIG_FORMERR.
 * After an error the ctx accepts nothing more.
 */
int dns_tsig_verify(struct dns_tsig_ctx *c, const struct dns_msg *m, uint64_t now);

/*
 * Client: call after the last message of a multi-message response.  Returns
 * 0 when the last message was signed and valid, ERR_TSIG_BADSIG otherwise.
 */
int dns_tsig_verify_done(const struct dns_tsig_ctx *c);

/* TSIG error (16, 17, 18, 22) -> ERR_TSIG_* code; 0 for 0. */
int dns_tsig_error_code(uint16_t tsig_error);

#endif
