#!/usr/bin/python3
"""PostgreSQL store benchmark (issue 19): anycst-primary with --db
postgresql:// beside PowerDNS 4.7 with its gpgsql backend (Debian's
pdns-backend-pgsql), both on one throwaway PostgreSQL 15 server started here
(fsync and synchronous_commit on, as a deployment runs it; unix socket only),
each in its own database, same requests, same load generator (bench/httpload.c).

  1. a zone of RECORDS records (default 20,000) created through each API;
  2. one-rrset PATCH (REPLACE of an A rrset, soa_edit_api INCREASE), 8
     clients, DURATION seconds: PATCH/s, p50, p99, errors.

Goal (issue 19): >= 2x PowerDNS's PATCH/s, p99 < 20 ms on loopback.
Usage: bench/pg_bench.py [--duration S] [--records N] [--clients N]
"""
import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time

import api as B   # bench/api.py: the API client, load generator and zone builder

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
PDNS_SCHEMA = "/usr/share/doc/pdns-backend-pgsql/schema.pgsql.sql"


def as_postgres(args, **kw):
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class Postgres:
    """One server in a temp dir, listening on a unix socket there only."""

    def __init__(self, d):
        self.dir = os.path.join(d, "pg")
        os.mkdir(self.dir)
        self.user = "postgres" if os.getuid() == 0 else os.environ.get("USER", "postgres")
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        as_postgres([PGBIN + "/initdb", "-D", self.dir + "/data", "-U", self.user,
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        self.log = open(os.path.join(d, "postgres.log"), "w")
        args = [PGBIN + "/postgres", "-D", self.dir + "/data", "-k", self.dir, "-c",
                "listen_addresses=", "-c", "max_connections=200", "-c", "shared_buffers=256MB"]
        args += os.environ.get("PG_BENCH_SERVER_ARGS", "").split()
        if os.getuid() == 0:
            args = ["runuser", "-u", "postgres", "--"] + args
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while subprocess.run([PGBIN + "/pg_isready", "-q", "-h", self.dir, "-U", self.user]
                             ).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("PostgreSQL did not start (see %s)" % self.log.name)
            time.sleep(0.1)

    def createdb(self, name):
        as_postgres([PGBIN + "/createdb", "-h", self.dir, "-U", self.user, name])
        return "postgresql:///%s?host=%s&user=%s" % (name, self.dir, self.user)

    def psql(self, db, path):
        as_postgres(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-U", self.user,
                     "-d", db, "-f", path])

    def stop(self):
        pidfile = os.path.join(self.dir, "data", "postmaster.pid")
        pid = int(open(pidfile).readline()) if os.path.exists(pidfile) else None
        if pid:
            os.kill(pid, signal.SIGINT)   # the server itself (runuser forks it)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            if pid:
                os.kill(pid, signal.SIGKILL)
            self.proc.wait()


class AnycstPg(B.Anycst):
    name = "anycst"

    def __init__(self, d, url):
        self.port = B.free_port()
        fd = os.open(os.path.join(d, "api.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(B.KEY + "\n")
        self.log = open(os.path.join(d, "anycst.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(B.BIN, "anycst-primary"), "--db", url,
             "--api", "127.0.0.1:%d" % self.port, "--api-key-file", os.path.join(d, "api.key"),
             "--xfr", "127.0.0.1:%d" % B.free_port(), "--quic", "127.0.0.1:%d" % B.free_port(
                 B.socket.SOCK_DGRAM), "--tls-key", os.path.join(d, "tls.key"),
             "--log-level", "warning", "--api-max-rrsets", "200000"],
            stdout=self.log, stderr=subprocess.STDOUT)
        B.wait_api(self.port, timeout=60)


class PowerDnsPg(B.PowerDNS):
    name = "pdns"

    def __init__(self, d, pg):
        self.port = B.free_port()
        conf = os.path.join(d, "pdns.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "launch=gpgsql", "gpgsql-host=" + pg.dir, "gpgsql-user=" + pg.user,
                "gpgsql-dbname=pdns", "gpgsql-password=", "api=yes", "api-key=" + B.KEY,
                "webserver=yes", "webserver-address=127.0.0.1",
                "webserver-port=%d" % self.port, "webserver-allow-from=127.0.0.0/8",
                "local-address=127.0.0.1", "local-port=%d" % B.free_port(),
                "socket-dir=" + d, "guardian=no", "daemon=no", "disable-syslog=yes",
                "loglevel=3", "webserver-max-bodysize=256",
                # its best configuration for this job: the zone is not signed,
                # so no rectify of the whole zone after every PATCH
                "default-api-rectify=no", ""]))
        self.log = open(os.path.join(d, "pdns.log"), "w")
        self.proc = B.subprocess.Popen(["/usr/sbin/pdns_server", "--config-dir=" + d],
                                       stdout=self.log, stderr=B.subprocess.STDOUT)
        B.wait_api(self.port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    if not os.path.exists(PDNS_SCHEMA):
        raise SystemExit("pg_bench: %s missing (make deps installs pdns-backend-pgsql)"
                         % PDNS_SCHEMA)
    d = tempfile.mkdtemp(prefix="anycst-bench-pg-")
    os.chmod(d, 0o755)
    B.build_httpload(d)
    pg, servers, out = None, [], {}
    try:
        pg = Postgres(d)
        url = pg.createdb("anycst")
        pg.createdb("pdns")
        pg.psql("pdns", PDNS_SCHEMA)
        print("PostgreSQL 15, fsync and synchronous_commit on, unix socket; load generator: %s"
              % ("bench/httpload.c" if B.HTTPLOAD else "python"), flush=True)
        for kind in ("anycst", "pdns"):
            sd = os.path.join(d, kind)
            os.mkdir(sd)
            srv = AnycstPg(sd, url) if kind == "anycst" else PowerDnsPg(sd, pg)
            servers.append(srv)
            print("== %s" % kind, flush=True)
            t = B.create_big_zone(srv, "big.test.", a.records)
            print("  created a %d-record zone in %.1f s" % (a.records, t), flush=True)
            r = out[kind] = B.patch_bench(srv, "big.test.", a.clients, a.duration)
            print("  PATCH, %d clients, %d records: %.1f/s p50 %.2f ms p99 %.2f ms, %d ok, "
                  "%d errors" % (a.clients, a.records, r["rate"], r["p50"], r["p99"], r["ok"],
                                 r["errors"]), flush=True)
            srv.stop()
            servers.remove(srv)
        o, p = out["anycst"], out["pdns"]
        print("== ratio (anycst / PowerDNS gpgsql, same PostgreSQL, same run)")
        print("  PATCH/s, %d clients on %d records: %.2fx (goal >= 2x), our p99 %.2f ms "
              "(goal < 20 ms), PowerDNS p99 %.2f ms" % (
                  a.clients, a.records, o["rate"] / max(p["rate"], 0.01), o["p99"], p["p99"]))
    finally:
        for s in servers:
            s.stop()
        if pg is not None:
            pg.stop()
        if os.environ.get("PG_BENCH_KEEP"):
            print("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
