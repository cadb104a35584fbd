/*
 * Name compression shared by the message writers (dns/compress.h).
 */
#include "dns/compress.h"

#include <errno.h>
#include <string.h>

#include "dns/wire.h"
#include "util/hash.h"

#define LABELS_MAX 128

static inline uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/*
 * True when the name at packet offset `off` (following pointers, which all
 * point backwards into what was written) equals the uncompressed `name`,
 * letter case included unless `icase`.
 */
static bool
pkt_name_equal(const uint8_t *buf, size_t len, size_t off, const uint8_t *name, bool icase)
{
	unsigned hops = 0;
	for (;;) {
		if (off >= len)
			return false;
		uint8_t l = buf[off];
		if ((l & 0xc0) == 0xc0) {
			if (off + 1 >= len || ++hops > 127)
				return false;
			off = ((size_t)(l & 0x3f) << 8) | buf[off + 1];
			continue;
		}
		if (l != name[0])
			return false;
		if (l == 0)
			return true;
		if (off + 1 + l > len)
			return false;
		if (icase) {
			for (uint8_t i = 1; i <= l; i++) {
				if (lower(buf[off + i]) != lower(name[i]))
					return false;
			}
		} else if (memcmp(buf + off + 1, name + 1, l) != 0) {
			return false;
		}
		off += (size_t)l + 1;
		name += l + 1;
	}
}

/* Offset of a remembered suffix equal to `suffix` (hash `h`), or 0. */
static size_t
lookup(const struct dns_compress *c, const uint8_t *buf, size_t len, uint32_t h,
       const uint8_t *suffix, bool whole)
{
	for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
		size_t off = c->slot[i].off;
		if (off == 0)
			return 0;
		if (c->slot[i].hash != h)
			continue;
		bool icase = c->icase || (whole && off == 12 && c->qname);
		if (pkt_name_equal(buf, len, off, suffix, icase))
			return off;
	}
}

static void
insert(struct dns_compress *c, uint32_t h, size_t off)
{
	if (off >= 0x4000 || off == 0 || c->nent >= c->maxent)
		return;
	size_t i = h & c->mask;
	while (c->slot[i].off != 0)
		i = (i + 1) & c->mask;
	c->slot[i].hash = h;
	c->slot[i].off = (uint16_t)off;
	c->used[c->nent++] = (uint16_t)i;
}

void
dns_compress_init(struct dns_compress *c, struct dns_cslot *slot, unsigned nslots,
                  uint16_t *used, unsigned maxent, bool icase)
{
	memset(slot, 0, nslots * sizeof(*slot));
	*c = (struct dns_compress){.slot = slot, .used = used, .mask = nslots - 1,
	                           .maxent = maxent < nslots ? maxent : nslots - 1,
	                           .icase = icase};
}

void
dns_compress_forget(struct dns_compress *c, unsigned n)
{
	while (c->nent > n) {
		uint16_t i = c->used[--c->nent];
		c->slot[i].off = 0;
		c->slot[i].hash = 0;
	}
}

void
dns_compress_forget_from(struct dns_compress *c, size_t off)
{
	unsigned keep = c->nent;
	while (keep > 0 && c->slot[c->used[keep - 1]].off >= off)
		keep--;
	dns_compress_forget(c, keep);
}

/* Label starts of `name` and the hash of the suffix at each; returns the count. */
static unsigned
hash_labels(const uint8_t *name, const uint8_t **lab, uint32_t *hash)
{
	unsigned n = 0;
	for (const uint8_t *p = name; *p != 0 && n < LABELS_MAX; p += *p + 1)
		lab[n++] = p;
	uint64_t h = 0;
	for (unsigned i = n; i-- > 0;) {
		h = hash_fnv1a_lower(lab[i], (size_t)lab[i][0] + 1, h);
		hash[i] = (uint32_t)h;
	}
	return n;
}

ssize_t
dns_compress_put(struct dns_compress *c, uint8_t *buf, size_t *len, size_t limit,
                 const uint8_t *name, bool compress)
{
	const uint8_t *lab[LABELS_MAX];
	uint32_t hash[LABELS_MAX];
	unsigned n = hash_labels(name, lab, hash);
	unsigned match = n;      /* first label covered by a pointer */
	size_t target = 0, start = *len;
	if (compress) {
		for (unsigned i = 0; i < n; i++) {
			target = lookup(c, buf, *len, hash[i], lab[i], i == 0);
			if (target != 0) {
				match = i;
				break;
			}
		}
	}
	for (unsigned i = 0; i < match; i++) {
		size_t ll = (size_t)lab[i][0] + 1;
		if (limit < *len || limit - *len < ll)
			return -EMSGSIZE;
		memcpy(buf + *len, lab[i], ll);
		/*
		 * Remember the suffix unless an equal one is known already (when
		 * compressing, the search above proved it is not).
		 */
		if (compress || lookup(c, buf, *len, hash[i], lab[i], false) == 0)
			insert(c, hash[i], *len);
		*len += ll;
	}
	if (match < n) {
		if (limit < *len || limit - *len < 2)
			return -EMSGSIZE;
		wr_u16(buf + *len, (uint16_t)(0xc000 | target));
		*len += 2;
		if (match == 0)
			return (ssize_t)target;
	} else {
		if (limit < *len || limit - *len < 1)
			return -EMSGSIZE;
		buf[(*len)++] = 0;
	}
	return (ssize_t)start;
}

void
dns_compress_add(struct dns_compress *c, const uint8_t *buf, size_t len, size_t off)
{
	const uint8_t *lab[LABELS_MAX];
	uint32_t hash[LABELS_MAX];
	if (off >= len)
		return;
	unsigned n = hash_labels(buf + off, lab, hash);
	for (unsigned i = 0; i < n; i++) {
		if (lookup(c, buf, len, hash[i], lab[i], false) == 0)
			insert(c, hash[i], (size_t)(lab[i] - buf));
	}
}
