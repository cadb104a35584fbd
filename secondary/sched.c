/* See sched.h. */
#include "secondary/sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"

/* ---- set by name ---- */

static uint64_t
name_hash(const uint8_t *name)
{
	uint64_t h = 1469598103934665603ull;
	size_t len = dns_name_len(name);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = name[i];
		if (c >= 'A' && c <= 'Z')   /* label lengths are below 64: never changed */
			c = (uint8_t)(c + 32);
		h = (h ^ c) * 1099511628211ull;
	}
	return h ^ (h >> 29);
}

void
nameset_init(struct nameset *s, nameset_key_fn key)
{
	memset(s, 0, sizeof(*s));
	s->key = key;
}

void
nameset_free(struct nameset *s)
{
	free(s->slot);
	s->slot = NULL;
	s->cap = s->n = 0;
}

void *
nameset_get(const struct nameset *s, const uint8_t *name)
{
	if (s->cap == 0)
		return NULL;
	size_t mask = s->cap - 1;
	for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
		void *v = s->slot[i];
		if (v == NULL)
			return NULL;
		if (dns_name_equal(s->key(v), name))
			return v;
	}
}

static void
place(void **slot, size_t cap, nameset_key_fn key, void *val)
{
	size_t mask = cap - 1;
	size_t i = name_hash(key(val)) & mask;
	while (slot[i] != NULL)
		i = (i + 1) & mask;
	slot[i] = val;
}

static int
grow(struct nameset *s)
{
	size_t nc = s->cap ? s->cap * 2 : 64;
	void **ns = calloc(nc, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i] != NULL)
			place(ns, nc, s->key, s->slot[i]);
	free(s->slot);
	s->slot = ns;
	s->cap = nc;
	return 0;
}

int
nameset_put(struct nameset *s, void *val)
{
	const uint8_t *name = s->key(val);
	if (s->cap) {
		size_t mask = s->cap - 1;
		for (size_t i = name_hash(name) & mask; s->slot[i] != NULL; i = (i + 1) & mask) {
			if (dns_name_equal(s->key(s->slot[i]), name)) {
				s->slot[i] = val;
				return 0;
			}
		}
	}
	if ((s->n + 1) * 4 > s->cap * 3 && grow(s) != 0)   /* load at most 3/4 */
		return -ENOMEM;
	place(s->slot, s->cap, s->key, val);
	s->n++;
	return 0;
}

void *
nameset_del(struct nameset *s, const uint8_t *name)
{
	if (s->cap == 0)
		return NULL;
	size_t mask = s->cap - 1;
	size_t i = name_hash(name) & mask;
	for (;; i = (i + 1) & mask) {
		if (s->slot[i] == NULL)
			return NULL;
		if (dns_name_equal(s->key(s->slot[i]), name))
			break;
	}
	void *out = s->slot[i];
	s->slot[i] = NULL;
	s->n--;
	/* backward shift: close the gap for the entries probing past it */
	for (size_t j = (i + 1) & mask; s->slot[j] != NULL; j = (j + 1) & mask) {
		size_t home = name_hash(s->key(s->slot[j])) & mask;
		/* j's entry may move to i when i lies cyclically in [home, j) */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slot[i] = s->slot[j];
			s->slot[j] = NULL;
			i = j;
		}
	}
	return out;
}

/* ---- timer heap ---- */

static void
put_at(struct sheap *h, size_t i, struct sheap_item *it)
{
	h->v[i] = it;
	it->pos = i + 1;
}

static void
sift_up(struct sheap *h, size_t i)
{
	struct sheap_item *it = h->v[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h->v[p]->key <= it->key)
			break;
		put_at(h, i, h->v[p]);
		i = p;
	}
	put_at(h, i, it);
}

static void
sift_down(struct sheap *h, size_t i)
{
	struct sheap_item *it = h->v[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->key < h->v[c]->key)
			c++;
		if (it->key <= h->v[c]->key)
			break;
		put_at(h, i, h->v[c]);
		i = c;
	}
	put_at(h, i, it);
}

int
sheap_set(struct sheap *h, struct sheap_item *it, int64_t key)
{
	if (it->pos != 0) {
		int64_t old = it->key;
		it->key = key;
		if (key < old)
			sift_up(h, it->pos - 1);
		else
			sift_down(h, it->pos - 1);
		return 0;
	}
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct sheap_item **nv = realloc(h->v, nc * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	it->key = key;
	h->v[h->n] = it;
	sift_up(h, h->n++);
	return 0;
}

void
sheap_del(struct sheap *h, struct sheap_item *it)
{
	if (it->pos == 0)
		return;
	size_t i = it->pos - 1;
	it->pos = 0;
	struct sheap_item *last = h->v[--h->n];
	if (i == h->n)
		return;
	h->v[i] = last;
	last->pos = i + 1;
	if (i > 0 && h->v[(i - 1) / 2]->key > last->key)
		sift_up(h, i);
	else
		sift_down(h, i);
}

void
sheap_free(struct sheap *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}
