/*
 * primary/store_upolicy.c's matching: subdomain, name and pattern rules,
 * types (ANY for a name's deletion), case-insensitive names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns/name.h"
#include "dns/rrtype.h"
#include "primary/store.h"

static struct store_upolicy_rule
rule(enum store_upolicy_match m, const char *name, uint16_t t1, uint16_t t2)
{
	struct store_upolicy_rule r;
	memset(&r, 0, sizeof(r));
	r.match = m;
	assert_true(dns_name_from_text(name, strlen(name), NULL, r.name) > 0);
	if (t1 != 0)
		r.types[r.ntypes++] = t1;
	if (t2 != 0)
		r.types[r.ntypes++] = t2;
	return r;
}

static bool
allows(const struct store_upolicy_rule *r, const char *owner, uint16_t type)
{
	uint8_t w[DNS_NAME_MAX];
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, w) > 0);
	return store_upolicy_allows(r, w, type);
}

static void
test_subdomain(void **state)
{
	(void)state;
	struct store_upolicy_rule r = rule(STORE_UPM_SUBDOMAIN, "dyn.example.", 0, 0);
	assert_true(allows(&r, "dyn.example.", DNS_T_A));
	assert_true(allows(&r, "a.b.DYN.example.", DNS_T_TXT));
	assert_true(allows(&r, "x.dyn.example.", DNS_T_ANY));   /* no types: any, deletion too */
	assert_false(allows(&r, "example.", DNS_T_A));
	assert_false(allows(&r, "xdyn.example.", DNS_T_A));
}

static void
test_name_and_types(void **state)
{
	(void)state;
	struct store_upolicy_rule r = rule(STORE_UPM_NAME, "_acme-challenge.example.", DNS_T_TXT,
	                                   0);
	assert_true(allows(&r, "_ACME-challenge.example.", DNS_T_TXT));
	assert_false(allows(&r, "_acme-challenge.example.", DNS_T_A));
	assert_false(allows(&r, "_acme-challenge.example.", DNS_T_ANY));
	assert_false(allows(&r, "x._acme-challenge.example.", DNS_T_TXT));
	r = rule(STORE_UPM_NAME, "h.example.", DNS_T_A, DNS_T_ANY);
	assert_true(allows(&r, "h.example.", DNS_T_ANY));
	assert_true(allows(&r, "h.example.", DNS_T_A));
	assert_false(allows(&r, "h.example.", DNS_T_AAAA));
}

static void
test_pattern(void **state)
{
	(void)state;
	struct store_upolicy_rule r = rule(STORE_UPM_PATTERN, "_acme-challenge.*.example.",
	                                   DNS_T_TXT, 0);
	assert_true(allows(&r, "_acme-challenge.www.example.", DNS_T_TXT));
	assert_true(allows(&r, "_Acme-Challenge.MAIL.example.", DNS_T_TXT));
	assert_false(allows(&r, "_acme-challenge.example.", DNS_T_TXT));        /* one label short */
	assert_false(allows(&r, "_acme-challenge.a.b.example.", DNS_T_TXT));    /* one too many */
	assert_false(allows(&r, "_acme-challengex.www.example.", DNS_T_TXT));
	assert_false(allows(&r, "_acme-challenge.www.other.", DNS_T_TXT));
	r = rule(STORE_UPM_PATTERN, "*.*.example.", 0, 0);
	assert_true(allows(&r, "a.b.example.", DNS_T_A));
	assert_false(allows(&r, "a.example.", DNS_T_A));
}

static void
test_match_names(void **state)
{
	(void)state;
	enum store_upolicy_match m;
	assert_int_equal(store_upolicy_match_parse("Pattern", &m), 0);
	assert_int_equal(m, STORE_UPM_PATTERN);
	assert_string_equal(store_upolicy_match_name(STORE_UPM_SUBDOMAIN), "subdomain");
	assert_int_not_equal(store_upolicy_match_parse("regex", &m), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subdomain),
		cmocka_unit_test(test_name_and_types),
		cmocka_unit_test(test_pattern),
		cmocka_unit_test(test_match_names),
	};
	return cmocka_run_group_tests_name("upolicy", tests, NULL, NULL);
}
