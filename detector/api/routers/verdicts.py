"""``/v1/verdicts``: the gateway lookup (roles hook, viewer, analyst, admin)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from detector.api.deps import AccountId, Hook, Svc
from detector.api.models import ErrorBody, Verdict

router = APIRouter(prefix="/v1/verdicts", tags=["verdicts"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              422: {"model": ErrorBody}})


class LookupIn(BaseModel):
    account_ids: list[str] = Field(min_length=1, max_length=1000)


class LookupOut(BaseModel):
    verdicts: list[Verdict]


@router.get("/{account_id}", response_model=Verdict,
            summary="Current verdict of one account (latest day, human overrides applied)")
async def get_verdict(account_id: AccountId, svc: Svc, _: Hook) -> dict:
    """``allow`` with ``known: false`` when the account has no verdict yet. Runs on the event
    loop: the answer comes from memory (no I/O)."""
    return svc.verdict(account_id)


@router.post("/lookup", response_model=LookupOut, responses={400: {"model": ErrorBody}},
             summary="Current verdicts of up to 1000 accounts in one call")
async def lookup(body: LookupIn, svc: Svc, _: Hook) -> dict:
    return {"verdicts": [svc.verdict(a) for a in body.account_ids]}
