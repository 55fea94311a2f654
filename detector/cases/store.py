"""The case store: analyst decisions, labels, allow-list, API keys and the audit log.

Every change is one short transaction that also appends its audit row(s) (who, when, what,
before/after) and, for analyst decisions, the webhook outbox event, so all of it commits or
none of it does. Readers (the decide stage, the model trainer, the API) never block writers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from detector.cases import keys as keylib
from detector.cases.db import Database
from detector.cases.migrate import migrate
from detector.cases.schema import DDL, DECISIONS, ROLES, STATUS_AFTER
from detector.errors import InputError
from detector.lake.io import current_umask
from detector.settings import HookEndpoint, Settings
from detector.verdicts import verdict_for

#: webhook event emitted in the same transaction as each analyst decision
DECISION_EVENTS = {
    "confirm-block": "account.blocked",
    "clear": "account.cleared",
    "escalate": "account.flagged",
}
#: what each decision means for the gateway
DECISION_VERDICT = {"confirm-block": "block", "clear": "allow", "escalate": "review"}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ID_LEN = 256
#: account ids as ingest accepts them (any non-blank string up to 1,024 characters, kept as is)
MAX_ACCOUNT_ID_LEN = 1024
MAX_NOTE_LEN = 10_000


class CaseInputError(InputError, ValueError):
    """An argument to the case store that is missing, malformed or out of range."""


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sorts as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LEN:
        raise CaseInputError(
            f"{name}: expected a non-empty string of at most {MAX_ID_LEN} characters, got {value!r}")
    return value.strip()


def _restrict(db_path: Path) -> None:
    """The new database file (and its WAL/SHM) get 0666 minus the umask: SQLite makes them
    0644, which is world-readable and, with ``group_access``, not group-writable."""
    mask = current_umask()
    for p in (db_path, db_path.with_name(db_path.name + "-wal"),
              db_path.with_name(db_path.name + "-shm")):
        with contextlib.suppress(OSError):
            os.chmod(p, 0o666 & ~mask)


def _check_account(value: object) -> str:
    """An account id exactly as the lake holds it (never stripped: ' a' and 'a' differ)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ACCOUNT_ID_LEN:
        raise CaseInputError("account_id: expected a non-blank string of at most "
                             f"{MAX_ACCOUNT_ID_LEN} characters, got {str(value)[:80]!r}")
    return value


def _check_date(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    try:
        if _DATE_RE.match(text):
            date.fromisoformat(text)
            return text
    except ValueError:
        pass
    raise CaseInputError(f"{name}: expected a date YYYY-MM-DD, got {value!r}")


def _check_until(value: object) -> str | None:
    """Normalise an allow-list expiry: None (never), a datetime, or a date (= end of that day)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return _iso(datetime.combine(value + timedelta(days=1), datetime.min.time()))
    text = str(value).strip()
    if _DATE_RE.match(text):
        try:
            return _check_until(date.fromisoformat(text))
        except ValueError:
            pass
    try:
        return _iso(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise CaseInputError(
            f"until: expected an ISO date or timestamp (or nothing for no expiry), got {value!r}"
        ) from None


class Outbox(Protocol):
    """What the case store needs from the webhook outbox (``detector.hooks.outbox`` satisfies
    it). Injected by the entry points that record analyst decisions (the API, ``detector
    cases``), so the case store never imports the hooks."""

    def ensure_schema(self, conn: Any) -> None: ...
    def enqueue(self, conn: Any, event_type: str, payload: dict[str, Any],
                idempotency_key: str) -> Any: ...
    def config_mtime(self, settings: Settings) -> float | None: ...
    def sync_endpoints(self, conn: Any, endpoints: tuple[HookEndpoint, ...],
                       configured_at: float | None = None) -> Any: ...


class CaseStore:
    """Case state of one home folder (``settings.cases_db``), or of an explicit ``path``.

    With an ``outbox``, each analyst decision also enqueues its webhook event in the same
    transaction; without one, decisions announce nothing (readers need none)."""

    def __init__(self, settings: Settings | None = None, path: Path | None = None,
                 outbox: Outbox | None = None) -> None:
        if path is None:
            if settings is None:
                raise CaseInputError("CaseStore: expected settings or a path, got neither")
            path = settings.cases_db
        self.settings = settings
        self.db = Database(Path(path))
        self._outbox = outbox
        tables = {r["name"] for r in self.db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"cases", "decisions", "labels", "allowlist", "audit_log", "api_keys"} <= tables:
            self.db.executescript(DDL)
            _restrict(Path(path))
        # readers (the decide stage, the trainer) take no write lock once the schema exists
        if self._outbox is not None and "hook_events" not in tables:
            with self.db.transaction() as conn:
                self._outbox.ensure_schema(conn)
        migrate(self.db)  # older databases: sessions, claims (detector/cases/migrate.py)

    # --- audit ---------------------------------------------------------------------------
    @staticmethod
    def _audit(conn: Any, actor: str, action: str, entity: str, entity_id: object,
               before: dict | None, after: dict | None, at: str) -> None:
        Database.insert(conn, "audit_log", {
            "at": at, "actor": actor, "action": action, "entity": entity,
            "entity_id": str(entity_id),
            "before_json": None if before is None else json.dumps(before, sort_keys=True),
            "after_json": None if after is None else json.dumps(after, sort_keys=True),
        })

    def audit_log(self, entity: str | None = None, entity_id: str | None = None,
                  limit: int = 1000, before_id: int | None = None) -> list[dict[str, Any]]:
        """Audit rows, newest first; ``before``/``after`` decoded from JSON."""
        where, params = [], []
        for col, val in (("entity", entity), ("entity_id", entity_id)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if before_id is not None:
            where.append("id < ?")
            params.append(int(before_id))
        sql = "SELECT * FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, int(limit)])
        for r in rows:
            for side in ("before", "after"):
                raw = r.pop(f"{side}_json")
                r[side] = json.loads(raw) if raw else None
        return rows

    def version(self) -> int:
        """A counter that grows with every change (the last audit row id); 0 when empty."""
        return int(self.db.scalar("SELECT COALESCE(MAX(id), 0) FROM audit_log") or 0)

    # --- decisions and cases -------------------------------------------------------------
    def record_decision(self, account_id: str, decision: str, analyst: str, note: str = "",
                        date: str | None = None) -> dict[str, Any]:
        """Record one analyst decision about ``account_id`` (about the verdict of ``date``,
        default today UTC) and update its case; emits the webhook event in the same
        transaction. Returns the decision row plus ``status`` (the case status after it)."""
        account_id = _check_account(account_id)
        analyst = _check_id("analyst", analyst)
        if decision not in DECISIONS:
            raise CaseInputError(f"decision: expected one of {', '.join(DECISIONS)}, got {decision!r}")
        note = "" if note is None else str(note)
        if len(note) > MAX_NOTE_LEN:
            raise CaseInputError(f"note: expected at most {MAX_NOTE_LEN} characters, got {len(note)}")
        at = now_iso()
        day = _check_date("date", date) or at[:10]
        row = {"account_id": account_id, "date": day, "decision": decision,
               "analyst": analyst, "note": note, "created_at": at}
        evidence = self._verdict_evidence(account_id, day) if decision in DECISION_EVENTS else {}
        with self.db.transaction() as conn:
            row["id"] = Database.insert(conn, "decisions", row)
            self._audit(conn, analyst, "decision.create", "decision", row["id"], None, row, at)
            case_before = self._case(conn, account_id)
            case_after = {"account_id": account_id, "status": STATUS_AFTER[decision],
                          "last_decision_id": row["id"],
                          "opened_at": case_before["opened_at"] if case_before else at,
                          "updated_at": at}
            conn.execute(
                "INSERT INTO cases (account_id, status, last_decision_id, opened_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
                "status = excluded.status, last_decision_id = excluded.last_decision_id, "
                "updated_at = excluded.updated_at",
                tuple(case_after.values()))
            self._audit(conn, analyst, "case.update" if case_before else "case.create", "case",
                        account_id, case_before, case_after, at)
            self._emit(conn, row, evidence)
        return {**row, "status": case_after["status"]}

    def _verdict_evidence(self, account_id: str, day: str) -> dict[str, Any]:
        """The verdict an analyst decides about (newest on or before ``day``): score, reasons,
        cluster id, versions for the decision's webhook event (empty when none or unreadable)."""
        home = self.settings if self.settings is not None else self.db.path.parent.parent
        try:
            return verdict_for(home, account_id, day) or {}
        except Exception:  # evidence is a courtesy: never block the decision on it
            return {}

    def _emit(self, conn: Any, row: dict[str, Any], evidence: dict[str, Any] | None = None
              ) -> None:
        event = DECISION_EVENTS.get(row["decision"])
        if event is None or self._outbox is None:
            return
        if self.settings is not None and self.settings.hooks:
            # endpoints configured since the last pass get this event too
            self._outbox.sync_endpoints(conn, self.settings.hooks,
                                        self._outbox.config_mtime(self.settings))
        prev = conn.execute(
            "SELECT decision FROM hook_events WHERE subject = ? AND event_type LIKE 'account.%' "
            "ORDER BY seq DESC LIMIT 1", (row["account_id"],)).fetchone()
        ev = evidence or {}
        payload = {"account_id": row["account_id"], "decision": DECISION_VERDICT[row["decision"]],
                   "previous_decision": prev[0] if prev else "allow",
                   "score": ev.get("score"), "reasons": list(ev.get("reasons") or []),
                   "cluster_id": ev.get("cluster_id"), "model_version": ev.get("model_version"),
                   "ruleset_hash": ev.get("ruleset_hash"), "run_id": ev.get("run_id"),
                   "verdict_date": ev.get("verdict_date"),
                   "verdict_decision": ev.get("verdict_decision"),
                   "analyst_decision": row["decision"], "source": "analyst",
                   "date": row["date"], "decision_id": row["id"], "at": row["created_at"]}
        self._outbox.enqueue(conn, event, payload, f"decision:{row['id']}")

    @staticmethod
    def _case(conn: Any, account_id: str) -> dict[str, Any] | None:
        cur = conn.execute("SELECT * FROM cases WHERE account_id = ?", (account_id,))
        r = cur.fetchone()
        return None if r is None else dict(r)

    def case(self, account_id: str) -> dict[str, Any] | None:
        """The case of ``account_id`` (status, last decision id, opened/updated), or None."""
        return self._case(self.db.connection(), account_id)

    def cases(self, status: str | None = None) -> list[dict[str, Any]]:
        """All cases (optionally of one status), most recently updated first."""
        if status is None:
            return self.db.query("SELECT * FROM cases ORDER BY updated_at DESC")
        return self.db.query("SELECT * FROM cases WHERE status = ? ORDER BY updated_at DESC",
                             [status])

    def decisions(self, account_id: str | None = None, limit: int | None = None
                  ) -> list[dict[str, Any]]:
        """Analyst decisions, newest first (of one account when given)."""
        sql, params = "SELECT * FROM decisions", []
        if account_id is not None:
            sql, params = sql + " WHERE account_id = ?", [account_id]
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, int(limit)]
        return self.db.query(sql, params)

    def latest_decisions(self) -> dict[str, dict[str, Any]]:
        """The most recent decision of every account that has one: account_id -> row."""
        rows = self.db.query(
            "SELECT d.* FROM decisions d JOIN (SELECT account_id, MAX(id) AS id FROM decisions "
            "GROUP BY account_id) m ON d.id = m.id")
        return {r["account_id"]: r for r in rows}

    # --- labels --------------------------------------------------------------------------
    def add_label(self, account_id: str, is_distiller: bool, source: str = "manual",
                  created_by: str = "system", date: str | None = None, note: str = ""
                  ) -> dict[str, Any]:
        """Add one explicit training label (``date`` None = about the account as a whole)."""
        account_id = _check_account(account_id)
        source = _check_id("source", source)
        created_by = _check_id("created_by", created_by)
        if not isinstance(is_distiller, bool | int):
            raise CaseInputError(f"is_distiller: expected a bool, got {is_distiller!r}")
        at = now_iso()
        row = {"account_id": account_id, "date": _check_date("date", date),
               "is_distiller": int(bool(is_distiller)), "source": source,
               "note": str(note or ""), "created_by": created_by, "created_at": at}
        with self.db.transaction() as conn:
            row["id"] = Database.insert(conn, "labels", row)
            self._audit(conn, created_by, "label.create", "label", row["id"], None, row, at)
        return row

    def labels(self) -> pd.DataFrame:
        """Training labels: explicit labels plus the latest confirm-block (True) / clear
        (False) decision per (account_id, date). Columns account_id, date (nullable str),
        is_distiller (bool), source, created_at."""
        rows = self.db.query(
            "SELECT account_id, date, CASE decision WHEN 'confirm-block' THEN 1 ELSE 0 END "
            "AS is_distiller, 'analyst' AS source, created_at FROM decisions d "
            "WHERE id IN (SELECT MAX(id) FROM decisions WHERE decision IN "
            "('confirm-block', 'clear') GROUP BY account_id, date) "
            "UNION ALL SELECT account_id, date, is_distiller, source, created_at FROM labels "
            "ORDER BY created_at")
        df = pd.DataFrame(rows, columns=["account_id", "date", "is_distiller", "source",
                                         "created_at"])
        df["is_distiller"] = df["is_distiller"].astype(bool)
        df["date"] = df["date"].astype(object).where(df["date"].notna(), None)
        return df

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
        row = {"account_id": None if account_id is None else _check_account(account_id),
               "org_id": None if org_id is None else _check_id("org_id", org_id),
               "until": _check_until(until), "reason": _check_id("reason", reason),
               "analyst": _check_id("analyst", analyst), "created_at": now_iso()}
        with self.db.transaction() as conn:
            row["id"] = Database.insert(conn, "allowlist", row)
            self._audit(conn, row["analyst"], "allowlist.add", "allowlist", row["id"], None, row,
                        row["created_at"])
        return {**row, "revoked_at": None, "revoked_by": None}

    def allowlist_revoke(self, entry_id: int, analyst: str) -> dict[str, Any]:
        """End an allow-list entry now; returns it after the change."""
        analyst = _check_id("analyst", analyst)
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
        now = _iso(at) if at is not None else now_iso()
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
        key_id = _check_id("key_id", key_id)
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        at = _iso(now)
        row = {"token_sha256": keylib.digest(token), "session_id": secrets.token_hex(8),
               "key_id": key_id, "created_at": at,
               "expires_at": _iso(now + timedelta(seconds=max(1.0, float(ttl_s))))}
        with self.db.transaction() as conn:
            day_ago = _iso(now - timedelta(days=1))
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
