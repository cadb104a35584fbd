"""ACME DNS-01 through DNS UPDATE: Debian's certbot with python3-certbot-dns-rfc2136,
and Debian's lego with --dns rfc2136, each get a certificate from pebble (Debian's)
for a name in a zone of our primary.  The clients send TSIG-signed UPDATEs (and
certbot signed SOA queries) to the primary's --xfr listener; pebble checks the
challenge TXT record at an anycst-secondary, so the record went the whole way:
UPDATE, store, NOTIFY, IXFR, served.  lego with --dns pdns does the same through
the primary's PowerDNS-compatible REST API (GET /api, GET and PATCH the zone)."""
import os
import shutil
import subprocess

import pytest

from anycst_e2e import Pebble, Primary, Secondary, free_port, tsig_file_args, wait_until

ZONE = "acme.example."
XFR_KEY = "pop-key."
UPD_KEY = "acme-upd."

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble not installed")


def start_all(tmp):
    sport = free_port()
    p = Primary(tmp, notify=["127.0.0.1:%d" % sport])
    xs = p.add_key(XFR_KEY)
    us = p.add_key(UPD_KEY)
    p.allow_catalog(XFR_KEY)
    p.add_zone(ZONE, keys=[XFR_KEY])
    p.api("PUT", "/zones/" + ZONE, {"update_tsig_key_ids": [UPD_KEY]})
    sec = Secondary(tmp, p.xfr_port, port=sport, tsig=False,
                    extra=tsig_file_args(tmp, XFR_KEY, xs)).start()
    wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 10, what="secondary has the zone")
    return p, sec, us, Pebble(tmp, sport)


def changes(p):
    return [e for e in p.log().splitlines() if "DNS UPDATE from" in e and "serial" in e]


@pytest.mark.skipif(shutil.which("certbot") is None, reason="certbot not installed")
def test_certbot_rfc2136(tmp_path):
    tmp = str(tmp_path)
    p, sec, secret, pebble = start_all(tmp)
    try:
        creds = os.path.join(tmp, "rfc2136.ini")
        with open(creds, "w") as f:
            f.write("dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = %d\n"
                    "dns_rfc2136_name = %s\ndns_rfc2136_secret = %s\n"
                    "dns_rfc2136_algorithm = HMAC-SHA256\ndns_rfc2136_sign_query = true\n"
                    % (p.xfr_port, UPD_KEY, secret))
        os.chmod(creds, 0o600)
        d = os.path.join(tmp, "certbot")
        env = dict(os.environ, REQUESTS_CA_BUNDLE=pebble.ca_file)
        r = subprocess.run(
            ["certbot", "certonly", "--non-interactive", "--agree-tos", "-m", "ops@acme.example",
             "--server", pebble.directory, "--dns-rfc2136", "--dns-rfc2136-credentials", creds,
             "--dns-rfc2136-propagation-seconds", "2", "-d", "www." + ZONE.rstrip("."),
             "--config-dir", d + "/config", "--work-dir", d + "/work", "--logs-dir", d + "/logs",
             "--key-type", "ecdsa"],
            capture_output=True, text=True, timeout=180, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        live = os.path.join(d, "config", "live", "www." + ZONE.rstrip("."), "fullchain.pem")
        assert os.path.exists(live)
        # the challenge was added and removed by two UPDATEs
        assert len(changes(p)) >= 2, p.log()[-3000:]
    finally:
        pebble.stop()
        sec.stop()
        p.stop()


@pytest.mark.skipif(shutil.which("lego") is None, reason="lego not installed")
def test_lego_rfc2136(tmp_path):
    tmp = str(tmp_path)
    p, sec, secret, pebble = start_all(tmp)
    try:
        env = dict(os.environ, LEGO_CA_CERTIFICATES=pebble.ca_file,
                   RFC2136_NAMESERVER="127.0.0.1:%d" % p.xfr_port,
                   RFC2136_TSIG_KEY=UPD_KEY, RFC2136_TSIG_SECRET=secret,
                   RFC2136_TSIG_ALGORITHM="hmac-sha256.",
                   RFC2136_PROPAGATION_TIMEOUT="30", RFC2136_POLLING_INTERVAL="1")
        r = subprocess.run(
            ["lego", "--accept-tos", "--email", "ops@acme.example", "--server", pebble.directory,
             "--dns", "rfc2136", "--dns.resolvers", "127.0.0.1:%d" % sec.port, "--dns.disable-cp",
             "--domains", "lego." + ZONE.rstrip("."), "--path", os.path.join(tmp, "lego"),
             "--key-type", "ec256", "run"],
            capture_output=True, text=True, timeout=180, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert os.path.exists(os.path.join(tmp, "lego", "certificates",
                                           "lego.%s.crt" % ZONE.rstrip(".")))
        assert len(changes(p)) >= 2, p.log()[-3000:]
    finally:
        pebble.stop()
        sec.stop()
        p.stop()


@pytest.mark.skipif(shutil.which("lego") is None, reason="lego not installed")
def test_lego_pdns(tmp_path):
    tmp = str(tmp_path)
    p, sec, _, pebble = start_all(tmp)
    try:
        serial = p.serial(ZONE)
        env = dict(os.environ, LEGO_CA_CERTIFICATES=pebble.ca_file,
                   PDNS_API_URL=p.api_url, PDNS_API_KEY=p.key, PDNS_SERVER_NAME="localhost",
                   PDNS_PROPAGATION_TIMEOUT="30", PDNS_POLLING_INTERVAL="1")
        r = subprocess.run(
            ["lego", "--accept-tos", "--email", "ops@acme.example", "--server", pebble.directory,
             "--dns", "pdns", "--dns.resolvers", "127.0.0.1:%d" % sec.port, "--dns.disable-cp",
             "--domains", "pdns." + ZONE.rstrip("."), "--path", os.path.join(tmp, "lego"),
             "--key-type", "ec256", "run"],
            capture_output=True, text=True, timeout=180, env=env)
        assert r.returncode == 0, r.stdout + r.stderr + p.log()[-3000:]
        assert os.path.exists(os.path.join(tmp, "lego", "certificates",
                                           "pdns.%s.crt" % ZONE.rstrip(".")))
        # the challenge TXT was added and removed through the API: two serial bumps,
        # and the zone is left without it (the secondary follows)
        assert p.serial(ZONE) >= serial + 2
        rrsets = p.api("GET", "/zones/" + p.zone_id(ZONE))["rrsets"]
        assert not [rr for rr in rrsets if rr["type"] == "TXT"], rrsets
        wait_until(lambda: sec.serial(ZONE) == p.serial(ZONE), 10, what="secondary follows")
    finally:
        pebble.stop()
        sec.stop()
        p.stop()
