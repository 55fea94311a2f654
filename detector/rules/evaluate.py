"""Evaluating many rules in one scan of a per-account-day feature view.

The query builds, for every row of the view, a list with one element per rule
(``CASE WHEN (condition) THEN <rule index> END``), unnests it and keeps the non-NULL elements:
one output row per (account_id, date, rule) hit. A condition that is NULL (a NULL feature
value) is no hit; :func:`not_evaluable` lists those account-days and rules instead (the rule
could not be evaluated: an input it needs is missing, e.g. a source without payment data). Rules that name columns the view lacks (an optional stage switched off) are
skipped and reported; a rule that fails at run time (e.g. a type error) is isolated, reported
and the others still run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from detector.rules.rule import Rule

HIT_COLUMNS = ["account_id", "date", "rule_id", "rule_name", "title", "action", "severity",
               "status", "score", "shadow"]
VIEW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Evaluation:
    """Hits (one row per account-day-rule, columns HIT_COLUMNS), the ids of rules that could not
    be evaluated this run and a human-readable warning for each."""

    hits: pd.DataFrame
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def skip(self, rule: Rule, reason: str) -> None:
        """Record ``rule`` as not evaluated this run, with its warning line (the one wording
        of it, on DuckDB and on Spark): ``rule NAME (ID) not evaluated: <reason>``."""
        self.skipped.append(rule.id)
        self.warnings.append(f"rule {rule.name} ({rule.id}) not evaluated: {reason}")


def view_columns(con: duckdb.DuckDBPyConnection, view: str) -> set[str]:
    """Column names of ``view`` (a table or view of the connection)."""
    rows = con.execute(f'DESCRIBE SELECT * FROM "{view}"').fetchall()
    return {r[0] for r in rows}


def _date_filter(since: str | None, until: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if since:
        clauses.append("CAST(date AS DATE) >= CAST(? AS DATE)")
        params.append(since)
    if until:
        clauses.append("CAST(date AS DATE) <= CAST(? AS DATE)")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _hit_query(rules: list[Rule], view: str, where: str) -> str:
    cases = ", ".join(f"CASE WHEN ({r.condition}) THEN {i} END" for i, r in enumerate(rules))
    return (f'SELECT account_id, date, rule_idx FROM (SELECT account_id, date, '
            f'UNNEST([{cases}]) AS rule_idx FROM "{view}"{where}) WHERE rule_idx IS NOT NULL')


def _unknown_query(rules: list[Rule], view: str, where: str) -> str:
    cases = ", ".join(f"CASE WHEN ({r.condition}) IS NULL THEN {i} END" for i, r in enumerate(rules))
    return (f'SELECT account_id, date, rule_idx FROM (SELECT account_id, date, '
            f'UNNEST([{cases}]) AS rule_idx FROM "{view}"{where}) WHERE rule_idx IS NOT NULL')


def not_evaluable(con: duckdb.DuckDBPyConnection, rules: list[Rule],
                  view: str = "account_features") -> pd.DataFrame:
    """(account_id, date, rule_name) for every acting rule that could not be evaluated on an
    account-day: its condition is NULL there (a feature it reads is missing and no
    ``coalesce`` decides for it), or the view lacks one of its columns (every account-day).

    Experimental (shadow) and deprecated rules are not listed; rules that fail at run time are
    reported by :func:`evaluate_rules` and left out here."""
    acting = [r for r in rules if r.evaluated and not r.shadow]
    present = view_columns(con, view)
    runnable = [r for r in acting if all(c in present for c in r.columns)]
    absent = [r for r in acting if r not in runnable]
    parts = []
    if runnable:
        broken = set()
        try:
            raw = con.execute(_unknown_query(runnable, view, "")).fetchdf()
        except duckdb.Error:
            broken = set(_broken_rules(con, runnable, view, "", []))
            runnable = [r for r in runnable if r.id not in broken]
            raw = con.execute(_unknown_query(runnable, view, "")).fetchdf() if runnable \
                else pd.DataFrame(columns=["account_id", "date", "rule_idx"])
        names = pd.Series([r.name for r in runnable], dtype="object")
        raw["rule_name"] = names.iloc[raw["rule_idx"].astype("int64")].to_numpy() \
            if len(raw) else pd.Series(dtype="object")
        parts.append(raw[["account_id", "date", "rule_name"]])
    if absent:
        keys = con.execute(f'SELECT account_id, date FROM "{view}"').fetchdf()
        for r in absent:
            parts.append(keys.assign(rule_name=r.name))
    if not parts:
        return pd.DataFrame(columns=["account_id", "date", "rule_name"])
    return pd.concat(parts, ignore_index=True)


def _broken_rules(con: duckdb.DuckDBPyConnection, rules: list[Rule], view: str,
                  where: str, params: list[str]) -> dict[str, str]:
    """Run each rule alone to find those that fail; maps rule id -> error text."""
    broken = {}
    for r in rules:
        try:
            con.execute(f'SELECT count(*) FROM "{view}"{where}'
                        f'{" AND" if where else " WHERE"} ({r.condition})', params).fetchall()
        except duckdb.Error as exc:
            broken[r.id] = str(exc).splitlines()[0]
    return broken


def empty_hits() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in HIT_COLUMNS}).astype(
        {"score": "float64", "shadow": "bool"})


def attach_meta(raw: pd.DataFrame, rules: list[Rule]) -> pd.DataFrame:
    """Raw (account_id, date, rule_idx) rows -> HIT_COLUMNS, sorted by date, account, rule."""
    meta = pd.DataFrame({
        "rule_idx": range(len(rules)),
        "rule_id": [r.id for r in rules], "rule_name": [r.name for r in rules],
        "title": [r.title for r in rules], "action": [r.action for r in rules],
        "severity": [r.severity for r in rules], "status": [r.status for r in rules],
        "score": pd.Series([r.score for r in rules], dtype="float64"),
        "shadow": [r.shadow for r in rules],
    })
    raw = raw.astype({"rule_idx": "int64"})
    out = raw.merge(meta, on="rule_idx", how="left").drop(columns="rule_idx")
    return out.sort_values(["date", "account_id", "rule_name"], kind="stable").reset_index(drop=True)


def runnable_rules(rules: list[Rule], present: set[str], view: str,
                   result: Evaluation) -> list[Rule]:
    """The non-deprecated rules of ``rules`` whose columns are all in ``present`` (the view's);
    each other one is recorded in ``result`` as skipped, with a warning naming the columns."""
    runnable = []
    for r in (r for r in rules if r.evaluated):
        missing = [c for c in r.columns if c not in present]
        if missing:
            result.skip(r, f"column(s) {', '.join(missing)} absent from {view}")
        else:
            runnable.append(r)
    return runnable


def evaluate_rules(con: duckdb.DuckDBPyConnection, rules: list[Rule],
                   view: str = "account_features", since: str | None = None,
                   until: str | None = None) -> Evaluation:
    """Evaluate every non-deprecated rule of ``rules`` over ``view`` in one query.

    ``since`` / ``until`` (YYYY-MM-DD, inclusive) restrict the dates scanned.
    """
    if not VIEW_NAME.match(view):
        raise ValueError(f"view: expected a plain SQL identifier, got {view!r}")
    result = Evaluation(hits=empty_hits())
    runnable = runnable_rules(rules, view_columns(con, view), view, result)
    if not runnable:
        return result
    where, params = _date_filter(since, until)
    try:
        raw = con.execute(_hit_query(runnable, view, where), params).fetchdf()
    except duckdb.Error:
        broken = _broken_rules(con, runnable, view, where, params)
        for rid, msg in broken.items():
            result.skip(next(x for x in runnable if x.id == rid), msg)
        runnable = [r for r in runnable if r.id not in broken]
        if not runnable:
            return result
        raw = con.execute(_hit_query(runnable, view, where), params).fetchdf()
    if len(raw):
        result.hits = attach_meta(raw, runnable)
    return result
