"""`make install DESTDIR=... PREFIX=/usr` as an operator would use it: the
installed daemons (primary + secondary on loopback) serve a zone loaded with
the installed anycstc from a generated zone file; `anycstc status` shows the
secondary serving it; every installed man page renders; every installed
binary answers --help and --version the same way."""
import os
import re
import subprocess

import pytest

from anycst_e2e import BIN, KEY_NAME, TOOLS, Primary, Secondary, TmpDir, free_port, tsig_file_args, \
    wait_until

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make_install(dest):
    """Installs the build ANYCST_BIN names (bin/ or bin-san/) into `dest`."""
    san = ["SAN=1"] if os.path.basename(BIN.rstrip("/")) == "bin-san" else []
    r = subprocess.run(["make", "-C", REPO, "--no-print-directory", "-j2", "install",
                        "DESTDIR=" + dest, "PREFIX=/usr", "BIN=" + BIN] + san,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def write_zone(path, origin, n):
    with open(path, "w") as f:
        f.write("$ORIGIN %s\n$TTL 300\n" % origin)
        f.write("@ IN SOA ns1 hostmaster 2026010101 3600 600 864000 300\n@ NS ns1\n")
        f.write("ns1 A 192.0.2.1\n")
        for i in range(n):
            f.write("host%d A 10.%d.%d.%d\n" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255))
    return n + 3


@pytest.fixture(scope="module")
def installed():
    with TmpDir("anycst-install-") as d:
        dest = os.path.join(d, "root")
        make_install(dest)
        yield dest


# what bin/ holds and make install puts in sbin/ and bin/ (anycst-sqlite2pg moves
# a primary's SQLite database into PostgreSQL, issue 19)
SHIPPED = ["anycst-primary", "anycst-secondary", "anycst-sqlite2pg", "anycstc"]


def test_bin_holds_only_shipped_binaries(installed):
    """bin/ (after the build make install ran) holds what is installed and nothing
    else; the test helpers of tools/ are in the build's tools-bin/ (issue 17)."""
    assert sorted(os.listdir(BIN)) == SHIPPED
    assert os.path.isfile(os.path.join(TOOLS, "anycst-zonecheck"))
    assert os.path.isfile(os.path.join(TOOLS, "anycst-xoq"))


def test_installed_layout(installed):
    want = ["usr/sbin/anycst-primary", "usr/sbin/anycst-secondary", "usr/bin/anycstc",
            "usr/sbin/anycst-sqlite2pg",
            "usr/share/man/man1/anycstc.1", "usr/share/man/man5/anycstc.conf.5",
            "usr/share/man/man5/anycst-primary.conf.5", "usr/share/man/man5/anycst-secondary.conf.5",
            "usr/share/man/man8/anycst-primary.8", "usr/share/man/man8/anycst-secondary.8",
            "usr/lib/systemd/system/anycst-primary.service",
            "usr/lib/systemd/system/anycst-secondary.service",
            "usr/share/bash-completion/completions/anycstc",
            "usr/share/doc/anycst/examples/bird-pop.conf", "etc/anycst/anycstc.conf"]
    for w in want:
        assert os.path.isfile(os.path.join(installed, w)), w
    # test-only programs are not installed
    for b in os.listdir(os.path.join(installed, "usr/sbin")) + \
            os.listdir(os.path.join(installed, "usr/bin")):
        assert b in SHIPPED, b
    for unit in ("anycst-primary", "anycst-secondary"):
        text = open(os.path.join(installed, "usr/lib/systemd/system/%s.service" % unit)).read()
        assert "ExecStart=/usr/sbin/%s " % unit in text
        assert "/usr/local" not in text and "@SBINDIR@" not in text and "@BINDIR@" not in text
        assert re.search(r"^Documentation=man:%s\(8\)" % unit, text, re.M)
        for line in ("ProtectSystem=strict", "DynamicUser=yes", "NoNewPrivileges=yes"):
            assert line in text, (unit, line)
        assert re.search(r"^StateDirectory=", text, re.M)
        assert re.search(r"^CapabilityBoundingSet=CAP_NET_BIND_SERVICE", text, re.M)
    r = subprocess.run(["bash", "-n", os.path.join(
        installed, "usr/share/bash-completion/completions/anycstc")], capture_output=True)
    assert r.returncode == 0, r.stderr


def test_man_pages_render(installed):
    mandir = os.path.join(installed, "usr/share/man")
    pages = [os.path.join(mandir, s, p) for s in sorted(os.listdir(mandir))
             for p in sorted(os.listdir(os.path.join(mandir, s)))]
    assert len(pages) == 6
    for page in pages:
        r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING=""))
        assert r.returncode == 0, (page, r.stderr)
        assert r.stderr.strip() == "", (page, r.stderr)
        assert "NAME" in r.stdout and "SEE ALSO" in r.stdout, page
    # the daemons' pages list every flag the binary has
    text = subprocess.run(["man", "-l", os.path.join(mandir, "man8/anycst-secondary.8")],
                          capture_output=True, text=True, env=dict(os.environ, MANWIDTH="200"),
                          timeout=60).stdout
    for flag in ("--rrl-rate", "--state-dir", "--tsig-file"):
        assert flag in text.replace("\u2010", "-"), flag


def test_help_and_version_agree(installed):
    bins = [os.path.join(installed, "usr/sbin", b) for b in ("anycst-primary", "anycst-secondary")]
    bins.append(os.path.join(installed, "usr/bin/anycstc"))
    for b in bins:
        name = os.path.basename(b)
        v = subprocess.run([b, "--version"], capture_output=True, text=True, timeout=10)
        assert v.returncode == 0 and v.stderr == "", (name, v.stderr)
        assert re.fullmatch(r"%s \d+\.\d+\.\d+\n" % re.escape(name), v.stdout), (name, v.stdout)
        h = subprocess.run([b, "--help"], capture_output=True, text=True, timeout=10)
        assert h.returncode == 0 and h.stderr == "", (name, h.stderr)
        first = h.stdout.splitlines()[0]
        assert first.startswith("usage: %s [options]" % name), (name, first)
        assert "\noptions:\n" in h.stdout, name
        for flag in ("--config FILE", "--help", "--version"):
            assert re.search(r"^  %s +\S" % re.escape(flag), h.stdout, re.M), (name, flag)


def test_installed_daemons_serve_an_imported_zone(installed):
    sbin = os.path.join(installed, "usr/sbin")
    anycstc = os.path.join(installed, "usr/bin/anycstc")
    with TmpDir() as tmp:
        sport = free_port()
        p = Primary(tmp, notify=["127.0.0.1:%d" % sport], bin_dir=sbin)
        sec = None
        try:
            conf = os.path.join(tmp, "anycstc.conf")
            with open(conf, "w") as f:
                f.write("url %s\nkey-file %s\n" % (p.api_url, p.key_file))
            env = dict(os.environ, ANYCSTC_CONFIG=conf)
            env.pop("ANYCST_API_URL", None)
            env.pop("ANYCST_API_KEY", None)

            def ctl(*args, timeout=300):
                return subprocess.run([anycstc] + list(args), capture_output=True, text=True,
                                      env=env, timeout=timeout)

            r = ctl("key", "add", "tsig", KEY_NAME)
            assert r.returncode == 0, r.stderr
            name, alg, secret = r.stdout.strip().split(":", 2)
            assert (name, alg) == (KEY_NAME, "hmac-sha256")
            # the catalog allowed to the key with anycstc alone (no API call by hand)
            r = ctl("key", "allow", KEY_NAME, "--catalog")
            assert r.returncode == 0, r.stderr
            assert r.stdout == "key allow %s. catalog.anycst.invalid.: done\n" % KEY_NAME
            sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False, bin_dir=sbin,
                            extra=tsig_file_args(tmp, KEY_NAME, secret)).start()

            zf = os.path.join(tmp, "example.com.zone")
            n = write_zone(zf, "example.com.", 10000)
            r = ctl("zone", "import", "example.com", zf, "--allow-key", KEY_NAME)
            assert r.returncode == 0, r.stderr
            # not a terminal: no progress bar, one summary line
            assert r.stderr == ""
            assert re.fullmatch(r"zone example\.com\.: imported %d records \(0 duplicates "
                                r"dropped\) in \d+ requests, [0-9.]+ s\n" % n, r.stdout), r.stdout
            assert len(p.export("example.com.").splitlines()) == n

            target = p.serial("example.com.")
            wait_until(lambda: sec.serial("example.com.") == target, 30, what="zone served")
            ans = sec.query("host9999.example.com.", "A")
            assert [rr.to_text() for rrset in ans.answer for rr in rrset] == ["10.0.39.15"]

            def status_ok():
                r = ctl("status")
                assert r.returncode == 0, r.stderr
                rows = [l.split() for l in r.stdout.splitlines() if l.startswith("example.com.")]
                return rows and rows[0][2] == "127.0.0.1" and rows[0][3] == str(target) \
                    and rows[0][4] == "0" and rows[0][6] == "ok"
            wait_until(status_ok, 15, what="anycstc status shows the secondary serving it")
            r = ctl("--json", "status", "example.com")
            assert r.returncode == 0, r.stderr
            import json
            st = json.loads(r.stdout)
            assert st["primary"]["anycst_version"]
            [z] = st["zones"]
            assert z["zone"] == "example.com." and z["serial"] == target
            assert any(t["address"] == "127.0.0.1" and t["serial"] == target and t["up_to_date"]
                       for t in z["targets"])
        finally:
            if sec:
                sec.stop()
            p.stop()
