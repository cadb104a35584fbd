/*
 * propagation: what the primary knows of each target's serial, the lag
 * from commit, NOTIFY outcomes, and the JSON of GET /zones/{id}/propagation;
 * acl_key_equal's name rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "primary/acl.h"
#include "primary/propagation.h"

static json_t *
target(json_t *root, const char *ip)
{
	json_t *arr = json_object_get(root, "targets");
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t) {
		if (strcmp(json_string_value(json_object_get(t, "target")), ip) == 0)
			return t;
	}
	return NULL;
}

static json_t *
get(struct propagation *p, const char *zone, uint32_t serial, int64_t now)
{
	char *s = propagation_json(p, zone, serial, now);
	assert_non_null(s);
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	free(s);
	assert_non_null(j);
	return j;
}

static void
test_propagation_lag_and_behind(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	propagation_commit(p, "example.com.", 5, 1000000);
	propagation_commit(p, "example.com.", 6, 2000000);
	/* Target A asked IXFR from 5 (it holds 5), then got 6 by IXFR 150 ms after
	 * the commit of 6; target B holds 5 only. */
	propagation_seen(p, "example.com.", "10.53.0.2", "TCP", "pop-a.", PROP_IXFR_ASKED, 5,
	                 2000100);
	propagation_seen(p, "example.com.", "10.53.0.2", "TCP", "pop-a.", PROP_IXFR_DONE, 6,
	                 2000150);
	propagation_seen(p, "example.com.", "10.53.0.3", "QUIC", "pop-b.", PROP_FULL_DONE, 5,
	                 1000500);
	json_t *j = get(p, "EXAMPLE.com.", 6, 2003000);
	assert_int_equal(json_integer_value(json_object_get(j, "serial")), 6);
	json_t *a = target(j, "10.53.0.2");
	json_t *b = target(j, "10.53.0.3");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(json_is_true(json_object_get(a, "up_to_date")));
	assert_int_equal(json_integer_value(json_object_get(a, "lag_ms")), 150);
	assert_string_equal(json_string_value(json_object_get(a, "how")), "IXFR");
	assert_true(json_is_null(json_object_get(a, "behind_ms")));
	assert_true(json_is_false(json_object_get(b, "up_to_date")));
	assert_int_equal(json_integer_value(json_object_get(b, "serial")), 5);
	assert_int_equal(json_integer_value(json_object_get(b, "lag_ms")), 500);
	/* Behind since the commit of 6, three seconds ago. */
	assert_int_equal(json_integer_value(json_object_get(b, "behind_ms")), 3000);
	assert_string_equal(json_string_value(json_object_get(b, "transport")), "QUIC");
	json_decref(j);
	assert_true(propagation_has(p, "example.com.", "10.53.0.2", 6));
	assert_true(propagation_has(p, "example.com.", "10.53.0.2", 5));
	assert_false(propagation_has(p, "example.com.", "10.53.0.3", 6));
	assert_false(propagation_has(p, "example.com.", "10.53.0.9", 1));
	propagation_free(p);
}

static void
test_propagation_soa_query_is_contact_only(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	propagation_seen(p, "example.com.", "127.0.0.1", "TCP", NULL, PROP_SOA_ASKED, 9, 5000);
	json_t *j = get(p, "example.com.", 9, 6000);
	json_t *t = target(j, "127.0.0.1");
	assert_non_null(t);
	assert_true(json_is_null(json_object_get(t, "serial")));
	assert_true(json_is_false(json_object_get(t, "up_to_date")));
	assert_false(propagation_has(p, "example.com.", "127.0.0.1", 9));
	json_decref(j);
	propagation_free(p);
}

static void
test_propagation_notify_and_drop(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	propagation_notified(p, "example.com.", "127.0.0.1@5353", 7, true, 2, 7000);
	json_t *j = get(p, "example.com.", 7, 8000);
	json_t *n = json_object_get(target(j, "127.0.0.1"), "notify");
	assert_string_equal(json_string_value(json_object_get(n, "remote")), "127.0.0.1@5353");
	assert_true(json_is_true(json_object_get(n, "answered")));
	assert_int_equal(json_integer_value(json_object_get(n, "tries")), 2);
	json_decref(j);
	propagation_drop_zone(p, "example.com.");
	j = get(p, "example.com.", 7, 8000);
	assert_int_equal(json_array_size(json_object_get(j, "targets")), 0);
	json_decref(j);
	propagation_free(p);
}

static void
test_propagation_serial_wraps(void **state)
{
	(void)state;
	struct propagation *p = propagation_new();
	/* RFC 1982: 5 follows 4294967290 */
	propagation_seen(p, "w.test.", "10.0.0.1", "TCP", NULL, PROP_FULL_DONE, 5, 1);
	assert_true(propagation_has(p, "w.test.", "10.0.0.1", 4294967290u));
	assert_false(propagation_has(p, "w.test.", "10.0.0.1", 6));
	propagation_free(p);
}

static void
test_acl_key_equal_names(void **state)
{
	(void)state;
	assert_true(acl_key_equal("xfr-key.", "XFR-Key"));
	assert_true(acl_key_equal("xfr-key", "xfr-key."));
	assert_false(acl_key_equal("xfr-key.", "xfr-key2."));
	assert_false(acl_key_equal("xfr-key.", "xfr-ke."));
	assert_true(acl_key_equal(".", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_propagation_lag_and_behind),
		cmocka_unit_test(test_propagation_soa_query_is_contact_only),
		cmocka_unit_test(test_propagation_notify_and_drop),
		cmocka_unit_test(test_propagation_serial_wraps),
		cmocka_unit_test(test_acl_key_equal_names),
	};
	return cmocka_run_group_tests_name("propagation", tests, NULL, NULL);
}
