"""Turn batch verdicts into outbox events: what changed since the last announcement.

Per account, the last announced decision is the decision of its latest ``account.*`` event
(whoever enqueued it: this batch step or an analyst action in the case tool). A verdict day is
announced when its decision differs from that one:

- ``review`` -> ``account.flagged``, ``block`` -> ``account.blocked``;
- ``allow`` after an announced ``review`` -> ``account.cleared`` (an account never announced
  and allowed says nothing).

Blocks stick (as the verdict lookup answers them): after an announced block, later verdict
days scored ``allow`` or ``review`` announce nothing. A block ends only by an analyst
``clear`` (the case store announces it) or by expiry: a model block whose account has had no
block verdict for ``settings.block_expiry_days`` verdict days (0: never) gets
``account.cleared`` with ``source: "expiry"`` and reason ``block_expired``, dated the day it
ended. An analyst's ``confirm-block`` never expires.

A day older than the account's last announced day is never announced (re-running an old day
cannot undo a newer decision), nor the day of an analyst decision (it covers that day). Cluster ids seen in verdicts for the first time give
``cluster.detected``. Idempotency keys are deterministic (``verdict:<account>:<day>:<decision>``,
``cluster:<id>``), so re-running a day enqueues nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from detector.decide.reasons import default_rule_words, structured_reasons
from detector.hooks.outbox import (
    config_mtime,
    enqueue,
    open_db,
    sync_endpoints,
    transaction,
)
from detector.lake.days import parse_date
from detector.settings import Settings
from detector.verdicts import connect, evaluated_dates

DECISION_EVENT = {"review": "account.flagged", "block": "account.blocked",
                  "allow": "account.cleared"}
MAX_CLUSTER_MEMBERS = 1000


def _announced(conn) -> dict[str, tuple[str, str | None, str | None]]:
    """account_id -> (decision, day, source) of its latest account event (SQLite bare-column
    max)."""
    rows = conn.execute(
        "SELECT subject, decision, subject_date, json_extract(payload_json, '$.source'), "
        "max(seq) FROM hook_events WHERE event_type LIKE 'account.%' GROUP BY subject").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _candidate_rows(con, day: dt.date,
                    announced: dict[str, tuple[str, str | None, str | None]]
                    ) -> list[dict[str, Any]]:
    """Verdict rows of ``day`` that may change something: not allowed, or allowed after a flag."""
    raised = [a for a, (decision, _, _) in announced.items() if decision == "review"]
    con.register("_raised", pa.table({"account_id": pa.array(raised, pa.string())}))

    cur = con.execute(  # view verdicts (detector.verdicts): every column, typed
        "SELECT account_id, decision, score, reasons, cluster_id, model_version, ruleset_hash, "
        "run_id, explanation_json FROM verdicts WHERE CAST(date AS DATE) = ? AND (decision IN ('review', 'block') "
        "OR account_id IN (SELECT account_id FROM _raised)) ORDER BY account_id", [day])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _expire_blocks(conn, con, day: dt.date, expiry_days: int) -> int:
    """``account.cleared`` (source ``expiry``) for announced model blocks whose account's last
    block verdict on or before ``day`` is ``expiry_days`` or more days old."""
    if expiry_days <= 0:
        return 0
    blocked = [a for a, (decision, last_day, source) in _announced(conn).items()
               if decision == "block" and source == "verdicts"
               and (last_day is None or last_day <= day.isoformat())]
    if not blocked:
        return 0
    con.register("_blocked", pa.table({"account_id": pa.array(blocked, pa.string())}))
    rows = con.execute(
        "SELECT account_id, max(CAST(date AS DATE)) AS last_block, "
        "arg_max(CAST(cluster_id AS VARCHAR), CAST(date AS DATE)) AS cluster_id "
        "FROM verdicts WHERE lower(CAST(decision AS VARCHAR)) = 'block' "
        "AND CAST(date AS DATE) <= ? AND account_id IN (SELECT account_id FROM _blocked) "
        "GROUP BY account_id ORDER BY account_id", [day]).fetchall()
    n = 0
    for acc, last_block, cluster_id in rows:
        ended = last_block + dt.timedelta(days=expiry_days)
        if ended > day:
            continue
        payload = {
            "account_id": acc, "date": ended.isoformat(), "decision": "allow",
            "previous_decision": "block", "score": None, "reasons": ["block_expired"],
            "reasons_structured": structured_reasons(["block_expired"], rules={}),
            "cluster_id": cluster_id or None, "model_version": None, "ruleset_hash": None,
            "run_id": None, "source": "expiry", "blocked_date": last_block.isoformat(),
            "block_expiry_days": expiry_days,
        }
        enqueue(conn, "account.cleared", payload, f"expiry:{acc}:{last_block.isoformat()}")
        n += 1
    return n


def _account_events(conn, con, day: dt.date) -> int:
    announced = _announced(conn)
    words = default_rule_words()
    n = 0
    for row in _candidate_rows(con, day, announced):
        acc, decision = row["account_id"], row["decision"]
        last_decision, last_day, last_source = announced.get(acc, ("allow", None, None))
        if last_day is not None and (last_day > day.isoformat() or (
                last_day == day.isoformat() and last_source == "analyst")):
            continue  # a newer day was announced already, or an analyst decided on this day
        if last_decision == "block" and decision != "block":
            continue  # blocks stick: only an analyst clear or expiry ends them
        if decision == last_decision or decision not in DECISION_EVENT:
            continue
        payload = {
            "account_id": acc, "date": day.isoformat(), "decision": decision,
            "previous_decision": last_decision,
            "score": None if row["score"] is None else round(row["score"], 6),
            "reasons": [x for x in (row["reasons"] or "").split(";") if x],
            "reasons_structured": structured_reasons(row["reasons"], row["explanation_json"],
                                                     rules=words),
            "cluster_id": row["cluster_id"] or None, "model_version": row["model_version"],
            "ruleset_hash": row["ruleset_hash"], "run_id": row["run_id"], "source": "verdicts",
        }
        enqueue(conn, DECISION_EVENT[decision], payload, f"verdict:{acc}:{day}:{decision}")
        n += 1
    return n


def _cluster_events(conn, con, day: dt.date) -> int:
    known = {r[0] for r in conn.execute(
        "SELECT subject FROM hook_events WHERE event_type = 'cluster.detected'")}
    rows = con.execute(
        "SELECT CAST(cluster_id AS VARCHAR) AS cid, count(*) AS members, "
        "count(*) FILTER (WHERE decision IN ('review', 'block')) AS flagged, max(score), "
        f"list(account_id ORDER BY score DESC NULLS LAST)[1:{MAX_CLUSTER_MEMBERS}] "
        "FROM verdicts WHERE CAST(date AS DATE) = ? AND cluster_id IS NOT NULL "
        "AND CAST(cluster_id AS VARCHAR) <> '' GROUP BY 1 ORDER BY 1", [day]).fetchall()
    n = 0
    for cid, members, flagged, max_score, accounts in rows:
        if cid in known:
            continue
        payload = {"cluster_id": cid, "date": day.isoformat(), "member_count": int(members),
                   "flagged_count": int(flagged),
                   "max_score": None if max_score is None else round(float(max_score), 6),
                   "members": list(accounts), "source": "verdicts"}
        enqueue(conn, "cluster.detected", payload, f"cluster:{cid}")
        n += 1
    return n


def record_verdict_events(settings: Settings, dates: Iterable[str | dt.date]) -> int:
    """Enqueue the events that the verdicts of ``dates`` imply; returns how many were new.

    Days are processed oldest first, in one transaction of the case database.
    """
    days = sorted({parse_date(d, "dates") for d in dates})
    if not days:
        return 0
    if not evaluated_dates(settings):
        return 0
    con = connect(settings)
    conn = open_db(settings)
    try:
        before = conn.execute("SELECT count(*) FROM hook_events").fetchone()[0]
        with transaction(conn):
            sync_endpoints(conn, settings.hooks, config_mtime(settings))
            for day in days:
                _expire_blocks(conn, con, day, settings.block_expiry_days)
                _account_events(conn, con, day)
                _cluster_events(conn, con, day)
        return conn.execute("SELECT count(*) FROM hook_events").fetchone()[0] - before
    finally:
        conn.close()
        con.close()


def payload_of(row: Any) -> dict[str, Any]:
    """The payload dict of an outbox event row."""
    return json.loads(row["payload_json"])
