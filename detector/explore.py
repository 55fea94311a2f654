"""Read-only helpers for analyst notebooks, built on the stage functions.

Everything here reads what the pipeline wrote under a home folder and returns plain pandas
frames (or a networkx graph), so a notebook investigates an account, tunes a rule, compares
models or maps a cluster without writing SQL against internal folders. The one writer,
:func:`write_tuned_rule`, writes a rule file into a folder the caller names (never ``rules/``
unless asked to).

Grains: ``account_activity`` one row per (time bucket) of one account; ``verdict_timeline`` one
row per evaluated day of one account; ``features_vs_population`` one row per feature of one
account-day; ``account_rule_hits`` one row per (date, rule) hit; ``sample_prompts`` one row per
sampled request; ``cluster_neighbours`` one row per (neighbour, edge type, window) edge;
``timing_series`` one row per time bucket, one column per account; ``threshold_sweep`` one row
per candidate threshold; ``model_comparison`` one row per model.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from detector.errors import InputError
from detector.lake.db import connect
from detector.lake.io import write_text_atomic
from detector.settings import Settings

if TYPE_CHECKING:
    import networkx as nx

    from detector.model.estimator import DistillationClassifier
    from detector.rules import Rule, RuleSet

_COMPARE = r"(>=|<=|>|<)"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


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


# --- clusters ---------------------------------------------------------------------------------

def _edges(settings: Settings, day: str) -> pd.DataFrame:
    from detector.clusters.store import read

    edges = read(settings, day, "edges")
    if edges is None:
        return pd.DataFrame(columns=["src", "dst", "edge_type", "family", "window", "weight",
                                     "evidence", "pair_score", "linked"])
    return edges


def _membership(settings: Settings, day: str) -> dict[str, str]:
    from detector.clusters.store import read

    members = read(settings, day, "members")
    if members is None:
        return {}
    return dict(zip(members["account_id"], members["cluster_id"], strict=True))


def _clustered_day(settings: Settings, day: str | None) -> str:
    from detector.clusters.store import clustered_days

    if day:
        return str(day)[:10]
    days = clustered_days(settings)
    if not days:
        raise InputError(f"no clustered day in {settings.home}: run the pipeline first")
    return days[-1]


def cluster_neighbours(settings: Settings, account_id: str, day: str | None = None) -> pd.DataFrame:
    """Accounts linked to ``account_id`` by a typed evidence edge on ``day`` (default: the
    latest clustered day), strongest pair first.

    Columns: neighbour, edge_type, family, window, weight, pair_score, linked (the pair's total
    evidence passed the link threshold), evidence (dict), same_cluster, neighbour_cluster.
    """
    day = _clustered_day(settings, day)
    edges = _edges(settings, day)
    mine = edges[(edges["src"] == account_id) | (edges["dst"] == account_id)].copy()
    mine["neighbour"] = np.where(mine["src"] == account_id, mine["dst"], mine["src"])
    member = _membership(settings, day)
    own = member.get(account_id)
    mine["neighbour_cluster"] = mine["neighbour"].map(member)
    mine["same_cluster"] = (own is not None) & (mine["neighbour_cluster"] == own)
    mine["evidence"] = mine["evidence"].map(lambda e: json.loads(e) if e else {})
    cols = ["neighbour", "edge_type", "family", "window", "weight", "pair_score", "linked",
            "evidence", "same_cluster", "neighbour_cluster"]
    return mine.sort_values(["pair_score", "neighbour", "edge_type"],
                            ascending=[False, True, True])[cols].reset_index(drop=True)


def cluster_graph(settings: Settings, cluster_id: str, date: str | None = None) -> nx.Graph:
    """The cluster as a networkx graph: members as nodes, evidence between them as edges.

    Node attributes: ``degree``/``strength`` (from the cluster stage), ``score`` and
    ``decision`` (the member's verdict that day, None when not scored). Edge attributes:
    ``types`` (sorted edge types), ``weights`` ({edge_type: weight}, the strongest window),
    ``weight`` (their sum), ``pair_score``, ``linked`` and ``evidence``
    ({edge_type: evidence dict}). The graph's ``graph`` dict holds
    the cluster's row (size, clu_* features, date). KeyError naming the id when unknown.
    """
    import networkx as nx

    from detector.clusters import show_cluster
    from detector.verdicts import load_verdicts

    shown = show_cluster(settings, cluster_id, date)
    if shown is None:
        raise KeyError(f"cluster_id: no cluster {cluster_id!r} on {date or 'any clustered day'}")
    day = shown["date"]
    verdicts = load_verdicts(settings, day, columns=["account_id", "score", "decision"])
    by_acct = verdicts.set_index("account_id").to_dict(orient="index")
    g = nx.Graph(**{k: v for k, v in shown.items() if k not in ("members", "edges")})
    for m in shown["members"]:
        v = by_acct.get(m["account_id"], {})
        g.add_node(m["account_id"], degree=m.get("degree"), strength=m.get("strength"),
                   score=v.get("score"), decision=v.get("decision"))
    for e in shown["edges"]:
        a, b = e["src"], e["dst"]
        if not g.has_edge(a, b):
            g.add_edge(a, b, types=[], weights={}, weight=0.0, pair_score=e.get("pair_score"),
                       linked=bool(e.get("linked")), evidence={})
        data = g.edges[a, b]
        kind, weight = e["edge_type"], float(e.get("weight") or 0.0)
        data["types"] = sorted({*data["types"], kind})
        if weight >= data["weights"].get(kind, -1.0):
            data["weights"][kind] = weight
            data["evidence"][kind] = e.get("evidence") or {}
        data["weight"] = sum(data["weights"].values())
    return g


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


# --- rules ------------------------------------------------------------------------------------

def _comparison(condition: str, column: str) -> re.Pattern[str]:
    pattern = re.compile(rf"(\b{re.escape(column)}\s*{_COMPARE}\s*)({_NUMBER})")
    found = pattern.findall(condition)
    if len(found) != 1:
        raise ValueError(f"column: expected exactly one comparison of {column!r} with a number "
                         f"in the condition, got {len(found)}")
    return pattern


def rule_threshold(condition: str, column: str) -> float:
    """The number ``column`` is compared with in ``condition`` (e.g. 100000 for
    ``vol_output_tokens >= 100000``); ValueError unless exactly one such comparison exists."""
    return float(_comparison(condition, column).search(condition).group(3))


def retune_condition(condition: str, column: str, value: float) -> str:
    """``condition`` with the literal compared to ``column`` replaced by ``value``.

    Exactly one comparison ``column >= | > | <= | < number`` must exist (formatting is kept);
    ValueError naming the parameter otherwise.
    """
    pattern = _comparison(condition, column)
    return pattern.sub(lambda m: m.group(1) + _number(value), condition)


def _number(value: float) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def threshold_variant(rule: Rule, column: str, value: float) -> Rule:
    """A copy of ``rule`` whose threshold on ``column`` is ``value`` (id and name suffixed with
    ``@value`` so many variants can be backtested in one rule set)."""
    from detector.rules.columns import as_container
    from detector.rules.condition import compile_condition

    text = retune_condition(rule.source_condition, column, value)
    compiled = compile_condition(text, as_container(None))
    tag = _number(value)
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


def write_tuned_rule(rule: Rule, column: str, value: float, out_dir: str | Path,
                     modified: str | None = None) -> Path:
    """Write ``rule``'s YAML file into ``out_dir`` with its ``column`` threshold set to
    ``value`` and ``modified`` set (default: today, UTC); returns the new file's path.

    Only the condition block and the ``modified`` line change; comments, tests and layout are
    kept. Validate the folder with ``load_ruleset(rules_dir=out_dir)`` and the rule's own tests
    with ``detector.rules.testing.run_rule_tests`` before copying it into ``rules/``.
    """
    if rule.path is None or not Path(rule.path).exists():
        raise InputError(f"rule {rule.name}: its source file is unknown or missing ({rule.path})")
    lines = Path(rule.path).read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("condition:")), None)
    if start is None:
        raise InputError(f"{rule.path}: no top-level 'condition:' key")
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].strip() and not lines[i][0].isspace()), len(lines))
    block = retune_condition("".join(lines[start:end]), column, value)
    day = modified or datetime.now(UTC).date().isoformat()
    head = [re.sub(r"^modified:.*$", f"modified: {day}", ln) for ln in lines[:start]]
    tail = [re.sub(r"^modified:.*$", f"modified: {day}", ln) for ln in lines[end:]]
    out = Path(out_dir) / Path(rule.path).name
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "".join(head) + block + "".join(tail))
    return out


# --- models -----------------------------------------------------------------------------------

def model_comparison(frame: pd.DataFrame,
                     models: Mapping[str, tuple[DistillationClassifier, dict]]) -> pd.DataFrame:
    """Score the same labelled account-days with each model; one row per model.

    ``frame`` has the label column ``is_distiller`` and the features; ``models`` maps a display
    name to ``(model, card)``. Columns: model, version, average_precision, roc_auc, then
    recall and benign false-positive rate at the card's own review and block thresholds.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from detector.model.thresholds import rate_at

    if "is_distiller" not in frame.columns:
        raise ValueError("frame: expected an 'is_distiller' label column, got "
                         f"{list(frame.columns)[:8]}...")
    y = frame["is_distiller"].to_numpy().astype(int)
    both = len(set(y.tolist())) == 2
    rows = []
    for name, (model, card) in models.items():
        p = model.predict_proba(frame)[:, 1]
        thr = card.get("thresholds", {})
        review, block = float(thr.get("review", 0.5)), float(thr.get("block", 0.9))
        rows.append({
            "model": name, "version": card.get("version"),
            "average_precision": float(average_precision_score(y, p)) if both else None,
            "roc_auc": float(roc_auc_score(y, p)) if both else None,
            "review_threshold": review, "recall_review": rate_at(p[y == 1], review),
            "fpr_review": rate_at(p[y == 0], review), "block_threshold": block,
            "recall_block": rate_at(p[y == 1], block), "fpr_block": rate_at(p[y == 0], block),
        })
    return pd.DataFrame(rows)
