"""DNS probes run inside a network namespace by the edge tests
(ip netns exec NS /usr/bin/python3 edge_probe.py MODE ...):

  id ADDR                          one CH TXT id.server query: the identity or LOST
  stream ADDR SECS INTERVAL_MS OUT a query every INTERVAL_MS for SECS; OUT gets one
                                   line per query: "<send time> <identity>|LOST"
  legit ADDR N QPS                 N queries paced at QPS, each awaited (2 s):
                                   "answered A truncated T lost L"
  flood ADDR N SECS SRC24          N queries from spoofed sources in SRC24.0/24 (raw
                                   socket), spread over SECS: "sent N bytes B"
  sniff IFACE SECS SRC24           counts UDP from port 53 to SRC24.0/24 for SECS seen
                                   on IFACE (packet socket): "pkts P bytes B tc T",
                                   T: truncated answers without records (slips)
Bytes are IP datagram lengths.  Every mode ends by itself.
"""
import os
import random
import select
import socket
import struct
import sys
import time

import dns.message
import dns.rdataclass
import dns.rdatatype


def id_query():
    return dns.message.make_query("id.server.", "TXT", "CH")


def ident(wire):
    try:
        m = dns.message.from_wire(wire)
    except Exception:
        return None, None
    for rr in m.answer:
        for rd in rr:
            return m.id, b"".join(rd.strings).decode()
    return m.id, "EMPTY"


def mode_id(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for _ in range(3):
        q = id_query()
        try:
            s.sendto(q.to_wire(), (addr, 53))
            while True:
                data, _ = s.recvfrom(4096)
                qid, who = ident(data)
                if qid == q.id:
                    print(who)
                    return
        except (socket.timeout, OSError):
            continue
    print("LOST")


def mode_stream(addr, secs, interval_ms, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = {}          # id -> [send time, who]
    order = []
    t0 = time.time()
    nxt = t0
    timeout = 0.5
    end = t0 + secs
    qid = random.randrange(65536)
    while True:
        now = time.time()
        if now >= end + timeout:
            break
        if now >= nxt and now < end:
            qid = (qid + 1) & 0xffff
            q = id_query()
            q.id = qid
            try:
                s.sendto(q.to_wire(), (addr, 53))
            except OSError:
                pass
            sent[qid] = [now, None]
            order.append(qid)
            nxt += interval_ms / 1000.0
        r, _, _ = select.select([s], [], [], max(0.0, min(nxt - time.time(), 0.01)))
        if r:
            try:
                while True:
                    data = s.recv(4096)
                    rid, who = ident(data)
                    e = sent.get(rid)
                    if e is not None and e[1] is None and time.time() - e[0] <= timeout:
                        e[1] = who
            except (BlockingIOError, OSError):
                pass
    with open(out, "w") as f:
        for i in order:
            t, who = sent[i]
            f.write("%.6f %s\n" % (t, who or "LOST"))


def mode_legit(addr, n, qps):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    answered = tc = lost = 0
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i / qps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        q = dns.message.make_query("www.example.com.", "A")
        s.sendto(q.to_wire(), (addr, 53))
        try:
            while True:
                data = s.recv(4096)
                m = dns.message.from_wire(data)
                if m.id == q.id:
                    break
            answered += 1
            if m.flags & 0x0200:
                tc += 1
        except socket.timeout:
            lost += 1
    print("answered %d truncated %d lost %d" % (answered, tc, lost))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def mode_flood(addr, n, secs, src24):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    dst = socket.inet_aton(addr)
    # EDNS 1232: the ~600-byte answer fits, so a passed answer is a full one
    q = dns.message.make_query("big.example.com.", "TXT", use_edns=0, payload=1232)
    payload = q.to_wire()
    total = 0
    t0 = time.monotonic()
    batch = 100
    for i in range(n):
        if i % batch == 0:
            delay = t0 + secs * i / n - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        src = socket.inet_aton("%s.%d" % (src24, 1 + i % 254))
        sport = 1024 + (i * 7919) % 60000
        p = bytearray(payload)
        p[0:2] = struct.pack("!H", i & 0xffff)
        udp_len = 8 + len(p)
        udp = struct.pack("!HHHH", sport, 53, udp_len, 0) + bytes(p)
        pseudo = src + dst + struct.pack("!BBH", 0, 17, udp_len)
        c = csum(pseudo + udp) or 0xffff
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
        tot = 20 + udp_len
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, i & 0xffff, 0, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        try:
            s.sendto(ip + udp, (addr, 0))
            total += tot
        except OSError:
            pass
    print("sent %d bytes %d" % (n, total))


def mode_sniff(iface, secs, src24):
    ETH_P_IP = 0x0800
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((iface, ETH_P_IP))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.settimeout(0.2)
    prefix = socket.inet_aton(src24 + ".0")[:3]
    pkts = total = tc = 0
    print("ready", flush=True)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            data, meta = s.recvfrom(65535)
        except socket.timeout:
            continue
        if len(data) < 28 or data[9] != 17 or data[16:19] != prefix:
            continue
        ihl = (data[0] & 0x0f) * 4
        sport = struct.unpack("!H", data[ihl:ihl + 2])[0]
        if sport != 53:
            continue
        pkts += 1
        total += struct.unpack("!H", data[2:4])[0]
        dnsh = data[ihl + 8:]
        # a slipped answer: TC set and no answer records
        if len(dnsh) >= 8 and dnsh[2] & 0x02 and dnsh[6:8] == b"\0\0":
            tc += 1
    print("pkts %d bytes %d tc %d" % (pkts, total, tc), flush=True)


def main(argv):
    m = argv[1]
    if m == "id":
        mode_id(argv[2])
    elif m == "stream":
        mode_stream(argv[2], float(argv[3]), float(argv[4]), argv[5])
    elif m == "legit":
        mode_legit(argv[2], int(argv[3]), float(argv[4]))
    elif m == "flood":
        mode_flood(argv[2], int(argv[3]), float(argv[4]), argv[5])
    elif m == "sniff":
        mode_sniff(argv[2], float(argv[3]), argv[4])
    else:
        sys.exit("unknown mode " + m)


if __name__ == "__main__":
    main(sys.argv)
