/* dns/lex.c: RFC 1035 §5 tokens, parentheses, comments, escapes, errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dns/lex.h"
#include "util/err.h"

static struct dns_lex lx;

static void
start(const char *text)
{
	dns_lex_init(&lx, text, strlen(text));
}

static void
expect(enum dns_tok_kind kind, const char *text, unsigned line, unsigned col)
{
	struct dns_tok t;
	assert_int_equal(dns_lex_next(&lx, &t), 0);
	assert_int_equal(t.kind, kind);
	if (text != NULL) {
		assert_int_equal(t.len, strlen(text));
		assert_memory_equal(t.s, text, t.len);
	}
	if (line != 0) {
		assert_int_equal(t.line, line);
		assert_int_equal(t.col, col);
	}
}

static void
test_lex_tokens_and_lines(void **state)
{
	(void)state;
	start("www  IN A 192.0.2.1 ; comment\n\t3600 TXT \"a b\" c\\ d\n");
	expect(DNS_TOK_WORD, "www", 1, 1);
	expect(DNS_TOK_WORD, "IN", 1, 6);
	expect(DNS_TOK_WORD, "A", 1, 9);
	expect(DNS_TOK_WORD, "192.0.2.1", 1, 11);
	expect(DNS_TOK_EOL, NULL, 0, 0);
	expect(DNS_TOK_WORD, "3600", 2, 2);   /* not column 1: the owner is the previous one */
	expect(DNS_TOK_WORD, "TXT", 0, 0);
	expect(DNS_TOK_QSTRING, "a b", 0, 0);
	expect(DNS_TOK_WORD, "c\\ d", 0, 0);  /* an escaped blank stays in the word, raw */
	expect(DNS_TOK_EOL, NULL, 0, 0);
	expect(DNS_TOK_EOF, NULL, 0, 0);
	expect(DNS_TOK_EOF, NULL, 0, 0);      /* and stays there */
}

static void
test_lex_parentheses(void **state)
{
	(void)state;
	/* Parentheses join lines into one logical line; comments inside are skipped. */
	start("@ SOA ns1 host ( 1 ; serial\n 3600 600\n 86400 300 )\nnext A 1.2.3.4");
	const char *words[] = {"@", "SOA", "ns1", "host", "1", "3600", "600", "86400", "300"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		expect(DNS_TOK_WORD, words[i], 0, 0);
	expect(DNS_TOK_EOL, NULL, 0, 0);
	expect(DNS_TOK_WORD, "next", 4, 1);
	expect(DNS_TOK_WORD, "A", 0, 0);
	expect(DNS_TOK_WORD, "1.2.3.4", 0, 0);
	expect(DNS_TOK_EOF, NULL, 0, 0);
	/* A quoted string may span lines with the newline escaped. */
	start("x TXT \"one\\\ntwo\" y\n");
	expect(DNS_TOK_WORD, "x", 0, 0);
	expect(DNS_TOK_WORD, "TXT", 0, 0);
	expect(DNS_TOK_QSTRING, "one\\\ntwo", 0, 0);
	expect(DNS_TOK_WORD, "y", 2, 6);
}

static void
test_lex_errors(void **state)
{
	(void)state;
	struct dns_tok t;
	start("a ) b");
	expect(DNS_TOK_WORD, "a", 0, 0);
	assert_int_equal(dns_lex_next(&lx, &t), ERR_SYNTAX);
	assert_int_equal(lx.err_col, 3);
	assert_non_null(strstr(lx.err_what, "')'"));
	start("a \"never closed\n");
	expect(DNS_TOK_WORD, "a", 0, 0);
	assert_int_equal(dns_lex_next(&lx, &t), ERR_SYNTAX);
	assert_non_null(strstr(lx.err_what, "never closed"));
	static const char nul[] = {'a', ' ', 'b', 0, 'c'};
	dns_lex_init(&lx, nul, sizeof(nul));
	expect(DNS_TOK_WORD, "a", 0, 0);
	assert_int_equal(dns_lex_next(&lx, &t), ERR_SYNTAX);
	assert_non_null(strstr(lx.err_what, "NUL"));
	/* An unclosed '(' is an error at the end, naming where it was opened. */
	start("a ( b\nc\n");
	int r = 0;
	for (int i = 0; i < 10 && r == 0; i++)
		r = dns_lex_next(&lx, &t);
	assert_int_equal(r, ERR_SYNTAX);
}

static void
test_lex_unescape_and_is(void **state)
{
	(void)state;
	uint8_t out[16];
	struct dns_tok t = {.s = "a\\065\\\\b\\\"", .len = 10, .kind = DNS_TOK_WORD};
	assert_int_equal(dns_tok_unescape(&t, out, sizeof(out)), 5);
	assert_memory_equal(out, "aA\\b\"", 5);
	t = (struct dns_tok){.s = "\\256", .len = 4};
	assert_int_equal(dns_tok_unescape(&t, out, sizeof(out)), ERR_SYNTAX);
	t = (struct dns_tok){.s = "\\12", .len = 3};
	assert_int_equal(dns_tok_unescape(&t, out, sizeof(out)), ERR_SYNTAX);
	t = (struct dns_tok){.s = "x\\", .len = 2};
	assert_int_equal(dns_tok_unescape(&t, out, sizeof(out)), ERR_SYNTAX);
	t = (struct dns_tok){.s = "abcd", .len = 4};
	assert_int_equal(dns_tok_unescape(&t, out, 3), -EMSGSIZE);
	t = (struct dns_tok){.s = "NoTiFy", .len = 6, .kind = DNS_TOK_WORD};
	assert_true(dns_tok_is(&t, "notify"));
	assert_false(dns_tok_is(&t, "notif"));
	t.kind = DNS_TOK_QSTRING;
	assert_false(dns_tok_is(&t, "notify"));   /* words only */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lex_tokens_and_lines),
		cmocka_unit_test(test_lex_parentheses),
		cmocka_unit_test(test_lex_errors),
		cmocka_unit_test(test_lex_unescape_and_is),
	};
	return cmocka_run_group_tests_name("lex", tests, NULL, NULL);
}
