"""A highly available PostgreSQL on loopback for the HA test (issue 19):
an etcd cluster of three members and three Patroni nodes (Debian's
etcd-server and patroni), each node's PostgreSQL 15 in a temp dir run as the
postgres user when the test runs as root (as pg.py's server), trust
authentication on 127.0.0.1, Patroni's synchronous mode and short timings.

    with HaCluster(tmpdir) as ha:
        ha.url(db)                      multi-host URL, target_session_attrs=read-write
        ha.wait_healthy()               a leader, a sync standby, the third streaming
        ha.leader(), ha.sync_standby()  node names ("n1".."n3")
        ha.switchover(candidate)        planned switchover through Patroni's REST API
        ha.kill_node(name)              SIGKILL of that node's Patroni and its postgres
        ha.psql_write(db)               one INSERT through the multi-host URL: True/False

Every process is started here (Popen) and stopped by its PID; a killed
node's postgres processes are found as descendants of its Patroni's PID.
"""
import json
import os
import pwd
import signal
import subprocess
import time
import urllib.error
import urllib.request

from .core import STARTED, free_port, proc_children

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
# Patroni's lease and loop: ttl >= loop_wait + 2 * retry_timeout (Patroni's rule)
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 1, 4


def _as_postgres():
    """Popen keywords running a child as the postgres user when we are root."""
    if os.getuid() != 0:
        return {}, pwd.getpwuid(os.getuid()).pw_name
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}, "postgres"


def descendants(pid):
    """PIDs of every live descendant of `pid` (from /proc), children first seen first."""
    kids = {ppid: [k[0] for k in v] for ppid, v in proc_children().items()}
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def _stop_proc(proc, sig=signal.SIGTERM, timeout=20):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        for pid in descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.kill()
        proc.wait(10)


class HaCluster:
    """Three etcd members and three Patroni nodes n1, n2, n3 under `tmpdir`."""

    def __init__(self, tmpdir, scope="anycst-ha"):
        self.dir = tmpdir
        self.scope = "%s-%d" % (scope, os.getpid())
        self.kw, self.user = _as_postgres()
        self.names = ["n1", "n2", "n3"]
        self.etcd = {}       # name -> Popen
        self.patroni = {}    # name -> Popen
        self.pg_port = {n: free_port(also_udp=False) for n in self.names}
        self.rest_port = {n: free_port(also_udp=False) for n in self.names}
        self.etcd_client = {n: free_port(also_udp=False) for n in self.names}
        self.etcd_peer = {n: free_port(also_udp=False) for n in self.names}

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *a):
        self.stop()

    # -- start and stop -------------------------------------------------------
    def start(self):
        os.chmod(self.dir, 0o755)
        cluster = ",".join("e%s=http://127.0.0.1:%d" % (n, self.etcd_peer[n]) for n in self.names)
        for n in self.names:
            d = os.path.join(self.dir, "etcd-" + n)
            log = open(d + ".log", "w")
            # generous heartbeat and election timeouts: a shared 2-core machine
            self.etcd[n] = subprocess.Popen(
                ["etcd", "--name", "e" + n, "--data-dir", d,
                 "--listen-client-urls", "http://127.0.0.1:%d" % self.etcd_client[n],
                 "--advertise-client-urls", "http://127.0.0.1:%d" % self.etcd_client[n],
                 "--listen-peer-urls", "http://127.0.0.1:%d" % self.etcd_peer[n],
                 "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.etcd_peer[n],
                 "--initial-cluster", cluster, "--initial-cluster-token", self.scope,
                 "--initial-cluster-state", "new", "--heartbeat-interval", "200",
                 "--election-timeout", "2000", "--log-level", "warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            STARTED.append(("etcd", d + ".log"))
        self._wait(self._etcd_healthy, 60, "an etcd cluster of 3 healthy members")
        for n in self.names:
            self._start_patroni(n)

    def _etcd_healthy(self):
        eps = ",".join("http://127.0.0.1:%d" % self.etcd_client[n] for n in self.names)
        r = subprocess.run(["etcdctl", "--endpoints", eps, "--command-timeout=2s",
                            "endpoint", "health"], capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, ETCDCTL_API="3"))
        return r.returncode == 0 and (r.stdout + r.stderr).count("is healthy") == 3

    def _config(self, n):
        nd = os.path.join(self.dir, n)
        return {
            "scope": self.scope, "namespace": "/anycst-test/", "name": n,
            "log": {"level": "INFO"},
            "restapi": {"listen": "127.0.0.1:%d" % self.rest_port[n],
                        "connect_address": "127.0.0.1:%d" % self.rest_port[n]},
            "etcd3": {"hosts": ["127.0.0.1:%d" % self.etcd_client[m] for m in self.names]},
            "bootstrap": {
                "dcs": {"ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                        "maximum_lag_on_failover": 1048576, "synchronous_mode": True,
                        "postgresql": {"use_pg_rewind": False, "use_slots": True,
                                       "parameters": {"max_connections": 100,
                                                      "wal_keep_size": "128MB"}}},
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
                "pg_hba": ["local all all trust", "host all all 127.0.0.1/32 trust",
                           "host replication all 127.0.0.1/32 trust"],
            },
            "postgresql": {
                "listen": "127.0.0.1:%d" % self.pg_port[n],
                "connect_address": "127.0.0.1:%d" % self.pg_port[n],
                "data_dir": os.path.join(nd, "data"), "bin_dir": PGBIN,
                "pgpass": os.path.join(nd, "pgpass"),
                "authentication": {"replication": {"username": self.user, "password": "x"},
                                   "superuser": {"username": self.user, "password": "x"}},
                # the machine does not crash, only processes die: the page cache keeps
                # what was written (as the other PostgreSQL fixtures)
                "parameters": {"unix_socket_directories": nd, "fsync": "off",
                               "shared_buffers": "32MB"},
            },
        }

    def _start_patroni(self, n):
        nd = os.path.join(self.dir, n)
        os.makedirs(nd, exist_ok=True)
        cfg = os.path.join(nd, "patroni.yml")
        with open(cfg, "w") as f:
            json.dump(self._config(n), f)   # YAML reads JSON
        if self.kw:
            os.chown(nd, self.kw["user"], self.kw["group"])
            os.chown(cfg, self.kw["user"], self.kw["group"])
        log = open(os.path.join(self.dir, "patroni-%s.log" % n), "a")
        self.patroni[n] = subprocess.Popen(["patroni", cfg], stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, cwd=nd, **self.kw)
        log.close()
        STARTED.append(("patroni", os.path.join(self.dir, "patroni-%s.log" % n)))

    def postmaster(self, n):
        """The PID of node n's postmaster (Patroni starts it detached: not its child)."""
        try:
            with open(os.path.join(self.dir, n, "data", "postmaster.pid")) as f:
                pid = int(f.readline())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except (OSError, ValueError):
            return None
        return pid if os.path.join(self.dir, n, "data").encode() in cmd else None

    def stop(self):
        for n in self.names:
            _stop_proc(self.patroni.get(n), timeout=30)
            pid = self.postmaster(n)   # left over when Patroni could not stop it
            if pid is not None:
                os.kill(pid, signal.SIGINT)
                deadline = time.monotonic() + 20
                while self.postmaster(n) == pid and time.monotonic() < deadline:
                    time.sleep(0.1)
                for k in [pid] + descendants(pid):
                    try:
                        os.kill(k, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for n in self.names:
            _stop_proc(self.etcd.get(n))

    def kill_node(self, n, also=()):
        """The loss of node n's machine: SIGSTOP of its Patroni, its postmaster,
        every process under them and the PIDs `also` (the node's other
        daemons), then SIGKILL of them all, so that none outlives the others.
        (the PIDs, the time.monotonic() at which all were stopped)."""
        p = self.patroni[n]
        pm = self.postmaster(n)
        pids = [p.pid] + descendants(p.pid) + list(also)
        if pm is not None:
            pids += [pm] + descendants(pm)
        t = None
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            t = t or time.monotonic()
        p.wait(10)
        return pids, t

    # -- state ----------------------------------------------------------------
    def _wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %d s waiting for %s; cluster: %s"
                                     % (timeout, what, self.members()))
            time.sleep(0.2)

    def rest(self, n, path, body=None, timeout=5):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.rest_port[n], path),
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def members(self):
        """Patroni's /cluster members as seen by any node that answers."""
        for n in self.names:
            if self.patroni.get(n) is None or self.patroni[n].poll() is not None:
                continue
            try:
                st, body = self.rest(n, "/cluster", timeout=2)
            except OSError:
                continue
            if st == 200:
                return json.loads(body).get("members", [])
        return []

    def role(self, role):
        for m in self.members():
            if m.get("role") == role and m.get("state") in ("running", "streaming"):
                return m["name"]
        return None

    def leader(self):
        return self.role("leader")

    def sync_standby(self):
        return self.role("sync_standby")

    def healthy(self, want=3):
        ms = self.members()
        lead = [m for m in ms if m.get("role") == "leader" and m.get("state") == "running"]
        sync = [m for m in ms if m.get("role") == "sync_standby" and
                m.get("state") in ("running", "streaming")]
        rest = [m for m in ms if m.get("role") == "replica" and
                m.get("state") in ("running", "streaming")]
        return len(lead) == 1 and len(sync) == 1 and len(lead) + len(sync) + len(rest) == want

    def wait_healthy(self, timeout=120, want=3):
        """A leader, a sync standby named and (with want=3) the third node a replica."""
        self._wait(lambda: self.healthy(want), timeout, "a healthy cluster")

    def switchover(self, candidate, timeout=60):
        """Planned switchover to `candidate` through the leader's REST API."""
        lead = self.leader()
        st, body = self.rest(lead, "/switchover", {"leader": lead, "candidate": candidate},
                             timeout=timeout)
        assert st == 200, (st, body)
        return body

    # -- SQL ------------------------------------------------------------------
    def url(self, db, nodes=None):
        hosts = ",".join("127.0.0.1:%d" % self.pg_port[n] for n in nodes or self.names)
        return ("postgresql://%s/%s?user=%s&target_session_attrs=read-write&connect_timeout=2"
                % (hosts, db, self.user))

    def psql(self, sql, db="postgres", timeout=10):
        """`sql` on the leader.  libpq stops at a host that refuses the login (a
        replica that has not replayed CREATE DATABASE yet): then each host alone."""
        err = ""
        for nodes in [None] + [[n] for n in self.names]:
            r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                self.url(db, nodes), "-c", sql],
                               capture_output=True, text=True, timeout=timeout)
            if r.returncode == 0:
                return r.stdout
            err = r.stderr.strip()
            if "FATAL" not in err and "connection to server" not in err:
                break   # an error of the SQL, not of the connection
        raise RuntimeError("psql: " + err)

    def psql_start(self, sql, db):
        """psql running `sql` through the multi-host URL, not waited for (a Popen)."""
        return subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url(db), "-c",
                                 sql], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)

    def psql_write(self, db):
        """One INSERT (a synchronous commit) through the multi-host URL: True when it committed."""
        try:
            self.psql("INSERT INTO probe VALUES (now())", db=db, timeout=8)
            return True
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
