"""Backtest on a small labelled history: hits per day, accounts, precision / recall by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from detector.lake.io import write_parquet_atomic
from detector.rules import load_ruleset
from detector.rules.backtest import UNION_NAME, backtest
from detector.rules.labels import truth_labels
from detector.settings import load_settings

KNOWN = {"vol_requests", "hv_logprobs_share"}
DAYS = {
    "2026-11-24": [("a", 500, 0.9), ("b", 1000, None), ("c", 10, 0.1), ("d", 120, 0.6)],
    "2026-11-25": [("a", 50, 0.9), ("b", 2000, 0.0), ("d", 200, 0.7)],
}
TRUTH = {"seed": 1, "accounts": {
    "a": {"archetype": "bulk_harvester", "is_distiller": True, "cluster": None},
    "b": {"archetype": "reseller", "is_distiller": False, "cluster": None},
    "c": {"archetype": "casual_chat", "is_distiller": False, "cluster": None},
    "d": {"archetype": "hydra", "is_distiller": True, "cluster": "h1"},
    "e": {"archetype": "hydra", "is_distiller": True, "cluster": "h1"},
}}


@pytest.fixture
def home(tmp_path: Path):
    settings = load_settings(tmp_path / "home")
    for day, rows in DAYS.items():
        table = pa.table({
            "account_id": [r[0] for r in rows],
            "date": pa.array([day] * len(rows)).cast(pa.date32()),
            "vol_requests": pa.array([r[1] for r in rows], pa.int64()),
            "hv_logprobs_share": pa.array([r[2] for r in rows], pa.float64()),
        })
        write_parquet_atomic(settings.features_dir / "daily" / f"date={day}" / "part-0.parquet", table)
    return settings


@pytest.fixture
def ruleset(write_rule, rules_dir: Path):
    write_rule("volume_many", condition="vol_requests >= 100")
    write_rule("harvest_logprobs", condition="hv_logprobs_share >= 0.5 and vol_requests >= 100",
               status="experimental",
               tests={"match": [{"hv_logprobs_share": 1, "vol_requests": 100}],
                      "no_match": [{"hv_logprobs_share": 0.1, "vol_requests": 100}]})
    return load_ruleset(rules_dir, KNOWN)


def _row(result, name: str) -> dict:
    return next(r for r in result.rules if r["name"] == name)


def test_counts_and_truth_metrics(home, ruleset) -> None:
    result = backtest(home, ruleset, truth=truth_labels(TRUTH))
    assert result.dates == ["2026-11-24", "2026-11-25"]
    assert result.account_days == 7 and result.accounts == 4
    vol = _row(result, "volume_many")
    assert vol["hits"] == 5 and vol["accounts_hit"] == 3
    assert vol["hits_per_day"] == {"2026-11-24": 3, "2026-11-25": 2}
    m = vol["metrics"]["truth"]
    assert m["account_day"] == {"tp": 3, "fp": 2, "positives": 4, "precision": 0.6, "recall": 0.75}
    assert m["account"] == {"tp": 2, "fp": 1, "positives": 2, "precision": 0.6667, "recall": 1.0}
    assert vol["accounts_by_archetype"] == {"bulk_harvester": 1, "hydra": 1, "reseller": 1}


def test_experimental_rules_are_shown_as_shadow_and_left_out_of_the_union(home, ruleset) -> None:
    result = backtest(home, ruleset, truth=truth_labels(TRUTH))
    lp = _row(result, "harvest_logprobs")
    assert lp["shadow"] and lp["hits"] == 3 and lp["accounts_hit"] == 2
    assert lp["metrics"]["truth"]["account_day"]["precision"] == 1.0
    assert lp["metrics"]["truth"]["account_day"]["recall"] == 0.75
    union = _row(result, UNION_NAME)
    assert union["hits"] == 5 and union["metrics"] == _row(result, "volume_many")["metrics"]


def test_date_range(home, ruleset) -> None:
    result = backtest(home, ruleset.select(["volume_many"]), since="2026-11-25", until="2026-11-25")
    assert result.dates == ["2026-11-25"] and result.account_days == 3
    vol = _row(result, "volume_many")
    assert vol["hits"] == 2 and vol["metrics"] == {} and result.label_sources == []


def test_analyst_labels_from_the_case_store(home, ruleset) -> None:
    from detector.cases.store import CaseStore

    store = CaseStore(home)
    store.add_label("b", True, date="2026-11-25")
    store.add_label("c", False)
    result = backtest(home, ruleset)
    assert result.label_sources == ["analyst"]
    vol = _row(result, "volume_many")["metrics"]["analyst"]
    assert vol["account_day"] == {"tp": 1, "fp": 0, "positives": 1, "precision": 1.0, "recall": 1.0}
    assert vol["account"] == {"tp": 1, "fp": 0, "positives": 1, "precision": 1.0, "recall": 1.0}
    lp = _row(result, "harvest_logprobs")["metrics"]["analyst"]
    assert lp["account_day"]["precision"] is None and lp["account_day"]["recall"] == 0.0


def test_empty_home_gives_an_empty_backtest(tmp_path: Path, ruleset) -> None:
    result = backtest(load_settings(tmp_path / "empty"), ruleset)
    assert result.dates == [] and result.account_days == 0
    assert all(r["hits"] == 0 for r in result.rules)


def test_cli_backtest_json(home, ruleset, rules_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import typer

    from detector.cli.rules_cmd import register

    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Root."""

    register(app)
    monkeypatch.setattr("detector.rules.columns.default_known_columns", lambda: KNOWN)
    monkeypatch.setenv("DETECTOR_HOME", str(home.home))
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(TRUTH))
    out = tmp_path / "bt.json"
    result = CliRunner().invoke(app, ["rules", "backtest", "volume_many", "--since", "2026-11-24",
                                      "--until", "2026-11-25", "--truth", str(truth), "--json",
                                      "--out", str(out), "--rules-dir", str(rules_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == json.loads(out.read_text())
    assert [r["name"] for r in data["rules"]] == ["volume_many", UNION_NAME]
    assert data["rules"][0]["metrics"]["truth"]["account"]["recall"] == 1.0
    table = CliRunner().invoke(app, ["rules", "backtest", "--rules-dir", str(rules_dir)])
    assert table.exit_code == 0 and "volume_many" in table.output
    bad = CliRunner().invoke(app, ["rules", "backtest", "nope", "--rules-dir", str(rules_dir)])
    assert bad.exit_code == 2 and "no rule with id or name 'nope'" in bad.output


def test_unknown_truth_file_is_an_input_error(tmp_path: Path) -> None:
    from detector.errors import InputError
    from detector.rules.labels import read_truth

    with pytest.raises(InputError, match="--truth: file not found"):
        read_truth(tmp_path / "missing.json")
    (tmp_path / "t.json").write_text(json.dumps({"accounts": {"a": {"archetype": "x"}}}))
    with pytest.raises(InputError, match="lacks a boolean 'is_distiller'"):
        read_truth(tmp_path / "t.json")
