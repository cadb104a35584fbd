/*
 * A secondary's state directory (--state-dir): what a restarted POP serves
 * before it reaches the primary.  Small zones (the 100,000 of a reseller)
 * live in one append-only pack (pack.h): their versions and refresh times,
 * read back with one sequential pass.  A version too big for the pack has a
 * file of its own (persist.h), which the pack names.
 *
 * Older state directories (one "<zone>.zone" and one "<zone>.timers" per
 * zone) are read as they are: a zone found only there is loaded from its
 * files, written into the pack, and its files removed (migrated), so one
 * start converts the directory.
 *
 * Thread-safe.  Nothing is written or fsynced per zone: the pack's appends
 * are buffered and never touch earlier records, so a crash loses at most
 * what came since the last state_sync (the caller's: every second), and
 * the zone is then transferred again.
 */
#ifndef SECONDARY_STATE_H
#define SECONDARY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secondary/persist.h"

struct state;
struct zone;

/* Opens (creates) `dir` and reads its pack.  NULL with the reason in `err`. */
struct state *state_open(const char *dir, char *err, size_t errcap);

/* Flushes and closes.  NULL is a no-op. */
void state_close(struct state *s);

/* The state directory's path. */
const char *state_dir(const struct state *s);

/* What state_load found beside the records. */
struct state_found {
	uint32_t serial;
	uint64_t last_refresh;    /* wall clock of the last successful refresh */
	/* No refresh time recorded since this version: last_refresh is the
	 * version's own time (never "refreshed now"), and `guess` says why. */
	bool guessed;
	char guess[48];           /* "timers record missing", "timers file corrupt", ... */
	bool legacy;              /* read from the old per-zone files */
	bool own_file;            /* the version is in a file of its own */
	bool migrated;            /* read from the old per-zone files, now in the pack */
};

/*
 * Calls `cb` for each record of the persisted version of zone `origin`.
 * Every check is made before the first callback.  Returns 0, -ENOENT
 * (nothing persisted), ERR_FORMERR with the reason in `why` (a damaged
 * record or file: the zone is to be transferred in full), another -errno,
 * or the callback's code.  Versions are found only until state_loaded (a
 * zone added later has no state).
 */
int state_load(struct state *s, const uint8_t *origin, persist_rr_fn cb, void *ctx,
               struct state_found *f, char *why, size_t whycap);

/* The loading at start is over: what was read of the pack is forgotten. */
void state_loaded(struct state *s);

/* Calls `cb` for every record of a version, as zone_walk does. */
typedef int (*state_walk_fn)(const void *version, persist_rr_fn cb, void *ctx);

/*
 * Persists a version of `origin` at `serial`, walked by `walk`, received
 * at wall-clock `saved`: into the pack, or into the zone's own file when it
 * is too big for it.  `replaces`: an earlier version was persisted (its
 * record is dead now: the pack is compacted when mostly dead).  *own_file
 * says whether the zone had a file of its own before (removed when the
 * version now fits the pack) and is set to whether it has one now.
 * 0 or -errno.
 */
int state_save(struct state *s, const uint8_t *origin, uint32_t serial, uint64_t saved,
               state_walk_fn walk, const void *version, bool replaces, bool *own_file);

/* Records a successful refresh (wall clock, seconds); `replaces`: one was
 * recorded before.  0 or -errno. */
int state_save_timers(struct state *s, const uint8_t *origin, uint64_t last_refresh,
                      uint64_t expire_at, bool replaces);

/* The zone left: its records are dead, its own files removed.  0 or -errno. */
int state_remove(struct state *s, const uint8_t *origin);

/*
 * Flushes what was written since the last call (one fdatasync of the pack,
 * a syncfs when zone files were written without fsync), and compacts the
 * pack when it is mostly dead records.  0 or -errno.
 */
int state_sync(struct state *s);

#endif
