"""Shared e2e fixtures: an anycst-primary on free loopback ports in a temp dir.

    def test_x(primary):
        st, hdrs, body = primary.call("GET", "/zones")
        primary.api_url, primary.key, primary.xfr_addr, primary.db_path,
        primary.log_path, primary.stop(), primary.restart(), primary.kill()

`primary_factory(**kw)` starts more (or differently configured) primaries:
extra=["--journal-keep", "5"], catalog="cat.test.".  Every process is started
here and stopped by its own PID; temp dirs are removed afterwards.
"""
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest

BIN = os.environ.get("ANYCST_BIN",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bin"))
PFX = "/api/v1/servers/localhost"


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
    """One anycst-primary process and an HTTP client for its API."""

    def __init__(self, tmpdir, extra=(), catalog="catalog.anycst.invalid."):
        self.dir = tmpdir
        self.key = "admin-" + secrets.token_hex(12)
        self.key_file = os.path.join(tmpdir, "api.key")
        # 0600: the primary refuses a key file that group or others may read
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.key + "\n")
        self.db_path = os.path.join(tmpdir, "anycst.db")
        self.log_path = os.path.join(tmpdir, "primary.log")
        self.catalog = catalog
        self.extra = list(extra)
        self.api_port = free_port()
        self.xfr_port = free_port()
        self.quic_port = free_port(socket.SOCK_DGRAM)
        self.api_url = "http://127.0.0.1:%d" % self.api_port
        self.xfr_addr = "127.0.0.1:%d" % self.xfr_port
        self.quic_addr = "127.0.0.1:%d" % self.quic_port
        self.proc = None
        self._conn = None
        self.start()

    def args(self):
        return [os.path.join(BIN, "anycst-primary"), "--db", self.db_path,
                "--api", "127.0.0.1:%d" % self.api_port, "--api-key-file", self.key_file,
                "--xfr", self.xfr_addr, "--quic", self.quic_addr,
                "--tls-key", os.path.join(self.dir, "tls.key"),
                "--catalog", self.catalog] + self.extra

    def start(self, timeout=10):
        assert self.proc is None
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise RuntimeError("anycst-primary exited with %s:\n%s" % (rc, self.log()))
            try:
                st, _, _ = self.call("GET", "/api", prefix=False)
                if st == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("anycst-primary did not answer:\n" + self.log())
            time.sleep(0.02)

    def _close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process with `sig` (SIGTERM: graceful); returns its exit code."""
        self._close()
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        self.start()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, path, body=None, headers=None, key=True, prefix=True, raw=None):
        """One request on a kept-alive connection: (status, headers dict lowercased, body bytes)."""
        url = (PFX + path) if prefix and not path.startswith("/api/") and \
            path not in ("/api", "/metrics") else path
        h = {}
        if key is True:
            h["X-API-Key"] = self.key
        elif key:
            h["X-API-Key"] = key
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=30)
            try:
                self._conn.request(method, url, body=data, headers=h)
                r = self._conn.getresponse()
                payload = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self._close()
                return r.status, hdrs, payload
            except (http.client.HTTPException, ConnectionError, BrokenPipeError):
                self._close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, expect=None, **kw):
        st, hdrs, payload = self.call(method, path, body, **kw)
        if expect is not None:
            assert st == expect, (st, payload)
        return json.loads(payload) if payload else None

    # Convenience for tests.
    def zone_id(self, name):
        return urllib.parse.quote(name.replace("=", "=3D").replace("/", "=2F"), safe="=.")

    def create_zone(self, name, rrsets=None, nameservers=("ns1.example.net.",), **fields):
        body = {"name": name, "kind": "Native", "nameservers": list(nameservers)}
        if rrsets:
            body["rrsets"] = rrsets
        body.update(fields)
        return self.json("POST", "/zones", body, expect=201)

    def patch(self, zone, rrsets, expect=204, headers=None):
        st, hdrs, payload = self.call("PATCH", "/zones/" + self.zone_id(zone),
                                      {"rrsets": rrsets}, headers=headers)
        assert st == expect, (st, payload)
        return hdrs, payload

    def serial(self, zone):
        return self.json("GET", "/zones/%s?rrsets=false" % self.zone_id(zone), expect=200)["serial"]

    def export(self, zone):
        st, _, body = self.call("GET", "/zones/%s/export" % self.zone_id(zone))
        assert st == 200, body
        return body.decode()

    def journal(self, zone, since=None):
        q = "" if since is None else "?since=%d" % since
        return self.call("GET", "/zones/%s/journal%s" % (self.zone_id(zone), q))


@pytest.fixture
def primary_factory():
    made = []

    def make(**kw):
        d = tempfile.mkdtemp(prefix="anycst-e2e-")
        p = Primary(d, **kw)
        made.append((p, d))
        return p

    yield make
    for p, d in made:
        p.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def primary(primary_factory):
    return primary_factory()
