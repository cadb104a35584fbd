/*
 * Zone versions: building from scratch (sorted records -> nodes -> trie),
 * updating with copy-on-write (only the changed nodes and the trie branches
 * above them are new), walking, freeing.
 *
 * Invariants kept here: every ancestor of a node up to the apex exists as a
 * node (an empty non-terminal when it has no rrsets), no empty non-terminal
 * exists without a node below it, rrsets of a node are sorted by type, the
 * version's counters (records, cuts) match its nodes.
 */
#include "secondary/zone.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rrtype.h"
#include "dns/soa.h"
#include "dns/wire.h"
#include "secondary/zone_impl.h"
#include "util/arena.h"
#include "util/err.h"

/* One record while a node is assembled. */
struct zitem {
	uint16_t type;
	uint16_t rdlen;
	uint32_t ttl;
	const uint8_t *rdata;
};

static int
fail(char *err, size_t errcap, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errcap, int code, const char *fmt, ...)
{
	if (err != NULL && errcap > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errcap, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* "www.example.com. A" for error messages. */
static const char *
rr_label(const struct dns_rr *rr, char *buf, size_t cap)
{
	char name[DNS_NAME_TEXT_MAX], type[DNS_RRTYPE_TEXT_MAX];
	if (dns_name_to_text(rr->owner, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "?");
	const char *tn = dns_rrtype_name(rr->type);
	if (tn == NULL) {
		snprintf(type, sizeof(type), "TYPE%u", (unsigned)rr->type);
		tn = type;
	}
	snprintf(buf, cap, "%s %s", name, tn);
	return buf;
}

int
zone_rdata_names(uint16_t type, const uint8_t *rd, size_t rdlen, uint16_t offs[2],
                 bool compress[2])
{
	size_t at;
	bool comp = true;
	int count = 1;
	switch (type) {
	case DNS_T_NS: case DNS_T_CNAME: case DNS_T_PTR:
	case 3: case 4: case 7: case 8: case 9:          /* MD MF MB MG MR */
		at = 0;
		break;
	case DNS_T_DNAME:
		at = 0;
		comp = false;
		break;
	case DNS_T_MX:
		at = 2;
		break;
	case DNS_T_SRV:
		at = 6;
		comp = false;
		break;
	case DNS_T_SVCB: case DNS_T_HTTPS:
		/* Target name, then SvcParams (not looked at here). */
		if (rdlen < 3 || dns_name_check(rd + 2, rdlen - 2) < 0)
			return -1;
		offs[0] = 2;
		compress[0] = false;
		return 1;
	case DNS_T_SOA: case 14:                          /* MINFO */
		at = 0;
		count = 2;
		break;
	default:
		return 0;
	}
	if (at > rdlen)
		return -1;
	int l = dns_name_check(rd + at, rdlen - at);
	if (l < 0)
		return -1;
	offs[0] = (uint16_t)at;
	compress[0] = comp;
	size_t end = at + (size_t)l;
	if (count == 2) {
		int l2 = dns_name_check(rd + end, rdlen - end);
		if (l2 < 0)
			return -1;
		offs[1] = (uint16_t)end;
		compress[1] = true;
		end += (size_t)l2;
		if (type == DNS_T_SOA)
			end += 20;
	}
	if (end != rdlen)
		return -1;
	return count;
}

/*
 * True when records (ta, rda) and (tb, rdb) belong to one rrset: same type,
 * and for RRSIG the same covered type (RFC 4035 §2.2 groups signatures by
 * the rrset they cover, each group with its own TTL).
 */
static bool
same_rrset(uint16_t ta, const uint8_t *rda, uint16_t tb, const uint8_t *rdb)
{
	return ta == tb && (ta != DNS_T_RRSIG || rd_u16(rda) == rd_u16(rdb));
}

/* Orders (type, covered type for RRSIG): <0, 0, >0. */
static int
cmp_rrset(uint16_t ta, const uint8_t *rda, uint16_t tb, const uint8_t *rdb)
{
	if (ta != tb)
		return ta < tb ? -1 : 1;
	if (ta != DNS_T_RRSIG || rd_u16(rda) == rd_u16(rdb))
		return 0;
	return rd_u16(rda) < rd_u16(rdb) ? -1 : 1;
}

static bool
type_is_meta(uint16_t type)
{
	return type == 0 || type == DNS_T_OPT || (type >= 128 && type <= 255);
}

/* Checks one record against the zone; fills key/keylen. */
static int
check_rr(const struct zone *z, const struct dns_rr *rr, uint8_t *key, size_t *keylen,
         char *err, size_t errcap)
{
	char lb[DNS_NAME_TEXT_MAX + 32];
	if (dns_name_check(rr->owner, DNS_NAME_MAX) < 0)
		return fail(err, errcap, ERR_XFR, "malformed owner name");
	if (rr->rclass != DNS_C_IN)
		return fail(err, errcap, ERR_XFR, "%s: class %u, only IN is served",
		            rr_label(rr, lb, sizeof(lb)), (unsigned)rr->rclass);
	if (type_is_meta(rr->type))
		return fail(err, errcap, ERR_XFR, "%s: meta type in zone data",
		            rr_label(rr, lb, sizeof(lb)));
	if (rr->rdlen > 65535 - ZRR_HDR)
		return fail(err, errcap, ERR_XFR, "%s: rdata too long", rr_label(rr, lb, sizeof(lb)));
	if (rr->type == DNS_T_RRSIG && rr->rdlen < 19)
		return fail(err, errcap, ERR_XFR, "%s: malformed rdata", rr_label(rr, lb, sizeof(lb)));
	uint16_t offs[2];
	bool comp[2];
	if (zone_rdata_names(rr->type, rr->rdata, rr->rdlen, offs, comp) < 0)
		return fail(err, errcap, ERR_XFR, "%s: malformed rdata",
		            rr_label(rr, lb, sizeof(lb)));
	*keylen = dns_name_to_lookup(rr->owner, key);
	if (*keylen < z->apex_keylen || memcmp(key, z->apex_key, z->apex_keylen) != 0)
		return fail(err, errcap, ERR_XFR, "%s: owner outside the zone",
		            rr_label(rr, lb, sizeof(lb)));
	return 0;
}

static unsigned
key_labels(const uint8_t *key, size_t len)
{
	unsigned n = 0;
	for (size_t i = 0; i < len; i++) {
		if (key[i] == 1)
			i++;
		else if (key[i] == 0)
			n++;
	}
	return n;
}

/* Length of the key of the parent name (the key without its last label). */
static size_t
key_parent(const uint8_t *key, size_t len)
{
	/* Label ends are 0 bytes not preceded by an escape 1; walk forward. */
	size_t last = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (key[i] == 1)
			i++;
		else if (key[i] == 0)
			last = i + 1;
	}
	return last;
}

static bool
key_is_wild(const uint8_t *key, size_t len)
{
	return len >= 2 && key[len - 2] == '*' && key[len - 1] == 0 &&
	       key_parent(key, len) == len - 2;
}

/*
 * Makes a node from `items` (grouped by type, ascending).  Checks the CNAME
 * rule.  Returns NULL with *ret set on failure.
 */
static struct znode *
node_build(struct trie_cow *c, const uint8_t *key, size_t keylen, const struct zitem *items,
           size_t n, int *ret, char *err, size_t errcap)
{
	size_t nrr = 0, data = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_rrset(items[i].type, items[i].rdata, items[i - 1].type,
		                          items[i - 1].rdata))
			nrr++;
		data += ZRR_HDR + items[i].rdlen;
	}
	size_t head = sizeof(struct znode) + nrr * sizeof(struct zrrset);
	size_t keyoff = head;
	size_t off = keyoff + sizeof(struct trie_key) + keylen;
	size_t size = off + data;
	if (size > UINT32_MAX || nrr > UINT16_MAX) {
		*ret = fail(err, errcap, ERR_XFR, "node too large");
		return NULL;
	}
	struct znode *nd = trie_obj_alloc(c, size);
	if (nd == NULL) {
		*ret = -ENOMEM;
		return NULL;
	}
	nd->nrr = (uint16_t)nrr;
	nd->flags = 0;
	nd->labels = (uint8_t)key_labels(key, keylen);
	nd->size = (uint32_t)size;
	struct trie_key *k = (struct trie_key *)(void *)((uint8_t *)nd + keyoff);
	k->len = (uint16_t)keylen;
	memcpy(k->b, key, keylen);
	if (key_is_wild(key, keylen))
		nd->flags |= ZN_WILD;
	uint8_t *p = (uint8_t *)nd;
	size_t r = 0;
	bool cname = false, other = false;
	for (size_t i = 0; i < n; i++) {
		const struct zitem *it = &items[i];
		if (i == 0 || !same_rrset(it->type, it->rdata, items[i - 1].type, items[i - 1].rdata)) {
			struct zrrset *rs = &nd->rr[r++];
			rs->type = it->type;
			rs->count = 0;
			rs->ttl = it->ttl;
			rs->off = (uint32_t)off;
			rs->len = 0;
			switch (it->type) {
			case DNS_T_NS: nd->flags |= ZN_NS; break;
			case DNS_T_CNAME: nd->flags |= ZN_CNAME; break;
			case DNS_T_DNAME: nd->flags |= ZN_DNAME; break;
			case DNS_T_SOA: nd->flags |= ZN_SOA; break;
			default: break;
			}
			if (it->type == DNS_T_CNAME)
				cname = true;
			else if (it->type != DNS_T_RRSIG && it->type != DNS_T_NSEC)
				other = true;
		}
		struct zrrset *rs = &nd->rr[r - 1];
		uint8_t *w = p + off;
		w[0] = 0xc0;
		w[1] = 0x0c;
		wr_u16(w + 2, it->type);
		wr_u16(w + 4, DNS_C_IN);
		wr_u32(w + 6, rs->ttl);
		wr_u16(w + 10, it->rdlen);
		if (it->rdlen > 0)
			memcpy(w + ZRR_HDR, it->rdata, it->rdlen);
		off += ZRR_HDR + it->rdlen;
		rs->len += ZRR_HDR + it->rdlen;
		rs->count++;
	}
	const struct zrrset *cn = znode_rrset(nd, DNS_T_CNAME);
	if (cname && (other || cn->count > 1)) {
		char name[DNS_NAME_TEXT_MAX];
		uint8_t wire[DNS_NAME_MAX];
		if (dns_name_from_lookup(key, keylen, wire) < 0 ||
		    dns_name_to_text(wire, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "?");
		*ret = fail(err, errcap, ERR_XFR, "%s: %s", name,
		            other ? "CNAME beside other data" : "more than one CNAME");
		trie_obj_retire(c, nd);
		return NULL;
	}
	return nd;
}

static size_t
node_cuts(const struct zone *z, const struct znode *n)
{
	size_t c = 0;
	if ((n->flags & ZN_NS) && n->labels != z->apex_labels)
		c++;
	if (n->flags & ZN_DNAME)
		c++;
	return c;
}

static size_t
node_records(const struct znode *n)
{
	size_t c = 0;
	for (unsigned i = 0; i < n->nrr; i++)
		c += n->rr[i].count;
	return c;
}

static struct zone *
zone_alloc(const uint8_t *apex)
{
	if (dns_name_check(apex, DNS_NAME_MAX) < 0)
		return NULL;
	uint8_t key[DNS_LOOKUP_MAX];
	size_t kl = dns_name_to_lookup(apex, key);
	size_t l = dns_name_len(apex);
	struct zone *z = calloc(1, sizeof(*z) + l + kl);
	if (z == NULL)
		return NULL;
	trie_init(&z->trie);
	trie_init(&z->n3);
	z->apex = z->names;
	z->apex_key = z->names + l;
	memcpy(z->apex, apex, l);
	memcpy(z->apex_key, key, kl);
	z->apex_len = (uint8_t)l;
	z->apex_labels = (uint8_t)dns_name_labels(apex);
	z->apex_keylen = (uint16_t)kl;
	return z;
}

static int
parse_soa(const struct zrrset *rs, const uint8_t *data, struct zone_soa *soa)
{
	struct dns_soa s;
	int ret = dns_soa_parse(data + ZRR_HDR, rd_u16(data + 10), &s);
	if (ret != 0)
		return ret;
	*soa = (struct zone_soa){.ttl = rs->ttl, .serial = s.serial, .refresh = s.refresh,
	                         .retry = s.retry, .expire = s.expire, .minimum = s.minimum};
	return 0;
}

/* Checks the apex SOA and caches it; 0 or ERR_XFR. */
static int
finish_apex(struct zone *z, char *err, size_t errcap)
{
	z->apex_node = zone_node(z, z->apex_key, z->apex_keylen);
	const struct zrrset *rs = z->apex_node ? znode_rrset(z->apex_node, DNS_T_SOA) : NULL;
	if (rs == NULL)
		return fail(err, errcap, ERR_XFR, "no SOA at the zone apex");
	if (rs->count != 1)
		return fail(err, errcap, ERR_XFR, "%u SOA records at the apex, need one",
		            (unsigned)rs->count);
	if (parse_soa(rs, zrrset_data(z->apex_node, rs), &z->soa) != 0)
		return fail(err, errcap, ERR_XFR, "the apex SOA's rdata is malformed");
	return 0;
}

/* ---- earliest signature expiration ---- */

/* Notes one RRSIG's rdata: the zone's earliest expiration. */
static void
sig_note(struct zone *z, const uint8_t *rd)
{
	uint32_t e = rd_u32(rd + 8);
	if (z->nsigs == 0 || (int32_t)(e - z->sig_expire) < 0)
		z->sig_expire = e;
	z->nsigs++;
}

static int
sig_scan_node(void *ctx, void *val)
{
	struct zone *z = ctx;
	const struct znode *n = val;
	for (unsigned i = 0; i < n->nrr; i++) {
		const struct zrrset *rs = &n->rr[i];
		if (rs->type != DNS_T_RRSIG)
			continue;
		const uint8_t *p = zrrset_data(n, rs);
		for (unsigned j = 0; j < rs->count; j++) {
			sig_note(z, p + ZRR_HDR);
			p += ZRR_HDR + rd_u16(p + 10);
		}
	}
	return 0;
}

/*
 * Recomputes the earliest expiration after an update removed the earliest
 * signature: one walk over the version (only then; adds keep it in O(1)).
 */
static void
sig_rescan(struct zone *z)
{
	z->nsigs = 0;
	trie_walk(&z->trie, sig_scan_node, z);
	trie_walk(&z->n3, sig_scan_node, z);
	z->sig_dirty = false;
}

bool
zone_sig_expire(const struct zone *z, uint32_t *expire)
{
	*expire = z->sig_expire;
	return z->nsigs > 0;
}

/* ---- builder ---- */

struct brec {
	const uint8_t *key;
	const uint8_t *rdata;
	uint32_t ttl;
	uint32_t seq;
	uint16_t keylen, type, rdlen;
};

struct zone_builder {
	struct zone *z;
	struct arena ar;
	struct brec *recs;
	size_t n, cap;
};

struct zone_builder *
zone_builder_new(const uint8_t *apex)
{
	struct zone_builder *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->z = zone_alloc(apex);
	if (b->z == NULL) {
		free(b);
		return NULL;
	}
	arena_init(&b->ar, 2 << 10);   /* grows geometrically: small zones stay small */
	return b;
}

void
zone_builder_free(struct zone_builder *b)
{
	if (b == NULL)
		return;
	arena_clear(&b->ar);
	free(b->recs);
	if (b->z != NULL)
		zone_free(b->z);
	free(b);
}

int
zone_builder_add(struct zone_builder *b, const struct dns_rr *rr, char *err, size_t errcap)
{
	uint8_t key[DNS_LOOKUP_MAX];
	size_t keylen;
	int ret = check_rr(b->z, rr, key, &keylen, err, errcap);
	if (ret != 0)
		return ret;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 32;   /* 100,000 zones of 10 records */
		struct brec *nr = realloc(b->recs, nc * sizeof(*nr));
		if (nr == NULL)
			return -ENOMEM;
		b->recs = nr;
		b->cap = nc;
	}
	uint8_t *mem = arena_alloc(&b->ar, keylen + rr->rdlen + 1);
	if (mem == NULL)
		return -ENOMEM;
	memcpy(mem, key, keylen);
	if (rr->rdlen > 0)
		memcpy(mem + keylen, rr->rdata, rr->rdlen);
	struct brec *r = &b->recs[b->n];
	r->key = mem;
	r->keylen = (uint16_t)keylen;
	r->rdata = mem + keylen;
	r->rdlen = rr->rdlen;
	r->type = rr->type;
	r->ttl = rr->ttl;
	r->seq = (uint32_t)b->n;
	b->n++;
	return 0;
}

static int
cmp_rdata(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t m = al < bl ? al : bl;
	int c = m ? memcmp(a, b, m) : 0;
	if (c != 0)
		return c;
	return (al > bl) - (al < bl);
}

static int
cmp_brec(const void *pa, const void *pb)
{
	const struct brec *a = pa, *b = pb;
	int c = cmp_rdata(a->key, a->keylen, b->key, b->keylen);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	c = cmp_rdata(a->rdata, a->rdlen, b->rdata, b->rdlen);
	if (c != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Adds `nd` to the trie in place, creating missing empty non-terminals above it. */
static int
insert_with_parents(struct zone *z, struct trie_cow *c, struct znode *nd, char *err,
                    size_t errcap)
{
	void *old;
	const struct trie_key *k = znode_key(nd);
	int ret = trie_insert(&z->trie, c, k, nd, &old);
	if (ret == 0)
		ret = zhash_put(&z->hash, c, znode_keyfn, nd);
	if (ret != 0)
		return ret;
	size_t len = k->len;
	while (len > z->apex_keylen) {
		len = key_parent(k->b, len);
		if (zone_node(z, k->b, len) != NULL)
			break;
		struct znode *ent = node_build(c, k->b, len, NULL, 0, &ret, err, errcap);
		if (ent == NULL)
			return ret;
		ret = trie_insert(&z->trie, c, znode_key(ent), ent, &old);
		if (ret != 0) {
			trie_obj_retire(c, ent);
			return ret;
		}
		ret = zhash_put(&z->hash, c, znode_keyfn, ent);
		if (ret != 0)
			return ret;
	}
	return 0;
}

int
zone_builder_finish(struct zone_builder *b, struct zone **out, char *err, size_t errcap)
{
	struct zone *z = b->z;
	int ret = 0;
	struct zitem *items = NULL;
	size_t icap = 0;
	*out = NULL;
	ret = zhash_init(&z->hash, NULL, b->n);
	if (ret != 0)
		goto out;
	if (b->n > 1)   /* b->recs is NULL when empty */
		qsort(b->recs, b->n, sizeof(*b->recs), cmp_brec);
	for (size_t i = 0; i < b->n;) {
		size_t j = i, ni = 0;
		while (j < b->n && b->recs[j].keylen == b->recs[i].keylen &&
		       memcmp(b->recs[j].key, b->recs[i].key, b->recs[i].keylen) == 0)
			j++;
		if (j - i > icap) {
			size_t nc = (j - i) * 2;
			struct zitem *ni2 = realloc(items, nc * sizeof(*ni2));
			if (ni2 == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			items = ni2;
			icap = nc;
		}
		uint32_t ttl = 0, tseq = 0;
		size_t first = 0;
		for (size_t k = i; k < j; k++) {
			const struct brec *r = &b->recs[k];
			if (k > i && r->type == b->recs[k - 1].type &&
			    cmp_rdata(r->rdata, r->rdlen, b->recs[k - 1].rdata, b->recs[k - 1].rdlen) == 0)
				continue;   /* duplicate record */
			if (r->type == DNS_T_RRSIG)
				sig_note(z, r->rdata);
			if (ni == 0 || !same_rrset(items[ni - 1].type, items[ni - 1].rdata, r->type,
			                           r->rdata)) {
				/* New rrset: its TTL is the one of its earliest record. */
				first = ni;
				ttl = r->ttl;
				tseq = r->seq;
				for (size_t m = k; m < j && same_rrset(b->recs[m].type, b->recs[m].rdata,
				                                       r->type, r->rdata); m++) {
					if (b->recs[m].seq < tseq) {
						tseq = b->recs[m].seq;
						ttl = b->recs[m].ttl;
					}
				}
			}
			(void)first;
			items[ni].type = r->type;
			items[ni].rdlen = r->rdlen;
			items[ni].rdata = r->rdata;
			items[ni].ttl = ttl;
			ni++;
		}
		struct znode *nd = node_build(NULL, b->recs[i].key, b->recs[i].keylen, items, ni, &ret,
		                              err, errcap);
		if (nd == NULL)
			goto out;
		if (znode_rrset(nd, DNS_T_NSEC3) != NULL) {
			void *old;
			ret = trie_insert(&z->n3, NULL, znode_key(nd), nd, &old);
			if (ret != 0) {
				trie_obj_release(nd);
				goto out;
			}
			z->nrecords += ni;
			i = j;
			continue;
		}
		ret = insert_with_parents(z, NULL, nd, err, errcap);
		if (ret != 0) {
			if (trie_get(&z->trie, znode_key(nd)->b, znode_key(nd)->len) != nd)
				trie_obj_release(nd);
			goto out;
		}
		z->nrecords += ni;
		z->ncuts += node_cuts(z, nd);
		z->nwild += (nd->flags & ZN_WILD) != 0;
		i = j;
	}
	ret = finish_apex(z, err, errcap);
out:
	free(items);
	if (ret == 0) {
		*out = z;
		b->z = NULL;
	}
	zone_builder_free(b);
	return ret;
}

/* ---- updates ---- */

struct zone_update {
	struct zone *base;
	struct zone *nz;
	struct trie_cow cow;
	struct zitem *items;
	size_t icap;
};

struct zone_update *
zone_update_begin(const struct zone *base)
{
	struct zone_update *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->nz = malloc(zone_struct_size(base));
	if (u->nz == NULL) {
		free(u);
		return NULL;
	}
	memcpy(u->nz, base, zone_struct_size(base));
	u->nz->apex = u->nz->names;
	u->nz->apex_key = u->nz->names + base->apex_len;
	u->nz->retired = false;
	u->nz->garbage = NULL;
	u->nz->ngarbage = 0;
	u->base = (struct zone *)(uintptr_t)base;
	trie_cow_begin(&u->cow);
	return u;
}

void
zone_update_abort(struct zone_update *u)
{
	if (u == NULL)
		return;
	trie_cow_abort(&u->cow);
	free(u->items);
	free(u->nz);
	free(u);
}

/* Items of node `n` (or none) into u->items with room for one more. */
static int
load_items(struct zone_update *u, const struct znode *n, size_t *count)
{
	size_t need = (n ? node_records(n) : 0) + 1;
	if (need > u->icap) {
		size_t nc = need * 2;
		struct zitem *ni = realloc(u->items, nc * sizeof(*ni));
		if (ni == NULL)
			return -ENOMEM;
		u->items = ni;
		u->icap = nc;
	}
	size_t c = 0;
	for (unsigned i = 0; n != NULL && i < n->nrr; i++) {
		const struct zrrset *rs = &n->rr[i];
		const uint8_t *p = zrrset_data(n, rs);
		for (unsigned j = 0; j < rs->count; j++) {
			struct zitem *it = &u->items[c++];
			it->type = rs->type;
			it->ttl = rs->ttl;
			it->rdlen = rd_u16(p + 10);
			it->rdata = p + ZRR_HDR;
			p += ZRR_HDR + it->rdlen;
		}
	}
	*count = c;
	return 0;
}

/* Replaces node `old` (may be NULL) by `nd` (may be NULL: delete) under key. */
static int
swap_node(struct zone_update *u, const uint8_t *key, size_t keylen, const struct znode *old,
          struct znode *nd)
{
	struct zone *z = u->nz;
	if (old != NULL) {
		z->nrecords -= node_records(old);
		z->ncuts -= node_cuts(z, old);
		z->nwild -= (old->flags & ZN_WILD) != 0;
	}
	if (nd != NULL) {
		void *prev;
		int ret = trie_insert(&z->trie, &u->cow, znode_key(nd), nd, &prev);
		if (ret != 0) {
			trie_obj_retire(&u->cow, nd);
			return ret;
		}
		ret = zhash_put(&z->hash, &u->cow, znode_keyfn, nd);
		if (ret != 0)
			return ret;
		z->nrecords += node_records(nd);
		z->ncuts += node_cuts(z, nd);
		z->nwild += (nd->flags & ZN_WILD) != 0;
	} else if (old != NULL) {
		trie_delete(&z->trie, &u->cow, key, keylen);
		if (zhash_del(&z->hash, &u->cow, znode_keyfn, key, keylen) != 0)
			return -ENOMEM;
	}
	if (old != NULL)
		trie_obj_retire(&u->cow, (void *)(uintptr_t)old);
	return u->cow.enomem ? -ENOMEM : 0;
}

/* NSEC3 records and their RRSIGs: kept in the NSEC3 trie. */
static bool
rr_is_nsec3(const struct dns_rr *rr)
{
	return rr->type == DNS_T_NSEC3 ||
	       (rr->type == DNS_T_RRSIG && rr->rdlen >= 2 && rd_u16(rr->rdata) == DNS_T_NSEC3);
}

/* Replaces node `old` (may be NULL) of the NSEC3 trie by `nd` (may be NULL: delete). */
static int
swap_n3(struct zone_update *u, const uint8_t *key, size_t keylen, const struct znode *old,
        struct znode *nd)
{
	struct zone *z = u->nz;
	if (old != NULL)
		z->nrecords -= node_records(old);
	if (nd != NULL) {
		void *prev;
		int ret = trie_insert(&z->n3, &u->cow, znode_key(nd), nd, &prev);
		if (ret != 0) {
			trie_obj_retire(&u->cow, nd);
			return ret;
		}
		z->nrecords += node_records(nd);
	} else if (old != NULL) {
		trie_delete(&z->n3, &u->cow, key, keylen);
	}
	if (old != NULL)
		trie_obj_retire(&u->cow, (void *)(uintptr_t)old);
	return u->cow.enomem ? -ENOMEM : 0;
}

static int
change(struct zone_update *u, const struct dns_rr *rr, bool add, char *err, size_t errcap)
{
	struct zone *z = u->nz;
	uint8_t key[DNS_LOOKUP_MAX];
	size_t keylen, n;
	char lb[DNS_NAME_TEXT_MAX + 32];
	int ret = check_rr(z, rr, key, &keylen, err, errcap);
	if (ret != 0)
		return ret;
	bool n3 = rr_is_nsec3(rr);
	const struct znode *old = n3 ? trie_get(&z->n3, key, keylen) : zone_node(z, key, keylen);
	ret = load_items(u, old, &n);
	if (ret != 0)
		return ret;
	size_t pos = n, match = n;
	for (size_t i = 0; i < n; i++) {
		const struct zitem *it = &u->items[i];
		if (cmp_rrset(it->type, it->rdata, rr->type, rr->rdata) > 0 && pos == n)
			pos = i;
		if (it->type == rr->type && it->rdlen == rr->rdlen &&
		    (rr->rdlen == 0 || memcmp(it->rdata, rr->rdata, rr->rdlen) == 0))
			match = i;
	}
	if (!add) {
		if (match == n)
			return fail(err, errcap, ERR_XFR, "remove of absent record %s",
			            rr_label(rr, lb, sizeof(lb)));
		if (rr->type == DNS_T_RRSIG) {
			z->nsigs--;
			if (rd_u32(rr->rdata + 8) == z->sig_expire)
				z->sig_dirty = true;
		}
		memmove(&u->items[match], &u->items[match + 1], (n - match - 1) * sizeof(struct zitem));
		n--;
	} else {
		if (match == n) {
			if (rr->type == DNS_T_RRSIG)
				sig_note(z, rr->rdata);
			memmove(&u->items[pos + 1], &u->items[pos], (n - pos) * sizeof(struct zitem));
			u->items[pos] = (struct zitem){.type = rr->type, .rdlen = rr->rdlen,
			                               .ttl = rr->ttl, .rdata = rr->rdata};
			n++;
		}
		for (size_t i = 0; i < n; i++) {
			if (same_rrset(u->items[i].type, u->items[i].rdata, rr->type, rr->rdata))
				u->items[i].ttl = rr->ttl;
		}
	}
	struct znode *nd = NULL;
	if (n3) {
		if (n > 0) {
			nd = node_build(&u->cow, key, keylen, u->items, n, &ret, err, errcap);
			if (nd == NULL)
				return ret;
		}
		return swap_n3(u, key, keylen, old, nd);
	}
	bool keep = n > 0 || keylen == z->apex_keylen ||
	            (old != NULL && trie_has_below(&z->trie, key, keylen));
	if (keep) {
		nd = node_build(&u->cow, key, keylen, u->items, n, &ret, err, errcap);
		if (nd == NULL)
			return ret;
	}
	ret = swap_node(u, key, keylen, old, nd);
	if (ret != 0)
		return ret;
	if (add && old == NULL) {
		/* New name: create the missing empty non-terminals above it. */
		size_t len = keylen;
		while (len > z->apex_keylen) {
			len = key_parent(key, len);
			if (zone_node(z, key, len) != NULL)
				break;
			struct znode *ent = node_build(&u->cow, key, len, NULL, 0, &ret, err, errcap);
			if (ent == NULL)
				return ret;
			ret = swap_node(u, key, len, NULL, ent);
			if (ret != 0)
				return ret;
		}
	} else if (nd == NULL) {
		/* Name gone: drop empty non-terminals left without anything below. */
		size_t len = keylen;
		while (len > z->apex_keylen) {
			len = key_parent(key, len);
			if (len == z->apex_keylen)
				break;
			const struct znode *p = zone_node(z, key, len);
			if (p == NULL || p->nrr > 0 || trie_has_below(&z->trie, key, len))
				break;
			ret = swap_node(u, key, len, p, NULL);
			if (ret != 0)
				return ret;
		}
	}
	return 0;
}

int
zone_update_remove(struct zone_update *u, const struct dns_rr *rr, char *err, size_t errcap)
{
	return change(u, rr, false, err, errcap);
}

int
zone_update_add(struct zone_update *u, const struct dns_rr *rr, char *err, size_t errcap)
{
	return change(u, rr, true, err, errcap);
}

int
zone_update_commit(struct zone_update *u, struct zone **out, char *err, size_t errcap)
{
	*out = NULL;
	int ret = u->cow.enomem ? -ENOMEM : finish_apex(u->nz, err, errcap);
	if (ret != 0) {
		zone_update_abort(u);
		return ret;
	}
	if (u->nz->sig_dirty)
		sig_rescan(u->nz);
	struct zone *base = u->base;
	trie_cow_commit(&u->cow, &base->garbage, &base->ngarbage);
	base->retired = true;
	*out = u->nz;
	free(u->items);
	free(u);
	return 0;
}

int
zone_apply_diff(const struct zone *base, const struct dns_rr *del, size_t ndel,
                const struct dns_rr *add, size_t nadd, struct zone **out, char *err,
                size_t errcap)
{
	*out = NULL;
	struct zone_update *u = zone_update_begin(base);
	if (u == NULL)
		return -ENOMEM;
	int ret = 0;
	for (size_t i = 0; i < ndel && ret == 0; i++)
		ret = zone_update_remove(u, &del[i], err, errcap);
	for (size_t i = 0; i < nadd && ret == 0; i++)
		ret = zone_update_add(u, &add[i], err, errcap);
	if (ret != 0) {
		zone_update_abort(u);
		return ret;
	}
	return zone_update_commit(u, out, err, errcap);
}

/* ---- reading ---- */

const uint8_t *
zone_apex(const struct zone *z)
{
	return z->apex;
}

void
zone_soa(const struct zone *z, struct zone_soa *soa)
{
	*soa = z->soa;
}

uint32_t
zone_serial(const struct zone *z)
{
	return z->soa.serial;
}

size_t
zone_records(const struct zone *z)
{
	return z->nrecords;
}

struct walk_ctx {
	zone_rr_fn fn;
	void *ctx;
};

static int
walk_node(void *ctx, void *val)
{
	struct walk_ctx *w = ctx;
	const struct znode *n = val;
	const struct trie_key *k = znode_key(n);
	uint8_t owner[DNS_NAME_MAX];
	if (dns_name_from_lookup(k->b, k->len, owner) < 0)
		return ERR_FORMERR;
	/* SOA first at the apex, then by type. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < n->nrr; i++) {
			const struct zrrset *rs = &n->rr[i];
			if ((pass == 0) != (rs->type == DNS_T_SOA))
				continue;
			const uint8_t *p = zrrset_data(n, rs);
			for (unsigned j = 0; j < rs->count; j++) {
				struct dns_rr rr = {.owner = owner, .type = rs->type, .rclass = DNS_C_IN,
				                    .ttl = rs->ttl, .rdlen = rd_u16(p + 10),
				                    .rdata = p + ZRR_HDR};
				int r = w->fn(w->ctx, &rr);
				if (r != 0)
					return r;
				p += ZRR_HDR + rr.rdlen;
			}
		}
	}
	return 0;
}

int
zone_walk(const struct zone *z, zone_rr_fn fn, void *ctx)
{
	struct walk_ctx w = {fn, ctx};
	int ret = trie_walk(&z->trie, walk_node, &w);
	return ret != 0 ? ret : trie_walk(&z->n3, walk_node, &w);
}

static int
free_node(void *ctx, void *val)
{
	(void)ctx;
	trie_obj_release(val);
	return 0;
}

void
zone_free(struct zone *z)
{
	if (z == NULL)
		return;
	if (z->retired) {
		for (size_t i = 0; i < z->ngarbage; i++)
			trie_obj_release(z->garbage[i]);
		free(z->garbage);
	} else {
		trie_walk(&z->trie, free_node, NULL);
		trie_clear(&z->trie);
		trie_walk(&z->n3, free_node, NULL);
		trie_clear(&z->n3);
		zhash_clear(&z->hash);
	}
	free(z);
}
