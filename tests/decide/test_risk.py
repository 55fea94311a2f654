"""``risk``: expected distilled output, log-scaled; orders verdicts whose scores saturate."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.decide.risk import frame_risk, verdict_risk
from detector.lake.io import write_parquet_atomic
from detector.settings import load_settings
from detector.verdicts import CONTRACT_COLUMNS, VERDICT_SCHEMA, load_verdicts


def test_risk_is_log10_of_expected_distilled_output():
    r = verdict_risk([1.0, 0.5, 0.0, 1.0], [999.0, 1998.0, 1e6, 0.0])
    assert r == pytest.approx([3.0, 3.0, 0.0, 0.0])


def test_saturated_scores_are_ordered_by_output_volume():
    """Hundreds of account-days at score 1.000: risk orders them by the output taken away."""
    rng = np.random.default_rng(0)
    tokens = rng.lognormal(10, 2, 300)
    risk = verdict_risk(np.ones(300), tokens)
    assert len(np.unique(risk)) == 300
    assert (np.argsort(-risk, kind="stable") == np.argsort(-tokens, kind="stable")).all()


def test_risk_is_monotone_in_score_and_volume_and_tolerates_missing_values():
    assert verdict_risk([0.6], [1e4])[0] < verdict_risk([0.9], [1e4])[0]
    assert verdict_risk([0.9], [1e4])[0] < verdict_risk([0.9], [1e5])[0]
    r = verdict_risk([np.nan, 0.8, 0.8, 1.5], [1e4, None, -5.0, 9.0])
    assert r == pytest.approx([0.0, 0.0, 0.0, 1.0])  # missing/negative -> 0; score clipped to 1
    frame = pd.DataFrame({"account_id": ["a", "b"], "vol_output_tokens": [99.0, None]})
    assert frame_risk(frame, np.array([1.0, 1.0])) == pytest.approx([2.0, 0.0])
    assert frame_risk(frame[["account_id"]], np.array([1.0, 1.0])) == pytest.approx([0.0, 0.0])


def _row(account_id: str, day: str, score: float, **extra) -> dict:
    return {"account_id": account_id, "date": dt.date.fromisoformat(day), "score": score,
            "decision": "block" if score >= 0.8 else "allow", "reasons": "", "cluster_id": None,
            "model_score": score, "anomaly_score": 0.1, "rule_hits": [], "shadow_hits": [],
            "explanation_json": json.dumps({}), "model_version": "m", "ruleset_hash": "h",
            "feature_run_id": "f", "run_id": "r",
            "created_at": dt.datetime(2026, 1, 3, tzinfo=dt.UTC), **extra}


def test_verdicts_read_risk_and_old_files_without_it(tmp_path):
    s = load_settings(tmp_path / "h")
    old = pa.schema([f for f in VERDICT_SCHEMA if f.name != "risk"])
    path = s.verdicts_dir / "date=2026-01-01" / "verdicts.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist([_row("old_a", "2026-01-01", 1.0)],
                                                    schema=old))
    assert "risk" not in pq.read_schema(path).names
    # an old home: only files without risk
    df = load_verdicts(s)
    assert list(df.columns)[:6] == CONTRACT_COLUMNS and "risk" in df.columns
    assert df["risk"].isna().all()
    # a new day beside it: saturated scores ordered by risk within the day
    write_parquet_atomic(s.verdicts_dir / "date=2026-01-02" / "verdicts.parquet",
                         pa.Table.from_pylist([_row("a_small", "2026-01-02", 1.0, risk=3.0),
                                               _row("b_big", "2026-01-02", 1.0, risk=6.5),
                                               _row("c_low", "2026-01-02", 0.2, risk=5.0)],
                                              schema=VERDICT_SCHEMA))
    df = load_verdicts(s)
    assert df["account_id"].tolist() == ["old_a", "b_big", "a_small", "c_low"]
    assert df["risk"].isna().tolist() == [True, False, False, False]
    assert load_verdicts(s, "2026-01-02")["risk"].tolist() == [6.5, 3.0, 5.0]


def test_campaign_pass_rewrites_an_old_verdict_file_with_a_null_risk(tmp_path):
    from detector.clusters.campaigns import annotate_verdicts

    s = load_settings(tmp_path / "h")
    old = pa.schema([f for f in VERDICT_SCHEMA if f.name != "risk"])
    path = s.verdicts_dir / "date=2026-01-01" / "verdicts.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist([_row("a", "2026-01-01", 0.9),
                                                     _row("b", "2026-01-01", 0.1)], schema=old))
    members = pd.DataFrame({"account_id": ["a"], "cluster_id": ["camp_1"]})
    camps = pd.DataFrame({"cluster_id": ["camp_1"], "size": [3]})
    assert annotate_verdicts(s, "2026-01-01", members, camps) == 1
    table = pq.read_table(path)
    assert table.schema.names == VERDICT_SCHEMA.names
    assert table.column("risk").null_count == 2
    assert table.column("cluster_id").to_pylist() == ["camp_1", None]
