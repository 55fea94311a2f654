"""The durable outbox: hook events and their per-endpoint deliveries, in the case database.

Grain: ``hook_events`` has one row per event (idempotency key unique, deterministic event id,
so enqueuing the same fact twice stores it once); ``hook_deliveries`` one row per (event,
endpoint) with its state ``pending -> delivered | dead``, or ``shadow`` (recorded, never sent);
``hook_attempts`` one row per HTTP attempt (audit). ``hook_endpoints`` remembers when an
endpoint was first configured: it receives the events enqueued from then on (older ones only
through an explicit replay).

Times in ``next_attempt_at`` / ``lease_until`` are Unix seconds (REAL); text times are ISO 8601
UTC. Nothing here commits except the helpers that say so: :func:`enqueue` joins the caller's
transaction, so an event is recorded atomically with the decision that caused it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from detector.cases.db import immediate_transaction as transaction  # noqa: F401 (re-exported)
from detector.hooks.analyst import analyst_reasons
from detector.settings import HookEndpoint, Settings

EVENT_TYPES = ("account.flagged", "account.blocked", "account.cleared", "cluster.detected")
#: decision an account event announces (the state a gateway should apply)
EVENT_DECISION = {"account.flagged": "review", "account.blocked": "block",
                  "account.cleared": "allow"}
DELIVERY_STATES = ("pending", "delivered", "dead", "shadow")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS hook_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL,
        subject TEXT,
        subject_date TEXT,
        decision TEXT,
        payload_json TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS hook_events_subject ON hook_events (event_type, subject, seq)",
    """CREATE TABLE IF NOT EXISTS hook_endpoints (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        materialized_seq INTEGER NOT NULL,
        registered_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hook_deliveries (
        event_id TEXT NOT NULL REFERENCES hook_events (event_id),
        endpoint TEXT NOT NULL,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'shadow')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        lease_until REAL,
        last_status INTEGER,
        last_error TEXT,
        delivered_at TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (event_id, endpoint))""",
    """CREATE INDEX IF NOT EXISTS hook_deliveries_due
        ON hook_deliveries (endpoint, status, next_attempt_at, seq)""",
    """CREATE TABLE IF NOT EXISTS hook_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms REAL)""",
)


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the outbox tables if missing. Safe inside or outside a transaction (no commit)."""
    for statement in _SCHEMA:
        conn.execute(statement)


def open_db(settings: Settings) -> sqlite3.Connection:
    """A connection to the case database in autocommit mode (WAL), with the outbox schema.

    Callers group writes with :func:`transaction`.
    """
    path: Path = settings.cases_db
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    ensure_schema(conn)
    return conn


def event_id_for(idempotency_key: str) -> str:
    """Deterministic event id (the ``webhook-id``): the same key always gives the same id."""
    return "evt_" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


def enqueue(conn: sqlite3.Connection, event_type: str, payload: dict[str, Any],
            idempotency_key: str, explanation_json: str | None = None) -> str:
    """Record an event in the caller's transaction (no commit) and return its event id.

    Enqueuing an existing ``idempotency_key`` again stores nothing and returns the same id.
    Account events need ``payload['account_id']``, cluster events ``payload['cluster_id']``;
    ``payload['date']`` (YYYY-MM-DD), when given, is the day the event is about.
    An analyst event (``source: "analyst"``, from the case store) without
    ``reasons_structured`` gets it here (:func:`detector.hooks.analyst.analyst_reasons`), from
    ``explanation_json`` of its verdict when the caller has read it (else read here).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type: expected one of {', '.join(EVENT_TYPES)}, "
                         f"got {event_type!r}")
    if not isinstance(payload, dict):
        raise ValueError(f"payload: expected a dict, got {type(payload).__name__}")
    if not idempotency_key:
        raise ValueError("idempotency_key: expected a non-empty string, got an empty one")
    subject_key = "cluster_id" if event_type.startswith("cluster.") else "account_id"
    if payload.get(subject_key) in (None, ""):
        raise ValueError(f"payload: {event_type} needs {subject_key!r}, got keys {sorted(payload)}")
    if payload.get("source") == "analyst" and "reasons_structured" not in payload:
        # the case store cannot render reasons (it sits below decide): the hooks do
        payload = {**payload,
                   "reasons_structured": analyst_reasons(conn, payload, explanation_json)}
    event_id = event_id_for(idempotency_key)
    conn.execute(
        "INSERT OR IGNORE INTO hook_events (event_id, idempotency_key, event_type, subject, "
        "subject_date, decision, payload_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (event_id, idempotency_key, event_type, str(payload[subject_key]),
         str(payload["date"]) if payload.get("date") else None, EVENT_DECISION.get(event_type),
         json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str),
         utc_now_iso()))
    return event_id


# --- endpoints and deliveries -----------------------------------------------------------------
def config_mtime(settings: Settings) -> float | None:
    """When ``<home>/detector.toml`` was last written (Unix seconds), None without one: an
    endpoint found in it was configured at that time at the latest."""
    try:
        return (settings.home / "detector.toml").stat().st_mtime
    except OSError:
        return None


def _iso_at(ts: float) -> str:
    return (dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="microseconds")
            .replace("+00:00", "Z"))


def sync_endpoints(conn: sqlite3.Connection, endpoints: tuple[HookEndpoint, ...],
                   configured_at: float | None = None) -> None:
    """Register configured endpoints not seen before. They get the events enqueued from
    ``configured_at`` on (the configuration file's modification time: whichever process sees
    the endpoint first, the events enqueued since it was added are not missed); without it,
    from now on."""
    since = _iso_at(configured_at) if configured_at is not None else "9999"
    for ep in endpoints:
        conn.execute(
            "INSERT INTO hook_endpoints (name, url, first_seq, materialized_seq, registered_at) "
            "SELECT ?, ?, coalesce(min(seq) FILTER (WHERE created_at >= ?), max(seq) + 1, 1), "
            "0, ? FROM hook_events "
            "WHERE true ON CONFLICT (name) DO UPDATE SET url = excluded.url",
            (ep.name, ep.url, since, utc_now_iso()))


def materialize(conn: sqlite3.Connection, endpoints: tuple[HookEndpoint, ...],
                now: float) -> int:
    """Create delivery rows for events new to each endpoint (matching its event filter).

    Shadow endpoints get ``shadow`` rows (recorded, never sent). Returns rows created.
    """
    created = 0
    stamp = utc_now_iso()
    for ep in endpoints:
        row = conn.execute("SELECT first_seq, materialized_seq FROM hook_endpoints WHERE name = ?",
                           (ep.name,)).fetchone()
        if row is None:
            continue
        low = max(row[0] - 1, row[1])
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM hook_events").fetchone()[0]
        if top <= low:
            continue
        marks = ",".join("?" * len(ep.events)) or "NULL"
        cur = conn.execute(
            "INSERT OR IGNORE INTO hook_deliveries (event_id, endpoint, seq, status, attempts, "
            f"next_attempt_at, updated_at) SELECT event_id, ?, seq, ?, 0, ?, ? FROM hook_events "
            f"WHERE seq > ? AND seq <= ? AND event_type IN ({marks})",
            (ep.name, "shadow" if ep.shadow else "pending", now, stamp, low, top, *ep.events))
        created += cur.rowcount
        conn.execute("UPDATE hook_endpoints SET materialized_seq = ? WHERE name = ?",
                     (top, ep.name))
    return created


def event_row(conn: sqlite3.Connection, event_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM hook_events WHERE event_id = ?", (event_id,)).fetchone()


def list_deliveries(conn: sqlite3.Connection, status: str | None = None,
                    endpoint: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries joined with their events, newest first."""
    where, params = [], []
    if status:
        where.append("d.status = ?")
        params.append(status)
    if endpoint:
        where.append("d.endpoint = ?")
        params.append(endpoint)
    sql = ("SELECT d.event_id, e.event_type, e.subject, e.subject_date, d.endpoint, d.status, "
           "d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, "
           "e.created_at FROM hook_deliveries d JOIN hook_events e USING (event_id)"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY d.seq DESC, d.endpoint LIMIT ?")
    return [dict(r) for r in conn.execute(sql, (*params, limit)).fetchall()]


def delivery_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """endpoint -> status -> number of deliveries."""
    out: dict[str, dict[str, int]] = {}
    for name, status, n in conn.execute(
            "SELECT endpoint, status, count(*) FROM hook_deliveries GROUP BY 1, 2 ORDER BY 1, 2"):
        out.setdefault(name, {})[status] = n
    return out


def retry(conn: sqlite3.Connection, endpoint: str | None = None,
          event_ids: list[str] | None = None, include_pending: bool = False,
          now: float | None = None) -> int:
    """Put dead (and, with ``include_pending``, waiting) deliveries back to due-now, attempts 0.

    Returns how many deliveries were reset. Does not commit.
    """
    states = ("dead", "pending") if include_pending else ("dead",)
    where = [f"status IN ({','.join('?' * len(states))})"]
    params: list[Any] = list(states)
    if endpoint:
        where.append("endpoint = ?")
        params.append(endpoint)
    if event_ids:
        where.append(f"event_id IN ({','.join('?' * len(event_ids))})")
        params.extend(event_ids)
    cur = conn.execute(
        "UPDATE hook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
        "lease_until = NULL, updated_at = ? WHERE " + " AND ".join(where),
        (time.time() if now is None else now, utc_now_iso(), *params))
    return cur.rowcount


def replay(conn: sqlite3.Connection, endpoint: HookEndpoint, event_ids: list[str] | None = None,
           since: str | None = None, event_type: str | None = None,
           now: float | None = None) -> int:
    """Send events again to ``endpoint`` (same webhook-id), including delivered ones and events
    from before the endpoint was configured. ``since`` (YYYY-MM-DD) filters on the event's
    creation day. Shadow endpoints record the replay as shadow. Returns deliveries queued.
    """
    marks = ",".join("?" * len(endpoint.events)) or "NULL"
    where: list[str] = [f"event_type IN ({marks})"]
    params: list[Any] = list(endpoint.events)
    if event_ids:
        where.append(f"event_id IN ({','.join('?' * len(event_ids))})")
        params.extend(event_ids)
    if since:
        where.append("created_at >= ?")
        params.append(since)
    if event_type:
        where.append("event_type = ?")
        params.append(event_type)
    at = time.time() if now is None else now
    status = "shadow" if endpoint.shadow else "pending"
    cur = conn.execute(
        "INSERT INTO hook_deliveries (event_id, endpoint, seq, status, attempts, "
        "next_attempt_at, updated_at) SELECT event_id, ?, seq, ?, 0, ?, ? FROM hook_events WHERE "
        + " AND ".join(where)
        + " ON CONFLICT (event_id, endpoint) DO UPDATE SET status = excluded.status, attempts = 0, "
        "next_attempt_at = excluded.next_attempt_at, lease_until = NULL, last_error = NULL, "
        "updated_at = excluded.updated_at",
        (endpoint.name, status, at, utc_now_iso(), *params))
    return cur.rowcount
