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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("ANYCST_BIN", os.path.join(ROOT, "bin"))
ZONECHECK = os.path.join(BIN, "anycst-zonecheck")
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
