"""The sample configuration files dist/primary.conf and dist/secondary.conf
(installed as /etc/anycst/*.conf, issue 17.2) name every option of their
daemon, and the daemons start from them (paths and ports moved into a temp
dir): the samples stay in step with the code."""
import os
import re
import subprocess

from anycst_e2e import BIN, TmpDir, free_port, wait_until
from anycst_e2e.core import http_get

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def options(daemon):
    out = subprocess.run([os.path.join(BIN, daemon), "--help"], capture_output=True, text=True,
                         check=True).stdout
    names = re.findall(r"^  --([a-z0-9-]+)", out, re.M)
    return [n for n in names if n not in ("config", "help", "version")]


def sample(name):
    with open(os.path.join(ROOT, "dist", name)) as f:
        return f.read()


def test_samples_name_every_option():
    for daemon, conf in (("anycst-primary", "primary.conf"),
                         ("anycst-secondary", "secondary.conf")):
        text = sample(conf)
        named = set(re.findall(r"^#? ?([a-z0-9-]+)(?: =|:)", text, re.M))
        missing = [o for o in options(daemon) if o not in named]
        assert not missing, (conf, missing)
        assert not re.search(r"^tsig\s*=", text, re.M)   # never a secret in the file


def localize(text, repl):
    for k, v in repl.items():
        text = re.sub(r"^%s = .*$" % re.escape(k), "%s = %s" % (k, v), text, flags=re.M)
    return text


def up(proc, url, logpath):
    """Whether `proc` answers `url`; its log when it has exited."""
    if proc.poll() is not None:
        with open(logpath, errors="replace") as f:
            raise AssertionError("exited %s:\n%s" % (proc.returncode, f.read()[-3000:]))
    try:
        return http_get(url, timeout=1)[0] == 200
    except OSError:
        return False


def test_daemons_start_from_the_samples():
    with TmpDir() as d:
        api, xfr, quic, metrics = free_port(), free_port(), free_port(), free_port()
        pconf = os.path.join(d, "primary.conf")
        with open(pconf, "w") as f:
            f.write(localize(sample("primary.conf"), {
                "db": os.path.join(d, "anycst.db"), "api-key-file": os.path.join(d, "api.key"),
                "tls-key": os.path.join(d, "tls.key"), "api": "127.0.0.1:%d" % api,
                "xfr": "127.0.0.1:%d" % xfr, "quic": "127.0.0.1:%d" % quic,
                "metrics": "127.0.0.1:%d" % metrics}))
        log = open(os.path.join(d, "p.log"), "w")
        p = subprocess.Popen([os.path.join(BIN, "anycst-primary"), "--config", pconf],
                             stdout=log, stderr=subprocess.STDOUT)
        s = None
        try:
            wait_until(lambda: up(p, "http://127.0.0.1:%d/metrics" % metrics, log.name), 10,
                       what="primary up")
            dport, hport = free_port(), free_port()
            sconf = os.path.join(d, "secondary.conf")
            with open(sconf, "w") as f:
                f.write(localize(sample("secondary.conf"), {
                    "state-dir": os.path.join(d, "sec"), "listen": "127.0.0.1:%d" % dport,
                    "http": "127.0.0.1:%d" % hport, "primary": "127.0.0.1:%d" % quic}))
            s = subprocess.Popen([os.path.join(BIN, "anycst-secondary"), "--config", sconf],
                                 stdout=log, stderr=subprocess.STDOUT)
            wait_until(lambda: up(s, "http://127.0.0.1:%d/metrics" % hport, log.name), 10,
                       what="secondary up")
        finally:
            for proc in (s, p):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
            log.close()
