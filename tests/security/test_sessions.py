"""Page sessions: the cookie is a random server-side session token (stored hashed, expiring,
ended at logout and when its key is revoked), never the API key; old case databases migrate."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from detector.api.app import create_app
from detector.api.deps import csrf_token
from detector.cases import CaseStore
from detector.cases import keys as keylib
from detector.cases.schema import DDL

from ..api.fixtures import page_login


def _logged_out(client, token: str) -> bool:
    """True when a request carrying ``token`` as the session cookie is sent to the login."""
    client.cookies.clear()
    client.cookies.set("dg_session", token)
    r = client.get("/queue", follow_redirects=False)
    return r.status_code == 303 and r.headers["location"].startswith("/login")


def test_cookie_is_a_random_token_stored_hashed(client, keys, settings):
    token = page_login(client, keys["viewer"])
    assert token and token != keys["viewer"] and keys["viewer"] not in token
    assert len(token) >= 40  # 256 random bits
    assert client.get("/queue").status_code == 200
    raw = settings.cases_db.read_bytes()
    for wal in settings.cases_db.parent.glob("cases.sqlite-wal"):
        raw += wal.read_bytes()
    assert token.encode() not in raw  # only the sha256
    rows = sqlite3.connect(settings.cases_db).execute(
        "SELECT token_sha256, key_id FROM sessions").fetchall()
    assert (keylib.digest(token), keys["viewer"].split("_")[1]) in rows
    # a second login gives another token and ends the browser's previous session
    second = page_login(client, keys["viewer"])
    assert second != token and _logged_out(client, token)
    assert not _logged_out(client, second)


def test_the_raw_key_is_not_a_session(client, keys):
    client.cookies.set("dg_key", keys["admin"])
    client.cookies.set("dg_session", keys["admin"])
    r = client.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_stolen_cookie_is_refused_after_logout(client, keys, settings):
    token = page_login(client, keys["analyst"])
    stolen = token  # an attacker copies the cookie
    assert not _logged_out(client, stolen)
    client.cookies.set("dg_session", token)
    r = client.post("/logout", data={"csrf": csrf_token(token)}, follow_redirects=False)
    assert r.status_code == 303
    assert _logged_out(client, stolen)
    # the decision form refuses it too (no session: no principal, whatever the CSRF token)
    client.cookies.set("dg_session", stolen)
    r = client.post("/accounts/acct_mid/decisions",
                    data={"decision": "clear", "csrf": csrf_token(stolen)},
                    follow_redirects=False)
    assert r.status_code in (303, 401)
    assert CaseStore(settings).case("acct_mid") is None
    audit = CaseStore(settings).audit_log(entity="session")
    assert [a["action"] for a in audit][:2] == ["session.end", "session.create"]
    assert audit[0]["after"]["why"] == "logout"


def test_expired_session_is_refused(client, keys, settings):
    r_token = page_login(client, keys["viewer"])
    row = sqlite3.connect(settings.cases_db).execute(
        "SELECT created_at, expires_at FROM sessions WHERE token_sha256 = ?",
        (keylib.digest(r_token),)).fetchone()
    created = datetime.fromisoformat(row[0].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(row[1].replace("Z", "+00:00"))
    assert abs((expires - created).total_seconds() - settings.session_ttl_s) < 2
    assert not _logged_out(client, r_token)
    past = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    con = sqlite3.connect(settings.cases_db)
    with con:
        con.execute("UPDATE sessions SET expires_at = ? WHERE token_sha256 = ?",
                    (past, keylib.digest(r_token)))
    con.close()
    assert _logged_out(client, r_token)


def test_session_ttl_setting(settings, keys):
    short = settings.replace(session_ttl_s=120)
    with TestClient(create_app(short, check_every_s=0.1)) as c:
        page_login(c, keys["viewer"])
    store = CaseStore(settings)
    s = store.sessions()[0]
    created = datetime.fromisoformat(s["created_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(s["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - created).total_seconds() - 120) < 2


def test_revoking_the_key_revokes_its_sessions(client, keys, settings):
    token = page_login(client, keys["analyst"])
    client.cookies.clear()  # another browser
    other = page_login(client, keys["viewer"])
    store = CaseStore(settings)
    key_id = keys["analyst"].split("_")[1]
    store.revoke_key(key_id, actor="test")
    assert _logged_out(client, token)
    assert not _logged_out(client, other)  # another key's session lives on
    ended = store.sessions(key_id)
    assert ended and all(s["revoked_at"] and s["revoked_why"] == "key revoked" for s in ended)
    # revoking sessions alone (keys revoke-sessions) ends them and keeps the key
    viewer_id = keys["viewer"].split("_")[1]
    assert store.revoke_sessions(viewer_id, actor="test") == 1
    assert _logged_out(client, other)
    client.cookies.clear()
    assert page_login(client, keys["viewer"])  # the key still logs in


def test_old_case_database_migrates(tmp_path):
    """A case database made before page sessions (no ``sessions`` table) gains it on open;
    its keys, decisions and audit rows are kept."""
    db = tmp_path / "state" / "cases.sqlite"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db)
    con.executescript(DDL.split("CREATE TABLE IF NOT EXISTS sessions")[0])
    con.execute("INSERT INTO api_keys VALUES ('abcd1234', 'old', 'analyst', ?, "
                "'2026-01-01T00:00:00.000000Z', NULL)", (keylib.digest("dg_abcd1234_secret"),))
    con.execute("INSERT INTO audit_log (at, actor, action, entity, entity_id) VALUES "
                "('2026-01-01T00:00:00.000000Z', 'cli', 'key.create', 'api_key', 'abcd1234')")
    con.commit()
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "sessions" not in tables
    con.close()
    store = CaseStore(path=db)
    tables = {r["name"] for r in store.db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "sessions" in tables
    assert store.active_key_digests()[keylib.digest("dg_abcd1234_secret")]["name"] == "old"
    token = store.create_session("abcd1234", 600)
    assert store.session(token)["role"] == "analyst"
    assert len(store.audit_log(entity="api_key")) == 1
    store.revoke_key("abcd1234")
    assert store.session(token) is None
    CaseStore(path=db)  # opening again is a no-op
