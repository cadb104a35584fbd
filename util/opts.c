/*
 * Flag and config-file parsing.  The config file is read first into a
 * heap copy that lives for the process; command-line values then replace
 * single-valued options or append to repeatable ones.
 */
#include "util/opts.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ANYCST_VERSION
#define ANYCST_VERSION "0.1.0"
#endif

/*
 * Values read from config files, kept for the life of the process (options
 * point at them even after a command-line value replaced them), on a list
 * so that they stay reachable.
 */
struct kept {
	struct kept *next;
	char s[];
};
static struct kept *kept_values;

static char *
keep(const char *v)
{
	size_t n = strlen(v);
	struct kept *k = malloc(sizeof(*k) + n + 1);
	if (k == NULL)
		return NULL;
	memcpy(k->s, v, n + 1);
	k->next = kept_values;
	kept_values = k;
	return k->s;
}

struct opt *
opts_get(struct opt *opts, const char *name)
{
	for (struct opt *o = opts; o->name != NULL; o++) {
		if (strcmp(o->name, name) == 0)
			return o;
	}
	assert(!"unknown option name");
	return NULL;
}

const char *
opts_str(struct opt *opts, const char *name)
{
	struct opt *o = opts_get(opts, name);
	if (o->nvalues > 0)
		return o->values[o->nvalues - 1];
	return o->def;
}

bool
opts_flag(struct opt *opts, const char *name)
{
	return opts_get(opts, name)->set;
}

static struct opt *
find(struct opt *opts, const char *name, size_t len)
{
	for (struct opt *o = opts; o->name != NULL; o++) {
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	}
	return NULL;
}

static int
set_value(struct opt *o, const char *v, char *err, size_t errcap)
{
	o->set = true;
	if (o->arg == NULL)
		return 0;
	if (!o->repeatable) {
		o->values[0] = v;
		o->nvalues = 1;
		return 0;
	}
	if (o->nvalues >= OPTS_MAX_VALUES) {
		snprintf(err, errcap, "--%s given more than %d times", o->name, OPTS_MAX_VALUES);
		return -EINVAL;
	}
	o->values[o->nvalues++] = v;
	return 0;
}

static void
usage(const struct opt *opts, const char *prog, const char *summary)
{
	printf("usage: %s [options]\n%s\n\noptions:\n", prog, summary);
	for (const struct opt *o = opts; o->name != NULL; o++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
		         o->arg ? o->arg : "");
		/* two spaces at least end the flag: man-options.sh splits there */
		printf("  %-28s%s%s", left, strlen(left) < 28 ? " " : "  ", o->help);
		if (o->def != NULL)
			printf(" (default %s)", o->def);
		if (o->repeatable)
			printf(" (repeatable)");
		printf("\n");
	}
	printf("  %-28s %s\n", "--config FILE",
	       "read options from FILE, one 'name = value' a line (SIGHUP reads it again)");
	printf("  %-28s %s\n", "--help", "print this help");
	printf("  %-28s %s\n", "--version", "print the version");
}

static int
load_file(struct opt *opts, const char *path, char *err, size_t errcap)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errcap, "--config %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int ret = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		char *p = line;
		char *hash = strchr(p, '#');
		if (hash != NULL)
			*hash = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		char *e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*p == '\0')
			continue;
		char *k = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '=')
			p++;
		size_t klen = (size_t)(p - k);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '=') {   /* "name = value" or "name value" */
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		if (klen > 2 && k[0] == '-' && k[1] == '-') {
			k += 2;
			klen -= 2;
		}
		struct opt *o = find(opts, k, klen);
		if (o == NULL) {
			snprintf(err, errcap, "%s:%u: unknown option '%.*s'", path, lineno, (int)klen, k);
			ret = -EINVAL;
			break;
		}
		if (o->arg != NULL && *p == '\0') {
			snprintf(err, errcap, "%s:%u: option '%s' needs a value", path, lineno, o->name);
			ret = -EINVAL;
			break;
		}
		if (o->arg == NULL && *p != '\0' && strcmp(p, "yes") != 0 && strcmp(p, "true") != 0 &&
		    strcmp(p, "1") != 0 && strcmp(p, "on") != 0)
			continue;   /* "flag no" / "flag false" leaves it unset */
		char *v = NULL;   /* a boolean flag keeps no value */
		if (o->arg != NULL && (v = keep(p)) == NULL) {
			ret = -ENOMEM;
			break;
		}
		ret = set_value(o, v, err, errcap);
		if (ret != 0)
			break;
	}
	free(line);
	fclose(f);
	return ret;
}

int
opts_parse(struct opt *opts, int argc, char **argv, const char *prog, const char *summary,
           char *err, size_t errcap)
{
	/* First pass: --help, --version and --config. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(opts, prog, summary);
			exit(0);
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", prog, ANYCST_VERSION);
			exit(0);
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
			const char *path = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			if (path == NULL) {
				snprintf(err, errcap, "--config needs a FILE");
				return -EINVAL;
			}
			int ret = load_file(opts, path, err, errcap);
			if (ret != 0)
				return ret;
		}
	}
	/* Command-line values replace file values of single options and are
	 * appended after file values of repeatable ones. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
			if (a[8] == '\0')
				i++;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, errcap, "unexpected argument '%s' (see --help)", a);
			return -EINVAL;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		struct opt *o = find(opts, name, nlen);
		if (o == NULL) {
			snprintf(err, errcap, "unknown option '%s' (see --help)", a);
			return -EINVAL;
		}
		const char *v = NULL;
		if (o->arg != NULL) {
			if (eq != NULL)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else {
				snprintf(err, errcap, "--%s needs a value %s", o->name, o->arg);
				return -EINVAL;
			}
		} else if (eq != NULL) {
			snprintf(err, errcap, "--%s takes no value", o->name);
			return -EINVAL;
		}
		int ret = set_value(o, v, err, errcap);
		if (ret != 0)
			return ret;
	}
	return 0;
}

size_t
opts_count(const struct opt *opts)
{
	size_t n = 0;
	while (opts[n].name != NULL)
		n++;
	return n;
}

int
opts_reparse(const struct opt *opts, struct opt *fresh, int argc, char **argv, char *err,
             size_t errcap)
{
	size_t n = opts_count(opts);
	for (size_t i = 0; i <= n; i++) {
		fresh[i] = opts[i];
		fresh[i].nvalues = 0;
		fresh[i].set = false;
	}
	/* argv passed the first parse: no --help or --version in it */
	return opts_parse(fresh, argc, argv, "", "", err, errcap);
}

bool
opts_same(struct opt *a, struct opt *b, const char *name)
{
	struct opt *x = opts_get(a, name), *y = opts_get(b, name);
	if (x->set != y->set || x->nvalues != y->nvalues)
		return false;
	for (size_t i = 0; i < x->nvalues; i++) {
		if (strcmp(x->values[i], y->values[i]) != 0)
			return false;
	}
	return true;
}

int
opts_num(struct opt *opts, const char *name, unsigned long long lo, unsigned long long hi,
         unsigned long long def, unsigned long long *out, char *err, size_t errcap)
{
	struct opt *o = opts_get(opts, name);
	if (o->nvalues == 0) {
		*out = def;
		return 0;
	}
	const char *s = o->values[o->nvalues - 1];
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi || s[0] == '-') {
		snprintf(err, errcap, "--%s: '%s' is not a number in %llu..%llu", name, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}
