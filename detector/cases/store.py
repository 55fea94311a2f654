"""The case store: analyst decisions, labels, allow-list, API keys and the audit log.

Decisions, cases, labels and the audit log are here; the allow-list (``allowlist.py``) and
API keys and page sessions (``access.py``) are mixed into :class:`CaseStore`, argument checks
are in ``checks.py``. Every change is one short transaction that also appends its audit row(s) (who, when, what,
before/after) and, for analyst decisions, the webhook outbox event, so all of it commits or
none of it does. Readers (the decide stage, the model trainer, the API) never block writers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from detector.cases.access import AccessMixin
from detector.cases.allowlist import AllowlistMixin
from detector.cases.checks import (
    MAX_NOTE_LEN,
    CaseInputError,
    check_account,
    check_date,
    check_id,
    now_iso,
    restrict_file_mode,
)
from detector.cases.db import Database
from detector.cases.migrate import migrate
from detector.cases.schema import DDL, DECISIONS, STATUS_AFTER
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


class CaseStore(AllowlistMixin, AccessMixin):
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
            restrict_file_mode(Path(path))
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
        account_id = check_account(account_id)
        analyst = check_id("analyst", analyst)
        if decision not in DECISIONS:
            raise CaseInputError(f"decision: expected one of {', '.join(DECISIONS)}, got {decision!r}")
        note = "" if note is None else str(note)
        if len(note) > MAX_NOTE_LEN:
            raise CaseInputError(f"note: expected at most {MAX_NOTE_LEN} characters, got {len(note)}")
        at = now_iso()
        day = check_date("date", date) or at[:10]
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
        self._outbox.enqueue(conn, event, payload, f"decision:{row['id']}",
                             explanation_json=ev.get("explanation_json"))

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
        account_id = check_account(account_id)
        source = check_id("source", source)
        created_by = check_id("created_by", created_by)
        if not isinstance(is_distiller, bool | int):
            raise CaseInputError(f"is_distiller: expected a bool, got {is_distiller!r}")
        at = now_iso()
        row = {"account_id": account_id, "date": check_date("date", date),
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

