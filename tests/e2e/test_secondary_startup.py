"""Secondary start-up mistakes and metrics hygiene (issue 13.6).

- A QUIC secondary without --pin or --insecure, or with an empty or malformed
  pin, refuses to start with an error naming --pin (not --primary); a bad
  --health-max-bad or --health-grace is named too.
- `promtool check metrics` (Debian's prometheus) passes on a live secondary's
  /metrics (every metric has # HELP and # TYPE) and on the primary's.
- Every thread of both daemons blocks SIGTERM, SIGINT and SIGHUP, so only
  the main thread's sigwait takes them: a stop during start-up is a clean
  stop, never the default action of a signal delivered to a helper thread
  (the QUIC client's thread used to start before the mask was set).
"""
import base64
import os
import shutil
import subprocess

import pytest

from anycst_e2e import (BIN, Primary, Secondary, TmpDir, free_port, tsig_file_args,
                         wait_until)

KEY = "pop-key."
PROMTOOL = shutil.which("promtool")


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def run_secondary(tmp, *args):
    cmd = [os.path.join(BIN, "anycst-secondary"), "--primary", "127.0.0.1:1",
           "--listen", "127.0.0.1:%d" % free_port(),
           "--state-dir", os.path.join(tmp, "state")] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=30)


GOOD_PIN = base64.b64encode(b"\x01" * 32).decode()


@pytest.mark.parametrize("args,want", [
    ((), "--pin: missing"),
    (("--transport", "quic"), "--pin: missing"),
    (("--pin", ""), "--pin: '' is not a SPKI SHA-256 pin"),
    (("--pin", "abc"), "--pin: 'abc' is not a SPKI SHA-256 pin"),
    (("--pin", "!" * 43 + "="), "is not a SPKI SHA-256 pin"),
    (("--pin", base64.b64encode(b"\x01" * 31).decode() + "AAAA"),
     "is not a SPKI SHA-256 pin"),
    (("--insecure", "--health-max-bad", "x"), "--health-max-bad: 'x' is not"),
    (("--insecure", "--health-max-bad", "101%"), "--health-max-bad: '101%' is not"),
    (("--insecure", "--health-grace", "-1"), "--health-grace: '-1' is not"),
])
def test_secondary_refuses_bad_start_flags(tmp, args, want):
    r = run_secondary(tmp, *args)
    assert r.returncode != 0, r.stdout
    assert want in r.stdout, r.stdout
    assert "--primary" not in r.stdout, r.stdout
    assert not os.path.exists(os.path.join(tmp, "state")) or \
        not os.listdir(os.path.join(tmp, "state"))


def test_secondary_starts_with_good_pin_or_insecure(tmp):
    for args in (("--pin", GOOD_PIN), ("--insecure",), ("--transport", "tcp")):
        sport = free_port()
        sec = Secondary(tmp, 1, port=sport, tsig=False, name="s%d" % sport)
        i = sec.args.index("--transport")
        del sec.args[i:i + 2]
        sec.args += list(args)
        sec.start()
        assert sec.stop() == 0


STOP_SIGS = (1 << (15 - 1)) | (1 << (2 - 1)) | (1 << (1 - 1))   # SIGTERM, SIGINT, SIGHUP


def unblocked_threads(pid):
    """Threads of `pid` whose signal mask lets SIGTERM, SIGINT or SIGHUP in,
    but for the main thread: it waits in sigwait, which unmasks them while it
    waits."""
    bad = []
    for tid in os.listdir("/proc/%d/task" % pid):
        if int(tid) == pid:
            continue
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue   # the thread ended meanwhile
        if int(st["SigBlk"].strip(), 16) & STOP_SIGS != STOP_SIGS:
            bad.append((tid, st["Name"].strip(), st["SigBlk"].strip()))
    return bad


def test_every_thread_leaves_stop_signals_to_sigwait(tmp):
    p = Primary(tmp)
    sec = Secondary(tmp, 1, port=free_port(),
                    tsig=False, name="sigmask")
    i = sec.args.index("--transport")
    del sec.args[i:i + 2]
    sec.args += ["--insecure"]
    sec.start()
    try:
        for proc, what in ((p.proc, "primary"), (sec.proc, "secondary")):
            assert len(os.listdir("/proc/%d/task" % proc.pid)) > 1, what
            assert unblocked_threads(proc.pid) == [], what
    finally:
        assert sec.stop() == 0
        p.stop()


def promtool(text, tmp, name):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        return subprocess.run([PROMTOOL, "check", "metrics"], stdin=f, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=30)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) is missing")
def test_metrics_pass_promtool(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        secret = p.add_key(KEY)
        p.allow_catalog(KEY)
        p.add_zone("example.com.", keys=[KEY])
        sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False,
                        extra=tsig_file_args(tmp, KEY, secret) + ["--rrl-rate", "100"]).start()
        wait_until(lambda: sec.serial("example.com.") == p.serial("example.com."), 10,
                   what="zone transferred")
        sec.query("www.example.com.")
        sec.query("example.com.", "MX", tcp=True)
        sec.query("nowhere.invalid.")
        status, body = sec.http("/metrics")
        assert status == 200
        r = promtool(body, tmp, "secondary.prom")
        assert r.returncode == 0, r.stdout + "\n" + body
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name = line.split("{")[0].split(" ")[0]
                assert "# HELP %s " % name in body, name
                assert "# TYPE %s " % name in body, name
        # The primary's /metrics (behind the API key where that is required).
        pbody = p.metrics_text()
        r = promtool(pbody, tmp, "primary.prom")
        assert r.returncode == 0, r.stdout + "\n" + pbody
    finally:
        if sec:
            sec.stop()
        p.stop()
