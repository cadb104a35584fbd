"""anycst-secondary's state directory, read (and damaged) from tests.

The pack (secondary/pack.h): "zones.pack", a 16-byte header ("ANYCSTP\\0",
u32 version 1, u32 0), then records at multiples of 8: a 24-byte header
("APKR", u8 kind, 3 zero bytes, u32 body length, u64 FNV-1a 64 of the body,
u32 low half of the FNV-1a 64 of the 20 bytes before it), the body (the
zone's origin in wire form, then by kind: ZONE u32 serial, u32 count, u64
saved, records; FILE u32 serial, u32 0, u64 saved; TIMERS u64 last refresh,
u64 expire-at; DROP nothing) and zero padding.  A zone too big for the pack
keeps "<zone>.zone" (secondary/persist.h), the only format before the pack,
which also had "<zone>.timers".
"""
import os
import struct

import dns.name
import dns.rdata
import dns.rdatatype

PACK = "zones.pack"
ZONE, TIMERS, DROP, FILE = 1, 2, 3, 4
KINDS = {ZONE: "zone", TIMERS: "timers", DROP: "drop", FILE: "file"}


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def _records(body, pos, count):
    out = set()
    for _ in range(count):
        owner, used = dns.name.from_wire(body, pos)
        pos += used
        typ, cls, ttl, rdlen = struct.unpack(">HHIH", body[pos:pos + 10])
        pos += 10
        rd = dns.rdata.from_wire(cls, typ, body, pos, rdlen)
        pos += rdlen
        out.add((owner.to_text().lower(), ttl, dns.rdatatype.to_text(typ), rd.to_text()))
    return out


def pack_records(state_dir):
    """Every record of the pack that holds together, in file order: dicts with
    kind, off, size (header and body), zone (text), and per kind serial, count,
    saved, last, expire."""
    with open(os.path.join(state_dir, PACK), "rb") as f:
        data = f.read()
    assert data[:8] == b"ANYCSTP\0", data[:16]
    out = []
    pos = 16
    while pos + 24 <= len(data):
        h = data[pos:pos + 24]
        if h[:4] != b"APKR":
            break
        kind = h[4]
        blen, = struct.unpack(">I", h[8:12])
        if pos + 24 + blen > len(data):
            break                     # being written, or torn
        body = data[pos + 24:pos + 24 + blen]
        zone, used = dns.name.from_wire(body, 0)
        r = {"kind": kind, "off": pos, "size": 24 + blen, "zone": zone.to_text().lower(),
             "body_off": pos + 24, "name_len": used,
             "ok": len(body) == blen and fnv1a(body) == struct.unpack(">Q", h[12:20])[0]}
        rest = body[used:]
        if kind in (ZONE, FILE):
            r["serial"], r["count"], r["saved"] = struct.unpack(">IIQ", rest[:16])
        elif kind == TIMERS:
            r["last"], r["expire"] = struct.unpack(">QQ", rest[:16])
        out.append(r)
        pos += (24 + blen + 7) & ~7
    return out


def _file_name(zone):
    z = zone.lower().rstrip(".")
    return (z or "%root")


def zone_state(state_dir, zone):
    """The latest persisted version of `zone`: (serial, set of (owner, ttl,
    type, rdata text)), or None.  From the pack, or the zone's own file when
    the pack says so (or there is no pack)."""
    zone = zone.lower()
    latest = None
    if os.path.exists(os.path.join(state_dir, PACK)):
        for r in pack_records(state_dir):
            if r["zone"] != zone or not r["ok"] or r["kind"] == TIMERS:
                continue
            latest = r if r["kind"] != DROP else None
        if latest is not None and latest["kind"] == ZONE:
            with open(os.path.join(state_dir, PACK), "rb") as f:
                f.seek(latest["body_off"])
                body = f.read(latest["size"] - 24)
            return latest["serial"], _records(body, latest["name_len"] + 16, latest["count"])
    path = os.path.join(state_dir, _file_name(zone) + ".zone")
    if (latest is None and os.path.exists(os.path.join(state_dir, PACK))) or \
            not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"ANYCSTZ\0"
    _, serial, count = struct.unpack(">III", data[8:20])
    body = data[40:]
    _, pos = dns.name.from_wire(body, 0)
    return serial, _records(body, pos, count)


def write_old_zone(state_dir, zone, serial, records, last_refresh=None, mtime=None):
    """A zone in the layout before the pack: "<zone>.zone" (format 1, its time
    `mtime` or `last_refresh`) and, with `last_refresh`, "<zone>.timers".
    `records`: (owner, ttl, type, rdata text), names absolute."""
    os.makedirs(state_dir, exist_ok=True)
    origin = dns.name.from_text(zone)
    body = origin.to_wire()
    for owner, ttl, rdtype, text in records:
        t = dns.rdatatype.from_text(rdtype)
        rd = dns.rdata.from_text(1, t, text, origin=origin, relativize=False).to_wire()
        body += dns.name.from_text(owner, origin=origin).to_wire()
        body += struct.pack(">HHIH", t, 1, ttl, len(rd)) + rd
    hdr = b"ANYCSTZ\0" + struct.pack(">IIIIQQ", 1, serial, len(records), 0, len(body),
                                     fnv1a(body))
    base = os.path.join(state_dir, _file_name(zone))
    with open(base + ".zone", "wb") as f:
        f.write(hdr + body)
    if last_refresh is not None:
        t = b"ANYCSTT\0" + struct.pack(">IIQQ", 1, 0, last_refresh, last_refresh + 604800)
        with open(base + ".timers", "wb") as f:
            f.write(t + struct.pack(">Q", fnv1a(t)))
    if mtime is not None or last_refresh is not None:
        t = mtime if mtime is not None else last_refresh
        os.utime(base + ".zone", (t, t))


def flip_byte(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x40]))
