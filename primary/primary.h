/*
 * One primary: the handle every module of the primary side is reached
 * through.  primary_open wires, in this order, the store, the transfer
 * service (xfr_service.h: TCP transfers, the one NOTIFY sender,
 * propagation), QUIC transfers and the mesh registry; main.c builds the
 * configuration from the options and starts the API on top (the API is
 * the only part primary/ does not include).  Nothing is global: two
 * primaries on their own databases and ports run in one process
 * (tests/unit/test_primary.c).
 */
#ifndef PRIMARY_PRIMARY_H
#define PRIMARY_PRIMARY_H

#include <stddef.h>

#include "primary/mesh.h"
#include "primary/resigner.h"
#include "primary/store.h"

struct primary_conf {
	struct store_opts store;        /* --db, --catalog, --journal-keep */
	const char *xfr;                /* --xfr ADDR:PORT */
	const char *const *notify;      /* --notify targets */
	size_t nnotify;
	const char *quic;               /* --quic ADDR:PORT */
	const char *tls_key;            /* --tls-key FILE */
	bool doq_strict;
	struct mesh_opts mesh;          /* .xfr, .quic, .catalog, .quic_pin filled in here */
	unsigned dnssec_refresh_interval; /* seconds between signature refresh passes (0: 60) */
	unsigned dnssec_refresh_batch;    /* rrsets re-signed per zone and pass (0: 200) */
	const char *dnssec_parent;        /* asked for the DS in KSK rollovers (NULL: none) */
};

struct primary {
	struct store *store;
	struct xfr_service *xfr;
	struct xfr_quic *quic;
	struct mesh *mesh;
	struct resigner *resigner;      /* NULL unless signing (--dnssec-key-file) */
	struct api *api;                /* started and stopped by the caller (main.c) */
};

/*
 * Opens the store and starts the transfer side and the mesh.  0, or a
 * negative errno with the fault in err; nothing is left running then.
 */
int primary_open(const struct primary_conf *c, struct primary **out, char *err, size_t errcap);

/*
 * Stops and frees, in the reverse order (the API, if any, must be stopped
 * first).  NULL ok.
 */
void primary_close(struct primary *p);

/*
 * The primary's own lines for GET /metrics (an api_metrics_fn, ctx = the
 * primary): the QUIC listener's, then DNS UPDATE's.  Bytes written or -1.
 */
int primary_metrics(void *ctx, char *buf, size_t cap);

#endif
