/*
 * First signing of a large zone in the background (issue 15).
 *
 * Turning DNSSEC on (NSEC) for a zone of --dnssec-background-min records or more
 * commits only the key and starts a job; the API answers at once and the
 * zone reads "signing": true.  The job's thread:
 *   1. reads the zone at serial S from a snapshot (no lock held) and plans
 *      the chain over it in canonical order: which names are authoritative
 *      (not under a cut), what each one's NSEC says, which rrsets get signed;
 *   2. in chunks of BULK_CHUNK names, signs the chunk's rrsets and NSEC
 *      records on every core (worker slots, each a thread at nice 10 with
 *      its own GnuTLS private key handles and signing context, taking the
 *      signatures one at a time), and meanwhile writes the chunk before it:
 *      a row of dnssec_names a name (its NSEC and RRSIGs, schema 0012) goes
 *      *staged* in one short write transaction, 16 rows a statement, on
 *      SQLite on a connection of the job's own (chunk_rows).  The zone is
 *      not marked signed yet, and an unsigned zone's dnssec_names rows are
 *      left out of its AXFR (store_rr_cursor_next), its journal and the
 *      API.  A chunk's signatures share one expiration, the
 *      chunks spread over a 14th of the validity, so that the expiration
 *      index takes a chunk's entries in one place (per-rrset jitter put each
 *      on a page of its own: 778 MB written for 100,000 records, now 214);
 *   3. ends with one short write transaction (finish_staged): marks the zone
 *      signed, which makes the staged rows show, re-signs through the
 *      incremental signer every rrset a change touched since S (read from
 *      the journal) and the apex (SOA, DNSKEY), mending the chain around
 *      them, and bumps the serial once.  No journal entry carries this
 *      serial (the delta is the whole zone): the zone's journal goes, so a
 *      secondary takes the signed zone by AXFR, then IXFR again.
 * Changes arriving meanwhile apply unsigned, like on any unsigned zone, and
 * are signed by step 3.  Switching DNSSEC off, deleting the zone or closing
 * the store cancels the job (its staged rows go).  A job that cannot finish
 * (journal trimmed past S) starts over from a new snapshot, BULK_TRIES times.
 */
#include "primary/store_int.h"
#include "primary/dn_rows.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/rrtype.h"
#include "dns/soa.h"
#include "util/hash.h"
#include "util/log.h"

#define BULK_CHUNK 512       /* names a write transaction stages: a short hold of the lock */
#define BULK_THREADS_MAX 16
#define BULK_TRIES 3
#define SIG_BACKDATE 3600

/* One record of the snapshot: owner and rdata in the job's blob. */
struct brec {
	size_t owner, rd;
	uint16_t type, rdlen;
	uint32_t ttl;
};

/* One owner: its records recs[first..first+n). */
struct bname {
	size_t first, n;
	bool member;       /* in the chain (authoritative, holds data) */
	bool cut;          /* a delegation point: only DS is signed */
	size_t next;       /* the next member (SIZE_MAX: the apex) */
};

/* A key as the job uses it: raw private part copied out of the store. */
struct bkey {
	uint8_t alg;
	uint16_t flags, tag;
	uint8_t raw[DNS_DNSSEC_RAW_MAX];
	uint8_t dnskey[DNS_DNSSEC_DNSKEY_MAX];
	size_t dnskey_len;
};

/* One signature to make. */
struct btask {
	const uint8_t *owner;
	struct dns_dnssec_rrset rs;
	size_t key;
	int len;
	uint8_t out[DNS_DNSSEC_RRSIG_MAX];
};

struct chunk;

/* A worker slot: its own key handles and context. */
struct bslot {
	struct bulk_job *job;
	struct dns_dnssec_key *keys[ZKEYS_MAX];
	struct dns_dnssec_ctx *cx;
	struct chunk *c;              /* the chunk it signs */
	bool nice;                    /* runs on a thread of its own, at a lower priority */
	int ret;
};

struct bulk_job {
	struct store *st;
	int64_t zid;
	uint8_t apex[DNS_NAME_MAX];
	char text[DNS_NAME_TEXT_MAX];
	bool cancel;                  /* under st->wmu */
	struct db *sdb;               /* SQLite: the staging's own connection (NULL: st->w) */
	pthread_t th;
	struct bulk_job *next;
	struct bkey keys[ZKEYS_MAX];
	size_t nkeys;
	/* the snapshot */
	uint32_t serial, neg_ttl, inception, expiration;
	uint8_t *blob;
	size_t blen, bcap;
	struct brec *recs;
	size_t nrecs, rcap;
	struct bname *names;
	size_t nnames;
	struct bslot slots[BULK_THREADS_MAX];
	size_t nslots;
	/* what it cost: signatures made, CPU ns of the slots' threads */
	_Atomic uint64_t nsig, slot_ns;
};

/* ---- the job list ------------------------------------------------------------------------ */

bool
store_zone_signing(struct store *st, int64_t zid)
{
	pthread_mutex_lock(&st->jobs_mu);
	bool on = false;
	for (struct bulk_job *j = st->jobs; j != NULL; j = j->next)
		on |= j->zid == zid && !j->cancel;
	pthread_mutex_unlock(&st->jobs_mu);
	return on;
}

bool
store_snap_zone_signing(struct store_snap *sn, const struct store_zone *z)
{
	return !z->dnssec && store_zone_signing(sn->st, z->id);
}

/* Marks zone `zid`'s job cancelled (the caller holds the write lock).  Whether there was one. */
bool
bulk_cancel(struct store *st, int64_t zid)
{
	bool found = false;
	pthread_mutex_lock(&st->jobs_mu);
	for (struct bulk_job *j = st->jobs; j != NULL; j = j->next) {
		if (j->zid == zid && !j->cancel) {
			j->cancel = true;
			found = true;
		}
	}
	pthread_mutex_unlock(&st->jobs_mu);
	return found;
}

/* Drops an unsigned zone's staged rows (dnssec_names), in the write transaction. */
int
bulk_drop_staged(struct store *st, int64_t zid)
{
	struct db_stmt *s = db_q(st->w, DBQ_STAGED_DROP);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, zid);
	return db_run(s) == 0 ? 0 : -EIO;
}

static void
job_free(struct bulk_job *j)
{
	for (size_t i = 0; i < j->nslots; i++) {
		for (size_t k = 0; k < j->nkeys; k++)
			dns_dnssec_key_free(j->slots[i].keys[k]);
		dns_dnssec_ctx_free(j->slots[i].cx);
	}
	explicit_bzero(j->keys, sizeof(j->keys));
	db_close(j->sdb);
	free(j->blob);
	free(j->recs);
	free(j->names);
	free(j);
}

static void
job_unlink(struct store *st, struct bulk_job *job)
{
	pthread_mutex_lock(&st->jobs_mu);
	for (struct bulk_job **p = &st->jobs; *p != NULL; p = &(*p)->next) {
		if (*p == job) {
			*p = job->next;
			break;
		}
	}
	job->next = st->jobs_done;    /* joined by store_close or the next start */
	st->jobs_done = job;
	pthread_mutex_unlock(&st->jobs_mu);
}

/* ---- 1. the snapshot and the plan ----------------------------------------------------------- */

static int
blob_put(struct bulk_job *j, const void *p, size_t n, size_t *off)
{
	if (j->blen + n > j->bcap) {
		size_t cap = j->bcap ? j->bcap * 2 : 1 << 20;
		while (cap < j->blen + n)
			cap *= 2;
		uint8_t *b = realloc(j->blob, cap);
		if (b == NULL)
			return -ENOMEM;
		j->blob = b;
		j->bcap = cap;
	}
	memcpy(j->blob + j->blen, p, n);
	*off = j->blen;
	j->blen += n;
	return 0;
}

static int
snap_rr(void *ctx, const struct dns_rr *rr)
{
	struct bulk_job *j = ctx;
	if (rr->type == DNS_T_SOA) {
		struct dns_soa so;
		if (dns_soa_parse(rr->rdata, rr->rdlen, &so) != 0)
			return -EIO;
		j->neg_ttl = so.minimum < rr->ttl ? so.minimum : rr->ttl;
		return 0;
	}
	if (store_type_signer(rr->type))
		return 0;
	if (j->nrecs == j->rcap) {
		size_t cap = j->rcap ? j->rcap * 2 : 4096;
		struct brec *r = realloc(j->recs, cap * sizeof(*r));
		if (r == NULL)
			return -ENOMEM;
		j->recs = r;
		j->rcap = cap;
	}
	struct brec *r = &j->recs[j->nrecs];
	uint8_t owner[DNS_NAME_MAX];
	size_t ol = dns_name_len(rr->owner);
	memcpy(owner, rr->owner, ol);
	dns_name_lower(owner);
	/* one copy of each owner: records of a name come together */
	if (j->nrecs > 0 && dns_name_equal(j->blob + j->recs[j->nrecs - 1].owner, owner)) {
		r->owner = j->recs[j->nrecs - 1].owner;
	} else if (blob_put(j, owner, ol, &r->owner) != 0) {
		return -ENOMEM;
	}
	if (blob_put(j, rr->rdata, rr->rdlen, &r->rd) != 0)
		return -ENOMEM;
	r->type = rr->type;
	r->rdlen = rr->rdlen;
	r->ttl = rr->ttl;
	j->nrecs++;
	return 0;
}

/* Groups the records by owner; marks cuts, occluded names and chain members. */
static int
plan(struct bulk_job *j)
{
	j->names = calloc(j->nrecs ? j->nrecs : 1, sizeof(*j->names));
	if (j->names == NULL)
		return -ENOMEM;
	j->nnames = 0;
	const uint8_t *cut = NULL;
	for (size_t i = 0; i < j->nrecs;) {
		struct bname *n = &j->names[j->nnames++];
		n->first = i;
		const uint8_t *owner = j->blob + j->recs[i].owner;
		while (i < j->nrecs && j->recs[i].owner == j->recs[n->first].owner)
			i++;
		n->n = i - n->first;
		bool apex = dns_name_equal(owner, j->apex);
		if (cut != NULL && dns_name_is_sub(owner, cut) && !dns_name_equal(owner, cut))
			continue;   /* occluded: neither signed nor in the chain */
		cut = NULL;
		bool ns = false;
		for (size_t k = n->first; k < i; k++)
			ns |= j->recs[k].type == DNS_T_NS;
		n->cut = ns && !apex;
		if (n->cut)
			cut = owner;
		n->member = !apex;   /* the apex is the final transaction's */
	}
	size_t next = SIZE_MAX;
	for (size_t i = j->nnames; i-- > 0;) {
		j->names[i].next = next;
		if (j->names[i].member)
			next = i;
	}
	return 0;
}

/* ---- 2. signing a chunk on every core ------------------------------------------------------- */

static bool
bkey_signs(const struct bulk_job *j, size_t k, uint16_t type)
{
	bool sep = (j->keys[k].flags & DNS_DNSSEC_FLAG_SEP) != 0;
	bool any_zsk = false, any_sep = false;
	for (size_t i = 0; i < j->nkeys; i++) {
		if (j->keys[i].flags & DNS_DNSSEC_FLAG_SEP)
			any_sep = true;
		else
			any_zsk = true;
	}
	if (type == DNS_T_DNSKEY)
		return sep || !any_sep;
	return !sep || !any_zsk;
}

/* The chunk's rows: NSEC rdata per member name, and the signatures to make.
 * Two of them, reused: one is signed on the worker slots while the job's
 * thread writes the other. */
struct chunk {
	size_t lo, hi;            /* its names */
	uint32_t expiration;      /* of every signature it makes */
	struct btask *tasks;
	size_t ntasks, tcap;
	const uint8_t **rd;      /* rdata pointers of every task's rrset */
	uint16_t *rl;
	size_t nrd, rdcap;
	uint8_t *nsec;           /* the NSEC rdata of its names, one after another */
	size_t nsec_len, nsec_cap;
	size_t *nsec_off;        /* per name: offset in nsec (SIZE_MAX: none) */
	size_t *nsec_rd;         /* per name: its NSEC's index in rd */
	uint16_t *nseclen;
	_Atomic size_t next;     /* the next task a slot takes */
	pthread_t th[BULK_THREADS_MAX];
	bool started[BULK_THREADS_MAX];
	bool signing;
};

static uint64_t
thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
slot_run(void *arg)
{
	struct bslot *s = arg;
	struct bulk_job *j = s->job;
	struct chunk *c = s->c;
	uint64_t t0 = thread_ns(), n = 0;
	if (s->nice)   /* background work: the API's threads go first */
		setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	/* tasks taken one at a time: a slot whose core also runs the job's
	 * writes (or anything else) takes fewer, none waits for a slow one */
	while (s->ret == 0) {
		size_t i = atomic_fetch_add(&c->next, 1);
		if (i >= c->ntasks)
			break;
		struct btask *t = &c->tasks[i];
		t->len = dns_dnssec_sign(s->cx, s->keys[t->key], j->apex, &t->rs, j->inception,
		                         c->expiration, t->out, sizeof(t->out));
		if (t->len < 0)
			s->ret = t->len;
		n++;
	}
	atomic_fetch_add(&j->nsig, n);
	atomic_fetch_add(&j->slot_ns, thread_ns() - t0);
	return NULL;
}

/* Starts signing chunk `c` on every slot (sign_wait joins them). */
static void
sign_start(struct bulk_job *j, struct chunk *c)
{
	atomic_store(&c->next, 0);
	c->signing = true;
	for (size_t i = 0; i < j->nslots; i++) {
		struct bslot *s = &j->slots[i];
		s->c = c;
		s->ret = 0;
		s->nice = true;
		c->started[i] = pthread_create(&c->th[i], NULL, slot_run, s) == 0;
	}
}

/* Waits for chunk `c`'s signatures; 0 or <0. */
static int
sign_wait(struct bulk_job *j, struct chunk *c)
{
	if (!c->signing)
		return 0;
	c->signing = false;
	/* the job's own thread only waits (or writes the previous chunk): it keeps
	 * its priority for the short write transactions, which hold the lock the
	 * API's writes wait for */
	int ret = 0;
	for (size_t i = 0; i < j->nslots; i++) {
		if (c->started[i])
			pthread_join(c->th[i], NULL);
		else {
			j->slots[i].nice = false;
			slot_run(&j->slots[i]);   /* no thread: this one does its share */
		}
		if (ret == 0)
			ret = j->slots[i].ret;
	}
	return ret;
}

static void
chunk_clear(struct chunk *c)
{
	free(c->tasks);
	free(c->rd);
	free(c->rl);
	free(c->nsec);
	free(c->nsec_off);
	free(c->nsec_rd);
	free(c->nseclen);
}

/* Room for BULK_CHUNK names of at most `maxrd` records in all. */
static int
chunk_init(struct chunk *c, size_t maxrd, size_t nkeys)
{
	memset(c, 0, sizeof(*c));
	c->rdcap = maxrd;
	c->tcap = maxrd * nkeys;
	c->tasks = malloc(c->tcap * sizeof(*c->tasks));
	c->rd = malloc(maxrd * sizeof(*c->rd));
	c->rl = malloc(maxrd * sizeof(*c->rl));
	c->nsec_off = malloc(BULK_CHUNK * sizeof(*c->nsec_off));
	c->nsec_rd = malloc(BULK_CHUNK * sizeof(*c->nsec_rd));
	c->nseclen = malloc(BULK_CHUNK * sizeof(*c->nseclen));
	return c->tasks && c->rd && c->rl && c->nsec_off && c->nsec_rd && c->nseclen ? 0 : -ENOMEM;
}

static int
task_add(struct bulk_job *j, struct chunk *c, const uint8_t *owner, uint16_t type, uint32_t ttl,
         size_t nrd)
{
	for (size_t key = 0; key < j->nkeys; key++) {
		if (!bkey_signs(j, key, type))
			continue;
		if (c->ntasks == c->tcap)
			return -ENOSPC;
		struct btask *t = &c->tasks[c->ntasks++];
		t->owner = owner;
		t->rs = (struct dns_dnssec_rrset){.owner = owner, .type = type, .rclass = 1,
		                                  .ttl = ttl, .n = nrd, .rdata = c->rd + c->nrd - nrd,
		                                  .rdlen = c->rl + c->nrd - nrd};
		t->key = key;
	}
	return 0;
}

static int
rd_push(struct chunk *c, const uint8_t *rd, uint16_t len)
{
	if (c->nrd == c->rdcap)
		return -ENOSPC;
	c->rd[c->nrd] = rd;
	c->rl[c->nrd++] = len;
	return 0;
}

/* Appends NSEC rdata to the chunk's buffer; its offset. */
static int
nsec_put(struct chunk *c, const uint8_t *rd, size_t len, size_t *off)
{
	if (c->nsec_len + len > c->nsec_cap) {
		size_t cap = c->nsec_cap ? c->nsec_cap * 2 : 64 << 10;
		while (cap < c->nsec_len + len)
			cap *= 2;
		uint8_t *b = realloc(c->nsec, cap);
		if (b == NULL)
			return -ENOMEM;
		c->nsec = b;
		c->nsec_cap = cap;
	}
	memcpy(c->nsec + c->nsec_len, rd, len);
	*off = c->nsec_len;
	c->nsec_len += len;
	return 0;
}

/* Name `ni`'s rrsets and NSEC into the chunk (slot `ci` of its NSEC entries). */
static int
chunk_name(struct bulk_job *j, struct chunk *c, size_t ni, size_t ci)
{
	const struct bname *n = &j->names[ni];
	const uint8_t *owner = j->blob + j->recs[n->first].owner;
	uint16_t types[256];
	size_t nt = 0;
	int ret = 0;
	for (size_t i = n->first; i < n->first + n->n && ret == 0;) {
		const struct brec *r = &j->recs[i];
		size_t m = 0;
		for (; i < n->first + n->n && j->recs[i].type == r->type && ret == 0; i++, m++)
			ret = rd_push(c, j->blob + j->recs[i].rd, j->recs[i].rdlen);
		if (nt < 250)
			types[nt++] = r->type;
		if (ret == 0 && (!n->cut || r->type == DNS_T_DS))
			ret = task_add(j, c, owner, r->type, r->ttl, m);
	}
	if (ret != 0)
		return ret;
	types[nt++] = DNS_T_RRSIG;
	types[nt++] = DNS_T_NSEC;
	uint8_t bm[DNS_DNSSEC_BITMAP_MAX];
	int bl = dns_dnssec_bitmap_encode(types, nt, bm, sizeof(bm));
	if (bl < 0)
		return -EIO;
	const uint8_t *next = n->next == SIZE_MAX ? j->apex :
	                      j->blob + j->recs[j->names[n->next].first].owner;
	uint8_t rd[DNS_NAME_MAX + DNS_DNSSEC_BITMAP_MAX];
	int len = dns_dnssec_nsec_rdata(next, bm, (size_t)bl, rd, sizeof(rd));
	if (len < 0)
		return -EIO;
	ret = nsec_put(c, rd, (size_t)len, &c->nsec_off[ci]);
	c->nseclen[ci] = (uint16_t)len;
	c->nsec_rd[ci] = c->nrd;
	if (ret == 0)
		ret = rd_push(c, NULL, (uint16_t)len);   /* pointed into c->nsec once it is whole */
	return ret == 0 ? task_add(j, c, owner, DNS_T_NSEC, j->neg_ttl, 1) : ret;
}

/*
 * Plans names [lo, hi) into `c`.  Every signature of a chunk expires at the
 * same second, the chunks' spread over a 14th of the validity (as the
 * incremental signer's per-rrset jitter): refreshes still come in small
 * batches, and the chunk's entries of the expiration index (dnssec_names_exp
 * since schema 0012, records_sig_exp before) go in one place instead of one
 * page each.  Each chunk's second is later
 * than the one before (it was earlier): its entries are then appended at the
 * index's end, which SQLite packs full, instead of inserted before the last
 * chunk's, which split its pages (100,000 records signed: the index 1,179
 * pages 62% full -> 843 pages 87% full, the job thread's CPU 4.9 -> 4.5 us a
 * signature).
 */
static int
chunk_plan(struct bulk_job *j, struct chunk *c, size_t lo, size_t hi)
{
	c->lo = lo;
	c->hi = hi;
	c->ntasks = c->nrd = c->nsec_len = 0;
	uint64_t span = j->st->sig_validity / 14;
	c->expiration = j->expiration - (uint32_t)span +
	                (uint32_t)(span * lo / (j->nnames ? j->nnames : 1));
	int ret = 0;
	for (size_t ni = lo; ni < hi && ret == 0; ni++) {
		c->nsec_off[ni - lo] = SIZE_MAX;
		if (j->names[ni].member)
			ret = chunk_name(j, c, ni, ni - lo);
	}
	for (size_t ni = lo; ni < hi && ret == 0; ni++)
		if (c->nsec_off[ni - lo] != SIZE_MAX)
			c->rd[c->nsec_rd[ni - lo]] = c->nsec + c->nsec_off[ni - lo];
	return ret;
}

static bool
job_cancelled(struct bulk_job *j)
{
	pthread_mutex_lock(&j->st->jobs_mu);
	bool c = j->cancel;
	pthread_mutex_unlock(&j->st->jobs_mu);
	return c;
}

/* In the write transaction on `db`: the zone is still the job's, unsigned, not cancelled. */
static int
job_still_on(struct bulk_job *j, struct db *db, struct store_zone *z)
{
	int ret = zone_get(db, j->apex, z);
	if (ret == -ENOENT || (ret == 0 && (z->id != j->zid || z->dnssec)) || job_cancelled(j))
		return -ECANCELED;
	return ret;
}

static int
job_still(struct bulk_job *j, struct store_zone *z)
{
	return job_still_on(j, j->st->w, z);
}

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * A chunk's rows on their way to the database, one row of dnssec_names a
 * name (its NSEC and its signatures, schema 0012), DB_INSERT_MANY a
 * statement (DBQ_DN_INSERT_MANY), in key order: one run of a statement
 * opens the table's and the indexes' cursors for them all, where one
 * statement a row cost a fifth more of the job thread's CPU (and on
 * PostgreSQL a round trip a row).
 *
 * On SQLite the rows go through a connection of the job's own, with its
 * temporary files in memory: a statement of several rows that may abort (a
 * constraint) keeps a statement journal of the pages it changes, and on
 * the writer's connection that passed 64 KiB and went to a temporary file
 * for the rest of the transaction (900 MB of writes for 100,000 records
 * when each signature was a row of `records`).  Here it stays a few pages
 * in memory (the connection runs nothing else).  foreign_keys stays off on
 * it: the zone's row is checked in the same transaction (job_still_on),
 * under st->wmu, and any failure rolls the whole transaction back.  Both
 * kinds of record are canonical as made (RFC 4034 §6.2: owners lower-cased
 * by snap_rr, the RRSIG's signer by dns_dnssec_sign; NSEC left out of the
 * list by RFC 6840 §5.1).
 */
struct stage_row {
	const uint8_t *owner;
	uint16_t ctype;
	uint32_t cttl;
	const uint8_t *chain, *sigs;
	size_t chainlen, slen;
	int64_t exp;
};

struct stage {
	struct bulk_job *j;
	struct db *db;
	struct stage_row rows[DB_INSERT_MANY];
	size_t n;
	struct nkey k[DB_INSERT_MANY];
};

/* Binds row `r` (key `k`) at parameters b ... b + 6. */
static void
stage_bind(struct db_stmt *s, int b, const struct nkey *k, const struct stage_row *r)
{
	db_bind_blob(s, b, k->key, k->klen);
	db_bind_blob(s, b + 1, k->name, k->nlen);
	db_bind_i64(s, b + 2, r->ctype);
	db_bind_i64(s, b + 3, r->cttl);
	db_bind_blob(s, b + 4, r->chain, r->chainlen);
	db_bind_blob(s, b + 5, r->sigs, r->slen);
	db_bind_i64(s, b + 6, r->exp);
}

/* Writes the rows gathered: a full batch in one statement, fewer (the
 * chunk's tail) one a statement. */
static int
stage_flush(struct stage *sg)
{
	size_t n = sg->n;
	sg->n = 0;
	if (n < DB_INSERT_MANY) {
		for (size_t i = 0; i < n; i++) {
			struct db_stmt *s = db_q(sg->db, DBQ_DN_PUT);
			if (s == NULL)
				return -EIO;
			nkey_set(&sg->k[0], sg->rows[i].owner);
			db_bind_i64(s, 1, sg->j->zid);
			stage_bind(s, 2, &sg->k[0], &sg->rows[i]);
			if (db_run(s) != 0)
				return -EIO;
		}
		return 0;
	}
	struct db_stmt *s = db_q(sg->db, DBQ_DN_INSERT_MANY);
	if (s == NULL)
		return -EIO;
	db_bind_i64(s, 1, sg->j->zid);
	for (size_t i = 0; i < n; i++) {
		nkey_set(&sg->k[i], sg->rows[i].owner);
		stage_bind(s, 2 + 7 * (int)i, &sg->k[i], &sg->rows[i]);
	}
	return db_run(s) == 0 ? 0 : -EIO;
}

static int
stage_add(struct stage *sg, const struct stage_row *r)
{
	sg->rows[sg->n++] = *r;
	return sg->n == DB_INSERT_MANY ? stage_flush(sg) : 0;
}

/* The chunk's rows on `db`, name by name: its signatures packed, its NSEC. */
static int
chunk_rows(struct bulk_job *j, struct db *db, struct chunk *c)
{
	size_t total = 0;
	for (size_t ti = 0; ti < c->ntasks; ti++)
		total += DN_SIG_HEAD + (size_t)c->tasks[ti].len;
	uint8_t *packed = malloc(total ? total : 1);
	struct dn_sig *v = malloc((c->ntasks ? c->ntasks : 1) * sizeof(*v));
	int ret = packed != NULL && v != NULL ? 0 : -ENOMEM;
	struct stage sg = {.j = j, .db = db};
	size_t ti = 0, off = 0;
	for (size_t ni = c->lo; ni < c->hi && ret == 0; ni++) {
		size_t ci = ni - c->lo;
		const uint8_t *owner = j->blob + j->recs[j->names[ni].first].owner;
		size_t nv = 0;
		for (; ti < c->ntasks && c->tasks[ti].owner == owner; ti++)
			v[nv++] = (struct dn_sig){c->tasks[ti].rs.ttl, c->tasks[ti].out,
			                          (uint16_t)c->tasks[ti].len};
		struct stage_row r = {.owner = owner, .sigs = packed + off};
		r.slen = dn_pack(v, nv, packed + off, &r.exp);
		off += r.slen;
		if (c->nsec_off[ci] != SIZE_MAX) {
			r.ctype = DNS_T_NSEC;
			r.cttl = j->neg_ttl;
			r.chain = c->nsec + c->nsec_off[ci];
			r.chainlen = c->nseclen[ci];
		}
		if (r.slen > 0 || r.ctype != 0)
			ret = stage_add(&sg, &r);
	}
	if (ret == 0 && ti != c->ntasks)
		ret = -EIO;   /* a signature of a name outside the chunk: cannot be */
	if (ret == 0)
		ret = stage_flush(&sg);
	free(packed);
	free(v);
	return ret;
}

/* Opens the job's own SQLite connection for the staging (kept NULL, so
 * st->w stages, on PostgreSQL or when it cannot open). */
static void
stage_open(struct bulk_job *j)
{
	if (db_is_pg(j->st->path) || db_open(j->st->path, false, false, &j->sdb) != 0) {
		db_close(j->sdb);
		j->sdb = NULL;
		return;
	}
	static const enum db_qid setup[] = {DBQ_STAGE_CONN, DBQ_STAGE_TEMP};
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
		struct db_stmt *s = db_q(j->sdb, setup[i]);
		if (s == NULL || db_run(s) != 0) {
			db_close(j->sdb);
			j->sdb = NULL;
			return;
		}
	}
	/* a writer as the store's is: no automatic checkpoint, which ran on this
	 * thread (holding st->wmu, the API's writes waiting for its fsync) every
	 * 1,000 frames; the checkpointer takes them, nudged as by the writer
	 * (db_wal_bound after each chunk) */
	if (db_writer_ready(j->sdb) != 0) {
		db_close(j->sdb);
		j->sdb = NULL;
	}
}

/* Stages the chunk's rows on the job's own connection, in a transaction
 * under the store's write lock. */
static int
chunk_stage_own(struct bulk_job *j, struct chunk *c, struct timespec *t0)
{
	struct store *st = j->st;
	struct store_zone z;
	pthread_mutex_lock(&st->wmu);
	clock_gettime(CLOCK_MONOTONIC, t0);
	int ret = db_begin(j->sdb) != 0 ? -EIO : 0;
	if (ret != 0) {
		pthread_mutex_unlock(&st->wmu);
		return ret;
	}
	ret = job_still_on(j, j->sdb, &z);
	if (ret == 0)
		ret = chunk_rows(j, j->sdb, c);
	if (ret == 0 && db_commit(j->sdb) != 0)
		ret = -EIO;
	if (ret != 0)
		db_rollback(j->sdb);
	else
		db_wal_bound(j->sdb, st->ckpt, st->wal_max);
	pthread_mutex_unlock(&st->wmu);
	return ret;
}

/* Writes the chunk's rows staged in one short write transaction. */
static int
chunk_stage(struct bulk_job *j, struct chunk *c)
{
	struct store *st = j->st;
	struct store_zone z;
	struct timespec t0, t1;
	int ret;
	if (j->sdb != NULL) {
		ret = chunk_stage_own(j, c, &t0);
	} else {
		ret = w_begin(st);
		if (ret != 0)
			return ret;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = job_still(j, &z);
		if (ret == 0)
			ret = chunk_rows(j, st->w, c);
		if (ret != 0) {
			w_rollback(st);
			return ret;
		}
		ret = w_commit_quiet(st);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = ms_between(&t0, &t1);
	if (ret == 0 && ms > 200)
		log_warning(j->text, "background signing: a chunk held the write lock %.0f ms", ms);
	return ret;
}

/* ---- 3. the final transaction ------------------------------------------------------------- */

struct since {
	struct change *ch;
	int ret;
};

/* Touches every rrset a journal entry since S changed. */
static int
since_entry(void *ctx, const struct store_journal_entry *e)
{
	struct since *sc = ctx;
	const uint8_t *blob[2] = {e->removed, e->added};
	size_t len[2] = {e->removed_len, e->added_len};
	for (int b = 0; b < 2; b++) {
		size_t pos = 0;
		struct dns_rr rr;
		int rc;
		while ((rc = store_blob_next(blob[b], len[b], &pos, &rr)) == 1) {
			if (rr.type == DNS_T_SOA || store_type_signer(rr.type))
				continue;
			struct nkey k;
			nkey_set(&k, rr.owner);
			int ret = touch(sc->ch, &k, rr.type, "dnssec");
			if (ret != 0)
				return ret;
		}
		if (rc != 0)
			return -EIO;
	}
	return 0;
}

/* The rrsets changed since the snapshot, touched in `ch`.  0, -EAGAIN (journal trimmed), <0. */
static int
touch_since(struct bulk_job *j, struct change *ch)
{
	struct store_snap *sn;
	int ret = store_snap_open(j->st, &sn);
	if (ret != 0)
		return ret;
	struct store_zone z;
	ret = store_snap_zone(sn, j->apex, &z);
	struct since sc = {.ch = ch};
	if (ret == 0)
		ret = store_snap_journal(sn, &z, j->serial, since_entry, &sc);
	store_snap_close(sn);
	return ret == -ERANGE ? -EAGAIN : ret;
}

static int
job_finish(struct bulk_job *j)
{
	struct store *st = j->st;
	struct store_zone z;
	struct store_result res = {0};
	char err[256] = "";
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ret = job_still(j, &z);
	z.dnssec = true;
	z.nsec3 = false;
	struct change ch = {.st = st, .z = &z, .keys = true, .err = err, .errcap = sizeof(err)};
	nkey_set(&ch.apex, j->apex);
	if (ret == 0)
		ret = touch_since(j, &ch);
	if (ret == 0)
		ret = zone_dnssec_mark(st, j->zid, false);
	if (ret == 0)
		ret = finish_staged(&ch, &res);
	if (ret != 0 && err[0] != '\0')
		log_error(j->text, "background signing: %s", err);
	ret = end_write(st, &z, ret, &res, "zone signed in the background");
	clock_gettime(CLOCK_MONOTONIC, &t2);
	log_info(j->text, "background signing: the final transaction held the write lock %.0f ms "
	         "(waited %.0f ms for it)", ms_between(&t1, &t2), ms_between(&t0, &t1));
	return ret;
}

/* ---- the job ---------------------------------------------------------------------------- */

static int
job_snapshot(struct bulk_job *j)
{
	struct store *st = j->st;
	struct store_zone z;
	int ret = w_begin(st);
	if (ret != 0)
		return ret;
	ret = job_still(j, &z);
	if (ret == 0)
		ret = bulk_drop_staged(st, j->zid);   /* an earlier try's */
	if (ret != 0) {
		w_rollback(st);
		return ret;
	}
	ret = w_commit_quiet(st);
	struct store_snap *sn;
	if (ret == 0)
		ret = store_snap_open(st, &sn);
	if (ret != 0)
		return ret;
	j->nrecs = j->blen = 0;
	free(j->names);
	j->names = NULL;
	ret = store_snap_zone(sn, j->apex, &z);
	if (ret == 0 && (z.id != j->zid || z.dnssec))
		ret = -ECANCELED;
	j->serial = z.serial;
	if (ret == 0)
		ret = store_snap_records(sn, &z, snap_rr, j);
	store_snap_close(sn);
	return ret == 0 ? plan(j) : ret;
}

/*
 * Waits, holding no lock, while the WAL file is over 7/16 of --wal-max (at
 * most 5 s): past 3/8 the writer starts it over in place (db_wal_bound), so
 * a file that large means readers held that back; the checkpointer copies
 * it back and truncates it meanwhile, so the staging never pushes it to
 * where a checkpoint is forced on the writers (half).  (At a quarter, as
 * before, it waited on every chunk: a WAL started over keeps its file.)
 */
static void
wal_wait(struct bulk_job *j)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s-wal", j->st->path);
	for (int i = 0; i < 250; i++) {
		struct stat sb;
		if (stat(path, &sb) != 0 || (int64_t)sb.st_size <= j->st->wal_max * 7 / 16)
			return;
		usleep(20000);
	}
}

/* The most rdata a chunk plans (each name's records and its NSEC). */
static size_t
chunk_max_rd(const struct bulk_job *j)
{
	size_t max = 1;
	for (size_t lo = 0; lo < j->nnames; lo += BULK_CHUNK) {
		size_t hi = lo + BULK_CHUNK < j->nnames ? lo + BULK_CHUNK : j->nnames, n = 0;
		for (size_t ni = lo; ni < hi; ni++)
			n += j->names[ni].n + 1;
		max = n > max ? n : max;
	}
	return max;
}

/*
 * Signs and stages every chunk, two at a time: while the slots sign chunk
 * i+1, this thread writes chunk i (the writes' CPU overlaps the signing's).
 */
static int
job_chunks(struct bulk_job *j)
{
	struct chunk c[2];
	size_t maxrd = chunk_max_rd(j);
	int ret = chunk_init(&c[0], maxrd, j->nkeys);
	int ret1 = chunk_init(&c[1], maxrd, j->nkeys);
	ret = ret != 0 ? ret : ret1;
	size_t lo = 0;
	if (ret == 0 && j->nnames > 0) {
		ret = chunk_plan(j, &c[0], 0, BULK_CHUNK < j->nnames ? BULK_CHUNK : j->nnames);
		if (ret == 0)
			sign_start(j, &c[0]);
	}
	for (int cur = 0; ret == 0 && lo < j->nnames; cur ^= 1) {
		struct chunk *now = &c[cur], *nx = &c[cur ^ 1];
		ret = sign_wait(j, now);
		lo = now->hi;
		if (ret == 0 && job_cancelled(j))
			ret = -ECANCELED;
		if (ret == 0 && lo < j->nnames) {
			size_t hi = lo + BULK_CHUNK < j->nnames ? lo + BULK_CHUNK : j->nnames;
			ret = chunk_plan(j, nx, lo, hi);
			if (ret == 0)
				sign_start(j, nx);
		}
		if (ret == 0) {
			wal_wait(j);
			ret = chunk_stage(j, now);
		}
	}
	sign_wait(j, &c[0]);   /* none left running (after an error) */
	sign_wait(j, &c[1]);
	chunk_clear(&c[0]);
	chunk_clear(&c[1]);
	return ret;
}

static int
job_try(struct bulk_job *j)
{
	int ret = job_snapshot(j);
	uint32_t now = (uint32_t)time(NULL);
	j->inception = now - SIG_BACKDATE;
	j->expiration = now + j->st->sig_validity;
	if (ret == 0)
		ret = job_chunks(j);
	return ret == 0 ? job_finish(j) : ret;
}

/* Each worker slot's own key handles and context, from the raw keys. */
static int
job_slots(struct bulk_job *j)
{
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	j->nslots = nc < 1 ? 1 : nc > BULK_THREADS_MAX ? BULK_THREADS_MAX : (size_t)nc;
	for (size_t i = 0; i < j->nslots; i++) {
		struct bslot *s = &j->slots[i];
		s->job = j;
		s->cx = dns_dnssec_ctx_new();
		if (s->cx == NULL)
			return -ENOMEM;
		for (size_t k = 0; k < j->nkeys; k++) {
			const struct bkey *b = &j->keys[k];
			int ret = dns_dnssec_key_from_raw(b->alg, b->flags, b->raw, sizeof(b->raw),
			                                  b->dnskey + 4, b->dnskey_len - 4, &s->keys[k]);
			if (ret != 0)
				return -EIO;
		}
	}
	return 0;
}

static void *
job_run(void *arg)
{
	struct bulk_job *j = arg;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t c0 = thread_ns();
	int ret = job_slots(j);
	explicit_bzero(j->keys, sizeof(j->keys[0]) * j->nkeys);
	stage_open(j);
	for (int try = 0; ret == 0 || ret == -EAGAIN; try++) {
		ret = try < BULK_TRIES ? job_try(j) : -EAGAIN;
		if (try >= BULK_TRIES || ret != -EAGAIN)
			break;
		log_notice(j->text, "background signing: the journal no longer reaches the "
		           "snapshot's serial, starting over");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (ret == 0) {
		/* the signing's CPU (slots: signed data and signatures) apart from the
		 * job thread's (snapshot, plan, rows written); bench/sign.sh reads it */
		uint64_t nsig = atomic_load(&j->nsig), jns = thread_ns() - c0;
		double per = nsig ? 1e-3 / (double)nsig : 0;
		log_info(j->text, "signed in the background: %zu names in %.2f s on %zu threads; "
		         "%" PRIu64 " signatures, CPU a signature: %.1f us signing, %.1f us "
		         "snapshot and writes", j->nnames, s, j->nslots, nsig,
		         (double)atomic_load(&j->slot_ns) * per, (double)jns * per);
	}
	else if (ret != -ECANCELED)
		log_error(j->text, "background signing failed (%d); the zone stays unsigned: "
		          "PUT dnssec true again", ret);
	job_unlink(j->st, j);
	return NULL;
}

/* Joins and frees the jobs that ended. */
static void
reap(struct store *st)
{
	for (;;) {
		pthread_mutex_lock(&st->jobs_mu);
		struct bulk_job *j = st->jobs_done;
		if (j != NULL)
			st->jobs_done = j->next;
		pthread_mutex_unlock(&st->jobs_mu);
		if (j == NULL)
			return;
		pthread_join(j->th, NULL);
		job_free(j);
	}
}

void
bulk_stop_all(struct store *st)
{
	pthread_mutex_lock(&st->jobs_mu);
	for (struct bulk_job *j = st->jobs; j != NULL; j = j->next)
		j->cancel = true;
	pthread_mutex_unlock(&st->jobs_mu);
	for (;;) {
		pthread_mutex_lock(&st->jobs_mu);
		struct bulk_job *j = st->jobs;
		pthread_t th = j != NULL ? j->th : (pthread_t){0};
		pthread_mutex_unlock(&st->jobs_mu);
		if (j == NULL)
			break;
		pthread_join(th, NULL);   /* it moved itself to jobs_done; not joined twice: */
		pthread_mutex_lock(&st->jobs_mu);
		for (struct bulk_job **p = &st->jobs_done; *p != NULL; p = &(*p)->next) {
			if (*p == j) {
				*p = j->next;
				break;
			}
		}
		pthread_mutex_unlock(&st->jobs_mu);
		job_free(j);
	}
	reap(st);
}

bool
bulk_wanted(struct store *st, const struct store_zone *z, bool nsec3)
{
	if (nsec3)
		return false;   /* NSEC3 zones are signed in the switching transaction */
	struct db_stmt *s = db_q(st->w, DBQ_ZONE_RECORDS_COUNT);
	if (s == NULL)
		return false;
	db_bind_i64(s, 1, z->id);
	int64_t n = db_step(s) == DB_ROW ? db_col_i64(s, 0) : 0;
	db_done(s);
	return n >= (int64_t)st->bulk_min;
}

int
bulk_start(struct store *st, const struct store_zone *z, struct bulk_job **out)
{
	reap(st);
	struct bulk_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->st = st;
	j->zid = z->id;
	memcpy(j->apex, z->name, dns_name_len(z->name));
	copy_text(j->text, sizeof(j->text), z->text);
	struct zkey keys[ZKEYS_MAX];
	int nk = zkeys_load(st, z->id, keys, ZKEYS_MAX);
	if (nk < 0) {
		free(j);
		return nk;
	}
	for (int i = 0; i < nk; i++) {
		if (!keys[i].active || keys[i].key == NULL)
			continue;
		struct bkey *b = &j->keys[j->nkeys];
		if (dns_dnssec_key_to_raw(keys[i].key, b->raw, sizeof(b->raw)) != (int)sizeof(b->raw))
			continue;
		b->alg = keys[i].alg;
		b->flags = keys[i].flags;
		b->tag = keys[i].tag;
		memcpy(b->dnskey, keys[i].dnskey, keys[i].dnskey_len);
		b->dnskey_len = keys[i].dnskey_len;
		j->nkeys++;
	}
	zkeys_free(keys, (size_t)nk);
	if (j->nkeys == 0) {
		job_free(j);
		return -EINVAL;
	}
	*out = j;
	return 0;
}

int
bulk_run(struct store *st, struct bulk_job *j)
{
	pthread_mutex_lock(&st->jobs_mu);
	int rc = pthread_create(&j->th, NULL, job_run, j);
	if (rc == 0) {
		j->next = st->jobs;
		st->jobs = j;
	}
	pthread_mutex_unlock(&st->jobs_mu);
	if (rc != 0) {
		job_free(j);
		return -ENOMEM;
	}
	return 0;
}

void
bulk_discard(struct bulk_job *j)
{
	if (j != NULL)
		job_free(j);
}

/* The names of the zones whose background signing did not finish (at most 64). */
static size_t
pending_zones(struct store *st, uint8_t (*names)[DNS_NAME_MAX], size_t max)
{
	struct db_stmt *s = db_q(st->w, DBQ_ZONES_SIGN_PENDING);
	if (s == NULL)
		return 0;
	size_t n = 0;
	while (n < max && db_step(s) == DB_ROW) {
		size_t nl = db_col_bytes(s, 0);
		if (nl <= DNS_NAME_MAX && dns_name_check(db_col_blob(s, 0), nl) == (int)nl)
			memcpy(names[n++], db_col_blob(s, 0), nl);
	}
	db_done(s);
	return n;
}

void
bulk_resume(struct store *st)
{
	if (!st->has_kek || w_begin(st) != 0)
		return;
	uint8_t names[64][DNS_NAME_MAX];
	struct bulk_job *jobs[64];
	size_t n = pending_zones(st, names, 64), nj = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_zone z;
		if (zone_get(st->w, names[i], &z) != 0 || z.dnssec)
			continue;
		if (bulk_start(st, &z, &jobs[nj]) == 0)
			nj++;
		else
			log_error(z.text, "background signing cannot resume: no active key opens");
	}
	if (w_commit_quiet(st) != 0) {
		for (size_t i = 0; i < nj; i++)
			bulk_discard(jobs[i]);
		return;
	}
	for (size_t i = 0; i < nj; i++) {
		log_info(jobs[i]->text, "background signing resumed after a restart");
		bulk_run(st, jobs[i]);
	}
}
