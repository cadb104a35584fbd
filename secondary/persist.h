/*
 * A zone version in a file of its own, so that a restarted secondary answers
 * at once, before it reaches the primary: the zones too big for the state
 * pack (pack.h, state.h), and every zone in the layout before the pack.  The
 * file is named after the zone ("example.com.zone", "%root.zone" for the
 * root), written atomically: temporary file, fsync, rename, fsync of the
 * directory.  A crash leaves either the old file or the new one, never a mix.
 *
 * Format (all integers big-endian), built to load with one read and no
 * parsing beyond length checks:
 *   header, 40 bytes:
 *     "ANYCSTZ\0"  magic
 *     u32 format version (1)
 *     u32 SOA serial
 *     u32 record count
 *     u32 reserved (0)
 *     u64 body length
 *     u64 FNV-1a 64 checksum of the body
 *   body:
 *     origin name (uncompressed wire form)
 *     records: owner (uncompressed wire), u16 type, u16 class, u32 ttl,
 *              u16 rdlength, rdata (uncompressed wire)
 *
 * In the layout before the pack (read, then moved into the pack by
 * state.c), "<zone>.timers" beside it kept the wall-clock time of the last
 * successful refresh (40 bytes: magic "ANYCSTT\0", u32 version, u32 0,
 * u64 last refresh, u64 expire-at, u64 FNV-1a of the previous 32 bytes),
 * so that the SOA expire timer keeps running across restarts.  Saving it
 * also sets the zone file's mtime to the last refresh: a lost or corrupt
 * timers file falls back to that time, never to "refreshed now".
 */
#ifndef SECONDARY_PERSIST_H
#define SECONDARY_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dns/rr.h"

#define PERSIST_VERSION 1u

struct persist_out {
	int fd;
	char tmp_path[4096];
	char path[4096];
	char dir[4096];
	uint8_t buf[65536];
	size_t buffered;
	uint64_t body_len;
	uint64_t sum;
	uint32_t count;
	uint32_t serial;
	bool nosync;       /* set after persist_begin: no fsync at commit (persist_sync) */
};

/*
 * Starts writing zone `origin` (wire) at `serial` into `dir` (created if
 * missing).  Returns 0 or -errno; on error nothing is left behind.
 */
int persist_begin(struct persist_out *o, const char *dir, const uint8_t *origin,
                  uint32_t serial);

/* Appends one record (uncompressed owner and rdata).  0 or -errno. */
int persist_add(struct persist_out *o, const struct dns_rr *rr);

/*
 * Finishes the file and replaces the zone's previous one atomically.
 * Returns 0 or -errno; the temporary file is removed either way.
 */
int persist_commit(struct persist_out *o);

/* Drops a write in progress. */
void persist_abort(struct persist_out *o);

/* Called for each stored record; a non-zero return stops the load with it. */
typedef int (*persist_rr_fn)(void *ctx, const struct dns_rr *rr);

/*
 * Loads zone `origin` from `dir`: checks magic, version, lengths, checksum
 * and every name before the first callback, then calls `cb` for each
 * record (pointers valid during the call only) and sets *serial.
 * Returns 0, -ENOENT (no file), ERR_FORMERR with a reason in `why` (corrupt
 * or truncated file, wrong zone), another -errno, or the callback's code.
 */
int persist_load(const char *dir, const uint8_t *origin, uint32_t *serial, persist_rr_fn cb,
                 void *ctx, char *why, size_t whycap);

/*
 * Walks `count` records (the body's encoding above) filling exactly
 * p[0..len): `cb` for each, or with `cb` NULL only checks them.  0,
 * ERR_FORMERR with a reason in `why`, or the callback's code.
 */
int persist_records(const uint8_t *p, size_t len, uint32_t count, persist_rr_fn cb, void *ctx,
                    char *why, size_t whycap);

/* mkdir -p: creates `dir` and its missing parents (mode 0750).  0 or -errno. */
int persist_mkdirs(const char *dir);

/* Removes the zone's files (a zone left the catalog).  0 or -errno. */
int persist_remove(const char *dir, const uint8_t *origin);

/* Records refresh times (wall clock, seconds); with `sync` fsyncs the file
 * and the directory, else leaves that to persist_sync.  0 or -errno. */
int persist_save_timers(const char *dir, const uint8_t *origin, uint64_t last_refresh,
                        uint64_t expire_at, bool sync);

/*
 * Flushes every file written to the file system of `dir` (syncfs): one
 * flush for the many files written without fsync (the first versions of a
 * catalog's 100,000 members).  Until then a crash may leave such a file
 * empty or torn; its length and checksum reject it at load (the zone is
 * then transferred in full), never serve it.  0 or -errno.
 */
int persist_sync(const char *dir);

/* Reads them back.  0, -ENOENT, ERR_FORMERR (corrupt) or -errno. */
int persist_load_timers(const char *dir, const uint8_t *origin, uint64_t *last_refresh,
                        uint64_t *expire_at);

/*
 * The zone file's modification time (wall clock, seconds).  Saving the
 * timers sets it to the last refresh, so it is the fallback when the timers
 * file is lost or corrupt.  0, -ENOENT or -errno.
 */
int persist_zone_mtime(const char *dir, const uint8_t *origin, uint64_t *mtime);

/*
 * File name of the zone in `dir` with `suffix` (".zone", ".timers") into
 * `buf`.  Names are lowercased; bytes other than [a-z0-9-_.] become %XX.
 * Returns 0 or -ENAMETOOLONG.
 */
int persist_path(const char *dir, const uint8_t *origin, const char *suffix, char *buf,
                 size_t cap);

#endif
