/*
 * The store's lowest layer (store_int.h): the reader pool, the helpers every
 * store file uses, the one commit listener and the write transactions whose
 * commit hands the events to it.  Calls nothing above it (store_change,
 * store_zone, store_catalog, store.c call down to here), so the store's
 * files form no circle.
 */
#include "primary/store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/rrtype.h"
#include "util/err.h"
#include "util/log.h"

/* ---- connections ----------------------------------------------------------- */

struct conn *
pool_get(struct store *st)
{
	pthread_mutex_lock(&st->pool_mu);
	struct conn *c = st->pool;
	if (c != NULL)
		st->pool = c->next;
	pthread_mutex_unlock(&st->pool_mu);
	if (c != NULL)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (db_open(st->path, false, true, &c->db) != 0) {
		db_close(c->db);
		free(c);
		return NULL;
	}
	return c;
}

void
pool_put(struct store *st, struct conn *c)
{
	pthread_mutex_lock(&st->pool_mu);
	c->next = st->pool;
	st->pool = c;
	pthread_mutex_unlock(&st->pool_mu);
}

/* ---- helpers ------------------------------------------------------------------ */

int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

void
copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void
nkey_set(struct nkey *k, const uint8_t *name)
{
	k->nlen = dns_name_len(name);
	memcpy(k->name, name, k->nlen);
	dns_name_lower(k->name);
	k->klen = dns_name_to_lookup(k->name, k->key);
}

int
name_text(const uint8_t *name, char *buf, size_t cap)
{
	uint8_t low[DNS_NAME_MAX];
	memcpy(low, name, dns_name_len(name));
	dns_name_lower(low);
	return dns_name_to_text(low, buf, cap);
}

int
zone_from_row(struct db_stmt *s, struct store_zone *z)
{
	memset(z, 0, sizeof(*z));
	z->id = db_col_i64(s, 0);
	copy_text(z->text, sizeof(z->text), db_col_text(s, 1));
	size_t wl = db_col_bytes(s, 2);
	const void *w = db_col_blob(s, 2);
	if (w == NULL || wl == 0 || wl > DNS_NAME_MAX || dns_name_check(w, wl) != (int)wl)
		return -EIO;
	memcpy(z->name, w, wl);
	copy_text(z->kind, sizeof(z->kind), db_col_text(s, 3));
	copy_text(z->account, sizeof(z->account), db_col_text(s, 4));
	if (dns_serial_policy_parse(db_col_text(s, 5), &z->policy) != 0)
		z->policy = DNS_SERIAL_DEFAULT;
	z->serial = (uint32_t)db_col_i64(s, 6);
	z->notified_serial = (uint32_t)db_col_i64(s, 7);
	z->is_catalog = db_col_int(s, 8) != 0;
	z->dnssec = !db_col_null(s, 9);
	z->nsec3 = z->dnssec && db_col_int(s, 9) != 0;
	z->unsign_at = z->dnssec ? db_col_i64(s, 10) : 0;
	return 0;
}

static int
zone_get_q(struct db *db, enum db_qid q, const uint8_t *name, struct store_zone *z)
{
	char text[DNS_NAME_TEXT_MAX];
	if (name_text(name, text, sizeof(text)) < 0)
		return -EINVAL;
	struct db_stmt *s = db_q(db, q);
	if (s == NULL)
		return -EIO;
	db_bind_text(s, 1, text);
	int rc = db_step(s);
	int ret;
	if (rc == DB_ROW)
		ret = zone_from_row(s, z);
	else if (rc == DB_DONE)
		ret = -ENOENT;
	else
		ret = rc == ERR_DB_RETRY ? rc : -EIO;
	db_done(s);
	return ret;
}

int
zone_get(struct db *db, const uint8_t *name, struct store_zone *z)
{
	return zone_get_q(db, DBQ_ZONE_BY_NAME, name, z);
}

int
zone_get_w(struct store *st, const uint8_t *name, struct store_zone *z)
{
	return zone_get_q(st->w, DBQ_ZONE_LOCK, name, z);
}

uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}


/* ---- opening -------------------------------------------------------------------- */

/* ---- the commit listener ---------------------------------------------------------- */

/* The listener into *l, for a call outside wmu (held: wmu); true when there
 * is one, then store_set_listener(NULL) waits for its listener_release(). */
static bool
listener_hold(struct store *st, struct store_listener *l)
{
	*l = st->listener;
	if (st->has_listener)
		st->listener_calls++;
	return st->has_listener;
}

static void
listener_release(struct store *st, bool held)
{
	if (!held)
		return;
	pthread_mutex_lock(&st->wmu);
	if (--st->listener_calls == 0)
		pthread_cond_broadcast(&st->listener_idle);
	pthread_mutex_unlock(&st->wmu);
}

int
store_set_listener(struct store *st, const struct store_listener *l)
{
	int ret = 0;
	/* no other node's commit is being reported once this returns (store_heard) */
	pthread_mutex_lock(&st->heard_mu);
	pthread_mutex_lock(&st->wmu);
	if (l == NULL) {
		memset(&st->listener, 0, sizeof(st->listener));
		st->has_listener = false;
		/* and no local commit is: the listener's owner frees it next */
		while (st->listener_calls > 0)
			pthread_cond_wait(&st->listener_idle, &st->wmu);
	} else if (st->has_listener) {
		ret = -EBUSY;
	} else {
		st->listener = *l;
		st->has_listener = true;
	}
	pthread_mutex_unlock(&st->wmu);
	pthread_mutex_unlock(&st->heard_mu);
	if (ret != 0)
		log_error(NULL, "store: a second commit listener refused");
	return ret;
}

int
store_notify(struct store *st, const uint8_t *zone, uint32_t serial)
{
	pthread_mutex_lock(&st->wmu);
	struct store_listener l;
	bool held = listener_hold(st, &l);
	pthread_mutex_unlock(&st->wmu);
	int ret = l.on_notify != NULL ? l.on_notify(l.ctx, zone, serial) : -ENOSYS;
	listener_release(st, held);
	return ret;
}

void
pending_add(struct store *st, const uint8_t *zone, uint32_t from, uint32_t to,
            enum store_change kind)
{
	if (st->npending >= PENDING_MAX) {
		/* cannot happen: a transaction changes one zone and the catalog */
		log_error(NULL, "store: more than %d commit events in one transaction", PENDING_MAX);
		return;
	}
	struct pending *h = &st->pending[st->npending++];
	memcpy(h->zone, zone, dns_name_len(zone));
	h->old_serial = from;
	h->new_serial = to;
	h->kind = kind;
}

/* ---- write transactions --------------------------------------------------------- */

int
w_begin(struct store *st)
{
	pthread_mutex_lock(&st->wmu);
	st->npending = 0;
	st->cur_arm_set = false;
	arena_reset(&st->arena);
	int ret = db_begin(st->w);
	if (ret != 0)
		pthread_mutex_unlock(&st->wmu);
	return ret;
}

void
w_rollback(struct store *st)
{
	db_rollback(st->w);
	st->npending = 0;
	st->cur_arm_set = false;
	pthread_mutex_unlock(&st->wmu);
}

int
w_fail(struct store *st, int ret)
{
	if (ret != 0 && ret != ERR_DB_UNKNOWN && db_retry(st->w))
		ret = ERR_DB_RETRY;
	else if (ret != 0 && ret != ERR_DB_UNKNOWN && db_down(st->w))
		ret = ERR_DB_DOWN;   /* a failover under way: nothing was written */
	w_rollback(st);
	return ret;
}

/* db_commit's error as the store returns it: ERR_DB_UNKNOWN and ERR_DB_RETRY kept. */
static int
commit_error(int rc)
{
	return rc == ERR_DB_UNKNOWN || rc == ERR_DB_RETRY ? rc : -EIO;
}

int
w_commit_quiet(struct store *st)
{
	struct store_audit_arm *arm;
	int ret = audit_in_txn(st, &arm);
	if (ret != 0)
		return w_fail(st, ret);
	int rc = db_commit(st->w);
	if (rc != 0) {
		w_rollback(st);
		return commit_error(rc);
	}
	audit_committed(arm);
	pthread_mutex_unlock(&st->wmu);
	return 0;
}

/*
 * Several nodes: each commit event is announced to the others in the
 * transaction (delivered if and only if it commits):
 * "NODE KIND OLD NEW ZONE" (store.c's store_heard reads it).
 */
static int
announce(struct store *st)
{
	for (size_t i = 0; i < st->npending; i++) {
		const struct pending *h = &st->pending[i];
		char text[DNS_NAME_TEXT_MAX], payload[DNS_NAME_TEXT_MAX + 64];
		if (dns_name_to_text(h->zone, text, sizeof(text)) < 0)
			return -EINVAL;
		snprintf(payload, sizeof(payload), "%016" PRIx64 " %d %" PRIu32 " %" PRIu32 " %s",
		         st->node_id, (int)h->kind, h->old_serial, h->new_serial, text);
		struct db_stmt *s = db_q(st->w, DBQ_ANNOUNCE);
		if (s == NULL)
			return -EIO;
		db_bind_text(s, 1, payload);
		int rc = db_run(s);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* w_commit of a transaction holding `changes` changes (a group: several). */
static int
commit_changes(struct store *st, uint64_t changes)
{
	if (db_shared(st->w)) {
		int ret = announce(st);
		if (ret != 0)
			return w_fail(st, ret == ERR_DB_RETRY ? ret : -EIO);
	}
	struct store_audit_arm *arm;
	int ret = audit_in_txn(st, &arm);
	if (ret != 0)
		return w_fail(st, ret);
	int rc = db_commit(st->w);
	if (rc != 0) {
		w_rollback(st);
		return commit_error(rc);
	}
	audit_committed(arm);
	db_wal_bound(st->w, st->ckpt, st->wal_max);
	struct pending calls[PENDING_MAX];
	size_t n = st->npending;
	memcpy(calls, st->pending, n * sizeof(calls[0]));
	st->npending = 0;
	struct store_listener l;
	bool held = listener_hold(st, &l);
	pthread_mutex_unlock(&st->wmu);
	pthread_mutex_lock(&st->stats_mu);
	st->last_commit = now_s();
	st->commits += changes;
	if (changes > 1) {
		st->groups++;
		st->grouped += changes;
	}
	pthread_mutex_unlock(&st->stats_mu);
	for (size_t i = 0; i < n; i++) {
		if (calls[i].kind == STORE_CATALOG_CHANGED)
			log_info(st->catalog_text, "zone updated, serial %u -> %u", calls[i].old_serial,
			         calls[i].new_serial);
		if (l.on_commit == NULL)
			continue;
		struct store_commit c = {.zone = calls[i].zone, .old_serial = calls[i].old_serial,
		                         .new_serial = calls[i].new_serial, .kind = calls[i].kind};
		l.on_commit(l.ctx, &c);
	}
	listener_release(st, held);
	return 0;
}

int
w_commit(struct store *st)
{
	return commit_changes(st, 1);
}

/* ---- journal retention ------------------------------------------------------------ */

static int
trim_now(struct store *st, int64_t zid)
{
	struct db_stmt *s = db_q(st->w, DBQ_JOURNAL_TRIM);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	db_bind_i64(s, 2, (int64_t)st->journal_keep - 1);
	int ret = db_run(s);
	if (ret == 0 && st->journal_keep_age != 0) {
		s = db_q(st->w, DBQ_JOURNAL_TRIM_AGE);
		if (s == NULL)
			return -EIO;
		db_bind_i64(s, 1, zid);
		db_bind_i64(s, 2, now_s() - (int64_t)st->journal_keep_age);
		ret = db_run(s);
	}
	return ret;
}

int
journal_trim(struct store *st, int64_t zid)
{
	if (!st->grouping)
		return trim_now(st, zid);
	for (size_t i = 0; i < st->ntrims; i++)
		if (st->trims[i] == zid)
			return 0;
	if (st->ntrims == GROUP_MAX)
		return trim_now(st, zid);   /* cannot happen: a group changes GROUP_MAX zones at most */
	st->trims[st->ntrims++] = zid;
	return 0;
}

/* The trims a group put off, before its commit. */
static int
group_trims(struct store *st)
{
	st->grouping = false;
	int ret = 0;   /* the group is written: each trim at once from here */
	for (size_t i = 0; i < st->ntrims && ret == 0; i++)
		ret = trim_now(st, st->trims[i]);
	st->ntrims = 0;
	return ret;
}

/* ---- the group commit ------------------------------------------------------------ */

/* A failure that is the change's answer: the transaction is sound, the
 * change alone is undone (its savepoint). */
static bool
is_answer(int ret)
{
	return ret == -ECANCELED || ret == -EPERM || ret == -EACCES || ret == -EINVAL ||
	       ret == -ENOENT || ret == -ESTALE;
}

/* One change in a transaction of its own, run again after ERR_DB_RETRY. */
static void
run_alone(struct store *st, struct w_job *j)
{
	int ret = ERR_DB_RETRY;
	for (int i = 0; i < STORE_RETRIES && ret == ERR_DB_RETRY; i++) {
		ret = w_begin(st);
		if (ret != 0)
			break;
		st->cur_arm = j->arm;   /* the owner's row, whichever thread writes */
		st->cur_arm_set = true;
		ret = j->body(st, j);
		ret = ret != 0 ? w_fail(st, ret) : w_commit(st);
	}
	j->ret = ret;
	if (ret == 0 && j->committed != NULL)
		j->committed(st, j);
}

/*
 * The changes of group `g` in one transaction, each in a savepoint.  0
 * when committed (each j->ret its answer), ERR_DB_UNKNOWN when the commit's
 * outcome is unknown, else an error after which nothing was written.
 */
static int
run_together(struct store *st, struct w_job *g)
{
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	st->grouping = true;
	st->ntrims = 0;
	uint64_t changes = 0;
	for (struct w_job *j = g; j != NULL; j = j->next) {
		size_t npending = st->npending;
		ret = db_savepoint(st->w, DB_SP_SET);
		if (ret == 0)
			ret = j->body(st, j);
		if (ret == 0 && j->arm != NULL && audit_write(st, j->arm, npending) != 0)
			ret = -EIO;   /* not an answer: the group goes back to one at a time */
		if (ret == 0) {
			ret = db_savepoint(st->w, DB_SP_RELEASE);
			if (ret != 0)
				break;
			j->ret = 0;
			changes++;
			continue;
		}
		if (!is_answer(ret) || db_retry(st->w) || db_savepoint(st->w, DB_SP_UNDO) != 0)
			break;
		st->npending = npending;   /* the undone change's events go too */
		j->ret = ret;
		ret = 0;
	}
	if (ret == 0) {
		ret = group_trims(st);
	} else {
		st->grouping = false;
		st->ntrims = 0;
	}
	if (ret != 0) {
		w_rollback(st);
		return ret;
	}
	st->cur_arm = NULL;   /* each change's row is written above */
	st->cur_arm_set = true;
	ret = commit_changes(st, changes);
	if (ret == 0)
		for (struct w_job *j = g; j != NULL; j = j->next)
			if (j->ret == 0)
				audit_committed(j->arm);
	return ret;
}

/* Runs group `g` of n changes and sets each one's ret. */
static void
run_group(struct store *st, struct w_job *g, size_t n)
{
	if (n == 1) {
		run_alone(st, g);
		return;
	}
	int ret = run_together(st, g);
	for (struct w_job *j = g; j != NULL; j = j->next) {
		if (ret == ERR_DB_UNKNOWN)
			j->ret = ret;   /* maybe committed: not run again */
		else if (ret != 0)
			run_alone(st, j);
		else if (j->ret == 0 && j->committed != NULL)
			j->committed(st, j);
	}
}

/*
 * Leader and followers: the thread whose change arrives while no group is
 * being written writes the group of the oldest waiting changes (its own
 * first), then wakes each of their threads and hands the writing over to
 * the oldest change still waiting, whose thread writes the next group.
 * Every thread is woken once, with its result or to lead.
 */
int
w_group(struct store *st, struct w_job *j)
{
	j->next = NULL;
	j->done = j->lead = false;
	j->arm = audit_arm_self(st);
	pthread_cond_init(&j->cv, NULL);
	pthread_mutex_lock(&st->gmu);
	if (st->gtail != NULL)
		st->gtail->next = j;
	else
		st->gqueue = j;
	st->gtail = j;
	if (!st->gleader) {
		st->gleader = true;
		j->lead = true;
	}
	while (!j->done && !j->lead)
		pthread_cond_wait(&j->cv, &st->gmu);
	if (!j->done) {
		/* the leader's change is the oldest waiting: the group starts with it */
		struct w_job *last = j;
		size_t n = 1;
		while (n < GROUP_MAX && last->next != NULL) {
			last = last->next;
			n++;
		}
		st->gqueue = last->next;
		if (st->gqueue == NULL)
			st->gtail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&st->gmu);
		run_group(st, j, n);
		pthread_mutex_lock(&st->gmu);
		/* a woken owner returns (its job gone) only once gmu is released */
		for (struct w_job *d = j, *next; d != NULL; d = next) {
			next = d->next;
			d->done = true;
			if (d != j)
				pthread_cond_signal(&d->cv);
		}
		if (st->gqueue != NULL) {
			st->gqueue->lead = true;
			pthread_cond_signal(&st->gqueue->cv);
		} else {
			st->gleader = false;
		}
	}
	pthread_mutex_unlock(&st->gmu);
	pthread_cond_destroy(&j->cv);
	return j->ret;
}
