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
#include <inttypes.h>
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
#include "primary/update.h"
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
	struct update *upd;    /* DNS UPDATE handler and counters */
	struct pop_gate gate;  /* the POP registry's checks; ctx is the mesh */
	bool listening;        /* the store's listener is ours */
	/* the --notify targets, as xfr_service_set_notify last set them (one caller at a time) */
	struct sockaddr_storage stat_addr[XFR_SERVICE_NOTIFY_MAX];
	int stat_id[XFR_SERVICE_NOTIFY_MAX];
	size_t nstat;
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

/*
 * The one event of a change: zone `zone` (wire) now has serial `serial`
 * (deleted: the zone is gone).  Everything the transfer side does about a
 * change starts here, in this order: the xfrout cache forgets the zone's
 * version, propagation records the commit (it then tracks the POPs'
 * acknowledgements, durably in the store's pop_serials), and the one
 * NOTIFY sender queues a NOTIFY to every target.
 */
static void
zone_changed(struct xfr_service *s, const uint8_t *zone, uint32_t serial, bool deleted)
{
	char text[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(zone, text, sizeof(text)) < 0)
		return;
	xfrout_store_forget(&s->src, zone);   /* its cached version is stale now */
	if (deleted) {
		propagation_drop_zone(s->prop, text);
		return;
	}
	propagation_commit(s->prop, text, serial, propagation_now_ms());
	/* several nodes on one database: the holder of the notifier lock NOTIFYs */
	if (s->notify != NULL && store_notifier(s->st) && notify_zone(s->notify, zone, false) != 0)
		log_warning(text, "notify, cannot queue, out of memory");
}

/* The store's commit listener: created, changed, or the catalog changed take one path. */
static void
on_commit(void *ctx, const struct store_commit *c)
{
	zone_changed(ctx, c->zone, c->new_serial, c->kind == STORE_ZONE_DELETED);
}

/* PUT /zones/{id}/notify: no change, a NOTIFY at once to every target. */
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
	s->upd = update_new(st);
	if (s->upd != NULL)
		update_hook(s->upd, &xc.update);
	if (s->upd != NULL && xfrout_store_source(st, &xc.src) == 0) {
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
	notify_set_xfrout(s->notify, s->xo);
	/* UDP UPDATEs to the UPDATE workers (the notify thread stops first) */
	if (xfr_tcp_set_udp(s->tcp, notify_fd(s->notify)) == 0)
		notify_set_udp_update(s->notify, xfr_tcp_udp, s->tcp);
	ret = xfr_service_set_notify(s, o->notify, o->nnotify, err, errcap);
	if (ret != 0)
		goto fail;
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
	update_free(s->upd);
	free(s);
}

int
xfr_service_metrics(void *ctx, char *buf, size_t cap)
{
	struct xfr_service *s = ctx;
	if (s == NULL)
		return 0;
	int n = 0;
	if (s->notify != NULL) {
		n = snprintf(buf, cap, "# HELP anycst_notify_sent_total NOTIFY messages sent to "
		             "secondaries (retries included).\n# TYPE anycst_notify_sent_total counter\n"
		             "anycst_notify_sent_total %" PRIu64 "\n", notify_sent(s->notify));
		if (n < 0 || (size_t)n >= cap)
			return 0;
	}
	if (s->upd == NULL)
		return n;
	int m = update_metrics(s->upd, buf + n, cap - (size_t)n);
	return m < 0 ? n : n + m;
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

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

int
xfr_service_set_notify(struct xfr_service *s, const char *const *targets, size_t n, char *err,
                       size_t errcap)
{
	struct sockaddr_storage want[XFR_SERVICE_NOTIFY_MAX];
	if (n > XFR_SERVICE_NOTIFY_MAX) {
		snprintf(err, errcap, "--notify: more than %d targets", XFR_SERVICE_NOTIFY_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		socklen_t tl;
		memset(&want[i], 0, sizeof(want[i]));
		if (addr_parse(targets[i], 53, &want[i], &tl) != 0) {
			snprintf(err, errcap, "--notify: bad address '%s'", targets[i]);
			return -EINVAL;
		}
	}
	/* targets no longer wanted go, those kept keep their queue */
	size_t k = 0;
	for (size_t j = 0; j < s->nstat; j++) {
		bool keep = false;
		for (size_t i = 0; i < n && !keep; i++)
			keep = same_addr(&s->stat_addr[j], &want[i]);
		if (!keep) {
			notify_target_remove(s->notify, s->stat_id[j]);
			continue;
		}
		s->stat_addr[k] = s->stat_addr[j];
		s->stat_id[k++] = s->stat_id[j];
	}
	s->nstat = k;
	for (size_t i = 0; i < n; i++) {
		bool have = false;
		for (size_t j = 0; j < s->nstat && !have; j++)
			have = same_addr(&s->stat_addr[j], &want[i]);
		if (have)
			continue;
		const struct sockaddr *sa = (const struct sockaddr *)&want[i];
		int id = notify_target_add(s->notify, sa, addr_len(sa), NULL);
		if (id == -EAFNOSUPPORT) {
			snprintf(err, errcap, "--notify %s: an %s target, but NOTIFYs leave from the "
			         "--xfr address, which is %s", targets[i],
			         sa->sa_family == AF_INET6 ? "IPv6" : "IPv4",
			         sa->sa_family == AF_INET6 ? "IPv4" : "IPv6");
			return id;
		}
		if (id < 0) {
			snprintf(err, errcap, "--notify %s: cannot add the target, %s", targets[i],
			         strerror(-id));
			return id;
		}
		s->stat_addr[s->nstat] = want[i];
		s->stat_id[s->nstat++] = id;
	}
	return 0;
}

struct behind_ctx {
	struct xfr_service *s;
	const struct store_zone *z;
	size_t queued;
};

static void
behind_pop(void *ctx, const char *name, int notify_id)
{
	struct behind_ctx *b = ctx;
	uint32_t acked;
	if (notify_id < 0)
		return;
	if (propagation_pop_serial(b->s->prop, name, b->z->text, &acked) && acked == b->z->serial)
		return;
	if (notify_zone_to(b->s->notify, b->z->name, notify_id, false) == 0)
		b->queued++;
}

static int
behind_zone(void *ctx, const struct store_zone *z)
{
	struct behind_ctx *b = ctx;
	b->z = z;
	mesh_pop_each(__atomic_load_n(&b->s->gate.ctx, __ATOMIC_ACQUIRE), behind_pop, b);
	return 0;
}

/*
 * At start: a change committed but not acknowledged by a POP when the last
 * run ended (a crash before its NOTIFY, or before its transfer) reaches
 * that POP now, not at its next refresh.  The acknowledgements are the
 * durable pop_serials propagation loaded from the store.
 */
static void
notify_pops_behind(struct xfr_service *s)
{
	struct behind_ctx b = {.s = s};
	struct store_snap *sn = NULL;
	if (s->notify == NULL)
		return;
	if (store_snap_open(s->st, &sn) != 0) {
		log_error(NULL, "notify, cannot read the zones to NOTIFY the POPs that are behind");
		return;
	}
	store_snap_zones(sn, NULL, NULL, 0, behind_zone, &b);
	store_snap_close(sn);
	if (b.queued > 0)
		log_notice(NULL, "mesh, %zu NOTIFYs queued at start for POPs behind the database",
		           b.queued);
}

void
xfr_service_set_mesh(struct xfr_service *s, struct mesh *m)
{
	__atomic_store_n(&s->gate.ctx, (void *)m, __ATOMIC_RELEASE);
	if (m != NULL)
		notify_pops_behind(s);
}
