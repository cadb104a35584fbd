/*
 * Wiring of one primary (see primary.h).  The order matters: the store
 * first (everything reads it), then the transfer service (the store's one
 * commit listener; it owns the propagation table and the NOTIFY sender),
 * QUIC (serves the service's xfrout), and the mesh (its POPs become NOTIFY
 * targets and the service's pop_gate asks it).  Closing runs backwards,
 * the mesh's POPs leaving the NOTIFY sender before the service stops.
 */
#include "primary/primary.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "primary/xfr_quic.h"
#include "primary/xfr_service.h"

int
primary_open(const struct primary_conf *c, struct primary **out, char *err, size_t errcap)
{
	struct primary *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	int ret = store_open(&c->store, &p->store, err, errcap);
	if (ret != 0)
		goto fail;
	struct xfr_service_opts xo = {.xfr = c->xfr, .notify = c->notify, .nnotify = c->nnotify};
	ret = xfr_service_start(&xo, p->store, &p->xfr, err, errcap);
	if (ret != 0)
		goto fail;
	struct xfr_quic_opts qo = {.listen = c->quic, .key_file = c->tls_key,
	                           .doq_strict = c->doq_strict};
	ret = xfr_quic_start(&qo, xfr_service_xfrout(p->xfr), &p->quic, err, errcap);
	if (ret != 0)
		goto fail;
	struct mesh_opts mo = c->mesh;
	mo.xfr = c->xfr;
	mo.quic = c->quic;
	mo.catalog = c->store.catalog;
	/* set once QUIC is served: POP command lines then use QUIC with --pin */
	mo.quic_pin = xfr_quic_pin(p->quic);
	ret = mesh_open(&mo, p->store, xfr_service_propagation(p->xfr),
	                xfr_service_notify(p->xfr), &p->mesh, err, errcap);
	if (ret != 0)
		goto fail;
	xfr_service_set_mesh(p->xfr, p->mesh);
	if (store_can_sign(p->store)) {
		ret = resigner_start(p->store, c->dnssec_refresh_interval, c->dnssec_refresh_batch,
		                     c->dnssec_parent, &p->resigner, err, errcap);
		if (ret != 0)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	primary_close(p);
	return ret;
}

void
primary_close(struct primary *p)
{
	if (p == NULL)
		return;
	resigner_stop(p->resigner);    /* writes through the store and the listener */
	mesh_stop(p->mesh);            /* its POPs leave the NOTIFY sender */
	xfr_quic_stop(p->quic);        /* its workers use xfrout, freed with the service */
	xfr_service_stop(p->xfr);      /* nothing asks the mesh after this */
	mesh_close(p->mesh);
	store_close(p->store);
	free(p);
}

int
primary_metrics(void *ctx, char *buf, size_t cap)
{
	struct primary *p = ctx;
	int n = p->quic != NULL ? xfr_quic_metrics(p->quic, buf, cap) : 0;
	if (n < 0)
		n = 0;
	int m = xfr_service_metrics(p->xfr, buf + n, cap - (size_t)n);
	return m < 0 ? n : n + m;
}
