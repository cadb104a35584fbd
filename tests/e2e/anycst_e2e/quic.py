"""Helpers for the XoQ e2e tests: the anycst-doq-test server and client
(tools/anycst-doq-test.c), and a pair of network namespaces joined by veth
with nftables dropping a random share of packets in each direction.

Every process is started here and killed by its own PID; every namespace
and temporary directory is removed afterwards.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from .core import TOOLS

TOOL = os.path.join(TOOLS, "anycst-doq-test")


def run(cmd, timeout=120, ns=None, check=False):
    if ns is not None:
        cmd = ["ip", "netns", "exec", ns] + cmd
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, check=check)


class Server:
    """anycst-doq-test server; .port, .pin; stop() returns its stats dict."""

    def __init__(self, listen="127.0.0.1:0", ns=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="anycst-quic-")
        cmd = [TOOL, "server", "--listen", listen, "--key", os.path.join(self.dir, "tls.key")]
        cmd += list(extra)
        if ns is not None:
            cmd = ["ip", "netns", "exec", ns] + cmd
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"ready port=(\d+) pin=(\S+)", line)
        if not m:
            self.stop()
            raise RuntimeError("server did not start: %r" % line)
        self.port = int(m.group(1))
        self.pin = m.group(2)

    def log(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        stats = {}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
            for line in out.splitlines():
                if line.startswith("stats "):
                    for kv in line.split()[1:]:
                        k, v = kv.split("=")
                        stats[k] = int(v)
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return stats


def get(remote, *args, ns=None, timeout=180):
    """Runs the client; returns (ok, dict of key=value from its line, line)."""
    r = run([TOOL, "get", "--remote", remote] + list(args), timeout=timeout, ns=ns)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
    vals = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return r.returncode == 0 and line.startswith("ok "), vals, line


class NetnsPair:
    """Namespaces a (10.77.N.1) and b (10.77.N.2) joined by veth, `loss` % dropped
    at random on egress in each namespace (nftables numgen)."""

    def __init__(self, loss=0):
        tag = "%d%d" % (os.getpid() % 10000, int(time.monotonic() * 1000) % 1000)
        self.a, self.b = "anyq%sa" % tag, "anyq%sb" % tag
        sub = os.getpid() % 200 + 20
        self.addr_a, self.addr_b = "10.77.%d.1" % sub, "10.77.%d.2" % sub
        va, vb = "vq%sa" % tag, "vq%sb" % tag
        sh = [
            ["ip", "netns", "add", self.a],
            ["ip", "netns", "add", self.b],
            ["ip", "link", "add", va, "type", "veth", "peer", "name", vb],
            ["ip", "link", "set", va, "netns", self.a],
            ["ip", "link", "set", vb, "netns", self.b],
            ["ip", "-n", self.a, "addr", "add", self.addr_a + "/24", "dev", va],
            ["ip", "-n", self.b, "addr", "add", self.addr_b + "/24", "dev", vb],
            ["ip", "-n", self.a, "link", "set", va, "up"],
            ["ip", "-n", self.b, "link", "set", vb, "up"],
            ["ip", "-n", self.a, "link", "set", "lo", "up"],
            ["ip", "-n", self.b, "link", "set", "lo", "up"],
            # wire-sized packets at the nftables hook (no 64 KB GSO aggregates)
            ["ip", "-n", self.a, "link", "set", va, "gso_max_segs", "1"],
            ["ip", "-n", self.b, "link", "set", vb, "gso_max_segs", "1"],
        ]
        try:
            for c in sh:
                subprocess.run(c, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.set_loss(loss)
        except Exception:
            self.close()
            raise

    def set_loss(self, loss):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "loss"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if loss > 0:
                for rule in ("add table inet loss",
                             "add chain inet loss out { type filter hook output priority 0; }",
                             "add rule inet loss out numgen random mod 100 < %d drop" % loss):
                    subprocess.run(["ip", "netns", "exec", ns, "nft", rule], check=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def close(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)


def netns_possible():
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nft") is None:
        return False
    r = subprocess.run(["ip", "netns", "add", "anyqprobe%d" % os.getpid()],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        return False
    subprocess.run(["ip", "netns", "del", "anyqprobe%d" % os.getpid()])
    return True
