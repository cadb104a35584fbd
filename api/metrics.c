/*
 * GET /metrics (Prometheus text) and what it counts: requests per route
 * and status, their latency, the store's numbers and the extra lines of
 * another module (the QUIC listener) handed in through api_opts.
 */
#include "api/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "dns/rdata.h"
#include "util/clock.h"
#include "util/strbuf.h"

static const char *const route_names[R_COUNT] = {
	[R_OTHER] = "other", [R_DISCOVERY] = "discovery", [R_SERVERS] = "servers",
	[R_SERVER] = "server", [R_CONFIG] = "config", [R_STATISTICS] = "statistics",
	[R_ZONES] = "zones", [R_ZONE] = "zone", [R_ZONE_EXPORT] = "zone_export",
	[R_ZONE_NOTIFY] = "zone_notify", [R_ZONE_JOURNAL] = "zone_journal",
	[R_TSIGKEYS] = "tsigkeys", [R_TSIGKEY] = "tsigkey", [R_APIKEYS] = "apikeys",
	[R_APIKEY] = "apikey", [R_SEARCH] = "search", [R_METRICS] = "metrics",
	[R_ZONE_PROPAGATION] = "zone_propagation",
	[R_SECONDARIES] = "secondaries", [R_SECONDARY] = "secondary", [R_MESH_CONF] = "mesh_conf",
	[R_AUDIT] = "audit", [R_UI] = "ui", [R_MESH_NODES] = "mesh_nodes",
};

static const double lat_bounds[API_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  5.0};



void
api_account(struct api *a, struct api_req *r, unsigned status)
{
	double dt = clock_mono_s() - r->start;
	unsigned slot = 0;   /* 0: any other status; 1..: the codes below */
	static const unsigned codes[] = {200, 201, 204, 400, 401, 403, 404, 409, 410, 412, 413, 422, 500};
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == status)
			slot = i + 1;
	pthread_mutex_lock(&a->mmu);
	a->req_count[r->route][slot]++;
	unsigned b = 0;
	while (b < API_LAT_BUCKETS && dt > lat_bounds[b])
		b++;
	a->lat_bucket[b]++;
	a->lat_sum += dt;
	a->lat_count++;
	pthread_mutex_unlock(&a->mmu);
}

/* Status of a metrics slot (inverse of the mapping in api_account()). */
static unsigned
slot_status(unsigned slot)
{
	static const unsigned codes[] = {200, 201, 204, 400, 401, 403, 404, 409, 410, 412, 413, 422, 500};
	if (slot >= 1 && slot - 1 < sizeof(codes) / sizeof(codes[0]))
		return codes[slot - 1];
	return 0;
}



void
api_metrics(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	struct api *a = r->api;
	struct store_stats s;
	store_stats(a->st, &s);
	struct strbuf b;
	strbuf_init(&b);
	uint64_t counts[R_COUNT][API_STATUS_SLOTS];
	uint64_t buckets[API_LAT_BUCKETS + 1];
	double sum;
	uint64_t n;
	pthread_mutex_lock(&a->mmu);
	memcpy(counts, a->req_count, sizeof(counts));
	memcpy(buckets, a->lat_bucket, sizeof(buckets));
	sum = a->lat_sum;
	n = a->lat_count;
	pthread_mutex_unlock(&a->mmu);
	strbuf_printf(&b, "# HELP anycst_api_requests_total API requests by endpoint and status.\n"
	            "# TYPE anycst_api_requests_total counter\n");
	for (int i = 0; i < R_COUNT; i++)
		for (unsigned j = 0; j < API_STATUS_SLOTS; j++)
			if (counts[i][j])
				strbuf_printf(&b, "anycst_api_requests_total{endpoint=\"%s\",status=\"%u\"} %" PRIu64 "\n",
				        route_names[i], slot_status(j), counts[i][j]);
	strbuf_printf(&b, "# HELP anycst_api_request_duration_seconds API request latency.\n"
	            "# TYPE anycst_api_request_duration_seconds histogram\n");
	const double *bounds = lat_bounds;
	uint64_t cum = 0;
	for (unsigned i = 0; i < API_LAT_BUCKETS; i++) {
		cum += buckets[i];
		strbuf_printf(&b, "anycst_api_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
		        bounds[i], cum);
	}
	cum += buckets[API_LAT_BUCKETS];
	strbuf_printf(&b, "anycst_api_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	strbuf_printf(&b, "anycst_api_request_duration_seconds_sum %.6f\n", sum);
	strbuf_printf(&b, "anycst_api_request_duration_seconds_count %" PRIu64 "\n", n);
	pthread_mutex_lock(&a->cmu);
	uint64_t swept = a->deadline_closed;
	pthread_mutex_unlock(&a->cmu);
	strbuf_printf(&b, "# HELP anycst_api_deadline_closed_total API connections closed past their "
	            "header or body deadline.\n# TYPE anycst_api_deadline_closed_total counter\n"
	            "anycst_api_deadline_closed_total %" PRIu64 "\n", swept);
	strbuf_printf(&b, "# HELP anycst_zones Zones in the store (catalog included).\n"
	            "# TYPE anycst_zones gauge\nanycst_zones %" PRIu64 "\n", s.zones);
	strbuf_printf(&b, "# HELP anycst_records Records in the store.\n"
	            "# TYPE anycst_records gauge\nanycst_records %" PRIu64 "\n", s.records);
	strbuf_printf(&b, "# HELP anycst_journal_entries IXFR journal entries kept.\n"
	            "# TYPE anycst_journal_entries gauge\nanycst_journal_entries %" PRIu64 "\n",
	        s.journal_entries);
	strbuf_printf(&b, "# HELP anycst_commits_total Committed changes since start.\n"
	            "# TYPE anycst_commits_total counter\nanycst_commits_total %" PRIu64 "\n", s.commits);
	strbuf_printf(&b, "# HELP anycst_group_commits_total Transactions that committed several "
	            "changes at once (group commit).\n# TYPE anycst_group_commits_total counter\n"
	            "anycst_group_commits_total %" PRIu64 "\n", s.groups);
	strbuf_printf(&b, "# HELP anycst_group_commit_changes_total Changes committed in those "
	            "transactions.\n# TYPE anycst_group_commit_changes_total counter\n"
	            "anycst_group_commit_changes_total %" PRIu64 "\n", s.grouped);
	strbuf_printf(&b, "# HELP anycst_last_commit_timestamp_seconds Time of the last commit.\n"
	            "# TYPE anycst_last_commit_timestamp_seconds gauge\n"
	            "anycst_last_commit_timestamp_seconds %" PRId64 "\n", s.last_commit);
	if (a->o.metrics_fn != NULL) {
		char extra[16384];
		int en = a->o.metrics_fn(a->o.metrics_ctx, extra, sizeof(extra));
		if (en > 0)
			strbuf_printf(&b, "%.*s", en, extra);
	}
	rs->status = 200;
	rs->ctype = "text/plain; version=0.0.4";
	size_t len = b.len;
	char *body = strbuf_take(&b);
	rs->body = body != NULL ? body : strdup("");
	rs->body_len = body != NULL ? len : 0;
}
