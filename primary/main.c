/* anycst-primary: wiring only.  Flags per DESIGN.md. */
#include <stdio.h>

#include "util/log.h"
#include "util/opts.h"

static struct opt primary_opts[] = {
	{.name = "db", .arg = "PATH", .def = "./anycst.db", .help = "SQLite database"},
	{.name = "api", .arg = "ADDR:PORT", .def = "127.0.0.1:8081", .help = "REST API listener"},
	{.name = "api-key-file", .arg = "FILE", .def = "<db dir>/api.key", .help = "X-API-Key secret"},
	{.name = "xfr", .arg = "ADDR:PORT", .def = "127.0.0.1:5300", .help = "AXFR/IXFR over TCP"},
	{.name = "quic", .arg = "ADDR:PORT", .def = "127.0.0.1:8853", .help = "AXFR/IXFR over QUIC"},
	{.name = "tls-key", .arg = "FILE", .def = "<db dir>/tls.key", .help = "QUIC TLS key"},
	{.name = "catalog", .arg = "NAME", .def = "catalog.anycst.invalid.", .help = "catalog zone"},
	{.name = "notify", .arg = "ADDR:PORT", .help = "extra NOTIFY target", .repeatable = true},
	{.name = "log-level", .arg = "LEVEL", .def = "info", .help = "debug|info|notice|warning|error"},
	{0},
};

int
main(int argc, char **argv)
{
	char err[256];
	if (opts_parse(primary_opts, argc, argv, "anycst-primary",
	               "hidden primary: REST API, SQLite store, IXFR journal, zone transfers",
	               err, sizeof(err)) != 0)
		fatal("%s", err);
	enum log_level lvl;
	if (log_level_parse(opts_str(primary_opts, "log-level"), &lvl) != 0)
		fatal("--log-level: unknown level '%s'", opts_str(primary_opts, "log-level"));
	log_set_level(lvl);
	fatal("the primary daemon is not built yet");
}
