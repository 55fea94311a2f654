"""CSRF on the login and logout forms; /login?error= shows fixed messages only."""

from __future__ import annotations

import re

from detector.api.deps import csrf_token

from ..api.fixtures import page_login


def _token(client) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    assert client.cookies.get("dg_login_csrf") == token
    return token


def test_login_needs_the_form_token(client, keys):
    r = client.post("/login", data={"key": keys["viewer"], "next": "/queue"},
                    follow_redirects=False)  # a cross-site form: no token, no cookie
    assert r.status_code == 303 and "error=csrf" in r.headers["location"]
    assert "dg_key" not in r.headers.get("set-cookie", "")
    token = _token(client)
    r = client.post("/login", data={"key": keys["viewer"], "csrf": "0" * 32},
                    follow_redirects=False)
    assert "error=csrf" in r.headers["location"]
    r = client.post("/login", data={"key": keys["viewer"], "csrf": token},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    assert "dg_session=" in r.headers["set-cookie"]
    assert keys["viewer"] not in r.headers["set-cookie"]  # a session token, never the key


def test_logout_needs_the_session_token(client, keys):
    session = page_login(client, keys["viewer"])
    r = client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/queue").status_code == 200  # still logged in
    page = client.get("/queue").text
    assert f'name="csrf" value="{csrf_token(session)}"' in page  # logout form
    r = client.post("/logout", data={"csrf": csrf_token(session)},
                    follow_redirects=False)
    assert r.status_code == 303 and 'dg_session=""' in r.headers["set-cookie"]


def test_login_error_shows_fixed_text_only(client):
    evil = "Your session expired, call +1 555 0100 <b>now</b>"
    page = client.get("/login", params={"error": evil})
    assert "call +1 555" not in page.text and "now</b>" not in page.text
    assert "That key is not valid." in client.get("/login?error=invalid").text
    assert "That key cannot open the pages." in client.get("/login?error=role").text
