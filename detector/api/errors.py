"""Error responses: always JSON ``{"error": kind, "detail": message}`` for the API, never a
stack trace. Pages get a small HTML error page instead (or a redirect to the login form)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from detector.cases import CaseInputError

log = logging.getLogger("detector.api")

KINDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media",
         422: "invalid_request", 429: "too_many_requests", 500: "internal", 503: "unavailable"}


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/v1/") or path in ("/healthz", "/metrics", "/openapi.json")
                or path.startswith("/docs") or path.startswith("/redoc"))


def _body(status: int, detail: str) -> dict[str, str]:
    return {"error": KINDS.get(status, "error"), "detail": detail}


def _loc(err: dict[str, Any]) -> str:
    return ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"


def error_response(request: Request, status: int, detail: str,
                   headers: dict[str, str] | None = None) -> Response:
    if _is_page(request):
        if status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        templates = request.app.state.templates
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "detail": detail, "principal": None},
            status_code=status)
    return JSONResponse(_body(status, detail), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = [f"{_loc(e)}: {e.get('msg', 'invalid')}" for e in exc.errors()[:5]]
        return error_response(request, 422, "; ".join(parts) or "invalid request")

    @app.exception_handler(CaseInputError)
    async def case_error(request: Request, exc: CaseInputError) -> Response:
        return error_response(request, 422, str(exc))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error (ref %s) on %s %s", ref, request.method, request.url.path)
        if _is_page(request):
            return HTMLResponse(f"<h1>Internal error</h1><p>Reference {ref}.</p>", status_code=500)
        return JSONResponse(_body(500, f"internal error (reference {ref}; see the service log)"),
                            status_code=500)


__all__ = ["install", "error_response", "HTMLResponse"]
