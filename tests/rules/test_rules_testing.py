"""`detector rules test`: every rule's test rows, all failures reported at once."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from detector.cli.rules_cmd import register
from detector.rules import collect_ruleset, load_ruleset
from detector.rules.testing import run_rule_tests

KNOWN = {"vol_requests", "hv_logprobs_share", "cov_topic_coverage"}


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Root."""

    register(app)
    return app


def test_passing_tests_report_counts(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", tests={"match": [{"vol_requests": 100}, {"vol_requests": 1e6}],
                                  "no_match": [{"vol_requests": 99}, {"vol_requests": None}]})
    report = run_rule_tests(load_ruleset(rules_dir, KNOWN))
    assert report.ok and report.rules == 1 and report.rows == 4


def test_every_failure_is_reported_with_its_line(write_rule, rules_dir: Path) -> None:
    path = write_rule("volume_a", tests={"match": [{"vol_requests": 100}, {"vol_requests": 5}],
                                         "no_match": [{"vol_requests": 500}]})
    write_rule("harvest_b", condition="hv_logprobs_share > 0.5",
               tests={"match": [{"hv_logprobs_share": 0.5}], "no_match": [{"hv_logprobs_share": 0.1}]})
    report = run_rule_tests(load_ruleset(rules_dir, KNOWN))
    msgs = sorted(str(f) for f in report.failures)
    lines = path.read_text().splitlines()
    match_line = next(i for i, s in enumerate(lines, 1) if "vol_requests: 5" in s)
    assert len(msgs) == 3
    assert f"{path}:{match_line}: rule volume_a: tests.match[1] did not match: {{'vol_requests': 5}}" in msgs
    assert any("rule volume_a: tests.no_match[0] matched" in m for m in msgs)
    assert any("rule harvest_b: tests.match[0] did not match" in m for m in msgs)


def test_deprecated_and_optional_column_rules_are_still_tested(write_rule, rules_dir: Path) -> None:
    write_rule("volume_old", status="deprecated", deprecation_reason="kept for the record",
               tests={"match": [{"vol_requests": 1}], "no_match": [{"vol_requests": 500}]})
    write_rule("coverage_a", condition="cov_topic_coverage > 0.5",
               tests={"match": [{"cov_topic_coverage": 0.9}], "no_match": [{"cov_topic_coverage": 0.5}]})
    report = run_rule_tests(load_ruleset(rules_dir, KNOWN))
    assert report.rules == 2
    assert [f.message for f in report.failures] == [
        "tests.match[0] did not match: {'vol_requests': 1}",
        "tests.no_match[0] matched: {'vol_requests': 500}"]


def test_mixed_value_types_are_a_failure_not_a_crash(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", tests={"match": [{"vol_requests": 100}], "no_match": [{"vol_requests": "x"}]})
    report = run_rule_tests(collect_ruleset(rules_dir, KNOWN)[0])
    assert len(report.failures) == 1 and report.failures[0].rule == "volume_a"


def test_cli_exit_status_and_output(write_rule, rules_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr("detector.rules.columns.default_known_columns", lambda: KNOWN)
    write_rule("volume_a")
    runner = CliRunner()
    ok = runner.invoke(_app(), ["rules", "test", "--rules-dir", str(rules_dir)])
    assert ok.exit_code == 0, ok.output
    assert "1 rules loaded, 2 test rows run, 0 invalid, 0 failing" in ok.output
    write_rule("volume_b", condition="vol_requests > (select 1)")
    write_rule("volume_c", condition="vol_requests > 7",
               tests={"match": [{"vol_requests": 7}], "no_match": [{"vol_requests": 1}]})
    bad = runner.invoke(_app(), ["rules", "test", "--rules-dir", str(rules_dir)])
    assert bad.exit_code == 1
    assert "INVALID " in bad.output and "volume_b.yaml" in bad.output
    assert "FAIL " in bad.output and "rule volume_c: tests.match[0] did not match" in bad.output
    assert "2 rules loaded, 4 test rows run, 1 invalid, 1 failing" in bad.output


def test_cli_missing_folder_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["rules", "test", "--rules-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "rules folder not found" in result.output


def test_cli_list_json(write_rule, rules_dir: Path, monkeypatch) -> None:
    import json

    monkeypatch.setattr("detector.rules.columns.default_known_columns", lambda: KNOWN)
    write_rule("volume_a")
    result = CliRunner().invoke(_app(), ["rules", "list", "--json", "--rules-dir", str(rules_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["name"] for r in data["rules"]] == ["volume_a"]
    assert data["hash"] == load_ruleset(rules_dir, KNOWN).hash
