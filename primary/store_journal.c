/*
 * The IXFR journal (see store.h): rows of (serial_from, serial_to, removed,
 * added) whose blobs are concatenated canonical wire RRs, removed starting
 * with the old SOA and added with the new one.  Encoding, writing with
 * retention, and reading a chain from a serial.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rrtype.h"
#include "util/err.h"

void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
buf_rr(struct buf *b, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
       size_t rdlen)
{
	uint8_t hdr[10];
	hdr[0] = (uint8_t)(type >> 8);
	hdr[1] = (uint8_t)type;
	hdr[2] = 0;
	hdr[3] = DNS_C_IN;
	put32(hdr + 4, ttl);
	hdr[8] = (uint8_t)(rdlen >> 8);
	hdr[9] = (uint8_t)rdlen;
	buf_put(b, owner, dns_name_len(owner));
	buf_put(b, hdr, sizeof(hdr));
	buf_put(b, rd, rdlen);
}

int
store_blob_next(const uint8_t *blob, size_t len, size_t *pos, struct dns_rr *rr)
{
	if (*pos >= len)
		return 0;
	size_t p = *pos;
	int nl = dns_name_check(blob + p, len - p);
	if (nl <= 0)
		return ERR_FORMERR;
	p += (size_t)nl;
	if (len - p < 10)
		return ERR_FORMERR;
	const uint8_t *h = blob + p;
	rr->owner = blob + *pos;
	rr->type = (uint16_t)(h[0] << 8 | h[1]);
	rr->rclass = (uint16_t)(h[2] << 8 | h[3]);
	rr->ttl = get32(h + 4);
	rr->rdlen = (uint16_t)(h[8] << 8 | h[9]);
	p += 10;
	if (len - p < rr->rdlen)
		return ERR_FORMERR;
	rr->rdata = blob + p;
	*pos = p + rr->rdlen;
	return 1;
}


int
journal_write(struct store *st, int64_t zid, const uint8_t *apex, uint32_t from, uint32_t to,
              const struct row *old_soa, const struct row *new_soa, const struct buf *rem,
              const struct buf *add)
{
	struct buf r2 = {0}, a2 = {0};
	int ret = -ENOMEM;
	buf_rr(&r2, apex, DNS_T_SOA, old_soa->ttl, old_soa->rd, old_soa->rdlen);
	buf_put(&r2, rem->p, rem->len);
	buf_rr(&a2, apex, DNS_T_SOA, new_soa->ttl, new_soa->rd, new_soa->rdlen);
	buf_put(&a2, add->p, add->len);
	if (r2.oom || a2.oom || rem->oom || add->oom)
		goto out;
	ret = -EIO;
	struct db_stmt *s = db_q(st->w, DBQ_JOURNAL_INSERT);
	if (s == NULL)
		goto out;
	db_bind_i64(s, 1, zid);
	db_bind_i64(s, 2, from);
	db_bind_i64(s, 3, to);
	db_bind_blob(s, 4, r2.p, r2.len);
	db_bind_blob(s, 5, a2.p, a2.len);
	db_bind_i64(s, 6, now_s());
	ret = db_run(s);
	if (ret == 0)
		ret = journal_trim(st, zid);
out:
	free(r2.p);
	free(a2.p);
	return ret;
}

int
store_snap_journal(struct store_snap *sn, const struct store_zone *z, uint32_t since,
                   store_journal_fn fn, void *ctx)
{
	if (since == z->serial)
		return 0;
	struct db_stmt *s = db_q(sn->c->db, DBQ_JOURNAL_START);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	db_bind_i64(s, 2, since);
	int rc = db_step(s);
	int64_t seq = 0;
	bool found = rc == DB_ROW && !db_col_null(s, 0);
	if (found)
		seq = db_col_i64(s, 0);
	db_done(s);
	if (!found)
		return -ERANGE;
	s = db_q(sn->c->db, DBQ_JOURNAL_FROM);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	db_bind_i64(s, 2, seq);
	int ret = 0;
	uint32_t expect = since;
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_journal_entry e = {
			.serial_from = (uint32_t)db_col_i64(s, 0),
			.serial_to = (uint32_t)db_col_i64(s, 1),
			.removed = db_col_blob(s, 2),
			.removed_len = (size_t)db_col_bytes(s, 2),
			.added = db_col_blob(s, 3),
			.added_len = (size_t)db_col_bytes(s, 3),
			.created_at = db_col_i64(s, 4),
		};
		if (e.serial_from != expect) {
			ret = -ERANGE;   /* a broken chain: never hand out a wrong diff */
			break;
		}
		expect = e.serial_to;
		ret = fn(ctx, &e);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	db_done(s);
	return ret;
}

int
store_snap_journal_range(struct store_snap *sn, const struct store_zone *z, size_t *count,
                         uint32_t *oldest)
{
	struct db_stmt *s = db_q(sn->c->db, DBQ_JOURNAL_RANGE);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	int ret = -EIO;
	if (db_step(s) == DB_ROW) {
		*count = (size_t)db_col_i64(s, 0);
		*oldest = (uint32_t)db_col_i64(s, 1);
		ret = 0;
	}
	db_done(s);
	return ret;
}
