/*
 * GET /ui/ and /ui/FILE: the status page (issue 17.4), static files
 * embedded in the binary (api/ui.h).  The files need no key: the page asks
 * for the API key, keeps it in sessionStorage and sends it as X-API-Key to
 * the JSON endpoints, which check it as always.  The files hold no data.
 */
#include <string.h>

#include "api/internal.h"
#include "api/ui.h"

void
api_ui(struct api_req *r, struct api_resp *rs, const char *rest)
{
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		api_error(rs, 405, "method %s not allowed here", r->method);
		return;
	}
	const char *name = rest != NULL && rest[0] != '\0' ? rest : "index.html";
	for (const struct api_ui_file *f = api_ui_files; f->name != NULL; f++) {
		if (strcmp(f->name, name) != 0)
			continue;
		size_t n = strlen(f->data);
		rs->body = malloc(n);
		if (rs->body == NULL) {
			api_error(rs, 500, "out of memory");
			return;
		}
		memcpy(rs->body, f->data, n);
		rs->body_len = n;
		rs->ctype = f->ctype;
		rs->status = 200;
		return;
	}
	api_error(rs, 404, "Not Found");
}
