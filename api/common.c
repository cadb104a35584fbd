/*
 * The lowest layer of the API, shared by every resource file and the HTTP
 * glue: query arguments and headers, JSON and error responses, body
 * parsing with its bounds, zone ids, If-Match/ETag, and the key check.
 * Calls nothing else in api/ (only the store), so no file below it in
 * api/ can form a circle with it.
 */
#include "api/internal.h"
#include "api/idn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>

#include "util/base.h"
#include "util/err.h"
#include "util/log.h"

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
	case ERR_DB_UNKNOWN:
		/* never a guess: the client re-reads (ETag/If-Match make a retry safe) */
		api_error(rs, 503, "outcome unknown: the database connection was lost during the "
		          "commit; read the zone again before retrying");
		break;
	case ERR_DB_DOWN:
		/* nothing was written: a retry (on this node or another) is safe */
		api_error(rs, 503, "database unavailable (no writable PostgreSQL server reachable, "
		          "a failover may be under way); nothing was changed, retry");
		break;
	case ERR_DB_RETRY:
		api_error(rs, 503, "the database kept refusing the change (serialization failures); "
		          "retry");
		break;
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
		size_t lim = rrsets ? API_LIM(a, max_rrsets) : API_LIM(a, max_records);
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

void
api_set_etag(struct api_resp *rs, uint32_t serial)
{
	snprintf(rs->etag, sizeof(rs->etag), "\"%u\"", serial);
}

/* Sets r->admin / r->account from X-API-Key or a bearer token; false: no valid key. */
bool
api_authenticate(struct api_req *r)
{
	const char *key = api_header(r, "X-API-Key");
	if (key == NULL || key[0] == '\0') {
		/* Prometheus's `authorization` (and others) send the key as a bearer token */
		const char *a = api_header(r, "Authorization");
		if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
			key = a + 7;
			while (*key == ' ')
				key++;
		} else {
			/* PowerDNS also takes ?api-key= (issue 16.6) */
			key = api_arg(r, "api-key");
		}
		if (key == NULL || *key == '\0')
			return false;
	}
	uint8_t h[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), h) != 0)
		return false;
	if (ct_equal(h, r->api->key_hash, sizeof(h))) {
		r->admin = true;
		r->account = NULL;
		r->key_id = 0;
		return true;
	}
	if (store_apikey_find_id(r->api->st, key, r->account_buf, &r->key_id) == 0) {
		r->admin = false;
		r->account = r->account_buf;
		return true;
	}
	return false;
}
