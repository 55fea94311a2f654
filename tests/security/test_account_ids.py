"""Account ids with '/' (and any string ingest accepts, up to 1,024 characters) reach every
route that takes an account id: path form and query form; never 404 for an account with a
verdict."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from detector.api.app import create_app
from detector.api.deps import csrf_token

from ..api.fixtures import page_login, verdict_row, write_verdicts
from .conftest import auth

IDS = ["org/team/acct-1", "trailing/decisions/x", "spaces and ünïcödé/ok", "a?b#c%d&e",
       "x" * 1024, "slash/"]


@pytest.fixture()
def slashed(settings, keys):
    write_verdicts(settings, "2026-11-28", [verdict_row(a, "2026-11-28", 0.97, "block",
                                                         "hv_logprobs") for a in IDS])
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c, keys


@pytest.mark.parametrize("account_id", IDS)
def test_verdict_api_finds_blocked_account(slashed, account_id):
    client, keys = slashed
    h = auth(keys["hook"])
    for path in (f"/v1/verdicts/{quote(account_id, safe='/')}",
                 f"/v1/verdicts/{quote(account_id, safe='')}"):
        r = client.get(path, headers=h)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["account_id"] == account_id and r.json()["decision"] == "block"
    r = client.get("/v1/verdicts", params={"account_id": account_id}, headers=h)
    assert r.status_code == 200 and r.json()["decision"] == "block"
    r = client.post("/v1/verdicts/lookup", json={"account_ids": [account_id]}, headers=h)
    assert r.json()["verdicts"][0]["decision"] == "block"


@pytest.mark.parametrize("account_id", IDS)
def test_account_and_decision_routes(slashed, account_id):
    client, keys = slashed
    h = auth(keys["analyst"])
    r = client.get("/v1/accounts", params={"account_id": account_id}, headers=h)
    assert r.status_code == 200 and r.json()["account_id"] == account_id
    if not account_id.endswith(("/decisions", "/")):
        r = client.get(f"/v1/accounts/{quote(account_id, safe='/')}", headers=h)
        assert r.status_code == 200 and r.json()["account_id"] == account_id
        r = client.post(f"/v1/accounts/{quote(account_id, safe='/')}/decisions",
                        json={"decision": "escalate"}, headers=h)
        assert r.status_code == 201 and r.json()["account_id"] == account_id
    r = client.post("/v1/decisions", params={"account_id": account_id},
                    json={"decision": "needs-more-data"}, headers=h)
    assert r.status_code == 201 and r.json()["account_id"] == account_id
    r = client.get("/v1/decisions", params={"account_id": account_id}, headers=h)
    assert r.status_code == 200 and r.json()[0]["account_id"] == account_id


def test_pages_with_slashed_ids(slashed):
    client, keys = slashed
    account_id = "org/team/acct-1"
    session = page_login(client, keys["analyst"])
    assert client.get(f"/accounts/{account_id}").status_code == 200
    assert client.get("/account", params={"id": account_id}).status_code == 200
    r = client.post(f"/accounts/{account_id}/decisions",
                    data={"decision": "clear", "csrf": csrf_token(session)},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get(r.headers["location"]).status_code == 200


def test_id_over_the_limit_is_422(slashed):
    client, keys = slashed
    h = auth(keys["hook"])
    assert client.get("/v1/verdicts", params={"account_id": "y" * 1025},
                      headers=h).status_code == 422
