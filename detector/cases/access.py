"""The access part of the case store: API keys and page sessions, each change audited.

Keys are stored as sha256 digests (the secret is shown once, at creation); session cookies
likewise (only the token's digest is stored).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from detector.cases import keys as keylib
from detector.cases.checks import MAX_ID_LEN, CaseInputError, check_id, iso, now_iso
from detector.cases.db import Database
from detector.cases.schema import ROLES


class AccessMixin:
    """API key and session methods of :class:`~detector.cases.store.CaseStore` (uses its
    ``db`` and ``_audit``)."""

    db: Database

    # --- API keys ------------------------------------------------------------------------
    def create_key(self, role: str, name: str = "", actor: str = "cli") -> tuple[str, dict]:
        """Create an API key; returns (the secret, shown once; its stored record)."""
        if role not in ROLES:
            raise CaseInputError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        key_id, secret = keylib.new_key()
        at = now_iso()
        row = {"key_id": key_id, "name": (name or f"{role}-{key_id}")[:MAX_ID_LEN], "role": role,
               "key_sha256": keylib.digest(secret), "created_at": at}
        with self.db.transaction() as conn:
            Database.insert(conn, "api_keys", row)
            public = {k: v for k, v in row.items() if k != "key_sha256"}
            self._audit(conn, actor, "key.create", "api_key", key_id, None, public, at)
        return secret, {**public, "revoked_at": None}

    def revoke_key(self, key_id: str, actor: str = "cli") -> dict[str, Any]:
        """Revoke a key by its id (the part after ``dg_`` and before the second ``_``)."""
        at = now_iso()
        with self.db.transaction() as conn:
            cur = conn.execute("SELECT key_id, name, role, created_at, revoked_at FROM api_keys "
                               "WHERE key_id = ?", (key_id,))
            before = cur.fetchone()
            if before is None:
                raise CaseInputError(f"key_id: no API key with id {key_id!r}")
            before = dict(before)
            if before["revoked_at"] is not None:
                return before
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (at, key_id))
            after = {**before, "revoked_at": at}
            self._audit(conn, actor, "key.revoke", "api_key", key_id, before, after, at)
            self._end_sessions(conn, actor, at, "key revoked", key_id=key_id)
        return after

    def keys(self) -> list[dict[str, Any]]:
        """Every key's public record (never the hash), newest first."""
        return self.db.query("SELECT key_id, name, role, created_at, revoked_at FROM api_keys "
                             "ORDER BY created_at DESC")

    def active_key_digests(self) -> dict[str, dict[str, Any]]:
        """sha256 hex -> {key_id, name, role} of every key not revoked."""
        rows = self.db.query("SELECT key_id, name, role, key_sha256 FROM api_keys "
                             "WHERE revoked_at IS NULL")
        return {r.pop("key_sha256"): r for r in rows}

    # --- page sessions -------------------------------------------------------------------
    def create_session(self, key_id: str, ttl_s: float, actor: str = "") -> str:
        """Open a page session for the key ``key_id`` lasting ``ttl_s`` seconds; returns the
        cookie's token (random, 256 bits; only its sha256 is stored). Expired and ended
        sessions older than a day are deleted on the way."""
        key_id = check_id("key_id", key_id)
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        at = iso(now)
        row = {"token_sha256": keylib.digest(token), "session_id": secrets.token_hex(8),
               "key_id": key_id, "created_at": at,
               "expires_at": iso(now + timedelta(seconds=max(1.0, float(ttl_s))))}
        with self.db.transaction() as conn:
            day_ago = iso(now - timedelta(days=1))
            conn.execute("DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?",
                         (day_ago, day_ago))
            Database.insert(conn, "sessions", row)
            public = {k: v for k, v in row.items() if k != "token_sha256"}
            self._audit(conn, actor or key_id, "session.create", "session", row["session_id"],
                        None, public, at)
        return token

    def session(self, token: str | None) -> dict[str, Any] | None:
        """The live session of a cookie token: {session_id, key_id, expires_at, name, role}
        (name/role None for a key not in the store, e.g. the dev key); None when the token is
        unknown, expired, ended, or its key is revoked."""
        if not token or len(token) > 512:
            return None
        rows = self.db.query(
            "SELECT s.session_id, s.key_id, s.expires_at, k.name, k.role, k.revoked_at AS "
            "key_revoked_at FROM sessions s LEFT JOIN api_keys k ON k.key_id = s.key_id "
            "WHERE s.token_sha256 = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
            [keylib.digest(token), now_iso()])
        if not rows or rows[0].pop("key_revoked_at") is not None:
            return None
        return rows[0]

    def end_session(self, token: str, actor: str = "", why: str = "logout") -> bool:
        """End the session of ``token`` (logout); True when one was live."""
        at = now_iso()
        with self.db.transaction() as conn:
            return self._end_sessions(conn, actor, at, why, digest=keylib.digest(token)) > 0

    def revoke_sessions(self, key_id: str, actor: str = "cli") -> int:
        """End every live session of the key ``key_id``; returns how many."""
        at = now_iso()
        with self.db.transaction() as conn:
            return self._end_sessions(conn, actor, at, "revoked", key_id=key_id)

    def sessions(self, key_id: str | None = None) -> list[dict[str, Any]]:
        """Sessions (never the token's hash), newest first."""
        sql = ("SELECT session_id, key_id, created_at, expires_at, revoked_at, revoked_why "
               "FROM sessions")
        params: list[Any] = []
        if key_id is not None:
            sql, params = sql + " WHERE key_id = ?", [key_id]
        return self.db.query(sql + " ORDER BY created_at DESC", params)

    def _end_sessions(self, conn: Any, actor: str, at: str, why: str, *,
                      key_id: str | None = None, digest: str | None = None) -> int:
        col, val = ("key_id", key_id) if digest is None else ("token_sha256", digest)
        rows = conn.execute(f"SELECT session_id, key_id FROM sessions WHERE {col} = ? AND "
                            "revoked_at IS NULL", (val,)).fetchall()
        for r in rows:
            conn.execute("UPDATE sessions SET revoked_at = ?, revoked_why = ? "
                         "WHERE session_id = ?", (at, why, r["session_id"]))
            self._audit(conn, actor or r["key_id"], "session.end", "session", r["session_id"],
                        None, {"key_id": r["key_id"], "why": why}, at)
        return len(rows)
