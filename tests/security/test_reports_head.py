"""GET /v1/reports/<date> finds the report `make run` writes (reports/latest.html), an invalid
date is 422, and HEAD answers wherever GET does."""

from __future__ import annotations

import json

from .conftest import auth


def test_make_run_report_is_found(client, keys, settings):
    h = auth(keys["viewer"])
    assert client.get("/v1/reports/2026-11-27?format=html", headers=h).status_code == 404
    reports = settings.reports_dir
    (reports / "latest.html").write_text("<html><body>daily report</body></html>")
    (reports / "report.json").write_text(json.dumps({"date": "2026-11-27"}))
    for date in ("2026-11-27", "latest"):
        r = client.get(f"/v1/reports/{date}?format=html", headers=h)
        assert r.status_code == 200 and "daily report" in r.text
        assert "style-src 'unsafe-inline'" in r.headers["content-security-policy"]
        assert "script-src" not in r.headers["content-security-policy"]
    assert client.get("/v1/reports/2026-11-26?format=html", headers=h).status_code == 404


def test_invalid_report_date_is_422(client, keys):
    h = auth(keys["viewer"])
    for date in ("2026-13-45", "2026-02-30", "nope"):
        r = client.get(f"/v1/reports/{date}", headers=h)
        assert r.status_code == 422, (date, r.status_code)
    assert client.get("/v1/reports/2020-01-01", headers=h).status_code == 404


def test_head_works_where_get_does(client, keys):
    h = auth(keys["viewer"])
    for path in ("/healthz", "/v1/verdicts/acct_block", "/v1/accounts/acct_block",
                 "/v1/review-queue", "/v1/reports/2026-11-27", "/static/app.js"):
        get = client.get(path, headers=h)
        head = client.head(path, headers=h)
        assert head.status_code == get.status_code == 200, (path, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    assert client.head("/v1/rules").status_code == 401
