/* primary/store_sign.c and store_dnssec.c: private keys sealed and opened,
 * and the NSEC / NSEC3 chains and signatures kept right, change after change,
 * by the incremental signer (checked against the chain computed from
 * scratch after every random change). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns/dnssec.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "primary/db.h"
#include "primary/dn_rows.h"
#include "primary/store_int.h"
#include "util/err.h"
#include "store_db.h"
#include "store_fx.h"

/* ---- sealing -------------------------------------------------------------------------- */

static void
test_seal_roundtrip_and_refusals(void **state)
{
	(void)state;
	uint8_t kek[32], other[32], raw[32], out[32], sealed[128];
	for (int i = 0; i < 32; i++) {
		kek[i] = (uint8_t)i;
		other[i] = (uint8_t)(i + 1);
		raw[i] = (uint8_t)(0xa0 ^ i);
	}
	const uint8_t ad[] = "dnskey-rdata";
	int n = dnssec_seal(kek, raw, 32, ad, sizeof(ad), sealed, sizeof(sealed));
	assert_int_equal(n, 60);
	assert_int_equal(dnssec_unseal(kek, sealed, (size_t)n, ad, sizeof(ad), out), 0);
	assert_memory_equal(out, raw, 32);
	/* the raw key is not in the seal */
	for (int i = 0; i + 8 <= n; i++)
		assert_memory_not_equal(sealed + i, raw, 8);
	/* another key file, another public key, a flipped bit, a cut seal: refused */
	assert_int_equal(dnssec_unseal(other, sealed, (size_t)n, ad, sizeof(ad), out), -EKEYREJECTED);
	assert_int_equal(dnssec_unseal(kek, sealed, (size_t)n, ad, sizeof(ad) - 1, out),
	                 -EKEYREJECTED);
	sealed[20] ^= 1;
	assert_int_equal(dnssec_unseal(kek, sealed, (size_t)n, ad, sizeof(ad), out), -EKEYREJECTED);
	sealed[20] ^= 1;
	assert_int_equal(dnssec_unseal(kek, sealed, (size_t)n - 1, ad, sizeof(ad), out),
	                 -EKEYREJECTED);
	/* two seals of one key differ (fresh nonce) */
	uint8_t again[128];
	assert_int_equal(dnssec_seal(kek, raw, 32, ad, sizeof(ad), again, sizeof(again)), 60);
	assert_memory_not_equal(again, sealed, 60);
	/* wrong sizes */
	assert_int_equal(dnssec_seal(kek, raw, 31, ad, sizeof(ad), again, sizeof(again)), -EINVAL);
	assert_int_equal(dnssec_seal(kek, raw, 32, ad, sizeof(ad), again, 59), -EINVAL);
}

/* ---- the chain ------------------------------------------------------------------------ */

static struct store_fx *
fx_open(bool nsec3, bool with_key)
{
	struct store_opts o = {.catalog = "cat.test.",
	                       .dnssec_secret = with_key ? "unit-test-secret" : NULL};
	struct store_fx *f = store_fx_open("signer", &o);
	struct store_zone_new zn = {.name = f->zone, .kind = "Native", .account = "",
	                            .dnssec = true, .nsec3 = nsec3};
	struct store_result res;
	char err[256];
	int ret = store_zone_create(f->st, &zn, NULL, 0, &res, err, sizeof(err));
	if (!with_key) {
		assert_int_equal(ret, -EPERM);
		assert_non_null(strstr(err, "--dnssec-key-file"));
		return f;
	}
	assert_int_equal(ret, 0);
	return f;
}

static int
patch(struct store_fx *f, bool del, const char *owner, const char *type, const char *content)
{
	uint8_t o[DNS_NAME_MAX], rd[512];
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, o) > 0);
	struct store_op op = {.kind = del ? STORE_OP_DELETE : STORE_OP_REPLACE, .owner = o,
	                      .ttl = 300, .has_ttl = true};
	assert_int_equal(dns_rrtype_from_text(type, strlen(type), &op.type), 0);
	snprintf(op.label, sizeof(op.label), "rrsets[0]");
	struct store_rec rec = {0};   /* content NULL: not TXT text */
	if (!del) {
		char msg[128];
		int rl = dns_rdata_from_str(op.type, content, strlen(content), dns_root_name, rd,
		                            sizeof(rd), msg, sizeof(msg));
		assert_true(rl >= 0);
		rec.rdata = rd;
		rec.rdlen = (uint16_t)rl;
		rec.disabled = false;
		op.recs = &rec;
		op.nrecs = 1;
	}
	struct store_result res;
	char err[256] = "";
	int ret = store_zone_patch(f->st, f->zone, NULL, NULL, &op, 1, &res, err, sizeof(err));
	if (ret != 0)
		print_error("patch %s %s: %d %s\n", owner, type, ret, err);
	return ret;
}

/* The zone as read back: every record, with its owner's lookup key. */
#define MAXR 2048
struct zrec {
	uint8_t owner[DNS_NAME_MAX];
	uint8_t key[DNS_LOOKUP_MAX];
	size_t klen;
	uint16_t type;
	uint32_t ttl;
	uint8_t rd[600];
	uint16_t rdlen;
};
struct zset {
	struct zrec r[MAXR];
	size_t n;
};

static int
zadd(void *ctx, const struct dns_rr *rr)
{
	struct zset *z = ctx;
	assert_true(z->n < MAXR);
	struct zrec *r = &z->r[z->n++];
	memcpy(r->owner, rr->owner, dns_name_len(rr->owner));
	dns_name_lower(r->owner);
	r->klen = dns_name_to_lookup(r->owner, r->key);
	r->type = rr->type;
	r->ttl = rr->ttl;
	assert_true(rr->rdlen <= sizeof(r->rd));
	memcpy(r->rd, rr->rdata, rr->rdlen);
	r->rdlen = rr->rdlen;
	return 0;
}

static int
key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c != 0 ? c : (al > bl) - (al < bl);
}

static bool
types_at(const struct zset *z, const uint8_t *name, uint16_t *types, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < z->n; i++) {
		uint16_t t = z->r[i].type;
		if (!dns_name_equal(z->r[i].owner, name) || t == DNS_T_RRSIG || t == DNS_T_NSEC ||
		    t == DNS_T_NSEC3)
			continue;
		bool seen = false;
		for (size_t j = 0; j < *n; j++)
			seen |= types[j] == t;
		if (!seen)
			types[(*n)++] = t;
	}
	return *n > 0;
}

/* Below a cut (NS at a proper ancestor under the apex) or a DNAME (at any proper ancestor). */
static bool
occluded(const struct zset *z, const uint8_t *apex, const uint8_t *name)
{
	uint16_t t[64];
	size_t n;
	for (const uint8_t *a = dns_name_parent(name); dns_name_is_sub(a, apex);
	     a = dns_name_parent(a)) {
		bool top = dns_name_equal(a, apex);
		types_at(z, a, t, &n);
		for (size_t i = 0; i < n; i++)
			if ((t[i] == DNS_T_NS && !top) || t[i] == DNS_T_DNAME)
				return true;
		if (top)
			break;
	}
	return false;
}

/* The chain members from scratch: names with data (NSEC3: and empty non-terminals). */
struct member {
	uint8_t name[DNS_NAME_MAX];
	uint8_t key[DNS_LOOKUP_MAX];   /* NSEC: lookup key; NSEC3: hashed owner's */
	size_t klen;
	uint16_t types[64];
	size_t ntypes;
};

static int
member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	return key_cmp(x->key, x->klen, y->key, y->klen);
}

static size_t
members(const struct zset *z, const uint8_t *apex, bool nsec3, struct member *m, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < z->n; i++) {
		/* every owner and (NSEC3) its ancestors below the apex */
		for (const uint8_t *a = z->r[i].owner; dns_name_is_sub(a, apex);
		     a = dns_name_parent(a)) {
			if (a != z->r[i].owner && !nsec3)
				break;
			uint16_t t[64];
			size_t nt;
			bool data = types_at(z, a, t, &nt);
			if ((!data && a == z->r[i].owner) || occluded(z, apex, a))
				break;
			bool dup = false;
			for (size_t j = 0; j < n; j++)
				dup |= dns_name_equal(m[j].name, a);
			if (!dup) {
				assert_true(n < max);
				memcpy(m[n].name, a, dns_name_len(a));
				memcpy(m[n].types, t, nt * sizeof(t[0]));
				m[n].ntypes = nt;
				if (nsec3) {
					uint8_t h[DNS_NAME_MAX];
					assert_true(dns_dnssec_nsec3_owner(a, apex, NULL, 0, 0, h) > 0);
					m[n].klen = dns_name_to_lookup(h, m[n].key);
				} else {
					m[n].klen = dns_name_to_lookup(a, m[n].key);
				}
				n++;
			}
			if (dns_name_equal(a, apex))
				break;
		}
	}
	qsort(m, n, sizeof(*m), member_cmp);
	return n;
}

/* Verifies every RRSIG of the zone and that each authoritative rrset has one. */
static void
check_sigs(const struct zset *z, const uint8_t *apex, struct dns_dnssec_key *k,
           struct dns_dnssec_ctx *cx)
{
	uint32_t now = (uint32_t)time(NULL);
	for (size_t i = 0; i < z->n; i++) {
		const struct zrec *r = &z->r[i];
		if (r->type == DNS_T_RRSIG)
			continue;
		bool occ = occluded(z, apex, r->owner) && r->type != DNS_T_NSEC3;
		uint16_t t[64];
		size_t nt;
		types_at(z, r->owner, t, &nt);
		bool cut = !dns_name_equal(r->owner, apex);
		bool has_ns = false;
		for (size_t j = 0; j < nt; j++)
			has_ns |= t[j] == DNS_T_NS;
		cut = cut && has_ns;
		bool want = !occ && (!cut || r->type == DNS_T_DS || r->type == DNS_T_NSEC);
		/* the rrset of r, and the RRSIGs over it */
		const uint8_t *rd[64];
		uint16_t rl[64];
		size_t n = 0;
		for (size_t j = 0; j < z->n; j++)
			if (z->r[j].type == r->type && dns_name_equal(z->r[j].owner, r->owner)) {
				rd[n] = z->r[j].rd;
				rl[n++] = z->r[j].rdlen;
			}
		struct dns_dnssec_rrset rs = {.owner = r->owner, .type = r->type, .rclass = 1,
		                              .ttl = r->ttl, .n = n, .rdata = rd, .rdlen = rl};
		int sigs = 0;
		for (size_t j = 0; j < z->n; j++) {
			const struct zrec *s = &z->r[j];
			if (s->type != DNS_T_RRSIG || !dns_name_equal(s->owner, r->owner) ||
			    ((uint16_t)(s->rd[0] << 8 | s->rd[1])) != r->type)
				continue;
			assert_int_equal(dns_dnssec_verify(cx, k, apex, &rs, s->rd, s->rdlen, now), 0);
			sigs++;
		}
		if (sigs != (want ? 1 : 0)) {
			char t1[DNS_NAME_TEXT_MAX];
			dns_name_to_text(r->owner, t1, sizeof(t1));
			print_error("%s type %u: %d signatures, want %d\n", t1, r->type, sigs, want);
			fail();
		}
	}
}

/* The zone as an AXFR reads it (after its SOA). */
static struct zset *
zone_read(struct store_fx *f)
{
	struct zset *z = calloc(1, sizeof(*z));
	assert_non_null(z);
	struct store_snap *sn;
	struct store_zone zone;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &zone), 0);
	assert_int_equal(store_snap_records(sn, &zone, zadd, z), 0);
	store_snap_close(sn);
	return z;
}

static void
check_zone(struct store_fx *f, bool nsec3)
{
	struct zset *z = zone_read(f);
	struct member *m = calloc(512, sizeof(*m));
	size_t nm = members(z, f->zone, nsec3, m, 512);
	/* the chain records, in canonical order */
	uint16_t ct = nsec3 ? DNS_T_NSEC3 : DNS_T_NSEC;
	size_t nc = 0;
	struct dns_dnssec_key *k = NULL;
	for (size_t i = 0; i < z->n; i++)
		if (z->r[i].type == DNS_T_DNSKEY)
			assert_int_equal(dns_dnssec_key_from_dnskey(z->r[i].rd, z->r[i].rdlen, &k), 0);
	assert_non_null(k);
	struct zrec **chain = calloc(MAXR, sizeof(*chain));
	for (size_t i = 0; i < z->n; i++)
		if (z->r[i].type == ct)
			chain[nc++] = &z->r[i];
	/* store_snap_records gives canonical order after the SOA */
	assert_int_equal(nc, nm);
	for (size_t i = 0; i < nc; i++) {
		assert_int_equal(key_cmp(chain[i]->key, chain[i]->klen, m[i].key, m[i].klen), 0);
		const uint8_t *rd = chain[i]->rd;
		size_t len = chain[i]->rdlen, off;
		const struct member *nx = &m[(i + 1) % nm];
		if (nsec3) {
			off = 5 + rd[4];
			assert_int_equal(rd[off], 20);
			uint8_t h[DNS_NAME_MAX], want[20];
			assert_true(dns_dnssec_nsec3_owner(nx->name, f->zone, NULL, 0, 0, h) > 0);
			assert_int_equal(dns_dnssec_nsec3_hash(nx->name, NULL, 0, 0, want), 0);
			assert_memory_equal(rd + off + 1, want, 20);
			off += 21;
		} else {
			off = dns_name_len(rd);
			assert_true(dns_name_equal(rd, nx->name));
		}
		uint16_t got[64];
		int ng = dns_dnssec_bitmap_decode(rd + off, len - off, got, 64);
		assert_true(ng >= 0);
		for (size_t j = 0; j < m[i].ntypes; j++)
			assert_true(dns_dnssec_bitmap_has(rd + off, len - off, m[i].types[j]));
		size_t extra = (size_t)ng - m[i].ntypes;   /* RRSIG, NSEC */
		assert_true(extra <= 2);
	}
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	check_sigs(z, f->zone, k, cx);
	dns_dnssec_ctx_free(cx);
	dns_dnssec_key_free(k);
	free(chain);
	free(m);
	free(z);
}

static void
random_changes(bool nsec3)
{
	struct store_fx *f = fx_open(nsec3, true);
	static const char *const names[] = {
		"www.example.com.", "a.example.com.", "b.a.example.com.", "c.b.a.example.com.",
		"x.y.z.example.com.", "z.example.com.", "*.wild.example.com.", "mail.example.com.",
		"deleg.example.com.", "ns.deleg.example.com.", "deep.ns.deleg.example.com.",
		"zzz.example.com.", "0.example.com.", "m.n.example.com.", "dn.example.com.",
		"x.dn.example.com.", "y.x.dn.example.com."};
	size_t nn = sizeof(names) / sizeof(names[0]);
	assert_int_equal(patch(f, false, "example.com.", "NS", "ns1.example.net."), 0);
	check_zone(f, nsec3);
	srand(nsec3 ? 7 : 3);
	for (int step = 0; step < 60; step++) {
		const char *nm = names[(size_t)rand() % nn];
		int what = rand() % 5;
		int ret;
		if (strcmp(nm, "deleg.example.com.") == 0 && what < 2)
			ret = patch(f, what == 1, nm, "NS", "ns.deleg.example.com.");
		else if (strcmp(nm, "deleg.example.com.") == 0 && what == 2)
			ret = patch(f, false, nm, "DS", "12345 13 2 b4c8c1fe2e7477127b27115656ad6256f4"
			                                "24625bf5c1e2770ce6d6e37df61d17");
		else if (strcmp(nm, "dn.example.com.") == 0 && what < 3)
			ret = patch(f, what == 1, nm, "DNAME", "Target.Example.NET.");
		else if (what == 3)
			ret = patch(f, true, nm, "A", NULL);
		else if (what == 4)
			ret = patch(f, false, nm, "TXT", "\"t\"");
		else
			ret = patch(f, false, nm, "A", "192.0.2.7");
		assert_int_equal(ret, 0);
		check_zone(f, nsec3);
	}
	store_fx_free(f);
}

static void
test_nsec_chain_random_changes(void **state)
{
	(void)state;
	random_changes(false);
}

static void
test_nsec3_chain_random_changes(void **state)
{
	(void)state;
	random_changes(true);
}

/* NSEC <-> NSEC3 on a signed zone: one serial each, the new chain whole, changes after. */
static void
test_denial_switch(void **state)
{
	(void)state;
	struct store_fx *f = fx_open(false, true);
	assert_int_equal(patch(f, false, "example.com.", "NS", "ns1.example.net."), 0);
	assert_int_equal(patch(f, false, "a.b.example.com.", "A", "192.0.2.1"), 0);
	assert_int_equal(patch(f, false, "dn.example.com.", "DNAME", "x.example.net."), 0);
	assert_int_equal(patch(f, false, "x.dn.example.com.", "A", "192.0.2.2"), 0);
	check_zone(f, false);
	for (int i = 0; i < 4; i++) {
		bool nsec3 = i % 2 == 0;
		struct store_result res;
		char err[256] = "";
		assert_int_equal(store_zone_sign(f->st, f->zone, NULL, nsec3, 0, &res, err,
		                                 sizeof(err)), 0);
		assert_true(res.changed);
		assert_int_equal(res.new_serial, res.old_serial + 1);
		check_zone(f, nsec3);
		assert_int_equal(patch(f, false, "new.example.com.", "TXT", "\"n\""), 0);
		assert_int_equal(patch(f, true, "a.b.example.com.", "A", NULL), 0);
		check_zone(f, nsec3);
		assert_int_equal(patch(f, false, "a.b.example.com.", "A", "192.0.2.1"), 0);
		check_zone(f, nsec3);
	}
	store_fx_free(f);
}

/* The key cache: a key is opened once, not once per change; a new key once
 * more; a deleted key leaves the cache and changes go on signing. */
static void
test_keys_opened_once(void **state)
{
	(void)state;
	struct store_fx *f = fx_open(false, true);
	uint64_t u0 = keycache_unseals(f->st);
	assert_int_equal(u0, 1);
	for (int i = 0; i < 20; i++) {
		char nm[64];
		snprintf(nm, sizeof(nm), "h%d.example.com.", i);
		assert_int_equal(patch(f, false, nm, "A", "192.0.2.1"), 0);
	}
	assert_int_equal(keycache_unseals(f->st), 1);
	int64_t id = 0;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(store_cryptokey_add(f->st, f->zone, NULL, "zsk", 13, true, true, &id, &res,
	                                     err, sizeof(err)), 0);
	assert_int_equal(patch(f, false, "x.example.com.", "A", "192.0.2.2"), 0);
	assert_int_equal(keycache_unseals(f->st), 2);
	assert_int_equal(store_cryptokey_set(f->st, f->zone, NULL, id, true, false, false, &res,
	                                     err, sizeof(err)), 0);
	assert_int_equal(patch(f, false, "y.example.com.", "A", "192.0.2.3"), 0);
	assert_int_equal(keycache_unseals(f->st), 2);
	check_zone(f, false);
	store_fx_free(f);
}

static void
test_no_key_file_refused(void **state)
{
	(void)state;
	store_fx_free(fx_open(false, false));
}

/* ---- schema 0012 ------------------------------------------------------------------------ */

/*
 * dn_rows.h: signatures packed in key order, one of each, the earliest
 * expiration kept; a blob cut anywhere inside a signature reads as damaged
 * (never past its end: the sanitizer build watches), cut between two as
 * the ones before.
 */
static void
test_dn_pack_and_cut_blobs(void **state)
{
	(void)state;
	uint8_t rd[3][40];
	for (int i = 0; i < 3; i++) {
		memset(rd[i], 0x10 * (3 - i), sizeof(rd[i]));
		rd[i][8] = 0x60;
		rd[i][11] = (uint8_t)(7 - i);   /* expirations 0x60303007, 0x60202006, 0x60101005 */
	}
	struct dn_sig v[4] = {{300, rd[0], 40}, {60, rd[1], 40}, {300, rd[0], 40}, {3600, rd[2], 20}};
	uint8_t out[4 * (DN_SIG_HEAD + 40)];
	int64_t exp = 0;
	size_t len = dn_pack(v, 4, out, &exp);
	assert_int_equal(len, 3 * DN_SIG_HEAD + 40 + 40 + 20);   /* rd[0] once */
	assert_int_equal(exp, (int64_t)0x60101005);
	size_t pos = 0, n = 0;
	struct dn_sig sg;
	const uint8_t *prev = NULL;
	uint16_t prevlen = 0;
	while (dn_sig_next(out, len, &pos, &sg) == 1) {
		if (prev != NULL)
			assert_true(memcmp(prev, sg.rd, prevlen < sg.rdlen ? prevlen : sg.rdlen) <= 0);
		prev = sg.rd;
		prevlen = sg.rdlen;
		n++;
	}
	assert_int_equal(n, 3);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		assert_non_null(b);
		memcpy(b, out, cut);
		size_t p = 0, whole = 0;
		int rc;
		while ((rc = dn_sig_next(b, cut, &p, &sg)) == 1)
			whole++;
		bool at_edge = cut == 0 || cut == DN_SIG_HEAD + 20 || cut == 2 * DN_SIG_HEAD + 60;
		assert_int_equal(rc, at_edge ? 0 : -1);
		assert_true(p <= cut);
		free(b);
	}
	assert_int_equal(dn_sig_exp(rd[0], 17), DN_EXP_NONE);
}

static bool
zrec_eq(const struct zrec *a, const struct zrec *b)
{
	return a->type == b->type && a->ttl == b->ttl && a->rdlen == b->rdlen &&
	       a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0 &&
	       memcmp(a->rd, b->rd, a->rdlen) == 0;
}

/*
 * A database from before schema 0012 (each RRSIG, NSEC and NSEC3 a row of
 * `records`) opens with those rows packed into dnssec_names, one a name:
 * the zone reads back record for record as it did, its chain and
 * signatures check, and changes go on signing.  The old layout is made here
 * from a zone signed today (its dnssec_names rows written back as rows of
 * `records`, the table dropped, the schema version set back to 11), on
 * SQLite and on PostgreSQL.
 */
static void
migrate_0012(bool nsec3)
{
	struct store_fx *f = fx_open(nsec3, true);
	assert_int_equal(patch(f, false, "example.com.", "NS", "ns1.example.net."), 0);
	assert_int_equal(patch(f, false, "a.b.example.com.", "A", "192.0.2.1"), 0);
	assert_int_equal(patch(f, false, "*.w.example.com.", "TXT", "\"w\""), 0);
	assert_int_equal(patch(f, false, "sub.example.com.", "NS", "ns.sub.example.com."), 0);
	const char *ds = "12345 13 2 0123456789abcdef0123456789abcdef"
	                 "0123456789abcdef0123456789abcdef";
	assert_int_equal(patch(f, false, "sub.example.com.", "DS", ds), 0);
	struct zset *before = zone_read(f);
	size_t nsig = 0, nchain = 0;
	for (size_t i = 0; i < before->n; i++) {
		nsig += before->r[i].type == DNS_T_RRSIG;
		nchain += before->r[i].type == (nsec3 ? DNS_T_NSEC3 : DNS_T_NSEC);
	}
	assert_true(nsig > 8 && nchain > 3);
	int64_t zid = test_db_int(f->path, "SELECT id FROM zones WHERE name = 'example.com.'");
	store_close(f->st);
	f->st = NULL;
	/* the old layout: every chain record and signature a row of `records` */
	struct db *db = NULL;
	assert_int_equal(db_open(f->path, false, false, &db), 0);
	assert_int_equal(db_begin(db), 0);
	for (size_t i = 0; i < before->n; i++) {
		const struct zrec *r = &before->r[i];
		if (r->type != DNS_T_RRSIG && r->type != DNS_T_NSEC && r->type != DNS_T_NSEC3)
			continue;
		struct db_stmt *s = db_q(db, DBQ_REC_INSERT);
		assert_non_null(s);
		db_bind_i64(s, 1, zid);
		db_bind_blob(s, 2, r->key, r->klen);
		db_bind_blob(s, 3, r->owner, dns_name_len(r->owner));
		db_bind_i64(s, 4, r->type);
		db_bind_i64(s, 5, r->ttl);
		db_bind_blob(s, 6, r->rd, r->rdlen);
		db_bind_i64(s, 7, 0);
		assert_int_equal(db_run(s), 0);
	}
	assert_int_equal(db_commit(db), 0);
	db_close(db);
	test_db_exec(f->path, test_db_pg() ?
	             "DROP TABLE dnssec_names; UPDATE anycst_schema SET version = 11" :
	             "DROP TABLE dnssec_names; PRAGMA user_version = 11");
	assert_int_equal(test_db_int(f->path, "SELECT count(*) FROM records WHERE type = 46"),
	                 (int64_t)nsig);
	/* opened: migrated */
	struct store_opts o = {.path = f->path, .catalog = "cat.test.",
	                       .dnssec_secret = "unit-test-secret"};
	char err[256] = "";
	assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), 0);
	assert_int_equal(test_db_int(f->path, "SELECT count(*) FROM records WHERE type IN "
	                             "(46, 47, 50)"), 0);
	assert_int_equal(test_db_int(f->path, "SELECT count(*) FROM dnssec_names WHERE ctype != 0"),
	                 (int64_t)nchain);
	/* the earliest expiration of each name is the one its signatures hold */
	assert_int_equal(test_db_int(f->path, "SELECT count(*) FROM dnssec_names WHERE "
	                             "length(sigs) > 0 AND exp >= 4294967296"), 0);
	struct zset *after = zone_read(f);
	assert_int_equal(after->n, before->n);
	for (size_t i = 0; i < before->n; i++) {
		bool found = false;
		for (size_t j = 0; j < after->n && !found; j++)
			found = zrec_eq(&before->r[i], &after->r[j]);
		assert_true(found);
	}
	check_zone(f, nsec3);
	/* changes sign on the migrated rows */
	assert_int_equal(patch(f, false, "a.b.example.com.", "A", "192.0.2.9"), 0);
	assert_int_equal(patch(f, true, "*.w.example.com.", "TXT", NULL), 0);
	assert_int_equal(patch(f, false, "new.example.com.", "AAAA", "2001:db8::1"), 0);
	check_zone(f, nsec3);
	free(before);
	free(after);
	store_fx_free(f);
}

static void
test_migrate_0012_nsec(void **state)
{
	(void)state;
	migrate_0012(false);
}

static void
test_migrate_0012_nsec3(void **state)
{
	(void)state;
	migrate_0012(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_roundtrip_and_refusals),
		cmocka_unit_test(test_nsec_chain_random_changes),
		cmocka_unit_test(test_nsec3_chain_random_changes),
		cmocka_unit_test(test_denial_switch),
		cmocka_unit_test(test_keys_opened_once),
		cmocka_unit_test(test_no_key_file_refused),
		cmocka_unit_test(test_dn_pack_and_cut_blobs),
		cmocka_unit_test(test_migrate_0012_nsec),
		cmocka_unit_test(test_migrate_0012_nsec3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
