"""Request limits: body size (413), lookup list length and id length (422), lone surrogates
(422, never 500), configurable through Settings; serve's connection limits."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.api.app import create_app
from detector.api.security import guarded_protocol, uvicorn_options
from detector.settings import load_settings

from .conftest import auth


def test_body_over_limit_is_413(client, keys):
    big = json.dumps({"account_ids": ["a" * 1000] * 3000}).encode()  # ~3 MB
    r = client.post("/v1/verdicts/lookup", content=big,
                    headers={**auth(keys["hook"]), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_chunked_body_over_limit_is_413(client, keys):
    def chunks():
        yield b'{"account_ids": ['
        for _ in range(3000):
            yield b'"' + b"a" * 1000 + b'",'
        yield b'"x"]}'
    r = client.post("/v1/verdicts/lookup", content=chunks(),
                    headers={**auth(keys["hook"]), "Content-Type": "application/json"})
    assert r.status_code == 413


def test_list_and_id_length_limits(client, keys):
    h = auth(keys["hook"])
    r = client.post("/v1/verdicts/lookup", json={"account_ids": ["a"] * 1001}, headers=h)
    assert r.status_code == 422 and "max_lookup_ids" in r.json()["detail"]
    r = client.post("/v1/verdicts/lookup", json={"account_ids": ["a" * 1025]}, headers=h)
    assert r.status_code == 422 and "max_id_chars" in r.json()["detail"]
    assert "a" * 1025 not in r.text  # never echoed
    r = client.post("/v1/verdicts/lookup", json={"account_ids": ["a" * 1024] * 1000}, headers=h)
    assert r.status_code == 200  # the largest legitimate call fits the default body limit
    assert client.get("/v1/verdicts/" + "b" * 1025, headers=h).status_code == 422


def test_limits_come_from_settings(settings, keys):
    tight = settings.replace(max_body_bytes=200, max_lookup_ids=2, max_id_chars=5)
    with TestClient(create_app(tight), raise_server_exceptions=False) as c:
        h = auth(keys["hook"])
        assert c.post("/v1/verdicts/lookup", json={"account_ids": ["a", "b", "c"]},
                      headers=h).status_code == 422
        assert c.post("/v1/verdicts/lookup", json={"account_ids": ["abcdef"]},
                      headers=h).status_code == 422
        assert c.post("/v1/verdicts/lookup", json={"account_ids": ["x" * 300]},
                      headers=h).status_code == 413
        assert c.post("/v1/verdicts/lookup", json={"account_ids": ["acct1"]},
                      headers=h).status_code == 200


def test_settings_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("DETECTOR_HTTP_HEADER_TIMEOUT_S", "2.5")
    s = load_settings(tmp_path / "h")
    assert s.max_body_bytes == 1234 and s.http_header_timeout_s == 2.5
    opts = uvicorn_options(s)
    assert opts["timeout_keep_alive"] == s.http_keep_alive_s
    assert opts["h11_max_incomplete_event_size"] == s.http_max_header_bytes
    assert opts["limit_concurrency"] == s.http_max_connections
    assert issubclass(opts["http"], guarded_protocol(1.0).__mro__[1])


def test_lone_surrogate_is_422_not_500(client, keys):
    for body in (b'{"account_ids": ["\\ud800"]}', b'{"account_ids": ["ok", "a\\udfffb"]}',
                 b'{"account_ids": ["x"], "\\ud83d": 1}'):
        r = client.post("/v1/verdicts/lookup", content=body,
                        headers={**auth(keys["hook"]), "Content-Type": "application/json"})
        assert r.status_code == 422, (body, r.text)
    paired = b'{"account_ids": ["\\ud83d\\ude00"]}'  # a valid pair: an emoji
    r = client.post("/v1/verdicts/lookup", content=paired,
                    headers={**auth(keys["hook"]), "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["verdicts"][0]["account_id"] == "\U0001F600"


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ids=st.lists(st.text(max_size=40), max_size=20),
       extra=st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
def test_fuzz_lookup_body_never_500(client, keys, ids, extra):
    body = json.dumps({"account_ids": ids, **extra}, ensure_ascii=True)
    r = client.post("/v1/verdicts/lookup", content=body.encode(),
                    headers={**auth(keys["hook"]), "Content-Type": "application/json"})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert [v["account_id"] for v in r.json()["verdicts"]] == ids
