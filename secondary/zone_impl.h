/*
 * Inside a zone version: the node layout that secondary/answer.c reads
 * directly.  Only zone.c, zdb.c and answer.c include this file.
 *
 * A node is one allocation (trie_obj_alloc):
 *   struct znode | struct zrrset rr[nrr] | struct trie_key (lookup key) | rrset bytes
 * Each rrset's bytes are its records ready to copy into a response:
 *   count x ( c0 0c | type | class IN | TTL | rdlength | rdata )
 * where c0 0c (a pointer to the query name) is patched when the owner sits
 * elsewhere in the packet.  A name holding NSEC3 records lives in the zone's
 * separate NSEC3 trie (no hash entry, no empty non-terminals above it), so
 * lookups never see it.  Rrsets are sorted by type; RRSIGs are one rrset
 * per covered type (sorted by it), each with its own TTL.  A node without
 * rrsets is an empty non-terminal.
 */
#ifndef SECONDARY_ZONE_IMPL_H
#define SECONDARY_ZONE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"
#include "dns/wire.h"
#include "secondary/trie.h"
#include "secondary/zhash.h"
#include "secondary/zone.h"

enum {
	ZN_NS = 1,       /* has NS */
	ZN_CNAME = 2,    /* has CNAME */
	ZN_DNAME = 4,    /* has DNAME */
	ZN_SOA = 8,      /* has SOA (the apex) */
	ZN_WILD = 16,    /* first label is "*" */
};

/* Bytes before the rdata of one stored record: pointer, type, class, TTL, rdlength. */
#define ZRR_HDR 12

struct zrrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	uint32_t off;    /* from the node start */
	uint32_t len;
};

struct znode {
	uint16_t nrr;
	uint8_t flags;
	uint8_t labels;  /* labels of the owner, not counting the root */
	uint32_t size;
	struct zrrset rr[];
};

struct zone {
	struct trie trie;        /* ordered: walks, empty non-terminal checks */
	struct zhash hash;       /* exact lookups on the query path */
	struct trie n3;          /* NSEC3 owners (RFC 5155 §7.2.9): not names of the zone */
	const struct znode *apex_node;
	struct zone_soa soa;
	size_t nrecords;
	size_t ncuts;            /* delegations below the apex plus DNAME nodes */
	size_t nwild;            /* wildcard nodes ("*" first label) */
	size_t nsigs;            /* RRSIG records */
	uint32_t sig_expire;     /* earliest RRSIG expiration (RFC 4034 §3.1.5), when nsigs */
	bool sig_dirty;          /* an update removed the earliest: recompute at commit */
	uint8_t apex_len, apex_labels;
	uint16_t apex_keylen;
	/* Set when an update committed on top of this version. */
	bool retired;
	void **garbage;
	size_t ngarbage;
	uint8_t *apex;           /* wire, in names[] (as long as it is: 100,000 small zones) */
	uint8_t *apex_key;       /* lookup key, in names[] */
	uint8_t names[];
};

/* Bytes of a version's struct with its names. */
static inline size_t
zone_struct_size(const struct zone *z)
{
	return sizeof(*z) + z->apex_len + z->apex_keylen;
}

static inline const struct trie_key *
znode_key(const struct znode *n)
{
	return (const struct trie_key *)(const void *)((const uint8_t *)n + sizeof(*n) +
	                                                (size_t)n->nrr * sizeof(struct zrrset));
}

static inline const uint8_t *
zrrset_data(const struct znode *n, const struct zrrset *rs)
{
	return (const uint8_t *)n + rs->off;
}

static inline const struct zrrset *
znode_rrset(const struct znode *n, uint16_t type)
{
	for (unsigned i = 0; i < n->nrr; i++) {
		if (n->rr[i].type == type)
			return &n->rr[i];
	}
	return NULL;
}

/* The RRSIG rrset of `n` covering `covered` (grouped by covered type), or NULL. */
static inline const struct zrrset *
znode_sig(const struct znode *n, uint16_t covered)
{
	for (unsigned i = 0; i < n->nrr; i++) {
		const struct zrrset *rs = &n->rr[i];
		if (rs->type == 46 &&
		    rd_u16(zrrset_data(n, rs) + ZRR_HDR) == covered)
			return rs;
	}
	return NULL;
}

static inline const struct trie_key *
znode_keyfn(const void *n)
{
	return znode_key(n);
}

/* Node of the name with lookup key `key`, or NULL. */
static inline const struct znode *
zone_node(const struct zone *z, const uint8_t *key, size_t len)
{
	return zhash_get(&z->hash, znode_keyfn, key, len);
}

/*
 * Offsets of the domain names inside rdata of `type` that answers read or
 * compress (RFC 1035 types, MX, SRV, DNAME...), with `compress[i]` true when
 * RFC 3597 §4 allows compressing name i.  Returns the count (<= 2) or -1
 * when the rdata is malformed for its type.
 */
int zone_rdata_names(uint16_t type, const uint8_t *rd, size_t rdlen, uint16_t offs[2],
                     bool compress[2]);

#endif
