"""Fixtures for the security regression tests: the API test home (verdicts, clusters, keys per
role) from ``tests/api/fixtures.py``, and a client over it."""

from __future__ import annotations

import pytest
from api.fixtures import build_home
from fastapi.testclient import TestClient

from detector.api.app import create_app


@pytest.fixture()
def home(tmp_path):
    return build_home(tmp_path / "home")


@pytest.fixture()
def settings(home):
    return home[0]


@pytest.fixture()
def keys(home):
    return home[1]


@pytest.fixture()
def client(settings):
    with TestClient(create_app(settings, check_every_s=0.1), raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
