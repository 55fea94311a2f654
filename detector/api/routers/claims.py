"""``/v1/accounts/{account_id}/claim``: claim an account's case so that two analysts do not
work one account (claim, renew, take over: ``POST``; release: ``DELETE``; analyst/admin).

The same claims as the account page's forms (``detector.cases.claims``): a claim lasts the
setting ``claim_ttl_s``, renewing one's own keeps its start, someone else's live claim needs
``take_over: true`` (else 409), recording a decision ends it; each change is an audit row
(``entity = "claim"``). Claims show in ``GET /v1/review-queue`` items (``claim``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from detector.api.deps import AccountId, Analyst, Svc
from detector.api.models import ClaimIn, ClaimOut, ErrorBody, ReleaseOut
from detector.cases import CaseInputError
from detector.cases.claims import ClaimConflict, claim, release

router = APIRouter(prefix="/v1/accounts", tags=["claims"],
                   responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody},
                              403: {"model": ErrorBody}, 404: {"model": ErrorBody},
                              409: {"model": ErrorBody}, 422: {"model": ErrorBody}})


@router.post("/{account_id:path}/claim", response_model=ClaimOut,
             summary="Claim an account's case for the caller (renew; take over explicitly)")
def post_claim(account_id: AccountId, svc: Svc, who: Analyst,
               body: Annotated[ClaimIn | None, Body()] = None) -> dict:
    """The caller's key name holds the claim for ``claim_ttl_s`` seconds. 409 when another
    analyst holds a live claim and ``take_over`` is not true; a take-over is audited as
    ``claim.takeover`` with the previous holder."""
    body = body or ClaimIn()
    try:
        return claim(svc.store, account_id, who.name,
                     ttl_s=max(60, int(svc.settings.claim_ttl_s)), date=body.date,
                     take_over=body.take_over)
    except ClaimConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except CaseInputError as exc:
        raise HTTPException(422, str(exc)) from None


@router.delete("/{account_id:path}/claim", response_model=ReleaseOut,
               summary="Release the caller's claim on an account")
def delete_claim(account_id: AccountId, svc: Svc, who: Analyst) -> dict:
    """``released`` is false when the account had no live claim; 409 when someone else holds
    it (take it over first)."""
    try:
        ended = release(svc.store, account_id, who.name, strict=True)
    except ClaimConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return {"account_id": account_id, "released": ended}
