/*
 * Test helper: a store opened on a fresh database (store_db.h: a SQLite
 * file in a temp dir, or the PostgreSQL database of ANYCST_TEST_PG), with
 * the zone name example.com. at hand; freed with its files.  Included after
 * cmocka.h and store_db.h by the store tests that share this fixture.
 */
#ifndef TESTS_STORE_FX_H
#define TESTS_STORE_FX_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dns/name.h"
#include "primary/store.h"

struct store_fx {
	char dir[64];
	char path[192];
	struct store *st;
	uint8_t zone[DNS_NAME_MAX];
};

/* A store opened with `o` (its path set here); `tag` names the temp dir
 * (/tmp/anycst-TAG-XXXXXX). */
static inline struct store_fx *
store_fx_open(const char *tag, struct store_opts *o)
{
	struct store_fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/anycst-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	test_db_fresh(f->path, sizeof(f->path));
	char err[256];
	o->path = f->path;
	assert_int_equal(store_open(o, &f->st, err, sizeof(err)), 0);
	assert_true(dns_name_from_text("example.com.", 12, NULL, f->zone) > 0);
	return f;
}

static inline struct store_fx *
store_fx_new(const char *tag, unsigned journal_keep)
{
	struct store_opts o = {.catalog = "cat.test.", .journal_keep = journal_keep};
	return store_fx_open(tag, &o);
}

static inline void
store_fx_free(struct store_fx *f)
{
	store_close(f->st);
	char p[224];
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
}

#endif
