/*
 * Logging to stderr, one write() per line so lines from several threads
 * never interleave.  The level is read without a lock: a stale value only
 * changes whether one more or one fewer line is printed.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static char log_prefix[64];

static const char *const level_names[] = {"debug", "info", "notice", "warning", "error"};

int
log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void
log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

enum log_level
log_get_level(void)
{
	return cur_level;
}

void
log_set_prefix(const char *prefix)
{
	if (prefix == NULL || prefix[0] == '\0')
		log_prefix[0] = '\0';
	else
		snprintf(log_prefix, sizeof(log_prefix), "[%s] ", prefix);
}

static void
log_vmsg(enum log_level lvl, const char *zone, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s%s: ", log_prefix, level_names[lvl]);
	if (zone != NULL && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, "[%s] ", zone);
	if (n >= 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void
log_msg(enum log_level lvl, const char *zone, const char *fmt, ...)
{
	if (lvl < cur_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lvl, zone, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
