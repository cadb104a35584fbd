/*
 * SvcParams of SVCB and HTTPS (RFC 9460 §2.1, §7; dohpath RFC 9461).
 * Text: `key=value`, `key="value"` or a bare `key`; values are
 * character-strings (escapes decoded first), alpn then splits on unescaped
 * commas.  Wire: params sorted by key with no duplicates, which the parser
 * enforces by inserting each param at its place (an in-place rotation, so
 * no scratch buffer).  Output follows BIND 9.18, which names keys 0-6 and
 * prints every other key, dohpath included, as keyNNNNN="value".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "dns/rdata_int.h"
#include "dns/rrtype.h"
#include "util/base.h"
#include "util/err.h"

enum {
	K_MANDATORY = 0,
	K_ALPN = 1,
	K_NODEFALPN = 2,
	K_PORT = 3,
	K_IPV4HINT = 4,
	K_ECH = 5,
	K_IPV6HINT = 6,
	K_DOHPATH = 7,
};

static const char *const key_names[] = {
	"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath",
};
#define NKEYS (sizeof(key_names) / sizeof(key_names[0]))
/* keys that BIND 9.18 prints by name */
#define PRINTED_NAMES 7

/* "alpn" or "key1" -> 1.  Returns 1 for a key given by name, 0 for keyNNNNN, or -1. */
static int
key_from_text(const char *s, size_t len, uint16_t *key)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strlen(key_names[i]) == len && strncmp(s, key_names[i], len) == 0) {
			*key = (uint16_t)i;
			return 1;
		}
	}
	if (len < 4 || len > 8 || strncmp(s, "key", 3) != 0)
		return -1;
	if (s[3] == '0' && len > 4)
		return -1;   /* no leading zeros (RFC 9460 §2.1) */
	uint32_t v = 0;
	for (size_t i = 3; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*key = (uint16_t)v;
	return 0;
}

static void
put_key(struct rd_tbuf *b, uint16_t key)
{
	if (key < PRINTED_NAMES)
		rd_puts(b, key_names[key], strlen(key_names[key]));
	else
		rd_printf(b, "key%u", key);
}

/* True when a URI template holds a variable named "dns" (RFC 9461 §5). */
static bool
has_dns_var(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '{')
			continue;
		size_t j = i + 1;
		if (j < len && strchr("+#./;?&", p[j]) != NULL && p[j] != 0)
			j++;
		for (;;) {
			size_t st = j;
			while (j < len && p[j] != ',' && p[j] != '}' && p[j] != ':' && p[j] != '*')
				j++;
			if (j - st == 3 && memcmp(p + st, "dns", 3) == 0)
				return true;
			while (j < len && p[j] != ',' && p[j] != '}')
				j++;
			if (j >= len || p[j] == '}')
				break;
			j++;
		}
		i = j;
	}
	return false;
}

/* Validates one param value for its key. */
static bool
value_ok(uint16_t key, const uint8_t *v, size_t len)
{
	switch (key) {
	case K_MANDATORY:
		if (len == 0 || len % 2 != 0)
			return false;
		for (size_t i = 0; i < len; i += 2) {
			uint16_t k = rd_u16(v + i);
			if (k == K_MANDATORY || (i > 0 && k <= rd_u16(v + i - 2)))
				return false;
		}
		return true;
	case K_ALPN: {
		if (len == 0)
			return false;
		for (size_t pos = 0; pos < len; pos += 1 + (size_t)v[pos])
			if (v[pos] == 0 || len - pos - 1 < v[pos])
				return false;
		return true;
	}
	case K_NODEFALPN:
		return len == 0;
	case K_PORT:
		return len == 2;
	case K_IPV4HINT:
		return len > 0 && len % 4 == 0;
	case K_IPV6HINT:
		return len > 0 && len % 16 == 0;
	case K_DOHPATH:
		return has_dns_var(v, len);
	default:
		return true;
	}
}

int
rd_svcb_check(const uint8_t *p, size_t len, uint16_t prio)
{
	size_t pos = 0;
	int last = -1;
	/*
	 * AliasMode records SHOULD NOT carry params and recipients MUST ignore
	 * them (RFC 9460 §2.4.2): the text parser refuses them, wire data with
	 * them is accepted (BIND 9.18 loads and prints them too).
	 */
	(void)prio;
	while (pos < len) {
		if (len - pos < 4)
			return ERR_RDATA;
		uint16_t key = rd_u16(p + pos), vl = rd_u16(p + pos + 2);
		if ((int)key <= last || len - pos - 4 < vl || !value_ok(key, p + pos + 4, vl))
			return ERR_RDATA;
		last = key;
		pos += 4 + (size_t)vl;
	}
	/* every key that "mandatory" lists must be present (RFC 9460 §8) */
	if (len >= 4 && rd_u16(p) == K_MANDATORY) {
		uint16_t ml = rd_u16(p + 2);
		for (size_t i = 0; i < ml; i += 2) {
			uint16_t want = rd_u16(p + 4 + i);
			bool found = false;
			for (size_t q = 0; q < len; q += 4 + (size_t)rd_u16(p + q + 2))
				if (rd_u16(p + q) == want)
					found = true;
			if (!found)
				return ERR_RDATA;
		}
	}
	return 0;
}

static void
put_alpn(struct rd_tbuf *b, const uint8_t *v, size_t len)
{
	rd_putc(b, '"');
	for (size_t pos = 0; pos < len; pos += 1 + (size_t)v[pos]) {
		if (pos > 0)
			rd_putc(b, ',');
		for (size_t i = 0; i < v[pos]; i++) {
			uint8_t ch = v[pos + 1 + i];
			if (ch <= 0x20 || ch >= 0x7f)
				rd_printf(b, "\\%03u", ch);
			else if (ch == ',')
				rd_puts(b, "\\\\,", 3);
			else if (ch == '\\')
				rd_puts(b, "\\\\\\\\", 4);
			else if (ch == '"')
				rd_puts(b, "\\\"", 2);
			else
				rd_putc(b, (char)ch);
		}
	}
	rd_putc(b, '"');
}

void
rd_svcb_text(const uint8_t *p, size_t len, struct rd_tbuf *b)
{
	for (size_t pos = 0; pos < len;) {
		uint16_t key = rd_u16(p + pos), vl = rd_u16(p + pos + 2);
		const uint8_t *v = p + pos + 4;
		rd_putc(b, ' ');
		put_key(b, key);
		switch (key) {
		case K_MANDATORY:
			rd_putc(b, '=');
			for (size_t i = 0; i < vl; i += 2) {
				if (i > 0)
					rd_putc(b, ',');
				put_key(b, rd_u16(v + i));
			}
			break;
		case K_ALPN:
			rd_putc(b, '=');
			put_alpn(b, v, vl);
			break;
		case K_NODEFALPN:
			break;
		case K_PORT:
			rd_printf(b, "=%u", rd_u16(v));
			break;
		case K_IPV4HINT:
		case K_IPV6HINT: {
			int af = key == K_IPV4HINT ? AF_INET : AF_INET6;
			size_t step = key == K_IPV4HINT ? 4 : 16;
			rd_putc(b, '=');
			for (size_t i = 0; i < vl; i += step) {
				char tmp[INET6_ADDRSTRLEN];
				if (i > 0)
					rd_putc(b, ',');
				if (inet_ntop(af, v + i, tmp, sizeof(tmp)) == NULL)
					b->over = true;
				else
					rd_puts(b, tmp, strlen(tmp));
			}
			break;
		}
		case K_ECH:
			if (vl > 0) {
				char tmp[90];
				rd_putc(b, '=');
				/* 63 octets make 84 characters; BIND prints ech unchunked */
				for (size_t i = 0; i < vl; i += 63) {
					size_t k = vl - i < 63 ? vl - i : 63;
					int m = base64_encode(v + i, k, tmp, sizeof(tmp));
					rd_puts(b, tmp, (size_t)m);
				}
			}
			break;
		default:
			if (vl > 0) {
				rd_puts(b, "=\"", 2);
				rd_put_escaped(b, v, vl);
				rd_putc(b, '"');
			}
			break;
		}
		pos += 4 + (size_t)vl;
	}
}

/* Reverses p[0..n). */
static void
reverse(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t x = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = x;
	}
}

/* Splits a decoded alpn value on unescaped commas into length-prefixed ids in place. */
static int
alpn_encode(uint8_t *v, size_t len, size_t cap, size_t *outlen)
{
	/* The encoded form (one length octet per id, escapes removed) is never
	 * longer than len + 1, so encode from a copy kept at the end of v. */
	if (len + 1 > cap)
		return -EMSGSIZE;
	memmove(v + cap - len, v, len);
	const uint8_t *src = v + cap - len;
	size_t o = 0, start = 0;
	v[o++] = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = src[i];
		if (ch == '\\') {
			if (i + 1 >= len)
				return -EINVAL;
			ch = src[++i];
		} else if (ch == ',') {
			if (o - start - 1 == 0)
				return -EINVAL;
			start = o;
			v[o++] = 0;
			continue;
		}
		if (o - start - 1 >= 255)
			return -EINVAL;
		/* o < cap - len + i + 1 always holds: ids shrink the text */
		v[o++] = ch;
		v[start]++;
	}
	if (v[start] == 0)
		return -EINVAL;
	*outlen = o;
	return 0;
}

/* Comma-separated list parsing for mandatory and the address hints. */
static int
parse_list(struct rd_pctx *c, uint16_t key, const uint8_t *txt, size_t len, uint8_t *out,
           size_t cap, size_t *outlen)
{
	size_t o = 0, st = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && txt[i] != ',')
			continue;
		size_t il = i - st;
		char item[64];
		if (il == 0 || il >= sizeof(item))
			return -EINVAL;
		memcpy(item, txt + st, il);
		item[il] = '\0';
		st = i + 1;
		if (key == K_MANDATORY) {
			uint16_t k;
			if (key_from_text(item, il, &k) < 0)
				return rd_fail(c, c->i, "unknown SVCB key '%s' in mandatory", item);
			if (k == K_MANDATORY)
				return rd_fail(c, c->i, "SVCB mandatory lists itself");
			/* insertion sort keeps the list in increasing order */
			if (cap - o < 2)
				return -EMSGSIZE;
			size_t at = o;
			while (at > 0 && rd_u16(out + at - 2) > k)
				at -= 2;
			if (at > 0 && rd_u16(out + at - 2) == k)
				return rd_fail(c, c->i, "duplicate key '%s' in SVCB mandatory", item);
			memmove(out + at + 2, out + at, o - at);
			wr_u16(out + at, k);
			o += 2;
		} else {
			int af = key == K_IPV4HINT ? AF_INET : AF_INET6;
			size_t step = key == K_IPV4HINT ? 4 : 16;
			if (cap - o < step)
				return -EMSGSIZE;
			if (inet_pton(af, item, out + o) != 1)
				return rd_fail(c, c->i, "bad %s address '%s' in SVCB %s",
				               af == AF_INET ? "IPv4" : "IPv6", item, key_names[key]);
			o += step;
		}
	}
	*outlen = o;
	return 0;
}

/*
 * The presentation value of a named key (`vl` unescaped bytes at `v`, room
 * for `vcap`) turned into its wire form in place.  Returns 0, -EINVAL (a bad
 * value: the caller says so), or ERR_RDATA with the message already set.
 */
static int
named_value(struct rd_pctx *c, uint16_t key, uint8_t *v, size_t vcap, size_t *vlp,
            size_t tokidx, const char *tname)
{
	size_t vl = *vlp;
	int rr = 0;
	switch (key) {
	case K_MANDATORY:
	case K_IPV4HINT:
	case K_IPV6HINT: {
		/* decoded text moves to the far end; the list is built at v */
		if (vl > vcap / 2)
			return rd_fail(c, tokidx, "%s rdata too long", tname);
		uint8_t *txt = v + vcap - vl;
		memmove(txt, v, vl);
		rr = parse_list(c, key, txt, vl, v, vcap - vl, &vl);
		break;
	}
	case K_ALPN:
		rr = alpn_encode(v, vl, vcap, &vl);
		break;
	case K_PORT: {
		uint32_t port = 0;
		rr = vl == 0 || vl > 5 ? -EINVAL : 0;
		for (size_t i = 0; rr == 0 && i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				rr = -EINVAL;
			port = port * 10 + (uint32_t)(v[i] - '0');
		}
		if (rr == 0 && port > 65535)
			rr = -EINVAL;
		if (rr == 0) {
			wr_u16(v, (uint16_t)port);
			vl = 2;
		}
		break;
	}
	case K_ECH: {
		if (vl > vcap / 2)
			return rd_fail(c, tokidx, "%s rdata too long", tname);
		char *txt = (char *)v + vcap - vl;
		memmove(txt, v, vl);
		int n = base64_decode(txt, vl, v, vcap - vl);
		if (n < 0)
			return rd_fail(c, tokidx, "bad base64 in %s ech", tname);
		vl = (size_t)n;
		break;
	}
	default:
		break;
	}
	*vlp = vl;
	return rr;
}

/* Moves the param just written at `end` (`plen` bytes) into key order; false: a duplicate. */
static bool
insert_param(uint8_t *base, size_t start, size_t end, size_t plen, uint16_t key)
{
	size_t ip = start;
	while (ip < end && rd_u16(base + ip) < key)
		ip += 4 + (size_t)rd_u16(base + ip + 2);
	if (ip < end && rd_u16(base + ip) == key)
		return false;
	if (ip < end) {
		reverse(base + ip, end - ip);
		reverse(base + end, plen);
		reverse(base + ip, end - ip + plen);
	}
	return true;
}

/* The only rule not checked per param: mandatory keys must be present. */
static int
check_mandatory(struct rd_pctx *c, size_t start, size_t mand_tok, const char *tname)
{
	const uint8_t *base = c->w.base;
	size_t plen = c->w.pos - start;
	if (plen < 4 || rd_u16(base + start) != K_MANDATORY)
		return 0;
	const uint8_t *m = base + start + 4;
	for (size_t i = 0; i < rd_u16(base + start + 2); i += 2) {
		uint16_t want = rd_u16(m + i);
		bool found = false;
		for (size_t q = start; q < c->w.pos; q += 4 + (size_t)rd_u16(base + q + 2))
			found = found || rd_u16(base + q) == want;
		if (!found) {
			char kn[16];
			if (want < NKEYS)
				snprintf(kn, sizeof(kn), "%s", key_names[want]);
			else
				snprintf(kn, sizeof(kn), "key%u", want);
			return rd_fail(c, mand_tok, "%s mandatory key '%s' is missing", tname, kn);
		}
	}
	return 0;
}

int
rd_svcb_parse(struct rd_pctx *c, uint16_t prio)
{
	char tn[DNS_RRTYPE_TEXT_MAX];
	const char *tname = rd_tname(c->type, tn, sizeof(tn));
	uint8_t *base = c->w.base;
	size_t start = c->w.pos;    /* params begin here */
	size_t cap = c->w.len;
	size_t mand_tok = c->n;     /* where "mandatory" was written, for messages */
	if (prio == 0 && c->i < c->n)
		return rd_fail(c, c->i, "%s AliasMode (priority 0) must not have params", tname);
	for (; c->i < c->n; c->i++) {
		const struct dns_tok *t = &c->t[c->i];
		if (t->kind != DNS_TOK_WORD)
			return rd_fail(c, c->i, "unexpected quoted string '%.*s' in %s params",
			               RD_TOKFMT(t), tname);
		const char *eq = memchr(t->s, '=', t->len);
		size_t klen = eq != NULL ? (size_t)(eq - t->s) : t->len;
		uint16_t key;
		int named = key_from_text(t->s, klen, &key);
		if (named < 0)
			return rd_fail(c, c->i, "unknown %s key '%.*s'", tname,
			               (int)(klen > 40 ? 40 : klen), t->s);
		/* the value: after '=', or the quoted string glued to "key=" */
		struct dns_tok val = { .s = "", .len = 0, .kind = DNS_TOK_WORD };
		bool has_val = eq != NULL;
		size_t tokidx = c->i;
		if (eq != NULL) {
			val.s = eq + 1;
			val.len = t->len - klen - 1;
			if (val.len == 0 && c->i + 1 < c->n && c->t[c->i + 1].kind == DNS_TOK_QSTRING &&
			    c->t[c->i + 1].s == t->s + t->len + 1) {
				val = c->t[++c->i];
			}
		}
		if (key == K_MANDATORY)
			mand_tok = tokidx;
		size_t end = c->w.pos;
		if (cap - end < 4)
			return rd_fail(c, tokidx, "%s rdata too long", tname);
		uint8_t *v = base + end + 4;
		size_t vcap = cap - end - 4 > 65535 ? 65535 : cap - end - 4;
		int r = dns_tok_unescape(&val, v, vcap);
		if (r == ERR_SYNTAX)
			return rd_fail(c, tokidx, "bad escape in %s value of key '%.*s'", tname,
			               (int)(klen > 40 ? 40 : klen), t->s);
		if (r < 0)
			return rd_fail(c, tokidx, "%s rdata too long", tname);
		size_t vl = (size_t)r;
		int rr = 0;
		if (named == 1 && eq != NULL) {
			rr = named_value(c, key, v, vcap, &vl, tokidx, tname);
			if (rr == ERR_RDATA)
				return rr;
		} else if (!has_val && named == 1 && key != K_ECH && key != K_NODEFALPN) {
			return rd_fail(c, tokidx, "%s key '%.*s' needs a value", tname,
			               (int)(klen > 40 ? 40 : klen), t->s);
		}
		/* no-default-alpn takes no value, not even an empty one (as BIND) */
		if (key == K_NODEFALPN && has_val)
			rr = -EINVAL;
		if (rr != 0 || !value_ok(key, v, vl))
			return rd_fail(c, tokidx, "bad %s value for key '%.*s'", tname,
			               (int)(klen > 40 ? 40 : klen), t->s);
		wr_u16(base + end, key);
		wr_u16(base + end + 2, (uint16_t)vl);
		size_t plen = 4 + vl;
		/* find where this key goes, rejecting duplicates */
		if (!insert_param(base, start, end, plen, key))
			return rd_fail(c, tokidx, "duplicate %s key '%.*s'", tname,
			               (int)(klen > 40 ? 40 : klen), t->s);
		c->w.pos = end + plen;
	}
	int mr = check_mandatory(c, start, mand_tok, tname);
	if (mr != 0)
		return mr;
	size_t plen = c->w.pos - start;
	if (rd_svcb_check(base + start, plen, prio) != 0)
		return rd_fail(c, c->n - 1, "bad %s params", tname);
	return 0;
}
