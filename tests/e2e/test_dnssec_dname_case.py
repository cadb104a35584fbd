"""DNAME occlusion under signing and mixed-case RDATA (issue 15).

Names below a DNAME are occluded (RFC 6672 §2.4): not in the NSEC/NSEC3
chain, not signed.  Record content keeps the case it was written in
(schema 0006); the signer signs the canonical (lower-case) form, so the
zone as transferred, with its mixed-case RDATA, must verify.  Checked on
the primary's AXFR and on the POP's copy with dnssec-verify,
ldns-verify-zone and kzonecheck, for NSEC and NSEC3, after the DNAME
arrives over data already there, with that data deleted, and after it goes
again.  (kzonecheck refuses data below a DNAME outright, RFC 6672 §2.4: for
that state it must report only that.)"""
import os
import subprocess

import dns.message
import dns.query
import dns.rdatatype
import pytest
from test_dnssec_sign import pop_copy

from anycst_e2e import (Primary, Secondary, TmpDir, free_port, keyring, tsig_file_args,
                        wait_until)

Z = "dcase.test."
KEY = "pop-key."


def rr(name, typ, *contents, changetype="REPLACE"):
    return {"name": name, "type": typ, "ttl": 300, "changetype": changetype,
            "records": [{"content": c, "disabled": False} for c in contents]}


CREATE = [rr(Z, "SOA", "Ns1.DCase.Test. HostMaster.DCase.Test. 1 3600 600 86400 300"),
          rr(Z, "NS", "Ns1.DCase.Test."),
          rr(Z, "MX", "10 Mail.Example.COM."),
          rr("ns1." + Z, "A", "192.0.2.1"),
          rr("www." + Z, "CNAME", "Target.Example.NET."),
          rr("_sip._tcp." + Z, "SRV", "0 5 5060 SipServer.Example.ORG."),
          rr("ptr." + Z, "PTR", "Host.Example.Com."),
          rr("sub." + Z, "NS", "Ns.Sub.DCase.Test."),
          rr("ns.sub." + Z, "A", "192.0.2.2"),
          rr("rp." + Z, "RP", "Admin.Example.Com. Info.Example.Com."),
          rr("a.dn." + Z, "A", "192.0.2.3"),
          rr("b.a.dn." + Z, "TXT", '"below"')]


def run(args):
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def axfr_text(p, secret):
    lines = []
    for m in dns.query.xfr("127.0.0.1", Z, port=p.xfr_port, keyring=keyring(KEY, secret),
                           keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20,
                           relativize=False):
        for rrset in m.answer:
            for rd in rrset:
                lines.append("%s %d IN %s %s" % (rrset.name, rrset.ttl,
                                                 dns.rdatatype.to_text(rd.rdtype), rd.to_text()))
    return "\n".join(lines[:-1]) + "\n"


def pop_axfr_text(sec, serial):
    """The POP's copy (its state file at `serial`) as zone text."""
    state = sec.state_dir
    wait_until(lambda: pop_copy(state, Z)[0] == serial, 15, what="POP state at %d" % serial)
    recs = sorted(pop_copy(state, Z)[1], key=lambda r: (r[2] != "SOA", r))
    return "".join("%s %d IN %s %s\n" % r for r in recs)


def verify(d, text, name, knot=True):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    if not knot:
        # data below a DNAME breaks RFC 6672 §2.4's MUST NOT; kzonecheck calls it a
        # serious error and then still wants those occluded names in the chain
        # (BIND and ldns treat them as occluded, as the signer does): only that
        r = run(["kzonecheck", "-o", Z, "-d", "on", path])
        errs = {l.split("]", 1)[1].strip() for l in r.stdout.splitlines() if l.startswith("[")}
        assert r.returncode != 0 and errs == {"child record exists under DNAME",
                                              "missing NSEC(3) record"}, r.stdout
        bad = {l.split("]")[0][1:] for l in r.stdout.splitlines()
               if l.startswith("[") and "missing NSEC" in l}
        assert all(b.endswith(".dn." + Z) for b in bad), bad
    tools = [["dnssec-verify", "-z", "-o", Z, path], ["ldns-verify-zone", path]]
    if knot:
        tools.append(["kzonecheck", "-o", Z, "-d", "on", path])
    for args in tools:
        r = run(args)
        assert r.returncode == 0, (args, (r.stdout + r.stderr)[:2000])


def owners_of(text, typ):
    return {l.split()[0].lower() for l in text.splitlines() if l.split()[3] == typ}


def covered(text):
    """(owner, covered type) of every RRSIG."""
    return {(l.split()[0].lower(), l.split()[4]) for l in text.splitlines()
            if l.split()[3] == "RRSIG"}


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_dname_occlusion_and_mixed_case(denial):
    with TmpDir() as d:
        sport = free_port()
        p = Primary(d, notify=["127.0.0.1:%d" % sport],
                    extra=["--dnssec-key-file", os.path.join(d, "dnssec.key")])
        sec = None
        try:
            secret = p.add_key(KEY)
            p.allow_catalog(KEY)
            fields = {"dnssec": True, "master_tsig_key_ids": [KEY]}
            if denial == "nsec3":
                fields["nsec3param"] = "1 0 0 -"
            p.create_zone(Z, rrsets=CREATE, nameservers=(), **fields)
            sec = Secondary(d, p.xfr_port, port=sport, tsig=False,
                            extra=tsig_file_args(d, KEY, secret)).start()
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="zone at the POP")
            text = axfr_text(p, secret)
            # the content keeps its case in the transfer
            for s in ("Target.Example.NET.", "Mail.Example.COM.", "SipServer.Example.ORG.",
                      "Host.Example.Com.", "Admin.Example.Com."):
                assert s in text, s
            assert ("b.a.dn." + Z, "TXT") in covered(text)
            verify(d, text, "before.zone")

            # the DNAME arrives over names already there: they leave chain and signatures
            p.patch(Z, [rr("dn." + Z, "DNAME", "Other.Example.NET.")])
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="DNAME at the POP")
            text = axfr_text(p, secret)
            assert "Other.Example.NET." in text
            assert ("dn." + Z, "DNAME") in covered(text)
            for o, t in covered(text):
                assert not o.endswith(".dn." + Z), (o, t)
            if denial == "nsec":
                assert owners_of(text, "NSEC") & {"a.dn." + Z, "b.a.dn." + Z} == set()
                assert "dn." + Z in owners_of(text, "NSEC")
            else:
                assert len(owners_of(text, "NSEC3")) == len(
                    {"", "ns1.", "www.", "_tcp.", "_sip._tcp.", "ptr.", "sub.", "rp.", "dn."})
            verify(d, text, "dname.zone", knot=False)
            pop = pop_axfr_text(sec, p.serial(Z))
            assert sorted(pop.lower().splitlines()) == sorted(text.lower().splitlines())
            verify(d, pop, "dname-pop.zone", knot=False)
            # DO=1 at the POP: the DNAME comes signed
            q = dns.message.make_query("x.dn." + Z, "A", want_dnssec=True)
            r = dns.query.udp(q, "127.0.0.1", port=sec.port, timeout=2)
            types = {(rs.rdtype, rs.covers) for rs in r.answer}
            assert (dns.rdatatype.DNAME, 0) in types, r
            assert (dns.rdatatype.RRSIG, dns.rdatatype.DNAME) in types, r

            # the occluded data deleted (they had no chain records): a clean DNAME zone
            p.patch(Z, [rr("a.dn." + Z, "A", changetype="DELETE"),
                        rr("b.a.dn." + Z, "TXT", changetype="DELETE")])
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="children gone")
            text = axfr_text(p, secret)
            assert ".dn." + Z not in text.lower()
            verify(d, text, "clean.zone")
            verify(d, pop_axfr_text(sec, p.serial(Z)), "clean-pop.zone")

            # data back below it, then the DNAME goes: the names join the chain, signed
            p.patch(Z, [rr("a.dn." + Z, "A", "192.0.2.3"), rr("b.a.dn." + Z, "TXT", '"below"')])
            verify(d, axfr_text(p, secret), "again.zone", knot=False)
            p.patch(Z, [rr("dn." + Z, "DNAME", changetype="DELETE")])
            wait_until(lambda: sec.serial(Z) == p.serial(Z), 15, what="DNAME gone")
            text = axfr_text(p, secret)
            assert ("b.a.dn." + Z, "TXT") in covered(text)
            assert ("a.dn." + Z, "A") in covered(text)
            verify(d, text, "after.zone")
        finally:
            if sec is not None:
                sec.stop()
            p.stop()
