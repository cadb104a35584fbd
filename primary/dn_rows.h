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
 * These helpers are shared by the store (primary/store_dn.c) and the SQLite
 * migration that packs the rows of an older database (db_sqlite.c).
 */
#ifndef PRIMARY_DN_ROWS_H
#define PRIMARY_DN_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
	s->ttl = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	s->rdlen = (uint16_t)(p[4] << 8 | p[5]);
	if (len - *pos - DN_SIG_HEAD < s->rdlen)
		return -1;
	s->rd = p + DN_SIG_HEAD;
	*pos += DN_SIG_HEAD + (size_t)s->rdlen;
	return 1;
}

/* Appends one signature at `out` (room for DN_SIG_HEAD + rdlen): octets written. */
static inline size_t
dn_sig_put(uint8_t *out, uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	out[0] = (uint8_t)(ttl >> 24);
	out[1] = (uint8_t)(ttl >> 16);
	out[2] = (uint8_t)(ttl >> 8);
	out[3] = (uint8_t)ttl;
	out[4] = (uint8_t)(rdlen >> 8);
	out[5] = (uint8_t)rdlen;
	if (rdlen > 0)
		memcpy(out + DN_SIG_HEAD, rd, rdlen);
	return DN_SIG_HEAD + (size_t)rdlen;
}

/* SQLite's order of two blobs. */
static inline int
dn_blob_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	return c != 0 ? c : alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* An RRSIG rdata's expiration (octets 8-11), DN_EXP_NONE when too short. */
static inline int64_t
dn_sig_exp(const uint8_t *rd, size_t rdlen)
{
	if (rdlen < 18)
		return DN_EXP_NONE;
	return (int64_t)((uint32_t)rd[8] << 24 | (uint32_t)rd[9] << 16 | (uint32_t)rd[10] << 8 |
	                 rd[11]);
}

#endif
