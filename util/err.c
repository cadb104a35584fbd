/* Names for the error codes of util/err.h and for negative errno values. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
err_str(int code)
{
	switch (code) {
	case 0: return "ok";
	case ERR_FORMERR: return "malformed message";
	case ERR_NAME_LABEL: return "label empty or longer than 63 octets";
	case ERR_NAME_LONG: return "name longer than 255 octets";
	case ERR_NAME_ESCAPE: return "bad escape in name";
	case ERR_NAME_PTR: return "bad compression pointer";
	case ERR_RDATA: return "bad record data";
	case ERR_TYPE: return "unknown record type";
	case ERR_SYNTAX: return "syntax error";
	case ERR_TRUNC: return "data ends early";
	case ERR_SERIAL_BACKWARDS: return "serial moves backwards";
	case ERR_SCHEMA_NEWER: return "database schema is newer than this binary";
	case ERR_TSIG_BADSIG: return "TSIG signature does not verify";
	case ERR_TSIG_BADKEY: return "TSIG key unknown";
	case ERR_TSIG_BADTIME: return "TSIG time outside fudge";
	case ERR_TSIG_FORMERR: return "TSIG record malformed";
	case ERR_NOTAUTH: return "not authorized";
	case ERR_REFUSED: return "refused";
	case ERR_XFR: return "transfer content invalid";
	case ERR_DB_RETRY: return "database serialization failure or deadlock";
	case ERR_DB_UNKNOWN: return "database connection lost during commit: outcome unknown";
	case ERR_DB_DOWN: return "database unavailable: no writable server reachable";
	default: break;
	}
	if (code < 0 && code > ERR_BASE)
		return strerror(-code);
	return "unknown error";
}

void
set_err(char *err, size_t cap, const char *fmt, ...)
{
	if (err == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}
