"""Running the tests every rule carries: rows that must match and rows that must not.

Each rule's test rows become a small DuckDB table (columns the row omits are NULL) and go
through the very evaluation path production uses (``evaluate_rules``), so a test passing
means the shipped SQL matches.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from detector.lake.db import open_duckdb
from detector.rules.evaluate import evaluate_rules
from detector.rules.rule import Rule
from detector.rules.ruleset import RuleSet

_TEST_DATE = "2000-01-01"


@dataclass(frozen=True)
class RuleTestFailure:
    """One failing test row (or a rule whose tests could not run)."""

    rule: str
    path: Path | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = str(self.path) if self.path else self.rule
        if self.line:
            where += f":{self.line}"
        return f"{where}: rule {self.rule}: {self.message}"


@dataclass
class RuleTestReport:
    """Counts of rules and test rows run, and every failure."""

    rules: int = 0
    rows: int = 0
    failures: list[RuleTestFailure] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _column(values: list[Any]) -> pa.Array:
    if all(v is None for v in values):
        return pa.array(values, type=pa.float64())
    return pa.array(values)


def _test_table(rule: Rule) -> pa.Table:
    rows = [("match", i, r) for i, r in enumerate(rule.tests_match)]
    rows += [("no_match", i, r) for i, r in enumerate(rule.tests_no_match)]
    names = list(dict.fromkeys([*rule.columns, *(k for _, _, r in rows for k in r)]))
    names = [n for n in names if n not in ("account_id", "date")]
    data = {
        "account_id": pa.array([f"{kind}#{i}" for kind, i, _ in rows]),
        "date": pa.array([_TEST_DATE] * len(rows)).cast(pa.date32()) if rows else pa.array([], pa.date32()),
    }
    for n in names:
        data[n] = _column([r.get(n) for _, _, r in rows])
    return pa.table(data)


def _rule_failures(con: duckdb.DuckDBPyConnection, rule: Rule) -> list[RuleTestFailure]:
    try:
        table = _test_table(rule)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        return [RuleTestFailure(rule.name, rule.path, None, f"test rows: mixed value types ({exc})")]
    con.register("rule_test_rows", table)
    try:
        live = dataclasses.replace(rule, status="test") if not rule.evaluated else rule
        result = evaluate_rules(con, [live], view="rule_test_rows")
    finally:
        con.unregister("rule_test_rows")
    if result.warnings:
        return [RuleTestFailure(rule.name, rule.path, rule.condition_line, w) for w in result.warnings]
    hit = set(result.hits["account_id"]) if len(result.hits) else set()
    out = []
    for kind, rows, want in (("match", rule.tests_match, True), ("no_match", rule.tests_no_match, False)):
        for i, row in enumerate(rows):
            if (f"{kind}#{i}" in hit) != want:
                verb = "did not match" if want else "matched"
                out.append(RuleTestFailure(rule.name, rule.path, rule.test_lines.get((kind, i)),
                                           f"tests.{kind}[{i}] {verb}: {row}"))
    return out


def run_rule_tests(ruleset: RuleSet) -> RuleTestReport:
    """Run every rule's tests (deprecated rules included) and collect every failure."""
    report = RuleTestReport()
    con = open_duckdb()
    try:
        for rule in ruleset.rules:
            report.rules += 1
            report.rows += len(rule.tests_match) + len(rule.tests_no_match)
            report.failures += _rule_failures(con, rule)
    finally:
        con.close()
    return report
