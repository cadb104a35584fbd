/*
 * Tokenizer for RFC 1035 §5 text: zone files and single record contents
 * (API "content" strings).  Tokens point into the caller's buffer, raw:
 * escapes (\. \DDD) are left for the consumer (names, character-strings)
 * to decode.  Quoted strings come without their quotes.  Parentheses join
 * lines; comments (;) run to the end of the line.  No allocation.
 */
#ifndef DNS_LEX_H
#define DNS_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dns_tok_kind {
	DNS_TOK_WORD,
	DNS_TOK_QSTRING,
	DNS_TOK_EOL,    /* end of a logical line (outside parentheses) */
	DNS_TOK_EOF,
};

struct dns_tok {
	const char *s;      /* raw text, not NUL-terminated */
	size_t len;
	unsigned line, col; /* 1-based; col == 1 means the token starts the line */
	enum dns_tok_kind kind;
};

struct dns_lex {
	const char *p, *end;
	const char *line_start;
	unsigned line;
	unsigned paren_line, paren_col; /* where the open '(' was */
	int paren;
	/* set when dns_lex_next returns an error */
	unsigned err_line, err_col;
	const char *err_what;
};

void dns_lex_init(struct dns_lex *lx, const char *text, size_t len);

/*
 * Reads the next token into `t`.  Returns 0, or ERR_SYNTAX with err_line,
 * err_col and err_what set (unterminated quote, stray ')', missing ')' at
 * end of input, NUL byte in text).
 */
int dns_lex_next(struct dns_lex *lx, struct dns_tok *t);

/* True when token `t` equals `word` ignoring ASCII case (words only). */
bool dns_tok_is(const struct dns_tok *t, const char *word);

/*
 * Decodes a character-string token (quoted or not: escapes \X and \DDD) into
 * `out` (cap bytes).  Returns the decoded length or ERR_SYNTAX (bad escape),
 * -EMSGSIZE (longer than cap).
 */
int dns_tok_unescape(const struct dns_tok *t, uint8_t *out, size_t cap);

#endif
