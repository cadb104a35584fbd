/* secondary/persist.c: zone files written atomically, loaded with every check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

#include "dns/name.h"
#include "dns/rrtype.h"
#include "secondary/persist.h"
#include "util/err.h"

static char dir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/anycst-test-persist-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[600];
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.'))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
	return 0;
}

static void
name(const char *s, uint8_t *out)
{
	assert_true(dns_name_from_text(s, strlen(s), NULL, out) > 0);
}

/* Records of a small zone: SOA serial 7, NS, and `na` A records. */
struct rec {
	uint8_t owner[DNS_NAME_MAX];
	uint16_t type;
	uint32_t ttl;
	uint8_t rd[64];
	uint16_t rdlen;
};

static size_t
make_zone(struct rec *r, size_t na)
{
	size_t n = 0;
	name("Example.COM.", r[n].owner);
	r[n].type = DNS_T_SOA;
	r[n].ttl = 3600;
	uint8_t *p = r[n].rd;
	name("ns1.example.com.", p);
	size_t l = dns_name_len(p);
	name("hostmaster.example.com.", p + l);
	l += dns_name_len(p + l);
	uint32_t f[5] = {7, 2, 1, 10, 60};
	for (int i = 0; i < 5; i++) {
		p[l++] = (uint8_t)(f[i] >> 24);
		p[l++] = (uint8_t)(f[i] >> 16);
		p[l++] = (uint8_t)(f[i] >> 8);
		p[l++] = (uint8_t)f[i];
	}
	r[n++].rdlen = (uint16_t)l;
	name("example.com.", r[n].owner);
	r[n].type = DNS_T_NS;
	r[n].ttl = 3600;
	name("ns1.example.com.", r[n].rd);
	r[n].rdlen = (uint16_t)dns_name_len(r[n].rd);
	n++;
	for (size_t i = 0; i < na; i++, n++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "h%zu.example.com.", i);
		name(buf, r[n].owner);
		r[n].type = DNS_T_A;
		r[n].ttl = 300;
		r[n].rd[0] = 192;
		r[n].rd[1] = 0;
		r[n].rd[2] = 2;
		r[n].rd[3] = (uint8_t)i;
		r[n].rdlen = 4;
	}
	return n;
}

static void
save(const uint8_t *origin, const struct rec *r, size_t n, uint32_t serial)
{
	struct persist_out *o = malloc(sizeof(*o));
	assert_non_null(o);
	assert_int_equal(persist_begin(o, dir, origin, serial), 0);
	for (size_t i = 0; i < n; i++) {
		struct dns_rr rr = {.owner = r[i].owner, .type = r[i].type, .rclass = DNS_C_IN,
		                    .ttl = r[i].ttl, .rdlen = r[i].rdlen, .rdata = r[i].rd};
		assert_int_equal(persist_add(o, &rr), 0);
	}
	assert_int_equal(persist_commit(o), 0);
	free(o);
}

struct collect {
	const struct rec *want;
	size_t n;
	bool mismatch;
};

static int
check_cb(void *ctx, const struct dns_rr *rr)
{
	struct collect *c = ctx;
	const struct rec *w = &c->want[c->n++];
	if (!dns_name_equal(rr->owner, w->owner) || rr->type != w->type || rr->ttl != w->ttl ||
	    rr->rclass != DNS_C_IN || rr->rdlen != w->rdlen || memcmp(rr->rdata, w->rd, w->rdlen))
		c->mismatch = true;
	/* letter case of owners is kept */
	if (memcmp(rr->owner, w->owner, dns_name_len(w->owner)) != 0)
		c->mismatch = true;
	return 0;
}

static void
test_persist_roundtrip(void **state)
{
	(void)state;
	struct rec r[40];
	size_t n = make_zone(r, 30);
	uint8_t origin[DNS_NAME_MAX];
	name("example.com.", origin);
	save(origin, r, n, 7);
	struct collect c = {.want = r};
	uint32_t serial = 0;
	char why[256];
	assert_int_equal(persist_load(dir, origin, &serial, check_cb, &c, why, sizeof(why)), 0);
	assert_int_equal(serial, 7);
	assert_int_equal(c.n, n);
	assert_false(c.mismatch);
	/* A new version replaces the old one; no temporary file is left behind. */
	save(origin, r, 5, 8);
	c.n = 0;
	assert_int_equal(persist_load(dir, origin, &serial, check_cb, &c, why, sizeof(why)), 0);
	assert_int_equal(serial, 8);
	assert_int_equal(c.n, 5);
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		assert_null(strstr(e->d_name, ".tmp"));
		files++;
	}
	closedir(d);
	assert_int_equal(files, 1);
}

static void
test_persist_missing_is_enoent(void **state)
{
	(void)state;
	uint8_t origin[DNS_NAME_MAX];
	name("nothing.example.", origin);
	uint32_t serial;
	struct collect c = {0};
	assert_int_equal(persist_load(dir, origin, &serial, check_cb, &c, NULL, 0), -ENOENT);
}

static void
corrupt_at(const uint8_t *origin, long off, int mode)
{
	char path[4096];
	assert_int_equal(persist_path(dir, origin, ".zone", path, sizeof(path)), 0);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	if (mode == 0) {          /* flip one byte */
		fseek(f, off, SEEK_SET);
		int ch = fgetc(f);
		fseek(f, off, SEEK_SET);
		fputc(ch ^ 0x20, f);
		fclose(f);
	} else {                  /* truncate */
		fclose(f);
		assert_int_equal(truncate(path, off), 0);
	}
}

static int
count_cb(void *ctx, const struct dns_rr *rr)
{
	(void)rr;
	(*(size_t *)ctx)++;
	return 0;
}

static void
test_persist_corrupt_rejected_whole(void **state)
{
	(void)state;
	struct rec r[20];
	size_t n = make_zone(r, 10);
	uint8_t origin[DNS_NAME_MAX];
	name("example.com.", origin);
	struct {
		long off;
		int mode;
		const char *what;
	} cases[] = {
		{100, 0, "checksum"},     /* a byte of a record */
		{0, 0, "magic"},
		{9, 0, "version"},
		{60, 1, "truncated"},
		{20, 1, "truncated"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		save(origin, r, n, 7);
		corrupt_at(origin, cases[i].off, cases[i].mode);
		size_t seen = 0;
		uint32_t serial = 0;
		char why[256] = "";
		assert_int_equal(persist_load(dir, origin, &serial, count_cb, &seen, why, sizeof(why)),
		                 ERR_FORMERR);
		assert_int_equal(seen, 0);   /* nothing handed out from a bad file */
		assert_non_null(strstr(why, cases[i].what));
	}
}

static void
test_persist_other_zone_rejected(void **state)
{
	(void)state;
	struct rec r[20];
	size_t n = make_zone(r, 3);
	uint8_t a[DNS_NAME_MAX], b[DNS_NAME_MAX];
	name("example.com.", a);
	name("example.net.", b);
	save(a, r, n, 7);
	char pa[4096], pb[4096];
	persist_path(dir, a, ".zone", pa, sizeof(pa));
	persist_path(dir, b, ".zone", pb, sizeof(pb));
	assert_int_equal(rename(pa, pb), 0);
	uint32_t serial;
	size_t seen = 0;
	char why[256];
	assert_int_equal(persist_load(dir, b, &serial, count_cb, &seen, why, sizeof(why)),
	                 ERR_FORMERR);
	assert_non_null(strstr(why, "another zone"));
}

static void
test_persist_path_escapes(void **state)
{
	(void)state;
	uint8_t n1[DNS_NAME_MAX], n2[DNS_NAME_MAX];
	char p[4096];
	name("Ex\\/am\\.ple.COM.", n1);
	assert_int_equal(persist_path("/d", n1, ".zone", p, sizeof(p)), 0);
	assert_string_equal(p, "/d/ex%2Fam%2Eple.com.zone");
	assert_int_equal(persist_path("/d", dns_root_name, ".zone", p, sizeof(p)), 0);
	assert_string_equal(p, "/d/%root.zone");
	name("root.", n2);
	assert_int_equal(persist_path("/d", n2, ".zone", p, sizeof(p)), 0);
	assert_string_equal(p, "/d/root.zone");
	assert_int_equal(persist_path("/d", n2, ".zone", p, 8), -ENAMETOOLONG);
}

static void
test_persist_timers_roundtrip_and_corrupt(void **state)
{
	(void)state;
	uint8_t origin[DNS_NAME_MAX];
	name("example.com.", origin);
	uint64_t a = 0, b = 0;
	assert_int_equal(persist_load_timers(dir, origin, &a, &b), -ENOENT);
	assert_int_equal(persist_save_timers(dir, origin, 1795694400, 1795694410, true), 0);
	assert_int_equal(persist_load_timers(dir, origin, &a, &b), 0);
	assert_true(a == 1795694400 && b == 1795694410);
	char path[4096];
	persist_path(dir, origin, ".timers", path, sizeof(path));
	FILE *f = fopen(path, "r+b");
	fseek(f, 20, SEEK_SET);
	fputc(0x55, f);
	fclose(f);
	assert_int_equal(persist_load_timers(dir, origin, &a, &b), ERR_FORMERR);
	assert_int_equal(persist_remove(dir, origin), 0);
	assert_int_equal(access(path, F_OK), -1);
}

/* Saving the timers sets the zone file's mtime: the fallback when they are lost. */
static void
test_persist_timers_set_zone_mtime(void **state)
{
	(void)state;
	uint8_t origin[DNS_NAME_MAX];
	name("example.com.", origin);
	uint64_t mt = 0;
	assert_int_equal(persist_zone_mtime(dir, origin, &mt), -ENOENT);
	struct rec r[4];
	size_t n = make_zone(r, 2);
	save(origin, r, n, 7);
	assert_int_equal(persist_zone_mtime(dir, origin, &mt), 0);
	assert_true(mt + 60 > (uint64_t)time(NULL));
	assert_int_equal(persist_save_timers(dir, origin, 1700000000, 1700000010, true), 0);
	assert_int_equal(persist_zone_mtime(dir, origin, &mt), 0);
	assert_true(mt == 1700000000);
	assert_int_equal(persist_remove(dir, origin), 0);
}

static void
test_persist_creates_missing_dirs(void **state)
{
	(void)state;
	char nested[512];
	snprintf(nested, sizeof(nested), "%s/a/b", dir);
	uint8_t origin[DNS_NAME_MAX];
	name("example.com.", origin);
	struct persist_out *o = malloc(sizeof(*o));
	assert_int_equal(persist_begin(o, nested, origin, 3), 0);
	assert_int_equal(persist_commit(o), 0);
	free(o);
	assert_int_equal(persist_save_timers(nested, origin, 1, 2, true), 0);
	uint32_t serial = 0;
	size_t seen = 0;
	assert_int_equal(persist_load(nested, origin, &serial, count_cb, &seen, NULL, 0), 0);
	assert_int_equal(serial, 3);
	assert_int_equal(persist_remove(nested, origin), 0);
	assert_int_equal(rmdir(nested), 0);   /* empty again: both files gone */
	snprintf(nested, sizeof(nested), "%s/a", dir);
	assert_int_equal(rmdir(nested), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_persist_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_missing_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_corrupt_rejected_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_other_zone_rejected, setup, teardown),
		cmocka_unit_test(test_persist_path_escapes),
		cmocka_unit_test_setup_teardown(test_persist_creates_missing_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_timers_roundtrip_and_corrupt, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_persist_timers_set_zone_mtime, setup, teardown),
	};
	return cmocka_run_group_tests_name("persist", tests, NULL, NULL);
}
