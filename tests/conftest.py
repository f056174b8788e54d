from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.app import App
from tests.support import FakeClock, make_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(tmp_path: Path, clock: FakeClock) -> App:
    return make_app(tmp_path, clock)
