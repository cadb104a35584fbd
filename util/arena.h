/*
 * Bump allocator: everything for one request, one transfer or one zone
 * version being built lives in one arena and is freed by one arena_reset()
 * or arena_clear().  Allocations are 8-byte aligned.  Blocks grow
 * geometrically; a request larger than a block gets a block of its own.
 */
#ifndef UTIL_ARENA_H
#define UTIL_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t block_size;
	size_t total;   /* bytes handed out since the last reset */
};

void arena_init(struct arena *a, size_t block_size);
/* Frees every block. */
void arena_clear(struct arena *a);
/* Forgets every allocation but keeps the first block for reuse. */
void arena_reset(struct arena *a);
/* Returns NULL only when memory is exhausted. */
void *arena_alloc(struct arena *a, size_t n);
/*
 * Copy of p[0..n).  n may be 0 (empty RDATA, an empty SQLite blob read back
 * as NULL): then p may be NULL and the result is still a distinct non-NULL
 * pointer.  NULL only when memory is exhausted.
 */
void *arena_memdup(struct arena *a, const void *p, size_t n);
/* NUL-terminated copy of the first n bytes of s. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);

#endif
