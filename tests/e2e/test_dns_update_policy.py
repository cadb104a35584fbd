"""DNS UPDATE per-key scope (the zone field update_policy, schema 0009) with
`nsupdate -y` (bind9-utils): a key limited to `_acme-challenge.*` TXT may change
only that, anything else REFUSED (RFC 2136 §3.3) with nothing written and no
part of the policy in the answer or the log line; a key without rules changes
anything; the API validates the rules (422 naming the field); the UPDATE
counters on /metrics pass `promtool check metrics`."""
import os
import shutil
import subprocess

import pytest

from anycst_e2e.core import metric
from anycst_e2e import Primary

ZONE = "pol.example."
ACME = "acme-upd."
FULL = "full-upd."
PROMTOOL = shutil.which("promtool")


def nsupdate(p, key, secret, script):
    text = "check-names off\nserver 127.0.0.1 %d\n%s\nsend\n" % (p.xfr_port, script.strip())
    argv = ["nsupdate", "-v", "-t", "5", "-y", "hmac-sha256:%s:%s" % (key.rstrip("."), secret)]
    r = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def start(tmp):
    p = Primary(tmp)
    sa = p.add_key(ACME)
    sf = p.add_key(FULL)
    p.add_zone(ZONE)
    return p, sa, sf


ACME_POLICY = [{"key": ACME, "match": "pattern", "name": "_acme-challenge.*",
                "types": ["TXT"]},
               {"key": ACME, "match": "name", "name": "_acme-challenge", "types": ["txt"]}]


def test_policy_limits_names_and_types(tmp_path):
    p, sa, sf = start(str(tmp_path))
    try:
        p.api("PUT", "/zones/" + ZONE, {"update_tsig_key_ids": [ACME, FULL],
                                        "update_policy": ACME_POLICY})
        z = p.json("GET", "/zones/" + ZONE, expect=200)
        assert z["update_policy"] == [
            {"key": ACME, "match": "pattern", "name": "_acme-challenge.*." + ZONE,
             "types": ["TXT"]},
            {"key": ACME, "match": "name", "name": "_acme-challenge." + ZONE, "types": ["TXT"]}]
        # allowed: TXT at _acme-challenge.www (pattern) and at _acme-challenge (name)
        for owner in ("_acme-challenge.www." + ZONE, "_acme-challenge." + ZONE):
            rc, out = nsupdate(p, ACME, sa, "zone %s\nupdate add %s 60 TXT \"tok\"" %
                               (ZONE, owner))
            assert rc == 0, out
        serial = p.serial(ZONE)
        refused = [
            "update add www.%s 60 A 192.0.2.1" % ZONE,                          # other name
            "update add _acme-challenge.www.%s 60 A 192.0.2.1" % ZONE,          # other type
            "update add _acme-challenge.a.b.%s 60 TXT \"x\"" % ZONE,            # two labels
            "update delete _acme-challenge.www.%s" % ZONE,                      # whole name (ANY)
            # one allowed RR beside one not: the whole UPDATE refused
            "update add _acme-challenge.w2.%s 60 TXT \"x\"\nupdate add %s 60 MX 10 mx.%s" %
            (ZONE, ZONE, ZONE),
        ]
        for script in refused:
            rc, out = nsupdate(p, ACME, sa, "zone %s\n%s" % (ZONE, script))
            assert rc != 0 and "REFUSED" in out, (script, out)
        assert p.serial(ZONE) == serial
        # RFC 2136 §3.2 before §3.3: a failing prerequisite answers its own rcode
        rc, out = nsupdate(p, ACME, sa, "zone %s\nprereq yxdomain nope.%s\n"
                           "update add www.%s 60 A 192.0.2.1" % (ZONE, ZONE, ZONE))
        assert rc != 0 and "NXDOMAIN" in out, out
        # the cleanup an ACME client does: delete its TXT record
        rc, out = nsupdate(p, ACME, sa, "zone %s\nupdate delete _acme-challenge.www.%s TXT "
                           "\"tok\"" % (ZONE, ZONE))
        assert rc == 0, out
        # a key without rules may change anything
        rc, out = nsupdate(p, FULL, sf, "zone %s\nupdate add www.%s 60 A 192.0.2.1\n"
                           "update delete _acme-challenge.%s" % (ZONE, ZONE, ZONE))
        assert rc == 0, out
        log = p.log()
        assert "outside the key's update_policy" in log
        # the refusal names the update, never the rules
        assert "_acme-challenge.*" not in log
        assert "pattern" not in log
        # clearing the rules lifts the limit
        p.api("PUT", "/zones/" + ZONE, {"update_policy": []})
        rc, out = nsupdate(p, ACME, sa, "zone %s\nupdate add mail.%s 60 A 192.0.2.2" %
                           (ZONE, ZONE))
        assert rc == 0, out
        # the rules stay after a restart (stored)
        p.api("PUT", "/zones/" + ZONE, {"update_policy": ACME_POLICY[:1]})
        p.restart()
        rc, out = nsupdate(p, ACME, sa, "zone %s\nupdate add mail2.%s 60 A 192.0.2.2" %
                           (ZONE, ZONE))
        assert rc != 0 and "REFUSED" in out, out
        # deleting the key drops its grant and its rules
        p.api("DELETE", "/tsigkeys/" + ACME)
        assert p.json("GET", "/zones/" + ZONE, expect=200)["update_policy"] == []
    finally:
        p.stop()


@pytest.mark.parametrize("rule,field", [
    ({"key": ACME, "name": "www.other.example."}, "update_policy[0].name"),
    ({"key": ACME, "name": "x", "match": "regex"}, "update_policy[0].match"),
    ({"key": ACME, "name": "x", "types": ["NOPE"]}, "update_policy[0].types[0]"),
    ({"key": ACME, "name": "x", "types": ["AXFR"]}, "update_policy[0].types[0]"),
    ({"key": "no-such-key.", "name": "x"}, "update_policy[0]"),
    ({"name": "x"}, "update_policy[0]"),
    ("x", "update_policy[0]"),
])
def test_policy_api_errors(tmp_path, rule, field):
    p, sa, sf = start(str(tmp_path))
    try:
        st, _, body = p.call("PUT", "/zones/" + ZONE, {"update_policy": [rule]})
        assert st == 422 and field.encode() in body, (st, body)
        assert p.json("GET", "/zones/" + ZONE, expect=200)["update_policy"] == []
        # a zone created with a policy (POST) keeps it
        p.api("POST", "/zones", {"name": "new.example.", "kind": "Native",
                                 "nameservers": ["ns1.example.net."],
                                 "update_tsig_key_ids": [ACME],
                                 "update_policy": [{"key": ACME, "name": "@",
                                                    "match": "name", "types": ["TXT", "ANY"]}]})
        got = p.json("GET", "/zones/new.example.", expect=200)["update_policy"]
        assert got == [{"key": ACME, "match": "name", "name": "new.example.",
                        "types": ["TXT", "ANY"]}]
    finally:
        p.stop()


def test_update_metrics(tmp_path):
    p, sa, sf = start(str(tmp_path))
    try:
        p.api("PUT", "/zones/" + ZONE, {"update_tsig_key_ids": [ACME, FULL],
                                        "update_policy": ACME_POLICY})
        rc, out = nsupdate(p, FULL, sf, "zone %s\nupdate add a.%s 60 A 192.0.2.1" % (ZONE, ZONE))
        assert rc == 0, out
        rc, out = nsupdate(p, FULL, sf, "zone %s\nupdate add a.%s 60 A 192.0.2.1" % (ZONE, ZONE))
        assert rc == 0, out    # nothing to change
        rc, out = nsupdate(p, FULL, sf, "zone %s\nprereq nxdomain a.%s\nupdate add b.%s 60 A "
                           "192.0.2.1" % (ZONE, ZONE, ZONE))
        assert "YXDOMAIN" in out, out
        rc, out = nsupdate(p, ACME, sa, "zone %s\nupdate add c.%s 60 A 192.0.2.1" % (ZONE, ZONE))
        assert "REFUSED" in out, out
        rc, out = nsupdate(p, ACME, sa, "zone other.example.\nupdate add c.other.example. 60 A "
                           "192.0.2.1")
        assert "NOTAUTH" in out, out
        t = p.metrics_text()
        assert metric(t, "anycst_dns_update_received_total") == 5, t
        assert metric(t, "anycst_dns_update_applied_total") == 1
        assert metric(t, "anycst_dns_update_unchanged_total") == 1
        assert metric(t, 'anycst_dns_update_prerequisite_failed_total{rcode="YXDOMAIN"}') == 1
        assert metric(t, 'anycst_dns_update_refused_total{rcode="REFUSED"}') == 1
        assert metric(t, 'anycst_dns_update_refused_total{rcode="NOTAUTH"}') == 1
        assert metric(t, 'anycst_dns_update_failed_total{rcode="SERVFAIL"}') == 0
        if PROMTOOL is None:
            pytest.skip("promtool (Debian prometheus) is missing")
        path = os.path.join(str(tmp_path), "metrics.txt")
        with open(path, "w") as f:
            f.write(t)
        with open(path) as f:
            r = subprocess.run([PROMTOOL, "check", "metrics"], stdin=f, capture_output=True,
                               text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        p.stop()
