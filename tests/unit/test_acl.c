/* primary/acl.c: acl_prefix_match, the matcher of ALLOW-AXFR-FROM (issue 16.6). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "primary/acl.h"

static struct sockaddr_storage
sa(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
		a6->sin6_family = AF_INET6;
	}
	return ss;
}

static int
m(const char *spec, const char *ip)
{
	struct sockaddr_storage ss = sa(ip);
	return acl_prefix_match(spec, (const struct sockaddr *)&ss);
}

static void
test_acl_prefix_match(void **state)
{
	(void)state;
	assert_int_equal(m("192.0.2.0/24", "192.0.2.77"), 1);
	assert_int_equal(m("192.0.2.0/24", "192.0.3.1"), 0);
	assert_int_equal(m("192.0.2.128/25", "192.0.2.127"), 0);
	assert_int_equal(m("192.0.2.128/25", "192.0.2.200"), 1);
	assert_int_equal(m("192.0.2.1", "192.0.2.1"), 1);
	assert_int_equal(m("192.0.2.1", "192.0.2.2"), 0);
	assert_int_equal(m("0.0.0.0/0", "203.0.113.9"), 1);
	assert_int_equal(m("192.0.2.0/24", "::ffff:192.0.2.9"), 1);   /* v4-mapped */
	assert_int_equal(m("2001:db8::/32", "2001:db8:1::5"), 1);
	assert_int_equal(m("2001:db8::/32", "2001:db9::5"), 0);
	assert_int_equal(m("2001:db8::/32", "192.0.2.1"), 0);
	assert_int_equal(m("192.0.2.0/24", "2001:db8::1"), 0);
	/* not a prefix */
	assert_int_equal(acl_prefix_match("AUTO-NS", NULL), -1);
	assert_int_equal(acl_prefix_match("192.0.2.0/33", NULL), -1);
	assert_int_equal(acl_prefix_match("192.0.2.0/", NULL), -1);
	assert_int_equal(acl_prefix_match("/24", NULL), -1);
	assert_int_equal(acl_prefix_match("2001:db8::/129", NULL), -1);
	assert_int_equal(acl_prefix_match("192.0.2.0/24", NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acl_prefix_match),
	};
	return cmocka_run_group_tests_name("acl", tests, NULL, NULL);
}
