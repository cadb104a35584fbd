/* secondary/pack.c and state.c: the state pack, appended, read back, damaged, compacted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

#include "dns/name.h"
#include "dns/rrtype.h"
#include "secondary/pack.h"
#include "secondary/state.h"
#include "util/err.h"

static char dir[256];
static char pack_path[300];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/anycst-test-pack-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(pack_path, sizeof(pack_path), "%s/%s", dir, PACK_FILE_NAME);
	return 0;
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

/* A zone `z` ("a.test.") of a SOA at `serial` and `na` A records, into the pack. */
static void
put_zone(struct pack *p, const char *z, uint32_t serial, unsigned na)
{
	uint8_t origin[DNS_NAME_MAX], owner[DNS_NAME_MAX], rd[300];
	name(z, origin);
	struct pack_buf pb;
	assert_int_equal(pack_zone_begin(&pb, origin, PACK_ZONE_MAX), 0);
	char t[300];
	snprintf(t, sizeof(t), "ns1.%s", z);
	name(t, rd);
	size_t l = dns_name_len(rd);
	memcpy(rd + l, rd, l);          /* rname: the same name will do */
	l *= 2;
	uint32_t f[5] = {serial, 3600, 600, 86400, 300};
	for (int i = 0; i < 5; i++, l += 4) {
		rd[l] = (uint8_t)(f[i] >> 24);
		rd[l + 1] = (uint8_t)(f[i] >> 16);
		rd[l + 2] = (uint8_t)(f[i] >> 8);
		rd[l + 3] = (uint8_t)f[i];
	}
	struct dns_rr rr = {.owner = origin, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 300,
	                    .rdlen = (uint16_t)l, .rdata = rd};
	assert_int_equal(pack_zone_add(&pb, &rr), 0);
	for (unsigned i = 0; i < na; i++) {
		snprintf(t, sizeof(t), "h%u.%s", i, z);
		name(t, owner);
		uint8_t a[4] = {192, 0, 2, (uint8_t)i};
		struct dns_rr ra = {.owner = owner, .type = DNS_T_A, .rclass = DNS_C_IN, .ttl = 300,
		                    .rdlen = 4, .rdata = a};
		assert_int_equal(pack_zone_add(&pb, &ra), 0);
	}
	pb.serial = serial;
	pb.saved = 1000 + serial;
	assert_int_equal(pack_put_zone(p, &pb), 0);
	pack_buf_clear(&pb);
}

static int
count_cb(void *ctx, const struct dns_rr *rr)
{
	(void)rr;
	(*(size_t *)ctx)++;
	return 0;
}

/* The state of zone `z` found at open, its record count into *n.  0 or -ENOENT. */
static int
state_of(struct pack *p, const char *z, struct pack_zone_state *st, size_t *n)
{
	uint8_t origin[DNS_NAME_MAX];
	name(z, origin);
	int r = pack_zone(p, origin, st);
	*n = 0;
	if (r == 0 && st->have_zone)
		assert_int_equal(pack_load(p, origin, count_cb, n), 0);
	return r;
}

static struct pack *
open_pack(void)
{
	char err[400];
	struct pack *p = pack_open(dir, err, sizeof(err));
	if (p == NULL)
		fail_msg("pack_open: %s", err);
	return p;
}

static off_t
file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void
test_pack_roundtrip(void **state)
{
	(void)state;
	struct pack *p = open_pack();
	put_zone(p, "a.test.", 1, 3);
	put_zone(p, "b.test.", 5, 1);
	put_zone(p, "c.test.", 9, 0);
	put_zone(p, "A.test.", 2, 4);   /* a later version: names compare case-insensitively */
	uint8_t o[DNS_NAME_MAX];
	name("a.test.", o);
	assert_int_equal(pack_put_timers(p, o, 5000, 6000), 0);
	name("c.test.", o);
	assert_int_equal(pack_put_drop(p, o), 0);
	name("big.test.", o);
	assert_int_equal(pack_put_file(p, o, 77, 3000), 0);
	assert_int_equal(pack_sync(p), 0);
	pack_close(p);

	p = open_pack();
	struct pack_zone_state st;
	size_t n;
	assert_int_equal(state_of(p, "a.test.", &st, &n), 0);
	assert_true(st.have_zone && !st.in_file && !st.damaged && st.have_timers);
	assert_int_equal(st.serial, 2);
	assert_int_equal(st.saved, 1002);
	assert_int_equal(st.last_refresh, 5000);
	assert_int_equal(st.expire_at, 6000);
	assert_int_equal(n, 5);
	assert_int_equal(state_of(p, "b.test.", &st, &n), 0);
	assert_true(st.have_zone && !st.have_timers);
	assert_int_equal(n, 2);
	assert_int_equal(state_of(p, "c.test.", &st, &n), -ENOENT);
	assert_int_equal(state_of(p, "big.test.", &st, &n), 0);
	assert_true(st.in_file && !st.have_zone);
	assert_int_equal(st.serial, 77);
	assert_int_equal(state_of(p, "none.test.", &st, &n), -ENOENT);
	/* after the loading, nothing is kept in memory */
	pack_opened_done(p);
	assert_int_equal(state_of(p, "a.test.", &st, &n), -ENOENT);
	pack_close(p);
}

static void
test_pack_torn_tail(void **state)
{
	(void)state;
	struct pack *p = open_pack();
	put_zone(p, "a.test.", 1, 3);
	put_zone(p, "b.test.", 1, 3);
	put_zone(p, "c.test.", 1, 3);
	pack_close(p);
	off_t full = file_size(pack_path);
	assert_int_equal(truncate(pack_path, full - 12), 0);  /* a crash inside the last append */

	p = open_pack();
	struct pack_zone_state st;
	size_t n;
	assert_int_equal(state_of(p, "a.test.", &st, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(state_of(p, "b.test.", &st, &n), 0);
	assert_int_equal(state_of(p, "c.test.", &st, &n), 0);
	assert_true(st.damaged && !st.have_zone);
	assert_non_null(strstr(st.damage, "truncated zone record"));
	/* the torn record is cut off: what comes next is appended after the good ones */
	off_t cut = file_size(pack_path);
	assert_true(cut < full - 12 && cut % 8 == 0);
	put_zone(p, "c.test.", 2, 1);
	pack_close(p);

	p = open_pack();
	assert_int_equal(state_of(p, "c.test.", &st, &n), 0);
	assert_true(st.have_zone && !st.damaged);
	assert_int_equal(st.serial, 2);
	assert_int_equal(state_of(p, "a.test.", &st, &n), 0);
	pack_close(p);
}

static void
flip(off_t off)
{
	FILE *f = fopen(pack_path, "r+b");
	assert_non_null(f);
	fseek(f, off, SEEK_SET);
	int ch = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(ch ^ 0x40, f);
	fclose(f);
}

static void
test_pack_damage_in_the_middle(void **state)
{
	(void)state;
	struct pack *p = open_pack();
	put_zone(p, "a.test.", 1, 3);
	off_t b_at = (off_t)pack_size(p);   /* where each record goes (written at the close) */
	put_zone(p, "b.test.", 1, 3);
	off_t c_at = (off_t)pack_size(p);
	put_zone(p, "c.test.", 1, 3);
	off_t d_at = (off_t)pack_size(p);
	put_zone(p, "d.test.", 1, 3);
	pack_close(p);
	flip(b_at + 1);                 /* b's header: found again by its successor's */
	flip(c_at + PACK_REC_HDR + 30); /* c's records: its checksum fails, its name is known */

	p = open_pack();
	struct pack_zone_state st;
	size_t n;
	assert_int_equal(state_of(p, "a.test.", &st, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(state_of(p, "b.test.", &st, &n), -ENOENT);
	assert_int_equal(state_of(p, "c.test.", &st, &n), 0);
	assert_true(st.damaged);
	assert_non_null(strstr(st.damage, "fails its checksum"));
	assert_int_equal(state_of(p, "d.test.", &st, &n), 0);
	assert_int_equal(n, 4);
	/* nothing is cut: good records follow the damage */
	assert_int_equal(file_size(pack_path), d_at + (c_at - b_at));
	/* once loaded, the next flush rewrites the file without the damage */
	pack_opened_done(p);
	uint8_t o[DNS_NAME_MAX];
	name("a.test.", o);
	assert_int_equal(pack_put_timers(p, o, 1, 2), 0);
	assert_int_equal(pack_sync(p), 0);
	pack_close(p);
	p = open_pack();
	assert_int_equal(state_of(p, "c.test.", &st, &n), -ENOENT);
	assert_int_equal(state_of(p, "d.test.", &st, &n), 0);
	assert_int_equal(state_of(p, "a.test.", &st, &n), 0);
	assert_true(st.have_timers);
	pack_close(p);
}

static void
test_pack_compaction(void **state)
{
	(void)state;
	struct pack *p = open_pack();
	pack_opened_done(p);
	uint8_t o[DNS_NAME_MAX];
	name("a.test.", o);
	for (uint32_t s = 1; s <= 300; s++) {
		put_zone(p, "a.test.", s, 20);
		assert_int_equal(pack_put_timers(p, o, 100 + s, 200 + s), 0);
	}
	put_zone(p, "gone.test.", 1, 20);
	name("gone.test.", o);
	assert_int_equal(pack_put_drop(p, o), 0);
	off_t before = (off_t)pack_size(p);
	assert_int_equal(pack_compact(p), 0);
	off_t after = file_size(pack_path);
	assert_true(after * 100 < before);
	assert_int_equal((off_t)pack_size(p), after);
	put_zone(p, "b.test.", 4, 1);   /* appends go to the new file */
	pack_close(p);

	p = open_pack();
	struct pack_zone_state st;
	size_t n;
	assert_int_equal(state_of(p, "a.test.", &st, &n), 0);
	assert_int_equal(st.serial, 300);
	assert_int_equal(st.last_refresh, 400);
	assert_int_equal(n, 21);
	assert_int_equal(state_of(p, "b.test.", &st, &n), 0);
	assert_int_equal(state_of(p, "gone.test.", &st, &n), -ENOENT);
	pack_close(p);
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s.new", pack_path);
	assert_int_equal(access(tmp, F_OK), -1);
}

static void
test_pack_not_a_pack_is_set_aside(void **state)
{
	(void)state;
	FILE *f = fopen(pack_path, "wb");
	assert_non_null(f);
	fputs("this is not a pack at all", f);
	fclose(f);
	struct pack *p = open_pack();
	put_zone(p, "a.test.", 1, 1);
	pack_close(p);
	char bad[400];
	snprintf(bad, sizeof(bad), "%s.bad", pack_path);
	assert_int_equal(file_size(bad), 25);
	p = open_pack();
	struct pack_zone_state st;
	size_t n;
	assert_int_equal(state_of(p, "a.test.", &st, &n), 0);
	pack_close(p);
}

static void
test_pack_one_process_at_a_time(void **state)
{
	(void)state;
	struct pack *p = open_pack();
	char err[400];
	assert_null(pack_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "is in use by another process"));
	pack_close(p);
	p = open_pack();
	pack_close(p);
}

/* A version for state_save: `n` TXT records of 100 bytes under origin. */
struct ver {
	const uint8_t *origin;
	unsigned n;
	uint32_t serial;
};

static int
walk_ver(const void *v, persist_rr_fn cb, void *ctx)
{
	const struct ver *w = v;
	uint8_t rd[200];
	size_t l = 0;
	uint32_t f[5] = {w->serial, 3600, 600, 86400, 300};
	memcpy(rd, w->origin, dns_name_len(w->origin));
	l = dns_name_len(w->origin);
	memcpy(rd + l, w->origin, l);
	l *= 2;
	for (int i = 0; i < 5; i++, l += 4) {
		rd[l] = (uint8_t)(f[i] >> 24);
		rd[l + 1] = (uint8_t)(f[i] >> 16);
		rd[l + 2] = (uint8_t)(f[i] >> 8);
		rd[l + 3] = (uint8_t)f[i];
	}
	struct dns_rr rr = {.owner = w->origin, .type = DNS_T_SOA, .rclass = DNS_C_IN, .ttl = 60,
	                    .rdlen = (uint16_t)l, .rdata = rd};
	int r = cb(ctx, &rr);
	for (unsigned i = 0; i < w->n && r == 0; i++) {
		uint8_t txt[101];
		txt[0] = 100;
		memset(txt + 1, 'a' + (int)(i % 26), 100);
		struct dns_rr t = {.owner = w->origin, .type = DNS_T_TXT, .rclass = DNS_C_IN,
		                   .ttl = 60, .rdlen = sizeof(txt), .rdata = txt};
		txt[1] = (uint8_t)i;
		txt[2] = (uint8_t)(i >> 8);
		r = cb(ctx, &t);
	}
	return r;
}

static void
test_state_big_zone_has_its_own_file(void **state)
{
	(void)state;
	char err[400], why[400], zf[400];
	uint8_t o[DNS_NAME_MAX];
	name("big.test.", o);
	snprintf(zf, sizeof(zf), "%s/big.test.zone", dir);
	struct state *s = state_open(dir, err, sizeof(err));
	assert_non_null(s);
	struct ver big = {.origin = o, .n = 2000, .serial = 3};
	bool own = false;
	assert_int_equal(state_save(s, o, 3, 500, walk_ver, &big, false, &own), 0);
	assert_true(own);
	assert_int_equal(access(zf, F_OK), 0);
	state_close(s);

	s = state_open(dir, err, sizeof(err));
	assert_non_null(s);
	struct state_found f;
	size_t n = 0;
	assert_int_equal(state_load(s, o, count_cb, &n, &f, why, sizeof(why)), 0);
	assert_int_equal(n, 2001);
	assert_true(f.own_file && f.guessed);   /* no refresh time recorded: the version's */
	assert_int_equal(f.serial, 3);
	assert_int_equal(f.last_refresh, 500);
	state_loaded(s);
	/* a small version goes into the pack and the file goes away */
	struct ver small = {.origin = o, .n = 3, .serial = 4};
	assert_int_equal(state_save(s, o, 4, 600, walk_ver, &small, true, &own), 0);
	assert_false(own);
	assert_int_equal(access(zf, F_OK), -1);
	assert_int_equal(state_save_timers(s, o, 700, 800, false), 0);
	state_close(s);

	s = state_open(dir, err, sizeof(err));
	n = 0;
	assert_int_equal(state_load(s, o, count_cb, &n, &f, why, sizeof(why)), 0);
	assert_int_equal(n, 4);
	assert_false(f.own_file || f.guessed);
	assert_int_equal(f.last_refresh, 700);
	state_close(s);
}

/* A zone of one SOA at `serial` and one A record, and its refresh time, appended. */
static void
put_with_timers(struct pack *p, const char *z, uint32_t serial)
{
	uint8_t o[DNS_NAME_MAX];
	put_zone(p, z, serial, 1);
	name(z, o);
	assert_int_equal(pack_put_timers(p, o, 5000 + serial, 9000 + serial), 0);
}

/*
 * Appends are written in batches: none of 40 zones' records is in the file
 * before the flush, all of them after it with one write; then the batch torn
 * at every 61st byte (a crash inside that write): each zone whose record
 * was wholly written loads, with its serial, the torn one is damaged or
 * absent, and none after it appears.
 */
static void
test_pack_batch_torn_anywhere(void **state)
{
	(void)state;
	enum { NZ = 40 };
	uint64_t zstart[NZ], zend[NZ], tend[NZ];
	struct pack *p = open_pack();
	pack_opened_done(p);
	char z[64];
	for (int i = 0; i < NZ; i++) {
		snprintf(z, sizeof(z), "z%02d.test.", i);
		zstart[i] = pack_size(p);
		put_zone(p, z, (uint32_t)i + 1, 1);
		zend[i] = pack_size(p);
		uint8_t o[DNS_NAME_MAX];
		name(z, o);
		assert_int_equal(pack_put_timers(p, o, 100 + (uint64_t)i, 200 + (uint64_t)i), 0);
		tend[i] = pack_size(p);
	}
	assert_int_equal(file_size(pack_path), PACK_HDR_LEN);   /* buffered, nothing written */
	assert_int_equal(pack_flush(p), 0);
	assert_int_equal((uint64_t)file_size(pack_path), pack_size(p));
	pack_close(p);

	size_t len = (size_t)file_size(pack_path);
	uint8_t *img = malloc(len);
	FILE *f = fopen(pack_path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(img, 1, len, f), len);
	fclose(f);
	for (uint64_t cut = PACK_HDR_LEN; cut <= len; cut += 61) {
		f = fopen(pack_path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(img, 1, (size_t)cut, f), (size_t)cut);
		fclose(f);
		p = open_pack();
		for (int i = 0; i < NZ; i++) {
			struct pack_zone_state st;
			size_t n;
			snprintf(z, sizeof(z), "z%02d.test.", i);
			int r = state_of(p, z, &st, &n);
			if (zend[i] <= cut) {
				assert_int_equal(r, 0);
				assert_true(st.have_zone && !st.damaged);
				assert_int_equal(st.serial, i + 1);
				assert_int_equal(n, 2);
				/* a record cut in its zero padding only is whole */
				if (tend[i] <= cut)
					assert_true(st.have_timers);
				else if (tend[i] - cut >= 8)
					assert_false(st.have_timers);
			} else if (zstart[i] < cut) {
				assert_true(r == -ENOENT || st.damaged ||
				            (st.have_zone && st.serial == (uint32_t)i + 1));
			} else {
				assert_int_equal(r, -ENOENT);
			}
		}
		pack_close(p);
	}
	free(img);
}

/*
 * A process that dies between two flushes loses only the appends since the
 * last one: the file holds the flushed batch, nothing torn, nothing else.
 */
static void
test_pack_death_before_flush_loses_the_batch_only(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[400], z[64];
		struct pack *p = pack_open(dir, err, sizeof(err));
		if (p == NULL)
			_exit(2);
		pack_opened_done(p);
		for (int i = 0; i < 30; i++) {
			snprintf(z, sizeof(z), "a%02d.test.", i);
			put_with_timers(p, z, (uint32_t)i + 1);
		}
		if (pack_sync(p) != 0)
			_exit(3);
		for (int i = 0; i < 10; i++) {
			snprintf(z, sizeof(z), "b%02d.test.", i);
			put_with_timers(p, z, 7);
		}
		_exit(0);   /* no pack_close: as if killed */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	off_t flushed = file_size(pack_path);
	struct pack *p = open_pack();
	assert_int_equal(file_size(pack_path), flushed);   /* nothing torn to cut */
	char z[64];
	for (int i = 0; i < 30; i++) {
		struct pack_zone_state st;
		size_t n;
		snprintf(z, sizeof(z), "a%02d.test.", i);
		assert_int_equal(state_of(p, z, &st, &n), 0);
		assert_true(st.have_zone && st.have_timers && !st.damaged);
		assert_int_equal(st.serial, i + 1);
		assert_int_equal(st.last_refresh, 5001 + i);
	}
	for (int i = 0; i < 10; i++) {
		struct pack_zone_state st;
		size_t n;
		snprintf(z, sizeof(z), "b%02d.test.", i);
		assert_int_equal(state_of(p, z, &st, &n), -ENOENT);
	}
	pack_close(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pack_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_damage_in_the_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_not_a_pack_is_set_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_one_process_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_big_zone_has_its_own_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_batch_torn_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_death_before_flush_loses_the_batch_only, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
