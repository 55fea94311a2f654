"""Delivery states: shadow endpoints, event filters, new endpoints, dead letters, retry, replay."""

from __future__ import annotations

import random

import pytest

from detector.errors import ConfigError
from detector.hooks import DeliveryPolicy, deliver, open_db, record_verdict_events
from detector.hooks.outbox import replay, retry, transaction
from detector.settings import load_settings

from .hookkit import SECRET, FakeClock, write_config, write_verdicts

FAST = DeliveryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_cap_s=0.02,
                      connect_timeout_s=0.5, timeout_s=1.0, lease_s=2.0, pass_budget_s=10)
DAY = [("a1", 0.6, "review", "r", None), ("a2", 0.9, "block", "r", "c1"),
       ("a3", 0.95, "block", "r", "c1")]  # 1 flagged, 2 blocked, 1 cluster


def _home(tmp_path, hooks):
    home = tmp_path / "home"
    write_config(home, hooks)
    settings = load_settings(home)
    write_verdicts(settings, "2024-03-01", DAY)
    return settings


def _states(settings) -> dict[tuple[str, str], int]:
    conn = open_db(settings)
    try:
        return {(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT endpoint, status, count(*) FROM hook_deliveries GROUP BY 1, 2")}
    finally:
        conn.close()


def test_backoff_grows_exponentially_with_bounded_jitter():
    policy = DeliveryPolicy(backoff_base_s=30, backoff_cap_s=600)
    rng = random.Random(1)
    for attempts, full in ((1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (20, 600)):
        delays = [policy.backoff(attempts, rng) for _ in range(200)]
        assert full / 2 <= min(delays) and max(delays) <= full
        assert max(delays) - min(delays) > full / 4  # jittered, not constant


def test_policy_rejects_bad_values_naming_them():
    with pytest.raises(ValueError, match="max_attempts: expected >= 1, got 0"):
        DeliveryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="lease_s: expected more than"):
        DeliveryPolicy(lease_s=1, timeout_s=5)


def test_shadow_endpoint_records_and_never_sends(tmp_path, receiver):
    settings = _home(tmp_path, [{"name": "new-gw", "url": receiver.url, "secret": SECRET,
                                 "shadow": True}])
    receiver.start()
    assert record_verdict_events(settings, ["2024-03-01"]) == 4
    report = deliver(settings, FAST)
    assert (report.delivered, report.shadow_recorded, report.pending) == (0, 4, 0)
    assert _states(settings) == {("new-gw", "shadow"): 4}
    assert sum(receiver.seen.values()) == 0


def test_event_filter_per_endpoint(tmp_path, receiver):
    settings = _home(tmp_path, [
        {"name": "blocks", "url": receiver.url, "secret": SECRET, "events": ["account.blocked"]},
        {"name": "all", "url": receiver.url, "secret": SECRET}])
    receiver.start()
    record_verdict_events(settings, ["2024-03-01"])
    assert deliver(settings, FAST).delivered == 6
    assert _states(settings) == {("blocks", "delivered"): 2, ("all", "delivered"): 4}


def test_wrong_secret_is_rejected_by_the_receiver(tmp_path, receiver):
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="
    settings = _home(tmp_path, [{"name": "gw", "url": receiver.url, "secret": other}])
    receiver.start()
    record_verdict_events(settings, ["2024-03-01"])
    report = deliver(settings, FAST)
    assert report.delivered == 0 and receiver.bad_signatures == 4  # 401 is per message
    assert report.errors == {"gw": "HTTP 401"}


def test_unusable_secret_is_a_config_error_for_that_endpoint_only(tmp_path, receiver):
    settings = _home(tmp_path, [{"name": "bad", "url": receiver.url, "secret": "whsec_"},
                                {"name": "good", "url": receiver.url, "secret": SECRET}])
    receiver.start()
    record_verdict_events(settings, ["2024-03-01"])
    report = deliver(settings, FAST)
    assert report.delivered == 4
    assert "bad" in report.errors and "whsec_" in report.errors["bad"]
    with pytest.raises(ConfigError):
        from detector.hooks.signing import webhook_for
        webhook_for("whsec_", "x")


def test_dead_letter_after_max_attempts_then_retry(tmp_path, receiver):
    settings = _home(tmp_path, [{"name": "gw", "url": receiver.url, "secret": SECRET}])
    receiver.mode = "500"
    receiver.start()
    record_verdict_events(settings, ["2024-03-01"])
    clock = FakeClock()
    for _ in range(20):  # passes until every delivery has used its 3 attempts
        deliver(settings, FAST, clock=clock)
        if _states(settings) == {("gw", "dead"): 4}:
            break
        clock.advance(60.0)  # past any backoff
    assert _states(settings) == {("gw", "dead"): 4}
    conn = open_db(settings)
    attempts = conn.execute("SELECT DISTINCT attempts FROM hook_deliveries").fetchall()
    assert [a[0] for a in attempts] == [3]
    receiver.mode = "ok"
    with transaction(conn):
        assert retry(conn, endpoint="gw") == 4
    conn.close()
    assert deliver(settings, FAST).delivered == 4
    assert len(receiver.processed) == 4


def test_new_endpoint_gets_new_events_and_replay_sends_old_ones(tmp_path, receiver):
    settings = _home(tmp_path, [])
    record_verdict_events(settings, ["2024-03-01"])  # before any endpoint exists
    write_config(settings.home, [{"name": "gw", "url": receiver.url, "secret": SECRET}])
    settings = load_settings(settings.home)
    receiver.start()
    assert deliver(settings, FAST).delivered == 0  # the 4 old events are not pushed
    write_verdicts(settings, "2024-03-02", [("a9", 0.99, "block", "r", None)])
    record_verdict_events(settings, ["2024-03-02"])
    assert deliver(settings, FAST).delivered == 1
    conn = open_db(settings)
    with transaction(conn):
        queued = replay(conn, settings.hooks[0])  # everything, delivered one included
    conn.close()
    assert queued == 5
    assert deliver(settings, FAST).delivered == 5
    assert len(receiver.processed) == 5 and receiver.seen.most_common(1)[0][1] == 2


def test_client_errors_do_not_stop_the_endpoint_but_server_errors_do(tmp_path, receiver):
    settings = _home(tmp_path, [{"name": "gw", "url": receiver.url, "secret": SECRET}])
    receiver.start()
    record_verdict_events(settings, ["2024-03-01"])
    receiver.mode = "500"
    clock = FakeClock()
    report = deliver(settings, FAST, clock=clock)
    assert (report.failed, report.deferred) == (1, 3)  # down: the rest wait, no attempt spent
    receiver.webhook = type(receiver.webhook)("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=")
    receiver.mode = "ok"
    clock.advance(60.0)  # past the backoff
    report = deliver(settings, FAST, clock=clock)
    assert report.failed == 4 and report.deferred == 0  # 401 each: a per-message failure
