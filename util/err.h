/*
 * Error codes shared by every module.  Functions return 0 on success or a
 * negative code: an errno name where one fits (-ENOMEM, -EINVAL, -EMSGSIZE,
 * -ERANGE, -ENOENT, -EEXIST, -ETIMEDOUT, -ENOSPC), or a project code below.
 * err_str() names any of them.
 */
#ifndef UTIL_ERR_H
#define UTIL_ERR_H

#include <errno.h>
#include <stddef.h>

enum {
	ERR_BASE = -1000,
	ERR_FORMERR = -1000,         /* malformed DNS message */
	ERR_NAME_LABEL = -1001,      /* label longer than 63 octets or empty */
	ERR_NAME_LONG = -1002,       /* name longer than 255 octets */
	ERR_NAME_ESCAPE = -1003,     /* bad \ escape in a name */
	ERR_NAME_PTR = -1004,        /* bad compression pointer (forward, loop) */
	ERR_RDATA = -1005,           /* rdata does not parse for its type */
	ERR_TYPE = -1006,            /* unknown RR type mnemonic */
	ERR_SYNTAX = -1007,          /* zone text syntax error */
	ERR_TRUNC = -1008,           /* data ends early */
	ERR_SERIAL_BACKWARDS = -1009,/* serial does not move forward (RFC 1982) */
	ERR_SCHEMA_NEWER = -1010,    /* database schema newer than this binary */
	ERR_TSIG_BADSIG = -1011,
	ERR_TSIG_BADKEY = -1012,
	ERR_TSIG_BADTIME = -1013,
	ERR_TSIG_FORMERR = -1014,
	ERR_NOTAUTH = -1015,
	ERR_REFUSED = -1016,
	ERR_XFR = -1017,             /* transfer content invalid */
	ERR_DB_RETRY = -1018,        /* serialization failure or deadlock: run the change again */
	ERR_DB_UNKNOWN = -1019,      /* connection lost during COMMIT: outcome unknown */
	ERR_DB_DOWN = -1020,         /* no writable database server reachable: nothing done */
	ERR_LAST = -1020,
};

/* Returns a static description of `code` (negative errno or ERR_*). */
const char *err_str(int code);

/*
 * Writes a message into the caller's `err` buffer of `cap` bytes (nothing
 * when err is NULL or cap 0), as the functions taking `char *err, size_t
 * errcap` do.
 */
void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
