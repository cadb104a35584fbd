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
#include "util/arena.h"

#define API_PREFIX "/api/v1/servers/localhost"

enum api_route {
	R_OTHER, R_DISCOVERY, R_SERVERS, R_SERVER, R_CONFIG, R_STATISTICS, R_ZONES, R_ZONE,
	R_ZONE_EXPORT, R_ZONE_NOTIFY, R_ZONE_JOURNAL, R_TSIGKEYS, R_TSIGKEY, R_APIKEYS, R_APIKEY,
	R_SEARCH, R_METRICS, R_ZONE_PROPAGATION, R_SECONDARIES, R_SECONDARY, R_MESH_CONF, R_AUDIT,
	R_UI, R_MESH_NODES, R_COUNT
};

/* A limit of api_opts that a reload may change (api_set_limits): read atomically. */
#define API_LIM(a, f) __atomic_load_n(&(a)->o.f, __ATOMIC_RELAXED)

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
	int64_t key_id;        /* the API key's id; 0 for the admin key */
	char account_buf[STORE_ACCOUNT_MAX];
	double start;                 /* clock_mono_s() at arrival */
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

/* ---- common.c: the lowest layer, calls nothing else in api/ ---------------- */

/* Query argument or NULL. */
/* The zone of `id` visible to the request's key, in a new snapshot (api/zones.c);
 * 0 or an error already answered (404 ...). */
int api_find_zone(struct api_req *r, struct api_resp *rs, const char *id, struct store_snap **sn,
                  struct store_zone *z);

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
/* ETag of a zone at `serial`. */
void api_set_etag(struct api_resp *rs, uint32_t serial);

/* Parses the body as a JSON object; on failure sets a 400/422 and returns NULL. */
json_t *api_body_object(struct api_req *r, struct api_resp *rs);

/* Zone id (PowerDNS spelling, =2F escapes, trailing dot optional) -> wire. 0 or -EINVAL. */
int api_zone_id_decode(const char *id, uint8_t *wire);
/* Presentation name -> id (escapes '/' and '='); writes at most cap bytes. */
void api_zone_id_encode(const char *name, char *out, size_t cap);

/* Parses If-Match into *serial; returns false when absent or "*". Sets *bad on garbage. */
bool api_if_match(struct api_req *r, uint32_t *serial, bool *bad);

/* Sets r->admin and r->account from the request's key; false: no valid key. */
bool api_authenticate(struct api_req *r);

/* ---- rrsets.c and zonetext.c: bodies into store ops ------------------------- */

#define API_TEXT_CAP (DNS_RDATA_MAX * 4 + 2048)

/* Scratch of one /zones request. */
struct api_ctx {
	struct api_req *r;
	struct api_resp *rs;
	struct arena ar;
	char *text;    /* API_TEXT_CAP bytes of scratch for rdata text */
	uint8_t *rd, *probe;   /* DNS_RDATA_MAX bytes each: content parsing scratch */
};

/* Ops parsed from a body, in c->ar. */
struct api_parsed {
	struct store_op *ops;
	size_t n;
};

/* 0, or -ENOMEM with a 500 in rs. */
int api_ctx_init(struct api_ctx *c, struct api_req *r, struct api_resp *rs);
void api_ctx_clear(struct api_ctx *c);
/* An "rrsets" array into ops (PATCH: with changetypes). 0 or <0 with the error set. */
int api_rrsets_parse(struct api_ctx *c, json_t *arr, const uint8_t *zone, bool patch,
                     struct api_parsed *p);
/* PATCH's body (parsed) applied to `zone`: 204 with the serials, or the error. */
void api_rrsets_patch(struct api_ctx *c, const uint8_t *zone, json_t *body,
                      const uint32_t *if_match);
/* Records only a signer makes (refused from users until the primary signs). */
bool api_dnssec_type_refused(uint16_t t);
/* A zone's DNSSEC fields (rrsets.c: api_dnssec_fields). */
struct api_dnssec {
	bool has_dnssec, dnssec;
	bool has_nsec3param, nsec3;
	bool ds_removed;      /* with dnssec false: the parent has no DS, unsign at once */
};
int api_dnssec_fields(struct store *st, struct api_resp *rs, json_t *body, struct api_dnssec *d);
/* Zone text into REPLACE ops (zonetext.c). 0 or <0 with the error set. */
int api_zonetext_parse(struct api_ctx *c, json_t *jz, const uint8_t *zone, struct api_parsed *p);

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

/* ---- handlers, by file; the route table (routes.c) calls them ---------------- */

/*
 * `id` is the path's variable part (a zone id, a key id, a POP name) or
 * NULL.  The table has checked the path, the method (except where a handler
 * orders its checks itself) and the scope.
 */
typedef void api_handler(struct api_req *r, struct api_resp *rs, const char *id);

/* zones.c */
api_handler api_zones_list, api_zones_create, api_zone_get, api_zone_patch, api_zone_put,
	api_zone_delete, api_zone_export, api_zone_notify, api_zone_journal, api_zone_metadata,
	api_zone_cryptokeys, api_zone_rectify;
/* servers.c */
api_handler api_discovery, api_servers, api_config, api_statistics, api_search;
/* tsigkeys.c, apikeys.c (admin scope) */
api_handler api_tsigkeys_list, api_tsigkeys_create, api_tsigkey, api_apikeys_list,
	api_apikeys_create, api_apikey_delete;
/* metrics.c */
api_handler api_metrics;
/* propagation.c (transfer side): GET /zones/{id}/propagation */
api_handler api_zone_propagation;
/* secondaries.c (mesh, admin scope): /secondaries[/{name}] and /mesh/wireguard.conf */
api_handler api_secondaries_list, api_secondaries_add, api_secondary, api_mesh_conf,
	api_mesh_nodes, api_mesh_node;
api_handler api_audit_list, api_ui;

/* routes.c: finds the route of r->path (trailing slashes dropped), checks the key and scope, calls it. */
void api_dispatch(struct api_req *r, struct api_resp *rs);
/*
 * Around the handler of a change (not GET/HEAD; api/audit.c): begin arms the
 * request's audit row in the store, so the change's own transaction writes
 * it (`zone_id` is the zone route's {id}, else NULL); end gives it the status
 * answered (a 2xx request that committed nothing gets its row then) and logs it.
 */
void api_audit_begin(struct api_req *r, struct store_audit_arm *arm, const char *zone_id);
void api_audit_end(struct api_req *r, const struct api_resp *rs, struct store_audit_arm *arm);

/* metrics.c: counts one finished request (route, status, latency since r->start). */
void api_account(struct api *a, struct api_req *r, unsigned status);
/* metrics_listen.c: starts the keyless /metrics listener of o.metrics_listen. 0 or <0, err. */
int api_metrics_listen(struct api *a, const char *listen, char *err, size_t errcap);

/* ---- PowerDNS zone fields (api/zone_pdns.c) ---- */
struct api_zone_pdns_in {
	struct store_zone_pdns_set set;
	bool has_policy;                 /* soa_edit_api/soa_edit change the serial policy */
	enum dns_serial_policy policy;
};
/* masters, catalog, soa_edit_api, soa_edit of a zone body (cur: the zone's current
 * fields on PUT, NULL on POST); kind Slave/Consumer refused.  0, or -1 with a 422. */
int api_zone_pdns_parse(struct api_ctx *c, json_t *body, const struct store_zone_pdns *cur,
                        struct api_zone_pdns_in *in);
/* Sets masters, catalog, edited_serial, notified_serial (and soa_edit* when full). */
void api_zone_pdns_json(struct store_snap *sn, const struct store_zone *z, json_t *j, bool full);

/* api/upolicy.c: the zone field update_policy (DNS UPDATE per-key limits). */
json_t *api_upolicy_json(struct store_snap *sn, const struct store_zone *z);
/* Parses it for zone `zone` (wire) into the arena: 0, or -1 with a 422 sent. */
int api_upolicy_parse(struct api_ctx *c, json_t *j, const uint8_t *zone,
                      const struct store_upolicy_rule **out, size_t *n);

/* ---- api/metadata.c: metadata, axfr-retrieve, autoprimaries, cache flush ---- */
api_handler api_zone_metadata_kind, api_zone_axfr_retrieve, api_autoprimaries, api_cache_flush;
api_handler api_docs;   /* api/servers.c: GET /api/docs */

#endif
