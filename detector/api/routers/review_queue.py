"""``/v1/review-queue``: flagged accounts to review (filter, sort, paginate)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from detector.api.deps import Svc, Viewer
from detector.api.models import ErrorBody, QueuePage
from detector.api.queue import QueueQuery, review_queue

router = APIRouter(prefix="/v1/review-queue", tags=["review queue"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              422: {"model": ErrorBody}})


@router.get("", response_model=QueuePage, summary="Flagged accounts, most suspicious first")
def get_queue(
    svc: Svc, _: Viewer,
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
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict:
    q = QueueQuery(decisions=tuple(decision or ("review", "block")), min_score=min_score,
                   max_score=max_score, date=date, cluster_id=cluster_id, account_prefix=account,
                   status=status, sort=sort, limit=limit, offset=offset)
    return review_queue(svc.verdicts.index, svc.overrides.current, q)
