"""Every distributed test kills the process groups it started when it ends."""

from __future__ import annotations

import pytest

from tests.distributed._launch import kill_all


@pytest.fixture(autouse=True)
def _kill_launches():
    yield
    kill_all()
