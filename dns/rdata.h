/*
 * RDATA in presentation and wire form for every supported type (see
 * dns/rrtype.h), and RFC 3597 "\# len hex" for any type.  Wire rdata here is
 * always uncompressed.  Names in presentation output are absolute.
 * No allocation (tests/unit/test_rdata.c proves it).
 *
 * Types with a text form (dns_rdata_known): A NS MD MF CNAME SOA MB MG MR
 * WKS PTR HINFO MINFO MX TXT RP AFSDB X25 ISDN RT NSAP NSAP-PTR SIG KEY PX GPOS
 * AAAA LOC EID NIMLOC SRV NAPTR KX CERT DNAME APL DS SSHFP IPSECKEY RRSIG
 * NSEC DNSKEY DHCID NSEC3 NSEC3PARAM TLSA SMIMEA HIP NINFO TALINK CDS
 * CDNSKEY OPENPGPKEY CSYNC ZONEMD SVCB HTTPS DSYNC HHIT BRID SPF NID L32
 * L64 LP EUI48 EUI64 URI CAA AVC DOA AMTRELAY RESINFO WALLET TA DLV.  Every
 * other type takes and prints "\# len hex".
 *
 * Text input follows BIND 9.18: only character-strings may be quoted (URI's
 * target must be); TXT/SPF words may be unquoted and a string over 255
 * octets becomes several 255-octet strings; SOA timers take TTL units
 * (1h30m); DNSSEC algorithms and DS digest types take mnemonics; RRSIG times
 * are YYYYMMDDHHmmSS or seconds (up to 10 digits); SVCB params may come in
 * any order (sorted on the wire, duplicates and AliasMode params refused,
 * mandatory keys must be present; dohpath needs a "dns" variable).
 * Output is named-checkzone -D's form: hex upper case, base64 and hex in
 * 56-character chunks, RRSIG times as YYYYMMDDHHmmSS in the 136-year window
 * around now, SvcParamKey 7 (dohpath) as key7 as BIND 9.18 prints it.
 */
#ifndef DNS_RDATA_H
#define DNS_RDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/lex.h"

#define DNS_RDATA_MAX 65535
/*
 * Text room that holds the presentation form of any rdata except an NSEC,
 * NSEC3 or CSYNC type bitmap listing thousands of types; when
 * dns_rdata_to_text returns -ENOSPC with this much room, the RFC 3597 form
 * (dns_rdata_to_generic, at most 2.1 * rdlen + 16 octets) always fits.
 */
#define DNS_RDATA_TEXT_MAX (4 * DNS_RDATA_MAX + 1024)

struct dns_rdata_err {
	size_t tok;      /* index of the offending token (n when tokens ran out) */
	char what[96];   /* e.g. "bad IPv4 address '1.2.3'" */
};

/*
 * Parses the rdata tokens t[0..n) of a record of `type` into wire form in
 * `out` (`cap` bytes).  Relative names get `origin` appended (NULL: root).
 * Returns the rdata length (>= 0) or ERR_RDATA with `e` filled: e->what
 * names the fault and quotes the text ("MX preference '70000' out of range",
 * "missing SOA field 'minimum'", "unexpected extra field 'x'"), e->tok is
 * the index of the offending token, or n when fields are missing.
 */
int dns_rdata_from_tokens(uint16_t type, const struct dns_tok *t, size_t n,
                          const uint8_t *origin, uint8_t *out, size_t cap,
                          struct dns_rdata_err *e);

/*
 * Same for one string such as an API record "content" ("10 mail.example.com.").
 * On error writes a message into `err` (errcap bytes) and returns ERR_RDATA.
 * At most 4096 fields (an NSEC or WKS listing more is refused here).
 */
int dns_rdata_from_str(uint16_t type, const char *s, size_t len, const uint8_t *origin,
                       uint8_t *out, size_t cap, char *err, size_t errcap);

/*
 * Writes the canonical presentation form of wire rdata (as BIND's
 * named-checkzone -D prints it, on one line) into `buf` with a NUL.
 * Returns the text length, -ENOSPC if `cap` is too small, or ERR_RDATA when
 * the wire rdata is malformed for its type (then use RFC 3597 form).
 */
int dns_rdata_to_text(uint16_t type, const uint8_t *rd, size_t rdlen, char *buf, size_t cap);

/*
 * The same as PowerDNS's API presents it (dns/rdata_pdns.c): hex lower case
 * and base64 in one piece, CERT numeric, LOC sizes with two decimals, L64/NID
 * as four 4-digit groups, SVCB alpn unquoted when it can be.  Same returns.
 */
int dns_rdata_to_text_pdns(uint16_t type, const uint8_t *rd, size_t rdlen, char *buf, size_t cap);

/* True when `type` has a text form here (otherwise only "\# len hex"). */
bool dns_rdata_known(uint16_t type);

/* RFC 3597 "\# len hex" form; returns the text length or -ENOSPC. */
int dns_rdata_to_generic(const uint8_t *rd, size_t rdlen, char *buf, size_t cap);

/*
 * Validates wire rdata for its type (lengths, embedded names, bitmaps,
 * SvcParams order and values, digest lengths of known DS/SSHFP/ZONEMD/NSEC3
 * algorithms).  Unknown types always pass.  0 or ERR_RDATA.  Everything it
 * accepts prints with dns_rdata_to_text and parses back to the same octets,
 * except SVCB/HTTPS AliasMode records carrying params (RFC 9460 §2.4.2 lets
 * receivers ignore them, so wire data with them is accepted; text refuses
 * them), LOC sizes encoded as 0 with a non-zero exponent and WKS bitmaps
 * with trailing zero octets (these read back in their shortest form).
 */
int dns_rdata_check(uint16_t type, const uint8_t *rd, size_t rdlen);

/*
 * Reads the rdata of `rdlen` bytes at `pos` of message `pkt`, expanding the
 * compressed names that RFC 3597 §4 allows (NS, CNAME, SOA, PTR, MX and the
 * other RFC 1035 types, and on receipt RP, AFSDB, RT, SIG, PX, NAPTR, SRV)
 * into `out` (`cap` bytes), with dns_name_unpack's rules (pointers only
 * backwards; a name must end inside the rdata).  Other types are copied
 * after validation.  Returns the new rdata length, or ERR_FORMERR (bad name
 * or rdlen past the packet), ERR_RDATA (malformed for the type), -ENOSPC.
 */
int dns_rdata_unpack(uint16_t type, const uint8_t *pkt, size_t pktlen, size_t pos,
                     size_t rdlen, uint8_t *out, size_t cap);

/*
 * Offsets of the domain names inside wire rdata of `type`; `compress[i]`
 * says whether name i may be compressed when written (RFC 3597 §4: NS,
 * CNAME, SOA, PTR, MX, MB, MD, MF, MG, MINFO, MR only).  `compress` may be
 * NULL.  Returns the count (<= max); 0 for unknown types.
 */
size_t dns_rdata_names(uint16_t type, const uint8_t *rd, size_t rdlen, uint16_t *offs,
                       bool *compress, size_t max);

/*
 * Lowercases the embedded names RFC 4034 §6.2 lists, less NSEC and RRSIG
 * (RFC 6840 §5.1): NS MD MF CNAME SOA MB MG MR PTR MINFO MX RP AFSDB RT SIG
 * PX NAPTR KX SRV DNAME.  Malformed rdata is left as it is.
 */
void dns_rdata_canonicalize(uint16_t type, uint8_t *rd, size_t rdlen);

#endif
