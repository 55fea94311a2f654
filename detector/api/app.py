"""The FastAPI application: ``create_app(settings)`` wires the service state, routers,
templates, static files, error handlers and the metrics middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from swagger_ui_bundle import swagger_ui_path

from detector import __version__
from detector.api import errors
from detector.api.fastpath import VerdictFastPath
from detector.api.metrics import MetricsMiddleware
from detector.api.routers import (
    accounts,
    allowlist,
    audit,
    case_forms,
    claims,
    cluster_pages,
    clusters,
    decisions,
    health,
    metrics,
    pages,
    queue_pages,
    reports,
    review_queue,
    rules,
    verdicts,
)
from detector.api.security import HeadAsGet, RequestLimits, SecurityHeaders
from detector.api.service import Service
from detector.columns.percentile import percentile_text
from detector.decide.reasons import reason_labels
from detector.settings import Settings

HERE = Path(__file__).parent
DESCRIPTION = """Verdicts for gateways, the analysts' review queue and evidence, case state.

Every route except `/healthz` needs an API key: `Authorization: Bearer <key>` or
`X-API-Key: <key>`. Create keys with `detector keys create --role viewer|analyst|admin|hook`.
Roles: `hook` (verdict lookup only), `viewer` (read; no prompt text), `analyst` (read with
PII-masked prompt samples; record decisions, labels, allow-list entries), `admin` (all, plus
the audit log)."""


def fmt_number(value: object) -> str:
    """Numbers for people: 4 significant digits, integers as they are, '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}" if abs(value) < 1e15 else f"{value:.4g}"
    return f"{value:.4g}"


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>distill-guard API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>
"""


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the ``swagger-ui-bundle`` package's files: an air-gapped
    deployment can load it, and the page runs no inline script (CSP ``script-src 'self'``)."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs_page() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE)


def create_app(settings: Settings, service: Service | None = None,
               check_every_s: float = 2.0, fast_verdicts: bool = True) -> FastAPI:
    """The app for one home folder. ``service`` may be passed in (tests, benchmarks);
    ``fast_verdicts`` answers valid verdict lookups in plain ASGI (same JSON, less work)."""
    svc = service or Service(settings, check_every_s=check_every_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.start()
        try:
            yield
        finally:
            svc.stop()

    docs = settings.api_docs  # off unless enabled; then served from local assets (no CDN)
    app = FastAPI(title="distill-guard", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    if docs:
        _mount_docs(app)
    app.state.service = svc
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["num"] = fmt_number
    templates.env.filters["pct"] = percentile_text  # one way to print a percentile
    templates.env.filters["reason_labels"] = reason_labels  # queue rows: tokens -> words
    templates.env.globals["api_docs"] = docs
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # decisions and claims before accounts: '/{account_id:path}/decisions' must match before
    # the account route's '/{account_id:path}' swallows it
    for module in (health, metrics, verdicts, review_queue, decisions, claims, accounts, clusters,
                   rules, reports, allowlist, audit, case_forms, pages, queue_pages,
                   cluster_pages):
        app.include_router(module.router)
    app.include_router(decisions.by_query)
    errors.install(app)
    if fast_verdicts:
        app.add_middleware(VerdictFastPath, service=svc)
    app.add_middleware(RequestLimits, settings=settings)  # body size/time, lone surrogates
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(MetricsMiddleware, metrics=svc.metrics)  # outermost: times everything
    return app
