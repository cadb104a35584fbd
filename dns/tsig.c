/*
 * TSIG (RFC 8945) over GnuTLS HMAC.  A ctx keeps one running HMAC: after
 * every signed message (the request included) it is restarted and fed the
 * length and bytes of that message's MAC, so what follows (unsigned
 * messages verbatim, then the next signed message and its variables) is
 * exactly the digest input of §5.3.1.  The digest of a message covers its
 * header with the Original ID and an ARCOUNT without the TSIG, then the
 * bytes up to the TSIG RR.
 */
#include "dns/tsig.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns/rrtype.h"
#include "dns/wire.h"
#include "util/err.h"

#define MAX_UNSIGNED_RUN 99     /* §5.3.1: at least every 100th message is signed */

static const struct {
	enum dns_tsig_alg alg;
	const char *name;
	const uint8_t *wire;
	gnutls_mac_algorithm_t mac;
	size_t len;
} algs[] = {
	{DNS_TSIG_HMAC_SHA1, "hmac-sha1", (const uint8_t *)"\011hmac-sha1", GNUTLS_MAC_SHA1, 20},
	{DNS_TSIG_HMAC_SHA224, "hmac-sha224", (const uint8_t *)"\013hmac-sha224",
	 GNUTLS_MAC_SHA224, 28},
	{DNS_TSIG_HMAC_SHA256, "hmac-sha256", (const uint8_t *)"\013hmac-sha256",
	 GNUTLS_MAC_SHA256, 32},
	{DNS_TSIG_HMAC_SHA384, "hmac-sha384", (const uint8_t *)"\013hmac-sha384",
	 GNUTLS_MAC_SHA384, 48},
	{DNS_TSIG_HMAC_SHA512, "hmac-sha512", (const uint8_t *)"\013hmac-sha512",
	 GNUTLS_MAC_SHA512, 64},
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

static int
alg_index(enum dns_tsig_alg alg)
{
	for (size_t i = 0; i < NALGS; i++) {
		if (algs[i].alg == alg)
			return (int)i;
	}
	return -1;
}

enum dns_tsig_alg
dns_tsig_alg_from_text(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '.')
		len--;
	for (size_t i = 0; i < NALGS; i++) {
		if (strlen(algs[i].name) == len && strncasecmp(algs[i].name, s, len) == 0)
			return algs[i].alg;
	}
	return DNS_TSIG_ALG_NONE;
}

const char *
dns_tsig_alg_name(enum dns_tsig_alg alg)
{
	int i = alg_index(alg);
	return i < 0 ? NULL : algs[i].name;
}

const uint8_t *
dns_tsig_alg_wire(enum dns_tsig_alg alg)
{
	int i = alg_index(alg);
	return i < 0 ? NULL : algs[i].wire;
}

size_t
dns_tsig_mac_len(enum dns_tsig_alg alg)
{
	int i = alg_index(alg);
	return i < 0 ? 0 : algs[i].len;
}

static enum dns_tsig_alg
alg_from_wire(const uint8_t *name)
{
	for (size_t i = 0; i < NALGS; i++) {
		if (dns_name_equal(algs[i].wire, name))
			return algs[i].alg;
	}
	return DNS_TSIG_ALG_NONE;
}

static gnutls_mac_algorithm_t
gnutls_alg(enum dns_tsig_alg alg)
{
	int i = alg_index(alg);
	return i < 0 ? GNUTLS_MAC_UNKNOWN : algs[i].mac;
}

int
dns_tsig_key_init(struct dns_tsig_key *k, const char *name, const char *alg,
                  const uint8_t *secret, size_t secret_len)
{
	memset(k, 0, sizeof(*k));
	size_t nl = strlen(name);
	if (nl == 0 || dns_name_from_text(name, nl, NULL, k->name) < 0)
		return -EINVAL;
	dns_name_lower(k->name);
	k->alg = dns_tsig_alg_from_text(alg, strlen(alg));
	if (k->alg == DNS_TSIG_ALG_NONE)
		return -EINVAL;
	if (secret_len == 0 || secret_len > DNS_TSIG_SECRET_MAX)
		return -EINVAL;
	memcpy(k->secret, secret, secret_len);
	k->secret_len = secret_len;
	return 0;
}

static int
fail(char *err, size_t errcap, const char *what)
{
	if (err != NULL && errcap > 0)
		snprintf(err, errcap, "%s", what);
	return -EINVAL;
}

int
dns_tsig_key_parse(struct dns_tsig_key *k, const char *s, char *err, size_t errcap)
{
	memset(k, 0, sizeof(*k));
	const char *c1 = strchr(s, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	if (c1 == NULL || c2 == NULL)
		return fail(err, errcap, "TSIG key must be NAME:ALG:BASE64SECRET");
	const char *name = s, *alg = c1 + 1;
	size_t namelen = (size_t)(c1 - s), alglen = (size_t)(c2 - c1 - 1);
	/* dig's -y order ALG:NAME:SECRET is accepted too. */
	if (dns_tsig_alg_from_text(alg, alglen) == DNS_TSIG_ALG_NONE &&
	    dns_tsig_alg_from_text(name, namelen) != DNS_TSIG_ALG_NONE) {
		const char *t = name;
		size_t tl = namelen;
		name = alg;
		namelen = alglen;
		alg = t;
		alglen = tl;
	}
	if (namelen == 0 || dns_name_from_text(name, namelen, NULL, k->name) < 0)
		return fail(err, errcap, "TSIG key: bad key name");
	dns_name_lower(k->name);
	k->alg = dns_tsig_alg_from_text(alg, alglen);
	if (k->alg == DNS_TSIG_ALG_NONE)
		return fail(err, errcap, "TSIG key: unknown algorithm (hmac-sha256, hmac-sha512, ...)");
	const char *b64 = c2 + 1;
	gnutls_datum_t in = {(unsigned char *)(uintptr_t)b64, (unsigned)strlen(b64)};
	gnutls_datum_t out = {NULL, 0};
	if (in.size == 0 || gnutls_base64_decode2(&in, &out) != 0)
		return fail(err, errcap, "TSIG key: secret is not valid base64");
	int ret = 0;
	if (out.size == 0 || out.size > DNS_TSIG_SECRET_MAX)
		ret = fail(err, errcap, "TSIG key: secret empty or too long");
	else
		memcpy(k->secret, out.data, out.size);
	k->secret_len = ret == 0 ? out.size : 0;
	gnutls_memset(out.data, 0, out.size);
	gnutls_free(out.data);
	return ret;
}

int
dns_tsig_key_parse_text(struct dns_tsig_key *k, const char *text, size_t len, char *err,
                        size_t errcap)
{
	char buf[DNS_TSIG_TEXT_MAX + 1];
	memset(k, 0, sizeof(*k));
	if (len > DNS_TSIG_TEXT_MAX) {
		fail(err, errcap, "key file longer than 4096 bytes");
		return -EMSGSIZE;
	}
	if (memchr(text, '\0', len) != NULL)
		return fail(err, errcap, "key file holds a NUL byte");
	memcpy(buf, text, len);
	buf[len] = '\0';
	const char *key = NULL;
	unsigned lines = 0;
	for (char *line = buf, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line += strspn(line, " \t");
		size_t l = strlen(line);
		while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		lines++;
		key = line;
	}
	int ret;
	if (lines == 0)
		ret = fail(err, errcap, "holds no key; expected one line NAME:ALG:BASE64SECRET");
	else if (lines > 1)
		ret = fail(err, errcap, "holds more than one line; expected one line "
		           "NAME:ALG:BASE64SECRET");
	else
		ret = dns_tsig_key_parse(k, key, err, errcap);
	gnutls_memset(buf, 0, sizeof(buf));
	return ret;
}

size_t
dns_tsig_reserve(const struct dns_tsig_key *k)
{
	const uint8_t *aw = dns_tsig_alg_wire(k->alg);
	size_t al = aw != NULL ? dns_name_len(aw) : DNS_NAME_MAX;
	/* owner + type/class/ttl/rdlen + alg + time/fudge/maclen + mac + id/error/otherlen + other */
	return dns_name_len(k->name) + 10 + al + 10 + dns_tsig_mac_len(k->alg) + 6 + 6;
}

int
dns_tsig_error_code(uint16_t tsig_error)
{
	switch (tsig_error) {
	case 0: return 0;
	case DNS_RCODE_BADSIG: return ERR_TSIG_BADSIG;
	case DNS_RCODE_BADKEY: return ERR_TSIG_BADKEY;
	case DNS_RCODE_BADTIME: return ERR_TSIG_BADTIME;
	default: return ERR_TSIG_BADSIG;   /* BADTRUNC and unknown errors */
	}
}

void
dns_tsig_ctx_init(struct dns_tsig_ctx *c, const struct dns_tsig_key *key)
{
	memset(c, 0, sizeof(*c));
	c->key = key;
}

void
dns_tsig_ctx_clear(struct dns_tsig_ctx *c)
{
	if (c->hmac != NULL)
		gnutls_hmac_deinit((gnutls_hmac_hd_t)c->hmac, NULL);
	gnutls_memset(c->mac, 0, sizeof(c->mac));
	c->hmac = NULL;
}

/* Starts (or restarts) the running HMAC with `key`.  0 or -ENOMEM. */
static int
hmac_start(struct dns_tsig_ctx *c, const struct dns_tsig_key *key)
{
	if (c->hmac != NULL)
		gnutls_hmac_deinit((gnutls_hmac_hd_t)c->hmac, NULL);
	c->hmac = NULL;
	gnutls_hmac_hd_t h;
	if (gnutls_hmac_init(&h, gnutls_alg(key->alg), key->secret, key->secret_len) != 0)
		return -ENOMEM;
	c->hmac = h;
	return 0;
}

static void
hmac_feed(struct dns_tsig_ctx *c, const void *p, size_t n)
{
	if (n > 0)
		gnutls_hmac((gnutls_hmac_hd_t)c->hmac, p, n);
}

/* Output the MAC, which resets the HMAC, then feed it as the next prefix. */
static void
hmac_finish(struct dns_tsig_ctx *c, uint8_t *mac, size_t maclen)
{
	gnutls_hmac_output((gnutls_hmac_hd_t)c->hmac, mac);
	memcpy(c->mac, mac, maclen);
	c->mac_len = maclen;
	uint8_t l[2];
	wr_u16(l, (uint16_t)maclen);
	hmac_feed(c, l, 2);
	hmac_feed(c, mac, maclen);
}

/* Sets the running prefix to a MAC received from the peer. */
static void
hmac_prefix(struct dns_tsig_ctx *c, const uint8_t *mac, size_t maclen)
{
	memcpy(c->mac, mac, maclen);
	c->mac_len = maclen;
	uint8_t l[2];
	wr_u16(l, (uint16_t)maclen);
	hmac_feed(c, l, 2);
	hmac_feed(c, mac, maclen);
}

/* Feeds the message without its TSIG: header with `id` and ARCOUNT `ar`, then the body. */
static void
feed_msg(struct dns_tsig_ctx *c, const uint8_t *pkt, size_t len, uint16_t id, uint16_t ar)
{
	uint8_t hdr[DNS_HDR_LEN];
	memcpy(hdr, pkt, DNS_HDR_LEN);
	wr_u16(hdr, id);
	wr_u16(hdr + 10, ar);
	hmac_feed(c, hdr, DNS_HDR_LEN);
	hmac_feed(c, pkt + DNS_HDR_LEN, len - DNS_HDR_LEN);
}

struct vars {
	const uint8_t *key;     /* wire names, any case (lowercased when fed) */
	const uint8_t *alg;
	uint64_t time;
	uint16_t fudge;
	uint16_t error;
	const uint8_t *other;
	uint16_t other_len;
};

static void
feed_timers(struct dns_tsig_ctx *c, const struct vars *v)
{
	uint8_t t[8];
	wr_u16(t, (uint16_t)(v->time >> 32));
	wr_u32(t + 2, (uint32_t)v->time);
	wr_u16(t + 6, v->fudge);
	hmac_feed(c, t, 8);
}

static void
feed_vars(struct dns_tsig_ctx *c, const struct vars *v)
{
	uint8_t name[DNS_NAME_MAX];
	size_t nl = dns_name_len(v->key);
	memcpy(name, v->key, nl);
	dns_name_lower(name);
	hmac_feed(c, name, nl);
	uint8_t cls[6];
	wr_u16(cls, DNS_C_ANY);
	wr_u32(cls + 2, 0);
	hmac_feed(c, cls, 6);
	nl = dns_name_len(v->alg);
	memcpy(name, v->alg, nl);
	dns_name_lower(name);
	hmac_feed(c, name, nl);
	feed_timers(c, v);
	uint8_t e[4];
	wr_u16(e, v->error);
	wr_u16(e + 2, v->other_len);
	hmac_feed(c, e, 4);
	hmac_feed(c, v->other, v->other_len);
}

static bool
mac_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static bool
time_ok(uint64_t now, uint64_t signed_at, uint16_t fudge)
{
	return now <= signed_at + fudge && signed_at <= now + fudge;
}

/* RFC 8945 §5.2.2.1: a MAC longer than the hash or shorter than max(10, half) is FORMERR. */
static bool
mac_len_ok(size_t got, size_t full)
{
	size_t min = full / 2 > 10 ? full / 2 : 10;
	return got <= full && got >= min;
}

ssize_t
dns_tsig_sign(struct dns_tsig_ctx *c, uint8_t *buf, size_t len, size_t cap, uint64_t now)
{
	if (len < DNS_HDR_LEN || len > DNS_MSG_MAX)
		return ERR_FORMERR;
	if (cap > DNS_MSG_MAX)
		cap = DNS_MSG_MAX;
	uint16_t ar = rd_u16(buf + 10);
	if (ar == 0xffff)
		return -EMSGSIZE;
	bool unsigned_error = c->error == DNS_RCODE_BADKEY || c->error == DNS_RCODE_BADSIG;
	const struct dns_tsig_key *k = c->key;
	if (!unsigned_error && k == NULL)
		return -EINVAL;

	struct vars v = {0};
	uint8_t other[6];
	v.key = unsigned_error ? c->req_key : k->name;
	v.alg = unsigned_error ? c->req_alg : dns_tsig_alg_wire(k->alg);
	v.time = now & 0xffffffffffffULL;
	v.fudge = DNS_TSIG_FUDGE;
	v.error = c->error;
	if (c->error == DNS_RCODE_BADTIME && c->nmsg == 0) {
		/* §5.2.3: the request's Time Signed, our time in Other Data. */
		v.time = c->req_time;
		wr_u16(other, (uint16_t)(now >> 32));
		wr_u32(other + 2, (uint32_t)now);
		v.other = other;
		v.other_len = 6;
	}
	size_t maclen = unsigned_error ? 0 : dns_tsig_mac_len(k->alg);
	size_t need = dns_name_len(v.key) + 10 + dns_name_len(v.alg) + 10 + maclen + 6 + v.other_len;
	if (cap < len || cap - len < need)
		return -EMSGSIZE;
	uint16_t id = rd_u16(buf);

	uint8_t mac[DNS_TSIG_MAC_MAX];
	if (!unsigned_error) {
		bool first = !c->have_request;
		if (first) {
			/* A request (client): nothing chained before it. */
			int ret = hmac_start(c, k);
			if (ret != 0)
				return ret;
		}
		feed_msg(c, buf, len, id, ar);
		if (first || c->nmsg == 0)
			feed_vars(c, &v);
		else
			feed_timers(c, &v);
		hmac_finish(c, mac, maclen);
		if (first)
			c->have_request = true;
		else
			c->nmsg++;
		c->unsigned_run = 0;
		c->last_signed = true;
	}

	struct wire w;
	wire_init_w(&w, buf + len, cap - len);
	wire_write(&w, v.key, dns_name_len(v.key));
	wire_put_u16(&w, DNS_T_TSIG);
	wire_put_u16(&w, DNS_C_ANY);
	wire_put_u32(&w, 0);
	size_t rdlen_at = w.pos;
	wire_put_u16(&w, 0);
	size_t rd = w.pos;
	wire_write(&w, v.alg, dns_name_len(v.alg));
	wire_put_u16(&w, (uint16_t)(v.time >> 32));
	wire_put_u32(&w, (uint32_t)v.time);
	wire_put_u16(&w, v.fudge);
	wire_put_u16(&w, (uint16_t)maclen);
	wire_write(&w, mac, maclen);
	wire_put_u16(&w, id);
	wire_put_u16(&w, v.error);
	wire_put_u16(&w, v.other_len);
	wire_write(&w, v.other, v.other_len);
	if (w.err)
		return -EMSGSIZE;   /* cannot happen: `need` was checked */
	wr_u16(buf + len + rdlen_at, (uint16_t)(w.pos - rd));
	wr_u16(buf + 10, (uint16_t)(ar + 1));
	return (ssize_t)(len + w.pos);
}

int
dns_tsig_sign_skip(struct dns_tsig_ctx *c, const uint8_t *buf, size_t len)
{
	if (c->key == NULL || c->hmac == NULL || !c->have_request || c->error != 0 || c->nmsg == 0)
		return -EINVAL;
	if (c->unsigned_run >= MAX_UNSIGNED_RUN)
		return -ERANGE;
	hmac_feed(c, buf, len);
	c->unsigned_run++;
	c->nmsg++;
	c->last_signed = false;
	return 0;
}

static const struct dns_tsig_key *
find_key(const struct dns_tsig_key *keys, size_t nkeys, const uint8_t *name, const uint8_t *alg)
{
	enum dns_tsig_alg a = alg_from_wire(alg);
	if (a == DNS_TSIG_ALG_NONE)
		return NULL;
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].alg == a && dns_name_equal(keys[i].name, name))
			return &keys[i];
	}
	return NULL;
}

/* Computes the MAC of message `m` with variables `v`, feeding after the running prefix. */
static void
digest_msg(struct dns_tsig_ctx *c, const struct dns_msg *m, bool full, uint8_t *out)
{
	const struct dns_msg_tsig *t = &m->tsig;
	feed_msg(c, m->pkt, t->off, t->orig_id, (uint16_t)(m->count[DNS_SEC_AR] - 1));
	struct vars v = {t->key, t->alg, t->time_signed, t->fudge, t->error, t->other,
	                 t->other_len};
	if (full)
		feed_vars(c, &v);
	else
		feed_timers(c, &v);
	gnutls_hmac_output((gnutls_hmac_hd_t)c->hmac, out);
}

int
dns_tsig_verify_request(struct dns_tsig_ctx *c, const struct dns_msg *m,
                        const struct dns_tsig_key *keys, size_t nkeys, uint64_t now)
{
	if (!m->has_tsig)
		return 1;
	const struct dns_msg_tsig *t = &m->tsig;
	c->req_time = t->time_signed;
	c->req_id = t->orig_id;
	memcpy(c->req_key, t->key, dns_name_len(t->key));
	memcpy(c->req_alg, t->alg, dns_name_len(t->alg));
	c->have_request = true;
	c->nmsg = 0;
	const struct dns_tsig_key *k = find_key(keys, nkeys, t->key, t->alg);
	if (k == NULL) {
		c->error = DNS_RCODE_BADKEY;
		return ERR_TSIG_BADKEY;
	}
	size_t full = dns_tsig_mac_len(k->alg);
	if (!mac_len_ok(t->mac_len, full)) {
		c->error = 0;
		return ERR_TSIG_FORMERR;
	}
	int ret = hmac_start(c, k);
	if (ret != 0)
		return ret;
	uint8_t mac[DNS_TSIG_MAC_MAX];
	digest_msg(c, m, true, mac);
	if (!mac_equal(mac, t->mac, t->mac_len)) {
		c->error = DNS_RCODE_BADSIG;
		return ERR_TSIG_BADSIG;
	}
	/* The request MAC as received (maybe truncated) starts the response chain. */
	c->key = k;
	hmac_prefix(c, t->mac, t->mac_len);
	if (!time_ok(now, t->time_signed, t->fudge)) {
		c->error = DNS_RCODE_BADTIME;
		return ERR_TSIG_BADTIME;
	}
	c->error = 0;
	return 0;
}

static int
verify_fail(struct dns_tsig_ctx *c, int code)
{
	c->failed = true;    /* the ctx accepts nothing more */
	c->last_signed = false;
	return code;
}

int
dns_tsig_verify(struct dns_tsig_ctx *c, const struct dns_msg *m, uint64_t now)
{
	if (c->failed || c->key == NULL || !c->have_request || c->hmac == NULL)
		return ERR_TSIG_BADSIG;
	if (!m->has_tsig) {
		if (c->nmsg == 0 || c->unsigned_run >= MAX_UNSIGNED_RUN)
			return verify_fail(c, ERR_TSIG_BADSIG);
		hmac_feed(c, m->pkt, m->end);
		c->unsigned_run++;
		c->nmsg++;
		c->last_signed = false;
		return 0;
	}
	const struct dns_msg_tsig *t = &m->tsig;
	if (t->error != 0 && t->mac_len == 0)
		return verify_fail(c, dns_tsig_error_code(t->error));   /* unsigned error answer */
	if (!dns_name_equal(t->key, c->key->name) || alg_from_wire(t->alg) != c->key->alg)
		return verify_fail(c, ERR_TSIG_BADKEY);
	if (!mac_len_ok(t->mac_len, dns_tsig_mac_len(c->key->alg)))
		return verify_fail(c, ERR_TSIG_FORMERR);
	uint8_t mac[DNS_TSIG_MAC_MAX];
	digest_msg(c, m, c->nmsg == 0, mac);
	if (!mac_equal(mac, t->mac, t->mac_len))
		return verify_fail(c, ERR_TSIG_BADSIG);
	if (t->error != 0)
		return verify_fail(c, dns_tsig_error_code(t->error));
	if (!time_ok(now, t->time_signed, t->fudge))
		return verify_fail(c, ERR_TSIG_BADTIME);
	hmac_prefix(c, t->mac, t->mac_len);
	c->nmsg++;
	c->unsigned_run = 0;
	c->last_signed = true;
	return 0;
}

int
dns_tsig_verify_done(const struct dns_tsig_ctx *c)
{
	if (c->failed || c->nmsg == 0 || !c->last_signed)
		return ERR_TSIG_BADSIG;
	return 0;
}
