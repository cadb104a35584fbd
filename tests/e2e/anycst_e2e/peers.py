"""Real peers: knotd (as the primary of our secondary, or as a secondary of
our primary), and zone comparison with dnspython."""
import os
import socket
import subprocess

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import dns.zone

from .core import STARTED, free_port, stop_pid, wait_until
from .daemons import KEY_NAME, KEY_SECRET, KEYRING


def keyring(name, secret, alg="hmac-sha256"):
    return dns.tsigkeyring.from_text({name: (alg, secret)})


def soa_text(serial, refresh=3600, retry=600, expire=86400, minimum=300):
    return "@ IN SOA ns1 hostmaster %d %d %d %d %d" % (serial, refresh, retry, expire, minimum)


def knot_zone(serial=1, refresh=3600, retry=600, expire=86400, extra=""):
    return ("$ORIGIN example.com.\n$TTL 300\n" + soa_text(serial, refresh, retry, expire) +
            "\n@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.1\nwww AAAA 2001:db8::1\n"
            "@ MX 10 mail\nmail A 192.0.2.2\ntxt TXT \"hello\" \"world\"\n"
            "long TXT \"" + "x" * 250 + "\" \"" + "y" * 200 + "\"\n"
            "_sip._tcp SRV 10 60 5060 sip\nsip A 192.0.2.3\n*.wild A 192.0.2.4\n"
            "alias CNAME www\nc CAA 0 issue \"ca.example.net\"\n"
            "deep.a.b.c A 192.0.2.5\n" + extra)


def zone_set(it):
    out = set()
    for name, ttl, rd in it:
        out.add((name.to_text().lower(), ttl, dns.rdatatype.to_text(rd.rdtype),
                 rd.to_text().lower()))
    return out


def section_set(sec):
    """A message section as a set of (owner, class, type, TTL, rdata text), names
    lowercased, for comparing answers of two servers regardless of order and case."""
    out = set()
    for rrset in sec:
        for rd in rrset:
            out.add((rrset.name.to_text().lower(), rrset.rdclass, rrset.rdtype, rrset.ttl,
                     rd.to_text().lower()))
    return out


def export_set(text, origin):
    z = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    return zone_set(z.iterate_rdatas())


def axfr_set(port, zone, keyring=None, keyname=None, keyalg=None):
    msgs = dns.query.xfr("127.0.0.1", zone, port=port, keyring=keyring, keyname=keyname,
                         keyalgorithm=keyalg or "hmac-sha256", lifetime=20,
                         relativize=False)
    recs = []
    for m in msgs:
        for rrset in m.answer:
            for rd in rrset:
                recs.append((rrset.name, rrset.ttl, rd))
    assert recs and recs[0][2].rdtype == dns.rdatatype.SOA and recs[-1][2].rdtype == dns.rdatatype.SOA
    return zone_set(recs[:-1])


def soa_serial(port, zone, timeout=1.0, host="127.0.0.1"):
    """The SOA serial `host`:`port` answers over UDP for `zone`, or None."""
    q = dns.message.make_query(zone, "SOA")
    try:
        r = dns.query.udp(q, host, port=port, timeout=timeout)
    except Exception:
        return None
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


class _Peer:
    """What the peer daemons share: a process (self.proc) listening on TCP
    127.0.0.1:self.port once up, a log file (self.log_path), a stop by PID.
    NAME names the daemon in the assertion when it exits early."""
    NAME = "peer"

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited: %s" % (self.NAME, self.log()))
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=0.2)
            s.close()
            return True
        except OSError:
            return False

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        stop_pid(self.proc, timeout=5)
        self.proc = None


class Knot(_Peer):
    """knotd 3.2 on a free loopback port, in tmpdir/NAME, started and stopped by PID.

    Knot(tmpdir, zones, notify_to=None, port=None).start(): the primary of
    `zones` ({name: zone text}) for our secondary (TSIG KEY_NAME, DNS UPDATE,
    NOTIFY to "127.0.0.1@PORT" `notify_to`).

    Knot.secondary(tmp, primary_port, key_name, secret, zones, catalog): a
    started TSIG secondary of our primary (and a transfer source for
    comparison: it allows AXFR out to 127.0.0.1 without a key).

    Knot.with_conf(tmpdir, make_conf, zones): a started knotd on the
    configuration make_conf(dir, port) returns, serving `zones`.
    """
    NAME = "knotd"

    def __init__(self, tmpdir, zones, notify_to=None, port=None, name="knot"):
        self.dir = os.path.join(tmpdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.zones = zones
        self.notify_to = notify_to
        self.proc = None
        self.role = "primary"
        self.serial_timeout = 0.5
        self.log_path = os.path.join(self.dir, "knotd.log")
        self.conf = os.path.join(self.dir, "knot.conf")
        for zname, text in zones.items():
            with open(os.path.join(self.dir, zname.rstrip(".") + ".zone"), "w") as f:
                f.write(text)
        self._write(self._primary_conf())

    @classmethod
    def secondary(cls, tmp, primary_port, key_name, secret, zones=(), catalog=None,
                  alg="hmac-sha256", port=None, name="knot"):
        k = cls(tmp, {}, port=port, name=name)
        k.role = "secondary"
        k.serial_timeout = 0.1  # a poll lost in knotd's UDP path must not look like a slow transfer
        k._write(k._secondary_conf(primary_port, key_name, secret, zones, catalog, alg))
        return k.start()

    @classmethod
    def with_conf(cls, tmpdir, make_conf, zones=(), port=None, name="knot", timeout=10):
        """`zones`: names to wait for (a {name: text} dict also writes NAME.zone files)."""
        k = cls(tmpdir, zones if isinstance(zones, dict) else {}, port=port, name=name)
        k.zones = list(zones)
        k._write([make_conf(k.dir, k.port)])
        return k.start(timeout)

    def _head(self):
        return ["server:",
                '    rundir: "%s"' % self.dir,
                "    listen: 127.0.0.1@%d" % self.port]

    def _primary_conf(self):
        lines = self._head() + [
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
        for zname in self.zones:
            lines += ["  - domain: %s" % zname, "    file: %s.zone" % zname.rstrip("."),
                      "    acl: xfr"]
            if self.notify_to:
                lines.append("    notify: sec")
        return lines

    def _secondary_conf(self, primary_port, key_name, secret, zones, catalog, alg):
        kn = key_name.rstrip(".") + "."
        member = ['    storage: "%s"' % self.dir,
                  "    master: primary",
                  "    acl: [from_primary, xfr_out]",
                  "    zonefile-sync: -1",
                  "    zonefile-load: none",
                  "    journal-content: changes",
                  "    refresh-min-interval: 2",
                  "    retry-min-interval: 1",
                  "    retry-max-interval: 2"]
        conf = self._head() + [
            "    tcp-workers: 2",
            "    udp-workers: 1",
            "log:",
            "  - target: %s" % self.log_path,
            "    any: debug",
            "database:",
            '    storage: "%s"' % self.dir,
            "key:",
            "  - id: %s" % kn,
            "    algorithm: %s" % alg,
            "    secret: %s" % secret,
            "remote:",
            "  - id: primary",
            "    address: 127.0.0.1@%d" % primary_port,
            "    key: %s" % kn,
            "acl:",
            "  - id: from_primary",
            "    address: 127.0.0.1",
            "    key: %s" % kn,
            "    action: notify",
            "  - id: xfr_out",
            "    address: 127.0.0.1",
            "    action: transfer",
            "template:",
            "  - id: default"] + member
        if catalog:
            conf += ["  - id: member"] + member
        conf.append("zone:")
        for z in zones:
            conf.append("  - domain: %s" % z)
        if catalog:
            conf += ["  - domain: %s" % catalog, "    catalog-role: interpret",
                     "    catalog-template: member"]
        return conf

    def _write(self, lines):
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10):
        # the primary role logs to stderr (knotd.log), the secondary to knotd.log itself
        out = self.log_path if self.role == "primary" else os.path.join(self.dir, "knotd.out")
        with open(out, "a") as f:
            self.proc = subprocess.Popen(["knotd", "-c", self.conf], stdout=f,
                                         stderr=subprocess.STDOUT)
        if self.role == "primary":
            for zname in self.zones:
                wait_until(lambda: self._loaded(zname), timeout, what="knotd loads " + zname)
        else:
            wait_until(self._up, timeout, what="knotd")
        return self

    def _loaded(self, zone):
        if self.proc.poll() is not None:
            raise AssertionError("knotd exited: " + self.log())
        return self.serial(zone) is not None

    def serial(self, zone):
        return soa_serial(self.port, zone, timeout=self.serial_timeout)

    def update(self, zone, fill):
        """Sends one TSIG-signed DNS UPDATE; `fill(u)` adds the changes."""
        u = dns.update.Update(zone, keyring=KEYRING, keyname=KEY_NAME,
                              keyalgorithm=dns.tsig.HMAC_SHA256)
        fill(u)
        r = dns.query.tcp(u, "127.0.0.1", port=self.port, timeout=5)
        assert r.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(r.rcode())

    def axfr(self, zone):
        """Every (name, type) -> set of (ttl, rdata text) that knotd serves."""
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


class Named(_Peer):
    """named (BIND 9.18, Debian's bind9) on a free loopback port, in tmpdir/NAME,
    started with -g (foreground, log to named.log) and stopped by its PID.

    Named.secondary(tmp, primary_port, key_name, secret, zones): a TSIG
    secondary of our primary with named's defaults (only the files, the
    port and the primary are configured).
    Named.primary(tmp, zones): the primary of `zones` ({name: zone text})
    accepting DNS UPDATE signed with KEY_NAME (for the bench).
    """
    NAME = "named"

    def __init__(self, tmpdir, name="named", port=None):
        self.dir = os.path.join(tmpdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "named.conf")
        self.log_path = os.path.join(self.dir, "named.log")
        self.proc = None

    def _options(self, key_name, secret, alg):
        return ['key "%s" { algorithm %s; secret "%s"; };' % (key_name, alg, secret),
                "options {",
                '    directory "%s";' % self.dir,
                '    pid-file "%s/named.pid";' % self.dir,
                '    session-keyfile "%s/session.key";' % self.dir,
                '    managed-keys-directory "%s";' % self.dir,
                "    listen-on port %d { 127.0.0.1; };" % self.port,
                "    listen-on-v6 { none; };",
                "    recursion no;",
                "};",
                "controls { };"]

    @classmethod
    def secondary(cls, tmp, primary_port, key_name, secret, zones, alg="hmac-sha256",
                  port=None):
        n = cls(tmp, port=port)
        lines = n._options(key_name, secret, alg)
        for z in zones:
            lines += ['zone "%s" {' % z, "    type secondary;",
                      '    file "%s.db";' % z.rstrip("."),
                      '    primaries port %d { 127.0.0.1 key "%s"; };' % (primary_port, key_name),
                      "};"]
        n._write(lines)
        n.start()
        return n

    @classmethod
    def primary(cls, tmp, zones, key_name=KEY_NAME, secret=KEY_SECRET):
        n = cls(tmp)
        lines = n._options(key_name, secret, "hmac-sha256")
        for z, text in zones.items():
            with open(os.path.join(n.dir, z.rstrip(".") + ".db"), "w") as f:
                f.write(text)
            lines += ['zone "%s" {' % z, "    type primary;",
                      '    file "%s.db";' % z.rstrip("."),
                      '    allow-update { key "%s"; };' % key_name, "};"]
        n._write(lines)
        n.start()
        return n

    def _write(self, lines):
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10):
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(["named", "-g", "-n", "1", "-c", self.conf],
                                     stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        STARTED.append(("named", self.log_path))
        wait_until(self._up, timeout, what="named")
        return self

    def serial(self, zone):
        return soa_serial(self.port, zone, timeout=0.3)

    def query(self, name, rdtype="A"):
        """The answer's rdata texts for (name, rdtype), or None without an answer."""
        q = dns.message.make_query(name, rdtype)
        try:
            r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.3)
        except Exception:
            return None
        return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


class Pebble(_Peer):
    """pebble (Let's Encrypt's test ACME server, Debian's) on free loopback ports in
    tmpdir/pebble, with a self-signed certificate for 127.0.0.1 made by openssl
    (`ca_file` for the clients), checking DNS-01 challenges against `dns_port`
    on 127.0.0.1.  Started and stopped by PID; .directory is the ACME URL."""
    NAME = "pebble"

    def __init__(self, tmpdir, dns_port):
        self.dir = os.path.join(tmpdir, "pebble")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port(also_udp=False)
        self.mgmt_port = free_port(also_udp=False)
        self.ca_file = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", key, "-out", self.ca_file],
                       check=True, capture_output=True, timeout=30)
        conf = os.path.join(self.dir, "pebble.json")
        with open(conf, "w") as f:
            f.write(('{"pebble": {"listenAddress": "127.0.0.1:%d", "managementListenAddress": '
                     '"127.0.0.1:%d", "certificate": "%s", "privateKey": "%s", "httpPort": %d, '
                     '"tlsPort": %d, "ocspResponderURL": "", '
                     '"externalAccountBindingRequired": false}}') %
                    (self.port, self.mgmt_port, self.ca_file, key, free_port(), free_port()))
        self.log_path = os.path.join(self.dir, "pebble.log")
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0",
                   PEBBLE_AUTHZREUSE="0")
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(["pebble", "-config", conf, "-dnsserver",
                                      "127.0.0.1:%d" % dns_port], stdout=logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        logf.close()
        STARTED.append(("pebble", self.log_path))
        self.directory = "https://127.0.0.1:%d/dir" % self.port
        wait_until(self._up, 10, what="pebble")

