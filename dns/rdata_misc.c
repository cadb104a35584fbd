/*
 * Rdata with a layout that fields alone cannot describe: IPSECKEY (RFC 4025)
 * and AMTRELAY (RFC 8777), whose gateway/relay form depends on a type
 * octet, and APL (RFC 3123), a list of address prefixes.  Text in and out
 * as BIND 9.18 reads and prints it.
 */
#include <arpa/inet.h>
#include <string.h>

#include "dns/name.h"
#include "dns/rdata_int.h"
#include "dns/rrtype.h"
#include "dns/wire.h"
#include "util/base.h"
#include "util/err.h"

/* ---- gateway / relay: 0 none ("."), 1 IPv4, 2 IPv6, 3 domain name ------ */

static ssize_t
gw_len(uint8_t gtype, const uint8_t *p, size_t left)
{
	switch (gtype) {
	case 0:
		return 0;
	case 1:
		return left >= 4 ? 4 : -1;
	case 2:
		return left >= 16 ? 16 : -1;
	case 3: {
		int r = dns_name_check(p, left);
		return r < 0 ? -1 : r;
	}
	default:
		return -1;
	}
}

static int
gw_parse(struct rd_pctx *c, uint8_t gtype, const char *what)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	const char *tname = rd_tname(c->type, tn, sizeof(tn));
	if (c->i >= c->n)
		return rd_fail(c, c->n, "missing %s field '%s'", tname, what);
	const struct dns_tok *t = &c->t[c->i];
	if (t->kind != DNS_TOK_WORD)
		return rd_fail(c, c->i, "quoted %s %s '%.*s'", tname, what, RD_TOKFMT(t));
	bool ok = true;
	if (gtype == 0) {
		ok = t->len == 1 && t->s[0] == '.';
	} else if (gtype == 1 || gtype == 2) {
		char tmp[64];
		uint8_t a[16];
		ok = t->len < sizeof(tmp);
		if (ok) {
			memcpy(tmp, t->s, t->len);
			tmp[t->len] = '\0';
			ok = inet_pton(gtype == 1 ? AF_INET : AF_INET6, tmp, a) == 1;
		}
		if (ok)
			wire_write(&c->w, a, gtype == 1 ? 4 : 16);
	} else if (gtype == 3) {
		uint8_t name[DNS_NAME_MAX];
		int r = dns_name_from_text(t->s, t->len, c->origin, name);
		ok = r > 0;
		if (ok)
			wire_write(&c->w, name, (size_t)r);
	} else {
		return rd_fail(c, c->i - 2, "%s gateway type %u unknown", tname, gtype);
	}
	if (!ok)
		return rd_fail(c, c->i, "bad %s %s '%.*s'", tname, what, RD_TOKFMT(t));
	c->i++;
	return 0;
}

static void
gw_text(struct rd_tbuf *b, uint8_t gtype, const uint8_t *p)
{
	char tmp[DNS_NAME_TEXT_MAX];
	switch (gtype) {
	case 0:
		rd_putc(b, '.');
		break;
	case 1:
	case 2:
		if (inet_ntop(gtype == 1 ? AF_INET : AF_INET6, p, tmp, sizeof(tmp)) == NULL)
			b->over = true;
		else
			rd_puts(b, tmp, strlen(tmp));
		break;
	default: {
		int r = dns_name_to_text(p, tmp, sizeof(tmp));
		if (r < 0)
			b->over = true;
		else
			rd_puts(b, tmp, (size_t)r);
		break;
	}
	}
}

static int
parse_u8(struct rd_pctx *c, const char *what, uint8_t max, uint8_t *out)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	const char *tname = rd_tname(c->type, tn, sizeof(tn));
	if (c->i >= c->n)
		return rd_fail(c, c->n, "missing %s field '%s'", tname, what);
	const struct dns_tok *t = &c->t[c->i];
	unsigned v = 0;
	bool ok = t->kind == DNS_TOK_WORD && t->len > 0 && t->len <= 3;
	for (size_t i = 0; ok && i < t->len; i++) {
		ok = t->s[i] >= '0' && t->s[i] <= '9';
		v = v * 10 + (unsigned)(t->s[i] - '0');
	}
	if (!ok)
		return rd_fail(c, c->i, "bad %s %s '%.*s'", tname, what, RD_TOKFMT(t));
	if (v > max)
		return rd_fail(c, c->i, "%s %s '%.*s' out of range", tname, what, RD_TOKFMT(t));
	*out = (uint8_t)v;
	c->i++;
	return 0;
}

/* IPSECKEY: precedence gateway-type algorithm gateway [base64 key] */
int
rd_ipseckey_parse(struct rd_pctx *c)
{
	uint8_t prec, gtype, alg;
	int r = parse_u8(c, "precedence", 255, &prec);
	if (r == 0)
		r = parse_u8(c, "gateway type", 255, &gtype);
	if (r == 0)
		r = parse_u8(c, "algorithm", 255, &alg);
	if (r != 0)
		return r;
	wire_put_u8(&c->w, prec);
	wire_put_u8(&c->w, gtype);
	wire_put_u8(&c->w, alg);
	r = gw_parse(c, gtype, "gateway");
	if (r != 0)
		return r;
	/*
	 * RFC 4025 §2.6 lets the key be absent.  BIND 9.18 insists on one in
	 * text but takes wire data without; we take both, so that everything
	 * the wire check accepts reads back from its text.
	 */
	struct base64_dec d;
	base64_dec_init(&d, c->w.base + c->w.pos, wire_left(&c->w));
	size_t first = c->i;
	for (; c->i < c->n; c->i++) {
		const struct dns_tok *t = &c->t[c->i];
		if (t->kind != DNS_TOK_WORD || base64_dec_feed(&d, t->s, t->len) != 0)
			return rd_fail(c, c->i, "bad base64 in IPSECKEY public key '%.*s'",
			               RD_TOKFMT(t));
	}
	r = base64_dec_finish(&d);
	if (r < 0)
		return rd_fail(c, c->n > first ? c->n - 1 : first,
		               "bad base64 in IPSECKEY public key (incomplete)");
	c->w.pos += (size_t)r;
	return 0;
}

int
rd_ipseckey_check(const uint8_t *rd, size_t len)
{
	if (len < 3)
		return ERR_RDATA;
	return gw_len(rd[1], rd + 3, len - 3) < 0 ? ERR_RDATA : 0;
}

void
rd_ipseckey_text(const uint8_t *rd, size_t len, struct rd_tbuf *b)
{
	size_t gl = (size_t)gw_len(rd[1], rd + 3, len - 3);
	rd_printf(b, "%u %u %u ", rd[0], rd[1], rd[2]);
	gw_text(b, rd[1], rd + 3);
	if (len > 3 + gl) {
		char tmp[57];
		/* 42 octets make BIND's 56-character chunks */
		for (size_t i = 3 + gl; i < len; i += 42) {
			size_t k = len - i < 42 ? len - i : 42;
			int m = base64_encode(rd + i, k, tmp, sizeof(tmp));
			rd_putc(b, ' ');
			rd_puts(b, tmp, (size_t)m);
		}
	}
}

/* AMTRELAY: precedence discovery-optional(0|1) type relay */
int
rd_amtrelay_parse(struct rd_pctx *c)
{
	uint8_t prec, dbit, rtype;
	int r = parse_u8(c, "precedence", 255, &prec);
	if (r == 0)
		r = parse_u8(c, "discovery optional", 1, &dbit);
	if (r == 0)
		r = parse_u8(c, "relay type", 127, &rtype);
	if (r != 0)
		return r;
	wire_put_u8(&c->w, prec);
	wire_put_u8(&c->w, (uint8_t)(dbit << 7 | rtype));
	if (rtype > 3) {
		/* unknown relay types carry opaque data, absent in text */
		return 0;
	}
	return gw_parse(c, rtype, "relay");
}

int
rd_amtrelay_check(const uint8_t *rd, size_t len)
{
	if (len < 2)
		return ERR_RDATA;
	uint8_t rtype = rd[1] & 0x7f;
	if (rtype > 3)
		return len == 2 ? 0 : ERR_RDATA;
	ssize_t gl = gw_len(rtype, rd + 2, len - 2);
	return gl < 0 || (size_t)gl != len - 2 ? ERR_RDATA : 0;
}

void
rd_amtrelay_text(const uint8_t *rd, size_t len, struct rd_tbuf *b)
{
	(void)len;
	uint8_t rtype = rd[1] & 0x7f;
	rd_printf(b, "%u %u %u", rd[0], rd[1] >> 7, rtype);
	if (rtype <= 3) {
		rd_putc(b, ' ');
		gw_text(b, rtype, rd + 2);
	}
}

/* APL: items "[!]afi:address/prefix" with afi 1 (IPv4) or 2 (IPv6). */
int
rd_apl_parse(struct rd_pctx *c)
{
	for (; c->i < c->n; c->i++) {
		const struct dns_tok *t = &c->t[c->i];
		const char *s = t->s, *end = t->s + t->len;
		bool neg = false;
		if (t->kind != DNS_TOK_WORD)
			return rd_fail(c, c->i, "quoted APL item '%.*s'", RD_TOKFMT(t));
		if (s < end && *s == '!') {
			neg = true;
			s++;
		}
		const char *colon = memchr(s, ':', (size_t)(end - s));
		const char *slash = memrchr(s, '/', (size_t)(end - s));
		bool ok = colon != NULL && slash != NULL && colon > s && slash > colon + 1 &&
		          slash + 1 < end && (colon - s) == 1 && (*s == '1' || *s == '2');
		unsigned prefix = 0;
		for (const char *q = ok ? slash + 1 : end; ok && q < end; q++) {
			ok = *q >= '0' && *q <= '9' && q - slash <= 3;
			prefix = prefix * 10 + (unsigned)(*q - '0');
		}
		uint8_t a[16];
		int afi = ok ? *s - '0' : 0;
		if (ok) {
			char tmp[64];
			size_t al = (size_t)(slash - colon - 1);
			ok = al < sizeof(tmp);
			if (ok) {
				memcpy(tmp, colon + 1, al);
				tmp[al] = '\0';
				ok = inet_pton(afi == 1 ? AF_INET : AF_INET6, tmp, a) == 1;
			}
		}
		if (!ok || prefix > (afi == 1 ? 32u : 128u))
			return rd_fail(c, c->i, "bad APL item '%.*s'", RD_TOKFMT(t));
		size_t alen = afi == 1 ? 4 : 16;
		while (alen > 0 && a[alen - 1] == 0)
			alen--;   /* RFC 3123 §4: trailing zero octets are left out */
		wire_put_u16(&c->w, (uint16_t)afi);
		wire_put_u8(&c->w, (uint8_t)prefix);
		wire_put_u8(&c->w, (uint8_t)((neg ? 0x80 : 0) | alen));
		wire_write(&c->w, a, alen);
	}
	return 0;
}

int
rd_apl_check(const uint8_t *rd, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		if (len - pos < 4)
			return ERR_RDATA;
		uint16_t afi = rd_u16(rd + pos);
		uint8_t prefix = rd[pos + 2], alen = rd[pos + 3] & 0x7f;
		size_t max = afi == 1 ? 4 : afi == 2 ? 16 : 0;
		if (max == 0 || alen > max || prefix > max * 8 || len - pos - 4 < alen)
			return ERR_RDATA;
		if (alen > 0 && rd[pos + 4 + alen - 1] == 0)
			return ERR_RDATA;
		pos += 4 + (size_t)alen;
	}
	return 0;
}

void
rd_apl_text(const uint8_t *rd, size_t len, struct rd_tbuf *b)
{
	size_t pos = 0;
	while (pos < len) {
		uint16_t afi = rd_u16(rd + pos);
		uint8_t alen = rd[pos + 3] & 0x7f;
		uint8_t a[16];
		char tmp[INET6_ADDRSTRLEN];
		memset(a, 0, sizeof(a));
		memcpy(a, rd + pos + 4, alen);
		if (pos > 0)
			rd_putc(b, ' ');
		if (inet_ntop(afi == 1 ? AF_INET : AF_INET6, a, tmp, sizeof(tmp)) == NULL) {
			b->over = true;
			return;
		}
		rd_printf(b, "%s%u:%s/%u", (rd[pos + 3] & 0x80) ? "!" : "", afi, tmp, rd[pos + 2]);
		pos += 4 + (size_t)alen;
	}
}

/*
 * HIP (RFC 8005 §5): "alg HIT-hex public-key-base64 [rendezvous-server...]".
 * Wire: HIT length u8, algorithm u8, key length u16, HIT, key, names
 * (never compressed).  BIND prints HIT and key each in one piece.
 */
int
rd_hip_parse(struct rd_pctx *c)
{
	uint8_t alg;
	int r = parse_u8(c, "algorithm", 255, &alg);
	if (r != 0)
		return r;
	if (c->i + 1 >= c->n)
		return rd_fail(c, c->n, "missing HIP field '%s'", c->i >= c->n ? "HIT" : "public key");
	const struct dns_tok *h = &c->t[c->i], *k = &c->t[c->i + 1];
	uint8_t hit[255];
	int hl = h->kind == DNS_TOK_WORD && h->len <= 510 ? hex_decode(h->s, h->len, hit, sizeof(hit))
	                                                  : -EINVAL;
	if (hl <= 0)
		return rd_fail(c, c->i, "bad hex in HIP HIT '%.*s'", RD_TOKFMT(h));
	size_t hdr = c->w.pos;
	wire_put_u8(&c->w, (uint8_t)hl);
	wire_put_u8(&c->w, alg);
	wire_put_u16(&c->w, 0);   /* key length, filled in below */
	wire_write(&c->w, hit, (size_t)hl);
	if (c->w.err)
		return rd_fail(c, c->i, "HIP rdata too long");
	int kl = k->kind == DNS_TOK_WORD
	                 ? base64_decode(k->s, k->len, c->w.base + c->w.pos, wire_left(&c->w))
	                 : -EINVAL;
	if (kl <= 0 || kl > 65535)
		return rd_fail(c, c->i + 1, "bad base64 in HIP public key '%.*s'", RD_TOKFMT(k));
	wr_u16(c->w.base + hdr + 2, (uint16_t)kl);
	c->w.pos += (size_t)kl;
	c->i += 2;
	for (; c->i < c->n; c->i++) {
		const struct dns_tok *t = &c->t[c->i];
		uint8_t name[DNS_NAME_MAX];
		int nl = t->kind == DNS_TOK_WORD ? dns_name_from_text(t->s, t->len, c->origin, name)
		                                 : -EINVAL;
		if (nl <= 0)
			return rd_fail(c, c->i, "bad HIP rendezvous server '%.*s'", RD_TOKFMT(t));
		wire_write(&c->w, name, (size_t)nl);
	}
	return 0;
}

int
rd_hip_check(const uint8_t *rd, size_t len)
{
	if (len < 4 || rd[0] == 0)
		return ERR_RDATA;
	size_t pos = 4 + (size_t)rd[0] + rd_u16(rd + 2);
	if (rd_u16(rd + 2) == 0 || pos > len)
		return ERR_RDATA;
	while (pos < len) {
		int r = dns_name_check(rd + pos, len - pos);
		if (r < 0)
			return ERR_RDATA;
		pos += (size_t)r;
	}
	return 0;
}

void
rd_hip_text(const uint8_t *rd, size_t len, struct rd_tbuf *b)
{
	size_t hl = rd[0], kl = rd_u16(rd + 2), pos = 4;
	char tmp[DNS_NAME_TEXT_MAX];
	rd_putu(b, rd[1]);
	rd_putc(b, ' ');
	for (size_t i = 0; i < hl; i++) {
		hex_encode(rd + pos + i, 1, true, tmp, sizeof(tmp));
		rd_puts(b, tmp, 2);
	}
	pos += hl;
	rd_putc(b, ' ');
	for (size_t i = 0; i < kl; i += 63) {
		size_t part = kl - i < 63 ? kl - i : 63;
		int m = base64_encode(rd + pos + i, part, tmp, sizeof(tmp));
		rd_puts(b, tmp, (size_t)m);
	}
	pos += kl;
	while (pos < len) {
		int r = dns_name_to_text(rd + pos, tmp, sizeof(tmp));
		if (r < 0) {
			b->over = true;
			return;
		}
		rd_putc(b, ' ');
		rd_puts(b, tmp, (size_t)r);
		pos += dns_name_len(rd + pos);
	}
}

/*
 * WKS (RFC 1035 §3.4.2): "address protocol service...".  Protocols and
 * services are numbers or the usual names; BIND prints numbers.  The port
 * bitmap ends with the octet of the highest port.
 */
static const struct {
	uint16_t port;
	const char *name;
} services[] = {
	{ 7, "echo" }, { 9, "discard" }, { 13, "daytime" }, { 20, "ftp-data" }, { 21, "ftp" },
	{ 22, "ssh" }, { 23, "telnet" }, { 25, "smtp" }, { 37, "time" }, { 43, "whois" },
	{ 53, "domain" }, { 69, "tftp" }, { 70, "gopher" }, { 79, "finger" }, { 80, "http" },
	{ 80, "www" }, { 88, "kerberos" }, { 110, "pop3" }, { 111, "sunrpc" }, { 113, "auth" },
	{ 119, "nntp" }, { 123, "ntp" }, { 143, "imap" }, { 161, "snmp" }, { 179, "bgp" },
	{ 389, "ldap" }, { 443, "https" }, { 587, "submission" }, { 636, "ldaps" },
	{ 993, "imaps" }, { 995, "pop3s" },
};

static bool
tok_uint(const struct dns_tok *t, uint32_t max, uint32_t *out)
{
	uint32_t v = 0;
	if (t->kind != DNS_TOK_WORD || t->len == 0 || t->len > 5)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(t->s[i] - '0');
	}
	*out = v;
	return v <= max;
}

int
rd_wks_parse(struct rd_pctx *c)
{
	if (c->i >= c->n)
		return rd_fail(c, c->n, "missing WKS field 'address'");
	const struct dns_tok *t = &c->t[c->i];
	char tmp[32];
	uint8_t a[4];
	if (t->kind != DNS_TOK_WORD || t->len >= sizeof(tmp))
		return rd_fail(c, c->i, "bad IPv4 address '%.*s'", RD_TOKFMT(t));
	memcpy(tmp, t->s, t->len);
	tmp[t->len] = '\0';
	if (inet_pton(AF_INET, tmp, a) != 1)
		return rd_fail(c, c->i, "bad IPv4 address '%.*s'", RD_TOKFMT(t));
	c->i++;
	if (c->i >= c->n)
		return rd_fail(c, c->n, "missing WKS field 'protocol'");
	t = &c->t[c->i];
	uint32_t proto;
	if (dns_tok_is(t, "tcp"))
		proto = 6;
	else if (dns_tok_is(t, "udp"))
		proto = 17;
	else if (!tok_uint(t, 255, &proto))
		return rd_fail(c, c->i, "bad WKS protocol '%.*s'", RD_TOKFMT(t));
	c->i++;
	wire_write(&c->w, a, 4);
	wire_put_u8(&c->w, (uint8_t)proto);
	size_t start = c->w.pos, used = 0;
	for (; c->i < c->n; c->i++) {
		t = &c->t[c->i];
		uint32_t port = 0;
		bool found = false;
		for (size_t k = 0; k < sizeof(services) / sizeof(services[0]) && !found; k++) {
			if (dns_tok_is(t, services[k].name)) {
				port = services[k].port;
				found = true;
			}
		}
		if (!found && !tok_uint(t, 65535, &port))
			return rd_fail(c, c->i, "bad WKS service '%.*s'", RD_TOKFMT(t));
		size_t oct = port / 8;
		if (oct >= used) {
			/* grow the bitmap with zero octets up to this port's */
			if (wire_left(&c->w) < oct + 1 - used)
				return rd_fail(c, c->i, "WKS rdata too long");
			memset(c->w.base + start + used, 0, oct + 1 - used);
			c->w.pos = start + oct + 1;
			used = oct + 1;
		}
		c->w.base[start + oct] |= (uint8_t)(0x80 >> (port % 8));
	}
	return 0;
}

int
rd_wks_check(const uint8_t *rd, size_t len)
{
	(void)rd;   /* any address, protocol and bitmap are well formed */
	return len >= 5 && len <= 5 + 8192 ? 0 : ERR_RDATA;
}

void
rd_wks_text(const uint8_t *rd, size_t len, struct rd_tbuf *b)
{
	char tmp[INET_ADDRSTRLEN];
	if (inet_ntop(AF_INET, rd, tmp, sizeof(tmp)) == NULL) {
		b->over = true;
		return;
	}
	rd_puts(b, tmp, strlen(tmp));
	rd_putc(b, ' ');
	rd_putu(b, rd[4]);
	for (size_t i = 5; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			if (rd[i] & (0x80 >> bit)) {
				rd_putc(b, ' ');
				rd_putu(b, (uint32_t)((i - 5) * 8 + bit));
			}
		}
	}
}
