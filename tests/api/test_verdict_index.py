"""The in-memory verdict index: newest row per account, reload, broken files."""

from __future__ import annotations

from detector.api.verdict_index import VerdictIndex, VerdictIndexHolder
from detector.settings import load_settings

from .fixtures import verdict_row, write_verdicts


def test_newest_row_wins_even_when_its_columns_are_null(tmp_path):
    s = load_settings(tmp_path / "h")
    write_verdicts(s, "2026-01-01", [verdict_row("a", "2026-01-01", 0.9, "block", "r1", "c1"),
                                     verdict_row("b", "2026-01-01", 0.6, "review", "r2")])
    write_verdicts(s, "2026-01-02", [verdict_row("a", "2026-01-02", 0.1, "allow", "", None)])
    idx = VerdictIndex.load(s.verdicts_dir)
    assert len(idx) == 2 and idx.latest_date == "2026-01-02"
    assert idx.get("a") == {"account_id": "a", "decision": "allow", "score": 0.1, "reasons": [],
                            "cluster_id": None, "org_id": None, "date": "2026-01-02",
                            "model_version": "m-test", "risk": None}
    assert idx.get("b")["reasons"] == ["r2"] and idx.get("zzz") is None


def test_max_days_limits_the_files_read(tmp_path):
    s = load_settings(tmp_path / "h")
    write_verdicts(s, "2026-01-01", [verdict_row("old", "2026-01-01", 0.9, "block")])
    write_verdicts(s, "2026-01-02", [verdict_row("new", "2026-01-02", 0.9, "block")])
    assert set(VerdictIndex.load(s.verdicts_dir, max_days=1).rows) == {"new"}


def test_empty_home_and_broken_file_keep_serving(tmp_path):
    s = load_settings(tmp_path / "h")
    holder = VerdictIndexHolder(s.verdicts_dir)
    holder.refresh(force=True)
    assert len(holder.index) == 0
    write_verdicts(s, "2026-01-01", [verdict_row("a", "2026-01-01", 0.9, "block")])
    assert holder.refresh() is True and len(holder.index) == 1
    bad = s.verdicts_dir / "date=2026-01-02" / "verdicts.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet")
    assert holder.refresh() is False and holder.errors == 1
    assert holder.index.get("a")["decision"] == "block"  # the previous index still serves
    assert holder.refresh() is False and holder.errors == 1  # not retried until files change
