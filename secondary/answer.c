/*
 * Authoritative answers.  One pass: parse the query (header, question, OPT),
 * find the zone by longest match, resolve the name (closest encloser, cuts,
 * DNAME, wildcard, CNAME chain), and copy wire-ready rrsets from the zone
 * nodes into the response, patching owner pointers and compressing names
 * only in the rdata of types RFC 3597 §4 allows.
 *
 * Invariants: nothing here allocates, locks or logs; every write into `out`
 * is bounds-checked against the response limit minus the room kept for the
 * OPT record; names are compressed by dns/compress.h, the table of the
 * suffixes written so far being thread-local (cleared entry by entry at the
 * start of the next query, never allocated).  Names read from zone
 * data were validated when the version was built (zone_rdata_names).
 */
#include "secondary/answer.h"

#include <string.h>

#include "dns/compress.h"
#include "dns/dnssec.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/wire.h"
#include "secondary/zdb.h"
#include "secondary/zone_impl.h"

#define PKT_SLOTS 1024     /* compression table: a power of two */
#define PKT_SUFFIXES 512   /* name suffixes remembered per response */
#define MAX_CHAIN 16
#define MAX_TARGETS 32
#define MAX_PROOFS 16

enum { RC_NOERROR = 0, RC_FORMERR = 1, RC_SERVFAIL = 2, RC_NXDOMAIN = 3, RC_NOTIMP = 4,
       RC_REFUSED = 5, RC_YXDOMAIN = 6, RC_NOTAUTH = 9, RC_BADVERS = 16 };

enum { EDNS_NSID = 3 };

/* Flags in the second header word. */
#define F_QR 0x8000u
#define F_AA 0x0400u
#define F_TC 0x0200u
#define F_RD 0x0100u
#define F_CD 0x0010u

struct pkt {
	uint8_t *buf;
	size_t len;
	size_t limit;       /* response size limit minus the OPT reserve */
	struct dns_compress *cz;
	uint16_t count[3];  /* answer, authority, additional */
	bool tc;
};

/* A name written in rdata that may need additional records (NS, MX, SRV). */
struct target {
	const uint8_t *name;   /* uncompressed wire, in zone data */
	uint16_t off;          /* where it sits in the packet */
};

struct ctx {
	const struct zone *z;
	struct pkt *p;
	const struct answer_opts *o;
	uint16_t qtype;
	size_t qname_len;
	unsigned qname_labels;
	bool aa;
	uint8_t rcode;
	uint8_t cls;                /* enum answer_class, from the first resolution step */
	unsigned cls_labels;        /* labels of the class's name (a suffix of the qname) */
	struct target tg[MAX_TARGETS];
	unsigned ntg;
	bool dnssec;                /* DO=1 and the zone is signed (its apex has an RRSIG) */
	bool nsec;                  /* ... and denies with NSEC */
	bool nsec3;                 /* ... or with NSEC3, these parameters: */
	uint8_t saltlen;
	uint16_t iterations;
	const uint8_t *salt;        /* in the apex NSEC3PARAM */
	const struct znode *pf[MAX_PROOFS];   /* NSEC nodes for the authority section */
	unsigned npf;
	bool pf_done;               /* the proofs are written */
};

/* Offset of the label `skip` labels into the packet name at `off`. */
static size_t
pkt_skip_labels(const uint8_t *buf, size_t off, unsigned skip)
{
	for (;;) {
		uint8_t l = buf[off];
		if ((l & 0xc0) == 0xc0) {
			off = ((size_t)(l & 0x3f) << 8) | buf[off + 1];
			continue;
		}
		if (skip == 0 || l == 0)
			return off;
		off += (size_t)l + 1;
		skip--;
	}
}

/*
 * Writes `name` compressed against the names already in the packet.
 * Returns the offset other pointers may use for it, or -1 when it does not fit.
 */
static ssize_t
put_name(struct pkt *p, const uint8_t *name, bool compress)
{
	ssize_t r = dns_compress_put(p->cz, p->buf, &p->len, p->limit, name, compress);
	return r < 0 ? -1 : r;
}

/* The owner as a pointer to `off`, or written out when `off` cannot be pointed at. */
static bool
put_owner(struct pkt *p, size_t off, const uint8_t *name)
{
	if (off < 0x4000) {
		if (p->len + 2 > p->limit)
			return false;
		wr_u16(p->buf + p->len, (uint16_t)(0xc000 | off));
		p->len += 2;
		return true;
	}
	return put_name(p, name, true) >= 0;
}

static bool
type_compresses(uint16_t t)
{
	switch (t) {
	case DNS_T_NS: case DNS_T_CNAME: case DNS_T_PTR: case DNS_T_MX: case DNS_T_SOA:
	case 3: case 4: case 7: case 8: case 9: case 14:
		return true;
	default:
		return false;
	}
}

static bool
type_has_targets(uint16_t t)
{
	return t == DNS_T_NS || t == DNS_T_MX || t == DNS_T_SRV || t == DNS_T_SVCB ||
	       t == DNS_T_HTTPS;
}

static void
add_target(struct ctx *c, const uint8_t *name, size_t off)
{
	if (c->ntg < MAX_TARGETS && off < 0x4000) {
		c->tg[c->ntg].name = name;
		c->tg[c->ntg].off = (uint16_t)off;
		c->ntg++;
	}
}

/*
 * Writes rrset `rs` of node `n` into section `sec` with its owner at packet
 * offset `owner_off` (wire name `owner` for when it cannot be pointed at).
 * `ttl` != UINT32_MAX overrides the TTL.  `name_off`, when not NULL, gets
 * the packet offset of the first rdata name (CNAME targets).  All or
 * nothing: returns false, with the packet unchanged, when it does not fit.
 */
static bool
put_rrset(struct ctx *c, const struct znode *n, const struct zrrset *rs, size_t owner_off,
          const uint8_t *owner, int sec, uint32_t ttl, size_t *name_off)
{
	struct pkt *p = c->p;
	size_t save_len = p->len;
	unsigned save_names = dns_compress_mark(p->cz), save_tg = c->ntg;
	const uint8_t *d = zrrset_data(n, rs);
	bool targets = sec != 2 && type_has_targets(rs->type);
	if (!type_compresses(rs->type) && !targets && owner_off < 0x4000 &&
	    owner_off == 12 && ttl == UINT32_MAX) {
		/* Fast path: the stored bytes are the wire bytes. */
		if (p->len + rs->len > p->limit)
			return false;
		memcpy(p->buf + p->len, d, rs->len);
		p->len += rs->len;
		p->count[sec] += rs->count;
		return true;
	}
	for (unsigned i = 0; i < rs->count; i++) {
		size_t rdlen = rd_u16(d + 10);
		const uint8_t *rd = d + ZRR_HDR;
		if (!put_owner(p, owner_off, owner) || p->len + 10 > p->limit)
			goto undo;
		memcpy(p->buf + p->len, d + 2, 8);
		if (ttl != UINT32_MAX)
			wr_u32(p->buf + p->len + 4, ttl);
		size_t rdlen_at = p->len + 8;
		p->len += 10;
		size_t rd_start = p->len;
		uint16_t offs[2];
		bool comp[2];
		int nn = zone_rdata_names(rs->type, rd, rdlen, offs, comp);
		size_t at = 0;
		for (int k = 0; k < nn; k++) {
			size_t pre = offs[k] - at;
			if (p->len + pre > p->limit)
				goto undo;
			memcpy(p->buf + p->len, rd + at, pre);
			p->len += pre;
			const uint8_t *nm = rd + offs[k];
			ssize_t w = put_name(p, nm, comp[k]);
			if (w < 0)
				goto undo;
			if (k == 0 && name_off != NULL && i == 0)
				*name_off = (size_t)w;
			if (k == 0 && targets && nm[0] != 0)
				add_target(c, nm, (size_t)w);
			at = offs[k] + dns_name_len(nm);
		}
		if (p->len + (rdlen - at) > p->limit)
			goto undo;
		memcpy(p->buf + p->len, rd + at, rdlen - at);
		p->len += rdlen - at;
		wr_u16(p->buf + rdlen_at, (uint16_t)(p->len - rd_start));
		d += ZRR_HDR + rdlen;
	}
	p->count[sec] += rs->count;
	return true;
undo:
	p->len = save_len;
	dns_compress_forget(p->cz, save_names);
	c->ntg = save_tg;
	return false;
}

/* An undo point of the response. */
struct mark {
	size_t len;
	unsigned names, ntg;
	uint16_t count[3];
};

static void
mark_save(const struct ctx *c, struct mark *m)
{
	m->len = c->p->len;
	m->names = dns_compress_mark(c->p->cz);
	m->ntg = c->ntg;
	memcpy(m->count, c->p->count, sizeof(m->count));
}

static void
mark_restore(struct ctx *c, const struct mark *m)
{
	c->p->len = m->len;
	dns_compress_forget(c->p->cz, m->names);
	c->ntg = m->ntg;
	memcpy(c->p->count, m->count, sizeof(m->count));
}

/*
 * Rrset `rs` and, with DNSSEC, the RRSIGs covering it (same owner, section
 * and TTL override), all or nothing.
 */
static bool
put_signed(struct ctx *c, const struct znode *n, const struct zrrset *rs, size_t owner_off,
           const uint8_t *owner, int sec, uint32_t ttl, size_t *name_off)
{
	struct mark m;
	mark_save(c, &m);
	if (!put_rrset(c, n, rs, owner_off, owner, sec, ttl, name_off))
		return false;
	const struct zrrset *sig = c->dnssec ? znode_sig(n, rs->type) : NULL;
	if (sig != NULL && !put_rrset(c, n, sig, owner_off, owner, sec, ttl, NULL)) {
		mark_restore(c, &m);
		return false;
	}
	return true;
}

/*
 * Answer/authority data that must fit, signatures and proofs included
 * (RFC 4035 §3.1.1): on failure sets TC.
 */
static bool
put_required(struct ctx *c, const struct znode *n, const struct zrrset *rs, size_t owner_off,
             const uint8_t *owner, int sec, uint32_t ttl, size_t *name_off)
{
	if (c->p->tc)
		return false;
	if (!put_signed(c, n, rs, owner_off, owner, sec, ttl, name_off)) {
		c->p->tc = true;
		return false;
	}
	return true;
}

/* Lists the NSEC of node `n` for the authority section (once). */
static void
add_proof(struct ctx *c, const struct znode *n)
{
	if (n == NULL)
		return;
	for (unsigned i = 0; i < c->npf; i++) {
		if (c->pf[i] == n)
			return;
	}
	if (c->npf < MAX_PROOFS)
		c->pf[c->npf++] = n;
	else
		c->p->tc = true;   /* cannot happen: at most two proofs per chain step */
}

/*
 * The node whose NSEC covers lookup key `key` (RFC 4034 §4.1.1: owner <= key
 * in canonical order, < when !or_equal), skipping empty non-terminals and
 * glue, which have no NSEC.  The apex has one in an NSEC zone, so this ends.
 */
static const struct znode *
nsec_covering(const struct ctx *c, const uint8_t *key, size_t kl, bool or_equal)
{
	const struct znode *n = trie_get_prev(&c->z->trie, key, kl, or_equal);
	while (n != NULL && znode_rrset(n, DNS_T_NSEC) == NULL) {
		const struct trie_key *k = znode_key(n);
		n = trie_get_prev(&c->z->trie, k->b, k->len, false);
	}
	return n;
}

/* Writes the listed NSEC records with their RRSIGs into the authority section. */
static void
put_proofs(struct ctx *c)
{
	if (c->pf_done)
		return;
	c->pf_done = true;
	for (unsigned i = 0; i < c->npf; i++) {
		const struct znode *n = c->pf[i];
		const struct zrrset *rs = znode_rrset(n, DNS_T_NSEC);
		if (rs == NULL)
			rs = znode_rrset(n, DNS_T_NSEC3);
		uint8_t owner[DNS_NAME_MAX];
		const struct trie_key *k = znode_key(n);
		if (rs == NULL || dns_name_from_lookup(k->b, k->len, owner) < 0)
			continue;
		if (!put_required(c, n, rs, SIZE_MAX, owner, 1, UINT32_MAX, NULL))
			return;
	}
}

/* Negative answer: the apex SOA in authority at min(SOA TTL, MINIMUM). */
static void
put_soa(struct ctx *c)
{
	const struct zone *z = c->z;
	const struct zrrset *rs = znode_rrset(z->apex_node, DNS_T_SOA);
	uint32_t ttl = z->soa.ttl < z->soa.minimum ? z->soa.ttl : z->soa.minimum;
	size_t off = pkt_skip_labels(c->p->buf, 12, c->qname_labels - z->apex_labels);
	put_required(c, z->apex_node, rs, off, z->apex, 1, ttl, NULL);
}

/*
 * A and AAAA for the names collected from NS/MX/SRV/SVCB rdata, as space
 * allows: an rrset that does not fit is skipped and the next one tried (as
 * knotd does).  Skipping glue of the referral being given (addresses of
 * names at or below `cut`, NULL outside referrals) sets TC, since without
 * it the referral cannot be followed (RFC 9471).
 */
static void
put_additional(struct ctx *c, const uint8_t *cut)
{
	put_proofs(c);
	const struct znode *done[MAX_TARGETS];
	unsigned ndone = 0;
	/* Written rrsets whose signatures follow them all, as space allows (as knotd orders them). */
	struct {
		const struct znode *n;
		uint16_t type, off;
		const uint8_t *name;
	} sigs[2 * MAX_TARGETS];
	unsigned nsigs = 0;
	for (unsigned i = 0; i < c->ntg; i++) {
		uint8_t key[DNS_LOOKUP_MAX];
		const uint8_t *nm = c->tg[i].name;
		if (!dns_name_is_sub(nm, c->z->apex))
			continue;
		size_t kl = dns_name_to_lookup(nm, key);
		const struct znode *n = zone_node(c->z, key, kl);
		if (n == NULL || n->nrr == 0)
			continue;
		bool seen = false;
		for (unsigned j = 0; j < ndone; j++)
			seen = seen || done[j] == n;
		if (seen)
			continue;
		done[ndone++] = n;
		static const uint16_t types[2] = {DNS_T_A, DNS_T_AAAA};
		for (int t = 0; t < 2; t++) {
			const struct zrrset *rs = znode_rrset(n, types[t]);
			if (rs == NULL)
				continue;
			if (!put_rrset(c, n, rs, c->tg[i].off, nm, 2, UINT32_MAX, NULL)) {
				if (cut != NULL && dns_name_is_sub(nm, cut))
					c->p->tc = true;
				continue;
			}
			if (c->dnssec && nsigs < 2 * MAX_TARGETS) {
				sigs[nsigs].n = n;
				sigs[nsigs].type = types[t];
				sigs[nsigs].off = c->tg[i].off;
				sigs[nsigs].name = nm;
				nsigs++;
			}
		}
	}
	/* Their signatures when they fit: optional here, no TC (RFC 4035 §3.1.1). */
	for (unsigned i = 0; i < nsigs; i++) {
		const struct zrrset *sig = znode_sig(sigs[i].n, sigs[i].type);
		if (sig != NULL)
			put_rrset(c, sigs[i].n, sig, sigs[i].off, sigs[i].name, 2, UINT32_MAX, NULL);
	}
}

/* Lookup key of `name` with the key length of each ancestor: b[i] for i labels. */
static unsigned
name_key(const uint8_t *name, uint8_t *key, size_t *b)
{
	size_t len = dns_name_to_lookup(name, key);
	unsigned n = 0;
	b[n++] = 0;
	for (size_t i = 0; i < len; i++) {
		if (key[i] == 1)
			i++;
		else if (key[i] == 0)
			b[n++] = i + 1;
	}
	return n - 1;
}

enum res { R_EXACT, R_DELEG, R_DNAME, R_WILD, R_NX };

struct lookup {
	enum res kind;
	const struct znode *node;   /* exact/wildcard data node, cut or DNAME node */
	unsigned labels;            /* labels of the cut/DNAME/closest encloser */
};

static void
resolve(const struct ctx *c, const uint8_t *sname, struct lookup *r)
{
	const struct zone *z = c->z;
	uint8_t key[DNS_LOOKUP_MAX + 2];
	size_t b[DNS_NAME_MAX / 2 + 2];
	unsigned L = name_key(sname, key, b), A = z->apex_labels;
	const struct znode *ce = z->apex_node;
	unsigned ce_labels = A;
	if (z->ncuts > 0) {
		for (unsigned i = A; i <= L; i++) {
			const struct znode *n = i == A ? z->apex_node : zone_node(z, key, b[i]);
			if (n == NULL)
				break;
			ce = n;
			ce_labels = i;
			if ((n->flags & ZN_NS) && i > A && (i < L || c->qtype != DNS_T_DS)) {
				r->kind = R_DELEG;
				r->node = n;
				r->labels = i;
				return;
			}
			if ((n->flags & ZN_DNAME) && i < L) {
				r->kind = R_DNAME;
				r->node = n;
				r->labels = i;
				return;
			}
		}
		if (ce_labels == L) {
			r->kind = R_EXACT;
			r->node = ce;
			r->labels = L;
			return;
		}
	} else {
		/* Exact match, else the deepest existing ancestor (all exist as nodes). */
		const struct znode *n = zone_node(z, key, b[L]);
		if (n != NULL) {
			r->kind = R_EXACT;
			r->node = n;
			r->labels = L;
			return;
		}
		for (unsigned i = L; i-- > A + 1;) {
			n = zone_node(z, key, b[i]);
			if (n != NULL) {
				ce = n;
				ce_labels = i;
				break;
			}
		}
	}
	/* Wildcard at the closest encloser (RFC 4592 §3.3.1). */
	size_t wl = b[ce_labels];
	const struct znode *w = NULL;
	if (z->nwild > 0) {
		key[wl] = '*';
		key[wl + 1] = 0;
		w = zone_node(z, key, wl + 2);
	}
	r->labels = ce_labels;
	if (w != NULL) {
		r->kind = R_WILD;
		r->node = w;
	} else {
		r->kind = R_NX;
		r->node = ce;
	}
}

/* Synthesizes the CNAME target of a DNAME (RFC 6672 §2.2); returns its length or -1. */
static int
dname_target(const uint8_t *sname, unsigned skip_labels, const uint8_t *target, uint8_t *out)
{
	size_t pre = 0;
	const uint8_t *s = sname;
	for (unsigned i = 0; i < skip_labels; i++)
		s += *s + 1;
	pre = (size_t)(s - sname);
	size_t tl = dns_name_len(target);
	if (pre + tl > DNS_NAME_MAX)
		return -1;
	memcpy(out, sname, pre);
	memcpy(out + pre, target, tl);
	return (int)(pre + tl);
}

/* Writes a synthesized CNAME `owner_off` -> `target`; returns the target's offset or -1. */
static ssize_t
put_synth_cname(struct ctx *c, size_t owner_off, const uint8_t *owner, uint32_t ttl,
                const uint8_t *target)
{
	struct pkt *p = c->p;
	size_t save = p->len;
	unsigned save_names = dns_compress_mark(p->cz);
	if (p->tc)
		return -1;
	if (!put_owner(p, owner_off, owner) || p->len + 10 > p->limit)
		goto undo;
	wr_u16(p->buf + p->len, DNS_T_CNAME);
	wr_u16(p->buf + p->len + 2, DNS_C_IN);
	wr_u32(p->buf + p->len + 4, ttl);
	size_t rdl = p->len + 8;
	p->len += 10;
	ssize_t w = put_name(p, target, true);
	if (w < 0)
		goto undo;
	wr_u16(p->buf + rdl, (uint16_t)(p->len - rdl - 2));
	p->count[0]++;
	return w;
undo:
	p->len = save;
	dns_compress_forget(p->cz, save_names);
	p->tc = true;
	return -1;
}

/* The suffix of `name` (of `labels` labels) with `keep` labels. */
static const uint8_t *
name_suffix(const uint8_t *name, unsigned labels, unsigned keep)
{
	for (unsigned i = keep; i < labels; i++)
		name += *name + 1;
	return name;
}

/* Lookup key of the NSEC3 owner hashing `name`; 0 when it cannot be made. */
static size_t
n3_key(const struct ctx *c, const uint8_t *name, uint8_t *key)
{
	uint8_t owner[DNS_NAME_MAX];
	if (dns_dnssec_nsec3_owner(name, c->z->apex, c->salt, c->saltlen, c->iterations,
	                           owner) < 0)
		return 0;
	return dns_name_to_lookup(owner, key);
}

/* The NSEC3 matching `name` (RFC 5155 §7.2.1). */
static void
n3_match(struct ctx *c, const uint8_t *name)
{
	uint8_t key[DNS_LOOKUP_MAX + 1];
	size_t kl = n3_key(c, name, key);
	if (kl > 0)
		add_proof(c, trie_get(&c->z->n3, key, kl));
}

/* The NSEC3 covering the hash of `name`: the previous owner, or the last (the chain wraps). */
static void
n3_cover(struct ctx *c, const uint8_t *name)
{
	uint8_t key[DNS_LOOKUP_MAX + 1];
	size_t kl = n3_key(c, name, key);
	if (kl == 0)
		return;
	const struct znode *n = trie_get_prev(&c->z->n3, key, kl, false);
	if (n == NULL) {
		key[c->z->apex_keylen] = 0xff;
		n = trie_get_prev(&c->z->n3, key, c->z->apex_keylen + 1u, true);
	}
	add_proof(c, n);
}

/* `*.` + the suffix of `sname` with `labels` labels, into `out`. */
static const uint8_t *
wild_name(const uint8_t *sname, unsigned sl, unsigned labels, uint8_t *out)
{
	const uint8_t *ce = name_suffix(sname, sl, labels);
	out[0] = 1;
	out[1] = '*';
	memcpy(out + 2, ce, dns_name_len(ce));
	return out;
}

/*
 * NXDOMAIN: `sname` does not exist and its closest encloser has `ce_labels`
 * labels.  NSEC (RFC 4035 §3.1.3.2): the NSEC covering it and the one
 * covering the wildcard at the closest encloser.  NSEC3 (RFC 5155 §7.2.2):
 * the closest encloser proof (matching the closest encloser, covering the
 * next closer name) and the NSEC3 covering the wildcard.
 */
static void
deny_name(struct ctx *c, const uint8_t *sname, unsigned ce_labels)
{
	uint8_t key[DNS_LOOKUP_MAX + 2];
	size_t b[DNS_NAME_MAX / 2 + 2];
	uint8_t wild[DNS_NAME_MAX + 2];
	if (c->nsec) {
		unsigned L = name_key(sname, key, b);
		add_proof(c, nsec_covering(c, key, b[L], true));
		size_t wl = b[ce_labels];
		key[wl] = '*';
		key[wl + 1] = 0;
		add_proof(c, nsec_covering(c, key, wl + 2, true));
	} else if (c->nsec3) {
		unsigned sl = dns_name_labels(sname);
		n3_match(c, name_suffix(sname, sl, ce_labels));
		n3_cover(c, name_suffix(sname, sl, ce_labels + 1));
		n3_cover(c, wild_name(sname, sl, ce_labels, wild));
	}
}

/*
 * An answer expanded from the wildcard at the closest encloser (of
 * `ce_labels` labels) proves `sname` itself does not exist: the NSEC
 * covering it (RFC 4035 §3.1.3.3), the NSEC3 covering the next closer name
 * (RFC 5155 §7.2.6).
 */
static void
deny_exact(struct ctx *c, const uint8_t *sname, unsigned ce_labels)
{
	uint8_t key[DNS_LOOKUP_MAX + 2];
	size_t b[DNS_NAME_MAX / 2 + 2];
	if (c->nsec) {
		unsigned L = name_key(sname, key, b);
		add_proof(c, nsec_covering(c, key, b[L], true));
	} else if (c->nsec3) {
		n3_cover(c, name_suffix(sname, dns_name_labels(sname), ce_labels + 1));
	}
}

/*
 * NODATA at existing node `n` (RFC 4035 §3.1.3.1, RFC 5155 §7.2.3/§7.2.4):
 * its NSEC or NSEC3; for an empty non-terminal the NSEC covering it.  From
 * a wildcard (`wild_sname` not NULL, closest encloser of `ce_labels`), the
 * NSEC3 proof also matches the closest encloser (RFC 5155 §7.2.5); the
 * covering part comes from deny_exact.  Also the proof of no DS at a
 * delegation (RFC 4035 §3.1.4, RFC 5155 §7.2.7).
 */
static void
deny_type(struct ctx *c, const struct znode *n, const uint8_t *wild_sname, unsigned ce_labels)
{
	const struct trie_key *k = znode_key(n);
	if (c->nsec) {
		if (znode_rrset(n, DNS_T_NSEC) != NULL)
			add_proof(c, n);
		else
			add_proof(c, nsec_covering(c, k->b, k->len, false));
	} else if (c->nsec3) {
		uint8_t name[DNS_NAME_MAX];
		if (dns_name_from_lookup(k->b, k->len, name) < 0)
			return;
		n3_match(c, name);
		if (wild_sname != NULL)
			n3_match(c, name_suffix(wild_sname, dns_name_labels(wild_sname), ce_labels));
	}
}

/* Every RRSIG rrset of `n` (one per covered type), for a query of type RRSIG. */
static void
answer_rrsig(struct ctx *c, const struct znode *n, size_t sname_off, const uint8_t *sname)
{
	for (unsigned i = 0; i < n->nrr; i++) {
		if (n->rr[i].type == DNS_T_RRSIG &&
		    !put_required(c, n, &n->rr[i], sname_off, sname, 0, UINT32_MAX, NULL))
			return;
	}
}

/*
 * RFC 8482 §4.2: one rrset (the first by type other than RRSIG and NSEC, as
 * knotd does), with its signatures and additionals.
 */
static void
answer_any(struct ctx *c, const struct znode *n, size_t sname_off, const uint8_t *sname)
{
	const struct zrrset *rs = &n->rr[0];
	for (unsigned i = 0; i < n->nrr; i++) {
		if (n->rr[i].type != DNS_T_RRSIG && n->rr[i].type != DNS_T_NSEC) {
			rs = &n->rr[i];
			break;
		}
	}
	if (put_required(c, n, rs, sname_off, sname, 0, UINT32_MAX, NULL))
		put_additional(c, NULL);
}

/* The RRL class of the first resolution step `r` of a qname of `sl` labels. */
static void
classify(struct ctx *c, const struct lookup *r, unsigned sl)
{
	const struct znode *n = r->node;
	c->cls_labels = sl;
	switch (r->kind) {
	case R_DELEG:
		c->cls = ANSWER_CLS_REFERRAL;
		c->cls_labels = r->labels;
		return;
	case R_NX:
		c->cls = ANSWER_CLS_NXDOMAIN;
		c->cls_labels = c->z->apex_labels;
		return;
	case R_WILD:
		c->cls = ANSWER_CLS_WILDCARD;
		c->cls_labels = r->labels;
		return;
	case R_DNAME:
		c->cls = ANSWER_CLS_ANSWER;
		return;
	case R_EXACT:
		break;
	}
	bool data = c->qtype == DNS_T_ANY ? n->nrr > 0 :
	            znode_rrset(n, c->qtype) != NULL || (n->flags & ZN_CNAME);
	c->cls = data ? ANSWER_CLS_ANSWER : ANSWER_CLS_NODATA;
}

static void
solve(struct ctx *c, const uint8_t *qname)
{
	const uint8_t *sname = qname;
	uint8_t synth[2][DNS_NAME_MAX];
	size_t sname_off = 12;
	const struct znode *visited[MAX_CHAIN] = {0};
	for (unsigned chain = 0; chain < MAX_CHAIN; chain++) {
		struct lookup r;
		resolve(c, sname, &r);
		const struct znode *n = r.node;
		unsigned sl = dns_name_labels(sname);
		for (unsigned i = 0; i < chain; i++) {
			if (visited[i] == n && (r.kind == R_EXACT || r.kind == R_WILD))
				return;   /* CNAME loop: stop with what is written */
		}
		visited[chain] = n;
		if (chain == 0)
			classify(c, &r, sl);
		switch (r.kind) {
		case R_DELEG: {
			size_t off = pkt_skip_labels(c->p->buf, sname_off, sl - r.labels);
			const uint8_t *owner = sname;
			for (unsigned i = 0; i < sl - r.labels; i++)
				owner += *owner + 1;
			if (chain == 0)
				c->aa = false;
			if (!put_required(c, n, znode_rrset(n, DNS_T_NS), off, owner, 1, UINT32_MAX, NULL))
				return;
			/* RFC 4035 §3.1.4: the DS with its RRSIG, or the proof there is none. */
			const struct zrrset *ds = c->dnssec ? znode_rrset(n, DNS_T_DS) : NULL;
			if (ds != NULL && !put_required(c, n, ds, off, owner, 1, UINT32_MAX, NULL))
				return;
			if (ds == NULL && c->dnssec)
				deny_type(c, n, NULL, 0);
			put_additional(c, owner);
			return;
		}
		case R_DNAME: {
			const struct zrrset *rs = znode_rrset(n, DNS_T_DNAME);
			size_t off = pkt_skip_labels(c->p->buf, sname_off, sl - r.labels);
			const uint8_t *owner = sname;
			for (unsigned i = 0; i < sl - r.labels; i++)
				owner += *owner + 1;
			if (!put_required(c, n, rs, off, owner, 0, UINT32_MAX, NULL))
				return;
			uint8_t *t = synth[chain & 1];
			if (dname_target(sname, sl - r.labels, zrrset_data(n, rs) + ZRR_HDR, t) < 0) {
				c->rcode = RC_YXDOMAIN;
				return;
			}
			ssize_t w = put_synth_cname(c, sname_off, sname, rs->ttl, t);
			/* A CNAME query is answered by the synthesized CNAME itself. */
			if (w < 0 || c->qtype == DNS_T_CNAME || !dns_name_is_sub(t, c->z->apex))
				return;
			sname = t;
			sname_off = (size_t)w;
			continue;
		}
		case R_NX:
			c->rcode = RC_NXDOMAIN;
			put_soa(c);
			if (c->dnssec)
				deny_name(c, sname, r.labels);
			return;
		case R_EXACT:
		case R_WILD:
			break;
		}
		/* A wildcard answer proves the qname itself does not exist (RFC 4035 §3.1.3.3). */
		const uint8_t *wild = r.kind == R_WILD ? sname : NULL;
		if (wild != NULL && c->dnssec)
			deny_exact(c, sname, r.labels);
		if (c->qtype == DNS_T_ANY) {
			if (n->nrr == 0) {
				put_soa(c);
				if (c->dnssec)
					deny_type(c, n, wild, r.labels);
			} else {
				answer_any(c, n, sname_off, sname);
			}
			return;
		}
		const struct zrrset *rs = znode_rrset(n, c->qtype);
		if (rs != NULL) {
			if (c->qtype == DNS_T_RRSIG)
				answer_rrsig(c, n, sname_off, sname);
			else if (put_required(c, n, rs, sname_off, sname, 0, UINT32_MAX, NULL))
				put_additional(c, NULL);
			return;
		}
		/* NSEC is never chased through a CNAME (it would describe another name). */
		const struct zrrset *cn = (n->flags & ZN_CNAME) && c->qtype != DNS_T_NSEC ?
		                          znode_rrset(n, DNS_T_CNAME) : NULL;
		if (cn == NULL) {
			put_soa(c);
			if (c->dnssec)
				deny_type(c, n, wild, r.labels);
			return;
		}
		size_t toff = 0;
		if (!put_required(c, n, cn, sname_off, sname, 0, UINT32_MAX, &toff))
			return;
		const uint8_t *target = zrrset_data(n, cn) + ZRR_HDR;
		if (!dns_name_is_sub(target, c->z->apex))
			return;
		sname = target;
		sname_off = toff;
	}
}

/* CH TXT id.server / hostname.bind / version.bind / version.server. */
static void
solve_chaos(struct ctx *c, const uint8_t *qname)
{
	static const uint8_t id_server[] = "\2id\6server";
	static const uint8_t hostname_bind[] = "\10hostname\4bind";
	static const uint8_t version_bind[] = "\7version\4bind";
	static const uint8_t version_server[] = "\7version\6server";
	const char *text = NULL;
	if (dns_name_equal(qname, id_server) || dns_name_equal(qname, hostname_bind))
		text = c->o->identity;
	else if (dns_name_equal(qname, version_bind) || dns_name_equal(qname, version_server))
		text = c->o->version;
	else {
		c->rcode = RC_REFUSED;
		return;
	}
	if (text == NULL) {
		c->rcode = RC_REFUSED;
		return;
	}
	/* knotd answers only TXT here, without AA; other types are REFUSED. */
	if (c->qtype != DNS_T_TXT) {
		c->rcode = RC_REFUSED;
		return;
	}
	size_t tl = strlen(text);
	if (tl > 255)
		tl = 255;
	struct pkt *p = c->p;
	if (p->len + 2 + 10 + 1 + tl > p->limit) {
		p->tc = true;
		return;
	}
	uint8_t *w = p->buf + p->len;
	wr_u16(w, 0xc00c);
	wr_u16(w + 2, DNS_T_TXT);
	wr_u16(w + 4, DNS_C_CH);
	wr_u32(w + 6, 0);
	wr_u16(w + 10, (uint16_t)(tl + 1));
	w[12] = (uint8_t)tl;
	memcpy(w + 13, text, tl);
	p->len += 13 + tl;
	p->count[0]++;
}

int
answer_peek_opcode(const uint8_t *q, size_t qlen)
{
	if (qlen < 12 || (q[2] & 0x80))
		return -1;
	return (q[2] >> 3) & 0xf;
}

/* What answer_build read from the query. */
struct query {
	uint16_t id, flags;
	uint16_t qd, an, ns, ar;
	size_t qend;          /* end of the question (12: none echoed) */
	int qnl;              /* qname length, -1 without a question */
	uint16_t qclass;
	bool edns, nsid, do_bit;
	uint16_t req_size;    /* requester's EDNS size, at least 512 */
	size_t idl;           /* NSID bytes we send (0: none) */
};

/* Reads the header and every question; false: drop the packet (as knotd). */
static bool
read_question(const uint8_t *q, size_t qlen, struct query *qq, struct ctx *c)
{
	qq->id = rd_u16(q);
	qq->flags = rd_u16(q + 2);
	qq->qd = rd_u16(q + 4);
	qq->an = rd_u16(q + 6);
	qq->ns = rd_u16(q + 8);
	qq->ar = rd_u16(q + 10);
	qq->qend = 12;
	qq->qnl = -1;
	qq->req_size = 512;
	if (qq->qd == 0)
		return true;
	qq->qnl = dns_name_check(q + 12, qlen - 12);
	if (qq->qnl < 0 || qlen < 12 + (size_t)qq->qnl + 4)
		return false;
	qq->qend = 12 + (size_t)qq->qnl + 4;
	c->qtype = rd_u16(q + 12 + qq->qnl);
	qq->qclass = rd_u16(q + 12 + qq->qnl + 2);
	size_t pos = qq->qend;
	for (unsigned i = 1; i < qq->qd; i++) {
		int l = dns_name_check(q + pos, qlen - pos);
		if (l < 0 || qlen < pos + (size_t)l + 4)
			return false;
		pos += (size_t)l + 4;
	}
	return true;
}

/* The options of an OPT's rdata: NSID asked for?  Returns an rcode. */
static uint8_t
read_opt_options(const uint8_t *rd, uint16_t rdlen, struct query *qq)
{
	struct wire ow;
	wire_init(&ow, rd, rdlen);
	while (wire_left(&ow) > 0) {
		uint16_t code = wire_u16(&ow), olen = wire_u16(&ow);
		wire_skip(&ow, olen);
		if (ow.err)
			return RC_FORMERR;
		if (code == EDNS_NSID)
			qq->nsid = true;
	}
	return RC_NOERROR;
}

/* The additional section: at most one OPT (RFC 6891 §6.1.1).  Returns an rcode. */
static uint8_t
read_additional(const uint8_t *q, size_t qlen, struct query *qq)
{
	struct wire w;
	wire_init(&w, q, qlen);
	wire_seek(&w, qq->qend);
	for (unsigned i = 0; i < qq->ar; i++) {
		int nl = dns_name_check(q + w.pos, qlen - w.pos);
		if (nl < 0)
			return RC_FORMERR;
		wire_skip(&w, (size_t)nl);
		uint16_t type = wire_u16(&w), cls = wire_u16(&w);
		uint32_t ttl = wire_u32(&w);
		uint16_t rdlen = wire_u16(&w);
		const uint8_t *rd = wire_ptr(&w);
		wire_skip(&w, rdlen);
		if (w.err)
			return RC_FORMERR;
		if (type != DNS_T_OPT)
			continue;
		if (qq->edns || nl != 1)
			return RC_FORMERR;
		qq->edns = true;
		qq->req_size = cls < 512 ? 512 : cls;
		qq->do_bit = (ttl & 0x8000) != 0;
		if (((ttl >> 16) & 0xff) != 0)
			return RC_BADVERS;
		uint8_t rc = read_opt_options(rd, rdlen, qq);
		if (rc != RC_NOERROR)
			return rc;
	}
	return RC_NOERROR;
}

static uint16_t
our_payload(const struct answer_opts *o)
{
	return o->udp_payload ? o->udp_payload : ANSWER_UDP_PAYLOAD;
}

/*
 * The one response size limit: TCP 65535; UDP max(512, min(requester's EDNS
 * size, ours)), 512 without EDNS; never beyond `cap`.
 */
static size_t
payload_limit(const struct answer_opts *o, const struct query *qq, size_t cap)
{
	size_t lim;
	if (o->is_tcp)
		lim = 65535;
	else if (!qq->edns)
		lim = 512;
	else
		lim = qq->req_size < our_payload(o) ? qq->req_size : our_payload(o);
	if (lim < 512)
		lim = 512;
	return lim < cap ? lim : cap;
}

/* Bytes of the OPT record the response will end with (0 without EDNS). */
static size_t
opt_size(const struct query *qq)
{
	return qq->edns ? 11 + (qq->idl ? 4 + qq->idl : 0) : 0;
}

/* Echoes the question and sets the limit for the answer's records. */
static void
start_response(struct pkt *p, const uint8_t *q, const struct query *qq, size_t limit)
{
	p->limit = limit;
	memcpy(p->buf + 12, q + 12, qq->qend - 12);
	p->len = qq->qend;
	dns_compress_add(p->cz, p->buf, p->len, 12);
}

/*
 * The zone for `qname` (key `key` of `kl` bytes); DS at a zone's apex is
 * asked of a parent zone we serve (RFC 4035 §3.1.4.1).
 */
static bool
find_zone(struct zdb *db, const uint8_t *qname, uint16_t qtype, const uint8_t *key, size_t kl,
          struct zdb_view *v)
{
	if (!zdb_find(db, key, kl, v))
		return false;
	if (qtype == DNS_T_DS && dns_name_equal(qname, v->apex) && kl > 0) {
		struct zdb_view pv;
		size_t pl = 0;
		for (size_t i = 0; i + 1 < kl; i++) {
			if (key[i] == 1)
				i++;
			else if (key[i] == 0)
				pl = i + 1;
		}
		if (zdb_find(db, key, pl, &pv))
			*v = pv;
	}
	return true;
}

/* IN (or ANY) class: the zone's answer, REFUSED outside our zones. */
static void
answer_in(struct ctx *c, struct zdb *db, const uint8_t *q, const struct query *qq, size_t limit)
{
	const uint8_t *qname = q + 12;
	uint8_t key[DNS_LOOKUP_MAX];
	size_t kl = dns_name_to_lookup(qname, key);
	struct zdb_view v;
	if (!find_zone(db, qname, c->qtype, key, kl, &v)) {
		c->rcode = RC_REFUSED;
		return;
	}
	if (v.zone == NULL || v.expired) {
		c->rcode = RC_SERVFAIL;
		return;
	}
	start_response(c->p, q, qq, limit);
	c->z = v.zone;
	c->aa = true;
	c->qname_len = (size_t)qq->qnl;
	c->qname_labels = dns_name_labels(qname);
	c->dnssec = qq->do_bit && znode_sig(c->z->apex_node, DNS_T_SOA) != NULL;
	c->nsec = c->dnssec && znode_rrset(c->z->apex_node, DNS_T_NSEC) != NULL;
	const struct zrrset *n3p = c->dnssec && !c->nsec ?
	                           znode_rrset(c->z->apex_node, DNS_T_NSEC3PARAM) : NULL;
	if (n3p != NULL) {
		/* hash algorithm, flags, iterations, salt length, salt */
		const uint8_t *rd = zrrset_data(c->z->apex_node, n3p) + ZRR_HDR;
		uint16_t rdlen = rd_u16(rd - 2);
		if (rdlen >= 5 && rd[0] == 1 && rdlen >= 5u + rd[4]) {
			c->nsec3 = true;
			c->iterations = rd_u16(rd + 2);
			c->saltlen = rd[4];
			c->salt = rd + 5;
		}
	}
	solve(c, qname);
	put_proofs(c);
}

/* A query whose header, question and OPT were read: its answer or an error rcode. */
static void
answer_query(struct ctx *c, struct zdb *db, const uint8_t *q, const struct query *qq,
             size_t cap)
{
	const struct answer_opts *o = c->o;
	size_t limit = payload_limit(o, qq, cap) - opt_size(qq);
	if (c->qtype == DNS_T_AXFR && !o->is_tcp) {
		c->rcode = RC_NOTIMP;        /* RFC 5936 §4.2: AXFR is TCP only */
	} else if (c->qtype == DNS_T_AXFR || c->qtype == DNS_T_IXFR) {
		c->rcode = RC_REFUSED;       /* a secondary serves no transfers */
	} else if (c->qtype == 0) {
		c->rcode = RC_NOTIMP;        /* reserved type, as knotd */
	} else if (qq->qclass == DNS_C_CH) {
		start_response(c->p, q, qq, limit);
		solve_chaos(c, q + 12);
	} else if (qq->qclass != DNS_C_IN && qq->qclass != DNS_C_ANY) {
		c->rcode = RC_REFUSED;
	} else {
		answer_in(c, db, q, qq, limit);
	}
}

/* The header of the response; fills the flags of `st`. */
static void
put_header(const struct ctx *c, const struct query *qq, struct answer_stats *st)
{
	const struct pkt *p = c->p;
	uint16_t f = (uint16_t)(F_QR | (qq->flags & (0x7800 | F_RD | F_CD)));
	if (c->aa && c->rcode != RC_REFUSED && c->rcode != RC_SERVFAIL && c->rcode != RC_FORMERR &&
	    c->rcode != RC_NOTIMP && c->rcode != RC_BADVERS)
		f |= F_AA;
	if (p->tc)
		f |= F_TC;
	f |= c->rcode & 0xf;
	wr_u16(p->buf, qq->id);
	wr_u16(p->buf + 2, f);
	wr_u16(p->buf + 4, qq->qend > 12 ? 1 : 0);
	wr_u16(p->buf + 6, p->count[0]);
	wr_u16(p->buf + 8, p->count[1]);
	wr_u16(p->buf + 10, p->count[2]);
	st->aa = (f & F_AA) != 0;
	st->tc = p->tc;
}

/* Our OPT (with NSID when asked and we have an identity), when it fits in `cap`. */
static void
put_opt(const struct ctx *c, struct pkt *p, const struct query *qq, size_t cap,
        struct answer_stats *st)
{
	size_t need = opt_size(qq);
	if (p->len + need > cap)
		return;
	uint8_t *e = p->buf + p->len;
	e[0] = 0;
	wr_u16(e + 1, DNS_T_OPT);
	wr_u16(e + 3, our_payload(c->o));
	e[5] = (uint8_t)(c->rcode >> 4);
	e[6] = 0;
	e[7] = qq->do_bit ? 0x80 : 0;
	e[8] = 0;
	wr_u16(e + 9, (uint16_t)(qq->idl ? 4 + qq->idl : 0));
	if (qq->idl) {
		wr_u16(e + 11, EDNS_NSID);
		wr_u16(e + 13, (uint16_t)qq->idl);
		memcpy(e + 15, c->o->identity, qq->idl);
	}
	p->len += need;
	wr_u16(p->buf + 10, (uint16_t)(p->count[2] + 1));
	st->nsid = qq->idl > 0;
}

/* RRL class: errors are keyed by the zone (or the root), CH answers by the qname. */
static void
set_class(struct ctx *c, const struct query *qq, struct answer_stats *st)
{
	const uint8_t *out = c->p->buf;
	if (c->rcode != RC_NOERROR && c->rcode != RC_NXDOMAIN) {
		c->cls = ANSWER_CLS_ERROR;
		c->cls_labels = c->z != NULL ? c->z->apex_labels : 0;
	} else if (c->cls == 0) {
		c->cls = ANSWER_CLS_ANSWER;
		c->cls_labels = qq->qend > 12 ? dns_name_labels(out + 12) : 0;
	}
	st->cls = c->cls;
	if (qq->qend > 12) {
		unsigned ql = dns_name_labels(out + 12);
		unsigned keep = c->cls_labels < ql ? c->cls_labels : ql;
		st->cls_name = (uint16_t)pkt_skip_labels(out, 12, ql - keep);
	}
}

/* The rcode of a query that cannot be answered from its form alone, else NOERROR. */
static uint8_t
check_query(const uint8_t *q, size_t qlen, struct query *qq)
{
	unsigned op = (qq->flags >> 11) & 0xf;
	if (op == ANSWER_OP_UPDATE)
		return RC_NOTAUTH;   /* DNS UPDATE: the primary takes it, not a POP (README) */
	if (op != ANSWER_OP_QUERY)
		return RC_NOTIMP;
	if (qq->qd != 1 || qq->an != 0 || qq->ns != 0) {
		if (qq->qd != 1)
			qq->qend = 12;
		return RC_FORMERR;
	}
	return read_additional(q, qlen, qq);
}

ssize_t
answer_build(struct zdb *db, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap,
             const struct answer_opts *o, struct answer_stats *st)
{
	struct answer_stats dummy;
	if (st == NULL)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (qlen < 12 || cap < 512 || (q[2] & 0x80))
		return 0;
	static _Thread_local struct dns_cslot slot[PKT_SLOTS];
	static _Thread_local uint16_t used[PKT_SUFFIXES];
	static _Thread_local struct dns_compress cz;
	if (cz.slot == NULL)
		dns_compress_init(&cz, slot, PKT_SLOTS, used, PKT_SUFFIXES, true);
	else
		dns_compress_forget(&cz, 0);
	struct pkt p = {.buf = out, .len = 12, .limit = 512, .cz = &cz};
	struct ctx c = {.p = &p, .o = o, .rcode = RC_NOERROR};
	struct query qq = {0};
	if (!read_question(q, qlen, &qq, &c))
		return 0;
	st->qtype = c.qtype;
	c.rcode = check_query(q, qlen, &qq);
	if (qq.edns && qq.nsid && o->identity != NULL) {
		size_t idl = strlen(o->identity);
		qq.idl = idl > 255 ? 255 : idl;
	}
	if (c.rcode == RC_NOERROR)
		answer_query(&c, db, q, &qq, cap);
	if (p.len < qq.qend) {
		memcpy(out + 12, q + 12, qq.qend - 12);
		p.len = qq.qend;
	}
	put_header(&c, &qq, st);
	if (qq.edns && c.rcode != RC_FORMERR)
		put_opt(&c, &p, &qq, cap, st);
	st->edns = qq.edns;
	st->rcode = c.rcode;
	set_class(&c, &qq, st);
	return (ssize_t)p.len;
}
