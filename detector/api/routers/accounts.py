"""``/v1/accounts/{account_id}``: the evidence about one account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from detector.api.account_view import account_evidence
from detector.api.deps import AccountId, AccountQuery, Svc, Viewer
from detector.api.models import ErrorBody, Verdict

router = APIRouter(prefix="/v1/accounts", tags=["accounts"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              404: {"model": ErrorBody}, 422: {"model": ErrorBody}})


class AccountEvidence(BaseModel):
    """Features with population percentiles (0-100), rule hits and explanation (``latest``),
    the latest verdict's reasons as sentences (``reasons``, schema ``reason/1``),
    daily timeline, hourly activity, cluster, sampled prompts (role-filtered), case state."""

    account_id: str
    org_id: str | None
    verdict: Verdict
    latest: dict[str, Any] | None
    reasons: list[dict[str, Any]] = []  # latest verdict's reasons as sentences (reason/1)
    timeline: list[dict[str, Any]]
    features: list[dict[str, Any]]
    activity: list[dict[str, Any]]
    cluster: dict[str, Any] | None
    prompts: dict[str, Any]
    case: dict[str, Any] | None
    decisions: list[dict[str, Any]]
    allowlist: list[dict[str, Any]]


@router.get("", response_model=AccountEvidence,
            summary="Evidence about one account given as ?account_id= (any id)")
def get_account_query(account_id: AccountQuery, svc: Svc, who: Viewer) -> dict:
    return get_account(account_id, svc, who)


@router.get("/{account_id:path}", response_model=AccountEvidence,
            summary="Evidence about one account (prompt text only for analyst/admin, masked)")
def get_account(account_id: AccountId, svc: Svc, who: Viewer) -> dict:
    data = account_evidence(svc, account_id, who)
    if data is None:
        raise HTTPException(404, f"account {account_id!r}: no verdict, case or decision known")
    return data
