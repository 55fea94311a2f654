"""Case claims: an analyst takes an account's case so that two people do not work one account.

One row per account in ``claims`` (schema version 2). A claim is live until its
``expires_at`` (``Settings.claim_ttl_s`` after it was made) or until it is released (by its
holder, or when a decision is recorded). Claiming an account that someone else holds needs an
explicit take-over; every claim, take-over and release is one transaction with its audit row
(``entity = "claim"``, ``entity_id`` = the account id, before/after).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from detector.cases.checks import CaseInputError, check_account, check_date, check_id, iso, now_iso
from detector.cases.store import CaseStore

DEFAULT_TTL_S = 14_400


class ClaimConflict(CaseInputError):
    """The account is claimed by another analyst; ``holder`` is that claim's row."""

    def __init__(self, account_id: str, holder: dict[str, Any]) -> None:
        super().__init__(f"account {account_id!r} is claimed by {holder['analyst']} since "
                         f"{holder['claimed_at'][:19]} (until {holder['expires_at'][:19]}); "
                         "take it over explicitly")
        self.holder = holder


def _live(row: Any, now: str) -> dict[str, Any] | None:
    if row is None:
        return None
    row = dict(row)
    return row if row["expires_at"] > now else None


def claim(store: CaseStore, account_id: str, analyst: str, ttl_s: float = DEFAULT_TTL_S,
          date: str | None = None, take_over: bool = False) -> dict[str, Any]:
    """Claim ``account_id`` for ``analyst`` for ``ttl_s`` seconds (about the verdict of
    ``date``). Renewing one's own claim extends it. Raises :class:`ClaimConflict` when another
    analyst holds a live claim and ``take_over`` is false; a take-over is audited as
    ``claim.takeover`` with the previous holder in ``before``. Returns the claim row."""
    account_id = check_account(account_id)
    analyst = check_id("analyst", analyst)
    if not 0 < float(ttl_s) <= 30 * 86_400:
        raise CaseInputError(f"claim ttl_s: expected 1 s to 30 days, got {ttl_s!r}")
    now_dt = datetime.now(UTC)
    now = iso(now_dt)
    row = {"account_id": account_id, "date": check_date("date", date), "analyst": analyst,
           "claimed_at": now, "expires_at": iso(now_dt + timedelta(seconds=float(ttl_s)))}
    with store.db.transaction() as conn:
        before = dict(r) if (r := conn.execute("SELECT * FROM claims WHERE account_id = ?",
                                               (account_id,)).fetchone()) else None
        held = _live(before, now)
        if held is not None and held["analyst"] != analyst and not take_over:
            raise ClaimConflict(account_id, held)
        if held is not None and held["analyst"] == analyst:
            row["claimed_at"] = held["claimed_at"]  # a renewal keeps the start
        action = ("claim.takeover" if held is not None and held["analyst"] != analyst
                  else "claim.renew" if held is not None else "claim.create")
        conn.execute("INSERT INTO claims (account_id, date, analyst, claimed_at, expires_at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
                     "date = excluded.date, analyst = excluded.analyst, "
                     "claimed_at = excluded.claimed_at, expires_at = excluded.expires_at",
                     tuple(row.values()))
        store._audit(conn, analyst, action, "claim", account_id, before, row, now)
    return row


def release(store: CaseStore, account_id: str, analyst: str, why: str = "released",
            strict: bool = False) -> bool:
    """End the live claim on ``account_id`` if ``analyst`` holds it (True when one ended).
    A claim held by someone else is left alone (take it over first); with ``strict`` that
    raises :class:`ClaimConflict` instead of returning False."""
    analyst = check_id("analyst", analyst)
    now = now_iso()
    with store.db.transaction() as conn:
        held = _live(conn.execute("SELECT * FROM claims WHERE account_id = ?",
                                  (account_id,)).fetchone(), now)
        if held is not None and held["analyst"] != analyst and strict:
            raise ClaimConflict(account_id, held)
        if held is None or held["analyst"] != analyst:
            return False
        conn.execute("DELETE FROM claims WHERE account_id = ?", (account_id,))
        store._audit(conn, analyst, "claim.release", "claim", account_id, held,
                     {"why": why}, now)
    return True


def claim_of(store: CaseStore, account_id: str) -> dict[str, Any] | None:
    """The live claim on ``account_id``, or None."""
    now = now_iso()
    rows = store.db.query("SELECT * FROM claims WHERE account_id = ? AND expires_at > ?",
                          [account_id, now])
    return rows[0] if rows else None


def live_claims(store: CaseStore, analyst: str | None = None) -> dict[str, dict[str, Any]]:
    """account_id -> live claim (of one analyst when given). One indexed read of the claims
    in force: there are at most as many as accounts being worked on."""
    sql, params = "SELECT * FROM claims WHERE expires_at > ?", [now_iso()]
    if analyst is not None:
        sql, params = sql + " AND analyst = ?", [*params, analyst]
    return {r["account_id"]: r for r in store.db.query(sql, params)}
