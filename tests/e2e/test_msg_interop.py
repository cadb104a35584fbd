"""dns/msg and dns/tsig against real peers.

knotd (Debian's 3.2) serves a zone of ~7,000 records with a TSIG key and a
transfer ACL that requires it; bin/anycst-dig (tools/anycst-dig.c, built on
dns/msg + dns/tsig) queries it:
  - knotd accepts our signed SOA query and AXFR, and we verify every message
    of its multi-message signed AXFR; a wrong secret, an unknown key and a
    flipped bit are all refused;
  - our writer, fed the records knotd sent, builds each message no larger
    than knotd's own (knotd's compression as the yardstick).
Then `anycst-dig --serve` verifies requests and signs answers while dig,
kdig and dnspython act as clients and verify our signatures.
"""
import base64
import os
import re
import signal
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import pytest

from anycst_e2e import TOOLS, Knot, TmpDir

DIG = os.path.join(TOOLS, "anycst-dig")
SECRET = base64.b64encode(b"interop-secret-for-anycst-tsig!!").decode()
KEY = "xfr.key:hmac-sha256:" + SECRET
ZONE = "example.com."


def zone_text():
    lines = ["$ORIGIN example.com.", "$TTL 3600",
             "@ SOA ns1 hostmaster 2024010101 3600 900 604800 300",
             "@ NS ns1", "@ NS ns2.example.net.", "@ MX 10 mail", "ns1 A 192.0.2.1",
             "mail A 192.0.2.2"]
    for i in range(40):
        lines.append("big MX %d mx%d.big" % (i, i))
        lines.append("mx%d.big A 192.0.2.%d" % (i, i + 10))
    for i in range(12):
        lines.append("deleg NS ns%d.deleg" % i)
        lines.append("ns%d.deleg A 198.51.100.%d" % (i, i))
        lines.append("ns%d.deleg AAAA 2001:db8:1::%x" % (i, i))
    for i in range(6000):
        k = i % 6
        if k == 0:
            lines.append("host%d A 10.%d.%d.%d" % (i, i >> 16 & 255, i >> 8 & 255, i & 255))
        elif k == 1:
            lines.append("host%d AAAA 2001:db8::%x" % (i, i))
        elif k == 2:
            lines.append("www%d CNAME host%d" % (i, i - 2))
        elif k == 3:
            lines.append("sub%d NS ns.sub%d" % (i, i))
            lines.append("ns.sub%d A 192.0.2.%d" % (i, i % 250))
        elif k == 4:
            lines.append("m%d MX 10 mail%d.example.com." % (i, i % 40))
        else:
            lines.append("_sip._tcp.s%d SRV 0 5 5060 sip%d" % (i, i % 30))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def knot():
    conf = """server:
    rundir: {d}
    listen: 127.0.0.1@{port}
    tcp-io-timeout: 10000
log:
  - target: stderr
    any: info
database:
    storage: {d}
key:
  - id: xfr.key
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: xfr
    key: xfr.key
    action: transfer
template:
  - id: default
    storage: {d}
zone:
  - domain: example.com
    file: example.com.zone
    acl: xfr
"""
    with TmpDir(prefix="anycst-msg-") as d:
        k = Knot.with_conf(d, lambda kdir, port: conf.format(d=kdir, port=port, secret=SECRET),
                           zones={ZONE: zone_text()}, timeout=15)
        try:
            yield {"port": k.port, "dir": k.dir}
        finally:
            k.stop()


MSG_RE = re.compile(r"msg (\d+): (\d+) octets, rcode (\w+), an (\d+), tsig ([^,(]+?)"
                    r"(?: \(error (\d+)\))?(?:, body (\d+), rebuilt (-?\d+))?$")


def run_dig(port, *args, timeout=60):
    p = subprocess.run([DIG, "-s", "127.0.0.1:%d" % port] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    msgs = []
    for line in p.stdout.splitlines():
        m = MSG_RE.match(line)
        if m:
            msgs.append({"n": int(m.group(1)), "size": int(m.group(2)), "rcode": m.group(3),
                         "an": int(m.group(4)), "tsig": m.group(5),
                         "error": int(m.group(6)) if m.group(6) else None,
                         "body": int(m.group(7)) if m.group(7) else None,
                         "rebuilt": int(m.group(8)) if m.group(8) else None})
    return p.returncode, msgs, p.stdout + p.stderr


def test_knotd_accepts_our_signed_soa_query(knot):
    rc, msgs, out = run_dig(knot["port"], "-y", KEY, "example.com", "SOA")
    assert rc == 0, out
    assert len(msgs) == 1 and msgs[0]["rcode"] == "NOERROR" and msgs[0]["an"] == 1
    assert msgs[0]["tsig"] == "ok" and msgs[0]["error"] == 0, out


def test_signed_axfr_every_message_verified(knot):
    rc, msgs, out = run_dig(knot["port"], "-y", KEY, "example.com", "AXFR")
    assert rc == 0, out
    assert len(msgs) >= 5, "zone too small for a multi-message transfer: " + out
    assert all(m["tsig"] == "ok" for m in msgs), out
    total = int(re.search(r"total: \d+ messages, (\d+) records, (\d+) signed", out).group(1))
    # dnspython's own TSIG-checked AXFR of the same zone counts the same records
    keyring = dns.tsigkeyring.from_text({"xfr.key.": ("hmac-sha256", SECRET)})
    n = 0
    for r in dns.query.xfr("127.0.0.1", ZONE, port=knot["port"], keyring=keyring,
                           keyname="xfr.key.", timeout=10):
        n += sum(len(rrset) for rrset in r.answer)
    assert total == n
    with open(os.path.join(knot["dir"], "knotd.log")) as f:
        assert re.search(r"AXFR, outgoing, remote 127\.0\.0\.1@\d+, finished", f.read())


def test_axfr_without_key_refused(knot):
    rc, msgs, out = run_dig(knot["port"], "example.com", "AXFR")
    assert rc == 3, out
    assert msgs[0]["rcode"] in ("NOTAUTH", "REFUSED") and msgs[0]["an"] == 0


def test_wrong_secret_fails(knot):
    bad = "xfr.key:hmac-sha256:" + base64.b64encode(b"not-the-right-secret-at-all!!!!!").decode()
    rc, msgs, out = run_dig(knot["port"], "-y", bad, "example.com", "SOA")
    assert rc == 2, out
    assert msgs[0]["rcode"] == "NOTAUTH" and msgs[0]["error"] == 16   # BADSIG
    rc, msgs, out = run_dig(knot["port"], "-y", bad, "example.com", "AXFR")
    assert rc == 2 and msgs[0]["an"] == 0, out


def test_unknown_key_fails(knot):
    rc, msgs, out = run_dig(knot["port"], "-y", "other.key:hmac-sha256:" + SECRET,
                            "example.com", "SOA")
    assert rc == 2, out
    assert msgs[0]["rcode"] == "NOTAUTH" and msgs[0]["error"] == 17   # BADKEY


def test_flipped_bit_in_knot_message_detected(knot):
    rc, msgs, out = run_dig(knot["port"], "-y", KEY, "--tamper", "3", "example.com", "AXFR")
    assert rc == 2, out
    assert [m["tsig"] for m in msgs[:2]] == ["ok", "ok"]
    assert msgs[2]["n"] == 3 and "does not verify" in msgs[2]["tsig"]


@pytest.mark.parametrize("name,qtype", [
    ("example.com", "AXFR"),            # thousands of names, 16 KiB messages
    ("big.example.com", "MX"),          # 40 rdata names + additional glue
    ("x.deleg.example.com", "A"),       # referral: 12 NS + 24 glue
    ("www2.example.com", "A"),          # CNAME chain into the zone
    ("nothing.example.com", "A"),       # NXDOMAIN with the SOA
    ("_sip._tcp.s5.example.com", "SRV"),
    ("example.com", "NS"),
])
def test_compression_as_tight_as_knot(knot, name, qtype):
    args = ["-y", KEY] if qtype == "AXFR" else ["-t"]
    rc, msgs, out = run_dig(knot["port"], "--rebuild", *args, name, qtype)
    assert rc in (0, 3), out        # 3: NXDOMAIN
    assert msgs, out
    ours = theirs = 0
    for m in msgs:
        assert m["rebuilt"] is not None and m["rebuilt"] > 0, out
        # body = knotd's message without its OPT and TSIG, which we do not rebuild
        assert m["rebuilt"] <= m["body"], "msg %d: ours %d > knotd %d" % (
            m["n"], m["rebuilt"], m["body"])
        ours += m["rebuilt"]
        theirs += m["body"]
    print("%s %s: anycst %d octets, knotd %d octets" % (name, qtype, ours, theirs))


@pytest.fixture
def responder():
    """anycst-dig --serve on a free UDP port with the test key."""
    procs = []

    def start(key=KEY):
        p = subprocess.Popen([DIG, "--serve", "-s", "127.0.0.1:0", "-y", key],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        line = p.stdout.readline()
        m = re.match(r"listening (\d+)", line)
        assert m, "responder did not start: %r" % line
        return int(m.group(1))

    yield start
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_dig_verifies_our_signed_answer(responder):
    port = responder()
    out = subprocess.run(["dig", "+norec", "+tries=1", "+time=3", "-y", "hmac-sha256:xfr.key:" + SECRET,
                          "@127.0.0.1", "-p", str(port), "example.com.", "SOA"],
                         capture_output=True, text=True, timeout=20).stdout
    assert "status: NOERROR" in out, out
    assert re.search(r"^xfr\.key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0",
                     out, re.M), out
    assert "could not be validated" not in out and "Couldn't verify" not in out, out
    # wrong secret: our verifier answers NOTAUTH with an unsigned BADSIG
    out = subprocess.run(["dig", "+norec", "+tries=1", "+time=3", "-y",
                          "hmac-sha256:xfr.key:" + base64.b64encode(b"x" * 32).decode(),
                          "@127.0.0.1", "-p", str(port), "example.com.", "SOA"],
                         capture_output=True, text=True, timeout=20).stdout
    assert "status: NOTAUTH" in out and re.search(r"TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADSIG",
                                                   out), out
    # unknown key name: BADKEY
    out = subprocess.run(["dig", "+norec", "+tries=1", "+time=3", "-y", "hmac-sha256:nokey:" + SECRET,
                          "@127.0.0.1", "-p", str(port), "example.com.", "SOA"],
                         capture_output=True, text=True, timeout=20).stdout
    assert "status: NOTAUTH" in out and "BADKEY" in out, out


def test_kdig_verifies_our_signed_answer(responder):
    port = responder()
    p = subprocess.run(["kdig", "+retry=0", "+time=3", "-y", "hmac-sha256:xfr.key:" + SECRET,
                        "@127.0.0.1", "-p", str(port), "example.com.", "SOA"],
                       capture_output=True, text=True, timeout=20)
    out = p.stdout + p.stderr
    assert "status: NOERROR" in out and "WARNING" not in out, out
    p = subprocess.run(["kdig", "+retry=0", "+time=3", "-y",
                        "hmac-sha256:xfr.key:" + base64.b64encode(b"y" * 32).decode(),
                        "@127.0.0.1", "-p", str(port), "example.com.", "SOA"],
                       capture_output=True, text=True, timeout=20)
    out = p.stdout + p.stderr
    assert "BADSIG" in out and "failed to verify TSIG" in out, out


@pytest.mark.parametrize("alg", ["hmac-sha256", "hmac-sha512", "hmac-sha1"])
def test_dnspython_verifies_our_signed_answer(responder, alg):
    secret = base64.b64encode(os.urandom(32)).decode()
    port = responder("k.test:%s:%s" % (alg, secret))
    keyring = dns.tsigkeyring.from_text({"k.test.": (alg, secret)})
    q = dns.message.make_query("example.com.", "SOA")
    q.use_tsig(keyring, keyname="k.test.")
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)   # raises unless the MAC verifies
    assert r.rcode() == dns.rcode.NOERROR and r.had_tsig and len(r.answer) == 1
    # wrong secret: dnspython sees our unsigned BADSIG answer
    wrong = dns.tsigkeyring.from_text({"k.test.": (alg, base64.b64encode(b"z" * 32).decode())})
    q = dns.message.make_query("example.com.", "SOA")
    q.use_tsig(wrong, keyname="k.test.")
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.udp(q, "127.0.0.1", port=port, timeout=3)


@pytest.fixture
def tcp_responder():
    """anycst-dig --serve -t: answers AXFR with signed multi-message transfers."""
    procs = []

    def start(*extra):
        p = subprocess.Popen([DIG, "--serve", "-t", "-s", "127.0.0.1:0", "-y", KEY] + list(extra),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        m = re.match(r"listening (\d+)", p.stdout.readline())
        assert m, "TCP responder did not start"
        return int(m.group(1))

    yield start
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.mark.parametrize("unsigned", [0, 3, 99])
def test_peers_verify_our_multi_message_axfr(tcp_responder, unsigned):
    """Our signer per RFC 8945 §5.3.1: every message signed, or only every
    (K+1)-th and the last (the rest enter the next MAC): dig, kdig and
    dnspython each verify the whole transfer."""
    nmsg = 12 if unsigned < 12 else 102
    nrec = nmsg * 50 + 2
    port = tcp_responder("--messages", str(nmsg), "--unsigned", str(unsigned))
    out = subprocess.run(["dig", "-y", "hmac-sha256:xfr.key:" + SECRET, "@127.0.0.1", "-p",
                          str(port), "example.com.", "AXFR"],
                         capture_output=True, text=True, timeout=30).stdout
    assert "XFR size: %d records (messages %d" % (nrec, nmsg) in out, out[-2000:]
    assert not re.search(r"verify failure|Couldn't verify|could not be validated|expected a TSIG",
                         out), out[-2000:]
    p = subprocess.run(["kdig", "-y", "hmac-sha256:xfr.key:" + SECRET, "@127.0.0.1", "-p",
                        str(port), "example.com.", "AXFR"],
                       capture_output=True, text=True, timeout=30)
    kout = p.stdout + p.stderr
    assert "(%d messages, %d records)" % (nmsg, nrec) in kout, kout[-2000:]
    assert "WARNING" not in kout, kout[-2000:]
    keyring = dns.tsigkeyring.from_text({"xfr.key.": ("hmac-sha256", SECRET)})
    n = 0
    for r in dns.query.xfr("127.0.0.1", ZONE, port=port, keyring=keyring, keyname="xfr.key.",
                           timeout=10):
        n += sum(len(rrset) for rrset in r.answer)
    assert n == nrec
    # and our own verifier agrees
    rc, msgs, out = run_dig(port, "-y", KEY, "example.com", "AXFR")
    assert rc == 0 and len(msgs) == nmsg, out
    signed = sum(1 for m in msgs if m["tsig"] == "ok")
    assert signed == (nmsg if unsigned == 0 else len([i for i in range(nmsg)
                      if i == 0 or i == nmsg - 1 or i % (unsigned + 1) == 0]))
