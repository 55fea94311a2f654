"""Change control: a candidate model or rule set scored beside the active one, and its diff."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from detector.decide.shadow import diff_verdicts, families, signal_family


def test_signal_families_of_rules_features_and_sources():
    assert signal_family("harvest_logprobs_long_outputs") == "harvest"
    assert signal_family("w7_hv_output_input_ratio") == "harvest"
    assert signal_family("tim_night_share") == "timing"
    assert signal_family("infra_shared_payment_fresh_accounts") == "infra"
    assert signal_family("cluster_escalation") == "cluster"
    assert signal_family("mystery") == "other"
    assert families("timing_machine_paced;tim_night_share;div_word_ngram_entropy") == [
        "timing", "diversity"]
    assert families("") == ["model"] and families(None) == ["model"]


def _v(rows):
    return pd.DataFrame(rows, columns=["account_id", "date", "decision", "score", "risk",
                                       "reasons"])


def test_diff_counts_changes_by_family_and_orders_by_risk():
    d = "2026-11-24"
    active = _v([("a", d, "allow", 0.1, 1.0, ""), ("b", d, "review", 0.6, 3.0, "tim_night_share"),
                 ("c", d, "review", 0.7, 4.0, "hv_logprobs_share"),
                 ("e", d, "block", 0.9, 5.0, "harvest_max_length_outputs"),
                 ("f", d, "allow", 0.2, 2.0, "")])
    cand = _v([("a", d, "review", 0.6, 4.5, "diversity_broad_generation_prompts;div_x"),
               ("b", d, "allow", 0.3, 2.0, ""), ("c", d, "block", 0.95, 4.1,
                                                 "harvest_logprobs_long_outputs"),
               ("e", d, "review", 0.9, 5.0, "hv_x"),
               ("f", d, "block", 0.99, 6.0, "tim_night_share;w7_hv_output_input_ratio")])
    diff = diff_verdicts(active, cand)
    assert diff["account_days"] == 5 and diff["accounts"] == 5
    assert diff["changes"] == {"newly_flagged": 2, "cleared": 1, "escalated": 1,
                               "deescalated": 1}
    assert diff["decisions"]["active"] == {"allow": 2, "review": 2, "block": 1}
    assert diff["decisions"]["candidate"] == {"allow": 1, "review": 2, "block": 2}
    assert diff["by_family"]["newly_flagged"] == {"diversity": 1, "harvest": 1, "timing": 1}
    assert diff["by_family"]["cleared"] == {"timing": 1}  # the active side's reasons
    assert diff["by_family"]["escalated"] == {"harvest": 1}
    assert diff["by_family"]["deescalated"] == {"harvest": 1}
    new = diff["rows"]["newly_flagged"]
    assert [r["account_id"] for r in new] == ["f", "a"]  # candidate risk 6.0, then 4.5
    assert new[0]["active"]["decision"] == "allow" and new[0]["candidate"]["decision"] == "block"
    json.dumps(diff)  # serialisable as is


# -- end to end: a small simulated home, the real scoring entry points -------------------------

@pytest.fixture(scope="module")
def scored_home(tmp_path_factory):
    from detector.ingest.pipeline import ingest_paths
    from detector.pipeline import run_pipeline
    from detector.settings import load_settings
    from detector.simulate.engine import simulate

    root = tmp_path_factory.mktemp("shadow")
    simulate(root / "logs", 200, 2, 11)
    settings = load_settings(root / "home")
    settings.ensure_dirs()
    ingest_paths(settings, [root / "logs"])
    run_pipeline(settings, ["2026-11-24", "2026-11-25"])
    return settings


@pytest.mark.slow
def test_same_candidate_changes_nothing_and_writes_the_file(scored_home, tmp_path):
    from detector.decide.shadow import run_diff
    from detector.model.registry import load_active_model

    out = tmp_path / "same.json"
    diff, path = run_diff(scored_home, ["2026-11-24", "2026-11-25"],
                          {"kind": "model", "active": "x", "candidate": "x"}, out,
                          candidate_model=load_active_model(scored_home))
    assert path == out and json.loads(out.read_text())["changes"] == diff["changes"]
    assert set(diff["changes"].values()) == {0} and diff["account_days"] > 300


CANDIDATE_RULE = """\
id: 0b0e3f7e-9a43-4a5e-8a0b-2a3a0c1d5e99
title: Busy day (a deliberately broad candidate rule for the shadow-diff test)
status: stable
severity: low
action: review
score: 0.5
description: >
  Any account active in six or more hours with twenty or more requests.
references:
  - https://atlas.mitre.org/techniques/AML.T0024.002
author: tests
created: 2026-11-28
modified: 2026-11-28
tags:
  - attack.AML.T0024.002
  - signal.timing
falsepositives:
  - Nearly everyone busy
condition: |
  vol_active_hours >= 6
  AND vol_requests >= 20
tests:
  match:
    - {vol_active_hours: 8, vol_requests: 40}
  no_match:
    - {vol_active_hours: 2, vol_requests: 40}
"""


@pytest.mark.slow
def test_rules_diff_cli_shows_what_a_candidate_rule_would_flag(scored_home, tmp_path,
                                                                monkeypatch):
    from typer.testing import CliRunner

    from detector.cli.rules_cmd import rules_app
    from detector.rules.loader import default_rules_dir

    cand = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), cand)
    (cand / "timing_busy_day_candidate.yaml").write_text(CANDIDATE_RULE)
    monkeypatch.setenv("DETECTOR_HOME", str(scored_home.home))
    out = tmp_path / "rules-diff.json"
    res = CliRunner().invoke(rules_app, ["diff", "--candidate-dir", str(cand), "--days", "1",
                                         "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "rules diff: active" in res.output and f"diff written to {out}" in res.output
    diff = json.loads(out.read_text())
    assert diff["kind"] == "rules" and diff["dates"] == ["2026-11-25"]
    assert diff["changes"]["cleared"] == 0 and diff["changes"]["deescalated"] == 0
    new = diff["changes"]["newly_flagged"]
    assert new > 0 and diff["by_family"]["newly_flagged"]["timing"] == new
    assert all("timing_busy_day_candidate" in r["candidate"]["reasons"]
               for r in diff["rows"]["newly_flagged"])


@pytest.mark.slow
def test_model_diff_cli_against_a_registered_candidate(scored_home, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from detector.cli.model_cmd import model_app
    from detector.model.registry import ModelRegistry, load_active_model

    model, card = load_active_model(scored_home)
    strict = {**card, "thresholds": {"review": 0.99, "block": 1.0}}  # reviews less
    version = ModelRegistry(scored_home).save(model, strict)
    monkeypatch.setenv("DETECTOR_HOME", str(scored_home.home))
    res = CliRunner().invoke(model_app, ["diff", "--candidate", version])
    assert res.exit_code == 0, res.output
    assert f"candidate {version}" in res.output
    path = res.output.strip().splitlines()[-1].removeprefix("diff written to ")
    diff = json.loads(Path(path).read_text())
    assert diff["kind"] == "model" and diff["candidate"] == version
    assert diff["dates"] == ["2026-11-24", "2026-11-25"]
    assert diff["changes"]["newly_flagged"] == 0 and diff["changes"]["escalated"] == 0
    bad = CliRunner().invoke(model_app, ["diff", "--candidate", "no-such-version"])
    assert bad.exit_code == 2
