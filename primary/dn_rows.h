/*
 * A signed zone's DNSSEC data by owner name (schema 0012, `dnssec_names`).
 *
 * One row a name holds its chain record (NSEC at the name, NSEC3 at its
 * hashed owner: `ctype`, `cttl`, `chain`) and every RRSIG at the name
 * (`sigs`), with `exp` the earliest expiration among them.  The signatures
 * are packed one after another, each as
 *
 *     TTL (4 octets) | RDLENGTH (2 octets) | RRSIG rdata
 *
 * in network order, sorted by rdata as SQLite orders blobs (octet by
 * octet, a prefix first), the order the rows of an rrset read in.  Where
 * each RRSIG was a row of `records` with four index entries, a first
 * signing now writes one row a name (bench/sigrows.c: 3.3 to 0.7 us of
 * SQLite a signature, a WAL of 110 to 46 MB for 100,000 names).
 *
 * These helpers are shared by the store (primary/store_dn.c, store_bulk.c)
 * and the SQLite migration that packs the rows of an older database
 * (db_sqlite.c).
 */
#ifndef PRIMARY_DN_ROWS_H
#define PRIMARY_DN_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"

#define DN_SIG_HEAD 6
/* `exp` of a row without signatures: after every expiration (32 bits) */
#define DN_EXP_NONE 4294967296LL

/* One packed signature. */
struct dn_sig {
	uint32_t ttl;
	const uint8_t *rd;
	uint16_t rdlen;
};

/* The signature at `*pos` of blob `b` (`len` octets): 1 and `*pos` moved past
 * it, 0 at the end, -1 when the blob is cut short. */
static inline int
dn_sig_next(const uint8_t *b, size_t len, size_t *pos, struct dn_sig *s)
{
	if (*pos >= len)
		return 0;
	if (len - *pos < DN_SIG_HEAD)
		return -1;
	const uint8_t *p = b + *pos;
	s->ttl = rd_u32(p);
	s->rdlen = rd_u16(p + 4);
	if (len - *pos - DN_SIG_HEAD < s->rdlen)
		return -1;
	s->rd = p + DN_SIG_HEAD;
	*pos += DN_SIG_HEAD + (size_t)s->rdlen;
	return 1;
}

/* An RRSIG rdata's expiration (octets 8-11), DN_EXP_NONE when too short. */
static inline int64_t
dn_sig_exp(const uint8_t *rd, size_t rdlen)
{
	return rdlen < 18 ? DN_EXP_NONE : (int64_t)rd_u32(rd + 8);
}

/* The earliest expiration of packed blob `b`, DN_EXP_NONE without any. */
static inline int64_t
dn_sigs_exp(const uint8_t *b, size_t len)
{
	int64_t exp = DN_EXP_NONE;
	size_t pos = 0;
	struct dn_sig sg;
	while (dn_sig_next(b, len, &pos, &sg) == 1) {
		int64_t e = dn_sig_exp(sg.rd, sg.rdlen);
		if (e < exp)
			exp = e;
	}
	return exp;
}

/* SQLite's order of two signatures' rdata (octet by octet, a prefix first). */
static inline int
dn_sig_cmp(const void *a, const void *b)
{
	const struct dn_sig *x = a, *y = b;
	int c = memcmp(x->rd, y->rd, x->rdlen < y->rdlen ? x->rdlen : y->rdlen);
	return c != 0 ? c : (x->rdlen > y->rdlen) - (x->rdlen < y->rdlen);
}

/* Sorts `v` by rdata and packs it at `out` (room for DN_SIG_HEAD + rdlen
 * each), one of each: octets written; `*exp` the earliest expiration. */
static inline size_t
dn_pack(struct dn_sig *v, size_t n, uint8_t *out, int64_t *exp)
{
	qsort(v, n, sizeof(*v), dn_sig_cmp);
	size_t off = 0;
	*exp = DN_EXP_NONE;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && dn_sig_cmp(&v[i], &v[i - 1]) == 0)
			continue;   /* a set */
		wr_u32(out + off, v[i].ttl);
		wr_u16(out + off + 4, v[i].rdlen);
		if (v[i].rdlen > 0)
			memcpy(out + off + DN_SIG_HEAD, v[i].rd, v[i].rdlen);
		off += DN_SIG_HEAD + (size_t)v[i].rdlen;
		int64_t e = dn_sig_exp(v[i].rd, v[i].rdlen);
		if (e < *exp)
			*exp = e;
	}
	return off;
}

#endif
