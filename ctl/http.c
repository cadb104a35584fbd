/*
 * anycstc's API client: libcurl, one handle per run (keep-alive between the
 * batches of an import), the key in X-API-Key, JSON bodies, the ETag kept.
 */
#include "ctl/ctl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

static size_t
on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct ctl_resp *r = ctx;
	return strbuf_append(&r->body, p, sz * n) == 0 ? sz * n : 0;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ctx)
{
	struct ctl_resp *r = ctx;
	size_t len = sz * n;
	if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
		const char *v = p + 5;
		size_t vl = len - 5;
		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < sizeof(r->etag)) {
			memcpy(r->etag, v, vl);
			r->etag[vl] = '\0';
		}
	}
	return len;
}

void
ctl_resp_clear(struct ctl_resp *r)
{
	strbuf_clear(&r->body);
	memset(r, 0, sizeof(*r));
}

void
ctl_zone_id(const char *name, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && n + 7 < cap; p++) {
		if (*p == '/' || *p == '=') {
			/* the API's own escape, then '=' itself percent-encoded */
			out[n++] = '%';
			out[n++] = '3';
			out[n++] = 'D';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		           (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_') {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (cap > 0)
		out[n < cap ? n : cap - 1] = '\0';
}

int
ctl_http(struct ctl *c, const char *method, const char *path, const char *body, size_t len,
         const char *if_match, struct ctl_resp *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body);
	if (c->curl == NULL) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		c->curl = curl_easy_init();
		if (c->curl == NULL) {
			snprintf(r->err, sizeof(r->err), "cannot start the HTTP client");
			return -1;
		}
	}
	CURL *h = c->curl;
	curl_easy_reset(h);
	struct strbuf url;
	strbuf_init(&url);
	size_t ul = strlen(c->url);
	while (ul > 0 && c->url[ul - 1] == '/')
		ul--;
	strbuf_append(&url, c->url, ul);
	if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0 && strcmp(path, "/metrics") != 0)
		strbuf_append(&url, CTL_PREFIX, strlen(CTL_PREFIX));
	strbuf_append(&url, path, strlen(path));
	struct curl_slist *hdrs = NULL;
	char line[700];
	snprintf(line, sizeof(line), "X-API-Key: %s", c->key);
	hdrs = curl_slist_append(hdrs, line);
	/* export answers zone text unless JSON is asked for */
	size_t pl = strlen(path);
	if (pl < 7 || strcmp(path + pl - 7, "/export") != 0)
		hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body != NULL)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (if_match != NULL) {
		snprintf(line, sizeof(line), "If-Match: %s", if_match);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, strbuf_str(&url));
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	}
	CURLcode cc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	int ret = 0;
	if (cc != CURLE_OK) {
		snprintf(r->err, sizeof(r->err), "%s: %s", strbuf_str(&url), curl_easy_strerror(cc));
		ret = -1;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	}
	strbuf_clear(&url);
	if (r->body.err != 0 && ret == 0) {
		snprintf(r->err, sizeof(r->err), "out of memory reading the answer");
		r->status = 0;
		ret = -1;
	}
	return ret;
}

int
ctl_fail(const struct ctl_resp *r, const char *what)
{
	if (r->status == 0) {
		ctl_err("%s: cannot reach the API: %s", what, r->err);
		return CTL_ECONNECT;
	}
	json_t *j = json_loads(strbuf_str(&r->body), 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	if (msg != NULL)
		ctl_err("%s: %s (HTTP %ld)", what, msg, r->status);
	else
		ctl_err("%s: HTTP %ld %.200s", what, r->status, strbuf_str(&r->body));
	json_decref(j);
	switch (r->status) {
	case 401:
	case 403:
		return CTL_EAUTH;
	case 404:
		return CTL_ENOTFOUND;
	case 409:
	case 412:
		return CTL_ECONFLICT;
	default:
		return CTL_EFAIL;
	}
}

json_t *
ctl_get_json(struct ctl *c, const char *path, int *rc)
{
	struct ctl_resp r;
	json_t *j = NULL;
	if (ctl_http(c, "GET", path, NULL, 0, NULL, &r) != 0 || r.status != 200) {
		*rc = ctl_fail(&r, path);
	} else {
		json_error_t je;
		j = json_loads(strbuf_str(&r.body), JSON_DECODE_ANY, &je);
		if (j == NULL) {
			ctl_err("%s: the answer is not JSON: %s", path, je.text);
			*rc = CTL_EFAIL;
		}
	}
	ctl_resp_clear(&r);
	return j;
}

int
ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, const char *what)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	struct ctl_resp r;
	int rc = CTL_OK;
	if (ctl_http(c, method, path, text, text ? strlen(text) : 0, NULL, &r) != 0 ||
	    r.status < 200 || r.status > 299)
		rc = ctl_fail(&r, what);
	else if (c->json && r.body.len > 0)
		printf("%s\n", strbuf_str(&r.body));
	free(text);
	ctl_resp_clear(&r);
	return rc;
}
