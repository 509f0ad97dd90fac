import sys
import os

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from origin import Origin  # noqa: E402


@pytest.fixture
def origin():
    o = Origin()
    yield o
    o.close()


@pytest.fixture
def started():
    """Collects Proxy objects; any still running at teardown is killed
    (a failed test must not leave a daemon behind)."""
    proxies = []
    yield proxies
    for p in proxies:
        if p.proc and p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)
