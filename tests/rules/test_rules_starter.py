"""The shipped rule set: valid against the real feature catalog, complete, and its tests pass."""

from __future__ import annotations

import pytest

from detector.rules import collect_ruleset, load_ruleset
from detector.rules.rule import FAMILIES
from detector.rules.testing import run_rule_tests

REQUIRED_FAMILIES = {"volume", "harvest", "diversity", "coverage", "timing", "cluster", "infra"}


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset()


def test_shipped_rules_load_without_problems() -> None:
    _, problems = collect_ruleset()
    assert [str(p) for p in problems] == []


def test_at_least_fifteen_rules_cover_every_family(ruleset) -> None:
    assert len([r for r in ruleset.rules if r.evaluated]) >= 15
    assert REQUIRED_FAMILIES <= {r.family for r in ruleset.rules} <= set(FAMILIES)


def test_shipped_rule_tests_pass(ruleset) -> None:
    report = run_rule_tests(ruleset)
    assert [str(f) for f in report.failures] == []
    assert report.rows >= 2 * len(ruleset)


def test_rules_document_atlas_tags_and_hard_negatives(ruleset) -> None:
    text = " ".join(fp.lower() for r in ruleset.rules for fp in r.falsepositives)
    for negative in ("classification apps use logprobs", "eval runners ask for step-by-step",
                     "resellers look diverse", "templated apps reuse one system prompt",
                     "nat addresses are shared"):
        assert negative in text, negative
    for r in ruleset.rules:
        assert any(t.startswith("attack.AML.T") for t in r.tags), r.name
        assert r.score is None or 0 <= r.score <= 1


def test_block_rules_are_stable(ruleset) -> None:
    """Only rules proven on benign traffic (stable, goodlog-checked) may block."""
    assert all(r.status == "stable" for r in ruleset.rules if r.action == "block")
