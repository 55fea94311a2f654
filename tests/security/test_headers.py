"""Security headers on every response; /docs off unless ``api_docs`` is set; pages load no
inline script."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from detector.api.app import create_app

from ..api.fixtures import page_login
from .conftest import auth

TEMPLATES = Path(__file__).resolve().parents[2] / "detector" / "api" / "templates"


def _check(r):
    h = r.headers
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in h["content-security-policy"]


def test_headers_on_pages_api_and_errors(client, keys):
    _check(client.get("/login"))
    _check(client.get("/healthz"))
    _check(client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"])))  # fast path
    _check(client.get("/v1/rules"))  # 401
    _check(client.get("/static/app.js"))
    page_login(client, keys["viewer"])
    page = client.get("/queue")
    _check(page)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_templates_have_no_inline_script_or_handlers():
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert "style=" not in text, path.name


def test_docs_off_by_default(client, keys, settings):
    assert client.get("/docs").status_code in (303, 404)  # page routes: no such page
    assert client.get("/redoc").status_code in (303, 404)
    page_login(client, keys["viewer"])
    assert 'href="/docs"' not in client.get("/queue").text
    with TestClient(create_app(settings.replace(api_docs=True))) as c:
        r = c.get("/docs")
        assert r.status_code == 200 and "swagger" in r.text.lower()
        _check(r)
        # served from local assets: no CDN in the page or its policy, no inline script
        assert "http://" not in r.text and "https://" not in r.text
        assert "cdn" not in r.headers["content-security-policy"]
        assert "'unsafe-inline'" not in r.headers["content-security-policy"].split(
            "script-src", 1)[1].split(";", 1)[0]
        assert re.findall(r"<script>", r.text) == []
        for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            asset = c.get(src)
            assert asset.status_code == 200 and len(asset.content) > 100, src
        assert c.get("/redoc").status_code in (303, 404)  # ReDoc needs a CDN: not served
