/*
 * anycstc: the control tool.  Wiring only: global options from
 * /etc/anycst/anycstc.conf (or $ANYCSTC_CONFIG / --config), then the
 * environment ($ANYCST_API_URL, $ANYCST_API_KEY, $ANYCST_API_KEY_FILE), then
 * flags, which win; then one command of ctl.h.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util/keyfile.h"

#define CTL_CONF_DEFAULT "/etc/anycst/anycstc.conf"
#define CTL_URL_DEFAULT "http://127.0.0.1:8081"
#define CTL_KEYFILE_DEFAULT "/var/lib/anycst/api.key"

struct ctl_opts {
	const char *conf, *url, *key_file, *timeout;
	bool conf_given, url_flag, key_flag;
	char file_url[1024], file_key_file[1024], file_timeout[32];
};

static void
usage(void)
{
	printf("usage: anycstc [options] COMMAND [ARGS]\n"
	       "control tool: zones, records, keys and POPs through the primary's REST API\n\n"
	       "commands:\n"
	       "  zone list | show ZONE | create ZONE [--ns NAME]... [--account A] [--allow-key KEY]...\n"
	       "  zone delete ZONE\n"
	       "  zone export ZONE | import ZONE FILE [--replace] [--batch N] [--allow-key KEY]...\n"
	       "  zone edit ZONE | notify ZONE\n"
	       "  record add|set ZONE NAME TYPE TTL CONTENT... | record del ZONE NAME TYPE [CONTENT...]\n"
	       "  key list [tsig|api] | key add tsig NAME [--algorithm ALG] | key add api ACCOUNT\n"
	       "  key delete tsig NAME | key delete api ID\n"
	       "  key allow|disallow NAME (ZONE|--catalog)...   a TSIG key may transfer these zones\n"
	       "  pop list | pop add NAME ENDPOINT PUBLIC-KEY [--dns-port N] | pop delete NAME\n"
	       "  pop config [NAME]\n"
	       "  node list | node remove MESH-IP   primary nodes of the database (one gone for good)\n"
	       "  status [ZONE]                primary health, every POP's serial lag per zone\n"
	       "  journal ZONE [--since SERIAL]\n"
	       "  check [--origin NAME] ZONE-FILE   check a zone file offline\n\n"
	       "options:\n");
	printf("  %-28s %s\n", "--url URL", "the primary's API (default " CTL_URL_DEFAULT ")");
	printf("  %-28s %s\n", "--key-file FILE", "API key file (default " CTL_KEYFILE_DEFAULT ")");
	printf("  %-28s %s\n", "--timeout SECONDS", "per request (default 600)");
	printf("  %-28s %s\n", "--json", "JSON output for scripts");
	printf("  %-28s %s\n", "--quiet", "no progress or summary lines");
	printf("  %-28s %s\n", "--config FILE", "read options from FILE, one 'name value' a line "
	       "(default " CTL_CONF_DEFAULT ")");
	printf("  %-28s %s\n", "--help", "print this help");
	printf("  %-28s %s\n", "--version", "print the version");
}

/* Reads "name value" lines (url, key-file, timeout) of the config file. */
static int
load_conf(struct ctl_opts *o)
{
	FILE *f = fopen(o->conf, "r");
	if (f == NULL) {
		if (errno == ENOENT && !o->conf_given)
			return 0;
		ctl_err("--config %s: %s", o->conf, strerror(errno));
		return CTL_EUSAGE;
	}
	char line[2048];
	unsigned n = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		n++;
		char *h = strchr(line, '#');
		if (h != NULL)
			*h = '\0';
		char name[64], val[1024];
		int k = sscanf(line, " %63s %1023s", name, val);
		if (k <= 0)
			continue;
		if (k == 1) {
			ctl_err("%s:%u: '%s' has no value", o->conf, n, name);
			rc = CTL_EUSAGE;
		} else if (strcmp(name, "url") == 0) {
			snprintf(o->file_url, sizeof(o->file_url), "%s", val);
		} else if (strcmp(name, "key-file") == 0) {
			snprintf(o->file_key_file, sizeof(o->file_key_file), "%s", val);
		} else if (strcmp(name, "timeout") == 0) {
			snprintf(o->file_timeout, sizeof(o->file_timeout), "%.31s", val);
		} else {
			ctl_err("%s:%u: unknown option '%s' (url, key-file, timeout)", o->conf, n, name);
			rc = CTL_EUSAGE;
		}
	}
	fclose(f);
	return rc;
}

/* Takes the global options out of argv (anywhere on the line); returns 0 or an exit code. */
static int
global_flags(struct ctl *c, struct ctl_opts *o, int *argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		if (strcmp(a, "--json") == 0) {
			c->json = true;
			continue;
		}
		if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			c->quiet = true;
			continue;
		}
		if (strcmp(a, "--url") == 0) {
			dst = &o->url;
			o->url_flag = true;
		} else if (strcmp(a, "--key-file") == 0) {
			dst = &o->key_file;
			o->key_flag = true;
		} else if (strcmp(a, "--config") == 0) {
			dst = &o->conf;
			o->conf_given = true;
		} else if (strcmp(a, "--timeout") == 0) {
			dst = &o->timeout;
		}
		if (dst == NULL) {
			argv[out++] = argv[i];
			continue;
		}
		if (i + 1 >= *argc) {
			ctl_err("%s needs a value (see --help)", a);
			return CTL_EUSAGE;
		}
		*dst = argv[++i];
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

/* Settles URL, key and timeout: flags, then environment, then file, then defaults. */
static int
settle(struct ctl *c, struct ctl_opts *o)
{
	const char *env_url = getenv("ANYCST_API_URL");
	const char *url = o->url_flag ? o->url : env_url && *env_url ? env_url :
	                  o->file_url[0] ? o->file_url : CTL_URL_DEFAULT;
	snprintf(c->url, sizeof(c->url), "%s", url);
	const char *to = o->timeout ? o->timeout : o->file_timeout[0] ? o->file_timeout : "600";
	char *end;
	c->timeout = strtol(to, &end, 10);
	if (end == to || *end != '\0' || c->timeout < 1 || c->timeout > 86400) {
		ctl_err("--timeout: '%s' is not a number of seconds in 1..86400", to);
		return CTL_EUSAGE;
	}
	const char *env_key = getenv("ANYCST_API_KEY");
	if (!o->key_flag && env_key != NULL && *env_key != '\0') {
		snprintf(c->key, sizeof(c->key), "%s", env_key);
		return 0;
	}
	const char *env_kf = getenv("ANYCST_API_KEY_FILE");
	const char *kf = o->key_flag ? o->key_file : env_kf && *env_kf ? env_kf :
	                 o->file_key_file[0] ? o->file_key_file : CTL_KEYFILE_DEFAULT;
	char err[512];
	ssize_t n = keyfile_read("--key-file", kf, c->key, sizeof(c->key), err, sizeof(err));
	if (n <= 0) {
		ctl_err("%s", n == 0 ? "--key-file: the file holds no key" : err);
		return CTL_EAUTH;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("anycstc %s\n", ANYCST_VERSION);
			return 0;
		}
	}
	struct ctl c = {.timeout = 600};
	struct ctl_opts o = {.conf = CTL_CONF_DEFAULT};
	const char *env_conf = getenv("ANYCSTC_CONFIG");
	if (env_conf != NULL && *env_conf != '\0') {
		o.conf = env_conf;
		o.conf_given = true;
	}
	int rc = global_flags(&c, &o, &argc, argv);
	if (rc != 0)
		return rc;
	if (argc < 2) {
		ctl_err("no command (see --help)");
		return CTL_EUSAGE;
	}
	const char *cmd = argv[1];
	/* check works offline: no configuration needed */
	if (strcmp(cmd, "check") == 0)
		return ctl_cmd_check(&c, argc - 2, argv + 2);
	rc = load_conf(&o);
	if (rc == 0)
		rc = settle(&c, &o);
	if (rc != 0)
		return rc;
	struct {
		const char *name;
		int (*fn)(struct ctl *, int, char **);
	} cmds[] = {
		{"zone", ctl_cmd_zone}, {"record", ctl_cmd_record}, {"key", ctl_cmd_key},
		{"pop", ctl_cmd_pop}, {"node", ctl_cmd_node}, {"status", ctl_cmd_status},
		{"journal", ctl_cmd_journal},
	};
	rc = -1;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			rc = cmds[i].fn(&c, argc - 2, argv + 2);
	if (rc == -1) {
		ctl_err("unknown command '%s' (see --help)", cmd);
		rc = CTL_EUSAGE;
	}
	if (c.curl != NULL) {
		curl_easy_cleanup(c.curl);
		curl_global_cleanup();
	}
	explicit_bzero(c.key, sizeof(c.key));
	return rc;
}
