/*
 * anycstc, the control tool: the state one run shares (where the API is,
 * its key, the output mode) and the commands, one file per group:
 * http.c (the API client over libcurl), out.c (tables, JSON, exit codes),
 * zone.c (zone and record commands), import.c (zone import and check),
 * admin.c (keys, POPs, status).
 */
#ifndef CTL_CTL_H
#define CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/strbuf.h"

#ifndef ANYCST_VERSION
#define ANYCST_VERSION "0.1.0"
#endif

#define CTL_PREFIX "/api/v1/servers/localhost"

/* Exit codes (anycstc(1) documents them). */
enum {
	CTL_OK = 0,
	CTL_EFAIL = 1,       /* the server refused the request, or the input is bad */
	CTL_EUSAGE = 2,      /* bad command line */
	CTL_ENOTFOUND = 3,   /* 404: no such zone, key or POP */
	CTL_ECONFLICT = 4,   /* 409 (exists) or 412 (changed since read: If-Match) */
	CTL_ECONNECT = 5,    /* the API cannot be reached */
	CTL_EAUTH = 6,       /* 401/403: the key is wrong or may not do this */
};

struct ctl {
	char url[1024];        /* base URL, e.g. http://127.0.0.1:8081 */
	char key[512];         /* X-API-Key */
	bool json;             /* --json: machine output */
	bool quiet;
	long timeout;          /* seconds per request */
	void *curl;            /* CURL *, reused between requests (keep-alive) */
};

struct ctl_resp {
	long status;           /* 0: no answer (then err holds why) */
	struct strbuf body;
	char etag[128];
	char err[256];
};

/*
 * One request: `method` on `path` (under the base URL; a path not starting
 * with "/api/" gets CTL_PREFIX), `body` (NULL: none) of `len` bytes, sent as
 * JSON unless `ctype` says otherwise, with `if_match` (NULL: none).  The
 * response is in `r` (ctl_resp_clear it).  Returns 0 when an answer came.
 */
int ctl_http(struct ctl *c, const char *method, const char *path, const char *body, size_t len,
             const char *if_match, struct ctl_resp *r);
void ctl_resp_clear(struct ctl_resp *r);
/* Zone name -> path segment (the API's =XX for '/' and '=', then %XX). */
void ctl_zone_id(const char *name, char *out, size_t cap);

/* GET `path` and parse the JSON; on failure reports and sets *rc.  NULL on failure. */
json_t *ctl_get_json(struct ctl *c, const char *path, int *rc);
/* A request whose answer is only checked: reports failures, returns the exit code. */
int ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, const char *what);
/* Reports a failed answer (the API's "error" text) on stderr; returns its exit code. */
int ctl_fail(const struct ctl_resp *r, const char *what);

/* ---- out.c -------------------------------------------------------------------- */
struct ctl_table {
	size_t ncols, nrows, cap;
	const char *head[12];
	char **cells;          /* nrows * ncols, owned */
};
void ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *head);
void ctl_table_row(struct ctl_table *t, ...);   /* ncols const char * (NULL: "-") */
void ctl_table_print(struct ctl_table *t);      /* and frees the rows */
void ctl_json_print(const json_t *j);
/* JSON value as text for a cell ("-" for null/absent) into buf. */
const char *ctl_cell(const json_t *v, char *buf, size_t cap);
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- commands: argc/argv start after the group word ----------------------------- */
int ctl_cmd_zone(struct ctl *c, int argc, char **argv);
int ctl_cmd_record(struct ctl *c, int argc, char **argv);
int ctl_cmd_journal(struct ctl *c, int argc, char **argv);
int ctl_cmd_import(struct ctl *c, int argc, char **argv);
int ctl_cmd_check(struct ctl *c, int argc, char **argv);
int ctl_cmd_edit(struct ctl *c, int argc, char **argv);
int ctl_cmd_key(struct ctl *c, int argc, char **argv);
int ctl_cmd_pop(struct ctl *c, int argc, char **argv);
int ctl_cmd_node(struct ctl *c, int argc, char **argv);
int ctl_cmd_status(struct ctl *c, int argc, char **argv);

#endif
