"""The status page at /ui/ (issue 17.4): static files embedded in the
primary, served without a key (the page asks for it and sends it as
X-API-Key; the data endpoints still need it).  In headless Chromium
(Debian's chromium, `make deps`) the page loads with no console errors,
shows a POP registered through the API, and a change's propagation to a
secondary (API commit to the secondary serving it) under a second."""
import base64
import os
import re
import shutil
import subprocess
import time

import pytest

from anycst_e2e import Primary, Secondary, TmpDir, free_port, tsig_file_args, wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def tmp():
    with TmpDir() as d:
        yield d


def test_ui_files_served(tmp):
    p = Primary(tmp)
    try:
        for path, ctype, needle in (("/ui/", "text/html", b"anycst status"),
                                    ("/ui/app.js", "text/javascript", b"X-API-Key"),
                                    ("/ui/style.css", "text/css", b"table")):
            st, hdrs, body = p.call("GET", path, key=False, prefix=False)
            assert st == 200, (path, body)
            assert dict((k.lower(), v) for k, v in hdrs.items())["content-type"].startswith(ctype)
            assert needle in body
        st, _, _ = p.call("GET", "/ui/nope.js", key=False, prefix=False)
        assert st == 404
        st, _, _ = p.call("GET", "/secondaries", key=False)
        assert st == 401                     # the data stays behind the key
    finally:
        p.stop()


def dump_dom(url, profile):
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
                        "--virtual-time-budget=4000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=90)
    return r.stdout, r.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="chromium absent: `make deps` installs Debian's "
                    "chromium for the status page test")
def test_ui_in_headless_chromium(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    sec = None
    try:
        pub = base64.b64encode(bytes([7]) * 31 + b"\0").decode()
        p.json("POST", "/secondaries", {"name": "pop-ui", "public_key": pub,
                                        "endpoint": "192.0.2.7:51820"}, expect=201)
        secret = p.add_key("ui-key.")
        p.add_zone("example.com.", keys=["ui-key."])
        sec = Secondary(tmp, p.xfr_port, zones=["example.com."], tsig=False, port=sport,
                        extra=tsig_file_args(tmp, "ui-key.", secret))
        sec.start()
        wait_until(lambda: sec.serial("example.com.") == p.serial("example.com."), 10,
                   what="zone at the secondary")
        p.patch("example.com.", [{"name": "www.example.com.", "type": "A", "ttl": 60,
                                  "changetype": "REPLACE",
                                  "records": [{"content": "192.0.2.99", "disabled": False}]}])
        new = p.serial("example.com.")
        wait_until(lambda: sec.serial("example.com.") == new, 10, what="change at the secondary")
        url = "%s/ui/#key=%s" % (p.api_url, p.key)
        # the journal table is filled by a fetch of its own: a page dumped
        # before it lands (a busy machine) is loaded again, at most 3 times
        for attempt in range(3):
            dom, err = dump_dom(url, os.path.join(tmp, "chromium%d" % attempt))
            if "www.example.com. 60 A 192.0.2.99" in dom:
                break
        assert 'data-loaded="1"' in dom, (dom[-2000:], err[-2000:])
        assert "<td>pop-ui</td>" in dom, dom[-3000:]
        bars = [int(x) for x in re.findall(r'class="bar" data-ms="(\d+)"', dom)]
        assert bars and min(bars) < 1000, (bars, dom[-3000:])
        assert "example.com. %d" % new in dom
        assert "www.example.com. 60 A 192.0.2.99" in dom          # the zone's journal
        console = [ln for ln in err.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
        assert not console, console
    finally:
        if sec is not None:
            sec.stop()
        p.stop()
