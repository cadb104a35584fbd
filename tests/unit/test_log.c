/* util/log.c: the line format, and the syslog priority prefix when stderr is
 * systemd's journal (JOURNAL_STREAM names the stream's device and inode). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/log.h"

/* Logs one line of each level to a temp file as stderr; its text in buf. */
static void
log_to_file(char *buf, size_t cap, bool journal)
{
	char path[] = "/tmp/anycst-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	char v[64];
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	         journal ? (unsigned long long)st.st_ino : (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	log_set_level(LOG_DEBUG);
	log_msg(LOG_WARNING, "example.com.", "a %s", "warning");
	log_msg(LOG_ERROR, NULL, "an error");
	log_msg(LOG_INFO, NULL, "info");
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = pread(fd, buf, cap - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
}

/* One process looks at JOURNAL_STREAM once: each case runs in a child. */
static void
in_child(bool journal, const char *want)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[1024];
		log_to_file(buf, sizeof(buf), journal);
		if (strcmp(buf, want) != 0) {
			printf("got:\n%s", buf);
			_exit(1);
		}
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_log_plain_lines(void **state)
{
	(void)state;
	in_child(false, "warning: [example.com.] a warning\nerror: an error\ninfo: info\n");
}

static void
test_log_journal_priorities(void **state)
{
	(void)state;
	in_child(true, "<4>warning: [example.com.] a warning\n<3>error: an error\n<6>info: info\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_plain_lines),
		cmocka_unit_test(test_log_journal_priorities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
