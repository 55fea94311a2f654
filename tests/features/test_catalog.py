"""The catalog: generated doc in sync, names well-formed, every feature written by the engine."""

from __future__ import annotations

from pathlib import Path

import detector.columns as registry
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
    doc = catalog.render_markdown()
    for f in catalog.FEATURES + catalog.HISTORY:
        assert f.name.split("_", 1)[0] in catalog.FAMILIES
        assert f.unit and f.meaning and f.why and f.formula
        assert (f.derive is None) == (f.source in ("sample", "history"))
        assert f"`{f.name}`" in doc
    for c in registry.columns("cov") + registry.columns("clu"):
        assert f"`{c.name}`" in doc


def test_formulas_and_registry_hold_the_same_columns():
    """Each computed column has a registry entry and each registry feature a formula (both
    ways, in stored order)."""
    assert catalog.daily_columns() == registry.daily_names()
    assert catalog.weekly_columns() + ["w7_days_active"] == registry.weekly_names()
    assert catalog.history_columns() == registry.history_names()
    computed = set(catalog.daily_columns() + catalog.weekly_columns() + ["w7_days_active"]
                   + catalog.history_columns())
    declared = set(registry.names(("vol", "tim", "div", "hv", "inf", "rel", "hist")))
    assert computed == declared
    ints = {n for n in computed if registry.column(n).dtype == "int64" and not n.startswith("w7_")}
    assert ints == catalog.INT_FEATURES


def test_known_columns():
    cols = catalog.known_columns()
    assert {"account_id", "date", "vol_requests", "w7_vol_requests", "w7_days_active"} <= cols
    assert "w7_div_near_dup_rate" not in cols  # sample features have no window
    assert catalog.is_known_column("cov_mmd_ratio") and catalog.is_known_column("clu_size")
    assert catalog.is_known_column("cluster_id")
    for typo in ("vol_request", "cov_new_region_share", "clu_typo", "w7_cov_mmd_ratio"):
        assert not catalog.is_known_column(typo)
