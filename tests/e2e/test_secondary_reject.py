"""Transfers that must be rejected whole, against a scripted primary
(dnspython on a TCP port): a remote serial that moves backwards, an IXFR
that removes a record we do not have (rejected, then the whole zone by
AXFR), and a transfer cut before its closing SOA.  The zone served never
changes to anything half-applied, and the log says why in its stable words."""
import shutil
import socket
import socketserver
import struct
import tempfile
import threading

import dns.message
import dns.opcode
import dns.rdatatype
import dns.rrset

from anycst_e2e import Secondary, free_port, wait_until

ZONE = "example.com."


def soa(serial):
    return dns.rrset.from_text(ZONE, 300, "IN", "SOA",
                               "ns1.example.com. h.example.com. %d 3600 600 86400 300" % serial)


def a(name, addr):
    return dns.rrset.from_text(name + "." + ZONE, 300, "IN", "A", addr)


class Script:
    """What the fake primary answers: a serial and the transfer answers."""

    def __init__(self):
        self.serial = 7
        self.axfr = [[soa(7), a("www", "192.0.2.7"), soa(7)]]
        self.ixfr = None
        self.requests = []


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sc = self.server.script
        s = self.request
        while True:
            hdr = self._read(2)
            if not hdr:
                return
            q = dns.message.from_wire(self._read(struct.unpack("!H", hdr)[0]))
            qt = q.question[0].rdtype
            sc.requests.append(dns.rdatatype.to_text(qt))
            if qt == dns.rdatatype.SOA:
                msgs = [[soa(sc.serial)]]
            elif qt == dns.rdatatype.IXFR and sc.ixfr is not None:
                msgs = sc.ixfr
            else:
                msgs = sc.axfr
            for rrs in msgs:
                r = dns.message.make_response(q)
                r.flags |= dns.flags.AA
                for rr in rrs:
                    r.answer.append(rr)
                w = r.to_wire()
                s.sendall(struct.pack("!H", len(w)) + w)
            if getattr(sc, "cut", False) and qt != dns.rdatatype.SOA:
                return

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            c = self.request.recv(n - len(buf))
            if not c:
                return b""
            buf += c
        return buf


def notify(port):
    m = dns.message.make_query(ZONE, "SOA")
    m.set_opcode(dns.opcode.NOTIFY)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(m.to_wire(), ("127.0.0.1", port))
    r = dns.message.from_wire(s.recv(512))
    s.close()
    return r.rcode()


def test_secondary_rejects_bad_transfers_whole():
    tmp = tempfile.mkdtemp(prefix="anycst-sec-reject-")
    script = Script()
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.script = script
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sec = Secondary(tmp, srv.server_address[1], zones=[ZONE], tsig=False).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 7, 10, what="serial 7")

        # 1. The primary now says 5: refused, we keep serving 7.
        script.serial = 5
        assert notify(sec.port) == 0
        want = "error: [example.com.] IXFR rejected, serial 7 -> 5 moves backwards (RFC 1982)"
        wait_until(lambda: want in sec.logtext(), 5, what="backwards rejection")
        assert sec.serial(ZONE) == 7

        # 2. IXFR 7 -> 8 removing a record we do not have: rejected, then AXFR.
        script.serial = 8
        script.ixfr = [[soa(8), soa(7), a("absent", "192.0.2.99"), soa(8), a("new", "192.0.2.8"),
                        soa(8)]]
        script.axfr = [[soa(8), a("www", "192.0.2.8")], [a("full", "192.0.2.88"), soa(8)]]
        del script.requests[:]
        assert notify(sec.port) == 0
        wait_until(lambda: sec.serial(ZONE) == 8, 5, what="serial 8 by AXFR")
        log = sec.logtext()
        line = [l for l in log.splitlines() if "error: [example.com.] IXFR rejected, " in l
                and "backwards" not in l]
        assert len(line) == 1 and "absent.example.com." in line[0], line
        print(line[0])
        assert script.requests == ["SOA", "IXFR", "SOA", "AXFR"]
        assert sec.query("full.example.com.").answer[0][0].to_text() == "192.0.2.88"
        assert sec.query("new.example.com.").rcode() == 3   # NXDOMAIN: the IXFR never applied

        # 3. A transfer cut before its closing SOA: nothing published.
        script.serial = 9
        script.ixfr = [[soa(9), soa(8), soa(9), a("cut", "192.0.2.9")]]
        script.cut = True
        assert notify(sec.port) == 0
        wait_until(lambda: "connection closed during the IXFR" in sec.logtext(), 5,
                   what="cut transfer logged")
        assert "refresh, remote 127.0.0.1@%d TCP, failed (connection closed during the IXFR" \
            % srv.server_address[1] in sec.logtext()
        assert sec.serial(ZONE) == 8
        assert sec.query("cut.example.com.").rcode() == 3
    finally:
        sec.stop()
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
