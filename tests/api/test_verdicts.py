"""The gateway lookup: latest verdict per account, human overrides, reload on new files."""

from __future__ import annotations

import time

from .conftest import auth
from .fixtures import verdict_row, write_verdicts


def test_latest_day_verdict_is_returned(client, keys):
    r = client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"]))
    assert r.status_code == 200
    assert r.json() == {
        "account_id": "acct_block", "decision": "block", "score": 0.95,
        "reasons": ["hv_logprobs", "vol_requests"], "cluster_id": "clu_1", "date": "2026-11-27",
        "model_version": "m-test", "ttl": 3600, "source": "model", "model_decision": "block",
        "known": True, "risk": None}


def test_account_absent_from_latest_day_keeps_its_last_verdict(client, keys):
    body = client.get("/v1/verdicts/acct_gone", headers=auth(keys["hook"])).json()
    assert (body["decision"], body["date"], body["reasons"]) == ("review", "2026-11-25",
                                                                 ["old_rule"])


def test_unknown_account_is_allowed_and_marked_unknown(client, keys):
    body = client.get("/v1/verdicts/never-seen", headers={"X-API-Key": keys["hook"]}).json()
    assert body["decision"] == "allow" and body["known"] is False and body["score"] is None


def test_allowlist_overrides_block(client, keys, settings):
    r = client.post("/v1/allowlist", headers=auth(keys["analyst"]),
                    json={"account_id": "acct_block", "reason": "contracted eval partner"})
    assert r.status_code == 201, r.text
    body = client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"])).json()
    assert (body["decision"], body["reasons"], body["source"]) == ("allow", ["allowlisted"],
                                                                  "allowlist")
    assert body["model_decision"] == "block"
    client.delete(f"/v1/allowlist/{r.json()['id']}", headers=auth(keys["analyst"]))
    assert client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"])).json()[
        "decision"] == "block"


def test_analyst_decisions_override_model(client, keys):
    h = auth(keys["analyst"])
    client.post("/v1/accounts/acct_allow/decisions", headers=h,
                json={"decision": "confirm-block", "note": "seen in a leak"})
    body = client.get("/v1/verdicts/acct_allow", headers=auth(keys["hook"])).json()
    assert (body["decision"], body["source"], body["reasons"]) == ("block", "analyst",
                                                                  ["analyst:confirm-block"])
    client.post("/v1/accounts/acct_block/decisions", headers=h,
                json={"decision": "clear", "date": "2026-11-27"})
    assert client.get("/v1/verdicts/acct_block", headers=h).json()["decision"] == "allow"
    client.post("/v1/accounts/acct_review/decisions", headers=h, json={"decision": "escalate"})
    assert client.get("/v1/verdicts/acct_review", headers=h).json()["decision"] == "review"


def test_clear_does_not_hide_newer_evidence(client, keys, settings):
    h = auth(keys["analyst"])
    client.post("/v1/accounts/acct_mid/decisions", headers=h,
                json={"decision": "clear", "date": "2026-11-27"})
    assert client.get("/v1/verdicts/acct_mid", headers=h).json()["decision"] == "allow"
    write_verdicts(settings, "2026-11-28", [verdict_row("acct_mid", "2026-11-28", 0.97, "block",
                                                        "hv_logprobs")])
    deadline = time.time() + 5
    while time.time() < deadline:
        body = client.get("/v1/verdicts/acct_mid", headers=h).json()
        if body["date"] == "2026-11-28":
            break
        time.sleep(0.05)
    assert body["date"] == "2026-11-28"
    assert body["decision"] == "block" and "previously_cleared" in body["reasons"]


def test_index_reloads_when_files_change(client, keys, settings):
    h = auth(keys["hook"])
    assert client.get("/v1/verdicts/acct_new", headers=h).json()["known"] is False
    write_verdicts(settings, "2026-11-28", [verdict_row("acct_new", "2026-11-28", 0.9, "block")])
    deadline = time.time() + 5
    while time.time() < deadline and not client.get("/v1/verdicts/acct_new",
                                                    headers=h).json()["known"]:
        time.sleep(0.05)
    body = client.get("/v1/verdicts/acct_new", headers=h).json()
    assert body["known"] is True and body["decision"] == "block"
    assert client.get("/healthz").json()["latest_verdict_date"] == "2026-11-28"


def test_batch_lookup(client, keys):
    r = client.post("/v1/verdicts/lookup", headers=auth(keys["hook"]),
                    json={"account_ids": ["acct_block", "acct_allow", "zzz"]})
    assert [v["decision"] for v in r.json()["verdicts"]] == ["block", "allow", "allow"]


def test_ttl_comes_from_settings(tmp_path):

    from fastapi.testclient import TestClient

    from detector.api.app import create_app

    from .fixtures import build_home

    settings, keys = build_home(tmp_path / "h")
    settings = settings.replace(verdict_ttl_s=120)
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/verdicts/acct_block", headers=auth(keys["hook"])).json()["ttl"] == 120


def test_org_allowlist_covers_the_orgs_accounts(client, keys):
    r = client.post("/v1/allowlist", headers=auth(keys["admin"]),
                    json={"org_id": "org_x", "reason": "research partner",
                          "until": "2999-01-01"})
    assert r.status_code == 201
    body = client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"])).json()
    assert (body["decision"], body["reasons"]) == ("allow", ["allowlisted"])  # acct_block: org_x
    other = client.get("/v1/verdicts/acct_mid", headers=auth(keys["hook"])).json()
    assert other["decision"] == "review"


def test_fast_path_and_route_answer_the_same(settings, keys):
    from fastapi.testclient import TestClient

    from detector.api.app import create_app

    bodies = []
    for fast in (True, False):
        with TestClient(create_app(settings, fast_verdicts=fast)) as c:
            bodies.append([c.get(f"/v1/verdicts/{a}", headers=auth(keys["hook"])).json()
                           for a in ("acct_block", "acct_gone", "nobody")])
            assert c.get("/v1/verdicts/x", headers=auth(keys["viewer"])).status_code == 200
            r = c.get("/v1/verdicts/x", headers=auth("wrong"))
            assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert bodies[0] == bodies[1]
