"""Blocks that stick: a blocked account stays blocked (lookup and webhooks) until an analyst
clears it or ``block_expiry_days`` ends it; ``account.cleared`` only when a block ends."""

from __future__ import annotations

import datetime as dt
import json

from detector.api.overrides import Overrides, apply_overrides
from detector.api.verdict_index import VerdictIndex
from detector.cases import CaseStore
from detector.hooks import outbox
from detector.hooks.events import record_verdict_events
from detector.hooks.outbox import open_db
from detector.settings import load_settings

from ..api.fixtures import verdict_row, write_verdicts

START = dt.date(2026, 1, 1)


def _day(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def _history(s, days: int, blocked_on: int = 0, later: str | None = "allow") -> None:
    """acct_b blocked on day ``blocked_on``, then (optionally) ``later`` every day; acct_x
    (another account) scored every day so the verdict days go on."""
    for i in range(days):
        rows = [verdict_row("acct_x", _day(i), 0.1, "allow")]
        if i == blocked_on:
            rows.append(verdict_row("acct_b", _day(i), 0.97, "block", "hv_logprobs;vol", "clu_9"))
        elif i > blocked_on and later is not None:
            rows.append(verdict_row("acct_b", _day(i), 0.2, later, "" if later == "allow"
                                    else "tim"))
        write_verdicts(s, _day(i), rows)


def _events(s) -> list[tuple[str, dict]]:
    conn = open_db(s)
    try:
        rows = conn.execute("SELECT event_type, payload_json FROM hook_events "
                            "WHERE subject = 'acct_b' ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [(r[0], json.loads(r[1])) for r in rows]


def test_later_allow_days_do_not_unblock_the_lookup(tmp_path):
    s = load_settings(tmp_path / "h")
    _history(s, 4)
    idx = VerdictIndex.load(s.verdicts_dir, sticky_blocks=True, block_expiry_days=90)
    got = idx.get("acct_b")
    assert (got["decision"], got["date"], got["reasons"], got["cluster_id"]) == \
        ("block", _day(0), ["hv_logprobs", "vol"], "clu_9")
    later_review = tmp_path / "r"
    s2 = load_settings(later_review)
    _history(s2, 4, later="review")
    assert VerdictIndex.load(s2.verdicts_dir, sticky_blocks=True).get("acct_b")["decision"] \
        == "block"
    # without sticky blocks (the plain latest row) the allow of day 3 would answer
    assert VerdictIndex.load(s.verdicts_dir).get("acct_b")["decision"] == "allow"


def test_a_quiet_blocked_account_stays_blocked_beyond_the_30_day_window(tmp_path):
    s = load_settings(tmp_path / "h")
    _history(s, 45, later=None)  # blocked on day 0, then silent for 44 days
    idx = VerdictIndex.load(s.verdicts_dir, max_days=30, sticky_blocks=True,
                            block_expiry_days=90)
    assert idx.get("acct_b")["decision"] == "block" and idx.get("acct_b")["date"] == _day(0)
    # the service answers it (never "not found")
    from fastapi.testclient import TestClient

    from detector.api.app import create_app
    secret, _ = CaseStore(s).create_key("hook", "gw")
    with TestClient(create_app(s, check_every_s=0.1)) as c:
        r = c.get("/v1/verdicts/acct_b", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200
    body = r.json()
    assert (body["decision"], body["date"], body["known"], body["reasons"]) == \
        ("block", _day(0), True, ["hv_logprobs", "vol"])


def test_expiry_ends_a_block_after_the_configured_days(tmp_path):
    s = load_settings(tmp_path / "h")
    _history(s, 8)
    assert VerdictIndex.load(s.verdicts_dir, sticky_blocks=True, block_expiry_days=8
                             ).get("acct_b")["decision"] == "block"   # newest - block = 7 days
    got = VerdictIndex.load(s.verdicts_dir, sticky_blocks=True, block_expiry_days=7
                            ).get("acct_b")
    assert (got["decision"], got["date"]) == ("allow", _day(7))
    # 0 = never expires
    assert VerdictIndex.load(s.verdicts_dir, sticky_blocks=True, block_expiry_days=0
                             ).get("acct_b")["decision"] == "block"


def test_an_analyst_clear_ends_a_block_and_a_newer_block_stands(tmp_path):
    s = load_settings(tmp_path / "h")
    _history(s, 3)
    store = CaseStore(s)
    idx = VerdictIndex.load(s.verdicts_dir, sticky_blocks=True)
    store.record_decision("acct_b", "clear", "alice", date=_day(2))
    ov = Overrides.load(store)
    assert apply_overrides("acct_b", idx.get("acct_b"), ov, 60)["decision"] == "allow"
    write_verdicts(s, _day(3), [verdict_row("acct_b", _day(3), 0.99, "block", "hv")])
    write_verdicts(s, _day(4), [verdict_row("acct_b", _day(4), 0.1, "allow")])
    idx = VerdictIndex.load(s.verdicts_dir, sticky_blocks=True)
    out = apply_overrides("acct_b", idx.get("acct_b"), ov, 60)
    assert (out["decision"], out["date"]) == ("block", _day(3))
    assert "previously_cleared" in out["reasons"]


def test_cleared_is_announced_only_when_a_block_ends(tmp_path):
    s = load_settings(tmp_path / "h")
    _history(s, 5)
    record_verdict_events(s, [_day(i) for i in range(5)])
    assert [t for t, _ in _events(s)] == ["account.blocked"]  # allow days: nothing

    # the analyst clears it: one account.cleared with the block's evidence
    CaseStore(s, outbox=outbox).record_decision("acct_b", "clear", "alice", date=_day(4))
    events = _events(s)
    assert [t for t, _ in events] == ["account.blocked", "account.cleared"]
    cleared = events[-1][1]
    assert cleared["source"] == "analyst" and cleared["previous_decision"] == "block"
    # re-running the days announces nothing new (an analyst decision covers its day)
    assert record_verdict_events(s, [_day(i) for i in range(5)]) == 0


def test_expiry_is_announced_once_with_source_expiry(tmp_path):
    s = load_settings(tmp_path / "h").replace(block_expiry_days=5)
    _history(s, 9, later=None)  # blocked on day 0, quiet after
    record_verdict_events(s, [_day(i) for i in range(4)])
    assert [t for t, _ in _events(s)] == ["account.blocked"]
    record_verdict_events(s, [_day(i) for i in range(4, 9)])
    events = _events(s)
    assert [t for t, _ in events] == ["account.blocked", "account.cleared"]
    p = events[-1][1]
    assert (p["source"], p["date"], p["blocked_date"], p["reasons"], p["cluster_id"]) == \
        ("expiry", _day(5), _day(0), ["block_expired"], "clu_9")
    assert record_verdict_events(s, [_day(i) for i in range(9)]) == 0


def test_an_analyst_confirm_block_never_expires_and_allow_days_say_nothing(tmp_path):
    s = load_settings(tmp_path / "h").replace(block_expiry_days=2)
    _history(s, 1, later=None)
    record_verdict_events(s, [_day(0)])
    CaseStore(s, outbox=outbox).record_decision("acct_b", "confirm-block", "alice", date=_day(0))
    for i in range(1, 6):
        write_verdicts(s, _day(i), [verdict_row("acct_b", _day(i), 0.1, "allow")])
    record_verdict_events(s, [_day(i) for i in range(1, 6)])
    assert [t for t, _ in _events(s)] == ["account.blocked", "account.blocked"]
