/*
 * The state directory (state.h): the pack for small zones, a file of its
 * own for a big one, and the old per-zone files read once and migrated.
 */
#include "secondary/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/name.h"
#include "secondary/pack.h"
#include "util/err.h"
#include "util/log.h"

struct state {
	char dir[4096];
	struct pack *pack;
	atomic_size_t migrated;
	atomic_bool started;     /* state_loaded: no old-layout lookups any more */
	/* Old-layout files moved into the pack, removed after the start (200,000
	 * unlinks before listening took a minute). */
	pthread_mutex_t trash_lock;
	char **trash;
	size_t ntrash, captrash;
	pthread_t cleaner;
	bool cleaning;
};

/* Keeps `path` for removal after the start; removed at once when out of memory. */
static void
trash_later(struct state *s, const char *path)
{
	char *c = strdup(path);
	bool kept = false;
	pthread_mutex_lock(&s->trash_lock);
	if (c != NULL && s->ntrash == s->captrash) {
		size_t nc = s->captrash ? s->captrash * 2 : 256;
		char **nt = realloc(s->trash, nc * sizeof(*nt));
		if (nt != NULL) {
			s->trash = nt;
			s->captrash = nc;
		}
	}
	if (c != NULL && s->ntrash < s->captrash) {
		s->trash[s->ntrash++] = c;
		kept = true;
	}
	pthread_mutex_unlock(&s->trash_lock);
	if (!kept) {
		pack_sync(s->pack);
		unlink(path);
		free(c);
	}
}

static void *
clean_thread(void *arg)
{
	struct state *s = arg;
	/* the pack holds what they held: flushed before they go */
	bool ok = pack_sync(s->pack) == 0;
	for (size_t i = 0; i < s->ntrash; i++) {
		if (ok)
			unlink(s->trash[i]);
		free(s->trash[i]);
	}
	free(s->trash);
	s->trash = NULL;
	s->ntrash = s->captrash = 0;
	return NULL;
}

struct state *
state_open(const char *dir, char *err, size_t errcap)
{
	struct state *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	int w = snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (w < 0 || (size_t)w >= sizeof(s->dir)) {
		snprintf(err, errcap, "--state-dir: path too long");
		free(s);
		return NULL;
	}
	s->pack = pack_open(dir, err, errcap);
	if (s->pack == NULL) {
		free(s);
		return NULL;
	}
	atomic_init(&s->migrated, 0);
	atomic_init(&s->started, false);
	pthread_mutex_init(&s->trash_lock, NULL);
	return s;
}

void
state_close(struct state *s)
{
	if (s == NULL)
		return;
	if (s->cleaning)
		pthread_join(s->cleaner, NULL);
	else if (s->ntrash > 0)
		clean_thread(s);
	pthread_mutex_destroy(&s->trash_lock);
	pack_close(s->pack);
	free(s);
}

const char *
state_dir(const struct state *s)
{
	return s->dir;
}

void
state_loaded(struct state *s)
{
	pack_opened_done(s->pack);
	atomic_store(&s->started, true);
	if (s->ntrash > 0)
		s->cleaning = pthread_create(&s->cleaner, NULL, clean_thread, s) == 0;
	size_t n = atomic_load(&s->migrated);
	if (n > 0)
		log_notice(NULL, "state directory %s: %zu zones moved from their own files into %s",
		           s->dir, n, PACK_FILE_NAME);
}

/* Never "refreshed now", never in the future: `last`, or `fallback` with a reason. */
static void
take_last(struct state_found *f, bool have, uint64_t last, uint64_t fallback, const char *missing,
          const char *future)
{
	uint64_t now = (uint64_t)time(NULL);
	if (have && last > now) {
		have = false;
		missing = future;
	}
	f->last_refresh = have ? last : fallback > now ? now : fallback;
	f->guessed = !have;
	if (!have)
		snprintf(f->guess, sizeof(f->guess), "%s", missing);
}

/* ---- the old layout: <zone>.zone and <zone>.timers ---- */

struct tee {
	persist_rr_fn cb;
	void *ctx;
	struct pack_buf pb;
	int perr;              /* the copy for the pack: -EFBIG (too big), -ENOMEM */
};

static int
tee_cb(void *ctx, const struct dns_rr *rr)
{
	struct tee *t = ctx;
	if (t->perr == 0)
		t->perr = pack_zone_add(&t->pb, rr);
	return t->cb(t->ctx, rr);
}

/* The refresh time of an old-layout zone: its .timers file, else its .zone file's mtime. */
static void
legacy_timers(struct state *s, const uint8_t *origin, struct state_found *f, uint64_t *exp_at)
{
	uint64_t last = 0, mt = 0;
	int tr = persist_load_timers(s->dir, origin, &last, exp_at);
	if (persist_zone_mtime(s->dir, origin, &mt) != 0)
		mt = (uint64_t)time(NULL);
	take_last(f, tr == 0, last, mt, tr == -ENOENT ? "timers file missing"
	          : tr == ERR_FORMERR ? "timers file corrupt" : "timers file unreadable",
	          "timers file in the future");
}

/* Writes an old-layout zone into the pack and removes its files (a big one keeps its .zone). */
static void
migrate(struct state *s, const uint8_t *origin, struct tee *t, struct state_found *f,
        uint64_t exp_at)
{
	int r;
	bool big = t->perr == -EFBIG;
	if (t->perr != 0 && !big)
		return;   /* out of memory: stays in the old layout */
	if (big) {
		r = pack_put_file(s->pack, origin, f->serial, f->last_refresh);
	} else {
		t->pb.serial = f->serial;
		t->pb.saved = f->last_refresh;
		r = pack_put_zone(s->pack, &t->pb);
	}
	if (r == 0 && !f->guessed)
		r = pack_put_timers(s->pack, origin, f->last_refresh, exp_at);
	char path[4200];
	if (r == 0 && persist_path(s->dir, origin, ".timers", path, sizeof(path)) == 0)
		trash_later(s, path);
	if (r == 0 && !big && persist_path(s->dir, origin, ".zone", path, sizeof(path)) == 0)
		trash_later(s, path);
	if (r != 0) {
		char name[DNS_NAME_TEXT_MAX];
		dns_name_to_text(origin, name, sizeof(name));
		log_error(name, "state not moved into %s (%s), its files stay", PACK_FILE_NAME,
		          err_str(r));
		return;
	}
	f->own_file = big;
	f->migrated = true;
	atomic_fetch_add(&s->migrated, 1);
}

static int
load_legacy(struct state *s, const uint8_t *origin, persist_rr_fn cb, void *ctx,
            struct state_found *f, char *why, size_t whycap)
{
	struct tee t = {.cb = cb, .ctx = ctx};
	t.perr = pack_zone_begin(&t.pb, origin, PACK_ZONE_MAX);
	int r = persist_load(s->dir, origin, &f->serial, tee_cb, &t, why, whycap);
	if (r == 0) {
		uint64_t exp_at = 0;
		f->legacy = true;
		legacy_timers(s, origin, f, &exp_at);
		migrate(s, origin, &t, f, exp_at);
	}
	pack_buf_clear(&t.pb);
	return r;
}

int
state_load(struct state *s, const uint8_t *origin, persist_rr_fn cb, void *ctx,
           struct state_found *f, char *why, size_t whycap)
{
	memset(f, 0, sizeof(*f));
	if (whycap > 0)
		why[0] = '\0';
	struct pack_zone_state st;
	if (pack_zone(s->pack, origin, &st) != 0) {
		/* A zone added later (a new catalog member, 100,000 of them for an
		 * empty POP) has no state: not one failed open() each. */
		if (atomic_load(&s->started))
			return -ENOENT;
		return load_legacy(s, origin, cb, ctx, f, why, whycap);
	}
	if (st.damaged) {
		snprintf(why, whycap, "its latest version in %s/%s is damaged (%s)", s->dir,
		         PACK_FILE_NAME, st.damage);
		return ERR_FORMERR;
	}
	int r;
	if (st.in_file) {
		r = persist_load(s->dir, origin, &f->serial, cb, ctx, why, whycap);
		if (r == -ENOENT) {
			snprintf(why, whycap, "its file is missing (%s names it)", PACK_FILE_NAME);
			r = ERR_FORMERR;
		}
		f->own_file = true;
	} else {
		r = pack_load(s->pack, origin, cb, ctx);
		f->serial = st.serial;
	}
	if (r != 0)
		return r;
	take_last(f, st.have_timers && st.last_refresh >= st.saved, st.last_refresh, st.saved,
	          st.have_timers ? "timers record older than the version" : "timers record missing",
	          "timers record in the future");
	return 0;
}

static int
pack_add_cb(void *ctx, const struct dns_rr *rr)
{
	return pack_zone_add(ctx, rr);
}

static int
file_add_cb(void *ctx, const struct dns_rr *rr)
{
	return persist_add(ctx, rr);
}

/* A big version into the zone's own file (fsynced: it replaces the previous one). */
static int
save_file(struct state *s, const uint8_t *origin, uint32_t serial, state_walk_fn walk,
          const void *version)
{
	struct persist_out *o = malloc(sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	int r = persist_begin(o, s->dir, origin, serial);
	if (r == 0) {
		r = walk(version, file_add_cb, o);
		if (r == 0)
			r = persist_commit(o);
		else
			persist_abort(o);
	}
	free(o);
	return r;
}

int
state_save(struct state *s, const uint8_t *origin, uint32_t serial, uint64_t saved,
           state_walk_fn walk, const void *version, bool replaces, bool *own_file)
{
	struct pack_buf pb;
	int r = pack_zone_begin(&pb, origin, PACK_ZONE_MAX);
	if (r == 0)
		r = walk(version, pack_add_cb, &pb);
	if (r == 0) {
		pb.serial = serial;
		pb.saved = saved;
		r = pack_put_zone(s->pack, &pb);
		if (r == 0 && replaces && !*own_file)
			pack_note_dead(s->pack, pb.len);   /* about the size of the one it replaces */
		if (r == 0 && *own_file) {
			/* the pack says "in the pack" before the file goes */
			r = pack_flush(s->pack);
			if (r != 0)
				return r;
			persist_remove(s->dir, origin);
			*own_file = false;
		}
	} else if (r == -EFBIG) {
		r = save_file(s, origin, serial, walk, version);
		if (r == 0)
			r = pack_put_file(s->pack, origin, serial, saved);
		if (r == 0)
			*own_file = true;
	}
	pack_buf_clear(&pb);
	return r;
}

int
state_save_timers(struct state *s, const uint8_t *origin, uint64_t last_refresh,
                  uint64_t expire_at, bool replaces)
{
	int r = pack_put_timers(s->pack, origin, last_refresh, expire_at);
	if (r == 0 && replaces)
		pack_note_dead(s->pack, dns_name_len(origin) + 16);
	return r;
}

int
state_remove(struct state *s, const uint8_t *origin)
{
	int r = pack_put_drop(s->pack, origin);
	if (r == 0)
		r = pack_flush(s->pack);   /* dropped in the pack before its own files go */
	int fr = persist_remove(s->dir, origin);
	return r != 0 ? r : fr;
}

int
state_sync(struct state *s)
{
	return pack_sync(s->pack);
}
