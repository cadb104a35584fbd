/*
 * A signed zone's RRSIG, NSEC and NSEC3 records by owner name (schema
 * 0012, primary/dn_rows.h): one row of dnssec_names a name.
 *
 * The change engine reads and writes these types as rrsets like any other
 * (read_rrset, rrset_delete dispatch here), so touch() and the journal see
 * them as before; only the storage differs.  Writing an rrset of one of
 * them reads the name's row, replaces that part and writes the row back (or
 * deletes it once it holds nothing).  Rows are read through the writer's
 * connection, in its write transaction.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rrtype.h"
#include "primary/dn_rows.h"

bool
dn_type(uint16_t t)
{
	return t == DNS_T_RRSIG || t == DNS_T_NSEC || t == DNS_T_NSEC3;
}

/* One row as read; blobs in the write arena. */
struct dn {
	bool found;
	uint16_t ctype;
	uint32_t cttl;
	uint8_t *chain, *sigs;
	size_t chainlen, siglen;
	int64_t exp;    /* the earliest expiration among sigs */
};

static int
dn_get(struct store *st, int64_t zid, const struct nkey *k, struct dn *d)
{
	memset(d, 0, sizeof(*d));
	struct db_stmt *s = db_q(st->w, DBQ_DN_GET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_blob(s, 2, k->key, k->klen);
	int rc = db_step(s), ret = 0;
	if (rc == DB_ROW) {
		d->found = true;
		d->ctype = (uint16_t)db_col_int(s, 1);
		d->cttl = (uint32_t)db_col_i64(s, 2);
		d->chainlen = db_col_bytes(s, 3);
		d->siglen = db_col_bytes(s, 4);
		d->exp = db_col_i64(s, 5);
		d->chain = arena_memdup(&st->arena, db_col_blob(s, 3), d->chainlen);
		d->sigs = arena_memdup(&st->arena, db_col_blob(s, 4), d->siglen);
		if ((d->chainlen > 0 && d->chain == NULL) || (d->siglen > 0 && d->sigs == NULL))
			ret = -ENOMEM;
		else if (d->chainlen > UINT16_MAX)
			ret = -EIO;
	} else if (rc != DB_DONE) {
		ret = -EIO;
	}
	db_done(s);
	return ret;
}

int
dn_read(struct store *st, int64_t zid, const struct nkey *k, uint16_t type, struct row **out,
        size_t *n)
{
	*out = NULL;
	*n = 0;
	struct dn d;
	int ret = dn_get(st, zid, k, &d);
	if (ret != 0 || !d.found)
		return ret;
	if (type != DNS_T_RRSIG) {
		if (d.ctype != type)
			return 0;
		struct row *r = arena_alloc(&st->arena, sizeof(*r));
		if (r == NULL)
			return -ENOMEM;
		*r = (struct row){.rd = d.chain, .rdlen = (uint16_t)d.chainlen, .ttl = d.cttl};
		*out = r;
		*n = 1;
		return 0;
	}
	size_t cnt = 0, pos = 0;
	struct dn_sig sg;
	int rc;
	while ((rc = dn_sig_next(d.sigs, d.siglen, &pos, &sg)) == 1)
		cnt++;
	if (rc < 0)
		return -EIO;
	if (cnt == 0)
		return 0;
	struct row *rows = arena_alloc(&st->arena, cnt * sizeof(*rows));
	if (rows == NULL)
		return -ENOMEM;
	pos = 0;
	for (size_t i = 0; i < cnt && dn_sig_next(d.sigs, d.siglen, &pos, &sg) == 1; i++)
		rows[i] = (struct row){.rd = (uint8_t *)sg.rd, .rdlen = sg.rdlen, .ttl = sg.ttl};
	*out = rows;
	*n = cnt;
	return 0;
}

int
dn_write(struct store *st, int64_t zid, const struct nkey *k, uint16_t type,
         const struct row *rows, size_t n)
{
	struct dn d;
	int ret = dn_get(st, zid, k, &d);
	if (ret != 0)
		return ret;
	int64_t exp = d.found ? d.exp : DN_EXP_NONE;
	if (type == DNS_T_RRSIG) {
		size_t total = 0;
		struct dn_sig *v = arena_alloc(&st->arena, (n ? n : 1) * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			v[i] = (struct dn_sig){rows[i].ttl, rows[i].rd, rows[i].rdlen};
			total += DN_SIG_HEAD + rows[i].rdlen;
		}
		uint8_t *b = arena_alloc(&st->arena, total ? total : 1);
		if (b == NULL)
			return -ENOMEM;
		d.siglen = dn_pack(v, n, b, &exp);
		d.sigs = b;
	} else {
		if (n > 0) {
			d.ctype = type;
			d.cttl = rows[0].ttl;
			d.chain = rows[0].rd;
			d.chainlen = rows[0].rdlen;
		} else if (d.ctype == type) {
			d.ctype = 0;
			d.cttl = 0;
			d.chainlen = 0;
		} else {
			return 0;   /* nothing of that type here */
		}
	}
	if (d.ctype == 0 && d.siglen == 0) {
		if (!d.found)
			return 0;
		struct db_stmt *s = db_q(st->w, DBQ_DN_DELETE);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, zid);
		db_bind_blob(s, 2, k->key, k->klen);
		return db_run(s);
	}
	struct db_stmt *s = db_q(st->w, DBQ_DN_PUT);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_blob(s, 2, k->key, k->klen);
	db_bind_blob(s, 3, k->name, k->nlen);
	db_bind_i64(s, 4, d.ctype);
	db_bind_i64(s, 5, d.cttl);
	db_bind_blob(s, 6, d.chain, d.chainlen);
	db_bind_blob(s, 7, d.sigs, d.siglen);
	db_bind_i64(s, 8, exp);
	return db_run(s);
}

int
dn_resign_add(struct store *st, const uint8_t *owner, size_t olen, const uint8_t *sigs,
              size_t slen, dn_pick_fn pick, const void *ctx, size_t room, struct resign **list)
{
	if (olen > DNS_NAME_MAX || dns_name_check(owner, olen) != (int)olen)
		return -EINVAL;
	int n = 0;
	size_t pos = 0;
	struct dn_sig sg;
	struct resign *first = NULL;   /* the name's key is made once, then copied */
	while ((size_t)n < room && dn_sig_next(sigs, slen, &pos, &sg) == 1) {
		if (sg.rdlen < 18 || !pick(&sg, ctx))
			continue;
		struct resign *e = arena_alloc(&st->arena, sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		if (first == NULL) {
			nkey_set(&e->k, owner);
			first = e;
		} else {
			e->k = first->k;
		}
		e->type = rd_u16(sg.rd);
		e->next = *list;
		*list = e;
		n++;
	}
	return n;
}
