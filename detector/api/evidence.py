"""Evidence about one account for the account page and ``/v1/accounts/{id}``.

Every piece reads its own table and comes back empty when that table does not exist yet (a
new home, a stage that has not run), so the page always renders. Percentiles are 0-100, by the
one definition of ``detector.features.percentiles`` (the share of that day's accounts with a
value that is lower, plus half of those with an equal one; accounts without a value left out),
the same as the verdict explanations'.
"""

from __future__ import annotations

import json
import math
from datetime import date as Date
from typing import Any

import duckdb

from detector.api.service import FEATURE_TABLES
from detector.columns.percentile import midrank_percentile_sql

KEY_COLUMNS = {"account_id", "date", "cluster_id", "org_id"}
VERDICT_COLUMNS = ("date", "score", "decision", "reasons", "cluster_id", "model_score",
                   "anomaly_score", "rule_hits", "shadow_hits", "explanation_json",
                   "model_version", "ruleset_hash", "feature_run_id", "run_id", "created_at",
                   "risk")  # as the verdict store reads them (NULL in files that predate one)
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
           "BOOLEAN", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    try:
        rows = con.execute(f"DESCRIBE {view}").fetchall()
    except duckdb.Error:
        return {}
    return {r[0]: str(r[1]) for r in rows}


def _plain(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, Date):
        return v.isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def verdict_history(con: duckdb.DuckDBPyConnection, account_id: str,
                    max_days: int = 60) -> list[dict[str, Any]]:
    """The account's verdict rows, oldest first (last ``max_days``), JSON fields decoded
    (view ``verdicts`` of ``detector.verdicts.connect``)."""
    select = ", ".join(_q(c) for c in VERDICT_COLUMNS)
    rows = con.execute(
        f"SELECT {select} FROM verdicts WHERE account_id = ? ORDER BY date DESC LIMIT ?",
        [account_id, max_days]).fetchall()
    out = []
    for r in reversed(rows):
        d = {c: _plain(v) for c, v in zip(VERDICT_COLUMNS, r, strict=True)}
        d["date"] = str(d["date"])[:10] if d["date"] is not None else None
        try:
            d["explanation"] = json.loads(d.pop("explanation_json") or "{}")
        except (TypeError, ValueError):
            d["explanation"] = {}
        d["rule_hits"] = list(d["rule_hits"] or [])
        d["shadow_hits"] = list(d["shadow_hits"] or [])
        out.append(d)
    return out


def _family(name: str) -> str:
    return name.split("_", 1)[0] if "_" in name else "other"


def feature_percentiles(con: duckdb.DuckDBPyConnection, account_id: str,
                        day: str) -> list[dict[str, Any]]:
    """Every numeric feature of the account on ``day`` with its population percentile,
    median and 90th percentile among that day's accounts."""
    out: list[dict[str, Any]] = []
    for view in FEATURE_TABLES:
        cols = _columns(con, view)
        if "account_id" not in cols or "date" not in cols:
            continue
        names = [c for c, t in cols.items() if c not in KEY_COLUMNS
                 and t.split("(")[0] in NUMERIC]
        if not names:
            continue
        where = "date = CAST(? AS DATE)"
        row = con.execute(f"SELECT {', '.join(_q(n) + '::DOUBLE' for n in names)} FROM {view} "
                          f"WHERE {where} AND account_id = ? LIMIT 1", [day, account_id]).fetchone()
        if row is None:
            continue
        aggs = []
        for n, v in zip(names, row, strict=True):
            c = f"{_q(n)}::DOUBLE"
            aggs += [midrank_percentile_sql(c, None if v is None else float(v)),
                     f"quantile_cont({c}, 0.5)", f"quantile_cont({c}, 0.9)"]
        stats = con.execute(f"SELECT {', '.join(aggs)} FROM {view} WHERE {where}", [day]).fetchone()
        for i, (n, v) in enumerate(zip(names, row, strict=True)):
            pct, med, p90 = stats[3 * i:3 * i + 3]
            value = _plain(v)
            out.append({"table": view.removeprefix("features_"), "name": n, "family": _family(n),
                        "value": value,
                        "percentile": None if value is None or pct is None else round(pct, 2),
                        "median": _plain(med), "p90": _plain(p90)})
    return out


def activity(con: duckdb.DuckDBPyConnection, account_id: str,
             days: list[str]) -> list[dict[str, Any]]:
    """Requests per hour on ``days`` (partition-pruned): [{hour (ISO), requests}]."""
    if not days or "account_id" not in _columns(con, "requests"):
        return []
    marks = ", ".join("CAST(? AS DATE)" for _ in days)
    rows = con.execute(
        f"SELECT date_trunc('hour', ts) AS h, count(*) FROM requests WHERE date IN ({marks}) "
        "AND account_id = ? GROUP BY 1 ORDER BY 1", [*days, account_id]).fetchall()
    return [{"hour": _plain(h), "requests": int(n)} for h, n in rows]


def prompt_samples(con: duckdb.DuckDBPyConnection, account_id: str, day: str,
                   n: int = 20) -> list[dict[str, Any]]:
    """A stable sample of ``n`` of the account's requests on ``day`` (raw prompt text:
    callers mask or drop it by role)."""
    cols = _columns(con, "requests")
    if "prompt_text" not in cols:
        return []
    rows = con.execute(
        "SELECT request_id, ts, model, endpoint, prompt_text, prompt_chars FROM requests "
        "WHERE date = CAST(? AS DATE) AND account_id = ? ORDER BY hash(request_id) LIMIT ?",
        [day, account_id, n]).fetchall()
    keys = ("request_id", "ts", "model", "endpoint", "prompt_text", "prompt_chars")
    return [{k: _plain(v) for k, v in zip(keys, r, strict=True)} for r in rows]


def account_org(con: duckdb.DuckDBPyConnection, account_id: str, day: str) -> str | None:
    """The account's org_id as seen in the lake on ``day`` (None when unknown)."""
    if "org_id" not in _columns(con, "requests"):
        return None
    row = con.execute("SELECT any_value(org_id) FROM requests WHERE date = CAST(? AS DATE) "
                      "AND account_id = ?", [day, account_id]).fetchone()
    return row[0] if row else None
