"""A real WireGuard mesh in network namespaces, for test_mesh.py and
bench/mesh.sh (root only).

Underlay ("the internet"): a bridge in a hub namespace, one veth pair per
node (primary, POPs, an outsider), addresses in 192.0.2.0/24 that exist only
inside these namespaces.  Mesh(v6=True) builds the same with IPv6 only: the
underlay in 2001:db8:99::/64, the mesh in fd00:53::/64 (--mesh-net), the API
on [::1]; no IPv4 address on any link (`ip ... nodad`: no DAD delay).  Overlay: wireguard-go in each node namespace.
wireguard-go's control socket (/var/run/wireguard/NAME.sock) is shared by all
namespaces, so every interface name carries this process's id.

Sockets are opened inside a namespace with setns(2) on the calling thread
(`with mesh.ns(name):`), so the test talks to the primary's API and to each
POP directly, without spawning a process per query.  Every process is
started here and stopped by its own PID; close() removes the namespaces
(their veths and tunnels go with them) and the temporary directory.
"""
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from .core import BIN, PFX, TOOLS, ApiClient, setns, stop_pid, wait_until, write_api_key, write_secret
from .daemons import primary_argv



def why_not():
    """None when a mesh can be built here, else the reason to skip."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("wireguard-go", "wg", "ip"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


def run(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


class Mesh:
    WG_PORT = 51820

    def __init__(self, npops=3, v6=False):
        self.v6 = v6
        self.UNDERLAY = "2001:db8:99::%x" if v6 else "192.0.2.%d"
        self.UNDERLAY_PFX = 64 if v6 else 24
        self.MESH_NET = "fd00:53::/64" if v6 else "10.53.0.0/24"
        self.primary_ip = "fd00:53::1" if v6 else "10.53.0.1"
        self.api_host = "::1" if v6 else "127.0.0.1"
        self.id = os.getpid() % 100000
        self.tag = "aw%d" % self.id                     # interface names stay under 15 chars
        self.dir = tempfile.mkdtemp(prefix="anycst-mesh-")
        self.procs = []                                  # (name, Popen)
        self.namespaces = []
        self.hub = "anycst%d-hub" % self.id
        self.nodes = {}                                  # name -> {"ns", "ip", "link", "wg"}
        self.client = None
        self.api_key = None
        self.primary = None
        self.npops = npops
        self._self_ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)

    # ---- namespaces ----------------------------------------------------------------
    @contextlib.contextmanager
    def ns(self, node):
        """Sockets made inside this block live in node's namespace."""
        name = self.nodes[node]["ns"] if node in self.nodes else node
        try:
            setns(name)
            yield
        finally:
            setns(self._self_ns)

    def exec_args(self, node, args):
        return ["ip", "netns", "exec", self.nodes[node]["ns"]] + list(args)

    def nsrun(self, node, *args, check=True):
        return run(*self.exec_args(node, args), check=check)

    def _add_ns(self, name):
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def add_node(self, node, host):
        ns = "anycst%d-%s" % (self.id, node)
        self._add_ns(ns)
        idx = len(self.nodes)
        link = "%sh%d" % (self.tag, idx)
        run("ip", "link", "add", "u0", "netns", ns, "type", "veth", "peer", "name", link,
            "netns", self.hub)
        run("ip", "-n", self.hub, "link", "set", link, "master", "br0", "up")
        ip = self.UNDERLAY % host
        run("ip", "-n", ns, "addr", "add", "%s/%d" % (ip, self.UNDERLAY_PFX), "dev", "u0",
            *(["nodad"] if self.v6 else []))
        run("ip", "-n", ns, "link", "set", "u0", "up")
        self.nodes[node] = {"ns": ns, "ip": ip, "link": link, "wg": "%sw%d" % (self.tag, idx)}
        return self.nodes[node]

    def link(self, node, up):
        """Cuts (or restores) node's underlay cable."""
        run("ip", "-n", self.hub, "link", "set", self.nodes[node]["link"], "up" if up else "down")

    def start(self, name, args, cwd=None, node=None):
        logf = open(os.path.join(self.dir, name + ".log"), "a")
        full = self.exec_args(node, args) if node else list(args)
        p = subprocess.Popen(full, stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=cwd or self.dir)
        logf.close()
        self.procs.append((name, p))
        return p

    def log(self, name):
        with open(os.path.join(self.dir, name + ".log"), errors="replace") as f:
            return f.read()

    def stop(self, proc, sig=signal.SIGTERM):
        stop_pid(proc, sig)

    # ---- WireGuard -----------------------------------------------------------------
    def wg_up(self, node):
        n = self.nodes[node]
        env = dict(os.environ, WG_PROCESS_FOREGROUND="1")
        logf = open(os.path.join(self.dir, "wg-%s.log" % node), "a")
        p = subprocess.Popen(self.exec_args(node, ["wireguard-go", "-f", n["wg"]]), stdout=logf,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        logf.close()
        self.procs.append(("wg-" + node, p))
        sock = "/var/run/wireguard/%s.sock" % n["wg"]
        wait_until(lambda: os.path.exists(sock) or p.poll() is not None, 10,
                   what="wireguard-go " + n["wg"])
        assert p.poll() is None, "wireguard-go exited: " + open(
            os.path.join(self.dir, "wg-%s.log" % node)).read()
        return n["wg"]

    def wg_apply(self, node, conf, private_key):
        """Applies a wg-quick config as returned by the API: the private key
        goes in for the placeholder, Address (wg-quick only) becomes `ip addr`."""
        n = self.nodes[node]
        lines, address = [], None
        for line in conf.splitlines():
            key = line.split("=", 1)[0].strip()
            if key == "Address":
                address = line.split("=", 1)[1].strip()
                continue
            if key == "PrivateKey":
                line = "PrivateKey = " + private_key
            lines.append(line)
        path = write_secret(os.path.join(self.dir, "wg-%s.conf" % node), "\n".join(lines) + "\n")
        self.nsrun(node, "wg", "setconf", n["wg"], path)
        self.nsrun(node, "ip", "addr", "add", address, "dev", n["wg"],
                   *(["nodad"] if ":" in address else []))
        self.nsrun(node, "ip", "link", "set", n["wg"], "up")
        return address.split("/")[0]

    @staticmethod
    def genkey():
        priv = run("wg", "genkey").stdout.strip()
        pub = run("wg", "pubkey", input=priv + "\n").stdout.strip()
        return priv, pub

    # ---- the whole picture -----------------------------------------------------------
    def build(self, extra_primary=()):
        self._add_ns(self.hub)
        run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.hub, "link", "set", "br0", "up")
        self.add_node("primary", 1)
        for i in range(self.npops):
            self.add_node("pop%d" % i, 11 + i)
        self.add_node("outside", 99)
        # the primary: its interface, then the daemon applies its key and peers itself
        wg = self.wg_up("primary")
        self.nsrun("primary", "ip", "addr", "add",
                   "%s/%s" % (self.primary_ip, self.MESH_NET.split("/")[1]), "dev", wg,
                   *(["nodad"] if self.v6 else []))
        self.nsrun("primary", "ip", "link", "set", wg, "up")
        priv, self.primary_pub = self.genkey()
        self.primary_priv = priv
        keyfile = write_secret(os.path.join(self.dir, "primary-wg.key"), priv + "\n")
        _, self.api_key = write_api_key(self.dir, prefix="mesh-")
        self.primary = self.start("primary", primary_argv(
            self.dir, self.hostport(self.api_host, 8081), self.hostport(self.primary_ip, 5300),
            self.hostport(self.primary_ip, 8853),
            extra=["--wg-interface", wg, "--wg-private-key", keyfile, "--mesh-net", self.MESH_NET,
                   "--wg-endpoint", self.hostport(self.nodes["primary"]["ip"], self.WG_PORT)]
            + list(extra_primary)), node="primary")
        wait_until(lambda: self._api_up(), 10, step=0.02, what="the primary's API")

    @staticmethod
    def hostport(host, port):
        return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)

    def _api_up(self):
        if self.primary.poll() is not None:
            raise AssertionError("anycst-primary exited:\n" + self.log("primary"))
        try:
            return self.api("GET", "/api", prefix=False)[0] == 200
        except OSError:
            self.close_api()
            return False

    def close_api(self):
        if self.client is not None:
            self.client.close()

    def api(self, method, path, body=None, prefix=True):
        """HTTP to the primary's API on its own loopback (inside its namespace):
        (status, body bytes)."""
        if self.client is None or self.client.key != self.api_key:
            self.client = ApiClient(self.api_host, 8081, self.api_key,
                                    enter=lambda: self.ns("primary"))
        st, _, payload = self.client.call(method, (PFX + path) if prefix else path, body,
                                          prefix=False)
        return st, payload

    @property
    def last_headers(self):
        return self.client.last_headers if self.client else {}

    def curl(self, method, path, body=None):
        """The same through curl, as an operator does: (status, parsed JSON or text)."""
        args = ["curl", "-sSg", "-X", method, "-H", "X-API-Key: " + self.api_key,
                "-w", "\n%{http_code}", "http://%s" % self.hostport(self.api_host, 8081) + PFX + path]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        out = self.nsrun("primary", *args).stdout
        text, status = out.rsplit("\n", 1)
        try:
            return int(status), json.loads(text) if text else None
        except ValueError:
            return int(status), text

    def register_pops(self):
        """Registers every POP with curl and brings up its side with what the API returned."""
        self.pops = {}
        for i in range(self.npops):
            node = "pop%d" % i
            priv, pub = self.genkey()
            st, reg = self.curl("POST", "/secondaries", {
                "name": node, "public_key": pub,
                "endpoint": self.hostport(self.nodes[node]["ip"], self.WG_PORT)})
            assert st == 201, (st, reg)
            self.wg_up(node)
            mesh_ip = self.wg_apply(node, reg["wireguard_config"], priv)
            assert mesh_ip == reg["mesh_ip"]
            reg["private_key"] = priv
            self.pops[node] = reg
        for node, reg in self.pops.items():
            self.start_pop(node)

    def start_pop(self, node):
        reg = self.pops[node]
        argv = shlex.split(reg["command"])
        assert argv[0] == "anycst-secondary"
        argv[0] = os.path.join(BIN, "anycst-secondary")
        wd = os.path.join(self.dir, node)
        os.makedirs(wd, exist_ok=True)
        # the TSIG key goes into the file the command names (here: in the POP's directory)
        i = argv.index("--tsig-file")
        assert argv[i + 1] == reg["tsig_file"], (argv, reg["tsig_file"])
        path = write_secret(os.path.join(wd, os.path.basename(reg["tsig_file"])),
                            reg["tsig_file_content"])
        argv[i + 1] = path
        reg["proc"] = self.start(node, argv, cwd=wd, node=node)

    def serial(self, node, zone, timeout=0.3):
        """SOA serial that POP `node` answers for `zone` (asked inside its namespace), or None."""
        reg = self.pops[node]
        q = dns.message.make_query(zone, "SOA")
        try:
            with self.ns(node):
                r = dns.query.udp(q, reg["mesh_ip"], port=reg["dns_port"], timeout=timeout)
        except (dns.exception.Timeout, OSError):
            return None
        if r.rcode() != dns.rcode.NOERROR:
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def close(self):
        self.close_api()
        for name, p in reversed(self.procs):
            try:
                self.stop(p)
            except Exception:   # noqa: BLE001 - keep cleaning up
                pass
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        for node in self.nodes.values():
            try:
                os.unlink("/var/run/wireguard/%s.sock" % node["wg"])
            except OSError:
                pass
        os.close(self._self_ns)
        shutil.rmtree(self.dir, ignore_errors=True)
