"""Evaluating a rule set over a feature view: hand-computed hits, NULLs, shadow, skips."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from detector.rules import HIT_COLUMNS, load_ruleset

KNOWN = {"vol_requests", "hv_logprobs_share", "cov_topic_coverage", "tim_hour_entropy"}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("""CREATE TABLE account_features AS SELECT * FROM (VALUES
        ('a', DATE '2026-11-24', 500, 0.9, 'x'),
        ('a', DATE '2026-11-25', 50, 0.9, 'x'),
        ('b', DATE '2026-11-24', 1000, NULL, 'x'),
        ('c', DATE '2026-11-24', NULL, 0.1, 'x'),
        ('d', DATE '2026-11-25', 120, 0.6, 'x')
    ) v(account_id, date, vol_requests, hv_logprobs_share, tim_hour_entropy)""")
    return con


@pytest.fixture
def ruleset(write_rule, rules_dir: Path):
    write_rule("volume_many", condition="vol_requests >= 100", score=0.3)
    write_rule("harvest_logprobs", condition="hv_logprobs_share >= 0.5 and vol_requests >= 100",
               status="experimental", action="block", severity="high", score=None,
               tests={"match": [{"hv_logprobs_share": 1, "vol_requests": 100}],
                      "no_match": [{"hv_logprobs_share": 0.1, "vol_requests": 100}]})
    write_rule("harvest_old", condition="hv_logprobs_share >= 0", status="deprecated",
               deprecation_reason="replaced by harvest_logprobs")
    write_rule("coverage_wide", condition="cov_topic_coverage > 0.5",
               tests={"match": [{"cov_topic_coverage": 0.9}], "no_match": [{"cov_topic_coverage": 0.1}]})
    return load_ruleset(rules_dir, KNOWN)


def test_hits_match_hand_computed_rows(con, ruleset) -> None:
    hits = ruleset.evaluate(con)
    assert list(hits.columns) == HIT_COLUMNS
    got = sorted(zip(hits["account_id"], hits["date"].astype(str).str[:10], hits["rule_name"],
                     strict=True))
    assert got == [("a", "2026-11-24", "harvest_logprobs"), ("a", "2026-11-24", "volume_many"),
                   ("b", "2026-11-24", "volume_many"),
                   ("d", "2026-11-25", "harvest_logprobs"), ("d", "2026-11-25", "volume_many")]


def test_hit_metadata_and_shadow(con, ruleset) -> None:
    hits = ruleset.evaluate(con)
    shadow = hits[hits["rule_name"] == "harvest_logprobs"].iloc[0]
    assert shadow["shadow"] and shadow["status"] == "experimental" and shadow["action"] == "block"
    assert shadow["severity"] == "high" and pd.isna(shadow["score"])
    acting = hits[hits["rule_name"] == "volume_many"].iloc[0]
    assert not acting["shadow"] and acting["score"] == 0.3
    assert acting["rule_id"] == ruleset.get("volume_many").id


def test_deprecated_rules_are_never_evaluated(con, ruleset) -> None:
    hits = ruleset.evaluate(con)
    assert "harvest_old" not in set(hits["rule_name"])
    assert ruleset.get("harvest_old").status == "deprecated"


def test_rules_on_absent_optional_columns_are_skipped_with_a_warning(con, ruleset) -> None:
    hits = ruleset.evaluate(con)
    skipped = ruleset.get("coverage_wide").id
    assert hits.attrs["skipped"] == [skipped]
    assert hits.attrs["warnings"] == [f"rule coverage_wide ({skipped}) not evaluated: column(s) "
                                      "cov_topic_coverage absent from account_features"]
    assert ruleset.last_warnings == hits.attrs["warnings"]


def test_present_optional_columns_are_evaluated(con, ruleset) -> None:
    con.execute("CREATE VIEW v2 AS SELECT *, CASE WHEN account_id = 'c' THEN 0.8 END "
                "AS cov_topic_coverage FROM account_features")
    hits = ruleset.evaluate(con, view="v2")
    assert hits.attrs["skipped"] == []
    assert set(hits.loc[hits["rule_name"] == "coverage_wide", "account_id"]) == {"c"}


def test_date_range_restricts_the_scan(con, ruleset) -> None:
    hits = ruleset.evaluate(con, since="2026-11-25", until="2026-11-25")
    assert sorted(set(hits["account_id"])) == ["d"]


def test_a_rule_failing_at_run_time_is_isolated(con, write_rule, rules_dir: Path) -> None:
    write_rule("timing_text", condition="tim_hour_entropy > 3")
    write_rule("volume_many", condition="vol_requests >= 100")
    result = load_ruleset(rules_dir, KNOWN).evaluate_detailed(con)
    assert len(result.skipped) == 1
    assert result.warnings[0].startswith("rule timing_text")
    assert sorted(set(result.hits["account_id"])) == ["a", "b", "d"]


def test_all_rules_run_in_one_scan(con, ruleset, monkeypatch) -> None:
    """The evaluation sends a single query for the hits, whatever the number of rules."""
    from detector.rules import evaluate as ev

    calls = []
    original = ev._hit_query
    monkeypatch.setattr(ev, "_hit_query", lambda *a: calls.append(a) or original(*a))
    ruleset.evaluate(con)
    assert len(calls) == 1 and len(calls[0][0]) == 2


def test_no_hits_gives_an_empty_frame_with_the_columns(con, write_rule, rules_dir: Path) -> None:
    write_rule("volume_huge", condition="vol_requests > 1e9")
    hits = load_ruleset(rules_dir, KNOWN).evaluate(con)
    assert list(hits.columns) == HIT_COLUMNS and len(hits) == 0


def test_view_name_must_be_an_identifier(con, ruleset) -> None:
    with pytest.raises(ValueError, match="view: expected a plain SQL identifier"):
        ruleset.evaluate(con, view='x"; DROP TABLE account_features; --')


def test_not_evaluable_lists_acting_rules_whose_inputs_are_missing(con, ruleset,
                                                                    write_rule) -> None:
    write_rule("harvest_coalesced", condition="coalesce(hv_logprobs_share, 0) >= 0.5 "
               "OR vol_requests >= 100")
    rs = load_ruleset(ruleset.rules_dir, KNOWN)
    got = rs.not_evaluable(con)
    rows = sorted(zip(got["account_id"], got["date"].astype(str).str[:10], got["rule_name"],
                      strict=True))
    # c has no vol_requests: volume_many and harvest_coalesced (FALSE OR NULL) cannot look;
    # b lacks hv_logprobs_share, but coalesce() decides for it; coverage_wide's column
    # is absent from the view: no account-day can be evaluated by it. The experimental rule
    # (harvest_logprobs, NULL for b) is never listed. A condition already decided without the
    # missing value (FALSE AND NULL) is evaluable.
    cov = [(a, d, "coverage_wide") for a, d in [("a", "2026-11-24"), ("a", "2026-11-25"),
                                                ("b", "2026-11-24"), ("c", "2026-11-24"),
                                                ("d", "2026-11-25")]]
    assert rows == sorted([("c", "2026-11-24", "harvest_coalesced"),
                           ("c", "2026-11-24", "volume_many"), *cov])


def test_not_evaluable_text_per_verdict_row() -> None:
    from detector.decide.scoring import not_evaluable_text

    out = pd.DataFrame({"account_id": ["a", "b"], "date": ["2026-11-24", "2026-11-24"]})
    unknown = pd.DataFrame({"account_id": ["a", "a", "a"],
                            "date": pd.to_datetime(["2026-11-24"] * 3),
                            "rule_name": ["r2", "r1", "r2"]})
    assert not_evaluable_text(out, unknown) == ["r1;r2", None]
    assert not_evaluable_text(out, unknown.iloc[0:0]) == [None, None]
