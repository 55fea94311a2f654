"""``/queue``: the review queue page (tabs, filters in the query string, group by cluster).

Every filter is a query parameter, so a filtered view is a URL an analyst can share. The
filters run on the verdict index's columns (``detector.api.queue`` and ``queue_filters``);
only the page's 50 rows are materialised. ``view=clusters`` groups the filtered accounts by
cluster (one row per cluster with member counts by decision, linking to the cluster page).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from detector.api.deps import get_service
from detector.api.queue import QueueQuery, cluster_queue, review_queue
from detector.api.queue_filters import CASE_STATES, FAMILY_LABELS
from detector.api.routers.pages import _render, _score_or_none, page_principal
from detector.cases.claims import live_claims
from detector.resources import default_rules_dir

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
_CASES = "|".join(CASE_STATES)
_FAMILIES = "|".join(FAMILY_LABELS)


def rule_names() -> list[str]:
    """Names of the shipped rules (the rule filter's suggestions)."""
    return sorted(p.stem for p in default_rules_dir().glob("*.yaml"))


@router.get("/queue")
def queue_page(
    request: Request,
    tab: Annotated[str, Query(pattern="^(reviews|blocks)$")] = "reviews",
    decision: Annotated[str, Query(pattern="^(|review|block|both|allow)$")] = "",
    status: Annotated[str, Query(pattern=f"^(open|decided|all|{_CASES})$")] = "open",
    sort: Annotated[str, Query(
        pattern="^(-risk|risk|-score|score|-date|date|account_id)$")] = "-risk",
    account: Annotated[str, Query(max_length=256)] = "",
    cluster_id: Annotated[str, Query(max_length=256)] = "",
    min_score: Annotated[str, Query(max_length=20, description="0-1; empty for none")] = "",
    rule: Annotated[str, Query(max_length=256)] = "",
    family: Annotated[str, Query(pattern=f"^(|{_FAMILIES})$")] = "",
    claimed: Annotated[str, Query(pattern="^(|mine|unclaimed|others)$")] = "",
    date: Annotated[str, Query(pattern=r"^(|\d{4}-\d{2}-\d{2})$")] = "",
    view: Annotated[str, Query(pattern="^(list|clusters)$")] = "list",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    who = page_principal(request)
    min_score = _score_or_none(min_score)
    svc = get_service(request)
    index, ov, claims = svc.verdicts.index, svc.overrides.current, live_claims(svc.store)
    # the tab picks the decision (reviews: need a person; blocks: automatic, for spot checks)
    # unless the Decision filter names one
    by_tab = {"reviews": ("review",), "blocks": ("block",)}
    decisions = (by_tab[tab] if not decision else
                 ("review", "block") if decision == "both" else (decision,))
    case_state = status if status in CASE_STATES else None
    q = QueueQuery(decisions=decisions, status="decided" if case_state else status, sort=sort,
                   min_score=min_score, account_prefix=account or None,
                   cluster_id=cluster_id or None, rule=rule.strip() or None,
                   family=family or None, case_state=case_state, claimed=claimed or None,
                   analyst=who.name, date=date or None, limit=PAGE_SIZE,
                   offset=(page - 1) * PAGE_SIZE)
    run = cluster_queue if view == "clusters" else review_queue
    result = run(index, ov, q, claims)
    pages = max(1, math.ceil(result["total"] / PAGE_SIZE))
    tab_counts = {t: review_queue(index, ov, replace(q, decisions=d, limit=0, offset=0),
                                  claims)["total"] for t, d in by_tab.items()}
    filters = {"tab": tab, "decision": decision, "status": status, "sort": sort,
               "account": account, "cluster_id": cluster_id, "rule": rule, "family": family,
               "claimed": claimed, "date": date, "view": view,
               "min_score": "" if min_score is None else min_score}
    return _render(request, "queue.html", who, result=result, filters=filters, page=page,
                   pages=pages, tab_counts=tab_counts, latest=index.latest_date,
                   days=sorted(index.dates, reverse=True), rules=rule_names(),
                   families=FAMILY_LABELS, case_states=CASE_STATES,
                   qs=lambda **kw: urlencode({k: v for k, v in {**filters, **kw}.items()
                                              if v not in ("", None)}))
