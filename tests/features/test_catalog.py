"""The catalog: generated doc in sync, names well-formed, every feature written by the engine."""

from __future__ import annotations

from pathlib import Path

from detector.features import catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_doc_matches_code():
    assert DOC.read_text(encoding="utf-8").startswith(catalog.render_markdown()), (
        "docs/features.md is stale: run `python -m detector.features.catalog`")


def test_write_doc_keeps_hand_written_tail(tmp_path):
    doc = tmp_path / "features.md"
    doc.write_text("# old catalog\n" + catalog.GENERATED_END + "\n\n## Speed\nhand text\n", encoding="utf-8")
    catalog.write_doc(doc)
    assert doc.read_text(encoding="utf-8") == catalog.render_markdown() + "\n## Speed\nhand text\n"
    fresh = tmp_path / "new.md"
    catalog.write_doc(fresh)
    assert fresh.read_text(encoding="utf-8") == catalog.render_markdown()


def test_every_feature_documented_and_prefixed():
    names = [f.name for f in catalog.FEATURES]
    assert len(names) == len(set(names))
    for f in catalog.FEATURES:
        assert f.name.split("_", 1)[0] in catalog.FAMILIES
        assert f.unit and f.meaning and f.why and f.formula
        assert (f.derive is None) == (f.source == "sample")
        assert f"`{f.name}`" in catalog.render_markdown()


def test_known_columns():
    cols = catalog.known_columns()
    assert {"account_id", "date", "vol_requests", "w7_vol_requests", "w7_days_active"} <= cols
    assert "w7_div_near_dup_rate" not in cols  # sample features have no window
    assert catalog.is_known_column("cov_new_region_share")
    assert catalog.is_known_column("cluster_id")
    assert not catalog.is_known_column("vol_request")
