"""Notebook helpers for tuning a rule: read and move one threshold, sweep candidates, write
the tuned rule file.

Thresholds are found in the condition parsed by the rules package
(:mod:`detector.rules.threshold`), the parser scoring uses; the text around the number is kept
as written.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import yaml

from detector.errors import InputError
from detector.lake.io import write_text_atomic
from detector.rules.threshold import find_threshold, format_number, replace_threshold
from detector.settings import Settings

if TYPE_CHECKING:
    from detector.rules import Rule


def rule_threshold(condition: str, column: str) -> float:
    """The number ``column`` is compared with in ``condition`` (e.g. 100000 for
    ``vol_output_tokens >= 100000``); ValueError unless exactly one such comparison exists."""
    return find_threshold(condition, column).value


def retune_condition(condition: str, column: str, value: float) -> str:
    """``condition`` with the literal compared to ``column`` replaced by ``value``.

    Exactly one comparison ``column >= | > | <= | < number`` must exist (formatting is kept);
    ValueError naming the parameter otherwise.
    """
    return replace_threshold(condition, column, value)


def threshold_variant(rule: Rule, column: str, value: float) -> Rule:
    """A copy of ``rule`` whose threshold on ``column`` is ``value`` (id and name suffixed with
    ``@value`` so many variants can be backtested in one rule set)."""
    from detector.rules.columns import as_container
    from detector.rules.condition import compile_condition

    text = retune_condition(rule.source_condition, column, value)
    compiled = compile_condition(text, as_container(None))
    tag = format_number(value)
    return dataclasses.replace(rule, id=f"{rule.id}@{tag}", name=f"{rule.name}@{tag}",
                               condition=compiled.sql, source_condition=text,
                               columns=compiled.columns)


def threshold_sweep(settings: Settings, rule: Rule, column: str, thresholds: Iterable[float],
                    truth: pd.DataFrame | None = None, since: str | None = None,
                    until: str | None = None) -> pd.DataFrame:
    """Backtest ``rule`` with each candidate threshold on ``column`` over the stored features.

    ``truth`` is a label frame (``detector.rules.labels.read_truth``); analyst labels from the
    case store are used too. One backtest scan evaluates every variant. Columns: threshold,
    hits (account-days), accounts_hit, then for each label source ``<source>_precision``,
    ``<source>_recall`` (account grain: an account is hit when any of its days is) and
    ``<source>_day_precision``, ``<source>_day_recall`` (account-day grain).
    """
    from detector.rules import RuleSet
    from detector.rules.backtest import backtest

    values = sorted({float(t) for t in thresholds})
    if not values:
        raise ValueError("thresholds: expected at least one candidate value, got none")
    variants = [threshold_variant(rule, column, t) for t in values]
    result = backtest(settings, RuleSet(rules=variants), since=since, until=until, truth=truth)
    by_id = {row["rule_id"]: row for row in result.rules if row["rule_id"]}
    rows = []
    for t, variant in zip(values, variants, strict=True):
        row = by_id[variant.id]
        out = {"threshold": t, "hits": row["hits"], "accounts_hit": row["accounts_hit"]}
        for src, m in row["metrics"].items():
            out[f"{src}_precision"] = m["account"]["precision"]
            out[f"{src}_recall"] = m["account"]["recall"]
            out[f"{src}_day_precision"] = m["account_day"]["precision"]
            out[f"{src}_day_recall"] = m["account_day"]["recall"]
        rows.append(out)
    return pd.DataFrame(rows)


def _condition_offsets(block: list[str]) -> tuple[int, list[int]]:
    """Where the condition's lines sit in a YAML ``condition:`` block: the index of the block
    line holding the condition's first line, and the column each condition line starts at. Two
    forms are read: a plain one-line value after the key, and a literal block (``|``) indented
    below it; ``(0, [])`` for any other form."""
    header = block[0]
    value = header[len("condition:"):].split(" #", 1)[0].strip()
    if value and value[0] not in "|>\"'":
        return 0, [header.index(value, len("condition:"))]
    if not value.startswith("|"):
        return 0, []
    body = block[1:]
    indent = min((len(ln) - len(ln.lstrip(" ")) for ln in body if ln.strip()), default=0)
    return 1, [indent] * len(body)


def _retune_block(block: list[str], column: str, value: float, path: Path) -> str:
    """The ``condition:`` block with its ``column`` threshold set to ``value``, every other
    character unchanged; InputError naming the file when the result does not read back as the
    retuned condition (a form :func:`_condition_offsets` does not read)."""
    condition = yaml.safe_load("".join(block))["condition"]
    found = find_threshold(condition, column)
    row = condition.count("\n", 0, found.start)
    col = found.start - (condition.rfind("\n", 0, found.start) + 1)
    first, offsets = _condition_offsets(block)
    out = list(block)
    if row < len(offsets):
        line, at = out[first + row], offsets[row] + col
        out[first + row] = line[:at] + format_number(value) + line[at + found.end - found.start:]
    try:
        written = yaml.safe_load("".join(out))["condition"]
    except yaml.YAMLError:
        written = None
    if written != replace_threshold(condition, column, value):
        raise InputError(f"{path}: the condition is neither a one-line value nor a literal "
                         "block (condition: |); change its threshold by hand")
    return "".join(out)


def write_tuned_rule(rule: Rule, column: str, value: float, out_dir: str | Path,
                     modified: str | None = None) -> Path:
    """Write ``rule``'s YAML file into ``out_dir`` with its ``column`` threshold set to
    ``value`` and ``modified`` set (default: today, UTC); returns the new file's path.

    Only the number in the condition and the ``modified`` line change; comments, tests and
    layout are kept. The condition must be a one-line value or a literal block
    (``condition: |``). Validate the folder with ``load_ruleset(rules_dir=out_dir)`` and the
    rule's own tests with ``detector.rules.testing.run_rule_tests`` before copying it into
    ``rules/``.
    """
    if rule.path is None or not Path(rule.path).exists():
        raise InputError(f"rule {rule.name}: its source file is unknown or missing ({rule.path})")
    lines = Path(rule.path).read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("condition:")), None)
    if start is None:
        raise InputError(f"{rule.path}: no top-level 'condition:' key")
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].strip() and not lines[i][0].isspace()), len(lines))
    block = _retune_block(lines[start:end], column, value, Path(rule.path))
    day = modified or datetime.now(UTC).date().isoformat()
    head = [re.sub(r"^modified:.*$", f"modified: {day}", ln) for ln in lines[:start]]
    tail = [re.sub(r"^modified:.*$", f"modified: {day}", ln) for ln in lines[end:]]
    out = Path(out_dir) / Path(rule.path).name
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "".join(head) + block + "".join(tail))
    return out
