"""Ports, waits, temp dirs, secret files, process stops and the one HTTP client
for the primary's API.  Every e2e helper builds on these."""
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("ANYCST_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "..", "..", "..", "bin"))
# Test and bench helpers (tools/*.c) are built into BUILD/tools-bin, not bin/ (which
# holds only what `make install` ships): bin -> build/tools-bin, bin-san ->
# build-san/tools-bin, unless ANYCST_TOOLS says where.
TOOLS = os.environ.get("ANYCST_TOOLS", os.path.join(
    os.path.dirname(os.path.abspath(BIN)),
    os.path.basename(os.path.abspath(BIN)).replace("bin", "build", 1), "tools-bin"))
PFX = "/api/v1/servers/localhost"
# Bounds that guard against an algorithmic regression (O(n^2) where
# O(n log n) is meant) scale by this under the sanitizer build, which runs
# the same code about three times slower.
SLOWDOWN = 3.0 if os.path.basename(os.path.normpath(BIN)) == "bin-san" else 1.0
# ... and by this with every Primary on PostgreSQL (ANYCST_DB=pg): each record
# written is one round trip to the server (README: a known gap, libpq
# pipelining of the bulk writes is the fix), about six times SQLite's time.
DB_SLOWDOWN = 8.0 if os.environ.get("ANYCST_DB") == "pg" else 1.0


# Ports handed out come from below the kernel's ephemeral range (32768 and
# up), so an outgoing connection can never take a port a daemon is about to
# listen on; each pytest-xdist worker (PYTEST_XDIST_WORKER=gwN) walks its own
# slice, from a per-process offset, so parallel workers never hand out the
# same port.
_PORT_LO, _PORT_SLICE, _PORT_SLICES = 10000, 5400, 4
_port_cursor = [None]
_port_lock = threading.Lock()


def _port_slice():
    w = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    n = int(w[2:]) if w.startswith("gw") and w[2:].isdigit() else 0
    return _PORT_LO + (n % _PORT_SLICES) * _PORT_SLICE


def _bindable(kind, port):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(kind=socket.SOCK_STREAM, also_udp=True):
    """A port free on 127.0.0.1 for `kind` (TCP by default) and, unless
    also_udp=False, for UDP too (DNS daemons listen on both).  Never the
    same port twice in one process until its slice wraps."""
    base = _port_slice()
    with _port_lock:
        if _port_cursor[0] is None:
            _port_cursor[0] = (os.getpid() * 7919 + int(time.time())) % _PORT_SLICE
        for i in range(_PORT_SLICE):
            off = (_port_cursor[0] + i) % _PORT_SLICE
            port = base + off
            if not _bindable(kind, port):
                continue
            if also_udp and kind != socket.SOCK_DGRAM and not _bindable(socket.SOCK_DGRAM, port):
                continue
            _port_cursor[0] = (off + 1) % _PORT_SLICE
            return port
    raise RuntimeError("no free port")


def cpu_seconds(pid):
    """User + system CPU seconds process `pid` has used (all its threads):
    a cost guard on this, unlike one on wall time, holds however busy the
    machine is (parallel test workers, a loaded CI host)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Every daemon started, in order, as (program, log path): a timed-out wait and
# a failing test's report (conftest.py) show the tails of their logs, so a
# failure in CI says what the daemons saw.
STARTED = []
# PIDs of processes that outlive a test file on purpose (the e2e PostgreSQL server,
# stopped at exit): conftest.py stops any other one a file leaves running
SHARED = set()


def log_tails(since=None, last=4, size=3000):
    """The tails of the logs of the daemons started since index `since` (or the
    `last` ones), those whose files still exist."""
    out = []
    for what, path in (STARTED[since:] if since is not None else STARTED[-last:]):
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        out.append("\n--- %s %s (last %d bytes) ---\n%s" % (what, path, size, text[-size:]))
    return "".join(out)


def metric(text, name):
    """The value of the unlabelled metric `name` in a /metrics text, or None."""
    import re
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def wait_until(pred, timeout, step=0.02, what="condition"):
    """Polls `pred` until it returns a true value (returned) or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s%s"
                                 % (timeout, what, log_tails()))
        time.sleep(step)


def proc_children():
    """{parent PID: [(PID, name, state), ...]} of every process (from /proc)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()   # the name may hold spaces and parens
        kids.setdefault(int(rest[1]), []).append(
            (int(d), stat[stat.index("(") + 1:stat.rindex(")")], rest[0]))
    return kids


def stop_pid(proc, sig=signal.SIGTERM, timeout=10):
    """Stops the process we started (by its PID) with `sig`, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class TmpDir:
    """with TmpDir() as path: a temp dir removed afterwards."""

    def __init__(self, prefix="anycst-e2e-"):
        self.prefix = prefix

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix=self.prefix)
        return self.path

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)


def write_secret(path, text):
    """Writes a secret file only its owner may read (the daemons refuse anything else)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def write_api_key(directory, key=None, prefix="admin-"):
    """api.key (0600) in `directory`: (path, key)."""
    key = key or prefix + os.urandom(12).hex()
    return write_secret(os.path.join(directory, "api.key"), key + "\n"), key


def tsig_file_args(tmpdir, name, secret, alg="hmac-sha256"):
    """["--tsig-file", FILE] for anycst-secondary: the key never goes on a command line."""
    path = os.path.join(tmpdir, "tsig-%s-%s.key" % (name.rstrip("."), os.urandom(3).hex()))
    write_secret(path, "%s:%s:%s\n" % (name, alg, secret))
    return ["--tsig-file", path]


class ApiClient:
    """HTTP to the primary's API on kept-alive connections (one per thread).

    A kept-alive connection the server closed while idle (it closes idle ones
    after 10 s) fails on reuse: the request is sent once more on a new
    connection.  `enter` (optional) is a context manager factory the
    connection is made in (e.g. a network namespace)."""

    def __init__(self, host, port, key, enter=None, timeout=30):
        self.host, self.port, self.key = host, port, key
        self.enter = enter
        self.timeout = timeout
        self._local = threading.local()
        self.last_headers = {}

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            if self.enter is not None:
                with self.enter():
                    c.connect()
            self._local.conn = c
        return c

    def close(self):
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    def url(self, path, prefix=True):
        if prefix and not path.startswith("/api/") and path not in ("/api", "/metrics"):
            return PFX + path
        return path

    def call(self, method, path, body=None, headers=None, key=True, prefix=True, raw=None):
        """One request: (status, headers dict lowercased, body bytes)."""
        url = self.url(path, prefix)
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
            c = self._conn()
            try:
                c.request(method, url, body=data, headers=h)
                r = c.getresponse()
                payload = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.close()
                self.last_headers = hdrs
                return r.status, hdrs, payload
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 1:
                    raise
            except OSError:
                self.close()
                raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, expect=None, **kw):
        st, hdrs, payload = self.call(method, path, body, **kw)
        if expect is not None:
            assert st == expect, (st, payload)
        return json.loads(payload) if payload else None

    def api(self, method, path, body=None, ok=(200, 201, 204)):
        """Request under the API prefix; AssertionError unless the status is in `ok`;
        the parsed JSON, or the text."""
        status, _, raw = self.call(method, PFX + path, body)
        if status not in ok:
            raise AssertionError("%s %s -> %d %s" % (method, path, status, raw[:300]))
        if raw and raw.strip().startswith((b"{", b"[")):
            return json.loads(raw)
        return raw.decode(errors="replace")


def http_get(url, headers=None, timeout=10):
    """One GET on a new connection: (status, body text), error statuses included."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def setns(ns):
    """Moves the calling thread into a network namespace: a name made by
    `ip netns add`, or an open namespace fd.  Sockets it makes then live there."""
    fd = ns if isinstance(ns, int) else os.open("/var/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % ns)
    finally:
        if not isinstance(ns, int):
            os.close(fd)
