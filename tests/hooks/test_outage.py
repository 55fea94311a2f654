"""The outage test: a receiver that is down, then slow, then failing with 500, then healthy,
across a sender that is killed mid-request and restarted in a new process.

Every event arrives exactly once at the idempotent receiver, none is lost, every signature
verifies and a tampered body does not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from detector.hooks import DeliveryPolicy, deliver, open_db, record_verdict_events
from detector.settings import load_settings

from .hookkit import SECRET, FakeClock, write_config, write_verdicts

POLICY = dict(max_attempts=100, backoff_base_s=0.05, backoff_cap_s=0.2, connect_timeout_s=0.5,
              timeout_s=0.3, lease_s=1.0, pass_budget_s=10.0)

SENDER = """
import sys
from detector.hooks import DeliveryPolicy, deliver_until_idle
from detector.settings import load_settings
policy = DeliveryPolicy(**{policy})
report = deliver_until_idle(load_settings(sys.argv[1]), max_wait_s=float(sys.argv[2]), policy=policy)
print(report.delivered, report.pending)
"""


def _sender(home, wait_s: float) -> subprocess.Popen:
    code = SENDER.format(policy=repr(POLICY))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-c", code, str(home), str(wait_s)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(predicate, timeout_s: float) -> bool:
    end = time.time() + timeout_s
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def home_with_events(tmp_path, receiver):
    home = tmp_path / "home"
    write_config(home, [{"name": "gateway", "url": receiver.url, "secret": SECRET}])
    settings = load_settings(home)
    day1 = [(f"acct_{i:02d}", 0.6 + i / 100, "review" if i % 2 else "block", "vol_burst",
             "c1" if i < 4 else None) for i in range(12)]
    day1 += [("acct_calm", 0.1, "allow", "", None), ("acct_pair", 0.7, "review", "x", "c2")]
    write_verdicts(settings, "2024-03-01", day1)
    write_verdicts(settings, "2024-03-02", [("acct_03", 0.1, "allow", "", None),
                                            ("acct_01", 0.99, "block", "hv", "c1")])
    # 13 flagged/blocked + 2 clusters on day 1; day 2: acct_03 (flagged) cleared, acct_01
    # (flagged) blocked
    assert record_verdict_events(settings, ["2024-03-01", "2024-03-02"]) == 17
    return settings


def _statuses(settings) -> dict[str, int]:
    conn = open_db(settings)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM hook_deliveries GROUP BY 1"))
    finally:
        conn.close()


def test_every_event_arrives_exactly_once_through_an_outage(home_with_events, receiver):
    settings = home_with_events
    policy = DeliveryPolicy(**POLICY)
    conn = open_db(settings)
    event_ids = {r[0] for r in conn.execute("SELECT event_id FROM hook_events")}
    conn.close()
    assert len(event_ids) == 17

    # 1. receiver down: one refused connection, the rest deferred, nothing lost
    down = deliver(settings, policy)
    assert (down.delivered, down.failed, down.deferred, down.pending) == (0, 1, 16, 17)

    # 2. receiver slow (answers after the sender's timeout); the sender process is killed
    #    while it waits for an answer: its lease stays, the receiver has processed the event
    receiver.mode = "slow"
    receiver.start()
    time.sleep(0.25)  # past the backoff of step 1
    proc = _sender(settings.home, 30)
    assert _wait_for(lambda: len(receiver.processed) >= 1, 15), proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    # 3. receiver answers 500 (fails before processing): attempts pile up, none delivered
    receiver.mode = "500"
    time.sleep(0.3)  # real time: the sender processes of steps 2 and 4 run on the real clock
    failing = deliver(settings, policy)
    assert failing.delivered == 0 and failing.failed >= 1

    # 4. receiver healthy; a fresh sender process drains the outbox
    receiver.mode = "ok"
    proc = _sender(settings.home, 20)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert _statuses(settings) == {"delivered": 17}

    # exactly once at the idempotent receiver, none lost, and the slow phase caused retries
    assert set(receiver.processed) == event_ids
    assert set(receiver.processed.values()) == {1}
    assert sum(receiver.seen.values()) > len(event_ids)
    assert max(receiver.seen.values()) >= 2
    assert receiver.bad_signatures == 0

    # bodies are Standard Webhooks events
    body, headers = receiver.bodies[sorted(receiver.bodies)[0]]
    event = json.loads(body)
    assert set(event) == {"type", "timestamp", "data"}
    assert event["type"] in ("account.flagged", "account.blocked", "account.cleared",
                             "cluster.detected")

    # a tampered body fails verification, locally and at the receiver
    tampered = body.replace(b'"decision":"', b'"decision":"x', 1) if b'"decision"' in body \
        else body[:-1] + b' }'
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, headers)
    Webhook(SECRET).verify(body, headers)  # the original still verifies
    before = receiver.bad_signatures
    sig_headers = {k: v for k, v in headers.items() if k.startswith("webhook-")}
    r = httpx.post(receiver.url, content=tampered, headers=sig_headers, timeout=5)
    assert r.status_code == 401 and receiver.bad_signatures == before + 1


def test_attempt_log_records_every_try(home_with_events, receiver):
    settings = home_with_events
    policy = DeliveryPolicy(**POLICY)
    clock = FakeClock()
    deliver(settings, policy, clock=clock)  # down
    receiver.start()
    clock.advance(60.0)  # past the backoff
    report = deliver(settings, policy, clock=clock)
    assert report.delivered == 17
    conn = open_db(settings)
    try:
        attempts = conn.execute("SELECT count(*), count(*) FILTER (WHERE status_code = 204) "
                                "FROM hook_attempts").fetchone()
        first = conn.execute("SELECT attempts, last_status FROM hook_deliveries "
                             "ORDER BY seq LIMIT 1").fetchone()
    finally:
        conn.close()
    assert tuple(attempts) == (18, 17)  # one refused + 17 delivered
    assert tuple(first) == (2, 204)
