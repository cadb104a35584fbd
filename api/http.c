/*
 * HTTP server of the API on libmicrohttpd: one thread per connection, so a
 * handler may block on the store's writer mutex without stalling others.
 * Collects the body (bounded by max_body), checks the key, routes, sends the
 * response, and counts requests per route and status and their latency.
 *
 * Keys: the admin key is compared in constant time (SHA-256 of both, then a
 * constant-time compare); account keys are looked up by their SHA-256.
 *
 * Hostile clients (slowloris): MHD caps connections per client address and in
 * total, but its timeout is an idle one that every trickled byte restarts.  So
 * each connection also carries an absolute deadline for the phase it is in:
 * the request line and headers must arrive within header_timeout of the
 * connect (or of the end of the previous request on a kept-alive connection),
 * the body within body_timeout of the last header.  A sweeper thread shuts
 * down the socket of a connection past its deadline; MHD then sees the peer
 * gone and closes it.  The list is only touched under `cmu`, and MHD reports
 * a connection closed before it closes the fd, so a swept fd is never reused.
 * A body announced larger than max_body is refused (413) before it is read.
 */
#include "api/internal.h"
#include "api/idn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>

#include "net/addr.h"
#include "util/base.h"
#include "util/log.h"

const char *const api_route_names[R_COUNT] = {
	[R_OTHER] = "other", [R_DISCOVERY] = "discovery", [R_SERVERS] = "servers",
	[R_SERVER] = "server", [R_CONFIG] = "config", [R_STATISTICS] = "statistics",
	[R_ZONES] = "zones", [R_ZONE] = "zone", [R_ZONE_EXPORT] = "zone_export",
	[R_ZONE_NOTIFY] = "zone_notify", [R_ZONE_JOURNAL] = "zone_journal",
	[R_TSIGKEYS] = "tsigkeys", [R_TSIGKEY] = "tsigkey", [R_APIKEYS] = "apikeys",
	[R_APIKEY] = "apikey", [R_SEARCH] = "search", [R_METRICS] = "metrics",
	[R_ZONE_PROPAGATION] = "zone_propagation",
	[R_SECONDARIES] = "secondaries", [R_SECONDARY] = "secondary", [R_MESH_CONF] = "mesh_conf",
};

static const double lat_bounds[API_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

const char *
api_arg(struct api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
api_header(struct api_req *r, const char *name)
{
	/* MHD compares header names without regard to letter case */
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void
api_json(struct api_resp *rs, unsigned status, json_t *j)
{
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
	rs->status = status;
	rs->ctype = "application/json";
	if (j == NULL) {
		rs->status = 500;
		return;
	}
	rs->body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	if (rs->body == NULL) {
		rs->status = 500;
		return;
	}
	rs->body_len = strlen(rs->body);
}

void
api_error(struct api_resp *rs, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* messages quote client input, possibly cut mid-character: keep them valid UTF-8 */
	api_idn_sanitize(msg);
	api_json(rs, status, json_pack("{s:s}", "error", msg));
}

void
api_store_error(struct api_resp *rs, int code, const char *detail)
{
	bool d = detail != NULL && detail[0] != '\0';
	switch (code) {
	case -ENOENT: api_error(rs, 404, "%s", d ? detail : "Not Found"); break;
	case -EEXIST: api_error(rs, 409, "%s", d ? detail : "Conflict"); break;
	case -EINVAL: api_error(rs, 422, "%s", d ? detail : "invalid request"); break;
	case -ESTALE: api_error(rs, 412, "%s", d ? detail : "Precondition Failed"); break;
	case -EPERM: api_error(rs, 422, "%s", d ? detail : "not allowed on this zone"); break;
	case -ERANGE: api_error(rs, 410, "%s", d ? detail : "gone"); break;
	default:
		api_error(rs, 500, "internal error: %s", d ? detail : strerror(code < 0 ? -code : code));
		break;
	}
}

/*
 * Every list in a request is bounded like the rrsets (issue 12.5): "rrsets"
 * by max_rrsets, any other array (records, comments, nameservers, masters,
 * master_tsig_key_ids, ...) by max_records.  `path` names `j` (`plen` bytes
 * used of `cap`).  Writes a 422 naming the first list over its limit and
 * returns false.
 */
static bool
lists_bounded(const struct api *a, json_t *j, char *path, size_t plen, size_t cap,
              struct api_resp *rs)
{
	if (json_is_array(j)) {
		bool rrsets = strcmp(path, "rrsets") == 0;
		size_t lim = rrsets ? a->o.max_rrsets : a->o.max_records;
		size_t n = json_array_size(j);
		if (n > lim) {
			api_error(rs, 422, "%s: %zu entries, more than the limit of %zu per list (%s)", path,
			          n, lim, rrsets ? "--api-max-rrsets" : "--api-max-records");
			return false;
		}
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(j, i);
			if (!json_is_array(e) && !json_is_object(e))
				continue;
			int w = snprintf(path + plen, cap - plen, "[%zu]", i);
			size_t np = w > 0 && (size_t)w < cap - plen ? plen + (size_t)w : plen;
			bool ok = lists_bounded(a, e, path, np, cap, rs);
			path[plen] = '\0';
			if (!ok)
				return false;
		}
		return true;
	}
	if (!json_is_object(j))
		return true;
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		if (!json_is_array(v) && !json_is_object(v))
			continue;
		int w = snprintf(path + plen, cap - plen, "%s%.64s", plen ? "." : "", k);
		size_t np = w > 0 && (size_t)w < cap - plen ? plen + (size_t)w : cap - 1;
		bool ok = lists_bounded(a, v, path, np, cap, rs);
		path[plen] = '\0';
		if (!ok)
			return false;
	}
	return true;
}

json_t *
api_body_object(struct api_req *r, struct api_resp *rs)
{
	json_error_t je;
	if (r->body_len == 0) {
		api_error(rs, 400, "request body is empty, a JSON object is expected");
		return NULL;
	}
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		api_error(rs, 400, "malformed JSON at line %d, column %d: %s", je.line, je.column,
		          je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_error(rs, 400, "request body is not a JSON object");
		return NULL;
	}
	char path[256] = "";
	if (!lists_bounded(r->api, j, path, 0, sizeof(path), rs)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int
api_zone_id_decode(const char *id, uint8_t *wire)
{
	char buf[DNS_NAME_TEXT_MAX + 2];
	size_t n = 0;
	for (const char *p = id; *p != '\0'; p++) {
		char c = *p;
		if (c == '=') {
			/* PowerDNS escapes '/' and '=' in zone ids as =XX */
			uint8_t v;
			if (p[1] == '\0' || p[2] == '\0' || hex_decode(p + 1, 2, &v, 1) != 1)
				return -EINVAL;
			c = (char)v;
			p += 2;
		}
		if (n + 1 >= sizeof(buf))
			return -EINVAL;
		buf[n++] = c;
	}
	if (n == 0)
		return -EINVAL;
	if (dns_name_from_text(buf, n, NULL, wire) <= 0)
		return -EINVAL;
	return 0;
}

void
api_zone_id_encode(const char *name, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = name; *p != '\0' && n + 4 < cap; p++) {
		if (*p == '/' || *p == '=') {
			n += (size_t)snprintf(out + n, cap - n, "=%02X", (unsigned char)*p);
		} else {
			out[n++] = *p;
		}
	}
	if (cap > 0)
		out[n < cap ? n : cap - 1] = '\0';
}

bool
api_if_match(struct api_req *r, uint32_t *serial, bool *bad)
{
	*bad = false;
	const char *v = api_header(r, "If-Match");
	if (v == NULL)
		return false;
	while (*v == ' ')
		v++;
	if (strcmp(v, "*") == 0)
		return false;
	if (strncmp(v, "W/", 2) == 0)
		v += 2;
	if (*v == '"')
		v++;
	char *end = NULL;
	errno = 0;
	unsigned long long s = strtoull(v, &end, 10);
	if (end == v || errno != 0 || s > UINT32_MAX || (*end != '"' && *end != '\0')) {
		*bad = true;
		return false;
	}
	*serial = (uint32_t)s;
	return true;
}

/* ---- authentication ------------------------------------------------------- */

static bool
ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= (uint8_t)(a[i] ^ b[i]);
	return acc == 0;
}

static bool
authenticate(struct api_req *r)
{
	const char *key = api_header(r, "X-API-Key");
	if (key == NULL || key[0] == '\0') {
		/* Prometheus's `authorization` (and others) send the key as a bearer token */
		const char *a = api_header(r, "Authorization");
		if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
			return false;
		key = a + 7;
		while (*key == ' ')
			key++;
		if (*key == '\0')
			return false;
	}
	uint8_t h[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), h) != 0)
		return false;
	if (ct_equal(h, r->api->key_hash, sizeof(h))) {
		r->admin = true;
		r->account = NULL;
		return true;
	}
	if (store_apikey_find(r->api->st, key, r->account_buf) == 0) {
		r->admin = false;
		r->account = r->account_buf;
		return true;
	}
	return false;
}

/* ---- routing ---------------------------------------------------------------- */

static void
discovery(struct api_resp *rs, const char *path)
{
	if (strcmp(path, "/api") == 0)
		api_json(rs, 200, json_pack("[{s:s,s:i}]", "url", "/api/v1", "version", 1));
	else
		api_json(rs, 200, json_pack("{s:s,s:s}", "server_url", "/api/v1/servers{/server}",
		                            "api_features", ""));
}

static void
dispatch(struct api_req *r, struct api_resp *rs)
{
	const char *p = r->path;
	size_t plen = strlen(p);
	while (plen > 1 && p[plen - 1] == '/')
		r->path[--plen] = '\0';
	if (!authenticate(r)) {
		if (strcmp(p, "/metrics") == 0)
			r->route = R_METRICS;
		api_error(rs, 401, "Unauthorized: missing or wrong X-API-Key");
		return;
	}
	if (strcmp(p, "/metrics") == 0) {
		/* server-wide numbers: the admin key only (or the --metrics listener) */
		r->route = R_METRICS;
		if (!r->admin)
			api_error(rs, 403, "/metrics needs the admin API key");
		else
			api_metrics(r, rs);
		return;
	}
	if (strcmp(p, "/api") == 0 || strcmp(p, "/api/v1") == 0) {
		r->route = R_DISCOVERY;
		discovery(rs, p);
		return;
	}
	if (strcmp(p, "/api/v1/servers") == 0) {
		r->route = R_SERVERS;
		api_servers(r, rs);
		return;
	}
	if (strncmp(p, API_PREFIX, strlen(API_PREFIX)) != 0) {
		api_error(rs, 404, "Not Found");
		return;
	}
	const char *rest = p + strlen(API_PREFIX);
	if (*rest == '\0') {
		r->route = R_SERVER;
		api_servers(r, rs);
	} else if (strcmp(rest, "/config") == 0 || strncmp(rest, "/config/", 8) == 0) {
		r->route = R_CONFIG;
		api_config(r, rs);
	} else if (strcmp(rest, "/statistics") == 0) {
		r->route = R_STATISTICS;
		api_statistics(r, rs);
	} else if (strcmp(rest, "/search-data") == 0) {
		r->route = R_SEARCH;
		api_search(r, rs);
	} else if (strcmp(rest, "/zones") == 0 || strncmp(rest, "/zones/", 7) == 0) {
		r->route = R_ZONES;
		api_zones_route(r, rs, rest + 6);
	} else if (strcmp(rest, "/tsigkeys") == 0 || strncmp(rest, "/tsigkeys/", 10) == 0) {
		r->route = rest[9] ? R_TSIGKEY : R_TSIGKEYS;
		api_tsigkeys(r, rs, rest[9] ? rest + 10 : NULL);
	} else if (strcmp(rest, "/apikeys") == 0 || strncmp(rest, "/apikeys/", 9) == 0) {
		r->route = rest[8] ? R_APIKEY : R_APIKEYS;
		api_apikeys(r, rs, rest[8] ? rest + 9 : NULL);
	} else if (strcmp(rest, "/secondaries") == 0 || strncmp(rest, "/secondaries/", 13) == 0) {
		r->route = rest[12] ? R_SECONDARY : R_SECONDARIES;
		api_secondaries(r, rs, rest[12] ? rest + 13 : NULL);
	} else if (strcmp(rest, "/mesh/wireguard.conf") == 0) {
		r->route = R_MESH_CONF;
		api_mesh_conf(r, rs);
	} else {
		api_error(rs, 404, "Not Found");
	}
}

/* ---- MHD glue ------------------------------------------------------------------ */

static void
account(struct api *a, struct api_req *r, unsigned status)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
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

/* Status of a metrics slot (inverse of the mapping in account()). */
unsigned
api_slot_status(unsigned slot)
{
	static const unsigned codes[] = {200, 201, 204, 400, 401, 403, 404, 409, 410, 412, 413, 422, 500};
	if (slot >= 1 && slot - 1 < sizeof(codes) / sizeof(codes[0]))
		return codes[slot - 1];
	return 0;
}

const double *
api_lat_bounds(void)
{
	return lat_bounds;
}

static enum MHD_Result
send_resp(struct api *a, struct api_req *r, struct api_resp *rs)
{
	if (rs->status == 0)
		api_error(rs, 500, "no response");
	struct MHD_Response *resp;
	if (rs->stream != NULL) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, rs->stream,
		                                         rs->stream_cls, rs->stream_free);
		rs->stream = NULL;
	} else if (rs->body != NULL) {
		resp = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
		rs->body = NULL;
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (resp == NULL)
		return MHD_NO;
	if (rs->ctype != NULL)
		MHD_add_response_header(resp, "Content-Type", rs->ctype);
	if (rs->etag[0] != '\0')
		MHD_add_response_header(resp, "ETag", rs->etag);
	if (rs->location[0] != '\0')
		MHD_add_response_header(resp, "Location", rs->location);
	if (rs->link[0] != '\0')
		MHD_add_response_header(resp, "Link", rs->link);
	if (rs->serials) {
		char v[16];
		snprintf(v, sizeof(v), "%u", rs->old_serial);
		MHD_add_response_header(resp, "X-PDNS-Old-Serial", v);
		snprintf(v, sizeof(v), "%u", rs->new_serial);
		MHD_add_response_header(resp, "X-PDNS-New-Serial", v);
	}
	MHD_add_response_header(resp, "Server", "anycst");
	enum MHD_Result ret = MHD_queue_response(r->conn, rs->status, resp);
	MHD_destroy_response(resp);
	account(a, r, rs->status);
	return ret;
}

/* ---- connection deadlines --------------------------------------------------------- */

/* One accepted connection (the MHD socket context) on the api's list. */
struct api_conn {
	struct api_conn *prev, *next;
	int fd;
	int64_t deadline_ms;   /* CLOCK_MONOTONIC; INT64_MAX: none */
	bool swept;            /* shut down already */
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the deadline of `conn` to now + `ms` (`ms` < 0: none). */
static void
conn_set_deadline(struct api *a, struct MHD_Connection *conn, int64_t ms)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct api_conn *c = ci != NULL ? ci->socket_context : NULL;
	if (c == NULL)
		return;
	int64_t d = ms < 0 ? INT64_MAX : now_ms() + ms;
	pthread_mutex_lock(&a->cmu);
	c->deadline_ms = d;
	pthread_mutex_unlock(&a->cmu);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
	struct api *a = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct api_conn *c = calloc(1, sizeof(*c));
		if (c == NULL || ci == NULL) {
			free(c);   /* without a deadline MHD's idle timeout still applies */
			return;
		}
		c->fd = ci->connect_fd;
		c->deadline_ms = now_ms() + (int64_t)a->o.header_timeout * 1000;
		pthread_mutex_lock(&a->cmu);
		c->next = a->conns;
		if (a->conns != NULL)
			a->conns->prev = c;
		a->conns = c;
		pthread_mutex_unlock(&a->cmu);
		*socket_context = c;
		return;
	}
	struct api_conn *c = *socket_context;
	if (c == NULL)
		return;
	pthread_mutex_lock(&a->cmu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&a->cmu);
	free(c);
	*socket_context = NULL;
}

/*
 * Shuts down every connection past its deadline, four times a second.  Only
 * shutdown(): the fd stays MHD's, which closes it after on_connection(CLOSED)
 * has taken it off the list under the same mutex.
 */
static void *
sweeper_main(void *arg)
{
	struct api *a = arg;
	uint64_t logged = 0;
	int64_t next_log = 0;
	pthread_mutex_lock(&a->cmu);
	while (a->sweeping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->ccv, &a->cmu, &ts);
		int64_t now = now_ms();
		unsigned n = 0;
		for (struct api_conn *c = a->conns; c != NULL; c = c->next) {
			if (c->swept || now < c->deadline_ms)
				continue;
			shutdown(c->fd, SHUT_RDWR);
			c->swept = true;
			n++;
		}
		a->deadline_closed += n;
		if (a->deadline_closed > logged && now >= next_log) {
			/* at most one line a minute under attack */
			log_notice(NULL, "API, closed %llu connection(s) past their header or body deadline",
			           (unsigned long long)(a->deadline_closed - logged));
			logged = a->deadline_closed;
			next_log = now + 60000;
		}
	}
	pthread_mutex_unlock(&a->cmu);
	return NULL;
}

/*
 * On the first call of a request: a Content-Length above max_body gets its
 * 413 at once, before any of the body is read (MHD then closes the connection
 * instead of reading the rest).
 */
static enum MHD_Result
body_announced_too_big(struct api *a, struct api_req *r)
{
	const char *cl = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return MHD_YES;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(cl, &end, 10);
	if (end == cl || errno != 0 || v <= a->o.max_body)
		return MHD_YES;   /* MHD refuses a malformed length itself */
	r->too_big = true;
	r->queued = true;
	struct api_resp rs = {0};
	api_error(&rs, 413, "request body of %llu bytes is larger than the limit of %zu bytes", v,
	          a->o.max_body);
	enum MHD_Result ret = send_resp(a, r, &rs);
	free(rs.body);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct api *a = cls;
	struct api_req *r = *con_cls;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->api = a;
		r->conn = conn;
		r->method = method;
		r->path = strdup(url);
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		if (r->path == NULL) {
			free(r);
			return MHD_NO;
		}
		*con_cls = r;
		/* headers are in: from now on the body has its own deadline */
		conn_set_deadline(a, conn, (int64_t)a->o.body_timeout * 1000);
		return body_announced_too_big(a, r);
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->too_big || r->body_len + n > a->o.max_body) {
			r->too_big = true;
			return MHD_YES;
		}
		if (r->body_len + n + 1 > r->body_cap) {
			size_t cap = r->body_cap ? r->body_cap : 4096;
			while (cap < r->body_len + n + 1)
				cap *= 2;
			char *nb = realloc(r->body, cap);
			if (nb == NULL)
				return MHD_NO;
			r->body = nb;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload, n);
		r->body_len += n;
		r->body[r->body_len] = '\0';
		return MHD_YES;
	}
	(void)upload;
	/* the whole request is in; the handler and the response have no deadline */
	conn_set_deadline(a, conn, -1);
	if (r->queued)
		return MHD_YES;   /* refused on its announced length already */
	struct api_resp rs = {0};
	if (r->too_big)
		api_error(&rs, 413, "request body larger than the limit of %zu bytes", a->o.max_body);
	else
		dispatch(r, &rs);
	enum MHD_Result ret = send_resp(a, r, &rs);
	free(rs.body);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct api *a = cls;
	/* a kept-alive connection now waits for the next request's headers */
	conn_set_deadline(a, conn, (int64_t)a->o.header_timeout * 1000);
	struct api_req *r = *con_cls;
	if (r == NULL)
		return;
	free(r->body);
	free(r->path);
	free(r);
	*con_cls = NULL;
}

static void
sweeper_stop(struct api *a)
{
	pthread_mutex_lock(&a->cmu);
	bool running = a->sweeping;
	a->sweeping = false;
	pthread_cond_signal(&a->ccv);
	pthread_mutex_unlock(&a->cmu);
	if (running)
		pthread_join(a->sweeper, NULL);
}

int
api_start(const struct api_opts *o, struct store *st, struct api **out, char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (addr_parse(o->listen, 8081, &ss, &sl) != 0) {
		snprintf(err, errcap, "--api: bad address '%s'", o->listen);
		return -EINVAL;
	}
	struct api *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->o = *o;
	if (a->o.max_body == 0)
		a->o.max_body = 16u << 20;
	if (a->o.max_rrsets == 0)
		a->o.max_rrsets = 10000;
	if (a->o.max_records == 0)
		a->o.max_records = 10000;
	if (a->o.version == NULL)
		a->o.version = "0.1.0";
	if (a->o.max_conns == 0)
		a->o.max_conns = 512;
	if (a->o.max_conn_per_ip == 0)
		a->o.max_conn_per_ip = 32;
	if (a->o.header_timeout == 0)
		a->o.header_timeout = 10;
	if (a->o.body_timeout == 0)
		a->o.body_timeout = 60;
	a->st = st;
	a->started = time(NULL);
	a->key = strdup(o->key ? o->key : "");
	pthread_mutex_init(&a->mmu, NULL);
	pthread_mutex_init(&a->cmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->ccv, &ca);
	pthread_condattr_destroy(&ca);
	int ret = -ENOMEM;
	if (a->key == NULL ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, a->key, strlen(a->key), a->key_hash) != 0)
		goto fail;
	a->sweeping = true;
	if (pthread_create(&a->sweeper, NULL, sweeper_main, a) != 0) {
		a->sweeping = false;
		snprintf(err, errcap, "--api: cannot start a thread");
		goto fail;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_POLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->mhd = MHD_start_daemon(flags, addr_port((struct sockaddr *)&ss), NULL, NULL, on_request, a,
	                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
	                          MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
	                          MHD_OPTION_CONNECTION_LIMIT, a->o.max_conns,
	                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, a->o.max_conn_per_ip,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                          MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (a->mhd == NULL) {
		snprintf(err, errcap, "--api: cannot listen on %s", o->listen);
		ret = -EADDRINUSE;
		goto fail;
	}
	if (o->metrics_listen != NULL) {
		ret = api_metrics_listen(a, o->metrics_listen, err, errcap);
		if (ret != 0) {
			api_stop(a);
			return ret;
		}
	}
	char buf[ADDR_TEXT_MAX];
	addr_fmt_ip((struct sockaddr *)&ss, buf, sizeof(buf));
	log_notice(NULL, "API listening on %s%s%s:%u", ss.ss_family == AF_INET6 ? "[" : "", buf,
	           ss.ss_family == AF_INET6 ? "]" : "", addr_port((struct sockaddr *)&ss));
	*out = a;
	return 0;
fail:
	sweeper_stop(a);
	pthread_cond_destroy(&a->ccv);
	pthread_mutex_destroy(&a->cmu);
	pthread_mutex_destroy(&a->mmu);
	free(a->key);
	free(a);
	return ret;
}

void
api_stop(struct api *a)
{
	if (a == NULL)
		return;
	sweeper_stop(a);
	if (a->metrics_mhd != NULL)
		MHD_stop_daemon(a->metrics_mhd);
	MHD_stop_daemon(a->mhd);
	pthread_cond_destroy(&a->ccv);
	pthread_mutex_destroy(&a->cmu);
	pthread_mutex_destroy(&a->mmu);
	free(a->key);
	free(a);
}
