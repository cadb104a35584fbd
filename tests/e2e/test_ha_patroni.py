"""The primary survives the loss of its machine (issue 19's HA acceptance):
three nodes on loopback, each an etcd member, a Patroni node (PostgreSQL 15,
synchronous_mode: true, ttl 10 s) and an anycst-primary on 127.0.0.N whose
--db is the multi-host URL with target_session_attrs=read-write; the three
primaries start at once on the empty database.  A POP (anycst-secondary)
follows all three; 4 clients PATCH continuously, each 204 adding a name of
its own, moving to the next node when theirs fails; the POP is queried all
along.  A planned switchover (Patroni's REST API) to the sync standby, then
SIGKILL of the new leader node's Patroni, its postgres and its
anycst-primary, by PID.

Asserted: every 204's name is in the zone afterwards, the journal's serials
strictly increase with no gap, the POP serves the first write acknowledged
after each event within 2 s and the last one at the end, and no DNS query
to the POP went unanswered; before the writes, both ends of every
connection between a node and PostgreSQL have TCP keepalives of seconds
(ss).  Printed: the longest gap between writes
through anycst beside that of PostgreSQL itself (psql INSERTs through the
same URL) for the switchover, and from the kill until each takes a write.
"""
import json
import os
import re
import shutil
import subprocess
import threading
import time

import dns.exception
import dns.rcode
import dns.rdatatype
import pytest

from anycst_e2e import (KEY_NAME, KEY_SECRET, Primary, Secondary, TmpDir, assert_san_clean,
                        free_port, wait_until)
from anycst_e2e.patroni import TTL, HaCluster

ZONE = "ha.test."
CLIENTS = 4
POP_FRESH_S = 2.0


def _tools_present():
    return all(shutil.which(t) for t in ("patroni", "etcd", "etcdctl", "psql"))


class Writers:
    """CLIENTS threads PATCHing ZONE: each 204 adds the name w<client>-<n> (an A
    record); a failed request (an error status or no answer) moves the client
    to the next node.  Every attempt is recorded."""

    def __init__(self, nodes):
        self.nodes = nodes           # anycst Primary objects (a killed one stays listed)
        self.stop = threading.Event()
        self.mu = threading.Lock()
        self.acked = []              # (t_done, name, address, node, t_sent)
        self.failed = []             # (t_done, status or exception text, node)
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
            assert not t.is_alive(), "a writer did not stop"

    def run(self, c):
        node = c % len(self.nodes)
        n = 0
        while not self.stop.is_set():
            p = self.nodes[node]
            name = "w%d-%d.%s" % (c, n, ZONE)
            addr = "10.%d.%d.%d" % (c, n // 256 % 256, n % 256)
            rr = [{"name": name, "type": "A", "ttl": 60, "changetype": "REPLACE",
                   "records": [{"content": addr, "disabled": False}]}]
            t0 = time.monotonic()
            try:
                st, _, body = p.call("PATCH", "/zones/" + ZONE, {"rrsets": rr})
            except OSError as e:
                st, body = None, str(e).encode()
            now = time.monotonic()
            with self.mu:
                if st == 204:
                    self.acked.append((now, name, addr, node, t0))
                else:
                    self.failed.append((now, st, body[:200], node))
            n += 1
            if st != 204:
                node = (node + 1) % len(self.nodes)
                time.sleep(0.1)
            else:
                time.sleep(0.05)

    def first_after(self, t):
        """The first 204 to a request sent after `t`."""
        with self.mu:
            later = [a for a in self.acked if a[4] > t]
        return min(later) if later else None

    def failures(self):
        """The failed requests counted by what they got."""
        out = {}
        with self.mu:
            for _, st, body, _ in self.failed:
                if st is None:
                    what = body.decode(errors="replace")[:40]
                else:
                    what = "%d %s" % (st, body[:50].decode(errors="replace"))
                out[what] = out.get(what, 0) + 1
        return out

    def longest_gap(self, t0, t1):
        """The longest time without a 204 between t0 and t1 (the ends included)."""
        with self.mu:
            ts = sorted(a[0] for a in self.acked if t0 <= a[0] <= t1)
        pts = [t0] + ts + [t1]
        return max(b - a for a, b in zip(pts, pts[1:]))


class Prober(threading.Thread):
    """PostgreSQL's own availability for writes: every 0.25 s a psql INSERT (a
    synchronous commit) through the multi-host URL, started whether or not the
    last one finished (at most 8 at once), the (sent, committed) times kept."""

    def __init__(self, ha):
        super().__init__(daemon=True)
        self.ha = ha
        self.ok = []           # commit times
        self.sent_ok = []      # (commit time, send time)
        self.halt = threading.Event()

    def run(self):
        running = []
        while not self.halt.is_set() or running:
            for p, t0 in running[:]:
                if p.poll() is not None:
                    running.remove((p, t0))
                    if p.returncode == 0:
                        now = time.monotonic()
                        self.ok.append(now)
                        self.sent_ok.append((now, t0))
                elif time.monotonic() - t0 > 10 or self.halt.is_set():
                    p.kill()
                    p.wait()
                    running.remove((p, t0))
            if not self.halt.is_set() and len(running) < 8:
                try:
                    running.append((self.ha.psql_start("INSERT INTO probe VALUES (now())",
                                                       "probe"), time.monotonic()))
                except OSError:
                    pass   # a psql that did not start is a probe lost, not a failure
            time.sleep(0.25)

    def first_after(self, t):
        """The commit time of the first INSERT sent after `t`."""
        later = [c for c, t0 in self.sent_ok if t0 > t]
        return min(later) if later else None

    def longest_gap(self, t0, t1):
        ts = sorted(x for x in self.ok if t0 <= x <= t1)
        pts = [t0] + ts + [t1]
        return max(b - a for a, b in zip(pts, pts[1:]))


class DnsWatch(threading.Thread):
    """The POP's SOA over UDP every 50 ms; every query unanswered within 2 s or
    answered with an error rcode kept."""

    def __init__(self, pop):
        super().__init__(daemon=True)
        self.pop = pop
        self.count = 0
        self.bad = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                r = self.pop.query(ZONE, "SOA", timeout=2.0)
                if r.rcode() != dns.rcode.NOERROR:
                    self.bad.append((time.monotonic(), dns.rcode.to_text(r.rcode())))
            except (dns.exception.Timeout, OSError) as e:
                self.bad.append((time.monotonic(), repr(e)))
            self.count += 1
            self.halt.wait(0.05)


def pop_has(pop, name, addr):
    try:
        r = pop.query(name, "A", timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return False
    return any(rd.to_text() == addr for rrset in r.answer
               if rrset.rdtype == dns.rdatatype.A for rd in rrset)


def pop_fresh_after(w, pop, t):
    """Seconds from the first 204 after `t` until the POP serves its name."""
    first = wait_until(lambda: w.first_after(t), 60, step=0.05, what="a write acknowledged")
    t_ack, name, addr = first[:3]
    wait_until(lambda: pop_has(pop, name, addr), 10, step=0.02, what="the POP serving " + name)
    return time.monotonic() - t_ack, t_ack


def start_primaries(tmp, url, pop_port):
    """The three anycst-primary processes, started at once on the empty database."""
    out, errs = [None] * 3, []

    def one(i):
        d = os.path.join(tmp, "anycst-%d" % (i + 1))
        os.makedirs(d)
        try:
            p = Primary(d, host="127.0.0.%d" % (i + 1), db=url,
                        notify=["127.0.0.1:%d" % pop_port],
                        extra=["--journal-keep", "1000000"])
            p.timeout = 15
            out[i] = p
        except Exception as e:   # noqa: BLE001 (reported below)
            errs.append(e)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    if errs:
        for p in out:
            if p is not None:
                p.stop()
        raise errs[0]
    return out


def _keepalive_s(line):
    """The keepalive timer of an `ss -o` line in seconds, or None."""
    m = re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:([\d.]+)sec)?(?:(\d+)ms)?", line)
    if not m:
        return None
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0) + int(m.group(3) or 0) / 1000


def check_keepalives(ha, nodes):
    """A lost machine sends no RST: every connection between an anycst-primary
    and PostgreSQL has TCP keepalives of seconds on both ends (libpq's on the
    node's side, tcp_keepalives_* on the server's), so a dead server is left
    and a dead node's sessions (its row locks, its notifier lock) are dropped
    in seconds, not hours.  `ss` shows one timer a socket: while data is in
    flight it is the retransmission timer (`timer:(on,...)`), so such a
    socket is sampled again (up to 20 times, 0.1 s apart); one with no timer
    at all, or a keepalive over 5.5 s, fails at once."""
    pg_ports = {str(p) for p in ha.pg_port.values()}
    pids = {"pid=%d," % p.proc.pid for p in nodes}
    ours, unseen = None, None
    for _ in range(20):
        out = subprocess.run(["ss", "-tnpoH"], capture_output=True, text=True,
                             timeout=20).stdout
        lines = [line for line in out.splitlines() if len(line.split()) >= 5]
        node_side = {}
        for line in lines:
            f = line.split()
            if f[4].rsplit(":", 1)[1] in pg_ports and any(p in line for p in pids):
                node_side[f[3]] = line
        # the other end: its peer is the node's end and it is the node's peer (one
        # ephemeral port may be in two connections at once, e.g. one to etcd)
        server_side = {line.split()[4]: line for line in lines
                       if line.split()[4] in node_side and
                       line.split()[3] == node_side[line.split()[4]].split()[4]}
        if ours is None:
            ours = set(node_side)
            assert len(ours) >= 2 * len(nodes), (ours, out)
            assert set(server_side) == ours, (ours, server_side)
            unseen = {(side, addr) for addr in ours for side in ("node", "server")}
        for side, table in (("node", node_side), ("server", server_side)):
            for addr, line in table.items():
                if (side, addr) not in unseen:
                    continue
                t = _keepalive_s(line)
                if t is not None:
                    assert t <= 5.5, ("a %s's side with keepalives of %.1f s" % (side, t), line)
                    unseen.discard((side, addr))
                else:
                    assert "timer:(" in line, ("a %s's side without keepalives" % side, line)
        # a connection closed meanwhile is not looked for again
        unseen = {(side, addr) for side, addr in unseen if addr in node_side}
        if not unseen:
            return
        time.sleep(0.1)
    assert not unseen, ("never seen with keepalives (always data in flight)", unseen)


def keep_logs(tmp):
    """With ANYCST_KEEP_LOGS=DIR, a failed run's logs are copied there."""
    dest = os.environ.get("ANYCST_KEEP_LOGS")
    if not dest:
        return
    for root, _, files in os.walk(tmp):
        for f in files:
            if f.endswith(".log"):
                rel = os.path.relpath(os.path.join(root, f), tmp).replace("/", "_")
                os.makedirs(dest, exist_ok=True)
                shutil.copy(os.path.join(root, f), os.path.join(dest, rel))


def check_journal(p, acked):
    st, _, body = p.journal(ZONE)
    assert st == 200, body
    j = json.loads(body)
    entries = j["entries"] if isinstance(j, dict) else j
    prev = None
    for e in entries:
        assert e["serial_to"] > e["serial_from"], e
        if prev is not None:
            assert e["serial_from"] == prev["serial_to"], ("a gap or fork in the journal",
                                                           prev, e)
        prev = e
    assert len(entries) >= len(acked), (len(entries), len(acked))
    return entries


def check_names(p, acked):
    z = p.json("GET", "/zones/" + ZONE, expect=200)
    have = {}
    for rrset in z["rrsets"]:
        if rrset["type"] == "A":
            have[rrset["name"]] = {r["content"] for r in rrset["records"]}
    lost = [(a[1], a[2]) for a in acked if a[2] not in have.get(a[1], ())]
    assert not lost, "%d acknowledged changes lost, e.g. %s" % (len(lost), lost[:5])


@pytest.mark.skipif(os.environ.get("ANYCST_DB") == "pg",
                    reason="brings its own PostgreSQL cluster: runs once, in make e2e")
def test_ha_patroni():
    assert _tools_present(), "patroni, etcd, etcdctl and psql are needed: make deps"
    t_begin = time.monotonic()
    nodes, pop, w, prober, watch = [], None, None, None, None
    with TmpDir("anycst-e2e-ha-") as tmp, HaCluster(tmp) as ha:
        try:
            ha.wait_healthy()
            ha.psql("CREATE DATABASE anycst")
            ha.psql("CREATE DATABASE probe")
            ha.psql("CREATE TABLE probe (t timestamptz)", db="probe")
            pop_port = free_port()
            nodes = start_primaries(tmp, ha.url("anycst"), pop_port)
            check_keepalives(ha, nodes)
            # node i of anycst is Patroni's n<i+1>: they share the "machine"
            p0 = nodes[0]
            p0.api("POST", "/tsigkeys", {"name": KEY_NAME, "algorithm": "hmac-sha256",
                                         "key": KEY_SECRET})
            p0.add_zone(ZONE, keys=[KEY_NAME])
            pop = Secondary(tmp, p0.xfr_port, zones=[ZONE], port=pop_port,
                            extra=["--log-level", "info"])
            i = pop.args.index("--primary")
            pop.args[i + 1] = ",".join(p.xfr_addr for p in nodes)
            pop.start()
            s0 = p0.serial(ZONE)
            wait_until(lambda: pop.serial(ZONE) == s0, 20, what="the POP's first transfer")

            watch = DnsWatch(pop)
            watch.start()
            prober = Prober(ha)
            prober.start()
            w = Writers(nodes)
            w.start()
            wait_until(lambda: len(w.acked) >= 40, 60, what="writes flowing")

            # -- a planned switchover to the sync standby
            lead, cand = ha.leader(), ha.sync_standby()
            assert lead and cand, ha.members()
            t_sw = time.monotonic()
            ha.switchover(cand)
            t_sw_done = time.monotonic()
            fresh_sw, t_sw_ack = pop_fresh_after(w, pop, t_sw_done)
            wait_until(lambda: ha.healthy(3), 90, step=0.2, what="a sync standby again")
            t_calm = time.monotonic()
            wait_until(lambda: w.first_after(t_calm + 3), 30, what="writes after the switchover")
            sw_anycst = w.longest_gap(t_sw, t_sw_done + 5)
            sw_pg = prober.longest_gap(t_sw, t_sw_done + 5)

            # -- the new leader's machine is lost
            victim = ha.leader()
            assert victim == cand, (victim, cand)
            vi = ha.names.index(victim)
            killed, t_kill = ha.kill_node(victim, also=[nodes[vi].proc.pid])
            nodes[vi].kill()   # reaped
            fresh_kill, t_resume = pop_fresh_after(w, pop, t_kill)
            t_pg = wait_until(lambda: prober.first_after(t_kill), 60, what="psql writes again")
            kill_anycst = t_resume - t_kill
            kill_pg = t_pg - t_kill
            wait_until(lambda: ha.healthy(2), 60, step=0.2, what="a sync standby among the two")
            t_calm = time.monotonic()
            wait_until(lambda: w.first_after(t_calm + 3), 30, what="writes after the failover")
            w.join()
            for t in (prober, watch):
                t.halt.set()
                t.join(20)
            report(nodes, pop, w, watch, t_begin, figures=dict(
                lead=lead, cand=cand, sw_took=t_sw_done - t_sw, sw_anycst=sw_anycst, sw_pg=sw_pg,
                fresh_sw=fresh_sw, victim=victim, killed=len(killed), kill_anycst=kill_anycst,
                kill_pg=kill_pg, fresh_kill=fresh_kill))
            for p in nodes:
                p.stop()
                assert_san_clean(p.log())
        except BaseException:
            if w is not None:
                with w.mu:
                    print("\nwriters: %d acknowledged; the last failures: %s"
                          % (len(w.acked), w.failed[-12:]))
            print("cluster:", ha.members())
            keep_logs(tmp)
            raise
        finally:
            if w is not None:
                w.stop.set()
            for t in (prober, watch):
                if t is not None:
                    t.halt.set()
            if pop is not None and pop.proc is not None:
                pop.stop()
            for p in nodes:
                if p is not None:
                    p.stop()


def report(nodes, pop, w, watch, t_begin, figures):
    """The assertions after the writers stopped, and the figures printed."""
    f = figures
    live = [p for p in nodes if p.alive()]
    assert len(live) == 2
    last = live[0].serial(ZONE)
    assert live[1].serial(ZONE) == last
    t_last = time.monotonic()
    wait_until(lambda: pop.serial(ZONE) == last, POP_FRESH_S + 5, step=0.02,
               what="the POP at the last serial")
    fresh_end = time.monotonic() - t_last
    check_names(live[0], w.acked)
    entries = check_journal(live[0], w.acked)
    assert entries[-1]["serial_to"] == last

    print("\nHA (Patroni synchronous_mode, ttl %d s): %d writes acknowledged, %d refused or "
          "unanswered, %d journal entries, %d DNS queries to the POP unanswered of %d"
          % (TTL, len(w.acked), len(w.failed), len(entries), len(watch.bad), watch.count))
    print("failed requests:", w.failures())
    print("switchover %s -> %s: Patroni took %.1f s; longest write pause: anycst %.1f s, "
          "PostgreSQL (psql) %.1f s; POP fresh %.2f s after the first write"
          % (f["lead"], f["cand"], f["sw_took"], f["sw_anycst"], f["sw_pg"], f["fresh_sw"]))
    print("SIGKILL of %s (%d PIDs: Patroni, postgres, anycst-primary): writes unavailable: "
          "anycst %.1f s, PostgreSQL (psql) %.1f s; POP fresh %.2f s after the first write; at the end "
          "%.2f s; whole test %.0f s"
          % (f["victim"], f["killed"], f["kill_anycst"], f["kill_pg"], f["fresh_kill"], fresh_end,
             time.monotonic() - t_begin))
    assert not watch.bad, ("DNS answers from the POP stopped", watch.bad[:5])
    assert f["fresh_sw"] <= POP_FRESH_S, f["fresh_sw"]
    assert f["fresh_kill"] <= POP_FRESH_S, f["fresh_kill"]
    assert fresh_end <= POP_FRESH_S, fresh_end
    # anycst takes writes within a few seconds of PostgreSQL doing so
    assert f["kill_anycst"] <= f["kill_pg"] + 5, f
    assert f["sw_anycst"] <= f["sw_pg"] + 5, f
