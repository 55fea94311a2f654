"""``/v1/allowlist``: exemptions from blocking (read: viewer+; change: analyst/admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from detector.api.deps import Analyst, Svc, Viewer
from detector.api.models import AllowEntry, AllowIn, ErrorBody
from detector.cases import CaseInputError

router = APIRouter(prefix="/v1/allowlist", tags=["allow-list"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              422: {"model": ErrorBody}})


@router.get("", response_model=list[AllowEntry], summary="Allow-list entries, newest first")
def list_entries(svc: Svc, _: Viewer,
                 active: Annotated[bool, Query(description="Only entries in force now.")] = False
                 ) -> list[dict]:
    return svc.store.allowlist(active_only=active)


@router.post("", response_model=AllowEntry, status_code=201, responses={400: {"model": ErrorBody}},
             summary="Exempt one account or one organisation (exactly one), optionally until a time")
def add_entry(body: AllowIn, svc: Svc, who: Analyst) -> dict:
    row = svc.store.allowlist_add(body.account_id, body.org_id, body.until, body.reason, who.name)
    svc.overrides.refresh()
    return row


@router.delete("/{entry_id}", response_model=AllowEntry, summary="Revoke an entry now",
               responses={404: {"model": ErrorBody}})
def revoke_entry(entry_id: Annotated[int, Path(ge=1, le=2**62)], svc: Svc, who: Analyst) -> dict:
    try:
        row = svc.store.allowlist_revoke(entry_id, who.name)
    except CaseInputError as exc:
        raise HTTPException(404, str(exc)) from None
    svc.overrides.refresh()
    return row
