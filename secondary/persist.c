/*
 * Persistence of zone versions (format in persist.h).  Writes go through a
 * 64 KiB buffer into a temporary file in the same directory; the header with
 * the count and checksum is written last at offset 0, then fsync, rename
 * over the old file, fsync the directory.  Loads read the whole file, verify
 * everything, and only then hand records out, so a corrupt file never
 * yields a partial zone.
 */
#include "secondary/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/name.h"
#include "dns/wire.h"
#include "util/err.h"
#include "util/hash.h"

#define HDR_LEN 40
#define TIMERS_LEN 40
static const char zone_magic[8] = "ANYCSTZ";
static const char timers_magic[8] = "ANYCSTT";

/* FNV-1a 64 continued from `h` (FNV_INIT to start). */
static uint64_t
fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	return hash_fnv1a(p, n, h ^ HASH_FNV_OFFSET);
}

#define FNV_INIT HASH_FNV_OFFSET

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

int
persist_path(const char *dir, const uint8_t *origin, const char *suffix, char *buf, size_t cap)
{
	char name[DNS_NAME_MAX * 3 + 8];
	size_t n = 0;
	const uint8_t *p = origin;
	if (*p == 0) {
		memcpy(name, "%root", 5);
		n = 5;
	}
	while (*p != 0) {
		uint8_t ll = *p++;
		if (n > 0)
			name[n++] = '.';
		for (uint8_t i = 0; i < ll; i++) {
			uint8_t c = p[i];
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
				name[n++] = (char)c;
			} else {
				static const char hex[] = "0123456789ABCDEF";
				name[n++] = '%';
				name[n++] = hex[c >> 4];
				name[n++] = hex[c & 15];
			}
		}
		p += ll;
	}
	name[n] = '\0';
	int w = snprintf(buf, cap, "%s/%s%s", dir, name, suffix);
	if (w < 0 || (size_t)w >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
flush_buf(struct persist_out *o)
{
	int r = write_all(o->fd, o->buf, o->buffered);
	o->buffered = 0;
	return r;
}

static int
put_bytes(struct persist_out *o, const uint8_t *p, size_t n)
{
	o->sum = fnv1a(o->sum, p, n);
	o->body_len += n;
	while (n > 0) {
		size_t room = sizeof(o->buf) - o->buffered;
		size_t c = n < room ? n : room;
		memcpy(o->buf + o->buffered, p, c);
		o->buffered += c;
		p += c;
		n -= c;
		if (o->buffered == sizeof(o->buf)) {
			int r = flush_buf(o);
			if (r != 0)
				return r;
		}
	}
	return 0;
}

int
persist_mkdirs(const char *dir)
{
	char buf[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	return 0;
}

int
persist_begin(struct persist_out *o, const char *dir, const uint8_t *origin, uint32_t serial)
{
	o->fd = -1;
	int mr = persist_mkdirs(dir);
	if (mr != 0)
		return mr;
	int r = persist_path(dir, origin, ".zone", o->path, sizeof(o->path));
	if (r != 0)
		return r;
	if (strlen(dir) >= sizeof(o->dir))
		return -ENAMETOOLONG;
	memcpy(o->dir, dir, strlen(dir) + 1);
	int w = snprintf(o->tmp_path, sizeof(o->tmp_path), "%s.tmp.%ld", o->path, (long)getpid());
	if (w < 0 || (size_t)w >= sizeof(o->tmp_path))
		return -ENAMETOOLONG;
	o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (o->fd < 0)
		return -errno;
	o->buffered = 0;
	o->body_len = 0;
	o->sum = FNV_INIT;
	o->count = 0;
	o->serial = serial;
	/* room for the header, written last */
	memset(o->buf, 0, HDR_LEN);
	r = write_all(o->fd, o->buf, HDR_LEN);
	if (r == 0)
		r = put_bytes(o, origin, dns_name_len(origin));
	if (r != 0)
		persist_abort(o);
	return r;
}

int
persist_add(struct persist_out *o, const struct dns_rr *rr)
{
	uint8_t fixed[10];
	wr_u16(fixed, rr->type);
	wr_u16(fixed + 2, rr->rclass);
	wr_u32(fixed + 4, rr->ttl);
	wr_u16(fixed + 8, rr->rdlen);
	int r = put_bytes(o, rr->owner, dns_name_len(rr->owner));
	if (r == 0)
		r = put_bytes(o, fixed, sizeof(fixed));
	if (r == 0)
		r = put_bytes(o, rr->rdata, rr->rdlen);
	if (r == 0)
		o->count++;
	return r;
}

void
persist_abort(struct persist_out *o)
{
	if (o->fd >= 0) {
		close(o->fd);
		unlink(o->tmp_path);
		o->fd = -1;
	}
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

int
persist_commit(struct persist_out *o)
{
	uint8_t hdr[HDR_LEN];
	memcpy(hdr, zone_magic, 8);
	wr_u32(hdr + 8, PERSIST_VERSION);
	wr_u32(hdr + 12, o->serial);
	wr_u32(hdr + 16, o->count);
	wr_u32(hdr + 20, 0);
	wr_u64(hdr + 24, o->body_len);
	wr_u64(hdr + 32, o->sum);
	int r = flush_buf(o);
	if (r == 0 && pwrite(o->fd, hdr, HDR_LEN, 0) != HDR_LEN)
		r = errno != 0 ? -errno : -EIO;
	if (r == 0 && !o->nosync && fsync(o->fd) != 0)
		r = -errno;
	if (r == 0 && close(o->fd) != 0)
		r = -errno;
	else if (r != 0)
		close(o->fd);
	o->fd = -1;
	if (r == 0 && rename(o->tmp_path, o->path) != 0)
		r = -errno;
	if (r != 0) {
		unlink(o->tmp_path);
		return r;
	}
	return o->nosync ? 0 : fsync_dir(o->dir);
}

int
persist_sync(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = syncfs(dfd) != 0 ? -errno : 0;
	close(dfd);
	return r;
}

/* Reads a whole regular file into a malloc'd buffer. */
static int
read_file(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = 0;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > ((uint64_t)1 << 34)) {
		r = -EFBIG;
		goto out;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

#define WHY(...) (snprintf(why, whycap, __VA_ARGS__), ERR_FORMERR)

/* Walks the records of a body; with cb NULL it only validates. */
static int
walk(const uint8_t *body, size_t len, size_t start, uint32_t count, persist_rr_fn cb, void *ctx,
     char *why, size_t whycap)
{
	if (why != NULL && whycap > 0)
		why[0] = '\0';
	size_t pos = start;
	for (uint32_t i = 0; i < count; i++) {
		int nl = dns_name_check(body + pos, len - pos);
		if (nl < 0)
			return WHY("record %u: bad owner name (%s)", i, err_str(nl));
		struct dns_rr rr = {.owner = body + pos};
		pos += (size_t)nl;
		if (len - pos < 10)
			return WHY("record %u: truncated", i);
		rr.type = rd_u16(body + pos);
		rr.rclass = rd_u16(body + pos + 2);
		rr.ttl = rd_u32(body + pos + 4);
		rr.rdlen = rd_u16(body + pos + 8);
		pos += 10;
		if (len - pos < rr.rdlen)
			return WHY("record %u: rdata truncated", i);
		rr.rdata = body + pos;
		pos += rr.rdlen;
		if (cb != NULL) {
			int r = cb(ctx, &rr);
			if (r != 0)
				return r;
		}
	}
	if (pos != len)
		return WHY("%zu bytes after the last record", len - pos);
	return 0;
}

int
persist_records(const uint8_t *p, size_t len, uint32_t count, persist_rr_fn cb, void *ctx,
                char *why, size_t whycap)
{
	return walk(p, len, 0, count, cb, ctx, why, whycap);
}

int
persist_load(const char *dir, const uint8_t *origin, uint32_t *serial, persist_rr_fn cb,
             void *ctx, char *why, size_t whycap)
{
	char path[4096];
	int r = persist_path(dir, origin, ".zone", path, sizeof(path));
	if (r != 0)
		return r;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (why != NULL && whycap > 0)
		why[0] = '\0';
	r = read_file(path, &buf, &len);
	if (r != 0)
		return r;
	if (len < HDR_LEN) {
		r = WHY("file %s is truncated (%zu bytes)", path, len);
		goto out;
	}
	if (memcmp(buf, zone_magic, 8) != 0) {
		r = WHY("file %s has a bad magic", path);
		goto out;
	}
	if (rd_u32(buf + 8) != PERSIST_VERSION) {
		r = WHY("file %s has format version %u, expected %u", path, rd_u32(buf + 8),
		        PERSIST_VERSION);
		goto out;
	}
	uint64_t body_len = rd_u64(buf + 24);
	if (body_len != len - HDR_LEN) {
		r = WHY("file %s is truncated (body %zu of %llu bytes)", path, len - HDR_LEN,
		        (unsigned long long)body_len);
		goto out;
	}
	const uint8_t *body = buf + HDR_LEN;
	if (fnv1a(FNV_INIT, body, (size_t)body_len) != rd_u64(buf + 32)) {
		r = WHY("file %s fails its checksum", path);
		goto out;
	}
	int nl = dns_name_check(body, (size_t)body_len);
	if (nl < 0 || !dns_name_equal(body, origin)) {
		r = WHY("file %s holds another zone", path);
		goto out;
	}
	uint32_t count = rd_u32(buf + 16);
	r = walk(body, (size_t)body_len, (size_t)nl, count, NULL, NULL, why, whycap);
	if (r != 0)
		goto out;
	*serial = rd_u32(buf + 12);
	r = walk(body, (size_t)body_len, (size_t)nl, count, cb, ctx, why, whycap);
out:
	free(buf);
	return r;
}

int
persist_remove(const char *dir, const uint8_t *origin)
{
	char path[4096];
	int r = persist_path(dir, origin, ".zone", path, sizeof(path));
	if (r != 0)
		return r;
	if (unlink(path) != 0 && errno != ENOENT)
		r = -errno;
	if (persist_path(dir, origin, ".timers", path, sizeof(path)) == 0)
		unlink(path);
	return r;
}

int
persist_save_timers(const char *dir, const uint8_t *origin, uint64_t last_refresh,
                    uint64_t expire_at, bool sync)
{
	char path[4096], tmp[4200];
	int r = persist_path(dir, origin, ".timers", path, sizeof(path));
	if (r != 0)
		return r;
	r = persist_mkdirs(dir);
	if (r != 0)
		return r;
	int w = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (w < 0 || (size_t)w >= sizeof(tmp))
		return -ENAMETOOLONG;
	uint8_t b[TIMERS_LEN];
	memcpy(b, timers_magic, 8);
	wr_u32(b + 8, PERSIST_VERSION);
	wr_u32(b + 12, 0);
	wr_u64(b + 16, last_refresh);
	wr_u64(b + 24, expire_at);
	wr_u64(b + 32, fnv1a(FNV_INIT, b, 32));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	r = write_all(fd, b, sizeof(b));
	if (r == 0 && sync && fsync(fd) != 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r != 0) {
		unlink(tmp);
		return r;
	}
	r = sync ? fsync_dir(dir) : 0;
	/* The zone file's mtime follows the last refresh: if the timers file is
	 * lost, the zone's age is still known (persist_zone_mtime). */
	if (r == 0 && persist_path(dir, origin, ".zone", path, sizeof(path)) == 0) {
		struct timespec ts[2] = {
			{.tv_nsec = UTIME_OMIT},
			{.tv_sec = (time_t)last_refresh},
		};
		(void)utimensat(AT_FDCWD, path, ts, 0);
	}
	return r;
}

int
persist_zone_mtime(const char *dir, const uint8_t *origin, uint64_t *mtime)
{
	char path[4096];
	int r = persist_path(dir, origin, ".zone", path, sizeof(path));
	if (r != 0)
		return r;
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	*mtime = st.st_mtime > 0 ? (uint64_t)st.st_mtime : 0;
	return 0;
}

int
persist_load_timers(const char *dir, const uint8_t *origin, uint64_t *last_refresh,
                    uint64_t *expire_at)
{
	char path[4096];
	int r = persist_path(dir, origin, ".timers", path, sizeof(path));
	if (r != 0)
		return r;
	uint8_t *buf = NULL;
	size_t len = 0;
	r = read_file(path, &buf, &len);
	if (r != 0)
		return r;
	if (len != TIMERS_LEN || memcmp(buf, timers_magic, 8) != 0 ||
	    rd_u32(buf + 8) != PERSIST_VERSION || fnv1a(FNV_INIT, buf, 32) != rd_u64(buf + 32)) {
		r = ERR_FORMERR;
	} else {
		*last_refresh = rd_u64(buf + 16);
		*expire_at = rd_u64(buf + 24);
	}
	free(buf);
	return r;
}
