"""Page forms that act on a case besides a decision: claim / take over / release an account,
and add an allow-list entry from the account page.

Analysts and admins only (``WRITE_ROLES``); every form carries the session's CSRF token; each
change is audited by the case store (``claim.*``, ``allowlist.add``). Claims last
``claim_ttl_s`` (setting); claiming an account someone else holds needs the explicit
take-over button (``take_over=1``), else 409.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from detector.api import evidence
from detector.api.auth import WRITE_ROLES, Principal
from detector.api.deps import AccountId, csrf_token, get_service
from detector.api.routers.pages import _key, _safe_next, page_principal
from detector.cases import CaseInputError
from detector.cases.claims import ClaimConflict, claim, release

router = APIRouter(include_in_schema=False)


def _writer(request: Request, csrf: str) -> Principal:
    who = page_principal(request, WRITE_ROLES)
    if not hmac.compare_digest(csrf.encode(), csrf_token(_key(request) or "").encode()):
        raise HTTPException(403, "the form expired or came from another site; reload the page")
    return who


def _back(account_id: str, next: str, anchor: str) -> RedirectResponse:
    target = _safe_next(next) if next else f"/accounts/{quote(account_id, safe='')}#{anchor}"
    return RedirectResponse(target, status_code=303)


@router.post("/accounts/{account_id:path}/claim")
def claim_form(request: Request, account_id: AccountId,
               csrf: Annotated[str, Form(max_length=64)],
               take_over: Annotated[str, Form(pattern="^(|1)$")] = "",
               date: Annotated[str, Form(max_length=10)] = "",
               next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Claim the account for the caller (renews the caller's own claim)."""
    who = _writer(request, csrf)
    svc = get_service(request)
    try:
        claim(svc.store, account_id, who.name, ttl_s=max(60, int(svc.settings.claim_ttl_s)),
              date=date or None, take_over=take_over == "1")
    except ClaimConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except CaseInputError as exc:
        raise HTTPException(422, str(exc)) from None
    return _back(account_id, next, "claim")


@router.post("/accounts/{account_id:path}/release")
def release_form(request: Request, account_id: AccountId,
                 csrf: Annotated[str, Form(max_length=64)],
                 next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """End the caller's claim (someone else's claim is left alone)."""
    who = _writer(request, csrf)
    release(get_service(request).store, account_id, who.name)
    return _back(account_id, next, "claim")


def _org_of(svc, account_id: str) -> str | None:
    """The account's organisation: from its verdict row, else the lake on its verdict day."""
    row = svc.verdicts.index.get(account_id)
    if row is None:
        return None
    if row.get("org_id"):
        return row["org_id"]
    try:
        return evidence.account_org(svc.lake(), account_id, row["date"])
    except Exception:  # a foreign lake table: the org scope is then unavailable
        return None


@router.post("/accounts/{account_id:path}/allowlist")
def allowlist_form(request: Request, account_id: AccountId,
                   csrf: Annotated[str, Form(max_length=64)],
                   reason: Annotated[str, Form(max_length=1000)],
                   scope: Annotated[str, Form(pattern="^(account|org)$")] = "account",
                   until: Annotated[str, Form(max_length=32)] = "") -> Response:
    """Exempt this account, or its organisation (the one the server knows for it, never one
    named by the form), until the end of ``until`` (a date; empty: no expiry)."""
    who = _writer(request, csrf)
    svc = get_service(request)
    org = _org_of(svc, account_id) if scope == "org" else None
    if scope == "org" and org is None:
        raise HTTPException(422, f"scope org: no organisation is known for account {account_id}")
    try:
        svc.store.allowlist_add(account_id=None if org else account_id, org_id=org,
                                until=until.strip() or None, reason=reason, analyst=who.name)
    except CaseInputError as exc:
        raise HTTPException(422, str(exc)) from None
    svc.overrides.refresh()
    return _back(account_id, "", "allowlist")
