"""Fixtures for the report tests (the fixture home is built by ``reportkit``)."""

from __future__ import annotations

import pytest

from detector.settings import Settings

from .reportkit import build_home


@pytest.fixture
def home(tmp_path) -> Settings:
    return build_home(tmp_path / "home")


@pytest.fixture(scope="module")
def report_files(tmp_path_factory):
    """One report of the fixture home written once per module (rendering charts is slow)."""
    from detector.report import write_report

    base = tmp_path_factory.mktemp("report")
    return write_report(build_home(base / "home"), base / "out" / "day.html")
