/*
 * The primary nodes of one database (mesh.h, "several nodes"): each node
 * records itself in the store's primary_nodes table when its mesh opens,
 * and a POP's registration (or GET) reads every node back, this node's own
 * entry always taken from memory (what it serves now).  A node gone for
 * good is removed by the operator (DELETE /mesh/nodes/{mesh_ip} on any other
 * node); one that still runs records itself again at its next start.
 */
#include "primary/mesh_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "primary/store.h"
#include "util/log.h"

static void
copy_str(char *dst, size_t cap, const char *src, const char **out)
{
	if (src == NULL) {
		*out = NULL;
		return;
	}
	snprintf(dst, cap, "%s", src);
	*out = dst;
}

/* Appends a copy of `n` (its strings copied into the set); false when full. */
static bool
nodes_add(struct mesh_nodes *ns, const struct mesh_node_info *n)
{
	if (ns->n == MESH_NODES_MAX)
		return false;
	struct mesh_node_copy *c = &ns->copy[ns->n];
	struct mesh_node_info *i = &ns->info[ns->n];
	*i = *n;
	copy_str(c->ip, sizeof(c->ip), n->mesh_ip, &i->mesh_ip);
	copy_str(c->key, sizeof(c->key), n->public_key, &i->public_key);
	copy_str(c->endpoint, sizeof(c->endpoint), n->endpoint, &i->endpoint);
	copy_str(c->pin, sizeof(c->pin), n->quic_pin, &i->quic_pin);
	ns->n++;
	return true;
}

struct load_ctx {
	struct mesh_nodes *ns;
	const struct mesh_node_info *self;
	bool full;
};

static int
load_node(void *ctx, const struct store_node *sn)
{
	struct load_ctx *l = ctx;
	struct mesh_node_info n = {.mesh_ip = sn->mesh_ip, .public_key = sn->public_key,
	                           .endpoint = sn->wg_endpoint, .xfr_port = sn->xfr_port,
	                           .quic_port = sn->quic_port, .quic_pin = sn->quic_pin};
	if (strcmp(sn->mesh_ip, l->self->mesh_ip) == 0)
		n = *l->self;   /* this node as it runs now */
	if (!nodes_add(l->ns, &n))
		l->full = true;
	return 0;
}

int
mesh_nodes_load(struct store *st, const struct mesh_node_info *self, struct mesh_nodes **out)
{
	struct mesh_nodes *ns = calloc(1, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	struct load_ctx l = {.ns = ns, .self = self};
	if (store_node_list(st, load_node, &l) != 0) {
		log_warning(NULL, "mesh: cannot read the primary nodes from the database; this node "
		            "alone is listed");
		ns->n = 0;
	}
	if (l.full)
		log_warning(NULL, "mesh: more than %d primary nodes in the database, the first %d "
		            "listed", MESH_NODES_MAX, MESH_NODES_MAX);
	bool has_self = false;
	for (size_t i = 0; i < ns->n && !has_self; i++)
		has_self = strcmp(ns->info[i].mesh_ip, self->mesh_ip) == 0;
	if (!has_self) {
		if (ns->n == MESH_NODES_MAX)
			ns->n--;
		nodes_add(ns, self);
	}
	*out = ns;
	return 0;
}

void
mesh_nodes_free(struct mesh_nodes *ns)
{
	free(ns);
}

int
mesh_node_record(struct store *st, const struct mesh_node_info *self)
{
	struct store_node n = {.mesh_ip = self->mesh_ip, .xfr_port = self->xfr_port,
	                       .quic_port = self->quic_port, .quic_pin = self->quic_pin,
	                       .public_key = self->public_key, .wg_endpoint = self->endpoint,
	                       .started_at = (int64_t)time(NULL)};
	return store_node_put(st, &n);
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
mesh_nodes_json(const struct mesh_nodes *ns)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < ns->n; i++) {
		const struct mesh_node_info *n = &ns->info[i];
		json_t *o = json_pack("{s:s,s:o,s:o,s:i,s:i,s:o}", "mesh_ip", n->mesh_ip,
		                      "public_key", str_or_null(n->public_key),
		                      "endpoint", str_or_null(n->endpoint),
		                      "xfr_port", (int)n->xfr_port, "quic_port", (int)n->quic_port,
		                      "quic_pin", str_or_null(n->quic_pin));
		if (o == NULL || json_array_append_new(a, o) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

void
mesh_self_node(const struct mesh *m, struct mesh_node_info *n)
{
	*n = (struct mesh_node_info){.mesh_ip = m->self_ip,
	                             .public_key = m->has_key ? m->public_key : NULL,
	                             .endpoint = m->o.wg_endpoint, .xfr_port = m->xfr_port,
	                             .quic_port = m->quic_port, .quic_pin = m->o.quic_pin};
}

struct mesh_nodes *
mesh_nodes_now(const struct mesh *m)
{
	struct mesh_node_info self;
	struct mesh_nodes *ns = NULL;
	mesh_self_node(m, &self);
	return mesh_nodes_load(m->st, &self, &ns) == 0 ? ns : NULL;
}

json_t *
mesh_nodes_list(struct mesh *m)
{
	struct mesh_nodes *ns = mesh_nodes_now(m);
	json_t *a = ns != NULL ? mesh_nodes_json(ns) : NULL;
	for (size_t i = 0; a != NULL && i < ns->n; i++)
		if (json_object_set_new(json_array_get(a, i), "this_node",
		                        json_boolean(strcmp(ns->info[i].mesh_ip, m->self_ip) == 0)) != 0) {
			json_decref(a);
			a = NULL;
		}
	mesh_nodes_free(ns);
	return a;
}

int
mesh_node_remove(struct mesh *m, const char *mesh_ip, char *err, size_t errcap)
{
	if (strcmp(mesh_ip, m->self_ip) == 0) {
		snprintf(err, errcap, "%s is this node: stop it, then remove it on another node",
		         mesh_ip);
		return -EBUSY;
	}
	int ret = store_node_delete(m->st, mesh_ip);
	if (ret == -ENOENT)
		snprintf(err, errcap, "no primary node %s", mesh_ip);
	else if (ret != 0)
		snprintf(err, errcap, "cannot remove primary node %s", mesh_ip);
	else
		log_notice(NULL, "mesh: primary node %s removed; POPs list it until they register or "
		           "are configured again", mesh_ip);
	return ret;
}
