"""The project's daemons on free loopback ports: anycst-primary (with its API
client) and anycst-secondary.  Each is started here and stopped by its own PID."""
import base64
import os
import signal
import socket
import subprocess
import time
import urllib.parse

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring

from .pg import pg_database, pg_sql, pg_wanted
from .core import BIN, STARTED, ApiClient, free_port, http_get, stop_pid, tsig_file_args, \
    wait_until, write_api_key

# The TSIG key the secondary tests share with knotd (peers.Knot).
KEY_NAME = "xfr-key"
KEY_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
KEYRING = dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", KEY_SECRET)})
TSIG_FLAG = "%s:hmac-sha256:%s" % (KEY_NAME, KEY_SECRET)

SAN_ERRORS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def assert_san_clean(text):
    """Under `make SAN=1` a daemon reports memory errors and leaks in its log."""
    for bad in SAN_ERRORS:
        assert bad not in text, text[text.index(bad) - 200:][:3000]


def hostport(host, port):
    """"HOST:PORT", or "[HOST]:PORT" for an IPv6 address."""
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def primary_argv(directory, api, xfr, quic, key_file=None, db=None, tls_key=None, extra=(),
                 bin_dir=None):
    """anycst-primary's command line with its files in `directory` (api.key,
    anycst.db, tls.key unless given) and its API, XFR and QUIC addresses;
    the binary from `bin_dir` (default BIN: e.g. an installed sbin/)."""
    return [os.path.join(bin_dir or BIN, "anycst-primary"), "--db", db or os.path.join(directory, "anycst.db"),
            "--api", api, "--api-key-file", key_file or os.path.join(directory, "api.key"),
            "--xfr", xfr, "--quic", quic,
            "--tls-key", tls_key or os.path.join(directory, "tls.key")] + list(extra)


class Primary:
    """One anycst-primary process in `tmpdir` (api.key, anycst.db, tls.key,
    primary.log) on free loopback ports, and a client for its API:

        p.call(method, path, ...) -> (status, headers, body bytes)
        p.json(method, path, body, expect=STATUS) -> parsed JSON
        p.api(method, path, body, ok=(...)) -> parsed JSON or text (path under the prefix)
        p.api_url, p.key, p.xfr_addr, p.xfr_port, p.quic_port, p.db_path, p.log_path,
        p.stop(), p.restart(), p.kill()
    """

    def __init__(self, tmpdir, extra=(), catalog="catalog.anycst.invalid.", notify=(),
                 key=None, bin_dir=None, host="127.0.0.1", db=None):
        self.dir = tmpdir
        self.host = host            # every listener's address (e.g. "::1")
        self.bin_dir = bin_dir
        self.key_file, self.key = write_api_key(tmpdir, key)
        # `db`, or with ANYCST_DB=pg a PostgreSQL schema of its own (pg.py), else a SQLite file
        self.db_path = db or (pg_database() if pg_wanted() else os.path.join(tmpdir, "anycst.db"))
        self.log_path = os.path.join(tmpdir, "primary.log")
        self.catalog = catalog
        self.notify = list(notify)
        self.extra = list(extra)
        self.api_port = free_port()
        self.xfr_port = free_port()
        self.quic_port = free_port(socket.SOCK_DGRAM)
        self.api_url = "http://%s" % hostport(host, self.api_port)
        self.xfr_addr = hostport(host, self.xfr_port)
        self.quic_addr = hostport(host, self.quic_port)
        self.client = ApiClient(host, self.api_port, self.key)
        self.proc = None
        self.start()

    def args(self):
        a = primary_argv(self.dir, hostport(self.host, self.api_port), self.xfr_addr,
                         self.quic_addr, key_file=self.key_file, db=self.db_path,
                         extra=["--catalog", self.catalog], bin_dir=self.bin_dir)
        for n in self.notify:
            a += ["--notify", n]
        return a + self.extra

    def start(self, timeout=10):
        assert self.proc is None
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        STARTED.append(("anycst-primary", self.log_path))
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

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process with `sig` (SIGTERM: graceful); returns its exit code."""
        self.client.close()
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

    @property
    def is_pg(self):
        """The store is PostgreSQL (ANYCST_DB=pg), not a SQLite file."""
        return self.db_path.startswith("postgresql:")

    def sql(self, query):
        """Rows of `query` on the primary's database (either backend) as tuples;
        PostgreSQL values come as text, BYTEA ones as bytes."""
        if self.is_pg:
            rows = []
            for line in pg_sql(self.db_path, query).splitlines():
                rows.append(tuple(bytes.fromhex(v[2:]) if v.startswith("\\x") else v
                                  for v in line.split("|")))
            return rows
        import sqlite3
        db = sqlite3.connect(self.db_path, timeout=10)
        try:
            rows = db.execute(query).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def timeout(self):
        """Seconds the API client waits for an answer."""
        return self.client.timeout

    @timeout.setter
    def timeout(self, seconds):
        self.client.close()
        self.client.timeout = seconds

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    # -- the API ------------------------------------------------------------
    def call(self, method, path, body=None, headers=None, key=True, prefix=True, raw=None):
        return self.client.call(method, path, body, headers=headers, key=key, prefix=prefix,
                                raw=raw)

    def json(self, method, path, body=None, expect=None, **kw):
        return self.client.json(method, path, body, expect=expect, **kw)

    def api(self, method, path, body=None, ok=(200, 201, 204)):
        return self.client.api(method, path, body, ok=ok)

    def metrics_text(self):
        st, _, body = self.call("GET", "/metrics")
        assert st == 200, (st, body)
        return body.decode()

    def zone_id(self, name):
        return urllib.parse.quote(name.replace("=", "=3D").replace("/", "=2F"), safe="=.")

    def create_zone(self, name, rrsets=None, nameservers=("ns1.example.net.",), **fields):
        """POST /zones with `nameservers` (the API makes the NS rrset)."""
        body = {"name": name, "kind": "Native", "nameservers": list(nameservers)}
        if rrsets:
            body["rrsets"] = rrsets
        body.update(fields)
        return self.json("POST", "/zones", body, expect=201)

    def add_zone(self, name, keys=(), records=()):
        """A zone for transfer tests: NS ns1.NAME and its A, `records`, serial
        INCREASE, transferable with `keys`."""
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

    def add_key(self, name, alg="hmac-sha256"):
        """A new TSIG key through the API; its secret."""
        secret = base64.b64encode(os.urandom(32 if alg == "hmac-sha256" else 64)).decode()
        self.api("POST", "/tsigkeys", {"name": name, "algorithm": alg, "key": secret})
        return secret

    def allow_catalog(self, *keys, catalog="catalog.anycst.invalid."):
        """The admin allows `keys` (besides the POPs' own) to transfer the catalog."""
        self.api("PUT", "/zones/" + catalog, {"master_tsig_key_ids": list(keys)})

    def patch(self, zone, rrsets, expect=204, headers=None):
        st, hdrs, payload = self.call("PATCH", "/zones/" + self.zone_id(zone),
                                      {"rrsets": rrsets}, headers=headers)
        assert st == expect, (st, payload)
        return hdrs, payload

    def serial(self, zone):
        return int(self.json("GET", "/zones/%s?rrsets=false" % self.zone_id(zone),
                             expect=200)["serial"])

    def export(self, zone):
        st, _, body = self.call("GET", "/zones/%s/export" % self.zone_id(zone))
        assert st == 200, body
        return body.decode()

    def journal(self, zone, since=None):
        q = "" if since is None else "?since=%d" % since
        return self.call("GET", "/zones/%s/journal%s" % (self.zone_id(zone), q))


class Secondary:
    """One anycst-secondary process (TCP transport unless told otherwise)."""

    def __init__(self, tmpdir, primary_port, zones=None, catalog=None, tsig=True,
                 extra=(), port=None, http=True, name="sec", bin_dir=None, host="127.0.0.1",
                 primary_host=None):
        self.dir = tmpdir
        self.host = host            # where it listens (DNS, HTTP), e.g. "::1"
        self.port = port or free_port()
        self.http_port = free_port() if http else None
        self.state_dir = os.path.join(tmpdir, name + "-state")
        self.log_path = os.path.join(tmpdir, name + ".log")
        self.args = [os.path.join(bin_dir or BIN, "anycst-secondary"), "--transport", "tcp",
                     "--primary", hostport(primary_host or host, primary_port),
                     "--listen", hostport(host, self.port),
                     "--state-dir", self.state_dir, "--workers", "2",
                     "--identity", "pop-test", "--log-level", "debug"]
        if self.http_port:
            self.args += ["--http", hostport(host, self.http_port)]
        if tsig:
            self.args += tsig_file_args(tmpdir, KEY_NAME, KEY_SECRET)
        for z in zones or ():
            self.args += ["--zone", z]
        if catalog:
            self.args += ["--catalog", catalog]
        self.args += list(extra)
        self.proc = None

    def start(self, timeout=10):
        """Starts it and waits `timeout` s for it to listen (it loads its state first)."""
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        STARTED.append(("anycst-secondary", self.log_path))
        wait_until(lambda: self._listening(), timeout, what="secondary listening")
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("secondary exited: " + self.logtext()[-2000:])
        q = dns.message.make_query("id.server.", "TXT", "CH")
        try:
            dns.query.udp(q, self.host, port=self.port, timeout=0.2)
            return True
        except (dns.exception.Timeout, OSError):
            return False

    def stop(self, sig=signal.SIGTERM):
        stop_pid(self.proc, sig)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        assert_san_clean(self.logtext())
        return rc

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()

    def query(self, name, rdtype="A", tcp=False, timeout=2.0, rdclass="IN"):
        q = dns.message.make_query(name, rdtype, rdclass)
        if tcp:
            return dns.query.tcp(q, self.host, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.host, port=self.port, timeout=timeout)

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
        return http_get("http://%s%s" % (hostport(self.host, self.http_port), path), timeout=5)

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
