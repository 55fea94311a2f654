"""Rule loading never crashes: deep nesting (parentheses, NOT, unary minus, YAML brackets),
YAML alias bombs and oversized files are validation problems naming the file; the other rules
still load, and GET /v1/rules answers without a 500."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.rules import collect_ruleset, default_rules_dir
from detector.rules.condition import ConditionError, compile_condition
from detector.rules.source import SourceError, read_rule_file

from .conftest import auth

KNOWN = {"vol_requests", "tim_interval_cv"}


def _bomb(levels: int, fan: int) -> str:
    lines = ["l0: &l0 [" + ", ".join(['"x"'] * fan) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [
    "(" * 1900 + "vol_requests > 1" + ")" * 1900,
    "NOT " * 900 + "vol_requests > 1",
    "- " * 1500 + "vol_requests > 1",
    "NOT (" * 400 + "vol_requests > 1" + ")" * 400,
])
def test_deep_conditions_are_rejected_not_crashing(text):
    with pytest.raises(ConditionError, match="nested"):
        compile_condition(text, KNOWN)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(0, 3000), kind=st.sampled_from(["paren", "not", "neg", "mixed"]))
def test_fuzz_condition_depth(depth, kind):
    core = "vol_requests > 1"
    text = {"paren": "(" * depth + core + ")" * depth,
            "not": "NOT " * depth + core,
            "neg": "vol_requests > " + "-" * depth + "1",
            "mixed": "(NOT " * depth + core + ")" * depth}[kind]
    with contextlib.suppress(ConditionError):  # too deep or too long: never RecursionError
        compile_condition(text, KNOWN)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(levels=st.integers(1, 12), fan=st.integers(1, 12), depth=st.integers(0, 3000),
       size=st.integers(0, 1_100_000))
def test_fuzz_yaml_shapes(tmp_path, levels, fan, depth, size):
    cases = {"bomb.yaml": _bomb(levels, fan),
             "deep.yaml": "x: " + "[" * depth + "]" * depth + "\n",
             "deepmap.yaml": "".join("  " * i + f"k{i}:\n" for i in range(min(depth, 400))),
             "big.yaml": "x: " + "a" * size + "\n"}
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with contextlib.suppress(SourceError):  # refused: never RecursionError or OOM
            read_rule_file(path)


def test_alias_bomb_refused_quickly(tmp_path):
    path = tmp_path / "timing_bomb.yaml"
    path.write_text(_bomb(9, 9))  # under 1 KB; 9^9 strings if expanded
    assert path.stat().st_size < 1024
    with pytest.raises(SourceError, match="aliases"):
        read_rule_file(path)


@pytest.fixture()
def bad_rules_dir(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    for p in default_rules_dir().glob("*.y*ml"):
        shutil.copy(p, folder)
    good = folder / "timing_machine_paced.yaml"
    text = good.read_text(encoding="utf-8")
    head, _, rest = text.partition("condition:")
    nots = head + "condition: " + "NOT " * 900 + "tim_interval_cv < 0.1\n" + \
        rest.split("\n", 1)[1]
    (folder / "timing_deep_nots.yaml").write_text(nots.replace("id: ", "id: 0", 1))
    (folder / "timing_alias_bomb.yaml").write_text(_bomb(9, 9))
    (folder / "timing_deep_parens.yaml").write_text(
        head + "condition: " + "(" * 1900 + "tim_interval_cv < 0.1" + ")" * 1900 + "\n"
        + rest.split("\n", 1)[1])
    return folder


def test_bad_files_are_problems_naming_the_file(bad_rules_dir: Path):
    ruleset, problems = collect_ruleset(bad_rules_dir)
    named = {p.path.name for p in problems}
    assert {"timing_deep_nots.yaml", "timing_alias_bomb.yaml",
            "timing_deep_parens.yaml"} <= named
    originals = len(list(default_rules_dir().glob("*.y*ml"))) - 1  # known_false_positives
    assert len(ruleset.rules) == originals  # every other rule still loads


def test_rules_route_answers_without_500(bad_rules_dir, client, keys, monkeypatch):
    monkeypatch.setenv("DETECTOR_RULES_DIR", str(bad_rules_dir))
    r = client.get("/v1/rules", headers=auth(keys["viewer"]))
    assert r.status_code == 503
    assert "timing_alias_bomb.yaml" in r.json()["detail"]
