/*
 * One change to a zone inside the write transaction (see store_int.h):
 * validate each op, apply it, remember each touched rrset's rows as they
 * were before the first touch, check the zone rules at every touched name,
 * diff before/after into the journal blobs, and bump the serial once by the
 * zone's policy.  Database access goes through db.h only.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/soa.h"
#include "util/err.h"
#include "util/log.h"
#include "util/hash.h"



int
read_rrset(struct store *st, int64_t zid, const struct nkey *k, uint16_t type, struct row **out,
           size_t *n)
{
	if (dn_type(type))
		return dn_read(st, zid, k, type, out, n);
	struct db_stmt *s = db_q(st->w, DBQ_ROWS_RRSET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_blob(s, 2, k->key, k->klen);
	db_bind_i64(s, 3, type);
	size_t cap = 0, cnt = 0;
	struct row *rows = NULL;
	int rc;
	while ((rc = db_step(s)) == DB_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct row *nr = arena_alloc(&st->arena, ncap * sizeof(*nr));
			if (nr == NULL) {
				db_done(s);
				return -ENOMEM;
			}
			if (cnt)
				memcpy(nr, rows, cnt * sizeof(*nr));
			rows = nr;
			cap = ncap;
		}
		struct row *r = &rows[cnt++];
		r->ttl = (uint32_t)db_col_i64(s, 2);
		r->rdlen = (uint16_t)db_col_bytes(s, 3);
		/* an empty blob reads back as NULL: arena_memdup takes (NULL, 0) */
		r->rd = arena_memdup(&st->arena, db_col_blob(s, 3), r->rdlen);
		r->disabled = db_col_int(s, 4) != 0;
		if (r->rd == NULL) {
			db_done(s);
			return -ENOMEM;
		}
	}
	db_done(s);
	if (rc != DB_DONE)
		return -EIO;
	*out = rows;
	*n = cnt;
	return 0;
}

static uint64_t
touch_hash(const struct nkey *k, uint16_t type)
{
	return hash_fnv1a(k->key, k->klen, type);
}

static bool
touch_same(const struct touched *t, const struct nkey *k, uint16_t type)
{
	return t->type == type && t->k.klen == k->klen && memcmp(t->k.key, k->key, k->klen) == 0;
}

static int
touch_insert(struct change *ch, struct touched *t)
{
	if ((ch->ntouched + 1) * 2 > ch->tab_cap) {
		size_t cap = ch->tab_cap ? ch->tab_cap * 2 : 64;
		struct touched **tab = arena_alloc(&ch->st->arena, cap * sizeof(*tab));
		if (tab == NULL)
			return -ENOMEM;
		memset(tab, 0, cap * sizeof(*tab));
		for (struct touched *o = ch->touched; o != NULL; o = o->next) {
			size_t i = (size_t)touch_hash(&o->k, o->type) & (cap - 1);
			while (tab[i] != NULL)
				i = (i + 1) & (cap - 1);
			tab[i] = o;
		}
		ch->tab = tab;
		ch->tab_cap = cap;
	}
	size_t i = (size_t)touch_hash(&t->k, t->type) & (ch->tab_cap - 1);
	while (ch->tab[i] != NULL)
		i = (i + 1) & (ch->tab_cap - 1);
	ch->tab[i] = t;
	t->next = ch->touched;
	ch->touched = t;
	ch->ntouched++;
	return 0;
}

int
touch(struct change *ch, const struct nkey *k, uint16_t type, const char *label)
{
	if (ch->tab_cap > 0) {
		size_t i = (size_t)touch_hash(k, type) & (ch->tab_cap - 1);
		for (; ch->tab[i] != NULL; i = (i + 1) & (ch->tab_cap - 1))
			if (touch_same(ch->tab[i], k, type))
				return 0;
	}
	struct touched *t = arena_alloc(&ch->st->arena, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->k = *k;
	t->type = type;
	t->label = label;
	/* a zone being created has nothing yet: no need to read */
	if (!ch->creating) {
		int ret = read_rrset(ch->st, ch->z->id, k, type, &t->before, &t->nbefore);
		if (ret != 0)
			return ret;
	}
	return touch_insert(ch, t);
}

int
rec_write(struct store *st, int64_t zid, enum db_qid id, const struct nkey *k, uint16_t type,
          uint32_t ttl, const uint8_t *rd, size_t rdlen, bool disabled)
{
	return rec_write_text(st, zid, id, k, type, ttl, rd, rdlen, disabled, NULL);
}

/*
 * The record's rdata goes in canonical (the unique index and every record
 * comparison use it); when the rdata as written differs (names with their
 * case) or `content` (the text a client sent) is given, they go beside it
 * in record_text, else any earlier such row of an upserted record goes.
 */
int
rec_write_text(struct store *st, int64_t zid, enum db_qid id, const struct nkey *k,
               uint16_t type, uint32_t ttl, const uint8_t *rd, size_t rdlen, bool disabled,
               const char *content)
{
	uint8_t *canon = NULL;
	if (rdlen > 0) {
		canon = arena_memdup(&st->arena, rd, rdlen);
		if (canon == NULL)
			return -ENOMEM;
		dns_rdata_canonicalize(type, canon, rdlen);
	}
	struct db_stmt *s = db_q(st->w, id);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_blob(s, 2, k->key, k->klen);
	db_bind_blob(s, 3, k->name, k->nlen);
	db_bind_i64(s, 4, type);
	db_bind_i64(s, 5, ttl);
	db_bind_blob(s, 6, canon, rdlen);
	db_bind_i64(s, 7, disabled ? 1 : 0);
	int ret = db_run(s);
	bool as_written = rdlen > 0 && memcmp(canon, rd, rdlen) != 0;
	if (ret != 0 || (!as_written && content == NULL && id == DBQ_REC_INSERT))
		return ret;
	s = db_q(st->w, as_written || content != NULL ? DBQ_REC_TEXT_PUT : DBQ_REC_TEXT_DEL);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_blob(s, 2, k->key, k->klen);
	db_bind_i64(s, 3, type);
	db_bind_blob(s, 4, canon, rdlen);
	if (as_written || content != NULL) {
		if (as_written)
			db_bind_blob(s, 5, rd, rdlen);
		if (content != NULL)
			db_bind_text(s, 6, content);
	}
	return db_run(s);
}

int
rrset_delete(struct store *st, int64_t zid, const struct nkey *k, uint16_t type, bool comments)
{
	if (!comments && dn_type(type))
		return dn_write(st, zid, k, type, NULL, 0);
	struct db_stmt *s = db_q(st->w, comments ? DBQ_COMMENTS_DEL : DBQ_RRSET_DELETE);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_blob(s, 2, k->key, k->klen);
	db_bind_i64(s, 3, type);
	return db_run(s);
}

int
zone_serial_set(struct store *st, int64_t zid, uint32_t serial)
{
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_SERIAL);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_i64(s, 2, serial);
	db_bind_i64(s, 3, now_s());
	return db_run(s);
}

/* Current TTL of an rrset (first row), or `def` when empty. */
static uint32_t
rrset_ttl(struct change *ch, const struct nkey *k, uint16_t type, uint32_t def)
{
	struct row *rows;
	size_t n;
	if (read_rrset(ch->st, ch->z->id, k, type, &rows, &n) != 0 || n == 0)
		return def;
	return rows[0].ttl;
}

/* Sorting the records of one op: rdata bytes (shorter first), then index. */
struct rec_ix {
	const uint8_t *rd;
	size_t len, i;
};

static int
rec_ix_cmp(const void *a, const void *b)
{
	const struct rec_ix *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = memcmp(x->rd, y->rd, x->len);
	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Among records[0..n) of `op` (canonical rdata in `rds`), the lowest index
 * *dup whose rdata equals an earlier record's, and the first such earlier
 * record *of (what a pairwise scan in order would report); *dup = n when
 * all differ.  0 or -ENOMEM.
 */
static int
first_duplicate(struct store *st, const struct store_op *op, uint8_t *const *rds, size_t n,
                size_t *dup, size_t *of)
{
	*dup = *of = n;
	if (n < 2)
		return 0;
	struct rec_ix *v = arena_alloc(&st->arena, n * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i].rd = rds[i];
		v[i].len = op->recs[i].rdlen;
		v[i].i = i;
	}
	qsort(v, n, sizeof(*v), rec_ix_cmp);
	/* In a run of equal rdata the indexes ascend: its second is the first
	 * duplicate of the run, its first what it duplicates. */
	for (size_t k = 1; k < n; k++) {
		if (v[k].len == v[k - 1].len && memcmp(v[k].rd, v[k - 1].rd, v[k].len) == 0 &&
		    v[k].i < *dup && (k < 2 || v[k - 1].len != v[k - 2].len ||
		                      memcmp(v[k - 1].rd, v[k - 2].rd, v[k].len) != 0)) {
			*dup = v[k].i;
			*of = v[k - 1].i;
		}
	}
	return 0;
}

/*
 * Checks op `op` (name inside the zone, type, SOA rules, TTL range, no
 * duplicate or disabled-SOA record) and gives its owner's key and its
 * records' canonical rdata (arena).  0, -EINVAL (err) or -ENOMEM.
 */
static int
op_check(struct change *ch, const struct store_op *op, struct nkey *kp, uint8_t ***rdsp)
{
	struct nkey k;
	char *err = ch->err;
	size_t errcap = ch->errcap;
	if (dns_name_check(op->owner, DNS_NAME_MAX) <= 0) {
		set_err(err, errcap, "%s: bad name", op->label);
		return -EINVAL;
	}
	nkey_set(&k, op->owner);
	char owner_text[DNS_NAME_TEXT_MAX];
	dns_name_to_text(k.name, owner_text, sizeof(owner_text));
	if (!dns_name_is_sub(k.name, ch->apex.name)) {
		set_err(err, errcap, "%s: name '%s' is not inside zone '%s'", op->label, owner_text,
		        ch->z->text);
		return -EINVAL;
	}
	if (op->type == 0 || dns_rrtype_is_meta(op->type)) {
		set_err(err, errcap, "%s: type %u cannot be stored in a zone", op->label, op->type);
		return -EINVAL;
	}
	bool apex = dns_name_equal(k.name, ch->apex.name);
	if (op->type == DNS_T_SOA && !apex) {
		set_err(err, errcap, "%s: SOA record '%s' is not at the zone apex", op->label,
		        owner_text);
		return -EINVAL;
	}
	if (op->type == DNS_T_SOA && op->kind == STORE_OP_DELETE) {
		set_err(err, errcap, "%s: deleting the SOA of '%s' is not allowed", op->label,
		        ch->z->text);
		return -EINVAL;
	}
	if ((op->kind == STORE_OP_REPLACE || op->kind == STORE_OP_EXTEND) && op->has_ttl &&
	    op->ttl > INT32_MAX) {
		set_err(err, errcap, "%s: TTL %u out of range 0..2147483647", op->label, op->ttl);
		return -EINVAL;
	}
	/* canonical rdata, and no duplicates inside the op */
	int ret;
	uint8_t **rds = NULL;
	if (op->nrecs > 0) {
		rds = arena_alloc(&ch->st->arena, op->nrecs * sizeof(*rds));
		if (rds == NULL)
			return -ENOMEM;
	}
	size_t soa_disabled = op->nrecs;
	for (size_t i = 0; i < op->nrecs; i++) {
		const struct store_rec *r = &op->recs[i];
		rds[i] = arena_memdup(&ch->st->arena, r->rdata, r->rdlen);
		if (rds[i] == NULL)
			return -ENOMEM;
		dns_rdata_canonicalize(op->type, rds[i], r->rdlen);
		if (op->type == DNS_T_SOA && r->disabled) {
			soa_disabled = i;
			break;
		}
	}
	/* The first record equal to an earlier one, found by sorting: O(n log n). */
	size_t dup, dup_of;
	ret = first_duplicate(ch->st, op, rds, soa_disabled, &dup, &dup_of);
	if (ret != 0)
		return ret;
	if (dup < soa_disabled) {
		set_err(err, errcap, "%s.records[%zu]: duplicate record (same as records[%zu])",
		        op->label, dup, dup_of);
		return -EINVAL;
	}
	if (soa_disabled < op->nrecs) {
		set_err(err, errcap, "%s.records[%zu]: the SOA cannot be disabled", op->label,
		        soa_disabled);
		return -EINVAL;
	}
	*kp = k;
	*rdsp = rds;
	return 0;
}

static int apply_op(struct change *ch, const struct store_op *op);

/*
 * STORE_OP_DELETE_NAME: a STORE_OP_DELETE of every type at the owner (the
 * SOA and NS stay at the apex), each through apply_op, so each rrset is
 * touched, checked and diffed like any other delete.
 */
static int
delete_name(struct change *ch, const struct store_op *op)
{
	if (dns_name_check(op->owner, DNS_NAME_MAX) <= 0 ||
	    !dns_name_is_sub(op->owner, ch->apex.name)) {
		set_err(ch->err, ch->errcap, "%s: name is not inside zone '%s'", op->label,
		        ch->z->text);
		return -EINVAL;
	}
	struct nkey k;
	nkey_set(&k, op->owner);
	bool apex = dns_name_equal(k.name, ch->apex.name);
	struct db_stmt *s = db_q(ch->st->w, DBQ_OWNER_TYPES_ALL);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, ch->z->id);
	db_bind_blob(s, 2, k.key, k.klen);
	uint16_t types[256];
	size_t n = 0;
	int rc;
	while ((rc = db_step(s)) == DB_ROW) {
		uint16_t t = (uint16_t)db_col_int(s, 0);
		/* RRSIG/NSEC/NSEC3 live in dnssec_names (schema 0012): the signer
		 * drops this name's after the delete (an unsigned zone's, a
		 * background signing's staged ones, its last step) */
		if (!(apex && (t == DNS_T_SOA || t == DNS_T_NS)) && n < 256)
			types[n++] = t;
	}
	db_done(s);
	if (rc != DB_DONE)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		/* in the arena: the touched rrset keeps pointing at its label */
		struct store_op *d = arena_alloc(&ch->st->arena, sizeof(*d));
		if (d == NULL)
			return -ENOMEM;
		*d = *op;
		d->kind = STORE_OP_DELETE;
		d->type = types[i];
		d->nrecs = 0;
		int ret = apply_op(ch, d);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* An SOA op's serial against the zone's SOA: 1 when newer (RFC 1982), 0 when
 * not (or when it cannot be read: op_check then names the fault), -errno. */
static int
soa_newer(struct change *ch, const struct store_op *op)
{
	struct row *cur;
	size_t ncur;
	int ret = read_rrset(ch->st, ch->z->id, &ch->apex, DNS_T_SOA, &cur, &ncur);
	if (ret != 0)
		return ret;
	struct dns_soa a, b;
	if (ncur != 1 || op->nrecs != 1 || dns_soa_parse(cur->rd, cur->rdlen, &a) != 0 ||
	    dns_soa_parse(op->recs[0].rdata, op->recs[0].rdlen, &b) != 0)
		return 1;
	return dns_serial_gt(b.serial, a.serial) ? 1 : 0;
}

static int
apply_op(struct change *ch, const struct store_op *op)
{
	struct nkey k;
	uint8_t **rds = NULL;
	char *err = ch->err;
	size_t errcap = ch->errcap;
	if (op->kind == STORE_OP_DELETE_NAME)
		return delete_name(ch, op);
	if (op->soa_if_newer && op->type == DNS_T_SOA) {
		int newer = soa_newer(ch, op);
		if (newer <= 0)
			return newer;   /* 0: not newer, skipped (RFC 2136 §3.4.2.2) */
	}
	int ret = op_check(ch, op, &k, &rds);
	if (ret != 0)
		return ret;
	ret = touch(ch, &k, op->type, op->label);
	if (ret != 0)
		return ret;
	switch (op->kind) {
	case STORE_OP_DELETE:
		ret = rrset_delete(ch->st, ch->z->id, &k, op->type, false);
		if (ret == 0)
			ret = rrset_delete(ch->st, ch->z->id, &k, op->type, true);
		break;
	case STORE_OP_REPLACE:
		if (op->keep_records) {
			/* PowerDNS: "records" absent leaves them; a TTL given still applies */
			if (op->has_ttl) {
				struct db_stmt *s = db_q(ch->st->w, DBQ_RRSET_TTL);
				if (s == NULL)
					return -EIO;
				db_bind_i64(s, 1, ch->z->id);
				db_bind_blob(s, 2, k.key, k.klen);
				db_bind_i64(s, 3, op->type);
				db_bind_i64(s, 4, op->ttl);
				ret = db_run(s);
			}
		} else {
			ret = rrset_delete(ch->st, ch->z->id, &k, op->type, false);
		}
		for (size_t i = 0; i < op->nrecs && ret == 0; i++)
			ret = rec_write_text(ch->st, ch->z->id, DBQ_REC_INSERT, &k, op->type,
			                     op->has_ttl ? op->ttl : 3600, op->recs[i].rdata,
			                     op->recs[i].rdlen, op->recs[i].disabled,
			                     op->recs[i].content);
		if (ret == 0 && op->has_comments) {
			ret = rrset_delete(ch->st, ch->z->id, &k, op->type, true);
			for (size_t i = 0; i < op->ncomments && ret == 0; i++) {
				const struct store_comment *c = &op->comments[i];
				struct db_stmt *s = db_q(ch->st->w, DBQ_COMMENT_INSERT);
				if (s == NULL)
					return -EIO;
				db_bind_i64(s, 1, ch->z->id);
				db_bind_blob(s, 2, k.key, k.klen);
				db_bind_i64(s, 3, op->type);
				db_bind_text(s, 4, c->content ? c->content : "");
				db_bind_text(s, 5, c->account ? c->account : "");
				db_bind_i64(s, 6, c->modified_at ? c->modified_at : now_s());
				ret = db_run(s);
			}
		}
		break;
	case STORE_OP_EXTEND: {
		uint32_t ttl = op->has_ttl ? op->ttl : rrset_ttl(ch, &k, op->type, 3600);
		for (size_t i = 0; i < op->nrecs && ret == 0; i++)
			ret = rec_write_text(ch->st, ch->z->id, DBQ_REC_UPSERT, &k, op->type, ttl,
			                     op->recs[i].rdata, op->recs[i].rdlen,
			                     op->recs[i].disabled, op->recs[i].content);
		if (ret == 0 && op->nrecs > 0) {
			struct db_stmt *s = db_q(ch->st->w, DBQ_RRSET_TTL);
			if (s == NULL)
				return -EIO;
			db_bind_i64(s, 1, ch->z->id);
			db_bind_blob(s, 2, k.key, k.klen);
			db_bind_i64(s, 3, op->type);
			db_bind_i64(s, 4, ttl);
			ret = db_run(s);
		}
		break;
	}
	case STORE_OP_PRUNE:
		for (size_t i = 0; i < op->nrecs && ret == 0; i++) {
			struct db_stmt *s = db_q(ch->st->w, DBQ_REC_DELETE);
			if (s == NULL)
				return -EIO;
			db_bind_i64(s, 1, ch->z->id);
			db_bind_blob(s, 2, k.key, k.klen);
			db_bind_i64(s, 3, op->type);
			db_bind_blob(s, 4, rds[i], op->recs[i].rdlen);
			ret = db_run(s);
		}
		break;
	default:
		set_err(err, errcap, "%s: unknown changetype", op->label);
		return -EINVAL;
	}
	if (ret == -EEXIST) {
		set_err(err, errcap, "%s: duplicate record", op->label);
		return -EINVAL;
	}
	return ret;
}

/* Checks the zone rules at one touched name. */
static int
check_name(struct change *ch, struct touched *t)
{
	struct db_stmt *s = db_q(ch->st->w, DBQ_OWNER_TYPES);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, ch->z->id);
	db_bind_blob(s, 2, t->k.key, t->k.klen);
	int64_t cname = 0, other = 0, soa = 0, ns = 0;
	int rc;
	while ((rc = db_step(s)) == DB_ROW) {
		int type = db_col_int(s, 0);
		int64_t n = db_col_i64(s, 1);
		if (type == DNS_T_CNAME)
			cname = n;
		else if (type != DNS_T_RRSIG && type != DNS_T_NSEC)
			other += n;
		if (type == DNS_T_SOA)
			soa = n;
		if (type == DNS_T_NS)
			ns = n;
	}
	db_done(s);
	if (rc != DB_DONE)
		return -EIO;
	char owner[DNS_NAME_TEXT_MAX];
	dns_name_to_text(t->k.name, owner, sizeof(owner));
	bool apex = dns_name_equal(t->k.name, ch->apex.name);
	if (cname > 0 && apex) {
		set_err(ch->err, ch->errcap, "%s: CNAME not allowed at the zone apex '%s'", t->label,
		        owner);
		return -EINVAL;
	}
	if (cname > 1) {
		set_err(ch->err, ch->errcap, "%s: more than one CNAME record at '%s'", t->label, owner);
		return -EINVAL;
	}
	if (cname > 0 && other > 0) {
		set_err(ch->err, ch->errcap, "%s: CNAME at '%s' conflicts with other records there",
		        t->label, owner);
		return -EINVAL;
	}
	if (apex && t->type == DNS_T_SOA && soa != 1) {
		set_err(ch->err, ch->errcap, "%s: zone '%s' must have exactly one SOA record, not %" PRId64,
		        t->label, ch->z->text, soa);
		return -EINVAL;
	}
	if (apex && t->type == DNS_T_NS && ns == 0 && t->nbefore > 0) {
		set_err(ch->err, ch->errcap, "%s: the NS records at the apex of '%s' cannot all be removed",
		        t->label, ch->z->text);
		return -EINVAL;
	}
	return 0;
}

/* Total order on rows: rdata (shorter first), TTL, then disabled. */
static int
row_cmp(const struct row *a, const struct row *b)
{
	if (a->rdlen != b->rdlen)
		return a->rdlen < b->rdlen ? -1 : 1;
	int c = memcmp(a->rd, b->rd, a->rdlen);
	if (c != 0)
		return c;
	if (a->ttl != b->ttl)
		return a->ttl < b->ttl ? -1 : 1;
	return (int)a->disabled - (int)b->disabled;
}

static int
row_ptr_cmp(const void *a, const void *b)
{
	return row_cmp(*(const struct row *const *)a, *(const struct row *const *)b);
}

/* Pointers to rows[0..n) in row_cmp order (arena), so lookups are O(log n). */
static const struct row **
rows_sorted(struct store *st, const struct row *rows, size_t n)
{
	const struct row **v = arena_alloc(&st->arena, (n ? n : 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = &rows[i];
	qsort(v, n, sizeof(*v), row_ptr_cmp);
	return v;
}

/* Whether `set` (n rows sorted by rows_sorted) holds a row equal to `r`:
 * same rdata, TTL and disabled flag. */
static bool
row_in(const struct row *r, const struct row *const *set, size_t n)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = row_cmp(set[mid], r);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Diffs every touched rrset but the SOA, before against after: enabled rows
 * that went away into `rem`, new enabled ones into `add` (canonical wire
 * RRs).  `*changed` tells whether any row differs (a disabled one too);
 * `*soa_t` is the touched SOA rrset, if any.
 */
static int
diff_touched(struct change *ch, const struct touched *stop, struct buf *rem, struct buf *add,
             bool *changed, const struct touched **soa_t)
{
	struct store *st = ch->st;
	for (struct touched *t = ch->touched; t != NULL && t != stop; t = t->next) {
		struct row *after;
		size_t nafter;
		int ret = read_rrset(st, ch->z->id, &t->k, t->type, &after, &nafter);
		if (ret != 0)
			return ret;
		if (t->type == DNS_T_SOA) {
			*soa_t = t;
			if (nafter != t->nbefore || (nafter == 1 && row_cmp(&after[0], &t->before[0]) != 0))
				*changed = true;
			continue;
		}
		/* Each side sorted once, the other probed in its own order (the
		 * journal keeps the rows' order): O(n log n) for n records. */
		const struct row **sb = rows_sorted(st, t->before, t->nbefore);
		const struct row **sa = rows_sorted(st, after, nafter);
		if (sb == NULL || sa == NULL)
			return -ENOMEM;
		/* A row missing from the other side is a change; an enabled one is
		 * also a visible removal or addition (its exact match would be an
		 * enabled row with the same rdata and TTL). */
		for (size_t i = 0; i < t->nbefore; i++) {
			if (row_in(&t->before[i], sa, nafter))
				continue;
			*changed = true;
			if (!t->before[i].disabled)
				buf_rr(rem, t->k.name, t->type, t->before[i].ttl, t->before[i].rd,
				       t->before[i].rdlen);
		}
		for (size_t i = 0; i < nafter; i++) {
			if (row_in(&after[i], sb, t->nbefore))
				continue;
			*changed = true;
			if (!after[i].disabled)
				buf_rr(add, t->k.name, t->type, after[i].ttl, after[i].rd, after[i].rdlen);
		}
	}
	return 0;
}

/*
 * The serial policy: the new serial follows the zone's policy from the old
 * SOA's (a client that set a higher serial itself keeps it).  Rewrites the
 * SOA with it and the zone row's serial.  `*old_soa`/`*new_soa` give the
 * SOA rows before and after (arena), for the journal.
 */
static int
bump_serial(struct change *ch, const struct touched *soa_t, const struct row **old_soa,
            struct row *new_soa, uint32_t *old_serial, uint32_t *new_serial)
{
	struct store *st = ch->st;
	struct row *cur;
	size_t ncur;
	int ret = read_rrset(st, ch->z->id, &ch->apex, DNS_T_SOA, &cur, &ncur);
	if (ret != 0)
		return ret;
	if (ncur != 1) {
		set_err(ch->err, ch->errcap, "zone '%s' must have exactly one SOA record", ch->z->text);
		return -EINVAL;
	}
	/* the SOA: old one from before (the zone row's serial), new one as now stored */
	*old_soa = cur;
	if (soa_t != NULL && soa_t->nbefore == 1)
		*old_soa = &soa_t->before[0];
	struct dns_soa so_old, so_new;
	if (dns_soa_parse((*old_soa)->rd, (*old_soa)->rdlen, &so_old) != 0 ||
	    dns_soa_parse(cur->rd, cur->rdlen, &so_new) != 0) {
		set_err(ch->err, ch->errcap, "zone '%s' has a malformed SOA record", ch->z->text);
		return -EINVAL;
	}
	*old_serial = so_old.serial;
	uint32_t next = dns_serial_next(ch->z->policy, *old_serial, time(NULL));
	uint32_t given = so_new.serial;
	if (given != *old_serial && dns_serial_gt(given, next))
		next = given;    /* a client that set a higher serial itself keeps it */
	*new_soa = *cur;
	new_soa->rd = arena_memdup(&st->arena, cur->rd, cur->rdlen);
	if (new_soa->rd == NULL)
		return -ENOMEM;
	put32(new_soa->rd + so_new.serial_off, next);
	ret = rrset_delete(st, ch->z->id, &ch->apex, DNS_T_SOA, false);
	if (ret == 0)
		ret = rec_write(st, ch->z->id, DBQ_REC_INSERT, &ch->apex, DNS_T_SOA, cur->ttl,
		                new_soa->rd, cur->rdlen, false);
	if (ret == 0)
		ret = zone_serial_set(st, ch->z->id, next);
	*new_serial = next;
	return ret;
}

/*
 * Checks the zone rules at every touched name, diffs every touched rrset,
 * and when anything changed bumps the serial and writes the journal row.
 */
static int
finish_change(struct change *ch, struct store_result *res)
{
	struct store *st = ch->st;
	struct buf rem = {0}, add = {0};
	bool changed = ch->full || ch->keys || ch->resign != NULL;
	int ret = 0;
	const struct touched *soa_t = NULL;
	for (struct touched *t = ch->touched; t != NULL; t = t->next) {
		ret = check_name(ch, t);
		if (ret != 0)
			return ret;
	}
	res->old_serial = res->new_serial = ch->z->serial;
	if (ch->creating) {
		res->changed = true;
		return ch->full ? sign_change(ch) : 0;
	}
	ret = diff_touched(ch, NULL, &rem, &add, &changed, &soa_t);
	res->changed = changed;
	if (ret != 0 || !changed)
		goto out;
	const struct row *old_soa;
	struct row new_soa;
	uint32_t from, to;
	ret = bump_serial(ch, soa_t, &old_soa, &new_soa, &from, &to);
	if (ret != 0)
		goto out;
	if (ch->z->dnssec) {
		/* the signatures and chain records join the same journal entry */
		struct touched *user = ch->touched;
		ret = sign_change(ch);
		if (ret == 0)
			ret = diff_touched(ch, user, &rem, &add, &changed, &soa_t);
		if (ret != 0)
			goto out;
	}
	res->old_serial = from;
	res->new_serial = to;
	ret = journal_write(st, ch->z->id, ch->apex.name, from, to, old_soa, &new_soa, &rem, &add);
	if (ret != 0)
		goto out;
	pending_add(st, ch->apex.name, from, to,
	            ch->z->is_catalog ? STORE_CATALOG_CHANGED : STORE_ZONE_CHANGED);
out:
	free(rem.p);
	free(add.p);
	return ret;
}

/* Touches and deletes every DNSSEC record of ch->z (RRSIG, NSEC*, DNSKEY, CDS, CDNSKEY). */
static int
drop_signed(struct change *ch)
{
	struct store *st = ch->st;
	struct db_stmt *s = db_q(st->w, DBQ_SIGNED_ROWS);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, ch->z->id);
	int rc, ret = 0;
	/* touched first (reads of their own), deleted after the scan */
	while (ret == 0 && (rc = db_step(s)) == DB_ROW) {
		size_t nl = db_col_bytes(s, 1);
		uint8_t nm[DNS_NAME_MAX];
		if (nl > sizeof(nm) || dns_name_check(db_col_blob(s, 1), nl) != (int)nl) {
			ret = -EIO;
			break;
		}
		memcpy(nm, db_col_blob(s, 1), nl);
		struct nkey k;
		nkey_set(&k, nm);
		ret = touch(ch, &k, (uint16_t)db_col_int(s, 2), "dnssec");
	}
	db_done(s);
	if (ret == 0 && rc != DB_DONE)
		ret = -EIO;
	for (struct touched *t = ch->touched; t != NULL && ret == 0; t = t->next)
		ret = rrset_delete(st, ch->z->id, &t->k, t->type, false);
	return ret;
}

int
unsign_zone(struct store *st, const struct store_zone *z, struct store_result *res, char *err,
            size_t errcap)
{
	struct store_zone plain = *z;
	plain.dnssec = plain.nsec3 = false;
	struct change ch = {.st = st, .z = &plain, .err = err, .errcap = errcap};
	nkey_set(&ch.apex, z->name);
	int ret = drop_signed(&ch);
	if (ret == 0)
		ret = finish_change(&ch, res);
	return ret;
}

int
rechain_zone(struct store *st, const struct store_zone *z, struct store_result *res, char *err,
             size_t errcap)
{
	struct change ch = {.st = st, .z = z, .full = true, .err = err, .errcap = errcap};
	nkey_set(&ch.apex, z->name);
	int ret = drop_signed(&ch);
	if (ret == 0)
		ret = finish_change(&ch, res);
	return ret;
}

int
resign_rrsets(struct store *st, const struct store_zone *z, struct resign *list, bool keys,
              struct store_result *res, char *err, size_t errcap)
{
	struct change ch = {.st = st, .z = z, .resign = list, .keys = keys, .err = err,
	                    .errcap = errcap};
	nkey_set(&ch.apex, z->name);
	return finish_change(&ch, res);
}

int
sign_zone_full(struct store *st, const struct store_zone *z, bool creating,
               struct store_result *res, char *err, size_t errcap)
{
	struct change ch = {.st = st, .z = z, .creating = creating, .full = true, .err = err,
	                    .errcap = errcap};
	nkey_set(&ch.apex, z->name);
	return finish_change(&ch, res);
}

int
finish_staged(struct change *ch, struct store_result *res)
{
	struct store *st = ch->st;
	const struct row *old_soa;
	struct row new_soa;
	uint32_t from, to;
	int ret = bump_serial(ch, NULL, &old_soa, &new_soa, &from, &to);
	if (ret == 0)
		ret = sign_change(ch);
	/* no journal entry: the zone's journal goes, so a secondary asking for an
	 * IXFR from before gets the signed zone by AXFR (the delta is the zone) */
	struct db_stmt *s = ret == 0 ? db_q(st->w, DBQ_JOURNAL_DROP) : NULL;
	if (ret == 0 && s == NULL)
		ret = -EIO;
	if (ret == 0) {
		db_bind_i64(s, 1, ch->z->id);
		ret = db_run(s) == 0 ? 0 : -EIO;
	}
	if (ret == 0) {
		res->changed = true;
		res->old_serial = from;
		res->new_serial = to;
		pending_add(st, ch->apex.name, from, to, STORE_ZONE_CHANGED);
	}
	return ret;
}

int
apply_ops(struct store *st, const struct store_zone *z, const struct store_op *ops, size_t nops,
          bool creating, struct store_result *res, char *err, size_t errcap)
{
	struct change ch = {.st = st, .z = z, .creating = creating, .err = err, .errcap = errcap};
	nkey_set(&ch.apex, z->name);
	for (size_t i = 0; i < nops; i++) {
		int ret = apply_op(&ch, &ops[i]);
		if (ret != 0)
			return ret;
	}
	return finish_change(&ch, res);
}

/* ---- DNS UPDATE prerequisites ---- */

static int
rd_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	return memcmp(x->rd, y->rd, x->rdlen);
}

/* Sorts rows by rdata and drops repeats and disabled rows; the new count. */
static size_t
rd_set(struct row *v, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!v[i].disabled)
			v[m++] = v[i];
	if (m > 1)   /* v is NULL for an empty rrset: qsort must not see it */
		qsort(v, m, sizeof(*v), rd_cmp);
	size_t u = 0;
	for (size_t i = 0; i < m; i++)
		if (u == 0 || rd_cmp(&v[u - 1], &v[i]) != 0)
			v[u++] = v[i];
	return u;
}

/* Whether one prerequisite holds: 1, 0, or a negative code. */
static int
prereq_holds(struct store *st, const struct store_zone *z, const struct store_prereq *p)
{
	struct nkey k;
	nkey_set(&k, p->owner);
	if (p->kind == STORE_PRQ_YXDOMAIN || p->kind == STORE_PRQ_NXDOMAIN) {
		struct db_stmt *s = db_q(st->w, DBQ_OWNER_TYPES);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, z->id);
		db_bind_blob(s, 2, k.key, k.klen);
		int rc = db_step(s);
		db_done(s);
		if (rc != DB_ROW && rc != DB_DONE)
			return -EIO;
		return (rc == DB_ROW) == (p->kind == STORE_PRQ_YXDOMAIN);
	}
	struct row *rows;
	size_t n;
	int ret = read_rrset(st, z->id, &k, p->type, &rows, &n);
	if (ret != 0)
		return ret;
	n = rd_set(rows, n);
	if (p->kind == STORE_PRQ_YXRRSET)
		return n > 0;
	if (p->kind == STORE_PRQ_NXRRSET)
		return n == 0;
	struct row *want = arena_alloc(&st->arena, (p->nrecs ? p->nrecs : 1) * sizeof(*want));
	if (want == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < p->nrecs; i++) {
		want[i] = (struct row){.rdlen = p->recs[i].rdlen};
		want[i].rd = arena_memdup(&st->arena, p->recs[i].rdata, p->recs[i].rdlen);
		if (want[i].rd == NULL && p->recs[i].rdlen > 0)
			return -ENOMEM;
		dns_rdata_canonicalize(p->type, want[i].rd, want[i].rdlen);
	}
	size_t nw = rd_set(want, p->nrecs);
	if (nw != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (rd_cmp(&want[i], &rows[i]) != 0)
			return 0;
	return 1;
}

int
prereqs_check(struct store *st, const struct store_zone *z, const struct store_prereq *pre,
              size_t n, size_t *failed)
{
	for (size_t i = 0; i < n; i++) {
		int ret = prereq_holds(st, z, &pre[i]);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			*failed = i;
			return -ECANCELED;
		}
	}
	return 0;
}

/* ---- zone rows (creation goes through here: store_zone, store_catalog) ---- */

/* Writes zone `id`'s lookup key (schema 0004) for name `low` (wire, lower-case).  0 or -EIO. */
int
lkey_insert(struct store *st, int64_t id, const uint8_t *low)
{
	uint8_t key[DNS_LOOKUP_MAX];
	size_t klen = dns_name_to_lookup(low, key);
	struct db_stmt *s = db_q(st->w, DBQ_LKEY_INSERT);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, id);
	db_bind_blob(s, 2, key, klen);
	return db_run(s) == 0 ? 0 : -EIO;
}

int
zone_insert(struct store *st, const uint8_t *name, const char *kind, const char *account,
            enum dns_serial_policy policy, uint32_t serial, bool is_catalog, struct store_zone *z)
{
	uint8_t low[DNS_NAME_MAX];
	size_t nl = dns_name_len(name);
	memcpy(low, name, nl);
	dns_name_lower(low);
	char text[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(low, text, sizeof(text)) < 0)
		return -EINVAL;
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_INSERT);
	if (s == NULL)
		return -EIO;
	db_bind_text(s, 1, text);
	db_bind_blob(s, 2, low, nl);
	db_bind_text(s, 3, kind);
	db_bind_text(s, 4, account);
	db_bind_text(s, 5, dns_serial_policy_name(policy));
	db_bind_i64(s, 6, serial);
	db_bind_i64(s, 7, is_catalog ? 1 : 0);
	db_bind_i64(s, 8, now_s());
	int ret = db_run(s);
	if (ret == -EEXIST)
		return -EEXIST;
	if (ret != 0)
		return -EIO;
	ret = lkey_insert(st, db_last_id(st->w), low);
	if (ret != 0)
		return ret;
	return zone_get(st->w, low, z);
}
