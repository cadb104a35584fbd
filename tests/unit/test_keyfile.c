/* util/keyfile.c: secret files private to their owner (like ssh), the process lock. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
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

#include "util/keyfile.h"

static void
put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_keyfile_modes(void **state)
{
	(void)state;
	char dir[] = "/tmp/anycst-keyfile-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], err[512], buf[64];
	snprintf(path, sizeof(path), "%s/api.key", dir);
	put(path, "s3cret-key\n\n", 0600);
	assert_int_equal(keyfile_read("--api-key-file", path, buf, sizeof(buf), err, sizeof(err)),
	                 10);
	assert_string_equal(buf, "s3cret-key");
	assert_int_equal(keyfile_check("--api-key-file", path, err, sizeof(err)), 0);
	/* 0400 is fine; any bit for group or others is not */
	static const mode_t bad[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601};
	chmod(path, 0400);
	assert_int_equal(keyfile_check("--x", path, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		chmod(path, bad[i]);
		memset(buf, 'A', sizeof(buf));
		assert_int_equal(keyfile_read("--api-key-file", path, buf, sizeof(buf), err,
		                              sizeof(err)), -EPERM);
		char want[200];
		snprintf(want, sizeof(want), "--api-key-file: permissions %04o for '%s' are too open",
		         (unsigned)bad[i], path);
		assert_non_null(strstr(err, want));
		assert_null(strstr(err, "s3cret"));
		assert_null(memmem(buf, sizeof(buf), "s3cret", 6));   /* nothing handed out */
		assert_int_equal(keyfile_check("--x", path, err, sizeof(err)), -EPERM);
	}
	chmod(path, 0600);
	/* larger than the buffer: refused, not cut */
	put(path, "0123456789", 0600);
	assert_int_equal(keyfile_read("--x", path, buf, 8, err, sizeof(err)), -EMSGSIZE);
	/* missing: -ENOENT (keyfile_check writes nothing, the caller may create it) */
	unlink(path);
	assert_int_equal(keyfile_check("--x", path, err, sizeof(err)), -ENOENT);
	assert_true(keyfile_read("--x", path, buf, sizeof(buf), err, sizeof(err)) == -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
	/* a directory is not a key file */
	assert_int_equal(keyfile_check("--x", dir, err, sizeof(err)), -EINVAL);
	rmdir(dir);
}

static void
test_keyfile_lock(void **state)
{
	(void)state;
	char dir[] = "/tmp/anycst-keylock-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/db.lock", dir);
	/* a child takes the lock and keeps it until told to go */
	int to_child[2], from_child[2];
	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(from_child), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c = keyfile_lock(path, NULL, 0) == 0 ? 'y' : 'n';
		if (write(from_child[1], &c, 1) != 1 || read(to_child[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	char c = 0;
	assert_int_equal(read(from_child[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(keyfile_lock(path, err, sizeof(err)), -EBUSY);
	char want[64];
	snprintf(want, sizeof(want), "pid %ld ", (long)pid);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, path));
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* the holder ends: the lock is ours, and it names us */
	assert_int_equal(write(to_child[1], "x", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(keyfile_lock(path, err, sizeof(err)), 0);
	char b[32] = {0};
	int fd = open(path, O_RDONLY);
	assert_true(read(fd, b, sizeof(b) - 1) > 0);
	close(fd);
	assert_int_equal(strtol(b, NULL, 10), (long)getpid());
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyfile_modes),
		cmocka_unit_test(test_keyfile_lock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
