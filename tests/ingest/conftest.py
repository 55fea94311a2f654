"""Fixtures for ingest tests: a fresh home folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.settings import Settings, load_settings


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return load_settings(tmp_path / "home")
