/* A growing string with a sticky error (util/strbuf.h). */
#include "util/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
strbuf_init(struct strbuf *b)
{
	*b = (struct strbuf){0};
}

/* Room for `n` more bytes and the NUL. */
static int
reserve(struct strbuf *b, size_t n)
{
	if (b->err != 0)
		return b->err;
	if (n >= (size_t)-1 / 2 - b->len)
		return b->err = -ENOMEM;
	if (b->s != NULL && b->len + n < b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap <= b->len + n)
		cap *= 2;
	char *p = realloc(b->s, cap);
	if (p == NULL)
		return b->err = -ENOMEM;
	b->s = p;
	b->cap = cap;
	return 0;
}

int
strbuf_append(struct strbuf *b, const char *s, size_t n)
{
	int r = reserve(b, n);
	if (r != 0)
		return r;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
	if (b->err != 0)
		return b->err;
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(b->s != NULL ? b->s + b->len : NULL, b->s != NULL ? b->cap - b->len : 0,
	                  fmt, aq);
	va_end(aq);
	if (n < 0)
		return b->err = -EINVAL;
	if (b->s != NULL && b->len + (size_t)n < b->cap) {
		b->len += (size_t)n;
		return 0;
	}
	int r = reserve(b, (size_t)n);
	if (r != 0)
		return r;
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = strbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

const char *
strbuf_str(const struct strbuf *b)
{
	return b->s != NULL ? b->s : "";
}

void
strbuf_clear(struct strbuf *b)
{
	free(b->s);
	*b = (struct strbuf){0};
}

char *
strbuf_take(struct strbuf *b)
{
	char *s = b->s;
	if (b->err != 0) {
		strbuf_clear(b);
		return NULL;
	}
	if (s == NULL)
		s = strdup("");
	*b = (struct strbuf){0};
	return s;
}
