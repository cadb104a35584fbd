/*
 * Zone registry, SOA timers and the transfer threads.
 *
 * One mutex guards the registry; it is never held during network or disk
 * I/O.  A transfer thread takes the first due zone that is not busy, marks
 * it busy, and runs the refresh without the lock: only the busy owner
 * touches a zone's version (zdb_get/zdb_publish/zdb_remove for it), so the
 * writer-side guarantee of zdb_get holds for the whole refresh.  A NOTIFY
 * that arrives during a refresh makes the zone due again right after it.
 * Removal of a busy zone is deferred to the end of its refresh.
 *
 * Sized for catalogs of 100,000 zones (issue 18.2): the registry is a hash
 * set by apex (sched.h), a zone waits for its refresh in one heap (catalogs
 * in their own, taken first) and for its expiry in another, so a decision
 * costs O(log n), not a pass over every zone; an event wakes one thread,
 * which passes the wake-up on while more refreshes are due.
 *
 * The transfer threads are registered RCU threads kept offline: they only
 * use the zdb writer side, which zdb.h allows offline, and an offline
 * thread never holds up a grace period.
 */
#include "secondary/timers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "dns/rdata.h"
#include "dns/serial.h"
#include "net/addr.h"
#include "net/tcp.h"
#include "secondary/catalog.h"
#include "secondary/jitter.h"
#include "secondary/logburst.h"
#include "secondary/sched.h"
#include "secondary/state.h"
#include "secondary/zdb.h"
#include "secondary/zone.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/log.h"

#define MIN_INTERVAL_S 1
#define MAX_INTERVAL_S (7 * 86400)
#define UNLOADED_RETRY_MAX_S 60
/* The state's appends are flushed together this often. */
#define SYNC_EVERY_MS 1000

/* Routine per-zone lines, at debug beyond LOG_BURST_MAX a second (logburst.h). */
enum { LB_ADDED, LB_REMOVED, LB_XFR, LB_UPTODATE, LB_NKINDS };
static const char *const lb_kinds[LB_NKINDS] = {
	"zones added from the catalog", "zones removed from the catalog", "zone transfers",
	"zones found up to date",
};

struct tzone {
	char *name;            /* presentation form, after the apex in this allocation */
	bool is_catalog;
	bool removed;          /* stop following once not busy */
	bool busy;             /* a transfer thread owns the refresh */
	bool again;            /* NOTIFY during the refresh: due again after it */
	bool force_axfr;       /* the last IXFR could not be applied */
	bool loaded;
	bool expired;
	bool initial;          /* configured, or in the first catalog version seen */
	bool own_file;         /* its persisted version has a file of its own (state.h) */
	bool persisted;        /* a version of it is in the state */
	bool timers_persisted; /* a refresh time of it is in the state */
	uint32_t serial, refresh, retry, expire;
	bool is_signed;
	uint32_t sig_expire;   /* earliest RRSIG expiration of the published version */
	int64_t added_ms;      /* followed since (monotonic ms) */
	int64_t next_ms;       /* refresh due (monotonic ms) */
	int64_t expire_ms;     /* expires (monotonic ms), 0: no timer */
	uint64_t last_ok_wall; /* wall clock of the last successful refresh, 0: never */
	unsigned fail_streak;
	uint64_t axfr_ok, ixfr_ok, uptodate, failures, rejected, last_xfr_ms;
	size_t idx;                  /* in timers.z */
	struct sheap_item due;       /* queued at next_ms while not busy nor removed */
	struct sheap_item exp;       /* queued at expire_ms while loaded and not expired */
	uint8_t apex[];              /* wire, lowercased; then the name (100,000 of them) */
};

struct timers {
	struct timers_cfg cfg;
	char primary_txt[ADDR_TEXT_MAX];   /* "127.0.0.1@5300" */
	char primary_ip[ADDR_TEXT_MAX];    /* "127.0.0.1" */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tzone **z;
	size_t n, cap;
	struct nameset reg;                /* the zones of z by apex */
	struct sheap due_q;                /* refreshes of member zones */
	struct sheap cat_q;                /* refreshes of catalogs: they go first */
	struct sheap exp_q;                /* expiries */
	bool stopping;
	bool catalog_synced;               /* a catalog version was turned into members */
	pthread_t *threads;
	unsigned nthreads;
	atomic_bool started;        /* timers_start() ran: transfer threads may be running */
	int cancel_fd;
	atomic_bool unsynced;              /* state written since the last sync */
	_Atomic int64_t synced_ms;
	struct log_burst burst;            /* routine per-zone lines */
};

static uint64_t
wall_now(void)
{
	return (uint64_t)time(NULL);
}

static uint32_t
clamp_s(uint32_t v)
{
	if (v < MIN_INTERVAL_S)
		return MIN_INTERVAL_S;
	if (v > MAX_INTERVAL_S)
		return MAX_INTERVAL_S;
	return v;
}

static void
tzone_free(struct tzone *z)
{
	free(z);
}

static const uint8_t *
tzone_key(const void *v)
{
	return ((const struct tzone *)v)->apex;
}

/* Caller holds the lock. */
static struct tzone *
find_locked(struct timers *t, const uint8_t *apex)
{
	return nameset_get(&t->reg, apex);
}

#define ZONE_OF(item, field) \
	((struct tzone *)(void *)((char *)(item) - offsetof(struct tzone, field)))

/* Puts z in the queues its state asks for (after any change of next_ms,
 * expire_ms, busy, removed, loaded, expired).  Caller holds the lock. */
static void
requeue_locked(struct timers *t, struct tzone *z)
{
	struct sheap *q = z->is_catalog ? &t->cat_q : &t->due_q;
	if (z->removed || z->busy || sheap_set(q, &z->due, z->next_ms) != 0)
		sheap_del(q, &z->due);
	if (z->removed || !z->loaded || z->expired || z->expire_ms == 0 ||
	    sheap_set(&t->exp_q, &z->exp, z->expire_ms) != 0)
		sheap_del(&t->exp_q, &z->exp);
}

/* Takes z out of the registry and the queues.  Caller holds the lock. */
static void
unlink_locked(struct timers *t, struct tzone *z)
{
	z->removed = true;
	requeue_locked(t, z);
	nameset_del(&t->reg, z->apex);
	t->z[z->idx] = t->z[--t->n];
	t->z[z->idx]->idx = z->idx;
}

static void
take_soa_timers(struct tzone *z, const struct zone *v)
{
	struct zone_soa soa;
	zone_soa(v, &soa);
	z->serial = soa.serial;
	z->refresh = clamp_s(soa.refresh);
	z->retry = clamp_s(soa.retry);
	z->expire = clamp_s(soa.expire);
	z->is_signed = zone_sig_expire(v, &z->sig_expire);
}

/* The catalog lives in a database no serving thread reads: it is not answered. */
static struct zdb *
db_of(const struct timers *t, const struct tzone *z)
{
	return z->is_catalog && t->cfg.catalog_db != NULL ? t->cfg.catalog_db : t->cfg.db;
}

/* ---- persistence glue ---- */

/* The state's appends (versions, refresh times) are flushed by one
 * state_sync every SYNC_EVERY_MS, not one fsync each (state.h). */
static void
sync_due(struct timers *t, bool now_anyway)
{
	if (t->cfg.state == NULL || !atomic_load(&t->unsynced))
		return;
	int64_t now = tcp_now_ms();
	int64_t last = atomic_load(&t->synced_ms);
	if (!now_anyway && now - last < SYNC_EVERY_MS)
		return;
	if (!atomic_compare_exchange_strong(&t->synced_ms, &last, now))
		return;   /* another thread does it */
	atomic_store(&t->unsynced, false);
	int r = state_sync(t->cfg.state);
	if (r != 0)
		log_error(NULL, "state directory %s not flushed (%s)", state_dir(t->cfg.state),
		          err_str(r));
}

static int
walk_version(const void *v, persist_rr_fn cb, void *ctx)
{
	return zone_walk(v, cb, ctx);
}

/* Only the zone's busy owner (or the loader at start) calls this. */
static void
save_version(struct timers *t, struct tzone *z, const struct zone *v)
{
	if (t->cfg.state == NULL)
		return;
	int r = state_save(t->cfg.state, z->apex, zone_serial(v), wall_now(), walk_version, v,
	                   z->persisted, &z->own_file);
	if (r != 0) {
		log_error(z->name, "zone not persisted in %s (%s)", state_dir(t->cfg.state),
		          err_str(r));
		return;
	}
	z->persisted = true;
	atomic_store(&t->unsynced, true);
}

/* The refresh time after every successful refresh (100,000 after a POP's
 * restart): one small append each, flushed with the next sync_due.  A crash
 * may lose the last second's; the zone's age then falls back to its
 * version's time. */
static void
save_timers(struct timers *t, struct tzone *z)
{
	if (t->cfg.state == NULL)
		return;
	int r = state_save_timers(t->cfg.state, z->apex, z->last_ok_wall,
	                          z->last_ok_wall + z->expire, z->timers_persisted);
	if (r != 0) {
		log_error(z->name, "refresh time not persisted (%s)", err_str(r));
		return;
	}
	z->timers_persisted = true;
	atomic_store(&t->unsynced, true);
}

struct load_ctx {
	struct zone_builder *b;
	char err[256];
};

/* A catalog's members reloaded at start: one line for all of them, and
 * their first refreshes spread over spread_ms (not 100,000 SOA queries in
 * the first second: about as fast as a POP makes them anyway). */
struct load_stats {
	atomic_size_t loaded, expired;
	int64_t spread_ms;
};

/* Zones refreshed a second, at most, right after a restart. */
#define RESTART_REFRESH_RATE 2000

static int
load_rr_cb(void *ctx, const struct dns_rr *rr)
{
	struct load_ctx *l = ctx;
	return zone_builder_add(l->b, rr, l->err, sizeof(l->err));
}

/* Loads and publishes the persisted version of z (not yet in the registry).
 * With `ls`, a loaded zone is counted there and logged at debug only. */
static void
load_persisted(struct timers *t, struct tzone *z, struct load_stats *ls)
{
	if (t->cfg.state == NULL)
		return;
	struct load_ctx l = {.b = zone_builder_new(z->apex)};
	if (l.b == NULL)
		return;
	struct state_found f;
	char why[512];
	int r = state_load(t->cfg.state, z->apex, load_rr_cb, &l, &f, why, sizeof(why));
	if (r != 0) {
		zone_builder_free(l.b);
		if (r == -ENOENT)
			return;
		if (r == ERR_FORMERR)
			log_error(z->name, "state rejected, %s, zone will be transferred in full", why);
		else
			log_error(z->name, "state not loaded (%s), zone will be transferred in full",
			          l.err[0] ? l.err : err_str(r));
		return;
	}
	z->own_file = f.own_file;
	z->persisted = true;
	z->timers_persisted = !f.guessed;
	struct zone *v = NULL;
	r = zone_builder_finish(l.b, &v, l.err, sizeof(l.err));
	if (r != 0) {
		log_error(z->name, "state rejected, %s, zone will be transferred in full", l.err);
		return;
	}
	take_soa_timers(z, v);
	size_t nrec = zone_records(v);
	if (zdb_publish(db_of(t, z), v) != 0) {
		zone_free(v);
		return;
	}
	z->loaded = true;
	uint64_t now = wall_now();
	int64_t mono = tcp_now_ms();
	/* Never "refreshed now": an expired zone would come back to life. */
	if (f.guessed)
		log_warning(z->name, "refresh time not known (%s), counted from the %s's time, "
		            "%llu s ago", f.guess, f.legacy ? "state file" : "version",
		            (unsigned long long)(now - f.last_refresh));
	z->last_ok_wall = f.last_refresh;
	uint64_t exp_at = f.last_refresh + z->expire;   /* the SOA's EXPIRE of this very version */
	if (exp_at <= now) {
		z->expired = true;
		z->expire_ms = mono;
		zdb_set_expired(db_of(t, z), z->apex, true);
		log_warning(z->name, "zone loaded from state, serial %u, %zu records, expired", z->serial,
		            nrec);
		if (ls != NULL)
			atomic_fetch_add(&ls->expired, 1);
	} else {
		z->expire_ms = mono + (int64_t)(exp_at - now) * 1000;
		log_msg(ls != NULL ? LOG_DEBUG : LOG_INFO, z->name,
		        "zone loaded from state, serial %u, %zu records", z->serial, nrec);
	}
	if (ls != NULL)
		atomic_fetch_add(&ls->loaded, 1);
}

/* ---- catalog ---- */

static int add_zone(struct timers *t, const uint8_t *apex, bool is_catalog, bool initial,
                    struct load_stats *ls);

struct add_job {
	struct timers *t;
	const struct tzone *cz;
	const struct catalog_members *m;
	bool initial;
	bool reload;            /* at start, from the state directory */
	atomic_size_t next;
	atomic_size_t added;
	struct load_stats ls;
};

static void
add_member(struct add_job *j, const uint8_t *apex)
{
	struct timers *t = j->t;
	pthread_mutex_lock(&t->lock);
	struct tzone *z = find_locked(t, apex);
	bool have = z != NULL && !z->removed;
	pthread_mutex_unlock(&t->lock);
	if (have)
		return;
	char name[DNS_NAME_TEXT_MAX];
	dns_name_to_text(apex, name, sizeof(name));
	/* a reload says it once for all (and "loaded from state" for each) */
	log_msg(j->reload ? LOG_DEBUG : log_burst_level(&t->burst, LB_ADDED, tcp_now_ms()), name,
	        "zone added, member of catalog %s", j->cz->name);
	int ar = add_zone(t, apex, false, j->initial, j->reload ? &j->ls : NULL);
	if (ar != 0 && ar != -EEXIST)
		log_error(name, "zone not added (%s)", err_str(ar));
	else
		atomic_fetch_add(&j->added, 1);
}

static void *
add_thread(void *arg)
{
	struct add_job *j = arg;
	rcu_register_thread();
	rcu_thread_offline();   /* zdb writers only, as the transfer threads */
	size_t i;
	while ((i = atomic_fetch_add(&j->next, 1)) < j->m->n)
		add_member(j, j->m->v[i]);
	rcu_unregister_thread();
	return NULL;
}

/*
 * Follows the members not followed yet.  At start (the persisted catalog,
 * before the transfer threads run) a POP reloads every member's state:
 * that is spread over the transfer threads' number of loaders.
 */
static void
add_members(struct timers *t, const struct tzone *cz, const struct catalog_members *m,
            bool initial)
{
	struct add_job j = {.t = t, .cz = cz, .m = m, .initial = initial,
	                    .reload = !atomic_load(&t->started) && t->cfg.state != NULL};
	atomic_init(&j.next, 0);
	atomic_init(&j.added, 0);
	atomic_init(&j.ls.loaded, 0);
	atomic_init(&j.ls.expired, 0);
	j.ls.spread_ms = (int64_t)(m->n * 1000 / RESTART_REFRESH_RATE);
	pthread_t th[16];
	unsigned nth = 0;
	if (j.reload && m->n >= 256) {
		/* Loading is CPU work now (one pack read at open): a loader a core,
		 * this thread being one of them. */
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned want = ncpu > 1 ? (unsigned)ncpu - 1 : 0;
		if (want > 15)
			want = 15;
		while (nth < want && pthread_create(&th[nth], NULL, add_thread, &j) == 0)
			nth++;
	}
	size_t i;
	while ((i = atomic_fetch_add(&j.next, 1)) < m->n)
		add_member(&j, m->v[i]);
	for (unsigned k = 0; k < nth; k++)
		pthread_join(th[k], NULL);
	if (j.reload)
		log_info(cz->name, "catalog loaded from state, %zu member zones followed, %zu loaded "
		         "from state (%zu of them expired)", atomic_load(&j.added),
		         atomic_load(&j.ls.loaded), atomic_load(&j.ls.expired));
}

static void
sync_catalog(struct timers *t, struct tzone *cz)
{
	const struct zone *v = zdb_get(db_of(t, cz), cz->apex);
	if (v == NULL)
		return;
	struct catalog_members m = {0};
	char why[256];
	int r = catalog_members(v, cz->apex, &m, why, sizeof(why));
	if (r != 0) {
		log_error(cz->name, "%s", r == ERR_XFR ? why : err_str(r));
		catalog_members_clear(&m);
		return;
	}
	/* Removals first: members gone from this version. */
	size_t ngone = 0;
	struct catalog_member *gone = NULL;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		struct tzone *z = t->z[i];
		if (!z->is_catalog && !z->removed && !catalog_members_has(&m, z->apex)) {
			struct catalog_member *ng = realloc(gone, (ngone + 1) * sizeof(*ng));
			if (ng == NULL)
				break;   /* removed at the next version */
			gone = ng;
			memcpy(gone[ngone++].name, z->apex, dns_name_len(z->apex));
		}
	}
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < ngone; i++) {
		char name[DNS_NAME_TEXT_MAX];
		dns_name_to_text(gone[i].name, name, sizeof(name));
		log_msg(log_burst_level(&t->burst, LB_REMOVED, tcp_now_ms()), name,
		        "zone removed, no longer in catalog %s", cz->name);
		timers_remove_zone(t, gone[i].name);
	}
	free(gone);
	/* Members of the first version seen are the POP's initial zones (no grace). */
	pthread_mutex_lock(&t->lock);
	bool initial = !t->catalog_synced;
	t->catalog_synced = true;
	pthread_mutex_unlock(&t->lock);
	add_members(t, cz, &m, initial);
	catalog_members_clear(&m);
}

/* ---- refresh ---- */

struct start_ctx {
	struct timers *t;
	struct tzone *z;
	const char *txt, *ip;   /* the primary asked */
	const struct xfr_transport *tr;
	enum log_level lvl;     /* of this transfer's routine lines */
};

static void
on_xfr_start(void *ctx, bool ixfr)
{
	struct start_ctx *s = ctx;
	/* a catalog's transfers are always told */
	s->lvl = s->z->is_catalog ? LOG_INFO : log_burst_level(&s->t->burst, LB_XFR, tcp_now_ms());
	log_msg(s->lvl, s->z->name, "zone transfer, incoming %s over %s from %s",
	        ixfr ? "IXFR" : "AXFR", xfr_transport_name(s->tr), s->ip);
}

static uint32_t retry_interval(const struct tzone *z);

/*
 * The primary this refresh asks: the only one, or (several) the one with the
 * highest serial (primaries.h), whose serial health learns at once.  Sets
 * p->primary, p->transport and sc's texts.  0, or an error already logged.
 */
static int
pick_primary(struct timers *t, struct tzone *z, struct xfr_params *p, struct start_ctx *sc)
{
	p->primary = (const struct sockaddr *)&t->cfg.primary;
	p->primary_len = addr_len(p->primary);
	p->transport = sc->tr = t->cfg.transport;
	sc->txt = t->primary_txt;
	sc->ip = t->primary_ip;
	if (t->cfg.nprimaries <= 1)
		return 0;
	struct primary_pick pk;
	char why[1024];
	int ret = primaries_pick(t->cfg.primaries, t->cfg.nprimaries, p, &pk, why, sizeof(why));
	if (ret != 0) {
		if (ret != -ECANCELED)
			log_warning(z->name, "refresh, no primary gave its serial (%s), retry in %u s", why,
			            retry_interval(z));
		return ret;
	}
	struct xfr_primary *best = &t->cfg.primaries[pk.best];
	p->primary = (const struct sockaddr *)&best->addr;
	p->primary_len = addr_len(p->primary);
	p->transport = sc->tr = best->transport;
	sc->txt = best->txt;
	sc->ip = best->ip;
	if (pk.answered < pk.asked)
		/* a live primary that answered wrongly is not marked down: say why here */
		log_info(z->name, "refresh, %zu of %zu primaries answered, highest serial %u at %s "
		         "(%s)", pk.answered, pk.asked, pk.serial, best->txt, why);
	else
		log_debug(z->name, "refresh, %zu of %zu primaries answered, highest serial %u at %s",
		          pk.answered, pk.asked, pk.serial, best->txt);
	if (t->cfg.on_primary_serial != NULL)
		t->cfg.on_primary_serial(t->cfg.primary_serial_ctx, z->name, pk.serial);
	return 0;
}

static bool
is_rejection(int code)
{
	return code == ERR_SERIAL_BACKWARDS || code == ERR_XFR || code == ERR_FORMERR ||
	       code == ERR_TSIG_BADSIG || code == ERR_TSIG_BADKEY || code == ERR_TSIG_BADTIME ||
	       code == ERR_TSIG_FORMERR;
}

/* Applies a checked transfer: builds the new version.  0 or an error with `err`. */
static int
build_version(struct tzone *z, const struct zone *base, const struct xfr_result *r,
              struct zone **out, char *err, size_t errcap)
{
	if (r->kind == XFR_AXFR) {
		struct zone_builder *b = zone_builder_new(z->apex);
		if (b == NULL)
			return -ENOMEM;
		for (const struct xfr_rr *x = r->full.head; x != NULL; x = x->next) {
			int e = zone_builder_add(b, &x->rr, err, errcap);
			if (e != 0) {
				zone_builder_free(b);
				return e;
			}
		}
		return zone_builder_finish(b, out, err, errcap);
	}
	if (base == NULL) {
		snprintf(err, errcap, "differences without a version to apply them to");
		return ERR_XFR;
	}
	struct zone_update *u = zone_update_begin(base);
	if (u == NULL)
		return -ENOMEM;
	int e = 0;
	for (const struct xfr_diff *d = r->diffs; d != NULL && e == 0; d = d->next) {
		e = zone_update_remove(u, &d->soa_from->rr, err, errcap);
		for (const struct xfr_rr *x = d->del.head; x != NULL && e == 0; x = x->next)
			e = zone_update_remove(u, &x->rr, err, errcap);
		if (e == 0)
			e = zone_update_add(u, &d->soa_to->rr, err, errcap);
		for (const struct xfr_rr *x = d->add.head; x != NULL && e == 0; x = x->next)
			e = zone_update_add(u, &x->rr, err, errcap);
	}
	if (e != 0) {
		zone_update_abort(u);
		return e;
	}
	return zone_update_commit(u, out, err, errcap);
}

/* Seconds until the next attempt after a failure: SOA RETRY, or a back-off
 * (2, 4, ... 60 s) while the zone has never been loaded. */
static uint32_t
retry_interval(const struct tzone *z)
{
	if (z->loaded)
		return z->retry;
	uint32_t rs = 2u << (z->fail_streak < 5 ? z->fail_streak : 5);
	return rs > UNLOADED_RETRY_MAX_S ? UNLOADED_RETRY_MAX_S : rs;
}

struct outcome {
	bool ok;
	bool published;
	bool uptodate;
	bool rejected;
	bool want_axfr;         /* an IXFR did not apply: take the whole zone next */
	uint64_t xfr_ms;
};

/* A transfer thread's buffers, reused from one refresh to the next. */
struct scratch {
	uint8_t *buf;       /* TCP_MSG_MAX */
	uint8_t *rdbuf;     /* DNS_RDATA_MAX */
};

static void
refresh_zone(struct timers *t, struct tzone *z, struct outcome *oc, const struct scratch *sb)
{
	const struct zone *base = zdb_get(db_of(t, z), z->apex);
	struct start_ctx sc = {.t = t, .z = z, .lvl = LOG_INFO};
	struct xfr_params p = {
		.zone = z->apex,
		.tsig = __atomic_load_n(&t->cfg.tsig, __ATOMIC_ACQUIRE),
		.have_serial = base != NULL,
		.serial = base != NULL ? zone_serial(base) : 0,
		.force_axfr = z->force_axfr,
		.timeout_ms = t->cfg.xfr_timeout_ms,
		.max_bytes = t->cfg.xfr_max_bytes,
		.cancel_fd = t->cancel_fd > 0 ? t->cancel_fd : 0,
		.buf = sb->buf,
		.rdbuf = sb->rdbuf,
		.on_start = on_xfr_start,
		.cb_ctx = &sc,
	};
	struct xfr_result r;
	xfr_result_init(&r);
	char why[512];
	int64_t t0 = tcp_now_ms();
	int ret = pick_primary(t, z, &p, &sc);
	if (ret != 0)
		goto out;
	ret = xfrin_run(&p, &r, why, sizeof(why));
	oc->xfr_ms = (uint64_t)(tcp_now_ms() - t0);
	if (r.soa_checked && t->cfg.on_primary_serial != NULL)
		t->cfg.on_primary_serial(t->cfg.primary_serial_ctx, z->name, r.serial_to);
	const char *kind = r.asked_ixfr ? "IXFR" : "AXFR";
	if (ret != 0) {
		if (ret == -ECANCELED)
			goto out;
		/* Content rejected (a transfer, or a serial going back) vs. a refresh that
		 * failed before any transfer (transport, TSIG key, primary's rcode). */
		if (is_rejection(ret) && (r.soa_checked || ret == ERR_SERIAL_BACKWARDS)) {
			log_error(z->name, "%s rejected, %s", kind, why);
			oc->rejected = true;
			/* A broken difference sequence may come out right as a whole zone. */
			oc->want_axfr = ret != ERR_SERIAL_BACKWARDS && r.asked_ixfr;
		} else {
			log_warning(z->name, "refresh, remote %s %s, failed (%s), retry in %u s",
			            sc.txt, xfr_transport_name(sc.tr), why,
			            retry_interval(z));
		}
		goto out;
	}
	if (r.kind == XFR_UPTODATE) {
		oc->ok = oc->uptodate = true;
		log_msg(log_burst_level(&t->burst, LB_UPTODATE, tcp_now_ms()), z->name,
		        "refresh, remote %s %s, zone is up-to-date, serial %u", sc.txt,
		        xfr_transport_name(sc.tr), r.serial_to);
		goto out;
	}
	struct zone *nv = NULL;
	char err[512] = "";
	int64_t a0 = clock_mono_ns();
	int e = build_version(z, base, &r, &nv, err, sizeof(err));
	if (e != 0) {
		log_error(z->name, "%s rejected, %s", kind, err[0] ? err : err_str(e));
		oc->rejected = true;
		oc->want_axfr = r.kind == XFR_IXFR;
		goto out;
	}
	size_t nrec = zone_records(nv);
	uint32_t ns = zone_serial(nv);
	if (zdb_publish(db_of(t, z), nv) != 0) {
		/* nv shares nodes with its base, which workers may still read */
		zdb_retire(nv);
		goto out;
	}
	/* Build plus publish: what a change costs beyond the network. */
	long long apply_us = (long long)((clock_mono_ns() - a0) / 1000);
	oc->ok = oc->published = true;
	if (base != NULL)
		log_msg(sc.lvl, z->name,
		        "zone transfer, completed successfully, serial %u -> %u, %s%s, "
		        "%zu messages, %zu bytes, %zu records, %llu ms, applied in %lld us",
		        p.serial, ns, r.kind == XFR_IXFR ? "IXFR" : "AXFR",
		        r.kind == XFR_AXFR && r.asked_ixfr ? " (full zone)" : "", r.messages, r.bytes,
		        nrec, (unsigned long long)oc->xfr_ms, apply_us);
	else
		log_msg(sc.lvl, z->name,
		        "zone transfer, completed successfully, serial %u, AXFR, %zu messages, "
		        "%zu bytes, %zu records, %llu ms, applied in %lld us",
		        ns, r.messages, r.bytes, nrec, (unsigned long long)oc->xfr_ms, apply_us);
	/* Only this thread replaces or removes this zone's version: it stays valid. */
	const struct zone *cur = zdb_get(db_of(t, z), z->apex);
	pthread_mutex_lock(&t->lock);   /* /metrics and NOTIFY read these */
	if (r.kind == XFR_IXFR)
		z->ixfr_ok++;
	else
		z->axfr_ok++;
	if (cur != NULL)
		take_soa_timers(z, cur);
	pthread_mutex_unlock(&t->lock);
	if (cur != NULL) {
		int64_t p0 = tcp_now_ms();
		save_version(t, z, cur);
		log_debug(z->name, "zone persisted, serial %u, %lld ms", ns,
		          (long long)(tcp_now_ms() - p0));
	}
out:
	xfr_result_clear(&r);
}

/* The jitter's seed: the zone's name and the time (jitter.h). */
static uint64_t
zone_seed(const struct tzone *z, int64_t now)
{
	return hash_fnv1a_lower(z->apex, dns_name_len(z->apex), 0) ^ (uint64_t)now;
}

/* Updates timers after a refresh; caller holds the lock. */
static void
after_refresh(struct timers *t, struct tzone *z, const struct outcome *oc)
{
	int64_t now = tcp_now_ms();
	z->last_xfr_ms = oc->xfr_ms;
	if (oc->ok) {
		z->fail_streak = 0;
		z->loaded = true;
		z->force_axfr = false;
		z->last_ok_wall = wall_now();
		z->next_ms = now + jitter_interval_ms(z->refresh, zone_seed(z, now));
		z->expire_ms = now + (int64_t)z->expire * 1000;
		if (oc->uptodate)
			z->uptodate++;
		if (z->expired) {
			z->expired = false;
			zdb_set_expired(db_of(t, z), z->apex, false);
			log_info(z->name, "zone is no longer expired");
		}
		return;
	}
	z->failures++;
	if (oc->rejected)
		z->rejected++;
	if (oc->want_axfr && !z->force_axfr) {
		z->force_axfr = true;
		z->next_ms = now;   /* at once, in full */
		return;
	}
	uint32_t rs = retry_interval(z);
	z->fail_streak++;
	z->next_ms = now + jitter_interval_ms(rs, zone_seed(z, now));
}

static void
drop_zone(struct timers *t, struct tzone *z)
{
	zdb_remove(db_of(t, z), z->apex);
	if (t->cfg.state != NULL) {
		int r = state_remove(t->cfg.state, z->apex);
		if (r != 0)
			log_error(z->name, "state of the zone not removed (%s)", err_str(r));
		atomic_store(&t->unsynced, true);
	}
	tzone_free(z);
}

/* Marks expired zones; returns the earliest future event and the zone due
 * now, if any (a catalog first).  Caller holds the lock. */
static int64_t
scan_locked(struct timers *t, int64_t now, struct tzone **due)
{
	int64_t next = now + 60000;
	*due = NULL;
	struct sheap_item *it;
	while ((it = sheap_top(&t->exp_q)) != NULL && it->key <= now) {
		struct tzone *z = ZONE_OF(it, exp);
		z->expired = true;
		sheap_del(&t->exp_q, it);
		zdb_set_expired(db_of(t, z), z->apex, true);
		log_warning(z->name, "zone expired, no successful refresh for %u s, "
		            "answering SERVFAIL", z->expire);
	}
	if (it != NULL && it->key < next)
		next = it->key;
	struct sheap *qs[2] = {&t->cat_q, &t->due_q};
	for (int i = 0; i < 2; i++) {
		it = sheap_top(qs[i]);
		if (it == NULL)
			continue;
		if (it->key <= now && *due == NULL)
			*due = ZONE_OF(it, due);
		else if (it->key > now && it->key < next)
			next = it->key;
	}
	return next;
}

static void *
xfr_thread(void *arg)
{
	struct timers *t = arg;
	/* NULL (out of memory): xfrin_run allocates its own */
	struct scratch sb = {.buf = malloc(TCP_MSG_MAX), .rdbuf = malloc(DNS_RDATA_MAX)};
	rcu_register_thread();
	rcu_thread_offline();
	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		int64_t now = tcp_now_ms();
		struct tzone *z;
		int64_t next = scan_locked(t, now, &z);
		if (z == NULL) {
			if (atomic_load(&t->unsynced) || atomic_load(&t->burst.pending)) {
				pthread_mutex_unlock(&t->lock);
				sync_due(t, false);
				bool told = !log_burst_tick(&t->burst, tcp_now_ms(), false);
				pthread_mutex_lock(&t->lock);
				if ((atomic_load(&t->unsynced) || !told) && next > now + SYNC_EVERY_MS)
					next = now + SYNC_EVERY_MS;
			}
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait = next - now;
			if (wait < 1)
				wait = 1;
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&t->cond, &t->lock, &ts);
			continue;
		}
		z->busy = true;
		z->again = false;
		requeue_locked(t, z);
		/* One thread is woken per event (100,000 zones added one by one must not
		 * wake every thread each time): it passes the wake-up on while more
		 * refreshes are due. */
		struct tzone *more;
		scan_locked(t, now, &more);
		if (more != NULL)
			pthread_cond_signal(&t->cond);
		pthread_mutex_unlock(&t->lock);

		struct outcome oc = {0};
		refresh_zone(t, z, &oc, &sb);
		if (oc.published && z->is_catalog)
			sync_catalog(t, z);
		sync_due(t, false);

		pthread_mutex_lock(&t->lock);
		after_refresh(t, z, &oc);
		if (oc.ok) {
			/* Still busy: nobody else touches or frees z meanwhile. */
			pthread_mutex_unlock(&t->lock);
			save_timers(t, z);
			pthread_mutex_lock(&t->lock);
		}
		z->busy = false;
		if (z->again)
			z->next_ms = tcp_now_ms();
		requeue_locked(t, z);
		if (z->removed && find_locked(t, z->apex) == z) {
			unlink_locked(t, z);
			pthread_mutex_unlock(&t->lock);
			drop_zone(t, z);
			pthread_mutex_lock(&t->lock);
		}
		pthread_cond_signal(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
	rcu_unregister_thread();
	free(sb.buf);
	free(sb.rdbuf);
	return NULL;
}

/* ---- public ---- */

struct timers *
timers_new(const struct timers_cfg *cfg)
{
	struct timers *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->cfg = *cfg;
	if (t->cfg.xfr_threads == 0)
		t->cfg.xfr_threads = 32;
	if (t->cfg.xfr_timeout_ms == 0)
		t->cfg.xfr_timeout_ms = 30000;
	addr_fmt((const struct sockaddr *)&t->cfg.primary, t->primary_txt, sizeof(t->primary_txt));
	addr_fmt_ip((const struct sockaddr *)&t->cfg.primary, t->primary_ip, sizeof(t->primary_ip));
	pthread_mutex_init(&t->lock, NULL);
	nameset_init(&t->reg, tzone_key);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	t->cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);   /* passed to every transfer */
	log_burst_init(&t->burst, lb_kinds, LB_NKINDS);
	return t;
}

static int
add_zone(struct timers *t, const uint8_t *apex, bool is_catalog, bool initial,
         struct load_stats *ls)
{
	pthread_mutex_lock(&t->lock);
	struct tzone *old = find_locked(t, apex);
	if (old != NULL && old->removed) {
		/* Removed during its refresh and wanted again: keep it after all. */
		old->removed = false;
		old->initial = initial;
		old->next_ms = tcp_now_ms();
		old->added_ms = old->next_ms;
		requeue_locked(t, old);
		pthread_cond_signal(&t->cond);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	pthread_mutex_unlock(&t->lock);
	if (old != NULL)
		return -EEXIST;
	uint8_t low[DNS_NAME_MAX];
	char name[DNS_NAME_TEXT_MAX];
	size_t al = dns_name_len(apex);
	memcpy(low, apex, al);
	dns_name_lower(low);
	dns_name_to_text(low, name, sizeof(name));
	size_t nl = strlen(name);
	struct tzone *z = calloc(1, sizeof(*z) + al + nl + 1);
	if (z == NULL)
		return -ENOMEM;
	memcpy(z->apex, low, al);
	z->name = (char *)z->apex + al;
	memcpy(z->name, name, nl + 1);
	z->is_catalog = is_catalog;
	z->initial = initial;
	z->added_ms = tcp_now_ms();
	int r = zdb_add(db_of(t, z), z->apex);
	if (r != 0) {
		tzone_free(z);
		return r;
	}
	load_persisted(t, z, ls);
	z->next_ms = tcp_now_ms();   /* refresh at once, after serving what we had */
	if (ls != NULL && ls->spread_ms > 0 && z->loaded && !z->expired) {
		int64_t spread = ls->spread_ms;
		if (spread > (int64_t)z->refresh * 1000)
			spread = (int64_t)z->refresh * 1000;
		z->next_ms += (int64_t)(hash_fnv1a_lower(z->apex, dns_name_len(z->apex), 0) %
		                        (uint64_t)spread);
	}
	bool loaded = z->loaded;     /* z is shared once it is in the registry */
	pthread_mutex_lock(&t->lock);
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		struct tzone **nz = realloc(t->z, nc * sizeof(*nz));
		if (nz == NULL) {
			pthread_mutex_unlock(&t->lock);
			zdb_remove(db_of(t, z), z->apex);
			tzone_free(z);
			return -ENOMEM;
		}
		t->z = nz;
		t->cap = nc;
	}
	if (nameset_put(&t->reg, z) != 0) {
		pthread_mutex_unlock(&t->lock);
		zdb_remove(db_of(t, z), z->apex);
		tzone_free(z);
		return -ENOMEM;
	}
	z->idx = t->n;
	t->z[t->n++] = z;
	requeue_locked(t, z);
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	/* Members of the persisted catalog are served before any transfer.  Only at
	 * start (before timers_start) may the catalog be added, so z is still ours. */
	if (is_catalog && loaded)
		sync_catalog(t, z);
	return 0;
}

int
timers_add_zone(struct timers *t, const uint8_t *apex, bool is_catalog)
{
	return add_zone(t, apex, is_catalog, true, NULL);
}

int
timers_remove_zone(struct timers *t, const uint8_t *apex)
{
	pthread_mutex_lock(&t->lock);
	struct tzone *z = find_locked(t, apex);
	if (z == NULL || z->removed) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	z->removed = true;
	if (z->busy) {
		requeue_locked(t, z);
		pthread_mutex_unlock(&t->lock);
		return 0;   /* its transfer thread drops it when done */
	}
	unlink_locked(t, z);
	pthread_mutex_unlock(&t->lock);
	drop_zone(t, z);
	return 0;
}

int
timers_notify(void *ctx, const uint8_t *apex, bool has_serial, uint32_t serial)
{
	struct timers *t = ctx;
	/* The primary is up: a transfer connection that went silent is stale
	 * (e.g. the primary restarted), and the refresh must not wait on it. */
	if (t->cfg.nprimaries <= 1 && t->cfg.transport != NULL &&
	    t->cfg.transport->server_alive != NULL)   /* several: notify.c tells the sender's */
		t->cfg.transport->server_alive(t->cfg.transport);
	pthread_mutex_lock(&t->lock);
	struct tzone *z = find_locked(t, apex);
	if (z == NULL || z->removed) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	/* A NOTIFY for the serial we have changes nothing (RFC 1996 §4.7). */
	if (!(has_serial && z->loaded && !z->busy && serial == z->serial && !z->expired)) {
		if (z->busy)
			z->again = true;
		else
			z->next_ms = tcp_now_ms();
		requeue_locked(t, z);
		pthread_cond_signal(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int
timers_start(struct timers *t)
{
	if (t->cfg.state != NULL)
		state_loaded(t->cfg.state);   /* what was read at start is served now */
	t->threads = calloc(t->cfg.xfr_threads, sizeof(*t->threads));
	if (t->threads == NULL)
		return -ENOMEM;
	/* before the first thread: one that syncs a catalog at once must not see a start */
	atomic_store(&t->started, true);
	for (unsigned i = 0; i < t->cfg.xfr_threads; i++) {
		if (pthread_create(&t->threads[i], NULL, xfr_thread, t) != 0)
			return -EAGAIN;
		t->nthreads++;
	}
	return 0;
}

void
timers_free(struct timers *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (t->cancel_fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(t->cancel_fd, &one, sizeof(one));
		(void)w;
	}
	for (unsigned i = 0; i < t->nthreads; i++)
		pthread_join(t->threads[i], NULL);
	sync_due(t, true);
	log_burst_destroy(&t->burst, tcp_now_ms());
	if (t->cancel_fd >= 0)
		close(t->cancel_fd);
	for (size_t i = 0; i < t->n; i++)
		tzone_free(t->z[i]);
	free(t->z);
	nameset_free(&t->reg);
	sheap_free(&t->due_q);
	sheap_free(&t->cat_q);
	sheap_free(&t->exp_q);
	free(t->threads);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void
timers_walk(struct timers *t, timers_info_fn fn, void *ctx)
{
	uint64_t now = wall_now();
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		const struct tzone *z = t->z[i];
		if (z->removed)
			continue;
		struct timers_zone_info zi = {
			.is_catalog = z->is_catalog,
			.loaded = z->loaded,
			.expired = z->expired,
			.initial = z->initial,
			.added_ms = z->added_ms,
			.serial = z->serial,
			.is_signed = z->is_signed,
			.sig_expire = z->sig_expire,
			/* RFC 4034 §3.1.5: serial arithmetic against the present time */
			.sig_left_s = z->is_signed ? (int64_t)(int32_t)(z->sig_expire - (uint32_t)now) : 0,
			.since_refresh = z->last_ok_wall ? (int64_t)(now - z->last_ok_wall) : -1,
			.axfr_ok = z->axfr_ok,
			.ixfr_ok = z->ixfr_ok,
			.uptodate = z->uptodate,
			.failures = z->failures,
			.rejected = z->rejected,
			.last_xfr_ms = z->last_xfr_ms,
		};
		snprintf(zi.name, sizeof(zi.name), "%s", z->name);
		fn(ctx, &zi);
	}
	pthread_mutex_unlock(&t->lock);
}

void
timers_set_tsig(struct timers *t, const struct dns_tsig_key *k)
{
	__atomic_store_n(&t->cfg.tsig, k, __ATOMIC_RELEASE);
}
