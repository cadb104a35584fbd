/* secondary/catalog.c: RFC 9432 member extraction from a catalog version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dns/name.h"
#include "dns/rrtype.h"
#include "secondary/catalog.h"
#include "secondary/zone.h"
#include "util/err.h"

static uint8_t cat[DNS_NAME_MAX];

static void
add(struct zone_builder *b, const char *owner, uint16_t type, const uint8_t *rd, size_t rdlen)
{
	uint8_t o[DNS_NAME_MAX];
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, o) > 0);
	struct dns_rr rr = {.owner = o, .type = type, .rclass = DNS_C_IN, .ttl = 0,
	                    .rdlen = (uint16_t)rdlen, .rdata = rd};
	char err[128];
	assert_int_equal(zone_builder_add(b, &rr, err, sizeof(err)), 0);
}

static void
add_ptr(struct zone_builder *b, const char *owner, const char *target)
{
	uint8_t t[DNS_NAME_MAX];
	int n = dns_name_from_text(target, strlen(target), NULL, t);
	assert_true(n > 0);
	add(b, owner, DNS_T_PTR, t, (size_t)n);
}

/* A catalog with SOA, NS, `version` TXT (NULL: none) and the given PTRs. */
static struct zone *
make_catalog(const char *version, const char *const *ptrs)
{
	dns_name_from_text("cat.test.", 9, NULL, cat);
	struct zone_builder *b = zone_builder_new(cat);
	assert_non_null(b);
	uint8_t soa[2 + 20] = {0, 0, 0, 0, 0, 1};
	add(b, "cat.test.", DNS_T_SOA, soa, sizeof(soa));
	uint8_t inv[] = "\x07invalid";
	add(b, "cat.test.", DNS_T_NS, inv, sizeof(inv));
	if (version != NULL) {
		uint8_t txt[16];
		txt[0] = (uint8_t)strlen(version);
		memcpy(txt + 1, version, txt[0]);
		add(b, "version.cat.test.", DNS_T_TXT, txt, 1u + txt[0]);
	}
	for (size_t i = 0; ptrs != NULL && ptrs[i] != NULL; i += 2)
		add_ptr(b, ptrs[i], ptrs[i + 1]);
	struct zone *z = NULL;
	char err[128];
	assert_int_equal(zone_builder_finish(b, &z, err, sizeof(err)), 0);
	return z;
}

static bool
has(const struct catalog_members *m, const char *name)
{
	uint8_t n[DNS_NAME_MAX];
	dns_name_from_text(name, strlen(name), NULL, n);
	return catalog_members_has(m, n);
}

static void
test_catalog_members_rfc9432(void **state)
{
	(void)state;
	static const char *const ptrs[] = {
		"m1.zones.cat.test.", "One.Test.",
		"m2.zones.cat.test.", "two.test.",
		"m3.zones.cat.test.", "one.test.",              /* same member twice: once */
		"coo.m2.zones.cat.test.", "other.test.",        /* a property, not a member */
		"x.cat.test.", "stray.test.",                    /* outside zones. */
		"m4.zones.cat.test.", "cat.test.",              /* the catalog itself */
		NULL,
	};
	struct zone *z = make_catalog("2", ptrs);
	struct catalog_members m = {0};
	char why[128];
	assert_int_equal(catalog_members(z, cat, &m, why, sizeof(why)), 0);
	assert_int_equal(m.n, 2);
	assert_true(has(&m, "one.test."));
	assert_true(has(&m, "two.test."));
	assert_false(has(&m, "other.test."));
	assert_false(has(&m, "stray.test."));
	/* lowercased */
	assert_memory_equal(m.v[0], "\x03one\x04test", 10);
	catalog_members_clear(&m);
	zone_free(z);
}

static void
test_catalog_version_required(void **state)
{
	(void)state;
	static const char *const ptrs[] = {"m1.zones.cat.test.", "one.test.", NULL};
	const char *versions[] = {NULL, "1", "22"};
	for (size_t i = 0; i < 3; i++) {
		struct zone *z = make_catalog(versions[i], ptrs);
		struct catalog_members m = {0};
		char why[128];
		assert_int_equal(catalog_members(z, cat, &m, why, sizeof(why)), ERR_XFR);
		assert_int_equal(m.n, 0);
		assert_non_null(strstr(why, "not processed"));
		catalog_members_clear(&m);
		zone_free(z);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_members_rfc9432),
		cmocka_unit_test(test_catalog_version_required),
	};
	return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
