/*
 * The state pack (format in pack.h).  Appends take `lock` and go into a
 * write buffer: a batch of records leaves with one pwrite at the end
 * offset when the buffer is full or at pack_sync/pack_flush/pack_close
 * (100,000 zones took two writes each, a version and a refresh time);
 * nothing earlier in the file is ever written again.  The index of the
 * file as opened (every zone's latest records) lives until
 * pack_opened_done, read concurrently by the loaders
 * under `idx_lock`; later loads find nothing in the pack (a zone added at
 * run time has no state yet).  Compaction scans the file again and writes
 * the latest record of every live zone into a new file.
 */
#include "secondary/pack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/name.h"
#include "dns/wire.h"
#include "secondary/sched.h"
#include "util/arena.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/log.h"

static const char file_magic[8] = "ANYCSTP";
static const uint8_t rec_magic[4] = {'A', 'P', 'K', 'R'};

/* Dead bytes tolerated beside the live ones before a compaction. */
#define PACK_SLACK (8u << 20)
/* Appends buffered before they are written (a bigger record goes alone). */
#define PACK_WBUF_MAX ((size_t)256 << 10)

static void
wr_u64(uint8_t *p, uint64_t v)
{
	wr_u32(p, (uint32_t)(v >> 32));
	wr_u32(p + 4, (uint32_t)v);
}

static uint64_t
rd_u64(const uint8_t *p)
{
	return ((uint64_t)rd_u32(p) << 32) | rd_u32(p + 4);
}

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static uint32_t
hdr_check(const uint8_t *h)
{
	return (uint32_t)hash_fnv1a(h, 20, 0);
}

/* A record header that holds together (magic, check, kind, length). */
static bool
hdr_ok(const uint8_t *h)
{
	if (memcmp(h, rec_magic, 4) != 0 || rd_u32(h + 20) != hdr_check(h))
		return false;
	return h[4] >= PACK_ZONE && h[4] <= PACK_FILE && rd_u32(h + 8) <= PACK_BODY_MAX;
}

static void
fill_hdr(uint8_t *h, enum pack_kind kind, const uint8_t *body, size_t len)
{
	memcpy(h, rec_magic, 4);
	h[4] = (uint8_t)kind;
	h[5] = h[6] = h[7] = 0;
	wr_u32(h + 8, (uint32_t)len);
	wr_u64(h + 12, hash_fnv1a(body, len, 0));
	wr_u32(h + 20, hdr_check(h));
}

#define WHY(...) snprintf(w, wcap, __VA_ARGS__)

/* Parses a body whose checksum held.  0, or -1 with the reason in `w`. */
static int
parse_body(enum pack_kind kind, const uint8_t *body, size_t len, struct pack_rec *r,
           struct pack_bad *b, char *w, size_t wcap)
{
	int nl = dns_name_check(body, len);
	if (nl < 0) {
		WHY("bad zone name (%s)", err_str(nl));
		return -1;
	}
	b->origin = r->origin = body;
	const uint8_t *p = body + nl;
	size_t rest = len - (size_t)nl;
	size_t want = kind == PACK_DROP ? 0 : 16;
	if (rest < want || (kind != PACK_ZONE && rest != want)) {
		WHY("%zu bytes after the name, expected %s%zu", rest, kind == PACK_ZONE ? "at least " : "",
		    want);
		return -1;
	}
	if (kind == PACK_TIMERS) {
		r->last_refresh = rd_u64(p);
		r->expire_at = rd_u64(p + 8);
		return 0;
	}
	if (kind == PACK_DROP)
		return 0;
	r->serial = rd_u32(p);
	r->count = rd_u32(p + 4);
	r->saved = rd_u64(p + 8);
	if (kind == PACK_FILE)
		return 0;
	r->rrs = p + 16;
	r->rrs_len = rest - 16;
	if (persist_records(r->rrs, r->rrs_len, r->count, NULL, NULL, w, wcap) != 0)
		return -1;
	return 0;
}

static const char *
kind_name(enum pack_kind k)
{
	switch (k) {
	case PACK_ZONE: return "zone";
	case PACK_TIMERS: return "timers";
	case PACK_DROP: return "drop";
	case PACK_FILE: return "file";
	}
	return "?";
}

/* The first offset after `pos` (a multiple of 8) holding a good header, or len. */
static size_t
resync(const uint8_t *img, size_t len, size_t pos)
{
	for (pos += 8; pos + PACK_REC_HDR <= len; pos += 8) {
		if (hdr_ok(img + pos))
			return pos;
	}
	return len;
}

int
pack_scan(const uint8_t *img, size_t len, pack_rec_fn rec, pack_bad_fn bad, void *ctx,
          uint64_t *good_end, char *why, size_t whycap)
{
	if (len < PACK_HDR_LEN || memcmp(img, file_magic, 8) != 0) {
		snprintf(why, whycap, "not a state pack (bad magic)");
		return ERR_FORMERR;
	}
	if (rd_u32(img + 8) != PACK_VERSION) {
		snprintf(why, whycap, "format version %u, expected %u", rd_u32(img + 8), PACK_VERSION);
		return ERR_FORMERR;
	}
	size_t pos = PACK_HDR_LEN;
	*good_end = PACK_HDR_LEN;
	while (pos < len) {
		struct pack_bad b = {.off = pos};
		const uint8_t *h = img + pos;
		if (pos + PACK_REC_HDR > len || !hdr_ok(h)) {
			size_t next = resync(img, len, pos);
			b.len = next - pos;
			snprintf(b.why, sizeof(b.why), pos + PACK_REC_HDR > len
			         ? "truncated record header" : "damaged record header");
			if (bad != NULL)
				bad(ctx, &b);
			pos = next;
			continue;
		}
		b.kind = (enum pack_kind)h[4];
		size_t blen = rd_u32(h + 8);
		if (blen > len - pos - PACK_REC_HDR) {
			size_t next = resync(img, len, pos);
			b.len = next - pos;
			snprintf(b.why, sizeof(b.why), "truncated %s record (%zu of %zu bytes)",
			         kind_name(b.kind), len - pos, PACK_REC_HDR + blen);
			if (dns_name_check(h + PACK_REC_HDR, len - pos - PACK_REC_HDR) >= 0)
				b.origin = h + PACK_REC_HDR;
			if (bad != NULL)
				bad(ctx, &b);
			pos = next;
			continue;
		}
		const uint8_t *body = h + PACK_REC_HDR;
		size_t size = align8(PACK_REC_HDR + blen);
		if (size > len - pos)
			size = len - pos;
		struct pack_rec r = {.kind = b.kind, .off = pos, .size = size};
		if (hash_fnv1a(body, blen, 0) != rd_u64(h + 12)) {
			snprintf(b.why, sizeof(b.why), "%s record fails its checksum", kind_name(b.kind));
			if (dns_name_check(body, blen) >= 0)
				b.origin = body;
			b.len = size;
		} else {
			char w[120];
			if (parse_body(b.kind, body, blen, &r, &b, w, sizeof(w)) != 0) {
				b.len = size;
				snprintf(b.why, sizeof(b.why), "malformed %s record: %s", kind_name(b.kind),
				         w);
			}
		}
		if (b.len != 0) {
			if (bad != NULL)
				bad(ctx, &b);
		} else {
			if (rec != NULL)
				rec(ctx, &r);
			*good_end = pos + PACK_REC_HDR + blen;
		}
		pos += size;
	}
	return 0;
}

/* ---- record bodies ---- */

static int
buf_room(struct pack_buf *pb, size_t n)
{
	if (pb->len + n > pb->max)
		return -EFBIG;
	if (pb->len + n <= pb->cap)
		return 0;
	size_t nc = pb->cap ? pb->cap * 2 : 1024;
	while (nc < pb->len + n)
		nc *= 2;
	uint8_t *nb = realloc(pb->b, nc);
	if (nb == NULL)
		return -ENOMEM;
	pb->b = nb;
	pb->cap = nc;
	return 0;
}

static int
buf_put(struct pack_buf *pb, const void *p, size_t n)
{
	int r = buf_room(pb, n);
	if (r == 0 && n > 0) {
		memcpy(pb->b + pb->len, p, n);
		pb->len += n;
	}
	return r;
}

int
pack_zone_begin(struct pack_buf *pb, const uint8_t *origin, size_t max)
{
	memset(pb, 0, sizeof(*pb));
	pb->max = max < PACK_BODY_MAX ? max : PACK_BODY_MAX;
	static const uint8_t fixed[16];   /* serial, count, saved: set by pack_put_zone */
	int r = buf_put(pb, origin, dns_name_len(origin));
	pb->fixed_at = pb->len;
	if (r == 0)
		r = buf_put(pb, fixed, sizeof(fixed));
	return r == -EFBIG ? -ENOMEM : r;
}

int
pack_zone_add(struct pack_buf *pb, const struct dns_rr *rr)
{
	size_t ol = dns_name_len(rr->owner);
	int r = buf_room(pb, ol + 10 + rr->rdlen);
	if (r != 0)
		return r;
	memcpy(pb->b + pb->len, rr->owner, ol);
	uint8_t *f = pb->b + pb->len + ol;
	wr_u16(f, rr->type);
	wr_u16(f + 2, rr->rclass);
	wr_u32(f + 4, rr->ttl);
	wr_u16(f + 8, rr->rdlen);
	if (rr->rdlen > 0)
		memcpy(f + 10, rr->rdata, rr->rdlen);
	pb->len += ol + 10 + rr->rdlen;
	pb->count++;
	return 0;
}

void
pack_buf_clear(struct pack_buf *pb)
{
	free(pb->b);
	memset(pb, 0, sizeof(*pb));
}

/* ---- the index of a scanned file ---- */

enum {
	PE_ZONE = 1,       /* the latest version is in the pack (zoff) */
	PE_FILE = 2,       /* ... or in the zone's own file (zoff: the FILE record) */
	PE_DAMAGED = 4,    /* the latest version's record is damaged */
	PE_TIMERS = 8,
};

struct pent {
	uint64_t zoff, toff;
	uint32_t zsize, tsize;
	uint32_t serial;
	uint8_t flags;
	uint64_t saved, last, expire;
	const char *damage;          /* in the index arena */
	uint8_t name[];              /* wire, as long as it is */
};

struct pindex {
	struct nameset set;
	struct arena ar;
	uint64_t live;               /* bytes of the records that count */
	size_t nbad;                 /* regions skipped */
	const char *path;            /* for log lines; NULL: quiet */
};

static const uint8_t *
pent_key(const void *v)
{
	return ((const struct pent *)v)->name;
}

static struct pent *
pent_get(struct pindex *ix, const uint8_t *name)
{
	struct pent *e = nameset_get(&ix->set, name);
	if (e != NULL)
		return e;
	size_t nl = dns_name_len(name);
	e = arena_alloc(&ix->ar, sizeof(*e) + nl);
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, nl);
	if (nameset_put(&ix->set, e) != 0)
		return NULL;
	return e;
}

static void
index_rec(void *ctx, const struct pack_rec *r)
{
	struct pindex *ix = ctx;
	struct pent *e = pent_get(ix, r->origin);
	if (e == NULL)
		return;   /* out of memory: the zone is transferred again */
	switch (r->kind) {
	case PACK_ZONE:
	case PACK_FILE:
		e->flags = (uint8_t)((e->flags & PE_TIMERS) | (r->kind == PACK_ZONE ? PE_ZONE : PE_FILE));
		e->zoff = r->off;
		e->zsize = (uint32_t)r->size;
		e->serial = r->serial;
		e->saved = r->saved;
		break;
	case PACK_TIMERS:
		e->flags |= PE_TIMERS;
		e->toff = r->off;
		e->tsize = (uint32_t)r->size;
		e->last = r->last_refresh;
		e->expire = r->expire_at;
		break;
	case PACK_DROP:
		e->flags = 0;
		break;
	}
}

static void
index_bad(void *ctx, const struct pack_bad *b)
{
	struct pindex *ix = ctx;
	ix->nbad++;
	char name[DNS_NAME_TEXT_MAX] = "";
	if (b->origin != NULL)
		dns_name_to_text(b->origin, name, sizeof(name));
	if (ix->path != NULL)
		log_error(b->origin != NULL ? name : NULL, "state pack %s: %s at offset %llu (%zu bytes "
		          "skipped)%s", ix->path, b->why, (unsigned long long)b->off, b->len,
		          b->kind == PACK_ZONE || b->kind == PACK_FILE
		          ? ", the zone will be transferred in full" : "");
	if (b->origin == NULL || (b->kind != PACK_ZONE && b->kind != PACK_FILE))
		return;
	struct pent *e = pent_get(ix, b->origin);
	if (e == NULL)
		return;
	e->flags = (uint8_t)((e->flags & PE_TIMERS) | PE_DAMAGED);
	char why[sizeof(b->why) + 40];
	snprintf(why, sizeof(why), "%s at offset %llu", b->why, (unsigned long long)b->off);
	e->damage = arena_strdup(&ix->ar, why);
}

static int
sum_live(void *ctx, void *v)
{
	struct pindex *ix = ctx;
	struct pent *e = v;
	if (e->flags & (PE_ZONE | PE_FILE))
		ix->live += e->zsize + ((e->flags & PE_TIMERS) ? e->tsize : 0);
	return 0;
}

static void
index_free(struct pindex *ix)
{
	if (ix == NULL)
		return;
	nameset_free(&ix->set);
	arena_clear(&ix->ar);
	free(ix);
}

static struct pindex *
index_build(const uint8_t *img, size_t len, const char *path, uint64_t *good_end, char *why,
            size_t whycap, int *ret)
{
	struct pindex *ix = calloc(1, sizeof(*ix));
	if (ix == NULL) {
		*ret = -ENOMEM;
		return NULL;
	}
	nameset_init(&ix->set, pent_key);
	arena_init(&ix->ar, 1 << 20);
	ix->path = path;
	*ret = pack_scan(img, len, index_rec, index_bad, ix, good_end, why, whycap);
	if (*ret != 0) {
		index_free(ix);
		return NULL;
	}
	ix->live = PACK_HDR_LEN;
	for (size_t i = 0; i < ix->set.cap; i++)
		if (ix->set.slot[i] != NULL)
			sum_live(ix, ix->set.slot[i]);
	return ix;
}

/* ---- the file ---- */

struct pack {
	int fd;
	char dir[4096];
	char path[4200];
	pthread_mutex_t lock;        /* appends, flushes, compaction */
	uint64_t end;                /* where the next record goes (buffered ones included) */
	uint8_t *wbuf;               /* whole records appended, not written yet: they */
	size_t wlen, wcap;           /* belong at end - wlen */
	size_t wrecs;
	uint64_t dead;               /* bytes of records superseded since (estimated) */
	bool dirty;                  /* appended since the last fdatasync */
	bool loading;                /* the index as opened is kept */
	bool damaged;                /* damaged records found: compact once loaded */
	pthread_rwlock_t idx_lock;   /* ix and map: read by the loaders */
	struct pindex *ix;
	uint8_t *map;
	size_t maplen;
};

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = fsync(dfd) != 0 ? -errno : 0;
	close(dfd);
	return r;
}

static int
write_file_hdr(int fd)
{
	uint8_t h[PACK_HDR_LEN] = {0};
	memcpy(h, file_magic, 8);
	wr_u32(h + 8, PACK_VERSION);
	return write_all(fd, h, sizeof(h));
}

/* Opens and locks p->path (creating it).  0 or -errno with `err`. */
static int
open_locked(struct pack *p, char *err, size_t errcap)
{
	p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (p->fd < 0) {
		int r = -errno;
		snprintf(err, errcap, "state pack %s: %s", p->path, err_str(r));
		return r;
	}
	if (flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
		int r = -errno;
		snprintf(err, errcap, "state directory %s is in use by another process (%s is locked: "
		         "%s)", p->dir, p->path, err_str(r));
		close(p->fd);
		p->fd = -1;
		return r;
	}
	return 0;
}

/* A file that is no pack at all: kept aside as zones.pack.bad, a new one started. */
static int
set_aside(struct pack *p, const char *why, char *err, size_t errcap)
{
	char bad[4300];
	snprintf(bad, sizeof(bad), "%s.bad", p->path);
	log_error(NULL, "state pack %s: %s; moved to %s, its zones will be transferred in full",
	          p->path, why, bad);
	if (rename(p->path, bad) != 0) {
		int r = -errno;
		snprintf(err, errcap, "state pack %s: %s, and it cannot be moved aside (%s)", p->path,
		         why, err_str(r));
		return r;
	}
	close(p->fd);
	return open_locked(p, err, errcap);
}

/* Maps and indexes the file as found; cuts a torn tail.  0 or -errno with `err`. */
static int
open_scan(struct pack *p, char *err, size_t errcap)
{
	struct stat st;
	if (fstat(p->fd, &st) != 0)
		return -errno;
	if (st.st_size == 0)
		return 0;
	p->maplen = (size_t)st.st_size;
	p->map = mmap(NULL, p->maplen, PROT_READ, MAP_PRIVATE, p->fd, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		int r = -errno;
		snprintf(err, errcap, "state pack %s: not mapped (%s)", p->path, err_str(r));
		return r;
	}
	madvise(p->map, p->maplen, MADV_SEQUENTIAL);
	madvise(p->map, p->maplen, MADV_WILLNEED);
	char why[200];
	uint64_t good = 0;
	int r = 0;
	p->ix = index_build(p->map, p->maplen, p->path, &good, why, sizeof(why), &r);
	if (r == ERR_FORMERR) {
		munmap(p->map, p->maplen);
		p->map = NULL;
		return set_aside(p, why, err, errcap);
	}
	if (r != 0) {
		snprintf(err, errcap, "state pack %s: %s", p->path, err_str(r));
		return r;
	}
	p->dead = p->maplen > p->ix->live ? p->maplen - p->ix->live : 0;
	p->damaged = p->ix->nbad > 0;
	p->end = align8(good);
	if (p->end != p->maplen) {
		/* a torn tail goes; a last record without its padding gets it */
		if (p->end < p->maplen)
			log_error(NULL, "state pack %s: cut at offset %llu after its last good record "
			          "(%zu bytes were there)", p->path, (unsigned long long)p->end,
			          p->maplen);
		if (ftruncate(p->fd, (off_t)p->end) != 0) {
			r = -errno;
			snprintf(err, errcap, "state pack %s: not cut (%s)", p->path, err_str(r));
			return r;
		}
	}
	return 0;
}

struct pack *
pack_open(const char *dir, char *err, size_t errcap)
{
	struct pack *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	p->fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_rwlock_init(&p->idx_lock, NULL);
	int r = snprintf(p->dir, sizeof(p->dir), "%s", dir);
	if (r < 0 || (size_t)r >= sizeof(p->dir)) {
		snprintf(err, errcap, "--state-dir: path too long");
		goto fail;
	}
	snprintf(p->path, sizeof(p->path), "%s/%s", dir, PACK_FILE_NAME);
	r = persist_mkdirs(dir);
	if (r != 0) {
		snprintf(err, errcap, "state directory %s not created (%s)", dir, err_str(r));
		goto fail;
	}
	if (open_locked(p, err, errcap) != 0 || open_scan(p, err, errcap) != 0)
		goto fail;
	p->loading = true;
	if (p->end == 0) {
		r = write_file_hdr(p->fd);
		if (r != 0) {
			snprintf(err, errcap, "state pack %s: not written (%s)", p->path, err_str(r));
			goto fail;
		}
		p->end = PACK_HDR_LEN;
	}
	return p;
fail:
	pack_close(p);
	return NULL;
}

static int flush_locked(struct pack *p);

static void
drop_index(struct pack *p)
{
	index_free(p->ix);
	p->ix = NULL;
	if (p->map != NULL)
		munmap(p->map, p->maplen);
	p->map = NULL;
}

void
pack_close(struct pack *p)
{
	if (p == NULL)
		return;
	if (p->fd >= 0) {
		flush_locked(p);
		if (p->dirty)
			fdatasync(p->fd);
		close(p->fd);
	}
	free(p->wbuf);
	drop_index(p);
	pthread_rwlock_destroy(&p->idx_lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void
pack_opened_done(struct pack *p)
{
	pthread_rwlock_wrlock(&p->idx_lock);
	drop_index(p);
	pthread_rwlock_unlock(&p->idx_lock);
	pthread_mutex_lock(&p->lock);
	p->loading = false;
	pthread_mutex_unlock(&p->lock);
}

int
pack_zone(struct pack *p, const uint8_t *origin, struct pack_zone_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&p->idx_lock);
	const struct pent *e = p->ix != NULL ? nameset_get(&p->ix->set, origin) : NULL;
	int r = -ENOENT;
	if (e != NULL && e->flags != 0) {
		st->have_zone = (e->flags & PE_ZONE) != 0;
		st->in_file = (e->flags & PE_FILE) != 0;
		st->damaged = (e->flags & PE_DAMAGED) != 0;
		if (e->damage != NULL)
			snprintf(st->damage, sizeof(st->damage), "%s", e->damage);
		st->serial = e->serial;
		st->saved = e->saved;
		st->have_timers = (e->flags & PE_TIMERS) != 0;
		st->last_refresh = e->last;
		st->expire_at = e->expire;
		r = 0;
	}
	pthread_rwlock_unlock(&p->idx_lock);
	return r;
}

int
pack_load(struct pack *p, const uint8_t *origin, persist_rr_fn cb, void *ctx)
{
	pthread_rwlock_rdlock(&p->idx_lock);
	const struct pent *e = p->ix != NULL ? nameset_get(&p->ix->set, origin) : NULL;
	int r = -ENOENT;
	if (e != NULL && (e->flags & PE_ZONE)) {
		const uint8_t *h = p->map + e->zoff;
		const uint8_t *body = h + PACK_REC_HDR;
		size_t blen = rd_u32(h + 8);
		size_t nl = dns_name_len(body);
		r = persist_records(body + nl + 16, blen - nl - 16, rd_u32(body + nl + 4), cb, ctx,
		                    NULL, 0);
	}
	pthread_rwlock_unlock(&p->idx_lock);
	return r;
}

static int
pwrite_all(int fd, const uint8_t *b, size_t n, uint64_t at)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, (off_t)at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -ENOSPC;
		b += w;
		n -= (size_t)w;
		at += (uint64_t)w;
	}
	return 0;
}

/*
 * Writes the buffered records with one pwrite.  On a failure nothing of the
 * batch stays in the file (it is cut back), the batch is dropped and said
 * so: those zones start from older state, or a transfer, next time.  A
 * crash during the write tears at most the batch's tail, which the next
 * open cuts off as it would a torn single record.  Lock held.
 */
static int
flush_locked(struct pack *p)
{
	if (p->wlen == 0)
		return 0;
	uint64_t at = p->end - p->wlen;
	int r = pwrite_all(p->fd, p->wbuf, p->wlen, at);
	if (r != 0) {
		log_error(NULL, "state pack %s: %zu records not written (%s), their zones start from "
		          "older state or a transfer at the next start", p->path, p->wrecs, err_str(r));
		if (ftruncate(p->fd, (off_t)at) != 0)
			r = -errno;
		p->end = at;
	} else {
		p->dirty = true;
	}
	p->wlen = 0;
	p->wrecs = 0;
	if (p->wcap > PACK_WBUF_MAX) {   /* one big record went through it: give that back */
		free(p->wbuf);
		p->wbuf = NULL;
		p->wcap = 0;
	}
	return r;
}

/* Room for `n` more bytes in the write buffer.  0 or -ENOMEM. */
static int
wbuf_room(struct pack *p, size_t n)
{
	if (p->wlen + n <= p->wcap)
		return 0;
	size_t nc = p->wcap ? p->wcap : 64 << 10;
	while (nc < p->wlen + n)
		nc *= 2;
	uint8_t *nb = realloc(p->wbuf, nc);
	if (nb == NULL)
		return -ENOMEM;
	p->wbuf = nb;
	p->wcap = nc;
	return 0;
}

static int
append(struct pack *p, enum pack_kind kind, const uint8_t *body, size_t len)
{
	if (len > PACK_BODY_MAX)
		return -EFBIG;
	uint8_t h[PACK_REC_HDR];
	fill_hdr(h, kind, body, len);
	size_t total = align8(PACK_REC_HDR + len);
	int r = 0;
	pthread_mutex_lock(&p->lock);
	if (p->wlen > 0 && p->wlen + total > PACK_WBUF_MAX)
		r = flush_locked(p);
	if (r == 0)
		r = wbuf_room(p, total);
	if (r == 0) {
		uint8_t *at = p->wbuf + p->wlen;
		memcpy(at, h, sizeof(h));
		memcpy(at + sizeof(h), body, len);
		memset(at + sizeof(h) + len, 0, total - sizeof(h) - len);
		p->wlen += total;
		p->wrecs++;
		p->end += total;
		if (p->wlen >= PACK_WBUF_MAX)
			r = flush_locked(p);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

int
pack_flush(struct pack *p)
{
	pthread_mutex_lock(&p->lock);
	int r = flush_locked(p);
	pthread_mutex_unlock(&p->lock);
	return r;
}

int
pack_put_zone(struct pack *p, struct pack_buf *pb)
{
	if (pb->b == NULL || pb->len < pb->fixed_at + 16)
		return -EINVAL;
	wr_u32(pb->b + pb->fixed_at, pb->serial);
	wr_u32(pb->b + pb->fixed_at + 4, pb->count);
	wr_u64(pb->b + pb->fixed_at + 8, pb->saved);
	return append(p, PACK_ZONE, pb->b, pb->len);
}

/* origin followed by `n` fixed bytes. */
static int
put_small(struct pack *p, enum pack_kind kind, const uint8_t *origin, const uint8_t *fixed,
          size_t n)
{
	uint8_t body[DNS_NAME_MAX + 16];
	size_t nl = dns_name_len(origin);
	memcpy(body, origin, nl);
	if (n > 0)
		memcpy(body + nl, fixed, n);
	return append(p, kind, body, nl + n);
}

int
pack_put_file(struct pack *p, const uint8_t *origin, uint32_t serial, uint64_t saved)
{
	uint8_t f[16];
	wr_u32(f, serial);
	wr_u32(f + 4, 0);
	wr_u64(f + 8, saved);
	return put_small(p, PACK_FILE, origin, f, sizeof(f));
}

int
pack_put_timers(struct pack *p, const uint8_t *origin, uint64_t last_refresh,
                uint64_t expire_at)
{
	uint8_t f[16];
	wr_u64(f, last_refresh);
	wr_u64(f + 8, expire_at);
	return put_small(p, PACK_TIMERS, origin, f, sizeof(f));
}

int
pack_put_drop(struct pack *p, const uint8_t *origin)
{
	return put_small(p, PACK_DROP, origin, NULL, 0);
}

void
pack_note_dead(struct pack *p, size_t body_len)
{
	pthread_mutex_lock(&p->lock);
	p->dead += align8(PACK_REC_HDR + body_len);
	pthread_mutex_unlock(&p->lock);
}

uint64_t
pack_size(struct pack *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t n = p->end;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* A buffered writer for compaction. */
struct cw {
	int fd;
	uint8_t buf[1 << 16];
	size_t n;
	uint64_t total;
	int err;
};

static void
cw_put(struct cw *w, const uint8_t *p, size_t n)
{
	while (n > 0 && w->err == 0) {
		size_t c = sizeof(w->buf) - w->n;
		if (c > n)
			c = n;
		memcpy(w->buf + w->n, p, c);
		w->n += c;
		w->total += c;
		p += c;
		n -= c;
		if (w->n == sizeof(w->buf)) {
			w->err = write_all(w->fd, w->buf, w->n);
			w->n = 0;
		}
	}
}

/* A record copied as it is, padded to 8. */
static void
cw_record(struct cw *w, const uint8_t *img, uint64_t off, size_t size)
{
	static const uint8_t zero[8];
	cw_put(w, img + off, size);
	cw_put(w, zero, align8(size) - size);
}

static void
cw_entries(struct cw *w, const struct pindex *ix, const uint8_t *img, size_t *zones)
{
	for (size_t i = 0; i < ix->set.cap; i++) {
		const struct pent *e = ix->set.slot[i];
		if (e == NULL || !(e->flags & (PE_ZONE | PE_FILE)))
			continue;
		cw_record(w, img, e->zoff, e->zsize);
		if (e->flags & PE_TIMERS)
			cw_record(w, img, e->toff, e->tsize);
		(*zones)++;
	}
}

/* Writes the live records of the mapped file into `tmp`; 0 or -errno.  Lock held. */
static int
compact_into(const uint8_t *img, size_t len, const char *tmp, size_t *zones, uint64_t *size)
{
	char why[200];
	uint64_t good = 0;
	int r = 0;
	struct pindex *ix = index_build(img, len, NULL, &good, why, sizeof(why), &r);
	if (ix == NULL)
		return r;
	struct cw *w = malloc(sizeof(*w));
	if (w == NULL) {
		index_free(ix);
		return -ENOMEM;
	}
	w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	w->n = 0;
	w->total = 0;
	w->err = w->fd < 0 ? -errno : write_file_hdr(w->fd);
	w->total = PACK_HDR_LEN;
	cw_entries(w, ix, img, zones);
	if (w->err == 0 && w->n > 0)
		w->err = write_all(w->fd, w->buf, w->n);
	if (w->err == 0 && fsync(w->fd) != 0)
		w->err = -errno;
	if (w->fd >= 0 && close(w->fd) != 0 && w->err == 0)
		w->err = -errno;
	r = w->err;
	*size = w->total;
	free(w);
	index_free(ix);
	return r;
}

static int
compact_locked(struct pack *p)
{
	if (p->end <= PACK_HDR_LEN)
		return 0;
	int fr = flush_locked(p);
	if (fr != 0)
		return fr;
	uint8_t *img = mmap(NULL, p->end, PROT_READ, MAP_PRIVATE, p->fd, 0);
	if (img == MAP_FAILED)
		return -errno;
	madvise(img, p->end, MADV_SEQUENTIAL);
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.new", p->path);
	size_t zones = 0;
	uint64_t size = 0, before = p->end;
	int r = compact_into(img, p->end, tmp, &zones, &size);
	munmap(img, before);
	if (r == 0 && rename(tmp, p->path) != 0)
		r = -errno;
	if (r != 0) {
		unlink(tmp);
		p->dead = 0;   /* not again before as much is dead again */
		log_error(NULL, "state pack %s not compacted (%s)", p->path, err_str(r));
		return r;
	}
	r = fsync_dir(p->dir);
	int old = p->fd;
	char err[300];
	if (open_locked(p, err, sizeof(err)) != 0) {
		/* keep appending to the old inode: the next start reads the new file */
		log_error(NULL, "%s", err);
		p->fd = old;
		return -EIO;
	}
	close(old);
	p->end = size;
	p->dead = 0;
	p->dirty = false;
	log_info(NULL, "state pack %s compacted, %llu -> %llu bytes, %zu zones", p->path,
	         (unsigned long long)before, (unsigned long long)size, zones);
	return r;
}

int
pack_compact(struct pack *p)
{
	pthread_mutex_lock(&p->lock);
	int r = p->loading ? -EBUSY : compact_locked(p);
	pthread_mutex_unlock(&p->lock);
	return r;
}

int
pack_sync(struct pack *p)
{
	pthread_mutex_lock(&p->lock);
	int r = flush_locked(p);
	if (r == 0 && p->dirty) {
		r = fdatasync(p->fd) != 0 ? -errno : 0;
		if (r == 0)
			p->dirty = false;
	}
	if (r == 0 && !p->loading &&
	    (p->damaged || (p->dead > PACK_SLACK && p->dead * 2 > p->end))) {
		p->damaged = false;   /* once: a failure waits for the file to double */
		r = compact_locked(p);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}
