/*
 * Bounds-checked cursor over wire data with a sticky error (Knot's wire_ctx).
 * Every access checks bounds; after the first overrun reads return 0, writes
 * do nothing, and `err` stays set, so callers check once at the end:
 *   uint16_t id = wire_u16(&w), fl = wire_u16(&w); if (w.err) return ERR_FORMERR;
 * The same struct reads (wire_init over const data) and writes (wire_init_w).
 */
#ifndef DNS_WIRE_H
#define DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire {
	uint8_t *base;   /* start of the buffer (const when reading) */
	size_t len;      /* readable or writable bytes from base */
	size_t pos;
	bool err;
};

static inline void
wire_init(struct wire *w, const uint8_t *p, size_t len)
{
	w->base = (uint8_t *)(uintptr_t)p;   /* never written through when reading */
	w->len = len;
	w->pos = 0;
	w->err = false;
}

static inline void
wire_init_w(struct wire *w, uint8_t *p, size_t cap)
{
	wire_init(w, p, cap);
}

static inline size_t
wire_left(const struct wire *w)
{
	return w->err ? 0 : w->len - w->pos;
}

static inline bool
wire_need(struct wire *w, size_t n)
{
	if (w->err || w->len - w->pos < n) {
		w->err = true;
		return false;
	}
	return true;
}

static inline const uint8_t *
wire_ptr(const struct wire *w)
{
	return w->base + w->pos;
}

static inline void
wire_skip(struct wire *w, size_t n)
{
	if (wire_need(w, n))
		w->pos += n;
}

static inline void
wire_seek(struct wire *w, size_t pos)
{
	if (pos > w->len)
		w->err = true;
	else if (!w->err)
		w->pos = pos;
}

static inline uint8_t
wire_u8(struct wire *w)
{
	if (!wire_need(w, 1))
		return 0;
	return w->base[w->pos++];
}

static inline uint16_t
wire_u16(struct wire *w)
{
	if (!wire_need(w, 2))
		return 0;
	uint16_t v = (uint16_t)((w->base[w->pos] << 8) | w->base[w->pos + 1]);
	w->pos += 2;
	return v;
}

static inline uint32_t
wire_u32(struct wire *w)
{
	if (!wire_need(w, 4))
		return 0;
	const uint8_t *p = w->base + w->pos;
	w->pos += 4;
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void
wire_read(struct wire *w, void *out, size_t n)
{
	if (wire_need(w, n)) {
		memcpy(out, w->base + w->pos, n);
		w->pos += n;
	} else if (n > 0) {
		memset(out, 0, n);
	}
}

static inline void
wire_put_u8(struct wire *w, uint8_t v)
{
	if (wire_need(w, 1))
		w->base[w->pos++] = v;
}

static inline void
wire_put_u16(struct wire *w, uint16_t v)
{
	if (wire_need(w, 2)) {
		w->base[w->pos] = (uint8_t)(v >> 8);
		w->base[w->pos + 1] = (uint8_t)v;
		w->pos += 2;
	}
}

static inline void
wire_put_u32(struct wire *w, uint32_t v)
{
	if (wire_need(w, 4)) {
		uint8_t *p = w->base + w->pos;
		p[0] = (uint8_t)(v >> 24);
		p[1] = (uint8_t)(v >> 16);
		p[2] = (uint8_t)(v >> 8);
		p[3] = (uint8_t)v;
		w->pos += 4;
	}
}

static inline void
wire_write(struct wire *w, const void *p, size_t n)
{
	if (n > 0 && wire_need(w, n)) {
		memcpy(w->base + w->pos, p, n);
		w->pos += n;
	}
}

/* Big-endian helpers for fixed buffers whose bounds the caller checked. */
static inline uint16_t
rd_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
rd_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void
wr_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wr_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
