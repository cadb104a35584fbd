/*
 * Name compression (RFC 1035 §4.1.4) for every message writer: dns/msg.c's
 * struct dns_msgw and secondary/answer.c.  A table remembers each name
 * suffix written at an offset below 0x4000 (a pointer cannot reach further),
 * keyed by an FNV-1a hash of its lowercased labels (util/hash.h), so finding
 * the longest known suffix of a name costs one probe per label.
 *
 * Matching keeps letter case (data keeps its spelling through a transfer)
 * unless the table was made with `icase`, with one exception as in Knot: a
 * whole name equal to the qname at offset 12 in any case points to it when
 * `qname` is set (an answer owner takes the spelling of the question).
 *
 * The caller owns the storage (slots and the list of used slots), so that a
 * per-query writer allocates nothing; entries are dropped last-in first-out
 * (dns_compress_forget), which keeps open addressing intact and lets a
 * writer undo a record that did not fit.
 */
#ifndef DNS_COMPRESS_H
#define DNS_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dns_cslot {
	uint32_t hash;
	uint16_t off;            /* 0: empty (no name starts inside the header) */
};

struct dns_compress {
	struct dns_cslot *slot;  /* mask + 1 slots */
	uint16_t *used;          /* indexes of the slots in use, in insertion order */
	unsigned mask;
	unsigned maxent;         /* entries at most (below mask + 1) */
	unsigned nent;
	bool icase;              /* suffixes match in any letter case */
	bool qname;              /* a question's qname is at offset 12 */
};

/*
 * Sets up `c` over `slot` (`nslots`, a power of two, all cleared here) and
 * `used` (`maxent` < nslots entries).
 */
void dns_compress_init(struct dns_compress *c, struct dns_cslot *slot, unsigned nslots,
                       uint16_t *used, unsigned maxent, bool icase);

/* Entries remembered so far: a mark for dns_compress_forget. */
static inline unsigned
dns_compress_mark(const struct dns_compress *c)
{
	return c->nent;
}

/* Drops the entries remembered after the first `n` (all with n = 0). */
void dns_compress_forget(struct dns_compress *c, unsigned n);

/* Drops the last entries for names at offset `off` or beyond. */
void dns_compress_forget_from(struct dns_compress *c, size_t off);

/*
 * Writes the uncompressed wire name `name` at buf + *len (not beyond
 * `limit`), as a pointer to the longest suffix written before when
 * `compress` (RFC 3597 §4: else in full), and remembers its new suffixes.
 * Returns the offset where the whole name now reads (the pointer target
 * when all of it was known), or -EMSGSIZE (then *len is undefined: the
 * caller restores it and forgets back to its mark).
 */
ssize_t dns_compress_put(struct dns_compress *c, uint8_t *buf, size_t *len, size_t limit,
                         const uint8_t *name, bool compress);

/*
 * Remembers the suffixes of the uncompressed name already at buf + off
 * (buf holds `len` bytes), such as a question echoed from the query.
 */
void dns_compress_add(struct dns_compress *c, const uint8_t *buf, size_t len, size_t off);

#endif
