/*
 * DNS message parsing and building.  Parsing walks the whole message once
 * with strict bounds and keeps offsets; building writes into the caller's
 * buffer and compresses names through a hash table of every name suffix
 * written so far (key: hash of the lowercased labels of the suffix; value:
 * its offset), so a name shares its longest suffix already present.
 * Suffixes match with their letter case, so transferred data keeps its
 * spelling; only a whole name equal to the qname matches in any case.  The
 * invariant of the writer: w->buf[0..w->len) is always a complete message
 * whose header counts match its records.
 */
#include "dns/msg.h"

#include <string.h>

#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/wire.h"
#include "util/err.h"

/* ---- parsing ---- */

/*
 * dns_name_unpack plus one rule of our own: no pointer may lead into the
 * 12-octet header, where no name can be.  The chain is walked first (it
 * strictly descends, so the walk ends), then the name is read.
 */
static int
unpack_name(const uint8_t *pkt, size_t len, size_t *pos, uint8_t *out)
{
	size_t p = *pos;
	size_t limit = p;   /* a pointer must go strictly below this */
	while (p < len) {
		uint8_t l = pkt[p];
		if (l == 0 || (l & 0xc0) == 0x40 || (l & 0xc0) == 0x80)
			break;
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len)
				break;
			size_t t = ((size_t)(l & 0x3f) << 8) | pkt[p + 1];
			if (t < DNS_HDR_LEN)
				return ERR_NAME_PTR;
			if (t >= limit)
				break;   /* dns_name_unpack reports it */
			limit = t;
			p = t;
			continue;
		}
		p += (size_t)l + 1;
	}
	return dns_name_unpack(pkt, len, pos, out);
}

static int
parse_opt(struct dns_msg *m, size_t rr_off, uint16_t rclass, uint32_t ttl, size_t rd,
          uint16_t rdlen)
{
	if (m->has_opt)
		return ERR_FORMERR;          /* RFC 6891 §6.1.1: more than one OPT */
	m->has_opt = true;
	m->opt_off = rr_off;
	m->ext_rcode = (uint8_t)(ttl >> 24);
	m->edns.version = (uint8_t)(ttl >> 16);
	m->edns.flags = (uint16_t)ttl;
	m->edns.udp_size = rclass;
	m->edns.opts = m->pkt + rd;
	m->edns.optlen = rdlen;
	/* Every option header and its data must fit exactly. */
	size_t p = 0;
	while (p < rdlen) {
		if (rdlen - p < 4)
			return ERR_FORMERR;
		size_t olen = rd_u16(m->pkt + rd + p + 2);
		if (rdlen - p - 4 < olen)
			return ERR_FORMERR;
		p += 4 + olen;
	}
	return 0;
}

static int
parse_tsig(struct dns_msg *m, size_t rr_off, const uint8_t *owner, size_t owner_len,
           uint16_t rclass, uint32_t ttl, size_t rd, uint16_t rdlen)
{
	struct dns_msg_tsig *t = &m->tsig;
	if (rclass != DNS_C_ANY || ttl != 0)
		return ERR_FORMERR;          /* RFC 8945 §4.2 */
	memcpy(t->key, owner, owner_len);
	size_t end = rd + rdlen;
	size_t p = rd;
	int n = unpack_name(m->pkt, end, &p, t->alg);
	if (n < 0)
		return ERR_FORMERR;
	struct wire w;
	wire_init(&w, m->pkt + p, end - p);
	uint32_t hi = wire_u16(&w);
	uint32_t lo = wire_u32(&w);
	t->time_signed = ((uint64_t)hi << 32) | lo;
	t->fudge = wire_u16(&w);
	t->mac_len = wire_u16(&w);
	t->mac = wire_ptr(&w);
	wire_skip(&w, t->mac_len);
	t->orig_id = wire_u16(&w);
	t->error = wire_u16(&w);
	t->other_len = wire_u16(&w);
	t->other = wire_ptr(&w);
	wire_skip(&w, t->other_len);
	if (w.err || wire_left(&w) != 0)
		return ERR_FORMERR;
	t->off = rr_off;
	t->end = end;
	m->has_tsig = true;
	return 0;
}

int
dns_msg_parse(struct dns_msg *m, const uint8_t *pkt, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->pkt = pkt;
	m->len = len;
	if (len < DNS_HDR_LEN)
		return ERR_TRUNC;
	m->id = rd_u16(pkt);
	m->flags = rd_u16(pkt + 2);
	for (unsigned s = 0; s < 4; s++)
		m->count[s] = rd_u16(pkt + 4 + 2 * s);

	uint8_t name[DNS_NAME_MAX];
	size_t pos = DNS_HDR_LEN;
	m->sec[DNS_SEC_QD] = pos;
	for (unsigned i = 0; i < m->count[DNS_SEC_QD]; i++) {
		size_t noff = pos;
		int n = unpack_name(pkt, len, &pos, name);
		if (n < 0)
			return n;
		if (len - pos < 4)
			return ERR_TRUNC;
		if (i == 0) {
			memcpy(m->qname, name, (size_t)n);
			m->qname_len = (size_t)n;
			m->qname_off = noff;
			m->qtype = rd_u16(pkt + pos);
			m->qclass = rd_u16(pkt + pos + 2);
		}
		pos += 4;
	}
	for (unsigned s = DNS_SEC_AN; s <= DNS_SEC_AR; s++) {
		m->sec[s] = pos;
		for (unsigned i = 0; i < m->count[s]; i++) {
			size_t rr_off = pos;
			int n = unpack_name(pkt, len, &pos, name);
			if (n < 0)
				return n;
			if (len - pos < 10)
				return ERR_TRUNC;
			uint16_t type = rd_u16(pkt + pos);
			uint16_t rclass = rd_u16(pkt + pos + 2);
			uint32_t ttl = rd_u32(pkt + pos + 4);
			uint16_t rdlen = rd_u16(pkt + pos + 8);
			pos += 10;
			if (len - pos < rdlen)
				return ERR_TRUNC;
			if (m->has_tsig)
				return ERR_FORMERR;  /* RFC 8945 §5.1: TSIG must be the last RR */
			int ret = 0;
			if (type == DNS_T_OPT) {
				if (s != DNS_SEC_AR || n != 1)
					return ERR_FORMERR;
				ret = parse_opt(m, rr_off, rclass, ttl, pos, rdlen);
			} else if (type == DNS_T_TSIG) {
				if (s != DNS_SEC_AR)
					return ERR_FORMERR;
				ret = parse_tsig(m, rr_off, name, (size_t)n, rclass, ttl, pos, rdlen);
			}
			if (ret != 0)
				return ret;
			pos += rdlen;
		}
	}
	m->end = pos;
	m->trailing = len - pos;
	return 0;
}

bool
dns_msg_edns_option(const struct dns_msg *m, uint16_t code, const uint8_t **data,
                    uint16_t *dlen)
{
	if (!m->has_opt)
		return false;
	const uint8_t *o = m->edns.opts;
	size_t p = 0;
	while (p + 4 <= m->edns.optlen) {
		uint16_t c = rd_u16(o + p), l = rd_u16(o + p + 2);
		if (p + 4 + l > m->edns.optlen)
			return false;
		if (c == code) {
			*data = o + p + 4;
			*dlen = l;
			return true;
		}
		p += 4 + (size_t)l;
	}
	return false;
}

void
dns_msg_iter_init(struct dns_msg_iter *it, const struct dns_msg *m, unsigned section)
{
	memset(it, 0, sizeof(*it));
	it->m = m;
	it->section = section;
	if (section <= DNS_SEC_AR && m->end != 0) {
		it->left = m->count[section];
		it->pos = m->sec[section];
	}
}

int
dns_msg_iter_next(struct dns_msg_iter *it, struct dns_rr *rr, uint8_t *owner,
                  uint8_t *rdbuf, size_t rdcap)
{
	if (it->left == 0)
		return 0;
	const struct dns_msg *m = it->m;
	size_t pos = it->pos;
	it->rr_off = pos;
	int n = unpack_name(m->pkt, m->end, &pos, owner);
	if (n < 0)
		return n;
	memset(rr, 0, sizeof(*rr));
	rr->owner = owner;
	if (it->section == DNS_SEC_QD) {
		if (m->end - pos < 4)
			return ERR_FORMERR;
		rr->type = rd_u16(m->pkt + pos);
		rr->rclass = rd_u16(m->pkt + pos + 2);
		it->pos = pos + 4;
		it->rdata_off = it->pos;
		it->raw_rdlen = 0;
		it->left--;
		return 1;
	}
	if (m->end - pos < 10)
		return ERR_FORMERR;
	rr->type = rd_u16(m->pkt + pos);
	rr->rclass = rd_u16(m->pkt + pos + 2);
	rr->ttl = rd_u32(m->pkt + pos + 4);
	uint16_t rdlen = rd_u16(m->pkt + pos + 8);
	pos += 10;
	if (m->end - pos < rdlen)
		return ERR_FORMERR;
	int rl;
	if (rr->type == DNS_T_OPT || rr->type == DNS_T_TSIG) {
		/* Parsed by dns_msg_parse already; handed out as they are. */
		if (rdlen > rdcap)
			return -ENOSPC;
		memcpy(rdbuf, m->pkt + pos, rdlen);
		rl = rdlen;
	} else {
		rl = dns_rdata_unpack(rr->type, m->pkt, m->end, pos, rdlen, rdbuf, rdcap);
		if (rl < 0)
			return rl;
	}
	rr->rdlen = (uint16_t)rl;
	rr->rdata = rdbuf;
	it->rdata_off = pos;
	it->raw_rdlen = rdlen;
	it->pos = pos + rdlen;
	it->left--;
	return 1;
}

/* ---- building ---- */

static size_t
limit_of(const struct dns_msgw *w)
{
	return w->cap - w->reserve;
}

static void
put_count(struct dns_msgw *w, unsigned section, int delta)
{
	uint8_t *p = w->buf + 4 + 2 * section;
	wr_u16(p, (uint16_t)(rd_u16(p) + delta));
}

/*
 * Writes `name` at w->len (not beyond `limit`), compressed when `compress`,
 * and remembers its suffixes.  Returns 0 or -EMSGSIZE (w->len then
 * undefined: the caller restores it).
 */
static int
put_name(struct dns_msgw *w, const uint8_t *name, bool compress, size_t limit)
{
	return dns_compress_put(&w->cz, w->buf, &w->len, limit, name, compress) < 0 ? -EMSGSIZE : 0;
}

static int
start(struct dns_msgw *w, uint8_t *buf, size_t cap, bool clear_all)
{
	if (cap < DNS_HDR_LEN)
		return -EMSGSIZE;
	if (clear_all)   /* every slot must be empty before the first use */
		dns_compress_init(&w->cz, w->slot, DNS_MSGW_SLOTS, w->used, DNS_MSGW_ENTRIES, false);
	else
		dns_compress_forget(&w->cz, 0);
	w->cz.qname = false;
	w->buf = buf;
	w->cap = cap > DNS_MSG_MAX ? DNS_MSG_MAX : cap;
	w->len = DNS_HDR_LEN;
	w->reserve = 0;
	w->section = DNS_SEC_QD;
	w->rcode = 0;
	w->qd_end = DNS_HDR_LEN;
	memset(buf, 0, DNS_HDR_LEN);
	return 0;
}

int
dns_msgw_init(struct dns_msgw *w, uint8_t *buf, size_t cap)
{
	return start(w, buf, cap, true);
}

int
dns_msgw_reset(struct dns_msgw *w, uint8_t *buf, size_t cap)
{
	return start(w, buf, cap, false);
}

void
dns_msgw_set_id(struct dns_msgw *w, uint16_t id)
{
	wr_u16(w->buf, id);
}

void
dns_msgw_set_flags(struct dns_msgw *w, uint16_t flags)
{
	wr_u16(w->buf + 2, flags);
}

uint16_t
dns_msgw_flags(const struct dns_msgw *w)
{
	return rd_u16(w->buf + 2);
}

void
dns_msgw_set_rcode(struct dns_msgw *w, unsigned rcode)
{
	w->rcode = (uint16_t)(rcode & 0xfff);
	uint16_t f = dns_msgw_flags(w);
	dns_msgw_set_flags(w, (uint16_t)((f & ~DNS_F_RCODE_MASK) | (rcode & DNS_F_RCODE_MASK)));
}

void
dns_msgw_set_tc(struct dns_msgw *w)
{
	dns_msgw_set_flags(w, (uint16_t)(dns_msgw_flags(w) | DNS_F_TC));
}

int
dns_msgw_reserve(struct dns_msgw *w, size_t n)
{
	if (n > w->cap || w->cap - n < w->len)
		return -EMSGSIZE;
	w->reserve = n;
	return 0;
}

int
dns_msgw_question(struct dns_msgw *w, const uint8_t *qname, uint16_t qtype, uint16_t qclass)
{
	if (w->section != DNS_SEC_QD)
		return -EINVAL;
	size_t start = w->len;
	unsigned nent = dns_compress_mark(&w->cz);
	size_t limit = limit_of(w);
	if (put_name(w, qname, true, limit) != 0 || limit - w->len < 4) {
		w->len = start;
		dns_compress_forget(&w->cz, nent);
		return -EMSGSIZE;
	}
	wr_u16(w->buf + w->len, qtype);
	wr_u16(w->buf + w->len + 2, qclass);
	w->len += 4;
	w->qd_end = w->len;
	w->cz.qname = true;
	put_count(w, DNS_SEC_QD, 1);
	return 0;
}

static int
check_section(struct dns_msgw *w, unsigned section)
{
	if (section < DNS_SEC_AN || section > DNS_SEC_AR || section < w->section)
		return -EINVAL;
	if (rd_u16(w->buf + 4 + 2 * section) == 0xffff)
		return -EMSGSIZE;
	return 0;
}

int
dns_msgw_rr(struct dns_msgw *w, unsigned section, const struct dns_rr *rr)
{
	int ret = check_section(w, section);
	if (ret != 0)
		return ret;
	size_t start = w->len;
	unsigned nent = dns_compress_mark(&w->cz);
	size_t limit = limit_of(w);
	uint16_t offs[16];
	bool comp[16];
	size_t nn = dns_rdata_names(rr->type, rr->rdata, rr->rdlen, offs, comp, 16);

	if (put_name(w, rr->owner, true, limit) != 0 || limit - w->len < 10)
		goto full;
	wr_u16(w->buf + w->len, rr->type);
	wr_u16(w->buf + w->len + 2, rr->rclass);
	wr_u32(w->buf + w->len + 4, rr->ttl);
	size_t rdlen_at = w->len + 8;
	w->len += 10;
	size_t rd_start = w->len;
	size_t done = 0;   /* rdata bytes consumed */
	for (size_t i = 0; i < nn; i++) {
		size_t o = offs[i];
		if (o < done || o >= rr->rdlen)
			break;   /* offsets must ascend; the rest is copied raw below */
		size_t gap = o - done;
		if (limit - w->len < gap)
			goto full;
		memcpy(w->buf + w->len, rr->rdata + done, gap);
		w->len += gap;
		const uint8_t *nm = rr->rdata + o;
		int nl = dns_name_check(nm, rr->rdlen - o);
		if (nl < 0)
			break;
		if (put_name(w, nm, comp[i], limit) != 0)
			goto full;
		done = o + (size_t)nl;
	}
	if (limit - w->len < (size_t)rr->rdlen - done)
		goto full;
	if (rr->rdlen > done) {
		memcpy(w->buf + w->len, rr->rdata + done, rr->rdlen - done);
		w->len += rr->rdlen - done;
	}
	wr_u16(w->buf + rdlen_at, (uint16_t)(w->len - rd_start));
	w->section = section;
	put_count(w, section, 1);
	return 0;
full:
	w->len = start;
	dns_compress_forget(&w->cz, nent);
	return -EMSGSIZE;
}

int
dns_msgw_opt(struct dns_msgw *w, const struct dns_edns *e)
{
	int ret = check_section(w, DNS_SEC_AR);
	if (ret != 0)
		return ret;
	if (w->cap - w->len < DNS_OPT_LEN + (size_t)e->optlen)
		return -EMSGSIZE;
	uint8_t *p = w->buf + w->len;
	p[0] = 0;
	wr_u16(p + 1, DNS_T_OPT);
	wr_u16(p + 3, e->udp_size);
	uint32_t ttl = ((uint32_t)(w->rcode >> 4) << 24) | ((uint32_t)e->version << 16) | e->flags;
	wr_u32(p + 5, ttl);
	wr_u16(p + 9, e->optlen);
	if (e->optlen > 0)
		memcpy(p + DNS_OPT_LEN, e->opts, e->optlen);
	w->len += DNS_OPT_LEN + (size_t)e->optlen;
	w->section = DNS_SEC_AR;
	put_count(w, DNS_SEC_AR, 1);
	return 0;
}

int
dns_msgw_raw(struct dns_msgw *w, unsigned section, const uint8_t *p, size_t len, uint16_t nrr)
{
	int ret = check_section(w, section);
	if (ret != 0)
		return ret;
	if (limit_of(w) - w->len < len)
		return -EMSGSIZE;
	uint8_t *c = w->buf + 4 + 2 * section;
	if ((size_t)rd_u16(c) + nrr > 0xffff)
		return -EMSGSIZE;
	memcpy(w->buf + w->len, p, len);
	w->len += len;
	w->section = section;
	wr_u16(c, (uint16_t)(rd_u16(c) + nrr));
	return 0;
}

void
dns_msgw_truncate_to_question(struct dns_msgw *w)
{
	/* Entries were added in offset order, so the ones past the question are the last. */
	dns_compress_forget_from(&w->cz, w->qd_end);
	w->len = w->qd_end;
	w->section = DNS_SEC_QD;
	for (unsigned s = DNS_SEC_AN; s <= DNS_SEC_AR; s++)
		wr_u16(w->buf + 4 + 2 * s, 0);
}

static int
response(struct dns_msgw *w, const struct dns_msg *q, uint16_t flags, unsigned rcode)
{
	dns_msgw_set_id(w, q->id);
	uint16_t f = (uint16_t)(DNS_F_QR | (q->flags & (DNS_F_OPCODE_MASK | DNS_F_RD | DNS_F_CD)) |
	                        (flags & ~DNS_F_RCODE_MASK));
	dns_msgw_set_flags(w, f);
	dns_msgw_set_rcode(w, rcode);
	if (q->qname_len > 0)
		return dns_msgw_question(w, q->qname, q->qtype, q->qclass);
	return 0;
}

int
dns_msgw_init_response(struct dns_msgw *w, uint8_t *buf, size_t cap, const struct dns_msg *q,
                       uint16_t flags, unsigned rcode)
{
	int ret = start(w, buf, cap, true);
	return ret != 0 ? ret : response(w, q, flags, rcode);
}

int
dns_msgw_reset_response(struct dns_msgw *w, uint8_t *buf, size_t cap, const struct dns_msg *q,
                        uint16_t flags, unsigned rcode)
{
	int ret = start(w, buf, cap, false);
	return ret != 0 ? ret : response(w, q, flags, rcode);
}

ssize_t
dns_msg_make_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *qname, uint16_t qtype,
                   uint16_t qclass, uint16_t flags, const struct dns_edns *edns)
{
	struct wire w;
	wire_init_w(&w, buf, cap);
	wire_put_u16(&w, id);
	wire_put_u16(&w, flags);
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, edns != NULL ? 1 : 0);
	wire_write(&w, qname, dns_name_len(qname));
	wire_put_u16(&w, qtype);
	wire_put_u16(&w, qclass);
	if (edns != NULL) {
		wire_put_u8(&w, 0);
		wire_put_u16(&w, DNS_T_OPT);
		wire_put_u16(&w, edns->udp_size);
		wire_put_u32(&w, ((uint32_t)edns->version << 16) | edns->flags);
		wire_put_u16(&w, edns->optlen);
		wire_write(&w, edns->opts, edns->optlen);
	}
	if (w.err || w.pos > DNS_MSG_MAX)
		return -EMSGSIZE;
	return (ssize_t)w.pos;
}

ssize_t
dns_msg_make_notify(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *zone,
                    const struct dns_rr *soa)
{
	/*
	 * Written by hand (no writer table needed): the SOA owner points at the
	 * qname when it equals the zone, its rdata names stay uncompressed.
	 */
	struct wire w;
	wire_init_w(&w, buf, cap);
	wire_put_u16(&w, id);
	wire_put_u16(&w, (uint16_t)((DNS_OP_NOTIFY << DNS_F_OPCODE_SHIFT) | DNS_F_AA));
	wire_put_u16(&w, 1);
	wire_put_u16(&w, soa != NULL ? 1 : 0);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_write(&w, zone, dns_name_len(zone));
	wire_put_u16(&w, DNS_T_SOA);
	wire_put_u16(&w, DNS_C_IN);
	if (soa != NULL) {
		if (dns_name_equal(soa->owner, zone))
			wire_put_u16(&w, 0xc000 | DNS_HDR_LEN);
		else
			wire_write(&w, soa->owner, dns_name_len(soa->owner));
		wire_put_u16(&w, soa->type);
		wire_put_u16(&w, soa->rclass);
		wire_put_u32(&w, soa->ttl);
		wire_put_u16(&w, soa->rdlen);
		wire_write(&w, soa->rdata, soa->rdlen);
	}
	if (w.err || w.pos > DNS_MSG_MAX)
		return -EMSGSIZE;
	return (ssize_t)w.pos;
}

int
dns_msg_set_rcode(uint8_t *buf, size_t len, unsigned rcode)
{
	struct dns_msg m;
	int ret = dns_msg_parse(&m, buf, len);
	if (ret != 0)
		return ret;
	if (rcode > 15 && !m.has_opt)
		return -ERANGE;
	wr_u16(buf + 2, (uint16_t)((m.flags & ~DNS_F_RCODE_MASK) | (rcode & DNS_F_RCODE_MASK)));
	if (m.has_opt)
		buf[m.opt_off + 5] = (uint8_t)(rcode >> 4);
	return 0;
}
