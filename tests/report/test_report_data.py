"""The report's numbers, checked against hand-computed values from the fixture verdicts."""

from __future__ import annotations

import pytest

from detector.errors import InputError
from detector.report import collect_report_data
from detector.settings import load_settings


def _tiles(data):
    return {t.key: (t.value, t.previous) for t in data.tiles}


def test_latest_day_is_the_default_and_previous_is_the_last_evaluated_day(home):
    data = collect_report_data(home)
    assert data.date == "2024-03-04"
    assert data.previous_date == "2024-03-02"  # 03-03 has no verdicts


def test_headline_tiles(home):
    tiles = _tiles(collect_report_data(home))
    assert tiles["active"] == (7, 4)
    assert tiles["flagged"] == (2, 1)
    assert tiles["blocked"] == (2, 1)
    assert tiles["new_flagged"] == (2, None)  # a1 (allow -> review) and a5 (first seen, block)
    # completion tokens of flagged accounts: a1 100+200+300, a2 50, a3 2000, a5 null -> 0
    assert tiles["distilled_tokens"] == (2650, 30)  # previous day: a2 10 + a3 20


def test_trend_starts_at_the_first_day_with_data_with_gaps(home):
    trend = collect_report_data(home).trend
    assert [t["date"] for t in (trend[0], trend[-1])] == ["2024-03-01", "2024-03-04"]
    assert len(trend) == 4  # no empty padding before the first evaluated day
    evaluated = {t["date"]: (t["active"], t["review"], t["block"]) for t in trend if t["evaluated"]}
    assert evaluated == {"2024-03-01": (1, 0, 0), "2024-03-02": (4, 1, 1), "2024-03-04": (7, 2, 2)}
    assert next(t for t in trend if t["date"] == "2024-03-03")["active"] is None


def test_score_histogram_bins(home):
    bins = collect_report_data(home).score_hist
    assert len(bins) == 20
    assert sum(b["allow"] + b["review"] + b["block"] for b in bins) == 7
    nonzero = {i: (b["allow"], b["review"], b["block"]) for i, b in enumerate(bins)
               if b["allow"] + b["review"] + b["block"]}
    # 0.05 -> 1, 0.12 -> 2, 0.30 -> 6, 0.65 -> 13, 0.70 -> 14, 0.91 -> 18, 0.97 -> 19
    assert nonzero == {1: (1, 0, 0), 2: (1, 0, 0), 6: (1, 0, 0), 13: (0, 1, 0), 14: (0, 1, 0),
                       18: (0, 0, 1), 19: (0, 0, 1)}


def test_top_accounts_most_severe_first_with_reasons(home):
    data = collect_report_data(home, top_n=3)
    assert [a["account_id"] for a in data.top_accounts] == ["a3", "a5", "a1"]
    assert len(data.flagged) == 4
    a1 = data.top_accounts[2]
    assert (a1["decision"], a1["score"], a1["requests"], a1["completion_tokens"], a1["new"]) == \
        ("review", 0.7, 3, 600, True)
    assert a1["reason_list"] == ["vol_burst", "tim_regular"]
    assert data.top_accounts[0]["new"] is False  # a3 was already blocked on 03-02


def test_new_and_growing_clusters(home):
    clusters = {c["cluster_id"]: c for c in collect_report_data(home).clusters}
    assert set(clusters) == {"c1", "c2"}
    assert (clusters["c2"]["status"], clusters["c2"]["members"]) == ("new", 1)
    assert (clusters["c1"]["status"], clusters["c1"]["members"], clusters["c1"]["prev_members"],
            clusters["c1"]["flagged"], clusters["c1"]["max_score"]) == ("growing", 3, 2, 3, 0.97)


def test_rule_hits_with_shadow_rules_marked(home):
    rules = {r["rule_id"]: r for r in collect_report_data(home).rules}
    assert (rules["hv_logprobs"]["accounts"], rules["hv_logprobs"]["previous"]) == (2, 1)
    assert (rules["vol_burst"]["accounts"], rules["vol_burst"]["previous"]) == (2, 2)
    assert rules["exp_x"]["shadow"] is True and not rules["vol_burst"]["shadow"]
    assert (rules["exp_x"]["accounts"], rules["exp_x"]["flagged"]) == (1, 0)
    assert [r["rule_id"] for r in collect_report_data(home).rules][-1] == "exp_x"


def test_rule_titles_and_cluster_details_from_other_stages(home, monkeypatch):
    import detector.clusters
    import detector.rules

    class Rule:
        def __init__(self, id, title, status):
            self.id, self.title, self.status = id, title, status

    class RuleSet:
        rules = [Rule("vol_burst", "Request bursts", "active"),
                 Rule("hv_logprobs", "Asks for many log-probs", "shadow")]

    monkeypatch.setattr(detector.rules, "load_ruleset", lambda: RuleSet(), raising=False)
    monkeypatch.setattr(detector.clusters, "list_clusters",
                        lambda s, d: [{"cluster_id": "c1", "summary": "shared payment"}],
                        raising=False)
    data = collect_report_data(home)
    rules = {r["rule_id"]: r for r in data.rules}
    assert rules["vol_burst"]["title"] == "Request bursts"
    assert rules["hv_logprobs"]["shadow"] is True  # status 'shadow' in the rule set
    assert {c["cluster_id"]: c["detail"] for c in data.clusters} == {"c1": "shared payment", "c2": ""}
    assert data.notes == []


def test_failing_optional_stages_become_notes_not_errors(home, monkeypatch):
    import detector.clusters
    import detector.rules

    def boom(*args):
        raise PermissionError("rules folder unreadable")

    monkeypatch.setattr(detector.rules, "load_ruleset", boom, raising=False)
    monkeypatch.setattr(detector.clusters, "list_clusters", boom, raising=False)
    data = collect_report_data(home)
    assert len(data.notes) == 2
    assert any(n.startswith("rule titles unavailable") and "unreadable" in n for n in data.notes)
    assert any(n.startswith("cluster details unavailable") for n in data.notes)
    assert len(data.rules) == 3 and len(data.clusters) == 2


def test_missing_rules_folder_is_a_note_naming_it(home, monkeypatch, tmp_path):
    monkeypatch.setenv("DETECTOR_RULES_DIR", str(tmp_path / "no_rules"))
    data = collect_report_data(home)
    assert data.notes == [f"rule titles unavailable: rules folder not found: {tmp_path / 'no_rules'}"]
    assert len(data.rules) == 3  # the rows come from the verdicts, without titles
    assert all(r["title"] == "" for r in data.rules)


def test_invalid_rule_file_is_a_note_naming_the_file(home, monkeypatch, tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "broken_rule.yaml").write_text("title: [unclosed\n")
    monkeypatch.setenv("DETECTOR_RULES_DIR", str(tmp_path / "rules"))
    (note,) = collect_report_data(home).notes
    assert note.startswith("rule titles unavailable: invalid rule files")
    assert "broken_rule.yaml" in note


def test_unreadable_rule_file_is_a_note_naming_the_file(home, monkeypatch):
    import detector.rules

    def unreadable():
        raise PermissionError(13, "Permission denied", "/srv/rules/vol_burst.yaml")

    monkeypatch.setattr(detector.rules, "load_ruleset", unreadable)
    assert collect_report_data(home).notes == [
        "rule titles unavailable: cannot read /srv/rules/vol_burst.yaml: Permission denied"]


def test_corrupt_cluster_table_is_a_note_naming_the_folder(home):
    from detector.clusters.store import day_dir

    folder = day_dir(home, "2024-03-04")
    folder.mkdir(parents=True)
    (folder / "clusters.parquet").write_bytes(b"not parquet")
    (note,) = collect_report_data(home).notes
    assert note.startswith(f"cluster details unavailable: cannot read the cluster tables in {folder}")
    assert "ArrowInvalid" in note


@pytest.mark.parametrize("stage, function, where", [
    ("rules", "load_ruleset", "rule titles"), ("clusters", "list_clusters", "cluster details")])
def test_other_errors_of_optional_stages_surface_saying_where(home, monkeypatch, stage, function,
                                                             where):
    import importlib

    def bug(*args):
        raise KeyError("size")

    monkeypatch.setattr(importlib.import_module(f"detector.{stage}"), function, bug, raising=False)
    with pytest.raises(KeyError, match="size") as info:
        collect_report_data(home)
    assert any(where in note and "daily report" in note for note in info.value.__notes__)


def test_earlier_day_and_provenance(home):
    data = collect_report_data(home, "2024-03-02")
    assert data.previous_date == "2024-03-01"
    assert _tiles(data)["new_flagged"] == (2, None)
    assert data.provenance["model_versions"] == ["m-test-1"]
    assert data.provenance["run_ids"] == ["run-2024-03-02"]
    assert data.provenance["verdicts_created_at"] == "2024-03-03T01:00:00Z"
    assert data.provenance["day_requests"] == 3
    assert data.provenance["lake_last_request"] == "2024-03-04T07:00:00Z"


def test_unknown_day_and_empty_home_are_input_errors(home, tmp_path):
    with pytest.raises(InputError, match="2024-03-03"):
        collect_report_data(home, "2024-03-03")
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        collect_report_data(home, "March 4th")
    with pytest.raises(InputError, match="no verdicts"):
        collect_report_data(load_settings(tmp_path / "empty"))


def test_unexpected_errors_in_optional_stages_surface(home, monkeypatch):
    """Only the expected failures (invalid or unreadable files) become notes; a bug does not
    hide behind one."""
    import detector.rules

    def bug(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(detector.rules, "load_ruleset", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        collect_report_data(home)
