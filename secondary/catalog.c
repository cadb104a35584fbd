/*
 * RFC 9432 member extraction: one walk over the catalog version, matching
 * owners against "zones.<catalog>" and "version.<catalog>".
 */
#include "secondary/catalog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rrtype.h"
#include "secondary/zone.h"
#include "util/err.h"

struct walk {
	const uint8_t *catalog;
	uint8_t zones[DNS_NAME_MAX];     /* zones.<catalog> */
	uint8_t version[DNS_NAME_MAX];   /* version.<catalog> */
	bool have_version, version_ok;
	struct catalog_members *out;
};

/* "<label>.<parent>" into out; returns false when too long. */
static bool
prepend(uint8_t *out, const char *label, const uint8_t *parent)
{
	size_t ll = strlen(label), pl = dns_name_len(parent);
	if (1 + ll + pl > DNS_NAME_MAX)
		return false;
	out[0] = (uint8_t)ll;
	memcpy(out + 1, label, ll);
	memcpy(out + 1 + ll, parent, pl);
	return true;
}

int
catalog_members_has(const struct catalog_members *m, const uint8_t *name)
{
	return nameset_get(&m->idx, name) != NULL;
}

static const uint8_t *
member_key(const void *v)
{
	return v;   /* the name itself */
}

static int
on_rr(void *ctx, const struct dns_rr *rr)
{
	struct walk *w = ctx;
	if (rr->type == DNS_T_TXT && dns_name_equal(rr->owner, w->version)) {
		w->have_version = true;
		/* One character-string "2". */
		if (rr->rdlen == 2 && rr->rdata[0] == 1 && rr->rdata[1] == '2')
			w->version_ok = true;
		return 0;
	}
	if (rr->type != DNS_T_PTR || rr->owner[0] == 0)
		return 0;
	if (!dns_name_equal(dns_name_parent(rr->owner), w->zones))
		return 0;
	if (dns_name_check(rr->rdata, rr->rdlen) != (int)rr->rdlen)
		return 0;
	uint8_t name[DNS_NAME_MAX];
	memcpy(name, rr->rdata, rr->rdlen);
	dns_name_lower(name);
	if (dns_name_equal(name, w->catalog) || catalog_members_has(w->out, name))
		return 0;
	struct catalog_members *m = w->out;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		const uint8_t **nv = realloc(m->v, nc * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		m->v = nv;
		m->cap = nc;
	}
	uint8_t *copy = arena_memdup(&m->ar, name, rr->rdlen);
	if (copy == NULL)
		return -ENOMEM;
	m->v[m->n++] = copy;
	return nameset_put(&m->idx, copy);
}

int
catalog_members(const struct zone *z, const uint8_t *catalog, struct catalog_members *out,
                char *why, size_t whycap)
{
	struct walk w = {.catalog = catalog, .out = out};
	if (!prepend(w.zones, "zones", catalog) || !prepend(w.version, "version", catalog)) {
		snprintf(why, whycap, "catalog name too long");
		return ERR_XFR;
	}
	out->n = 0;
	nameset_free(&out->idx);
	nameset_init(&out->idx, member_key);
	arena_clear(&out->ar);
	arena_init(&out->ar, 64 << 10);
	int r = zone_walk(z, on_rr, &w);
	if (r != 0)
		return r;
	if (!w.have_version || !w.version_ok) {
		snprintf(why, whycap, "catalog %s, not processed (RFC 9432 §5.1)",
		         w.have_version ? "schema version is not 2" : "has no version record");
		out->n = 0;
		return ERR_XFR;
	}
	return 0;
}

void
catalog_members_clear(struct catalog_members *m)
{
	free(m->v);
	nameset_free(&m->idx);
	arena_clear(&m->ar);
	memset(m, 0, sizeof(*m));
}
