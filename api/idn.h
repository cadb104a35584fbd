/*
 * Internationalised names at the API (issue 12.8).  anycst stores and
 * serves A-labels only: a name given as raw UTF-8 (U-labels) is refused,
 * and the refusal suggests its IDNA2008 A-label (libidn2, UTS #46
 * non-transitional mapping): "name 'bücher.example.' is not ASCII: use its
 * A-label 'xn--bcher-kva.example.'".  Octets written as escapes (\195\188)
 * are left alone: that is binary label data asked for on purpose.
 */
#ifndef API_IDN_H
#define API_IDN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Presentation name `s` (`len` bytes, as the client sent it).  0 when it is
 * all ASCII; otherwise writes "<what> '<s>' is not ASCII: use its A-label
 * '<a-label>'" (or why it has none) into `err` and returns -EINVAL.
 */
int api_idn_check_text(const char *what, const char *s, size_t len, char *err, size_t errcap);

/*
 * Wire name `name` that was parsed from text holding raw UTF-8: 0 when its
 * labels are ASCII, else the same message as above and -EINVAL.
 */
int api_idn_check_wire(const char *what, const uint8_t *name, char *err, size_t errcap);

/*
 * The domain names inside wire rdata of `type` (dns_rdata_names), as for
 * api_idn_check_wire; `what` prefixes the message ("name", "target").
 */
int api_idn_check_rdata(uint16_t type, const uint8_t *rd, size_t rdlen, char *err,
                        size_t errcap);

/*
 * Makes NUL-terminated `msg` safe for a JSON error: complete, well-formed
 * UTF-8 sequences (a quoted U-label) stay, every other octet >= 0x80 and
 * every control character becomes '?'.
 */
void api_idn_sanitize(char *msg);

#endif
