"""Claims through the API (``POST``/``DELETE /v1/accounts/{id}/claim``): the same claims as
the page forms, take-over explicit, audited, shown in the review queue's rows."""

from __future__ import annotations

from detector.cases import CaseStore
from detector.cases.claims import claim_of

from .conftest import auth


def _queue_claim(client, key: str, account_id: str):
    items = client.get("/v1/review-queue", params={"status": "all", "limit": 500},
                       headers=auth(key)).json()["items"]
    return next(i["claim"] for i in items if i["account_id"] == account_id)


def test_claim_take_over_and_release(client, keys, settings):
    store = CaseStore(settings)
    r = client.post("/v1/accounts/acct_review/claim", json={"date": "2026-11-27"},
                    headers=auth(keys["analyst"]))
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["analyst"], first["account_id"], first["date"]) == (
        "test-analyst", "acct_review", "2026-11-27")
    assert first["expires_at"] > first["claimed_at"]
    # a renewal (no body at all) keeps the start
    again = client.post("/v1/accounts/acct_review/claim", headers=auth(keys["analyst"])).json()
    assert again["claimed_at"] == first["claimed_at"]
    # shown to others in the queue rows
    shown = _queue_claim(client, keys["viewer"], "acct_review")
    assert shown == {k: again[k] for k in ("analyst", "claimed_at", "expires_at")}
    # someone else: 409 without take_over, naming the holder; a release is refused too
    r = client.post("/v1/accounts/acct_review/claim", json={}, headers=auth(keys["admin"]))
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    assert "claimed by test-analyst" in r.json()["detail"]
    r = client.delete("/v1/accounts/acct_review/claim", headers=auth(keys["admin"]))
    assert r.status_code == 409
    assert claim_of(store, "acct_review")["analyst"] == "test-analyst"
    r = client.post("/v1/accounts/acct_review/claim", json={"take_over": True},
                    headers=auth(keys["admin"]))
    assert r.status_code == 200 and r.json()["analyst"] == "test-admin"
    r = client.delete("/v1/accounts/acct_review/claim", headers=auth(keys["admin"]))
    assert r.json() == {"account_id": "acct_review", "released": True}
    assert _queue_claim(client, keys["viewer"], "acct_review") is None
    r = client.delete("/v1/accounts/acct_review/claim", headers=auth(keys["admin"]))
    assert r.status_code == 200 and r.json()["released"] is False
    actions = [e["action"] for e in store.audit_log(entity="claim", entity_id="acct_review")]
    assert actions == ["claim.release", "claim.takeover", "claim.renew", "claim.create"]


def test_claim_validation_and_roles(client, keys):
    r = client.post("/v1/accounts/acct_mid/claim", json={"take_over": "maybe"},
                    headers=auth(keys["analyst"]))
    assert r.status_code == 422
    r = client.post("/v1/accounts/acct_mid/claim", json={"owner": "bob"},
                    headers=auth(keys["analyst"]))
    assert r.status_code == 422  # unknown fields are refused, never a claim for someone else
    assert client.post("/v1/accounts/acct_mid/claim",
                       headers=auth(keys["viewer"])).status_code == 403
    # an id with a slash travels in the path
    r = client.post("/v1/accounts/org%2Fteam/claim", headers=auth(keys["analyst"]))
    assert r.status_code == 200 and r.json()["account_id"] == "org/team"


def test_claim_routes_are_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    ops = paths["/v1/accounts/{account_id}/claim"]
    assert set(ops) >= {"post", "delete"}
    assert {"200", "409", "422"} <= set(ops["post"]["responses"])
    assert "409" in ops["delete"]["responses"]
