"""``/v1/verdicts``: the gateway lookup (roles hook, viewer, analyst, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from detector.api.deps import AccountId, AccountQuery, Hook, Svc, valid_account_id
from detector.api.models import ErrorBody, Verdict

router = APIRouter(prefix="/v1/verdicts", tags=["verdicts"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              422: {"model": ErrorBody}})


class LookupIn(BaseModel):
    account_ids: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1, description=(
        "Account ids, at most `max_lookup_ids` (default 1000), each at most `max_id_chars` "
        "(default 1024) characters."))


class LookupOut(BaseModel):
    verdicts: list[Verdict]


@router.get("", response_model=Verdict,
            summary="Current verdict of one account given as ?account_id= (any id)")
async def get_verdict_query(account_id: AccountQuery, svc: Svc, _: Hook) -> dict:
    """The query form of ``GET /v1/verdicts/{account_id}``, for ids a path cannot carry."""
    return svc.verdict(account_id)


@router.post("/lookup", response_model=LookupOut,
             responses={400: {"model": ErrorBody}, 413: {"model": ErrorBody}},
             summary="Current verdicts of up to 1000 accounts in one call")
async def lookup(body: LookupIn, svc: Svc, _: Hook, request: Request) -> dict:
    limits = svc.settings
    if len(body.account_ids) > limits.max_lookup_ids:
        raise HTTPException(422, f"account_ids: at most {limits.max_lookup_ids} ids per call "
                                 "(setting max_lookup_ids)")
    for i, a in enumerate(body.account_ids):
        if not valid_account_id(a, limits.max_id_chars):
            raise HTTPException(422, f"account_ids.{i}: expected 1 to {limits.max_id_chars} "
                                     "characters of valid Unicode (setting max_id_chars)")
    return {"verdicts": [svc.verdict(a) for a in body.account_ids]}


@router.get("/{account_id:path}", response_model=Verdict,
            summary="Current verdict of one account (latest day, human overrides applied)")
async def get_verdict(account_id: AccountId, svc: Svc, _: Hook) -> dict:
    """``allow`` with ``known: false`` when the account has no verdict yet. Runs on the event
    loop: the answer comes from memory (no I/O). Ids may contain ``/``."""
    return svc.verdict(account_id)
