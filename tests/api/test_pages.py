"""Page behaviour without a browser: login redirects, CSRF, HTML errors."""

from __future__ import annotations

from detector.api.deps import csrf_token

from .fixtures import page_login


def _login_token(client) -> str:
    """The login form's CSRF token (also set as the dg_login_csrf cookie)."""
    client.get("/login")
    return client.cookies.get("dg_login_csrf")


def test_login_sets_cookie_and_refuses_open_redirects(client, keys):
    r = client.post("/login", data={"key": keys["viewer"], "next": "//evil.example/x",
                                    "csrf": _login_token(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    r = client.post("/login", data={"key": "dg_wrong_key", "next": "/queue",
                                    "csrf": _login_token(client)}, follow_redirects=False)
    assert "error=invalid" in r.headers["location"]


def test_decision_form_needs_the_csrf_token(client, keys, settings):
    session = page_login(client, keys["analyst"])
    r = client.post("/accounts/acct_mid/decisions",
                    data={"decision": "clear", "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    r = client.post("/accounts/acct_mid/decisions",
                    data={"decision": "clear", "csrf": csrf_token(session),
                          "note": "ok", "date": "2026-11-27"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/accounts/acct_mid?saved=clear"
    from detector.cases import CaseStore

    assert CaseStore(settings).case("acct_mid")["status"] == "cleared"


def test_viewer_cannot_post_decisions(client, keys):
    session = page_login(client, keys["viewer"])
    r = client.post("/accounts/acct_mid/decisions",
                    data={"decision": "clear", "csrf": csrf_token(session)})
    assert r.status_code == 403


def test_unknown_account_page_is_a_404_page(client, keys):
    page_login(client, keys["viewer"])
    r = client.get("/accounts/nobody")
    assert r.status_code == 404 and "Nothing is known about account nobody" in r.text
    assert client.get("/queue?min_score=abc").status_code == 422
