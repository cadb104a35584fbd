/*
 * anycstc zone edit ZONE: the zone's text (GET export, with its ETag) in
 * $VISUAL / $EDITOR (else vi); the edited text is parsed, compared rrset by
 * rrset with what was read, and the difference sent as ONE PATCH (REPLACE
 * for a changed or new rrset, DELETE for a removed one) with If-Match: so
 * a zone changed meanwhile is refused (412, exit 4) rather than overwritten.
 */
#include "ctl/ctl.h"
#include "ctl/zfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* "owner type" -> {"ttl": N, "records": {content: true}} */
static int
collect(void *ctx, const struct zrec *r)
{
	json_t *map = ctx;
	char key[1400];
	snprintf(key, sizeof(key), "%s %s", r->owner, r->type);
	json_t *set = json_object_get(map, key);
	if (set == NULL) {
		set = json_pack("{s:s,s:s,s:I,s:{}}", "name", r->owner, "type", r->type, "ttl",
		                (json_int_t)r->ttl, "records");
		json_object_set_new(map, key, set);
	}
	json_object_set_new(json_object_get(set, "records"), r->content, json_true());
	return 0;
}

static json_t *
parse_text(const char *path, const char *text, size_t len, const char *zone, int *rc)
{
	struct zfile zf;
	json_t *map = json_object();
	*rc = zfile_open(&zf, path, text, len, zone);
	if (*rc != 0) {
		json_decref(map);
		return NULL;
	}
	size_t n, soas;
	*rc = zfile_parse(&zf, collect, map, &n, &soas);
	if (*rc == 0 && soas != 1) {
		fprintf(stderr, "%s: error: the zone needs exactly one SOA record (it has %zu)\n",
		        zf.path, soas);
		*rc = CTL_EFAIL;
	}
	zfile_close(&zf);
	if (*rc != 0) {
		json_decref(map);
		return NULL;
	}
	return map;
}

/* The PATCH's rrsets turning `old` into `new`. */
static json_t *
diff(json_t *old, json_t *new)
{
	json_t *out = json_array();
	const char *k;
	json_t *ns, *os;
	json_object_foreach(new, k, ns) {
		os = json_object_get(old, k);
		if (os != NULL && json_equal(os, ns))
			continue;
		json_t *recs = json_array();
		const char *content;
		json_t *v;
		json_object_foreach(json_object_get(ns, "records"), content, v)
			json_array_append_new(recs, json_pack("{s:s,s:b}", "content", content,
			                                      "disabled", 0));
		json_array_append_new(out, json_pack("{s:O,s:O,s:O,s:s,s:o}", "name",
		                                     json_object_get(ns, "name"), "type",
		                                     json_object_get(ns, "type"), "ttl",
		                                     json_object_get(ns, "ttl"), "changetype",
		                                     "REPLACE", "records", recs));
	}
	json_object_foreach(old, k, os) {
		if (json_object_get(new, k) == NULL)
			json_array_append_new(out, json_pack("{s:O,s:O,s:s}", "name",
			                                     json_object_get(os, "name"), "type",
			                                     json_object_get(os, "type"), "changetype",
			                                     "DELETE"));
	}
	return out;
}

static int
run_editor(const char *file)
{
	const char *ed = getenv("VISUAL");
	if (ed == NULL || *ed == '\0')
		ed = getenv("EDITOR");
	if (ed == NULL || *ed == '\0')
		ed = "vi";
	pid_t pid = fork();
	if (pid < 0) {
		ctl_err("zone edit: fork: %s", strerror(errno));
		return CTL_EFAIL;
	}
	if (pid == 0) {
		/* the editor may be a command line ("emacs -nw"): the shell splits it */
		execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", ed, file, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		ctl_err("zone edit: the editor '%s' failed; nothing changed", ed);
		return CTL_EFAIL;
	}
	return 0;
}

static int
edit_apply(struct ctl *c, const char *zone, const char *path, const char *etag, json_t *old,
           const char *tmp)
{
	int rc;
	json_t *new = parse_text(tmp, NULL, 0, zone, &rc);
	if (new == NULL) {
		ctl_err("zone edit: nothing changed; your text is kept in %s", tmp);
		return rc;
	}
	json_t *ops = diff(old, new);
	json_decref(new);
	if (json_array_size(ops) == 0) {
		json_decref(ops);
		if (!c->quiet)
			printf("zone %s: no changes\n", zone);
		unlink(tmp);
		return CTL_OK;
	}
	size_t nops = json_array_size(ops);
	json_t *body = json_pack("{s:o}", "rrsets", ops);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct ctl_resp r;
	rc = CTL_OK;
	if (ctl_http(c, "PATCH", path, text, strlen(text), etag[0] ? etag : NULL, &r) != 0 ||
	    r.status != 204) {
		rc = ctl_fail(&r, "zone edit");
		if (r.status == 412)
			ctl_err("zone edit: %s changed since it was read; your text is kept in %s", zone,
			        tmp);
		else
			ctl_err("zone edit: nothing changed; your text is kept in %s", tmp);
	} else {
		if (!c->quiet)
			printf("zone %s: %zu rrsets changed\n", zone, nops);
		unlink(tmp);
	}
	ctl_resp_clear(&r);
	free(text);
	return rc;
}

int
ctl_cmd_edit(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	const char *zone = argv[0];
	char id[3200], path[4096], xpath[4200];
	char abs[1100];
	size_t zl = strlen(zone);
	snprintf(abs, sizeof(abs), "%s%s", zone, zl && zone[zl - 1] == '.' ? "" : ".");
	ctl_zone_id(abs, id, sizeof(id));
	snprintf(path, sizeof(path), "/zones/%s", id);
	snprintf(xpath, sizeof(xpath), "/zones/%s/export", id);
	struct ctl_resp r;
	if (ctl_http(c, "GET", xpath, NULL, 0, NULL, &r) != 0 || r.status != 200) {
		int rc = ctl_fail(&r, "zone edit");
		ctl_resp_clear(&r);
		return rc;
	}
	char etag[128];
	snprintf(etag, sizeof(etag), "%s", r.etag);
	int rc;
	json_t *old = parse_text(NULL, strbuf_str(&r.body), r.body.len, abs, &rc);
	char tmp[] = "/tmp/anycstc-edit-XXXXXX.zone";
	int fd = old != NULL ? mkstemps(tmp, 5) : -1;
	if (old != NULL && fd < 0) {
		ctl_err("zone edit: cannot make a temporary file: %s", strerror(errno));
		rc = CTL_EFAIL;
	}
	if (fd >= 0) {
		ssize_t w = write(fd, strbuf_str(&r.body), r.body.len);
		close(fd);
		if (w != (ssize_t)r.body.len) {
			ctl_err("zone edit: cannot write %s", tmp);
			rc = CTL_EFAIL;
		} else if ((rc = run_editor(tmp)) == 0) {
			rc = edit_apply(c, abs, path, etag, old, tmp);
		}
		if (rc != 0 && access(tmp, F_OK) == 0 && rc == CTL_EFAIL && w != (ssize_t)r.body.len)
			unlink(tmp);
	}
	json_decref(old);
	ctl_resp_clear(&r);
	return rc;
}
