"""Backtesting rules on stored features: what would each rule have done?

Grain: account-days of the ``account_features`` view between ``since`` and ``until``
(inclusive). For each rule: hits per day, account-days and distinct accounts hit, and for each
label source (``truth``: generated truth.json; ``analyst``: the case store) precision and
recall at two grains: account-day (a day's label, else the account's) and account (an account
is hit when any of its days is; positive when any of its labels is). Experimental rules are
included and marked shadow. A ``(acting rules)`` row gives the union of non-shadow rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from detector.features.assemble import account_features
from detector.lake.db import connect
from detector.rules.evaluate import Evaluation, empty_hits
from detector.rules.labels import analyst_labels
from detector.rules.ruleset import RuleSet
from detector.settings import Settings

UNION_NAME = "(acting rules)"


@dataclass
class BacktestResult:
    """Per-rule rows (dicts), the dates scanned, population counts and evaluation warnings."""

    dates: list[str]
    account_days: int
    accounts: int
    rules: list[dict[str, Any]]
    label_sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ruleset_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"dates": self.dates, "account_days": self.account_days,
                "accounts": self.accounts, "label_sources": self.label_sources,
                "ruleset_hash": self.ruleset_hash, "warnings": self.warnings,
                "rules": self.rules}


def feature_dates(settings: Settings, since: str | None, until: str | None) -> list[str]:
    """Dates (YYYY-MM-DD) with stored daily features within [since, until]."""
    root = settings.features_dir / "daily"
    if not root.exists():
        return []
    dates = sorted(p.name.split("=", 1)[1] for p in root.glob("date=*")
                   if any(not f.name.startswith(".") for f in p.glob("*.parquet")))
    return [d for d in dates if (not since or d >= since) and (not until or d <= until)]


def open_features(settings: Settings, dates: list[str]) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection with the ``account_features`` view over ``dates`` (the feature stage's
    assembler: daily + weekly + coverage + cluster columns)."""
    con = connect(settings)
    return con, account_features(con, settings, dates)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _day_labels(population: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    """The label of each population account-day: its own date's label, else the account's."""
    by_day = labels.dropna(subset=["date"]).set_index(["account_id", "date"])["is_distiller"]
    by_acct = labels[labels["date"].isna()].drop_duplicates("account_id", keep="last")
    by_acct = by_acct.set_index("account_id")["is_distiller"]
    keys = list(zip(population["account_id"], population["date"], strict=True))
    day = pd.Series([by_day.get(k) for k in keys], index=population.index, dtype="object")
    acct = population["account_id"].map(by_acct)
    return day.where(day.notna(), acct)


def _metrics(hit_days: set[tuple[str, str]], population: pd.DataFrame,
             day_label: pd.Series, acct_label: pd.Series) -> dict[str, Any]:
    known = population[day_label.notna()]
    lab = day_label[day_label.notna()].astype(bool)
    is_hit = pd.Series([(a, d) in hit_days for a, d in zip(known["account_id"], known["date"],
                                                           strict=True)], index=known.index, dtype=bool)
    tp, fp = int((is_hit & lab).sum()), int((is_hit & ~lab).sum())
    hit_accts = {a for a, _ in hit_days}
    acct_known = acct_label.dropna().astype(bool)
    a_hit = acct_known.index.isin(list(hit_accts))
    atp, afp = int((a_hit & acct_known.to_numpy()).sum()), int((a_hit & ~acct_known.to_numpy()).sum())
    return {
        "account_day": {"tp": tp, "fp": fp, "positives": int(lab.sum()),
                        "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, int(lab.sum()))},
        "account": {"tp": atp, "fp": afp, "positives": int(acct_known.sum()),
                    "precision": _ratio(atp, atp + afp), "recall": _ratio(atp, int(acct_known.sum()))},
    }


def _account_labels(population: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    accts = pd.Index(population["account_id"].unique())
    grouped = labels[labels["account_id"].isin(accts)].groupby("account_id")["is_distiller"].any()
    return grouped.reindex(accts)


def _by_archetype(hit_accts: set[str], truth: pd.DataFrame | None) -> dict[str, int] | None:
    if truth is None or "archetype" not in truth:
        return None
    sub = truth[truth["account_id"].isin(hit_accts)]
    return {str(k): int(v) for k, v in sub["archetype"].fillna("?").value_counts().sort_index().items()}


def _rule_row(meta: dict[str, Any], hits: pd.DataFrame, dates: list[str], population: pd.DataFrame,
              sources: dict[str, pd.DataFrame], truth: pd.DataFrame | None) -> dict[str, Any]:
    per_day = hits.groupby("date")["account_id"].nunique()
    hit_days = set(zip(hits["account_id"], hits["date"], strict=True))
    hit_accts = set(hits["account_id"])
    row = dict(meta)
    row.update({"hits": len(hit_days), "accounts_hit": len(hit_accts),
                "hits_per_day": {d: int(per_day.get(d, 0)) for d in dates}, "metrics": {}})
    for name, labels in sources.items():
        row["metrics"][name] = _metrics(hit_days, population, _day_labels(population, labels),
                                        _account_labels(population, labels))
    by_arch = _by_archetype(hit_accts, truth)
    if by_arch is not None:
        row["accounts_by_archetype"] = by_arch
    return row


def _date_strings(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    return frame


def summarise(ruleset: RuleSet, evaluation: Evaluation, population: pd.DataFrame,
              dates: list[str], truth: pd.DataFrame | None = None,
              analyst: pd.DataFrame | None = None) -> BacktestResult:
    """Per-rule backtest rows from an evaluation over ``population`` (account_id, date str)."""
    sources = {k: v for k, v in (("truth", truth), ("analyst", analyst)) if v is not None}
    hits = _date_strings(evaluation.hits) if len(evaluation.hits) else evaluation.hits
    rows = []
    for r in ruleset.rules:
        meta = {"rule_id": r.id, "name": r.name, "title": r.title, "status": r.status,
                "action": r.action, "shadow": r.shadow, "evaluated": r.evaluated
                and r.id not in evaluation.skipped}
        rows.append(_rule_row(meta, hits[hits["rule_id"] == r.id] if len(hits) else hits,
                              dates, population, sources, truth))
    acting = hits[~hits["shadow"].astype(bool)] if len(hits) else hits
    union_meta = {"rule_id": None, "name": UNION_NAME, "title": "union of non-shadow rules",
                  "status": None, "action": None, "shadow": False, "evaluated": True}
    rows.append(_rule_row(union_meta, acting, dates, population, sources, truth))
    return BacktestResult(dates=dates, account_days=len(population),
                          accounts=int(population["account_id"].nunique()), rules=rows,
                          label_sources=list(sources), warnings=list(evaluation.warnings),
                          ruleset_hash=ruleset.hash)


def backtest(settings: Settings, ruleset: RuleSet, since: str | None = None,
             until: str | None = None, truth: pd.DataFrame | None = None) -> BacktestResult:
    """Backtest ``ruleset`` on the home's stored features between ``since`` and ``until``.

    ``truth`` is a label frame (``detector.rules.labels.read_truth``); analyst labels from the
    case store are used too when it exists.
    """
    dates = feature_dates(settings, since, until)
    analyst = analyst_labels(settings)
    if not dates:
        empty = pd.DataFrame({"account_id": pd.Series(dtype=str), "date": pd.Series(dtype=str)})
        return summarise(ruleset, Evaluation(hits=empty_hits()), empty, [], truth, analyst)
    con, view = open_features(settings, dates)
    try:
        evaluation = ruleset.evaluate_detailed(con, view=view, since=dates[0], until=dates[-1])
        population = con.execute(
            f'SELECT DISTINCT account_id, CAST(date AS DATE) AS date FROM "{view}" '
            "WHERE CAST(date AS DATE) BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)",
            [dates[0], dates[-1]]).fetchdf()
    finally:
        con.close()
    return summarise(ruleset, evaluation, _date_strings(population), dates, truth, analyst)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def render_backtest(result: BacktestResult) -> None:
    """Print the backtest as rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = (f"backtest {result.dates[0] if result.dates else '-'} .. "
             f"{result.dates[-1] if result.dates else '-'}: {result.account_days} account-days, "
             f"{result.accounts} accounts")
    table = Table(title=title)
    for col in ("rule", "status", "action", "hits", "accounts"):
        table.add_column(col)
    for src in result.label_sources:
        for col in ("P day", "R day", "P acct", "R acct"):
            table.add_column(f"{src} {col}")
    for row in result.rules:
        status = (row["status"] or "") + (" (shadow)" if row["shadow"] else "")
        if not row["evaluated"]:
            status += " [not evaluated]"
        cells = [row["name"], status, row["action"] or "", str(row["hits"]), str(row["accounts_hit"])]
        for src in result.label_sources:
            m = row["metrics"][src]
            cells += [_fmt(m["account_day"]["precision"]), _fmt(m["account_day"]["recall"]),
                      _fmt(m["account"]["precision"]), _fmt(m["account"]["recall"])]
        table.add_row(*cells)
    console.print(table)
    days = Table(title="hits per day (account-days)")
    days.add_column("rule")
    for d in result.dates:
        days.add_column(d)
    for row in result.rules:
        days.add_row(row["name"], *(str(row["hits_per_day"][d]) for d in result.dates))
    console.print(days)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
