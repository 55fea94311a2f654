"""Delivering the outbox: signed POSTs with retries, exponential backoff with jitter, dead letters.

At-least-once delivery with a stable ``webhook-id`` per event: a receiver that ignores ids it
has already processed sees every event exactly once, even when the sender crashed after the
receiver answered. One pass (:func:`deliver`) is bounded in time: every request has timeouts,
an endpoint that is down (connection error, timeout, 5xx, 408, 429) is not tried again in the
same pass, and the pass stops claiming work after ``policy.pass_budget_s``.

Concurrency: each delivery is claimed with a lease (``lease_until``) in a short write
transaction, so two senders over the same database never send the same delivery at once; a
sender that dies mid-request leaves a lease that expires after ``policy.lease_s``.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from detector.errors import ConfigError
from detector.hooks.outbox import (
    config_mtime,
    materialize,
    open_db,
    sync_endpoints,
    transaction,
    utc_now_iso,
)
from detector.hooks.signing import event_body, sign_headers, webhook_for
from detector.settings import HookEndpoint, Settings

USER_AGENT = "distill-guard-webhooks/1"


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry policy. Delays are seconds; attempt ``n`` (1-based) failing waits
    ``d/2 + U(0, d/2)`` with ``d = min(backoff_cap_s, backoff_base_s * 2**(n-1))``."""

    max_attempts: int = 10
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 6 * 3600.0
    connect_timeout_s: float = 5.0
    timeout_s: float = 15.0
    lease_s: float = 120.0
    pass_budget_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: expected >= 1, got {self.max_attempts}")
        for name in ("backoff_base_s", "backoff_cap_s", "connect_timeout_s", "timeout_s",
                     "lease_s", "pass_budget_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected > 0, got {getattr(self, name)}")
        if self.lease_s <= self.connect_timeout_s + self.timeout_s:
            raise ValueError(f"lease_s: expected more than connect_timeout_s + timeout_s "
                             f"({self.connect_timeout_s + self.timeout_s}), got {self.lease_s}")

    def backoff(self, attempts: int, rng: random.Random | None = None) -> float:
        """Delay before the next try after ``attempts`` failed attempts (equal jitter)."""
        d = min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(attempts - 1, 0))
        return d / 2 + (rng or random).uniform(0, d / 2)


@dataclass
class DeliveryReport:
    """What one pass did (counts of deliveries)."""

    delivered: int = 0
    failed: int = 0          # attempts that failed and will be retried
    dead: int = 0            # deliveries that reached max_attempts in this pass
    deferred: int = 0        # not tried: their endpoint was down earlier in this pass
    shadow_recorded: int = 0
    pending: int = 0         # still pending after the pass (due later)
    errors: dict[str, str] = field(default_factory=dict)  # endpoint -> last error

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status: int | None
    error: str | None
    endpoint_down: bool
    retry_after: float | None = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.strip().isdigit() else None


def _post(client: httpx.Client, ep: HookEndpoint, headers: dict[str, str], body: str) -> _Outcome:
    try:
        with client.stream("POST", ep.url, content=body.encode("utf-8"), headers=headers) as r:
            code = r.status_code  # the response body is never read
            retry_after = _retry_after(r)
    except httpx.TimeoutException as exc:
        return _Outcome(False, None, f"timeout: {type(exc).__name__}", True)
    except httpx.HTTPError as exc:
        return _Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300], True)
    if 200 <= code < 300:
        return _Outcome(True, code, None, False)
    down = code >= 500 or code in (408, 429)
    return _Outcome(False, code, f"HTTP {code}", down, retry_after)


def _claim(conn: sqlite3.Connection, endpoint: str, now: float, lease_s: float,
           after_seq: int) -> sqlite3.Row | None:
    """Lease the oldest due delivery of ``endpoint`` after ``after_seq``; None when none is due.

    The cursor makes a pass try each delivery at most once.
    """
    with transaction(conn):
        row = conn.execute(
            "SELECT d.event_id, d.seq, d.attempts, e.event_type, e.created_at, e.payload_json "
            "FROM hook_deliveries d JOIN hook_events e USING (event_id) "
            "WHERE d.endpoint = ? AND d.status = 'pending' AND d.next_attempt_at <= ? "
            "AND (d.lease_until IS NULL OR d.lease_until < ?) AND d.seq > ? "
            "ORDER BY d.seq LIMIT 1",
            (endpoint, now, now, after_seq)).fetchone()
        if row is not None:
            conn.execute("UPDATE hook_deliveries SET lease_until = ? "
                         "WHERE event_id = ? AND endpoint = ?",
                         (now + lease_s, row["event_id"], endpoint))
    return row


def _record(conn: sqlite3.Connection, row: sqlite3.Row, endpoint: str, outcome: _Outcome,
            policy: DeliveryPolicy, started: float, now: float, rng: random.Random) -> str:
    """Store the attempt; returns the new status of the delivery."""
    attempts = row["attempts"] + 1
    if outcome.ok:
        status, next_at = "delivered", now
    elif attempts >= policy.max_attempts:
        status, next_at = "dead", now
    else:
        delay = policy.backoff(attempts, rng)
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, policy.backoff_cap_s))
        status, next_at = "pending", now + delay
    stamp = utc_now_iso()
    with transaction(conn):
        conn.execute(
            "UPDATE hook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
            "lease_until = NULL, last_status = ?, last_error = ?, updated_at = ?, "
            "delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END "
            "WHERE event_id = ? AND endpoint = ?",
            (status, attempts, next_at, outcome.status, outcome.error, stamp, status, stamp,
             row["event_id"], endpoint))
        conn.execute(
            "INSERT INTO hook_attempts (event_id, endpoint, attempt, at, status_code, error, "
            "duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row["event_id"], endpoint, attempts, stamp, outcome.status, outcome.error,
             round((time.time() - started) * 1000, 1)))
    return status


def _defer_rest(conn: sqlite3.Connection, endpoint: str, now: float, until: float) -> int:
    """Push the endpoint's other due deliveries to ``until`` without counting an attempt."""
    with transaction(conn):
        return conn.execute(
            "UPDATE hook_deliveries SET next_attempt_at = ? WHERE endpoint = ? AND "
            "status = 'pending' AND next_attempt_at <= ? AND lease_until IS NULL",
            (until, endpoint, now)).rowcount


def _deliver_endpoint(conn: sqlite3.Connection, client: httpx.Client, ep: HookEndpoint,
                      policy: DeliveryPolicy, deadline: float, report: DeliveryReport,
                      rng: random.Random, clock: Callable[[], float]) -> None:
    signer = webhook_for(ep.secret, f"hooks endpoint {ep.name!r} secret")
    cursor = 0
    while clock() < deadline:
        row = _claim(conn, ep.name, clock(), policy.lease_s, cursor)
        if row is None:
            return
        cursor = row["seq"]
        body = event_body(row["event_type"], row["created_at"], row["payload_json"])
        started = time.time()
        outcome = _post(client, ep, sign_headers(signer, row["event_id"], body), body)
        status = _record(conn, row, ep.name, outcome, policy, started, clock(), rng)
        if status == "delivered":
            report.delivered += 1
            continue
        report.dead += status == "dead"
        report.failed += status == "pending"
        report.errors[ep.name] = outcome.error or "failed"
        if outcome.endpoint_down:
            next_at = conn.execute(
                "SELECT next_attempt_at FROM hook_deliveries WHERE event_id = ? AND endpoint = ?",
                (row["event_id"], ep.name)).fetchone()[0]
            report.deferred += _defer_rest(conn, ep.name, clock(), max(next_at, clock()))
            return


def deliver(settings: Settings, policy: DeliveryPolicy | None = None,
            client: httpx.Client | None = None, seed: int | None = None,
            clock: Callable[[], float] = time.time) -> DeliveryReport:
    """One delivery pass over every configured endpoint; returns what it did.

    Registers new endpoints, creates their deliveries (``shadow`` ones are only recorded),
    then sends every due delivery once, oldest first per endpoint.
    """
    policy = policy or DeliveryPolicy()
    report = DeliveryReport()
    endpoints = settings.hooks
    conn = open_db(settings)
    try:
        with transaction(conn):
            sync_endpoints(conn, endpoints, config_mtime(settings))
            materialize(conn, endpoints, clock())
        own_client = client is None
        client = client or httpx.Client(
            timeout=httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s),
            follow_redirects=False, headers={"user-agent": USER_AGENT,
                                             "content-type": "application/json"})
        rng = random.Random(seed)
        deadline = clock() + policy.pass_budget_s
        try:
            for ep in endpoints:
                if ep.shadow:
                    continue
                try:
                    _deliver_endpoint(conn, client, ep, policy, deadline, report, rng, clock)
                except ConfigError as exc:  # one bad secret must not stop the other endpoints
                    report.errors[ep.name] = str(exc)
        finally:
            if own_client:
                client.close()
        names = [ep.name for ep in endpoints]
        if names:
            marks = ",".join("?" * len(names))
            report.pending = conn.execute(
                f"SELECT count(*) FROM hook_deliveries WHERE status = 'pending' "
                f"AND endpoint IN ({marks})", names).fetchone()[0]
            report.shadow_recorded = conn.execute(
                f"SELECT count(*) FROM hook_deliveries WHERE status = 'shadow' "
                f"AND endpoint IN ({marks})", names).fetchone()[0]
        return report
    finally:
        conn.close()


def next_due(settings: Settings) -> float | None:
    """Unix time of the earliest pending delivery of a configured endpoint (None: nothing)."""
    names = [ep.name for ep in settings.hooks if not ep.shadow]
    if not names:
        return None
    conn = open_db(settings)
    try:
        return conn.execute(
            "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM hook_deliveries "
            f"WHERE status = 'pending' AND endpoint IN ({','.join('?' * len(names))})",
            names).fetchone()[0]
    finally:
        conn.close()


def deliver_until_idle(settings: Settings, max_wait_s: float,
                       policy: DeliveryPolicy | None = None,
                       stop: threading.Event | None = None) -> DeliveryReport:
    """Run passes until nothing is pending or ``max_wait_s`` is spent; totals of all passes."""
    total = DeliveryReport()
    end = time.time() + max_wait_s
    stop = stop or threading.Event()
    while not stop.is_set():
        r = deliver(settings, policy)
        for key in ("delivered", "failed", "dead", "deferred"):
            setattr(total, key, getattr(total, key) + getattr(r, key))
        total.pending, total.shadow_recorded = r.pending, r.shadow_recorded
        total.errors.update(r.errors)
        due = next_due(settings)
        if due is None or due > end or time.time() >= end:
            break
        stop.wait(max(0.0, min(due, end) - time.time()) + 0.01)
    return total
