/*
 * LOC (RFC 1876): "d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]".
 * Wire: version 0, size, horizontal and vertical precision as 4-bit
 * mantissa/exponent of centimetres, then latitude and longitude in
 * thousandths of an arc second offset by 2^31, and altitude in centimetres
 * above 100,000 m below the WGS 84 spheroid.  Text output is BIND's.
 */
#include <string.h>

#include "dns/rdata_int.h"
#include "dns/wire.h"
#include "util/err.h"

#define LOC_EQUATOR 0x80000000u

static const uint32_t pow10_tab[10] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

/*
 * Parses "[-]digits[.frac]" with at most `fdig` fraction digits, scaled by
 * 10^fdig, and an optional trailing 'm' when `unit`.  Returns 0 or -1.
 */
static int
parse_fixed(const struct dns_tok *t, unsigned fdig, bool allow_neg, bool unit, int64_t *out)
{
	size_t i = 0, len = t->len;
	bool neg = false;
	if (t->kind != DNS_TOK_WORD || len == 0)
		return -1;
	if (unit && (t->s[len - 1] == 'm' || t->s[len - 1] == 'M'))
		len--;
	if (allow_neg && i < len && (t->s[i] == '-' || t->s[i] == '+')) {
		neg = t->s[i] == '-';
		i++;
	}
	int64_t ip = 0;
	size_t nd = 0;
	for (; i < len && t->s[i] >= '0' && t->s[i] <= '9'; i++, nd++) {
		ip = ip * 10 + (t->s[i] - '0');
		if (ip > 100000000000LL)
			return -1;
	}
	int64_t fp = 0;
	unsigned fd = 0;
	if (i < len && t->s[i] == '.') {
		i++;
		for (; i < len && t->s[i] >= '0' && t->s[i] <= '9'; i++, fd++) {
			if (fd >= fdig)
				return -1;
			fp = fp * 10 + (t->s[i] - '0');
		}
	}
	/* "54.", ".5" and "5" are numbers, "." is not (BIND reads the same) */
	if (i != len || nd + fd == 0)
		return -1;
	for (; fd < fdig; fd++)
		fp *= 10;
	int64_t v = ip * (int64_t)pow10_tab[fdig] + fp;
	*out = neg ? -v : v;
	return 0;
}

/* Centimetres -> RFC 1876 mantissa/exponent octet, truncating as BIND does. */
static uint8_t
loc_prec(int64_t cm)
{
	unsigned exp = 0;
	while (exp < 9 && cm >= (int64_t)pow10_tab[exp + 1])
		exp++;
	return (uint8_t)(((cm / pow10_tab[exp]) << 4) | exp);
}

/* One coordinate: degrees, optional minutes and seconds, then a hemisphere letter. */
/* The hemisphere letters are upper case only, as BIND reads them. */
static bool
tok_eq(const struct dns_tok *t, const char *s)
{
	return t->kind == DNS_TOK_WORD && t->len == 1 && t->s[0] == s[0];
}

static int
parse_coord(struct rd_pctx *c, bool lat, uint32_t *out)
{
	const char *pos = lat ? "N" : "E", *neg = lat ? "S" : "W";
	const char *what = lat ? "latitude" : "longitude";
	uint32_t maxdeg = lat ? 90 : 180;
	int64_t part[3] = { 0, 0, 0 };
	size_t first = c->i;
	int k = 0;
	while (c->i < c->n && k < 3) {
		const struct dns_tok *t = &c->t[c->i];
		if (tok_eq(t, pos) || tok_eq(t, neg))
			break;
		/* degrees and minutes are integers, seconds have up to 3 decimals */
		if (parse_fixed(t, k == 2 ? 3 : 0, false, false, &part[k]) != 0)
			return rd_fail(c, c->i, "bad LOC %s '%.*s'", what, RD_TOKFMT(t));
		k++;
		c->i++;
	}
	if (c->i >= c->n)
		return rd_fail(c, c->n, "missing LOC %s hemisphere", what);
	const struct dns_tok *h = &c->t[c->i];
	if (k == 0 || !(tok_eq(h, pos) || tok_eq(h, neg)))
		return rd_fail(c, c->i, "bad LOC %s '%.*s'", what, RD_TOKFMT(h));
	if (part[0] > maxdeg || part[1] > 59 || part[2] > 59999)
		return rd_fail(c, first, "LOC %s '%.*s' out of range", what, RD_TOKFMT(&c->t[first]));
	int64_t ms = ((part[0] * 60 + part[1]) * 60) * 1000 + part[2];
	if (ms > (int64_t)maxdeg * 3600000)
		return rd_fail(c, first, "LOC %s '%.*s' out of range", what, RD_TOKFMT(&c->t[first]));
	*out = tok_eq(h, pos) ? LOC_EQUATOR + (uint32_t)ms : LOC_EQUATOR - (uint32_t)ms;
	c->i++;
	return 0;
}

int
rd_loc_parse(struct rd_pctx *c)
{
	uint32_t lat, lon;
	int r = parse_coord(c, true, &lat);
	if (r != 0)
		return r;
	r = parse_coord(c, false, &lon);
	if (r != 0)
		return r;
	if (c->i >= c->n)
		return rd_fail(c, c->n, "missing LOC field 'altitude'");
	int64_t alt;
	const struct dns_tok *t = &c->t[c->i];
	if (parse_fixed(t, 2, true, true, &alt) != 0)
		return rd_fail(c, c->i, "bad LOC altitude '%.*s'", RD_TOKFMT(t));
	if (alt < -10000000 || alt > 4284967295LL)
		return rd_fail(c, c->i, "LOC altitude '%.*s' out of range", RD_TOKFMT(t));
	c->i++;
	/* defaults: size 1 m, horizontal precision 10 km, vertical 10 m */
	int64_t prec[3] = { 100, 1000000, 1000 };
	static const char *const pname[3] = { "size", "horizontal precision",
	                                      "vertical precision" };
	for (int k = 0; k < 3 && c->i < c->n; k++, c->i++) {
		t = &c->t[c->i];
		if (parse_fixed(t, 2, false, true, &prec[k]) != 0)
			return rd_fail(c, c->i, "bad LOC %s '%.*s'", pname[k], RD_TOKFMT(t));
		if (prec[k] > 9000000000LL)
			return rd_fail(c, c->i, "LOC %s '%.*s' out of range", pname[k], RD_TOKFMT(t));
	}
	wire_put_u8(&c->w, 0);
	wire_put_u8(&c->w, loc_prec(prec[0]));
	wire_put_u8(&c->w, loc_prec(prec[1]));
	wire_put_u8(&c->w, loc_prec(prec[2]));
	wire_put_u32(&c->w, lat);
	wire_put_u32(&c->w, lon);
	wire_put_u32(&c->w, (uint32_t)(alt + 10000000));
	return 0;
}

static bool
prec_ok(uint8_t v)
{
	return (v >> 4) <= 9 && (v & 15) <= 9;
}

int
rd_loc_check(const uint8_t *rd, size_t len)
{
	if (len != 16 || rd[0] != 0 || !prec_ok(rd[1]) || !prec_ok(rd[2]) || !prec_ok(rd[3]))
		return ERR_RDATA;
	uint32_t lat = rd_u32(rd + 4), lon = rd_u32(rd + 8);
	uint32_t dlat = lat >= LOC_EQUATOR ? lat - LOC_EQUATOR : LOC_EQUATOR - lat;
	uint32_t dlon = lon >= LOC_EQUATOR ? lon - LOC_EQUATOR : LOC_EQUATOR - lon;
	if (dlat > 90u * 3600000 || dlon > 180u * 3600000)
		return ERR_RDATA;
	return 0;
}

static void
put_coord(struct rd_tbuf *b, uint32_t v, char pos, char neg)
{
	bool p = v >= LOC_EQUATOR;
	uint32_t ms = p ? v - LOC_EQUATOR : LOC_EQUATOR - v;
	rd_printf(b, "%u %u %u.%03u %c", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
	          ms % 1000, p ? pos : neg);
}

static void
put_prec(struct rd_tbuf *b, uint8_t v)
{
	uint32_t man = v >> 4, exp = v & 15;
	if (exp >= 2)
		rd_printf(b, "%um", man * pow10_tab[exp - 2]);
	else
		rd_printf(b, "0.%02um", man * pow10_tab[exp]);
}

void
rd_loc_text(const uint8_t *rd, struct rd_tbuf *b)
{
	put_coord(b, rd_u32(rd + 4), 'N', 'S');
	rd_putc(b, ' ');
	put_coord(b, rd_u32(rd + 8), 'E', 'W');
	uint32_t alt = rd_u32(rd + 12);
	if (alt < 10000000u)
		rd_printf(b, " -%u.%02um ", (10000000u - alt) / 100, (10000000u - alt) % 100);
	else
		rd_printf(b, " %u.%02um ", (alt - 10000000u) / 100, (alt - 10000000u) % 100);
	put_prec(b, rd[1]);
	rd_putc(b, ' ');
	put_prec(b, rd[2]);
	rd_putc(b, ' ');
	put_prec(b, rd[3]);
}
