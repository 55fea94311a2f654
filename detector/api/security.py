"""HTTP hardening of the service (docs/security.md): security headers, request limits, HEAD,
and the guarded HTTP protocol that ``detector serve`` runs.

All of it is plain ASGI, so the verdict fast path stays a few dozen Python calls:

- :class:`SecurityHeaders`: CSP, X-Frame-Options DENY, X-Content-Type-Options nosniff,
  Referrer-Policy no-referrer on every response (pages have no inline script or style).
- :class:`RequestLimits`: a request body is read in full before the app sees it, under
  ``max_body_bytes`` (413) and ``http_body_timeout_s`` per chunk (408); a JSON body holding a
  lone UTF-16 surrogate (``"\\ud800"``) is refused with 422 before any route can echo it.
- :class:`HeadAsGet`: ``HEAD`` answers wherever ``GET`` does (same status and headers, no body).
- :func:`guarded_protocol`: uvicorn's h11 protocol with a deadline for a request's headers
  (``http_header_timeout_s``), so connections that never finish their headers are closed.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import orjson

from detector.settings import Settings

CSP_PAGES = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
#: the daily report is one self-contained HTML file with its own <style> and no script
CSP_REPORT = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
#: Swagger UI (only when ``api_docs`` is on) from local assets; it sets inline styles itself
CSP_DOCS = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")

_COMMON = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer")]
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _csp(path: str) -> bytes:
    if path.startswith("/v1/reports/"):
        return CSP_REPORT.encode()
    if path.startswith("/docs"):
        return CSP_DOCS.encode()
    return CSP_PAGES.encode()


class SecurityHeaders:
    """Adds the security headers to every HTTP response (those set by a route win)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*_COMMON, (b"content-security-policy", _csp(scope["path"]))]

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _answer(send: Any, status: int, kind: str, detail: str) -> None:
    body = orjson.dumps({"error": kind, "detail": detail})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _has_lone_surrogate(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if depth > 64:
        return False
    if isinstance(value, list):
        return any(_has_lone_surrogate(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k, depth + 1) or _has_lone_surrogate(v, depth + 1)
                   for k, v in value.items())
    return False


def lone_surrogate_in_json(body: bytes) -> bool:
    """True when the JSON text ``body`` decodes to a string with an unpaired surrogate (which
    no response, log line or database can carry). Cheap when no ``\\uD8xx``-style escape."""
    if not _SURROGATE_ESCAPE.search(body):
        return False
    try:
        return _has_lone_surrogate(json.loads(body))
    except (ValueError, RecursionError):
        return False  # not JSON: the route's own parsing answers 422


class RequestLimits:
    """Reads a request's body under the size and time limits, then hands it to the app."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.max_body_bytes
        self.timeout_s = settings.http_body_timeout_s

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        chunked = False
        is_json = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await _answer(send, 400, "bad_request", "invalid Content-Length")
                    return
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                is_json = b"json" in value.lower()
        if not chunked and not length:
            await self.app(scope, receive, send)  # no body: nothing to limit (GET lookups)
            return
        if length is not None and length > self.max_bytes:
            await _answer(send, 413, "too_large",
                          f"request body over {self.max_bytes} bytes (setting max_body_bytes)")
            return
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                await _answer(send, 408, "request_timeout",
                              f"request body not received within {self.timeout_s:g} s")
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _answer(send, 413, "too_large",
                              f"request body over {self.max_bytes} bytes (setting max_body_bytes)")
                return
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        if is_json and lone_surrogate_in_json(body):
            await _answer(send, 422, "invalid_request",
                          "request body: a JSON string holds an unpaired UTF-16 surrogate")
            return
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class HeadAsGet:
    """``HEAD`` runs as ``GET``; the response keeps its status and headers, loses its body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: dict) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The ``uvicorn.run`` options that apply the settings' connection limits."""
    return {
        "http": guarded_protocol(settings.http_header_timeout_s),
        "timeout_keep_alive": settings.http_keep_alive_s,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "limit_concurrency": settings.http_max_connections,
    }


def guarded_protocol(header_timeout_s: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request headers have not all
    arrived ``header_timeout_s`` after it opened or after its previous response."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout_s, self._header_deadline)

        def _header_deadline(self) -> None:
            self._header_timer = None
            waiting = self.cycle is None or self.cycle.response_complete
            if waiting and not self.transport.is_closing():
                self.transport.close()  # headers never completed: drop the connection

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

    return GuardedH11Protocol
