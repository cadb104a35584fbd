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

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/rrtype.h"
#include "util/clock.h"

/*
 * The records of a batch as "owner type" + "\n" + content, so duplicates are
 * dropped: open addressing over hashes, the strings in one buffer, cleared
 * without freeing (a batch costs no allocation per record).
 */
struct sset {
	struct sset_slot {
		uint64_t h;
		size_t off, len;     /* in text; len 0: empty slot */
	} *slots;
	size_t cap, n;           /* cap: a power of two */
	struct strbuf text;
};

static uint64_t
sset_hash(const char *s, size_t n, uint64_t h)
{
	/* FNV-1a, continued from h */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static void
sset_clear(struct sset *t)
{
	if (t->n > 0)
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
	t->n = 0;
	if (t->text.s != NULL)
		t->text.s[t->text.len = 0] = '\0';
}

static void
sset_free(struct sset *t)
{
	free(t->slots);
	strbuf_clear(&t->text);
	memset(t, 0, sizeof(*t));
}

/* Adds a[0..al) "\n" c[0..cl): 1 added, 0 already there, -1 out of memory. */
static int
sset_add(struct sset *t, const char *a, size_t al, const char *c, size_t cl)
{
	size_t n = al + 1 + cl;
	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 256;
		struct sset_slot *ns = calloc(ncap, sizeof(*ns));
		if (ns == NULL)
			return -1;
		for (size_t i = 0; i < t->cap; i++) {
			if (t->slots[i].len == 0)
				continue;
			size_t j = t->slots[i].h & (ncap - 1);
			while (ns[j].len != 0)
				j = (j + 1) & (ncap - 1);
			ns[j] = t->slots[i];
		}
		free(t->slots);
		t->slots = ns;
		t->cap = ncap;
	}
	uint64_t h = sset_hash(c, cl, sset_hash("\n", 1, sset_hash(a, al, 1469598103934665603ull)));
	size_t j = h & (t->cap - 1);
	for (; t->slots[j].len != 0; j = (j + 1) & (t->cap - 1)) {
		const struct sset_slot *e = &t->slots[j];
		const char *x = t->text.s + e->off;
		if (e->h == h && e->len == n && memcmp(x, a, al) == 0 && x[al] == '\n' &&
		    memcmp(x + al + 1, c, cl) == 0)
			return 0;
	}
	size_t off = t->text.len;
	if (strbuf_append(&t->text, a, al) != 0 || strbuf_append(&t->text, "\n", 1) != 0 ||
	    strbuf_append(&t->text, c, cl) != 0)
		return -1;
	t->slots[j] = (struct sset_slot){.h = h, .off = off, .len = n};
	t->n++;
	return 1;
}

struct batch {
	struct ctl *c;
	char path[4096];          /* /zones/ID */
	bool sending;             /* second pass: records go to the body */
	struct strbuf body;       /* the PATCH's JSON text so far: {"rrsets":[... */
	char cur[1400];           /* "owner type" of the open rrset ("": none) */
	size_t cur_records;
	struct sset seen;         /* this batch's records: duplicates dropped */
	size_t nrrsets, max_rrsets, max_bytes;
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

/* A JSON string of `s` (presentation text: escapes for '"', '\\' and controls). */
static void
json_str(struct strbuf *o, const char *s)
{
	strbuf_append(o, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch != '\0' && ch != '"' && ch != '\\' && ch >= 0x20)
			continue;
		strbuf_append(o, run, (size_t)(s - run));
		if (ch == '\0')
			break;
		if (ch == '"' || ch == '\\')
			strbuf_printf(o, "\\%c", ch);
		else
			strbuf_printf(o, "\\u%04x", ch);
		run = s + 1;
	}
	strbuf_append(o, "\"", 1);
}

static void
body_reset(struct batch *b)
{
	if (b->body.s != NULL)
		b->body.s[b->body.len = 0] = '\0';
	strbuf_append(&b->body, "{\"rrsets\":[", 11);
	b->nrrsets = 0;
	b->cur[0] = '\0';
	b->cur_records = 0;
	sset_clear(&b->seen);
}

static int
flush(struct batch *b)
{
	if (b->nrrsets == 0)
		return 0;
	strbuf_append(&b->body, "]}]}", 4);
	if (b->body.err != 0) {
		ctl_err("out of memory");
		return CTL_EFAIL;
	}
	struct ctl_resp r;
	int rc = 0;
	if (ctl_http(b->c, "PATCH", b->path, b->body.s, b->body.len, NULL, &r) != 0 ||
	    r.status != 204)
		rc = ctl_fail(&r, "zone import");
	ctl_resp_clear(&r);
	b->requests++;
	body_reset(b);
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

/*
 * Opens the rrset of `r` (key "owner type") in the body, a flush first when
 * the batch is full.  An rrset met again further down the file is one more
 * EXTEND of it (the API applies them in order).
 */
static int
rrset_open(struct batch *b, const struct zrec *r, const char *key, size_t kl)
{
	if (b->nrrsets >= b->max_rrsets || b->body.len >= b->max_bytes) {
		int rc = flush(b);
		if (rc != 0)
			return rc;
	}
	if (b->nrrsets > 0)
		strbuf_append(&b->body, "]},", 3);
	strbuf_append(&b->body, "{\"name\":", 8);
	json_str(&b->body, r->owner);
	strbuf_printf(&b->body, ",\"type\":\"%s\",\"ttl\":%" PRIu32 ",\"changetype\":\"EXTEND\","
	              "\"records\":[", r->type, r->ttl);
	memcpy(b->cur, key, kl + 1);
	b->cur_records = 0;
	b->nrrsets++;
	return 0;
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
	if (!b->sending)             /* first pass: only the SOA */
		return 0;
	char key[sizeof(b->cur)];
	int kl = snprintf(key, sizeof(key), "%s %s", r->owner, r->type);
	if (kl < 0 || (size_t)kl >= sizeof(key))
		return CTL_EFAIL;
	int fresh = sset_add(&b->seen, key, (size_t)kl, r->content, strlen(r->content));
	if (fresh < 0) {
		ctl_err("out of memory");
		return CTL_EFAIL;
	}
	b->sent_records++;
	if (fresh == 0) {
		b->dups++;               /* a duplicate record: dropped, as BIND does */
		return 0;
	}
	int rc;
	if (strcmp(key, b->cur) != 0 && (rc = rrset_open(b, r, key, (size_t)kl)) != 0)
		return rc;
	if (b->cur_records++ > 0)
		strbuf_append(&b->body, ",", 1);
	strbuf_append(&b->body, "{\"content\":", 11);
	json_str(&b->body, r->content);
	strbuf_append(&b->body, ",\"disabled\":false}", 18);
	/* a huge rrset goes in several EXTENDs */
	if (b->cur_records >= 5000)
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
	b->sending = true;
	body_reset(b);
	b->sent_records = 0;
	size_t n, soas;
	rc = zfile_parse(zf, on_rec, b, &n, &soas);
	if (rc == 0)
		rc = flush(b);
	strbuf_clear(&b->body);
	sset_free(&b->seen);
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
