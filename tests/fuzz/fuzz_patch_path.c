/*
 * The whole PATCH path (issue 12.1): a PATCH /zones/{id} body goes through
 * the API's handler (JSON, rrset checks, record content to wire by
 * dns/rdata) into a real SQLite store in a temporary directory (the rrsets
 * read back, rules, serial, journal entry), then out again as the transfer
 * port answers: IXFR from the serial before the PATCH (the journal just
 * written) and AXFR, each request signed with the zone's TSIG key and
 * answered through the store's xfrout source.
 *
 * Every input must end in a 204 or a 4xx with a JSON error (never a 5xx or
 * a crash); after a 204 every transfer message must parse, carry NOERROR,
 * and every record in it must be valid wire data for its type.  The zone
 * is re-created before each input, already holding empty-RDATA records
 * (TYPE65534 \# 0, NULL, empty APL) so PATCHes read them back.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "api/internal.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrtype.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "primary/store.h"
#include "primary/xfrout.h"
#include "primary/xfrout_store.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_NAME "fuzz-key."
#define KEY_B64 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="   /* 0123456789abcdef x2 */

static char dir[64];
static char db[96];
static struct store *st;
static struct xfrout_source src;
static struct xfrout *xo;
static struct dns_tsig_key key;
static uint8_t zone[DNS_NAME_MAX];
static bool verbose;   /* FUZZ_VERBOSE set: one line per input and transfer */
static struct api api = {.o = {.max_body = 1 << 20, .max_rrsets = 64, .max_records = 64}};

static void
cleanup(void)
{
	if (xo != NULL)
		xfrout_free(xo);
	xfrout_store_source_clear(&src);
	store_close(st);
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void
setup(void)
{
	log_set_level(LOG_ERROR);
	/* on disk, not /dev/shm: a store that fails to checkpoint must not eat RAM */
	const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof(dir), "%.40s/fuzz-patch-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof(db), "%s/anycst.db", dir);
	struct store_opts o = {.path = db, .catalog = "catalog.anycst.invalid."};
	char err[256];
	if (store_open(&o, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		abort();
	}
	atexit(cleanup);
	struct store_tsig_key k = {.name = KEY_NAME, .algorithm = "hmac-sha256", .secret = KEY_B64};
	if (store_tsig_put(st, &k, false) != 0)
		abort();
	dns_tsig_key_init(&key, KEY_NAME, "hmac-sha256", (const uint8_t *)"0123456789abcdef"
	                  "0123456789abcdef", 32);
	dns_name_from_text("example.com.", 12, NULL, zone);
	if (xfrout_store_source(st, &src) != 0)
		abort();
	struct xfrout_conf c = {.src = src};
	xo = xfrout_new(&c);
	if (xo == NULL)
		abort();
	api.st = st;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
}

/* example.com. afresh: NS, glue, and the three empty-RDATA rrsets. */
static void
fresh_zone(void)
{
	static const uint8_t ns_rd[] = "\3ns1\7example\3com";
	static const uint8_t glue_rd[] = {192, 0, 2, 1};
	uint8_t ns1[DNS_NAME_MAX], unk[DNS_NAME_MAX], nul[DNS_NAME_MAX], apl[DNS_NAME_MAX];
	dns_name_from_text("ns1.example.com.", 16, NULL, ns1);
	dns_name_from_text("unk.example.com.", 16, NULL, unk);
	dns_name_from_text("null.example.com.", 17, NULL, nul);
	dns_name_from_text("apl.example.com.", 16, NULL, apl);
	struct store_rec ns = {ns_rd, sizeof(ns_rd), false, NULL}, glue = {glue_rd, 4, false, NULL};
	struct store_rec empty = {NULL, 0, false, NULL};
	struct store_op ops[] = {
		{.kind = STORE_OP_REPLACE, .owner = zone, .type = DNS_T_NS, .ttl = 3600,
		 .has_ttl = true, .recs = &ns, .nrecs = 1, .label = "ns"},
		{.kind = STORE_OP_REPLACE, .owner = ns1, .type = DNS_T_A, .ttl = 3600,
		 .has_ttl = true, .recs = &glue, .nrecs = 1, .label = "glue"},
		{.kind = STORE_OP_REPLACE, .owner = unk, .type = 65534, .ttl = 300,
		 .has_ttl = true, .recs = &empty, .nrecs = 1, .label = "unk"},
		{.kind = STORE_OP_REPLACE, .owner = nul, .type = DNS_T_NULL, .ttl = 300,
		 .has_ttl = true, .recs = &empty, .nrecs = 1, .label = "null"},
		{.kind = STORE_OP_REPLACE, .owner = apl, .type = DNS_T_APL, .ttl = 300,
		 .has_ttl = true, .recs = &empty, .nrecs = 1, .label = "apl"},
	};
	static const char *const keys[] = {KEY_NAME};
	struct store_zone_new z = {.name = zone, .kind = "Native", .account = "",
	                           .policy = DNS_SERIAL_INCREASE, .tsig_keys = keys,
	                           .ntsig_keys = 1};
	struct store_result res;
	char err[256];
	int ret = store_zone_delete(st, zone, NULL);
	if (ret != 0 && ret != -ENOENT)
		abort();
	if (store_zone_create(st, &z, ops, sizeof(ops) / sizeof(ops[0]), &res, err,
	                      sizeof(err)) != 0) {
		fprintf(stderr, "store_zone_create: %s\n", err);
		abort();
	}
	xfrout_store_forget(&src, zone);
}

struct xfr_check {
	unsigned msgs, rrs;
};

static int
check_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct xfr_check *x = ctx;
	struct dns_msg m;
	if (len > XFROUT_MSG_MAX || dns_msg_parse(&m, msg, len) != 0)
		abort();
	if (dns_msg_rcode(&m) != 0)
		abort();   /* a signed request for an allowed zone is answered */
	struct dns_msg_iter it;
	dns_msg_iter_init(&it, &m, 1);
	static uint8_t owner[DNS_NAME_MAX], rd[DNS_RDATA_MAX];
	struct dns_rr rr;
	int r;
	while ((r = dns_msg_iter_next(&it, &rr, owner, rd, sizeof(rd))) == 1) {
		if (dns_rdata_check(rr.type, rr.rdata, rr.rdlen) != 0)
			abort();   /* the store handed out rdata invalid for its type */
		x->rrs++;
	}
	if (r != 0)
		abort();
	x->msgs++;
	return 0;
}

/* One signed AXFR (from == NULL) or IXFR query, answered and checked. */
static void
transfer(const uint32_t *from)
{
	uint8_t q[512];
	size_t n = 0;
	memset(q, 0, 12);
	q[0] = 0x12;
	q[1] = 0x34;
	q[5] = 1;                                  /* QDCOUNT */
	q[9] = from != NULL;                       /* NSCOUNT */
	n = 12;
	size_t zl = dns_name_len(zone);
	memcpy(q + n, zone, zl);
	n += zl;
	wr_u16(q + n, from != NULL ? DNS_T_IXFR : DNS_T_AXFR);
	wr_u16(q + n + 2, DNS_C_IN);
	n += 4;
	if (from != NULL) {
		q[n++] = 0xc0;
		q[n++] = 12;
		wr_u16(q + n, DNS_T_SOA);
		wr_u16(q + n + 2, DNS_C_IN);
		wr_u32(q + n + 4, 0);
		wr_u16(q + n + 8, 22);
		n += 10;
		q[n++] = 0;                            /* mname . */
		q[n++] = 0;                            /* rname . */
		wr_u32(q + n, *from);
		memset(q + n + 4, 0, 16);
		n += 20;
	}
	struct dns_tsig_ctx tc;
	dns_tsig_ctx_init(&tc, &key);
	ssize_t sl = dns_tsig_sign(&tc, q, n, sizeof(q), (uint64_t)time(NULL));
	dns_tsig_ctx_clear(&tc);
	if (sl <= 0)
		abort();
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(5353),
	                           .sin_addr.s_addr = htonl(0x7f000001)};
	struct xfr_check x = {0};
	if (xfrout_serve(xo, q, (size_t)sl, (const struct sockaddr *)&peer, "TCP", check_msg,
	                 &x) != 0)
		abort();
	if (x.msgs == 0 || x.rrs < 1)
		abort();
	if (verbose)
		fprintf(stderr, "  %s: %u messages, %u records\n", from ? "IXFR" : "AXFR", x.msgs,
		        x.rrs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (st == NULL)
		setup();
	if (size > 1 << 16)
		return 0;
	fresh_zone();
	char *body = malloc(size + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	struct api_req r = {.api = &api, .body = body, .body_len = size, .method = "PATCH"};
	struct api_resp rs = {0};
	api_patch_apply(&r, &rs, zone);
	xfrout_store_forget(&src, zone);
	if (verbose) {
		char wal[128];
		struct stat sb;
		snprintf(wal, sizeof(wal), "%s-wal", db);
		fprintf(stderr, "status %u %u -> %u %.300s (WAL %lld bytes)\n", rs.status,
		        rs.old_serial, rs.new_serial, rs.body ? rs.body : "",
		        stat(wal, &sb) == 0 ? (long long)sb.st_size : -1LL);
	}
	if (rs.status == 204) {
		transfer(&rs.old_serial);   /* the old serial: the SOA alone when unchanged */
		transfer(NULL);
	} else {
		/* a refusal is a client error with a JSON body naming the fault */
		if (rs.status < 400 || rs.status >= 500 || rs.body == NULL ||
		    strncmp(rs.body, "{\"error\":", 9) != 0) {
			fprintf(stderr, "status %u: %s\n", rs.status, rs.body ? rs.body : "(none)");
			abort();
		}
	}
	free(rs.body);
	free(body);
	return 0;
}
