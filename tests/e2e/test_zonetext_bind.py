"""Zone text against BIND: `anycst-zonecheck -p` prints, record for record, what
`named-checkzone -D -o - ORIGIN FILE` (BIND 9.18, Debian's bind9-utils) prints for
every test zone under tests/data/zones/, and printed text parses back to the same
wire records, which also equal dnspython's reading of the original file.

Normalised before comparing, and nothing else:
  * whitespace between fields (BIND pads with tabs and spaces);
  * the order of records (BIND sorts its dump);
  * whitespace *inside* one base64 or hex field: named-checkzone breaks long
    blobs every 56 characters; the presentation formats allow whitespace there
    (RFC 4034 §2.2 DNSKEY, §3.2 RRSIG, §5.3 DS; RFC 6698 §2.2 TLSA; RFC 8162
    SMIMEA; RFC 4255 §3.2 SSHFP; RFC 7929 §2.3 OPENPGPKEY; RFC 8976 §2.3
    ZONEMD; RFC 3597 §5 generic data), so the split carries no meaning;
  * BIND's "; resign=" comment lines.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import dns.zone
import pytest

from anycst_e2e import TOOLS

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ZONECHECK = os.path.join(TOOLS, "anycst-zonecheck")
ZONES = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "zones", "*.zone")))
NAMED_CHECKZONE = shutil.which("named-checkzone") or "/usr/bin/named-checkzone"

# RR type -> number of rdata fields before the base64/hex blob that may be split.
BLOB_AFTER = {
    "DS": 3, "CDS": 3, "DNSKEY": 3, "CDNSKEY": 3, "RRSIG": 8, "TLSA": 3,
    "SMIMEA": 3, "SSHFP": 2, "OPENPGPKEY": 0, "ZONEMD": 3,
}

TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|(?:[^\s"\\]|\\.)+')


def origin_of(path):
    return os.path.basename(path)[: -len(".zone")] + "."


def fields(line):
    return TOKEN.findall(line)


def normalise(line):
    f = fields(line)
    assert len(f) >= 4, line
    rtype, rdata = f[3], f[4:]
    if rdata[:1] == ["\\#"] and len(rdata) > 2:
        rdata = rdata[:2] + ["".join(rdata[2:])]
    elif rtype in BLOB_AFTER and len(rdata) > BLOB_AFTER[rtype] + 1:
        n = BLOB_AFTER[rtype]
        rdata = rdata[:n] + ["".join(rdata[n:])]
    return " ".join(f[:4] + rdata)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def bind_dump(path):
    r = run([NAMED_CHECKZONE, "-D", "-o", "-", origin_of(path), path])
    assert r.returncode == 0, r.stderr + r.stdout
    return [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith(";")]


def our_print(path, origin=None):
    r = run([ZONECHECK, "-p", "-o", origin or origin_of(path), path])
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def our_wire(path, origin):
    r = run([ZONECHECK, "-x", "-o", origin, path])
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_zones_cover_every_type():
    """The zones together hold every zone-data type of dns/rrtype.h and more."""
    want = set(BLOB_AFTER) | {
        "A", "AAAA", "NS", "CNAME", "DNAME", "SOA", "PTR", "MX", "TXT", "SPF", "SRV",
        "NAPTR", "CAA", "HINFO", "LOC", "NSEC", "NSEC3", "NSEC3PARAM", "SVCB", "HTTPS"}
    seen = set()
    text = ""
    for z in ZONES:
        for line in our_print(z):
            seen.add(fields(line)[3])
        text += open(z, encoding="latin-1").read()
    assert len(ZONES) >= 5
    assert want <= seen, sorted(want - seen)
    assert any(t.startswith("TYPE") for t in seen), "no RFC 3597 TYPEnnn record"
    for feature in ("$ORIGIN", "$TTL", "\\#", "\\032", "\\\""):
        assert feature in text, feature
    longest = max(sum(len(s) - 2 for s in fields(ln)[4:])
                  for z in ZONES for ln in our_print(z) if fields(ln)[3] == "TXT")
    assert longest > 255


@pytest.mark.parametrize("zone", ZONES, ids=[os.path.basename(z) for z in ZONES])
def test_print_matches_named_checkzone(zone):
    ours = sorted(normalise(ln) for ln in our_print(zone))
    bind = sorted(normalise(ln) for ln in bind_dump(zone))
    only_ours = sorted(set(ours) - set(bind))
    only_bind = sorted(set(bind) - set(ours))
    assert not only_ours and not only_bind, (
        "\nonly anycst:\n  " + "\n  ".join(only_ours) +
        "\nonly named-checkzone:\n  " + "\n  ".join(only_bind))
    assert len(ours) == len(bind)


@pytest.mark.parametrize("zone", ZONES, ids=[os.path.basename(z) for z in ZONES])
def test_printed_text_round_trips(zone, tmp_path):
    """print -> parse -> print is a fixed point, and the wire records are identical."""
    origin = origin_of(zone)
    first = our_print(zone)
    printed = tmp_path / "printed.zone"
    # A foreign $ORIGIN in front proves the printed text holds only absolute names.
    printed.write_text("$ORIGIN unrelated.invalid.\n" + "\n".join(first) + "\n")
    assert our_print(str(printed), origin) == first
    assert sorted(our_wire(str(printed), origin)) == sorted(our_wire(zone, origin))


def lower_owner(hexname):
    return bytes(b + 32 if 65 <= b <= 90 else b for b in bytes.fromhex(hexname)).hex()


@pytest.mark.parametrize("zone", ZONES, ids=[os.path.basename(z) for z in ZONES])
def test_wire_matches_dnspython(zone, tmp_path):
    """dnspython, an independent implementation, turns our printed text into the
    same wire records as our parser made from the original file.  (dnspython
    2.3 reads neither `owner IN TTL TYPE` nor a relative $ORIGIN the way BIND
    and RFC 1035 do, so it reads the canonical text, which the test above
    shows equal to named-checkzone's.)"""
    origin = origin_of(zone)
    printed = tmp_path / "printed.zone"
    printed.write_text("\n".join(our_print(zone)) + "\n")
    z = dns.zone.from_file(str(printed), origin=origin, relativize=False, check_origin=True)
    theirs = set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                theirs.add("%s %d %d %s" % (lower_owner(name.to_wire().hex()), rds.rdtype,
                                            rds.ttl, rd.to_wire().hex()))
    # dnspython keeps one owner spelling per node and merges duplicates, as BIND
    # does: compare owners case-insensitively, records as a set.
    ours = set()
    for ln in our_wire(zone, origin):
        owner, rest = ln.split(" ", 1)
        ours.add(lower_owner(owner) + " " + rest)
    assert sorted(ours - theirs) == [] and sorted(theirs - ours) == []


@pytest.mark.parametrize("text,where,what", [
    ("$TTL 1\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 1.2.3\n", ":4:6:", "1.2.3"),
    ("$TTL 1\n@ SOA ns h 1 2 3 4 5\n$INCLUDE other.zone\n", ":3:1:", "$INCLUDE is not allowed"),
    ("$TTL 1\n@ SOA ns h 1 2 3 4 5\nx CH TXT \"a\"\n", ":3:3:", "class CH"),
    ("@ SOA ns h 1 2 3 4\n", ":1:19:", "SOA"),
])
def test_errors_name_file_line_and_column(tmp_path, text, where, what):
    path = tmp_path / "bad.zone"
    path.write_text(text)
    r = run([ZONECHECK, "-o", "bad.", str(path)])
    assert r.returncode == 1
    assert r.stderr.startswith(str(path) + where + " error: "), r.stderr
    assert what in r.stderr
    # BIND refuses the same text
    assert run([NAMED_CHECKZONE, "bad.", str(path)]).returncode != 0


def test_zone_without_soa_is_refused(tmp_path):
    path = tmp_path / "nosoa.zone"
    path.write_text("$TTL 60\nwww A 192.0.2.1\n")
    r = run([ZONECHECK, "-o", "nosoa.", str(path)])
    assert r.returncode == 1
    assert "no SOA" in r.stderr


# ---- differential test: random zone text, BIND and anycst must agree ----

OWNERS = ["a", "@", "b.c", "*.w", "A", "x\\.y", "\\065b", "sub.example.com.", "", "\t",
          "other.", "c\\032d", "e\\\\f", "1", "-x", "_srv._tcp", "a" * 63, "b" * 64, "n\\000",
          "a..b", "\\300x", '"q"']
TTLS = ["", "60", "1h", "1H30M", "2w", "0", "2147483647", "1h30", "3d", "07", "1x"]
CLASSES = ["", "IN", "in", "CH", "CLASS1", "HS", "CLASS3"]
RDATA = [
    ("A", ["192.0.2.1", "0.0.0.0", "1.2.3", "01.2.3.4", "1.2.3.4.5", "::1"]),
    ("AAAA", ["::", "2001:db8::1", "::ffff:1.2.3.4", "1::2::3", "2001:DB8:0:0:0:0:0:1"]),
    ("NS", ["ns", "ns.example.com.", "@", "a..b"]),
    ("MX", ["10 mail", "0 .", "65535 @", "65536 x", "-1 x", "10", "10 x y"]),
    ("TXT", ['"a b"', "x", '"a" "b"', '""', '"\\065"', '"\\"', '"\\300"', '"a;b"',
             '( "a"\n "b" )', "a\\ b", '"open', '"a\nb"', '"a\\\nb"']),
    ("SRV", ["0 0 0 .", "1 2 3 t", "1 2 65536 t", "1 2 3"]),
    ("CAA", ['0 issue "ca.example"', "128 tbs x", '256 issue "a"', '0 issue ""']),
    ("SOA", ["ns h 1 2 3 4 5", "ns h 1 2 3 4", "ns h 1h 2 3 4 5", "ns h ( 1 2 3 4 5 )",
             "ns h ( 1 2 3 4 5"]),
    ("TYPE65280", ["\\# 0", "\\# 2 abcd", "\\# 2 abc", "abcd", "\\# 1 ab cd"]),
    ("PTR", ["x", "x.y."]),
    ("HINFO", ['"a" "b"', "a b", "a"]),
    ("LOC", ["1 N 2 E 3m", "1 2 3.5 S 4 5 6 W -10m 1m 2m 3m", "91 N 0 E 0m"]),
    ("SSHFP", ["1 1 abcdef", "1 1 ab cd", "1 1 abc"]),
    ("DS", ["1 2 3 abcd", "1 2 3 ab cd", "65536 2 3 ab"]),
    ("SVCB", ["0 .", "1 . alpn=h2", '1 . alpn="h2,h3" port=53', "1 . port=x", "1 . key7=a"]),
    ("NSEC", ["a A NS", "a TYPE1000"]),
    ("CNAME", ["c", "c.example.com."]), ("FOO", ["1"]), ("ANY", ["1"]),
]
# Most records are drawn from the valid choices (the first ones of each list):
GOOD_OWNERS = [o for o in OWNERS if o not in ("b" * 64, "a..b", "\\300x")]
GOOD_TTLS = [t for t in TTLS if t not in ("1h30", "1x")]
GOOD_CLASSES = ["", "IN", "in", "CLASS1"]
GOOD_RDATA = [(t, v[:2]) for t, v in RDATA if t not in ("FOO", "ANY")]
# Left out on purpose: a TXT string over 255 octets, which named-checkzone refuses
# and anycst splits into several strings, as Knot does (issue 2 asks for that);
# a TTL over 2147483647, which named-checkzone warns about and sets to 0 while
# anycst refuses it (issue 2 lists it as an error; RFC 2181 §8).
# Differences that are not the parser's: zone-level checks named-checkzone makes
# (CNAME and other data, DNAME conflicts, DS at the apex, one TTL per rrset, NS at a wildcard,
# glue), which the primary's validation owns.
ZONE_LEVEL = ("TTL set to prior", "CNAME and other data", "DNAME", "at top of zone",
              "has no address", "multiple RRs of singleton", "illegal", "(wildcard)")


def owner_lower(line):
    """BIND prints one spelling per owner node (the first it read); names compare
    without case (RFC 4343), so the random test lowercases owners.  The static
    zones above check the case of owners exactly."""
    owner, rest = line.split(" ", 1)
    return owner.lower() + " " + rest


def random_zone(rng):
    lines = ["$TTL 300", "@ SOA ns h 1 2 3 4 5", "@ NS ns", "ns A 192.0.2.1"]
    for _ in range(rng.randint(1, 4)):
        k = rng.random()
        if k < 0.08:
            lines.append("$ORIGIN " + rng.choice(["sub", "example.com.", "x.example.com.", "@"]))
            continue
        if k < 0.14:
            lines.append("$TTL " + rng.choice(TTLS[1:]))
            continue
        good = rng.random() < 0.85
        owner = rng.choice(GOOD_OWNERS if good else OWNERS)
        ttl = rng.choice(GOOD_TTLS if good else TTLS)
        cls = rng.choice(GOOD_CLASSES if good else CLASSES)
        if rng.random() < 0.5:
            ttl, cls = cls, ttl
        rtype, values = rng.choice(GOOD_RDATA if good else RDATA)
        if rng.random() < 0.2:
            rtype = rtype.lower()
        parts = [p for p in (ttl, cls, rtype, rng.choice(values)) if p]
        line = owner + rng.choice([" ", "\t", "  "]) + " ".join(parts)
        if rng.random() < 0.1:
            line += " ; comment"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_random_zone_text_agrees_with_bind(tmp_path):
    """300 random zone texts (fixed seed): named-checkzone and anycst-zonecheck
    accept and refuse the same ones, and print the same records."""
    import random
    rng = random.Random(int(os.environ.get("ANYCST_ZT_SEED", "20261126")))
    path = tmp_path / "example.com.zone"
    compared = 0
    for _ in range(300):
        text = random_zone(rng)
        path.write_bytes(text.encode())
        b = run([NAMED_CHECKZONE, "-D", "-o", "-", "example.com", str(path)])
        if any(w in b.stdout + b.stderr for w in ZONE_LEVEL) or text.lower().count(" soa ") > 1:
            continue   # zone-level checks; a second SOA (refused by anycst-zonecheck)
        o = run([ZONECHECK, "-p", "-o", "example.com", str(path)])
        assert (b.returncode == 0) == (o.returncode == 0), \
            "%s\nnamed-checkzone: %s\nanycst: %s" % (text, b.stdout + b.stderr, o.stderr)
        if b.returncode == 0:
            ours = [owner_lower(normalise(ln)) for ln in o.stdout.splitlines()]
            keys = [ln.split(" ", 2)[0] + " " + ln.split(" ", 2)[2] for ln in ours]
            rrsets = {}
            for ln in ours:
                f = ln.split(" ", 4)
                rrsets.setdefault((f[0], f[3]), set()).add(f[1])
            if len(set(keys)) < len(keys) or any(len(t) > 1 for t in rrsets.values()):
                continue   # a record twice, or TTLs differing in an rrset: BIND makes one TTL
            bind = sorted(owner_lower(normalise(ln)) for ln in b.stdout.splitlines()
                          if ln.strip() and not ln.startswith(";"))
            assert bind == sorted(ours), text
        compared += 1
    assert compared > 150


def test_ttl_warnings_as_named_checkzone():
    zone = os.path.join(ROOT, "tests", "data", "zones", "2.0.192.in-addr.arpa.zone")
    b = run([NAMED_CHECKZONE, "2.0.192.in-addr.arpa", zone])
    o = run([ZONECHECK, zone])
    assert b.returncode == 0 and o.returncode == 0
    assert zone + ":4: no TTL specified; using SOA MINTTL instead" in b.stdout + b.stderr
    assert zone + ":4:1: warning: no TTL specified; using SOA MINTTL instead" in o.stderr
