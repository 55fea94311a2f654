"""The outbox tables: enqueue joins the caller's transaction and is idempotent by key."""

from __future__ import annotations

import sqlite3

import pytest

from detector.hooks.outbox import EVENT_TYPES, enqueue, ensure_schema, event_id_for, open_db
from detector.settings import load_settings


@pytest.fixture
def conn(tmp_path):
    c = sqlite3.connect(tmp_path / "cases.sqlite")  # a plain connection, as the case tool has
    ensure_schema(c)
    c.commit()
    yield c
    c.close()


def _count(c) -> int:
    return c.execute("SELECT count(*) FROM hook_events").fetchone()[0]


def test_enqueue_is_idempotent_by_key(conn):
    payload = {"account_id": "a1", "date": "2024-03-01", "reason": "analyst"}
    first = enqueue(conn, "account.blocked", payload, "case:42:block")
    again = enqueue(conn, "account.blocked", {**payload, "reason": "changed"}, "case:42:block")
    conn.commit()
    assert first == again == event_id_for("case:42:block")
    assert first.startswith("evt_") and len(first) == 36
    assert _count(conn) == 1
    row = conn.execute("SELECT subject, subject_date, decision, payload_json FROM hook_events"
                       ).fetchone()
    assert row[:3] == ("a1", "2024-03-01", "block")
    assert '"reason":"analyst"' in row[3]  # the first payload is kept


def test_enqueue_does_not_commit(conn):
    conn.execute("CREATE TABLE decisions (account_id TEXT)")
    conn.commit()
    conn.execute("INSERT INTO decisions VALUES ('a1')")  # the caller's transaction
    enqueue(conn, "account.cleared", {"account_id": "a1"}, "case:1:clear")
    ensure_schema(conn)  # also harmless inside the transaction
    conn.rollback()
    assert _count(conn) == 0
    assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
    conn.execute("INSERT INTO decisions VALUES ('a1')")
    enqueue(conn, "account.cleared", {"account_id": "a1"}, "case:1:clear")
    conn.commit()
    assert _count(conn) == 1


@pytest.mark.parametrize("event_type,payload,key,message", [
    ("account.deleted", {"account_id": "a"}, "k", "event_type: expected one of"),
    ("account.blocked", {"cluster_id": "c"}, "k", "needs 'account_id'"),
    ("cluster.detected", {"account_id": "a"}, "k", "needs 'cluster_id'"),
    ("account.blocked", {"account_id": "a"}, "", "idempotency_key"),
    ("account.blocked", ["a"], "k", "payload: expected a dict"),
])
def test_enqueue_rejects_bad_input_naming_the_parameter(conn, event_type, payload, key, message):
    with pytest.raises(ValueError, match=message):
        enqueue(conn, event_type, payload, key)


def test_open_db_uses_wal_in_the_case_database(tmp_path):
    settings = load_settings(tmp_path / "home")
    conn = open_db(settings)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert settings.cases_db.exists()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"hook_events", "hook_deliveries", "hook_endpoints", "hook_attempts"} <= tables
    finally:
        conn.close()
    assert len(EVENT_TYPES) == 4
