/*
 * Zone database: an RCU-protected table (a qp-trie keyed by apex lookup
 * keys) of zone entries; each entry holds an RCU-protected pointer to the
 * zone's current version and an expired flag.
 *
 * Publishing a version swaps one pointer in the entry.  Adding or removing a
 * zone publishes a new table that shares every branch the change did not
 * touch (trie copy-on-write), so readers never lock.  Everything replaced is
 * freed by one call_rcu callback after a grace period.  Writers hold `lock`.
 */
#include "secondary/zdb.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "dns/name.h"
#include "secondary/trie.h"
#include "secondary/zone.h"
#include "secondary/zone_impl.h"

struct zdb_zone {
	struct zone *version;        /* RCU pointer */
	_Atomic bool expired;
	uint8_t *apex;               /* wire, after the key's bytes */
	struct trie_key key;         /* flexible: keep last */
};

struct zdb_table {
	struct trie trie;
};

struct zdb {
	struct zdb_table *tab;       /* RCU pointer */
	pthread_mutex_t lock;
};

/* Everything one change retires, freed after a grace period. */
struct retire {
	struct rcu_head head;
	struct zone *zone;
	struct zdb_table *tab;
	void **garbage;
	size_t ngarbage;
	struct zdb_zone *entry;
};

static void
retire_now(struct retire *r)
{
	zone_free(r->zone);
	for (size_t i = 0; i < r->ngarbage; i++)
		trie_obj_release(r->garbage[i]);
	free(r->garbage);
	free(r->tab);
	free(r->entry);
	free(r);
}

static void
retire_cb(struct rcu_head *h)
{
	retire_now(caa_container_of(h, struct retire, head));
}

static void
retire_later(struct retire *r)
{
	call_rcu(&r->head, retire_cb);
}

struct zdb *
zdb_new(void)
{
	struct zdb *db = calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	db->tab = calloc(1, sizeof(*db->tab));
	if (db->tab == NULL) {
		free(db);
		return NULL;
	}
	trie_init(&db->tab->trie);
	pthread_mutex_init(&db->lock, NULL);
	return db;
}

static int
free_entry(void *ctx, void *val)
{
	(void)ctx;
	struct zdb_zone *e = val;
	zone_free(e->version);
	free(e);
	return 0;
}

void
zdb_free(struct zdb *db)
{
	if (db == NULL)
		return;
	trie_walk(&db->tab->trie, free_entry, NULL);
	trie_clear(&db->tab->trie);
	free(db->tab);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

static struct zdb_zone *
entry_get(struct zdb_table *tab, const uint8_t *apex)
{
	uint8_t key[DNS_LOOKUP_MAX];
	size_t len = dns_name_to_lookup(apex, key);
	return trie_get(&tab->trie, key, len);
}

/* Publishes a copy of the table changed by `fn`; the lock is held. */
static int
table_change(struct zdb *db, struct zdb_zone *add, const uint8_t *del)
{
	struct zdb_table *old = db->tab;
	struct zdb_table *nt = malloc(sizeof(*nt));
	struct retire *r = calloc(1, sizeof(*r));
	if (nt == NULL || r == NULL) {
		free(nt);
		free(r);
		return -ENOMEM;
	}
	*nt = *old;
	struct trie_cow c;
	trie_cow_begin(&c);
	int ret = 0;
	if (add != NULL) {
		void *prev;
		ret = trie_insert(&nt->trie, &c, &add->key, add, &prev);
	} else {
		uint8_t key[DNS_LOOKUP_MAX];
		size_t len = dns_name_to_lookup(del, key);
		r->entry = trie_delete(&nt->trie, &c, key, len);
		if (r->entry == NULL)
			ret = -ENOENT;
		else
			r->zone = r->entry->version;
	}
	if (ret == 0 && c.enomem)
		ret = -ENOMEM;
	if (ret != 0) {
		trie_cow_abort(&c);
		free(nt);
		free(r);
		return ret;
	}
	trie_cow_commit(&c, &r->garbage, &r->ngarbage);
	rcu_assign_pointer(db->tab, nt);
	r->tab = old;
	retire_later(r);
	return 0;
}

int
zdb_add(struct zdb *db, const uint8_t *apex)
{
	if (dns_name_check(apex, DNS_NAME_MAX) < 0)
		return -EINVAL;
	uint8_t key[DNS_LOOKUP_MAX];
	size_t len = dns_name_to_lookup(apex, key);
	struct zdb_zone *e = calloc(1, sizeof(*e) + len + dns_name_len(apex));
	if (e == NULL)
		return -ENOMEM;
	e->apex = e->key.b + len;
	memcpy(e->apex, apex, dns_name_len(apex));
	e->key.len = (uint16_t)len;
	memcpy(e->key.b, key, len);
	pthread_mutex_lock(&db->lock);
	int ret = -EEXIST;
	if (trie_get(&db->tab->trie, key, len) == NULL)
		ret = table_change(db, e, NULL);
	pthread_mutex_unlock(&db->lock);
	if (ret != 0)
		free(e);
	return ret;
}

int
zdb_remove(struct zdb *db, const uint8_t *apex)
{
	pthread_mutex_lock(&db->lock);
	int ret = table_change(db, NULL, apex);
	pthread_mutex_unlock(&db->lock);
	return ret;
}

int
zdb_publish(struct zdb *db, struct zone *z)
{
	struct retire *r = calloc(1, sizeof(*r));
	pthread_mutex_lock(&db->lock);
	struct zdb_zone *e = entry_get(db->tab, zone_apex(z));
	if (e == NULL) {
		pthread_mutex_unlock(&db->lock);
		free(r);
		return -ENOENT;
	}
	struct zone *old = rcu_xchg_pointer(&e->version, z);
	atomic_store(&e->expired, false);
	pthread_mutex_unlock(&db->lock);
	if (old == NULL) {
		free(r);
		return 0;
	}
	if (r == NULL) {
		/* No memory for a deferred free: wait for the readers instead. */
		synchronize_rcu();
		zone_free(old);
		return 0;
	}
	r->zone = old;
	retire_later(r);
	return 0;
}

void
zdb_retire(struct zone *z)
{
	if (z == NULL)
		return;
	struct retire *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		synchronize_rcu();
		zone_free(z);
		return;
	}
	r->zone = z;
	retire_later(r);
}

int
zdb_set_expired(struct zdb *db, const uint8_t *apex, bool expired)
{
	pthread_mutex_lock(&db->lock);
	struct zdb_zone *e = entry_get(db->tab, apex);
	if (e != NULL)
		atomic_store(&e->expired, expired);
	pthread_mutex_unlock(&db->lock);
	return e ? 0 : -ENOENT;
}

const struct zone *
zdb_get(struct zdb *db, const uint8_t *apex)
{
	struct zdb_table *tab = rcu_dereference(db->tab);
	struct zdb_zone *e = entry_get(tab, apex);
	return e ? rcu_dereference(e->version) : NULL;
}

bool
zdb_find(struct zdb *db, const uint8_t *key, size_t keylen, struct zdb_view *v)
{
	struct zdb_table *tab = rcu_dereference(db->tab);
	if (tab->trie.count == 0)
		return false;
	size_t lcp = trie_lcp(&tab->trie, key, keylen);
	/* Label boundaries of the key up to lcp, longest first. */
	size_t bounds[DNS_NAME_MAX];
	size_t nb = 0;
	bounds[nb++] = 0;
	for (size_t i = 0; i < lcp; i++) {
		if (key[i] == 1)
			i++;
		else if (key[i] == 0)
			bounds[nb++] = i + 1;
	}
	while (nb > 0) {
		size_t l = bounds[--nb];
		if (l > lcp)
			continue;
		struct zdb_zone *e = trie_get(&tab->trie, key, l);
		if (e != NULL) {
			v->apex = e->apex;
			v->zone = rcu_dereference(e->version);
			v->expired = atomic_load_explicit(&e->expired, memory_order_relaxed);
			return true;
		}
	}
	return false;
}

struct walk_ctx {
	zdb_walk_fn fn;
	void *ctx;
};

static int
walk_entry(void *ctx, void *val)
{
	struct walk_ctx *w = ctx;
	struct zdb_zone *e = val;
	struct zdb_view v = {.apex = e->apex, .zone = e->version, .expired = e->expired};
	return w->fn(w->ctx, &v);
}

int
zdb_walk(struct zdb *db, zdb_walk_fn fn, void *ctx)
{
	struct walk_ctx w = {fn, ctx};
	pthread_mutex_lock(&db->lock);
	int ret = trie_walk(&db->tab->trie, walk_entry, &w);
	pthread_mutex_unlock(&db->lock);
	return ret;
}

size_t
zdb_count(struct zdb *db)
{
	struct zdb_table *tab = rcu_dereference(db->tab);
	return tab->trie.count;
}
