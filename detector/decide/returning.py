"""Returning actors: a new account linked to previously blocked ones is reviewed on day one.

A blocked operator who signs up again usually brings something along: the same card, the same
client, the same network, the same harvesting script. For every account-day being scored whose
account is *new* (first seen in the lake within ``returning_new_days`` days, or created that
recently) and not itself blocked, the account's keys that day are matched against an index of
the keys of *previously blocked* accounts:

=========== =============================================================== ========
key type    what                                                            strength
=========== =============================================================== ========
payment     same payment fingerprint                                        strong
client      same dominant client profile: exact user agent + max_tokens +   weak
            temperature + logprobs/top_logprobs + n + stream +
            response_format (stock-library user agents never count)
prefix      same /24 (IPv4) or /48 (IPv6) prefix, within                     weak
            ``returning_prefix_days`` days of the block
system      same dominant system-prompt hash                                weak
template    prompt scaffolds (``clusters.templates``) with Jaccard >= 0.5   weak
=========== =============================================================== ========

"Dominant" = carrying at least 20% of the account's requests that day (as the cluster
stage's client fingerprints). A pair (new account, blocked account) is *linked* by a payment
key, or by two or more weak key types together; one weak key never links (a user agent, a
shared office network, a popular system prompt are each common). A key held by more than
``returning_max_key_accounts`` accounts active that day is *popular* and ignored (a campus
NAT, a popular app's client or prompt); a payment fingerprint only above
``PAYMENT_MAX_ACCOUNTS`` (a placeholder, not an instrument). For a template the popularity is
the number of that day's accounts whose scaffold matches the blocked one.

A link makes the decision at least ``review`` with the reason ``returning_actor`` and the
evidence in ``explanation_json.returning`` (matched blocked accounts, the day they were
blocked, how, and the key types; never key values). It never blocks, does not feed the
cluster escalation and does not change the score; the allow-list overrides it. An enterprise
whose accounts share one card with a blocked colleague is linked on payment: a review an
analyst clears (``detector cases allow`` keeps it cleared).

*Previously blocked* = a ``block`` verdict on an earlier scored day, or an analyst
``confirm-block`` (case store); an account whose latest analyst decision is ``clear`` is
dropped from the index (its block was a mistake).

The index (``state/returning/date=D/keys.parquet``, written by ``decide.score`` for each scored
day) holds one row per (blocked account, key type, key) of D. Keys are personal data (payment
instruments, networks): only keyed hashes are stored (SHA-256 with the home's secret
``state/returning/secret``, so a /24 cannot be recovered by hashing all 2^24 of them). Prefix
rows are removed once older than ``returning_prefix_days`` and whole files once older than
``returning_lookback_days``. An analyst confirmation of an account whose days were scored
before it is indexed from the lake on the next run (while the lake still holds those days).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.decide.returning_keys import DuckKeys
from detector.decide.returning_spark import SparkKeys
from detector.lake.io import write_parquet_atomic, write_text_atomic
from detector.settings import Settings

#: Reason token of a verdict raised or annotated by a link (``policy.at_least_review``).
REASON = "returning_actor"
STRONG = ("payment",)
WEAK = ("client", "prefix", "system", "template")
#: A payment fingerprint held by more accounts than this on a day is a placeholder.
PAYMENT_MAX_ACCOUNTS = 200
#: Jaccard of two scaffolds' shingles needed for a template match (``returning_keys`` builds them).
TEMPLATE_THRESHOLD = 0.5
#: Blocked accounts named per linked account-day in the evidence.
MAX_EVIDENCE = 10
#: Where the linking keys are read: DuckDB, or the executors (``key_source``).
KeySource = DuckKeys | SparkKeys

INDEX_SCHEMA = pa.schema([("account_id", pa.string()), ("date", pa.date32()),
                          ("key_type", pa.string()), ("key", pa.string()),
                          ("source", pa.string())])


@dataclass(frozen=True)
class Params:
    new_days: int = 3
    prefix_days: int = 7
    max_key_accounts: int = 20
    lookback_days: int = 90

    @classmethod
    def from_settings(cls, settings: Settings) -> Params:
        return cls(new_days=settings.returning_new_days,
                   prefix_days=settings.returning_prefix_days,
                   max_key_accounts=settings.returning_max_key_accounts,
                   lookback_days=settings.returning_lookback_days)


def index_dir(settings: Settings) -> Path:
    return settings.state_dir / "returning"


def _secret(settings: Settings) -> str:
    path = index_dir(settings) / "secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip()


# --- who is blocked --------------------------------------------------------------------------
def analyst_state(settings: Settings) -> tuple[set[str], dict[str, str]]:
    """(accounts whose latest analyst decision is confirm-block, cleared account -> its date)."""
    if not settings.cases_db.exists():
        return set(), {}
    from detector.cases import CaseStore

    latest = CaseStore(settings).latest_decisions()
    confirmed = {a for a, r in latest.items() if r["decision"] == "confirm-block"}
    cleared = {a: str(r.get("date") or "") for a, r in latest.items() if r["decision"] == "clear"}
    return confirmed, cleared


def key_source(settings: Settings, con: duckdb.DuckDBPyConnection) -> KeySource:
    """Where the linking keys are read from the lake: DuckDB's ``requests`` view over ``con``,
    or with ``engine = "spark"`` the executors (``returning_spark.SparkKeys``, the same rows;
    only per-account keys come back to the driver). The linking queries run on ``con``."""
    if settings.engine == "spark":
        return SparkKeys(settings, con)
    return DuckKeys(con)


def index_rows(lake: KeySource, day: str, secret: str, blocked: dict[str, str]) -> pd.DataFrame:
    """Index rows of ``day`` for ``blocked`` (account -> source: verdict | analyst)."""
    if not blocked:
        return _empty_index()
    keys = lake.keys(day, secret, sorted(blocked)).sort_values(  # the same file either engine
        ["account_id", "key_type", "key"], kind="stable").reset_index(drop=True)
    keys["date"] = date.fromisoformat(day)
    keys["source"] = keys["account_id"].map(blocked)
    return keys[INDEX_SCHEMA.names]


def _empty_index() -> pd.DataFrame:
    return INDEX_SCHEMA.empty_table().to_pandas()


def frame_index(settings: Settings, lake: KeySource, out: pd.DataFrame,
                secret: str, confirmed: set[str]) -> dict[str, pd.DataFrame]:
    """Index rows of each day of ``out`` (verdict rows): its blocked accounts, plus the
    analyst-confirmed ones active that day."""
    result: dict[str, pd.DataFrame] = {}
    days = pd.to_datetime(out["date"]).dt.date.astype(str)
    for day in sorted(days.unique()):
        rows = out.loc[days == day]
        blocked = {a: "verdict" for a in rows.loc[rows["decision"] == "block", "account_id"]}
        for a in lake.active(day, confirmed - set(blocked)):
            blocked[a] = "analyst"
        result[day] = index_rows(lake, day, secret, blocked)
    return result


def catch_up(settings: Settings, lake: KeySource, stored: pd.DataFrame,
             confirmed: set[str], first: str, params: Params, secret: str
             ) -> dict[str, pd.DataFrame]:
    """Index rows for analyst-confirmed accounts missing from the stored index, from their
    lake days in the look-back window before ``first`` (confirmed after those days were scored)."""
    missing = confirmed - set(stored["account_id"])
    if not missing:
        return {}
    start = (date.fromisoformat(first) - timedelta(days=params.lookback_days)).isoformat()
    return {d: index_rows(lake, d, secret, dict.fromkeys(a, "analyst"))
            for d, a in lake.days_of(missing, start, first)}


def stored_index(settings: Settings, start: str, end: str) -> pd.DataFrame:
    """Stored index rows of days in [start, end)."""
    parts = []
    for path in sorted(index_dir(settings).glob("date=*/keys.parquet")):
        day = path.parent.name.split("=", 1)[1]
        if start <= day < end:
            parts.append(pq.read_table(path, schema=INDEX_SCHEMA).to_pandas())
    return pd.concat(parts, ignore_index=True) if parts else _empty_index()


# --- linking ---------------------------------------------------------------------------------
def _new_accounts(frame: pd.DataFrame, params: Params) -> pd.Series:
    """Rows whose account is new: first seen within ``new_days`` days, or created that recently."""
    new = pd.Series(False, index=frame.index)
    if "hist_days_since_first_seen" in frame.columns:
        seen = pd.to_numeric(frame["hist_days_since_first_seen"], errors="coerce")
        new |= (seen < params.new_days).fillna(False)
    if "inf_account_age_days" in frame.columns:
        age = pd.to_numeric(frame["inf_account_age_days"], errors="coerce")
        new |= (age <= params.new_days).fillna(False)
    return new


def link(settings: Settings, con: duckdb.DuckDBPyConnection, frame: pd.DataFrame,
         out: pd.DataFrame, params: Params | None = None) -> dict[int, dict]:
    """Evidence per linked row position of ``out`` (verdicts of ``frame``'s account-days,
    before any link): ``{"matches": [...], "keys": [...]}``. Nothing is written."""
    params = params or Params.from_settings(settings)
    days = pd.to_datetime(out["date"]).dt.date.astype(str).to_numpy()
    allowed = out["allowlisted"].to_numpy() if "allowlisted" in out.columns \
        else [False] * len(out)
    confirmed, cleared = analyst_state(settings)
    new = _new_accounts(frame.reset_index(drop=True), params).to_numpy()
    cand = [i for i in range(len(out)) if new[i] and out["decision"].iat[i] != "block"
            and not allowed[i] and out["account_id"].iat[i] not in confirmed]
    if not cand:
        return {}
    first, scored = min(days), set(days)
    start = (date.fromisoformat(first) - timedelta(days=params.lookback_days)).isoformat()
    stored = stored_index(settings, start, max(days))  # earlier days and gaps between ours
    stored = stored[~stored["date"].astype(str).isin(scored)]
    secret = _secret(settings)
    lake = key_source(settings, con)
    extra = catch_up(settings, lake, stored, confirmed, first, params, secret)
    index = pd.concat([stored, *extra.values(),
                       *frame_index(settings, lake, out, secret, confirmed).values()],
                      ignore_index=True)
    index = _drop_cleared(index, cleared)
    found: dict[int, dict] = {}
    for day in sorted({days[i] for i in cand}):
        lo = (date.fromisoformat(day) - timedelta(days=params.lookback_days))
        idx = index[(index["date"] < date.fromisoformat(day)) & (index["date"] >= lo)]
        if idx.empty:
            continue
        rows = [i for i in cand if days[i] == day]
        accounts = {str(out["account_id"].iat[i]): i for i in rows}
        for acct, ev in match_day(lake, day, idx, set(accounts), secret, params).items():
            found[accounts[acct]] = ev
    return found


def _drop_cleared(index: pd.DataFrame, cleared: dict[str, str]) -> pd.DataFrame:
    """Rows of accounts an analyst cleared on or after the indexed day go."""
    if index.empty or not cleared:
        return index
    when = index["account_id"].map(cleared)
    gone = when.notna() & (when.fillna("") >= index["date"].astype(str))
    return index.loc[~gone]


def match_day(lake: KeySource, day: str, idx: pd.DataFrame, candidates: set[str],
              secret: str, params: Params) -> dict[str, dict]:
    """Linked candidates of ``day`` -> evidence, against index rows ``idx`` (earlier days).
    Where a pair matches on several index days or keys of one type, the evidence names the
    latest day's source and the most popular key (deterministic on either engine)."""
    today = lake.today(day, secret, idx, params.max_key_accounts, PAYMENT_MAX_ACCOUNTS)
    if today.empty:
        return {}
    d, con = date.fromisoformat(day), lake.con
    con.register("_rt_today", today)
    con.register("_rt_idx", idx.assign(age=[(d - x).days for x in idx["date"]]))
    try:
        exact = con.execute(f"""
            WITH pop AS (SELECT key_type, key, count(DISTINCT account_id) AS m FROM _rt_today
                         WHERE key_type <> 'shingle' GROUP BY ALL)
            SELECT t.account_id, i.account_id AS blocked, i.key_type, max(i.date) AS blocked_on,
                   arg_max(i.source, i.date) AS source, max(pop.m) AS m
            FROM _rt_today t JOIN _rt_idx i USING (key_type, key) JOIN pop USING (key_type, key)
            WHERE t.account_id <> i.account_id
              AND (i.key_type <> 'prefix' OR i.age <= {int(params.prefix_days)})
              AND pop.m <= CASE WHEN i.key_type = 'payment' THEN {PAYMENT_MAX_ACCOUNTS}
                                ELSE {int(params.max_key_accounts)} END
            GROUP BY ALL""").df()
        template = con.execute(f"""
            WITH a AS (SELECT account_id, key FROM _rt_today WHERE key_type = 'shingle'),
            b AS (SELECT account_id AS blocked, date, source, key FROM _rt_idx
                  WHERE key_type = 'shingle'),
            na AS (SELECT account_id, count(*) AS na FROM a GROUP BY ALL),
            nb AS (SELECT blocked, date, count(*) AS nb FROM b GROUP BY ALL),
            j AS (SELECT a.account_id, b.blocked, b.date, min(b.source) AS source,
                         count(*) AS n FROM a JOIN b USING (key) GROUP BY ALL),
            hit AS (SELECT j.* FROM j JOIN na USING (account_id) JOIN nb USING (blocked, date)
                    WHERE j.account_id <> j.blocked
                      AND n >= {TEMPLATE_THRESHOLD} * (na + nb - n)),
            pop AS (SELECT blocked, date, count(DISTINCT account_id) AS m FROM hit GROUP BY ALL)
            SELECT account_id, blocked, 'template' AS key_type, max(date) AS blocked_on,
                   arg_max(source, date) AS source, max(m) AS m
            FROM hit JOIN pop USING (blocked, date)
            WHERE m <= {int(params.max_key_accounts)} GROUP BY account_id, blocked""").df()
    finally:
        con.unregister("_rt_today")
        con.unregister("_rt_idx")
    pairs = pd.concat([exact, template], ignore_index=True)
    pairs = pairs[pairs["account_id"].isin(candidates)]
    pairs = pairs.sort_values(["account_id", "blocked", "blocked_on", "key_type"],
                              ascending=[True, True, False, True], kind="stable")
    return _evidence(pairs)


def _evidence(pairs: pd.DataFrame) -> dict[str, dict]:
    """Candidate -> evidence for the linked (candidate, blocked) pairs of ``pairs``."""
    found: dict[str, list[dict]] = {}
    for (acct, blocked), g in pairs.groupby(["account_id", "blocked"], sort=True):
        types = sorted(set(g["key_type"]), key=(STRONG + WEAK).index)
        if not (set(types) & set(STRONG) or len(set(types) & set(WEAK)) >= 2):
            continue
        found.setdefault(str(acct), []).append({
            "account_id": str(blocked), "keys": types,
            "blocked_on": str(max(g["blocked_on"]))[:10], "source": str(g["source"].iat[0]),
            "key_accounts": {t: int(m) for t, m in zip(g["key_type"], g["m"], strict=True)}})
    out = {}
    for acct, matches in found.items():
        matches.sort(key=lambda m: ("payment" not in m["keys"], -len(m["keys"]),
                                    m["account_id"]))
        out[acct] = {"matches": matches[:MAX_EVIDENCE], "n_matches": len(matches),
                     "keys": sorted({k for m in matches for k in m["keys"]},
                                    key=(STRONG + WEAK).index)}
    return out


def annotate(explanations: pd.Series, links: dict[int, dict]) -> list[str]:
    """``explanation_json`` texts with ``returning`` added at the linked positions."""
    texts = list(explanations)
    for pos, ev in links.items():
        body = json.loads(texts[pos]) if texts[pos] else {}
        body["returning"] = ev
        texts[pos] = json.dumps(body, sort_keys=True)
    return texts


# --- the stored index ------------------------------------------------------------------------
def write_index(settings: Settings, con: duckdb.DuckDBPyConnection, out: pd.DataFrame,
                params: Params | None = None) -> dict[str, int]:
    """Write the index of each day of ``out`` (its final verdicts), catch up analyst
    confirmations of earlier days, apply retention. Rows written per day."""
    params = params or Params.from_settings(settings)
    if out.empty:
        return {}
    secret = _secret(settings)
    confirmed, _ = analyst_state(settings)
    lake = key_source(settings, con)
    days = frame_index(settings, lake, out, secret, confirmed)
    first = min(days)
    start = (date.fromisoformat(first) - timedelta(days=params.lookback_days)).isoformat()
    for day, rows in catch_up(settings, lake, stored_index(settings, start, first), confirmed,
                              first, params, secret).items():
        days[day] = pd.concat([stored_index(settings, day, _next(day)), rows],
                              ignore_index=True).drop_duplicates()
    for day, rows in days.items():
        table = pa.Table.from_pandas(rows, schema=INDEX_SCHEMA, preserve_index=False)
        write_parquet_atomic(index_dir(settings) / f"date={day}" / "keys.parquet", table)
    _retain(settings, max(days), params)
    return {d: len(r) for d, r in days.items()}


def _next(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _retain(settings: Settings, latest: str, params: Params) -> None:
    """Drop index days older than the look-back, and prefix rows older than prefix_days."""
    end = date.fromisoformat(latest)
    for path in sorted(index_dir(settings).glob("date=*/keys.parquet")):
        day = date.fromisoformat(path.parent.name.split("=", 1)[1])
        age = (end - day).days
        if age > params.lookback_days:
            path.unlink()
            with contextlib.suppress(OSError):  # something else in the folder: leave it
                path.parent.rmdir()
        elif age > params.prefix_days:
            t = pq.read_table(path, schema=INDEX_SCHEMA)
            keep = t.filter(pc.not_equal(t["key_type"], "prefix"))
            if keep.num_rows < t.num_rows:
                write_parquet_atomic(path, keep)
