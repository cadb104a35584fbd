/*
 * anycst-zonecheck: checks an RFC 1035 zone file with anycst's parser, in
 * the manner of Knot's kzonecheck and BIND's named-checkzone.
 *
 *   anycst-zonecheck [-o ORIGIN] [-p | -q | -x] FILE
 *
 * Errors are printed as "FILE:LINE:COL: error: WHAT" and exit 1.  With -p
 * every record is printed canonically (owner TTL IN TYPE rdata, absolute
 * names), one per line, in file order; with -q only the record count and
 * the parse rate; with -x the wire form, "OWNER TYPE TTL RDATA" with owner
 * and rdata in hex (for tests that compare wire records).  Without -o the origin is the file name without a
 * trailing ".zone" (kzonecheck's rule).  Zone-level checks: exactly one SOA,
 * at the origin; records outside the zone are reported and skipped, as
 * named-checkzone and kzonecheck do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/zonetext.h"
#include "util/clock.h"
#include "util/err.h"

struct check {
	const char *file;
	const uint8_t *origin;
	bool print, wire;
	unsigned long records, soas, outside;
	uint8_t last[DNS_NAME_MAX];   /* previous owner and whether it is in the zone */
	size_t last_len;
	bool last_in;
	char line[DNS_ZT_LINE_MAX];
};

static int
on_rr(void *ctx, const struct dns_rr *rr)
{
	struct check *ck = ctx;
	/* records of one owner come in runs: check each owner once */
	size_t ol = dns_name_len(rr->owner);
	bool same = ol == ck->last_len && memcmp(rr->owner, ck->last, ol) == 0;
	if (!same) {
		ck->last_in = dns_name_is_sub(rr->owner, ck->origin);
		memcpy(ck->last, rr->owner, ol);
		ck->last_len = ol;
	}
	if (!ck->last_in) {
		if (ck->outside++ == 0) {
			char o[DNS_NAME_TEXT_MAX];
			dns_name_to_text(rr->owner, o, sizeof(o));
			fprintf(stderr, "%s: warning: record '%s' is outside the zone, ignored\n",
			        ck->file, o);
		}
		return 0;
	}
	if (rr->type == DNS_T_SOA) {
		if (!dns_name_equal(rr->owner, ck->origin)) {
			char o[DNS_NAME_TEXT_MAX];
			dns_name_to_text(rr->owner, o, sizeof(o));
			fprintf(stderr, "%s: error: SOA record at '%s', not at the zone apex\n",
			        ck->file, o);
			return 1;
		}
		ck->soas++;
	}
	ck->records++;
	if (ck->wire) {
		size_t n = 0;
		for (size_t i = 0; i < ol; i++)
			n += (size_t)snprintf(ck->line + n, sizeof(ck->line) - n, "%02x", rr->owner[i]);
		n += (size_t)snprintf(ck->line + n, sizeof(ck->line) - n, " %u %u ", rr->type,
		                      rr->ttl);
		for (size_t i = 0; i < rr->rdlen; i++)
			n += (size_t)snprintf(ck->line + n, sizeof(ck->line) - n, "%02x", rr->rdata[i]);
		ck->line[n++] = '\n';
		fwrite(ck->line, 1, n, stdout);
	}
	if (ck->print) {
		int n = dns_zt_print_rr(rr, ck->line, sizeof(ck->line));
		if (n < 0) {
			fprintf(stderr, "%s: error: record too long to print\n", ck->file);
			return 1;
		}
		fwrite(ck->line, 1, (size_t)n, stdout);
	}
	return 0;
}

static void
on_warn(void *ctx, unsigned line, unsigned col, const char *what)
{
	const struct check *ck = ctx;
	fprintf(stderr, "%s:%u:%u: warning: %s\n", ck->file, line, col, what);
}

static void
usage(void)
{
	fprintf(stderr, "usage: anycst-zonecheck [-o ORIGIN] [-p | -q | -x] FILE\n"
	                "  -o ORIGIN  zone name (default: file name without .zone)\n"
	                "  -p         print every record canonically, one per line\n"
	                "  -q         print only the record count and records/s\n"
	                "  -x         print every record's wire form in hex\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *origin_text = NULL;
	bool print = false, quiet = false, wire = false;
	int opt;
	while ((opt = getopt(argc, argv, "o:pqxh")) != -1) {
		switch (opt) {
		case 'o': origin_text = optarg; break;
		case 'p': print = true; break;
		case 'q': quiet = true; break;
		case 'x': wire = true; break;
		default: usage();
		}
	}
	if (optind + 1 != argc || (print + quiet + wire > 1))
		usage();
	const char *file = argv[optind];

	char obuf[DNS_NAME_TEXT_MAX];
	if (origin_text == NULL) {
		const char *base = strrchr(file, '/');
		base = base ? base + 1 : file;
		size_t bl = strlen(base);
		if (bl > 5 && strcmp(base + bl - 5, ".zone") == 0)
			bl -= 5;
		if (bl == 0 || bl >= sizeof(obuf) - 1) {
			fprintf(stderr, "%s: error: cannot derive the origin, use -o\n", file);
			return 1;
		}
		memcpy(obuf, base, bl);
		obuf[bl] = '\0';
		origin_text = obuf;
	}
	uint8_t origin[DNS_NAME_MAX];
	size_t ol = strlen(origin_text);
	int r = dns_name_from_text(origin_text, ol, dns_root_name, origin);
	if (r < 0) {
		fprintf(stderr, "%s: error: bad origin '%s': %s\n", file, origin_text, err_str(r));
		return 1;
	}

	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "%s: error: %s\n", file, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: error: not a regular file\n", file);
		close(fd);
		return 1;
	}
	size_t len = (size_t)st.st_size;
	const char *text = "";
	void *map = NULL;
	if (len > 0) {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (map == MAP_FAILED) {
			fprintf(stderr, "%s: error: %s\n", file, strerror(errno));
			close(fd);
			return 1;
		}
		text = map;
	}
	close(fd);

	struct check *ck = calloc(1, sizeof(*ck));
	if (ck == NULL) {
		fprintf(stderr, "%s: error: out of memory\n", file);
		return 1;
	}
	ck->file = file;
	ck->origin = origin;
	ck->print = print;
	ck->wire = wire;
	static char outbuf[1 << 20];
	if (print || wire)
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	double t0 = clock_mono_s();
	struct dns_zt_err err;
	struct dns_zt_opts opts = {.warn = on_warn, .warn_ctx = ck};
	r = dns_zt_parse_opts(text, len, origin, DNS_ZT_NO_TTL, on_rr, ck, &opts, &err);
	double t1 = clock_mono_s();
	int rc = 0;
	if (r < 0) {
		fprintf(stderr, "%s:%u:%u: error: %s\n", file, err.line, err.col, err.what);
		rc = 1;
	} else if (r > 0) {
		rc = 1;   /* on_rr already said why */
	} else if (ck->soas != 1) {
		fprintf(stderr, "%s: error: %s\n", file,
		        ck->soas == 0 ? "no SOA record at the zone apex" : "more than one SOA record");
		rc = 1;
	}
	fflush(stdout);
	if (quiet && rc == 0) {
		double s = t1 - t0;
		printf("%lu records in %.3f s, %.0f records/s\n", ck->records, s,
		       s > 0 ? (double)ck->records / s : 0.0);
	}
	free(ck);
	if (map != NULL)
		munmap(map, len);
	return rc;
}
