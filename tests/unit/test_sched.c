/* secondary/sched.c: the set of zones by name and the timer heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns/name.h"
#include "secondary/sched.h"

#define N 3000

struct item {
	uint8_t name[DNS_NAME_MAX];
	bool in;                    /* the reference: filed or not */
	struct sheap_item h;
};

static const uint8_t *
key(const void *v)
{
	return ((const struct item *)v)->name;
}

static struct item *
items_new(void)
{
	struct item *it = calloc(N, sizeof(*it));
	assert_non_null(it);
	for (int i = 0; i < N; i++) {
		char t[64];
		snprintf(t, sizeof(t), "Z%d.Example.", i);
		assert_true(dns_name_from_text(t, strlen(t), NULL, it[i].name) > 0);
	}
	return it;
}

/* Random puts and deletes against a reference; every lookup agrees, in any case. */
static void
test_nameset_matches_reference(void **state)
{
	(void)state;
	struct item *it = items_new();
	struct nameset s;
	nameset_init(&s, key);
	srand(7);
	size_t n = 0;
	for (int round = 0; round < 20 * N; round++) {
		int i = rand() % N;
		if (rand() % 3 != 0) {
			assert_int_equal(nameset_put(&s, &it[i]), 0);
			n += !it[i].in;
			it[i].in = true;
		} else {
			void *d = nameset_del(&s, it[i].name);
			assert_ptr_equal(d, it[i].in ? &it[i] : NULL);
			n -= it[i].in;
			it[i].in = false;
		}
		assert_int_equal(s.n, n);
		if (round % 997 == 0) {
			for (int j = 0; j < N; j++)
				assert_ptr_equal(nameset_get(&s, it[j].name), it[j].in ? &it[j] : NULL);
		}
	}
	uint8_t upper[DNS_NAME_MAX];
	assert_true(dns_name_from_text("z5.EXAMPLE.", 11, NULL, upper) > 0);
	assert_ptr_equal(nameset_get(&s, upper), it[5].in ? &it[5] : NULL);
	nameset_free(&s);
	free(it);
}

/* Set, move and delete keys at random: the top is always the smallest queued key. */
static void
test_sheap_order(void **state)
{
	(void)state;
	struct item *it = items_new();
	struct sheap h = {0};
	srand(11);
	for (int round = 0; round < 20 * N; round++) {
		int i = rand() % N;
		if (rand() % 4 != 0)
			assert_int_equal(sheap_set(&h, &it[i].h, rand() % 100000), 0);
		else
			sheap_del(&h, &it[i].h);
		if (round % 101 == 0) {
			int64_t min = INT64_MAX;
			size_t queued = 0;
			for (int j = 0; j < N; j++) {
				if (sheap_queued(&it[j].h)) {
					queued++;
					if (it[j].h.key < min)
						min = it[j].h.key;
				}
			}
			assert_int_equal(h.n, queued);
			if (queued > 0)
				assert_int_equal(sheap_top(&h)->key, min);
			else
				assert_null(sheap_top(&h));
		}
	}
	/* popping everything comes out sorted */
	int64_t last = INT64_MIN;
	struct sheap_item *top;
	while ((top = sheap_top(&h)) != NULL) {
		assert_true(top->key >= last);
		last = top->key;
		sheap_del(&h, top);
		assert_false(sheap_queued(top));
	}
	sheap_free(&h);
	free(it);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nameset_matches_reference),
		cmocka_unit_test(test_sheap_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
