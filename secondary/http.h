/*
 * Health and metrics over HTTP/1.1 (libmicrohttpd, its own thread), off
 * unless --http is given:
 *   GET /healthz   200 "ok, N zones" while health_check says healthy (see
 *                  health.h), then one line per zone not served fully (new,
 *                  missing, expired, lagging); otherwise 503 with one line per
 *                  reason, and the announce faults (interface, BIRD).
 *   GET /metrics   Prometheus text format 0.0.4: queries by rcode and type,
 *                  per-zone serial, seconds since the last refresh, transfer
 *                  counts and failures, NOTIFY and TCP counters.
 * Anything else is 404; methods other than GET/HEAD 405.
 */
#ifndef SECONDARY_HTTP_H
#define SECONDARY_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct timers;
struct health;
struct http;

struct http_cfg {
	struct sockaddr_storage addr;
	struct timers *timers;
	struct health *health;    /* judges /healthz and the zone-health metrics */
	const char *identity;     /* label on every metric; NULL: none */
};

/* Starts the server.  NULL with a reason in `err` on failure. */
struct http *http_start(const struct http_cfg *cfg, char *err, size_t errcap);

/* Stops it.  NULL is a no-op. */
void http_stop(struct http *h);

/* Builds the /metrics body into a malloc'd string (for tests).  NULL on ENOMEM. */
char *http_metrics_text(struct timers *t, struct health *hl, const char *identity);

/*
 * Builds the /healthz body; returns 200 or 503 and sets *body (malloc'd).
 */
int http_health(struct health *hl, char **body);

#endif
