"""Loading a rule folder: schema, line-numbered errors, duplicates, hash, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.errors import ConfigError, InputError
from detector.rules import RuleSetError, collect_ruleset, default_rules_dir, load_ruleset

KNOWN = {"vol_requests", "vol_output_tokens", "hv_logprobs_share", "inf_account_age_days"}


def _messages(rules_dir: Path) -> list[str]:
    _, problems = collect_ruleset(rules_dir, KNOWN)
    return [str(p) for p in problems]


def test_valid_rule_loads_with_all_fields(write_rule, rules_dir: Path) -> None:
    path = write_rule("volume_many_requests", id="8F6B3C3A-1D2E-4F5A-9B8C-7D6E5F4A3B2C",
                      condition="vol_requests >= 100 and hv_logprobs_share > 0.5")
    ruleset = load_ruleset(rules_dir, KNOWN)
    [rule] = ruleset.rules
    assert rule.id == "8f6b3c3a-1d2e-4f5a-9b8c-7d6e5f4a3b2c"
    assert rule.name == "volume_many_requests" and rule.family == "volume"
    assert rule.condition == "vol_requests >= 100 AND hv_logprobs_share > 0.5"
    assert rule.columns == ("hv_logprobs_share", "vol_requests")
    assert rule.score == 0.5 and rule.action == "review" and rule.status == "stable"
    assert rule.created == "2026-11-20" and rule.path == path
    assert not rule.shadow and rule.evaluated


def test_condition_error_names_file_line_and_token(write_rule, rules_dir: Path) -> None:
    text = Path(write_rule("volume_a")).read_text()
    text = text.replace("condition: vol_requests >= 100",
                        "condition: |\n  vol_requests >= 100\n  AND vol_requests < (SELECT 1)")
    path = write_rule("volume_a", text=text)
    lines = path.read_text().splitlines()
    expected = next(i for i, line in enumerate(lines, 1) if "SELECT" in line)
    [msg] = _messages(rules_dir)
    assert msg.startswith(f"{path}:{expected}: condition rejected: Subquery not allowed")
    assert "'(SELECT 1)'" in msg


def test_unknown_column_is_rejected_with_its_name(write_rule, rules_dir: Path) -> None:
    path = write_rule("volume_a", condition="vol_requestz > 1")
    [msg] = _messages(rules_dir)
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if s.startswith("condition"))
    assert msg == (f"{path}:{line}: condition rejected: unknown feature column: 'vol_requestz' "
                   "(line 1, col 12 of the condition); did you mean 'vol_requests'?")


@pytest.mark.parametrize("typo", ["cov_typo", "clu_typo", "w7_cov_typo", "w7_div_near_dup_rate"])
def test_registry_rejects_unknown_stage_columns(write_rule, rules_dir: Path, typo: str) -> None:
    """Validation against the column registry (the default): a typo in an optional stage's
    column fails like any other, naming the file, the column and the closest names."""
    path = write_rule("volume_a", condition=f"vol_requests >= 100 and {typo} > 0.5")
    _, problems = collect_ruleset(rules_dir)
    [msg] = [str(p) for p in problems]
    assert msg.startswith(f"{path}:") and f"unknown feature column: '{typo}'" in msg
    assert "did you mean '" in msg


def test_registry_accepts_stage_and_history_columns(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", condition="vol_requests >= 100 and cov_mmd_ratio > 1 and clu_size >= 3 "
                                     "and w7_hv_logprobs_share > 0.5 and hist_requests_z28 > 3",
               tests={"match": [{"vol_requests": 100, "cov_mmd_ratio": 2, "clu_size": 3,
                                 "w7_hv_logprobs_share": 1, "hist_requests_z28": 4}],
                      "no_match": [{"vol_requests": 1}]})
    ruleset, problems = collect_ruleset(rules_dir)
    assert problems == [] and len(ruleset.rules) == 1


def test_schema_errors_name_the_field_and_line(write_rule, rules_dir: Path) -> None:
    path = write_rule("volume_a", status="beta", tags=["signal.volume"], author=None)
    msgs = _messages(rules_dir)
    lines = path.read_text().splitlines()
    status_line = next(i for i, s in enumerate(lines, 1) if s.startswith("status"))
    assert any(m.startswith(f"{path}:{status_line}: status: 'beta' is not one of") for m in msgs)
    assert any("'author' is a required property" in m for m in msgs)
    assert any(m.split(": ", 1)[1].startswith("tags:") for m in msgs)


def test_unknown_header_keys_are_rejected(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", severity_level="x")
    [msg] = _messages(rules_dir)
    assert "Additional properties are not allowed ('severity_level'" in msg


def test_deprecated_rule_needs_a_reason(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", status="deprecated")
    [msg] = _messages(rules_dir)
    assert "'deprecation_reason' is a required property" in msg
    write_rule("volume_a", status="deprecated", deprecation_reason="superseded by volume_b")
    ruleset = load_ruleset(rules_dir, KNOWN)
    assert not ruleset.rules[0].evaluated


def test_duplicate_ids_names_and_contents_are_rejected(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", id="11111111-1111-4111-8111-111111111111")
    write_rule("volume_b", id="11111111-1111-4111-8111-111111111111", condition="vol_requests > 5")
    text = (rules_dir / "volume_b.yaml").read_text()
    (rules_dir / "volume_b.yml").write_text(text)
    msgs = _messages(rules_dir)
    assert any("duplicate id '11111111-1111-4111-8111-111111111111'" in m for m in msgs)
    assert any("duplicate name 'volume_b'" in m for m in msgs)
    assert any("same content as volume_b.yaml" in m for m in msgs)


def test_duplicate_condition_is_rejected(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", condition="vol_requests >= 100")
    write_rule("volume_b", condition="(vol_requests   >=   100)".replace("(", "").replace(")", ""))
    assert any("same condition as volume_a" in m for m in _messages(rules_dir))


def test_file_name_must_start_with_a_family(write_rule, rules_dir: Path) -> None:
    write_rule("misc_rule")
    [msg] = _messages(rules_dir)
    assert "file name 'misc_rule' must be <family>_<what>" in msg


def test_duplicate_yaml_keys_and_bad_yaml_are_reported(write_rule, rules_dir: Path) -> None:
    text = Path(write_rule("volume_a")).read_text() + "condition: vol_requests > 1\n"
    write_rule("volume_a", text=text)
    write_rule("volume_b", text="id: [unclosed\n")
    write_rule("volume_c", text="- just\n- a list\n")
    msgs = _messages(rules_dir)
    assert any("volume_a.yaml" in m and "duplicate key 'condition'" in m for m in msgs)
    assert any("volume_b.yaml:2: not valid YAML" in m for m in msgs)
    assert any("volume_c.yaml:1: a rule file must hold one YAML mapping" in m for m in msgs)


def test_yaml_python_tags_are_not_executed(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", text="id: !!python/object/apply:os.system ['echo pwned']\n")
    [msg] = _messages(rules_dir)
    assert "not valid YAML" in msg


def test_test_rows_with_unknown_columns_are_rejected(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", tests={"match": [{"vol_requests": 100, "vol_reqests": 1}],
                                  "no_match": [{"vol_requests": 1}]})
    [msg] = _messages(rules_dir)
    assert "tests.match[0]: unknown feature column 'vol_reqests'; did you mean 'vol_requests'?" in msg


def test_all_problems_across_files_are_collected(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", condition="x > 1")
    write_rule("volume_b", status="nope")
    write_rule("volume_c", condition="vol_requests > 3")
    ruleset, problems = collect_ruleset(rules_dir, KNOWN)
    assert [r.name for r in ruleset.rules] == ["volume_c"]
    assert {p.path.name for p in problems} == {"volume_a.yaml", "volume_b.yaml"}
    with pytest.raises(RuleSetError) as info:
        load_ruleset(rules_dir, KNOWN)
    assert isinstance(info.value, ConfigError)
    assert str(info.value).startswith("2 problems in rules: ")
    assert "\n" not in str(info.value)


def test_non_rule_files_are_ignored(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a")
    (rules_dir / "known_false_positives.yaml").write_text("entries: []\n")
    (rules_dir / "lexicons").mkdir()
    (rules_dir / "lexicons" / "x.yaml").write_text("a: 1\n")
    (rules_dir / "README.md").write_text("hi\n")
    assert [r.name for r in load_ruleset(rules_dir, KNOWN).rules] == ["volume_a"]


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="rules folder not found"):
        load_ruleset(tmp_path / "nope", KNOWN)


def test_hash_is_stable_and_tracks_content(write_rule, rules_dir: Path) -> None:
    write_rule("volume_a", id="22222222-2222-4222-8222-222222222222")
    h1 = load_ruleset(rules_dir, KNOWN).hash
    assert h1 == load_ruleset(rules_dir, KNOWN).hash and len(h1) == 64
    write_rule("volume_a", id="22222222-2222-4222-8222-222222222222", condition="vol_requests >= 101",
               tests={"match": [{"vol_requests": 101}], "no_match": [{"vol_requests": 1}]})
    assert load_ruleset(rules_dir, KNOWN).hash != h1


def test_default_dir_is_repo_rules_or_env(monkeypatch, rules_dir: Path) -> None:
    monkeypatch.delenv("DETECTOR_RULES_DIR", raising=False)
    assert default_rules_dir() == Path(__file__).resolve().parents[2] / "rules"
    monkeypatch.setenv("DETECTOR_RULES_DIR", str(rules_dir))
    assert default_rules_dir() == rules_dir


def test_registry_columns_are_the_feature_view_without_keys() -> None:
    from detector.rules.columns import RegistryColumns, default_known_columns

    cols = default_known_columns()
    assert "vol_requests" in cols and "w7_hv_logprobs_share" in cols and "cov_mmd_ratio" in cols
    assert "cluster_id" in cols and "hist_requests_z7" in cols
    for name in ("account_id", "date", "cov_x", "clu_typo", "score", "prompt_text", "Vol_requests"):
        assert name not in cols
    subset = RegistryColumns({"account_id", "vol_requests"})
    assert "vol_requests" in subset and "account_id" not in subset and "clu_size" not in subset
    assert subset.suggest("vol_request") == ["vol_requests"]
