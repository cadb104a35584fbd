/*
 * RFC 1035 §5 zone text parser and canonical printer.
 *
 * The parser walks the tokens of dns/lex.c one logical line at a time:
 * directives ($ORIGIN, $TTL; $INCLUDE and $GENERATE refused), then records
 * `[owner] [TTL] [class] type rdata` with TTL and class in either order.
 * Every record is built in fixed buffers of one context (allocated once per
 * parse, never per record) and handed to the caller's callback.
 *
 * TTL rules follow BIND 9.18's master file loader, which named-checkzone
 * uses: $TTL sets the default; with no $TTL, a record without a TTL takes
 * the last explicit one (RFC 1035), except that an SOA seen while no TTL is
 * known at all takes its MINIMUM field and makes it the default (BIND's
 * "no TTL specified; using SOA MINTTL instead"), and any other record in
 * that state is an error ("no TTL specified").  Where this parser departs
 * from BIND on purpose: a TTL over 2147483647 is an error (BIND warns and
 * uses 0), and only class IN (or CLASS1) is accepted.  Like BIND it takes a
 * quoted owner name and refuses a raw newline inside a quoted string.
 *
 * Every error names the line and column of the offending token, or of the
 * place where a missing field was expected.
 */
#include "dns/zonetext.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/lex.h"
#include "dns/name.h"
#include "dns/soa.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "util/err.h"

#define ZT_TTL_MAX 2147483647u  /* RFC 2181 §8 */
#define ZT_TOK_INLINE 256       /* rdata fields without any allocation */

struct zt_ctx {
	struct dns_lex lx;
	struct dns_zt_err *err;
	dns_zt_rr_fn fn;
	void *fnctx;
	dns_zt_warn_fn warn;
	void *warnctx;
	bool warned_1035;
	uint8_t origin[DNS_NAME_MAX];
	uint8_t owner[DNS_NAME_MAX];
	bool have_owner;
	uint32_t default_ttl;   /* $TTL, or SOA MINIMUM (BIND) */
	bool default_known;
	uint32_t last_ttl;      /* last explicit TTL (RFC 1035 semantics) */
	bool last_known;
	struct dns_tok *tok;    /* rdata fields: tok_inline, or a heap array when */
	size_t tok_cap;         /* one record needs more (grown by doubling)     */
	struct dns_tok tok_inline[ZT_TOK_INLINE];
	uint8_t rdata[DNS_RDATA_MAX];
};

static int
fail(struct zt_ctx *c, int code, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int
fail(struct zt_ctx *c, int code, unsigned line, unsigned col, const char *fmt, ...)
{
	if (c->err != NULL) {
		va_list ap;
		c->err->line = line;
		c->err->col = col;
		va_start(ap, fmt);
		vsnprintf(c->err->what, sizeof(c->err->what), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Shortens a token for quoting in an error message. */
static int
tlen(const struct dns_tok *t)
{
	return t->len > 64 ? 64 : (int)t->len;
}

int
dns_zt_parse_ttl(const char *s, size_t len, uint32_t *ttl)
{
	uint64_t total = 0, n = 0;
	bool digits = false, unit_seen = false;
	if (len == 0)
		return ERR_SYNTAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= '0' && ch <= '9') {
			n = n * 10 + (uint64_t)(ch - '0');
			if (n > 0xffffffffull)
				return -ERANGE;
			digits = true;
			continue;
		}
		uint64_t mul;
		switch (ch | 0x20) {
		case 'w': mul = 604800; break;
		case 'd': mul = 86400; break;
		case 'h': mul = 3600; break;
		case 'm': mul = 60; break;
		case 's': mul = 1; break;
		default: return ERR_SYNTAX;
		}
		if (!digits)
			return ERR_SYNTAX;
		total += n * mul;
		if (total > 0xffffffffull)
			return -ERANGE;
		n = 0;
		digits = false;
		unit_seen = true;
	}
	if (digits) {
		/* BIND: a bare number only on its own ("1h30" is no TTL) */
		if (unit_seen)
			return ERR_SYNTAX;
		total = n;
	}
	if (total > ZT_TTL_MAX)
		return -ERANGE;
	*ttl = (uint32_t)total;
	return 0;
}

/*
 * Parses a name token, and on failure finds the column of the fault inside
 * it: the bad escape, the over-long or empty label, or the token itself when
 * the whole name (with the origin appended) exceeds 255 octets.
 */
static int
parse_name(struct zt_ctx *c, const struct dns_tok *t, const char *role, uint8_t *out)
{
	/* BIND takes a quoted name too; columns below count from the text */
	unsigned col = t->col + (t->kind == DNS_TOK_QSTRING);
	int r = dns_name_from_text(t->s, t->len, c->origin, out);
	if (r > 0)
		return r;
	if (t->len == 0)
		return fail(c, ERR_NAME_LABEL, t->line, t->col, "empty %s", role);
	size_t lstart = 0, llen = 0;
	for (size_t i = 0; i < t->len; i++) {
		char ch = t->s[i];
		if (ch == '.') {
			if (llen == 0 && !(t->len == 1))
				return fail(c, ERR_NAME_LABEL, t->line, col + (unsigned)i,
				            "empty label in %s '%.*s'", role, tlen(t), t->s);
			lstart = i + 1;
			llen = 0;
			continue;
		}
		if (ch == '\\') {
			bool ok = i + 1 < t->len;
			size_t skip = 1;
			if (ok && t->s[i + 1] >= '0' && t->s[i + 1] <= '9') {
				ok = i + 3 < t->len && t->s[i + 2] >= '0' && t->s[i + 2] <= '9' &&
				     t->s[i + 3] >= '0' && t->s[i + 3] <= '9' &&
				     (t->s[i + 1] - '0') * 100 + (t->s[i + 2] - '0') * 10 +
				     (t->s[i + 3] - '0') <= 255;
				skip = 3;
			}
			if (!ok)
				return fail(c, ERR_NAME_ESCAPE, t->line, col + (unsigned)i,
				            "bad escape in %s '%.*s'", role, tlen(t), t->s);
			i += skip;
		}
		if (++llen > DNS_LABEL_MAX)
			return fail(c, ERR_NAME_LABEL, t->line, col + (unsigned)lstart,
			            "label longer than 63 octets in %s '%.*s%s'", role, tlen(t),
			            t->s, t->len > 64 ? "..." : "");
	}
	if (r == ERR_NAME_LONG)
		return fail(c, r, t->line, t->col, "%s '%.*s%s' is longer than 255 octets", role,
		            tlen(t), t->s, t->len > 64 ? "..." : "");
	return fail(c, r, t->line, t->col, "bad %s '%.*s': %s", role, tlen(t), t->s, err_str(r));
}

static int
next(struct zt_ctx *c, struct dns_tok *t)
{
	int r = dns_lex_next(&c->lx, t);
	if (r != 0)
		return fail(c, r, c->lx.err_line, c->lx.err_col, "%s", c->lx.err_what);
	return 0;
}

static bool
at_eol(const struct dns_tok *t)
{
	return t->kind == DNS_TOK_EOL || t->kind == DNS_TOK_EOF;
}

/* Reads the rest of the line, which must be empty. */
static int
expect_eol(struct zt_ctx *c, const char *after)
{
	struct dns_tok t;
	int r = next(c, &t);
	if (r != 0)
		return r;
	if (!at_eol(&t))
		return fail(c, ERR_SYNTAX, t.line, t.col, "junk '%.*s' after %s", tlen(&t), t.s,
		            after);
	return 0;
}

static int
ttl_token(struct zt_ctx *c, const struct dns_tok *t, uint32_t *ttl)
{
	int r = dns_zt_parse_ttl(t->s, t->len, ttl);
	if (r == -ERANGE)
		return fail(c, ERR_SYNTAX, t->line, t->col,
		            "TTL '%.*s' exceeds 2147483647 (RFC 2181 §8)", tlen(t), t->s);
	if (r != 0)
		return fail(c, ERR_SYNTAX, t->line, t->col, "bad TTL '%.*s'", tlen(t), t->s);
	return 0;
}

static int
directive(struct zt_ctx *c, const struct dns_tok *d)
{
	struct dns_tok t;
	int r;
	if (dns_tok_is(d, "$ORIGIN")) {
		r = next(c, &t);
		if (r != 0)
			return r;
		if (at_eol(&t))
			return fail(c, ERR_SYNTAX, t.line, t.col, "$ORIGIN needs a domain name");
		uint8_t o[DNS_NAME_MAX];
		r = parse_name(c, &t, "$ORIGIN", o);
		if (r < 0)
			return r;
		memcpy(c->origin, o, (size_t)r);
		return expect_eol(c, "$ORIGIN name");
	}
	if (dns_tok_is(d, "$TTL")) {
		r = next(c, &t);
		if (r != 0)
			return r;
		if (at_eol(&t))
			return fail(c, ERR_SYNTAX, t.line, t.col, "$TTL needs a TTL value");
		uint32_t ttl;
		r = ttl_token(c, &t, &ttl);
		if (r != 0)
			return r;
		c->default_ttl = ttl;
		c->default_known = true;
		return expect_eol(c, "$TTL value");
	}
	if (dns_tok_is(d, "$INCLUDE"))
		return fail(c, ERR_SYNTAX, d->line, d->col, "$INCLUDE is not allowed");
	if (dns_tok_is(d, "$GENERATE"))
		return fail(c, ERR_SYNTAX, d->line, d->col, "$GENERATE is not supported");
	return fail(c, ERR_SYNTAX, d->line, d->col, "unknown directive '%.*s'", tlen(d), d->s);
}

static bool
tok_is_upper2(const struct dns_tok *t, char a, char b)
{
	return t->kind == DNS_TOK_WORD && t->len == 2 && (t->s[0] & ~0x20) == a &&
	       (t->s[1] & ~0x20) == b;
}

/* True when quoted text holds a newline without a backslash (BIND refuses it). */
static bool
raw_newline(const struct dns_tok *t)
{
	const char *p = memchr(t->s, '\n', t->len);
	while (p != NULL) {
		size_t bs = 0;   /* an odd run of backslashes escapes the newline */
		while (p - bs > t->s && p[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (bs % 2 == 0)
			return true;
		p = memchr(p + 1, '\n', t->len - (size_t)(p + 1 - t->s));
	}
	return false;
}

/* Doubles the rdata field array; it stays grown for the rest of the parse. */
static int
grow_tokens(struct zt_ctx *c)
{
	size_t cap = c->tok_cap * 2;
	struct dns_tok *t;
	if (c->tok == c->tok_inline) {
		t = malloc(cap * sizeof(*t));
		if (t != NULL)
			memcpy(t, c->tok_inline, sizeof(c->tok_inline));
	} else {
		t = realloc(c->tok, cap * sizeof(*t));
	}
	if (t == NULL)
		return -ENOMEM;
	c->tok = t;
	c->tok_cap = cap;
	return 0;
}

/* The owner (column 1) or the previous one; `t` moves to the next token. */
static int
record_owner(struct zt_ctx *c, struct dns_tok *t)
{
	if (t->col == 1) {
		int r = parse_name(c, t, "owner name", c->owner);
		if (r < 0)
			return r;
		c->have_owner = true;
		return next(c, t);
	}
	if (!c->have_owner)
		return fail(c, ERR_SYNTAX, t->line, t->col,
		            "no owner name: the first record must start in column 1");
	return 0;
}

/* [TTL] [class] or [class] [TTL], then the type, at which `t` stays. */
static int
record_head(struct zt_ctx *c, struct dns_tok *t, bool *have_ttl, uint32_t *ttl, uint16_t *type)
{
	bool have_class = false;
	for (;;) {
		if (at_eol(t))
			return fail(c, ERR_SYNTAX, t->line, t->col, "missing RR type");
		if (t->kind != DNS_TOK_WORD)
			return fail(c, ERR_SYNTAX, t->line, t->col, "expected an RR type, not \"%.*s\"",
			            tlen(t), t->s);
		if (!have_class && tok_is_upper2(t, 'I', 'N')) {
			have_class = true;
		} else if (!*have_ttl && t->s[0] >= '0' && t->s[0] <= '9') {
			int r = ttl_token(c, t, ttl);
			if (r != 0)
				return r;
			*have_ttl = true;
		} else if (dns_rrtype_from_text(t->s, t->len, type) == 0) {
			break;
		} else {
			uint16_t cl;
			if (dns_rrclass_from_text(t->s, t->len, &cl) != 0)
				return fail(c, ERR_TYPE, t->line, t->col, "unknown RR type '%.*s'",
				            tlen(t), t->s);
			if (cl != DNS_C_IN)
				return fail(c, ERR_SYNTAX, t->line, t->col,
				            "class %.*s is not supported (only IN)", tlen(t), t->s);
			if (have_class)
				return fail(c, ERR_SYNTAX, t->line, t->col, "class given twice");
			have_class = true;   /* CLASS1 (RFC 3597 §5) */
		}
		int r = next(c, t);
		if (r != 0)
			return r;
	}
	if (dns_rrtype_is_meta(*type))
		return fail(c, ERR_TYPE, t->line, t->col, "RR type %.*s cannot appear in zone data",
		            tlen(t), t->s);
	return 0;
}

/* The rdata tokens up to the end of the logical line into c->tok; their count or an error. */
static int
record_tokens(struct zt_ctx *c, size_t *count)
{
	size_t n = 0;
	for (;;) {
		int r = next(c, &c->tok[n]);
		if (r != 0)
			return r;
		if (at_eol(&c->tok[n]))
			break;
		if (c->tok[n].kind == DNS_TOK_QSTRING && raw_newline(&c->tok[n]))
			return fail(c, ERR_SYNTAX, c->tok[n].line, c->tok[n].col,
			            "quoted string runs past the end of the line (escape the newline)");
		if (++n < c->tok_cap)
			continue;
		if (c->tok_cap >= DNS_ZT_MAX_FIELDS)
			return fail(c, ERR_SYNTAX, c->tok[n - 1].line, c->tok[n - 1].col,
			            "more than %d rdata fields", DNS_ZT_MAX_FIELDS - 1);
		r = grow_tokens(c);
		if (r != 0)
			return fail(c, r, c->tok[n - 1].line, c->tok[n - 1].col, "out of memory");
	}
	*count = n;
	return 0;
}

/* The rdata of a `type` record into c->rdata: its length or an error. */
static int
record_rdata(struct zt_ctx *c, uint16_t type)
{
	/* the type's mnemonic, spelled canonically, is only needed for errors */
	char tname[DNS_RRTYPE_TEXT_MAX];
	size_t n = 0;
	int r = record_tokens(c, &n);
	if (r != 0)
		return r;
	const struct dns_tok *eol = &c->tok[n];
	struct dns_rdata_err re;
	re.tok = 0;
	re.what[0] = '\0';
	int rdlen = dns_rdata_from_tokens(type, c->tok, n, c->origin, c->rdata,
	                                  sizeof(c->rdata), &re);
	if (n == 0 && rdlen < 0) {
		/* no rdata at all is fine only where the type allows it (APL, RFC 3123) */
		dns_rrtype_to_text(type, tname, sizeof(tname));
		return fail(c, ERR_RDATA, eol->line, eol->col, "missing rdata for %s record", tname);
	}
	if (rdlen < 0) {
		dns_rrtype_to_text(type, tname, sizeof(tname));
		const struct dns_tok *at = re.tok < n ? &c->tok[re.tok] : eol;
		if (re.what[0] != '\0')   /* rdata's messages name the field and the text */
			return fail(c, rdlen, at->line, at->col, "%s", re.what);
		return fail(c, rdlen, at->line, at->col, "bad %s rdata: %s", tname, err_str(rdlen));
	}
	return rdlen;
}

/* TTL, as BIND 9.18's loader decides it (see the top of this file). */
static int
record_ttl(struct zt_ctx *c, bool have_ttl, uint32_t *ttl, uint16_t type, int rdlen,
           unsigned line, unsigned col)
{
	struct dns_soa soa;
	if (have_ttl) {
		c->last_ttl = *ttl;
		c->last_known = true;
	} else if (c->default_known) {
		*ttl = c->default_ttl;
	} else if (c->last_known) {
		*ttl = c->last_ttl;
		if (!c->warned_1035 && c->warn != NULL)
			c->warn(c->warnctx, line, col, "using RFC1035 TTL semantics");
		c->warned_1035 = true;
	} else if (type == DNS_T_SOA && dns_soa_parse(c->rdata, (size_t)rdlen, &soa) == 0) {
		*ttl = soa.minimum;
		if (*ttl > ZT_TTL_MAX)
			*ttl = 0;   /* BIND's limit_ttl() */
		c->default_ttl = *ttl;
		c->default_known = true;
		if (c->warn != NULL)
			c->warn(c->warnctx, line, col,
			        "no TTL specified; using SOA MINTTL instead");
	} else {
		return fail(c, ERR_SYNTAX, line, col,
		            "no TTL specified and no $TTL or SOA before this record");
	}
	return 0;
}

/* One record line; `t` is its first token. */
static int
record(struct zt_ctx *c, struct dns_tok *t)
{
	unsigned line = t->line, col = t->col;
	int r = record_owner(c, t);
	if (r != 0)
		return r;
	bool have_ttl = false;
	uint32_t ttl = 0;
	uint16_t type = 0;
	r = record_head(c, t, &have_ttl, &ttl, &type);
	if (r != 0)
		return r;
	int rdlen = record_rdata(c, type);
	if (rdlen < 0)
		return rdlen;
	r = record_ttl(c, have_ttl, &ttl, type, rdlen, line, col);
	if (r != 0)
		return r;
	struct dns_rr rr = {
		.owner = c->owner,
		.type = type,
		.rclass = DNS_C_IN,
		.ttl = ttl,
		.rdlen = (uint16_t)rdlen,
		.rdata = c->rdata,
	};
	r = c->fn != NULL ? c->fn(c->fnctx, &rr) : 0;
	if (r != 0 && c->err != NULL) {
		c->err->line = line;
		c->err->col = col;
		snprintf(c->err->what, sizeof(c->err->what), "record rejected by the caller (%d)",
		         r);
	}
	return r;
}

int
dns_zt_parse(const char *text, size_t len, const uint8_t *origin, uint32_t default_ttl,
             dns_zt_rr_fn fn, void *ctx, struct dns_zt_err *err)
{
	return dns_zt_parse_opts(text, len, origin, default_ttl, fn, ctx, NULL, err);
}

int
dns_zt_parse_opts(const char *text, size_t len, const uint8_t *origin, uint32_t default_ttl,
                  dns_zt_rr_fn fn, void *ctx, const struct dns_zt_opts *opts,
                  struct dns_zt_err *err)
{
	struct zt_ctx *c = malloc(sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if (err != NULL) {
		err->line = 0;
		err->col = 0;
		err->what[0] = '\0';
	}
	dns_lex_init(&c->lx, text, len);
	c->err = err;
	c->fn = fn;
	c->fnctx = ctx;
	c->warn = opts != NULL ? opts->warn : NULL;
	c->warnctx = opts != NULL ? opts->warn_ctx : NULL;
	c->warned_1035 = false;
	if (origin == NULL)
		origin = dns_root_name;
	memcpy(c->origin, origin, dns_name_len(origin));
	c->tok = c->tok_inline;
	c->tok_cap = ZT_TOK_INLINE;
	c->have_owner = false;
	c->default_known = default_ttl != DNS_ZT_NO_TTL;
	c->default_ttl = c->default_known ? default_ttl : 0;
	c->last_known = false;
	c->last_ttl = 0;

	int r = 0;
	for (;;) {
		struct dns_tok t;
		r = next(c, &t);
		if (r != 0)
			break;
		if (t.kind == DNS_TOK_EOF)
			break;
		if (t.kind == DNS_TOK_EOL)
			continue;
		if (t.col == 1 && t.kind == DNS_TOK_WORD && t.s[0] == '$')
			r = directive(c, &t);
		else
			r = record(c, &t);
		if (r != 0)
			break;
	}
	if (c->tok != c->tok_inline)
		free(c->tok);
	free(c);
	return r;
}

int
dns_zt_err_text(const struct dns_zt_err *err, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "line %u col %u: %s", err->line, err->col, err->what);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

int
dns_zt_print_rr(const struct dns_rr *rr, char *buf, size_t cap)
{
	int r = dns_name_to_text(rr->owner, buf, cap);
	if (r < 0)
		return -ENOSPC;
	size_t n = (size_t)r;
	/* " TTL IN TYPE " without printf: this is the hot path of a zone dump */
	char mid[64];
	size_t m = 0;
	mid[m++] = ' ';
	char digits[10];
	size_t nd = 0;
	uint32_t ttl = rr->ttl;
	do {
		digits[nd++] = (char)('0' + ttl % 10);
		ttl /= 10;
	} while (ttl != 0);
	while (nd > 0)
		mid[m++] = digits[--nd];
	if (rr->rclass == DNS_C_IN) {
		memcpy(mid + m, " IN ", 4);
		m += 4;
	} else {
		m += (size_t)snprintf(mid + m, sizeof(mid) - m, " CLASS%u ", rr->rclass);
	}
	const char *tn = dns_rrtype_name(rr->type);
	if (tn != NULL) {
		size_t tl = strlen(tn);
		memcpy(mid + m, tn, tl);
		m += tl;
	} else {
		m += (size_t)snprintf(mid + m, sizeof(mid) - m, "TYPE%u", rr->type);
	}
	mid[m++] = ' ';
	if (n + m >= cap)
		return -ENOSPC;
	memcpy(buf + n, mid, m);
	n += m;
	r = dns_rdata_to_text(rr->type, rr->rdata, rr->rdlen, buf + n, cap - n);
	if (r == ERR_RDATA)
		r = dns_rdata_to_generic(rr->rdata, rr->rdlen, buf + n, cap - n);
	if (r < 0)
		return -ENOSPC;
	n += (size_t)r;
	if (n + 2 > cap)
		return -ENOSPC;
	buf[n++] = '\n';
	buf[n] = '\0';
	return (int)n;
}
