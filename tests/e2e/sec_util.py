"""Helpers for the anycst-secondary e2e tests: knotd as primary (TSIG, DNS
UPDATE to change zones, NOTIFY to us), anycst-secondary on free loopback
ports, and zone comparison with dnspython.

Every process is started here and stopped by its own PID; every file lives
in a temporary directory the caller removes.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

BIN = os.environ.get("ANYCST_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "..", "..", "bin"))
KEY_NAME = "xfr-key"
KEY_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
KEYRING = dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", KEY_SECRET)})
TSIG_FLAG = "%s:hmac-sha256:%s" % (KEY_NAME, KEY_SECRET)


def write_secret(path, text):
    """Writes a secret file only its owner may read (the daemons refuse anything else)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def tsig_file_args(tmpdir, name, secret, alg="hmac-sha256"):
    """["--tsig-file", FILE] for anycst-secondary: the key never goes on a command line."""
    path = os.path.join(tmpdir, "tsig-%s-%s.key" % (name.rstrip("."), os.urandom(3).hex()))
    write_secret(path, "%s:%s:%s\n" % (name, alg, secret))
    return ["--tsig-file", path]


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        u.close()
        s.close()
        return port
    raise RuntimeError("no free port")


def wait_until(pred, timeout, step=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(step)


def stop_pid(proc, sig=signal.SIGTERM, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def soa_text(serial, refresh=3600, retry=600, expire=86400, minimum=300):
    return "@ IN SOA ns1 hostmaster %d %d %d %d %d" % (serial, refresh, retry, expire, minimum)


class Knot:
    """knotd as the primary of `zones` ({name: zone text}), on a free port.

    notify_to: "127.0.0.1@PORT" of our secondary (or None).
    """

    def __init__(self, tmpdir, zones, notify_to=None, port=None):
        self.dir = os.path.join(tmpdir, "knot")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.zones = zones
        self.notify_to = notify_to
        self.proc = None
        self.log_path = os.path.join(self.dir, "knotd.log")
        for name, text in zones.items():
            with open(os.path.join(self.dir, name.rstrip(".") + ".zone"), "w") as f:
                f.write(text)
        self._write_conf()

    def _write_conf(self):
        lines = [
            "server:",
            '    rundir: "%s"' % self.dir,
            "    listen: 127.0.0.1@%d" % self.port,
            "    background-workers: 1",
            "log:",
            "  - target: stderr",
            "    any: info",
            "database:",
            '    storage: "%s"' % self.dir,
            "key:",
            "  - id: %s" % KEY_NAME,
            "    algorithm: hmac-sha256",
            "    secret: %s" % KEY_SECRET,
            "acl:",
            "  - id: xfr",
            "    address: 127.0.0.0/8",
            "    key: %s" % KEY_NAME,
            "    action: [transfer, update]",
        ]
        if self.notify_to:
            lines += ["remote:", "  - id: sec", "    address: %s" % self.notify_to,
                      "    key: %s" % KEY_NAME]
        lines += [
            "template:",
            "  - id: default",
            '    storage: "%s"' % self.dir,
            "    zonefile-sync: -1",
            "    semantic-checks: off",
            "    journal-max-depth: 2000",
            "zone:",
        ]
        for name in self.zones:
            lines += ["  - domain: %s" % name, "    file: %s.zone" % name.rstrip("."),
                      "    acl: xfr"]
            if self.notify_to:
                lines.append("    notify: sec")
        with open(os.path.join(self.dir, "knot.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(["knotd", "-c", os.path.join(self.dir, "knot.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for name in self.zones:
            wait_until(lambda: self.serial(name) is not None, 10, what="knotd loads " + name)
        return self

    def stop(self):
        stop_pid(self.proc)
        self.proc = None

    def serial(self, zone):
        q = dns.message.make_query(zone, "SOA")
        try:
            r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
        except (dns.exception.Timeout, OSError):
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def update(self, zone, fill):
        """Sends one TSIG-signed DNS UPDATE; `fill(u)` adds the changes."""
        u = dns.update.Update(zone, keyring=KEYRING, keyname=KEY_NAME,
                              keyalgorithm=dns.tsig.HMAC_SHA256)
        fill(u)
        r = dns.query.tcp(u, "127.0.0.1", port=self.port, timeout=5)
        assert r.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(r.rcode())

    def axfr(self, zone):
        """Every (name, type) -> set of (ttl, rdata text) that knotd serves."""
        q = dns.message.make_query(zone, "AXFR")
        q.use_tsig(KEYRING, keyname=KEY_NAME, algorithm=dns.tsig.HMAC_SHA256)
        out = {}
        for m in dns.query.xfr("127.0.0.1", zone, port=self.port, keyring=KEYRING,
                               keyname=KEY_NAME, keyalgorithm=dns.tsig.HMAC_SHA256,
                               timeout=10, relativize=False):
            for rrset in m.answer:
                key = (rrset.name.to_text().lower(), rrset.rdtype)
                s = out.setdefault(key, set())
                for rd in rrset:
                    s.add((rrset.ttl, rd.to_text()))
        return out


class Secondary:
    """One anycst-secondary process."""

    def __init__(self, tmpdir, primary_port, zones=None, catalog=None, tsig=True,
                 extra=(), port=None, http=True, name="sec"):
        self.dir = tmpdir
        self.port = port or free_port()
        self.http_port = free_port() if http else None
        self.state_dir = os.path.join(tmpdir, name + "-state")
        self.log_path = os.path.join(tmpdir, name + ".log")
        self.args = [os.path.join(BIN, "anycst-secondary"), "--transport", "tcp",
                     "--primary", "127.0.0.1:%d" % primary_port,
                     "--listen", "127.0.0.1:%d" % self.port,
                     "--state-dir", self.state_dir, "--workers", "2",
                     "--identity", "pop-test", "--log-level", "debug"]
        if self.http_port:
            self.args += ["--http", "127.0.0.1:%d" % self.http_port]
        if tsig:
            self.args += tsig_file_args(tmpdir, KEY_NAME, KEY_SECRET)
        for z in zones or ():
            self.args += ["--zone", z]
        if catalog:
            self.args += ["--catalog", catalog]
        self.args += list(extra)
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self._listening(), 10, what="secondary listening")
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("secondary exited: " + self.logtext()[-2000:])
        q = dns.message.make_query("id.server.", "TXT", "CH")
        try:
            dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.2)
            return True
        except (dns.exception.Timeout, OSError):
            return False

    def stop(self, sig=signal.SIGTERM):
        stop_pid(self.proc, sig)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        # Under `make SAN=1` the daemon reports memory errors and leaks in its log.
        text = self.logtext()
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert bad not in text, text[text.index(bad) - 200:][:3000]
        return rc

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()

    def query(self, name, rdtype="A", tcp=False, timeout=2.0, rdclass="IN"):
        q = dns.message.make_query(name, rdtype, rdclass)
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=timeout)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def serial(self, zone):
        try:
            r = self.query(zone, "SOA", timeout=0.5)
        except (dns.exception.Timeout, OSError):
            return None
        if r.rcode() != dns.rcode.NOERROR:
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def http(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http_port, path),
                                        timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def served(self, keys, zone):
        """For each (name, type) in `keys`, what we answer over TCP, in AXFR's shape."""
        out = {}
        for name, rdtype in keys:
            r = self.query(name, rdtype, tcp=True)
            assert r.rcode() == dns.rcode.NOERROR, (name, rdtype, dns.rcode.to_text(r.rcode()))
            for rrset in r.answer:
                if rrset.name.to_text().lower() != name or rrset.rdtype != rdtype:
                    continue
                s = out.setdefault((name, rdtype), set())
                for rd in rrset:
                    s.add((rrset.ttl, rd.to_text()))
        return out


def knot_zone(serial=1, refresh=3600, retry=600, expire=86400, extra=""):
    return ("$ORIGIN example.com.\n$TTL 300\n" + soa_text(serial, refresh, retry, expire) +
            "\n@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.1\nwww AAAA 2001:db8::1\n"
            "@ MX 10 mail\nmail A 192.0.2.2\ntxt TXT \"hello\" \"world\"\n"
            "long TXT \"" + "x" * 250 + "\" \"" + "y" * 200 + "\"\n"
            "_sip._tcp SRV 10 60 5060 sip\nsip A 192.0.2.3\n*.wild A 192.0.2.4\n"
            "alias CNAME www\nc CAA 0 issue \"ca.example.net\"\n"
            "deep.a.b.c A 192.0.2.5\n" + extra)
