"""Goodlog: every acting (stable and test) rule on generated benign-only traffic, at every
volume level of the evaluation (0.5x to 10x the archetypes' daily requests); any hit must be a
documented, known false positive (rules/known_false_positives.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.rules import load_ruleset

from .goodlog import (
    KNOWN_FP_FILE,
    KnownFalsePositive,
    benign_stable_hits,
    load_known_false_positives,
    unexplained_hits,
)

BENIGN_ONLY = """
name = "goodlog"
description = "Benign archetypes only, hard negatives over-represented."
corpus_split = "train"
[mix]
casual = 0.14
campus = 0.05
newcomer = 0.05
developer = 0.12
templated_app = 0.06
classifier_app = 0.06
eval_runner = 0.06
reseller = 0.06
app_backend = 0.08
tutor_app = 0.08
heavy_chat = 0.06
batch_job = 0.06
research_logprobs = 0.06
enterprise = 0.06
"""

#: (volume multiplier, accounts): fewer accounts at the high levels keep each level's request
#: count near the 1x level's (the heavy archetypes reach 10,000 requests a day at 1x).
LEVELS = [(0.5, 160), (1.0, 120), (3.0, 60), (10.0, 30)]


def test_known_false_positive_file_is_valid_and_names_real_rules() -> None:
    ruleset = load_ruleset()
    known = load_known_false_positives(ruleset.rules_dir / KNOWN_FP_FILE)
    names = {r.name for r in ruleset.rules} | {r.id for r in ruleset.rules}
    assert all(k.rule in names for k in known)


def test_unexplained_hits_filters_listed_pairs() -> None:
    import pandas as pd

    hits = pd.DataFrame({"account_id": ["a", "b", "c"], "date": ["d"] * 3,
                         "rule_id": ["i1", "i1", "i2"], "rule_name": ["r1", "r1", "r2"],
                         "archetype": ["reseller", "casual", "reseller"]})
    left = unexplained_hits(hits, [KnownFalsePositive("r1", "reseller", "resellers look diverse"),
                                   KnownFalsePositive("i2", "casual", "x")])
    assert list(left["account_id"]) == ["b", "c"]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the 10x level simulates and scores a large benign population
@pytest.mark.parametrize("volume,accounts", LEVELS)
def test_goodlog_acting_rules_stay_quiet_on_benign_traffic(tmp_path: Path, volume: float,
                                                           accounts: int) -> None:
    import duckdb  # noqa: F401

    from detector.features import compute
    from detector.features.assemble import account_features
    from detector.ingest import ingest_paths
    from detector.lake.db import connect
    from detector.rules.labels import read_truth
    from detector.settings import load_settings
    from detector.simulate import simulate

    scenario = tmp_path / "goodlog.toml"
    scenario.write_text(BENIGN_ONLY)
    logs = tmp_path / "logs"
    summary = simulate(logs, accounts=accounts, days=1, seed=424242, scenario=scenario,
                       volume=volume)
    assert summary.distillers == 0
    settings = load_settings(tmp_path / "home")
    ingest_paths(settings, sorted(logs.glob("requests-*.jsonl")), progress=False)
    dates = [p.name.split("-", 1)[1].removesuffix(".jsonl") for p in sorted(logs.glob("requests-*"))]
    compute(settings, dates)
    ruleset = load_ruleset()
    con = connect(settings)
    view = account_features(con, settings, dates)
    hits = ruleset.evaluate(con, view=view)
    acting = benign_stable_hits(ruleset, hits, read_truth(logs / "truth.json"),
                                statuses=("stable", "test"))
    bad = unexplained_hits(acting, load_known_false_positives(ruleset.rules_dir / KNOWN_FP_FILE))
    assert bad.empty, f"acting rules hit benign traffic at {volume}x:\n" + bad.to_string()
