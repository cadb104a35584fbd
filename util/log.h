/*
 * One line per event on stderr, Knot style:
 *   info: [example.com.] zone updated, serial 5 -> 6
 * log_set_prefix() adds "[POP] " style identity before every line when set.
 * Never log per query.  Thread-safe: each line is written with one write().
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERROR };

/* Parses "debug".."error"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/*
 * Line format: LOG_TEXT (above) or LOG_JSON, one JSON object a line:
 *   {"ts":"2026-12-06T18:00:00.123Z","level":"info","pop":"p1","zone":"example.com.","msg":"..."}
 * ("pop" and "zone" only when set).  log_format_parse takes "text" or "json".
 * Level and format may change at any time from any thread (a reload).
 */
enum log_format { LOG_TEXT, LOG_JSON };
int log_format_parse(const char *s, enum log_format *out);
void log_set_format(enum log_format f);
/* Text printed before every line (e.g. the POP identity); NULL clears. Copied. */
void log_set_prefix(const char *prefix);

/* `zone` is a presentation name with trailing dot, or NULL for none. */
void log_msg(enum log_level lvl, const char *zone, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(zone, ...) log_msg(LOG_DEBUG, zone, __VA_ARGS__)
#define log_info(zone, ...) log_msg(LOG_INFO, zone, __VA_ARGS__)
#define log_notice(zone, ...) log_msg(LOG_NOTICE, zone, __VA_ARGS__)
#define log_warning(zone, ...) log_msg(LOG_WARNING, zone, __VA_ARGS__)
#define log_error(zone, ...) log_msg(LOG_ERROR, zone, __VA_ARGS__)

/* Startup failure: logs at error level and exits(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
