"""pytest fixtures for the e2e tests; the helpers themselves are in anycst_e2e/.

    def test_x(primary):
        st, hdrs, body = primary.call("GET", "/zones")
        primary.api_url, primary.key, primary.xfr_addr, primary.db_path,
        primary.log_path, primary.stop(), primary.restart(), primary.kill()

`primary_factory(**kw)` starts more (or differently configured) primaries:
extra=["--journal-keep", "5"], catalog="cat.test.".  Every process is started
by anycst_e2e.Primary and stopped by its own PID; temp dirs are removed afterwards.
"""
import os
import shutil
import signal
import tempfile
import time

import pytest

from anycst_e2e import Primary
from anycst_e2e.core import SHARED, STARTED, log_tails, proc_children

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.anycst_started = len(STARTED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries the log tails of the daemons it started
    (those whose logs are still there)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        item.module.anycst_failed = True
        tails = log_tails(since=getattr(item, "anycst_started", len(STARTED)))
        if tails:
            rep.sections.append(("anycst daemon logs", tails))


@pytest.fixture
def primary_factory():
    made = []

    def make(**kw):
        d = tempfile.mkdtemp(prefix="anycst-e2e-")
        p = Primary(d, **kw)
        made.append((p, d))
        return p

    yield make
    for p, d in made:
        p.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def primary(primary_factory):
    return primary_factory()


def _running_children():
    """(pid, name) of this process's children still running (not zombies, not SHARED)."""
    return [(pid, name) for pid, name, state in proc_children().get(os.getpid(), [])
            if state != "Z" and pid not in SHARED]


def _stop_children(kids, timeout=5):
    for pid, _ in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + timeout
    while time.monotonic() < end and _running_children():
        time.sleep(0.05)
    for pid, _ in _running_children():
        os.kill(pid, signal.SIGKILL)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test file (its module fixtures stopped), nothing it started may
    still run: a process left behind (a peer a failing check skipped the stop
    of) is stopped here, by its PID; after a file whose tests all passed it
    is a defect of that file, reported as an error."""
    yield
    if nextitem is not None and nextitem.module is item.module:
        return
    kids = _running_children()
    if not kids:
        return
    _stop_children(kids)
    if not getattr(item.module, "anycst_failed", False):
        raise AssertionError("%s left running: %s" % (
            item.module.__name__, ", ".join("%s (pid %d)" % (n, p) for p, n in kids)))
