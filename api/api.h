/*
 * The REST API: PowerDNS Authoritative API v1 on libmicrohttpd + jansson,
 * plus anycst's extensions (journal, API keys, /metrics).  Runs its own
 * threads (one per connection); handlers read through store snapshots and
 * write through the store's single writer.
 */
#ifndef API_API_H
#define API_API_H

#include <stddef.h>
#include <stdint.h>

#include "primary/store.h"

struct api;

struct api_opts {
	const char *listen;        /* "127.0.0.1:8081", "[::1]:8081" */
	const char *key;           /* admin key (X-API-Key) */
	size_t max_body;           /* bytes; 0: 16 MiB */
	size_t max_rrsets;         /* rrsets per request; 0: 10000 */
	size_t max_records;        /* records per rrset; 0: 10000 */
	const char *version;       /* "N.N.N" */
	const char *quic_spki_pin; /* served in the server object, NULL: none */
	unsigned max_conns;        /* connections in total; 0: 512 */
	unsigned max_conn_per_ip;  /* connections per client address; 0: 32 */
	unsigned header_timeout;   /* s from connect (or the previous request) to the last header; 0: 10 */
	unsigned body_timeout;     /* s from the last header to the end of the body; 0: 60 */
	const char *metrics_listen; /* GET /metrics without a key here, NULL: none (--metrics) */
};

/*
 * Starts listening.  `st` is borrowed and must outlive the api.  Returns 0,
 * -EINVAL (bad address, message in err), -EADDRINUSE / -EIO (cannot listen).
 */
int api_start(const struct api_opts *o, struct store *st, struct api **out, char *err,
              size_t errcap);
/* Stops accepting, waits for the running requests, frees.  NULL ok. */
void api_stop(struct api *a);

/*
 * Hands the transfer side's propagation table to GET /zones/{id}/propagation
 * (api/propagation.c); borrowed, must outlive the api.  Call before api_start.
 */
struct propagation;
void api_propagation_attach(struct propagation *p);

/*
 * Hands the POP registry (primary/mesh.c) to /secondaries and
 * /mesh/wireguard.conf (api/secondaries.c); borrowed, must outlive the api.
 */
struct mesh;
void api_mesh_attach(struct mesh *m);

/*
 * Extra lines for GET /metrics from another module (the QUIC listener's
 * counters): `fn` writes Prometheus text into `buf` (`cap` bytes) and
 * returns its length or a negative code.  `ctx` is borrowed and must
 * outlive the api.  Call before api_start; NULL detaches.
 */
typedef int (*api_metrics_fn)(void *ctx, char *buf, size_t cap);
void api_metrics_attach(api_metrics_fn fn, void *ctx);

#endif
