/* primary/store_audit.c: an armed audit row is written by the change's own
 * transaction (a change refused leaves none), a second transaction of the
 * same request updates it, the status answered corrects it, and a request
 * that committed nothing gets its row alone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "primary/store.h"
#include "store_db.h"
#include "store_fx.h"

static int
setup(void **state)
{
	*state = store_fx_new("audit", 5);
	return 0;
}

static int
teardown(void **state)
{
	store_fx_free(*state);
	return 0;
}

struct opbuf {
	uint8_t owner[DNS_NAME_MAX];
	uint8_t rd[512];
	struct store_rec rec;
	struct store_op op;
};

static struct store_op *
mkop(struct opbuf *b, const char *owner, const char *type, const char *rdata)
{
	memset(b, 0, sizeof(*b));
	assert_true(dns_name_from_text(owner, strlen(owner), NULL, b->owner) > 0);
	b->op.kind = STORE_OP_REPLACE;
	b->op.owner = b->owner;
	assert_int_equal(dns_rrtype_from_text(type, strlen(type), &b->op.type), 0);
	b->op.ttl = 300;
	b->op.has_ttl = true;
	snprintf(b->op.label, sizeof(b->op.label), "rrsets[0]");
	char msg[128];
	int rl = dns_rdata_from_str(b->op.type, rdata, strlen(rdata), dns_root_name, b->rd, 512, msg,
	                            sizeof(msg));
	assert_true(rl >= 0);
	b->rec.rdata = b->rd;
	b->rec.rdlen = (uint16_t)rl;
	b->op.recs = &b->rec;
	b->op.nrecs = 1;
	return &b->op;
}

static void
arm(struct store_fx *f, struct store_audit_arm *a, const char *what, const char *zone)
{
	memset(a, 0, sizeof(*a));
	a->row.at_ms = 1000;
	a->row.key_id = 7;
	snprintf(a->row.account, sizeof(a->row.account), "acme");
	snprintf(a->row.zone, sizeof(a->row.zone), "%s", zone);
	snprintf(a->row.what, sizeof(a->row.what), "%s", what);
	a->row.status = 204;
	store_audit_arm(f->st, a);
}

static int
keep_row(void *ctx, const struct store_audit *a)
{
	struct store_audit *rows = ctx;
	for (int i = 0; i < 8; i++)
		if (rows[i].id == 0) {
			rows[i] = *a;
			return 0;
		}
	return -ENOSPC;
}

static size_t
rows_of(struct store_fx *f, struct store_audit rows[8])
{
	memset(rows, 0, 8 * sizeof(rows[0]));
	assert_int_equal(store_audit_list(f->st, NULL, NULL, 0, 0, 8, keep_row, rows), 0);
	size_t n = 0;
	while (n < 8 && rows[n].id != 0)
		n++;
	return n;
}

static void
create(struct store_fx *f)
{
	struct opbuf soa, ns;
	struct store_op ops[2] = {
		*mkop(&soa, "example.com.", "SOA", "ns1.example.com. a.example.com. 100 7200 3600 1209600 300"),
		*mkop(&ns, "example.com.", "NS", "ns1.example.com."),
	};
	struct store_zone_new zn = {.name = f->zone, .kind = "Native", .account = "acme",
	                            .policy = DNS_SERIAL_INCREASE};
	struct store_result res;
	char err[256] = "";
	assert_int_equal(store_zone_create(f->st, &zn, ops, 2, &res, err, sizeof(err)), 0);
}

static void
test_audit_row_in_the_change(void **state)
{
	struct store_fx *f = *state;
	struct store_audit rows[8];
	/* a creation: the row names the zone created, no serials */
	struct store_audit_arm a;
	arm(f, &a, "POST /zones", "");
	a.row.status = 201;
	create(f);
	assert_true(a.id > 0);
	assert_int_equal(rows_of(f, rows), 1);       /* there before the disarm: same transaction */
	assert_string_equal(rows[0].zone, "example.com.");
	assert_false(rows[0].serials);
	assert_int_equal(store_audit_disarm(f->st, &a, 201), 1);
	assert_int_equal(rows_of(f, rows), 1);

	/* a refused change leaves no row; its disarm with a 4xx writes none */
	struct opbuf op;
	struct store_result res;
	char err[256] = "";
	arm(f, &a, "PATCH /zones/example.com.", "example.com.");
	assert_int_not_equal(store_zone_patch(f->st, f->zone, NULL, NULL,
	                                      mkop(&op, "www.other.org.", "A", "192.0.2.1"), 1, &res,
	                                      err, sizeof(err)), 0);
	assert_int_equal(a.id, 0);
	assert_int_equal(store_audit_disarm(f->st, &a, 422), 0);
	assert_int_equal(rows_of(f, rows), 1);

	/* two changes in one request: one row, its serials spanning both */
	arm(f, &a, "PATCH /zones/example.com.", "example.com.");
	assert_int_equal(store_zone_patch(f->st, f->zone, NULL, NULL,
	                                  mkop(&op, "a.example.com.", "A", "192.0.2.1"), 1, &res, err,
	                                  sizeof(err)), 0);
	assert_int_equal(store_zone_patch(f->st, f->zone, NULL, NULL,
	                                  mkop(&op, "b.example.com.", "A", "192.0.2.2"), 1, &res, err,
	                                  sizeof(err)), 0);
	assert_int_equal(rows_of(f, rows), 2);
	assert_true(rows[1].serials);
	assert_int_equal(rows[1].old_serial, 100);
	assert_int_equal(rows[1].new_serial, 102);
	assert_int_equal(rows[1].status, 204);
	/* an answer other than the one expected corrects the status */
	assert_int_equal(store_audit_disarm(f->st, &a, 200), 1);
	assert_int_equal(rows_of(f, rows), 2);
	assert_int_equal(rows[1].status, 200);
	assert_int_equal(rows[1].key_id, 7);
	assert_string_equal(rows[1].account, "acme");

	/* nothing committed but answered 2xx (a NOTIFY sent): the row alone */
	arm(f, &a, "PUT /zones/example.com./notify", "example.com.");
	assert_int_equal(store_audit_disarm(f->st, &a, 200), 1);
	assert_int_equal(rows_of(f, rows), 3);
	assert_string_equal(rows[2].what, "PUT /zones/example.com./notify");
	assert_false(rows[2].serials);

	/* disarmed: a later commit of the thread writes no row */
	arm(f, &a, "PATCH /zones/example.com.", "example.com.");
	store_audit_disarm(f->st, &a, 500);
	assert_int_equal(store_zone_patch(f->st, f->zone, NULL, NULL,
	                                  mkop(&op, "c.example.com.", "A", "192.0.2.3"), 1, &res, err,
	                                  sizeof(err)), 0);
	assert_int_equal(rows_of(f, rows), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_audit_row_in_the_change, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
