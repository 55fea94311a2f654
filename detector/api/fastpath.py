"""The gateway lookup's hot path: ``GET /v1/verdicts/{account_id}`` answered in plain ASGI.

FastAPI's routing, dependency solving and response validation cost several hundred Python
calls per request; this middleware answers a well-formed lookup with a valid key in a few
dozen (same JSON as the documented route, which stays in the app for the OpenAPI schema and
answers everything else: bad ids, missing or wrong keys, HEAD, ...). Anything it does not
recognise falls through untouched, so errors keep their standard JSON shape.
"""

from __future__ import annotations

from typing import Any

import orjson

from detector.api.auth import VERDICT_ROLES
from detector.api.deps import valid_account_id

PREFIX = "/v1/verdicts/"
ROUTE = "/v1/verdicts/{account_id}"


class _Route:
    """Stands in for the matched route so the metrics middleware labels the request."""

    path = ROUTE


def _key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The presented key: ``X-API-Key`` first, then ``Authorization: Bearer`` (as in deps)."""
    bearer = None
    for name, value in headers:
        if name == b"x-api-key" and value:
            return value.decode("latin-1")
        if name == b"authorization":
            scheme, _, cred = value.partition(b" ")
            if scheme.lower() == b"bearer" and cred.strip():
                bearer = cred.strip().decode("latin-1")
    return bearer


class VerdictFastPath:
    """ASGI middleware: answer valid verdict lookups directly from the service's memory."""

    def __init__(self, app: Any, service: Any) -> None:
        self.app = app
        self.service = service
        self.max_id_chars = service.settings.max_id_chars

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET"
                and scope["path"].startswith(PREFIX)):
            account_id = scope["path"][len(PREFIX):]
            if account_id and valid_account_id(account_id, self.max_id_chars):
                who = self.service.keys.resolve(_key(scope["headers"]))
                if who is not None and who.role in VERDICT_ROLES:
                    body = orjson.dumps(self.service.verdict(account_id))
                    scope["route"] = _Route
                    await send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
