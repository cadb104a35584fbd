/*
 * Command-line flags and config files with one table.  Every long flag
 * `--name VALUE` may also appear in a config file (`--config FILE`) as a
 * line `name = value` (or `name value`); '#' starts a comment.  Flags given on the command line
 * win over the file; repeatable options from both are kept, file first.
 */
#ifndef UTIL_OPTS_H
#define UTIL_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#define OPTS_MAX_VALUES 32

struct opt {
	const char *name;       /* long flag without "--" */
	const char *arg;        /* argument name for --help, NULL for a boolean flag */
	const char *def;        /* default shown in --help (NULL: none) */
	const char *help;
	bool repeatable;
	/* filled by opts_parse */
	const char *values[OPTS_MAX_VALUES];
	size_t nvalues;
	bool set;
};

/*
 * Parses argv against `opts` (terminated by an entry with name NULL),
 * handling --help (prints usage for `prog` and exits 0), --version and
 * --config FILE.  On a bad flag or file writes a message naming it into
 * `err` and returns -EINVAL.  Values point into argv or into memory kept
 * for the life of the process.
 */
int opts_parse(struct opt *opts, int argc, char **argv, const char *prog,
               const char *summary, char *err, size_t errcap);

/* Looks an option up by name (must exist: asserts). */
struct opt *opts_get(struct opt *opts, const char *name);
/* Last value, or the default when unset. */
const char *opts_str(struct opt *opts, const char *name);
bool opts_flag(struct opt *opts, const char *name);

/* Entries of `opts` before its terminating {0}. */
size_t opts_count(const struct opt *opts);
/*
 * For a reload (SIGHUP): copies the table `opts` (opts_count + 1 entries)
 * into `fresh` without values and parses argv and its --config file again
 * into it.  0, or -EINVAL with the fault in err (the caller keeps `opts`).
 */
int opts_reparse(const struct opt *opts, struct opt *fresh, int argc, char **argv,
                 char *err, size_t errcap);
/* Whether option `name` has the same values (and set state) in both tables. */
bool opts_same(struct opt *a, struct opt *b, const char *name);
/*
 * The number option `name` in lo..hi into *out, `def` when unset.  0, or
 * -EINVAL with "--name: 'v' is not a number in lo..hi" in err.
 */
int opts_num(struct opt *opts, const char *name, unsigned long long lo, unsigned long long hi,
             unsigned long long def, unsigned long long *out, char *err, size_t errcap);

#endif
