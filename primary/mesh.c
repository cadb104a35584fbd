/*
 * The WireGuard mesh registry (see mesh.h).
 *
 * Memory holds the registry (an array of POPs under `mu`); the store holds
 * the same rows with each POP's TSIG key, written through its API
 * (store_pop_add / store_pop_delete), one transaction covering the POP and
 * its key.  Parsing and rendering (no state) are in mesh_conf.c, the
 * WireGuard interface in mesh_wg.c, the primary nodes of the database in
 * mesh_nodes.c.  The transfer side asks the registry through its pop_gate
 * (two checks that never block on the network; a POP key it does not know
 * makes it read the registry again first); each POP is a target of the
 * transfer service's one NOTIFY sender.
 *
 * Several nodes on one database (PostgreSQL): a registration or retirement
 * is announced by the store in its transaction; the other nodes' stores
 * call pops_changed, which makes their registries equal to the store's
 * (mesh_sync), so no node needs a restart.
 */
#include "primary/mesh.h"
#include "primary/mesh_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "dns/name.h"
#include "dns/tsig.h"
#include "net/addr.h"
#include "primary/acl.h"
#include "primary/notify.h"
#include "primary/propagation.h"
#include "primary/store.h"
#include "primary/xfrout_store.h"
#include "util/err.h"
#include "util/base.h"
#include "util/log.h"

#define MESH_STATE_ZONES_MAX 1000

/* ---- pure helpers --------------------------------------------------------------- */

/* ---- the registry ---------------------------------------------------------------- */

static void
primary_info(const struct mesh *m, struct mesh_primary_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->net = &m->net;
	pi->self_ip = m->self_ip;
	pi->public_key = m->has_key ? m->public_key : NULL;
	pi->private_key_file = m->has_key ? m->o.wg_private_key : NULL;
	pi->endpoint = m->o.wg_endpoint;
	pi->listen_port = m->listen_port;
	pi->xfr_port = m->xfr_port;
	pi->quic_port = m->quic_port;
	pi->quic_pin = m->o.quic_pin;
	pi->catalog = m->o.catalog;
}

static void
pop_info(const struct pop *p, struct mesh_pop_info *pi)
{
	pi->name = p->name;
	pi->endpoint = p->endpoint;
	pi->public_key = p->public_key;
	pi->mesh_ip = p->ip_text;
	pi->dns_port = p->dns_port;
	pi->tsig_name = p->tsig_name;
	pi->tsig_secret = p->tsig_secret;
}


/* Takes the POP off the NOTIFY sender (no later answer counts) and frees it. */
static void
pop_free(struct mesh *m, struct pop *p)
{
	if (p == NULL)
		return;
	if (p->notify_id >= 0 && m->notify != NULL)
		notify_target_remove(m->notify, p->notify_id);
	explicit_bzero(p->tsig_secret, sizeof(p->tsig_secret));
	free(p);
}

/*
 * Makes the POP a target of the one NOTIFY sender, its NOTIFYs signed with
 * its own key.  0 or a negative errno.
 */
static int
pop_start(struct mesh *m, struct pop *p)
{
	char spec[MESH_TSIG_NAME_MAX + MESH_SECRET_MAX + 16];
	struct dns_tsig_key key;
	p->notify_id = -1;
	if (m->notify == NULL)
		return 0;
	snprintf(spec, sizeof(spec), "%s:hmac-sha256:%s", p->tsig_name, p->tsig_secret);
	int ret = dns_tsig_key_parse(&key, spec, NULL, 0) != 0 ? -EINVAL : 0;
	explicit_bzero(spec, sizeof(spec));
	if (ret != 0)
		return ret;
	struct sockaddr_storage to;
	socklen_t tl;
	char hp[MESH_IP_TEXT + 8];
	mesh_hostport(p->ip_text, p->dns_port, hp, sizeof(hp));
	ret = addr_parse(hp, p->dns_port, &to, &tl) != 0 ? -EINVAL : 0;
	if (ret == 0)
		ret = notify_target_add(m->notify, (const struct sockaddr *)&to, tl, &key);
	explicit_bzero(&key, sizeof(key));
	if (ret < 0)
		return ret;
	p->notify_id = ret;
	return 0;
}

static int
registry_push(struct mesh *m, struct pop *p)
{
	if (m->npops == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		struct pop **np = realloc(m->pops, ncap * sizeof(*np));
		if (np == NULL)
			return -ENOMEM;
		m->pops = np;
		m->cap = ncap;
	}
	m->pops[m->npops++] = p;
	return 0;
}

static void
copy_col(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* A POP from its store row; NULL when skipped (logged) or, with *nomem, out of memory. */
static struct pop *
pop_from_row(struct mesh *m, const struct store_pop *sp, bool *nomem)
{
	struct pop *p = calloc(1, sizeof(*p));
	*nomem = p == NULL;
	if (p == NULL)
		return NULL;
	p->notify_id = -1;
	copy_col(p->name, sizeof(p->name), sp->name);
	copy_col(p->endpoint, sizeof(p->endpoint), sp->endpoint);
	copy_col(p->public_key, sizeof(p->public_key), sp->public_key);
	copy_col(p->ip_text, sizeof(p->ip_text), sp->mesh_ip);
	copy_col(p->tsig_name, sizeof(p->tsig_name), sp->tsig_name);
	p->dns_port = sp->dns_port;
	p->created_at = sp->created_at;
	copy_col(p->tsig_secret, sizeof(p->tsig_secret), sp->tsig_secret);
	struct sockaddr_storage ss;
	socklen_t sl;
	char hp[MESH_IP_TEXT + 8];
	mesh_hostport(p->ip_text, 53, hp, sizeof(hp));
	if (addr_parse(hp, 53, &ss, &sl) != 0 || p->tsig_secret[0] == '\0') {
		log_warning(NULL, "mesh, POP %s has no mesh address or TSIG key in the database, "
		            "skipped (delete and register it again)", p->name);
		explicit_bzero(p->tsig_secret, sizeof(p->tsig_secret));
		free(p);
		return NULL;
	}
	if (mesh_net_host_of(&m->net, p->ip_text, &p->host) != 0) {
		p->host = 0;   /* kept at its address; new POPs are allocated from --mesh-net */
		log_warning(NULL, "mesh, POP %s has mesh address %s, outside --mesh-net", p->name,
		            p->ip_text);
	}
	return p;
}

/* Tracks the POP's propagation and makes it a NOTIFY target.  0 or a negative errno. */
static int
pop_begin(struct mesh *m, struct pop *p)
{
	int ret = 0;
	if (m->prop != NULL)
		ret = propagation_pop_add(m->prop, p->name, p->ip_text);
	if (ret == 0)
		ret = pop_start(m, p);
	if (ret == -EAFNOSUPPORT) {   /* registered on a mesh of the other family */
		log_warning(NULL, "mesh, POP %s at %s gets no NOTIFY: not the address family of "
		            "--xfr (delete and register it again)", p->name, p->ip_text);
		p->notify_id = -1;
		ret = 0;
	}
	return ret;
}

static int
load_pop(void *ctx, const struct store_pop *sp)
{
	struct mesh *m = ctx;
	bool nomem;
	struct pop *p = pop_from_row(m, sp, &nomem);
	if (p == NULL)
		return nomem ? -ENOMEM : 0;
	int ret = registry_push(m, p);
	if (ret == 0)
		ret = pop_begin(m, p);
	if (ret != 0) {
		if (m->npops > 0 && m->pops[m->npops - 1] == p)
			m->npops--;
		pop_free(m, p);
	}
	return ret;
}

/* The POP registry from the store. */
static int
load(struct mesh *m, char *err, size_t errcap)
{
	int ret = store_pop_list(m->st, load_pop, m);
	if (ret != 0)
		set_err(err, errcap, "mesh: cannot load the POP registry (%s)", strerror(-ret));
	return ret;
}

/* Calls fn for every registered POP with its NOTIFY target, under the registry lock. */
void
mesh_pop_each(struct mesh *m, void (*fn)(void *ctx, const char *name, int notify_id), void *ctx)
{
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->npops; i++)
		fn(ctx, m->pops[i]->name, m->pops[i]->notify_id);
	pthread_mutex_unlock(&m->mu);
}

static void pops_changed(void *ctx);

/* --mesh-ip (default: host 1) into self_host/self_ip.  0 or -EINVAL (err). */
static int
self_parse(struct mesh *m, char *err, size_t errcap)
{
	m->self_host = mesh_net_primary(&m->net);
	if (m->o.mesh_ip != NULL) {
		char nt[MESH_IP_TEXT + 8];
		mesh_net_text(&m->net, nt, sizeof(nt));
		if (mesh_net_host_of(&m->net, m->o.mesh_ip, &m->self_host) != 0 ||
		    (m->self_host != 1 && !mesh_net_pop_addr(&m->net, m->self_host))) {
			set_err(err, errcap, "--mesh-ip %s: not a host address of --mesh-net %s",
			        m->o.mesh_ip, nt);
			return -EINVAL;
		}
	}
	mesh_net_host_text(&m->net, m->self_host, m->self_ip, sizeof(m->self_ip));
	return 0;
}

/*
 * Writes this node's primary_nodes row; a failure (the database unwritable
 * for a moment, e.g. a failover) is logged and tried again at the next
 * mesh_sync, so it never stops the node.
 */
static void
record_self(struct mesh *m)
{
	struct mesh_node_info self;
	mesh_self_node(m, &self);
	m->recorded = mesh_node_record(m->st, &self) == 0;
	if (!m->recorded)
		log_error(NULL, "mesh: cannot record this primary node (%s) in the database; POPs "
		          "registered through the other nodes do not list it until it is (tried again "
		          "at the next registration)", m->self_ip);
}

/* After the POPs are loaded: this node's address is no POP's; the node recorded. */
static int
self_record(struct mesh *m, char *err, size_t errcap)
{
	for (size_t i = 0; i < m->npops; i++) {
		if (m->pops[i]->host == m->self_host) {
			set_err(err, errcap, "--mesh-ip %s is the mesh address of POP '%s' (give this node "
			        "another)", m->self_ip, m->pops[i]->name);
			return -EINVAL;
		}
	}
	record_self(m);
	return 0;
}

int
mesh_open(const struct mesh_opts *o, struct store *st, struct propagation *prop,
          struct notify *notify, struct mesh **out, char *err, size_t errcap)
{
	struct mesh *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		set_err(err, errcap, "out of memory");
		return -ENOMEM;
	}
	int ret;
	m->o = *o;
	m->st = st;
	m->prop = prop;
	m->notify = notify;
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->wmu, NULL);
	ret = -EINVAL;
	struct sockaddr_storage xs;
	socklen_t xl;
	if (addr_parse(o->xfr, 5300, &xs, &xl) != 0) {
		set_err(err, errcap, "--xfr: bad address '%s'", o->xfr);
		goto fail;
	}
	m->xfr_port = addr_port((const struct sockaddr *)&xs);
	/* the default mesh follows --xfr's family */
	const char *net = o->net != NULL ? o->net
	                  : xs.ss_family == AF_INET6 ? MESH_DEFAULT_NET6 : MESH_DEFAULT_NET;
	ret = mesh_net_parse(net, &m->net, err, errcap);
	if (ret != 0)
		goto fail;
	ret = -EINVAL;
	if (xs.ss_family != m->net.family) {
		char nt[MESH_IP_TEXT + 8];
		mesh_net_text(&m->net, nt, sizeof(nt));
		set_err(err, errcap, "--mesh-net %s is %s but --xfr %s is %s: NOTIFYs to the POPs "
		        "leave from the --xfr address (the primary's mesh address)", nt,
		        m->net.family == AF_INET6 ? "IPv6" : "IPv4", o->xfr,
		        xs.ss_family == AF_INET6 ? "IPv6" : "IPv4");
		goto fail;
	}
	ret = self_parse(m, err, errcap);
	if (ret != 0)
		goto fail;
	ret = -EINVAL;
	struct sockaddr_storage qs;
	socklen_t ql;
	m->quic_port = 8853;
	if (o->quic != NULL && addr_parse(o->quic, 8853, &qs, &ql) == 0)
		m->quic_port = addr_port((const struct sockaddr *)&qs);
	m->listen_port = MESH_DEFAULT_WG_PORT;
	if (o->wg_endpoint != NULL) {
		char host[MESH_HOST_MAX];
		uint16_t port;
		char why[200];
		if (mesh_endpoint_parse(o->wg_endpoint, host, sizeof(host), &port, why,
		                        sizeof(why)) != 0) {
			set_err(err, errcap, "--wg-endpoint: %s", why);
			goto fail;
		}
		m->listen_port = port;
	}
	ret = read_private_key(m, err, errcap);
	if (ret != 0)
		goto fail;
	ret = load(m, err, errcap);
	if (ret != 0)
		goto fail;
	ret = self_record(m, err, errcap);
	if (ret != 0)
		goto fail;
	ret = wg_sync(m, err, errcap);
	if (ret != 0)
		goto fail;
	/* POPs registered and retired on the other nodes of the database */
	store_set_pops_hook(st, pops_changed, m);
	m->hooked = true;
	char nip[MESH_IP_TEXT + 8];
	mesh_net_text(&m->net, nip, sizeof(nip));
	log_notice(NULL, "mesh %s, primary %s, %zu POPs registered%s%s", nip, m->self_ip,
	           m->npops, o->wg_interface != NULL ? ", interface " : "",
	           o->wg_interface != NULL ? o->wg_interface : "");
	*out = m;
	return 0;
fail:
	mesh_close(m);
	return ret;
}

void
mesh_stop(struct mesh *m)
{
	if (m == NULL)
		return;
	if (m->hooked)
		store_set_pops_hook(m->st, NULL, NULL);   /* no sync runs once this returns */
	m->hooked = false;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->npops; i++) {
		struct pop *p = m->pops[i];
		if (p->notify_id >= 0 && m->notify != NULL)
			notify_target_remove(m->notify, p->notify_id);
		p->notify_id = -1;
	}
	pthread_mutex_unlock(&m->mu);
}

void
mesh_close(struct mesh *m)
{
	if (m == NULL)
		return;
	if (m->hooked)
		store_set_pops_hook(m->st, NULL, NULL);
	for (size_t i = 0; i < m->npops; i++)
		pop_free(m, m->pops[i]);
	free(m->pops);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->wmu);
	free(m);
}

static struct pop *
find_name(struct mesh *m, const char *name)
{
	for (size_t i = 0; i < m->npops; i++)
		if (strcmp(m->pops[i]->name, name) == 0)
			return m->pops[i];
	return NULL;
}

static struct pop *
find_key(struct mesh *m, const char *key)
{
	if (key == NULL || key[0] == '\0')
		return NULL;
	for (size_t i = 0; i < m->npops; i++)
		if (acl_key_equal(m->pops[i]->tsig_name, key))
			return m->pops[i];
	return NULL;
}

static struct pop *
find_ip(struct mesh *m, const char *ip)
{
	for (size_t i = 0; i < m->npops; i++)
		if (strcmp(m->pops[i]->ip_text, ip) == 0)
			return m->pops[i];
	return NULL;
}

/* ---- following the other nodes (several on one database) ------------------------- */

struct sync_rows {
	struct mesh *m;
	struct pop **v;
	size_t n, cap;
};

static int
sync_row(void *ctx, const struct store_pop *sp)
{
	struct sync_rows *r = ctx;
	bool nomem;
	struct pop *p = pop_from_row(r->m, sp, &nomem);
	if (p == NULL)
		return nomem ? -ENOMEM : 0;
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		struct pop **nv = realloc(r->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			pop_free(r->m, p);
			return -ENOMEM;
		}
		r->v = nv;
		r->cap = ncap;
	}
	r->v[r->n++] = p;
	return 0;
}

static bool
same_pop(const struct pop *a, const struct pop *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->public_key, b->public_key) == 0 &&
	       strcmp(a->ip_text, b->ip_text) == 0 && strcmp(a->tsig_secret, b->tsig_secret) == 0;
}

/* Under wmu: the POPs no longer in the store (r) leave memory, then everything of them goes. */
static void
sync_drop(struct mesh *m, const struct sync_rows *r)
{
	pthread_mutex_lock(&m->mu);
	struct pop **gone = calloc(m->npops + 1, sizeof(*gone));
	size_t ngone = 0;
	for (size_t i = 0; gone != NULL && i < m->npops;) {
		bool kept = false;
		for (size_t k = 0; k < r->n && !kept; k++)
			kept = same_pop(m->pops[i], r->v[k]);
		if (kept) {
			i++;
			continue;
		}
		gone[ngone++] = m->pops[i];
		memmove(&m->pops[i], &m->pops[i + 1], (m->npops - i - 1) * sizeof(*m->pops));
		m->npops--;
	}
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < ngone; i++) {
		struct pop *p = gone[i];
		char name[MESH_NAME_MAX];
		snprintf(name, sizeof(name), "%s", p->name);
		log_info(NULL, "mesh, POP %s retired on another node, its key %s revoked here", name,
		         p->tsig_name);
		wg_peer_remove(m, p->name, p->public_key);
		pop_free(m, p);
		if (m->prop != NULL)
			propagation_pop_drop(m->prop, name);
	}
	free(gone);
}

/* Under wmu: the POPs of the store (r) not in memory are taken up; r keeps the rest. */
static void
sync_add(struct mesh *m, struct sync_rows *r)
{
	for (size_t k = 0; k < r->n; k++) {
		struct pop *p = r->v[k];
		pthread_mutex_lock(&m->mu);
		bool have = find_name(m, p->name) != NULL;
		pthread_mutex_unlock(&m->mu);
		if (have)
			continue;
		int ret = pop_begin(m, p);
		if (ret == 0) {
			pthread_mutex_lock(&m->mu);
			ret = registry_push(m, p);
			pthread_mutex_unlock(&m->mu);
		}
		r->v[k] = NULL;
		if (ret != 0) {
			log_error(NULL, "mesh, POP %s registered on another node cannot be taken up here "
			          "(%s)", p->name, strerror(-ret));
			char name[MESH_NAME_MAX];
			snprintf(name, sizeof(name), "%s", p->name);
			pop_free(m, p);
			if (m->prop != NULL)
				propagation_pop_drop(m->prop, name);
			continue;
		}
		wg_peer_add(m, p);
		log_info(NULL, "mesh, POP %s registered on another node taken up, mesh address %s, "
		         "TSIG key %s", p->name, p->ip_text, p->tsig_name);
	}
}

/*
 * The registry made equal to the store's: POPs registered on another node
 * of the database are taken up (key, NOTIFY target, propagation, WireGuard
 * peer), POPs retired there are forgotten.  No restart needed.
 */
static void
mesh_sync(struct mesh *m)
{
	struct sync_rows r = {.m = m};
	pthread_mutex_lock(&m->wmu);
	if (!m->recorded)
		record_self(m);
	int ret = store_pop_list(m->st, sync_row, &r);
	if (ret != 0) {
		log_warning(NULL, "mesh: cannot read the POP registry to follow the other nodes (%s)",
		            strerror(ret < 0 ? -ret : EIO));
	} else {
		sync_drop(m, &r);
		sync_add(m, &r);
	}
	pthread_mutex_unlock(&m->wmu);
	for (size_t k = 0; k < r.n; k++)
		pop_free(m, r.v[k]);
	free(r.v);
}

/* The store heard that another node changed the POP registry (store_set_pops_hook). */
static void
pops_changed(void *ctx)
{
	mesh_sync(ctx);
}

static int
random_secret(char *out, size_t cap)
{
	uint8_t raw[32];
	gnutls_datum_t in = {.data = raw, .size = sizeof(raw)}, b = {0};
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) != 0 || gnutls_base64_encode2(&in, &b) != 0)
		return -EIO;
	int ret = b.size < cap ? 0 : -ENOSPC;
	if (ret == 0) {
		memcpy(out, b.data, b.size);
		out[b.size] = '\0';
	}
	gnutls_free(b.data);
	explicit_bzero(raw, sizeof(raw));
	return ret;
}

/* One transaction in the store: the POP's TSIG key, then its row.  0, -EEXIST, -EIO (err). */
static int
db_insert(struct mesh *m, const struct pop *p, char *err, size_t errcap)
{
	struct store_pop sp = {.name = p->name, .endpoint = p->endpoint,
	                       .public_key = p->public_key, .mesh_ip = p->ip_text,
	                       .tsig_name = p->tsig_name, .tsig_secret = p->tsig_secret,
	                       .dns_port = p->dns_port, .created_at = p->created_at};
	return store_pop_add(m->st, &sp, err, errcap);
}

static json_t *
pop_json_base(const struct mesh *m, const struct pop *p)
{
	(void)m;
	return json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I}", "name", p->name, "mesh_ip", p->ip_text,
	                 "endpoint", p->endpoint, "public_key", p->public_key, "dns_port",
	                 (int)p->dns_port, "tsig_key", p->tsig_name, "tsig_algorithm", "hmac-sha256",
	                 "created_at", (json_int_t)p->created_at);
}

/* The request's fields, before anything is allocated.  0, -EINVAL or -EEXIST (err). */
static int
register_check(const struct mesh *m, const struct mesh_register *r, char *err, size_t errcap)
{
	char host[MESH_HOST_MAX];
	uint16_t port;
	if (r->name == NULL || mesh_name_check(r->name, err, errcap) != 0) {
		if (r->name == NULL)
			set_err(err, errcap, "name: missing");
		return -EINVAL;
	}
	if (r->endpoint == NULL) {
		set_err(err, errcap, "endpoint: missing (the POP's public HOST:PORT)");
		return -EINVAL;
	}
	if (mesh_endpoint_parse(r->endpoint, host, sizeof(host), &port, err, errcap) != 0)
		return -EINVAL;
	if (r->public_key == NULL) {
		set_err(err, errcap, "public_key: missing (the POP's WireGuard public key)");
		return -EINVAL;
	}
	if (mesh_key_parse(r->public_key, NULL, err, errcap) != 0)
		return -EINVAL;
	if (r->dns_port < 0 || r->dns_port > 65535) {
		set_err(err, errcap, "dns_port: must be 1..65535");
		return -EINVAL;
	}
	if (m->has_key && strcmp(r->public_key, m->public_key) == 0) {
		set_err(err, errcap, "public_key: that is the primary's own key");
		return -EEXIST;
	}
	return 0;
}

/*
 * A POP's configuration texts into `j`: its wg-quick config and command
 * line following every node `ns`, the nodes themselves ("primaries") and
 * this node's mesh address and key.  false on -ENOMEM.
 */
static bool
pop_texts(const struct mesh *m, const struct pop *p, const struct mesh_nodes *ns, json_t *j)
{
	struct mesh_primary_info pi;
	struct mesh_pop_info po;
	primary_info(m, &pi);
	pi.nodes = ns->info;
	pi.nnodes = ns->n;
	pop_info(p, &po);
	char *conf = mesh_render_pop_conf(&pi, &po);
	char *cmd = mesh_render_command(&pi, &po);
	json_t *nodes = mesh_nodes_json(ns);
	bool quic = true;
	for (size_t i = 0; i < ns->n; i++)
		quic = quic && ns->info[i].quic_pin != NULL;
	bool ok = conf != NULL && cmd != NULL && nodes != NULL;
	if (ok) {
		json_object_set_new(j, "wireguard_config", json_string(conf));
		json_object_set_new(j, "command", json_string(cmd));
		json_object_set_new(j, "transport", json_string(quic ? "quic" : "tcp"));
		json_object_set_new(j, "primary_mesh_ip", json_string(m->self_ip));
		if (pi.public_key != NULL)
			json_object_set_new(j, "primary_public_key", json_string(pi.public_key));
		json_object_set_new(j, "primaries", nodes);
		nodes = NULL;
	}
	json_decref(nodes);
	free(conf);
	free(cmd);
	return ok;
}

/* The answer to a registration: the POP's row, its secret and its configuration texts. */
static json_t *
pop_reply(const struct mesh *m, const struct pop *p, const struct mesh_nodes *ns)
{
	struct mesh_pop_info po;
	pop_info(p, &po);
	json_t *j = pop_json_base(m, p);
	char *tfile = mesh_render_tsig_file(&po);
	if (j != NULL && (tfile == NULL || !pop_texts(m, p, ns, j))) {
		json_decref(j);
		j = NULL;
	}
	if (j != NULL) {
		json_object_set_new(j, "tsig_secret", json_string(p->tsig_secret));
		char path[MESH_NAME_MAX + 64];
		snprintf(path, sizeof(path), MESH_TSIG_FILE_DIR "/" MESH_TSIG_PREFIX "%s.tsig", p->name);
		json_object_set_new(j, "tsig_file", json_string(path));
		json_object_set_new(j, "tsig_file_content", json_string(tfile));
	}
	if (tfile != NULL)
		explicit_bzero(tfile, strlen(tfile));
	free(tfile);
	return j;
}

/* The hosts no new POP may take: every POP's and every node's.  NULL on -ENOMEM. */
static uint64_t *
used_hosts(const struct mesh *m, const struct mesh_nodes *ns, size_t *n)
{
	uint64_t *used = calloc(m->npops + ns->n + 2, sizeof(*used));
	if (used == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < m->npops; i++)
		used[k++] = m->pops[i]->host;
	used[k++] = m->self_host;
	for (size_t i = 0; i < ns->n; i++)
		if (mesh_net_host_of(&m->net, ns->info[i].mesh_ip, &used[k]) == 0)
			k++;
	*n = k;
	return used;
}

int
mesh_pop_add(struct mesh *m, const struct mesh_register *r, json_t **out, char *err,
             size_t errcap)
{
	int rc = register_check(m, r, err, errcap);
	if (rc != 0)
		return rc;
	/* what the other nodes of the database registered, and the nodes themselves */
	mesh_sync(m);
	struct mesh_nodes *ns = mesh_nodes_now(m);
	struct pop *p = ns != NULL ? calloc(1, sizeof(*p)) : NULL;
	if (p == NULL) {
		mesh_nodes_free(ns);
		set_err(err, errcap, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < ns->n; i++) {
		if (ns->info[i].public_key != NULL && strcmp(r->public_key, ns->info[i].public_key) == 0) {
			mesh_nodes_free(ns);
			free(p);
			set_err(err, errcap, "public_key: that is primary node %s's own key",
			        ns->info[i].mesh_ip);
			return -EEXIST;
		}
	}
	snprintf(p->name, sizeof(p->name), "%s", r->name);
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", r->endpoint);
	snprintf(p->public_key, sizeof(p->public_key), "%s", r->public_key);
	snprintf(p->tsig_name, sizeof(p->tsig_name), MESH_TSIG_PREFIX "%s.", r->name);
	p->dns_port = (uint16_t)(r->dns_port != 0 ? r->dns_port : 53);
	p->created_at = (int64_t)time(NULL);
	int ret = random_secret(p->tsig_secret, sizeof(p->tsig_secret));
	if (ret != 0) {
		set_err(err, errcap, "cannot generate a TSIG secret");
		free(p);
		mesh_nodes_free(ns);
		return -EIO;
	}
	pthread_mutex_lock(&m->wmu);   /* the array changes only under wmu (and mu) */
	pthread_mutex_lock(&m->mu);
	bool mu_held = true;
	char netbuf[MESH_IP_TEXT + 8];
	mesh_net_text(&m->net, netbuf, sizeof(netbuf));
	uint64_t *used = NULL;
	if (find_name(m, p->name) != NULL) {
		set_err(err, errcap, "name: POP '%s' is already registered", p->name);
		ret = -EEXIST;
		goto fail;
	}
	for (size_t i = 0; i < m->npops; i++) {
		if (strcmp(m->pops[i]->public_key, p->public_key) == 0) {
			set_err(err, errcap, "public_key: already registered by POP '%s'", m->pops[i]->name);
			ret = -EEXIST;
			goto fail;
		}
	}
	size_t nused = 0;
	used = used_hosts(m, ns, &nused);
	if (used == NULL) {
		set_err(err, errcap, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	ret = mesh_net_alloc(&m->net, used, nused, &p->host);
	if (ret != 0) {
		set_err(err, errcap, "mesh address pool %s is full (%zu POPs registered)", netbuf,
		        m->npops);
		goto fail;
	}
	mesh_net_host_text(&m->net, p->host, p->ip_text, sizeof(p->ip_text));
	ret = registry_push(m, p);
	if (ret != 0) {
		set_err(err, errcap, "out of memory");
		goto fail;
	}
	m->npops--;   /* room reserved; pushed for real after the commit */
	pthread_mutex_unlock(&m->mu);
	mu_held = false;
	ret = db_insert(m, p, err, errcap);
	if (ret != 0)
		goto fail;
	/* what comes from its address is the POP's from now on (propagation) */
	if (m->prop != NULL && propagation_pop_add(m->prop, p->name, p->ip_text) != 0)
		log_error(NULL, "mesh, POP %s, cannot track its propagation, out of memory", p->name);
	ret = pop_start(m, p);
	if (ret != 0) {
		log_error(NULL, "mesh, POP %s registered but the NOTIFY sender did not take it (%s); "
		          "it will be notified after a restart", p->name, strerror(-ret));
		p->notify_id = -1;
	}
	pthread_mutex_lock(&m->mu);
	m->pops[m->npops++] = p;
	pthread_mutex_unlock(&m->mu);
	wg_peer_add(m, p);
	json_t *j = pop_reply(m, p, ns);
	pthread_mutex_unlock(&m->wmu);
	free(used);
	mesh_nodes_free(ns);
	log_info(NULL, "mesh, POP %s registered, mesh address %s, endpoint %s, TSIG key %s",
	         p->name, p->ip_text, p->endpoint, p->tsig_name);
	if (j == NULL) {
		set_err(err, errcap, "out of memory (the POP is registered)");
		return -ENOMEM;
	}
	*out = j;
	return 0;
fail:
	if (mu_held)
		pthread_mutex_unlock(&m->mu);
	pthread_mutex_unlock(&m->wmu);
	free(used);
	mesh_nodes_free(ns);
	explicit_bzero(p->tsig_secret, sizeof(p->tsig_secret));
	free(p);
	return ret;
}

int
mesh_pop_delete(struct mesh *m, const char *name, char *err, size_t errcap)
{
	pthread_mutex_lock(&m->wmu);
	pthread_mutex_lock(&m->mu);
	struct pop *p = NULL;
	for (size_t i = 0; i < m->npops; i++) {
		if (strcmp(m->pops[i]->name, name) == 0) {
			p = m->pops[i];
			memmove(&m->pops[i], &m->pops[i + 1], (m->npops - i - 1) * sizeof(*m->pops));
			m->npops--;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (p == NULL) {
		pthread_mutex_unlock(&m->wmu);
		set_err(err, errcap, "POP '%.63s' is not registered", name);
		return -ENOENT;
	}
	/* Forgotten in memory first: from here its key transfers nothing and it gets no NOTIFY. */
	char why[256] = "";
	int ret = store_pop_delete(m->st, p->name, p->tsig_name, why, sizeof(why));
	if (ret != 0)
		set_err(err, errcap, "POP '%s' retired in memory but the database write failed: %s",
		        p->name, why);
	wg_peer_remove(m, p->name, p->public_key);
	pthread_mutex_unlock(&m->wmu);
	log_info(NULL, "mesh, POP %s retired, mesh address %s, TSIG key %s revoked", p->name,
	         p->ip_text, p->tsig_name);
	char gone[MESH_NAME_MAX];
	snprintf(gone, sizeof(gone), "%s", p->name);
	pop_free(m, p);
	/* After it left the NOTIFY sender, so no late answer brings it back. */
	if (m->prop != NULL)
		propagation_pop_drop(m->prop, gone);
	return ret;
}

/* ---- state for GET ---------------------------------------------------------------- */

struct zone_list {
	char (*names)[DNS_NAME_TEXT_MAX];
	uint32_t *serials;
	size_t n, cap;
	bool truncated;
};

static int
collect_zone(void *ctx, const struct store_zone *z)
{
	struct zone_list *zl = ctx;
	if (zl->n == zl->cap) {
		zl->truncated = true;
		return 1;
	}
	snprintf(zl->names[zl->n], DNS_NAME_TEXT_MAX, "%s", z->text);
	zl->serials[zl->n] = z->serial;
	zl->n++;
	return 0;
}

/* The POP's JSON with its counters; zones are filled in by mesh_pop_json. */
static json_t *
pop_state(struct mesh *m, const struct pop *p, int64_t now_ms)
{
	json_t *j = pop_json_base(m, p);
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "transfers", json_integer((json_int_t)p->transfers));
	json_object_set_new(j, "refused", json_integer((json_int_t)p->refused));
	if (p->last_seen_ms != 0) {
		json_object_set_new(j, "last_seen_ms_ago", json_integer(now_ms - p->last_seen_ms));
		char iso[32];
		time_t t = (time_t)(p->last_seen_ms / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(j, "last_seen", json_string(iso));
	} else {
		json_object_set_new(j, "last_seen", json_null());
	}
	json_object_set_new(j, "zones", json_object());
	json_object_set_new(j, "zones_current", json_integer(0));
	return j;
}

int
mesh_pop_json(struct mesh *m, const char *name, json_t **out)
{
	struct zone_list zl = {0};
	struct pop *copies = NULL;
	json_t **objs = NULL;
	size_t n = 0;
	int ret = -ENOMEM;
	zl.cap = MESH_STATE_ZONES_MAX;
	zl.names = calloc(zl.cap, sizeof(*zl.names));
	zl.serials = calloc(zl.cap, sizeof(*zl.serials));
	if (zl.names == NULL || zl.serials == NULL)
		goto out;
	/* Copies taken under the lock; the slow part (zones, JSON) runs without it. */
	pthread_mutex_lock(&m->mu);
	copies = calloc(m->npops + 1, sizeof(*copies));
	if (copies != NULL) {
		for (size_t i = 0; i < m->npops; i++)
			if (name == NULL || strcmp(m->pops[i]->name, name) == 0)
				copies[n++] = *m->pops[i];
	}
	pthread_mutex_unlock(&m->mu);
	if (copies == NULL)
		goto out;
	if (name != NULL && n == 0) {
		ret = -ENOENT;
		goto out;
	}
	objs = calloc(n + 1, sizeof(*objs));
	if (objs == NULL)
		goto out;
	int64_t now = propagation_now_ms();
	for (size_t i = 0; i < n; i++) {
		objs[i] = pop_state(m, &copies[i], now);
		if (objs[i] == NULL)
			goto out;
	}
	struct store_snap *sn = NULL;
	if (store_snap_open(m->st, &sn) == 0) {
		store_snap_zones(sn, NULL, NULL, 0, collect_zone, &zl);
		store_snap_close(sn);
	}
	for (size_t z = 0; m->prop != NULL && n > 0 && z < zl.n; z++) {
		char *s = propagation_json(m->prop, zl.names[z], zl.serials[z], now);
		json_t *pj = s != NULL ? json_loads(s, 0, NULL) : NULL;
		free(s);
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(pj, "targets"), k, t) {
			const char *pop = json_string_value(json_object_get(t, "pop"));
			json_t *serial = json_object_get(t, "serial");
			if (pop == NULL || !json_is_integer(serial))
				continue;
			for (size_t i = 0; i < n; i++) {
				if (strcmp(pop, copies[i].name) != 0)
					continue;
				bool up = json_is_true(json_object_get(t, "up_to_date"));
				json_object_set_new(json_object_get(objs[i], "zones"), zl.names[z],
				                    json_pack("{s:I,s:b}", "serial",
				                              json_integer_value(serial), "up_to_date", up));
				if (up) {
					json_t *c = json_object_get(objs[i], "zones_current");
					json_integer_set(c, json_integer_value(c) + 1);
				}
			}
		}
		json_decref(pj);
	}
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(objs[i], "zones_total", json_integer((json_int_t)zl.n));
		if (zl.truncated)
			json_object_set_new(objs[i], "zones_truncated", json_true());
	}
	if (name != NULL) {
		struct mesh_nodes *ns = mesh_nodes_now(m);
		bool ok = ns != NULL && pop_texts(m, &copies[0], ns, objs[0]);
		mesh_nodes_free(ns);
		if (!ok)
			goto out;
		*out = objs[0];
		objs[0] = NULL;
	} else {
		json_t *arr = json_array();
		if (arr == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(arr, objs[i]);
			objs[i] = NULL;
		}
		*out = arr;
	}
	ret = 0;
out:
	for (size_t i = 0; objs != NULL && i < n; i++)
		json_decref(objs[i]);
	free(objs);
	if (copies != NULL)
		explicit_bzero(copies, (n + 1) * sizeof(*copies));
	free(copies);
	free(zl.names);
	free(zl.serials);
	return ret;
}

char *
mesh_primary_conf(struct mesh *m)
{
	pthread_mutex_lock(&m->mu);
	struct mesh_primary_info pi;
	primary_info(m, &pi);
	struct mesh_pop_info *pis = calloc(m->npops + 1, sizeof(*pis));
	char *s = NULL;
	if (pis != NULL) {
		for (size_t i = 0; i < m->npops; i++)
			pop_info(m->pops[i], &pis[i]);
		s = mesh_render_primary_conf(&pi, pis, m->npops);
	}
	pthread_mutex_unlock(&m->mu);
	free(pis);
	return s;
}

/* ---- hooks ------------------------------------------------------------------------ */

bool
mesh_key_is_pop(struct mesh *m, const char *key)
{
	if (m == NULL || key == NULL)
		return false;
	pthread_mutex_lock(&m->mu);
	bool yes = find_key(m, key) != NULL;
	pthread_mutex_unlock(&m->mu);
	if (!yes && strncasecmp(key, MESH_TSIG_PREFIX, strlen(MESH_TSIG_PREFIX)) == 0) {
		/* a POP registered on another node a moment ago (its announcement not
		 * heard yet): the store has it */
		mesh_sync(m);
		pthread_mutex_lock(&m->mu);
		yes = find_key(m, key) != NULL;
		pthread_mutex_unlock(&m->mu);
	}
	return yes;
}

bool
mesh_xfr_check(struct mesh *m, const char *ip, const char *key, char *why, size_t whycap)
{
	if (m == NULL)
		return true;
	bool ok = true;
	if (strncasecmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL)
		ip += 7;   /* an IPv4 POP seen through a dual-stack socket */
	pthread_mutex_lock(&m->mu);
	struct pop *kp = find_key(m, key);
	struct pop *ipp = find_ip(m, ip);
	if (kp != NULL && kp != ipp) {
		set_err(why, whycap, "TSIG key '%s' belongs to POP '%s' (%s), not to %s", kp->tsig_name,
		        kp->name, kp->ip_text, ip);
		kp->refused++;
		ok = false;
	} else if (ipp != NULL && kp != ipp) {
		set_err(why, whycap, "POP '%s' must sign with its own key '%s'", ipp->name,
		        ipp->tsig_name);
		ipp->refused++;
		ok = false;
	} else if (ipp != NULL) {
		ipp->transfers++;
		ipp->last_seen_ms = propagation_now_ms();
	}
	pthread_mutex_unlock(&m->mu);
	return ok;
}
