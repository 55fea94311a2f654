"""A loaded, validated set of rules: its content hash and its evaluation over features."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from detector.rules import spark_evaluate
from detector.rules.evaluate import Evaluation, evaluate_rules, not_evaluable
from detector.rules.rule import Rule


@dataclass
class RuleSet:
    """Rules sorted by name. ``hash`` (sha256 hex) covers the canonical content of every rule,
    so a verdict can name exactly which rule logic produced it."""

    rules: list[Rule]
    rules_dir: Path | None = None
    last_warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rules = sorted(self.rules, key=lambda r: r.name)

    @property
    def hash(self) -> str:
        payload = [r.canonical() for r in sorted(self.rules, key=lambda r: r.id)]
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, key: str) -> Rule:
        """The rule whose id or name is ``key``; KeyError naming the key otherwise."""
        for r in self.rules:
            if key in (r.id, r.name):
                return r
        raise KeyError(f"no rule with id or name {key!r}")

    def select(self, keys: list[str] | None) -> RuleSet:
        """A rule set restricted to ``keys`` (ids or names); all rules when None or empty."""
        if not keys:
            return self
        return RuleSet(rules=[self.get(k) for k in dict.fromkeys(keys)], rules_dir=self.rules_dir)

    def evaluate_detailed(self, con: duckdb.DuckDBPyConnection, view: str = "account_features",
                          since: str | None = None, until: str | None = None) -> Evaluation:
        """Hits plus the rules that could not be evaluated this run and why."""
        result = evaluate_rules(con, self.rules, view=view, since=since, until=until)
        self.last_warnings = list(result.warnings)
        return result

    def not_evaluable(self, con: duckdb.DuckDBPyConnection,
                      view: str = "account_features") -> pd.DataFrame:
        """(account_id, date, rule_name) of acting rules whose inputs are missing on an
        account-day (``detector.rules.evaluate.not_evaluable``)."""
        return not_evaluable(con, self.rules, view=view)

    def evaluate(self, con: duckdb.DuckDBPyConnection, view: str = "account_features",
                 since: str | None = None, until: str | None = None) -> pd.DataFrame:
        """One row per (account_id, date, rule) hit, columns ``HIT_COLUMNS``.

        ``shadow`` is True for experimental rules (record, never act); deprecated rules are
        never evaluated. Rules naming columns absent from ``view`` are skipped: their warnings
        are in ``df.attrs["warnings"]`` (and ``self.last_warnings``), their ids in
        ``df.attrs["skipped"]``.
        """
        return _with_attrs(self, self.evaluate_detailed(con, view=view, since=since, until=until))

    def evaluate_spark(self, spark: Any, view: str = "account_features") -> pd.DataFrame:
        """:meth:`evaluate` in Spark SQL over the Spark temp view ``view`` of session ``spark``
        (``detector.rules.spark_evaluate``): the same hits, only they come to the driver."""
        return _with_attrs(self, spark_evaluate.evaluate_rules(spark, self.rules, view=view))

    def not_evaluable_spark(self, spark: Any, view: str = "account_features") -> pd.DataFrame:
        """:meth:`not_evaluable` over the Spark temp view ``view`` of session ``spark``."""
        return spark_evaluate.not_evaluable(spark, self.rules, view=view)


def _with_attrs(ruleset: RuleSet, result: Evaluation) -> pd.DataFrame:
    """``result``'s hits with its warnings and skipped rule ids in ``attrs`` (also kept as the
    rule set's ``last_warnings``)."""
    ruleset.last_warnings = list(result.warnings)
    hits = result.hits
    hits.attrs["warnings"] = list(result.warnings)
    hits.attrs["skipped"] = list(result.skipped)
    return hits
