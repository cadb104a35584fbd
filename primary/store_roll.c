/*
 * ZSK pre-publish rollover (issue 15), Knot's per-key timestamp model
 * (schema 0005 dnssec_keys: t_active, t_retire, t_remove), one step a
 * resigner pass (store_zone_roll), each step one transaction:
 *   start    (API, or the active ZSK older than --dnssec-zsk-lifetime) a new
 *            ZSK is published inactive with t_active = now + DNSKEY TTL +
 *            propagation delay: only the DNSKEY rrset changes, one serial;
 *   activate at t_active the new ZSK signs and the old one is retired
 *            (published, signing nothing), t_remove planned;
 *   re-sign  each step re-signs at most `batch` rrsets still signed by the
 *            retired key, one small serial each, and pushes t_remove to at
 *            least now + the zone's largest TTL + propagation delay;
 *   remove   at t_remove, with no signature of it left, the retired key is
 *            deleted: the DNSKEY rrset changes, one serial.
 * So every RRSIG at serial N is made by a key published at N-1 or before.
 * Only ZSKs (flag 256 beside an active KSK or CSK) are rolled here; a KSK or
 * CSK retired by store_ksk.c (each pass tries its steps first) leaves through
 * the same retired-key steps: its signatures dropped in batches, then deleted.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "primary/dn_rows.h"
#include "util/log.h"

/* A key's rollover view. */
struct kt {
	int64_t id;
	uint16_t flags, tag;
	uint8_t alg;
	bool published, active;
	int64_t t_active, t_retire, t_remove;
};

struct roll {
	struct kt keys[ZKEYS_MAX];
	size_t n;
	struct kt *cur;    /* the active ZSK */
	struct kt *next;   /* published, inactive, t_active planned: incoming */
	struct kt *old;    /* published, inactive, t_remove planned: outgoing */
	bool sep;          /* an active KSK or CSK */
	int64_t now;
	uint32_t max_ttl;
};

static int
roll_load(struct store *st, int64_t zid, struct roll *r)
{
	memset(r, 0, sizeof(*r));
	r->now = now_s();
	struct db_stmt *s = db_q(st->w, DBQ_KEY_TIMES);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	int rc;
	while ((rc = db_step(s)) == DB_ROW && r->n < ZKEYS_MAX) {
		struct kt *k = &r->keys[r->n++];
		k->id = db_col_i64(s, 0);
		k->flags = (uint16_t)db_col_int(s, 1);
		k->alg = (uint8_t)db_col_int(s, 2);
		k->published = db_col_int(s, 3) != 0;
		k->active = db_col_int(s, 4) != 0;
		k->t_active = db_col_i64(s, 5);
		k->t_retire = db_col_i64(s, 6);
		k->t_remove = db_col_i64(s, 7);
		k->tag = (uint16_t)db_col_int(s, 8);
	}
	db_done(s);
	if (rc < 0)
		return -EIO;
	for (size_t i = 0; i < r->n; i++) {
		struct kt *k = &r->keys[i];
		bool sep = (k->flags & DNS_DNSSEC_FLAG_SEP) != 0;
		r->sep |= sep && k->active;
		if (!sep && k->active && k->published && r->cur == NULL)
			r->cur = k;
		else if (!sep && !k->active && k->published && k->t_active > 0 &&
		         k->t_retire == 0 && r->next == NULL)
			r->next = k;
		else if (!k->active && k->published && k->t_remove > 0 && r->old == NULL)
			r->old = k;   /* a retired ZSK, or a KSK/CSK retired by store_ksk.c */
	}
	s = db_q(st->w, DBQ_ZONE_MAX_TTL);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	rc = db_step(s);
	if (rc == DB_ROW)
		r->max_ttl = (uint32_t)db_col_i64(s, 0);
	db_done(s);
	return rc == DB_ROW ? 0 : -EIO;
}

static int
times_set(struct store *st, int64_t zid, const struct kt *k)
{
	struct db_stmt *s = db_q(st->w, DBQ_KEY_TIMES_SET);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_i64(s, 2, k->id);
	db_bind_i64(s, 3, k->published ? 1 : 0);
	db_bind_i64(s, 4, k->active ? 1 : 0);
	db_bind_i64(s, 5, k->t_active);
	db_bind_i64(s, 6, k->t_retire);
	db_bind_i64(s, 7, k->t_remove);
	return db_run(s) == 0 ? 0 : -EIO;
}

/* 1 when key `id`'s tag is another key's of the zone too, 0 when not, <0. */
static int
tag_clash(struct store *st, int64_t zid, int64_t id)
{
	struct roll t;
	int ret = roll_load(st, zid, &t);
	if (ret != 0)
		return ret;
	for (size_t i = 0; i < t.n; i++)
		for (size_t j = 0; j < t.n; j++)
			if (t.keys[i].id == id && t.keys[j].id != id && t.keys[j].tag == t.keys[i].tag)
				return 1;
	return 0;
}

int
zkey_create_unique(struct store *st, int64_t zid, const char *keytype, uint8_t alg, bool active,
                   int64_t *id)
{
	int ret = 0;
	*id = 0;
	for (int tries = 0; ret == 0 && tries < 8; tries++) {
		ret = zkey_create(st, zid, keytype, alg, active, true, id);
		int clash = ret == 0 ? tag_clash(st, zid, *id) : 0;
		if (clash <= 0) {
			ret = ret != 0 ? ret : clash;
			break;
		}
		/* a retired key's signatures are found by tag: never two keys with one */
		struct db_stmt *s = db_q(st->w, DBQ_KEY_DELETE);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, zid);
		db_bind_i64(s, 2, *id);
		ret = db_run(s) == 0 ? 0 : -EIO;
		*id = 0;
	}
	return ret == 0 && *id == 0 ? -EIO : ret;
}

/* Publishes a new ZSK next to r->cur, active after the DNSKEY TTL + delay. */
static int
roll_start(struct store *st, const struct store_zone *z, struct roll *r,
           struct store_result *res, char *err, size_t errcap)
{
	if (r->cur == NULL || !r->sep) {
		set_err(err, errcap, "zone '%s' has no active ZSK beside an active KSK or CSK to "
		        "roll", z->text);
		return -EINVAL;
	}
	if (r->next != NULL || r->old != NULL) {
		set_err(err, errcap, "zone '%s' has a ZSK rollover under way", z->text);
		return -EEXIST;
	}
	if (r->n >= ZKEYS_MAX - 1) {
		set_err(err, errcap, "zone '%s' has %zu keys already, the most allowed", z->text, r->n);
		return -EINVAL;
	}
	struct kt k = {.published = true,
	               .t_active = r->now + st->dnskey_ttl + st->roll_delay};
	int ret = zkey_create_unique(st, z->id, "zsk", r->cur->alg, false, &k.id);
	if (ret == 0)
		ret = times_set(st, z->id, &k);
	if (ret == 0)
		ret = resign_rrsets(st, z, NULL, true, res, err, errcap);
	return ret;
}

/* A signature of the retired key (`ctx`: its struct kt). */
static bool
sig_of(const struct dn_sig *s, const void *ctx)
{
	const struct kt *k = ctx;
	return rd_u16(s->rd + 16) == k->tag && s->rd[2] == k->alg;
}

/* Names a query of the walk reads. */
#define WALK_ROWS 512

/* The walk of retired key `kt` of zone `zid` (a new one from the zone's
 * start when none is kept). */
static struct roll_walk *
walk_of(struct store *st, int64_t zid, int64_t key_id)
{
	for (size_t i = 0; i < ROLL_WALKS; i++)
		if (st->walks[i].zid == zid && st->walks[i].key_id == key_id)
			return &st->walks[i];
	struct roll_walk *w = &st->walks[st->walk_next++ % ROLL_WALKS];
	memset(w, 0, sizeof(*w));
	w->zid = zid;
	w->key_id = key_id;
	return w;
}

/* A step that did not commit: what its walk passed was not re-signed after all. */
static void
walks_forget(struct store *st, int64_t zid)
{
	for (size_t i = 0; i < ROLL_WALKS; i++)
		if (st->walks[i].zid == zid)
			st->walks[i].zid = 0;
}

/*
 * At most `batch` rrsets still signed by r->old into a re-sign list
 * (arena): the names of dnssec_names in key order from where the last step
 * stopped.  Everything before that point holds no signature of the retired
 * key (the last steps re-signed what they found, and a retired key signs
 * nothing new), so a walk that reaches the zone's end finding none is the
 * end of the key's signatures; a walk lost (a restart, another zone's
 * rollover taking its slot) starts over from the zone's start.
 */
static int
old_sigs(struct store *st, const struct store_zone *z, const struct roll *r, size_t batch,
         struct resign **list)
{
	*list = NULL;
	struct roll_walk *w = walk_of(st, z->id, r->old->id);
	size_t n = 0;
	while (!w->done) {
		struct db_stmt *s = db_q(st->w, DBQ_DN_SCAN);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, z->id);
		db_bind_blob(s, 2, w->after, w->alen);
		db_bind_i64(s, 3, WALK_ROWS);
		int rc = DB_DONE, ret = 0;
		size_t rows = 0;
		bool full = false;
		while (!full && ret == 0 && (rc = db_step(s)) == DB_ROW) {
			rows++;
			const uint8_t *owner = db_col_blob(s, 1), *sigs = db_col_blob(s, 2);
			size_t kl = db_col_bytes(s, 0), ol = db_col_bytes(s, 1), sl = db_col_bytes(s, 2);
			struct resign *mark = *list;
			int found = dn_resign_add(st, owner, ol, sigs, sl, sig_of, r->old, SIZE_MAX, list);
			if (found < 0 || kl > sizeof(w->after)) {
				ret = found == -ENOMEM ? -ENOMEM : -EIO;
				break;
			}
			if (found > 0 && n > 0 && n + (size_t)found > batch) {
				/* this name's old signatures all go in one step: the next */
				*list = mark;
				full = true;
				break;
			}
			n += (size_t)found;
			memcpy(w->after, db_col_blob(s, 0), kl);
			w->alen = kl;
			full = n >= batch;
		}
		if (ret == 0 && rc != DB_ROW && rc != DB_DONE)
			ret = -EIO;
		db_done(s);
		if (ret != 0) {
			w->zid = 0;   /* started over next time */
			return ret;
		}
		if (full)
			return 0;
		if (rows < WALK_ROWS) {
			w->done = n == 0;
			return 0;   /* the zone's end: the next step walks it again unless none */
		}
	}
	return 0;
}

/* One step for the retired key: a batch re-signed, or the key removed. */
static int
roll_retired(struct store *st, const struct store_zone *z, struct roll *r, size_t batch,
             struct store_result *res, char *err, size_t errcap)
{
	struct resign *list;
	int ret = old_sigs(st, z, r, batch, &list);
	if (ret != 0)
		return ret;
	int64_t until = r->now + r->max_ttl + st->roll_delay;
	/* a retired KSK/CSK's successor signed beside it from the start: whatever
	 * caches hold validates without it, so its removal waits for nothing */
	bool sep = (r->old->flags & DNS_DNSSEC_FLAG_SEP) != 0;
	if (list != NULL) {
		if (!sep && r->old->t_remove < until) {
			r->old->t_remove = until;
			ret = times_set(st, z->id, r->old);
		}
		return ret == 0 ? resign_rrsets(st, z, list, false, res, err, errcap) : ret;
	}
	if (r->now < r->old->t_remove)
		return 0;
	struct db_stmt *s = db_q(st->w, DBQ_KEY_DELETE);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, z->id);
	db_bind_i64(s, 2, r->old->id);
	ret = db_run(s) == 0 ? 0 : -EIO;
	if (ret == 0)
		log_info(z->text, "key %u removed", r->old->tag);
	return ret == 0 ? resign_rrsets(st, z, NULL, true, res, err, errcap) : ret;
}

/* The incoming ZSK signs from now on; the current one is retired. */
static int
roll_activate(struct store *st, const struct store_zone *z, struct roll *r)
{
	r->next->active = true;
	int ret = times_set(st, z->id, r->next);
	if (ret == 0 && r->cur != NULL) {
		r->cur->active = false;
		r->cur->t_retire = r->now;
		r->cur->t_remove = r->now + r->max_ttl + st->roll_delay;
		ret = times_set(st, z->id, r->cur);
		r->old = r->cur;
	}
	if (ret == 0)
		log_info(z->text, "ZSK %u active, ZSK %u retired", r->next->tag,
		         r->old != NULL ? r->old->tag : 0);
	r->cur = r->next;
	r->next = NULL;
	return ret;
}

int
store_zone_roll(struct store *st, const uint8_t *zone, size_t batch, struct store_result *res,
                char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = zone_w(st, zone, NULL, &z);
	if (ret != 0 || !z.dnssec) {
		w_rollback(st);
		return ret;
	}
	const char *what = NULL;
	ret = ksk_step(st, &z, res, &what, err, errcap);
	if (ret != 0)
		return end_write(st, &z, ret > 0 ? 0 : ret, res, what);
	struct roll r;
	ret = roll_load(st, z.id, &r);
	bool activated = ret == 0 && r.old == NULL && r.next != NULL && r.now >= r.next->t_active;
	if (activated)
		ret = roll_activate(st, &z, &r);
	if (ret == 0 && r.old != NULL)
		ret = roll_retired(st, &z, &r, batch ? batch : 200, res, err, errcap);
	else if (ret == 0 && r.next == NULL && st->zsk_lifetime > 0 && r.cur != NULL && r.sep &&
	         r.cur->t_active > 0 && r.now >= r.cur->t_active + st->zsk_lifetime)
		ret = roll_start(st, &z, &r, res, err, errcap);
	if (ret == 0 && !activated && !res->changed) {
		w_rollback(st);   /* nothing was due: no commit a pass per zone */
		return 0;
	}
	if (ret != 0)
		walks_forget(st, z.id);
	ret = end_write(st, &z, ret, res, "ZSK rollover step");
	if (ret != 0) {
		pthread_mutex_lock(&st->wmu);
		walks_forget(st, z.id);
		pthread_mutex_unlock(&st->wmu);
	}
	return ret;
}

int
store_zsk_rollover(struct store *st, const uint8_t *zone, const char *account, int64_t key_id,
                   struct store_result *res, char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	if (!st->has_kek)
		return -EPERM;
	struct store_zone z;
	int ret = signed_zone_begin(st, zone, account, &z, "", err, errcap);
	if (ret != 0)
		return ret;
	struct roll r;
	ret = roll_load(st, z.id, &r);
	if (ret == 0 && (r.cur == NULL || r.cur->id != key_id)) {
		set_err(err, errcap, "key %lld is not the active ZSK of zone '%s': only a ZSK is "
		        "rolled", (long long)key_id, z.text);
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = roll_start(st, &z, &r, res, err, errcap);
	return end_write(st, &z, ret, res, "ZSK rollover started, new ZSK published");
}
