from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from detector.api.app import create_app

from .fixtures import build_home


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
    app = create_app(settings, check_every_s=0.1)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
