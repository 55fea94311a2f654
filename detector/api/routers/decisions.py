"""``/v1/accounts/{account_id}/decisions``: analyst decisions (record: analyst/admin).

Also ``/v1/decisions?account_id=...`` (the query form, for any id)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from detector.api.deps import AccountId, AccountQuery, Analyst, Svc, Viewer
from detector.api.models import DecisionIn, DecisionOut, ErrorBody
from detector.cases.claims import release

#: 404: an id that is a dot segment ("." or "..") cannot travel in a path (HTTP clients remove
#: dot segments before sending): the request reaches no route. The query forms carry any id.
router = APIRouter(prefix="/v1/accounts", tags=["decisions"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              404: {"model": ErrorBody}, 422: {"model": ErrorBody}})


def record(svc, account_id: str, body: DecisionIn, analyst: str) -> dict:
    """Record a decision and make the gateway see it at once; the analyst's claim on the
    account, if any, ends (the case is decided)."""
    row = svc.store.record_decision(account_id, body.decision, analyst, body.note, body.date)
    release(svc.store, account_id, analyst, why="decided")
    svc.overrides.refresh()
    svc.metrics.inc("dg_decisions_total", decision=body.decision)
    return row


@router.post("/{account_id:path}/decisions", response_model=DecisionOut, status_code=201,
             responses={400: {"model": ErrorBody}},
             summary="Record a decision: confirm-block, clear, escalate or needs-more-data")
def post_decision(account_id: AccountId, body: DecisionIn, svc: Svc, who: Analyst,
                  request: Request) -> dict:
    """The caller's key name is recorded as the analyst. confirm-block / clear become
    training labels; confirm-block, clear and escalate emit webhook events."""
    return record(svc, account_id, body, who.name)


@router.get("/{account_id:path}/decisions", response_model=list[DecisionOut],
            summary="Decisions about one account, newest first")
def list_decisions(account_id: AccountId, svc: Svc, _: Viewer) -> list[dict]:
    return svc.store.decisions(account_id, limit=500)


by_query = APIRouter(prefix="/v1/decisions", tags=["decisions"],
                     responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                                422: {"model": ErrorBody}})


@by_query.post("", response_model=DecisionOut, status_code=201,
               responses={400: {"model": ErrorBody}},
               summary="Record a decision about the account given as ?account_id= (any id)")
def post_decision_query(account_id: AccountQuery, body: DecisionIn, svc: Svc,
                        who: Analyst) -> dict:
    return record(svc, account_id, body, who.name)


@by_query.get("", response_model=list[DecisionOut],
              summary="Decisions about the account given as ?account_id=, newest first")
def list_decisions_query(account_id: AccountQuery, svc: Svc, _: Viewer) -> list[dict]:
    return svc.store.decisions(account_id, limit=500)
