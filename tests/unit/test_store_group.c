/* primary/store_txn.c's group commit: changes queued while the writer is busy
 * are written in one transaction, each with its own serial and journal entry,
 * each prerequisite checked against the changes before it; an answer (a
 * failed prerequisite) undoes only its change; any other failure runs each
 * change alone, so one bad change cannot fail the others.  The groups are
 * made deterministic by holding the writer's mutex while the changes queue. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "primary/db.h"
#include "primary/store.h"
#include "primary/store_int.h"
#include "store_db.h"
#include "store_fx.h"

static int
setup(void **state)
{
	*state = store_fx_new("group", 50);
	return 0;
}

static int
teardown(void **state)
{
	store_fx_free(*state);
	return 0;
}

/* One change of one thread: an op (one record of `type` at `owner`) and at
 * most one prerequisite, and what the store answered. */
struct chg {
	struct store_fx *f;
	uint8_t owner[DNS_NAME_MAX];
	uint8_t rd[512];
	struct store_rec rec;
	struct store_op op;
	struct store_prereq pre;
	size_t npre;
	size_t failed;
	struct store_result res;
	char err[256];
	int ret;
	pthread_t th;
	bool audit;                  /* arm an audit row "chg <what>" around the change */
	struct store_audit_arm arm;
	int what;
};

static void
chg_init(struct chg *c, struct store_fx *f, const char *owner, const char *type, uint32_t ttl,
         const char *rdata)
{
	memset(c, 0, sizeof(*c));
	c->f = f;
	c->failed = 99;
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, c->owner) > 0);
	c->op.kind = STORE_OP_EXTEND;
	c->op.owner = c->owner;
	assert_int_equal(dns_rrtype_from_text(type, strlen(type), &c->op.type), 0);
	c->op.ttl = ttl;
	c->op.has_ttl = true;
	snprintf(c->op.label, sizeof(c->op.label), "update 0");
	char msg[128];
	int rl = dns_rdata_from_str(c->op.type, rdata, strlen(rdata), dns_root_name, c->rd,
	                            sizeof(c->rd), msg, sizeof(msg));
	assert_true(rl >= 0);
	c->rec.rdata = c->rd;
	c->rec.rdlen = (uint16_t)rl;
	c->op.recs = &c->rec;
	c->op.nrecs = 1;
}

/* The change's prerequisite: `kind` on (`owner`, type); owner lives in `buf`. */
static void
chg_pre(struct chg *c, enum store_prereq_kind kind, const char *owner, uint16_t type,
        uint8_t *buf)
{
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, buf) > 0);
	c->pre = (struct store_prereq){.kind = kind, .owner = buf, .type = type};
	c->npre = 1;
}

static void *
chg_run(void *arg)
{
	struct chg *c = arg;
	if (c->audit) {
		memset(&c->arm, 0, sizeof(c->arm));
		c->arm.row.key_id = c->what + 1;
		snprintf(c->arm.row.what, sizeof(c->arm.row.what), "chg %d", c->what);
		c->arm.row.status = 204;
		store_audit_arm(c->f->st, &c->arm);
	}
	c->ret = store_zone_patch_if(c->f->st, c->f->zone, NULL, c->npre ? &c->pre : NULL, c->npre,
	                             &c->failed, &c->op, 1, &c->res, c->err, sizeof(c->err));
	if (c->audit)
		store_audit_disarm(c->f->st, &c->arm, c->ret == 0 ? 204 : 500);
	return NULL;
}

static void
create_zone(struct store_fx *f)
{
	struct chg soa, ns, www;
	chg_init(&soa, f, "example.com.", "SOA", 3600,
	         "ns1.example.com. admin.example.com. 100 7200 3600 1209600 300");
	chg_init(&ns, f, "example.com.", "NS", 3600, "ns1.example.com.");
	chg_init(&www, f, "www.example.com.", "A", 300, "192.0.2.1");
	struct store_op ops[3] = {soa.op, ns.op, www.op};
	ops[0].kind = ops[1].kind = ops[2].kind = STORE_OP_REPLACE;
	struct store_zone_new zn = {.name = f->zone, .kind = "Native", .account = "acme",
	                            .policy = DNS_SERIAL_INCREASE};
	struct store_result res;
	char err[256] = "";
	assert_int_equal(store_zone_create(f->st, &zn, ops, 3, &res, err, sizeof(err)), 0);
}

/* Waits (at most 10 s) until `n` changes wait in the group queue behind a leader. */
static void
wait_queued(struct store *st, size_t n)
{
	for (int i = 0; i < 10000; i++) {
		pthread_mutex_lock(&st->gmu);
		size_t k = 0;
		for (struct w_job *j = st->gqueue; j != NULL; j = j->next)
			k++;
		bool lead = st->gleader;
		pthread_mutex_unlock(&st->gmu);
		if (lead && k == n)
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	fail_msg("%zu changes never queued", n);
}

/*
 * c[0] leads (its group of one waits for the writer, held here); c[1..n)
 * queue behind it in this order and are written as one group when the
 * writer is let go.
 */
static void
run_grouped(struct store_fx *f, struct chg *c, size_t n)
{
	pthread_mutex_lock(&f->st->wmu);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(pthread_create(&c[i].th, NULL, chg_run, &c[i]), 0);
		wait_queued(f->st, i);
	}
	pthread_mutex_unlock(&f->st->wmu);
	for (size_t i = 0; i < n; i++)
		pthread_join(c[i].th, NULL);
}

struct chain {
	size_t entries;
	uint32_t first_from, last_to;
	bool broken;
};

static int
chain_entry(void *ctx, const struct store_journal_entry *e)
{
	struct chain *c = ctx;
	if (c->entries == 0)
		c->first_from = e->serial_from;
	else if (e->serial_from != c->last_to)
		c->broken = true;
	if (e->serial_to != e->serial_from + 1)
		c->broken = true;
	c->last_to = e->serial_to;
	c->entries++;
	return 0;
}

static struct chain
journal_from(struct store_fx *f, uint32_t since)
{
	struct store_snap *sn;
	struct store_zone z;
	struct chain c = {0};
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	assert_int_equal(store_snap_journal(sn, &z, since, chain_entry, &c), 0);
	store_snap_close(sn);
	return c;
}

static int
count_row(void *ctx, const struct store_row *r)
{
	(void)r;
	(*(size_t *)ctx)++;
	return 0;
}

static size_t
rows_at(struct store_fx *f, const char *owner)
{
	uint8_t w[DNS_NAME_MAX];
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, w) > 0);
	struct store_snap *sn;
	struct store_zone z;
	size_t n = 0;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	assert_int_equal(store_snap_rows(sn, &z, w, 0, count_row, &n), 0);
	store_snap_close(sn);
	return n;
}

static void
assert_change(const struct chg *c, uint32_t from)
{
	assert_int_equal(c->ret, 0);
	assert_true(c->res.changed);
	assert_int_equal(c->res.old_serial, from);
	assert_int_equal(c->res.new_serial, from + 1);
}

/* One group of four: each its serial and journal entry; the second's
 * prerequisite holds through the first; the third's fails (its rcode alone);
 * the fourth's holds because the third was undone. */
static void
test_group_serials_and_prereqs(void **state)
{
	struct store_fx *f = *state;
	create_zone(f);
	struct chg c[5];
	uint8_t p2[DNS_NAME_MAX], p3[DNS_NAME_MAX], p4[DNS_NAME_MAX];
	chg_init(&c[0], f, "lead.example.com.", "TXT", 60, "\"lead\"");
	chg_init(&c[1], f, "a.example.com.", "TXT", 60, "\"a\"");
	chg_init(&c[2], f, "b.example.com.", "TXT", 60, "\"b\"");
	chg_pre(&c[2], STORE_PRQ_YXRRSET, "a.example.com.", DNS_T_TXT, p2);
	chg_init(&c[3], f, "c.example.com.", "TXT", 60, "\"c\"");
	chg_pre(&c[3], STORE_PRQ_NXDOMAIN, "www.example.com.", 0, p3);
	chg_init(&c[4], f, "d.example.com.", "TXT", 60, "\"d\"");
	chg_pre(&c[4], STORE_PRQ_NXDOMAIN, "c.example.com.", 0, p4);
	struct store_stats s0, s1;
	assert_int_equal(store_stats(f->st, &s0), 0);
	run_grouped(f, c, 5);
	assert_change(&c[0], 100);
	assert_change(&c[1], 101);
	assert_change(&c[2], 102);
	assert_int_equal(c[3].ret, -ECANCELED);
	assert_int_equal(c[3].failed, 0);
	assert_change(&c[4], 103);
	/* c[1], c[2] and c[4] were one transaction */
	assert_int_equal(store_stats(f->st, &s1), 0);
	assert_int_equal(s1.groups - s0.groups, 1);
	assert_int_equal(s1.grouped - s0.grouped, 3);
	assert_int_equal(s1.commits - s0.commits, 4);
	struct chain j = journal_from(f, 100);
	assert_false(j.broken);
	assert_int_equal(j.entries, 4);
	assert_int_equal(j.first_from, 100);
	assert_int_equal(j.last_to, 104);
	assert_int_equal(rows_at(f, "c.example.com."), 0);
	assert_int_equal(rows_at(f, "d.example.com."), 1);
}

/* A database error in one change of a group: the group is rolled back and
 * each change runs alone; only the bad one fails. */
static void
test_group_failure_runs_each_alone(void **state)
{
	struct store_fx *f = *state;
	create_zone(f);
	bool pg = test_db_pg();
	test_db_exec(f->path, pg ? "CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS "
	                           "$$BEGIN IF NEW.ttl = 4242 THEN RAISE EXCEPTION 'injected'; "
	                           "END IF; RETURN NEW; END$$; CREATE TRIGGER inject BEFORE INSERT "
	                           "ON records FOR EACH ROW EXECUTE FUNCTION inject()"
	                         : "CREATE TRIGGER inject BEFORE INSERT ON records WHEN NEW.ttl = "
	                           "4242 BEGIN SELECT RAISE(ABORT, 'injected'); END");
	struct chg c[4];
	chg_init(&c[0], f, "lead.example.com.", "TXT", 60, "\"lead\"");
	chg_init(&c[1], f, "a.example.com.", "TXT", 60, "\"a\"");
	chg_init(&c[2], f, "bad.example.com.", "TXT", 4242, "\"bad\"");
	chg_init(&c[3], f, "c.example.com.", "TXT", 60, "\"c\"");
	struct store_stats s0, s1;
	assert_int_equal(store_stats(f->st, &s0), 0);
	run_grouped(f, c, 4);
	assert_change(&c[0], 100);
	assert_change(&c[1], 101);
	assert_int_equal(c[2].ret, -EIO);
	assert_change(&c[3], 102);
	assert_int_equal(store_stats(f->st, &s1), 0);
	assert_int_equal(s1.groups - s0.groups, 0);
	assert_int_equal(s1.commits - s0.commits, 3);
	struct chain j = journal_from(f, 100);
	assert_false(j.broken);
	assert_int_equal(j.entries, 3);
	assert_int_equal(rows_at(f, "bad.example.com."), 0);
	assert_int_equal(rows_at(f, "c.example.com."), 1);
}

/* Many threads at once, no help: every change gets a serial of its own,
 * the journal has one entry per change in one unbroken chain. */
static void
test_group_concurrent_each_serial(void **state)
{
	struct store_fx *f = *state;
	create_zone(f);
	enum { N = 24 };
	struct chg *c = calloc(N, sizeof(*c));
	char owner[64], val[32];
	for (int i = 0; i < N; i++) {
		snprintf(owner, sizeof(owner), "n%d.example.com.", i);
		snprintf(val, sizeof(val), "\"v%d\"", i);
		chg_init(&c[i], f, owner, "TXT", 60, val);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&c[i].th, NULL, chg_run, &c[i]), 0);
	bool seen[N + 1] = {false};
	for (int i = 0; i < N; i++) {
		pthread_join(c[i].th, NULL);
		assert_int_equal(c[i].ret, 0);
		assert_int_equal(c[i].res.new_serial, c[i].res.old_serial + 1);
		uint32_t k = c[i].res.new_serial - 100;
		assert_true(k >= 1 && k <= N);
		assert_false(seen[k]);
		seen[k] = true;
	}
	struct chain j = journal_from(f, 100);
	assert_false(j.broken);
	assert_int_equal(j.entries, N);
	assert_int_equal(j.last_to, 100 + N);
	free(c);
}

struct audit_seen {
	size_t n[8];
	struct store_audit row[8];
};

static int
audit_row(void *ctx, const struct store_audit *a)
{
	struct audit_seen *s = ctx;
	int w = -1;
	if (sscanf(a->what, "chg %d", &w) == 1 && w >= 0 && w < 8) {
		s->n[w]++;
		s->row[w] = *a;
	}
	return 0;
}

/* Each change's audit row is written with it, naming its own serials,
 * whichever thread writes the group: in a group, and when a failed group
 * runs each change alone (the leader's thread writing the others'). */
static void
test_group_audit_rows_each_their_change(void **state)
{
	struct store_fx *f = *state;
	create_zone(f);
	bool pg = test_db_pg();
	test_db_exec(f->path, pg ? "CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS "
	                           "$$BEGIN IF NEW.ttl = 4242 THEN RAISE EXCEPTION 'injected'; "
	                           "END IF; RETURN NEW; END$$; CREATE TRIGGER inject BEFORE INSERT "
	                           "ON records FOR EACH ROW EXECUTE FUNCTION inject()"
	                         : "CREATE TRIGGER inject BEFORE INSERT ON records WHEN NEW.ttl = "
	                           "4242 BEGIN SELECT RAISE(ABORT, 'injected'); END");
	struct chg c[8];
	const char *own[8] = {"l1", "a", "b", "c", "l2", "d", "bad", "e"};
	for (int i = 0; i < 8; i++) {
		char o[64];
		snprintf(o, sizeof(o), "%s.example.com.", own[i]);
		chg_init(&c[i], f, o, "TXT", i == 6 ? 4242 : 60, "\"x\"");
		c[i].audit = true;
		c[i].what = i;
	}
	run_grouped(f, c, 4);        /* a leader alone, then a group of three */
	run_grouped(f, c + 4, 4);    /* a leader alone, then a failed group: each alone */
	struct audit_seen seen = {0};
	assert_int_equal(store_audit_list(f->st, NULL, NULL, 0, 0, 100, audit_row, &seen), 0);
	for (int i = 0; i < 8; i++) {
		if (i == 6) {
			assert_int_equal(c[i].ret, -EIO);
			assert_int_equal(seen.n[i], 0);
			continue;
		}
		assert_int_equal(c[i].ret, 0);
		assert_int_equal(seen.n[i], 1);
		assert_true(seen.row[i].serials);
		assert_int_equal(seen.row[i].key_id, i + 1);
		assert_int_equal(seen.row[i].old_serial, c[i].res.old_serial);
		assert_int_equal(seen.row[i].new_serial, c[i].res.new_serial);
		assert_string_equal(seen.row[i].zone, "example.com.");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_serials_and_prereqs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_failure_runs_each_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_concurrent_each_serial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_audit_rows_each_their_change, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
