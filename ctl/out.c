/*
 * anycstc's output: aligned tables for people, JSON for scripts (--json),
 * errors on stderr prefixed "anycstc: error:".
 */
#include "ctl/ctl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ctl_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("anycstc: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void
ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	for (size_t i = 0; i < ncols && i < 12; i++)
		t->head[i] = head[i];
}

void
ctl_table_row(struct ctl_table *t, ...)
{
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, nc * t->ncols * sizeof(*n));
		if (n == NULL) {
			ctl_err("out of memory");
			exit(CTL_EFAIL);
		}
		t->cells = n;
		t->cap = nc;
	}
	va_list ap;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + i] = strdup(s != NULL ? s : "-");
	}
	va_end(ap);
	t->nrows++;
}

void
ctl_table_print(struct ctl_table *t)
{
	size_t w[12] = {0};
	for (size_t i = 0; i < t->ncols; i++)
		w[i] = strlen(t->head[i]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			size_t l = s ? strlen(s) : 0;
			if (l > w[i])
				w[i] = l;
		}
	for (size_t i = 0; i < t->ncols; i++) {
		if (i + 1 < t->ncols)
			printf("%-*s  ", (int)w[i], t->head[i]);
		else
			printf("%s\n", t->head[i]);
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i + 1 < t->ncols)
				printf("%-*s  ", (int)w[i], s ? s : "?");
			else
				printf("%s\n", s ? s : "?");
		}
	for (size_t k = 0; k < t->nrows * t->ncols; k++)
		free(t->cells[k]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void
ctl_json_print(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

const char *
ctl_cell(const json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v))
		snprintf(buf, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_true(v))
		snprintf(buf, cap, "yes");
	else if (json_is_false(v))
		snprintf(buf, cap, "no");
	else if (json_is_real(v))
		snprintf(buf, cap, "%g", json_real_value(v));
	else if (v == NULL || json_is_null(v))
		snprintf(buf, cap, "-");
	else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, cap, "%s", s ? s : "?");
		free(s);
	}
	return buf;
}
