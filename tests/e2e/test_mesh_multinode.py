"""POP registration with several primary nodes on one PostgreSQL (issue 19
item 4), root only: two anycst-primary nodes (10.77.N.1 and 10.77.N.3, one
database schema) in namespace a, the POP in namespace b at the mesh address
the registration gave it (10.77.N.2: nodes' addresses are never handed out),
joined by veth (anycst_e2e.quic.NetnsPair), so that the POP's transfers come
from its own mesh address as on a real mesh.

Checks: the registration on node A lists both nodes (a [Peer] each, the
command with --primary and --pin listing both); node B, never restarted,
shows the same and accepts the POP's key (transfers from the POP's address,
refused from another), and forgets it when A retires it; the secondary
started with the returned command serves changes made on either node, and
after node A stops, node B's changes (B takes the notifier lock and
NOTIFYs); node A, gone for good, removed on node B (DELETE /mesh/nodes/A),
after which B's answers list B alone.
"""
import base64
import contextlib
import os
import shlex
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import pytest

from anycst_e2e import (BIN, STARTED, assert_san_clean, Primary, TmpDir, free_port, pg_database, setns, stop_pid,
                        wait_until, write_secret)
from anycst_e2e.quic import NetnsPair, netns_possible

ZONE = "multi.example."
PUB = base64.b64encode(b"\x07" * 31 + b"\0").decode()


@contextlib.contextmanager
def inside(ns):
    """Sockets and processes made in this block live in namespace `ns`."""
    me = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        setns(ns)
        yield
    finally:
        setns(me)
        os.close(me)


def axfr_rcode(server, port, keyname, secret, source):
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(dns.tsigkeyring.from_text({keyname: secret}), keyname=keyname,
               algorithm="hmac-sha256")
    try:
        return dns.query.tcp(q, server, port=port, timeout=5, source=source).rcode()
    except Exception as e:   # noqa: BLE001 - a refusal may come unsigned
        return type(e).__name__


def pop_serial(ip, port):
    q = dns.message.make_query(ZONE, "SOA")
    try:
        r = dns.query.udp(q, ip, port=port, timeout=0.5)
    except Exception:   # noqa: BLE001 - not up yet
        return None
    return r.answer[0][0].serial if r.rcode() == dns.rcode.NOERROR and r.answer else None


def patch_txt(p, value):
    p.patch(ZONE, [{"name": "t." + ZONE, "type": "TXT", "ttl": 60, "changetype": "REPLACE",
                    "records": [{"content": '"%s"' % value, "disabled": False}]}])
    return p.serial(ZONE)


@pytest.fixture
def lab():
    if not netns_possible():
        pytest.skip("needs root, ip and nft (network namespaces)")
    if not os.path.exists(os.path.join(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"),
                                       "postgres")) and not os.environ.get("ANYCST_TEST_PG"):
        pytest.skip("PostgreSQL 15 is not installed (make deps)")
    url = pg_database()
    pair = NetnsPair()
    try:
        veth = subprocess.run(["ip", "-n", pair.a, "-o", "link", "show", "type", "veth"],
                              check=True, capture_output=True, text=True).stdout
        dev = veth.split(":")[1].strip().split("@")[0]
        node_b = pair.addr_a.rsplit(".", 1)[0] + ".3"
        subprocess.run(["ip", "-n", pair.a, "addr", "add", node_b + "/24", "dev", dev],
                       check=True)
        with TmpDir() as d:
            yield pair, node_b, url, d
    finally:
        pair.close()


def start_node(d, name, host, url, net):
    wd = os.path.join(d, name)
    os.makedirs(wd)
    return Primary(wd, host=host, db=url, extra=["--mesh-net", net, "--mesh-ip", host])


def start_pop(d, reg, ns):
    argv = shlex.split(reg["command"])
    assert argv[0] == "anycst-secondary"
    argv[0] = os.path.join(BIN, "anycst-secondary")
    i = argv.index("--tsig-file")
    assert argv[i + 1] == reg["tsig_file"]
    argv[i + 1] = write_secret(os.path.join(d, "pop.tsig"), reg["tsig_file_content"])
    log_path = os.path.join(d, "pop.log")
    argv += ["--state-dir", os.path.join(d, "pop-state"), "--log-level", "debug"]
    with open(log_path, "a") as log:
        # `ip netns exec` execs the daemon: the PID is the secondary's
        proc = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    STARTED.append(("anycst-secondary", log_path))
    return proc, log_path


def test_pop_registration_lists_every_node(lab):
    pair, node_b_ip, url, d = lab
    net = pair.addr_a.rsplit(".", 1)[0] + ".0/24"
    a = b = pop = None
    with inside(pair.a):
        try:
            a = start_node(d, "a", pair.addr_a, url, net)
            b = start_node(d, "b", node_b_ip, url, net)
            a.create_zone(ZONE)
            pins = {p.host: p.json("GET", "", expect=200)["quic_spki_pin"] for p in (a, b)}
            assert pins[a.host] != pins[b.host]

            reg = a.json("POST", "/secondaries", {"name": "edge1", "endpoint": "192.0.2.9:51820",
                                                  "public_key": PUB, "dns_port": free_port()},
                          expect=201)
            # the nodes' addresses are never a POP's: host 2 is the first free one
            assert reg["mesh_ip"] == pair.addr_b, reg
            nodes = {n["mesh_ip"]: n for n in reg["primaries"]}
            assert sorted(nodes) == sorted([a.host, b.host]), reg["primaries"]
            for p in (a, b):
                assert nodes[p.host]["quic_pin"] == pins[p.host]
                assert nodes[p.host]["quic_port"] == p.quic_port
                assert nodes[p.host]["xfr_port"] == p.xfr_port
            conf = reg["wireguard_config"]
            assert conf.count("[Peer]") == 2, conf
            for p in (a, b):
                assert "AllowedIPs = %s/32\n" % p.host in conf
            cmd = shlex.split(reg["command"])
            first, second = sorted([a, b], key=lambda p: p.host)
            assert cmd[cmd.index("--primary") + 1] == "%s:%d,%s:%d" % (
                first.host, first.quic_port, second.host, second.quic_port)
            assert cmd[cmd.index("--pin") + 1] == "%s,%s" % (pins[first.host], pins[second.host])
            assert cmd[cmd.index("--primary-tcp") + 1] == "%s:%d,%s:%d" % (
                first.host, first.xfr_port, second.host, second.xfr_port)
            assert cmd[cmd.index("--listen") + 1] == "%s:%d" % (reg["mesh_ip"], reg["dns_port"])

            # node B took the POP up without a restart: its GET shows the same nodes and
            # command, and it accepts the POP's key from the POP's address only
            def b_knows():
                st, _, _ = b.call("GET", "/secondaries/edge1")
                return st == 200
            wait_until(b_knows, 15, what="node B knowing POP edge1")
            one = b.json("GET", "/secondaries/edge1", expect=200)
            assert sorted(n["mesh_ip"] for n in one["primaries"]) == sorted([a.host, b.host])
            assert one["command"] == reg["command"]
            assert "tsig_secret" not in one
            with inside(pair.b):
                assert axfr_rcode(b.host, b.xfr_port, "pop-edge1.", reg["tsig_secret"],
                                  pair.addr_b) == dns.rcode.NOERROR
            assert axfr_rcode(b.host, b.xfr_port, "pop-edge1.", reg["tsig_secret"],
                              pair.addr_a) != dns.rcode.NOERROR
            assert "POP edge1 registered on another node taken up" in b.log()

            # the POP started with the returned command follows both nodes
            pop, pop_log = start_pop(d, reg, pair.b)
            port = reg["dns_port"]
            s1 = patch_txt(a, "from-a")
            wait_until(lambda: pop_serial(pair.addr_b, port) == s1, 30,
                       what="POP serving node A's serial %d" % s1)
            s2 = patch_txt(b, "from-b")
            assert s2 > s1
            wait_until(lambda: pop_serial(pair.addr_b, port) == s2, 30,
                       what="POP serving node B's serial %d" % s2)
            a.stop()
            s3 = patch_txt(b, "a-down")
            wait_until(lambda: pop_serial(pair.addr_b, port) == s3, 45,
                       what="POP serving node B's serial %d with node A down" % s3)
            assert pop.poll() is None, open(pop_log).read()[-2000:]
            # node B took the notifier lock and NOTIFYd the POP it never registered itself
            assert "[%s] notify, outgoing, remote %s@%d, serial %d" % (
                ZONE, pair.addr_b, port, s3) in b.log(), b.log()[-3000:]

            # node A gone for good: removed on node B (B cannot remove itself), the
            # registration lists node B alone
            nodes = b.json("GET", "/mesh/nodes", expect=200)
            assert [(n["mesh_ip"], n["this_node"]) for n in nodes] == sorted(
                [(a.host, False), (b.host, True)])
            st, _, out = b.call("DELETE", "/mesh/nodes/" + b.host)
            assert st == 409 and b"is this node" in out, (st, out)
            st, _, out = b.call("DELETE", "/mesh/nodes/" + a.host)
            assert st == 204, (st, out)
            assert [n["mesh_ip"] for n in b.json("GET", "/mesh/nodes", expect=200)] == [b.host]
            st, _, out = b.call("DELETE", "/mesh/nodes/" + a.host)
            assert st == 404 and b"no primary node" in out, (st, out)
            one = b.json("GET", "/secondaries/edge1", expect=200)
            assert [n["mesh_ip"] for n in one["primaries"]] == [b.host]
            assert one["wireguard_config"].count("[Peer]") == 1
            cmd = shlex.split(one["command"])
            assert cmd[cmd.index("--primary") + 1] == "%s:%d" % (b.host, b.quic_port)

            # retired on node B: node B refuses its key at once
            st, _, _ = b.call("DELETE", "/secondaries/edge1")
            assert st == 204
            with inside(pair.b):
                assert axfr_rcode(b.host, b.xfr_port, "pop-edge1.", reg["tsig_secret"],
                                  pair.addr_b) != dns.rcode.NOERROR

            # clean exits, nothing for the sanitizers (make SAN=1)
            stop_pid(pop)
            assert b.stop() == 0
            for text in (open(pop_log).read(), a.log(), b.log()):
                assert_san_clean(text)
        finally:
            if pop is not None:
                stop_pid(pop)
            for p in (a, b):
                if p is not None and p.alive():
                    p.stop()
