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
