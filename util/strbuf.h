/*
 * A growing NUL-terminated string (metrics pages, health bodies, config
 * text).  Errors are sticky: after a failed allocation every call does
 * nothing and returns the error, so a builder checks once at the end.
 */
#ifndef UTIL_STRBUF_H
#define UTIL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *s;       /* NULL until something is appended */
	size_t len;    /* bytes before the NUL */
	size_t cap;
	int err;       /* 0, or -ENOMEM / -EINVAL (a bad format), sticky */
};

/* An empty buffer; nothing is allocated until the first append. */
void strbuf_init(struct strbuf *b);

/* Appends `n` bytes of `s`.  Returns 0 or the sticky error. */
int strbuf_append(struct strbuf *b, const char *s, size_t n);

/* Appends printf output.  Returns 0 or the sticky error. */
int strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Text so far ("" when empty; valid until the next append). */
const char *strbuf_str(const struct strbuf *b);

/* Frees the text and clears the error: the buffer is empty again. */
void strbuf_clear(struct strbuf *b);

/*
 * Hands the text to the caller (free() it), or NULL after an error (then the
 * text is freed); the buffer is empty afterwards.  An empty buffer gives "".
 */
char *strbuf_take(struct strbuf *b);

#endif
