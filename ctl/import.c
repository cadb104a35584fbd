/*
 * anycstc zone import ZONE FILE: the file is checked whole first (nothing is
 * sent for a bad file), then the zone is created with the file's SOA and
 * the other records follow as PATCHes of EXTEND rrsets, a batch at a time
 * (so a zone of any size imports in bounded memory).  A failure part-way
 * deletes the zone the import created: nothing half-imported stays.
 * anycstc check FILE: the same check offline.
 */
#include "ctl/ctl.h"
#include "ctl/zfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/rrtype.h"
#include "util/clock.h"

struct batch {
	struct ctl *c;
	char path[4096];          /* /zones/ID */
	json_t *rrsets;           /* array of the request */
	json_t *sets;             /* "owner type" -> rrset object of this batch */
	json_t *seen;             /* "owner type content" -> true: duplicates dropped */
	size_t nrrsets, bytes, max_rrsets, max_bytes;
	size_t sent_records, total_records, requests, dups;
	json_t *soa;              /* the SOA rrset (POST) */
	bool tty, quiet;
	int64_t t0;
	unsigned last_pct;
};

static void
progress(struct batch *b, bool done)
{
	if (!b->tty || b->quiet || b->total_records == 0)
		return;
	unsigned pct = (unsigned)(b->sent_records * 100 / b->total_records);
	if (!done && pct == b->last_pct)
		return;
	b->last_pct = pct;
	char bar[41];
	size_t fill = pct * 40 / 100;
	memset(bar, '#', fill);
	memset(bar + fill, ' ', 40 - fill);
	bar[40] = '\0';
	double s = (double)(clock_mono_ns() - b->t0) / 1e9;
	fprintf(stderr, "\r[%s] %3u%% %zu/%zu records %.1f s", bar, pct, b->sent_records,
	        b->total_records, s);
	if (done)
		fputc('\n', stderr);
	fflush(stderr);
}

static int
flush(struct batch *b)
{
	if (b->nrrsets == 0)
		return 0;
	json_t *body = json_pack("{s:O}", "rrsets", b->rrsets);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL) {
		ctl_err("out of memory");
		return CTL_EFAIL;
	}
	struct ctl_resp r;
	int rc = 0;
	if (ctl_http(b->c, "PATCH", b->path, text, strlen(text), NULL, &r) != 0 || r.status != 204)
		rc = ctl_fail(&r, "zone import");
	ctl_resp_clear(&r);
	free(text);
	b->requests++;
	json_array_clear(b->rrsets);
	json_object_clear(b->sets);
	json_object_clear(b->seen);
	b->nrrsets = 0;
	b->bytes = 0;
	progress(b, false);
	return rc;
}

static json_t *
rrset_new(const struct zrec *r, const char *changetype)
{
	json_t *o = json_pack("{s:s,s:s,s:I,s:[]}", "name", r->owner, "type", r->type, "ttl",
	                      (json_int_t)r->ttl, "records");
	if (changetype != NULL)
		json_object_set_new(o, "changetype", json_string(changetype));
	return o;
}

static int
on_rec(void *ctx, const struct zrec *r)
{
	struct batch *b = ctx;
	if (r->rtype == DNS_T_SOA) {
		if (b->soa == NULL) {
			b->soa = rrset_new(r, NULL);
			json_array_append_new(json_object_get(b->soa, "records"),
			                      json_pack("{s:s,s:b}", "content", r->content, "disabled", 0));
		}
		b->sent_records++;
		return 0;
	}
	if (b->rrsets == NULL)       /* first pass: only the SOA */
		return 0;
	char key[1400];
	snprintf(key, sizeof(key), "%s %s", r->owner, r->type);
	json_t *set = json_object_get(b->sets, key);
	size_t cl = strlen(r->content);
	struct strbuf dk;
	strbuf_init(&dk);
	strbuf_printf(&dk, "%s %s", key, r->content);
	if (dk.err != 0)
		return CTL_EFAIL;
	if (set != NULL && json_object_get(b->seen, strbuf_str(&dk)) != NULL) {
		b->dups++;               /* a duplicate record: dropped, as BIND does */
		b->sent_records++;
		strbuf_clear(&dk);
		return 0;
	}
	if (set == NULL) {
		if (b->nrrsets >= b->max_rrsets || b->bytes >= b->max_bytes) {
			int rc = flush(b);
			if (rc != 0) {
				strbuf_clear(&dk);
				return rc;
			}
		}
		set = rrset_new(r, "EXTEND");
		json_array_append_new(b->rrsets, set);
		/* one reference for the array (taken above), one for the index */
		json_object_set_new(b->sets, key, json_incref(set));
		b->nrrsets++;
		b->bytes += strlen(key) + 80;
	}
	json_t *recs = json_object_get(set, "records");
	json_array_append_new(recs, json_pack("{s:s,s:b}", "content", r->content, "disabled", 0));
	json_object_set_new(b->seen, strbuf_str(&dk), json_true());
	strbuf_clear(&dk);
	b->bytes += cl + 32;
	b->sent_records++;
	/* a huge rrset goes in several EXTENDs */
	if (json_array_size(recs) >= 5000)
		return flush(b);
	return 0;
}

/* Does zone `path` exist?  1 yes, 0 no, else an exit code (negated). */
static int
zone_exists(struct ctl *c, const char *path)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s?rrsets=false", path);
	struct ctl_resp r;
	int ret = ctl_http(c, "GET", p, NULL, 0, NULL, &r);
	int out = ret != 0 ? -ctl_fail(&r, "zone import") : r.status == 200 ? 1 :
	          r.status == 404 ? 0 : -ctl_fail(&r, "zone import");
	ctl_resp_clear(&r);
	return out;
}

static int
create_zone(struct batch *b, const char *origin, json_t *keys)
{
	json_t *body = json_pack("{s:s,s:s,s:[O]}", "name", origin, "kind", "Native", "rrsets", b->soa);
	if (json_array_size(keys) > 0)
		json_object_set(body, "master_tsig_key_ids", keys);
	int rc = ctl_call(b->c, "POST", "/zones", body, "zone import: create");
	json_decref(body);
	return rc;
}

struct import_args {
	const char *zone, *file;
	json_t *keys;             /* --allow-key: master_tsig_key_ids */
	bool replace;
	size_t batch;
};

static int
import_args(int argc, char **argv, struct import_args *a)
{
	int pos = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--replace") == 0) {
			a->replace = true;
		} else if (strcmp(argv[i], "--allow-key") == 0 && i + 1 < argc) {
			json_array_append_new(a->keys, json_string(argv[++i]));
		} else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			char *end;
			a->batch = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || a->batch < 1 || a->batch > 100000) {
				ctl_err("zone import: --batch '%s' is not a number in 1..100000", argv[i]);
				return CTL_EUSAGE;
			}
		} else if (pos == 0) {
			a->zone = argv[i];
			pos++;
		} else if (pos == 1) {
			a->file = argv[i];
			pos++;
		} else {
			pos++;
		}
	}
	if (pos != 2) {
		ctl_err("zone import: expected ZONE FILE [--replace] [--batch N] [--allow-key KEY]...");
		return CTL_EUSAGE;
	}
	return 0;
}

static int
import_send(struct ctl *c, struct zfile *zf, struct batch *b, const struct import_args *a)
{
	int ex = zone_exists(c, b->path);
	if (ex < 0)
		return -ex;
	if (ex == 1 && !a->replace) {
		ctl_err("zone import: zone %s exists (delete it first, or --replace)", zf->origin_text);
		return CTL_ECONFLICT;
	}
	int rc;
	if (ex == 1 && (rc = ctl_call(c, "DELETE", b->path, NULL, "zone import: delete")) != 0)
		return rc;
	if ((rc = create_zone(b, zf->origin_text, a->keys)) != 0)
		return rc;
	b->rrsets = json_array();
	b->sets = json_object();
	b->seen = json_object();
	b->sent_records = 0;
	size_t n, soas;
	rc = zfile_parse(zf, on_rec, b, &n, &soas);
	if (rc == 0)
		rc = flush(b);
	json_decref(b->rrsets);
	json_decref(b->sets);
	json_decref(b->seen);
	if (rc != 0) {
		/* nothing half-imported: the zone this import made goes again */
		if (ctl_call(c, "DELETE", b->path, NULL, "zone import: cleanup") == 0)
			ctl_err("zone import: zone %s deleted again, nothing imported", zf->origin_text);
	}
	return rc;
}

int
ctl_cmd_import(struct ctl *c, int argc, char **argv)
{
	struct import_args a = {.batch = 5000, .keys = json_array()};
	int rc = import_args(argc, argv, &a);
	if (rc != 0) {
		json_decref(a.keys);
		return rc;
	}
	struct zfile zf;
	if ((rc = zfile_open(&zf, a.file, NULL, 0, a.zone)) != 0) {
		json_decref(a.keys);
		return rc;
	}
	struct batch b = {.c = c, .max_rrsets = a.batch, .max_bytes = 8u << 20,
	                  .tty = isatty(2) == 1, .quiet = c->quiet || c->json,
	                  .t0 = clock_mono_ns()};
	char id[3200];
	ctl_zone_id(zf.origin_text, id, sizeof(id));
	snprintf(b.path, sizeof(b.path), "/zones/%s", id);
	/* first pass: the whole file is checked, and the SOA taken */
	size_t n = 0, soas = 0;
	rc = zfile_parse(&zf, on_rec, &b, &n, &soas);
	if (rc == 0 && soas != 1) {
		fprintf(stderr, "%s: error: %s\n", a.file, soas == 0 ? "no SOA record at the zone apex" :
		        "more than one SOA record");
		rc = CTL_EFAIL;
	}
	b.total_records = n;
	/* the requests' own answers are not printed: only the summary */
	bool json = c->json;
	c->json = false;
	if (rc == 0)
		rc = import_send(c, &zf, &b, &a);
	c->json = json;
	progress(&b, true);
	zfile_close(&zf);
	double secs = (double)(clock_mono_ns() - b.t0) / 1e9;
	if (rc == 0 && c->json) {
		json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:f}", "zone", zf.origin_text, "records",
		                      (json_int_t)n, "duplicates", (json_int_t)b.dups, "requests",
		                      (json_int_t)b.requests + 1, "seconds", secs);
		ctl_json_print(j);
		json_decref(j);
	} else if (rc == 0 && !c->quiet) {
		printf("zone %s: imported %zu records (%zu duplicates dropped) in %zu requests, %.2f s\n",
		       zf.origin_text, n - b.dups, b.dups, b.requests + 1, secs);
	}
	json_decref(b.soa);
	json_decref(a.keys);
	return rc;
}

int
ctl_cmd_check(struct ctl *c, int argc, char **argv)
{
	const char *origin = NULL, *file = NULL;
	for (int i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "--origin") == 0 || strcmp(argv[i], "-o") == 0) && i + 1 < argc)
			origin = argv[++i];
		else if (file == NULL)
			file = argv[i];
		else
			file = "";
	}
	if (file == NULL || *file == '\0') {
		ctl_err("check: expected [--origin NAME] ZONE-FILE");
		return CTL_EUSAGE;
	}
	char obuf[1024];
	if (origin == NULL) {
		/* kzonecheck's rule: the file name without ".zone" */
		const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		size_t bl = strlen(base);
		if (bl > 5 && strcmp(base + bl - 5, ".zone") == 0)
			bl -= 5;
		snprintf(obuf, sizeof(obuf), "%.*s", (int)bl, base);
		origin = obuf;
	}
	struct zfile zf;
	int rc = zfile_open(&zf, file, NULL, 0, origin);
	if (rc != 0)
		return rc;
	size_t n = 0, soas = 0;
	rc = zfile_parse(&zf, NULL, NULL, &n, &soas);
	if (rc == 0 && soas != 1) {
		fprintf(stderr, "%s: error: %s\n", file, soas == 0 ? "no SOA record at the zone apex" :
		        "more than one SOA record");
		rc = CTL_EFAIL;
	}
	zfile_close(&zf);
	if (rc == 0 && c->json) {
		json_t *j = json_pack("{s:s,s:s,s:I,s:b}", "file", file, "zone", zf.origin_text,
		                      "records", (json_int_t)n, "ok", 1);
		ctl_json_print(j);
		json_decref(j);
	} else if (rc == 0 && !c->quiet) {
		printf("%s: zone %s: %zu records, OK\n", file, zf.origin_text, n);
	}
	return rc;
}
