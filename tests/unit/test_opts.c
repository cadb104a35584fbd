/* util/opts.c: flags, config files, precedence, errors that name the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/opts.h"

static struct opt table[4];

static void
reset(void)
{
	static const struct opt init[] = {
		{.name = "listen", .arg = "ADDR", .def = "127.0.0.1:53", .repeatable = true},
		{.name = "workers", .arg = "N", .def = "4"},
		{.name = "insecure"},
		{0},
	};
	memcpy(table, init, sizeof(init));
}

static int
parse(char *err, size_t cap, int argc, ...)
{
	char *argv[16] = {"prog"};
	va_list ap;
	va_start(ap, argc);
	for (int i = 1; i <= argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	reset();
	err[0] = 0;
	return opts_parse(table, argc + 1, argv, "prog", "test", err, cap);
}

static void
test_opts_command_line(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(parse(err, sizeof(err), 0), 0);
	assert_string_equal(opts_str(table, "workers"), "4");        /* the default */
	assert_false(opts_get(table, "workers")->set);
	assert_false(opts_flag(table, "insecure"));
	assert_int_equal(parse(err, sizeof(err), 6, "--workers", "2", "--listen=[::1]:53",
	                       "--insecure", "--listen", "127.0.0.2:53"), 0);
	assert_string_equal(opts_str(table, "workers"), "2");
	assert_true(opts_flag(table, "insecure"));
	struct opt *l = opts_get(table, "listen");
	assert_int_equal(l->nvalues, 2);
	assert_string_equal(l->values[0], "[::1]:53");
	assert_string_equal(l->values[1], "127.0.0.2:53");
	/* A single option given twice: the last wins. */
	assert_int_equal(parse(err, sizeof(err), 3, "--workers", "2", "--workers=3"), 0);
	assert_string_equal(opts_str(table, "workers"), "3");
	assert_int_equal(opts_get(table, "workers")->nvalues, 1);
}

static void
test_opts_errors_name_the_flag(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(parse(err, sizeof(err), 1, "--nope"), -22);
	assert_non_null(strstr(err, "unknown option '--nope'"));
	assert_int_equal(parse(err, sizeof(err), 1, "--workers"), -22);
	assert_non_null(strstr(err, "--workers needs a value N"));
	assert_int_equal(parse(err, sizeof(err), 1, "--insecure=yes"), -22);
	assert_non_null(strstr(err, "--insecure takes no value"));
	assert_int_equal(parse(err, sizeof(err), 1, "stray"), -22);
	assert_non_null(strstr(err, "unexpected argument 'stray'"));
	assert_int_equal(parse(err, sizeof(err), 1, "--config"), -22);
	assert_non_null(strstr(err, "--config needs a FILE"));
	assert_int_equal(parse(err, sizeof(err), 2, "--config", "/nonexistent/anycst.conf"), -22);
	assert_non_null(strstr(err, "--config /nonexistent/anycst.conf"));
	/* Too many values of a repeatable option. */
	char *argv[2 + 2 * (OPTS_MAX_VALUES + 1)];
	int argc = 0;
	argv[argc++] = "prog";
	for (int i = 0; i <= OPTS_MAX_VALUES; i++) {
		argv[argc++] = "--listen";
		argv[argc++] = "127.0.0.1:1";
	}
	reset();
	assert_int_equal(opts_parse(table, argc, argv, "prog", "t", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "--listen given more than"));
}

static void
test_opts_config_file(void **state)
{
	(void)state;
	char path[] = "/tmp/anycst-test-opts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("# comment\n\n  workers 8   # trailing comment\n--listen 10.0.0.1:53\n"
	      "insecure no\nlisten 10.0.0.2:53\r\n", f);
	fclose(f);
	char err[256];
	/* File values first; the command line replaces a single option, appends to a list. */
	assert_int_equal(parse(err, sizeof(err), 4, "--config", path, "--listen", "10.0.0.3:53"), 0);
	assert_string_equal(opts_str(table, "workers"), "8");
	assert_false(opts_flag(table, "insecure"));   /* "flag no" leaves it unset */
	struct opt *l = opts_get(table, "listen");
	assert_int_equal(l->nvalues, 3);
	assert_string_equal(l->values[0], "10.0.0.1:53");
	assert_string_equal(l->values[1], "10.0.0.2:53");
	assert_string_equal(l->values[2], "10.0.0.3:53");
	assert_int_equal(parse(err, sizeof(err), 3, "--workers=1", "--config", path), 0);
	assert_string_equal(opts_str(table, "workers"), "1");
	/* Errors name the file and line. */
	f = fopen(path, "w");
	fputs("insecure yes\nworkers 2\nbogus 1\n", f);
	fclose(f);
	assert_int_equal(parse(err, sizeof(err), 2, "--config", path), -22);
	char want[128];
	snprintf(want, sizeof(want), "%s:3: unknown option 'bogus'", path);
	assert_non_null(strstr(err, want));
	f = fopen(path, "w");
	fputs("workers\n", f);
	fclose(f);
	assert_int_equal(parse(err, sizeof(err), 2, "--config", path), -22);
	assert_non_null(strstr(err, ":1: option 'workers' needs a value"));
	unlink(path);
}

/* "name = value" lines, and a reload into a fresh table that a bad file leaves alone. */
static void
test_opts_reparse(void **state)
{
	(void)state;
	char path[] = "/tmp/anycst-test-opts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("workers = 8\nlisten=10.0.0.1:53\n", f);
	fclose(f);
	char err[256];
	char *argv[] = {"prog", "--config", path, NULL};
	reset();
	assert_int_equal(opts_parse(table, 3, argv, "prog", "t", err, sizeof(err)), 0);
	assert_string_equal(opts_str(table, "workers"), "8");
	assert_string_equal(opts_str(table, "listen"), "10.0.0.1:53");
	unsigned long long v = 0;
	assert_int_equal(opts_num(table, "workers", 1, 16, 4, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 8);
	assert_int_equal(opts_num(table, "workers", 1, 4, 4, &v, err, sizeof(err)), -22);
	assert_string_equal(err, "--workers: '8' is not a number in 1..4");
	struct opt fresh[4];
	f = fopen(path, "w");
	fputs("workers 9\n", f);
	fclose(f);
	assert_int_equal(opts_reparse(table, fresh, 3, argv, err, sizeof(err)), 0);
	assert_string_equal(opts_str(fresh, "workers"), "9");
	assert_int_equal(opts_get(fresh, "listen")->nvalues, 0);
	assert_false(opts_same(table, fresh, "workers"));
	assert_false(opts_same(table, fresh, "listen"));
	assert_true(opts_same(table, fresh, "insecure"));
	assert_string_equal(opts_str(table, "workers"), "8");   /* the old table is untouched */
	f = fopen(path, "w");
	fputs("workers 9\nnope 1\n", f);
	fclose(f);
	assert_int_equal(opts_reparse(table, fresh, 3, argv, err, sizeof(err)), -22);
	assert_non_null(strstr(err, ":2: unknown option 'nope'"));
	assert_string_equal(opts_str(table, "workers"), "8");
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_command_line),
		cmocka_unit_test(test_opts_errors_name_the_flag),
		cmocka_unit_test(test_opts_config_file),
		cmocka_unit_test(test_opts_reparse),
	};
	return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
