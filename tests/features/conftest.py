"""Fixtures of the feature tests: a fresh home folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(tmp_path / "home")
    s.ensure_dirs()
    return s


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One home per test module, for modules that compute a day once and check many features."""
    s = load_settings(tmp_path_factory.mktemp("feat") / "home")
    s.ensure_dirs()
    return s
