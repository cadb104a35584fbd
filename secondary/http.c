/*
 * /healthz and /metrics on libmicrohttpd.  Each request sums the per-thread
 * serving counters (secondary/serve.h) and walks the zone registry
 * (secondary/timers.h); nothing on the query path is touched or locked.
 */
#include "secondary/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/rrtype.h"
#include "net/addr.h"
#include "secondary/announce.h"
#include "secondary/health.h"
#include "secondary/serve.h"
#include "secondary/timers.h"
#include "util/strbuf.h"

struct http {
	struct MHD_Daemon *d;
	struct http_cfg cfg;
};

/* Writes `s` escaped for a Prometheus label value. */
static void
sb_label(struct strbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			strbuf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			strbuf_printf(b, "\\n");
		else
			strbuf_printf(b, "%c", *s);
	}
}

/*
 * Starts a sample: `name{pop="POP",zone="ZONE",EXTRA} ` with the parts that
 * are not NULL (`pop` and `zone` raw, escaped here; `extra` already in label
 * syntax), or `name ` when there are none.  The caller writes the value.
 */
static void
sb_sample(struct strbuf *b, const char *pop, const char *name, const char *zone,
          const char *extra)
{
	strbuf_printf(b, "%s", name);
	if (pop == NULL && zone == NULL && extra == NULL) {
		strbuf_printf(b, " ");
		return;
	}
	const char *sep = "{";
	if (pop != NULL) {
		strbuf_printf(b, "%spop=\"", sep);
		sb_label(b, pop);
		strbuf_printf(b, "\"");
		sep = ",";
	}
	if (zone != NULL) {
		strbuf_printf(b, "%szone=\"", sep);
		sb_label(b, zone);
		strbuf_printf(b, "\"");
		sep = ",";
	}
	if (extra != NULL)
		strbuf_printf(b, "%s%s", sep, extra);
	strbuf_printf(b, "} ");
}

static const char *const rcode_names[SERVE_RCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	"NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
	"BADVERS", "RCODE17", "RCODE18", "RCODE19", "RCODE20", "RCODE21", "RCODE22", "BADCOOKIE",
};

struct zone_walk_ctx {
	struct strbuf *b;
	const char *pop;   /* --identity, NULL: no pop label */
	int which;
};

static void
zone_metric(void *ctx, const struct timers_zone_info *zi)
{
	struct zone_walk_ctx *w = ctx;
	struct strbuf *b = w->b;
	const char *names[] = {"anycst_secondary_zone_serial", "anycst_secondary_zone_loaded",
	                       "anycst_secondary_zone_expired",
	                       "anycst_secondary_zone_seconds_since_refresh",
	                       "anycst_secondary_transfers_total",
	                       "anycst_secondary_transfer_failures_total",
	                       "anycst_secondary_refresh_uptodate_total",
	                       "anycst_secondary_zone_unloadable",
	                       "anycst_secondary_zone_rrsig_expire_timestamp_seconds",
	                       "anycst_secondary_zone_rrsig_expire_in_seconds"};
	const char *pop = w->pop;
	if (w->which == 4) {
		sb_sample(b, pop, names[4], zi->name, "type=\"axfr\"");
		strbuf_printf(b, "%llu\n", (unsigned long long)zi->axfr_ok);
		sb_sample(b, pop, names[4], zi->name, "type=\"ixfr\"");
		strbuf_printf(b, "%llu\n", (unsigned long long)zi->ixfr_ok);
		return;
	}
	if (w->which == 5) {
		sb_sample(b, pop, names[5], zi->name, "reason=\"failed\"");
		strbuf_printf(b, "%llu\n", (unsigned long long)(zi->failures - zi->rejected));
		sb_sample(b, pop, names[5], zi->name, "reason=\"rejected\"");
		strbuf_printf(b, "%llu\n", (unsigned long long)zi->rejected);
		return;
	}
	if ((w->which == 3 && zi->since_refresh < 0) || (w->which == 7 && zi->is_catalog) ||
	    (w->which >= 8 && !zi->is_signed))
		return;
	sb_sample(b, pop, names[w->which], zi->name, NULL);
	switch (w->which) {
	case 0: strbuf_printf(b, "%u\n", zi->serial); break;
	case 1: strbuf_printf(b, "%d\n", zi->loaded ? 1 : 0); break;
	case 2: strbuf_printf(b, "%d\n", zi->expired ? 1 : 0); break;
	case 3: strbuf_printf(b, "%lld\n", (long long)zi->since_refresh); break;
	case 6: strbuf_printf(b, "%llu\n", (unsigned long long)zi->uptodate); break;
	case 7: strbuf_printf(b, "%d\n", !zi->loaded || zi->expired ? 1 : 0); break;
	case 8: strbuf_printf(b, "%lld\n", (long long)time(NULL) + (long long)zi->sig_left_s); break;
	case 9: strbuf_printf(b, "%lld\n", (long long)zi->sig_left_s); break;
	default: strbuf_printf(b, "0\n"); break;
	}
}

/* Queries by rcode and by QTYPE. */
static void
metrics_queries(struct strbuf *b, const struct serve_stats *s, const char *pop)
{
	char lbl[64];
	strbuf_printf(b, "# HELP anycst_secondary_queries_total DNS queries answered, by rcode.\n"
	                 "# TYPE anycst_secondary_queries_total counter\n");
	for (unsigned i = 0; i < SERVE_RCODES; i++) {
		if (s->rcode[i] == 0 && i > 5 && i != 9)
			continue;
		snprintf(lbl, sizeof(lbl), "rcode=\"%s\"", rcode_names[i]);
		sb_sample(b, pop, "anycst_secondary_queries_total", NULL, lbl);
		strbuf_printf(b, "%llu\n", (unsigned long long)s->rcode[i]);
	}
	strbuf_printf(b, "# HELP anycst_secondary_queries_by_type_total DNS queries, by QTYPE.\n"
	                 "# TYPE anycst_secondary_queries_by_type_total counter\n");
	for (unsigned i = 0; i <= SERVE_QTYPE_OTHER; i++) {
		if (s->qtype[i] == 0)
			continue;
		char tn[DNS_RRTYPE_TEXT_MAX];
		if (i == SERVE_QTYPE_OTHER)
			snprintf(tn, sizeof(tn), "other");
		else
			dns_rrtype_to_text((uint16_t)i, tn, sizeof(tn));
		snprintf(lbl, sizeof(lbl), "qtype=\"%s\"", tn);
		sb_sample(b, pop, "anycst_secondary_queries_by_type_total", NULL, lbl);
		strbuf_printf(b, "%llu\n", (unsigned long long)s->qtype[i]);
	}
}

/* Transport, drop, NOTIFY and TCP connection counters. */
static void
metrics_flat(struct strbuf *b, const struct serve_stats *s, const char *pop)
{
	const struct {
		const char *name, *label;   /* label NULL: the metric has only `pop` */
		uint64_t v;
	} flat[] = {
		{"anycst_secondary_queries_transport_total", "transport=\"udp\"", s->udp},
		{"anycst_secondary_queries_transport_total", "transport=\"tcp\"", s->tcp},
		{"anycst_secondary_dropped_total", NULL, s->dropped},
		{"anycst_secondary_notify_total", "result=\"accepted\"", s->notify_accepted},
		{"anycst_secondary_notify_total", "result=\"refused\"", s->notify_refused},
		{"anycst_secondary_tcp_connections_total", "event=\"accepted\"", s->tcp_accepted},
		{"anycst_secondary_tcp_connections_total", "event=\"refused_limit\"",
		 s->tcp_refused_limit},
		{"anycst_secondary_tcp_connections_total", "event=\"idle_closed\"",
		 s->tcp_idle_closed},
	};
	static const struct {
		const char *name, *help;
	} flat_help[] = {
		{"anycst_secondary_queries_transport_total", "DNS queries, by transport."},
		{"anycst_secondary_dropped_total", "Datagrams dropped unanswered (malformed)."},
		{"anycst_secondary_notify_total", "NOTIFY messages, accepted or refused."},
		{"anycst_secondary_tcp_connections_total",
		 "DNS over TCP connections accepted, refused at the limit, closed idle."},
	};
	for (size_t i = 0; i < sizeof(flat) / sizeof(flat[0]); i++) {
		if (i == 0 || strcmp(flat[i].name, flat[i - 1].name) != 0) {
			const char *hs = "";
			for (size_t k = 0; k < sizeof(flat_help) / sizeof(flat_help[0]); k++)
				if (strcmp(flat_help[k].name, flat[i].name) == 0)
					hs = flat_help[k].help;
			strbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", flat[i].name, hs,
			              flat[i].name);
		}
		sb_sample(b, pop, flat[i].name, NULL, flat[i].label);
		strbuf_printf(b, "%llu\n", (unsigned long long)flat[i].v);
	}
}

/* Per-zone gauges and counters from the zone registry. */
static void
metrics_zones(struct strbuf *b, struct timers *t, const char *identity)
{
	static const char *const help[] = {
		"SOA serial of the version served.",
		"1 when a version is loaded.",
		"1 when the zone expired (answers SERVFAIL).",
		"Seconds since the last successful refresh.",
		"Transfers applied, by type.",
		"Refreshes that failed (transport, primary) or were rejected (content, TSIG).",
		"Refreshes that found the zone up to date.",
		"1 when the zone is answered SERVFAIL here (not loaded or expired).",
		"Earliest RRSIG expiration of the version served (Unix time; signed zones only).",
		"Seconds until the earliest RRSIG expires (negative: expired; signed zones only).",
	};
	static const char *const mname[] = {
		"anycst_secondary_zone_serial", "anycst_secondary_zone_loaded",
		"anycst_secondary_zone_expired", "anycst_secondary_zone_seconds_since_refresh",
		"anycst_secondary_transfers_total", "anycst_secondary_transfer_failures_total",
		"anycst_secondary_refresh_uptodate_total", "anycst_secondary_zone_unloadable",
		"anycst_secondary_zone_rrsig_expire_timestamp_seconds",
		"anycst_secondary_zone_rrsig_expire_in_seconds",
	};
	static const char *const mtype[] = {"gauge", "gauge", "gauge", "gauge",
	                                    "counter", "counter", "counter", "gauge", "gauge",
	                                    "gauge"};
	for (int k = 0; k < 10; k++) {
		strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", mname[k], help[k], mname[k],
		              mtype[k]);
		struct zone_walk_ctx w = {.b = b, .pop = identity, .which = k};
		timers_walk(t, zone_metric, &w);
	}
}

/* The health verdict's zone counts; returns 1/0 (healthy or not), -1 when unknown. */
static int
metrics_health(struct strbuf *b, struct health *hl, const char *pop)
{
	int healthy_now = -1;
	struct health_result *hr = malloc(sizeof(*hr));
	if (hr == NULL || hl == NULL || health_check(hl, health_now_ms(), hr) != 0) {
		if (hr != NULL && hl != NULL && b->err == 0)
			b->err = -ENOMEM;
		free(hr);
		return -1;
	}
	healthy_now = hr->healthy ? 1 : 0;
	const struct {
		const char *name, *help;
		unsigned v;
	} zs[] = {
		{"anycst_secondary_zones_unloadable",
		 "Member zones answered SERVFAIL here (not loaded or expired).", hr->unloadable},
		{"anycst_secondary_zones_pending",
		 "New member zones not loaded yet, within --health-grace.", hr->pending},
		{"anycst_secondary_zones_bad",
		 "Member zones past their grace missing, expired or lagging.", hr->bad},
		{"anycst_secondary_zones_bad_allowed",
		 "Bad member zones tolerated before the POP is withdrawn (--health-max-bad).",
		 hr->allowed},
	};
	for (size_t i = 0; i < sizeof(zs) / sizeof(zs[0]); i++) {
		strbuf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", zs[i].name, zs[i].help,
		              zs[i].name);
		sb_sample(b, pop, zs[i].name, NULL, NULL);
		strbuf_printf(b, "%u\n", zs[i].v);
	}
	free(hr);
	return healthy_now;
}

char *
http_metrics_text(struct timers *t, struct health *hl, const char *identity)
{
	struct strbuf b;
	strbuf_init(&b);
	struct serve_stats *s = malloc(sizeof(*s));
	if (s == NULL)
		return NULL;
	serve_stats_sum(s);
	metrics_queries(&b, s, identity);
	metrics_flat(&b, s, identity);
	free(s);
	metrics_zones(&b, t, identity);
	int healthy_now = metrics_health(&b, hl, identity);
	char *edge = announce_metrics_text(healthy_now);   /* POP label, announce state, RRL */
	if (edge == NULL && b.err == 0)
		b.err = -ENOMEM;
	else if (edge != NULL)
		strbuf_printf(&b, "%s", edge);
	free(edge);
	return strbuf_take(&b);
}

int
http_health(struct health *hl, char **body)
{
	struct strbuf b;
	strbuf_init(&b);
	struct health_result *r = malloc(sizeof(*r));
	if (r == NULL) {
		*body = NULL;
		return 503;
	}
	health_check(hl, health_now_ms(), r);
	char edge[1024];
	unsigned edge_faults = announce_healthz(edge, sizeof(edge));   /* BIRD, interface */
	int code = 200;
	if (!r->healthy || edge_faults > 0) {
		code = 503;
		strbuf_printf(&b, "%s%s", r->why, edge_faults > 0 ? edge : "");
	} else {
		strbuf_printf(&b, "ok, %u zones", r->zones);
		if (r->unloadable > 0)
			strbuf_printf(&b, ", %u answered SERVFAIL (%u bad, at most %u allowed)",
			          r->unloadable, r->bad, r->allowed);
		else if (r->bad > 0)
			strbuf_printf(&b, ", %u bad (at most %u allowed)", r->bad, r->allowed);
		strbuf_printf(&b, "\n%s", r->detail);
	}
	free(r);
	*body = strbuf_take(&b);
	return *body != NULL ? code : 503;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned code, char *body, const char *ctype)
{
	const char *fallback = "out of memory\n";
	struct MHD_Response *r;
	if (body != NULL)
		r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(strlen(fallback), (void *)(uintptr_t)fallback,
		                                    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(conn, body != NULL ? code : 500, r);
	MHD_destroy_response(r);
	return ret;
}

static char *
dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct http *h = cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	if (*upload_size != 0) {
		*upload_size = 0;   /* bodies are ignored */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, dupstr("method not allowed\n"), "text/plain");
	if (strcmp(url, "/healthz") == 0) {
		char *body = NULL;
		int code = http_health(h->cfg.health, &body);
		return reply(conn, (unsigned)code, body, "text/plain");
	}
	if (strcmp(url, "/metrics") == 0)
		return reply(conn, 200, http_metrics_text(h->cfg.timers, h->cfg.health, h->cfg.identity),
		             "text/plain; version=0.0.4");
	return reply(conn, 404, dupstr("not found\n"), "text/plain");
}

struct http *
http_start(const struct http_cfg *cfg, char *err, size_t errcap)
{
	struct http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	h->cfg = *cfg;
	const struct sockaddr *sa = (const struct sockaddr *)&h->cfg.addr;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, addr_port(sa), NULL, NULL, handler, h,
	                        MHD_OPTION_SOCK_ADDR, sa,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	                        MHD_OPTION_END);
	if (h->d == NULL) {
		char a[ADDR_TEXT_MAX];
		snprintf(err, errcap, "cannot start HTTP on %s", addr_fmt(sa, a, sizeof(a)));
		free(h);
		return NULL;
	}
	return h;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
