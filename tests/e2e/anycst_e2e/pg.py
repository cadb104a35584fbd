"""PostgreSQL for the e2e tests (issue 19): with ANYCST_DB=pg every Primary
stores its zones in a schema of its own in one throwaway PostgreSQL 15 server
that this module starts on first use: initdb in a temp dir (as the postgres
user when run as root), listening only on a unix socket there, stopped by its
PID and removed when the test process exits.  scripts/with-pg.sh's server is
used instead when ANYCST_TEST_PG is set.

    pg_wanted() -> bool          ANYCST_DB=pg
    pg_database() -> URL         a new, empty schema (search_path) for one primary
    pg_sql(url, sql) -> str      runs SQL with psql, the output unaligned
"""
import atexit
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from .core import SHARED

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
_server = {}
_count = itertools.count(1)


def pg_wanted():
    return os.environ.get("ANYCST_DB", "") in ("pg", "postgresql")


def _stop():
    proc = _server.get("proc")
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGINT)   # fast shutdown
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if _server.get("dir"):
        shutil.rmtree(_server["dir"], ignore_errors=True)


def _start():
    d = tempfile.mkdtemp(prefix="anycst-e2e-pg-")
    os.chmod(d, 0o755)
    kw = {}
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(d, pw.pw_uid, pw.pw_gid)
        kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        user = "postgres"
    _server["dir"] = d
    atexit.register(_stop)
    subprocess.run([os.path.join(PGBIN, "initdb"), "-D", d + "/data", "-U", user,
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=300, cwd=d,
                   **kw)
    log = open(os.path.join(d, "postgres.log"), "w")
    _server["proc"] = subprocess.Popen(
        [os.path.join(PGBIN, "postgres"), "-D", d + "/data", "-k", d, "-c", "listen_addresses=",
         "-c", "fsync=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=d, **kw)
    log.close()
    SHARED.add(_server["proc"].pid)
    deadline = time.monotonic() + 60
    while subprocess.run([os.path.join(PGBIN, "pg_isready"), "-q", "-h", d, "-U", user]).returncode:
        if _server["proc"].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not start:\n" +
                               open(os.path.join(d, "postgres.log")).read())
        time.sleep(0.1)
    subprocess.run([os.path.join(PGBIN, "createdb"), "-h", d, "-U", user, "anycst"], check=True)
    return "postgresql:///anycst?host=%s&user=%s" % (d, user)


def _url():
    if "url" not in _server:
        _server["url"] = os.environ.get("ANYCST_TEST_PG") or _start()
    return _server["url"]


def pg_sql(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60)
    return out.stdout


def pg_database():
    """A URL naming a new, empty schema (the store's tables go there)."""
    base = _url()
    name = "e2e_%d_%d" % (os.getpid(), next(_count))
    pg_sql(base, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE; "
                 "CREATE SCHEMA %s" % (name, name))
    return "%s&options=-csearch_path%%3D%s" % (base, name)
