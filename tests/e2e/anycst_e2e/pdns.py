"""Debian's pdns_server (PowerDNS Authoritative, gsqlite3 backend) on loopback,
for the tests that compare our API with PowerDNS's call by call (issue 16).

    with PowerDNS(tmpdir) as pdns:
        st, hdrs, body = pdns.call("GET", "/zones")     # same client as Primary

Started by PID with its own config dir, database and socket dir; stopped by PID.
"""
import os
import shutil
import sqlite3
import subprocess
import time

from .core import ApiClient, free_port, stop_pid

PDNS = shutil.which("pdns_server") or "/usr/sbin/pdns_server"
SCHEMA = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"


def pdns_available():
    return os.path.exists(PDNS) and os.path.exists(SCHEMA)


class PowerDNS:
    """pdns_server in `tmpdir` with the API on a free loopback port."""

    def __init__(self, tmpdir, key="pdns-test-key", extra=()):
        self.dir = tmpdir
        self.key = key
        self.db_path = os.path.join(tmpdir, "pdns.sqlite3")
        with open(SCHEMA) as f, sqlite3.connect(self.db_path) as db:
            db.executescript(f.read())
        self.api_port = free_port()
        self.dns_port = free_port()
        self.log_path = os.path.join(tmpdir, "pdns.log")
        self.conf_dir = os.path.join(tmpdir, "pdns-conf")
        os.makedirs(self.conf_dir, exist_ok=True)
        conf = ["launch=gsqlite3", "gsqlite3-database=" + self.db_path,
                "local-address=127.0.0.1", "local-port=%d" % self.dns_port,
                "webserver=yes", "webserver-address=127.0.0.1",
                "webserver-port=%d" % self.api_port, "webserver-allow-from=127.0.0.0/8",
                "api=yes", "api-key=" + key, "socket-dir=" + tmpdir,
                "guardian=no", "daemon=no", "disable-syslog=yes", "loglevel=3",
                "primary=yes", "default-soa-content=a.misconfigured.dns.server.invalid "
                "hostmaster.@ 0 10800 3600 604800 3600"] + list(extra)
        with open(os.path.join(self.conf_dir, "pdns.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")
        self.client = ApiClient("127.0.0.1", self.api_port, key)
        self.proc = None
        self.start()

    def start(self, timeout=15):
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen([PDNS, "--config-dir=" + self.conf_dir],
                                     stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("pdns_server exited:\n" + self.log())
            try:
                st, _, _ = self.call("GET", "")
                if st == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pdns_server did not answer:\n" + self.log())
            time.sleep(0.05)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, path, body=None, headers=None, key=True, prefix=True, raw=None):
        return self.client.call(method, path, body, headers, key, prefix, raw)

    def json(self, method, path, body=None, expect=None, **kw):
        return self.client.json(method, path, body, expect, **kw)

    def stop(self):
        self.client.close()
        stop_pid(self.proc)
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
