/*
 * Secret files and the process lock.  Every secret the daemons read from a
 * file goes through keyfile_read(), which refuses a file that group or
 * others may access (the secret may already have leaked; using it would
 * hide that) instead of quietly fixing the mode.
 */
#include "util/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

int
keyfile_check_fd(int fd, const char *flag, const char *path, char *err, size_t errcap)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		int e = errno;
		set_err(err, errcap, "%s: cannot stat %s: %s", flag, path, strerror(e));
		return -e;
	}
	if (!S_ISREG(sb.st_mode)) {
		set_err(err, errcap, "%s: %s is not a regular file", flag, path);
		return -EINVAL;
	}
	if ((sb.st_mode & 077) != 0) {
		set_err(err, errcap, "%s: permissions %04o for '%s' are too open: a secret file must "
		        "not be accessible by group or others (chmod 600 '%s')", flag,
		        (unsigned)(sb.st_mode & 07777), path, path);
		return -EPERM;
	}
	return 0;
}

int
keyfile_check(const char *flag, const char *path, char *err, size_t errcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		fd = open(path, O_RDONLY | O_CLOEXEC);   /* a symlink: check its target */
	if (fd < 0) {
		int e = errno;
		if (e != ENOENT)
			set_err(err, errcap, "%s: cannot read %s: %s", flag, path, strerror(e));
		return -e;
	}
	int ret = keyfile_check_fd(fd, flag, path, err, errcap);
	close(fd);
	return ret;
}

ssize_t
keyfile_read(const char *flag, const char *path, char *buf, size_t cap, char *err, size_t errcap)
{
	if (cap < 2)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		set_err(err, errcap, "%s: cannot read %s: %s", flag, path, strerror(e));
		return -e;
	}
	ssize_t ret = keyfile_check_fd(fd, flag, path, err, errcap);
	size_t n = 0;
	while (ret == 0 && n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			set_err(err, errcap, "%s: cannot read %s: %s", flag, path, strerror(errno));
			ret = -EIO;
		}
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (ret == 0 && n >= cap) {
		set_err(err, errcap, "%s: %s is larger than %zu bytes", flag, path, cap - 1);
		ret = -EMSGSIZE;
	}
	if (ret != 0) {
		explicit_bzero(buf, cap);
		return ret;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	                 buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

/* The PID written in the lock file by its holder, or 0 when not (yet) there. */
static long
holder_pid(int fd)
{
	char b[32];
	for (int tries = 0; tries < 20; tries++) {
		ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
		if (n > 0) {
			b[n] = '\0';
			char *end = NULL;
			long pid = strtol(b, &end, 10);
			if (end != b && pid > 0)
				return pid;
		}
		/* the holder writes its PID just after taking the lock */
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 25 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

int
keyfile_lock(const char *path, char *err, size_t errcap)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		set_err(err, errcap, "cannot open the lock file %s: %s", path, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			long pid = holder_pid(fd);
			if (pid > 0)
				set_err(err, errcap, "in use by another process, pid %ld (it holds the "
				        "lock %s)", pid, path);
			else
				set_err(err, errcap, "in use by another process (it holds the lock %s)",
				        path);
			close(fd);
			return -EBUSY;
		}
		set_err(err, errcap, "cannot lock %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	char b[32];
	int n = snprintf(b, sizeof(b), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, b, (size_t)n, 0) != n) {
		int e = errno;
		set_err(err, errcap, "cannot write our pid into %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	return 0;   /* fd stays open (and locked) until the process ends */
}
