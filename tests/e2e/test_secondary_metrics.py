"""The POP name (--identity) is the `pop` label of every sample in the
secondary's /metrics (issue 8, deliverable 3), escaped as the Prometheus text
format 0.0.4 says (backslash, double quote and line feed), first among the
labels, with each metric's own labels kept after it."""
import re
import shutil
import tempfile

import pytest

from anycst_e2e import Knot, Secondary, knot_zone, wait_until

ZONE = "example.com."

# One sample line of the text format: name, {labels}, value.
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(%s(?:,%s)*)\} (\S+)$' % (LABEL, LABEL))
PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(v):
    return re.sub(r'\\([\\"n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def samples(body):
    """Every non-comment line as (name, [(label, raw value)...], value); fails on a line
    that is not a labelled sample."""
    out = []
    for line in body.splitlines():
        if line == "" or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a labelled sample: %r" % line
        float(m.group(3))
        out.append((m.group(1), PAIR.findall(m.group(2)), m.group(3)))
    return out


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="anycst-sec-metrics-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(tmp, identity, check):
    knot = Knot(tmp, {ZONE: knot_zone(serial=41)}).start()
    sec = Secondary(tmp, knot.port, zones=[ZONE], extra=["--identity", identity]).start()
    try:
        wait_until(lambda: sec.serial(ZONE) == 41, 10, what="serial 41")
        sec.query("www." + ZONE)
        sec.query(ZONE, "MX", tcp=True)
        sec.query("nowhere.invalid.")
        status, body = sec.http("/metrics")
        assert status == 200
        check(body)
    finally:
        sec.stop()
        knot.stop()


def test_every_sample_carries_pop(tmp):
    def check(body):
        got = samples(body)
        names = {n for n, _, _ in got}
        # the secondary's own metrics and the edge ones are all there
        for want in ("anycst_secondary_queries_total", "anycst_secondary_queries_by_type_total",
                     "anycst_secondary_queries_transport_total",
                     "anycst_secondary_dropped_total", "anycst_secondary_notify_total",
                     "anycst_secondary_tcp_connections_total", "anycst_secondary_zone_serial",
                     "anycst_secondary_zone_loaded", "anycst_secondary_zone_expired",
                     "anycst_secondary_zone_seconds_since_refresh",
                     "anycst_secondary_transfers_total",
                     "anycst_secondary_transfer_failures_total",
                     "anycst_secondary_refresh_uptodate_total", "anycst_secondary_info",
                     "anycst_secondary_healthy", "anycst_secondary_rrl_limited_total"):
            assert want in names, (want, body)
        for name, labels, _ in got:
            assert labels[0] == ("pop", "tokyo-1"), (name, labels)
            assert [k for k, _ in labels].count("pop") == 1, (name, labels)
        lines = body.splitlines()
        assert 'anycst_secondary_zone_serial{pop="tokyo-1",zone="example.com."} 41' in lines
        assert 'anycst_secondary_zone_loaded{pop="tokyo-1",zone="example.com."} 1' in lines
        assert 'anycst_secondary_transfers_total{pop="tokyo-1",zone="example.com.",type="axfr"} 1' \
            in lines
        assert 'anycst_secondary_queries_by_type_total{pop="tokyo-1",qtype="MX"} 1' in lines
        assert 'anycst_secondary_queries_transport_total{pop="tokyo-1",transport="tcp"} 1' \
            in lines
        assert 'anycst_secondary_dropped_total{pop="tokyo-1"} 0' in lines
        assert 'anycst_secondary_info{pop="tokyo-1"} 1' in lines
        assert any(l.startswith('anycst_secondary_queries_total{pop="tokyo-1",rcode="REFUSED"} ')
                   for l in lines), body
    run(tmp, "tokyo-1", check)


def test_pop_label_is_escaped(tmp):
    ident = 'pop "a" \\ b'

    def check(body):
        got = samples(body)
        assert len(got) > 20, body
        for name, labels, _ in got:
            assert labels[0] == ("pop", r'pop \"a\" \\ b'), (name, labels)
            assert unescape(labels[0][1]) == ident
        assert 'anycst_secondary_zone_serial{pop="pop \\"a\\" \\\\ b",zone="example.com."} 41' \
            in body.splitlines()
    run(tmp, ident, check)
