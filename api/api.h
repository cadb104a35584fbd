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
struct propagation;
struct mesh;

/*
 * Extra lines for GET /metrics from another module (the QUIC listener's
 * counters): `fn` writes Prometheus text into `buf` (`cap` bytes) and
 * returns its length or a negative code.
 */
typedef int (*api_metrics_fn)(void *ctx, char *buf, size_t cap);

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
	/*
	 * The other modules the API shows, borrowed (they must outlive the
	 * api), each NULL when not running: the transfer side's propagation
	 * table (GET /zones/{id}/propagation), the POP registry of primary/mesh.c
	 * (/secondaries, /mesh/wireguard.conf), and extra /metrics lines with
	 * their context.
	 */
	struct propagation *propagation;
	struct mesh *mesh;
	api_metrics_fn metrics_fn;
	void *metrics_ctx;
};

/*
 * Starts listening.  `st` is borrowed and must outlive the api.  Returns 0,
 * -EINVAL (bad address, message in err), -EADDRINUSE / -EIO (cannot listen).
 */
int api_start(const struct api_opts *o, struct store *st, struct api **out, char *err,
              size_t errcap);
/*
 * A reload's new limits (SIGHUP): each field not 0 replaces the running
 * value; requests already reading their body keep the limit they started
 * with.  Connections stay open.  Thread-safe.
 */
struct api_limits {
	size_t max_body, max_rrsets, max_records;
	unsigned header_timeout, body_timeout;
	unsigned max_conn_per_ip;   /* new connections beyond it are closed at accept */
};
void api_set_limits(struct api *a, const struct api_limits *l);

/* Stops accepting, waits for the running requests, frees.  NULL ok. */
void api_stop(struct api *a);

#endif
