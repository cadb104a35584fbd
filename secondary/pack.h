/*
 * The state pack: one append-only file, "zones.pack" in the state directory,
 * holding the persisted versions and refresh times of a secondary's small
 * zones (issue 18.2: 100,000 zones restart from one sequential read, not
 * from 200,000 files).  Zones too big for it keep a file of their own
 * (persist.h); the pack then holds a FILE record naming that.
 *
 * Format (integers big-endian):
 *   file header, 16 bytes: "ANYCSTP\0", u32 format version (1), u32 0
 *   records, each starting at a multiple of 8 (zero padding between):
 *     header, 24 bytes:
 *       "APKR"   magic
 *       u8 kind (PACK_ZONE, PACK_TIMERS, PACK_DROP, PACK_FILE), u8 0, u16 0
 *       u32 body length (at most PACK_BODY_MAX)
 *       u64 FNV-1a 64 of the body
 *       u32 low half of the FNV-1a 64 of the 20 bytes before it
 *     body: the zone's origin (uncompressed wire), then by kind:
 *       ZONE:   u32 serial, u32 record count, u64 saved (wall-clock seconds
 *               of the refresh that brought this version), records as in
 *               persist.h (owner, type, class, ttl, rdlength, rdata)
 *       FILE:   u32 serial, u32 0, u64 saved: the version is in the zone's
 *               own file (persist_load)
 *       TIMERS: u64 last successful refresh, u64 expire-at (wall clock)
 *       DROP:   nothing: the zone left; earlier records of it are dead
 * The latest record of a zone wins.  Appends are buffered and written in
 * batches (one write each, at pack_sync, pack_flush, pack_close, or when the
 * buffer holds 256 KiB) and never touch earlier bytes, so a crash can tear
 * only the tail, and a process that dies loses at most the appends since
 * the last flush (the caller syncs every second); a torn or damaged
 * record fails its checks and is skipped (a damaged header by searching
 * forward for the next good one), and the others still load.  The file is
 * rewritten without dead records (compaction: a new file, fsync, rename,
 * fsync of the directory) once more of it is dead than live.
 */
#ifndef SECONDARY_PACK_H
#define SECONDARY_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secondary/persist.h"

#define PACK_FILE_NAME "zones.pack"
#define PACK_VERSION 1u
#define PACK_HDR_LEN 16
#define PACK_REC_HDR 24
#define PACK_BODY_MAX (16u << 20)
/* Versions bigger than this (serialized) go to a file of their own. */
#define PACK_ZONE_MAX (64u << 10)

enum pack_kind {
	PACK_ZONE = 1,
	PACK_TIMERS = 2,
	PACK_DROP = 3,
	PACK_FILE = 4,
};

/* One good record, as pack_scan hands it out (pointers into the image). */
struct pack_rec {
	enum pack_kind kind;
	uint64_t off;              /* of the record header in the image */
	size_t size;               /* header, body and padding */
	const uint8_t *origin;     /* checked wire name */
	uint32_t serial;           /* ZONE, FILE */
	uint64_t saved;            /* ZONE, FILE */
	uint32_t count;            /* ZONE: records, checked */
	const uint8_t *rrs;        /* ZONE: the records */
	size_t rrs_len;
	uint64_t last_refresh;     /* TIMERS */
	uint64_t expire_at;        /* TIMERS */
};

/* A region skipped: a damaged or torn record. */
struct pack_bad {
	uint64_t off;
	size_t len;
	enum pack_kind kind;       /* 0 when the header itself is bad */
	const uint8_t *origin;     /* the zone it names when that still parses, else NULL */
	char why[160];
};

typedef void (*pack_rec_fn)(void *ctx, const struct pack_rec *r);
typedef void (*pack_bad_fn)(void *ctx, const struct pack_bad *b);

/*
 * Walks the records of a pack image `img` (the whole file, header
 * included): `rec` for every good record in file order, `bad` for every
 * region skipped.  Checks the file header first: returns ERR_FORMERR with a
 * reason in `why` when it is not a pack or has another format version.
 * Else returns 0 and sets *good_end to the end of the last good record (the
 * file may be cut there: nothing good follows).  Pure: no I/O.
 */
int pack_scan(const uint8_t *img, size_t len, pack_rec_fn rec, pack_bad_fn bad, void *ctx,
              uint64_t *good_end, char *why, size_t whycap);

/* ---- building a record body ---- */

struct pack_buf {
	uint8_t *b;
	size_t len, cap;
	size_t max;                /* body limit: -EFBIG beyond */
	size_t fixed_at;           /* where serial, count and saved go */
	uint32_t count;            /* records added */
	uint32_t serial;           /* set before pack_put_zone */
	uint64_t saved;            /* likewise */
};

/* Starts a ZONE body for `origin` (limit `max` bytes).  0 or -ENOMEM. */
int pack_zone_begin(struct pack_buf *pb, const uint8_t *origin, size_t max);
/* Adds one record.  0, -EFBIG (over the limit), -ENOMEM. */
int pack_zone_add(struct pack_buf *pb, const struct dns_rr *rr);
/* Frees the buffer. */
void pack_buf_clear(struct pack_buf *pb);

/* ---- the file ---- */

struct pack;

/* What the pack knew of one zone when it was opened. */
struct pack_zone_state {
	bool have_zone;            /* a version in the pack ... */
	bool in_file;              /* ... or in the zone's own file */
	bool damaged;              /* the latest version's record is damaged */
	char damage[160];          /* why */
	uint32_t serial;
	uint64_t saved;
	bool have_timers;
	uint64_t last_refresh, expire_at;
};

/*
 * Opens (creates) `dir`/zones.pack and reads it once: every zone's latest
 * state is then known to pack_zone / pack_load until pack_opened_done.
 * Damaged records are logged (error, naming the file, offset and zone when
 * known); a torn tail is cut off; a file that is not a pack (or of another
 * format version) is renamed to zones.pack.bad and a new one started.  The
 * file is locked (flock): a second process on the same directory is refused.
 * Returns NULL with a reason in `err`.
 */
struct pack *pack_open(const char *dir, char *err, size_t errcap);

/* Closes (flushing with fdatasync).  NULL is a no-op. */
void pack_close(struct pack *p);

/* The state of `origin` found at open: 0, or -ENOENT (never in the pack, or dropped). */
int pack_zone(struct pack *p, const uint8_t *origin, struct pack_zone_state *st);

/*
 * Calls `cb` for each record of the latest version of `origin` in the pack
 * (checked at open; pointers valid during the call).  0, -ENOENT, or cb's code.
 */
int pack_load(struct pack *p, const uint8_t *origin, persist_rr_fn cb, void *ctx);

/* Forgets what was read at open (the loading is over).  Thread-safe. */
void pack_opened_done(struct pack *p);

/* Appends a ZONE body built with pack_zone_begin/add.  0 or -errno. */
int pack_put_zone(struct pack *p, struct pack_buf *pb);
/* Appends a FILE record (the version is in the zone's own file).  0 or -errno. */
int pack_put_file(struct pack *p, const uint8_t *origin, uint32_t serial, uint64_t saved);
int pack_put_timers(struct pack *p, const uint8_t *origin, uint64_t last_refresh,
                    uint64_t expire_at);
int pack_put_drop(struct pack *p, const uint8_t *origin);

/*
 * Notes that a record of about `body_len` bytes is dead now (an append
 * replaced it): the file is compacted once more of it is dead than live.
 */
void pack_note_dead(struct pack *p, size_t body_len);

/* Writes the buffered appends (no fdatasync).  0 or -errno (the batch is
 * then dropped, and logged). */
int pack_flush(struct pack *p);

/*
 * Writes and flushes the appends (fdatasync) when there are any, then compacts the
 * file when more of it is dead than live (pack_note_dead, and what was dead
 * when it was opened), or held damaged records when it was opened (they
 * are logged once, not at every start).  0 or -errno.
 */
int pack_sync(struct pack *p);

/* Rewrites the file with only the live records now.  0 or -errno. */
int pack_compact(struct pack *p);

/* Bytes in the file (buffered appends included). */
uint64_t pack_size(struct pack *p);

#endif
