"""XoQ between the real daemons under packet loss: anycst-primary in one
network namespace, anycst-secondary in another, joined by veth, nftables
dropping a random 5% (then 20%) of packets in each direction.  The
100,000-record AXFR over QUIC completes, and the zone the secondary then
serves (from its persisted state, restarted on loopback) equals the
primary's export."""
import os
import re
import signal
import subprocess
import time

import pytest

from anycst_e2e import quic as qu
from anycst_e2e import (BIN, Primary, Secondary, TmpDir, free_port, primary_argv, stop_pid,
                         tsig_file_args, wait_until)
from anycst_e2e import xoq as xu

pytestmark = pytest.mark.skipif(not qu.netns_possible(),
                                reason="needs root, ip netns and nftables")

ZONE = "big.test."


@pytest.fixture(scope="module")
def prepared():
    """A database holding the 100,000-record zone and a TSIG key, made once
    through the API on loopback; each test then starts the primary on it
    inside a namespace."""
    with TmpDir() as tmp:
        p = Primary(tmp)
        try:
            secret = p.add_key(xu.KEY)
            xu.create_zone_text(p, ZONE, xu.big_zone_text(ZONE, 100000))
            pin = xu.pin_of(p)
            export = p.export(ZONE)
        finally:
            p.stop()
        yield tmp, secret, pin, export


@pytest.fixture
def pair():
    p = qu.NetnsPair()       # veth with gso_max_segs 1: wire-sized packets at nftables
    yield p
    p.close()


@pytest.mark.parametrize("loss", [5, 20])
def test_xoq_100k_axfr_under_loss(prepared, pair, loss):
    src, secret, pin, export = prepared
    with TmpDir() as tmp:
        # the primary, in namespace a, on a copy of the prepared database
        for f in ("anycst.db", "tls.key", "api.key"):
            subprocess.run(["cp", "-p", os.path.join(src, f), os.path.join(tmp, f)], check=True)
        plog = open(os.path.join(tmp, "primary.log"), "w")
        prim = subprocess.Popen(
            ["ip", "netns", "exec", pair.a] +
            primary_argv(tmp, "127.0.0.1:%d" % free_port(), "%s:5300" % pair.addr_a,
                         "%s:8853" % pair.addr_a), stdout=plog, stderr=subprocess.STDOUT)
        sec = None
        slog_path = os.path.join(tmp, "sec.log")
        try:
            wait_until(lambda: "QUIC listening on %s:8853, SPKI pin %s" % (pair.addr_a, pin)
                       in open(plog.name).read(), 10, what="primary in namespace a")
            pair.set_loss(loss)
            slog = open(slog_path, "w")
            t0 = time.monotonic()
            sec = subprocess.Popen(
                ["ip", "netns", "exec", pair.b, os.path.join(BIN, "anycst-secondary"),
                 "--primary", "%s:8853" % pair.addr_a, "--pin", pin,
                 *tsig_file_args(tmp, xu.KEY, secret), "--zone", ZONE,
                 "--listen", "%s:5353" % pair.addr_b, "--state-dir", os.path.join(tmp, "state"),
                 "--workers", "1"], stdout=slog, stderr=subprocess.STDOUT)
            done = "info: [%s] zone transfer, completed successfully" % ZONE

            def finished():
                text = open(slog_path).read()
                assert sec.poll() is None, text
                return done in text
            wait_until(finished, 75, step=0.2, what="AXFR over QUIC at %d%% loss" % loss)
            took = time.monotonic() - t0
            text = open(slog_path).read()
            assert "info: [%s] zone transfer, incoming AXFR over QUIC from %s" % (
                ZONE, pair.addr_a) in text, text
            assert re.search(r"completed successfully, serial 1, AXFR", text), text
            print("100,000 records over QUIC at %d%% loss: %.1f s" % (loss, took))
        finally:
            stop_pid(sec)
            pair.set_loss(0)
            stop_pid(prim)
            plog.close()
        ptext = open(plog.name).read()
        assert "outgoing AXFR over QUIC to %s@" % pair.addr_b in ptext
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert bad not in ptext and bad not in open(slog_path).read()
        # what the secondary persisted, served on loopback (no primary reachable)
        local = Secondary(tmp, free_port(), zones=[ZONE], tsig=False, name="reader",
                          extra=["--state-dir", os.path.join(tmp, "state")])
        i = local.args.index("--state-dir")
        del local.args[i:i + 2]         # the state dir of the namespaced secondary instead
        local.start()
        try:
            wait_until(lambda: local.serial(ZONE) == 1, 10, what="persisted zone served")
            assert xu.assert_serves_export(local, export) == 99998
        finally:
            local.stop()
