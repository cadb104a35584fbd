/*
 * RFC 1035 §5 tokenizer.  Invariant: lx->p never passes lx->end, and
 * line/col are maintained so that every token and error carries the
 * position a person needs to find it.
 */
#include "dns/lex.h"

#include <string.h>

#include "util/err.h"

void
dns_lex_init(struct dns_lex *lx, const char *text, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->p = text;
	lx->end = text + len;
	lx->line_start = text;
	lx->line = 1;
}

static unsigned
col_of(const struct dns_lex *lx, const char *p)
{
	return (unsigned)(p - lx->line_start) + 1;
}

static int
lex_error(struct dns_lex *lx, unsigned line, unsigned col, const char *what)
{
	lx->err_line = line;
	lx->err_col = col;
	lx->err_what = what;
	return ERR_SYNTAX;
}

static bool
is_delim(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' ||
	       c == ')' || c == '"';
}

int
dns_lex_next(struct dns_lex *lx, struct dns_tok *t)
{
	for (;;) {
		if (lx->p >= lx->end) {
			if (lx->paren > 0)
				return lex_error(lx, lx->paren_line, lx->paren_col,
				                 "'(' is never closed by ')'");
			t->s = lx->p;
			t->len = 0;
			t->line = lx->line;
			t->col = col_of(lx, lx->p);
			t->kind = DNS_TOK_EOF;
			return 0;
		}
		char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
			continue;
		}
		if (c == '\0')
			return lex_error(lx, lx->line, col_of(lx, lx->p), "NUL byte in text");
		if (c == ';') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (c == '\n') {
			t->s = lx->p;
			t->len = 0;
			t->line = lx->line;
			t->col = col_of(lx, lx->p);
			lx->p++;
			lx->line++;
			lx->line_start = lx->p;
			if (lx->paren > 0)
				continue;
			t->kind = DNS_TOK_EOL;
			return 0;
		}
		if (c == '(') {
			if (lx->paren == 0) {
				lx->paren_line = lx->line;
				lx->paren_col = col_of(lx, lx->p);
			}
			lx->paren++;
			lx->p++;
			continue;
		}
		if (c == ')') {
			if (lx->paren == 0)
				return lex_error(lx, lx->line, col_of(lx, lx->p),
				                 "')' without an open '('");
			lx->paren--;
			lx->p++;
			continue;
		}
		t->line = lx->line;
		t->col = col_of(lx, lx->p);
		if (c == '"') {
			const char *start = ++lx->p;
			while (lx->p < lx->end && *lx->p != '"') {
				if (*lx->p == '\\' && lx->p + 1 < lx->end)
					lx->p++;
				if (*lx->p == '\n') {
					lx->line++;
					lx->line_start = lx->p + 1;
				}
				lx->p++;
			}
			if (lx->p >= lx->end)
				return lex_error(lx, t->line, t->col, "quoted string is never closed");
			t->s = start;
			t->len = (size_t)(lx->p - start);
			t->kind = DNS_TOK_QSTRING;
			lx->p++;
			return 0;
		}
		const char *start = lx->p;
		while (lx->p < lx->end && !is_delim(*lx->p)) {
			if (*lx->p == '\0')
				return lex_error(lx, lx->line, col_of(lx, lx->p), "NUL byte in text");
			if (*lx->p == '\\' && lx->p + 1 < lx->end && lx->p[1] != '\n')
				lx->p++;
			lx->p++;
		}
		t->s = start;
		t->len = (size_t)(lx->p - start);
		t->kind = DNS_TOK_WORD;
		return 0;
	}
}

bool
dns_tok_is(const struct dns_tok *t, const char *word)
{
	size_t n = strlen(word);
	if (t->kind != DNS_TOK_WORD || t->len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = t->s[i], b = word[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (char)(b + 32);
		if (a != b)
			return false;
	}
	return true;
}

int
dns_tok_unescape(const struct dns_tok *t, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < t->len; i++) {
		uint8_t c = (uint8_t)t->s[i];
		if (c == '\\') {
			if (i + 1 >= t->len)
				return ERR_SYNTAX;
			uint8_t d = (uint8_t)t->s[i + 1];
			if (d >= '0' && d <= '9') {
				if (i + 3 >= t->len)
					return ERR_SYNTAX;
				uint8_t d2 = (uint8_t)t->s[i + 2], d3 = (uint8_t)t->s[i + 3];
				if (d2 < '0' || d2 > '9' || d3 < '0' || d3 > '9')
					return ERR_SYNTAX;
				unsigned v = (unsigned)(d - '0') * 100 + (unsigned)(d2 - '0') * 10 +
				             (unsigned)(d3 - '0');
				if (v > 255)
					return ERR_SYNTAX;
				c = (uint8_t)v;
				i += 3;
			} else {
				c = d;
				i++;
			}
		}
		if (n >= cap)
			return -EMSGSIZE;
		out[n++] = c;
	}
	return (int)n;
}
