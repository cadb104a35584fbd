/*
 * Shared between the API's files: one request, one response, helpers.
 * Not for use outside api/.
 */
#ifndef API_INTERNAL_H
#define API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "api/api.h"
#include "primary/store.h"

#define API_PREFIX "/api/v1/servers/localhost"

enum api_route {
	R_OTHER, R_DISCOVERY, R_SERVERS, R_SERVER, R_CONFIG, R_STATISTICS, R_ZONES, R_ZONE,
	R_ZONE_EXPORT, R_ZONE_NOTIFY, R_ZONE_JOURNAL, R_TSIGKEYS, R_TSIGKEY, R_APIKEYS, R_APIKEY,
	R_SEARCH, R_METRICS, R_ZONE_PROPAGATION, R_SECONDARIES, R_SECONDARY, R_MESH_CONF, R_COUNT
};

#define API_STATUS_SLOTS 16
#define API_LAT_BUCKETS 12

struct api {
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *metrics_mhd;   /* --metrics listener, NULL when none */
	struct store *st;
	struct api_opts o;
	char *key;
	uint8_t key_hash[32];
	time_t started;
	pthread_mutex_t mmu;   /* metrics */
	uint64_t req_count[R_COUNT][API_STATUS_SLOTS];
	uint64_t lat_bucket[API_LAT_BUCKETS + 1];
	double lat_sum;
	uint64_t lat_count;
	/* request deadlines (api/http.c): every open connection, swept by `sweeper` */
	pthread_mutex_t cmu;
	pthread_cond_t ccv;
	struct api_conn *conns;
	bool sweeping;
	pthread_t sweeper;
	uint64_t deadline_closed;
};

struct api_req {
	struct api *api;
	struct MHD_Connection *conn;
	const char *method;
	char *path;
	char *body;
	size_t body_len, body_cap;
	bool too_big;
	bool queued;           /* a response is queued already (413 on Content-Length) */
	bool admin;
	const char *account;   /* NULL for the admin key, else the key's account */
	char account_buf[STORE_ACCOUNT_MAX];
	struct timespec start;
	enum api_route route;
};

struct api_resp {
	unsigned status;
	char *body;            /* malloc'd, may be NULL */
	size_t body_len;
	const char *ctype;
	char etag[32];
	bool serials;
	uint32_t old_serial, new_serial;
	char location[DNS_NAME_TEXT_MAX * 3 + 64];
	char link[DNS_NAME_TEXT_MAX * 3 + 128];
	/* streamed body (chunked) instead of `body`: */
	MHD_ContentReaderCallback stream;
	void *stream_cls;
	MHD_ContentReaderFreeCallback stream_free;
};

/* Query argument or NULL. */
const char *api_arg(struct api_req *r, const char *name);
/* Request header (any letter case) or NULL. */
const char *api_header(struct api_req *r, const char *name);

/* Sets a JSON body (compact, keys sorted); takes `j`. */
void api_json(struct api_resp *rs, unsigned status, json_t *j);
/* {"error": "..."} */
void api_error(struct api_resp *rs, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Maps a store error code to a status and message. */
void api_store_error(struct api_resp *rs, int code, const char *detail);

/* Parses the body as a JSON object; on failure sets a 400/422 and returns NULL. */
json_t *api_body_object(struct api_req *r, struct api_resp *rs);

/* Zone id (PowerDNS spelling, =2F escapes, trailing dot optional) -> wire. 0 or -EINVAL. */
int api_zone_id_decode(const char *id, uint8_t *wire);
/* Presentation name -> id (escapes '/' and '='); writes at most cap bytes. */
void api_zone_id_encode(const char *name, char *out, size_t cap);

/* Parses If-Match into *serial; returns false when absent or "*". Sets *bad on garbage. */
bool api_if_match(struct api_req *r, uint32_t *serial, bool *bad);

/*
 * Validates a PATCH body for `zone` (wire) exactly as PATCH does, without
 * touching the store (for the fuzz target and tests).  Returns 0 with *nops
 * rrsets parsed, or a negative code with the error response in `rs`.
 */
int api_patch_check(struct api_req *r, struct api_resp *rs, const uint8_t *zone, size_t *nops);
/*
 * PATCH /zones/{id} of `zone` (wire) as the handler does it once the zone
 * is found, without If-Match: parses r->body and applies it to r->api->st
 * (204 with the serials in rs, or the error).  For the fuzz target.
 */
void api_patch_apply(struct api_req *r, struct api_resp *rs, const uint8_t *zone);

/* Handlers, by file. */
void api_zones_route(struct api_req *r, struct api_resp *rs, const char *rest);
void api_servers(struct api_req *r, struct api_resp *rs);
void api_config(struct api_req *r, struct api_resp *rs);
void api_statistics(struct api_req *r, struct api_resp *rs);
void api_search(struct api_req *r, struct api_resp *rs);
void api_tsigkeys(struct api_req *r, struct api_resp *rs, const char *id);
void api_apikeys(struct api_req *r, struct api_resp *rs, const char *id);
void api_metrics(struct api_req *r, struct api_resp *rs);
/* metrics_listen.c: starts the keyless /metrics listener of o.metrics_listen. 0 or <0, err. */
int api_metrics_listen(struct api *a, const char *listen, char *err, size_t errcap);
/* propagation.c (transfer side): GET /zones/{id}/propagation */
void api_zone_propagation(struct api_req *r, struct api_resp *rs, const char *id);
/* secondaries.c (mesh): /secondaries[/{name}] and /mesh/wireguard.conf */
void api_secondaries(struct api_req *r, struct api_resp *rs, const char *name);
void api_mesh_conf(struct api_req *r, struct api_resp *rs);

/* Metrics helpers (http.c). */
unsigned api_slot_status(unsigned slot);
const double *api_lat_bounds(void);

/* Route names for metrics labels. */
extern const char *const api_route_names[R_COUNT];

#endif
