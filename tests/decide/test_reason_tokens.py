"""Every reason token the code can emit renders to a sentence (reasons as words).

The tokens are found, not listed by hand: the default model's features, every rule file in
``rules/``, the policy markers written in ``detector/decide/policy.py``, the returning-actor,
relay and campaign markers, the gateway's analyst overrides (``detector/api/overrides.py``, one per
case-store decision) and the hooks' expiry marker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import detector
from detector.cases import DECISIONS
from detector.clusters import campaigns
from detector.columns.reasons import POLICY_REASONS
from detector.decide import relay_end_users, relay_profiles, relay_streams, returning
from detector.decide.reasons import default_rule_words, structured_reasons
from detector.decide.shadow import SOURCE_FAMILIES
from detector.resources import default_rules_dir
from detector.rules.loader import rule_files

PKG = Path(detector.__file__).parent
#: a feature column's name (family prefix, optionally behind w7_) left in a sentence
CODE = re.compile(r"\b(w7_)?(vol|tim|div|hv|inf|rel|cov|clu|hist)_[a-z0-9_]+\b")
#: where a reason token is written as a string literal, and the pattern that finds it there
EMITTERS = {
    "decide/policy.py": r'src\.append\("([a-z_:-]+)"\)|return \["([a-z_:-]+)"\]',
    "api/overrides.py": r'reasons=\[(?:\*out\["reasons"\], )?"([a-z_:-]+)"\]|append\("([a-z_:-]+)"\)',
    "hooks/events.py": r'"reasons": \["([a-z_:-]+)"\]',
}


def _emitted_policy_tokens() -> set[str]:
    found: set[str] = set()
    for rel, pattern in EMITTERS.items():
        for m in re.finditer(pattern, (PKG / rel).read_text()):
            found |= {g for g in m.groups() if g}
    return found


def _model_features() -> list[str]:
    card = json.loads((PKG / "model" / "default" / "card.json").read_text())
    return list(card["features"])


def test_the_emitters_are_found():
    tokens = _emitted_policy_tokens()
    assert {"model_block_capped", "cluster_escalation", "allowlisted", "analyst:confirm-block",
            "analyst:clear", "analyst:escalate", "previously_cleared", "block_expired"} <= tokens


def _all_policy_tokens() -> set[str]:
    return (_emitted_policy_tokens() | {returning.REASON, campaigns.REASON, relay_streams.REASON,
                                          relay_end_users.REASON, relay_profiles.REASON}
            | set(SOURCE_FAMILIES) | {f"analyst:{d}" for d in DECISIONS})


def _assert_words(item: dict, token: str) -> None:
    text = item["text"]
    assert item["schema"] == "reason/1" and item["code"] == token
    assert item["kind"] != "other", (token, text)
    assert text and text != token
    if "_" in token or ":" in token:  # a code, not a word ("campaign", "model" are words)
        assert token not in text, f"{token!r} renders as {text!r}"
    assert not CODE.search(text), f"a raw column code in {text!r}"
    assert not any(n in text for n in _rule_files()), f"a raw rule name in {text!r}"


@pytest.mark.parametrize("token", sorted(_all_policy_tokens()))
def test_every_policy_token_has_a_sentence(token):
    assert token in POLICY_REASONS or token.startswith("analyst:")
    [item] = structured_reasons([token], rules={})
    _assert_words(item, token)
    assert item["text"].endswith(".")


@pytest.mark.parametrize("name", _model_features())
def test_every_model_feature_renders_as_a_sentence(name):
    expl = {"top_features": [{"feature": name, "value": 0.5, "percentile": 97.0,
                              "median": 0.1, "contribution": 0.2}]}
    items = structured_reasons([name], expl, rules={})
    if not items:  # a low-is-suspicious column at the 97th percentile is not a reason
        expl["top_features"][0]["percentile"] = 3.0
        items = structured_reasons([name], expl, rules={})
    [item] = items
    _assert_words(item, name)
    assert "% of the day's accounts (median " in item["text"]


def _rule_files() -> list[str]:
    return [p.stem for p in rule_files(Path(default_rules_dir()))]


def test_rule_words_cover_every_rule_file():
    assert set(_rule_files()) == set(default_rule_words())


@pytest.mark.parametrize("name", _rule_files())
def test_every_rule_renders_with_its_title_and_values(name):
    words = default_rule_words()[name]
    values = {c: 0.5 for c in words.columns}
    [item] = structured_reasons([name], {"rule_values": {name: values}})
    _assert_words(item, name)
    assert item["text"].startswith(words.title)
    assert [v["column"] for v in item["values"]] == list(words.columns)
    assert all(v["condition"] for v in item["values"] if words.conditions.get(v["column"]))


def test_gateway_overrides_emit_only_tokens_with_sentences():
    """Driven, not grepped: every human-override state of ``apply_overrides`` (allow-list
    entry, each analyst decision before and after a newer verdict, a sticky block row) yields
    reasons whose non-verdict tokens are known to the enumeration above and read as words."""
    from detector.api.overrides import Overrides, apply_overrides

    verdict_tokens = ["model_block_capped", "hv_logprobs"]
    seen: set[str] = set()
    for decision in (None, *DECISIONS):
        for verdict_day, verdict_decision in (("2026-11-20", "review"), ("2026-11-28", "block"),
                                              ("2026-11-28", "allow"), (None, None)):
            verdict = None if verdict_day is None else {
                "account_id": "a", "decision": verdict_decision, "score": 0.9,
                "reasons": list(verdict_tokens), "cluster_id": None, "org_id": "o",
                "date": verdict_day, "model_version": "m", "risk": 1.0}
            decisions = {} if decision is None else {"a": {
                "decision": decision, "date": "2026-11-25", "created_at": "2026-11-25T10:00"}}
            for allow in ({}, {"a": ("2026-11-26T00:00", None)}):
                ov = Overrides(decisions=decisions, allow_accounts=allow)
                seen |= set(apply_overrides("a", verdict, ov, ttl=60)["reasons"])
    added = seen - set(verdict_tokens)
    assert {"allowlisted", "analyst:confirm-block", "analyst:clear", "analyst:escalate",
            "previously_cleared"} <= added
    assert added <= _all_policy_tokens()
    for token in sorted(added):
        [item] = structured_reasons([token], rules={})
        _assert_words(item, token)


def test_hook_payload_tokens_have_sentences():
    """The hooks add one token of their own (``block_expired``) and render analyst events'
    reasons (``detector/hooks/analyst.py``) with the same renderer: every policy token reads
    as words there too (an in-memory case database: no verdict to look up)."""
    import sqlite3

    from detector.hooks.analyst import analyst_reasons

    tokens = sorted(_all_policy_tokens())
    items = analyst_reasons(sqlite3.connect(":memory:"),
                            {"account_id": "a", "reasons": tokens, "verdict_date": None})
    assert [i["code"] for i in items] == tokens
    for item, token in zip(items, tokens, strict=True):
        _assert_words(item, token)
