/* anycst-secondary: wiring only.  Flags per DESIGN.md. */
#include <stdio.h>

#include "util/log.h"
#include "util/opts.h"

static struct opt secondary_opts[] = {
	{.name = "primary", .arg = "ADDR:PORT", .def = "127.0.0.1:8853", .help = "zone source"},
	{.name = "transport", .arg = "quic|tcp", .def = "quic", .help = "transfer transport"},
	{.name = "pin", .arg = "BASE64", .help = "SPKI SHA-256 pin of the primary's QUIC key"},
	{.name = "insecure", .help = "accept any QUIC key (logs a warning)"},
	{.name = "tsig", .arg = "NAME:ALG:SECRET", .help = "TSIG key for transfers and NOTIFY"},
	{.name = "listen", .arg = "ADDR:PORT", .def = "127.0.0.1:5353", .help = "DNS service",
	 .repeatable = true},
	{.name = "state-dir", .arg = "DIR", .def = "./secondary-state", .help = "persisted zones"},
	{.name = "catalog", .arg = "NAME", .def = "catalog.anycst.invalid.", .help = "catalog zone"},
	{.name = "zone", .arg = "NAME", .help = "serve this zone (instead of the catalog)",
	 .repeatable = true},
	{.name = "workers", .arg = "N", .def = "number of CPUs", .help = "serving threads"},
	{.name = "identity", .arg = "STRING", .def = "hostname", .help = "NSID / id.server"},
	{.name = "log-level", .arg = "LEVEL", .def = "info", .help = "debug|info|notice|warning|error"},
	{0},
};

int
main(int argc, char **argv)
{
	char err[256];
	if (opts_parse(secondary_opts, argc, argv, "anycst-secondary",
	               "POP daemon: pulls zones from the primary, answers from memory", err,
	               sizeof(err)) != 0)
		fatal("%s", err);
	fatal("the secondary daemon is not built yet");
}
