"""Verdict reasons as sentences: one structured reason per reason token, schema ``reason/1``.

A verdict row carries ``reasons`` (";"-joined tokens: acting rule names, policy markers, then
model features) and ``explanation_json`` (the model's top features with value, day percentile,
day median and contribution; ``rule_values``: the columns of each rule hit with the
account-day's values). :func:`structured_reasons` turns them into a list of dicts, the one form
pages, the report, ``detector verdicts --format json`` and webhook payloads show::

    {"schema": "reason/1", "kind": "feature" | "rule" | "policy" | "analyst" | "other",
     "code": token, "label": short words, "text": one sentence, ...}

- feature: ``value``, ``percentile`` (0-100, ``detector.features.percentiles``), ``median``,
  ``contribution`` (null: the saturated-score fallback), ``direction`` ("higher"/"lower"
  than the day's accounts). Text: "Output tokens per input token 31.2 - higher than 93% of
  the day's accounts (median 4.1)". A feature is not a reason when its contribution is below
  ``explain.CONTRIBUTION_FLOOR`` or its percentile is on the innocent side of the registry's
  ``direction`` (a high-is-suspicious column below the median).
- rule: ``title``, ``action``, ``shadow``, ``values``: ``[{column, label, value, condition}]``.
  Text: "<title>: <label> 91% (rule: >= 80%), ...".
- policy / analyst: the sentence of ``detector.columns.reasons``.
- other: a token none of the above knows (a rule since removed); its text says so.

Words come from the column registry (``detector.columns``), rule titles and conditions from the
rule set in force (``rules/*.yaml``), policy sentences from ``detector.columns.reasons``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.columns import column, format_value, is_known
from detector.columns.percentile import percentile_text
from detector.columns.reasons import ANALYST_PREFIX, is_policy, policy_label, policy_sentence
from detector.decide.explain import negligible
from detector.errors import InputError

SCHEMA = "reason/1"


@dataclass(frozen=True)
class RuleWords:
    """What a rule reason needs: title, action, shadow, and per column its simple conditions."""

    name: str
    title: str
    action: str
    shadow: bool
    columns: tuple[str, ...]
    conditions: dict[str, list[str]] = field(default_factory=dict)


def rule_words(ruleset: Any) -> dict[str, RuleWords]:
    """Rule name -> :class:`RuleWords` for every rule of ``ruleset`` (a ``RuleSet``)."""
    return {r.name: RuleWords(r.name, r.title, r.action, bool(r.shadow), tuple(r.columns),
                              column_conditions(r.condition))
            for r in ruleset.rules}


_CACHE: dict[str, Any] = {"key": None, "words": {}}
_LOCK = threading.Lock()


def default_rule_words() -> dict[str, RuleWords]:
    """:func:`rule_words` of the rule folder in force, reloaded when a file in it changes;
    {} when the folder cannot be read (then rule reasons fall back to their names)."""
    from detector.resources import default_rules_dir
    from detector.rules.loader import collect_ruleset

    folder = default_rules_dir()
    try:
        key = (str(folder), tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                                         for p in Path(folder).glob("*.y*ml"))))
    except OSError:
        return {}
    with _LOCK:
        if _CACHE["key"] != key:
            try:
                ruleset, _ = collect_ruleset(folder)  # valid rules only; never raises on bad ones
                words = rule_words(ruleset)
            except (OSError, ValueError, InputError):  # InputError: the rules folder is missing
                words = {}
            _CACHE.update(key=key, words=words)
        return _CACHE["words"]


_OPS = {"GT": ">", "GTE": ">=", "LT": "<", "LTE": "<=", "EQ": "=", "NEQ": "!="}
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "!=": "!="}


def column_conditions(condition: str) -> dict[str, list[str]]:
    """Column -> its comparisons with a number in ``condition`` (``{"hv_x": [">= 0.8"]}``);
    comparisons with other columns or expressions are left out (their value still shows)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(condition, read="duckdb")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return {}
    out: dict[str, list[str]] = {}

    def number(node: exp.Expression) -> float | None:
        neg = isinstance(node, exp.Neg)
        node = node.this if neg else node
        if isinstance(node, exp.Literal) and not node.is_string:
            try:
                return -float(node.this) if neg else float(node.this)
            except ValueError:
                return None
        return None

    for node in tree.walk():
        op = _OPS.get(type(node).__name__)
        if op is not None:
            left, right = node.this, node.expression
            if isinstance(left, exp.Column) and (v := number(right)) is not None:
                out.setdefault(left.name, []).append((op, v))
            elif isinstance(right, exp.Column) and (v := number(left)) is not None:
                out.setdefault(right.name, []).append((_FLIP[op], v))
        elif isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
            lo, hi = number(node.args["low"]), number(node.args["high"])
            if lo is not None and hi is not None:
                out.setdefault(node.this.name, []).append(("between", (lo, hi)))
    return {c: [_condition_text(c, op, v) for op, v in conds] for c, conds in out.items()}


def _condition_text(name: str, op: str, v: Any) -> str:
    if op == "between":
        return f"between {_value_text(name, v[0])} and {_value_text(name, v[1])}"
    return f"{op} {_value_text(name, v)}"


def _value_text(name: str, value: Any) -> str:
    if value is None:
        return "no value"
    if is_known(name):
        return format_value(name, value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _label(name: str) -> str:
    return column(name).label if is_known(name) else name.replace("_", " ")


def feature_reason(name: str, item: dict[str, Any] | None,
                   population: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The structured reason of model feature ``name`` (``item``: its ``top_features`` entry),
    or None when it is negligible. ``population`` ({percentile, median}, e.g. the account
    page's own figures for the day) overrides the stored ones, so a page shows one number."""
    item = dict(item or {"feature": name})
    if population:
        for k in ("percentile", "median"):
            if population.get(k) is not None:
                item[k] = population[k]
    if negligible(item):
        return None
    pct, value, median = item.get("percentile"), item.get("value"), item.get("median")
    direction = column(name).direction if is_known(name) else None
    if pct is not None and ((direction == "higher" and pct < 50) or
                            (direction == "lower" and pct > 50)):
        return None  # on the innocent side of the day's accounts: not a reason
    label = _label(name)
    if value is None and pct is None:  # no explanation stored: the name is all there is
        return {"schema": SCHEMA, "kind": "feature", "code": name, "label": label,
                "text": f"{label}: unusual among the day's accounts", "value": None,
                "percentile": None, "median": None, "contribution": None, "direction": None}
    text = f"{label} {_value_text(name, value)}"
    side = None
    if pct is not None:
        side = "higher" if pct >= 50 else "lower"
        share = pct if side == "higher" else 100 - pct
        text += f" - {side} than {percentile_text(share)}% of the day's accounts"
        if median is not None:
            text += f" (median {_value_text(name, median)})"
    return {"schema": SCHEMA, "kind": "feature", "code": name, "label": label, "text": text,
            "value": value, "percentile": pct, "median": median,
            "contribution": item.get("contribution"), "direction": side}


def rule_reason(name: str, words: RuleWords | None, values: dict[str, Any] | None,
                shadow: bool = False) -> dict[str, Any]:
    """The structured reason of rule ``name``: its title and the values that made it fire."""
    if words is None:
        text = f"Rule {name}, which is no longer in the rule set, acted on this day."
        return {"schema": SCHEMA, "kind": "other", "code": name, "label": f"Rule {name}",
                "text": text}
    shown = []
    for col in words.columns:
        if values is None or col not in values:
            continue
        cond = words.conditions.get(col, [])
        shown.append({"column": col, "label": _label(col), "value": values[col],
                      "condition": " and ".join(cond) or None})
    parts = [f"{v['label']} {_value_text(v['column'], v['value'])}"
             + (f" (rule: {v['condition']})" if v["condition"] else "") for v in shown]
    text = words.title + (": " + ", ".join(parts) if parts else "")
    if shadow:
        text = "Shadow rule (recorded, not acted on): " + text
    return {"schema": SCHEMA, "kind": "rule", "code": name, "label": words.title, "text": text,
            "title": words.title, "action": words.action, "shadow": shadow, "values": shown}


def policy_reason(token: str) -> dict[str, Any]:
    kind = "analyst" if token.startswith(ANALYST_PREFIX) else "policy"
    return {"schema": SCHEMA, "kind": kind, "code": token, "label": policy_label(token),
            "text": policy_sentence(token)}


def _tokens(reasons: str | Iterable[str] | None) -> list[str]:
    if reasons is None:
        return []
    if isinstance(reasons, str):
        return [t for t in reasons.split(";") if t]
    return [str(t) for t in reasons if t]


def _explanation(explanation: str | dict | None) -> dict[str, Any]:
    if isinstance(explanation, dict):
        return explanation
    if not explanation:
        return {}
    try:
        doc = json.loads(explanation)
    except (TypeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def structured_reasons(reasons: str | Iterable[str] | None,
                       explanation: str | dict | None = None, *,
                       shadow_hits: Iterable[str] = (),
                       rules: dict[str, RuleWords] | None = None,
                       population: dict[str, dict[str, Any]] | None = None
                       ) -> list[dict[str, Any]]:
    """Structured reasons (schema ``reason/1``) of one verdict row, in the order of its
    ``reasons`` tokens, negligible model features left out; ``shadow_hits`` are added last
    with ``shadow: true``. ``rules`` defaults to :func:`default_rule_words`; ``population``
    maps feature name -> {percentile, median} to use instead of the stored ones."""
    doc = _explanation(explanation)
    rules = default_rule_words() if rules is None else rules
    feats = {f.get("feature"): f for f in doc.get("top_features") or [] if isinstance(f, dict)}
    hit_values = doc.get("rule_values") or {}
    out: list[dict[str, Any]] = []
    for token in _tokens(reasons):
        if is_policy(token):
            out.append(policy_reason(token))
        elif token in rules:
            out.append(rule_reason(token, rules[token], hit_values.get(token)))
        elif token in feats or is_known(token):
            r = feature_reason(token, feats.get(token), (population or {}).get(token))
            if r is not None:
                out.append(r)
        else:
            out.append(rule_reason(token, None, None))
    for name in shadow_hits:
        out.append(rule_reason(name, rules.get(name), hit_values.get(name), shadow=True))
    return out


def reason_labels(reasons: str | Iterable[str] | None,
                  rules: dict[str, RuleWords] | None = None) -> list[dict[str, str]]:
    """Short words for each token (queue rows, which carry no explanation): ``[{code, label,
    kind}]``; feature tokens keep their place (their negligibility needs the explanation)."""
    rules = default_rule_words() if rules is None else rules
    out = []
    for token in _tokens(reasons):
        if is_policy(token):
            out.append({"code": token, "label": policy_label(token),
                        "kind": "analyst" if token.startswith(ANALYST_PREFIX) else "policy"})
        elif token in rules:
            out.append({"code": token, "label": rules[token].title, "kind": "rule"})
        elif is_known(token):
            out.append({"code": token, "label": _label(token), "kind": "feature"})
        else:
            out.append({"code": token, "label": f"Rule {token} (no longer in the rule set)",
                        "kind": "other"})
    return out
