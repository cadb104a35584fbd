/*
 * The POP registry over HTTP (anycst extension, admin key only):
 *   GET    /secondaries            every POP with its state
 *   GET    /secondaries/{name}     one POP
 *   POST   /secondaries            register: name, endpoint, public_key[, dns_port]; 201
 *   DELETE /secondaries/{name}     retire; 204
 *   GET    /mesh/wireguard.conf    the primary's own wg-quick config (text/plain)
 *   GET    /mesh/nodes             every primary node of the database
 *   DELETE /mesh/nodes/{mesh_ip}   remove a node gone for good (not the one asked); 204
 * The registry lives in primary/mesh.c; main hands it over in
 * api_opts.mesh.  The route table checks the admin scope and the methods.
 * Every refusal names its field.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "primary/mesh.h"

static struct mesh *
get_mesh(struct api_req *r, struct api_resp *rs)
{
	struct mesh *m = r->api->o.mesh;
	if (m == NULL)
		api_error(rs, 503, "the mesh registry is not running");
	return m;
}

/* A string field or NULL; sets a 422 when present with another type. */
static bool
str_field(json_t *body, const char *key, const char **out, struct api_resp *rs)
{
	json_t *v = json_object_get(body, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		api_error(rs, 422, "%s: must be a string", key);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

static void
add(struct api_req *r, struct api_resp *rs, struct mesh *m)
{
	json_t *body = api_body_object(r, rs);
	if (body == NULL)
		return;
	struct mesh_register reg = {0};
	char err[512];
	json_t *port = json_object_get(body, "dns_port");
	if (!str_field(body, "name", &reg.name, rs) || !str_field(body, "endpoint", &reg.endpoint, rs) ||
	    !str_field(body, "public_key", &reg.public_key, rs))
		goto out;
	if (port != NULL && !json_is_null(port)) {
		if (!json_is_integer(port) || json_integer_value(port) < 1 ||
		    json_integer_value(port) > 65535) {
			api_error(rs, 422, "dns_port: must be an integer 1..65535");
			goto out;
		}
		reg.dns_port = (int)json_integer_value(port);
	}
	json_t *res = NULL;
	int ret = mesh_pop_add(m, &reg, &res, err, sizeof(err));
	if (ret == 0) {
		snprintf(rs->location, sizeof(rs->location), API_PREFIX "/secondaries/%s", reg.name);
		api_json(rs, 201, res);
	} else if (ret == -EINVAL || ret == -ENOSPC) {
		api_error(rs, 422, "%s", err);
	} else if (ret == -EEXIST) {
		api_error(rs, 409, "%s", err);
	} else {
		api_error(rs, 500, "%s", err);
	}
out:
	json_decref(body);
}

void
api_secondaries_list(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	struct mesh *m = get_mesh(r, rs);
	json_t *j = NULL;
	if (m == NULL)
		return;
	if (mesh_pop_json(m, NULL, &j) != 0)
		api_error(rs, 500, "out of memory");
	else
		api_json(rs, 200, j);
}

void
api_secondaries_add(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	struct mesh *m = get_mesh(r, rs);
	if (m != NULL)
		add(r, rs, m);
}

/* /secondaries/{name}, any method: a name with a '/' is a 404 before the method is looked at. */
void
api_secondary(struct api_req *r, struct api_resp *rs, const char *name)
{
	struct mesh *m = get_mesh(r, rs);
	if (m == NULL)
		return;
	const char *meth = r->method;
	if (name[0] == '\0' || strchr(name, '/') != NULL) {
		api_error(rs, 404, "Not Found");
		return;
	}
	if (strcmp(meth, "GET") == 0) {
		json_t *j = NULL;
		int ret = mesh_pop_json(m, name, &j);
		if (ret == -ENOENT)
			api_error(rs, 404, "POP '%.63s' is not registered", name);
		else if (ret != 0)
			api_error(rs, 500, "out of memory");
		else
			api_json(rs, 200, j);
		return;
	}
	if (strcmp(meth, "DELETE") == 0) {
		char err[256];
		int ret = mesh_pop_delete(m, name, err, sizeof(err));
		if (ret == -ENOENT)
			api_error(rs, 404, "%s", err);
		else if (ret != 0)
			api_error(rs, 500, "%s", err);
		else
			rs->status = 204;
		return;
	}
	api_error(rs, 405, "method %s not allowed here", meth);
}

void
api_mesh_conf(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	struct mesh *m = get_mesh(r, rs);
	if (m == NULL)
		return;
	char *s = mesh_primary_conf(m);
	if (s == NULL) {
		api_error(rs, 500, "out of memory");
		return;
	}
	rs->status = 200;
	rs->ctype = "text/plain";
	rs->body = s;
	rs->body_len = strlen(s);
}

void
api_mesh_nodes(struct api_req *r, struct api_resp *rs, const char *id)
{
	(void)id;
	struct mesh *m = get_mesh(r, rs);
	if (m == NULL)
		return;
	json_t *a = mesh_nodes_list(m);
	if (a == NULL)
		api_error(rs, 500, "out of memory");
	else
		api_json(rs, 200, a);
}

void
api_mesh_node(struct api_req *r, struct api_resp *rs, const char *ip)
{
	struct mesh *m = get_mesh(r, rs);
	if (m == NULL)
		return;
	if (strchr(ip, '/') != NULL) {
		api_error(rs, 404, "Not Found");
		return;
	}
	char err[256];
	int ret = mesh_node_remove(m, ip, err, sizeof(err));
	if (ret == -ENOENT)
		api_error(rs, 404, "%s", err);
	else if (ret == -EBUSY)
		api_error(rs, 409, "%s", err);
	else if (ret != 0)
		api_error(rs, 500, "%s", err);
	else
		rs->status = 204;
}
