/* primary/store_ksk.c: the KSK/CSK rollover state machine step by step
 * (start, CDS ready, ds_seen, retire, remove), what each step refuses, one
 * serial each; and the CDS DELETE switch-off (published, cancelled,
 * unsigned after the delay).  Waits are zero (DNSKEY TTL, propagation
 * delay, DS TTL) so every planned time is due at the next step. */
#include <errno.h>
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

#include "dns/dnssec.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "primary/store_int.h"
#include "store_db.h"
#include "store_fx.h"

static struct store_fx *
fx_open(void)
{
	struct store_opts o = {.catalog = "cat.test.", .dnssec_secret = "unit-test-secret",
	                       .dnssec_unsign_delay = 1};
	struct store_fx *f = store_fx_open("ksk", &o);
	f->st->dnskey_ttl = 0;   /* every wait due at once */
	struct store_zone_new zn = {.name = f->zone, .kind = "Native", .account = "",
	                            .dnssec = true};
	struct store_result res;
	char err[256];
	assert_int_equal(store_zone_create(f->st, &zn, NULL, 0, &res, err, sizeof(err)), 0);
	return f;
}

struct keys {
	struct store_cryptokey k[ZKEYS_MAX];
	size_t n;
};

static int
key_one(void *ctx, const struct store_cryptokey *k)
{
	struct keys *ks = ctx;
	ks->k[ks->n] = *k;
	ks->k[ks->n++].dnskey = NULL;
	return 0;
}

static struct keys
keys(struct store_fx *f)
{
	struct keys ks = {0};
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	assert_int_equal(store_snap_cryptokeys(sn, &z, key_one, &ks), 0);
	store_snap_close(sn);
	return ks;
}

/* How many records of `type` the zone has (RRSIGs: made by key tag `tag`, or any
 * when it is negative). */
struct count {
	uint16_t type;
	int tag;
	size_t n;
	bool del;    /* a CDS/CDNSKEY DELETE among them */
};

static int
count_one(void *ctx, const struct dns_rr *rr)
{
	struct count *c = ctx;
	if (rr->type == DNS_T_RRSIG && c->tag >= 0 &&
	    (rr->rdlen < 18 || (rr->rdata[16] << 8 | rr->rdata[17]) != c->tag))
		return 0;
	if (rr->type == c->type) {
		c->n++;
		c->del |= rr->rdlen == 5 && rr->rdata[3] == 0;
	}
	return 0;
}

static struct count
count_tag(struct store_fx *f, uint16_t type, int tag)
{
	struct count c = {.type = type, .tag = tag};
	struct store_snap *sn;
	struct store_zone z;
	assert_int_equal(store_snap_open(f->st, &sn), 0);
	assert_int_equal(store_snap_zone(sn, f->zone, &z), 0);
	assert_int_equal(store_snap_records(sn, &z, count_one, &c), 0);
	store_snap_close(sn);
	return c;
}

static struct count
count(struct store_fx *f, uint16_t type)
{
	return count_tag(f, type, -1);
}

/* One resigner step: 1 with one serial more, 0 with nothing done. */
static int
step(struct store_fx *f)
{
	struct store_result res;
	char err[256] = "";
	assert_int_equal(store_zone_roll(f->st, f->zone, 1000, &res, err, sizeof(err)), 0);
	if (res.changed)
		assert_int_not_equal(res.new_serial, res.old_serial);
	return res.changed ? 1 : 0;
}

static void
roll(const char *kind)
{
	struct store_fx *f = fx_open();
	struct store_result res;
	char err[256] = "";
	struct keys ks = keys(f);
	int64_t old = ks.k[0].id;
	if (strcmp(kind, "ksk") == 0) {
		int64_t id;
		assert_int_equal(store_cryptokey_add(f->st, f->zone, NULL, "ksk", 13, true, true, &id,
		                                     &res, err, sizeof(err)), 0);
		assert_int_equal(store_cryptokey_add(f->st, f->zone, NULL, "zsk", 13, true, true,
		                                     NULL, &res, err, sizeof(err)), 0);
		assert_int_equal(store_cryptokey_set(f->st, f->zone, NULL, old, true, false, false,
		                                     &res, err, sizeof(err)), 0);
		old = id;
	}
	ks = keys(f);
	int64_t zsk = ks.n == 2 ? (ks.k[0].id == old ? ks.k[1].id : ks.k[0].id) : 0;
	/* only a KSK/CSK rolls here; ds_seen wants the incoming key */
	if (zsk != 0)
		assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, zsk, &res, err,
		                                    sizeof(err)), -EINVAL);
	assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, 999, &res, err, sizeof(err)),
	                 -ENOENT);
	assert_int_equal(store_ksk_ds_seen(f->st, f->zone, NULL, old, &res, err, sizeof(err)),
	                 -EINVAL);
	/* start: two SEP keys active, no CDS yet; a second start refused */
	assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, old, &res, err, sizeof(err)), 0);
	assert_true(res.changed);
	assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, old, &res, err, sizeof(err)),
	                 -EEXIST);
	ks = keys(f);
	int64_t nw = ks.k[ks.n - 1].id;
	assert_true(ks.k[ks.n - 1].active && ks.k[ks.n - 1].flags == 257);
	assert_string_equal(ks.k[ks.n - 1].keytype, kind);
	assert_int_equal(count(f, DNS_T_CDS).n, 0);
	assert_int_equal(store_ksk_ds_seen(f->st, f->zone, NULL, nw, &res, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "not published yet"));
	/* ready: CDS and CDNSKEY of the new key */
	assert_int_equal(step(f), 1);
	assert_int_equal(count(f, DNS_T_CDS).n, 1);
	assert_int_equal(count(f, DNS_T_CDNSKEY).n, 1);
	assert_false(count(f, DNS_T_CDS).del);
	assert_int_equal(step(f), 0);   /* nothing more until the DS is seen */
	/* ds seen: CDS gone; a second ds_seen changes nothing */
	assert_int_equal(store_ksk_ds_seen(f->st, f->zone, NULL, nw, &res, err, sizeof(err)), 0);
	assert_true(res.changed);
	assert_int_equal(count(f, DNS_T_CDS).n, 0);
	assert_int_equal(count(f, DNS_T_CDNSKEY).n, 0);
	assert_int_equal(store_ksk_ds_seen(f->st, f->zone, NULL, nw, &res, err, sizeof(err)), 0);
	assert_false(res.changed);
	/* retire (the DS TTL is 0), drop its signatures, remove */
	assert_int_equal(step(f), 1);
	ks = keys(f);
	for (size_t i = 0; i < ks.n; i++)
		if (ks.k[i].id == old)
			assert_false(ks.k[i].active);
	int steps = 0;
	while (step(f) == 1 && steps < 10)
		steps++;
	ks = keys(f);
	for (size_t i = 0; i < ks.n; i++)
		assert_int_not_equal(ks.k[i].id, old);
	assert_int_equal(count(f, DNS_T_DNSKEY).n, ks.n);
	/* a new rollover may start again */
	assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, nw, &res, err, sizeof(err)), 0);
	store_fx_free(f);
}

static void
test_ksk_rollover_steps(void **state)
{
	(void)state;
	roll("ksk");
}

static void
test_csk_rollover_steps(void **state)
{
	(void)state;
	roll("csk");
}

/* A new key taken out of service by hand while its CDS is up: the CDS goes. */
static void
test_cds_follows_a_deactivated_key(void **state)
{
	(void)state;
	struct store_fx *f = fx_open();
	struct store_result res;
	char err[256] = "";
	int64_t old = keys(f).k[0].id;
	assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, old, &res, err, sizeof(err)), 0);
	assert_int_equal(step(f), 1);
	assert_int_equal(count(f, DNS_T_CDS).n, 1);
	struct keys ks = keys(f);
	int64_t nw = ks.k[ks.n - 1].id;
	assert_int_equal(store_cryptokey_set(f->st, f->zone, NULL, nw, false, false, true, &res,
	                                     err, sizeof(err)), 0);
	assert_int_equal(count(f, DNS_T_CDS).n, 0);
	assert_int_equal(count(f, DNS_T_CDNSKEY).n, 0);
	assert_int_equal(store_ksk_ds_seen(f->st, f->zone, NULL, nw, &res, err, sizeof(err)),
	                 -EINVAL);
	store_fx_free(f);
}

/* Name `i` with one A record, in a change of its own. */
static void
add_name(struct store_fx *f, int i)
{
	char text[64];
	uint8_t o[DNS_NAME_MAX], a[4] = {192, 0, 2, (uint8_t)i};
	snprintf(text, sizeof(text), "n%02d.example.com.", i);
	assert_true(dns_name_from_text(text, strlen(text), NULL, o) > 0);
	struct store_rec rec = {.rdata = a, .rdlen = 4};
	struct store_op op = {.kind = STORE_OP_REPLACE, .owner = o, .type = DNS_T_A, .ttl = 300,
	                      .has_ttl = true, .recs = &rec, .nrecs = 1};
	snprintf(op.label, sizeof(op.label), "rrsets[0]");
	struct store_result res;
	char err[256] = "";
	assert_int_equal(store_zone_patch(f->st, f->zone, NULL, NULL, &op, 1, &res, err,
	                                  sizeof(err)), 0);
}

/*
 * A retired key's signatures go a batch a step, found by a walk over the
 * zone's names in key order (schema 0012) that each step resumes: every step
 * takes some and the count only falls; a restart of the store (the walk
 * forgotten) and changes between the steps leave none behind; the key goes
 * once none is left, and not before.
 */
static void
test_retired_key_walk(void **state)
{
	(void)state;
	struct store_fx *f = fx_open();
	for (int i = 0; i < 60; i++)
		add_name(f, i);
	struct store_result res;
	char err[256] = "";
	int64_t old = keys(f).k[0].id;
	uint16_t old_tag = keys(f).k[0].tag;
	assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, old, &res, err, sizeof(err)), 0);
	assert_int_equal(step(f), 1);   /* CDS ready */
	struct keys ks = keys(f);
	int64_t nw = ks.k[ks.n - 1].id;
	assert_int_equal(store_ksk_ds_seen(f->st, f->zone, NULL, nw, &res, err, sizeof(err)), 0);
	size_t left = count_tag(f, DNS_T_RRSIG, old_tag).n;
	assert_true(left > 100);   /* each name's A and NSEC, the apex */
	size_t steps = 0;
	bool gone = false;
	while (!gone && steps < 100) {
		assert_int_equal(store_zone_roll(f->st, f->zone, 7, &res, err, sizeof(err)), 0);
		steps++;
		size_t now = count_tag(f, DNS_T_RRSIG, old_tag).n;
		gone = true;
		ks = keys(f);
		for (size_t i = 0; i < ks.n; i++)
			gone &= ks.k[i].id != old;
		if (!gone)
			assert_true(now < left || now == 0 || steps == 1);   /* the first step retires */
		else
			assert_int_equal(left, 0);   /* removed only once nothing of it was left */
		left = now;
		if (steps == 4) {   /* a restart forgets the walk */
			store_close(f->st);
			struct store_opts o = {.path = f->path, .catalog = "cat.test.",
			                       .dnssec_secret = "unit-test-secret",
			                       .dnssec_unsign_delay = 1};
			assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), 0);
			f->st->dnskey_ttl = 0;
		}
		if (steps == 6)
			add_name(f, 60);
	}
	assert_true(gone);
	assert_int_equal(count_tag(f, DNS_T_RRSIG, old_tag).n, 0);
	/* 7 rrsets a step (a step's chain mending re-signs a few more) */
	assert_true(steps < 130 / 7 + 8);
	store_fx_free(f);
}

static void
test_switch_off_with_cds_delete(void **state)
{
	(void)state;
	struct store_fx *f = fx_open();
	struct store_result res;
	char err[256] = "";
	/* off: CDS/CDNSKEY DELETE, signed still; again: nothing */
	assert_int_equal(store_zone_unsign(f->st, f->zone, NULL, false, &res, err, sizeof(err)), 0);
	assert_true(res.changed);
	assert_true(count(f, DNS_T_CDS).del && count(f, DNS_T_CDNSKEY).del);
	assert_int_equal(count(f, DNS_T_DNSKEY).n, 1);
	assert_int_equal(store_zone_unsign(f->st, f->zone, NULL, false, &res, err, sizeof(err)), 0);
	assert_false(res.changed);
	/* a rollover is refused meanwhile */
	struct keys ks = keys(f);
	assert_int_equal(store_ksk_rollover(f->st, f->zone, NULL, ks.k[0].id, &res, err,
	                                    sizeof(err)), -EINVAL);
	/* on again: cancelled */
	assert_int_equal(store_zone_sign(f->st, f->zone, NULL, false, 0, &res, err, sizeof(err)),
	                 0);
	assert_true(res.changed);
	assert_int_equal(count(f, DNS_T_CDS).n, 0);
	sleep(2);
	assert_int_equal(step(f), 0);
	assert_int_equal(count(f, DNS_T_DNSKEY).n, 1);
	/* off, then the delay (1 s) passes: unsigned by the resigner.  Switched
	 * off at the end of a wall-clock second and stepped just after the next
	 * began: not due yet (the delay is a full second, not what is left of
	 * one; due at >= it was unsigned after 0.1 s) */
	struct timespec now;
	do {
		struct timespec ms10 = {0, 10000000L};
		nanosleep(&ms10, NULL);
		clock_gettime(CLOCK_REALTIME, &now);
	} while (now.tv_nsec < 900000000L);
	assert_int_equal(store_zone_unsign(f->st, f->zone, NULL, false, &res, err, sizeof(err)), 0);
	struct timespec ms150 = {0, 150000000L};
	nanosleep(&ms150, NULL);
	assert_int_equal(step(f), 0);
	sleep(2);
	assert_int_equal(step(f), 1);
	assert_int_equal(count(f, DNS_T_DNSKEY).n, 0);
	assert_int_equal(count(f, DNS_T_CDS).n, 0);
	assert_int_equal(count(f, DNS_T_RRSIG).n, 0);
	assert_int_equal(keys(f).n, 0);
	/* signed again, then off with the parent's DS confirmed gone: at once */
	assert_int_equal(store_zone_sign(f->st, f->zone, NULL, true, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(store_zone_unsign(f->st, f->zone, NULL, true, &res, err, sizeof(err)), 0);
	assert_int_equal(count(f, DNS_T_NSEC3).n, 0);
	assert_int_equal(count(f, DNS_T_DNSKEY).n, 0);
	store_fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ksk_rollover_steps),
		cmocka_unit_test(test_csk_rollover_steps),
		cmocka_unit_test(test_cds_follows_a_deactivated_key),
		cmocka_unit_test(test_retired_key_walk),
		cmocka_unit_test(test_switch_off_with_cds_delete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
