"""Helpers for the XoQ e2e tests with the real daemons: an anycst-primary
(daemons.Primary) serving zones over QUIC, anycst-secondary pulling them with
the primary's pin, big zones made through the API's zone-text import, fast
comparison of what a secondary serves with the primary's export, and the
primary's /metrics.

Every process is started by the tests and stopped by its own PID; every file
lives in a temporary directory the caller removes.
"""
import os
import random
import re
import select
import socket
import struct
import subprocess
import threading
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from .core import TOOLS, ApiClient, tsig_file_args, wait_until
from .daemons import Secondary, assert_san_clean

XOQ = os.path.join(TOOLS, "anycst-xoq")
KEY = "pop-key."


def assert_clean(p):
    """After p.stop(): under `make SAN=1` the primary reports memory errors in its log."""
    assert_san_clean(p.log())


def pin_of(p):
    """The primary's quic_spki_pin from GET /api/v1/servers/localhost."""
    server = p.api("GET", "")
    assert isinstance(server, dict) and server.get("quic_spki_pin"), server
    return server["quic_spki_pin"]


def metrics(p):
    """The primary's /metrics as {name: value} (samples without labels)."""
    text = p.metrics_text()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def big_zone_text(name, n, serial=1):
    """A zone of exactly `n` records: SOA, NS, the NS's A, then A records."""
    lines = ["%s 3600 IN SOA ns1.%s hostmaster.%s %d 3600 600 86400 300" % (name, name, name,
                                                                          serial),
             "%s 3600 IN NS ns1.%s" % (name, name),
             "ns1.%s 3600 IN A 192.0.2.1" % name]
    for i in range(n - 3):
        lines.append("r%d.%s 300 IN A 10.%d.%d.%d" % (i, name, i >> 16, (i >> 8) & 255, i & 255))
    return "\n".join(lines) + "\n"


def create_zone_text(p, name, text, keys=(KEY,)):
    p.api("POST", "/zones", {"name": name, "kind": "Native", "zone": text,
                             "master_tsig_key_ids": list(keys), "soa_edit_api": "INCREASE"})


def small_zone(p, name, keys=(KEY,)):
    """A zone of 10 records through rrsets."""
    rr = [{"name": "www." + name, "type": "A", "ttl": 300,
           "records": [{"content": "192.0.2.10", "disabled": False},
                       {"content": "192.0.2.11", "disabled": False}]},
          {"name": "www." + name, "type": "AAAA", "ttl": 300,
           "records": [{"content": "2001:db8::10", "disabled": False}]},
          {"name": name, "type": "MX", "ttl": 300,
           "records": [{"content": "10 mail." + name, "disabled": False}]},
          {"name": "mail." + name, "type": "A", "ttl": 300,
           "records": [{"content": "192.0.2.20", "disabled": False}]},
          {"name": "txt." + name, "type": "TXT", "ttl": 300,
           "records": [{"content": '"hello world"', "disabled": False}]},
          {"name": "alias." + name, "type": "CNAME", "ttl": 300,
           "records": [{"content": "www." + name, "disabled": False}]}]
    # + SOA, NS, ns1 A from create_zone = 10 records
    p.add_zone(name, keys=list(keys), records=rr)


def quic_secondary(tmp, p, secret, pin=None, insecure=False, port=None, name="secq",
                   zones=None, extra=(), host=None):
    """anycst-secondary with the default transport (QUIC) on the primary's --quic port,
    listening on `host` (default: the primary's address family's loopback)."""
    args = tsig_file_args(tmp, KEY, secret)
    if pin:
        args += ["--pin", pin]
    if insecure:
        args += ["--insecure"]
    if not zones:
        p.allow_catalog(KEY)          # it follows the catalog: the admin allows its key
    sec = Secondary(tmp, p.quic_port, zones=zones, tsig=False, port=port, name=name,
                    extra=args + list(extra), host=host or p.host, primary_host=p.host)
    i = sec.args.index("--transport")
    del sec.args[i:i + 2]             # the default transport: QUIC
    return sec


def parse_export(text):
    """{(name, type): set((ttl, rdata text))} from the primary's export."""
    out = {}
    for line in text.splitlines():
        f = line.split(None, 4)
        if len(f) < 5 or line.startswith(";"):
            continue
        out.setdefault((f[0].lower(), f[3].upper()), set()).add((int(f[1]), f[4].strip()))
    return out


def _query_wire(qid, name, rdtype):
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack("!HH", rdtype, 1)


def _skip_name(m, o):
    while True:
        l = m[o]
        if l >= 0xC0:
            return o + 2
        o += 1 + l
        if l == 0:
            return o


def served_a(port, names, host="127.0.0.1", window=128, timeout=60):
    """{name: set((ttl, 'a.b.c.d'))} for type A at each name, by pipelined UDP
    queries (a minimal parser: answers must be A records owned by the name)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect((host, port))
    todo = list(enumerate(names))
    pending = {}
    out = {}
    deadline = time.monotonic() + timeout
    nxt = 0
    last_send = time.monotonic()
    try:
        while nxt < len(todo) or pending:
            while nxt < len(todo) and len(pending) < window:
                i, name = todo[nxt]
                qid = i & 0xFFFF
                q = _query_wire(qid, name, 1)
                pending[qid] = (name, q)
                s.send(q)
                nxt += 1
                last_send = time.monotonic()
            r, _, _ = select.select([s], [], [], 0.3)
            if not r:
                assert time.monotonic() < deadline, "no answers for %d names" % len(pending)
                if time.monotonic() - last_send > 0.3:
                    for _, q in list(pending.values()):     # lost on a full socket buffer
                        s.send(q)
                    last_send = time.monotonic()
                continue
            m = s.recv(65535)
            qid, flags, qd, an = struct.unpack("!HHHH", m[:8])
            if qid not in pending:
                continue
            name, q = pending[qid]
            if m[12:len(q)] != q[12:]:
                continue
            del pending[qid]
            assert flags & 0xF == 0, (name, "rcode %d" % (flags & 0xF))
            o = len(q)
            got = set()
            for _ in range(an):
                o = _skip_name(m, o)
                t, _c, ttl, rdlen = struct.unpack("!HHIH", m[o:o + 10])
                o += 10
                if t == 1:
                    got.add((ttl, socket.inet_ntoa(m[o:o + rdlen])))
                o += rdlen
            out[name] = got
    finally:
        s.close()
    return out


def _qname_wire(name):
    return b"".join(bytes([len(x)]) + x.encode() for x in name.rstrip(".").split(".")) + b"\0"


def answering(port, names, window=256, timeout=10.0):
    """The zones among `names` whose www.<zone> A gets NOERROR with an answer, by
    pipelined UDP queries (a zone not served yet is REFUSED or SERVFAIL; one
    unanswered for 1 s, or a port not listening yet, counts as not answering)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect(("127.0.0.1", port))
    ok = set()
    todo = list(names)
    pending = {}
    nxt = 0
    qid = random.randrange(65536)
    deadline = time.monotonic() + timeout
    try:
        while (nxt < len(todo) or pending) and time.monotonic() < deadline:
            while nxt < len(todo) and len(pending) < window:
                qid = (qid + 1) & 0xFFFF
                q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + \
                    _qname_wire("www." + todo[nxt]) + struct.pack("!HH", 1, 1)
                pending[qid] = (todo[nxt], time.monotonic())
                try:
                    s.send(q)
                except ConnectionRefusedError:     # not listening yet
                    return ok
                nxt += 1
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                now = time.monotonic()
                for k, (_, t0) in list(pending.items()):
                    if now - t0 > 1.0:
                        del pending[k]    # lost or unanswered: counted as not answering
                continue
            while True:                   # every answer waiting, then more queries
                try:
                    m = s.recv(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    return ok
                rid, flags, _qd, an = struct.unpack("!HHHH", m[:8])
                if rid in pending:
                    name, _ = pending.pop(rid)
                    if flags & 0xF == 0 and an > 0:
                        ok.add(name)
    finally:
        s.close()
    return ok


def create_zones_parallel(p, names, clients=8):
    """Zones of 10 records each (SOA, NS and 8 more, transferable with KEY)
    created by POST /zones from `clients` threads; (seconds, largest WAL seen)."""
    peak = [0]
    stop = threading.Event()
    wal = p.db_path + "-wal"

    def watch():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], os.path.getsize(wal))
            except OSError:
                pass
            time.sleep(0.05)
    errors = []

    def create(k):
        c = ApiClient("127.0.0.1", p.api_port, p.key)
        for i in range(k, len(names), clients):
            z = names[i]
            rr = [{"name": "www." + z, "type": "A", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": "192.0.2.%d" % (j + 1), "disabled": False}
                               for j in range(2)]},
                  {"name": "www." + z, "type": "AAAA", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": "2001:db8::1", "disabled": False}]},
                  {"name": z, "type": "MX", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": "10 mail." + z, "disabled": False}]},
                  {"name": "mail." + z, "type": "A", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": "192.0.2.20", "disabled": False}]},
                  {"name": "txt." + z, "type": "TXT", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": '"hello"', "disabled": False}]},
                  {"name": "ftp." + z, "type": "CNAME", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": "www." + z, "disabled": False}]},
                  {"name": "ns1." + z, "type": "A", "ttl": 300, "changetype": "REPLACE",
                   "records": [{"content": "192.0.2.53", "disabled": False}]}]
            st, _, body = c.call("POST", "/zones", {"name": z, "kind": "Native", "rrsets": rr,
                                                    "nameservers": ["ns1." + z],
                                                    "master_tsig_key_ids": [KEY]})
            if st != 201:
                errors.append((z, st, body[:200]))
                break
        c.close()
    w = threading.Thread(target=watch, daemon=True)
    w.start()
    t0 = time.monotonic()
    workers = [threading.Thread(target=create, args=(k,)) for k in range(clients)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    secs = time.monotonic() - t0
    stop.set()
    w.join()
    if errors:
        raise RuntimeError("zone creation failed: %r" % errors[:3])
    return secs, peak[0]


def assert_serves_export(sec, export_text):
    """Everything in the export is what `sec` answers, type by type: A records by
    pipelined UDP, other types through dnspython over TCP."""
    want = parse_export(export_text)
    a_names = sorted(n for (n, t) in want if t == "A")
    got_a = served_a(sec.port, a_names)
    for n in a_names:
        assert got_a[n] == want[(n, "A")], (n, got_a[n], want[(n, "A")])
    for (name, rdtype), recs in sorted(want.items()):
        if rdtype == "A":
            continue
        r = sec.query(name, rdtype, tcp=True)
        assert r.rcode() == dns.rcode.NOERROR, (name, rdtype)
        got = set()
        for rrset in r.answer:
            if rrset.name.to_text().lower() == name and \
                    dns.rdatatype.to_text(rrset.rdtype) == rdtype:
                for rd in rrset:
                    got.add((rrset.ttl, rd.to_text()))
        assert {(t, x.lower()) for t, x in got} == {(t, x.lower()) for t, x in recs}, \
            (name, rdtype, got, recs)
    return len(a_names)


def xoq(*args, timeout=120, ns=None):
    """Runs tools/anycst-xoq; returns (ok, dict of key=value, the line)."""
    cmd = [XOQ] + [str(a) for a in args]
    if ns is not None:
        cmd = ["ip", "netns", "exec", ns] + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
    vals = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return r.returncode == 0 and line.startswith("ok "), vals, line


def wait_serials(sec, want, timeout, what="zones"):
    """Waits until `sec` serves every zone of {zone: serial}."""
    def done():
        return all(sec.serial(z) == s for z, s in want.items())
    wait_until(done, timeout, step=0.1, what=what)


def busy_counts(log):
    """{kind: n} summed over a secondary's "busy, in the last 1.0 s 3405 zone
    transfers, 5000 zones added from the catalog, their lines at debug level"
    lines: the routine per-zone lines it put at debug level in a burst."""
    out = {}
    for m in re.finditer(r"info: busy, in the last [0-9.]+ s (.*), their lines at debug level",
                         log):
        for part in m.group(1).split(", "):
            n, kind = part.split(" ", 1)
            out[kind] = out.get(kind, 0) + int(n)
    return out


def random_pin():
    import base64
    return base64.b64encode(bytes(random.getrandbits(8) for _ in range(32))).decode()
