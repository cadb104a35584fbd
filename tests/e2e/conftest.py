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
