"""Files of a home are owner-only by default (0600 files, 0700 folders: case database, keys'
hashes, lake), owner+group with ``group_access``."""

from __future__ import annotations

import os
import stat

import pyarrow as pa
import pytest

from detector.cases import CaseStore
from detector.lake.io import write_parquet_atomic
from detector.settings import load_settings


@pytest.fixture(autouse=True)
def _keep_umask():
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("group, file_mode, dir_mode", [(False, 0o600, 0o700),
                                                         (True, 0o660, 0o770)])
def test_home_files_are_private(tmp_path, monkeypatch, group, file_mode, dir_mode):
    os.umask(0o022)  # a typical login umask: what made the files 0644 before
    if group:
        monkeypatch.setenv("DETECTOR_GROUP_ACCESS", "1")
    settings = load_settings(tmp_path / "home")
    settings.ensure_dirs()
    store = CaseStore(settings)
    store.create_key("admin", "t")
    part = settings.requests_dir / "date=2026-11-27" / "part-0.parquet"
    write_parquet_atomic(part, pa.table({"x": [1]}))
    assert _mode(settings.home) == dir_mode
    for folder in (settings.lake, settings.requests_dir, settings.state_dir, part.parent):
        assert _mode(folder) == dir_mode, folder
    for f in (settings.cases_db, part):
        assert _mode(f) == file_mode, f
