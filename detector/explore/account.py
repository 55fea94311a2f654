"""Notebook helpers about accounts: activity, verdicts, features, rule hits, prompts, timing.

Read-only; every function takes the home's ``Settings`` and returns a pandas frame (grains in
the package docstring, :mod:`detector.explore`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from detector.errors import InputError
from detector.lake.db import connect
from detector.settings import Settings

if TYPE_CHECKING:
    from detector.rules import RuleSet


# --- days -------------------------------------------------------------------------------------

def latest_day(settings: Settings) -> str | None:
    """The most recent evaluated day (YYYY-MM-DD) of the home, else the latest lake day."""
    from detector.lake.db import lake_dates
    from detector.verdicts import evaluated_dates

    days = evaluated_dates(settings) or lake_dates(settings)
    return days[-1] if days else None


def _day(settings: Settings, day: str | None) -> str:
    chosen = day or latest_day(settings)
    if chosen is None:
        raise InputError(f"no evaluated day in {settings.home}: run the pipeline first")
    return str(chosen)[:10]


def _account_days(con: Any, account_id: str) -> list[str]:
    rows = con.execute("SELECT DISTINCT CAST(date AS VARCHAR) FROM requests WHERE account_id = ? "
                       "ORDER BY 1", [account_id]).fetchall()
    return [r[0][:10] for r in rows]


# --- one account ------------------------------------------------------------------------------

def account_activity(settings: Settings, account_id: str, dates: Sequence[str] | None = None,
                     bucket_minutes: int = 60) -> pd.DataFrame:
    """Requests of one account per time bucket (UTC), oldest first.

    Columns: ``ts`` (bucket start, UTC), ``requests``, ``errors`` (status >= 400),
    ``prompt_tokens``, ``completion_tokens``, ``models`` (distinct models). Buckets without a
    request are absent. ``dates`` defaults to every day the account appears in the lake.
    """
    if bucket_minutes < 1:
        raise ValueError(f"bucket_minutes: expected an integer >= 1, got {bucket_minutes!r}")
    con = connect(settings)
    try:
        days = list(dates) if dates else _account_days(con, account_id)
        if not days:
            return pd.DataFrame(columns=["ts", "requests", "errors", "prompt_tokens",
                                         "completion_tokens", "models"])
        marks = ", ".join("CAST(? AS DATE)" for _ in days)
        frame = con.execute(
            f"SELECT time_bucket(INTERVAL '{int(bucket_minutes)} minutes', ts) AS ts, "
            "count(*) AS requests, count(*) FILTER (WHERE status >= 400) AS errors, "
            "coalesce(sum(prompt_tokens), 0) AS prompt_tokens, "
            "coalesce(sum(completion_tokens), 0) AS completion_tokens, "
            "count(DISTINCT model) AS models "
            f"FROM requests WHERE date IN ({marks}) AND account_id = ? GROUP BY 1 ORDER BY 1",
            [*days, account_id]).df()
    finally:
        con.close()
    return frame


def verdict_timeline(settings: Settings, account_id: str) -> pd.DataFrame:
    """The account's verdict per evaluated day, oldest first.

    Columns: date (YYYY-MM-DD), score, decision, model_score, anomaly_score, rule_hits,
    shadow_hits (lists of rule ids), reasons, cluster_id, model_version, risk (NULL in files
    written before it existed). Empty when the account was never scored.
    """
    cols = ["date", "score", "decision", "model_score", "anomaly_score", "rule_hits",
            "shadow_hits", "reasons", "cluster_id", "model_version", "risk"]
    from detector.verdicts import read

    frame = read(settings, cols, accounts=[account_id], order="date")
    if frame.empty:
        return pd.DataFrame(columns=cols)
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    for c in ("rule_hits", "shadow_hits"):
        frame[c] = frame[c].map(lambda v: [] if v is None else list(v))
    return frame


def features_vs_population(settings: Settings, account_id: str, day: str | None = None,
                           features: Iterable[str] | None = None) -> pd.DataFrame:
    """Each stored feature of one account-day next to that day's population.

    Columns: ``feature``, ``family`` (prefix), ``value``, ``median`` and ``p90`` (population
    quantiles of the day), ``share_below`` (0-1, share of accounts with a lower value) and
    ``top`` ("top 1%" text). Sorted by ``share_below`` descending: the most unusual first.
    Reads ``features/daily``, ``features/weekly`` and ``features/percentiles`` of ``day``.
    """
    from detector.features import store
    from detector.features.percentiles import account_percentiles, describe_top, load_grid

    day = _day(settings, day)
    wanted = list(features) if features is not None else None
    ranks = account_percentiles(settings, account_id, day, wanted)
    grid = load_grid(settings, day)
    values = _account_row(settings, store, account_id, day)
    rows = []
    for name, share in ranks.items():
        q, v = grid[name]
        rows.append({"feature": name, "family": name.removeprefix("w7_").split("_", 1)[0],
                     "value": values.get(name), "median": float(np.interp(0.5, q, v)),
                     "p90": float(np.interp(0.9, q, v)), "share_below": share,
                     "top": describe_top(share)})
    cols = ["feature", "family", "value", "median", "p90", "share_below", "top"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values(["share_below", "feature"], ascending=[False, True],
                             ignore_index=True)


def _account_row(settings: Settings, store: Any, account_id: str, day: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    out: dict[str, Any] = {}
    for table in ("daily", "weekly"):
        path = store.table_path(settings, table, day)
        if path.exists():
            t = pq.read_table(path, filters=[("account_id", "=", account_id)])
            if t.num_rows:
                out.update({k: v[0] for k, v in t.to_pydict().items()})
    return out


def account_rule_hits(settings: Settings, account_id: str, day: str | None = None,
                      ruleset: RuleSet | None = None) -> pd.DataFrame:
    """Which rules fire on the account (on ``day``, or on every stored day when None).

    Evaluates ``ruleset`` (default: the active rules) over the ``account_features`` view, the
    same path scoring uses. Columns: date, rule_name, title, action, status, shadow,
    condition (the rule's source text) and ``values`` (dict: each column the rule reads ->
    the account's value that day).
    """
    from detector.features.assemble import account_features
    from detector.rules import load_ruleset
    from detector.rules.backtest import feature_dates

    rs = ruleset if ruleset is not None else load_ruleset()
    dates = [_day(settings, day)] if day else feature_dates(settings, None, None)
    cols = ["date", "rule_name", "title", "action", "status", "shadow", "condition", "values"]
    if not dates:
        return pd.DataFrame(columns=cols)
    con = connect(settings)
    try:
        account_features(con, settings, dates)
        one = con.execute("SELECT * FROM account_features WHERE account_id = ?",
                          [account_id]).df()
        con.register("_one", one)
        hits = rs.evaluate(con, view="_one")
        row_by_day = {str(r["date"])[:10]: r for r in one.to_dict(orient="records")}
    finally:
        con.close()
    rows = []
    for h in hits.to_dict(orient="records"):
        rule = rs.get(h["rule_id"])
        d = str(h["date"])[:10]
        rows.append({"date": d, "rule_name": rule.name, "title": rule.title,
                     "action": rule.action, "status": rule.status, "shadow": rule.shadow,
                     "condition": " ".join(rule.source_condition.split()),
                     "values": {c: _plain(row_by_day.get(d, {}).get(c)) for c in rule.columns}})
    return pd.DataFrame(rows, columns=cols)


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def sample_prompts(settings: Settings, account_id: str, day: str | None = None,
                   n: int = 10) -> pd.DataFrame:
    """A stable sample of ``n`` of the account's requests on ``day`` (default: its last day).

    Columns: ts, model, endpoint, prompt_chars, completion_tokens, prompt_text. The same
    request ids are picked on every call (ordered by a hash of ``request_id``). Prompt text is
    raw: mind who sees the notebook.
    """
    if n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n!r}")
    cols = ["ts", "model", "endpoint", "prompt_chars", "completion_tokens", "prompt_text"]
    con = connect(settings)
    try:
        days = [day] if day else _account_days(con, account_id)[-1:]
        if not days:
            return pd.DataFrame(columns=cols)
        frame = con.execute(
            f"SELECT {', '.join(cols)} FROM requests WHERE date = CAST(? AS DATE) "
            "AND account_id = ? ORDER BY hash(request_id), request_id LIMIT ?",
            [days[0], account_id, int(n)]).df()
    finally:
        con.close()
    return frame


def timing_series(settings: Settings, account_ids: Sequence[str], day: str | None = None,
                  days: int = 1, bin_minutes: int = 10) -> pd.DataFrame:
    """Requests per time bin of each account over the ``days`` ending on ``day``.

    Index: bin start (UTC, every bin of the window, zeros included); one column per account
    (in the order given). Accounts driven by one scheduler rise and fall together: their
    columns correlate (``timing_series(...).corr()``), which is what the cluster stage's timing
    edges measure per minute.
    """
    if bin_minutes < 1 or days < 1:
        raise ValueError(f"bin_minutes, days: expected integers >= 1, got {bin_minutes!r}, {days!r}")
    end = pd.Timestamp(_day(settings, day), tz="UTC") + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=days)
    index = pd.date_range(start, end, freq=f"{int(bin_minutes)}min", inclusive="left")
    accounts = list(dict.fromkeys(account_ids))
    if not accounts:
        return pd.DataFrame(index=index)
    con = connect(settings)
    try:
        con.register("_wanted", pd.DataFrame({"account_id": accounts}))
        counts = con.execute(
            f"SELECT account_id, time_bucket(INTERVAL '{int(bin_minutes)} minutes', ts, "
            "TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bin, count(*) AS n FROM requests "
            "WHERE date >= CAST(? AS DATE) AND date < CAST(? AS DATE) "
            "AND account_id IN (SELECT account_id FROM _wanted) GROUP BY ALL",
            [start.date().isoformat(), end.date().isoformat()]).df()
    finally:
        con.close()
    if counts.empty:
        return pd.DataFrame(0, index=index, columns=accounts)
    counts["bin"] = pd.to_datetime(counts["bin"], utc=True)
    wide = counts.pivot_table(index="bin", columns="account_id", values="n", aggfunc="sum")
    return wide.reindex(index=index, columns=accounts).fillna(0).astype("int64")
