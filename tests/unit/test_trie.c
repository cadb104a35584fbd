/* secondary/trie.c: qp-trie order, prefixes, longest common prefix, copy-on-write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "secondary/trie.h"
#include "secondary/zhash.h"

struct val {
	int id;
	struct trie_key k;   /* flexible, last */
};

static struct val *
mkval(struct trie_cow *c, const void *key, size_t len, int id)
{
	struct val *v = trie_obj_alloc(c, sizeof(*v) + len);
	assert_non_null(v);
	v->id = id;
	v->k.len = (uint16_t)len;
	memcpy(v->k.b, key, len);
	return v;
}

static int
collect(void *ctx, void *val)
{
	int **p = ctx;
	*(*p)++ = ((struct val *)val)->id;
	return 0;
}

static int
free_val(void *ctx, void *val)
{
	(void)ctx;
	trie_obj_release(val);
	return 0;
}

static void
trie_destroy(struct trie *t)
{
	trie_walk(t, free_val, NULL);
	trie_clear(t);
}

static void
test_trie_prefix_keys_sort_first(void **state)
{
	(void)state;
	/* "com\0" < "com\0example\0" < "com\0example\0www\0" < "com\0f\0" (canonical order). */
	static const struct { const char *k; size_t len; } keys[] = {
		{"com\0example\0www\0", 16}, {"com\0f\0", 6}, {"com\0", 4},
		{"com\0example\0", 12}, {"", 0}, {"com\0example\0a\0", 14},
	};
	static const int order[] = {4, 2, 3, 5, 0, 1};
	struct trie t;
	trie_init(&t);
	for (int i = 0; i < 6; i++) {
		void *old;
		struct val *v = mkval(NULL, keys[i].k, keys[i].len, i);
		assert_int_equal(trie_insert(&t, NULL, &v->k, v, &old), 0);
		assert_null(old);
	}
	assert_int_equal(t.count, 6);
	int got[6], *p = got;
	trie_walk(&t, collect, &p);
	assert_memory_equal(got, order, sizeof(order));
	for (int i = 0; i < 6; i++) {
		struct val *v = trie_get(&t, (const uint8_t *)keys[i].k, keys[i].len);
		assert_non_null(v);
		assert_int_equal(v->id, i);
	}
	assert_null(trie_get(&t, (const uint8_t *)"com\0exampl\0", 11));
	assert_null(trie_get(&t, (const uint8_t *)"net\0", 4));
	/* has_below: com. has children, www.example.com. none. */
	assert_true(trie_has_below(&t, (const uint8_t *)"com\0", 4));
	assert_true(trie_has_below(&t, (const uint8_t *)"com\0example\0", 12));
	assert_false(trie_has_below(&t, (const uint8_t *)"com\0example\0www\0", 16));
	assert_false(trie_has_below(&t, (const uint8_t *)"net\0", 4));
	assert_true(trie_has_below(&t, (const uint8_t *)"", 0));
	/* lcp: nxd.example.com. shares "com\0example\0" with the trie. */
	assert_int_equal(trie_lcp(&t, (const uint8_t *)"com\0example\0nxd\0", 16), 12);
	assert_int_equal(trie_lcp(&t, (const uint8_t *)"com\0example\0www\0", 16), 16);
	assert_int_equal(trie_lcp(&t, (const uint8_t *)"org\0", 4), 0);
	trie_destroy(&t);
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void
key_of(int n, char *buf, size_t *len)
{
	/* Variable-length decimal keys make prefixes ("1" < "10" < "100"). */
	*len = (size_t)snprintf(buf, 16, "%d", n);
}

static void
test_trie_random_against_reference(void **state)
{
	(void)state;
	enum { N = 3000 };
	static bool present[N];
	memset(present, 0, sizeof(present));
	struct trie t;
	trie_init(&t);
	srand(7);
	for (int round = 0; round < 20000; round++) {
		int n = rand() % N;
		char k[16];
		size_t len;
		key_of(n, k, &len);
		if (rand() % 3 != 0) {
			void *old;
			struct val *v = mkval(NULL, k, len, n);
			assert_int_equal(trie_insert(&t, NULL, &v->k, v, &old), 0);
			assert_true((old != NULL) == present[n]);
			trie_obj_release(old);
			present[n] = true;
		} else {
			void *old = trie_delete(&t, NULL, (const uint8_t *)k, len);
			assert_true((old != NULL) == present[n]);
			trie_obj_release(old);
			present[n] = false;
		}
	}
	size_t cnt = 0;
	for (int i = 0; i < N; i++) {
		char k[16];
		size_t len;
		key_of(i, k, &len);
		struct val *v = trie_get(&t, (const uint8_t *)k, len);
		assert_true((v != NULL) == present[i]);
		cnt += present[i];
	}
	assert_int_equal(t.count, cnt);
	/* Walk order equals the memcmp order of the decimal strings. */
	int *got = calloc(cnt, sizeof(int)), *p = got;
	trie_walk(&t, collect, &p);
	for (size_t i = 1; i < cnt; i++) {
		char a[16], b[16];
		size_t al, bl;
		key_of(got[i - 1], a, &al);
		key_of(got[i], b, &bl);
		int c = memcmp(a, b, al < bl ? al : bl);
		assert_true(c < 0 || (c == 0 && al < bl));
	}
	(void)cmp_int;
	free(got);
	trie_destroy(&t);
}

/* trie_get_prev: the greatest key <= (or <) a probe, against a brute-force reference. */
static void
test_trie_get_prev_against_reference(void **state)
{
	(void)state;
	enum { N = 400 };
	static bool present[N];
	memset(present, 0, sizeof(present));
	struct trie t;
	trie_init(&t);
	srand(11);
	assert_null(trie_get_prev(&t, (const uint8_t *)"5", 1, true));
	for (int i = 0; i < N / 3; i++) {
		int n = rand() % N;
		char k[16];
		size_t len;
		key_of(n, k, &len);
		void *old;
		struct val *v = mkval(NULL, k, len, n);
		assert_int_equal(trie_insert(&t, NULL, &v->k, v, &old), 0);
		trie_obj_release(old);
		present[n] = true;
	}
	/* Probes: every number key (present or not) plus keys between them. */
	for (int q = 0; q < N * 3; q++) {
		char k[16];
		size_t len;
		if (q < N) {
			key_of(q, k, &len);
		} else {
			key_of(rand() % N, k, &len);
			k[len++] = (char)(rand() % 256);
		}
		for (int eq = 0; eq < 2; eq++) {
			int best = -1;
			char bk[16];
			size_t bl = 0;
			for (int i = 0; i < N; i++) {
				if (!present[i])
					continue;
				char a[16];
				size_t al;
				key_of(i, a, &al);
				int c = memcmp(a, k, al < len ? al : len);
				bool le = c < 0 || (c == 0 && al <= len);
				if (c == 0 && al == len && !eq)
					le = false;
				if (!le)
					continue;
				int d = best < 0 ? 1 : memcmp(a, bk, al < bl ? al : bl);
				if (best < 0 || d > 0 || (d == 0 && al > bl)) {
					best = i;
					memcpy(bk, a, al);
					bl = al;
				}
			}
			struct val *v = trie_get_prev(&t, (const uint8_t *)k, len, eq);
			if (best < 0)
				assert_null(v);
			else
				assert_int_equal(v ? v->id : -1, best);
		}
	}
	trie_destroy(&t);
}

/* A copy-on-write change leaves the old trie intact and shares the rest. */
static void
test_trie_cow_keeps_old_version(void **state)
{
	(void)state;
	enum { N = 2000 };
	struct trie t1;
	trie_init(&t1);
	for (int i = 0; i < N; i++) {
		char k[16];
		size_t len;
		key_of(i * 2, k, &len);
		void *old;
		struct val *v = mkval(NULL, k, len, i * 2);
		assert_int_equal(trie_insert(&t1, NULL, &v->k, v, &old), 0);
	}
	struct trie t2 = t1;
	struct trie_cow c;
	trie_cow_begin(&c);
	void *old;
	struct val *nv = mkval(&c, "7", 1, 7);
	assert_int_equal(trie_insert(&t2, &c, &nv->k, nv, &old), 0);
	struct val *rv = mkval(&c, "10", 2, 1000);
	assert_int_equal(trie_insert(&t2, &c, &rv->k, rv, &old), 0);
	assert_non_null(old);
	trie_obj_retire(&c, old);
	void *d = trie_delete(&t2, &c, (const uint8_t *)"20", 2);
	assert_non_null(d);
	trie_obj_retire(&c, d);
	assert_false(c.enomem);
	/* Old version: unchanged. */
	assert_null(trie_get(&t1, (const uint8_t *)"7", 1));
	assert_int_equal(((struct val *)trie_get(&t1, (const uint8_t *)"10", 2))->id, 10);
	assert_non_null(trie_get(&t1, (const uint8_t *)"20", 2));
	assert_int_equal(t1.count, N);
	/* New version: changed. */
	assert_int_equal(((struct val *)trie_get(&t2, (const uint8_t *)"7", 1))->id, 7);
	assert_int_equal(((struct val *)trie_get(&t2, (const uint8_t *)"10", 2))->id, 1000);
	assert_null(trie_get(&t2, (const uint8_t *)"20", 2));
	assert_int_equal(t2.count, N);
	/* Only a path was copied: few garbage objects, not the whole trie. */
	void **garbage;
	size_t ng;
	trie_cow_commit(&c, &garbage, &ng);
	assert_true(ng > 0 && ng < 40);
	/* Free the old version's garbage, then the new version entirely (ASan checks). */
	for (size_t i = 0; i < ng; i++)
		trie_obj_release(garbage[i]);
	free(garbage);
	trie_destroy(&t2);
}

static void
test_trie_cow_abort_frees_fresh(void **state)
{
	(void)state;
	struct trie t1;
	trie_init(&t1);
	for (int i = 0; i < 100; i++) {
		char k[16];
		size_t len;
		key_of(i, k, &len);
		void *old;
		struct val *v = mkval(NULL, k, len, i);
		assert_int_equal(trie_insert(&t1, NULL, &v->k, v, &old), 0);
	}
	struct trie t2 = t1;
	struct trie_cow c;
	trie_cow_begin(&c);
	for (int i = 100; i < 150; i++) {
		char k[16];
		size_t len;
		key_of(i, k, &len);
		void *old;
		struct val *v = mkval(&c, k, len, i);
		assert_int_equal(trie_insert(&t2, &c, &v->k, v, &old), 0);
	}
	assert_int_equal(t2.count, 150);
	trie_cow_abort(&c);   /* everything new is freed, t1 untouched */
	assert_int_equal(t1.count, 100);
	assert_null(trie_get(&t1, (const uint8_t *)"120", 3));
	assert_non_null(trie_get(&t1, (const uint8_t *)"99", 2));
	trie_destroy(&t1);
}

static const struct trie_key *
val_key(const void *v)
{
	return &((const struct val *)v)->k;
}

/* zhash: random puts and deletes (backward shift) in small chunks, with COW. */
static void
test_zhash_random_with_cow(void **state)
{
	(void)state;
	enum { N = 5000 };
	static struct val *ref[N];
	memset(ref, 0, sizeof(ref));
	struct zhash h;
	assert_int_equal(zhash_init(&h, NULL, 1), 0);   /* one chunk: long probe runs, growth */
	srand(11);
	for (int round = 0; round < 30000; round++) {
		int n = rand() % N;
		char k[16];
		size_t len;
		key_of(n, k, &len);
		if (rand() % 3 != 0) {
			struct val *v = mkval(NULL, k, len, n);
			assert_int_equal(zhash_put(&h, NULL, val_key, v), 0);
			trie_obj_release(ref[n]);
			ref[n] = v;
		} else {
			assert_int_equal(zhash_del(&h, NULL, val_key, (const uint8_t *)k, len), 0);
			trie_obj_release(ref[n]);
			ref[n] = NULL;
		}
		if (round % 1000 == 0) {
			for (int i = 0; i < N; i++) {
				key_of(i, k, &len);
				assert_ptr_equal(zhash_get(&h, val_key, (const uint8_t *)k, len), ref[i]);
			}
		}
	}
	/* A copy-on-write change leaves the snapshot as it was. */
	struct zhash h2 = h;
	struct trie_cow c;
	trie_cow_begin(&c);
	struct val *nv = mkval(&c, "x", 1, -1);
	assert_int_equal(zhash_put(&h2, &c, val_key, nv), 0);
	int victim = 0;
	while (ref[victim] == NULL)
		victim++;
	char vk[16];
	size_t vl;
	key_of(victim, vk, &vl);
	assert_int_equal(zhash_del(&h2, &c, val_key, (const uint8_t *)vk, vl), 0);
	assert_null(zhash_get(&h, val_key, (const uint8_t *)"x", 1));
	assert_ptr_equal(zhash_get(&h, val_key, (const uint8_t *)vk, vl), ref[victim]);
	assert_ptr_equal(zhash_get(&h2, val_key, (const uint8_t *)"x", 1), nv);
	assert_null(zhash_get(&h2, val_key, (const uint8_t *)vk, vl));
	trie_cow_abort(&c);   /* frees nv and the copied chunk/array */
	for (int i = 0; i < N; i++)
		trie_obj_release(ref[i]);
	zhash_clear(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trie_prefix_keys_sort_first),
		cmocka_unit_test(test_trie_random_against_reference),
		cmocka_unit_test(test_trie_get_prev_against_reference),
		cmocka_unit_test(test_trie_cow_keeps_old_version),
		cmocka_unit_test(test_trie_cow_abort_frees_fresh),
		cmocka_unit_test(test_zhash_random_with_cow),
	};
	return cmocka_run_group_tests_name("trie", tests, NULL, NULL);
}
