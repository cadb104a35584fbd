/*
 * Secret files (API key, TLS key, WireGuard key, TSIG key) and the lock
 * that keeps a second process off a database.  A secret file must be a
 * regular file with no permission bits for group or others, as ssh asks of
 * its private keys: a secret readable by others is refused, never used.
 */
#ifndef UTIL_KEYFILE_H
#define UTIL_KEYFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Checks the open file `fd` (named `path`, for messages; `flag` is the
 * option that named it, e.g. "--api-key-file").  On refusal writes e.g.
 * "--api-key-file: permissions 0644 for '/x/api.key' are too open ..." to
 * `err`.  Returns 0, -EPERM (group/others bits), -EINVAL (not a regular
 * file) or -errno from fstat.
 */
int keyfile_check_fd(int fd, const char *flag, const char *path, char *err, size_t errcap);

/* The same for a path; a missing file is -ENOENT with no message written. */
int keyfile_check(const char *flag, const char *path, char *err, size_t errcap);

/*
 * Reads the secret file `path` (checked as above) into `buf` (`cap` bytes,
 * NUL-terminated), trailing whitespace removed.  Returns the length, or
 * -ENOENT, -EPERM, -EINVAL, -EMSGSIZE (larger than cap - 1: refused, not
 * cut), -EIO with a message in `err`.
 */
ssize_t keyfile_read(const char *flag, const char *path, char *buf, size_t cap, char *err,
                     size_t errcap);

/*
 * Takes the lock `path` (created 0600) for the life of the process: an
 * exclusive flock(2) on its own file, never on the database itself, so
 * SQLite's POSIX locks are untouched.  Writes our PID into it.  When another
 * process holds it, returns -EBUSY and names that process's PID in `err`.
 * The descriptor is close-on-exec and deliberately never closed: the kernel
 * releases the lock when the process ends, however it ends.
 */
int keyfile_lock(const char *path, char *err, size_t errcap);

#endif
