/*
 * The transfer side's view of the POP registry, as an interface: xfrout
 * and the transfer ACL ask it through these pointers, so neither calls
 * mesh.c (no circle of calls between the files of primary/).  The
 * transfer service holds one gate and points it at the mesh once the mesh
 * is open (xfr_service_set_mesh); until then, and without a mesh, no key
 * is a POP's and every peer passes.
 */
#ifndef PRIMARY_POP_GATE_H
#define PRIMARY_POP_GATE_H

#include <stdbool.h>
#include <stddef.h>

struct pop_gate {
	void *ctx;   /* set and read atomically; NULL: no registry */
	/* Whether `key` (TSIG key name) is a registered POP's key. */
	bool (*key_is_pop)(void *ctx, const char *key);
	/* Whether a transfer from `ip` signed with `key` may go on; false with why. */
	bool (*xfr_check)(void *ctx, const char *ip, const char *key, char *why, size_t whycap);
};

static inline bool
pop_gate_key_is_pop(const struct pop_gate *g, const char *key)
{
	void *ctx = g != NULL ? __atomic_load_n(&g->ctx, __ATOMIC_ACQUIRE) : NULL;
	return ctx != NULL && key != NULL && g->key_is_pop(ctx, key);
}

static inline bool
pop_gate_xfr_check(const struct pop_gate *g, const char *ip, const char *key, char *why,
                   size_t whycap)
{
	void *ctx = g != NULL ? __atomic_load_n(&g->ctx, __ATOMIC_ACQUIRE) : NULL;
	return ctx == NULL || g->xfr_check(ctx, ip, key, why, whycap);
}

#endif
