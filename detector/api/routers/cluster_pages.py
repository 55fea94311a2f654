"""The cluster page as one case: summary first, edges paged, one decision for many members.

``GET /clusters/{id}?page=N`` (:func:`detector.api.cluster_view.cluster_case`) and
``POST /clusters/{id}/decisions`` (analyst/admin, CSRF token): one decision and one note for
the whole cluster (``scope=all``) or the ticked members (``scope=selected``, ``member`` repeated);
each member's decision is recorded through the same path as the account page's form (its own
decision row, case update, audit rows and webhook event), dated on the member's latest verdict.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from detector.api.auth import WRITE_ROLES
from detector.api.cluster_view import cluster_case
from detector.api.deps import csrf_token, get_service, valid_id
from detector.api.models import DecisionIn
from detector.api.routers.decisions import record
from detector.api.routers.pages import _key, _render, page_principal
from detector.cases.schema import DECISIONS

router = APIRouter(include_in_schema=False)
MAX_BULK = 5000


def _case_or_404(request: Request, cluster_id: str, role: str, page: int = 1) -> dict:
    if not valid_id(cluster_id):
        raise HTTPException(422, "cluster id: expected printable text up to 256 characters")
    data = cluster_case(get_service(request), cluster_id, role, page)
    if data is None:
        raise HTTPException(404, f"cluster {cluster_id!r}: not found in any clustered day")
    return data


@router.get("/clusters/{cluster_id}")
def cluster_page(request: Request, cluster_id: str,
                 page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                 saved: Annotated[str, Query(max_length=32)] = "",
                 n: Annotated[int, Query(ge=0, le=MAX_BULK)] = 0) -> Response:
    who = page_principal(request)
    data = _case_or_404(request, cluster_id, who.role, page)
    return _render(request, "cluster.html", who, c=data,
                   saved=saved if saved in DECISIONS else "", saved_n=n)


@router.post("/clusters/{cluster_id}/decisions")
def decide_cluster(request: Request, cluster_id: str,
                   decision: Annotated[str, Form()], csrf: Annotated[str, Form(max_length=64)],
                   note: Annotated[str, Form(max_length=10_000)] = "",
                   scope: Annotated[str, Form(pattern="^(all|selected)$")] = "all",
                   member: Annotated[list[str] | None, Form()] = None) -> Response:
    who = page_principal(request, WRITE_ROLES)
    if not hmac.compare_digest(csrf.encode(), csrf_token(_key(request) or "").encode()):
        raise HTTPException(403, "the form expired or came from another site; reload the page")
    if decision not in DECISIONS:
        raise HTTPException(422, f"decision: expected one of {', '.join(DECISIONS)}")
    data = _case_or_404(request, cluster_id, who.role)
    members = {m["account_id"]: m for m in data["members"]}
    if scope == "selected":
        chosen = list(dict.fromkeys(member or []))
        if not chosen:
            raise HTTPException(422, "no member selected: tick members or choose all members")
        strangers = [a for a in chosen if a not in members]
        if strangers:
            raise HTTPException(422, f"not members of cluster {cluster_id}: "
                                     f"{', '.join(strangers[:5])}")
    else:
        chosen = list(members)
    if len(chosen) > MAX_BULK:
        raise HTTPException(422, f"at most {MAX_BULK} members in one decision")
    svc = get_service(request)
    for account_id in chosen:
        try:
            body = DecisionIn(decision=decision, note=note,
                              date=members[account_id].get("verdict_date") or None)
        except ValidationError:
            raise HTTPException(422, "note: too long") from None
        record(svc, account_id, body, who.name)
    return RedirectResponse(f"/clusters/{quote(cluster_id, safe='')}?saved={decision}"
                            f"&n={len(chosen)}", status_code=303)
