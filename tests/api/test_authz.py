"""Every route, every role: 401 without a valid key, 403 for a role not allowed, else served."""

from __future__ import annotations

import pytest

from detector.cases import ROLES

from .conftest import auth
from .fixtures import page_login

ALL = set(ROLES)
READ = {"viewer", "analyst", "admin"}
WRITE = {"analyst", "admin"}

#: (method, path, json body, roles allowed)
ROUTES = [
    ("GET", "/v1/verdicts/acct_block", None, ALL),
    ("POST", "/v1/verdicts/lookup", {"account_ids": ["acct_block"]}, ALL),
    ("GET", "/v1/review-queue", None, READ),
    ("GET", "/v1/accounts/acct_block", None, READ),
    ("GET", "/v1/accounts/acct_block/decisions", None, READ),
    ("POST", "/v1/accounts/acct_mid/decisions", {"decision": "needs-more-data"}, WRITE),
    ("POST", "/v1/accounts/acct_mid/claim", {"take_over": True}, WRITE),
    ("DELETE", "/v1/accounts/acct_mid/claim", None, WRITE),
    ("GET", "/v1/clusters/clu_1", None, READ),
    ("GET", "/v1/rules", None, READ),
    ("GET", "/v1/reports/2026-11-27", None, READ),
    ("GET", "/v1/allowlist", None, READ),
    ("POST", "/v1/allowlist", {"account_id": "acct_x", "reason": "test"}, WRITE),
    ("DELETE", "/v1/allowlist/999", None, WRITE),
    ("GET", "/v1/audit-log", None, {"admin"}),
    ("GET", "/metrics", None, READ),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One home and app for the whole matrix (the writes it makes do not affect access)."""
    from fastapi.testclient import TestClient

    from detector.api.app import create_app

    from .fixtures import build_home

    settings, keys = build_home(tmp_path_factory.mktemp("authz") / "home")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c, keys


@pytest.mark.parametrize("method, path, body, allowed", ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_route_roles(shared, method, path, body, allowed):
    client, keys = shared
    r = client.request(method, path, json=body)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.request(method, path, json=body, headers=auth("dg_bogus_key_123456789"))
    assert r.status_code == 401
    for role in ROLES:
        r = client.request(method, path, json=body, headers=auth(keys[role]))
        if role in allowed:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)
            assert f"role '{role}'" in r.json()["detail"]


def test_health_needs_no_key(client):
    assert client.get("/healthz").json()["status"] == "ok"


def test_revoked_key_stops_working(client, keys, settings):
    from detector.cases import CaseStore

    store = CaseStore(settings)
    secret, rec = store.create_key("viewer", "temp")
    client.app.state.service.overrides.refresh()  # the watcher does this within seconds
    assert client.get("/v1/rules", headers=auth(secret)).status_code == 200
    store.revoke_key(rec["key_id"])
    client.app.state.service.overrides.refresh()  # what the watcher does within seconds
    assert client.get("/v1/rules", headers=auth(secret)).status_code == 401


def test_dev_key_only_in_dev_mode(tmp_path):

    from fastapi.testclient import TestClient

    from detector.api.app import create_app
    from detector.api.auth import dev_key

    from .fixtures import build_home

    settings, _ = build_home(tmp_path / "h")
    key = dev_key(settings)
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/rules", headers=auth(key)).status_code == 401
    with TestClient(create_app(settings.replace(dev_mode=True))) as c:
        assert c.get("/v1/audit-log", headers=auth(key)).status_code == 200


def test_pages_need_a_session_and_not_the_hook_role(client, keys, settings):
    r = client.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = client.post("/login", data={"key": keys["hook"], "next": "/queue"},
                    follow_redirects=False)
    assert "error=" in r.headers["location"]  # hook keys cannot open pages
    client.cookies.set("dg_key", keys["viewer"])  # the raw key is no session
    assert client.get("/queue", follow_redirects=False).status_code == 303
    from detector.cases import CaseStore  # a session for a hook key (never made by /login)

    hook_id = keys["hook"].split("_")[1]
    client.cookies.set("dg_session", CaseStore(settings).create_session(hook_id, 600))
    assert client.get("/queue").status_code == 403


def test_api_ignores_the_page_cookie(client, keys):
    page_login(client, keys["admin"])
    assert client.get("/queue").status_code == 200
    assert client.get("/v1/rules").status_code == 401
