"""The numbers of one daily report, read from the verdicts (and the lake for token counts).

Grain: one report per evaluated day ``D`` (a day that has verdicts, ``detector.verdicts``).
"Flagged" means decision ``review`` or ``block``. The previous day is the latest evaluated day
before ``D`` (not necessarily the calendar day before). Token counts are completion tokens of
the requests stored in the lake on ``D`` (UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from detector.decide.reasons import default_rule_words, structured_reasons
from detector.errors import InputError
from detector.lake.days import parse_date
from detector.report.extras import cluster_details, rule_catalogue
from detector.settings import Settings
from detector.verdicts import connect, evaluated_days, root

FLAGGED = ("review", "block")
TREND_DAYS = 14
SCORE_BINS = 20


@dataclass
class Tile:
    """A headline figure: today's value and the previous evaluated day's (None if no such day)."""

    key: str
    label: str
    value: int
    previous: int | None = None

    @property
    def delta(self) -> int | None:
        return None if self.previous is None else self.value - self.previous


@dataclass
class ReportData:
    """Everything the HTML, ``report.json`` and ``flagged.csv`` show for one day."""

    date: str
    previous_date: str | None
    tiles: list[Tile]
    trend: list[dict[str, Any]]            # one row per calendar day, from the first day with
                                           # verdicts in the 14-day window to D
    score_hist: list[dict[str, Any]]       # bin_lo, bin_hi, allow, review, block (counts)
    top_accounts: list[dict[str, Any]]     # flagged accounts, most severe first (capped)
    flagged: list[dict[str, Any]]          # every flagged account of the day
    clusters: list[dict[str, Any]]         # new or growing clusters with flagged members
    rules: list[dict[str, Any]]            # rule id, title, status, shadow, accounts, previous
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: three plain sentences: what changed, what needs a person, what was blocked automatically
    summary: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["tiles"] = [{**asdict(t), "delta": t.delta} for t in self.tiles]
        return out


# --- helpers -----------------------------------------------------------------------------
def _columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    try:
        return {r[0]: r[1] for r in con.execute(f"DESCRIBE {view}").fetchall()}
    except duckdb.Error:
        return {}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


# --- the parts of the report ---------------------------------------------------------------
def _day_counts(con: duckdb.DuckDBPyConnection, lo: dt.date, hi: dt.date) -> dict[dt.date, dict]:
    rows = _rows(con, """
        SELECT CAST(date AS DATE) AS d, count(*) AS active,
               count(*) FILTER (WHERE decision = 'review') AS review,
               count(*) FILTER (WHERE decision = 'block') AS block
        FROM verdicts WHERE CAST(date AS DATE) BETWEEN ? AND ? GROUP BY 1""", [lo, hi])
    return {r["d"]: r for r in rows}


def _trend(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[dict[str, Any]]:
    """Calendar days of the 14-day window ending on ``day``, starting at its first day with
    verdicts (no empty padding before the data begins); later days without verdicts are gaps."""
    lo = day - dt.timedelta(days=TREND_DAYS - 1)
    counts = _day_counts(con, lo, day)
    lo = min(counts, default=day)
    out = []
    for i in range((day - lo).days + 1):
        d = lo + dt.timedelta(days=i)
        c = counts.get(d)
        out.append({"date": d.isoformat(), "evaluated": c is not None,
                    "active": c["active"] if c else None, "review": c["review"] if c else None,
                    "block": c["block"] if c else None})
    return out


def _score_hist(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[dict[str, Any]]:
    rows = _rows(con, f"""
        SELECT least(greatest(CAST(floor(score * {SCORE_BINS}) AS INTEGER), 0), {SCORE_BINS - 1})
                 AS bin, decision, count(*) AS n
        FROM verdicts WHERE CAST(date AS DATE) = ? AND score IS NOT NULL GROUP BY 1, 2""", [day])
    bins = [{"bin_lo": i / SCORE_BINS, "bin_hi": (i + 1) / SCORE_BINS,
             "allow": 0, "review": 0, "block": 0} for i in range(SCORE_BINS)]
    for r in rows:
        key = r["decision"] if r["decision"] in ("allow", "review", "block") else "allow"
        bins[r["bin"]][key] += r["n"]
    return bins


def _token_table(con: duckdb.DuckDBPyConnection, day: dt.date) -> str:
    """Create temp table ``day_usage(account_id, requests, completion_tokens)`` for ``day``."""
    cols = _columns(con, "requests")
    where = "date = ?" if "date" in cols else "CAST(ts AS DATE) = ?"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE day_usage AS
        SELECT account_id, count(*) AS requests,
               coalesce(sum(completion_tokens), 0) AS completion_tokens
        FROM requests WHERE {where} GROUP BY account_id""", [day])
    return "day_usage"


def _flagged(con: duckdb.DuckDBPyConnection, day: dt.date,
             prev: dt.date | None) -> list[dict[str, Any]]:
    prev_join = ("LEFT JOIN (SELECT DISTINCT account_id FROM verdicts WHERE CAST(date AS DATE) = ? "
                 "AND decision IN ('review', 'block')) p USING (account_id)") if prev else ""
    new_expr = "p.account_id IS NULL" if prev else "NULL"
    params: list[Any] = [prev, day] if prev else [day]
    rows = _rows(con, f"""
        SELECT v.account_id, v.decision, v.score, coalesce(v.reasons, '') AS reasons,
               v.cluster_id, v.explanation_json, v.risk,
               coalesce(u.requests, 0) AS requests,
               coalesce(u.completion_tokens, 0) AS completion_tokens,
               {new_expr} AS new
        FROM verdicts v LEFT JOIN day_usage u USING (account_id) {prev_join}
        WHERE CAST(v.date AS DATE) = ? AND v.decision IN ('review', 'block')
        ORDER BY CASE v.decision WHEN 'block' THEN 0 ELSE 1 END, v.score DESC, v.account_id""",
                 params)
    for r in rows:
        r["date"] = day.isoformat()
        r["score"] = None if r["score"] is None else round(float(r["score"]), 4)
        r["reason_list"] = [x for x in (r["reasons"] or "").split(";") if x]
    return rows


def _tiles(con: duckdb.DuckDBPyConnection, day: dt.date, prev: dt.date | None,
           flagged: list[dict]) -> list[Tile]:
    counts = _day_counts(con, prev or day, day)
    today, before = counts[day], counts.get(prev) if prev else None
    new_flagged = sum(1 for r in flagged if r["new"]) if prev else len(flagged)
    tokens = sum(int(r["completion_tokens"]) for r in flagged)
    prev_tokens = None
    if prev:
        prev_tokens = int(con.execute(
            "SELECT coalesce(sum(completion_tokens), 0) FROM requests r "
            f"WHERE {'r.date' if 'date' in _columns(con, 'requests') else 'CAST(r.ts AS DATE)'} = ? "
            "AND r.account_id IN (SELECT account_id FROM verdicts WHERE CAST(date AS DATE) = ? "
            "AND decision IN ('review', 'block'))", [prev, prev]).fetchone()[0])

    def prev_of(key: str) -> int | None:
        return None if before is None else int(before[key])

    return [
        Tile("active", "Accounts active", int(today["active"]), prev_of("active")),
        Tile("flagged", "Flagged for review", int(today["review"]), prev_of("review")),
        Tile("blocked", "Blocked", int(today["block"]), prev_of("block")),
        Tile("new_flagged", "Newly flagged or blocked", new_flagged, None),
        Tile("distilled_tokens", "Estimated distilled tokens", tokens, prev_tokens),
    ]


def _clusters(con: duckdb.DuckDBPyConnection, settings: Settings, day: dt.date,
              prev: dt.date | None, notes: list[str]) -> list[dict]:
    rows = _rows(con, """
        WITH today AS (
            SELECT CAST(cluster_id AS VARCHAR) AS cluster_id, count(*) AS members,
                   count(*) FILTER (WHERE decision IN ('review', 'block')) AS flagged,
                   max(score) AS max_score
            FROM verdicts WHERE CAST(date AS DATE) = ? AND cluster_id IS NOT NULL
              AND CAST(cluster_id AS VARCHAR) <> '' GROUP BY 1),
        before AS (
            SELECT CAST(cluster_id AS VARCHAR) AS cluster_id,
                   count(*) FILTER (WHERE CAST(date AS DATE) = ?) AS prev_members
            FROM verdicts WHERE CAST(date AS DATE) < ? AND cluster_id IS NOT NULL GROUP BY 1)
        SELECT t.*, b.prev_members, b.cluster_id IS NULL AS new
        FROM today t LEFT JOIN before b USING (cluster_id)
        WHERE (b.cluster_id IS NULL OR t.members > coalesce(b.prev_members, 0))
          AND t.flagged > 0
        ORDER BY new DESC, flagged DESC, members DESC, cluster_id
        LIMIT 30""", [day, prev, day])
    details = cluster_details(settings, day, notes)
    for r in rows:
        r["status"] = "new" if r["new"] else "growing"
        r["max_score"] = None if r["max_score"] is None else round(float(r["max_score"]), 4)
        r["detail"] = details.get(r["cluster_id"], "")
    return rows


def _rules(con: duckdb.DuckDBPyConnection, day: dt.date, prev: dt.date | None,
           catalogue: dict[str, dict[str, str]]) -> list[dict]:
    out: list[dict] = []
    for column, shadow in (("rule_hits", False), ("shadow_hits", True)):
        expr = column  # VARCHAR[] in view verdicts (NULL in files written before it)
        rows = _rows(con, f"""
            SELECT rule_id,
                   count(DISTINCT account_id) FILTER (WHERE d = ?) AS accounts,
                   count(DISTINCT account_id) FILTER (WHERE d = ? AND decision IN ('review', 'block'))
                     AS flagged,
                   count(DISTINCT account_id) FILTER (WHERE d = ?) AS previous
            FROM (SELECT account_id, decision, CAST(date AS DATE) AS d,
                         unnest({expr}) AS rule_id
                  FROM verdicts WHERE CAST(date AS DATE) IN (?, ?))
            GROUP BY rule_id HAVING accounts > 0 OR previous > 0""",
                     [day, day, prev, day, prev or day])
        for r in rows:
            info = catalogue.get(r["rule_id"]) or {}
            r["title"] = info.get("title", "")
            r["status"] = info.get("status", "shadow" if shadow else "")
            r["shadow"] = shadow or info.get("status") == "shadow"
            if prev is None:
                r["previous"] = None
            out.append(r)
    out.sort(key=lambda r: (r["shadow"], -r["accounts"], r["rule_id"]))
    return out


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _summary(tiles: list[Tile], flagged: list[dict], clusters: list[dict],
             prev: dt.date | None, day: dt.date) -> list[str]:
    """Three sentences for someone who reads nothing else: what changed since the previous
    evaluated day, what needs a person, what was blocked without one."""
    t = {x.key: x for x in tiles}
    active, new = t["active"], t["new_flagged"].value
    if prev is None:
        changed = (f"On {day}, {_plural(active.value, 'account was', 'accounts were')} active "
                   f"and {_plural(new, 'was', 'were')} flagged or blocked; this is the first "
                   "evaluated day, so there is nothing to compare with.")
    else:
        changed = (f"On {day}, {_plural(active.value, 'account was', 'accounts were')} active "
                   f"({active.delta:+,} since {prev}) and "
                   f"{_plural(new, 'account was', 'accounts were')} newly flagged or blocked.")
    # the top review as the queue orders it: highest risk first (rows without one after)
    reviews = sorted((r for r in flagged if r["decision"] == "review"),
                     key=lambda r: (r.get("risk") is None, -(r.get("risk") or 0.0)))
    growing = [c for c in clusters if c.get("flagged")]
    if reviews:
        person = (f"{_plural(len(reviews), 'account needs', 'accounts need')} a person to "
                  f"review {'it' if len(reviews) == 1 else 'them'}, starting with "
                  f"{reviews[0]['account_id']} (score {reviews[0]['score'] or 0:.2f})")
    else:
        person = "No account needs a person to review it"
    if growing:
        person += (f"; {_plural(len(growing), 'new or growing group')} of linked accounts "
                   "with flagged members should be looked at as one case")
    blocks = [r for r in flagged if r["decision"] == "block"]
    tokens = sum(int(r["completion_tokens"]) for r in blocks)
    if blocks:
        blocked = (f"{_plural(len(blocks), 'account was', 'accounts were')} blocked "
                   f"automatically; {'it' if len(blocks) == 1 else 'they'} took "
                   f"{_plural(tokens, 'output token')} that day.")
    else:
        blocked = "No account was blocked automatically."
    return [changed, person + ".", blocked]


def _reason_words(flagged: list[dict]) -> None:
    """``reason_items``: the verdict's structured reasons (``detector.decide.reasons``, schema
    ``reason/1``: code, text and per kind the values), negligible model features left out."""
    words = default_rule_words()
    for r in flagged:
        r["reason_items"] = structured_reasons(r["reason_list"], r.pop("explanation_json", None),
                                               rules=words)


def _provenance(con: duckdb.DuckDBPyConnection, day: dt.date) -> dict:
    def distinct(col: str) -> list[str]:
        return [str(r[0]) for r in con.execute(
            f"SELECT DISTINCT {col} FROM verdicts WHERE CAST(date AS DATE) = ? AND {col} IS NOT NULL "
            "ORDER BY 1", [day]).fetchall()]

    created = con.execute("SELECT max(created_at) FROM verdicts WHERE CAST(date AS DATE) = ?",
                          [day]).fetchone()[0]
    req_cols = _columns(con, "requests")
    where = "date = ?" if "date" in req_cols else "CAST(ts AS DATE) = ?"
    day_first, day_last, day_requests = con.execute(
        f"SELECT min(ts), max(ts), count(*) FROM requests WHERE {where}", [day]).fetchone()
    lake_last = con.execute("SELECT max(ts) FROM requests").fetchone()[0]
    return {
        "model_versions": distinct("model_version"), "ruleset_hashes": distinct("ruleset_hash"),
        "feature_run_ids": distinct("feature_run_id"), "run_ids": distinct("run_id"),
        "verdicts_created_at": _iso(created), "day_first_request": _iso(day_first),
        "day_last_request": _iso(day_last), "day_requests": int(day_requests),
        "lake_last_request": _iso(lake_last),
        "generated_at": _iso(dt.datetime.now(dt.UTC).replace(microsecond=0)),
    }


def collect_report_data(settings: Settings, date: str | dt.date | None = None,
                        top_n: int = 25) -> ReportData:
    """Gather the report of ``date`` (default: the latest evaluated day) from the home folder.

    Raises InputError when there are no verdicts at all, or none for ``date``.
    """
    con = connect(settings)
    try:
        days = evaluated_days(con)
        if not days:
            raise InputError(f"no verdicts under {root(settings)}: run `detector run` first")
        day = parse_date(date) or days[-1]
        if day not in days:
            known = ", ".join(d.isoformat() for d in days[-5:])
            raise InputError(f"--date {day}: no verdicts under {root(settings)} for that day "
                             f"(latest evaluated days: {known})")
        earlier = [d for d in days if d < day]
        prev = earlier[-1] if earlier else None
        notes: list[str] = []
        _token_table(con, day)
        flagged = _flagged(con, day, prev)
        tiles = _tiles(con, day, prev, flagged)
        clusters = _clusters(con, settings, day, prev, notes)
        catalogue = rule_catalogue(notes)
        _reason_words(flagged)
        return ReportData(
            date=day.isoformat(), previous_date=prev.isoformat() if prev else None,
            tiles=tiles, trend=_trend(con, day),
            score_hist=_score_hist(con, day), top_accounts=flagged[:top_n], flagged=flagged,
            clusters=clusters, rules=_rules(con, day, prev, catalogue),
            provenance=_provenance(con, day), notes=notes,
            summary=_summary(tiles, flagged, clusters, prev, day))
    finally:
        con.close()
