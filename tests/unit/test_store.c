/* primary/store*.c: migrations, changes, rules, serials, journal, catalog, snapshots,
 * the commit listener, the POP registry. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "util/err.h"
#include "store_db.h"
#include "store_fx.h"

/* primary/store_int.h STORE_RETRIES */
#define STORE_TEST_RETRIES 5

static int
setup(void **state)
{
	*state = store_fx_new("store", 5);
	return 0;
}

static int
teardown(void **state)
{
	store_fx_free(*state);
	return 0;
}

/* One op from text: owner, type, records separated by '|'. */
struct opbuf {
	uint8_t owner[DNS_NAME_MAX];
	uint8_t rd[8][512];
	struct store_rec recs[8];
	struct store_op op;
};

static struct store_op *
mkop(struct opbuf *b, enum store_op_kind kind, const char *owner, const char *type, uint32_t ttl,
     const char *records)
{
	memset(b, 0, sizeof(*b));
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, b->owner) > 0);
	b->op.kind = kind;
	b->op.owner = b->owner;
	assert_int_equal(dns_rrtype_from_text(type, strlen(type), &b->op.type), 0);
	b->op.ttl = ttl;
	b->op.has_ttl = true;
	snprintf(b->op.label, sizeof(b->op.label), "rrsets[0]");
	size_t n = 0;
	const char *p = records;
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, '|');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char msg[128];
		int rl = dns_rdata_from_str(b->op.type, p, len, dns_root_name, b->rd[n], 512, msg,
		                            sizeof(msg));
		assert_true(rl >= 0);
		b->recs[n].rdata = b->rd[n];
		b->recs[n].rdlen = (uint16_t)rl;
		n++;
		p = e ? e + 1 : NULL;
	}
	b->op.recs = b->recs;
	b->op.nrecs = n;
	return &b->op;
}

static void
create_zone(struct store_fx *f, enum dns_serial_policy pol)
{
	struct opbuf soa, ns, a;
	struct store_op ops[3] = {
		*mkop(&soa, STORE_OP_REPLACE, "example.com.", "SOA", 3600,
		      "ns1.example.com. admin.example.com. 100 7200 3600 1209600 300"),
		*mkop(&ns, STORE_OP_REPLACE, "example.com.", "NS", 3600, "ns1.example.com.|ns2.example.net."),
		*mkop(&a, STORE_OP_REPLACE, "www.example.com.", "A", 300, "192.0.2.1"),
	};
	struct store_zone_new zn = {.name = f->zone, .kind = "Native", .account = "acme", .policy = pol};
	struct store_result res;
	char err[256] = "";
	assert_int_equal(store_zone_create(f->st, &zn, ops, 3, &res, err, sizeof(err)), 0);
	assert_int_equal(res.new_serial, 100);
}

static uint32_t
serial_of(struct store_fx *f)
{
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	store_snap_close(sn);
	return z.serial;
}

static int
patch1(struct store_fx *f, struct store_op *op, struct store_result *res, char *err)
{
	return store_zone_patch(f->st, f->zone, NULL, NULL, op, 1, res, err, 256);
}

static void
test_store_patch_bumps_once_and_journals(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "www.example.com.", "A", 300,
	                                "192.0.2.2|192.0.2.3"), &res, err), 0);
	assert_true(res.changed);
	assert_int_equal(res.old_serial, 100);
	assert_int_equal(res.new_serial, 101);
	/* same content again: nothing changes */
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "www.example.com.", "A", 300,
	                                "192.0.2.3|192.0.2.2"), &res, err), 0);
	assert_false(res.changed);
	assert_int_equal(serial_of(f), 101);
	/* the journal entry: old SOA + removed A, new SOA + two added A */
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	size_t count;
	uint32_t oldest;
	assert_int_equal(store_snap_journal_range(sn, &z, &count, &oldest), 0);
	assert_int_equal(count, 1);
	assert_int_equal(oldest, 100);
	store_snap_close(sn);
}

/* DNS UPDATE's prerequisites run in the change's transaction; DELETE_NAME
 * keeps the apex SOA and NS. */
static void
test_store_patch_if_prereqs(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct opbuf add, www, v1, v2, apex;
	struct store_result res;
	char err[256] = "";
	size_t failed = 99;
	mkop(&add, STORE_OP_EXTEND, "new.example.com.", "A", 60, "192.0.2.9");
	mkop(&www, STORE_OP_REPLACE, "www.example.com.", "A", 0, "");
	/* nxdomain on a used name fails at index 1; nothing written */
	struct store_prereq pre[2] = {
		{.kind = STORE_PRQ_NXDOMAIN, .owner = add.owner},
		{.kind = STORE_PRQ_NXDOMAIN, .owner = www.owner},
	};
	assert_int_equal(store_zone_patch_if(f->st, f->zone, NULL, pre, 2, &failed, &add.op, 1,
	                                     &res, err, sizeof(err)), -ECANCELED);
	assert_int_equal(failed, 1);
	assert_int_equal(serial_of(f), 100);
	/* value-dependent: the exact set holds (order and repeats do not matter) */
	mkop(&v1, STORE_OP_REPLACE, "www.example.com.", "A", 0, "192.0.2.1|192.0.2.1");
	struct store_prereq ok[3] = {
		{.kind = STORE_PRQ_NXDOMAIN, .owner = add.owner},
		{.kind = STORE_PRQ_YXRRSET, .owner = www.owner, .type = DNS_T_A},
		{.kind = STORE_PRQ_YXRRSET_VALUE, .owner = www.owner, .type = DNS_T_A,
		 .recs = v1.op.recs, .nrecs = 2},
	};
	assert_int_equal(store_zone_patch_if(f->st, f->zone, NULL, ok, 3, &failed, &add.op, 1,
	                                     &res, err, sizeof(err)), 0);
	assert_int_equal(res.new_serial, 101);
	/* a different set: fails */
	mkop(&v2, STORE_OP_REPLACE, "www.example.com.", "A", 0, "192.0.2.1|192.0.2.2");
	struct store_prereq bad = {.kind = STORE_PRQ_YXRRSET_VALUE, .owner = www.owner,
	                           .type = DNS_T_A, .recs = v2.op.recs, .nrecs = 2};
	assert_int_equal(store_zone_patch_if(f->st, f->zone, NULL, &bad, 1, &failed, &add.op, 1,
	                                     &res, err, sizeof(err)), -ECANCELED);
	/* delete the apex name: SOA and NS stay, the serial moves once */
	mkop(&apex, STORE_OP_DELETE_NAME, "example.com.", "A", 0, "");
	assert_int_equal(store_zone_patch_if(f->st, f->zone, NULL, NULL, 0, &failed, &apex.op, 1,
	                                     &res, err, sizeof(err)), 0);
	assert_false(res.changed);
	mkop(&apex, STORE_OP_DELETE_NAME, "new.example.com.", "A", 0, "");
	assert_int_equal(store_zone_patch_if(f->st, f->zone, NULL, NULL, 0, &failed, &apex.op, 1,
	                                     &res, err, sizeof(err)), 0);
	assert_true(res.changed);
	assert_int_equal(res.new_serial, 102);
	struct store_prereq gone = {.kind = STORE_PRQ_NXDOMAIN, .owner = add.owner};
	assert_int_equal(store_zone_patch_if(f->st, f->zone, NULL, &gone, 1, &failed, NULL, 0,
	                                     &res, err, sizeof(err)), 0);
}

struct jcount {
	size_t entries, removed, added;
	uint32_t last_to;
};

static int
count_entry(void *ctx, const struct store_journal_entry *e)
{
	struct jcount *c = ctx;
	struct dns_rr rr;
	size_t pos = 0;
	int first = 1;
	while (store_blob_next(e->removed, e->removed_len, &pos, &rr) == 1) {
		if (first)
			assert_int_equal(rr.type, DNS_T_SOA);
		first = 0;
		c->removed++;
	}
	pos = 0;
	first = 1;
	while (store_blob_next(e->added, e->added_len, &pos, &rr) == 1) {
		if (first)
			assert_int_equal(rr.type, DNS_T_SOA);
		first = 0;
		c->added++;
	}
	if (c->entries > 0)
		assert_int_equal(e->serial_from, c->last_to);
	c->last_to = e->serial_to;
	c->entries++;
	return 0;
}

static void
test_store_journal_chain_and_retention(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct opbuf b;
	struct store_result res;
	char err[256] = "", ip[32];
	for (int i = 0; i < 8; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		assert_int_equal(patch1(f, mkop(&b, STORE_OP_EXTEND, "www.example.com.", "A", 300, ip),
		                        &res, err), 0);
	}
	assert_int_equal(serial_of(f), 108);
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	struct jcount c = {0};
	/* retention 5: 103 -> 108 kept, 100 is gone */
	assert_int_equal(store_snap_journal(sn, &z, 100, count_entry, &c), -ERANGE);
	assert_int_equal(store_snap_journal(sn, &z, 103, count_entry, &c), 0);
	assert_int_equal(c.entries, 5);
	assert_int_equal(c.removed, 5);   /* only SOAs removed */
	assert_int_equal(c.added, 10);    /* SOA + one A each */
	assert_int_equal(c.last_to, 108);
	c = (struct jcount){0};
	assert_int_equal(store_snap_journal(sn, &z, 108, count_entry, &c), 0);
	assert_int_equal(c.entries, 0);
	store_snap_close(sn);
}

static void
test_store_rules_roll_back(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	/* CNAME beside A */
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "www.example.com.", "CNAME", 300,
	                                "other.example.com."), &res, err), -EINVAL);
	assert_non_null(strstr(err, "CNAME"));
	/* CNAME at the apex */
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "example.com.", "CNAME", 300,
	                                "other.example.com."), &res, err), -EINVAL);
	assert_non_null(strstr(err, "apex"));
	/* SOA delete, apex NS emptied, name outside the zone */
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_DELETE, "example.com.", "SOA", 0, ""), &res,
	                        err), -EINVAL);
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_DELETE, "example.com.", "NS", 0, ""), &res, err),
	                 -EINVAL);
	assert_non_null(strstr(err, "NS"));
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "www.example.org.", "A", 1, "192.0.2.9"),
	                        &res, err), -EINVAL);
	assert_non_null(strstr(err, "not inside"));
	/* duplicate record */
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "x.example.com.", "A", 1,
	                                "192.0.2.9|192.0.2.9"), &res, err), -EINVAL);
	assert_non_null(strstr(err, "duplicate"));
	/* two ops: the first fine, the second bad: nothing of the first stays */
	struct opbuf b2;
	struct store_op ops[2] = {
		*mkop(&b, STORE_OP_REPLACE, "ok.example.com.", "A", 1, "192.0.2.10"),
		*mkop(&b2, STORE_OP_REPLACE, "example.com.", "CNAME", 1, "x.example.com."),
	};
	ops[0].owner = b.owner;
	ops[0].recs = b.recs;
	ops[1].owner = b2.owner;
	ops[1].recs = b2.recs;
	assert_int_equal(store_zone_patch(f->st, f->zone, NULL, NULL, ops, 2, &res, err, sizeof(err)),
	                 -EINVAL);
	assert_int_equal(serial_of(f), 100);
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	size_t count;
	uint32_t oldest;
	assert_int_equal(store_snap_journal_range(sn, &z, &count, &oldest), 0);
	assert_int_equal(count, 0);
	store_snap_close(sn);
	/* If-Match that no longer matches */
	uint32_t want = 99;
	assert_int_equal(store_zone_patch(f->st, f->zone, NULL, &want, ops, 1, &res, err, sizeof(err)),
	                 -ESTALE);
	/* account isolation */
	assert_int_equal(store_zone_patch(f->st, f->zone, "other", NULL, ops, 1, &res, err,
	                                  sizeof(err)), -ENOENT);
	assert_int_equal(store_zone_patch(f->st, f->zone, "acme", NULL, ops, 1, &res, err,
	                                  sizeof(err)), 0);
	assert_int_equal(serial_of(f), 101);
}

struct names {
	int ptrs;
	int version_ok;
};

static int
cat_rr(void *ctx, const struct dns_rr *rr)
{
	struct names *n = ctx;
	if (rr->type == DNS_T_PTR)
		n->ptrs++;
	if (rr->type == DNS_T_TXT && rr->rdlen == 2 && rr->rdata[0] == 1 && rr->rdata[1] == '2')
		n->version_ok = 1;
	return 0;
}

static void
test_store_catalog_follows_zones(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_DEFAULT);
	struct store_snap *sn;
	struct store_zone cat;
	struct names n = {0};
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone_text(sn, "CAT.test", &cat), 0);
	assert_true(cat.is_catalog);
	assert_int_equal(store_snap_records(sn, &cat, cat_rr, &n), 0);
	store_snap_close(sn);
	assert_int_equal(n.ptrs, 1);
	assert_int_equal(n.version_ok, 1);
	uint32_t s1 = cat.serial;
	/* the catalog zone cannot be changed from outside */
	struct opbuf b;
	struct store_result res;
	char err[256];
	assert_int_equal(store_zone_patch(f->st, cat.name, NULL, NULL,
	                                  mkop(&b, STORE_OP_REPLACE, "x.cat.test.", "A", 1, "192.0.2.1"),
	                                  1, &res, err, sizeof(err)), -EPERM);
	assert_int_equal(store_zone_delete(f->st, cat.name, NULL), -EPERM);
	assert_int_equal(store_zone_delete(f->st, f->zone, NULL), 0);
	assert_int_equal(store_zone_delete(f->st, f->zone, NULL), -ENOENT);
	n = (struct names){0};
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone_text(sn, "cat.test.", &cat), 0);
	assert_int_equal(store_snap_records(sn, &cat, cat_rr, &n), 0);
	/* the catalog's own journal has the member's removal */
	struct jcount c = {0};
	assert_int_equal(store_snap_journal(sn, &cat, s1, count_entry, &c), 0);
	assert_int_equal(c.entries, 1);
	assert_int_equal(c.removed, 2);
	store_snap_close(sn);
	assert_int_equal(n.ptrs, 0);
	assert_true(dns_serial_gt(cat.serial, s1));
}

static void
test_store_snapshot_is_stable(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	struct opbuf b;
	struct store_result res;
	char err[256];
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "new.example.com.", "A", 1, "192.0.2.7"),
	                        &res, err), 0);
	/* the old snapshot still sees the old version */
	struct store_zone z2;
	assert_int_equal(store_snap_zone(sn, f->zone, &z2), 0);
	assert_int_equal(z2.serial, 100);
	store_snap_close(sn);
	assert_int_equal(serial_of(f), 101);
}

/* Creates `name` for `account` with no records; returns store_zone_create's code. */
static int
create_bare(struct store_fx *f, const char *name, const char *account, bool cross, char *err)
{
	uint8_t w[DNS_NAME_MAX];
	assert_true(dns_name_from_text(name, strlen(name), NULL, w) > 0);
	struct store_zone_new zn = {.name = w, .kind = "Native", .account = account,
	                            .policy = DNS_SERIAL_DEFAULT, .cross_account = cross};
	struct store_result res;
	err[0] = '\0';
	return store_zone_create(f->st, &zn, NULL, 0, &res, err, 256);
}

static void
test_store_cross_account_parent_child(void **state)
{
	struct store_fx *f = *state;
	char err[256];
	assert_int_equal(create_bare(f, "acme.example.", "a", false, err), 0);
	/* another account: child, grandchild, parent, grandparent, or an escaped sibling */
	assert_int_equal(create_bare(f, "www.acme.example.", "b", false, err), -EEXIST);
	assert_null(strstr(err, "'a'"));
	assert_non_null(strstr(err, "not available"));
	assert_int_equal(create_bare(f, "x.www.acme.example.", "b", false, err), -EEXIST);
	assert_int_equal(create_bare(f, "example.", "b", false, err), -EEXIST);
	assert_int_equal(create_bare(f, "ACME.example.", "b", false, err), -EEXIST);
	/* not related: a label that merely starts or ends like it, a sibling */
	assert_int_equal(create_bare(f, "acme\\000.example.", "b", false, err), 0);
	assert_int_equal(create_bare(f, "acme.example\\001.", "b", false, err), 0);
	assert_int_equal(create_bare(f, "xacme.example.", "b", false, err), 0);
	assert_int_equal(create_bare(f, "other.example.", "b", false, err), 0);
	/* the same account nests freely; the admin may cross (and it is logged) */
	assert_int_equal(create_bare(f, "www.acme.example.", "a", false, err), 0);
	assert_int_equal(create_bare(f, "admin.acme.example.", "", true, err), 0);
	/* after a delete the name is free again, and its child check too */
	uint8_t w[DNS_NAME_MAX];
	assert_true(dns_name_from_text("other.example.", 14, NULL, w) > 0);
	assert_int_equal(store_zone_delete(f->st, w, NULL), 0);
	assert_int_equal(create_bare(f, "sub.other.example.", "a", false, err), 0);
	assert_int_equal(create_bare(f, "other.example.", "b", false, err), -EEXIST);
	assert_int_equal(create_bare(f, "other.example.", "a", false, err), 0);
	/* under the catalog (no account) */
	assert_int_equal(create_bare(f, "x.cat.test.", "a", false, err), -EEXIST);
}

static void
test_store_refuses_newer_schema(void **state)
{
	struct store_fx *f = *state;
	store_close(f->st);
	f->st = NULL;
	bool pg = test_db_pg();
	test_db_exec(f->path, pg ? "UPDATE anycst_schema SET version = 999" : "PRAGMA user_version = 999");
	char err[256] = "";
	struct store_opts o = {.path = f->path, .catalog = "cat.test."};
	struct store *st = NULL;
	assert_int_equal(store_open(&o, &st, err, sizeof(err)), ERR_SCHEMA_NEWER);
	assert_non_null(strstr(err, "newer"));
	assert_null(st);
	/* untouched: still version 999 */
	assert_int_equal(test_db_int(f->path, pg ? "SELECT version FROM anycst_schema" :
	                             "PRAGMA user_version"), 999);
	test_db_exec(f->path, pg ? "UPDATE anycst_schema SET version = 1" : "PRAGMA user_version = 1");
	assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), 0);
}

static void
test_store_tsig_and_apikeys(void **state)
{
	struct store_fx *f = *state;
	struct store_tsig_key k = {.name = "Xfr-Key", .algorithm = "hmac-sha256",
	                           .secret = "c2VjcmV0c2VjcmV0c2VjcmV0"};
	assert_int_equal(store_tsig_put(f->st, &k, false), 0);
	assert_int_equal(store_tsig_put(f->st, &k, false), -EEXIST);
	struct store_snap *sn;
	struct store_tsig_key out;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_tsig_key(sn, "xfr-key.", &out), 0);
	assert_string_equal(out.name, "xfr-key.");
	store_snap_close(sn);
	assert_int_equal(store_tsig_delete(f->st, "xfr-key"), 0);
	assert_int_equal(store_tsig_delete(f->st, "xfr-key"), -ENOENT);
	int64_t id = store_apikey_add(f->st, "sekrit", "acme", "panel");
	assert_true(id > 0);
	char acc[STORE_ACCOUNT_MAX];
	assert_int_equal(store_apikey_find(f->st, "sekrit", acc), 0);
	assert_string_equal(acc, "acme");
	assert_int_equal(store_apikey_find(f->st, "sekrix", acc), -ENOENT);
	assert_int_equal(store_apikey_delete(f->st, id), 0);
	assert_int_equal(store_apikey_find(f->st, "sekrit", acc), -ENOENT);
}

/* Journal blobs from outside (a damaged database) are read with bounds checks. */
static void
test_store_blob_bounds(void **state)
{
	(void)state;
	/* www.x. A 60 192.0.2.1, then the same cut at every length */
	static const uint8_t rr[] = {3, 'w', 'w', 'w', 1, 'x', 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
	                             192, 0, 2, 1};
	struct dns_rr out;
	size_t pos = 0;
	assert_int_equal(store_blob_next(rr, sizeof(rr), &pos, &out), 1);
	assert_int_equal(out.type, DNS_T_A);
	assert_int_equal(out.ttl, 60);
	assert_int_equal(out.rdlen, 4);
	assert_int_equal(pos, sizeof(rr));
	assert_int_equal(store_blob_next(rr, sizeof(rr), &pos, &out), 0);
	for (size_t cut = 1; cut < sizeof(rr); cut++) {
		pos = 0;
		assert_int_equal(store_blob_next(rr, cut, &pos, &out), ERR_FORMERR);
	}
	/* a label running past the end, and a compression pointer, are refused */
	static const uint8_t bad1[] = {9, 'a', 0};
	static const uint8_t bad2[] = {0xc0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0};
	pos = 0;
	assert_int_equal(store_blob_next(bad1, sizeof(bad1), &pos, &out), ERR_FORMERR);
	pos = 0;
	assert_int_equal(store_blob_next(bad2, sizeof(bad2), &pos, &out), ERR_FORMERR);
}

struct rows {
	int n;
};

static int
count_row(void *ctx, const struct store_row *r)
{
	(void)r;
	((struct rows *)ctx)->n++;
	return 0;
}

/* A database error injected at the journal step rolls the whole change back. */
static void
test_store_injected_error_rolls_back(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	bool pg = test_db_pg();
	test_db_exec(f->path, pg ? "CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS "
	                           "$$BEGIN RAISE EXCEPTION 'injected'; END$$; CREATE TRIGGER inject "
	                           "BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION inject()"
	                         : "CREATE TRIGGER inject BEFORE INSERT ON journal BEGIN "
	                           "SELECT RAISE(ABORT, 'injected'); END");
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "inj.example.com.", "A", 60,
	                                "192.0.2.44"), &res, err), -EIO);
	assert_int_equal(serial_of(f), 100);
	struct store_snap *sn;
	struct store_zone z;
	struct rows r = {0};
	uint8_t owner[DNS_NAME_MAX];
	assert_true(dns_name_from_text("inj.example.com.", 16, NULL, owner) > 0);
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	assert_int_equal(store_snap_rows(sn, &z, owner, 0, count_row, &r), 0);
	store_snap_close(sn);
	assert_int_equal(r.n, 0);
	/* the writer is usable again once the fault is gone */
	test_db_exec(f->path, pg ? "DROP TRIGGER inject ON journal" : "DROP TRIGGER inject");
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "inj.example.com.", "A", 60,
	                                "192.0.2.44"), &res, err), 0);
	assert_int_equal(serial_of(f), 101);
}

/*
 * PostgreSQL: the connection lost during COMMIT answers ERR_DB_UNKNOWN (the
 * API's 503 "outcome unknown"), never a guess; the next change connects
 * again.  A deferred constraint trigger ends its own server process at
 * COMMIT.  (SQLite: nothing to lose, skipped.)
 */
static void
test_store_commit_lost_is_unknown(void **state)
{
	struct store_fx *f = *state;
	if (!test_db_pg()) {
		skip();
		return;
	}
	create_zone(f, DNS_SERIAL_INCREASE);
	test_db_exec(f->path, "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS "
	                      "$$BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); "
	                      "PERFORM pg_sleep(5); RETURN NULL; END$$; "
	                      "CREATE CONSTRAINT TRIGGER die AFTER INSERT ON journal "
	                      "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die()");
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "lost.example.com.", "A", 60,
	                                "192.0.2.45"), &res, err), ERR_DB_UNKNOWN);
	test_db_exec(f->path, "DROP TRIGGER die ON journal");
	/* the server ended before committing: the client re-reads and sees 100 */
	assert_int_equal(serial_of(f), 100);
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "lost.example.com.", "A", 60,
	                                "192.0.2.45"), &res, err), 0);
	assert_int_equal(serial_of(f), 101);
}

struct opener {
	const char *path;
	struct store *st;
	int ret;
	char err[256];
};

static void *
open_one(void *arg)
{
	struct opener *o = arg;
	struct store_opts so = {.path = o->path, .catalog = "cat.test."};
	o->ret = store_open(&so, &o->st, o->err, sizeof(o->err));
	return NULL;
}

extern const size_t pg_schema_count;

/* Several primaries starting at once on an empty database: every one opens
 * (migrations under the advisory lock, the catalog zone made once). */
static void
test_store_concurrent_first_open(void **state)
{
	struct store_fx *f = *state;
	if (!test_db_pg()) {
		skip();   /* SQLite: one primary per file (<db>.lock) */
		return;
	}
	char path[192] = "";
	test_db_fresh(path, sizeof(path));
	struct opener o[6];
	pthread_t t[6];
	for (int i = 0; i < 6; i++) {
		o[i] = (struct opener){.path = path};
		assert_int_equal(pthread_create(&t[i], NULL, open_one, &o[i]), 0);
	}
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 6; i++) {
		if (o[i].ret != 0)
			fail_msg("store %d: %d %s", i, o[i].ret, o[i].err);
	}
	assert_int_equal(test_db_int(path, "SELECT count(*) FROM zones"), 1);
	assert_int_equal(test_db_int(path, "SELECT version FROM anycst_schema"), (int64_t)pg_schema_count);
	/* and they write one after the other through the catalog's lock */
	struct store_zone_new zn = {.name = f->zone, .kind = "Native", .account = ""};
	struct store_result res;
	char err[256];
	assert_int_equal(store_zone_create(o[0].st, &zn, NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(store_zone_create(o[1].st, &zn, NULL, 0, &res, err, sizeof(err)), -EEXIST);
	for (int i = 0; i < 6; i++)
		store_close(o[i].st);
}

struct heard {
	pthread_mutex_t mu;
	int n;
	uint32_t serial;
	enum store_change kind;
};

static void
heard_commit(void *ctx, const struct store_commit *c)
{
	struct heard *h = ctx;
	pthread_mutex_lock(&h->mu);
	if (c->kind != STORE_CATALOG_CHANGED) {
		h->n++;
		h->serial = c->new_serial;
		h->kind = c->kind;
	}
	pthread_mutex_unlock(&h->mu);
}

/* Waits (at most 10 s) until `h` heard `n` zone events; their count. */
static int
heard_wait(struct heard *h, int n)
{
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&h->mu);
		int got = h->n;
		pthread_mutex_unlock(&h->mu);
		if (got >= n)
			return got;
		usleep(10000);
	}
	return -1;
}

/* Two nodes on one PostgreSQL database: a commit on one reaches the other's
 * listener (LISTEN/NOTIFY), once; its own listener hears it once too. */
static void
test_store_nodes_hear_commits(void **state)
{
	struct store_fx *f = *state;
	if (!test_db_pg()) {
		skip();   /* SQLite: one node */
		return;
	}
	char err[256];
	struct store *b = NULL;
	struct store_opts so = {.path = f->path, .catalog = "cat.test."};
	assert_int_equal(store_open(&so, &b, err, sizeof(err)), 0);
	struct heard ha = {.mu = PTHREAD_MUTEX_INITIALIZER}, hb = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct store_listener la = {.on_commit = heard_commit, .ctx = &ha};
	struct store_listener lb = {.on_commit = heard_commit, .ctx = &hb};
	assert_int_equal(store_set_listener(f->st, &la), 0);
	assert_int_equal(store_set_listener(b, &lb), 0);
	usleep(300000);   /* b's LISTEN is up */
	create_zone(f, DNS_SERIAL_INCREASE);
	assert_int_equal(heard_wait(&hb, 1), 1);
	assert_int_equal(hb.kind, STORE_ZONE_CREATED);
	assert_int_equal(hb.serial, 100);
	struct opbuf ob;
	struct store_result res;
	assert_int_equal(patch1(f, mkop(&ob, STORE_OP_REPLACE, "n.example.com.", "A", 60,
	                                "192.0.2.46"), &res, err), 0);
	assert_int_equal(heard_wait(&hb, 2), 2);
	assert_int_equal(hb.kind, STORE_ZONE_CHANGED);
	assert_int_equal(hb.serial, 101);
	/* and the other way round; nobody hears its own twice */
	assert_int_equal(store_zone_patch(b, f->zone, NULL, NULL, mkop(&ob, STORE_OP_DELETE,
	                 "n.example.com.", "A", 0, NULL), 1, &res, err, sizeof(err)), 0);
	assert_int_equal(heard_wait(&ha, 3), 3);
	assert_int_equal(ha.serial, 102);
	usleep(300000);
	assert_int_equal(heard_wait(&ha, 3), 3);
	assert_int_equal(heard_wait(&hb, 3), 3);
	/* a lost listening connection: made again, then every zone is read again */
	test_db_exec(f->path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	                      "application_name = 'anycst-listen'");
	/* (4, or 5 when b also took the notifier lock, which went with a's connection) */
	assert_true(heard_wait(&hb, 4) >= 4);
	assert_int_equal(hb.kind, STORE_ZONE_CHANGED);
	assert_int_equal(hb.serial, 102);
	store_set_listener(f->st, NULL);
	store_close(b);
}

/* PostgreSQL: a serialization failure (40001) runs the PATCH again whole, at
 * most STORE_RETRIES times; the change lands once.  A trigger fails the
 * first attempts (a sequence counts them: it is not rolled back). */
static void
test_store_patch_retried_on_serialization_failure(void **state)
{
	struct store_fx *f = *state;
	if (!test_db_pg()) {
		skip();
		return;
	}
	create_zone(f, DNS_SERIAL_INCREASE);
	test_db_exec(f->path, "CREATE SEQUENCE flaky_n; CREATE FUNCTION flaky() RETURNS trigger "
	                      "LANGUAGE plpgsql AS $$BEGIN IF nextval('flaky_n') <= 2 THEN RAISE "
	                      "EXCEPTION 'flaky' USING ERRCODE = '40001'; END IF; RETURN NEW; "
	                      "END$$; CREATE TRIGGER flaky BEFORE INSERT ON journal FOR EACH ROW "
	                      "EXECUTE FUNCTION flaky()");
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "r.example.com.", "A", 60,
	                                "192.0.2.47"), &res, err), 0);
	assert_int_equal(serial_of(f), 101);
	assert_int_equal(test_db_int(f->path, "SELECT count(*) FROM journal j JOIN zones z ON "
	                             "z.id = j.zone_id WHERE z.name = 'example.com.'"), 1);
	/* failing every time: given up after STORE_RETRIES, nothing written */
	test_db_exec(f->path, "ALTER SEQUENCE flaky_n MINVALUE -100 INCREMENT -1 RESTART -1");
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "r.example.com.", "A", 60,
	                                "192.0.2.48"), &res, err), ERR_DB_RETRY);
	assert_int_equal(test_db_int(f->path, "SELECT -nextval('flaky_n')"), STORE_TEST_RETRIES + 1);
	assert_int_equal(serial_of(f), 101);
	test_db_exec(f->path, "DROP TRIGGER flaky ON journal");
}

/* Two nodes on one PostgreSQL database: exactly one holds the notifier lock;
 * when it goes, the other takes it within seconds and reports every zone
 * (so its POPs hear of what the last holder may not have announced). */
static void
test_store_one_notifier(void **state)
{
	struct store_fx *f = *state;
	if (!test_db_pg()) {
		assert_true(store_notifier(f->st));   /* SQLite: the one node */
		return;
	}
	create_zone(f, DNS_SERIAL_INCREASE);
	assert_true(store_notifier(f->st));   /* taken during store_open */
	char err[256];
	struct store *b = NULL;
	struct store_opts so = {.path = f->path, .catalog = "cat.test."};
	assert_int_equal(store_open(&so, &b, err, sizeof(err)), 0);
	assert_false(store_notifier(b));
	struct heard hb = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct store_listener lb = {.on_commit = heard_commit, .ctx = &hb};
	assert_int_equal(store_set_listener(b, &lb), 0);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(heard_wait(&hb, 1), 1);   /* example.com. reported */
	assert_true(store_notifier(b));
	assert_int_equal(hb.serial, 100);
	store_set_listener(b, NULL);   /* hb lives on this stack */
	f->st = b;
}

/* The duplicate named is the first record equal to an earlier one, and the
 * earlier one is the first of its kind, whatever the order. */
static void
test_store_duplicate_names_first_pair(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "x.example.com.", "A", 1,
	                                "192.0.2.9|192.0.2.1|192.0.2.5|192.0.2.1|192.0.2.9"), &res,
	                        err), -EINVAL);
	assert_non_null(strstr(err, "rrsets[0].records[3]: duplicate record (same as records[1])"));
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_EXTEND, "x.example.com.", "A", 1,
	                                "192.0.2.7|192.0.2.8|192.0.2.7|192.0.2.7|192.0.2.8"), &res,
	                        err), -EINVAL);
	assert_non_null(strstr(err, "rrsets[0].records[2]: duplicate record (same as records[0])"));
	/* names compare without case: the same record */
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "x.example.com.", "NS", 1,
	                                "ns.Example.com.|a.example.com.|NS.example.COM."), &res, err),
	                 -EINVAL);
	assert_non_null(strstr(err, "records[2]: duplicate record (same as records[0])"));
	/* a disabled SOA before any duplicate is named first */
	struct opbuf soa;
	mkop(&soa, STORE_OP_REPLACE, "example.com.", "SOA", 1,
	     "ns1.example.com. admin.example.com. 100 7200 3600 1209600 300");
	soa.recs[0].disabled = true;
	assert_int_equal(patch1(f, &soa.op, &res, err), -EINVAL);
	assert_non_null(strstr(err, "records[0]: the SOA cannot be disabled"));
	assert_int_equal(serial_of(f), 100);
}

/* An op of n A records 10.x.y.z numbered from `first`, on the heap. */
struct bigop {
	uint8_t owner[DNS_NAME_MAX];
	uint8_t *rd;
	struct store_rec *recs;
	struct store_op op;
};

static struct store_op *
bigop(struct bigop *b, enum store_op_kind kind, const char *owner, size_t n, size_t first)
{
	memset(b, 0, sizeof(*b));
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, b->owner) > 0);
	b->rd = malloc(n * 4 + 1);
	b->recs = calloc(n + 1, sizeof(*b->recs));
	assert_non_null(b->rd);
	assert_non_null(b->recs);
	for (size_t i = 0; i < n; i++) {
		size_t v = first + i;
		uint8_t *r = b->rd + i * 4;
		r[0] = 10;
		r[1] = (uint8_t)(v >> 16);
		r[2] = (uint8_t)(v >> 8);
		r[3] = (uint8_t)v;
		b->recs[i].rdata = r;
		b->recs[i].rdlen = 4;
	}
	b->op.kind = kind;
	b->op.owner = b->owner;
	b->op.type = DNS_T_A;
	b->op.ttl = 300;
	b->op.has_ttl = true;
	b->op.recs = b->recs;
	b->op.nrecs = n;
	snprintf(b->op.label, sizeof(b->op.label), "rrsets[0]");
	return &b->op;
}

static void
bigop_free(struct bigop *b)
{
	free(b->rd);
	free(b->recs);
}

static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The last journal entry's removed and added record counts (SOAs aside). */
static void
last_entry(struct store_fx *f, uint32_t since, size_t *removed, size_t *added)
{
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	struct jcount c = {0};
	assert_int_equal(store_snap_journal(sn, &z, since, count_entry, &c), 0);
	assert_int_equal(c.entries, 1);
	*removed = c.removed - 1;
	*added = c.added - 1;
	store_snap_close(sn);
}

/*
 * One rrset of n records: replaced by one half new, extended by one,
 * re-sent unchanged, one record disabled.  Returns the CPU seconds of the
 * create and the replace (what was O(n^2) in the records of the rrset).
 */
static double
big_rrset_round(struct store_fx *f, const char *owner, size_t n)
{
	struct bigop b;
	struct store_result res;
	char err[256] = "";
	uint32_t s0 = serial_of(f);
	double t = cpu_s();
	assert_int_equal(patch1(f, bigop(&b, STORE_OP_REPLACE, owner, n, 0), &res, err), 0);
	bigop_free(&b);
	assert_int_equal(patch1(f, bigop(&b, STORE_OP_REPLACE, owner, n, n / 2), &res, err), 0);
	t = cpu_s() - t;
	bigop_free(&b);
	assert_true(res.changed);
	size_t rem, add;
	last_entry(f, s0 + 1, &rem, &add);
	assert_int_equal(rem, n / 2);
	assert_int_equal(add, n - n / 2);
	/* the same records again, in reverse order: no change */
	bigop(&b, STORE_OP_REPLACE, owner, n, n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		struct store_rec r = b.recs[i];
		b.recs[i] = b.recs[n - 1 - i];
		b.recs[n - 1 - i] = r;
	}
	assert_int_equal(patch1(f, &b.op, &res, err), 0);
	assert_false(res.changed);
	/* one record disabled: a change, its removal the only visible one */
	b.recs[7].disabled = true;
	assert_int_equal(patch1(f, &b.op, &res, err), 0);
	assert_true(res.changed);
	last_entry(f, s0 + 2, &rem, &add);
	assert_int_equal(rem, 1);
	assert_int_equal(add, 0);
	bigop_free(&b);
	/* one more by EXTEND, and one duplicate among them refused */
	assert_int_equal(patch1(f, bigop(&b, STORE_OP_EXTEND, owner, 1, n + n / 2), &res, err), 0);
	bigop_free(&b);
	last_entry(f, s0 + 3, &rem, &add);
	assert_int_equal(rem, 0);
	assert_int_equal(add, 1);
	bigop(&b, STORE_OP_REPLACE, owner, n, 0);
	b.recs[n - 1] = b.recs[n / 3];
	assert_int_equal(patch1(f, &b.op, &res, err), -EINVAL);
	char want[96];
	snprintf(want, sizeof(want), "records[%zu]: duplicate record (same as records[%zu])", n - 1,
	         n / 3);
	assert_non_null(strstr(err, want));
	bigop_free(&b);
	assert_int_equal(serial_of(f), s0 + 4);
	return t;
}

/* Diffing and duplicate checks inside one rrset cost O(n log n): 16 times
 * the records cost nowhere near 256 times the time. */
static void
test_store_big_rrset_is_not_quadratic(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	double small = 1e9;
	for (int i = 0; i < 3; i++) {
		char owner[64];
		snprintf(owner, sizeof(owner), "s%d.example.com.", i);
		double t = big_rrset_round(f, owner, 1000);
		if (t < small)
			small = t;
	}
	double big = big_rrset_round(f, "big.example.com.", 16000);
	print_message("create + replace of one rrset: %.1f ms for 1000 records, %.1f ms for "
	              "16000\n", small * 1e3, big * 1e3);
	assert_true(big < small * 64 + 0.05);
}

/*
 * No cached statement is re-prepared by the engine while changes run: a
 * bound rrtype compared with a partial index's WHERE (type = 46) used to
 * mark the record statements for re-preparing at every binding, so every
 * step parsed its SQL again.
 */
static void
test_store_statements_stay_prepared(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct store_result res;
	char err[256] = "";
	for (int i = 0; i < 60; i++) {
		char owner[64];
		snprintf(owner, sizeof(owner), "h%d.example.com.", i);
		struct bigop b;
		assert_int_equal(patch1(f, bigop(&b, STORE_OP_REPLACE, owner, 3, 0), &res, err), 0);
		bigop_free(&b);
		assert_int_equal(patch1(f, bigop(&b, STORE_OP_PRUNE, owner, 1, 0), &res, err), 0);
		bigop_free(&b);
		if (i % 2 == 0) {
			assert_int_equal(patch1(f, bigop(&b, STORE_OP_DELETE, owner, 0, 0), &res,
			                        err), 0);
			bigop_free(&b);
		}
	}
	assert_int_equal(db_reprepares(f->st->w), 0);
}

/* The commit listener: one only, and every kind of change reaches it. */
struct events {
	size_t n;
	struct {
		uint8_t zone[DNS_NAME_MAX];
		uint32_t old_serial, new_serial;
		enum store_change kind;
	} e[8];
};

static void
on_commit(void *ctx, const struct store_commit *c)
{
	struct events *ev = ctx;
	if (ev->n >= 8)
		return;
	memcpy(ev->e[ev->n].zone, c->zone, dns_name_len(c->zone));
	ev->e[ev->n].old_serial = c->old_serial;
	ev->e[ev->n].new_serial = c->new_serial;
	ev->e[ev->n].kind = c->kind;
	ev->n++;
}

static void
test_store_one_listener(void **state)
{
	struct store_fx *f = *state;
	struct events ev = {0}, other = {0};
	struct store_listener l = {.on_commit = on_commit, .ctx = &ev};
	struct store_listener l2 = {.on_commit = on_commit, .ctx = &other};
	assert_int_equal(store_notify(f->st, f->zone, 1), -ENOSYS);
	assert_int_equal(store_set_listener(f->st, &l), 0);
	assert_int_equal(store_set_listener(f->st, &l2), -EBUSY);
	create_zone(f, DNS_SERIAL_INCREASE);
	/* the catalog's member record, then the zone itself */
	assert_int_equal(ev.n, 2);
	assert_true(dns_name_equal(ev.e[0].zone, store_catalog_name(f->st)));
	assert_int_equal(ev.e[0].kind, STORE_CATALOG_CHANGED);
	assert_true(dns_name_equal(ev.e[1].zone, f->zone));
	assert_int_equal(ev.e[1].kind, STORE_ZONE_CREATED);
	assert_int_equal(ev.e[1].old_serial, 0);
	assert_int_equal(ev.e[1].new_serial, 100);
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "l.example.com.", "A", 60,
	                                "192.0.2.7"), &res, err), 0);
	assert_int_equal(ev.n, 3);
	assert_int_equal(ev.e[2].kind, STORE_ZONE_CHANGED);
	assert_int_equal(ev.e[2].old_serial, 100);
	assert_int_equal(ev.e[2].new_serial, 101);
	/* nothing changed: no event */
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "l.example.com.", "A", 60,
	                                "192.0.2.7"), &res, err), 0);
	assert_int_equal(ev.n, 3);
	assert_int_equal(store_zone_delete(f->st, f->zone, NULL), 0);
	assert_int_equal(ev.n, 5);
	assert_int_equal(ev.e[3].kind, STORE_CATALOG_CHANGED);
	assert_int_equal(ev.e[4].kind, STORE_ZONE_DELETED);
	assert_int_equal(ev.e[4].old_serial, 0);
	assert_int_equal(ev.e[4].new_serial, 0);
	assert_int_equal(other.n, 0);
	/* removed, then another may listen */
	assert_int_equal(store_set_listener(f->st, NULL), 0);
	assert_int_equal(store_set_listener(f->st, &l2), 0);
	create_zone(f, DNS_SERIAL_INCREASE);
	assert_int_equal(other.n, 2);
	assert_int_equal(ev.n, 5);
}

/*
 * Removing the listener waits for a call to it that a commit on another
 * thread is making: its owner frees it once store_set_listener(NULL)
 * returns (the transfer service at shutdown, a background signing job
 * still committing).
 */
struct slow_listener {
	atomic_bool entered, left;
};

static void
slow_on_commit(void *ctx, const struct store_commit *c)
{
	(void)c;
	struct slow_listener *sl = ctx;
	atomic_store(&sl->entered, true);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	atomic_store(&sl->left, true);
}

struct commit_arg {
	struct store_fx *f;
	int ret;
};

static void *
commit_thread(void *arg)
{
	struct commit_arg *a = arg;
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	a->ret = patch1(a->f, mkop(&b, STORE_OP_REPLACE, "s.example.com.", "A", 60, "192.0.2.9"),
	                &res, err);
	return NULL;
}

static void
test_store_listener_removal_waits_for_calls(void **state)
{
	struct store_fx *f = *state;
	create_zone(f, DNS_SERIAL_INCREASE);
	struct slow_listener sl;
	atomic_init(&sl.entered, false);
	atomic_init(&sl.left, false);
	struct store_listener l = {.on_commit = slow_on_commit, .ctx = &sl};
	assert_int_equal(store_set_listener(f->st, &l), 0);
	struct commit_arg a = {.f = f, .ret = -1};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, commit_thread, &a), 0);
	for (int i = 0; i < 5000 && !atomic_load(&sl.entered); i++) {
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_true(atomic_load(&sl.entered));
	int removed = store_set_listener(f->st, NULL);
	bool left = atomic_load(&sl.left);
	pthread_join(th, NULL);
	assert_int_equal(removed, 0);
	assert_true(left);   /* the call ended before the removal returned */
	assert_int_equal(a.ret, 0);
	/* none is called after */
	atomic_store(&sl.entered, false);
	struct opbuf b;
	struct store_result res;
	char err[256] = "";
	assert_int_equal(patch1(f, mkop(&b, STORE_OP_REPLACE, "s.example.com.", "A", 60,
	                                "192.0.2.10"), &res, err), 0);
	assert_false(atomic_load(&sl.entered));
}

static int
count_pop(void *ctx, const struct store_pop *p)
{
	size_t *n = ctx;
	assert_string_equal(p->tsig_name, "pop-a.");
	assert_string_equal(p->tsig_secret, "c2VjcmV0");
	assert_int_equal(p->dns_port, 5353);
	(*n)++;
	return 0;
}

/* POPs and their TSIG keys are rows of the store, one transaction each. */
static void
test_store_pop_registry(void **state)
{
	struct store_fx *f = *state;
	char err[256] = "";
	struct store_pop p = {.name = "a", .endpoint = "192.0.2.1:51820", .public_key = "k",
	                      .mesh_ip = "10.53.0.2", .tsig_name = "pop-a.",
	                      .tsig_secret = "c2VjcmV0", .dns_port = 5353, .created_at = 1};
	assert_int_equal(store_pop_add(f->st, &p, err, sizeof(err)), 0);
	size_t n = 0;
	assert_int_equal(store_pop_list(f->st, count_pop, &n), 0);
	assert_int_equal(n, 1);
	struct store_snap *sn;
	struct store_tsig_key k;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_tsig_key(sn, "pop-a.", &k), 0);
	store_snap_close(sn);
	/* the same key again: refused whole, naming the key */
	assert_int_equal(store_pop_add(f->st, &p, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "TSIG key 'pop-a.' already exists"));
	/* a second POP of the same name but another key: nothing half-written */
	struct store_pop q = p;
	q.tsig_name = "pop-b.";
	assert_int_equal(store_pop_add(f->st, &q, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "POP 'a'"));
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_tsig_key(sn, "pop-b.", &k), -ENOENT);
	store_snap_close(sn);
	assert_int_equal(store_pop_delete(f->st, "a", "pop-a.", err, sizeof(err)), 0);
	n = 0;
	assert_int_equal(store_pop_list(f->st, count_pop, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_tsig_key(sn, "pop-a.", &k), -ENOENT);
	store_snap_close(sn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_patch_bumps_once_and_journals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_statements_stay_prepared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_journal_chain_and_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_patch_if_prereqs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_rules_roll_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_catalog_follows_zones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_snapshot_is_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_cross_account_parent_child, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_store_refuses_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_tsig_and_apikeys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_injected_error_rolls_back, setup, teardown),
		cmocka_unit_test(test_store_blob_bounds),
		cmocka_unit_test_setup_teardown(test_store_duplicate_names_first_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_big_rrset_is_not_quadratic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_one_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_listener_removal_waits_for_calls, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_store_pop_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_commit_lost_is_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_concurrent_first_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_nodes_hear_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_one_notifier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_patch_retried_on_serialization_failure,
		                                setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
