"""detector.explore on a tiny hand-built home (tables written directly, values hand-computed)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector import explore
from detector.errors import InputError
from detector.features.percentiles import percentile_table
from detector.lake.schema import REQUEST_SCHEMA
from detector.rules import load_ruleset
from detector.rules.labels import truth_labels
from detector.settings import load_settings
from detector.verdicts import VERDICT_SCHEMA

DAY = "2026-11-24"
RULE = "infra_new_account_high_volume"  # inf_account_age_days < 14 AND vol_output_tokens >= 100000
#     AND hv_output_input_ratio >= 10 AND (hv_cot_lexicon_share >= 0.3 OR 3 other content signals)


def _write(path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _ts(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=UTC)


@pytest.fixture
def home(tmp_path):
    settings = load_settings(tmp_path / "home")
    settings.ensure_dirs()
    requests = [  # acct_a: 3 requests at 01:05, 01:40 (one failed) and 03:10; acct_b: one at 01:07
        {"request_id": "r1", "ts": _ts(1, 5), "account_id": "acct_a", "model": "m1", "status": 200,
         "prompt_text": "one", "prompt_chars": 3, "prompt_tokens": 10, "completion_tokens": 100},
        {"request_id": "r2", "ts": _ts(1, 40), "account_id": "acct_a", "model": "m2", "status": 500,
         "prompt_text": "two", "prompt_chars": 3, "prompt_tokens": 20, "completion_tokens": None},
        {"request_id": "r3", "ts": _ts(3, 10), "account_id": "acct_a", "model": "m1", "status": 200,
         "prompt_text": "three", "prompt_chars": 5, "prompt_tokens": 30, "completion_tokens": 300},
        {"request_id": "r4", "ts": _ts(1, 7), "account_id": "acct_b", "model": "m1", "status": 200,
         "prompt_text": "four", "prompt_chars": 4, "prompt_tokens": 5, "completion_tokens": 50},
    ]
    _write(settings.requests_dir / f"date={DAY}" / "part-0.parquet",
           pa.Table.from_pylist(requests, schema=REQUEST_SCHEMA))
    daily = pa.table({  # a, c: distillers; b, d: benign (see ``truth``)
        "account_id": ["acct_a", "acct_b", "acct_c", "acct_d", "acct_e"],
        "date": pa.array([datetime(2026, 11, 24).date()] * 5, pa.date32()),
        "vol_requests": [10.0, 1.0, 3.0, 2.0, 4.0],
        "vol_output_tokens": [200000.0, 150000.0, 60000.0, 300000.0, 10.0],
        "inf_account_age_days": [2.0, 1.0, 3.0, 400.0, 5.0],
        "hv_output_input_ratio": [20.0, 20.0, 12.0, 30.0, 1.0],
        "hv_cot_lexicon_share": [0.5, 0.5, 0.5, 0.5, 0.0],
        "cov_codebook_coverage": [0.5, 0.5, 0.5, 0.5, 0.5],
        "hv_logprobs_share": [0.0] * 5,
        "hv_length_finish_share": [0.0] * 5,
    })
    _write(settings.features_dir / "daily" / f"date={DAY}" / "part-0.parquet", daily)
    _write(settings.features_dir / "percentiles" / f"date={DAY}" / "part-0.parquet",
           percentile_table(DAY, [daily]))
    verdicts = pd.DataFrame({
        "account_id": ["acct_a", "acct_b"], "date": [datetime(2026, 11, 24).date()] * 2,
        "score": [0.9, 0.1], "decision": ["block", "allow"], "reasons": ["r", ""],
        "cluster_id": ["c_1", None], "model_score": [0.9, 0.1], "anomaly_score": [0.5, 0.1],
        "risk": [4.0, 0.1],
        "rule_hits": [[RULE], []], "shadow_hits": [[], []], "explanation_json": ["{}", "{}"],
        "model_version": ["v1", "v1"], "ruleset_hash": ["h", "h"], "feature_run_id": ["f", "f"],
        "run_id": ["x", "x"], "created_at": [pd.Timestamp("2026-11-25", tz="UTC")] * 2,
        "not_evaluable": [None, None]})
    _write(settings.verdicts_dir / f"date={DAY}" / "verdicts.parquet",
           pa.Table.from_pandas(verdicts, schema=VERDICT_SCHEMA, preserve_index=False))
    return settings


@pytest.fixture
def truth():
    return truth_labels({"accounts": {
        "acct_a": {"is_distiller": True}, "acct_b": {"is_distiller": False},
        "acct_c": {"is_distiller": True}, "acct_d": {"is_distiller": False},
        "acct_e": {"is_distiller": False}}})


def test_latest_day_is_the_last_evaluated_day(home):
    assert explore.latest_day(home) == DAY


def test_account_activity_counts_per_hour(home):
    act = explore.account_activity(home, "acct_a")
    assert [t.hour for t in act["ts"]] == [1, 3]
    assert act["requests"].tolist() == [2, 1]
    assert act["errors"].tolist() == [1, 0]
    assert act["prompt_tokens"].tolist() == [30, 30]
    assert act["completion_tokens"].tolist() == [100, 300]
    assert act["models"].tolist() == [2, 1]
    assert explore.account_activity(home, "nobody").empty
    with pytest.raises(ValueError, match="bucket_minutes"):
        explore.account_activity(home, "acct_a", bucket_minutes=0)


def test_verdict_timeline_decodes_lists(home):
    tl = explore.verdict_timeline(home, "acct_a")
    assert tl["date"].tolist() == [DAY]
    assert tl["decision"].tolist() == ["block"]
    assert tl["rule_hits"].tolist() == [[RULE]]
    assert explore.verdict_timeline(home, "nobody").empty


def test_features_vs_population_ranks_against_the_day(home):
    fv = explore.features_vs_population(home, "acct_c", DAY).set_index("feature")
    # vol_requests of the day: 1, 2, 3, 4, 10; acct_c has 3 = the median (half are lower)
    row = fv.loc["vol_requests"]
    assert row["value"] == 3.0
    assert row["share_below"] == pytest.approx(0.5)
    assert row["median"] == pytest.approx(3.0)
    assert row["p90"] == pytest.approx(4 + (0.9 - 0.75) / 0.25 * 6)  # between 4 (q .75) and 10
    assert row["family"] == "vol"
    top = explore.features_vs_population(home, "acct_a", DAY)
    assert top.iloc[0]["share_below"] == pytest.approx(1.0)  # 10 requests: the highest
    assert list(top["share_below"]) == sorted(top["share_below"], reverse=True)


def test_account_rule_hits_names_the_values_that_fired(home):
    rs = load_ruleset().select([RULE])
    hits = explore.account_rule_hits(home, "acct_a", DAY, ruleset=rs)
    assert hits["rule_name"].tolist() == [RULE]
    assert hits.iloc[0]["values"] == {"hv_output_input_ratio": 20.0,
                                      "inf_account_age_days": 2.0,
                                      "vol_output_tokens": 200000.0,
                                      "hv_cot_lexicon_share": 0.5,
                                      "cov_codebook_coverage": 0.5,
                                      "hv_logprobs_share": 0.0,
                                      "hv_length_finish_share": 0.0}
    assert explore.account_rule_hits(home, "acct_d", DAY, ruleset=rs).empty  # 400 days old


def test_sample_prompts_is_stable_and_bounded(home):
    first = explore.sample_prompts(home, "acct_a", DAY, n=2)
    assert len(first) == 2
    assert set(first["prompt_text"]) <= {"one", "two", "three"}
    assert first.equals(explore.sample_prompts(home, "acct_a", DAY, n=2))
    assert len(explore.sample_prompts(home, "acct_a", n=10)) == 3


def test_timing_series_fills_every_bin_of_the_day(home):
    ts = explore.timing_series(home, ["acct_b", "acct_a"], DAY, bin_minutes=30)
    assert ts.shape == (48, 2)
    assert list(ts.columns) == ["acct_b", "acct_a"]
    assert ts["acct_a"].sum() == 3 and ts["acct_b"].sum() == 1
    at = pd.Timestamp("2026-11-24 01:00", tz="UTC")
    assert ts.loc[at, "acct_a"] == 1 and ts.loc[at, "acct_b"] == 1  # 01:05 and 01:07
    assert ts.loc[pd.Timestamp("2026-11-24 01:30", tz="UTC"), "acct_a"] == 1  # 01:40


def test_rule_threshold_and_retune_keep_the_text():
    cond = "inf_account_age_days < 14\nAND vol_output_tokens >= 100000\n"
    assert explore.rule_threshold(cond, "vol_output_tokens") == 100000.0
    assert explore.retune_condition(cond, "vol_output_tokens", 2.5e5) == (
        "inf_account_age_days < 14\nAND vol_output_tokens >= 250000\n")
    assert explore.retune_condition(cond, "inf_account_age_days", 7.5).startswith(
        "inf_account_age_days < 7.5\n")
    with pytest.raises(ValueError, match="column"):
        explore.retune_condition(cond, "vol_requests", 1)
    with pytest.raises(ValueError, match="got 2"):
        explore.rule_threshold("vol_requests > 1 AND vol_requests < 9", "vol_requests")


def test_threshold_sweep_precision_recall_by_hand(home, truth):
    rule = load_ruleset().get(RULE)
    sweep = explore.threshold_sweep(home, rule, "vol_output_tokens", [175000, 50000, 100000],
                                    truth=truth).set_index("threshold")
    # young + ratio >= 10: a (200k, distiller), b (150k, benign), c (60k, distiller)
    assert sweep.loc[50000.0, "accounts_hit"] == 3
    assert sweep.loc[50000.0, "truth_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert sweep.loc[50000.0, "truth_recall"] == 1.0
    assert sweep.loc[100000.0, "truth_precision"] == 0.5
    assert sweep.loc[100000.0, "truth_recall"] == 0.5
    assert sweep.loc[175000.0, "truth_precision"] == 1.0
    assert sweep.loc[175000.0, "truth_recall"] == 0.5
    with pytest.raises(ValueError, match="thresholds"):
        explore.threshold_sweep(home, rule, "vol_output_tokens", [])


def test_write_tuned_rule_changes_only_condition_and_modified(tmp_path):
    rule = load_ruleset().get(RULE)
    out = explore.write_tuned_rule(rule, "vol_output_tokens", 250000, tmp_path,
                                   modified="2026-12-01")
    before = rule.path.read_text().splitlines()
    after = out.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert [b for _, b in changed] == ["modified: 2026-12-01", "  AND vol_output_tokens >= 250000"]
    tuned = load_ruleset(rules_dir=tmp_path).get(RULE)
    assert "vol_output_tokens >= 250000" in tuned.condition
    assert tuned.id == rule.id


def _cluster_tables(settings) -> None:
    root = settings.home / "clusters" / f"date={DAY}"
    edges = pd.DataFrame([
        ("acct_a", "acct_b", "payment", "payment", "1d", 1.0, {"shared": ["pm_1"]}, 2.5, True),
        ("acct_a", "acct_b", "timing", "timing", "1d", 0.5, {"minute_corr": 0.8}, 2.5, True),
        ("acct_a", "acct_b", "timing", "timing", "7d", 0.25, {"minute_corr": 0.4}, 2.5, True),
        ("acct_c", "acct_a", "prefix", "network", "1d", 0.2, {"shared": ["10.0.0.0/24"]}, 0.2,
         False),
    ], columns=["src", "dst", "edge_type", "family", "window", "weight", "evidence",
                "pair_score", "linked"])
    edges["evidence"] = edges["evidence"].map(json.dumps)
    _write(root / "edges.parquet", pa.Table.from_pandas(edges, preserve_index=False))
    members = pd.DataFrame({"cluster_id": ["c_1", "c_1"], "account_id": ["acct_a", "acct_b"],
                            "degree": [1, 1], "strength": [1.5, 1.5]})
    _write(root / "members.parquet", pa.Table.from_pandas(members, preserve_index=False))
    clusters = pd.DataFrame({"cluster_id": ["c_1"], "date": [DAY], "size": [2],
                             "first_seen": [DAY], "previous_cluster_id": [None], "clu_size": [2],
                             "clu_shared_payment": [1.0]})
    _write(root / "clusters.parquet", pa.Table.from_pandas(clusters, preserve_index=False))


def test_cluster_neighbours_strongest_first_with_parsed_evidence(home):
    _cluster_tables(home)
    nb = explore.cluster_neighbours(home, "acct_a", DAY)
    assert nb["neighbour"].tolist() == ["acct_b"] * 3 + ["acct_c"]
    assert nb["same_cluster"].tolist() == [True, True, True, False]
    assert nb.iloc[0]["evidence"] == {"shared": ["pm_1"]}
    assert nb.iloc[-1]["neighbour_cluster"] is None or pd.isna(nb.iloc[-1]["neighbour_cluster"])


def test_cluster_graph_members_verdicts_and_typed_weights(home):
    _cluster_tables(home)
    g = explore.cluster_graph(home, "c_1", DAY)
    assert sorted(g.nodes) == ["acct_a", "acct_b"]  # acct_c is a neighbour, not a member
    assert g.nodes["acct_a"]["decision"] == "block" and g.nodes["acct_b"]["score"] == 0.1
    edge = g.edges["acct_a", "acct_b"]
    assert edge["types"] == ["payment", "timing"]
    assert edge["weights"] == {"payment": 1.0, "timing": 0.5}  # the stronger timing window
    assert edge["weight"] == pytest.approx(1.5)
    assert edge["evidence"]["timing"] == {"minute_corr": 0.8}
    assert g.graph["clu_size"] == 2
    with pytest.raises(KeyError, match="c_404"):
        explore.cluster_graph(home, "c_404", DAY)


class _Fixed:
    """A stand-in model returning fixed probabilities."""

    def __init__(self, p: list[float]) -> None:
        self.p = np.asarray(p)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([1 - self.p, self.p])


def test_model_comparison_rates_at_each_cards_thresholds():
    frame = pd.DataFrame({"is_distiller": [1, 1, 0, 0]})
    models = {"good": (_Fixed([0.9, 0.6, 0.2, 0.1]), {"thresholds": {"review": 0.5, "block": 0.8}}),
              "poor": (_Fixed([0.3, 0.6, 0.7, 0.1]), {"version": "v0",
                                                       "thresholds": {"review": 0.5, "block": 0.65}})}
    cmp = explore.model_comparison(frame, models).set_index("model")
    assert cmp.loc["good", "average_precision"] == 1.0 and cmp.loc["good", "roc_auc"] == 1.0
    assert cmp.loc["good", "recall_review"] == 1.0 and cmp.loc["good", "recall_block"] == 0.5
    assert cmp.loc["good", "fpr_review"] == 0.0
    assert cmp.loc["poor", "recall_review"] == 0.5 and cmp.loc["poor", "fpr_review"] == 0.5
    assert cmp.loc["poor", "fpr_block"] == 0.5 and cmp.loc["poor", "version"] == "v0"
    assert cmp.loc["poor", "roc_auc"] == pytest.approx(0.5)  # pairs: (.3,.7)x (.3,.1)v (.6,.7)x (.6,.1)v
    with pytest.raises(ValueError, match="is_distiller"):
        explore.model_comparison(pd.DataFrame({"x": [1]}), models)


def _rule_file(tmp_path, condition_block: str):
    rule = load_ruleset().get(RULE)
    text = rule.path.read_text()
    start = text.index("condition:")
    end = text.index("\n", text.index("\n", start) + 1)
    while text[end + 1:end + 2].isspace():  # the rest of the indented block
        end = text.index("\n", end + 1)
    path = tmp_path / "src" / rule.path.name
    path.parent.mkdir()
    path.write_text(text[:start] + condition_block + text[end + 1:])
    return dataclasses.replace(rule, path=path)


def test_write_tuned_rule_reads_a_one_line_condition(tmp_path):
    rule = _rule_file(tmp_path, "condition: vol_output_tokens >= 100000  # one line\n")
    out = explore.write_tuned_rule(rule, "vol_output_tokens", 5e4, tmp_path, modified="2026-12-01")
    assert "condition: vol_output_tokens >= 50000  # one line\n" in out.read_text()


def test_write_tuned_rule_refuses_a_folded_condition(tmp_path):
    rule = _rule_file(tmp_path, "condition: >\n  vol_output_tokens\n  >= 100000\n")
    with pytest.raises(InputError, match="by hand"):
        explore.write_tuned_rule(rule, "vol_output_tokens", 5e4, tmp_path / "out")
