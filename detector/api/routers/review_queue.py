"""``/v1/review-queue``: flagged accounts to review (filter, sort, paginate)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from detector.api.deps import Svc, Viewer
from detector.api.models import ClusterGroupPage, ErrorBody, QueuePage
from detector.api.queue import QueueQuery, cluster_queue, review_queue
from detector.cases.claims import live_claims

router = APIRouter(prefix="/v1/review-queue", tags=["review queue"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              422: {"model": ErrorBody}})


#: detector.api.queue_filters.FAMILY_LABELS (checked by tests/api/test_queue_filters.py)
FamilyCode = Literal["vol", "tim", "div", "hv", "inf", "rel", "hist", "cov", "clu", "model",
                     "other"]


def _query(
    who: Viewer,
    decision: Annotated[list[Literal["review", "block", "allow"]] | None, Query(
        description="Model decisions to include (repeatable); default review and block.")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                      description="Only verdicts of this day.")] = None,
    cluster_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    account: Annotated[str | None, Query(min_length=1, max_length=256,
                                         description="Account id prefix.")] = None,
    status: Annotated[Literal["open", "decided", "all"], Query(
        description="open: no analyst decision on this verdict yet.")] = "open",
    sort: Annotated[Literal["-risk", "risk", "-score", "score", "-date", "date", "account_id"],
                    Query(description="-risk (default): expected distilled output, then "
                          "score.")] = "-risk",
    rule: Annotated[str | None, Query(min_length=1, max_length=256, description=
                                      "Only verdicts whose reasons name this rule.")] = None,
    family: Annotated[FamilyCode | None, Query(
        description="Signal family code of the top reason.")] = None,
    case: Annotated[Literal["blocked", "cleared", "escalated", "needs-more-data"] | None, Query(
        description="Case state after the latest decision on this verdict.")] = None,
    claimed: Annotated[Literal["mine", "unclaimed", "others"] | None, Query(
        description="mine: claimed by the caller's key; others: by someone else.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> QueueQuery:
    return QueueQuery(decisions=tuple(decision or ("review", "block")), min_score=min_score,
                      max_score=max_score, date=date, cluster_id=cluster_id,
                      account_prefix=account, status=status, sort=sort, limit=limit,
                      offset=offset, rule=rule, family=family, case_state=case,
                      claimed=claimed, analyst=who.name)


Filters = Annotated[QueueQuery, Depends(_query)]


@router.get("", response_model=QueuePage, summary="Flagged accounts, most suspicious first")
def get_queue(svc: Svc, q: Filters) -> dict:
    return review_queue(svc.verdicts.index, svc.overrides.current, q, live_claims(svc.store))


@router.get("/clusters", response_model=ClusterGroupPage,
            summary="The queue grouped by cluster: member counts by decision")
def get_queue_clusters(svc: Svc, q: Filters) -> dict:
    """The same filters as the queue, over every decision: one row per cluster with a review
    or block member, most flagged members first, then the highest member risk."""
    return cluster_queue(svc.verdicts.index, svc.overrides.current, q, live_claims(svc.store))
