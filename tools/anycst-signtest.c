/*
 * anycst-signtest: signs a whole zone file with the dns/dnssec.c primitives,
 * as the test oracle for the primary's in-transaction signer (issue 15).
 * Not the product: no key storage, no incremental chain, no lifetimes.
 *
 *   anycst-signtest [-a 13|15] [-3] [-C] [-t NOW] -o ORIGIN -i IN -w OUT
 *   anycst-signtest -b [-a 13|15] [-n COUNT]
 *
 * Signing: a fresh KSK (257, signs the DNSKEY rrset) and ZSK (256, signs
 * the rest) of algorithm -a (default 13); the DNSKEY rrset at the apex; an
 * NSEC chain, or with -3 an NSEC3 chain with 0 iterations and an empty
 * salt (RFC 9276) plus NSEC3PARAM.  Delegations: only DS (and the chain
 * record) are signed, names below a cut (glue) are neither signed nor in
 * the chain; NSEC3 covers empty non-terminals.  RRSIGs are valid from NOW
 * (-t, default the clock) minus an hour to NOW plus 14 days, and every one
 * is verified again before the zone is written.  -C then flips one byte of
 * the signature of the first A rrset's RRSIG, for tests that prove a
 * verifier can fail.  The DS records of the KSK go to stdout.
 *
 * -b: signs COUNT (default 20000) one-record A rrsets with one reused key
 * and context and prints signatures per second on one core (CPU time),
 * beside bare GnuTLS signing of the same amount of data.
 */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/dnssec.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/soa.h"
#include "dns/zonetext.h"
#include "util/err.h"

struct rec {
	uint8_t *owner;
	uint8_t *rd;
	uint16_t type, rdlen;
	uint32_t ttl;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

/* One owner name of the zone: its records are z.v[first .. first+count). */
struct node {
	const uint8_t *name;
	size_t first, count;
	bool deleg, occluded, has_ds;
	uint8_t hash[DNS_DNSSEC_NSEC3_HASH_LEN];
};

struct zone {
	const uint8_t *origin;
	struct recs z, chain, sigs;
	struct node *nodes;
	size_t nnodes;
	char err[256];
};

static int
recs_add(struct recs *r, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
         size_t rdlen)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct rec *v = realloc(r->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	struct rec *x = &r->v[r->n];
	size_t ol = dns_name_len(owner);
	x->owner = malloc(ol);
	x->rd = malloc(rdlen ? rdlen : 1);
	if (x->owner == NULL || x->rd == NULL) {
		free(x->owner);
		free(x->rd);
		return -ENOMEM;
	}
	memcpy(x->owner, owner, ol);
	dns_name_lower(x->owner);
	if (rdlen > 0)
		memcpy(x->rd, rd, rdlen);
	x->type = type;
	x->rdlen = (uint16_t)rdlen;
	x->ttl = ttl;
	r->n++;
	return 0;
}

static void
recs_free(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].owner);
		free(r->v[i].rd);
	}
	free(r->v);
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c = dns_name_cmp(x->owner, y->owner);
	if (c != 0)
		return c;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	size_t m = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
	c = m ? memcmp(x->rd, y->rd, m) : 0;
	return c != 0 ? c : (int)x->rdlen - (int)y->rdlen;
}

static int
on_rr(void *ctx, const struct dns_rr *rr)
{
	struct zone *zn = ctx;
	if (!dns_name_is_sub(rr->owner, zn->origin))
		return 0;
	if (rr->type == DNS_T_RRSIG || rr->type == DNS_T_NSEC || rr->type == DNS_T_NSEC3 ||
	    rr->type == DNS_T_NSEC3PARAM || rr->type == DNS_T_DNSKEY) {
		snprintf(zn->err, sizeof(zn->err), "the input must be unsigned (has %s)",
		         dns_rrtype_name(rr->type));
		return -EINVAL;
	}
	return recs_add(&zn->z, rr->owner, rr->type, rr->ttl, rr->rdata, rr->rdlen);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		cap *= 2;
		char *nb = realloc(buf, cap);
		if (nb == NULL) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Groups the sorted records into nodes and marks delegations and what they occlude. */
static int
build_nodes(struct zone *zn)
{
	zn->nodes = calloc(zn->z.n ? zn->z.n : 1, sizeof(*zn->nodes));
	if (zn->nodes == NULL)
		return -ENOMEM;
	const uint8_t *cut = NULL;
	for (size_t i = 0; i < zn->z.n; i++) {
		struct rec *r = &zn->z.v[i];
		struct node *nd = zn->nnodes ? &zn->nodes[zn->nnodes - 1] : NULL;
		if (nd == NULL || !dns_name_equal(nd->name, r->owner)) {
			nd = &zn->nodes[zn->nnodes++];
			nd->name = r->owner;
			nd->first = i;
			/* canonical order puts every name right after its ancestors */
			nd->occluded = cut != NULL && dns_name_is_sub(r->owner, cut);
			if (!nd->occluded)
				cut = NULL;
		}
		nd->count++;
		if (r->type == DNS_T_NS && !dns_name_equal(r->owner, zn->origin) && !nd->occluded) {
			nd->deleg = true;
			cut = nd->name;
		}
		if (r->type == DNS_T_DS)
			nd->has_ds = true;
	}
	return 0;
}

/* Types at node `nd` plus `extra`, as a bitmap. */
static int
node_bitmap(const struct zone *zn, const struct node *nd, const uint16_t *extra, size_t nextra,
            uint8_t *bm, size_t cap)
{
	uint16_t types[1024];
	size_t n = 0;
	for (size_t i = 0; nd != NULL && i < nd->count && n < 1000; i++)
		types[n++] = zn->z.v[nd->first + i].type;
	for (size_t i = 0; i < nextra; i++)
		types[n++] = extra[i];
	return dns_dnssec_bitmap_encode(types, n, bm, cap);
}

static uint32_t
nsec_ttl(const struct zone *zn)
{
	for (size_t i = 0; i < zn->z.n; i++) {
		const struct rec *r = &zn->z.v[i];
		struct dns_soa soa;
		if (r->type == DNS_T_SOA && dns_soa_parse(r->rd, r->rdlen, &soa) == 0)
			return soa.minimum < r->ttl ? soa.minimum : r->ttl;   /* RFC 9077 */
	}
	return 3600;
}

static int
build_nsec(struct zone *zn)
{
	uint8_t bm[DNS_DNSSEC_BITMAP_MAX], rd[DNS_NAME_MAX + DNS_DNSSEC_BITMAP_MAX];
	static const uint16_t extra[] = {DNS_T_NSEC, DNS_T_RRSIG};
	uint32_t ttl = nsec_ttl(zn);
	size_t first = SIZE_MAX, prev = SIZE_MAX;
	for (size_t i = 0; i <= zn->nnodes; i++) {
		if (i < zn->nnodes && zn->nodes[i].occluded)
			continue;
		if (i == zn->nnodes && first == SIZE_MAX)
			break;
		size_t next = i < zn->nnodes ? i : first;
		if (prev != SIZE_MAX) {
			struct node *nd = &zn->nodes[prev];
			int bl = node_bitmap(zn, nd, extra, 2, bm, sizeof(bm));
			int rl = bl < 0 ? bl : dns_dnssec_nsec_rdata(zn->nodes[next].name, bm, (size_t)bl,
			                                             rd, sizeof(rd));
			if (rl < 0 || recs_add(&zn->chain, nd->name, DNS_T_NSEC, ttl, rd, (size_t)rl) != 0)
				return -ENOMEM;
		}
		if (i == zn->nnodes)
			break;
		if (first == SIZE_MAX)
			first = i;
		prev = i;
	}
	return 0;
}

static int
node_name_cmp(const void *key, const void *elem)
{
	return dns_name_cmp(key, ((const struct node *)elem)->name);
}

static int
hash_cmp(const void *a, const void *b)
{
	const struct node *const *x = a, *const *y = b;
	return memcmp((*x)->hash, (*y)->hash, DNS_DNSSEC_NSEC3_HASH_LEN);
}

static int
ent_cmp(const void *a, const void *b)
{
	return dns_name_cmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b);
}

static int
build_nsec3(struct zone *zn)
{
	int ret = -ENOMEM;
	size_t ncand = 0, nents = 0, nall = 0;
	const uint8_t **cand = calloc(zn->nnodes * 128 + 1, sizeof(*cand));
	struct node *ents = calloc(zn->nnodes * 128 + 1, sizeof(*ents));
	struct node **all = calloc(zn->nnodes * 129 + 1, sizeof(*all));
	uint8_t bm[DNS_DNSSEC_BITMAP_MAX], rd[64 + DNS_DNSSEC_BITMAP_MAX];
	if (cand == NULL || ents == NULL || all == NULL)
		goto out;
	/* empty non-terminals: ancestors of authoritative names that own nothing */
	for (size_t i = 0; i < zn->nnodes; i++) {
		if (zn->nodes[i].occluded)
			continue;
		for (const uint8_t *p = dns_name_parent(zn->nodes[i].name);
		     dns_name_is_sub(p, zn->origin) && !dns_name_equal(p, zn->origin);
		     p = dns_name_parent(p)) {
			if (bsearch(p, zn->nodes, zn->nnodes, sizeof(*zn->nodes), node_name_cmp) == NULL)
				cand[ncand++] = p;
		}
	}
	qsort(cand, ncand, sizeof(*cand), ent_cmp);
	for (size_t i = 0; i < ncand; i++) {
		if (i > 0 && dns_name_equal(cand[i], cand[i - 1]))
			continue;
		ents[nents++].name = cand[i];
	}
	for (size_t i = 0; i < zn->nnodes; i++) {
		if (!zn->nodes[i].occluded)
			all[nall++] = &zn->nodes[i];
	}
	for (size_t i = 0; i < nents; i++)
		all[nall++] = &ents[i];
	for (size_t i = 0; i < nall; i++) {
		if (dns_dnssec_nsec3_hash(all[i]->name, NULL, 0, 0, all[i]->hash) != 0)
			goto out;
	}
	qsort(all, nall, sizeof(*all), hash_cmp);
	uint32_t ttl = nsec_ttl(zn);
	for (size_t i = 0; i < nall; i++) {
		struct node *nd = all[i], *next = all[(i + 1) % nall];
		/* RRSIG when the name has anything signed: not an ENT, not a delegation without DS */
		static const uint16_t rrsig[] = {DNS_T_RRSIG};
		bool signed_here = nd->count > 0 && (!nd->deleg || nd->has_ds);
		int bl = node_bitmap(zn, nd->count ? nd : NULL, rrsig, signed_here ? 1 : 0, bm,
		                     sizeof(bm));
		int rl = bl < 0 ? bl : dns_dnssec_nsec3_rdata(0, 0, NULL, 0, next->hash, bm, (size_t)bl,
		                                              rd, sizeof(rd));
		uint8_t owner[DNS_NAME_MAX];
		if (rl < 0 || dns_dnssec_nsec3_owner(nd->name, zn->origin, NULL, 0, 0, owner) < 0 ||
		    recs_add(&zn->chain, owner, DNS_T_NSEC3, ttl, rd, (size_t)rl) != 0)
			goto out;
	}
	ret = 0;
out:
	free(cand);
	free(ents);
	free(all);
	return ret;
}

/* Signs records v[i .. i+n) (one rrset) and verifies the signature. */
static int
sign_set(struct zone *zn, struct dns_dnssec_ctx *cx, const struct dns_dnssec_key *k,
         const struct rec *v, size_t n, uint32_t now)
{
	const uint8_t *rds[4096];
	uint16_t lens[4096];
	if (n > 4096)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		rds[i] = v[i].rd;
		lens[i] = v[i].rdlen;
	}
	struct dns_dnssec_rrset rs = {v[0].owner, v[0].type, DNS_C_IN, v[0].ttl, n, rds, lens};
	uint8_t sig[DNS_DNSSEC_RRSIG_MAX];
	int sl = dns_dnssec_sign(cx, k, zn->origin, &rs, now - 3600, now + 14 * 86400, sig,
	                         sizeof(sig));
	if (sl < 0)
		return sl;
	int ret = dns_dnssec_verify(cx, k, zn->origin, &rs, sig, (size_t)sl, now);
	if (ret != 0) {
		snprintf(zn->err, sizeof(zn->err), "self-check failed: %s", err_str(ret));
		return ret;
	}
	return recs_add(&zn->sigs, v[0].owner, DNS_T_RRSIG, v[0].ttl, sig, (size_t)sl);
}

static int
sign_all(struct zone *zn, struct dns_dnssec_ctx *cx, const struct dns_dnssec_key *ksk,
         const struct dns_dnssec_key *zsk, uint32_t now)
{
	for (size_t i = 0; i < zn->nnodes; i++) {
		const struct node *nd = &zn->nodes[i];
		if (nd->occluded)
			continue;
		for (size_t j = nd->first; j < nd->first + nd->count;) {
			size_t e = j;
			while (e < nd->first + nd->count && zn->z.v[e].type == zn->z.v[j].type)
				e++;
			uint16_t t = zn->z.v[j].type;
			if (!nd->deleg || t == DNS_T_DS) {
				int ret = sign_set(zn, cx, t == DNS_T_DNSKEY ? ksk : zsk, &zn->z.v[j], e - j,
				                   now);
				if (ret != 0)
					return ret;
			}
			j = e;
		}
	}
	for (size_t i = 0; i < zn->chain.n; i++) {
		int ret = sign_set(zn, cx, zsk, &zn->chain.v[i], 1, now);
		if (ret != 0)
			return ret;
	}
	return 0;
}

static int
print_recs(FILE *f, const struct recs *r, char *text, size_t cap)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct rec *x = &r->v[i];
		char owner[DNS_NAME_TEXT_MAX], type[DNS_RRTYPE_TEXT_MAX];
		dns_name_to_text(x->owner, owner, sizeof(owner));
		dns_rrtype_to_text(x->type, type, sizeof(type));
		if (dns_rdata_to_text(x->type, x->rd, x->rdlen, text, cap) < 0 &&
		    dns_rdata_to_generic(x->rd, x->rdlen, text, cap) < 0)
			return -ENOSPC;
		fprintf(f, "%s %u IN %s %s\n", owner, x->ttl, type, text);
	}
	return ferror(f) ? -EIO : 0;
}

static double
cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * Signs `count` one-record A rrsets with one key and context, in chunks
 * alternating with bare gnutls_privkey_sign_data2 calls over data of the
 * same size (the raw limit), so load on a shared machine hits both alike.
 */
static int
bench(uint8_t alg, unsigned count)
{
	struct dns_dnssec_key *k;
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	gnutls_privkey_t raw = NULL;
	int ret = dns_dnssec_key_generate(alg, DNS_DNSSEC_ZSK, &k);
	if (ret != 0 || cx == NULL) {
		dns_dnssec_ctx_free(cx);
		return ret ? ret : -ENOMEM;
	}
	gnutls_pk_algorithm_t pk = alg == 13 ? GNUTLS_PK_ECDSA : GNUTLS_PK_EDDSA_ED25519;
	gnutls_ecc_curve_t curve = alg == 13 ? GNUTLS_ECC_CURVE_SECP256R1 : GNUTLS_ECC_CURVE_ED25519;
	gnutls_sign_algorithm_t sa = alg == 13 ? GNUTLS_SIGN_ECDSA_SHA256 : GNUTLS_SIGN_EDDSA_ED25519;
	if (gnutls_privkey_init(&raw) < 0 ||
	    gnutls_privkey_generate2(raw, pk, GNUTLS_CURVE_TO_BITS(curve), 0, NULL, 0) < 0) {
		ret = -EIO;
		goto out;
	}
	uint8_t zone[DNS_NAME_MAX], owner[DNS_NAME_MAX], a[4] = {192, 0, 2, 0};
	uint8_t sig[DNS_DNSSEC_RRSIG_MAX], data[80];
	memset(data, 0x5a, sizeof(data));   /* the signed data of such an rrset: ~75 octets */
	dns_name_from_text("bench.test.", 11, NULL, zone);
	const uint8_t *rds[] = {a};
	uint16_t lens[] = {4};
	struct dns_dnssec_rrset rs = {owner, DNS_T_A, DNS_C_IN, 300, 1, rds, lens};
	double t_lib = 0, t_raw = 0;
	unsigned done = 0;
	while (done < count && ret >= 0) {
		unsigned chunk = count - done < 500 ? count - done : 500;
		double t0 = cpu_now();
		for (unsigned i = 0; i < chunk && ret >= 0; i++) {
			char t[32];
			int tl = snprintf(t, sizeof(t), "h%u.bench.test.", done + i);
			dns_name_from_text(t, (size_t)tl, NULL, owner);
			a[3] = (uint8_t)i;
			ret = dns_dnssec_sign(cx, k, zone, &rs, 1, 2, sig, sizeof(sig));
		}
		double t1 = cpu_now();
		for (unsigned i = 0; i < chunk && ret >= 0; i++) {
			gnutls_datum_t d = {data, sizeof(data)}, out = {NULL, 0};
			data[0] = (uint8_t)i;
			if (gnutls_privkey_sign_data2(raw, sa, 0, &d, &out) < 0)
				ret = -EIO;
			gnutls_free(out.data);
		}
		double t2 = cpu_now();
		t_lib += t1 - t0;
		t_raw += t2 - t1;
		done += chunk;
	}
	if (ret >= 0) {
		printf("%s: %u signatures, %.3f s CPU, %.0f signatures/s per core (%.1f us each); "
		       "bare GnuTLS %.0f/s (%.1f us); overhead %.1f%%\n",
		       alg == 13 ? "ECDSA P-256 (alg 13)" : "Ed25519 (alg 15)", count, t_lib,
		       count / t_lib, t_lib * 1e6 / count, count / t_raw, t_raw * 1e6 / count,
		       (t_lib / t_raw - 1) * 100);
		ret = 0;
	}
out:
	if (raw != NULL)
		gnutls_privkey_deinit(raw);
	dns_dnssec_key_free(k);
	dns_dnssec_ctx_free(cx);
	return ret;
}

static void
usage(void)
{
	fprintf(stderr, "usage: anycst-signtest [-a 13|15] [-3] [-C] [-t NOW] -o ORIGIN -i IN -w OUT\n"
	                "       anycst-signtest -b [-a 13|15] [-n COUNT]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *origin_text = NULL, *in = NULL, *outp = NULL;
	unsigned long alg = 0, count = 20000;
	bool nsec3 = false, corrupt = false, do_bench = false;
	uint32_t now = (uint32_t)time(NULL);
	int opt;
	while ((opt = getopt(argc, argv, "a:3Ct:o:i:w:bn:h")) != -1) {
		char *end;
		switch (opt) {
		case 'a':
			alg = strtoul(optarg, &end, 10);
			if (*end != '\0' || (alg != 13 && alg != 15))
				usage();
			break;
		case '3':
			nsec3 = true;
			break;
		case 'C':
			corrupt = true;
			break;
		case 't':
			now = (uint32_t)strtoul(optarg, &end, 10);
			if (*end != '\0')
				usage();
			break;
		case 'o':
			origin_text = optarg;
			break;
		case 'i':
			in = optarg;
			break;
		case 'w':
			outp = optarg;
			break;
		case 'b':
			do_bench = true;
			break;
		case 'n':
			count = strtoul(optarg, &end, 10);
			if (*end != '\0' || count == 0 || count > 100000000)
				usage();
			break;
		default:
			usage();
		}
	}
	if (do_bench) {
		int ret = 0;
		if (alg == 0 || alg == 13)
			ret = bench(13, (unsigned)count);
		if (ret == 0 && (alg == 0 || alg == 15))
			ret = bench(15, (unsigned)count);
		if (ret != 0)
			fprintf(stderr, "anycst-signtest: %s\n", err_str(ret));
		return ret == 0 ? 0 : 1;
	}
	if (origin_text == NULL || in == NULL || outp == NULL)
		usage();
	if (alg == 0)
		alg = 13;

	uint8_t origin[DNS_NAME_MAX];
	if (dns_name_from_text(origin_text, strlen(origin_text), NULL, origin) <= 0) {
		fprintf(stderr, "anycst-signtest: bad origin '%s'\n", origin_text);
		return 1;
	}
	dns_name_lower(origin);
	struct zone zn = {.origin = origin};
	struct dns_dnssec_key *ksk = NULL, *zsk = NULL;
	struct dns_dnssec_ctx *cx = dns_dnssec_ctx_new();
	char *text = NULL, *rdtext = malloc(DNS_RDATA_TEXT_MAX);
	size_t len = 0;
	int ret = -ENOMEM;
	FILE *f = NULL;
	if (cx == NULL || rdtext == NULL)
		goto out;
	text = read_file(in, &len);
	if (text == NULL) {
		fprintf(stderr, "anycst-signtest: cannot read %s\n", in);
		ret = -EIO;
		goto out;
	}
	struct dns_zt_err ze = {0};
	ret = dns_zt_parse(text, len, origin, 3600, on_rr, &zn, &ze);
	if (ret != 0) {
		if (zn.err[0] == '\0')
			snprintf(zn.err, sizeof(zn.err), "line %u col %u: %s", ze.line, ze.col, ze.what);
		goto out;
	}
	ret = dns_dnssec_key_generate((uint8_t)alg, DNS_DNSSEC_KSK, &ksk);
	if (ret == 0)
		ret = dns_dnssec_key_generate((uint8_t)alg, DNS_DNSSEC_ZSK, &zsk);
	if (ret != 0)
		goto out;
	uint32_t kttl = 3600;
	for (size_t i = 0; i < zn.z.n; i++) {
		if (zn.z.v[i].type == DNS_T_SOA)
			kttl = zn.z.v[i].ttl;
	}
	size_t kl;
	const uint8_t *kd = dns_dnssec_key_dnskey(ksk, &kl);
	ret = recs_add(&zn.z, origin, DNS_T_DNSKEY, kttl, kd, kl);
	kd = dns_dnssec_key_dnskey(zsk, &kl);
	if (ret == 0)
		ret = recs_add(&zn.z, origin, DNS_T_DNSKEY, kttl, kd, kl);
	if (ret == 0 && nsec3) {
		uint8_t p[8];
		int pl = dns_dnssec_nsec3param(0, 0, NULL, 0, p, sizeof(p));
		ret = recs_add(&zn.z, origin, DNS_T_NSEC3PARAM, 0, p, (size_t)pl);
	}
	if (ret != 0)
		goto out;
	qsort(zn.z.v, zn.z.n, sizeof(*zn.z.v), rec_cmp);
	ret = build_nodes(&zn);
	if (ret == 0)
		ret = nsec3 ? build_nsec3(&zn) : build_nsec(&zn);
	if (ret == 0)
		ret = sign_all(&zn, cx, ksk, zsk, now);
	if (ret != 0)
		goto out;
	if (corrupt) {
		for (size_t i = 0; i < zn.sigs.n; i++) {
			struct rec *s = &zn.sigs.v[i];
			if (s->rd[0] == 0 && s->rd[1] == DNS_T_A) {
				s->rd[s->rdlen - 10] ^= 0x01;
				char o[DNS_NAME_TEXT_MAX];
				dns_name_to_text(s->owner, o, sizeof(o));
				fprintf(stderr, "anycst-signtest: corrupted the RRSIG of %s A\n", o);
				break;
			}
		}
	}
	f = fopen(outp, "w");
	if (f == NULL) {
		ret = -errno;
		goto out;
	}
	ret = print_recs(f, &zn.z, rdtext, DNS_RDATA_TEXT_MAX);
	if (ret == 0)
		ret = print_recs(f, &zn.chain, rdtext, DNS_RDATA_TEXT_MAX);
	if (ret == 0)
		ret = print_recs(f, &zn.sigs, rdtext, DNS_RDATA_TEXT_MAX);
	if (fclose(f) != 0 && ret == 0)
		ret = -EIO;
	if (ret != 0)
		goto out;
	for (uint8_t d = DNS_DNSSEC_DS_SHA256; d <= DNS_DNSSEC_DS_SHA384; d += 2) {
		uint8_t ds[DNS_DNSSEC_DS_MAX];
		kd = dns_dnssec_key_dnskey(ksk, &kl);
		int dl = dns_dnssec_ds(origin, kd, kl, d, ds, sizeof(ds));
		if (dl > 0 && dns_rdata_to_text(DNS_T_DS, ds, (size_t)dl, rdtext, DNS_RDATA_TEXT_MAX) > 0)
			printf("%s 3600 IN DS %s\n", origin_text, rdtext);
	}
	fprintf(stderr, "anycst-signtest: %zu records, %zu %s, %zu signatures\n", zn.z.n, zn.chain.n,
	        nsec3 ? "NSEC3" : "NSEC", zn.sigs.n);
out:
	if (ret != 0)
		fprintf(stderr, "anycst-signtest: %s\n", zn.err[0] ? zn.err : err_str(ret));
	recs_free(&zn.z);
	recs_free(&zn.chain);
	recs_free(&zn.sigs);
	free(zn.nodes);
	free(text);
	free(rdtext);
	dns_dnssec_key_free(ksk);
	dns_dnssec_key_free(zsk);
	dns_dnssec_ctx_free(cx);
	return ret == 0 ? 0 : 1;
}
