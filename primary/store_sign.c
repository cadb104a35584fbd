/*
 * The signer: signs one change inside its own write transaction (issue 15).
 *
 * After a change's user rrsets are written and its serial bumped,
 * sign_change() works on the *affected names* only: the owners it touched,
 * the apex (the SOA changed), every name under a delegation point whose NS
 * rrset or under a name whose DNAME changed (their occlusion changed), and
 * for NSEC3 the ancestors of those (empty non-terminals come and go).  At
 * each affected name it
 *   1. keeps the RRSIGs still good and signs the rrsets that changed
 *      (authoritative rrsets only: at a cut only DS, below a cut nothing);
 *   2. makes the name's NSEC (or NSEC3 at its hashed owner) agree with the
 *      name: added, removed, or its type bitmap rewritten.
 * Then the chain is mended around the records added or removed: their
 * predecessors, found through the ordered key of dnssec_names (schema
 * 0012; NSEC3 by its partial index dnssec_names_nsec3), get their "next"
 * field rewritten and re-signed.  Cost O(change x log zone), never a walk.
 * Every write goes through touch(), so the caller's diff puts the
 * signatures and chain records into the same journal entry as the change.
 * ch->full signs every rrset (switched on, keys changed) and rewrites the
 * apex DNSKEY and NSEC3PARAM rrsets; a key change rewrites CDS and CDNSKEY
 * too (store_ksk.c's cds_build).
 *
 * Names are handled in RFC 4034 §6.2 canonical form: owners from nkey (lower
 * case), rdata canonicalised by dns_dnssec_sign itself.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/rrtype.h"
#include "dns/soa.h"
#include "util/hash.h"
#include "util/log.h"

#define SIG_BACKDATE 3600
#define SN_TYPES 8

/* An affected name. */
struct sname {
	struct nkey k;
	bool force;                  /* re-sign every rrset at it */
	uint16_t types[SN_TYPES];    /* the touched types to re-sign */
	size_t ntypes;
	struct sname *next;
};

/* A chain record to mend: its owner (the name, or the NSEC3 hashed owner). */
struct cnode {
	struct nkey k;
	bool resign;
	struct cnode *next;
};

struct signer {
	struct change *ch;
	struct store *st;
	struct zkey keys[ZKEYS_MAX];
	size_t nkeys;
	struct dns_dnssec_ctx *cx;
	uint32_t inception, expiration, neg_ttl;
	bool nsec3;
	uint16_t ctype;              /* DNS_T_NSEC or DNS_T_NSEC3 */
	struct sname **tab;          /* affected names by key */
	size_t cap, n;
	struct sname *list;
	struct cnode **ctab;         /* chain records to mend */
	size_t ccap, cn;
	struct cnode *clist;
	struct cnode *gone;          /* chain records removed (their predecessors mend) */
	struct cnode *born;          /* chain records added */
};

/* ---- sets ---------------------------------------------------------------------------- */

static bool
key_eq(const struct nkey *a, const struct nkey *b)
{
	return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0;
}

/* Grows an open-addressing table of pointers whose first member is a struct nkey. */
static int
tab_grow(struct store *st, void ***tab, size_t *cap, size_t n, void *list, size_t next_off)
{
	if ((n + 1) * 2 <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void **nt = arena_alloc(&st->arena, ncap * sizeof(*nt));
	if (nt == NULL)
		return -ENOMEM;
	memset(nt, 0, ncap * sizeof(*nt));
	for (void *o = list; o != NULL; o = *(void **)((char *)o + next_off)) {
		const struct nkey *k = o;
		size_t i = (size_t)hash_fnv1a(k->key, k->klen, 0) & (ncap - 1);
		while (nt[i] != NULL)
			i = (i + 1) & (ncap - 1);
		nt[i] = o;
	}
	*tab = nt;
	*cap = ncap;
	return 0;
}

static void *
tab_find(void **tab, size_t cap, const struct nkey *k)
{
	if (cap == 0)
		return NULL;
	size_t i = (size_t)hash_fnv1a(k->key, k->klen, 0) & (cap - 1);
	for (; tab[i] != NULL; i = (i + 1) & (cap - 1))
		if (key_eq(tab[i], k))
			return tab[i];
	return NULL;
}

static void
tab_put(void **tab, size_t cap, void *o)
{
	const struct nkey *k = o;
	size_t i = (size_t)hash_fnv1a(k->key, k->klen, 0) & (cap - 1);
	while (tab[i] != NULL)
		i = (i + 1) & (cap - 1);
	tab[i] = o;
}

/* Adds name `k` to the affected set (type 0: none to re-sign). */
static int
sn_add(struct signer *sg, const struct nkey *k, bool force, uint16_t type)
{
	struct sname *s = tab_find((void **)sg->tab, sg->cap, k);
	if (s == NULL) {
		if (tab_grow(sg->st, (void ***)&sg->tab, &sg->cap, sg->n, sg->list,
		             offsetof(struct sname, next)) != 0)
			return -ENOMEM;
		s = arena_alloc(&sg->st->arena, sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		memset(s, 0, sizeof(*s));
		s->k = *k;
		s->next = sg->list;
		sg->list = s;
		sg->n++;
		tab_put((void **)sg->tab, sg->cap, s);
	}
	s->force |= force;
	if (type != 0 && !s->force) {
		if (s->ntypes == SN_TYPES)
			s->force = true;
		else
			s->types[s->ntypes++] = type;
	}
	return 0;
}

/* Adds chain record `k` to the set to mend (and to `*extra` when not NULL). */
static int
cn_add(struct signer *sg, const struct nkey *k, bool resign, struct cnode **extra)
{
	if (extra != NULL) {
		struct cnode *e = arena_alloc(&sg->st->arena, sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		e->k = *k;
		e->resign = resign;
		e->next = *extra;
		*extra = e;
		return 0;
	}
	struct cnode *c = tab_find((void **)sg->ctab, sg->ccap, k);
	if (c == NULL) {
		if (tab_grow(sg->st, (void ***)&sg->ctab, &sg->ccap, sg->cn, sg->clist,
		             offsetof(struct cnode, next)) != 0)
			return -ENOMEM;
		c = arena_alloc(&sg->st->arena, sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		memset(c, 0, sizeof(*c));
		c->k = *k;
		c->next = sg->clist;
		sg->clist = c;
		sg->cn++;
		tab_put((void **)sg->ctab, sg->ccap, c);
	}
	c->resign |= resign;
	return 0;
}

/* ---- reads ---------------------------------------------------------------------------- */

/* The enabled rows of rrset (k, type) (arena; disabled ones dropped). */
static int
rrset_enabled(struct signer *sg, const struct nkey *k, uint16_t type, struct row **rows,
              size_t *n)
{
	int ret = read_rrset(sg->st, sg->ch->z->id, k, type, rows, n);
	if (ret != 0)
		return ret;
	size_t m = 0;
	for (size_t i = 0; i < *n; i++)
		if (!(*rows)[i].disabled)
			(*rows)[m++] = (*rows)[i];
	*n = m;
	return 0;
}

static bool
dnssec_type(uint16_t t)
{
	return t == DNS_T_RRSIG || t == DNS_T_NSEC || t == DNS_T_NSEC3;
}

/* The enabled types at `k` but RRSIG/NSEC/NSEC3, ascending.  Count or <0. */
static int
owner_types(struct signer *sg, const struct nkey *k, uint16_t *types, size_t max)
{
	struct db_stmt *s = db_q(sg->st->w, DBQ_OWNER_TYPES);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, sg->ch->z->id);
	db_bind_blob(s, 2, k->key, k->klen);
	size_t n = 0;
	int rc;
	while ((rc = db_step(s)) == DB_ROW) {
		uint16_t t = (uint16_t)db_col_int(s, 0);
		if (!dnssec_type(t) && n < max)
			types[n++] = t;
	}
	db_done(s);
	return rc == DB_DONE ? (int)n : -EIO;
}

/* The lookup key just above every key under `k`. */
static void
key_hi(const struct nkey *k, uint8_t *hi)
{
	memcpy(hi, k->key, k->klen);
	hi[k->klen - 1] = 1;
}

/* Whether a name under `k` holds data (an empty non-terminal's test). */
static int
has_desc(struct signer *sg, const struct nkey *k)
{
	uint8_t hi[DNS_LOOKUP_MAX];
	key_hi(k, hi);
	struct db_stmt *s = db_q(sg->st->w, DBQ_HAS_DESC);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, sg->ch->z->id);
	db_bind_blob(s, 2, k->key, k->klen);
	db_bind_blob(s, 3, hi, k->klen);
	int rc = db_step(s);
	db_done(s);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -EIO;
}

/*
 * Whether `k` is occluded: a proper ancestor below the apex is a delegation
 * point, or a proper ancestor (the apex too) owns a DNAME (RFC 6672 §2.4).
 */
static int
occluded(struct signer *sg, const struct nkey *k)
{
	const uint8_t *apex = sg->ch->apex.name;
	for (const uint8_t *a = dns_name_parent(k->name); dns_name_is_sub(a, apex);
	     a = dns_name_parent(a)) {
		struct nkey ak;
		nkey_set(&ak, a);
		struct row *rows;
		size_t n;
		bool top = dns_name_equal(a, apex);
		int ret = top ? 0 : rrset_enabled(sg, &ak, DNS_T_NS, &rows, &n);
		if (ret == 0 && (top || n == 0))
			ret = rrset_enabled(sg, &ak, DNS_T_DNAME, &rows, &n);
		if (ret != 0)
			return ret;
		if (n > 0)
			return 1;
		if (top)
			break;
	}
	return 0;
}

/* ---- signatures ------------------------------------------------------------------------ */

static bool
key_signs(const struct signer *sg, const struct zkey *k, uint16_t type)
{
	if (!k->active || k->key == NULL)
		return false;
	bool sep = (k->flags & DNS_DNSSEC_FLAG_SEP) != 0;
	bool any_zsk = false, any_sep = false;
	for (size_t i = 0; i < sg->nkeys; i++) {
		if (!sg->keys[i].active || sg->keys[i].key == NULL)
			continue;
		if (sg->keys[i].flags & DNS_DNSSEC_FLAG_SEP)
			any_sep = true;
		else
			any_zsk = true;
	}
	/* CDS/CDNSKEY by the KSKs too (RFC 7344 §4.1: a key the parent's DS names) */
	if (type == DNS_T_DNSKEY || type == DNS_T_CDS || type == DNS_T_CDNSKEY)
		return sep || !any_sep;
	return !sep || !any_zsk;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Signs rrset (k, type) with every key that signs it, appending to sigs (arena). */
static int
sign_rrset(struct signer *sg, const struct nkey *k, uint16_t type, const uint16_t *skip_tags,
           size_t nskip, struct row *sigs, size_t *nsigs, size_t max)
{
	struct row *rows;
	size_t n;
	int ret = rrset_enabled(sg, k, type, &rows, &n);
	if (ret != 0 || n == 0)
		return ret;
	const uint8_t **rd = arena_alloc(&sg->st->arena, n * sizeof(*rd));
	uint16_t *rl = arena_alloc(&sg->st->arena, n * sizeof(*rl));
	if (rd == NULL || rl == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rd[i] = rows[i].rd;
		rl[i] = rows[i].rdlen;
	}
	struct dns_dnssec_rrset rs = {.owner = k->name, .type = type, .rclass = 1,
	                              .ttl = rows[0].ttl, .n = n, .rdata = rd, .rdlen = rl};
	for (size_t i = 0; i < sg->nkeys; i++) {
		const struct zkey *zk = &sg->keys[i];
		if (!key_signs(sg, zk, type))
			continue;
		bool skip = false;
		for (size_t j = 0; j < nskip; j++)
			skip |= skip_tags[j] == zk->tag;
		if (skip)
			continue;
		if (*nsigs == max)
			return -ENOSPC;
		uint8_t buf[DNS_DNSSEC_RRSIG_MAX];
		/* per-rrset jitter (up to a 14th of the validity, a day at 14 days), so
		 * that signatures made together are refreshed in small batches */
		uint32_t span = sg->st->sig_validity / 14;
		uint32_t jitter = span ? (uint32_t)(hash_fnv1a(k->key, k->klen, type) % span) : 0;
		int len = dns_dnssec_sign(sg->cx, zk->key, sg->ch->apex.name, &rs, sg->inception,
		                          sg->expiration - jitter, buf, sizeof(buf));
		if (len < 0)
			return len == -ENOMEM ? -ENOMEM : -EIO;
		struct row *r = &sigs[(*nsigs)++];
		r->rd = arena_memdup(&sg->st->arena, buf, (size_t)len);
		r->rdlen = (uint16_t)len;
		r->ttl = rows[0].ttl;
		r->disabled = false;
		if (r->rd == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* The RRSIGs at `k` become rows[0..n) (the name's row of dnssec_names). */
static int
sigs_write(struct signer *sg, const struct nkey *k, const struct row *rows, size_t n)
{
	int ret = touch(sg->ch, k, DNS_T_RRSIG, "dnssec");
	return ret == 0 ? dn_write(sg->st, sg->ch->z->id, k, DNS_T_RRSIG, rows, n) : ret;
}

/*
 * Replaces the RRSIGs at `k` covering `covered` by fresh ones (none when
 * `sign` is false): used for chain records, whose signatures sit beside the
 * name's own (NSEC) or alone at the hashed owner (NSEC3).
 */
static int
sigs_replace(struct signer *sg, const struct nkey *k, uint16_t covered, bool sign)
{
	struct row *old;
	size_t nold;
	int ret = read_rrset(sg->st, sg->ch->z->id, k, DNS_T_RRSIG, &old, &nold);
	if (ret != 0)
		return ret;
	size_t max = nold + ZKEYS_MAX;
	struct row *out = arena_alloc(&sg->st->arena, max * sizeof(*out));
	if (out == NULL)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < nold; i++)
		if (old[i].rdlen < 2 || get16(old[i].rd) != covered)
			out[n++] = old[i];
	if (sign) {
		ret = sign_rrset(sg, k, covered, NULL, 0, out, &n, max);
		if (ret != 0)
			return ret;
	}
	return sigs_write(sg, k, out, n);
}

static bool
has_type(const uint16_t *types, size_t n, uint16_t t)
{
	for (size_t i = 0; i < n; i++)
		if (types[i] == t)
			return true;
	return false;
}

/*
 * Step 1 at one name: keeps the RRSIGs that still hold (a type in
 * `sigset`, not re-signed by this change, made by a key that still signs
 * it), signs the rest of `sigset`.  RRSIGs over NSEC/NSEC3 are the chain's.
 */
static int
name_sigs(struct signer *sg, const struct sname *sn, const uint16_t *sigset, size_t nset)
{
	struct row *old;
	size_t nold;
	int ret = read_rrset(sg->st, sg->ch->z->id, &sn->k, DNS_T_RRSIG, &old, &nold);
	if (ret != 0)
		return ret;
	size_t max = nold + nset * ZKEYS_MAX;
	struct row *out = arena_alloc(&sg->st->arena, (max ? max : 1) * sizeof(*out));
	if (out == NULL)
		return -ENOMEM;
	size_t n = 0;
	bool changed = false;
	for (size_t i = 0; i < nold; i++) {
		uint16_t t = old[i].rdlen >= 18 ? get16(old[i].rd) : 0;
		uint16_t tag = old[i].rdlen >= 18 ? get16(old[i].rd + 16) : 0;
		bool keep = t == DNS_T_NSEC || t == DNS_T_NSEC3;
		if (!keep && has_type(sigset, nset, t) && !sn->force &&
		    !has_type(sn->types, sn->ntypes, t)) {
			for (size_t j = 0; j < sg->nkeys; j++)
				keep |= sg->keys[j].tag == tag && key_signs(sg, &sg->keys[j], t);
		}
		if (keep)
			out[n++] = old[i];
		else
			changed = true;
	}
	for (size_t i = 0; i < nset; i++) {
		uint16_t tags[ZKEYS_MAX * 2];
		size_t ntags = 0;
		for (size_t j = 0; j < n && ntags < ZKEYS_MAX * 2; j++)
			if (get16(out[j].rd) == sigset[i])
				tags[ntags++] = get16(out[j].rd + 16);
		size_t before = n;
		ret = sign_rrset(sg, &sn->k, sigset[i], tags, ntags, out, &n, max);
		if (ret != 0)
			return ret;
		changed |= n != before;
	}
	return changed ? sigs_write(sg, &sn->k, out, n) : 0;
}

/* ---- the chain ------------------------------------------------------------------------- */

static const char b32hex[] = "0123456789abcdefghijklmnopqrstuv";

/* Decodes a 32-character base32hex label into the 20-octet hash.  0 or -EINVAL. */
static int
b32hex_decode(const uint8_t *label, size_t len, uint8_t out[DNS_DNSSEC_NSEC3_HASH_LEN])
{
	if (len != 32)
		return -EINVAL;
	uint64_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(b32hex, label[i] | 0x20);
		if (p == NULL || *p == '\0')
			return -EINVAL;
		acc = acc << 5 | (uint64_t)(p - b32hex);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == DNS_DNSSEC_NSEC3_HASH_LEN ? 0 : -EINVAL;
}

/* The offset of the type bitmap in chain rdata `rd`, or -1. */
static int
bitmap_off(const struct signer *sg, const uint8_t *rd, size_t len)
{
	if (!sg->nsec3) {
		int nl = dns_name_check(rd, len);
		return nl > 0 ? nl : -1;
	}
	if (len < 5 || 5 + (size_t)rd[4] + 1 > len)
		return -1;
	size_t off = 5 + rd[4];
	off += 1 + rd[off];
	return off <= len ? (int)off : -1;
}

/* Builds chain rdata: `next` (a name, or an NSEC3 hash) and the types. */
static int
chain_rdata(const struct signer *sg, const uint8_t *next, const uint16_t *types, size_t n,
            uint8_t *out, size_t cap)
{
	uint8_t bm[DNS_DNSSEC_BITMAP_MAX];
	int bl = dns_dnssec_bitmap_encode(types, n, bm, sizeof(bm));
	if (bl < 0)
		return bl;
	if (sg->nsec3)
		return dns_dnssec_nsec3_rdata(0, 0, NULL, 0, next, bm, (size_t)bl, out, cap);
	return dns_dnssec_nsec_rdata(next, bm, (size_t)bl, out, cap);
}

static int
chain_write(struct signer *sg, const struct nkey *k, const uint8_t *rd, size_t len)
{
	int ret = touch(sg->ch, k, sg->ctype, "dnssec");
	struct row r = {.rd = (uint8_t *)rd, .rdlen = (uint16_t)len, .ttl = sg->neg_ttl};
	return ret == 0 ? dn_write(sg->st, sg->ch->z->id, k, sg->ctype, &r, rd != NULL) : ret;
}

/*
 * Step 2 at one name: its chain record as it should be.  `member`: the
 * name belongs in the chain; types[0..n) its bitmap.
 */
static int
name_chain(struct signer *sg, const struct sname *sn, bool member, const uint16_t *types,
           size_t n)
{
	struct nkey ck;
	if (sg->nsec3) {
		uint8_t h[DNS_NAME_MAX];
		int hl = dns_dnssec_nsec3_owner(sn->k.name, sg->ch->apex.name, NULL, 0, 0, h);
		if (hl < 0)
			return hl == -ENAMETOOLONG ? 0 : -EIO;   /* such a name cannot be in the zone */
		nkey_set(&ck, h);
	} else {
		ck = sn->k;
	}
	struct row *cur;
	size_t ncur;
	int ret = read_rrset(sg->st, sg->ch->z->id, &ck, sg->ctype, &cur, &ncur);
	if (ret != 0)
		return ret;
	if (!member) {
		if (ncur == 0)
			return 0;
		ret = chain_write(sg, &ck, NULL, 0);
		if (ret == 0)
			ret = sigs_replace(sg, &ck, sg->ctype, false);
		return ret == 0 ? cn_add(sg, &ck, false, &sg->gone) : ret;
	}
	uint8_t rd[DNS_NAME_MAX + DNS_DNSSEC_BITMAP_MAX + 64];
	uint8_t self[DNS_DNSSEC_NSEC3_HASH_LEN];
	const uint8_t *next = ck.name;   /* a new record points at itself until mended */
	if (sg->nsec3) {
		if (b32hex_decode(ck.name + 1, ck.name[0], self) != 0)
			return -EIO;
		next = self;
	}
	if (ncur == 1) {
		int off = bitmap_off(sg, cur[0].rd, cur[0].rdlen);
		if (off < 0)
			return -EIO;
		if (!sg->nsec3)
			next = cur[0].rd;
		else
			memcpy(self, cur[0].rd + off - DNS_DNSSEC_NSEC3_HASH_LEN, sizeof(self));
	}
	int len = chain_rdata(sg, next, types, n, rd, sizeof(rd));
	if (len < 0)
		return len;
	if (ncur == 1 && cur[0].rdlen == len && memcmp(cur[0].rd, rd, (size_t)len) == 0 &&
	    cur[0].ttl == sg->neg_ttl)
		return sg->ch->full ? cn_add(sg, &ck, true, NULL) : 0;
	ret = chain_write(sg, &ck, rd, (size_t)len);
	if (ret != 0)
		return ret;
	if (ncur == 0)
		ret = cn_add(sg, &ck, true, &sg->born);
	return ret == 0 ? cn_add(sg, &ck, true, NULL) : ret;
}

/* Steps 1 and 2 at one affected name. */
static int
sign_name(struct signer *sg, const struct sname *sn)
{
	uint16_t types[256];
	int nt = owner_types(sg, &sn->k, types, 250);
	if (nt < 0)
		return nt;
	bool apex = key_eq(&sn->k, &sg->ch->apex);
	int occ = apex ? 0 : occluded(sg, &sn->k);
	if (occ < 0)
		return occ;
	bool cut = !apex && has_type(types, (size_t)nt, DNS_T_NS);
	uint16_t sigset[256];
	size_t nset = 0;
	for (int i = 0; i < nt && !occ; i++)
		if (!cut || types[i] == DNS_T_DS)
			sigset[nset++] = types[i];
	int ret = name_sigs(sg, sn, sigset, nset);
	if (ret != 0)
		return ret;
	bool member = !occ && nt > 0;
	if (!occ && nt == 0 && sg->nsec3) {
		int d = has_desc(sg, &sn->k);
		if (d < 0)
			return d;
		member = d == 1;
	}
	size_t n = (size_t)nt;
	if (member && (nset > 0 || !sg->nsec3))
		types[n++] = DNS_T_RRSIG;
	if (member && !sg->nsec3)
		types[n++] = DNS_T_NSEC;
	return name_chain(sg, sn, member, types, n);
}

/* Mends one chain record: its next field from the index, then its signature. */
static int
mend(struct signer *sg, const struct cnode *c)
{
	struct row *cur;
	size_t ncur;
	int ret = read_rrset(sg->st, sg->ch->z->id, &c->k, sg->ctype, &cur, &ncur);
	if (ret != 0 || ncur != 1)
		return ret;
	enum db_qid q = sg->nsec3 ? DBQ_NSEC3_NEXT : DBQ_NSEC_NEXT;
	struct db_stmt *s = db_q(sg->st->w, q);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, sg->ch->z->id);
	db_bind_blob(s, 2, c->k.key, c->k.klen);
	int rc = db_step(s);
	if (rc == DB_DONE) {   /* the last one: wraps to the first */
		db_done(s);
		db_bind_i64(s, 1, sg->ch->z->id);
		db_bind_blob(s, 2, "", 0);
		rc = db_step(s);
	}
	uint8_t next[DNS_NAME_MAX];
	if (rc == DB_ROW) {
		size_t nl = db_col_bytes(s, 1);
		if (nl > sizeof(next) || dns_name_check(db_col_blob(s, 1), nl) != (int)nl)
			rc = -EIO;
		else
			memcpy(next, db_col_blob(s, 1), nl);
	}
	db_done(s);
	if (rc != DB_ROW)
		return -EIO;
	dns_name_lower(next);
	int off = bitmap_off(sg, cur[0].rd, cur[0].rdlen);
	if (off < 0)
		return -EIO;
	uint8_t rd[DNS_NAME_MAX + DNS_DNSSEC_BITMAP_MAX + 64];
	size_t len;
	if (sg->nsec3) {
		memcpy(rd, cur[0].rd, cur[0].rdlen);
		len = cur[0].rdlen;
		if (b32hex_decode(next + 1, next[0], rd + off - DNS_DNSSEC_NSEC3_HASH_LEN) != 0)
			return -EIO;
	} else {
		size_t nl = dns_name_len(next);
		memcpy(rd, next, nl);
		memcpy(rd + nl, cur[0].rd + off, cur[0].rdlen - (size_t)off);
		len = nl + cur[0].rdlen - (size_t)off;
	}
	bool same = len == cur[0].rdlen && memcmp(rd, cur[0].rd, len) == 0;
	if (same && !c->resign)
		return 0;
	if (!same) {
		ret = chain_write(sg, &c->k, rd, len);
		if (ret != 0)
			return ret;
	}
	return sigs_replace(sg, &c->k, sg->ctype, true);
}

/* The chain record before `k` (wrapping to the last) into the mend set. */
static int
mend_prev(struct signer *sg, const struct nkey *k)
{
	enum db_qid q = sg->nsec3 ? DBQ_NSEC3_PREV : DBQ_NSEC_PREV;
	struct db_stmt *s = db_q(sg->st->w, q);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, sg->ch->z->id);
	db_bind_blob(s, 2, k->key, k->klen);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		uint8_t hi[DNS_LOOKUP_MAX];
		key_hi(&sg->ch->apex, hi);
		db_done(s);
		db_bind_i64(s, 1, sg->ch->z->id);
		db_bind_blob(s, 2, hi, sg->ch->apex.klen);
		rc = db_step(s);
	}
	struct nkey pk;
	bool got = false;
	if (rc == DB_ROW) {
		size_t nl = db_col_bytes(s, 1);
		uint8_t nm[DNS_NAME_MAX];
		if (nl <= sizeof(nm) && dns_name_check(db_col_blob(s, 1), nl) == (int)nl) {
			memcpy(nm, db_col_blob(s, 1), nl);
			nkey_set(&pk, nm);
			got = true;
		}
	}
	db_done(s);
	if (rc == DB_DONE)
		return 0;   /* the chain is empty */
	if (rc != DB_ROW || !got)
		return -EIO;
	return cn_add(sg, &pk, false, NULL);
}

/* ---- collecting the affected names ----------------------------------------------------- */

/* Every owner in (lo, hi) into the affected set, forced. */
static int
add_range(struct signer *sg, const uint8_t *lo, size_t lolen, const uint8_t *hi, size_t hilen)
{
	struct db_stmt *s = db_q(sg->st->w, DBQ_OWNERS_RANGE);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, sg->ch->z->id);
	db_bind_blob(s, 2, lo, lolen);
	db_bind_blob(s, 3, hi, hilen);
	int rc, ret = 0;
	while ((rc = db_step(s)) == DB_ROW && ret == 0) {
		size_t nl = db_col_bytes(s, 1);
		uint8_t nm[DNS_NAME_MAX];
		if (nl > sizeof(nm) || dns_name_check(db_col_blob(s, 1), nl) != (int)nl) {
			ret = -EIO;
			break;
		}
		memcpy(nm, db_col_blob(s, 1), nl);
		struct nkey k;
		nkey_set(&k, nm);
		ret = sn_add(sg, &k, true, 0);
	}
	db_done(s);
	return ret != 0 ? ret : rc == DB_DONE || rc == DB_ROW ? 0 : -EIO;
}

static int
collect(struct signer *sg, struct touched *user)
{
	struct change *ch = sg->ch;
	int ret = sn_add(sg, &ch->apex, false, DNS_T_SOA);
	if (ret == 0 && ch->keys)
		ret = sn_add(sg, &ch->apex, false, DNS_T_DNSKEY);
	if (ret == 0 && ch->keys)
		ret = sn_add(sg, &ch->apex, false, DNS_T_CDS);
	if (ret == 0 && ch->keys)
		ret = sn_add(sg, &ch->apex, false, DNS_T_CDNSKEY);
	uint8_t hi[DNS_LOOKUP_MAX];
	if (ret == 0 && ch->full) {
		key_hi(&ch->apex, hi);
		ret = add_range(sg, (const uint8_t *)"", 0, hi, ch->apex.klen);
	}
	for (struct resign *r = ch->resign; r != NULL && ret == 0; r = r->next)
		ret = r->type == sg->ctype ? cn_add(sg, &r->k, true, NULL) :
		      sn_add(sg, &r->k, false, r->type);
	for (struct touched *t = user; t != NULL && ret == 0; t = t->next) {
		ret = sn_add(sg, &t->k, false, t->type);
		if (ret == 0 && ((t->type == DNS_T_NS && !key_eq(&t->k, &ch->apex)) ||
		                 t->type == DNS_T_DNAME)) {
			/* a cut or a DNAME came or went: everything under it changes state */
			key_hi(&t->k, hi);
			ret = add_range(sg, t->k.key, t->k.klen, hi, t->k.klen);
		}
	}
	if (ret != 0 || !sg->nsec3)
		return ret;
	/* NSEC3: the ancestors of every affected name may become or stop being empty
	 * non-terminals */
	struct sname *first = sg->list;
	for (struct sname *s = first; s != NULL && ret == 0; s = s->next) {
		for (const uint8_t *a = dns_name_parent(s->k.name); ret == 0 &&
		     dns_name_is_sub(a, ch->apex.name) && !dns_name_equal(a, ch->apex.name);
		     a = dns_name_parent(a)) {
			struct nkey ak;
			nkey_set(&ak, a);
			ret = sn_add(sg, &ak, false, 0);
		}
	}
	return ret;
}

/* ---- the apex: DNSKEY, NSEC3PARAM ----------------------------------------------------- */

static int
apex_rrset(struct signer *sg, uint16_t type, uint32_t ttl, const uint8_t *const *rd,
           const size_t *len, size_t n)
{
	struct change *ch = sg->ch;
	int ret = touch(ch, &ch->apex, type, "dnssec");
	if (ret == 0)
		ret = rrset_delete(sg->st, ch->z->id, &ch->apex, type, false);
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = rec_write(sg->st, ch->z->id, DBQ_REC_UPSERT, &ch->apex, type, ttl, rd[i], len[i],
		                false);
	return ret;
}

static int
apex_keys(struct signer *sg)
{
	const uint8_t *rd[ZKEYS_MAX];
	size_t len[ZKEYS_MAX], n = 0;
	for (size_t i = 0; i < sg->nkeys; i++) {
		if (!sg->keys[i].published)
			continue;
		rd[n] = sg->keys[i].dnskey;
		len[n++] = sg->keys[i].dnskey_len;
	}
	int ret = apex_rrset(sg, DNS_T_DNSKEY, sg->st->dnskey_ttl, rd, len, n);
	struct cds_set cs;
	if (ret == 0)
		ret = cds_build(sg->st, sg->ch->z, sg->keys, sg->nkeys, &cs);
	if (ret == 0)
		ret = apex_rrset(sg, DNS_T_CDS, sg->st->dnskey_ttl, cs.cds, cs.cdslen, cs.n);
	if (ret == 0)
		ret = apex_rrset(sg, DNS_T_CDNSKEY, sg->st->dnskey_ttl, cs.cdnskey, cs.cdnskeylen,
		                 cs.n);
	if (ret != 0)
		return ret;
	uint8_t p[16];
	int pl = dns_dnssec_nsec3param(0, 0, NULL, 0, p, sizeof(p));
	if (pl < 0)
		return -EIO;
	const uint8_t *prd[1] = {p};
	size_t plen[1] = {(size_t)pl};
	return apex_rrset(sg, DNS_T_NSEC3PARAM, 0, prd, plen, sg->nsec3 ? 1 : 0);
}

/* The signing clock and the chain TTL (RFC 9077: min of the SOA's TTL and minimum). */
static int
sign_setup(struct signer *sg)
{
	struct change *ch = sg->ch;
	int n = zkeys_load(sg->st, ch->z->id, sg->keys, ZKEYS_MAX);
	if (n < 0)
		return n;
	sg->nkeys = (size_t)n;
	bool usable = false;
	for (size_t i = 0; i < sg->nkeys; i++)
		usable |= sg->keys[i].active && sg->keys[i].key != NULL;
	if (!usable) {
		set_err(ch->err, ch->errcap, "zone '%s' is signed but has no active DNSSEC key that "
		        "opens with the --dnssec-key-file given", ch->z->text);
		return -EINVAL;
	}
	struct row *soa;
	size_t nsoa;
	int ret = rrset_enabled(sg, &ch->apex, DNS_T_SOA, &soa, &nsoa);
	if (ret != 0)
		return ret;
	struct dns_soa so;
	if (nsoa != 1 || dns_soa_parse(soa[0].rd, soa[0].rdlen, &so) != 0)
		return -EIO;
	sg->neg_ttl = so.minimum < soa[0].ttl ? so.minimum : soa[0].ttl;
	uint32_t now = (uint32_t)time(NULL);
	sg->inception = now - SIG_BACKDATE;
	sg->expiration = now + sg->st->sig_validity;
	sg->cx = dns_dnssec_ctx_new();
	return sg->cx == NULL ? -ENOMEM : 0;
}

int
sign_change(struct change *ch)
{
	struct signer sg = {.ch = ch, .st = ch->st, .nsec3 = ch->z->nsec3};
	sg.ctype = sg.nsec3 ? DNS_T_NSEC3 : DNS_T_NSEC;
	struct touched *user = ch->touched;
	int ret = sign_setup(&sg);
	if (ret == 0 && (ch->full || ch->keys))
		ret = apex_keys(&sg);
	if (ret == 0)
		ret = collect(&sg, user);
	for (struct sname *s = sg.list; s != NULL && ret == 0; s = s->next)
		ret = sign_name(&sg, s);
	for (struct cnode *c = sg.gone; c != NULL && ret == 0; c = c->next)
		ret = mend_prev(&sg, &c->k);
	for (struct cnode *c = sg.born; c != NULL && ret == 0; c = c->next)
		ret = mend_prev(&sg, &c->k);
	for (struct cnode *c = sg.clist; c != NULL && ret == 0; c = c->next)
		ret = mend(&sg, c);
	zkeys_free(sg.keys, sg.nkeys);
	dns_dnssec_ctx_free(sg.cx);
	if (ret == -EIO && ch->err[0] == '\0')
		set_err(ch->err, ch->errcap, "zone '%s': signing failed", ch->z->text);
	return ret;
}
