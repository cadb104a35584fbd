"""XoQ (RFC 9250) between the real daemons on loopback: anycst-secondary with
its default transport (QUIC) and the primary's SPKI pin pulls AXFR and then
IXFR from anycst-primary for zones of 10 and 100,000 records and serves
exactly the primary's export; a catalog of 1,000 zones arrives over one QUIC
connection; a wrong pin is refused and logged while good clients go on;
framing errors and half-open handshakes are refused without harm; a
non-zero message id is echoed, and --doq-strict answers it with
DOQ_PROTOCOL_ERROR."""
import json
import os
import re
import subprocess
import time

import pytest

from anycst_e2e import xoq as xu
from anycst_e2e import Primary, TmpDir, free_port, wait_until

DOQ_TEST = os.path.join(xu.TOOLS, "anycst-doq-test")


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def test_xoq_axfr_then_ixfr_10_and_100k_records(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        pin = xu.pin_of(p)
        assert "notice: QUIC listening on 127.0.0.1:%d, SPKI pin %s" % (p.quic_port, pin) \
            in p.log()
        assert oct(os.stat(os.path.join(tmp, "tls.key")).st_mode & 0o777) == "0o600"
        secret = p.add_key(xu.KEY)
        xu.small_zone(p, "example.com.")
        xu.create_zone_text(p, "big.test.", xu.big_zone_text("big.test.", 100000))
        assert sum(len(v) for v in xu.parse_export(p.export("example.com.")).values()) == 10
        sec = xu.quic_secondary(tmp, p, secret, pin=pin, port=sport).start()
        xu.wait_serials(sec, {"example.com.": p.serial("example.com."),
                              "big.test.": p.serial("big.test.")}, 30, what="AXFR over QUIC")
        log = sec.logtext()
        for z in ("example.com.", "big.test."):
            assert "info: [%s] zone transfer, incoming AXFR over QUIC from 127.0.0.1" % z in log
            assert "info: [%s] zone transfer, completed successfully" % z in log
        xu.assert_serves_export(sec, p.export("example.com."))
        assert xu.assert_serves_export(sec, p.export("big.test.")) == 99998

        # one-record changes: NOTIFY, then IXFR over the same QUIC connection
        p.api("PATCH", "/zones/example.com.", {"rrsets": [
            {"name": "www.example.com.", "type": "A", "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": "192.0.2.99", "disabled": False}]}]})
        p.api("PATCH", "/zones/big.test.", {"rrsets": [
            {"name": "r77777.big.test.", "type": "A", "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": "198.51.100.7", "disabled": False}]},
            {"name": "new.big.test.", "type": "TXT", "ttl": 60, "changetype": "REPLACE",
             "records": [{"content": '"added"', "disabled": False}]}]})
        xu.wait_serials(sec, {"example.com.": p.serial("example.com."),
                              "big.test.": p.serial("big.test.")}, 10, what="IXFR over QUIC")
        log = sec.logtext()
        for z in ("example.com.", "big.test."):
            assert "info: [%s] zone transfer, incoming IXFR over QUIC from 127.0.0.1" % z in log
            assert log.count("info: [%s] zone transfer, completed successfully" % z) >= 2
        # logged when the primary's worker ends the transfer, maybe after the POP applied it
        wait_until(lambda: re.search(r"info: \[big\.test\.\] zone transfer, outgoing IXFR over QUIC to "
                                     r"127\.0\.0\.1@\d+, serial \d+ -> \d+, 1 messages",
                                     p.log()), 5, what="outgoing IXFR logged")
        xu.assert_serves_export(sec, p.export("example.com."))
        exp = p.export("big.test.")
        assert "r77777.big.test. 300 IN A 198.51.100.7" in exp and '"added"' in exp
        assert xu.assert_serves_export(sec, exp) == 99998

        # the primary knows what the POP holds and how it got it
        prop = json.dumps(p.api("GET", "/zones/big.test./propagation"))
        assert '"QUIC"' in prop, prop
        m = xu.metrics(p)
        assert m["anycst_quic_conns_accepted_total"] == 1, m    # one connection for it all
        assert m["anycst_quic_streams_total"] >= 6
        assert m["anycst_quic_bytes_sent_total"] > 2_000_000
        assert m["anycst_quic_handshake_failures_total"] == 0
        assert "anycst_quic_packets_lost_total" in m
    finally:
        if sec:
            sec.stop()
        p.stop()
    xu.assert_clean(p)


def test_xoq_catalog_of_1000_zones_one_connection(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        names = ["z%04d.example." % i for i in range(1000)]
        for n in names:
            p.api("POST", "/zones", {"name": n, "kind": "Native",
                                     "nameservers": ["ns1.example.net."],
                                     "master_tsig_key_ids": [xu.KEY]})
        sec = xu.quic_secondary(tmp, p, secret, pin=pin, port=sport).start()
        serial = p.serial(names[0])

        def all_served():
            return sum(1 for n in names if sec.serial(n) == serial) == len(names)
        wait_until(all_served, 60, step=0.5, what="1,000 catalog members over QUIC")
        m = xu.metrics(p)
        assert m["anycst_quic_conns_accepted_total"] == 1, m
        assert m["anycst_quic_streams_total"] >= 1001         # catalog + every member
        log = sec.logtext()
        assert log.count("zone transfer, incoming AXFR over QUIC from 127.0.0.1") >= 1001
        # at info, or in a burst at debug (counted in a "busy" line at info)
        assert re.search(r"(info|debug): \[z0999\.example\.\] zone transfer, completed "
                         r"successfully", log), log[-3000:]
        assert log.count("zone transfer, completed successfully") >= 1001
    finally:
        if sec:
            sec.stop()
        p.stop()
    xu.assert_clean(p)


def test_xoq_wrong_pin_refused_good_clients_served(tmp):
    sport, bport, iport = free_port(), free_port(), free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % x for x in (sport, bport, iport)])
    good = bad = insecure = None
    try:
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        xu.small_zone(p, "example.com.")
        bad = xu.quic_secondary(tmp, p, secret, pin=xu.random_pin(), port=bport,
                                name="bad").start()
        good = xu.quic_secondary(tmp, p, secret, pin=pin, port=sport, name="good").start()
        insecure = xu.quic_secondary(tmp, p, secret, insecure=True, port=iport,
                                     name="insecure").start()
        want = {"example.com.": p.serial("example.com.")}
        xu.wait_serials(good, want, 10, what="good secondary")
        xu.wait_serials(insecure, want, 10, what="--insecure secondary")
        wait_until(lambda: "does not match" in bad.logtext(), 10, what="pin refusal logged")
        log = bad.logtext()
        assert re.search(r"error: QUIC, remote 127\.0\.0\.1@%d, server key pin %s does not "
                         r"match .*, refused" % (p.quic_port, re.escape(pin)), log), log
        assert "zone transfer, completed successfully" not in log
        assert bad.serial("example.com.") is None
        assert "server key not verified (insecure)" in insecure.logtext()
        wait_until(lambda: xu.metrics(p)["anycst_quic_handshake_failures_total"] >= 1, 5,
                   what="handshake failure counted")
        # the primary goes on serving the good ones: a change reaches them
        p.api("PATCH", "/zones/example.com.", {"rrsets": [
            {"name": "www.example.com.", "type": "A", "ttl": 300, "changetype": "REPLACE",
             "records": [{"content": "192.0.2.42", "disabled": False}]}]})
        want = {"example.com.": p.serial("example.com.")}
        xu.wait_serials(good, want, 10, what="IXFR after the refusal")
        xu.wait_serials(insecure, want, 10, what="IXFR to --insecure")
        assert bad.serial("example.com.") is None
        assert p.alive()
    finally:
        for s in (good, bad, insecure):
            if s:
                s.stop()
        p.stop()
    xu.assert_clean(p)


def test_xoq_bad_clients_refused_server_keeps_serving(tmp):
    p = Primary(tmp)
    try:
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        xu.small_zone(p, "example.com.")
        remote = "127.0.0.1:%d" % p.quic_port
        y = "%s:hmac-sha256:%s" % (xu.KEY, secret)
        for mode, want in (("noprefix", "closed DOQ_PROTOCOL_ERROR"),
                           ("extra", "closed DOQ_PROTOCOL_ERROR"),
                           ("truncated", "closed DOQ_PROTOCOL_ERROR")):
            r = subprocess.run([DOQ_TEST, "raw", "--remote", remote, "--insecure", "--mode", mode],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=30)
            assert want in r.stdout, (mode, r.stdout, r.stderr)
        r = subprocess.run([DOQ_TEST, "flood", "--remote", remote, "--count", "1000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run([DOQ_TEST, "get", "--remote", remote, "--pin", pin, "--alpn", "dot"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        assert r.returncode != 0
        # a good client right after: a signed AXFR, every message checked
        ok, vals, line = xu.xoq("--remote", remote, "--pin", pin, "-y", y, "example.com.", "AXFR")
        assert ok, line
        assert vals["records"] == "11" and vals["rcode"] == "NOERROR"    # 10 + closing SOA
        # unsigned: REFUSED inside the stream, as over TCP
        ok, vals, line = xu.xoq("--remote", remote, "--pin", pin, "example.com.", "AXFR")
        assert not ok and vals["rcode"] == "REFUSED", line
        assert "refused AXFR from 127.0.0.1@" in p.log()
        wait_until(lambda: xu.metrics(p)["anycst_quic_handshake_failures_total"] >= 1, 10,
                   what="wrong ALPN counted")
        m = xu.metrics(p)
        assert m["anycst_quic_stream_errors_total"] >= 3, m
        # logged (repeats from one remote are rate-limited to one line a minute)
        wait_until(lambda: "connection closed with DOQ_PROTOCOL_ERROR" in p.log(), 5,
                   what="framing error logged")
        assert p.alive()
    finally:
        p.stop()
    xu.assert_clean(p)


def test_xoq_message_id_echo_and_doq_strict(tmp):
    p = Primary(tmp)
    try:
        pin = xu.pin_of(p)
        secret = p.add_key(xu.KEY)
        xu.small_zone(p, "example.com.")
        remote = "127.0.0.1:%d" % p.quic_port
        y = "%s:hmac-sha256:%s" % (xu.KEY, secret)
        serial = p.serial("example.com.")
        # Knot 3.3+ style: a random non-zero id, echoed in every answer message
        for qtype in ("SOA", "AXFR"):
            ok, vals, line = xu.xoq("--remote", remote, "--pin", pin, "-y", y, "--id", "4660",
                                    "example.com.", qtype)
            assert ok and vals["id"] == "4660", line
        ok, vals, line = xu.xoq("--remote", remote, "--pin", pin, "-y", y, "--id", "65535",
                                "--serial", serial, "example.com.", "IXFR")
        assert ok and vals["id"] == "65535" and vals["records"] == "1", line   # up to date
    finally:
        p.stop()
    xu.assert_clean(p)
    with TmpDir() as tmp2:
        p = Primary(tmp2, extra=["--doq-strict"])
        try:
            pin = xu.pin_of(p)
            secret = p.add_key(xu.KEY)
            xu.small_zone(p, "example.com.")
            remote = "127.0.0.1:%d" % p.quic_port
            y = "%s:hmac-sha256:%s" % (xu.KEY, secret)
            assert "strict message ids" in p.log()
            ok, vals, line = xu.xoq("--remote", remote, "--pin", pin, "-y", y, "--id", "0",
                                    "example.com.", "AXFR")
            assert ok and vals["id"] == "0", line
            ok, vals, line = xu.xoq("--remote", remote, "--pin", pin, "-y", y, "--id", "4660",
                                    "example.com.", "AXFR")
            assert not ok and "DOQ_PROTOCOL_ERROR" in line, line
            wait_until(lambda: "DOQ_PROTOCOL_ERROR" in p.log(), 5, what="strict close logged")
            ok, vals, line = xu.xoq("--remote", remote, "--pin", pin, "-y", y,
                                    "example.com.", "SOA")
            assert ok, line                                       # and it goes on serving
        finally:
            p.stop()
        xu.assert_clean(p)
