/*
 * Wiring of the transfer side (see xfr_service.h).  The service is the
 * store's one commit listener: on_commit runs on the API's threads right
 * after a commit and fans the event out by direct calls, in this order: the
 * xfrout cache forgets the zone's version, propagation records the commit
 * (or drops a deleted zone), the one NOTIFY sender queues a NOTIFY to every
 * target (--notify targets and registered POPs).  It never touches the
 * network itself.  The POP registry (mesh) is asked by xfrout and the ACL
 * through the service's pop_gate, pointed at the mesh by
 * xfr_service_set_mesh.
 */
#include "primary/xfr_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "net/addr.h"
#include "primary/mesh.h"
#include "primary/notify.h"
#include "primary/pop_gate.h"
#include "primary/propagation.h"
#include "primary/store.h"
#include "primary/xfr_tcp.h"
#include "primary/xfrout.h"
#include "primary/xfrout_store.h"
#include "util/log.h"

struct xfr_service {
	struct store *st;
	struct propagation *prop;
	struct xfrout_source src;
	struct xfrout *xo;
	struct xfr_tcp *tcp;
	struct notify *notify;
	struct pop_gate gate;  /* the POP registry's checks; ctx is the mesh */
	bool listening;        /* the store's listener is ours */
};

static bool
gate_key_is_pop(void *ctx, const char *key)
{
	return mesh_key_is_pop(ctx, key);
}

static bool
gate_xfr_check(void *ctx, const char *ip, const char *key, char *why, size_t whycap)
{
	return mesh_xfr_check(ctx, ip, key, why, whycap);
}

static void
on_commit(void *ctx, const struct store_commit *c)
{
	struct xfr_service *s = ctx;
	const uint8_t *zone = c->zone;
	char text[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(zone, text, sizeof(text)) < 0)
		return;
	xfrout_store_forget(&s->src, zone);   /* its cached version is stale now */
	if (c->kind == STORE_ZONE_DELETED) {
		propagation_drop_zone(s->prop, text);
		return;
	}
	/* created, changed, or the catalog zone changed: the same path */
	propagation_commit(s->prop, text, c->new_serial, propagation_now_ms());
	if (s->notify != NULL && notify_zone(s->notify, zone, false) != 0)
		log_warning(text, "notify, cannot queue, out of memory");
}

static int
on_notify(void *ctx, const uint8_t *zone, uint32_t serial)
{
	struct xfr_service *s = ctx;
	(void)serial;
	if (s->notify == NULL)
		return -ENOSYS;
	return notify_zone(s->notify, zone, true);
}

int
xfr_service_start(const struct xfr_service_opts *o, struct store *st, struct xfr_service **out,
                  char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int ret;
	if (addr_parse(o->xfr, 5300, &ss, &sl) != 0) {
		snprintf(err, errcap, "--xfr: bad address '%s'", o->xfr);
		return -EINVAL;
	}
	struct xfr_service *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	s->st = st;
	s->gate.key_is_pop = gate_key_is_pop;
	s->gate.xfr_check = gate_xfr_check;
	s->prop = propagation_new();
	/* POPs' acknowledged serials from the last run, before any transfer is served */
	if (s->prop != NULL) {
		ret = propagation_persist_start(s->prop, st);
		if (ret != 0) {
			snprintf(err, errcap, "cannot read the POP serials from the database, %s",
			         strerror(-ret));
			goto fail;
		}
	}
	struct xfrout_conf xc = {.prop = s->prop, .gate = &s->gate};
	if (xfrout_store_source(st, &xc.src) == 0) {
		xfrout_store_set_gate(&xc.src, &s->gate);
		s->src = xc.src;
		s->xo = s->prop != NULL ? xfrout_new(&xc) : NULL;
	}
	if (s->xo == NULL) {
		snprintf(err, errcap, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	s->tcp = xfr_tcp_new((const struct sockaddr *)&ss, sl, NULL, s->xo, &ret);
	if (s->tcp == NULL) {
		snprintf(err, errcap, "--xfr %s: cannot listen on TCP, %s", o->xfr, strerror(-ret));
		goto fail;
	}
	struct notify_source ns;
	notify_store_source(st, &ns);
	s->notify = notify_new((const struct sockaddr *)&ss, sl, &ns, s->prop, &ret);
	if (s->notify == NULL) {
		snprintf(err, errcap, "--xfr %s: cannot bind the NOTIFY socket (UDP), %s", o->xfr,
		         strerror(-ret));
		goto fail;
	}
	for (size_t i = 0; i < o->nnotify; i++) {
		struct sockaddr_storage ts;
		socklen_t tl;
		if (addr_parse(o->notify[i], 53, &ts, &tl) != 0) {
			snprintf(err, errcap, "--notify: bad address '%s'", o->notify[i]);
			ret = -EINVAL;
			goto fail;
		}
		if (notify_add_target(s->notify, (const struct sockaddr *)&ts, tl) != 0) {
			snprintf(err, errcap, "--notify: too many targets");
			ret = -EINVAL;
			goto fail;
		}
	}
	ret = xfr_tcp_start(s->tcp);
	if (ret == 0)
		ret = notify_start(s->notify);
	if (ret != 0) {
		snprintf(err, errcap, "cannot start the transfer threads, %s", strerror(-ret));
		goto fail;
	}
	struct store_listener l = {.on_commit = on_commit, .on_notify = on_notify, .ctx = s};
	ret = store_set_listener(st, &l);
	if (ret != 0) {
		snprintf(err, errcap, "the store has a commit listener already");
		goto fail;
	}
	s->listening = true;
	log_notice(NULL, "zone transfers listening on %s (TCP), NOTIFY from there (UDP), %zu "
	           "static NOTIFY targets", o->xfr, o->nnotify);
	*out = s;
	return 0;
fail:
	xfr_service_stop(s);
	return ret;
}

void
xfr_service_stop(struct xfr_service *s)
{
	if (s == NULL)
		return;
	if (s->listening)
		store_set_listener(s->st, NULL);
	notify_free(s->notify);
	xfr_tcp_free(s->tcp);
	xfrout_free(s->xo);
	xfrout_store_source_clear(&s->src);
	propagation_free(s->prop);
	free(s);
}

struct propagation *
xfr_service_propagation(struct xfr_service *s)
{
	return s->prop;
}

struct xfrout *
xfr_service_xfrout(struct xfr_service *s)
{
	return s->xo;
}

struct notify *
xfr_service_notify(struct xfr_service *s)
{
	return s->notify;
}

void
xfr_service_set_mesh(struct xfr_service *s, struct mesh *m)
{
	__atomic_store_n(&s->gate.ctx, (void *)m, __ATOMIC_RELEASE);
}
