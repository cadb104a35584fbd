/*
 * Logging to stderr, one write() per line so lines from several threads
 * never interleave.  The level is read without a lock: a stale value only
 * changes whether one more or one fewer line is printed.  When stderr is
 * systemd's journal (JOURNAL_STREAM names it, as a unit's default output),
 * each line starts with its syslog priority "<N>", which journald takes off
 * and keeps as the entry's priority: `journalctl -p warning` then finds the
 * warnings and errors (without it every line would be info).
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int cur_level = LOG_INFO;      /* __atomic: a reload sets it */
static int cur_format = LOG_TEXT;     /* __atomic */
static char log_prefix[64];
static char log_ident[64];            /* the prefix's text without brackets, for JSON */

static const char *const level_names[] = {"debug", "info", "notice", "warning", "error"};
static const char syslog_prio[] = {'7', '6', '5', '4', '3'};
static int journal_out = -1;          /* __atomic: -1 not looked at yet, 0 no, 1 stderr is the journal */

/* Whether stderr is the journal stream systemd opened (JOURNAL_STREAM "DEV:INODE"). */
static bool
on_journal(void)
{
	int v = __atomic_load_n(&journal_out, __ATOMIC_RELAXED);
	if (v >= 0)
		return v == 1;
	v = 0;
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (e != NULL && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
		v = 1;
	__atomic_store_n(&journal_out, v, __ATOMIC_RELAXED);
	return v == 1;
}

/* The "<N>" a journal line starts with into `out` (4 bytes); its length. */
static size_t
prio_prefix(enum log_level lvl, char *out)
{
	if (!on_journal())
		return 0;
	out[0] = '<';
	out[1] = syslog_prio[lvl];
	out[2] = '>';
	return 3;
}

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
	__atomic_store_n(&cur_level, (int)lvl, __ATOMIC_RELAXED);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&cur_level, __ATOMIC_RELAXED);
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_JSON;
	else
		return -EINVAL;
	return 0;
}

void
log_set_format(enum log_format f)
{
	__atomic_store_n(&cur_format, (int)f, __ATOMIC_RELAXED);
}

void
log_set_prefix(const char *prefix)
{
	if (prefix == NULL || prefix[0] == '\0') {
		log_prefix[0] = '\0';
		log_ident[0] = '\0';
	} else {
		snprintf(log_prefix, sizeof(log_prefix), "[%s] ", prefix);
		snprintf(log_ident, sizeof(log_ident), "%s", prefix);
	}
}

/* `s` as a JSON string (quotes included) at out+n; the new length. */
static size_t
json_str(char *out, size_t n, size_t cap, const char *s)
{
	if (n + 2 >= cap)
		return n;
	out[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && n + 8 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n++] = '"';
	return n;
}

static void
log_json(enum log_level lvl, const char *zone, const char *fmt, va_list ap)
{
	char msg[2048], line[4600];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = prio_prefix(lvl, line);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
	                      "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\"",
	                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                      tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
	if (log_ident[0] != '\0') {
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"pop\":");
		n = json_str(line, n, sizeof(line), log_ident);
	}
	if (zone != NULL) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"zone\":");
		n = json_str(line, n, sizeof(line), zone);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"msg\":");
	n = json_str(line, n, sizeof(line) - 3, msg);
	line[n++] = '}';
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

static void
log_vmsg(enum log_level lvl, const char *zone, const char *fmt, va_list ap)
{
	if (__atomic_load_n(&cur_format, __ATOMIC_RELAXED) == LOG_JSON) {
		log_json(lvl, zone, fmt, ap);
		return;
	}
	char line[2048];
	int n = (int)prio_prefix(lvl, line);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s: ", log_prefix, level_names[lvl]);
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
	if ((int)lvl < __atomic_load_n(&cur_level, __ATOMIC_RELAXED))
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
