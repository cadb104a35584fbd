"""Call-by-call comparison with PowerDNS (issue 16): Debian's pdns_server
(gsqlite3) beside our primary, the same requests sent to both, in order;
status and body shape (the keys of objects, the kinds of values) compared for
every call a listed client makes (octoDNS, external-dns, cert-manager webhook,
Terraform's provider, lego pdns, PowerDNS-Admin).

Every difference that remains must be a row of README.md's table
"Differences from PowerDNS" (its first column is the case name): that table
is the allow-list, and a row whose case no longer differs fails too, so the
table stays true."""
import json
import os
import re

import pytest

from anycst_e2e import TmpDir
from anycst_e2e.pdns import PowerDNS, pdns_available

Z = "diff.example."
ZP = "/zones/" + Z
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


def rr(name, rtype, ttl, *contents, changetype="REPLACE", **kw):
    d = {"name": name, "type": rtype, "ttl": ttl, "changetype": changetype,
         "records": [{"content": c, "disabled": False} for c in contents]}
    d.update(kw)
    return d


# (case name, method, path, body): in order, each seeing the state the earlier left
CASES = [
    ("server", "GET", "", None),
    ("servers", "GET", "/api/v1/servers", None),
    ("zone-missing", "GET", "/zones/missing.example.", None),
    ("zone-create", "POST", "/zones", {"name": Z, "kind": "Native",
                                       "nameservers": ["ns1.example.net."],
                                       "masters": [], "soa_edit_api": "DEFAULT"}),
    ("zone-create-dup", "POST", "/zones", {"name": Z, "kind": "Native",
                                           "nameservers": ["ns1.example.net."]}),
    ("zones-list", "GET", "/zones", None),
    ("zones-list-one", "GET", "/zones?zone=" + Z, None),
    ("zone-get", "GET", ZP, None),
    ("zone-get-norrsets", "GET", ZP + "?rrsets=false", None),
    ("rrset-replace", "PATCH", ZP, {"rrsets": [rr("www." + Z, "A", 300, "192.0.2.1",
                                                  "192.0.2.2")]}),
    ("rrset-txt-acme", "PATCH", ZP, {"rrsets": [rr("_acme-challenge." + Z, "TXT", 60,
                                                   '"token-1"', '"token-2"')]}),
    ("rrset-cname-case", "PATCH", ZP, {"rrsets": [rr("alias." + Z, "CNAME", 300,
                                                     "Target.Example.NET.")]}),
    ("rrset-mx", "PATCH", ZP, {"rrsets": [rr(Z, "MX", 300, "10 Mail.Example.com.")]}),
    ("rrset-comments-only", "PATCH", ZP, {"rrsets": [{"name": "www." + Z, "type": "A",
                                                      "changetype": "REPLACE",
                                                      "comments": [{"content": "web",
                                                                    "account": "ops"}]}]}),
    ("rrset-get-filtered", "GET", ZP + "?rrset_name=www.%s&rrset_type=A" % Z, None),
    ("rrset-delete-null", "PATCH", ZP, {"rrsets": [{"name": "_acme-challenge." + Z,
                                                    "type": "TXT", "changetype": "DELETE",
                                                    "records": None}]}),
    ("rrset-delete-missing", "PATCH", ZP, {"rrsets": [{"name": "nope." + Z, "type": "A",
                                                       "changetype": "DELETE"}]}),
    ("rrset-bad-content", "PATCH", ZP, {"rrsets": [rr("bad." + Z, "A", 60, "not-an-ip")]}),
    ("rrset-outside-zone", "PATCH", ZP, {"rrsets": [rr("www.other.example.", "A", 60,
                                                       "192.0.2.1")]}),
    ("zone-after-patches", "GET", ZP, None),
    ("zone-put", "PUT", ZP, {"kind": "Master", "account": "acc", "masters": ["192.0.2.9"]}),
    ("zone-put-slave", "PUT", ZP, {"kind": "Slave"}),
    ("zone-notify", "PUT", ZP + "/notify", None),
    ("zone-rectify", "PUT", ZP + "/rectify", None),
    ("zone-export", "GET", ZP + "/export", None),
    ("metadata-list", "GET", ZP + "/metadata", None),
    ("metadata-post", "POST", ZP + "/metadata", {"kind": "ALLOW-AXFR-FROM",
                                                 "metadata": ["192.0.2.0/24"]}),
    ("metadata-get", "GET", ZP + "/metadata/ALLOW-AXFR-FROM", None),
    ("metadata-put", "PUT", ZP + "/metadata/ALLOW-AXFR-FROM", {"kind": "ALLOW-AXFR-FROM",
                                                               "metadata": ["198.51.100.0/24"]}),
    ("metadata-delete", "DELETE", ZP + "/metadata/ALLOW-AXFR-FROM", None),
    ("cryptokeys-list", "GET", ZP + "/cryptokeys", None),
    ("search", "GET", "/search-data?q=www*&max=10", None),
    ("statistics-one", "GET", "/statistics?statistic=uptime", None),
    ("statistics-unknown", "GET", "/statistics?statistic=nope", None),
    ("autoprimaries", "GET", "/autoprimaries", None),
    ("cache-flush", "PUT", "/cache/flush?domain=" + Z, None),
    ("tsigkey-create", "POST", "/tsigkeys", {"name": "diff-key", "algorithm": "hmac-sha256"}),
    ("tsigkeys-list", "GET", "/tsigkeys", None),
    ("zone-delete", "DELETE", ZP, None),
    ("zone-deleted", "GET", ZP, None),
]


def shape(v):
    """Keys of objects and kinds of values, recursively; lists by their elements' union."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        kinds = []
        for x in v:
            s = shape(x)
            if s not in kinds:
                kinds.append(s)
        return ["list"] + sorted(kinds, key=json.dumps)
    return type(v).__name__


def answer(server, method, path, body):
    st, h, out = server.call(method, path, body)
    try:
        b = shape(json.loads(out)) if out else ""
    except ValueError:
        b = "text"
    return st, b


def readme_allowed():
    text = open(README).read()
    sec = text.split("## Differences from PowerDNS", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", sec, re.M))


@pytest.mark.skipif(not pdns_available(), reason="pdns_server with gsqlite3 not installed")
def test_same_answers_as_powerdns(primary):
    allowed = readme_allowed()
    assert allowed, "README.md has no 'Differences from PowerDNS' table"
    names = [c[0] for c in CASES]
    assert allowed <= set(names), allowed - set(names)
    with TmpDir() as d, PowerDNS(d) as pdns:
        differ = {}
        for name, method, path, body in CASES:
            want = answer(pdns, method, path, body)
            got = answer(primary, method, path, body)
            if want != got:
                differ[name] = (want, got)
    unlisted = {k: v for k, v in differ.items() if k not in allowed}
    assert unlisted == {}, json.dumps(unlisted, indent=1)[:6000]
    stale = allowed - set(differ)
    assert stale == set(), "README rows whose case no longer differs: %s" % sorted(stale)
