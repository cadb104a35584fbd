/*
 * DNS messages (RFC 1035 §4, EDNS(0) RFC 6891): parsing with strict bounds
 * and building with name compression.  Nothing here allocates.
 *
 * Parsing: dns_msg_parse() checks the header, every question and every RR of
 * every section against the data (counts, names through dns_name_unpack with
 * backward-only pointers, rdlength against the packet), and locates OPT and
 * TSIG.  It keeps offsets into the caller's packet, which must outlive the
 * struct dns_msg.  RRs are then read section by section with
 * struct dns_msg_iter, which decompresses owner and rdata names into the
 * caller's buffers (dns_rdata_unpack).
 *
 * Policy decisions (tests in tests/unit/test_msg.c hold them):
 *  - Bytes after the last counted RR ("trailing garbage") are ignored, as
 *    BIND does; m->trailing says how many.  They are outside any TSIG MAC.
 *  - A second OPT, an OPT outside the additional section or with a non-root
 *    owner, a TSIG that is not the last RR of the additional section, and a
 *    second TSIG are ERR_FORMERR.
 *  - Counts larger than the data are ERR_TRUNC (the message ends early).
 *
 * Building: struct dns_msgw writes into a caller buffer.  Sections are
 * appended in order (question, answer, authority, additional); the header
 * counts are updated after every whole question or RR, so the buffer holds a
 * valid message of w->len bytes at every moment.  When an RR does not fit,
 * -EMSGSIZE is returned and the message stays as it was before that RR, so
 * the caller can set TC and send it.  Names (owners, and the rdata names
 * dns_rdata_names() marks compressible) are compressed against every name
 * suffix written before at an offset below 0x4000.  Suffixes match with
 * their letter case (data keeps its spelling through a transfer), except
 * that a whole name equal to the first qname in any case points to the
 * qname, as Knot does (answer owners take the question's spelling);
 * uncompressible rdata names (RFC 3597 §4) are written in full but may still
 * serve as pointer targets.
 */
#ifndef DNS_MSG_H
#define DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dns/compress.h"
#include "dns/name.h"
#include "dns/rr.h"

#define DNS_HDR_LEN 12
#define DNS_MSG_MAX 65535
/* Size of an OPT RR with no options: root owner, type, class, ttl, rdlen. */
#define DNS_OPT_LEN 11
#define DNS_EDNS_DEFAULT_UDP 1232

/* Sections, in wire order. */
enum { DNS_SEC_QD = 0, DNS_SEC_AN = 1, DNS_SEC_NS = 2, DNS_SEC_AR = 3 };

/* Bits of the 16-bit flags word (header octets 2-3). */
#define DNS_F_QR 0x8000u
#define DNS_F_AA 0x0400u
#define DNS_F_TC 0x0200u
#define DNS_F_RD 0x0100u
#define DNS_F_RA 0x0080u
#define DNS_F_AD 0x0020u
#define DNS_F_CD 0x0010u
#define DNS_F_OPCODE_SHIFT 11
#define DNS_F_OPCODE_MASK 0x7800u
#define DNS_F_RCODE_MASK 0x000fu

enum { DNS_OP_QUERY = 0, DNS_OP_NOTIFY = 4, DNS_OP_UPDATE = 5 };

/* RCODEs; values above 15 need OPT (extended rcode) or TSIG (error field). */
enum {
	DNS_RCODE_NOERROR = 0, DNS_RCODE_FORMERR = 1, DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3, DNS_RCODE_NOTIMP = 4, DNS_RCODE_REFUSED = 5,
	DNS_RCODE_YXDOMAIN = 6, DNS_RCODE_YXRRSET = 7, DNS_RCODE_NXRRSET = 8,
	DNS_RCODE_NOTAUTH = 9, DNS_RCODE_NOTZONE = 10,
	DNS_RCODE_BADVERS = 16,     /* OPT */
	DNS_RCODE_BADSIG = 16,      /* TSIG error field */
	DNS_RCODE_BADKEY = 17, DNS_RCODE_BADTIME = 18, DNS_RCODE_BADTRUNC = 22,
	DNS_RCODE_BADCOOKIE = 23,
};

/* EDNS(0) parameters, parsed (struct dns_msg.edns) or to write. */
#define DNS_EDNS_DO 0x8000u
enum { DNS_EDNS_OPT_NSID = 3, DNS_EDNS_OPT_COOKIE = 10, DNS_EDNS_OPT_PADDING = 12 };
struct dns_edns {
	uint16_t udp_size;    /* requestor's payload size (values < 512 mean 512 to callers) */
	uint8_t version;
	uint16_t flags;       /* DNS_EDNS_DO and the rest of the TTL's low 16 bits */
	const uint8_t *opts;  /* option bytes (code, len, data)*; borrowed */
	uint16_t optlen;
};

/* The TSIG RR of a parsed message (RFC 8945 §4.2), names decompressed. */
struct dns_msg_tsig {
	size_t off;          /* offset of the TSIG RR = length of the message it signs */
	size_t end;          /* offset just past the TSIG RR */
	uint8_t key[DNS_NAME_MAX];
	uint8_t alg[DNS_NAME_MAX];
	uint64_t time_signed;     /* 48 bits */
	uint16_t fudge;
	const uint8_t *mac;       /* into the packet */
	uint16_t mac_len;
	uint16_t orig_id;
	uint16_t error;
	const uint8_t *other;     /* into the packet */
	uint16_t other_len;
};

/*
 * A parsed message.  All pointers point into the packet given to
 * dns_msg_parse(), which must stay unchanged while this is used.
 */
struct dns_msg {
	const uint8_t *pkt;
	size_t len;
	uint16_t id;
	uint16_t flags;            /* whole flags word: QR, opcode, AA, TC, RD, RA, AD, CD, rcode */
	uint16_t count[4];         /* QD, AN, NS, AR as in the header */
	size_t sec[4];             /* offset of the first entry of each section */
	size_t end;                /* offset just past the last counted RR */
	size_t trailing;           /* len - end: ignored bytes after the last RR */
	/* The first question (qdcount >= 1), qname decompressed, case as sent. */
	uint8_t qname[DNS_NAME_MAX];
	size_t qname_len;          /* 0 when there is no question */
	size_t qname_off;          /* offset of the qname in the packet */
	uint16_t qtype, qclass;
	bool has_opt;
	size_t opt_off;            /* offset of the OPT RR */
	uint8_t ext_rcode;         /* upper 8 bits of the 12-bit rcode (OPT TTL) */
	struct dns_edns edns;
	bool has_tsig;
	struct dns_msg_tsig tsig;
};

/*
 * Parses the message `pkt` of `len` bytes into `m` (see the file comment for
 * what is checked).  Even on error, when len >= 12, m->id, m->flags and
 * m->count are filled so that a FORMERR answer can echo the id.
 * Returns 0, or ERR_TRUNC (header short, counts larger than the data, RR or
 * rdata cut), ERR_NAME_PTR / ERR_NAME_LABEL / ERR_NAME_LONG (bad name),
 * ERR_FORMERR (OPT/TSIG placement, malformed OPT options or TSIG rdata).
 */
int dns_msg_parse(struct dns_msg *m, const uint8_t *pkt, size_t len);

/* Opcode, full 12-bit rcode (header + OPT), and flag test helpers. */
static inline unsigned
dns_msg_opcode(const struct dns_msg *m)
{
	return (m->flags & DNS_F_OPCODE_MASK) >> DNS_F_OPCODE_SHIFT;
}

static inline unsigned
dns_msg_rcode(const struct dns_msg *m)
{
	return ((unsigned)m->ext_rcode << 4) | (m->flags & DNS_F_RCODE_MASK);
}

/*
 * Finds EDNS option `code` in m's OPT.  Returns true and sets *data and *dlen
 * (pointing into the packet) when present.  Options were validated by parse.
 */
bool dns_msg_edns_option(const struct dns_msg *m, uint16_t code, const uint8_t **data,
                         uint16_t *dlen);

/*
 * Reading RRs of one section.  For the question section, rr->ttl, rdlen and
 * rdata are 0/NULL.  The additional section includes OPT and TSIG as they
 * appear (callers skip DNS_T_OPT / DNS_T_TSIG when they do not want them).
 */
struct dns_msg_iter {
	const struct dns_msg *m;
	unsigned section;
	uint16_t left;
	size_t pos;
	size_t rr_off;       /* offset of the RR returned last */
	size_t rdata_off;    /* offset of its rdata in the packet (compressed form) */
	uint16_t raw_rdlen;  /* its rdlength on the wire */
};

void dns_msg_iter_init(struct dns_msg_iter *it, const struct dns_msg *m, unsigned section);

/*
 * Reads the next RR of the section into `rr`: owner decompressed into
 * `owner` (DNS_NAME_MAX bytes), rdata decompressed by dns_rdata_unpack into
 * `rdbuf` (`rdcap` bytes; DNS_RDATA_MAX always suffices).  rr->owner and
 * rr->rdata point at those buffers.  Returns 1 when an RR was read, 0 at the
 * end of the section, or ERR_FORMERR / ERR_RDATA / ERR_NAME_* / -ENOSPC.
 */
int dns_msg_iter_next(struct dns_msg_iter *it, struct dns_rr *rr, uint8_t *owner,
                      uint8_t *rdbuf, size_t rdcap);

/* ---- building ---- */

#define DNS_MSGW_SLOTS 8192       /* compression hash slots (power of two) */
#define DNS_MSGW_ENTRIES 4096     /* suffixes remembered per message */

/*
 * Message writer.  About 72 KiB: keep one per worker or transfer, not per
 * call frame in deep stacks.  Fields are read-only for callers except
 * through the functions below; w->len is the current message length.
 */
struct dns_msgw {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t reserve;          /* bytes held back from questions and RRs */
	unsigned section;        /* last section written to */
	uint16_t rcode;          /* 12-bit rcode; upper bits go into OPT */
	size_t qd_end;           /* end of the question section */
	struct dns_compress cz;            /* over used and slot */
	uint16_t used[DNS_MSGW_ENTRIES];   /* slots in use, cleared on reset */
	struct dns_cslot slot[DNS_MSGW_SLOTS];
};

/*
 * Starts an empty message (id 0, no flags, no records) in `buf` of `cap`
 * bytes (at most 65535 are used).  Clears the whole compression table
 * (a 64 KiB memset).  Returns 0 or -EMSGSIZE when cap < 12.
 */
int dns_msgw_init(struct dns_msgw *w, uint8_t *buf, size_t cap);

/*
 * Same for a writer that went through dns_msgw_init() once already: clears
 * only the table entries the previous message used (cheap; per query).
 */
int dns_msgw_reset(struct dns_msgw *w, uint8_t *buf, size_t cap);

/* Sets header fields of the message being written. */
void dns_msgw_set_id(struct dns_msgw *w, uint16_t id);
void dns_msgw_set_flags(struct dns_msgw *w, uint16_t flags);   /* whole word incl. opcode */
uint16_t dns_msgw_flags(const struct dns_msgw *w);
/*
 * Sets the 12-bit rcode: the low 4 bits go into the header now, the upper 8
 * into the OPT written later by dns_msgw_opt() (BADVERS needs OPT).
 */
void dns_msgw_set_rcode(struct dns_msgw *w, unsigned rcode);

/*
 * Holds back `n` bytes at the end of the buffer from questions and RRs, so
 * that an OPT (DNS_OPT_LEN + options) and a TSIG (dns_tsig_reserve()) still
 * fit after the answer was truncated.  dns_msgw_opt() and TSIG signing use
 * the whole buffer.  Returns 0 or -EMSGSIZE.
 */
int dns_msgw_reserve(struct dns_msgw *w, size_t n);

/*
 * Appends a question.  Returns 0, -EINVAL (questions after RRs) or
 * -EMSGSIZE (message unchanged).
 */
int dns_msgw_question(struct dns_msgw *w, const uint8_t *qname, uint16_t qtype,
                      uint16_t qclass);

/*
 * Appends `rr` (uncompressed owner and rdata, as everywhere in dns/) to
 * `section` (DNS_SEC_AN..AR), compressing the owner and compressible rdata
 * names.  Returns 0, -EINVAL (section before the current one, or a section
 * value out of range), -EMSGSIZE (did not fit: message unchanged).
 */
int dns_msgw_rr(struct dns_msgw *w, unsigned section, const struct dns_rr *rr);

/*
 * Appends an OPT RR to the additional section with `e` (udp_size, version,
 * flags, options) and the upper bits of the rcode set by
 * dns_msgw_set_rcode().  Uses the reserved space.  Returns 0, -EINVAL,
 * -EMSGSIZE (unchanged).
 */
int dns_msgw_opt(struct dns_msgw *w, const struct dns_edns *e);

/*
 * Appends raw already-encoded RR bytes (e.g. a copy from another message,
 * with no compression pointers inside) to `section`, counting `nrr` RRs.
 * Returns 0, -EINVAL, -EMSGSIZE (unchanged).
 */
int dns_msgw_raw(struct dns_msgw *w, unsigned section, const uint8_t *p, size_t len,
                 uint16_t nrr);

/*
 * Forgets RRs so the buffer can be reused for the next message of a
 * transfer: keeps the header (id, flags) and the question section, drops
 * answer/authority/additional and the compression entries pointing past the
 * question.  Used for AXFR message after message (or start each with
 * dns_msgw_reset_response).
 */
void dns_msgw_truncate_to_question(struct dns_msgw *w);

/* Sets the TC bit. */
void dns_msgw_set_tc(struct dns_msgw *w);

/*
 * Starts a response to the parsed query `q`: id, opcode, RD and CD copied,
 * QR set plus `flags` (e.g. DNS_F_AA), `rcode` set as by dns_msgw_set_rcode,
 * and q's first question copied with the qname's letter case preserved.
 * Returns 0 or -EMSGSIZE.
 */
int dns_msgw_init_response(struct dns_msgw *w, uint8_t *buf, size_t cap,
                           const struct dns_msg *q, uint16_t flags, unsigned rcode);
/* Same on a writer initialised before (see dns_msgw_reset). */
int dns_msgw_reset_response(struct dns_msgw *w, uint8_t *buf, size_t cap,
                            const struct dns_msg *q, uint16_t flags, unsigned rcode);

/*
 * Writes a complete query: header (`id`, `flags` such as DNS_F_RD or an
 * opcode), one question, and an OPT when `edns` is not NULL.
 * Returns the length or -EMSGSIZE.  (No dns_msgw needed: no compression.)
 */
ssize_t dns_msg_make_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *qname,
                           uint16_t qtype, uint16_t qclass, uint16_t flags,
                           const struct dns_edns *edns);

/*
 * Writes a NOTIFY (RFC 1996): opcode NOTIFY, AA, question (zone, SOA, IN),
 * and the zone's SOA in the answer section when `soa` is not NULL (its owner
 * should equal `zone`).  Returns the length or -EMSGSIZE.
 */
ssize_t dns_msg_make_notify(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *zone,
                            const struct dns_rr *soa);

/*
 * Rewrites the rcode of a finished message in place (`buf`, `len` bytes):
 * the header's 4 bits, and the extended bits in its OPT if it has one.
 * Returns 0, -ERANGE (rcode > 15 and no OPT), or a parse error.
 */
int dns_msg_set_rcode(uint8_t *buf, size_t len, unsigned rcode);

#endif
