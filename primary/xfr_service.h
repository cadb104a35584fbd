/*
 * The primary's transfer side wired together, so main.c needs two calls:
 * the TCP transfer server on --xfr, the NOTIFY sender on the same address
 * (UDP), propagation tracking, and the store's one commit listener
 * (every commit queues a NOTIFY of that zone; catalog changes notify the
 * catalog zone; PUT /zones/{id}/notify sends at once).
 */
#ifndef PRIMARY_XFR_SERVICE_H
#define PRIMARY_XFR_SERVICE_H

#include <stddef.h>

struct store;
struct propagation;
struct xfr_service;

struct xfr_service_opts {
	const char *xfr;                 /* --xfr ADDR:PORT */
	const char *const *notify;       /* --notify ADDR:PORT values */
	size_t nnotify;
};

/*
 * Starts everything and becomes the store's commit listener.  `st` is borrowed and
 * must outlive the service.  On error writes a message naming the fault
 * into `err` and returns -EINVAL (bad address), -EADDRINUSE or another
 * negative errno.
 */
int xfr_service_start(const struct xfr_service_opts *o, struct store *st,
                      struct xfr_service **out, char *err, size_t errcap);

/* Stops the threads and frees (call before store_close).  NULL ok. */
void xfr_service_stop(struct xfr_service *s);

/* The DNS UPDATE counters as Prometheus text (update_metrics); an
 * api_metrics_fn with ctx = the service.  NULL ctx: 0 bytes. */
int xfr_service_metrics(void *ctx, char *buf, size_t cap);

/* Propagation table (for GET /zones/{id}/propagation); lives as long as s. */
struct propagation *xfr_service_propagation(struct xfr_service *s);

/*
 * The transfer answer generator, for other transports (the QUIC server:
 * xfrout_begin(x, query, len, peer, "QUIC", &t) then xfrout_next() per
 * message, xfrout_end()); thread-safe, lives as long as s.
 */
struct xfrout;
struct xfrout *xfr_service_xfrout(struct xfr_service *s);

/* The one NOTIFY sender: the mesh adds its POPs to it as targets. */
struct notify;
struct notify *xfr_service_notify(struct xfr_service *s);

/*
 * Makes `targets` (ADDR:PORT, port 53 by default) the --notify targets: new
 * ones are added, gone ones removed, kept ones untouched (a reload).  All
 * addresses are checked before anything changes: -EINVAL with the bad one
 * named in err.  One caller at a time.
 */
#define XFR_SERVICE_NOTIFY_MAX 32
int xfr_service_set_notify(struct xfr_service *s, const char *const *targets, size_t n,
                           char *err, size_t errcap);

/*
 * Points the transfer ACL and xfrout at the POP registry (NULL: none), and
 * then NOTIFYs each POP of every zone whose serial it has not acknowledged
 * (pop_serials, durable): a change made before a crash still reaches the
 * POPs.  The mesh must outlive the service or be detached first.
 */
struct mesh;
void xfr_service_set_mesh(struct xfr_service *s, struct mesh *m);

#endif
