"""Fixtures for the hooks tests (helpers live in ``hookkit``)."""

from __future__ import annotations

import pytest

from .hookkit import Receiver, free_port


@pytest.fixture
def receiver():
    r = Receiver(free_port())
    yield r
    r.stop()
