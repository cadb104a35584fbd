"""Issue 13.2: a QUIC POP must not keep a dead connection.  The primary is
killed (SIGKILL) and restarted with the same key: the POP's old connection
is gone on the server side, and the first change made after the restart is
served by the POP within 2 s of the restarted primary answering its API
(stateless reset from the restarted primary, requests sent again at once
on a new connection, NOTIFY drops a silent connection)."""
import subprocess
import time

import dns.rcode
import pytest

from anycst_e2e import Primary, Secondary, TmpDir, free_port, tsig_file_args, wait_until

KEY = "pop-key."
ZONE = "example.com."


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def a_records(sec, name):
    try:
        r = sec.query(name, timeout=0.5)
    except Exception:   # timeout while the POP is busy: not yet
        return set()
    if r.rcode() != dns.rcode.NOERROR:
        return set()
    return {rd.to_text() for rrset in r.answer for rd in rrset}


def kill_and_restart(p, downtime):
    """SIGKILL, then the same command line again (same key, ports, database)."""
    p.kill()
    time.sleep(downtime)
    p.start()
    return time.monotonic()


def quic_pop(tmp, p, sport, extra=()):
    secret = p.add_key(KEY)
    p.allow_catalog(KEY)
    p.add_zone(ZONE, keys=[KEY])
    pin = p.api("GET", "")["quic_spki_pin"]
    sec = Secondary(tmp, p.quic_port, port=sport, tsig=False, name="secq",
                    extra=tsig_file_args(tmp, KEY, secret) + ["--pin", pin] +
                    list(extra))
    sec.args[sec.args.index("--transport") + 1] = "quic"
    sec.start()
    wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 10, what="zone over QUIC")
    return sec


def change(p, addr):
    p.api("PATCH", "/zones/" + ZONE, {"rrsets": [
        {"name": "www." + ZONE, "type": "A", "ttl": 300, "changetype": "REPLACE",
         "records": [{"content": addr, "disabled": False}]}]})


@pytest.mark.parametrize("downtime", [0, 4])
def test_quic_pop_gets_first_change_after_primary_restart(tmp, downtime):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        sec = quic_pop(tmp, p, sport)
        # the connection is up and used: one change over it first
        change(p, "192.0.2.50")
        wait_until(lambda: a_records(sec, "www." + ZONE) == {"192.0.2.50"}, 5,
                   what="IXFR over QUIC")
        t0 = kill_and_restart(p, downtime)
        change(p, "192.0.2.51")
        wait_until(lambda: a_records(sec, "www." + ZONE) == {"192.0.2.51"}, 40, step=0.02,
                   what="first change after the restart")
        took = time.monotonic() - t0
        assert took < 2.0, "served %.2f s after the restart\n%s" % (took, sec.logtext()[-3000:])
        # and the next change too, on the new connection
        change(p, "192.0.2.52")
        wait_until(lambda: a_records(sec, "www." + ZONE) == {"192.0.2.52"}, 5,
                   what="second change after the restart")
    finally:
        if sec:
            sec.stop()
        p.stop()


def test_quic_pop_falls_back_to_tcp(tmp):
    """QUIC failing refresh after refresh (here: nothing listens on the QUIC
    port): after 3 failures in a row the POP transfers over TCP from
    --primary-tcp, says so in its log, and follows changes."""
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_zone(ZONE, keys=[KEY])
        pin = p.api("GET", "")["quic_spki_pin"]
        dead = free_port()   # a UDP port where nothing answers QUIC
        sec = Secondary(tmp, dead, port=sport, tsig=False, name="secfb",
                        extra=tsig_file_args(tmp, KEY, secret) + [
                            "--pin", pin, "--primary-tcp", "127.0.0.1:%d" % p.xfr_port])
        sec.args[sec.args.index("--transport") + 1] = "quic"
        sec.start()
        wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 30, step=0.1,
                   what="zone over the TCP fallback")
        log = sec.logtext()
        assert ("warning: transfers failed over QUIC 3 times in a row, falling back to TCP "
                "127.0.0.1@%d for 60 s" % p.xfr_port) in log, log
        assert "zone transfer, incoming AXFR over TCP (QUIC fallback) from 127.0.0.1" in log
        change(p, "192.0.2.60")
        wait_until(lambda: a_records(sec, "www." + ZONE) == {"192.0.2.60"}, 5,
                   what="change over the TCP fallback")
    finally:
        if sec:
            sec.stop()
        p.stop()


def test_quic_pop_tcp_fallback_needs_tsig(tmp):
    sec = Secondary(tmp, free_port(), tsig=False, name="secnt",
                    extra=["--insecure", "--primary-tcp", "127.0.0.1:5300"])
    sec.args[sec.args.index("--transport") + 1] = "quic"
    proc = subprocess.run(sec.args, capture_output=True, text=True, timeout=10)
    assert proc.returncode != 0
    assert "--primary-tcp: a TCP fallback needs --tsig-file" in proc.stderr + proc.stdout
