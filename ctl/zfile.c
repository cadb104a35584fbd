/*
 * Zone files for anycstc import, edit and check: dns/zonetext parses, the
 * canonical printer gives each record's text, split into the API's fields.
 */
#include "ctl/zfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "dns/rrtype.h"
#include "dns/zonetext.h"
#include "util/err.h"

struct zparse {
	struct zfile *z;
	zrec_fn fn;
	void *ctx;
	size_t records, soas;
	char *line;               /* DNS_ZT_LINE_MAX */
	char bad[1200];
};

int
zfile_open(struct zfile *z, const char *path, const char *text, size_t len, const char *origin)
{
	memset(z, 0, sizeof(*z));
	z->path = path ? path : "-";
	size_t ol = strlen(origin);
	int r = dns_name_from_text(origin, ol, dns_root_name, z->origin);
	if (r <= 0) {
		ctl_err("bad zone name '%s': %s", origin, err_str(r));
		return CTL_EUSAGE;
	}
	dns_name_to_text(z->origin, z->origin_text, sizeof(z->origin_text));
	if (path == NULL) {
		z->text = text;
		z->len = len;
		return 0;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		ctl_err("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CTL_EFAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		ctl_err("%s: not a regular file", path);
		close(fd);
		return CTL_EFAIL;
	}
	z->len = (size_t)st.st_size;
	z->text = "";
	if (z->len > 0) {
		void *m = mmap(NULL, z->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			ctl_err("%s: cannot map: %s", path, strerror(errno));
			close(fd);
			return CTL_EFAIL;
		}
		/* read once, front to back */
		madvise(m, z->len, MADV_SEQUENTIAL);
		z->text = m;
		z->mapped = true;
	}
	close(fd);
	return 0;
}

void
zfile_close(struct zfile *z)
{
	if (z->mapped)
		munmap((void *)z->text, z->len);
	z->mapped = false;
}

/* "owner. TTL IN TYPE rdata\n" -> fields (in place). */
static int
split_line(char *line, struct zrec *out)
{
	char *f[4];
	char *p = line;
	for (int i = 0; i < 4; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (p == NULL)
			return -EINVAL;
		*p++ = '\0';
	}
	size_t l = strlen(p);
	while (l > 0 && p[l - 1] == '\n')
		p[--l] = '\0';
	out->owner = f[0];
	out->ttl = (uint32_t)strtoul(f[1], NULL, 10);
	out->type = f[3];
	out->content = p;
	return 0;
}

static int
on_rr(void *ctx, const struct dns_rr *rr)
{
	struct zparse *zp = ctx;
	if (rr->rclass != DNS_C_IN) {
		snprintf(zp->bad, sizeof(zp->bad), "only class IN is supported");
		return -EINVAL;
	}
	if (!dns_name_is_sub(rr->owner, zp->z->origin)) {
		char t[DNS_NAME_TEXT_MAX];
		dns_name_to_text(rr->owner, t, sizeof(t));
		snprintf(zp->bad, sizeof(zp->bad), "record '%.500s' is outside the zone %.500s", t,
		         zp->z->origin_text);
		return -EINVAL;
	}
	bool apex = dns_name_equal(rr->owner, zp->z->origin);
	if (rr->type == DNS_T_SOA) {
		if (!apex) {
			snprintf(zp->bad, sizeof(zp->bad), "SOA record not at the zone apex");
			return -EINVAL;
		}
		zp->soas++;
	}
	zp->records++;
	if (zp->fn == NULL)
		return 0;
	int n = dns_zt_print_rr(rr, zp->line, DNS_ZT_LINE_MAX);
	struct zrec r = {.rtype = rr->type, .at_apex = apex};
	if (n < 0 || split_line(zp->line, &r) != 0) {
		snprintf(zp->bad, sizeof(zp->bad), "cannot print a record of type %u", rr->type);
		return -EINVAL;
	}
	int ret = zp->fn(zp->ctx, &r);
	return ret != 0 ? ret : 0;
}

int
zfile_parse(struct zfile *z, zrec_fn fn, void *ctx, size_t *records, size_t *soas)
{
	struct zparse zp = {.z = z, .fn = fn, .ctx = ctx};
	if (fn != NULL && (zp.line = malloc(DNS_ZT_LINE_MAX)) == NULL) {
		ctl_err("out of memory");
		return CTL_EFAIL;
	}
	struct dns_zt_err e = {0};
	int r = dns_zt_parse(z->text, z->len, z->origin, DNS_ZT_NO_TTL, on_rr, &zp, &e);
	free(zp.line);
	*records = zp.records;
	*soas = zp.soas;
	if (r == 0)
		return 0;
	if (r > 0)
		return r;     /* the callback's exit code */
	if (zp.bad[0] != '\0' && e.line == 0)
		fprintf(stderr, "%s: error: %s\n", z->path, zp.bad);
	else if (zp.bad[0] != '\0')
		fprintf(stderr, "%s:%u:%u: error: %s\n", z->path, e.line, e.col, zp.bad);
	else if (e.what[0] != '\0')
		fprintf(stderr, "%s:%u:%u: error: %s\n", z->path, e.line, e.col, e.what);
	else
		fprintf(stderr, "%s: error: %s\n", z->path, err_str(r));
	return CTL_EFAIL;
}
