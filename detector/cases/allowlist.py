"""The allow-list part of the case store: accounts and organisations exempt from blocking
until an expiry, each change audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from detector.cases.checks import CaseInputError, check_account, check_id, check_until, iso, now_iso
from detector.cases.db import Database


class AllowlistMixin:
    """Allow-list methods of :class:`~detector.cases.store.CaseStore` (uses its ``db`` and
    ``_audit``)."""

    db: Database

    # --- allow-list ----------------------------------------------------------------------
    def allowlist_add(self, account_id: str | None = None, org_id: str | None = None,
                      until: object = None, reason: str = "", analyst: str = ""
                      ) -> dict[str, Any]:
        """Exempt one account or one organisation until ``until`` (None = no expiry; a date
        means through the end of that day, UTC). Exactly one of account_id / org_id."""
        if (account_id is None) == (org_id is None):
            raise CaseInputError(
                f"allowlist_add: expected exactly one of account_id or org_id, got "
                f"account_id={account_id!r}, org_id={org_id!r}")
        row = {"account_id": None if account_id is None else check_account(account_id),
               "org_id": None if org_id is None else check_id("org_id", org_id),
               "until": check_until(until), "reason": check_id("reason", reason),
               "analyst": check_id("analyst", analyst), "created_at": now_iso()}
        with self.db.transaction() as conn:
            row["id"] = Database.insert(conn, "allowlist", row)
            self._audit(conn, row["analyst"], "allowlist.add", "allowlist", row["id"], None, row,
                        row["created_at"])
        return {**row, "revoked_at": None, "revoked_by": None}

    def allowlist_revoke(self, entry_id: int, analyst: str) -> dict[str, Any]:
        """End an allow-list entry now; returns it after the change."""
        analyst = check_id("analyst", analyst)
        at = now_iso()
        with self.db.transaction() as conn:
            cur = conn.execute("SELECT * FROM allowlist WHERE id = ?", (int(entry_id),))
            before = cur.fetchone()
            if before is None:
                raise CaseInputError(f"entry_id: no allow-list entry with id {entry_id!r}")
            before = dict(before)
            if before["revoked_at"] is not None:
                return before
            conn.execute("UPDATE allowlist SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                         (at, analyst, int(entry_id)))
            after = {**before, "revoked_at": at, "revoked_by": analyst}
            self._audit(conn, analyst, "allowlist.revoke", "allowlist", entry_id, before, after, at)
        return after

    def allowlist(self, active_only: bool = False, at: datetime | None = None
                  ) -> list[dict[str, Any]]:
        """Allow-list entries, newest first (only those in force at ``at`` if active_only)."""
        if not active_only:
            return self.db.query("SELECT * FROM allowlist ORDER BY id DESC")
        now = iso(at) if at is not None else now_iso()
        return self.db.query(
            "SELECT * FROM allowlist WHERE revoked_at IS NULL AND (until IS NULL OR until > ?) "
            "AND created_at <= ? ORDER BY id DESC", [now, now])

    def allowlist_active(self, at: datetime | None = None) -> tuple[set[str], set[str]]:
        """(account_ids, org_ids) exempt at ``at`` (default now)."""
        accounts: set[str] = set()
        orgs: set[str] = set()
        for r in self.allowlist(active_only=True, at=at):
            if r["account_id"] is not None:
                accounts.add(r["account_id"])
            else:
                orgs.add(r["org_id"])
        return accounts, orgs
