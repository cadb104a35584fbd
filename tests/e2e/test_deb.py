"""The Debian package `make deb` builds (anycst_*.deb in the repository root, or
ANYCST_DEB): its control data (`dpkg-deb -I`: name, architecture, shared
library dependencies, the /etc files as conffiles), its contents (`dpkg-deb -c`:
daemons, anycstc, man pages, units, samples, the licence in copyright; no test
helper, nothing under /usr/local), and the package unpacked into a throwaway
root (`dpkg-deb -x`): the binaries run from there, the man pages render, and
`systemd-analyze verify --root` accepts both units (ExecStart present in that
root, no unknown key).  `make deb` runs this file on the package it built."""
import glob
import os
import shutil
import subprocess

import pytest

from anycst_e2e import TmpDir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHIPPED = {"usr/sbin/anycst-primary", "usr/sbin/anycst-secondary", "usr/sbin/anycst-sqlite2pg",
           "usr/bin/anycstc"}
HELPERS = ("anycst-zonecheck", "anycst-dig", "anycst-xoq", "anycst-signtest",
           "anycst-answer-server", "anycst-doq-test", "anycst-udpfuzz", "anycst-updload")


def deb_path():
    p = os.environ.get("ANYCST_DEB")
    if p:
        return p
    debs = sorted(glob.glob(os.path.join(REPO, "anycst_*.deb")), key=os.path.getmtime)
    return debs[-1] if debs else None


DEB = deb_path()
pytestmark = pytest.mark.skipif(DEB is None or shutil.which("dpkg-deb") is None,
                                reason="no anycst_*.deb (run `make deb`, or set ANYCST_DEB) "
                                       "or no dpkg-deb")


def run(*argv, **kw):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, **kw)
    assert r.returncode == 0, (argv, r.stdout[-2000:], r.stderr[-2000:])
    return r.stdout


def test_control():
    info = run("dpkg-deb", "-I", DEB)
    arch = run("dpkg", "--print-architecture").strip()
    assert "Package: anycst" in info
    assert "Architecture: %s" % arch in info
    depends = [l for l in info.splitlines() if l.strip().startswith("Depends:")][0]
    for lib in ("libc6", "libsqlite3-0", "libmicrohttpd", "libjansson4", "libgnutls30",
                "libngtcp2"):
        assert lib in depends, depends
    conffiles = run("dpkg-deb", "-f", DEB, "Package")  # the field reader works
    assert conffiles.strip() == "anycst"
    with TmpDir("anycst-deb-ctl-") as d:
        run("dpkg-deb", "-e", DEB, d)
        with open(os.path.join(d, "conffiles")) as f:
            conf = set(f.read().split())
        assert {"/etc/anycst/primary.conf", "/etc/anycst/secondary.conf",
                "/etc/anycst/anycstc.conf"} <= conf, conf


def test_contents():
    listing = run("dpkg-deb", "-c", DEB)
    files = {}
    for line in listing.splitlines():
        f = line.split()
        path = f[-1].lstrip("./") if f[-1] != "./" else ""
        if "->" in f:
            path = f[f.index("->") - 1].lstrip("./")
        files[path] = (f[0], f[1])
    want = SHIPPED | {
        "usr/share/man/man1/anycstc.1.gz", "usr/share/man/man8/anycst-primary.8.gz",
        "usr/share/man/man8/anycst-secondary.8.gz",
        "usr/share/man/man5/anycst-primary.conf.5.gz",
        "usr/share/man/man5/anycst-secondary.conf.5.gz",
        "usr/lib/systemd/system/anycst-primary.service",
        "usr/lib/systemd/system/anycst-secondary.service",
        "usr/share/bash-completion/completions/anycstc",
        "usr/share/doc/anycst/copyright", "etc/anycst/primary.conf",
        "etc/anycst/secondary.conf"}
    missing = sorted(w for w in want if w not in files)
    assert not missing, missing
    for path, (mode, owner) in files.items():
        assert not path.startswith("usr/local"), path
        assert os.path.basename(path) not in HELPERS, path
        assert owner == "root/root", (path, owner)
        if path in SHIPPED:
            assert mode == "-rwxr-xr-x", (path, mode)


def test_unpacked_root():
    with TmpDir("anycst-deb-root-") as root:
        run("dpkg-deb", "-x", DEB, root)
        with open(os.path.join(root, "usr/share/doc/anycst/copyright")) as f:
            text = f.read()
        assert "License: Expat" in text and "Permission is hereby granted" in text
        for b in sorted(SHIPPED):
            out = run(os.path.join(root, b), "--version")
            assert os.path.basename(b) in out and "0.1.0" in out, out
        for page in ("man1/anycstc.1.gz", "man8/anycst-primary.8.gz",
                     "man5/anycst-secondary.conf.5.gz"):
            if shutil.which("man") is None:
                break
            out = run("man", "-l", os.path.join(root, "usr/share/man", page),
                      env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"))
            assert len(out) > 200
        if shutil.which("systemd-analyze") is None:
            pytest.skip("systemd-analyze absent")
        # the host's targets and slices, so the units' dependencies resolve in the root
        unitdir = os.path.join(root, "usr/lib/systemd/system")
        for pat in ("*.target", "*.slice", "*.socket"):
            for f in glob.glob(os.path.join("/lib/systemd/system", pat)):
                dst = os.path.join(unitdir, os.path.basename(f))
                if not os.path.exists(dst):
                    shutil.copy(f, dst, follow_symlinks=False)
        # ExecReload runs /bin/sh (Essential in Debian, so no dependency names it)
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        shutil.copy(os.path.realpath("/bin/sh"), os.path.join(root, "bin/sh"))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", "--root=" + root,
                            "anycst-primary.service", "anycst-secondary.service"],
                           capture_output=True, text=True, timeout=120)
        ours = [l for l in (r.stdout + r.stderr).splitlines() if "anycst" in l]
        assert r.returncode == 0 and not ours, r.stdout + r.stderr
