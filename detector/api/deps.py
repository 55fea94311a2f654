"""FastAPI dependencies: the service state and role-checked callers.

API routes accept ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (never a cookie, so
cross-site forms cannot act with a browser's session). Pages use the ``dg_session`` cookie set
by ``/login`` (a server-side session token, never the key) plus a CSRF token on every form (see
:mod:`detector.api.routers.pages`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from detector.api.auth import (
    ADMIN_ROLES,
    READ_ROLES,
    VERDICT_ROLES,
    WRITE_ROLES,
    Principal,
)
from detector.api.service import Service

COOKIE = "dg_session"
#: the cookie that held the raw key before page sessions; deleted at login and logout
LEGACY_COOKIE = "dg_key"
_bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")

#: cluster and similar generated ids in paths: printable, no slashes, bounded length
ID_PATTERN = r"^[^\x00-\x1f\x7f/]{1,256}$"
_ID_RE = re.compile(ID_PATTERN)


def valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def valid_account_id(value: str, max_chars: int = 1024) -> bool:
    """Any string ingest accepts as an account id (slashes included): 1 to ``max_chars``
    characters that are valid Unicode (no unpaired surrogate)."""
    if not 0 < len(value) <= max_chars:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_account_id(request: Request, value: str) -> str:
    """``value`` when it is a valid account id under the service's ``max_id_chars``; 422."""
    limit = get_service(request).settings.max_id_chars
    if not valid_account_id(value, limit):
        raise HTTPException(422, f"account id: expected 1 to {limit} characters of valid "
                                 "Unicode (setting max_id_chars)")
    return value


async def _account_id_path(
    request: Request,
    account_id: Annotated[str, Path(min_length=1, description=(
        "Billing account id; may contain '/' (or send it percent-encoded). Ids ending in "
        "'/decisions' are reachable through the `account_id` query form."))],
) -> str:
    return check_account_id(request, account_id)


async def _account_id_query(
    request: Request,
    account_id: Annotated[str, Query(min_length=1, description="Billing account id.")],
) -> str:
    return check_account_id(request, account_id)


#: an account id in the path (routes use ``{account_id:path}``) / in the query string
AccountId = Annotated[str, Depends(_account_id_path)]
AccountQuery = Annotated[str, Depends(_account_id_query)]


def get_service(request: Request) -> Service:
    """The running service (plain function, for code that has the request)."""
    return request.app.state.service


async def _service(request: Request) -> Service:
    # async on purpose: a sync dependency costs a worker-thread hop on every request
    return request.app.state.service


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail,
                         headers={"WWW-Authenticate": 'Bearer realm="distill-guard"'})


def requires(roles: frozenset[str]) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and checks its role is in ``roles``.

    It runs on the event loop (no thread hop): resolving a key is a dict probe, with at
    most one small SQLite read every few seconds for unknown keys."""

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> Principal:
        key = api_key or (bearer.credentials if bearer else None)
        if not key:
            raise _unauthorized(
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        principal = get_service(request).keys.resolve(key)
        if principal is None:
            raise _unauthorized("unknown or revoked API key")
        if principal.role not in roles:
            raise HTTPException(
                status_code=403,
                detail=f"role '{principal.role}' may not use this endpoint "
                       f"(allowed: {', '.join(sorted(roles))})")
        request.state.principal = principal
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(requires(READ_ROLES))]
Hook = Annotated[Principal, Depends(requires(VERDICT_ROLES))]
Analyst = Annotated[Principal, Depends(requires(WRITE_ROLES))]
Admin = Annotated[Principal, Depends(requires(ADMIN_ROLES))]
Svc = Annotated[Service, Depends(_service)]


def csrf_token(key: str) -> str:
    """The CSRF token bound to a page session's token (forms must echo it)."""
    return hashlib.sha256(b"dg-csrf:" + key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
