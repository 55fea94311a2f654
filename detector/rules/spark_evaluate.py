"""Rules evaluated in Spark SQL over a Spark temp view of the feature rows (``engine = "spark"``).

The same hits and not-evaluable rows as :mod:`detector.rules.evaluate` on DuckDB: one query
builds, per row, an array of ``CASE WHEN (condition) THEN <rule index> END``, explodes it and
keeps the non-NULL elements; only those (account_id, date, rule) rows come back to the driver.

Conditions are validated and stored in DuckDB's dialect (:mod:`detector.rules.condition`).
:func:`spark_condition` is the one place that turns one into Spark SQL: sqlglot re-emits the
tree for Spark (backquoted identifiers, ``log10`` as ``LOG10``) and the functions whose results
differ on Spark with ``spark.sql.ansi.enabled = false`` (the session's default) are rewritten
to DuckDB's IEEE results:

- ``a / b`` with ``b`` zero: DuckDB gives +-inf (NaN for 0 / 0), Spark NULL;
- ``ln(x)`` and ``log10(x)`` with ``x`` zero or negative: DuckDB gives -inf or NaN, Spark NULL.

Everything else the condition subset allows (comparisons, BETWEEN, IN, IS, AND/OR/NOT, + - *,
abs, least and greatest (NULLs skipped, NaN the largest on both), coalesce, sqrt (NaN below 0))
runs identically. Not matched: ``ln`` and ``log10`` of a positive value may differ in the last
bit (Java's ``Math.log`` and ``log10`` are specified within one ulp, DuckDB calls the C
library's: ``log10(92)`` is 1.9637878273455551 on Spark, 1.9637878273455553 on DuckDB), so a
threshold set exactly on such a value could split the engines; 64-bit integer overflow (an error
on DuckDB, which reports the rule as not evaluated; wraps on Spark); and comparisons across types
DuckDB refuses to cast.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlglot
from sqlglot import exp

from detector.rules.evaluate import (
    VIEW_NAME,
    Evaluation,
    attach_meta,
    empty_hits,
    runnable_rules,
)
from detector.rules.rule import Rule

#: DuckDB's results of the functions Spark computes differently, as Spark SQL over placeholder
#: columns ``_a``, ``_b`` (x / 0: +-inf by the sign of x and of the zero, -0.0 printing as
#: "-0.0"; NaN for 0 / 0 and NaN / 0 as 0 * inf and NaN * inf are) and ``_x`` (a logarithm of
#: zero is -inf, of a negative number NaN; ``_f`` stands for LN or LOG10)
_TEMPLATES = {
    "div": "CASE WHEN CAST(_b AS DOUBLE) = 0 THEN CAST(_a AS DOUBLE) "
           "* (CASE WHEN CAST(CAST(_b AS DOUBLE) AS STRING) LIKE '-%' THEN -1.0 ELSE 1.0 END) "
           "* CAST('Infinity' AS DOUBLE) ELSE _a / _b END",
    "log": "CASE WHEN _x = 0 THEN -CAST('Infinity' AS DOUBLE) WHEN _x < 0 "
           "THEN CAST('NaN' AS DOUBLE) ELSE _f(_x) END",
}


#: Longest Spark SQL one condition may become (a condition that exceeds it is not evaluated).
MAX_SPARK_CHARS = 200_000


def _fill(template: str, fn: str = "", **args: exp.Expression) -> exp.Expression:
    """``_TEMPLATES[template]`` with its placeholders replaced by (translated) ``args``."""
    args = {k: _translate(v) for k, v in args.items()}

    def put(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name in args:
            return exp.Paren(this=args[node.name].copy())
        if isinstance(node, exp.Anonymous) and node.name == "_f":
            # built, never parsed: sqlglot would read LOG10(x) back as LOG(10, x)
            return exp.Anonymous(this=fn, expressions=[exp.Paren(this=args["_x"].copy())])
        return node

    return exp.Paren(this=sqlglot.parse_one(_TEMPLATES[template], read="spark").transform(put))


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Div):
        return _fill("div", _a=node.this, _b=node.expression)
    if isinstance(node, exp.Ln):
        return _fill("log", "LN", _x=node.this)
    if isinstance(node, exp.Log):  # only log10(x) is allowed: LOG(10, x) in the tree
        return _fill("log", "LOG10", _x=node.expression)
    return node


def _translate(tree: exp.Expression) -> exp.Expression:
    return tree.transform(_rewrite, copy=True)


def spark_condition(condition: str) -> str:
    """The Spark SQL of a validated condition (DuckDB dialect) with DuckDB's results."""
    tree = _translate(sqlglot.parse_one(condition, read="duckdb"))
    sql = tree.sql(dialect="spark", comments=False)
    if len(sql) > MAX_SPARK_CHARS:  # each rewrite repeats its operands: nesting multiplies
        raise ValueError(f"condition {condition[:60]!r}: {len(sql)} characters of Spark SQL "
                         f"(more than {MAX_SPARK_CHARS}); nest fewer divisions and logarithms")
    return sql


def _cases(rules: list[Rule], unknown: bool) -> str:
    test = "({}) IS NULL" if unknown else "{}"
    return ", ".join(f"CASE WHEN {test.format('(' + spark_condition(r.condition) + ')')} "
                     f"THEN {i} END" for i, r in enumerate(rules))


def _query(rules: list[Rule], view: str, unknown: bool = False) -> str:
    return (f"SELECT account_id, date, rule_idx FROM (SELECT account_id, date, "
            f"explode(array({_cases(rules, unknown)})) AS rule_idx FROM `{view}`) "
            "WHERE rule_idx IS NOT NULL")


def _errors() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return PySparkException, Py4JJavaError, ValueError


def _fetch(spark: Any, sql: str) -> pd.DataFrame:
    """The (small) result of ``sql`` as pandas, ``date`` as datetime64 (as DuckDB gives it)."""
    raw = spark.sql(sql).toArrow().to_pandas()
    if "date" in raw.columns:
        raw["date"] = pd.to_datetime(raw["date"]).astype("datetime64[us]")
    return raw


def _broken(spark: Any, rules: list[Rule], view: str) -> dict[str, str]:
    """Run each rule alone to find those that fail; maps rule id -> error text."""
    broken = {}
    for r in rules:
        try:
            spark.sql(f"SELECT count(*) FROM `{view}` "
                      f"WHERE ({spark_condition(r.condition)})").collect()
        except _errors() as exc:
            broken[r.id] = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return broken


def _run(spark: Any, rules: list[Rule], view: str, unknown: bool,
         broken_out: dict[str, str]) -> tuple[list[Rule], pd.DataFrame]:
    """The raw (account_id, date, rule_idx) rows of ``rules`` that run; the failing ones are
    left out and added to ``broken_out``."""
    try:
        return rules, _fetch(spark, _query(rules, view, unknown))
    except _errors():
        broken = _broken(spark, rules, view)
        broken_out.update(broken)
        rules = [r for r in rules if r.id not in broken]
        if not rules:
            return rules, pd.DataFrame(columns=["account_id", "date", "rule_idx"])
        return rules, _fetch(spark, _query(rules, view, unknown))


def view_columns(spark: Any, view: str) -> set[str]:
    """Column names of the Spark temp view ``view``."""
    return set(spark.table(f"`{view}`").columns)


def evaluate_rules(spark: Any, rules: list[Rule], view: str = "account_features") -> Evaluation:
    """:func:`detector.rules.evaluate.evaluate_rules` (no date bounds) over Spark view ``view``."""
    if not VIEW_NAME.match(view):
        raise ValueError(f"view: expected a plain SQL identifier, got {view!r}")
    result = Evaluation(hits=empty_hits())
    runnable = runnable_rules(rules, view_columns(spark, view), view, result)
    if not runnable:
        return result
    broken: dict[str, str] = {}
    runnable, raw = _run(spark, runnable, view, False, broken)
    for rid, msg in broken.items():
        result.skip(next(x for x in rules if x.id == rid), msg)
    if len(raw):
        result.hits = attach_meta(raw, runnable)
    return result


def not_evaluable(spark: Any, rules: list[Rule], view: str = "account_features") -> pd.DataFrame:
    """:func:`detector.rules.evaluate.not_evaluable` over Spark view ``view``."""
    acting = [r for r in rules if r.evaluated and not r.shadow]
    present = view_columns(spark, view)
    runnable = [r for r in acting if all(c in present for c in r.columns)]
    absent = [r for r in acting if r not in runnable]
    parts = []
    if runnable:
        runnable, raw = _run(spark, runnable, view, True, {})
        names = pd.Series([r.name for r in runnable], dtype="object")
        raw["rule_name"] = names.iloc[raw["rule_idx"].astype("int64")].to_numpy() \
            if len(raw) else pd.Series(dtype="object")
        parts.append(raw[["account_id", "date", "rule_name"]])
    if absent:
        keys = _fetch(spark, f"SELECT account_id, date FROM `{view}`")
        for r in absent:
            parts.append(keys.assign(rule_name=r.name))
    if not parts:
        return pd.DataFrame(columns=["account_id", "date", "rule_name"])
    return pd.concat(parts, ignore_index=True)


def _texts(spark: Any, view: str, runnable: list[Rule], absent: list[Rule],
           day: str, column: str) -> Any:
    """The not-evaluable text frame of ``runnable`` (conditions NULL per row) and ``absent``
    rules (every row), lazy."""
    from pyspark.sql import functions as F

    names = [F.when(F.expr(f"({spark_condition(r.condition)}) IS NULL"), F.lit(r.name))
             for r in runnable]
    names += [F.lit(r.name) for r in absent]
    rows = (spark.table(f"`{view}`")
            .select(F.col("account_id").cast("string").alias("account_id"),
                    F.col("date").cast("date").cast("string").alias(day),
                    F.filter(F.array(*names), lambda x: x.isNotNull()).alias("_names"))
            .where(F.size("_names") > 0))
    return (rows.groupBy("account_id", day)
            .agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list("_names"))))
                 .alias("_names"))
            .select("account_id", day, F.concat_ws(";", "_names").alias(column)))


def not_evaluable_texts(spark: Any, rules: list[Rule], view: str = "account_features",
                        day: str = "_day", column: str = "_not_evaluable") -> Any | None:
    """The not-evaluable texts of ``view``'s account-days as a Spark DataFrame that stays on
    the executors: (account_id, ``day`` (YYYY-MM-DD), ``column``), one row per account-day
    with at least one acting rule not evaluable (:func:`not_evaluable`'s rows), its rule names
    distinct, sorted (code points: Spark compares strings by their UTF-8 bytes) and
    ";"-joined: ``detector.decide.scoring.not_evaluable_text``'s text; an account-day without
    one has no row (None there). None when no rule is acting.

    The frame is persisted and counted here, so a rule whose condition fails at run time is
    found now and left out (as :func:`not_evaluable` does); only the count comes back. The
    caller unpersists it."""
    if not VIEW_NAME.match(view):
        raise ValueError(f"view: expected a plain SQL identifier, got {view!r}")
    acting = [r for r in rules if r.evaluated and not r.shadow]
    if not acting:
        return None
    present = view_columns(spark, view)
    runnable = [r for r in acting if all(c in present for c in r.columns)]
    absent = [r for r in acting if r not in runnable]
    frame = None
    try:
        frame = _texts(spark, view, runnable, absent, day, column).persist()
        frame.count()
        return frame
    except _errors():
        if frame is not None:
            frame.unpersist()
        broken = _broken(spark, runnable, view)
        runnable = [r for r in runnable if r.id not in broken]
        if not runnable and not absent:
            return None
        frame = _texts(spark, view, runnable, absent, day, column).persist()
        frame.count()
        return frame
