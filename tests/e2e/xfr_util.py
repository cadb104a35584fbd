"""Helpers for the transfer e2e tests: an anycst-primary and knotd secondaries
on loopback, free ports, an API client, zone comparison with dnspython.

Every process is started here and killed by its own PID; every file lives in
a temporary directory removed afterwards.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.tsigkeyring
import dns.zone

BIN = os.environ.get("ANYCST_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "bin"))
API_KEY = "e2e-xfr-admin-key"
PFX = "/api/v1/servers/localhost"


def free_port(kind=socket.SOCK_STREAM, also_udp=False):
    """A port free for TCP (and UDP when asked) on 127.0.0.1."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        if also_udp:
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


class Primary:
    """anycst-primary with its API, transfer port and NOTIFY targets."""

    timeout = 10

    def __init__(self, tmp, notify=(), extra=()):
        self.dir = tmp
        self.api_port = free_port()
        self.xfr_port = free_port(also_udp=True)
        self.quic_port = free_port(socket.SOCK_DGRAM)
        keyfile = os.path.join(tmp, "api.key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:   # 0600, or the primary refuses it
            f.write(API_KEY + "\n")
        self.log_path = os.path.join(tmp, "primary.log")
        self.logf = open(self.log_path, "w")
        args = [os.path.join(BIN, "anycst-primary"), "--db", os.path.join(tmp, "anycst.db"),
                "--api", "127.0.0.1:%d" % self.api_port, "--api-key-file", keyfile,
                "--xfr", "127.0.0.1:%d" % self.xfr_port,
                "--quic", "127.0.0.1:%d" % self.quic_port,
                "--tls-key", os.path.join(tmp, "tls.key")]
        for n in notify:
            args += ["--notify", n]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT)
        wait_until(self._up, 10, what="primary API")

    def _up(self):
        if self.proc.poll() is not None:
            if "not built yet" in self.log():
                import pytest
                self.logf.close()
                pytest.skip("anycst-primary is not built yet")
            raise AssertionError("primary exited: " + self.log())
        try:
            self.api("GET", "/zones")
            return True
        except (OSError, urllib.error.URLError):
            return False

    def api(self, method, path, body=None, ok=(200, 201, 204)):
        url = "http://127.0.0.1:%d%s%s" % (self.api_port, PFX, path)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"X-API-Key": API_KEY,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status not in ok:
            raise AssertionError("%s %s -> %d %s" % (method, path, status, raw[:300]))
        if raw and raw.strip().startswith((b"{", b"[")):
            return json.loads(raw)
        return raw.decode(errors="replace")

    def log(self):
        if not self.logf.closed:
            self.logf.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()

    # -- zone helpers --------------------------------------------------------
    def add_key(self, name, alg="hmac-sha256"):
        secret = base64.b64encode(os.urandom(32 if alg == "hmac-sha256" else 64)).decode()
        self.api("POST", "/tsigkeys", {"name": name, "algorithm": alg, "key": secret})
        return secret

    def allow_catalog(self, *keys, catalog="catalog.anycst.invalid."):
        """The admin allows `keys` (besides the POPs' own) to transfer the catalog."""
        self.api("PUT", "/zones/" + catalog, {"master_tsig_key_ids": list(keys)})

    def create_zone(self, name, keys=(), records=()):
        rrsets = [{"name": name, "type": "NS", "ttl": 3600,
                   "records": [{"content": "ns1.%s" % name, "disabled": False}]},
                  {"name": "ns1." + name, "type": "A", "ttl": 3600,
                   "records": [{"content": "192.0.2.1", "disabled": False}]}]
        rrsets += list(records)
        self.api("POST", "/zones", {"name": name, "kind": "Native", "rrsets": rrsets,
                                    "master_tsig_key_ids": list(keys),
                                    "soa_edit_api": "INCREASE"})
        if keys:
            self.api("PUT", "/zones/" + name, {"master_tsig_key_ids": list(keys)})

    def serial(self, name):
        z = self.api("GET", "/zones/%s?rrsets=false" % name)
        return int(z["serial"])

    def export(self, name):
        return self.api("GET", "/zones/%s/export" % name)


def export_set(text, origin):
    z = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    return zone_set(z.iterate_rdatas())


def zone_set(it):
    out = set()
    for name, ttl, rd in it:
        out.add((name.to_text().lower(), ttl, dns.rdatatype.to_text(rd.rdtype),
                 rd.to_text().lower()))
    return out


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


def soa_serial(port, zone, timeout=1.0):
    q = dns.message.make_query(zone, "SOA")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
    except Exception:
        return None
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


class Knot:
    """knotd 3.2 as a TSIG secondary of the primary (and as a transfer source
    for comparison: it allows AXFR out to 127.0.0.1 without a key)."""

    def __init__(self, tmp, primary_port, key_name, secret, zones=(), catalog=None,
                 alg="hmac-sha256", port=None, name="knot"):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port(also_udp=True)
        self.log_path = os.path.join(self.dir, "knotd.log")
        kn = key_name.rstrip(".") + "."
        conf = [
            "server:",
            "    rundir: %s" % self.dir,
            "    listen: 127.0.0.1@%d" % self.port,
            "    tcp-workers: 2",
            "    udp-workers: 1",
            "log:",
            "  - target: %s" % self.log_path,
            "    any: debug",
            "database:",
            "    storage: %s" % self.dir,
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
            "  - id: default",
            "    storage: %s" % self.dir,
            "    master: primary",
            "    acl: [from_primary, xfr_out]",
            "    zonefile-sync: -1",
            "    zonefile-load: none",
            "    journal-content: changes",
            "    refresh-min-interval: 2",
            "    retry-min-interval: 1",
            "    retry-max-interval: 2",
        ]
        if catalog:
            conf += ["  - id: member", "    storage: %s" % self.dir, "    master: primary",
                     "    acl: [from_primary, xfr_out]", "    zonefile-sync: -1",
                     "    zonefile-load: none", "    journal-content: changes",
                     "    refresh-min-interval: 2", "    retry-min-interval: 1",
                     "    retry-max-interval: 2"]
        conf.append("zone:")
        for z in zones:
            conf.append("  - domain: %s" % z)
        if catalog:
            conf += ["  - domain: %s" % catalog, "    catalog-role: interpret",
                     "    catalog-template: member"]
        self.conf = os.path.join(self.dir, "knot.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.out = open(os.path.join(self.dir, "knotd.out"), "w")
        self.proc = subprocess.Popen(["knotd", "-c", self.conf], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        wait_until(self._up, 10, what="knotd")

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError("knotd exited: " + self.log())
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

    def serial(self, zone):
        # Short timeout: a poll lost in knotd's UDP path must not look like
        # a slow transfer (polls repeat anyway).
        return soa_serial(self.port, zone, timeout=0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


class TmpDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="anycst-xfr-")
        return self.path

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)


def keyring(name, secret, alg="hmac-sha256"):
    return dns.tsigkeyring.from_text({name: (alg, secret)})
