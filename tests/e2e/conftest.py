"""pytest fixtures for the e2e tests; the helpers themselves are in anycst_e2e/.

    def test_x(primary):
        st, hdrs, body = primary.call("GET", "/zones")
        primary.api_url, primary.key, primary.xfr_addr, primary.db_path,
        primary.log_path, primary.stop(), primary.restart(), primary.kill()

`primary_factory(**kw)` starts more (or differently configured) primaries:
extra=["--journal-keep", "5"], catalog="cat.test.".  Every process is started
by anycst_e2e.Primary and stopped by its own PID; temp dirs are removed afterwards.
"""
import shutil
import tempfile

import pytest

from anycst_e2e import Primary
from anycst_e2e.core import STARTED, log_tails

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
