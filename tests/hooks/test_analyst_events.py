"""Analyst decision events carry the batch payload (score, reasons, cluster id, versions), and
an endpoint added to ``detector.toml`` receives every event enqueued after it was added, even
when another process saw the configuration first."""

from __future__ import annotations

import json
import os
import time

from detector.cases import CaseStore
from detector.hooks import outbox
from detector.hooks.delivery import deliver
from detector.hooks.outbox import open_db
from detector.settings import load_settings

from .hookkit import SECRET, write_config, write_verdicts


def _payloads(s) -> list[tuple[str, dict]]:
    conn = open_db(s)
    try:
        rows = conn.execute("SELECT event_type, payload_json FROM hook_events ORDER BY seq")
        return [(r[0], json.loads(r[1])) for r in rows.fetchall()]
    finally:
        conn.close()


def test_analyst_events_carry_score_reasons_and_cluster(tmp_path):
    s = load_settings(tmp_path / "h")
    write_verdicts(s, "2024-03-01", [("a1", 0.93, "block", "hv;vol", "c7")])
    write_verdicts(s, "2024-03-02", [("a1", 0.4, "review", "tim", None)])
    CaseStore(s, outbox=outbox).record_decision("a1", "confirm-block", "alice", date="2024-03-01")
    CaseStore(s, outbox=outbox).record_decision("a1", "clear", "bob", date="2024-03-05")
    (t1, p1), (t2, p2) = _payloads(s)
    assert t1 == "account.blocked" and t2 == "account.cleared"
    assert (p1["score"], p1["reasons"], p1["cluster_id"], p1["verdict_date"]) == \
        (0.93, ["hv", "vol"], "c7", "2024-03-01")
    assert (p1["model_version"], p1["ruleset_hash"], p1["run_id"]) == ("m1", "rs1", "run-2024-03-01")
    assert (p1["previous_decision"], p1["source"], p1["analyst_decision"]) == \
        ("allow", "analyst", "confirm-block")
    # the clear is about the newest verdict on or before its day
    assert (p2["score"], p2["reasons"], p2["cluster_id"], p2["previous_decision"]) == \
        (0.4, ["tim"], None, "block")
    # every key a batch event has, an analyst event has too
    batch_keys = {"account_id", "date", "decision", "previous_decision", "score", "reasons",
                  "cluster_id", "model_version", "ruleset_hash", "run_id", "source"}
    assert batch_keys <= set(p1) and batch_keys <= set(p2)


def test_an_account_without_verdicts_gets_null_evidence(tmp_path):
    s = load_settings(tmp_path / "h")
    CaseStore(s, outbox=outbox).record_decision("nobody", "confirm-block", "alice")
    (_, p), = _payloads(s)
    assert (p["score"], p["reasons"], p["cluster_id"]) == (None, [], None)


def test_endpoint_added_before_a_decision_receives_it(tmp_path, receiver):
    home = tmp_path / "h"
    s_old = load_settings(home)          # the running service's settings: no endpoint yet
    store = CaseStore(s_old, outbox=outbox)
    store.record_decision("before", "confirm-block", "alice")   # before the endpoint: not sent
    time.sleep(0.01)
    write_config(home, [{"name": "gw", "url": receiver.url, "secret": SECRET}])
    cfg = home / "detector.toml"
    st = cfg.stat()
    os.utime(cfg, (st.st_atime, time.time()))
    time.sleep(0.01)
    store.record_decision("after", "confirm-block", "alice")    # the service does not know gw
    receiver.start()
    report = deliver(load_settings(home))                       # the first pass that sees gw
    assert report.delivered == 1
    (body, _), = receiver.bodies.values()
    assert json.loads(body)["data"]["account_id"] == "after"
