"""The delivery worker: inside ``serve`` (no cron, no ``hooks deliver``) and as
``detector hooks worker``, through an outage (receiver down, slow, 500, recovers; the worker
killed and restarted): nothing lost, duplicates only with the same ``webhook-id``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from detector.api.app import create_app
from detector.cases import CaseStore
from detector.hooks import open_db, outbox, record_verdict_events
from detector.hooks.worker import DeliveryWorker, policy_from
from detector.settings import load_settings

from .hookkit import SECRET, write_verdicts

FAST = {"hooks_poll_s": 0.1, "hooks_backoff_base_s": 0.05, "hooks_backoff_cap_s": 0.2,
        "hooks_timeout_s": 0.3, "hooks_max_attempts": 1000}


def _config(home: Path, url: str, **scalars) -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {v!r}" for k, v in scalars.items()]
    lines += ["[[hooks]]", 'name = "gw"', f'url = "{url}"', f'secret = "{SECRET}"']
    (home / "detector.toml").write_text("\n".join(lines) + "\n")


def _wait_for(predicate, timeout_s: float) -> bool:
    end = time.time() + timeout_s
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _statuses(settings) -> dict[str, int]:
    conn = open_db(settings)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM hook_deliveries GROUP BY 1"))
    finally:
        conn.close()


def _event_ids(settings) -> set[str]:
    conn = open_db(settings)
    try:
        return {r[0] for r in conn.execute("SELECT event_id FROM hook_events")}
    finally:
        conn.close()


def _attempts(settings, code=None) -> int:
    conn = open_db(settings)
    try:
        sql = "SELECT count(*) FROM hook_attempts"
        if code is not None:
            return conn.execute(sql + " WHERE status_code = ?", (code,)).fetchone()[0]
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _worker_process(home: Path) -> subprocess.Popen:
    code = "import sys; from detector.cli.main import main; sys.exit(main())"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-c", code, "--home", str(home), "hooks", "worker",
                             "--max-seconds", "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_retries_follow_their_own_schedule_with_an_injected_clock(tmp_path, receiver):
    home = tmp_path / "h"
    _config(home, receiver.url, hooks_backoff_base_s=30.0, hooks_backoff_cap_s=600.0)
    s = load_settings(home)
    write_verdicts(s, "2024-03-01", [("a1", 0.9, "block", "hv", None)])
    record_verdict_events(s, ["2024-03-01"])
    now = [1_000_000.0]
    worker = DeliveryWorker(home, clock=lambda: now[0])
    wait = worker.run_once()                      # receiver down: one attempt, retry in 15-30 s
    assert worker.totals.failed == 1 and 0 < wait <= s.hooks_poll_s + 0.01
    receiver.start()
    worker.run_once()                             # not due yet: nothing sent
    assert worker.totals.delivered == 0 and not receiver.seen
    now[0] += 31.0                                # the retry is due
    worker.run_once()
    assert worker.totals.delivered == 1 and len(receiver.processed) == 1
    assert policy_from(s).backoff_base_s == 30.0


def test_worker_process_outage_kill_and_restart(tmp_path, receiver):
    home = tmp_path / "h"
    _config(home, receiver.url, **FAST)
    s = load_settings(home)
    day1 = [(f"acct_{i:02d}", 0.6 + i / 100, "review" if i % 2 else "block", "vol", None)
            for i in range(10)]
    write_verdicts(s, "2024-03-01", day1)
    record_verdict_events(s, ["2024-03-01"])

    # 1. receiver down: the worker tries, backs off, loses nothing
    proc = _worker_process(home)
    try:
        assert _wait_for(lambda: _attempts(s) >= 2, 60), proc.stderr
        # 2. slow receiver (processes, answers after the worker's timeout); kill -9 the worker
        receiver.mode = "slow"
        receiver.start()
        assert _wait_for(lambda: len(receiver.processed) >= 1, 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # 3. failing receiver; a new worker; an analyst decision enqueued meanwhile
        receiver.mode = "500"
        CaseStore(s, outbox=outbox).record_decision("acct_00", "clear", "alice")
        proc = _worker_process(home)
        assert _wait_for(lambda: _attempts(s, 500) >= 2, 60)
        # 4. receiver healthy: everything arrives
        receiver.mode = "ok"
        ids = _event_ids(s)
        assert len(ids) == 11
        assert _wait_for(lambda: _statuses(s) == {"delivered": 11}, 90), _statuses(s)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert set(receiver.processed) == ids                    # nothing lost
    assert set(receiver.processed.values()) == {1}           # idempotent receiver: once each
    assert set(receiver.seen) <= ids                         # duplicates only with known ids
    assert max(receiver.seen.values()) >= 2 and receiver.bad_signatures == 0


def test_worker_inside_serve_delivers_decisions_without_cron(tmp_path, receiver):
    home = tmp_path / "h"
    _config(home, receiver.url, **FAST)
    s = load_settings(home)
    write_verdicts(s, "2024-03-01", [("acct_x", 0.97, "block", "hv;vol", "c1")])
    secret, _ = CaseStore(s).create_key("analyst", "alice")
    with TestClient(create_app(s, check_every_s=0.1)) as client:
        r = client.post("/v1/accounts/acct_x/decisions", json={"decision": "confirm-block"},
                        headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code in (200, 201), r.text
        assert _wait_for(lambda: _attempts(s) >= 1, 20)      # receiver down: attempted
        receiver.start()                                      # recovers: the worker retries
        assert _wait_for(lambda: len(receiver.processed) == 1, 30), _statuses(s)
    (body, headers), = receiver.bodies.values()
    data = json.loads(body)["data"]
    assert (data["account_id"], data["decision"], data["score"], data["reasons"],
            data["cluster_id"]) == ("acct_x", "block", 0.97, ["hv", "vol"], "c1")
