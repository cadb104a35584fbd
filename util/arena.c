/*
 * Arena of linked blocks.  Invariant: head is the block being filled;
 * older blocks follow it.  arena_reset() keeps only the last block of the
 * chain (the first one allocated) so steady-state use does not call malloc.
 */
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

void
arena_init(struct arena *a, size_t block_size)
{
	a->head = NULL;
	a->block_size = block_size < 256 ? 256 : block_size;
	a->total = 0;
}

void
arena_clear(struct arena *a)
{
	struct arena_block *b = a->head;
	while (b != NULL) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	a->head = NULL;
	a->total = 0;
}

void
arena_reset(struct arena *a)
{
	struct arena_block *b = a->head;
	if (b == NULL)
		return;
	while (b->next != NULL) {
		struct arena_block *n = b->next;
		free(b);
		b = n;
	}
	b->used = 0;
	a->head = b;
	a->total = 0;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (n == 0)
		n = 8;
	struct arena_block *b = a->head;
	if (b == NULL || b->size - b->used < n) {
		size_t sz = a->block_size;
		if (b != NULL && sz < b->size * 2 && b->size < (64u << 20))
			sz = b->size * 2;
		if (sz < n)
			sz = n;
		if (sz > SIZE_MAX - sizeof(*b))
			return NULL;
		struct arena_block *nb = malloc(sizeof(*nb) + sz);
		if (nb == NULL)
			return NULL;
		nb->size = sz;
		nb->used = 0;
		nb->next = b;
		a->head = nb;
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	a->total += n;
	return p;
}

void *
arena_memdup(struct arena *a, const void *p, size_t n)
{
	void *d = arena_alloc(a, n);
	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}
