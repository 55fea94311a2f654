"""The case store: decisions, cases, labels, allow-list, keys, audit log, WAL, outbox."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from detector.cases import CaseInputError, CaseStore
from detector.hooks import outbox
from detector.settings import load_settings


@pytest.fixture()
def store(tmp_path):
    return CaseStore(load_settings(tmp_path / "home"))


def test_database_is_wal_with_busy_timeout(store):
    conn = store.db.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_record_decision_updates_case_and_audit(store):
    row = store.record_decision("a1", "confirm-block", "ann", "harvesting", date="2026-11-27")
    assert row["status"] == "blocked" and row["date"] == "2026-11-27" and row["id"] == 1
    row2 = store.record_decision("a1", "clear", "bob", "false positive")
    assert row2["status"] == "cleared"
    assert row2["date"] == datetime.now(UTC).date().isoformat()  # default: today UTC
    case = store.case("a1")
    assert case["status"] == "cleared" and case["last_decision_id"] == row2["id"]
    assert [d["decision"] for d in store.decisions("a1")] == ["clear", "confirm-block"]
    log = store.audit_log(entity="case", entity_id="a1")
    assert [e["action"] for e in log] == ["case.update", "case.create"]
    assert log[0]["before"]["status"] == "blocked" and log[0]["after"]["status"] == "cleared"
    assert log[0]["actor"] == "bob"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"decision": "nuke"}, "decision: expected one of"),
    ({"account_id": ""}, "account_id"),
    ({"analyst": " "}, "analyst"),
    ({"date": "27/11/2026"}, "date: expected a date YYYY-MM-DD"),
])
def test_record_decision_rejects_bad_input(store, kwargs, fragment):
    args = {"account_id": "a1", "decision": "clear", "analyst": "ann", "note": ""} | kwargs
    with pytest.raises(CaseInputError, match=fragment):
        store.record_decision(**args)
    assert store.decisions() == [] and store.version() == 0  # nothing written


def test_audit_log_is_append_only(store):
    store.record_decision("a1", "escalate", "ann")
    conn = store.db.connection()
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    assert store.version() == 2


def test_labels_from_decisions_and_explicit(store):
    store.record_decision("a1", "confirm-block", "ann", date="2026-11-26")
    store.record_decision("a1", "clear", "ann", date="2026-11-26")  # same day: latest wins
    store.record_decision("a2", "confirm-block", "ann", date="2026-11-27")
    store.record_decision("a3", "escalate", "ann", date="2026-11-27")  # no label
    store.add_label("a4", True, source="partner-report", created_by="ops")
    df = store.labels()
    assert list(df.columns) == ["account_id", "date", "is_distiller", "source", "created_at"]
    got = {(r.account_id, r.date): (bool(r.is_distiller), r.source) for r in df.itertuples()}
    assert got == {("a1", "2026-11-26"): (False, "analyst"),
                   ("a2", "2026-11-27"): (True, "analyst"),
                   ("a4", None): (True, "partner-report")}
    assert df["is_distiller"].dtype == bool


def test_allowlist_active_respects_expiry_and_revocation(store):
    now = datetime.now(UTC)
    e1 = store.allowlist_add(account_id="a1", until=now + timedelta(days=1), reason="partner",
                             analyst="ann")
    store.allowlist_add(org_id="o1", until=None, reason="research org", analyst="ann")
    store.allowlist_add(account_id="a2", until=now - timedelta(seconds=1), reason="expired",
                        analyst="ann")
    e4 = store.allowlist_add(account_id="a3", reason="to revoke", analyst="ann")
    store.allowlist_revoke(e4["id"], "bob")
    assert store.allowlist_active() == ({"a1"}, {"o1"})
    assert store.allowlist_active(at=now + timedelta(days=2)) == (set(), {"o1"})
    # a date means through the end of that day (UTC)
    e5 = store.allowlist_add(account_id="a5", until="2030-01-31", reason="x", analyst="ann")
    assert e5["until"] == "2030-02-01T00:00:00.000000Z"
    assert e1["until"] > now.isoformat()[:19]
    actions = [e["action"] for e in store.audit_log(entity="allowlist")]
    assert actions.count("allowlist.add") == 5 and actions.count("allowlist.revoke") == 1


def test_allowlist_needs_exactly_one_target(store):
    with pytest.raises(CaseInputError, match="exactly one of account_id or org_id"):
        store.allowlist_add(account_id="a", org_id="o", reason="r", analyst="a")
    with pytest.raises(CaseInputError, match="until"):
        store.allowlist_add(account_id="a", until="next tuesday", reason="r", analyst="a")


def test_keys_are_stored_hashed(store):
    secret, rec = store.create_key("hook", "gateway-eu")
    assert secret.startswith(f"dg_{rec['key_id']}_") and rec["role"] == "hook"
    raw = store.db.connection().execute("SELECT * FROM api_keys").fetchall()
    assert secret not in json.dumps([list(r) for r in raw])  # never stored in clear
    digests = store.active_key_digests()
    assert len(digests) == 1 and next(iter(digests.values()))["role"] == "hook"
    store.revoke_key(rec["key_id"])
    assert store.active_key_digests() == {}
    with pytest.raises(CaseInputError, match="role: expected one of"):
        store.create_key("root")


def test_concurrent_writers_do_not_fail(tmp_path):
    settings = load_settings(tmp_path / "home")
    CaseStore(settings)
    errors: list[Exception] = []

    def work(i: int) -> None:
        s = CaseStore(settings)  # separate connections, like separate processes
        try:
            for j in range(20):
                s.record_decision(f"acct{i}-{j}", "escalate", f"analyst{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(CaseStore(settings).decisions()) == 80


def test_decision_and_outbox_event_commit_together(tmp_path):
    store = CaseStore(load_settings(tmp_path / "home"), outbox=outbox)
    row = store.record_decision("a1", "confirm-block", "ann", date="2026-11-27")
    conn = store.db.connection()
    ev = conn.execute("SELECT event_type, subject, payload_json FROM hook_events").fetchall()
    assert [(e[0], e[1]) for e in ev] == [("account.blocked", "a1")]
    assert json.loads(ev[0][2])["decision_id"] == row["id"]
    store.record_decision("a1", "needs-more-data", "ann")  # no event for this one
    assert conn.execute("SELECT count(*) FROM hook_events").fetchone()[0] == 1

    def broken(*args, **kwargs):
        raise RuntimeError("outbox down")

    store._outbox = type("Broken", (), {"enqueue": staticmethod(broken)})
    with pytest.raises(RuntimeError):
        store.record_decision("a2", "clear", "ann")
    assert store.decisions("a2") == [] and store.case("a2") is None  # rolled back together
