/*
 * RDATA presentation <-> wire.  Each supported type is described by a list
 * of fields (struct rdesc); one walker per direction interprets the list,
 * so adding a type is one table row.  LOC and SvcParams have a grammar of
 * their own (dns/rdata_loc.c, dns/rdata_svcb.c).
 *
 * Invariants: wire rdata produced here is uncompressed and passes
 * dns_rdata_check(); text output is BIND 9.18's (named-checkzone -D) form
 * on one line; RFC 3597 "\# len hex" is accepted for every type and, for a
 * type we know, must also validate for it.  Nothing here allocates.
 */
#include "dns/rdata.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "dns/name.h"
#include "dns/rdata_int.h"
#include "dns/rrtype.h"
#include "dns/wire.h"
#include "util/base.h"
#include "util/err.h"

/* Field kinds.  Name kinds differ in compression and canonical case. */
enum {
	F_END,
	F_U8,
	F_U16,
	F_U32,
	F_PERIOD,   /* u32, text may use TTL units (1h30m) */
	F_NAME_C,   /* compressible, lowercased, decompressed (RFC 1035 types) */
	F_NAME_L,   /* lowercased, decompressed on receipt only (RFC 3597 §4) */
	F_NAME_LV,  /* lowercased (RFC 4034 §6.2), never compressed (DNAME, KX) */
	F_NAME,     /* case kept, never compressed (NSEC: RFC 6840 §5.1; SVCB) */
	F_A,
	F_AAAA,
	F_STR,      /* one <character-string> */
	F_STRS,     /* one or more <character-string>s to the end */
	F_B64,      /* base64 to the end */
	F_HEX,      /* hex to the end */
	F_TYPE,     /* RR type mnemonic as u16 */
	F_TIME,     /* RRSIG time, u32 */
	F_BITMAP,   /* NSEC type bitmap to the end */
	F_SALT,     /* u8 length + hex, '-' for none */
	F_B32,      /* u8 length + base32hex */
	F_ALG,      /* DNSSEC algorithm number or mnemonic, u8 */
	F_DIGEST,   /* DS digest type number or mnemonic, u8 */
	F_CAATAG,   /* u8 length + alphanumeric tag */
	F_CAAVAL,   /* one string to the end, no length octet */
	F_QSTR,     /* the same, but quoted in text (URI target) */
	F_LOC,      /* the whole LOC rdata */
	F_SVCPARAMS,/* SvcParams to the end */
	F_ILNP64,   /* 64-bit ILNP locator/node id, "xxxx:xxxx:xxxx:xxxx" (RFC 6742) */
	F_EUI48,    /* "xx-xx-xx-xx-xx-xx" (RFC 7043) */
	F_EUI64,    /* "xx-xx-xx-xx-xx-xx-xx-xx" */
	F_SCHEME,   /* DSYNC scheme, u8, 1 is NOTIFY */
	F_KEYDATA,  /* KEY's base64 key: absent when the flags say "no key" */
	F_STR_OPT,  /* an optional last <character-string> (ISDN subaddress) */
	F_NSAP,     /* "0x" and hex digits, dots allowed (RFC 1706) */
	F_CERTTYPE, /* CERT type, u16, mnemonic when known (RFC 4398) */
	F_ALGM,     /* DNSSEC algorithm printed as its mnemonic (CERT) */
	F_DOADATA,  /* base64, or "-" when empty (DOA) */
	F_IPSECKEY, /* the whole rdata: dns/rdata_misc.c */
	F_AMTRELAY, /* the whole rdata: dns/rdata_misc.c */
	F_APL,      /* the whole rdata: dns/rdata_misc.c */
	F_HIP,      /* the whole rdata: dns/rdata_misc.c */
	F_WKS,      /* the whole rdata: dns/rdata_misc.c */
};

struct field {
	uint8_t kind;
	const char *name;
};

struct rdesc {
	uint16_t type;
	struct field f[10];
};

/* Sorted by type (find_desc is a binary search). */
static const struct rdesc descs[] = {
	{ DNS_T_A, { { F_A, "address" } } },
	{ DNS_T_NS, { { F_NAME_C, "nameserver" } } },
	{ DNS_T_MD, { { F_NAME_C, "host" } } },
	{ DNS_T_MF, { { F_NAME_C, "host" } } },
	{ DNS_T_CNAME, { { F_NAME_C, "target" } } },
	{ DNS_T_SOA, { { F_NAME_C, "mname" }, { F_NAME_C, "rname" }, { F_U32, "serial" },
	               { F_PERIOD, "refresh" }, { F_PERIOD, "retry" }, { F_PERIOD, "expire" },
	               { F_PERIOD, "minimum" } } },
	{ DNS_T_MB, { { F_NAME_C, "mailbox" } } },
	{ DNS_T_MG, { { F_NAME_C, "mailbox" } } },
	{ DNS_T_MR, { { F_NAME_C, "mailbox" } } },
	{ DNS_T_WKS, { { F_WKS, "address" } } },
	{ DNS_T_PTR, { { F_NAME_C, "target" } } },
	{ DNS_T_HINFO, { { F_STR, "cpu" }, { F_STR, "os" } } },
	{ DNS_T_MINFO, { { F_NAME_C, "rmailbx" }, { F_NAME_C, "emailbx" } } },
	{ DNS_T_MX, { { F_U16, "preference" }, { F_NAME_C, "exchange" } } },
	{ DNS_T_TXT, { { F_STRS, "text" } } },
	{ DNS_T_RP, { { F_NAME_L, "mailbox" }, { F_NAME_L, "text name" } } },
	{ DNS_T_AFSDB, { { F_U16, "subtype" }, { F_NAME_L, "hostname" } } },
	{ DNS_T_X25, { { F_STR, "PSDN address" } } },
	{ DNS_T_ISDN, { { F_STR, "ISDN address" }, { F_STR_OPT, "subaddress" } } },
	{ DNS_T_RT, { { F_U16, "preference" }, { F_NAME_L, "host" } } },
	{ DNS_T_NSAP, { { F_NSAP, "NSAP" } } },
	{ DNS_T_NSAP_PTR, { { F_NAME, "owner" } } },
	{ DNS_T_SIG, { { F_TYPE, "type covered" }, { F_ALG, "algorithm" }, { F_U8, "labels" },
	               { F_U32, "original TTL" }, { F_TIME, "expiration" },
	               { F_TIME, "inception" }, { F_U16, "key tag" }, { F_NAME_L, "signer" },
	               { F_B64, "signature" } } },
	{ DNS_T_KEY, { { F_U16, "flags" }, { F_U8, "protocol" }, { F_ALG, "algorithm" },
	               { F_KEYDATA, "public key" } } },
	{ DNS_T_PX, { { F_U16, "preference" }, { F_NAME_L, "map822" }, { F_NAME_L, "mapx400" } } },
	{ DNS_T_GPOS, { { F_STR, "longitude" }, { F_STR, "latitude" }, { F_STR, "altitude" } } },
	{ DNS_T_AAAA, { { F_AAAA, "address" } } },
	{ DNS_T_LOC, { { F_LOC, "location" } } },
	{ DNS_T_EID, { { F_HEX, "endpoint id" } } },
	{ DNS_T_NIMLOC, { { F_HEX, "locator" } } },
	{ DNS_T_SRV, { { F_U16, "priority" }, { F_U16, "weight" }, { F_U16, "port" },
	               { F_NAME_L, "target" } } },
	{ DNS_T_NAPTR, { { F_U16, "order" }, { F_U16, "preference" }, { F_STR, "flags" },
	                 { F_STR, "services" }, { F_STR, "regexp" }, { F_NAME_L, "replacement" } } },
	{ DNS_T_KX, { { F_U16, "preference" }, { F_NAME_LV, "exchanger" } } },
	{ DNS_T_CERT, { { F_CERTTYPE, "type" }, { F_U16, "key tag" }, { F_ALGM, "algorithm" },
	                { F_B64, "certificate" } } },
	{ DNS_T_DNAME, { { F_NAME_LV, "target" } } },
	{ DNS_T_APL, { { F_APL, "items" } } },
	{ DNS_T_DS, { { F_U16, "key tag" }, { F_ALG, "algorithm" }, { F_DIGEST, "digest type" },
	              { F_HEX, "digest" } } },
	{ DNS_T_SSHFP, { { F_U8, "algorithm" }, { F_U8, "fingerprint type" },
	                 { F_HEX, "fingerprint" } } },
	{ DNS_T_IPSECKEY, { { F_IPSECKEY, "gateway" } } },
	{ DNS_T_RRSIG, { { F_TYPE, "type covered" }, { F_ALG, "algorithm" }, { F_U8, "labels" },
	                 { F_U32, "original TTL" }, { F_TIME, "expiration" },
	                 { F_TIME, "inception" }, { F_U16, "key tag" }, { F_NAME_LV, "signer" },
	                 { F_B64, "signature" } } },
	{ DNS_T_NSEC, { { F_NAME, "next name" }, { F_BITMAP, "type bitmap" } } },
	{ DNS_T_DNSKEY, { { F_U16, "flags" }, { F_U8, "protocol" }, { F_ALG, "algorithm" },
	                  { F_B64, "public key" } } },
	{ DNS_T_DHCID, { { F_B64, "digest" } } },
	{ DNS_T_NSEC3, { { F_U8, "hash algorithm" }, { F_U8, "flags" }, { F_U16, "iterations" },
	                 { F_SALT, "salt" }, { F_B32, "next hashed owner" },
	                 { F_BITMAP, "type bitmap" } } },
	{ DNS_T_NSEC3PARAM, { { F_U8, "hash algorithm" }, { F_U8, "flags" },
	                      { F_U16, "iterations" }, { F_SALT, "salt" } } },
	{ DNS_T_TLSA, { { F_U8, "usage" }, { F_U8, "selector" }, { F_U8, "matching type" },
	                { F_HEX, "certificate data" } } },
	{ DNS_T_SMIMEA, { { F_U8, "usage" }, { F_U8, "selector" }, { F_U8, "matching type" },
	                  { F_HEX, "certificate data" } } },
	{ DNS_T_HIP, { { F_HIP, "HIT" } } },
	{ DNS_T_NINFO, { { F_STRS, "text" } } },
	{ DNS_T_TALINK, { { F_NAME, "previous name" }, { F_NAME, "next name" } } },
	{ DNS_T_CDS, { { F_U16, "key tag" }, { F_ALG, "algorithm" }, { F_DIGEST, "digest type" },
	               { F_HEX, "digest" } } },
	{ DNS_T_CDNSKEY, { { F_U16, "flags" }, { F_U8, "protocol" }, { F_ALG, "algorithm" },
	                   { F_B64, "public key" } } },
	{ DNS_T_OPENPGPKEY, { { F_B64, "public key" } } },
	{ DNS_T_CSYNC, { { F_U32, "serial" }, { F_U16, "flags" }, { F_BITMAP, "type bitmap" } } },
	{ DNS_T_ZONEMD, { { F_U32, "serial" }, { F_U8, "scheme" }, { F_U8, "hash algorithm" },
	                  { F_HEX, "digest" } } },
	{ DNS_T_SVCB, { { F_U16, "priority" }, { F_NAME, "target" }, { F_SVCPARAMS, "params" } } },
	{ DNS_T_HTTPS, { { F_U16, "priority" }, { F_NAME, "target" }, { F_SVCPARAMS, "params" } } },
	{ DNS_T_DSYNC, { { F_TYPE, "type" }, { F_SCHEME, "scheme" }, { F_U16, "port" },
	                 { F_NAME, "target" } } },
	{ DNS_T_HHIT, { { F_B64, "HHIT" } } },
	{ DNS_T_BRID, { { F_B64, "BRID" } } },
	{ DNS_T_SPF, { { F_STRS, "text" } } },
	{ DNS_T_NID, { { F_U16, "preference" }, { F_ILNP64, "node id" } } },
	{ DNS_T_L32, { { F_U16, "preference" }, { F_A, "locator" } } },
	{ DNS_T_L64, { { F_U16, "preference" }, { F_ILNP64, "locator" } } },
	{ DNS_T_LP, { { F_U16, "preference" }, { F_NAME, "fqdn" } } },
	{ DNS_T_EUI48, { { F_EUI48, "address" } } },
	{ DNS_T_EUI64, { { F_EUI64, "address" } } },
	{ DNS_T_URI, { { F_U16, "priority" }, { F_U16, "weight" }, { F_QSTR, "target" } } },
	{ DNS_T_CAA, { { F_U8, "flags" }, { F_CAATAG, "tag" }, { F_CAAVAL, "value" } } },
	{ DNS_T_AVC, { { F_STRS, "text" } } },
	{ DNS_T_DOA, { { F_U32, "enterprise" }, { F_U32, "type" }, { F_U8, "location" },
	               { F_STR, "media type" }, { F_DOADATA, "data" } } },
	{ DNS_T_AMTRELAY, { { F_AMTRELAY, "relay" } } },
	{ DNS_T_RESINFO, { { F_STRS, "text" } } },
	{ DNS_T_WALLET, { { F_STRS, "text" } } },
	{ DNS_T_TA, { { F_U16, "key tag" }, { F_ALG, "algorithm" }, { F_DIGEST, "digest type" },
	              { F_HEX, "digest" } } },
	{ DNS_T_DLV, { { F_U16, "key tag" }, { F_ALG, "algorithm" }, { F_DIGEST, "digest type" },
	               { F_HEX, "digest" } } },
};

/* descs[] is sorted by type: a binary search finds the row. */
static const struct rdesc *
find_desc(uint16_t type)
{
	size_t lo = 0, hi = sizeof(descs) / sizeof(descs[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (descs[mid].type == type)
			return &descs[mid];
		if (descs[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool
dns_rdata_known(uint16_t type)
{
	return find_desc(type) != NULL;
}

/* ---- shared helpers ---------------------------------------------------- */

const char *
rd_tname(uint16_t type, char *buf, size_t cap)
{
	if (dns_rrtype_to_text(type, buf, cap) < 0 && cap > 0)
		buf[0] = '\0';
	return buf;
}

int
rd_fail(struct rd_pctx *c, size_t tok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->e->what, sizeof(c->e->what), fmt, ap);
	va_end(ap);
	c->e->tok = tok;
	return ERR_RDATA;
}

void
rd_putc(struct rd_tbuf *b, char c)
{
	if (b->over || b->n + 1 >= b->cap) {
		b->over = true;
		return;
	}
	b->p[b->n++] = c;
}

void
rd_puts(struct rd_tbuf *b, const char *s, size_t len)
{
	if (b->over || b->cap - b->n <= len) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
}

void
rd_printf(struct rd_tbuf *b, const char *fmt, ...)
{
	if (b->over)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= b->cap - b->n) {
		b->over = true;
		return;
	}
	b->n += (size_t)r;
}

void
rd_putu(struct rd_tbuf *b, uint32_t v)
{
	char tmp[10];
	size_t n = 0;
	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	rd_puts(b, tmp + sizeof(tmp) - n, n);
}

void
rd_put_escaped(struct rd_tbuf *b, const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = s[i];
		if (ch < 0x20 || ch >= 0x7f) {
			char e[4] = { '\\', (char)('0' + ch / 100), (char)('0' + ch / 10 % 10),
			              (char)('0' + ch % 10) };
			rd_puts(b, e, 4);
		} else {
			if (ch == '"' || ch == '\\')
				rd_putc(b, '\\');
			rd_putc(b, (char)ch);
		}
	}
}

static void
put_qstring(struct rd_tbuf *b, const uint8_t *s, size_t len)
{
	rd_putc(b, '"');
	rd_put_escaped(b, s, len);
	rd_putc(b, '"');
}

static void
put_hex(struct rd_tbuf *b, const uint8_t *p, size_t len)
{
	char tmp[57];
	/* encode 28 octets (56 digits) at a time to keep the stack small */
	for (size_t i = 0; i < len; i += 28) {
		size_t k = len - i < 28 ? len - i : 28;
		hex_encode(p + i, k, true, tmp, sizeof(tmp));
		if (i > 0)
			rd_putc(b, ' ');
		rd_puts(b, tmp, 2 * k);
	}
}

static void
put_b64(struct rd_tbuf *b, const uint8_t *p, size_t len)
{
	char tmp[57];
	/* 42 octets are exactly 56 base64 characters */
	for (size_t i = 0; i < len; i += 42) {
		size_t k = len - i < 42 ? len - i : 42;
		int m = base64_encode(p + i, k, tmp, sizeof(tmp));
		if (i > 0)
			rd_putc(b, ' ');
		rd_puts(b, tmp, (size_t)m);
	}
}

/* ---- numbers and times ------------------------------------------------- */

/* Decimal without sign, at most `max`.  Returns 0, -EINVAL or -ERANGE. */
static int
parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	if (len == 0)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > 0xffffffffull)
			return -ERANGE;
	}
	if (v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* TTL-style period: "3600", "1h30m", "1w" (units w d h m s, any case). */
static int
parse_period(const char *s, size_t len, uint32_t *out)
{
	if (len == 0)
		return -EINVAL;
	if (s[len - 1] >= '0' && s[len - 1] <= '9') {
		/* plain number, or units followed by a bare number is not allowed */
		bool units = false;
		for (size_t i = 0; i < len; i++)
			if (s[i] < '0' || s[i] > '9')
				units = true;
		if (!units)
			return parse_uint(s, len, 0xffffffffu, out);
		return -EINVAL;
	}
	uint64_t total = 0, cur = 0;
	bool digits = false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch >= '0' && ch <= '9') {
			cur = cur * 10 + (uint64_t)(ch - '0');
			if (cur > 0xffffffffull)
				return -ERANGE;
			digits = true;
			continue;
		}
		if (!digits)
			return -EINVAL;
		uint64_t mul;
		switch (ch | 0x20) {
		case 'w': mul = 604800; break;
		case 'd': mul = 86400; break;
		case 'h': mul = 3600; break;
		case 'm': mul = 60; break;
		case 's': mul = 1; break;
		default: return -EINVAL;
		}
		total += cur * mul;
		if (total > 0xffffffffull)
			return -ERANGE;
		cur = 0;
		digits = false;
	}
	*out = (uint32_t)total;
	return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * RRSIG time: up to 10 digits is seconds since the epoch (RFC 4034 §3.2),
 * otherwise YYYYMMDDHHmmSS, reduced modulo 2^32 as BIND does.
 */
static int
parse_time(const char *s, size_t len, uint32_t *out)
{
	if (len <= 10)
		return parse_uint(s, len, 0xffffffffu, out);
	if (len != 14)
		return -EINVAL;
	unsigned v[6];
	static const unsigned w[6] = { 4, 2, 2, 2, 2, 2 };
	size_t pos = 0;
	for (int i = 0; i < 6; i++) {
		v[i] = 0;
		for (unsigned k = 0; k < w[i]; k++, pos++) {
			if (s[pos] < '0' || s[pos] > '9')
				return -EINVAL;
			v[i] = v[i] * 10 + (unsigned)(s[pos] - '0');
		}
	}
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	/*
	 * Years before 1970 are allowed: BIND prints such times for values
	 * far behind the current 136-year window, and they must read back.
	 */
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 || v[4] > 59 ||
	    v[5] > 60)
		return -ERANGE;
	unsigned md = mdays[v[1] - 1] + (v[1] == 2 && is_leap(v[0]));
	if (v[2] > md)
		return -ERANGE;
	int64_t t = days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
	*out = (uint32_t)t;
	return 0;
}

/*
 * Prints a 32-bit time as YYYYMMDDHHmmSS in the 136-year window centred on
 * now (RFC 4034 §3.1.5 serial arithmetic), exactly as BIND does.
 */
static void
put_time(struct rd_tbuf *b, uint32_t v)
{
	uint32_t now = (uint32_t)time(NULL);
	int64_t t;
	if ((int32_t)(v - now) > 0)
		t = (int64_t)now + (uint32_t)(v - now);
	else
		t = (int64_t)now - (uint32_t)(now - v);
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t secs = t - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	rd_printf(b, "%04lld%02u%02u%02u%02u%02u", (long long)y, m, d, (unsigned)(secs / 3600),
	          (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

static const struct {
	uint8_t num;
	const char *name;
} algs[] = {
	{ 1, "RSAMD5" }, { 2, "DH" }, { 3, "DSA" }, { 5, "RSASHA1" },
	{ 6, "NSEC3DSA" }, { 7, "NSEC3RSASHA1" }, { 8, "RSASHA256" }, { 10, "RSASHA512" },
	{ 12, "ECCGOST" }, { 13, "ECDSAP256SHA256" }, { 14, "ECDSAP384SHA384" },
	{ 15, "ED25519" }, { 16, "ED448" }, { 252, "INDIRECT" }, { 253, "PRIVATEDNS" },
	{ 254, "PRIVATEOID" },
};

static const char *
alg_name(uint8_t num)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].num == num)
			return algs[i].name;
	return NULL;
}

/* CERT types (RFC 4398 §2.1). */
static const struct {
	uint16_t num;
	const char *name;
} cert_types[] = {
	{ 1, "PKIX" }, { 2, "SPKI" }, { 3, "PGP" }, { 4, "IPKIX" }, { 5, "ISPKI" }, { 6, "IPGP" },
	{ 7, "ACPKIX" }, { 8, "IACPKIX" }, { 253, "URI" }, { 254, "OID" },
};

/* DS digest types (RFC 4509, RFC 5933, RFC 6605), spelled as BIND reads them. */
static const struct {
	uint8_t num;
	const char *name;
} digests[] = {
	{ 1, "SHA-1" }, { 1, "SHA1" }, { 2, "SHA-256" }, { 2, "SHA256" }, { 3, "GOST" },
	{ 4, "SHA-384" }, { 4, "SHA384" },
};

static int
parse_alg(const struct dns_tok *t, bool digest, uint32_t *out)
{
	if (digest) {
		for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
			if (dns_tok_is(t, digests[i].name)) {
				*out = digests[i].num;
				return 0;
			}
		}
	} else {
		for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
			if (dns_tok_is(t, algs[i].name)) {
				*out = algs[i].num;
				return 0;
			}
		}
	}
	return parse_uint(t->s, t->len, 255, out);
}

/* ---- wire walking ------------------------------------------------------ */

static bool
is_alnum(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Validates an NSEC-style type bitmap (RFC 4034 §4.1.2); empty is allowed. */
static bool
bitmap_ok(const uint8_t *p, size_t len)
{
	size_t pos = 0;
	int last = -1;
	while (pos < len) {
		if (len - pos < 2)
			return false;
		uint8_t win = p[pos], bl = p[pos + 1];
		if ((int)win <= last || bl == 0 || bl > 32 || len - pos - 2 < bl)
			return false;
		if (p[pos + 2 + bl - 1] == 0)
			return false;   /* trailing zero octets must be left out */
		last = win;
		pos += 2 + (size_t)bl;
	}
	return true;
}

static bool
is_name_kind(uint8_t k)
{
	return k == F_NAME_C || k == F_NAME_L || k == F_NAME_LV || k == F_NAME;
}

/*
 * Wire length of a field of kind `k` at `p` with `left` octets remaining,
 * or -1 when malformed.  Fields that run to the end return `left`.
 */
static ssize_t
field_len(uint8_t k, const uint8_t *p, size_t left)
{
	switch (k) {
	case F_U8:
	case F_ALG:
	case F_DIGEST:
	case F_SCHEME:
	case F_ALGM:
		return left >= 1 ? 1 : -1;
	case F_U16:
	case F_TYPE:
	case F_CERTTYPE:
		return left >= 2 ? 2 : -1;
	case F_STR_OPT:
		if (left == 0)
			return 0;
		return left - 1 < p[0] ? -1 : 1 + (ssize_t)p[0];
	case F_NSAP:
		return left > 0 ? (ssize_t)left : -1;
	case F_DOADATA:
		return (ssize_t)left;
	case F_IPSECKEY:
		return rd_ipseckey_check(p, left) == 0 ? (ssize_t)left : -1;
	case F_AMTRELAY:
		return rd_amtrelay_check(p, left) == 0 ? (ssize_t)left : -1;
	case F_APL:
		return rd_apl_check(p, left) == 0 ? (ssize_t)left : -1;
	case F_HIP:
		return rd_hip_check(p, left) == 0 ? (ssize_t)left : -1;
	case F_WKS:
		return rd_wks_check(p, left) == 0 ? (ssize_t)left : -1;
	case F_U32:
	case F_PERIOD:
	case F_TIME:
	case F_A:
		return left >= 4 ? 4 : -1;
	case F_AAAA:
		return left >= 16 ? 16 : -1;
	case F_EUI48:
		return left >= 6 ? 6 : -1;
	case F_ILNP64:
	case F_EUI64:
		return left >= 8 ? 8 : -1;
	case F_NAME_C:
	case F_NAME_L:
	case F_NAME_LV:
	case F_NAME: {
		int r = dns_name_check(p, left);
		return r < 0 ? -1 : r;
	}
	case F_STR:
	case F_SALT:
		if (left < 1 || left - 1 < p[0])
			return -1;
		return 1 + (ssize_t)p[0];
	case F_B32:
	case F_CAATAG:
		if (left < 1 || p[0] == 0 || left - 1 < p[0])
			return -1;
		if (k == F_CAATAG)
			for (size_t i = 0; i < p[0]; i++)
				if (!is_alnum(p[1 + i]))
					return -1;
		return 1 + (ssize_t)p[0];
	case F_STRS: {
		size_t pos = 0;
		if (left == 0)
			return -1;
		while (pos < left) {
			if (left - pos - 1 < p[pos])
				return -1;
			pos += 1 + (size_t)p[pos];
		}
		return (ssize_t)left;
	}
	case F_BITMAP:
		return bitmap_ok(p, left) ? (ssize_t)left : -1;
	case F_LOC:
		return left == 16 && rd_loc_check(p, left) == 0 ? 16 : -1;
	case F_B64:
	case F_HEX:
		/* keys, signatures, digests: BIND refuses them empty, and so do we */
		return left > 0 ? (ssize_t)left : -1;
	case F_CAAVAL:
	case F_QSTR:
	case F_SVCPARAMS:
	case F_KEYDATA:
		return (ssize_t)left;
	default:
		return -1;
	}
}

/*
 * Counts the subexpressions of a POSIX ERE, or returns -1 when brackets or
 * parentheses do not balance or an escape is cut short.  A structural check
 * only, enough for NAPTR back-references.
 */
static int
ere_subexpressions(const uint8_t *re, size_t len)
{
	int nsub = 0, depth = 0;
	bool branch_start = true;   /* at the start of the ERE, a group or an alternative */
	bool repeated = false;      /* the previous item was a repetition */
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = re[i];
		bool starts = false, repeat = false;
		if (ch == '\\') {
			if (++i >= len)
				return -1;
		} else if (ch == '[') {
			size_t j = i + 1;
			if (j < len && re[j] == '^')
				j++;
			if (j < len && re[j] == ']')
				j++;   /* a leading ']' is literal */
			while (j < len && re[j] != ']') {
				/* [:class:], [.coll.] and [=equiv=] end at their own pair */
				if (re[j] == '[' && j + 1 < len &&
				    (re[j + 1] == ':' || re[j + 1] == '.' || re[j + 1] == '=')) {
					uint8_t kind = re[j + 1];
					j += 2;
					while (j + 1 < len && !(re[j] == kind && re[j + 1] == ']'))
						j++;
					if (j + 1 >= len)
						return -1;
					j++;
				}
				j++;
			}
			if (j >= len)
				return -1;
			i = j;
		} else if (ch == '(') {
			depth++;
			nsub++;
			starts = true;
		} else if (ch == ')' && depth > 0) {
			depth--;   /* an unmatched ')' is an ordinary character */
		} else if (ch == '|') {
			if (branch_start || i + 1 >= len || re[i + 1] == '|' || re[i + 1] == ')')
				return -1;   /* empty alternative */
			starts = true;
		} else if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
			if (branch_start || repeated)
				return -1;   /* nothing to repeat, or a repetition repeated */
			repeat = true;
			if (ch == '{') {
				size_t j = i + 1, nd = 0;
				while (j < len && ((re[j] >= '0' && re[j] <= '9') || re[j] == ','))
					j++, nd++;
				if (j >= len || re[j] != '}' || nd == 0)
					return -1;
				i = j;
			}
		} else if (ch == '^') {
			starts = branch_start;
		}
		branch_start = starts;
		repeated = repeat;
	}
	return depth == 0 ? nsub : -1;
}

/*
 * NAPTR regexp (RFC 3403 §4.1): empty, or delim ERE delim replacement delim
 * flags, where the delimiter is no digit, backslash or flag, the only flag
 * is 'i', and back-references \1-\9 name existing subexpressions.  The
 * rules BIND 9.18 applies on both text and wire.
 */
static bool
naptr_regexp_ok(const uint8_t *s, size_t len)
{
	if (len == 0)
		return true;
	uint8_t delim = s[0];
	if ((delim >= '0' && delim <= '9') || delim == '\\' || delim == 'i' || delim == 0)
		return false;
	int part = 0, nsub = 0;   /* 0 regexp, 1 replacement, 2 flags */
	size_t re_start = 1;
	for (size_t i = 1; i < len; i++) {
		uint8_t ch = s[i];
		if (ch == 0)
			return false;
		if (ch == delim) {
			if (part == 2)
				return false;
			if (part == 0) {
				nsub = ere_subexpressions(s + re_start, i - re_start);
				if (nsub < 0)
					return false;
			}
			part++;
			continue;
		}
		if (part == 2) {
			if (ch != 'i')
				return false;
			continue;
		}
		if (ch == '\\') {
			if (++i >= len || s[i] == 0)
				return false;
			if (part == 1 && s[i] >= '0' && s[i] <= '9' && (s[i] == '0' || s[i] - '0' > nsub))
				return false;
		}
	}
	return part == 2;
}

/* Type-specific rules beyond the field layout. */
static int
semantic_check(uint16_t type, const uint8_t *rd, size_t len)
{
	switch (type) {
	case DNS_T_NAPTR: {
		size_t pos = 4 + 1 + rd[4];
		pos += 1 + (size_t)rd[pos];
		return naptr_regexp_ok(rd + pos + 1, rd[pos]) ? 0 : ERR_RDATA;
	}
	case DNS_T_KEY:
		/* RFC 2535 §3.1.2: flags with both high bits set mean "no key" */
		if (((rd[0] & 0xc0) == 0xc0) != (len == 4))
			return ERR_RDATA;
		return 0;
	case DNS_T_X25:
		/* RFC 1183 §3.1: a PSDN address is at least 4 decimal digits (BIND's rule) */
		if (rd[0] < 4)
			return ERR_RDATA;
		for (size_t i = 1; i <= rd[0]; i++)
			if (rd[i] < '0' || rd[i] > '9')
				return ERR_RDATA;
		return 0;
	case DNS_T_DS:
	case DNS_T_CDS:
	case DNS_T_TA:
	case DNS_T_DLV: {
		size_t dl = len - 4;
		switch (rd[3]) {
		case 1: return dl == 20 ? 0 : ERR_RDATA;
		case 2: return dl == 32 ? 0 : ERR_RDATA;
		case 4: return dl == 48 ? 0 : ERR_RDATA;
		default: return 0;
		}
	}
	case DNS_T_SSHFP: {
		size_t dl = len - 2;
		if ((rd[1] == 1 && dl != 20) || (rd[1] == 2 && dl != 32))
			return ERR_RDATA;
		return 0;
	}
	case DNS_T_ZONEMD: {
		size_t dl = len - 6;
		if ((rd[5] == 1 && dl != 48) || (rd[5] == 2 && dl != 64) || dl < 12)
			return ERR_RDATA;
		return 0;
	}
	case DNS_T_NSEC3:
		/* SHA-1 (RFC 5155 §11) hashes are 20 octets; BIND refuses others */
		if (rd[0] == 1 && rd[5 + rd[4]] != 20)
			return ERR_RDATA;
		return 0;
	case DNS_T_SVCB:
	case DNS_T_HTTPS: {
		size_t tl = dns_name_len(rd + 2);
		return rd_svcb_check(rd + 2 + tl, len - 2 - tl, rd_u16(rd));
	}
	default:
		return 0;
	}
}

static int
check_desc(const struct rdesc *d, const uint8_t *rd, size_t rdlen)
{
	size_t pos = 0;
	for (const struct field *f = d->f; f->kind != F_END; f++) {
		ssize_t l = field_len(f->kind, rd + pos, rdlen - pos);
		if (l < 0)
			return ERR_RDATA;
		pos += (size_t)l;
	}
	if (pos != rdlen)
		return ERR_RDATA;
	return semantic_check(d->type, rd, rdlen);
}

int
dns_rdata_check(uint16_t type, const uint8_t *rd, size_t rdlen)
{
	if (rdlen > DNS_RDATA_MAX)
		return ERR_RDATA;
	const struct rdesc *d = find_desc(type);
	if (d == NULL)
		return 0;   /* unknown types are opaque (RFC 3597) */
	return check_desc(d, rd, rdlen);
}

size_t
dns_rdata_names(uint16_t type, const uint8_t *rd, size_t rdlen, uint16_t *offs, bool *compress,
                size_t max)
{
	const struct rdesc *d = find_desc(type);
	size_t cnt = 0, pos = 0;
	if (d == NULL)
		return 0;
	for (const struct field *f = d->f; f->kind != F_END; f++) {
		ssize_t l = field_len(f->kind, rd + pos, rdlen - pos);
		if (l < 0)
			break;
		if (is_name_kind(f->kind) && cnt < max) {
			offs[cnt] = (uint16_t)pos;
			if (compress != NULL)
				compress[cnt] = f->kind == F_NAME_C;
			cnt++;
		}
		pos += (size_t)l;
	}
	return cnt;
}

void
dns_rdata_canonicalize(uint16_t type, uint8_t *rd, size_t rdlen)
{
	const struct rdesc *d = find_desc(type);
	size_t pos = 0;
	if (d == NULL)
		return;
	for (const struct field *f = d->f; f->kind != F_END; f++) {
		ssize_t l = field_len(f->kind, rd + pos, rdlen - pos);
		if (l < 0)
			return;
		/* RFC 4034 §6.2 list minus NSEC (RFC 6840 §5.1; RRSIG stays in it) */
		if (f->kind == F_NAME_C || f->kind == F_NAME_L || f->kind == F_NAME_LV)
			dns_name_lower(rd + pos);
		pos += (size_t)l;
	}
}

int
dns_rdata_unpack(uint16_t type, const uint8_t *pkt, size_t pktlen, size_t pos, size_t rdlen,
                 uint8_t *out, size_t cap)
{
	if (pos > pktlen || pktlen - pos < rdlen)
		return ERR_FORMERR;
	const struct rdesc *d = find_desc(type);
	size_t end = pos + rdlen;
	if (d == NULL) {
		if (rdlen > cap)
			return -ENOSPC;
		memcpy(out, pkt + pos, rdlen);
		return (int)rdlen;
	}
	size_t p = pos, o = 0;
	for (const struct field *f = d->f; f->kind != F_END; f++) {
		if (f->kind == F_NAME_C || f->kind == F_NAME_L) {
			uint8_t name[DNS_NAME_MAX];
			size_t np = p;
			/* the name must lie within this rdata; pointers may go back anywhere */
			int r = dns_name_unpack(pkt, end, &np, name);
			if (r < 0)
				return ERR_FORMERR;
			if (cap - o < (size_t)r)
				return -ENOSPC;
			memcpy(out + o, name, (size_t)r);
			o += (size_t)r;
			p = np;
			continue;
		}
		ssize_t l = field_len(f->kind, pkt + p, end - p);
		if (l < 0)
			return ERR_RDATA;
		if (cap - o < (size_t)l)
			return -ENOSPC;
		memcpy(out + o, pkt + p, (size_t)l);
		o += (size_t)l;
		p += (size_t)l;
	}
	if (p != end)
		return ERR_RDATA;
	if (o > DNS_RDATA_MAX || semantic_check(type, out, o) != 0)
		return ERR_RDATA;
	return (int)o;
}

/* ---- wire -> text ------------------------------------------------------ */

static void
put_name(struct rd_tbuf *b, const uint8_t *name)
{
	char tmp[DNS_NAME_TEXT_MAX];
	int r = dns_name_to_text(name, tmp, sizeof(tmp));
	if (r < 0)
		b->over = true;
	else
		rd_puts(b, tmp, (size_t)r);
}

static void
put_bitmap(struct rd_tbuf *b, const uint8_t *p, size_t len, bool lead_space)
{
	size_t pos = 0;
	bool first = !lead_space;
	while (pos + 2 <= len) {
		unsigned win = p[pos], bl = p[pos + 1];
		for (unsigned i = 0; i < bl * 8; i++) {
			if (p[pos + 2 + i / 8] & (0x80 >> (i % 8))) {
				char tn[DNS_RRTYPE_TEXT_MAX];
				int r = dns_rrtype_to_text((uint16_t)(win * 256 + i), tn, sizeof(tn));
				if (!first)
					rd_putc(b, ' ');
				first = false;
				rd_puts(b, tn, (size_t)r);
			}
		}
		pos += 2 + bl;
	}
}

/* Numbers and mnemonics; false for the other kinds. */
static bool
put_field_num(struct rd_tbuf *b, uint8_t k, const uint8_t *p, size_t l)
{
	switch (k) {
	case F_U8:
	case F_ALG:
	case F_DIGEST:
		rd_putu(b, p[0]);
		return true;
	case F_ALGM: {
		const char *n = alg_name(p[0]);
		if (n != NULL)
			rd_puts(b, n, strlen(n));
		else
			rd_putu(b, p[0]);
		return true;
	}
	case F_CERTTYPE: {
		uint16_t v = rd_u16(p);
		const char *n = NULL;
		for (size_t i = 0; i < sizeof(cert_types) / sizeof(cert_types[0]); i++)
			if (cert_types[i].num == v)
				n = cert_types[i].name;
		if (n != NULL)
			rd_puts(b, n, strlen(n));
		else
			rd_putu(b, v);
		return true;
	}
	case F_NSAP: {
		char tmp[3];
		rd_puts(b, "0x", 2);
		for (size_t i = 0; i < l; i++) {
			hex_encode(p + i, 1, false, tmp, sizeof(tmp));
			rd_puts(b, tmp, 2);
		}
		return true;
	}
	case F_DOADATA:
		if (l == 0) {
			rd_putc(b, '-');
		} else {
			char tmp[90];
			for (size_t i = 0; i < l; i += 63) {
				size_t part = l - i < 63 ? l - i : 63;
				int m = base64_encode(p + i, part, tmp, sizeof(tmp));
				rd_puts(b, tmp, (size_t)m);
			}
		}
		return true;
	case F_SCHEME:
		if (p[0] == 1)
			rd_puts(b, "NOTIFY", 6);
		else
			rd_putu(b, p[0]);
		return true;
	case F_U16:
		rd_putu(b, rd_u16(p));
		return true;
	case F_U32:
	case F_PERIOD:
		rd_putu(b, rd_u32(p));
		return true;
	case F_TIME:
		put_time(b, rd_u32(p));
		return true;
	case F_TYPE: {
		char tn[DNS_RRTYPE_TEXT_MAX];
		int r = dns_rrtype_to_text(rd_u16(p), tn, sizeof(tn));
		rd_puts(b, tn, (size_t)r);
		return true;
	}
	default:
		return false;
	}
}

static void
put_field(struct rd_tbuf *b, uint8_t k, const uint8_t *p, size_t l)
{
	if (put_field_num(b, k, p, l))
		return;
	switch (k) {
	case F_NAME_C:
	case F_NAME_L:
	case F_NAME_LV:
	case F_NAME:
		put_name(b, p);
		break;
	case F_A:
	case F_AAAA: {
		char tmp[INET6_ADDRSTRLEN];
		if (inet_ntop(k == F_A ? AF_INET : AF_INET6, p, tmp, sizeof(tmp)) == NULL)
			b->over = true;
		else
			rd_puts(b, tmp, strlen(tmp));
		break;
	}
	case F_STR:
	case F_STR_OPT:
		put_qstring(b, p + 1, p[0]);
		break;
	case F_STRS: {
		size_t pos = 0;
		while (pos < l) {
			if (pos > 0)
				rd_putc(b, ' ');
			put_qstring(b, p + pos + 1, p[pos]);
			pos += 1 + (size_t)p[pos];
		}
		break;
	}
	case F_CAATAG:
		rd_puts(b, (const char *)p + 1, p[0]);
		break;
	case F_CAAVAL:
	case F_QSTR:
		put_qstring(b, p, l);
		break;
	case F_B64:
	case F_KEYDATA:
		put_b64(b, p, l);
		break;
	case F_HEX:
		put_hex(b, p, l);
		break;
	case F_SALT:
		if (p[0] == 0) {
			rd_putc(b, '-');
		} else {
			char tmp[2 * 255 + 1];
			hex_encode(p + 1, p[0], true, tmp, sizeof(tmp));
			rd_puts(b, tmp, 2u * p[0]);
		}
		break;
	case F_B32: {
		char tmp[BASE32HEX_LEN(255) + 1];
		int r = base32hex_encode(p + 1, p[0], tmp, sizeof(tmp));
		rd_puts(b, tmp, (size_t)r);
		break;
	}
	case F_LOC:
		rd_loc_text(p, b);
		break;
	case F_ILNP64:
		rd_printf(b, "%x:%x:%x:%x", rd_u16(p), rd_u16(p + 2), rd_u16(p + 4), rd_u16(p + 6));
		break;
	case F_EUI48:
	case F_EUI64:
		for (size_t i = 0; i < (k == F_EUI48 ? 6u : 8u); i++)
			rd_printf(b, i > 0 ? "-%02x" : "%02x", p[i]);
		break;
	default:
		break;
	}
}

int
dns_rdata_to_generic(const uint8_t *rd, size_t rdlen, char *buf, size_t cap)
{
	struct rd_tbuf b = { buf, cap, 0, false };
	rd_printf(&b, "\\# %zu", rdlen);
	if (rdlen > 0) {
		rd_putc(&b, ' ');
		put_hex(&b, rd, rdlen);
	}
	if (b.over || cap == 0)
		return -ENOSPC;
	buf[b.n] = '\0';
	return (int)b.n;
}

int
dns_rdata_to_text(uint16_t type, const uint8_t *rd, size_t rdlen, char *buf, size_t cap)
{
	const struct rdesc *d = find_desc(type);
	if (d == NULL)
		return dns_rdata_to_generic(rd, rdlen, buf, cap);
	if (rdlen > DNS_RDATA_MAX || check_desc(d, rd, rdlen) != 0)
		return ERR_RDATA;
	struct rd_tbuf b = { buf, cap, 0, false };
	size_t pos = 0;
	for (const struct field *f = d->f; f->kind != F_END; f++) {
		size_t l = (size_t)field_len(f->kind, rd + pos, rdlen - pos);
		if (f->kind == F_BITMAP) {
			put_bitmap(&b, rd + pos, l, f != d->f);
		} else if (f->kind == F_SVCPARAMS) {
			rd_svcb_text(rd + pos, l, &b);
		} else if ((f->kind == F_KEYDATA || f->kind == F_STR_OPT) && l == 0) {
			/* an absent optional field: nothing, not even the separator */
		} else if (f->kind == F_IPSECKEY) {
			rd_ipseckey_text(rd + pos, l, &b);
		} else if (f->kind == F_AMTRELAY) {
			rd_amtrelay_text(rd + pos, l, &b);
		} else if (f->kind == F_APL) {
			rd_apl_text(rd + pos, l, &b);
		} else if (f->kind == F_HIP) {
			rd_hip_text(rd + pos, l, &b);
		} else if (f->kind == F_WKS) {
			rd_wks_text(rd + pos, l, &b);
		} else {
			if (f != d->f)
				rd_putc(&b, ' ');
			put_field(&b, f->kind, rd + pos, l);
		}
		pos += l;
	}
	if (b.over || cap == 0)
		return -ENOSPC;
	buf[b.n] = '\0';
	return (int)b.n;
}

/* ---- text -> wire ------------------------------------------------------ */

static int
fail_field(struct rd_pctx *c, const struct field *f, const char *what)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	const struct dns_tok *t = &c->t[c->i];
	return rd_fail(c, c->i, "%s %s %s '%.*s'", what, rd_tname(c->type, tn, sizeof(tn)),
	               f->name, RD_TOKFMT(t));
}

static int
fail_space(struct rd_pctx *c)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	return rd_fail(c, c->i < c->n ? c->i : c->n, "%s rdata too long",
	               rd_tname(c->type, tn, sizeof(tn)));
}

static int
parse_name_field(struct rd_pctx *c, const struct field *f)
{
	const struct dns_tok *t = &c->t[c->i];
	uint8_t name[DNS_NAME_MAX];
	int r = dns_name_from_text(t->s, t->len, c->origin, name);
	if (r < 0) {
		const char *why = r == ERR_NAME_LABEL   ? "label empty or over 63 octets"
		                  : r == ERR_NAME_LONG  ? "name over 255 octets"
		                  : r == ERR_NAME_ESCAPE ? "bad escape"
		                                         : "empty name";
		char tn[DNS_RRTYPE_TEXT_MAX];
		return rd_fail(c, c->i, "bad %s %s '%.*s' (%s)", rd_tname(c->type, tn, sizeof(tn)),
		               f->name, RD_TOKFMT(t), why);
	}
	wire_write(&c->w, name, (size_t)r);
	c->i++;
	return 0;
}

/* Decodes one character-string token into the output with its length octet. */
static int
parse_str_field(struct rd_pctx *c, const struct field *f)
{
	const struct dns_tok *t = &c->t[c->i];
	size_t left = wire_left(&c->w);
	if (left < 1)
		return fail_space(c);
	uint8_t *dst = c->w.base + c->w.pos;
	int r = dns_tok_unescape(t, dst + 1, left - 1 < 255 ? left - 1 : 255);
	if (r == ERR_SYNTAX)
		return fail_field(c, f, "bad escape in");
	if (r < 0)
		return left - 1 < 255 ? fail_space(c) : fail_field(c, f, "over 255 octets in");
	dst[0] = (uint8_t)r;
	c->w.pos += 1 + (size_t)r;
	c->i++;
	return 0;
}

/*
 * TXT-style strings: every remaining token (quoted or not) is one string;
 * a string longer than 255 octets becomes several 255-octet strings.
 */
static int
parse_strs_field(struct rd_pctx *c, const struct field *f)
{
	if (c->i >= c->n) {
		char tn[DNS_RRTYPE_TEXT_MAX];
		return rd_fail(c, c->n, "missing %s field '%s'", rd_tname(c->type, tn, sizeof(tn)),
		               f->name);
	}
	for (; c->i < c->n; c->i++) {
		const struct dns_tok *t = &c->t[c->i];
		size_t kmax = t->len / 255 + 1;   /* decoded length <= raw length */
		size_t left = wire_left(&c->w);
		uint8_t *base = c->w.base + c->w.pos;
		if (left < kmax)
			return fail_space(c);
		int r = dns_tok_unescape(t, base + kmax, left - kmax);
		if (r == ERR_SYNTAX)
			return fail_field(c, f, "bad escape in");
		if (r < 0)
			return fail_space(c);
		size_t len = (size_t)r, k = len == 0 ? 1 : (len + 254) / 255;
		size_t dst = 0, src = kmax;
		for (size_t j = 0; j < k; j++) {
			size_t cl = len - j * 255 < 255 ? len - j * 255 : 255;
			base[dst] = (uint8_t)cl;
			memmove(base + dst + 1, base + src, cl);
			dst += 1 + cl;
			src += cl;
		}
		c->w.pos += dst;
	}
	return 0;
}

/* Base64 or hex spread over all remaining tokens (at least one). */
static int
parse_blob_field(struct rd_pctx *c, const struct field *f, bool b64)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	if (c->i >= c->n)
		return rd_fail(c, c->n, "missing %s field '%s'", rd_tname(c->type, tn, sizeof(tn)),
		               f->name);
	uint8_t *dst = c->w.base + c->w.pos;
	size_t left = wire_left(&c->w);
	struct base64_dec bd;
	struct hex_dec hd;
	base64_dec_init(&bd, dst, left);
	hex_dec_init(&hd, dst, left);
	for (; c->i < c->n; c->i++) {
		const struct dns_tok *t = &c->t[c->i];
		if (t->kind == DNS_TOK_QSTRING)
			return fail_field(c, f, "quoted");
		int r = b64 ? base64_dec_feed(&bd, t->s, t->len) : hex_dec_feed(&hd, t->s, t->len);
		if (r == -EMSGSIZE)
			return fail_space(c);
		if (r < 0)
			return rd_fail(c, c->i, "bad %s in %s %s '%.*s'", b64 ? "base64" : "hex",
			               rd_tname(c->type, tn, sizeof(tn)), f->name, RD_TOKFMT(t));
	}
	int r = b64 ? base64_dec_finish(&bd) : hex_dec_finish(&hd);
	if (r < 0)
		return rd_fail(c, c->n - 1, "bad %s in %s %s (incomplete)", b64 ? "base64" : "hex",
		               rd_tname(c->type, tn, sizeof(tn)), f->name);
	if (r == 0)
		return rd_fail(c, c->n - 1, "empty %s %s", rd_tname(c->type, tn, sizeof(tn)),
		               f->name);
	c->w.pos += (size_t)r;
	return 0;
}

static int
parse_bitmap_field(struct rd_pctx *c)
{
	uint8_t bits[8192];
	uint8_t used[32];   /* windows in use, and the highest octet of each */
	uint8_t maxoct[256];
	memset(used, 0, sizeof(used));
	for (; c->i < c->n; c->i++) {
		const struct dns_tok *t = &c->t[c->i];
		uint16_t ty;
		if (t->kind != DNS_TOK_WORD || dns_rrtype_from_text(t->s, t->len, &ty) != 0) {
			char tn[DNS_RRTYPE_TEXT_MAX];
			return rd_fail(c, c->i, "unknown type '%.*s' in %s type bitmap", RD_TOKFMT(t),
			               rd_tname(c->type, tn, sizeof(tn)));
		}
		unsigned win = ty >> 8, oct = (ty & 0xff) >> 3;
		if (!(used[win >> 3] & (1u << (win & 7)))) {
			used[win >> 3] |= (uint8_t)(1u << (win & 7));
			memset(bits + win * 32, 0, 32);
			maxoct[win] = 0;
		}
		bits[win * 32 + oct] |= (uint8_t)(0x80 >> (ty & 7));
		if (oct > maxoct[win])
			maxoct[win] = (uint8_t)oct;
	}
	for (unsigned win = 0; win < 256; win++) {
		if (!(used[win >> 3] & (1u << (win & 7))))
			continue;
		wire_put_u8(&c->w, (uint8_t)win);
		wire_put_u8(&c->w, (uint8_t)(maxoct[win] + 1));
		wire_write(&c->w, bits + win * 32, maxoct[win] + 1u);
	}
	return c->w.err ? fail_space(c) : 0;
}

/* "FIELD 'x' out of range" naming the type. */
static int
fail_range(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	return rd_fail(c, c->i, "%s %s '%.*s' out of range", rd_tname(c->type, tn, sizeof(tn)),
	               f->name, RD_TOKFMT(t));
}

static int
field_uint(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	uint32_t v = 0;
	int r = parse_uint(t->s, t->len,
	                   f->kind == F_U8 ? 0xff : f->kind == F_U16 ? 0xffff : 0xffffffffu, &v);
	if (r == -ERANGE)
		return fail_range(c, f, t);
	if (r < 0)
		return fail_field(c, f, "bad");
	if (f->kind == F_U8)
		wire_put_u8(&c->w, (uint8_t)v);
	else if (f->kind == F_U16)
		wire_put_u16(&c->w, (uint16_t)v);
	else
		wire_put_u32(&c->w, v);
	return 0;
}

static int
field_certtype(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	bool found = false;
	for (size_t i = 0; i < sizeof(cert_types) / sizeof(cert_types[0]); i++) {
		if (dns_tok_is(t, cert_types[i].name)) {
			wire_put_u16(&c->w, cert_types[i].num);
			found = true;
		}
	}
	if (found)
		return 0;
	uint32_t v = 0;
	if (parse_uint(t->s, t->len, 0xffff, &v) != 0)
		return fail_field(c, f, "bad");
	wire_put_u16(&c->w, (uint16_t)v);
	return 0;
}

/* "0x" then hex digits; dots may separate them anywhere. */
static int
field_nsap(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	struct hex_dec hd;
	bool ok = t->len > 2 && t->s[0] == '0' && (t->s[1] == 'x' || t->s[1] == 'X');
	hex_dec_init(&hd, c->w.base + c->w.pos, wire_left(&c->w));
	for (size_t i = 2; ok && i < t->len; i++)
		ok = t->s[i] == '.' || hex_dec_feed(&hd, t->s + i, 1) == 0;
	int r = ok ? hex_dec_finish(&hd) : -EINVAL;
	if (r <= 0)
		return fail_field(c, f, "bad");
	c->w.pos += (size_t)r;
	return 0;
}

/* DOA data: "-" or base64 over the rest of the tokens (consumes them). */
static int
field_doadata(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	if (t->len == 1 && t->s[0] == '-') {
		c->i++;
		return 0;
	}
	struct base64_dec bd;
	base64_dec_init(&bd, c->w.base + c->w.pos, wire_left(&c->w));
	for (; c->i < c->n; c->i++) {
		t = &c->t[c->i];
		if (t->kind != DNS_TOK_WORD || base64_dec_feed(&bd, t->s, t->len) != 0)
			return fail_field(c, f, "bad base64 in");
	}
	int r = base64_dec_finish(&bd);
	if (r < 0)
		return rd_fail(c, c->n - 1, "bad base64 in DOA data (incomplete)");
	c->w.pos += (size_t)r;
	return 0;
}

/* Algorithm-like 8-bit fields: SCHEME (NOTIFY or a number), ALGM, ALG, DIGEST. */
static int
field_u8_mnemonic(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	uint32_t v = 0;
	int r;
	if (f->kind == F_SCHEME) {
		if (dns_tok_is(t, "NOTIFY")) {
			wire_put_u8(&c->w, 1);
			return 0;
		}
		r = parse_uint(t->s, t->len, 255, &v);   /* otherwise a number */
		if (r != 0)
			return fail_field(c, f, "bad");
	} else if (f->kind == F_ALGM) {
		r = parse_alg(t, false, &v);
		if (r != 0)
			return fail_field(c, f, r == -ERANGE ? "out of range:" : "bad");
	} else {
		r = parse_alg(t, f->kind == F_DIGEST, &v);
		if (r == -ERANGE)
			return fail_range(c, f, t);
		if (r < 0)
			return fail_field(c, f, "bad");
	}
	wire_put_u8(&c->w, (uint8_t)v);
	return 0;
}

/* PERIOD (TTL-like, units allowed), TIME (YYYYMMDDHHmmSS or seconds), TYPE. */
static int
field_time_type(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	uint32_t v = 0;
	int r;
	if (f->kind == F_TYPE) {
		uint16_t ty;
		if (dns_rrtype_from_text(t->s, t->len, &ty) != 0)
			return fail_field(c, f, "unknown type in");
		wire_put_u16(&c->w, ty);
		return 0;
	}
	if (f->kind == F_PERIOD) {
		r = parse_period(t->s, t->len, &v);
		if (r == -ERANGE)
			return fail_range(c, f, t);
	} else {
		r = parse_time(t->s, t->len, &v);
	}
	if (r < 0)
		return fail_field(c, f, "bad");
	wire_put_u32(&c->w, v);
	return 0;
}

static int
field_addr(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	char tmp[64];
	uint8_t a[16];
	bool ok = t->len < sizeof(tmp);
	if (ok) {
		memcpy(tmp, t->s, t->len);
		tmp[t->len] = '\0';
		ok = inet_pton(f->kind == F_A ? AF_INET : AF_INET6, tmp, a) == 1;
	}
	if (!ok)
		return rd_fail(c, c->i, "bad %s address '%.*s'", f->kind == F_A ? "IPv4" : "IPv6",
		               RD_TOKFMT(t));
	wire_write(&c->w, a, f->kind == F_A ? 4 : 16);
	return 0;
}

/* Groups of hex digits: ILNP64 4 x 1-4 split by ':', EUI48/64 6/8 x exactly 2 by '-'. */
static int
field_hexgroups(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	bool ilnp = f->kind == F_ILNP64;
	size_t groups = ilnp ? 4 : f->kind == F_EUI48 ? 6 : 8;
	size_t g = 0, nd = 0;
	uint32_t acc = 0;
	uint8_t tmp[8];
	bool ok = true;
	for (size_t i = 0; ok && i <= t->len; i++) {
		char ch = i < t->len ? t->s[i] : '\0';
		int hv = (ch >= '0' && ch <= '9')   ? ch - '0'
		         : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
		         : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
		                                    : -1;
		if (hv >= 0) {
			acc = acc * 16 + (uint32_t)hv;
			ok = ++nd <= (ilnp ? 4u : 2u);
			continue;
		}
		ok = (i == t->len || ch == (ilnp ? ':' : '-')) && g < groups &&
		     (ilnp ? nd >= 1 : nd == 2);
		if (!ok)
			break;
		if (ilnp)
			wr_u16(tmp + 2 * g, (uint16_t)acc);
		else
			tmp[g] = (uint8_t)acc;
		g++;
		nd = 0;
		acc = 0;
	}
	if (!ok || g != groups)
		return fail_field(c, f, "bad");
	wire_write(&c->w, tmp, ilnp ? 8 : groups);
	return 0;
}

/* NSEC3 salt ("-" or hex) and next hashed owner (base32hex), each length-prefixed. */
static int
field_salt_hash(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	uint8_t h[255];
	int r;
	if (f->kind == F_SALT) {
		if (t->len == 1 && t->s[0] == '-') {
			wire_put_u8(&c->w, 0);
			return 0;
		}
		r = t->len > 510 ? -EMSGSIZE : hex_decode(t->s, t->len, h, sizeof(h));
		if (r <= 0)
			return fail_field(c, f, "bad hex in");
	} else {
		r = t->len > 408 ? -EMSGSIZE : base32hex_decode(t->s, t->len, h, sizeof(h));
		if (r <= 0)
			return fail_field(c, f, "bad base32hex in");
	}
	wire_put_u8(&c->w, (uint8_t)r);
	wire_write(&c->w, h, (size_t)r);
	return 0;
}

/* CAA tag (letters and digits, length-prefixed), or a quoted string / CAA value as is. */
static int
field_caa(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	if (f->kind == F_CAATAG) {
		bool ok = t->kind == DNS_TOK_WORD && t->len >= 1 && t->len <= 255;
		for (size_t i = 0; ok && i < t->len; i++)
			ok = is_alnum((uint8_t)t->s[i]);
		if (!ok)
			return fail_field(c, f, "bad");
		wire_put_u8(&c->w, (uint8_t)t->len);
		wire_write(&c->w, t->s, t->len);
		return 0;
	}
	int r = dns_tok_unescape(t, c->w.base + c->w.pos, wire_left(&c->w));
	if (r == ERR_SYNTAX)
		return fail_field(c, f, "bad escape in");
	if (r < 0)
		return fail_space(c);
	c->w.pos += (size_t)r;
	return 0;
}

/* A field of one token `t`; the caller advances past it. */
static int
token_field(struct rd_pctx *c, const struct field *f, const struct dns_tok *t)
{
	switch (f->kind) {
	case F_U8:
	case F_U16:
	case F_U32:
		return field_uint(c, f, t);
	case F_CERTTYPE:
		return field_certtype(c, f, t);
	case F_NSAP:
		return field_nsap(c, f, t);
	case F_SCHEME:
	case F_ALGM:
	case F_ALG:
	case F_DIGEST:
		return field_u8_mnemonic(c, f, t);
	case F_PERIOD:
	case F_TIME:
	case F_TYPE:
		return field_time_type(c, f, t);
	case F_A:
	case F_AAAA:
		return field_addr(c, f, t);
	case F_ILNP64:
	case F_EUI48:
	case F_EUI64:
		return field_hexgroups(c, f, t);
	case F_SALT:
	case F_B32:
		return field_salt_hash(c, f, t);
	case F_CAATAG:
	case F_QSTR:
	case F_CAAVAL:
		return field_caa(c, f, t);
	default:
		return rd_fail(c, c->i, "internal: unhandled field kind");
	}
}

/* Fields that read their own tokens (or none); NOT_MULTI for the others. */
#define NOT_MULTI 1
static int
multi_field(struct rd_pctx *c, const struct field *f)
{
	switch (f->kind) {
	case F_STRS:
		return parse_strs_field(c, f);
	case F_KEYDATA:
		if (c->i >= c->n)
			return 0;   /* semantic_check decides whether the flags allow that */
		return parse_blob_field(c, f, true);
	case F_B64:
	case F_HEX:
		return parse_blob_field(c, f, f->kind == F_B64);
	case F_BITMAP:
		return parse_bitmap_field(c);
	case F_LOC:
		return rd_loc_parse(c);
	case F_IPSECKEY:
		return rd_ipseckey_parse(c);
	case F_AMTRELAY:
		return rd_amtrelay_parse(c);
	case F_APL:
		return rd_apl_parse(c);
	case F_HIP:
		return rd_hip_parse(c);
	case F_WKS:
		return rd_wks_parse(c);
	case F_STR_OPT:
		if (c->i >= c->n)
			return 0;
		if (c->t[c->i].kind == DNS_TOK_WORD || c->t[c->i].kind == DNS_TOK_QSTRING)
			return parse_str_field(c, f);
		return NOT_MULTI;
	case F_SVCPARAMS:
		return rd_svcb_parse(c, rd_u16(c->w.base));
	default:
		return NOT_MULTI;
	}
}

static int
parse_field(struct rd_pctx *c, const struct field *f)
{
	int r = multi_field(c, f);
	if (r != NOT_MULTI)
		return r;
	if (c->i >= c->n) {
		char tn[DNS_RRTYPE_TEXT_MAX];
		return rd_fail(c, c->n, "missing %s field '%s'", rd_tname(c->type, tn, sizeof(tn)),
		               f->name);
	}
	const struct dns_tok *t = &c->t[c->i];
	/* as in BIND, only character-strings may be quoted (URI's target must be) */
	if ((t->kind == DNS_TOK_QSTRING) != (f->kind == F_QSTR) && f->kind != F_STR &&
	    f->kind != F_CAAVAL)
		return fail_field(c, f, t->kind == DNS_TOK_QSTRING ? "quoted" : "unquoted");
	switch (f->kind) {
	case F_DOADATA:
		return field_doadata(c, f, t);
	case F_NAME_C:
	case F_NAME_L:
	case F_NAME_LV:
	case F_NAME:
		return parse_name_field(c, f);
	case F_STR:
		return parse_str_field(c, f);
	default:
		break;
	}
	r = token_field(c, f, t);
	if (r != 0)
		return r;
	c->i++;
	return c->w.err ? fail_space(c) : 0;
}

static int
semantic_fail(struct rd_pctx *c, size_t len)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	const uint8_t *rd = c->w.base;
	const char *tname = rd_tname(c->type, tn, sizeof(tn));
	switch (c->type) {
	case DNS_T_NAPTR:
		return rd_fail(c, 4, "bad NAPTR regexp '%.*s'", RD_TOKFMT(&c->t[4]));
	case DNS_T_DS:
	case DNS_T_CDS:
	case DNS_T_TA:
	case DNS_T_DLV:
		return rd_fail(c, c->n - 1, "%s digest length %zu does not fit digest type %u",
		               tname, len - 4, rd[3]);
	case DNS_T_SSHFP:
		return rd_fail(c, c->n - 1,
		               "SSHFP fingerprint length %zu does not fit fingerprint type %u",
		               len - 2, rd[1]);
	case DNS_T_ZONEMD:
		return rd_fail(c, c->n - 1, "ZONEMD digest length %zu does not fit hash algorithm %u",
		               len - 6, rd[5]);
	case DNS_T_KEY:
		if ((rd[0] & 0xc0) == 0xc0)
			return rd_fail(c, c->n - 1, "KEY flags say no key, yet a key follows");
		return rd_fail(c, c->n, "missing KEY field 'public key'");
	case DNS_T_X25:
		return rd_fail(c, 0, "X25 PSDN address '%.*s' is not 4 or more decimal digits",
		               RD_TOKFMT(&c->t[0]));
	case DNS_T_NSEC3:
		return rd_fail(c, 4, "NSEC3 next hashed owner of %u octets, SHA-1 gives 20",
		               rd[5 + rd[4]]);
	default:
		return rd_fail(c, c->n > 0 ? c->n - 1 : 0, "bad %s rdata", tname);
	}
}

/* RFC 3597 §5: "\# <length> <hex>...". */
static int
parse_generic(struct rd_pctx *c)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	const char *tname = rd_tname(c->type, tn, sizeof(tn));
	if (c->n < 2)
		return rd_fail(c, c->n, "missing length after \\# in %s rdata", tname);
	uint32_t len;
	const struct dns_tok *t = &c->t[1];
	if (t->kind != DNS_TOK_WORD || parse_uint(t->s, t->len, DNS_RDATA_MAX, &len) != 0)
		return rd_fail(c, 1, "bad \\# length '%.*s'", RD_TOKFMT(t));
	if (len > wire_left(&c->w))
		return rd_fail(c, 1, "%s rdata too long", tname);
	struct hex_dec hd;
	hex_dec_init(&hd, c->w.base, len);
	for (size_t i = 2; i < c->n; i++) {
		t = &c->t[i];
		int r = hex_dec_feed(&hd, t->s, t->len);
		if (r == -EMSGSIZE)
			return rd_fail(c, i, "\\# data longer than its length %u", len);
		if (r < 0 || t->kind != DNS_TOK_WORD)
			return rd_fail(c, i, "bad hex in \\# data '%.*s'", RD_TOKFMT(t));
	}
	int r = hex_dec_finish(&hd);
	if (r < 0)
		return rd_fail(c, c->n - 1, "bad hex in \\# data (odd number of digits)");
	if ((uint32_t)r != len)
		return rd_fail(c, c->n, "\\# data has %d octets, length says %u", r, len);
	const struct rdesc *d = find_desc(c->type);
	if (d != NULL && check_desc(d, c->w.base, len) != 0)
		return rd_fail(c, 2 < c->n ? 2 : c->n, "\\# data is not valid %s rdata", tname);
	return (int)len;
}

int
dns_rdata_from_tokens(uint16_t type, const struct dns_tok *t, size_t n, const uint8_t *origin,
                      uint8_t *out, size_t cap, struct dns_rdata_err *e)
{
	struct rd_pctx c = { .type = type, .t = t, .n = n, .i = 0, .origin = origin, .e = e };
	char tn[DNS_RRTYPE_TEXT_MAX];
	e->tok = 0;
	e->what[0] = '\0';
	wire_init_w(&c.w, out, cap < DNS_RDATA_MAX ? cap : DNS_RDATA_MAX);
	if (n > 0 && t[0].kind == DNS_TOK_WORD && t[0].len == 2 && t[0].s[0] == '\\' &&
	    t[0].s[1] == '#')
		return parse_generic(&c);
	const struct rdesc *d = find_desc(type);
	if (d == NULL)
		return rd_fail(&c, 0, "type %s needs RFC 3597 '\\#' rdata",
		               rd_tname(type, tn, sizeof(tn)));
	for (const struct field *f = d->f; f->kind != F_END; f++) {
		int r = parse_field(&c, f);
		if (r != 0)
			return r;
	}
	if (c.i < n)
		return rd_fail(&c, c.i, "unexpected extra field '%.*s'", RD_TOKFMT(&t[c.i]));
	if (c.w.err)
		return fail_space(&c);
	if (semantic_check(type, out, c.w.pos) != 0)
		return semantic_fail(&c, c.w.pos);
	return (int)c.w.pos;
}

/* Fields one content string may hold: 128 KiB of tokens on the stack. */
#define FROM_STR_MAXTOK 4096

int
dns_rdata_from_str(uint16_t type, const char *s, size_t len, const uint8_t *origin, uint8_t *out,
                   size_t cap, char *err, size_t errcap)
{
	struct dns_tok toks[FROM_STR_MAXTOK];
	struct dns_lex lx;
	size_t n = 0;
	dns_lex_init(&lx, s, len);
	for (;;) {
		struct dns_tok t;
		if (dns_lex_next(&lx, &t) != 0) {
			snprintf(err, errcap, "%s at column %u", lx.err_what, lx.err_col);
			return ERR_RDATA;
		}
		if (t.kind == DNS_TOK_EOF)
			break;
		if (t.kind == DNS_TOK_EOL)
			continue;   /* a newline inside content is plain white space */
		if (n == FROM_STR_MAXTOK) {
			snprintf(err, errcap, "too many fields (over %d)", FROM_STR_MAXTOK);
			return ERR_RDATA;
		}
		toks[n++] = t;
	}
	struct dns_rdata_err e;
	int r = dns_rdata_from_tokens(type, toks, n, origin, out, cap, &e);
	if (r < 0)
		snprintf(err, errcap, "%s", e.what);
	return r;
}
