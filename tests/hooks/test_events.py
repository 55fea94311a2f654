"""Batch verdicts -> outbox events: transitions only, deterministic keys, re-runs add nothing."""

from __future__ import annotations

import json

import pytest

from detector.hooks.events import record_verdict_events
from detector.hooks.outbox import enqueue, open_db, transaction
from detector.settings import load_settings

from .hookkit import write_verdicts

DAY1 = [("a1", 0.1, "allow", "", None), ("a2", 0.6, "review", "vol_burst", "c1"),
        ("a3", 0.95, "block", "hv;vol", "c1")]
DAY2 = [("a1", 0.7, "review", "tim", "c2"), ("a2", 0.65, "review", "vol_burst", "c1"),
        ("a3", 0.2, "allow", "", None), ("a4", 0.91, "block", "hv", "c1")]
DAY3 = [("a1", 0.9, "block", "hv", "c2"), ("a2", 0.1, "allow", "", None)]


@pytest.fixture
def settings(tmp_path):
    s = load_settings(tmp_path / "home")
    write_verdicts(s, "2024-03-01", DAY1)
    write_verdicts(s, "2024-03-02", DAY2)
    write_verdicts(s, "2024-03-03", DAY3)
    return s


def _events(s) -> list[tuple[str, str, dict]]:
    conn = open_db(s)
    try:
        rows = conn.execute("SELECT event_type, idempotency_key, payload_json FROM hook_events "
                            "ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def test_transitions_become_events(settings):
    assert record_verdict_events(settings, ["2024-03-01", "2024-03-02"]) == 6
    got = [(t, k) for t, k, _ in _events(settings)]
    assert got == [
        ("account.flagged", "verdict:a2:2024-03-01:review"),
        ("account.blocked", "verdict:a3:2024-03-01:block"),
        ("cluster.detected", "cluster:c1"),
        ("account.flagged", "verdict:a1:2024-03-02:review"),
        # a2 unchanged: nothing; a3 allowed after a block: the block sticks, nothing
        ("account.blocked", "verdict:a4:2024-03-02:block"),
        ("cluster.detected", "cluster:c2"),
    ]
    payloads = {k: p for _, k, p in _events(settings)}
    a1 = payloads["verdict:a1:2024-03-02:review"]
    assert (a1["score"], a1["reasons"], a1["cluster_id"], a1["model_version"]) == \
        (0.7, ["tim"], "c2", "m1")
    c1 = payloads["cluster:c1"]
    assert (c1["member_count"], c1["flagged_count"], c1["members"]) == (2, 2, ["a3", "a2"])


def test_rerunning_days_enqueues_nothing_twice(settings):
    days = ["2024-03-01", "2024-03-02", "2024-03-03"]
    first = record_verdict_events(settings, days)
    assert first == 8  # 6 above + a1 blocked + a2 cleared (after a review) on day 3
    assert record_verdict_events(settings, days) == 0
    assert record_verdict_events(settings, ["2024-03-01"]) == 0  # an old day changes nothing
    assert len(_events(settings)) == 8


def test_days_are_processed_oldest_first_whatever_the_order_given(settings):
    assert record_verdict_events(settings, ["2024-03-02", "2024-03-01"]) == 6
    assert [k for _, k, _ in _events(settings)][:2] == ["verdict:a2:2024-03-01:review",
                                                       "verdict:a3:2024-03-01:block"]


def test_analyst_decisions_count_as_announced(settings):
    record_verdict_events(settings, ["2024-03-01"])
    conn = open_db(settings)
    with transaction(conn):  # the case tool clears a3 (no date in its payload)
        enqueue(conn, "account.cleared", {"account_id": "a3", "by": "analyst"}, "case:7:clear")
    conn.close()
    record_verdict_events(settings, ["2024-03-02"])  # verdict for a3 is allow: already announced
    keys = [k for _, k, _ in _events(settings)]
    assert "verdict:a3:2024-03-02:allow" not in keys
    assert "verdict:a4:2024-03-02:block" in keys


def test_no_verdicts_no_events(tmp_path):
    assert record_verdict_events(load_settings(tmp_path / "empty"), ["2024-03-01"]) == 0
    assert record_verdict_events(load_settings(tmp_path / "empty"), []) == 0
