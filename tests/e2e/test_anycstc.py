"""anycstc against a real primary: every command group, --json, the
documented exit codes, zone import's all-or-nothing, zone edit with EDITOR
set to a script (one change, If-Match), and check."""
import base64
import json
import os
import stat
import subprocess

import pytest

from anycst_e2e import BIN

ANYCSTC = os.path.join(BIN, "anycstc")


@pytest.fixture
def ctl(primary, tmp_path):
    env = dict(os.environ, ANYCST_API_URL=primary.api_url, ANYCST_API_KEY_FILE=primary.key_file,
               ANYCSTC_CONFIG=str(tmp_path / "none.conf"))
    env.pop("ANYCST_API_KEY", None)
    open(env["ANYCSTC_CONFIG"], "w").close()

    def run(*args, env_extra=None, timeout=120):
        e = dict(env, **(env_extra or {}))
        return subprocess.run([ANYCSTC] + list(args), capture_output=True, text=True, env=e,
                              timeout=timeout)
    run.primary = primary
    run.tmp = tmp_path
    return run


def zone_file(path, origin="example.com.", n=50, extra=""):
    with open(path, "w") as f:
        f.write("$ORIGIN %s\n$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\n"
                "ns1 A 192.0.2.1\n" % origin)
        for i in range(n):
            f.write("h%d A 10.0.%d.%d\n" % (i, i >> 8, i & 255))
        f.write(extra)
    return str(path)


def test_zone_commands_and_json(ctl):
    r = ctl("zone", "create", "example.org", "--ns", "ns1.example.net.")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "zone example.org. created\n"
    r = ctl("zone", "list")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ZONE", "SERIAL", "KIND", "ACCOUNT"]
    assert any(l.split()[0] == "example.org." for l in lines[1:])
    zl = json.loads(ctl("--json", "zone", "list").stdout)
    assert "example.org." in [z["name"] for z in zl]

    assert ctl("record", "add", "example.org", "www", "A", "300", "192.0.2.80").returncode == 0
    assert ctl("record", "add", "example.org", "www", "A", "300", "192.0.2.81").returncode == 0
    assert ctl("record", "set", "example.org", "@", "TXT", "60", '"v=spf1 -all"').returncode == 0
    z = json.loads(ctl("zone", "show", "example.org.", "--json").stdout)
    rr = {(s["name"], s["type"]): sorted(r["content"] for r in s["records"]) for s in z["rrsets"]}
    assert rr[("www.example.org.", "A")] == ["192.0.2.80", "192.0.2.81"]
    assert rr[("example.org.", "TXT")] == ['"v=spf1 -all"']
    assert ctl("record", "del", "example.org", "www", "A", "192.0.2.80").returncode == 0
    r = ctl("zone", "show", "example.org")
    assert "192.0.2.81" in r.stdout and "192.0.2.80" not in r.stdout
    assert ctl("record", "del", "example.org", "www.example.org.", "A").returncode == 0
    assert "www.example.org." not in ctl("zone", "export", "example.org").stdout
    ex = json.loads(ctl("--json", "zone", "export", "example.org").stdout)
    assert "example.org. 60 IN TXT" in ex["zone"]

    j = json.loads(ctl("--json", "journal", "example.org").stdout)
    assert len(j["entries"]) >= 5
    r = ctl("journal", "example.org")
    assert r.stdout.splitlines()[0].split() == ["FROM", "TO", "TIME", "REMOVED", "ADDED"]
    assert ctl("zone", "notify", "example.org").returncode == 0
    assert ctl("zone", "delete", "example.org").returncode == 0
    assert ctl("zone", "show", "example.org").returncode == 3


def test_exit_codes(ctl, tmp_path):
    assert ctl().returncode == 2
    assert ctl("frobnicate").returncode == 2
    assert ctl("zone", "show").returncode == 2
    assert ctl("record", "add", "example.org", "www", "A", "soon", "192.0.2.1").returncode == 2
    r = ctl("zone", "show", "missing.example")
    assert r.returncode == 3 and "anycstc: error:" in r.stderr and "404" in r.stderr
    assert ctl("zone", "create", "dup.example").returncode == 0
    r = ctl("zone", "create", "dup.example")
    assert r.returncode == 4, r.stderr
    assert ctl("--url", "http://127.0.0.1:1", "zone", "list").returncode == 5
    bad = tmp_path / "bad.key"
    bad.write_text("not-the-key\n")
    bad.chmod(0o600)
    r = ctl("--key-file", str(bad), "zone", "list")
    assert r.returncode == 6, r.stderr
    r = ctl("zone", "list", env_extra={"ANYCST_API_KEY": "wrong"})
    assert r.returncode == 6
    # a key file others may read is refused before any request
    bad.chmod(0o644)
    r = ctl("--key-file", str(bad), "zone", "list")
    assert r.returncode == 6 and "too open" in r.stderr
    # the config file: flags win, unknown keys are named
    conf = tmp_path / "c.conf"
    conf.write_text("url http://127.0.0.1:1\nkey-file %s\n" % ctl.primary.key_file)
    r = ctl("zone", "list", env_extra={"ANYCSTC_CONFIG": str(conf), "ANYCST_API_URL": ""})
    assert r.returncode == 5
    r = ctl("--url", ctl.primary.api_url, "zone", "list",
            env_extra={"ANYCSTC_CONFIG": str(conf), "ANYCST_API_URL": ""})
    assert r.returncode == 0, r.stderr
    conf.write_text("colour blue\n")
    r = ctl("zone", "list", env_extra={"ANYCSTC_CONFIG": str(conf)})
    assert r.returncode == 2 and "unknown option 'colour'" in r.stderr


def test_import_all_or_nothing(ctl, tmp_path):
    good = zone_file(tmp_path / "example.com.zone", n=300, extra="h1 A 10.0.0.1\n")
    r = ctl("zone", "import", "example.com", good)
    assert r.returncode == 0, r.stderr
    assert "imported 303 records (1 duplicates dropped)" in r.stdout
    assert len(ctl.primary.export("example.com.").splitlines()) == 303
    r = ctl("zone", "import", "example.com", good)
    assert r.returncode == 4 and "exists" in r.stderr
    r = ctl("--json", "zone", "import", "example.com", good, "--replace", "--batch", "7")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 304 and out["requests"] > 40
    assert len(ctl.primary.export("example.com.").splitlines()) == 303

    # a syntax error: reported with line and column, nothing created
    bad = zone_file(tmp_path / "bad.zone", origin="bad.example.", n=20, extra="x A 1.2.3\n")
    r = ctl("zone", "import", "bad.example", bad)
    assert r.returncode == 1
    assert "bad.zone:26:5: error: bad IPv4 address" in r.stderr and "error:" in r.stderr, r.stderr
    assert ctl("zone", "show", "bad.example").returncode == 3
    # refused by the server part-way (a DNSSEC record): the zone goes again
    late = zone_file(tmp_path / "late.zone", origin="late.example.", n=40,
                     extra="h5 RRSIG A 13 3 300 20300101000000 20200101000000 1 late.example. "
                           "AAAA\n")
    r = ctl("zone", "import", "late.example", late, "--batch", "5")
    assert r.returncode == 1, r.stdout
    assert "deleted again" in r.stderr
    assert ctl("zone", "show", "late.example").returncode == 3


def test_import_text_fidelity(ctl, tmp_path):
    """The import's JSON is written as text (no object per record): quotes,
    backslashes and escapes in content, an rrset met again further down the
    file (one more EXTEND in the same request), duplicates far apart, a big
    rrset split at 5000 records; what the primary holds is the file."""
    import dns.zone
    extra = ('t1 TXT "a \\"quoted\\" word" "back\\\\slash" "\\009tab\\255"\n'
             'multi A 192.0.2.1\nother A 192.0.2.9\nmulti A 192.0.2.2\n'
             'other A 192.0.2.9\nmulti A 192.0.2.1\n'
             '\\"odd\\ name A 192.0.2.3\n')
    extra += "".join("big A 10.1.%d.%d\n" % (i >> 8, i & 255) for i in range(6001))
    f = zone_file(tmp_path / "fid.zone", origin="fid.example.", n=30, extra=extra)
    r = ctl("--json", "zone", "import", "fid.example", f)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["duplicates"] == 2, out
    want = dns.zone.from_file(f, origin="fid.example.", relativize=False)
    got = dns.zone.from_text(ctl.primary.export("fid.example."), origin="fid.example.",
                             relativize=False)

    def rrs(z):
        return sorted((str(n), rd.rdtype, rd.to_text()) for n, node in z.nodes.items()
                      for rds in node.rdatasets for rd in rds if rd.rdtype != 6)
    assert rrs(got) == rrs(want)
    # NS, ns1 A, 30 h*, t1 TXT, multi A x2, other A, the odd name, big A x6001
    assert len(rrs(got)) == 2 + 30 + 1 + 2 + 1 + 1 + 6001


def test_check(ctl, tmp_path):
    good = zone_file(tmp_path / "example.com.zone")
    r = ctl("check", good)
    assert r.returncode == 0 and r.stdout.endswith("53 records, OK\n"), r.stdout
    assert json.loads(ctl("--json", "check", good).stdout)["records"] == 53
    bad = zone_file(tmp_path / "example.net.zone", origin="example.net.", extra="bad IN A x\n")
    r = ctl("check", bad)
    assert r.returncode == 1 and "example.net.zone:56:" in r.stderr, r.stderr
    r = ctl("check", "--origin", "other.example", good)
    assert r.returncode == 1 and "outside the zone" in r.stderr


def editor(tmp_path, body):
    p = tmp_path / "editor.sh"
    p.write_text("#!/bin/sh\nset -e\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return str(p)


def test_zone_edit(ctl, tmp_path):
    assert ctl("zone", "import", "example.com", zone_file(tmp_path / "z.zone", n=10)).returncode == 0
    before = ctl.primary.serial("example.com.")
    njournal = len(json.loads(ctl("--json", "journal", "example.com").stdout)["entries"])
    ed = editor(tmp_path, "sed -i -e 's/^h1\\.example\\.com\\. 300 IN A .*/h1.example.com. 600 IN A 192.0.2.99/' "
                          "-e '/^h2\\.example\\.com\\./d' \"$1\"\n"
                          "echo 'new.example.com. 300 IN AAAA 2001:db8::1' >> \"$1\"\n")
    r = ctl("zone", "edit", "example.com", env_extra={"EDITOR": ed, "VISUAL": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "zone example.com.: 3 rrsets changed\n"
    text = ctl.primary.export("example.com.")
    assert "h1.example.com. 600 IN A 192.0.2.99" in text
    assert "h2.example.com." not in text and "new.example.com. 300 IN AAAA 2001:db8::1" in text
    # one change: one journal entry, one serial step
    j = json.loads(ctl("--json", "journal", "example.com").stdout)["entries"]
    assert len(j) == njournal + 1 and j[-1]["serial_from"] == before

    # unchanged text: nothing sent
    r = ctl("zone", "edit", "example.com", env_extra={"EDITOR": "true", "VISUAL": ""})
    assert r.returncode == 0 and "no changes" in r.stdout
    # text that does not parse: nothing changed, the text kept
    serial = ctl.primary.serial("example.com.")
    ed = editor(tmp_path, "echo 'broken IN A 300.1.1.1' >> \"$1\"\n")
    r = ctl("zone", "edit", "example.com", env_extra={"EDITOR": ed, "VISUAL": ""})
    assert r.returncode == 1 and "kept in /tmp/anycstc-edit-" in r.stderr
    kept = r.stderr.split("kept in ")[1].split()[0]
    assert os.path.exists(kept)
    os.unlink(kept)
    assert ctl.primary.serial("example.com.") == serial
    # the zone changes while the editor is open: If-Match refuses (exit 4)
    ed = editor(tmp_path, "%s record add example.com other A 300 192.0.2.7 >/dev/null\n"
                          "sed -i 's/192.0.2.99/192.0.2.98/' \"$1\"\n" % ANYCSTC)
    r = ctl("zone", "edit", "example.com", env_extra={"EDITOR": ed, "VISUAL": ""})
    assert r.returncode == 4, r.stderr
    assert "changed since it was read" in r.stderr
    os.unlink(r.stderr.split("kept in ")[1].split()[0])
    assert "192.0.2.98" not in ctl.primary.export("example.com.")


def test_keys_and_pops(ctl):
    r = ctl("key", "add", "tsig", "k1", "--algorithm", "hmac-sha512")
    assert r.returncode == 0, r.stderr
    name, alg, secret = r.stdout.strip().split(":", 2)
    assert (name, alg) == ("k1", "hmac-sha512") and len(base64.b64decode(secret)) == 64
    r = ctl("key", "list", "tsig")
    assert [l.split() for l in r.stdout.splitlines()][1:] == [["k1", "hmac-sha512"]]
    assert secret not in r.stdout
    r = ctl("--json", "key", "add", "api", "acme", "--description", "ci")
    assert r.returncode == 0, r.stderr
    k = json.loads(r.stdout)
    assert k["account"] == "acme" and k["key"]
    keys = json.loads(ctl("--json", "key", "list", "api").stdout)
    assert [x["account"] for x in keys] == ["acme"]
    # the account key cannot manage keys: exit 6
    r = ctl("key", "list", env_extra={"ANYCST_API_KEY": k["key"]})
    assert r.returncode == 6
    assert ctl("key", "delete", "api", str(k["id"])).returncode == 0
    assert ctl("key", "delete", "tsig", "k1").returncode == 0
    assert ctl("key", "delete", "tsig", "k1").returncode == 3

    pub = base64.b64encode(os.urandom(32)).decode()
    r = ctl("pop", "add", "tokyo", "192.0.2.10:51820", pub, "--dns-port", "5353")
    assert r.returncode == 0, r.stderr
    assert "mesh address 10.53.0.2" in r.stdout and "anycst-secondary" in r.stdout
    assert "pop-tokyo.:hmac-sha256:" in r.stdout
    r = ctl("pop", "list")
    assert r.stdout.splitlines()[1].split()[:3] == ["tokyo", "10.53.0.2", "192.0.2.10:51820"]
    assert ctl("pop", "add", "tokyo", "192.0.2.11:51820", pub).returncode == 4
    one = json.loads(ctl("--json", "pop", "config", "tokyo").stdout)
    assert one["mesh_ip"] == "10.53.0.2"
    r = ctl("pop", "config")
    assert r.returncode == 0 and pub in r.stdout
    st = json.loads(ctl("--json", "status").stdout)
    assert [p["name"] for p in st["pops"]] == ["tokyo"]
    assert ctl("pop", "delete", "tokyo").returncode == 0
    assert ctl("pop", "delete", "tokyo").returncode == 3

    # the primary nodes: this one alone on SQLite; it cannot remove itself
    r = ctl("node", "list")
    assert r.returncode == 0, r.stderr
    assert [l.split()[:2] for l in r.stdout.splitlines()[1:]] == [["10.53.0.1", "yes"]]
    r = ctl("node", "remove", "10.53.0.1")
    assert r.returncode == 4 and "10.53.0.1 is this node" in r.stderr, r.stderr
    r = ctl("node", "remove", "10.53.0.9")
    assert r.returncode == 3 and "no primary node 10.53.0.9" in r.stderr, r.stderr
    assert ctl("node", "frob").returncode == 2


def test_key_allow_catalog_and_zones(ctl):
    """key allow|disallow NAME (ZONE|--catalog): the TSIG key in the zones'
    master_tsig_key_ids, the catalog's name asked from the server, and an AXFR
    signed with the key refused before and served after (the local secondary's
    path without curl, issue 17)."""
    import dns.exception
    import dns.query
    import dns.tsig

    from anycst_e2e import axfr_set, keyring
    p = ctl.primary
    r = ctl("key", "add", "tsig", "local")
    assert r.returncode == 0, r.stderr
    name, _, secret = r.stdout.strip().split(":", 2)
    kr = keyring("local.", secret)
    cat = "catalog.anycst.invalid."
    assert ctl("zone", "create", "example.org", "--ns", "ns1.example.net.").returncode == 0

    def xfr_refused(zone):
        try:
            axfr_set(p.xfr_port, zone, kr, "local.")
        except (dns.query.TransferError, dns.tsig.PeerError, dns.exception.DNSException):
            return True
        return False
    assert xfr_refused(cat) and xfr_refused("example.org.")

    r = ctl("key", "allow", "local", "--catalog", "example.org")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("key allow local. %s: done\nkey allow local. example.org.: done\n" % cat)
    for z in (cat, "example.org."):
        assert p.json("GET", "/zones/%s?rrsets=false" % p.zone_id(z),
                      expect=200)["master_tsig_key_ids"] == ["local."]
    assert axfr_set(p.xfr_port, cat, kr, "local.")
    assert axfr_set(p.xfr_port, "example.org.", kr, "local.")
    # a second allow changes nothing; other keys stay
    r = ctl("key", "allow", "local.", "--catalog")
    assert r.returncode == 0 and r.stdout == "key allow local. %s: already allowed\n" % cat
    assert ctl("key", "add", "tsig", "other").returncode == 0
    assert ctl("key", "allow", "other", "--catalog").returncode == 0
    assert sorted(p.json("GET", "/zones/%s?rrsets=false" % p.zone_id(cat),
                         expect=200)["master_tsig_key_ids"]) == ["local.", "other."]

    r = ctl("key", "disallow", "local", "--catalog")
    assert r.returncode == 0 and r.stdout == "key disallow local. %s: done\n" % cat
    assert p.json("GET", "/zones/%s?rrsets=false" % p.zone_id(cat),
                  expect=200)["master_tsig_key_ids"] == ["other."]
    assert xfr_refused(cat) and not xfr_refused("example.org.")
    r = ctl("key", "disallow", "local", "--catalog")
    assert r.returncode == 0 and "was not allowed" in r.stdout

    # errors: a key the server does not have (422: exit 1, named), no such
    # zone (exit 3), a bad option or no zone at all (exit 2)
    r = ctl("key", "allow", "nosuchkey", "example.org")
    assert r.returncode == 1 and "master_tsig_key_ids" in r.stderr, r.stderr
    r = ctl("key", "allow", "local", "nosuch.example")
    assert r.returncode == 3 and "nosuch.example." in r.stderr, r.stderr
    assert ctl("key", "allow", "local", "--bogus").returncode == 2
    assert ctl("key", "allow", "local").returncode == 2
