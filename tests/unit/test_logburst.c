/* secondary/logburst.c: routine lines at info up to LOG_BURST_MAX a second, then counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "secondary/logburst.h"
#include "util/log.h"

/* Runs with stderr (the log) going to a temporary file; its text after. */
static char logtext[4096];
static int saved_fd = -1;
static FILE *capture;

static void
capture_start(void)
{
	capture = tmpfile();
	assert_non_null(capture);
	saved_fd = dup(STDERR_FILENO);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

static void
capture_end(void)
{
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	rewind(capture);
	size_t n = fread(logtext, 1, sizeof(logtext) - 1, capture);
	logtext[n] = '\0';
	fclose(capture);
}

static void
test_burst_beyond_the_limit_goes_to_debug_and_is_counted(void **state)
{
	(void)state;
	static const char *const kinds[] = {"zone transfers", "zones added from the catalog"};
	struct log_burst b;
	log_burst_init(&b, kinds, 2);
	log_set_level(LOG_INFO);
	capture_start();
	for (int i = 0; i < LOG_BURST_MAX; i++)
		assert_int_equal(log_burst_level(&b, 0, 1000 + i), LOG_INFO);
	assert_int_equal(log_burst_level(&b, 0, 1100), LOG_DEBUG);
	for (int i = 0; i < 5; i++)
		assert_int_equal(log_burst_level(&b, 1, 1200), LOG_DEBUG);
	/* a summary is due a second after the first line put at debug, not before */
	assert_true(log_burst_tick(&b, 1500, false));
	assert_false(log_burst_tick(&b, 2150, false));
	/* a new second: info again, nothing left to count */
	assert_int_equal(log_burst_level(&b, 0, 2200), LOG_INFO);
	assert_false(log_burst_tick(&b, 5000, true));
	log_burst_destroy(&b, 5000);
	capture_end();
	assert_non_null(strstr(logtext, "info: busy, in the last 1.1 s 1 zone transfers, 5 zones added "
	                                 "from the catalog, their lines at debug level"));
	/* one summary line only */
	char *first = strstr(logtext, "busy");
	assert_null(strstr(first + 1, "busy"));
}

static void
test_burst_summary_when_lines_go_on(void **state)
{
	(void)state;
	static const char *const kinds[] = {"zone transfers"};
	struct log_burst b;
	log_burst_init(&b, kinds, 1);
	log_set_level(LOG_INFO);
	capture_start();
	/* 100 lines a second for three seconds: each second's surplus counted */
	int debug = 0;
	for (int64_t t = 0; t < 3000; t += 10)
		debug += log_burst_level(&b, 0, 10000 + t) == LOG_DEBUG;
	log_burst_destroy(&b, 13000);   /* says what is still counted */
	capture_end();
	assert_int_equal(debug, 3 * (100 - LOG_BURST_MAX));
	unsigned long total = 0;
	for (const char *p = logtext; (p = strstr(p, "busy, in the last ")) != NULL; p++) {
		const char *s = strstr(p, " s ");
		assert_non_null(s);
		total += strtoul(s + 3, NULL, 10);
	}
	assert_int_equal(total, (unsigned long)debug);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_beyond_the_limit_goes_to_debug_and_is_counted),
		cmocka_unit_test(test_burst_summary_when_lines_go_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
